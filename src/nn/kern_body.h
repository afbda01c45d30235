/* The hot kernels' bodies (kern.h), included once per instruction-set path by kern_avx2.c
 * and kern_avx512.c, each compiled for its own -march. KERN_WIDTH (8 or 16 floats) picks
 * the vector type; KERN_SUFFIX names the table and KERN_NAME is the path's name. Not a header of its own: no include guard. */
#include <immintrin.h>

#include "nn/kern.h"

#if KERN_WIDTH == 16
typedef __m512 vf;
typedef __mmask16 vmask;
#define V 16
#define MR 8 /* rows of C per tile: 8 x 2 vectors = 16 accumulators of 32 registers */
#define vzero() _mm512_setzero_ps()
#define vload(p) _mm512_loadu_ps(p)
#define vstore(p, v) _mm512_storeu_ps(p, v)
#define vbcast(p) _mm512_set1_ps(*(p))
#define vfma(a, b, c) _mm512_fmadd_ps(a, b, c)
#define vadd(a, b) _mm512_add_ps(a, b)
#define vmask_of(r) ((vmask)((1u << (r)) - 1u))
#define vloadm(p, m) _mm512_maskz_loadu_ps(m, p)
#define vstorem(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#elif KERN_WIDTH == 8
typedef __m256 vf;
typedef __m256i vmask;
#define V 8
#define MR 6 /* 6 x 2 vectors = 12 accumulators of 16 registers */
#define vzero() _mm256_setzero_ps()
#define vload(p) _mm256_loadu_ps(p)
#define vstore(p, v) _mm256_storeu_ps(p, v)
#define vbcast(p) _mm256_broadcast_ss(p)
#define vfma(a, b, c) _mm256_fmadd_ps(a, b, c)
#define vadd(a, b) _mm256_add_ps(a, b)
static inline vmask vmask_of(int r)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(r), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#define vloadm(p, m) _mm256_maskload_ps(p, m)
#define vstorem(p, m, v) _mm256_maskstore_ps(p, m, v)
#else
#error "KERN_WIDTH must be 8 or 16"
#endif

#define KCAT2(a, b) a##b
#define KCAT(a, b) KCAT2(a, b)
#define KNAME(x) KCAT(x, KERN_SUFFIX)
#define INLINE static inline __attribute__((always_inline))

/* ---- GEMM ---------------------------------------------------------------------------- */

/* One tile: rows [0, mr) of C, nv vectors of columns, the last one masked when `masked`.
 * mr, nv and masked are constants at every call site (the switch in gemm_block), so the
 * accumulators live in registers. */
INLINE void tile(const int mr, const int nv, const int masked, vmask m, int k, const float *a,
                 long ars, long acs, const float *b, long ldb, int beta, float *c, long ldc)
{
    vf acc[MR][2];
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) {
        acc[i][0] = vzero();
        acc[i][1] = vzero();
    }
    for (int p = 0; p < k; p++) {
        const float *bp = b + (long)p * ldb;
        vf b0, b1 = vzero();
        if (nv == 1)
            b0 = masked ? vloadm(bp, m) : vload(bp);
        else {
            b0 = vload(bp);
            b1 = masked ? vloadm(bp + V, m) : vload(bp + V);
        }
        const float *ap = a + (long)p * acs;
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++) {
            vf ai = vbcast(ap + i * ars);
            acc[i][0] = vfma(ai, b0, acc[i][0]);
            if (nv == 2)
                acc[i][1] = vfma(ai, b1, acc[i][1]);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        if (nv == 1) {
            if (masked) {
                vf v = beta ? vadd(vloadm(ci, m), acc[i][0]) : acc[i][0];
                vstorem(ci, m, v);
            } else
                vstore(ci, beta ? vadd(vload(ci), acc[i][0]) : acc[i][0]);
        } else {
            vstore(ci, beta ? vadd(vload(ci), acc[i][0]) : acc[i][0]);
            if (masked) {
                vf v = beta ? vadd(vloadm(ci + V, m), acc[i][1]) : acc[i][1];
                vstorem(ci + V, m, v);
            } else
                vstore(ci + V, beta ? vadd(vload(ci + V), acc[i][1]) : acc[i][1]);
        }
    }
}

/* mr rows of C (mr <= MR), columns [j, j + width) with width <= 2V. */
INLINE void tile_cols(int mr, int width, int k, const float *a, long ars, long acs,
                      const float *b, long ldb, int beta, float *c, long ldc)
{
    int nv = width > V ? 2 : 1, rem = width - (nv - 1) * V;
    vmask m = vmask_of(rem);
#define KT(R)                                                                              \
    case R:                                                                                \
        if (nv == 2 && rem == V)                                                           \
            tile(R, 2, 0, m, k, a, ars, acs, b, ldb, beta, c, ldc);                        \
        else if (nv == 2)                                                                  \
            tile(R, 2, 1, m, k, a, ars, acs, b, ldb, beta, c, ldc);                        \
        else if (rem == V)                                                                 \
            tile(R, 1, 0, m, k, a, ars, acs, b, ldb, beta, c, ldc);                        \
        else                                                                               \
            tile(R, 1, 1, m, k, a, ars, acs, b, ldb, beta, c, ldc);                        \
        break;
    switch (mr) {
        KT(1)
        KT(2)
        KT(3)
        KT(4)
        KT(5)
        KT(6)
#if MR > 6
        KT(7)
        KT(8)
#endif
    }
#undef KT
}

static void KNAME(gemm_)(int m, int n, int k, const float *a, long ars, long acs,
                         const float *b, long ldb, int beta, float *c, long ldc)
{
    if (k <= 0) {
        if (!beta)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                    c[(long)i * ldc + j] = 0.0f;
        return;
    }
    /* k in blocks that keep a few hundred rows of A and B in cache while every tile of C
     * sweeps them; rows of C outermost within a block, so A's rows are read once per block */
    for (int p0 = 0; p0 < k; p0 += NS_GEMM_KC) {
        int kc = k - p0 < NS_GEMM_KC ? k - p0 : NS_GEMM_KC;
        int bt = beta || p0 > 0;
        const float *ak = a + (long)p0 * acs, *bk = b + (long)p0 * ldb;
        for (int i = 0; i < m; i += MR) {
            int mr = m - i < MR ? m - i : MR;
            for (int j = 0; j < n; j += 2 * V) {
                int w = n - j < 2 * V ? n - j : 2 * V;
                tile_cols(mr, w, kc, ak + (long)i * ars, ars, acs, bk + j, ldb, bt,
                          c + (long)i * ldc + j, ldc);
            }
        }
    }
}

const struct ns_kernels KNAME(ns_kernels_) = {
    .name = KERN_NAME,
    .gemm = KNAME(gemm_),
};
