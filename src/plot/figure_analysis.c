/* The analysis figures of analysis.h (random-search efficiency, fidelity, budget, trend) as a
 * gnuplot script and a data file, with the prelude of the other figures (fig_internal.h).
 * Undefined values (NAN) never reach the data file: their rows are left out. */
#include "plot/analysis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/fig_internal.h"
#include "util/err.h"

/* ------------------------------------------------------------------ random search ---- */

int ns_plot_fig_rs(const struct ns_plot_files *f, const struct ns_plot_rs_series *s, int n_series,
                   const char *title, const char *error_name, int resamples)
{
    if (n_series < 1)
        return ns_err("rs: no studies to plot");
    for (int i = 0; i < n_series; i++) {
        if (s[i].kmax < 1)
            return ns_err("rs: study '%s': no points", s[i].name);
        for (int k = 0; k < s[i].kmax; k++)
            if (!isfinite(s[i].mean[k]) || !isfinite(s[i].lo[k]) || !isfinite(s[i].hi[k]))
                return ns_err("rs: study '%s': k = %d is not a number", s[i].name, k + 1);
    }
    struct ns_fig *g = ns_fig_open(f);
    if (!g)
        return -1;
    FILE *gp = ns_fig_script(g), *dat = ns_fig_data(g);
    char ylabel[160];
    snprintf(ylabel, sizeof ylabel, "expected minimum %s of k models (%%)", error_name);
    ns_fig_prelude(g, title ? title : "Random-search efficiency", "k: models sampled", ylabel);
    int kmax = 1;
    for (int i = 0; i < n_series; i++)
        kmax = s[i].kmax > kmax ? s[i].kmax : kmax;
    fprintf(gp,
            "set logscale x 2\nset xrange [1:%d]\nset key top right opaque box "
            "lc rgb '#c0c0c0' samplen 2 font ',10'\n",
            kmax > 1 ? kmax : 2);
    fprintf(gp, "set key title 'bands: 95%% of %d bootstrap resamples of the EDF' font ',10'\n",
            resamples);
    int first = 1;
    for (int i = 0; i < n_series; i++) {
        ns_fig_block(g, i, s[i].name, "k expected_min(%) lo(%) hi(%)");
        for (int k = 0; k < s[i].kmax; k++) {
            fprintf(dat, "%d ", k + 1);
            ns_fig_num(dat, s[i].mean[k]);
            fputc(' ', dat);
            ns_fig_num(dat, s[i].lo[k]);
            fputc(' ', dat);
            ns_fig_num(dat, s[i].hi[k]);
            fputc('\n', dat);
        }
        char label[512];
        int last = s[i].kmax - 1;
        snprintf(label, sizeof label, "%s  (n=%zu): k=1 %.2f%%, k=%d %.2f%%", s[i].name, s[i].n,
                 s[i].mean[0], last + 1, s[i].mean[last]);
        ns_fig_clause(gp, &first, i, "1:3:4", "filledcurves fs transparent solid 0.15 noborder",
                      ns_fig_lt(i), NULL);
        ns_fig_clause(gp, &first, i, "1:2", "linespoints ps 0.4", ns_fig_lt(i), label);
    }
    fputs("\n", gp);
    return ns_fig_close(g, 0);
}

/* ------------------------------------------------------------------ fidelity --------- */

int ns_plot_fig_fidelity(const struct ns_plot_files *f, const struct ns_plot_fidelity_series *s,
                         int n_series, const char *title)
{
    if (n_series < 1)
        return ns_err("fidelity: no studies to plot");
    static const char *const metric[3] = {"Spearman rho", "Kendall tau", "top-10% overlap"};
    static const char *const dash[3] = {"1", "2", "3"};
    int any = 0;
    for (int i = 0; i < n_series; i++) {
        const double *v[3] = {s[i].spearman, s[i].kendall, s[i].top10};
        for (int m = 0; m < 3; m++)
            for (int e = 0; e < s[i].epochs; e++)
                any |= isfinite(v[m][e]);
    }
    if (!any)
        return ns_err("fidelity: no rank correlation is defined (every study needs 2 models "
                      "with distinct errors)");
    struct ns_fig *g = ns_fig_open(f);
    if (!g)
        return -1;
    FILE *gp = ns_fig_script(g), *dat = ns_fig_data(g);
    ns_fig_prelude(g, title ? title : "Fidelity: ranking after epoch k against the final ranking",
                   "epoch k", "agreement with the final error");
    int max_ep = 1;
    for (int i = 0; i < n_series; i++)
        max_ep = s[i].epochs > max_ep ? s[i].epochs : max_ep;
    fprintf(gp,
            "set yrange [-1:1.05]\nset xrange [1:%d]\nset key outside below center vertical "
            "samplen 3 font ',10'\nset xlabel offset 0,0.5\n",
            max_ep > 1 ? max_ep : 2);
    if (max_ep <= 20)
        fputs("set xtics 1\nset mxtics 1\n", gp);
    /* One index block per defined series; gnuplot does not count a block without data
     * rows, so an undefined one is only a comment. */
    int first = 1, block = 0;
    for (int i = 0; i < n_series; i++) {
        const double *v[3] = {s[i].spearman, s[i].kendall, s[i].top10};
        for (int m = 0; m < 3; m++) {
            int rows = 0;
            for (int e = 0; e < s[i].epochs; e++)
                rows += isfinite(v[m][e]) != 0;
            char name[320];
            snprintf(name, sizeof name, "%s: %s", s[i].name, metric[m]);
            if (rows == 0) {
                fputs(block ? "\n# " : "# ", dat);
                fprintf(dat, "%s: undefined at every epoch (all errors tied): left out\n", name);
                continue;
            }
            ns_fig_block(g, block, name, "epoch value");
            for (int e = 0; e < s[i].epochs; e++)
                if (isfinite(v[m][e])) {
                    fprintf(dat, "%d ", e + 1);
                    ns_fig_num(dat, v[m][e]);
                    fputc('\n', dat);
                }
            char label[512], style[64];
            snprintf(label, sizeof label, "%s  (n=%zu): %s", s[i].name, s[i].n, metric[m]);
            snprintf(style, sizeof style, "linespoints dt %s ps 0.5", dash[m]);
            ns_fig_clause(gp, &first, block, "1:2", style, ns_fig_lt(i), label);
            block++;
        }
    }
    fputs("\n", gp);
    return ns_fig_close(g, 0);
}

/* ------------------------------------------------------------------ budget ----------- */

/* "rho 0.68 [0.18, 0.93], tau 0.52, top-10% 0.50" for the key (what is undefined said so or
 * left out). */
static void budget_numbers(char *buf, size_t n, const struct ns_plot_budget_series *b)
{
    char rho[64], tau[32] = "", top[32] = "";
    if (!isfinite(b->rho.est))
        snprintf(rho, sizeof rho, "rho undefined");
    else if (isfinite(b->rho.lo) && isfinite(b->rho.hi))
        snprintf(rho, sizeof rho, "rho %.2f [%.2f, %.2f]", b->rho.est, b->rho.lo, b->rho.hi);
    else
        snprintf(rho, sizeof rho, "rho %.2f (no interval)", b->rho.est);
    if (isfinite(b->tau))
        snprintf(tau, sizeof tau, ", tau %.2f", b->tau);
    if (isfinite(b->top10))
        snprintf(top, sizeof top, ", top-10%% %.2f", b->top10);
    snprintf(buf, n, "%s%s%s", rho, tau, top);
}

int ns_plot_fig_budget(const struct ns_plot_files *f, const char *ref, int ref_epochs,
                       const struct ns_plot_budget_series *s, int n_series, const char *title,
                       int resamples)
{
    if (n_series < 1)
        return ns_err("budget: no twin studies to plot");
    int any = 0; /* something to draw: a short budget's number or a ceiling's rho */
    for (int i = 0; i < n_series; i++)
        any |= s[i].epochs == ref_epochs
                   ? isfinite(s[i].rho.est)
                   : isfinite(s[i].rho.est) || isfinite(s[i].tau) || isfinite(s[i].top10);
    if (!any)
        return ns_err("budget: no rank correlation is defined (the twins need 2 models with "
                      "distinct errors)");
    /* order: the short budgets by epochs (insertion sort: a handful of studies), for the
     * lines through them, then the ceilings (studies at the reference's budget) as given. */
    int *order = malloc((size_t)n_series * sizeof *order), n_short = 0;
    if (!order)
        return ns_err("budget: out of memory");
    for (int i = 0; i < n_series; i++) {
        if (s[i].epochs == ref_epochs)
            continue;
        int k = n_short++;
        while (k > 0 && s[order[k - 1]].epochs > s[i].epochs) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
    }
    for (int i = 0, k = n_short; i < n_series; i++)
        if (s[i].epochs == ref_epochs)
            order[k++] = i;
    int lo = n_short ? s[order[0]].epochs : ref_epochs;
    int hi = n_short ? s[order[n_short - 1]].epochs : ref_epochs;
    /* the ceilings span the axis: 6 % of the budgets' span beyond them (1 around one) */
    double pad = hi > lo ? 0.06 * (hi - lo) : 1, x0 = lo - pad, x1 = hi + pad;
    struct ns_fig *g = ns_fig_open(f);
    if (!g) {
        free(order);
        return -1;
    }
    FILE *gp = ns_fig_script(g), *dat = ns_fig_data(g);
    char tbuf[320], ylabel[320];
    snprintf(tbuf, sizeof tbuf, "Short budgets: the twins' ranking against %s's (%d epochs)", ref,
             ref_epochs);
    snprintf(ylabel, sizeof ylabel, "agreement with %s's ranking", ref);
    ns_fig_prelude(g, title ? title : tbuf, "epochs of the short schedule", ylabel);
    fprintf(gp, "set yrange [-1:1.05]\nset xrange [%.6g:%.6g]\nset xtics (", x0, x1);
    if (n_short == 0)
        fprintf(gp, "%d", ref_epochs);
    for (int k = 0; k < n_short; k++)
        if (k == 0 || s[order[k]].epochs != s[order[k - 1]].epochs)
            fprintf(gp, "%s%d", k ? ", " : "", s[order[k]].epochs);
    /* the key's text left-aligned (its list of studies has no samples); height 1: else a long
     * key below reaches up into the x label */
    fputs(")\nunset mxtics\nset key outside below center vertical Left reverse samplen 3 "
          "font ',10' height 1\n",
          gp);
    static const char *const metric[3] = {"Spearman rho", "Kendall tau", "top-10% overlap"};
    int first = 1, block = 0;
    for (int m = 0; m < 3; m++) {
        int rows = 0;
        for (int k = 0; k < n_short; k++) {
            const struct ns_plot_budget_series *b = &s[order[k]];
            rows += isfinite(m == 0 ? b->rho.est : m == 1 ? b->tau : b->top10) != 0;
        }
        char name[320];
        snprintf(name, sizeof name, "%s with %s's", metric[m], ref);
        if (rows == 0) {
            if (n_short > 0)
                fprintf(dat, "%s# %s: undefined for every study (all errors tied): left out\n",
                        block ? "\n" : "", name);
            continue;
        }
        ns_fig_block(g, block, name, m == 0 ? "epochs rho lo hi twins" : "epochs value twins");
        for (int k = 0; k < n_short; k++) {
            const struct ns_plot_budget_series *b = &s[order[k]];
            double v = m == 0 ? b->rho.est : m == 1 ? b->tau : b->top10;
            if (!isfinite(v))
                continue;
            fprintf(dat, "%d ", b->epochs);
            ns_fig_num(dat, v);
            if (m == 0) {
                /* no interval (too few resamples rank): a bar of zero width, never a NaN */
                int ci = isfinite(b->rho.lo) && isfinite(b->rho.hi);
                fputc(' ', dat);
                ns_fig_num(dat, ci ? b->rho.lo : v);
                fputc(' ', dat);
                ns_fig_num(dat, ci ? b->rho.hi : v);
            }
            fprintf(dat, " %zu\n", b->n);
        }
        char label[320];
        if (m == 0)
            snprintf(label, sizeof label,
                     "Spearman rho, bars: 95%% of %d bootstrap resamples of the twins", resamples);
        ns_fig_clause(gp, &first, block, m == 0 ? "1:2:3:4" : "1:2",
                      m == 0   ? "yerrorlines ps 0.8"
                      : m == 1 ? "linespoints dt 2 pt 5 ps 0.7"
                               : "linespoints dt 3 pt 9 ps 0.9",
                      m + 1, m == 0 ? label : metric[m]);
        block++;
    }
    /* One ceiling per study at the reference's budget: its rho across the axis. */
    for (int k = n_short; k < n_series; k++) {
        const struct ns_plot_budget_series *b = &s[order[k]];
        char name[320];
        snprintf(name, sizeof name, "%s: same budget, another training seed (ceiling)", b->name);
        if (!isfinite(b->rho.est)) {
            fprintf(dat, "%s# %s: rho undefined (all errors tied): left out\n", block ? "\n" : "",
                    name);
            continue;
        }
        int ci = isfinite(b->rho.lo) && isfinite(b->rho.hi);
        ns_fig_block(g, block, name, "epochs rho lo hi twins");
        for (int e = 0; e < 2; e++) {
            ns_fig_num(dat, e ? x1 : x0);
            fputc(' ', dat);
            ns_fig_num(dat, b->rho.est);
            fputc(' ', dat);
            ns_fig_num(dat, ci ? b->rho.lo : b->rho.est);
            fputc(' ', dat);
            ns_fig_num(dat, ci ? b->rho.hi : b->rho.est);
            fprintf(dat, " %zu\n", b->n);
        }
        /* after the three metrics' colours */
        int lt = 4 + (k - n_short) % (ns_fig_palette_size() - 3);
        if (ci)
            ns_fig_clause(gp, &first, block, "1:3:4",
                          "filledcurves fs transparent solid 0.15 noborder", lt, NULL);
        ns_fig_clause(gp, &first, block, "1:2", "lines dt 2", lt, name);
        block++;
    }
    /* The key's list of studies: budget, twins and the three numbers. */
    for (int k = 0; k < n_series; k++) {
        const struct ns_plot_budget_series *b = &s[order[k]];
        char nums[160], label[512];
        budget_numbers(nums, sizeof nums, b);
        snprintf(label, sizeof label, "%s: %d epoch%s, %zu twins: %s", b->name, b->epochs,
                 b->epochs == 1 ? "" : "s", b->n, nums);
        fputs(first ? "plot \\\n" : ", \\\n", gp);
        first = 0;
        fputs("    keyentry with points ps 0 title ", gp);
        ns_fig_str(gp, label);
    }
    fputs("\n", gp);
    free(order);
    return ns_fig_close(g, 0);
}

/* ------------------------------------------------------------------ trend ------------ */

int ns_plot_fig_trend(const struct ns_plot_files *f, const struct ns_plot_trend_series *s,
                      int n_series, const char *title, const char *xname, const char *error_name,
                      int logx)
{
    if (n_series < 1)
        return ns_err("trend: no studies to plot");
    double lo = INFINITY, hi = -INFINITY;
    int all_pos = 1, points = 0;
    for (int i = 0; i < n_series; i++)
        for (size_t j = 0; j < s[i].n; j++)
            if (isfinite(s[i].x[j]) && isfinite(s[i].err[j])) {
                lo = fmin(lo, s[i].x[j]);
                hi = fmax(hi, s[i].x[j]);
                all_pos &= s[i].x[j] > 0;
                points++;
            }
    if (points == 0)
        return ns_err("trend: no models with a %s and an error", xname);
    if (logx < 0)
        logx = all_pos && hi > 10 * lo;
    if (logx && !all_pos)
        return ns_err("trend: a log %s axis needs values > 0", xname);
    struct ns_fig *g = ns_fig_open(f);
    if (!g)
        return -1;
    FILE *gp = ns_fig_script(g), *dat = ns_fig_data(g);
    char tbuf[256], ylabel[160];
    snprintf(tbuf, sizeof tbuf, "%s against %s: bin means +- 2 sd", error_name, xname);
    snprintf(ylabel, sizeof ylabel, "%s (%%)", error_name);
    ns_fig_prelude(g, title ? title : tbuf, xname, ylabel);
    if (logx) {
        fputs("set logscale x 10\n", gp);
        if (lo < hi)
            fprintf(gp, "set xrange [%.6g:%.6g]\n", lo / 1.15, hi * 1.15);
        if (hi >= 1e4)
            fputs("set format x '%.0s%c'\n", gp);
    }
    fputs("set key outside below center vertical samplen 2 font ',10'\n"
          "set xlabel offset 0,0.5\n",
          gp);
    /* Blocks only for series with rows (gnuplot does not count empty blocks). */
    int first = 1, block = 0;
    for (int i = 0; i < n_series; i++) {
        size_t pts = 0;
        int filled = 0;
        for (size_t j = 0; j < s[i].n; j++)
            pts += isfinite(s[i].x[j]) && isfinite(s[i].err[j]);
        for (int b = 0; b < s[i].n_bins; b++)
            filled += s[i].bins[b].n > 0 && isfinite(s[i].bins[b].mean);
        if (pts == 0) {
            fprintf(dat, "%s# %s: no models with a %s: left out\n", block ? "\n" : "", s[i].name,
                    xname);
            continue;
        }
        ns_fig_block(g, block, s[i].name, "x error(%)");
        for (size_t j = 0; j < s[i].n; j++)
            if (isfinite(s[i].x[j]) && isfinite(s[i].err[j])) {
                ns_fig_num(dat, s[i].x[j]);
                fputc(' ', dat);
                ns_fig_num(dat, s[i].err[j]);
                fputc('\n', dat);
            }
        char label[512];
        snprintf(label, sizeof label, "%s  (n=%zu)", s[i].name, pts);
        ns_fig_clause(gp, &first, block++, "1:2", "points ps 0.4", ns_fig_lt(i), label);
        if (!filled)
            continue;
        char name[320];
        snprintf(name, sizeof name, "%s: bins", s[i].name);
        ns_fig_block(g, block, name, "bin_center mean(%) mean-2sd mean+2sd n bin_lo bin_hi");
        for (int b = 0; b < s[i].n_bins; b++) {
            const struct ns_trend_bin *t = &s[i].bins[b];
            if (t->n == 0 || !isfinite(t->mean))
                continue;
            double sd = isfinite(t->sd) ? t->sd : 0;
            double v[7] = {t->center, t->mean, t->mean - 2 * sd, t->mean + 2 * sd, (double)t->n,
                           t->lo,     t->hi};
            for (int c = 0; c < 7; c++) {
                ns_fig_num(dat, v[c]);
                fputc(c < 6 ? ' ' : '\n', dat);
            }
        }
        snprintf(label, sizeof label, "%s: mean +- 2 sd in %d bins", s[i].name, filled);
        ns_fig_clause(gp, &first, block++, "1:2:3:4", "yerrorlines lw 2 ps 0.8", ns_fig_lt(i),
                      label);
    }
    fputs("\n", gp);
    return ns_fig_close(g, 0);
}
