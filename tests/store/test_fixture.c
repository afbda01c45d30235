/* Fixture databases for the `netspace query` tests, written with the store's own API (query
 * itself cannot write). Two uses of this one executable:
 *
 *   store_test_fixture                 run as a unit test: build both fixtures in a scratch
 *                                      folder and check their contents through the read API
 *   store_test_fixture small PATH      write the small fixture (tests/store/test_query.sh)
 *   store_test_fixture big PATH N      write N synthetic trials (tests/store/test_query_bench.sh)
 *
 * The small fixture, by hand:
 *   study "regnet" (space regnetx, seed 1):
 *     trial 0  complete  test 12.5  flops 300000000  depth 13 w0 24 wa 36.44 wm 2.49 group_w 8
 *     trial 1  complete  test  9.75 flops 500000000  depth 16 ...       3 epochs recorded
 *     trial 2  failed    "diverged: loss nan at epoch 2 step 31"
 *     trial 3  complete  test 15    flops 200000000  depth 10 ...
 *     trial 4  running   (rank 1, host node1)
 *     trial 5  waiting
 *   study "anynet" (space anynetx_a, seed 2): trials 0..2 complete, test 20, 18, 22,
 *     per-stage d1..d4 w1..w4 and an untyped parameter "lr".
 * The big fixture: one study "big" of N complete trials (1 in 100 failed) with random
 * RegNet parameters, flops in [1e8, 8e8) and errors loosely falling with flops, plus the
 * small "regnet" study so that commands need --study. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "util/err.h"
#include "util/pcg32.h"
#include "util/timer.h"

static void config_json(char *buf, size_t n, int depth, int w0, int group_w)
{
    snprintf(buf, n,
             "{\"block\":\"x\",\"classes\":10,\"im_size\":28,\"in_ch\":1,\"se_r\":0,"
             "\"stages\":[{\"b\":1,\"d\":%d,\"g\":%d,\"s\":2,\"w\":%d},"
             "{\"b\":1,\"d\":%d,\"g\":%d,\"s\":2,\"w\":%d}],"
             "\"stem\":{\"type\":\"cifar\",\"w\":16}}",
             depth / 2, group_w, w0 * 2, depth - depth / 2, group_w, w0 * 4);
}

/* FNV-1a, 16 hex digits: a stand-in for the space's config hash. */
static void hash_of(const char *s, char out[17])
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static int64_t study(struct ns_db *db, const char *name, const char *space, uint64_t seed)
{
    char exp[256];
    snprintf(exp, sizeof exp, "{\"name\":\"%s\",\"space\":\"spaces/%s.json\",\"epochs\":3}", name,
             space);
    struct ns_db_study_def def = {name, exp, seed, space};
    return ns_db_study_ensure(db, &def, NULL);
}

static int regnet_trial(struct ns_db *db, int64_t sid, int idx, int depth, int w0, double wa,
                        double wm, int group_w, int64_t flops)
{
    char cfg[512], h[17];
    config_json(cfg, sizeof cfg, depth, w0, group_w);
    hash_of(cfg, h);
    struct ns_db_param p[] = {{"depth", depth}, {"w0", w0},           {"wa", wa},
                              {"wm", wm},       {"group_w", group_w}, {"bot_mul", 1}};
    struct ns_db_trial_def t = {idx,        (uint64_t)idx, cfg, h, flops,
                                flops / 40, flops / 1000,  p,   6, (uint64_t)(1000 + idx)};
    return ns_db_trial_add(db, sid, &t);
}

static int complete(struct ns_db *db, int64_t sid, int idx, double test, double wall)
{
    struct ns_db_result r = {test * 0.8, test, test, wall, NULL, 0};
    if (ns_db_trial_start(db, sid, idx, 1, "node1") < 0)
        return -1;
    return ns_db_trial_complete(db, sid, idx, &r);
}

static int write_regnet_study(struct ns_db *db)
{
    int64_t sid = study(db, "regnet", "regnetx", 1);
    if (sid < 0)
        return -1;
    static const struct {
        int depth, w0;
        double wa, wm;
        int64_t flops;
    } t[6] = {{13, 24, 36.44, 2.49, 300000000}, {16, 32, 20.5, 2.0, 500000000},
              {12, 16, 30.0, 2.2, 400000000},   {10, 24, 25.0, 2.5, 200000000},
              {14, 48, 40.0, 2.1, 600000000},   {11, 56, 28.0, 2.8, 700000000}};
    if (ns_db_begin(db) < 0)
        return -1;
    for (int i = 0; i < 6; i++)
        if (regnet_trial(db, sid, i, t[i].depth, t[i].w0, t[i].wa, t[i].wm, 8, t[i].flops) < 0)
            return -1;
    struct ns_db_epoch ep[3] = {
        {0, 1.2, 40.0, 30.0, 10.0}, {1, 0.6, 20.0, 12.0, 10.5}, {2, 0.3, 10.0, 9.75, 10.2}};
    struct ns_db_result r1 = {10.0, 9.75, 9.75, 30.7, ep, 3};
    if (complete(db, sid, 0, 12.5, 31.0) < 0 || ns_db_trial_start(db, sid, 1, 2, "node2") < 0 ||
        ns_db_trial_complete(db, sid, 1, &r1) < 0 || complete(db, sid, 3, 15.0, 20.0) < 0 ||
        ns_db_trial_start(db, sid, 2, 1, "node1") < 0 ||
        ns_db_trial_fail(db, sid, 2, "diverged: loss nan at epoch 2 step 31", NULL) < 0 ||
        ns_db_trial_start(db, sid, 4, 1, "node1") < 0)
        return -1;
    return ns_db_commit(db);
}

static int write_anynet_study(struct ns_db *db)
{
    int64_t sid = study(db, "anynet", "anynetx_a", 2);
    if (sid < 0)
        return -1;
    const double errs[3] = {20, 18, 22};
    for (int i = 0; i < 3; i++) {
        char cfg[512], h[17];
        config_json(cfg, sizeof cfg, 4 + i, 16 * (i + 1), 4);
        hash_of(cfg, h);
        struct ns_db_param p[9] = {{"d1", 1 + i}, {"d2", 2},   {"d3", 3},
                                   {"d4", 4},     {"w1", 16},  {"w2", 32},
                                   {"w3", 64},    {"w4", 128}, {"lr", 0.05 * (i + 1)}};
        struct ns_db_trial_def t = {i,     (uint64_t)i, cfg, h, 1000000 * (i + 1),
                                    50000, 20000,       p,   9, (uint64_t)i};
        if (ns_db_trial_add(db, sid, &t) < 0 || complete(db, sid, i, errs[i], 5.0) < 0)
            return -1;
    }
    return 0;
}

static int write_small(const char *path)
{
    struct ns_db *db = ns_db_open(path, NS_DB_RW | NS_DB_CREATE);
    if (!db)
        return -1;
    int rc = write_regnet_study(db) < 0 || write_anynet_study(db) < 0 ? -1 : 0;
    ns_db_close(db);
    return rc;
}

/* n trials in batches of 10,000 (one commit each), as the coordinator would write them. */
static int write_big(const char *path, int n)
{
    struct ns_db *db = ns_db_open(path, NS_DB_RW | NS_DB_CREATE);
    if (!db)
        return -1;
    int rc = -1;
    if (write_regnet_study(db) < 0)
        goto out;
    int64_t sid = study(db, "big", "regnetx", 3);
    if (sid < 0)
        goto out;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 3, 0);
    for (int i = 0; i < n; i++) {
        if (i % 10000 == 0 && ns_db_begin(db) < 0)
            goto out;
        int depth = 6 + (int)ns_pcg32_bounded(&rng, 20);
        int w0 = 8 * (1 + (int)ns_pcg32_bounded(&rng, 12));
        double wa = 8 + 40 * ns_pcg32_double(&rng);
        double wm = 1.5 + ns_pcg32_double(&rng);
        int64_t flops = 100000000 + (int64_t)(700000000 * ns_pcg32_double(&rng));
        double err = 30 - 15 * (double)flops / 8e8 + 4 * ns_pcg32_normal(&rng);
        if (regnet_trial(db, sid, i, depth, w0, wa, wm, 8, flops) < 0)
            goto out;
        /* finished without a start: the bench is about reading, and this halves the writes */
        err = fmax(err, 1.0);
        struct ns_db_result r = {err * 0.8, err, err, 60.0, NULL, 0};
        if (i % 100 == 99 ? ns_db_trial_fail(db, sid, i, "diverged: loss nan", NULL) < 0
                          : ns_db_trial_complete(db, sid, i, &r) < 0)
            goto out;
        if ((i % 10000 == 9999 || i == n - 1) && ns_db_commit(db) < 0)
            goto out;
    }
    rc = 0;
out:
    ns_db_close(db);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */

static char dir[64];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void small_fixture_reads_back(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/small.db", dir);
    if (write_small(path) < 0)
        fail_msg("%s", ns_errmsg());
    struct ns_db *db = ns_db_open(path, NS_DB_RO);
    assert_non_null(db);
    struct ns_db_study_info *s;
    int n;
    assert_int_equal(ns_db_studies(db, &s, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(s[0].name, "regnet");
    assert_int_equal(s[0].n_state[NS_DB_COMPLETE], 3);
    assert_int_equal(s[0].n_state[NS_DB_FAILED], 1);
    assert_int_equal(s[0].n_state[NS_DB_RUNNING], 1);
    assert_int_equal(s[0].n_state[NS_DB_WAITING], 1);
    assert_true(s[0].best_test_error == 9.75 && s[0].median_test_error == 12.5);
    assert_string_equal(s[1].name, "anynet");
    assert_true(s[1].best_test_error == 18 && s[1].median_test_error == 20);
    int64_t any = s[1].id;
    ns_db_studies_free(s, n);
    double *v;
    const char *cols[] = {"d1", "w4", "depth"};
    assert_int_equal(ns_db_trial_values_n(db, any, 0, cols, 3, &v, &n), 0);
    assert_int_equal(n, 3);
    assert_true(v[0] == 1 && v[3] == 2 && v[1] == 128 && isnan(v[2]));
    free(v);
    ns_db_close(db);
}

static void big_fixture_has_n_trials(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/big.db", dir);
    if (write_big(path, 2500) < 0)
        fail_msg("%s", ns_errmsg());
    struct ns_db *db = ns_db_open(path, NS_DB_RO);
    assert_non_null(db);
    int64_t sid = ns_db_study_resolve(db, "big");
    assert_true(sid > 0);
    double *v;
    int n;
    assert_int_equal(ns_db_trial_values(db, sid, NS_DB_STATE_BIT(NS_DB_COMPLETE), "flops", &v, &n),
                     0);
    assert_int_equal(n, 2500 - 25);
    for (int i = 0; i < n; i++)
        assert_true(v[i] >= 1e8 && v[i] < 8e8);
    free(v);
    assert_int_equal(ns_db_trial_state(db, sid, 99), NS_DB_FAILED);
    ns_db_close(db);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "small")) {
        if (write_small(argv[2]) < 0) {
            ns_die_msg();
            return 1;
        }
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "big")) {
        int n = atoi(argv[3]);
        double t0 = ns_now();
        if (n < 1 || write_big(argv[2], n) < 0) {
            ns_die_msg();
            return 1;
        }
        fprintf(stderr, "wrote %d trials in %.2f s\n", n, ns_now() - t0);
        return 0;
    }
    if (argc != 1) {
        fprintf(stderr, "usage: %s [small PATH | big PATH N]\n", argv[0]);
        return 2;
    }
    snprintf(dir, sizeof dir, "/tmp/ns_fixture_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_fixture_reads_back),
        cmocka_unit_test(big_fixture_has_n_trials),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return rc;
}
