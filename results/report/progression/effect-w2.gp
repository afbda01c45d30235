# Written by netspace plot. Restyle and re-run from this folder:
#   gnuplot ./effect-w2.gp
# The data is in effect-w2.dat, one index block per series.

set terminal svg size 800,560 dynamic noenhanced font 'Sans,12' background rgb 'white'
if (!exists('outfile')) outfile = './effect-w2.svg'
set output outfile
datafile = './effect-w2.dat'
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
set title 'validation error against w2' font ',13'
set xlabel 'w2'
set ylabel 'validation error (%)'
set logscale x 10
set xrange [13.913:202.4]
set key outside below center vertical maxrows 5 samplen 1 font ',10'
set key title 'bands: 95% range of the best model, 1000 bootstrap resamples of n/4; dashed: median' font ',10'
set xlabel offset 0,0.5
set object 1 rect from 16, graph 0 to 176, graph 1 fc lt 1 fs transparent solid 0.15 noborder behind
set arrow 1 from 144, graph 0 to 144, graph 1 nohead lt 1 dt 2 lw 2 front
set object 2 rect from 32, graph 0 to 144, graph 1 fc lt 2 fs transparent solid 0.15 noborder behind
set arrow 2 from 56, graph 0 to 56, graph 1 nohead lt 2 dt 2 lw 2 front
set object 3 rect from 16, graph 0 to 104, graph 1 fc lt 3 fs transparent solid 0.15 noborder behind
set arrow 3 from 56, graph 0 to 56, graph 1 nohead lt 3 dt 2 lw 2 front
set object 4 rect from 24, graph 0 to 56, graph 1 fc lt 4 fs transparent solid 0.15 noborder behind
set arrow 4 from 48, graph 0 to 48, graph 1 nohead lt 4 dt 2 lw 2 front
set object 5 rect from 24, graph 0 to 64, graph 1 fc lt 5 fs transparent solid 0.15 noborder behind
set arrow 5 from 48, graph 0 to 48, graph 1 nohead lt 5 dt 2 lw 2 front
plot \
    datafile index 0 using 1:2 with points lt 1 title 'progression_anynetx_a  (n=4):  best w2 median 144, 95% in 16 .. 176', \
    datafile index 1 using 1:2 with points lt 2 title 'progression_anynetx_b  (n=4):  best w2 median 56, 95% in 32 .. 144', \
    datafile index 2 using 1:2 with points lt 3 title 'progression_anynetx_c  (n=4):  best w2 median 56, 95% in 16 .. 104', \
    datafile index 3 using 1:2 with points lt 4 title 'progression_anynetx_d  (n=4):  best w2 median 48, 95% in 24 .. 56', \
    datafile index 4 using 1:2 with points lt 5 title 'progression_anynetx_e  (n=4):  best w2 median 48, 95% in 24 .. 64'
