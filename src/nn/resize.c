/* Bilinear resizing of NHWC images (torch's F.interpolate(mode="bilinear",
 * align_corners=False) without antialiasing): the input of a model whose resolution was
 * scaled (compound scaling) is made from the dataset's images by this op. Each output
 * pixel reads the four nearest input pixels; threads take whole images. */
#include "nn/ops.h"

#include <string.h>

/* Source index i0, the next one i1 (clamped) and the weight of i1 for output index o of
 * n_out, over an axis of n_in pixels. */
static void source(int o, int n_in, int n_out, int *i0, int *i1, float *lambda)
{
    float scale = (float)n_in / (float)n_out;
    float src = scale * ((float)o + 0.5f) - 0.5f;
    if (src < 0)
        src = 0;
    *i0 = (int)src;
    *i1 = *i0 < n_in - 1 ? *i0 + 1 : *i0;
    *lambda = src - (float)*i0;
}

struct rs_ctx {
    const struct ns_resize *r;
    int n;
    const float *x;
    float *y;
    int acc;
};

static void resize_fwd_task(void *vp, int ith, int nth)
{
    const struct rs_ctx *t = vp;
    const struct ns_resize *r = t->r;
    int lo, hi, C = r->c;
    ns_split(t->n, ith, nth, &lo, &hi);
    for (int b = lo; b < hi; b++) {
        const float *x = t->x + (size_t)b * r->h * r->w * C;
        float *y = t->y + (size_t)b * r->ho * r->wo * C;
        for (int oy = 0; oy < r->ho; oy++) {
            int y0, y1;
            float ly;
            source(oy, r->h, r->ho, &y0, &y1, &ly);
            for (int ox = 0; ox < r->wo; ox++) {
                int x0, x1;
                float lx;
                source(ox, r->w, r->wo, &x0, &x1, &lx);
                const float *p00 = x + ((size_t)y0 * r->w + x0) * C;
                const float *p01 = x + ((size_t)y0 * r->w + x1) * C;
                const float *p10 = x + ((size_t)y1 * r->w + x0) * C;
                const float *p11 = x + ((size_t)y1 * r->w + x1) * C;
                float *q = y + ((size_t)oy * r->wo + ox) * C;
                for (int c = 0; c < C; c++)
                    q[c] = (1 - ly) * ((1 - lx) * p00[c] + lx * p01[c]) +
                           ly * ((1 - lx) * p10[c] + lx * p11[c]);
            }
        }
    }
}

/* The adjoint: every output pixel's gradient spread back over its four sources. */
static void resize_bwd_task(void *vp, int ith, int nth)
{
    const struct rs_ctx *t = vp;
    const struct ns_resize *r = t->r;
    int lo, hi, C = r->c;
    ns_split(t->n, ith, nth, &lo, &hi);
    for (int b = lo; b < hi; b++) {
        const float *dy = t->x + (size_t)b * r->ho * r->wo * C;
        float *dx = t->y + (size_t)b * r->h * r->w * C;
        if (!t->acc)
            memset(dx, 0, sizeof(float) * (size_t)r->h * r->w * C);
        for (int oy = 0; oy < r->ho; oy++) {
            int y0, y1;
            float ly;
            source(oy, r->h, r->ho, &y0, &y1, &ly);
            for (int ox = 0; ox < r->wo; ox++) {
                int x0, x1;
                float lx;
                source(ox, r->w, r->wo, &x0, &x1, &lx);
                const float *g = dy + ((size_t)oy * r->wo + ox) * C;
                float *p00 = dx + ((size_t)y0 * r->w + x0) * C;
                float *p01 = dx + ((size_t)y0 * r->w + x1) * C;
                float *p10 = dx + ((size_t)y1 * r->w + x0) * C;
                float *p11 = dx + ((size_t)y1 * r->w + x1) * C;
                for (int c = 0; c < C; c++) {
                    p00[c] += (1 - ly) * (1 - lx) * g[c];
                    p01[c] += (1 - ly) * lx * g[c];
                    p10[c] += ly * (1 - lx) * g[c];
                    p11[c] += ly * lx * g[c];
                }
            }
        }
    }
}

void ns_resize_forward(struct ns_pool *p, const struct ns_resize *r, int n, const float *x,
                       float *y)
{
    struct rs_ctx t = {r, n, x, y, 0};
    ns_pool_run(p, resize_fwd_task, &t);
}

void ns_resize_backward(struct ns_pool *p, const struct ns_resize *r, int n, const float *dy,
                        float *dx, int acc)
{
    if (!dx)
        return;
    struct rs_ctx t = {r, n, dy, dx, acc};
    ns_pool_run(p, resize_bwd_task, &t);
}
