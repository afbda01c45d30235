/* Structural re-parameterization in the net: after ns_net_fuse_bn a RepVGG or ACNet net runs
 * one 3x3 conv with a bias per block (no BN, no ADD, no 1x1/1x3/3x1 conv left) and gives the
 * training-form net's evaluation logits to 1e-5 of their scale, on random nets with
 * non-trivial BN statistics; and the folded net is the one ns_graph_deploy describes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* needs the headers above: a block of its own, so sorting keeps it here */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/graph.h"
#include "nn/net.h"
#include "nn/pool.h"
#include "nn_check.h"
#include "util/err.h"

static struct ns_pool *pool2;

/* Random parameters (conv weights as initialized; BN affine, biases and FC far from their
 * initial values) and running statistics moved by training forwards on offset inputs. */
static void randomize(struct ns_net *net, struct ns_pcg32 *rng, float *x, size_t nx, int n)
{
    ns_net_init(net, ns_pcg32_next(rng));
    for (int i = 0; i < net->n_params; i++) {
        const struct ns_param *p = &net->params[i];
        float *w = net->w + p->off;
        if (p->kind == NS_P_BN_GAMMA)
            nn_uniform(rng, w, p->len, 0.3f, 1.7f);
        else if (p->kind == NS_P_BN_BETA || p->kind == NS_P_BIAS)
            nn_uniform(rng, w, p->len, -0.5f, 0.5f);
        else if (p->kind == NS_P_FC_W)
            nn_uniform(rng, w, p->len, -0.5f, 0.5f);
    }
    for (int step = 0; step < 4; step++) {
        nn_uniform(rng, x, nx, -1.0f, 3.0f);
        ns_net_forward(net, n, x, 1, NULL);
    }
}

/* How many nodes of each kind still run, and how many layers of each kind the deployed
 * graph has (its relu act layers are fused into the net's convs, so acts are not compared). */
static void count_kinds(const struct ns_net *net, const struct ns_graph *d, int *nodes, int *layers)
{
    memset(nodes, 0, sizeof(int) * NS_L_KIND_COUNT);
    memset(layers, 0, sizeof(int) * NS_L_KIND_COUNT);
    static const enum ns_layer_kind of_node[] = {
        [NS_N_CONV] = NS_L_CONV,       [NS_N_BN] = NS_L_BN,           [NS_N_ACT] = NS_L_ACT,
        [NS_N_ADD] = NS_L_ADD,         [NS_N_MAXPOOL] = NS_L_MAXPOOL, [NS_N_AVGPOOL] = NS_L_AVGPOOL,
        [NS_N_GAP] = NS_L_GAP,         [NS_N_LINEAR] = NS_L_LINEAR,   [NS_N_SCALE] = NS_L_SCALE,
        [NS_N_DROPOUT] = NS_L_DROPOUT, [NS_N_SHUFFLE] = NS_L_SHUFFLE, [NS_N_SLICE] = NS_L_SLICE,
        [NS_N_CONCAT] = NS_L_CONCAT};
    for (int i = 0; i < net->n_nodes; i++)
        if (!net->nodes[i].skip)
            nodes[of_node[net->nodes[i].kind]]++;
    for (int i = 1; i < d->n; i++)
        layers[d->layer[i].kind]++;
}

/* Build cfg, randomize it, fold it; the logits before and after, at batch n and n - 1. */
static int check_fold(const char *name, const struct ns_config *cfg, float dropout, uint64_t seed)
{
    const int n = 5;
    if (ns_config_check(cfg))
        fail_msg("%s: bad test config: %s", name, ns_errmsg());
    struct ns_net *net = ns_net_build(cfg, n, dropout, 0, pool2);
    if (!net)
        fail_msg("%s: build failed: %s", name, ns_errmsg());
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, seed, 5);
    size_t nx = (size_t)n * cfg->im_size * cfg->im_size * cfg->in_ch, nl = (size_t)n * cfg->classes;
    float *x = nn_floats(nx), *before = nn_floats(nl), *before4 = nn_floats(nl);
    randomize(net, &rng, x, nx, n);
    double dev = 0;
    for (int i = 0; i < net->n_nodes; i++)
        if (net->nodes[i].kind == NS_N_BN) {
            const float *st = net->bn_state + net->nodes[i].bn_off;
            for (int c = 0; c < net->nodes[i].u.bn.c; c++)
                dev = fmax(dev, fabs(st[net->nodes[i].u.bn.c + c] - 1));
        }
    assert_true(dev > 0.1); /* the running variances moved well off 1 */
    nn_uniform(&rng, x, nx, -1.0f, 3.0f);
    memcpy(before, ns_net_forward(net, n, x, 0, NULL), sizeof(float) * nl);
    memcpy(before4, ns_net_forward(net, n - 1, x, 0, NULL), sizeof(float) * (nl - cfg->classes));

    ns_net_fuse_bn(net);
    int ok = 1;
    char what[128];
    snprintf(what, sizeof what, "%s: folded logits", name);
    ok &= nn_close(what, ns_net_forward(net, n, x, 0, NULL), before, nl, 0, 1e-5);
    snprintf(what, sizeof what, "%s: folded logits, batch %d", name, n - 1);
    ok &=
        nn_close(what, ns_net_forward(net, n - 1, x, 0, NULL), before4, nl - cfg->classes, 0, 1e-5);

    /* what runs is the deployed graph: one 3x3 conv per block, no BN, no ADD */
    struct ns_graph g, d;
    struct ns_graph_opts opts = {.dropout = dropout};
    assert_int_equal(ns_graph_build(cfg, &opts, &g), 0);
    assert_int_equal(ns_graph_deploy(&g, &d), 0);
    int nodes[NS_L_KIND_COUNT], layers[NS_L_KIND_COUNT];
    count_kinds(net, &d, nodes, layers);
    for (int k = 0; k < NS_L_KIND_COUNT; k++)
        if (k != NS_L_ACT && nodes[k] != layers[k]) {
            fprintf(stderr, "%s: %d %s nodes run, the deployed graph has %d\n", name, nodes[k],
                    ns_layer_kind_name((enum ns_layer_kind)k), layers[k]);
            ok = 0;
        }
    int blocks = cfg->stem == NS_STEM_REPVGG ? 1 : 0;
    for (int s = 0; s < cfg->n_stages; s++)
        blocks += cfg->stages[s].d;
    int stem_convs = cfg->stem == NS_STEM_REPVGG ? 0 : 1;
    assert_int_equal(nodes[NS_L_CONV], blocks + stem_convs);
    assert_int_equal(nodes[NS_L_BN], 0);
    assert_int_equal(nodes[NS_L_ADD], 0);
    for (int i = 0; i < net->n_nodes; i++)
        if (!net->nodes[i].skip && net->nodes[i].kind == NS_N_CONV)
            assert_true(net->nodes[i].u.conv.kh == 3 && net->nodes[i].u.conv.kw == 3);
    ns_graph_free(&g);
    ns_graph_free(&d);
    free(x), free(before), free(before4);
    ns_net_free(net);
    return ok;
}

static struct ns_config cfg_of(enum ns_block block, enum ns_stem stem, int im, int in_ch)
{
    struct ns_config c = {.in_ch = in_ch,
                          .im_size = im,
                          .classes = 6,
                          .stem = stem,
                          .stem_w = 8,
                          .block = block,
                          .n_stages = 2};
    c.stages[0] = (struct ns_stage){.d = 2, .w = 8, .s = 1, .b = 1.0};
    c.stages[1] = (struct ns_stage){.d = 2, .w = 16, .s = 2, .b = 1.0};
    return c;
}

static void repvgg_folds_to_one_conv_per_block(void **state)
{
    (void)state;
    int ok = 1;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        struct ns_config c = cfg_of(NS_BLOCK_REPVGG, NS_STEM_REPVGG, 12, 3);
        ok &= check_fold("repvgg, repvgg stem", &c, 0, seed);
        c = cfg_of(NS_BLOCK_REPVGG, NS_STEM_CIFAR, 9, 1);
        c.stages[0].w = 12; /* the first block changes the width at stride 1: no identity */
        ok &= check_fold("repvgg, odd size, width change at s1", &c, 0, seed);
        c = cfg_of(NS_BLOCK_REPVGG, NS_STEM_REPVGG, 12, 2);
        c.act = NS_ACT_SILU; /* the activation stays a node of its own */
        ok &= check_fold("repvgg silu", &c, 0, seed);
        c = cfg_of(NS_BLOCK_REPVGG, NS_STEM_REPVGG, 8, 1);
        ok &= check_fold("repvgg with dropout", &c, 0.2f, seed);
    }
    assert_true(ok);
}

static void acnet_folds_to_one_conv_per_block(void **state)
{
    (void)state;
    int ok = 1;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        struct ns_config c = cfg_of(NS_BLOCK_ACNET, NS_STEM_CIFAR, 10, 3);
        ok &= check_fold("acnet", &c, 0, seed);
        c = cfg_of(NS_BLOCK_ACNET, NS_STEM_REPVGG, 11, 1);
        c.stages[0].s = 2; /* strided 1x3 and 3x1 on an odd size */
        ok &= check_fold("acnet, repvgg stem, odd size", &c, 0, seed);
        c = cfg_of(NS_BLOCK_ACNET, NS_STEM_CIFAR, 8, 1);
        c.act = NS_ACT_RELU6;
        ok &= check_fold("acnet relu6", &c, 0, seed);
    }
    assert_true(ok);
}

/* A net whose sums are folded by hand differently must fail the comparison: the check sees
 * a wrong fold (here: the 1x1 branch's contribution dropped). */
static void check_sees_a_wrong_fold(void **state)
{
    (void)state;
    struct ns_config c = cfg_of(NS_BLOCK_REPVGG, NS_STEM_CIFAR, 8, 1);
    const int n = 3;
    struct ns_net *net = ns_net_build(&c, n, 0, 0, pool2);
    assert_non_null(net);
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 9, 9);
    size_t nx = (size_t)n * 64, nl = (size_t)n * c.classes;
    float *x = nn_floats(nx), *before = nn_floats(nl);
    randomize(net, &rng, x, nx, n);
    memcpy(before, ns_net_forward(net, n, x, 0, NULL), sizeof(float) * nl);
    ns_net_fuse_bn(net);
    /* zero the first 1x1 branch's folded bias and weights: already added into the 3x3, so
     * changing them must not matter; then perturb the 3x3 that took them in */
    for (int i = 0; i < net->n_nodes; i++) {
        struct ns_node *nd = &net->nodes[i];
        if (nd->kind == NS_N_CONV && nd->skip) {
            memset(net->w + net->params[nd->w].off, 0, sizeof(float) * net->params[nd->w].len);
            break;
        }
    }
    assert_true(nn_close("skipped branch changed", ns_net_forward(net, n, x, 0, NULL), before, nl,
                         0, 1e-5));
    for (int i = 0; i < net->n_nodes; i++) {
        struct ns_node *nd = &net->nodes[i];
        if (nd->kind == NS_N_CONV && !nd->skip && nd->u.conv.cin == 8) {
            net->fused_bias[nd->bias_off] += 0.05f;
            break;
        }
    }
    fprintf(stderr, "(a mismatch report is expected next)\n");
    assert_false(
        nn_close("perturbed fold", ns_net_forward(net, n, x, 0, NULL), before, nl, 0, 1e-5));
    free(x), free(before);
    ns_net_free(net);
}

static int setup(void **state)
{
    (void)state;
    pool2 = ns_pool_create(2);
    return pool2 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ns_pool_free(pool2);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(repvgg_folds_to_one_conv_per_block),
        cmocka_unit_test(acnet_folds_to_one_conv_per_block),
        cmocka_unit_test(check_sees_a_wrong_fold),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
