/* What analysis.c, compare.c and report.c share inside src/plot: growable text, one study's
 * finished models as loaded once, study selection and normalization over several studies,
 * twins of two studies. */
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
void ns_study_data_free(struct ns_study_data *s);
/* The complexity array of s named cx (flops, params, acts), or NULL. */
const double *ns_study_data_cx(const struct ns_study_data *s, const char *cx);

/* The db's studies (*info, ns_db_studies) and the positions in it of the names given (all
 * when n_names == 0) in *sel (malloc'd). An unknown name is an error listing the studies. */
int ns_studies_select(struct ns_db *db, const char *const *names, int n_names,
                      struct ns_db_study_info **info, int *n_info, int **sel, int *n_sel);

/* Complexity-normalized weights of s[0..n) over (lo, hi) (have_range) or the intersection of
 * their ranges; w[i] malloc'd (s[i].n each; the caller frees even on error). */
int ns_study_data_norm(struct ns_db *db, struct ns_study_data *s, int n, const char *cx, int bins,
                       int linear_bins, int have_range, double lo, double hi, double **w,
                       double *lo_out, double *hi_out);

/* Twins (compare --paired, plot budget): trial i of a and trial i of b, both with an error,
 * of equal flops and params (the same architecture: studies whose spaces draw the same
 * configs from the same seed; the config hash is not compared, since a field such as
 * bn_order changes it without changing the architecture's draw). Their errors go to pa[k],
 * pb[k] (room for min(a->n, b->n) each), *n of them; *unmatched counts the trials of the
 * same index but another architecture (left out). -1 with ns_err, naming db and both
 * studies, when there are no twins. */
int ns_study_twins(const char *db, const struct ns_study_data *a, const struct ns_study_data *b,
                   double *pa, double *pb, size_t *n, size_t *unmatched);
/* Do n twins rank alike (ns_compare_result's rho, tau, top10)? Spearman's rho of a and b with
 * its bootstrap interval (`resamples` resamples drawn from seed + 4, after compare's other
 * bootstraps, so plot budget repeats compare --paired's numbers for a seed), Kendall's tau-b
 * and the overlap of b's top 10 % with a's; NAN where undefined. 0, or -1 (ns_err) out of
 * memory. */
int ns_twins_rank(const double *a, const double *b, size_t n, int resamples, uint64_t seed,
                  struct ns_ci *rho, double *tau, double *top10);

/* Fidelity of one study (its complete trials' per-epoch test errors against their final
 * error). out->spearman is malloc'd (kendall and top10 point into it): free(spearman). An
 * error "... has no per-epoch metrics" when the study has none. */
int ns_study_fidelity(struct ns_db *db, const struct ns_study_data *s,
                      struct ns_plot_fidelity_series *out);

/* The effects figures (see ns_plot_make_analysis). */
int ns_plot_effects(struct ns_db *db, const struct ns_plot_req *r, struct ns_sbuf *log,
                    struct ns_sbuf *written);

#endif
