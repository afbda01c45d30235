# Written by netspace plot. Restyle and re-run from this folder:
#   gnuplot ./curves-6.gp
# The data is in curves-6.dat, one index block per series.

set terminal svg size 800,560 dynamic noenhanced font 'Sans,12' background rgb 'white'
if (!exists('outfile')) outfile = './curves-6.svg'
set output outfile
datafile = './curves-6.dat'
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
set title 'Training curves: study fidelity_anynetx_a' font ',13'
set xlabel 'epoch'
set ylabel 'error (%)'
set key top right opaque box lc rgb '#c0c0c0' samplen 3
set xtics 1
set mxtics 1
set autoscale xfixmin
plot \
    datafile index 0 using 1:3 with linespoints lt 1 ps 0.5 title 'trial 4  (final validation 6.79%)', \
    datafile index 0 using 1:2 with lines lt 1 dt 2 notitle, \
    datafile index 1 using 1:3 with linespoints lt 2 ps 0.5 title 'trial 9  (final validation 6.95%)', \
    datafile index 1 using 1:2 with lines lt 2 dt 2 notitle, \
    datafile index 2 using 1:3 with linespoints lt 3 ps 0.5 title 'trial 29  (final validation 7.23%)', \
    datafile index 2 using 1:2 with lines lt 3 dt 2 notitle, \
    datafile index 3 using 1:3 with linespoints lt 4 ps 0.5 title 'trial 15  (final validation 7.24%)', \
    datafile index 3 using 1:2 with lines lt 4 dt 2 notitle, \
    datafile index 4 using 1:3 with linespoints lt 5 ps 0.5 title 'trial 26  (final validation 7.32%)', \
    datafile index 4 using 1:2 with lines lt 5 dt 2 notitle, \
    keyentry with lines lc rgb '#404040' lw 2 title 'validation error', \
    keyentry with lines lc rgb '#404040' lw 2 dt 2 title 'train error'
