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
ref=${TORCH_BENCH:-$here/../../shared/reference/torch_bench.py}
py=${PYTHON:-/usr/bin/python3}
[ -x "$ns" ] || { echo "compare_torch: no netspace binary at $ns" >&2; exit 2; }
[ -f "$ref" ] || { echo "compare_torch: no $ref (set TORCH_BENCH)" >&2; exit 2; }
"$py" -c "import torch" 2>/dev/null || { echo "compare_torch: $py has no torch (apt-get install python3-torch)" >&2; exit 2; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "netspace: $("$ns" --version)   torch: $("$py" -c 'import torch; print(torch.__version__)')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
for t in $threads; do
  : > "$tmp/ns_train"; : > "$tmp/ns_infer"; : > "$tmp/th_train"; : > "$tmp/th_infer"
  : > "$tmp/ns_rss"; : > "$tmp/th_rss"
  for r in $(seq "$rounds"); do
    /usr/bin/time -f "%M" -o "$tmp/rss" "$ns" bench --threads "$t" --json > "$tmp/out"
    sed 's/.*"train_img_per_s":\([0-9.]*\).*/\1/' "$tmp/out" >> "$tmp/ns_train"
    sed 's/.*"infer_img_per_s":\([0-9.]*\).*/\1/' "$tmp/out" >> "$tmp/ns_infer"
    cat "$tmp/rss" >> "$tmp/ns_rss"
    /usr/bin/time -f "%M" -o "$tmp/rss" "$py" "$ref" "$t" 60 > "$tmp/out"
    sed -n 's/.*train_img_per_s=\([0-9.]*\).*/\1/p' "$tmp/out" >> "$tmp/th_train"
    sed -n 's/.*infer_img_per_s=\([0-9.]*\).*/\1/p' "$tmp/out" >> "$tmp/th_infer"
    cat "$tmp/rss" >> "$tmp/th_rss"
  done
  nt=$(median < "$tmp/ns_train"); ni=$(median < "$tmp/ns_infer")
  tt=$(median < "$tmp/th_train"); ti=$(median < "$tmp/th_infer")
  nr=$(median < "$tmp/ns_rss"); tr=$(median < "$tmp/th_rss")
  echo "threads=$t rounds=$rounds (medians)"
  echo "  train img/s: netspace $nt   torch $tt   ratio $(awk -v a="$nt" -v b="$tt" 'BEGIN{printf "%.2f", a/b}')"
  echo "  infer img/s: netspace $ni   torch $ti   ratio $(awk -v a="$ni" -v b="$ti" 'BEGIN{printf "%.2f", a/b}')"
  echo "  peak RSS MB: netspace $((nr / 1024))   torch $((tr / 1024))"
  echo "  netspace train runs: $(tr '\n' ' ' < "$tmp/ns_train")"
  echo "  torch    train runs: $(tr '\n' ' ' < "$tmp/th_train")"
done
