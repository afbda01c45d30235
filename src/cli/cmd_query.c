/* netspace query: read a results db (studies, trials, best, one trial, export, ad hoc SQL).
 * The db is opened read-only (NS_DB_RO: SQLITE_OPEN_READONLY + PRAGMA query_only, no ATTACH),
 * so --where and sql text cannot change it. Every listing is one SQL query over the indexed
 * trials table; results are printed as an aligned table, CSV or JSON lines. */
#include "cli/cli.h"

#include "store/store.h"
#include "util/err.h"

#include <ctype.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *help =
    "usage: netspace query --db FILE COMMAND [options]\n"
    "\n"
    "Read a results database. The db is opened read-only: nothing here can modify it, and\n"
    "it is safe to query while a search is writing (SQLite WAL mode: readers see the last\n"
    "committed state and never block the writer).\n"
    "\n"
    "commands:\n"
    "  studies                each study: space, trials by state, best and median test error\n"
    "  trials                 trials as a table (all studies unless --study)\n"
    "  best [-k N]            the N (default 10) complete trials with the lowest test error\n"
    "  show N                 trial N: config, complexity, results and per-epoch curve\n"
    "  export                 every column of every trial of a study (CSV unless --json)\n"
    "  sql \"SELECT ...\"       a read-only SQL statement\n"
    "\n"
    "options:\n"
    "  --db FILE              the results db (required)\n"
    "  --study NAME           the study (needed by best, show, export when the db has more\n"
    "                         than one)\n"
    "  --state S              trials: only this state (waiting, running, complete, failed,\n"
    "                         stale)\n"
    "  --where EXPR           trials, best: an SQL expression over trial columns,\n"
    "                         e.g. \"flops < 4e8 AND depth >= 10\"\n"
    "  --sort COL [--desc]    trials: order by COL (missing values last), then trial\n"
    "  --limit N              trials: at most N rows\n"
    "  -k N                   best: how many (default 10)\n"
    "  --columns a,b,...      trials, best: the columns to print\n"
    "  --csv                  CSV with a header line\n"
    "  --json                 one JSON object per line\n"
    "  -h, --help             this help\n"
    "\n"
    "Trial columns: study, trial, stream, state, config, config_hash, flops, params, acts,\n"
    "the sampled parameters (depth w0 wa wm group_w bot_mul se_r d w b g d1..d4 w1..w4 b1..b4\n"
    "g1..g4; empty when the space has no such parameter), other_params, train_seed,\n"
    "train_error, test_error, best_test_error (percent), wall_s, host, rank, started, ended\n"
    "(Unix seconds), reason. Tables: studies, trials, epochs (study_id, trial, epoch,\n"
    "train_loss, train_error, test_error, seconds).\n";

/* The trials with their study's name: the relation that trials, best, show and export read.
 * SQLite flattens it into the outer query, so the trials indexes still serve WHERE/ORDER. */
static const char trial_rel[] =
    "(SELECT s.name AS study, t.* FROM trials t JOIN studies s ON s.id = t.study_id)";

static const char *default_cols = "study,trial,state,test_error,train_error,flops,params,acts,"
                                  "wall_s,config_hash";

enum fmt { FMT_TABLE, FMT_CSV, FMT_JSON };

struct opts {
    const char *db, *study, *state, *where, *sort, *columns;
    int desc, has_limit, has_k;
    long limit, k;
    enum fmt fmt;
    unsigned given; /* OPT_ bits of the options on the command line */
};

enum {
    OPT_STUDY = 1u << 0,
    OPT_STATE = 1u << 1,
    OPT_WHERE = 1u << 2,
    OPT_SORT = 1u << 3,
    OPT_DESC = 1u << 4,
    OPT_LIMIT = 1u << 5,
    OPT_K = 1u << 6,
    OPT_COLUMNS = 1u << 7,
    OPT_CSV = 1u << 8,
    OPT_JSON = 1u << 9,
};

static const struct {
    unsigned bit;
    const char *name;
} opt_names[] = {{OPT_STUDY, "--study"}, {OPT_STATE, "--state"},     {OPT_WHERE, "--where"},
                 {OPT_SORT, "--sort"},   {OPT_DESC, "--desc"},       {OPT_LIMIT, "--limit"},
                 {OPT_K, "-k"},          {OPT_COLUMNS, "--columns"}, {OPT_CSV, "--csv"},
                 {OPT_JSON, "--json"}};

/* ------------------------------------------------------------------------------------- */
/* Result tables: every command collects its rows, then prints them in one of three forms. */

struct cell {
    int type; /* SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_NULL */
    long long i;
    double d;
    char *s;
};

struct table {
    int ncols;
    char **names;
    struct cell *cells; /* row-major */
    long nrows, cap;
};

static void table_free(struct table *t)
{
    for (long k = 0; k < t->nrows * t->ncols; k++)
        free(t->cells[k].s);
    for (int c = 0; c < t->ncols; c++)
        free(t->names[c]);
    free(t->cells);
    free(t->names);
    memset(t, 0, sizeof *t);
}

static int table_init(struct table *t, int ncols, const char *const *names)
{
    memset(t, 0, sizeof *t);
    if (ncols < 0)
        return ns_err("bad column count");
    t->names = calloc((size_t)ncols + 1, sizeof *t->names);
    if (!t->names)
        return ns_err("out of memory");
    t->ncols = ncols;
    for (int c = 0; c < ncols; c++)
        if (!(t->names[c] = strdup(names[c])))
            return ns_err("out of memory");
    return 0;
}

/* A new row of NULL cells. */
static struct cell *table_row(struct table *t)
{
    if (t->nrows == t->cap) {
        long cap = t->cap ? 2 * t->cap : 64;
        struct cell *p = realloc(t->cells, (size_t)(cap * t->ncols) * sizeof *p);
        if (!p) {
            ns_err("out of memory");
            return NULL;
        }
        t->cells = p;
        t->cap = cap;
    }
    struct cell *r = &t->cells[t->nrows++ * t->ncols];
    for (int c = 0; c < t->ncols; c++)
        r[c] = (struct cell){.type = SQLITE_NULL};
    return r;
}

static void cell_int(struct cell *c, long long v)
{
    *c = (struct cell){.type = SQLITE_INTEGER, .i = v};
}

static void cell_real(struct cell *c, double v)
{
    *c = isfinite(v) ? (struct cell){.type = SQLITE_FLOAT, .d = v}
                     : (struct cell){.type = SQLITE_NULL};
}

static int cell_text(struct cell *c, const char *s)
{
    *c = (struct cell){.type = SQLITE_NULL};
    if (!s)
        return 0;
    if (!(c->s = strdup(s)))
        return ns_err("out of memory");
    c->type = SQLITE_TEXT;
    return 0;
}

/* All rows of a prepared statement into a new table. */
static int table_from_stmt(struct ns_db *db, sqlite3_stmt *st, struct table *t)
{
    int n = sqlite3_column_count(st);
    const char *names[n > 0 ? n : 1];
    for (int c = 0; c < n; c++)
        names[c] = sqlite3_column_name(st, c);
    if (table_init(t, n, names) < 0)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct cell *r = table_row(t);
        if (!r)
            return -1;
        for (int c = 0; c < n; c++) {
            switch (sqlite3_column_type(st, c)) {
            case SQLITE_INTEGER:
                cell_int(&r[c], sqlite3_column_int64(st, c));
                break;
            case SQLITE_FLOAT:
                cell_real(&r[c], sqlite3_column_double(st, c));
                break;
            case SQLITE_NULL:
                break;
            default: /* text, and blobs shown as text */
                if (cell_text(&r[c], (const char *)sqlite3_column_text(st, c)) < 0)
                    return -1;
            }
        }
    }
    if (rc != SQLITE_DONE)
        return ns_db_sqlerr(db, "query");
    return 0;
}

static int is_time_col(const char *name)
{
    return !strcmp(name, "started") || !strcmp(name, "ended") || !strcmp(name, "created");
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* A cell for the aligned table: errors with 2 decimals, times as UTC dates, seconds with
 * one decimal, other reals with 6 significant digits. */
static void fmt_display(const char *col, const struct cell *c, char *buf, size_t n)
{
    switch (c->type) {
    case SQLITE_NULL:
        snprintf(buf, n, "-");
        break;
    case SQLITE_INTEGER:
        snprintf(buf, n, "%lld", c->i);
        break;
    case SQLITE_FLOAT:
        if (is_time_col(col) && c->d > 0 && c->d < 1e11) {
            time_t tt = (time_t)c->d;
            struct tm tm;
            gmtime_r(&tt, &tm);
            strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
        } else if (ends_with(col, "error") || !strcmp(col, "best") || !strcmp(col, "median")) {
            snprintf(buf, n, "%.2f", c->d);
        } else if (!strcmp(col, "wall_s") || !strcmp(col, "seconds")) {
            snprintf(buf, n, "%.1f", c->d);
        } else {
            snprintf(buf, n, "%.6g", c->d);
        }
        break;
    default:
        snprintf(buf, n, "%s", c->s);
    }
}

static void print_aligned(const struct table *t)
{
    int *w = calloc((size_t)t->ncols, sizeof *w), *right = calloc((size_t)t->ncols, sizeof *right);
    if (!w || !right) {
        free(w);
        free(right);
        return;
    }
    char buf[128];
    for (int c = 0; c < t->ncols; c++) {
        w[c] = (int)strlen(t->names[c]);
        right[c] = 1;
    }
    for (long r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++) {
            const struct cell *x = &t->cells[r * t->ncols + c];
            if (x->type == SQLITE_TEXT) {
                right[c] = 0;
                int len = (int)strlen(x->s);
                w[c] = len > w[c] ? len : w[c];
                continue;
            }
            fmt_display(t->names[c], x, buf, sizeof buf);
            int len = (int)strlen(buf);
            w[c] = len > w[c] ? len : w[c];
        }
    for (int c = 0; c < t->ncols; c++) {
        if (c == t->ncols - 1 && !right[c])
            printf("%s%s", c ? "  " : "", t->names[c]);
        else
            printf("%s%*s", c ? "  " : "", right[c] ? w[c] : -w[c], t->names[c]);
    }
    putchar('\n');
    for (long r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const struct cell *x = &t->cells[r * t->ncols + c];
            const char *s = buf;
            if (x->type == SQLITE_TEXT)
                s = x->s;
            else
                fmt_display(t->names[c], x, buf, sizeof buf);
            /* the last column is not padded (no trailing blanks) */
            if (c == t->ncols - 1 && !right[c])
                printf("%s%s", c ? "  " : "", s);
            else
                printf("%s%*s", c ? "  " : "", right[c] ? w[c] : -w[c], s);
        }
        putchar('\n');
    }
    free(w);
    free(right);
}

static void csv_text(const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void print_csv(const struct table *t)
{
    for (int c = 0; c < t->ncols; c++) {
        if (c)
            putchar(',');
        csv_text(t->names[c]);
    }
    putchar('\n');
    for (long r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const struct cell *x = &t->cells[r * t->ncols + c];
            if (c)
                putchar(',');
            if (x->type == SQLITE_INTEGER)
                printf("%lld", x->i);
            else if (x->type == SQLITE_FLOAT)
                printf("%.15g", x->d);
            else if (x->type == SQLITE_TEXT)
                csv_text(x->s);
        }
        putchar('\n');
    }
}

/* Columns holding JSON text are embedded as JSON, not as strings. */
static int is_json_col(const char *name)
{
    return !strcmp(name, "config") || !strcmp(name, "other_params") || !strcmp(name, "experiment");
}

static json_t *cell_json(const char *col, const struct cell *x)
{
    switch (x->type) {
    case SQLITE_INTEGER:
        return json_integer(x->i);
    case SQLITE_FLOAT:
        return json_real(x->d);
    case SQLITE_TEXT:
        if (is_json_col(col)) {
            json_t *j = json_loads(x->s, JSON_DECODE_ANY, NULL);
            if (j)
                return j;
        }
        return json_string(x->s);
    default:
        return json_null();
    }
}

static json_t *row_json(const struct table *t, long r)
{
    json_t *o = json_object();
    for (int c = 0; o && c < t->ncols; c++)
        json_object_set_new(o, t->names[c], cell_json(t->names[c], &t->cells[r * t->ncols + c]));
    return o;
}

static void print_json_obj(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    if (s)
        puts(s);
    free(s);
}

static void print_json(const struct table *t)
{
    for (long r = 0; r < t->nrows; r++) {
        json_t *o = row_json(t, r);
        print_json_obj(o);
        json_decref(o);
    }
}

static void table_print(const struct table *t, enum fmt f)
{
    if (f == FMT_CSV)
        print_csv(t);
    else if (f == FMT_JSON)
        print_json(t);
    else
        print_aligned(t);
}

/* ------------------------------------------------------------------------------------- */
/* Columns */

/* The columns of the trial relation, comma separated, into buf; their count. */
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

/* The columns of the trial relation (study name joined in) that the commands read. */
static int trial_columns(struct ns_db *db, char *buf, size_t n)
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

/* Whether name is one of the trial relation's columns. */
static int known_column(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ',' || p[n] == 0))
            return 1;
    return 0;
}

/* Validate a comma list of columns; writes the SQL select list into out. */
static int select_list(struct ns_db *db, const char *cols, char *out, size_t n)
{
    char known[2048];
    if (trial_columns(db, known, sizeof known) < 0)
        return -1;
    char *copy = strdup(cols);
    if (!copy)
        return ns_err("out of memory");
    size_t len = 0;
    int k = 0;
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
            ns_err("unknown column '%s'; columns: %s", tok, known);
            free(copy);
            return -1;
        }
        len += (size_t)snprintf(out + len, n - len, "%s\"%s\"", k++ ? ", " : "", tok);
        if (len >= n) {
            free(copy);
            return ns_err("--columns: too many columns");
        }
    }
    free(copy);
    if (!k)
        return ns_err("--columns: no column named");
    return 0;
}

static int check_sort(struct ns_db *db, const char *col)
{
    char known[2048];
    if (trial_columns(db, known, sizeof known) < 0)
        return -1;
    if (!known_column(known, col))
        return ns_err("--sort: unknown column '%s'; columns: %s", col, known);
    return 0;
}

/* Prepare sql; a "no such column" error lists the columns there are. */
static int prepare_user(struct ns_db *db, const char *sql, sqlite3_stmt **st, const char *what)
{
    const char *tail = NULL;
    if (sqlite3_prepare_v2(ns_db_sqlite(db), sql, -1, st, &tail) != SQLITE_OK) {
        /* copied: the column listings below run statements on the same connection */
        char msg[512], known[4096];
        snprintf(msg, sizeof msg, "%s", sqlite3_errmsg(ns_db_sqlite(db)));
        if (!strncmp(msg, "no such column: ", 16)) {
            const char *col = msg + 16;
            if (!strcmp(what, "sql")) {
                table_columns(db, known, sizeof known);
                return ns_err("sql: no such column '%s'; the tables are %s (the study's name is "
                              "studies.name: JOIN studies s ON s.id = trials.study_id)",
                              col, known);
            }
            if (trial_columns(db, known, sizeof known) > 0)
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

/* ------------------------------------------------------------------------------------- */
/* Commands */

static int cmd_studies(struct ns_db *db, const struct opts *o)
{
    struct ns_db_study_info *s;
    int n;
    if (ns_db_studies(db, &s, &n) < 0)
        return -1;
    static const char *const names[] = {"study",    "space",  "trials", "waiting", "running",
                                        "complete", "failed", "stale",  "best",    "median"};
    struct table t;
    int rc = table_init(&t, 10, names);
    for (int i = 0; rc == 0 && i < n; i++) {
        struct cell *r = table_row(&t);
        if (!r || cell_text(&r[0], s[i].name) < 0 || cell_text(&r[1], s[i].space) < 0) {
            rc = -1;
            break;
        }
        cell_int(&r[2], s[i].n_trials);
        for (int k = 0; k < NS_DB_NSTATES; k++)
            cell_int(&r[3 + k], s[i].n_state[k]);
        cell_real(&r[8], s[i].best_test_error);
        cell_real(&r[9], s[i].median_test_error);
    }
    if (rc == 0)
        table_print(&t, o->fmt);
    table_free(&t);
    ns_db_studies_free(s, n);
    return rc;
}

/* trials and best: one query over the trial relation. study < 0: all studies. */
static int list_trials(struct ns_db *db, int64_t study, const struct opts *o, int state,
                       const char *sort, int desc, long limit, const char *cols)
{
    char sel[4096];
    if (select_list(db, cols, sel, sizeof sel) < 0)
        return -1;
    if (sort && check_sort(db, sort) < 0)
        return -1;
    size_t n = strlen(sel) + (o->where ? strlen(o->where) : 0) + 512;
    char *sql = malloc(n);
    if (!sql)
        return ns_err("out of memory");
    size_t len = (size_t)snprintf(sql, n, "SELECT %s FROM %s WHERE 1", sel, trial_rel);
    if (study >= 0)
        len += (size_t)snprintf(sql + len, n - len, " AND study_id = ?1");
    if (state >= 0)
        len += (size_t)snprintf(sql + len, n - len, " AND state = ?2");
    /* own lines, so that a -- comment in the expression cannot swallow the rest */
    if (o->where)
        len += (size_t)snprintf(sql + len, n - len, " AND (\n%s\n)", o->where);
    if (sort)
        len +=
            (size_t)snprintf(sql + len, n - len, " ORDER BY \"%s\" %s NULLS LAST, study_id, trial",
                             sort, desc ? "DESC" : "ASC");
    else
        len += (size_t)snprintf(sql + len, n - len, " ORDER BY study_id, trial");
    snprintf(sql + len, n - len, " LIMIT ?3");
    sqlite3_stmt *st;
    int rc = prepare_user(db, sql, &st, o->where ? "--where" : "query");
    free(sql);
    if (rc < 0)
        return -1;
    sqlite3_bind_int64(st, 1, study);
    if (state >= 0)
        sqlite3_bind_text(st, 2, ns_db_state_name(state), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, limit);
    struct table t;
    rc = table_from_stmt(db, st, &t);
    sqlite3_finalize(st);
    if (rc == 0)
        table_print(&t, o->fmt);
    table_free(&t);
    return rc;
}

static int cmd_trials(struct ns_db *db, const struct opts *o)
{
    int64_t study = -1;
    if (o->study && (study = ns_db_study_resolve(db, o->study)) < 0)
        return -1;
    int state = o->state ? ns_db_state_from_name(o->state) : -1;
    return list_trials(db, study, o, state, o->sort, o->desc, o->has_limit ? o->limit : -1,
                       o->columns ? o->columns : default_cols);
}

static int cmd_best(struct ns_db *db, const struct opts *o)
{
    int64_t study = ns_db_study_resolve(db, o->study);
    if (study < 0)
        return -1;
    return list_trials(db, study, o, NS_DB_COMPLETE, "test_error", 0, o->has_k ? o->k : 10,
                       o->columns ? o->columns : default_cols);
}

/* "5781002 (5.78M)" */
static void print_count(const char *name, long long v)
{
    const char *unit = "";
    double x = (double)v;
    if (x >= 1e9) {
        x /= 1e9;
        unit = "G";
    } else if (x >= 1e6) {
        x /= 1e6;
        unit = "M";
    } else if (x >= 1e3) {
        x /= 1e3;
        unit = "k";
    }
    if (*unit)
        printf("%-16s %lld (%.3g%s)\n", name, v, x, unit);
    else
        printf("%-16s %lld\n", name, v);
}

static int cmd_show(struct ns_db *db, const struct opts *o, const char *arg)
{
    long idx;
    if (ns_cli_int("query show", "N", arg, 0, INT_MAX, &idx) < 0)
        return 2;
    int64_t study = ns_db_study_resolve(db, o->study);
    if (study < 0)
        return -1;
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT * FROM %s WHERE study_id = ?1 AND trial = ?2", trial_rel);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ns_db_sqlite(db), sql, -1, &st, NULL) != SQLITE_OK)
        return ns_db_sqlerr(db, "show");
    sqlite3_bind_int64(st, 1, study);
    sqlite3_bind_int64(st, 2, idx);
    struct table row, ep;
    memset(&ep, 0, sizeof ep);
    int rc = table_from_stmt(db, st, &row);
    sqlite3_finalize(st);
    /* the store's message: "FILE: study 'x' has no trial N" */
    if (rc == 0 && row.nrows == 0)
        rc = ns_db_trial_state(db, study, (int)idx) < 0
                 ? -1
                 : ns_err("%s: trial %ld changed while reading", ns_db_path(db), idx);
    if (rc == 0) {
        rc = -1;
        if (sqlite3_prepare_v2(ns_db_sqlite(db),
                               "SELECT epoch, train_loss, train_error, test_error, seconds FROM "
                               "epochs WHERE study_id = ?1 AND trial = ?2 ORDER BY epoch",
                               -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, study);
            sqlite3_bind_int64(st, 2, idx);
            rc = table_from_stmt(db, st, &ep);
            sqlite3_finalize(st);
        } else {
            ns_db_sqlerr(db, "show");
        }
    }
    if (rc < 0) {
        table_free(&row);
        table_free(&ep);
        return -1;
    }
    if (o->fmt == FMT_JSON) {
        json_t *obj = row_json(&row, 0), *arr = json_array();
        for (long r = 0; r < ep.nrows; r++)
            json_array_append_new(arr, row_json(&ep, r));
        json_object_set_new(obj, "epochs", arr);
        print_json_obj(obj);
        json_decref(obj);
    } else {
        const char *config = NULL;
        char buf[128];
        for (int c = 0; c < row.ncols; c++) {
            const char *name = row.names[c];
            const struct cell *x = &row.cells[c];
            if (x->type == SQLITE_NULL || !strcmp(name, "study_id"))
                continue;
            if (!strcmp(name, "config")) {
                config = x->s;
                continue;
            }
            if (x->type == SQLITE_INTEGER &&
                (!strcmp(name, "flops") || !strcmp(name, "params") || !strcmp(name, "acts"))) {
                print_count(name, x->i);
                continue;
            }
            fmt_display(name, x, buf, sizeof buf);
            printf("%-16s %s\n", name, x->type == SQLITE_TEXT ? x->s : buf);
        }
        if (config)
            printf("%-16s %s\n", "config", config);
        if (ep.nrows) {
            printf("\n");
            print_aligned(&ep);
        } else {
            printf("\n(no epochs recorded)\n");
        }
    }
    table_free(&row);
    table_free(&ep);
    return 0;
}

static int cmd_export(struct ns_db *db, const struct opts *o)
{
    int64_t study = ns_db_study_resolve(db, o->study);
    if (study < 0)
        return -1;
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT * FROM %s WHERE study_id = ?1 ORDER BY trial", trial_rel);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ns_db_sqlite(db), sql, -1, &st, NULL) != SQLITE_OK)
        return ns_db_sqlerr(db, "export");
    sqlite3_bind_int64(st, 1, study);
    struct table t;
    int rc = table_from_stmt(db, st, &t);
    sqlite3_finalize(st);
    if (rc == 0)
        table_print(&t, o->fmt == FMT_JSON ? FMT_JSON : FMT_CSV);
    table_free(&t);
    return rc;
}

static int cmd_sql(struct ns_db *db, const struct opts *o, const char *text)
{
    sqlite3_stmt *st;
    if (prepare_user(db, text, &st, "sql") < 0)
        return -1;
    /* query_only refuses writes anyway; this gives the clearer message before trying */
    if (!sqlite3_stmt_readonly(st)) {
        sqlite3_finalize(st);
        return ns_err("sql: only read-only statements (SELECT, read-only PRAGMA, ...)");
    }
    struct table t;
    int rc = table_from_stmt(db, st, &t);
    sqlite3_finalize(st);
    if (rc == 0)
        table_print(&t, o->fmt);
    table_free(&t);
    return rc;
}

/* ------------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    int nargs;        /* positional arguments after the command */
    unsigned allowed; /* OPT_ bits */
} subcmds[] = {
    {"studies", 0, OPT_CSV | OPT_JSON},
    {"trials", 0,
     OPT_STUDY | OPT_STATE | OPT_WHERE | OPT_SORT | OPT_DESC | OPT_LIMIT | OPT_COLUMNS | OPT_CSV |
         OPT_JSON},
    {"best", 0, OPT_STUDY | OPT_K | OPT_WHERE | OPT_COLUMNS | OPT_CSV | OPT_JSON},
    {"show", 1, OPT_STUDY | OPT_JSON},
    {"export", 0, OPT_STUDY | OPT_CSV | OPT_JSON},
    {"sql", 1, OPT_CSV | OPT_JSON},
};
#define N_SUBCMDS (int)(sizeof subcmds / sizeof subcmds[0])

int ns_cmd_query(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},    {"study", required_argument, NULL, 's'},
        {"state", required_argument, NULL, 'S'}, {"where", required_argument, NULL, 'w'},
        {"sort", required_argument, NULL, 'o'},  {"desc", no_argument, NULL, 'D'},
        {"limit", required_argument, NULL, 'l'}, {"columns", required_argument, NULL, 'c'},
        {"csv", no_argument, NULL, 'C'},         {"json", no_argument, NULL, 'J'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    struct opts o = {0};
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "hk:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'h':
            fputs(help, stdout);
            return 0;
        case 'd':
            o.db = optarg;
            break;
        case 's':
            o.study = optarg;
            o.given |= OPT_STUDY;
            break;
        case 'S':
            o.state = optarg;
            o.given |= OPT_STATE;
            break;
        case 'w':
            o.where = optarg;
            o.given |= OPT_WHERE;
            break;
        case 'o':
            o.sort = optarg;
            o.given |= OPT_SORT;
            break;
        case 'D':
            o.desc = 1;
            o.given |= OPT_DESC;
            break;
        case 'l':
            if (ns_cli_int("query", "--limit", optarg, 0, LONG_MAX, &o.limit) < 0)
                return 2;
            o.has_limit = 1;
            o.given |= OPT_LIMIT;
            break;
        case 'k':
            if (ns_cli_int("query", "-k", optarg, 1, INT_MAX, &o.k) < 0)
                return 2;
            o.has_k = 1;
            o.given |= OPT_K;
            break;
        case 'c':
            o.columns = optarg;
            o.given |= OPT_COLUMNS;
            break;
        case 'C':
            o.fmt = FMT_CSV;
            o.given |= OPT_CSV;
            break;
        case 'J':
            o.fmt = FMT_JSON;
            o.given |= OPT_JSON;
            break;
        default:
            if (optopt)
                return ns_cli_usage_error("query", "option -%c: unknown or missing its value",
                                          optopt);
            return ns_cli_usage_error("query", "unknown option or missing value: '%s'",
                                      argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return ns_cli_usage_error("query", "no command (studies, trials, best, show, export, sql)");
    const char *cmd = argv[optind];
    int k = 0;
    while (k < N_SUBCMDS && strcmp(subcmds[k].name, cmd))
        k++;
    if (k == N_SUBCMDS)
        return ns_cli_usage_error(
            "query", "unknown command '%s' (studies, trials, best, show, export, sql)", cmd);
    if (argc - optind - 1 != subcmds[k].nargs)
        return ns_cli_usage_error("query", "'%s' takes %d argument%s", cmd, subcmds[k].nargs,
                                  subcmds[k].nargs == 1 ? "" : "s");
    for (size_t i = 0; i < sizeof opt_names / sizeof opt_names[0]; i++)
        if ((o.given & opt_names[i].bit) && !(subcmds[k].allowed & opt_names[i].bit))
            return ns_cli_usage_error("query", "%s does not apply to '%s'", opt_names[i].name, cmd);
    if ((o.given & OPT_CSV) && (o.given & OPT_JSON))
        return ns_cli_usage_error("query", "--csv and --json exclude each other");
    if (o.desc && !o.sort)
        return ns_cli_usage_error("query", "--desc needs --sort");
    if (!o.db)
        return ns_cli_usage_error("query", "--db FILE is required");
    if (o.state && ns_db_state_from_name(o.state) < 0) {
        fprintf(stderr, "netspace query: --state: %s\n", ns_errmsg());
        return 2;
    }

    struct ns_db *db = ns_db_open(o.db, NS_DB_RO);
    if (!db) {
        ns_die_msg();
        return 1;
    }
    const char *arg = subcmds[k].nargs ? argv[optind + 1] : NULL;
    int rc;
    switch (k) {
    case 0:
        rc = cmd_studies(db, &o);
        break;
    case 1:
        rc = cmd_trials(db, &o);
        break;
    case 2:
        rc = cmd_best(db, &o);
        break;
    case 3:
        rc = cmd_show(db, &o, arg);
        break;
    case 4:
        rc = cmd_export(db, &o);
        break;
    default:
        rc = cmd_sql(db, &o, arg);
    }
    ns_db_close(db);
    if (rc == 2)
        return 2;
    if (rc < 0) {
        ns_die_msg();
        return 1;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
