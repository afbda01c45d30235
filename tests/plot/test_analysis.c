/* The analyses from a db (compare, the rs/fidelity/trend/effects plots, the report) on a
 * fixture whose every number is chosen by hand, including the degenerate studies each
 * analysis must answer with a clear message rather than a crash or a NaN.
 *
 * Two modes, as test_plotdb:
 *   plot_test_analysis PATH   write the fixture db to PATH (must not exist) and exit 0
 *                             (tests/plot/test_report.sh, test_compare.sh use it);
 *   plot_test_analysis PATH budget   the same with plot budget's fixture;
 *   plot_test_analysis        run the cmocka tests on a fixture in a scratch folder.
 *
 * plot budget has a db of its own (budget_write, below).
 *
 * The fixture (errors in %, 10 classes):
 *   twin_a    8 trials, errors 10 20 .. 80 (trial i: 10(i+1)), flops 1e6 (i+1), params
 *             1000 (i+1); 3 epochs: epoch 1 ranks them in reverse, epoch 2 and 3 as final;
 *             sampled depth = 1 + i % 3 and lr (an other_params key) = 0.1 (i+1)
 *   twin_b    the same trials' architectures (equal flops, params), errors
 *             12 18 30 35 55 50 75 70: paired d = b - a = +2 -2 0 -5 +5 -10 +5 -10
 *   one       1 complete trial (error 25), no epoch rows
 *   empty     no trials
 *   allfailed 3 trials, all failed ("diverged: loss nan")
 *   ties      5 trials, all error 40, every epoch 40
 *   noepochs  6 trials, errors 30..55, no epoch rows, flops unlike twin_a's */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first */
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plot/analysis.h"
#include "plot_check.h"
#include "store/store.h"
#include "util/err.h"

#define NEAR(a, b, tol) assert_true(fabs((a) - (b)) <= (tol))

static const double twin_a_err[8] = {10, 20, 30, 40, 50, 60, 70, 80};
static const double twin_b_err[8] = {12, 18, 30, 35, 55, 50, 75, 70};

/* A study whose experiment holds recipe.epochs when epochs > 0 (plot budget reads it). */
static int64_t add_study_epochs(struct ns_db *db, const char *name, uint64_t seed, int epochs)
{
    char exp_json[160], recipe[48] = "";
    if (epochs > 0)
        snprintf(recipe, sizeof recipe, "\"recipe\":{\"epochs\":%d},", epochs);
    snprintf(exp_json, sizeof exp_json, "{\"fixture\":\"%s\",%s\"samples\":8}", name, recipe);
    struct ns_db_study_def def = {name, exp_json, seed, "fixture"};
    return ns_db_study_ensure(db, &def, NULL);
}

static int64_t add_study(struct ns_db *db, const char *name, uint64_t seed)
{
    return add_study_epochs(db, name, seed, 0);
}

/* Trial i with the given complexity; state complete (err finite, with `epochs` epoch rows
 * whose test errors come from ep[] or equal err) or failed (err NAN). */
static int add_trial(struct ns_db *db, int64_t sid, int i, double flops, double params, double err,
                     int epochs, const double *ep, int with_params)
{
    char hash[32];
    snprintf(hash, sizeof hash, "h%.0f", flops);
    struct ns_db_param p[2] = {{"depth", 1 + i % 3}, {"lr", 0.1 * (i + 1)}};
    struct ns_db_trial_def td = {i,
                                 (uint64_t)i,
                                 "{\"classes\":10}",
                                 hash,
                                 (int64_t)flops,
                                 (int64_t)params,
                                 (int64_t)(flops / 100),
                                 with_params ? p : NULL,
                                 with_params ? 2 : 0,
                                 (uint64_t)i};
    if (ns_db_trial_add(db, sid, &td) != 1 || ns_db_trial_start(db, sid, i, 1, "fixture"))
        return -1;
    if (!isfinite(err))
        return ns_db_trial_fail(db, sid, i, "diverged: loss nan at epoch 1", NULL);
    struct ns_db_epoch e[8];
    for (int k = 0; k < epochs; k++)
        e[k] = (struct ns_db_epoch){k, 1.0, err, ep ? ep[k] : err, 1.0};
    struct ns_db_result res = {err, err, err, 2.0, epochs ? e : NULL, epochs};
    return ns_db_trial_complete(db, sid, i, &res);
}

static int fx_write(const char *path)
{
    struct ns_db *db = ns_db_open(path, NS_DB_RW | NS_DB_CREATE);
    if (!db)
        return -1;
    int rc = ns_db_begin(db);
    int64_t a = add_study(db, "twin_a", 1), b = add_study(db, "twin_b", 1);
    rc |= a < 0 || b < 0;
    for (int i = 0; i < 8 && rc == 0; i++) {
        /* Epoch 1: the reverse of the final ranking; then the final ranking. */
        double ep[3] = {100 - twin_a_err[i], twin_a_err[i] + 1, twin_a_err[i]};
        rc = add_trial(db, a, i, 1e6 * (i + 1), 1000 * (i + 1), twin_a_err[i], 3, ep, 1);
        if (rc == 0)
            rc = add_trial(db, b, i, 1e6 * (i + 1), 1000 * (i + 1), twin_b_err[i], 3, NULL, 1);
    }
    int64_t one = add_study(db, "one", 2), empty = add_study(db, "empty", 3),
            failed = add_study(db, "allfailed", 4), ties = add_study(db, "ties", 5),
            noep = add_study(db, "noepochs", 6);
    rc |= one < 0 || empty < 0 || failed < 0 || ties < 0 || noep < 0;
    if (rc == 0)
        rc = add_trial(db, one, 0, 2e6, 2000, 25, 0, NULL, 1);
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = add_trial(db, failed, i, 3e6, 3000, NAN, 0, NULL, 1);
    for (int i = 0; i < 5 && rc == 0; i++)
        rc = add_trial(db, ties, i, 1e6 * (i + 1), 1000 * (i + 1), 40, 3, NULL, 0);
    for (int i = 0; i < 6 && rc == 0; i++)
        rc = add_trial(db, noep, i, 7e5 * (i + 2), 900 * (i + 1), 30 + 5 * i, 0, NULL, 1);
    if (rc == 0)
        rc = ns_db_commit(db);
    ns_db_close(db);
    return rc ? -1 : 0;
}

/* The budget fixture: twin_a's 8 architectures as the reference trained for 10 epochs
 * (errors 10 .. 80) and again for other budgets, each with its own errors:
 *   ref       10 epochs, errors twin_a's
 *   e1        1 epoch, the reverse ranking (errors 90 - ref's)
 *   e2        2 epochs, the same ranking (ref's + 5)
 *   s2        10 epochs (another training seed: the ceiling), twin_b's errors
 *   e4_other  4 epochs, other architectures (flops unlike ref's): no twins
 *   norecipe  the same architectures, an experiment without recipe.epochs
 *   e4_half   4 epochs, only trials 0..3 complete (the ranking kept): 4 twins */
static int budget_write(const char *path)
{
    struct ns_db *db = ns_db_open(path, NS_DB_RW | NS_DB_CREATE);
    if (!db)
        return -1;
    int rc = ns_db_begin(db);
    int64_t ref = add_study_epochs(db, "ref", 1, 10), e1 = add_study_epochs(db, "e1", 1, 1),
            e2 = add_study_epochs(db, "e2", 1, 2), s2 = add_study_epochs(db, "s2", 1, 10),
            other = add_study_epochs(db, "e4_other", 2, 4),
            norecipe = add_study_epochs(db, "norecipe", 1, 0),
            half = add_study_epochs(db, "e4_half", 1, 4);
    rc |= ref < 0 || e1 < 0 || e2 < 0 || s2 < 0 || other < 0 || norecipe < 0 || half < 0;
    for (int i = 0; i < 8 && rc == 0; i++) {
        double fl = 1e6 * (i + 1), pr = 1000 * (i + 1), a = twin_a_err[i];
        rc = add_trial(db, ref, i, fl, pr, a, 0, NULL, 0) ||
             add_trial(db, e1, i, fl, pr, 90 - a, 0, NULL, 0) ||
             add_trial(db, e2, i, fl, pr, a + 5, 0, NULL, 0) ||
             add_trial(db, s2, i, fl, pr, twin_b_err[i], 0, NULL, 0) ||
             add_trial(db, other, i, fl + 5e5, pr, a, 0, NULL, 0) ||
             add_trial(db, norecipe, i, fl, pr, a, 0, NULL, 0) ||
             (i < 4 ? add_trial(db, half, i, fl, pr, a + 1, 0, NULL, 0) : 0);
    }
    if (rc == 0)
        rc = ns_db_commit(db);
    ns_db_close(db);
    return rc ? -1 : 0;
}

/* ------------------------------------------------------------------------ tests ---- */

static char dbpath[128];

static int setup(void **state)
{
    (void)state;
    if (scratch_make("ns_analysis"))
        return -1;
    snprintf(dbpath, sizeof dbpath, "%s/fx.db", scratch);
    if (fx_write(dbpath)) {
        fprintf(stderr, "fixture: %s\n", ns_errmsg());
        return -1;
    }
    return 0;
}

/* A plot (gnuplot's absence tolerated: the script and data are written first). */
static int analysis(struct ns_plot_req *r, enum ns_plot_analysis_kind kind, int kmax, char **log)
{
    struct ns_plot_analysis_opts o = {kind, kmax};
    char *l = NULL, *w = NULL;
    int rc = ns_plot_make_analysis(r, &o, &l, &w);
    free(w);
    if (log)
        *log = l;
    else
        free(l);
    if (rc && strstr(ns_errmsg(), "gnuplot not found"))
        return 0;
    return rc;
}

static struct ns_plot_req req(const char *out, const char *const *studies, int n)
{
    return plot_req(dbpath, out, studies, n);
}

static void compare_twins_by_hand(void **state)
{
    (void)state;
    struct ns_compare_req r = {
        .db = dbpath, .a = "twin_a", .b = "twin_b", .resamples = 500, .paired = 1};
    struct ns_compare_result c;
    assert_int_equal(ns_compare(&r, &c), 0);
    /* The EDFs take turns: at 10, 18, 35, 55 and 75 one leads by 1/8; elsewhere they meet. */
    NEAR(c.ks.d, 0.125, 1e-15);
    NEAR(c.ks.m, 4, 1e-12);
    assert_true(c.ks.p > 0.99);
    NEAR(c.med_a.est, 45, 0);
    NEAR(c.med_b.est, 42.5, 0);
    NEAR(c.med_diff.est, -2.5, 1e-12);
    assert_true(c.med_a.lo <= 45 && c.med_a.hi >= 45 && c.med_a.lo >= 10 && c.med_a.hi <= 80);
    assert_true(c.na == 8 && c.nb == 8 && c.na_failed == 0);
    /* d = +2 -2 0 -5 +5 -10 +5 -10: b better 4, a better 3, one tie; mean -15/8; median of
     * -10 -10 -5 -2 0 2 5 5 is -1. */
    assert_int_equal(c.pairs, 8);
    assert_int_equal(c.unmatched, 0);
    assert_int_equal(c.p.b_better, 4);
    assert_int_equal(c.p.a_better, 3);
    assert_int_equal(c.p.ties, 1);
    NEAR(c.p.mean.est, -15.0 / 8, 1e-12);
    NEAR(c.p.median.est, -1, 0);
    assert_true(c.p.mean.lo < -1.875 && c.p.mean.hi > -1.875);
    assert_true(isnan(c.ks_weighted.d));

    /* Normalized by flops over (1e6, 8e6) in 1 bin: the models strictly inside, i.e. trials
     * 1..6 of each, weighted equally: D = 1/6 (at 18 and 35...). */
    r.paired = 0;
    r.normalize = "flops";
    r.bins = 1;
    assert_int_equal(ns_compare(&r, &c), 0);
    assert_true(c.w_lo == 1e6 && c.w_hi == 8e6);
    /* a: 20 30 40 50 60 70; b: 18 30 35 55 50 75 -> after 18: 0 vs 1/6; D = 1/6. */
    NEAR(c.ks_weighted.d, 1.0 / 6, 1e-12);
    NEAR(c.ks_weighted.m, 3, 1e-12);
}

static void compare_degenerate_studies(void **state)
{
    (void)state;
    struct ns_compare_req r = {.db = dbpath, .a = "twin_a", .b = "empty", .resamples = 50};
    struct ns_compare_result c;
    assert_int_equal(ns_compare(&r, &c), -1);
    assert_err_contains("study 'empty': no complete trials");
    r.b = "allfailed";
    assert_int_equal(ns_compare(&r, &c), -1);
    assert_err_contains("--failed chance counts them");
    r.failed_chance = 1; /* now three models at 90 % */
    assert_int_equal(ns_compare(&r, &c), 0);
    assert_true(c.nb == 3 && c.med_b.est == 90 && c.med_b.lo == 90 && c.med_b.hi == 90);
    NEAR(c.ks.d, 1, 0);
    r.failed_chance = 0;
    r.b = "one"; /* one model: a zero-width interval, D defined */
    assert_int_equal(ns_compare(&r, &c), 0);
    assert_true(c.med_b.lo == 25 && c.med_b.hi == 25);
    NEAR(c.ks.d, 0.75, 1e-15); /* 10 and 20 below 25: 2/8 vs 1 after 25 */
    r.b = "ties";
    assert_int_equal(ns_compare(&r, &c), 0);
    NEAR(c.ks.d, 0.5, 1e-15); /* 4 of 8 at or below 40, then the ties all at once */
    r.b = "noepochs";
    r.paired = 1; /* same indices, other architectures */
    assert_int_equal(ns_compare(&r, &c), -1);
    assert_err_contains("have no twins");
    assert_err_contains("architectures differ");
    r.b = "twin_a";
    assert_int_equal(ns_compare(&r, &c), -1);
    assert_err_contains("given twice");
    r.b = "nope";
    assert_int_equal(ns_compare(&r, &c), -1);
    assert_err_contains("study 'nope' not found");
}

static void rs_flat_for_one_model_and_ties(void **state)
{
    (void)state;
    struct ns_plot_req r = req("rs_one.svg", (const char *const[]){"one", "ties"}, 2);
    assert_int_equal(analysis(&r, NS_PLOT_RS, 4, NULL), 0);
    char *dat = slurp(out_path("rs_one.dat"));
    assert_non_null(strstr(dat, "# index 0: one\n# k expected_min(%) lo(%) hi(%)\n1 25 25 25\n"
                                "2 25 25 25\n3 25 25 25\n4 25 25 25\n"));
    assert_non_null(strstr(dat, "# index 1: ties\n# k expected_min(%) lo(%) hi(%)\n1 40 40 40\n"));
    assert_no_nan(dat, "rs_one.dat");
    free(dat);
    /* twin_a: k = 1 is the mean (45); k = 2: sum x_i ((1 - (i-1)/8)^2 - (1 - i/8)^2). */
    r = req("rs_twin.svg", (const char *const[]){"twin_a", "empty"}, 2);
    char *log = NULL;
    assert_int_equal(analysis(&r, NS_PLOT_RS, 2, &log), 0);
    assert_non_null(log);
    assert_non_null(strstr(log, "study 'empty' left out: no complete trials"));
    free(log);
    dat = slurp(out_path("rs_twin.dat"));
    double k1, k2, want2 = 0;
    for (int i = 1; i <= 8; i++)
        want2 += 10 * i * (pow(1 - (i - 1) / 8.0, 2) - pow(1 - i / 8.0, 2));
    const char *p = strstr(dat, "# k expected_min(%) lo(%) hi(%)\n");
    assert_non_null(p);
    assert_int_equal(
        sscanf(p, "# k expected_min(%%) lo(%%) hi(%%)\n1 %lf %*f %*f\n2 %lf", &k1, &k2), 2);
    NEAR(k1, 45, 1e-9);
    NEAR(k2, want2, 1e-9);
    free(dat);
    /* Only empty studies: a clear error. */
    r = req("rs_none.svg", (const char *const[]){"empty", "allfailed"}, 2);
    assert_int_equal(analysis(&r, NS_PLOT_RS, 2, NULL), -1);
    assert_err_contains("no complete trials");
}

static void fidelity_by_hand_and_without_epochs(void **state)
{
    (void)state;
    struct ns_plot_req r = req("fid.svg", (const char *const[]){"twin_a", "noepochs", "ties"}, 3);
    char *log = NULL;
    assert_int_equal(analysis(&r, NS_PLOT_FIDELITY, 0, &log), 0);
    assert_non_null(log);
    assert_non_null(strstr(log, "study 'noepochs' left out: no per-epoch metrics"));
    free(log);
    char *dat = slurp(out_path("fid.dat"));
    /* Epoch 1 reverses the final ranking: rho = tau = -1, no shared best; epochs 2, 3 keep
     * it: 1. */
    assert_non_null(
        strstr(dat, "# index 0: twin_a: Spearman rho\n# epoch value\n1 -1\n2 1\n3 1\n"));
    assert_non_null(strstr(dat, "# index 1: twin_a: Kendall tau\n# epoch value\n1 -1\n2 1\n3 1\n"));
    assert_non_null(strstr(dat, "twin_a: top-10% overlap\n# epoch value\n1 0\n2 1\n3 1\n"));
    /* ties: every correlation undefined, so no block (its overlap, 1, is defined and is
     * block 3: gnuplot does not count blocks without rows, so none may be written). */
    assert_non_null(strstr(dat, "# ties: Spearman rho: undefined at every epoch"));
    assert_non_null(strstr(dat, "# ties: Kendall tau: undefined at every epoch"));
    assert_non_null(strstr(dat, "# index 3: ties: top-10% overlap\n# epoch value\n1 1\n"));
    assert_null(strstr(dat, "# index 4"));
    assert_no_nan(dat, "fid.dat");
    free(dat);
    char *gp = slurp(out_path("fid.gp"));
    assert_non_null(strstr(gp, "index 3 using 1:2 with linespoints dt 3"));
    assert_null(strstr(gp, "index 4 using"));
    free(gp);

    r = req("fid2.svg", (const char *const[]){"noepochs", "one"}, 2);
    assert_int_equal(analysis(&r, NS_PLOT_FIDELITY, 0, NULL), -1);
    assert_err_contains("has no per-epoch metrics");
    r = req("fid3.svg", (const char *const[]){"ties"}, 1);
    r.n_studies = 1;
    /* Every correlation undefined; the top-10 % overlap of one model is still 1. */
    assert_int_equal(analysis(&r, NS_PLOT_FIDELITY, 0, NULL), 0);
}

/* The values (at most nv) of the data file's row "X V1 V2 ..." in the block headed `head`;
 * returns how many, 0 when the block has no such row. */
static int dat_row(const char *dat, const char *head, const char *x, double *v, int nv)
{
    const char *p = strstr(dat, head);
    if (!p)
        fail_msg("no block '%s' in:\n%s", head, dat);
    char want[32];
    snprintf(want, sizeof want, "\n%s ", x);
    const char *end = strstr(p + 1, "\n\n"), *row = strstr(p, want);
    if (!row || (end && row > end))
        return 0;
    row += strlen(want);
    int k = 0;
    for (char *e; k < nv && *row != '\n'; k++, row = e) {
        v[k] = strtod(row, &e);
        if (e == row)
            break;
    }
    return k;
}

static void budget_ranks_against_the_reference(void **state)
{
    (void)state;
    char db[160];
    snprintf(db, sizeof db, "%s/budget.db", scratch);
    if (access(db, F_OK) != 0 && budget_write(db))
        fail_msg("budget fixture: %s", ns_errmsg());
    struct ns_plot_req r = req("budget.svg", (const char *const[]){"ref", "e2", "s2", "e1"}, 4);
    r.db = db;
    r.resamples = 300;
    assert_int_equal(analysis(&r, NS_PLOT_BUDGET, 0, NULL), 0);
    char *dat = slurp(out_path("budget.dat"));
    /* Rows in order of epochs; e1 reverses ref's ranking (rho = tau = -1, ref's best model
     * is e1's worst), e2 keeps it (1, 1, 1); a resample of a monotone relation keeps it, so
     * both intervals are points. */
    assert_non_null(strstr(dat, "# index 0: Spearman rho with ref's\n# epochs rho lo hi twins\n"
                                "1 -1 -1 -1 8\n2 1 1 1 8\n"));
    assert_non_null(strstr(dat, "# index 1: Kendall tau with ref's\n# epochs value twins\n"
                                "1 -1 8\n2 1 8\n"));
    assert_non_null(strstr(dat, "# index 2: top-10% overlap with ref's\n# epochs value twins\n"
                                "1 0 8\n2 1 8\n"));
    /* s2 at ref's 10 epochs is no point but the ceiling across the axis [1 - 0.06, 2 + 0.06]:
     * twin_b's ranks 1 2 3 4 6 5 8 7, rho = 1 - 6*4/(8*63), within its interval, which is
     * compare --paired's for the same resamples and seed. */
    const char *ceil_head = "# index 3: s2: same budget, another training seed (ceiling)\n"
                            "# epochs rho lo hi twins\n";
    double lo[5], hi[5];
    assert_int_equal(dat_row(dat, ceil_head, "0.94", lo, 5), 4);
    assert_int_equal(dat_row(dat, ceil_head, "2.06", hi, 5), 4);
    NEAR(lo[0], 1 - 24.0 / 504, 1e-9);
    assert_true(lo[0] == hi[0] && lo[1] == hi[1] && lo[2] == hi[2] && lo[3] == 8);
    struct ns_compare_req cr = {.db = db, .a = "ref", .b = "s2", .resamples = 300, .paired = 1};
    struct ns_compare_result c;
    assert_int_equal(ns_compare(&cr, &c), 0);
    NEAR(lo[0], c.rho.est, 1e-9);
    NEAR(lo[1], c.rho.lo, 1e-9);
    NEAR(lo[2], c.rho.hi, 1e-9);
    assert_true(lo[1] < lo[0] && lo[0] <= lo[2]);
    assert_null(strstr(dat, "# index 4"));
    assert_no_nan(dat, "budget.dat");
    free(dat);
    char *gp = slurp(out_path("budget.gp"));
    assert_non_null(strstr(gp, "set xtics (1, 2)\n"));
    assert_non_null(strstr(gp, "set yrange [-1:1.05]\n"));
    assert_non_null(strstr(gp, "set xlabel 'epochs of the short schedule'"));
    assert_non_null(strstr(gp, "set ylabel 'agreement with ref''s ranking'"));
    assert_non_null(strstr(gp, "index 0 using 1:2:3:4 with yerrorlines"));
    assert_non_null(strstr(gp, "index 3 using 1:3:4 with filledcurves"));
    assert_non_null(strstr(gp, "index 3 using 1:2 with lines dt 2 lt 4 title 's2: same budget, "
                               "another training seed (ceiling)'"));
    /* the key lists every study with its twins, short budgets first */
    const char *k1 = strstr(gp, "title 'e1: 1 epoch, 8 twins: rho -1.00 [-1.00, -1.00], "
                                "tau -1.00, top-10% 0.00'");
    const char *k2 = strstr(gp, "title 'e2: 2 epochs, 8 twins: rho 1.00 [1.00, 1.00]");
    const char *k3 = strstr(gp, "title 's2: 10 epochs, 8 twins: rho 0.95 [");
    assert_true(k1 && k2 && k3 && k1 < k2 && k2 < k3);
    free(gp);

    /* --title, and a study with fewer twins (the rest not complete) */
    r = req("budget2.svg", (const char *const[]){"ref", "e4_half"}, 2);
    r.db = db;
    r.title = "Budgets";
    assert_int_equal(analysis(&r, NS_PLOT_BUDGET, 0, NULL), 0);
    gp = slurp(out_path("budget2.gp"));
    assert_non_null(strstr(gp, "set title 'Budgets'"));
    assert_non_null(strstr(gp, "e4_half: 4 epochs, 4 twins: rho 1.00"));
    assert_null(strstr(gp, "ceiling"));
    free(gp);

    /* The errors, none of which writes a file: one study, no twins (another space or seed), no
     * recipe.epochs, a study twice. */
    const struct {
        const char *const *studies;
        int n;
        const char *why;
    } bad[] = {
        {(const char *const[]){"ref"}, 1,
         "trained for other budgets (--study REF,T1,T2,...); only one given"},
        {(const char *const[]){"ref", "e2", "e4_other"}, 3,
         "studies 'ref' and 'e4_other' have no twins (trials of the same index and architecture, "
         "both with an error); their architectures differ: were they sampled with the same "
         "space and seed?"},
        {(const char *const[]){"ref", "norecipe"}, 2,
         "study 'norecipe': its stored experiment has no recipe.epochs"},
        {(const char *const[]){"ref", "e2", "ref"}, 3, "study 'ref' given twice"},
        {(const char *const[]){"e2", "ref"}, 2,
         "study 'ref' trains 10 epochs, more than the reference 'e2' (2): name the longest "
         "budget first"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = req("budget3.svg", bad[i].studies, bad[i].n);
        r.db = db;
        assert_int_equal(analysis(&r, NS_PLOT_BUDGET, 0, NULL), -1);
        assert_err_contains(bad[i].why);
    }
    assert_int_equal(access(out_path("budget3.dat"), F_OK), -1);
    assert_int_equal(access(out_path("budget3.gp"), F_OK), -1);
}

static void trend_and_effects_degenerate(void **state)
{
    (void)state;
    struct ns_plot_req r = req("trend.svg", (const char *const[]){"one", "ties", "twin_a"}, 3);
    r.bins = 4;
    assert_int_equal(analysis(&r, NS_PLOT_TREND, 0, NULL), 0);
    char *dat = slurp(out_path("trend.dat"));
    /* one: a single bin at its flops, sd 0: 25 +- 0. */
    assert_non_null(strstr(dat, "# index 1: one: bins\n# bin_center mean(%) mean-2sd mean+2sd n "
                                "bin_lo bin_hi\n2000000 25 25 25 1 2000000 2000000\n"));
    assert_no_nan(dat, "trend.dat");
    free(dat);
    r.param = "wall_s";
    assert_int_equal(analysis(&r, NS_PLOT_TREND, 0, NULL), -1);
    assert_err_contains("use flops, params or acts");

    /* effects: depth and lr for twin_a and twin_b; 'one' has a single model (left out, said);
     * ties sampled nothing. */
    r = req("eff.svg", (const char *const[]){"twin_a", "one", "ties"}, 3);
    char *log = NULL, *w = NULL;
    struct ns_plot_analysis_opts o = {NS_PLOT_EFFECTS, 0};
    int rc = ns_plot_make_analysis(&r, &o, &log, &w);
    if (rc && strstr(ns_errmsg(), "gnuplot not found")) {
        free(log);
        return;
    }
    assert_int_equal(rc, 0);
    assert_non_null(w);
    assert_non_null(strstr(w, "eff-depth.svg"));
    assert_non_null(strstr(w, "eff-lr.svg"));
    assert_non_null(log);
    assert_non_null(strstr(log, "depth: study 'one' left out: 1 models"));
    free(log);
    free(w);
    dat = slurp(out_path("eff-lr.dat"));
    assert_non_null(strstr(dat, "# index 0: twin_a"));
    assert_null(strstr(dat, "# index 1:"));
    free(dat);
    r = req("eff2.svg", (const char *const[]){"ties"}, 1);
    assert_int_equal(ns_plot_make_analysis(&r, &o, NULL, NULL), -1);
    assert_err_contains("no sampled parameters");
}

static void report_covers_every_case(void **state)
{
    (void)state;
    struct ns_report_req r = {
        .db = dbpath, .out_dir = out_path("report"), .top = 3, .resamples = 100};
    char *warn = NULL;
    int rc = ns_report(&r, &warn);
    if (rc && strstr(ns_errmsg(), "gnuplot not found")) {
        free(warn);
        return;
    }
    assert_int_equal(rc, 0);
    char *html = slurp(out_path("report/index.html"));
    assert_non_null(strstr(html, "<!DOCTYPE html>"));
    assert_non_null(strstr(html, "</html>"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "http://"));
    assert_null(strstr(html, "https://"));
    assert_non_null(strstr(html, "Study empty has no complete trials"));
    assert_non_null(strstr(html, "Study allfailed has no complete trials"));
    assert_non_null(strstr(html, "diverged: loss nan at epoch 1")); /* failure reasons */
    assert_non_null(strstr(html, "<img src=\"edf.svg\""));
    assert_non_null(strstr(html, "<img src=\"fidelity.svg\""));
    assert_non_null(strstr(html, "study &#39;noepochs&#39; left out: no per-epoch metrics"));
    assert_non_null(strstr(html, "&quot;fixture&quot;: &quot;twin_a&quot;")); /* experiment */
    /* 'one' has no per-epoch rows: its curves are a sentence, not a figure. */
    assert_non_null(strstr(html, "trial 0 has no per-epoch metrics"));
    /* Every image the page names exists beside it and is not empty. */
    int imgs = 0;
    for (const char *p = strstr(html, "<img src=\""); p; p = strstr(p + 1, "<img src=\"")) {
        char name[128], path[256];
        assert_int_equal(sscanf(p, "<img src=\"%127[^\"]\"", name), 1);
        snprintf(path, sizeof path, "%s/%s", out_path("report"), name);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_true(st.st_size > 1000);
        imgs++;
    }
    assert_true(imgs >= 8);
    free(html);
    assert_non_null(warn); /* the figures left out are reported */
    free(warn);

    /* Only the empty study: a page that says so, no figure. */
    r.studies = (const char *const[]){"empty"};
    r.n_studies = 1;
    r.out_dir = out_path("report_empty");
    assert_int_equal(ns_report(&r, NULL), 0);
    html = slurp(out_path("report_empty/index.html"));
    assert_null(strstr(html, "<img"));
    assert_non_null(strstr(html, "No study has complete trials"));
    free(html);
    r.studies = (const char *const[]){"nope"};
    assert_int_equal(ns_report(&r, NULL), -1);
    assert_err_contains("study 'nope' not found");
    r.studies = NULL;
    r.n_studies = 0;
    /* missing parents are made (mkdir -p), but not under a file (a path even root cannot
     * make, unlike /nonexistent) */
    FILE *f = fopen(out_path("a_file"), "w");
    assert_non_null(f);
    fclose(f);
    r.out_dir = out_path("a_file/dir/report");
    assert_int_equal(ns_report(&r, NULL), -1);
    assert_err_contains("cannot create the folder");
}

/* A writer adds and completes trials (one transaction each, as the coordinator's batches)
 * until told to stop, while reports are written: each report succeeds and sees a consistent
 * db, and the writer is never blocked. */
static void report_while_a_search_writes(void **state)
{
    (void)state;
    char stop[192];
    snprintf(stop, sizeof stop, "%s", out_path("stop-writer"));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct ns_db *db = ns_db_open(dbpath, NS_DB_RW);
        if (!db)
            _exit(1);
        int64_t sid = ns_db_study_resolve(db, "twin_a");
        int i = 100;
        for (; i < 100000 && access(stop, F_OK) != 0; i++) {
            if (ns_db_begin(db) ||
                add_trial(db, sid, i, 1e6 * (i % 8 + 1), 999 * i, 20 + i % 50, 3, NULL, 1) ||
                ns_db_commit(db))
                _exit(2);
            usleep(1000);
        }
        ns_db_close(db);
        _exit(i > 100 ? 0 : 3);
    }
    struct ns_report_req r = {.db = dbpath,
                              .studies = (const char *const[]){"twin_a", "twin_b"},
                              .n_studies = 2,
                              .top = 3,
                              .resamples = 50};
    int rc = 0;
    for (int k = 0; k < 6 && rc == 0; k++) {
        char dir[32];
        snprintf(dir, sizeof dir, "live%d", k % 2);
        r.out_dir = out_path(dir);
        rc = ns_report(&r, NULL);
        if (rc && strstr(ns_errmsg(), "gnuplot not found"))
            rc = 0;
        else if (rc)
            fprintf(stderr, "report %d during writes: %s\n", k, ns_errmsg());
    }
    FILE *f = fopen(stop, "w");
    if (f)
        fclose(f);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(rc, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The writer did write meanwhile; the last page counts more than the fixture's 8. */
    char *html = slurp(out_path("live1/index.html"));
    int complete = 0;
    const char *p = strstr(html, "<td class=\"l\">fixture</td>");
    assert_non_null(p);
    assert_int_equal(
        sscanf(p, "<td class=\"l\">fixture</td><td>%*d</td><td>%*d</td><td>%d", &complete), 1);
    assert_true(complete > 8);
    free(html);
}

int main(int argc, char **argv)
{
    if (argc == 2 || (argc == 3 && !strcmp(argv[2], "budget"))) {
        if (access(argv[1], F_OK) == 0) {
            fprintf(stderr, "%s: exists; the fixture writes a new db\n", argv[1]);
            return 1;
        }
        if (argc == 3 ? budget_write(argv[1]) : fx_write(argv[1])) {
            fprintf(stderr, "fixture: %s\n", ns_errmsg());
            return 1;
        }
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compare_twins_by_hand),
        cmocka_unit_test(compare_degenerate_studies),
        cmocka_unit_test(rs_flat_for_one_model_and_ties),
        cmocka_unit_test(fidelity_by_hand_and_without_epochs),
        cmocka_unit_test(budget_ranks_against_the_reference),
        cmocka_unit_test(trend_and_effects_degenerate),
        cmocka_unit_test(report_covers_every_case),
        cmocka_unit_test(report_while_a_search_writes),
    };
    return cmocka_run_group_tests(tests, setup, scratch_teardown);
}
