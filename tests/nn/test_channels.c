/* The ops the layer graph's new families brought: channel shuffle, slice and concat
 * (ShuffleNet) against hand-written index maps, their backward against finite differences
 * and with acc = 0 over garbage / acc = 1 over known values; stochastic depth (drop path):
 * whole images dropped at the asked rate, survivors scaled by 1/(1 - rate), its backward the
 * same mask, and an evaluation forward through a net untouched by it. Ops run on 2 threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/net.h"
#include "nn/ops.h"
#include "nn/pool.h"
#include "nn_check.h"
#include "nn_fd.h"
#include "util/err.h"

static struct ns_pool *pool2;

enum which { SHUFFLE, SLICE, CONCAT };

struct ch_case {
    enum which op;
    int rows, ca, cb, c, lo, groups; /* c: output channels */
    float *a, *b, *y, *r;
};

static void forward(struct ch_case *t, struct ns_pool *p)
{
    if (t->op == SHUFFLE)
        ns_shuffle_forward(p, t->rows, t->c, t->groups, t->a, t->y);
    else if (t->op == SLICE)
        ns_slice_forward(p, t->rows, t->ca, t->lo, t->c, t->a, t->y);
    else
        ns_concat_forward(p, t->rows, t->ca, t->cb, t->a, t->b, t->y);
}

static double loss(void *vp)
{
    struct ch_case *t = vp;
    forward(t, NULL);
    return project(t->y, t->r, (size_t)t->rows * t->c);
}

/* The output channel each output element comes from, by the ops' definitions. */
static float want_at(const struct ch_case *t, int row, int k)
{
    if (t->op == SHUFFLE) {
        int cpg = t->c / t->groups, i = k % t->groups, j = k / t->groups;
        return t->a[(size_t)row * t->c + i * cpg + j];
    }
    if (t->op == SLICE)
        return t->a[(size_t)row * t->ca + t->lo + k];
    return k < t->ca ? t->a[(size_t)row * t->ca + k] : t->b[(size_t)row * t->cb + k - t->ca];
}

static int check(const char *name, struct ch_case t)
{
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 3, (uint64_t)t.op);
    size_t na = (size_t)t.rows * t.ca, nb = (size_t)t.rows * t.cb, ny = (size_t)t.rows * t.c;
    t.a = nn_floats(na);
    t.b = nn_floats(nb ? nb : 1);
    t.y = nn_floats(ny);
    t.r = nn_floats(ny);
    nn_uniform(&rng, t.a, na, -1, 1);
    nn_uniform(&rng, t.b, nb, -1, 1);
    nn_uniform(&rng, t.r, ny, -1, 1);
    int fails = 0;
    forward(&t, pool2);
    for (int row = 0; row < t.rows; row++)
        for (int k = 0; k < t.c; k++)
            if (t.y[(size_t)row * t.c + k] != want_at(&t, row, k)) {
                fprintf(stderr, "%s: y[%d, %d] is not the element it should move\n", name, row, k);
                return 1;
            }
    float *da = nn_floats(na), *db = nn_floats(nb ? nb : 1), *pre = nn_floats(na);
    nn_fill(da, na, 12345.0f);
    nn_fill(db, nb, 12345.0f);
    if (t.op == SHUFFLE)
        ns_shuffle_backward(pool2, t.rows, t.c, t.groups, t.r, da, 0);
    else if (t.op == SLICE)
        ns_slice_backward(pool2, t.rows, t.ca, t.lo, t.c, t.r, da, 0);
    else
        ns_concat_backward(pool2, t.rows, t.ca, t.cb, t.r, da, 0, db, 0);
    char what[64];
    snprintf(what, sizeof what, "%s: fd da", name);
    fails += fd_check(what, loss, &t, t.a, na, da, 1e-2, na, FD_ATOL, FD_RTOL, 0);
    if (t.op == CONCAT) {
        snprintf(what, sizeof what, "%s: fd db", name);
        fails += fd_check(what, loss, &t, t.b, nb, db, 1e-2, nb, FD_ATOL, FD_RTOL, 0);
    }
    /* acc = 1 adds the same gradient onto what was there */
    nn_uniform(&rng, pre, na, -1, 1);
    float *acc = nn_floats(na);
    memcpy(acc, pre, sizeof(float) * na);
    if (t.op == SHUFFLE)
        ns_shuffle_backward(pool2, t.rows, t.c, t.groups, t.r, acc, 1);
    else if (t.op == SLICE)
        ns_slice_backward(pool2, t.rows, t.ca, t.lo, t.c, t.r, acc, 1);
    else
        ns_concat_backward(pool2, t.rows, t.ca, t.cb, t.r, acc, 1, NULL, 0);
    float *added = diff(acc, pre, na);
    snprintf(what, sizeof what, "%s acc=1: da", name);
    fails += !nn_close(what, added, da, na, 1e-6, 1e-6);
    free(added), free(acc), free(pre), free(da), free(db);
    free(t.a), free(t.b), free(t.y), free(t.r);
    return fails;
}

static void shuffle_slice_concat_move_channels_and_gradients(void **state)
{
    (void)state;
    int fails = 0;
    fails += check("shuffle g2", (struct ch_case){.op = SHUFFLE, .rows = 7, .ca = 12, .c = 12, .groups = 2});
    fails += check("shuffle g3", (struct ch_case){.op = SHUFFLE, .rows = 5, .ca = 12, .c = 12, .groups = 3});
    fails += check("shuffle g1", (struct ch_case){.op = SHUFFLE, .rows = 3, .ca = 5, .c = 5, .groups = 1});
    fails += check("slice lo", (struct ch_case){.op = SLICE, .rows = 9, .ca = 10, .c = 4, .lo = 0});
    fails += check("slice mid", (struct ch_case){.op = SLICE, .rows = 9, .ca = 10, .c = 3, .lo = 5});
    fails += check("concat", (struct ch_case){.op = CONCAT, .rows = 11, .ca = 3, .cb = 5, .c = 8});
    assert_int_equal(fails, 0);
}

static void drop_path_drops_whole_images_at_the_rate(void **state)
{
    (void)state;
    const int n = 4000;
    const size_t per = 5;
    float *x = nn_floats(n * per), *y = nn_floats(n * per), *dy = nn_floats(n * per);
    float *dx = nn_floats(n * per);
    uint8_t *mask = malloc(n);
    struct ns_pcg32 rng, data;
    ns_pcg32_seed(&rng, 11, 1);
    ns_pcg32_seed(&data, 12, 1);
    nn_uniform(&data, x, n * per, 0.5f, 1.5f);
    nn_uniform(&data, dy, n * per, -1, 1);
    const float rate = 0.3f;
    ns_droppath_forward(pool2, n, per, rate, &rng, x, mask, y);
    int dropped = 0;
    for (int i = 0; i < n; i++) {
        dropped += !mask[i];
        for (size_t j = 0; j < per; j++) {
            float want = mask[i] ? x[i * per + j] / (1 - rate) : 0.0f;
            if (fabsf(y[i * per + j] - want) > 1e-6f * fabsf(want))
                fail_msg("image %d: y %g, want %g (kept %d)", i, y[i * per + j], want, mask[i]);
        }
    }
    /* 4000 Bernoulli(0.3) draws: 1200 +- 29 (sd); 6 sd either way cannot happen by chance */
    assert_true(dropped > 1200 - 174 && dropped < 1200 + 174);
    ns_droppath_backward(pool2, n, per, rate, mask, dy, dx, 0);
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < per; j++) {
            float want = mask[i] ? dy[i * per + j] / (1 - rate) : 0.0f;
            assert_true(fabsf(dx[i * per + j] - want) <= 1e-6f * fabsf(want));
        }
    free(x), free(y), free(dy), free(dx), free(mask);
}

/* A net built with stochastic depth: training forwards differ from a net without it (some
 * branches are dropped), evaluation forwards are identical; only blocks with a residual
 * add get drop path layers, at rates rising linearly with the block's index. */
static void drop_path_is_identity_in_evaluation(void **state)
{
    (void)state;
    struct ns_config c = {.in_ch = 1, .im_size = 8, .classes = 3, .stem = NS_STEM_CIFAR,
                          .stem_w = 8, .block = NS_BLOCK_RES_BASIC, .n_stages = 2};
    c.stages[0] = (struct ns_stage){.d = 2, .w = 8, .s = 1, .b = 1};
    c.stages[1] = (struct ns_stage){.d = 2, .w = 16, .s = 2, .b = 1};
    struct ns_graph g;
    struct ns_graph_opts o = {.drop_path = 0.4f};
    assert_int_equal(ns_graph_build(&c, &o, &g), 0);
    int k = 0;
    for (int i = 0; i < g.n; i++)
        if (g.layer[i].kind == NS_L_DROPPATH) {
            k++;
            /* blocks 1, 2, 3 of 4 (block 0 gets rate 0 and no layer) */
            assert_float_equal(g.layer[i].rate, 0.4f * (float)k / 4.0f, 1e-7);
        }
    assert_int_equal(k, 3);
    ns_graph_free(&g);

    const int n = 6;
    struct ns_net *a = ns_net_build_opts(&c, n, &o, 0, pool2);
    struct ns_net *b = ns_net_build(&c, n, 0, 0, pool2);
    assert_non_null(a);
    assert_non_null(b);
    ns_net_init(a, 5);
    ns_net_init(b, 5);
    assert_int_equal(a->n_params, b->n_params);
    size_t nx = (size_t)n * 64, nl = (size_t)n * 3;
    float *x = nn_floats(nx), *la = nn_floats(nl);
    struct ns_pcg32 rng, r1, r2;
    ns_pcg32_seed(&rng, 1, 1);
    nn_uniform(&rng, x, nx, -1, 1);
    memcpy(la, ns_net_forward(a, n, x, 0, NULL), sizeof(float) * nl);
    assert_memory_equal(la, ns_net_forward(b, n, x, 0, NULL), sizeof(float) * nl);
    ns_pcg32_seed(&r1, 9, 9);
    ns_pcg32_seed(&r2, 9, 9);
    memcpy(la, ns_net_forward(a, n, x, 1, &r1), sizeof(float) * nl);
    assert_memory_not_equal(la, ns_net_forward(b, n, x, 1, &r2), sizeof(float) * nl);
    ns_net_free(a);
    ns_net_free(b);
    free(x), free(la);
}

int main(void)
{
    pool2 = ns_pool_create(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shuffle_slice_concat_move_channels_and_gradients),
        cmocka_unit_test(drop_path_drops_whole_images_at_the_rate),
        cmocka_unit_test(drop_path_is_identity_in_evaluation),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ns_pool_free(pool2);
    return rc;
}
