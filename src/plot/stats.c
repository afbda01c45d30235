/* The statistics of analysis.h on plain arrays: KS, medians and bootstrap intervals, paired
 * twins, random-search efficiency, rank correlations, trend bins. */
#include "plot/analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/pcg32.h"

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* Values with their weights, sorted by value (the merge of KS walks two of these). */
struct wv {
    double v, w;
};

static int cmp_wv(const void *pa, const void *pb)
{
    return cmp_double(&((const struct wv *)pa)->v, &((const struct wv *)pb)->v);
}

/* x (weights w or 1) sorted, weights normalized to sum 1; *m the effective size. */
static struct wv *sorted_weighted(const double *x, const double *w, size_t n, double *m,
                                  const char *which)
{
    double sum = 0, sum2 = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        if (!isfinite(x[i]) || !isfinite(wi) || wi < 0) {
            ns_err("ks: sample %s, model %zu: error %g, weight %g", which, i, x[i], wi);
            return NULL;
        }
        sum += wi;
        sum2 += wi * wi;
    }
    if (n == 0 || !(sum > 0)) {
        ns_err("ks: sample %s has no models", which);
        return NULL;
    }
    struct wv *s = malloc(n * sizeof *s);
    if (!s) {
        ns_err("ks: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        s[i] = (struct wv){x[i], (w ? w[i] : 1.0) / sum};
    qsort(s, n, sizeof *s, cmp_wv);
    *m = sum * sum / sum2;
    return s;
}

double ns_stat_kolmogorov_q(double l)
{
    if (!(l > 0))
        return 1.0;
    double q;
    if (l < 1.18) {
        /* The alternating series converges slowly here; use the theta-function form of the
         * CDF, P(l) = sqrt(2 pi)/l sum_k exp(-(2k-1)^2 pi^2 / (8 l^2)). */
        double y = exp(-M_PI * M_PI / (8 * l * l)), p = 0;
        for (int k = 1; k <= 7; k++)
            p += pow(y, (double)((2 * k - 1) * (2 * k - 1)));
        q = 1.0 - sqrt(2 * M_PI) / l * p;
    } else {
        q = 0;
        for (int k = 1; k <= 100; k++) {
            double t = exp(-2.0 * k * k * l * l);
            q += (k % 2 ? 2.0 : -2.0) * t;
            if (t < 1e-17)
                break;
        }
    }
    return q < 0 ? 0 : q > 1 ? 1 : q;
}

int ns_stat_ks(const double *a, const double *wa, size_t na, const double *b, const double *wb,
               size_t nb, struct ns_ks *out)
{
    out->d = out->p = out->m = NAN;
    double ma, mb;
    struct wv *sa = sorted_weighted(a, wa, na, &ma, "a");
    if (!sa)
        return -1;
    struct wv *sb = sorted_weighted(b, wb, nb, &mb, "b");
    if (!sb) {
        free(sa);
        return -1;
    }
    /* Walk the distinct errors of both in order; after each, both F are exact (a tie across
     * the samples moves both before the difference is taken). */
    double fa = 0, fb = 0, d = 0;
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        double x = i < na && (j >= nb || sa[i].v <= sb[j].v) ? sa[i].v : sb[j].v;
        while (i < na && sa[i].v == x)
            fa += sa[i++].w;
        while (j < nb && sb[j].v == x)
            fb += sb[j++].w;
        d = fmax(d, fabs(fa - fb));
    }
    free(sa);
    free(sb);
    d = fmin(d, 1.0); /* rounding of the weight sums */
    double m = ma * mb / (ma + mb), sm = sqrt(m);
    out->d = d;
    out->m = m;
    out->p = ns_stat_kolmogorov_q((sm + 0.12 + 0.11 / sm) * d);
    return 0;
}

/* ------------------------------------------------------------------ medians ------------- */

double ns_stat_median(const double *x, size_t n)
{
    if (n == 0)
        return NAN;
    double *s = malloc(n * sizeof *s);
    if (!s)
        return NAN;
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    double m = ns_plot_percentile(s, n, 50);
    free(s);
    return m;
}

/* The 2.5 and 97.5 percentiles of r[0..n) (sorted in place) into ci. */
static void ci_from(double *r, size_t n, struct ns_ci *ci)
{
    qsort(r, n, sizeof *r, cmp_double);
    ci->lo = ns_plot_percentile(r, n, 2.5);
    ci->hi = ns_plot_percentile(r, n, 97.5);
}

/* One bootstrap resample of sorted[0..n) (ascending): n draws with replacement, kept as a
 * count per position (cnt holds n), so that its median and mean need no sort: O(n). Returns
 * the median (ns_plot_percentile's convention); *mean (may be NULL) receives the mean. */
static double resample_sorted(struct ns_pcg32 *g, const double *sorted, size_t n, uint32_t *cnt,
                              double *mean)
{
    memset(cnt, 0, n * sizeof *cnt);
    for (size_t i = 0; i < n; i++)
        cnt[ns_pcg32_bounded(g, (uint32_t)n)]++;
    /* Ranks lo and lo + 1 of the resample, h = (n-1)/2 = lo + frac. */
    size_t lo = (n - 1) / 2, seen = 0;
    double frac = (n - 1) % 2 ? 0.5 : 0.0, v_lo = NAN, v_hi = NAN, sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (!cnt[i])
            continue;
        sum += cnt[i] * sorted[i];
        if (isnan(v_lo) && seen + cnt[i] > lo)
            v_lo = sorted[i];
        if (isnan(v_hi) && seen + cnt[i] > lo + 1)
            v_hi = sorted[i];
        seen += cnt[i];
    }
    if (mean)
        *mean = sum / (double)n;
    return frac > 0 && !isnan(v_hi) ? v_lo + frac * (v_hi - v_lo) : v_lo;
}

static int check_sample(const double *x, size_t n, const char *what)
{
    if (n == 0)
        return ns_err("%s: no models", what);
    if (n > UINT32_MAX)
        return ns_err("%s: too many models", what);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return ns_err("%s: model %zu: error %g", what, i, x[i]);
    return 0;
}

/* A sorted copy of x[0..n). */
static double *sorted_copy(const double *x, size_t n)
{
    double *s = malloc((n ? n : 1) * sizeof *s);
    if (s) {
        memcpy(s, x, n * sizeof *s);
        qsort(s, n, sizeof *s, cmp_double);
    }
    return s;
}

int ns_stat_median_ci(const double *x, size_t n, int resamples, uint64_t seed, struct ns_ci *out)
{
    *out = (struct ns_ci){NAN, NAN, NAN};
    if (check_sample(x, n, "median") || resamples < 1)
        return resamples < 1 ? ns_err("median: resamples must be >= 1") : -1;
    double *sx = sorted_copy(x, n), *r = malloc((size_t)resamples * sizeof *r);
    uint32_t *cnt = malloc(n * sizeof *cnt);
    if (!sx || !r || !cnt) {
        free(sx);
        free(r);
        free(cnt);
        return ns_err("median: out of memory");
    }
    struct ns_pcg32 g;
    ns_pcg32_seed(&g, seed, NS_STAT_STREAM);
    for (int k = 0; k < resamples; k++)
        r[k] = resample_sorted(&g, sx, n, cnt, NULL);
    out->est = ns_plot_percentile(sx, n, 50);
    ci_from(r, (size_t)resamples, out);
    free(sx);
    free(r);
    free(cnt);
    return 0;
}

int ns_stat_median_diff_ci(const double *a, size_t na, const double *b, size_t nb, int resamples,
                           uint64_t seed, struct ns_ci *out)
{
    *out = (struct ns_ci){NAN, NAN, NAN};
    if (check_sample(a, na, "median difference, first study") ||
        check_sample(b, nb, "median difference, second study"))
        return -1;
    if (resamples < 1)
        return ns_err("median difference: resamples must be >= 1");
    double *sa = sorted_copy(a, na), *sb = sorted_copy(b, nb);
    double *r = malloc((size_t)resamples * sizeof *r);
    uint32_t *cnt = malloc((na > nb ? na : nb) * sizeof *cnt);
    int rc = sa && sb && r && cnt ? 0 : ns_err("median difference: out of memory");
    struct ns_pcg32 g;
    ns_pcg32_seed(&g, seed, NS_STAT_STREAM);
    for (int k = 0; k < resamples && rc == 0; k++) {
        double ma = resample_sorted(&g, sa, na, cnt, NULL);
        r[k] = resample_sorted(&g, sb, nb, cnt, NULL) - ma;
    }
    if (rc == 0) {
        out->est = ns_plot_percentile(sb, nb, 50) - ns_plot_percentile(sa, na, 50);
        ci_from(r, (size_t)resamples, out);
    }
    free(sa);
    free(sb);
    free(r);
    free(cnt);
    return rc;
}

/* ------------------------------------------------------------------ paired -------------- */

int ns_stat_paired(const double *a, const double *b, size_t n, int resamples, uint64_t seed,
                   struct ns_paired *out)
{
    memset(out, 0, sizeof *out);
    out->mean = out->median = (struct ns_ci){NAN, NAN, NAN};
    if (n == 0)
        return ns_err("paired: no pairs");
    if (n > UINT32_MAX || resamples < 1)
        return ns_err("paired: %s", resamples < 1 ? "resamples must be >= 1" : "too many pairs");
    double *d = malloc(n * sizeof *d);
    uint32_t *cnt = malloc(n * sizeof *cnt);
    double *rmean = malloc((size_t)resamples * sizeof *rmean);
    double *rmed = malloc((size_t)resamples * sizeof *rmed);
    int rc = d && cnt && rmean && rmed ? 0 : ns_err("paired: out of memory");
    double sum = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) {
            rc = ns_err("paired: pair %zu: errors %g, %g", i, a[i], b[i]);
            break;
        }
        d[i] = b[i] - a[i];
        sum += d[i];
        out->b_better += d[i] < 0;
        out->a_better += d[i] > 0;
        out->ties += d[i] == 0;
    }
    if (rc == 0) {
        /* Resampling pairs is resampling their differences. */
        qsort(d, n, sizeof *d, cmp_double);
        out->n = n;
        struct ns_pcg32 g;
        ns_pcg32_seed(&g, seed, NS_STAT_STREAM);
        for (int k = 0; k < resamples; k++)
            rmed[k] = resample_sorted(&g, d, n, cnt, &rmean[k]);
        out->mean.est = sum / (double)n;
        out->median.est = ns_plot_percentile(d, n, 50);
        ci_from(rmean, (size_t)resamples, &out->mean);
        ci_from(rmed, (size_t)resamples, &out->median);
    }
    free(d);
    free(cnt);
    free(rmean);
    free(rmed);
    return rc;
}

int ns_stat_spearman_ci(const double *a, const double *b, size_t n, int resamples, uint64_t seed,
                        struct ns_ci *out)
{
    *out = (struct ns_ci){ns_stat_spearman(a, b, n), NAN, NAN};
    if (n < 2 || n > UINT32_MAX || resamples < 1)
        return 0;
    double *ra = malloc(n * sizeof *ra), *rb = malloc(n * sizeof *rb);
    double *r = malloc((size_t)resamples * sizeof *r);
    if (!ra || !rb || !r) {
        free(ra);
        free(rb);
        free(r);
        return ns_err("rank correlation: out of memory");
    }
    struct ns_pcg32 g;
    ns_pcg32_seed(&g, seed, NS_STAT_STREAM);
    size_t m = 0;
    for (int k = 0; k < resamples; k++) {
        for (size_t i = 0; i < n; i++) {
            size_t j = ns_pcg32_bounded(&g, (uint32_t)n);
            ra[i] = a[j];
            rb[i] = b[j];
        }
        double rho = ns_stat_spearman(ra, rb, n);
        if (isfinite(rho)) /* a resample of one repeated pair has no ranking */
            r[m++] = rho;
    }
    if (m * 2 >= (size_t)resamples)
        ci_from(r, m, out);
    free(ra);
    free(rb);
    free(r);
    return 0;
}

/* ------------------------------------------------------------------ random search ------- */

/* E[min of k] for k = 1..kmax into out, from m distinct errors x (ascending) with cumulative
 * weights cum (cum[m-1] = total); surv holds kmax doubles of scratch.
 * surv[k-1] = (1 - F_{i-1})^k, the chance that all k draws exceed x_{i-1}; it falls to 0 at
 * the last error. Powers by repeated products: one multiply per (error, k). */
static void rs_steps(const double *x, const double *cum, size_t m, int kmax, double *out,
                     double *surv)
{
    for (int k = 0; k < kmax; k++) {
        surv[k] = 1.0;
        out[k] = 0;
    }
    double total = cum[m - 1];
    for (size_t i = 0; i < m; i++) {
        if (i > 0 && i + 1 < m && cum[i] == cum[i - 1])
            continue; /* no weight here (a resample missed it): nothing changes */
        double q = i + 1 == m ? 0.0 : fmax(1.0 - cum[i] / total, 0.0), s = 1.0;
        for (int k = 0; k < kmax; k++) {
            /* surv falls with k: past 1e-17 what is left to add is below rounding. */
            if (surv[k] < 1e-17 && i + 1 < m)
                break;
            s *= q;
            out[k] += x[i] * (surv[k] - s);
            surv[k] = s;
        }
    }
}

int ns_stat_rs_curve(const struct ns_edf *e, int kmax, double *out)
{
    if (kmax < 1 || e->n == 0 || !(e->y[e->n - 1] > 0))
        return ns_err("random-search efficiency: %s", kmax < 1 ? "k must be >= 1" : "empty EDF");
    double *surv = malloc((size_t)kmax * sizeof *surv);
    if (!surv)
        return ns_err("random-search efficiency: out of memory");
    rs_steps(e->x, e->y, e->n, kmax, out, surv);
    free(surv);
    return 0;
}

/* Index of the first cumulative weight above u (cum ascending, cum[n-1] == total). */
static size_t draw_weighted(const double *cum, size_t n, double u)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

int ns_stat_rs_band(const double *err, const double *w, size_t n, int kmax, int resamples,
                    uint64_t seed, double *lo, double *hi)
{
    if (check_sample(err, n, "random-search efficiency"))
        return -1;
    if (kmax < 1 || resamples < 1)
        return ns_err("random-search efficiency: k and resamples must be >= 1");
    /* The models in error order with their weights; xs: the distinct errors, step[j]: the
     * distinct error of sorted model j. A resample is then a count per distinct error, with
     * no sort (O(n) to draw, O(m * kmax) for its curve). */
    struct wv *s = malloc(n * sizeof *s);
    double *cum = malloc(n * sizeof *cum), *xs = malloc(n * sizeof *xs);
    double *cnt = malloc(n * sizeof *cnt), *surv = malloc((size_t)kmax * sizeof *surv);
    size_t *step = malloc(n * sizeof *step);
    double *curves = malloc((size_t)resamples * (size_t)kmax * sizeof *curves);
    double *col = malloc((size_t)resamples * sizeof *col);
    int rc = s && cum && xs && cnt && surv && step && curves && col
                 ? 0
                 : ns_err("random-search efficiency: out of memory");
    for (size_t i = 0; i < n && rc == 0; i++) {
        double wi = w ? w[i] : 1.0;
        if (!isfinite(wi) || wi < 0)
            rc = ns_err("random-search efficiency: model %zu: weight %g", i, wi);
        else
            s[i] = (struct wv){err[i], wi};
    }
    double total = 0;
    size_t m = 0;
    if (rc == 0) {
        qsort(s, n, sizeof *s, cmp_wv);
        for (size_t i = 0; i < n; i++) {
            cum[i] = total += s[i].w;
            if (i == 0 || s[i].v != s[i - 1].v)
                xs[m++] = s[i].v;
            step[i] = m - 1;
        }
        if (!(total > 0))
            rc = ns_err("random-search efficiency: all weights are zero");
    }
    struct ns_pcg32 g;
    ns_pcg32_seed(&g, seed, NS_STAT_STREAM);
    for (int r = 0; r < resamples && rc == 0; r++) {
        for (size_t j = 0; j < m; j++)
            cnt[j] = 0;
        for (size_t i = 0; i < n; i++)
            cnt[step[w ? draw_weighted(cum, n, ns_pcg32_double(&g) * total)
                       : ns_pcg32_bounded(&g, (uint32_t)n)]] += 1;
        for (size_t j = 1; j < m; j++)
            cnt[j] += cnt[j - 1];
        rs_steps(xs, cnt, m, kmax, curves + (size_t)r * (size_t)kmax, surv);
    }
    for (int k = 0; k < kmax && rc == 0; k++) {
        for (int r = 0; r < resamples; r++)
            col[r] = curves[(size_t)r * (size_t)kmax + (size_t)k];
        struct ns_ci ci;
        ci_from(col, (size_t)resamples, &ci);
        lo[k] = ci.lo;
        hi[k] = ci.hi;
    }
    free(s);
    free(cum);
    free(xs);
    free(cnt);
    free(surv);
    free(step);
    free(curves);
    free(col);
    return rc;
}

/* ------------------------------------------------------------------ rank agreement ------ */

/* Positions 0..n-1 sorted by x, ties by index (a stable order). */
struct vi {
    double v;
    size_t i;
};

static int cmp_vi(const void *pa, const void *pb)
{
    const struct vi *a = pa, *b = pb;
    int c = cmp_double(&a->v, &b->v);
    return c ? c : (a->i > b->i) - (a->i < b->i);
}

static size_t *order_of(const double *x, size_t n)
{
    struct vi *t = malloc((n ? n : 1) * sizeof *t);
    size_t *o = malloc((n ? n : 1) * sizeof *o);
    if (!t || !o) {
        free(t);
        free(o);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        t[i] = (struct vi){x[i], i};
    qsort(t, n, sizeof *t, cmp_vi);
    for (size_t i = 0; i < n; i++)
        o[i] = t[i].i;
    free(t);
    return o;
}

/* Ranks 1..n of x, ties at their average rank, into r. */
static int ranks_of(const double *x, size_t n, double *r)
{
    size_t *o = order_of(x, n);
    if (!o)
        return -1;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && x[o[j + 1]] == x[o[i]])
            j++;
        double avg = (double)(i + j) / 2 + 1;
        for (size_t k = i; k <= j; k++)
            r[o[k]] = avg;
        i = j + 1;
    }
    free(o);
    return 0;
}

double ns_stat_spearman(const double *a, const double *b, size_t n)
{
    if (n < 2)
        return NAN;
    double *ra = malloc(n * sizeof *ra), *rb = malloc(n * sizeof *rb);
    double rho = NAN;
    if (ra && rb && ranks_of(a, n, ra) == 0 && ranks_of(b, n, rb) == 0) {
        double mean = (double)(n + 1) / 2, sab = 0, saa = 0, sbb = 0;
        for (size_t i = 0; i < n; i++) {
            double da = ra[i] - mean, db = rb[i] - mean;
            sab += da * db;
            saa += da * da;
            sbb += db * db;
        }
        if (saa > 0 && sbb > 0)
            rho = sab / sqrt(saa * sbb);
    }
    free(ra);
    free(rb);
    return rho;
}

/* Pairs (a, b) ordered by a, then b. */
struct ab {
    double a, b;
};

static int cmp_ab(const void *pa, const void *pb)
{
    const struct ab *x = pa, *y = pb;
    int c = cmp_double(&x->a, &y->a);
    return c ? c : cmp_double(&x->b, &y->b);
}

/* Sort v[0..n) by b (stable; tmp holds n) and return the number of inversions: pairs that
 * the sort swaps, i.e. i < j with v[i].b > v[j].b. Equal b are not inversions. */
static double merge_count(struct ab *v, struct ab *tmp, size_t n)
{
    if (n < 2)
        return 0;
    size_t h = n / 2;
    double inv = merge_count(v, tmp, h) + merge_count(v + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        if (v[i].b <= v[j].b) {
            tmp[k++] = v[i++];
        } else {
            inv += (double)(h - i); /* v[j] jumps ahead of everything left of h */
            tmp[k++] = v[j++];
        }
    }
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
    return inv;
}

/* sum over runs of equal keys of t(t-1)/2, for v sorted so that equal keys are adjacent;
 * by = 0: key a, 1: key b, 2: key (a, b). */
static double tied_pairs(const struct ab *v, size_t n, int by)
{
    double ties = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && (by == 1 || v[j].a == v[i].a) && (by == 0 || v[j].b == v[i].b))
            j++;
        ties += (double)(j - i) * (double)(j - i - 1) / 2;
        i = j;
    }
    return ties;
}

double ns_stat_kendall(const double *a, const double *b, size_t n)
{
    if (n < 2)
        return NAN;
    /* Knight's O(n log n) algorithm: sort by (a, b); the pairs tied in a (n1) and in both
     * (n3) are runs; a merge sort by b then counts the discordant pairs as its swaps; the
     * pairs tied in b (n2) are runs of the result. */
    struct ab *v = malloc(n * sizeof *v), *tmp = malloc(n * sizeof *tmp);
    double tau = NAN;
    if (v && tmp) {
        for (size_t i = 0; i < n; i++)
            v[i] = (struct ab){a[i], b[i]};
        qsort(v, n, sizeof *v, cmp_ab);
        double n1 = tied_pairs(v, n, 0), n3 = tied_pairs(v, n, 2);
        double disc = merge_count(v, tmp, n);
        double n2 = tied_pairs(v, n, 1);
        double n0 = (double)n * (double)(n - 1) / 2;
        double den = sqrt((n0 - n1) * (n0 - n2));
        if (den > 0)
            tau = (n0 - n1 - n2 + n3 - 2 * disc) / den;
    }
    free(v);
    free(tmp);
    return tau;
}

double ns_stat_top_overlap(const double *a, const double *b, size_t n, double frac)
{
    if (n == 0)
        return NAN;
    size_t m = (size_t)ceil(frac * (double)n - 1e-9);
    m = m < 1 ? 1 : m > n ? n : m;
    size_t *oa = order_of(a, n), *ob = order_of(b, n);
    char *in_a = calloc(n, 1);
    double share = NAN;
    if (oa && ob && in_a) {
        size_t both = 0;
        for (size_t i = 0; i < m; i++)
            in_a[oa[i]] = 1;
        for (size_t i = 0; i < m; i++)
            both += in_a[ob[i]];
        share = (double)both / (double)m;
    }
    free(oa);
    free(ob);
    free(in_a);
    return share;
}

/* ------------------------------------------------------------------ trend --------------- */

int ns_stat_trend(const double *x, const double *err, size_t n, int bins, int log_bins,
                  struct ns_trend_bin *out)
{
    if (bins < 1)
        return ns_err("trend: bins must be >= 1");
    double lo = INFINITY, hi = -INFINITY;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(err[i]) && (!log_bins || x[i] > 0)) {
            lo = fmin(lo, x[i]);
            hi = fmax(hi, x[i]);
            kept++;
        }
    if (kept == 0)
        return ns_err("trend: no models with both a %scomplexity and an error",
                      log_bins ? "positive " : "");
    int nb = lo < hi ? bins : 1;
    double *edges = malloc((size_t)(nb + 1) * sizeof *edges);
    if (!edges)
        return ns_err("trend: out of memory");
    if (nb == 1) {
        edges[0] = lo;
        edges[1] = hi;
    } else if (ns_plot_bin_edges(lo, hi, nb, log_bins, edges)) {
        free(edges);
        return -1;
    }
    for (int j = 0; j < nb; j++) {
        out[j] = (struct ns_trend_bin){edges[j], edges[j + 1], 0, 0, 0, 0};
        out[j].center = log_bins ? sqrt(edges[j] * edges[j + 1]) : (edges[j] + edges[j + 1]) / 2;
    }
    /* Two passes (mean, then squared deviations) for a stable sd. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            if (!(isfinite(x[i]) && isfinite(err[i]) && (!log_bins || x[i] > 0)))
                continue;
            int j = 0;
            while (j + 1 < nb && x[i] >= edges[j + 1])
                j++;
            if (pass == 0) {
                out[j].n++;
                out[j].mean += err[i];
            } else {
                double dv = err[i] - out[j].mean;
                out[j].sd += dv * dv;
            }
        }
        for (int j = 0; j < nb; j++) {
            if (out[j].n == 0) {
                out[j].mean = out[j].sd = NAN;
                continue;
            }
            if (pass == 0)
                out[j].mean /= (double)out[j].n;
            else
                out[j].sd = out[j].n > 1 ? sqrt(out[j].sd / (double)(out[j].n - 1)) : 0;
        }
    }
    free(edges);
    return nb;
}
