/* The layer graph: complexity of the new families worked out by hand layer by layer (pycls's
 * conventions, model.h), the conv_patch stem's layers, the graph's invariants (inputs come
 * before their readers, the last layer is the classifier), and the memory estimate against
 * what a built net allocates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "model/graph.h"
#include "nn/net.h"
#include "util/err.h"

/* in 1x8x8, 2 classes, cifar stem of width stem_w, one stage. */
static struct ns_config small(enum ns_block block, int stem_w, int d, int w, int s, int g, double b)
{
    struct ns_config c = {.in_ch = 1, .im_size = 8, .classes = 2, .stem = NS_STEM_CIFAR,
                          .stem_w = stem_w, .block = block, .n_stages = 1};
    c.stages[0] = (struct ns_stage){.d = d, .w = w, .s = s, .g = g, .b = b};
    return c;
}

static void expect(const char *what, const struct ns_config *c, double flops, double params,
                   double acts)
{
    struct ns_complexity x;
    if (ns_complexity(c, &x))
        fail_msg("%s: %s", what, ns_errmsg());
    if (x.flops != flops || x.params != params || x.acts != acts)
        fail_msg("%s: flops %.0f params %.0f acts %.0f, want %.0f %.0f %.0f", what, x.flops,
                 x.params, x.acts, flops, params, acts);
}

static void new_families_by_hand(void **state)
{
    (void)state;
    /* mbv1: stem 3x3 1->4 at 8x8: 2304 flops, 36 + BN 8, 256 acts; depthwise 3x3 s2 on 4
     * at 4x4: 576, 36 + 8, 64; pointwise 4->8: 512, 32 + 16, 128; FC 8->2: 18, 18, 2 */
    struct ns_config c = small(NS_BLOCK_MBV1, 4, 1, 8, 2, 0, 1);
    expect("mbv1", &c, 3410, 154, 450);
    /* shuffle_v2 downsampling unit, bf 4: branch a depthwise 3x3 s2 on 4 (576, 44, 64) and
     * 1x1 4->4 at 4x4 (256, 24, 64); branch b 1x1 4->4 at 8x8 (1024, 24, 256), depthwise
     * (576, 44, 64), 1x1 (256, 24, 64); concat and shuffle free */
    c = small(NS_BLOCK_SHUFFLE_V2, 4, 1, 8, 2, 0, 1);
    expect("shuffle_v2", &c, 5010, 222, 770);
    /* shuffle_v1, bottleneck 4, 2 groups; stem 1->8 (4608, 88, 512); the net's first 1x1
     * ungrouped 8->4 at 8x8 (2048, 40, 256); depthwise 3x3 s2 (576, 44, 64); grouped 1x1
     * 4->8 (16 - 8 concatenated to the pooled input) at 4x4 in 2 groups (256, 32, 128);
     * FC 16->2 (34, 34, 2) */
    c = small(NS_BLOCK_SHUFFLE_V1, 8, 1, 16, 2, 2, 0.25);
    expect("shuffle_v1", &c, 7522, 238, 962);
    /* vit, patch 4 (4 tokens of 16), width 8, 2 heads of 4, MLP 16, T = 5 with the class
     * token: patch embedding 16->8 with bias at 4 positions (544, 136, 32); class token and
     * positions (48 params); LN 16; q|k|v 8->24 at 5 (1080, 216, 120); attention
     * 2 heads x (25 x 4) x 2 = 400 flops, 2x25 + 2x5x4 = 90 acts; output 8->8 (360, 72,
     * 40); LN 16; MLP 8->16 (720, 144, 80) and 16->8 (680, 136, 40); LN 16; FC (18, 18, 2) */
    c = small(NS_BLOCK_VIT, 8, 1, 8, 1, 4, 2);
    c.stem = NS_STEM_PATCHIFY;
    c.patch = 4;
    expect("vit", &c, 3802, 818, 404);
}

static void conv_patch_stem_and_graph_invariants(void **state)
{
    (void)state;
    struct ns_config c = small(NS_BLOCK_VIT, 8, 2, 8, 1, 4, 2);
    c.stem = NS_STEM_CONV_PATCH;
    c.patch = 4;
    struct ns_graph g;
    assert_int_equal(ns_graph_build(&c, NULL, &g), 0);
    /* two stride-2 3x3 conv-BN-ReLU, then a 1x1 conv with bias: 2x2 tokens of width 8 */
    assert_int_equal(g.layer[1].kind, NS_L_CONV);
    assert_int_equal(g.layer[1].stride, 2);
    assert_int_equal(g.layer[2].kind, NS_L_BN);
    assert_int_equal(g.layer[3].kind, NS_L_CONV);
    assert_int_equal(g.layer[5].kind, NS_L_CONV);
    assert_int_equal(g.layer[5].k, 1);
    assert_true(g.layer[5].bias);
    assert_int_equal(g.layer[5].h, 2);
    assert_int_equal(g.layer[6].kind, NS_L_TOKENS);
    assert_int_equal(g.layer[6].h, 5);
    int attn = 0;
    for (int i = 1; i < g.n; i++) {
        for (int j = 0; j < 2; j++)
            assert_true(g.layer[i].in[j] < i);
        attn += g.layer[i].kind == NS_L_ATTN;
    }
    assert_int_equal(attn, 2);
    assert_int_equal(g.layer[g.n - 1].kind, NS_L_LINEAR);
    assert_true(g.layer[g.n - 1].classifier);
    assert_int_equal(g.layer[g.n - 1].init, NS_INIT_ZERO);
    ns_graph_free(&g);
    /* a conv_patch stem needs a power of two; a transformer needs a patch stem */
    c.patch = 3;
    c.im_size = 9;
    assert_int_equal(ns_config_check(&c), -1);
    assert_non_null(strstr(ns_errmsg(), "power of two"));
    c = small(NS_BLOCK_VIT, 8, 1, 8, 1, 4, 2);
    assert_int_equal(ns_config_check(&c), -1);
    assert_non_null(strstr(ns_errmsg(), "needs a patchify or conv_patch stem"));
}

/* The estimate is what ns_net_build allocates, to the alignment padding of its arrays. */
static void memory_estimate_is_what_a_net_allocates(void **state)
{
    (void)state;
    struct ns_config cs[3];
    ns_config_bench_net(&cs[0]);
    cs[1] = small(NS_BLOCK_SHUFFLE_V2, 8, 2, 16, 2, 0, 1);
    cs[2] = small(NS_BLOCK_VIT, 8, 2, 8, 1, 4, 2);
    cs[2].stem = NS_STEM_PATCHIFY;
    cs[2].patch = 2;
    for (int i = 0; i < 3; i++) {
        size_t est;
        struct ns_graph_opts o = {.dropout = 0.1f};
        assert_int_equal(ns_net_memory(&cs[i], 32, &o, 1, &est), 0);
        struct ns_net *net = ns_net_build_opts(&cs[i], 32, &o, 0, NULL);
        assert_non_null(net);
        /* every float array is rounded up to 64 bytes; the mask array is exact */
        size_t arrays = 10;
        assert_true(net->bytes + net->drop_len >= est);
        assert_true(net->bytes + net->drop_len <= est + 64 * arrays);
        ns_net_free(net);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_families_by_hand),
        cmocka_unit_test(conv_patch_stem_and_graph_invariants),
        cmocka_unit_test(memory_estimate_is_what_a_net_allocates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
