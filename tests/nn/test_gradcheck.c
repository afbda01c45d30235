/* Every op's backward against central finite differences of its forward, as ggml's
 * test-grad0 does: a scalar loss L = sum(y * r) for a fixed random r (so dy = r), each
 * checked element perturbed by +-eps and the difference quotient compared with the
 * analytic gradient. Linear ops are also compared, on every element, with a plain
 * double-precision reference (forward and its adjoint), and every backward is run with
 * acc = 0 over garbage (it must overwrite), acc = 1 over known values (it must add) and,
 * where allowed, a NULL input gradient. Parameter gradients must accumulate.
 * Finally whole networks, one per block type, are checked the same way: ns_net_backward's
 * parameter gradients against finite differences of the training-mode loss.
 *
 * Ops run on 1, 2 and 3 threads (the per-thread partial sums); the many forward calls of
 * finite differences run on the caller's thread only, which a busy machine cannot stall. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* needs the headers above: a block of its own, so sorting keeps it here */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/net.h"
#include "nn/ops.h"
#include "nn/pool.h"
#include "nn_check.h"
#include "nn_fd.h"
#include "util/err.h"

static struct ns_pool *pool2, *pool3;
static int verbose;

/* float32 op vs double reference */
#define REF_ATOL 1e-4
#define REF_RTOL 1e-5

/* ---- convolution ---------------------------------------------------------------------- */

struct conv_case {
    const char *name;
    int h, w, cin, cout, k, stride, groups;
    int kw; /* kernel width when not square (k is then the height); 0: k x k */
};

static const struct conv_case conv_cases[] = {
    {"1x1 s1 (GEMM)", 5, 5, 5, 7, 1, 1, 1, 0},
    {"1x1 s2 (gathered GEMM)", 7, 7, 6, 10, 1, 2, 1, 0},
    {"3x3 s1 (im2col)", 6, 6, 3, 8, 3, 1, 1, 0},
    {"3x3 s2 (im2col)", 7, 7, 4, 6, 3, 2, 1, 0},
    {"7x7 s2 (im2col stem)", 11, 11, 2, 8, 7, 2, 1, 0},
    /* the direct stem kernel's runs of interior pixels: 8 (8 outputs), 4 (16), 2 (32) */
    {"3x3 s1 1->8, 12 wide (direct, 8-pixel runs)", 5, 12, 1, 8, 3, 1, 1, 0},
    {"3x3 s2 3->16, 15 wide (direct, 4-pixel runs)", 6, 15, 3, 16, 3, 2, 1, 0},
    {"5x5 s1 2->32 (direct, 2-pixel runs)", 6, 8, 2, 32, 5, 1, 1, 0},
    {"depthwise 3x3 s1", 6, 6, 12, 12, 3, 1, 12, 0},
    {"depthwise 3x3 s2", 7, 7, 16, 16, 3, 2, 16, 0},
    /* channels a multiple of 8: blocks of 1-4 vectors in registers (56 = 32 + 24) */
    {"depthwise 3x3 s1, 56 channels", 6, 6, 56, 56, 3, 1, 56, 0},
    {"depthwise 5x5 s2, 40 channels", 9, 9, 40, 40, 5, 2, 40, 0},
    {"depthwise 3x3 s1, 8 channels", 5, 5, 8, 8, 3, 1, 8, 0},
    {"grouped g=8 s1", 6, 6, 16, 16, 3, 1, 2, 0},
    {"grouped g=8 s2", 7, 7, 32, 32, 3, 2, 4, 0},
    {"grouped g=16 s2", 7, 7, 32, 32, 3, 2, 2, 0},
    {"grouped g=2 (block-diagonal)", 6, 6, 16, 16, 3, 1, 8, 0},
    {"grouped g=4 s2 (block-diagonal)", 7, 7, 16, 16, 3, 2, 4, 0},
    {"grouped g=2 s2 (small-group shuffles)", 9, 9, 16, 16, 3, 2, 8, 0},
    {"grouped g=4 s1, 24 channels", 8, 8, 24, 24, 3, 1, 6, 0},
    {"grouped g=4 5x5 s1", 7, 7, 16, 16, 5, 1, 4, 0},
    {"grouped g=2 s1 12x12 (dy's padded copy outgrows x's)", 12, 12, 16, 16, 3, 1, 8, 0},
    {"grouped 1x1 g=8", 5, 5, 16, 16, 1, 1, 2, 0},
    /* group widths 2 and 4, channels not a multiple of 8: the grouped kernel on zero-padded
     * copies */
    {"padded g=4 12 channels", 6, 6, 12, 12, 3, 1, 3, 0},
    {"padded g=4 s2, 28 channels", 7, 7, 28, 28, 3, 2, 7, 0},
    {"padded g=2 s1, 6 channels", 6, 6, 6, 6, 3, 1, 3, 0},
    {"padded g=2 5x5 s2, 10 channels", 9, 9, 10, 10, 5, 2, 5, 0},
    {"padded g=2 2x2 s1, 6 channels (even kernel)", 6, 6, 6, 6, 2, 1, 3, 0},
    {"padded g=4 1x1 s2, 12 channels", 7, 7, 12, 12, 1, 2, 3, 0},
    {"padded ungrouped 2->2 3x3 s1", 6, 6, 2, 2, 3, 1, 1, 0},
    {"padded ungrouped 4->4 3x3 s2", 7, 7, 4, 4, 3, 2, 1, 0},
    /* other ungrouped layers of 5-7 channels: one group of 8 (zero rows and columns) */
    {"padded ungrouped 6->6 3x3 s1", 6, 6, 6, 6, 3, 1, 1, 0},
    {"padded ungrouped 5->5 5x5 s2", 9, 9, 5, 5, 5, 2, 1, 0},
    {"padded ungrouped 7->7 2x2 s1 (even kernel)", 6, 7, 7, 7, 2, 1, 1, 0},
    {"ungrouped 3->3 3x3 s1 (im2col: padding would do 7x the products)", 5, 5, 3, 3, 3, 1, 1, 0},
    {"ungrouped 8->8 3x3 s2 (the grouped kernel, one group)", 7, 7, 8, 8, 3, 2, 1, 0},
    {"generic 12->12 groups=2", 6, 6, 12, 12, 3, 1, 2, 0},
    {"generic 8->12 groups=4 s2", 7, 7, 8, 12, 3, 2, 4, 0},
    /* rectangular kernels (ACNet): im2col when ungrouped, the generic loop when grouped */
    {"1x3 s1 (im2col)", 6, 5, 3, 8, 1, 1, 1, 3},
    {"3x1 s2 (im2col)", 7, 6, 4, 6, 3, 2, 1, 1},
    {"1x5 s2 (im2col)", 7, 9, 2, 5, 1, 2, 1, 5},
    {"3x1 depthwise (generic)", 6, 6, 8, 8, 3, 1, 8, 1},
    {"1x3 groups=2 s2 (generic)", 7, 7, 8, 6, 1, 2, 2, 3},
};

/* Plain double-precision convolution: the definition, loop for loop. */
static void ref_conv_forward(const struct ns_conv *c, int n, const float *x, const float *w,
                             const float *b, double *y)
{
    int opg = c->cout / c->groups;
    for (int i = 0; i < n; i++)
        for (int ho = 0; ho < c->ho; ho++)
            for (int wo = 0; wo < c->wo; wo++)
                for (int co = 0; co < c->cout; co++) {
                    double s = b ? b[co] : 0.0;
                    int gi = co / opg;
                    for (int kh = 0; kh < c->kh; kh++)
                        for (int kw = 0; kw < c->kw; kw++) {
                            int hi = ho * c->stride - c->pad_h + kh,
                                wi = wo * c->stride - c->pad_w + kw;
                            if (hi < 0 || hi >= c->h || wi < 0 || wi >= c->w)
                                continue;
                            for (int j = 0; j < c->cpg; j++)
                                s += (double)x[(((size_t)i * c->h + hi) * c->w + wi) * c->cin +
                                               gi * c->cpg + j] *
                                     w[((size_t)(kh * c->kw + kw) * c->cpg + j) * c->cout + co];
                        }
                    y[(((size_t)i * c->ho + ho) * c->wo + wo) * c->cout + co] = s;
                }
}

/* The adjoint of ref_conv_forward (dx, dw, db overwritten). */
static void ref_conv_backward(const struct ns_conv *c, int n, const float *x, const float *w,
                              const float *dy, double *dx, double *dw, double *db)
{
    int opg = c->cout / c->groups;
    memset(dx, 0, sizeof(double) * n * c->h * c->w * c->cin);
    memset(dw, 0, sizeof(double) * c->kh * c->kw * c->cpg * c->cout);
    memset(db, 0, sizeof(double) * c->cout);
    for (int i = 0; i < n; i++)
        for (int ho = 0; ho < c->ho; ho++)
            for (int wo = 0; wo < c->wo; wo++)
                for (int co = 0; co < c->cout; co++) {
                    double g = dy[(((size_t)i * c->ho + ho) * c->wo + wo) * c->cout + co];
                    int gi = co / opg;
                    db[co] += g;
                    for (int kh = 0; kh < c->kh; kh++)
                        for (int kw = 0; kw < c->kw; kw++) {
                            int hi = ho * c->stride - c->pad_h + kh,
                                wi = wo * c->stride - c->pad_w + kw;
                            if (hi < 0 || hi >= c->h || wi < 0 || wi >= c->w)
                                continue;
                            for (int j = 0; j < c->cpg; j++) {
                                size_t xi = (((size_t)i * c->h + hi) * c->w + wi) * c->cin +
                                            gi * c->cpg + j;
                                size_t wj = ((size_t)(kh * c->kw + kw) * c->cpg + j) * c->cout + co;
                                dx[xi] += g * w[wj];
                                dw[wj] += g * x[xi];
                            }
                        }
                }
}

struct conv_ctx {
    struct ns_pool *p;
    const struct ns_conv *c;
    int n;
    float *x, *w, *b, *y, *r, *scratch;
    size_t ny;
};

static double conv_loss(void *vp)
{
    struct conv_ctx *t = vp;
    ns_conv_forward(t->p, t->c, t->n, t->x, t->w, t->b, t->y, t->scratch);
    return project(t->y, t->r, t->ny);
}

/* One conv shape, with or without bias, batch n: forward and backward against the
 * reference on 1, 2 and 3 threads, in the three gradient modes, then (if fd) finite
 * differences. Returns the number of failed checks. */
static int check_conv(const struct conv_case *cc, int bias, int n, int fd)
{
    char what[160], name[96];
    struct ns_conv c;
    ns_conv_setup_rect(&c, cc->h, cc->w, cc->cin, cc->cout, cc->k, cc->kw ? cc->kw : cc->k,
                       cc->stride, cc->groups, bias);
    snprintf(name, sizeof name, "conv %s%s, n=%d", cc->name, bias ? " +bias" : "", n);
    size_t nx = (size_t)n * c.h * c.w * c.cin, ny = (size_t)n * c.ho * c.wo * c.cout;
    size_t nw = (size_t)c.kh * c.kw * c.cpg * c.cout, nb = (size_t)c.cout;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 1000u + (uint64_t)cc->h * 131 + cc->cin * 17 + cc->groups, bias);
    float *x = nn_floats(nx), *w = nn_floats(nw), *b = bias ? nn_floats(nb) : NULL;
    float *y = nn_floats(ny), *r = nn_floats(ny), *dx = nn_floats(nx), *dw = nn_floats(nw);
    float *db = nn_floats(nb), *pre_dx = nn_floats(nx), *pre_dw = nn_floats(nw);
    float *pre_db = nn_floats(nb);
    double *ry = malloc(sizeof(double) * ny), *rdx = malloc(sizeof(double) * nx);
    double *rdw = malloc(sizeof(double) * nw), *rdb = malloc(sizeof(double) * nb);
    nn_uniform(&rng, x, nx, -1, 1);
    nn_uniform(&rng, w, nw, -1, 1);
    if (b)
        nn_uniform(&rng, b, nb, -0.5f, 0.5f);
    nn_uniform(&rng, r, ny, -1, 1);
    nn_uniform(&rng, pre_dx, nx, -1, 1);
    nn_uniform(&rng, pre_dw, nw, -1, 1);
    nn_uniform(&rng, pre_db, nb, -1, 1);
    ref_conv_forward(&c, n, x, w, b, ry);
    ref_conv_backward(&c, n, x, w, r, rdx, rdw, rdb);

    int fails = 0;
    struct ns_pool *pools[3] = {NULL, pool2, pool3};
    for (int pi = 0; pi < 3; pi++) {
        struct ns_pool *p = pools[pi];
        int nth = ns_pool_size(p);
        float *scratch = nn_floats(ns_conv_scratch(&c, n, nth));

        ns_conv_forward(p, &c, n, x, w, b, y, scratch);
        snprintf(what, sizeof what, "%s, %d threads: y", name, nth);
        fails += !nn_close_d(what, y, ry, ny, REF_ATOL, REF_RTOL);

        for (int mode = 0; mode < 3; mode++) { /* acc = 0, acc = 1, dx = NULL */
            static const char *mname[3] = {"acc=0", "acc=1", "dx=NULL"};
            if (mode == 0)
                nn_fill(dx, nx, SENTINEL);
            else
                memcpy(dx, pre_dx, sizeof(float) * nx);
            memcpy(dw, pre_dw, sizeof(float) * nw);
            memcpy(db, pre_db, sizeof(float) * nb);
            ns_conv_backward(p, &c, n, x, w, r, mode == 2 ? NULL : dx, mode == 1, dw, b ? db : NULL,
                             scratch);
            float *g;
            if (mode < 2) {
                g = mode ? diff(dx, pre_dx, nx) : dx;
                snprintf(what, sizeof what, "%s, %d threads, %s: dx", name, nth, mname[mode]);
                fails += !nn_close_d(what, g, rdx, nx, REF_ATOL, REF_RTOL);
                if (mode)
                    free(g);
            } else if (memcmp(dx, pre_dx, sizeof(float) * nx) != 0) {
                fprintf(stderr, "%s: dx=NULL but the dx buffer was written\n", name);
                fails++;
            }
            g = diff(dw, pre_dw, nw);
            snprintf(what, sizeof what, "%s, %d threads, %s: dw (accumulated)", name, nth,
                     mname[mode]);
            fails += !nn_close_d(what, g, rdw, nw, REF_ATOL, REF_RTOL);
            free(g);
            g = diff(db, pre_db, nb);
            snprintf(what, sizeof what, "%s, %d threads, %s: db (accumulated)", name, nth,
                     mname[mode]);
            if (b)
                fails += !nn_close_d(what, g, rdb, nb, REF_ATOL, REF_RTOL);
            else if (memcmp(db, pre_db, sizeof(float) * nb) != 0) {
                fprintf(stderr, "%s: written without bias\n", what);
                fails++;
            }
            free(g);
        }
        free(scratch);
    }

    if (fd) {
        /* finite differences of the 2-thread analytic gradients */
        float *scratch = nn_floats(ns_conv_scratch(&c, n, 2));
        nn_fill(dx, nx, SENTINEL);
        memset(dw, 0, sizeof(float) * nw);
        memset(db, 0, sizeof(float) * nb);
        ns_conv_backward(pool2, &c, n, x, w, r, dx, 0, dw, b ? db : NULL, scratch);
        struct conv_ctx t = {NULL, &c, n, x, w, b, y, r, scratch, ny};
        snprintf(what, sizeof what, "%s: fd dx", name);
        fails += fd_check(what, conv_loss, &t, x, nx, dx, 1e-2, 48, FD_ATOL, FD_RTOL, 0);
        snprintf(what, sizeof what, "%s: fd dw", name);
        fails += fd_check(what, conv_loss, &t, w, nw, dw, 1e-2, 48, FD_ATOL, FD_RTOL, 0);
        if (b) {
            snprintf(what, sizeof what, "%s: fd db", name);
            fails += fd_check(what, conv_loss, &t, b, nb, db, 1e-2, 64, FD_ATOL, FD_RTOL, 0);
        }
        free(scratch);
    }
    free(x), free(w), free(b), free(y), free(r), free(dx), free(dw), free(db);
    free(pre_dx), free(pre_dw), free(pre_db), free(ry), free(rdx), free(rdw), free(rdb);
    return fails;
}

static void conv_gradients_every_kernel_path(void **state)
{
    (void)state;
    int fails = 0;
    for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++)
        for (int bias = 0; bias < 2; bias++)
            fails += check_conv(&conv_cases[i], bias, 3, 1) +
                     check_conv(&conv_cases[i], bias, 1, 0); /* a thread without images */
    assert_int_equal(fails, 0);
}

/* ---- batch norm --------------------------------------------------------------------- */

struct bn_ctx {
    const struct ns_bn *b;
    int n;
    float *x, *gamma, *beta, *rm, *rv, *mean, *rstd, *y, *r, *scratch;
    size_t len;
};

static double bn_loss(void *vp)
{
    struct bn_ctx *t = vp;
    ns_bn_forward_train(NULL, t->b, t->n, t->x, t->gamma, t->beta, t->rm, t->rv, t->mean, t->rstd,
                        NULL, t->y, t->scratch);
    return project(t->y, t->r, t->len);
}

/* Batch statistics in double: mean, biased variance. */
static void ref_bn_stats(const float *x, size_t m, int C, double *mu, double *var)
{
    for (int c = 0; c < C; c++) {
        double s = 0, s2 = 0;
        for (size_t i = 0; i < m; i++)
            s += x[i * C + c];
        mu[c] = s / m;
        for (size_t i = 0; i < m; i++)
            s2 += (x[i * C + c] - mu[c]) * (x[i * C + c] - mu[c]);
        var[c] = s2 / m;
    }
}

/* Move inputs whose pre-activation gamma*x_hat + beta lies within `margin` of the ReLU kink
 * out of that band, so that finite differences never straddle it. */
static void bn_avoid_kink(float *x, size_t m, int C, const float *gamma, const float *beta,
                          double margin)
{
    double *mu = malloc(sizeof(double) * C), *var = malloc(sizeof(double) * C);
    int moved = 1;
    for (int iter = 0; iter < 200 && moved; iter++) {
        ref_bn_stats(x, m, C, mu, var);
        moved = 0;
        for (int c = 0; c < C; c++) {
            double rs = 1 / sqrt(var[c] + 1e-5);
            for (size_t i = 0; i < m; i++) {
                double v = gamma[c] * (x[i * C + c] - mu[c]) * rs + beta[c];
                if (fabs(v) < margin) { /* to v = +-2 margin, on the side it was */
                    x[i * C + c] =
                        (float)(mu[c] + ((v < 0 ? -2 : 2) * margin - beta[c]) / (gamma[c] * rs));
                    moved = 1;
                }
            }
        }
    }
    free(mu), free(var);
    if (moved)
        fail_msg("could not move the BN test inputs away from the ReLU kink");
}

/* BN over n images of side x side pixels and C channels: training forward (output, batch
 * statistics, running statistics), backward in the three gradient modes and evaluation
 * forward against a double reference on 1, 2 and 3 threads; then finite differences. */
static int check_bn(int n, int side, int C, int relu)
{
    char what[128], name[64];
    snprintf(name, sizeof name, "bn n=%d %dx%d c=%d relu=%d", n, side, side, C, relu);
    struct ns_bn b = {.m_per_image = side * side, .c = C, .relu = relu};
    size_t m = (size_t)n * b.m_per_image, len = m * C;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 77u + C, (uint64_t)relu);
    float *x = nn_floats(len), *y = nn_floats(len), *r = nn_floats(len), *dx = nn_floats(len);
    float *pre_dx = nn_floats(len), *gamma = nn_floats(C), *beta = nn_floats(C);
    float *rm = nn_floats(C), *rv = nn_floats(C), *mean = nn_floats(C), *rstd = nn_floats(C);
    float *aff = nn_floats(2 * (size_t)C); /* the forward's scale and shift */
    float *dg = nn_floats(C), *dbt = nn_floats(C), *pre_dg = nn_floats(C), *pre_db = nn_floats(C);
    float *rm0 = nn_floats(C), *rv0 = nn_floats(C);
    /* per-channel offsets and spreads, so the statistics differ between channels */
    for (int c = 0; c < C; c++) {
        float off = 2 * ns_pcg32_float(&rng) - 1, sd = 0.5f + ns_pcg32_float(&rng);
        for (size_t i = 0; i < m; i++)
            x[i * C + c] = off + sd * (2 * ns_pcg32_float(&rng) - 1);
    }
    nn_uniform(&rng, gamma, C, 0.5f, 1.5f);
    nn_uniform(&rng, beta, C, -0.5f, 0.5f);
    nn_uniform(&rng, r, len, -1, 1);
    nn_uniform(&rng, rm0, C, -0.2f, 0.2f);
    nn_uniform(&rng, rv0, C, 0.8f, 1.2f);
    nn_uniform(&rng, pre_dx, len, -1, 1);
    nn_uniform(&rng, pre_dg, C, -1, 1);
    nn_uniform(&rng, pre_db, C, -1, 1);
    if (relu)
        bn_avoid_kink(x, m, C, gamma, beta, 0.12);

    /* reference forward, running statistics, backward and evaluation, in double */
    size_t dsz = sizeof(double);
    double *mu = malloc(dsz * C), *var = malloc(dsz * C), *rdg = malloc(dsz * C);
    double *rdb = malloc(dsz * C), *rrm = malloc(dsz * C), *rrv = malloc(dsz * C);
    double *rrs = malloc(dsz * C), *ry = malloc(dsz * len), *rdx = malloc(dsz * len);
    double *rye = malloc(dsz * len);
    ref_bn_stats(x, m, C, mu, var);
    for (int c = 0; c < C; c++) {
        double rs = 1 / sqrt(var[c] + 1e-5), sg = 0, sgx = 0;
        double rse = 1 / sqrt(rv0[c] + 1e-5);
        rrs[c] = rs;
        rrm[c] = 0.9 * rm0[c] + 0.1 * mu[c];
        rrv[c] = 0.9 * rv0[c] + 0.1 * var[c] * m / (m - 1);
        for (size_t i = 0; i < m; i++) {
            double xh = (x[i * C + c] - mu[c]) * rs, v = gamma[c] * xh + beta[c];
            ry[i * C + c] = relu && v < 0 ? 0 : v;
            double g = relu && v < 0 ? 0 : r[i * C + c];
            sg += g;
            sgx += g * xh;
            double ve = gamma[c] * (x[i * C + c] - rm0[c]) * rse + beta[c];
            rye[i * C + c] = relu && ve < 0 ? 0 : ve;
        }
        rdb[c] = sg;
        rdg[c] = sgx;
        for (size_t i = 0; i < m; i++) {
            double xh = (x[i * C + c] - mu[c]) * rs, v = gamma[c] * xh + beta[c];
            double g = relu && v < 0 ? 0 : r[i * C + c];
            rdx[i * C + c] = gamma[c] * rs * (g - sg / m - xh * sgx / m);
        }
    }

    int fails = 0;
    struct ns_pool *pools[3] = {NULL, pool2, pool3};
    for (int pi = 0; pi < 3; pi++) {
        struct ns_pool *p = pools[pi];
        int nth = ns_pool_size(p);
        float *scratch = nn_floats(ns_bn_scratch(&b, nth));
        memcpy(rm, rm0, sizeof(float) * C);
        memcpy(rv, rv0, sizeof(float) * C);
        ns_bn_forward_train(p, &b, n, x, gamma, beta, rm, rv, mean, rstd, aff, y, scratch);
        snprintf(what, sizeof what, "%s, %d threads: y", name, nth);
        fails += !nn_close_d(what, y, ry, len, REF_ATOL, REF_RTOL);
        snprintf(what, sizeof what, "%s, %d threads: batch mean", name, nth);
        fails += !nn_close_d(what, mean, mu, C, 1e-6, 1e-5);
        snprintf(what, sizeof what, "%s, %d threads: batch rstd", name, nth);
        fails += !nn_close_d(what, rstd, rrs, C, 1e-6, 1e-5);
        snprintf(what, sizeof what, "%s, %d threads: running mean", name, nth);
        fails += !nn_close_d(what, rm, rrm, C, 1e-6, 1e-5);
        snprintf(what, sizeof what, "%s, %d threads: running var (unbiased)", name, nth);
        fails += !nn_close_d(what, rv, rrv, C, 1e-6, 1e-5);

        /* modes 0-2 take the ReLU mask from the forward's scale and shift, mode 3 from y */
        for (int mode = 0; mode < 4; mode++) {
            static const char *mname[4] = {"acc=0", "acc=1", "dx=NULL", "acc=0, mask from y"};
            if (mode == 0 || mode == 3)
                nn_fill(dx, len, SENTINEL);
            else
                memcpy(dx, pre_dx, sizeof(float) * len);
            memcpy(dg, pre_dg, sizeof(float) * C);
            memcpy(dbt, pre_db, sizeof(float) * C);
            ns_bn_backward(p, &b, n, x, y, gamma, mean, rstd, mode == 3 ? NULL : aff, r,
                           mode == 2 ? NULL : dx, mode == 1, dg, dbt, scratch);
            if (mode != 2) {
                float *g = mode == 1 ? diff(dx, pre_dx, len) : dx;
                snprintf(what, sizeof what, "%s, %d threads, %s: dx", name, nth, mname[mode]);
                fails += !nn_close_d(what, g, rdx, len, REF_ATOL, 1e-4);
                if (mode == 1)
                    free(g);
            } else if (memcmp(dx, pre_dx, sizeof(float) * len) != 0) {
                fprintf(stderr, "%s: dx=NULL but the dx buffer was written\n", name);
                fails++;
            }
            float *g = diff(dg, pre_dg, C);
            snprintf(what, sizeof what, "%s, %d threads, %s: dgamma (accumulated)", name, nth,
                     mname[mode]);
            fails += !nn_close_d(what, g, rdg, C, REF_ATOL, 1e-4);
            free(g);
            g = diff(dbt, pre_db, C);
            snprintf(what, sizeof what, "%s, %d threads, %s: dbeta (accumulated)", name, nth,
                     mname[mode]);
            fails += !nn_close_d(what, g, rdb, C, REF_ATOL, 1e-4);
            free(g);
        }
        ns_bn_forward_eval(p, &b, n, x, gamma, beta, rm0, rv0, dx);
        snprintf(what, sizeof what, "%s, %d threads: evaluation y", name, nth);
        fails += !nn_close_d(what, dx, rye, len, REF_ATOL, REF_RTOL);
        free(scratch);
    }

    /* finite differences of the 2-thread gradients, with their own outputs and caches */
    float *scratch = nn_floats(ns_bn_scratch(&b, 2));
    ns_bn_forward_train(pool2, &b, n, x, gamma, beta, rm, rv, mean, rstd, aff, y, scratch);
    nn_fill(dx, len, SENTINEL);
    memset(dg, 0, sizeof(float) * C);
    memset(dbt, 0, sizeof(float) * C);
    ns_bn_backward(pool2, &b, n, x, y, gamma, mean, rstd, aff, r, dx, 0, dg, dbt, scratch);
    float *y2 = nn_floats(len), *mean2 = nn_floats(C), *rstd2 = nn_floats(C);
    struct bn_ctx t = {&b, n, x, gamma, beta, rm, rv, mean2, rstd2, y2, r, scratch, len};
    snprintf(what, sizeof what, "%s: fd dx", name);
    fails += fd_check(what, bn_loss, &t, x, len, dx, 1e-2, 64, FD_ATOL, FD_RTOL, 0);
    snprintf(what, sizeof what, "%s: fd dgamma", name);
    fails += fd_check(what, bn_loss, &t, gamma, C, dg, 1e-2, 64, FD_ATOL, FD_RTOL, 0);
    snprintf(what, sizeof what, "%s: fd dbeta", name);
    fails += fd_check(what, bn_loss, &t, beta, C, dbt, 1e-2, 64, FD_ATOL, FD_RTOL, 0);

    free(x), free(y), free(r), free(dx), free(pre_dx), free(gamma), free(beta), free(rm);
    free(rv), free(mean), free(rstd), free(aff), free(dg), free(dbt), free(pre_dg), free(pre_db);
    free(rm0), free(rv0), free(scratch), free(y2), free(mean2), free(rstd2);
    free(mu), free(var), free(rdg), free(rdb), free(rrm), free(rrv), free(rrs), free(ry);
    free(rdx), free(rye);
    return fails;
}

static void bn_training_gradients_with_and_without_relu(void **state)
{
    (void)state;
    int fails = 0;
    fails += check_bn(3, 6, 5, 0); /* 108 rows: more than one 64-row run per thread */
    fails += check_bn(3, 6, 5, 1);
    fails += check_bn(2, 3, 16, 0);
    fails += check_bn(2, 3, 16, 1);
    fails += check_bn(4, 9, 3, 1);    /* 324 rows */
    /* multiples of 8 take the vector paths: blocks of 1-4 vectors (56 = 32 + 24, 8 = one),
     * and 512-channel chunks with a remainder (1104) */
    fails += check_bn(3, 6, 56, 1);
    fails += check_bn(3, 6, 56, 0);
    fails += check_bn(2, 7, 8, 1);
    fails += check_bn(2, 3, 1104, 1);
    fails += check_bn(2, 3, 1100, 1); /* wider than the core's 512- and 1024-channel chunks */
    fails += check_bn(1, 3, 1100, 0);
    assert_int_equal(fails, 0);
}

/* ---- the vector paths give the plain loops' bits ------------------------------------------
 * BN and depthwise convolutions treat every channel on its own, in vectors of 8 channels
 * with the last one masked when the count is not a multiple of 8; each path promises a
 * plain loop's operations in its order, so the same bits. BN keeps its plain loops (struct
 * ns_bn's `plain`, for this test) and is checked against them at several channel counts;
 * the depthwise kernels, which have no plain form, give the same data as 16 channels and as
 * the first 16 of 17 channels the same bits for those 16. */

/* bit-identical arrays of n floats; else the first difference on stderr */
static int identical(const char *what, const float *vec, const float *plain, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(vec + i, plain + i, sizeof(float)) != 0) {
            fprintf(stderr, "%s: element %zu: %.9g, reference %.9g\n", what, i, vec[i],
                    plain[i]);
            return 0;
        }
    return 1;
}

static void bn_vector_paths_give_the_plain_loops_bits(void **state)
{
    (void)state;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 4243u, 1u);
    /* 108 rows: more than one 64-row run, split over 2 threads; counts below and above 8,
     * multiples of 8 or not, blocks of 4 vectors and a partial one, above 64 (stats plain),
     * past the 512-channel chunks of the backward; the flat passes (counts up to 512 that are
     * not multiples of 8: strips of period 8, 24, 136, 200, 1016 floats; 2 threads start at
     * phases that are not multiples of 8) and the row form above them */
    static const int counts[] = {1, 2, 3, 4, 6, 12, 16, 17, 28, 44, 72, 100, 127, 520, 1030};
    int fails = 0, n = 3, side = 6;
    size_t m = (size_t)n * side * side;
    for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
        int C = counts[ci];
        size_t len = m * C;
        float *x = nn_floats(len), *dy = nn_floats(len), *par = nn_floats(4 * (size_t)C);
        nn_uniform(&rng, x, len, -1.5f, 2.5f);
        nn_uniform(&rng, dy, len, -1, 1);
        nn_uniform(&rng, par, 3 * (size_t)C, -0.5f, 1.5f); /* gamma, beta, running mean */
        nn_uniform(&rng, par + 3 * C, (size_t)C, 0.5f, 1.5f); /* running variance */
        float *y[2], *dx[2], *st[2], *dpar[2], *scratch[2];
        for (int relu = 0; relu < 2; relu++)
            for (int mode = 0; mode < 3; mode++) { /* ReLU mask from the affine cache, from y; acc */
                for (int v = 0; v < 2; v++) { /* v = 1: the plain loops */
                    struct ns_bn b = {.m_per_image = side * side, .c = C, .relu = relu, .plain = v};
                    y[v] = nn_floats(len), dx[v] = nn_floats(len);
                    st[v] = nn_floats(6 * (size_t)C); /* rm rv mean rstd, affine (2C) */
                    dpar[v] = nn_floats(2 * (size_t)C); /* dgamma dbeta */
                    scratch[v] = nn_floats(ns_bn_scratch(&b, ns_pool_size(pool2)));
                    memcpy(st[v], par + 2 * C, 2 * sizeof(float) * C);
                    float *rm = st[v], *rv = rm + C, *mean = rv + C, *rstd = mean + C,
                          *aff = rstd + C;
                    ns_bn_forward_train(pool2, &b, n, x, par, par + C, rm, rv, mean, rstd, aff,
                                        y[v], scratch[v]);
                    nn_fill(dx[v], len, 0.25f);
                    nn_fill(dpar[v], 2 * (size_t)C, 0.5f);
                    ns_bn_backward(pool2, &b, n, x, y[v], par, mean, rstd, mode == 1 ? NULL : aff,
                                   dy, dx[v], mode == 2, dpar[v], dpar[v] + C, scratch[v]);
                }
                static const char *mn[3] = {"mask from scale/shift", "mask from y", "acc"};
                char what[128];
                snprintf(what, sizeof what, "bn C=%d relu=%d %s: y", C, relu, mn[mode]);
                fails += !identical(what, y[0], y[1], len);
                snprintf(what, sizeof what, "bn C=%d relu=%d %s: dx", C, relu, mn[mode]);
                fails += !identical(what, dx[0], dx[1], len);
                snprintf(what, sizeof what, "bn C=%d relu=%d %s: running stats, mean, rstd, "
                         "scale, shift", C, relu, mn[mode]);
                fails += !identical(what, st[0], st[1], 6 * (size_t)C);
                snprintf(what, sizeof what, "bn C=%d relu=%d %s: dgamma, dbeta", C, relu,
                         mn[mode]);
                fails += !identical(what, dpar[0], dpar[1], 2 * (size_t)C);
                for (int v = 0; v < 2; v++)
                    free(y[v]), free(dx[v]), free(st[v]), free(dpar[v]), free(scratch[v]);
            }
        free(x), free(dy), free(par);
    }
    assert_int_equal(fails, 0);
}

/* A 1x1 conv's backward run by its BN (ns_conv_bn_backward: BN's dx a block of 256 rows at
 * a time, each block's share of the weight gradient and its rows of dx) gives the bits of
 * ns_bn_backward then ns_conv_backward: dx, dW, dgamma, dbeta, on 1, 2 and 3 threads (pixel
 * ranges of several blocks and a partial one, ranges that start inside a block, and, with
 * 2 rows, threads with none), BN counts of the flat form (6, 12), the row form (16, 17) and
 * above 512, the ReLU mask from the affine cache and from y, no ReLU, the plain loops, dx
 * added (acc) or not computed, dW accumulated onto what it held. */
static void conv_bn_backward_gives_the_two_ops_bits(void **state)
{
    (void)state;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 4245u, 1u);
    static const struct { int n, side, cin, cout; } shapes[] = {
        {5, 11, 3, 12}, {5, 11, 16, 6}, {4, 9, 8, 16}, {3, 7, 20, 17}, {1, 3, 4, 520},
        {2, 1, 5, 12}};
    struct ns_pool *pools[3] = {NULL, pool2, pool3};
    int fails = 0, runs = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int n = shapes[si].n, side = shapes[si].side, cin = shapes[si].cin, C = shapes[si].cout;
        size_t m = (size_t)n * side * side, xl = m * cin, yl = m * C, wl = (size_t)cin * C;
        struct ns_conv c;
        ns_conv_setup(&c, side, side, cin, C, 1, 1, 1, 0);
        assert_int_equal(ns_conv_bn_fusable(&c), C >= cin); /* the net fuses these only */
        float *x = nn_floats(xl), *w = nn_floats(wl), *y = nn_floats(yl), *ybn = nn_floats(yl);
        float *bdy = nn_floats(yl), *dyc = nn_floats(yl), *par = nn_floats(8 * (size_t)C);
        nn_uniform(&rng, x, xl, -1, 1);
        nn_uniform(&rng, w, wl, -0.5f, 0.5f);
        nn_uniform(&rng, bdy, yl, -1, 1);
        nn_uniform(&rng, par, 2 * (size_t)C, -0.5f, 1.5f); /* gamma, beta */
        nn_fill(par + 3 * C, (size_t)C, 1); /* running variance (running mean 0) */
        for (int t = 0; t < 3; t++)
            for (int relu = 0; relu < 2; relu++)
                for (int mode = 0; mode < 5; mode++) { /* mask from the affine, from y; acc;
                                                        * no dx; plain loops */
                    struct ns_pool *p = pools[t];
                    int nth = ns_pool_size(p), acc = mode == 2;
                    struct ns_bn b = {.m_per_image = side * side, .c = C, .relu = relu,
                                      .plain = mode == 4};
                    size_t sl = ns_conv_bn_scratch(&c, &b, n, nth);
                    if (ns_conv_scratch(&c, n, nth) > sl || ns_bn_scratch(&b, nth) > sl)
                        fail_msg("conv+bn scratch smaller than a part's");
                    float *scratch = nn_floats(sl), *mean = par + 4 * C, *rstd = par + 5 * C;
                    float *aff = nn_floats(2 * (size_t)C);
                    ns_conv_forward(p, &c, n, x, w, NULL, y, scratch);
                    ns_bn_forward_train(p, &b, n, y, par, par + C, par + 2 * C, par + 3 * C, mean,
                                        rstd, aff, ybn, scratch);
                    float *dx[2], *dw[2], *dg[2];
                    for (int v = 0; v < 2; v++) { /* v 1: the two ops */
                        dx[v] = nn_floats(xl), dw[v] = nn_floats(wl), dg[v] = nn_floats(2 * (size_t)C);
                        nn_fill(dx[v], xl, 0.25f);
                        nn_fill(dw[v], wl, 0.5f);
                        nn_fill(dg[v], 2 * (size_t)C, -0.5f);
                        float *dxv = mode == 3 ? NULL : dx[v];
                        const float *af = mode == 1 ? NULL : aff;
                        if (v) {
                            ns_bn_backward(p, &b, n, y, ybn, par, mean, rstd, af, bdy, dyc, 0,
                                           dg[v], dg[v] + C, scratch);
                            ns_conv_backward(p, &c, n, x, w, dyc, dxv, acc, dw[v], NULL, scratch);
                        } else {
                            ns_conv_bn_backward(p, &c, &b, n, x, w, y, ybn, par, mean, rstd, af,
                                                bdy, dxv, acc, dw[v], dg[v], dg[v] + C, scratch, NULL);
                        }
                    }
                    char what[160];
                    snprintf(what, sizeof what, "conv+bn %d->%d m=%zu threads=%d relu=%d mode=%d",
                             cin, C, m, nth, relu, mode);
                    fails += !identical(what, dx[0], dx[1], xl) + !identical(what, dw[0], dw[1], wl) +
                             !identical(what, dg[0], dg[1], 2 * (size_t)C);
                    runs++;
                    for (int v = 0; v < 2; v++)
                        free(dx[v]), free(dw[v]), free(dg[v]);
                    free(scratch), free(aff);
                }
        free(x), free(w), free(y), free(ybn), free(bdy), free(dyc), free(par);
    }
    assert_int_equal(runs, 6 * 3 * 2 * 5);
    assert_int_equal(fails, 0);
}

/* BN's affine applied by the ADD (ns_bn_add_forward, vector and plain) gives the bits of
 * BN's pass followed by ns_add_forward, in training (the forward's cache) and evaluation
 * (ns_bn_eval_affine against ns_bn_forward_eval), with and without the add's ReLU, with BN's
 * output as the add's first or second operand, and with -0, NaN and infinities among the
 * shortcut's values (the ReLU maps -0 and NaN to +0). Not where both operands are NaN: which
 * payload their sum keeps is the compiler's choice of operand order in either form. */
static void bn_add_forward_gives_the_two_passes_bits(void **state)
{
    (void)state;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 4244u, 1u);
    static const int counts[] = {1, 3, 4, 6, 8, 12, 17, 28, 44, 72, 1030};
    int fails = 0, n = 3, side = 6;
    size_t m = (size_t)n * side * side;
    for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
        int C = counts[ci];
        size_t len = m * C;
        float *x = nn_floats(len), *skip = nn_floats(len), *par = nn_floats(4 * (size_t)C);
        float *y = nn_floats(len), *ref = nn_floats(len);
        float *out = nn_floats(len), *st = nn_floats(8 * (size_t)C);
        float *aff = nn_floats(2 * (size_t)C);
        nn_uniform(&rng, x, len, -1.5f, 2.5f);
        nn_uniform(&rng, skip, len, -2, 2);
        static const float special[] = {-0.0f, 0.0f, NAN, INFINITY, -INFINITY};
        for (size_t i = 0; i < len; i += 7)
            skip[i] = special[(i / 7) % 5];
        nn_uniform(&rng, par, 3 * (size_t)C, -0.5f, 1.5f);
        nn_uniform(&rng, par + 3 * C, (size_t)C, 0.5f, 1.5f);
        /* channel 0: gamma 0, beta -0 and a positive mean make BN's output -0 where x < 0;
         * with a -0 shortcut the sum is -0, which the ReLU must turn into +0 */
        par[0] = 0.0f, par[C] = -0.0f, par[2 * C] = 0.5f;
        for (size_t r = 0; r < m; r += 2)
            skip[r * C] = -0.0f;
        for (int train = 0; train < 2; train++)
            for (int relu = 0; relu < 2; relu++)
                for (int second = 0; second < 2; second++) {
                    struct ns_bn b = {.m_per_image = side * side, .c = C};
                    float *scratch = nn_floats(ns_bn_scratch(&b, ns_pool_size(pool2)));
                    float *rm = st, *rv = st + C;
                    memcpy(rm, par + 2 * C, 2 * sizeof(float) * C);
                    if (train)
                        ns_bn_forward_train(pool2, &b, n, x, par, par + C, rm, rv, st + 2 * C,
                                            st + 3 * C, st + 4 * C, y, scratch);
                    else
                        ns_bn_forward_eval(pool2, &b, n, x, par, par + C, rm, rv, y);
                    ns_add_forward(pool2, len, second ? skip : y, second ? y : skip, relu, ref);
                    if (train) { /* the statistics alone leave the same cache */
                        memcpy(aff, st + 4 * C, 2 * sizeof(float) * C);
                        memcpy(rm, par + 2 * C, 2 * sizeof(float) * C);
                        ns_bn_forward_train(pool2, &b, n, x, par, par + C, rm, rv, st + 2 * C,
                                            st + 3 * C, st + 4 * C, NULL, scratch);
                        fails += !identical("bn statistics only: scale, shift", st + 4 * C, aff,
                                            2 * (size_t)C);
                    } else {
                        ns_bn_eval_affine(&b, par, par + C, rm, rv, aff);
                    }
                    for (int v = 0; v < 2; v++) {
                        b.plain = v;
                        nn_fill(out, len, 9.0f);
                        ns_bn_add_forward(pool2, &b, n, x, aff, skip, relu, out);
                        char what[128];
                        snprintf(what, sizeof what, "bn+add C=%d %s relu=%d bn %s %s", C,
                                 train ? "train" : "eval", relu, second ? "second" : "first",
                                 v ? "plain" : "vector");
                        fails += !identical(what, out, ref, len);
                    }
                    free(scratch);
                }
        free(x), free(skip), free(par), free(y), free(ref), free(out), free(st);
        free(aff);
    }
    assert_int_equal(fails, 0);
}

/* a[r][0..16) of a (rows, 16) tensor against b[r][0..16) of a (rows, 17) one */
static int same_bits(const char *what, const float *a, const float *b, size_t rows)
{
    for (size_t r = 0; r < rows; r++)
        if (memcmp(a + r * 16, b + r * 17, 16 * sizeof(float)) != 0) {
            for (int c = 0; c < 16; c++)
                if (memcmp(a + r * 16 + c, b + r * 17 + c, sizeof(float)) != 0) {
                    fprintf(stderr, "%s: row %zu channel %d: %.9g (16 channels) vs %.9g (17)\n",
                            what, r, c, a[r * 16 + c], b[r * 17 + c]);
                    break;
                }
            return 0;
        }
    return 1;
}

/* rows x 16 random values, and the same with a 17th channel of other values */
static void twin_tensors(struct ns_pcg32 *rng, size_t rows, float lo, float hi, float *a16,
                         float *a17)
{
    for (size_t r = 0; r < rows; r++) {
        nn_uniform(rng, a16 + r * 16, 16, lo, hi);
        memcpy(a17 + r * 17, a16 + r * 16, 16 * sizeof(float));
        a17[r * 17 + 16] = lo + (hi - lo) * ns_pcg32_float(rng);
    }
}

/* The stem's direct kernel sums runs of interior pixels together and promises each pixel the
 * one-pixel loop's bits: an image 19 wide (runs of 8, 4 and 2 pixels at 8, 16 and 32 output
 * channels) against, for each interior column, the 3 columns around it cut out as an image
 * of its own, whose only interior pixel the one-pixel loop computes. */
static void direct_stem_runs_give_the_one_pixel_bits(void **state)
{
    (void)state;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 4244u, 1u);
    int fails = 0, H = 5, W = 19, cin = 3;
    for (int cout = 8; cout <= 32; cout *= 2) {
        struct ns_conv wide, cut;
        ns_conv_setup(&wide, H, W, cin, cout, 3, 1, 1, 0);
        ns_conv_setup(&cut, H, 3, cin, cout, 3, 1, 1, 0);
        float *x = nn_floats((size_t)H * W * cin), *w = nn_floats((size_t)9 * cin * cout);
        float *y = nn_floats((size_t)H * W * cout), *xc = nn_floats((size_t)H * 3 * cin);
        float *yc = nn_floats((size_t)H * 3 * cout);
        float *sw = nn_floats(ns_conv_scratch(&wide, 1, 1)), *sc = nn_floats(ns_conv_scratch(&cut, 1, 1));
        nn_uniform(&rng, x, (size_t)H * W * cin, -1, 1);
        nn_uniform(&rng, w, (size_t)9 * cin * cout, -1, 1);
        ns_conv_forward(NULL, &wide, 1, x, w, NULL, y, sw);
        for (int col = 1; col < W - 1; col++) {
            for (int h = 0; h < H; h++)
                memcpy(xc + (size_t)h * 3 * cin, x + ((size_t)h * W + col - 1) * cin,
                       sizeof(float) * 3 * cin);
            ns_conv_forward(NULL, &cut, 1, xc, w, NULL, yc, sc);
            for (int h = 0; h < H; h++) {
                char what[96];
                snprintf(what, sizeof what, "stem %d->%d row %d column %d", cin, cout, h, col);
                fails += !identical(what, y + ((size_t)h * W + col) * cout,
                                    yc + ((size_t)h * 3 + 1) * cout, (size_t)cout);
            }
        }
        free(x), free(w), free(y), free(xc), free(yc), free(sw), free(sc);
    }
    assert_int_equal(fails, 0);
}

static void depthwise_16_and_17_channels_give_the_same_bits(void **state)
{
    (void)state;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 4242u, 1u);
    int fails = 0, n = 3, side = 6;
    size_t m = (size_t)n * side * side;
    float *x[2], *dy[2], *y[2], *dx[2];
    for (int v = 0; v < 2; v++) {
        int C = 16 + v;
        x[v] = nn_floats(m * C), dy[v] = nn_floats(m * C), y[v] = nn_floats(m * C);
        dx[v] = nn_floats(m * C);
    }
    twin_tensors(&rng, m, -1.5f, 2.5f, x[0], x[1]);
    twin_tensors(&rng, m, -1, 1, dy[0], dy[1]);
    /* depthwise 3x3 convolutions, stride 1 and 2, with bias and fused ReLU (inference) */
    for (int stride = 1; stride <= 2; stride++)
        for (int acc = 0; acc < 2; acc++) {
            char what[128];
            float *dw[2], *bias[2];
            struct ns_conv cv[2];
            for (int v = 0; v < 2; v++) {
                int C = 16 + v;
                ns_conv_setup(&cv[v], side, side, C, C, 3, stride, C, 1);
                dw[v] = nn_floats(10 * (size_t)C); /* 9 taps, then the bias gradient */
                bias[v] = nn_floats((size_t)C);
            }
            float *wb[2] = {nn_floats(9 * 16), nn_floats(9 * 17)};
            twin_tensors(&rng, 9, -1, 1, wb[0], wb[1]);
            twin_tensors(&rng, 1, -0.5f, 0.5f, bias[0], bias[1]);
            size_t rows_out = (size_t)n * cv[0].ho * cv[0].wo;
            for (int v = 0; v < 2; v++) {
                int C = 16 + v;
                float *cs = nn_floats(ns_conv_scratch(&cv[v], n, ns_pool_size(pool2)));
                nn_fill(dw[v], 10 * (size_t)C, 0.125f);
                nn_fill(dx[v], m * C, 0.25f);
                cv[v].relu = 1;
                ns_conv_forward(pool2, &cv[v], n, x[v], wb[v], bias[v], y[v], cs);
                cv[v].relu = 0;
                ns_conv_backward(pool2, &cv[v], n, x[v], wb[v], dy[v], dx[v], acc, dw[v],
                                 dw[v] + 9 * C, cs);
                free(cs);
            }
            snprintf(what, sizeof what, "depthwise s%d: y (bias, ReLU)", stride);
            fails += !same_bits(what, y[0], y[1], rows_out);
            snprintf(what, sizeof what, "depthwise s%d acc=%d: dx", stride, acc);
            fails += !same_bits(what, dx[0], dx[1], m);
            snprintf(what, sizeof what, "depthwise s%d: dw, db", stride);
            fails += !same_bits(what, dw[0], dw[1], 10);
            for (int v = 0; v < 2; v++)
                free(wb[v]), free(bias[v]), free(dw[v]);
        }
    for (int v = 0; v < 2; v++)
        free(x[v]), free(dy[v]), free(y[v]), free(dx[v]);
    assert_int_equal(fails, 0);
}

/* The depthwise kernels' flat runs of interior pixels (stride 1, below 32 channels) and
 * their nine-tap weight gradient (3x3, 8 channels or fewer, any stride) give the per-pixel
 * loops' bits: forward (bias, fused ReLU), the data gradient (acc or not) and the weight
 * gradient, at counts below, at and above 8, 3x3 and 5x5 kernels, strides 1 and 2, images
 * too narrow for any interior column and wide enough for several blocks and a partial one,
 * on 2 threads. */
static void depthwise_flat_runs_give_the_per_pixel_bits(void **state)
{
    (void)state;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 4245u, 1u);
    static const int counts[] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 31};
    static const int sides[][2] = {{1, 2}, {2, 1}, {3, 3}, {5, 4}, {13, 11}, {7, 29}};
    int fails = 0, n = 2;
    for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++)
        for (int k = 3; k <= 5; k += 2)
            for (int si = 0; si < 2 * (int)(sizeof sides / sizeof sides[0]); si++) {
                int C = counts[ci], h = sides[si / 2][0], w = sides[si / 2][1];
                int stride = 1 + si % 2;
                size_t len = (size_t)n * h * w * C;
                float *x = nn_floats(len), *dy = nn_floats(len), *wt = nn_floats((size_t)k * k * C);
                float *b = nn_floats((size_t)C), *y[2], *dx[2], *dw[2];
                nn_uniform(&rng, x, len, -1.5f, 2.5f);
                nn_uniform(&rng, dy, len, -1, 1);
                nn_uniform(&rng, wt, (size_t)k * k * C, -1, 1);
                nn_uniform(&rng, b, (size_t)C, -0.5f, 0.5f);
                for (int acc = 0; acc < 2; acc++) {
                    for (int v = 0; v < 2; v++) { /* v 1: per pixel */
                        struct ns_conv cv;
                        ns_conv_setup(&cv, h, w, C, C, k, stride, C, 1);
                        cv.per_pixel = v; /* (y, dy: len floats, more than stride 2 uses) */
                        y[v] = nn_floats(len), dx[v] = nn_floats(len);
                        dw[v] = nn_floats((size_t)(k * k + 1) * C);
                        float *cs = nn_floats(ns_conv_scratch(&cv, n, ns_pool_size(pool2)));
                        cv.relu = acc; /* the fused ReLU once, a plain output once */
                        ns_conv_forward(pool2, &cv, n, x, wt, b, y[v], cs);
                        cv.relu = 0;
                        nn_fill(dx[v], len, 0.25f);
                        nn_fill(dw[v], (size_t)(k * k + 1) * C, 0.125f);
                        ns_conv_backward(pool2, &cv, n, x, wt, dy, dx[v], acc, dw[v],
                                         dw[v] + k * k * C, cs);
                        free(cs);
                    }
                    char what[128];
                    snprintf(what, sizeof what, "depthwise %dx%d/%d C=%d %dx%d relu=%d: y", k, k,
                             stride, C, h, w, acc);
                    fails += !identical(what, y[0], y[1], len);
                    snprintf(what, sizeof what, "depthwise %dx%d/%d C=%d %dx%d acc=%d: dx", k, k,
                             stride, C, h, w, acc);
                    fails += !identical(what, dx[0], dx[1], len);
                    snprintf(what, sizeof what, "depthwise %dx%d/%d C=%d %dx%d: dw, db", k, k,
                             stride, C, h, w);
                    fails += !identical(what, dw[0], dw[1], (size_t)(k * k + 1) * C);
                    for (int v = 0; v < 2; v++)
                        free(y[v]), free(dx[v]), free(dw[v]);
                }
                free(x), free(dy), free(wt), free(b);
            }
    assert_int_equal(fails, 0);
}

/* ---- activations ----------------------------------------------------------------------- */

struct act_ctx {
    enum ns_act a;
    size_t len;
    float *x, *y, *r;
};

static double act_loss(void *vp)
{
    struct act_ctx *t = vp;
    ns_act_forward(NULL, t->a, t->len, t->x, t->y);
    return project(t->y, t->r, t->len);
}

static void activation_gradients(void **state)
{
    (void)state;
    const size_t len = 301; /* not a multiple of the 16-float thread split */
    static const enum ns_act acts[5] = {NS_ACT_RELU, NS_ACT_SILU, NS_ACT_SIGMOID, NS_ACT_RELU6,
                                        NS_ACT_GELU};
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 5, 5);
    float *x = nn_floats(len), *y = nn_floats(len), *y2 = nn_floats(len), *r = nn_floats(len);
    float *dx = nn_floats(len), *pre = nn_floats(len);
    double *ry = malloc(sizeof(double) * len), *rdx = malloc(sizeof(double) * len);
    int fails = 0;
    char what[96];
    for (int ai = 0; ai < 5; ai++) {
        const enum ns_act a = acts[ai];
        const char *name = ns_act_name(a);
        for (size_t i = 0; i < len; i++) {
            float u = ns_pcg32_float(&rng);
            if (a == NS_ACT_RELU) /* keep |x| >= 0.05, away from the kink */
                x[i] = (u < 0.5f ? -1 : 1) * (0.05f + ns_pcg32_float(&rng));
            else if (a == NS_ACT_RELU6) /* both kinks (0 and 6) crossed, never within 0.05 */
            {
                float v = -2 + 10 * u;
                x[i] = fabsf(v) < 0.05f || fabsf(v - 6) < 0.05f ? v + 0.1f : v;
            }
            else
                x[i] = 8 * u - 4;
        }
        nn_uniform(&rng, r, len, -1, 1);
        nn_uniform(&rng, pre, len, -1, 1);
        for (size_t i = 0; i < len; i++) {
            double v = x[i], s = 1 / (1 + exp(-v)), yv, d;
            switch (a) {
            case NS_ACT_RELU:
                yv = v > 0 ? v : 0, d = v > 0;
                break;
            case NS_ACT_SILU:
                yv = v * s, d = s * (1 + v * (1 - s));
                break;
            case NS_ACT_RELU6:
                yv = v < 0 ? 0 : v > 6 ? 6 : v, d = v > 0 && v < 6;
                break;
            case NS_ACT_GELU: {
                double cdf = 0.5 * (1 + erf(v / sqrt(2.0)));
                yv = v * cdf, d = cdf + v * exp(-0.5 * v * v) / sqrt(2 * M_PI);
                break;
            }
            default:
                yv = s, d = s * (1 - s);
            }
            ry[i] = yv;
            rdx[i] = d * r[i];
        }
        ns_act_forward(pool2, a, len, x, y);
        snprintf(what, sizeof what, "%s: y", name);
        fails += !nn_close_d(what, y, ry, len, 1e-6, 1e-5);
        nn_fill(dx, len, SENTINEL);
        ns_act_backward(pool2, a, len, x, y, r, dx, 0);
        snprintf(what, sizeof what, "%s acc=0: dx", name);
        fails += !nn_close_d(what, dx, rdx, len, 1e-6, 1e-5);
        struct act_ctx t = {a, len, x, y2, r};
        snprintf(what, sizeof what, "%s: fd dx", name);
        fails += fd_check(what, act_loss, &t, x, len, dx, 1e-2, len, FD_ATOL, FD_RTOL, 0);
        memcpy(dx, pre, sizeof(float) * len);
        ns_act_backward(pool2, a, len, x, y, r, dx, 1);
        float *g = diff(dx, pre, len);
        snprintf(what, sizeof what, "%s acc=1: dx", name);
        fails += !nn_close_d(what, g, rdx, len, 1e-6, 1e-5);
        free(g);
    }
    free(x), free(y), free(y2), free(r), free(dx), free(pre), free(ry), free(rdx);
    assert_int_equal(fails, 0);
}

/* ---- residual add --------------------------------------------------------------------- */

struct add_ctx {
    size_t len;
    int relu;
    float *a, *b, *y, *r;
};

static double add_loss(void *vp)
{
    struct add_ctx *t = vp;
    ns_add_forward(NULL, t->len, t->a, t->b, t->relu, t->y);
    return project(t->y, t->r, t->len);
}

static void add_gradients_and_acc_flags(void **state)
{
    (void)state;
    const size_t len = 301;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 6, 6);
    float *a = nn_floats(len), *b = nn_floats(len), *y = nn_floats(len), *y2 = nn_floats(len);
    float *r = nn_floats(len), *da = nn_floats(len), *db = nn_floats(len);
    float *pa = nn_floats(len), *pb = nn_floats(len);
    double *rd = malloc(sizeof(double) * len), *ry = malloc(sizeof(double) * len);
    int fails = 0;
    char what[96];
    for (int relu = 0; relu < 2; relu++) {
        nn_uniform(&rng, a, len, -1, 1);
        for (size_t i = 0; i < len; i++) {
            /* a + b at least 0.05 away from 0: no finite difference crosses the ReLU kink */
            float s = (ns_pcg32_float(&rng) < 0.5f ? -1 : 1) * (0.05f + ns_pcg32_float(&rng));
            b[i] = s - a[i];
        }
        nn_uniform(&rng, r, len, -1, 1);
        nn_uniform(&rng, pa, len, -1, 1);
        nn_uniform(&rng, pb, len, -1, 1);
        ns_add_forward(pool2, len, a, b, relu, y);
        for (size_t i = 0; i < len; i++) {
            double v = (double)a[i] + b[i];
            ry[i] = relu && v < 0 ? 0 : v;
            rd[i] = relu && v < 0 ? 0 : r[i];
        }
        snprintf(what, sizeof what, "add relu=%d: y", relu);
        fails += !nn_close_d(what, y, ry, len, 1e-6, 1e-6);
        /* every combination of overwrite / accumulate / not wanted for the two inputs */
        for (int ma = 0; ma < 3; ma++)
            for (int mb = 0; mb < 3; mb++) {
                if (ma == 0)
                    nn_fill(da, len, SENTINEL);
                else
                    memcpy(da, pa, sizeof(float) * len);
                if (mb == 0)
                    nn_fill(db, len, SENTINEL);
                else
                    memcpy(db, pb, sizeof(float) * len);
                ns_add_backward(pool2, len, y, relu, r, ma == 2 ? NULL : da, ma == 1,
                                mb == 2 ? NULL : db, mb == 1);
                static const char *mn[3] = {"acc=0", "acc=1", "NULL"};
                float *g;
                if (ma < 2) {
                    g = ma ? diff(da, pa, len) : da;
                    snprintf(what, sizeof what, "add relu=%d da %s (db %s): da", relu, mn[ma],
                             mn[mb]);
                    fails += !nn_close_d(what, g, rd, len, 1e-6, 1e-6);
                    if (ma)
                        free(g);
                } else if (memcmp(da, pa, sizeof(float) * len)) {
                    fprintf(stderr, "add relu=%d: da=NULL but da written\n", relu);
                    fails++;
                }
                if (mb < 2) {
                    g = mb ? diff(db, pb, len) : db;
                    snprintf(what, sizeof what, "add relu=%d db %s (da %s): db", relu, mn[mb],
                             mn[ma]);
                    fails += !nn_close_d(what, g, rd, len, 1e-6, 1e-6);
                    if (mb)
                        free(g);
                } else if (memcmp(db, pb, sizeof(float) * len)) {
                    fprintf(stderr, "add relu=%d: db=NULL but db written\n", relu);
                    fails++;
                }
            }
        ns_add_backward(pool2, len, y, relu, r, da, 0, db, 0);
        struct add_ctx t = {len, relu, a, b, y2, r};
        snprintf(what, sizeof what, "add relu=%d: fd da", relu);
        fails += fd_check(what, add_loss, &t, a, len, da, 1e-2, len, FD_ATOL, FD_RTOL, 0);
        snprintf(what, sizeof what, "add relu=%d: fd db", relu);
        fails += fd_check(what, add_loss, &t, b, len, db, 1e-2, len, FD_ATOL, FD_RTOL, 0);
    }
    free(a), free(b), free(y), free(y2), free(r), free(da), free(db), free(pa), free(pb);
    free(rd), free(ry);
    assert_int_equal(fails, 0);
}

/* ---- channel scale (squeeze-and-excitation) ------------------------------------------ */

struct scale_ctx {
    int n, hw, c;
    float *x, *s, *y, *r;
};

static double scale_loss(void *vp)
{
    struct scale_ctx *t = vp;
    ns_scale_forward(NULL, t->n, t->hw, t->c, t->x, t->s, t->y);
    return project(t->y, t->r, (size_t)t->n * t->hw * t->c);
}

static void channel_scale_gradients_both_inputs(void **state)
{
    (void)state;
    const int n = 3, hw = 5, C = 7;
    size_t len = (size_t)n * hw * C, ls = (size_t)n * C;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 8, 8);
    float *x = nn_floats(len), *s = nn_floats(ls), *y = nn_floats(len), *y2 = nn_floats(len);
    float *r = nn_floats(len), *dx = nn_floats(len), *ds = nn_floats(ls);
    float *px = nn_floats(len), *ps = nn_floats(ls);
    double *rdx = malloc(sizeof(double) * len), *rds = calloc(ls, sizeof(double));
    double *ry = malloc(sizeof(double) * len);
    nn_uniform(&rng, x, len, -1, 1);
    nn_uniform(&rng, s, ls, 0, 1);
    nn_uniform(&rng, r, len, -1, 1);
    nn_uniform(&rng, px, len, -1, 1);
    nn_uniform(&rng, ps, ls, -1, 1);
    for (int i = 0; i < n; i++)
        for (int q = 0; q < hw; q++)
            for (int c = 0; c < C; c++) {
                size_t o = ((size_t)i * hw + q) * C + c;
                ry[o] = (double)x[o] * s[i * C + c];
                rdx[o] = (double)r[o] * s[i * C + c];
                rds[i * C + c] += (double)r[o] * x[o];
            }
    int fails = 0;
    char what[96];
    ns_scale_forward(pool2, n, hw, C, x, s, y);
    fails += !nn_close_d("scale: y", y, ry, len, 1e-6, 1e-6);
    for (int mx = 0; mx < 3; mx++)
        for (int ms = 0; ms < 2; ms++) {
            static const char *mn[3] = {"acc=0", "acc=1", "NULL"};
            if (mx == 0)
                nn_fill(dx, len, SENTINEL);
            else
                memcpy(dx, px, sizeof(float) * len);
            if (ms == 0)
                nn_fill(ds, ls, SENTINEL);
            else
                memcpy(ds, ps, sizeof(float) * ls);
            ns_scale_backward(pool2, n, hw, C, x, s, r, mx == 2 ? NULL : dx, mx == 1, ds, ms);
            if (mx < 2) {
                float *g = mx ? diff(dx, px, len) : dx;
                snprintf(what, sizeof what, "scale dx %s: dx", mn[mx]);
                fails += !nn_close_d(what, g, rdx, len, 1e-6, 1e-5);
                if (mx)
                    free(g);
            } else if (memcmp(dx, px, sizeof(float) * len)) {
                fprintf(stderr, "scale: dx=NULL but dx written\n");
                fails++;
            }
            float *g = ms ? diff(ds, ps, ls) : ds;
            snprintf(what, sizeof what, "scale ds %s (dx %s): ds", mn[ms], mn[mx]);
            fails += !nn_close_d(what, g, rds, ls, 1e-5, 1e-5);
            if (ms)
                free(g);
        }
    ns_scale_backward(pool2, n, hw, C, x, s, r, dx, 0, ds, 0);
    struct scale_ctx t = {n, hw, C, x, s, y2, r};
    fails += fd_check("scale: fd dx", scale_loss, &t, x, len, dx, 1e-2, len, FD_ATOL, FD_RTOL, 0);
    fails += fd_check("scale: fd ds", scale_loss, &t, s, ls, ds, 1e-2, ls, FD_ATOL, FD_RTOL, 0);
    free(x), free(s), free(y), free(y2), free(r), free(dx), free(ds), free(px), free(ps);
    free(rdx), free(rds), free(ry);
    assert_int_equal(fails, 0);
}

/* ---- pooling -------------------------------------------------------------------------- */

struct pool_ctx {
    const struct ns_pool2d *q;
    int n, max;
    float *x, *y, *r;
    size_t ny;
};

static double pool_loss(void *vp)
{
    struct pool_ctx *t = vp;
    if (t->max)
        ns_maxpool_forward(NULL, t->q, t->n, t->x, t->y);
    else
        ns_avgpool_forward(NULL, t->q, t->n, t->x, t->y);
    return project(t->y, t->r, t->ny);
}

/* Max or average (count_include_pad = False) pooling in double, and its adjoint for dy. */
static void ref_pool(const struct ns_pool2d *q, int n, int max, const float *x, const float *dy,
                     double *y, double *dx)
{
    memset(dx, 0, sizeof(double) * n * q->h * q->w * q->c);
    for (int i = 0; i < n; i++)
        for (int ho = 0; ho < q->ho; ho++)
            for (int wo = 0; wo < q->wo; wo++)
                for (int c = 0; c < q->c; c++) {
                    double best = -INFINITY, sum = 0;
                    size_t arg = 0;
                    int cnt = 0;
                    for (int kh = 0; kh < q->k; kh++)
                        for (int kw = 0; kw < q->k; kw++) {
                            int hh = ho * q->stride - q->pad + kh,
                                ww = wo * q->stride - q->pad + kw;
                            if (hh < 0 || hh >= q->h || ww < 0 || ww >= q->w)
                                continue;
                            size_t xi = (((size_t)i * q->h + hh) * q->w + ww) * q->c + c;
                            sum += x[xi];
                            cnt++;
                            if (x[xi] > best) {
                                best = x[xi];
                                arg = xi;
                            }
                        }
                    size_t yi = (((size_t)i * q->ho + ho) * q->wo + wo) * q->c + c;
                    y[yi] = max ? best : sum / cnt;
                    if (max)
                        dx[arg] += dy[yi];
                    else
                        for (int kh = 0; kh < q->k; kh++)
                            for (int kw = 0; kw < q->k; kw++) {
                                int hh = ho * q->stride - q->pad + kh,
                                    ww = wo * q->stride - q->pad + kw;
                                if (hh < 0 || hh >= q->h || ww < 0 || ww >= q->w)
                                    continue;
                                dx[(((size_t)i * q->h + hh) * q->w + ww) * q->c + c] +=
                                    dy[yi] / cnt;
                            }
                }
}

static int check_pool(int max, int h, int c, int k, int stride, int pad)
{
    char what[128];
    struct ns_pool2d q;
    ns_pool2d_setup(&q, h, h, c, k, stride, pad);
    const int n = 2;
    size_t nx = (size_t)n * h * h * c, ny = (size_t)n * q.ho * q.wo * c;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 9u + h * 7 + k, (uint64_t)max);
    float *x = nn_floats(nx), *y = nn_floats(ny), *y2 = nn_floats(ny), *r = nn_floats(ny);
    float *dx = nn_floats(nx), *px = nn_floats(nx);
    double *ry = malloc(sizeof(double) * ny), *rdx = malloc(sizeof(double) * nx);
    /* Distinct values 0.05 apart (a shuffled ramp), mostly negative: max pooling has no
     * ties within a finite-difference step, and a padded cell counted as 0 would win. */
    uint32_t *perm = malloc(sizeof(uint32_t) * nx);
    for (uint32_t i = 0; i < nx; i++)
        perm[i] = i;
    ns_pcg32_shuffle(&rng, perm, (uint32_t)nx);
    for (size_t i = 0; i < nx; i++)
        x[i] = 0.05f * ((float)perm[i] - 0.8f * (float)nx);
    free(perm);
    nn_uniform(&rng, r, ny, -1, 1);
    nn_uniform(&rng, px, nx, -1, 1);
    ref_pool(&q, n, max, x, r, ry, rdx);
    const char *kind = max ? "maxpool" : "avgpool";
    int fails = 0;
    if (max)
        ns_maxpool_forward(pool2, &q, n, x, y);
    else
        ns_avgpool_forward(pool2, &q, n, x, y);
    snprintf(what, sizeof what, "%s %dx%d k%d s%d p%d: y", kind, h, h, k, stride, pad);
    fails += !nn_close_d(what, y, ry, ny, 1e-6, 1e-6);
    for (int acc = 0; acc < 2; acc++) {
        if (acc)
            memcpy(dx, px, sizeof(float) * nx);
        else
            nn_fill(dx, nx, SENTINEL);
        if (max)
            ns_maxpool_backward(pool2, &q, n, x, y, r, dx, acc);
        else
            ns_avgpool_backward(pool2, &q, n, r, dx, acc);
        float *g = acc ? diff(dx, px, nx) : dx;
        snprintf(what, sizeof what, "%s %dx%d k%d s%d p%d acc=%d: dx", kind, h, h, k, stride, pad,
                 acc);
        fails += !nn_close_d(what, g, rdx, nx, 1e-6, 1e-5);
        if (acc)
            free(g);
    }
    nn_fill(dx, nx, SENTINEL);
    if (max)
        ns_maxpool_backward(pool2, &q, n, x, y, r, dx, 0);
    else
        ns_avgpool_backward(pool2, &q, n, r, dx, 0);
    struct pool_ctx t = {&q, n, max, x, y2, r, ny};
    snprintf(what, sizeof what, "%s %dx%d k%d s%d p%d: fd dx", kind, h, h, k, stride, pad);
    fails += fd_check(what, pool_loss, &t, x, nx, dx, 1e-2, nx, FD_ATOL, FD_RTOL, 0);
    free(x), free(y), free(y2), free(r), free(dx), free(px), free(ry), free(rdx);
    return fails;
}

static void max_and_avg_pool_gradients(void **state)
{
    (void)state;
    int fails = 0;
    for (int max = 0; max < 2; max++) {
        fails += check_pool(max, 7, 3, 3, 2, 1); /* the res stem's and sep's pool */
        fails += check_pool(max, 8, 3, 3, 2, 1); /* even size: the last window hangs over */
        fails += check_pool(max, 6, 4, 2, 2, 0);
        fails += check_pool(max, 5, 2, 3, 1, 1);
    }
    assert_int_equal(fails, 0);
}

/* ---- global average pool --------------------------------------------------------------- */

struct gap_ctx {
    int n, hw, c;
    float *x, *y, *r;
};

static double gap_loss(void *vp)
{
    struct gap_ctx *t = vp;
    ns_gap_forward(NULL, t->n, t->hw, t->c, t->x, t->y);
    return project(t->y, t->r, (size_t)t->n * t->c);
}

static void global_avg_pool_gradients(void **state)
{
    (void)state;
    const int n = 3, hw = 10, C = 6;
    size_t nx = (size_t)n * hw * C, ny = (size_t)n * C;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 10, 10);
    float *x = nn_floats(nx), *y = nn_floats(ny), *y2 = nn_floats(ny), *r = nn_floats(ny);
    float *dx = nn_floats(nx), *px = nn_floats(nx);
    double ry[18] = {0}, rdx[180];
    nn_uniform(&rng, x, nx, -1, 1);
    nn_uniform(&rng, r, ny, -1, 1);
    nn_uniform(&rng, px, nx, -1, 1);
    for (int i = 0; i < n; i++)
        for (int q = 0; q < hw; q++)
            for (int c = 0; c < C; c++) {
                ry[i * C + c] += x[((size_t)i * hw + q) * C + c] / (double)hw;
                rdx[((size_t)i * hw + q) * C + c] = r[i * C + c] / (double)hw;
            }
    int fails = 0;
    ns_gap_forward(pool2, n, hw, C, x, y);
    fails += !nn_close_d("gap: y", y, ry, ny, 1e-6, 1e-6);
    nn_fill(dx, nx, SENTINEL);
    ns_gap_backward(pool2, n, hw, C, r, dx, 0);
    fails += !nn_close_d("gap acc=0: dx", dx, rdx, nx, 1e-6, 1e-6);
    struct gap_ctx t = {n, hw, C, x, y2, r};
    fails += fd_check("gap: fd dx", gap_loss, &t, x, nx, dx, 1e-2, nx, FD_ATOL, FD_RTOL, 0);
    memcpy(dx, px, sizeof(float) * nx);
    ns_gap_backward(pool2, n, hw, C, r, dx, 1);
    float *g = diff(dx, px, nx);
    fails += !nn_close_d("gap acc=1: dx", g, rdx, nx, 1e-6, 1e-6);
    free(g);
    free(x), free(y), free(y2), free(r), free(dx), free(px);
    assert_int_equal(fails, 0);
}

/* ---- linear --------------------------------------------------------------------------- */

struct lin_ctx {
    int n, cin, cout;
    float *x, *w, *b, *y, *r;
};

static double lin_loss(void *vp)
{
    struct lin_ctx *t = vp;
    ns_linear_forward(NULL, t->n, t->cin, t->cout, t->x, t->w, t->b, t->y);
    return project(t->y, t->r, (size_t)t->n * t->cout);
}

/* Shared by the linear test and the self-test of the checker below. */
struct lin_case {
    struct lin_ctx t;
    float *dx, *dw, *db;
};

static void lin_case_make(struct lin_case *lc)
{
    const int n = 3, cin = 7, cout = 5;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 11, 11);
    lc->t = (struct lin_ctx){n,
                             cin,
                             cout,
                             nn_floats((size_t)n * cin),
                             nn_floats((size_t)cin * cout),
                             nn_floats(cout),
                             nn_floats((size_t)n * cout),
                             nn_floats((size_t)n * cout)};
    nn_uniform(&rng, lc->t.x, (size_t)n * cin, -1, 1);
    nn_uniform(&rng, lc->t.w, (size_t)cin * cout, -1, 1);
    nn_uniform(&rng, lc->t.b, cout, -1, 1);
    nn_uniform(&rng, lc->t.r, (size_t)n * cout, -1, 1);
    lc->dx = nn_floats((size_t)n * cin);
    lc->dw = nn_floats((size_t)cin * cout);
    lc->db = nn_floats(cout);
}

static void lin_case_free(struct lin_case *lc)
{
    free(lc->t.x), free(lc->t.w), free(lc->t.b), free(lc->t.y), free(lc->t.r);
    free(lc->dx), free(lc->dw), free(lc->db);
}

static void linear_gradients(void **state)
{
    (void)state;
    struct lin_case lc;
    lin_case_make(&lc);
    struct lin_ctx *t = &lc.t;
    int n = t->n, cin = t->cin, cout = t->cout, fails = 0;
    size_t nx = (size_t)n * cin, nw = (size_t)cin * cout;
    double ry[15], rdx[21], rdw[35], rdb[5];
    for (int i = 0; i < n; i++)
        for (int o = 0; o < cout; o++) {
            double s = t->b[o];
            for (int j = 0; j < cin; j++)
                s += (double)t->x[i * cin + j] * t->w[j * cout + o];
            ry[i * cout + o] = s;
        }
    for (int j = 0; j < cin; j++)
        for (int o = 0; o < cout; o++) {
            double s = 0;
            for (int i = 0; i < n; i++)
                s += (double)t->x[i * cin + j] * t->r[i * cout + o];
            rdw[j * cout + o] = s;
        }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < cin; j++) {
            double s = 0;
            for (int o = 0; o < cout; o++)
                s += (double)t->r[i * cout + o] * t->w[j * cout + o];
            rdx[i * cin + j] = s;
        }
    for (int o = 0; o < cout; o++) {
        rdb[o] = 0;
        for (int i = 0; i < n; i++)
            rdb[o] += t->r[i * cout + o];
    }
    ns_linear_forward(pool2, n, cin, cout, t->x, t->w, t->b, t->y);
    fails += !nn_close_d("linear: y", t->y, ry, (size_t)n * cout, 1e-5, 1e-6);

    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 12, 12);
    float *px = nn_floats(nx), *pw = nn_floats(nw), *pb = nn_floats(cout);
    nn_uniform(&rng, px, nx, -1, 1);
    nn_uniform(&rng, pw, nw, -1, 1);
    nn_uniform(&rng, pb, cout, -1, 1);
    for (int mode = 0; mode < 3; mode++) {
        static const char *mn[3] = {"acc=0", "acc=1", "dx=NULL"};
        char what[64];
        if (mode == 0)
            nn_fill(lc.dx, nx, SENTINEL);
        else
            memcpy(lc.dx, px, sizeof(float) * nx);
        memcpy(lc.dw, pw, sizeof(float) * nw);
        memcpy(lc.db, pb, sizeof(float) * cout);
        ns_linear_backward(pool2, n, cin, cout, t->x, t->w, t->r, mode == 2 ? NULL : lc.dx,
                           mode == 1, lc.dw, lc.db);
        if (mode < 2) {
            float *g = mode ? diff(lc.dx, px, nx) : lc.dx;
            snprintf(what, sizeof what, "linear %s: dx", mn[mode]);
            fails += !nn_close_d(what, g, rdx, nx, 1e-5, 1e-5);
            if (mode)
                free(g);
        } else if (memcmp(lc.dx, px, sizeof(float) * nx)) {
            fprintf(stderr, "linear: dx=NULL but dx written\n");
            fails++;
        }
        float *g = diff(lc.dw, pw, nw);
        snprintf(what, sizeof what, "linear %s: dw (accumulated)", mn[mode]);
        fails += !nn_close_d(what, g, rdw, nw, 1e-5, 1e-5);
        free(g);
        g = diff(lc.db, pb, cout);
        snprintf(what, sizeof what, "linear %s: db (accumulated)", mn[mode]);
        fails += !nn_close_d(what, g, rdb, cout, 1e-5, 1e-5);
        free(g);
    }
    nn_fill(lc.dx, nx, SENTINEL);
    memset(lc.dw, 0, sizeof(float) * nw);
    memset(lc.db, 0, sizeof(float) * cout);
    ns_linear_backward(pool2, n, cin, cout, t->x, t->w, t->r, lc.dx, 0, lc.dw, lc.db);
    fails += fd_check("linear: fd dx", lin_loss, t, t->x, nx, lc.dx, 1e-2, nx, FD_ATOL, FD_RTOL, 0);
    fails += fd_check("linear: fd dw", lin_loss, t, t->w, nw, lc.dw, 1e-2, nw, FD_ATOL, FD_RTOL, 0);
    fails +=
        fd_check("linear: fd db", lin_loss, t, t->b, cout, lc.db, 1e-2, cout, FD_ATOL, FD_RTOL, 0);
    free(px), free(pw), free(pb);
    lin_case_free(&lc);
    assert_int_equal(fails, 0);
}

/* The checker itself must reject a gradient that is 2% off in a single element. */
static void checker_rejects_a_slightly_wrong_gradient(void **state)
{
    (void)state;
    struct lin_case lc;
    lin_case_make(&lc);
    struct lin_ctx *t = &lc.t;
    ns_linear_forward(pool2, t->n, t->cin, t->cout, t->x, t->w, t->b, t->y);
    ns_linear_backward(pool2, t->n, t->cin, t->cout, t->x, t->w, t->r, lc.dx, 0, lc.dw, lc.db);
    size_t nw = (size_t)t->cin * t->cout, big = 0;
    for (size_t i = 0; i < nw; i++)
        if (fabsf(lc.dw[i]) > fabsf(lc.dw[big]))
            big = i;
    assert_int_equal(
        fd_check("linear dw (exact)", lin_loss, t, t->w, nw, lc.dw, 1e-2, nw, FD_ATOL, FD_RTOL, 1),
        0);
    lc.dw[big] *= 1.02f;
    assert_int_equal(fd_check("linear dw (one element 2% off)", lin_loss, t, t->w, nw, lc.dw, 1e-2,
                              nw, FD_ATOL, FD_RTOL, 1),
                     1);
    lin_case_free(&lc);
}

/* ---- dropout -------------------------------------------------------------------------- */

struct drop_ctx {
    size_t len;
    float rate;
    uint64_t seed;
    float *x, *y, *r;
    uint8_t *mask;
};

static double drop_loss(void *vp)
{
    struct drop_ctx *t = vp;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, t->seed, 3); /* the same mask every call */
    ns_dropout_forward(t->len, t->rate, &rng, t->x, t->mask, t->y);
    return project(t->y, t->r, t->len);
}

static void dropout_gradients_with_a_fixed_mask(void **state)
{
    (void)state;
    const size_t len = 200;
    const float rate = 0.3f;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 13, 13);
    float *x = nn_floats(len), *y = nn_floats(len), *y2 = nn_floats(len), *r = nn_floats(len);
    float *dx = nn_floats(len), *px = nn_floats(len);
    uint8_t *mask = malloc(len), *mask2 = malloc(len);
    double *ry = malloc(sizeof(double) * len), *rdx = malloc(sizeof(double) * len);
    nn_uniform(&rng, x, len, -1, 1);
    nn_uniform(&rng, r, len, -1, 1);
    nn_uniform(&rng, px, len, -1, 1);
    struct drop_ctx t = {len, rate, 99, x, y, r, mask};
    drop_loss(&t);
    int kept = 0;
    for (size_t i = 0; i < len; i++) {
        assert_true(mask[i] == 0 || mask[i] == 1);
        kept += mask[i];
        ry[i] = mask[i] ? x[i] / (1.0 - rate) : 0.0;
        rdx[i] = mask[i] ? r[i] / (1.0 - rate) : 0.0;
    }
    /* 200 draws with keep 0.7: 140 +- 6.5; 110..170 is beyond 4.5 sigma */
    assert_in_range(kept, 110, 170);
    int fails = 0;
    fails += !nn_close_d("dropout: y", y, ry, len, 1e-6, 1e-6);
    nn_fill(dx, len, SENTINEL);
    ns_dropout_backward(len, rate, mask, r, dx, 0);
    fails += !nn_close_d("dropout acc=0: dx", dx, rdx, len, 1e-6, 1e-6);
    struct drop_ctx t2 = {len, rate, 99, x, y2, r, mask2};
    fails += fd_check("dropout: fd dx", drop_loss, &t2, x, len, dx, 1e-2, len, FD_ATOL, FD_RTOL, 0);
    memcpy(dx, px, sizeof(float) * len);
    ns_dropout_backward(len, rate, mask, r, dx, 1);
    float *g = diff(dx, px, len);
    fails += !nn_close_d("dropout acc=1: dx", g, rdx, len, 1e-6, 1e-6);
    free(g);
    free(x), free(y), free(y2), free(r), free(dx), free(px), free(mask), free(mask2);
    free(ry), free(rdx);
    assert_int_equal(fails, 0);
}

/* ---- softmax cross-entropy ------------------------------------------------------------- */

struct xent_ctx {
    int n, classes;
    float *z;
    const int32_t *labels;
};

static double xent_loss(void *vp)
{
    struct xent_ctx *t = vp;
    return ns_softmax_xent(t->n, t->classes, t->z, t->labels, NULL, NULL);
}

static void softmax_xent_value_and_dlogits(void **state)
{
    (void)state;
    /* hand-worked: uniform logits give ln(classes); [1,2,3] with label 2 gives
     * log(e + e^2 + e^3) - 3 = log(1 + e^-1 + e^-2) */
    float z0[2 * 3] = {0, 0, 0, 1, 2, 3};
    int32_t l0[2] = {1, 2};
    float d0[6];
    int wrong = -1;
    double loss = ns_softmax_xent(2, 3, z0, l0, d0, &wrong);
    double want = (log(3.0) + log(1 + exp(-1.0) + exp(-2.0))) / 2;
    assert_true(fabs(loss - want) < 1e-6);
    assert_int_equal(wrong, 1); /* row 0: ties go to the first class, label is 1 */
    assert_true(fabs(d0[0] - (1.0 / 3) / 2) < 1e-6);
    assert_true(fabs(d0[1] - (1.0 / 3 - 1) / 2) < 1e-6);
    assert_true(fabs(d0[5] - (exp(3.0) / (exp(1.0) + exp(2.0) + exp(3.0)) - 1) / 2) < 1e-6);

    const int n = 4, classes = 5;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 14, 14);
    float z[20], dz[20];
    int32_t labels[4];
    nn_uniform(&rng, z, 20, -3, 3);
    int want_wrong = 0;
    for (int i = 0; i < n; i++) {
        labels[i] = (int32_t)ns_pcg32_bounded(&rng, classes);
        int arg = 0;
        for (int j = 1; j < classes; j++)
            if (z[i * classes + j] > z[i * classes + arg])
                arg = j;
        want_wrong += arg != labels[i];
    }
    ns_softmax_xent(n, classes, z, labels, dz, &wrong);
    assert_int_equal(wrong, want_wrong);
    struct xent_ctx t = {n, classes, z, labels};
    assert_int_equal(
        fd_check("softmax xent: fd dlogits", xent_loss, &t, z, 20, dz, 1e-2, 20, 1e-4, FD_RTOL, 0),
        0);
    /* non-finite logits propagate to the loss, for the trainer's divergence check */
    z[3] = NAN;
    assert_false(isfinite(ns_softmax_xent(n, classes, z, labels, NULL, NULL)));
    z[3] = INFINITY;
    assert_false(isfinite(ns_softmax_xent(n, classes, z, labels, NULL, NULL)));
}

/* ---- whole networks ------------------------------------------------------------------- */

struct net_ctx {
    struct ns_net *net;
    int n;
    const float *x;
    const int32_t *labels;
    uint64_t drop_seed;
};

static double net_loss(void *vp)
{
    struct net_ctx *t = vp;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, t->drop_seed, 1); /* the same dropout mask every call */
    const float *logits = ns_net_forward(t->net, t->n, t->x, 1, &rng);
    return ns_softmax_xent(t->n, t->net->cfg.classes, logits, t->labels, NULL, NULL);
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001b3ull;
}

/* A hash of where the last forward sits on the net's piecewise-smooth surface: the sign of
 * every ReLU output and the winning input of every max-pool window. Where two points have
 * the same signature, the loss between them is (almost surely) one smooth piece. */
static uint64_t kink_signature(const struct ns_net *net, int n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < net->n_nodes; i++) {
        const struct ns_node *nd = &net->nodes[i];
        const struct ns_tensor *y = &net->tensors[nd->out];
        int relu = (nd->kind == NS_N_BN && nd->u.bn.relu) || (nd->kind == NS_N_ADD && nd->relu) ||
                   (nd->kind == NS_N_ACT && nd->u.act == NS_ACT_RELU);
        if (relu)
            for (size_t k = 0; k < y->per_image * n; k++)
                h = mix(h, y->data[k] > 0);
        if (nd->kind != NS_N_MAXPOOL)
            continue;
        const struct ns_pool2d *q = &nd->u.pool;
        const float *x = net->tensors[nd->in[0]].data;
        for (int img = 0; img < n; img++)
            for (int ho = 0; ho < q->ho; ho++)
                for (int wo = 0; wo < q->wo; wo++)
                    for (int c = 0; c < q->c; c++) {
                        float m = y->data[(((size_t)img * q->ho + ho) * q->wo + wo) * q->c + c];
                        int arg = -1;
                        for (int kk = 0; kk < q->k * q->k && arg < 0; kk++) {
                            int hh = ho * q->stride - q->pad + kk / q->k;
                            int ww = wo * q->stride - q->pad + kk % q->k;
                            if (hh >= 0 && hh < q->h && ww >= 0 && ww < q->w &&
                                x[(((size_t)img * q->h + hh) * q->w + ww) * q->c + c] == m)
                                arg = kk;
                        }
                        h = mix(h, (uint64_t)arg);
                    }
    }
    return h;
}

/* Central difference of the net's loss for weight j; *smooth says whether both ends lie on
 * the same smooth piece as the unperturbed point (signature sig0). */
static double net_fd(struct net_ctx *t, size_t j, double eps, uint64_t sig0, int *smooth)
{
    float *w = t->net->w, v0 = w[j];
    w[j] = (float)(v0 + eps);
    float hp = w[j];
    double lp = net_loss(t);
    uint64_t sp = kink_signature(t->net, t->n);
    w[j] = (float)(v0 - eps);
    float hm = w[j];
    double lm = net_loss(t);
    uint64_t sm = kink_signature(t->net, t->n);
    w[j] = v0;
    *smooth = sp == sig0 && sm == sig0;
    return (lp - lm) / ((double)hp - (double)hm);
}

/* Parameters that give every gradient a useful size: BN affine away from 1/0, an FC
 * large enough that the loss depends on the features, non-zero biases. */
static void randomize_params(struct ns_net *net, struct ns_pcg32 *rng)
{
    for (int i = 0; i < net->n_params; i++) {
        const struct ns_param *p = &net->params[i];
        float *w = net->w + p->off;
        for (size_t j = 0; j < p->len; j++) {
            float u = 2 * ns_pcg32_float(rng) - 1;
            switch (p->kind) {
            case NS_P_BN_GAMMA:
                w[j] = 1.0f + 0.4f * u;
                break;
            case NS_P_BN_BETA:
            case NS_P_BIAS:
                w[j] = 0.3f * u;
                break;
            case NS_P_FC_W:
                w[j] = 0.5f * u;
                break;
            default:
                break;
            }
        }
    }
}

struct net_case {
    const char *name;
    struct ns_config cfg;
    float dropout;
};

static int check_net(const struct net_case *nc)
{
    const int n = 3;
    const struct ns_config *cfg = &nc->cfg;
    /* built for more images than it runs: nothing may assume n == max_batch */
    struct ns_net *net = ns_net_build(cfg, n + 2, nc->dropout, 0, NULL);
    if (!net) {
        fprintf(stderr, "%s: build failed: %s\n", nc->name, ns_errmsg());
        return 1;
    }
    ns_net_init(net, 42);
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 15, (uint64_t)cfg->block);
    randomize_params(net, &rng);
    size_t nx = (size_t)n * cfg->im_size * cfg->im_size * cfg->in_ch;
    float *x = nn_floats(nx);
    nn_uniform(&rng, x, nx, -1, 1);
    int32_t labels[3];
    for (int i = 0; i < n; i++)
        labels[i] = (int32_t)ns_pcg32_bounded(&rng, cfg->classes);
    struct net_ctx t = {net, n, x, labels, 123};

    float *dlogits = nn_floats((size_t)n * cfg->classes);
    struct ns_pcg32 drng;
    ns_pcg32_seed(&drng, t.drop_seed, 1);
    const float *logits = ns_net_forward(net, n, x, 1, &drng);
    ns_softmax_xent(n, cfg->classes, logits, labels, dlogits, NULL);
    ns_net_zero_grad(net);
    ns_net_backward(net, n, dlogits);
    float *grad = nn_floats(net->n_weights);
    memcpy(grad, net->dw, sizeof(float) * net->n_weights);

    /* scale of the gradients, for the absolute part of the tolerance */
    double gmax = 0;
    for (size_t i = 0; i < net->n_weights; i++)
        gmax = fmax(gmax, fabs(grad[i]));
    int fails = 0;
    if (!(gmax > 0)) {
        fprintf(stderr, "%s: all gradients are zero\n", nc->name);
        fails++;
    }
    /* Two random elements of every parameter tensor, so each conv, BN, SE and FC is hit.
     * A weight step moves many ReLU inputs at once, and one that crosses its kink bends
     * the difference quotient by far more than any tolerance: such an element (its kink
     * signature changes within the step) is replaced by another. */
    uint64_t sig0 = kink_signature(net, n);
    int checked = 0, kinked = 0;
    for (int p = 0; p < net->n_params; p++) {
        const struct ns_param *pp = &net->params[p];
        int good = 0;
        for (int attempt = 0; attempt < 10 && good < 2; attempt++) {
            size_t j = pp->off + ns_pcg32_bounded(&rng, (uint32_t)pp->len);
            /* the largest step that stays on one smooth piece: least rounding noise */
            int smooth = 0;
            double fd = 0, eps = 2e-3;
            for (int e = 0; e < 5 && !smooth; e++) {
                eps /= 2;
                fd = net_fd(&t, j, eps, sig0, &smooth);
            }
            if (!smooth) {
                kinked++;
                continue;
            }
            good++;
            checked++;
            /* float32 logits carry ~4e-7 of rounding in the loss, which the quotient divides by
             * 2 eps; the rest is relative to this gradient and to the net's largest one */
            double err = fabs(fd - grad[j]);
            double tol = 4e-7 / eps + 1e-3 * gmax + 1e-2 * fmax(fabs(fd), fabs(grad[j]));
            if (verbose)
                fprintf(stderr,
                        "  net %s: param %d [%zu] eps %g gmax %.3g analytic %.6g fd %.6g err/tol "
                        "%.3f\n",
                        nc->name, p, j - pp->off, eps, gmax, grad[j], fd, err / tol);
            if (!(err <= tol)) {
                fprintf(stderr,
                        "net %s: param %d (kind %d) [%zu]: analytic %.7g, finite "
                        "difference %.7g (|diff| %.3g > tol %.3g)\n",
                        nc->name, p, (int)pp->kind, j - pp->off, grad[j], fd, err, tol);
                fails++;
            }
        }
    }
    if (kinked > checked) {
        fprintf(stderr, "net %s: %d of %d sampled weights sit at a ReLU kink: bad test inputs\n",
                nc->name, kinked, checked + kinked);
        fails++;
    }
    free(x), free(dlogits), free(grad);
    ns_net_free(net);
    return fails;
}

static struct ns_config tiny(enum ns_block block, enum ns_stem stem, int im, double se_r)
{
    struct ns_config c = {.in_ch = 2,
                          .im_size = im,
                          .classes = 3,
                          .stem = stem,
                          .stem_w = 8,
                          .block = block,
                          .se_r = se_r};
    return c;
}

static void whole_net_gradients_per_block_type(void **state)
{
    (void)state;
    struct net_case cases[9];
    cases[0] = (struct net_case){"vanilla (dropout 0.3)",
                                 tiny(NS_BLOCK_VANILLA, NS_STEM_CIFAR, 8, 0), 0.3f};
    cases[0].cfg.n_stages = 2;
    cases[0].cfg.stages[0] = (struct ns_stage){1, 8, 2, 0, 1.0, 0};
    cases[0].cfg.stages[1] = (struct ns_stage){1, 12, 1, 0, 1.0, 0};
    cases[1] = (struct net_case){"res_basic", tiny(NS_BLOCK_RES_BASIC, NS_STEM_SIMPLE, 8, 0), 0};
    cases[1].cfg.n_stages = 1;
    cases[1].cfg.stages[0] = (struct ns_stage){2, 12, 2, 0, 1.0, 0};
    cases[2] = (struct net_case){"x", tiny(NS_BLOCK_X, NS_STEM_CIFAR, 8, 0), 0};
    cases[2].cfg.n_stages = 2;
    cases[2].cfg.stages[0] = (struct ns_stage){1, 16, 2, 8, 1.0, 0};
    cases[2].cfg.stages[1] = (struct ns_stage){2, 16, 1, 4, 0.5, 0};
    cases[3] = (struct net_case){"y (se_r 0.25)", tiny(NS_BLOCK_Y, NS_STEM_CIFAR, 8, 0.25), 0};
    cases[3].cfg.n_stages = 1;
    cases[3].cfg.stages[0] = (struct ns_stage){2, 16, 2, 8, 1.0, 0};
    cases[4] = (struct net_case){"sep", tiny(NS_BLOCK_SEP, NS_STEM_CIFAR, 8, 0), 0};
    cases[4].cfg.n_stages = 2;
    cases[4].cfg.stages[0] = (struct ns_stage){1, 16, 2, 1, 1.0, 0};
    cases[4].cfg.stages[1] = (struct ns_stage){1, 16, 1, 1, 1.0, 0};
    cases[5] = (struct net_case){"mbconv b=2 se (res stem)",
                                 tiny(NS_BLOCK_MBCONV, NS_STEM_RES, 16, 0.25), 0};
    cases[5].cfg.n_stages = 2;
    cases[5].cfg.stages[0] = (struct ns_stage){1, 8, 1, 1, 2.0, 0};
    cases[5].cfg.stages[1] = (struct ns_stage){1, 16, 2, 1, 2.0, 0};
    /* RepVGG (its stem; identity branches in stage 1) and ACNet (1x3 and 3x1 branches) */
    cases[6] = (struct net_case){"repvgg (repvgg stem)", tiny(NS_BLOCK_REPVGG, NS_STEM_REPVGG, 8, 0),
                                 0};
    cases[6].cfg.n_stages = 2;
    cases[6].cfg.stages[0] = (struct ns_stage){2, 8, 1, 0, 1.0, 0};
    cases[6].cfg.stages[1] = (struct ns_stage){1, 12, 2, 0, 1.0, 0};
    cases[7] = (struct net_case){"acnet", tiny(NS_BLOCK_ACNET, NS_STEM_CIFAR, 8, 0), 0};
    cases[7].cfg.n_stages = 2;
    cases[7].cfg.stages[0] = (struct ns_stage){1, 8, 2, 0, 1.0, 0};
    cases[7].cfg.stages[1] = (struct ns_stage){1, 8, 1, 0, 1.0, 0};
    cases[8] = (struct net_case){"repvgg silu", tiny(NS_BLOCK_REPVGG, NS_STEM_CIFAR, 8, 0), 0};
    cases[8].cfg.act = NS_ACT_SILU;
    cases[8].cfg.n_stages = 1;
    cases[8].cfg.stages[0] = (struct ns_stage){2, 8, 2, 0, 1.0, 0};
    int fails = 0;
    for (int i = 0; i < 9; i++) {
        if (ns_config_check(&cases[i].cfg) != 0) {
            fprintf(stderr, "%s: bad test config: %s\n", cases[i].name, ns_errmsg());
            fails++;
            continue;
        }
        fails += check_net(&cases[i]);
    }
    assert_int_equal(fails, 0);
}

static int setup(void **state)
{
    (void)state;
    verbose = getenv("NS_TEST_VERBOSE") != NULL;
    pool2 = ns_pool_create(2);
    pool3 = ns_pool_create(3);
    return pool2 && pool3 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ns_pool_free(pool2);
    ns_pool_free(pool3);
    return 0;
}

int main(void)
{
    if (nn_isa_skip())
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(checker_rejects_a_slightly_wrong_gradient),
        cmocka_unit_test(conv_gradients_every_kernel_path),
        cmocka_unit_test(bn_training_gradients_with_and_without_relu),
        cmocka_unit_test(bn_vector_paths_give_the_plain_loops_bits),
        cmocka_unit_test(bn_add_forward_gives_the_two_passes_bits),
        cmocka_unit_test(conv_bn_backward_gives_the_two_ops_bits),
        cmocka_unit_test(depthwise_16_and_17_channels_give_the_same_bits),
        cmocka_unit_test(depthwise_flat_runs_give_the_per_pixel_bits),
        cmocka_unit_test(direct_stem_runs_give_the_one_pixel_bits),
        cmocka_unit_test(activation_gradients),
        cmocka_unit_test(add_gradients_and_acc_flags),
        cmocka_unit_test(channel_scale_gradients_both_inputs),
        cmocka_unit_test(max_and_avg_pool_gradients),
        cmocka_unit_test(global_avg_pool_gradients),
        cmocka_unit_test(linear_gradients),
        cmocka_unit_test(dropout_gradients_with_a_fixed_mask),
        cmocka_unit_test(softmax_xent_value_and_dlogits),
        cmocka_unit_test(whole_net_gradients_per_block_type),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
