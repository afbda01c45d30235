#!/usr/bin/env bash
# Draws the README's Results figures from the studies db that
# experiments/studies/run_all.sh writes (default results/studies.db) into plots/.
# Usage: plots/make_results.sh [NETSPACE] [DB]
set -euo pipefail
cd "$(dirname "$0")/.."
ns=${1:-build/release/netspace}
db=${2:-results/studies.db}
prog=anynetx_a,anynetx_b,anynetx_c,anynetx_d,anynetx_e,regnetx,regnety
# The paper's comparison: error EDFs with the flops distribution normalized across spaces.
"$ns" plot edf --db "$db" --study "$prog" --normalize flops --range 2e6,1.2e7 --bins 4 \
  --title "AnyNetX A-E, RegNetX, RegNetY on Fashion-MNIST: flops-normalized error EDF" \
  --out plots/progression_nedf.png
"$ns" plot edf --db "$db" --study "$prog" \
  --title "AnyNetX A-E, RegNetX, RegNetY on Fashion-MNIST: error EDF" \
  --out plots/progression_edf.png
"$ns" plot param --db "$db" --study regnetx --param flops --out plots/regnetx_flops.png
"$ns" plot param --db "$db" --study regnetx --param wm --out plots/regnetx_wm.png
"$ns" plot models --db "$db" --study regnetx --top 3 --out plots/regnetx_models.png
# The architecture principles, where their studies exist in the db.
have() { "$ns" query --db "$db" studies --csv | cut -d, -f1 | grep -qx "$1"; }
if have plain && have residual && have separable; then
  "$ns" plot edf --db "$db" --study plain,residual,separable --failed chance \
    --normalize flops --range 2e6,1.2e7 --bins 3 \
    --title "Residual and separable vs plain blocks: flops-normalized error EDF" \
    --out plots/principles_blocks_nedf.png
fi
if have deep_narrow && have shallow_wide; then
  "$ns" plot edf --db "$db" --study deep_narrow,shallow_wide \
    --title "Deep-and-narrow vs shallow-and-wide X-block nets: error EDF" \
    --out plots/principles_depth_edf.png
fi
if have residual_bn_after && have plain_bn_after && have regnetx_bn_after; then
  "$ns" plot edf --db "$db" --study residual,residual_bn_after,plain,plain_bn_after,regnetx,regnetx_bn_after \
    --title "BN before (conv-BN-ReLU) vs after (conv-ReLU-BN) the activation: error EDF" \
    --out plots/principles_bn_order_edf.png
fi
