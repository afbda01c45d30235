#!/usr/bin/env bash
# Every block family side by side with its PyTorch twin: for each net of bench/nets/
# (`netspace bench --list`), ROUNDS interleaved runs of `netspace bench --net NAME --json`
# and `bench/torch_net.py bench/nets/NAME.json --bench THREADS STEPS`, then a markdown
# table of the medians and their ratios (netspace / PyTorch), training and inference.
# Usage: bench/compare_families.sh [NETSPACE] [ROUNDS] [THREADS] [NAME...]
#   e.g. bench/compare_families.sh build/release/netspace 3 1
# STEPS (default 30) timed training steps per run.
set -euo pipefail
ns=${1:-build/release/netspace}
rounds=${2:-3}
threads=${3:-1}
shift $(( $# >= 3 ? 3 : $# ))
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
names=${*:-vanilla res_basic x y sep mbconv mbv1 shuffle_v2 shuffle_v1 vit nf repvgg acnet}
steps=${STEPS:-30}
py=${PYTHON:-/usr/bin/python3}
bench_need "$ns" "$py"
bench_torch_env
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/runs"
echo "netspace: $("$ns" --version | head -n 1)   torch: $("$py" -c 'import torch; print(torch.__version__)')"
bench_machine
echo "command: bench/compare_families.sh $ns $rounds $threads $names (STEPS=$steps)"
echo
echo "| net | flops | netspace train img/s | PyTorch train img/s | train ratio | netspace infer img/s | PyTorch infer img/s | infer ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for n in $names; do
  cfg=$here/nets/$n.json
  [ -f "$cfg" ] || { echo "compare_families: no $cfg" >&2; exit 2; }
  : > "$tmp/nt"; : > "$tmp/ni"; : > "$tmp/tt"; : > "$tmp/ti"
  for r in $(seq "$rounds"); do
    "$ns" bench --net "$n" --threads "$threads" --steps "$steps" --json > "$tmp/out"
    bench_json_num train_img_per_s < "$tmp/out" >> "$tmp/nt"
    bench_json_num infer_img_per_s < "$tmp/out" >> "$tmp/ni"
    flops=$(bench_json_num flops < "$tmp/out")
    NETSPACE=$ns "$py" "$here/torch_net.py" "$cfg" --netspace "$ns" --bench "$threads" "$steps" > "$tmp/out"
    bench_kv_num train_img_per_s < "$tmp/out" >> "$tmp/tt"
    bench_kv_num infer_img_per_s < "$tmp/out" >> "$tmp/ti"
  done
  nt=$(bench_median < "$tmp/nt"); ni=$(bench_median < "$tmp/ni")
  tt=$(bench_median < "$tmp/tt"); ti=$(bench_median < "$tmp/ti")
  echo "  $n: netspace $(tr '\n' ' ' < "$tmp/nt")| PyTorch $(tr '\n' ' ' < "$tmp/tt")" >> "$tmp/runs"
  printf '| %s | %.2fM | %.0f | %.0f | %s | %.0f | %.0f | %s |\n' "$n" \
    "$(awk -v f="$flops" 'BEGIN{print f/1e6}')" "$nt" "$tt" "$(bench_ratio "$nt" "$tt")" \
    "$ni" "$ti" "$(bench_ratio "$ni" "$ti")"
done
echo
echo "training runs (img/s, in order):"
cat "$tmp/runs"
