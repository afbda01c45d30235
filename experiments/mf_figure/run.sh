#!/usr/bin/env bash
# The README's multi-fidelity figure (issue #15): random search vs successive halving vs
# ASHA on the quickstart's space, at about equal total epochs (random: 7 trials x 9 epochs =
# 63; SHA: 27 x 1 + 9 x 2 + 3 x 6 = 63; ASHA: about the same), three study seeds each, on
# 3,000 Fashion-MNIST images, selected and measured on 1,000 test images (all three alike).
# Then bench/mf_figure.py draws the best test error found against the epochs spent.
#   experiments/mf_figure/run.sh [NETSPACE] [OUT]   (defaults: build/netspace results/mf_figure)
set -eu
NS=${1:-build/netspace}
OUT=${2:-results/mf_figure}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
for seed in 1 2 3; do
    for kind in random sha asha; do
        samples=27
        search="\"search\": {\"kind\": \"$kind\", \"eta\": 3, \"min_epochs\": 1, \"max_epochs\": 9},"
        if [ "$kind" = random ]; then
            samples=7
            search=''
        fi
        exp="$OUT/${kind}_s$seed.json"
        cat >"$exp" <<JSON
{"name": "mf_${kind}_s$seed", "space": "$HERE/../../spaces/tiny_regnetx.json",
 "samples": $samples, "seed": $seed,
 "data": {"name": "fashion-mnist", "train_limit": 3000, "test_limit": 1000},
 "recipe": {"epochs": 9, "batch": 128, "lr": 0.2, "momentum": 0.9, "nesterov": true,
            "weight_decay": 5e-4},
 $search "threads": 1}
JSON
        echo "== $kind seed $seed"
        "$NS" search --experiment "$exp" --db "$OUT/mf.db" --quiet
    done
done
