#!/usr/bin/env bash
# Draws plots/retrain_curves.png: test error per epoch of the README's longer retraining runs,
# from the logs of `netspace train` (its per-epoch lines "epoch N/E  loss ...  test err X%").
# Usage: plots/retrain_curves.sh LABEL=LOG [LABEL=LOG ...]
# e.g.   plots/retrain_curves.sh "RegNetX trial 18, seed 1=results/retrain/regnetx18_s1.log"
# Writes retrain_curves.dat (one index block per run: epoch, train error, test error) and
# retrain_curves.gp beside the PNG, as netspace plot does.
set -euo pipefail
cd "$(dirname "$0")"
[ $# -ge 1 ] || { echo "usage: $0 LABEL=LOG ..." >&2; exit 2; }
dat=retrain_curves.dat
: >"$dat"
plot=""
i=0
for arg in "$@"; do
  label=${arg%%=*}
  log=${arg#*=}
  case "$log" in /*) ;; *) log="../$log" ;; esac
  [ -r "$log" ] || { echo "$0: $log: cannot read" >&2; exit 1; }
  [ $i -gt 0 ] && printf '\n\n' >>"$dat"
  echo "# $label" >>"$dat"
  rows=$(tr '\r' '\n' <"$log" |
    sed -n 's|^epoch \([0-9]*\)/[0-9]*  loss [0-9.]*  train err \([0-9.]*\)%  test err \([0-9.]*\)%.*|\1 \2 \3|p')
  [ -n "$rows" ] || { echo "$0: $log: no epoch lines" >&2; exit 1; }
  echo "$rows" >>"$dat"
  plot="$plot${plot:+, }datafile index $i using 1:3 with linespoints lt $((i + 1)) title '$label'"
  i=$((i + 1))
done
cat >retrain_curves.gp <<GP
# Written by plots/retrain_curves.sh. Re-run from this folder: gnuplot retrain_curves.gp
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 800,560 noenhanced font 'Sans,11'
} else {
    set terminal png size 800,560 noenhanced
}
set output 'retrain_curves.png'
datafile = 'retrain_curves.dat'
set linetype 1 lc rgb '#0072b2' lw 2 pt 7 ps 0.6
set linetype 2 lc rgb '#d55e00' lw 2 pt 7 ps 0.6
set linetype 3 lc rgb '#009e73' lw 2 pt 7 ps 0.6
set linetype 4 lc rgb '#cc79a7' lw 2 pt 7 ps 0.6
set linetype 5 lc rgb '#e69f00' lw 2 pt 7 ps 0.6
set linetype 6 lc rgb '#56b4e9' lw 2 pt 7 ps 0.6
set grid xtics ytics lt 1 lc rgb '#e0e0e0' lw 1
set title 'Retrained 15 epochs with augmentation: Fashion-MNIST test error (10,000 images)' font ',13'
set xlabel 'epoch'
set ylabel 'test error (%)'
set key top right
set xrange [0.5:*]
plot $plot
GP
gnuplot retrain_curves.gp
echo "plots/retrain_curves.png ($i runs)"
