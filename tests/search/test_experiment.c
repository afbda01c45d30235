/* Experiment files: every key read, every error naming the file and the key, the canonical
 * form (defaults written out, key order irrelevant), finding the space file, the dataset,
 * and the per-trial training seed. */
/* cmocka.h needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "search/search.h"
#include "util/err.h"

#define BASE "\"name\": \"t1\", \"space\": \"s.json\", \"samples\": 4"
#define DATA "\"data\": {\"name\": \"fashion-mnist\"}"

/* Parse `text` as "x.json"; expect failure with a message containing `want`. */
static void expect_error(const char *text, const char *want)
{
    struct ns_experiment ex;
    ns_err_clear();
    int rc = ns_experiment_parse(text, "x.json", &ex);
    if (rc == 0) {
        ns_experiment_free(&ex);
        fail_msg("accepted: %s", text);
    }
    if (!strstr(ns_errmsg(), want))
        fail_msg("message '%s' lacks '%s'", ns_errmsg(), want);
}

static void minimal_file_gets_defaults(void **state)
{
    (void)state;
    struct ns_experiment ex;
    assert_int_equal(ns_experiment_parse("{" BASE ", " DATA "}", "x.json", &ex), 0);
    assert_string_equal(ex.name, "t1");
    assert_string_equal(ex.space_file, "s.json");
    assert_null(ex.space_inline);
    assert_int_equal(ex.samples, 4);
    assert_int_equal(ex.seed, 1);
    assert_null(ex.constraints);
    assert_int_equal(ex.data.kind, NS_DATA_FASHION_MNIST);
    assert_null(ex.data.dir);
    assert_true(ex.data.val_split == 0);
    struct ns_recipe def;
    ns_recipe_default(&def);
    assert_int_equal(ex.recipe.epochs, def.epochs);
    assert_int_equal(ex.recipe.batch, def.batch);
    assert_true(ex.recipe.lr == def.lr);
    assert_true(ex.recipe.wd == def.wd);
    assert_int_equal(ex.recipe.threads, 1);
    ns_experiment_free(&ex);
}

static void every_key_is_read(void **state)
{
    (void)state;
    const char *text =
        "{\"name\": \"full-1.b\", \"space\": \"../spaces/x.json\", \"samples\": 100, \"seed\": 42,"
        " \"constraints\": {\"flops\": [1e6, null]},"
        " \"data\": {\"name\": \"cifar10\", \"dir\": \"/d\", \"val_split\": 0.1,"
        "          \"train_limit\": 5000, \"test_limit\": 1000},"
        " \"recipe\": {\"epochs\": 3, \"batch\": 64, \"lr\": 0.05, \"momentum\": 0.8,"
        "            \"nesterov\": false, \"weight_decay\": 1e-4, \"warmup_epochs\": 0.5,"
        "            \"warmup_factor\": 0.2, \"crop_pad\": 4, \"flip\": true, \"dropout\": 0.1,"
        "            \"zero_init_last_bn\": true, \"eval_batch\": 500},"
        " \"threads\": 2}";
    struct ns_experiment ex;
    if (ns_experiment_parse(text, "x.json", &ex) < 0)
        fail_msg("%s", ns_errmsg());
    assert_int_equal(ex.samples, 100);
    assert_int_equal(ex.seed, 42);
    assert_non_null(ex.constraints);
    assert_int_equal(ex.data.kind, NS_DATA_CIFAR10);
    assert_string_equal(ex.data.dir, "/d");
    assert_true(ex.data.val_split == 0.1);
    assert_int_equal(ex.data.train_limit, 5000);
    assert_int_equal(ex.data.test_limit, 1000);
    const struct ns_recipe *r = &ex.recipe;
    assert_int_equal(r->epochs, 3);
    assert_int_equal(r->batch, 64);
    assert_true(r->lr == 0.05 && r->momentum == 0.8 && r->wd == 1e-4);
    assert_int_equal(r->nesterov, 0);
    assert_true(r->warmup_epochs == 0.5 && r->warmup_factor == 0.2 && r->dropout == 0.1);
    assert_int_equal(r->crop_pad, 4);
    assert_int_equal(r->flip, 1);
    assert_int_equal(r->zero_init_last_bn, 1);
    assert_int_equal(r->eval_batch, 500);
    assert_int_equal(r->threads, 2);
    int c, size, classes;
    ns_exp_data_shape(&ex.data, &c, &size, &classes);
    assert_int_equal(c, 3);
    assert_int_equal(size, 32);
    assert_int_equal(classes, 10);
    ns_experiment_free(&ex);
}

static void unknown_keys_are_named_with_the_known_ones(void **state)
{
    (void)state;
    expect_error("{" BASE ", " DATA ", \"sample\": 3}",
                 "x.json: sample: unknown key (known: name, space, samples,");
    expect_error("{" BASE ", " DATA ", \"recipe\": {\"lrate\": 0.1}}",
                 "x.json: recipe.lrate: unknown key (known: epochs, batch, lr,");
    expect_error("{" BASE ", \"data\": {\"name\": \"cifar10\", \"folder\": \"x\"}}",
                 "x.json: data.folder: unknown key");
}

static void bad_values_are_named(void **state)
{
    (void)state;
    expect_error("{" BASE ", " DATA ", \"recipe\": {\"lr\": -1}}",
                 "x.json: recipe.lr: -1 is not in (0, 1e+09]");
    expect_error("{" BASE ", " DATA ", \"recipe\": {\"lr\": \"fast\"}}",
                 "x.json: recipe.lr: expected a number, got a string");
    expect_error("{" BASE ", " DATA ", \"recipe\": {\"epochs\": 0}}",
                 "x.json: recipe.epochs: 0 is not in 1..");
    expect_error("{" BASE ", " DATA ", \"recipe\": {\"epochs\": 2.5}}",
                 "x.json: recipe.epochs: expected an integer");
    expect_error("{" BASE ", " DATA ", \"recipe\": {\"nesterov\": 1}}",
                 "x.json: recipe.nesterov: expected true or false");
    expect_error("{" BASE ", " DATA ", \"recipe\": {\"momentum\": 1.5}}",
                 "x.json: recipe.momentum:");
    expect_error("{" BASE ", " DATA ", \"recipe\": {\"momentum\": 0, \"nesterov\": true}}",
                 "x.json: recipe.nesterov: needs momentum > 0");
    expect_error("{" BASE ", " DATA ", \"recipe\": {\"epochs\": 2, \"warmup_epochs\": 3}}",
                 "x.json: recipe.warmup_epochs:");
    expect_error("{" BASE ", " DATA ", \"recipe\": []}", "x.json: recipe: expected an object");
    expect_error("{" BASE ", " DATA ", \"threads\": 0}", "x.json: threads: 0 is not in 1..256");
    expect_error("{\"name\": \"t\", \"space\": \"s\", \"samples\": 0, " DATA "}",
                 "x.json: samples: 0 is not in 1..");
    expect_error("{\"name\": \"t\", \"space\": \"s\", \"samples\": \"4\", " DATA "}",
                 "x.json: samples: expected an integer");
    expect_error("{" BASE ", " DATA ", \"seed\": -1}", "x.json: seed: -1 is not in 0..");
    expect_error("{\"name\": \"a b\", \"space\": \"s\", \"samples\": 1, " DATA "}",
                 "x.json: name: 'a b' is not a name");
    expect_error("{\"name\": \"t\", \"space\": 3, \"samples\": 1, " DATA "}",
                 "x.json: space: expected a file name or a space object");
    expect_error("{" BASE ", \"data\": {\"name\": \"mnist\"}}",
                 "x.json: data.name: unknown dataset 'mnist'");
    expect_error("{" BASE ", \"data\": {\"name\": \"fashion-mnist\", \"n\": 100}}",
                 "x.json: data.n: only for the synthetic dataset");
    expect_error("{" BASE ", \"data\": {\"name\": \"synthetic\", \"dir\": \"/x\"}}",
                 "x.json: data.dir: not used by the synthetic dataset");
    expect_error("{" BASE ", \"data\": {\"name\": \"cifar10\", \"val_split\": 1}}",
                 "x.json: data.val_split: 1 is not in [0, 0.9]");
    expect_error("{" BASE ", " DATA ", \"constraints\": {\"flops\": [5, 1]}}",
                 "x.json: constraints");
    expect_error("{" BASE ", " DATA ", \"constraints\": 3}",
                 "x.json: constraints: expected an object");
}

static void missing_required_keys_are_named(void **state)
{
    (void)state;
    expect_error("{\"space\": \"s\", \"samples\": 1, " DATA "}", "x.json: name: missing");
    expect_error("{\"name\": \"t\", \"samples\": 1, " DATA "}", "x.json: space: missing");
    expect_error("{\"name\": \"t\", \"space\": \"s\", " DATA "}", "x.json: samples: missing");
    expect_error("{" BASE "}", "x.json: data: missing");
    expect_error("{" BASE ", \"data\": {}}", "x.json: data.name: missing");
}

static void malformed_json_gives_line_and_column(void **state)
{
    (void)state;
    expect_error("{\n  \"name\": \"t\",\n  oops\n}", "x.json:3:");
    expect_error("[1, 2]", "x.json: expected a JSON object at the top, got an array");
    expect_error("{" BASE ", " DATA ", \"samples\": 5}", "x.json:1:"); /* duplicate key */
    expect_error("", "x.json:");
}

static char *canon(const char *text)
{
    struct ns_experiment ex;
    if (ns_experiment_parse(text, "x.json", &ex) < 0)
        fail_msg("%s", ns_errmsg());
    char *s = strdup(ex.canonical);
    ns_experiment_free(&ex);
    return s;
}

static void canonical_form_ignores_spelling_not_meaning(void **state)
{
    (void)state;
    char *a = canon("{" BASE ", " DATA "}");
    /* the same with defaults written out, keys reordered, 4.0 for 4 */
    char *b = canon("{\"threads\": 1, \"seed\": 1, \"recipe\": {\"batch\": 128, \"epochs\": 10},"
                    " \"data\": {\"val_split\": 0, \"name\": \"fashion-mnist\", \"dir\": null},"
                    " \"samples\": 4.0, \"space\": \"s.json\", \"name\": \"t1\"}");
    char *c = canon("{" BASE ", " DATA ", \"recipe\": {\"lr\": 0.2}}");
    char *d = canon("{" BASE ", " DATA ", \"seed\": 2}");
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_string_not_equal(a, d);
    /* the canonical form parses back to itself */
    char *e = canon(a);
    assert_string_equal(a, e);
    assert_non_null(strstr(a, "\"lr\":"));
    assert_null(strchr(a, '\n'));
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
}

/* Adaptive gradient clipping: read, checked, and in the canonical form only when on, so
 * the studies recorded before the option existed keep theirs ("agc": 0 is the default). */
static void agc_is_canonical_only_when_on(void **state)
{
    (void)state;
    struct ns_experiment ex;
    const char *on = "{" BASE ", " DATA ", \"recipe\": {\"agc\": 0.04}}";
    if (ns_experiment_parse(on, "x.json", &ex) < 0)
        fail_msg("%s", ns_errmsg());
    assert_true(ex.recipe.agc == 0.04);
    ns_experiment_free(&ex);
    char *a = canon("{" BASE ", " DATA "}");
    char *b = canon("{" BASE ", " DATA ", \"recipe\": {\"agc\": 0}}");
    char *c = canon(on);
    assert_string_equal(a, b);
    assert_null(strstr(a, "agc"));
    assert_non_null(strstr(c, "\"agc\":0.04"));
    char *d = canon(c); /* parses back to itself */
    assert_string_equal(c, d);
    free(a), free(b), free(c), free(d);
    expect_error("{" BASE ", " DATA ", \"recipe\": {\"agc\": -0.1}}",
                 "x.json: recipe.agc: -0.1 is not in [0, 100]");
    expect_error("{" BASE ", " DATA ", \"recipe\": {\"agc\": true}}",
                 "x.json: recipe.agc: expected a number");
}

/* "eval_every": read, checked, and in the canonical form only above 1 (every epoch, the
 * default), so the studies recorded before the option existed keep theirs. */
static void eval_every_is_canonical_only_above_one(void **state)
{
    (void)state;
    struct ns_experiment ex;
    const char *four = "{" BASE ", " DATA ", \"recipe\": {\"epochs\": 4, \"eval_every\": 4}}";
    if (ns_experiment_parse(four, "x.json", &ex) < 0)
        fail_msg("%s", ns_errmsg());
    assert_int_equal(ex.recipe.eval_every, 4);
    ns_experiment_free(&ex);
    char *a = canon("{" BASE ", " DATA "}");
    char *b = canon("{" BASE ", " DATA ", \"recipe\": {\"eval_every\": 1}}");
    char *c = canon(four);
    assert_string_equal(a, b);
    assert_null(strstr(a, "eval_every"));
    assert_non_null(strstr(c, "\"eval_every\":4"));
    char *d = canon(c); /* parses back to itself */
    assert_string_equal(c, d);
    free(a), free(b), free(c), free(d);
    expect_error("{" BASE ", " DATA ", \"recipe\": {\"eval_every\": 0}}",
                 "x.json: recipe.eval_every: 0 is not in 1..100000");
    expect_error("{" BASE ", " DATA ", \"recipe\": {\"eval_every\": 2.5}}",
                 "x.json: recipe.eval_every");
}

/* "train_seed": the same architectures (from "seed") trained from other initial weights, for
 * a seed-to-seed ceiling; in the canonical form only when given, so earlier studies keep
 * theirs, and a study with another train_seed is another experiment. */
static void train_seed_key_moves_only_the_training_seeds(void **state)
{
    (void)state;
    struct ns_experiment a, b;
    if (ns_experiment_parse("{" BASE ", " DATA ", \"seed\": 5}", "x.json", &a) < 0 ||
        ns_experiment_parse("{" BASE ", " DATA ", \"seed\": 5, \"train_seed\": 9}", "x.json",
                            &b) < 0)
        fail_msg("%s", ns_errmsg());
    assert_int_equal(a.has_train_seed, 0);
    assert_int_equal(b.has_train_seed, 1);
    assert_true(a.seed == 5 && b.seed == 5); /* the same architectures */
    for (int i = 0; i < 4; i++) {
        assert_true(ns_exp_train_seed(&a, i) == ns_search_train_seed(5, i));
        assert_true(ns_exp_train_seed(&b, i) == ns_search_train_seed(9, i));
        assert_true(ns_exp_train_seed(&a, i) != ns_exp_train_seed(&b, i));
    }
    assert_null(strstr(a.canonical, "train_seed"));
    assert_non_null(strstr(b.canonical, "\"train_seed\":9"));
    char *c = canon(b.canonical); /* parses back to itself */
    assert_string_equal(b.canonical, c);
    char out[256];
    assert_int_equal(ns_experiment_diff(a.canonical, b.canonical, out, sizeof out), 1);
    assert_string_equal(out, "train_seed");
    free(c);
    ns_experiment_free(&a);
    ns_experiment_free(&b);
    expect_error("{" BASE ", " DATA ", \"train_seed\": -1}", "x.json: train_seed: -1 is not in 0..");
    expect_error("{" BASE ", " DATA ", \"train_seed\": \"2\"}", "x.json: train_seed: expected");
}

static void diff_names_the_changed_keys(void **state)
{
    (void)state;
    char out[512];
    char *a = canon("{" BASE ", " DATA "}");
    char *b = canon("{" BASE ", " DATA ", \"recipe\": {\"lr\": 0.3, \"flip\": true}}");
    assert_int_equal(ns_experiment_diff(a, a, out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(ns_experiment_diff(a, b, out, sizeof out), 2);
    assert_string_equal(out, "recipe.flip, recipe.lr");
    assert_int_equal(ns_experiment_diff("{\"a\": 1}", "{\"b\": {\"c\": 2}}", out, sizeof out), 2);
    assert_string_equal(out, "a, b");
    assert_int_equal(ns_experiment_diff("{", "{}", out, sizeof out), 0);
    free(a);
    free(b);
}

/* "limits" are read and checked, written into the canonical form only when one is not its
 * default (old experiments keep their text), and left out of the study's JSON, so a resume
 * may change them. */
static void limits_are_read_and_not_part_of_the_study(void **state)
{
    (void)state;
    struct ns_experiment ex;
    assert_int_equal(ns_experiment_parse("{" BASE ", " DATA "}", "x.json", &ex), 0);
    assert_int_equal(ex.limits.max_attempts, 2);
    assert_int_equal(ex.limits.memory_mb, 0);
    assert_true(ex.limits.trial_minutes == 0);
    assert_null(strstr(ex.canonical, "limits"));
    char *plain = ns_experiment_study_json(&ex, NULL);
    ns_experiment_free(&ex);
    assert_int_equal(ns_experiment_parse("{" BASE ", " DATA ", \"limits\": {\"memory_mb\": 900, "
                                         "\"trial_minutes\": 2.5, \"max_attempts\": 3}}",
                                         "x.json", &ex),
                     0);
    assert_int_equal(ex.limits.memory_mb, 900);
    assert_true(ex.limits.trial_minutes == 2.5);
    assert_int_equal(ex.limits.max_attempts, 3);
    assert_non_null(strstr(ex.canonical, "\"limits\":{\"isolate\":true,\"max_attempts\":3"));
    char *limited = ns_experiment_study_json(&ex, NULL);
    assert_string_equal(plain, limited);
    /* the canonical form, as a worker gets it, parses back to the same limits */
    struct ns_experiment again;
    assert_int_equal(ns_experiment_parse(ex.canonical, "rank 0", &again), 0);
    assert_int_equal(again.limits.memory_mb, 900);
    assert_true(again.limits.trial_minutes == 2.5);
    ns_experiment_free(&again);
    ns_experiment_free(&ex);
    free(plain);
    free(limited);
    expect_error("{" BASE ", " DATA ", \"limits\": {\"max_attempts\": 0}}",
                 "x.json: limits.max_attempts:");
    expect_error("{" BASE ", " DATA ", \"limits\": {\"trial_minutes\": -1}}",
                 "x.json: limits.trial_minutes:");
    expect_error("{" BASE ", " DATA ", \"limits\": {\"memory\": 1}}",
                 "x.json: limits.memory: unknown key (known: memory_mb, trial_minutes, "
                 "max_attempts, isolate)");
    expect_error("{" BASE ", " DATA ", \"limits\": 3}", "x.json: limits: expected an object");
    /* jansson's hint about a library flag is said in words */
    expect_error("{\"name\": \"a\\u0000b\"}", "a NUL character (\\u0000) is not allowed");
}

/* A batch larger than the training set is refused before any trial runs. */
static void batch_larger_than_the_training_set_is_refused(void **state)
{
    (void)state;
    struct ns_experiment ex;
    assert_int_equal(ns_experiment_parse("{" BASE ", \"data\": {\"name\": \"synthetic\", "
                                         "\"n\": 100}, \"recipe\": {\"batch\": 101}}",
                                         "x.json", &ex),
                     0);
    struct ns_dataset train = {.n = 100};
    ns_err_clear();
    assert_int_equal(ns_exp_data_check(&ex, &train), -1);
    assert_non_null(strstr(ns_errmsg(), "x.json: recipe.batch: 101 is larger than the training "
                                        "set (100 images)"));
    train.n = 101;
    assert_int_equal(ns_exp_data_check(&ex, &train), 0);
    ns_experiment_free(&ex);
}

static void train_seed_is_splitmix64(void **state)
{
    (void)state;
    /* splitmix64 seeded with 0 starts 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4 (its published
     * sequence); trial i of study seed 0 is output i. */
    assert_true(ns_search_train_seed(0, 0) == 0xe220a8397b1dcdafull);
    assert_true(ns_search_train_seed(0, 1) == 0x6e789e6aa1b965f4ull);
    /* worked by hand from the formula: mix(42 ^ 3*golden) */
    assert_true(ns_search_train_seed(42, 2) == 0x5fd30d2fcbef75e3ull);
    assert_true(ns_search_train_seed(7, 3) != ns_search_train_seed(8, 3));
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *tiny_space =
    "{\"name\": \"t\", \"kind\": \"regnet\", \"block\": \"x\", \"stem\": {\"type\": \"cifar\", "
    "\"w\": 8}, \"input\": {\"in_ch\": 1, \"im_size\": 28, \"classes\": 10}, \"first_stride\": 1, "
    "\"params\": {\"depth\": {\"dist\": \"uniform\", \"lo\": 2, "
    "\"hi\": 4, \"q\": 1}, \"w0\": 8, \"wa\": 8, \"wm\": 2, \"group_w\": 8}}";

static void space_file_is_found_beside_the_experiment(void **state)
{
    (void)state;
    char dir[] = "/tmp/ns_exp_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[256], exp[300], sp[300];
    snprintf(sub, sizeof sub, "%s/exps", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(exp, sizeof exp, "%s/e.json", sub);
    snprintf(sp, sizeof sp, "%s/tiny.json", dir);
    write_file(sp, tiny_space);
    write_file(exp, "{\"name\": \"e\", \"space\": \"../tiny.json\", \"samples\": 3,"
                    " \"data\": {\"name\": \"synthetic\", \"size\": 12}}");
    struct ns_experiment ex;
    if (ns_experiment_load(exp, &ex) < 0)
        fail_msg("%s", ns_errmsg());
    char want[400];
    snprintf(want, sizeof want, "%s/../tiny.json", sub);
    assert_string_equal(ex.space_path, want);
    /* the space file is read once, by the load: an edit made afterwards (while a study
     * starts) reaches neither the sampling nor the stored study */
    write_file(sp, "{\"edited\": true}");
    struct ns_space *s = ns_experiment_space(&ex);
    if (!s)
        fail_msg("%s", ns_errmsg());
    struct ns_trial *t = NULL;
    assert_int_equal(ns_space_sample(s, ex.seed, ex.samples, &t, NULL), 0);
    assert_int_equal(t[0].config.im_size, 12); /* the dataset's shape, not the space's */
    free(t);
    ns_space_free(s);
    /* the study JSON carries the space inline */
    char *study = ns_experiment_study_json(&ex, ex.space_path);
    assert_non_null(study);
    assert_non_null(strstr(study, "\"space\":{\"block\":\"x\","));
    free(study);
    ns_experiment_free(&ex);

    write_file(exp, "{\"name\": \"e\", \"space\": \"nowhere.json\", \"samples\": 3,"
                    " \"data\": {\"name\": \"synthetic\"}}");
    assert_int_equal(ns_experiment_load(exp, &ex), -1);
    assert_non_null(strstr(ns_errmsg(), "e.json: space: cannot read 'nowhere.json'"));
    unlink(exp);
    assert_int_equal(ns_experiment_load(exp, &ex), -1);
    assert_non_null(strstr(ns_errmsg(), "e.json: cannot open"));
    unlink(sp);
    rmdir(sub);
    rmdir(dir);
}

static void inline_space_and_constraints_narrow_it(void **state)
{
    (void)state;
    char text[2048];
    snprintf(
        text, sizeof text,
        "{\"name\": \"i\", \"space\": %s, \"samples\": 2, \"constraints\": {\"stages\": [9, 9]},"
        " \"data\": {\"name\": \"synthetic\"}}",
        tiny_space);
    struct ns_experiment ex;
    expect_error(text, "constraints"); /* 9 stages is more than NS_MAX_STAGES */
    snprintf(
        text, sizeof text,
        "{\"name\": \"i\", \"space\": %s, \"samples\": 2, \"constraints\": {\"flops\": [1, 2]},"
        " \"data\": {\"name\": \"synthetic\"}}",
        tiny_space);
    if (ns_experiment_parse(text, "x.json", &ex) < 0)
        fail_msg("%s", ns_errmsg());
    assert_non_null(ex.space_inline);
    struct ns_space *s = ns_experiment_space(&ex);
    if (!s)
        fail_msg("%s", ns_errmsg());
    struct ns_trial *t = NULL;
    /* no model of the tiny space has 1..2 flops: sampling must fail, not loop */
    assert_int_equal(ns_space_sample(s, ex.seed, ex.samples, &t, NULL), -1);
    free(t);
    ns_space_free(s);
    ns_experiment_free(&ex);
}

static void synthetic_data_loads_with_limits_and_split(void **state)
{
    (void)state;
    struct ns_experiment ex;
    assert_int_equal(ns_experiment_parse("{\"name\": \"d\", \"space\": \"s\", \"samples\": 1,"
                                         " \"data\": {\"name\": \"synthetic\", \"n\": 200,"
                                         " \"n_test\": 60, \"size\": 8, \"classes\": 4,"
                                         " \"train_limit\": 100, \"test_limit\": 50}}",
                                         "x.json", &ex),
                     0);
    struct ns_dataset train, eval;
    assert_int_equal(ns_exp_data_load(&ex.data, &train, &eval), 0);
    assert_int_equal(train.n, 100);
    assert_int_equal(eval.n, 50);
    assert_int_equal(train.h, 8);
    assert_int_equal(train.classes, 4);
    ns_data_free(&train);
    ns_data_free(&eval);
    ns_experiment_free(&ex);

    assert_int_equal(ns_experiment_parse("{\"name\": \"d\", \"space\": \"s\", \"samples\": 1,"
                                         " \"data\": {\"name\": \"synthetic\", \"n\": 200,"
                                         " \"size\": 8, \"val_split\": 0.25}}",
                                         "x.json", &ex),
                     0);
    assert_int_equal(ns_exp_data_load(&ex.data, &train, &eval), 0);
    assert_int_equal(train.n, 150);
    assert_int_equal(eval.n, 50); /* a quarter of train, not the test set */
    ns_data_free(&train);
    ns_data_free(&eval);
    ns_experiment_free(&ex);
}

/* "search", "keep_weights", "checkpoint_every" (issue #15). */
static void search_section(void **state)
{
    (void)state;
    struct ns_experiment ex;
    /* default: random, and the canonical text of earlier studies does not change */
    assert_int_equal(ns_experiment_parse("{" BASE ", " DATA "}", "x.json", &ex), 0);
    assert_int_equal(ex.search.kind, NS_FID_RANDOM);
    assert_null(strstr(ex.canonical, "search"));
    assert_null(strstr(ex.canonical, "keep_weights"));
    ns_experiment_free(&ex);
    /* max_epochs is the recipe's epochs */
    assert_int_equal(ns_experiment_parse("{" BASE ", " DATA ", \"search\": {\"kind\": \"sha\", "
                                         "\"max_epochs\": 9}, \"keep_weights\": 2, "
                                         "\"checkpoint_every\": 3}",
                                         "x.json", &ex),
                     0);
    assert_int_equal(ex.search.kind, NS_FID_SHA);
    assert_int_equal(ex.search.eta, 3);
    assert_int_equal(ex.search.min_epochs, 1);
    assert_int_equal(ex.search.max_epochs, 9);
    assert_int_equal(ex.recipe.epochs, 9);
    assert_int_equal(ex.keep_weights, 2);
    assert_int_equal(ex.checkpoint_every, 3);
    assert_non_null(strstr(ex.canonical, "\"search\":{\"eta\":3,\"kind\":\"sha\",\"max_epochs\":9,"
                                         "\"min_epochs\":1}"));
    /* not part of the study: a resume may change them */
    char *study = ns_experiment_study_json(&ex, NULL);
    assert_non_null(study);
    assert_non_null(strstr(study, "\"search\""));
    assert_null(strstr(study, "keep_weights"));
    assert_null(strstr(study, "checkpoint_every"));
    free(study);
    ns_experiment_free(&ex);
    /* recipe.epochs alone sets max_epochs */
    assert_int_equal(ns_experiment_parse("{" BASE ", " DATA ", \"recipe\": {\"epochs\": 4}, "
                                         "\"search\": {\"kind\": \"asha\", \"eta\": 2}}",
                                         "x.json", &ex),
                     0);
    assert_int_equal(ex.search.max_epochs, 4);
    ns_experiment_free(&ex);
    expect_error("{" BASE ", " DATA ", \"search\": {\"kind\": \"bohb\"}}",
                 "x.json: search.kind: unknown kind 'bohb' (random, sha, hyperband, asha)");
    expect_error("{" BASE ", " DATA ", \"search\": {\"kind\": 3}}", "x.json: search.kind: expected");
    expect_error("{" BASE ", " DATA ", \"search\": {\"kind\": \"sha\", \"etta\": 3}}",
                 "x.json: search.etta: unknown key");
    expect_error("{" BASE ", " DATA ", \"search\": {\"kind\": \"sha\", \"eta\": 1}}",
                 "x.json: search.eta: 1 is not in 2..100");
    expect_error("{" BASE ", " DATA ", \"search\": {\"kind\": \"sha\", \"min_epochs\": 5, "
                 "\"max_epochs\": 3}}",
                 "x.json: search.max_epochs: 3 is less than search.min_epochs (5)");
    /* without max_epochs, the error names the fields the file has */
    expect_error("{" BASE ", " DATA ", \"recipe\": {\"epochs\": 4}, \"search\": {\"kind\": "
                 "\"sha\", \"min_epochs\": 5}}",
                 "x.json: search.min_epochs: 5 is more than recipe.epochs (4), the max_epochs");
    expect_error("{" BASE ", " DATA ", \"recipe\": {\"epochs\": 4}, \"search\": {\"kind\": "
                 "\"sha\", \"max_epochs\": 27}}",
                 "x.json: search.max_epochs: 27 differs from recipe.epochs (4)");
    expect_error("{" BASE ", " DATA ", \"search\": {\"eta\": 3}}",
                 "x.json: search.eta: only for the rung schedules");
    expect_error("{\"name\": \"t1\", \"space\": \"s.json\", \"samples\": 3, " DATA
                 ", \"search\": {\"kind\": \"hyperband\", \"max_epochs\": 27}}",
                 "x.json: samples: 3: hyperband with 4 rungs has 4 brackets and needs at least "
                 "one sample each");
    expect_error("{" BASE ", " DATA ", \"search\": []}", "x.json: search: expected an object");
    expect_error("{" BASE ", " DATA ", \"keep_weights\": -1}", "x.json: keep_weights: -1 is not");
    expect_error("{" BASE ", " DATA ", \"checkpoint_every\": true}",
                 "x.json: checkpoint_every: expected an integer");
}

/* --samples: the canonical form is the file's with the smaller count (so the db records a
 * study that the file grows); beyond the file's count, or a multi-fidelity study, refused
 * with the file named and the experiment left as it was. */
static void cap_samples_rewrites_the_canonical_count(void **state)
{
    (void)state;
    struct ns_experiment ex, three;
    assert_int_equal(ns_experiment_parse("{" BASE ", " DATA "}", "x.json", &ex), 0);
    assert_int_equal(ns_experiment_parse("{\"name\": \"t1\", \"space\": \"s.json\", "
                                         "\"samples\": 3, " DATA "}",
                                         "y.json", &three),
                     0);
    char *was = strdup(ex.canonical);
    assert_int_equal(ns_experiment_cap_samples(&ex, 4), 0); /* the file's own: unchanged */
    assert_string_equal(ex.canonical, was);
    ns_err_clear();
    assert_int_equal(ns_experiment_cap_samples(&ex, 5), -1);
    assert_non_null(strstr(ns_errmsg(), "x.json: --samples 5: must be 1 to the experiment's"));
    assert_int_equal(ns_experiment_cap_samples(&ex, 0), -1);
    assert_int_equal(ex.samples, 4);
    assert_string_equal(ex.canonical, was);
    assert_int_equal(ns_experiment_cap_samples(&ex, 3), 0);
    assert_int_equal(ex.samples, 3);
    assert_string_equal(ex.canonical, three.canonical);
    free(was);
    ns_experiment_free(&ex);
    ns_experiment_free(&three);

    assert_int_equal(ns_experiment_parse("{" BASE ", " DATA ", \"search\": {\"kind\": \"sha\", "
                                         "\"max_epochs\": 9}}",
                                         "m.json", &ex),
                     0);
    ns_err_clear();
    assert_int_equal(ns_experiment_cap_samples(&ex, 2), -1);
    assert_non_null(strstr(ns_errmsg(), "m.json: --samples 2: a multi-fidelity study"));
    assert_int_equal(ex.samples, 4);
    ns_experiment_free(&ex);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(minimal_file_gets_defaults),
        cmocka_unit_test(every_key_is_read),
        cmocka_unit_test(unknown_keys_are_named_with_the_known_ones),
        cmocka_unit_test(bad_values_are_named),
        cmocka_unit_test(missing_required_keys_are_named),
        cmocka_unit_test(malformed_json_gives_line_and_column),
        cmocka_unit_test(canonical_form_ignores_spelling_not_meaning),
        cmocka_unit_test(agc_is_canonical_only_when_on),
        cmocka_unit_test(eval_every_is_canonical_only_above_one),
        cmocka_unit_test(diff_names_the_changed_keys),
        cmocka_unit_test(train_seed_is_splitmix64),
        cmocka_unit_test(train_seed_key_moves_only_the_training_seeds),
        cmocka_unit_test(limits_are_read_and_not_part_of_the_study),
        cmocka_unit_test(batch_larger_than_the_training_set_is_refused),
        cmocka_unit_test(space_file_is_found_beside_the_experiment),
        cmocka_unit_test(inline_space_and_constraints_narrow_it),
        cmocka_unit_test(synthetic_data_loads_with_limits_and_split),
        cmocka_unit_test(search_section),
        cmocka_unit_test(cap_samples_rewrites_the_canonical_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
