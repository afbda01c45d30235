/* The hot kernels for x86-64-v3 (AVX2, FMA): 8-float vectors. Compiled with
 * -march=x86-64-v3 (src/CMakeLists.txt). */
#define KERN_WIDTH 8
#define KERN_SUFFIX avx2
#define KERN_NAME "avx2"
#include "nn/kern_body.h"
