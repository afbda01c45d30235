/* Elementwise ops (activations, residual add, channel scale) and global average pooling:
 * all memory-bound loops split over static ranges. */
#include "nn/ops.h"
#include "nn/vmath.h"

#include <math.h>
#include <string.h>

struct ew_ctx {
    size_t len;
    const float *a, *b, *c;
    float *y, *d1, *d2;
    int flag, acc1, acc2;
    enum ns_act act;
    int n, hw, ch;
};

static void span(size_t len, int ith, int nth, size_t *lo, size_t *hi)
{
    /* split on multiples of 16 floats so threads never share a cache line */
    size_t blocks = (len + 15) / 16;
    *lo = blocks * ith / nth * 16;
    *hi = blocks * (ith + 1) / nth * 16;
    if (*hi > len)
        *hi = len;
    if (*lo > len)
        *lo = len;
}

/* The activations run in place too (x == y), so the compiler versions their loops on an
 * overlap check that fails and runs them scalar; `#pragma GCC ivdep` says what is true of
 * every loop here: element i reads and writes only index i. */
static inline float sigmoidf(float v) { return 1.0f / (1.0f + ns_vexpf(-v)); }

/* GELU's derivative, Phi(x) + x phi(x); vmath.h's erf and exp so its loop vectorizes. */
static inline float gelu_grad(float x)
{
    float cdf = 0.5f * (1.0f + ns_verff(x * (float)M_SQRT1_2));
    float pdf = ns_vexpf(-0.5f * x * x) * 0.3989422804014327f;
    return cdf + x * pdf;
}

static void act_fwd_task(void *vp, int ith, int nth)
{
    struct ew_ctx *t = vp;
    size_t lo, hi;
    span(t->len, ith, nth, &lo, &hi);
    const float *restrict x = t->a;
    float *restrict y = t->y;
    switch (t->act) {
    case NS_ACT_RELU:
        for (size_t i = lo; i < hi; i++)
            y[i] = x[i] > 0 ? x[i] : 0.0f;
        break;
    case NS_ACT_SILU:
        #pragma GCC ivdep
        for (size_t i = lo; i < hi; i++)
            y[i] = x[i] * sigmoidf(x[i]);
        break;
    case NS_ACT_RELU6:
        for (size_t i = lo; i < hi; i++)
            y[i] = x[i] > 0 ? (x[i] < 6.0f ? x[i] : 6.0f) : 0.0f;
        break;
    case NS_ACT_GELU:
        #pragma GCC ivdep
        for (size_t i = lo; i < hi; i++)
            y[i] = 0.5f * x[i] * (1.0f + ns_verff(x[i] * (float)M_SQRT1_2));
        break;
    default:
        #pragma GCC ivdep
        for (size_t i = lo; i < hi; i++)
            y[i] = sigmoidf(x[i]);
        break;
    }
}

void ns_act_forward(struct ns_pool *p, enum ns_act a, size_t len, const float *x, float *y)
{
    struct ew_ctx t = {.len = len, .a = x, .y = y, .act = a};
    ns_pool_run(p, act_fwd_task, &t);
}

/* ReLU's gradient in loops of their own: the switch over activations in the general loop
 * below kept the compiler from vectorizing the commonest case (11 % of a ShuffleNet v1
 * step, profiled). The same selects, so the same bits. */
static void relu_bwd(size_t lo, size_t hi, const float *y, const float *dy, int acc, float *dx)
{
    if (acc)
        for (size_t i = lo; i < hi; i++)
            dx[i] += y[i] > 0 ? dy[i] : 0.0f;
    else
        for (size_t i = lo; i < hi; i++)
            dx[i] = y[i] > 0 ? dy[i] : 0.0f;
}

static void act_bwd_task(void *vp, int ith, int nth)
{
    struct ew_ctx *t = vp;
    size_t lo, hi;
    span(t->len, ith, nth, &lo, &hi);
    const float *x = t->a, *y = t->b, *dy = t->c;
    float *dx = t->d1;
    if (t->act == NS_ACT_RELU) {
        relu_bwd(lo, hi, y, dy, t->acc1, dx);
        return;
    }
    if (t->act == NS_ACT_GELU) { /* the same product as the general loop's, vectorized */
        if (t->acc1)
            #pragma GCC ivdep
            for (size_t i = lo; i < hi; i++)
                dx[i] += dy[i] * gelu_grad(x[i]);
        else
            #pragma GCC ivdep
            for (size_t i = lo; i < hi; i++)
                dx[i] = dy[i] * gelu_grad(x[i]);
        return;
    }
    for (size_t i = lo; i < hi; i++) {
        float g;
        switch (t->act) {
        case NS_ACT_RELU:
            g = y[i] > 0 ? dy[i] : 0.0f;
            break;
        case NS_ACT_GELU:
            g = dy[i] * gelu_grad(x[i]);
            break;
        case NS_ACT_RELU6: /* torch's hardtanh: the gradient flows strictly inside (0, 6) */
            g = x[i] > 0 && x[i] < 6.0f ? dy[i] : 0.0f;
            break;
        case NS_ACT_SILU: {
            float s = sigmoidf(x[i]);
            g = dy[i] * s * (1.0f + x[i] * (1.0f - s));
            break;
        }
        default:
            g = dy[i] * y[i] * (1.0f - y[i]);
            break;
        }
        dx[i] = t->acc1 ? dx[i] + g : g;
    }
}

void ns_act_backward(struct ns_pool *p, enum ns_act a, size_t len, const float *x,
                     const float *y, const float *dy, float *dx, int acc)
{
    struct ew_ctx t = {.len = len, .a = x, .b = y, .c = dy, .d1 = dx, .acc1 = acc, .act = a};
    ns_pool_run(p, act_bwd_task, &t);
}

static void add_fwd_task(void *vp, int ith, int nth)
{
    struct ew_ctx *t = vp;
    size_t lo, hi;
    span(t->len, ith, nth, &lo, &hi);
    const float *restrict a = t->a, *restrict b = t->b;
    float *restrict y = t->y;
    if (t->flag)
        for (size_t i = lo; i < hi; i++) {
            float v = a[i] + b[i];
            y[i] = v > 0 ? v : 0.0f;
        }
    else
        for (size_t i = lo; i < hi; i++)
            y[i] = a[i] + b[i];
}

void ns_add_forward(struct ns_pool *p, size_t len, const float *a, const float *b, int relu,
                    float *y)
{
    struct ew_ctx t = {.len = len, .a = a, .b = b, .y = y, .flag = relu};
    ns_pool_run(p, add_fwd_task, &t);
}

static void pass(float *restrict d, const float *restrict g, size_t lo, size_t hi, int acc)
{
    if (!d)
        return;
    if (acc)
        for (size_t i = lo; i < hi; i++)
            d[i] += g[i];
    else
        memcpy(d + lo, g + lo, sizeof(float) * (hi - lo));
}

/* d[lo, hi) = (or, with acc, +=) dy masked by y > 0; nothing when d is NULL. */
static void mask_into(float *restrict d, const float *restrict y, const float *restrict dy,
                      size_t lo, size_t hi, int acc)
{
    if (!d)
        return;
    if (acc)
        for (size_t i = lo; i < hi; i++)
            d[i] += y[i] > 0 ? dy[i] : 0.0f;
    else
        for (size_t i = lo; i < hi; i++)
            d[i] = y[i] > 0 ? dy[i] : 0.0f;
}

static void add_bwd_task(void *vp, int ith, int nth)
{
    struct ew_ctx *t = vp;
    size_t lo, hi;
    span(t->len, ith, nth, &lo, &hi);
    const float *y = t->a, *dy = t->c;
    if (!t->flag) {
        pass(t->d1, dy, lo, hi, t->acc1);
        pass(t->d2, dy, lo, hi, t->acc2);
        return;
    }
    /* the masked gradient into da and db, in L1-sized chunks so that y and dy are read from
     * memory once; separate restrict-qualified loops so that they vectorize */
    for (size_t c0 = lo; c0 < hi; c0 += 2048) {
        size_t c1 = c0 + 2048 < hi ? c0 + 2048 : hi;
        mask_into(t->d1, y, dy, c0, c1, t->acc1);
        mask_into(t->d2, y, dy, c0, c1, t->acc2);
    }
}

void ns_add_backward(struct ns_pool *p, size_t len, const float *y, int relu, const float *dy,
                     float *da, int acc_a, float *db, int acc_b)
{
    struct ew_ctx t = {.len = len, .a = y, .c = dy, .d1 = da, .d2 = db, .flag = relu,
                       .acc1 = acc_a, .acc2 = acc_b};
    ns_pool_run(p, add_bwd_task, &t);
}

static void scale_fwd_task(void *vp, int ith, int nth)
{
    struct ew_ctx *t = vp;
    int lo, hi, C = t->ch;
    ns_split(t->n * t->hw, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        const float *restrict x = t->a + (size_t)r * C;
        const float *restrict s = t->b + (size_t)(r / t->hw) * C;
        float *restrict y = t->y + (size_t)r * C;
        for (int c = 0; c < C; c++)
            y[c] = x[c] * s[c];
    }
}

void ns_scale_forward(struct ns_pool *p, int n, int hw, int c, const float *x, const float *s,
                      float *y)
{
    struct ew_ctx t = {.a = x, .b = s, .y = y, .n = n, .hw = hw, .ch = c};
    ns_pool_run(p, scale_fwd_task, &t);
}

/* Split over images: ds of image i needs all its pixels. */
static void scale_bwd_task(void *vp, int ith, int nth)
{
    struct ew_ctx *t = vp;
    int lo, hi, C = t->ch;
    ns_split(t->n, ith, nth, &lo, &hi);
    for (int i = lo; i < hi; i++) {
        const float *s = t->b + (size_t)i * C;
        float *ds = t->d2 + (size_t)i * C;
        if (!t->acc2)
            memset(ds, 0, sizeof(float) * C);
        for (int q = 0; q < t->hw; q++) {
            size_t off = ((size_t)i * t->hw + q) * C;
            const float *x = t->a + off, *dy = t->c + off;
            float *dx = t->d1 ? t->d1 + off : NULL;
            for (int c = 0; c < C; c++) {
                ds[c] += dy[c] * x[c];
                if (dx)
                    dx[c] = t->acc1 ? dx[c] + dy[c] * s[c] : dy[c] * s[c];
            }
        }
    }
}

void ns_scale_backward(struct ns_pool *p, int n, int hw, int c, const float *x, const float *s,
                       const float *dy, float *dx, int acc, float *ds, int acc_s)
{
    struct ew_ctx t = {.a = x, .b = s, .c = dy, .d1 = dx, .d2 = ds, .acc1 = acc, .acc2 = acc_s,
                       .n = n, .hw = hw, .ch = c};
    ns_pool_run(p, scale_bwd_task, &t);
}

static void gap_fwd_task(void *vp, int ith, int nth)
{
    struct ew_ctx *t = vp;
    int lo, hi, C = t->ch;
    ns_split(t->n, ith, nth, &lo, &hi);
    float inv = 1.0f / (float)t->hw;
    for (int i = lo; i < hi; i++) {
        float *y = t->y + (size_t)i * C;
        memset(y, 0, sizeof(float) * C);
        for (int q = 0; q < t->hw; q++) {
            const float *x = t->a + ((size_t)i * t->hw + q) * C;
            for (int c = 0; c < C; c++)
                y[c] += x[c];
        }
        for (int c = 0; c < C; c++)
            y[c] *= inv;
    }
}

void ns_gap_forward(struct ns_pool *p, int n, int hw, int c, const float *x, float *y)
{
    struct ew_ctx t = {.a = x, .y = y, .n = n, .hw = hw, .ch = c};
    ns_pool_run(p, gap_fwd_task, &t);
}

static void gap_bwd_task(void *vp, int ith, int nth)
{
    struct ew_ctx *t = vp;
    int lo, hi, C = t->ch;
    ns_split(t->n * t->hw, ith, nth, &lo, &hi);
    float inv = 1.0f / (float)t->hw;
    for (int r = lo; r < hi; r++) {
        const float *dy = t->c + (size_t)(r / t->hw) * C;
        float *dx = t->d1 + (size_t)r * C;
        for (int c = 0; c < C; c++)
            dx[c] = t->acc1 ? dx[c] + dy[c] * inv : dy[c] * inv;
    }
}

void ns_gap_backward(struct ns_pool *p, int n, int hw, int c, const float *dy, float *dx,
                     int acc)
{
    struct ew_ctx t = {.c = dy, .d1 = dx, .acc1 = acc, .n = n, .hw = hw, .ch = c};
    ns_pool_run(p, gap_bwd_task, &t);
}

struct dp_ctx {
    int n;
    size_t per_image;
    float inv;
    const uint8_t *mask;
    const float *x;
    float *y;
    int acc;
};

/* y = x * mask / keep by image rows (also the backward, with acc). */
static void droppath_task(void *vp, int ith, int nth)
{
    const struct dp_ctx *t = vp;
    int lo, hi;
    ns_split(t->n, ith, nth, &lo, &hi);
    for (int i = lo; i < hi; i++) {
        const float *x = t->x + (size_t)i * t->per_image;
        float *y = t->y + (size_t)i * t->per_image;
        float s = t->mask[i] ? t->inv : 0.0f;
        if (t->acc)
            for (size_t j = 0; j < t->per_image; j++)
                y[j] += x[j] * s;
        else
            for (size_t j = 0; j < t->per_image; j++)
                y[j] = x[j] * s;
    }
}

void ns_droppath_forward(struct ns_pool *p, int n, size_t per_image, float rate,
                         struct ns_pcg32 *rng, const float *x, uint8_t *mask, float *y)
{
    float keep = 1.0f - rate;
    for (int i = 0; i < n; i++)
        mask[i] = ns_pcg32_float(rng) < keep;
    struct dp_ctx t = {n, per_image, keep > 0 ? 1.0f / keep : 0.0f, mask, x, y, 0};
    ns_pool_run(p, droppath_task, &t);
}

void ns_droppath_backward(struct ns_pool *p, int n, size_t per_image, float rate,
                          const uint8_t *mask, const float *dy, float *dx, int acc)
{
    if (!dx)
        return;
    float keep = 1.0f - rate;
    struct dp_ctx t = {n, per_image, keep > 0 ? 1.0f / keep : 0.0f, mask, dy, dx, acc};
    ns_pool_run(p, droppath_task, &t);
}
