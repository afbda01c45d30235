/* ns_plot_make: load a figure's data from a results db (read-only, through src/store),
 * compute its statistics and hand it to the figure writers (see plot.h). */
#include "plot/plot.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/analysis_internal.h"
#include "space/space.h"
#include "store/store.h"
#include "util/err.h"

#define DEFAULT_CLASSES 10

/* The studies a request names (all of the db's when it names none). */
struct studies {
    int n;
    int64_t *id;
    char **name;
};

static void studies_free(struct studies *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->name[i]);
    free(s->id);
    free(s->name);
    memset(s, 0, sizeof *s);
}

static int studies_resolve(struct ns_db *db, const struct ns_plot_req *r, int one,
                           struct studies *out)
{
    memset(out, 0, sizeof *out);
    if (one && r->n_studies > 1)
        return ns_err("this plot takes one study; %d given", r->n_studies);
    int n = r->n_studies;
    struct ns_db_study_info *all = NULL;
    if (n == 0 && !one) {
        if (ns_db_studies(db, &all, &n))
            return -1;
        if (n == 0)
            return ns_err("%s: no studies", ns_db_path(db));
    } else if (n == 0) {
        n = 1;
    }
    out->id = calloc((size_t)n, sizeof *out->id);
    out->name = calloc((size_t)n, sizeof *out->name);
    if (!out->id || !out->name) {
        ns_db_studies_free(all, all ? n : 0);
        studies_free(out);
        return ns_err("out of memory");
    }
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (all) {
            out->id[i] = all[i].id;
            out->name[i] = strdup(all[i].name);
        } else {
            const char *name = r->n_studies ? r->studies[i] : NULL;
            out->id[i] = ns_db_study_resolve(db, name);
            if (out->id[i] < 0) {
                rc = -1;
                break;
            }
            if (name) {
                out->name[i] = strdup(name);
            } else { /* the db's only study: fetch its name for titles */
                struct ns_db_study_info *info;
                int ni;
                if (ns_db_studies(db, &info, &ni)) {
                    rc = -1;
                    break;
                }
                for (int k = 0; k < ni; k++)
                    if (info[k].id == out->id[i])
                        out->name[i] = strdup(info[k].name);
                ns_db_studies_free(info, ni);
            }
        }
        out->n = i + 1;
        if (!out->name[i])
            rc = ns_err("out of memory");
    }
    if (all)
        ns_db_studies_free(all, n);
    if (rc)
        studies_free(out);
    return rc;
}

/* Chance error of a (failed) trial: 100*(1 - 1/classes), classes from its config. */
static double chance_error(const struct ns_db_trial *t)
{
    int classes = DEFAULT_CLASSES;
    json_error_t je;
    json_t *j = t->config_json ? json_loads(t->config_json, 0, &je) : NULL;
    json_t *c = j ? json_object_get(j, "classes") : NULL;
    if (c && json_is_integer(c) && json_integer_value(c) >= 2)
        classes = (int)json_integer_value(c);
    json_decref(j);
    return 100.0 * (1.0 - 1.0 / classes);
}

static int param_index(const char *name)
{
    for (int i = 0; i < NS_DB_N_PARAMS; i++)
        if (!strcmp(ns_db_param_names[i], name))
            return i;
    return -1;
}

static int is_value_column(const char *name)
{
    for (int i = 0; i < ns_db_n_value_columns; i++)
        if (!strcmp(ns_db_value_columns[i], name))
            return 1;
    return 0;
}

/* One study's models for edf and param: error, and x (a complexity or parameter; NAN where
 * the trial has none). */
struct models {
    size_t n, n_failed;
    double *err, *x;
};

static void models_free(struct models *m)
{
    free(m->err);
    free(m->x);
    memset(m, 0, sizeof *m);
}

/* x of trial t: a complexity, a typed parameter, or a key of other_params; values[] holds
 * the column when the name is a value column the struct does not carry. */
static double trial_x(const struct ns_db_trial *t, const char *xname, int pidx, double column)
{
    if (!xname)
        return NAN;
    if (!strcmp(xname, "flops"))
        return t->flops > 0 ? (double)t->flops : NAN;
    if (!strcmp(xname, "params"))
        return t->params > 0 ? (double)t->params : NAN;
    if (!strcmp(xname, "acts"))
        return t->acts > 0 ? (double)t->acts : NAN;
    if (pidx >= 0)
        return t->p[pidx];
    if (is_value_column(xname))
        return column;
    double v = NAN;
    if (t->other_params) {
        json_error_t je;
        json_t *j = json_loads(t->other_params, 0, &je);
        json_t *e = j ? json_object_get(j, xname) : NULL;
        if (e && json_is_number(e))
            v = json_number_value(e);
        json_decref(j);
    }
    return v;
}

/* Load the complete (and, with failed_chance, failed) trials of a study. Trials without an
 * error (or, when need_x, without an x) are left out. */
static int models_load(struct ns_db *db, const struct ns_plot_req *r, int64_t study,
                       const char *xname, int need_x, struct models *m)
{
    memset(m, 0, sizeof *m);
    unsigned states = NS_DB_STATE_BIT(NS_DB_COMPLETE) | NS_DB_STATE_BIT(NS_DB_FAILED);
    struct ns_db_trial *t = NULL;
    int nt = 0;
    if (ns_db_trials_load(db, study, states, &t, &nt))
        return -1;
    /* A value column the trial struct lacks (wall_s, train_seed, ...) comes aligned by
     * trial index from the store's column reader. */
    double *col = NULL;
    int pidx = xname ? param_index(xname) : -1;
    if (xname && pidx < 0 && is_value_column(xname) && nt > 0) {
        const char *cols[2] = {"trial", xname};
        int nr;
        if (ns_db_trial_values_n(db, study, states, cols, 2, &col, &nr)) {
            ns_db_trials_free(t, nt);
            return -1;
        }
        int ok = nr == nt;
        for (int i = 0; ok && i < nt; i++)
            ok = (int)col[2 * i] == t[i].idx;
        if (!ok) {
            free(col);
            ns_db_trials_free(t, nt);
            return ns_err("%s: trials changed while reading; try again", ns_db_path(db));
        }
    }
    m->err = malloc((size_t)(nt ? nt : 1) * sizeof *m->err);
    m->x = malloc((size_t)(nt ? nt : 1) * sizeof *m->x);
    if (!m->err || !m->x) {
        free(col);
        ns_db_trials_free(t, nt);
        models_free(m);
        return ns_err("out of memory");
    }
    for (int i = 0; i < nt; i++) {
        double e;
        if (t[i].state == NS_DB_FAILED) {
            m->n_failed++;
            if (!r->failed_chance)
                continue;
            e = chance_error(&t[i]);
        } else {
            e = r->error_best ? t[i].best_test_error : t[i].test_error;
        }
        double x = trial_x(&t[i], xname, pidx, col ? col[2 * i + 1] : NAN);
        if (!isfinite(e) || (need_x && !isfinite(x)))
            continue;
        m->err[m->n] = e;
        m->x[m->n] = x;
        m->n++;
    }
    free(col);
    ns_db_trials_free(t, nt);
    return 0;
}

/* ---------------------------------------------------------------------------- edf ---- */

static int make_edf(struct ns_db *db, const struct ns_plot_req *r, const struct ns_plot_files *f)
{
    struct studies st;
    if (studies_resolve(db, r, 0, &st))
        return -1;
    struct models *m = calloc((size_t)st.n, sizeof *m);
    struct ns_plot_edf_series *s = calloc((size_t)st.n, sizeof *s);
    double **w = calloc((size_t)st.n, sizeof *w);
    int rc = m && s && w ? 0 : ns_err("out of memory");
    double lo = -INFINITY, hi = INFINITY;
    for (int i = 0; i < st.n && rc == 0; i++) {
        rc = models_load(db, r, st.id[i], r->normalize, r->normalize != NULL, &m[i]);
        if (rc == 0 && m[i].n == 0)
            rc = ns_err("%s: study '%s': no complete trials with a %s%s%s", ns_db_path(db),
                        st.name[i], ns_error_name(r), r->normalize ? " and " : "",
                        r->normalize ? r->normalize : "");
        /* The default range: the intersection of the studies' ranges. */
        if (rc == 0 && r->normalize) {
            double smin = INFINITY, smax = -INFINITY;
            for (size_t k = 0; k < m[i].n; k++) {
                smin = fmin(smin, m[i].x[k]);
                smax = fmax(smax, m[i].x[k]);
            }
            lo = fmax(lo, smin);
            hi = fmin(hi, smax);
        }
        s[i] = (struct ns_plot_edf_series){st.name[i], m[i].n, m[i].err, NULL, m[i].n_failed};
    }
    struct ns_plot_edf_opts o = {r->title, ns_error_name(r), r->failed_chance, r->normalize, 0,
                                 0,        r->bins,       !r->linear_bins};
    if (rc == 0 && r->normalize) {
        if (r->have_range) {
            lo = r->lo;
            hi = r->hi;
        } else if (!(lo < hi)) {
            rc = ns_err("%s: the studies' %s ranges do not overlap; give --range LO,HI",
                        ns_db_path(db), r->normalize);
        }
        o.lo = lo;
        o.hi = hi;
        for (int i = 0; i < st.n && rc == 0; i++) {
            size_t kept;
            w[i] = malloc(m[i].n * sizeof *w[i]);
            if (!w[i]) {
                rc = ns_err("out of memory");
                break;
            }
            if (ns_plot_norm_weights(m[i].x, m[i].n, lo, hi, r->bins, !r->linear_bins, w[i], &kept))
                rc = ns_err_prefix("%s: study '%s': --normalize %s", ns_db_path(db), st.name[i],
                                   r->normalize);
            /* Only the kept models enter the curve: a zero-weight model would still stretch
             * the error axis. */
            size_t k = 0;
            for (size_t j = 0; rc == 0 && j < m[i].n; j++)
                if (w[i][j] > 0) {
                    m[i].err[k] = m[i].err[j];
                    w[i][k++] = w[i][j];
                }
            s[i].n = k;
            s[i].w = w[i];
        }
    }
    if (rc == 0)
        rc = ns_plot_fig_edf(f, s, st.n, &o);
    for (int i = 0; i < st.n; i++) {
        if (m)
            models_free(&m[i]);
        if (w)
            free(w[i]);
    }
    free(m);
    free(s);
    free(w);
    studies_free(&st);
    return rc;
}

/* -------------------------------------------------------------------------- param ---- */

static int make_param(struct ns_db *db, const struct ns_plot_req *r, const struct ns_plot_files *f)
{
    if (!r->param || !*r->param)
        return ns_err("param: which parameter? (--param NAME)");
    struct studies st;
    if (studies_resolve(db, r, 0, &st))
        return -1;
    struct models *m = calloc((size_t)st.n, sizeof *m);
    struct ns_plot_param_series *s = calloc((size_t)st.n, sizeof *s);
    int rc = m && s ? 0 : ns_err("out of memory");
    size_t total = 0;
    for (int i = 0; i < st.n && rc == 0; i++) {
        rc = models_load(db, r, st.id[i], r->param, 1, &m[i]);
        total += m[i].n;
    }
    if (rc == 0 && total == 0 && !is_value_column(r->param)) {
        /* Neither a column nor any trial's other parameter: most likely a typo. */
        char cols[1024] = "";
        for (int k = 0; k < ns_db_n_value_columns; k++) {
            size_t l = strlen(cols);
            snprintf(cols + l, sizeof cols - l, "%s%s", k ? ", " : "", ns_db_value_columns[k]);
        }
        rc = ns_err("%s: unknown parameter '%s'; columns: %s (or a sampled parameter of the "
                    "study's space)",
                    ns_db_path(db), r->param, cols);
    }
    for (int i = 0; i < st.n && rc == 0; i++) {
        if (m[i].n < 4) {
            rc = ns_err("%s: study '%s': %zu complete trials with a %s and a %s; the "
                        "best-model range needs at least 4",
                        ns_db_path(db), st.name[i], m[i].n, ns_error_name(r), r->param);
            break;
        }
        s[i] = (struct ns_plot_param_series){st.name[i], m[i].n, m[i].x, m[i].err, {0, 0, 0}};
        if (ns_plot_bootstrap_best(m[i].err, m[i].x, m[i].n, r->resamples, r->seed, &s[i].range))
            rc = ns_err_prefix("study '%s'", st.name[i]);
    }
    struct ns_plot_param_opts o = {r->title, r->param,         ns_error_name(r),
                                   r->logx,  r->failed_chance, r->resamples};
    if (rc == 0)
        rc = ns_plot_fig_param(f, s, st.n, &o);
    for (int i = 0; m && i < st.n; i++)
        models_free(&m[i]);
    free(m);
    free(s);
    studies_free(&st);
    return rc;
}

/* ------------------------------------------------------------------ curves, models ---- */

/* The trials a curves/models request names: r->trials as given, or the r->top complete
 * trials with the lowest error (ties: lower index). *idx malloc'd. */
static int pick_trials(struct ns_db *db, const struct ns_plot_req *r, int64_t study,
                       const char *sname, int **idx, int *n)
{
    *idx = NULL;
    *n = 0;
    if (r->n_trials > 0) {
        *idx = malloc((size_t)r->n_trials * sizeof **idx);
        if (!*idx)
            return ns_err("out of memory");
        memcpy(*idx, r->trials, (size_t)r->n_trials * sizeof **idx);
        *n = r->n_trials;
        return 0;
    }
    struct ns_db_trial *t;
    int nt;
    if (ns_db_trials_load(db, study, NS_DB_STATE_BIT(NS_DB_COMPLETE), &t, &nt))
        return -1;
    int k = 0;
    int *best = malloc((size_t)(r->top > 0 ? r->top : 1) * sizeof *best);
    double *be = malloc((size_t)(r->top > 0 ? r->top : 1) * sizeof *be);
    if (!best || !be) {
        free(best);
        free(be);
        ns_db_trials_free(t, nt);
        return ns_err("out of memory");
    }
    /* Insertion into a short sorted list: K is a handful. Trials come in index order, so a
     * strict comparison keeps the lower index first among equal errors. */
    for (int i = 0; i < nt; i++) {
        double e = r->error_best ? t[i].best_test_error : t[i].test_error;
        if (!isfinite(e))
            continue;
        int pos = k;
        while (pos > 0 && e < be[pos - 1])
            pos--;
        if (pos >= r->top)
            continue;
        int last = k < r->top ? k : r->top - 1;
        memmove(best + pos + 1, best + pos, (size_t)(last - pos) * sizeof *best);
        memmove(be + pos + 1, be + pos, (size_t)(last - pos) * sizeof *be);
        best[pos] = t[i].idx;
        be[pos] = e;
        if (k < r->top)
            k++;
    }
    free(be);
    ns_db_trials_free(t, nt);
    if (k == 0) {
        free(best);
        return ns_err("%s: study '%s': no complete trials with a %s", ns_db_path(db), sname,
                      ns_error_name(r));
    }
    *idx = best;
    *n = k;
    return 0;
}

static int load_trial(struct ns_db *db, int64_t study, const char *sname, int idx,
                      struct ns_db_trial *t)
{
    if (ns_db_trial_load(db, study, idx, t))
        return ns_err_prefix("study '%s': trial %d", sname, idx);
    return 0;
}

static int make_curves(struct ns_db *db, const struct ns_plot_req *r, const struct ns_plot_files *f)
{
    struct studies st;
    if (studies_resolve(db, r, 1, &st))
        return -1;
    int *idx = NULL, n = 0;
    int rc = pick_trials(db, r, st.id[0], st.name[0], &idx, &n);
    struct ns_plot_curve *c = rc ? NULL : calloc((size_t)n, sizeof *c);
    char(*labels)[64] = rc ? NULL : calloc((size_t)n, sizeof *labels);
    if (rc == 0 && (!c || !labels))
        rc = ns_err("out of memory");
    for (int i = 0; i < n && rc == 0; i++) {
        struct ns_db_trial t;
        if (load_trial(db, st.id[0], st.name[0], idx[i], &t)) {
            rc = -1;
            break;
        }
        ns_db_trial_clear(&t);
        struct ns_db_epoch *ep;
        int ne;
        if (ns_db_epochs_load(db, st.id[0], idx[i], &ep, &ne)) {
            rc = ns_err_prefix("study '%s': trial %d", st.name[0], idx[i]);
            break;
        }
        if (ne == 0) {
            free(ep);
            rc = ns_err("%s: study '%s': trial %d has no per-epoch metrics", ns_db_path(db),
                        st.name[0], idx[i]);
            break;
        }
        /* Index by the stored (0-based) epoch, so an epoch that was not recorded is a gap
         * rather than a shift of the rest of the curve. */
        int len = ep[ne - 1].epoch + 1;
        if (ep[0].epoch < 0 || len > 1000000) {
            free(ep);
            rc = ns_err("%s: study '%s': trial %d: epoch numbers out of range", ns_db_path(db),
                        st.name[0], idx[i]);
            break;
        }
        double *buf = malloc(2 * (size_t)len * sizeof *buf);
        if (!buf) {
            free(ep);
            rc = ns_err("out of memory");
            break;
        }
        for (int j = 0; j < 2 * len; j++)
            buf[j] = NAN;
        for (int j = 0; j < ne; j++) {
            buf[ep[j].epoch] = ep[j].train_error;
            buf[len + ep[j].epoch] = ep[j].test_error;
        }
        free(ep);
        snprintf(labels[i], sizeof labels[i], "trial %d", idx[i]);
        c[i] = (struct ns_plot_curve){labels[i], len, buf, buf + len};
    }
    char title[256];
    snprintf(title, sizeof title, "Training curves: study %s", st.name[0]);
    if (rc == 0)
        rc = ns_plot_fig_curves(f, c, n, r->title ? r->title : title,
                                strstr(ns_error_name(r), "validation") != NULL);
    for (int i = 0; c && i < n; i++)
        free((void *)c[i].train_err);
    free(c);
    free(labels);
    free(idx);
    studies_free(&st);
    return rc;
}

static int make_models(struct ns_db *db, const struct ns_plot_req *r, const struct ns_plot_files *f)
{
    struct studies st;
    if (studies_resolve(db, r, 1, &st))
        return -1;
    int *idx = NULL, n = 0;
    int rc = pick_trials(db, r, st.id[0], st.name[0], &idx, &n);
    struct ns_plot_model *m = rc ? NULL : calloc((size_t)n, sizeof *m);
    char(*labels)[160] = rc ? NULL : calloc((size_t)n, sizeof *labels);
    if (rc == 0 && (!m || !labels))
        rc = ns_err("out of memory");
    int iw0 = param_index("w0"), iwa = param_index("wa"), iwm = param_index("wm"),
        idp = param_index("depth");
    for (int i = 0; i < n && rc == 0; i++) {
        struct ns_db_trial t;
        if (load_trial(db, st.id[0], st.name[0], idx[i], &t)) {
            rc = -1;
            break;
        }
        struct ns_config cfg;
        if (!t.config_json || ns_config_from_json(t.config_json, &cfg)) {
            rc = t.config_json ? ns_err_prefix("%s: study '%s': trial %d: config", ns_db_path(db),
                                               st.name[0], idx[i])
                               : ns_err("%s: study '%s': trial %d has no config", ns_db_path(db),
                                        st.name[0], idx[i]);
            ns_db_trial_clear(&t);
            break;
        }
        int nb = 0;
        for (int k = 0; k < cfg.n_stages; k++)
            nb += cfg.stages[k].d;
        int *wd = malloc((size_t)(nb ? nb : 1) * sizeof *wd);
        if (!wd) {
            ns_db_trial_clear(&t);
            rc = ns_err("out of memory");
            break;
        }
        for (int k = 0, j = 0; k < cfg.n_stages; k++)
            for (int b = 0; b < cfg.stages[k].d; b++)
                wd[j++] = cfg.stages[k].w;
        double w0 = iw0 >= 0 ? t.p[iw0] : NAN, wa = iwa >= 0 ? t.p[iwa] : NAN;
        double wm = iwm >= 0 ? t.p[iwm] : NAN;
        double e = r->error_best ? t.best_test_error : t.test_error;
        int len = snprintf(labels[i], sizeof labels[i], "trial %d", idx[i]);
        if (isfinite(w0) && isfinite(wa))
            len +=
                snprintf(labels[i] + len, sizeof labels[i] - (size_t)len,
                         ": d=%.0f w0=%.4g wa=%.4g wm=%.3g", idp >= 0 ? t.p[idp] : nb, w0, wa, wm);
        if (isfinite(e))
            snprintf(labels[i] + len, sizeof labels[i] - (size_t)len, "  (%.2f%%)", e);
        m[i] = (struct ns_plot_model){labels[i], nb, wd, w0, wa};
        ns_db_trial_clear(&t);
    }
    char title[256];
    snprintf(title, sizeof title, "Per-block widths: study %s", st.name[0]);
    if (rc == 0)
        rc = ns_plot_fig_models(f, m, n, r->title ? r->title : title);
    for (int i = 0; m && i < n; i++)
        free((void *)m[i].widths);
    free(m);
    free(labels);
    free(idx);
    studies_free(&st);
    return rc;
}

/* ------------------------------------------------------------------------------------ */

int ns_plot_make(const struct ns_plot_req *r, char **log)
{
    if (log)
        *log = NULL;
    struct ns_plot_files f;
    if (ns_plot_files_init(&f, r->out))
        return -1;
    if (r->kind == NS_PLOT_EDF && r->normalize && strcmp(r->normalize, "flops") &&
        strcmp(r->normalize, "params") && strcmp(r->normalize, "acts")) {
        ns_plot_files_free(&f);
        return ns_err("--normalize %s: use flops, params or acts", r->normalize);
    }
    struct ns_db *db = ns_db_open(r->db, NS_DB_RO);
    if (!db) {
        ns_plot_files_free(&f);
        return -1;
    }
    struct ns_plot_req rl = ns_plot_req_labelled(db, r);
    r = &rl;
    int rc;
    switch (r->kind) {
    case NS_PLOT_EDF:
        rc = make_edf(db, r, &f);
        break;
    case NS_PLOT_PARAM:
        rc = make_param(db, r, &f);
        break;
    case NS_PLOT_CURVES:
        rc = make_curves(db, r, &f);
        break;
    case NS_PLOT_MODELS:
        rc = make_models(db, r, &f);
        break;
    default:
        rc = ns_err("unknown plot kind %d", (int)r->kind);
    }
    ns_db_close(db);
    if (rc == 0)
        rc = ns_plot_gnuplot_run(&f, log);
    ns_plot_files_free(&f);
    return rc;
}

/* For the analyses (analysis.h): the error a failed trial counts at under --failed chance. */
double ns_plot_chance_error(const struct ns_db_trial *t)
{
    return chance_error(t);
}
