#!/usr/bin/env bash
# netspace model --deploy from the outside: RepVGG-A0 (spaces/presets/repvgg_a0.json) in its
# training and inference forms, the deployed layer table of an ACNet config, the errors of
# a repvgg config with bn_order after_act, and a repvgg study's first samples.
set -u
: "${NETSPACE:?}" "${SRC:?}" "${TMP:?}"
mkdir -p "$TMP"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
has() { grep -qE -- "$2" <<<"$1" || fail "$3: output lacks /$2/"; }

A0="$SRC/spaces/presets/repvgg_a0.json"
t=$("$NETSPACE" model --config "$A0" --json) || fail "model A0 exited $?"
has "$t" '"params":9108968,' "A0 training params"
has "$t" '"flops":1512582120,' "A0 training flops"
d=$("$NETSPACE" model --config "$A0" --json --deploy) || fail "model A0 --deploy exited $?"
has "$d" '"params":8309384,' "A0 deployed params (the paper: 8.30 M)"
has "$d" '"flops":1363245800,' "A0 deployed flops (the paper: 1.36 G)"
has "$d" '"form":"deploy"' "A0 --deploy --json says its form"
has "$d" '"hash":"76e470045f4f64b1"' "A0's hash is the config's, whatever the form"
tab=$("$NETSPACE" model --config "$A0" --deploy) || fail "model A0 --deploy table exited $?"
has "$tab" '^form +deployed' "A0 --deploy table"
has "$tab" '^params +8\.31 M' "A0 --deploy table params"

cat >"$TMP/acnet.json" <<'J'
{"block":"acnet","classes":10,"im_size":28,"in_ch":1,"stages":[{"b":1.0,"d":1,"g":0,"s":2,"w":16}],"stem":{"type":"cifar","w":8}}
J
l=$("$NETSPACE" model --config "$TMP/acnet.json" --layers) || fail "acnet --layers exited $?"
has "$l" ' conv +1x3 s2 ' "acnet layers: the 1x3 branch"
has "$l" ' conv +3x1 s2 ' "acnet layers: the 3x1 branch"
dl=$("$NETSPACE" model --config "$TMP/acnet.json" --layers --deploy) || fail "acnet --layers --deploy exited $?"
grep -qE ' (bn|add) ' <<<"$dl" && fail "acnet deployed layers still hold a BN or an add"
[ "$(grep -cE ' conv +3x3 s[12] bias' <<<"$dl")" -eq 2 ] || fail "acnet deployed: want 2 biased 3x3 convs"

sed 's/"block":"acnet"/"block":"repvgg","bn_order":"after_act"/' "$TMP/acnet.json" >"$TMP/bad.json"
"$NETSPACE" model --config "$TMP/bad.json" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 1 ] || fail "repvgg with bn_order after_act exited $rc, want 1"
grep -qF "bn_order: repvgg blocks sum conv-BN branches" "$TMP/err" || fail "bad bn_order message: $(cat "$TMP/err")"

s=$("$NETSPACE" sample --space "$SRC/spaces/repvgg.json" --n 2 --seed 1) || fail "sample repvgg exited $?"
[ "$(grep -c '"block":"repvgg"' <<<"$s")" -eq 2 ] || fail "sample repvgg: want 2 repvgg configs"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "ok"
