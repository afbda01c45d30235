/* The statistics behind the plots: (weighted) EDFs, the complexity-normalized weights of the
 * NDS paper and the bootstrap best-model range. Pure functions on arrays; see plot.h. */
#include "plot/plot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/pcg32.h"

struct keyed {
    double key;
    size_t idx;
};

/* Ties keep input order, so the result never depends on qsort's instability. */
static int cmp_keyed(const void *pa, const void *pb)
{
    const struct keyed *a = pa, *b = pb;
    if (a->key < b->key)
        return -1;
    if (a->key > b->key)
        return 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

int ns_plot_edf(const double *err, const double *w, size_t n, struct ns_edf *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return ns_err("edf: no models");
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(err[i]))
            return ns_err("edf: model %zu: error is not a finite number", i);
        if (w && (!isfinite(w[i]) || w[i] < 0))
            return ns_err("edf: model %zu: weight %g is not a non-negative number", i, w[i]);
    }
    struct keyed *k = malloc(n * sizeof *k);
    out->x = malloc(n * sizeof *out->x);
    out->y = malloc(n * sizeof *out->y);
    if (!k || !out->x || !out->y) {
        free(k);
        ns_edf_free(out);
        return ns_err("edf: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        k[i] = (struct keyed){err[i], i};
    qsort(k, n, sizeof *k, cmp_keyed);
    /* Summing in sorted order keeps the curve reproducible; tied errors merge into one step
     * because F(e) counts models strictly below e, so all of them enter together. */
    double cum = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        cum += w ? w[k[i].idx] : 1.0 / (double)n;
        if (i + 1 < n && k[i + 1].key == k[i].key)
            continue;
        out->x[m] = k[i].key;
        out->y[m] = cum;
        m++;
    }
    out->n = m;
    free(k);
    return 0;
}

void ns_edf_free(struct ns_edf *e)
{
    free(e->x);
    free(e->y);
    e->x = e->y = NULL;
    e->n = 0;
}

double ns_edf_at(const struct ns_edf *e, double x)
{
    /* Binary search for the number of distinct values strictly below x. */
    size_t lo = 0, hi = e->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (e->x[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? e->y[lo - 1] : 0.0;
}

int ns_plot_bin_edges(double lo, double hi, int k, int log_bins, double *edges)
{
    if (k < 1)
        return ns_err("bins: %d: need at least one bin", k);
    if (!(lo < hi) || !isfinite(lo) || !isfinite(hi))
        return ns_err("bins: range (%g, %g) is empty", lo, hi);
    if (log_bins && lo <= 0)
        return ns_err("bins: range (%g, %g): log-spaced bins need lo > 0", lo, hi);
    for (int j = 0; j <= k; j++) {
        double t = (double)j / k;
        edges[j] = log_bins ? exp(log(lo) + t * (log(hi) - log(lo))) : lo + t * (hi - lo);
    }
    edges[0] = lo; /* exact ends: exp(log(x)) need not round-trip */
    edges[k] = hi;
    return 0;
}

/* The bin of c in (lo, hi) under the edges; edges[] are monotone, so a binary search keeps
 * the binning consistent with the edges reported in messages. */
static int bin_of(const double *edges, int k, double c)
{
    int a = 0, b = k - 1;
    while (a < b) {
        int mid = (a + b + 1) / 2;
        if (c >= edges[mid])
            a = mid;
        else
            b = mid - 1;
    }
    return a;
}

int ns_plot_norm_weights(const double *cx, size_t n, double lo, double hi, int k, int log_bins,
                         double *w, size_t *kept)
{
    double *edges = malloc(((size_t)(k > 0 ? k : 0) + 1) * sizeof *edges);
    size_t *count = calloc((size_t)(k > 0 ? k : 1), sizeof *count);
    if (!edges || !count) {
        free(edges);
        free(count);
        return ns_err("normalize: out of memory");
    }
    int rc = ns_plot_bin_edges(lo, hi, k, log_bins, edges);
    size_t nk = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        w[i] = 0;
        if (!(cx[i] > lo && cx[i] < hi)) /* also drops NaN */
            continue;
        count[bin_of(edges, k, cx[i])]++;
        nk++;
    }
    for (int j = 0; rc == 0 && j < k; j++)
        if (count[j] == 0)
            rc = ns_err("bin %d of %d, (%g, %g), has no models; use fewer --bins or a "
                        "narrower --range",
                        j + 1, k, edges[j], edges[j + 1]);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (cx[i] > lo && cx[i] < hi)
            w[i] = 1.0 / ((double)count[bin_of(edges, k, cx[i])] * k);
    if (rc == 0 && kept)
        *kept = nk;
    free(edges);
    free(count);
    return rc;
}

double ns_plot_percentile(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return NAN;
    double h = (double)(n - 1) * p / 100.0;
    if (h <= 0)
        return sorted[0];
    if (h >= (double)(n - 1))
        return sorted[n - 1];
    size_t i = (size_t)h;
    return sorted[i] + (h - (double)i) * (sorted[i + 1] - sorted[i]);
}

int ns_plot_bootstrap_best(const double *err, const double *val, size_t n, int resamples,
                           uint64_t seed, struct ns_plot_range *out)
{
    size_t m = n / 4;
    if (m < 1)
        return ns_err("bootstrap: %zu models; need at least 4 (resamples of n/4)", n);
    if (n > UINT32_MAX)
        return ns_err("bootstrap: %zu models is too many", n);
    if (resamples < 1)
        return ns_err("bootstrap: %d resamples; need at least 1", resamples);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(err[i]))
            return ns_err("bootstrap: model %zu: error is not a finite number", i);
    double *best = malloc((size_t)resamples * sizeof *best);
    if (!best)
        return ns_err("bootstrap: out of memory");
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, seed, NS_PLOT_BOOTSTRAP_STREAM);
    for (int r = 0; r < resamples; r++) {
        size_t bi = ns_pcg32_bounded(&rng, (uint32_t)n);
        for (size_t j = 1; j < m; j++) {
            size_t i = ns_pcg32_bounded(&rng, (uint32_t)n);
            /* Equal errors go to the lower index, so the pick does not depend on draw order. */
            if (err[i] < err[bi] || (err[i] == err[bi] && i < bi))
                bi = i;
        }
        best[r] = val[bi];
    }
    qsort(best, (size_t)resamples, sizeof *best, cmp_double);
    out->lo = ns_plot_percentile(best, (size_t)resamples, 2.5);
    out->med = ns_plot_percentile(best, (size_t)resamples, 50);
    out->hi = ns_plot_percentile(best, (size_t)resamples, 97.5);
    free(best);
    return 0;
}
