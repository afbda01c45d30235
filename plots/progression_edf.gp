# Written by netspace plot. Restyle and re-run from this folder:
#   gnuplot progression_edf.gp
# The data is in progression_edf.dat, one index block per series.

if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 800,560 noenhanced font 'Sans,11'
} else {
    set terminal png size 800,560 noenhanced
    print 'netspace: gnuplot has no pngcairo terminal; using png'
}
set output 'progression_edf.png'
datafile = 'progression_edf.dat'
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
set title 'AnyNetX A-E, RegNetX, RegNetY on Fashion-MNIST: error EDF' font ',13'
set xlabel 'test error e (%)'
set ylabel 'F(e): fraction of models with error < e'
set yrange [0:1]
set ytics 0.1
set key outside below center vertical samplen 2 font ',10'
set xlabel offset 0,0.5
set key title 'failed trials dropped'
plot \
    datafile index 0 using 1:2 with steps lt 1 title 'anynetx_a  (n=64, min 23.68%, mean 36.00%)', \
    datafile index 1 using 1:2 with steps lt 2 title 'anynetx_b  (n=64, min 21.86%, mean 34.66%)', \
    datafile index 2 using 1:2 with steps lt 3 title 'anynetx_c  (n=64, min 25.02%, mean 35.39%)', \
    datafile index 3 using 1:2 with steps lt 4 title 'anynetx_d  (n=64, min 24.76%, mean 36.08%)', \
    datafile index 4 using 1:2 with steps lt 5 title 'anynetx_e  (n=64, min 23.34%, mean 37.63%)', \
    datafile index 5 using 1:2 with steps lt 6 title 'regnetx  (n=64, min 19.28%, mean 30.30%)', \
    datafile index 6 using 1:2 with steps lt 7 title 'regnety  (n=64, min 19.50%, mean 31.77%)'
