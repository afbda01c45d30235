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
# PyTorch's allocator hands every freed activation of a few MB back to the kernel (glibc
# unmaps blocks past its mmap threshold) and takes new pages for the next one; on a VM
# whose page faults are dear that cost PyTorch 3-4x its training speed (measured on a
# 2-core EPYC, KVM: 153-270 img/s against 816-967 with these settings). So the
# comparisons keep freed memory in the heap unless the caller set GLIBC_TUNABLES itself;
# both programs run under it (netspace allocates its arena once, so it should change little
# there; not measured). Keeping freed memory may raise PyTorch's peak RSS figure.
bench_torch_env() {
  export GLIBC_TUNABLES=${GLIBC_TUNABLES-glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=2147483647}
}
# One line naming the machine: cores, CPU model, ISA, OpenBLAS core type.
bench_machine() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(bench_isa); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; GLIBC_TUNABLES (both programs)=${GLIBC_TUNABLES-unset}"
}
# Exit 2 with a message unless $1 is an executable netspace and python $2 has torch.
bench_need() {
  [ -x "$1" ] || { echo "$(basename "$0"): no netspace binary at $1" >&2; exit 2; }
  "$2" -c "import torch" 2>/dev/null || { echo "$(basename "$0"): $2 has no torch (apt-get install python3-torch)" >&2; exit 2; }
}
