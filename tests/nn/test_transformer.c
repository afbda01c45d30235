/* The vision transformer's ops against finite differences: patchify (and its backward, the
 * adjoint), class token and position embedding (input and parameter gradients summed over
 * the batch), layer norm (input, gamma, beta), multi-head attention (the q|k|v input),
 * taking the class token; each backward with acc = 0 over garbage and acc = 1 over known
 * values, on 1 and 2 threads. GELU is checked with the other activations (test_gradcheck). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops.h"
#include "nn/pool.h"
#include "nn_check.h"
#include "nn_fd.h"

static struct ns_pool *pool2;

enum op { PATCHIFY, TOKENS, LN, ATTN, TOKEN0 };

struct tcase {
    enum op op;
    int n, T, C, heads, p, h, w;
    float *x, *y, *r, *g0, *g1; /* g0/g1: gamma/beta or cls/pos */
    float *mean, *rstd, *prob;
    size_t nx, ny, n0, n1;
};

static void forward(struct tcase *t, struct ns_pool *p)
{
    switch (t->op) {
    case PATCHIFY: {
        struct ns_patchify q = {t->h, t->w, t->C, t->p};
        ns_patchify_forward(p, &q, t->n, t->x, t->y);
        break;
    }
    case TOKENS:
        ns_tokens_forward(p, t->n, t->T, t->C, t->x, t->g0, t->g1, t->y);
        break;
    case LN:
        ns_layernorm_forward(p, t->n * t->T, t->C, t->x, t->g0, t->g1, t->mean, t->rstd, t->y);
        break;
    case ATTN: {
        struct ns_attention a = {t->T, t->C, t->heads};
        ns_attention_forward(p, &a, t->n, t->x, t->prob, t->y);
        break;
    }
    case TOKEN0:
        ns_token0_forward(t->n, t->T, t->C, t->x, t->y);
        break;
    }
}

/* dx (acc as given) and, for ops with parameters, their gradients added into d0, d1. */
static void backward(struct tcase *t, struct ns_pool *p, float *dx, int acc, float *d0, float *d1,
                     float *scratch)
{
    switch (t->op) {
    case PATCHIFY: {
        struct ns_patchify q = {t->h, t->w, t->C, t->p};
        ns_patchify_backward(p, &q, t->n, t->r, dx, acc);
        break;
    }
    case TOKENS:
        ns_tokens_backward(p, t->n, t->T, t->C, t->r, dx, acc, d0, d1);
        break;
    case LN:
        ns_layernorm_backward(p, t->n * t->T, t->C, t->x, t->g0, t->mean, t->rstd, t->r, dx, acc,
                              d0, d1);
        break;
    case ATTN: {
        struct ns_attention a = {t->T, t->C, t->heads};
        ns_attention_backward(p, &a, t->n, t->x, t->prob, t->r, dx, acc, scratch);
        break;
    }
    case TOKEN0:
        ns_token0_backward(t->n, t->T, t->C, t->r, dx, acc);
        break;
    }
}

static double loss(void *vp)
{
    struct tcase *t = vp;
    forward(t, NULL);
    return project(t->y, t->r, t->ny);
}

static int check(const char *name, struct tcase t)
{
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 23, (uint64_t)t.op);
    switch (t.op) {
    case PATCHIFY:
        t.nx = (size_t)t.n * t.h * t.w * t.C, t.ny = t.nx;
        break;
    case TOKENS:
        t.nx = (size_t)t.n * t.T * t.C, t.ny = (size_t)t.n * (t.T + 1) * t.C;
        t.n0 = (size_t)t.C, t.n1 = (size_t)(t.T + 1) * t.C;
        break;
    case LN:
        t.nx = t.ny = (size_t)t.n * t.T * t.C, t.n0 = t.n1 = (size_t)t.C;
        break;
    case ATTN:
        t.nx = (size_t)t.n * t.T * 3 * t.C, t.ny = (size_t)t.n * t.T * t.C;
        break;
    case TOKEN0:
        t.nx = (size_t)t.n * t.T * t.C, t.ny = (size_t)t.n * t.C;
        break;
    }
    t.x = nn_floats(t.nx), t.y = nn_floats(t.ny), t.r = nn_floats(t.ny);
    t.g0 = nn_floats(t.n0 + 1), t.g1 = nn_floats(t.n1 + 1);
    t.mean = nn_floats((size_t)t.n * t.T + 1), t.rstd = nn_floats((size_t)t.n * t.T + 1);
    t.prob = nn_floats((size_t)t.n * t.heads * t.T * t.T + 1);
    nn_uniform(&rng, t.x, t.nx, -1.5f, 1.5f);
    nn_uniform(&rng, t.r, t.ny, -1, 1);
    nn_uniform(&rng, t.g0, t.n0, 0.5f, 1.5f);
    nn_uniform(&rng, t.g1, t.n1, -0.5f, 0.5f);
    float *dx = nn_floats(t.nx), *pre = nn_floats(t.nx), *acc = nn_floats(t.nx);
    float *d0 = nn_floats(t.n0 + 1), *d1 = nn_floats(t.n1 + 1);
    float *scratch = nn_floats((size_t)3 * t.T * t.T + 1);
    int fails = 0;
    char what[80];
    struct ns_pool *pools[2] = {NULL, pool2};
    for (int pi = 0; pi < 2; pi++) {
        forward(&t, pools[pi]);
        nn_fill(dx, t.nx, 12345.0f);
        memset(d0, 0, sizeof(float) * t.n0);
        memset(d1, 0, sizeof(float) * t.n1);
        backward(&t, pools[pi], dx, 0, d0, d1, scratch);
        snprintf(what, sizeof what, "%s (%d thread%s): fd dx", name, pi + 1, pi ? "s" : "");
        fails += fd_check(what, loss, &t, t.x, t.nx, dx, 1e-2, 300, FD_ATOL, FD_RTOL, 0);
        if (t.n0) {
            snprintf(what, sizeof what, "%s (%d threads): fd first parameter", name, pi + 1);
            fails += fd_check(what, loss, &t, t.g0, t.n0, d0, 1e-2, 300, FD_ATOL, FD_RTOL, 0);
            snprintf(what, sizeof what, "%s (%d threads): fd second parameter", name, pi + 1);
            fails += fd_check(what, loss, &t, t.g1, t.n1, d1, 1e-2, 300, FD_ATOL, FD_RTOL, 0);
        }
        forward(&t, pools[pi]); /* the caches of the unperturbed inputs */
        nn_uniform(&rng, pre, t.nx, -1, 1);
        memcpy(acc, pre, sizeof(float) * t.nx);
        backward(&t, pools[pi], acc, 1, d0, d1, scratch);
        float *added = diff(acc, pre, t.nx);
        snprintf(what, sizeof what, "%s (%d threads) acc=1: dx", name, pi + 1);
        fails += !nn_close(what, added, dx, t.nx, 1e-5, 1e-5);
        free(added);
    }
    free(t.x), free(t.y), free(t.r), free(t.g0), free(t.g1), free(t.mean), free(t.rstd);
    free(t.prob), free(dx), free(pre), free(acc), free(d0), free(d1), free(scratch);
    return fails;
}

static void transformer_ops_match_finite_differences(void **state)
{
    (void)state;
    int fails = 0;
    fails += check("patchify", (struct tcase){.op = PATCHIFY, .n = 2, .h = 8, .w = 8, .C = 3, .p = 4});
    fails += check("patchify p2", (struct tcase){.op = PATCHIFY, .n = 3, .h = 6, .w = 6, .C = 2, .p = 2});
    fails += check("tokens", (struct tcase){.op = TOKENS, .n = 3, .T = 4, .C = 5});
    fails += check("layernorm", (struct tcase){.op = LN, .n = 3, .T = 5, .C = 7});
    fails += check("attention 1 head", (struct tcase){.op = ATTN, .n = 2, .T = 5, .C = 4, .heads = 1});
    fails += check("attention 3 heads", (struct tcase){.op = ATTN, .n = 3, .T = 6, .C = 6, .heads = 3});
    fails += check("token0", (struct tcase){.op = TOKEN0, .n = 3, .T = 4, .C = 5});
    assert_int_equal(fails, 0);
}

/* Attention rows are probability distributions, and a token attending to identical keys
 * averages the values. */
static void attention_maps_are_distributions(void **state)
{
    (void)state;
    const int T = 4, C = 2;
    float qkv[4 * 6], y[4 * 2], prob[16];
    for (int t = 0; t < T; t++) {
        qkv[t * 6 + 0] = (float)t, qkv[t * 6 + 1] = 1;   /* q */
        qkv[t * 6 + 2] = 0.5f, qkv[t * 6 + 3] = -1;      /* k: the same for every token */
        qkv[t * 6 + 4] = (float)(t + 1), qkv[t * 6 + 5] = (float)(10 * t); /* v */
    }
    struct ns_attention a = {T, C, 1};
    ns_attention_forward(NULL, &a, 1, qkv, prob, y);
    for (int i = 0; i < T; i++) {
        for (int j = 0; j < T; j++)
            assert_float_equal(prob[i * T + j], 0.25f, 1e-6);
        assert_float_equal(y[i * 2 + 0], 2.5f, 1e-5);
        assert_float_equal(y[i * 2 + 1], 15.0f, 1e-5);
    }
}

int main(void)
{
    pool2 = ns_pool_create(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transformer_ops_match_finite_differences),
        cmocka_unit_test(attention_maps_are_distributions),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ns_pool_free(pool2);
    return rc;
}
