# Written by netspace plot. Restyle and re-run from this folder:
#   gnuplot ./fidelity_anynetx_a.gp
# The data is in fidelity_anynetx_a.dat, one index block per series.

if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 800,560 noenhanced font 'Sans,11'
} else {
    set terminal png size 800,560 noenhanced
    print 'netspace: gnuplot has no pngcairo terminal; using png'
}
if (!exists('outfile')) outfile = './fidelity_anynetx_a.png'
set output outfile
datafile = './fidelity_anynetx_a.dat'
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
set xrange [1:10]
set key outside below center vertical samplen 3 font ',10'
set xlabel offset 0,0.5
set xtics 1
set mxtics 1
plot \
    datafile index 0 using 1:2 with linespoints dt 1 ps 0.5 lt 1 title 'fidelity_anynetx_a  (n=32): Spearman rho', \
    datafile index 1 using 1:2 with linespoints dt 2 ps 0.5 lt 1 title 'fidelity_anynetx_a  (n=32): Kendall tau', \
    datafile index 2 using 1:2 with linespoints dt 3 ps 0.5 lt 1 title 'fidelity_anynetx_a  (n=32): top-10% overlap'
