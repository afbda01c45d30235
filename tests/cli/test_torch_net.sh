#!/usr/bin/env bash
# bench/torch_net.py, the PyTorch twin of a netspace config: for tiny nets of every block
# family and stem, the twin's parameter tensors (kind, layer, size, in the net's order) and
# every layer's output shape match netspace's; a model trained by netspace and saved with
# `train --save --weights-only` gives the same test error in PyTorch as in netspace; a
# damaged checkpoint or one of another config is refused. Skipped (77) without torch.
set -u
mkdir -p "$TMP"
PY=${PYTHON:-/usr/bin/python3}
"$PY" -c "import torch" 2>/dev/null || { echo "SKIP: no torch in $PY"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
twin() { "$PY" "$SRC/bench/torch_net.py" --netspace "$NETSPACE" "$@"; }
cd "$TMP" || exit 1
rm -f ./*.json ./*.ckpt

w() { echo "$2" > "$1.json"; }
c='"classes":10,"im_size":28,"in_ch":1'
w vanilla "{\"block\":\"vanilla\",$c,\"se_r\":0.0,\"stages\":[{\"b\":1.0,\"d\":1,\"g\":0,\"s\":2,\"w\":8}],\"stem\":{\"type\":\"cifar\",\"w\":8}}"
w res_basic "{\"block\":\"res_basic\",$c,\"se_r\":0.0,\"stages\":[{\"b\":1.0,\"d\":1,\"g\":0,\"s\":2,\"w\":8},{\"b\":1.0,\"d\":1,\"g\":0,\"s\":1,\"w\":16}],\"stem\":{\"type\":\"cifar\",\"w\":8}}"
w x_after "{\"block\":\"x\",\"bn_order\":\"after_act\",$c,\"se_r\":0.0,\"stages\":[{\"b\":2.0,\"d\":2,\"g\":8,\"s\":2,\"w\":8}],\"stem\":{\"type\":\"cifar\",\"w\":8}}"
w y "{\"act\":\"relu6\",\"block\":\"y\",$c,\"head_w\":32,\"se_r\":0.25,\"stages\":[{\"b\":1.0,\"d\":1,\"g\":4,\"s\":2,\"w\":8},{\"b\":1.0,\"d\":2,\"g\":4,\"s\":2,\"w\":16}],\"stem\":{\"type\":\"cifar\",\"w\":8}}"
w sep "{\"block\":\"sep\",$c,\"se_r\":0.0,\"stages\":[{\"b\":1.0,\"d\":2,\"g\":1,\"s\":2,\"w\":16}],\"stem\":{\"type\":\"cifar\",\"w\":8}}"
w mbconv "{\"act\":\"silu\",\"block\":\"mbconv\",$c,\"se_r\":0.25,\"stages\":[{\"b\":1.0,\"d\":1,\"g\":1,\"k\":5,\"s\":2,\"w\":8},{\"b\":4.0,\"d\":2,\"g\":1,\"s\":2,\"w\":16}],\"stem\":{\"type\":\"simple\",\"w\":8}}"
w mbv1 "{\"block\":\"mbv1\",$c,\"se_r\":0.0,\"stages\":[{\"b\":1.0,\"d\":2,\"g\":0,\"s\":2,\"w\":16}],\"stem\":{\"type\":\"cifar\",\"w\":8}}"
w shuffle_v2 "{\"block\":\"shuffle_v2\",$c,\"se_r\":0.0,\"stages\":[{\"b\":1.0,\"d\":2,\"g\":0,\"s\":2,\"w\":16}],\"stem\":{\"type\":\"res\",\"w\":8}}"
w shuffle_v1 "{\"block\":\"shuffle_v1\",$c,\"se_r\":0.0,\"stages\":[{\"b\":0.25,\"d\":2,\"g\":2,\"s\":2,\"w\":24},{\"b\":0.25,\"d\":1,\"g\":2,\"s\":2,\"w\":48}],\"stem\":{\"type\":\"simple_pool\",\"w\":6}}"
w vit_patch "{\"block\":\"vit\",$c,\"patch\":7,\"se_r\":0.0,\"stages\":[{\"b\":2.0,\"d\":2,\"g\":8,\"s\":1,\"w\":16}],\"stem\":{\"type\":\"patchify\",\"w\":16}}"
w vit_conv "{\"block\":\"vit\",$c,\"patch\":4,\"se_r\":0.0,\"stages\":[{\"b\":1.0,\"d\":1,\"g\":8,\"s\":1,\"w\":16}],\"stem\":{\"type\":\"conv_patch\",\"w\":16}}"
w nf "{\"act\":\"silu\",\"block\":\"nf\",$c,\"se_r\":0.0,\"stages\":[{\"b\":1.0,\"d\":2,\"g\":4,\"s\":2,\"w\":8},{\"b\":0.5,\"d\":1,\"g\":4,\"s\":2,\"w\":16}],\"stem\":{\"type\":\"simple\",\"w\":8}}"
w repvgg "{\"block\":\"repvgg\",$c,\"se_r\":0.0,\"stages\":[{\"b\":1.0,\"d\":2,\"g\":0,\"s\":2,\"w\":8},{\"b\":1.0,\"d\":1,\"g\":0,\"s\":2,\"w\":16}],\"stem\":{\"type\":\"repvgg\",\"w\":8}}"
w acnet "{\"block\":\"acnet\",$c,\"se_r\":0.0,\"stages\":[{\"b\":1.0,\"d\":2,\"g\":0,\"s\":2,\"w\":8}],\"stem\":{\"type\":\"cifar\",\"w\":8}}"

# 1. Structure: every family and stem, in one process.
out=$(twin --check ./*.json) || fail "torch_net --check: $out"
n=$(echo "$out" | grep -c "^ok: parameter tensors and layer shapes match")
[ "$n" = 14 ] || fail "14 configs checked, $n ok: $out"
for f in ./*.json; do # the printed counts are netspace model's
  p=$("$NETSPACE" model --config "$f" --json | sed 's/.*"params":\([0-9]*\).*/\1/')
  echo "$out" | grep -q "^params: torch $p, netspace $p$" || fail "$f: params $p not in: $out"
done

# 2. Weights: a netspace-trained model's test error in PyTorch, on a slice of the test set.
data=/usr/share/datasets/fashion-mnist
if [ ! -f "$data/t10k-images-idx3-ubyte.gz" ]; then
  echo "SKIP: no Fashion-MNIST in $data (structure checked; weights not)"
  exit 77
fi
for m in y vit_patch nf repvgg shuffle_v1; do
  # normalized inputs: the nets learn enough in 64 steps to make the errors telling (34-58 %)
  r=$("$NETSPACE" train --config "$m.json" --train-limit 1024 --test-limit 300 --epochs 2 \
      --batch 32 --normalize --save "$m.ckpt" --weights-only --json --quiet | tail -n 1) ||
    fail "$m: train"
  e=$(echo "$r" | sed -n 's/.*"test_error":\([0-9.]*\).*/\1/p')
  t=$(twin --weights "$m.ckpt" --eval --test-limit 300 --normalize --train-limit 1024) ||
    fail "$m: torch_net --eval: $t"
  te=$(echo "$t" | sed -n 's/test_error=\([0-9.]*\).*/\1/p')
  # the same 300 predictions up to a rounding tie: at most 1 image apart (0.33 %)
  awk -v a="$e" -v b="$te" 'BEGIN{d = a - 100*b; exit !(d < 0.34 && d > -0.34)}' ||
    fail "$m: netspace test error $e %, PyTorch $t"
  echo "$m: netspace $e %, PyTorch $t"
  [ "$m" = y ] && ty=$t
done
# the comparison can fail: the same weights on other inputs (not normalized) disagree
t=$(twin --weights y.ckpt --eval --test-limit 300)
[ "$t" != "$ty" ] ||
  fail "unnormalized inputs gave the same predictions: the comparison cannot fail"

# 3. Refusals: a damaged checkpoint, another config's checkpoint, no config at all.
cp y.ckpt bad.ckpt
printf '\x55' | dd of=bad.ckpt bs=1 seek=200 conv=notrunc status=none
out=$(twin --weights bad.ckpt --eval 2>&1); [ $? = 2 ] || fail "damaged checkpoint accepted"
echo "$out" | grep -q "corrupt" || fail "damaged checkpoint message: $out"
head -c 100 y.ckpt > short.ckpt
out=$(twin --weights short.ckpt --eval 2>&1); [ $? = 2 ] || fail "truncated checkpoint accepted"
echo "$out" | grep -q "truncated" || fail "truncated checkpoint message: $out"
out=$(twin nf.json --weights y.ckpt --eval 2>&1); [ $? = 2 ] || fail "another config's checkpoint accepted"
echo "$out" | grep -q "its config is not" || fail "config mismatch message: $out"
echo ok
