/* The hot kernels for x86-64-v4 (AVX-512 F, BW, DQ, VL): 16-float vectors. Compiled with
 * -march=x86-64-v4 (src/CMakeLists.txt); kern.c runs them only on a CPU that has them. */
#define KERN_WIDTH 16
#define KERN_SUFFIX avx512
#define KERN_NAME "avx512"
#include "nn/kern_body.h"
