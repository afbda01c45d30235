#!/usr/bin/env bash
# The README's first command: install the dependencies, build netspace (Release), and run
# the quickstart search on Fashion-MNIST into results/quickstart.db.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DNS_TESTS=OFF
cmake --build build/release -j"$(nproc)"
echo "== built build/release/netspace"
if [ -f experiments/quickstart.json ] && build/release/netspace search --help >/dev/null 2>&1; then
  build/release/netspace search --experiment experiments/quickstart.json --db results/quickstart.db
  build/release/netspace query --db results/quickstart.db trials --sort test_error --limit 10
else
  # Until the search lands: a short training run of the benchmark net on Fashion-MNIST.
  build/release/netspace train --bench-net --data fashion-mnist --epochs 1
fi
