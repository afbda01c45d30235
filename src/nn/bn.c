/* Batch norm over NHWC tensors viewed as (m, c), with an optional fused ReLU.
 * Statistics are accumulated in double per thread over static row ranges and combined in
 * thread order (deterministic for a thread count); the backward recomputes x_hat from x,
 * mean and rstd instead of caching it. */
#include "nn/ops.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define BN_MOMENTUM 0.1

struct bn_ctx {
    const struct ns_bn *b;
    size_t m;
    const float *x, *y, *dy, *gamma, *beta, *mean, *rstd;
    float *out, *dx;
    double *parts;
    const float *scale, *shift; /* per channel: y = x*scale + shift (forward) */
    const float *aff;           /* backward: the forward's scale, shift (NULL: mask from y) */
    const float *skip;          /* ns_bn_add_forward: the tensor the affine's output is added to */
    int acc, add_relu;
    const struct ns_bn_dx *dxc; /* backward: the dx pass's coefficients */
};

/* Rows are summed in float over short runs (vectorized over channels, exact enough for 64
 * values) and the run totals in double, so long reductions keep their precision. The sums
 * are of x - K with K the running mean: var = E[(x-K)^2] - E[x-K]^2 does not cancel
 * catastrophically when a channel's mean is large against its spread. */
#define RUN 64

/* ---- the vector paths (every channel count; the plain loops below are their reference) ----
 * AVX2 (the build's baseline), 8 channels a vector, the last one masked when the count is
 * not a multiple of 8. Each element gets the plain loops' operations in their order (no
 * contraction: C11 compiles a*b + c as two roundings), so the bits are the plain code's;
 * what changes is the per-row loop overhead, which at 16-56 channels was most of the time,
 * the branch the plain loops' ReLU mask compiles to, and the run sums stay in registers. */
#define INLINE static inline __attribute__((always_inline))
#define VW 8
#define MAXV 4 /* vectors a block: 32 channels */

/* how the backward masks dy: no ReLU, the ReLU from x*scale + shift, or from y */
enum { MASK_NONE, MASK_AFF, MASK_Y };

/* Channel counts that are not a multiple of 8 end in a partial vector: its loads and stores
 * are masked to the first C % 8 lanes (masked lanes read nothing and sum zeros), so every
 * count takes these paths. `last` (a constant where these are inlined) says whether the
 * vector at hand is that partial one. */
INLINE __m256i lanes_below(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

INLINE __m256 ld(int last, __m256i m, const float *p)
{
    return last ? _mm256_maskload_ps(p, m) : _mm256_loadu_ps(p);
}

INLINE void st(int last, __m256i m, float *p, __m256 v)
{
    if (last)
        _mm256_maskstore_ps(p, m, v);
    else
        _mm256_storeu_ps(p, v);
}

/* ---- the flat passes: the elementwise passes over the tensor as one array ----
 * A row whose channel count is not a multiple of 8 ends in a masked store, and AVX2's masked
 * store is slow on AMD (Zen 3: ~5 ns, so a pass over 100,352 rows of 4 channels took 0.5 ms
 * where unmasked stores take 0.05). Rows are contiguous, so the elementwise passes (the
 * affine, the affine with the add, dx) walk a thread's rows as one array, 8 floats at a time
 * across row ends, and read the per-channel constants from strips: strip[q] = v[q % C] for
 * q < L + 8, L = lcm(C, 8), so the vector k floats past a row's start reads strip + k % L
 * (a phase that steps by 8 and wraps at L). Each element gets the operations of the row
 * form, so the bits are the same; only a thread's last vector is masked. Counts that are
 * multiples of 8 keep the row form (no masked stores there), and so do counts above
 * FLAT_MAX (the strips live on the stack). */
#define FLAT_MAX 512
#define STRIP (8 * FLAT_MAX + VW)

INLINE int flat_form(int C) { return C % VW != 0 && C <= FLAT_MAX; }

/* v's strip of period L in s (STRIP floats); NULL for a NULL v */
static const float *strip(const float *v, int C, int L, float *s)
{
    if (!v)
        return NULL;
    for (int q = 0; q < L + VW; q++)
        s[q] = v[q % C];
    return s;
}

INLINE __m256 masked_dy(int mode, int last, __m256i m, __m256 x, const float *dy,
                        const float *y, const float *sc, const float *sh, int o)
{
    __m256 d = ld(last, m, dy + o);
    if (mode == MASK_AFF) {
        __m256 v = _mm256_add_ps(_mm256_mul_ps(x, ld(last, m, sc + o)), ld(last, m, sh + o));
        return _mm256_and_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ), d);
    }
    if (mode == MASK_Y)
        return _mm256_and_ps(
            _mm256_cmp_ps(ld(last, m, y + o), _mm256_setzero_ps(), _CMP_GT_OQ), d);
    return d;
}

/* Sums over `rows` rows (stride C) of nv vectors from column 0 of x, the last one partial
 * (lanes m) when `part`: fs = sum of x - K, fs2 = sum of (x - K)^2 (all nv vectors stored;
 * the partial one's masked lanes are 0). */
INLINE void stats_blk(int nv, int part, __m256i m, const float *x, size_t C, int rows,
                      const float *K, float *fs, float *fs2)
{
    __m256 a[MAXV], b[MAXV];
    for (int j = 0; j < nv; j++)
        a[j] = b[j] = _mm256_setzero_ps();
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < nv; j++) {
            int last = part && j == nv - 1;
            const float *xi = x + (size_t)i * C;
            __m256 v = _mm256_sub_ps(ld(last, m, xi + j * VW), ld(last, m, K + j * VW));
            a[j] = _mm256_add_ps(a[j], v);
            b[j] = _mm256_add_ps(b[j], _mm256_mul_ps(v, v));
        }
    for (int j = 0; j < nv; j++) {
        _mm256_storeu_ps(fs + j * VW, a[j]);
        _mm256_storeu_ps(fs2 + j * VW, b[j]);
    }
}

/* fs = sum of g, fsx = sum of g * (x - mean) over `rows` rows, g = dy masked (mode). */
INLINE void sums_blk(int mode, int nv, int part, __m256i m, const float *x, const float *dy,
                     const float *y, size_t C, int rows, const float *sc, const float *sh,
                     const float *mean, float *fs, float *fsx)
{
    __m256 a[MAXV], b[MAXV];
    for (int j = 0; j < nv; j++)
        a[j] = b[j] = _mm256_setzero_ps();
    for (int i = 0; i < rows; i++) {
        size_t r = (size_t)i * C; /* indexed, not stepped: no pointer past the array's end */
        const float *xi = x + r, *dyi = dy + r, *yi = mode == MASK_Y ? y + r : NULL;
        for (int j = 0; j < nv; j++) {
            int o = j * VW, last = part && j == nv - 1;
            __m256 xv = ld(last, m, xi + o);
            __m256 g = masked_dy(mode, last, m, xv, dyi, yi, sc, sh, o);
            a[j] = _mm256_add_ps(a[j], g);
            b[j] = _mm256_add_ps(b[j], _mm256_mul_ps(g, _mm256_sub_ps(xv, ld(last, m, mean + o))));
        }
    }
    for (int j = 0; j < nv; j++) {
        _mm256_storeu_ps(fs + j * VW, a[j]);
        _mm256_storeu_ps(fsx + j * VW, b[j]);
    }
}

/* `rows` rows (row stride C) of `width` channels through stats_blk, or sums_blk when `sums`,
 * into fs/fs2 (width rounded up to 8 floats each). */
INLINE void run_blocks(int mode, const float *x, const float *dy, const float *y, size_t C,
                       size_t width, int rows, const float *K, const float *sc, const float *sh,
                       float *fs, float *fs2, int sums)
{
    const __m256i m = lanes_below((int)(width % VW));
    for (size_t c0 = 0; c0 < width;) {
        size_t left = (width - c0 + VW - 1) / VW; /* vectors left, the partial one included */
        int nv = (int)(left < MAXV ? left : MAXV), part = c0 + (size_t)nv * VW > width;
#define BLK(n, p)                                                                              \
    if (sums)                                                                                  \
        sums_blk(mode, n, p, m, x + c0, dy + c0, y ? y + c0 : NULL, C, rows,                   \
                 sc ? sc + c0 : NULL, sh ? sh + c0 : NULL, K + c0, fs + c0, fs2 + c0);         \
    else                                                                                       \
        stats_blk(n, p, m, x + c0, C, rows, K + c0, fs + c0, fs2 + c0);                        \
    break;
        switch (nv * 2 + part) {
        case 2: BLK(1, 0)
        case 3: BLK(1, 1)
        case 4: BLK(2, 0)
        case 5: BLK(2, 1)
        case 6: BLK(3, 0)
        case 7: BLK(3, 1)
        case 8: BLK(4, 0)
        case 9: BLK(4, 1)
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
            if (!t->b->plain && C <= 2 * MAXV * VW) {
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

/* y = x*scale + shift (then v < 0 ? 0 : v when relu, as the plain loop: -0 and NaN pass)
 * for one vector of row x. */
INLINE void affine_vec(int last, __m256i m, int relu, const float *x, const float *sc,
                       const float *sh, float *y)
{
    __m256 v = _mm256_add_ps(_mm256_mul_ps(ld(last, m, x), ld(last, m, sc)), ld(last, m, sh));
    if (relu)
        v = _mm256_andnot_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ), v);
    st(last, m, y, v);
}

/* out = (x*scale + shift) + skip, then v > 0 ? v : 0 when relu (the ADD's ReLU: -0 and NaN
 * become 0), for one vector: BN's affine and the residual add in one pass, each value
 * rounded as affine_vec and then the add's loop round it. (Addition commutes, so the ADD's
 * operand order does not matter, but for which payload a sum of two NaNs keeps: the
 * compiler orders a commutative add as it likes, in ns_add_forward as here.) */
INLINE void affine_add_vec(int last, __m256i m, int relu, const float *x, const float *sc,
                           const float *sh, const float *skip, float *out)
{
    __m256 v = _mm256_add_ps(_mm256_mul_ps(ld(last, m, x), ld(last, m, sc)), ld(last, m, sh));
    v = _mm256_add_ps(v, ld(last, m, skip));
    if (relu)
        v = _mm256_and_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ), v);
    st(last, m, out, v);
}

/* The flat form (flat_form) of affine_task's rows [lo, hi), or of affine_add_task's when
 * add (a constant at each call). */
INLINE void affine_flat(const struct bn_ctx *t, int lo, int hi, int relu, const int add)
{
    const int C = t->b->c, L = ns_strip_period(C);
    float s0[STRIP], s1[STRIP];
    const float *sc = strip(t->scale, C, L, s0), *sh = strip(t->shift, C, L, s1);
    size_t k = (size_t)lo * C, end = (size_t)hi * C;
    int ph = 0; /* k is at a row's start: channel 0 */
#define AFFINE(last, m)                                                                        \
    (add ? affine_add_vec(last, m, relu, t->x + k, sc + ph, sh + ph, t->skip + k, t->out + k)  \
         : affine_vec(last, m, relu, t->x + k, sc + ph, sh + ph, t->out + k))
    for (; k + VW <= end; k += VW) {
        AFFINE(0, lanes_below(0));
        if ((ph += VW) >= L)
            ph -= L;
    }
    if (k < end)
        AFFINE(1, lanes_below((int)(end - k)));
#undef AFFINE
}

static void affine_task(void *vp, int ith, int nth)
{
    struct bn_ctx *t = vp;
    int C = t->b->c, lo, hi, relu = t->b->relu;
    ns_split((int)t->m, ith, nth, &lo, &hi);
    if (!t->b->plain && flat_form(C)) {
        affine_flat(t, lo, hi, relu, 0);
        return;
    }
    if (!t->b->plain) {
        const int full = C / VW * VW;
        const __m256i m = lanes_below(C % VW);
        for (int i = lo; i < hi; i++) {
            const float *x = t->x + (size_t)i * C;
            float *y = t->out + (size_t)i * C;
            for (int c = 0; c < full; c += VW)
                affine_vec(0, m, relu, x + c, t->scale + c, t->shift + c, y + c);
            if (full < C)
                affine_vec(1, m, relu, x + full, t->scale + full, t->shift + full, y + full);
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

static void affine_add_task(void *vp, int ith, int nth)
{
    struct bn_ctx *t = vp;
    int C = t->b->c, lo, hi, relu = t->add_relu;
    ns_split((int)t->m, ith, nth, &lo, &hi);
    if (!t->b->plain && flat_form(C)) {
        affine_flat(t, lo, hi, relu, 1);
        return;
    }
    if (!t->b->plain) {
        const int full = C / VW * VW;
        const __m256i m = lanes_below(C % VW);
        for (int i = lo; i < hi; i++) {
            size_t r = (size_t)i * C;
            for (int c = 0; c < full; c += VW)
                affine_add_vec(0, m, relu, t->x + r + c, t->scale + c, t->shift + c,
                               t->skip + r + c, t->out + r + c);
            if (full < C)
                affine_add_vec(1, m, relu, t->x + r + full, t->scale + full, t->shift + full,
                               t->skip + r + full, t->out + r + full);
        }
        return;
    }
    for (int i = lo; i < hi; i++) {
        const float *restrict x = t->x + (size_t)i * C, *restrict s = t->skip + (size_t)i * C;
        float *restrict out = t->out + (size_t)i * C;
        for (int c = 0; c < C; c++) {
            float v = x[c] * t->scale[c] + t->shift[c];
            v = v + s[c];
            out[c] = !relu || v > 0 ? v : 0.0f;
        }
    }
}

void ns_bn_add_forward(struct ns_pool *p, const struct ns_bn *b, int n, const float *x,
                       const float *affine, const float *skip, int relu, float *out)
{
    struct bn_ctx t = {.b = b, .m = (size_t)n * b->m_per_image, .x = x, .out = out,
                       .scale = affine, .shift = affine + b->c, .skip = skip, .add_relu = relu};
    ns_pool_run(p, affine_add_task, &t);
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
    if (!y)
        return; /* the statistics only: an ADD applies the affine (ns_bn_add_forward) */
    t.scale = scale;
    t.shift = shift;
    ns_pool_run(p, affine_task, &t);
}

/* Evaluation's per-channel scale and shift from the running statistics, channels [0, n). */
static void eval_affine(const float *gamma, const float *beta, const float *run_mean,
                        const float *run_var, int n, float *scale, float *shift)
{
    for (int c = 0; c < n; c++) {
        double rs = 1.0 / sqrt((double)run_var[c] + NS_BN_EPS);
        scale[c] = (float)(gamma[c] * rs);
        shift[c] = (float)(beta[c] - run_mean[c] * gamma[c] * rs);
    }
}

void ns_bn_eval_affine(const struct ns_bn *b, const float *gamma, const float *beta,
                       const float *run_mean, const float *run_var, float *affine)
{
    eval_affine(gamma, beta, run_mean, run_var, b->c, affine, affine + b->c);
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
        eval_affine(gamma + c0, beta + c0, run_mean + c0, run_var + c0, cn, scale, shift);
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
            if (!t->b->plain) {
                const float *x = t->x + (size_t)r0 * C + c0, *dy = t->dy + (size_t)r0 * C + c0;
                size_t ldx = (size_t)C, w = (size_t)cn;
                int rows = r1 - r0;
                if (relu && sc)
                    run_blocks(MASK_AFF, x, dy, NULL, ldx, w, rows, mean, sc, sh, fs, fsx, 1);
                else if (relu)
                    run_blocks(MASK_Y, x, dy, t->y + (size_t)r0 * C + c0, ldx, w, rows, mean, NULL,
                               NULL, fs, fsx, 1);
                else
                    run_blocks(MASK_NONE, x, dy, NULL, ldx, w, rows, mean, NULL, NULL, fs, fsx, 1);
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

/* One vector of one row of the dx pass: dx (+)= k*g + a + x*bc, each element as the plain
 * loop computes it. */
INLINE void dx_vec(int mode, int last, __m256i m, int acc, const float *x, const float *dy,
                   const float *y, float *dx, const float *kk, const float *a, const float *bc,
                   const float *sc, const float *sh, int c)
{
    __m256 xv = ld(last, m, x + c);
    __m256 g = masked_dy(mode, last, m, xv, dy, y, sc, sh, c);
    __m256 v = _mm256_add_ps(
        _mm256_add_ps(_mm256_mul_ps(ld(last, m, kk + c), g), ld(last, m, a + c)),
        _mm256_mul_ps(xv, ld(last, m, bc + c)));
    if (acc)
        v = _mm256_add_ps(ld(last, m, dx + c), v);
    st(last, m, dx + c, v);
}

/* `rows` rows of all C channels from row 0 of x, dy, y and dx in the flat form (C a
 * flat_form count): the coefficients are strips of period d->L. */
INLINE void dx_flat(int mode, const struct ns_bn_dx *d, size_t rows, const float *x,
                    const float *dy, const float *y, float *dx, int acc)
{
    size_t k = 0, end = rows * (size_t)d->b->c;
    int ph = 0, L = d->L; /* k is at a row's start: channel 0 */
#define DX_FLAT(last, m)                                                                     \
    dx_vec(mode, last, m, acc, x + k, dy + k, y ? y + k : NULL, dx + k, d->k + ph, d->a + ph,  \
           d->bc + ph, d->sc ? d->sc + ph : NULL, d->sh ? d->sh + ph : NULL, 0)
    for (; k + VW <= end; k += VW) {
        DX_FLAT(0, lanes_below(0));
        if ((ph += VW) >= L)
            ph -= L;
    }
    if (k < end)
        DX_FLAT(1, lanes_below((int)(end - k)));
#undef DX_FLAT
}

/* The same in the row form: any C, the last vector of a row partial when C % 8 != 0. */
INLINE void dx_rows(int mode, const struct ns_bn_dx *d, size_t rows, const float *x,
                    const float *dy, const float *y, float *dx, int acc)
{
    size_t C = (size_t)d->b->c;
    const int full = (int)C / VW * VW;
    const __m256i m = lanes_below((int)C % VW);
    for (size_t i = 0; i < rows; i++) {
        size_t r = i * C; /* indexed, not stepped: no pointer past the array's end */
        const float *yi = mode == MASK_Y ? y + r : NULL;
        for (int c = 0; c < full; c += VW)
            dx_vec(mode, 0, m, acc, x + r, dy + r, yi, dx + r, d->k, d->a, d->bc, d->sc, d->sh,
                   c);
        if (full < (int)C)
            dx_vec(mode, 1, m, acc, x + r, dy + r, yi, dx + r, d->k, d->a, d->bc, d->sc, d->sh,
                   full);
    }
}

/* The plain loops (struct ns_bn.plain): the reference of the two forms above. */
static void dx_plain(const struct ns_bn_dx *d, size_t rows, const float *x, const float *dy,
                     const float *y, float *dx, int acc)
{
    int C = d->b->c;
    const float *restrict kk = d->k, *restrict a = d->a, *restrict bc = d->bc;
    const float *restrict sc = d->sc, *restrict sh = d->sh;
    for (size_t i = 0; i < rows; i++) {
        size_t r = i * (size_t)C;
        if (d->mode == MASK_AFF)
            for (int c = 0; c < C; c++) {
                float g = x[r + c] * sc[c] + sh[c] > 0 ? dy[r + c] : 0.0f;
                float v = kk[c] * g + a[c] + x[r + c] * bc[c];
                dx[r + c] = acc ? dx[r + c] + v : v;
            }
        else
            for (int c = 0; c < C; c++) {
                float g = d->mode == MASK_Y && !(y[r + c] > 0) ? 0.0f : dy[r + c];
                float v = kk[c] * g + a[c] + x[r + c] * bc[c];
                dx[r + c] = acc ? dx[r + c] + v : v;
            }
    }
}

void ns_bn_dx_rows(const struct ns_bn_dx *d, size_t lo, size_t hi, float *dx, int acc)
{
    if (hi <= lo)
        return;
    size_t o = lo * (size_t)d->b->c, rows = hi - lo;
    const float *x = d->x + o, *dy = d->dy + o, *y = d->mode == MASK_Y ? d->y + o : NULL;
    if (d->b->plain)
        dx_plain(d, rows, x, dy, y, dx, acc);
    else if (d->L && d->mode == MASK_AFF)
        dx_flat(MASK_AFF, d, rows, x, dy, y, dx, acc);
    else if (d->L && d->mode == MASK_Y)
        dx_flat(MASK_Y, d, rows, x, dy, y, dx, acc);
    else if (d->L)
        dx_flat(MASK_NONE, d, rows, x, dy, y, dx, acc);
    else if (d->mode == MASK_AFF)
        dx_rows(MASK_AFF, d, rows, x, dy, y, dx, acc);
    else if (d->mode == MASK_Y)
        dx_rows(MASK_Y, d, rows, x, dy, y, dx, acc);
    else
        dx_rows(MASK_NONE, d, rows, x, dy, y, dx, acc);
}

static void bwd_dx_task(void *vp, int ith, int nth)
{
    struct bn_ctx *t = vp;
    int lo, hi;
    ns_split((int)t->m, ith, nth, &lo, &hi);
    ns_bn_dx_rows(t->dxc, (size_t)lo, (size_t)hi, t->dx + (size_t)lo * t->b->c, t->acc);
}

/* the dx pass's coefficients: five arrays of C floats, or five strips in the flat form */
static int dx_coef_len(const struct ns_bn *b)
{
    return !b->plain && flat_form(b->c) ? ns_strip_period(b->c) + VW : b->c;
}

size_t ns_bn_scratch(const struct ns_bn *b, int nth)
{
    /* two doubles per channel per thread, plus two doubles per channel of totals; then the
     * backward's dx coefficients */
    return (size_t)(nth + 1) * 4 * b->c + 5 * (size_t)dx_coef_len(b);
}

void ns_bn_backward_sums(struct ns_pool *p, const struct ns_bn *b, int n, const float *x,
                         const float *y, const float *gamma, const float *mean,
                         const float *rstd, const float *affine, const float *dy,
                         float *dgamma, float *dbeta, float *scratch, struct ns_bn_dx *d)
{
    int nth = ns_pool_size(p), C = b->c;
    size_t m = (size_t)n * b->m_per_image;
    struct bn_ctx t = {.b = b, .m = m, .x = x, .y = y, .dy = dy, .mean = mean, .rstd = rstd,
                       .parts = (double *)scratch, .aff = affine};
    ns_pool_run(p, bwd_sums_task, &t);
    combine(t.parts, nth, C);
    double *tot = t.parts + (size_t)nth * 2 * C;
    /* dx = k*(g - mean(g) - x_hat*mean(g*x_hat)) with k = gamma*rstd, written as
     * k*g + a + x*bcoef per channel: a = -k*(mean(g) - mean*rstd*mgx), bcoef = -k*rstd*mgx */
    int len = dx_coef_len(b), L = len == C ? 0 : len - VW;
    float *k = scratch + (size_t)(nth + 1) * 4 * C, *a = k + len, *bc = a + len;
    float *sc = affine ? bc + len : NULL, *sh = affine ? sc + len : NULL;
    for (int c = 0; c < C; c++) {
        dbeta[c] += (float)tot[c];
        dgamma[c] += (float)tot[C + c];
        float kc = gamma[c] * rstd[c], rs = rstd[c];
        float mg = (float)(tot[c] / (double)m), mgx = (float)(tot[C + c] / (double)m);
        k[c] = kc;
        bc[c] = -kc * rs * mgx;
        a[c] = -kc * mg - bc[c] * mean[c];
        if (affine) {
            sc[c] = affine[c];
            sh[c] = affine[C + c];
        }
    }
    for (int q = C; L && q < len; q++) { /* the strips: v[q] = v[q % C] */
        k[q] = k[q % C];
        a[q] = a[q % C];
        bc[q] = bc[q % C];
        if (affine) {
            sc[q] = sc[q % C];
            sh[q] = sh[q % C];
        }
    }
    *d = (struct ns_bn_dx){.b = b, .x = x, .y = y, .dy = dy, .k = k, .a = a, .bc = bc,
                           .sc = sc, .sh = sh, .L = L,
                           .mode = !b->relu ? MASK_NONE : affine ? MASK_AFF : MASK_Y};
}

void ns_bn_backward(struct ns_pool *p, const struct ns_bn *b, int n, const float *x,
                    const float *y, const float *gamma, const float *mean, const float *rstd,
                    const float *affine, const float *dy, float *dx, int acc, float *dgamma,
                    float *dbeta, float *scratch)
{
    struct ns_bn_dx d;
    ns_bn_backward_sums(p, b, n, x, y, gamma, mean, rstd, affine, dy, dgamma, dbeta, scratch, &d);
    if (!dx)
        return;
    struct bn_ctx t = {.b = b, .m = (size_t)n * b->m_per_image, .dx = dx, .acc = acc, .dxc = &d};
    ns_pool_run(p, bwd_dx_task, &t);
}
