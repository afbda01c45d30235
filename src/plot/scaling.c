/* plot scaling (analysis.h): a scaling study trained from several seeds, one study per seed
 * (a "kind": "scaling" space draws the same models from any seed, so trial i is the same
 * architecture in each), read from a results db into a table, and its figure.
 *
 * Reading: each seed's trials are read once, for its models (ns_study_data_from_trials) and
 * each trial's sampled dim and target together. The seeds are paired trial by trial as
 * compare --paired pairs twins; the seeds of two scaling spaces (two base networks) are two
 * scaling studies, never one table. The report asks only whether a study is a scaling study
 * and which base it has (ns_study_is_scaling), which costs one row. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/analysis.h"
#include "plot/analysis_internal.h"
#include "plot/fig_internal.h"
#include "space/space.h"
#include "store/store.h"
#include "util/err.h"

/* ------------------------------------------------------------------ a trial's scaling -- */

/* The dim and target a trial sampled, from its other_params JSON (NAN where it has none: the
 * store keeps every parameter without a typed column there, a non-finite value as null). */
static void params_scaling(const char *other_params, double *dim, double *target)
{
    *dim = *target = NAN;
    if (!other_params)
        return;
    json_error_t je;
    json_t *j = json_loads(other_params, 0, &je);
    const json_t *d = json_object_get(j, "dim"), *g = json_object_get(j, "target");
    if (json_is_number(d))
        *dim = json_number_value(d);
    if (json_is_number(g))
        *target = json_number_value(g);
    json_decref(j);
}

static double value_num(const struct ns_db_value *v)
{
    return v->type == NS_DB_INT ? (double)v->i : v->type == NS_DB_REAL ? v->d : NAN;
}

/* ns_db_trials_query's rows (flops, params, other_params): stop (1) at the first with a dim,
 * its architecture into ctx (a struct ns_scaling_base, may be NULL). */
static int first_with_dim(void *ctx, int ncols, const char *const *names,
                          const struct ns_db_value *v)
{
    (void)names;
    if (!v || ncols != 3 || v[2].type != NS_DB_TEXT)
        return 0;
    double dim, target;
    params_scaling(v[2].s, &dim, &target);
    if (!isfinite(dim))
        return 0;
    if (ctx)
        *(struct ns_scaling_base *)ctx =
            (struct ns_scaling_base){value_num(&v[0]), value_num(&v[1])};
    return 1;
}

int ns_study_is_scaling(struct ns_db *db, int64_t id, struct ns_scaling_base *base)
{
    /* The LIKE lets SQLite skip the trials that cannot have a dim without handing them over;
     * the callback reads the JSON of the others. */
    struct ns_db_trials_query q = {.study = id,
                                   .state = -1,
                                   .trial = -1,
                                   .where = "other_params LIKE '%\"dim\"%'",
                                   .columns = "flops, params, other_params",
                                   .limit = -1};
    return ns_db_trials_query(db, &q, first_with_dim, base);
}

int ns_scaling_groups(const struct ns_scaling_base *base, int n, int *group)
{
    int groups = 0;
    for (int i = 0; i < n; i++) {
        group[i] = -1;
        for (int k = 0; k < i && group[i] < 0; k++)
            if (base[k].flops == base[i].flops && base[k].params == base[i].params)
                group[i] = group[k];
        if (group[i] < 0)
            group[i] = groups++;
    }
    return groups;
}

/* ------------------------------------------------------------------ the seeds ---------- */

/* What one seed holds beside its models (struct ns_study_data, the same positions). */
struct seed_sc {
    double *dim, *target;        /* per model: the trial's sampled dim and target (NAN: none) */
    int scaling;                 /* trials (any state) with a dim: 0, not a scaling study */
    struct ns_scaling_base base; /* of its first trial with a dim (NAN without one) */
    const char *space;           /* the study's space as stored (may be NULL; not owned) */
};

static void seed_sc_free(struct seed_sc *x)
{
    free(x->dim);
    free(x->target);
    memset(x, 0, sizeof *x);
}

static void seeds_free(struct ns_study_data *s, struct seed_sc *x, int n)
{
    for (int i = 0; i < n; i++) {
        if (s)
            ns_study_data_free(&s[i]);
        if (x)
            seed_sc_free(&x[i]);
    }
    free(s);
    free(x);
}

/* Study `in`'s models into s (as ns_study_data_load) and their dim and target into x, from one
 * read of its trials. */
static int seed_load(struct ns_db *db, const struct ns_db_study_info *in,
                     const struct ns_plot_req *r, struct ns_study_data *s, struct seed_sc *x)
{
    memset(s, 0, sizeof *s);
    memset(x, 0, sizeof *x);
    x->base = (struct ns_scaling_base){NAN, NAN};
    x->space = in->space;
    struct ns_db_trial *t;
    int nt;
    if (ns_db_trials_load(db, in->id, 0, &t, &nt))
        return -1;
    int rc = ns_study_data_from_trials(t, nt, in->id, in->name, r->error_best, r->failed_chance, s);
    if (rc == 0) {
        x->dim = malloc((s->n ? s->n : 1) * sizeof *x->dim);
        x->target = malloc((s->n ? s->n : 1) * sizeof *x->target);
        if (!x->dim || !x->target)
            rc = ns_err("out of memory");
    }
    /* s's models are a subset of the trials, both by index: walk them together. */
    size_t k = 0;
    for (int j = 0; j < nt && rc == 0; j++) {
        double dim, target;
        params_scaling(t[j].other_params, &dim, &target);
        if (isfinite(dim) && x->scaling == 0)
            x->base = (struct ns_scaling_base){(double)t[j].flops, (double)t[j].params};
        x->scaling += isfinite(dim) != 0;
        if (k < s->n && s->idx[k] == t[j].idx) {
            x->dim[k] = dim;
            x->target[k] = target;
            k++;
        }
    }
    ns_db_trials_free(t, nt);
    if (rc) {
        ns_study_data_free(s);
        seed_sc_free(x);
    }
    return rc;
}

/* The studies of group g (of n, group[i] each) as "a, b (space S; base 5M flops, 90k
 * params)". */
static void group_text(struct ns_sbuf *b, const struct ns_study_data *s, const struct seed_sc *x,
                       const int *group, int n, int g)
{
    int first = -1;
    for (int i = 0; i < n; i++)
        if (group[i] == g) {
            ns_sbuf_printf(b, "%s%s", first < 0 ? "" : ", ", s[i].name);
            if (first < 0)
                first = i;
        }
    char fl[32], pr[32];
    ns_sbuf_printf(b, " (");
    if (x[first].space)
        ns_sbuf_printf(b, "space %s; ", x[first].space);
    ns_sbuf_printf(b, "base %s flops, %s params)",
                   ns_fig_fmt_num(fl, sizeof fl, x[first].base.flops),
                   ns_fig_fmt_num(pr, sizeof pr, x[first].base.params));
}

/* The seeds of one scaling study: the studies r names, every one a scaling study, or the db's
 * studies that are; s[i] their models with x[i] beside, *n of them. Studies without models
 * are left out with a note (an error when none is left); the others must share one base,
 * else the error lists each scaling study's seeds. */
static int seeds_load(struct ns_db *db, const struct ns_plot_req *r, struct ns_study_data **s_out,
                      struct seed_sc **x_out, int *n_out, struct ns_sbuf *log)
{
    *s_out = NULL;
    *x_out = NULL;
    *n_out = 0;
    if (ns_studies_distinct("scaling", r->studies, r->n_studies))
        return -1;
    struct ns_db_study_info *info;
    int ni, *sel, ns;
    if (ns_studies_select(db, r->studies, r->n_studies, &info, &ni, &sel, &ns))
        return -1;
    struct ns_study_data *s = calloc((size_t)ns, sizeof *s);
    struct seed_sc *x = calloc((size_t)ns, sizeof *x);
    int *group = calloc((size_t)ns, sizeof *group);
    struct ns_scaling_base *base = calloc((size_t)ns, sizeof *base);
    int rc = s && x && group && base ? 0 : ns_err("out of memory"), n = 0;
    for (int i = 0; i < ns && rc == 0; i++) {
        const struct ns_db_study_info *in = &info[sel[i]];
        if (!r->n_studies) {
            /* not named: read only the scaling studies (the others cost no row here) */
            int sc = ns_study_is_scaling(db, in->id, NULL);
            if (sc < 0)
                rc = -1;
            if (sc <= 0)
                continue;
        }
        if ((rc = seed_load(db, in, r, &s[n], &x[n])))
            break;
        /* A study without trials may be a scaling study not yet started: named, it is left
         * out below as any study without models; not named, it is not picked. */
        if (x[n].scaling > 0 || (r->n_studies && s[n].n_trials == 0)) {
            n++;
            continue;
        }
        if (r->n_studies)
            rc = ns_err("%s: study '%s' is not a scaling study: none of its %zu trials samples "
                        "a dim (the parameter of a \"kind\": \"scaling\" space)",
                        ns_db_path(db), in->name, s[n].n_trials);
        ns_study_data_free(&s[n]);
        seed_sc_free(&x[n]);
    }
    if (rc == 0 && n == 0) {
        struct ns_sbuf names = {0};
        for (int i = 0; i < ni; i++)
            ns_sbuf_printf(&names, "%s%s", i ? ", " : "", info[i].name);
        char *list = ns_sbuf_take(&names);
        rc = ns_err("%s: no scaling study (none whose trials sample a dim, the parameter of a "
                    "\"kind\": \"scaling\" space); studies: %s",
                    ns_db_path(db), list ? list : "");
        free(list);
    }
    if (rc == 0)
        rc = ns_studies_note_empty(db, r, s, n, log);
    if (rc == 0) {
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (s[i].n == 0) {
                ns_study_data_free(&s[i]);
                seed_sc_free(&x[i]);
                continue;
            }
            s[k] = s[i];
            x[k] = x[i];
            base[k++] = x[i].base;
        }
        n = k;
    }
    int groups = rc == 0 ? ns_scaling_groups(base, n, group) : 0;
    if (groups > 1) {
        struct ns_sbuf b = {0};
        for (int g = 0; g < groups; g++) {
            ns_sbuf_printf(&b, "%s", g ? "; " : "");
            group_text(&b, s, x, group, n, g);
        }
        char *list = ns_sbuf_take(&b);
        rc = ns_err("%s: %s the seeds of %d scaling studies (their base networks differ): %s; "
                    "name one's seeds with --study",
                    ns_db_path(db),
                    r->n_studies ? "the studies named are" : "the db's scaling studies are", groups,
                    list ? list : "");
        free(list);
    }
    /* x[i].space points into info: kept only while it lives */
    for (int i = 0; i < n; i++)
        x[i].space = NULL;
    ns_db_studies_free(info, ni);
    free(sel);
    free(group);
    free(base);
    if (rc) {
        seeds_free(s, x, n);
        return -1;
    }
    *s_out = s;
    *x_out = x;
    *n_out = n;
    return 0;
}

/* What each seed leaves out: trials not finished yet, failed ones (unless counted). */
static void note_left_out(const struct ns_plot_req *r, const struct ns_study_data *s, int n,
                          struct ns_sbuf *log)
{
    for (int i = 0; i < n; i++) {
        size_t left = s[i].n_trials - s[i].n;
        size_t failed = r->failed_chance ? 0 : s[i].n_failed;
        size_t other = left - s[i].n_pending - failed;
        if (!left)
            continue;
        ns_sbuf_printf(log, "study '%s': %zu of its %zu trials left out (", s[i].name, left,
                       s[i].n_trials);
        if (s[i].n_pending)
            ns_sbuf_printf(log, "%zu not finished: waiting, running or stale", s[i].n_pending);
        if (failed)
            ns_sbuf_printf(log, "%s%zu failed", s[i].n_pending ? "; " : "", failed);
        if (other)
            ns_sbuf_printf(log, "%s%zu complete without a %s", left > other ? "; " : "", other,
                           ns_error_name(r));
        ns_sbuf_printf(log, ")\n");
    }
}

/* ------------------------------------------------------------------ the table ---------- */

void ns_scaling_table_free(struct ns_scaling_table *t)
{
    ns_plot_names_free(t->studies, t->n_studies);
    free(t->m);
    free(t->err);
    memset(t, 0, sizeof *t);
}

static int cmp_scaling_model(const void *pa, const void *pb)
{
    const struct ns_scaling_model *a = pa, *b = pb;
    if (a->dim != b->dim)
        return a->dim - b->dim;
    if (a->target != b->target)
        return a->target < b->target ? -1 : 1;
    return a->trial - b->trial;
}

/* Is trial `trial` of study `name` a point of the table (flops recorded, dim one of
 * ns_scale_dim, target a positive flops multiple)? 0, or -1 with ns_err saying which. */
static int check_model(struct ns_db *db, const char *name, int trial, double flops, double dim,
                       double target)
{
    if (!(flops > 0))
        return ns_err("%s: study '%s', trial %d: no flops recorded", ns_db_path(db), name, trial);
    if (dim >= 0 && dim < NS_SCALE_DIMS && dim == floor(dim) && isfinite(target) && target > 0)
        return 0;
    char dims[160];
    size_t len = 0;
    for (int d = 0; d < NS_SCALE_DIMS && len < sizeof dims; d++)
        len += (size_t)snprintf(dims + len, sizeof dims - len, "%s%d %s",
                                d == 0                   ? ""
                                : d == NS_SCALE_DIMS - 1 ? " or "
                                                         : ", ",
                                d, ns_scale_dim_names[d]);
    return ns_err("%s: study '%s', trial %d: dim %g, target %g: not a scaling (dim %s; target "
                  "> 0, the flops multiple)",
                  ns_db_path(db), name, trial, dim, target, dims);
}

/* The table of the seeds s[0..n) (x[i] beside s[i]): a row per trial index that has an error
 * in some seed, with the architecture, dim and target of the first seed that has it; every
 * seed paired with those rows as twins, so another architecture at an index is an error. */
static int scaling_table(struct ns_db *db, const struct ns_study_data *s, const struct seed_sc *x,
                         int n, const char *error_name, struct ns_scaling_table *t)
{
    memset(t, 0, sizeof *t);
    size_t cap = 1;
    for (int i = 0; i < n; i++)
        cap += s[i].n;
    /* u: the rows as a study of their own, to pair each seed with; src[k]: row k's seed */
    struct ns_study_data u = {0};
    u.name = strdup(s[0].name);
    u.err = calloc(cap, sizeof *u.err);
    u.flops = malloc(cap * sizeof *u.flops);
    u.params = malloc(cap * sizeof *u.params);
    u.idx = malloc(cap * sizeof *u.idx);
    int *src = malloc(cap * sizeof *src);
    size_t *pos = calloc((size_t)n, sizeof *pos);
    double *pa = malloc(cap * sizeof *pa), *pb = malloc(cap * sizeof *pb);
    struct ns_twin *tw = malloc(cap * sizeof *tw);
    t->n_studies = n;
    t->error_name = error_name;
    t->studies = calloc((size_t)n, sizeof *t->studies);
    t->m = calloc(cap, sizeof *t->m);
    int rc = u.name && u.err && u.flops && u.params && u.idx && src && pos && pa && pb && tw &&
                     t->studies && t->m
                 ? 0
                 : ns_err("out of memory");
    for (int i = 0; i < n && rc == 0; i++)
        if (!(t->studies[i] = strdup(s[i].name)))
            rc = ns_err("out of memory");
    /* Merge the seeds' models by trial index. */
    while (rc == 0) {
        int first = -1; /* the seed with the lowest next index, the earliest on ties */
        for (int i = 0; i < n; i++)
            if (pos[i] < s[i].n && (first < 0 || s[i].idx[pos[i]] < s[first].idx[pos[first]]))
                first = i;
        if (first < 0)
            break;
        size_t j = pos[first], k = u.n;
        int trial = s[first].idx[j];
        double dim = x[first].dim[j], target = x[first].target[j];
        if ((rc = check_model(db, s[first].name, trial, s[first].flops[j], dim, target)))
            break;
        u.idx[k] = trial;
        u.flops[k] = s[first].flops[j];
        u.params[k] = s[first].params[j];
        src[k] = first;
        t->m[k] = (struct ns_scaling_model){trial, (int)dim, target,   u.flops[k], u.params[k],
                                            0,     0,        INFINITY, -INFINITY,  NULL};
        u.n++;
        for (int i = 0; i < n; i++)
            if (pos[i] < s[i].n && s[i].idx[pos[i]] == trial)
                pos[i]++;
    }
    t->n = (int)u.n;
    if (rc == 0 && !(t->err = malloc((u.n ? u.n : 1) * (size_t)n * sizeof *t->err)))
        rc = ns_err("out of memory");
    for (size_t k = 0; rc == 0 && k < u.n * (size_t)n; k++)
        t->err[k] = NAN;
    /* Each seed's errors into its column, through its twins with the rows. */
    for (int i = 0; i < n && rc == 0; i++) {
        size_t nt = 0, unmatched = 0;
        struct ns_twin bad;
        int trc = ns_study_twins(ns_db_path(db), &u, &s[i], pa, pb, tw, &bad, &nt, &unmatched);
        if (unmatched) {
            char fa[32], fb[32], qa[32], qb[32];
            int trial = s[i].idx[bad.b];
            rc = ns_err("%s: study '%s', trial %d: not the architecture of trial %d of study '%s' "
                        "(flops %s and %s, params %s and %s): the seeds of a scaling study "
                        "sample one space, so trial i is the same model in each",
                        ns_db_path(db), s[i].name, trial, trial, s[src[bad.a]].name,
                        ns_fig_fmt_num(fa, sizeof fa, s[i].flops[bad.b]),
                        ns_fig_fmt_num(fb, sizeof fb, u.flops[bad.a]),
                        ns_fig_fmt_num(qa, sizeof qa, s[i].params[bad.b]),
                        ns_fig_fmt_num(qb, sizeof qb, u.params[bad.a]));
            break;
        }
        if (trc) {
            rc = -1;
            break;
        }
        for (size_t k = 0; k < nt; k++)
            t->err[tw[k].a * (size_t)n + (size_t)i] = pb[k];
    }
    for (size_t k = 0; k < u.n && rc == 0; k++) {
        struct ns_scaling_model *m = &t->m[k];
        m->err = t->err + k * (size_t)n;
        for (int i = 0; i < n; i++)
            if (isfinite(m->err[i])) {
                m->n++;
                m->mean += m->err[i];
                m->min = fmin(m->min, m->err[i]);
                m->max = fmax(m->max, m->err[i]);
            }
        m->mean /= m->n; /* every row has a seed: its own */
    }
    if (rc == 0)
        qsort(t->m, u.n, sizeof *t->m, cmp_scaling_model);
    free(src);
    free(pos);
    free(pa);
    free(pb);
    free(tw);
    ns_study_data_free(&u);
    if (rc)
        ns_scaling_table_free(t);
    return rc;
}

int ns_scaling_table_from_db(struct ns_db *db, const struct ns_plot_req *r,
                             struct ns_scaling_table *t, struct ns_sbuf *log)
{
    memset(t, 0, sizeof *t);
    struct ns_study_data *s;
    struct seed_sc *x;
    int n;
    if (seeds_load(db, r, &s, &x, &n, log))
        return -1;
    /* labelled from the seeds chosen (by default the db's scaling studies, not all of it) */
    struct ns_plot_req rl = *r;
    const char **names = rl.error_label ? NULL : malloc((size_t)(n ? n : 1) * sizeof *names);
    if (names) {
        for (int i = 0; i < n; i++)
            names[i] = s[i].name;
        rl.error_label = ns_plot_error_label(db, names, n, r->error_best);
        free(names);
    }
    r = &rl;
    note_left_out(r, s, n, log);
    int rc = scaling_table(db, s, x, n, ns_error_name(r), t);
    seeds_free(s, x, n);
    return rc;
}

int ns_scaling_table_load(const struct ns_plot_req *r, struct ns_scaling_table *t, char **log)
{
    memset(t, 0, sizeof *t);
    if (log)
        *log = NULL;
    struct ns_db *db = ns_db_open(r->db, NS_DB_RO);
    if (!db)
        return -1;
    struct ns_sbuf lb = {0};
    int rc = ns_scaling_table_from_db(db, r, t, &lb);
    ns_db_close(db);
    ns_plot_analysis_out(&lb, NULL, rc, log, NULL);
    return rc;
}

/* ------------------------------------------------------------------ the figure --------- */

/* A row of model m's columns, or of its seed i's error (i >= 0). */
static void scaling_row(FILE *dat, const struct ns_scaling_model *m, int i)
{
    fprintf(dat, "%s ", ns_scale_dim_names[m->dim]);
    ns_fig_num(dat, m->target);
    fputc(' ', dat);
    ns_fig_num(dat, m->flops);
    fputc(' ', dat);
    if (i >= 0) {
        ns_fig_num(dat, m->err[i]);
        fprintf(dat, " %d %d\n", i + 1, m->trial);
        return;
    }
    ns_fig_num(dat, m->params);
    fprintf(dat, " %d ", m->n);
    ns_fig_num(dat, m->mean);
    fputc(' ', dat);
    ns_fig_num(dat, m->min);
    fputc(' ', dat);
    ns_fig_num(dat, m->max);
    fprintf(dat, " %d\n", m->trial);
}

/* "seed 1 = a, 2 = b, ..." into buf (n bytes), ending in "..." when the names do not fit. */
static void seed_legend(char *buf, size_t n, const struct ns_scaling_table *t)
{
    size_t len = (size_t)snprintf(buf, n, "seed");
    for (int i = 0; i < t->n_studies; i++) {
        int w = snprintf(buf + len, n - len, "%s %d = %s", i ? "," : "", i + 1, t->studies[i]);
        if (w < 0 || (size_t)w >= n - len) {
            memcpy(buf + n - 4, "...", 4);
            return;
        }
        len += (size_t)w;
    }
}

int ns_plot_fig_scaling(const struct ns_plot_files *f, const struct ns_scaling_table *t,
                        const char *title)
{
    if (t->n < 1 || t->n_studies < 1)
        return ns_err("scaling: no models to plot");
    const char *error_name = t->error_name ? t->error_name : "test error";
    int has[NS_SCALE_DIMS] = {0}, lines = 0;
    double lo = INFINITY, hi = -INFINITY, base = NAN;
    for (int k = 0; k < t->n; k++) {
        const struct ns_scaling_model *m = &t->m[k];
        if (m->dim < 0 || m->dim >= NS_SCALE_DIMS)
            return ns_err("scaling: trial %d: dim %d is not a scaling dimension", m->trial, m->dim);
        if (!(m->flops > 0) || m->n < 1 || !isfinite(m->mean) || !isfinite(m->min) ||
            !isfinite(m->max))
            return ns_err("scaling: trial %d: flops %g, error %g over %d seeds: not a point",
                          m->trial, m->flops, m->mean, m->n);
        has[m->dim] = 1;
        lo = fmin(lo, m->flops);
        hi = fmax(hi, m->flops);
        if (m->dim == 0 && isnan(base))
            base = m->flops;
    }
    for (int d = 1; d < NS_SCALE_DIMS; d++)
        lines += has[d];
    /* The targets, ascending, for the x tics (at the base's flops times each). */
    double *targets = malloc((size_t)t->n * sizeof *targets);
    if (!targets)
        return ns_err("scaling: out of memory");
    int n_targets = 0;
    for (int k = 0; k < t->n; k++) {
        int j = n_targets;
        while (j > 0 && targets[j - 1] > t->m[k].target)
            j--;
        if (j > 0 && targets[j - 1] == t->m[k].target)
            continue;
        memmove(targets + j + 1, targets + j, (size_t)(n_targets - j) * sizeof *targets);
        targets[j] = t->m[k].target;
        n_targets++;
    }
    struct ns_fig *g = ns_fig_open(f);
    if (!g) {
        free(targets);
        return -1;
    }
    FILE *gp = ns_fig_script(g), *dat = ns_fig_data(g);
    char tbuf[256], ylabel[160], a[32];
    snprintf(tbuf, sizeof tbuf, "Scaling: %s against flops, the mean of %d seed%s", error_name,
             t->n_studies, t->n_studies == 1 ? "" : "s");
    snprintf(ylabel, sizeof ylabel, "%s (%%)", error_name);
    ns_fig_prelude(g, title ? title : tbuf, "flops (multiply-adds per image)", ylabel);
    double pad = lo < hi ? 1.15 : 1.5;
    fprintf(gp, "set logscale x 10\nset xrange [%.6g:%.6g]\n", lo / pad, hi * pad);
    if (isfinite(base)) {
        fputs("set xtics (", gp);
        for (int j = 0; j < n_targets; j++) {
            char label[64];
            ns_fig_fmt_num(a, sizeof a, base * targets[j]);
            if (targets[j] == 1)
                snprintf(label, sizeof label, "%s", a);
            else
                snprintf(label, sizeof label, "%s (%gx)", a, targets[j]);
            fputs(j ? ", " : "", gp);
            ns_fig_str(gp, label);
            fprintf(gp, " %.10g", base * targets[j]);
        }
        fputs(")\n", gp);
    } else if (hi >= 1e4) {
        fputs("set format x '%.0s%c'\n", gp);
    }
    /* room above and below the bars */
    fputs("set offsets 0, 0, graph 0.05, graph 0.05\n"
          "set key outside below center vertical samplen 2 font ',10'\n"
          "set xlabel offset 0,0.5\n",
          gp);
    char seeds[1024];
    seed_legend(seeds, sizeof seeds, t);
    /* One line per dimension with models, through the base; only the base: its point. */
    int first = 1, block = 0;
    for (int d = lines ? 1 : 0; d < NS_SCALE_DIMS; d++) {
        if (!has[d] || (lines && d == 0) || (!lines && d > 0))
            continue;
        const char *dn = ns_scale_dim_names[d];
        char name[1200];
        if (d)
            snprintf(name, sizeof name,
                     "%s: the base, then the %s scalings by target: over "
                     "the seeds",
                     dn, dn);
        else
            snprintf(name, sizeof name, "%s: over the seeds", dn);
        ns_fig_block(g, block, name, "dim target flops params n mean(%) min(%) max(%) trial");
        for (int k = 0; k < t->n; k++)
            if (t->m[k].dim == 0 || t->m[k].dim == d)
                scaling_row(dat, &t->m[k], -1);
        int lt = ns_fig_lt(d ? d - 1 : 0);
        ns_fig_clause(gp, &first, block++, "3:6:7:8", "yerrorlines ps 0.9", lt, dn);
        snprintf(name, sizeof name, "%s: each seed's error (%s)", dn, seeds);
        ns_fig_block(g, block, name, "dim target flops error(%) seed trial");
        for (int k = 0; k < t->n; k++)
            for (int i = 0; i < t->n_studies; i++)
                if ((t->m[k].dim == 0 || t->m[k].dim == d) && isfinite(t->m[k].err[i]))
                    scaling_row(dat, &t->m[k], i);
        ns_fig_clause(gp, &first, block++, "3:4", "points pt 6 ps 1.2 lw 1", lt, NULL);
    }
    fputs(", \\\n    keyentry with points pt 6 ps 1.2 lw 1 lc rgb '#808080' title ", gp);
    ns_fig_str(gp, "each seed; bars: min..max");
    fputs("\n", gp);
    free(targets);
    return ns_fig_close(g, 0);
}

int ns_plot_scaling_draw(const struct ns_plot_req *r, const struct ns_scaling_table *t, char **log,
                         char **written)
{
    if (log)
        *log = NULL;
    if (written)
        *written = NULL;
    struct ns_plot_files f;
    if (ns_plot_files_init(&f, r->out))
        return -1;
    struct ns_sbuf lb = {0}, wb = {0};
    int rc = ns_plot_fig_scaling(&f, t, r->title);
    if (rc == 0)
        rc = ns_plot_analysis_render(&f, &lb, &wb);
    ns_plot_files_free(&f);
    ns_plot_analysis_out(&lb, &wb, rc, log, written);
    return rc;
}
