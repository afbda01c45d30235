#!/usr/bin/env bash
# The families' short studies of the README (Design spaces: families) into one db (default
# results/families.db): 8 models a family (7 for the compound-scaling space, whose phi takes
# 7 values), 1 epoch on the first 10,000 Fashion-MNIST training images, tested on the first
# 2,000 test images (repvgg and acnet: 5,000). NP MPI ranks (default 1: a single process, no mpirun).
# Usage: experiments/families/run_all.sh [NETSPACE] [DB] [NP]
# Re-running resumes: finished trials are kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
ns=${1:-build/release/netspace}
db=${2:-results/families.db}
np=${3:-1}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for f in experiments/families/*.json; do
  s=$(basename "$f" .json)
  echo "== $s $(date -u +%H:%M:%S)"
  if [ "$np" -gt 1 ]; then
    mpirun --oversubscribe -np "$np" "$ns" search --experiment "$f" --db "$db"
  else
    "$ns" search --experiment "$f" --db "$db"
  fi
done
echo "== done $(date -u +%H:%M:%S)"
