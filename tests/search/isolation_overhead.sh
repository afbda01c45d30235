#!/usr/bin/env bash
# What training each trial in a child process costs: the same study of trivially small trials
# (one SGD step on 16 tiny images, evaluation on 8) alone, with limits.isolate true and
# false, alternately ROUNDS times. Reports the wall time per trial of each and the difference
# (the child's exec, dataset mapping and library start). Not part of ctest (it measures).
#   usage: tests/search/isolation_overhead.sh [NETSPACE] [TRIALS] [ROUNDS]   (from the source root)
set -eu
NETSPACE=${1:-build/netspace}
N=${2:-200}
ROUNDS=${3:-3}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
for iso in true false; do
    cat >"$T/$iso.json" <<JSON
{"name": "overhead", "space": "$SRC/spaces/tiny_regnetx.json", "samples": $N, "seed": 1,
 "constraints": {"flops": [null, 3e5]},
 "data": {"name": "synthetic", "n": 16, "n_test": 8, "size": 8},
 "recipe": {"epochs": 1, "batch": 16, "lr": 0.1}, "threads": 1, "limits": {"isolate": $iso}}
JSON
done
declare -A best
for r in $(seq "$ROUNDS"); do
    for iso in true false; do
        rm -f "$T/$iso.db"*
        t0=$(date +%s.%N)
        "$NETSPACE" search --experiment "$T/$iso.json" --db "$T/$iso.db" --quiet >/dev/null
        t1=$(date +%s.%N)
        ms=$(echo "($t1 - $t0) * 1000 / $N" | bc -l)
        printf 'round %d isolate=%-5s %.2f ms per trial\n' "$r" "$iso" "$ms"
        if [ -z "${best[$iso]:-}" ] || [ "$(echo "$ms < ${best[$iso]}" | bc -l)" = 1 ]; then
            best[$iso]=$ms
        fi
    done
done
printf 'best of %d: isolated %.2f ms, in-process %.2f ms per trial: %.2f ms overhead\n' "$ROUNDS" \
    "${best[true]}" "${best[false]}" "$(echo "${best[true]} - ${best[false]}" | bc -l)"
