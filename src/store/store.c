/* The results store: opening and checking a db, the schema, the writer's statements and the
 * readers' loaders. See store.h for the contracts. */
#include "store/store.h"

#include "util/err.h"
#include "util/timer.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The trials table, one line a column: X(name, SQL declaration, kind, member of struct
 * ns_db_trial). The sampled parameters are a block of NUMERIC columns (NS_DB_PARAMS in
 * store.h) read into ns_db_trial.p[]. The CREATE TABLE text, the numeric columns a caller may
 * ask for (ns_db_value_columns), the loader's column list and the columns a writer adds to an
 * older file are all made from these lists: adding a column is one line here (and its member
 * in struct ns_db_trial). Kinds: K_KEY (the study id), K_I64, K_U64, K_INT, K_REAL (NULL reads
 * as NAN), K_TEXT (malloc'd, NULL stays NULL), K_STATE (a state name), K_RANK (NULL reads as
 * -1). */
#define TRIAL_HEAD_COLUMNS(X)                                                                      \
    X(study_id, "INTEGER NOT NULL REFERENCES studies(id)", K_KEY, study_id)                        \
    X(trial, "INTEGER NOT NULL CHECK(trial >= 0)", K_INT, idx)                                     \
    X(stream, "INTEGER NOT NULL", K_U64, stream)                                                   \
    X(state,                                                                                       \
      "TEXT NOT NULL DEFAULT 'waiting' CHECK(state IN "                                            \
      "('waiting','running','complete','failed','stale'))",                                        \
      K_STATE, state)                                                                              \
    X(config, "TEXT NOT NULL", K_TEXT, config_json)                                                \
    X(config_hash, "TEXT NOT NULL", K_TEXT, config_hash)                                           \
    X(flops, "INTEGER NOT NULL", K_I64, flops)                                                     \
    X(params, "INTEGER NOT NULL", K_I64, params)                                                   \
    X(acts, "INTEGER NOT NULL", K_I64, acts)
#define TRIAL_TAIL_COLUMNS(X)                                                                      \
    X(other_params, "TEXT", K_TEXT, other_params)                                                  \
    X(train_seed, "INTEGER NOT NULL", K_U64, train_seed)                                           \
    X(train_error, "REAL", K_REAL, train_error)                                                    \
    X(test_error, "REAL", K_REAL, test_error)                                                      \
    X(best_test_error, "REAL", K_REAL, best_test_error)                                            \
    X(wall_s, "REAL", K_REAL, wall_s)                                                              \
    X(host, "TEXT", K_TEXT, host)                                                                  \
    X(rank, "INTEGER", K_RANK, rank)                                                               \
    X(started, "REAL", K_REAL, started)                                                            \
    X(ended, "REAL", K_REAL, ended)                                                                \
    X(reason, "TEXT", K_TEXT, reason)                                                              \
    X(attempts, "INTEGER NOT NULL DEFAULT 0", K_INT, attempts)

enum col_kind { K_KEY, K_I64, K_U64, K_INT, K_REAL, K_TEXT, K_STATE, K_RANK, K_PARAM };

#define PARAM_NAME(name) #name,
const char *const ns_db_param_names[NS_DB_N_PARAMS] = {NS_DB_PARAMS(PARAM_NAME)};

/* The numeric columns: every kind but the key, text and state. */
#define VALUE_K_KEY(name)
#define VALUE_K_I64(name) #name,
#define VALUE_K_U64(name) #name,
#define VALUE_K_INT(name) #name,
#define VALUE_K_REAL(name) #name,
#define VALUE_K_TEXT(name)
#define VALUE_K_STATE(name)
#define VALUE_K_RANK(name) #name,
#define VALUE_COL(name, decl, kind, member) VALUE_##kind(name)
const char *const ns_db_value_columns[] = {TRIAL_HEAD_COLUMNS(VALUE_COL) NS_DB_PARAMS(PARAM_NAME)
                                               TRIAL_TAIL_COLUMNS(VALUE_COL)};
const int ns_db_n_value_columns = (int)(sizeof ns_db_value_columns / sizeof ns_db_value_columns[0]);

/* Every column with its declaration, kind and place in struct ns_db_trial, in table order. */
struct col_desc {
    const char *name, *decl;
    enum col_kind kind;
    size_t off;
};
#define DESC_COL(name, decl, kind, member)                                                         \
    {#name, decl, kind, offsetof(struct ns_db_trial, member)},
#define DESC_PARAM(name) {#name, "NUMERIC", K_PARAM, 0},
static const struct col_desc trial_cols[] = {TRIAL_HEAD_COLUMNS(DESC_COL) NS_DB_PARAMS(DESC_PARAM)
                                                 TRIAL_TAIL_COLUMNS(DESC_COL)};
#define N_TRIAL_COLS (int)(sizeof trial_cols / sizeof trial_cols[0])

static const char *const state_names[NS_DB_NSTATES] = {"waiting", "running", "complete", "failed",
                                                       "stale"};

/* The typed parameter columns are NUMERIC so that integer-valued parameters (depth, w0)
 * read back and print as integers. */
#define SQL_COL(name, decl, kind, member) "  " #name " " decl ",\n"
#define SQL_PARAM(name) "  " #name " NUMERIC,\n"
static const char schema_sql[] =
    "CREATE TABLE netspace_version(schema_version INTEGER NOT NULL);\n"
    "INSERT INTO netspace_version VALUES(3);\n"
    "CREATE TABLE studies(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL UNIQUE,\n"
    "  experiment TEXT NOT NULL,\n"
    "  seed INTEGER NOT NULL,\n"
    "  space TEXT,\n"
    "  created REAL NOT NULL,\n"
    "  data_fingerprint TEXT,\n"
    "  data_skipped INTEGER);\n"
    "CREATE TABLE trials(\n" TRIAL_HEAD_COLUMNS(SQL_COL) NS_DB_PARAMS(SQL_PARAM) TRIAL_TAIL_COLUMNS(
        SQL_COL) "  PRIMARY KEY(study_id, trial));\n"
                 "CREATE TABLE epochs(\n"
                 "  study_id INTEGER NOT NULL,\n"
                 "  trial INTEGER NOT NULL,\n"
                 "  epoch INTEGER NOT NULL,\n"
                 "  train_loss REAL, train_error REAL, test_error REAL, seconds REAL,\n"
                 "  PRIMARY KEY(study_id, trial, epoch),\n"
                 "  FOREIGN KEY(study_id, trial) REFERENCES trials(study_id, trial)) WITHOUT "
                 "ROWID;\n"
                 /* The analysis queries: state counts and best-of-state, sort by error, complexity
                  * filters, dedupe by hash. */
                 "CREATE INDEX trials_state ON trials(study_id, state, test_error);\n"
                 "CREATE INDEX trials_test_error ON trials(study_id, test_error);\n"
                 "CREATE INDEX trials_flops ON trials(study_id, flops);\n"
                 "CREATE INDEX trials_params ON trials(study_id, params);\n"
                 "CREATE INDEX trials_hash ON trials(study_id, config_hash);\n";

/* Multi-fidelity search (issue #15): a trial's rungs. A row is written when the trial is
 * cleared for the rung (test_error NULL) and completed when it finishes it; `trained` is the
 * epochs trained to get there (the budget spent on the rung: its epochs minus the start
 * epoch, or all of them when no checkpoint was left to continue from). Part of schema 3; a
 * writer creates it in any older file it opens (IF NOT EXISTS), readers do without it. */
static const char rungs_sql[] = "CREATE TABLE IF NOT EXISTS rungs(\n"
                                "  study_id INTEGER NOT NULL,\n"
                                "  trial INTEGER NOT NULL,\n"
                                "  rung INTEGER NOT NULL,\n"
                                "  epochs INTEGER NOT NULL,\n"
                                "  test_error REAL,\n"
                                "  trained INTEGER,\n"
                                "  wall_s REAL,\n"
                                "  cleared REAL NOT NULL,\n"
                                "  ended REAL,\n"
                                "  PRIMARY KEY(study_id, trial, rung),\n"
                                "  FOREIGN KEY(study_id, trial) REFERENCES trials(study_id, "
                                "trial)) WITHOUT ROWID;\n";
/* Kept weights and checkpoints (issue #15; blobs.c): schema 3, created in new files and added
 * to older ones by a writer (IF NOT EXISTS); readers do without them. */
static const char blobs_sql[] =
    "CREATE TABLE IF NOT EXISTS weights(study_id INTEGER NOT NULL, trial INTEGER NOT NULL,\n"
    "  epoch INTEGER NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY(study_id, trial),\n"
    "  FOREIGN KEY(study_id, trial) REFERENCES trials(study_id, trial));\n"
    "CREATE TABLE IF NOT EXISTS checkpoints(study_id INTEGER NOT NULL, trial INTEGER NOT NULL,\n"
    "  epoch INTEGER NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY(study_id, trial),\n"
    "  FOREIGN KEY(study_id, trial) REFERENCES trials(study_id, trial));\n";

/* The writer's statements, prepared once and reused (inserting 100k trials one prepare each
 * would cost more than the inserts). */
enum {
    ST_TRIAL_ADD,
    ST_TRIAL_HASH,
    ST_TRIAL_STATE,
    ST_START,
    ST_EPOCHS_DELETE,
    ST_EPOCH,
    ST_FINISH,
    ST_RESET,
    ST_RUNG_CLEAR,
    ST_RUNG_DONE,
    ST_RUNG_ATTEMPTS,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_COUNT
};

#define PARAM_LIST(name) #name ", "
#define PARAM_Q(name) "?, "
static const char *const stmt_sql[ST_COUNT] = {
    /* ?1..?8, then one ? per sampled parameter (?9..), other_params, train_seed */
    [ST_TRIAL_ADD] =
        "INSERT OR IGNORE INTO trials(study_id, trial, stream, config, config_hash, "
        "flops, params, acts, " NS_DB_PARAMS(
            PARAM_LIST) "other_params, train_seed) "
                        "VALUES(?, ?, ?, ?, ?, ?, ?, ?, " NS_DB_PARAMS(PARAM_Q) "?, ?)",
    [ST_TRIAL_HASH] = "SELECT config_hash FROM trials WHERE study_id = ?1 AND trial = ?2",
    [ST_TRIAL_STATE] = "SELECT state FROM trials WHERE study_id = ?1 AND trial = ?2",
    [ST_START] = "UPDATE trials SET state = 'running', attempts = attempts + 1, rank = ?3, "
                 "host = ?4, started = ?5, "
                 "ended = NULL, train_error = NULL, test_error = NULL, best_test_error = NULL, "
                 "wall_s = NULL, reason = NULL WHERE study_id = ?1 AND trial = ?2",
    [ST_EPOCHS_DELETE] = "DELETE FROM epochs WHERE study_id = ?1 AND trial = ?2 AND epoch >= ?3",
    [ST_EPOCH] = "INSERT OR REPLACE INTO epochs(study_id, trial, epoch, train_loss, "
                 "train_error, test_error, seconds) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    /* best_test_error falls back to the best epoch on record when the caller has none. */
    [ST_FINISH] = "UPDATE trials SET state = ?3, train_error = ?4, test_error = ?5, "
                  "best_test_error = coalesce(?6, (SELECT min(test_error) FROM epochs e WHERE "
                  "e.study_id = ?1 AND e.trial = ?2)), wall_s = ?7, ended = ?8, reason = ?9 "
                  "WHERE study_id = ?1 AND trial = ?2",
    /* ?3: 1 when the attempt is given back (put back unharmed), 0 when it counts (lost) */
    [ST_RESET] = "UPDATE trials SET state = 'waiting', rank = NULL, host = NULL, started = "
                 "NULL, ended = NULL, train_error = NULL, test_error = NULL, best_test_error "
                 "= NULL, wall_s = NULL, reason = NULL, attempts = max(attempts - ?3, 0) "
                 "WHERE study_id = ?1 AND trial = ?2",
    [ST_RUNG_CLEAR] = "INSERT OR IGNORE INTO rungs(study_id, trial, rung, epochs, cleared) "
                      "VALUES(?1, ?2, ?3, ?4, ?5)",
    [ST_RUNG_DONE] = "INSERT INTO rungs(study_id, trial, rung, epochs, test_error, trained, "
                     "wall_s, cleared, ended) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) "
                     "ON CONFLICT(study_id, trial, rung) DO UPDATE SET epochs = ?4, "
                     "test_error = ?5, trained = ?6, wall_s = ?7, ended = ?8",
    /* a finished rung ends the job: the next rung's attempts are its own */
    [ST_RUNG_ATTEMPTS] = "UPDATE trials SET attempts = 0 WHERE study_id = ?1 AND trial = ?2",
    [ST_SAVEPOINT] = "SAVEPOINT ns_write",
    [ST_RELEASE] = "RELEASE ns_write",
    [ST_ROLLBACK_TO] = "ROLLBACK TO ns_write",
};

struct ns_db {
    sqlite3 *h;
    char *path;
    int rw;
    int moved; /* the file was replaced under this connection, every write refused: -1
                * (seen inside a transaction, not saved yet), 1 (saved), 2 (saving failed) */
    int in_batch;
    int version;                                                     /* the file's schema version */
    unsigned char has_col[sizeof trial_cols / sizeof trial_cols[0]]; /* in this file's trials */
    sqlite3_stmt *st[ST_COUNT];
};

/* ------------------------------------------------------------------------------------- */

const char *ns_db_state_name(int s)
{
    return s >= 0 && s < NS_DB_NSTATES ? state_names[s] : NULL;
}

int ns_db_state_from_name(const char *name)
{
    for (int s = 0; s < NS_DB_NSTATES; s++)
        if (name && !strcmp(name, state_names[s]))
            return s;
    return ns_err("unknown state '%s'; states: waiting, running, complete, failed, stale",
                  name ? name : "(null)");
}

const char *ns_db_path(const struct ns_db *db)
{
    return db->path;
}

void *ns_db_sqlite(struct ns_db *db)
{
    return db->h;
}

int ns_db_sqlerr(struct ns_db *db, const char *what)
{
    return ns_err("%s: %s: %s", db->path, what, sqlite3_errmsg(db->h));
}

static double col_double(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? strdup((const char *)s) : NULL;
}

/* NaN and infinities are "not measured": stored as NULL. */
static int bind_num(sqlite3_stmt *st, int i, double v)
{
    return isfinite(v) ? sqlite3_bind_double(st, i, v) : sqlite3_bind_null(st, i);
}

static int exec(struct ns_db *db, const char *sql, const char *what)
{
    if (sqlite3_exec(db->h, sql, NULL, NULL, NULL) != SQLITE_OK)
        return ns_db_sqlerr(db, what);
    return 0;
}

/* "FILE: study 'name' has no trial N" (the study by id when it has no name either). */
static int no_trial(struct ns_db *db, int64_t study, int idx)
{
    sqlite3_stmt *st;
    char name[256] = "";
    if (sqlite3_prepare_v2(db->h, "SELECT name FROM studies WHERE id = ?1", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_int64(st, 1, study);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            snprintf(name, sizeof name, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    if (!name[0])
        return ns_err("%s: no study with id %lld (trial %d)", db->path, (long long)study, idx);
    return ns_err("%s: study '%s' has no trial %d", db->path, name, idx);
}

/* A cached statement, reset and with its bindings cleared. */
static sqlite3_stmt *stmt(struct ns_db *db, int id)
{
    if (!db->st[id]) {
        if (sqlite3_prepare_v3(db->h, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &db->st[id],
                               NULL) != SQLITE_OK) {
            ns_db_sqlerr(db, "prepare");
            return NULL;
        }
    }
    sqlite3_reset(db->st[id]);
    sqlite3_clear_bindings(db->st[id]);
    return db->st[id];
}

/* Run a statement that returns no rows; 0 or -1. */
static int step_done(struct ns_db *db, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ns_db_sqlerr(db, what);
    return 0;
}

/* ------------------------------------------------------------------------------------- */
/* Opening */

static int exists_check(const char *path, int flags)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT && (flags & NS_DB_CREATE))
            return 0;
        return ns_err("%s: %s", path, errno == ENOENT ? "no such file" : strerror(errno));
    }
    if (S_ISDIR(sb.st_mode))
        return ns_err("%s: is a folder, not a database file", path);
    if ((flags & NS_DB_RW) && access(path, W_OK) != 0)
        return ns_err("%s: not writable: %s", path, strerror(errno));
    return 0;
}

/* Why sqlite could not open/create a file, in words: check the folder. */
static int cantopen(const char *path, int flags)
{
    char *dir = strdup(path);
    if (!dir)
        return ns_err("%s: out of memory", path);
    char *slash = strrchr(dir, '/');
    const char *d = slash ? (slash == dir ? "/" : (*slash = 0, dir)) : ".";
    struct stat sb;
    int e = 0;
    if (stat(d, &sb) != 0)
        e = errno;
    else if (!S_ISDIR(sb.st_mode))
        e = ENOTDIR;
    else if ((flags & NS_DB_RW) && access(d, W_OK) != 0)
        e = errno;
    if (e)
        ns_err("%s: cannot %s: folder '%s': %s", path, (flags & NS_DB_RW) ? "create" : "open", d,
               strerror(e));
    else
        ns_err("%s: cannot open the database file", path);
    free(dir);
    return -1;
}

/* One integer from a query (PRAGMA or SELECT); -1 with a message on failure. */
static int query_int(struct ns_db *db, const char *sql, long long *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* Why the first read of the file failed, naming the file. */
static int open_failure(struct ns_db *db)
{
    int rc = sqlite3_extended_errcode(db->h) & 0xff;
    if (rc == SQLITE_NOTADB)
        return ns_err("%s: not an SQLite database (nor a netspace results db)", db->path);
    if (rc == SQLITE_CORRUPT)
        return ns_err("%s: corrupt database: %s", db->path, sqlite3_errmsg(db->h));
    return ns_db_sqlerr(db, "cannot read");
}

static int create_schema(struct ns_db *db)
{
    /* IMMEDIATE so that two processes creating the same new file cannot both write a schema;
     * the loser re-checks under the lock. */
    if (exec(db, "BEGIN IMMEDIATE", "create schema") < 0)
        return -1;
    long long n = 0;
    if (query_int(db, "SELECT count(*) FROM sqlite_master", &n) < 0) {
        exec(db, "ROLLBACK", "rollback");
        return open_failure(db);
    }
    if (n == 0 && (exec(db, schema_sql, "create schema") < 0 ||
                   exec(db, rungs_sql, "create schema") < 0 ||
                   exec(db, blobs_sql, "create schema") < 0)) {
        exec(db, "ROLLBACK", "rollback");
        return -1;
    }
    return exec(db, "COMMIT", "create schema");
}

static int check_version(struct ns_db *db)
{
    long long n = 0;
    if (query_int(db,
                  "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
                  "'netspace_version'",
                  &n) < 0)
        return open_failure(db);
    if (n == 0)
        return ns_err("%s: an SQLite database but not a netspace results db (no netspace_version "
                      "table)",
                      db->path);
    long long rows = 0, v = 0;
    if (query_int(db, "SELECT count(*) FROM netspace_version", &rows) < 0 ||
        query_int(db, "SELECT schema_version FROM netspace_version", &v) < 0 || rows != 1)
        return ns_err("%s: malformed netspace_version table (want one row)", db->path);
    if (v > NS_DB_SCHEMA_VERSION)
        return ns_err("%s: schema version %lld is newer than this netspace understands (%d); "
                      "use a newer netspace",
                      db->path, v, NS_DB_SCHEMA_VERSION);
    if (v < 1)
        return ns_err("%s: unknown schema version %lld", db->path, v);
    db->version = (int)v;
    return 0;
}

/* Which trial columns the file has (trial_cols order) into db->has_col. 0 or -1. */
static int read_columns(struct ns_db *db)
{
    memset(db->has_col, 0, sizeof db->has_col);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, "SELECT name FROM pragma_table_info('trials')", -1, &st, NULL) !=
        SQLITE_OK)
        return ns_db_sqlerr(db, "trial columns");
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        for (int i = 0; name && i < N_TRIAL_COLS; i++)
            if (!strcmp(name, trial_cols[i].name))
                db->has_col[i] = 1;
    }
    sqlite3_finalize(st);
    return 0;
}

/* 1 if the studies table has column `col`, else 0. */
static int has_study_col(struct ns_db *db, const char *col)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT %s FROM studies LIMIT 0", col);
    sqlite3_stmt *st;
    int ok = sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) == SQLITE_OK;
    sqlite3_finalize(st);
    return ok;
}

/* Bring a db of an older schema up to this one (a writer only; readers read any version):
 * every trial column of the table above that the file lacks is added (version 2 added
 * attempts and the parameters of stages 5 to 8), studies.data_fingerprint, and
 * studies.data_skipped (added within version 3). */
static int migrate(struct ns_db *db)
{
    if (read_columns(db) < 0 || exec(db, rungs_sql, "add the rungs table") < 0 ||
        exec(db, blobs_sql, "add the weights tables") < 0)
        return -1;
    int no_skipped = !has_study_col(db, "data_skipped");
    int missing = db->version < NS_DB_SCHEMA_VERSION || no_skipped;
    for (int i = 0; i < N_TRIAL_COLS; i++)
        missing |= !db->has_col[i];
    if (!missing)
        return 0;
    if (exec(db, "BEGIN IMMEDIATE", "migrate") < 0)
        return -1;
    int rc = 0;
    char sql[512];
    for (int i = 0; rc == 0 && i < N_TRIAL_COLS; i++)
        if (!db->has_col[i]) {
            snprintf(sql, sizeof sql, "ALTER TABLE trials ADD COLUMN %s %s", trial_cols[i].name,
                     trial_cols[i].decl);
            rc = exec(db, sql, "migrate to schema version 2");
        }
    if (rc == 0 && db->version < 2)
        rc = exec(db,
                  "ALTER TABLE studies ADD COLUMN data_fingerprint TEXT; "
                  "UPDATE netspace_version SET schema_version = 2",
                  "migrate to schema version 2");
    if (rc == 0 && no_skipped)
        rc = exec(db, "ALTER TABLE studies ADD COLUMN data_skipped INTEGER",
                  "add studies.data_skipped");
    if (rc == 0 && db->version < 3)
        rc = exec(db, "UPDATE netspace_version SET schema_version = 3",
                  "migrate to schema version 3");
    if (rc < 0) {
        exec(db, "ROLLBACK", "rollback");
        return -1;
    }
    if (exec(db, "COMMIT", "migrate") < 0)
        return -1;
    db->version = NS_DB_SCHEMA_VERSION;
    return read_columns(db);
}

/* One-row text PRAGMA (journal_mode, quick_check); 0 if it answers `want`, else -1 with the
 * answer in `got`. */
static int pragma_text(struct ns_db *db, const char *sql, const char *want, char *got, size_t n)
{
    sqlite3_stmt *st;
    got[0] = 0;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return ns_db_sqlerr(db, sql);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(got, n, "%s", (const char *)sqlite3_column_text(st, 0));
    else if (rc != SQLITE_ROW)
        snprintf(got, n, "%s", sqlite3_errmsg(db->h));
    sqlite3_finalize(st);
    return strcmp(got, want) ? -1 : 0;
}

/* Read-only handles: refuse what could re-enable writing or reach other files, whatever
 * SQL text a user hands to netspace query (the file itself is opened read-only anyway). */
static int ro_authorizer(void *ctx, int action, const char *a, const char *b, const char *db,
                         const char *trigger)
{
    (void)ctx;
    (void)db;
    (void)trigger;
    switch (action) {
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
        return SQLITE_DENY;
    case SQLITE_PRAGMA: /* a = name, b = argument: only reading pragmas */
        return b && (!strcmp(a, "query_only") || !strcmp(a, "writable_schema")) ? SQLITE_DENY
                                                                                : SQLITE_OK;
    default:
        return SQLITE_OK;
    }
}

/* A read-only open of a file no connection has open (no -wal file beside it: the last one to
 * close removed it) goes through "file:PATH?immutable=1": SQLite then reads the file alone,
 * without creating -wal and -shm files. So a db in a folder the reader cannot write (a
 * colleague's results, a read-only share) can be read, and a reader never leaves files that
 * another user's search could not write. Its content is the last checkpoint, which with no
 * -wal file is the last commit. While a search writes, the -wal file exists and readers
 * share it as usual. The URI is malloc'd; NULL when out of memory. */
static char *immutable_uri(const char *path)
{
    char *u = malloc(3 * strlen(path) + 32), *o = u;
    if (!u)
        return NULL;
    o += sprintf(o, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (isalnum(*p) || strchr("/-_.~", *p))
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    }
    sprintf(o, "?immutable=1");
    return u;
}

static int wal_exists(const char *path)
{
    char wal[4096];
    if (snprintf(wal, sizeof wal, "%s-wal", path) >= (int)sizeof wal)
        return 1;
    return access(wal, F_OK) == 0;
}

struct ns_db *ns_db_open(const char *path, int flags)
{
    if (!path || !*path) {
        ns_err("database path is empty");
        return NULL;
    }
    if (exists_check(path, flags) < 0)
        return NULL;
    struct ns_db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path))) {
        free(db);
        ns_err("%s: out of memory", path);
        return NULL;
    }
    db->rw = (flags & NS_DB_RW) != 0;
    int oflags = db->rw ? SQLITE_OPEN_READWRITE | ((flags & NS_DB_CREATE) ? SQLITE_OPEN_CREATE : 0)
                        : SQLITE_OPEN_READONLY;
    char *uri = NULL;
    if (!db->rw && !wal_exists(path)) {
        if (!(uri = immutable_uri(path))) {
            ns_err("%s: out of memory", path);
            goto fail;
        }
        oflags |= SQLITE_OPEN_URI;
    }
    int orc = sqlite3_open_v2(uri ? uri : path, &db->h, oflags, NULL);
    free(uri);
    if (orc != SQLITE_OK) {
        cantopen(path, flags);
        goto fail;
    }
    sqlite3_extended_result_codes(db->h, 1);
    sqlite3_busy_timeout(db->h, 10000);
    if (db->rw && sqlite3_db_readonly(db->h, "main") == 1) {
        ns_err("%s: not writable", path);
        goto fail;
    }
    long long n = 0;
    if (query_int(db, "SELECT count(*) FROM sqlite_master", &n) < 0) {
        open_failure(db);
        goto fail;
    }
    if (n == 0) {
        if (!(flags & NS_DB_CREATE)) {
            ns_err("%s: an empty SQLite file, not a netspace results db", path);
            goto fail;
        }
        if (create_schema(db) < 0)
            goto fail;
    }
    if (check_version(db) < 0 || (!db->rw && read_columns(db) < 0))
        goto fail;
    char got[256];
    if (db->rw) {
        if (pragma_text(db, "PRAGMA quick_check", "ok", got, sizeof got) < 0) {
            /* the first finding, on one line, without sqlite's banner */
            const char *banner = "*** in database main ***";
            char *g = strncmp(got, banner, strlen(banner)) ? got : got + strlen(banner);
            while (*g == '\n' || *g == ' ')
                g++;
            char *nl = strchr(g, '\n');
            if (nl)
                *nl = 0;
            ns_err("%s: corrupt database (quick_check: %s%s)", path, g, nl ? "; ..." : "");
            goto fail;
        }
        if (migrate(db) < 0)
            goto fail;
        if (pragma_text(db, "PRAGMA journal_mode = WAL", "wal", got, sizeof got) < 0) {
            ns_err("%s: cannot switch to WAL mode (%s); is the folder writable?", path, got);
            goto fail;
        }
        /* NORMAL is durable up to the last few commits on power loss in WAL mode, and a lost
         * trial is simply trained again on resume. */
        /* A batch of thousands of trials must not spill the page cache (2 MB by default)
         * into the WAL page by page, and the savepoint of every write function keeps its
         * undo pages in a sub-journal: in memory, not one pwrite per page in a temp file. */
        if (exec(db,
                 "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; "
                 "PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY",
                 "pragma") < 0)
            goto fail;
    } else {
        sqlite3_limit(db->h, SQLITE_LIMIT_ATTACHED, 0);
        /* Memory-mapped reads: a sort over 100k trials fetches rows at random, and one
         * pread per page costs more than the query itself. */
        /* temp_store: a sort that outgrows the cache stays in memory, under the caller's cap
         * (ns_db_read_limits), instead of filling the disk with temporary files */
        if (exec(db,
                 "PRAGMA query_only = 1; PRAGMA mmap_size = 1073741824; "
                 "PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY",
                 "pragma") < 0)
            goto fail;
        sqlite3_set_authorizer(db->h, ro_authorizer, NULL);
    }
    return db;
fail:
    ns_db_close(db);
    return NULL;
}

static int still_in_place(struct ns_db *db);

void ns_db_close(struct ns_db *db)
{
    if (!db)
        return;
    if (db->in_batch)
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    if (db->rw && db->moved <= 0) { /* a move after the last write: save, empty the log */
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", ns_errmsg());
        still_in_place(db);
        ns_err("%s", msg);
    }
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(db->st[i]);
    sqlite3_close(db->h);
    free(db->path);
    free(db);
}

/* ------------------------------------------------------------------------------------- */
/* Writing */

/* A git stash or checkout of a tracked db, or an mv over it, puts another file at the path
 * while a search has the db open. SQLite would go on writing the old, unlinked file (and
 * checkpoint the write-ahead log, still found at PATH-wal, into it), which leaves the file
 * now at the path inconsistent with the log: a corrupt db (this happened to a results db of
 * this repository). So each write first asks SQLite whether the file has moved (its inode
 * is no longer the path's; a cp over the file in place keeps the inode and is not seen).
 * The first time it has, outside a transaction (a backup of a connection inside its own
 * write transaction finds the db busy: then the write is refused and the copy made at the
 * next check, after the caller rolled back), what this connection sees (the old file and the
 * log: everything written so far) is saved by an online backup next to the path, and the
 * log is emptied into the old file, so that it is not applied to the file now at the path
 * when that is opened; this and every later write fail, naming the copy. A close does the
 * same for a move after the last write. (Not covered: another process that opened the file
 * now at the path before this check, while the old log was still at PATH-wal, shares that
 * log; the checkpoint then moves its frames into the old file too.) */
static int still_in_place(struct ns_db *db)
{
    char rescue[4096];
    snprintf(rescue, sizeof rescue, "%s.rescued-%ld", db->path, (long)getpid());
    int moved = 0;
    if (!db->moved &&
        (sqlite3_file_control(db->h, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK ||
         !moved))
        return 0;
    const char *what = "the file was replaced, moved or deleted while this process was writing "
                       "it (a git stash or checkout of a tracked db, or an mv over it, does "
                       "this); nothing more is written to it";
    if (db->moved <= 0 && !sqlite3_get_autocommit(db->h)) {
        db->moved = -1;
        return ns_err("%s: %s; what this process had written is saved next to it once this "
                      "transaction is rolled back",
                      db->path, what);
    }
    if (db->moved <= 0) {
        sqlite3 *to = NULL;
        int rc = sqlite3_open_v2(rescue, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
        sqlite3_backup *b = rc == SQLITE_OK ? sqlite3_backup_init(to, "main", db->h, "main") : NULL;
        rc = SQLITE_ERROR;
        if (b) {
            sqlite3_backup_step(b, -1);
            rc = sqlite3_backup_finish(b);
        }
        sqlite3_close(to);
        db->moved = rc == SQLITE_OK ? 1 : 2;
        if (rc != SQLITE_OK)
            unlink(rescue);
        sqlite3_wal_checkpoint_v2(db->h, "main", SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    }
    if (db->moved == 2)
        return ns_err("%s: %s, and saving what this process had written (to %s) failed (if "
                      "%s-wal is there and not empty, it is the old file's log: delete it and "
                      "%s-shm before opening %s)",
                      db->path, what, rescue, db->path, db->path, db->path);
    return ns_err("%s: %s. Everything this process had written is in %s: check it (netspace "
                  "query --db FILE studies) and put it at %s before resuming (if %s-wal is "
                  "there and not empty, it is the old file's log: delete it and %s-shm first)",
                  db->path, what, rescue, db->path, db->path, db->path);
}

int ns_db_in_place(struct ns_db *db)
{
    return db->rw ? still_in_place(db) : 0;
}

static int writable(struct ns_db *db)
{
    if (!db->rw)
        return ns_err("%s: opened read-only", db->path);
    return still_in_place(db);
}

int ns_db_begin(struct ns_db *db)
{
    if (writable(db) < 0)
        return -1;
    if (db->in_batch)
        return ns_err("%s: a batch is already open", db->path);
    if (exec(db, "BEGIN IMMEDIATE", "begin") < 0)
        return -1;
    db->in_batch = 1;
    return 0;
}

int ns_db_commit(struct ns_db *db)
{
    if (!db->in_batch)
        return ns_err("%s: commit without a batch", db->path);
    if (exec(db, "COMMIT", "commit") < 0)
        return -1; /* the transaction is still open: the caller may retry or roll back */
    db->in_batch = 0;
    return 0;
}

int ns_db_rollback(struct ns_db *db)
{
    if (!db->in_batch)
        return ns_err("%s: rollback without a batch", db->path);
    db->in_batch = 0;
    return exec(db, "ROLLBACK", "rollback");
}

/* Every write function is one savepoint: a transaction of its own outside a batch, a
 * nested, individually undoable step inside one. */
static int sp_begin(struct ns_db *db)
{
    if (writable(db) < 0)
        return -1;
    sqlite3_stmt *st = stmt(db, ST_SAVEPOINT);
    return st ? step_done(db, st, "savepoint") : -1;
}

/* Release on success; on failure undo the step, keeping the message of the failure. */
static int sp_end(struct ns_db *db, int rc)
{
    if (rc >= 0) {
        sqlite3_stmt *st = stmt(db, ST_RELEASE);
        if (st && step_done(db, st, "commit") == 0)
            return rc;
        /* a failed commit leaves the savepoint open: undo it below */
    }
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", ns_errmsg());
    sqlite3_stmt *st = stmt(db, ST_ROLLBACK_TO);
    if (st)
        step_done(db, st, "rollback");
    st = stmt(db, ST_RELEASE);
    if (st)
        step_done(db, st, "rollback");
    ns_err("%s", msg);
    return -1;
}

/* The stored form of an experiment: sorted keys, compact. NULL with ns_err if not JSON. */
static char *canonical_experiment(struct ns_db *db, const char *name, const char *json)
{
    json_error_t jerr;
    json_t *j = json_loads(json, JSON_DECODE_ANY, &jerr);
    if (!j) {
        ns_err("%s: study '%s': experiment is not valid JSON: %s (line %d)", db->path, name,
               jerr.text, jerr.line);
        return NULL;
    }
    char *canon = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    if (!canon)
        ns_err("%s: study '%s': cannot encode the experiment", db->path, name);
    return canon;
}

int ns_db_study_set_experiment(struct ns_db *db, const char *name, const char *experiment_json)
{
    char *canon = canonical_experiment(db, name, experiment_json);
    if (!canon)
        return -1;
    if (sp_begin(db) < 0) {
        free(canon);
        return -1;
    }
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->h, "UPDATE studies SET experiment = ?1 WHERE name = ?2", -1, &st,
                           NULL) != SQLITE_OK) {
        st = NULL;
        ns_db_sqlerr(db, "update study");
    } else {
        sqlite3_bind_text(st, 1, canon, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            ns_db_sqlerr(db, "update study");
        else if (sqlite3_changes(db->h) != 1)
            ns_err("%s: study '%s' not found", db->path, name);
        else
            rc = 0;
    }
    sqlite3_finalize(st);
    free(canon);
    return sp_end(db, rc);
}

int64_t ns_db_study_ensure(struct ns_db *db, const struct ns_db_study_def *def, int *created)
{
    if (created)
        *created = 0;
    if (!def || !def->name || !*def->name)
        return ns_err("%s: a study needs a name", db->path);
    if (!def->experiment_json)
        return ns_err("%s: study '%s': no experiment", db->path, def->name);
    char *canon = canonical_experiment(db, def->name, def->experiment_json);
    if (!canon)
        return -1;

    int64_t id = -1;
    if (sp_begin(db) < 0) {
        free(canon);
        return -1;
    }
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db->h, "SELECT id, experiment, seed FROM studies WHERE name = ?1", -1,
                           &st, NULL) != SQLITE_OK) {
        ns_db_sqlerr(db, "find study");
        goto out;
    }
    sqlite3_bind_text(st, 1, def->name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const char *exp = (const char *)sqlite3_column_text(st, 1);
        if (!exp || strcmp(exp, canon) || (uint64_t)sqlite3_column_int64(st, 2) != def->seed) {
            ns_err("study '%s' exists in %s with a different experiment; use another name or db",
                   def->name, db->path);
            goto out;
        }
        id = sqlite3_column_int64(st, 0);
        rc = 0;
        goto out;
    }
    if (step != SQLITE_DONE) {
        ns_db_sqlerr(db, "find study");
        goto out;
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db->h,
                           "INSERT INTO studies(name, experiment, seed, space, created) "
                           "VALUES(?1, ?2, ?3, ?4, ?5)",
                           -1, &st, NULL) != SQLITE_OK) {
        st = NULL;
        ns_db_sqlerr(db, "create study");
        goto out;
    }
    sqlite3_bind_text(st, 1, def->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, canon, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)def->seed);
    if (def->space)
        sqlite3_bind_text(st, 4, def->space, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 5, ns_wall_time());
    if (sqlite3_step(st) != SQLITE_DONE) {
        ns_db_sqlerr(db, "create study");
        goto out;
    }
    id = sqlite3_last_insert_rowid(db->h);
    if (created)
        *created = 1;
    rc = 0;
out:
    sqlite3_finalize(st);
    free(canon);
    if (sp_end(db, rc) < 0) {
        if (created)
            *created = 0;
        return -1;
    }
    return id;
}

static int param_index(const char *name)
{
    for (int i = 0; i < NS_DB_N_PARAMS; i++)
        if (!strcmp(name, ns_db_param_names[i]))
            return i;
    return -1;
}

/* The sampled parameters that have no typed column, as a JSON object text (NULL if none). */
static int other_params_json(struct ns_db *db, const struct ns_db_trial_def *t, char **out)
{
    *out = NULL;
    json_t *o = NULL;
    for (int i = 0; i < t->n_sampled; i++) {
        const char *name = t->sampled[i].name;
        if (param_index(name) >= 0)
            continue;
        if (!o && !(o = json_object()))
            return ns_err("%s: out of memory", db->path);
        double v = t->sampled[i].value;
        json_object_set_new(o, name, isfinite(v) ? json_real(v) : json_null());
    }
    if (!o)
        return 0;
    /* 15 digits: 0.05 rather than 0.050000000000000003 for a human reading the column */
    *out = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(o);
    return *out ? 0 : ns_err("%s: out of memory", db->path);
}

static int trial_hash_mismatch(struct ns_db *db, int64_t study, const struct ns_db_trial_def *t)
{
    sqlite3_stmt *st = stmt(db, ST_TRIAL_HASH);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_int(st, 2, t->idx);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return ns_db_sqlerr(db, "trial lookup");
    }
    const char *h = (const char *)sqlite3_column_text(st, 0);
    int same = h && !strcmp(h, t->config_hash);
    if (!same)
        ns_err("%s: study %lld: trial %d exists with config hash %s, not %s", db->path,
               (long long)study, t->idx, h ? h : "(null)", t->config_hash);
    sqlite3_reset(st);
    return same ? 0 : -1;
}

int ns_db_trial_add(struct ns_db *db, int64_t study, const struct ns_db_trial_def *t)
{
    if (!t || t->idx < 0 || !t->config_json || !t->config_hash || t->n_sampled < 0 ||
        (t->n_sampled > 0 && !t->sampled))
        return ns_err("%s: trial_add: bad trial (index < 0 or missing config/hash/parameters)",
                      db->path);
    for (int i = 0; i < t->n_sampled; i++)
        if (!t->sampled[i].name || !*t->sampled[i].name)
            return ns_err("%s: trial %d: sampled parameter %d has no name", db->path, t->idx, i);
    char *other;
    if (other_params_json(db, t, &other) < 0)
        return -1;
    if (sp_begin(db) < 0) {
        free(other);
        return -1;
    }
    int rc = -1;
    sqlite3_stmt *st = stmt(db, ST_TRIAL_ADD);
    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_int(st, 2, t->idx);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)t->stream);
    sqlite3_bind_text(st, 4, t->config_json, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, t->config_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, t->flops);
    sqlite3_bind_int64(st, 7, t->params);
    sqlite3_bind_int64(st, 8, t->acts);
    /* ?9 .. ?35: typed parameters, NULL unless sampled (later duplicates win) */
    for (int i = 0; i < t->n_sampled; i++) {
        int k = param_index(t->sampled[i].name);
        if (k >= 0)
            bind_num(st, 9 + k, t->sampled[i].value);
    }
    if (other)
        sqlite3_bind_text(st, 9 + NS_DB_N_PARAMS, other, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10 + NS_DB_N_PARAMS, (sqlite3_int64)t->train_seed);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        if (sqlite3_extended_errcode(db->h) == SQLITE_CONSTRAINT_FOREIGNKEY)
            no_trial(db, study, t->idx); /* the study does not exist */
        else
            ns_db_sqlerr(db, "insert trial");
        goto out;
    }
    if (sqlite3_changes(db->h) == 1)
        rc = 1;
    else
        rc = trial_hash_mismatch(db, study, t);
out:
    free(other);
    return sp_end(db, rc);
}

int ns_db_trial_state(struct ns_db *db, int64_t study, int idx)
{
    sqlite3_stmt *st = stmt(db, ST_TRIAL_STATE);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_int(st, 2, idx);
    int rc = sqlite3_step(st), s = -1;
    if (rc == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        for (int i = 0; i < NS_DB_NSTATES; i++)
            if (name && !strcmp(name, state_names[i]))
                s = i;
        if (s < 0)
            ns_err("%s: trial %d has an unknown state '%s'", db->path, idx, name ? name : "");
    } else if (rc != SQLITE_DONE) {
        ns_db_sqlerr(db, "trial state");
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        no_trial(db, study, idx);
    return s;
}

/* Exactly one trial row changed by the last statement, else "no trial". */
static int one_changed(struct ns_db *db, int64_t study, int idx)
{
    if (sqlite3_changes(db->h) != 1)
        return no_trial(db, study, idx);
    return 0;
}

int ns_db_mark_stale(struct ns_db *db, int64_t study)
{
    if (writable(db) < 0)
        return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h,
                           "UPDATE trials SET state = 'stale' WHERE study_id = ?1 AND "
                           "state = 'running'",
                           -1, &st, NULL) != SQLITE_OK)
        return ns_db_sqlerr(db, "mark stale");
    sqlite3_bind_int64(st, 1, study);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ns_db_sqlerr(db, "mark stale");
    return sqlite3_changes(db->h);
}

/* Append the state filter of a mask to an SQL text ("" for all states). */
static void state_filter(unsigned states, char *buf, size_t n)
{
    buf[0] = 0;
    unsigned all = (1u << NS_DB_NSTATES) - 1;
    if (!(states & all) || (states & all) == all)
        return;
    size_t len = (size_t)snprintf(buf, n, " AND state IN (");
    const char *sep = "";
    for (int s = 0; s < NS_DB_NSTATES; s++)
        if (states & NS_DB_STATE_BIT(s)) {
            len += (size_t)snprintf(buf + len, n - len, "%s'%s'", sep, state_names[s]);
            sep = ", ";
        }
    snprintf(buf + len, n - len, ")");
}

int ns_db_trials_pending(struct ns_db *db, int64_t study, int **idx, int *n)
{
    *idx = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h,
                           "SELECT trial FROM trials WHERE study_id = ?1 AND state IN "
                           "('waiting', 'running', 'stale') ORDER BY trial",
                           -1, &st, NULL) != SQLITE_OK)
        return ns_db_sqlerr(db, "pending trials");
    sqlite3_bind_int64(st, 1, study);
    int cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 256;
            int *p = realloc(*idx, (size_t)cap * sizeof *p);
            if (!p) {
                rc = SQLITE_NOMEM;
                break;
            }
            *idx = p;
        }
        (*idx)[(*n)++] = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(*idx);
        *idx = NULL;
        *n = 0;
        return rc == SQLITE_NOMEM ? ns_err("%s: out of memory", db->path)
                                  : ns_db_sqlerr(db, "pending trials");
    }
    return 0;
}

static int delete_epochs(struct ns_db *db, int64_t study, int idx, int from)
{
    sqlite3_stmt *st = stmt(db, ST_EPOCHS_DELETE);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_int(st, 2, idx);
    sqlite3_bind_int(st, 3, from);
    return step_done(db, st, "delete epochs");
}

int ns_db_trial_start(struct ns_db *db, int64_t study, int idx, int rank, const char *host)
{
    return ns_db_trial_start_at(db, study, idx, rank, host, 0);
}

int ns_db_trial_start_at(struct ns_db *db, int64_t study, int idx, int rank, const char *host,
                         int from)
{
    if (sp_begin(db) < 0)
        return -1;
    int rc = -1;
    sqlite3_stmt *st = stmt(db, ST_START);
    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_int(st, 2, idx);
    sqlite3_bind_int(st, 3, rank);
    if (host)
        sqlite3_bind_text(st, 4, host, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 5, ns_wall_time());
    if (step_done(db, st, "start trial") < 0 || one_changed(db, study, idx) < 0)
        goto out;
    rc = delete_epochs(db, study, idx, from);
out:
    return sp_end(db, rc);
}

static int put_epoch(struct ns_db *db, int64_t study, int idx, const struct ns_db_epoch *e)
{
    if (e->epoch < 0)
        return ns_err("%s: trial %d: epoch %d < 0", db->path, idx, e->epoch);
    sqlite3_stmt *st = stmt(db, ST_EPOCH);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_int(st, 2, idx);
    sqlite3_bind_int(st, 3, e->epoch);
    bind_num(st, 4, e->train_loss);
    bind_num(st, 5, e->train_error);
    bind_num(st, 6, e->test_error);
    bind_num(st, 7, e->seconds);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    if (sqlite3_extended_errcode(db->h) == SQLITE_CONSTRAINT_FOREIGNKEY)
        return no_trial(db, study, idx);
    return ns_db_sqlerr(db, "record epoch");
}

int ns_db_trial_epoch(struct ns_db *db, int64_t study, int idx, const struct ns_db_epoch *e)
{
    if (sp_begin(db) < 0)
        return -1;
    return sp_end(db, put_epoch(db, study, idx, e));
}

static int finish(struct ns_db *db, int64_t study, int idx, int state, const char *reason,
                  const struct ns_db_result *r)
{
    if (r && r->n_epochs > 0 && !r->epochs)
        return ns_err("%s: trial %d: %d epochs but no epoch array", db->path, idx, r->n_epochs);
    if (sp_begin(db) < 0)
        return -1;
    int rc = -1;
    for (int i = 0; r && i < r->n_epochs; i++)
        if (put_epoch(db, study, idx, &r->epochs[i]) < 0)
            goto out;
    sqlite3_stmt *st = stmt(db, ST_FINISH);
    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_int(st, 2, idx);
    sqlite3_bind_text(st, 3, state_names[state], -1, SQLITE_STATIC);
    if (r) {
        bind_num(st, 4, r->train_error);
        bind_num(st, 5, r->test_error);
        bind_num(st, 6, r->best_test_error);
        bind_num(st, 7, r->wall_s);
    }
    sqlite3_bind_double(st, 8, ns_wall_time());
    if (reason)
        sqlite3_bind_text(st, 9, reason, -1, SQLITE_STATIC);
    if (step_done(db, st, "finish trial") < 0 || one_changed(db, study, idx) < 0)
        goto out;
    rc = 0;
out:
    return sp_end(db, rc);
}

int ns_db_trial_complete(struct ns_db *db, int64_t study, int idx, const struct ns_db_result *r)
{
    if (!r)
        return ns_err("%s: trial %d: complete without a result", db->path, idx);
    return finish(db, study, idx, NS_DB_COMPLETE, NULL, r);
}

int ns_db_trial_fail(struct ns_db *db, int64_t study, int idx, const char *reason,
                     const struct ns_db_result *r)
{
    return finish(db, study, idx, NS_DB_FAILED, reason && *reason ? reason : "error", r);
}

static int reset(struct ns_db *db, int64_t study, int idx, int give_back, int keep_epochs)
{
    if (sp_begin(db) < 0)
        return -1;
    int rc = -1;
    sqlite3_stmt *st = stmt(db, ST_RESET);
    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_int(st, 2, idx);
    sqlite3_bind_int(st, 3, give_back);
    if (step_done(db, st, "reset trial") < 0 || one_changed(db, study, idx) < 0)
        goto out;
    rc = keep_epochs ? 0 : delete_epochs(db, study, idx, 0);
out:
    return sp_end(db, rc);
}

int ns_db_trial_reset(struct ns_db *db, int64_t study, int idx)
{
    return reset(db, study, idx, 1, 0);
}

int ns_db_trial_lost(struct ns_db *db, int64_t study, int idx)
{
    return reset(db, study, idx, 0, 0);
}

int ns_db_trial_pause(struct ns_db *db, int64_t study, int idx, int lost)
{
    return reset(db, study, idx, !lost, 1);
}

static int rung_stmt(struct ns_db *db, int id, int64_t study, int idx, sqlite3_stmt **out)
{
    *out = stmt(db, id);
    if (!*out)
        return -1;
    sqlite3_bind_int64(*out, 1, study);
    sqlite3_bind_int(*out, 2, idx);
    return 0;
}

int ns_db_rung_clear(struct ns_db *db, int64_t study, int idx, int rung, int epochs)
{
    if (sp_begin(db) < 0)
        return -1;
    sqlite3_stmt *st;
    int rc = rung_stmt(db, ST_RUNG_CLEAR, study, idx, &st);
    if (rc == 0) {
        sqlite3_bind_int(st, 3, rung);
        sqlite3_bind_int(st, 4, epochs);
        sqlite3_bind_double(st, 5, ns_wall_time());
        rc = step_done(db, st, "clear a trial for a rung");
    }
    return sp_end(db, rc);
}

int ns_db_rung_done(struct ns_db *db, int64_t study, int idx, const struct ns_db_rung *r)
{
    if (sp_begin(db) < 0)
        return -1;
    sqlite3_stmt *st;
    int rc = rung_stmt(db, ST_RUNG_DONE, study, idx, &st);
    if (rc == 0) {
        sqlite3_bind_int(st, 3, r->rung);
        sqlite3_bind_int(st, 4, r->epochs);
        bind_num(st, 5, r->test_error);
        sqlite3_bind_int(st, 6, r->trained);
        bind_num(st, 7, r->wall_s);
        sqlite3_bind_double(st, 8, ns_wall_time());
        rc = step_done(db, st, "record a rung");
    }
    if (rc == 0 && (rc = rung_stmt(db, ST_RUNG_ATTEMPTS, study, idx, &st)) == 0)
        rc = step_done(db, st, "record a rung");
    return sp_end(db, rc);
}

long long ns_db_study_epochs_spent(struct ns_db *db, int64_t study)
{
    long long have = 0, n = 0;
    if (query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
                      "'rungs'",
                  &have) < 0)
        return -1;
    char sql[400];
    snprintf(sql, sizeof sql,
             have ? "SELECT CASE WHEN EXISTS(SELECT 1 FROM rungs WHERE study_id = %1$lld) THEN "
                    "(SELECT coalesce(sum(trained), 0) FROM rungs WHERE study_id = %1$lld) ELSE "
                    "(SELECT count(*) FROM epochs WHERE study_id = %1$lld) END"
                  : "SELECT count(*) FROM epochs WHERE study_id = %1$lld",
             (long long)study);
    if (query_int(db, sql, &n) < 0)
        return -1;
    return n;
}

int ns_db_rungs_load(struct ns_db *db, int64_t study, struct ns_db_rung **out, int *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    long long have = 0; /* a file older than the rungs has none */
    if (query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
                      "'rungs'",
                  &have) < 0)
        return -1;
    if (!have)
        return 0;
    if (sqlite3_prepare_v2(db->h,
                           "SELECT trial, rung, epochs, test_error, trained, wall_s FROM rungs "
                           "WHERE study_id = ?1 ORDER BY trial, rung",
                           -1, &st, NULL) != SQLITE_OK)
        return ns_db_sqlerr(db, "read rungs");
    sqlite3_bind_int64(st, 1, study);
    int cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            struct ns_db_rung *p = realloc(*out, (size_t)cap * sizeof *p);
            if (!p) {
                sqlite3_finalize(st);
                free(*out);
                *out = NULL;
                *n = 0;
                return ns_err("%s: out of memory for the rungs", db->path);
            }
            *out = p;
        }
        struct ns_db_rung *r = &(*out)[(*n)++];
        r->trial = sqlite3_column_int(st, 0);
        r->rung = sqlite3_column_int(st, 1);
        r->epochs = sqlite3_column_int(st, 2);
        r->test_error = sqlite3_column_type(st, 3) == SQLITE_NULL ? NAN
                                                                  : sqlite3_column_double(st, 3);
        r->trained = sqlite3_column_int(st, 4);
        r->wall_s = sqlite3_column_type(st, 5) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 5);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return ns_db_sqlerr(db, "read rungs");
    }
    return 0;
}

int ns_db_fail_exhausted(struct ns_db *db, int64_t study, int max_attempts)
{
    if (writable(db) < 0)
        return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h,
                           "UPDATE trials SET state = 'failed', ended = ?3, reason = 'lost ' || "
                           "attempts || ' times: its process died (out of memory? see "
                           "limits.memory_mb)' WHERE study_id = ?1 AND state IN ('waiting', "
                           "'stale') AND attempts >= ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return ns_db_sqlerr(db, "fail lost trials");
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_int(st, 2, max_attempts);
    sqlite3_bind_double(st, 3, ns_wall_time());
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ns_db_sqlerr(db, "fail lost trials");
    return sqlite3_changes(db->h);
}

int ns_db_study_data_check(struct ns_db *db, int64_t study, const char *fp, int skipped,
                           char *stored, size_t n)
{
    stored[0] = 0;
    if (writable(db) < 0)
        return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, "SELECT data_fingerprint FROM studies WHERE id = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return ns_db_sqlerr(db, "data fingerprint");
    sqlite3_bind_int64(st, 1, study);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(stored, n, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return ns_err("%s: no study with id %lld", db->path, (long long)study);
    if (rc != SQLITE_ROW)
        return ns_db_sqlerr(db, "data fingerprint");
    if (stored[0])
        return strcmp(stored, fp) ? 1 : 0;
    if (sqlite3_prepare_v2(db->h,
                           "UPDATE studies SET data_fingerprint = ?2, data_skipped = ?3 "
                           "WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return ns_db_sqlerr(db, "data fingerprint");
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_text(st, 2, fp, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, skipped);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : ns_db_sqlerr(db, "data fingerprint");
}

void ns_db_set_busy_timeout(struct ns_db *db, int ms)
{
    sqlite3_busy_timeout(db->h, ms);
}

int ns_db_locked(struct ns_db *db)
{
    if (db->moved)
        return 0; /* a write refused for a moved file is not a lock to wait out */
    int rc = sqlite3_extended_errcode(db->h) & 0xff;
    return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

/* ------------------------------------------------------------------------------------- */
/* Reading */

static int prepare(struct ns_db *db, const char *sql, sqlite3_stmt **st, const char *what)
{
    if (sqlite3_prepare_v2(db->h, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return ns_db_sqlerr(db, what);
    }
    return 0;
}

/* The median of a study's complete test errors: the middle one or the mean of the two. */
static int study_median(struct ns_db *db, struct ns_db_study_info *s, long long n)
{
    s->median_test_error = NAN;
    if (n == 0)
        return 0;
    sqlite3_stmt *st;
    if (prepare(db,
                "SELECT test_error FROM trials WHERE study_id = ?1 AND state = 'complete' "
                "AND test_error IS NOT NULL ORDER BY test_error LIMIT ?2 OFFSET ?3",
                &st, "median") < 0)
        return -1;
    sqlite3_bind_int64(st, 1, s->id);
    sqlite3_bind_int64(st, 2, n % 2 ? 1 : 2);
    sqlite3_bind_int64(st, 3, (n - 1) / 2);
    double sum = 0;
    int k = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sum += sqlite3_column_double(st, 0);
        k++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ns_db_sqlerr(db, "median");
    s->median_test_error = k ? sum / k : NAN;
    return 0;
}

static int study_stats(struct ns_db *db, struct ns_db_study_info *s)
{
    sqlite3_stmt *st;
    if (prepare(db, "SELECT state, count(*) FROM trials WHERE study_id = ?1 GROUP BY state", &st,
                "count trials") < 0)
        return -1;
    sqlite3_bind_int64(st, 1, s->id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int64_t c = sqlite3_column_int64(st, 1);
        s->n_trials += c;
        for (int k = 0; k < NS_DB_NSTATES; k++)
            if (name && !strcmp(name, state_names[k]))
                s->n_state[k] += c;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ns_db_sqlerr(db, "count trials");
    if (prepare(db,
                "SELECT min(test_error), count(test_error) FROM trials WHERE study_id = ?1 "
                "AND state = 'complete'",
                &st, "best trial") < 0)
        return -1;
    sqlite3_bind_int64(st, 1, s->id);
    rc = sqlite3_step(st);
    long long n = 0;
    if (rc == SQLITE_ROW) {
        s->best_test_error = col_double(st, 0);
        n = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return ns_db_sqlerr(db, "best trial");
    if (prepare(db,
                "SELECT count(*), total(seconds), (SELECT min(started) FROM trials WHERE "
                "study_id = ?1), (SELECT max(ended) FROM trials WHERE study_id = ?1) FROM epochs "
                "WHERE study_id = ?1",
                &st, "study budget") < 0)
        return -1;
    sqlite3_bind_int64(st, 1, s->id);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        s->epochs = sqlite3_column_int64(st, 0);
        s->epoch_seconds = sqlite3_column_double(st, 1);
        s->first_started = col_double(st, 2);
        s->last_ended = col_double(st, 3);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return ns_db_sqlerr(db, "study budget");
    return study_median(db, s, n);
}

void ns_db_studies_free(struct ns_db_study_info *s, int n)
{
    for (int i = 0; s && i < n; i++) {
        free(s[i].name);
        free(s[i].space);
        free(s[i].experiment_json);
    }
    free(s);
}

int ns_db_studies(struct ns_db *db, struct ns_db_study_info **out, int *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (prepare(db, "SELECT id, name, space, experiment, seed, created FROM studies ORDER BY id",
                &st, "list studies") < 0)
        return -1;
    struct ns_db_study_info *v = NULL;
    int cnt = 0, cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? 2 * cap : 8;
            struct ns_db_study_info *p = realloc(v, (size_t)cap * sizeof *p);
            if (!p) {
                rc = SQLITE_NOMEM;
                break;
            }
            v = p;
        }
        struct ns_db_study_info *s = &v[cnt++];
        memset(s, 0, sizeof *s);
        s->id = sqlite3_column_int64(st, 0);
        s->name = col_text(st, 1);
        s->space = col_text(st, 2);
        s->experiment_json = col_text(st, 3);
        s->seed = (uint64_t)sqlite3_column_int64(st, 4);
        s->created = col_double(st, 5);
        s->best_test_error = s->median_test_error = NAN;
        if (!s->name || !s->experiment_json) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ns_db_studies_free(v, cnt);
        return rc == SQLITE_NOMEM ? ns_err("%s: out of memory", db->path)
                                  : ns_db_sqlerr(db, "list studies");
    }
    for (int i = 0; i < cnt; i++)
        if (study_stats(db, &v[i]) < 0) {
            ns_db_studies_free(v, cnt);
            return -1;
        }
    *out = v;
    *n = cnt;
    return 0;
}

/* "a, b, c" of the study names (at most 20), into buf. */
static void study_names(struct ns_db *db, char *buf, size_t n)
{
    buf[0] = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, "SELECT name FROM studies ORDER BY id", -1, &st, NULL) !=
        SQLITE_OK)
        return;
    size_t len = 0;
    int k = 0;
    while (sqlite3_step(st) == SQLITE_ROW && len < n) {
        if (k++ == 20) {
            snprintf(buf + len, n - len, ", ...");
            break;
        }
        len += (size_t)snprintf(buf + len, n - len, "%s%s", k > 1 ? ", " : "",
                                (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
}

int64_t ns_db_study_resolve(struct ns_db *db, const char *name)
{
    sqlite3_stmt *st;
    char names[1024];
    if (name) {
        if (prepare(db, "SELECT id FROM studies WHERE name = ?1", &st, "find study") < 0)
            return -1;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_finalize(st);
        if (rc == SQLITE_ROW)
            return id;
        if (rc != SQLITE_DONE)
            return ns_db_sqlerr(db, "find study");
        study_names(db, names, sizeof names);
        if (!names[0])
            return ns_err("%s: study '%s' not found; the db has no studies", db->path, name);
        return ns_err("%s: study '%s' not found; studies: %s", db->path, name, names);
    }
    if (prepare(db, "SELECT id, (SELECT count(*) FROM studies) FROM studies LIMIT 1", &st,
                "find study") < 0)
        return -1;
    int rc = sqlite3_step(st);
    int64_t id = -1, count = 0;
    if (rc == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        count = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return ns_db_sqlerr(db, "find study");
    if (count == 0)
        return ns_err("%s: no studies", db->path);
    if (count > 1) {
        study_names(db, names, sizeof names);
        return ns_err("%s: %lld studies (%s); name one with --study", db->path, (long long)count,
                      names);
    }
    return id;
}

int ns_db_study_experiment(struct ns_db *db, const char *name, char **out)
{
    *out = NULL;
    int64_t id = 0;
    if (!name && (id = ns_db_study_resolve(db, NULL)) < 0)
        return -1;
    sqlite3_stmt *st;
    if (prepare(db,
                name ? "SELECT experiment FROM studies WHERE name = ?1"
                     : "SELECT experiment FROM studies WHERE id = ?2",
                &st, "find study") < 0)
        return -1;
    if (name)
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 2, id);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        *out = col_text(st, 0);
        found = *out ? 1 : -1;
        if (!*out)
            ns_err("%s: study '%s': no experiment stored", db->path, name ? name : "");
    } else if (rc != SQLITE_DONE) {
        found = ns_db_sqlerr(db, "find study");
    }
    sqlite3_finalize(st);
    return found;
}

/* The columns load_trial_row() reads, in trial_cols order, into buf: NULL for a column an
 * older file lacks (a reader does not migrate). */
static void select_columns(const struct ns_db *db, char *buf, size_t n)
{
    size_t len = 0;
    for (int i = 0; i < N_TRIAL_COLS && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "",
                                db->has_col[i] ? trial_cols[i].name : "NULL");
}

static int load_trial_row(sqlite3_stmt *st, struct ns_db_trial *t)
{
    memset(t, 0, sizeof *t);
    int k = 0; /* the next sampled parameter */
    for (int i = 0; i < N_TRIAL_COLS; i++) {
        char *m = (char *)t + trial_cols[i].off;
        int null = sqlite3_column_type(st, i) == SQLITE_NULL;
        switch (trial_cols[i].kind) {
        case K_KEY:
        case K_I64:
            *(int64_t *)m = sqlite3_column_int64(st, i);
            break;
        case K_U64:
            *(uint64_t *)m = (uint64_t)sqlite3_column_int64(st, i);
            break;
        case K_INT:
            *(int *)m = sqlite3_column_int(st, i);
            break;
        case K_REAL:
            *(double *)m = col_double(st, i);
            break;
        case K_TEXT:
            *(char **)m = col_text(st, i);
            break;
        case K_RANK:
            *(int *)m = null ? -1 : sqlite3_column_int(st, i);
            break;
        case K_PARAM:
            t->p[k++] = col_double(st, i);
            break;
        case K_STATE: {
            const char *state = (const char *)sqlite3_column_text(st, i);
            *(int *)m = -1;
            for (int s = 0; s < NS_DB_NSTATES; s++)
                if (state && !strcmp(state, state_names[s]))
                    *(int *)m = s;
            break;
        }
        }
    }
    return t->config_json && t->config_hash ? 0 : -1;
}

void ns_db_trial_clear(struct ns_db_trial *t)
{
    if (!t)
        return;
    free(t->config_json);
    free(t->config_hash);
    free(t->other_params);
    free(t->host);
    free(t->reason);
    memset(t, 0, sizeof *t);
}

void ns_db_trials_free(struct ns_db_trial *t, int n)
{
    for (int i = 0; t && i < n; i++)
        ns_db_trial_clear(&t[i]);
    free(t);
}

int ns_db_trials_load(struct ns_db *db, int64_t study, unsigned states, struct ns_db_trial **out,
                      int *n)
{
    *out = NULL;
    *n = 0;
    char filter[160], cols[2048], sql[2400];
    state_filter(states, filter, sizeof filter);
    select_columns(db, cols, sizeof cols);
    snprintf(sql, sizeof sql, "SELECT %s FROM trials WHERE study_id = ?1%s ORDER BY trial", cols,
             filter);
    sqlite3_stmt *st;
    if (prepare(db, sql, &st, "load trials") < 0)
        return -1;
    sqlite3_bind_int64(st, 1, study);
    struct ns_db_trial *v = NULL;
    int cnt = 0, cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? 2 * cap : 64;
            struct ns_db_trial *p = realloc(v, (size_t)cap * sizeof *p);
            if (!p) {
                rc = SQLITE_NOMEM;
                break;
            }
            v = p;
        }
        if (load_trial_row(st, &v[cnt++]) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ns_db_trials_free(v, cnt);
        return rc == SQLITE_NOMEM ? ns_err("%s: out of memory", db->path)
                                  : ns_db_sqlerr(db, "load trials");
    }
    *out = v;
    *n = cnt;
    return 0;
}

int ns_db_trial_load(struct ns_db *db, int64_t study, int idx, struct ns_db_trial *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    char cols[2048], sql[2400];
    select_columns(db, cols, sizeof cols);
    snprintf(sql, sizeof sql, "SELECT %s FROM trials WHERE study_id = ?1 AND trial = ?2", cols);
    if (prepare(db, sql, &st, "load trial") < 0)
        return -1;
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_int(st, 2, idx);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW) {
        if (load_trial_row(st, out) < 0) {
            ns_db_trial_clear(out);
            ret = ns_err("%s: out of memory", db->path);
        }
    } else if (rc != SQLITE_DONE) {
        ret = ns_db_sqlerr(db, "load trial");
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        ret = no_trial(db, study, idx);
    return ret;
}

static int value_column_known(const char *name)
{
    for (int i = 0; i < ns_db_n_value_columns; i++)
        if (!strcmp(name, ns_db_value_columns[i]))
            return 1;
    return 0;
}

static int unknown_column(struct ns_db *db, const char *name)
{
    char list[1024];
    size_t len = 0;
    list[0] = 0;
    for (int i = 0; i < ns_db_n_value_columns && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
                                ns_db_value_columns[i]);
    return ns_err("%s: unknown column '%s'; columns: %s", db->path, name ? name : "(null)", list);
}

int ns_db_trial_values_n(struct ns_db *db, int64_t study, unsigned states,
                         const char *const *columns, int ncols, double **out, int *nrows)
{
    *out = NULL;
    *nrows = 0;
    if (ncols < 1 || ncols > ns_db_n_value_columns)
        return ns_err("%s: trial values: %d columns asked for", db->path, ncols);
    char sql[2048];
    size_t len = (size_t)snprintf(sql, sizeof sql, "SELECT ");
    for (int c = 0; c < ncols; c++) {
        /* only names from the fixed list reach the SQL text */
        if (!columns[c] || !value_column_known(columns[c]))
            return unknown_column(db, columns[c]);
        len += (size_t)snprintf(sql + len, sizeof sql - len, "%s%s", c ? ", " : "", columns[c]);
    }
    char filter[160];
    state_filter(states, filter, sizeof filter);
    snprintf(sql + len, sizeof sql - len, " FROM trials WHERE study_id = ?1%s ORDER BY trial",
             filter);
    sqlite3_stmt *st;
    if (prepare(db, sql, &st, "trial values") < 0)
        return -1;
    sqlite3_bind_int64(st, 1, study);
    double *v = NULL;
    int cnt = 0, cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? 2 * cap : 1024;
            double *p = realloc(v, (size_t)cap * (size_t)ncols * sizeof *p);
            if (!p) {
                rc = SQLITE_NOMEM;
                break;
            }
            v = p;
        }
        for (int c = 0; c < ncols; c++)
            v[(size_t)cnt * (size_t)ncols + (size_t)c] = col_double(st, c);
        cnt++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(v);
        return rc == SQLITE_NOMEM ? ns_err("%s: out of memory", db->path)
                                  : ns_db_sqlerr(db, "trial values");
    }
    *out = v;
    *nrows = cnt;
    return 0;
}

int ns_db_trial_values(struct ns_db *db, int64_t study, unsigned states, const char *column,
                       double **out, int *n)
{
    return ns_db_trial_values_n(db, study, states, &column, 1, out, n);
}

int ns_db_epochs_load(struct ns_db *db, int64_t study, int idx, struct ns_db_epoch **out, int *n)
{
    *out = NULL;
    *n = 0;
    if (ns_db_trial_state(db, study, idx) < 0)
        return -1;
    sqlite3_stmt *st;
    if (prepare(db,
                "SELECT epoch, train_loss, train_error, test_error, seconds FROM epochs "
                "WHERE study_id = ?1 AND trial = ?2 ORDER BY epoch",
                &st, "load epochs") < 0)
        return -1;
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_int(st, 2, idx);
    struct ns_db_epoch *v = NULL;
    int cnt = 0, cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? 2 * cap : 32;
            struct ns_db_epoch *p = realloc(v, (size_t)cap * sizeof *p);
            if (!p) {
                rc = SQLITE_NOMEM;
                break;
            }
            v = p;
        }
        v[cnt].epoch = sqlite3_column_int(st, 0);
        v[cnt].train_loss = col_double(st, 1);
        v[cnt].train_error = col_double(st, 2);
        v[cnt].test_error = col_double(st, 3);
        v[cnt].seconds = col_double(st, 4);
        cnt++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(v);
        return rc == SQLITE_NOMEM ? ns_err("%s: out of memory", db->path)
                                  : ns_db_sqlerr(db, "load epochs");
    }
    *out = v;
    *n = cnt;
    return 0;
}
