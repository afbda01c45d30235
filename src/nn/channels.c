/* Channel rearrangements of ShuffleNet: shuffle, slice (a channel range), concat. Each moves
 * rows of (n*hw, c) tensors; threads take static ranges of rows. Nothing is computed, so the
 * backward of each is the same move the other way. */
#include "nn/ops.h"

#include <string.h>

struct ch_ctx {
    int rows;
    int ca, cb, c;    /* input widths (a, b) and output width */
    int lo, groups;
    const float *a, *b;
    float *y, *da, *db;
    int acc_a, acc_b;
};

static void copy_or_add(float *restrict d, const float *restrict s, int n, int acc)
{
    if (acc)
        for (int i = 0; i < n; i++)
            d[i] += s[i];
    else
        memcpy(d, s, sizeof(float) * (size_t)n);
}

/* y[r, j*G + i] = x[r, i*cpg + j]: the channels of group i spread to every G-th place. */
static void shuffle_fwd_task(void *vp, int ith, int nth)
{
    const struct ch_ctx *t = vp;
    int lo, hi, G = t->groups, cpg = t->c / G;
    ns_split(t->rows, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        const float *x = t->a + (size_t)r * t->c;
        float *y = t->y + (size_t)r * t->c;
        for (int i = 0; i < G; i++)
            for (int j = 0; j < cpg; j++)
                y[j * G + i] = x[i * cpg + j];
    }
}

static void shuffle_bwd_task(void *vp, int ith, int nth)
{
    const struct ch_ctx *t = vp;
    int lo, hi, G = t->groups, cpg = t->c / G;
    ns_split(t->rows, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        const float *dy = t->b + (size_t)r * t->c;
        float *dx = t->da + (size_t)r * t->c;
        for (int i = 0; i < G; i++)
            for (int j = 0; j < cpg; j++)
                dx[i * cpg + j] = t->acc_a ? dx[i * cpg + j] + dy[j * G + i] : dy[j * G + i];
    }
}

void ns_shuffle_forward(struct ns_pool *p, int rows, int c, int groups, const float *x, float *y)
{
    struct ch_ctx t = {.rows = rows, .c = c, .groups = groups, .a = x, .y = y};
    ns_pool_run(p, shuffle_fwd_task, &t);
}

void ns_shuffle_backward(struct ns_pool *p, int rows, int c, int groups, const float *dy,
                         float *dx, int acc)
{
    if (!dx)
        return;
    struct ch_ctx t = {.rows = rows, .c = c, .groups = groups, .b = dy, .da = dx, .acc_a = acc};
    ns_pool_run(p, shuffle_bwd_task, &t);
}

static void slice_fwd_task(void *vp, int ith, int nth)
{
    const struct ch_ctx *t = vp;
    int lo, hi;
    ns_split(t->rows, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++)
        memcpy(t->y + (size_t)r * t->c, t->a + (size_t)r * t->ca + t->lo,
               sizeof(float) * (size_t)t->c);
}

/* The input's gradient is dy in the slice's channels and 0 elsewhere (added when acc). */
static void slice_bwd_task(void *vp, int ith, int nth)
{
    const struct ch_ctx *t = vp;
    int lo, hi;
    ns_split(t->rows, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        float *dx = t->da + (size_t)r * t->ca;
        if (!t->acc_a) {
            memset(dx, 0, sizeof(float) * (size_t)t->lo);
            memset(dx + t->lo + t->c, 0, sizeof(float) * (size_t)(t->ca - t->lo - t->c));
        }
        copy_or_add(dx + t->lo, t->b + (size_t)r * t->c, t->c, t->acc_a);
    }
}

void ns_slice_forward(struct ns_pool *p, int rows, int cin, int lo, int c, const float *x,
                      float *y)
{
    struct ch_ctx t = {.rows = rows, .ca = cin, .c = c, .lo = lo, .a = x, .y = y};
    ns_pool_run(p, slice_fwd_task, &t);
}

void ns_slice_backward(struct ns_pool *p, int rows, int cin, int lo, int c, const float *dy,
                       float *dx, int acc)
{
    if (!dx)
        return;
    struct ch_ctx t = {.rows = rows, .ca = cin, .c = c, .lo = lo, .b = dy, .da = dx, .acc_a = acc};
    ns_pool_run(p, slice_bwd_task, &t);
}

static void concat_fwd_task(void *vp, int ith, int nth)
{
    const struct ch_ctx *t = vp;
    int lo, hi;
    ns_split(t->rows, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        float *y = t->y + (size_t)r * t->c;
        memcpy(y, t->a + (size_t)r * t->ca, sizeof(float) * (size_t)t->ca);
        memcpy(y + t->ca, t->b + (size_t)r * t->cb, sizeof(float) * (size_t)t->cb);
    }
}

static void concat_bwd_task(void *vp, int ith, int nth)
{
    const struct ch_ctx *t = vp;
    int lo, hi;
    ns_split(t->rows, ith, nth, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        const float *dy = t->y + (size_t)r * t->c;
        if (t->da)
            copy_or_add(t->da + (size_t)r * t->ca, dy, t->ca, t->acc_a);
        if (t->db)
            copy_or_add(t->db + (size_t)r * t->cb, dy + t->ca, t->cb, t->acc_b);
    }
}

void ns_concat_forward(struct ns_pool *p, int rows, int ca, int cb, const float *a,
                       const float *b, float *y)
{
    struct ch_ctx t = {.rows = rows, .ca = ca, .cb = cb, .c = ca + cb, .a = a, .b = b, .y = y};
    ns_pool_run(p, concat_fwd_task, &t);
}

void ns_concat_backward(struct ns_pool *p, int rows, int ca, int cb, const float *dy, float *da,
                        int acc_a, float *db, int acc_b)
{
    struct ch_ctx t = {.rows = rows, .ca = ca, .cb = cb, .c = ca + cb, .y = (float *)dy,
                       .da = da, .acc_a = acc_a, .db = db, .acc_b = acc_b};
    ns_pool_run(p, concat_bwd_task, &t);
}
