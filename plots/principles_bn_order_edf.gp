# Written by netspace plot. Restyle and re-run from this folder:
#   gnuplot principles_bn_order_edf.gp
# The data is in principles_bn_order_edf.dat, one index block per series.

if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 800,560 noenhanced font 'Sans,11'
} else {
    set terminal png size 800,560 noenhanced
    print 'netspace: gnuplot has no pngcairo terminal; using png'
}
set output 'principles_bn_order_edf.png'
datafile = 'principles_bn_order_edf.dat'
set datafile missing 'NaN'

set linetype 1 lc rgb '#0072b2' lw 2 pt 7 ps 0.6
set linetype 2 lc rgb '#d55e00' lw 2 pt 7 ps 0.6
set linetype 3 lc rgb '#009e73' lw 2 pt 7 ps 0.6
set linetype 4 lc rgb '#cc79a7' lw 2 pt 7 ps 0.6
set linetype 5 lc rgb '#e69f00' lw 2 pt 7 ps 0.6
set linetype 6 lc rgb '#56b4e9' lw 2 pt 7 ps 0.6
set linetype 7 lc rgb '#000000' lw 2 pt 7 ps 0.6
set linetype 8 lc rgb '#a0a000' lw 2 pt 7 ps 0.6
set border lw 1
set grid xtics ytics mxtics mytics lt 1 lc rgb '#e0e0e0' lw 1, lt 1 lc rgb '#f0f0f0' lw 1
set mxtics
set mytics
set title 'BN before (conv-BN-ReLU) vs after (conv-ReLU-BN) the activation: error EDF' font ',13'
set xlabel 'test error e (%)'
set ylabel 'F(e): fraction of models with error < e'
set yrange [0:1]
set ytics 0.1
set key outside below center vertical samplen 2 font ',10'
set xlabel offset 0,0.5
set key title 'failed trials dropped'
plot \
    datafile index 0 using 1:2 with steps lt 1 title 'residual  (n=16, min 24.32%, mean 36.98%)', \
    datafile index 1 using 1:2 with steps lt 2 title 'residual_bn_after  (n=16, min 26.14%, mean 37.78%)', \
    datafile index 2 using 1:2 with steps lt 3 title 'plain  (n=16, min 36.04%, mean 62.16%)', \
    datafile index 3 using 1:2 with steps lt 4 title 'plain_bn_after  (n=16, min 26.52%, mean 46.23%)', \
    datafile index 4 using 1:2 with steps lt 5 title 'regnetx  (n=64, min 19.28%, mean 30.30%)', \
    datafile index 5 using 1:2 with steps lt 6 title 'regnetx_bn_after  (n=64, min 18.26%, mean 31.86%)'
