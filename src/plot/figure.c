/* The four figures as a gnuplot script and a data file (see plot.h). Every script starts the
 * same way (terminal, output, linetypes, grid), so restyling one plot teaches the others. */
#include "plot/plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/text.h"

#define FIG_W 800
#define FIG_H 560

/* A colour-blind-safe cycle (Okabe-Ito, with a darker yellow): eight series before a
 * repeat; gnuplot cycles linetypes itself beyond that. */
static const char *const palette[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                      "#e69f00", "#56b4e9", "#000000", "#a0a000"};
#define N_PALETTE (int)(sizeof palette / sizeof palette[0])

struct fig {
    const struct ns_plot_files *files;
    FILE *gp, *dat;
    struct ns_plot_file gpf, datf; /* written beside the final names, renamed at the end */
};

static int fig_open(struct fig *g, const struct ns_plot_files *f)
{
    g->files = f;
    g->gp = ns_plot_file_create(&g->gpf, f->gp);
    if (!g->gp)
        return -1;
    g->dat = ns_plot_file_create(&g->datf, f->dat);
    if (!g->dat) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", ns_errmsg());
        ns_plot_file_finish(&g->gpf, 0);
        return ns_err("%s", msg);
    }
    return 0;
}

/* Close both files; rc is the writer's status so far. Returns 0 only if everything was
 * written (a full disk shows up in ferror/fclose); then both are in place, else neither
 * new file is. */
static int fig_close(struct fig *g, int rc)
{
    if (rc) {
        ns_plot_file_finish(&g->gpf, 0);
        ns_plot_file_finish(&g->datf, 0);
        return rc;
    }
    if (ns_plot_file_finish(&g->datf, 1) < 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", ns_errmsg());
        ns_plot_file_finish(&g->gpf, 0);
        return ns_err("%s", msg);
    }
    return ns_plot_file_finish(&g->gpf, 1);
}

/* s as a gnuplot single-quoted string: '' stands for a quote; control characters (which
 * would end a command) become spaces; bytes that are not UTF-8 become U+FFFD (an SVG holding
 * them would be ill-formed). */
static void put_str(FILE *f, const char *s)
{
    char *fixed = ns_utf8_valid(s) ? NULL : ns_utf8_repair(s);
    fputc('\'', f);
    for (const char *p = fixed ? fixed : s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\'')
            fputs("''", f);
        else
            fputc(c < 0x20 || c == 0x7f ? ' ' : c, f);
    }
    fputc('\'', f);
    free(fixed);
}

/* A file name for the script: "./NAME", so that a name starting with '$' is not read as a
 * datablock, nor '-' as the standard input. */
static void put_file(FILE *f, const char *base)
{
    char *name = malloc(strlen(base) + 3);
    if (name) {
        sprintf(name, "./%s", base);
        put_str(f, name);
    }
    free(name);
}

/* s on a '#' comment line of the data file (newlines would end the comment). */
static void put_comment(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc((unsigned char)*s < 0x20 ? ' ' : *s, f);
}

/* A number for the data file: full precision, NaN for gaps (set datafile missing). */
static void put_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.10g", v);
    else
        fputs("NaN", f);
}

static void prelude(struct fig *g, const char *title, const char *xlabel, const char *ylabel)
{
    FILE *f = g->gp;
    const struct ns_plot_files *files = g->files;
    fprintf(f,
            "# Written by netspace plot. Restyle and re-run from this folder:\n"
            "#   gnuplot ./%s\n# The data is in %s, one index block per series.\n\n",
            files->gp_base, files->dat_base);
    if (files->svg) {
        fprintf(f,
                "set terminal svg size %d,%d dynamic noenhanced font 'Sans,12' "
                "background rgb 'white'\n",
                FIG_W, FIG_H);
    } else {
        fprintf(f,
                "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
                "    set terminal pngcairo size %d,%d noenhanced font 'Sans,11'\n"
                "} else {\n"
                "    set terminal png size %d,%d noenhanced\n"
                "    print 'netspace: gnuplot has no pngcairo terminal; using png'\n"
                "}\n",
                FIG_W, FIG_H, FIG_W, FIG_H);
    }
    /* netspace plot names a new file to write (then renamed over the image); run by hand, the
     * script writes the image itself */
    fputs("if (!exists('outfile')) outfile = ", f);
    put_file(f, files->img_base);
    fputs("\nset output outfile\ndatafile = ", f);
    put_file(f, files->dat_base);
    fputs("\nset datafile missing 'NaN'\n\n", f);
    for (int i = 0; i < N_PALETTE; i++)
        fprintf(f, "set linetype %d lc rgb '%s' lw 2 pt 7 ps 0.6\n", i + 1, palette[i]);
    fputs("set border lw 1\nset grid xtics ytics mxtics mytics lt 1 lc rgb '#e0e0e0' lw 1, "
          "lt 1 lc rgb '#f0f0f0' lw 1\nset mxtics\nset mytics\n",
          f);
    fputs("set title ", f);
    put_str(f, title);
    fputs(" font ',13'\nset xlabel ", f);
    put_str(f, xlabel);
    fputs("\nset ylabel ", f);
    put_str(f, ylabel);
    fputs("\n", f);
}

/* The data file's header for series i. */
static void dat_block(struct fig *g, int i, const char *name, const char *columns)
{
    if (i > 0)
        fputs("\n\n", g->dat); /* two blank lines: the next gnuplot index */
    fprintf(g->dat, "# index %d: ", i);
    put_comment(g->dat, name);
    fprintf(g->dat, "\n# %s\n", columns);
}

/* v for a label: 4 significant digits, with k/M/G from 10^4 up (flops and params read
 * better as 63.7M than as 6.372e+07). */
static const char *fmt_num(char *buf, size_t n, double v)
{
    static const char suffix[] = "kMGTP";
    double a = fabs(v);
    if (!isfinite(v) || a < 1e4) {
        snprintf(buf, n, "%.4g", v);
        return buf;
    }
    int k = 0;
    while (a >= 1e3 * 1e3 && k < 4) {
        a /= 1e3;
        v /= 1e3;
        k++;
    }
    snprintf(buf, n, "%.3g%c", v / 1e3, suffix[k]);
    return buf;
}

/* ---------------------------------------------------------------------------- edf ---- */

int ns_plot_fig_edf(const struct ns_plot_files *f, const struct ns_plot_edf_series *s, int n_series,
                    const struct ns_plot_edf_opts *o)
{
    if (n_series < 1)
        return ns_err("edf: no studies to plot");
    struct ns_edf *e = calloc((size_t)n_series, sizeof *e);
    if (!e)
        return ns_err("edf: out of memory");
    int rc = 0;
    for (int i = 0; i < n_series && rc == 0; i++)
        if (ns_plot_edf(s[i].err, s[i].w, s[i].n, &e[i]))
            rc = ns_err_prefix("study '%s'", s[i].name);
    struct fig g;
    if (rc == 0)
        rc = fig_open(&g, f);
    if (rc) {
        for (int i = 0; i < n_series; i++)
            ns_edf_free(&e[i]);
        free(e);
        return rc;
    }

    char title[512], xlabel[128], a[32], b[32];
    if (o->title)
        snprintf(title, sizeof title, "%s", o->title);
    else if (o->normalize)
        snprintf(title, sizeof title, "Complexity-normalized error EDF: %s in (%s, %s), %d %s bins",
                 o->normalize, fmt_num(a, sizeof a, o->lo), fmt_num(b, sizeof b, o->hi), o->bins,
                 o->log_bins ? "log-spaced" : "equal-width");
    else
        snprintf(title, sizeof title, "Error EDF");
    snprintf(xlabel, sizeof xlabel, "%s e (%%)", o->error_name);
    prelude(&g, title, xlabel,
            o->normalize ? "F(e): weighted fraction of models with error < e"
                         : "F(e): fraction of models with error < e");
    /* Below the plot: an EDF may climb anywhere, and a key inside would hide part of it. */
    fprintf(g.gp, "set yrange [0:1]\nset ytics 0.1\nset key outside below center vertical "
                  "samplen 2 font ',10'\nset xlabel offset 0,0.5\n");
    fprintf(g.gp, "set key title '%s%s'\n",
            o->failed_chance ? "failed trials counted at chance error" : "failed trials dropped",
            o->normalize ? "; means weighted" : "");
    if (o->normalize)
        fprintf(g.dat, "# normalized: %s in (%.10g, %.10g), %d %s bins\n", o->normalize, o->lo,
                o->hi, o->bins, o->log_bins ? "log-spaced" : "equal-width");
    fputs("plot \\\n", g.gp);
    for (int i = 0; i < n_series; i++) {
        double mn = INFINITY, mean = 0, wsum = 0;
        for (size_t j = 0; j < s[i].n; j++) {
            double w = s[i].w ? s[i].w[j] : 1.0;
            mn = fmin(mn, s[i].err[j]);
            if (w > 0) {
                mean += w * s[i].err[j];
                wsum += w;
            }
        }
        mean = wsum > 0 ? mean / wsum : NAN;
        size_t nk = 0;
        for (size_t j = 0; j < s[i].n; j++)
            nk += !s[i].w || s[i].w[j] > 0;
        char label[512], nf[64] = "";
        if (s[i].n_failed)
            snprintf(nf, sizeof nf, ", %zu failed", s[i].n_failed);
        snprintf(label, sizeof label, "%s  (n=%zu%s, min %.2f%%, mean %.2f%%)", s[i].name, nk, nf,
                 mn, mean);
        /* The curve starts on the axis at its first error, so the first step is visible. */
        dat_block(&g, i, s[i].name, "error(%) F(error)");
        put_num(g.dat, e[i].x[0]);
        fputs(" 0\n", g.dat);
        for (size_t j = 0; j < e[i].n; j++) {
            put_num(g.dat, e[i].x[j]);
            fputc(' ', g.dat);
            put_num(g.dat, e[i].y[j]);
            fputc('\n', g.dat);
        }
        fprintf(g.gp, "    datafile index %d using 1:2 with steps lt %d title ", i,
                i % N_PALETTE + 1);
        put_str(g.gp, label);
        fputs(i + 1 < n_series ? ", \\\n" : "\n", g.gp);
    }
    for (int i = 0; i < n_series; i++)
        ns_edf_free(&e[i]);
    free(e);
    return fig_close(&g, 0);
}

/* -------------------------------------------------------------------------- param ---- */

/* Log axis when every finite value is positive and they span more than a decade. */
static int spans_decade(const struct ns_plot_param_series *s, int n_series)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n_series; i++)
        for (size_t j = 0; j < s[i].n; j++) {
            double v = s[i].x[j];
            if (!isfinite(v))
                continue;
            if (v <= 0)
                return 0;
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
    return lo < INFINITY && hi > 10 * lo;
}

int ns_plot_fig_param(const struct ns_plot_files *f, const struct ns_plot_param_series *s,
                      int n_series, const struct ns_plot_param_opts *o)
{
    if (n_series < 1)
        return ns_err("param: no studies to plot");
    int logx = o->logx;
    double xmax = -INFINITY;
    if (logx < 0)
        logx = spans_decade(s, n_series);
    for (int i = 0; i < n_series; i++)
        for (size_t j = 0; j < s[i].n; j++)
            xmax = fmax(xmax, s[i].x[j]);
    struct fig g;
    if (fig_open(&g, f))
        return -1;
    char title[512], ylabel[128];
    if (o->title)
        snprintf(title, sizeof title, "%s", o->title);
    else
        snprintf(title, sizeof title, "%s against %s", o->error_name, o->param);
    snprintf(ylabel, sizeof ylabel, "%s (%%)", o->error_name);
    prelude(&g, title, o->param, ylabel);
    if (logx) {
        /* gnuplot would widen a log axis to whole decades, wasting most of the width. */
        double lo = INFINITY;
        for (int i = 0; i < n_series; i++)
            for (size_t j = 0; j < s[i].n; j++)
                lo = s[i].x[j] > 0 ? fmin(lo, s[i].x[j]) : lo;
        fputs("set logscale x 10\n", g.gp);
        if (lo < xmax)
            fprintf(g.gp, "set xrange [%.6g:%.6g]\n", lo / 1.15, xmax * 1.15);
        if (xmax >= 1e4) /* 1e+06 reads worse than 1M for flops and params */
            fputs("set format x '%.0s%c'\n", g.gp);
    }
    /* Below the plot, so it never hides points: studies in the first column, their bands
     * in the second. */
    fprintf(g.gp,
            "set key outside below center vertical maxrows %d samplen 1 font ',10'\n"
            "set key title 'bands: 95%% range of the best model, %d bootstrap resamples of n/4; "
            "dashed: median' font ',10'\nset xlabel offset 0,0.5\n",
            n_series, o->resamples);
    if (o->failed_chance)
        fputs("set label 1 'failed trials counted at chance error' at graph 0.01, graph 0.97 "
              "left front font ',9'\n",
              g.gp);
    for (int i = 0; i < n_series; i++) {
        int lt = i % N_PALETTE + 1;
        const struct ns_plot_range *r = &s[i].range;
        fprintf(g.gp,
                "set object %d rect from %.10g, graph 0 to %.10g, graph 1 fc lt %d "
                "fs transparent solid 0.15 noborder behind\n"
                "set arrow %d from %.10g, graph 0 to %.10g, graph 1 nohead lt %d dt 2 lw 2 "
                "front\n",
                i + 1, r->lo, r->hi, lt, i + 1, r->med, r->med, lt);
    }
    fputs("plot \\\n", g.gp);
    char a[32], b[32], c[32], label[512];
    for (int i = 0; i < n_series; i++) {
        const struct ns_plot_range *r = &s[i].range;
        dat_block(&g, i, s[i].name, "param error(%)");
        fprintf(g.dat, "# best-model range: 2.5%% %.10g, median %.10g, 97.5%% %.10g\n", r->lo,
                r->med, r->hi);
        for (size_t j = 0; j < s[i].n; j++) {
            put_num(g.dat, s[i].x[j]);
            fputc(' ', g.dat);
            put_num(g.dat, s[i].err[j]);
            fputc('\n', g.dat);
        }
        /* One legend entry per study: gnuplot's multi-column keys misplace columns. */
        snprintf(label, sizeof label, "%s  (n=%zu):  best %s median %s, 95%% in %s .. %s",
                 s[i].name, s[i].n, o->param, fmt_num(b, sizeof b, r->med),
                 fmt_num(a, sizeof a, r->lo), fmt_num(c, sizeof c, r->hi));
        fprintf(g.gp, "    datafile index %d using 1:2 with points lt %d title ", i,
                i % N_PALETTE + 1);
        put_str(g.gp, label);
        fputs(i + 1 < n_series ? ", \\\n" : "\n", g.gp);
    }
    return fig_close(&g, 0);
}

/* ------------------------------------------------------------------------- curves ---- */

int ns_plot_fig_curves(const struct ns_plot_files *f, const struct ns_plot_curve *c, int n,
                       const char *title, int on_validation)
{
    const char *eval = on_validation ? "validation" : "test";
    if (n < 1)
        return ns_err("curves: no trials to plot");
    struct fig g;
    if (fig_open(&g, f))
        return -1;
    prelude(&g, title ? title : "Training curves", "epoch", "error (%)");
    fputs("set key top right opaque box lc rgb '#c0c0c0' samplen 3\nset xtics 1\n"
          "set mxtics 1\nset autoscale xfixmin\n",
          g.gp);
    int max_n = 0;
    for (int i = 0; i < n; i++)
        max_n = c[i].n > max_n ? c[i].n : max_n;
    if (max_n > 20)
        fputs("unset xtics\nset xtics\n", g.gp); /* let gnuplot space them */
    if (max_n <= 1) /* one epoch: an x range of one point, which gnuplot warns about */
        fputs("set xrange [0.5:1.5]\n", g.gp);
    fputs("plot \\\n", g.gp);
    for (int i = 0; i < n; i++) {
        int lt = i % N_PALETTE + 1;
        dat_block(&g, i, c[i].label,
                  on_validation ? "epoch train_error(%) validation_error(%)"
                                : "epoch train_error(%) test_error(%)");
        double last = NAN;
        for (int j = 0; j < c[i].n; j++) {
            fprintf(g.dat, "%d ", j + 1);
            put_num(g.dat, c[i].train_err[j]);
            fputc(' ', g.dat);
            put_num(g.dat, c[i].test_err[j]);
            fputc('\n', g.dat);
            if (isfinite(c[i].test_err[j]))
                last = c[i].test_err[j];
        }
        char label[512];
        snprintf(label, sizeof label, "%s  (final %s %.2f%%)", c[i].label, eval, last);
        fprintf(g.gp, "    datafile index %d using 1:3 with linespoints lt %d ps 0.5 title ", i,
                lt);
        put_str(g.gp, label);
        fprintf(g.gp, ", \\\n    datafile index %d using 1:2 with lines lt %d dt 2 notitle, \\\n",
                i, lt);
    }
    fprintf(g.gp,
            "    keyentry with lines lc rgb '#404040' lw 2 title '%s error', \\\n"
            "    keyentry with lines lc rgb '#404040' lw 2 dt 2 title 'train error'\n",
            eval);
    return fig_close(&g, 0);
}

/* ------------------------------------------------------------------------- models ---- */

int ns_plot_fig_models(const struct ns_plot_files *f, const struct ns_plot_model *m, int n,
                       const char *title)
{
    if (n < 1)
        return ns_err("models: no trials to plot");
    double lo = INFINITY, hi = -INFINITY;
    int max_blocks = 0;
    for (int i = 0; i < n; i++) {
        if (m[i].n_blocks < 1)
            return ns_err("models: %s: no blocks", m[i].label);
        for (int j = 0; j < m[i].n_blocks; j++) {
            lo = fmin(lo, m[i].widths[j]);
            hi = fmax(hi, m[i].widths[j]);
        }
        max_blocks = m[i].n_blocks > max_blocks ? m[i].n_blocks : max_blocks;
    }
    struct fig g;
    if (fig_open(&g, f))
        return -1;
    prelude(&g, title ? title : "Per-block widths", "block index j", "width w_j (channels)");
    fputs("set key top left opaque box lc rgb '#c0c0c0' samplen 3\n", g.gp);
    fprintf(g.gp, "set xrange [0:%d]\n", max_blocks);
    if (lo > 0 && hi > 10 * lo)
        fputs("set logscale y 2\n", g.gp); /* widths double from stage to stage */
    fputs("plot \\\n", g.gp);
    int any_lin = 0;
    for (int i = 0; i < n; i++) {
        int lt = i % N_PALETTE + 1;
        int lin = isfinite(m[i].w0) && isfinite(m[i].wa);
        any_lin |= lin;
        /* Block j spans [j, j+1) on the staircase; the extra last row closes its step. */
        dat_block(&g, i, m[i].label, "block_j width_w_j linear_u_j");
        for (int j = 0; j <= m[i].n_blocks; j++) {
            int jj = j < m[i].n_blocks ? j : j - 1;
            fprintf(g.dat, "%d %d ", j, m[i].widths[jj]);
            put_num(g.dat, lin && j < m[i].n_blocks ? m[i].w0 + m[i].wa * j : NAN);
            fputc('\n', g.dat);
        }
        fprintf(g.gp, "    datafile index %d using 1:2 with steps lt %d title ", i, lt);
        put_str(g.gp, m[i].label);
        if (lin)
            fprintf(g.gp, ", \\\n    datafile index %d using 1:3 with lines lt %d dt 2 notitle", i,
                    lt);
        fputs(", \\\n", g.gp);
    }
    fputs("    keyentry with lines lc rgb '#404040' lw 2 title 'quantized widths w_j'", g.gp);
    if (any_lin)
        fputs(", \\\n    keyentry with lines lc rgb '#404040' lw 2 dt 2 "
              "title 'linear u_j = w0 + wa*j'",
              g.gp);
    fputs("\n", g.gp);
    return fig_close(&g, 0);
}

/* ------------------------------------------------ shared with the analysis figures ---- */
/* fig_internal.h: the pieces above for figure_analysis.c and scaling.c, so their figures
 * share the prelude, palette and quoting. */

struct ns_fig {
    struct fig g;
};

struct ns_fig *ns_fig_open(const struct ns_plot_files *f)
{
    struct ns_fig *g = malloc(sizeof *g);
    if (!g) {
        ns_err("%s: out of memory", f->gp);
        return NULL;
    }
    if (fig_open(&g->g, f)) {
        free(g);
        return NULL;
    }
    return g;
}

FILE *ns_fig_script(struct ns_fig *g)
{
    return g->g.gp;
}
FILE *ns_fig_data(struct ns_fig *g)
{
    return g->g.dat;
}

void ns_fig_prelude(struct ns_fig *g, const char *title, const char *xlabel, const char *ylabel)
{
    prelude(&g->g, title, xlabel, ylabel);
}

void ns_fig_block(struct ns_fig *g, int i, const char *name, const char *columns)
{
    dat_block(&g->g, i, name, columns);
}

void ns_fig_str(FILE *f, const char *s)
{
    put_str(f, s);
}
void ns_fig_num(FILE *f, double v)
{
    put_num(f, v);
}

const char *ns_fig_fmt_num(char *buf, size_t n, double v)
{
    return fmt_num(buf, n, v);
}

int ns_fig_palette_size(void)
{
    return N_PALETTE;
}

int ns_fig_lt(int i)
{
    return i % N_PALETTE + 1;
}

void ns_fig_clause(FILE *gp, int *first, int index, const char *using, const char *style, int lt,
                   const char *title)
{
    fputs(*first ? "plot \\\n" : ", \\\n", gp);
    *first = 0;
    fprintf(gp, "    datafile index %d using %s with %s lt %d ", index, using, style, lt);
    if (title) {
        fputs("title ", gp);
        put_str(gp, title);
    } else {
        fputs("notitle", gp);
    }
}

int ns_fig_close(struct ns_fig *g, int rc)
{
    rc = fig_close(&g->g, rc);
    free(g);
    return rc;
}
