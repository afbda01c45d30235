# Written by netspace plot. Restyle and re-run from this folder:
#   gnuplot ./fidelity.gp
# The data is in fidelity.dat, one index block per series.

set terminal svg size 800,560 dynamic noenhanced font 'Sans,12' background rgb 'white'
if (!exists('outfile')) outfile = './fidelity.svg'
set output outfile
datafile = './fidelity.dat'
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
set title 'Fidelity: ranking after epoch k against the final ranking' font ',13'
set xlabel 'epoch k'
set ylabel 'agreement with the final error'
set yrange [-1:1.05]
set xrange [1:4]
set key outside below center vertical samplen 3 font ',10'
set xlabel offset 0,0.5
set xtics 1
set mxtics 1
plot \
    datafile index 0 using 1:2 with linespoints dt 1 ps 0.5 lt 1 title 'progression_anynetx_a  (n=4): Spearman rho', \
    datafile index 1 using 1:2 with linespoints dt 2 ps 0.5 lt 1 title 'progression_anynetx_a  (n=4): Kendall tau', \
    datafile index 2 using 1:2 with linespoints dt 3 ps 0.5 lt 1 title 'progression_anynetx_a  (n=4): top-10% overlap', \
    datafile index 3 using 1:2 with linespoints dt 1 ps 0.5 lt 2 title 'progression_anynetx_b  (n=4): Spearman rho', \
    datafile index 4 using 1:2 with linespoints dt 2 ps 0.5 lt 2 title 'progression_anynetx_b  (n=4): Kendall tau', \
    datafile index 5 using 1:2 with linespoints dt 3 ps 0.5 lt 2 title 'progression_anynetx_b  (n=4): top-10% overlap', \
    datafile index 6 using 1:2 with linespoints dt 1 ps 0.5 lt 3 title 'progression_anynetx_c  (n=4): Spearman rho', \
    datafile index 7 using 1:2 with linespoints dt 2 ps 0.5 lt 3 title 'progression_anynetx_c  (n=4): Kendall tau', \
    datafile index 8 using 1:2 with linespoints dt 3 ps 0.5 lt 3 title 'progression_anynetx_c  (n=4): top-10% overlap', \
    datafile index 9 using 1:2 with linespoints dt 1 ps 0.5 lt 4 title 'progression_anynetx_d  (n=4): Spearman rho', \
    datafile index 10 using 1:2 with linespoints dt 2 ps 0.5 lt 4 title 'progression_anynetx_d  (n=4): Kendall tau', \
    datafile index 11 using 1:2 with linespoints dt 3 ps 0.5 lt 4 title 'progression_anynetx_d  (n=4): top-10% overlap', \
    datafile index 12 using 1:2 with linespoints dt 1 ps 0.5 lt 5 title 'progression_anynetx_e  (n=4): Spearman rho', \
    datafile index 13 using 1:2 with linespoints dt 2 ps 0.5 lt 5 title 'progression_anynetx_e  (n=4): Kendall tau', \
    datafile index 14 using 1:2 with linespoints dt 3 ps 0.5 lt 5 title 'progression_anynetx_e  (n=4): top-10% overlap'
