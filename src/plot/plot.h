/* Analysis plots: the statistics (EDF, complexity-normalized EDF, bootstrap best-model
 * range), the gnuplot script and data writers, and the four figures of `netspace plot`
 * (edf, param, curves, models) read from a results db (read-only, through src/store).
 *
 * Three layers, each usable alone:
 *   1. statistics on plain arrays (edf.c): no I/O, no allocation the caller must track
 *      except struct ns_edf;
 *   2. figures (figure.c): write OUT.gp and OUT.dat beside OUT.png|OUT.svg from plain
 *      series, and run gnuplot on them (gnuplot.c);
 *   3. ns_plot_make() (make.c): load from a db, compute, write, run.
 *
 * Files: for --out DIR/NAME.png (or .svg) the figure writes DIR/NAME.gp (the script) and
 * DIR/NAME.dat (all its data, one gnuplot `index` block per series). The script names the
 * data file and the image by their base names only, and gnuplot is run from DIR, so the
 * files stay together and a user restyles a plot with `cd DIR && gnuplot NAME.gp`. A PNG
 * uses the pngcairo terminal; a script re-run where gnuplot lacks pngcairo falls back to the
 * libgd `png` terminal and prints a note (GPVAL_TERMINALS is checked inside the script).
 *
 * Errors: -1 (or NULL) with ns_err() set; messages name the study, option or file.
 * Units: errors in percent; complexities as stored (flops = multiply-adds per image). */
#ifndef NS_PLOT_H
#define NS_PLOT_H

#include <stdio.h>

#include <stddef.h>
#include <stdint.h>

struct ns_db;

/* ------------------------------------------------------------------ statistics ---------- */

/* An empirical distribution function as a right-continuous step curve: n distinct error
 * values x[0] < ... < x[n-1] and y[i] = total weight of the models with error <= x[i].
 * F(e) = fraction (weight) of models with error < e is then y[i-1] for x[i-1] < e <= x[i]
 * (0 left of x[0], y[n-1] right of x[n-1]); gnuplot's `steps` style draws exactly this. */
struct ns_edf {
    size_t n;
    double *x, *y; /* malloc'd; free with ns_edf_free() */
};

/* The EDF of n errors with weights w (NULL: 1/n each, so y ends at 1). Tied errors form one
 * step carrying their summed weight. The cumulative sum runs in error order (ties in input
 * order), so the result is reproducible bit for bit. Errors must be finite and weights
 * finite and >= 0; n >= 1. Returns 0 or -1; *out is zeroed on error. */
int ns_plot_edf(const double *err, const double *w, size_t n, struct ns_edf *out);
void ns_edf_free(struct ns_edf *e);
/* F(e): the weight of models with error strictly below e. */
double ns_edf_at(const struct ns_edf *e, double x);

/* k+1 bin edges of (lo, hi) into edges[]: log-spaced (equal ratios, the norm for flops and
 * params, which spread over decades) when log_bins, else equal widths. Requires lo < hi,
 * k >= 1 and lo > 0 for log bins; returns 0 or -1. */
int ns_plot_bin_edges(double lo, double hi, int k, int log_bins, double *edges);

/* Complexity-normalized weights (Radosavovic et al., "On Network Design Spaces for Visual
 * Recognition"): models with complexity cx[i] in the open interval (lo, hi) are binned into
 * k bins (edges as ns_plot_bin_edges; bin j holds edges[j] <= c < edges[j+1]) and each gets
 * w[i] = 1 / (count of its bin * k); all others get w[i] = 0. Every bin then holds weight
 * 1/k and the kept weights sum to 1, so spaces of different complexity distributions are
 * compared as if each had the same, uniform one. *kept (may be NULL) receives the number of
 * models kept. An empty bin is an error: "bin 3 of 10, (1.2e+05, 2.4e+05), has no models;
 * ..." (callers prefix the study name). w has n entries. Returns 0 or -1. */
int ns_plot_norm_weights(const double *cx, size_t n, double lo, double hi, int k, int log_bins,
                         double *w, size_t *kept);

/* The p-th percentile (0 <= p <= 100) of n ascending values, interpolating linearly between
 * closest ranks: h = (n-1)*p/100, v = x[floor h] + (h - floor h)*(x[floor h + 1] - x[floor h])
 * (numpy's default, Hyndman & Fan type 7). NAN when n == 0. */
double ns_plot_percentile(const double *sorted, size_t n, double p);

/* A bootstrap range of a parameter: 2.5th, 50th and 97.5th percentiles. */
struct ns_plot_range {
    double lo, med, hi;
};

#define NS_PLOT_BOOTSTRAP_RESAMPLES 2500
/* The PCG32 stream the bootstrap draws from (its state comes from the seed). */
#define NS_PLOT_BOOTSTRAP_STREAM 0x626f6f74ull /* "boot" */

/* Best-model range (DESIGN.md): `resamples` times, draw floor(n/4) of the n models uniformly
 * with replacement (PCG32 seeded with (seed, NS_PLOT_BOOTSTRAP_STREAM), ns_pcg32_bounded),
 * take the one with the lowest err (equal errors: the lower index), and record its val; the
 * result holds the 2.5/50/97.5 percentiles (ns_plot_percentile) of those values. The same
 * inputs and seed give the same range on every machine. Needs n >= 4 and finite errors.
 * Returns 0 or -1. */
int ns_plot_bootstrap_best(const double *err, const double *val, size_t n, int resamples,
                           uint64_t seed, struct ns_plot_range *out);

/* ------------------------------------------------------------------ files and gnuplot ---- */

struct ns_plot_files {
    char *img; /* the image path as given (.png or .svg, any case) */
    char *gp;  /* the same with .gp */
    char *dat; /* the same with .dat */
    char *dir; /* the folder of img ("." when img has none): gnuplot runs there */
    const char *img_base, *dat_base; /* base names (point into img, dat): what the script uses */
    const char *gp_base;             /* the script's base name (points into gp) */
    int svg;                         /* 1 for an .svg image */
};

/* Derive the file names from --out. Errors: an extension other than .png/.svg, a name ending
 * in '/', a control character in the name (CR, LF, ...). Names starting with '-' or '$' are
 * fine: the script and gnuplot's command line say "./NAME" (not an option, not a datablock).
 * Free with ns_plot_files_free() (safe on a zeroed struct). */
int ns_plot_files_init(struct ns_plot_files *f, const char *out);
void ns_plot_files_free(struct ns_plot_files *f);

/* Writing a file without following a link at its name: ns_plot_file_create() opens a new file
 * beside `final` (exclusively created); ns_plot_file_finish(ok = 1) closes it and renames it
 * over `final` (0, or -1 when a write failed), ok = 0 discards it (returns -1). */
struct ns_plot_file {
    FILE *fp;
    const char *final;
    char *tmp;
};
FILE *ns_plot_file_create(struct ns_plot_file *pf, const char *final);
int ns_plot_file_finish(struct ns_plot_file *pf, int ok);

/* Run `gnuplot NAME.gp` (found on PATH) in f->dir with stdin and stdout on /dev/null; the
 * image is written to a new file and renamed over the old one (a link there is replaced, not
 * followed). Success means exit status 0 and a non-empty image; *log (may be
 * NULL) then receives gnuplot's stderr (warnings, the pngcairo fallback note; malloc'd, NULL
 * when empty) for the caller to show. Errors: gnuplot missing ("gnuplot not found on PATH;
 * install it (apt-get install gnuplot-nox) ..."), a failed run (its exit status and stderr),
 * no image written. Returns 0 or -1. */
int ns_plot_gnuplot_run(const struct ns_plot_files *f, char **log);

/* ------------------------------------------------------------------ figures ------------- */

/* All figures: 800x560 PNG (or SVG), a title, axis labels with units, a grid, a legend, one
 * line type per series (set linetype 1..8 at the top of the script, to restyle in one
 * place). They write f->gp and f->dat and do not run gnuplot. Labels are written as gnuplot
 * single-quoted strings, so any study name is safe (no enhanced-text markup). */

struct ns_plot_edf_series {
    const char *name;
    size_t n;          /* models (after --failed handling) */
    const double *err; /* n errors, percent */
    const double *w;   /* n weights (normalized EDF) or NULL for 1/n each */
    size_t n_failed;   /* failed trials of the study (dropped or counted as chance) */
};

struct ns_plot_edf_opts {
    const char *title;      /* NULL: a default */
    const char *error_name; /* x label, e.g. "test error" or "best test error" */
    int failed_chance;      /* legend: failed trials counted at chance error, else dropped */
    const char *normalize;  /* NULL, or the complexity name ("flops", "params") */
    double lo, hi;          /* the normalization range and bins (when normalize) */
    int bins, log_bins;
};

/* EDF of each series overlaid: F(e) against error, `steps`; legend "NAME  n=N  min M%
 * mean A%" (the mean under the weights) and the failed-trial handling. n_series >= 1,
 * every series n >= 1. */
int ns_plot_fig_edf(const struct ns_plot_files *f, const struct ns_plot_edf_series *s, int n_series,
                    const struct ns_plot_edf_opts *o);

struct ns_plot_param_series {
    const char *name;
    size_t n;
    const double *x, *err;      /* n points: the parameter and the error (percent) */
    struct ns_plot_range range; /* the bootstrap best-model range of x */
};

struct ns_plot_param_opts {
    const char *title;      /* NULL: a default */
    const char *param;      /* x label */
    const char *error_name; /* y label */
    int logx;               /* -1: automatic (log when all x > 0 and max/min > 10) */
    int failed_chance;
    int resamples; /* for the legend */
};

/* Scatter of error against the parameter per series, the best-model range drawn as a
 * translucent band (and in the legend with its values) and its median as a dashed line. */
int ns_plot_fig_param(const struct ns_plot_files *f, const struct ns_plot_param_series *s,
                      int n_series, const struct ns_plot_param_opts *o);

struct ns_plot_curve {
    const char *label;       /* e.g. "trial 12" */
    int n;                   /* epochs */
    const double *train_err; /* n values, percent; NAN = not measured (gap) */
    const double *test_err;
};

/* Per-epoch test error (solid) and train error (dashed, same colour) of each curve against
 * the epoch (1-based); on_validation: the test_err values are of a validation split, and
 * the key, labels and data header say so. */
int ns_plot_fig_curves(const struct ns_plot_files *f, const struct ns_plot_curve *c, int n,
                       const char *title, int on_validation);

struct ns_plot_model {
    const char *label;
    int n_blocks;
    const int *widths; /* n_blocks per-block widths (the config's stages expanded) */
    double w0, wa;     /* the linear widths u_j = w0 + wa*j, drawn when both are finite */
};

/* Per-block widths against block index j (0-based) as a staircase, with the linear
 * u_j = w0 + wa*j beside each (dotted, same colour). Log y when the widths span > 1 decade. */
int ns_plot_fig_models(const struct ns_plot_files *f, const struct ns_plot_model *m, int n,
                       const char *title);

/* ------------------------------------------------------------------ from a db ----------- */

enum ns_plot_kind { NS_PLOT_EDF, NS_PLOT_PARAM, NS_PLOT_CURVES, NS_PLOT_MODELS };

struct ns_plot_req {
    enum ns_plot_kind kind;
    const char *db;    /* opened read-only */
    const char *out;   /* .png or .svg */
    const char *title; /* NULL: a default */
    /* Studies: names (NULL/0 = every study for edf and param; curves and models need exactly
     * one, or the db's only study). */
    const char *const *studies;
    int n_studies;
    int error_best;    /* 1: best_test_error, 0: test_error (final) */
    /* What the errors are, for labels and messages: "test error", "validation error" (the
     * studies evaluate on data.val_split, whose errors the test_error columns then hold),
     * "validation or test error" (some of each), with "best " before when error_best. Set by
     * ns_plot_make and ns_plot_make_analysis from the studies (ns_plot_error_label); NULL
     * elsewhere means "test error". */
    const char *error_label;
    int failed_chance; /* 1: failed trials count at chance error 100*(1 - 1/classes), classes
                          from the trial's config (10 if unreadable); 0: dropped */
    /* edf */
    const char *normalize; /* NULL, "flops", "params" or "acts" */
    int bins;              /* >= 1 */
    int have_range;        /* else lo, hi = the intersection of the studies' ranges */
    double lo, hi;
    int linear_bins; /* 1: equal-width bins instead of log-spaced */
    /* param */
    const char *param; /* a trial column (ns_db_value_columns) or a key of other_params */
    int resamples;     /* NS_PLOT_BOOTSTRAP_RESAMPLES */
    uint64_t seed;
    int logx; /* -1 automatic, 0 linear, 1 log */
    /* curves and models: trial indices, or the top K complete trials by error */
    const int *trials;
    int n_trials;
    int top;
};

/* Make the plot: load, compute, write OUT.gp/OUT.dat, run gnuplot. *log as in
 * ns_plot_gnuplot_run. Errors name the db and study: an unknown study or parameter, no
 * complete trials, an empty normalization bin, an unknown trial, a trial without a config
 * or without per-epoch metrics. Returns 0 or -1. */
int ns_plot_make(const struct ns_plot_req *r, char **log);

/* What the studies names[0..n) of the db (every study when n == 0) evaluate on: "test"
 * when none has a validation split (data.val_split in its stored experiment), "validation"
 * when all do, "validation or test" when some do. A static string. */
const char *ns_plot_eval_set(struct ns_db *db, const char *const *names, int n);
/* The label of their errors: ns_plot_eval_set's words and " error", after "best " when
 * error_best ("validation error", "best test error", ...). A static string. */
const char *ns_plot_error_label(struct ns_db *db, const char *const *names, int n,
                                int error_best);

#endif
