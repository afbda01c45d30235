/* The model config's canonical JSON, its hash, and reading it back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "space/space.h"
#include "util/err.h"

static const char *bench_json =
    "{\"block\":\"x\",\"classes\":10,\"im_size\":28,\"in_ch\":1,\"se_r\":0.0,\"stages\":["
    "{\"b\":1.0,\"d\":1,\"g\":8,\"s\":2,\"w\":32},{\"b\":1.0,\"d\":2,\"g\":8,\"s\":2,\"w\":64},"
    "{\"b\":1.0,\"d\":4,\"g\":8,\"s\":2,\"w\":128}],\"stem\":{\"type\":\"cifar\",\"w\":16}}";

static void bench_net_canonical_json_is_sorted_and_compact(void **state)
{
    (void)state;
    struct ns_config c;
    ns_config_bench_net(&c);
    char *s = ns_config_to_json(&c);
    assert_non_null(s);
    assert_string_equal(s, bench_json);
    free(s);
}

static void fnv1a_matches_reference_vectors(void **state)
{
    (void)state;
    assert_true(ns_fnv1a64("", 0) == 0xcbf29ce484222325ULL);
    assert_true(ns_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);
    assert_true(ns_fnv1a64("foobar", 6) == 0x85944171f73967e8ULL);
    char h[17];
    ns_config_hash_json("a", h);
    assert_string_equal(h, "af63dc4c8601ec8c");
}

static void hash_ignores_key_order_spacing_and_number_form(void **state)
{
    (void)state;
    /* The bench net written with shuffled keys, whitespace, 1 for 1.0 and 2.0 for 2. */
    const char *other =
        "{ \"stem\": {\"w\": 16, \"type\": \"cifar\"}, \"in_ch\": 1, \"classes\": 10.0,\n"
        "  \"im_size\": 28, \"block\": \"x\",\n"
        "  \"stages\": [{\"w\": 32, \"d\": 1, \"s\": 2.0, \"g\": 8, \"b\": 1},\n"
        "             {\"d\": 2, \"w\": 64, \"s\": 2, \"g\": 8, \"b\": 1.00},\n"
        "             {\"d\": 4, \"w\": 128, \"s\": 2, \"g\": 8, \"b\": 1e0}] }";
    struct ns_config a, b;
    ns_config_bench_net(&a);
    assert_int_equal(ns_config_from_json(other, &b), 0);
    char ha[17], hb[17];
    assert_int_equal(ns_config_hash(&a, ha), 0);
    assert_int_equal(ns_config_hash(&b, hb), 0);
    assert_string_equal(ha, hb);
    char *s = ns_config_to_json(&b);
    assert_string_equal(s, bench_json);
    free(s);
}

static void hash_changes_with_the_architecture(void **state)
{
    (void)state;
    struct ns_config a, b;
    ns_config_bench_net(&a);
    char ha[17], hb[17];
    ns_config_hash(&a, ha);
    b = a;
    b.stages[2].d = 3;
    ns_config_hash(&b, hb);
    assert_string_not_equal(ha, hb);
    b = a;
    b.im_size = 32;
    ns_config_hash(&b, hb);
    assert_string_not_equal(ha, hb);
}

static void round_trip_preserves_every_block_type(void **state)
{
    (void)state;
    for (int bl = 0; bl < NS_BLOCK_COUNT; bl++) {
        struct ns_config c;
        ns_config_bench_net(&c);
        c.block = (enum ns_block)bl;
        c.stem = NS_STEM_RES;
        c.se_r = bl == NS_BLOCK_Y || bl == NS_BLOCK_MBCONV ? 0.25 : 0;
        if (bl == NS_BLOCK_MBCONV)
            c.stages[1].b = 6;
        if (bl == NS_BLOCK_X)
            c.stages[0].b = 0.5;
        if (bl == NS_BLOCK_VIT) { /* one stage of stride 1 on a patch stem */
            c.stem = NS_STEM_PATCHIFY, c.patch = 4, c.stem_w = 32, c.n_stages = 1;
            c.stages[0] = (struct ns_stage){.d = 2, .w = 32, .s = 1, .g = 8, .b = 2};
        }
        ns_config_normalize(&c); /* the bench net's g = 8 is not every block's */
        char *s = ns_config_to_json(&c);
        assert_non_null(s);
        struct ns_config d;
        assert_int_equal(ns_config_from_json(s, &d), 0);
        char *t = ns_config_to_json(&d);
        assert_string_equal(s, t);
        ns_config_normalize(&c);
        assert_memory_equal(&c, &d, sizeof c);
        free(s);
        free(t);
    }
}

static void unused_fields_are_errors_and_normalize_canonicalizes_them(void **state)
{
    (void)state;
    /* A vanilla net does not take g, b or se_r: a value there is an error naming the field
     * (never dropped); normalizing (what samplers do) sets the canonical values. */
    struct ns_config a, b;
    ns_config_bench_net(&a);
    a.block = NS_BLOCK_VANILLA;
    ns_config_normalize(&a);
    b = a;
    b.stages[0].g = 4;
    b.stages[1].b = 0.5;
    b.se_r = 0.25;
    char ha[17], hb[17];
    assert_int_equal(ns_config_hash(&b, hb), -1);
    assert_non_null(strstr(ns_errmsg(), "se_r: block vanilla has no squeeze-and-excitation"));
    b.se_r = 0;
    assert_int_equal(ns_config_check(&b), -1);
    assert_non_null(strstr(ns_errmsg(), "stages[0].g: block vanilla has no group width"));
    b.stages[0].g = 0;
    assert_int_equal(ns_config_check(&b), -1);
    assert_non_null(strstr(ns_errmsg(), "stages[1].b: block vanilla has no bottleneck"));
    b.stages[0].g = 4;
    b.se_r = 0.25;
    ns_config_normalize(&b);
    assert_int_equal(ns_config_hash(&a, ha), 0);
    assert_int_equal(ns_config_hash(&b, hb), 0);
    assert_string_equal(ha, hb);
    char *s = ns_config_to_json(&b);
    assert_non_null(strstr(s, "{\"b\":1.0,\"d\":2,\"g\":0,\"s\":2,\"w\":64}"));
    assert_non_null(strstr(s, "\"se_r\":0.0"));
    free(s);
    /* sep and mbconv are depthwise: g = 1; sep has no b; only y and mbconv keep se_r. */
    a.block = NS_BLOCK_SEP;
    b = a;
    b.stages[0].b = 3;
    b.se_r = 0.5;
    ns_config_normalize(&b);
    assert_int_equal(b.stages[0].g, 1);
    assert_true(b.stages[0].b == 1.0 && b.se_r == 0);
    b.block = NS_BLOCK_MBCONV;
    b.stages[0].b = 3;
    b.se_r = 0.5;
    ns_config_normalize(&b);
    assert_true(b.stages[0].b == 3.0 && b.se_r == 0.5 && b.stages[0].g == 1);
}

static void reals_are_written_with_ten_digits(void **state)
{
    (void)state;
    struct ns_config c;
    ns_config_bench_net(&c);
    c.block = NS_BLOCK_Y;
    c.se_r = 0.1; /* 0.1000000000000000055... must not leak into the JSON */
    c.stages[0].b = 0.5;
    c.stages[0].g = 8;
    c.stages[0].w = 32;
    char *s = ns_config_to_json(&c);
    assert_non_null(strstr(s, "\"se_r\":0.1,"));
    assert_non_null(strstr(s, "{\"b\":0.5,\"d\":1,\"g\":8,\"s\":2,\"w\":32}"));
    free(s);
}

/* bench_json with the first `from` replaced by `to`, in buf (1024 bytes). */
static const char *replaced(char *buf, const char *from, const char *to)
{
    const char *p = strstr(bench_json, from);
    assert_non_null(p);
    snprintf(buf, 1024, "%.*s%s%s", (int)(p - bench_json), bench_json, to, p + strlen(from));
    return buf;
}

static void expect_error(const char *json, const char *want)
{
    struct ns_config c;
    ns_err_clear();
    assert_int_equal(ns_config_from_json(json, &c), -1);
    if (!strstr(ns_errmsg(), want))
        fail_msg("error '%s' does not contain '%s'", ns_errmsg(), want);
}

static void bad_configs_name_the_field(void **state)
{
    (void)state;
    char buf[1024];
    expect_error("{\"block\": \"x\",", "line 1, column");
    /* Remove one key at a time from the canonical form. */
    const char *keys[] = {"\"block\":\"x\",", "\"classes\":10,", "\"im_size\":28,", "\"in_ch\":1,"};
    const char *names[] = {"config.block: missing field", "config.classes: missing field",
                           "config.im_size: missing field", "config.in_ch: missing field"};
    for (int i = 0; i < 4; i++) {
        const char *p = strstr(bench_json, keys[i]);
        snprintf(buf, sizeof buf, "%.*s%s", (int)(p - bench_json), bench_json, p + strlen(keys[i]));
        expect_error(buf, names[i]);
    }
    expect_error(replaced(buf, "\"x\"", "\"z\""), "config.block: unknown block type 'z'");
    expect_error(replaced(buf, "cifar", "dummy"), "config.stem.type: unknown stem 'dummy'");
    expect_error(replaced(buf, "\"w\":64", "\"w\":6.5"),
                 "config.stages[1].w: 6.5 is not an integer");
    expect_error(replaced(buf, "\"s\":2,\"w\":128", "\"s\":3,\"w\":128"),
                 "config.stages[2].s: 3 is not in 1..2");
    expect_error(replaced(buf, "\"g\":8,\"s\":2,\"w\":64", "\"g\":7,\"s\":2,\"w\":64"),
                 "stages[1].g: group width 7 does not divide");
    expect_error(replaced(buf, "\"d\":4", "\"e\":4"), "config.stages[2]: unknown field 'e'");
    expect_error(replaced(buf, "\"se_r\":0.0", "\"se_r\":\"0\""), "config.se_r: expected a number");
    expect_error("[1, 2]", "config: expected an object");
    expect_error("{\"block\":\"x\",\"classes\":10,\"im_size\":28,\"in_ch\":1,\"stages\":[],"
                 "\"stem\":{\"type\":\"cifar\",\"w\":16}}",
                 "config.stages: 0 stages");
}

static void load_names_the_file(void **state)
{
    (void)state;
    struct ns_config c;
    assert_int_equal(ns_config_load(NS_FIXTURES "/space/bench_net.json", &c), 0);
    struct ns_config b;
    ns_config_bench_net(&b);
    assert_memory_equal(&b, &c, sizeof b);
    assert_int_equal(ns_config_load(NS_FIXTURES "/space/no_such_file.json", &c), -1);
    assert_non_null(strstr(ns_errmsg(), "no_such_file.json"));
    assert_int_equal(ns_config_load(NS_FIXTURES "/space/bad_config.json", &c), -1);
    assert_non_null(strstr(ns_errmsg(), "bad_config.json: config.stages[0].d: missing field"));
}

/* bn_order: written only when after_act, so every before_act config keeps its hash; read
 * back; refused for sep blocks and for unknown names. */
static void bn_order_is_canonical_and_checked(void **state)
{
    (void)state;
    struct ns_config a, b;
    ns_config_bench_net(&a);
    char ha[17], hb[17];
    ns_config_hash(&a, ha);
    a.bn_order = NS_BN_AFTER_ACT;
    char *s = ns_config_to_json(&a);
    assert_non_null(s);
    assert_non_null(strstr(s, "{\"block\":\"x\",\"bn_order\":\"after_act\",\"classes\":10,"));
    assert_int_equal(ns_config_from_json(s, &b), 0);
    assert_int_equal(b.bn_order, NS_BN_AFTER_ACT);
    ns_config_hash(&b, hb);
    assert_string_not_equal(ha, hb);
    free(s);

    char buf[1024];
    assert_int_equal(ns_config_from_json(replaced(buf, "\"classes\"",
                                                  "\"bn_order\":\"before_act\",\"classes\""),
                                         &b),
                     0);
    assert_int_equal(b.bn_order, NS_BN_BEFORE_ACT);
    ns_config_hash(&b, hb);
    assert_string_equal(ha, hb); /* the default spelled out hashes as the default */
    expect_error(replaced(buf, "\"classes\"", "\"bn_order\":\"after\",\"classes\""),
                 "config.bn_order: unknown order 'after'");

    ns_config_bench_net(&a);
    a.block = NS_BLOCK_SEP;
    a.bn_order = NS_BN_AFTER_ACT;
    ns_err_clear();
    assert_int_equal(ns_config_check(&a), -1);
    assert_non_null(strstr(ns_errmsg(), "bn_order: sep blocks are pre-activation"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bench_net_canonical_json_is_sorted_and_compact),
        cmocka_unit_test(fnv1a_matches_reference_vectors),
        cmocka_unit_test(hash_ignores_key_order_spacing_and_number_form),
        cmocka_unit_test(hash_changes_with_the_architecture),
        cmocka_unit_test(round_trip_preserves_every_block_type),
        cmocka_unit_test(unused_fields_are_errors_and_normalize_canonicalizes_them),
        cmocka_unit_test(bn_order_is_canonical_and_checked),
        cmocka_unit_test(reals_are_written_with_ten_digits),
        cmocka_unit_test(bad_configs_name_the_field),
        cmocka_unit_test(load_names_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
