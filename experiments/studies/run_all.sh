#!/usr/bin/env bash
# Runs the README's Results studies into one db (default results/studies.db), each with
# NP MPI ranks (default 3: a coordinator and two workers of one thread, for 2 cores).
# Usage: experiments/studies/run_all.sh [NETSPACE] [DB] [NP]
# Re-running resumes: finished trials are kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
ns=${1:-build/release/netspace}
db=${2:-results/studies.db}
np=${3:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for s in anynetx_a anynetx_b anynetx_c anynetx_d anynetx_e regnetx regnety \
         plain residual separable deep_narrow shallow_wide \
         residual_bn_after plain_bn_after regnetx_bn_after; do
  echo "== $s $(date -u +%H:%M:%S)"
  mpirun --oversubscribe -np "$np" "$ns" search --experiment "experiments/studies/$s.json" --db "$db"
done
echo "== done $(date -u +%H:%M:%S)"
