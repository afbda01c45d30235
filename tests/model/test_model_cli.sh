#!/usr/bin/env bash
# netspace model's layer graph and presets from the outside: --layers lists every layer with
# its inputs, shape and cost, and its total equals the complexity; --preset list names every
# preset, --preset prints a torchvision model's figures at any input; memory is reported; a
# config mixing in a field its block does not take is refused naming the field.
set -u
: "${NETSPACE:?}" "${SRC:?}" "${TMP:?}"
mkdir -p "$TMP"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
has() { grep -qE -- "$2" <<<"$1" || fail "$3: output lacks /$2/"; }

# the benchmark net as a config file: its layers' total is the documented complexity
cat >"$TMP/bench.json" <<'J'
{"block":"x","classes":10,"im_size":28,"in_ch":1,"se_r":0.0,"stages":[{"b":1.0,"d":1,"g":8,"s":2,"w":32},{"b":1.0,"d":2,"g":8,"s":2,"w":64},{"b":1.0,"d":4,"g":8,"s":2,"w":128}],"stem":{"type":"cifar","w":16}}
J
out=$("$NETSPACE" model --config "$TMP/bench.json" --layers) || fail "model --layers exited $?"
has "$out" "total +203834 +5781002$" "--layers total"
has "$out" "^ +1 stem +conv +3x3 s1 " "--layers stem conv"
has "$out" "s1\.b1 +conv +3x3 s2 g4 " "--layers grouped conv of the first block"
has "$out" "s3\.b4 +add +\+relu " "--layers last block's add"
has "$out" "head +linear +classifier .*1x1x10 +1290 +1290$" "--layers classifier"
# every row's inputs are earlier layers
# (fixed-width columns: the inputs are characters 50-60)
awk '$1 ~ /^[0-9]+$/ { in_ = substr($0, 50, 11); gsub(/ /, "", in_); rows++;
     n = split(in_, a, ","); for (i = 1; i <= n; i++) { seen++; if (a[i] + 0 >= $1 + 0) bad = 1 } }
     END { exit bad || rows < 50 || seen < rows - 1 }' <<<"$out" ||
    fail "--layers: a layer reads a later one, or the inputs column is missing"

out=$("$NETSPACE" model --config "$TMP/bench.json") || fail "model exited $?"
has "$out" "^memory +[0-9.]+ MB to train at batch 128" "model memory line"

list=$("$NETSPACE" model --preset list) || fail "--preset list exited $?"
for p in resnet18 resnet50 resnext50_32x4d wide_resnet50_2 mobilenet_v2 shufflenet_v2_x1_0 \
         efficientnet_b0 regnet_y_400mf; do
    has "$list" "^$p " "--preset list"
done
json=$("$NETSPACE" model --preset efficientnet_b0 --json) || fail "--preset exited $?"
has "$json" '"params":5288548,' "efficientnet_b0 params (torchvision)"
has "$json" '"flops":385825092,' "efficientnet_b0 flops (torchvision)"
json=$("$NETSPACE" model --preset resnet18 --im-size 32 --in-ch 1 --classes 10 --json)
has "$json" '"classes":10,' "preset at another input: classes"
has "$json" '"im_size":32,"in_ch":1,' "preset at another input: size and channels"
"$NETSPACE" model --preset resnet19 >/dev/null 2>"$TMP/err" && fail "unknown preset accepted"
grep -q "unknown model 'resnet19'" "$TMP/err" || fail "unknown preset message: $(cat "$TMP/err")"

# a field the block does not take is an error naming it
sed 's/"block":"x"/"block":"res_basic"/' "$TMP/bench.json" >"$TMP/mixed.json"
"$NETSPACE" model --config "$TMP/mixed.json" >/dev/null 2>"$TMP/err" && fail "g on res_basic accepted"
grep -q "stages\[0\].g: block res_basic has no group width" "$TMP/err" ||
    fail "mixed fields message: $(cat "$TMP/err")"
sed 's/"se_r":0.0/"se_r":0.25/' "$TMP/bench.json" >"$TMP/se.json"
"$NETSPACE" model --config "$TMP/se.json" >/dev/null 2>"$TMP/err" && fail "se_r on x accepted"
grep -q "se_r: block x has no squeeze-and-excitation" "$TMP/err" ||
    fail "se_r message: $(cat "$TMP/err")"

[ "$fails" -eq 0 ] && echo "model cli: all checks passed"
exit "$fails"
