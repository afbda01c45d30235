#!/usr/bin/env bash
# ViT against RegNetX on Fashion-MNIST at equal flops (2-12 M multiply-adds), each family
# with its own recipe (AdamW for the transformers, SGD for the convnets), 16 models each for
# 2 epochs on 10,000 images; then the best model of each trained on 10 %, 30 % and 100 % of
# the 60,000 training images (3 epochs, the full test set). Usage:
#   experiments/vit_data/run.sh [NETSPACE] [DB]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ns=${1:-build/release/netspace}
db=${2:-results/vit_data.db}
out=${OUT:-results/vit_data}
mkdir -p "$out"
for s in regnetx vit; do
  "$ns" search --experiment "$here/$s.json" --db "$db" --quiet
done
declare -A recipe=(
  [regnetx]="--lr 0.1 --momentum 0.9 --wd 5e-4"
  [vit]="--optimizer adamw --lr 0.002 --wd 0.05 --warmup 0.2")
for s in regnetx vit; do
  best=$("$ns" query --db "$db" --study "$s" best -k 1 --columns trial --csv | sed -n 2p)
  "$ns" query --db "$db" --study "$s" show "$best" --json > "$out/$s-best.json"
  for n in 6000 18000 60000; do
    [ -s "$out/$s-$n.json" ] && continue
    "$ns" train --db "$db" --study "$s" --trial "$best" --train-limit "$n" --epochs 3 \
      --eval-batch 250 ${recipe[$s]} --quiet --json | tail -1 > "$out/$s-$n.json.tmp" && mv "$out/$s-$n.json.tmp" "$out/$s-$n.json"
  done
done
