/* 2D convolution, NHWC, forward and backward, with five kernels chosen by shape:
 *   1x1 ungrouped      one GEMM over all n*ho*wo pixels (strided inputs gathered first)
 *   1x1 grouped        one GEMM per group on the group's strided columns of x and y
 *                      (ShuffleNet v1's pointwise convs; stride 1)
 *   kxk ungrouped      im2col per image, then GEMM (the stem, vanilla and basic blocks;
 *                      also rectangular kh x kw kernels, ACNet's 1x3 and 3x1); square
 *                      ones of 2 and 4-8 channels in and out run the grouped kernel below
 *                      (one group, padded to 8 channels under 8)
 *   depthwise          direct loops vectorized over channels
 *   grouped            direct kernel on blocks of 8 output channels: each block reads
 *                      its group's g input channels (g >= 8) or, for g = 2 and 4, its own
 *                      8 input channels, each lane taking its group's g channels by in-lane
 *                      shuffles (g multiply-adds a tap); for g = 2 and 4 and a channel count
 *                      that is not a multiple of 8, on copies padded with zero channels
 * GEMMs are the core's own kernels (kern.h: AVX2 or AVX-512, picked at startup) run from the
 * pool's threads on static row ranges; the 1x1 weight gradient on pixel ranges, each into a
 * partial dW (wgrad). */
#include "nn/ops.h"

#include "nn/kern.h"
#include "util/timer.h"

#include <immintrin.h>
#include <string.h>

typedef float v8 __attribute__((vector_size(32), aligned(4), may_alias));

static inline v8 ld8(const float *p) { return *(const v8 *)p; }
static inline void st8(float *p, v8 v) { *(v8 *)p = v; }
static inline v8 bc8(float f) { return (v8){f, f, f, f, f, f, f, f}; }
/* a + x*w as one fused multiply-add: the grouped kernels' product step (kern.h: the AVX-512
 * pair kernels take the same step, so both paths give the same bits) */
static inline v8 fma8(v8 a, v8 x, v8 w) { return (v8)_mm256_fmadd_ps((__m256)x, (__m256)w, (__m256)a); }

enum conv_kind { K_GEMM1, K_GROUP1, K_IM2COL, K_DEPTHWISE, K_GROUPED8, K_PADDED8, K_GENERIC };

static enum conv_kind kind_of(const struct ns_conv *c)
{
    if (c->groups == 1 && c->kh == c->kw && c->k > 1 && c->k <= 8 && c->cin == c->cout) {
        if (c->cin == 2 || (c->cin >= 4 && c->cin < 8))
            return K_PADDED8; /* im2col would feed a GEMM 2-7 columns wide, through masked
                               * loads and stores (a 6->6 3x3 layer at 28x28: 7 GFLOP/s); 1
                               * and 3 channels stay there: one group of 8 would do 64 and 7
                               * times their products */
        if (c->cin == 8)
            return K_GROUPED8; /* one group of 8 */
    }
    if (c->groups == 1)
        return c->kh == 1 && c->kw == 1 ? K_GEMM1 : K_IM2COL;
    if (c->kh != c->kw)
        return K_GENERIC; /* rectangular: the kernels below are square only */
    if (c->cpg == 1 && c->cin == c->cout)
        return K_DEPTHWISE;
    if (c->kh == 1 && c->stride == 1)
        return K_GROUP1;
    int g = c->cpg;
    /* k <= 8: the grouped kernels' tap tables (struct g8_taps) hold at most 64 taps */
    if (c->cin == c->cout && c->cout % 8 == 0 && (g % 8 == 0 || 8 % g == 0) && c->k <= 8)
        return K_GROUPED8;
    if (c->cin == c->cout && (g == 2 || g == 4) && c->k <= 8)
        return K_PADDED8; /* a count that is not a multiple of 8 */
    return K_GENERIC;
}

void ns_conv_setup(struct ns_conv *c, int h, int w, int cin, int cout, int k, int stride,
                   int groups, int has_bias)
{
    ns_conv_setup_rect(c, h, w, cin, cout, k, k, stride, groups, has_bias);
}

void ns_conv_setup_rect(struct ns_conv *c, int h, int w, int cin, int cout, int kh, int kw,
                        int stride, int groups, int has_bias)
{
    memset(c, 0, sizeof *c);
    c->h = h;
    c->w = w;
    c->cin = cin;
    c->cout = cout;
    c->kh = kh;
    c->kw = kw;
    c->pad_h = kh / 2;
    c->pad_w = kw / 2;
    if (kh == kw) {
        c->k = kh;
        c->pad = kh / 2;
    }
    c->stride = stride;
    c->groups = groups;
    c->cpg = cin / groups;
    c->ho = (h + 2 * c->pad_h - kh) / stride + 1;
    c->wo = (w + 2 * c->pad_w - kw) / stride + 1;
    c->has_bias = has_bias;
}

/* Where a 1x1 conv's W^T sits in its scratch: after the strided copies and db partials. */
static size_t gemm1_wt_offset(const struct ns_conv *c, int n, int nth)
{
    size_t m = (size_t)n * c->ho * c->wo;
    return (c->stride == 1 ? 0 : 2 * m * c->cin) + (size_t)nth * c->cout;
}

/* gin: input channels one 8-block of outputs reads (grouped kernel). */
static int grouped_gin(const struct ns_conv *c) { return c->cpg >= 8 ? c->cpg : 8; }
/* The grouped kernels' small-group path (gs_pixels) serves group widths 2 and 4; 1 is
 * depthwise (its own kernels). */
static int small_group(const struct ns_conv *c) { return c->cpg == 2 || c->cpg == 4; }
static size_t g8_thread_floats(const struct ns_conv *c);

/* Whether the grouped kernels run on pixel pairs (kern.h: struct ns_g8_pairs, the AVX-512
 * path), for group widths of 8 or more. */
static int g8_pairs_on(const struct ns_conv *c)
{
    return ns_kern()->g8_pairs && !small_group(c);
}

/* The forward and the weight gradient take pairs at stride 1 only: at stride 2 the paired
 * copy cost what the wider vectors saved (measured: a 28x28 32-channel forward the same,
 * 14x14 64 channels 0.87x). The data gradient takes them at every stride. */
static int g8_pairs_s1(const struct ns_conv *c)
{
    return g8_pairs_on(c) && c->stride == 1;
}

/* Floats of the data gradient's transposed weights wt. */
static size_t g8_wlen(const struct ns_conv *c)
{
    return (size_t)(c->cout / 8) * c->k * c->k * grouped_gin(c) * 8;
}

/* The grouped kernels' weight region: wt, then (pairs) the doubled weights of the forward
 * or of wt, twice as many. */
static size_t g8_wfloats(const struct ns_conv *c)
{
    return g8_wlen(c) * (g8_pairs_on(c) ? 3 : 1);
}

/* K_PADDED8: the grouped layer of c's channel count rounded up to 8, run on copies of c's
 * tensors with zero channels added. Group widths 2 and 4: the extra channels form whole
 * groups of their own. Ungrouped layers of 5-7 channels: one group of 8, whose extra inputs
 * are zero and whose extra outputs are dropped. */
static int padded8_c(const struct ns_conv *c) { return (c->cout + 7) / 8 * 8; }

static void padded8_conv(const struct ns_conv *c, struct ns_conv *pc)
{
    int c8 = padded8_c(c), g = c->cpg == 2 || c->cpg == 4 ? c->cpg : c8;
    ns_conv_setup(pc, c->h, c->w, c8, c8, c->k, c->stride, c8 / g, c->has_bias);
    pc->relu = c->relu;
}

/* floats of the padded layer's W with the bias after it */
static size_t padded8_wlen(const struct ns_conv *c, const struct ns_conv *pc)
{
    return (size_t)c->k * c->k * pc->cpg * pc->cout + pc->cout;
}

/* its scratch before the padded layer's own: padded x (in backward also dx: the grouped
 * kernel reads x for the weight gradient before it writes dx), y (or dy), then W and its
 * gradient (each with the bias after it) */
static size_t padded8_floats(const struct ns_conv *c, int n)
{
    struct ns_conv pc;
    padded8_conv(c, &pc);
    size_t c8 = (size_t)pc.cout, in = (size_t)n * c->h * c->w * c8;
    return in + (size_t)n * c->ho * c->wo * c8 + 2 * padded8_wlen(c, &pc);
}

/* The 1x1 weight gradient's per-thread partial dW (wgrad below): none on one thread. */
static size_t wgrad_floats(const struct ns_conv *c, int nth)
{
    return nth > 1 ? (size_t)nth * c->cpg * c->cout : 0;
}

size_t ns_conv_scratch(const struct ns_conv *c, int n, int nth)
{
    size_t kk = (size_t)c->kh * c->kw;
    size_t part = kk * c->cpg * c->cout + (size_t)c->cout; /* per-thread dW + db partials */
    size_t s = 0;
    switch (kind_of(c)) {
    case K_GEMM1: /* strided copies of x and dx, db partials, W^T, dW partials */
        s = gemm1_wt_offset(c, n, nth) + (size_t)c->cin * c->cout + wgrad_floats(c, nth);
        break;
    case K_GROUP1: /* db partials, then the groups' W^T (cout x cpg), dW partials */
        s = (size_t)nth * c->cout + (size_t)c->cpg * c->cout + wgrad_floats(c, nth);
        break;
    case K_IM2COL: /* W^T, then per thread two column buffers and partial dW, db */
        s = kk * c->cin * c->cout + (size_t)nth * (2 * (size_t)c->ho * c->wo * kk * c->cin + part);
        break;
    case K_GROUPED8: /* wt (and its doubled copy), then threads */
        s = g8_wfloats(c) + (size_t)nth * g8_thread_floats(c);
        break;
    case K_PADDED8:
        {
            struct ns_conv pc;
            padded8_conv(c, &pc);
            s = padded8_floats(c, n) + ns_conv_scratch(&pc, n, nth);
        }
        break;
    case K_DEPTHWISE:
    case K_GENERIC:
        s = (size_t)nth * part;
        break;
    }
    return s;
}

/* ---- helpers ------------------------------------------------------------------------ */

struct reduce_ctx {
    const float *parts;
    int nparts;
    size_t len, stride;
    float *out;
};

/* out[i] += sum over t of parts[t*stride + i], split over i, summed in t order. */
static void reduce_task(void *vp, int ith, int nth)
{
    struct reduce_ctx *r = vp;
    int lo, hi;
    ns_split((int)r->len, ith, nth, &lo, &hi);
    for (int t = 0; t < r->nparts; t++) {
        const float *pt = r->parts + (size_t)t * r->stride;
        for (int i = lo; i < hi; i++)
            r->out[i] += pt[i];
    }
}

static void reduce_partials(struct ns_pool *p, const float *parts, int nparts, size_t len,
                            size_t stride, float *out)
{
    struct reduce_ctx r = {parts, nparts, len, stride, out};
    ns_pool_run(p, reduce_task, &r);
}

/* Threaded GEMM: C (m x nc) = A B (+ C when beta), row-major, split over rows of C. The
 * products come from the core's own kernels (kern.h), not BLAS: at these sizes (k and nc up
 * to a few hundred, m up to n*h*w) OpenBLAS spent more time packing and scaling C than
 * multiplying (37 % of a training step, profiled). A transposed B is transposed by the
 * caller. Each C element is summed in the same order whatever the split, so the result does
 * not depend on the thread count. */
struct gemm_ctx {
    int m, nc, k;
    const float *a;
    int lda;
    const float *b;
    int ldb;
    int beta;
    float *c;
    int ldc;
};

static void gemm_task(void *vp, int ith, int nth)
{
    struct gemm_ctx *g = vp;
    int lo, hi;
    ns_split(g->m, ith, nth, &lo, &hi);
    if (hi > lo)
        ns_kern()->gemm(hi - lo, g->nc, g->k, g->a + (size_t)lo * g->lda, g->lda, 1, g->b, g->ldb,
                        g->beta, g->c + (size_t)lo * g->ldc, g->ldc);
}

static void gemm(struct ns_pool *p, int m, int nc, int k, const float *a, int lda, const float *b,
                 int ldb, int beta, float *c, int ldc)
{
    struct gemm_ctx g = {m, nc, k, a, lda, b, ldb, beta, c, ldc};
    ns_pool_run(p, gemm_task, &g);
}

/* A 1x1 convolution's weight gradient, per group gi < groups:
 *     dW_gi (m x nc) += A_gi^T B_gi,  A_gi = a + gi*m (k rows, stride lda),
 *                                     B_gi = b + gi*nc (k rows, stride ldb),
 * dW_gi being the columns [gi*nc, (gi+1)*nc) of dW (m x groups*nc). The sum runs over the
 * k pixels, so on more than one thread each thread takes a contiguous range of pixels into
 * a partial dW of its own and the partials are added in thread order. Splitting dW's rows or
 * columns instead (no partials) made every thread stream all of A and B: the 1x1 layers'
 * backward gained 1.1-1.6x from a second thread, against the whole step's 1.6x. The sums'
 * order, and so the bits, now depend on the thread count (DESIGN.md: same seed and thread
 * count, same numbers); one thread sums straight into dW, as before. */
struct wgrad_ctx {
    int groups, m, nc, k;
    const float *a;
    int lda;
    const float *b;
    int ldb;
    float *dw, *parts; /* parts: nth partials of m x groups*nc, or NULL on one thread */
};

static void wgrad_task(void *vp, int ith, int nth)
{
    struct wgrad_ctx *t = vp;
    int ldc = t->groups * t->nc, lo, hi;
    float *c = t->dw;
    int beta = 1;
    if (t->parts) {
        c = t->parts + (size_t)ith * t->m * ldc;
        beta = 0;
    }
    ns_split(t->k, ith, nth, &lo, &hi);
    if (hi <= lo) {
        if (t->parts)
            memset(c, 0, sizeof(float) * t->m * ldc);
        return;
    }
    ns_gemm_fn f = ns_kern()->gemm;
    for (int gi = 0; gi < t->groups; gi++)
        f(t->m, t->nc, hi - lo, t->a + (size_t)lo * t->lda + (size_t)gi * t->m, 1, t->lda,
          t->b + (size_t)lo * t->ldb + (size_t)gi * t->nc, t->ldb, beta, c + (size_t)gi * t->nc,
          ldc);
}

/* parts: wgrad_floats of scratch */
static void wgrad(struct ns_pool *p, int groups, int m, int nc, int k, const float *a, int lda,
                  const float *b, int ldb, float *dw, float *parts)
{
    int nth = ns_pool_size(p);
    struct wgrad_ctx t = {groups, m, nc, k, a, lda, b, ldb, dw, nth > 1 ? parts : NULL};
    ns_pool_run(p, wgrad_task, &t);
    if (t.parts) {
        size_t len = (size_t)m * groups * nc;
        reduce_partials(p, t.parts, nth, len, len, dw);
    }
}

/* wt (cols x rows) = the transpose of w (rows x cols): the B of a product with W^T. */
static void transpose(int rows, int cols, const float *w, float *wt)
{
    for (int r = 0; r < rows; r++)
        for (int q = 0; q < cols; q++)
            wt[(size_t)q * rows + r] = w[(size_t)r * cols + q];
}

/* Bias (and fused-inference ReLU) over rows of y, and db partial sums. */
struct rows_ctx {
    const struct ns_conv *c;
    size_t rows;
    const float *b;
    float *y;
    const float *dy;
    float *parts;
};

static void bias_task(void *vp, int ith, int nth)
{
    struct rows_ctx *r = vp;
    int lo, hi, co = r->c->cout;
    ns_split((int)r->rows, ith, nth, &lo, &hi);
    for (int i = lo; i < hi; i++) {
        float *y = r->y + (size_t)i * co;
        if (r->b)
            for (int j = 0; j < co; j++)
                y[j] += r->b[j];
        if (r->c->relu)
            for (int j = 0; j < co; j++)
                y[j] = y[j] > 0 ? y[j] : 0;
    }
}

static void post_forward(struct ns_pool *p, const struct ns_conv *c, size_t rows, const float *b,
                         float *y)
{
    if ((!c->has_bias || !b) && !c->relu)
        return;
    struct rows_ctx r = {c, rows, c->has_bias ? b : NULL, y, NULL, NULL};
    ns_pool_run(p, bias_task, &r);
}

static void dbias_task(void *vp, int ith, int nth)
{
    struct rows_ctx *r = vp;
    int lo, hi, co = r->c->cout;
    ns_split((int)r->rows, ith, nth, &lo, &hi);
    float *acc = r->parts + (size_t)ith * co;
    memset(acc, 0, sizeof(float) * co);
    for (int i = lo; i < hi; i++) {
        const float *d = r->dy + (size_t)i * co;
        for (int j = 0; j < co; j++)
            acc[j] += d[j];
    }
}

static void bias_backward(struct ns_pool *p, const struct ns_conv *c, size_t rows, const float *dy,
                          float *db, float *parts)
{
    if (!c->has_bias || !db)
        return;
    struct rows_ctx r = {c, rows, NULL, NULL, dy, parts};
    ns_pool_run(p, dbias_task, &r);
    reduce_partials(p, parts, ns_pool_size(p), c->cout, c->cout, db);
}

/* ---- 1x1 ungrouped: GEMM ------------------------------------------------------------ */

struct gather_ctx {
    const struct ns_conv *c;
    int n;
    const float *src;
    float *dst;
    int acc;
};

/* dst (n, ho, wo, cin) = src at strided positions (n, ho*s, wo*s, cin). */
static void gather_task(void *vp, int ith, int nth)
{
    struct gather_ctx *g = vp;
    const struct ns_conv *c = g->c;
    int lo, hi;
    ns_split(g->n * c->ho, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        int img = r / c->ho, ho = r % c->ho;
        for (int wo = 0; wo < c->wo; wo++) {
            const float *s = g->src + (((size_t)img * c->h + ho * c->stride) * c->w + wo * c->stride) * c->cin;
            memcpy(g->dst + (((size_t)img * c->ho + ho) * c->wo + wo) * c->cin, s, sizeof(float) * c->cin);
        }
    }
}

/* The transpose of gather: dst (n, h, w, cin) gets src at strided positions and zeros (or
 * keeps its values, when accumulating) elsewhere. */
static void scatter_task(void *vp, int ith, int nth)
{
    struct gather_ctx *g = vp;
    const struct ns_conv *c = g->c;
    int lo, hi;
    ns_split(g->n * c->h, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        int img = r / c->h, hh = r % c->h;
        float *drow = g->dst + ((size_t)img * c->h + hh) * c->w * c->cin;
        if (!g->acc)
            memset(drow, 0, sizeof(float) * c->w * c->cin);
        if (hh % c->stride)
            continue;
        int ho = hh / c->stride;
        if (ho >= c->ho)
            continue;
        for (int wo = 0; wo < c->wo; wo++) {
            const float *s = g->src + (((size_t)img * c->ho + ho) * c->wo + wo) * c->cin;
            float *d = drow + (size_t)wo * c->stride * c->cin;
            for (int i = 0; i < c->cin; i++)
                d[i] += s[i];
        }
    }
}

static void gemm1_forward(struct ns_pool *p, const struct ns_conv *c, int n, const float *x,
                          const float *w, float *y, float *scratch)
{
    int m = n * c->ho * c->wo;
    const float *a = x;
    if (c->stride != 1) {
        struct gather_ctx g = {c, n, x, scratch, 0};
        ns_pool_run(p, gather_task, &g);
        a = scratch;
    }
    gemm(p, m, c->cout, c->cin, a, c->cin, w, c->cout, 0, y, c->cout);
}

static void gemm1_backward(struct ns_pool *p, const struct ns_conv *c, int n, const float *x,
                           const float *w, const float *dy, float *dx, int acc, float *dw,
                           float *scratch)
{
    int m = n * c->ho * c->wo;
    const float *a = x;
    float *xs = scratch, *dxs = scratch + (size_t)m * c->cin;
    if (c->stride != 1) {
        struct gather_ctx g = {c, n, x, xs, 0};
        ns_pool_run(p, gather_task, &g);
        a = xs;
    }
    /* dW (cin x cout) += A^T dy */
    float *wt = scratch + gemm1_wt_offset(c, n, ns_pool_size(p));
    wgrad(p, 1, c->cin, c->cout, m, a, c->cin, dy, c->cout, dw, wt + (size_t)c->cin * c->cout);
    if (!dx)
        return;
    transpose(c->cin, c->cout, w, wt);
    if (c->stride == 1) {
        gemm(p, m, c->cin, c->cout, dy, c->cout, wt, c->cin, acc, dx, c->cin);
    } else {
        gemm(p, m, c->cin, c->cout, dy, c->cout, wt, c->cin, 0, dxs, c->cin);
        struct gather_ctx g = {c, n, dxs, dx, acc};
        ns_pool_run(p, scatter_task, &g);
    }
}

/* ---- 1x1 then BN: one backward pass (ns_conv_bn_backward) ---------------------------- */

/* Fused where it measured faster: what it saves is the writing and two readings of dy
 * (cout channels), what it costs is the interleaving of the blocks' five streams, which
 * grows with cin. Zen 3, 1 thread, bench/conv_bn_ab.sh: 8->32 1.27x, 16->32 1.12-1.20x,
 * 32->64 1.16x, 128->128 1.10x, 12->12 1.09x; but 32->16 0.98-1.00x, 64->16 0.92x, 32->8
 * 0.91x. */
int ns_conv_bn_fusable(const struct ns_conv *c)
{
    return kind_of(c) == K_GEMM1 && c->stride == 1 && !c->has_bias && c->cout >= c->cin;
}

/* A thread's block buffer: NS_GEMM_KC rows of the conv's dy. */
static size_t conv_bn_block(const struct ns_conv *c) { return (size_t)NS_GEMM_KC * c->cout; }

/* n rounded up to 16 floats: the BN's part of the scratch starts with doubles, and the
 * blocks on a cache line */
static size_t line16(size_t n) { return (n + 15) / 16 * 16; }

size_t ns_conv_bn_scratch(const struct ns_conv *c, const struct ns_bn *b, int n, int nth)
{
    return line16(ns_conv_scratch(c, n, nth)) + line16(ns_bn_scratch(b, nth)) +
           (size_t)nth * conv_bn_block(c);
}

struct conv_bn_ctx {
    const struct ns_conv *c;
    int m;
    const float *x, *wt;
    const struct ns_bn_dx *d;
    float *dx, *dw, *parts, *bufs;
    int acc;
};

/* The pixels of gemm_task's and wgrad_task's split (the same ns_split of m), in blocks of
 * NS_GEMM_KC rows from the range's start: the weight gradient's kernel sums a call's pixels
 * in blocks of NS_GEMM_KC, adding each to dW, so one call a block gives the sums of one call
 * over the range; dx's rows are each their own sum. */
static void conv_bn_task(void *vp, int ith, int nth)
{
    struct conv_bn_ctx *t = vp;
    const struct ns_conv *c = t->c;
    int cin = c->cin, cout = c->cout, lo, hi, beta = 1;
    float *dw = t->dw, *buf = t->bufs + (size_t)ith * conv_bn_block(c);
    if (t->parts) {
        dw = t->parts + (size_t)ith * cin * cout;
        beta = 0;
    }
    ns_split(t->m, ith, nth, &lo, &hi);
    if (hi <= lo && t->parts)
        memset(dw, 0, sizeof(float) * cin * cout);
    ns_gemm_fn f = ns_kern()->gemm;
    for (int r0 = lo; r0 < hi; r0 += NS_GEMM_KC) {
        int rows = hi - r0 < NS_GEMM_KC ? hi - r0 : NS_GEMM_KC;
        ns_bn_dx_rows(t->d, (size_t)r0, (size_t)(r0 + rows), buf, 0);
        f(cin, cout, rows, t->x + (size_t)r0 * cin, 1, cin, buf, cout, beta, dw, cout);
        beta = 1;
        if (t->dx)
            f(rows, cin, cout, buf, cout, 1, t->wt, cin, t->acc, t->dx + (size_t)r0 * cin, cin);
    }
}

void ns_conv_bn_backward(struct ns_pool *p, const struct ns_conv *c, const struct ns_bn *b,
                         int n, const float *x, const float *w, const float *bn_x,
                         const float *bn_y, const float *gamma, const float *mean,
                         const float *rstd, const float *affine, const float *bn_dy, float *dx,
                         int acc, float *dw, float *dgamma, float *dbeta, float *scratch,
                         double *secs)
{
    int nth = ns_pool_size(p), m = n * c->ho * c->wo;
    double t0 = secs ? ns_now() : 0;
    /* the conv's scratch (W^T, the dW partials), the BN's, the threads' blocks */
    float *wt = scratch + gemm1_wt_offset(c, n, nth), *parts = wt + (size_t)c->cin * c->cout;
    float *bn_s = scratch + line16(ns_conv_scratch(c, n, nth));
    struct ns_bn_dx d;
    ns_bn_backward_sums(p, b, n, bn_x, bn_y, gamma, mean, rstd, affine, bn_dy, dgamma, dbeta,
                        bn_s, &d);
    double t1 = secs ? ns_now() : 0;
    if (dx)
        transpose(c->cin, c->cout, w, wt);
    struct conv_bn_ctx t = {c, m, x, wt, &d, dx, dw, nth > 1 ? parts : NULL,
                            bn_s + line16(ns_bn_scratch(b, nth)), acc};
    ns_pool_run(p, conv_bn_task, &t);
    if (t.parts) {
        size_t len = (size_t)c->cin * c->cout;
        reduce_partials(p, t.parts, nth, len, len, dw);
    }
    if (secs) {
        secs[0] += t1 - t0;
        secs[1] += ns_now() - t1;
    }
}

/* ---- 1x1 grouped, stride 1: a GEMM per group ---------------------------------------- */

/* Group gi maps input channels [gi*cpg, (gi+1)*cpg) to outputs [gi*opg, (gi+1)*opg): its
 * x, y and dy are column slices of the NHWC rows (row stride cin or cout), which the GEMM
 * kernels read in place through their strides, and its weights are the columns
 * [gi*opg, (gi+1)*opg) of W (cpg x cout). The forward and the data gradient are split over
 * rows of their outputs, so their bits do not depend on the thread count; the weight
 * gradient is wgrad's (partials over pixels). */
struct group1_ctx {
    const struct ns_conv *c;
    int m;                  /* rows of x: n*h*w */
    const float *x, *w, *dy;
    float *y, *dx, *dw;
    const float *wt;        /* W^T (cout x cpg): the B of dx = dy W^T */
    int acc;
};

static void group1_fwd_task(void *vp, int ith, int nth)
{
    struct group1_ctx *t = vp;
    const struct ns_conv *c = t->c;
    int g = c->cpg, opg = c->cout / c->groups, lo, hi;
    ns_split(t->m, ith, nth, &lo, &hi);
    if (hi <= lo)
        return;
    ns_gemm_fn f = ns_kern()->gemm;
    for (int gi = 0; gi < c->groups; gi++)
        f(hi - lo, opg, g, t->x + (size_t)lo * c->cin + (size_t)gi * g, c->cin, 1,
          t->w + (size_t)gi * opg, c->cout, 0, t->y + (size_t)lo * c->cout + (size_t)gi * opg,
          c->cout);
}

static void group1_bwd_data_task(void *vp, int ith, int nth)
{
    struct group1_ctx *t = vp;
    const struct ns_conv *c = t->c;
    int g = c->cpg, opg = c->cout / c->groups, lo, hi;
    ns_split(t->m, ith, nth, &lo, &hi);
    if (hi <= lo)
        return;
    ns_gemm_fn f = ns_kern()->gemm;
    for (int gi = 0; gi < c->groups; gi++)
        f(hi - lo, g, opg, t->dy + (size_t)lo * c->cout + (size_t)gi * opg, c->cout, 1,
          t->wt + (size_t)gi * opg * g, g, t->acc, t->dx + (size_t)lo * c->cin + (size_t)gi * g,
          c->cin);
}

static void group1_forward(struct ns_pool *p, const struct ns_conv *c, int n, const float *x,
                           const float *w, float *y)
{
    struct group1_ctx t = {.c = c, .m = n * c->h * c->w, .x = x, .w = w, .y = y};
    ns_pool_run(p, group1_fwd_task, &t);
}

static void group1_backward(struct ns_pool *p, const struct ns_conv *c, int n, const float *x,
                            const float *w, const float *dy, float *dx, int acc, float *dw,
                            float *scratch)
{
    struct group1_ctx t = {.c = c, .m = n * c->h * c->w, .x = x, .w = w, .dy = dy, .dx = dx,
                           .dw = dw, .acc = acc};
    float *wt = scratch + (size_t)ns_pool_size(p) * c->cout;
    wgrad(p, c->groups, c->cpg, c->cout / c->groups, t.m, x, c->cin, dy, c->cout, dw,
          wt + (size_t)c->cpg * c->cout);
    if (!dx)
        return;
    transpose(c->cpg, c->cout, w, wt);
    t.wt = wt;
    ns_pool_run(p, group1_bwd_data_task, &t);
}

/* ---- kxk ungrouped: im2col + GEMM --------------------------------------------------- */

/* The taps kw in [*k0, *k1) of output column wo that fall inside the image: consecutive
 * taps read consecutive input pixels, so their channels form one contiguous run in x (NHWC)
 * and in a column row, and im2col and col2im move each run in one piece. */
static void tap_span(const struct ns_conv *c, int wo, int *k0, int *k1)
{
    int wi0 = wo * c->stride - c->pad_w;
    *k0 = wi0 < 0 ? -wi0 : 0;
    *k1 = c->w - wi0 < c->kw ? c->w - wi0 : c->kw;
    if (*k1 < *k0)
        *k1 = *k0;
}

/* col (ho*wo, kh*kw*cin) for one image. */
static void im2col(const struct ns_conv *c, const float *x, float *col)
{
    int kc = c->kh * c->kw * c->cin;
    for (int wo = 0; wo < c->wo; wo++) {
        int k0, k1;
        tap_span(c, wo, &k0, &k1);
        size_t run = (size_t)(k1 - k0) * c->cin, tail = (size_t)(c->kw - k1) * c->cin;
        int wi0 = wo * c->stride - c->pad_w;
        for (int ho = 0; ho < c->ho; ho++) {
            float *row = col + ((size_t)ho * c->wo + wo) * kc;
            for (int kh = 0; kh < c->kh; kh++) {
                int hi = ho * c->stride - c->pad_h + kh;
                float *d = row + (size_t)kh * c->kw * c->cin;
                if (hi < 0 || hi >= c->h) {
                    memset(d, 0, sizeof(float) * c->kw * c->cin);
                    continue;
                }
                const float *src = x + ((size_t)hi * c->w + wi0 + k0) * c->cin;
                memset(d, 0, sizeof(float) * k0 * c->cin);
                memcpy(d + (size_t)k0 * c->cin, src, sizeof(float) * run);
                memset(d + (size_t)k1 * c->cin, 0, sizeof(float) * tail);
            }
        }
    }
}

/* d[0, len) += s[0, len): distinct buffers, so it vectorizes without alias checks. */
static void add_run(float *restrict d, const float *restrict s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        d[i] += s[i];
}

/* dx (h, w, cin) += the columns of dcol folded back onto their input pixels: each dx
 * element gets its contributions in (ho, wo, kh, kw) order, one per (ho, wo, kh) at most. */
static void col2im(const struct ns_conv *c, const float *dcol, float *dx)
{
    int kc = c->kh * c->kw * c->cin;
    for (int ho = 0; ho < c->ho; ho++)
        for (int wo = 0; wo < c->wo; wo++) {
            const float *row = dcol + ((size_t)ho * c->wo + wo) * kc;
            int k0, k1, wi0 = wo * c->stride - c->pad_w;
            tap_span(c, wo, &k0, &k1);
            for (int kh = 0; kh < c->kh; kh++) {
                int hi = ho * c->stride - c->pad_h + kh;
                if (hi < 0 || hi >= c->h)
                    continue;
                add_run(dx + ((size_t)hi * c->w + wi0 + k0) * c->cin,
                        row + ((size_t)kh * c->kw + k0) * c->cin, (size_t)(k1 - k0) * c->cin);
            }
        }
}

struct conv_ctx {
    const struct ns_conv *c;
    int n;
    const float *x, *w, *b, *dy;
    float *y, *dx, *dw, *scratch;
    int acc;
    const float *wt; /* transposed weights (im2col, grouped data gradient) */
    const float *wdup; /* the grouped kernels' doubled weights for the pair kernel */
};

static size_t im2col_thread_floats(const struct ns_conv *c)
{
    size_t kk = (size_t)c->kh * c->kw;
    return 2 * (size_t)c->ho * c->wo * kk * c->cin + kk * c->cpg * c->cout + (size_t)c->cout;
}

/* A stem's conv (1 to 4 input channels): im2col would copy every input value k*k times
 * to feed a GEMM with k <= 36, so these two are direct: vectors of 8 output channels,
 * padded taps skipped (im2col multiplied zeros into the sum). */
static int direct_small(const struct ns_conv *c)
{
    return c->cin <= 4 && c->cout % 8 == 0 && c->cout <= 64;
}

/* nb = cout/8 is a constant at each call (direct_fwd, direct_dw), so acc stays in registers.
 * Runs of P interior pixels of a row (every tap inside the image) are summed together: P*nb
 * independent sums hide the add latency that one pixel's nb sums were bound by; each pixel
 * still adds its taps in the same order, so the bits are the one-pixel loop's. */
static inline __attribute__((always_inline)) void
direct_fwd_image(const struct ns_conv *c, const int nb, const float *x, const float *w, float *y)
{
    enum { PMAX = 8 };
    const int P = nb == 1 ? 8 : nb == 2 ? 4 : nb <= 4 ? 2 : 1;
    int S = c->stride;
    /* output columns whose taps all lie inside the row: [wlo, whi) */
    int wlo = (c->pad_w + S - 1) / S, whi = (c->w - c->kw + c->pad_w) / S + 1;
    if (whi > c->wo)
        whi = c->wo;
    for (int ho = 0; ho < c->ho; ho++) {
        int rows_in = ho * S - c->pad_h >= 0 && ho * S - c->pad_h + c->kh <= c->h;
        for (int wo = 0; wo < c->wo;) {
            if (P > 1 && rows_in && wo >= wlo && wo + P <= whi) {
                v8 acc[PMAX][8];
                for (int q = 0; q < P; q++)
                    for (int b = 0; b < nb; b++)
                        acc[q][b] = bc8(0);
                for (int kh = 0; kh < c->kh; kh++) {
                    int hi = ho * S - c->pad_h + kh;
                    for (int kw = 0; kw < c->kw; kw++) {
                        const float *xp = x + ((size_t)hi * c->w + wo * S - c->pad_w + kw) * c->cin;
                        const float *wp = w + (size_t)(kh * c->kw + kw) * c->cin * c->cout;
                        for (int ci = 0; ci < c->cin; ci++)
                            for (int q = 0; q < P; q++) {
                                v8 xv = bc8(xp[(size_t)q * S * c->cin + ci]);
                                for (int b = 0; b < nb; b++)
                                    acc[q][b] += xv * ld8(wp + (size_t)ci * c->cout + 8 * b);
                            }
                    }
                }
                for (int q = 0; q < P; q++) {
                    float *yp = y + ((size_t)ho * c->wo + wo + q) * c->cout;
                    for (int b = 0; b < nb; b++)
                        st8(yp + 8 * b, acc[q][b]);
                }
                wo += P;
                continue;
            }
            v8 acc[8];
            for (int b = 0; b < nb; b++)
                acc[b] = bc8(0);
            for (int kh = 0; kh < c->kh; kh++) {
                int hi = ho * S - c->pad_h + kh;
                if (hi < 0 || hi >= c->h)
                    continue;
                for (int kw = 0; kw < c->kw; kw++) {
                    int wi = wo * S - c->pad_w + kw;
                    if (wi < 0 || wi >= c->w)
                        continue;
                    const float *xp = x + ((size_t)hi * c->w + wi) * c->cin;
                    const float *wp = w + (size_t)(kh * c->kw + kw) * c->cin * c->cout;
                    for (int ci = 0; ci < c->cin; ci++) {
                        v8 xv = bc8(xp[ci]);
                        for (int b = 0; b < nb; b++)
                            acc[b] += xv * ld8(wp + (size_t)ci * c->cout + 8 * b);
                    }
                }
            }
            float *yp = y + ((size_t)ho * c->wo + wo) * c->cout;
            for (int b = 0; b < nb; b++)
                st8(yp + 8 * b, acc[b]);
            wo++;
        }
    }
}

/* dw (kh*kw*cin, cout) += this image's weight gradient, one (tap, input channel) row at a
 * time summed over every output pixel. */
static inline __attribute__((always_inline)) void
direct_dw_image(const struct ns_conv *c, const int nb, const float *x, const float *dy, float *dw)
{
    int S = c->stride;
    for (int kh = 0; kh < c->kh; kh++)
        for (int kw = 0; kw < c->kw; kw++)
            for (int ci = 0; ci < c->cin; ci++) {
                v8 acc[8];
                for (int b = 0; b < nb; b++)
                    acc[b] = bc8(0);
                for (int ho = 0; ho < c->ho; ho++) {
                    int hi = ho * S - c->pad_h + kh;
                    if (hi < 0 || hi >= c->h)
                        continue;
                    for (int wo = 0; wo < c->wo; wo++) {
                        int wi = wo * S - c->pad_w + kw;
                        if (wi < 0 || wi >= c->w)
                            continue;
                        v8 xv = bc8(x[((size_t)hi * c->w + wi) * c->cin + ci]);
                        const float *d = dy + ((size_t)ho * c->wo + wo) * c->cout;
                        for (int b = 0; b < nb; b++)
                            acc[b] += xv * ld8(d + 8 * b);
                    }
                }
                float *dp = dw + ((size_t)(kh * c->kw + kw) * c->cin + ci) * c->cout;
                for (int b = 0; b < nb; b++)
                    st8(dp + 8 * b, ld8(dp + 8 * b) + acc[b]);
            }
}

#define NB_CASES(F, ...)                                                                   \
    switch (c->cout / 8) {                                                                 \
    case 1: F(c, 1, __VA_ARGS__); break;                                                   \
    case 2: F(c, 2, __VA_ARGS__); break;                                                   \
    case 3: F(c, 3, __VA_ARGS__); break;                                                   \
    case 4: F(c, 4, __VA_ARGS__); break;                                                   \
    default: F(c, c->cout / 8, __VA_ARGS__); break;                                        \
    }

static void direct_fwd(const struct ns_conv *c, const float *x, const float *w, float *y)
{
    NB_CASES(direct_fwd_image, x, w, y)
}

static void direct_dw(const struct ns_conv *c, const float *x, const float *dy, float *dw)
{
    NB_CASES(direct_dw_image, x, dy, dw)
}

static void im2col_fwd_task(void *vp, int ith, int nth)
{
    struct conv_ctx *t = vp;
    const struct ns_conv *c = t->c;
    int lo, hi, kc = c->kh * c->kw * c->cin, rows = c->ho * c->wo;
    ns_split(t->n, ith, nth, &lo, &hi);
    float *col = t->scratch + (size_t)ith * im2col_thread_floats(c);
    for (int i = lo; i < hi; i++) {
        const float *xi = t->x + (size_t)i * c->h * c->w * c->cin;
        float *yi = t->y + (size_t)i * rows * c->cout;
        if (direct_small(c)) {
            direct_fwd(c, xi, t->w, yi);
            continue;
        }
        im2col(c, xi, col);
        ns_kern()->gemm(rows, c->cout, kc, col, kc, 1, t->w, c->cout, 0, yi, c->cout);
    }
}

static void im2col_bwd_task(void *vp, int ith, int nth)
{
    struct conv_ctx *t = vp;
    const struct ns_conv *c = t->c;
    int lo, hi, kc = c->kh * c->kw * c->cin, rows = c->ho * c->wo;
    ns_split(t->n, ith, nth, &lo, &hi);
    float *col = t->scratch + (size_t)ith * im2col_thread_floats(c);
    float *dcol = col + (size_t)rows * kc;
    float *dwp = dcol + (size_t)rows * kc;
    memset(dwp, 0, sizeof(float) * kc * c->cout);
    for (int i = lo; i < hi; i++) {
        const float *dyi = t->dy + (size_t)i * rows * c->cout;
        const float *xi = t->x + (size_t)i * c->h * c->w * c->cin;
        if (direct_small(c) && !t->dx) {
            direct_dw(c, xi, dyi, dwp);
            continue;
        }
        im2col(c, xi, col);
        ns_kern()->gemm(kc, c->cout, rows, col, 1, kc, dyi, c->cout, 1, dwp, c->cout);
        if (t->dx) {
            float *dxi = t->dx + (size_t)i * c->h * c->w * c->cin;
            ns_kern()->gemm(rows, kc, c->cout, dyi, c->cout, 1, t->wt, kc, 0, dcol, kc);
            if (!t->acc)
                memset(dxi, 0, sizeof(float) * c->h * c->w * c->cin);
            col2im(c, dcol, dxi);
        }
    }
}

/* ---- depthwise ---------------------------------------------------------------------- */

/* Output pixel range [o0, o1) along one axis that reads input index i through tap kk. */
static inline int tap_source(int i, int kk, int pad, int stride, int nout)
{
    int num = i + pad - kk, o;
    if (num < 0)
        return -1;
    if (stride == 1) /* the common strides without a division (this runs per pixel and tap) */
        o = num;
    else if (stride == 2)
        o = num & 1 ? -1 : num >> 1;
    else
        o = num % stride ? -1 : num / stride;
    return o < nout ? o : -1;
}

/* Each pixel's channels go in blocks of up to DW_V vectors whose sums stay in registers
 * over the taps (loops over channels would load and store every output element once a tap,
 * and at 16-56 channels spend most of their time in loop set-up); when C is not a multiple
 * of 8 the block's last vector is partial (masked loads and stores: its other lanes are
 * never read or written). Each element gets a plain loop's operations in its order: the
 * sum from the first tap to the last, a multiply then an add (no contraction). */
#define DW_V 4
/* Lanes [0, r) of a vector (r 1..7). */
static inline __m256i lane_mask(int r)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(r), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
/* Vector j of nv from p: the last one masked when the block is partial (a constant at each
 * call, so full blocks use plain loads and stores). */
static inline __attribute__((always_inline)) v8 dw_ld(const float *p, int j, int nv, int partial,
                                                      __m256i m)
{
    return partial && j == nv - 1 ? (v8)_mm256_maskload_ps(p, m) : ld8(p);
}
static inline __attribute__((always_inline)) void dw_st(float *p, int j, int nv, int partial,
                                                        __m256i m, v8 v)
{
    if (partial && j == nv - 1)
        _mm256_maskstore_ps(p, m, (__m256)v);
    else
        st8(p, v);
}
#define DW_CASE(nv, partial, F, ...)                                                           case 2 * (nv) + (partial): F(nv, partial, c0, m, __VA_ARGS__); break;
#define DW_BLOCKS(C, F, ...)                                                                   for (int c0 = 0; c0 < (C); c0 += 8 * DW_V) {                                                   int rem_ = (C) - c0, part_ = rem_ < 8 * DW_V && rem_ % 8;                                  int nv_ = rem_ >= 8 * DW_V ? DW_V : (rem_ + 7) / 8;                                        __m256i m = lane_mask(part_ ? rem_ % 8 : 8);                                               switch (2 * nv_ + part_) {                                                                     DW_CASE(1, 0, F, __VA_ARGS__)                                                              DW_CASE(1, 1, F, __VA_ARGS__)                                                              DW_CASE(2, 0, F, __VA_ARGS__)                                                              DW_CASE(2, 1, F, __VA_ARGS__)                                                              DW_CASE(3, 0, F, __VA_ARGS__)                                                              DW_CASE(3, 1, F, __VA_ARGS__)                                                              DW_CASE(4, 0, F, __VA_ARGS__)                                                              DW_CASE(4, 1, F, __VA_ARGS__)                                                          }                                                                                      }

/* y[c0 .. c0 + 8nv) of output pixel (ho, wo) of one image: bias (or 0), + x*w for each tap
 * in (kh, kw) order, then the ReLU (y > 0 ? y : 0). */
static inline __attribute__((always_inline)) void
dw_fwd_vec(const int nv, const int partial, int c0, __m256i m, const struct ns_conv *c,
           const float *x, const float *w, const float *bias, float *y, int ho, int wo)
{
    int C = c->cout;
    v8 a[DW_V];
    for (int j = 0; j < nv; j++)
        a[j] = bias ? dw_ld(bias + c0 + 8 * j, j, nv, partial, m) : bc8(0);
    for (int kh = 0; kh < c->k; kh++) {
        int hi2 = ho * c->stride - c->pad + kh;
        if (hi2 < 0 || hi2 >= c->h)
            continue;
        for (int kw = 0; kw < c->k; kw++) {
            int wi = wo * c->stride - c->pad + kw;
            if (wi < 0 || wi >= c->w)
                continue;
            const float *xp = x + ((size_t)hi2 * c->w + wi) * C + c0;
            const float *wp = w + (size_t)(kh * c->k + kw) * C + c0;
            for (int j = 0; j < nv; j++)
                a[j] = a[j] + dw_ld(xp + 8 * j, j, nv, partial, m) *
                                  dw_ld(wp + 8 * j, j, nv, partial, m);
        }
    }
    for (int j = 0; j < nv; j++) {
        if (c->relu)
            a[j] = (v8)_mm256_and_ps(_mm256_cmp_ps((__m256)a[j], _mm256_setzero_ps(), _CMP_GT_OQ),
                                     (__m256)a[j]);
        dw_st(y + c0 + 8 * j, j, nv, partial, m, a[j]);
    }
}

/* dx[c0 .. c0 + 8nv) of input pixel (hh, ww): its old value (acc) or 0, + dy*w for each tap
 * that reads it, in (kh, kw) order. */
static inline __attribute__((always_inline)) void
dw_bwd_data_vec(const int nv, const int partial, int c0, __m256i m, const struct ns_conv *c,
                const float *dy, const float *w, float *dx, int acc, int hh, int ww)
{
    int C = c->cout;
    v8 a[DW_V];
    for (int j = 0; j < nv; j++)
        a[j] = acc ? dw_ld(dx + c0 + 8 * j, j, nv, partial, m) : bc8(0);
    for (int kh = 0; kh < c->k; kh++) {
        int ho = tap_source(hh, kh, c->pad, c->stride, c->ho);
        if (ho < 0)
            continue;
        for (int kw = 0; kw < c->k; kw++) {
            int wo = tap_source(ww, kw, c->pad, c->stride, c->wo);
            if (wo < 0)
                continue;
            const float *dp = dy + ((size_t)ho * c->wo + wo) * C + c0;
            const float *wp = w + (size_t)(kh * c->k + kw) * C + c0;
            for (int j = 0; j < nv; j++)
                a[j] = a[j] + dw_ld(dp + 8 * j, j, nv, partial, m) *
                                  dw_ld(wp + 8 * j, j, nv, partial, m);
        }
    }
    for (int j = 0; j < nv; j++)
        dw_st(dx + c0 + 8 * j, j, nv, partial, m, a[j]);
}

/* The weight gradient of tap (kh, kw), channels [c0, c0 + 8nv), over one image: part (the
 * thread's sum so far) + x*dy for each output pixel in (ho, wo) order, the order in which
 * the plain loop adds them. */
static inline __attribute__((always_inline)) void
dw_bwd_weight_vec(const int nv, const int partial, int c0, __m256i m, const struct ns_conv *c,
                  const float *x, const float *dy, float *wp, int kh, int kw)
{
    int C = c->cout;
    v8 a[DW_V];
    for (int j = 0; j < nv; j++)
        a[j] = dw_ld(wp + c0 + 8 * j, j, nv, partial, m);
    for (int ho = 0; ho < c->ho; ho++) {
        int hi2 = ho * c->stride - c->pad + kh;
        if (hi2 < 0 || hi2 >= c->h)
            continue;
        for (int wo = 0; wo < c->wo; wo++) {
            int wi = wo * c->stride - c->pad + kw;
            if (wi < 0 || wi >= c->w)
                continue;
            const float *xp = x + ((size_t)hi2 * c->w + wi) * C + c0;
            const float *dp = dy + ((size_t)ho * c->wo + wo) * C + c0;
            for (int j = 0; j < nv; j++)
                a[j] = a[j] + dw_ld(xp + 8 * j, j, nv, partial, m) *
                                  dw_ld(dp + 8 * j, j, nv, partial, m);
        }
    }
    for (int j = 0; j < nv; j++)
        dw_st(wp + c0 + 8 * j, j, nv, partial, m, a[j]);
}

/* ---- depthwise at stride 1 below 32 channels: flat runs of interior pixels -----------
 * Below 32 channels a pixel is one to four vectors, and the per-pixel loop above spends its
 * time in set-up and in one chain of dependent adds a vector (a 28x28 layer of 2 channels
 * took as long as one of 16). At stride 1 the interior pixels of a row (those whose taps
 * all lie inside the image's columns) are, with their channels, one run of floats, and so
 * is each tap's input: the run shifted by whole pixels. So the run goes through in blocks of
 * up to four vectors across pixels, the weights (and bias) read from strips of period
 * L = lcm(C, 8) as BN's flat passes do: strip[q] = w[q % C], and a block k floats into the
 * run (which starts at channel 0) reads strip + k % L. Each element gets the per-pixel
 * loop's operations in its order (the taps of the rows inside the image in (kh, kw) order,
 * a multiply then an add, then the ReLU), so the bits are the same; the border pixels, and
 * every pixel at stride 2, take the per-pixel loop. */
#define DWF_MAXC 31
#define DWF_MAXTAPS 25                  /* 5x5 kernels and smaller */
#define DWF_STRIP (8 * DWF_MAXC + 8 * DW_V) /* L + 32 floats: a block reads 32 from its phase */

static int dw_flat(const struct ns_conv *c)
{
    return c->stride == 1 && c->cout <= DWF_MAXC && c->k * c->k <= DWF_MAXTAPS && !c->per_pixel;
}

/* The strips of period L of n consecutive C-float vectors (taps, or the bias) at src. */
static int dw_strips(int C, int n, const float *src, float *dst)
{
    int L = ns_strip_period(C);
    for (int t = 0; t < n; t++)
        for (int q = 0; q < L + 8 * DW_V; q++)
            dst[(size_t)t * DWF_STRIP + q] = src[(size_t)t * C + q % C];
    return L;
}

/* One block of nv vectors (the last masked by m when `partial`) at run offset k with phase
 * ph: out = init (or 0), + in * w for each tap (r, q) of the kernel rows that lie inside the
 * image, in (r, q) order; relu: the forward's fused ReLU. in[r] (NULL: kernel row r is
 * outside the image) points at the run's start for the tap of column 0; the tap of column
 * q reads it at + q*step. */
static inline __attribute__((always_inline)) void
dw_flat_block(const int nv, const int partial, __m256i m, int kk, int step,
              const float *const *in, const float *ws, const float *init, int relu, float *out,
              size_t k, int ph)
{
    v8 a[DW_V];
    for (int j = 0; j < nv; j++)
        a[j] = init ? dw_ld(init + 8 * j, j, nv, partial, m) : bc8(0);
    for (int r = 0; r < kk; r++) {
        if (!in[r])
            continue;
        for (int q = 0; q < kk; q++) {
            const float *ip = in[r] + k + (ptrdiff_t)q * step;
            const float *wp = ws + (size_t)(r * kk + q) * DWF_STRIP + ph;
            for (int j = 0; j < nv; j++)
                a[j] = a[j] + dw_ld(ip + 8 * j, j, nv, partial, m) *
                                  dw_ld(wp + 8 * j, j, nv, partial, m);
        }
    }
    for (int j = 0; j < nv; j++) {
        if (relu)
            a[j] = (v8)_mm256_and_ps(_mm256_cmp_ps((__m256)a[j], _mm256_setzero_ps(), _CMP_GT_OQ),
                                     (__m256)a[j]);
        dw_st(out + k + 8 * j, j, nv, partial, m, a[j]);
    }
}

/* A run of len floats: out[0, len) from in[] (dw_flat_block), in blocks of 4 vectors, the
 * last block 1-4 vectors with a partial last one. init: a bias strip (forward), or out
 * itself (the data gradient's acc), or NULL; its phase follows the weights' when a strip. */
static void dw_flat_run(int kk, int step, const float *const *in, const float *ws, int L,
                        const float *bstrip, int acc, int relu, float *out, size_t len)
{
    int ph = 0;
    for (size_t k = 0; k < len; k += 8 * DW_V) {
        size_t left = len - k;
        int nv = left >= 8 * DW_V ? DW_V : (int)((left + 7) / 8);
        int partial = left < 8 * DW_V && left % 8;
        __m256i m = lane_mask(partial ? (int)(left % 8) : 8);
        const float *init = acc ? out + k : bstrip ? bstrip + ph : NULL;
#define DWF(n, p)                                                                              \
    case 2 * (n) + (p):                                                                        \
        dw_flat_block(n, p, m, kk, step, in, ws, init, relu, out, k, ph);                     \
        break;
        switch (2 * nv + partial) {
            DWF(1, 0)
            DWF(1, 1)
            DWF(2, 0)
            DWF(2, 1)
            DWF(3, 0)
            DWF(3, 1)
            DWF(4, 0)
            DWF(4, 1)
        }
#undef DWF
        ph = (ph + 8 * DW_V) % L;
    }
}

static void dw_fwd_task(void *vp, int ith, int nth)
{
    struct conv_ctx *t = vp;
    const struct ns_conv *c = t->c;
    int lo, hi, C = c->cout;
    const float *bias = c->has_bias ? t->b : NULL;
    ns_split(t->n * c->ho, ith, nth, &lo, &hi);
    /* dw_flat: the interior columns [w0, w1) of each row as one run */
    int flat = dw_flat(c), L = 8, w0 = c->wo, w1 = c->wo, kk = c->k;
    float ws[DWF_MAXTAPS + 1][DWF_STRIP]; /* 28 KB of stack */
    if (flat) {
        L = dw_strips(C, kk * kk, t->w, ws[0]);
        if (bias)
            dw_strips(C, 1, bias, ws[kk * kk]);
        w0 = c->pad;
        w1 = c->w - kk + c->pad + 1 < c->wo ? c->w - kk + c->pad + 1 : c->wo;
        if (w1 < w0)
            w1 = w0;
    }
    for (int r = lo; r < hi; r++) {
        int img = r / c->ho, ho = r % c->ho;
        const float *x = t->x + (size_t)img * c->h * c->w * C;
        for (int wo = 0; wo < c->wo; wo++) {
            if (wo == w0 && w1 > w0) { /* the run's columns, below */
                wo = w1 - 1;
                continue;
            }
            float *y = t->y + (((size_t)img * c->ho + ho) * c->wo + wo) * C;
            DW_BLOCKS(C, dw_fwd_vec, c, x, t->w, bias, y, ho, wo)
        }
        if (w1 > w0) {
            const float *in[8];
            for (int q = 0; q < kk; q++) {
                int hi2 = ho - c->pad + q;
                in[q] = hi2 >= 0 && hi2 < c->h ? x + ((size_t)hi2 * c->w + w0 - c->pad) * C : NULL;
            }
            float *y = t->y + (((size_t)img * c->ho + ho) * c->wo + w0) * C;
            dw_flat_run(kk, C, in, ws[0], L, bias ? ws[kk * kk] : NULL, 0, c->relu, y,
                        (size_t)(w1 - w0) * C);
        }
    }
}

static void dw_bwd_data_task(void *vp, int ith, int nth)
{
    struct conv_ctx *t = vp;
    const struct ns_conv *c = t->c;
    int lo, hi, C = c->cout;
    ns_split(t->n * c->h, ith, nth, &lo, &hi);
    /* dw_flat: the columns [w0, w1) whose taps all reach output columns, as one run */
    int flat = dw_flat(c), L = 8, w0 = c->w, w1 = c->w, kk = c->k;
    float ws[DWF_MAXTAPS][DWF_STRIP];
    if (flat) {
        L = dw_strips(C, kk * kk, t->w, ws[0]);
        w0 = kk - 1 - c->pad;
        w1 = c->wo - c->pad < c->w ? c->wo - c->pad : c->w;
        if (w1 < w0)
            w1 = w0;
    }
    for (int r = lo; r < hi; r++) {
        int img = r / c->h, hh = r % c->h;
        const float *dy = t->dy + (size_t)img * c->ho * c->wo * C;
        for (int ww = 0; ww < c->w; ww++) {
            if (ww == w0 && w1 > w0) {
                ww = w1 - 1;
                continue;
            }
            float *dx = t->dx + (((size_t)img * c->h + hh) * c->w + ww) * C;
            DW_BLOCKS(C, dw_bwd_data_vec, c, dy, t->w, dx, t->acc, hh, ww)
        }
        if (w1 > w0) {
            const float *in[8];
            for (int q = 0; q < kk; q++) {
                int ho = hh + c->pad - q;
                in[q] = ho >= 0 && ho < c->ho ? dy + ((size_t)ho * c->wo + w0 + c->pad) * C
                                              : NULL;
            }
            float *dx = t->dx + (((size_t)img * c->h + hh) * c->w + w0) * C;
            dw_flat_run(kk, -C, in, ws[0], L, NULL, t->acc, 0, dx, (size_t)(w1 - w0) * C);
        }
    }
}

/* The weight gradient of a 3x3 layer of 8 channels or fewer over one image, all nine taps
 * in one pass: each tap's sum (in part, the thread's sums so far) stays in a register of
 * its own and takes the image's pixels in (ho, wo) order, as the per-tap passes of
 * dw_bwd_weight_vec add them, so the bits are the same; but x and dy are read once instead
 * of nine times, and the nine sums are independent chains instead of one at a time (at 2
 * channels the per-tap passes were bound by the latency of one add a pixel). */
static inline __attribute__((always_inline)) void
dw_bwd_weight_taps9(const int partial, __m256i m, const struct ns_conv *c, const float *x,
                    const float *dy, float *part)
{
    int C = c->cout;
    v8 a[9];
#pragma GCC unroll 9
    for (int u = 0; u < 9; u++)
        a[u] = dw_ld(part + (size_t)u * C, 0, 1, partial, m);
    for (int ho = 0; ho < c->ho; ho++)
        for (int wo = 0; wo < c->wo; wo++) {
            v8 g = dw_ld(dy + ((size_t)ho * c->wo + wo) * C, 0, 1, partial, m);
#pragma GCC unroll 3
            for (int kh = 0; kh < 3; kh++) {
                int hi2 = ho * c->stride - c->pad + kh;
                if (hi2 < 0 || hi2 >= c->h)
                    continue;
#pragma GCC unroll 3
                for (int kw = 0; kw < 3; kw++) {
                    int wi = wo * c->stride - c->pad + kw;
                    if (wi < 0 || wi >= c->w)
                        continue;
                    a[kh * 3 + kw] = a[kh * 3 + kw] +
                                     dw_ld(x + ((size_t)hi2 * c->w + wi) * C, 0, 1, partial, m) * g;
                }
            }
        }
#pragma GCC unroll 9
    for (int u = 0; u < 9; u++)
        dw_st(part + (size_t)u * C, 0, 1, partial, m, a[u]);
}

static void dw_bwd_weight_task(void *vp, int ith, int nth)
{
    struct conv_ctx *t = vp;
    const struct ns_conv *c = t->c;
    int lo, hi, C = c->cout, kk = c->k * c->k;
    ns_split(t->n, ith, nth, &lo, &hi);
    float *part = t->scratch + (size_t)ith * ((size_t)kk * C + C);
    memset(part, 0, sizeof(float) * ((size_t)kk * C + C));
    float *dbp = part + (size_t)kk * C;
    for (int img = lo; img < hi; img++) {
        const float *x = t->x + (size_t)img * c->h * c->w * C;
        const float *dy = t->dy + (size_t)img * c->ho * c->wo * C;
        for (int p = 0; p < c->ho * c->wo && c->has_bias; p++)
            for (int ch = 0; ch < C; ch++)
                dbp[ch] += dy[(size_t)p * C + ch];
        if (C <= 8 && c->k == 3 && !c->per_pixel) {
            if (C == 8)
                dw_bwd_weight_taps9(0, lane_mask(8), c, x, dy, part);
            else
                dw_bwd_weight_taps9(1, lane_mask(C), c, x, dy, part);
            continue;
        }
        for (int kh = 0; kh < c->k; kh++)
            for (int kw = 0; kw < c->k; kw++) {
                float *wp = part + (size_t)(kh * c->k + kw) * C;
                DW_BLOCKS(C, dw_bwd_weight_vec, c, x, dy, wp, kh, kw)
            }
    }
}

/* ---- grouped, blocks of 8 output channels ------------------------------------------- */

/* The data gradient's transposed weights: wt[b][kh][kw][jo][l] = weight from output
 * channel (o0 + jo) to input channel 8b + l, where o0 is the first output channel of the
 * block's group (g >= 8); for g = 2, 4 (small_group) the compact wt[b][kh][kw][j][l], from
 * output 8b + (l/g)*g + j. */
static void grouped_prepare(const struct ns_conv *c, const float *w, float *wt)
{
    int g = c->cpg, kk = c->k * c->k, gin = grouped_gin(c), blocks = c->cout / 8;
    for (int b = 0; b < blocks; b++)
        for (int q = 0; q < kk; q++) {
            float *tt = wt + ((size_t)b * kk + q) * gin * 8;
            int o0 = g >= 8 ? (8 * b / g) * g : 8 * b;
            if (small_group(c)) { /* tt[j][l]: from output (l/g)*g + j of lane l's group */
                for (int j = 0; j < g; j++)
                    for (int l = 0; l < 8; l++)
                        tt[j * 8 + l] =
                            w[((size_t)q * g + l % g) * c->cout + 8 * b + (l / g) * g + j];
                continue;
            }
            for (int jo = 0; jo < gin; jo++)
                for (int l = 0; l < 8; l++) {
                    int ci = 8 * b + l, co = o0 + jo;
                    int same = g >= 8 ? 1 : (jo / g == l / g);
                    tt[jo * 8 + l] = same ? w[((size_t)q * g + ci % g) * c->cout + co] : 0.0f;
                }
        }
}

/* The grouped kernel works on one image at a time through a zero-padded copy of its input
 * (forward, weight gradient) or a padded gradient buffer (data gradient), so no tap needs a
 * bounds check and every run of output pixels can share weight loads. */
static int padded_h(const struct ns_conv *c) { return c->h + 2 * c->pad + c->stride; }
static int padded_w(const struct ns_conv *c) { return c->w + 2 * c->pad + c->stride; }

static size_t g8_gather_floats(const struct ns_conv *c);

/* The larger of the padded input and the data gradient's padded dy. */
static size_t g8_image_floats(const struct ns_conv *c)
{
    size_t in = (size_t)padded_h(c) * padded_w(c) * c->cin;
    return in > g8_gather_floats(c) ? in : g8_gather_floats(c);
}

/* Per thread: the padded input and the dW, db partials at the end of the block (forward,
 * weight gradient), or the data gradient's padded dy (after the partials are reduced); with
 * pairs, the paired copy of either (twice its floats) right after it. */
static size_t g8_thread_floats(const struct ns_conv *c)
{
    size_t kk = (size_t)c->k * c->k, part = kk * c->cpg * c->cout + c->cout;
    if (g8_pairs_on(c))
        return 3 * g8_image_floats(c) + part;
    size_t in = (size_t)padded_h(c) * padded_w(c) * c->cin + part;
    return in > g8_gather_floats(c) ? in : g8_gather_floats(c);
}

/* The pair kernel's copy of an image src (h, w, ch; ch a multiple of 8) placed at row
 * `top`, column `left` of a zero frame `fw` columns wide: entry (r, col) of the copy is two
 * floats per channel, the framed image's value at (r, col) and at (r, col + step), so one
 * 64-bit load broadcasts a pixel's value and its pair partner's. Only the columns with
 * col % period < keep are filled (the ones a pair's first pixel reads), and only the rows
 * and columns that touch the image: the rest of dst is zero from the caller, once, since no
 * image writes there. */
struct pair_frame {
    int h, w, ch, top, left, fw, step, period, keep;
};

/* Two 16-channel runs interleaved: a0 b0 a1 b1 ... (AVX-512: only the pair kernel's path,
 * which runs on CPUs that have it, calls this). */
__attribute__((target("avx512f"))) static void interleave16(const float *a, const float *b,
                                                            float *d, int n)
{
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30,
                                         15, 31);
    for (int j = 0; j < n; j += 16) {
        __m512 x = _mm512_loadu_ps(a + j), y = _mm512_loadu_ps(b + j);
        _mm512_storeu_ps(d + 2 * j, _mm512_permutex2var_ps(x, lo, y));
        _mm512_storeu_ps(d + 2 * j + 16, _mm512_permutex2var_ps(x, hi, y));
    }
}

static void pair_image(const struct pair_frame *f, const float *src, float *dst)
{
    const int C = f->ch;
    for (int r = 0; r < f->h; r++) {
        const float *sr = src + (size_t)r * f->w * C;
        float *dr = dst + (size_t)(r + f->top) * f->fw * 2 * C;
        for (int col = 0; col < f->fw; col++) {
            int a = col - f->left, b = a + f->step;
            int ain = a >= 0 && a < f->w, bin = b >= 0 && b < f->w;
            if (col % f->period >= f->keep || (!ain && !bin))
                continue;
            float *d = dr + (size_t)col * 2 * C;
            if (!ain || !bin) {
                for (int j = 0; j < C; j++) {
                    d[2 * j] = ain ? sr[(size_t)a * C + j] : 0.0f;
                    d[2 * j + 1] = bin ? sr[(size_t)b * C + j] : 0.0f;
                }
                continue;
            }
            const float *pa = sr + (size_t)a * C, *pb = sr + (size_t)b * C;
            int j16 = C / 16 * 16;
            interleave16(pa, pb, d, j16);
            for (int j = j16; j < C; j += 8) {
                __m256 x = _mm256_loadu_ps(pa + j), y = _mm256_loadu_ps(pb + j);
                __m256 lo = _mm256_unpacklo_ps(x, y), hi = _mm256_unpackhi_ps(x, y);
                _mm256_storeu_ps(d + 2 * j, _mm256_permute2f128_ps(lo, hi, 0x20));
                _mm256_storeu_ps(d + 2 * j + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
            }
        }
    }
}

/* dup[i][2l + e] = src_i[l] for the 8 lanes l and e = 0, 1: the pair kernel's weights. */
static void double_lanes(const float *src, float *dup)
{
    for (int l = 0; l < 8; l++)
        dup[2 * l] = dup[2 * l + 1] = src[l];
}

/* Copy image x into the interior of xp; its border is zeroed by zero_border, once per task:
 * no image writes there. */
static void pad_image(const struct ns_conv *c, const float *x, float *xp)
{
    int pw = padded_w(c);
    for (int hh = 0; hh < c->h; hh++)
        memcpy(xp + ((size_t)(hh + c->pad) * pw + c->pad) * c->cin, x + (size_t)hh * c->w * c->cin,
               sizeof(float) * c->w * c->cin);
}

static void zero_border(const struct ns_conv *c, float *xp)
{
    memset(xp, 0, sizeof(float) * padded_h(c) * padded_w(c) * c->cin);
}

/* The grouped kernels' inner loop: np (1..8) pixels of one 8-channel block, each
 * out[q] = init + sum over taps u and j < gin of src[q][xoff[u] + j] * w[u][j*ws] (+ out[q]
 * when acc; ReLU when relu). np is a constant at each call (g8_run), so the accumulators
 * are registers: eight of them keep the FMA pipes busy where four were bound by the
 * latency. Each product is one fused multiply-add (fma8), in the order of the taps and then
 * of j. It was a multiply then an add, which ran as fast as FMAs on Zen 5 (its adds have
 * pipes of their own), but on Zen 3 this loop alone (8 pixels, 72 products a lane, data in
 * L1) ran at 52 GFLOP/s that way and at 65 with FMAs, and Intel cores issue multiplies and
 * adds on the same two ports as FMAs. Pixels may come from different rows: each has its own
 * source pointer. */
struct g8_taps {
    int n;
    long xoff[64];
    const float *w[64];
};

/* dst[q] = a[q] (+ dst[q] when acc; ReLU when relu) for the np pixels. */
static inline __attribute__((always_inline)) void g8_store(const int np, v8 *a, float *const *dst,
                                                           int acc, int relu)
{
    for (int q = 0; q < np; q++) {
        if (acc)
            a[q] += ld8(dst[q]);
        if (relu)
            a[q] = (v8)_mm256_max_ps((__m256)a[q], _mm256_setzero_ps());
        st8(dst[q], a[q]);
    }
}

static inline __attribute__((always_inline)) void
g8_pixels(const int np, const float *const *src, const struct g8_taps *tp, int gin, long ws,
          v8 init, float *const *dst, int acc, int relu)
{
    v8 a[8];
    for (int q = 0; q < np; q++)
        a[q] = init;
    for (int u = 0; u < tp->n; u++) {
        const float *w = tp->w[u];
        long xo = tp->xoff[u];
        for (int j = 0; j < gin; j++) {
            v8 wv = ld8(w + j * ws);
            for (int q = 0; q < np; q++)
                a[q] = fma8(a[q], bc8(src[q][xo + j]), wv);
        }
    }
    g8_store(np, a, dst, acc, relu);
}

/* Group widths 2 and 4 (g8 blocks hold 4 or 2 whole groups, which never straddle a 128-bit
 * lane): lane l of grp_x(x, g, j) is x[(l/g)*g + j], the j-th channel of lane l's group,
 * made by an in-lane shuffle. The sum over a group's g channels then takes g shuffles and
 * g multiply-adds a tap, not the 8 broadcasts and 8 multiply-adds (most of them by zero) of
 * the expanded block-diagonal weights; each lane adds the same products in the same order, so the bits
 * are those of the expanded form. */
static inline __attribute__((always_inline)) v8 grp_x(v8 x, const int g, const int j)
{
    __m256 m = (__m256)x;
    if (g == 2)
        return (v8)(j ? _mm256_permute_ps(m, 0xF5) : _mm256_permute_ps(m, 0xA0));
    switch (j) {
    case 0:
        return (v8)_mm256_permute_ps(m, 0x00);
    case 1:
        return (v8)_mm256_permute_ps(m, 0x55);
    case 2:
        return (v8)_mm256_permute_ps(m, 0xAA);
    default:
        return (v8)_mm256_permute_ps(m, 0xFF);
    }
}

/* g8_pixels for g = 2 or 4: out[q] = init + sum over taps u and j < g of lane-wise
 * grp_x(src[q] + xoff[u], g, j) * w[u][j*ws]. */
static inline __attribute__((always_inline)) void
gs_pixels(const int np, const int g, const float *const *src, const struct g8_taps *tp, long ws,
          v8 init, float *const *dst, int acc, int relu)
{
    v8 a[8];
    for (int q = 0; q < np; q++)
        a[q] = init;
    for (int u = 0; u < tp->n; u++) {
        const float *w = tp->w[u];
        const long xo = tp->xoff[u];
        v8 wv[4];
        for (int j = 0; j < g; j++)
            wv[j] = ld8(w + j * ws);
        for (int q = 0; q < np; q++) {
            const v8 x = ld8(src[q] + xo);
            for (int j = 0; j < g; j++) /* one product at a time: the expanded form's order */
                a[q] = fma8(a[q], grp_x(x, g, j), wv[j]);
        }
    }
    g8_store(np, a, dst, acc, relu);
}

/* g8_pixels (small 0) or gs_pixels (small = the group width, 2 or 4) on np pixels. */
static inline __attribute__((always_inline)) void
any_pixels(const int np, int small, const float *const *src, const struct g8_taps *tp, int gin,
           long ws, v8 init, float *const *dst, int acc, int relu)
{
    if (small == 2)
        gs_pixels(np, 2, src, tp, ws, init, dst, acc, relu);
    else if (small == 4)
        gs_pixels(np, 4, src, tp, ws, init, dst, acc, relu);
    else
        g8_pixels(np, src, tp, gin, ws, init, dst, acc, relu);
}

/* Pixels [0, npix) of a grid `wd` wide, in groups of 8 (then one by one): pixel p = (r, col)
 * reads src + r*sr + col*sc and writes dst + r*dr + col*dc; small: as any_pixels. */
static void g8_run(int npix, int wd, const float *src, long sr, long sc, float *dst, long dr,
                   long dc, const struct g8_taps *tp, int small, int gin, long ws, v8 init,
                   int acc, int relu)
{
    const float *sp[8];
    float *dp[8];
    int p = 0;
    for (; p + 8 <= npix; p += 8) {
        for (int q = 0; q < 8; q++) {
            int r = (p + q) / wd, col = (p + q) % wd;
            sp[q] = src + r * sr + col * sc;
            dp[q] = dst + r * dr + col * dc;
        }
        any_pixels(8, small, sp, tp, gin, ws, init, dp, acc, relu);
    }
    for (; p < npix; p++) {
        int r = p / wd, col = p % wd;
        sp[0] = src + r * sr + col * sc;
        dp[0] = dst + r * dr + col * dc;
        any_pixels(1, small, sp, tp, gin, ws, init, dp, acc, relu);
    }
}

/* The forward on pixel pairs (g8_pairs_s1): the padded
 * image's paired copy (a pixel's partner is the next output pixel of its row), the
 * doubled weights t->wdup ([block][tap][j][16]). */
static void g8_fwd_pairs_task(void *vp, int ith, int nth)
{
    struct conv_ctx *t = vp;
    const struct ns_conv *c = t->c;
    int lo, hi, gin = grouped_gin(c), blocks = c->cout / 8, S = c->stride, K = c->k;
    int pw = padded_w(c), kk = K * K;
    float *xq = t->scratch + (size_t)ith * g8_thread_floats(c) + g8_image_floats(c);
    ns_split(t->n, ith, nth, &lo, &hi);
    memset(xq, 0, sizeof(float) * 2 * padded_h(c) * pw * c->cin);
    const struct pair_frame fr = {c->h, c->w, c->cin, c->pad, c->pad, pw, S, 2 * S, K};
    long xoff[64];
    const float *wp[64];
    for (int q = 0; q < kk; q++)
        xoff[q] = 2 * ((long)(q / K) * pw + q % K) * c->cin;
    float init[16];
    struct ns_g8_pairs jb = {
        .rows = c->ho, .cols = c->wo, .sr = 2L * S * pw * c->cin, .sc = 4L * S * c->cin,
        .dr = (long)c->wo * c->cout, .dc = 2L * c->cout, .dnext = c->cout, .ntaps = kk,
        .xoff = xoff, .w = wp, .gin = gin, .relu = c->relu};
    for (int img = lo; img < hi; img++) {
        pair_image(&fr, t->x + (size_t)img * c->h * c->w * c->cin, xq);
        float *y = t->y + (size_t)img * c->ho * c->wo * c->cout;
        for (int b = 0; b < blocks; b++) {
            for (int q = 0; q < kk; q++)
                wp[q] = t->wdup + ((size_t)b * kk + q) * gin * 16;
            jb.init = NULL;
            if (c->has_bias && t->b) {
                double_lanes(t->b + 8 * b, init);
                jb.init = init;
            }
            jb.src = xq + 2 * (size_t)((8 * b / gin) * gin);
            jb.dst = y + 8 * b;
            ns_kern()->g8_pairs(&jb);
        }
    }
}

static void g8_fwd_task(void *vp, int ith, int nth)
{
    struct conv_ctx *t = vp;
    const struct ns_conv *c = t->c;
    int lo, hi, gin = grouped_gin(c), blocks = c->cout / 8, S = c->stride, K = c->k;
    int pw = padded_w(c);
    float *xp = t->scratch + (size_t)ith * g8_thread_floats(c);
    ns_split(t->n, ith, nth, &lo, &hi);
    zero_border(c, xp);
    struct g8_taps tp = {.n = K * K};
    for (int img = lo; img < hi; img++) {
        pad_image(c, t->x + (size_t)img * c->h * c->w * c->cin, xp);
        float *y = t->y + (size_t)img * c->ho * c->wo * c->cout;
        for (int b = 0; b < blocks; b++) {
            v8 bias = c->has_bias && t->b ? ld8(t->b + 8 * b) : bc8(0);
            if (small_group(c)) { /* W's own layout: tap q, channel j of the group, cout */
                for (int q = 0; q < K * K; q++) {
                    tp.xoff[q] = ((long)(q / K) * pw + q % K) * c->cin;
                    tp.w[q] = t->w + (size_t)q * c->cpg * c->cout + 8 * b;
                }
                g8_run(c->ho * c->wo, c->wo, xp + 8 * b, (long)S * pw * c->cin,
                       (long)S * c->cin, y + 8 * b, (long)c->wo * c->cout, c->cout, &tp, c->cpg,
                       0, c->cout, bias, 0, c->relu);
                continue;
            }
            /* g >= 8: the block reads its group's g input channels, W's own columns */
            const int ci0 = (8 * b / gin) * gin;
            for (int q = 0; q < K * K; q++) {
                tp.xoff[q] = ((long)(q / K) * pw + q % K) * c->cin;
                tp.w[q] = t->w + (size_t)q * gin * c->cout + 8 * b;
            }
            g8_run(c->ho * c->wo, c->wo, xp + ci0, (long)S * pw * c->cin, (long)S * c->cin,
                   y + 8 * b, (long)c->wo * c->cout, c->cout, &tp, 0, gin, c->cout, bias, 0,
                   c->relu);
        }
    }
}

/* Data gradient as a gather over the zero-padded gradient dyp (P = pad + 1 zero rows and
 * columns around dy). Input pixel (h, w) takes, from every tap (kh, kw) with h + pad - kh
 * and w + pad - kw multiples of the stride S, dy at ((h + pad - kh)/S, (w + pad - kw)/S)
 * times that tap's transposed weights. The input pixels of one phase (h mod S, w mod S)
 * form a grid with the same taps at the same offsets, so each phase is one g8_run: every
 * dx value is written once and eight pixels share each weight load (a scatter
 * read back and wrote 8 floats per pixel and tap). */
static int g8_gather_pad(const struct ns_conv *c) { return c->pad + 1; }

static size_t g8_gather_floats(const struct ns_conv *c)
{
    int P = g8_gather_pad(c);
    return (size_t)(c->ho + 2 * P) * (c->wo + 2 * P) * c->cout;
}

/* Taps of phase a (one axis): offsets (a + pad - k)/S for the k with a + pad - k a
 * multiple of S; returns their count. */
static int phase_taps(const struct ns_conv *c, int a, int *k_of, int *off)
{
    int n = 0;
    for (int k = 0; k < c->k; k++) {
        int num = a + c->pad - k;
        if ((num % c->stride + c->stride) % c->stride)
            continue;
        k_of[n] = k;
        off[n++] = num / c->stride; /* exact */
    }
    return n;
}

static void g8_bwd_data_gather_task(void *vp, int ith, int nth)
{
    struct conv_ctx *t = vp;
    const struct ns_conv *c = t->c;
    int lo, hi, gin = grouped_gin(c), blocks = c->cin / 8, K = c->k, kk = K * K, g = c->cpg;
    int S = c->stride, P = g8_gather_pad(c), pw = c->wo + 2 * P, C = c->cout, ci = c->cin;
    float *dyp = t->scratch + (size_t)ith * g8_thread_floats(c);
    float *dq = g8_pairs_on(c) ? dyp + g8_image_floats(c) : NULL;
    const struct pair_frame fr = {c->ho, c->wo, C, P, P, pw, 1, 1, 1};
    ns_split(t->n, ith, nth, &lo, &hi);
    memset(dq ? dq : dyp, 0, sizeof(float) * g8_gather_floats(c) * (dq ? 2 : 1));
    for (int img = lo; img < hi; img++) {
        const float *dy = t->dy + (size_t)img * c->ho * c->wo * C;
        if (dq) /* pairs: the paired copy only */
            pair_image(&fr, dy, dq);
        else
            for (int ho = 0; ho < c->ho; ho++)
                memcpy(dyp + ((size_t)(ho + P) * pw + P) * C, dy + (size_t)ho * c->wo * C,
                       sizeof(float) * c->wo * C);
        float *dx = t->dx + (size_t)img * c->h * c->w * ci;
        for (int ah = 0; ah < S && ah < c->h; ah++)
            for (int aw = 0; aw < S && aw < c->w; aw++) {
                int kh_of[8], offh[8], kw_of[8], offw[8];
                int nh = phase_taps(c, ah, kh_of, offh), nw = phase_taps(c, aw, kw_of, offw);
                int rows = (c->h - ah + S - 1) / S, cols = (c->w - aw + S - 1) / S;
                if (dq) { /* pairs: a pixel's partner is the next one of the phase's row */
                    long xoff[64];
                    const float *wp[64];
                    struct ns_g8_pairs jb = {
                        .rows = rows, .cols = cols, .sr = 2L * pw * C, .sc = 4L * C,
                        .dr = (long)S * c->w * ci, .dc = 2L * S * ci, .dnext = (long)S * ci,
                        .ntaps = nh * nw, .xoff = xoff, .w = wp, .gin = gin, .acc = t->acc};
                    for (int u = 0; u < nh; u++)
                        for (int v = 0; v < nw; v++)
                            xoff[u * nw + v] = 2 * ((long)offh[u] * pw + offw[v]) * C;
                    for (int b = 0; b < blocks; b++) {
                        for (int u = 0; u < nh; u++)
                            for (int v = 0; v < nw; v++)
                                wp[u * nw + v] =
                                    t->wdup + ((size_t)b * kk + kh_of[u] * K + kw_of[v]) * gin * 16;
                        jb.src = dq + 2 * (((size_t)P * pw + P) * C + (8 * b / g) * g);
                        jb.dst = dx + ((size_t)ah * c->w + aw) * ci + 8 * b;
                        ns_kern()->g8_pairs(&jb);
                    }
                    continue;
                }
                for (int b = 0; b < blocks; b++) {
                    int o0 = g >= 8 ? (8 * b / g) * g : 8 * b;
                    const float *wtb = t->wt + (size_t)b * kk * gin * 8;
                    struct g8_taps tp = {.n = nh * nw};
                    for (int u = 0; u < nh; u++)
                        for (int v = 0; v < nw; v++) {
                            tp.xoff[u * nw + v] = ((long)offh[u] * pw + offw[v]) * C;
                            tp.w[u * nw + v] = wtb + (size_t)(kh_of[u] * K + kw_of[v]) * gin * 8;
                        }
                    g8_run(rows * cols, cols, dyp + ((size_t)P * pw + P) * C + o0, (long)pw * C,
                           C, dx + ((size_t)ah * c->w + aw) * ci + 8 * b, (long)S * c->w * ci,
                           (long)S * ci, &tp, small_group(c) ? g : 0, gin, 8, bc8(0), t->acc, 0);
                }
            }
    }
}

static void g8_bwd_weight_task(void *vp, int ith, int nth)
{
    struct conv_ctx *t = vp;
    const struct ns_conv *c = t->c;
    int lo, hi, gin = grouped_gin(c), blocks = c->cout / 8, K = c->k, kk = K * K, g = c->cpg;
    int S = c->stride, pw = padded_w(c);
    float *xp = t->scratch + (size_t)ith * g8_thread_floats(c);
    size_t part_len = (size_t)kk * g * c->cout + c->cout;
    float *part = xp + g8_thread_floats(c) - part_len; /* the end of the thread's block */
    memset(part, 0, sizeof(float) * part_len);
    ns_split(t->n, ith, nth, &lo, &hi);
    /* tap pairs (g8_pairs_s1): x's paired copy, step one column, instead of its padded copy */
    float *xq = g8_pairs_s1(c) ? xp + g8_image_floats(c) : NULL;
    const struct pair_frame fr = {c->h, c->w, c->cin, c->pad, c->pad, pw, 1, 1, 1};
    if (xq)
        memset(xq, 0, sizeof(float) * 2 * padded_h(c) * pw * c->cin);
    else
        zero_border(c, xp);
    for (int img = lo; img < hi; img++) {
        if (xq)
            pair_image(&fr, t->x + (size_t)img * c->h * c->w * c->cin, xq);
        else
            pad_image(c, t->x + (size_t)img * c->h * c->w * c->cin, xp);
        const float *dy = t->dy + (size_t)img * c->ho * c->wo * c->cout;
        for (int b = 0; b < blocks; b++) {
            int ci0 = g >= 8 ? (8 * b / g) * g : 8 * b;
            for (int kh = 0; xq && kh < K; kh++)
                for (int kw = 0; kw < K; kw += 2) { /* taps (kh, kw) and (kh, kw + 1) */
                    int q = kh * K + kw;
                    for (int j0 = 0; j0 < gin; j0 += 8) {
                        float *p0 = part + ((size_t)q * g + j0) * c->cout + 8 * b;
                        struct ns_g8_wpairs jb = {
                            .rows = c->ho, .cols = c->wo, .sr = 2L * S * pw * c->cin,
                            .sc = 2L * S * c->cin, .dy = dy + 8 * b,
                            .dr = (long)c->wo * c->cout, .dc = c->cout, .part0 = p0,
                            .part1 = kw + 1 < K ? p0 + (size_t)g * c->cout : NULL,
                            .pj = c->cout};
                        jb.src = xq + 2 * (((size_t)kh * pw + kw) * c->cin + ci0 + j0);
                        ns_kern()->g8_wpairs(&jb);
                    }
                }
            for (int q = 0; q < kk && small_group(c); q++) {
                /* acc[j][l] = sum over pixels of dy[l] * x[(l/g)*g + j]: the expanded form's
                 * nonzero tiles, summed in the same order */
                int kh = q / K, kw = q % K;
                v8 acc[4] = {bc8(0), bc8(0), bc8(0), bc8(0)};
                for (int ho = 0; ho < c->ho; ho++) {
                    const float *xr = xp + ((size_t)(ho * S + kh) * pw + kw) * c->cin + ci0;
                    const float *dr = dy + (size_t)ho * c->wo * c->cout + 8 * b;
                    if (g == 2)
                        for (int wo = 0; wo < c->wo; wo++) {
                            v8 d = ld8(dr + (size_t)wo * c->cout);
                            v8 x = ld8(xr + (size_t)wo * S * c->cin);
                            acc[0] = fma8(acc[0], grp_x(x, 2, 0), d);
                            acc[1] = fma8(acc[1], grp_x(x, 2, 1), d);
                        }
                    else
                        for (int wo = 0; wo < c->wo; wo++) {
                            v8 d = ld8(dr + (size_t)wo * c->cout);
                            v8 x = ld8(xr + (size_t)wo * S * c->cin);
                            acc[0] = fma8(acc[0], grp_x(x, 4, 0), d);
                            acc[1] = fma8(acc[1], grp_x(x, 4, 1), d);
                            acc[2] = fma8(acc[2], grp_x(x, 4, 2), d);
                            acc[3] = fma8(acc[3], grp_x(x, 4, 3), d);
                        }
                }
                for (int j = 0; j < g; j++) {
                    float *pp = part + ((size_t)q * g + j) * c->cout + 8 * b;
                    st8(pp, ld8(pp) + acc[j]);
                }
            }
            for (int q = 0; !xq && q < kk && !small_group(c); q++) {
                int kh = q / K, kw = q % K;
                for (int j0 = 0; j0 < gin; j0 += 8) {
                    v8 acc[8];
                    for (int j = 0; j < 8; j++)
                        acc[j] = bc8(0);
                    for (int ho = 0; ho < c->ho; ho++) {
                        const float *xr = xp + ((size_t)(ho * S + kh) * pw + kw) * c->cin + ci0 + j0;
                        const float *dr = dy + (size_t)ho * c->wo * c->cout + 8 * b;
                        for (int wo = 0; wo < c->wo; wo++) {
                            v8 d = ld8(dr + (size_t)wo * c->cout);
                            const float *x0 = xr + (size_t)wo * S * c->cin;
                            for (int j = 0; j < 8; j++)
                                acc[j] = fma8(acc[j], bc8(x0[j]), d);
                        }
                    }
                    /* Fold the 8 x 8 tile into W's layout, keeping only real connections:
                     * all of them when g >= 8 (input channel j0 + j, the block's 8 outputs) */
                    if (g >= 8) {
                        for (int j = 0; j < 8; j++) {
                            float *pp = part + ((size_t)q * g + j0 + j) * c->cout + 8 * b;
                            st8(pp, ld8(pp) + acc[j]);
                        }
                        continue;
                    }
                    for (int j = 0; j < 8; j++)
                        for (int l = 0; l < 8; l++) {
                            int jj = j0 + j;
                            if (g < 8 && jj / g != l / g)
                                continue;
                            part[((size_t)q * g + jj % g) * c->cout + 8 * b + l] += acc[j][l];
                        }
                }
            }
            if (c->has_bias) {
                float *dbp = part + (size_t)kk * g * c->cout + 8 * b;
                for (int p = 0; p < c->ho * c->wo; p++)
                    for (int l = 0; l < 8; l++)
                        dbp[l] += dy[(size_t)p * c->cout + 8 * b + l];
            }
        }
    }
}

/* ---- grouped, channel counts that are not a multiple of 8 ------------------------------
 * Group widths 2 and 4 at 28, 36 or 60 channels (AnyNet bottlenecks: w*b) would fall to the
 * generic loops, 10-15 times slower than the grouped kernel. They run that kernel on the
 * layer padded to a multiple of 8 channels: x, dy and W are copied with zero channels (W:
 * zero output columns) added, the extra channels making groups of their own, and y, dx and
 * the real columns of dW and db are copied back. A channel's sums are the grouped kernel's,
 * with zeros added for the taps that fall on the border. */
struct chcopy_ctx {
    const float *src;
    float *dst;
    size_t rows;
    int sw, dw, n;   /* row widths of src and dst; n floats copied a row (the rest zeroed) */
    int acc;         /* dst += src instead of = */
};

static void chcopy_task(void *vp, int ith, int nth)
{
    struct chcopy_ctx *t = vp;
    size_t lo = t->rows * (size_t)ith / (size_t)nth, hi = t->rows * (size_t)(ith + 1) / (size_t)nth;
    for (size_t r = lo; r < hi; r++) {
        const float *s = t->src + r * t->sw;
        float *d = t->dst + r * t->dw;
        if (t->acc)
            for (int i = 0; i < t->n; i++)
                d[i] += s[i];
        else
            memcpy(d, s, sizeof(float) * t->n);
        if (t->dw > t->n)
            memset(d + t->n, 0, sizeof(float) * (t->dw - t->n));
    }
}

/* rows of src (width sw) into dst (width dw): the first n floats, the rest of dst zeroed */
static void chcopy(struct ns_pool *p, const float *src, int sw, float *dst, int dw, size_t rows,
                   int n, int acc)
{
    struct chcopy_ctx t = {src, dst, rows, sw, dw, n, acc};
    ns_pool_run(p, chcopy_task, &t);
}

struct padded8_bufs {
    struct ns_conv pc;
    float *x, *y, *dx, *w, *dw, *inner;
};

static struct padded8_bufs padded8_bufs(const struct ns_conv *c, int n, float *scratch)
{
    struct padded8_bufs b;
    padded8_conv(c, &b.pc);
    size_t c8 = (size_t)b.pc.cout, in = (size_t)n * c->h * c->w * c8;
    size_t wl = padded8_wlen(c, &b.pc);
    b.x = b.dx = scratch; /* see padded8_floats */
    b.y = b.x + in;
    b.w = b.y + (size_t)n * c->ho * c->wo * c8;
    b.dw = b.w + wl;
    b.inner = b.dw + wl;
    return b;
}

/* Row r of W (k*k taps of g rows of cout) in the padded layer's W (k*k taps of pg rows of
 * c8): the same tap and input channel. pg is g, or 8 for one group of 8 in place of g < 8
 * inputs (the rows after each tap's g stay zero). */
static float *padded8_row(const struct padded8_bufs *b, float *pw, int g, int r)
{
    return pw + ((size_t)(r / g) * b->pc.cpg + r % g) * b->pc.cout;
}

/* W and the bias into b.w, zero columns, rows and bias added */
static void padded8_weights(const struct ns_conv *c, const float *w, const float *bias,
                            const struct padded8_bufs *b)
{
    int c8 = b->pc.cout, g = c->cpg;
    size_t wl = padded8_wlen(c, &b->pc);
    memset(b->w, 0, sizeof(float) * wl);
    for (int r = 0; r < c->k * c->k * g; r++)
        memcpy(padded8_row(b, b->w, g, r), w + (size_t)r * c->cout, sizeof(float) * c->cout);
    if (bias)
        memcpy(b->w + wl - c8, bias, sizeof(float) * c->cout);
}

static void padded8_forward(struct ns_pool *p, const struct ns_conv *c, int n, const float *x,
                            const float *w, const float *bias, float *y, float *scratch)
{
    struct padded8_bufs b = padded8_bufs(c, n, scratch);
    int c8 = b.pc.cout;
    chcopy(p, x, c->cin, b.x, c8, (size_t)n * c->h * c->w, c->cin, 0);
    padded8_weights(c, w, c->has_bias ? bias : NULL, &b);
    ns_conv_forward(p, &b.pc, n, b.x, b.w,
                    c->has_bias && bias ? b.w + padded8_wlen(c, &b.pc) - c8 : NULL, b.y,
                    b.inner);
    chcopy(p, b.y, c8, y, c->cout, (size_t)n * c->ho * c->wo, c->cout, 0);
}

static void padded8_backward(struct ns_pool *p, const struct ns_conv *c, int n, const float *x,
                             const float *w, const float *dy, float *dx, int acc, float *dw,
                             float *db, float *scratch)
{
    struct padded8_bufs b = padded8_bufs(c, n, scratch);
    int c8 = b.pc.cout, g = c->cpg;
    size_t wl = padded8_wlen(c, &b.pc);
    chcopy(p, x, c->cin, b.x, c8, (size_t)n * c->h * c->w, c->cin, 0);
    chcopy(p, dy, c->cout, b.y, c8, (size_t)n * c->ho * c->wo, c->cout, 0);
    if (dx)
        padded8_weights(c, w, NULL, &b);
    memset(b.dw, 0, sizeof(float) * wl);
    float *pdb = b.dw + wl - c8;
    ns_conv_backward(p, &b.pc, n, b.x, b.w, b.y, dx ? b.dx : NULL, 0, b.dw,
                     c->has_bias && db ? pdb : NULL, b.inner);
    for (int r = 0; r < c->k * c->k * g; r++) {
        const float *s = padded8_row(&b, b.dw, g, r);
        float *d = dw + (size_t)r * c->cout;
        for (int i = 0; i < c->cout; i++)
            d[i] += s[i];
    }
    if (c->has_bias && db)
        for (int i = 0; i < c->cout; i++)
            db[i] += pdb[i];
    if (dx)
        chcopy(p, b.dx, c8, dx, c->cin, (size_t)n * c->h * c->w, c->cin, acc);
}

/* ---- generic grouped (any shape; slow, for odd widths) ------------------------------ */

static void gen_fwd_task(void *vp, int ith, int nth)
{
    struct conv_ctx *t = vp;
    const struct ns_conv *c = t->c;
    int lo, hi, g = c->cpg, opg = c->cout / c->groups;
    ns_split(t->n * c->ho, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        int img = r / c->ho, ho = r % c->ho;
        const float *x = t->x + (size_t)img * c->h * c->w * c->cin;
        for (int wo = 0; wo < c->wo; wo++) {
            float *y = t->y + (((size_t)img * c->ho + ho) * c->wo + wo) * c->cout;
            for (int co = 0; co < c->cout; co++) {
                int ci0 = (co / opg) * g;
                float s = c->has_bias && t->b ? t->b[co] : 0.0f;
                for (int kh = 0; kh < c->kh; kh++) {
                    int hi2 = ho * c->stride - c->pad_h + kh;
                    if (hi2 < 0 || hi2 >= c->h)
                        continue;
                    for (int kw = 0; kw < c->kw; kw++) {
                        int wi = wo * c->stride - c->pad_w + kw;
                        if (wi < 0 || wi >= c->w)
                            continue;
                        const float *xp = x + ((size_t)hi2 * c->w + wi) * c->cin + ci0;
                        const float *wp = t->w + (size_t)(kh * c->kw + kw) * g * c->cout + co;
                        for (int j = 0; j < g; j++)
                            s += xp[j] * wp[(size_t)j * c->cout];
                    }
                }
                y[co] = c->relu && s < 0 ? 0.0f : s;
            }
        }
    }
}

static void gen_bwd_data_task(void *vp, int ith, int nth)
{
    struct conv_ctx *t = vp;
    const struct ns_conv *c = t->c;
    int lo, hi, g = c->cpg, opg = c->cout / c->groups;
    ns_split(t->n * c->h, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        int img = r / c->h, hh = r % c->h;
        const float *dy = t->dy + (size_t)img * c->ho * c->wo * c->cout;
        for (int ww = 0; ww < c->w; ww++) {
            float *dx = t->dx + (((size_t)img * c->h + hh) * c->w + ww) * c->cin;
            for (int ci = 0; ci < c->cin; ci++) {
                int gi = ci / g, j = ci % g;
                float s = t->acc ? dx[ci] : 0.0f;
                for (int kh = 0; kh < c->kh; kh++) {
                    int ho = tap_source(hh, kh, c->pad_h, c->stride, c->ho);
                    if (ho < 0)
                        continue;
                    for (int kw = 0; kw < c->kw; kw++) {
                        int wo = tap_source(ww, kw, c->pad_w, c->stride, c->wo);
                        if (wo < 0)
                            continue;
                        const float *dp = dy + ((size_t)ho * c->wo + wo) * c->cout;
                        const float *wp = t->w + ((size_t)(kh * c->kw + kw) * g + j) * c->cout;
                        for (int co = gi * opg; co < (gi + 1) * opg; co++)
                            s += dp[co] * wp[co];
                    }
                }
                dx[ci] = s;
            }
        }
    }
}

static void gen_bwd_weight_task(void *vp, int ith, int nth)
{
    struct conv_ctx *t = vp;
    const struct ns_conv *c = t->c;
    int lo, hi, g = c->cpg, opg = c->cout / c->groups, kk = c->kh * c->kw;
    size_t part_len = (size_t)kk * g * c->cout + c->cout;
    float *part = t->scratch + (size_t)ith * part_len;
    memset(part, 0, sizeof(float) * part_len);
    ns_split(t->n, ith, nth, &lo, &hi);
    for (int img = lo; img < hi; img++) {
        const float *x = t->x + (size_t)img * c->h * c->w * c->cin;
        for (int ho = 0; ho < c->ho; ho++)
            for (int wo = 0; wo < c->wo; wo++) {
                const float *dp = t->dy + (((size_t)img * c->ho + ho) * c->wo + wo) * c->cout;
                if (c->has_bias)
                    for (int co = 0; co < c->cout; co++)
                        part[(size_t)kk * g * c->cout + co] += dp[co];
                for (int kh = 0; kh < c->kh; kh++) {
                    int hi2 = ho * c->stride - c->pad_h + kh;
                    if (hi2 < 0 || hi2 >= c->h)
                        continue;
                    for (int kw = 0; kw < c->kw; kw++) {
                        int wi = wo * c->stride - c->pad_w + kw;
                        if (wi < 0 || wi >= c->w)
                            continue;
                        const float *xp = x + ((size_t)hi2 * c->w + wi) * c->cin;
                        for (int co = 0; co < c->cout; co++) {
                            int ci0 = (co / opg) * g;
                            float *wp = part + (size_t)(kh * c->kw + kw) * g * c->cout + co;
                            for (int j = 0; j < g; j++)
                                wp[(size_t)j * c->cout] += xp[ci0 + j] * dp[co];
                        }
                    }
                }
            }
    }
}

/* ---- dispatch ----------------------------------------------------------------------- */

void ns_conv_forward(struct ns_pool *p, const struct ns_conv *c, int n, const float *x,
                     const float *w, const float *b, float *y, float *scratch)
{
    struct conv_ctx t = {.c = c, .n = n, .x = x, .w = w, .b = b, .y = y, .scratch = scratch};
    switch (kind_of(c)) {
    case K_GEMM1:
        gemm1_forward(p, c, n, x, w, y, scratch);
        post_forward(p, c, (size_t)n * c->ho * c->wo, b, y);
        break;
    case K_GROUP1:
        group1_forward(p, c, n, x, w, y);
        post_forward(p, c, (size_t)n * c->ho * c->wo, b, y);
        break;
    case K_IM2COL:
        ns_pool_run(p, im2col_fwd_task, &t);
        post_forward(p, c, (size_t)n * c->ho * c->wo, b, y);
        break;
    case K_DEPTHWISE:
        ns_pool_run(p, dw_fwd_task, &t);
        break;
    case K_GROUPED8:
        t.scratch = scratch + g8_wfloats(c);
        if (g8_pairs_s1(c)) { /* doubled weights: block, tap, channel */
            float *dup = scratch + g8_wlen(c);
            int kk = c->k * c->k, gin = grouped_gin(c);
            for (int bl = 0; bl < c->cout / 8; bl++)
                for (int q = 0; q < kk; q++)
                    for (int j = 0; j < gin; j++)
                        double_lanes(w + ((size_t)q * gin + j) * c->cout + 8 * bl,
                                     dup + (((size_t)bl * kk + q) * gin + j) * 16);
            t.wdup = dup;
            ns_pool_run(p, g8_fwd_pairs_task, &t);
        } else
            ns_pool_run(p, g8_fwd_task, &t);
        break;
    case K_PADDED8:
        padded8_forward(p, c, n, x, w, b, y, scratch);
        break;
    case K_GENERIC:
        ns_pool_run(p, gen_fwd_task, &t);
        break;
    }
}

void ns_conv_backward(struct ns_pool *p, const struct ns_conv *c, int n, const float *x,
                      const float *w, const float *dy, float *dx, int acc, float *dw,
                      float *db, float *scratch)
{
    int nth = ns_pool_size(p), kk = c->kh * c->kw;
    size_t rows = (size_t)n * c->ho * c->wo;
    size_t part_len = (size_t)kk * c->cpg * c->cout + c->cout;
    struct conv_ctx t = {.c = c, .n = n, .x = x, .w = w, .dy = dy, .dx = dx, .dw = dw,
                         .scratch = scratch, .acc = acc};
    switch (kind_of(c)) {
    case K_GEMM1: {
        size_t off = c->stride == 1 ? 0 : 2 * rows * c->cin;
        gemm1_backward(p, c, n, x, w, dy, dx, acc, dw, scratch);
        bias_backward(p, c, rows, dy, db, scratch + off);
        break;
    }
    case K_GROUP1:
        group1_backward(p, c, n, x, w, dy, dx, acc, dw, scratch);
        bias_backward(p, c, rows, dy, db, scratch);
        break;
    case K_IM2COL: {
        /* W^T first (the B of dcol = dy W^T), then the threads' buffers; partial dW of
         * thread i sits after its two column buffers */
        size_t wlen = (size_t)kk * c->cin * c->cout;
        if (dx)
            transpose(kk * c->cin, c->cout, w, scratch);
        t.wt = scratch;
        t.scratch = scratch + wlen;
        ns_pool_run(p, im2col_bwd_task, &t);
        size_t colf = 2 * (size_t)c->ho * c->wo * kk * c->cin;
        reduce_partials(p, t.scratch + colf, nth, wlen, im2col_thread_floats(c), dw);
        bias_backward(p, c, rows, dy, db, scratch);
        break;
    }
    case K_DEPTHWISE:
        ns_pool_run(p, dw_bwd_weight_task, &t);
        reduce_partials(p, scratch, nth, (size_t)kk * c->cout, part_len, dw);
        if (c->has_bias && db)
            reduce_partials(p, scratch + (size_t)kk * c->cout, nth, c->cout, part_len, db);
        if (dx)
            ns_pool_run(p, dw_bwd_data_task, &t);
        break;
    case K_GROUPED8: {
        size_t wlen = g8_wlen(c);
        float *thr = scratch + g8_wfloats(c); /* after the data gradient's weights */
        size_t tf = g8_thread_floats(c), xlen = tf - part_len;
        t.scratch = thr;
        ns_pool_run(p, g8_bwd_weight_task, &t); /* the last read of x: dx may alias it */
        reduce_partials(p, thr + xlen, nth, (size_t)kk * c->cpg * c->cout, tf, dw);
        if (c->has_bias && db)
            reduce_partials(p, thr + xlen + (size_t)kk * c->cpg * c->cout, nth, c->cout, tf, db);
        if (dx) {
            grouped_prepare(c, w, scratch);
            t.wt = scratch;
            if (g8_pairs_on(c)) {
                for (size_t i = 0; i < wlen / 8; i++)
                    double_lanes(scratch + 8 * i, scratch + wlen + 16 * i);
                t.wdup = scratch + wlen;
            }
            ns_pool_run(p, g8_bwd_data_gather_task, &t); /* its buffer fits the thread's */
        }
        break;
    }
    case K_PADDED8:
        padded8_backward(p, c, n, x, w, dy, dx, acc, dw, db, scratch);
        break;
    case K_GENERIC:
        ns_pool_run(p, gen_bwd_weight_task, &t);
        reduce_partials(p, scratch, nth, (size_t)kk * c->cpg * c->cout, part_len, dw);
        if (c->has_bias && db)
            reduce_partials(p, scratch + (size_t)kk * c->cpg * c->cout, nth, c->cout, part_len, db);
        if (dx)
            ns_pool_run(p, gen_bwd_data_task, &t);
        break;
    }
}
