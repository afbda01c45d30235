/* Compound scaling worked by hand (EfficientNet's rules: depth ceil(d * 1.2^phi), width
 * round_filters(w * 1.1^phi), resolution rint(r * 1.15^phi)), the group-width adjustment of
 * grouped stages, bad coefficients, and a compound space file sampling valid configs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "space/space.h"
#include "util/err.h"

static struct ns_config base(void)
{
    struct ns_config c = {.in_ch = 1, .im_size = 28, .classes = 10, .stem = NS_STEM_CIFAR,
                          .stem_w = 32, .block = NS_BLOCK_MBCONV, .act = NS_ACT_SILU,
                          .head_w = 64, .n_stages = 2};
    c.stages[0] = (struct ns_stage){.d = 1, .w = 16, .s = 1, .g = 1, .b = 1};
    c.stages[1] = (struct ns_stage){.d = 2, .w = 24, .s = 2, .g = 1, .b = 6};
    return c;
}

static void scaled(double phi, struct ns_config *out)
{
    struct ns_config b = base();
    struct ns_compound k = {phi, 1.2, 1.1, 1.15};
    if (ns_compound_scale(&b, &k, out))
        fail_msg("phi %g: %s", phi, ns_errmsg());
}

static void compound_scaling_by_hand(void **state)
{
    (void)state;
    struct ns_config c, b = base();
    scaled(0, &c);
    assert_memory_equal(&c, &b, sizeof c);
    /* phi 1: depths ceil(1.2) = 2, ceil(2.4) = 3; widths 17.6 -> 16, 26.4 -> 24,
     * stem 35.2 -> 32, head 70.4 -> 72; resolution rint(32.2) = 32 */
    scaled(1, &c);
    assert_int_equal(c.stages[0].d, 2);
    assert_int_equal(c.stages[1].d, 3);
    assert_int_equal(c.stages[0].w, 16);
    assert_int_equal(c.stages[1].w, 24);
    assert_int_equal(c.stem_w, 32);
    assert_int_equal(c.head_w, 72);
    assert_int_equal(c.im_size, 32);
    /* phi 2: depths ceil(1.44) = 2, ceil(2.88) = 3; 19.36 rounds to 16, which lost more
     * than 10 %, so 24; 29.04 -> 32; stem 38.72 -> 40; head 77.44 -> 80; rint(37.03) = 37 */
    scaled(2, &c);
    assert_int_equal(c.stages[0].d, 2);
    assert_int_equal(c.stages[1].d, 3);
    assert_int_equal(c.stages[0].w, 24);
    assert_int_equal(c.stages[1].w, 32);
    assert_int_equal(c.stem_w, 40);
    assert_int_equal(c.head_w, 80);
    assert_int_equal(c.im_size, 37);
    /* everything else untouched */
    assert_int_equal(c.act, NS_ACT_SILU);
    assert_true(c.stages[1].b == 6.0);
}

static void grouped_stages_keep_a_dividing_group_width(void **state)
{
    (void)state;
    struct ns_config b = {.in_ch = 1, .im_size = 28, .classes = 10, .stem = NS_STEM_CIFAR,
                          .stem_w = 16, .block = NS_BLOCK_X, .n_stages = 1};
    b.stages[0] = (struct ns_stage){.d = 1, .w = 48, .s = 2, .g = 24, .b = 0.5};
    struct ns_compound k = {1, 1.2, 1.1, 1.15};
    struct ns_config c;
    /* 48 * 1.1 = 52.8 -> 56, bottleneck 28 which 24 does not divide: pycls's adjustment
     * gives bottleneck 24, so w = 48 and g = 24 */
    assert_int_equal(ns_compound_scale(&b, &k, &c), 0);
    assert_int_equal(c.stages[0].w, 48);
    assert_int_equal(c.stages[0].g, 24);
    assert_int_equal(ns_config_check(&c), 0);
    k.alpha = 0.9;
    assert_int_equal(ns_compound_scale(&b, &k, &c), -1);
    assert_non_null(strstr(ns_errmsg(), "alpha 0.9"));
}

/* A transformer base: widths stay multiples of the head width and equal to the patch
 * embedding's, the input a multiple of the patch. */
static void transformer_bases_scale_to_valid_configs(void **state)
{
    (void)state;
    struct ns_config b = {.in_ch = 1, .im_size = 28, .classes = 10, .stem = NS_STEM_PATCHIFY,
                          .stem_w = 192, .patch = 4, .block = NS_BLOCK_VIT, .n_stages = 1};
    b.stages[0] = (struct ns_stage){.d = 2, .w = 192, .s = 1, .g = 64, .b = 4};
    for (double phi = 0.5; phi <= 3; phi += 0.5) {
        struct ns_compound k = {phi, 1.2, 1.1, 1.15};
        struct ns_config c;
        if (ns_compound_scale(&b, &k, &c))
            fail_msg("phi %g: %s", phi, ns_errmsg());
        assert_int_equal(c.stages[0].w % 64, 0);
        assert_int_equal(c.stem_w, c.stages[0].w);
        assert_int_equal(c.im_size % 4, 0);
    }
}

static void compound_space_samples_scaled_configs(void **state)
{
    (void)state;
    struct ns_space *sp = ns_space_load(NS_FIXTURES "/../../spaces/efficientnet_compound.json");
    if (!sp)
        fail_msg("%s", ns_errmsg());
    assert_int_equal(ns_space_n_params(sp), 4);
    assert_string_equal(ns_space_param_name(sp, 0), "phi");
    struct ns_trial *t;
    assert_int_equal(ns_space_sample(sp, 1, 6, &t, NULL), 0);
    for (int i = 0; i < 6; i++) {
        double phi = t[i].params[0];
        assert_true(phi >= 0 && phi <= 3 && fmod(phi, 0.5) == 0);
        assert_int_equal(t[i].config.im_size, (int)rint(28 * pow(1.15, phi)));
        assert_int_equal(ns_config_check(&t[i].config), 0);
    }
    free(t);
    ns_space_free(sp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compound_scaling_by_hand),
        cmocka_unit_test(grouped_stages_keep_a_dividing_group_width),
        cmocka_unit_test(transformer_bases_scale_to_valid_configs),
        cmocka_unit_test(compound_space_samples_scaled_configs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
