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

/* The four source pixels of output pixel (oy, ox), as offsets of their channel vectors in
 * an image, and their weights. */
static void taps(const struct ns_resize *r, int oy, int ox, size_t off[4], float wt[4])
{
    int y0, y1, x0, x1;
    float ly, lx;
    source(oy, r->h, r->ho, &y0, &y1, &ly);
    source(ox, r->w, r->wo, &x0, &x1, &lx);
    off[0] = ((size_t)y0 * r->w + x0) * r->c, wt[0] = (1 - ly) * (1 - lx);
    off[1] = ((size_t)y0 * r->w + x1) * r->c, wt[1] = (1 - ly) * lx;
    off[2] = ((size_t)y1 * r->w + x0) * r->c, wt[2] = ly * (1 - lx);
    off[3] = ((size_t)y1 * r->w + x1) * r->c, wt[3] = ly * lx;
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
        for (int oy = 0; oy < r->ho; oy++)
            for (int ox = 0; ox < r->wo; ox++) {
                size_t off[4];
                float wt[4];
                taps(r, oy, ox, off, wt);
                float *q = y + ((size_t)oy * r->wo + ox) * C;
                for (int c = 0; c < C; c++)
                    q[c] = wt[0] * x[off[0] + c] + wt[1] * x[off[1] + c] + wt[2] * x[off[2] + c] +
                           wt[3] * x[off[3] + c];
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
        for (int oy = 0; oy < r->ho; oy++)
            for (int ox = 0; ox < r->wo; ox++) {
                size_t off[4];
                float wt[4];
                taps(r, oy, ox, off, wt);
                const float *g = dy + ((size_t)oy * r->wo + ox) * C;
                for (int k = 0; k < 4; k++)
                    for (int c = 0; c < C; c++)
                        dx[off[k] + c] += wt[k] * g[c];
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
