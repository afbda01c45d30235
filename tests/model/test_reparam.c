/* RepVGG and ACNet in the model: the configs (names, checks, canonical JSON), their layer
 * graphs, complexity in the training and the inference (deployed) form counted by hand, and
 * which sums ns_graph_merges folds (theirs, and no other block's). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* needs the headers above: a block of its own, so sorting keeps it here */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/graph.h"
#include "util/err.h"

static struct ns_config base(enum ns_block block, enum ns_stem stem, int im, int in_ch, int classes,
                             int stem_w)
{
    struct ns_config c = {.in_ch = in_ch,
                          .im_size = im,
                          .classes = classes,
                          .stem = stem,
                          .stem_w = stem_w,
                          .block = block};
    return c;
}

static void complexity_of(const struct ns_config *c, int deploy, struct ns_complexity *cx)
{
    struct ns_graph g, d;
    if (ns_graph_build(c, NULL, &g))
        fail_msg("graph: %s", ns_errmsg());
    if (deploy) {
        if (ns_graph_deploy(&g, &d))
            fail_msg("deploy: %s", ns_errmsg());
        ns_graph_complexity(&d, cx);
        ns_graph_free(&d);
    } else {
        ns_graph_complexity(&g, cx);
    }
    ns_graph_free(&g);
}

/* 1x8x8, repvgg stem 4 (s2: 4x4), stage 1: 2 blocks of 4 (s1: identity branches), stage 2:
 * 1 block of 8 (s2: 2x2), 10 classes. By hand (pycls: BN 2 params per channel; a bias one
 * flop and one param per channel):
 *   training  stem   3x3 1->4: 36 w, 576 f; 1x1: 4 w, 64 f; 2 BN: 16      -> 56 p, 640 f
 *             s1 b*  3x3 4->4: 144, 2304; 1x1: 16, 256; 3 BN (id): 24     -> 184 p, 2560 f
 *             s2     3x3 4->8: 288, 1152; 1x1: 32, 128; 2 BN: 32          -> 352 p, 1280 f
 *             fc     80 + 10                                              -> 90 p, 90 f
 *             total  866 params, 7130 flops; acts 2*64 + 2*2*64 + 2*32 + 10 = 458
 *   deployed  (a conv's bias: one param per channel, one flop per output element)
 *             stem 36+4 p, 576+4*16 f; s1 b* 144+4, 2304+4*16; s2 288+8, 1152+8*4; fc 90, 90
 *             total  722 params, 6650 flops; acts 64 + 2*64 + 32 + 10 = 234 */
static void repvgg_complexity_by_hand(void **state)
{
    (void)state;
    struct ns_config c = base(NS_BLOCK_REPVGG, NS_STEM_REPVGG, 8, 1, 10, 4);
    c.n_stages = 2;
    c.stages[0] = (struct ns_stage){.d = 2, .w = 4, .s = 1, .b = 1.0};
    c.stages[1] = (struct ns_stage){.d = 1, .w = 8, .s = 2, .b = 1.0};
    struct ns_complexity t, d;
    complexity_of(&c, 0, &t);
    complexity_of(&c, 1, &d);
    assert_true(t.params == 866 && t.flops == 7130 && t.acts == 458);
    assert_true(d.params == 722 && d.flops == 6650 && d.acts == 234);
    struct ns_complexity api;
    assert_int_equal(ns_complexity(&c, &api), 0);
    assert_true(api.params == t.params && api.flops == t.flops && api.acts == t.acts);
}

/* 1x4x4, cifar stem 4, one acnet block of 4 (s1), 2 classes:
 *   training  stem 3x3 1->4: 36 + BN 8, 576 f; block 3x3 4->4: 144, 2304; 1x3: 48, 768;
 *             3x1: 48, 768; 3 BN: 24; fc 8 + 2  -> 318 params, 4426 flops,
 *             acts 64 + 3*64 + 2 = 258
 *   deployed  stem 40, 576+4*16; block 148, 2304+4*16; fc 10, 10 -> 198 params, 3018 flops,
 *             acts 130 */
static void acnet_complexity_by_hand(void **state)
{
    (void)state;
    struct ns_config c = base(NS_BLOCK_ACNET, NS_STEM_CIFAR, 4, 1, 2, 4);
    c.n_stages = 1;
    c.stages[0] = (struct ns_stage){.d = 1, .w = 4, .s = 1, .b = 1.0};
    struct ns_complexity t, d;
    complexity_of(&c, 0, &t);
    complexity_of(&c, 1, &d);
    assert_true(t.params == 318 && t.flops == 4426 && t.acts == 258);
    assert_true(d.params == 198 && d.flops == 3018 && d.acts == 130);
}

/* The layers of a repvgg block: where the identity branch is and is not; with drop path. */
static void repvgg_graph_has_its_branches(void **state)
{
    (void)state;
    struct ns_config c = base(NS_BLOCK_REPVGG, NS_STEM_CIFAR, 8, 1, 3, 8);
    c.n_stages = 2;
    c.stages[0] = (struct ns_stage){.d = 2, .w = 8, .s = 1, .b = 1.0};  /* 2 with identity */
    c.stages[1] = (struct ns_stage){.d = 1, .w = 16, .s = 2, .b = 1.0}; /* none */
    struct ns_graph g;
    assert_int_equal(ns_graph_build(&c, NULL, &g), 0);
    int bn_of_input = 0, convs1 = 0, convs3 = 0, adds = 0;
    for (int i = 1; i < g.n; i++) {
        const struct ns_layer *l = &g.layer[i];
        if (l->stage < 1 || l->stage > 2)
            continue;
        bn_of_input += l->kind == NS_L_BN && g.layer[l->in[0]].kind != NS_L_CONV;
        convs1 += l->kind == NS_L_CONV && l->k == 1;
        convs3 += l->kind == NS_L_CONV && l->k == 3 && ns_layer_kw(l) == 3;
        adds += l->kind == NS_L_ADD;
    }
    assert_int_equal(bn_of_input, 2);
    assert_int_equal(convs1, 3);
    assert_int_equal(convs3, 3);
    assert_int_equal(adds, 2 * 2 + 1);
    struct ns_merge *ms;
    int n;
    assert_int_equal(ns_graph_merges(&g, &ms, &n), 0);
    assert_int_equal(n, 3); /* one per block; the cifar stem is a plain conv-BN-ReLU */
    for (int i = 0; i < n; i++) {
        assert_int_equal(g.layer[ms[i].target].k, 3);
        assert_int_equal(ms[i].n, g.layer[ms[i].root].stage == 2 ? 2 : 3);
    }
    free(ms);
    ns_graph_free(&g);
    /* stochastic depth leaves the branch sums alone: no residual, and still 3 foldable sums */
    struct ns_graph_opts o = {.drop_path = 0.2f};
    assert_int_equal(ns_graph_build(&c, &o, &g), 0);
    for (int i = 0; i < g.n; i++)
        assert_int_not_equal(g.layer[i].kind, NS_L_DROPPATH);
    assert_int_equal(ns_graph_merges(&g, &ms, &n), 0);
    assert_int_equal(n, 3);
    free(ms);
    ns_graph_free(&g);
}

/* acnet's 1x3 and 3x1 convs, strided too: output shapes equal the 3x3's. */
static void acnet_graph_has_rectangular_convs(void **state)
{
    (void)state;
    struct ns_config c = base(NS_BLOCK_ACNET, NS_STEM_SIMPLE, 11, 2, 3, 8);
    c.n_stages = 2;
    c.stages[0] = (struct ns_stage){.d = 1, .w = 8, .s = 2, .b = 1.0};
    c.stages[1] = (struct ns_stage){.d = 2, .w = 12, .s = 1, .b = 1.0};
    struct ns_graph g;
    assert_int_equal(ns_graph_build(&c, NULL, &g), 0);
    int n13 = 0, n31 = 0;
    for (int i = 1; i < g.n; i++) {
        const struct ns_layer *l = &g.layer[i];
        if (l->kind != NS_L_CONV || l->stage < 1)
            continue;
        const struct ns_layer *in = &g.layer[l->in[0]];
        int ho = (in->h - 1) / l->stride + 1;
        assert_int_equal(l->h, ho);
        assert_int_equal(l->w, ho);
        n13 += l->k == 1 && l->kw == 3;
        n31 += l->k == 3 && l->kw == 1;
    }
    assert_int_equal(n13, 3);
    assert_int_equal(n31, 3);
    struct ns_merge *ms;
    int n;
    assert_int_equal(ns_graph_merges(&g, &ms, &n), 0);
    assert_int_equal(n, 3);
    free(ms);
    ns_graph_free(&g);
}

/* No other block has a re-parameterizable sum (a residual's identity is not a BN'd branch),
 * and their inference form only folds conv+BN pairs. */
static void other_blocks_have_no_merges(void **state)
{
    (void)state;
    for (int b = 0; b < NS_BLOCK_COUNT; b++) {
        if (b == NS_BLOCK_REPVGG || b == NS_BLOCK_ACNET)
            continue;
        unsigned takes = ns_block_takes((enum ns_block)b);
        struct ns_config c = base((enum ns_block)b, NS_STEM_CIFAR, 16, 3, 5, 8);
        c.se_r = takes & NS_NEEDS_SE ? 0.25 : 0;
        c.n_stages = 2;
        int g = takes & NS_TAKES_G ? 8 : takes & NS_DEPTHWISE_G1 ? 1 : 0;
        /* a ShuffleNet v1 unit widens only with stride 2 */
        int s0 = b == NS_BLOCK_SHUFFLE_V1 ? 2 : 1;
        c.stages[0] = (struct ns_stage){.d = 2, .w = 16, .s = s0, .g = g, .b = 1.0};
        c.stages[1] = (struct ns_stage){.d = 2, .w = 32, .s = 2, .g = g, .b = 1.0};
        if (takes & NS_TOKENS) { /* a transformer: one stage of width stem_w on patches */
            c.stem = NS_STEM_PATCHIFY;
            c.patch = 4;
            c.n_stages = 1;
            c.stages[0] = (struct ns_stage){.d = 2, .w = 8, .s = 1, .g = 4, .b = 2.0};
        }
        struct ns_graph gr, d;
        if (ns_graph_build(&c, NULL, &gr))
            fail_msg("%s: %s", ns_block_name((enum ns_block)b), ns_errmsg());
        struct ns_merge *ms;
        int n;
        assert_int_equal(ns_graph_merges(&gr, &ms, &n), 0);
        if (n)
            fail_msg("%s: %d merges", ns_block_name((enum ns_block)b), n);
        assert_int_equal(ns_graph_deploy(&gr, &d), 0);
        int convs = 0, dconvs = 0, bns = 0;
        for (int i = 0; i < gr.n; i++) {
            convs += gr.layer[i].kind == NS_L_CONV;
            bns += gr.layer[i].kind == NS_L_BN;
        }
        for (int i = 0; i < d.n; i++)
            dconvs += d.layer[i].kind == NS_L_CONV;
        assert_int_equal(convs, dconvs);
        struct ns_complexity t, dc;
        ns_graph_complexity(&gr, &t);
        ns_graph_complexity(&d, &dc);
        if (bns) /* BN's 2 per channel become 1 bias */
            assert_true(dc.params < t.params);
        else /* nothing to fold (vit) */
            assert_true(dc.params == t.params && dc.flops == t.flops && d.n == gr.n);
        assert_true(dc.acts == t.acts);
        ns_graph_free(&gr);
        ns_graph_free(&d);
    }
}

static void configs_read_write_and_check(void **state)
{
    (void)state;
    struct ns_config c;
    const char *rep =
        "{\"block\":\"repvgg\",\"classes\":10,\"im_size\":28,\"in_ch\":1,\"se_r\":0.0,"
        "\"stages\":[{\"b\":1.0,\"d\":2,\"g\":0,\"s\":1,\"w\":16}],"
        "\"stem\":{\"type\":\"repvgg\",\"w\":16}}";
    assert_int_equal(ns_config_from_json(rep, &c), 0);
    assert_int_equal(c.block, NS_BLOCK_REPVGG);
    assert_int_equal(c.stem, NS_STEM_REPVGG);
    char *j = ns_config_to_json(&c);
    assert_non_null(j);
    assert_string_equal(j, rep);
    free(j);
    /* fields the block does not take are errors naming them */
    const char *bad_g = "{\"block\":\"acnet\",\"classes\":10,\"im_size\":28,\"in_ch\":1,"
                        "\"stages\":[{\"b\":1.0,\"d\":2,\"g\":8,\"s\":1,\"w\":16}],"
                        "\"stem\":{\"type\":\"cifar\",\"w\":16}}";
    assert_int_equal(ns_config_from_json(bad_g, &c), -1);
    assert_non_null(strstr(ns_errmsg(), "stages[0].g"));
    /* act yes, bn_order after_act no (branches are summed before the activation) */
    c = base(NS_BLOCK_ACNET, NS_STEM_CIFAR, 8, 1, 3, 8);
    c.n_stages = 1;
    c.stages[0] = (struct ns_stage){.d = 1, .w = 8, .s = 1, .b = 1.0};
    c.act = NS_ACT_SILU;
    assert_int_equal(ns_config_check(&c), 0);
    c.bn_order = NS_BN_AFTER_ACT;
    assert_int_equal(ns_config_check(&c), -1);
    assert_non_null(strstr(ns_errmsg(), "bn_order"));
    c.block = NS_BLOCK_X;
    c.stages[0].g = 8;
    c.stem = NS_STEM_REPVGG;
    assert_int_equal(ns_config_check(&c), -1);
    assert_non_null(strstr(ns_errmsg(), "repvgg stem"));
    c.bn_order = NS_BN_BEFORE_ACT;
    assert_int_equal(ns_config_check(&c), 0); /* the repvgg stem before any block */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(repvgg_complexity_by_hand),
        cmocka_unit_test(acnet_complexity_by_hand),
        cmocka_unit_test(repvgg_graph_has_its_branches),
        cmocka_unit_test(acnet_graph_has_rectangular_convs),
        cmocka_unit_test(other_blocks_have_no_merges),
        cmocka_unit_test(configs_read_write_and_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
