# Shared by the bench/ scripts (source it): medians, ratios, fields of netspace's JSON and
# PyTorch's key=value lines, the machine line, and the two builds of the same-process A/B
# scripts (conv_ab.sh, bn_gemm_ab.sh).

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
# The A/B scripts' two builds: this tree and commit $1, the same way (release, no tests) in
# scratch folders under $work, which the caller made (mktemp -d): $work/this, and
# $work/base/build of $work/base, a git worktree of $1 (the user's build/ is left alone).
# The caller removes them on exit: trap bench_two_trees_cleanup EXIT.
bench_build_two_trees() {
  local opts=(-DCMAKE_BUILD_TYPE=Release -DNS_TESTS=OFF)
  echo "building this tree ($work/this) and $1 ($work/base)" >&2
  cmake -S . -B "$work/this" "${opts[@]}" >/dev/null
  cmake --build "$work/this" -j"$(nproc)" --target ns_nn ns_util >/dev/null
  git worktree add -q --detach "$work/base" "$1"
  cmake -S "$work/base" -B "$work/base/build" "${opts[@]}" >/dev/null
  cmake --build "$work/base/build" -j"$(nproc)" --target ns_nn >/dev/null
}
bench_two_trees_cleanup() {
  git worktree remove --force "$work/base" >/dev/null 2>&1 || true
  rm -rf "$work"
}
