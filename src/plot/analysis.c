/* The analyses from a results db (analysis.h): the plots rs, fidelity, budget, trend and
 * effects. The db is opened read-only; each function reads what it needs in
 * a few queries, so it works while a search writes to the db (WAL: a reader sees the last
 * commit). */
#include "plot/analysis.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/analysis_internal.h"
#include "plot/fig_internal.h"
#include "store/store.h"
#include "util/err.h"
#include "util/json.h"

/* ------------------------------------------------------------------ text buffers ------ */

void ns_sbuf_printf(struct ns_sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0 || b->oom)
        return;
    if (b->len + (size_t)need + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + (size_t)need + 1)
            cap *= 2;
        char *nb = realloc(b->s, cap);
        if (!nb) {
            b->oom = 1;
            return;
        }
        b->s = nb;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)need;
}

char *ns_sbuf_take(struct ns_sbuf *b)
{
    char *s = b->s;
    if (s && b->len && s[b->len - 1] == '\n')
        s[--b->len] = 0;
    if (s && !b->len) {
        free(s);
        s = NULL;
    }
    memset(b, 0, sizeof *b);
    return s;
}

/* ------------------------------------------------------------------ loading ----------- */

void ns_study_data_free(struct ns_study_data *s)
{
    free(s->name);
    free(s->err);
    free(s->flops);
    free(s->params);
    free(s->acts);
    free(s->idx);
    memset(s, 0, sizeof *s);
}

int ns_study_data_from_trials(const struct ns_db_trial *t, int nt, int64_t id, const char *name,
                              int error_best, int failed_chance, struct ns_study_data *s)
{
    memset(s, 0, sizeof *s);
    s->id = id;
    s->name = strdup(name);
    size_t cap = nt ? (size_t)nt : 1;
    s->err = malloc(cap * sizeof *s->err);
    s->flops = malloc(cap * sizeof *s->flops);
    s->params = malloc(cap * sizeof *s->params);
    s->acts = malloc(cap * sizeof *s->acts);
    s->idx = malloc(cap * sizeof *s->idx);
    if (!s->name || !s->err || !s->flops || !s->params || !s->acts || !s->idx) {
        ns_study_data_free(s);
        return ns_err("out of memory");
    }
    s->n_trials = (size_t)nt;
    for (int i = 0; i < nt; i++) {
        double e;
        if (t[i].state == NS_DB_FAILED) {
            s->n_failed++;
            if (!failed_chance)
                continue;
            e = ns_plot_chance_error(&t[i]);
        } else if (t[i].state == NS_DB_COMPLETE) {
            e = error_best ? t[i].best_test_error : t[i].test_error;
        } else {
            s->n_pending++;
            continue;
        }
        if (!isfinite(e))
            continue;
        size_t k = s->n++;
        s->err[k] = e;
        s->flops[k] = t[i].flops > 0 ? (double)t[i].flops : NAN;
        s->params[k] = t[i].params > 0 ? (double)t[i].params : NAN;
        s->acts[k] = t[i].acts > 0 ? (double)t[i].acts : NAN;
        s->idx[k] = t[i].idx;
    }
    return 0;
}

int ns_study_data_load(struct ns_db *db, int64_t id, const char *name, int error_best,
                       int failed_chance, struct ns_study_data *s)
{
    memset(s, 0, sizeof *s);
    struct ns_db_trial *t = NULL;
    int nt = 0;
    if (ns_db_trials_load(db, id, 0, &t, &nt))
        return -1;
    int rc = ns_study_data_from_trials(t, nt, id, name, error_best, failed_chance, s);
    ns_db_trials_free(t, nt);
    return rc;
}

const double *ns_study_data_cx(const struct ns_study_data *s, const char *cx)
{
    if (!cx)
        return NULL;
    if (!strcmp(cx, "flops"))
        return s->flops;
    if (!strcmp(cx, "params"))
        return s->params;
    if (!strcmp(cx, "acts"))
        return s->acts;
    return NULL;
}

int ns_studies_select(struct ns_db *db, const char *const *names, int n_names,
                      struct ns_db_study_info **info, int *n_info, int **sel, int *n_sel)
{
    *info = NULL;
    *sel = NULL;
    *n_info = *n_sel = 0;
    if (ns_db_studies(db, info, n_info))
        return -1;
    int n = n_names ? n_names : *n_info;
    if (n == 0) {
        ns_db_studies_free(*info, *n_info);
        *info = NULL;
        *n_info = 0;
        return ns_err("%s: no studies", ns_db_path(db));
    }
    *sel = malloc((size_t)n * sizeof **sel);
    if (!*sel) {
        ns_db_studies_free(*info, *n_info);
        *info = NULL;
        return ns_err("out of memory");
    }
    for (int i = 0; i < n; i++) {
        int found = n_names ? -1 : i;
        for (int k = 0; n_names && k < *n_info; k++)
            if (!strcmp((*info)[k].name, names[i]))
                found = k;
        if (found < 0) {
            ns_db_study_resolve(db, names[i]); /* its message lists the studies */
            ns_db_studies_free(*info, *n_info);
            free(*sel);
            *info = NULL;
            *sel = NULL;
            *n_info = 0;
            return -1;
        }
        (*sel)[i] = found;
    }
    *n_sel = n;
    return 0;
}

int ns_studies_distinct(const char *what, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < i; k++)
            if (!strcmp(names[i], names[k]))
                return ns_err("%s: study '%s' given twice; name each study once", what, names[i]);
    return 0;
}

/* Complexity-normalized weights for the studies s[0..n): over the range given or the
 * intersection of theirs; w[i] (malloc'd, s[i].n each) is 0 outside it. */
int ns_study_data_norm(struct ns_db *db, struct ns_study_data *s, int n, const char *cx, int bins,
                       int linear_bins, int have_range, double lo, double hi, double **w,
                       double *lo_out, double *hi_out)
{
    if (!have_range) {
        lo = -INFINITY;
        hi = INFINITY;
        for (int i = 0; i < n; i++) {
            const double *c = ns_study_data_cx(&s[i], cx);
            double a = INFINITY, b = -INFINITY;
            for (size_t j = 0; j < s[i].n; j++)
                if (isfinite(c[j])) {
                    a = fmin(a, c[j]);
                    b = fmax(b, c[j]);
                }
            lo = fmax(lo, a);
            hi = fmin(hi, b);
        }
        if (!(lo < hi))
            return ns_err("%s: the studies' %s ranges do not overlap; give --range LO,HI",
                          ns_db_path(db), cx);
    }
    *lo_out = lo;
    *hi_out = hi;
    for (int i = 0; i < n; i++) {
        w[i] = malloc((s[i].n ? s[i].n : 1) * sizeof *w[i]);
        if (!w[i])
            return ns_err("out of memory");
        if (ns_plot_norm_weights(ns_study_data_cx(&s[i], cx), s[i].n, lo, hi, bins, !linear_bins,
                                 w[i], NULL))
            return ns_err_prefix("%s: study '%s': --normalize %s", ns_db_path(db), s[i].name, cx);
    }
    return 0;
}

/* Load every selected study. */
static int load_all(struct ns_db *db, const struct ns_plot_req *r, struct ns_study_data **out,
                    int *n_out)
{
    struct ns_db_study_info *info;
    int ni, *sel, ns;
    *out = NULL;
    *n_out = 0;
    if (ns_studies_select(db, r->studies, r->n_studies, &info, &ni, &sel, &ns))
        return -1;
    struct ns_study_data *s = calloc((size_t)ns, sizeof *s);
    int rc = s ? 0 : ns_err("out of memory");
    for (int i = 0; i < ns && rc == 0; i++)
        rc = ns_study_data_load(db, info[sel[i]].id, info[sel[i]].name, r->error_best,
                                r->failed_chance, &s[i]);
    ns_db_studies_free(info, ni);
    free(sel);
    if (rc) {
        for (int i = 0; s && i < ns; i++)
            ns_study_data_free(&s[i]);
        free(s);
        return -1;
    }
    *out = s;
    *n_out = ns;
    return 0;
}

static void free_all(struct ns_study_data *s, int n)
{
    for (int i = 0; s && i < n; i++)
        ns_study_data_free(&s[i]);
    free(s);
}

const char *ns_error_name(const struct ns_plot_req *r)
{
    if (r->error_label)
        return r->error_label;
    return r->error_best ? "best test error" : "test error";
}

struct ns_plot_req ns_plot_req_labelled(struct ns_db *db, const struct ns_plot_req *r)
{
    struct ns_plot_req rl = *r;
    if (!rl.error_label)
        rl.error_label = ns_plot_error_label(db, r->studies, r->n_studies, r->error_best);
    return rl;
}

/* Whether a stored experiment (JSON text) evaluates on a validation split. */
static int on_validation(const char *experiment_json)
{
    json_t *root = experiment_json ? json_loads(experiment_json, 0, NULL) : NULL;
    const json_t *v = json_object_get(json_object_get(root, "data"), "val_split");
    int on = json_is_number(v) && json_number_value(v) > 0;
    json_decref(root);
    return on;
}

const char *ns_plot_eval_set(struct ns_db *db, const char *const *names, int n)
{
    int val = 0, test = 0;
    /* named studies: one row each; all of them: the listing (it also sums each study's
     * trials, so it is not taken for a few names). A study that cannot be read counts as
     * on the test set, the columns' own name; the analysis that reads it reports the error. */
    for (int j = 0; j < n; j++) {
        char *text = NULL;
        int found = ns_db_study_experiment(db, names[j], &text);
        if (found == 1 && on_validation(text))
            val = 1;
        else
            test = 1;
        if (found < 0)
            ns_err_clear(); /* a label, not an error: the analysis reports the study */
        free(text);
    }
    struct ns_db_study_info *info = NULL;
    int ni = 0;
    if (n == 0 && ns_db_studies(db, &info, &ni) == 0)
        for (int i = 0; i < ni; i++) {
            if (on_validation(info[i].experiment_json))
                val = 1;
            else
                test = 1;
        }
    ns_db_studies_free(info, ni);
    return val && test ? "validation or test" : val ? "validation" : "test";
}

const char *ns_plot_error_label(struct ns_db *db, const char *const *names, int n, int error_best)
{
    const char *set = ns_plot_eval_set(db, names, n);
    if (!strcmp(set, "validation or test"))
        return error_best ? "best validation or test error" : "validation or test error";
    if (!strcmp(set, "validation"))
        return error_best ? "best validation error" : "validation error";
    return error_best ? "best test error" : "test error";
}

int ns_studies_note_empty(struct ns_db *db, const struct ns_plot_req *r,
                          const struct ns_study_data *s, int n, struct ns_sbuf *log)
{
    const char *first = NULL;
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (s[i].n > 0) {
            kept++;
            continue;
        }
        if (!first)
            first = s[i].name;
        ns_sbuf_printf(log,
                       "study '%s' left out: no complete trials with a %s (%zu trials, %zu "
                       "failed)\n",
                       s[i].name, ns_error_name(r), s[i].n_trials, s[i].n_failed);
    }
    if (n > 0 && kept == 0)
        return ns_err("%s: study '%s': no complete trials with a %s", ns_db_path(db), first,
                      ns_error_name(r));
    return 0;
}

/* Drop the studies without models (noting each), or fail when none is left. */
static int keep_nonempty(struct ns_db *db, const struct ns_plot_req *r, struct ns_study_data *s,
                         int *n, struct ns_sbuf *log)
{
    if (ns_studies_note_empty(db, r, s, *n, log))
        return -1;
    int k = 0;
    for (int i = 0; i < *n; i++) {
        if (s[i].n > 0)
            s[k++] = s[i];
        else
            ns_study_data_free(&s[i]);
    }
    *n = k;
    return 0;
}

/* ------------------------------------------------------------------ rs ---------------- */

static int make_rs(struct ns_db *db, const struct ns_plot_req *r, const struct ns_plot_files *f,
                   const struct ns_plot_analysis_opts *o, struct ns_sbuf *log)
{
    struct ns_study_data *s;
    int n;
    if (load_all(db, r, &s, &n))
        return -1;
    int rc = keep_nonempty(db, r, s, &n, log);
    double **w = calloc((size_t)n, sizeof *w), *buf = NULL;
    struct ns_plot_rs_series *series = calloc((size_t)n, sizeof *series);
    if (rc == 0 && (!w || !series))
        rc = ns_err("out of memory");
    double lo = 0, hi = 0;
    if (rc == 0 && r->normalize)
        rc = ns_study_data_norm(db, s, n, r->normalize, r->bins, r->linear_bins, r->have_range,
                                r->lo, r->hi, w, &lo, &hi);
    int kmax = o->kmax;
    if (kmax <= 0) {
        size_t most = 1;
        for (int i = 0; i < n; i++)
            most = s[i].n > most ? s[i].n : most;
        kmax = most > 100 ? 100 : (int)most;
    }
    if (rc == 0 && !(buf = malloc(3 * (size_t)kmax * (size_t)n * sizeof *buf)))
        rc = ns_err("out of memory");
    for (int i = 0; i < n && rc == 0; i++) {
        double *mean = buf + 3 * (size_t)kmax * (size_t)i, *blo = mean + kmax, *bhi = blo + kmax;
        struct ns_edf e;
        size_t kept = 0;
        for (size_t j = 0; j < s[i].n; j++)
            kept += !w[i] || w[i][j] > 0;
        rc = ns_plot_edf(s[i].err, w[i], s[i].n, &e);
        if (rc == 0) {
            rc = ns_stat_rs_curve(&e, kmax, mean);
            ns_edf_free(&e);
        }
        if (rc == 0)
            rc = ns_stat_rs_band(s[i].err, w[i], s[i].n, kmax, r->resamples, r->seed, blo, bhi);
        if (rc)
            rc = ns_err_prefix("study '%s'", s[i].name);
        series[i] = (struct ns_plot_rs_series){s[i].name, kept, kmax, mean, blo, bhi};
    }
    char title[256], a[32], b[32];
    if (r->normalize)
        snprintf(title, sizeof title, "Random-search efficiency: %s-normalized, (%s, %s), %d bins",
                 r->normalize, ns_fig_fmt_num(a, sizeof a, lo), ns_fig_fmt_num(b, sizeof b, hi),
                 r->bins);
    if (rc == 0)
        rc = ns_plot_fig_rs(f, series, n,
                            r->title       ? r->title
                            : r->normalize ? title
                                           : NULL,
                            ns_error_name(r), r->resamples);
    for (int i = 0; w && i < n; i++)
        free(w[i]);
    free(w);
    free(buf);
    free(series);
    free_all(s, n);
    return rc;
}

/* ------------------------------------------------------------------ fidelity ---------- */

/* Per-epoch test errors of the study's complete trials: ep[j * epochs + e] (NAN where not
 * recorded), final[j]; *epochs the most epochs of any trial (0: no per-epoch rows). */
static int load_epochs(struct ns_db *db, const struct ns_study_data *s, double **ep, int *epochs)
{
    *ep = NULL;
    *epochs = 0;
    struct ns_db_epoch **rows = calloc(s->n ? s->n : 1, sizeof *rows);
    int *nr = calloc(s->n ? s->n : 1, sizeof *nr), rc = rows && nr ? 0 : ns_err("out of memory");
    int most = 0;
    for (size_t j = 0; j < s->n && rc == 0; j++) {
        rc = ns_db_epochs_load(db, s->id, s->idx[j], &rows[j], &nr[j]);
        for (int k = 0; rc == 0 && k < nr[j]; k++)
            if (rows[j][k].epoch >= 0 && rows[j][k].epoch < 100000 && rows[j][k].epoch + 1 > most)
                most = rows[j][k].epoch + 1;
    }
    if (rc == 0 && most > 0) {
        *ep = malloc(s->n * (size_t)most * sizeof **ep);
        if (!*ep)
            rc = ns_err("out of memory");
        for (size_t j = 0; rc == 0 && j < s->n * (size_t)most; j++)
            (*ep)[j] = NAN;
        for (size_t j = 0; rc == 0 && j < s->n; j++)
            for (int k = 0; k < nr[j]; k++)
                if (rows[j][k].epoch >= 0 && rows[j][k].epoch < most)
                    (*ep)[j * (size_t)most + (size_t)rows[j][k].epoch] = rows[j][k].test_error;
        *epochs = most;
    }
    for (size_t j = 0; rows && j < s->n; j++)
        free(rows[j]);
    free(rows);
    free(nr);
    return rc;
}

int ns_study_fidelity(struct ns_db *db, const struct ns_study_data *s,
                      struct ns_plot_fidelity_series *out)
{
    memset(out, 0, sizeof *out);
    out->name = s->name;
    double *ep;
    int epochs;
    if (load_epochs(db, s, &ep, &epochs))
        return -1;
    if (epochs == 0)
        return ns_err("%s: study '%s' has no per-epoch metrics", ns_db_path(db), s->name);
    double *v = malloc(3 * (size_t)epochs * sizeof *v);
    double *a = malloc(2 * s->n * sizeof *a), *b = a ? a + s->n : NULL;
    if (!v || !a) {
        free(ep);
        free(v);
        free(a);
        return ns_err("out of memory");
    }
    size_t any = 0;
    for (size_t j = 0; j < s->n; j++) {
        int has = 0;
        for (int e = 0; e < epochs; e++)
            has |= isfinite(ep[j * (size_t)epochs + (size_t)e]);
        any += has;
    }
    for (int e = 0; e < epochs; e++) {
        size_t m = 0;
        for (size_t j = 0; j < s->n; j++) {
            double x = ep[j * (size_t)epochs + (size_t)e];
            if (isfinite(x)) {
                a[m] = x;
                b[m++] = s->err[j];
            }
        }
        v[e] = ns_stat_spearman(a, b, m);
        v[epochs + e] = ns_stat_kendall(a, b, m);
        v[2 * epochs + e] = m >= 2 ? ns_stat_top_overlap(a, b, m, 0.1) : NAN;
    }
    free(ep);
    free(a);
    out->n = any;
    out->epochs = epochs;
    out->spearman = v;
    out->kendall = v + epochs;
    out->top10 = v + 2 * epochs;
    return 0;
}

static int make_fidelity(struct ns_db *db, const struct ns_plot_req *r,
                         const struct ns_plot_files *f, struct ns_sbuf *log)
{
    struct ns_study_data *s;
    int n;
    if (load_all(db, r, &s, &n))
        return -1;
    int rc = keep_nonempty(db, r, s, &n, log);
    struct ns_plot_fidelity_series *series = calloc((size_t)(n ? n : 1), sizeof *series);
    if (rc == 0 && !series)
        rc = ns_err("out of memory");
    int k = 0;
    char why[512] = "";
    for (int i = 0; i < n && rc == 0; i++) {
        if (ns_study_fidelity(db, &s[i], &series[k])) {
            if (strstr(ns_errmsg(), "no per-epoch metrics")) {
                snprintf(why, sizeof why, "%s", ns_errmsg());
                ns_sbuf_printf(log, "study '%s' left out: no per-epoch metrics\n", s[i].name);
                continue;
            }
            rc = -1;
            break;
        }
        k++;
    }
    if (rc == 0 && k == 0)
        rc = ns_err("%s", why);
    if (rc == 0)
        rc = ns_plot_fig_fidelity(f, series, k, r->title);
    for (int i = 0; series && i < k; i++)
        free((void *)series[i].spearman);
    free(series);
    free_all(s, n);
    return rc;
}

/* ------------------------------------------------------------------ budget ------------ */

/* recipe.epochs of the study's stored experiment: the epochs each of its trials trained
 * for (a multi-fidelity study's rungs stop earlier, but its recipe.epochs is its
 * max_epochs, the budget it was sized for). */
static int study_epochs(struct ns_db *db, const char *name, int *epochs)
{
    char *text = NULL;
    int found = ns_db_study_experiment(db, name, &text);
    if (found != 1)
        return found < 0 ? -1 : ns_err("%s: study '%s' not found", ns_db_path(db), name);
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    free(text);
    const json_t *recipe = json_object_get(root, "recipe");
    int rc;
    if (!root)
        rc = ns_err("%s: study '%s': its stored experiment is not JSON: %s", ns_db_path(db), name,
                    ns_json_error_text(&je));
    else if (!json_object_get(recipe, "epochs"))
        rc = ns_err("%s: study '%s': its stored experiment has no recipe.epochs (the budget its "
                    "trials trained for)",
                    ns_db_path(db), name);
    else {
        char where[320];
        snprintf(where, sizeof where, "%s: study '%s': experiment recipe", ns_db_path(db), name);
        rc = ns_json_get_int(recipe, "epochs", where, 1, 1, 100000, epochs);
    }
    json_decref(root);
    return rc;
}

static int make_budget(struct ns_db *db, const struct ns_plot_req *r, const struct ns_plot_files *f)
{
    if (r->n_studies < 2)
        return ns_err("budget: name the reference study and its twin studies trained for "
                      "other budgets (--study REF,T1,T2,...); %s",
                      r->n_studies ? "only one given" : "none given");
    if (ns_studies_distinct("budget", r->studies, r->n_studies))
        return -1;
    struct ns_study_data *s;
    int n;
    if (load_all(db, r, &s, &n))
        return -1;
    /* s[0] is the reference; series[i - 1] and epochs[i] belong to s[i]. */
    struct ns_plot_budget_series *series = calloc((size_t)n, sizeof *series);
    int *epochs = calloc((size_t)n, sizeof *epochs);
    double *pa = malloc((s[0].n ? s[0].n : 1) * sizeof *pa),
           *pb = malloc((s[0].n ? s[0].n : 1) * sizeof *pb);
    int rc = series && epochs && pa && pb ? 0 : ns_err("out of memory");
    for (int i = 0; i < n && rc == 0; i++) {
        if (s[i].n == 0)
            rc = ns_err("%s: study '%s': no complete trials with a %s (%zu trials, %zu failed)",
                        ns_db_path(db), s[i].name, ns_error_name(r), s[i].n_trials, s[i].n_failed);
        else
            rc = study_epochs(db, s[i].name, &epochs[i]);
    }
    for (int i = 1; i < n && rc == 0; i++)
        if (epochs[i] > epochs[0])
            rc = ns_err("%s: study '%s' trains %d epochs, more than the reference '%s' (%d): "
                        "name the longest budget first",
                        ns_db_path(db), s[i].name, epochs[i], s[0].name, epochs[0]);
    for (int i = 1; i < n && rc == 0; i++) {
        struct ns_plot_budget_series *b = &series[i - 1];
        size_t unmatched;
        b->name = s[i].name;
        b->epochs = epochs[i];
        rc = ns_study_twins(ns_db_path(db), &s[0], &s[i], pa, pb, NULL, NULL, &b->n, &unmatched);
        if (rc == 0 && unmatched)
            rc = ns_err("%s: study '%s': %zu of its trials share an index with '%s' but not the "
                        "architecture (another space or seed?): not twins of it",
                        ns_db_path(db), s[i].name, unmatched, s[0].name);
        if (rc == 0)
            rc = ns_twins_rank(pa, pb, b->n, r->resamples, r->seed, &b->rho, &b->tau, &b->top10);
    }
    if (rc == 0)
        rc = ns_plot_fig_budget(f, s[0].name, epochs[0], series, n - 1, r->title, r->resamples);
    free(series);
    free(epochs);
    free(pa);
    free(pb);
    free_all(s, n);
    return rc;
}

/* ------------------------------------------------------------------ trend ------------- */

static int make_trend(struct ns_db *db, const struct ns_plot_req *r, const struct ns_plot_files *f,
                      struct ns_sbuf *log)
{
    const char *cx = r->param ? r->param : "flops";
    if (strcmp(cx, "flops") && strcmp(cx, "params") && strcmp(cx, "acts"))
        return ns_err("trend: --param %s: use flops, params or acts", cx);
    struct ns_study_data *s;
    int n;
    if (load_all(db, r, &s, &n))
        return -1;
    int rc = keep_nonempty(db, r, s, &n, log);
    struct ns_plot_trend_series *series = calloc((size_t)(n ? n : 1), sizeof *series);
    struct ns_trend_bin *bins = calloc((size_t)(n ? n : 1) * (size_t)r->bins, sizeof *bins);
    if (rc == 0 && (!series || !bins))
        rc = ns_err("out of memory");
    int log_bins = r->logx != 0 && !r->linear_bins;
    for (int i = 0; i < n && rc == 0; i++) {
        const double *x = ns_study_data_cx(&s[i], cx);
        int nb = ns_stat_trend(x, s[i].err, s[i].n, r->bins, log_bins, bins + i * r->bins);
        if (nb < 0) {
            rc = ns_err_prefix("%s: study '%s'", ns_db_path(db), s[i].name);
            break;
        }
        series[i] =
            (struct ns_plot_trend_series){s[i].name, s[i].n, x, s[i].err, bins + i * r->bins, nb};
    }
    if (rc == 0)
        rc = ns_plot_fig_trend(f, series, n, r->title, cx, ns_error_name(r), r->logx);
    free(series);
    free(bins);
    free_all(s, n);
    return rc;
}

/* ------------------------------------------------------------------ effects ----------- */

void ns_plot_names_free(char **names, int n)
{
    for (int i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

static int names_add(char ***names, int *n, const char *s)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp((*names)[i], s))
            return 0;
    char **nv = realloc(*names, (size_t)(*n + 1) * sizeof *nv);
    if (!nv)
        return ns_err("out of memory");
    *names = nv;
    if (!(nv[*n] = strdup(s)))
        return ns_err("out of memory");
    (*n)++;
    return 0;
}

/* Note parameter `name` with value v, counting the model when inc (a trial without an
 * error still names it, with inc 0). */
static int count_param(char ***names, struct ns_param_count **counts, int *n, const char *name,
                       double v, int inc)
{
    int k = 0;
    while (k < *n && strcmp((*names)[k], name))
        k++;
    if (k == *n) {
        struct ns_param_count *nc = realloc(*counts, (size_t)(*n + 1) * sizeof *nc);
        if (!nc)
            return ns_err("out of memory");
        *counts = nc;
        nc[*n] = (struct ns_param_count){0, INFINITY, -INFINITY};
        if (names_add(names, n, name))
            return -1;
    }
    if (inc) {
        struct ns_param_count *c = &(*counts)[k];
        c->n++;
        c->lo = fmin(c->lo, v);
        c->hi = fmax(c->hi, v);
    }
    return 0;
}

int ns_plot_sampled_params(struct ns_db *db, int64_t study, int error_best, int failed_chance,
                           char ***names, struct ns_param_count **counts, int *n)
{
    *names = NULL;
    *counts = NULL;
    *n = 0;
    struct ns_db_trial *t;
    int nt;
    unsigned states = NS_DB_STATE_BIT(NS_DB_COMPLETE) | NS_DB_STATE_BIT(NS_DB_FAILED);
    if (ns_db_trials_load(db, study, states, &t, &nt))
        return -1;
    int rc = 0;
    /* Typed columns first (schema order), then other_params keys as they come. */
    for (int pass = 0; pass < 2 && rc == 0; pass++)
        for (int i = 0; i < nt && rc == 0; i++) {
            double e = t[i].state == NS_DB_FAILED
                           ? (failed_chance ? ns_plot_chance_error(&t[i]) : NAN)
                           : (error_best ? t[i].best_test_error : t[i].test_error);
            int inc = isfinite(e);
            if (pass == 0) {
                for (int p = 0; p < NS_DB_N_PARAMS && rc == 0; p++)
                    if (isfinite(t[i].p[p]))
                        rc = count_param(names, counts, n, ns_db_param_names[p], t[i].p[p], inc);
                continue;
            }
            if (!t[i].other_params)
                continue;
            json_error_t je;
            json_t *j = json_loads(t[i].other_params, 0, &je), *v;
            const char *key;
            json_object_foreach(j, key, v)
            {
                if (json_is_number(v) &&
                    (rc = count_param(names, counts, n, key, json_number_value(v), inc)))
                    break;
            }
            json_decref(j);
        }
    ns_db_trials_free(t, nt);
    if (rc) {
        ns_plot_names_free(*names, *n);
        free(*counts);
        *names = NULL;
        *counts = NULL;
        *n = 0;
    }
    return rc;
}

/* OUT-PARAM.EXT for the stem OUT.EXT; characters of PARAM other than letters, digits, '_'
 * and '-' become '_' (an other_params key may hold anything). */
static char *effects_path(const char *out, const char *param)
{
    const char *dot = strrchr(out, '.');
    size_t stem = dot ? (size_t)(dot - out) : strlen(out);
    size_t len = stem + 1 + strlen(param) + strlen(dot ? dot : "") + 1;
    char *p = malloc(len);
    if (!p)
        return NULL;
    snprintf(p, len, "%.*s-%s%s", (int)stem, out, param, dot ? dot : "");
    for (char *c = p + stem + 1; *c && c < p + stem + 1 + strlen(param); c++)
        if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') && !(*c >= '0' && *c <= '9') &&
            *c != '_' && *c != '-')
            *c = '_';
    return p;
}

int ns_plot_effects(struct ns_db *db, const struct ns_plot_req *r, struct ns_sbuf *log,
                    struct ns_sbuf *written)
{
    struct ns_db_study_info *info;
    int ni, *sel, ns;
    if (ns_studies_select(db, r->studies, r->n_studies, &info, &ni, &sel, &ns))
        return -1;
    /* Each study's parameters with their model counts, and their union in first-seen order. */
    char ***own = calloc((size_t)ns, sizeof *own), **all = NULL;
    struct ns_param_count **cnt = calloc((size_t)ns, sizeof *cnt);
    int *n_own = calloc((size_t)ns, sizeof *n_own), n_all = 0;
    const char **names = calloc((size_t)ns, sizeof *names);
    int rc = own && cnt && n_own && names ? 0 : ns_err("out of memory");
    for (int i = 0; i < ns && rc == 0; i++) {
        rc = ns_plot_sampled_params(db, info[sel[i]].id, r->error_best, r->failed_chance, &own[i],
                                    &cnt[i], &n_own[i]);
        for (int k = 0; k < n_own[i] && rc == 0; k++)
            rc = names_add(&all, &n_all, own[i][k]);
    }
    if (rc == 0 && n_all == 0)
        rc = ns_err("%s: no sampled parameters in the finished trials of %s%s", ns_db_path(db),
                    ns == 1 ? "study " : "the studies", ns == 1 ? info[sel[0]].name : "");
    int drawn = 0;
    for (int p = 0; p < n_all && rc == 0; p++) {
        int k = 0;
        double lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < ns; i++)
            for (int q = 0; q < n_own[i]; q++)
                if (!strcmp(own[i][q], all[p])) {
                    if (cnt[i][q].n >= 4) {
                        names[k++] = info[sel[i]].name;
                        lo = fmin(lo, cnt[i][q].lo);
                        hi = fmax(hi, cnt[i][q].hi);
                    } else {
                        ns_sbuf_printf(log,
                                       "%s: study '%s' left out: %d models with it (the "
                                       "best-model range needs 4)\n",
                                       all[p], info[sel[i]].name, cnt[i][q].n);
                    }
                }
        if (k > 0 && lo == hi) {
            ns_sbuf_printf(log, "%s: skipped: %.6g in every model (nothing varies)\n", all[p], lo);
            continue;
        }
        if (k == 0)
            continue;
        char *out = effects_path(r->out, all[p]);
        if (!out) {
            rc = ns_err("out of memory");
            break;
        }
        struct ns_plot_req pr = *r;
        pr.kind = NS_PLOT_PARAM;
        pr.param = all[p];
        pr.out = out;
        pr.studies = names;
        pr.n_studies = k;
        pr.title = NULL;
        pr.error_label = NULL; /* ns_plot_make labels it from these k studies */
        char *glog = NULL;
        rc = ns_plot_make(&pr, &glog);
        if (rc == 0) {
            ns_sbuf_printf(written, "%s\n", out);
            drawn++;
        }
        if (glog)
            ns_sbuf_printf(log, "gnuplot (%s): %s\n", all[p], glog);
        free(glog);
        free(out);
    }
    if (rc == 0 && drawn == 0)
        rc = ns_err("%s: no sampled parameter has 4 models with an error in any study",
                    ns_db_path(db));
    for (int i = 0; i < ns; i++) {
        if (own)
            ns_plot_names_free(own[i], n_own[i]);
        if (cnt)
            free(cnt[i]);
    }
    free(own);
    free(cnt);
    free(n_own);
    ns_plot_names_free(all, n_all);
    free(names);
    ns_db_studies_free(info, ni);
    free(sel);
    return rc;
}

/* ------------------------------------------------------------------ entry ------------- */

int ns_plot_analysis_render(const struct ns_plot_files *f, struct ns_sbuf *log,
                            struct ns_sbuf *written)
{
    char *glog = NULL;
    int rc = ns_plot_gnuplot_run(f, &glog);
    if (glog)
        ns_sbuf_printf(log, "gnuplot said: %s\n", glog);
    free(glog);
    if (rc == 0)
        ns_sbuf_printf(written, "%s\n", f->img);
    return rc;
}

void ns_plot_analysis_out(struct ns_sbuf *lb, struct ns_sbuf *wb, int rc, char **log,
                          char **written)
{
    char *l = ns_sbuf_take(lb), *w = wb ? ns_sbuf_take(wb) : NULL;
    if (log)
        *log = l;
    else
        free(l);
    if (written && rc == 0)
        *written = w;
    else
        free(w);
}

int ns_plot_make_analysis(const struct ns_plot_req *r, const struct ns_plot_analysis_opts *o,
                          char **log, char **written)
{
    if (log)
        *log = NULL;
    if (written)
        *written = NULL;
    if (r->normalize && strcmp(r->normalize, "flops") && strcmp(r->normalize, "params") &&
        strcmp(r->normalize, "acts"))
        return ns_err("--normalize %s: use flops, params or acts", r->normalize);
    if (r->resamples < 1 || r->bins < 1)
        return ns_err("resamples and bins must be >= 1");
    struct ns_plot_files f; /* for effects: checks that the stem names an image type */
    if (ns_plot_files_init(&f, r->out))
        return -1;
    struct ns_db *db = ns_db_open(r->db, NS_DB_RO);
    if (!db) {
        ns_plot_files_free(&f);
        return -1;
    }
    /* scaling labels from the seeds it picks (by default the db's scaling studies) */
    struct ns_plot_req rl = o->kind == NS_PLOT_SCALING ? *r : ns_plot_req_labelled(db, r);
    r = &rl;
    struct ns_sbuf lb = {0}, wb = {0};
    int rc;
    switch (o->kind) {
    case NS_PLOT_RS:
        rc = make_rs(db, r, &f, o, &lb);
        break;
    case NS_PLOT_FIDELITY:
        rc = make_fidelity(db, r, &f, &lb);
        break;
    case NS_PLOT_BUDGET:
        rc = make_budget(db, r, &f);
        break;
    case NS_PLOT_TREND:
        rc = make_trend(db, r, &f, &lb);
        break;
    case NS_PLOT_EFFECTS:
        rc = ns_plot_effects(db, r, &lb, &wb);
        break;
    case NS_PLOT_SCALING: {
        struct ns_scaling_table t;
        rc = ns_scaling_table_from_db(db, r, &t, &lb);
        if (rc == 0)
            rc = ns_plot_fig_scaling(&f, &t, r->title);
        ns_scaling_table_free(&t);
        break;
    }
    default:
        rc = ns_err("unknown analysis plot %d", (int)o->kind);
    }
    ns_db_close(db);
    if (rc == 0 && o->kind != NS_PLOT_EFFECTS)
        rc = ns_plot_analysis_render(&f, &lb, &wb);
    ns_plot_files_free(&f);
    ns_plot_analysis_out(&lb, &wb, rc, log, written);
    return rc;
}
