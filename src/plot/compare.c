/* ns_compare (analysis.h): two studies' error distributions, read from a db; and the twins of
 * two studies with how alike they rank, which plot budget shares. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/analysis_internal.h"
#include "util/err.h"

int ns_study_twins(const char *db, const struct ns_study_data *a, const struct ns_study_data *b,
                   double *pa, double *pb, struct ns_twin *pos, struct ns_twin *first_unmatched,
                   size_t *n, size_t *unmatched)
{
    *n = *unmatched = 0;
    size_t j = 0;
    for (size_t i = 0; i < a->n; i++) {
        while (j < b->n && b->idx[j] < a->idx[i])
            j++;
        if (j == b->n || b->idx[j] != a->idx[i])
            continue;
        int same = a->flops[i] == b->flops[j] && a->params[i] == b->params[j];
        if (!same) {
            if (first_unmatched && *unmatched == 0)
                *first_unmatched = (struct ns_twin){i, j};
            (*unmatched)++;
            continue;
        }
        pa[*n] = a->err[i];
        pb[*n] = b->err[j];
        if (pos)
            pos[*n] = (struct ns_twin){i, j};
        (*n)++;
    }
    if (*n == 0)
        return ns_err("%s: studies '%s' and '%s' have no twins (trials of the same index and "
                      "architecture, both with an error)%s",
                      db, a->name, b->name,
                      *unmatched ? "; their architectures differ: were they sampled with the "
                                   "same space and seed?"
                                 : "");
    return 0;
}

int ns_twins_rank(const double *a, const double *b, size_t n, int resamples, uint64_t seed,
                  struct ns_ci *rho, double *tau, double *top10)
{
    /* seed + 4: ns_compare's bootstraps before this one draw from seed .. seed + 3 */
    int rc = ns_stat_spearman_ci(a, b, n, resamples, seed + 4, rho);
    *tau = ns_stat_kendall(a, b, n);
    *top10 = ns_stat_top_overlap(a, b, n, 0.1);
    return rc;
}

int ns_compare(const struct ns_compare_req *r, struct ns_compare_result *out)
{
    memset(out, 0, sizeof *out);
    out->ks_weighted.d = out->ks_weighted.p = out->ks_weighted.m = NAN;
    out->w_lo = out->w_hi = NAN;
    if (!r->a || !r->b || !*r->a || !*r->b)
        return ns_err("compare: two studies are needed (--study A,B)");
    const char *names[2] = {r->a, r->b};
    if (ns_studies_distinct("compare", names, 2))
        return -1;
    if (r->normalize && strcmp(r->normalize, "flops") && strcmp(r->normalize, "params") &&
        strcmp(r->normalize, "acts"))
        return ns_err("--normalize %s: use flops, params or acts", r->normalize);
    if (r->resamples < 1)
        return ns_err("compare: resamples must be >= 1");
    struct ns_db *db = ns_db_open(r->db, NS_DB_RO);
    if (!db)
        return -1;
    struct ns_db_study_info *info;
    int ni, *sel, ns;
    if (ns_studies_select(db, names, 2, &info, &ni, &sel, &ns)) {
        ns_db_close(db);
        return -1;
    }
    struct ns_study_data s[2];
    memset(s, 0, sizeof s);
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++)
        rc = ns_study_data_load(db, info[sel[i]].id, info[sel[i]].name, r->error_best,
                                r->failed_chance, &s[i]);
    ns_db_studies_free(info, ni);
    free(sel);
    const char *label = ns_plot_error_label(db, names, 2, r->error_best);
    for (int i = 0; i < 2 && rc == 0; i++)
        if (s[i].n == 0)
            rc =
                ns_err("%s: study '%s': no complete trials with a %s (%zu trials, %zu failed%s)",
                       r->db, s[i].name, label, s[i].n_trials, s[i].n_failed,
                       s[i].n_failed && !r->failed_chance ? "; --failed chance counts them" : "");
    if (rc == 0) {
        out->error_label = label;
        out->na = s[0].n;
        out->nb = s[1].n;
        out->na_failed = s[0].n_failed;
        out->nb_failed = s[1].n_failed;
        rc = ns_stat_ks(s[0].err, NULL, s[0].n, s[1].err, NULL, s[1].n, &out->ks);
    }
    if (rc == 0 && r->normalize) {
        double *w[2] = {NULL, NULL};
        rc = ns_study_data_norm(db, s, 2, r->normalize, r->bins, r->linear_bins, r->have_range,
                                r->lo, r->hi, w, &out->w_lo, &out->w_hi);
        if (rc == 0)
            rc = ns_stat_ks(s[0].err, w[0], s[0].n, s[1].err, w[1], s[1].n, &out->ks_weighted);
        free(w[0]);
        free(w[1]);
    }
    if (rc == 0)
        rc = ns_stat_median_ci(s[0].err, s[0].n, r->resamples, r->seed, &out->med_a);
    if (rc == 0)
        rc = ns_stat_median_ci(s[1].err, s[1].n, r->resamples, r->seed + 1, &out->med_b);
    if (rc == 0)
        rc = ns_stat_median_diff_ci(s[0].err, s[0].n, s[1].err, s[1].n, r->resamples, r->seed + 2,
                                    &out->med_diff);
    if (rc == 0 && r->paired) {
        size_t cap = s[0].n < s[1].n ? s[0].n : s[1].n;
        double *pa = malloc((cap ? cap : 1) * sizeof *pa),
               *pb = malloc((cap ? cap : 1) * sizeof *pb);
        if (!pa || !pb)
            rc = ns_err("out of memory");
        if (rc == 0)
            rc = ns_study_twins(r->db, &s[0], &s[1], pa, pb, NULL, NULL, &out->pairs,
                                &out->unmatched);
        if (rc == 0) {
            rc = ns_stat_paired(pa, pb, out->pairs, r->resamples, r->seed + 3, &out->p);
            out->med_pa = ns_stat_median(pa, out->pairs);
            out->med_pb = ns_stat_median(pb, out->pairs);
            if (rc == 0)
                rc = ns_twins_rank(pa, pb, out->pairs, r->resamples, r->seed, &out->rho, &out->tau,
                                   &out->top10);
        }
        free(pa);
        free(pb);
    }
    ns_study_data_free(&s[0]);
    ns_study_data_free(&s[1]);
    ns_db_close(db);
    return rc;
}
