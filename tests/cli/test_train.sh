#!/usr/bin/env bash
# netspace train and bench from the command line: help, usage errors, a real (synthetic)
# training run with --json, a diverging recipe, a missing dataset, and bench --json.
set -u
mkdir -p "$TMP"
fail() { echo "FAIL: $*"; exit 1; }
ns() { "$NETSPACE" "$@"; }

ns train --help | grep -q -- "--bench-net" || fail "train --help"
ns bench --help | grep -q -- "--threads" || fail "bench --help"
ns train --epochs 0 --bench-net >/dev/null 2>&1; [ $? = 2 ] || fail "--epochs 0 must be a usage error (2)"
ns train >/dev/null 2>&1; [ $? = 2 ] || fail "no model must be a usage error"
out=$(ns train --bench-net --data nosuch 2>&1); [ $? = 2 ] || fail "unknown dataset exit"
echo "$out" | grep -q "nosuch" || fail "unknown dataset not named: $out"

# A missing dataset directory names the file and the package.
out=$(ns train --bench-net --data fashion-mnist --data-dir "$TMP/none" 2>&1); rc=$?
[ $rc = 1 ] || fail "missing data exit $rc"
echo "$out" | grep -q "$TMP/none" || fail "missing data message: $out"

# Two epochs on the synthetic set: the JSON line has the promised fields, errors fall.
out=$(ns train --bench-net --data synthetic --epochs 2 --batch 64 --json --quiet) || fail "train synthetic"
line=$(echo "$out" | tail -n 1)
for k in test_error train_error epochs seconds; do
  echo "$line" | grep -q "\"$k\":" || fail "json lacks $k: $line"
done
echo "$line" | grep -q '"status":"complete"' || fail "status: $line"
terr=$(echo "$line" | sed 's/.*"test_error":\([0-9.]*\).*/\1/')
awk -v e="$terr" 'BEGIN { exit !(e < 50) }' || fail "synthetic test error $terr% is not < 50%"

# Same seed, same thread count: identical numbers.
out2=$(ns train --bench-net --data synthetic --epochs 2 --batch 64 --json --quiet | tail -n 1)
strip() { echo "$1" | sed 's/"seconds":[0-9.]*,"img_per_s":[0-9.]*,//'; }
[ "$(strip "$line")" = "$(strip "$out2")" ] || fail "not deterministic: $line vs $out2"

# A diverging recipe is reported as such, exit 1.
out=$(ns train --bench-net --data synthetic --epochs 1 --lr 1e9 --momentum 0 --quiet --json 2>&1); rc=$?
[ $rc = 1 ] || fail "diverged exit $rc"
echo "$out" | grep -q '"status":"diverged"' || fail "diverged status: $out"
echo "$out" | grep -Eq "loss (nan|inf)" || fail "diverged reason: $out"
echo "$out" | grep -q "diverged: diverged" && fail "the outcome named twice: $out"

# A RegNet from parameters, and a config file.
ns model --regnet "depth=4 w0=16 wa=8 wm=2 group_w=8" --im-size 28 --in-ch 1 --classes 10 \
  --stem cifar --stem-w 8 --first-stride 1 --json > "$TMP/m.json" 2>/dev/null || true
ns train --regnet "depth=4 w0=16 wa=8 wm=2 group_w=8" --data synthetic --epochs 1 --quiet \
  --json | tail -n 1 | grep -q '"status":"complete"' || fail "--regnet training"

# The memory a net needs is known before allocating: far more than the machine has is
# refused at once with the figure (the process stays small), not swapped into.
out=$(ns train --bench-net --batch 65536 --data synthetic --epochs 1 --quiet 2>&1); rc=$?
[ $rc = 1 ] || fail "huge batch: exit $rc"
echo "$out" | grep -q "needs about [0-9]* MB to train at batch 65536; this machine has" ||
    fail "huge batch: $out"

# A line of `netspace sample` output is a config for --config too (nested under "config").
ns sample --space "$SRC/spaces/tiny_regnetx.json" --n 1 --seed 1 >"$TMP/sample.json" || fail "sample"
ns train --config "$TMP/sample.json" --data synthetic --epochs 1 --quiet --json | tail -n 1 |
    grep -q '"status":"complete"' || fail "train --config with a sample line"

# Retrain a trial of a results db: the recorded config, with this command's recipe.
cat > "$TMP/retrain.json" <<EOF
{"name": "retrain", "space": "$SRC/spaces/tiny_regnetx.json", "samples": 2, "seed": 3,
 "data": {"name": "synthetic", "n": 256},
 "recipe": {"epochs": 1, "batch": 32, "lr": 0.1}}
EOF
rm -f "$TMP/retrain.db"*
ns search --experiment "$TMP/retrain.json" --db "$TMP/retrain.db" >/dev/null 2>&1 || fail "search for retrain"
want=$(ns query --db "$TMP/retrain.db" show 1 | sed -n 's/^config *//p')
[ -n "$want" ] || fail "no config for trial 1"
out=$(ns train --db "$TMP/retrain.db" --trial 1 --epochs 1 --batch 32 --json) \
  || fail "train --db --trial: $out"
echo "$out" | grep -qF "model $want" || fail "retrained model is not trial 1's config: $out"
echo "$out" | grep -q "^data synthetic: 256 train, 64 test images" || fail "not the study's data: $out"
echo "$out" | tail -n 1 | grep -q '"status":"complete"' || fail "retrain status: $out"
# --data overrides the study's dataset; with two studies in the db, --study picks one
out=$(ns train --db "$TMP/retrain.db" --trial 1 --data synthetic --epochs 1 --quiet --json | tail -n 1)
echo "$out" | grep -q '"status":"complete"' || fail "retrain with --data: $out"
sed 's/"name": "retrain"/"name": "retrain2"/; s/"seed": 3/"seed": 4/' "$TMP/retrain.json" >"$TMP/retrain2.json"
ns search --experiment "$TMP/retrain2.json" --db "$TMP/retrain.db" >/dev/null 2>&1 || fail "second study"
want2=$(ns query --db "$TMP/retrain.db" show 0 --study retrain2 | sed -n 's/^config *//p')
out=$(ns train --db "$TMP/retrain.db" --study retrain2 --trial 0 --epochs 1 --batch 32) ||
  fail "train --study: $out"
echo "$out" | grep -qF "model $want2" || fail "--study retrain2: not its trial 0: $out"
out=$(ns train --db "$TMP/retrain.db" --trial 0 --epochs 1 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "name one with --study" || fail "two studies, no --study ($rc): $out"
ns train --db "$TMP/retrain.db" --epochs 1 >/dev/null 2>&1; [ $? = 2 ] || fail "--db without --trial"
ns train --db "$TMP/retrain.db" --trial 1 --bench-net >/dev/null 2>&1; [ $? = 2 ] || fail "two models"
out=$(ns train --db "$TMP/retrain.db" --study retrain --trial 7 --data synthetic 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "has no trial 7" || fail "missing trial ($rc): $out"
out=$(ns train --db "$TMP/retrain.db" --study nosuch --trial 0 --data synthetic 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "study 'nosuch' not found" || fail "unknown study ($rc): $out"

# An nf net (no BN anywhere) from a config file: its layers, a run with adaptive gradient
# clipping (named in the recipe line), and the option's usage errors.
cat > "$TMP/nf.json" <<EOF
{"block": "nf", "classes": 10, "im_size": 28, "in_ch": 1, "se_r": 0.0,
 "stages": [{"b": 0.5, "d": 1, "g": 4, "s": 2, "w": 16}, {"b": 0.5, "d": 2, "g": 4, "s": 2, "w": 32}],
 "stem": {"type": "simple", "w": 8}}
EOF
layers=$(ns model --config "$TMP/nf.json" --layers) || fail "model --layers nf: $layers"
for k in wsconv nf_act nf_add; do
  echo "$layers" | grep -q " $k " || fail "--layers lacks $k: $layers"
done
echo "$layers" | grep -E -q " (bn|conv) " && fail "an nf net has a BN or plain conv: $layers"
out=$(ns train --config "$TMP/nf.json" --data synthetic --epochs 2 --batch 64 --agc 0.05 --json) \
  || fail "nf with --agc: $out"
echo "$out" | grep -q "wd 0.0005, agc 0.05, 1 thread" || fail "recipe line lacks agc: $out"
echo "$out" | tail -n 1 | grep -q '"status":"complete"' || fail "nf status: $out"
ns train --config "$TMP/nf.json" --data synthetic --agc -1 >/dev/null 2>&1
[ $? = 2 ] || fail "--agc -1 must be a usage error"
out=$(ns train --config "$TMP/nf.json" --data synthetic --agc x 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q -- "--agc" || fail "--agc x ($rc): $out"
sed 's/"block": "nf",/"block": "nf", "bn_order": "after_act",/' "$TMP/nf.json" > "$TMP/nf_bad.json"
out=$(ns train --config "$TMP/nf_bad.json" --data synthetic 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "bn_order: nf blocks have no BN" || fail "nf bn_order ($rc): $out"

# bench --json: the promised fields.
b=$(ns bench --steps 3 --json) || fail "bench"
for k in train_img_per_s infer_img_per_s threads; do
  echo "$b" | grep -q "\"$k\":" || fail "bench json lacks $k: $b"
done
echo "ok"
