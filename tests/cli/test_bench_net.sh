#!/usr/bin/env bash
# netspace bench --net and --peak: the table of family nets (--list, --print-config, which
# bench/nets/ must repeat verbatim), every family training and inferring a few steps on
# tiny batches, a config file as --net, errors, and --peak's numbers being consistent.
set -u
mkdir -p "$TMP"
fail() { echo "FAIL: $*"; exit 1; }
ns() { "$NETSPACE" "$@"; }
fams="vanilla res_basic x y sep mbconv mbv1 shuffle_v2 shuffle_v1 vit nf repvgg acnet"

list=$(ns bench --list) || fail "bench --list"
for n in bench $fams; do
  echo "$list" | grep -q "^$n " || fail "--list lacks $n: $list"
  # bench/nets/NAME.json is what bench/torch_net.py builds: the same config
  [ "$n" = bench ] && continue
  ns bench --net "$n" --print-config | cmp -s - "$SRC/bench/nets/$n.json" ||
    fail "bench/nets/$n.json is not 'netspace bench --net $n --print-config'"
done
[ "$(ns bench --net x --print-config)" = "$(ns bench --net bench --print-config)" ] ||
  fail "the x family's net is not the standard benchmark net"

# Every family: 1 timed step at batch 8, 16 inference images, synthetic data (no dataset
# under --data-dir): numbers, the net's name and its flops.
out=$(ns bench --net all --steps 1 --batch 8 --infer 16 --data-dir "$TMP/none" --json) ||
  fail "bench --net all: $out"
[ "$(echo "$out" | wc -l)" = 13 ] || fail "13 lines expected: $out"
for n in $fams; do
  line=$(echo "$out" | grep "\"net\":\"$n\"") || fail "no line for $n: $out"
  echo "$line" | grep -q '"data":"synthetic"' || fail "$n: not synthetic: $line"
  f=$(ns model --config "$SRC/bench/nets/$n.json" --json | sed 's/.*"flops":\([0-9]*\).*/\1/')
  echo "$line" | grep -q "\"flops\":$f," || fail "$n: flops $f not in $line"
  echo "$line" | grep -Eq '"train_img_per_s":[1-9][0-9.]*,"infer_img_per_s":[1-9]' ||
    fail "$n: no positive throughput: $line"
done

# A config file as --net, text output; an unknown name; --peak with a --net.
printf '%s\n' '{"block":"res_basic","classes":10,"im_size":12,"in_ch":3,"se_r":0.0,"stages":[{"b":1.0,"d":1,"g":0,"s":2,"w":8}],"stem":{"type":"cifar","w":8}}' > "$TMP/small.json"
out=$(ns bench --net "$TMP/small.json" --steps 1 --batch 4 --infer 8) || fail "--net FILE: $out"
echo "$out" | grep -q "^netspace bench: net=$TMP/small.json .*(synthetic)" || fail "--net FILE output: $out"
echo "$out" | grep -Eq "^train_img_per_s=[1-9]" || fail "--net FILE train line: $out"
out=$(ns bench --net nosuch 2>&1); [ $? = 1 ] || fail "unknown --net must fail"
echo "$out" | grep -q "no net 'nosuch'.*shuffle_v1" || fail "unknown --net message: $out"
ns bench --peak --net x >/dev/null 2>&1; [ $? = 2 ] || fail "--peak --net must be a usage error"
ns bench --net all --print-config >/dev/null 2>&1; [ $? = 2 ] || fail "--print-config all"

# --profile N: the N slowest layers, every kind of layer, the time outside them; the kinds'
# shares and the outside share make the whole step (100 % up to rounding), and every layer
# of the net is in the kinds' counts.
out=$(ns bench --net "$TMP/small.json" --steps 2 --batch 4 --infer 8 --profile 3) ||
  fail "--profile: $out"
echo "$out" | grep -Eq '^profile: [0-9.]+ ms a training step \(2 steps, 1 threads, batch 4\); the 3 slowest of [0-9]+ nodes:$' ||
  fail "--profile header: $out"
nodes=$(echo "$out" | sed -n 's/^profile: .* of \([0-9]*\) nodes:$/\1/p')
[ "$(echo "$out" | sed -n '/^ node/,/^by kind/p' | grep -Ec '^ +[0-9]+  (conv|bn|add|gap|linear) ')" = 3 ] ||
  fail "--profile 3: three layer rows expected: $out"
echo "$out" | grep -Eq '^ +3  conv 3x3 +[0-9.]+ +[0-9.]+ ' || fail "--profile: the three 3x3 convs' kind row: $out"
echo "$out" | grep -Eq '^ +[0-9]+  conv 3x3/2 8->8 12x12 ' || fail "--profile: the strided 3x3 conv named: $out"
echo "$out" | sed -n '/^by kind/,/outside the nodes/p' | awk -v nodes="$nodes" '
  /^nodes/ || /^by kind/ { next }
  /outside the nodes/ { pct += $NF + 0; next }
  { n += $1; pct += $NF + 0 }
  END { if (n != nodes) { print "kinds count " n " of " nodes " nodes"; exit 1 }
        if (pct < 99 || pct > 101) { print "shares sum to " pct; exit 1 } }' ||
  fail "--profile kinds: $out"
echo "$out" | grep -q '^train_img_per_s=' || fail "--profile keeps the throughput lines: $out"
ns bench --net "$TMP/small.json" --profile 3 --json >/dev/null 2>&1; [ $? = 2 ] ||
  fail "--profile --json must be a usage error"
ns bench --list --profile 3 >/dev/null 2>&1; [ $? = 2 ] || fail "--profile --list must be a usage error"

# --peak: a small sgemm per thread count; useful GFLOP/s = 3 x 2 x flops x img/s, and the
# fraction is its ratio to the sgemm's.
out=$(ns bench --peak --peak-size 128 --threads 2 --steps 1 --batch 8 --infer 8 --json) ||
  fail "--peak: $out"
[ "$(echo "$out" | wc -l)" = 2 ] || fail "--peak --threads 2: two lines expected: $out"
echo "$out" | awk '{
  split($0, kv, /[,{}]/); delete v
  for (i in kv) { n = split(kv[i], p, ":"); if (n == 2) { gsub(/"/, "", p[1]); v[p[1]] = p[2] } }
  if (!(v["sgemm_gflops"] > 0) || !(v["train_img_per_s"] > 0)) { print "no numbers: " $0; exit 1 }
  u = 6 * v["flops"] * v["train_img_per_s"] / 1e9
  if (u / v["useful_gflops"] > 1.01 || u / v["useful_gflops"] < 0.99) { print "useful: " $0; exit 1 }
  f = v["useful_gflops"] / v["sgemm_gflops"]
  if (f / v["fraction_of_peak"] > 1.01 || f / v["fraction_of_peak"] < 0.99) { print "fraction: " $0; exit 1 }
  if (v["flops"] != 5781002) { print "not the benchmark net: " $0; exit 1 }
}' || fail "--peak numbers"
echo "$out" | head -n 1 | grep -q '"threads":1,"sgemm_n":128' || fail "--peak first line: $out"
echo ok
