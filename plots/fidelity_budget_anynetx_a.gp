# Written by netspace plot. Restyle and re-run from this folder:
#   gnuplot ./fidelity_budget_anynetx_a.gp
# The data is in fidelity_budget_anynetx_a.dat, one index block per series.

if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 800,560 noenhanced font 'Sans,11'
} else {
    set terminal png size 800,560 noenhanced
    print 'netspace: gnuplot has no pngcairo terminal; using png'
}
if (!exists('outfile')) outfile = './fidelity_budget_anynetx_a.png'
set output outfile
datafile = './fidelity_budget_anynetx_a.dat'
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
set title 'Short budgets: the twins'' ranking against fidelity_anynetx_a''s (10 epochs)' font ',13'
set xlabel 'epochs of the short schedule'
set ylabel 'agreement with fidelity_anynetx_a''s ranking'
set yrange [-1:1.05]
set xrange [0.82:4.18]
set xtics (1, 2, 4)
unset mxtics
set key outside below center vertical Left reverse samplen 3 font ',10' height 1
plot \
    datafile index 0 using 1:2:3:4 with yerrorlines ps 0.8 lt 1 title 'Spearman rho, bars: 95% of 2000 bootstrap resamples of the twins', \
    datafile index 1 using 1:2 with linespoints dt 2 pt 5 ps 0.7 lt 2 title 'Kendall tau', \
    datafile index 2 using 1:2 with linespoints dt 3 pt 9 ps 0.9 lt 3 title 'top-10% overlap', \
    datafile index 3 using 1:3:4 with filledcurves fs transparent solid 0.15 noborder lt 4 notitle, \
    datafile index 3 using 1:2 with lines dt 2 lt 4 title 'fidelity_anynetx_a_s2: same budget, another training seed (ceiling)', \
    keyentry with points ps 0 title 'fidelity_anynetx_a_e1: 1 epoch, 16 twins: rho 0.79 [0.43, 0.96], tau 0.63, top-10% 1.00', \
    keyentry with points ps 0 title 'fidelity_anynetx_a_e2: 2 epochs, 16 twins: rho 0.86 [0.60, 0.97], tau 0.70, top-10% 1.00', \
    keyentry with points ps 0 title 'fidelity_anynetx_a_e4: 4 epochs, 16 twins: rho 0.94 [0.78, 0.99], tau 0.83, top-10% 1.00', \
    keyentry with points ps 0 title 'fidelity_anynetx_a_s2: 10 epochs, 16 twins: rho 0.93 [0.75, 0.99], tau 0.81, top-10% 0.50'
