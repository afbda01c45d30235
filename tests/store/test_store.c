/* The results store: opening and refusing files, studies, trial insertion and lifecycle,
 * resume, batching and the read API. Each test works in its own scratch folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "util/err.h"

struct scratch {
    char dir[64];
    char db[128];
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct scratch *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    snprintf(s->dir, sizeof s->dir, "/tmp/ns_store_XXXXXX");
    if (!mkdtemp(s->dir))
        return -1;
    snprintf(s->db, sizeof s->db, "%s/r.db", s->dir);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    struct scratch *s = *state;
    nftw(s->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(s);
    return 0;
}

static void assert_err_contains(const char *needle)
{
    if (!strstr(ns_errmsg(), needle))
        fail_msg("error '%s' lacks '%s'", ns_errmsg(), needle);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* Run SQL on a file with plain sqlite (to forge foreign or future files). */
static void raw_sql(const char *path, const char *sql)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(h);
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

static const char *exp_a = "{\"space\": \"regnet\", \"trials\": 8, \"epochs\": 2}";

static struct ns_db *new_db(const char *path, int64_t *study)
{
    struct ns_db *db = ns_db_open(path, NS_DB_RW | NS_DB_CREATE);
    if (!db)
        fail_msg("%s", ns_errmsg());
    struct ns_db_study_def def = {"s1", exp_a, 7, "spaces/regnet.json"};
    *study = ns_db_study_ensure(db, &def, NULL);
    assert_true(*study > 0);
    return db;
}

/* Trial i: hash "h<i>", flops 1000*(i+1), a RegNet parameter set and one other param. */
static int add_trial(struct ns_db *db, int64_t study, int i, const char *hash)
{
    char cfg[64], h[32];
    snprintf(cfg, sizeof cfg, "{\"trial\":%d}", i);
    snprintf(h, sizeof h, "h%d", i);
    struct ns_db_param p[] = {{"depth", 10 + i}, {"w0", 24},     {"wa", 36.5},
                              {"wm", 2.5},       {"group_w", 8}, {"lr", 0.1 * (i + 1)}};
    struct ns_db_trial_def t = {.idx = i,
                                .stream = (uint64_t)i,
                                .config_json = cfg,
                                .config_hash = hash ? hash : h,
                                .flops = 1000 * (i + 1),
                                .params = 100 * (i + 1),
                                .acts = 10 * (i + 1),
                                .sampled = p,
                                .n_sampled = 6,
                                .train_seed = 1000u + (uint64_t)i};
    return ns_db_trial_add(db, study, &t);
}

/* ---------------------------------------------------------------------------------------- */

static void create_reopen_and_wal(void **state)
{
    struct scratch *s = *state;
    int64_t id;
    struct ns_db *db = new_db(s->db, &id);
    assert_int_equal(add_trial(db, id, 0, NULL), 1);
    ns_db_close(db);

    db = ns_db_open(s->db, NS_DB_RW);
    assert_non_null(db);
    assert_string_equal(ns_db_path(db), s->db);
    assert_int_equal(ns_db_study_resolve(db, "s1"), id);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM trials"), 1);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(ns_db_sqlite(db), "PRAGMA journal_mode", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(count_rows(db, "SELECT schema_version FROM netspace_version"),
                     NS_DB_SCHEMA_VERSION);
    ns_db_close(db);

    db = ns_db_open(s->db, NS_DB_RO);
    assert_non_null(db);
    assert_int_equal(ns_db_trial_state(db, id, 0), NS_DB_WAITING);
    ns_db_close(db);
}

static void missing_file_is_refused_without_create(void **state)
{
    struct scratch *s = *state;
    assert_null(ns_db_open(s->db, NS_DB_RO));
    assert_err_contains(s->db);
    assert_err_contains("no such file");
    assert_null(ns_db_open(s->db, NS_DB_RW));
    assert_err_contains("no such file");
    assert_int_equal(access(s->db, F_OK), -1); /* nothing was created */
    assert_null(ns_db_open(s->dir, NS_DB_RO));
    assert_err_contains("is a folder");
    assert_null(ns_db_open("", NS_DB_RO));
}

static void newer_schema_version_is_refused(void **state)
{
    struct scratch *s = *state;
    int64_t id;
    ns_db_close(new_db(s->db, &id));
    raw_sql(s->db, "UPDATE netspace_version SET schema_version = 4");
    assert_null(ns_db_open(s->db, NS_DB_RW));
    assert_err_contains(s->db);
    assert_err_contains("schema version 4 is newer");
    assert_null(ns_db_open(s->db, NS_DB_RO));
    assert_err_contains("schema version 4 is newer");
    raw_sql(s->db, "INSERT INTO netspace_version VALUES (1)");
    assert_null(ns_db_open(s->db, NS_DB_RO));
    assert_err_contains("malformed netspace_version");
}

static void non_sqlite_file_is_refused(void **state)
{
    struct scratch *s = *state;
    char text[4096];
    memset(text, 'x', sizeof text);
    memcpy(text, "hello, not a database\n", 22);
    write_file(s->db, text, sizeof text);
    assert_null(ns_db_open(s->db, NS_DB_RO));
    assert_err_contains(s->db);
    assert_err_contains("not an SQLite database");
    assert_null(ns_db_open(s->db, NS_DB_RW | NS_DB_CREATE));
    assert_err_contains("not an SQLite database");
    /* and it was left alone */
    FILE *f = fopen(s->db, "rb");
    char head[22];
    assert_int_equal(fread(head, 1, 22, f), 22);
    fclose(f);
    assert_memory_equal(head, "hello, not a database\n", 22);
}

static void foreign_sqlite_db_is_refused(void **state)
{
    struct scratch *s = *state;
    raw_sql(s->db, "CREATE TABLE photos(id INTEGER, path TEXT)");
    assert_null(ns_db_open(s->db, NS_DB_RW | NS_DB_CREATE));
    assert_err_contains(s->db);
    assert_err_contains("not a netspace results db");
    assert_null(ns_db_open(s->db, NS_DB_RO));
    assert_err_contains("not a netspace results db");
}

static void empty_file_gets_a_schema_only_when_creating(void **state)
{
    struct scratch *s = *state;
    write_file(s->db, "", 0);
    assert_null(ns_db_open(s->db, NS_DB_RO));
    assert_err_contains("empty SQLite file");
    struct ns_db *db = ns_db_open(s->db, NS_DB_RW | NS_DB_CREATE);
    assert_non_null(db);
    ns_db_close(db);
    db = ns_db_open(s->db, NS_DB_RO);
    assert_non_null(db);
    ns_db_close(db);
}

static void unwritable_paths_are_refused(void **state)
{
    struct scratch *s = *state;
    char path[256];
    snprintf(path, sizeof path, "%s/no/such/folder/r.db", s->dir);
    assert_null(ns_db_open(path, NS_DB_RW | NS_DB_CREATE));
    assert_err_contains(path);
    assert_err_contains("cannot create");
    /* a regular file where a folder should be (refused even for root) */
    char file[160];
    snprintf(file, sizeof file, "%s/plain", s->dir);
    write_file(file, "x", 1);
    snprintf(path, sizeof path, "%s/r.db", file);
    assert_null(ns_db_open(path, NS_DB_RW | NS_DB_CREATE));
    assert_err_contains(path);
    assert_err_contains("Not a directory");
}

static void corrupt_file_is_refused(void **state)
{
    struct scratch *s = *state;
    int64_t id;
    struct ns_db *db = new_db(s->db, &id);
    assert_int_equal(ns_db_begin(db), 0);
    for (int i = 0; i < 400; i++)
        assert_int_equal(add_trial(db, id, i, NULL), 1);
    assert_int_equal(ns_db_commit(db), 0);
    ns_db_close(db); /* checkpoints the WAL into the file */
    /* Scribble over pages 3..6 (b-tree pages of the tables and indexes), keep the header. */
    int fd = open(s->db, O_WRONLY);
    assert_true(fd >= 0);
    char junk[4 * 4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 7 + 13);
    assert_int_equal(pwrite(fd, junk, sizeof junk, 2 * 4096), (ssize_t)sizeof junk);
    close(fd);
    assert_null(ns_db_open(s->db, NS_DB_RW));
    assert_err_contains(s->db);
    assert_err_contains("corrupt");
}

static void study_ensure_reuses_or_refuses(void **state)
{
    struct scratch *s = *state;
    struct ns_db *db = ns_db_open(s->db, NS_DB_RW | NS_DB_CREATE);
    assert_non_null(db);
    int created = -1;
    struct ns_db_study_def def = {"s1", exp_a, 7, "regnet"};
    int64_t id = ns_db_study_ensure(db, &def, &created);
    assert_true(id > 0);
    assert_int_equal(created, 1);
    /* same experiment, other key order and spacing: the same study */
    struct ns_db_study_def same = {"s1", "{\"epochs\":2,\"trials\":8,   \"space\":\"regnet\"}", 7,
                                   "regnet"};
    assert_int_equal(ns_db_study_ensure(db, &same, &created), id);
    assert_int_equal(created, 0);
    struct ns_db_study_def other = {"s1", "{\"space\":\"regnet\",\"trials\":9,\"epochs\":2}", 7,
                                    "regnet"};
    assert_int_equal(ns_db_study_ensure(db, &other, &created), -1);
    assert_int_equal(created, 0);
    assert_err_contains("study 's1' exists in");
    assert_err_contains(s->db);
    assert_err_contains("different experiment");
    /* set_experiment replaces what the study is compared with, nothing else */
    assert_int_equal(ns_db_study_set_experiment(db, "s1", other.experiment_json), 0);
    assert_int_equal(ns_db_study_ensure(db, &other, &created), id);
    assert_int_equal(created, 0);
    assert_int_equal(ns_db_study_ensure(db, &def, NULL), -1);
    assert_int_equal(ns_db_study_set_experiment(db, "nosuch", exp_a), -1);
    assert_err_contains("study 'nosuch' not found");
    assert_int_equal(ns_db_study_set_experiment(db, "s1", "{not json"), -1);
    assert_err_contains("not valid JSON");
    assert_int_equal(ns_db_study_set_experiment(db, "s1", exp_a), 0);
    struct ns_db_study_def seed = def;
    seed.seed = 8;
    assert_int_equal(ns_db_study_ensure(db, &seed, NULL), -1);
    struct ns_db_study_def bad = {"s2", "{not json", 7, NULL};
    assert_int_equal(ns_db_study_ensure(db, &bad, NULL), -1);
    assert_err_contains("not valid JSON");
    struct ns_db_study_def noname = {"", exp_a, 7, NULL};
    assert_int_equal(ns_db_study_ensure(db, &noname, NULL), -1);
    struct ns_db_study_def second = {"s2", exp_a, 7, NULL};
    int64_t id2 = ns_db_study_ensure(db, &second, &created);
    assert_true(id2 > 0 && id2 != id);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM studies"), 2);
    ns_db_close(db);
}

static void trial_insert_is_idempotent(void **state)
{
    struct scratch *s = *state;
    int64_t id;
    struct ns_db *db = new_db(s->db, &id);
    for (int i = 0; i < 5; i++)
        assert_int_equal(add_trial(db, id, i, NULL), 1);
    for (int i = 0; i < 5; i++)
        assert_int_equal(add_trial(db, id, i, NULL), 0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM trials"), 5);
    assert_int_equal(add_trial(db, id, 2, "other"), -1);
    assert_err_contains("trial 2 exists with config hash h2, not other");
    assert_int_equal(add_trial(db, id + 100, 0, NULL), -1);
    assert_err_contains("no study with id");
    assert_int_equal(add_trial(db, id, -1, NULL), -1);

    struct ns_db_trial t;
    assert_int_equal(ns_db_trial_load(db, id, 3, &t), 0);
    assert_int_equal(t.idx, 3);
    assert_int_equal(t.state, NS_DB_WAITING);
    assert_string_equal(t.config_json, "{\"trial\":3}");
    assert_string_equal(t.config_hash, "h3");
    assert_int_equal(t.flops, 4000);
    assert_int_equal(t.params, 400);
    assert_int_equal(t.acts, 40);
    assert_int_equal(t.train_seed, 1003);
    assert_true(t.p[0] == 13.0); /* depth */
    assert_true(t.p[2] == 36.5); /* wa */
    assert_true(isnan(t.p[5]));  /* bot_mul: not sampled */
    assert_true(isnan(t.p[11])); /* d1 */
    assert_string_equal(ns_db_param_names[11], "d1");
    assert_non_null(t.other_params);
    assert_non_null(strstr(t.other_params, "{\"lr\":0.4")); /* the untyped parameter */
    assert_true(isnan(t.test_error) && isnan(t.wall_s) && t.rank == -1 && !t.host && !t.reason);
    ns_db_trial_clear(&t);
    assert_int_equal(ns_db_trial_load(db, id, 99, &t), -1);
    assert_err_contains("study 's1' has no trial 99");
    ns_db_close(db);
}

static void lifecycle_complete_fail_reset(void **state)
{
    struct scratch *s = *state;
    int64_t id;
    struct ns_db *db = new_db(s->db, &id);
    for (int i = 0; i < 3; i++)
        assert_int_equal(add_trial(db, id, i, NULL), 1);

    assert_int_equal(ns_db_trial_start(db, id, 0, 2, "node7"), 0);
    struct ns_db_trial t;
    assert_int_equal(ns_db_trial_load(db, id, 0, &t), 0);
    assert_int_equal(t.state, NS_DB_RUNNING);
    assert_int_equal(t.rank, 2);
    assert_string_equal(t.host, "node7");
    assert_true(t.started > 1e9 && isnan(t.ended));
    ns_db_trial_clear(&t);

    struct ns_db_epoch e0 = {0, 2.0, 60.0, 40.0, 1.5};
    assert_int_equal(ns_db_trial_epoch(db, id, 0, &e0), 0);
    struct ns_db_epoch last[2] = {{1, 1.0, 30.0, 25.0, 1.4}, {2, 0.5, 20.0, 27.0, NAN}};
    struct ns_db_result r = {19.0, 27.0, NAN, 4.5, last, 2};
    assert_int_equal(ns_db_trial_complete(db, id, 0, &r), 0);
    assert_int_equal(ns_db_trial_load(db, id, 0, &t), 0);
    assert_int_equal(t.state, NS_DB_COMPLETE);
    assert_true(t.train_error == 19.0 && t.test_error == 27.0 && t.wall_s == 4.5);
    assert_true(t.best_test_error == 25.0); /* from the epochs, as none was given */
    assert_true(t.ended >= t.started);
    ns_db_trial_clear(&t);
    struct ns_db_epoch *ep;
    int n;
    assert_int_equal(ns_db_epochs_load(db, id, 0, &ep, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(ep[0].epoch, 0);
    assert_true(ep[0].train_loss == 2.0 && ep[1].test_error == 25.0 && isnan(ep[2].seconds));
    free(ep);

    /* failure with reason, keeping the epochs seen so far */
    assert_int_equal(ns_db_trial_start(db, id, 1, 1, NULL), 0);
    struct ns_db_epoch nan_epoch = {0, NAN, NAN, NAN, 0.7};
    struct ns_db_result fr = {NAN, NAN, NAN, 0.7, &nan_epoch, 1};
    assert_int_equal(ns_db_trial_fail(db, id, 1, "diverged: loss nan at epoch 0 step 31", &fr), 0);
    assert_int_equal(ns_db_trial_load(db, id, 1, &t), 0);
    assert_int_equal(t.state, NS_DB_FAILED);
    assert_string_equal(t.reason, "diverged: loss nan at epoch 0 step 31");
    assert_true(isnan(t.test_error) && t.wall_s == 0.7 && !t.host);
    ns_db_trial_clear(&t);
    assert_int_equal(ns_db_trial_fail(db, id, 2, NULL, NULL), 0);
    assert_int_equal(ns_db_trial_state(db, id, 2), NS_DB_FAILED);

    /* reset: back to waiting, partial epochs gone; restart clears the old attempt too */
    assert_int_equal(ns_db_trial_reset(db, id, 1), 0);
    assert_int_equal(ns_db_trial_load(db, id, 1, &t), 0);
    assert_int_equal(t.state, NS_DB_WAITING);
    assert_true(!t.reason && isnan(t.wall_s) && isnan(t.started) && t.rank == -1);
    ns_db_trial_clear(&t);
    assert_int_equal(ns_db_epochs_load(db, id, 1, &ep, &n), 0);
    assert_int_equal(n, 0);
    assert_null(ep);
    assert_int_equal(ns_db_trial_start(db, id, 0, 3, "node1"), 0);
    assert_int_equal(ns_db_epochs_load(db, id, 0, &ep, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(ns_db_trial_load(db, id, 0, &t), 0);
    assert_true(isnan(t.test_error) && t.rank == 3);
    ns_db_trial_clear(&t);

    /* unknown trials */
    assert_int_equal(ns_db_trial_start(db, id, 42, 0, NULL), -1);
    assert_err_contains("no trial 42");
    assert_int_equal(ns_db_trial_epoch(db, id, 42, &e0), -1);
    assert_err_contains("no trial 42");
    assert_int_equal(ns_db_trial_complete(db, id, 42, &r), -1);
    assert_int_equal(ns_db_trial_reset(db, id, 42), -1);
    assert_int_equal(ns_db_trial_state(db, id, 42), -1);
    assert_int_equal(ns_db_epochs_load(db, id, 42, &ep, &n), -1);
    /* a failed complete left nothing behind (its epoch rows were rolled back) */
    assert_int_equal(count_rows(db, "SELECT count(*) FROM epochs WHERE trial = 42"), 0);
    ns_db_close(db);
}

static void resume_marks_stale_and_lists_pending(void **state)
{
    struct scratch *s = *state;
    int64_t id;
    struct ns_db *db = new_db(s->db, &id);
    for (int i = 0; i < 6; i++)
        assert_int_equal(add_trial(db, id, i, NULL), 1);
    struct ns_db_result r = {1, 2, 2, 3, NULL, 0};
    /* 0 complete, 1 failed, 2 and 4 running, 3 and 5 waiting */
    assert_int_equal(ns_db_trial_start(db, id, 0, 1, "a"), 0);
    assert_int_equal(ns_db_trial_complete(db, id, 0, &r), 0);
    assert_int_equal(ns_db_trial_start(db, id, 1, 1, "a"), 0);
    assert_int_equal(ns_db_trial_fail(db, id, 1, "error: out of memory", NULL), 0);
    assert_int_equal(ns_db_trial_start(db, id, 2, 1, "a"), 0);
    assert_int_equal(ns_db_trial_start(db, id, 4, 2, "b"), 0);
    ns_db_close(db);

    db = ns_db_open(s->db, NS_DB_RW);
    assert_non_null(db);
    assert_int_equal(ns_db_mark_stale(db, id), 2);
    assert_int_equal(ns_db_trial_state(db, id, 2), NS_DB_STALE);
    assert_int_equal(ns_db_trial_state(db, id, 4), NS_DB_STALE);
    assert_int_equal(ns_db_mark_stale(db, id), 0);
    int *idx, n;
    assert_int_equal(ns_db_trials_pending(db, id, &idx, &n), 0);
    assert_int_equal(n, 4);
    int want[4] = {2, 3, 4, 5};
    for (int i = 0; i < 4; i++)
        assert_int_equal(idx[i], want[i]);
    free(idx);
    /* a running trial (started in this run) is pending too */
    assert_int_equal(ns_db_trial_start(db, id, 2, 1, "a"), 0);
    assert_int_equal(ns_db_trials_pending(db, id, &idx, &n), 0);
    assert_int_equal(n, 4);
    free(idx);
    /* re-adding the trials on resume changes nothing */
    for (int i = 0; i < 6; i++)
        assert_int_equal(add_trial(db, id, i, NULL), 0);
    assert_int_equal(ns_db_trial_state(db, id, 0), NS_DB_COMPLETE);
    ns_db_close(db);
}

static void batches_are_atomic_and_invisible_until_commit(void **state)
{
    struct scratch *s = *state;
    int64_t id;
    struct ns_db *db = new_db(s->db, &id);
    struct ns_db *ro = ns_db_open(s->db, NS_DB_RO);
    assert_non_null(ro);

    assert_int_equal(ns_db_begin(db), 0);
    assert_int_equal(ns_db_begin(db), -1);
    assert_err_contains("already open");
    for (int i = 0; i < 10; i++)
        assert_int_equal(add_trial(db, id, i, NULL), 1);
    /* a failing step inside the batch undoes only itself */
    assert_int_equal(ns_db_trial_start(db, id, 77, 0, NULL), -1);
    assert_int_equal(add_trial(db, id, 3, "clash"), -1);
    /* the reader is not blocked and sees nothing yet (WAL snapshot of the last commit) */
    assert_int_equal(count_rows(ro, "SELECT count(*) FROM trials"), 0);
    assert_int_equal(ns_db_commit(db), 0);
    assert_int_equal(count_rows(ro, "SELECT count(*) FROM trials"), 10);

    assert_int_equal(ns_db_begin(db), 0);
    assert_int_equal(add_trial(db, id, 10, NULL), 1);
    assert_int_equal(ns_db_trial_start(db, id, 0, 0, NULL), 0);
    assert_int_equal(ns_db_rollback(db), 0);
    assert_int_equal(count_rows(ro, "SELECT count(*) FROM trials"), 10);
    assert_int_equal(ns_db_trial_state(db, id, 0), NS_DB_WAITING);
    assert_int_equal(ns_db_commit(db), -1);
    assert_int_equal(ns_db_rollback(db), -1);

    /* completion and final epochs appear together */
    assert_int_equal(ns_db_trial_start(db, id, 1, 0, NULL), 0);
    assert_int_equal(ns_db_begin(db), 0);
    struct ns_db_epoch e = {0, 1, 2, 3, 4};
    struct ns_db_result r = {2, 3, 3, 4, &e, 1};
    assert_int_equal(ns_db_trial_complete(db, id, 1, &r), 0);
    assert_int_equal(count_rows(ro, "SELECT count(*) FROM epochs"), 0);
    assert_int_equal(ns_db_trial_state(ro, id, 1), NS_DB_RUNNING);
    assert_int_equal(ns_db_commit(db), 0);
    assert_int_equal(count_rows(ro, "SELECT count(*) FROM epochs"), 1);
    assert_int_equal(ns_db_trial_state(ro, id, 1), NS_DB_COMPLETE);

    /* a batch left open is rolled back by close */
    assert_int_equal(ns_db_begin(db), 0);
    assert_int_equal(add_trial(db, id, 20, NULL), 1);
    ns_db_close(db);
    assert_int_equal(count_rows(ro, "SELECT count(*) FROM trials"), 10);
    ns_db_close(ro);
}

static void read_only_handle_cannot_write(void **state)
{
    struct scratch *s = *state;
    int64_t id;
    ns_db_close(new_db(s->db, &id));
    struct ns_db *ro = ns_db_open(s->db, NS_DB_RO);
    assert_non_null(ro);
    assert_int_equal(add_trial(ro, id, 0, NULL), -1);
    assert_err_contains("read-only");
    assert_int_equal(ns_db_begin(ro), -1);
    struct ns_db_study_def def = {"s9", exp_a, 1, NULL};
    assert_int_equal(ns_db_study_ensure(ro, &def, NULL), -1);
    sqlite3 *h = ns_db_sqlite(ro);
    assert_int_not_equal(sqlite3_exec(h, "DELETE FROM studies", NULL, NULL, NULL), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(h, "PRAGMA query_only = 0", NULL, NULL, NULL), SQLITE_OK);
    assert_int_not_equal(
        sqlite3_exec(h, "PRAGMA query_only = 0; DELETE FROM studies", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "PRAGMA table_info(trials)", NULL, NULL, NULL), SQLITE_OK);
    char attach[256];
    snprintf(attach, sizeof attach, "ATTACH '%s/other.db' AS o", s->dir);
    assert_int_not_equal(sqlite3_exec(h, attach, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(access(attach + 8, F_OK), -1);
    ns_db_close(ro);
    struct ns_db *db = ns_db_open(s->db, NS_DB_RO);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM studies"), 1);
    ns_db_close(db);
}

static void read_api_studies_trials_values(void **state)
{
    struct scratch *s = *state;
    int64_t id;
    struct ns_db *db = new_db(s->db, &id);
    struct ns_db_study_def d2 = {"s2", "{\"space\":\"anynet\"}", 3, NULL};
    int64_t id2 = ns_db_study_ensure(db, &d2, NULL);
    assert_true(id2 > 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(add_trial(db, id, i, NULL), 1);
    /* complete: 0 (err 30), 2 (err 10), 3 (err 20), 5 (err 40); 1 failed; 4 waiting */
    const double errs[6] = {30, 0, 10, 20, 0, 40};
    for (int i = 0; i < 6; i++) {
        if (i == 1 || i == 4)
            continue;
        struct ns_db_result r = {errs[i] / 2, errs[i], errs[i], 1.0 + i, NULL, 0};
        assert_int_equal(ns_db_trial_start(db, id, i, 1, "h"), 0);
        assert_int_equal(ns_db_trial_complete(db, id, i, &r), 0);
    }
    assert_int_equal(ns_db_trial_fail(db, id, 1, "diverged", NULL), 0);

    struct ns_db_study_info *si;
    int ns;
    assert_int_equal(ns_db_studies(db, &si, &ns), 0);
    assert_int_equal(ns, 2);
    assert_string_equal(si[0].name, "s1");
    assert_string_equal(si[0].space, "spaces/regnet.json");
    assert_true(si[0].seed == 7);
    assert_int_equal(si[0].n_trials, 6);
    assert_int_equal(si[0].n_state[NS_DB_COMPLETE], 4);
    assert_int_equal(si[0].n_state[NS_DB_FAILED], 1);
    assert_int_equal(si[0].n_state[NS_DB_WAITING], 1);
    assert_true(si[0].best_test_error == 10.0);
    assert_true(si[0].median_test_error == 25.0); /* (20 + 30) / 2 */
    assert_string_equal(si[1].name, "s2");
    assert_null(si[1].space);
    assert_int_equal(si[1].n_trials, 0);
    assert_true(isnan(si[1].best_test_error) && isnan(si[1].median_test_error));
    ns_db_studies_free(si, ns);

    /* odd count: median is the middle one */
    assert_int_equal(ns_db_trial_reset(db, id, 5), 0);
    assert_int_equal(ns_db_studies(db, &si, &ns), 0);
    assert_true(si[0].median_test_error == 20.0);
    ns_db_studies_free(si, ns);

    assert_int_equal(ns_db_study_resolve(db, "s2"), id2);
    assert_int_equal(ns_db_study_resolve(db, "nope"), -1);
    assert_err_contains("study 'nope' not found; studies: s1, s2");
    assert_int_equal(ns_db_study_resolve(db, NULL), -1);
    assert_err_contains("2 studies (s1, s2); name one with --study");

    struct ns_db_trial *t;
    int n;
    assert_int_equal(ns_db_trials_load(db, id, NS_DB_STATE_BIT(NS_DB_COMPLETE), &t, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(t[0].idx, 0);
    assert_int_equal(t[1].idx, 2);
    assert_int_equal(t[2].idx, 3);
    assert_true(t[1].test_error == 10.0 && t[1].train_error == 5.0 && t[1].wall_s == 3.0);
    ns_db_trials_free(t, n);
    assert_int_equal(ns_db_trials_load(db, id, 0, &t, &n), 0);
    assert_int_equal(n, 6);
    ns_db_trials_free(t, n);
    assert_int_equal(
        ns_db_trials_load(db, id, NS_DB_STATE_BIT(NS_DB_FAILED) | NS_DB_STATE_BIT(NS_DB_WAITING),
                          &t, &n),
        0);
    assert_int_equal(n, 3); /* 1 failed, 4 and 5 waiting */
    assert_string_equal(t[0].reason, "diverged");
    ns_db_trials_free(t, n);
    assert_int_equal(ns_db_trials_load(db, id2, 0, &t, &n), 0);
    assert_int_equal(n, 0);
    assert_null(t);

    double *v;
    const char *cols[] = {"test_error", "flops", "depth", "d1"};
    assert_int_equal(ns_db_trial_values_n(db, id, 0, cols, 4, &v, &n), 0);
    assert_int_equal(n, 6);
    assert_true(v[0] == 30.0 && v[1] == 1000.0 && v[2] == 10.0 && isnan(v[3]));
    assert_true(isnan(v[1 * 4 + 0]) && v[1 * 4 + 1] == 2000.0); /* failed: no error, aligned */
    assert_true(v[2 * 4 + 0] == 10.0 && v[2 * 4 + 2] == 12.0);
    free(v);
    assert_int_equal(
        ns_db_trial_values(db, id, NS_DB_STATE_BIT(NS_DB_COMPLETE), "test_error", &v, &n), 0);
    assert_int_equal(n, 3);
    assert_true(v[0] == 30.0 && v[1] == 10.0 && v[2] == 20.0);
    free(v);
    assert_int_equal(ns_db_trial_values(db, id, 0, "config; DROP TABLE trials", &v, &n), -1);
    assert_err_contains("unknown column 'config; DROP TABLE trials'; columns: trial, stream");
    assert_int_equal(ns_db_trial_values(db, id, 0, "reason", &v, &n), -1);
    assert_int_equal(ns_db_state_from_name("done"), -1);
    assert_err_contains("unknown state 'done'; states: waiting, running, complete");
    assert_int_equal(ns_db_state_from_name("stale"), NS_DB_STALE);
    assert_string_equal(ns_db_state_name(NS_DB_FAILED), "failed");
    assert_null(ns_db_state_name(NS_DB_NSTATES));
    ns_db_close(db);
}

static void single_study_is_the_default(void **state)
{
    struct scratch *s = *state;
    struct ns_db *db = ns_db_open(s->db, NS_DB_RW | NS_DB_CREATE);
    assert_int_equal(ns_db_study_resolve(db, NULL), -1);
    assert_err_contains("no studies");
    assert_int_equal(ns_db_study_resolve(db, "x"), -1);
    assert_err_contains("no studies");
    ns_db_close(db);
    int64_t id;
    db = new_db(s->db, &id);
    assert_int_equal(ns_db_study_resolve(db, NULL), id);
    ns_db_close(db);
}

/* Attempts: a start counts one, a put-back gives it back, a lost trial keeps it; trials that
 * used max_attempts are failed with the reason, the others stay pending. */
static void attempts_are_counted_and_exhausted_trials_fail(void **state)
{
    struct scratch *s = *state;
    int64_t id;
    struct ns_db *db = new_db(s->db, &id);
    for (int i = 0; i < 3; i++)
        assert_int_equal(add_trial(db, id, i, NULL), 1);
    struct ns_db_trial t;
    assert_int_equal(ns_db_trial_start(db, id, 0, 1, "h"), 0);
    assert_int_equal(ns_db_trial_reset(db, id, 0), 0); /* interrupted: given back */
    assert_int_equal(ns_db_trial_load(db, id, 0, &t), 0);
    assert_int_equal(t.attempts, 0);
    ns_db_trial_clear(&t);
    assert_int_equal(ns_db_trial_start(db, id, 0, 1, "h"), 0);
    assert_int_equal(ns_db_trial_lost(db, id, 0), 0); /* lost: kept */
    assert_int_equal(ns_db_trial_start(db, id, 0, 1, "h"), 0);
    assert_int_equal(ns_db_trial_start(db, id, 1, 1, "h"), 0);
    assert_int_equal(ns_db_mark_stale(db, id), 2); /* the run died */
    assert_int_equal(ns_db_fail_exhausted(db, id, 2), 1);
    assert_int_equal(ns_db_trial_load(db, id, 0, &t), 0);
    assert_int_equal(t.state, NS_DB_FAILED);
    assert_int_equal(t.attempts, 2);
    assert_string_equal(t.reason, "lost 2 times: its process died (out of memory? see "
                                  "limits.memory_mb)");
    ns_db_trial_clear(&t);
    assert_int_equal(ns_db_trial_state(db, id, 1), NS_DB_STALE);
    int *idx, n;
    assert_int_equal(ns_db_trials_pending(db, id, &idx, &n), 0);
    assert_int_equal(n, 2);
    free(idx);
    ns_db_close(db);
}

/* A version-1 db (no attempts column) is read as is by a reader and migrated by a writer. */
static void version_1_db_is_read_and_migrated(void **state)
{
    struct scratch *s = *state;
    int64_t id;
    struct ns_db *db = new_db(s->db, &id);
    assert_int_equal(add_trial(db, id, 0, NULL), 1);
    ns_db_close(db);
    /* version 1: no attempts, no stage 5-8 parameters, no data fingerprint */
    char sql[2048] = "ALTER TABLE trials DROP COLUMN attempts; ALTER TABLE studies DROP COLUMN "
                     "data_fingerprint; UPDATE netspace_version SET schema_version = 1; ";
    for (int st = 5; st <= 8; st++)
        for (const char *c = "dwbg"; *c; c++)
            snprintf(sql + strlen(sql), sizeof sql - strlen(sql),
                     "ALTER TABLE trials DROP COLUMN %c%d; ", *c, st);
    raw_sql(s->db, sql);
    db = ns_db_open(s->db, NS_DB_RO);
    assert_non_null(db);
    struct ns_db_trial t;
    assert_int_equal(ns_db_trial_load(db, id, 0, &t), 0);
    assert_int_equal(t.attempts, 0);
    assert_true(t.p[15] != t.p[15]); /* d5: NAN */
    assert_true(t.p[0] == 10);       /* depth of add_trial */
    ns_db_trial_clear(&t);
    ns_db_close(db);
    db = ns_db_open(s->db, NS_DB_RW);
    assert_non_null(db);
    assert_int_equal(count_rows(db, "SELECT schema_version FROM netspace_version"),
                     NS_DB_SCHEMA_VERSION);
    assert_int_equal(ns_db_trial_start(db, id, 0, 1, NULL), 0);
    assert_int_equal(count_rows(db, "SELECT attempts FROM trials"), 1);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM pragma_table_info('trials') WHERE name "
                                    "IN ('d5', 'w6', 'b7', 'g8')"),
                     4);
    ns_db_close(db);
}

/* The parameters of stages 5 to 8 have typed columns (not other_params), like stages 1-4. */
static void stage_5_to_8_parameters_are_typed(void **state)
{
    struct scratch *s = *state;
    int64_t id;
    struct ns_db *db = new_db(s->db, &id);
    struct ns_db_param p[] = {{"d1", 1}, {"d5", 3}, {"w8", 640}, {"b6", 0.5}, {"g7", 16}};
    struct ns_db_trial_def td = {
        .idx = 0, .config_json = "{}", .config_hash = "h", .sampled = p, .n_sampled = 5};
    assert_int_equal(ns_db_trial_add(db, id, &td), 1);
    struct ns_db_trial t;
    assert_int_equal(ns_db_trial_load(db, id, 0, &t), 0);
    static const char *const names[] = {"d1", "d5", "w8", "b6", "g7"};
    for (int i = 0; i < 5; i++) {
        int k = 0;
        while (k < NS_DB_N_PARAMS && strcmp(ns_db_param_names[k], names[i]))
            k++;
        assert_true(k < NS_DB_N_PARAMS);
        assert_true(t.p[k] == p[i].value);
    }
    assert_null(t.other_params);
    ns_db_trial_clear(&t);
    double *v;
    int n;
    const char *cols[] = {"d5", "w8"};
    assert_int_equal(ns_db_trial_values_n(db, id, 0, cols, 2, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_true(v[0] == 3 && v[1] == 640);
    free(v);
    ns_db_close(db);
}

/* A write blocked by another connection's lock says so (ns_db_locked), so that a writer can
 * keep it and retry; other failures do not. */
static void a_lock_held_elsewhere_is_recognized(void **state)
{
    struct scratch *s = *state;
    int64_t id;
    struct ns_db *db = new_db(s->db, &id);
    ns_db_set_busy_timeout(db, 10);
    sqlite3 *h;
    assert_int_equal(sqlite3_open(s->db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(ns_db_begin(db), -1);
    assert_int_equal(ns_db_locked(db), 1);
    assert_err_contains("locked");
    assert_int_equal(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    assert_int_equal(ns_db_begin(db), 0);
    assert_int_equal(ns_db_trial_start(db, id, 99, 1, NULL), -1);
    assert_int_equal(ns_db_locked(db), 0);
    assert_int_equal(ns_db_rollback(db), 0);
    ns_db_close(db);
}

/* The copy a connection of this process makes of a db replaced under it (store.c):
 * its path in `rescue` (n bytes), and its trials matching `where` (an SQL condition). */
static long long rescued_trials(const struct scratch *s, char *rescue, size_t n,
                                const char *where)
{
    snprintf(rescue, n, "%s.rescued-%ld", s->db, (long)getpid());
    struct ns_db *db = ns_db_open(rescue, NS_DB_RO);
    if (!db)
        fail_msg("%s", ns_errmsg());
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM trials WHERE %s", where);
    long long rows = count_rows(db, sql);
    ns_db_close(db);
    return rows;
}

/* A db replaced under an open connection (as a git stash or checkout of a tracked db does):
 * the next write fails and names a copy that holds everything written so far, the file now
 * at the path is left alone, and every later write fails too. */
static void a_replaced_file_is_not_written_and_its_content_is_rescued(void **state)
{
    struct scratch *s = *state;
    int64_t id;
    struct ns_db *db = new_db(s->db, &id);
    assert_int_equal(add_trial(db, id, 0, NULL), 1);
    assert_int_equal(add_trial(db, id, 1, NULL), 1);
    assert_int_equal(ns_db_trial_start(db, id, 0, 1, "h"), 0);
    char away[160], rescue[200];
    snprintf(away, sizeof away, "%s/away.db", s->dir);
    snprintf(rescue, sizeof rescue, "%s.rescued-%ld", s->db, (long)getpid()); /* the message */
    assert_int_equal(rename(s->db, away), 0);
    write_file(s->db, "not this search's db", 20);
    assert_int_equal(ns_db_trial_start(db, id, 1, 1, "h"), -1);
    assert_err_contains("replaced, moved or deleted");
    assert_err_contains(rescue);
    assert_int_equal(ns_db_begin(db), -1); /* and every later write */
    assert_err_contains(rescue);
    ns_db_close(db);
    struct stat st;
    assert_int_equal(stat(s->db, &st), 0);
    assert_int_equal(st.st_size, 20); /* the file at the path is not touched */
    assert_int_equal(rescued_trials(s, rescue, sizeof rescue, "1"), 2);
    assert_int_equal(rescued_trials(s, rescue, sizeof rescue, "trial = 0 AND state = 'running'"),
                     1);
    /* a file deleted outright is refused alike */
    remove(s->db);
    assert_int_equal(rename(away, s->db), 0);
    db = ns_db_open(s->db, NS_DB_RW);
    assert_non_null(db);
    assert_int_equal(remove(s->db), 0);
    assert_int_equal(ns_db_trial_start(db, id, 1, 1, "h"), -1);
    assert_err_contains("replaced, moved or deleted");
    assert_int_equal(ns_db_locked(db), 0); /* not a lock to wait out */
    ns_db_close(db);
}

/* Replaced inside a batch: the write is refused at once and the copy made after the
 * rollback (a backup inside the connection's own transaction would find the db busy); the
 * file put at the path, an older copy of the db, gets nothing of the old file's log when it
 * is opened (the log was emptied into the old file), so it holds what it held. */
static void a_db_replaced_inside_a_batch_is_rescued_after_the_rollback(void **state)
{
    struct scratch *s = *state;
    int64_t id;
    char older[160], probe[160], rescue[200];
    snprintf(older, sizeof older, "%s/older.db", s->dir);
    snprintf(probe, sizeof probe, "%s/probe.db", s->dir);
    snprintf(rescue, sizeof rescue, "%s.rescued-%ld", s->db, (long)getpid());
    struct ns_db *db = new_db(s->db, &id);
    assert_int_equal(add_trial(db, id, 0, NULL), 1);
    /* an older copy: the checkpointed file alone (the connection's log holds the rest) */
    assert_int_equal(sqlite3_wal_checkpoint_v2(ns_db_sqlite(db), "main",
                                               SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL),
                     SQLITE_OK);
    FILE *in = fopen(s->db, "rb");
    assert_non_null(in);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, in);
    fclose(in);
    write_file(older, buf, n);
    write_file(probe, buf, n);
    for (int i = 1; i < 4; i++)
        assert_int_equal(add_trial(db, id, i, NULL), 1); /* in the log only */
    assert_int_equal(ns_db_begin(db), 0);
    assert_int_equal(ns_db_trial_start(db, id, 0, 1, "h"), 0);
    assert_int_equal(rename(older, s->db), 0); /* the older copy over the live file */
    assert_int_equal(ns_db_trial_start(db, id, 1, 1, "h"), -1);
    assert_err_contains("once this transaction is rolled back");
    assert_int_equal(ns_db_locked(db), 0);
    assert_int_equal(ns_db_rollback(db), 0);
    assert_int_equal(ns_db_in_place(db), -1); /* now saved */
    assert_err_contains("Everything this process had written is in");
    assert_err_contains(rescue);
    ns_db_close(db);
    assert_int_equal(rescued_trials(s, rescue, sizeof rescue, "1"), 4);
    assert_int_equal(rescued_trials(s, rescue, sizeof rescue, "state = 'running'"), 0);
    struct ns_db *p = ns_db_open(probe, NS_DB_RO);
    assert_non_null(p);
    long long alone = count_rows(p, "SELECT count(*) FROM trials");
    ns_db_close(p);
    assert_int_equal(alone, 1);
    db = ns_db_open(s->db, NS_DB_RO);
    if (!db)
        fail_msg("%s", ns_errmsg());
    assert_int_equal(count_rows(db, "SELECT count(*) FROM trials"), alone);
    ns_db_close(db);
}

/* Replaced after the last write: the close makes the copy and empties the old log, so the
 * file put at the path does not get it. */
static void a_db_replaced_after_the_last_write_is_rescued_at_close(void **state)
{
    struct scratch *s = *state;
    int64_t id;
    char away[160], rescue[200], wal[160];
    snprintf(away, sizeof away, "%s/away.db", s->dir);
    snprintf(wal, sizeof wal, "%s-wal", s->db);
    struct ns_db *db = new_db(s->db, &id);
    assert_int_equal(add_trial(db, id, 0, NULL), 1);
    assert_int_equal(rename(s->db, away), 0);
    write_file(s->db, "", 0);
    ns_db_close(db);
    struct stat st;
    assert_true(stat(wal, &st) != 0 || st.st_size == 0); /* no old log left to apply */
    assert_int_equal(rescued_trials(s, rescue, sizeof rescue, "1"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(create_reopen_and_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_file_is_refused_without_create, setup, teardown),
        cmocka_unit_test_setup_teardown(newer_schema_version_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(non_sqlite_file_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(foreign_sqlite_db_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(empty_file_gets_a_schema_only_when_creating, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(unwritable_paths_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_file_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(study_ensure_reuses_or_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(trial_insert_is_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(lifecycle_complete_fail_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(resume_marks_stale_and_lists_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(batches_are_atomic_and_invisible_until_commit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(read_only_handle_cannot_write, setup, teardown),
        cmocka_unit_test_setup_teardown(read_api_studies_trials_values, setup, teardown),
        cmocka_unit_test_setup_teardown(single_study_is_the_default, setup, teardown),
        cmocka_unit_test_setup_teardown(attempts_are_counted_and_exhausted_trials_fail, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(version_1_db_is_read_and_migrated, setup, teardown),
        cmocka_unit_test_setup_teardown(a_lock_held_elsewhere_is_recognized, setup, teardown),
        cmocka_unit_test_setup_teardown(stage_5_to_8_parameters_are_typed, setup, teardown),
        cmocka_unit_test_setup_teardown(a_replaced_file_is_not_written_and_its_content_is_rescued,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_db_replaced_inside_a_batch_is_rescued_after_the_rollback,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_db_replaced_after_the_last_write_is_rescued_at_close,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
