#!/usr/bin/env bash
# Same-process A/B of a change to the convolutions (src/nn/conv.c): this tree's build against
# the conv.c of another commit, both in one program (bench/conv_ab.c), alternating every
# round (which goes first alternates, after one warm-up round), so that this machine's drift
# (speed moving by tens of percent over minutes on a shared VM) hits both alike. x86-64
# only. Prints per layer the median of the per-round time ratios base/this (above 1: this
# tree is faster) and whether the two give the same bits.
#
# usage: bench/conv_ab.sh BASE_COMMIT [ROUNDS] [SHAPE...]
#   SHAPE: H,C,STRIDE,GROUP_WIDTH[,K[,BATCH[,THREADS[,CIN[,NODX]]]]] (C out, CIN in, default
#   C; GROUP_WIDTH = CIN for a dense conv; K default 3, BATCH 128, THREADS 1; NODX 1: no
#   input gradient, as for the net's first layer). Default shapes:
#   the benchmark net's grouped layers, sampled models' narrow ones (group widths 2 and 4,
#   36 channels) and the stem (1 -> 16 channels, 28x28).
# The base's conv.c.o is linked with this tree's other code (kernels, pool) under renamed
# entry points, so it works while those interfaces (src/nn/ops.h, kern.h, pool.h) are the
# same in both commits; otherwise the link fails, or the bits differ, and it says so.
# NS_ISA picks the kernels of both sides (avx2, avx512).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
base=$1 rounds=${2:-15}
shift $(( $# > 1 ? 2 : 1 ))
shapes=("$@")
[ ${#shapes[@]} -gt 0 ] || shapes=(28,32,2,8 14,64,2,8 7,64,1,8 4,128,1,8 28,32,1,8 28,36,2,4 14,48,1,2 28,16,1,1,3,128,1,1,1)
git rev-parse --verify -q "$base^{commit}" >/dev/null || { echo "conv_ab: no commit '$base'" >&2; exit 2; }
. bench/lib.sh
work=$(mktemp -d)
trap bench_two_trees_cleanup EXIT
bench_build_two_trees "$base"
(cd "$work" && ar x "$work/base/build/src/libns_nn.a" conv.c.o)
nm --defined-only -g "$work/conv.c.o" | awk '{print $3, "base_" $3}' >"$work/syms"
objcopy --redefine-syms="$work/syms" "$work/conv.c.o" "$work/conv_base.o"
flags=$(sed -n 's/^CMAKE_C_FLAGS_RELEASE:STRING=//p' "$work/this/CMakeCache.txt")
cc $flags -march=x86-64-v3 -std=c11 -Isrc bench/conv_ab.c "$work/conv_base.o" \
    "$work/this/src/libns_nn.a" "$work/this/src/libns_util.a" -lopenblas -lm -lpthread \
    -o "$work/conv_ab"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernels ${NS_ISA:-picked at startup}; base $(git rev-parse --short "$base"), this tree $(git rev-parse --short HEAD)$(git diff --quiet -- src || echo ' + changes')"
for s in "${shapes[@]}"; do
    IFS=, read -r h c st gw k b t ci nodx <<<"$s"
    "$work/conv_ab" "$h" "$c" "$st" "$gw" "${k:-3}" "$rounds" "${b:-128}" "${t:-1}" "${ci:-$c}" \
        "${nodx:-0}"
done
