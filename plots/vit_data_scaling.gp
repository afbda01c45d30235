set terminal pngcairo size 800,560 font ",11"
set output "vit_data_scaling.png"
set title "Best model of each space trained on more images (3 epochs, Fashion-MNIST)"
set xlabel "training images"
set ylabel "test error (%)"
set logscale x
set xtics ("6,000 (10 %%)" 6000, "18,000 (30 %%)" 18000, "60,000 (100 %%)" 60000)
set yrange [0:*]
set grid
set key top right
plot "vit_data_scaling.dat" using 1:2 with linespoints lw 2 pt 7 title "RegNetX (best of 16)", \
     "" using 1:3 with linespoints lw 2 pt 5 title "ViT (best of 16)"
