/* RegNet generation against hand-worked cases, including the ones where rounding half to
 * even (numpy's round, rint) and rounding half up would disagree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "space/space.h"
#include "util/err.h"

static struct ns_config base(enum ns_block block)
{
    struct ns_config c;
    memset(&c, 0, sizeof c);
    c.in_ch = 3;
    c.im_size = 224;
    c.classes = 1000;
    c.stem = NS_STEM_SIMPLE;
    c.stem_w = 32;
    c.block = block;
    return c;
}

/* Generate and compare the stages with (d, w, g) triples. */
static void expect_stages(struct ns_regnet r, int n, const int (*dwg)[3])
{
    struct ns_config c = base(NS_BLOCK_X);
    if (ns_regnet_generate(&r, 2, &c))
        fail_msg("generate: %s", ns_errmsg());
    assert_int_equal(c.n_stages, n);
    for (int i = 0; i < n; i++) {
        if (c.stages[i].d != dwg[i][0] || c.stages[i].w != dwg[i][1] || c.stages[i].g != dwg[i][2])
            fail_msg("stage %d: got d %d w %d g %d, want %d %d %d", i, c.stages[i].d, c.stages[i].w,
                     c.stages[i].g, dwg[i][0], dwg[i][1], dwg[i][2]);
        assert_int_equal(c.stages[i].s, 2);
    }
}

static void regnetx_200mf(void **state)
{
    (void)state;
    /* u_j = 24 + 36.44 j; k_j = 0, 1, 2, 2, 2, 2, 3, ... (j >= 6: log(u/24)/log(2.49) > 2.5);
     * w = 24, 59.76 -> 56, 148.8 -> 152, 370.5 -> 368. */
    const int want[4][3] = {{1, 24, 8}, {1, 56, 8}, {4, 152, 8}, {7, 368, 8}};
    expect_stages((struct ns_regnet){13, 24, 36.44, 2.49, 8, 1, 0}, 4, want);
}

static void width_quantization_rounds_half_to_even(void **state)
{
    (void)state;
    /* u_1 = 8 + 12 = 20 = 8 * 2.5^1 -> k = 1, w = 20: 20/8 = 2.5 -> 2 -> 16 (half up: 24). */
    const int a[2][3] = {{1, 8, 8}, {1, 16, 8}};
    expect_stages((struct ns_regnet){2, 8, 12, 2.5, 8, 1, 0}, 2, a);
    /* u_1 = 8 + 20 = 28 = 8 * 3.5 -> w = 28: 28/8 = 3.5 -> 4 -> 32 (half to even goes up). */
    const int b[2][3] = {{1, 8, 8}, {1, 32, 8}};
    expect_stages((struct ns_regnet){2, 8, 20, 3.5, 8, 1, 0}, 2, b);
}

static void exponent_rounds_half_to_even(void **state)
{
    (void)state;
    /* u = 8, 16, 24 with wm = 4: log(16/8)/log(4) = 0.5 exactly -> k = 0 (half up: 1), so the
     * second block keeps width 8; log(3)/log(4) = 0.79 -> k = 1 -> 32. */
    const int want[2][3] = {{2, 8, 8}, {1, 32, 8}};
    expect_stages((struct ns_regnet){3, 8, 8, 4, 8, 1, 0}, 2, want);
}

static void group_width_compatibility(void **state)
{
    (void)state;
    /* w = 40, g = 16: v/g = 2.5 -> 2 (half up: 3), v = 32, w = 32. */
    const int a[1][3] = {{3, 32, 16}};
    expect_stages((struct ns_regnet){3, 40, 0, 2, 16, 1, 0}, 1, a);
    /* w = 24, g = 16: 1.5 -> 2 -> 32. */
    const int b[1][3] = {{1, 32, 16}};
    expect_stages((struct ns_regnet){1, 24, 0, 2, 16, 1, 0}, 1, b);
    /* g larger than the width: g = min(g, v) = 8, w stays 8. */
    const int c[1][3] = {{2, 8, 8}};
    expect_stages((struct ns_regnet){2, 8, 0, 2, 64, 1, 0}, 1, c);
}

static void bottleneck_compatibility(void **state)
{
    (void)state;
    /* b = 0.25, w = 40, g = 4: v = 10, m = 4, 10/4 = 2.5 -> 2, v = 8, w = 32. */
    struct ns_regnet r = {1, 40, 0, 2, 4, 0.25, 0};
    struct ns_config c = base(NS_BLOCK_X);
    assert_int_equal(ns_regnet_generate(&r, 2, &c), 0);
    assert_int_equal(c.stages[0].w, 32);
    assert_int_equal(c.stages[0].g, 4);
    assert_true(c.stages[0].b == 0.25);
    /* b = 3, w = 40, g = 16: v = 120, m = lcm(16, 3) = 48, 120/48 = 2.5 -> 2, v = 96, w = 32. */
    r = (struct ns_regnet){1, 40, 0, 2, 16, 3, 0};
    assert_int_equal(ns_regnet_generate(&r, 2, &c), 0);
    assert_int_equal(c.stages[0].w, 32);
    assert_int_equal(c.stages[0].g, 16);
    /* b = 2, w = 24, g = 8: v = 48 is already a multiple of lcm(8, 2) = 8. */
    r = (struct ns_regnet){1, 24, 0, 2, 8, 2, 0};
    assert_int_equal(ns_regnet_generate(&r, 2, &c), 0);
    assert_int_equal(c.stages[0].w, 24);
}

static void regnety_sets_se_ratio_and_first_stride(void **state)
{
    (void)state;
    struct ns_regnet r = {13, 24, 36.44, 2.49, 8, 1, 0.25};
    struct ns_config c = base(NS_BLOCK_Y);
    assert_int_equal(ns_regnet_generate(&r, 1, &c), 0);
    assert_true(c.se_r == 0.25);
    assert_int_equal(c.stages[0].s, 1);
    assert_int_equal(c.stages[1].s, 2);
    c.block = NS_BLOCK_X;
    assert_int_equal(ns_regnet_generate(&r, 2, &c), 0);
    assert_true(c.se_r == 0);
}

static void expect_gen_error(struct ns_regnet r, enum ns_block b, const char *want)
{
    struct ns_config c = base(b);
    ns_err_clear();
    assert_int_equal(ns_regnet_generate(&r, 2, &c), -1);
    if (!strstr(ns_errmsg(), want))
        fail_msg("error '%s' does not contain '%s'", ns_errmsg(), want);
}

static void bad_parameters_are_clear_errors(void **state)
{
    (void)state;
    expect_gen_error((struct ns_regnet){0, 24, 36, 2.5, 8, 1, 0}, NS_BLOCK_X, "regnet.depth");
    expect_gen_error((struct ns_regnet){13, 20, 36, 2.5, 8, 1, 0}, NS_BLOCK_X,
                     "regnet.w0: 20 must be a positive multiple of 8");
    expect_gen_error((struct ns_regnet){13, 0, 36, 2.5, 8, 1, 0}, NS_BLOCK_X, "regnet.w0");
    expect_gen_error((struct ns_regnet){13, 24, -1, 2.5, 8, 1, 0}, NS_BLOCK_X,
                     "regnet.wa: -1 must be >= 0");
    expect_gen_error((struct ns_regnet){13, 24, 36, 1, 8, 1, 0}, NS_BLOCK_X,
                     "regnet.wm: 1 must be > 1");
    expect_gen_error((struct ns_regnet){13, 24, 36, 2.5, 0, 1, 0}, NS_BLOCK_X, "regnet.group_w");
    expect_gen_error((struct ns_regnet){13, 24, 36, 2.5, 8, 0, 0}, NS_BLOCK_X, "regnet.bot_mul");
    /* a bottleneck of no channel: refused, not a stage of 999999999 channels */
    expect_gen_error((struct ns_regnet){13, 24, 36, 2.5, 8, 1e-9, 0}, NS_BLOCK_X,
                     "regnet.bot_mul: 1e-09 leaves the first stage (w0 24) a bottleneck of");
    expect_gen_error((struct ns_regnet){13, 24, 36, 2.5, 8, 1, 0}, NS_BLOCK_Y, "regnet.se_r");
    expect_gen_error((struct ns_regnet){13, 24, 36, 2.5, 8, 1, 0}, NS_BLOCK_SEP,
                     "regnet: block must be x or y");
    /* wm barely above 1 with a large slope: every block its own stage. */
    expect_gen_error((struct ns_regnet){20, 8, 8, 1.01, 8, 1, 0}, NS_BLOCK_X, "more than 8 stages");
    expect_gen_error((struct ns_regnet){40, 8, 1000, 3, 8, 1, 0}, NS_BLOCK_X, "exceeds 8192");
}

static void parse_regnet_strings(void **state)
{
    (void)state;
    struct ns_regnet r;
    assert_int_equal(ns_regnet_parse("depth=13 w0=24 wa=36.44 wm=2.49 group_w=8", &r), 0);
    assert_int_equal(r.depth, 13);
    assert_true(r.w0 == 24 && r.wa == 36.44 && r.wm == 2.49 && r.group_w == 8);
    assert_true(r.bot_mul == 1 && r.se_r == 0.25);
    assert_int_equal(
        ns_regnet_parse(" depth=2,w0=8, wa=0 wm=2 group_w=4 bot_mul=0.5 se_r=0.5 ", &r), 0);
    assert_true(r.bot_mul == 0.5 && r.se_r == 0.5 && r.depth == 2);
    assert_int_equal(ns_regnet_parse("depth=13 w0=24 wa=36.44 wm=2.49", &r), -1);
    assert_string_equal(ns_errmsg(), "regnet.group_w: missing");
    assert_int_equal(ns_regnet_parse("depth=13 w0=24 wa=x wm=2.49 group_w=8", &r), -1);
    assert_string_equal(ns_errmsg(), "regnet.wa: 'x' is not a number");
    assert_int_equal(ns_regnet_parse("depth=13.5 w0=24 wa=3 wm=2.49 group_w=8", &r), -1);
    assert_string_equal(ns_errmsg(), "regnet.depth: 13.5 is not an integer");
    assert_int_equal(ns_regnet_parse("depth=13 w0=24 wa=3 wm=2.49 group_w=8 foo=1", &r), -1);
    assert_non_null(strstr(ns_errmsg(), "unknown key 'foo'"));
    assert_int_equal(ns_regnet_parse("depth 13", &r), -1);
    assert_non_null(strstr(ns_errmsg(), "expected key=value"));
    /* a key given twice is an error naming it, not the last one winning */
    assert_int_equal(ns_regnet_parse("depth=13 w0=24 wa=3 wm=2.49 group_w=8 depth=2", &r), -1);
    assert_string_equal(ns_errmsg(), "regnet.depth: given twice");
    assert_int_equal(ns_regnet_parse("depth=13 w0=24 wa=3 wm=2.49 group_w=8 se_r=.2 se_r=.2", &r),
                     -1);
    assert_string_equal(ns_errmsg(), "regnet.se_r: given twice");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(regnetx_200mf),
        cmocka_unit_test(width_quantization_rounds_half_to_even),
        cmocka_unit_test(exponent_rounds_half_to_even),
        cmocka_unit_test(group_width_compatibility),
        cmocka_unit_test(bottleneck_compatibility),
        cmocka_unit_test(regnety_sets_se_ratio_and_first_stride),
        cmocka_unit_test(bad_parameters_are_clear_errors),
        cmocka_unit_test(parse_regnet_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
