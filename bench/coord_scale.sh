#!/usr/bin/env bash
# How many trials a second the coordinator (rank 0) sustains: a study of trivially small
# trials (one SGD step on 16 tiny synthetic images, evaluation on 8) under mpirun -np R for
# each R, oversubscribed on small machines. Per run: wall time of the study (first start to
# last end, from the db), trials/s, the coordinator's CPU time per trial and share of a
# core, and how long a worker waited between its result and its next trial. Measures,
# does not check.
#   usage: bench/coord_scale.sh [NETSPACE] [TRIALS] [RANKS...]
#          (default: build/netspace 2000 3 17 33 65)
set -eu
NETSPACE=${1:-build/netspace}
N=${2:-2000}
shift 2 || true
RANKS=${*:-3 17 33 65}
SRC=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cat >"$T/x.json" <<JSON
{"name": "scale", "space": "$SRC/spaces/tiny_regnetx.json", "samples": $N, "seed": 1,
 "constraints": {"flops": [null, 3e5]},
 "data": {"name": "synthetic", "n": 16, "n_test": 8, "size": 8},
 "recipe": {"epochs": 1, "batch": 16, "lr": 0.1}, "threads": 1}
JSON
echo "$N trials; $NETSPACE; $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
printf "%6s %9s %9s %12s %14s %12s %12s\n" ranks wall_s trials/s "train ms/t" "rank0 cpu ms/t" "rank0 core%" "wait ms/t"
for r in $RANKS; do
    rm -f "$T/x.db"*
    mpirun -np "$r" --oversubscribe "$NETSPACE" search --experiment "$T/x.json" --db "$T/x.db" \
        --quiet >"$T/out"
    read -r wall train < <(sqlite3 "$T/x.db" "select max(ended) - min(started), avg(wall_s) * 1000 from trials" | tr '|' ' ')
    secs=$(sed -n 's/.*this run: [0-9]* trials in \([0-9.]*\)s.*/\1/p' "$T/out")
    busy=$(sed -n 's/.*coordinator busy \([0-9.]*\)% of a core.*/\1/p' "$T/out")
    wait=$(sed -n 's/.*workers waited \([0-9.]*\) ms per trial.*/\1/p' "$T/out")
    printf "%6s %9.2f %9.0f %12.2f %14.3f %12s %12s\n" "$r" "$wall" "$(echo "$N / $wall" | bc -l)" "$train" \
        "$(echo "$busy / 100 * ${secs:-$wall} * 1000 / $N" | bc -l)" "$busy" "$wait"
done
