# Written by netspace plot. Restyle and re-run from this folder:
#   gnuplot ./trend.gp
# The data is in trend.dat, one index block per series.

set terminal svg size 800,560 dynamic noenhanced font 'Sans,12' background rgb 'white'
if (!exists('outfile')) outfile = './trend.svg'
set output outfile
datafile = './trend.dat'
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
set title 'validation error against flops: bin means +- 2 sd' font ',13'
set xlabel 'flops'
set ylabel 'validation error (%)'
set key outside below center vertical samplen 2 font ',10'
set xlabel offset 0,0.5
plot \
    datafile index 0 using 1:2 with points ps 0.4 lt 1 title 'progression_anynetx_a  (n=4)', \
    datafile index 1 using 1:2:3:4 with yerrorlines lw 2 ps 0.8 lt 1 title 'progression_anynetx_a: mean +- 2 sd in 3 bins', \
    datafile index 2 using 1:2 with points ps 0.4 lt 2 title 'progression_anynetx_b  (n=4)', \
    datafile index 3 using 1:2:3:4 with yerrorlines lw 2 ps 0.8 lt 2 title 'progression_anynetx_b: mean +- 2 sd in 4 bins', \
    datafile index 4 using 1:2 with points ps 0.4 lt 3 title 'progression_anynetx_c  (n=4)', \
    datafile index 5 using 1:2:3:4 with yerrorlines lw 2 ps 0.8 lt 3 title 'progression_anynetx_c: mean +- 2 sd in 4 bins', \
    datafile index 6 using 1:2 with points ps 0.4 lt 4 title 'progression_anynetx_d  (n=4)', \
    datafile index 7 using 1:2:3:4 with yerrorlines lw 2 ps 0.8 lt 4 title 'progression_anynetx_d: mean +- 2 sd in 4 bins', \
    datafile index 8 using 1:2 with points ps 0.4 lt 5 title 'progression_anynetx_e  (n=4)', \
    datafile index 9 using 1:2:3:4 with yerrorlines lw 2 ps 0.8 lt 5 title 'progression_anynetx_e: mean +- 2 sd in 4 bins'
