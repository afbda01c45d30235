/* netspace query: read a results db (studies, trials, best, one trial, export, ad hoc SQL).
 * The db is opened read-only (NS_DB_RO: SQLITE_OPEN_READONLY + PRAGMA query_only, no ATTACH),
 * so --where and sql text cannot change it. Every listing is one SQL query over the indexed
 * trials table; results are printed as an aligned table, CSV or JSON lines. */
#include "cli/cli.h"

#include "store/store.h"
#include "util/err.h"
#include "util/text.h"

#include <ctype.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
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
    "  studies                each study: space, trials by state, best and median test\n"
    "                         error (validation error on a data.val_split study: the\n"
    "                         test_error columns hold it), and its budget: epochs (its\n"
    "                         epoch rows, one per trial and epoch: rungs included, a\n"
    "                         retrained epoch once),\n"
    "                         epoch_h (their hours, summed over workers) and span_h\n"
    "                         (earliest trial start on record to last trial end)\n"
    "  trials                 trials as a table (all studies unless --study)\n"
    "  best [-k N]            the N (default 10) complete trials with the lowest test error\n"
    "                         (validation error on a data.val_split study)\n"
    "  show N                 trial N: config, complexity, results, per-epoch curve\n"
    "                         and (multi-fidelity search) its rungs\n"
    "  export                 every column of every trial of a study (CSV unless --json)\n"
    "  rungs                  a multi-fidelity study's rungs (search.kind sha, hyperband,\n"
    "                         asha): per trial and rung its epochs, error, the epochs trained\n"
    "                         for it and whether it was promoted; then the study's total\n"
    "                         epochs spent\n"
    "  sql \"SELECT ...\"       a read-only SQL statement\n"
    "\n"
    "options:\n"
    "  --db FILE              the results db (required)\n"
    "  --study NAME           the study (needed by best, show, export when the db has more\n"
    "                         than one)\n"
    "  --state S              trials: only this state (waiting, running, complete, failed,\n"
    "                         stale)\n"
    "  --where EXPR           trials, best: an SQL expression over trial columns,\n"
    "                         e.g. \"flops < 4e8 AND depth >= 10\"; it only narrows what the\n"
    "                         other options select (balanced parentheses, no ';', no\n"
    "                         comments)\n"
    "  --sort COL [--desc]    trials: order by COL (missing values last), then trial\n"
    "  --limit N              trials: at most N rows\n"
    "  -k N                   best: how many (default 10)\n"
    "  --columns a,b,...      trials, best: the columns to print\n"
    "  --csv                  CSV with a header line\n"
    "  --json                 one JSON object per line\n"
    "  --timeout S            trials, best, export, sql: stop a query running longer than S\n"
    "                         seconds (default 60; 0 = no limit)\n"
    "  --max-memory MB        the same: at most MB of memory for SQLite (sorts, recursive\n"
    "                         queries; default 1024; 0 = no cap). Rows are printed as they\n"
    "                         are read, so a long listing costs no memory\n"
    "  -h, --help             this help\n"
    "\n"
    "Trial columns: study, trial, stream, state, config, config_hash, flops, params, acts,\n"
    "the sampled parameters (depth w0 wa wm group_w bot_mul se_r d w b g d1..d8 w1..w8 b1..b8\n"
    "g1..g8; empty when the space has no such parameter), other_params, train_seed,\n"
    "train_error, test_error, best_test_error (percent), wall_s, host, rank, started, ended\n"
    "(Unix seconds), reason, attempts. Tables: studies, trials, epochs (study_id, trial, epoch,\n"
    "train_loss, train_error, test_error, seconds), rungs (study_id, trial, rung, epochs,\n"
    "test_error, trained, wall_s, cleared, ended), weights and checkpoints.\n";

static const char *default_cols = "study,trial,state,test_error,train_error,flops,params,acts,"
                                  "wall_s,config_hash";

enum fmt { FMT_TABLE, FMT_CSV, FMT_JSON };

/* What a query may cost by default: a minute, and 1 GiB of SQLite's memory (sorts, CTEs). */
#define DEFAULT_TIMEOUT_S 60
#define DEFAULT_MAX_MEMORY_MB 1024

struct opts {
    const char *db, *study, *state, *where, *sort, *columns;
    int desc, has_limit, has_k;
    long limit, k;
    double timeout;  /* seconds, 0 = none */
    long max_memory; /* MB, 0 = no cap */
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
    OPT_TIMEOUT = 1u << 10,
    OPT_MAX_MEMORY = 1u << 11,
};

static const struct {
    unsigned bit;
    const char *name;
} opt_names[] = {
    {OPT_STUDY, "--study"}, {OPT_STATE, "--state"},     {OPT_WHERE, "--where"},
    {OPT_SORT, "--sort"},   {OPT_DESC, "--desc"},       {OPT_LIMIT, "--limit"},
    {OPT_K, "-k"},          {OPT_COLUMNS, "--columns"}, {OPT_CSV, "--csv"},
    {OPT_JSON, "--json"},   {OPT_TIMEOUT, "--timeout"}, {OPT_MAX_MEMORY, "--max-memory"}};

/* ------------------------------------------------------------------------------------- */
/* Printing rows as they come: an aligned table, CSV or JSON lines.
 *
 * The store streams rows to on_row(). CSV and JSON are printed at once. The aligned table
 * needs column widths: the first TABLE_PROBE rows are held to measure them, then printed,
 * and later rows are printed as they come with those widths (a longer value just widens its
 * line), so an endless query holds at most TABLE_PROBE rows. Text from a db is shown with
 * control characters escaped (\x1b, \n): a name holding ESC or BEL reaches no terminal raw. */

#define TABLE_PROBE 1000

struct cell {
    enum ns_db_type type;
    long long i;
    double d;
    char *s; /* NS_DB_TEXT: owned */
};

struct printer {
    enum fmt fmt;
    int ncols;
    char **names;
    struct cell *held; /* table: up to TABLE_PROBE rows, row-major */
    long n_held;
    int *w, *right; /* table: widths and alignment, fixed once the held rows are out */
    int started;    /* the header (table, CSV) is out */
    long rows;
};

static void cells_clear(struct cell *c, int n)
{
    for (int k = 0; k < n; k++) {
        free(c[k].s);
        c[k] = (struct cell){NS_DB_NULL, 0, 0, NULL};
    }
}

static int cell_set(struct cell *c, const struct ns_db_value *v)
{
    *c = (struct cell){v->type, v->i, v->d, NULL};
    if (v->type == NS_DB_TEXT && !(c->s = strdup(v->s)))
        return ns_err("out of memory");
    if (v->type == NS_DB_REAL && !isfinite(v->d))
        c->type = NS_DB_NULL;
    return 0;
}

/* s with its control characters escaped, malloc'd; NULL when s has none (use s). */
static char *escape_controls(const char *s)
{
    size_t extra = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            extra += 3;
    if (!extra)
        return NULL;
    char *out = malloc(strlen(s) + extra + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r')
            o += sprintf(o, "\\%c", *p == '\n' ? 'n' : *p == '\t' ? 't' : 'r');
        else if (*p < 0x20 || *p == 0x7f)
            o += sprintf(o, "\\x%02x", *p);
        else
            *o++ = (char)*p;
    }
    *o = 0;
    return out;
}

/* Print s for a terminal (control characters escaped), padded to w (negative: left). */
static void put_text(const char *s, int w)
{
    char *e = escape_controls(s);
    printf("%*s", w, e ? e : s);
    free(e);
}

static int text_width(const char *s)
{
    char *e = escape_controls(s);
    int n = (int)strlen(e ? e : s);
    free(e);
    return n;
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

/* A number for the aligned table: errors with 2 decimals, times as UTC dates, seconds with
 * one decimal, other reals with 6 significant digits. */
static void fmt_display(const char *col, const struct cell *c, char *buf, size_t n)
{
    switch (c->type) {
    case NS_DB_NULL:
        snprintf(buf, n, "-");
        break;
    case NS_DB_INT:
        snprintf(buf, n, "%lld", c->i);
        break;
    case NS_DB_REAL:
        if (is_time_col(col) && c->d > 0 && c->d < 1e11) {
            time_t tt = (time_t)c->d;
            struct tm tm;
            gmtime_r(&tt, &tm);
            strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
        } else if (ends_with(col, "error") || !strcmp(col, "best") || !strcmp(col, "median")) {
            snprintf(buf, n, "%.2f", c->d);
        } else if (!strcmp(col, "wall_s") || !strcmp(col, "seconds")) {
            snprintf(buf, n, "%.1f", c->d);
        } else if (ends_with(col, "_h")) {
            snprintf(buf, n, "%.3f", c->d);
        } else {
            snprintf(buf, n, "%.6g", c->d);
        }
        break;
    default:
        snprintf(buf, n, "%s", c->s);
    }
}

static void table_line(const struct printer *p, const struct cell *row)
{
    char buf[128];
    for (int c = 0; c < p->ncols; c++) {
        /* the last column is not padded (no trailing blanks) */
        int w = c == p->ncols - 1 && !p->right[c] ? 0 : p->right[c] ? p->w[c] : -p->w[c];
        if (c)
            fputs("  ", stdout);
        if (!row) {
            put_text(p->names[c], w);
        } else if (row[c].type == NS_DB_TEXT) {
            put_text(row[c].s, w);
        } else {
            fmt_display(p->names[c], &row[c], buf, sizeof buf);
            printf("%*s", w, buf);
        }
    }
    putchar('\n');
}

/* Measure the held rows, print the header and them. */
static void table_flush(struct printer *p)
{
    char buf[128];
    for (int c = 0; c < p->ncols; c++) {
        p->w[c] = text_width(p->names[c]);
        p->right[c] = 1;
    }
    for (long r = 0; r < p->n_held; r++)
        for (int c = 0; c < p->ncols; c++) {
            const struct cell *x = &p->held[r * p->ncols + c];
            int len;
            if (x->type == NS_DB_TEXT) {
                p->right[c] = 0;
                len = text_width(x->s);
            } else {
                fmt_display(p->names[c], x, buf, sizeof buf);
                len = (int)strlen(buf);
            }
            p->w[c] = len > p->w[c] ? len : p->w[c];
        }
    table_line(p, NULL);
    for (long r = 0; r < p->n_held; r++) {
        table_line(p, &p->held[r * p->ncols]);
        cells_clear(&p->held[r * p->ncols], p->ncols);
    }
    p->n_held = 0;
    p->started = 1;
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

static void csv_line(const struct printer *p, const struct ns_db_value *v)
{
    for (int c = 0; c < p->ncols; c++) {
        if (c)
            putchar(',');
        if (!v)
            csv_text(p->names[c]);
        else if (v[c].type == NS_DB_INT)
            printf("%lld", v[c].i);
        else if (v[c].type == NS_DB_REAL && isfinite(v[c].d))
            printf("%.15g", v[c].d);
        else if (v[c].type == NS_DB_TEXT)
            csv_text(v[c].s);
    }
    putchar('\n');
}

/* Columns holding JSON text are embedded as JSON, not as strings. */
static int is_json_col(const char *name)
{
    return !strcmp(name, "config") || !strcmp(name, "other_params") || !strcmp(name, "experiment");
}

static json_t *value_json(const char *col, const struct ns_db_value *x)
{
    switch (x->type) {
    case NS_DB_INT:
        return json_integer(x->i);
    case NS_DB_REAL:
        return isfinite(x->d) ? json_real(x->d) : json_null();
    case NS_DB_TEXT:
        if (is_json_col(col)) {
            json_t *j = json_loads(x->s, JSON_DECODE_ANY, NULL);
            if (j)
                return j;
        }
        if (!ns_utf8_valid(x->s)) { /* shown with its bad bytes replaced, not dropped */
            char *fixed = ns_utf8_repair(x->s);
            json_t *j = fixed ? json_string(fixed) : json_null();
            free(fixed);
            return j;
        }
        return json_string(x->s);
    default:
        return json_null();
    }
}

static json_t *row_json(int ncols, const char *const *names, const struct ns_db_value *v)
{
    json_t *o = json_object();
    for (int c = 0; o && c < ncols; c++)
        json_object_set_new(o, names[c], value_json(names[c], &v[c]));
    return o;
}

static void print_json_obj(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    if (s)
        puts(s);
    free(s);
}

static int printer_header(struct printer *p, int ncols, const char *const *names)
{
    p->ncols = ncols;
    p->names = calloc((size_t)ncols + 1, sizeof *p->names);
    p->w = calloc((size_t)ncols + 1, sizeof *p->w);
    p->right = calloc((size_t)ncols + 1, sizeof *p->right);
    if (p->fmt == FMT_TABLE)
        p->held = calloc((size_t)(ncols + 1) * TABLE_PROBE, sizeof *p->held);
    if (!p->names || !p->w || !p->right || (p->fmt == FMT_TABLE && !p->held))
        return ns_err("out of memory");
    for (int c = 0; c < ncols; c++)
        if (!(p->names[c] = strdup(names[c])))
            return ns_err("out of memory");
    if (p->fmt == FMT_CSV) {
        csv_line(p, NULL);
        p->started = 1;
    }
    return 0;
}

/* The row callback (ns_db_row_fn): v NULL is the header. */
static int on_row(void *ctx, int ncols, const char *const *names, const struct ns_db_value *v)
{
    struct printer *p = ctx;
    if (!v)
        return printer_header(p, ncols, names) < 0 ? -1 : 0;
    p->rows++;
    if (p->fmt == FMT_CSV) {
        csv_line(p, v);
    } else if (p->fmt == FMT_JSON) {
        json_t *o = row_json(ncols, names, v);
        print_json_obj(o);
        json_decref(o);
    } else {
        struct cell *row = &p->held[(p->started ? 0 : p->n_held) * ncols];
        for (int c = 0; c < ncols; c++)
            if (cell_set(&row[c], &v[c]) < 0)
                return -1;
        if (p->started) {
            table_line(p, row);
            cells_clear(row, ncols);
        } else if (++p->n_held == TABLE_PROBE) {
            table_flush(p);
        }
    }
    return ferror(stdout) ? ns_err("cannot write the output") : 0;
}

/* Print what is held, free everything. */
static void printer_end(struct printer *p)
{
    if (p->fmt == FMT_TABLE && p->names && !p->started)
        table_flush(p);
    for (long k = 0; p->held && k < (long)p->ncols * TABLE_PROBE; k++)
        free(p->held[k].s);
    for (int c = 0; p->names && c < p->ncols; c++)
        free(p->names[c]);
    free(p->held);
    free(p->names);
    free(p->w);
    free(p->right);
    memset(p, 0, sizeof *p);
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
                                        "complete", "failed", "stale",  "best",    "median",
                                        "epochs",   "epoch_h", "span_h"};
    enum { NCOL = sizeof names / sizeof names[0] };
    struct printer p = {.fmt = o->fmt};
    int rc = on_row(&p, NCOL, names, NULL);
    for (int i = 0; rc == 0 && i < n; i++) {
        struct ns_db_value v[NCOL] = {{NS_DB_TEXT, 0, 0, s[i].name},
                                      {s[i].space ? NS_DB_TEXT : NS_DB_NULL, 0, 0, s[i].space},
                                      {NS_DB_INT, s[i].n_trials, 0, NULL}};
        for (int k = 0; k < NS_DB_NSTATES; k++)
            v[3 + k] = (struct ns_db_value){NS_DB_INT, s[i].n_state[k], 0, NULL};
        v[8] = (struct ns_db_value){NS_DB_REAL, 0, s[i].best_test_error, NULL};
        v[9] = (struct ns_db_value){NS_DB_REAL, 0, s[i].median_test_error, NULL};
        v[10] = (struct ns_db_value){NS_DB_INT, s[i].epochs, 0, NULL};
        v[11] = (struct ns_db_value){NS_DB_REAL, 0, s[i].epoch_seconds / 3600, NULL};
        /* NAN (no trial started or ended) prints as null */
        v[12] = (struct ns_db_value){NS_DB_REAL, 0, (s[i].last_ended - s[i].first_started) / 3600,
                                     NULL};
        rc = on_row(&p, NCOL, names, v);
    }
    printer_end(&p);
    ns_db_studies_free(s, n);
    return rc;
}

/* trials, best, export: the store's listing, streamed to the printer. */
static int list_trials(struct ns_db *db, struct ns_db_trials_query *q, enum fmt f)
{
    struct printer p = {.fmt = f};
    int rc = ns_db_trials_query(db, q, on_row, &p);
    printer_end(&p);
    return rc;
}

static struct ns_db_trials_query base_query(const struct opts *o)
{
    struct ns_db_trials_query q = {.study = -1, .state = -1, .trial = -1, .limit = -1};
    q.where = o->where;
    q.columns = o->columns ? o->columns : default_cols;
    q.limits = (struct ns_db_read_limits){o->timeout, o->max_memory};
    return q;
}

static int cmd_trials(struct ns_db *db, const struct opts *o)
{
    struct ns_db_trials_query q = base_query(o);
    if (o->study && (q.study = ns_db_study_resolve(db, o->study)) < 0)
        return -1;
    q.state = o->state ? ns_db_state_from_name(o->state) : -1;
    q.sort = o->sort;
    q.desc = o->desc;
    q.limit = o->has_limit ? o->limit : -1;
    return list_trials(db, &q, o->fmt);
}

static int cmd_best(struct ns_db *db, const struct opts *o)
{
    struct ns_db_trials_query q = base_query(o);
    if ((q.study = ns_db_study_resolve(db, o->study)) < 0)
        return -1;
    q.state = NS_DB_COMPLETE;
    q.sort = "test_error";
    q.limit = o->has_k ? o->k : 10;
    return list_trials(db, &q, o->fmt);
}

static int cmd_export(struct ns_db *db, const struct opts *o)
{
    struct ns_db_trials_query q = base_query(o);
    if ((q.study = ns_db_study_resolve(db, o->study)) < 0)
        return -1;
    q.columns = NULL;
    return list_trials(db, &q, o->fmt == FMT_JSON ? FMT_JSON : FMT_CSV);
}

static int cmd_rungs(struct ns_db *db, const struct opts *o)
{
    int64_t study = ns_db_study_resolve(db, o->study);
    if (study < 0)
        return -1;
    struct printer p = {.fmt = o->fmt};
    int rc = ns_db_rungs_query(db, study, -1, on_row, &p);
    long rows = p.rows;
    printer_end(&p);
    long long spent = rc == 0 ? ns_db_study_epochs_spent(db, study) : -1;
    if (rc == 0 && spent < 0)
        rc = -1;
    if (rc == 0 && o->fmt == FMT_TABLE) {
        if (rows == 0)
            printf("(no rungs: not a multi-fidelity study)\n");
        printf("epochs spent: %lld\n", spent);
    }
    return rc;
}

static int cmd_sql(struct ns_db *db, const struct opts *o, const char *text)
{
    struct ns_db_read_limits rl = {o->timeout, o->max_memory};
    struct printer p = {.fmt = o->fmt};
    int rc = ns_db_sql_query(db, text, &rl, on_row, &p);
    printer_end(&p);
    return rc;
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

/* show: the trial's row, kept (JSON: as an object), then its epochs. */
struct shown {
    int found;
    json_t *obj;
};

static int show_row(void *ctx, int ncols, const char *const *names, const struct ns_db_value *v)
{
    struct shown *s = ctx;
    if (!v)
        return 0;
    s->found = 1;
    if (s->obj) {
        json_t *o = row_json(ncols, names, v);
        json_object_update(s->obj, o);
        json_decref(o);
        return 0;
    }
    char buf[128];
    const char *config = NULL;
    for (int c = 0; c < ncols; c++) {
        struct cell x;
        if (v[c].type == NS_DB_NULL || !strcmp(names[c], "study_id"))
            continue;
        if (!strcmp(names[c], "config")) {
            config = v[c].s;
            continue;
        }
        if (v[c].type == NS_DB_INT && (!strcmp(names[c], "flops") || !strcmp(names[c], "params") ||
                                       !strcmp(names[c], "acts"))) {
            print_count(names[c], v[c].i);
            continue;
        }
        printf("%-16s ", names[c]);
        if (v[c].type == NS_DB_TEXT) {
            put_text(v[c].s, 0);
        } else {
            x = (struct cell){v[c].type, v[c].i, v[c].d, NULL};
            fmt_display(names[c], &x, buf, sizeof buf);
            fputs(buf, stdout);
        }
        putchar('\n');
    }
    if (config) {
        printf("%-16s ", "config");
        put_text(config, 0);
        putchar('\n');
    }
    return 0;
}

static int count_rows(void *ctx, int ncols, const char *const *names, const struct ns_db_value *v)
{
    (void)ncols, (void)names;
    if (v)
        ++*(long *)ctx;
    return 0;
}

static int epoch_json(void *ctx, int ncols, const char *const *names, const struct ns_db_value *v)
{
    if (v)
        json_array_append_new(ctx, row_json(ncols, names, v));
    return 0;
}

static int cmd_show(struct ns_db *db, const struct opts *o, const char *arg)
{
    long idx;
    if (ns_cli_int("query show", "N", arg, 0, INT_MAX, &idx) < 0)
        return 2;
    struct ns_db_trials_query q = base_query(o);
    if ((q.study = ns_db_study_resolve(db, o->study)) < 0)
        return -1;
    q.trial = (int)idx;
    q.columns = NULL;
    q.where = NULL;
    struct shown s = {0, o->fmt == FMT_JSON ? json_object() : NULL};
    int rc = ns_db_trials_query(db, &q, show_row, &s);
    if (rc == 0 && !s.found) /* the store's message: "FILE: study 'x' has no trial N" */
        rc = ns_db_trial_state(db, q.study, (int)idx) < 0
                 ? -1
                 : ns_err("%s: trial %ld changed while reading", ns_db_path(db), idx);
    if (rc == 0 && s.obj) {
        json_t *arr = json_array();
        rc = ns_db_epochs_query(db, q.study, (int)idx, epoch_json, arr);
        json_object_set_new(s.obj, "epochs", arr);
        /* a multi-fidelity trial's rungs, as the table shows them (none: no key, as before) */
        json_t *rungs = json_array();
        if (rc == 0)
            rc = ns_db_rungs_query(db, q.study, (int)idx, epoch_json, rungs);
        if (json_array_size(rungs) > 0)
            json_object_set(s.obj, "rungs", rungs);
        json_decref(rungs);
        if (rc == 0)
            print_json_obj(s.obj);
    } else if (rc == 0) {
        struct printer p = {.fmt = FMT_TABLE};
        putchar('\n');
        rc = ns_db_epochs_query(db, q.study, (int)idx, on_row, &p);
        if (rc == 0 && p.rows == 0) {
            printer_end(&p);
            printf("(no epochs recorded)\n");
        }
        printer_end(&p);
        /* a multi-fidelity trial's rungs */
        struct printer g = {.fmt = FMT_TABLE};
        if (rc == 0) {
            rc = ns_db_rungs_query(db, q.study, (int)idx, count_rows, &g.rows);
            if (rc == 0 && g.rows > 0) {
                g.rows = 0;
                putchar('\n');
                rc = ns_db_rungs_query(db, q.study, (int)idx, on_row, &g);
                printer_end(&g);
            }
        }
    }
    json_decref(s.obj);
    return rc;
}
/* ------------------------------------------------------------------------------------- */

#define OPT_LIMITS (OPT_TIMEOUT | OPT_MAX_MEMORY)

static const struct {
    const char *name;
    int nargs;        /* positional arguments after the command */
    unsigned allowed; /* OPT_ bits */
} subcmds[] = {
    {"studies", 0, OPT_CSV | OPT_JSON},
    {"trials", 0,
     OPT_STUDY | OPT_STATE | OPT_WHERE | OPT_SORT | OPT_DESC | OPT_LIMIT | OPT_COLUMNS | OPT_CSV |
         OPT_JSON | OPT_LIMITS},
    {"best", 0, OPT_STUDY | OPT_K | OPT_WHERE | OPT_COLUMNS | OPT_CSV | OPT_JSON | OPT_LIMITS},
    {"show", 1, OPT_STUDY | OPT_JSON},
    {"export", 0, OPT_STUDY | OPT_CSV | OPT_JSON | OPT_LIMITS},
    {"sql", 1, OPT_CSV | OPT_JSON | OPT_LIMITS},
    {"rungs", 0, OPT_STUDY | OPT_CSV | OPT_JSON},
};
#define N_SUBCMDS (int)(sizeof subcmds / sizeof subcmds[0])

int ns_cmd_query(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},      {"study", required_argument, NULL, 's'},
        {"state", required_argument, NULL, 'S'},   {"where", required_argument, NULL, 'w'},
        {"sort", required_argument, NULL, 'o'},    {"desc", no_argument, NULL, 'D'},
        {"limit", required_argument, NULL, 'l'},   {"columns", required_argument, NULL, 'c'},
        {"csv", no_argument, NULL, 'C'},           {"json", no_argument, NULL, 'J'},
        {"timeout", required_argument, NULL, 'T'}, {"max-memory", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    struct opts o = {.timeout = DEFAULT_TIMEOUT_S, .max_memory = DEFAULT_MAX_MEMORY_MB};
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":hk:", longopts, NULL)) != -1) {
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
        case 'T':
            if (ns_cli_double("query", "--timeout", optarg, &o.timeout) < 0)
                return 2;
            if (!(o.timeout >= 0 && o.timeout <= 1e7))
                return ns_cli_usage_error("query", "--timeout: %s is not 0..1e7 seconds", optarg);
            o.given |= OPT_TIMEOUT;
            break;
        case 'M':
            if (ns_cli_int("query", "--max-memory", optarg, 0, 1L << 24, &o.max_memory) < 0)
                return 2;
            o.given |= OPT_MAX_MEMORY;
            break;
        default:
            return ns_cli_bad_option("query", ch, argv);
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
    case 6:
        rc = cmd_rungs(db, &o);
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
