/* The vision transformer's ops: patchify (space to depth), class token and position
 * embedding, layer norm, multi-head self-attention, taking the class token. Token sequences
 * are tensors (n, T, 1, C): row t of image b is token t. Linear layers on tokens are the
 * core's 1x1 convolutions (one GEMM over n*T rows), GELU is an activation, so this file has
 * only what a convnet lacks. Threads take static ranges; parameter gradients are reduced
 * over the batch by threads that own disjoint ranges of parameters, so the results are the
 * same for a thread count. */
#include "nn/ops.h"
#include "nn/vmath.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* ---- patchify ------------------------------------------------------------------------ */

struct pt_ctx {
    const struct ns_patchify *q;
    int n;
    const float *x;
    float *y;
    int acc;
};

/* Token (i, j) of an image is its p x p patch at (i*p, j*p), channels ordered (py, px, c):
 * the layout of a k = p conv's weights, so a 1x1 conv on the tokens is the patch conv.
 * t->x is the image side, t->y the token side; `back` moves tokens to the image (adding
 * with acc), else the image to tokens. Patches do not overlap: each element moves once. */
static void patch_move(const struct pt_ctx *t, int ith, int nth, int back)
{
    const struct ns_patchify *q = t->q;
    int lo, hi, p = q->p, C = q->c, ho = q->h / p, wo = q->w / p;
    size_t row = (size_t)p * C;
    ns_split(t->n * ho, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        int b = r / ho, i = r % ho;
        for (int j = 0; j < wo; j++) {
            float *tok = t->y + (((size_t)b * ho + i) * wo + j) * p * row;
            for (int py = 0; py < p; py++) {
                float *img = (float *)t->x + (((size_t)b * q->h + i * p + py) * q->w + j * p) * C;
                if (!back)
                    memcpy(tok + py * row, img, sizeof(float) * row);
                else if (t->acc)
                    for (size_t k = 0; k < row; k++)
                        img[k] += tok[py * row + k];
                else
                    memcpy(img, tok + py * row, sizeof(float) * row);
            }
        }
    }
}

static void patchify_task(void *vp, int ith, int nth) { patch_move(vp, ith, nth, 0); }
static void unpatchify_task(void *vp, int ith, int nth) { patch_move(vp, ith, nth, 1); }

void ns_patchify_forward(struct ns_pool *p, const struct ns_patchify *q, int n, const float *x,
                         float *y)
{
    struct pt_ctx t = {q, n, x, y, 0};
    ns_pool_run(p, patchify_task, &t);
}

void ns_patchify_backward(struct ns_pool *p, const struct ns_patchify *q, int n, const float *dy,
                          float *dx, int acc)
{
    if (!dx)
        return;
    struct pt_ctx t = {q, n, dx, (float *)dy, acc};
    ns_pool_run(p, unpatchify_task, &t);
}

/* ---- class token and position embedding ----------------------------------------------- */

struct tk_ctx {
    int n, T, C;
    const float *x, *cls, *pos, *dy;
    float *y, *dx, *dcls, *dpos;
    int acc;
};

static void tokens_fwd_task(void *vp, int ith, int nth)
{
    const struct tk_ctx *t = vp;
    int lo, hi, T1 = t->T + 1, C = t->C;
    ns_split(t->n * T1, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        int b = r / T1, k = r % T1;
        const float *src = k ? t->x + ((size_t)b * t->T + k - 1) * C : t->cls;
        const float *pos = t->pos + (size_t)k * C;
        float *y = t->y + (size_t)r * C;
        for (int c = 0; c < C; c++)
            y[c] = src[c] + pos[c];
    }
}

void ns_tokens_forward(struct ns_pool *p, int n, int T, int C, const float *x, const float *cls,
                       const float *pos, float *y)
{
    struct tk_ctx t = {.n = n, .T = T, .C = C, .x = x, .cls = cls, .pos = pos, .y = y};
    ns_pool_run(p, tokens_fwd_task, &t);
}

/* The gradients of cls and pos sum over the batch: thread ith owns a range of their
 * elements and adds the images in order. */
static void tokens_bwd_task(void *vp, int ith, int nth)
{
    const struct tk_ctx *t = vp;
    int lo, hi, T1 = t->T + 1, C = t->C;
    ns_split(T1 * C, ith, nth, &lo, &hi);
    for (int e = lo; e < hi; e++) {
        float s = 0;
        for (int b = 0; b < t->n; b++)
            s += t->dy[(size_t)b * T1 * C + e];
        t->dpos[e] += s;
        if (e < C)
            t->dcls[e] += s;
    }
    if (!t->dx)
        return;
    ns_split(t->n * t->T, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        int b = r / t->T, k = r % t->T;
        const float *g = t->dy + ((size_t)b * T1 + k + 1) * C;
        float *d = t->dx + (size_t)r * C;
        for (int c = 0; c < C; c++)
            d[c] = t->acc ? d[c] + g[c] : g[c];
    }
}

void ns_tokens_backward(struct ns_pool *p, int n, int T, int C, const float *dy, float *dx,
                        int acc, float *dcls, float *dpos)
{
    struct tk_ctx t = {.n = n, .T = T, .C = C, .dy = dy, .dx = dx, .acc = acc, .dcls = dcls,
                       .dpos = dpos};
    ns_pool_run(p, tokens_bwd_task, &t);
}

/* ---- the class token's output --------------------------------------------------------- */

void ns_token0_forward(int n, int T, int C, const float *x, float *y)
{
    for (int b = 0; b < n; b++)
        memcpy(y + (size_t)b * C, x + (size_t)b * T * C, sizeof(float) * C);
}

void ns_token0_backward(int n, int T, int C, const float *dy, float *dx, int acc)
{
    if (!dx)
        return;
    for (int b = 0; b < n; b++) {
        float *d = dx + (size_t)b * T * C;
        const float *g = dy + (size_t)b * C;
        if (acc) {
            for (int c = 0; c < C; c++)
                d[c] += g[c];
        } else {
            memcpy(d, g, sizeof(float) * C);
            memset(d + C, 0, sizeof(float) * (size_t)(T - 1) * C);
        }
    }
}

/* ---- layer norm ----------------------------------------------------------------------- */

struct ln_ctx {
    int rows, C;
    const float *x, *gamma, *beta, *dy;
    float *y, *mean, *rstd, *dx, *dgamma, *dbeta;
    int acc;
};

/* A row's sums run in LN_LANES double accumulators, channel c into lane c % LN_LANES,
 * added up in lane order at the end: a fixed order (the same bits on any ISA and thread
 * count) without one long chain of dependent adds, which made LN ~17% of a ViT step. */
#define LN_LANES 8

static double lanes_sum(const double *a)
{
    double s = 0;
    for (int j = 0; j < LN_LANES; j++)
        s += a[j];
    return s;
}

static void ln_fwd_task(void *vp, int ith, int nth)
{
    const struct ln_ctx *t = vp;
    int lo, hi, C = t->C;
    ns_split(t->rows, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        const float *x = t->x + (size_t)r * C;
        double a[LN_LANES] = {0}, b[LN_LANES] = {0};
        int c0 = 0;
        for (; c0 + LN_LANES <= C; c0 += LN_LANES) /* whole blocks: the lanes in registers */
            for (int j = 0; j < LN_LANES; j++)
                a[j] += x[c0 + j];
        for (int c = c0; c < C; c++)
            a[c - c0] += x[c];
        double m = lanes_sum(a) / C;
        for (c0 = 0; c0 + LN_LANES <= C; c0 += LN_LANES)
            for (int j = 0; j < LN_LANES; j++)
                b[j] += (x[c0 + j] - m) * (x[c0 + j] - m);
        for (int c = c0; c < C; c++)
            b[c - c0] += (x[c] - m) * (x[c] - m);
        double ss = lanes_sum(b);
        float rs = (float)(1.0 / sqrt(ss / C + NS_LN_EPS)), mf = (float)m;
        t->mean[r] = mf;
        t->rstd[r] = rs;
        float *y = t->y + (size_t)r * C;
        for (int c = 0; c < C; c++)
            y[c] = (x[c] - mf) * rs * t->gamma[c] + t->beta[c];
    }
}

void ns_layernorm_forward(struct ns_pool *p, int rows, int C, const float *x, const float *gamma,
                          const float *beta, float *mean, float *rstd, float *y)
{
    struct ln_ctx t = {.rows = rows, .C = C, .x = x, .gamma = gamma, .beta = beta, .y = y,
                       .mean = mean, .rstd = rstd};
    ns_pool_run(p, ln_fwd_task, &t);
}

/* dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * gamma, per row; the
 * parameter gradients by channel ranges, summing rows in order. */
static void ln_bwd_task(void *vp, int ith, int nth)
{
    const struct ln_ctx *t = vp;
    int lo, hi, C = t->C;
    ns_split(C, ith, nth, &lo, &hi);
    for (int c = lo; c < hi; c++) {
        float sg = 0, sb = 0;
        for (int r = 0; r < t->rows; r++) {
            float xh = (t->x[(size_t)r * C + c] - t->mean[r]) * t->rstd[r];
            float g = t->dy[(size_t)r * C + c];
            sg += g * xh;
            sb += g;
        }
        t->dgamma[c] += sg;
        t->dbeta[c] += sb;
    }
    if (!t->dx)
        return;
    ns_split(t->rows, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        const float *x = t->x + (size_t)r * C, *dy = t->dy + (size_t)r * C;
        float m = t->mean[r], rs = t->rstd[r];
        double a[LN_LANES] = {0}, b[LN_LANES] = {0};
        int c0 = 0;
        for (; c0 + LN_LANES <= C; c0 += LN_LANES)
            for (int j = 0; j < LN_LANES; j++) {
                float g = dy[c0 + j] * t->gamma[c0 + j];
                a[j] += g;
                b[j] += g * (x[c0 + j] - m) * rs;
            }
        for (int c = c0; c < C; c++) {
            float g = dy[c] * t->gamma[c];
            a[c - c0] += g;
            b[c - c0] += g * (x[c] - m) * rs;
        }
        float ma = (float)(lanes_sum(a) / C), mb = (float)(lanes_sum(b) / C);
        float *dx = t->dx + (size_t)r * C;
        for (int c = 0; c < C; c++) {
            float v = rs * (dy[c] * t->gamma[c] - ma - (x[c] - m) * rs * mb);
            dx[c] = t->acc ? dx[c] + v : v;
        }
    }
}

void ns_layernorm_backward(struct ns_pool *p, int rows, int C, const float *x, const float *gamma,
                           const float *mean, const float *rstd, const float *dy, float *dx,
                           int acc, float *dgamma, float *dbeta)
{
    struct ln_ctx t = {.rows = rows, .C = C, .x = x, .gamma = gamma, .mean = (float *)mean, .rstd = (float *)rstd,
                       .dy = dy, .dx = dx, .acc = acc, .dgamma = dgamma, .dbeta = dbeta};
    ns_pool_run(p, ln_bwd_task, &t);
}

/* ---- multi-head self-attention -------------------------------------------------------- */

struct at_ctx {
    const struct ns_attention *a;
    int n;
    const float *qkv, *dy;
    float *y, *prob, *dqkv, *scratch;
    int acc;
};

/* Softmax of each row of s (T x T), in place. */
static void softmax_rows(float *s, int T)
{
    for (int i = 0; i < T; i++) {
        float *row = s + (size_t)i * T, mx = row[0];
        for (int j = 1; j < T; j++)
            mx = row[j] > mx ? row[j] : mx;
        for (int j = 0; j < T; j++) /* its own loop, so it vectorizes (vmath.h) */
            row[j] = ns_vexpf(row[j] - mx);
        double z = 0;
        for (int j = 0; j < T; j++)
            z += row[j];
        float inv = (float)(1.0 / z);
        for (int j = 0; j < T; j++)
            row[j] *= inv;
    }
}

/* Work item w = (image b, head h): P = softmax(Q K^T / sqrt(dh)), O = P V, where Q, K, V are
 * the head's columns of the qkv rows (q | k | v, each D wide, heads contiguous in each). */
static void attn_fwd_task(void *vp, int ith, int nth)
{
    const struct at_ctx *t = vp;
    const struct ns_attention *a = t->a;
    int lo, hi, T = a->T, D = a->d, dh = a->d / a->heads;
    float scale = 1.0f / sqrtf((float)dh);
    ns_split(t->n * a->heads, ith, nth, &lo, &hi);
    for (int w = lo; w < hi; w++) {
        int b = w / a->heads, h = w % a->heads;
        const float *q = t->qkv + (size_t)b * T * 3 * D + h * dh, *k = q + D, *v = q + 2 * D;
        float *P = t->prob + (size_t)w * T * T;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, dh, scale, q, 3 * D, k, 3 * D,
                    0.0f, P, T);
        softmax_rows(P, T);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, dh, T, 1.0f, P, T, v, 3 * D,
                    0.0f, t->y + (size_t)b * T * D + h * dh, D);
    }
}

void ns_attention_forward(struct ns_pool *p, const struct ns_attention *a, int n,
                          const float *qkv, float *prob, float *y)
{
    struct at_ctx t = {.a = a, .n = n, .qkv = qkv, .prob = prob, .y = y};
    ns_pool_run(p, attn_fwd_task, &t);
}

size_t ns_attention_scratch(const struct ns_attention *a, int nth)
{
    return (size_t)nth * a->T * a->T;
}

/* dV = P^T dO; dP = dO V^T; dS = P (dP - rowsum(dP P)); dQ = dS K / sqrt(dh);
 * dK = dS^T Q / sqrt(dh). Each (image, head) writes only its own columns of dqkv. */
static void attn_bwd_task(void *vp, int ith, int nth)
{
    const struct at_ctx *t = vp;
    const struct ns_attention *a = t->a;
    int lo, hi, T = a->T, D = a->d, dh = a->d / a->heads;
    float scale = 1.0f / sqrtf((float)dh), beta = t->acc ? 1.0f : 0.0f;
    float *dP = t->scratch + (size_t)ith * T * T;
    ns_split(t->n * a->heads, ith, nth, &lo, &hi);
    for (int w = lo; w < hi; w++) {
        int b = w / a->heads, h = w % a->heads;
        const float *q = t->qkv + (size_t)b * T * 3 * D + h * dh, *k = q + D, *v = q + 2 * D;
        const float *P = t->prob + (size_t)w * T * T;
        const float *dO = t->dy + (size_t)b * T * D + h * dh;
        float *dq = t->dqkv + (size_t)b * T * 3 * D + h * dh, *dk = dq + D, *dv = dq + 2 * D;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, dh, T, 1.0f, P, T, dO, D, beta,
                    dv, 3 * D);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, dh, 1.0f, dO, D, v, 3 * D,
                    0.0f, dP, T);
        for (int i = 0; i < T; i++) {
            const float *pr = P + (size_t)i * T;
            float *gr = dP + (size_t)i * T;
            double s = 0;
            for (int j = 0; j < T; j++)
                s += (double)gr[j] * pr[j];
            for (int j = 0; j < T; j++)
                gr[j] = pr[j] * (gr[j] - (float)s);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, dh, T, scale, dP, T, k, 3 * D,
                    beta, dq, 3 * D);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, dh, T, scale, dP, T, q, 3 * D,
                    beta, dk, 3 * D);
    }
}

void ns_attention_backward(struct ns_pool *p, const struct ns_attention *a, int n,
                           const float *qkv, const float *prob, const float *dy, float *dqkv,
                           int acc, float *scratch)
{
    if (!dqkv)
        return;
    struct at_ctx t = {.a = a, .n = n, .qkv = qkv, .prob = (float *)prob, .dy = dy,
                       .dqkv = dqkv, .acc = acc, .scratch = scratch};
    ns_pool_run(p, attn_bwd_task, &t);
}
