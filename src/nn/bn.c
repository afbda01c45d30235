/* Batch norm over NHWC tensors viewed as (m, c), with an optional fused ReLU.
 * Statistics are accumulated in double per thread over static row ranges and combined in
 * thread order (deterministic for a thread count); the backward recomputes x_hat from x,
 * mean and rstd instead of caching it. */
#include "nn/ops.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define BN_MOMENTUM 0.1

size_t ns_bn_scratch(const struct ns_bn *b, int nth)
{
    /* two doubles per channel per thread, plus two doubles per channel of totals */
    return (size_t)(nth + 1) * 4 * b->c;
}

struct bn_ctx {
    const struct ns_bn *b;
    size_t m;
    const float *x, *y, *dy, *gamma, *beta, *mean, *rstd;
    float *out, *dx;
    double *parts;
    const float *scale, *shift; /* per channel: y = x*scale + shift (forward) */
    const float *aff;           /* backward: the forward's scale, shift (NULL: mask from y) */
    int acc;
};

/* Rows are summed in float over short runs (vectorized over channels, exact enough for 64
 * values) and the run totals in double, so long reductions keep their precision. The sums
 * are of x - K with K the running mean: var = E[(x-K)^2] - E[x-K]^2 does not cancel
 * catastrophically when a channel's mean is large against its spread. */
#define RUN 64

/* ---- the C % 8 == 0 paths (every RegNet width) --------------------------------------------
 * AVX2 (the build's baseline), 8 channels a vector. Each element gets the scalar loops'
 * operations in their order (no contraction: C11 compiles a*b + c as two roundings), so the
 * bits are the scalar code's; what changes is the per-row loop overhead, which at 16-56
 * channels was most of the time, and the run sums stay in registers. */
#define INLINE static inline __attribute__((always_inline))
#define VW 8
#define MAXV 4 /* vectors a block: 32 channels */

/* how the backward masks dy: no ReLU, the ReLU from x*scale + shift, or from y */
enum { MASK_NONE, MASK_AFF, MASK_Y };

INLINE __m256 masked_dy(int mode, __m256 x, const float *dy, const float *y, const float *sc,
                        const float *sh, int o)
{
    __m256 d = _mm256_loadu_ps(dy + o);
    if (mode == MASK_AFF) {
        __m256 v = _mm256_add_ps(_mm256_mul_ps(x, _mm256_loadu_ps(sc + o)), _mm256_loadu_ps(sh + o));
        return _mm256_and_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ), d);
    }
    if (mode == MASK_Y)
        return _mm256_and_ps(
            _mm256_cmp_ps(_mm256_loadu_ps(y + o), _mm256_setzero_ps(), _CMP_GT_OQ), d);
    return d;
}

/* Sums over `rows` rows (stride C) of nv vectors from column 0 of x: fs = sum of x - K,
 * fs2 = sum of (x - K)^2. */
INLINE void stats_blk(int nv, const float *x, size_t C, int rows, const float *K, float *fs,
                      float *fs2)
{
    __m256 a[MAXV], b[MAXV];
    for (int j = 0; j < nv; j++)
        a[j] = b[j] = _mm256_setzero_ps();
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < nv; j++) {
            const float *xi = x + (size_t)i * C;
            __m256 v = _mm256_sub_ps(_mm256_loadu_ps(xi + j * VW), _mm256_loadu_ps(K + j * VW));
            a[j] = _mm256_add_ps(a[j], v);
            b[j] = _mm256_add_ps(b[j], _mm256_mul_ps(v, v));
        }
    for (int j = 0; j < nv; j++) {
        _mm256_storeu_ps(fs + j * VW, a[j]);
        _mm256_storeu_ps(fs2 + j * VW, b[j]);
    }
}

/* fs = sum of g, fsx = sum of g * (x - mean) over `rows` rows, g = dy masked (mode). */
INLINE void sums_blk(int mode, int nv, const float *x, const float *dy, const float *y,
                     size_t C, int rows, const float *sc, const float *sh, const float *mean,
                     float *fs, float *fsx)
{
    __m256 a[MAXV], b[MAXV];
    for (int j = 0; j < nv; j++)
        a[j] = b[j] = _mm256_setzero_ps();
    for (int i = 0; i < rows; i++) {
        size_t r = (size_t)i * C; /* indexed, not stepped: no pointer past the array's end */
        const float *xi = x + r, *dyi = dy + r, *yi = mode == MASK_Y ? y + r : NULL;
        for (int j = 0; j < nv; j++) {
            int o = j * VW;
            __m256 xv = _mm256_loadu_ps(xi + o);
            __m256 g = masked_dy(mode, xv, dyi, yi, sc, sh, o);
            a[j] = _mm256_add_ps(a[j], g);
            b[j] = _mm256_add_ps(b[j], _mm256_mul_ps(g, _mm256_sub_ps(xv, _mm256_loadu_ps(mean + o))));
        }
    }
    for (int j = 0; j < nv; j++) {
        _mm256_storeu_ps(fs + j * VW, a[j]);
        _mm256_storeu_ps(fsx + j * VW, b[j]);
    }
}

/* `rows` rows (row stride C) of `width` channels (a multiple of 8) through stats_blk, or
 * sums_blk when `sums`, into fs/fs2 (width floats each). */
INLINE void run_blocks(int mode, const float *x, const float *dy, const float *y, size_t C,
                       size_t width, int rows, const float *K, const float *sc, const float *sh,
                       float *fs, float *fs2, int sums)
{
    for (size_t c0 = 0; c0 < width;) {
        int nv = (int)((width - c0) / VW < MAXV ? (width - c0) / VW : MAXV);
#define BLK(n)                                                                                 \
    case n:                                                                                    \
        if (sums)                                                                              \
            sums_blk(mode, n, x + c0, dy + c0, y ? y + c0 : NULL, C, rows, sc ? sc + c0 : NULL, \
                     sh ? sh + c0 : NULL, K + c0, fs + c0, fs2 + c0);                          \
        else                                                                                   \
            stats_blk(n, x + c0, C, rows, K + c0, fs + c0, fs2 + c0);                          \
        break;
        switch (nv) {
            BLK(1)
            BLK(2)
            BLK(3)
            BLK(4)
        }
#undef BLK
        c0 += (size_t)nv * VW;
    }
}

static void stats_task(void *vp, int ith, int nth)
{
    struct bn_ctx *t = vp;
    int C = t->b->c, lo, hi;
    ns_split((int)t->m, ith, nth, &lo, &hi);
    double *s = t->parts + (size_t)ith * 2 * C, *s2 = s + C;
    memset(s, 0, sizeof(double) * 2 * C);
    float fs[512], fs2[512];
    for (int c0 = 0; c0 < C; c0 += 512) {
        int cn = C - c0 < 512 ? C - c0 : 512;
        for (int r0 = lo; r0 < hi; r0 += RUN) {
            int r1 = r0 + RUN < hi ? r0 + RUN : hi;
            const float *restrict K = t->mean + c0;
            if (C % VW == 0 && C <= 2 * MAXV * VW) {
                run_blocks(MASK_NONE, t->x + (size_t)r0 * C + c0, NULL, NULL, (size_t)C,
                           (size_t)cn, r1 - r0, K, NULL, NULL, fs, fs2, 0);
            } else {
                memset(fs, 0, sizeof(float) * cn);
                memset(fs2, 0, sizeof(float) * cn);
                for (int i = r0; i < r1; i++) {
                    const float *restrict x = t->x + (size_t)i * C + c0;
                    for (int c = 0; c < cn; c++) {
                        float v = x[c] - K[c];
                        fs[c] += v;
                        fs2[c] += v * v;
                    }
                }
            }
            for (int c = 0; c < cn; c++) {
                s[c0 + c] += fs[c];
                s2[c0 + c] += fs2[c];
            }
        }
    }
}

static void affine_task(void *vp, int ith, int nth)
{
    struct bn_ctx *t = vp;
    int C = t->b->c, lo, hi, relu = t->b->relu;
    ns_split((int)t->m, ith, nth, &lo, &hi);
    if (C % VW == 0) {
        __m256 z = _mm256_setzero_ps();
        for (int i = lo; i < hi; i++) {
            const float *x = t->x + (size_t)i * C;
            float *y = t->out + (size_t)i * C;
            for (int c = 0; c < C; c += VW) {
                __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + c),
                                                       _mm256_loadu_ps(t->scale + c)),
                                         _mm256_loadu_ps(t->shift + c));
                if (relu) /* v < 0 ? 0 : v, as below (-0 and NaN pass) */
                    v = _mm256_andnot_ps(_mm256_cmp_ps(v, z, _CMP_LT_OQ), v);
                _mm256_storeu_ps(y + c, v);
            }
        }
        return;
    }
    for (int i = lo; i < hi; i++) {
        const float *restrict x = t->x + (size_t)i * C;
        float *restrict y = t->out + (size_t)i * C;
        for (int c = 0; c < C; c++) {
            float v = x[c] * t->scale[c] + t->shift[c];
            y[c] = relu && v < 0 ? 0.0f : v;
        }
    }
}

/* Combine partial sums in thread order. */
static void combine(double *parts, int nth, int C)
{
    double *tot = parts + (size_t)nth * 2 * C;
    memset(tot, 0, sizeof(double) * 2 * C);
    for (int t = 0; t < nth; t++)
        for (int c = 0; c < 2 * C; c++)
            tot[c] += parts[(size_t)t * 2 * C + c];
}

void ns_bn_forward_train(struct ns_pool *p, const struct ns_bn *b, int n, const float *x,
                         const float *gamma, const float *beta, float *run_mean,
                         float *run_var, float *mean, float *rstd, float *affine, float *y,
                         float *scratch)
{
    int nth = ns_pool_size(p), C = b->c;
    size_t m = (size_t)n * b->m_per_image;
    struct bn_ctx t = {.b = b, .m = m, .x = x, .out = y, .parts = (double *)scratch,
                       .mean = run_mean};
    ns_pool_run(p, stats_task, &t);
    combine(t.parts, nth, C);
    double *tot = t.parts + (size_t)nth * 2 * C;
    /* scale/shift go to the cache, or reuse the first thread's partial area (no longer
     * needed) as floats */
    float *scale = affine ? affine : scratch, *shift = scale + C;
    for (int c = 0; c < C; c++) {
        double d = tot[c] / (double)m; /* mean of x - K */
        double var = tot[C + c] / (double)m - d * d;
        double mu = run_mean[c] + d;
        if (var < 0)
            var = 0;
        double rs = 1.0 / sqrt(var + NS_BN_EPS);
        mean[c] = (float)mu;
        rstd[c] = (float)rs;
        double unbiased = m > 1 ? var * (double)m / (double)(m - 1) : var;
        run_mean[c] = (float)((1 - BN_MOMENTUM) * run_mean[c] + BN_MOMENTUM * mu);
        run_var[c] = (float)((1 - BN_MOMENTUM) * run_var[c] + BN_MOMENTUM * unbiased);
        scale[c] = (float)(gamma[c] * rs);
        shift[c] = (float)(beta[c] - mu * gamma[c] * rs);
    }
    t.scale = scale;
    t.shift = shift;
    ns_pool_run(p, affine_task, &t);
}

void ns_bn_forward_eval(struct ns_pool *p, const struct ns_bn *b, int n, const float *x,
                        const float *gamma, const float *beta, const float *run_mean,
                        const float *run_var, float *y)
{
    int C = b->c;
    /* Small: per-call stack arrays would be variable-length; use a bounded loop instead. */
    float scale[1024], shift[1024];
    struct bn_ctx t = {.b = b, .m = (size_t)n * b->m_per_image, .x = x, .out = y};
    for (int c0 = 0; c0 < C; c0 += 1024) {
        int cn = C - c0 < 1024 ? C - c0 : 1024;
        for (int c = 0; c < cn; c++) {
            double rs = 1.0 / sqrt((double)run_var[c0 + c] + NS_BN_EPS);
            scale[c] = (float)(gamma[c0 + c] * rs);
            shift[c] = (float)(beta[c0 + c] - run_mean[c0 + c] * gamma[c0 + c] * rs);
        }
        if (cn == C) {
            t.scale = scale;
            t.shift = shift;
            ns_pool_run(p, affine_task, &t);
            return;
        }
        /* very wide layers: channel chunks, row by row (rare; correctness over speed) */
        size_t m = (size_t)n * b->m_per_image;
        for (size_t i = 0; i < m; i++)
            for (int c = 0; c < cn; c++) {
                float v = x[i * C + c0 + c] * scale[c] + shift[c];
                y[i * C + c0 + c] = b->relu && v < 0 ? 0.0f : v;
            }
    }
}

/* Sums of g and g*(x - mean) per channel, g = dy masked by the ReLU; x_hat = (x-mean)*rstd
 * is applied to the total afterwards. */
static void bwd_sums_task(void *vp, int ith, int nth)
{
    struct bn_ctx *t = vp;
    int C = t->b->c, lo, hi, relu = t->b->relu;
    ns_split((int)t->m, ith, nth, &lo, &hi);
    double *s = t->parts + (size_t)ith * 2 * C, *sx = s + C;
    memset(s, 0, sizeof(double) * 2 * C);
    float fs[512], fsx[512];
    for (int c0 = 0; c0 < C; c0 += 512) {
        int cn = C - c0 < 512 ? C - c0 : 512;
        const float *restrict mean = t->mean + c0;
        for (int r0 = lo; r0 < hi; r0 += RUN) {
            int r1 = r0 + RUN < hi ? r0 + RUN : hi;
            const float *restrict sc = t->aff ? t->aff + c0 : NULL;
            const float *restrict sh = t->aff ? t->aff + C + c0 : NULL;
            if (C % VW == 0) {
                const float *x = t->x + (size_t)r0 * C + c0, *dy = t->dy + (size_t)r0 * C + c0;
                size_t ld = (size_t)C, w = (size_t)cn;
                int rows = r1 - r0;
                if (relu && sc)
                    run_blocks(MASK_AFF, x, dy, NULL, ld, w, rows, mean, sc, sh, fs, fsx, 1);
                else if (relu)
                    run_blocks(MASK_Y, x, dy, t->y + (size_t)r0 * C + c0, ld, w, rows, mean, NULL,
                               NULL, fs, fsx, 1);
                else
                    run_blocks(MASK_NONE, x, dy, NULL, ld, w, rows, mean, NULL, NULL, fs, fsx, 1);
            } else {
            memset(fs, 0, sizeof(float) * cn);
            memset(fsx, 0, sizeof(float) * cn);
            for (int i = r0; i < r1; i++) {
                const float *restrict x = t->x + (size_t)i * C + c0;
                const float *restrict dy = t->dy + (size_t)i * C + c0;
                if (relu && sc)
                    for (int c = 0; c < cn; c++) {
                        float g = x[c] * sc[c] + sh[c] > 0 ? dy[c] : 0.0f;
                        fs[c] += g;
                        fsx[c] += g * (x[c] - mean[c]);
                    }
                else if (relu) {
                    const float *restrict y = t->y + (size_t)i * C + c0;
                    for (int c = 0; c < cn; c++) {
                        float g = y[c] > 0 ? dy[c] : 0.0f;
                        fs[c] += g;
                        fsx[c] += g * (x[c] - mean[c]);
                    }
                } else
                    for (int c = 0; c < cn; c++) {
                        fs[c] += dy[c];
                        fsx[c] += dy[c] * (x[c] - mean[c]);
                    }
            }
            }
            for (int c = 0; c < cn; c++) {
                s[c0 + c] += fs[c];
                sx[c0 + c] += (double)fsx[c] * t->rstd[c0 + c];
            }
        }
    }
}

/* bwd_dx_task's rows [lo, hi) of channels [c0, c0 + cn), cn a multiple of 8: dx (+)= k*g +
 * a + x*bc, each element as the scalar loop computes it. */
INLINE void dx_rows(int mode, const struct bn_ctx *t, int lo, int hi, int c0, int cn,
                    const float *kk, const float *a, const float *bc, const float *sc,
                    const float *sh)
{
    size_t C = (size_t)t->b->c;
    for (int i = lo; i < hi; i++) {
        size_t r = (size_t)i * C + (size_t)c0;
        const float *x = t->x + r, *dy = t->dy + r, *y = mode == MASK_Y ? t->y + r : NULL;
        float *dx = t->dx + r;
        for (int c = 0; c < cn; c += VW) {
            __m256 xv = _mm256_loadu_ps(x + c);
            __m256 g = masked_dy(mode, xv, dy, y, sc, sh, c);
            __m256 v = _mm256_add_ps(
                _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(kk + c), g), _mm256_loadu_ps(a + c)),
                _mm256_mul_ps(xv, _mm256_loadu_ps(bc + c)));
            if (t->acc)
                v = _mm256_add_ps(_mm256_loadu_ps(dx + c), v);
            _mm256_storeu_ps(dx + c, v);
        }
    }
}

static void bwd_dx_task(void *vp, int ith, int nth)
{
    struct bn_ctx *t = vp;
    int C = t->b->c, lo, hi, relu = t->b->relu, acc = t->acc;
    ns_split((int)t->m, ith, nth, &lo, &hi);
    /* dx = k*(g - mean(g) - x_hat*mean(g*x_hat)) with k = gamma*rstd, written as
     * k*g + a + x*bcoef per channel: a = -k*(mean(g) - mean*rstd*mgx), bcoef = -k*rstd*mgx */
    const float *k = t->scale, *mg = t->shift, *mgx = t->beta;
    float a[512], bc[512];
    for (int c0 = 0; c0 < C; c0 += 512) {
        int cn = C - c0 < 512 ? C - c0 : 512;
        for (int c = 0; c < cn; c++) {
            float kc = k[c0 + c], rs = t->rstd[c0 + c];
            bc[c] = -kc * rs * mgx[c0 + c];
            a[c] = -kc * mg[c0 + c] - bc[c] * t->mean[c0 + c];
        }
        const float *restrict kk = k + c0;
        const float *restrict sc = t->aff ? t->aff + c0 : NULL;
        const float *restrict sh = t->aff ? t->aff + C + c0 : NULL;
        if (C % VW == 0) {
            int mode = !relu ? MASK_NONE : sc ? MASK_AFF : MASK_Y;
            if (mode == MASK_AFF)
                dx_rows(MASK_AFF, t, lo, hi, c0, cn, kk, a, bc, sc, sh);
            else if (mode == MASK_Y)
                dx_rows(MASK_Y, t, lo, hi, c0, cn, kk, a, bc, NULL, NULL);
            else
                dx_rows(MASK_NONE, t, lo, hi, c0, cn, kk, a, bc, NULL, NULL);
            continue;
        }
        for (int i = lo; i < hi; i++) {
            const float *restrict x = t->x + (size_t)i * C + c0;
            const float *restrict dy = t->dy + (size_t)i * C + c0;
            float *restrict dx = t->dx + (size_t)i * C + c0;
            if (relu && sc)
                for (int c = 0; c < cn; c++) {
                    float g = x[c] * sc[c] + sh[c] > 0 ? dy[c] : 0.0f;
                    float v = kk[c] * g + a[c] + x[c] * bc[c];
                    dx[c] = acc ? dx[c] + v : v;
                }
            else {
                const float *restrict y = t->y + (size_t)i * C + c0;
                for (int c = 0; c < cn; c++) {
                    float g = relu && !(y[c] > 0) ? 0.0f : dy[c];
                    float v = kk[c] * g + a[c] + x[c] * bc[c];
                    dx[c] = acc ? dx[c] + v : v;
                }
            }
        }
    }
}

void ns_bn_backward(struct ns_pool *p, const struct ns_bn *b, int n, const float *x,
                    const float *y, const float *gamma, const float *mean, const float *rstd,
                    const float *affine, const float *dy, float *dx, int acc, float *dgamma,
                    float *dbeta, float *scratch)
{
    int nth = ns_pool_size(p), C = b->c;
    size_t m = (size_t)n * b->m_per_image;
    struct bn_ctx t = {.b = b, .m = m, .x = x, .y = y, .dy = dy, .mean = mean, .rstd = rstd,
                       .dx = dx, .acc = acc, .parts = (double *)scratch, .aff = affine};
    ns_pool_run(p, bwd_sums_task, &t);
    combine(t.parts, nth, C);
    double *tot = t.parts + (size_t)nth * 2 * C;
    float *k = scratch, *mg = scratch + C, *mgx = scratch + 2 * C;
    for (int c = 0; c < C; c++) {
        dbeta[c] += (float)tot[c];
        dgamma[c] += (float)tot[C + c];
        k[c] = gamma[c] * rstd[c];
        mg[c] = (float)(tot[c] / (double)m);
        mgx[c] = (float)(tot[C + c] / (double)m);
    }
    if (!dx)
        return;
    t.scale = k;
    t.shift = mg;
    t.beta = mgx;
    ns_pool_run(p, bwd_dx_task, &t);
}
