# Written by netspace plot. Restyle and re-run from this folder:
#   gnuplot ./scaling.gp
# The data is in scaling.dat, one index block per series.

if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 800,560 noenhanced font 'Sans,11'
} else {
    set terminal png size 800,560 noenhanced
    print 'netspace: gnuplot has no pngcairo terminal; using png'
}
if (!exists('outfile')) outfile = './scaling.png'
set output outfile
datafile = './scaling.dat'
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
set title 'Scaling: validation error against flops, the mean of 3 seeds' font ',13'
set xlabel 'flops (multiply-adds per image)'
set ylabel 'validation error (%)'
set logscale x 10
set xrange [4.38578e+06:2.31787e+07]
set xtics ('5.04M' 5043642, '10.1M (2x)' 10087284, '20.2M (4x)' 20174568)
set offsets 0, 0, graph 0.05, graph 0.05
set key outside below center vertical samplen 2 font ',10'
set xlabel offset 0,0.5
plot \
    datafile index 0 using 3:6:7:8 with yerrorlines ps 0.9 lt 1 title 'depth', \
    datafile index 1 using 3:4 with points pt 6 ps 1.2 lw 1 lt 1 notitle, \
    datafile index 2 using 3:6:7:8 with yerrorlines ps 0.9 lt 2 title 'width', \
    datafile index 3 using 3:4 with points pt 6 ps 1.2 lw 1 lt 2 notitle, \
    datafile index 4 using 3:6:7:8 with yerrorlines ps 0.9 lt 3 title 'resolution', \
    datafile index 5 using 3:4 with points pt 6 ps 1.2 lw 1 lt 3 notitle, \
    datafile index 6 using 3:6:7:8 with yerrorlines ps 0.9 lt 4 title 'compound', \
    datafile index 7 using 3:4 with points pt 6 ps 1.2 lw 1 lt 4 notitle, \
    keyentry with points pt 6 ps 1.2 lw 1 lc rgb '#808080' title 'each seed; bars: min..max'
