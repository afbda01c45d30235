# Written by netspace plot. Restyle and re-run from this folder:
#   gnuplot ./rs.gp
# The data is in rs.dat, one index block per series.

set terminal svg size 800,560 dynamic noenhanced font 'Sans,12' background rgb 'white'
if (!exists('outfile')) outfile = './rs.svg'
set output outfile
datafile = './rs.dat'
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
set title 'Random-search efficiency' font ',13'
set xlabel 'k: models sampled'
set ylabel 'expected minimum validation error of k models (%)'
set logscale x 2
set xrange [1:100]
set key top right opaque box lc rgb '#c0c0c0' samplen 2 font ',10'
set key title 'bands: 95% of 1000 bootstrap resamples of the EDF' font ',10'
plot \
    datafile index 0 using 1:3:4 with filledcurves fs transparent solid 0.15 noborder lt 1 notitle, \
    datafile index 0 using 1:2 with linespoints ps 0.4 lt 1 title 'progression_anynetx_a  (n=4): k=1 9.72%, k=100 8.90%', \
    datafile index 1 using 1:3:4 with filledcurves fs transparent solid 0.15 noborder lt 2 notitle, \
    datafile index 1 using 1:2 with linespoints ps 0.4 lt 2 title 'progression_anynetx_b  (n=4): k=1 9.72%, k=100 8.32%', \
    datafile index 2 using 1:3:4 with filledcurves fs transparent solid 0.15 noborder lt 3 notitle, \
    datafile index 2 using 1:2 with linespoints ps 0.4 lt 3 title 'progression_anynetx_c  (n=4): k=1 10.33%, k=100 9.58%', \
    datafile index 3 using 1:3:4 with filledcurves fs transparent solid 0.15 noborder lt 4 notitle, \
    datafile index 3 using 1:2 with linespoints ps 0.4 lt 4 title 'progression_anynetx_d  (n=4): k=1 9.17%, k=100 8.51%', \
    datafile index 4 using 1:3:4 with filledcurves fs transparent solid 0.15 noborder lt 5 notitle, \
    datafile index 4 using 1:2 with linespoints ps 0.4 lt 5 title 'progression_anynetx_e  (n=4): k=1 8.75%, k=100 8.16%'
