#!/usr/bin/env bash
# Scheduling overhead per trial: a study of trivially small trials (one SGD step on 16 tiny
# images, evaluation on 8), run alone and with 1 and 2 workers under mpirun. Reports per
# trial: wall time, the workers' training time, and the time a worker waits between sending
# a result and receiving its next trial (coordinator + messages + db writes), plus the
# coordinator's CPU time. Not part of ctest (it measures, it does not check).
#   usage: tests/search/sched_overhead.sh [NETSPACE] [TRIALS]   (run from the source root)
set -eu
NETSPACE=${1:-build/netspace}
N=${2:-300}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cat >"$T/x.json" <<JSON
{"name": "overhead", "space": "$SRC/spaces/tiny_regnetx.json", "samples": $N, "seed": 1,
 "constraints": {"flops": [null, 3e5]},
 "data": {"name": "synthetic", "n": 16, "n_test": 8, "size": 8},
 "recipe": {"epochs": 1, "batch": 16, "lr": 0.1}, "threads": 1}
JSON
run() { # label, launcher...
    local label=$1
    shift
    rm -f "$T/x.db"*
    /usr/bin/time -f "%e %U %S" -o "$T/time" "$@" "$NETSPACE" search --experiment "$T/x.json" \
        --db "$T/x.db" --quiet >"$T/out"
    local wall train
    wall=$(sqlite3 "$T/x.db" "select (max(ended) - min(started)) * 1000.0 / count(*) from trials")
    train=$(sqlite3 "$T/x.db" "select avg(wall_s) * 1000.0 from trials")
    printf "%-22s wall/trial %6.2f ms  training/trial %6.2f ms  %s\n" "$label" "$wall" "$train" \
        "$(grep -o 'workers waited [0-9.]* ms per trial; coordinator busy [0-9.]*% of a core' "$T/out" || echo '')"
    printf "%-22s   whole command: %s s wall, %s s user, %s s sys\n" "" $(cat "$T/time")
}
echo "$N trials, $(nproc) cores"
run "alone" env
run "mpirun -np 2 (1 worker)" mpirun -np 2 --oversubscribe
run "mpirun -np 3 (2 workers)" mpirun -np 3 --oversubscribe
