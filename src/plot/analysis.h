/* The NDS analyses on top of plot.h: statistics that compare design spaces and size studies
 * (KS statistic, medians with bootstrap intervals, paired twins, random-search efficiency,
 * fidelity of early epochs and of short budgets, error trends over complexity, a scaling
 * study over its seeds), their figures, and the one-page HTML report of a results db.
 *
 * Layers as in plot.h:
 *   1. statistics on plain arrays (stats.c): no I/O; deterministic (the bootstraps draw from
 *      PCG32 seeded with the caller's seed and NS_STAT_STREAM), so the same inputs and seed
 *      give the same numbers on every machine;
 *   2. figures (figure_analysis.c; scaling.c for plot scaling's): OUT.gp and OUT.dat beside
 *      OUT.png|.svg, as plot.h;
 *   3. from a db (analysis.c: the new kinds of ns_plot_make; scaling.c: plot scaling;
 *      compare.c: compare; report.c: the page).
 *
 * Degenerate input is a value, never a crash: a statistic that is undefined for its input
 * (one model, all errors tied) is NAN, and the figure writers leave NAN points out of the
 * data (a gap, never a NaN drawn), saying so in the legend.
 *
 * Errors: -1 (or NULL) with ns_err() set; messages name the study. */
#ifndef NS_PLOT_ANALYSIS_H
#define NS_PLOT_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "plot/plot.h"

/* The PCG32 stream of every bootstrap below ("stat"). */
#define NS_STAT_STREAM 0x73746174ull
#define NS_STAT_RESAMPLES 2000

/* ------------------------------------------------------------------ statistics ---------- */

/* Two-sample Kolmogorov-Smirnov: D = sup_e |F_a(e) - F_b(e)| over the two (weighted) EDFs,
 * each normalized to total weight 1 (w NULL: 1/n each). p is the asymptotic p-value of D
 * (the Kolmogorov distribution, with Stephens' small-sample correction, as in Numerical
 * Recipes): p = Q((sqrt(m) + 0.12 + 0.11/sqrt(m)) * D), Q(l) = 2 sum_k (-1)^(k-1)
 * exp(-2 k^2 l^2), where m = ma*mb/(ma + mb) and ma = (sum w)^2 / sum w^2 is a sample's
 * effective size (its n when unweighted; smaller for complexity-normalized weights). Ties,
 * within and across samples, are handled exactly (F is evaluated after each distinct error).
 * Needs na, nb >= 1 with some positive weight each; finite errors, weights >= 0. */
struct ns_ks {
    double d, p, m; /* m: the effective sample size the p-value used */
};
int ns_stat_ks(const double *a, const double *wa, size_t na, const double *b, const double *wb,
               size_t nb, struct ns_ks *out);
/* Q(l): the probability that the Kolmogorov statistic exceeds l (1 for l <= 0). */
double ns_stat_kolmogorov_q(double l);

/* An estimate with a 95 % interval (the 2.5 and 97.5 percentiles of its bootstrap). */
struct ns_ci {
    double est, lo, hi;
};

/* Median of n values (any order; ns_plot_percentile at 50). NAN when n == 0. */
double ns_stat_median(const double *x, size_t n);

/* The median of x with a percentile-bootstrap interval: `resamples` resamples of n values with
 * replacement. n >= 1 (n == 1 gives a zero-width interval). */
int ns_stat_median_ci(const double *x, size_t n, int resamples, uint64_t seed, struct ns_ci *out);
/* median(b) - median(a), each study resampled on its own (they are independent samples). */
int ns_stat_median_diff_ci(const double *a, size_t na, const double *b, size_t nb, int resamples,
                           uint64_t seed, struct ns_ci *out);

/* Paired comparison of twins: d_i = b_i - a_i (negative: b better). Wins count strictly
 * lower errors; equal errors are ties. The intervals resample the n pairs together. */
struct ns_paired {
    size_t n, b_better, a_better, ties;
    struct ns_ci mean, median; /* of d */
};
int ns_stat_paired(const double *a, const double *b, size_t n, int resamples, uint64_t seed,
                   struct ns_paired *out);

/* Random-search efficiency (NDS Fig. 6): the expected minimum error of k models drawn from
 * the EDF e (weighted or not), for k = 1..kmax, into out[k-1]. With F_i the (normalized)
 * weight of errors <= x_i, P(min of k <= x_i) = 1 - (1 - F_i)^k, so E[min] = sum_i x_i *
 * ((1 - F_{i-1})^k - (1 - F_i)^k) exactly. kmax >= 1. */
int ns_stat_rs_curve(const struct ns_edf *e, int kmax, double *out);
/* Its bootstrap band: `resamples` times draw n models with probability proportional to w
 * (w NULL: uniformly), each then weighing the same, and compute the curve; lo[k-1], hi[k-1]
 * are the 2.5 and 97.5 percentiles over the resamples. */
int ns_stat_rs_band(const double *err, const double *w, size_t n, int kmax, int resamples,
                    uint64_t seed, double *lo, double *hi);

/* Rank correlations of n pairs: Spearman's rho (Pearson correlation of the ranks, ties at
 * their average rank) and Kendall's tau-b (concordant minus discordant pairs over
 * sqrt((n0 - n1)(n0 - n2)), n1, n2 the pairs tied in a, in b; O(n log n)). NAN when undefined:
 * n < 2 or every value of a (or of b) tied. */
double ns_stat_spearman(const double *a, const double *b, size_t n);
double ns_stat_kendall(const double *a, const double *b, size_t n);
/* Spearman's rho with a 95 % percentile-bootstrap interval: `resamples` times draw n pairs
 * with replacement (PCG stream of seed) and take rho; lo and hi the 2.5 and 97.5
 * percentiles of the resamples whose rho is defined. est NAN as ns_stat_spearman; lo, hi
 * NAN when n < 2 or fewer than half the resamples have a defined rho. 0, or -1 (ns_err) out
 * of memory. */
int ns_stat_spearman_ci(const double *a, const double *b, size_t n, int resamples, uint64_t seed,
                        struct ns_ci *out);
/* Overlap of the top fraction: with m = ceil(frac * n) (at least 1), the share of the m
 * lowest values of b whose models are also among the m lowest of a (ties broken by index).
 * NAN when n == 0. */
double ns_stat_top_overlap(const double *a, const double *b, size_t n, double frac);

/* Error against a complexity in bins (NDS Fig. 15): edges over [min x, max x] (log-spaced
 * when log_bins; the last bin includes max x); per bin the count, mean error and sample
 * standard deviation (0 for one model). Models with a non-finite x or error are left out.
 * An empty bin has n == 0 (and NAN mean, sd: the figure leaves it out). One distinct x gives
 * one bin. Returns the number of bins filled in (<= bins), or -1. */
struct ns_trend_bin {
    double lo, hi, center; /* center: geometric (log bins) or arithmetic mean of the edges */
    size_t n;
    double mean, sd;
};
int ns_stat_trend(const double *x, const double *err, size_t n, int bins, int log_bins,
                  struct ns_trend_bin *out);

/* ------------------------------------------------------------------ figures ------------- */

struct ns_plot_rs_series {
    const char *name;
    size_t n;                     /* models the EDF holds */
    int kmax;                     /* points: k = 1..kmax */
    const double *mean, *lo, *hi; /* kmax values each */
};

/* Expected minimum error against k (log x), a translucent band per series. */
int ns_plot_fig_rs(const struct ns_plot_files *f, const struct ns_plot_rs_series *s, int n_series,
                   const char *title, const char *error_name, int resamples);

struct ns_plot_fidelity_series {
    const char *name;
    size_t n;                                 /* models with every epoch */
    int epochs;                               /* points: epoch 1..epochs */
    const double *spearman, *kendall, *top10; /* per epoch; NAN points are left out */
};

/* Rank agreement of the error after epoch k with the final error: rho solid, tau dashed,
 * top-10 % overlap dotted, y in [-1, 1]. */
int ns_plot_fig_fidelity(const struct ns_plot_files *f, const struct ns_plot_fidelity_series *s,
                         int n_series, const char *title);

/* One twin study of a budget figure: its twins with the reference study trained for
 * `epochs` epochs instead of the reference's. */
struct ns_plot_budget_series {
    const char *name;
    size_t n;          /* twins with the reference */
    int epochs;        /* the study's recipe.epochs */
    struct ns_ci rho;  /* Spearman's rho with its bootstrap interval (lo, hi NAN: none) */
    double tau, top10; /* Kendall's tau-b, top-10 % overlap; NAN: left out */
};

/* Agreement of each study's ranking of the twins with the reference's against its epochs:
 * rho with its interval as error bars, tau and the top-10 % overlap as points, x tics at the
 * studies' epochs, y in [-1, 1]. A study of ref_epochs (the reference's budget, so another
 * training seed) is the ceiling: its rho a dashed horizontal line in a light band (its
 * interval), not a point. `resamples` for the legend. */
int ns_plot_fig_budget(const struct ns_plot_files *f, const char *ref, int ref_epochs,
                       const struct ns_plot_budget_series *s, int n_series, const char *title,
                       int resamples);

struct ns_plot_trend_series {
    const char *name;
    size_t n;
    const double *x, *err;
    const struct ns_trend_bin *bins;
    int n_bins;
};

/* Scatter of error against a complexity with each bin's mean (line) and mean +- 2 sd (bars);
 * logx: 1 log, 0 linear, -1 automatic (as plot param). */
int ns_plot_fig_trend(const struct ns_plot_files *f, const struct ns_plot_trend_series *s,
                      int n_series, const char *title, const char *xname, const char *error_name,
                      int logx);

/* The models of a scaling study trained from several seeds (one study per seed, trial i the
 * same architecture in each): per trial index, its sampled dim and target and its errors
 * over the studies where it has one. */
struct ns_scaling_model {
    int trial;
    int dim;       /* enum ns_scale_dim (space.h): 0 base, 1 depth, 2 width, 3 resolution,
                      4 compound */
    double target; /* the flops multiple it was scaled to (1: the base) */
    double flops, params;
    int n;                 /* seeds (studies) with an error */
    double mean, min, max; /* over those n */
    const double *err;     /* n_studies errors, one per study in order; NAN: none */
};
struct ns_scaling_table {
    int n_studies;
    char **studies;         /* the studies (seeds), in the order of err */
    const char *error_name; /* what err holds: ns_plot_error_label's words (static) */
    int n;
    struct ns_scaling_model *m; /* ordered by dim, target, trial: the base first */
    double *err;                /* n * n_studies: the m[i].err */
};
void ns_scaling_table_free(struct ns_scaling_table *t);

/* Error against flops (log x), one line per scaling dimension of t, each from the base (dim
 * 0) through that dimension's models in increasing target; a point is the mean over the seeds
 * with bars from their min to max, each seed's error a small circle at the same x (the data
 * file's block header numbers the seeds, ending in "..." when they do not fit). Only the
 * base: one point. t->n >= 1; y labelled with t->error_name. */
int ns_plot_fig_scaling(const struct ns_plot_files *f, const struct ns_scaling_table *t,
                        const char *title);

/* ------------------------------------------------------------------ from a db ----------- */

/* The analysis plots of `netspace plot`. They take their common settings from struct
 * ns_plot_req (plot.h: db, out, title, studies, error_best, failed_chance, resamples, seed,
 * logx) and:
 *   rs        normalize, bins, have_range/lo/hi, linear_bins as edf; kmax below
 *   fidelity  nothing more (per-epoch errors against the final error: test, or validation
 *             on a data.val_split study, as ns_plot_error_label says)
 *   budget    studies: the reference (the full budget) first, then its twin studies (the
 *             same architectures trained for recipe.epochs of their stored experiment);
 *             resamples, seed: rho's bootstrap as ns_compare's (NS_STAT_RESAMPLES, seed 0
 *             give compare --paired's numbers). Fewer than two studies, a study without
 *             twins or without recipe.epochs is an error (no study is left out)
 *   trend     param: the complexity (flops, params or acts; NULL: flops), bins
 *   effects   out is a stem: one image OUT-PARAM.EXT per sampled parameter of the studies
 *             (studies with fewer than 4 models with the parameter are left out of its
 *             figure; a parameter no study has 4 of, or with one value in every model, is
 *             skipped; each noted in *log)
 *   scaling   ns_scaling_table_load's table drawn by ns_plot_fig_scaling (scaling.c)
 * A study that cannot take part (no complete trials; for fidelity, no per-epoch rows) is
 * left out with a note in *log when others remain, else the error says why.
 * *written (may be NULL) receives the images written, one a line (malloc'd). */
enum ns_plot_analysis_kind {
    NS_PLOT_RS,
    NS_PLOT_FIDELITY,
    NS_PLOT_TREND,
    NS_PLOT_EFFECTS,
    NS_PLOT_BUDGET,
    NS_PLOT_SCALING
};
struct ns_plot_analysis_opts {
    enum ns_plot_analysis_kind kind;
    int kmax; /* rs: largest k (0: the largest study's n, at most 100) */
};
int ns_plot_make_analysis(const struct ns_plot_req *r, const struct ns_plot_analysis_opts *o,
                          char **log, char **written);

/* plot scaling in two steps, so that a caller can show the numbers even when the figure
 * cannot be drawn (no gnuplot):
 * ns_scaling_table_load: the table of a scaling study trained from several seeds, from r's
 *   db (r->db, studies, error_best, failed_chance; r->out is not read). r->studies are the
 *   seeds, one study each (a "scaling" space: trials sample dim and target), paired by trial
 *   index as twins (ns_study_twins: the same architecture in each, else an error naming the
 *   study and trial); NULL/0: every study of the db whose trials sample a dim. The seeds
 *   must be of one scaling study: their base networks (the first trial with a dim) equal,
 *   else an error listing the groups of studies that share one. A named study without dim
 *   is an error; trials not complete in a study (waiting, running, failed and dropped) are
 *   left out with a note in *log (malloc'd or NULL), and so are studies with no complete
 *   trial while others remain. 0 with *t filled (free it with ns_scaling_table_free), or -1
 *   with ns_err and *t zeroed.
 * ns_plot_scaling_draw: t's figure at r->out (r->title) with its .gp and .dat, drawn by
 *   gnuplot; *log its notes, *written the image (malloc'd; either may be NULL). 0 or -1
 *   (ns_err; "gnuplot not found ..." when it is missing, after the script and data are
 *   written). ns_plot_make_analysis's scaling is the two in one. */
int ns_scaling_table_load(const struct ns_plot_req *r, struct ns_scaling_table *t, char **log);
int ns_plot_scaling_draw(const struct ns_plot_req *r, const struct ns_scaling_table *t, char **log,
                         char **written);

/* The error a failed trial counts at under --failed chance: 100*(1 - 1/classes), classes from
 * its config (10 when unreadable). In make.c, beside the plots that use it too. */
struct ns_db_trial;
double ns_plot_chance_error(const struct ns_db_trial *t);

/* The parameters a study sampled: the typed columns (ns_db_param_names) any of its finished
 * trials has, then other_params keys, into *names (malloc'd array of malloc'd strings), with
 * *counts (malloc'd) the models having each and an error (as error_best, failed_chance) and
 * the range of its values over them. */
struct ns_db;
struct ns_param_count {
    int n;
    double lo, hi;
};
int ns_plot_sampled_params(struct ns_db *db, int64_t study, int error_best, int failed_chance,
                           char ***names, struct ns_param_count **counts, int *n);
void ns_plot_names_free(char **names, int n);

/* netspace compare: two studies' error distributions. */
struct ns_compare_req {
    const char *db;
    const char *a, *b; /* study names */
    int error_best, failed_chance;
    const char *normalize; /* NULL or flops/params/acts: also the weighted KS */
    int bins, linear_bins, have_range;
    double lo, hi;
    int paired; /* twins by trial index (same architecture: equal config hash) */
    int resamples;
    uint64_t seed;
};

struct ns_compare_result {
    const char *error_label; /* what the errors are (ns_plot_error_label): "validation
                                error" when both studies evaluate on data.val_split, ... */
    size_t na, nb, na_failed, nb_failed;
    struct ns_ks ks, ks_weighted;        /* ks_weighted.d NAN without normalize */
    double w_lo, w_hi;                   /* the normalization range used */
    struct ns_ci med_a, med_b, med_diff; /* diff: b - a */
    /* paired */
    size_t pairs, unmatched; /* unmatched: same index, different architecture (left out) */
    struct ns_paired p;
    double med_pa, med_pb; /* medians of the paired errors */
    /* do the twins rank alike? Spearman's rho and Kendall's tau-b of their errors and the
     * overlap of their top 10 % (ns_stat_top_overlap; B's best among A's); NAN if undefined */
    struct ns_ci rho; /* with its bootstrap interval (the pairs resampled together) */
    double tau, top10;
};
int ns_compare(const struct ns_compare_req *r, struct ns_compare_result *out);

/* netspace report: write DIR/index.html and its SVG figures (with their .gp and .dat) for
 * the named studies (NULL/0: all). Figures that cannot be drawn (an empty study, no
 * per-epoch rows, ...) are replaced by a sentence saying why; only an unreadable db, an
 * unknown study, an unwritable DIR or a missing gnuplot are errors. *warnings (may be NULL)
 * receives the figures left out, one per line (malloc'd or NULL). */
struct ns_report_req {
    const char *db, *out_dir, *title;
    const char *const *studies;
    int n_studies;
    int error_best, failed_chance;
    int top; /* trials listed per study (default 10) */
    int resamples;
    uint64_t seed;
};
int ns_report(const struct ns_report_req *r, char **warnings);

#endif
