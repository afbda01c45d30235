/* The analysis statistics (src/plot/stats.c) on hand-worked inputs: KS with ties and
 * weights and its p-value against the tabulated Kolmogorov distribution, medians and
 * bootstrap intervals whose resampling distribution is known exactly, paired twins, the
 * exact random-search curve, rank correlations with ties, top-10 % overlap, trend bins; and
 * the degenerate cases (one model, all tied, empty) as values or clear errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first */
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/analysis.h"
#include "util/err.h"

#define NEAR(a, b, tol) assert_true(fabs((a) - (b)) <= (tol))

/* The alternating series of Q, summed far out (an independent check of the two branches). */
static double q_series(double l)
{
    double q = 0;
    for (int k = 1; k <= 200; k++)
        q += (k % 2 ? 2.0 : -2.0) * exp(-2.0 * k * k * l * l);
    return q;
}

static void kolmogorov_q_matches_its_table(void **state)
{
    (void)state;
    /* Critical values of the Kolmogorov distribution: Q(1.2238) = 0.10, Q(1.3581) = 0.05,
     * Q(1.6276) = 0.01; its median is 0.8276. */
    NEAR(ns_stat_kolmogorov_q(1.2238), 0.10, 2e-4);
    NEAR(ns_stat_kolmogorov_q(1.3581), 0.05, 2e-4);
    NEAR(ns_stat_kolmogorov_q(1.6276), 0.01, 2e-4);
    NEAR(ns_stat_kolmogorov_q(0.8276), 0.50, 5e-4);
    /* Both branches (theta form below 1.18, series above) agree with the long series. */
    for (double l = 0.5; l < 3; l += 0.1)
        NEAR(ns_stat_kolmogorov_q(l), q_series(l), 1e-9);
    assert_true(ns_stat_kolmogorov_q(0) == 1.0);
    assert_true(ns_stat_kolmogorov_q(-1) == 1.0);
    NEAR(ns_stat_kolmogorov_q(0.05), 1.0, 1e-12);
    assert_true(ns_stat_kolmogorov_q(10) >= 0 && ns_stat_kolmogorov_q(10) < 1e-80);
}

static void ks_is_the_largest_gap_of_the_edfs(void **state)
{
    (void)state;
    struct ns_ks ks;
    /* {1,2,3,4} against {3,4,5,6}: after 2, F_a = 1/2 and F_b = 0; after 3, 3/4 - 1/4. */
    const double a[4] = {4, 1, 3, 2}, b[4] = {3, 4, 5, 6};
    assert_int_equal(ns_stat_ks(a, NULL, 4, b, NULL, 4, &ks), 0);
    NEAR(ks.d, 0.5, 1e-15);
    NEAR(ks.m, 2.0, 1e-15); /* 4*4/(4+4) */
    /* p = Q((sqrt 2 + 0.12 + 0.11/sqrt 2) * 0.5) = Q(0.806000...) */
    double l = (sqrt(2) + 0.12 + 0.11 / sqrt(2)) * 0.5;
    NEAR(ks.p, q_series(l), 1e-9);
    assert_true(ks.p > 0.5 && ks.p < 0.6); /* Q(0.806) = 0.534 */

    /* Disjoint samples: D = 1; n = 3 each, m = 1.5, l = sqrt(1.5) + 0.12 + 0.11/sqrt(1.5). */
    const double lo3[3] = {1, 2, 3}, hi3[3] = {4, 5, 6};
    assert_int_equal(ns_stat_ks(lo3, NULL, 3, hi3, NULL, 3, &ks), 0);
    NEAR(ks.d, 1.0, 0);
    NEAR(ks.p, q_series(sqrt(1.5) + 0.12 + 0.11 / sqrt(1.5)), 1e-9);
    NEAR(ks.p, 0.0326, 2e-4);
    /* Symmetric. */
    struct ns_ks back;
    assert_int_equal(ns_stat_ks(hi3, NULL, 3, lo3, NULL, 3, &back), 0);
    assert_true(back.d == ks.d && back.p == ks.p);

    /* The same sample: D = 0, p = 1. */
    assert_int_equal(ns_stat_ks(a, NULL, 4, a, NULL, 4, &ks), 0);
    assert_true(ks.d == 0 && ks.p == 1);
}

static void ks_ties_move_both_curves_at_once(void **state)
{
    (void)state;
    /* {1,2,2} against {2,3}: at 1, 1/3 - 0; at 2, 1 - 1/2; at 3, 0. D = 1/2. A walk that
     * took a's 2s before b's would see |1 - 0| = 1. */
    const double a[3] = {2, 1, 2}, b[2] = {3, 2};
    struct ns_ks ks;
    assert_int_equal(ns_stat_ks(a, NULL, 3, b, NULL, 2, &ks), 0);
    NEAR(ks.d, 0.5, 1e-15);
    /* All tied in both: D = 0. */
    const double c[3] = {7, 7, 7}, d[2] = {7, 7};
    assert_int_equal(ns_stat_ks(c, NULL, 3, d, NULL, 2, &ks), 0);
    assert_true(ks.d == 0 && ks.p == 1);
}

static void ks_weighted_uses_the_weights_and_their_effective_size(void **state)
{
    (void)state;
    /* The same errors, weights 3:1 against 1:3: F_a(1) = 3/4, F_b(1) = 1/4; D = 1/2. The
     * effective size of each is (3+1)^2/(9+1) = 1.6, so m = 0.8. */
    const double x[2] = {1, 2}, wa[2] = {3, 1}, wb[2] = {1, 3};
    struct ns_ks ks;
    assert_int_equal(ns_stat_ks(x, wa, 2, x, wb, 2, &ks), 0);
    NEAR(ks.d, 0.5, 1e-15);
    NEAR(ks.m, 0.8, 1e-12);
    NEAR(ks.p, ns_stat_kolmogorov_q((sqrt(0.8) + 0.12 + 0.11 / sqrt(0.8)) * 0.5), 1e-15);
    /* A zero weight removes a model: {1 (w 0), 5} against {5}: D = 0. */
    const double y[2] = {1, 5}, wy[2] = {0, 2}, z[1] = {5};
    assert_int_equal(ns_stat_ks(y, wy, 2, z, NULL, 1, &ks), 0);
    NEAR(ks.d, 0, 1e-15);
}

static void ks_bad_input_is_an_error(void **state)
{
    (void)state;
    const double a[2] = {1, NAN}, b[2] = {1, 2}, w0[2] = {0, 0}, wneg[2] = {1, -1};
    struct ns_ks ks;
    assert_int_equal(ns_stat_ks(a, NULL, 2, b, NULL, 2, &ks), -1);
    assert_non_null(strstr(ns_errmsg(), "model 1"));
    assert_true(isnan(ks.d));
    assert_int_equal(ns_stat_ks(b, NULL, 0, b, NULL, 2, &ks), -1);
    assert_non_null(strstr(ns_errmsg(), "no models"));
    assert_int_equal(ns_stat_ks(b, w0, 2, b, NULL, 2, &ks), -1);
    assert_int_equal(ns_stat_ks(b, NULL, 2, b, wneg, 2, &ks), -1);
}

static void median_intervals_on_known_resampling_distributions(void **state)
{
    (void)state;
    const double odd[5] = {5, 1, 4, 2, 3}, even[4] = {4, 1, 3, 2};
    NEAR(ns_stat_median(odd, 5), 3, 0);
    NEAR(ns_stat_median(even, 4), 2.5, 0);
    assert_true(isnan(ns_stat_median(odd, 0)));

    /* {0, 1}: a resample of two is {0,0} (1/4), {0,1} (1/2) or {1,1} (1/4), so its median is
     * 0, 0.5 or 1, and the 2.5 and 97.5 percentiles are 0 and 1. */
    const double two[2] = {0, 1};
    struct ns_ci ci;
    assert_int_equal(ns_stat_median_ci(two, 2, 4000, 1, &ci), 0);
    assert_true(ci.est == 0.5 && ci.lo == 0 && ci.hi == 1);
    /* One model, or all tied: a zero-width interval. */
    const double same[3] = {5, 5, 5};
    assert_int_equal(ns_stat_median_ci(same, 3, 100, 1, &ci), 0);
    assert_true(ci.est == 5 && ci.lo == 5 && ci.hi == 5);
    assert_int_equal(ns_stat_median_ci(same, 1, 100, 1, &ci), 0);
    assert_true(ci.lo == 5 && ci.hi == 5);
    /* Deterministic per seed. */
    struct ns_ci c2;
    const double many[9] = {9, 3, 7, 1, 8, 2, 6, 4, 5};
    assert_int_equal(ns_stat_median_ci(many, 9, 500, 42, &ci), 0);
    assert_int_equal(ns_stat_median_ci(many, 9, 500, 42, &c2), 0);
    assert_true(ci.lo == c2.lo && ci.hi == c2.hi);
    assert_true(ci.lo <= ci.est && ci.est <= ci.hi && ci.lo >= 1 && ci.hi <= 9);
    assert_int_equal(ns_stat_median_ci(many, 0, 500, 42, &ci), -1);

    /* median(b) - median(a): {7,7} - {5,5,5} is 2 in every resample; {0} - {0,1} is 0 -
     * (0, 0.5 or 1), so the interval is [-1, 0]. */
    const double b7[2] = {7, 7}, zero[1] = {0};
    assert_int_equal(ns_stat_median_diff_ci(same, 3, b7, 2, 300, 1, &ci), 0);
    assert_true(ci.est == 2 && ci.lo == 2 && ci.hi == 2);
    assert_int_equal(ns_stat_median_diff_ci(two, 2, zero, 1, 4000, 1, &ci), 0);
    assert_true(ci.est == -0.5 && ci.lo == -1 && ci.hi == 0);
    assert_int_equal(ns_stat_median_diff_ci(two, 2, zero, 0, 10, 1, &ci), -1);
    assert_non_null(strstr(ns_errmsg(), "second study: no models"));
}

static void paired_counts_wins_and_differences(void **state)
{
    (void)state;
    /* d = b - a = {-1, +2, 0, -5}: b better twice, a once, one tie; mean -1; median of
     * {-5, -1, 0, 2} is -0.5. */
    const double a[4] = {10, 20, 30, 40}, b[4] = {9, 22, 30, 35};
    struct ns_paired p;
    assert_int_equal(ns_stat_paired(a, b, 4, 1000, 3, &p), 0);
    assert_int_equal(p.n, 4);
    assert_int_equal(p.b_better, 2);
    assert_int_equal(p.a_better, 1);
    assert_int_equal(p.ties, 1);
    NEAR(p.mean.est, -1, 1e-15);
    NEAR(p.median.est, -0.5, 0);
    assert_true(p.mean.lo >= -5 && p.mean.hi <= 2 && p.mean.lo < -1 && p.mean.hi > -1);
    assert_true(p.median.lo >= -5 && p.median.hi <= 2);
    /* One pair: the interval is the point. */
    assert_int_equal(ns_stat_paired(a, b, 1, 50, 3, &p), 0);
    assert_true(p.mean.lo == -1 && p.mean.hi == -1 && p.b_better == 1);
    assert_int_equal(ns_stat_paired(a, b, 0, 50, 3, &p), -1);
    const double bad[1] = {NAN};
    assert_int_equal(ns_stat_paired(a, bad, 1, 50, 3, &p), -1);
}

static void rs_curve_is_the_exact_expected_minimum(void **state)
{
    (void)state;
    struct ns_edf e;
    double c[3];
    /* {10, 20}: k = 1: 15; k = 2: the min is 10 unless both draws are 20 (1/4): 12.5;
     * k = 3: 10 * 7/8 + 20/8 = 11.25. */
    const double two[2] = {20, 10};
    assert_int_equal(ns_plot_edf(two, NULL, 2, &e), 0);
    assert_int_equal(ns_stat_rs_curve(&e, 3, c), 0);
    NEAR(c[0], 15, 1e-12);
    NEAR(c[1], 12.5, 1e-12);
    NEAR(c[2], 11.25, 1e-12);
    ns_edf_free(&e);
    /* Weighted 1:3: k = 1: 17.5; k = 2: P(min = 10) = 1 - 0.75^2 = 0.4375: 15.625. */
    const double w[2] = {3, 1};
    assert_int_equal(ns_plot_edf(two, w, 2, &e), 0);
    assert_int_equal(ns_stat_rs_curve(&e, 2, c), 0);
    NEAR(c[0], 17.5, 1e-12);
    NEAR(c[1], 15.625, 1e-12);
    ns_edf_free(&e);
    /* Ties: {10, 10, 20}: k = 2: 1 - (1/3)^2 = 8/9 at 10. */
    const double tie[3] = {10, 20, 10};
    assert_int_equal(ns_plot_edf(tie, NULL, 3, &e), 0);
    assert_int_equal(ns_stat_rs_curve(&e, 2, c), 0);
    NEAR(c[0], 40.0 / 3, 1e-12);
    NEAR(c[1], 10 * 8.0 / 9 + 20.0 / 9, 1e-12);
    assert_int_equal(ns_stat_rs_curve(&e, 0, c), -1);
    ns_edf_free(&e);
    /* One model: the curve is flat at its error. */
    assert_int_equal(ns_plot_edf(two, NULL, 1, &e), 0);
    assert_int_equal(ns_stat_rs_curve(&e, 3, c), 0);
    assert_true(c[0] == 20 && c[1] == 20 && c[2] == 20);
    ns_edf_free(&e);
}

static void rs_band_resamples_the_weighted_edf(void **state)
{
    (void)state;
    double lo[8], hi[8];
    /* All tied: the band is the point. */
    const double same[4] = {3, 3, 3, 3};
    assert_int_equal(ns_stat_rs_band(same, NULL, 4, 8, 200, 1, lo, hi), 0);
    for (int k = 0; k < 8; k++)
        assert_true(lo[k] == 3 && hi[k] == 3);
    /* A model of weight zero is never drawn: with {10, 20, 1000} weighted {1, 1, 0} no
     * curve exceeds 20. */
    const double err[3] = {10, 20, 1000}, w[3] = {1, 1, 0};
    assert_int_equal(ns_stat_rs_band(err, w, 3, 8, 500, 1, lo, hi), 0);
    for (int k = 0; k < 8; k++)
        assert_true(lo[k] >= 10 && hi[k] <= 20 && lo[k] <= hi[k]);
    /* 40 spread errors: the band holds the exact curve and narrows towards the minimum. */
    double x[40], curve[8];
    for (int i = 0; i < 40; i++)
        x[i] = 20 + (i * 17) % 40;
    struct ns_edf e;
    assert_int_equal(ns_plot_edf(x, NULL, 40, &e), 0);
    assert_int_equal(ns_stat_rs_curve(&e, 8, curve), 0);
    ns_edf_free(&e);
    assert_int_equal(ns_stat_rs_band(x, NULL, 40, 8, 1000, 5, lo, hi), 0);
    for (int k = 0; k < 8; k++) {
        assert_true(lo[k] <= curve[k] && curve[k] <= hi[k]);
        if (k)
            assert_true(curve[k] <= curve[k - 1]);
    }
    assert_int_equal(ns_stat_rs_band(x, NULL, 0, 8, 10, 5, lo, hi), -1);
    const double wz[3] = {0, 0, 0};
    assert_int_equal(ns_stat_rs_band(err, wz, 3, 8, 10, 5, lo, hi), -1);
}

static void rank_correlations_by_hand(void **state)
{
    (void)state;
    /* {1,2,3,4} against {1,3,2,4}: rank differences 0,1,1,0: rho = 1 - 6*2/(4*15) = 0.8;
     * one discordant pair of six: tau = (5 - 1)/6. */
    const double a[4] = {1, 2, 3, 4}, b[4] = {1, 3, 2, 4}, r[4] = {4, 3, 2, 1};
    NEAR(ns_stat_spearman(a, b, 4), 0.8, 1e-12);
    NEAR(ns_stat_kendall(a, b, 4), 4.0 / 6, 1e-12);
    NEAR(ns_stat_spearman(a, r, 4), -1, 1e-12);
    NEAR(ns_stat_kendall(a, r, 4), -1, 1e-12);
    /* Ties: {1,1,2} against {1,2,3}: ranks {1.5,1.5,3} and {1,2,3}: covariance 1.5,
     * variances 1.5 and 2: rho = 1.5/sqrt(3); tau-b: 2 concordant, a tied in 1 of 3 pairs:
     * 2/sqrt(2*3). */
    const double ta[3] = {1, 1, 2}, tb[3] = {1, 2, 3};
    NEAR(ns_stat_spearman(ta, tb, 3), 1.5 / sqrt(3), 1e-12);
    NEAR(ns_stat_kendall(ta, tb, 3), 2 / sqrt(6), 1e-12);
    /* Undefined: one pair, or every value tied. */
    const double same[3] = {5, 5, 5};
    assert_true(isnan(ns_stat_spearman(a, b, 1)));
    assert_true(isnan(ns_stat_kendall(a, b, 1)));
    assert_true(isnan(ns_stat_spearman(same, tb, 3)));
    assert_true(isnan(ns_stat_kendall(tb, same, 3)));
}

/* Kendall's tau-b by its definition, pair by pair: the oracle for the O(n log n) version. */
static double kendall_pairs(const double *a, const double *b, size_t n)
{
    double c = 0, d = 0, ta = 0, tb = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double da = a[i] - a[j], db = b[i] - b[j];
            ta += da == 0;
            tb += db == 0;
            if (da * db > 0)
                c++;
            else if (da * db < 0)
                d++;
        }
    double n0 = n * (n - 1) / 2.0;
    return (c - d) / sqrt((n0 - ta) * (n0 - tb));
}

static void kendall_matches_the_pairwise_definition(void **state)
{
    (void)state;
    /* Random data with many ties in a, in b and in both. */
    uint64_t x = 12345;
    for (int trial = 0; trial < 20; trial++) {
        double a[300], b[300];
        size_t n = 2 + (size_t)trial * 15;
        for (size_t i = 0; i < n; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            a[i] = (double)((x >> 33) % 7);
            b[i] = (double)((x >> 45) % 5) + (trial % 2 ? 0.5 * a[i] : 0);
        }
        double want = kendall_pairs(a, b, n), got = ns_stat_kendall(a, b, n);
        if (isnan(want))
            assert_true(isnan(got));
        else
            NEAR(got, want, 1e-12);
    }
}

static void top_overlap_counts_shared_best_models(void **state)
{
    (void)state;
    double a[20], b[20];
    for (int i = 0; i < 20; i++) {
        a[i] = i;
        b[i] = 20 - i;
    }
    assert_true(ns_stat_top_overlap(a, a, 20, 0.1) == 1.0);
    assert_true(ns_stat_top_overlap(a, b, 20, 0.1) == 0.0);
    /* Top 2 of a are models 0 and 1; make b's top 2 models 1 and 5: half shared. */
    for (int i = 0; i < 20; i++)
        b[i] = 100 + i;
    b[1] = 1;
    b[5] = 2;
    assert_true(ns_stat_top_overlap(a, b, 20, 0.1) == 0.5);
    /* ceil(0.1 * 5) = 1: the single best. Ties broken by index: all tied a keeps model 0. */
    const double t[5] = {3, 3, 3, 3, 3}, u[5] = {9, 0, 9, 9, 9};
    assert_true(ns_stat_top_overlap(t, u, 5, 0.1) == 0.0);
    assert_true(ns_stat_top_overlap(t, t, 5, 0.1) == 1.0);
    assert_true(isnan(ns_stat_top_overlap(t, u, 0, 0.1)));
}

static void trend_bins_mean_and_sd(void **state)
{
    (void)state;
    struct ns_trend_bin bins[4];
    /* x 1..4 in two equal bins [1, 2.5), [2.5, 4]: {10, 20}: mean 15, sd sqrt(50);
     * {30, 50}: mean 40, sd sqrt(200). */
    const double x[4] = {1, 2, 3, 4}, e[4] = {10, 20, 30, 50};
    assert_int_equal(ns_stat_trend(x, e, 4, 2, 0, bins), 2);
    assert_int_equal(bins[0].n, 2);
    NEAR(bins[0].mean, 15, 1e-12);
    NEAR(bins[0].sd, sqrt(50), 1e-12);
    NEAR(bins[1].mean, 40, 1e-12);
    NEAR(bins[1].sd, sqrt(200), 1e-12);
    NEAR(bins[0].center, 1.75, 1e-12);
    /* Log bins over 1..100: [1, 10) holds 1, [10, 100] holds 20 and 100 (the maximum in the last
     * bin); one model has sd 0; centres geometric. */
    const double lx[3] = {1, 20, 100}, le[3] = {5, 6, 8};
    assert_int_equal(ns_stat_trend(lx, le, 3, 2, 1, bins), 2);
    assert_true(bins[0].n == 1 && bins[0].sd == 0 && bins[0].mean == 5);
    assert_true(bins[1].n == 2 && bins[1].mean == 7);
    NEAR(bins[0].center, sqrt(10), 1e-12);
    /* An empty middle bin: n = 0, NAN mean. */
    const double ex[3] = {1, 1, 100}, ee[3] = {1, 2, 3};
    assert_int_equal(ns_stat_trend(ex, ee, 3, 3, 1, bins), 3);
    assert_true(bins[1].n == 0 && isnan(bins[1].mean));
    assert_true(bins[0].n == 2 && bins[2].n == 1);
    /* One distinct x: one bin; NAN and non-positive x (log) are left out. */
    const double one[3] = {5, 5, NAN}, oe[3] = {1, 3, 9};
    assert_int_equal(ns_stat_trend(one, oe, 3, 4, 1, bins), 1);
    assert_true(bins[0].n == 2 && bins[0].mean == 2);
    const double neg[2] = {-1, 0};
    assert_int_equal(ns_stat_trend(neg, oe, 2, 4, 1, bins), -1);
    assert_non_null(strstr(ns_errmsg(), "no models"));
    assert_int_equal(ns_stat_trend(x, e, 0, 4, 0, bins), -1);
}

/* The bootstrap interval of rho: monotone pairs stay at 1 in every resample; a noisy
 * ranking gets an interval around its estimate, the same for the same seed; too few pairs
 * give none. */
static void spearman_interval_from_resampled_pairs(void **state)
{
    (void)state;
    double a[12], b[12], c[12];
    for (int i = 0; i < 12; i++) {
        a[i] = i;
        b[i] = 2 * i + 1;
        c[i] = i + ((i * 7) % 5) * 1.5; /* a rough, not monotone, agreement */
    }
    struct ns_ci ci, again;
    assert_int_equal(ns_stat_spearman_ci(a, b, 12, 400, 3, &ci), 0);
    NEAR(ci.est, 1, 1e-12);
    NEAR(ci.lo, 1, 1e-12);
    NEAR(ci.hi, 1, 1e-12);
    assert_int_equal(ns_stat_spearman_ci(a, c, 12, 400, 3, &ci), 0);
    NEAR(ci.est, ns_stat_spearman(a, c, 12), 1e-12);
    assert_true(ci.lo < ci.est && ci.est < ci.hi && ci.hi <= 1 && ci.lo > -1);
    assert_int_equal(ns_stat_spearman_ci(a, c, 12, 400, 3, &again), 0);
    assert_true(again.lo == ci.lo && again.hi == ci.hi);
    assert_int_equal(ns_stat_spearman_ci(a, c, 1, 400, 3, &ci), 0);
    assert_true(isnan(ci.est) && isnan(ci.lo) && isnan(ci.hi));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kolmogorov_q_matches_its_table),
        cmocka_unit_test(ks_is_the_largest_gap_of_the_edfs),
        cmocka_unit_test(ks_ties_move_both_curves_at_once),
        cmocka_unit_test(ks_weighted_uses_the_weights_and_their_effective_size),
        cmocka_unit_test(ks_bad_input_is_an_error),
        cmocka_unit_test(median_intervals_on_known_resampling_distributions),
        cmocka_unit_test(paired_counts_wins_and_differences),
        cmocka_unit_test(rs_curve_is_the_exact_expected_minimum),
        cmocka_unit_test(rs_band_resamples_the_weighted_edf),
        cmocka_unit_test(rank_correlations_by_hand),
        cmocka_unit_test(kendall_matches_the_pairwise_definition),
        cmocka_unit_test(top_overlap_counts_shared_best_models),
        cmocka_unit_test(spearman_interval_from_resampled_pairs),
        cmocka_unit_test(trend_bins_mean_and_sd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
