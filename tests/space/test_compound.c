/* Compound scaling worked by hand (EfficientNet's rules: depth ceil(d * 1.2^phi), width
 * round_filters(w * 1.1^phi), resolution rint(r * 1.15^phi)), the group-width adjustment of
 * grouped stages, bad coefficients, a compound space file sampling valid configs, and
 * scaling one base to flops multiples along one dimension (ns_scale_to_flops, "scaling"
 * spaces). */
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

/* Scaling to a flops multiple: each dimension moves only its own part of the config, the
 * flops land near the target, and the coefficients it reports rebuild the same config. */
static void scaling_to_flops_along_each_dimension(void **state)
{
    (void)state;
    struct ns_config b = base(), c, again;
    struct ns_complexity b_cx, cx;
    assert_int_equal(ns_complexity(&b, &b_cx), 0);
    const struct ns_compound paper = {1, 1.2, 1.1, 1.15};
    for (int dim = NS_SCALE_DEPTH; dim < NS_SCALE_DIMS; dim++) {
        for (double mult = 2; mult <= 4; mult *= 2) {
            struct ns_compound used;
            if (ns_scale_to_flops(&b, (enum ns_scale_dim)dim, mult, &paper, &used, &c))
                fail_msg("%s x%g: %s", ns_scale_dim_names[dim], mult, ns_errmsg());
            assert_int_equal(ns_complexity(&c, &cx), 0);
            const double got = cx.flops / b_cx.flops;
            /* rounded depths, widths and sizes: within 20 % of the multiple asked for */
            if (fabs(log(got / mult)) > log(1.2))
                fail_msg("%s x%g: flops x%.3f", ns_scale_dim_names[dim], mult, got);
            assert_int_equal(ns_compound_scale(&b, &used, &again), 0);
            assert_memory_equal(&again, &c, sizeof c);
            int deeper = 0, wider = 0;
            for (int i = 0; i < b.n_stages; i++) {
                deeper |= c.stages[i].d != b.stages[i].d;
                wider |= c.stages[i].w != b.stages[i].w;
            }
            wider |= c.stem_w != b.stem_w || c.head_w != b.head_w;
            const int resized = c.im_size != b.im_size;
            if (dim != NS_SCALE_COMPOUND) {
                assert_int_equal(deeper, dim == NS_SCALE_DEPTH);
                assert_int_equal(wider, dim == NS_SCALE_WIDTH);
                assert_int_equal(resized, dim == NS_SCALE_RESOLUTION);
            } else { /* a small phi may round one of them back to the base's */
                assert_true(deeper + wider + resized >= 2);
            }
            if (dim == NS_SCALE_COMPOUND) {
                assert_true(used.alpha == 1.2 && used.beta == 1.1 && used.gamma == 1.15);
                assert_true(used.phi > 0);
            } else {
                assert_true(used.phi == 1);
            }
        }
    }
    struct ns_compound used;
    assert_int_equal(ns_scale_to_flops(&b, NS_SCALE_WIDTH, 1, &paper, &used, &c), 0);
    assert_memory_equal(&c, &b, sizeof c);
    assert_int_equal(ns_scale_to_flops(&b, NS_SCALE_WIDTH, 0.5, &paper, &used, &c), -1);
    assert_non_null(strstr(ns_errmsg(), "multiple of 0.5"));
    const struct ns_compound none = {1, 1, 1, 1};
    assert_int_equal(ns_scale_to_flops(&b, NS_SCALE_COMPOUND, 2, &none, &used, &c), -1);
    assert_non_null(strstr(ns_errmsg(), "scale nothing"));
}

static struct ns_space *space_from(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON: %s", e.text);
    struct ns_space *sp = ns_space_from_jansson(j, "scaling.json");
    json_decref(j);
    return sp;
}

#define SCALING_BASE                                                                          \
    "\"base\": {\"block\": \"x\", \"classes\": 10, \"im_size\": 28, \"in_ch\": 1,"           \
    "\"stem\": {\"type\": \"cifar\", \"w\": 16}, \"stages\": [{\"b\": 1, \"d\": 1, \"g\": 8, "     \
    "\"s\": 1, \"w\": 32}, {\"b\": 1, \"d\": 2, \"g\": 8, \"s\": 2, \"w\": 64}]}"

/* A scaling space: the base, then every dim of every target, in that fixed order and the
 * same for every seed; the recorded parameters say which; one model too many is an error
 * naming the count; malformed fields are named. */
static void scaling_space_lists_its_models_in_order(void **state)
{
    (void)state;
    struct ns_space *sp = space_from("{\"name\": \"s\", \"kind\": \"scaling\", " SCALING_BASE
                                     ", \"targets\": [2, 4], \"dims\": [\"width\", \"depth\"]}");
    if (!sp)
        fail_msg("%s", ns_errmsg());
    assert_int_equal(ns_space_n_params(sp), 6);
    assert_string_equal(ns_space_param_name(sp, 0), "target");
    assert_string_equal(ns_space_param_name(sp, 1), "dim");
    struct ns_trial *t, *u;
    assert_int_equal(ns_space_sample(sp, 1, 5, &t, NULL), 0);
    assert_int_equal(ns_space_sample(sp, 7, 5, &u, NULL), 0);
    const double want[5][2] = {{1, NS_SCALE_BASE},
                               {2, NS_SCALE_WIDTH},
                               {2, NS_SCALE_DEPTH},
                               {4, NS_SCALE_WIDTH},
                               {4, NS_SCALE_DEPTH}};
    for (int i = 0; i < 5; i++) {
        assert_true(t[i].params[0] == want[i][0] && t[i].params[1] == want[i][1]);
        assert_string_equal(t[i].json, u[i].json); /* the seed does not choose the models */
        const double got = t[i].cx.flops / t[0].cx.flops;
        assert_true(fabs(log(got / want[i][0])) < log(1.2));
    }
    free(t);
    free(u);
    assert_int_equal(ns_space_sample(sp, 1, 6, &t, NULL), -1);
    assert_non_null(strstr(ns_errmsg(), "has 5 models"));
    ns_space_free(sp);

    /* targets the rounding cannot tell apart are an error naming the pair, not a shifted list;
     * a target out of reach names the nearest multiple */
    static const struct {
        const char *fields, *msg;
        int n;
    } unsampled[] = {
        {"\"targets\": [2, 2.02], \"dims\": [\"depth\"]",
         "models 2 and 3 of the scaling space are the same", 3},
        {"\"targets\": [1000], \"dims\": [\"width\"]",
         "width scaling reaches no network within 25 % of 1000 x", 2},
    };
    for (size_t i = 0; i < sizeof unsampled / sizeof unsampled[0]; i++) {
        char text[2048];
        snprintf(text, sizeof text, "{\"name\": \"s\", \"kind\": \"scaling\", %s, %s}",
                 SCALING_BASE, unsampled[i].fields);
        assert_non_null(sp = space_from(text));
        assert_int_equal(ns_space_sample(sp, 1, unsampled[i].n, &t, NULL), -1);
        if (!strstr(ns_errmsg(), unsampled[i].msg))
            fail_msg("%s: got '%s'", unsampled[i].fields, ns_errmsg());
        ns_space_free(sp);
    }

    static const struct {
        const char *fields, *msg;
    } bad[] = {
        {"\"targets\": []", "scaling.json.targets: expected a list"},
        {"\"targets\": [0.5]", "scaling.json.targets[0]: a flops multiple > 1"},
        {"\"targets\": [2, 2]", "scaling.json.targets[1]: 2 twice"},
        {"\"targets\": [2], \"dims\": [\"height\"]", "scaling.json.dims[0]: not one of"},
        {"\"targets\": [2], \"dims\": [\"depth\", \"depth\"]", "dims[1]: depth twice"},
        {"\"targets\": [2], \"coefficients\": {\"alpha\": 0.5}", "coefficients.alpha: a number"},
        {"\"targets\": [2], \"coefficients\": {\"delta\": 2}", "delta"},
        {"\"targets\": [2], \"max_tries\": 3", "max_tries"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[2048];
        snprintf(text, sizeof text, "{\"name\": \"s\", \"kind\": \"scaling\", %s, %s}",
                 SCALING_BASE, bad[i].fields);
        sp = space_from(text);
        if (sp)
            fail_msg("accepted: %s", bad[i].fields);
        if (!strstr(ns_errmsg(), bad[i].msg))
            fail_msg("%s: got '%s', want '%s'", bad[i].fields, ns_errmsg(), bad[i].msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compound_scaling_by_hand),
        cmocka_unit_test(grouped_stages_keep_a_dividing_group_width),
        cmocka_unit_test(transformer_bases_scale_to_valid_configs),
        cmocka_unit_test(compound_space_samples_scaled_configs),
        cmocka_unit_test(scaling_to_flops_along_each_dimension),
        cmocka_unit_test(scaling_space_lists_its_models_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
