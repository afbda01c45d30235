# Written by netspace plot. Restyle and re-run from this folder:
#   gnuplot ./curves-5.gp
# The data is in curves-5.dat, one index block per series.

set terminal svg size 800,560 dynamic noenhanced font 'Sans,12' background rgb 'white'
if (!exists('outfile')) outfile = './curves-5.svg'
set output outfile
datafile = './curves-5.dat'
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
set title 'Training curves: study progression_anynetx_e' font ',13'
set xlabel 'epoch'
set ylabel 'error (%)'
set key top right opaque box lc rgb '#c0c0c0' samplen 3
set xtics 1
set mxtics 1
set autoscale xfixmin
plot \
    datafile index 0 using 1:3 with linespoints lt 1 ps 0.5 title 'trial 1  (final validation 8.16%)', \
    datafile index 0 using 1:2 with lines lt 1 dt 2 notitle, \
    datafile index 1 using 1:3 with linespoints lt 2 ps 0.5 title 'trial 2  (final validation 8.33%)', \
    datafile index 1 using 1:2 with lines lt 2 dt 2 notitle, \
    datafile index 2 using 1:3 with linespoints lt 3 ps 0.5 title 'trial 3  (final validation 8.93%)', \
    datafile index 2 using 1:2 with lines lt 3 dt 2 notitle, \
    datafile index 3 using 1:3 with linespoints lt 4 ps 0.5 title 'trial 0  (final validation 9.58%)', \
    datafile index 3 using 1:2 with lines lt 4 dt 2 notitle, \
    keyentry with lines lc rgb '#404040' lw 2 title 'validation error', \
    keyentry with lines lc rgb '#404040' lw 2 dt 2 title 'train error'
