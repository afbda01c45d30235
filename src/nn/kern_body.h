/* The hot kernels' bodies (kern.h), included once per instruction-set path by kern_avx2.c
 * and kern_avx512.c, each compiled for its own -march. KERN_WIDTH (8 or 16 floats) picks
 * the vector type; KERN_SUFFIX names the table and KERN_NAME is the path's name. Not a header of its own: no include guard. */
#include <immintrin.h>
#include <string.h>

#include "nn/kern.h"

#if KERN_WIDTH == 16
typedef __m512 vf;
typedef __mmask16 vmask;
#define V 16
#define MR 8 /* rows of C per tile: 8 x 2 vectors = 16 accumulators of 32 registers */
#define MR1 16 /* rows per tile when C is one vector wide: 16 accumulators */
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
#define MR1 12 /* C one vector wide: 12 x 1 (6 chains of 4-cycle FMAs at 2 a cycle leave the
                * pipes a quarter idle; 12 keep them busy) */
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

/* Row i's partial last vector at p (its first lanes m; `gap` lanes past them), acc its sums.
 * AVX-512 stores it masked. AVX2's masked store is slow on AMD (Zen 3: ~5 ns, more than the
 * rest of a 4-column row of a small-k product), so on that path a row that is not the
 * tile's last (left: rows of the tile after it), when the gap's floats lie inside the tile's
 * rows (left * ldc >= gap), is stored whole, its gap lanes holding the bits they held: the
 * same C, read and written back by this thread (kern.h: no other thread writes C's rows
 * during the call). */
INLINE void store_part(vmask m, int left, int gap, long ldc, int beta, float *p, vf acc)
{
#if KERN_WIDTH == 8
    if (left * ldc >= gap) {
        vf old = vload(p);
        vstore(p, _mm256_blendv_ps(old, beta ? vadd(old, acc) : acc, _mm256_castsi256_ps(m)));
        return;
    }
#else
    (void)left, (void)gap, (void)ldc;
#endif
    vstorem(p, m, beta ? vadd(vloadm(p, m), acc) : acc);
}

/* One tile: rows [0, mr) of C, nv vectors of columns, the last one masked when `masked`
 * (gap: its lanes past the columns); mr <= MR, or <= MR1 when nv is 1. mr, nv and masked
 * are constants at every call site (the switch in tile_cols), so the accumulators live in
 * registers. */
INLINE void tile(const int mr, const int nv, const int masked, vmask m, int gap, int k,
                 const float *a, long ars, long acs, const float *b, long ldb, int beta,
                 float *c, long ldc)
{
    vf acc[MR1][2];
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
            if (masked)
                store_part(m, mr - 1 - i, gap, ldc, beta, ci, acc[i][0]);
            else
                vstore(ci, beta ? vadd(vload(ci), acc[i][0]) : acc[i][0]);
        } else {
            vstore(ci, beta ? vadd(vload(ci), acc[i][0]) : acc[i][0]);
            if (masked)
                store_part(m, mr - 1 - i, gap, ldc, beta, ci + V, acc[i][1]);
            else
                vstore(ci + V, beta ? vadd(vload(ci + V), acc[i][1]) : acc[i][1]);
        }
    }
}

/* mr rows of C (mr <= MR, or <= MR1 when width <= V), columns [j, j + width) with
 * width <= 2V. */
INLINE void tile_cols(int mr, int width, int k, const float *a, long ars, long acs,
                      const float *b, long ldb, int beta, float *c, long ldc)
{
    int nv = width > V ? 2 : 1, rem = width - (nv - 1) * V;
    vmask m = vmask_of(rem);
#define KT(R)                                                                              \
    case R:                                                                                \
        if (nv == 2 && rem == V)                                                           \
            tile(R, 2, 0, m, 0, k, a, ars, acs, b, ldb, beta, c, ldc);                     \
        else if (nv == 2)                                                                  \
            tile(R, 2, 1, m, V - rem, k, a, ars, acs, b, ldb, beta, c, ldc);               \
        else if (rem == V)                                                                 \
            tile(R, 1, 0, m, 0, k, a, ars, acs, b, ldb, beta, c, ldc);                     \
        else                                                                               \
            tile(R, 1, 1, m, V - rem, k, a, ars, acs, b, ldb, beta, c, ldc);               \
        break;
#define KT1(R) /* one vector wide only */                                                \
    case R:                                                                                \
        if (rem == V)                                                                      \
            tile(R, 1, 0, m, 0, k, a, ars, acs, b, ldb, beta, c, ldc);                     \
        else                                                                               \
            tile(R, 1, 1, m, V - rem, k, a, ars, acs, b, ldb, beta, c, ldc);               \
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
#else
        KT1(7)
        KT1(8)
#endif
        KT1(9)
        KT1(10)
        KT1(11)
        KT1(12)
#if MR1 > 12
        KT1(13)
        KT1(14)
        KT1(15)
        KT1(16)
#endif
    }
#undef KT
#undef KT1
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
        /* a tile's rows: MR1 when C is one vector wide and A's rows are short (or A is
         * transposed, its tile's values side by side): 12 rows of a long A are 12 streams
         * (a 56- or 96-wide A measured 5-8 % slower with them) */
        const int rows = n <= V && (ars == 1 || k <= 32) ? MR1 : MR;
        for (int i = 0; i < m; i += rows) {
            int mr = m - i < rows ? m - i : rows;
            for (int j = 0; j < n; j += 2 * V) {
                int w = n - j < 2 * V ? n - j : 2 * V;
                tile_cols(mr, w, kc, ak + (long)i * ars, ars, acs, bk + j, ldb, bt,
                          c + (long)i * ldc + j, ldc);
            }
        }
    }
}

#if KERN_WIDTH == 16
/* ---- grouped convolution on pixel pairs (kern.h: struct ns_g8_pairs) ------------------ */

/* np (1..8) pairs: sp[q] their sources, dp[q] their first pixels' outputs, two[q] whether
 * the partner is written. np is a constant at each call, so the accumulators are
 * registers; eight of them, as on the AVX2 path, keep the FMA pipes busy. */
INLINE void pairs(const int np, const struct ns_g8_pairs *jb, const float *const *sp,
                  float *const *dp, const int *two)
{
    vf a[8];
    vf init = jb->init ? vload(jb->init) : vzero();
#pragma GCC unroll 8
    for (int q = 0; q < np; q++)
        a[q] = init;
    for (int u = 0; u < jb->ntaps; u++) {
        const float *w = jb->w[u];
        const long xo = jb->xoff[u];
        for (int j = 0; j < jb->gin; j++) {
            vf wv = vload(w + 16 * j);
#pragma GCC unroll 8
            for (int q = 0; q < np; q++) {
                double xx; /* the pair's two floats, a 64-bit broadcast */
                memcpy(&xx, sp[q] + xo + 2 * j, sizeof xx);
                a[q] = vfma(_mm512_castpd_ps(_mm512_set1_pd(xx)), wv, a[q]);
            }
        }
    }
    /* lanes 2l and 2l + 1 are output channel l of the first pixel and of its partner */
    const __m512i split = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
#pragma GCC unroll 8
    for (int q = 0; q < np; q++) {
        vf v = _mm512_permutexvar_ps(split, a[q]);
        __m256 h[2] = {_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)};
        for (int e = 0; e < 1 + two[q]; e++) {
            float *d = dp[q] + e * jb->dnext;
            if (jb->acc)
                h[e] = _mm256_add_ps(h[e], _mm256_loadu_ps(d));
            if (jb->relu)
                h[e] = _mm256_max_ps(h[e], _mm256_setzero_ps());
            _mm256_storeu_ps(d, h[e]);
        }
    }
}

static void KNAME(g8_pairs_)(const struct ns_g8_pairs *jb)
{
    const int wd = (jb->cols + 1) / 2, n = jb->rows * wd;
    const float *sp[8];
    float *dp[8];
    int two[8];
    int p = 0;
    for (; p < n; p += 8) {
        int np = n - p < 8 ? n - p : 8;
        for (int q = 0; q < np; q++) {
            int r = (p + q) / wd, c = (p + q) % wd;
            sp[q] = jb->src + r * jb->sr + c * jb->sc;
            dp[q] = jb->dst + r * jb->dr + c * jb->dc;
            two[q] = 2 * c + 1 < jb->cols;
        }
        switch (np) {
        case 8: pairs(8, jb, sp, dp, two); break;
        case 7: pairs(7, jb, sp, dp, two); break;
        case 6: pairs(6, jb, sp, dp, two); break;
        case 5: pairs(5, jb, sp, dp, two); break;
        case 4: pairs(4, jb, sp, dp, two); break;
        case 3: pairs(3, jb, sp, dp, two); break;
        case 2: pairs(2, jb, sp, dp, two); break;
        default: pairs(1, jb, sp, dp, two); break;
        }
    }
}

static void KNAME(g8_wpairs_)(const struct ns_g8_wpairs *jb)
{
    /* dy's 8 channels doubled: lanes 2l and 2l + 1 both dy[l], against tap kw and kw + 1 */
    const __m512i twice = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    vf a[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        a[j] = vzero();
    for (int r = 0; r < jb->rows; r++) {
        const float *xr = jb->src + r * jb->sr, *dr = jb->dy + r * jb->dr;
        for (int c = 0; c < jb->cols; c++) {
            vf d = _mm512_permutexvar_ps(twice, _mm512_castps256_ps512(
                                                    _mm256_loadu_ps(dr + c * jb->dc)));
            const float *x = xr + c * jb->sc;
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) {
                double xx;
                memcpy(&xx, x + 2 * j, sizeof xx);
                a[j] = vfma(_mm512_castpd_ps(_mm512_set1_pd(xx)), d, a[j]);
            }
        }
    }
    const __m512i split = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) {
        vf v = _mm512_permutexvar_ps(split, a[j]);
        float *p0 = jb->part0 + j * jb->pj;
        _mm256_storeu_ps(p0, _mm256_add_ps(_mm256_loadu_ps(p0), _mm512_castps512_ps256(v)));
        if (jb->part1) {
            float *p1 = jb->part1 + j * jb->pj;
            _mm256_storeu_ps(p1, _mm256_add_ps(_mm256_loadu_ps(p1), _mm512_extractf32x8_ps(v, 1)));
        }
    }
}
#endif

const struct ns_kernels KNAME(ns_kernels_) = {
    .name = KERN_NAME,
    .gemm = KNAME(gemm_),
#if KERN_WIDTH == 16
    .g8_pairs = KNAME(g8_pairs_),
    .g8_wpairs = KNAME(g8_wpairs_),
#else
    .g8_pairs = NULL,
    .g8_wpairs = NULL,
#endif
};
