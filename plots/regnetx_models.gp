# Written by netspace plot. Restyle and re-run from this folder:
#   gnuplot regnetx_models.gp
# The data is in regnetx_models.dat, one index block per series.

if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 800,560 noenhanced font 'Sans,11'
} else {
    set terminal png size 800,560 noenhanced
    print 'netspace: gnuplot has no pngcairo terminal; using png'
}
set output 'regnetx_models.png'
datafile = 'regnetx_models.dat'
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
set title 'Per-block widths: study regnetx' font ',13'
set xlabel 'block index j'
set ylabel 'width w_j (channels)'
set key top left opaque box lc rgb '#c0c0c0' samplen 3
set xrange [0:7]
set logscale y 2
plot \
    datafile index 0 using 1:2 with steps lt 1 title 'trial 18: d=5 w0=16 wa=44.57 wm=2.64  (19.28%)', \
    datafile index 0 using 1:3 with lines lt 1 dt 2 notitle, \
    datafile index 1 using 1:2 with steps lt 2 title 'trial 17: d=7 w0=8 wa=30.3 wm=2.32  (19.56%)', \
    datafile index 1 using 1:3 with lines lt 2 dt 2 notitle, \
    datafile index 2 using 1:2 with steps lt 3 title 'trial 1: d=5 w0=32 wa=31.13 wm=1.66  (19.64%)', \
    datafile index 2 using 1:3 with lines lt 3 dt 2 notitle, \
    keyentry with lines lc rgb '#404040' lw 2 title 'quantized widths w_j', \
    keyentry with lines lc rgb '#404040' lw 2 dt 2 title 'linear u_j = w0 + wa*j'
