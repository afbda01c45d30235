# Written by netspace plot. Restyle and re-run from this folder:
#   gnuplot ./edf.gp
# The data is in edf.dat, one index block per series.

set terminal svg size 800,560 dynamic noenhanced font 'Sans,12' background rgb 'white'
if (!exists('outfile')) outfile = './edf.svg'
set output outfile
datafile = './edf.dat'
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
set title 'Error EDF' font ',13'
set xlabel 'validation error e (%)'
set ylabel 'F(e): fraction of models with error < e'
set yrange [0:1]
set ytics 0.1
set key outside below center vertical samplen 2 font ',10'
set xlabel offset 0,0.5
set key title 'failed trials dropped'
plot \
    datafile index 0 using 1:2 with steps lt 1 title 'progression_anynetx_a  (n=4, min 8.90%, mean 9.72%)', \
    datafile index 1 using 1:2 with steps lt 2 title 'progression_anynetx_b  (n=4, min 8.32%, mean 9.72%)', \
    datafile index 2 using 1:2 with steps lt 3 title 'progression_anynetx_c  (n=4, min 9.58%, mean 10.34%)', \
    datafile index 3 using 1:2 with steps lt 4 title 'progression_anynetx_d  (n=4, min 8.51%, mean 9.17%)', \
    datafile index 4 using 1:2 with steps lt 5 title 'progression_anynetx_e  (n=4, min 8.16%, mean 8.75%)'
