/* The core's hot kernels, compiled once per instruction-set path and picked at startup, so
 * that one binary runs on any x86-64 with AVX2 and FMA and uses AVX-512 where the CPU has it.
 * kern_body.h holds the kernels; kern_avx2.c and kern_avx512.c compile it with
 * -march=x86-64-v3 and -march=x86-64-v4 (src/CMakeLists.txt), and kern.c picks a table.
 *
 * Every kernel computes each output element with the same operations in the same order on
 * either path (the GEMM: a sequential sum of fused multiply-adds; the grouped pair kernels:
 * one fused multiply-add per product, as conv.c's AVX2 loop), so both paths give the same
 * bits; only the number of elements handled per instruction differs. */
#ifndef NS_KERN_H
#define NS_KERN_H

#include <stddef.h>

/* C (m x n, row stride ldc) = A B (beta 0) or C + A B (beta 1), where element (i, p) of A
 * is a[i*ars + p*acs] (row-major A: ars = lda, acs = 1; its transpose: ars = 1, acs = lda)
 * and B is row-major (k x n, row stride ldb). Each C element is one sequential FMA sum
 * over p in blocks of NS_GEMM_KC, added to C after each block; no packing, no threads: for
 * the small-k, small-n products of convnets, where BLAS's packing and beta passes cost more
 * than the product. No other thread may write C's span (its first element to its last,
 * the gaps between rows included) during the call: on the AVX2 path a row's partial last
 * vector is written whole when the tile's later rows cover it, its extra lanes holding what
 * they held (kern_body.h, store_part). */
#define NS_GEMM_KC 256
typedef void (*ns_gemm_fn)(int m, int n, int k, const float *a, long ars, long acs,
                           const float *b, long ldb, int beta, float *c, long ldc);

/* The grouped k x k convolution's inner loop on pixel pairs, for group widths of 8 or
 * more (conv.c's g8 kernels): each output pixel p of the grid gets, for one block of 8
 * output channels,
 *     out[p][l] = init[l] + sum over taps u, then j < gin, of x_p[xoff[u] + j] * w[u][j][l]
 * as one fused multiply-add per product, in that order: the AVX2 path's
 * sums, so both paths give the same bits. The pixels come in pairs, (r, 2c) and (r, 2c + 1)
 * of a grid `cols` pixels wide: pair (r, c) reads the paired copy at
 * src + r*sr + c*sc + xoff[u] + 2j, two floats, the first pixel's value then its partner's,
 * and the weights are doubled to match (w[u] + 16j: w[u][j][0] twice, then w[u][j][1]
 * twice, ...). So one 64-bit broadcast and one 16-float load feed 16 lanes, two pixels of 8
 * channels. Pixel (r, 2c) is written at dst + r*dr + c*dc, its partner at + dnext; a
 * partner past the end of an odd row is computed from what the copy holds there and not
 * written. acc adds what dst holds, relu clamps at zero (after acc). NULL on the AVX2 path,
 * where the pair layout gains nothing over conv.c's 8-float loop. */
struct ns_g8_pairs {
    int rows, cols;          /* the grid of output pixels */
    const float *src;        /* the paired copy, at pair (0, 0), tap offset 0, j = 0 */
    long sr, sc;             /* floats from one pair row, one pair column, to the next */
    float *dst;
    long dr, dc, dnext;
    int ntaps;
    const long *xoff;        /* per tap, in floats of the paired copy */
    const float *const *w;   /* per tap: gin x 16 doubled weights */
    int gin;
    const float *init;       /* 16 floats (doubled, like w), or NULL for zeros */
    int acc, relu;
};
typedef void (*ns_g8_pairs_fn)(const struct ns_g8_pairs *job);

/* The grouped weight gradient's inner loop on tap pairs: for 8 input channels j of a group
 * and one block of 8 output channels l, the taps (kh, kw) and (kh, kw + 1) at once,
 *     part_e[j][l] += sum over output pixels p, in order, of x_p,e[j] * dy_p[l]
 * (one fused multiply-add per product, from zero, then added to part: the AVX2 loop's
 * sums). x comes from a paired copy with step one column (pixel p at src + r*sr + c*sc +
 * 2j: its value under tap kw, then under kw + 1), dy from dy + r*dr + c*dc. part1 NULL: the
 * second tap is past the kernel (computed, not added). Row j of part_e is at part_e + j*pj. */
struct ns_g8_wpairs {
    int rows, cols;
    const float *src;
    long sr, sc;
    const float *dy;
    long dr, dc;
    float *part0, *part1;
    long pj;
};
typedef void (*ns_g8_wpairs_fn)(const struct ns_g8_wpairs *job);

struct ns_kernels {
    const char *name; /* "avx2" or "avx512" */
    ns_gemm_fn gemm;
    ns_g8_pairs_fn g8_pairs; /* NULL: conv.c's own AVX2 loop */
    ns_g8_wpairs_fn g8_wpairs; /* NULL likewise */
};

extern const struct ns_kernels ns_kernels_avx2, ns_kernels_avx512;

/* The table in use: chosen once, on first use, from the CPU (AVX-512 F, BW, DQ and VL:
 * x86-64-v4) unless NS_ISA=avx2 or NS_ISA=avx512 forces a path (for tests and
 * measurements; NS_ISA=avx512 on a CPU without it warns and runs AVX2). */
const struct ns_kernels *ns_kern(void);
/* Use table k from now on in this process (tests: both paths in one process). Not for
 * use while a pool task runs (it is a plain store); scratch sized by ns_conv_scratch under
 * one table is not valid under the other; no CPU check: k = &ns_kernels_avx512 on a CPU
 * without AVX-512 dies with SIGILL (check ns_kern_has_avx512 first). */
void ns_kern_use(const struct ns_kernels *k);
/* Whether this CPU can run the AVX-512 path. */
int ns_kern_has_avx512(void);

#endif
