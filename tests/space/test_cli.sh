#!/usr/bin/env bash
# netspace model and netspace sample from the outside: the paper's RegNetX-200MF, the
# benchmark net's figures, determinism of sampling, --summary, and every error path's exit
# status and message.
set -u
: "${NETSPACE:?}" "${SRC:?}" "${TMP:?}"
mkdir -p "$TMP"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# expect_exit CODE MESSAGE-SUBSTRING CMD...: run CMD, check its status and stderr.
expect_exit() {
    local code=$1 msg=$2
    shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    [ "$rc" -eq "$code" ] || fail "'$*' exited $rc, want $code ($(cat "$TMP/err"))"
    grep -qF -- "$msg" "$TMP/err" || fail "'$*': stderr '$(cat "$TMP/err")' lacks '$msg'"
}
has() { grep -qE -- "$2" <<<"$1" || fail "$3: output lacks /$2/"; }

# --- netspace model -------------------------------------------------------------------------
R200="depth=13 w0=24 wa=36.44 wm=2.49 group_w=8"
out=$("$NETSPACE" model --regnet "$R200" --im-size 224 --classes 1000 --stem simple --stem-w 32) ||
    fail "model 200MF exited $?"
for row in "1 +1 +24 +2 +8" "2 +1 +56 +2 +8" "3 +4 +152 +2 +8" "4 +7 +368 +2 +8"; do
    has "$out" "^ +$row " "model 200MF table"
done
has "$out" "^flops +0\.(19|2)[0-9]* G" "model 200MF flops"
has "$out" "^params +2\.(6|7)[0-9]* M" "model 200MF params"
json=$("$NETSPACE" model --regnet "$R200" --im-size 224 --classes 1000 --stem simple --stem-w 32 --json)
has "$json" '"widths":\[24,56,152,368\]' "model --json widths"
has "$json" '"depths":\[1,1,4,7\]' "model --json depths"
has "$json" '"group_widths":\[8,8,8,8\]' "model --json group_widths"
has "$json" '"flops":(19[5-9]|20[0-4])[0-9]{6},' "model --json flops about 0.2 G"
has "$json" '"params":2[67][0-9]{5},' "model --json params about 2.7 M"
has "$json" '"acts":[0-9]+,' "model --json acts"
has "$json" '"stem":\{"type":"simple","w":32\}' "model --json canonical config"
[ "$(wc -l <<<"$json")" -eq 1 ] || fail "model --json is not one line"

# RegNetY adds SE; bot_mul and se_r inside --regnet.
y=$("$NETSPACE" model --regnet "$R200 se_r=0.25" --block y --json)
has "$y" '"block":"y"' "model --block y"
has "$y" '"se_r":0.25' "model --block y se_r"
b=$("$NETSPACE" model --regnet "$R200" --bot-mul 0.5 --json)
has "$b" '"b":0.5' "model --bot-mul"

# The benchmark net from a config file: DESIGN.md's figures exactly.
bench=$("$NETSPACE" model --config "$SRC/tests/fixtures/space/bench_net.json" --json)
has "$bench" '"flops":5781002,' "bench net flops"
has "$bench" '"params":203834,' "bench net params"
has "$bench" '"acts":118666,' "bench net acts"
b32=$("$NETSPACE" model --config "$SRC/tests/fixtures/space/bench_net.json" --im-size 32 --in-ch 3 --json)
has "$b32" '"im_size":32,"in_ch":3,' "model --config with --im-size --in-ch"

"$NETSPACE" model --help | grep -q -- "--regnet" || fail "model --help"
expect_exit 2 "give exactly one of --regnet, --config, --preset" "$NETSPACE" model
expect_exit 2 "give exactly one" "$NETSPACE" model --regnet "$R200" --config x.json
expect_exit 2 "--block: 'z' is not x or y" "$NETSPACE" model --regnet "$R200" --block z
expect_exit 2 "--im-size" "$NETSPACE" model --regnet "$R200" --im-size big
expect_exit 2 "unknown or incomplete option" "$NETSPACE" model --frobnicate
expect_exit 2 "go with --regnet" "$NETSPACE" model --config x.json --stem cifar
expect_exit 1 "netspace: regnet.w0: 20 must be a positive multiple of 8" \
    "$NETSPACE" model --regnet "depth=13 w0=20 wa=36.44 wm=2.49 group_w=8"
expect_exit 1 "netspace: regnet.wm: 1 must be > 1" \
    "$NETSPACE" model --regnet "depth=13 w0=24 wa=36.44 wm=1 group_w=8"
expect_exit 1 "netspace: regnet.group_w: missing" "$NETSPACE" model --regnet "depth=13 w0=24 wa=1 wm=2"
expect_exit 1 "bad_config.json: config.stages[0].d: missing field" \
    "$NETSPACE" model --config "$SRC/tests/fixtures/space/bad_config.json"
expect_exit 1 "nope.json" "$NETSPACE" model --config "$TMP/nope.json"

# --- netspace sample ------------------------------------------------------------------------
S="$SRC/spaces/regnetx.json"
"$NETSPACE" sample --space "$S" --n 50 --seed 7 >"$TMP/a" || fail "sample exited $?"
"$NETSPACE" sample --space "$S" --n 50 --seed 7 --json >"$TMP/b" || fail "sample --json exited $?"
"$NETSPACE" sample --space "$S" --n 20 --seed 7 >"$TMP/c" || fail "sample --n 20 exited $?"
"$NETSPACE" sample --space "$S" --n 50 --seed 8 >"$TMP/d" || fail "sample --seed 8 exited $?"
[ "$(wc -l <"$TMP/a")" -eq 50 ] || fail "sample --n 50 gave $(wc -l <"$TMP/a") lines"
cmp -s "$TMP/a" "$TMP/b" || fail "two runs with the same seed differ"
head -n 20 "$TMP/a" | cmp -s - "$TMP/c" || fail "the first 20 of 50 trials are not the 20 of --n 20"
cmp -s "$TMP/a" "$TMP/d" && fail "seeds 7 and 8 gave the same sample"
first=$(head -n 1 "$TMP/a")
for key in '"acts":[0-9]+' '"config":\{"block":"x"' '"flops":[0-9]+' '"hash":"[0-9a-f]{16}"' \
    '"index":0,' '"params":[0-9]+' '"sample":\{"depth":[0-9]+,"w0":[0-9]+,"wa":' '"stream":0'; do
    has "$first" "$key" "sample line"
done
[ "$(grep -o '"hash":"[0-9a-f]*"' "$TMP/a" | sort -u | wc -l)" -eq 50 ] || fail "duplicate hashes"
# Every config within the space's flops constraint [2e6, 6e7].
while read -r f; do
    [ "$f" -ge 2000000 ] && [ "$f" -le 60000000 ] || fail "flops $f outside the constraint"
done < <(grep -oE '"flops":[0-9]+' "$TMP/a" | cut -d: -f2)

"$NETSPACE" sample --space "$S" --n 10 --seed 1 --im-size 32 --in-ch 3 --classes 100 >"$TMP/e" ||
    fail "sample --im-size exited $?"
[ "$(grep -c '"classes":100,"im_size":32,"in_ch":3,' "$TMP/e")" -eq 10 ] || fail "sample --im-size/--classes"

sum=$("$NETSPACE" sample --space "$S" --n 200 --seed 7 --summary) || fail "sample --summary exited $?"
has "$sum" "^acceptance 0\.[0-9]+ " "summary acceptance"
for p in depth w0 wa wm group_w bot_mul se_r flops; do
    has "$sum" "^  $p +[0-9.e+]+ +[0-9.e+]+ +[0-9.e+]+$" "summary row $p"
done

# 10,000 RegNetX samples with a flops constraint, end to end (the unit test holds the 1 s bound).
t0=$(date +%s%N)
"$NETSPACE" sample --space "$S" --n 10000 --seed 3 >"$TMP/big" || fail "10000 samples exited $?"
t1=$(date +%s%N)
[ "$(wc -l <"$TMP/big")" -eq 10000 ] || fail "10000 samples gave $(wc -l <"$TMP/big") lines"
[ $(((t1 - t0) / 1000000)) -lt 5000 ] || fail "10000 samples took $(((t1 - t0) / 1000000)) ms"

# Malformed space files.
good='{"name": "t", "kind": "regnet", "block": "x", "stem": {"type": "cifar", "w": 16},
 "input": {"in_ch": 1, "im_size": 28, "classes": 10},
 "params": {"depth": {"dist": "uniform", "lo": 4, "hi": 16, "q": 1},
            "w0": {"dist": "log_uniform", "lo": 8, "hi": 64, "q": 8},
            "wa": {"dist": "log_uniform", "lo": 4, "hi": 64, "q": 0.01},
            "wm": {"dist": "log_uniform", "lo": 1.5, "hi": 3, "q": 0.01},
            "group_w": {"dist": "pow2", "lo": 1, "hi": 32}},
 "constraints": {"flops": [2e6, 6e7]}}'
echo "$good" >"$TMP/good.json"
"$NETSPACE" sample --space "$TMP/good.json" --n 3 --seed 0 >/dev/null || fail "the good space fails"
sed 's/"block": "x",/"block": "x"/' <<<"$good" >"$TMP/badjson.json"
expect_exit 1 "netspace: $TMP/badjson.json: line 1, column" "$NETSPACE" sample --space "$TMP/badjson.json" --n 3
sed 's/"dist": "pow2"/"dist": "zipf"/' <<<"$good" >"$TMP/dist.json"
expect_exit 1 "netspace: $TMP/dist.json: params.group_w.dist: unknown distribution 'zipf'" \
    "$NETSPACE" sample --space "$TMP/dist.json" --n 3
sed 's/"lo": 4, "hi": 16/"lo": 16, "hi": 4/' <<<"$good" >"$TMP/lohi.json"
expect_exit 1 "netspace: $TMP/lohi.json: params.depth: lo 16 > hi 4" \
    "$NETSPACE" sample --space "$TMP/lohi.json" --n 3
sed '/"wm":/d' <<<"$good" >"$TMP/missing.json"
expect_exit 1 "netspace: $TMP/missing.json: params.wm: missing field" \
    "$NETSPACE" sample --space "$TMP/missing.json" --n 3
sed 's/"stem": {"type": "cifar", "w": 16},//' <<<"$good" >"$TMP/nostem.json"
expect_exit 1 "netspace: $TMP/nostem.json.stem: missing field" \
    "$NETSPACE" sample --space "$TMP/nostem.json" --n 3
sed 's/"flops": \[2e6, 6e7\]/"flops": [10, 100]/' <<<"$good" >"$TMP/impossible.json"
expect_exit 1 "netspace: $TMP/impossible.json: constraints: no config met them in 1000 tries" \
    "$NETSPACE" sample --space "$TMP/impossible.json" --n 3
expect_exit 1 "only 4 distinct configs" \
    "$NETSPACE" sample --space "$SRC/tests/fixtures/space/four_configs.json" --n 5
expect_exit 1 "netspace: $TMP/none.json" "$NETSPACE" sample --space "$TMP/none.json" --n 3
expect_exit 2 "--space FILE is required" "$NETSPACE" sample --n 3
expect_exit 2 "--n N is required" "$NETSPACE" sample --space "$S"
expect_exit 2 "--n" "$NETSPACE" sample --space "$S" --n -4
expect_exit 2 "unexpected argument" "$NETSPACE" sample --space "$S" --n 3 extra
"$NETSPACE" sample --help | grep -q -- "--summary" || fail "sample --help"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "ok"
