/* What analysis.c, compare.c, scaling.c and report.c share inside src/plot: growable text,
 * one study's finished models as loaded once, study selection and normalization over several
 * studies, twins of two studies, and plot scaling's pieces the report uses. */
#ifndef NS_PLOT_ANALYSIS_INTERNAL_H
#define NS_PLOT_ANALYSIS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "plot/analysis.h"
#include "store/store.h"

/* A growable string; zero-initialize. An allocation failure makes later appends no-ops. */
struct ns_sbuf {
    char *s;
    size_t len, cap;
    int oom;
};
void ns_sbuf_printf(struct ns_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text (malloc'd, trailing newline dropped; NULL when empty); resets b. */
char *ns_sbuf_take(struct ns_sbuf *b);

/* One study's finished models: complete trials with a finite error (best or final), and
 * failed ones at chance error when failed_chance; complexities NAN when not recorded. */
struct ns_study_data {
    char *name;
    int64_t id;
    size_t n_trials, n_failed, n_pending; /* all trials; failed; waiting/running/stale */
    size_t n;                             /* models below */
    double *err, *flops, *params, *acts;
    int *idx; /* trial indices, ascending */
};
int ns_study_data_load(struct ns_db *db, int64_t id, const char *name, int error_best,
                       int failed_chance, struct ns_study_data *s);
/* The same from trials t[0..nt) of study id already loaded (all states, by index), for a
 * caller that reads more of them (plot scaling). */
int ns_study_data_from_trials(const struct ns_db_trial *t, int nt, int64_t id, const char *name,
                              int error_best, int failed_chance, struct ns_study_data *s);
void ns_study_data_free(struct ns_study_data *s);
/* The complexity array of s named cx (flops, params, acts), or NULL. */
const double *ns_study_data_cx(const struct ns_study_data *s, const char *cx);

/* The db's studies (*info, ns_db_studies) and the positions in it of the names given (all
 * when n_names == 0) in *sel (malloc'd). An unknown name is an error listing the studies. */
int ns_studies_select(struct ns_db *db, const char *const *names, int n_names,
                      struct ns_db_study_info **info, int *n_info, int **sel, int *n_sel);
/* 0 when names[0..n) are all different, else -1 with ns_err("WHAT: study 'x' given twice;
 * ..."): for the analyses that pair or order their studies (compare, plot budget, plot
 * scaling). */
int ns_studies_distinct(const char *what, const char *const *names, int n);

/* What an analysis's errors are, for labels and messages: r->error_label (ns_plot_req_labelled
 * sets it), or "test error" ("best test error" with error_best) when it is not set. */
const char *ns_error_name(const struct ns_plot_req *r);
/* A copy of r whose error_label is set (ns_plot_error_label of its studies) unless it was:
 * what every entry point that opens the db hands down. */
struct ns_plot_req ns_plot_req_labelled(struct ns_db *db, const struct ns_plot_req *r);

/* Note in log each of s[0..n) that has no models ("study 'x' left out: no complete trials
 * with a ..."); -1 with ns_err naming the first of them when none of s has models, else 0.
 * The caller drops them. */
int ns_studies_note_empty(struct ns_db *db, const struct ns_plot_req *r,
                          const struct ns_study_data *s, int n, struct ns_sbuf *log);

/* Complexity-normalized weights of s[0..n) over (lo, hi) (have_range) or the intersection of
 * their ranges; w[i] malloc'd (s[i].n each; the caller frees even on error). */
int ns_study_data_norm(struct ns_db *db, struct ns_study_data *s, int n, const char *cx, int bins,
                       int linear_bins, int have_range, double lo, double hi, double **w,
                       double *lo_out, double *hi_out);

/* Twins (compare --paired, plot budget, plot scaling): trial i of a and trial i of b, both
 * with an error, of equal flops and params (the same architecture: studies whose spaces draw
 * the same configs from the same seed; the config hash is not compared, since a field such as
 * bn_order changes it without changing the architecture's draw). Their errors go to pa[k],
 * pb[k] and their positions in a and b to pos[k] (pos may be NULL; room for min(a->n, b->n)
 * each), *n of them, in index order; *unmatched counts the trials of the same index but
 * another architecture (left out), the first of them at *first_unmatched (may be NULL; set
 * when *unmatched > 0). -1 with ns_err, naming db and both studies, when there are no
 * twins. */
struct ns_twin {
    size_t a, b; /* positions in a's and b's arrays */
};
int ns_study_twins(const char *db, const struct ns_study_data *a, const struct ns_study_data *b,
                   double *pa, double *pb, struct ns_twin *pos, struct ns_twin *first_unmatched,
                   size_t *n, size_t *unmatched);
/* Do n twins rank alike (ns_compare_result's rho, tau, top10)? Spearman's rho of a and b with
 * its bootstrap interval (`resamples` resamples drawn from seed + 4, after compare's other
 * bootstraps, so plot budget repeats compare --paired's numbers for a seed), Kendall's tau-b
 * and the overlap of b's top 10 % with a's; NAN where undefined. 0, or -1 (ns_err) out of
 * memory. */
int ns_twins_rank(const double *a, const double *b, size_t n, int resamples, uint64_t seed,
                  struct ns_ci *rho, double *tau, double *top10);

/* Fidelity of one study (its complete trials' per-epoch test errors, or validation errors on
 * a data.val_split study, against their final error). out->spearman is malloc'd (kendall and top10 point into it): free(spearman). An
 * error "... has no per-epoch metrics" when the study has none. */
int ns_study_fidelity(struct ns_db *db, const struct ns_study_data *s,
                      struct ns_plot_fidelity_series *out);

/* The effects figures (see ns_plot_make_analysis). */
int ns_plot_effects(struct ns_db *db, const struct ns_plot_req *r, struct ns_sbuf *log,
                    struct ns_sbuf *written);

/* Draw an analysis figure whose script and data f names were just written: run gnuplot, its
 * messages noted in log, the image named in written (a line). 0 or -1 (ns_err). */
int ns_plot_analysis_render(const struct ns_plot_files *f, struct ns_sbuf *log,
                            struct ns_sbuf *written);
/* An analysis's outputs to its caller, resetting the buffers: lb's notes into *log (always),
 * wb's images (wb may be NULL) into *written when rc is 0; log and written may be NULL. */
void ns_plot_analysis_out(struct ns_sbuf *lb, struct ns_sbuf *wb, int rc, char **log,
                          char **written);

/* ------------------------------------------------------------ plot scaling (scaling.c) */

/* What the seeds of one scaling study share: its base network's architecture (the flops and
 * params of the study's first trial with a dim: in a "scaling" space, trial 0, the base).
 * Studies of two scaling spaces have different bases, and are not each other's seeds. */
struct ns_scaling_base {
    double flops, params;
};
/* Is study id a scaling study (some trial, of any state, samples a dim)? 1 with *base (may be
 * NULL) filled, 0 not, -1 with ns_err. Reads the trials in index order and stops at the first
 * with a dim, so a scaling study costs one row. */
int ns_study_is_scaling(struct ns_db *db, int64_t id, struct ns_scaling_base *base);
/* Group n studies by their base: group[i] (0..) the first-seen order of the distinct bases;
 * returns the number of groups. */
int ns_scaling_groups(const struct ns_scaling_base *base, int n, int *group);
/* plot scaling from an open db: ns_scaling_table_load's table into *t (zeroed on error). */
int ns_scaling_table_from_db(struct ns_db *db, const struct ns_plot_req *r,
                             struct ns_scaling_table *t, struct ns_sbuf *log);

#endif
