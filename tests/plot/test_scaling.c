/* plot scaling on a fixture whose every number is chosen by hand: three seeds of one scaling
 * study (one study per seed, trial i the same model in each), one of them incomplete, with
 * the studies it must refuse (not a scaling study, another architecture at a trial index).
 *
 * Two modes, as test_analysis:
 *   plot_test_scaling PATH [mismatch|plain|bad|spaces]   write the fixture db (the main one,
 *                             or another, below) to PATH (must not exist) and exit 0
 *                             (tests/plot/test_plot_scaling.sh uses it);
 *   plot_test_scaling         run the cmocka tests on fixtures in a scratch folder.
 *
 * The main fixture (errors in %, 10 classes; a scaling space's trial order: 0 the base, then
 * targets 2 and 4, each along depth, width, resolution, compound):
 *   trial  dim target  flops   params   s1  s2      s3
 *   0      0   1       5e6     90000    10  12      11
 *   1      1   2       1e7     180000    9   8      10
 *   2      2   2       1.01e7  170000    8   9       7
 *   3      3   2       9.9e6   90000     7   7       7
 *   4      4   2       1.02e7  150000    6   5       7
 *   5      1   4       2e7     400000    5   failed  6
 *   6      2   4       2.03e7  380000    4   5       3
 *   7      3   4       1.95e7  90000     3   4       2
 *   8      4   4       1.97e7  190000    2   3       waiting
 * every best test error 0.5 below the final one;
 *   plain       4 complete trials that sample depth only: not a scaling study
 *   waiting_sc  the same 9 trials, none finished (trial 0 running, the rest waiting)
 * The mismatch fixture: s1 and `other`, s1's trials but trial 3 at 1.2e7 flops.
 * The plain fixture: only `plain`.
 * The bad fixture: copies of s1, each with one trial that is no point of a scaling table:
 *   dim7        trial 2 samples dim 7 (no ns_scale_dim)
 *   dimhalf     trial 2 samples dim 1.5
 *   notarget    trial 3 samples no target
 *   nantarget   trial 3 samples target NaN (stored as null)
 *   zerotarget  trial 3 samples target 0
 *   noflops     trial 4 has 0 flops (none recorded)
 * The spaces fixture: two scaling studies in one db, told apart by their base networks:
 *   a_s1, a_s2  space scaling_a: s1's and s2's trials
 *   b_s1        space scaling_b: s1's trials at 1.5 times the flops and params (another base),
 *               evaluated on a validation split (data.val_split)
 *   plain       as above */
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

#include "plot/analysis.h"
#include "plot_check.h"
#include "store/store.h"
#include "util/err.h"

#define NEAR(a, b, tol) assert_true(fabs((a) - (b)) <= (tol))
#define N_MODELS 9
#define FAILED -1.0
#define WAITING -2.0

static const int dim[N_MODELS] = {0, 1, 2, 3, 4, 1, 2, 3, 4};
static const double target[N_MODELS] = {1, 2, 2, 2, 2, 4, 4, 4, 4};
static const double flops[N_MODELS] = {5e6, 1e7,    1.01e7, 9.9e6, 1.02e7,
                                       2e7, 2.03e7, 1.95e7, 1.97e7};
static const double params[N_MODELS] = {90000,  180000, 170000, 90000, 150000,
                                        400000, 380000, 90000,  190000};
static const double seed_err[3][N_MODELS] = {
    {10, 9, 8, 7, 6, 5, 4, 3, 2},
    {12, 8, 9, 7, 5, FAILED, 5, 4, 3},
    {11, 10, 7, 7, 7, 6, 3, 2, WAITING},
};

static int64_t add_study(struct ns_db *db, const char *name, const char *space)
{
    char exp_json[160];
    /* b_s1 evaluates on a validation split: its figures and table say validation error */
    snprintf(exp_json, sizeof exp_json, "{\"fixture\":\"%s\",\"samples\":9%s}", name,
             strcmp(name, "b_s1") ? "" : ",\"data\":{\"val_split\":0.2}");
    struct ns_db_study_def def = {name, exp_json, 1, space};
    return ns_db_study_ensure(db, &def, NULL);
}

/* Trial i of a scaling study (sampling target tg and dim d, ABSENT: not sampled, and the
 * compound coefficients, as a "scaling" space stores them) or of a plain one (depth only):
 * complete with error err (best err - 0.5), failed, waiting, or running (RUNNING). */
#define RUNNING -3.0
#define ABSENT -99.0
static int add_trial(struct ns_db *db, int64_t sid, int i, double fl, double pr, double err,
                     int scaling, double d, double tg)
{
    char hash[32];
    snprintf(hash, sizeof hash, "h%.0f", fl);
    struct ns_db_param sp[4];
    int nsp = 0;
    if (!scaling) {
        sp[nsp++] = (struct ns_db_param){"depth", 10 + i};
    } else {
        if (tg != ABSENT)
            sp[nsp++] = (struct ns_db_param){"target", tg};
        if (d != ABSENT)
            sp[nsp++] = (struct ns_db_param){"dim", d};
        sp[nsp++] = (struct ns_db_param){"phi", 1};
        sp[nsp++] = (struct ns_db_param){"alpha", 1.2};
    }
    struct ns_db_trial_def td = {i,           (uint64_t)i, "{\"classes\":10}",  hash,
                                 (int64_t)fl, (int64_t)pr, (int64_t)(fl / 100), sp,
                                 nsp,         (uint64_t)i};
    if (ns_db_trial_add(db, sid, &td) != 1)
        return -1;
    if (err == WAITING)
        return 0;
    if (ns_db_trial_start(db, sid, i, 1, "fixture"))
        return -1;
    if (err == RUNNING)
        return 0;
    if (err == FAILED)
        return ns_db_trial_fail(db, sid, i, "diverged: loss nan at epoch 1", NULL);
    struct ns_db_result res = {err, err, err - 0.5, 2.0, NULL, 0};
    return ns_db_trial_complete(db, sid, i, &res);
}

/* How one trial of a seed differs from the table above (trial -1: none does). */
struct defect {
    int trial;
    double dim, target, flops;
};

/* A seed: the 9 trials of the table above with errors err, their flops and params times
 * scale, in a study of `space`; defect d (may be NULL) changes one trial. */
static int add_seed(struct ns_db *db, const char *name, const char *space, const double *err,
                    double scale, const struct defect *d)
{
    int64_t sid = add_study(db, name, space);
    int rc = sid < 0;
    for (int i = 0; i < N_MODELS && rc == 0; i++) {
        int bad = d && d->trial == i;
        rc = add_trial(db, sid, i, bad ? d->flops : flops[i] * scale, params[i] * scale, err[i], 1,
                       bad ? d->dim : dim[i], bad ? d->target : target[i]);
    }
    return rc;
}

static int add_plain(struct ns_db *db)
{
    int64_t sid = add_study(db, "plain", "fixture");
    int rc = sid < 0;
    for (int i = 0; i < 4 && rc == 0; i++)
        rc = add_trial(db, sid, i, flops[i], params[i], 20 + i, 0, 0, 0);
    return rc;
}

/* which: "main", "mismatch", "plain", "bad" or "spaces" (see the top). */
static int fx_write(const char *path, const char *which)
{
    struct ns_db *db = ns_db_open(path, NS_DB_RW | NS_DB_CREATE);
    if (!db)
        return -1;
    int rc = ns_db_begin(db);
    const double *e1 = seed_err[0];
    if (rc == 0 && !strcmp(which, "main")) {
        double waiting[N_MODELS];
        for (int i = 0; i < N_MODELS; i++)
            waiting[i] = i ? WAITING : RUNNING;
        rc = add_seed(db, "s1", "fixture", e1, 1, NULL) ||
             add_seed(db, "s2", "fixture", seed_err[1], 1, NULL) ||
             add_seed(db, "s3", "fixture", seed_err[2], 1, NULL) || add_plain(db) ||
             add_seed(db, "waiting_sc", "fixture", waiting, 1, NULL);
    } else if (rc == 0 && !strcmp(which, "mismatch")) {
        struct defect d = {3, dim[3], target[3], 1.2e7};
        rc = add_seed(db, "s1", "fixture", e1, 1, NULL) ||
             add_seed(db, "other", "fixture", seed_err[1], 1, &d);
    } else if (rc == 0 && !strcmp(which, "bad")) {
        static const struct {
            const char *name;
            struct defect d;
        } bad[] = {
            {"dim7", {2, 7, 2, 1.01e7}},         {"dimhalf", {2, 1.5, 2, 1.01e7}},
            {"notarget", {3, 3, ABSENT, 9.9e6}}, {"nantarget", {3, 3, NAN, 9.9e6}},
            {"zerotarget", {3, 3, 0, 9.9e6}},    {"noflops", {4, 4, 2, 0}},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0] && rc == 0; i++)
            rc = add_seed(db, bad[i].name, "fixture", e1, 1, &bad[i].d);
    } else if (rc == 0 && !strcmp(which, "spaces")) {
        rc = add_seed(db, "a_s1", "scaling_a", e1, 1, NULL) ||
             add_seed(db, "a_s2", "scaling_a", seed_err[1], 1, NULL) ||
             add_seed(db, "b_s1", "scaling_b", e1, 1.5, NULL) || add_plain(db);
    } else if (rc == 0) {
        rc = add_plain(db);
    }
    if (rc == 0)
        rc = ns_db_commit(db);
    ns_db_close(db);
    return rc ? -1 : 0;
}

/* ------------------------------------------------------------------------ tests ---- */

static char dbpath[128], mismatch_db[128], plain_db[128], bad_db[128], spaces_db[128];

static int setup(void **state)
{
    (void)state;
    if (scratch_make("ns_scaling"))
        return -1;
    snprintf(dbpath, sizeof dbpath, "%s/fx.db", scratch);
    snprintf(mismatch_db, sizeof mismatch_db, "%s/mismatch.db", scratch);
    snprintf(plain_db, sizeof plain_db, "%s/plain.db", scratch);
    snprintf(bad_db, sizeof bad_db, "%s/bad.db", scratch);
    snprintf(spaces_db, sizeof spaces_db, "%s/spaces.db", scratch);
    if (fx_write(dbpath, "main") || fx_write(mismatch_db, "mismatch") ||
        fx_write(plain_db, "plain") || fx_write(bad_db, "bad") || fx_write(spaces_db, "spaces")) {
        fprintf(stderr, "fixture: %s\n", ns_errmsg());
        return -1;
    }
    return 0;
}

/* plot scaling as the CLI runs it: the table, then its figure. *t (may be NULL) receives the
 * table whether or not the figure could be drawn (gnuplot's absence is tolerated: the script
 * and data are written first); zeroed when the table is refused. */
static int scaling(const struct ns_plot_req *r, struct ns_scaling_table *t, char **log)
{
    struct ns_scaling_table own;
    struct ns_scaling_table *tt = t ? t : &own;
    char *l = NULL;
    int rc = ns_scaling_table_load(r, tt, &l);
    if (rc == 0) {
        char *gl = NULL, *w = NULL;
        rc = ns_plot_scaling_draw(r, tt, &gl, &w);
        free(gl);
        free(w);
        if (rc && strstr(ns_errmsg(), "gnuplot not found"))
            rc = 0;
    }
    if (!t)
        ns_scaling_table_free(&own);
    if (log)
        *log = l;
    else
        free(l);
    return rc;
}

static const char *const seeds[] = {"s1", "s2", "s3"};

static void scaling_means_over_seeds_by_line(void **state)
{
    (void)state;
    struct ns_plot_req r = plot_req(dbpath, "sc.svg", seeds, 3);
    struct ns_scaling_table t;
    char *log = NULL;
    assert_int_equal(scaling(&r, &t, &log), 0);
    /* s2's failed trial 5 and s3's waiting trial 8 are left out, and said so */
    assert_has(log, "study 's2': 1 of its 9 trials left out (1 failed)", "log");
    assert_has(log, "study 's3': 1 of its 9 trials left out (1 not finished", "log");
    assert_null(strstr(log, "study 's1'"));
    free(log);

    char *dat = slurp(out_path("sc.dat"));
    /* One line per dimension, each from the base through its targets; means over the seeds
     * that have the trial, bars from their min to max. */
    assert_has(dat,
               "# index 0: depth: the base, then the depth scalings by target: over the seeds\n"
               "# dim target flops params n mean(%) min(%) max(%) trial\n"
               "base 1 5000000 90000 3 11 10 12 0\n"
               "depth 2 10000000 180000 3 9 8 10 1\n"
               "depth 4 20000000 400000 2 5.5 5 6 5\n\n\n",
               "sc.dat");
    assert_has(dat,
               "# index 1: depth: each seed's error (seed 1 = s1, 2 = s2, 3 = s3)\n"
               "# dim target flops error(%) seed trial\n"
               "base 1 5000000 10 1 0\nbase 1 5000000 12 2 0\nbase 1 5000000 11 3 0\n"
               "depth 2 10000000 9 1 1\ndepth 2 10000000 8 2 1\ndepth 2 10000000 10 3 1\n"
               "depth 4 20000000 5 1 5\ndepth 4 20000000 6 3 5\n\n\n",
               "sc.dat");
    assert_has(dat,
               "# index 2: width: the base, then the width scalings by target: over the seeds\n"
               "# dim target flops params n mean(%) min(%) max(%) trial\n"
               "base 1 5000000 90000 3 11 10 12 0\n"
               "width 2 10100000 170000 3 8 7 9 2\n"
               "width 4 20300000 380000 3 4 3 5 6\n\n\n",
               "sc.dat");
    assert_has(dat,
               "# index 4: resolution: the base, then the resolution scalings by target: over "
               "the seeds\n# dim target flops params n mean(%) min(%) max(%) trial\n"
               "base 1 5000000 90000 3 11 10 12 0\n"
               "resolution 2 9900000 90000 3 7 7 7 3\n"
               "resolution 4 19500000 90000 3 3 2 4 7\n\n\n",
               "sc.dat");
    assert_has(dat,
               "# index 6: compound: the base, then the compound scalings by target: over the "
               "seeds\n# dim target flops params n mean(%) min(%) max(%) trial\n"
               "base 1 5000000 90000 3 11 10 12 0\n"
               "compound 2 10200000 150000 3 6 5 7 4\n"
               "compound 4 19700000 190000 2 2.5 2 3 8\n\n\n",
               "sc.dat");
    assert_has(dat, "compound 4 19700000 2 1 8\ncompound 4 19700000 3 2 8\n", "sc.dat");
    assert_null(strstr(dat, "# index 8"));
    assert_null(strstr(dat, "NaN"));
    free(dat);

    char *gp = slurp(out_path("sc.gp"));
    assert_has(gp, "set title 'Scaling: test error against flops, the mean of 3 seeds'", "sc.gp");
    assert_has(gp, "set logscale x 10\n", "sc.gp");
    assert_has(gp, "set xtics ('5M' 5000000, '10M (2x)' 10000000, '20M (4x)' 20000000)\n", "sc.gp");
    assert_has(gp, "index 0 using 3:6:7:8 with yerrorlines ps 0.9 lt 1 title 'depth'", "sc.gp");
    assert_has(gp, "index 1 using 3:4 with points pt 6 ps 1.2 lw 1 lt 1 notitle", "sc.gp");
    assert_has(gp, "index 6 using 3:6:7:8 with yerrorlines ps 0.9 lt 4 title 'compound'", "sc.gp");
    assert_has(gp, "title 'each seed; bars: min..max'", "sc.gp");
    free(gp);

    /* The table: the same models, the base first, then by dimension and target. */
    assert_int_equal(t.n, N_MODELS);
    assert_int_equal(t.n_studies, 3);
    assert_string_equal(t.studies[2], "s3");
    assert_string_equal(t.error_name, "test error");
    static const int order[N_MODELS] = {0, 1, 5, 2, 6, 3, 7, 4, 8};
    static const double mean[N_MODELS] = {11, 9, 5.5, 8, 4, 7, 3, 6, 2.5};
    for (int k = 0; k < N_MODELS; k++) {
        const struct ns_scaling_model *m = &t.m[k];
        assert_int_equal(m->trial, order[k]);
        assert_int_equal(m->dim, dim[order[k]]);
        NEAR(m->target, target[order[k]], 0);
        NEAR(m->flops, flops[order[k]], 0);
        NEAR(m->params, params[order[k]], 0);
        NEAR(m->mean, mean[k], 1e-12);
        assert_int_equal(m->n, order[k] == 5 || order[k] == 8 ? 2 : 3);
        for (int i = 0; i < 3; i++) {
            double e = seed_err[i][order[k]];
            if (e < 0)
                assert_true(isnan(m->err[i]));
            else
                NEAR(m->err[i], e, 0);
        }
    }
    ns_scaling_table_free(&t);

    /* The report's way, ns_plot_make_analysis: the same figure from the same numbers. */
    r.out = out_path("sc_ma.svg");
    struct ns_plot_analysis_opts o = {NS_PLOT_SCALING, 0};
    char *w = NULL;
    int rc = ns_plot_make_analysis(&r, &o, NULL, &w);
    free(w);
    if (rc)
        assert_err_contains("gnuplot not found");
    dat = slurp(out_path("sc.dat"));
    char *dat2 = slurp(out_path("sc_ma.dat"));
    assert_string_equal(dat, dat2);
    free(dat);
    free(dat2);
}

/* The seeds in the order given, the first of them (waiting_sc) left out and the next (s2)
 * without trial 5: that row comes from s1, s2's column empty, and the legend numbers the
 * seeds in that order. */
static void scaling_seeds_in_the_order_given(void **state)
{
    (void)state;
    struct ns_plot_req r =
        plot_req(dbpath, "sc_order.svg", (const char *const[]){"waiting_sc", "s2", "s1", "s3"}, 4);
    struct ns_scaling_table t;
    char *log = NULL;
    assert_int_equal(scaling(&r, &t, &log), 0);
    assert_has(log, "study 'waiting_sc' left out: no complete trials with a test error", "log");
    free(log);
    assert_int_equal(t.n_studies, 3);
    assert_string_equal(t.studies[0], "s2");
    assert_string_equal(t.studies[1], "s1");
    assert_string_equal(t.studies[2], "s3");
    assert_int_equal(t.n, N_MODELS);
    /* rows as before (trial 0, 1, 5, ...): trial 5 is the third */
    const struct ns_scaling_model *m = &t.m[2];
    assert_int_equal(m->trial, 5);
    assert_int_equal(m->dim, 1);
    NEAR(m->target, 4, 0);
    NEAR(m->flops, 2e7, 0);
    NEAR(m->params, 400000, 0);
    assert_int_equal(m->n, 2);
    assert_true(isnan(m->err[0])); /* s2 failed it */
    NEAR(m->err[1], 5, 0);
    NEAR(m->err[2], 6, 0);
    NEAR(m->mean, 5.5, 1e-12);
    NEAR(m->min, 5, 0);
    NEAR(m->max, 6, 0);
    m = &t.m[0];
    assert_int_equal(m->trial, 0);
    NEAR(m->err[0], 12, 0);
    NEAR(m->err[1], 10, 0);
    NEAR(m->err[2], 11, 0);
    m = &t.m[N_MODELS - 1]; /* compound 4: s3 never ran it */
    assert_int_equal(m->trial, 8);
    NEAR(m->err[0], 3, 0);
    NEAR(m->err[1], 2, 0);
    assert_true(isnan(m->err[2]));
    ns_scaling_table_free(&t);
    char *dat = slurp(out_path("sc_order.dat"));
    assert_has(dat, "(seed 1 = s2, 2 = s1, 3 = s3)\n", "sc_order.dat");
    assert_has(dat, "depth 4 20000000 400000 2 5.5 5 6 5\n", "sc_order.dat");
    assert_has(dat, "depth 2 10000000 10 3 1\ndepth 4 20000000 5 2 5\ndepth 4 20000000 6 3 5\n",
               "sc_order.dat");
    free(dat);
}

static void scaling_error_and_failed_options(void **state)
{
    (void)state;
    /* --error best: every error 0.5 lower; --failed chance: s2's trial 5 at 90 %. */
    struct ns_plot_req r = plot_req(dbpath, "sc_best.svg", seeds, 3);
    r.error_best = 1;
    r.failed_chance = 1;
    char *log = NULL;
    struct ns_scaling_table t;
    assert_int_equal(scaling(&r, &t, &log), 0);
    assert_null(log ? strstr(log, "study 's2'") : NULL);
    free(log);
    assert_string_equal(t.error_name, "best test error");
    ns_scaling_table_free(&t);
    char *dat = slurp(out_path("sc_best.dat"));
    assert_has(dat, "base 1 5000000 90000 3 10.5 9.5 11.5 0\n", "sc_best.dat");
    /* (4.5 + 90 + 5.5) / 3 */
    assert_has(dat, "depth 4 20000000 400000 3 33.33333333 4.5 90 5\n", "sc_best.dat");
    free(dat);
    char *gp = slurp(out_path("sc_best.gp"));
    assert_has(gp, "set ylabel 'best test error (%)'", "sc_best.gp");
    free(gp);
}

static void scaling_default_studies_and_incomplete(void **state)
{
    (void)state;
    /* No --study: the studies whose trials sample a dim (not plain); waiting_sc has no
     * finished trial yet, so it is left out with a note. */
    struct ns_plot_req r = plot_req(dbpath, "sc_all.svg", NULL, 0);
    struct ns_scaling_table t;
    char *log = NULL;
    assert_int_equal(scaling(&r, &t, &log), 0);
    assert_has(log, "study 'waiting_sc' left out: no complete trials with a test error", "log");
    free(log);
    char *dat = slurp(out_path("sc_all.dat"));
    assert_has(dat, "(seed 1 = s1, 2 = s2, 3 = s3)\n", "sc_all.dat");
    assert_has(dat, "base 1 5000000 90000 3 11 10 12 0\n", "sc_all.dat");
    free(dat);
    assert_int_equal(t.n_studies, 3);
    ns_scaling_table_free(&t);
    /* Only seeds without a finished trial: nothing to draw. */
    r = plot_req(dbpath, "sc_none.svg", (const char *const[]){"waiting_sc"}, 1);
    assert_int_equal(scaling(&r, &t, NULL), -1);
    assert_err_contains("study 'waiting_sc': no complete trials with a test error");
    assert_int_equal(t.n, 0);
    assert_null(t.m);
    /* One seed alone: n = 1 and no bars, still a figure. */
    r = plot_req(dbpath, "sc_one.svg", (const char *const[]){"s2"}, 1);
    assert_int_equal(scaling(&r, NULL, NULL), 0);
    dat = slurp(out_path("sc_one.dat"));
    assert_has(dat,
               "base 1 5000000 90000 1 12 12 12 0\ndepth 2 10000000 180000 1 8 8 8 1\n"
               "\n\n",
               "sc_one.dat"); /* trial 5 failed in s2: the depth line stops at target 2 */
    free(dat);
}

static void scaling_refuses_other_studies(void **state)
{
    (void)state;
    const struct {
        const char *db;
        const char *const *studies;
        int n;
        const char *why;
    } bad[] = {
        {dbpath, (const char *const[]){"s1", "plain"}, 2,
         "study 'plain' is not a scaling study: none of its 4 trials samples a dim"},
        {mismatch_db, (const char *const[]){"s1", "other"}, 2,
         "study 'other', trial 3: not the architecture of trial 3 of study 's1' (flops 12M and "
         "9.9M, params 90k and 90k)"},
        {mismatch_db, NULL, 0, "study 'other', trial 3: not the architecture of trial 3"},
        {dbpath, (const char *const[]){"s1", "nope"}, 2, "study 'nope' not found; studies: s1"},
        {dbpath, (const char *const[]){"s1", "s2", "s1"}, 3, "study 's1' given twice"},
        {plain_db, NULL, 0, "no scaling study (none whose trials sample a dim"},
        /* trials that are no point of the table */
        {bad_db, (const char *const[]){"dim7"}, 1,
         "study 'dim7', trial 2: dim 7, target 2: not a scaling (dim 0 base, 1 depth, 2 width, "
         "3 resolution or 4 compound; target > 0, the flops multiple)"},
        {bad_db, (const char *const[]){"dimhalf"}, 1,
         "study 'dimhalf', trial 2: dim 1.5, target 2"},
        {bad_db, (const char *const[]){"notarget"}, 1,
         "study 'notarget', trial 3: dim 3, target nan: not a scaling"},
        {bad_db, (const char *const[]){"nantarget"}, 1,
         "study 'nantarget', trial 3: dim 3, target nan: not a scaling"},
        {bad_db, (const char *const[]){"zerotarget"}, 1,
         "study 'zerotarget', trial 3: dim 3, target 0: not a scaling"},
        {bad_db, (const char *const[]){"noflops"}, 1,
         "study 'noflops', trial 4: no flops recorded"},
        /* the seeds of two scaling studies (their bases differ) */
        {spaces_db, NULL, 0,
         "the db's scaling studies are the seeds of 2 scaling studies (their base networks "
         "differ): a_s1, a_s2 (space scaling_a; base 5M flops, 90k params); b_s1 (space "
         "scaling_b; base 7.5M flops, 135k params); name one's seeds with --study"},
        {spaces_db, (const char *const[]){"a_s1", "b_s1"}, 2,
         "the studies named are the seeds of 2 scaling studies (their base networks differ): "
         "a_s1 (space scaling_a;"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ns_plot_req r = plot_req(bad[i].db, "sc_bad.svg", bad[i].studies, bad[i].n);
        struct ns_scaling_table t;
        assert_int_equal(scaling(&r, &t, NULL), -1);
        assert_err_contains(bad[i].why);
        assert_int_equal(t.n, 0);
    }
    assert_int_equal(access(out_path("sc_bad.dat"), F_OK), -1);
    assert_int_equal(access(out_path("sc_bad.gp"), F_OK), -1);
    /* one of the two named: its seeds alone */
    struct ns_plot_req r = plot_req(spaces_db, "sc_b.svg", (const char *const[]){"b_s1"}, 1);
    struct ns_scaling_table t;
    assert_int_equal(scaling(&r, &t, NULL), 0);
    assert_int_equal(t.n, N_MODELS);
    NEAR(t.m[0].flops, 7.5e6, 0);
    assert_string_equal(t.error_name, "validation error");
    ns_scaling_table_free(&t);
}

/* Only the base finished: no dimension has a line, so the base is drawn alone. */
static void scaling_figure_of_the_base_alone(void **state)
{
    (void)state;
    double err[2] = {10, NAN};
    char *names[2] = {"a", "b"};
    struct ns_scaling_model m = {0, 0, 1, 5e6, 9e4, 1, 10, 10, 10, err};
    struct ns_scaling_table t = {2, names, "test error", 1, &m, err};
    struct ns_plot_files f;
    assert_int_equal(ns_plot_files_init(&f, out_path("base.svg")), 0);
    assert_int_equal(ns_plot_fig_scaling(&f, &t, "Base"), 0);
    ns_plot_files_free(&f);
    char *dat = slurp(out_path("base.dat"));
    assert_has(dat,
               "# index 0: base: over the seeds\n"
               "# dim target flops params n mean(%) min(%) max(%) trial\n"
               "base 1 5000000 90000 1 10 10 10 0\n\n\n"
               "# index 1: base: each seed's error (seed 1 = a, 2 = b)\n"
               "# dim target flops error(%) seed trial\nbase 1 5000000 10 1 0\n",
               "base.dat");
    assert_null(strstr(dat, "# index 2"));
    free(dat);
    char *gp = slurp(out_path("base.gp"));
    assert_has(gp, "set xrange [3.33333e+06:7.5e+06]\nset xtics ('5M' 5000000)\n", "base.gp");
    assert_has(gp, "index 0 using 3:6:7:8 with yerrorlines ps 0.9 lt 1 title 'base'", "base.gp");
    free(gp);
    /* a point that is none (no seed) is refused, not drawn as NaN */
    m.n = 0;
    m.mean = NAN;
    assert_int_equal(ns_plot_files_init(&f, out_path("base2.svg")), 0);
    assert_int_equal(ns_plot_fig_scaling(&f, &t, NULL), -1);
    ns_plot_files_free(&f);
    assert_err_contains("trial 0: flops 5e+06, error nan over 0 seeds: not a point");
}

/* More seeds than the data file's legend holds: it ends in "...", not mid-name. */
static void scaling_figure_cuts_a_long_seed_legend(void **state)
{
    (void)state;
    enum { SEEDS = 60 };
    char *names[SEEDS], buf[SEEDS][40];
    double err[SEEDS];
    for (int i = 0; i < SEEDS; i++) {
        snprintf(buf[i], sizeof buf[i], "scaling_study_with_a_long_name_s%02d", i + 1);
        names[i] = buf[i];
        err[i] = i ? NAN : 10;
    }
    struct ns_scaling_model m = {0, 0, 1, 5e6, 9e4, 1, 10, 10, 10, err};
    struct ns_scaling_table t = {SEEDS, names, "test error", 1, &m, err};
    struct ns_plot_files f;
    assert_int_equal(ns_plot_files_init(&f, out_path("many.svg")), 0);
    assert_int_equal(ns_plot_fig_scaling(&f, &t, NULL), 0);
    ns_plot_files_free(&f);
    char *dat = slurp(out_path("many.dat"));
    assert_has(
        dat,
        "# index 1: base: each seed's error (seed 1 = scaling_study_with_a_long_name_s01, 2 = ",
        "many.dat");
    assert_has(dat, "...)\n# dim target flops error(%) seed trial\n", "many.dat");
    assert_null(strstr(dat, "s60"));
    free(dat);
}

static void report_has_the_scaling_figure(void **state)
{
    (void)state;
    struct ns_report_req r = {
        .db = dbpath, .out_dir = out_path("report"), .top = 3, .resamples = 50};
    int rc = ns_report(&r, NULL);
    if (rc && strstr(ns_errmsg(), "gnuplot not found"))
        return;
    assert_int_equal(rc, 0);
    char *html = slurp(out_path("report/index.html"));
    assert_has(html, "<a href=\"#scaling\">Scaling</a>", "index.html");
    assert_has(html, "<h2 id=\"scaling\">Scaling</h2>", "index.html");
    assert_has(html, "<img src=\"scaling.svg\"", "index.html");
    free(html);
    char *dat = slurp(out_path("report/scaling.dat"));
    assert_has(dat, "(seed 1 = s1, 2 = s2, 3 = s3)\n", "report/scaling.dat");
    free(dat);
    /* a db without scaling studies: no such section */
    r.db = plain_db;
    r.out_dir = out_path("report_plain");
    assert_int_equal(ns_report(&r, NULL), 0);
    html = slurp(out_path("report_plain/index.html"));
    assert_null(strstr(html, "id=\"scaling\""));
    assert_null(strstr(html, "#scaling"));
    assert_null(strstr(html, "scaling.svg"));
    free(html);
    /* two scaling studies in one db: a figure each, with its seeds */
    r.db = spaces_db;
    r.out_dir = out_path("report_spaces");
    char *warn = NULL;
    assert_int_equal(ns_report(&r, &warn), 0);
    assert_has(warn, "scaling 1: study 'a_s2': 1 of its 9 trials left out (1 failed)", "warnings");
    free(warn);
    html = slurp(out_path("report_spaces/index.html"));
    /* both drawn (other figures are not: this fixture has no epochs) */
    const char *sec = strstr(html, "<h2 id=\"scaling\">"),
               *end = sec ? strstr(sec, "<h2 id=\"effects\"") : NULL;
    assert_non_null(end);
    const char *missing = strstr(sec, "Not drawn");
    assert_true(!missing || missing > end);
    assert_has(html, "The db holds 2 scaling studies (their base networks differ)", "index.html");
    assert_has(html,
               "<h3>Scaling study 1</h3>\n<p class=\"note\">Seeds: a_s1, a_s2</p>\n"
               "<figure><img src=\"scaling-1.svg\"",
               "index.html");
    assert_has(html,
               "<h3>Scaling study 2</h3>\n<p class=\"note\">Seeds: b_s1</p>\n"
               "<figure><img src=\"scaling-2.svg\"",
               "index.html");
    free(html);
    dat = slurp(out_path("report_spaces/scaling-2.dat"));
    assert_has(dat, "(seed 1 = b_s1)\n", "report_spaces/scaling-2.dat");
    assert_has(dat, "base 1 7500000 135000 1 10 10 10 0\n", "report_spaces/scaling-2.dat");
    free(dat);
    /* each scaling figure names its own studies' errors: b_s1's validation, a's test */
    char *gp = slurp(out_path("report_spaces/scaling-2.gp"));
    assert_has(gp, "set ylabel 'validation error (%)'", "report_spaces/scaling-2.gp");
    free(gp);
    gp = slurp(out_path("report_spaces/scaling-1.gp"));
    assert_has(gp, "set ylabel 'test error (%)'", "report_spaces/scaling-1.gp");
    free(gp);
}

int main(int argc, char **argv)
{
    if (argc == 2 || argc == 3) {
        const char *which = argc == 3 ? argv[2] : "main";
        if (strcmp(which, "main") && strcmp(which, "mismatch") && strcmp(which, "plain") &&
            strcmp(which, "bad") && strcmp(which, "spaces")) {
            fprintf(stderr, "usage: %s PATH [mismatch|plain|bad|spaces]\n", argv[0]);
            return 2;
        }
        if (access(argv[1], F_OK) == 0) {
            fprintf(stderr, "%s: exists; the fixture writes a new db\n", argv[1]);
            return 1;
        }
        if (fx_write(argv[1], which)) {
            fprintf(stderr, "fixture: %s\n", ns_errmsg());
            return 1;
        }
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scaling_means_over_seeds_by_line),
        cmocka_unit_test(scaling_seeds_in_the_order_given),
        cmocka_unit_test(scaling_error_and_failed_options),
        cmocka_unit_test(scaling_default_studies_and_incomplete),
        cmocka_unit_test(scaling_refuses_other_studies),
        cmocka_unit_test(scaling_figure_of_the_base_alone),
        cmocka_unit_test(scaling_figure_cuts_a_long_seed_legend),
        cmocka_unit_test(report_has_the_scaling_figure),
    };
    return cmocka_run_group_tests(tests, setup, scratch_teardown);
}
