/* The presets against torchvision: at 3x224x224 and 1000 classes every preset's parameter
 * count and flops equal the committed table that tests/fixtures/model/torchvision_table.py
 * computed from torchvision's definitions; every preset is listed in the table; the
 * RegNetY-400MF preset is what the RegNet generator makes of its parameters; presets take
 * other input shapes; an unknown name is an error that lists the presets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "model/graph.h"
#include "model/model.h"
#include "space/space.h"
#include "util/err.h"

static void presets_match_torchvision(void **state)
{
    (void)state;
    FILE *f = fopen(NS_FIXTURES "/model/torchvision_table.txt", "r");
    assert_non_null(f);
    char name[64];
    double params, flops;
    int rows = 0;
    while (fscanf(f, "%63s %lf %lf", name, &params, &flops) == 3) {
        struct ns_config c;
        if (ns_model_preset(name, 3, 224, 1000, &c))
            fail_msg("%s: %s", name, ns_errmsg());
        struct ns_complexity cx;
        assert_int_equal(ns_complexity(&c, &cx), 0);
        if (cx.params != params || cx.flops != flops)
            fail_msg("%s: params %.0f flops %.0f, torchvision %.0f %.0f", name, cx.params,
                     cx.flops, params, flops);
        rows++;
    }
    fclose(f);
    /* every preset has its row, but repvgg_a0 (not in torchvision: its own test below) */
    assert_int_equal(rows + 1, ns_model_preset_count());
}

static void regnet_y_400mf_is_the_generated_one(void **state)
{
    (void)state;
    struct ns_config p, g;
    assert_int_equal(ns_model_preset("regnet_y_400mf", 3, 224, 1000, &p), 0);
    struct ns_regnet r;
    assert_int_equal(ns_regnet_parse("depth=16 w0=48 wa=27.89 wm=2.09 group_w=8 se_r=0.25", &r), 0);
    memset(&g, 0, sizeof g);
    g.in_ch = 3, g.im_size = 224, g.classes = 1000, g.stem = NS_STEM_SIMPLE, g.stem_w = 32;
    g.block = NS_BLOCK_Y;
    assert_int_equal(ns_regnet_generate(&r, 2, &g), 0);
    char hp[17], hg[17];
    assert_int_equal(ns_config_hash(&p, hp), 0);
    assert_int_equal(ns_config_hash(&g, hg), 0);
    assert_string_equal(hp, hg);
}

/* RepVGG-A0: the config of spaces/presets/repvgg_a0.json; in training form and deployed the
 * figures derived by hand in tests/model/test_reparam.c's way (README: RepVGG and ACNet); the
 * paper: 8.30 M params and 1.36 G flops deployed. */
static void repvgg_a0_matches_its_figures(void **state)
{
    (void)state;
    struct ns_config p, f;
    assert_int_equal(ns_model_preset("repvgg_a0", 3, 224, 1000, &p), 0);
    if (ns_config_load(NS_FIXTURES "/../../spaces/presets/repvgg_a0.json", &f))
        fail_msg("%s", ns_errmsg());
    char hp[17], hf[17];
    assert_int_equal(ns_config_hash(&p, hp), 0);
    assert_int_equal(ns_config_hash(&f, hf), 0);
    assert_string_equal(hp, hf);
    struct ns_complexity t, d;
    assert_int_equal(ns_complexity(&p, &t), 0);
    assert_true(t.params == 9108968 && t.flops == 1512582120 && t.acts == 3588584);
    struct ns_graph g, dg;
    assert_int_equal(ns_graph_build(&p, NULL, &g), 0);
    assert_int_equal(ns_graph_deploy(&g, &dg), 0);
    ns_graph_complexity(&dg, &d);
    ns_graph_free(&g);
    ns_graph_free(&dg);
    /* a bias: one param per channel, one flop per output element */
    assert_true(d.params == 8309384 && d.flops == 1363245800 && d.acts == 1794792);
    assert_true(d.params >= 8.30e6 && d.params < 8.31e6);    /* 8.30 M (truncated) */
    assert_true(d.flops > 1.355e9 && d.flops < 1.365e9);     /* 1.36 G */
}

static void presets_take_other_inputs_and_unknown_names_list_them(void **state)
{
    (void)state;
    for (int i = 0; i < ns_model_preset_count(); i++) {
        struct ns_config c;
        const char *name = ns_model_preset_name(i, NULL);
        if (strcmp(name, "vit_b_16") == 0) { /* its patch of 16 must divide the input */
            assert_int_equal(ns_model_preset(name, 1, 30, 10, &c), -1);
            assert_non_null(strstr(ns_errmsg(), "patch: 16 does not divide the input size 30"));
            assert_int_equal(ns_model_preset(name, 1, 32, 10, &c), 0);
            continue;
        }
        if (ns_model_preset(name, 1, 32, 10, &c))
            fail_msg("%s at 1x32x32: %s", name, ns_errmsg());
        assert_int_equal(c.in_ch, 1);
        assert_int_equal(c.im_size, 32);
        assert_int_equal(c.classes, 10);
    }
    assert_null(ns_model_preset_name(ns_model_preset_count(), NULL));
    struct ns_config c;
    assert_int_equal(ns_model_preset("resnet19", 3, 224, 1000, &c), -1);
    assert_non_null(strstr(ns_errmsg(), "unknown model 'resnet19'"));
    assert_non_null(strstr(ns_errmsg(), "efficientnet_b0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(presets_match_torchvision),
        cmocka_unit_test(regnet_y_400mf_is_the_generated_one),
        cmocka_unit_test(repvgg_a0_matches_its_figures),
        cmocka_unit_test(presets_take_other_inputs_and_unknown_names_list_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
