/* The convnet core against PyTorch: forward outputs, gradients and BN running statistics
 * of single ops (conv with groups, strides and depthwise; BN in training and evaluation
 * mode; max and average pooling) and of whole networks built from model configs, one per
 * block type (the X block of the benchmark net, Y with squeeze-and-excitation, ...), with
 * the builder's parameter order checked against the PyTorch mirror in
 * tests/fixtures/nn/gen_fixtures.py, which also documents the fixture format.
 *
 * References are float64 PyTorch results; tolerances (max |got - want| <= atol + rtol *
 * max |want|, per tensor) allow for the core's float32 arithmetic only. */
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
#include "util/err.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the fixture holds little-endian floats, read here as they are"
#endif

/* ---- fixture file --------------------------------------------------------------------- */

struct fx_tensor {
    char name[96];
    int ndim;
    int dims[8];
    size_t len;
    float *data;
};

static struct fx_tensor *fx;
static int fx_n;
static struct ns_pool *pool2;

static int read_u32(FILE *f, uint32_t *v)
{
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4)
        return -1;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 0;
}

static int fx_load(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open (run tests/fixtures/nn/gen_fixtures.py)\n", path);
        return -1;
    }
    char magic[8];
    uint32_t count;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "NSFX0001", 8) != 0 || read_u32(f, &count) ||
        count > 100000) {
        fprintf(stderr, "%s: not a fixture file\n", path);
        fclose(f);
        return -1;
    }
    fx = calloc(count, sizeof *fx);
    for (fx_n = 0; fx && fx_n < (int)count; fx_n++) {
        struct fx_tensor *t = &fx[fx_n];
        uint32_t nl, nd, d;
        if (read_u32(f, &nl) || nl >= sizeof t->name || fread(t->name, 1, nl, f) != nl ||
            read_u32(f, &nd) || nd > 8)
            break;
        t->ndim = (int)nd;
        t->len = 1;
        for (uint32_t i = 0; i < nd; i++) {
            if (read_u32(f, &d) || d > (1u << 24))
                goto bad;
            t->dims[i] = (int)d;
            t->len *= d;
        }
        if (t->len > (1u << 24))
            break;
        t->data = nn_floats(t->len);
        if (fread(t->data, sizeof(float), t->len, f) != t->len) {
            fx_n++;
            break;
        }
    }
    if (fx && fx_n == (int)count && fgetc(f) == EOF) {
        fclose(f);
        return 0;
    }
bad:
    fprintf(stderr, "%s: truncated or corrupt at tensor %d\n", path, fx_n);
    fclose(f);
    return -1;
}

/* The tensor "<prefix><name>", or NULL. */
static const struct fx_tensor *fx_find(const char *prefix, const char *name)
{
    char full[128];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    for (int i = 0; i < fx_n; i++)
        if (strcmp(fx[i].name, full) == 0)
            return &fx[i];
    return NULL;
}

/* The tensor, failing the test when it is missing or has the wrong number of elements
 * (len 0: any). */
static const float *fx_get(const char *prefix, const char *name, size_t len)
{
    const struct fx_tensor *t = fx_find(prefix, name);
    if (!t)
        fail_msg("fixture tensor %s%s is missing", prefix, name);
    if (len && t->len != len)
        fail_msg("fixture tensor %s%s has %zu elements, the test expects %zu", prefix, name, t->len,
                 len);
    return t->data;
}

static int cmp(const char *prefix, const char *name, const float *got, const float *want, size_t n,
               double atol, double rtol)
{
    char full[160];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return nn_close(full, got, want, n, atol, rtol);
}

/* ---- single ops ----------------------------------------------------------------------- */

static const char *conv_cases[] = {"dense3_s1_bias", "dense3_s2", "pw_s2",      "pw_s1_bias",
                                   "stem7_s2",       "dw_s1",     "dw_s2_bias", "g8_s2",
                                   "g16_s1_bias",    "g2_s1",     "g4_s2",      "generic12_g3"};

/* Forward and backward of conv c on the fixture's tensors under prefix p, batch n; the
 * number of tensors that differ. */
static int conv_case_matches(const char *p, const struct ns_conv *c, int n, int bias)
{
    int fails = 0;
    size_t nx = (size_t)n * c->h * c->w * c->cin, ny = (size_t)n * c->ho * c->wo * c->cout;
    size_t nw = (size_t)c->kh * c->kw * c->cpg * c->cout;
    const float *x = fx_get(p, "x", nx), *w = fx_get(p, "w", nw), *dy = fx_get(p, "dy", ny);
    const float *b = bias ? fx_get(p, "b", c->cout) : NULL;
    float *y = nn_floats(ny), *dx = nn_floats(nx), *dw = nn_floats(nw), *db = nn_floats(c->cout);
    float *scratch = nn_floats(ns_conv_scratch(c, n, ns_pool_size(pool2)));
    ns_conv_forward(pool2, c, n, x, w, b, y, scratch);
    fails += !cmp(p, "y", y, fx_get(p, "y", ny), ny, 1e-6, 1e-5);
    ns_conv_backward(pool2, c, n, x, w, dy, dx, 0, dw, bias ? db : NULL, scratch);
    fails += !cmp(p, "dx", dx, fx_get(p, "dx", nx), nx, 1e-6, 1e-5);
    fails += !cmp(p, "dw", dw, fx_get(p, "dw", nw), nw, 1e-6, 1e-5);
    if (bias)
        fails += !cmp(p, "db", db, fx_get(p, "db", c->cout), c->cout, 1e-6, 1e-5);
    free(y), free(dx), free(dw), free(db), free(scratch);
    return fails;
}

static void conv_matches_torch(void **state)
{
    (void)state;
    int fails = 0;
    for (size_t ci = 0; ci < sizeof conv_cases / sizeof *conv_cases; ci++) {
        char p[64];
        snprintf(p, sizeof p, "conv/%s/", conv_cases[ci]);
        const float *m = fx_get(p, "meta", 9);
        struct ns_conv c;
        ns_conv_setup(&c, (int)m[1], (int)m[2], (int)m[3], (int)m[4], (int)m[5], (int)m[6],
                      (int)m[7], (int)m[8]);
        fails += conv_case_matches(p, &c, (int)m[0], (int)m[8]);
    }
    assert_int_equal(fails, 0);
}

/* Rectangular kernels (ACNet's 1x3 and 3x1): im2col ungrouped, the generic loop depthwise. */
static void rect_conv_matches_torch(void **state)
{
    (void)state;
    static const char *cases[] = {"1x3_s1_bias", "3x1_s2", "1x3_dw_s2_bias"};
    int fails = 0;
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        char p[64];
        snprintf(p, sizeof p, "conv_rect/%s/", cases[ci]);
        const float *m = fx_get(p, "meta", 10);
        struct ns_conv c;
        ns_conv_setup_rect(&c, (int)m[1], (int)m[2], (int)m[3], (int)m[4], (int)m[5], (int)m[6],
                           (int)m[7], (int)m[8], (int)m[9]);
        fails += conv_case_matches(p, &c, (int)m[0], (int)m[9]);
    }
    assert_int_equal(fails, 0);
}

static const char *bn_cases[] = {"plain", "relu", "wide_rows"};

static void bn_training_matches_torch(void **state)
{
    (void)state;
    int fails = 0;
    for (size_t ci = 0; ci < sizeof bn_cases / sizeof *bn_cases; ci++) {
        char p[64];
        snprintf(p, sizeof p, "bn_train/%s/", bn_cases[ci]);
        const float *m = fx_get(p, "meta", 5);
        int n = (int)m[0], C = (int)m[3];
        struct ns_bn b = {.m_per_image = (int)m[1] * (int)m[2], .c = C, .relu = (int)m[4]};
        size_t len = (size_t)n * b.m_per_image * C;
        const float *x = fx_get(p, "x", len), *dy = fx_get(p, "dy", len);
        const float *gamma = fx_get(p, "gamma", C), *beta = fx_get(p, "beta", C);
        float *rm = nn_floats(C), *rv = nn_floats(C), *mean = nn_floats(C), *rstd = nn_floats(C);
        float *y = nn_floats(len), *dx = nn_floats(len), *dg = nn_floats(C), *dbt = nn_floats(C);
        float *scratch = nn_floats(ns_bn_scratch(&b, ns_pool_size(pool2)));
        memcpy(rm, fx_get(p, "run_mean0", C), sizeof(float) * C);
        memcpy(rv, fx_get(p, "run_var0", C), sizeof(float) * C);
        float *aff = nn_floats(2 * (size_t)C);
        ns_bn_forward_train(pool2, &b, n, x, gamma, beta, rm, rv, mean, rstd, aff, y, scratch);
        fails += !cmp(p, "y", y, fx_get(p, "y", len), len, 1e-6, 1e-5);
        fails += !cmp(p, "run_mean1", rm, fx_get(p, "run_mean1", C), C, 1e-7, 1e-6);
        fails += !cmp(p, "run_var1", rv, fx_get(p, "run_var1", C), C, 1e-7, 1e-6);
        ns_bn_backward(pool2, &b, n, x, y, gamma, mean, rstd, aff, dy, dx, 0, dg, dbt, scratch);
        free(aff);
        fails += !cmp(p, "dx", dx, fx_get(p, "dx", len), len, 1e-6, 1e-5);
        fails += !cmp(p, "dgamma", dg, fx_get(p, "dgamma", C), C, 1e-6, 1e-5);
        fails += !cmp(p, "dbeta", dbt, fx_get(p, "dbeta", C), C, 1e-6, 1e-5);
        free(rm), free(rv), free(mean), free(rstd), free(y), free(dx), free(dg), free(dbt);
        free(scratch);
    }
    assert_int_equal(fails, 0);
}

static void bn_eval_matches_torch(void **state)
{
    (void)state;
    int fails = 0;
    for (size_t ci = 0; ci < sizeof bn_cases / sizeof *bn_cases; ci++) {
        char p[64];
        snprintf(p, sizeof p, "bn_eval/%s/", bn_cases[ci]);
        const float *m = fx_get(p, "meta", 5);
        int n = (int)m[0], C = (int)m[3];
        struct ns_bn b = {.m_per_image = (int)m[1] * (int)m[2], .c = C, .relu = (int)m[4]};
        size_t len = (size_t)n * b.m_per_image * C;
        float *y = nn_floats(len);
        ns_bn_forward_eval(pool2, &b, n, fx_get(p, "x", len), fx_get(p, "gamma", C),
                           fx_get(p, "beta", C), fx_get(p, "run_mean", C), fx_get(p, "run_var", C),
                           y);
        fails += !cmp(p, "y", y, fx_get(p, "y", len), len, 1e-6, 1e-5);
        free(y);
    }
    assert_int_equal(fails, 0);
}

static void pooling_matches_torch(void **state)
{
    (void)state;
    static const char *cases[] = {"maxpool/k3_s2_p1/", "maxpool/k3_s2_p1_even/",
                                  "maxpool/k2_s2/",    "avgpool/k3_s2_p1/",
                                  "avgpool/k2_s2/",    "avgpool/k3_s1_p1/"};
    int fails = 0;
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        const char *p = cases[ci];
        int max = p[0] == 'm';
        const float *m = fx_get(p, "meta", 7);
        int n = (int)m[0];
        struct ns_pool2d q;
        ns_pool2d_setup(&q, (int)m[1], (int)m[2], (int)m[3], (int)m[4], (int)m[5], (int)m[6]);
        size_t nx = (size_t)n * q.h * q.w * q.c, ny = (size_t)n * q.ho * q.wo * q.c;
        const float *x = fx_get(p, "x", nx), *dy = fx_get(p, "dy", ny);
        float *y = nn_floats(ny), *dx = nn_floats(nx);
        if (max) {
            ns_maxpool_forward(pool2, &q, n, x, y);
            ns_maxpool_backward(pool2, &q, n, x, y, dy, dx, 0);
        } else {
            ns_avgpool_forward(pool2, &q, n, x, y);
            ns_avgpool_backward(pool2, &q, n, dy, dx, 0);
        }
        fails += !cmp(p, "y", y, fx_get(p, "y", ny), ny, 1e-6, 1e-6);
        fails += !cmp(p, "dx", dx, fx_get(p, "dx", nx), nx, 1e-6, 1e-6);
        free(y), free(dx);
    }
    assert_int_equal(fails, 0);
}

/* ---- SGD ------------------------------------------------------------------------------ */

/* ns_net_sgd_step on the first 64 weights of a small net (the rest stay 0) against
 * torch.optim.SGD over three steps with changing learning rates. */
static void sgd_step_matches_torch(void **state)
{
    (void)state;
    struct ns_config cfg = {.in_ch = 1,
                            .im_size = 4,
                            .classes = 2,
                            .stem = NS_STEM_CIFAR,
                            .stem_w = 8,
                            .block = NS_BLOCK_VANILLA,
                            .n_stages = 1};
    cfg.stages[0] = (struct ns_stage){1, 8, 1, 0, 1.0, 0};
    struct ns_net *net = ns_net_build(&cfg, 1, 0, 0, NULL);
    assert_non_null(net);
    assert_true(net->n_weights >= 64);
    int fails = 0;
    for (int nesterov = 0; nesterov < 2; nesterov++) {
        char p[32], nm[8];
        snprintf(p, sizeof p, "sgd/nesterov%d/", nesterov);
        const float *m = fx_get(p, "meta", 3), *lr = fx_get(p, "lr", 3);
        memset(net->w, 0, sizeof(float) * net->n_weights);
        memset(net->mom, 0, sizeof(float) * net->n_weights);
        memcpy(net->w, fx_get(p, "w0", 64), sizeof(float) * 64);
        for (int k = 1; k <= 3; k++) {
            ns_net_zero_grad(net);
            snprintf(nm, sizeof nm, "g%d", k);
            memcpy(net->dw, fx_get(p, nm, 64), sizeof(float) * 64);
            ns_net_sgd_step(net, lr[k - 1], m[1], m[2], nesterov);
            snprintf(nm, sizeof nm, "w%d", k);
            fails += !cmp(p, nm, net->w, fx_get(p, nm, 64), 64, 1e-7, 1e-6);
        }
        for (size_t i = 64; i < net->n_weights; i++)
            if (net->w[i] != 0) {
                fprintf(stderr, "%s: weight %zu moved without gradient\n", p, i);
                fails++;
                break;
            }
    }
    ns_net_free(net);
    assert_int_equal(fails, 0);
}

/* ---- whole networks ------------------------------------------------------------------- */

/* The config a fixture's meta describes (see gen_fixtures.py). */
static struct ns_config config_of(const float *m, size_t len)
{
    struct ns_config c;
    memset(&c, 0, sizeof c);
    c.in_ch = (int)m[0];
    c.im_size = (int)m[1];
    c.classes = (int)m[2];
    c.stem = (enum ns_stem)(int)m[3];
    c.stem_w = (int)m[4];
    c.block = (enum ns_block)(int)m[5];
    c.se_r = m[6] / 1000.0;
    c.n_stages = (int)m[7];
    assert_int_equal(len, 8 + 6 * (size_t)c.n_stages + 4);
    for (int s = 0; s < c.n_stages; s++) {
        const float *st = m + 8 + 5 * s;
        c.stages[s] =
            (struct ns_stage){(int)st[0], (int)st[1], (int)st[2], (int)st[3], st[4] / 1000.0, 0};
    }
    const float *tail = m + 8 + 5 * c.n_stages;
    c.bn_order = (enum ns_bn_order)(int)tail[0];
    c.act = (enum ns_act)(int)tail[1];
    c.head_w = (int)tail[2];
    for (int s = 0; s < c.n_stages; s++)
        c.stages[s].k = (int)tail[3 + s] == 3 ? 0 : (int)tail[3 + s];
    c.patch = (int)tail[3 + c.n_stages];
    return c;
}

/* Build the fixture's net, load its parameters and running statistics, run one training
 * forward and backward and an evaluation forward, and compare everything. */
static int check_net(const char *block, struct ns_pool *pool, int max_batch)
{
    char p[64], nm[32];
    snprintf(p, sizeof p, "net_%s/", block);
    const struct fx_tensor *mt = fx_find(p, "meta");
    if (!mt)
        fail_msg("fixture net %s is missing", p);
    struct ns_config cfg = config_of(mt->data, mt->len);
    if (ns_config_check(&cfg) != 0)
        fail_msg("%s: fixture config rejected: %s", p, ns_errmsg());
    const int n = 4;
    struct ns_net *net = ns_net_build(&cfg, max_batch, 0, 0, pool);
    if (!net)
        fail_msg("%s: build failed: %s", p, ns_errmsg());
    int fails = 0;

    /* parameters, in the builder's order: same count, same sizes */
    int n_fx = 0;
    while (snprintf(nm, sizeof nm, "p%d", n_fx), fx_find(p, nm))
        n_fx++;
    if (n_fx != net->n_params) {
        fprintf(stderr, "%s: the net has %d parameter tensors, the PyTorch mirror %d\n", p,
                net->n_params, n_fx);
        ns_net_free(net);
        return 1;
    }
    for (int i = 0; i < net->n_params; i++) {
        snprintf(nm, sizeof nm, "p%d", i);
        const struct fx_tensor *t = fx_find(p, nm);
        if (t->len != net->params[i].len) {
            fprintf(stderr,
                    "%s: parameter %d (kind %d) has %zu floats, PyTorch's %zu: the "
                    "builder's parameter order differs\n",
                    p, i, (int)net->params[i].kind, net->params[i].len, t->len);
            ns_net_free(net);
            return 1;
        }
        memcpy(net->w + net->params[i].off, t->data, sizeof(float) * t->len);
    }
    /* running statistics of each BN, in node (= build) order */
    int j = 0;
    for (int i = 0; i < net->n_nodes; i++) {
        const struct ns_node *nd = &net->nodes[i];
        if (nd->kind != NS_N_BN)
            continue;
        int C = nd->u.bn.c;
        snprintf(nm, sizeof nm, "rm0_%d", j);
        memcpy(net->bn_state + nd->bn_off, fx_get(p, nm, C), sizeof(float) * C);
        snprintf(nm, sizeof nm, "rv0_%d", j);
        memcpy(net->bn_state + nd->bn_off + C, fx_get(p, nm, C), sizeof(float) * C);
        j++;
    }
    snprintf(nm, sizeof nm, "rm0_%d", j);
    if (fx_find(p, nm)) {
        fprintf(stderr, "%s: the net has %d BNs, the PyTorch mirror more\n", p, j);
        fails++;
    }

    size_t nx = (size_t)n * cfg.im_size * cfg.im_size * cfg.in_ch, nl = (size_t)n * cfg.classes;
    const float *x = fx_get(p, "x", nx), *lf = fx_get(p, "labels", n);
    int32_t labels[4];
    for (int i = 0; i < n; i++)
        labels[i] = (int32_t)lf[i];
    const float *logits = ns_net_forward(net, n, x, 1, NULL);
    fails += !cmp(p, "logits", logits, fx_get(p, "logits", nl), nl, 1e-5, 1e-4);
    /* the last block's output: the input of the head's (the last) global average pool */
    int head = -1;
    for (int i = 0; i < net->n_nodes; i++)
        if (net->nodes[i].kind == NS_N_GAP)
            head = i;
    /* a transformer: the final LN, whose output the class token is taken from (node i
     * makes tensor i + 1) */
    for (int i = 0; head < 0 && i < net->n_nodes; i++)
        if (net->nodes[i].kind == NS_N_TOKEN0)
            head = net->nodes[i].in[0] - 1;
    assert_true(head >= 0);
    const struct ns_tensor *ft = &net->tensors[net->nodes[head].in[0]];
    fails += !cmp(p, "feat", ft->data, fx_get(p, "feat", ft->per_image * n), ft->per_image * n,
                  1e-5, 1e-4);
    float *dlogits = nn_floats(nl);
    float loss = (float)ns_softmax_xent(n, cfg.classes, logits, labels, dlogits, NULL);
    fails += !cmp(p, "loss", &loss, fx_get(p, "loss", 1), 1, 1e-6, 1e-5);
    ns_net_zero_grad(net);
    ns_net_backward(net, n, dlogits);
    for (int i = 0; i < net->n_params; i++) {
        snprintf(nm, sizeof nm, "g%d", i);
        fails += !cmp(p, nm, net->dw + net->params[i].off, fx_get(p, nm, net->params[i].len),
                      net->params[i].len, 1e-6, 5e-5);
    }
    j = 0;
    for (int i = 0; i < net->n_nodes; i++) {
        const struct ns_node *nd = &net->nodes[i];
        if (nd->kind != NS_N_BN)
            continue;
        int C = nd->u.bn.c;
        snprintf(nm, sizeof nm, "rm%d", j);
        fails += !cmp(p, nm, net->bn_state + nd->bn_off, fx_get(p, nm, C), C, 1e-6, 1e-5);
        snprintf(nm, sizeof nm, "rv%d", j);
        fails += !cmp(p, nm, net->bn_state + nd->bn_off + C, fx_get(p, nm, C), C, 1e-6, 1e-5);
        j++;
    }
    logits = ns_net_forward(net, n, x, 0, NULL);
    fails += !cmp(p, "logits_eval", logits, fx_get(p, "logits_eval", nl), nl, 1e-5, 1e-4);
    free(dlogits);
    ns_net_free(net);
    return fails;
}

/* The benchmark net's block: 1x1 conv-BN-ReLU, 3x3 grouped stride-2 conv-BN-ReLU, 1x1
 * conv-BN, projection shortcut, add, ReLU; and an identity-shortcut X block after it. */
static void x_block_net_matches_torch(void **state)
{
    (void)state;
    assert_int_equal(check_net("x", pool2, 4), 0);
    assert_int_equal(check_net("x", NULL, 7), 0); /* built for more images than it runs */
}

static void y_block_with_se_matches_torch(void **state)
{
    (void)state;
    assert_int_equal(check_net("y", pool2, 4), 0);
}

static void other_blocks_match_torch(void **state)
{
    (void)state;
    int fails = 0;
    static const char *blocks[] = {"vanilla", "res_basic", "sep", "mbconv"};
    for (int i = 0; i < 4; i++)
        fails += check_net(blocks[i], pool2, 4);
    assert_int_equal(fails, 0);
}

/* BN after the activation (conv, ReLU, BN) in the stem and blocks of five families (mbconv
 * with and without its expansion conv). */
static void bn_after_act_nets_match_torch(void **state)
{
    (void)state;
    int fails = 0;
    static const char *nets[] = {"vanilla_after_act", "res_basic_after_act", "x_after_act",
                                 "y_after_act", "mbconv_after_act"};
    for (int i = 0; i < 5; i++)
        fails += check_net(nets[i], pool2, 4);
    assert_int_equal(fails, 0);
}

/* RepVGG (its stem, identity branches) and ACNet (1x3 and 3x1 branches), training form:
 * forward, gradients, running statistics, evaluation. */
static void reparam_block_nets_match_torch(void **state)
{
    (void)state;
    int fails = check_net("repvgg", pool2, 4) + check_net("acnet", pool2, 4);
    fails += check_net("acnet", NULL, 5);
    assert_int_equal(fails, 0);
}

/* The families of the layer graph: MobileNet v1 (ReLU and ReLU6, k = 5), ShuffleNet v2
 * (split, concat, shuffle; both units; simple_pool stem; head conv), EfficientNet's MBConv
 * (SiLU, SE with a SiLU hidden layer, k = 5, head conv), ShuffleNet v1 (grouped 1x1 convs,
 * shuffle with 4 and 2 groups, average-pool shortcut and concat, identity unit). */
static void new_family_nets_match_torch(void **state)
{
    (void)state;
    int fails = 0;
    static const char *nets[] = {"mbv1", "mbv1_relu6", "shuffle_v2", "mbconv_silu", "shuffle_v1"};
    for (int i = 0; i < 5; i++)
        fails += check_net(nets[i], pool2, 4);
    fails += check_net("shuffle_v2", NULL, 5);
    assert_int_equal(fails, 0);
}

/* A vision transformer: patchify stem, class token and position embedding, pre-LN encoder
 * blocks (multi-head attention, GELU MLP), final LN and the class token's classifier. */
static void vit_net_matches_torch(void **state)
{
    (void)state;
    assert_int_equal(check_net("vit", pool2, 4), 0);
    assert_int_equal(check_net("vit", NULL, 6), 0);
}

/* AdamW on the vit net's parameters: decoupled decay on the weights only, bias-corrected
 * moments, the learning rate changed every step. */
static void adamw_step_matches_torch(void **state)
{
    (void)state;
    const struct fx_tensor *mt = fx_find("net_vit/", "meta");
    assert_non_null(mt);
    struct ns_config cfg = config_of(mt->data, mt->len);
    struct ns_net *net = ns_net_build(&cfg, 1, 0, 0, NULL);
    assert_non_null(net);
    assert_int_equal(ns_net_use_adamw(net), 0);
    const float *m = fx_get("adamw/", "meta", 4), *lr = fx_get("adamw/", "lr", 3);
    char nm[32];
    for (int i = 0; i < net->n_params; i++) {
        snprintf(nm, sizeof nm, "p%d", i);
        memcpy(net->w + net->params[i].off, fx_get("net_vit/", nm, net->params[i].len),
               sizeof(float) * net->params[i].len);
    }
    int fails = 0;
    for (int k = 1; k <= 3; k++) {
        for (int i = 0; i < net->n_params; i++) {
            snprintf(nm, sizeof nm, "g%d_%d", k, i);
            memcpy(net->dw + net->params[i].off, fx_get("adamw/", nm, net->params[i].len),
                   sizeof(float) * net->params[i].len);
        }
        ns_net_adamw_step(net, lr[k - 1], m[0], m[1], m[2], m[3]);
        for (int i = 0; i < net->n_params; i++) {
            snprintf(nm, sizeof nm, "w%d_%d", k, i);
            fails += !cmp("adamw/", nm, net->w + net->params[i].off,
                          fx_get("adamw/", nm, net->params[i].len), net->params[i].len, 1e-6,
                          1e-5);
        }
    }
    ns_net_free(net);
    assert_int_equal(fails, 0);
}

/* Normalizer-free nets (NF-ResNet pre-activation bottlenecks, no BN): every conv a scaled
 * weight-standardized conv (timm's ScaledStdConv2d) with gain and bias, gamma-scaled
 * activations with the analytic 1/beta, alpha-scaled residual branches; ReLU with a
 * transition and identity blocks in two stages, SiLU with the res stem. */
static void nf_nets_match_torch(void **state)
{
    (void)state;
    int fails = check_net("nf", pool2, 4) + check_net("nf_silu", pool2, 4);
    fails += check_net("nf", NULL, 5);
    assert_int_equal(fails, 0);
}

/* ns_agc_clip against timm's adaptive_clip_grad on a conv weight (units from untouched to
 * clipped tenfold, one whose weights are below eps), a linear weight, and a vector that is
 * clipped as a whole and one that is not. */
static void agc_matches_torch(void **state)
{
    (void)state;
    static const char *cases[] = {"agc/conv/", "agc/linear/", "agc/vector/", "agc/vector_kept/"};
    int fails = 0;
    for (int ci = 0; ci < 4; ci++) {
        const char *p = cases[ci];
        const float *m = fx_get(p, "meta", 4); /* rows, units, lambda, units torch clipped */
        size_t rows = (size_t)m[0], len = rows * (size_t)m[1];
        float *g = nn_floats(len);
        memcpy(g, fx_get(p, "g", len), sizeof(float) * len);
        int clipped = ns_agc_clip(rows, (int)m[1], fx_get(p, "w", len), g, m[2]);
        if (clipped != (int)m[3] || (ci < 3 && clipped == 0)) {
            fprintf(stderr, "%s: %d units clipped, torch %d\n", p, clipped, (int)m[3]);
            fails++;
        }
        fails += !cmp(p, "g_clipped", g, fx_get(p, "g_clipped", len), len, 1e-9, 1e-6);
        free(g);
    }
    assert_int_equal(fails, 0);
}

static int setup(void **state)
{
    (void)state;
    const char *dir = getenv("NS_FIXTURES") ? getenv("NS_FIXTURES") : NS_FIXTURES;
    char path[1024];
    snprintf(path, sizeof path, "%s/nn/torch_ref.bin", dir);
    pool2 = ns_pool_create(2);
    return pool2 && fx_load(path) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < fx_n; i++)
        free(fx[i].data);
    free(fx);
    ns_pool_free(pool2);
    return 0;
}

int main(void)
{
    if (nn_isa_skip())
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv_matches_torch),
        cmocka_unit_test(bn_training_matches_torch),
        cmocka_unit_test(bn_eval_matches_torch),
        cmocka_unit_test(pooling_matches_torch),
        cmocka_unit_test(sgd_step_matches_torch),
        cmocka_unit_test(x_block_net_matches_torch),
        cmocka_unit_test(y_block_with_se_matches_torch),
        cmocka_unit_test(other_blocks_match_torch),
        cmocka_unit_test(bn_after_act_nets_match_torch),
        cmocka_unit_test(rect_conv_matches_torch),
        cmocka_unit_test(reparam_block_nets_match_torch),
        cmocka_unit_test(new_family_nets_match_torch),
        cmocka_unit_test(vit_net_matches_torch),
        cmocka_unit_test(adamw_step_matches_torch),
        cmocka_unit_test(nf_nets_match_torch),
        cmocka_unit_test(agc_matches_torch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
