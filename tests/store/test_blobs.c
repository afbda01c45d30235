/* Kept weights and checkpoints in the results db (store.h, blobs.c): put/get round trips,
 * replacement, an unknown trial, pruning to the K best trials, dropping a checkpoint, a
 * read-only handle, and a schema-2 db: read as having none, migrated to 3 by a writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* needs the headers above: a block of its own, so sorting keeps it here */

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "util/err.h"

static char dir[64], path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ns_blobs_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/r.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char p[160];
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
    rmdir(dir);
    return 0;
}

static void expect_err(int rc, const char *must_mention)
{
    assert_int_equal(rc, -1);
    if (!strstr(ns_errmsg(), must_mention))
        fail_msg("error \"%s\" does not mention \"%s\"", ns_errmsg(), must_mention);
}

static long long count_rows(struct ns_db *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(ns_db_sqlite(db), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* A db with trials 0..n-1, trial i complete with test error err[i] (NAN: left waiting). */
static struct ns_db *make_db(int64_t *study, int n, const double *err)
{
    unlink(path);
    struct ns_db *db = ns_db_open(path, NS_DB_RW | NS_DB_CREATE);
    if (!db)
        fail_msg("%s", ns_errmsg());
    struct ns_db_study_def def = {"s1", "{\"samples\": 4}", 7, NULL};
    *study = ns_db_study_ensure(db, &def, NULL);
    assert_true(*study > 0);
    for (int i = 0; i < n; i++) {
        char cfg[32], h[16];
        snprintf(cfg, sizeof cfg, "{\"trial\":%d}", i);
        snprintf(h, sizeof h, "h%d", i);
        struct ns_db_trial_def t = {.idx = i, .stream = (uint64_t)i, .config_json = cfg,
                                    .config_hash = h, .flops = 1, .params = 1, .acts = 1,
                                    .train_seed = 1};
        assert_int_equal(ns_db_trial_add(db, *study, &t), 1);
        if (err[i] == err[i]) {
            struct ns_db_result r = {err[i], err[i], err[i], 1.0, NULL, 0};
            assert_int_equal(ns_db_trial_complete(db, *study, i, &r), 0);
        }
    }
    return db;
}

static void put_get_replace_and_drop(void **state)
{
    (void)state;
    int64_t s;
    double err[2] = {10, 20};
    struct ns_db *db = make_db(&s, 2, err);
    assert_int_equal(count_rows(db, "SELECT schema_version FROM netspace_version"), 3);
    uint8_t a[1000], b[7] = "abcdef";
    for (int i = 0; i < 1000; i++)
        a[i] = (uint8_t)(i * 7);
    uint8_t *got;
    size_t len;
    int epoch = -1;
    assert_int_equal(ns_db_get_weights(db, s, 0, &got, &len, &epoch), 0);
    assert_null(got);
    assert_int_equal(ns_db_put_weights(db, s, 0, 3, a, sizeof a), 0);
    assert_int_equal(ns_db_get_weights(db, s, 0, &got, &len, &epoch), 1);
    assert_int_equal(len, sizeof a);
    assert_int_equal(epoch, 3);
    assert_memory_equal(got, a, sizeof a);
    free(got);
    assert_int_equal(ns_db_put_weights(db, s, 0, 4, b, sizeof b), 0); /* replaces */
    assert_int_equal(ns_db_get_weights(db, s, 0, &got, &len, NULL), 1);
    assert_int_equal(len, sizeof b);
    assert_memory_equal(got, b, sizeof b);
    free(got);
    expect_err(ns_db_put_weights(db, s, 9, 1, a, sizeof a), "no trial 9");
    expect_err(ns_db_put_weights(db, s, 1, 1, a, 0), "empty");

    /* checkpoints are a table of their own */
    assert_int_equal(ns_db_get_checkpoint(db, s, 0, &got, &len, &epoch), 0);
    assert_int_equal(ns_db_put_checkpoint(db, s, 0, 2, a, 100), 0);
    assert_int_equal(ns_db_get_checkpoint(db, s, 0, &got, &len, &epoch), 1);
    assert_int_equal(len, 100);
    assert_int_equal(epoch, 2);
    free(got);
    assert_int_equal(ns_db_drop_checkpoint(db, s, 0), 0);
    assert_int_equal(ns_db_drop_checkpoint(db, s, 0), 0); /* none is fine */
    assert_int_equal(ns_db_get_checkpoint(db, s, 0, &got, &len, &epoch), 0);
    assert_int_equal(ns_db_get_weights(db, s, 0, &got, &len, NULL), 1); /* untouched */
    free(got);
    ns_db_close(db);

    /* a read-only handle reads them and cannot write */
    db = ns_db_open(path, NS_DB_RO);
    assert_non_null(db);
    assert_int_equal(ns_db_get_weights(db, s, 0, &got, &len, NULL), 1);
    free(got);
    expect_err(ns_db_put_weights(db, s, 1, 1, a, sizeof a), "read-only");
    ns_db_close(db);
}

static void prune_keeps_the_best(void **state)
{
    (void)state;
    int64_t s;
    double nan = 0.0 / 0.0;
    double err[6] = {30, 10, nan, 20, 10, 50}; /* trial 2 has no result */
    struct ns_db *db = make_db(&s, 6, err);
    uint8_t w[8] = "weights";
    for (int i = 0; i < 6; i++)
        assert_int_equal(ns_db_put_weights(db, s, i, 1, w, sizeof w), 0);
    int *idx, n;
    assert_int_equal(ns_db_weights_trials(db, s, &idx, &n), 0);
    assert_int_equal(n, 6);
    free(idx);
    assert_int_equal(ns_db_prune_weights(db, s, 3), 3);
    assert_int_equal(ns_db_weights_trials(db, s, &idx, &n), 0);
    assert_int_equal(n, 3); /* 10 (trial 1), 10 (trial 4: ties by index), 20 (trial 3) */
    assert_int_equal(idx[0], 1);
    assert_int_equal(idx[1], 3);
    assert_int_equal(idx[2], 4);
    free(idx);
    assert_int_equal(ns_db_prune_weights(db, s, 3), 0);
    assert_int_equal(ns_db_prune_weights(db, s, 0), 3);
    assert_int_equal(ns_db_weights_trials(db, s, &idx, &n), 0);
    assert_int_equal(n, 0);
    expect_err(ns_db_prune_weights(db, s, -1), "keep_weights");
    ns_db_close(db);
}

/* A schema-2 db (no weights, no checkpoints) reads as having none; a writer adds them. */
static void schema_2_db_is_read_and_migrated(void **state)
{
    (void)state;
    int64_t s;
    double err[1] = {5};
    ns_db_close(make_db(&s, 1, err));
    sqlite3 *h;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h,
                                  "DROP TABLE weights; DROP TABLE checkpoints; "
                                  "UPDATE netspace_version SET schema_version = 2",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(h);
    struct ns_db *db = ns_db_open(path, NS_DB_RO);
    assert_non_null(db);
    uint8_t *got;
    size_t len;
    int *idx, n;
    assert_int_equal(ns_db_get_weights(db, s, 0, &got, &len, NULL), 0);
    assert_int_equal(ns_db_get_checkpoint(db, s, 0, &got, &len, NULL), 0);
    assert_int_equal(ns_db_weights_trials(db, s, &idx, &n), 0);
    assert_int_equal(n, 0);
    ns_db_close(db);
    db = ns_db_open(path, NS_DB_RW);
    assert_non_null(db);
    assert_int_equal(count_rows(db, "SELECT schema_version FROM netspace_version"), 3);
    assert_int_equal(ns_db_put_weights(db, s, 0, 1, (const uint8_t *)"x", 1), 0);
    assert_int_equal(ns_db_get_weights(db, s, 0, &got, &len, NULL), 1);
    free(got);
    ns_db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_get_replace_and_drop),
        cmocka_unit_test(prune_keeps_the_best),
        cmocka_unit_test(schema_2_db_is_read_and_migrated),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
