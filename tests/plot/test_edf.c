/* The statistics of src/plot on hand-worked inputs: EDF steps and ties, normalized weights
 * (sum to one, each bin 1/k, empty bins are errors), the percentile convention, the
 * bootstrap best-model range (deterministic per seed, right on a case whose distribution is
 * known exactly); and the file naming and quoting of the figure writers. */
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
#include <unistd.h>

#include "plot/plot.h"
#include "util/err.h"
#include "util/pcg32.h"

static void edf_counts_strictly_below_and_merges_ties(void **state)
{
    (void)state;
    const double err[5] = {3, 1, 2, 2, 5};
    struct ns_edf e;
    assert_int_equal(ns_plot_edf(err, NULL, 5, &e), 0);
    /* Distinct errors 1 2 3 5; the tie at 2 is one step of 2/5. */
    assert_int_equal(e.n, 4);
    const double x[4] = {1, 2, 3, 5}, y[4] = {0.2, 0.6, 0.8, 1.0};
    for (int i = 0; i < 4; i++) {
        assert_true(e.x[i] == x[i]);
        assert_true(fabs(e.y[i] - y[i]) < 1e-15);
    }
    assert_true(ns_edf_at(&e, 0.5) == 0.0);
    assert_true(ns_edf_at(&e, 1.0) == 0.0); /* F(e) counts errors < e, not <= */
    assert_true(fabs(ns_edf_at(&e, 2.0) - 0.2) < 1e-15);
    assert_true(fabs(ns_edf_at(&e, 2.5) - 0.6) < 1e-15);
    assert_true(fabs(ns_edf_at(&e, 5.0) - 0.8) < 1e-15);
    assert_true(ns_edf_at(&e, 99) == 1.0);
    ns_edf_free(&e);
}

static void edf_weighted_and_bad_input(void **state)
{
    (void)state;
    const double err[4] = {10, 20, 10, 30}, w[4] = {0.1, 0.2, 0.3, 0.4};
    struct ns_edf e;
    assert_int_equal(ns_plot_edf(err, w, 4, &e), 0);
    assert_int_equal(e.n, 3);
    assert_true(fabs(e.y[0] - 0.4) < 1e-15 && fabs(e.y[1] - 0.6) < 1e-15 &&
                fabs(e.y[2] - 1.0) < 1e-15);
    ns_edf_free(&e);

    const double bad[2] = {1, NAN}, neg[2] = {0.5, -0.5};
    assert_int_equal(ns_plot_edf(bad, NULL, 2, &e), -1);
    assert_non_null(strstr(ns_errmsg(), "model 1"));
    assert_null(e.x);
    assert_int_equal(ns_plot_edf(err, neg, 2, &e), -1);
    assert_int_equal(ns_plot_edf(err, NULL, 0, &e), -1);
}

static void norm_weights_hand_worked(void **state)
{
    (void)state;
    /* (0, 4) in 2 equal bins: {0.5, 1, 1.5} in [0, 2), {3} in [2, 4); 5 is outside and the
     * ends 0 and 4 are excluded (open interval). */
    const double cx[7] = {0.5, 5, 1, 3, 1.5, 0, 4};
    double w[7];
    size_t kept = 0;
    assert_int_equal(ns_plot_norm_weights(cx, 7, 0, 4, 2, 0, w, &kept), 0);
    assert_int_equal(kept, 4);
    const double want[7] = {1.0 / 6, 0, 1.0 / 6, 0.5, 1.0 / 6, 0, 0};
    double sum = 0;
    for (int i = 0; i < 7; i++) {
        assert_true(fabs(w[i] - want[i]) < 1e-15);
        sum += w[i];
    }
    assert_true(fabs(sum - 1) < 1e-15);

    /* Log bins on (1, 100), k = 2: edges 1, 10, 100. */
    const double cl[5] = {2, 5, 8, 50, 99};
    assert_int_equal(ns_plot_norm_weights(cl, 5, 1, 100, 2, 1, w, &kept), 0);
    assert_int_equal(kept, 5);
    for (int i = 0; i < 3; i++)
        assert_true(fabs(w[i] - 1.0 / 6) < 1e-15);
    for (int i = 3; i < 5; i++)
        assert_true(fabs(w[i] - 0.25) < 1e-15);
    double edges[3];
    assert_int_equal(ns_plot_bin_edges(1, 100, 2, 1, edges), 0);
    assert_true(edges[0] == 1 && fabs(edges[1] - 10) < 1e-12 && edges[2] == 100);
}

static void norm_weights_sum_to_one_per_bin(void **state)
{
    (void)state;
    enum { N = 3000, K = 7 };
    double *cx = malloc(N * sizeof *cx), *w = malloc(N * sizeof *w);
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 11, 3);
    for (int i = 0; i < N; i++) /* skewed over four decades, as flops are */
        cx[i] = 1e5 * pow(10, 4 * pow(ns_pcg32_double(&rng), 2));
    double lo = 2e5, hi = 5e8, edges[K + 1], bin_w[K] = {0}, sum = 0;
    size_t kept;
    assert_int_equal(ns_plot_norm_weights(cx, N, lo, hi, K, 1, w, &kept), 0);
    assert_int_equal(ns_plot_bin_edges(lo, hi, K, 1, edges), 0);
    size_t nk = 0;
    for (int i = 0; i < N; i++) {
        if (cx[i] > lo && cx[i] < hi) {
            nk++;
            int b = 0;
            while (b + 1 < K && cx[i] >= edges[b + 1])
                b++;
            bin_w[b] += w[i];
        } else {
            assert_true(w[i] == 0);
        }
        sum += w[i];
    }
    assert_int_equal(kept, nk);
    assert_true(fabs(sum - 1) < 1e-12);
    for (int b = 0; b < K; b++)
        assert_true(fabs(bin_w[b] - 1.0 / K) < 1e-12);

    /* The normalized EDF then ends at exactly the total weight. */
    double *err = malloc(N * sizeof *err);
    for (int i = 0; i < N; i++)
        err[i] = 5 + 10 * ns_pcg32_double(&rng);
    struct ns_edf e;
    assert_int_equal(ns_plot_edf(err, w, N, &e), 0);
    assert_true(fabs(e.y[e.n - 1] - 1) < 1e-12);
    for (size_t i = 1; i < e.n; i++)
        assert_true(e.y[i] >= e.y[i - 1] && e.x[i] > e.x[i - 1]);
    ns_edf_free(&e);
    free(err);
    free(cx);
    free(w);
}

static void norm_weights_empty_bin_is_an_error(void **state)
{
    (void)state;
    /* (1, 4) in 3 equal bins: nothing in [2, 3). */
    const double cx[3] = {1.5, 1.7, 3.5};
    double w[3];
    assert_int_equal(ns_plot_norm_weights(cx, 3, 1, 4, 3, 0, w, NULL), -1);
    assert_non_null(strstr(ns_errmsg(), "bin 2 of 3, (2, 3), has no models"));
    /* Everything outside the range: every bin is empty, the first is named. */
    assert_int_equal(ns_plot_norm_weights(cx, 3, 10, 20, 2, 1, w, NULL), -1);
    assert_non_null(strstr(ns_errmsg(), "bin 1 of 2"));
    assert_int_equal(ns_plot_norm_weights(cx, 3, 4, 1, 3, 0, w, NULL), -1);
    assert_non_null(strstr(ns_errmsg(), "empty"));
    assert_int_equal(ns_plot_norm_weights(cx, 3, 0, 4, 3, 1, w, NULL), -1);
    assert_non_null(strstr(ns_errmsg(), "lo > 0"));
    assert_int_equal(ns_plot_norm_weights(cx, 3, 1, 4, 0, 0, w, NULL), -1);
}

static void percentile_interpolates_between_ranks(void **state)
{
    (void)state;
    const double x[4] = {1, 2, 3, 4};
    /* h = (n-1) p / 100: p=50 -> 1.5, p=2.5 -> 0.075, p=97.5 -> 2.925. */
    assert_true(fabs(ns_plot_percentile(x, 4, 50) - 2.5) < 1e-15);
    assert_true(fabs(ns_plot_percentile(x, 4, 2.5) - 1.075) < 1e-15);
    assert_true(fabs(ns_plot_percentile(x, 4, 97.5) - 3.925) < 1e-15);
    assert_true(ns_plot_percentile(x, 4, 0) == 1 && ns_plot_percentile(x, 4, 100) == 4);
    assert_true(ns_plot_percentile(x + 2, 1, 50) == 3);
    assert_true(isnan(ns_plot_percentile(x, 0, 50)));
}

/* n = 8, so each resample draws floor(8/4) = 2 models; with error increasing with the index
 * and val = index, the best is the smaller of two uniform indices: P(min = i) =
 * (15 - 2i)/64, so P(min <= 1) = .44, P(min <= 2) = .61 (median 2), P(min = 0) = .23
 * (2.5th percentile 0), P(min >= 6) = .0625 and P(min = 7) = .016 (97.5th percentile 6).
 * Each margin is several standard deviations of 2500 draws. */
static void bootstrap_matches_the_exact_distribution(void **state)
{
    (void)state;
    double err[8], val[8], same[8];
    for (int i = 0; i < 8; i++) {
        err[i] = 10 + i;
        val[i] = i;
        same[i] = 10;
    }
    for (uint64_t seed = 1; seed <= 5; seed++) {
        struct ns_plot_range r, t;
        assert_int_equal(ns_plot_bootstrap_best(err, val, 8, 2500, seed, &r), 0);
        assert_true(r.lo == 0 && r.med == 2 && r.hi == 6);
        /* All errors equal: the lower index wins, the same pick as above, draw for draw. */
        assert_int_equal(ns_plot_bootstrap_best(same, val, 8, 2500, seed, &t), 0);
        assert_true(t.lo == r.lo && t.med == r.med && t.hi == r.hi);
    }
    /* n = 7 draws floor(7/4) = 1 model: the pick is uniform on 0..6, median 3 (with 2 draws
     * it would be 2). */
    struct ns_plot_range r;
    assert_int_equal(ns_plot_bootstrap_best(err, val, 7, 2500, 3, &r), 0);
    assert_true(r.lo == 0 && r.med == 3 && r.hi == 6);

    assert_int_equal(ns_plot_bootstrap_best(err, val, 3, 2500, 1, &r), -1);
    assert_non_null(strstr(ns_errmsg(), "at least 4"));
    err[2] = NAN;
    assert_int_equal(ns_plot_bootstrap_best(err, val, 8, 2500, 1, &r), -1);
}

static void bootstrap_is_deterministic_per_seed(void **state)
{
    (void)state;
    enum { N = 400 };
    double err[N], val[N];
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 5, 5);
    for (int i = 0; i < N; i++) {
        val[i] = 8 + 200 * ns_pcg32_double(&rng);
        err[i] = 10 + fabs(val[i] - 60) / 20 + 3 * ns_pcg32_double(&rng);
    }
    struct ns_plot_range a, b, c;
    assert_int_equal(ns_plot_bootstrap_best(err, val, N, 2500, 42, &a), 0);
    assert_int_equal(ns_plot_bootstrap_best(err, val, N, 2500, 42, &b), 0);
    assert_int_equal(ns_plot_bootstrap_best(err, val, N, 2500, 43, &c), 0);
    assert_memory_equal(&a, &b, sizeof a);
    assert_true(a.lo != c.lo || a.med != c.med || a.hi != c.hi);
    assert_true(a.lo <= a.med && a.med <= a.hi);
    /* Errors are lowest near val = 60; the band must bracket the region of the winners. */
    assert_true(a.lo > 8 && a.hi < 140 && a.med > 30 && a.med < 90);
}

static void files_are_named_beside_the_image(void **state)
{
    (void)state;
    struct ns_plot_files f;
    assert_int_equal(ns_plot_files_init(&f, "out/dir/edf.v2.png"), 0);
    assert_string_equal(f.gp, "out/dir/edf.v2.gp");
    assert_string_equal(f.dat, "out/dir/edf.v2.dat");
    assert_string_equal(f.dir, "out/dir");
    assert_string_equal(f.img_base, "edf.v2.png");
    assert_string_equal(f.dat_base, "edf.v2.dat");
    assert_int_equal(f.svg, 0);
    ns_plot_files_free(&f);
    assert_int_equal(ns_plot_files_init(&f, "x.SVG"), 0);
    assert_string_equal(f.dir, ".");
    assert_int_equal(f.svg, 1);
    ns_plot_files_free(&f);
    assert_int_equal(ns_plot_files_init(&f, "/x.png"), 0);
    assert_string_equal(f.dir, "/");
    ns_plot_files_free(&f);
    assert_int_equal(ns_plot_files_init(&f, "plot.jpg"), -1);
    assert_non_null(strstr(ns_errmsg(), ".png or .svg"));
    assert_int_equal(ns_plot_files_init(&f, "a.b/plot"), -1);
    assert_int_equal(ns_plot_files_init(&f, "dir/.png"), -1);
    ns_plot_files_free(&f); /* safe on the zeroed struct an error leaves */
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* The EDF figure's data is the step curve, starting on the axis, and names in the script
 * are quoted so that any study name is safe. */
static void edf_figure_writes_steps_and_quotes_names(void **state)
{
    (void)state;
    char dir[] = "/tmp/ns_plot_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char out[256];
    snprintf(out, sizeof out, "%s/edf.png", dir);
    struct ns_plot_files f;
    assert_int_equal(ns_plot_files_init(&f, out), 0);
    const double err[5] = {3, 1, 2, 2, 5};
    struct ns_plot_edf_series s = {"it's_a\nstudy", 5, err, NULL, 2};
    struct ns_plot_edf_opts o = {NULL, "test error", 0, NULL, 0, 0, 0, 0};
    assert_int_equal(ns_plot_fig_edf(&f, &s, 1, &o), 0);
    const char *dat = slurp(f.dat);
    assert_non_null(strstr(dat, "\n1 0\n1 0.2\n2 0.6\n3 0.8\n5 1\n"));
    const char *gp = slurp(f.gp);
    assert_non_null(strstr(gp, "'it''s_a study  (n=5, 2 failed, min 1.00%, mean 2.60%)'"));
    assert_non_null(strstr(gp, "with steps"));
    assert_non_null(
        strstr(gp, "if (!exists('outfile')) outfile = './edf.png'\nset output outfile"));
    assert_non_null(strstr(gp, "datafile = './edf.dat'"));
    assert_non_null(strstr(gp, "failed trials dropped"));
    unlink(f.gp);
    unlink(f.dat);
    rmdir(dir);
    ns_plot_files_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(edf_counts_strictly_below_and_merges_ties),
        cmocka_unit_test(edf_weighted_and_bad_input),
        cmocka_unit_test(norm_weights_hand_worked),
        cmocka_unit_test(norm_weights_sum_to_one_per_bin),
        cmocka_unit_test(norm_weights_empty_bin_is_an_error),
        cmocka_unit_test(percentile_interpolates_between_ranks),
        cmocka_unit_test(bootstrap_matches_the_exact_distribution),
        cmocka_unit_test(bootstrap_is_deterministic_per_seed),
        cmocka_unit_test(files_are_named_beside_the_image),
        cmocka_unit_test(edf_figure_writes_steps_and_quotes_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
