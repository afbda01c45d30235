/* Complexity of small nets worked out by hand, layer by layer, in pycls's conventions:
 * conv flops k*k*cin*cout*h*w/groups, params k*k*cin*cout/groups (+cout with bias), acts
 * cout*h*w; BN 2 params per channel; output size (h-1)//s+1; FC with bias. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "space/space.h"
#include "util/err.h"

/* in 1x8x8, 2 classes, cifar stem of width stem_w, one stage. */
static struct ns_config small(enum ns_block block, int stem_w, int d, int w, int s, int g, double b)
{
    struct ns_config c;
    memset(&c, 0, sizeof c);
    c.in_ch = 1;
    c.im_size = 8;
    c.classes = 2;
    c.stem = NS_STEM_CIFAR;
    c.stem_w = stem_w;
    c.block = block;
    c.n_stages = 1;
    c.stages[0] = (struct ns_stage){.d = d, .w = w, .s = s, .g = g, .b = b};
    return c;
}

static void expect(const struct ns_config *c, double flops, double params, double acts)
{
    struct ns_complexity x;
    if (ns_complexity(c, &x))
        fail_msg("ns_complexity: %s", ns_errmsg());
    if (x.flops != flops || x.params != params || x.acts != acts)
        fail_msg("got flops %.0f params %.0f acts %.0f, want %.0f %.0f %.0f", x.flops, x.params,
                 x.acts, flops, params, acts);
}

static void benchmark_net_matches_design(void **state)
{
    (void)state;
    struct ns_config c;
    ns_config_bench_net(&c);
    expect(&c, 5781002, 203834, 118666);
}

static void vanilla_and_res_basic(void **state)
{
    (void)state;
    /* stem 3x3 1->2 at 8x8: flops 9*2*64 = 1152, params 18 + BN 4, acts 128.
     * conv 3x3 s2 2->4 at 4x4: 9*2*4*16 = 1152, params 72 + BN 8, acts 64.
     * conv 3x3 4->4 at 4x4: 9*4*4*16 = 2304, params 144 + BN 8, acts 64.
     * FC 4->2 + bias: flops 10, params 10, acts 2. */
    struct ns_config c = small(NS_BLOCK_VANILLA, 2, 1, 4, 2, 0, 1);
    expect(&c, 4618, 264, 258);
    /* res_basic adds the projection 1x1 s2 2->4 at 4x4: 128 flops, 8 + BN 8, acts 64. */
    c.block = NS_BLOCK_RES_BASIC;
    expect(&c, 4746, 280, 322);
    /* A second block 4->4 at stride 1 has an identity shortcut: +4608 flops, +304, +128. */
    c.stages[0].d = 2;
    expect(&c, 9354, 584, 450);
}

static void x_and_y_blocks(void **state)
{
    (void)state;
    /* stem 1->4: 2304 flops, 36 + 8, acts 256. w = 8, b = 0.5 -> wb 4, g 2 -> 2 groups.
     * 1x1 4->4 at 8x8: 1024, 16 + 8, 256.   3x3 s2 grouped: 9*4*4*16/2 = 1152, 72 + 8, 64.
     * 1x1 4->8 at 4x4: 512, 32 + 16, 128.   shortcut 1x1 s2 4->8: 512, 32 + 16, 128.
     * FC 8->2: 18, 18, 2. */
    struct ns_config c = small(NS_BLOCK_X, 4, 1, 8, 2, 2, 0.5);
    expect(&c, 5522, 262, 834);
    /* Y: SE on wb = 4 of width round(0.5 * w_in 4) = 2, at 1x1 with biases:
     * 4->2: 8 + 2 flops, 10 params, 2 acts; 2->4: 8 + 4, 12, 4. */
    c.block = NS_BLOCK_Y;
    c.se_r = 0.5;
    expect(&c, 5544, 284, 840);
    /* The SE width rounds half to even: 0.25 * 10 = 2.5 -> 2 (not 3), 0.25 * 6 = 1.5 -> 2. */
    struct ns_complexity x, y;
    c = small(NS_BLOCK_X, 10, 1, 8, 2, 2, 0.5);
    ns_complexity(&c, &x);
    c.block = NS_BLOCK_Y;
    c.se_r = 0.25;
    ns_complexity(&c, &y);
    assert_true(y.params - x.params == (4 * 2 + 2) + (2 * 4 + 4));
    c = small(NS_BLOCK_X, 6, 1, 8, 2, 2, 0.5);
    ns_complexity(&c, &x);
    c.block = NS_BLOCK_Y;
    c.se_r = 0.25;
    ns_complexity(&c, &y);
    assert_true(y.params - x.params == (4 * 2 + 2) + (2 * 4 + 4));
}

static void separable_block(void **state)
{
    (void)state;
    /* stem 1->2: 1152, 22, 128.  BN(2): 4.  dw 3x3 on 2 at 8x8: 1152, 18, 128.
     * 1x1 2->4: 512, 8, 256.  BN(4): 8.  dw 3x3 on 4: 2304, 36, 256.  1x1 4->4: 1024, 16, 256.
     * max pool s2 -> 4x4.  shortcut 1x1 s2 2->4, no BN: 128, 8, 64.  FC: 10, 10, 2. */
    struct ns_config c = small(NS_BLOCK_SEP, 2, 1, 4, 2, 1, 1);
    expect(&c, 6282, 130, 1090);
}

static void inverted_bottleneck(void **state)
{
    (void)state;
    /* b = 3, two blocks 2->4 s2 then 4->4.
     * block 1 (we 6): 1x1 2->6 at 8x8: 768, 12 + 12, 384; dw s2 at 4x4: 864, 54 + 12, 96;
     *   1x1 6->4: 384, 24 + 8, 64; no shortcut (shape changes).
     * block 2 (we 12): 1x1 4->12: 768, 48 + 24, 192; dw: 1728, 108 + 24, 192;
     *   1x1 12->4: 768, 48 + 8, 64; identity. stem 1152, 22, 128; FC 10, 10, 2. */
    struct ns_config c = small(NS_BLOCK_MBCONV, 2, 2, 4, 2, 1, 3);
    expect(&c, 6442, 414, 1122);
    /* b = 1 skips the expansion; SE of width round(0.5 * 4) = 2 on the 4 depthwise channels.
     * stem 1->4: 2304, 44, 256; dw 3x3 at 8x8: 2304, 36 + 8, 256; SE 22, 22, 6;
     * 1x1 4->4: 1024, 16 + 8, 256; FC 4->2: 10, 10, 2. */
    c = small(NS_BLOCK_MBCONV, 4, 1, 4, 1, 1, 1);
    c.se_r = 0.5;
    expect(&c, 5664, 144, 776);
}

static void stems_and_odd_sizes(void **state)
{
    (void)state;
    /* res stem at 16x16: 7x7 s2 1->2 at 8x8: 49*2*64 = 6272, 98 + 4, 128; max pool -> 4x4.
     * vanilla 2->4 s1 at 4x4: 1152, 72 + 8, 64; 4->4: 2304, 144 + 8, 64; FC 10, 10, 2. */
    struct ns_config c = small(NS_BLOCK_VANILLA, 2, 1, 4, 1, 0, 1);
    c.stem = NS_STEM_RES;
    c.im_size = 16;
    expect(&c, 9738, 344, 258);
    /* simple stem at 7x7: 3x3 s2 -> (7-1)//2+1 = 4: 288, 22, 32; stage s2 -> 2x2:
     * 2->4: 9*8*4 = 288, 80, 16; 4->4: 576, 152, 16; FC 10, 10, 2. */
    c = small(NS_BLOCK_VANILLA, 2, 1, 4, 2, 0, 1);
    c.stem = NS_STEM_SIMPLE;
    c.im_size = 7;
    expect(&c, 1162, 264, 66);
}

static void regnetx_200mf_matches_the_paper(void **state)
{
    (void)state;
    /* pycls's model zoo: RegNetX-200MF 0.2 GF, 2.7 M params, 2.2 M acts; RegNetY-200MF 3.2 M
     * params; RegNetX-3.2GF 3.2 GF, 15.3 M params, 11.4 M acts. */
    struct ns_regnet r = {13, 24, 36.44, 2.49, 8, 1, 0.25};
    struct ns_config c;
    memset(&c, 0, sizeof c);
    c.in_ch = 3;
    c.im_size = 224;
    c.classes = 1000;
    c.stem = NS_STEM_SIMPLE;
    c.stem_w = 32;
    c.block = NS_BLOCK_X;
    assert_int_equal(ns_regnet_generate(&r, 2, &c), 0);
    struct ns_complexity x;
    assert_int_equal(ns_complexity(&c, &x), 0);
    assert_true(rint(x.flops / 1e8) == 2 && rint(x.params / 1e5) == 27 && rint(x.acts / 1e5) == 22);
    c.block = NS_BLOCK_Y;
    assert_int_equal(ns_regnet_generate(&r, 2, &c), 0);
    assert_int_equal(ns_complexity(&c, &x), 0);
    assert_true(rint(x.flops / 1e8) == 2 && rint(x.params / 1e5) == 32);
    r = (struct ns_regnet){25, 88, 26.31, 2.25, 48, 1, 0};
    c.block = NS_BLOCK_X;
    assert_int_equal(ns_regnet_generate(&r, 2, &c), 0);
    assert_int_equal(ns_complexity(&c, &x), 0);
    assert_true(rint(x.flops / 1e8) == 32 && rint(x.params / 1e5) == 153 &&
                rint(x.acts / 1e5) == 114);
}

static void invalid_config_is_an_error(void **state)
{
    (void)state;
    struct ns_config c = small(NS_BLOCK_X, 4, 1, 8, 2, 3, 0.5); /* 3 does not divide 4 */
    struct ns_complexity x;
    assert_int_equal(ns_complexity(&c, &x), -1);
    assert_non_null(strstr(ns_errmsg(), "stages[0].g"));
    /* SE that rounds to no channels: 0.1 * stem 4 = 0.4 -> 0. */
    c = small(NS_BLOCK_Y, 4, 1, 8, 2, 2, 0.5);
    c.se_r = 0.1;
    assert_int_equal(ns_complexity(&c, &x), -1);
    assert_non_null(strstr(ns_errmsg(), "stages[0]: SE width round(0.1 * 4) is 0"));
    c.se_r = 0;
    assert_int_equal(ns_complexity(&c, &x), -1);
    assert_non_null(strstr(ns_errmsg(), "se_r: block y needs"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(benchmark_net_matches_design),
        cmocka_unit_test(vanilla_and_res_basic),
        cmocka_unit_test(x_and_y_blocks),
        cmocka_unit_test(separable_block),
        cmocka_unit_test(inverted_bottleneck),
        cmocka_unit_test(stems_and_odd_sizes),
        cmocka_unit_test(regnetx_200mf_matches_the_paper),
        cmocka_unit_test(invalid_config_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
