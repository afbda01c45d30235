/* The ops of normalizer-free nets (NF-ResNets): scaled weight standardization of conv
 * weights, the scaled activation and the scaled residual add, and adaptive gradient
 * clipping. Contracts in ops.h. */
#include "nn/ops.h"
#include "nn/vmath.h"

#include <math.h>

/* Channels are standardized in blocks of this many, their sums kept on the stack. */
#define WS_BLOCK 64

struct ws_ctx {
    int rows, cout;
    const float *w, *gain, *dwhat;
    float *what, *mean, *rstd, *dw, *dgain;
};

/* Run fn on thread ith's channels, WS_BLOCK channels [c0, c0 + nc) at a time. */
static void ws_blocks(const struct ws_ctx *t, int ith, int nth,
                      void (*fn)(const struct ws_ctx *t, int c0, int nc))
{
    int lo, hi;
    ns_split(t->cout, ith, nth, &lo, &hi);
    for (int c0 = lo; c0 < hi; c0 += WS_BLOCK)
        fn(t, c0, hi - c0 < WS_BLOCK ? hi - c0 : WS_BLOCK);
}

static void ws_fwd_block(const struct ws_ctx *t, int c0, int nc)
{
    const int C = t->cout, R = t->rows;
    const double scale = 1.0 / sqrt((double)R);
    double sum[WS_BLOCK] = {0}, ss[WS_BLOCK] = {0}, mu[WS_BLOCK], a[WS_BLOCK];
    for (int r = 0; r < R; r++)
        for (int j = 0; j < nc; j++)
            sum[j] += t->w[(size_t)r * C + c0 + j];
    for (int j = 0; j < nc; j++)
        mu[j] = sum[j] / R;
    /* two passes: the variance of weights with a large common offset stays exact */
    for (int r = 0; r < R; r++)
        for (int j = 0; j < nc; j++) {
            double d = t->w[(size_t)r * C + c0 + j] - mu[j];
            ss[j] += d * d;
        }
    for (int j = 0; j < nc; j++) {
        double rstd = 1.0 / sqrt(ss[j] / R + NS_WS_EPS);
        t->mean[c0 + j] = (float)mu[j];
        t->rstd[c0 + j] = (float)rstd;
        a[j] = t->gain[c0 + j] * rstd * scale;
    }
    for (int r = 0; r < R; r++)
        for (int j = 0; j < nc; j++) {
            size_t i = (size_t)r * C + c0 + j;
            t->what[i] = (float)((t->w[i] - mu[j]) * a[j]);
        }
}

static void ws_fwd_task(void *vp, int ith, int nth)
{
    ws_blocks(vp, ith, nth, ws_fwd_block);
}

void ns_ws_forward(struct ns_pool *p, int rows, int cout, const float *w, const float *gain,
                   float *what, float *mean, float *rstd)
{
    struct ws_ctx t = {
        .rows = rows, .cout = cout, .w = w, .gain = gain, .what = what, .mean = mean, .rstd = rstd};
    ns_pool_run(p, ws_fwd_task, &t);
}

/* With xhat = (W - mu) * rstd and What = a * xhat, a = gain / sqrt(rows), G = dWhat:
 *   dgain = sum_r G * xhat / sqrt(rows)
 *   dW    = a * rstd * (G - mean_r G - xhat * mean_r (G * xhat))
 * (the standardization's backward is batch norm's, over the rows of a channel). */
static void ws_bwd_block(const struct ws_ctx *t, int c0, int nc)
{
    const int C = t->cout, R = t->rows;
    const double scale = 1.0 / sqrt((double)R);
    double sg[WS_BLOCK] = {0}, sgx[WS_BLOCK] = {0}, k[WS_BLOCK];
    for (int r = 0; r < R; r++)
        for (int j = 0; j < nc; j++) {
            size_t i = (size_t)r * C + c0 + j;
            double xhat = ((double)t->w[i] - t->mean[c0 + j]) * t->rstd[c0 + j];
            sg[j] += t->dwhat[i];
            sgx[j] += t->dwhat[i] * xhat;
        }
    for (int j = 0; j < nc; j++) {
        t->dgain[c0 + j] += (float)(sgx[j] * scale);
        k[j] = t->gain[c0 + j] * scale * t->rstd[c0 + j];
        sg[j] /= R;
        sgx[j] /= R;
    }
    for (int r = 0; r < R; r++)
        for (int j = 0; j < nc; j++) {
            size_t i = (size_t)r * C + c0 + j;
            double xhat = ((double)t->w[i] - t->mean[c0 + j]) * t->rstd[c0 + j];
            t->dw[i] += (float)(k[j] * (t->dwhat[i] - sg[j] - xhat * sgx[j]));
        }
}

static void ws_bwd_task(void *vp, int ith, int nth)
{
    ws_blocks(vp, ith, nth, ws_bwd_block);
}

void ns_ws_backward(struct ns_pool *p, int rows, int cout, const float *w, const float *gain,
                    const float *mean, const float *rstd, const float *dwhat, float *dw,
                    float *dgain)
{
    struct ws_ctx t = {.rows = rows,
                       .cout = cout,
                       .w = w,
                       .gain = gain,
                       .dwhat = dwhat,
                       .mean = (float *)mean,
                       .rstd = (float *)rstd,
                       .dw = dw,
                       .dgain = dgain};
    ns_pool_run(p, ws_bwd_task, &t);
}

/* ---- scaled activation and add ------------------------------------------------------- */

struct nf_ctx {
    size_t len;
    enum ns_act act;
    float mul_in, mul_out;
    const float *a, *b;
    float *y, *da, *db;
    int acc_a, acc_b;
};

/* [lo, hi) of thread ith, on multiples of 16 floats (no cache line shared). */
static void span(size_t len, int ith, int nth, size_t *lo, size_t *hi)
{
    size_t blocks = (len + 15) / 16;
    *lo = blocks * ith / nth * 16;
    *hi = blocks * (ith + 1) / nth * 16;
    *lo = *lo < len ? *lo : len;
    *hi = *hi < len ? *hi : len;
}

/* `#pragma GCC ivdep` below: these loops may run in place (x == y or dx == dy), where the
 * compiler's overlap check would send them to the scalar loop; each element i touches
 * only index i, so the vector loop is right there too. */
static void nf_act_fwd_task(void *vp, int ith, int nth)
{
    const struct nf_ctx *t = vp;
    size_t lo, hi;
    span(t->len, ith, nth, &lo, &hi);
    const float *restrict x = t->a;
    float *restrict y = t->y;
    const float mi = t->mul_in, mo = t->mul_out;
    if (t->act == NS_ACT_SILU)
        #pragma GCC ivdep
        for (size_t i = lo; i < hi; i++) {
            float u = mi * x[i];
            y[i] = mo * u / (1.0f + ns_vexpf(-u));
        }
    else
        #pragma GCC ivdep
        for (size_t i = lo; i < hi; i++) {
            float u = mi * x[i];
            y[i] = mo * (u > 0 ? u : 0.0f); /* select, then scale: vectorizes; mo > 0 */
        }
}

void ns_nf_act_forward(struct ns_pool *p, enum ns_act a, size_t len, float mul_in, float mul_out,
                       const float *x, float *y)
{
    struct nf_ctx t = {.len = len, .act = a, .mul_in = mul_in, .mul_out = mul_out, .a = x, .y = y};
    ns_pool_run(p, nf_act_fwd_task, &t);
}

/* mul_in mul_out silu'(u); dL/dx is that times dy. */
static inline float nf_silu_grad(float u, float m)
{
    float s = 1.0f / (1.0f + ns_vexpf(-u));
    return m * s * (1.0f + u * (1.0f - s));
}

/* m dy where u > 0, else 0 (m > 0): a select of loaded values, then a product, so the
 * loop vectorizes (a product inside the select kept it scalar and branchy). */
static inline float relu_grad(float u, float dy, float m) { return (u > 0 ? dy : 0.0f) * m; }

static void nf_act_bwd_task(void *vp, int ith, int nth)
{
    const struct nf_ctx *t = vp;
    size_t lo, hi;
    span(t->len, ith, nth, &lo, &hi);
    const float *restrict x = t->a, *restrict dy = t->b;
    float *restrict dx = t->da;
    const float mi = t->mul_in, m = t->mul_in * t->mul_out;
    const int silu = t->act == NS_ACT_SILU; /* one loop per (act, acc), so each vectorizes */
    if (silu && t->acc_a)
        #pragma GCC ivdep
        for (size_t i = lo; i < hi; i++)
            dx[i] += dy[i] * nf_silu_grad(mi * x[i], m);
    else if (silu)
        #pragma GCC ivdep
        for (size_t i = lo; i < hi; i++)
            dx[i] = dy[i] * nf_silu_grad(mi * x[i], m);
    else if (t->acc_a)
        #pragma GCC ivdep
        for (size_t i = lo; i < hi; i++)
            dx[i] += relu_grad(mi * x[i], dy[i], m);
    else
        #pragma GCC ivdep
        for (size_t i = lo; i < hi; i++)
            dx[i] = relu_grad(mi * x[i], dy[i], m);
}

void ns_nf_act_backward(struct ns_pool *p, enum ns_act a, size_t len, float mul_in, float mul_out,
                        const float *x, const float *dy, float *dx, int acc)
{
    if (!dx)
        return;
    struct nf_ctx t = {.len = len,
                       .act = a,
                       .mul_in = mul_in,
                       .mul_out = mul_out,
                       .a = x,
                       .b = dy,
                       .da = dx,
                       .acc_a = acc};
    ns_pool_run(p, nf_act_bwd_task, &t);
}

static void nf_add_fwd_task(void *vp, int ith, int nth)
{
    const struct nf_ctx *t = vp;
    size_t lo, hi;
    span(t->len, ith, nth, &lo, &hi);
    const float *restrict a = t->a, *restrict b = t->b;
    float *restrict y = t->y;
    const float alpha = t->mul_out;
    for (size_t i = lo; i < hi; i++)
        y[i] = a[i] + alpha * b[i];
}

void ns_nf_add_forward(struct ns_pool *p, size_t len, const float *a, float alpha, const float *b,
                       float *y)
{
    struct nf_ctx t = {.len = len, .mul_out = alpha, .a = a, .b = b, .y = y};
    ns_pool_run(p, nf_add_fwd_task, &t);
}

static void nf_add_bwd_task(void *vp, int ith, int nth)
{
    const struct nf_ctx *t = vp;
    size_t lo, hi;
    span(t->len, ith, nth, &lo, &hi);
    const float *dy = t->a;
    const float alpha = t->mul_out;
    if (t->da)
        for (size_t i = lo; i < hi; i++)
            t->da[i] = t->acc_a ? t->da[i] + dy[i] : dy[i];
    if (t->db)
        for (size_t i = lo; i < hi; i++)
            t->db[i] = t->acc_b ? t->db[i] + alpha * dy[i] : alpha * dy[i];
}

void ns_nf_add_backward(struct ns_pool *p, size_t len, float alpha, const float *dy, float *da,
                        int acc_a, float *db, int acc_b)
{
    struct nf_ctx t = {
        .len = len, .mul_out = alpha, .a = dy, .da = da, .acc_a = acc_a, .db = db, .acc_b = acc_b};
    ns_pool_run(p, nf_add_bwd_task, &t);
}

/* ---- adaptive gradient clipping ------------------------------------------------------ */

int ns_agc_clip(size_t rows, int units, const float *w, float *g, double lambda)
{
    int clipped = 0;
    for (int u0 = 0; u0 < units; u0 += WS_BLOCK) {
        int nu = units - u0 < WS_BLOCK ? units - u0 : WS_BLOCK;
        double ww[WS_BLOCK] = {0}, gg[WS_BLOCK] = {0}, f[WS_BLOCK];
        for (size_t r = 0; r < rows; r++)
            for (int j = 0; j < nu; j++) {
                size_t i = r * (size_t)units + u0 + j;
                ww[j] += (double)w[i] * w[i];
                gg[j] += (double)g[i] * g[i];
            }
        int any = 0;
        for (int j = 0; j < nu; j++) {
            double wn = sqrt(ww[j]), gn = sqrt(gg[j]);
            double max = lambda * (wn > NS_AGC_EPS ? wn : NS_AGC_EPS);
            f[j] = gn < max ? 1.0 : max / (gn > 1e-6 ? gn : 1e-6);
            if (gn >= max) {
                clipped++;
                any = 1;
            }
        }
        if (!any)
            continue;
        for (size_t r = 0; r < rows; r++)
            for (int j = 0; j < nu; j++) {
                size_t i = r * (size_t)units + u0 + j;
                g[i] = (float)(g[i] * f[j]);
            }
    }
    return clipped;
}
