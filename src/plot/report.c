/* ns_report (analysis.h): one static HTML page for a results db, with its SVG figures beside
 * it. No script, no stylesheet or font from anywhere: the page and its figures open from a
 * folder copied off a cluster. Every figure is made by the same code as `netspace plot`
 * (its .gp and .dat stay beside the SVG); a figure that cannot be drawn becomes a sentence
 * saying why. The db is read in snapshots (WAL), so a search may write to it meanwhile. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "plot/analysis_internal.h"
#include "plot/fig_internal.h"
#include "util/err.h"

#define KS_MAX_STUDIES 12 /* the pairwise KS table beyond that would be unreadable */
#define FAILURES_SHOWN 50

struct page {
    FILE *f;
    const struct ns_report_req *r;
    struct ns_db_study_info *info; /* all of the db's studies */
    int n_info, *sel, n_sel;
    struct ns_study_data *s; /* the selected studies' models, n_sel of them */
    const char **nonempty;   /* names of the studies with models */
    int n_nonempty;
    const char **scaling; /* those of them that are scaling studies (trials sample a dim) */
    int n_scaling;
    int *scaling_group; /* the scaling study each is a seed of (by its base), 0.. */
    int n_scaling_groups;
    struct ns_sbuf warn;
    char fatal[512];     /* a figure failed for a reason that fails the report (gnuplot missing) */
    const char *norm_cx; /* the normalization that worked, or NULL */
    int norm_bins;
    const char *eval;    /* what the errors are of: "test", "validation", "validation or test" */
};

/* s escaped for HTML text and attribute values. */
static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static void num(FILE *f, double v, const char *fmt)
{
    if (isfinite(v))
        fprintf(f, fmt, v);
    else
        fputs("&ndash;", f);
}

/* DIR/NAME into buf. */
static const char *in_dir(const struct page *p, const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", p->r->out_dir, name);
    return buf;
}

/* After a figure call: on success (rc 0) an <img>, else the reason in the page and the
 * warnings (rc -2: no figure was attempted, only its notes). Takes log: its lines become
 * notes under the figure. A missing gnuplot fails the whole report. */
static void figure_result(struct page *p, int rc, const char *file, const char *alt, char *log)
{
    if (rc == -2) {
        /* no figure: only its notes */
    } else if (rc == 0) {
        fputs("<figure><img src=\"", p->f);
        esc(p->f, file);
        fputs("\" alt=\"", p->f);
        esc(p->f, alt);
        fputs("\" width=\"800\" height=\"560\"></figure>\n", p->f);
    } else {
        const char *msg = ns_errmsg();
        if (!p->fatal[0] && (strstr(msg, "gnuplot not found") || strstr(msg, "cannot write")))
            snprintf(p->fatal, sizeof p->fatal, "%s", msg);
        fputs("<p class=\"missing\">Not drawn: ", p->f);
        esc(p->f, msg);
        fputs("</p>\n", p->f);
        ns_sbuf_printf(&p->warn, "%s: %s\n", alt, msg);
    }
    /* Notes (a study left out, gnuplot's warnings) under the figure, and in the warnings. */
    for (char *line = log, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        fputs("<p class=\"note\">", p->f);
        esc(p->f, line);
        fputs("</p>\n", p->f);
        ns_sbuf_printf(&p->warn, "%s: %s\n", alt, line);
    }
    free(log);
}

/* A request for `netspace plot` figures with the report's settings. */
static struct ns_plot_req base_req(const struct page *p, const char *out)
{
    struct ns_plot_req q = {.db = p->r->db,
                            .out = out,
                            .studies = p->nonempty,
                            .n_studies = p->n_nonempty,
                            .error_best = p->r->error_best,
                            .failed_chance = p->r->failed_chance,
                            .bins = 10,
                            .resamples = p->r->resamples,
                            .seed = p->r->seed,
                            .logx = -1,
                            .top = 5};
    return q;
}

static void plot_figure(struct page *p, struct ns_plot_req *q, const char *file, const char *alt)
{
    char path[4096], *log = NULL;
    q->out = in_dir(p, file, path, sizeof path);
    int rc = ns_plot_make(q, &log);
    figure_result(p, rc, file, alt, log);
}

static void analysis_figure(struct page *p, struct ns_plot_req *q, enum ns_plot_analysis_kind kind,
                            int kmax, const char *file, const char *alt)
{
    char path[4096], *log = NULL, *written = NULL;
    q->out = in_dir(p, file, path, sizeof path);
    struct ns_plot_analysis_opts o = {kind, kmax};
    int rc = ns_plot_make_analysis(q, &o, &log, &written);
    free(written);
    figure_result(p, rc, file, alt, log);
}

/* ------------------------------------------------------------------ sections ---------- */

static void head(struct page *p)
{
    FILE *f = p->f;
    const char *title = p->r->title ? p->r->title : "netspace report";
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
    esc(f, title);
    fputs("</title>\n<style>\n"
          "body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;"
          "color:#222;line-height:1.4}\n"
          "table{border-collapse:collapse;margin:.5em 0 1em}\n"
          "th,td{border:1px solid #ccc;padding:.2em .5em;text-align:right;font-size:.9em}\n"
          "th{background:#f0f0f0}td.l,th.l{text-align:left}\n"
          "figure{margin:.5em 0}img{max-width:100%;height:auto;border:1px solid #eee}\n"
          "pre{background:#f7f7f7;padding:.5em;overflow-x:auto;font-size:.85em}\n"
          ".missing{color:#a04000;font-style:italic}.note{color:#555;font-size:.9em}\n"
          "nav a{margin-right:1em}\n"
          "</style>\n</head>\n<body>\n<h1>",
          f);
    esc(f, title);
    fputs("</h1>\n<p class=\"note\">Results db <code>", f);
    esc(f, p->r->db);
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&now, &tm));
    fprintf(f,
            "</code>, read %s (a snapshot: a search may still be writing to it). Errors are "
            "%s %s errors in %%%s; failed trials are %s. Figures are SVG files beside this "
            "page, each with its gnuplot script (.gp) and data (.dat).</p>\n",
            when, p->r->error_best ? "best" : "final", p->eval,
            strcmp(p->eval, "test") ? " (a study with data.val_split evaluates on that split of "
                                      "the training set, and the db's test_error columns hold "
                                      "its validation errors)"
                                    : "",
            p->r->failed_chance ? "counted at chance error" : "left out");
    fputs("<nav><a href=\"#studies\">Studies</a><a href=\"#edf\">EDFs and KS</a>"
          "<a href=\"#rs\">Random search</a><a href=\"#fidelity\">Fidelity</a>"
          "<a href=\"#trend\">Trend</a>",
          f);
    if (p->n_scaling)
        fputs("<a href=\"#scaling\">Scaling</a>", f);
    fputs("<a href=\"#effects\">Parameters</a><a href=\"#trials\">Trials</a></nav>\n", f);
}

static void studies_table(struct page *p)
{
    FILE *f = p->f;
    fputs("<h2 id=\"studies\">Studies</h2>\n<table>\n<tr><th class=\"l\">study</th>"
          "<th class=\"l\">space</th><th>seed</th><th>trials</th><th>complete</th>"
          "<th>failed</th><th>waiting / running</th><th>best</th><th>median</th>"
          "<th>epochs trained</th><th>epoch hours</th><th>span (h)</th></tr>\n",
          f);
    for (int i = 0; i < p->n_sel; i++) {
        const struct ns_db_study_info *in = &p->info[p->sel[i]];
        const struct ns_study_data *s = &p->s[i];
        double best = INFINITY;
        for (size_t j = 0; j < s->n; j++)
            best = fmin(best, s->err[j]);
        fputs("<tr><td class=\"l\"><a href=\"#study-", f);
        fprintf(f, "%d\">", i + 1);
        esc(f, in->name);
        fputs("</a></td><td class=\"l\">", f);
        esc(f, in->space ? in->space : "");
        fprintf(f, "</td><td>%llu</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%zu</td><td>",
                (unsigned long long)in->seed, (long long)in->n_trials,
                (long long)in->n_state[NS_DB_COMPLETE], (long long)in->n_state[NS_DB_FAILED],
                s->n_pending);
        num(f, s->n ? best : NAN, "%.2f");
        fputs("</td><td>", f);
        num(f, ns_stat_median(s->err, s->n), "%.2f");
        fprintf(f, "</td><td>%lld</td><td>", (long long)in->epochs);
        num(f, in->epoch_seconds / 3600, "%.2f");
        fputs("</td><td>", f);
        num(f, (in->last_ended - in->first_started) / 3600, "%.2f");
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n<p>Epochs trained counts the epoch rows (one per trial and epoch: rungs "
          "included, an epoch retrained after a lost attempt once); epoch hours are their "
          "seconds summed over workers; the span runs from the earliest trial start on record "
          "to the last trial end.</p>\n",
          f);
    for (int i = 0; i < p->n_sel; i++)
        if (p->s[i].n == 0) {
            fputs("<p class=\"missing\">Study ", f);
            esc(f, p->s[i].name);
            fprintf(f,
                    " has no complete trials with an error yet (%zu trials, %zu failed): it "
                    "is left out of the figures.</p>\n",
                    p->s[i].n_trials, p->s[i].n_failed);
        }
}

/* Normalized EDF with the most bins (of 10, 5, 3, 2) that leave none empty. */
static void normalized_edf(struct page *p)
{
    static const int tries[] = {10, 5, 3, 2};
    for (size_t t = 0; t < sizeof tries / sizeof tries[0]; t++) {
        struct ns_plot_req q = base_req(p, NULL);
        q.kind = NS_PLOT_EDF;
        q.normalize = "flops";
        q.bins = tries[t];
        char path[4096], *log = NULL;
        q.out = in_dir(p, "nedf.svg", path, sizeof path);
        int rc = ns_plot_make(&q, &log);
        int retry =
            rc && strstr(ns_errmsg(), "has no models") && t + 1 < sizeof tries / sizeof tries[0];
        if (retry) {
            free(log);
            continue;
        }
        if (rc == 0) {
            p->norm_cx = "flops";
            p->norm_bins = tries[t];
        }
        figure_result(p, rc, "nedf.svg", "flops-normalized EDF", log);
        return;
    }
}

static void ks_table(struct page *p)
{
    FILE *f = p->f;
    int n = p->n_nonempty;
    if (n < 2) {
        fputs("<p class=\"note\">KS statistics compare two studies; this report has fewer than "
              "two with complete trials.</p>\n",
              f);
        return;
    }
    if (n > KS_MAX_STUDIES) {
        fprintf(f,
                "<p class=\"note\">%d studies: the pairwise KS table is left out (use "
                "<code>netspace compare</code>).</p>\n",
                n);
        return;
    }
    /* The studies with models, in order, and their weights under the normalization the
     * figure used. */
    struct ns_study_data *s = calloc((size_t)n, sizeof *s);
    double **w = calloc((size_t)n, sizeof *w), lo, hi;
    if (!s || !w) {
        free(s);
        free(w);
        fputs("<p class=\"missing\">KS table: out of memory</p>\n", f);
        return;
    }
    for (int i = 0, k = 0; i < p->n_sel; i++)
        if (p->s[i].n)
            s[k++] = p->s[i]; /* shallow copies: not freed here */
    int weighted = 0;
    if (p->norm_cx) {
        struct ns_db *db = ns_db_open(p->r->db, NS_DB_RO);
        weighted = db && ns_study_data_norm(db, s, n, p->norm_cx, p->norm_bins, 0, 0, 0, 0, w, &lo,
                                            &hi) == 0;
        ns_db_close(db);
    }
    fprintf(f,
            "<p>Two-sample Kolmogorov&ndash;Smirnov statistic D = sup |F<sub>A</sub> &minus; "
            "F<sub>B</sub>| and its asymptotic p-value%s.</p>\n<table>\n<tr><th class=\"l\">A"
            "</th><th class=\"l\">B</th><th>D</th><th>p</th>%s</tr>\n",
            weighted ? "; the last two columns on the flops-normalized EDFs of the figure, whose "
                       "p-value uses the weights' effective sample size"
                     : "",
            weighted ? "<th>D normalized</th><th>p normalized</th>" : "");
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++) {
            struct ns_ks ks, kw;
            int ok = ns_stat_ks(s[a].err, NULL, s[a].n, s[b].err, NULL, s[b].n, &ks) == 0;
            int okw =
                weighted && ns_stat_ks(s[a].err, w[a], s[a].n, s[b].err, w[b], s[b].n, &kw) == 0;
            fputs("<tr><td class=\"l\">", f);
            esc(f, s[a].name);
            fputs("</td><td class=\"l\">", f);
            esc(f, s[b].name);
            fputs("</td><td>", f);
            num(f, ok ? ks.d : NAN, "%.3f");
            fputs("</td><td>", f);
            num(f, ok ? ks.p : NAN, "%.3g");
            if (weighted) {
                fputs("</td><td>", f);
                num(f, okw ? kw.d : NAN, "%.3f");
                fputs("</td><td>", f);
                num(f, okw ? kw.p : NAN, "%.3g");
            }
            fputs("</td></tr>\n", f);
        }
    fputs("</table>\n", f);
    for (int i = 0; i < n; i++)
        free(w[i]);
    free(w);
    free(s);
}

static void effects(struct page *p)
{
    FILE *f = p->f;
    fputs("<h2 id=\"effects\">Parameter effects</h2>\n<p class=\"note\">Error against each "
          "sampled parameter, with the best-model range: the 2.5&ndash;97.5th percentile (band) "
          "and median (dashed) of the parameter of the best model in bootstrap resamples of "
          "n/4 models.</p>\n",
          f);
    if (p->n_nonempty == 0) {
        fputs("<p class=\"missing\">No study has complete trials.</p>\n", f);
        return;
    }
    struct ns_db *db = ns_db_open(p->r->db, NS_DB_RO);
    if (!db) {
        figure_result(p, -1, "", "parameter effects", NULL);
        return;
    }
    struct ns_plot_req q = base_req(p, NULL);
    char path[4096];
    q.out = in_dir(p, "effect.svg", path, sizeof path);
    struct ns_sbuf log = {0}, written = {0};
    int rc = ns_plot_effects(db, &q, &log, &written);
    ns_db_close(db);
    char *l = ns_sbuf_take(&log), *w = ns_sbuf_take(&written);
    if (rc)
        figure_result(p, rc, "", "parameter effects", NULL);
    for (char *line = w, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        const char *base = strrchr(line, '/');
        base = base ? base + 1 : line;
        figure_result(p, 0, base, base, NULL);
    }
    free(w);
    if (l) /* notes only (takes l) */
        figure_result(p, -2, NULL, "parameter effects", l);
}

static int cmp_err_idx(const void *pa, const void *pb)
{
    const double *a = pa, *b = pb; /* (error, index) pairs */
    return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : (a[1] > b[1]) - (a[1] < b[1]);
}

static void pretty_json(FILE *f, const char *text)
{
    json_error_t je;
    json_t *j = text ? json_loads(text, 0, &je) : NULL;
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    fputs("<pre>", f);
    esc(f, s ? s : text ? text : "");
    fputs("</pre>", f);
    free(s);
    json_decref(j);
}

static void trial_params(FILE *f, const struct ns_db_trial *t)
{
    int first = 1;
    for (int k = 0; k < NS_DB_N_PARAMS; k++)
        if (isfinite(t->p[k])) {
            fprintf(f, "%s%s=%.4g", first ? "" : " ", ns_db_param_names[k], t->p[k]);
            first = 0;
        }
    if (t->other_params) {
        fputs(first ? "" : " ", f);
        esc(f, t->other_params);
    }
}

static void study_section(struct page *p, int i, struct ns_db *db)
{
    FILE *f = p->f;
    const struct ns_db_study_info *in = &p->info[p->sel[i]];
    fprintf(f, "<h3 id=\"study-%d\">", i + 1);
    esc(f, in->name);
    fputs("</h3>\n<details><summary>experiment</summary>", f);
    pretty_json(f, in->experiment_json);
    fputs("</details>\n", f);

    struct ns_db_trial *t = NULL;
    int nt = 0;
    if (ns_db_trials_load(db, in->id, 0, &t, &nt)) {
        figure_result(p, -1, "", in->name, NULL);
        return;
    }
    /* Top trials by error. */
    double *order = malloc((size_t)(nt ? nt : 1) * 2 * sizeof *order);
    int nc = 0;
    for (int k = 0; order && k < nt; k++) {
        double e = p->r->error_best ? t[k].best_test_error : t[k].test_error;
        if (t[k].state == NS_DB_COMPLETE && isfinite(e)) {
            order[2 * nc] = e;
            order[2 * nc + 1] = k;
            nc++;
        }
    }
    if (order)
        qsort(order, (size_t)nc, 2 * sizeof *order, cmp_err_idx);
    int top = nc < p->r->top ? nc : p->r->top;
    if (top == 0) {
        fputs("<p class=\"missing\">No complete trials yet.</p>\n", f);
    } else {
        fprintf(f,
                "<p>The %d best of %d complete trials:</p>\n<table>\n<tr><th>trial</th>"
                "<th>error</th><th>best error</th><th>flops</th><th>params</th><th>acts</th>"
                "<th>wall s</th><th class=\"l\">sampled parameters and config</th></tr>\n",
                top, nc);
        char a[32], b[32], c[32];
        for (int k = 0; k < top; k++) {
            const struct ns_db_trial *x = &t[(int)order[2 * k + 1]];
            fprintf(f, "<tr><td>%d</td><td>%.2f</td><td>", x->idx, order[2 * k]);
            num(f, x->best_test_error, "%.2f");
            fprintf(f, "</td><td>%s</td><td>%s</td><td>%s</td><td>",
                    ns_fig_fmt_num(a, sizeof a, (double)x->flops),
                    ns_fig_fmt_num(b, sizeof b, (double)x->params),
                    ns_fig_fmt_num(c, sizeof c, (double)x->acts));
            num(f, x->wall_s, "%.1f");
            fputs("</td><td class=\"l\">", f);
            trial_params(f, x);
            fputs("<details><summary>config</summary>", f);
            pretty_json(f, x->config_json);
            fputs("</details></td></tr>\n", f);
        }
        fputs("</table>\n", f);
        struct ns_plot_req q = base_req(p, NULL);
        q.kind = NS_PLOT_CURVES;
        q.studies = (const char *const *)&in->name;
        q.n_studies = 1;
        q.top = top < 5 ? top : 5;
        char file[64], alt[512];
        snprintf(file, sizeof file, "curves-%d.svg", i + 1);
        snprintf(alt, sizeof alt, "training curves of %s", in->name);
        plot_figure(p, &q, file, alt);
    }
    free(order);
    /* Failures with their reasons. */
    int nf = 0;
    for (int k = 0; k < nt; k++)
        nf += t[k].state == NS_DB_FAILED;
    if (nf) {
        fprintf(f,
                "<p>%d failed trial%s:</p>\n<table>\n<tr><th>trial</th><th class=\"l\">"
                "reason</th></tr>\n",
                nf, nf == 1 ? "" : "s");
        int shown = 0;
        for (int k = 0; k < nt && shown < FAILURES_SHOWN; k++)
            if (t[k].state == NS_DB_FAILED) {
                fprintf(f, "<tr><td>%d</td><td class=\"l\">", t[k].idx);
                esc(f, t[k].reason ? t[k].reason : "(no reason recorded)");
                fputs("</td></tr>\n", f);
                shown++;
            }
        fputs("</table>\n", f);
        if (nf > shown)
            fprintf(f,
                    "<p class=\"note\">and %d more (netspace query trials --state failed)."
                    "</p>\n",
                    nf - shown);
    }
    ns_db_trials_free(t, nt);
}

/* ------------------------------------------------------------------ the page ---------- */

/* The scaling studies: a figure per scaling study (its seeds share a base network), so two
 * scaling spaces in one db are two figures, not a mismatch. */
static void scaling(struct page *p)
{
    FILE *f = p->f;
    fputs("<h2 id=\"scaling\">Scaling</h2>\n<p class=\"note\">The scaling studies, one "
          "per seed (trial i the same model in each): the error against flops along each "
          "scaling dimension, from the base through its flops targets; a point is the mean "
          "over the seeds, its bars their min and max, the circles each seed.",
          f);
    if (p->n_scaling_groups > 1)
        fprintf(f, " The db holds %d scaling studies (their base networks differ): a figure each.",
                p->n_scaling_groups);
    fputs("</p>\n", f);
    const char **names = calloc((size_t)p->n_scaling, sizeof *names);
    if (!names) {
        fputs("<p class=\"missing\">Not drawn: out of memory</p>\n", f);
        ns_sbuf_printf(&p->warn, "scaling: out of memory\n");
        return;
    }
    for (int g = 0; g < p->n_scaling_groups; g++) {
        int n = 0;
        for (int i = 0; i < p->n_scaling; i++)
            if (p->scaling_group[i] == g)
                names[n++] = p->scaling[i];
        char file[64], alt[64];
        if (p->n_scaling_groups == 1) {
            snprintf(file, sizeof file, "scaling.svg");
            snprintf(alt, sizeof alt, "scaling");
        } else {
            snprintf(file, sizeof file, "scaling-%d.svg", g + 1);
            snprintf(alt, sizeof alt, "scaling %d", g + 1);
            fprintf(f, "<h3>Scaling study %d</h3>\n<p class=\"note\">Seeds: ", g + 1);
            for (int i = 0; i < n; i++) {
                fputs(i ? ", " : "", f);
                esc(f, names[i]);
            }
            fputs("</p>\n", f);
        }
        struct ns_plot_req q = base_req(p, NULL);
        q.studies = names;
        q.n_studies = n;
        analysis_figure(p, &q, NS_PLOT_SCALING, 0, file, alt);
    }
    free(names);
}

static int write_page(struct page *p)
{
    FILE *f = p->f;
    head(p);
    studies_table(p);

    fputs("<h2 id=\"edf\">Error distributions</h2>\n<p class=\"note\">F(e): the fraction of "
          "models with error below e. The normalized EDF weights each model so that every "
          "study has the same, uniform distribution of flops over log-spaced bins (NDS).</p>\n",
          f);
    if (p->n_nonempty == 0) {
        fputs("<p class=\"missing\">No study has complete trials: nothing to draw.</p>\n", f);
    } else {
        struct ns_plot_req q = base_req(p, NULL);
        q.kind = NS_PLOT_EDF;
        plot_figure(p, &q, "edf.svg", "error EDF");
        normalized_edf(p);
    }
    ks_table(p);

    fputs("<h2 id=\"rs\">Random-search efficiency</h2>\n<p class=\"note\">The expected minimum "
          "error of k models drawn at random from each study's EDF, exactly: P(min &le; e) = "
          "1 &minus; (1 &minus; F(e))<sup>k</sup>; the band holds 95% of bootstrap resamples."
          "</p>\n",
          f);
    if (p->n_nonempty) {
        struct ns_plot_req q = base_req(p, NULL);
        q.normalize = p->norm_cx;
        q.bins = p->norm_bins ? p->norm_bins : 10;
        analysis_figure(p, &q, NS_PLOT_RS, 100, "rs.svg", "random-search efficiency");
    } else {
        fputs("<p class=\"missing\">No study has complete trials.</p>\n", f);
    }

    fprintf(f,
            "<h2 id=\"fidelity\">Fidelity</h2>\n<p class=\"note\">How soon the ranking "
            "settles: Spearman's &rho;, Kendall's &tau; and the overlap of the top 10%% between "
            "the %s error after epoch k and the final %s error.</p>\n",
            p->eval, p->eval);
    if (p->n_nonempty) {
        struct ns_plot_req q = base_req(p, NULL);
        analysis_figure(p, &q, NS_PLOT_FIDELITY, 0, "fidelity.svg", "fidelity");
    } else {
        fputs("<p class=\"missing\">No study has complete trials.</p>\n", f);
    }

    fputs("<h2 id=\"trend\">Error against complexity</h2>\n<p class=\"note\">Each model, and "
          "the mean &plusmn; 2 standard deviations of the error in log-spaced flops bins.</p>\n",
          f);
    if (p->n_nonempty) {
        struct ns_plot_req q = base_req(p, NULL);
        q.param = "flops";
        analysis_figure(p, &q, NS_PLOT_TREND, 0, "trend.svg", "error against flops");
    } else {
        fputs("<p class=\"missing\">No study has complete trials.</p>\n", f);
    }

    if (p->n_scaling)
        scaling(p);

    effects(p);

    fputs("<h2 id=\"trials\">Trials</h2>\n", f);
    struct ns_db *db = ns_db_open(p->r->db, NS_DB_RO);
    if (!db)
        return -1;
    for (int i = 0; i < p->n_sel; i++)
        study_section(p, i, db);
    ns_db_close(db);
    fputs("<p class=\"note\">Written by netspace report.</p>\n</body>\n</html>\n", f);
    return 0;
}

/* mkdir -p: the folder and any missing parents (a path up to 4 KB). 0 or -1 (ns_err). */
static int mkdir_parents(const char *dir)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return ns_err("%s: path too long", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0777) && errno != EEXIST) {
            ns_err("%s: cannot create the folder %s: %s", dir, buf, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    if (mkdir(buf, 0777) && errno != EEXIST)
        return ns_err("%s: cannot create the folder: %s", dir, strerror(errno));
    return 0;
}

int ns_report(const struct ns_report_req *r, char **warnings)
{
    if (warnings)
        *warnings = NULL;
    if (!r->db || !r->out_dir || !*r->out_dir)
        return ns_err("report: --db and --out are required");
    if (r->top < 1 || r->resamples < 1)
        return ns_err("report: --top and --resamples must be >= 1");
    struct stat st;
    if (mkdir_parents(r->out_dir) < 0)
        return -1;
    if (stat(r->out_dir, &st) || !S_ISDIR(st.st_mode))
        return ns_err("%s: not a folder", r->out_dir);
    if (access(r->out_dir, W_OK))
        return ns_err("%s: not writable", r->out_dir);

    struct page p = {.r = r, .eval = "test"};
    struct ns_scaling_base *base = NULL; /* each scaling study's, to group them */
    struct ns_db *db = ns_db_open(r->db, NS_DB_RO);
    if (!db)
        return -1;
    int rc = ns_studies_select(db, r->studies, r->n_studies, &p.info, &p.n_info, &p.sel, &p.n_sel);
    if (rc == 0) {
        p.s = calloc((size_t)p.n_sel, sizeof *p.s);
        p.nonempty = calloc((size_t)p.n_sel, sizeof *p.nonempty);
        p.scaling = calloc((size_t)p.n_sel, sizeof *p.scaling);
        p.scaling_group = calloc((size_t)p.n_sel, sizeof *p.scaling_group);
        base = calloc((size_t)p.n_sel, sizeof *base);
        if (!p.s || !p.nonempty || !p.scaling || !p.scaling_group || !base)
            rc = ns_err("out of memory");
    }
    for (int i = 0; i < p.n_sel && rc == 0; i++) {
        const struct ns_db_study_info *in = &p.info[p.sel[i]];
        rc = ns_study_data_load(db, in->id, in->name, r->error_best, r->failed_chance, &p.s[i]);
        if (rc == 0 && p.s[i].n)
            p.nonempty[p.n_nonempty++] = in->name;
        if (rc == 0 && p.s[i].n) {
            int sc = ns_study_is_scaling(db, in->id, &base[p.n_scaling]);
            if (sc < 0)
                rc = -1;
            else if (sc)
                p.scaling[p.n_scaling++] = in->name;
        }
    }
    if (rc == 0)
        p.n_scaling_groups = ns_scaling_groups(base, p.n_scaling, p.scaling_group);
    if (rc == 0) {
        const char **sel = calloc((size_t)(p.n_sel ? p.n_sel : 1), sizeof *sel);
        if (!sel)
            rc = ns_err("out of memory");
        for (int i = 0; sel && i < p.n_sel; i++)
            sel[i] = p.info[p.sel[i]].name;
        if (sel)
            p.eval = ns_plot_eval_set(db, sel, p.n_sel);
        free(sel);
    }
    free(base);
    ns_db_close(db);

    /* Write the page beside its final name and rename it into place, so a reader never sees
     * half a page. */
    char tmp[4096], final[4096];
    snprintf(final, sizeof final, "%s/index.html", r->out_dir);
    snprintf(tmp, sizeof tmp, "%s/.index.html.%ld", r->out_dir, (long)getpid());
    if (rc == 0) {
        p.f = fopen(tmp, "w");
        if (!p.f)
            rc = ns_err("%s: cannot write: %s", tmp, strerror(errno));
    }
    if (rc == 0) {
        rc = write_page(&p);
        int bad = ferror(p.f);
        bad |= fclose(p.f) != 0;
        if (rc == 0 && bad)
            rc = ns_err("%s: write failed", tmp);
        if (rc == 0 && p.fatal[0])
            rc = ns_err("%s", p.fatal);
        if (rc == 0 && rename(tmp, final))
            rc = ns_err("%s: cannot write: %s", final, strerror(errno));
        if (rc)
            unlink(tmp);
    }
    for (int i = 0; p.s && i < p.n_sel; i++)
        ns_study_data_free(&p.s[i]);
    free(p.s);
    free(p.nonempty);
    free(p.scaling);
    free(p.scaling_group);
    ns_db_studies_free(p.info, p.n_info);
    free(p.sel);
    char *w = ns_sbuf_take(&p.warn);
    if (warnings)
        *warnings = w;
    else
        free(w);
    return rc;
}
