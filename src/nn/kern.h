/* The core's hot kernels, compiled once per instruction-set path and picked at startup, so
 * that one binary runs on any x86-64 with AVX2 and FMA and uses AVX-512 where the CPU has it.
 * kern_body.h holds the kernels; kern_avx2.c and kern_avx512.c compile it with
 * -march=x86-64-v3 and -march=x86-64-v4 (src/CMakeLists.txt), and kern.c picks a table.
 *
 * Every kernel computes each output element with the same operations in the same order on
 * either path (a sequential sum of fused multiply-adds), so both paths give the same bits;
 * only the number of elements handled per instruction differs. */
#ifndef NS_KERN_H
#define NS_KERN_H

#include <stddef.h>

/* C (m x n, row stride ldc) = A B (beta 0) or C + A B (beta 1), where element (i, p) of A
 * is a[i*ars + p*acs] (row-major A: ars = lda, acs = 1; its transpose: ars = 1, acs = lda)
 * and B is row-major (k x n, row stride ldb). Each C element is one sequential FMA sum
 * over p in blocks of NS_GEMM_KC, added to C after each block; no packing, no threads: for
 * the small-k, small-n products of convnets, where BLAS's packing and beta passes cost more
 * than the product. */
#define NS_GEMM_KC 256
typedef void (*ns_gemm_fn)(int m, int n, int k, const float *a, long ars, long acs,
                           const float *b, long ldb, int beta, float *c, long ldc);

struct ns_kernels {
    const char *name; /* "avx2" or "avx512" */
    ns_gemm_fn gemm;
};

extern const struct ns_kernels ns_kernels_avx2, ns_kernels_avx512;

/* The table in use: chosen once, on first use, from the CPU (AVX-512 F, BW, DQ and VL:
 * x86-64-v4) unless NS_ISA=avx2 or NS_ISA=avx512 forces a path (for tests and
 * measurements; NS_ISA=avx512 on a CPU without it warns and runs AVX2). */
const struct ns_kernels *ns_kern(void);
/* Whether this CPU can run the AVX-512 path. */
int ns_kern_has_avx512(void);

#endif
