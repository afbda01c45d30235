# Shared by bench/compare_torch.sh and bench/compare_families.sh (source it): medians,
# ratios, fields of netspace's JSON and PyTorch's key=value lines, the machine line.

# Median of the numbers on stdin, one per line.
bench_median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# a/b to two decimals.
bench_ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
# The number of "KEY":N in a JSON line on stdin (netspace bench --json).
bench_json_num() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
# The number of KEY=N in key=value lines on stdin (the PyTorch scripts).
bench_kv_num() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
# The vector ISA the CPU has (what OpenBLAS and netspace's kernels can use).
bench_isa() {
  if grep -qw avx512f /proc/cpuinfo; then echo AVX-512
  elif grep -qw avx2 /proc/cpuinfo; then echo AVX2
  else echo "no AVX2"; fi
}
# One line naming the machine: cores, CPU model, ISA, OpenBLAS core type.
bench_machine() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(bench_isa); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
}
# Exit 2 with a message unless $1 is an executable netspace and python $2 has torch.
bench_need() {
  [ -x "$1" ] || { echo "$(basename "$0"): no netspace binary at $1" >&2; exit 2; }
  "$2" -c "import torch" 2>/dev/null || { echo "$(basename "$0"): $2 has no torch (apt-get install python3-torch)" >&2; exit 2; }
}
