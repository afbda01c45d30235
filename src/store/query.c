/* Read queries for users: the trials listing (selection, --where, sorting, limit) and
 * read-only SQL, streamed row by row to a callback, under a time limit and a memory cap.
 * See store.h (ns_db_trials_query, ns_db_sql_query). */
#include "store/store.h"

#include <ctype.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/timer.h"

/* The trials with their study's name: the relation the trials listing reads. SQLite
 * flattens it into the outer query, so the trials indexes still serve WHERE and ORDER. */
static const char trial_rel[] =
    "(SELECT s.name AS study, t.* FROM trials t JOIN studies s ON s.id = t.study_id)";

/* ---------------------------------------------------------------- limits ---------------- */

struct limits {
    double deadline; /* ns_now() after which a statement is interrupted; 0 = none */
    double timeout_s;
    int timed_out;
};

static int on_progress(void *ctx)
{
    struct limits *l = ctx;
    if (l->deadline > 0 && ns_now() > l->deadline) {
        l->timed_out = 1;
        return 1;
    }
    return 0;
}

static void limits_begin(struct ns_db *db, struct limits *l, const struct ns_db_read_limits *rl)
{
    memset(l, 0, sizeof *l);
    if (rl && rl->timeout_s > 0) {
        l->timeout_s = rl->timeout_s;
        l->deadline = ns_now() + rl->timeout_s;
        /* every ~10k virtual-machine steps: microseconds apart, nothing next to a query */
        sqlite3_progress_handler(ns_db_sqlite(db), 10000, on_progress, l);
    }
    if (rl && rl->max_memory_mb > 0)
        sqlite3_hard_heap_limit64((sqlite3_int64)rl->max_memory_mb << 20);
}

static void limits_end(struct ns_db *db)
{
    sqlite3_progress_handler(ns_db_sqlite(db), 0, NULL, NULL);
    sqlite3_hard_heap_limit64(0);
}

/* The message for a failed step: the limit that stopped it, or SQLite's. */
static int step_error(struct ns_db *db, const struct limits *l, const struct ns_db_read_limits *rl,
                      const char *what)
{
    int rc = sqlite3_errcode(ns_db_sqlite(db));
    if (l->timed_out)
        return ns_err("%s: %s: stopped after %g s (the time limit; --timeout raises it)",
                      ns_db_path(db), what, l->timeout_s);
    if (rc == SQLITE_NOMEM && rl && rl->max_memory_mb > 0)
        return ns_err("%s: %s: needs more than %ld MB of memory (the memory cap; --max-memory "
                      "raises it)",
                      ns_db_path(db), what, rl->max_memory_mb);
    return ns_db_sqlerr(db, what);
}

/* ---------------------------------------------------------------- streaming ------------- */

/* Step st to its end, handing each row to fn. 0, the callback's non-zero value, or -1. */
static int stream(struct ns_db *db, sqlite3_stmt *st, const struct ns_db_read_limits *rl,
                  const char *what, ns_db_row_fn fn, void *ctx)
{
    int n = sqlite3_column_count(st);
    const char **names = calloc((size_t)n + 1, sizeof *names);
    struct ns_db_value *v = calloc((size_t)n + 1, sizeof *v);
    if (!names || !v) {
        free(names);
        free(v);
        return ns_err("out of memory");
    }
    for (int c = 0; c < n; c++)
        names[c] = sqlite3_column_name(st, c);
    struct limits l;
    limits_begin(db, &l, rl);
    int rc = SQLITE_DONE, out = fn(ctx, n, names, NULL);
    while (out == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int c = 0; c < n; c++) {
            switch (sqlite3_column_type(st, c)) {
            case SQLITE_INTEGER:
                v[c] = (struct ns_db_value){NS_DB_INT, sqlite3_column_int64(st, c), 0, NULL};
                break;
            case SQLITE_FLOAT:
                v[c] = (struct ns_db_value){NS_DB_REAL, 0, sqlite3_column_double(st, c), NULL};
                break;
            case SQLITE_NULL:
                v[c] = (struct ns_db_value){NS_DB_NULL, 0, 0, NULL};
                break;
            default: /* text, and blobs shown as text */
                v[c] = (struct ns_db_value){NS_DB_TEXT, 0, 0,
                                            (const char *)sqlite3_column_text(st, c)};
                if (!v[c].s) {
                    rc = SQLITE_NOMEM;
                    goto done;
                }
            }
        }
        if ((out = fn(ctx, n, names, v)) != 0)
            break;
    }
done:
    if (out == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
        out = step_error(db, &l, rl, what);
    limits_end(db);
    free(names);
    free(v);
    return out;
}

/* ---------------------------------------------------------------- columns --------------- */

/* The columns of `rel`, ", "-separated, into buf; their count, or -1. */
static int rel_columns(struct ns_db *db, const char *rel, char *buf, size_t n)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT * FROM %s LIMIT 0", rel);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ns_db_sqlite(db), sql, -1, &st, NULL) != SQLITE_OK)
        return ns_db_sqlerr(db, "columns");
    int cnt = sqlite3_column_count(st);
    size_t len = 0;
    buf[0] = 0;
    for (int c = 0; c < cnt && len < n; c++)
        len +=
            (size_t)snprintf(buf + len, n - len, "%s%s", c ? ", " : "", sqlite3_column_name(st, c));
    sqlite3_finalize(st);
    return cnt;
}

int ns_db_trial_columns(struct ns_db *db, char *buf, size_t n)
{
    return rel_columns(db, trial_rel, buf, n);
}

/* For raw SQL: the columns of each stored table, "trials (a, b, ...); studies (...); ..." */
static void table_columns(struct ns_db *db, char *buf, size_t n)
{
    static const char *const tables[] = {"trials", "studies", "epochs"};
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < 3 && len < n; i++) {
        char cols[2048];
        if (rel_columns(db, tables[i], cols, sizeof cols) < 0)
            continue;
        len += (size_t)snprintf(buf + len, n - len, "%s%s (%s)", len ? "; " : "", tables[i], cols);
    }
}

/* Whether name is one of the ", "-separated list's. */
static int known_column(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ',' || p[n] == 0))
            return 1;
    return 0;
}

/* Validate a comma list of columns into an SQL select list. */
static int select_list(struct ns_db *db, const char *known, const char *cols, char *out, size_t n)
{
    char *copy = strdup(cols);
    if (!copy)
        return ns_err("out of memory");
    size_t len = 0;
    int k = 0, rc = 0;
    out[0] = 0;
    for (char *save, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok))
            tok++;
        char *e = tok + strlen(tok);
        while (e > tok && isspace((unsigned char)e[-1]))
            *--e = 0;
        if (!*tok)
            continue;
        if (!known_column(known, tok)) {
            rc = ns_err("%s: unknown column '%s'; columns: %s", ns_db_path(db), tok, known);
            break;
        }
        len += (size_t)snprintf(out + len, n - len, "%s\"%s\"", k++ ? ", " : "", tok);
        if (len >= n) {
            rc = ns_err("--columns: too many columns");
            break;
        }
    }
    free(copy);
    if (rc == 0 && !k)
        rc = ns_err("--columns: no column named");
    return rc;
}

/* ---------------------------------------------------------------- --where --------------- */

/* A --where expression may only narrow the selection: it goes inside parentheses, so it must
 * not close them early, end the statement or comment out what follows. Outside string
 * literals and quoted names, its parentheses must balance (never below zero) and it may hold
 * no ';', no "--" and no slash-star. 0, or -1 with ns_err naming what is wrong. */
int ns_db_where_check(const char *expr)
{
    int depth = 0;
    for (const char *p = expr; *p; p++) {
        char close = 0;
        switch (*p) {
        case '\'':
        case '"':
        case '`':
            close = *p;
            break;
        case '[':
            close = ']';
            break;
        case '(':
            depth++;
            continue;
        case ')':
            if (--depth < 0)
                return ns_err("--where: a ')' without its '(' at \"%.20s\"; the expression may "
                              "only narrow the selection",
                              p);
            continue;
        case ';':
            return ns_err("--where: ';' is not allowed: one expression only");
        case '-':
            if (p[1] == '-')
                return ns_err("--where: comments ('--') are not allowed");
            continue;
        case '/':
            if (p[1] == '*')
                return ns_err("--where: comments ('/*') are not allowed");
            continue;
        default:
            continue;
        }
        /* a quoted literal or name: to its closing quote ('' and "" stand for one) */
        for (p++;; p++) {
            if (!*p)
                return ns_err("--where: unterminated %c", close == ']' ? '[' : close);
            if (*p == close) {
                if (close != ']' && p[1] == close) {
                    p++;
                    continue;
                }
                break;
            }
        }
    }
    if (depth > 0)
        return ns_err("--where: %d '(' not closed", depth);
    return 0;
}

/* Prepare user-influenced SQL; a "no such column" error lists the columns there are. */
static int prepare_user(struct ns_db *db, const char *sql, sqlite3_stmt **st, const char *what,
                        int raw)
{
    const char *tail = NULL;
    *st = NULL;
    if (sqlite3_prepare_v2(ns_db_sqlite(db), sql, -1, st, &tail) != SQLITE_OK) {
        /* copied: the column listings below run statements on the same connection */
        char msg[512], known[4096];
        snprintf(msg, sizeof msg, "%s", sqlite3_errmsg(ns_db_sqlite(db)));
        if (!strncmp(msg, "no such column: ", 16)) {
            const char *col = msg + 16;
            if (raw) {
                table_columns(db, known, sizeof known);
                return ns_err("sql: no such column '%s'; the tables are %s (the study's name is "
                              "studies.name: JOIN studies s ON s.id = trials.study_id)",
                              col, known);
            }
            if (ns_db_trial_columns(db, known, sizeof known) > 0)
                return ns_err("%s: unknown column '%s'; columns: %s", what, col, known);
        }
        return ns_err("%s: %s", what, msg);
    }
    while (tail && (isspace((unsigned char)*tail) || *tail == ';'))
        tail++;
    if (tail && *tail) {
        sqlite3_finalize(*st);
        *st = NULL;
        return ns_err("%s: one statement only (extra text: '%.*s')", what, (int)strcspn(tail, "\n"),
                      tail);
    }
    if (!*st)
        return ns_err("%s: no statement", what);
    return 0;
}

/* ---------------------------------------------------------------- the queries ----------- */

int ns_db_trials_query(struct ns_db *db, const struct ns_db_trials_query *q, ns_db_row_fn fn,
                       void *ctx)
{
    char known[2048], sel[4096];
    if (ns_db_trial_columns(db, known, sizeof known) < 0)
        return -1;
    if (q->columns) {
        if (select_list(db, known, q->columns, sel, sizeof sel) < 0)
            return -1;
    } else {
        snprintf(sel, sizeof sel, "*");
    }
    if (q->sort && !known_column(known, q->sort))
        return ns_err("--sort: unknown column '%s'; columns: %s", q->sort, known);
    if (q->where && ns_db_where_check(q->where) < 0)
        return -1;
    size_t n = strlen(sel) + (q->where ? strlen(q->where) : 0) + 1024;
    char *sql = malloc(n);
    if (!sql)
        return ns_err("out of memory");
    /* The fixed selection is an inner query and --where filters its rows from outside: even
     * an expression that got past the check could only narrow what the options chose. */
    size_t len =
        (size_t)snprintf(sql, n, "SELECT %s FROM (SELECT * FROM %s WHERE 1", sel, trial_rel);
    if (q->study >= 0)
        len += (size_t)snprintf(sql + len, n - len, " AND study_id = ?1");
    if (q->state >= 0)
        len += (size_t)snprintf(sql + len, n - len, " AND state = ?2");
    if (q->trial >= 0)
        len += (size_t)snprintf(sql + len, n - len, " AND trial = ?4");
    len += (size_t)snprintf(sql + len, n - len, ")");
    if (q->where)
        len += (size_t)snprintf(sql + len, n - len, " WHERE (%s)", q->where);
    if (q->sort)
        len +=
            (size_t)snprintf(sql + len, n - len, " ORDER BY \"%s\" %s NULLS LAST, study_id, trial",
                             q->sort, q->desc ? "DESC" : "ASC");
    else
        len += (size_t)snprintf(sql + len, n - len, " ORDER BY study_id, trial");
    snprintf(sql + len, n - len, " LIMIT ?3");
    sqlite3_stmt *st;
    int rc = prepare_user(db, sql, &st, q->where ? "--where" : "query", 0);
    free(sql);
    if (rc < 0)
        return -1;
    sqlite3_bind_int64(st, 1, q->study);
    if (q->state >= 0)
        sqlite3_bind_text(st, 2, ns_db_state_name(q->state), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, q->limit);
    sqlite3_bind_int(st, 4, q->trial);
    rc = stream(db, st, &q->limits, "query", fn, ctx);
    sqlite3_finalize(st);
    return rc;
}

int ns_db_sql_query(struct ns_db *db, const char *sql, const struct ns_db_read_limits *rl,
                    ns_db_row_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    if (prepare_user(db, sql, &st, "sql", 1) < 0)
        return -1;
    /* the handle refuses writes anyway; this gives the clearer message before trying */
    if (!sqlite3_stmt_readonly(st)) {
        sqlite3_finalize(st);
        return ns_err("sql: only read-only statements (SELECT, read-only PRAGMA, ...)");
    }
    int rc = stream(db, st, rl, "sql", fn, ctx);
    sqlite3_finalize(st);
    return rc;
}

int ns_db_epochs_query(struct ns_db *db, int64_t study, int idx, ns_db_row_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ns_db_sqlite(db),
                           "SELECT epoch, train_loss, train_error, test_error, seconds FROM "
                           "epochs WHERE study_id = ?1 AND trial = ?2 ORDER BY epoch",
                           -1, &st, NULL) != SQLITE_OK)
        return ns_db_sqlerr(db, "epochs");
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_int(st, 2, idx);
    int rc = stream(db, st, NULL, "epochs", fn, ctx);
    sqlite3_finalize(st);
    return rc;
}

int ns_db_rungs_query(struct ns_db *db, int64_t study, int idx, ns_db_row_fn fn, void *ctx)
{
    long long have = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ns_db_sqlite(db),
                           "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
                           "'rungs'",
                           -1, &st, NULL) != SQLITE_OK)
        return ns_db_sqlerr(db, "rungs");
    if (sqlite3_step(st) == SQLITE_ROW)
        have = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    /* a file from before the rungs: the same columns, no rows */
    const char *sql =
        have ? "SELECT r.trial, r.rung, r.epochs, r.test_error, r.trained, r.wall_s, CASE WHEN "
               "r.test_error IS NULL THEN NULL ELSE EXISTS(SELECT 1 FROM rungs n WHERE "
               "n.study_id = r.study_id AND n.trial = r.trial AND n.rung = r.rung + 1) END AS "
               "promoted FROM rungs r WHERE r.study_id = ?1 AND (?2 < 0 OR r.trial = ?2) ORDER "
               "BY r.trial, r.rung"
             : "SELECT 0 AS trial, 0 AS rung, 0 AS epochs, 0.0 AS test_error, 0 AS trained, 0.0 "
               "AS wall_s, 0 AS promoted WHERE ?1 < ?2 AND 0";
    if (sqlite3_prepare_v2(ns_db_sqlite(db), sql, -1, &st, NULL) != SQLITE_OK)
        return ns_db_sqlerr(db, "rungs");
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_int(st, 2, idx);
    int rc = stream(db, st, NULL, "rungs", fn, ctx);
    sqlite3_finalize(st);
    return rc;
}
