#!/usr/bin/env bash
# Memory and start-up of one node's ranks, with the whole Fashion-MNIST training and test
# sets (60,000 + 10,000 images, read from Debian's gzip files): for each rank count, start a
# study of tiny models, wait until every worker trains (its data loaded), sample the ranks'
# summed proportional set size (shared pages split among the processes that map them: what
# the node holds) and resident set size (shared pages counted in every process) for 2 s,
# then stop it. Oversubscribed on small machines. Measures, does not check.
#   usage: bench/node_memory.sh [NETSPACE] [RANKS...]   (default: build/netspace 1 8 32)
set -eu
NETSPACE=${1:-build/netspace}
shift || true
RANKS=${*:-1 8 32}
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/tests/search/helpers.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cat >"$T/x.json" <<JSON
{"name": "memory", "space": "$SRC/spaces/tiny_regnetx.json", "samples": 64, "seed": 1,
 "constraints": {"flops": [null, 1e6]},
 "data": {"name": "fashion-mnist"},
 "recipe": {"epochs": 10, "batch": 128}, "threads": 1}
JSON
echo "$NETSPACE ($(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores)"
printf "%6s %10s %16s %16s %14s\n" ranks startup_s "node Pss (MB)" "sum Rss (MB)" "Pss/rank (MB)"
for r in $RANKS; do
    read -r s pss rss < <(study_memory "$r" "$NETSPACE" "$T/x.json" "$T/x.db")
    printf "%6s %10s %16.0f %16.0f %14.1f\n" "$r" "$s" "$(echo "$pss / 1024" | bc -l)" \
        "$(echo "$rss / 1024" | bc -l)" "$(echo "$pss / 1024 / $r" | bc -l)"
done
