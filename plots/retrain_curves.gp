# Written by plots/retrain_curves.sh. Re-run from this folder: gnuplot retrain_curves.gp
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 800,560 noenhanced font 'Sans,11'
} else {
    set terminal png size 800,560 noenhanced
}
set output 'retrain_curves.png'
datafile = 'retrain_curves.dat'
set linetype 1 lc rgb '#0072b2' lw 2 pt 7 ps 0.6
set linetype 2 lc rgb '#d55e00' lw 2 pt 7 ps 0.6
set linetype 3 lc rgb '#009e73' lw 2 pt 7 ps 0.6
set linetype 4 lc rgb '#cc79a7' lw 2 pt 7 ps 0.6
set linetype 5 lc rgb '#e69f00' lw 2 pt 7 ps 0.6
set linetype 6 lc rgb '#56b4e9' lw 2 pt 7 ps 0.6
set grid xtics ytics lt 1 lc rgb '#e0e0e0' lw 1
set title 'Retrained 15 epochs with augmentation: Fashion-MNIST test error (10,000 images)' font ',13'
set xlabel 'epoch'
set ylabel 'test error (%)'
set key top right
set xrange [0.5:*]
plot datafile index 0 using 1:3 with linespoints lt 1 title 'RegNetX trial 18, seed 1', datafile index 1 using 1:3 with linespoints lt 2 title 'RegNetX trial 18, seed 2', datafile index 2 using 1:3 with linespoints lt 3 title 'RegNetY trial 18, seed 1', datafile index 3 using 1:3 with linespoints lt 4 title 'benchmark net, seed 1', datafile index 4 using 1:3 with linespoints lt 5 title 'benchmark net, seed 2'
