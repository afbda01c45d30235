/* Max and average pooling over NHWC, k x k windows. Padded cells never win a max and are
 * not counted by the average (count_include_pad = False). Backward of max pooling routes
 * the gradient to the first maximal input of each window (recomputed from x and y). */
#include "nn/ops.h"

#include <float.h>
#include <string.h>

void ns_pool2d_setup(struct ns_pool2d *q, int h, int w, int c, int k, int stride, int pad)
{
    q->h = h;
    q->w = w;
    q->c = c;
    q->k = k;
    q->stride = stride;
    q->pad = pad;
    q->ho = (h + 2 * pad - k) / stride + 1;
    q->wo = (w + 2 * pad - k) / stride + 1;
}

struct pool_ctx {
    const struct ns_pool2d *q;
    int n, acc;
    const float *x, *y, *dy;
    float *out, *dx;
};

static void window(const struct ns_pool2d *q, int ho, int wo, int *h0, int *h1, int *w0, int *w1)
{
    *h0 = ho * q->stride - q->pad;
    *w0 = wo * q->stride - q->pad;
    *h1 = *h0 + q->k;
    *w1 = *w0 + q->k;
    if (*h0 < 0)
        *h0 = 0;
    if (*w0 < 0)
        *w0 = 0;
    if (*h1 > q->h)
        *h1 = q->h;
    if (*w1 > q->w)
        *w1 = q->w;
}

static void max_fwd_task(void *vp, int ith, int nth)
{
    struct pool_ctx *t = vp;
    const struct ns_pool2d *q = t->q;
    int lo, hi, C = q->c;
    ns_split(t->n * q->ho, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        int img = r / q->ho, ho = r % q->ho;
        for (int wo = 0; wo < q->wo; wo++) {
            float *y = t->out + (((size_t)img * q->ho + ho) * q->wo + wo) * C;
            for (int c = 0; c < C; c++)
                y[c] = -FLT_MAX;
            int h0, h1, w0, w1;
            window(q, ho, wo, &h0, &h1, &w0, &w1);
            for (int hh = h0; hh < h1; hh++)
                for (int ww = w0; ww < w1; ww++) {
                    const float *x = t->x + (((size_t)img * q->h + hh) * q->w + ww) * C;
                    for (int c = 0; c < C; c++)
                        y[c] = x[c] > y[c] ? x[c] : y[c];
                }
        }
    }
}

void ns_maxpool_forward(struct ns_pool *p, const struct ns_pool2d *q, int n, const float *x,
                        float *y)
{
    struct pool_ctx t = {.q = q, .n = n, .x = x, .out = y};
    ns_pool_run(p, max_fwd_task, &t);
}

/* Split over images: windows of one image overlap, so its dx belongs to one thread. */
static void max_bwd_task(void *vp, int ith, int nth)
{
    struct pool_ctx *t = vp;
    const struct ns_pool2d *q = t->q;
    int lo, hi, C = q->c;
    ns_split(t->n, ith, nth, &lo, &hi);
    for (int img = lo; img < hi; img++) {
        float *dx = t->dx + (size_t)img * q->h * q->w * C;
        const float *x = t->x + (size_t)img * q->h * q->w * C;
        if (!t->acc)
            memset(dx, 0, sizeof(float) * q->h * q->w * C);
        for (int ho = 0; ho < q->ho; ho++)
            for (int wo = 0; wo < q->wo; wo++) {
                size_t o = (((size_t)img * q->ho + ho) * q->wo + wo) * C;
                int h0, h1, w0, w1;
                window(q, ho, wo, &h0, &h1, &w0, &w1);
                for (int c = 0; c < C; c++) {
                    float m = t->y[o + c];
                    int done = 0;
                    for (int hh = h0; hh < h1 && !done; hh++)
                        for (int ww = w0; ww < w1; ww++) {
                            size_t i = ((size_t)hh * q->w + ww) * C + c;
                            if (x[i] == m) {
                                dx[i] += t->dy[o + c];
                                done = 1;
                                break;
                            }
                        }
                }
            }
    }
}

void ns_maxpool_backward(struct ns_pool *p, const struct ns_pool2d *q, int n, const float *x,
                         const float *y, const float *dy, float *dx, int acc)
{
    struct pool_ctx t = {.q = q, .n = n, .x = x, .y = y, .dy = dy, .dx = dx, .acc = acc};
    ns_pool_run(p, max_bwd_task, &t);
}

static void avg_fwd_task(void *vp, int ith, int nth)
{
    struct pool_ctx *t = vp;
    const struct ns_pool2d *q = t->q;
    int lo, hi, C = q->c;
    ns_split(t->n * q->ho, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        int img = r / q->ho, ho = r % q->ho;
        for (int wo = 0; wo < q->wo; wo++) {
            float *y = t->out + (((size_t)img * q->ho + ho) * q->wo + wo) * C;
            memset(y, 0, sizeof(float) * C);
            int h0, h1, w0, w1;
            window(q, ho, wo, &h0, &h1, &w0, &w1);
            for (int hh = h0; hh < h1; hh++)
                for (int ww = w0; ww < w1; ww++) {
                    const float *x = t->x + (((size_t)img * q->h + hh) * q->w + ww) * C;
                    for (int c = 0; c < C; c++)
                        y[c] += x[c];
                }
            float inv = 1.0f / (float)((h1 - h0) * (w1 - w0));
            for (int c = 0; c < C; c++)
                y[c] *= inv;
        }
    }
}

void ns_avgpool_forward(struct ns_pool *p, const struct ns_pool2d *q, int n, const float *x,
                        float *y)
{
    struct pool_ctx t = {.q = q, .n = n, .x = x, .out = y};
    ns_pool_run(p, avg_fwd_task, &t);
}

static void avg_bwd_task(void *vp, int ith, int nth)
{
    struct pool_ctx *t = vp;
    const struct ns_pool2d *q = t->q;
    int lo, hi, C = q->c;
    ns_split(t->n, ith, nth, &lo, &hi);
    for (int img = lo; img < hi; img++) {
        float *dx = t->dx + (size_t)img * q->h * q->w * C;
        if (!t->acc)
            memset(dx, 0, sizeof(float) * q->h * q->w * C);
        for (int ho = 0; ho < q->ho; ho++)
            for (int wo = 0; wo < q->wo; wo++) {
                const float *dy = t->dy + (((size_t)img * q->ho + ho) * q->wo + wo) * C;
                int h0, h1, w0, w1;
                window(q, ho, wo, &h0, &h1, &w0, &w1);
                float inv = 1.0f / (float)((h1 - h0) * (w1 - w0));
                for (int hh = h0; hh < h1; hh++)
                    for (int ww = w0; ww < w1; ww++) {
                        float *d = dx + ((size_t)hh * q->w + ww) * C;
                        for (int c = 0; c < C; c++)
                            d[c] += dy[c] * inv;
                    }
            }
    }
}

void ns_avgpool_backward(struct ns_pool *p, const struct ns_pool2d *q, int n, const float *dy,
                         float *dx, int acc)
{
    struct pool_ctx t = {.q = q, .n = n, .dy = dy, .dx = dx, .acc = acc};
    ns_pool_run(p, avg_bwd_task, &t);
}
