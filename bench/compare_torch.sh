#!/usr/bin/env bash
# Side-by-side training/inference throughput of the standard benchmark net: netspace bench
# against the PyTorch reference (../shared/reference/torch_bench.py, Debian's python3-torch),
# alternating the two ROUNDS times per thread count so that both see the same machine,
# and reporting medians, the ratio and each one's peak memory (max RSS).
# Usage: bench/compare_torch.sh [NETSPACE] [ROUNDS] [THREADS...]
#   e.g. bench/compare_torch.sh build/release/netspace 5 1 2
set -euo pipefail
ns=${1:-build/release/netspace}
rounds=${2:-5}
shift $(( $# >= 2 ? 2 : $# ))
threads=${*:-1 2}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
ref=${TORCH_BENCH:-$here/../../shared/reference/torch_bench.py}
py=${PYTHON:-/usr/bin/python3}
bench_need "$ns" "$py"
bench_torch_env
[ -f "$ref" ] || { echo "compare_torch: no $ref (set TORCH_BENCH)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "netspace: $("$ns" --version)   torch: $("$py" -c 'import torch; print(torch.__version__)')"
bench_machine
for t in $threads; do
  : > "$tmp/ns_train"; : > "$tmp/ns_infer"; : > "$tmp/th_train"; : > "$tmp/th_infer"
  : > "$tmp/ns_rss"; : > "$tmp/th_rss"
  for r in $(seq "$rounds"); do
    /usr/bin/time -f "%M" -o "$tmp/rss" "$ns" bench --threads "$t" --json > "$tmp/out"
    bench_json_num train_img_per_s < "$tmp/out" >> "$tmp/ns_train"
    bench_json_num infer_img_per_s < "$tmp/out" >> "$tmp/ns_infer"
    cat "$tmp/rss" >> "$tmp/ns_rss"
    /usr/bin/time -f "%M" -o "$tmp/rss" "$py" "$ref" "$t" 60 > "$tmp/out"
    bench_kv_num train_img_per_s < "$tmp/out" >> "$tmp/th_train"
    bench_kv_num infer_img_per_s < "$tmp/out" >> "$tmp/th_infer"
    cat "$tmp/rss" >> "$tmp/th_rss"
  done
  nt=$(bench_median < "$tmp/ns_train"); ni=$(bench_median < "$tmp/ns_infer")
  tt=$(bench_median < "$tmp/th_train"); ti=$(bench_median < "$tmp/th_infer")
  nr=$(bench_median < "$tmp/ns_rss"); tr=$(bench_median < "$tmp/th_rss")
  echo "threads=$t rounds=$rounds (medians)"
  echo "  train img/s: netspace $nt   torch $tt   ratio $(bench_ratio "$nt" "$tt")"
  echo "  infer img/s: netspace $ni   torch $ti   ratio $(bench_ratio "$ni" "$ti")"
  echo "  peak RSS MB: netspace $((nr / 1024))   torch $((tr / 1024))"
  echo "  netspace train runs: $(tr '\n' ' ' < "$tmp/ns_train")"
  echo "  torch    train runs: $(tr '\n' ' ' < "$tmp/th_train")"
done
