#!/usr/bin/env bash
# Same-process A/B of BN's passes and the AVX2 GEMM kernel: this tree's build against the
# bn.c and kern_avx2.c of another commit, both in one program (bench/bn_gemm_ab.c),
# alternating every round, as bench/conv_ab.sh does for the convolutions. x86-64 only.
# Prints per shape the median (and range) of the per-round time ratios base/this (above 1:
# this tree is faster) and whether the two give the same bits.
#
# usage: bench/bn_gemm_ab.sh BASE_COMMIT [ROUNDS]
#   the shapes: BN at 2-60 channels (28x28 and 14x14, batch 128), 1x1 products with 4-56
#   outputs over 100,352 pixels (forward, and the weight gradient)
# Works while src/nn/ops.h's BN entry points and kern.h are the same in both commits.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
base=$1
export NS_AB_ROUNDS=${2:-15}
git rev-parse --verify -q "$base^{commit}" >/dev/null || { echo "bn_gemm_ab: no commit '$base'" >&2; exit 2; }
. bench/lib.sh
work=$(mktemp -d)
trap bench_two_trees_cleanup EXIT
bench_build_two_trees "$base"
(cd "$work" && ar x "$work/base/build/src/libns_nn.a" bn.c.o kern_avx2.c.o)
for o in bn kern_avx2; do
    nm --defined-only -g "$work/$o.c.o" | awk '{print $3, "base_" $3}' >"$work/$o.syms"
    objcopy --redefine-syms="$work/$o.syms" "$work/$o.c.o" "$work/${o}_base.o"
done
flags=$(sed -n 's/^CMAKE_C_FLAGS_RELEASE:STRING=//p' "$work/this/CMakeCache.txt")
cc $flags -march=x86-64-v3 -std=c11 -Isrc bench/bn_gemm_ab.c "$work/bn_base.o" \
    "$work/kern_avx2_base.o" "$work/this/src/libns_nn.a" "$work/this/src/libns_util.a" \
    -lopenblas -lm -lpthread -o "$work/bn_gemm_ab"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); base $(git rev-parse --short "$base"), this tree $(git rev-parse --short HEAD)$(git diff --quiet -- src || echo ' + changes'); $NS_AB_ROUNDS rounds, 1 thread"
"$work/bn_gemm_ab" bn 2,28 4,28 6,28 12,28 16,28 28,28 36,14 56,14 60,14
"$work/bn_gemm_ab" gemm 100352,16,4,f 100352,8,4,f 100352,16,12,f 100352,56,8,f 100352,56,56,f \
    100352,16,4,w 100352,24,6,w 100352,56,8,w 25088,96,8,w 100352,56,56,w
