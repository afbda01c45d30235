# Written by netspace plot. Restyle and re-run from this folder:
#   gnuplot ./nedf.gp
# The data is in nedf.dat, one index block per series.

set terminal svg size 800,560 dynamic noenhanced font 'Sans,12' background rgb 'white'
if (!exists('outfile')) outfile = './nedf.svg'
set output outfile
datafile = './nedf.dat'
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
set title 'Complexity-normalized error EDF: flops in (5.04M, 20.2M), 2 log-spaced bins' font ',13'
set xlabel 'validation error e (%)'
set ylabel 'F(e): weighted fraction of models with error < e'
set yrange [0:1]
set ytics 0.1
set key outside below center vertical samplen 2 font ',10'
set xlabel offset 0,0.5
set key title 'failed trials dropped; means weighted'
plot \
    datafile index 0 using 1:2 with steps lt 1 title 'scaling_regnetx_s1  (n=7, min 7.40%, mean 7.81%)', \
    datafile index 1 using 1:2 with steps lt 2 title 'scaling_regnetx_s2  (n=7, min 7.25%, mean 7.71%)', \
    datafile index 2 using 1:2 with steps lt 3 title 'scaling_regnetx_s3  (n=7, min 7.20%, mean 7.87%)'
