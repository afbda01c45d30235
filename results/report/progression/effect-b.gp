# Written by netspace plot. Restyle and re-run from this folder:
#   gnuplot ./effect-b.gp
# The data is in effect-b.dat, one index block per series.

set terminal svg size 800,560 dynamic noenhanced font 'Sans,12' background rgb 'white'
if (!exists('outfile')) outfile = './effect-b.svg'
set output outfile
datafile = './effect-b.dat'
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
set title 'validation error against b' font ',13'
set xlabel 'b'
set ylabel 'validation error (%)'
set key outside below center vertical maxrows 4 samplen 1 font ',10'
set key title 'bands: 95% range of the best model, 1000 bootstrap resamples of n/4; dashed: median' font ',10'
set xlabel offset 0,0.5
set object 1 rect from 0.25, graph 0 to 1, graph 1 fc lt 1 fs transparent solid 0.15 noborder behind
set arrow 1 from 0.25, graph 0 to 0.25, graph 1 nohead lt 1 dt 2 lw 2 front
set object 2 rect from 0.25, graph 0 to 0.5, graph 1 fc lt 2 fs transparent solid 0.15 noborder behind
set arrow 2 from 0.25, graph 0 to 0.25, graph 1 nohead lt 2 dt 2 lw 2 front
set object 3 rect from 0.25, graph 0 to 1, graph 1 fc lt 3 fs transparent solid 0.15 noborder behind
set arrow 3 from 0.25, graph 0 to 0.25, graph 1 nohead lt 3 dt 2 lw 2 front
set object 4 rect from 0.25, graph 0 to 1, graph 1 fc lt 4 fs transparent solid 0.15 noborder behind
set arrow 4 from 0.25, graph 0 to 0.25, graph 1 nohead lt 4 dt 2 lw 2 front
plot \
    datafile index 0 using 1:2 with points lt 1 title 'progression_anynetx_b  (n=4):  best b median 0.25, 95% in 0.25 .. 1', \
    datafile index 1 using 1:2 with points lt 2 title 'progression_anynetx_c  (n=4):  best b median 0.25, 95% in 0.25 .. 0.5', \
    datafile index 2 using 1:2 with points lt 3 title 'progression_anynetx_d  (n=4):  best b median 0.25, 95% in 0.25 .. 1', \
    datafile index 3 using 1:2 with points lt 4 title 'progression_anynetx_e  (n=4):  best b median 0.25, 95% in 0.25 .. 1'
