/* Normalizer-free nets (the nf block, src/nn/nf.c): the scaled weight standardization,
 * the scaled activation and add against central finite differences and double-precision
 * references; whole nf nets (SiLU, so the loss is smooth) against finite differences;
 * adaptive gradient clipping on a hand-worked example and on a net (the classifier is
 * left alone); the graph's analytic beta schedule and complexity counted by hand; the
 * config rules; and a net without any BN that trains.
 * (PyTorch fixtures of whole nf nets and of AGC are in test_torch.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* needs the headers above: a block of its own, so sorting keeps it here */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "model/graph.h"
#include "nn/net.h"
#include "nn/ops.h"
#include "nn/pool.h"
#include "nn/train.h"
#include "nn_check.h"
#include "util/err.h"

static struct ns_pool *pool2, *pool3;

/* ---- finite differences ---------------------------------------------------------------- */

typedef double (*loss_fn)(void *ctx);

/* Central difference of f at v[i] over the step actually taken. */
static double central(loss_fn f, void *ctx, float *v, size_t i, double eps)
{
    float v0 = v[i];
    v[i] = (float)(v0 + eps);
    double hp = v[i], lp = f(ctx);
    v[i] = (float)(v0 - eps);
    double hm = v[i], lm = f(ctx);
    v[i] = v0;
    return (lp - lm) / (hp - hm);
}

/* Every element of v (n of them): |fd - grad| <= atol + rtol * max(|fd|, |grad|).
 * Returns the number of failures, printing the first few. */
static int fd_all(const char *what, loss_fn f, void *ctx, float *v, size_t n, const float *grad,
                  double eps, double atol, double rtol)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double fd = central(f, ctx, v, i, eps);
        double tol = atol + rtol * fmax(fabs(fd), fabs(grad[i]));
        if (!(fabs(fd - grad[i]) <= tol) && bad++ < 5)
            fprintf(stderr, "%s: [%zu]: analytic %.7g, finite difference %.7g\n", what, i, grad[i],
                    fd);
    }
    return bad;
}

static double dot(const float *a, const float *r, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * r[i];
    return s;
}

/* ---- scaled weight standardization ----------------------------------------------------- */

struct ws_case {
    int rows, cout;
    float *w, *gain, *what, *mean, *rstd, *r;
};

static double ws_loss(void *vp)
{
    struct ws_case *t = vp;
    ns_ws_forward(NULL, t->rows, t->cout, t->w, t->gain, t->what, t->mean, t->rstd);
    return dot(t->what, t->r, (size_t)t->rows * t->cout);
}

/* rows x cout weights with a per-channel offset (the mean the standardization removes). */
static int check_ws(int rows, int cout, float offset)
{
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 77, (uint64_t)rows * 1000 + cout);
    size_t len = (size_t)rows * cout;
    struct ws_case t = {rows,
                        cout,
                        nn_floats(len),
                        nn_floats(cout),
                        nn_floats(len),
                        nn_floats(cout),
                        nn_floats(cout),
                        nn_floats(len)};
    nn_uniform(&rng, t.w, len, -1, 1);
    for (size_t i = 0; i < len; i++)
        t.w[i] += offset * (float)(i % cout);
    nn_uniform(&rng, t.gain, cout, 0.5f, 1.5f);
    nn_uniform(&rng, t.r, len, -1, 1);
    int fails = 0;

    /* forward against a double reference of the formula, on 1, 2 and 3 threads alike */
    ns_ws_forward(pool3, rows, cout, t.w, t.gain, t.what, t.mean, t.rstd);
    double *ref = calloc(len, sizeof *ref);
    for (int c = 0; c < cout; c++) {
        double mu = 0, var = 0;
        for (int r = 0; r < rows; r++)
            mu += t.w[(size_t)r * cout + c];
        mu /= rows;
        for (int r = 0; r < rows; r++)
            var += pow(t.w[(size_t)r * cout + c] - mu, 2);
        var /= rows;
        for (int r = 0; r < rows; r++)
            ref[(size_t)r * cout + c] = t.gain[c] * (t.w[(size_t)r * cout + c] - mu) /
                                        (sqrt(var + NS_WS_EPS) * sqrt((double)rows));
    }
    char name[64];
    snprintf(name, sizeof name, "ws %dx%d: What", rows, cout);
    fails += !nn_close_d(name, t.what, ref, len, 1e-6, 1e-5);
    free(ref);
    float *w1 = nn_floats(len), *w2 = nn_floats(len);
    ns_ws_forward(NULL, rows, cout, t.w, t.gain, w1, t.mean, t.rstd);
    ns_ws_forward(pool2, rows, cout, t.w, t.gain, w2, t.mean, t.rstd);
    if (memcmp(w1, t.what, sizeof(float) * len) || memcmp(w2, t.what, sizeof(float) * len)) {
        fprintf(stderr, "%s: differs between thread counts\n", name);
        fails++;
    }

    /* backward: dWhat = r; gradients of W and gain accumulate into pre-filled buffers */
    float *dw = nn_floats(len), *dg = nn_floats(cout);
    nn_fill(dw, len, 0.5f);
    nn_fill(dg, cout, -0.25f);
    ws_loss(&t);
    ns_ws_backward(pool2, rows, cout, t.w, t.gain, t.mean, t.rstd, t.r, dw, dg);
    for (size_t i = 0; i < len; i++)
        dw[i] -= 0.5f;
    for (int c = 0; c < cout; c++)
        dg[c] += 0.25f;
    snprintf(name, sizeof name, "ws %dx%d: dW", rows, cout);
    fails += fd_all(name, ws_loss, &t, t.w, len, dw, 1e-3, 2e-3, 3e-3);
    snprintf(name, sizeof name, "ws %dx%d: dgain", rows, cout);
    fails += fd_all(name, ws_loss, &t, t.gain, cout, dg, 1e-3, 2e-3, 3e-3);
    /* standardization is blind to a channel's scale and offset: W*3+1 gives the same What */
    for (size_t i = 0; i < len; i++)
        w1[i] = t.w[i] * 3 + 1;
    ns_ws_forward(NULL, rows, cout, w1, t.gain, w2, t.mean, t.rstd);
    ws_loss(&t);
    snprintf(name, sizeof name, "ws %dx%d: What(3W+1)", rows, cout);
    fails += !nn_close(name, w2, t.what, len, 1e-6, 1e-5);
    free(t.w), free(t.gain), free(t.what), free(t.mean), free(t.rstd), free(t.r);
    free(w1), free(w2), free(dw), free(dg);
    return fails;
}

static void weight_standardization_forward_and_gradients(void **state)
{
    (void)state;
    int fails = check_ws(27, 5, 0) + check_ws(9, 3, 2.0f) /* grouped 3x3, cpg 1 */ +
                check_ws(8, 70, 0.1f) /* more channels than one block of sums */;
    assert_int_equal(fails, 0);
}

/* A fan-in of 1 (1x1 conv on one channel): every channel is constant, the variance 0; eps
 * keeps What finite (0) and the gradients finite. */
static void weight_standardization_of_a_constant_channel_is_finite(void **state)
{
    (void)state;
    float w[3] = {0.5f, -2, 7}, gain[3] = {1, 1, 1}, what[3], mean[3], rstd[3];
    float dy[3] = {1, 1, 1}, dw[3] = {0}, dg[3] = {0};
    ns_ws_forward(NULL, 1, 3, w, gain, what, mean, rstd);
    ns_ws_backward(NULL, 1, 3, w, gain, mean, rstd, dy, dw, dg);
    for (int i = 0; i < 3; i++) {
        assert_true(what[i] == 0.0f);
        assert_true(isfinite(dw[i]) && dw[i] == 0.0f && dg[i] == 0.0f);
        assert_true(fabsf(rstd[i] - 1000.0f) < 1e-2f); /* 1 / sqrt(0 + 1e-6) */
    }
}

/* ---- scaled activation and add ------------------------------------------------------- */

struct ew_case {
    enum ns_act act;
    float mi, mo, alpha;
    size_t n;
    float *x, *b, *y, *r;
};

static double nf_act_loss(void *vp)
{
    struct ew_case *t = vp;
    ns_nf_act_forward(NULL, t->act, t->n, t->mi, t->mo, t->x, t->y);
    return dot(t->y, t->r, t->n);
}

static double nf_add_loss(void *vp)
{
    struct ew_case *t = vp;
    ns_nf_add_forward(NULL, t->n, t->x, t->alpha, t->b, t->y);
    return dot(t->y, t->r, t->n);
}

static void scaled_activation_and_add_gradients(void **state)
{
    (void)state;
    const size_t n = 77;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 5, 5);
    struct ew_case t = {
        .n = n, .x = nn_floats(n), .b = nn_floats(n), .y = nn_floats(n), .r = nn_floats(n)};
    float *dx = nn_floats(n), *db = nn_floats(n);
    nn_uniform(&rng, t.r, n, -1, 1);
    nn_uniform(&rng, t.b, n, -2, 2);
    int fails = 0;
    static const enum ns_act acts[] = {NS_ACT_RELU, NS_ACT_SILU};
    for (int a = 0; a < 2; a++) {
        t.act = acts[a];
        t.mi = 0.9623f;
        t.mo = 1.7139f;
        nn_uniform(&rng, t.x, n, -2, 2);
        for (size_t i = 0; i < n; i++) /* away from ReLU's kink */
            if (fabsf(t.x[i]) < 0.05f)
                t.x[i] = 0.3f;
        /* the forward is what it says: mo * act(mi * x) */
        nf_act_loss(&t);
        for (size_t i = 0; i < n; i++) {
            double u = (double)t.mi * t.x[i];
            double want = t.mo * (t.act == NS_ACT_RELU ? fmax(u, 0) : u / (1 + exp(-u)));
            if (fabs(t.y[i] - want) > 1e-5 * (1 + fabs(want)))
                fails++;
        }
        nn_fill(dx, n, 12345.0f); /* acc = 0 overwrites */
        ns_nf_act_backward(pool3, t.act, n, t.mi, t.mo, t.x, t.r, dx, 0);
        fails += fd_all(a ? "nf_act silu" : "nf_act relu", nf_act_loss, &t, t.x, n, dx, 1e-2, 2e-3,
                        3e-3);
        float *dx2 = nn_floats(n);
        nn_fill(dx2, n, 1.0f); /* acc = 1 adds */
        ns_nf_act_backward(pool2, t.act, n, t.mi, t.mo, t.x, t.r, dx2, 1);
        for (size_t i = 0; i < n; i++)
            fails += dx2[i] != dx[i] + 1.0f;
        free(dx2);
    }
    t.alpha = 0.2f;
    nn_fill(dx, n, 12345.0f);
    nn_fill(db, n, 2.0f);
    ns_nf_add_backward(pool3, n, t.alpha, t.r, dx, 0, db, 1);
    for (size_t i = 0; i < n; i++)
        db[i] -= 2.0f;
    fails += fd_all("nf_add in0", nf_add_loss, &t, t.x, n, dx, 1e-2, 1e-4, 1e-3);
    fails += fd_all("nf_add in1", nf_add_loss, &t, t.b, n, db, 1e-2, 1e-4, 1e-3);
    ns_nf_add_backward(NULL, n, t.alpha, t.r, NULL, 0, db, 0); /* a NULL input gradient */
    for (size_t i = 0; i < n; i++)
        fails += db[i] != t.alpha * t.r[i];
    free(t.x), free(t.b), free(t.y), free(t.r), free(dx), free(db);
    assert_int_equal(fails, 0);
}

/* ---- adaptive gradient clipping -------------------------------------------------------- */

/* Worked by hand. Two units laid out (rows 2, units 2): unit 0 has w = (3, 4), |w| = 5 and
 * g = (0.6, 0.8), |g| = 1; unit 1 has w = 0 (so its bound uses eps = 1e-3) and g = (3e-5,
 * 4e-5), |g| = 5e-5.
 *   lambda 0.1:  unit 0 bound 0.5 <= 1: g0 = (0.6, 0.8) * 0.5 = (0.3, 0.4); unit 1 bound
 *                1e-4 > 5e-5: kept.
 *   lambda 0.04: unit 0 bound 0.2: (0.12, 0.16); unit 1 bound 4e-5 <= 5e-5: scaled by 0.8 to
 *                (2.4e-5, 3.2e-5).
 * A vector is one unit: w = (1, 1, 1, 1), |w| = 2; g = (0.5, -0.5, 0.5, -0.5), |g| = 1; at
 * lambda 0.25 the bound 0.5 halves it. */
static void agc_hand_worked_example(void **state)
{
    (void)state;
    const float w[4] = {3, 0, 4, 0};
    float g[4] = {0.6f, 3e-5f, 0.8f, 4e-5f};
    assert_int_equal(ns_agc_clip(2, 2, w, g, 0.1), 1);
    const float want1[4] = {0.3f, 3e-5f, 0.4f, 4e-5f};
    assert_true(nn_close("agc lambda 0.1", g, want1, 4, 0, 1e-6));
    float h[4] = {0.6f, 3e-5f, 0.8f, 4e-5f};
    assert_int_equal(ns_agc_clip(2, 2, w, h, 0.04), 2);
    const float want2[4] = {0.12f, 2.4e-5f, 0.16f, 3.2e-5f};
    for (int i = 0; i < 4; i++)
        assert_true(fabsf(h[i] - want2[i]) <= 1e-6f * fabsf(want2[i]));
    const float v[4] = {1, 1, 1, 1};
    float gv[4] = {0.5f, -0.5f, 0.5f, -0.5f};
    assert_int_equal(ns_agc_clip(4, 1, v, gv, 0.25), 1);
    const float wantv[4] = {0.25f, -0.25f, 0.25f, -0.25f};
    assert_true(nn_close("agc vector", gv, wantv, 4, 0, 1e-6));
    assert_int_equal(ns_agc_clip(4, 1, v, gv, 1.0), 0); /* |g| 0.5 < bound 2: kept */
    assert_true(nn_close("agc vector kept", gv, wantv, 4, 0, 0));
}

/* ---- configs and graphs ---------------------------------------------------------------- */

static struct ns_config nf_config(int im, enum ns_stem stem, enum ns_act act)
{
    struct ns_config c = {.in_ch = 1,
                          .im_size = im,
                          .classes = 3,
                          .stem = stem,
                          .stem_w = 4,
                          .block = NS_BLOCK_NF,
                          .act = act,
                          .n_stages = 1};
    c.stages[0] = (struct ns_stage){2, 8, 2, 2, 0.5, 0};
    return c;
}

/* Counted by hand (pycls convention: flops = multiply-adds of convs and the FC plus one per
 * output element for a bias; params = weights + biases + the WS gain, one per output
 * channel; acts = conv and FC outputs). 1x8x8 input, cifar stem 4, one stage of 2 nf blocks
 * w 8, s 2, b 0.5 (wb 4), g 2 (2 groups), 3 classes:
 *   stem WS 3x3 1->4 at 8x8          w 36: params 36+4+4=44, flops 36*64+4*64=2560, acts 256
 *   block 1 shortcut WS 1x1 s2 4->8  w 32: params 48, flops 32*16+8*16=640, acts 128
 *           WS 1x1 4->4 at 8x8       w 16: params 24, flops 16*64+4*64=1280, acts 256
 *           WS 3x3 s2 g 4->4         w 72: params 80, flops 72*16+4*16=1216, acts 64
 *           WS 1x1 4->8 at 4x4       w 32: params 48, flops 640, acts 128
 *   block 2 WS 1x1 8->4              w 32: params 40, flops 32*16+4*16=576, acts 64
 *           WS 3x3 g                 w 72: params 80, flops 1216, acts 64
 *           WS 1x1 4->8              w 32: params 48, flops 640, acts 128
 *   FC 8->3                          params 27, flops 27, acts 3
 * total: params 439, flops 8795, acts 1091. */
static void complexity_counted_by_hand(void **state)
{
    (void)state;
    struct ns_config c = nf_config(8, NS_STEM_CIFAR, NS_ACT_RELU);
    struct ns_complexity cx;
    assert_int_equal(ns_complexity(&c, &cx), 0);
    assert_true(cx.params == 439 && cx.flops == 8795 && cx.acts == 1091);
    struct ns_net *net = ns_net_build(&c, 2, 0, 0, NULL);
    assert_non_null(net);
    assert_int_equal(ns_net_param_count(net), 439);
    ns_net_free(net);
}

/* beta_i = sqrt(Var_i): Var starts at 1, grows by alpha^2 = 0.04 after every block and is
 * reset to 1.04 after a transition block (conv shortcut). Stage 1: stem 4 -> 8 (transition),
 * then 2 identity blocks; stage 2 keeps the width at stride 1 (identity first block: no
 * reset); stage 3 has stride 2 (transition). */
static void beta_follows_the_analytic_variance(void **state)
{
    (void)state;
    struct ns_config c = nf_config(8, NS_STEM_CIFAR, NS_ACT_SILU);
    c.n_stages = 3;
    c.stages[0] = (struct ns_stage){3, 8, 1, 4, 1.0, 0};
    c.stages[1] = (struct ns_stage){2, 8, 1, 4, 1.0, 0};
    c.stages[2] = (struct ns_stage){2, 16, 2, 4, 1.0, 0};
    const double var[7] = {1, 1.04, 1.08, 1.12, 1.16, 1.20, 1.04};
    struct ns_graph g;
    assert_int_equal(ns_graph_build(&c, NULL, &g), 0);
    int blk = 0, n_bn = 0, n_ws = 0, n_add = 0;
    for (int i = 0; i < g.n; i++) {
        const struct ns_layer *l = &g.layer[i];
        n_bn += l->kind == NS_L_BN || l->kind == NS_L_CONV;
        n_ws += l->kind == NS_L_WSCONV;
        if (l->kind == NS_L_NF_ADD) {
            n_add++;
            assert_true(l->alpha == 0.2f);
        }
        if (l->kind != NS_L_NF_ACT)
            continue;
        assert_true(l->mul_out == (float)1.7881293296813965); /* SiLU's gamma */
        /* a block's first layer is its 1/beta activation; the rest have mul_in 1 */
        int first = l->stage >= 1 && l->stage <= c.n_stages && g.layer[i - 1].block != l->block;
        first |= l->stage >= 1 && l->stage <= c.n_stages && g.layer[i - 1].stage != l->stage;
        if (first) {
            assert_true(blk < 7);
            if (fabsf(l->mul_in - (float)(1 / sqrt(var[blk]))) > 1e-7f)
                fail_msg("block %d: 1/beta %.7f, want 1/sqrt(%g)", blk, l->mul_in, var[blk]);
            blk++;
        } else {
            assert_true(l->mul_in == 1.0f);
        }
    }
    assert_int_equal(blk, 7);
    assert_int_equal(n_add, 7);
    assert_int_equal(n_bn, 0); /* no BN, no plain conv: the stem too is a WS conv */
    /* stem 1 + 7 blocks x 3 + 2 transition shortcuts */
    assert_int_equal(n_ws, 1 + 21 + 2);
    ns_graph_free(&g);
}

static void config_rules_and_canonical_json(void **state)
{
    (void)state;
    struct ns_config c = nf_config(8, NS_STEM_CIFAR, NS_ACT_RELU);
    char *s = ns_config_to_json(&c);
    assert_non_null(s);
    assert_string_equal(s, "{\"block\":\"nf\",\"classes\":3,\"im_size\":8,\"in_ch\":1,\"se_r\":0.0,"
                           "\"stages\":[{\"b\":0.5,\"d\":2,\"g\":2,\"s\":2,\"w\":8}],"
                           "\"stem\":{\"type\":\"cifar\",\"w\":4}}");
    struct ns_config d;
    assert_int_equal(ns_config_from_json(s, &d), 0);
    assert_memory_equal(&c, &d, sizeof c);
    free(s);
    c.bn_order = NS_BN_AFTER_ACT;
    assert_int_equal(ns_config_check(&c), -1);
    assert_non_null(strstr(ns_errmsg(), "bn_order: nf blocks have no BN"));
    c.bn_order = NS_BN_BEFORE_ACT;
    c.act = NS_ACT_RELU6;
    assert_int_equal(ns_config_check(&c), -1);
    assert_non_null(strstr(ns_errmsg(), "act: nf blocks need a variance-preserving gain"));
    c.act = NS_ACT_RELU;
    c.stages[0].g = 3;
    assert_int_equal(ns_config_check(&c), -1);
    assert_non_null(strstr(ns_errmsg(), "stages[0].g: group width 3 does not divide"));
    c.stages[0].g = 2;
    c.se_r = 0.25;
    assert_int_equal(ns_config_check(&c), -1);
    assert_non_null(strstr(ns_errmsg(), "se_r: block nf has no squeeze-and-excitation"));
}

/* ---- whole nets ------------------------------------------------------------------------ */

struct net_ctx {
    struct ns_net *net;
    int n;
    const float *x;
    const int32_t *labels;
};

static double net_loss(void *vp)
{
    struct net_ctx *t = vp;
    const float *logits = ns_net_forward(t->net, t->n, t->x, 1, NULL);
    return ns_softmax_xent(t->n, t->net->cfg.classes, logits, t->labels, NULL, NULL);
}

/* ns_net_backward's gradients of an nf net (SiLU: smooth, no kinks to dodge) against
 * central differences of the loss, three elements of every parameter tensor. */
static int check_net_fd(const char *name, const struct ns_config *cfg)
{
    const int n = 3;
    struct ns_net *net = ns_net_build(cfg, n + 1, 0, 0, pool2);
    if (!net)
        fail_msg("%s: %s", name, ns_errmsg());
    ns_net_init(net, 9);
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 17, 3);
    for (int i = 0; i < net->n_params; i++) { /* gains and biases away from 1 and 0 */
        const struct ns_param *p = &net->params[i];
        if (p->kind == NS_P_WS_GAIN)
            nn_uniform(&rng, net->w + p->off, p->len, 0.6f, 1.4f);
        else if (p->kind == NS_P_BIAS || p->kind == NS_P_FC_W)
            nn_uniform(&rng, net->w + p->off, p->len, -0.4f, 0.4f);
    }
    size_t nx = (size_t)n * cfg->im_size * cfg->im_size * cfg->in_ch;
    float *x = nn_floats(nx), *dl = nn_floats((size_t)n * cfg->classes);
    nn_uniform(&rng, x, nx, -1, 1);
    int32_t labels[3] = {0, 2, 1};
    struct net_ctx t = {net, n, x, labels};
    const float *logits = ns_net_forward(net, n, x, 1, NULL);
    ns_softmax_xent(n, cfg->classes, logits, labels, dl, NULL);
    ns_net_zero_grad(net);
    ns_net_backward(net, n, dl);
    float *grad = nn_floats(net->n_weights);
    memcpy(grad, net->dw, sizeof(float) * net->n_weights);
    double gmax = 0;
    for (size_t i = 0; i < net->n_weights; i++)
        gmax = fmax(gmax, fabs(grad[i]));
    int fails = !(gmax > 0);
    for (int p = 0; p < net->n_params; p++) {
        const struct ns_param *pp = &net->params[p];
        for (int k = 0; k < 3; k++) {
            size_t j = pp->off + ns_pcg32_bounded(&rng, (uint32_t)pp->len);
            const double eps = 1e-3;
            double fd = central(net_loss, &t, net->w, j, eps);
            double tol = 4e-7 / eps + 1e-3 * gmax + 1e-2 * fmax(fabs(fd), fabs(grad[j]));
            if (!(fabs(fd - grad[j]) <= tol)) {
                fprintf(stderr, "%s: param %d (kind %d) [%zu]: analytic %.7g, fd %.7g\n", name, p,
                        (int)pp->kind, j - pp->off, grad[j], fd);
                fails++;
            }
        }
    }
    free(x), free(dl), free(grad);
    ns_net_free(net);
    return fails;
}

static void whole_nf_net_gradients(void **state)
{
    (void)state;
    struct ns_config a = nf_config(8, NS_STEM_CIFAR, NS_ACT_SILU);
    a.n_stages = 2;
    a.stages[1] = (struct ns_stage){1, 8, 1, 4, 1.0, 0}; /* identity first block */
    struct ns_config b = nf_config(8, NS_STEM_SIMPLE, NS_ACT_SILU);
    b.head_w = 12; /* head: WS conv 1x1 + gamma*act */
    b.stages[0] = (struct ns_stage){2, 8, 1, 8, 1.0, 0};
    assert_int_equal(check_net_fd("nf silu, 2 stages", &a) + check_net_fd("nf silu, head", &b), 0);
}

/* The classifier's gradients are never clipped; the other parameters' are (the WS
 * weights per output channel). */
static void net_agc_leaves_the_classifier_alone(void **state)
{
    (void)state;
    struct ns_config c = nf_config(8, NS_STEM_CIFAR, NS_ACT_RELU);
    struct ns_net *net = ns_net_build(&c, 2, 0, 0, NULL);
    assert_non_null(net);
    ns_net_init(net, 1);
    for (size_t i = 0; i < net->n_weights; i++)
        net->dw[i] = 100.0f; /* far beyond any bound */
    int units = 0;
    for (int i = 0; i < net->n_params; i++)
        units += net->params[i].classifier ? 0 : net->params[i].units;
    assert_int_equal(ns_net_agc(net, 0.01), units);
    for (int i = 0; i < net->n_params; i++) {
        const struct ns_param *p = &net->params[i];
        const float *g = net->dw + p->off;
        for (size_t j = 0; j < p->len; j++)
            if (p->classifier ? g[j] != 100.0f : !(g[j] < 100.0f))
                fail_msg("param %d (kind %d, classifier %d): gradient %g", i, (int)p->kind,
                         p->classifier, g[j]);
    }
    /* the classifier is the last weight and bias */
    assert_true(net->params[net->n_params - 1].classifier &&
                net->params[net->n_params - 2].classifier);
    assert_int_equal(net->params[net->n_params - 3].classifier, 0);
    ns_net_free(net);
}

/* WS convs start N(0, 1/sqrt(fan_in)) with gains 1 and biases 0. */
static void ws_init_follows_fan_in(void **state)
{
    (void)state;
    struct ns_config c = nf_config(8, NS_STEM_CIFAR, NS_ACT_RELU);
    c.stages[0].w = 64;
    c.stages[0].b = 1;
    c.stages[0].g = 64;
    struct ns_net *net = ns_net_build(&c, 1, 0, 0, NULL);
    assert_non_null(net);
    ns_net_init(net, 3);
    int seen = 0;
    for (int i = 0; i < net->n_params; i++) {
        const struct ns_param *p = &net->params[i];
        const float *w = net->w + p->off;
        if (p->kind == NS_P_WS_GAIN)
            for (size_t j = 0; j < p->len; j++)
                assert_true(w[j] == 1.0f);
        if (p->kind != NS_P_WS_W || p->len < 2000)
            continue;
        double s2 = 0, fan_in = (double)p->len / p->units;
        for (size_t j = 0; j < p->len; j++)
            s2 += (double)w[j] * w[j];
        double sd = sqrt(s2 / p->len);
        if (fabs(sd * sqrt(fan_in) - 1) > 0.1)
            fail_msg("param %d: sd %g, fan_in %g", i, sd, fan_in);
        seen++;
    }
    assert_true(seen >= 3);
    ns_net_free(net);
}

/* No BN anywhere and it still learns: the loss falls and a synthetic set is fitted, with
 * and without AGC; the same seed gives the same run. */
static void nf_net_trains_without_bn(void **state)
{
    (void)state;
    struct ns_dataset train, test;
    assert_int_equal(ns_data_synthetic_pair(&train, &test, 512, 64, 1, 12, 10, 7), 0);
    ns_data_normalize(&train, &test);
    struct ns_config c = {.in_ch = 1,
                          .im_size = 12,
                          .classes = 10,
                          .stem = NS_STEM_CIFAR,
                          .stem_w = 8,
                          .block = NS_BLOCK_NF,
                          .n_stages = 2};
    c.stages[0] = (struct ns_stage){1, 16, 2, 8, 1.0, 0};
    c.stages[1] = (struct ns_stage){2, 32, 2, 8, 0.5, 0};
    struct ns_recipe r;
    ns_recipe_default(&r);
    r.epochs = 8;
    r.batch = 32;
    r.lr = 0.1;
    r.warmup_epochs = 1;
    r.eval_batch = 100;
    for (int agc = 0; agc < 2; agc++) {
        r.agc = agc ? 0.08 : 0;
        struct ns_train_result res, again;
        if (ns_train(&c, &train, &train, &r, NULL, &res) != NS_TRAIN_OK)
            fail_msg("agc %g: %s", r.agc, res.reason);
        if (getenv("NS_TEST_VERBOSE"))
            fprintf(stderr, "nf agc %g: loss %.4f, train err %.2f%%, eval err %.2f%%\n", r.agc,
                    res.train_loss, res.train_err, res.test_err);
        if (!(res.train_loss < 0.5 && res.test_err < 10.0))
            fail_msg("agc %g: not learning: loss %.4f (from ln 10 = 2.30), error %.2f%%", r.agc,
                     res.train_loss, res.test_err);
        assert_int_equal(ns_train(&c, &train, &train, &r, NULL, &again), NS_TRAIN_OK);
        assert_true(again.train_loss == res.train_loss && again.test_err == res.test_err);
    }
    r.agc = -0.1;
    assert_int_equal(ns_recipe_check(&r), -1);
    assert_non_null(strstr(ns_errmsg(), "agc: -0.1 is not in [0, 100]"));
    ns_data_free(&train);
    ns_data_free(&test);
}

static int setup(void **state)
{
    (void)state;
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
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(weight_standardization_forward_and_gradients),
        cmocka_unit_test(weight_standardization_of_a_constant_channel_is_finite),
        cmocka_unit_test(scaled_activation_and_add_gradients),
        cmocka_unit_test(agc_hand_worked_example),
        cmocka_unit_test(complexity_counted_by_hand),
        cmocka_unit_test(beta_follows_the_analytic_variance),
        cmocka_unit_test(config_rules_and_canonical_json),
        cmocka_unit_test(whole_nf_net_gradients),
        cmocka_unit_test(net_agc_leaves_the_classifier_alone),
        cmocka_unit_test(ws_init_follows_fan_in),
        cmocka_unit_test(nf_net_trains_without_bn),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
