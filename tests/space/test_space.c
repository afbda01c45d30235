/* Space files and study sampling: the shipped spaces, determinism of trial i, prefix
 * stability, constraint rejection, dedupe, narrowing, and each error message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "space/space.h"
#include "util/err.h"

#define SPACES NS_FIXTURES "/../../spaces/"
#define FIX NS_FIXTURES "/space/"

static struct ns_space *load(const char *path)
{
    struct ns_space *sp = ns_space_load(path);
    if (!sp)
        fail_msg("%s", ns_errmsg());
    return sp;
}

static int met(const struct ns_constraints *k, const struct ns_trial *t)
{
    return t->cx.flops >= k->flops_lo && t->cx.flops <= k->flops_hi &&
           t->cx.params >= k->params_lo && t->cx.params <= k->params_hi &&
           t->cx.acts >= k->acts_lo && t->cx.acts <= k->acts_hi &&
           t->config.n_stages >= k->stages_lo && t->config.n_stages <= k->stages_hi;
}

/* Every space file under spaces/ (found by glob, so a new family's file is covered the
 * day it lands): 100 trials meet the constraints, are valid, and carry their own JSON,
 * hash and complexity. A compound space may draw fewer distinct configs than 100; a scaling
 * space has 9 (its base, two targets, four dimensions). */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void every_shipped_space_samples_valid_configs(void **state)
{
    (void)state;
    glob_t gl;
    assert_int_equal(glob(SPACES "*.json", 0, NULL, &gl), 0);
    assert_int_equal(glob(SPACES "*/*.json", GLOB_APPEND, NULL, &gl), 0);
    /* the spaces this test has always covered are among them */
    static const char *must[] = {"anynetx_a.json", "regnety.json", "mbconv.json",
                                 "imagenet/regnetx.json", "studies/plain_bn_after.json",
                                 "mobilenet_v1.json", "shufflenet_v2.json", "efficientnet.json",
                                 "repvgg.json", "acnet.json"};
    for (size_t m = 0; m < sizeof must / sizeof *must; m++) {
        int found = 0;
        for (size_t f = 0; f < gl.gl_pathc; f++)
            found |= strstr(gl.gl_pathv[f], must[m]) != NULL;
        if (!found)
            fail_msg("spaces/%s is missing", must[m]);
    }
    for (size_t f = 0; f < gl.gl_pathc; f++) {
        const char *path = gl.gl_pathv[f];
        if (strstr(path, "/presets/")) /* model configs (netspace model --config), not spaces */
            continue;
        struct ns_space *sp = load(path);
        struct ns_trial *t;
        int n = strstr(path, "compound") ? 7 : strstr(path, "scaling") ? 9 : 100;
        if (ns_space_sample(sp, 1, n, &t, NULL))
            fail_msg("%s: %s", path, ns_errmsg());
        struct ns_constraints k;
        ns_space_constraints(sp, &k);
        for (int i = 0; i < n; i++) {
            assert_int_equal(t[i].index, i);
            assert_true(met(&k, &t[i]));
            assert_int_equal(t[i].n_params, ns_space_n_params(sp));
            assert_int_equal(ns_config_check(&t[i].config), 0);
            /* The stored JSON and hash are the config's. */
            char *s = ns_config_to_json(&t[i].config);
            char h[17];
            ns_config_hash(&t[i].config, h);
            assert_string_equal(s, t[i].json);
            assert_string_equal(h, t[i].hash);
            free(s);
            struct ns_complexity cx;
            ns_complexity(&t[i].config, &cx);
            assert_memory_equal(&cx, &t[i].cx, sizeof cx);
        }
        free(t);
        ns_space_free(sp);
    }
    globfree(&gl);
}

static void parameter_names(void **state)
{
    (void)state;
    struct ns_space *sp = load(SPACES "regnetx.json");
    assert_string_equal(ns_space_name(sp), "regnetx");
    assert_string_equal(ns_space_path(sp), SPACES "regnetx.json");
    const char *rg[] = {"depth", "w0", "wa", "wm", "group_w", "bot_mul", "se_r"};
    assert_int_equal(ns_space_n_params(sp), 7);
    for (int i = 0; i < 7; i++)
        assert_string_equal(ns_space_param_name(sp, i), rg[i]);
    assert_null(ns_space_param_name(sp, 7));
    ns_space_free(sp);
    sp = load(SPACES "anynetx_b.json");
    const char *b[] = {"d1", "d2", "d3", "w1", "w2", "w3", "b", "g1", "g2", "g3"};
    assert_int_equal(ns_space_n_params(sp), 10);
    for (int i = 0; i < 10; i++)
        assert_string_equal(ns_space_param_name(sp, i), b[i]);
    ns_space_free(sp);
    sp = load(SPACES "mbconv.json");
    const char *m[] = {"d1", "d2", "d3", "w1", "w2", "w3", "b1", "b2", "b3", "se_r"};
    assert_int_equal(ns_space_n_params(sp), 10);
    for (int i = 0; i < 10; i++)
        assert_string_equal(ns_space_param_name(sp, i), m[i]);
    ns_space_free(sp);
}

static void regnet_trials_are_generated_from_their_parameters(void **state)
{
    (void)state;
    struct ns_space *sp = load(SPACES "regnety.json");
    struct ns_trial *t;
    assert_int_equal(ns_space_sample(sp, 5, 50, &t, NULL), 0);
    for (int i = 0; i < 50; i++) {
        const double *p = t[i].params;
        struct ns_regnet r = {(int)p[0], p[1], p[2], p[3], (int)p[4], p[5], p[6]};
        assert_true(p[6] == 0.25);
        struct ns_config c = t[i].config;
        assert_int_equal(ns_regnet_generate(&r, 1, &c), 0);
        assert_memory_equal(&c, &t[i].config, sizeof c);
        assert_true(fmod(p[1], 8) == 0 && p[1] >= 8 && p[1] <= 64);
    }
    free(t);
    ns_space_free(sp);
}

/* Index of parameter `name` in the space's list, or fail. */
static int param_index(const struct ns_space *sp, const char *name)
{
    for (int i = 0; i < ns_space_n_params(sp); i++)
        if (!strcmp(ns_space_param_name(sp, i), name))
            return i;
    fail_msg("no parameter %s", name);
    return -1;
}

static void anynet_progression_semantics(void **state)
{
    (void)state;
    const char *names[] = {"anynetx_a", "anynetx_b", "anynetx_c", "anynetx_d", "anynetx_e"};
    int b_varies[5] = {0}, g_varies[5] = {0}, w_drops[5] = {0}, d_drops[5] = {0};
    for (int s = 0; s < 5; s++) {
        char path[256];
        snprintf(path, sizeof path, SPACES "%s.json", names[s]);
        struct ns_space *sp = load(path);
        struct ns_trial *t;
        assert_int_equal(ns_space_sample(sp, 3, 300, &t, NULL), 0);
        for (int i = 0; i < 300; i++) {
            const struct ns_config *c = &t[i].config;
            assert_int_equal(c->n_stages, 3);
            assert_int_equal(c->stages[0].s, 1);
            for (int k = 0; k < 3; k++) {
                const struct ns_stage *st = &c->stages[k];
                char gk[4] = {'g', (char)('1' + k), 0};
                double g = t[i].params[param_index(sp, s >= 2 ? "g" : gk)];
                /* The drawn group width, or the bottleneck width when that is smaller. */
                assert_true(st->g == (int)g || st->g == ns_round_even(st->w * st->b));
                if (k == 0)
                    continue;
                b_varies[s] |= st->b != c->stages[0].b;
                g_varies[s] |= st->g != c->stages[0].g;
                w_drops[s] |= st->w < c->stages[k - 1].w;
                d_drops[s] |= st->d < c->stages[k - 1].d;
            }
        }
        free(t);
        ns_space_free(sp);
    }
    /* Each step fixes what the one before left free. */
    assert_true(b_varies[0] && !b_varies[1] && !b_varies[4]);
    assert_true(g_varies[0] && g_varies[1]); /* C on: checked per stage above */
    assert_true(w_drops[2] && !w_drops[3] && !w_drops[4]);
    assert_true(d_drops[3] && !d_drops[4]);
}

static void trial_i_is_deterministic_and_prefix_stable(void **state)
{
    (void)state;
    struct ns_space *sp = load(SPACES "regnetx.json");
    struct ns_trial *a, *b, *c, *d;
    assert_int_equal(ns_space_sample(sp, 42, 300, &a, NULL), 0);
    assert_int_equal(ns_space_sample(sp, 42, 300, &b, NULL), 0);
    assert_int_equal(ns_space_sample(sp, 42, 120, &c, NULL), 0);
    assert_int_equal(ns_space_sample(sp, 43, 300, &d, NULL), 0);
    assert_memory_equal(a, b, 300 * sizeof *a);
    assert_memory_equal(a, c, 120 * sizeof *a);
    int same = 0;
    for (int i = 0; i < 300; i++)
        same += strcmp(a[i].hash, d[i].hash) == 0;
    assert_true(same < 30); /* another seed, other configs */
    /* Trial i is the draw of its stream, and streams only move forward. */
    for (int i = 0; i < 300; i++) {
        struct ns_trial one;
        assert_int_equal(ns_space_draw(sp, 42, a[i].stream, &one, NULL), 0);
        assert_string_equal(one.json, a[i].json);
        assert_true(a[i].stream >= (uint64_t)i);
        assert_true(i == 0 || a[i].stream > a[i - 1].stream);
    }
    free(a);
    free(b);
    free(c);
    free(d);
    ns_space_free(sp);
}

static void constraints_reject_and_redraw_in_the_same_stream(void **state)
{
    (void)state;
    struct ns_space *sp = load(SPACES "regnetx.json");
    struct ns_sample_stats st = {0};
    struct ns_trial *t;
    assert_int_equal(ns_space_sample(sp, 9, 500, &t, &st), 0);
    assert_true(st.rejected > 0 && st.rej_flops > 0 && st.rej_stages > 0);
    assert_true(st.draws == st.rejected + 500 + st.duplicates);
    assert_true(st.streams == 500 + st.duplicates);
    int redrawn = 0;
    for (int i = 0; i < 500; i++)
        redrawn += t[i].tries > 1;
    assert_true(redrawn > 0);
    /* Narrowing keeps every trial inside the new range, and changes the sample. */
    struct ns_constraints k;
    ns_constraints_none(&k);
    k.flops_lo = 1e7;
    k.flops_hi = 2e7;
    k.params_hi = 2e5;
    assert_int_equal(ns_space_narrow(sp, &k), 0);
    struct ns_trial *u;
    assert_int_equal(ns_space_sample(sp, 9, 200, &u, NULL), 0);
    for (int i = 0; i < 200; i++)
        assert_true(u[i].cx.flops >= 1e7 && u[i].cx.flops <= 2e7 && u[i].cx.params <= 2e5 &&
                    u[i].config.n_stages >= 3);
    ns_space_constraints(sp, &k);
    assert_true(k.flops_lo == 1e7 && k.flops_hi == 2e7 && k.stages_lo == 3 && k.stages_hi == 4);
    /* A range outside the space's. */
    ns_constraints_none(&k);
    k.flops_lo = 1e8;
    assert_int_equal(ns_space_narrow(sp, &k), -1);
    assert_non_null(strstr(ns_errmsg(), "regnetx.json: constraints.flops"));
    free(t);
    free(u);
    ns_space_free(sp);
}

static void constraints_from_json(void **state)
{
    (void)state;
    json_error_t e;
    json_t *j =
        json_loads("{\"flops\": [1e6, null], \"params\": [null, 5e5], \"stages\": [2, 3]}", 0, &e);
    struct ns_constraints k;
    ns_constraints_none(&k);
    assert_int_equal(ns_constraints_from_jansson(j, "x.json: budget", &k), 0);
    assert_true(k.flops_lo == 1e6 && isinf(k.flops_hi) && k.params_lo == 0 && k.params_hi == 5e5 &&
                k.stages_lo == 2 && k.stages_hi == 3 && isinf(k.acts_hi));
    json_decref(j);
    const char *bad[][2] = {{"{\"flops\": [5, 1]}", "x.json: budget.flops: lo 5 > hi 1"},
                            {"{\"flops\": 5}", "x.json: budget.flops: expected [lo, hi]"},
                            {"{\"flop\": [1, 2]}", "x.json: budget: unknown field 'flop'"},
                            {"{\"acts\": [\"a\", 2]}", "x.json: budget.acts[0]: expected"},
                            {"{\"stages\": [9, 12]}", "x.json: budget.stages: no stage count"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        j = json_loads(bad[i][0], 0, &e);
        ns_constraints_none(&k);
        assert_int_equal(ns_constraints_from_jansson(j, "x.json: budget", &k), -1);
        if (!strstr(ns_errmsg(), bad[i][1]))
            fail_msg("'%s' does not contain '%s'", ns_errmsg(), bad[i][1]);
        json_decref(j);
    }
}

static void duplicates_are_dropped(void **state)
{
    (void)state;
    struct ns_space *sp = load(FIX "four_configs.json");
    struct ns_trial *t;
    struct ns_sample_stats st = {0};
    assert_int_equal(ns_space_sample(sp, 1, 4, &t, &st), 0);
    assert_true(st.duplicates > 0); /* seed 1 repeats a config within its first streams */
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < i; k++)
            assert_string_not_equal(t[i].hash, t[k].hash);
    free(t);
    assert_int_equal(ns_space_sample(sp, 1, 5, &t, NULL), -1);
    assert_null(t);
    assert_non_null(strstr(ns_errmsg(), "four_configs.json: only 4 distinct configs"));
    ns_space_free(sp);
}

static void set_input_reshapes_every_trial(void **state)
{
    (void)state;
    struct ns_space *sp = load(SPACES "resnet.json");
    int c, s, k;
    ns_space_input(sp, &c, &s, &k);
    assert_true(c == 1 && s == 28 && k == 10);
    assert_int_equal(ns_space_set_input(sp, 3, 32, 100), 0);
    struct ns_trial *t;
    assert_int_equal(ns_space_sample(sp, 2, 20, &t, NULL), 0);
    for (int i = 0; i < 20; i++)
        assert_true(t[i].config.in_ch == 3 && t[i].config.im_size == 32 &&
                    t[i].config.classes == 100 && strstr(t[i].json, "\"classes\":100,"));
    free(t);
    assert_int_equal(ns_space_set_input(sp, 0, 32, 10), -1);
    assert_non_null(strstr(ns_errmsg(), "resnet.json: input: in_ch"));
    ns_space_free(sp);
}

/* A large study samples 10,000 distinct valid configs (its speed is a benchmark's business:
 * `time netspace sample --space spaces/regnetx.json --n 10000 --summary`, README). */
static void ten_thousand_regnetx_samples_are_distinct(void **state)
{
    (void)state;
    struct ns_space *sp = load(SPACES "regnetx.json");
    struct ns_trial *t;
    const int n = 10000;
    assert_int_equal(ns_space_sample(sp, 11, n, &t, NULL), 0);
    uint64_t *h = malloc(sizeof *h * n);
    assert_non_null(h);
    for (int i = 0; i < n; i++) {
        assert_int_equal(t[i].index, i);
        h[i] = strtoull(t[i].hash, NULL, 16);
    }
    qsort(h, n, sizeof *h, cmp_u64);
    for (int i = 1; i < n; i++)
        assert_true(h[i] != h[i - 1]);
    free(h);
    free(t);
    ns_space_free(sp);
}

/* Load a file that must fail, with a message holding `want`. */
static void expect_load_error(const char *path, const char *want)
{
    ns_err_clear();
    struct ns_space *sp = ns_space_load(path);
    if (sp)
        fail_msg("%s loaded", path);
    if (!strstr(ns_errmsg(), want))
        fail_msg("error '%s' does not contain '%s'", ns_errmsg(), want);
}

static void malformed_space_files(void **state)
{
    (void)state;
    expect_load_error(FIX "bad_json.json", "bad_json.json: line 5, column");
    expect_load_error(FIX "bad_unknown_dist.json",
                      "bad_unknown_dist.json: params.w0.dist: unknown distribution 'gaussian'");
    expect_load_error(FIX "bad_lo_gt_hi.json", "bad_lo_gt_hi.json: params.wa: lo 64 > hi 4");
    expect_load_error(FIX "bad_missing_field.json",
                      "bad_missing_field.json: params.wm: missing field");
    expect_load_error(FIX "no_such_space.json", "no_such_space.json");
    /* A constraint nothing meets: the error comes when sampling. */
    struct ns_space *sp = load(FIX "impossible.json");
    struct ns_trial *t;
    assert_int_equal(ns_space_sample(sp, 0, 3, &t, NULL), -1);
    assert_non_null(strstr(ns_errmsg(), "impossible.json: constraints: no config met them in "
                                        "200 tries"));
    ns_space_free(sp);
}

/* The regnetx space with one change, loaded as "t.json". */
static void expect_edit_error(const char *from, const char *to, const char *want)
{
    static const char *base =
        "{\"name\": \"t\", \"kind\": \"regnet\", \"block\": \"x\", "
        "\"stem\": {\"type\": \"cifar\", \"w\": 16}, "
        "\"input\": {\"in_ch\": 1, \"im_size\": 28, \"classes\": 10}, "
        "\"params\": {\"depth\": {\"dist\": \"uniform\", \"lo\": 4, \"hi\": 16, \"q\": 1}, "
        "\"w0\": {\"dist\": \"log_uniform\", \"lo\": 8, \"hi\": 64, \"q\": 8}, "
        "\"wa\": {\"dist\": \"log_uniform\", \"lo\": 4, \"hi\": 64, \"q\": 0.01}, "
        "\"wm\": {\"dist\": \"log_uniform\", \"lo\": 1.5, \"hi\": 3, \"q\": 0.01}, "
        "\"group_w\": {\"dist\": \"pow2\", \"lo\": 1, \"hi\": 32}}, "
        "\"constraints\": {\"flops\": [2e6, 6e7]}}";
    char buf[2048];
    const char *p = strstr(base, from);
    assert_non_null(p);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - base), base, to, p + strlen(from));
    json_error_t e;
    json_t *j = json_loads(buf, 0, &e);
    if (!j)
        fail_msg("test JSON: %s: %s", e.text, buf);
    ns_err_clear();
    struct ns_space *sp = ns_space_from_jansson(j, "t.json");
    json_decref(j);
    if (sp)
        fail_msg("loaded with %s -> %s", from, to);
    if (!strstr(ns_errmsg(), want))
        fail_msg("error '%s' does not contain '%s'", ns_errmsg(), want);
}

/* A space's bn_order reaches every sampled config and changes nothing else: the same seed
 * samples the same architectures in either order (the paired BN-order study relies on it). */
static void bn_order_reaches_the_configs_and_nothing_else(void **state)
{
    (void)state;
    const char *path = SPACES "studies/residual.json";
    struct ns_space *a = load(path);
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    assert_non_null(j);
    json_object_set_new(j, "bn_order", json_string("after_act"));
    struct ns_space *b = ns_space_from_jansson(j, "after.json");
    json_decref(j);
    assert_non_null(b);
    struct ns_trial *ta, *tb;
    assert_int_equal(ns_space_sample(a, 1, 12, &ta, NULL), 0);
    assert_int_equal(ns_space_sample(b, 1, 12, &tb, NULL), 0);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(ta[i].config.bn_order, NS_BN_BEFORE_ACT);
        assert_int_equal(tb[i].config.bn_order, NS_BN_AFTER_ACT);
        assert_non_null(strstr(tb[i].json, "\"bn_order\":\"after_act\""));
        assert_null(strstr(ta[i].json, "bn_order"));
        assert_string_not_equal(ta[i].hash, tb[i].hash);
        struct ns_config c = tb[i].config;
        c.bn_order = NS_BN_BEFORE_ACT;
        assert_memory_equal(&c, &ta[i].config, sizeof c);
        assert_true(ta[i].cx.flops == tb[i].cx.flops && ta[i].cx.params == tb[i].cx.params);
    }
    free(ta);
    free(tb);
    ns_space_free(a);
    ns_space_free(b);
}

static void each_space_error_names_the_field(void **state)
{
    (void)state;
    expect_edit_error("\"name\": \"t\", ", "", "t.json.name: missing field");
    expect_edit_error("\"kind\": \"regnet\"", "\"kind\": \"nas\"",
                      "t.json.kind: unknown kind 'nas'");
    expect_edit_error("\"block\": \"x\"", "\"block\": \"sep\"", "t.json.block: a regnet space");
    expect_edit_error("\"block\": \"x\"", "\"block\": \"q\"", "t.json.block: unknown block type");
    expect_edit_error("\"type\": \"cifar\"", "\"type\": \"big\"", "t.json.stem.type: unknown stem");
    expect_edit_error("\"im_size\": 28", "\"im_size\": 2", "t.json.input.im_size: 2 is not in");
    expect_edit_error("\"name\"", "\"parms\": {}, \"name\"", "t.json: unknown field 'parms'");
    expect_edit_error("\"lo\": 8, \"hi\": 64, \"q\": 8", "\"lo\": 8, \"hi\": 64, \"q\": 4",
                      "t.json: params.w0: must give multiples of 8");
    expect_edit_error("\"lo\": 4, \"hi\": 16, \"q\": 1", "\"lo\": 4, \"hi\": 16, \"q\": 0.5",
                      "t.json: params.depth: must give integers");
    expect_edit_error("\"lo\": 1.5, \"hi\": 3", "\"lo\": 0.5, \"hi\": 3",
                      "t.json: params.wm: values down to 0.5, must be > 1");
    expect_edit_error("\"group_w\"", "\"se_r\": 0.25, \"group_w\"",
                      "t.json: params.se_r: block x has no squeeze-and-excitation");
    expect_edit_error("\"group_w\"", "\"g\": 1, \"group_w\"", "t.json: params: unknown field 'g'");
    expect_edit_error("\"name\": \"t\", ", "\"name\": \"t\", \"bn_order\": \"post\", ",
                      "t.json.bn_order: unknown order 'post' (before_act, after_act)");
    expect_edit_error("\"constraints\"", "\"stages\": 3, \"constraints\"",
                      "t.json.stages: only for anynet spaces");
    expect_edit_error("[2e6, 6e7]", "[6e7, 2e6]", "t.json: constraints.flops: lo 6e+07 > hi 2e+06");
    /* anynet-only errors */
    expect_edit_error("\"kind\": \"regnet\"", "\"kind\": \"anynet\"",
                      "t.json.stages: missing field");
    expect_edit_error("\"kind\": \"regnet\", \"block\": \"x\"",
                      "\"kind\": \"anynet\", \"stages\": 2, \"strides\": [1], \"block\": \"x\"",
                      "t.json.strides: expected a list of 2 strides");
    expect_edit_error("\"kind\": \"regnet\", \"block\": \"x\"",
                      "\"kind\": \"anynet\", \"stages\": 2, \"block\": \"x\"",
                      "t.json: params: unknown field 'depth'");
}

static void anynet_field_rules(void **state)
{
    (void)state;
    const char *head = "{\"name\": \"a\", \"kind\": \"anynet\", \"stem\": {\"type\": \"cifar\", "
                       "\"w\": 8}, \"input\": {\"in_ch\": 1, \"im_size\": 8, \"classes\": 2}, "
                       "\"stages\": 2, ";
    const char *cases[][2] = {
        {"\"block\": \"x\", \"params\": {\"d\": 1, \"w\": 8, \"b\": 1}}",
         "a.json: params.g: missing field"},
        {"\"block\": \"vanilla\", \"params\": {\"d\": 1, \"w\": 8, \"g\": 1}}",
         "a.json: params.g: block vanilla has no group width"},
        {"\"block\": \"sep\", \"params\": {\"d\": 1, \"w\": 8, \"b\": 2}}",
         "a.json: params.b: block sep has no bottleneck"},
        {"\"block\": \"res_basic\", \"params\": {\"d\": 1, \"w\": 8, \"se_r\": 0.25}}",
         "a.json: params.se_r: block res_basic has no SE"},
        {"\"block\": \"vanilla\", \"params\": {\"d\": 1, \"w\": 8}, \"shared\": [\"z\"]}",
         "a.json: shared[0]: not one of d, w, b, g"},
        {"\"block\": \"vanilla\", \"params\": {\"d\": 1, \"w\": 8}, \"shared\": [\"b\"]}",
         "a.json: shared: the space has no parameter b"},
        {"\"block\": \"vanilla\", \"params\": {\"d\": 0, \"w\": 8}}",
         "a.json: params.d: values down to 0, must be >= 1"},
        {"\"block\": \"vanilla\", \"params\": {\"d\": 1, \"w\": 8}, \"constraints\": {\"stages\": "
         "[3, 4]}}",
         "a.json: constraints.stages: the space has 2 stages"},
        {"\"block\": \"vanilla\", \"params\": {\"d\": 1, \"w\": 8}, \"first_stride\": 1}",
         "a.json.first_stride: only for regnet spaces"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s%s", head, cases[i][0]);
        json_error_t e;
        json_t *j = json_loads(buf, 0, &e);
        if (!j)
            fail_msg("test JSON: %s", e.text);
        struct ns_space *sp = ns_space_from_jansson(j, "a.json");
        json_decref(j);
        if (sp)
            fail_msg("case %zu loaded", i);
        if (!strstr(ns_errmsg(), cases[i][1]))
            fail_msg("error '%s' does not contain '%s'", ns_errmsg(), cases[i][1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_shipped_space_samples_valid_configs),
        cmocka_unit_test(parameter_names),
        cmocka_unit_test(regnet_trials_are_generated_from_their_parameters),
        cmocka_unit_test(anynet_progression_semantics),
        cmocka_unit_test(trial_i_is_deterministic_and_prefix_stable),
        cmocka_unit_test(constraints_reject_and_redraw_in_the_same_stream),
        cmocka_unit_test(constraints_from_json),
        cmocka_unit_test(duplicates_are_dropped),
        cmocka_unit_test(set_input_reshapes_every_trial),
        cmocka_unit_test(ten_thousand_regnetx_samples_are_distinct),
        cmocka_unit_test(malformed_space_files),
        cmocka_unit_test(bn_order_reaches_the_configs_and_nothing_else),
        cmocka_unit_test(each_space_error_names_the_field),
        cmocka_unit_test(anynet_field_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
