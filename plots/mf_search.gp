set terminal pngcairo size 800,560
set output 'mf_search.png'
set title 'Best test error found vs epochs spent (tiny RegNetX, Fashion-MNIST 3k/1k)'
set xlabel 'epochs spent (all trials)'
set ylabel 'best test error (%; above 50 off the top)'
set key top right
set grid
set yrange [12:50]
plot 'mf_search.dat' index 0 with lines lw 3 lc rgb '#1f77b4' title 'random search (mean of 3 seeds)', \
     'mf_search.dat' index 1 with lines lw 3 lc rgb '#d62728' title 'successive halving (mean of 3 seeds)', \
     'mf_search.dat' index 2 with lines lw 3 lc rgb '#2ca02c' title 'ASHA (mean of 3 seeds)', \
     'mf_search.dat' index 3 with lines lw 1 lc rgb '#1f77b4' dt 2 notitle, \
     'mf_search.dat' index 4 with lines lw 1 lc rgb '#1f77b4' dt 2 notitle, \
     'mf_search.dat' index 5 with lines lw 1 lc rgb '#1f77b4' dt 2 notitle, \
     'mf_search.dat' index 6 with lines lw 1 lc rgb '#d62728' dt 2 notitle, \
     'mf_search.dat' index 7 with lines lw 1 lc rgb '#d62728' dt 2 notitle, \
     'mf_search.dat' index 8 with lines lw 1 lc rgb '#d62728' dt 2 notitle, \
     'mf_search.dat' index 9 with lines lw 1 lc rgb '#2ca02c' dt 2 notitle, \
     'mf_search.dat' index 10 with lines lw 1 lc rgb '#2ca02c' dt 2 notitle, \
     'mf_search.dat' index 11 with lines lw 1 lc rgb '#2ca02c' dt 2 notitle
