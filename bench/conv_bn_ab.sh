#!/usr/bin/env bash
# Same-process A/B of the fused 1x1 conv + BN backward (ns_conv_bn_backward) against the two
# ops it replaces (ns_bn_backward, then ns_conv_backward), both from this tree's build, in
# one program (bench/conv_bn_ab.c), alternating every round. x86-64 only. Prints per shape
# the median (and range) of the per-round time ratios unfused/fused (above 1: the fused pass
# is faster) and whether both give the same bits.
#
# usage: bench/conv_bn_ab.sh [ROUNDS] [SHAPE...]
#   SHAPE: SIDE,CIN,COUT[,RELU[,THREADS]] (batch 128; RELU 1 by default, 0: a residual
#   branch's last BN; THREADS 1). Default shapes: the benchmark net's 1x1 layers, then
#   narrower and reducing ones (the net fuses only COUT >= CIN: ns_conv_bn_fusable).
set -euo pipefail
cd "$(dirname "$0")/.."
case ${1:-} in -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
export NS_AB_ROUNDS=${1:-15}
shift $(( $# > 0 ? 1 : 0 ))
shapes=("$@")
[ ${#shapes[@]} -gt 0 ] || shapes=(28,16,32 14,32,64 7,64,128 4,128,128 28,16,32,1,2 28,8,32,0 \
    28,12,12 28,6,24 28,32,16 28,64,16)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S . -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DNS_TESTS=OFF >/dev/null
cmake --build "$work/build" -j"$(nproc)" --target ns_nn ns_util >/dev/null
flags=$(sed -n 's/^CMAKE_C_FLAGS_RELEASE:STRING=//p' "$work/build/CMakeCache.txt")
cc $flags -march=x86-64-v3 -std=c11 -Isrc bench/conv_bn_ab.c "$work/build/src/libns_nn.a" \
    "$work/build/src/libns_util.a" -lopenblas -lm -lpthread -o "$work/conv_bn_ab"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); this tree $(git rev-parse --short HEAD)$(git diff --quiet -- src || echo ' + changes'); $NS_AB_ROUNDS rounds"
"$work/conv_bn_ab" "${shapes[@]}"
