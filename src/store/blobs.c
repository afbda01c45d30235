/* Kept weights and checkpoints in the results db (store.h, schema 3): one blob per trial in
 * the tables `weights` and `checkpoints`. The bytes are opaque here; the tables are made by
 * store.c (blobs_sql). */
#include "store/store.h"

#include "util/err.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The two tables, by name in SQL text built below (never from user input). */
static const char *const tables[2] = {"weights", "checkpoints"};
enum { T_WEIGHTS, T_CHECKPOINTS };

static int prepare(struct ns_db *db, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(ns_db_sqlite(db), sql, -1, st, NULL) != SQLITE_OK)
        return ns_db_sqlerr(db, "prepare");
    return 0;
}

/* 1 when the file has the table (a schema-2 db opened read-only has not), 0, or -1. */
static int has_table(struct ns_db *db, int t)
{
    sqlite3_stmt *st;
    if (prepare(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", &st))
        return -1;
    sqlite3_bind_text(st, 1, tables[t], -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) > 0 : -1;
    sqlite3_finalize(st);
    return rc < 0 ? ns_db_sqlerr(db, "find table") : rc;
}

/* The trial must exist (for a message that names it rather than a foreign-key failure). */
static int trial_exists(struct ns_db *db, int64_t study, int idx)
{
    sqlite3_stmt *st;
    if (prepare(db, "SELECT count(*) FROM trials WHERE study_id = ?1 AND trial = ?2", &st))
        return -1;
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_int(st, 2, idx);
    int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (n < 0)
        return ns_db_sqlerr(db, "find trial");
    if (n == 0)
        return ns_err("%s: study %lld has no trial %d", ns_db_path(db), (long long)study, idx);
    return 0;
}

static int put(struct ns_db *db, int t, int64_t study, int idx, int epoch, const uint8_t *buf,
               size_t len)
{
    if (sqlite3_db_readonly(ns_db_sqlite(db), "main") != 0)
        return ns_err("%s: opened read-only", ns_db_path(db));
    if (!buf || len == 0)
        return ns_err("%s: trial %d: empty %s", ns_db_path(db), idx, tables[t]);
    if (trial_exists(db, study, idx))
        return -1;
    char sql[160];
    snprintf(sql, sizeof sql,
             "INSERT OR REPLACE INTO %s(study_id, trial, epoch, bytes) VALUES(?1, ?2, ?3, ?4)",
             tables[t]);
    sqlite3_stmt *st;
    if (prepare(db, sql, &st))
        return -1;
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_int(st, 2, idx);
    sqlite3_bind_int(st, 3, epoch);
    sqlite3_bind_blob64(st, 4, buf, len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        char what[64];
        snprintf(what, sizeof what, "store trial %d's %s", idx, tables[t]);
        return ns_db_sqlerr(db, what);
    }
    return 0;
}

static int get(struct ns_db *db, int t, int64_t study, int idx, uint8_t **buf, size_t *len,
               int *epoch)
{
    *buf = NULL;
    *len = 0;
    int have = has_table(db, t);
    if (have <= 0)
        return have;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT epoch, bytes FROM %s WHERE study_id = ?1 AND trial = ?2",
             tables[t]);
    sqlite3_stmt *st;
    if (prepare(db, sql, &st))
        return -1;
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_int(st, 2, idx);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        ns_db_sqlerr(db, "read blob");
        sqlite3_finalize(st);
        return -1;
    }
    size_t n = (size_t)sqlite3_column_bytes(st, 1);
    const void *p = sqlite3_column_blob(st, 1);
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy) {
        sqlite3_finalize(st);
        return ns_err("%s: out of memory for trial %d's %s (%zu bytes)", ns_db_path(db), idx,
                      tables[t], n);
    }
    if (n)
        memcpy(copy, p, n);
    if (epoch)
        *epoch = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    *buf = copy;
    *len = n;
    return 1;
}

int ns_db_put_weights(struct ns_db *db, int64_t study, int idx, int epoch, const uint8_t *buf,
                      size_t len)
{
    return put(db, T_WEIGHTS, study, idx, epoch, buf, len);
}

int ns_db_get_weights(struct ns_db *db, int64_t study, int idx, uint8_t **buf, size_t *len,
                      int *epoch)
{
    return get(db, T_WEIGHTS, study, idx, buf, len, epoch);
}

int ns_db_put_checkpoint(struct ns_db *db, int64_t study, int idx, int epoch, const uint8_t *buf,
                         size_t len)
{
    return put(db, T_CHECKPOINTS, study, idx, epoch, buf, len);
}

int ns_db_get_checkpoint(struct ns_db *db, int64_t study, int idx, uint8_t **buf, size_t *len,
                         int *epoch)
{
    return get(db, T_CHECKPOINTS, study, idx, buf, len, epoch);
}

int ns_db_drop_checkpoint(struct ns_db *db, int64_t study, int idx)
{
    sqlite3_stmt *st;
    if (prepare(db, "DELETE FROM checkpoints WHERE study_id = ?1 AND trial = ?2", &st))
        return -1;
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_int(st, 2, idx);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : ns_db_sqlerr(db, "drop checkpoint");
}

int ns_db_weights_trials(struct ns_db *db, int64_t study, int **idx, int *n)
{
    *idx = NULL;
    *n = 0;
    int have = has_table(db, T_WEIGHTS);
    if (have <= 0)
        return have;
    sqlite3_stmt *st;
    if (prepare(db, "SELECT trial FROM weights WHERE study_id = ?1 ORDER BY trial", &st))
        return -1;
    sqlite3_bind_int64(st, 1, study);
    int cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            int *grown = realloc(*idx, sizeof **idx * (size_t)(cap = cap ? 2 * cap : 16));
            if (!grown) {
                sqlite3_finalize(st);
                free(*idx);
                *idx = NULL;
                *n = 0;
                return ns_err("%s: out of memory", ns_db_path(db));
            }
            *idx = grown;
        }
        (*idx)[(*n)++] = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(*idx);
        *idx = NULL;
        *n = 0;
        return ns_db_sqlerr(db, "list weights");
    }
    return 0;
}

int ns_db_prune_weights(struct ns_db *db, int64_t study, int keep)
{
    if (keep < 0)
        return ns_err("keep_weights: %d is not >= 0", keep);
    sqlite3_stmt *st;
    if (prepare(db,
                "DELETE FROM weights WHERE study_id = ?1 AND trial NOT IN ("
                "SELECT w.trial FROM weights w JOIN trials t ON t.study_id = w.study_id AND "
                "t.trial = w.trial WHERE w.study_id = ?1 "
                "ORDER BY t.test_error IS NULL, t.test_error, w.trial LIMIT ?2)",
                &st))
        return -1;
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_int(st, 2, keep);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ns_db_sqlerr(db, "prune weights");
    return sqlite3_changes(ns_db_sqlite(db));
}
