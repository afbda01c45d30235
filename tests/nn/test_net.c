/* Whole networks and the trainer: Conv+BN fusion leaves evaluation outputs unchanged; a
 * small net learns a synthetic set to zero training error; the same seed and thread count
 * give bit-identical training runs; a diverging recipe and mismatched data are reported,
 * not crashed on; the callback and the stop flag end training early. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* needs the headers above: a block of its own, so sorting keeps it here */

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "nn/net.h"
#include "nn/pool.h"
#include "nn/train.h"
#include "nn_check.h"
#include "util/err.h"

static struct ns_pool *pool2;

/* ---- Conv + BN fusion ----------------------------------------------------------------- */

static struct ns_config small_config(enum ns_block block, double se_r)
{
    struct ns_config c = {.in_ch = 3,
                          .im_size = 12,
                          .classes = 7,
                          .stem = NS_STEM_CIFAR,
                          .stem_w = 8,
                          .block = block,
                          .se_r = se_r,
                          .n_stages = 2};
    int g = block == NS_BLOCK_X || block == NS_BLOCK_Y ? 8 : block >= NS_BLOCK_SEP ? 1 : 0;
    double b = block == NS_BLOCK_MBCONV ? 2.0 : 1.0;
    c.stages[0] = (struct ns_stage){1, 8, 1, g, b, 0};
    c.stages[1] = (struct ns_stage){2, 16, 2, g, b, 0};
    return c;
}

/* Build, give BN non-trivial affine parameters and running statistics (a few training
 * forwards), then compare evaluation logits before and after ns_net_fuse_bn. */
static void check_fusion(const char *name, const struct ns_config *cfg, int want_all_fused)
{
    const int n = 4;
    struct ns_net *net = ns_net_build(cfg, n, 0, 0, pool2);
    if (!net)
        fail_msg("%s: build failed: %s", name, ns_errmsg());
    ns_net_init(net, 3);
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 31, (uint64_t)cfg->block);
    for (int i = 0; i < net->n_params; i++) {
        const struct ns_param *p = &net->params[i];
        float *w = net->w + p->off;
        if (p->kind == NS_P_BN_GAMMA)
            nn_uniform(&rng, w, p->len, 0.5f, 1.5f);
        else if (p->kind == NS_P_BN_BETA)
            nn_uniform(&rng, w, p->len, -0.3f, 0.3f);
        else if (p->kind == NS_P_FC_W)
            nn_uniform(&rng, w, p->len, -0.5f, 0.5f);
    }
    size_t nx = (size_t)n * cfg->im_size * cfg->im_size * cfg->in_ch, nl = (size_t)n * cfg->classes;
    float *x = nn_floats(nx);
    for (int step = 0; step < 3; step++) {
        /* inputs with an offset and scale, so the running statistics move off 0 and 1 */
        nn_uniform(&rng, x, nx, -0.5f, 2.0f);
        ns_net_forward(net, n, x, 1, NULL);
    }
    int n_bn = 0;
    double stat_dev = 0; /* how far the running statistics are from their initial 0/1 */
    for (int i = 0; i < net->n_nodes; i++)
        if (net->nodes[i].kind == NS_N_BN) {
            const float *st = net->bn_state + net->nodes[i].bn_off;
            int C = net->nodes[i].u.bn.c;
            for (int c = 0; c < C; c++)
                stat_dev = fmax(stat_dev, fmax(fabs(st[c]), fabs(st[C + c] - 1)));
            n_bn++;
        }
    assert_true(stat_dev > 0.05);

    nn_uniform(&rng, x, nx, -0.5f, 2.0f);
    float *before = nn_floats(nl), *before3 = nn_floats(nl);
    memcpy(before, ns_net_forward(net, n, x, 0, NULL), sizeof(float) * nl);
    /* a batch smaller than the net was built for */
    memcpy(before3, ns_net_forward(net, n - 1, x, 0, NULL), sizeof(float) * (nl - cfg->classes));
    double scale = 0;
    for (size_t i = 0; i < nl; i++)
        scale = fmax(scale, fabs(before[i]));
    assert_true(scale > 0.1); /* logits that depend on the input, not ~0 */

    ns_net_fuse_bn(net);
    assert_true(net->fused);
    int skipped = 0;
    for (int i = 0; i < net->n_nodes; i++)
        skipped += net->nodes[i].kind == NS_N_BN && net->nodes[i].skip;
    if (want_all_fused)
        assert_int_equal(skipped, n_bn);
    else
        assert_true(skipped > 0 && skipped < n_bn);

    char what[96];
    snprintf(what, sizeof what, "%s: fused logits", name);
    int ok = nn_close(what, ns_net_forward(net, n, x, 0, NULL), before, nl, 0, 1e-4);
    snprintf(what, sizeof what, "%s: fused logits, batch 3", name);
    ok &=
        nn_close(what, ns_net_forward(net, n - 1, x, 0, NULL), before3, nl - cfg->classes, 0, 1e-4);
    /* calling it again changes nothing */
    ns_net_fuse_bn(net);
    snprintf(what, sizeof what, "%s: fused twice", name);
    ok &= nn_close(what, ns_net_forward(net, n, x, 0, NULL), before, nl, 0, 1e-4);
    free(x), free(before), free(before3);
    ns_net_free(net);
    assert_true(ok);
}

static void fusion_keeps_eval_logits_bench_net(void **state)
{
    (void)state;
    struct ns_config c;
    ns_config_bench_net(&c);
    check_fusion("bench net", &c, 1);
}

static void fusion_keeps_eval_logits_every_block(void **state)
{
    (void)state;
    struct ns_config c = small_config(NS_BLOCK_RES_BASIC, 0);
    check_fusion("res_basic", &c, 1);
    c = small_config(NS_BLOCK_MBCONV, 0.25);
    check_fusion("mbconv b=2 se", &c, 1);
    c = small_config(NS_BLOCK_MBCONV, 0);
    c.stages[0].b = 1.0; /* no expansion conv: the depthwise conv reads the block input */
    check_fusion("mbconv b=1", &c, 1);
    c = small_config(NS_BLOCK_VANILLA, 0);
    check_fusion("vanilla", &c, 1);
    c = small_config(NS_BLOCK_Y, 0.25);
    check_fusion("y", &c, 1);
    /* sep's pre-activation BNs read block inputs, not conv outputs: only some fuse */
    c = small_config(NS_BLOCK_SEP, 0);
    check_fusion("sep", &c, 0);
    c = small_config(NS_BLOCK_X, 0);
    c.stages[0] = (struct ns_stage){1, 12, 1, 4, 1.0, 0}; /* 3 groups of 4: the generic kernel */
    c.stages[1] = (struct ns_stage){1, 16, 2, 4, 1.0, 0}; /* block-diagonal grouped kernel */
    check_fusion("x g=4", &c, 1);
    c = small_config(NS_BLOCK_X, 0);
    c.stem = NS_STEM_RES;
    c.im_size = 20;
    check_fusion("x with res stem", &c, 1);
    /* BN after the ReLU (conv, ReLU, BN): those BNs read ReLU outputs and stay BNs; the
     * ones right after a conv (x's last, the projection) still fuse */
    c = small_config(NS_BLOCK_X, 0);
    c.bn_order = NS_BN_AFTER_ACT;
    check_fusion("x bn after act", &c, 0);
    c = small_config(NS_BLOCK_RES_BASIC, 0);
    c.bn_order = NS_BN_AFTER_ACT;
    check_fusion("res_basic bn after act", &c, 0);
}

/* ---- BN + ADD fusion (training) -------------------------------------------------------
 * A residual branch's last BN hands its affine to the ADD that reads it (ns_bn_add_forward):
 * one pass instead of two, and BN's output is not stored. The same net built with NS_FUSE=0
 * runs the two passes; both must give the same bits in training (logits, gradients, weights
 * after SGD steps), in evaluation and after inference fusion, and the fused net must plan
 * less memory. */
static struct ns_net *build_fused(const struct ns_config *cfg, int n, int fuse)
{
    const char *was = getenv("NS_FUSE");
    char *keep = was ? strdup(was) : NULL; /* the caller's setting, restored */
    setenv("NS_FUSE", fuse ? "1" : "0", 1);
    struct ns_net *net = ns_net_build(cfg, n, 0, 0, pool2);
    if (keep)
        setenv("NS_FUSE", keep, 1);
    else
        unsetenv("NS_FUSE");
    free(keep);
    return net;
}

static void check_bn_add(const char *name, const struct ns_config *cfg, int want_pairs)
{
    const int n = 4;
    struct ns_net *net[2];
    for (int f = 0; f < 2; f++) {
        net[f] = build_fused(cfg, n, f);
        if (!net[f])
            fail_msg("%s: build failed: %s", name, ns_errmsg());
        ns_net_init(net[f], 7);
    }
    int fused = 0, unstored = 0;
    for (int f = 0; f < 2; f++)
        for (int i = 0; i < net[f]->n_nodes; i++)
            if (net[f]->nodes[i].add_bn >= 0) {
                if (!f)
                    fail_msg("%s: NS_FUSE=0 fused node %d", name, i);
                fused++;
                const struct ns_node *bn = &net[f]->nodes[net[f]->nodes[i].add_bn];
                assert_int_equal(bn->kind, NS_N_BN);
                assert_int_equal(bn->bn_add, i);
                unstored += net[f]->tensors[bn->out].unstored && !net[f]->tensors[bn->out].data;
            }
    if (!fused || unstored != fused)
        fail_msg("%s: %d ADDs apply a BN, %d BN outputs unstored", name, fused, unstored);
    /* 1x1 convs whose BN runs their backward (ns_conv_bn_backward): the conv writes its
     * input's gradient while the BN reads its output's, so the two may not share memory */
    int pairs = 0;
    for (int f = 0; f < 2; f++)
        for (int i = 0; i < net[f]->n_nodes; i++) {
            const struct ns_node *bn = &net[f]->nodes[i];
            if (bn->bn_conv < 0)
                continue;
            if (!f)
                fail_msg("%s: NS_FUSE=0 fused conv %d with its BN", name, bn->bn_conv);
            const struct ns_node *cv = &net[f]->nodes[bn->bn_conv];
            assert_int_equal(cv->kind, NS_N_CONV);
            assert_int_equal(cv->conv_bn, i);
            assert_int_equal(bn->in[0], cv->out);
            if (net[f]->tensors[cv->out].grad)
                fail_msg("%s: conv %d's output gradient has memory: nothing writes it", name,
                         bn->bn_conv);
            pairs++;
            const struct ns_tensor *gi = &net[f]->tensors[cv->in[0]], *go = &net[f]->tensors[bn->out];
            if (gi->grad && go->grad && gi->grad < go->grad + go->per_image * n &&
                go->grad < gi->grad + gi->per_image * n)
                fail_msg("%s: conv %d's input gradient overlaps its BN's output gradient", name,
                         bn->bn_conv);
        }
    if (want_pairs && !pairs)
        fail_msg("%s: no 1x1 conv runs its backward with its BN", name);
    if (net[1]->plan_bytes >= net[0]->plan_bytes)
        fail_msg("%s: fused plan %zu bytes, unfused %zu", name, net[1]->plan_bytes,
                 net[0]->plan_bytes);
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 5, (uint64_t)cfg->block);
    size_t nx = (size_t)n * cfg->im_size * cfg->im_size * cfg->in_ch, nl = (size_t)n * cfg->classes;
    float *x = nn_floats(nx), *dl = nn_floats(nl);
    int32_t labels[4];
    for (int step = 0; step < 3; step++) {
        nn_uniform(&rng, x, nx, -0.5f, 2.0f);
        for (int i = 0; i < n; i++)
            labels[i] = (int32_t)ns_pcg32_bounded(&rng, (uint32_t)cfg->classes);
        const float *logits[2];
        for (int f = 0; f < 2; f++) {
            ns_net_zero_grad(net[f]);
            logits[f] = ns_net_forward(net[f], n, x, 1, NULL);
            ns_softmax_xent(n, cfg->classes, logits[f], labels, dl, NULL);
            ns_net_backward(net[f], n, dl);
        }
        if (memcmp(logits[0], logits[1], sizeof(float) * nl))
            fail_msg("%s: step %d: training logits differ", name, step);
        if (memcmp(net[0]->dw, net[1]->dw, sizeof(float) * net[0]->n_weights))
            fail_msg("%s: step %d: gradients differ", name, step);
        for (int f = 0; f < 2; f++)
            ns_net_sgd_step(net[f], 0.1, 0.9, 5e-4, 1);
    }
    assert_memory_equal(net[0]->w, net[1]->w, sizeof(float) * net[0]->n_weights);
    assert_memory_equal(net[0]->bn_state, net[1]->bn_state,
                        sizeof(float) * net[0]->bn_state_len);
    for (int fold = 0; fold < 2; fold++) { /* evaluation, then after inference fusion */
        const float *logits[2];
        for (int f = 0; f < 2; f++) {
            if (fold)
                ns_net_fuse_bn(net[f]);
            logits[f] = ns_net_forward(net[f], n, x, 0, NULL);
        }
        if (memcmp(logits[0], logits[1], sizeof(float) * nl))
            fail_msg("%s: %s logits differ", name, fold ? "inference-fused" : "evaluation");
    }
    free(x);
    free(dl);
    ns_net_free(net[0]);
    ns_net_free(net[1]);
}

static void bn_add_fusion_gives_the_unfused_bits(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum ns_block block;
        double se_r;
    } nets[] = {{"res_basic", NS_BLOCK_RES_BASIC, 0}, {"x", NS_BLOCK_X, 0},
                {"y", NS_BLOCK_Y, 0.25},              {"mbconv", NS_BLOCK_MBCONV, 0},
                {"shuffle_v1", NS_BLOCK_SHUFFLE_V1, 0}, {"repvgg", NS_BLOCK_REPVGG, 0},
                {"acnet", NS_BLOCK_ACNET, 0}};
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        struct ns_config c = small_config(nets[i].block, nets[i].se_r);
        c.stages[1].w = 8; /* stage 2: identity shortcuts (mbconv's adds) */
        if (nets[i].block == NS_BLOCK_SHUFFLE_V1) { /* 4 groups, a stride-1 unit in stage 2 */
            c.stages[0] = (struct ns_stage){1, 16, 2, 4, 0.25, 0};
            c.stages[1] = (struct ns_stage){2, 32, 2, 4, 0.25, 0};
        }
        if (nets[i].block == NS_BLOCK_REPVGG || nets[i].block == NS_BLOCK_ACNET)
            c.stages[0].g = c.stages[1].g = 0;
        check_bn_add(nets[i].name, &c, nets[i].block != NS_BLOCK_RES_BASIC &&
                                              nets[i].block != NS_BLOCK_ACNET); /* no 1x1 */
    }
}

/* ---- building and initialization ------------------------------------------------------- */

/* DESIGN.md: the benchmark net has 203,834 parameters in pycls' convention. */
static void bench_net_has_the_documented_parameter_count(void **state)
{
    (void)state;
    struct ns_config c;
    ns_config_bench_net(&c);
    struct ns_net *net = ns_net_build(&c, 2, 0, 0, NULL);
    assert_non_null(net);
    assert_int_equal(ns_net_param_count(net), 203834);
    /* the last parameters are the classifier's weight (128 x 10) and bias */
    assert_int_equal(net->params[net->n_params - 2].kind, NS_P_FC_W);
    assert_int_equal(net->params[net->n_params - 2].len, 1280);
    assert_int_equal(net->params[net->n_params - 1].kind, NS_P_BIAS);
    ns_net_free(net);
}

static void init_follows_pycls(void **state)
{
    (void)state;
    struct ns_config c;
    ns_config_bench_net(&c);
    struct ns_net *net = ns_net_build(&c, 2, 0, 0, NULL), *again = ns_net_build(&c, 2, 0, 0, NULL);
    assert_non_null(net);
    assert_non_null(again);
    ns_net_init(net, 5);
    for (int i = 0; i < net->n_params; i++) {
        const struct ns_param *p = &net->params[i];
        const float *w = net->w + p->off;
        double s = 0, s2 = 0;
        for (size_t j = 0; j < p->len; j++) {
            s += w[j];
            s2 += (double)w[j] * w[j];
        }
        double mean = s / p->len, sd = sqrt(s2 / p->len - mean * mean);
        switch (p->kind) {
        case NS_P_CONV_W:
        case NS_P_FC_W: {
            double want = p->kind == NS_P_FC_W ? 0.01 : sqrt(2.0 / p->fan_out);
            if (p->len < 500)
                break; /* too few samples for a sharp check */
            if (fabs(sd / want - 1) > 0.1 || fabs(mean) > 5 * want / sqrt((double)p->len))
                fail_msg("param %d (kind %d, %zu floats): mean %g sd %g, want N(0, %g)", i,
                         (int)p->kind, p->len, mean, sd, want);
            break;
        }
        case NS_P_BN_GAMMA:
            assert_true(mean == 1 && sd == 0);
            break;
        default:
            assert_true(mean == 0 && sd == 0);
        }
    }
    for (int i = 0; i < net->n_nodes; i++)
        if (net->nodes[i].kind == NS_N_BN) {
            const float *st = net->bn_state + net->nodes[i].bn_off;
            for (int ch = 0; ch < net->nodes[i].u.bn.c; ch++) {
                assert_true(st[ch] == 0.0f);
                assert_true(st[net->nodes[i].u.bn.c + ch] == 1.0f);
            }
        }
    ns_net_init(again, 5);
    assert_memory_equal(net->w, again->w, sizeof(float) * net->n_weights);
    ns_net_init(again, 6);
    assert_memory_not_equal(net->w, again->w, sizeof(float) * net->n_weights);
    ns_net_free(net);
    ns_net_free(again);
}

/* With the last BN of every residual branch starting at gamma 0, each branch adds exactly
 * zero: the block passes its shortcut through. */
static void zero_init_last_bn_silences_residual_branches(void **state)
{
    (void)state;
    static const enum ns_block blocks[] = {NS_BLOCK_RES_BASIC, NS_BLOCK_X, NS_BLOCK_Y,
                                           NS_BLOCK_MBCONV};
    for (int bi = 0; bi < 4; bi++) {
        struct ns_config c = small_config(blocks[bi], blocks[bi] == NS_BLOCK_Y ? 0.25 : 0);
        c.stages[1].w = 8; /* stage 2: identity shortcuts in mbconv too */
        struct ns_net *net = ns_net_build(&c, 2, 0, 1, NULL);
        assert_non_null(net);
        ns_net_init(net, 1);
        struct ns_pcg32 rng;
        ns_pcg32_seed(&rng, 3, 3);
        size_t nx = (size_t)2 * c.im_size * c.im_size * c.in_ch;
        float *x = nn_floats(nx);
        nn_uniform(&rng, x, nx, -1, 1);
        ns_net_forward(net, 2, x, 1, NULL);
        int adds = 0;
        for (int i = 0; i < net->n_nodes; i++) {
            const struct ns_node *nd = &net->nodes[i];
            if (nd->kind != NS_N_ADD)
                continue;
            adds++;
            /* the branch (in[0]; not stored when the add applies its BN) adds nothing: the
             * output is the shortcut, through the add's ReLU */
            const struct ns_tensor *cut = &net->tensors[nd->in[1]], *y = &net->tensors[nd->out];
            for (size_t j = 0; j < y->per_image * 2; j++) {
                float want = nd->relu && !(cut->data[j] > 0) ? 0.0f : cut->data[j];
                if (y->data[j] != want)
                    fail_msg("block %s: add node %d: output %g at %zu, the shortcut's %g: the "
                             "residual branch is not zero", ns_block_name(blocks[bi]), i,
                             y->data[j], j, want);
            }
        }
        assert_true(adds >= 2);
        free(x);
        ns_net_free(net);
    }
}

static void build_rejects_bad_configs_and_batches(void **state)
{
    (void)state;
    struct ns_config c = small_config(NS_BLOCK_X, 0);
    ns_err_clear();
    assert_null(ns_net_build(&c, 0, 0, 0, NULL));
    assert_non_null(strstr(ns_errmsg(), "batch"));
    c.stages[1].s = 3;
    ns_err_clear();
    assert_null(ns_net_build(&c, 2, 0, 0, NULL));
    assert_non_null(strstr(ns_errmsg(), "stages[1].s"));
}

/* ---- training ------------------------------------------------------------------------- */

/* A small X net for 1x12x12 images with `classes` classes. */
static struct ns_config tiny_x(int classes)
{
    struct ns_config c = {.in_ch = 1,
                          .im_size = 12,
                          .classes = classes,
                          .stem = NS_STEM_CIFAR,
                          .stem_w = 8,
                          .block = NS_BLOCK_X,
                          .n_stages = 2};
    c.stages[0] = (struct ns_stage){1, 16, 2, 8, 1.0, 0};
    c.stages[1] = (struct ns_stage){1, 32, 2, 8, 1.0, 0};
    return c;
}

static struct ns_recipe quick_recipe(int epochs, int threads)
{
    struct ns_recipe r;
    ns_recipe_default(&r);
    r.epochs = epochs;
    r.batch = 32;
    r.lr = 0.2;
    r.threads = threads;
    r.eval_batch = 100;
    return r;
}

static void small_net_fits_a_synthetic_set(void **state)
{
    (void)state;
    struct ns_dataset train, test;
    assert_int_equal(ns_data_synthetic_pair(&train, &test, 512, 64, 1, 12, 10, 7), 0);
    ns_data_normalize(&train, &test);
    struct ns_config cfg = tiny_x(10);
    struct ns_recipe r = quick_recipe(12, 1);
    struct ns_train_result res;
    /* the "test" set here is the training set itself, measured in evaluation mode */
    enum ns_train_status st = ns_train(&cfg, &train, &train, &r, NULL, &res);
    if (getenv("NS_TEST_VERBOSE"))
        fprintf(stderr,
                "fit: train err %.2f%% (training mode), %.2f%% (eval), loss %.4f, "
                "%.2f s\n",
                res.train_err, res.test_err, res.train_loss, res.seconds);
    if (st != NS_TRAIN_OK)
        fail_msg("training failed: %s", res.reason);
    assert_int_equal(res.epochs_done, 12);
    assert_string_equal(res.reason, "");
    assert_true(res.params > 0 && res.seconds > 0 && res.img_per_s > 0);
    if (!(res.test_err < 1.0) || !(res.train_err < 5.0))
        fail_msg("not fitted: train error %.2f%% in training mode, %.2f%% in evaluation mode, "
                 "loss %.4f",
                 res.train_err, res.test_err, res.train_loss);
    assert_true(res.best_test_err <= res.test_err);
    assert_true(res.train_loss < 0.2);
    ns_data_free(&train);
    ns_data_free(&test);
}

struct epochs_log {
    int n;
    struct ns_epoch_metrics m[8];
    int stop_after; /* 0 = never */
};

static int log_epoch(void *ctx, const struct ns_epoch_metrics *m)
{
    struct epochs_log *l = ctx;
    if (l->n < 8)
        l->m[l->n++] = *m;
    return l->stop_after && m->epoch >= l->stop_after;
}

/* Everything but wall times must match to the bit. */
static void assert_same_run(const struct ns_train_result *a, const struct epochs_log *la,
                            const struct ns_train_result *b, const struct epochs_log *lb)
{
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->epochs_done, b->epochs_done);
    assert_true(memcmp(&a->train_loss, &b->train_loss, sizeof(double)) == 0);
    assert_true(memcmp(&a->train_err, &b->train_err, sizeof(double)) == 0);
    assert_true(memcmp(&a->test_err, &b->test_err, sizeof(double)) == 0);
    assert_true(memcmp(&a->best_test_err, &b->best_test_err, sizeof(double)) == 0);
    assert_int_equal(a->params, b->params);
    assert_int_equal(la->n, lb->n);
    for (int i = 0; i < la->n; i++) {
        assert_int_equal(la->m[i].epoch, lb->m[i].epoch);
        assert_true(memcmp(&la->m[i].train_loss, &lb->m[i].train_loss, sizeof(double)) == 0);
        assert_true(memcmp(&la->m[i].train_err, &lb->m[i].train_err, sizeof(double)) == 0);
        assert_true(memcmp(&la->m[i].test_err, &lb->m[i].test_err, sizeof(double)) == 0);
    }
}

static void same_seed_and_threads_give_identical_runs(void **state)
{
    (void)state;
    struct ns_dataset train, test;
    assert_int_equal(ns_data_synthetic_pair(&train, &test, 192, 64, 1, 12, 4, 9), 0);
    ns_data_normalize(&train, &test);
    struct ns_config cfg = tiny_x(4);
    cfg.block = NS_BLOCK_Y; /* SE too */
    cfg.se_r = 0.25;
    for (int threads = 1; threads <= 2; threads++) {
        /* every source of randomness: init, shuffling, crops, flips, dropout */
        struct ns_recipe r = quick_recipe(2, threads);
        r.crop_pad = 2;
        r.flip = 1;
        r.dropout = 0.2;
        r.warmup_epochs = 0.5;
        struct ns_train_result a, b, c;
        struct epochs_log la = {0}, lb = {0}, lc = {0};
        struct ns_train_opts oa = {.on_epoch = log_epoch, .ctx = &la};
        struct ns_train_opts ob = {.on_epoch = log_epoch, .ctx = &lb};
        struct ns_train_opts oc = {.on_epoch = log_epoch, .ctx = &lc};
        assert_int_equal(ns_train(&cfg, &train, &test, &r, &oa, &a), NS_TRAIN_OK);
        assert_int_equal(ns_train(&cfg, &train, &test, &r, &ob, &b), NS_TRAIN_OK);
        assert_int_equal(la.n, 2);
        assert_same_run(&a, &la, &b, &lb);
        /* ...and the comparison is not vacuous: another seed trains differently */
        r.seed = 2;
        assert_int_equal(ns_train(&cfg, &train, &test, &r, &oc, &c), NS_TRAIN_OK);
        assert_true(memcmp(&a.train_loss, &c.train_loss, sizeof(double)) != 0);
    }
    ns_data_free(&train);
    ns_data_free(&test);
}

static void huge_learning_rate_diverges_with_a_reason(void **state)
{
    (void)state;
    struct ns_dataset train, test;
    assert_int_equal(ns_data_synthetic_pair(&train, &test, 128, 32, 1, 12, 4, 11), 0);
    struct ns_config cfg = tiny_x(4);
    struct ns_recipe r = quick_recipe(3, 1);
    r.lr = 1e8;
    struct ns_train_result res;
    assert_int_equal(ns_train(&cfg, &train, &test, &r, NULL, &res), NS_TRAIN_DIVERGED);
    assert_int_equal(res.status, NS_TRAIN_DIVERGED);
    if (!strstr(res.reason, "nan") && !strstr(res.reason, "inf"))
        fail_msg("reason does not say nan or inf: \"%s\"", res.reason);
    ns_data_free(&train);
    ns_data_free(&test);
}

static void expect_error(const struct ns_config *cfg, const struct ns_dataset *train,
                         const struct ns_dataset *test, const struct ns_recipe *r,
                         const char *must_mention)
{
    struct ns_train_result res;
    memset(&res, 0x5a, sizeof res);
    assert_int_equal(ns_train(cfg, train, test, r, NULL, &res), NS_TRAIN_ERROR);
    assert_int_equal(res.status, NS_TRAIN_ERROR);
    assert_int_equal(res.epochs_done, 0);
    assert_true(strlen(res.reason) > 0 && strlen(res.reason) < sizeof res.reason);
    if (!strstr(res.reason, must_mention))
        fail_msg("reason \"%s\" does not mention \"%s\"", res.reason, must_mention);
}

/* eval_every 3 over 5 epochs evaluates after epochs 3 and 5 (the last) only, NAN for the
 * others, and trains exactly as evaluating every epoch does: the same losses, the same
 * errors where both evaluated, the same final result; a run that stops early (a rung's
 * end, stop_after 2) evaluates its last epoch. */
static void eval_every_skips_evaluations_only(void **state)
{
    (void)state;
    struct ns_dataset train, test;
    assert_int_equal(ns_data_synthetic_pair(&train, &test, 128, 48, 1, 12, 4, 13), 0);
    ns_data_normalize(&train, &test);
    struct ns_config cfg = tiny_x(4);
    struct ns_recipe r = quick_recipe(5, 1);
    struct ns_train_result a, b, c;
    struct epochs_log la = {0}, lb = {0}, lc = {0};
    struct ns_train_opts oa = {.on_epoch = log_epoch, .ctx = &la};
    struct ns_train_opts ob = {.on_epoch = log_epoch, .ctx = &lb};
    assert_int_equal(ns_train(&cfg, &train, &test, &r, &oa, &a), NS_TRAIN_OK);
    r.eval_every = 3;
    assert_int_equal(ns_train(&cfg, &train, &test, &r, &ob, &b), NS_TRAIN_OK);
    assert_int_equal(la.n, 5);
    assert_int_equal(lb.n, 5);
    for (int i = 0; i < 5; i++) {
        assert_true(memcmp(&la.m[i].train_loss, &lb.m[i].train_loss, sizeof(double)) == 0);
        assert_true(memcmp(&la.m[i].train_err, &lb.m[i].train_err, sizeof(double)) == 0);
        if (i == 2 || i == 4)
            assert_true(memcmp(&la.m[i].test_err, &lb.m[i].test_err, sizeof(double)) == 0);
        else if (!isnan(lb.m[i].test_err))
            fail_msg("epoch %d was evaluated (%g) with eval_every 3", i + 1, lb.m[i].test_err);
    }
    assert_true(memcmp(&a.test_err, &b.test_err, sizeof(double)) == 0);
    assert_true(memcmp(&a.train_loss, &b.train_loss, sizeof(double)) == 0);
    double best = la.m[2].test_err < la.m[4].test_err ? la.m[2].test_err : la.m[4].test_err;
    assert_true(b.best_test_err == best);
    struct ns_train_opts oc = {.on_epoch = log_epoch, .ctx = &lc, .stop_after = 2};
    assert_int_equal(ns_train(&cfg, &train, &test, &r, &oc, &c), NS_TRAIN_OK);
    assert_int_equal(lc.n, 2);
    assert_true(isnan(lc.m[0].test_err));
    assert_true(memcmp(&lc.m[1].test_err, &la.m[1].test_err, sizeof(double)) == 0);
    assert_true(memcmp(&c.test_err, &la.m[1].test_err, sizeof(double)) == 0);
    /* stopped after epoch 2, before any evaluation: no test error, not a 0 or 100 */
    struct ns_train_result d;
    struct epochs_log ld = {.stop_after = 2};
    struct ns_train_opts od = {.on_epoch = log_epoch, .ctx = &ld};
    assert_int_equal(ns_train(&cfg, &train, &test, &r, &od, &d), NS_TRAIN_STOPPED);
    assert_int_equal(d.epochs_done, 2);
    if (!isnan(d.test_err) || !isnan(d.best_test_err))
        fail_msg("a run stopped before its first evaluation reports test error %g, best %g",
                 d.test_err, d.best_test_err);
    r.eval_every = -1;
    expect_error(&cfg, &train, &test, &r, "eval_every");
    ns_data_free(&train);
    ns_data_free(&test);
}

static void mismatched_data_and_bad_recipes_are_errors(void **state)
{
    (void)state;
    struct ns_dataset train, test;
    assert_int_equal(ns_data_synthetic_pair(&train, &test, 64, 16, 1, 12, 4, 13), 0);
    struct ns_recipe r = quick_recipe(1, 1);
    struct ns_config cfg = tiny_x(4);

    cfg.in_ch = 3; /* the data has 1 channel */
    expect_error(&cfg, &train, &test, &r, "3");
    cfg = tiny_x(2); /* the data has 4 classes */
    expect_error(&cfg, &train, &test, &r, "classes");
    cfg = tiny_x(4);
    cfg.stages[0].g = 5; /* does not divide 16: an invalid config */
    expect_error(&cfg, &train, &test, &r, "stages[0].g");
    cfg = tiny_x(4);
    r.batch = 65; /* more than the 64 training images */
    expect_error(&cfg, &train, &test, &r, "65");
    r = quick_recipe(1, 0);
    expect_error(&cfg, &train, &test, &r, "threads");
    r = quick_recipe(0, 1);
    expect_error(&cfg, &train, &test, &r, "epochs");
    ns_data_free(&train);
    ns_data_free(&test);
}

/* A model at another resolution than the data's (compound scaling) trains on the images
 * resized to it: the same run twice gives the same numbers, and they differ from the run at
 * the data's own size. */
static void other_resolutions_train_on_resized_images(void **state)
{
    (void)state;
    struct ns_dataset train, test;
    assert_int_equal(ns_data_synthetic_pair(&train, &test, 64, 16, 1, 12, 4, 13), 0);
    struct ns_recipe r = quick_recipe(1, 1);
    struct ns_train_result a, b, c;
    struct ns_config cfg = tiny_x(4);
    cfg.im_size = 17; /* the data is 12x12 */
    assert_int_equal(ns_train(&cfg, &train, &test, &r, NULL, &a), NS_TRAIN_OK);
    assert_int_equal(ns_train(&cfg, &train, &test, &r, NULL, &b), NS_TRAIN_OK);
    assert_true(a.train_loss == b.train_loss && a.test_err == b.test_err);
    cfg.im_size = 12;
    assert_int_equal(ns_train(&cfg, &train, &test, &r, NULL, &c), NS_TRAIN_OK);
    assert_true(a.train_loss != c.train_loss);
    ns_data_free(&train);
    ns_data_free(&test);
}

static void callback_and_stop_flag_end_training(void **state)
{
    (void)state;
    struct ns_dataset train, test;
    assert_int_equal(ns_data_synthetic_pair(&train, &test, 64, 16, 1, 12, 4, 17), 0);
    struct ns_config cfg = tiny_x(4);
    struct ns_recipe r = quick_recipe(3, 1);
    struct ns_train_result res;
    struct epochs_log log = {.stop_after = 1};
    struct ns_train_opts o = {.on_epoch = log_epoch, .ctx = &log};
    assert_int_equal(ns_train(&cfg, &train, &test, &r, &o, &res), NS_TRAIN_STOPPED);
    assert_int_equal(res.epochs_done, 1);
    assert_int_equal(log.n, 1);
    assert_int_equal(log.m[0].epoch, 1);
    assert_true(strlen(res.reason) > 0);

    atomic_int stop = 1;
    struct ns_train_opts o2 = {.stop = &stop};
    assert_int_equal(ns_train(&cfg, &train, &test, &r, &o2, &res), NS_TRAIN_STOPPED);
    assert_int_equal(res.epochs_done, 0);
    ns_data_free(&train);
    ns_data_free(&test);
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
        cmocka_unit_test(bench_net_has_the_documented_parameter_count),
        cmocka_unit_test(init_follows_pycls),
        cmocka_unit_test(zero_init_last_bn_silences_residual_branches),
        cmocka_unit_test(build_rejects_bad_configs_and_batches),
        cmocka_unit_test(fusion_keeps_eval_logits_bench_net),
        cmocka_unit_test(fusion_keeps_eval_logits_every_block),
        cmocka_unit_test(bn_add_fusion_gives_the_unfused_bits),
        cmocka_unit_test(small_net_fits_a_synthetic_set),
        cmocka_unit_test(same_seed_and_threads_give_identical_runs),
        cmocka_unit_test(eval_every_skips_evaluations_only),
        cmocka_unit_test(huge_learning_rate_diverges_with_a_reason),
        cmocka_unit_test(mismatched_data_and_bad_recipes_are_errors),
        cmocka_unit_test(other_resolutions_train_on_resized_images),
        cmocka_unit_test(callback_and_stop_flag_end_training),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
