#!/usr/bin/env bash
# The README's first command: install the dependencies, build netspace (Release), and run
# the quickstart search on Fashion-MNIST into results/quickstart.db, one worker per core
# under mpirun (rank 0 only coordinates). Running it again resumes the study: finished
# trials are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DNS_TESTS=OFF
cmake --build build/release -j"$(nproc)"
echo "== built build/release/netspace"
ns=build/release/netspace
mkdir -p results
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
np=$(( $(nproc) + 1 ))
echo "== quickstart: mpirun -np $np $ns search --experiment experiments/quickstart.json --db results/quickstart.db"
mpirun --oversubscribe -np "$np" "$ns" search --experiment experiments/quickstart.json \
  --db results/quickstart.db
"$ns" query --db results/quickstart.db best -k 10
echo "== next: $ns plot edf --db results/quickstart.db --out plots/quickstart_edf.png"
