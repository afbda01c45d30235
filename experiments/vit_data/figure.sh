#!/usr/bin/env bash
# The ViT-vs-RegNetX figures from run.sh's outputs: the flops-normalized EDFs of the two
# studies, and the test error of each study's best model against training images.
# Usage: experiments/vit_data/figure.sh [NETSPACE] [DB] [OUTDIR]
set -euo pipefail
ns=${1:-build/release/netspace}
db=${2:-results/vit_data.db}
out=${3:-results/vit_data}
"$ns" plot edf --db "$db" --normalize flops --bins 3 --out plots/vit_vs_regnetx_nedf.png
dat=plots/vit_data_scaling.dat
{
  echo "# images regnetx_test_error vit_test_error (percent, 10,000 test images)"
  for n in 6000 18000 60000; do
    r=$(sed 's/.*"test_error":\([0-9.]*\).*/\1/' "$out/regnetx-$n.json")
    v=$(sed 's/.*"test_error":\([0-9.]*\).*/\1/' "$out/vit-$n.json")
    echo "$n $r $v"
  done
} > "$dat"
cat > plots/vit_data_scaling.gp <<'GP'
set terminal pngcairo size 800,560 font ",11"
set output "vit_data_scaling.png"
set title "Best model of each space trained on more images (3 epochs, Fashion-MNIST)"
set xlabel "training images"
set ylabel "test error (%)"
set logscale x
set xtics ("6,000 (10 %%)" 6000, "18,000 (30 %%)" 18000, "60,000 (100 %%)" 60000)
set yrange [0:*]
set grid
set key top right
plot "vit_data_scaling.dat" using 1:2 with linespoints lw 2 pt 7 title "RegNetX (best of 16)", \
     "" using 1:3 with linespoints lw 2 pt 5 title "ViT (best of 16)"
GP
(cd plots && gnuplot vit_data_scaling.gp)
echo "wrote plots/vit_vs_regnetx_nedf.png plots/vit_data_scaling.png"
