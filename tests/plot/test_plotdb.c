/* netspace plot from a results db: the fixture db, and ns_plot_make's choices checked against
 * the fixture's own record (which trials, which errors, which range).
 *
 * Two modes:
 *   plot_test_plotdb PATH   write the fixture db to PATH (must not exist) and exit 0; used
 *                           by tests/plot/test_plot.sh (the binary sits in <build>/tests/).
 *   plot_test_plotdb        run the cmocka tests on a fixture in a scratch folder.
 *
 * The fixture (deterministic, through the store's write API and the space module's RegNet
 * generator and complexity): three studies on 1x28x28 inputs, 10 classes, 8 epochs each:
 *   regnet_a  120 trials of RegNet-X (depth, w0, wa, wm, group_w, bot_mul): 112 complete,
 *             5 failed (diverged), 2 waiting, 1 running
 *   regnet_b   90 trials of RegNet-X with narrower ranges and lower errors: 88 complete,
 *             2 failed
 *   anynet     60 trials of 3-stage res_basic nets (d1..d3, w1..w3), all complete
 * Errors fall with log flops, rise away from wa = 32 (RegNet) and carry noise; curves decay
 * from ~60 % to the final error; best_test_error is the curve's minimum. */
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
#include "plot/plot.h"
#include "plot_check.h"
#include "space/space.h"
#include "store/store.h"
#include "util/err.h"
#include "util/pcg32.h"

#define FX_EPOCHS 8
#define FX_MAX_TRIALS 128
#define FX_MAX_BLOCKS 64

/* The fixture's own record of what it wrote. */
struct fx_trial {
    int state;
    double err, best, flops, wa;
    int nb, widths[FX_MAX_BLOCKS];
};

struct fx_study {
    const char *name;
    int n, n_failed, n_pending;
    int regnet;
    double offset;
    struct fx_trial t[FX_MAX_TRIALS];
};

static struct fx_study fx[3] = {
    {.name = "regnet_a", .n = 120, .n_failed = 5, .n_pending = 3, .regnet = 1, .offset = 0},
    {.name = "regnet_b", .n = 90, .n_failed = 2, .n_pending = 0, .regnet = 2, .offset = -0.8},
    {.name = "anynet", .n = 60, .n_failed = 0, .n_pending = 0, .regnet = 0, .offset = 1.0},
};

static double uniform(struct ns_pcg32 *g, double lo, double hi)
{
    return lo + (hi - lo) * ns_pcg32_double(g);
}

/* A config and its sampled parameters for trial i of study s. */
static int fx_sample(struct ns_pcg32 *g, const struct fx_study *s, struct ns_config *c,
                     struct ns_db_param *p, int *np, double *wa_out)
{
    memset(c, 0, sizeof *c);
    c->in_ch = 1;
    c->im_size = 28;
    c->classes = 10;
    c->stem = NS_STEM_CIFAR;
    c->stem_w = 16;
    *wa_out = NAN;
    if (s->regnet) {
        c->block = NS_BLOCK_X;
        struct ns_regnet r;
        for (int tries = 0; tries < 1000; tries++) {
            int narrow = s->regnet == 2;
            r.depth = narrow ? 8 + (int)ns_pcg32_bounded(g, 7) : 6 + (int)ns_pcg32_bounded(g, 11);
            r.w0 = 8.0 * (1 + ns_pcg32_bounded(g, narrow ? 4 : 8));
            r.wa = exp(uniform(g, log(8), log(narrow ? 64 : 128)));
            r.wm = uniform(g, 1.5, 3.0);
            r.group_w = 1 << (1 + ns_pcg32_bounded(g, 4));
            r.bot_mul = 1;
            r.se_r = 0;
            if (ns_regnet_generate(&r, 2, c) == 0 && c->n_stages <= 4)
                break;
        }
        const struct ns_db_param q[6] = {{"depth", r.depth},     {"w0", r.w0},
                                         {"wa", r.wa},           {"wm", r.wm},
                                         {"group_w", r.group_w}, {"bot_mul", r.bot_mul}};
        memcpy(p, q, sizeof q);
        *np = 6;
        *wa_out = r.wa;
    } else {
        c->block = NS_BLOCK_RES_BASIC;
        c->n_stages = 3;
        int w = 16;
        for (int k = 0; k < 3; k++) {
            w += 8 * (int)ns_pcg32_bounded(g, 6);
            c->stages[k] = (struct ns_stage){1 + (int)ns_pcg32_bounded(g, 4), w, 2, 0, 1.0, 0};
            p[k] = (struct ns_db_param){(const char *[]){"d1", "d2", "d3"}[k], c->stages[k].d};
            p[3 + k] = (struct ns_db_param){(const char *[]){"w1", "w2", "w3"}[k], w};
        }
        *np = 6;
        ns_config_normalize(c);
    }
    return ns_config_check(c);
}

/* Write the fixture db at path; fills fx[]. Returns 0 or -1 (ns_err). */
static int fx_write(const char *path)
{
    struct ns_db *db = ns_db_open(path, NS_DB_RW | NS_DB_CREATE);
    if (!db)
        return -1;
    int rc = ns_db_begin(db);
    for (int si = 0; si < 3 && rc == 0; si++) {
        struct fx_study *s = &fx[si];
        char exp_json[128];
        /* anynet evaluates on a validation split (its errors are validation errors) */
        snprintf(exp_json, sizeof exp_json, "{\"fixture\":\"%s\"%s}", s->name,
                 s->regnet ? "" : ", \"data\":{\"val_split\":0.2}");
        struct ns_db_study_def def = {s->name, exp_json, 1000 + (uint64_t)si, s->name};
        int64_t sid = ns_db_study_ensure(db, &def, NULL);
        if (sid < 0) {
            rc = -1;
            break;
        }
        for (int i = 0; i < s->n && rc == 0; i++) {
            struct ns_pcg32 g;
            ns_pcg32_seed(&g, def.seed, (uint64_t)i);
            struct ns_config c;
            struct ns_db_param p[8];
            int np;
            struct fx_trial *t = &s->t[i];
            if (fx_sample(&g, s, &c, p, &np, &t->wa)) {
                rc = ns_err_prefix("fixture %s trial %d", s->name, i);
                break;
            }
            struct ns_complexity cx;
            char *json = ns_config_to_json(&c), hash[17];
            if (!json || ns_complexity(&c, &cx) || ns_config_hash(&c, hash)) {
                free(json);
                rc = -1;
                break;
            }
            t->flops = cx.flops;
            t->nb = 0;
            for (int k = 0; k < c.n_stages; k++)
                for (int b = 0; b < c.stages[k].d && t->nb < FX_MAX_BLOCKS; b++)
                    t->widths[t->nb++] = c.stages[k].w;
            struct ns_db_trial_def td = {i,
                                         (uint64_t)i,
                                         json,
                                         hash,
                                         (int64_t)cx.flops,
                                         (int64_t)cx.params,
                                         (int64_t)cx.acts,
                                         p,
                                         np,
                                         7000 + (uint64_t)i};
            rc = ns_db_trial_add(db, sid, &td) == 1 ? 0 : -1;
            free(json);
            if (rc)
                break;
            /* The last n_failed + n_pending trials of a study are the odd ones, spread by a
             * stride so that failures are not all the biggest models. */
            int odd = (i * 7) % s->n;
            t->err = NAN;
            t->best = NAN;
            if (odd < s->n_pending) {
                t->state = odd == 0 ? NS_DB_RUNNING : NS_DB_WAITING;
                if (odd == 0)
                    rc = ns_db_trial_start(db, sid, i, 1, "fixture-host");
                continue;
            }
            rc = ns_db_trial_start(db, sid, i, 1 + i % 3, "fixture-host");
            if (rc)
                break;
            if (odd < s->n_pending + s->n_failed) {
                t->state = NS_DB_FAILED;
                rc = ns_db_trial_fail(db, sid, i, "diverged: loss nan at epoch 2", NULL);
                continue;
            }
            double final = 31 - 3.2 * log10(cx.flops) + s->offset + uniform(&g, -1.2, 1.2);
            if (s->regnet)
                final += 0.9 * fabs(log2(t->wa / 32));
            final = fmax(final, 4.0);
            struct ns_db_epoch ep[FX_EPOCHS];
            double best = INFINITY;
            for (int e = 0; e < FX_EPOCHS; e++) {
                double test = final + (58 - final) * exp(-1.1 * e) + uniform(&g, -0.3, 0.3);
                if (e == FX_EPOCHS - 1)
                    test = final;
                double train = fmax(test - 0.6 * e - uniform(&g, 0, 0.5), 0.5);
                ep[e] = (struct ns_db_epoch){e, 2.3 * train / 60, train, test, uniform(&g, 2, 3)};
                best = fmin(best, test);
            }
            t->state = NS_DB_COMPLETE;
            t->err = final;
            t->best = best;
            struct ns_db_result res = {
                ep[FX_EPOCHS - 1].train_error, final, best, FX_EPOCHS * 2.5, ep, FX_EPOCHS};
            rc = ns_db_trial_complete(db, sid, i, &res);
        }
    }
    if (rc == 0)
        rc = ns_db_commit(db);
    ns_db_close(db);
    return rc;
}

/* ------------------------------------------------------------------------ tests ---- */

static char dbpath[128];

static int setup(void **state)
{
    (void)state;
    if (scratch_make("ns_plotdb"))
        return -1;
    snprintf(dbpath, sizeof dbpath, "%s/fx.db", scratch);
    if (fx_write(dbpath)) {
        fprintf(stderr, "fixture: %s\n", ns_errmsg());
        return -1;
    }
    return 0;
}

/* Make a plot; gnuplot's absence is tolerated here (test_plot.sh checks the images), since
 * the script and data are written before gnuplot runs. */
static int make(const struct ns_plot_req *r)
{
    char *log = NULL;
    int rc = ns_plot_make(r, &log);
    free(log);
    if (rc && strstr(ns_errmsg(), "gnuplot not found"))
        return 0;
    return rc;
}

/* The rows of gnuplot index block `idx` of a .dat text, as pairs (first two columns). */
static int dat_block(const char *dat, int idx, double *a, double *b, int max)
{
    char key[32];
    snprintf(key, sizeof key, "# index %d:", idx);
    const char *p = strstr(dat, key);
    if (!p)
        return -1;
    int n = 0;
    for (p = strchr(p, '\n'); p && p[1] && p[1] != '\n'; p = strchr(p + 1, '\n')) {
        if (p[1] == '#')
            continue;
        if (n < max && sscanf(p + 1, "%lf %lf", &a[n], &b[n]) == 2)
            n++;
    }
    return n;
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* Every study's EDF block holds its complete trials' distinct errors, ending at 1; with
 * --failed chance the failed ones join at 90 % (10 classes). */
static void edf_blocks_match_the_fixture(void **state)
{
    (void)state;
    struct ns_plot_req r = {.kind = NS_PLOT_EDF, .db = dbpath, .out = out_path("edf.png")};
    assert_int_equal(make(&r), 0);
    char *dat = slurp(out_path("edf.dat"));
    double x[256], y[256];
    for (int si = 0; si < 3; si++) {
        int n = dat_block(dat, si, x, y, 256);
        int complete = 0;
        double mn = INFINITY;
        for (int i = 0; i < fx[si].n; i++)
            if (fx[si].t[i].state == NS_DB_COMPLETE) {
                complete++;
                mn = fmin(mn, fx[si].t[i].err);
            }
        assert_int_equal(n, complete + 1); /* + the start on the axis (distinct errors) */
        assert_true(fabs(x[0] - mn) < 1e-9 && y[0] == 0);
        assert_true(fabs(y[n - 1] - 1) < 1e-9);
    }
    free(dat);

    r.failed_chance = 1;
    r.studies = (const char *const[]){"regnet_a"};
    r.n_studies = 1;
    assert_int_equal(make(&r), 0);
    dat = slurp(out_path("edf.dat"));
    int n = dat_block(dat, 0, x, y, 256);
    assert_true(fabs(x[n - 1] - 90) < 1e-9);
    assert_true(fabs(y[n - 2] - 112.0 / 117) < 1e-9); /* 5 failed of 117 finished */
    assert_null(strstr(dat, "# index 1:"));
    free(dat);
    char *gp = slurp(out_path("edf.gp"));
    assert_non_null(strstr(gp, "failed trials counted at chance error"));
    assert_non_null(strstr(gp, "regnet_a  (n=117, 5 failed"));
    free(gp);
}

/* The default normalization range is the intersection of the studies' flops ranges. */
static void normalized_edf_uses_the_common_range(void **state)
{
    (void)state;
    double lo = -INFINITY, hi = INFINITY;
    for (int si = 0; si < 2; si++) {
        double a = INFINITY, b = -INFINITY;
        for (int i = 0; i < fx[si].n; i++)
            if (fx[si].t[i].state == NS_DB_COMPLETE) {
                a = fmin(a, fx[si].t[i].flops);
                b = fmax(b, fx[si].t[i].flops);
            }
        lo = fmax(lo, a);
        hi = fmin(hi, b);
    }
    struct ns_plot_req r = {.kind = NS_PLOT_EDF,
                            .db = dbpath,
                            .out = out_path("nedf.svg"),
                            .studies = (const char *const[]){"regnet_a", "regnet_b"},
                            .n_studies = 2,
                            .normalize = "flops",
                            .bins = 3};
    assert_int_equal(make(&r), 0);
    char *gp = slurp(out_path("nedf.gp"));
    assert_non_null(strstr(gp, "3 log-spaced bins"));
    assert_non_null(strstr(gp, "set terminal svg"));
    free(gp);
    char *dat = slurp(out_path("nedf.dat"));
    double glo, ghi, x[256], y[256];
    const char *p = strstr(dat, "# normalized: flops in (");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "# normalized: flops in (%lf, %lf)", &glo, &ghi), 2);
    assert_true(glo == lo && ghi == hi);
    for (int si = 0; si < 2; si++) {
        int n = dat_block(dat, si, x, y, 256);
        assert_true(n > 10);
        assert_true(fabs(y[n - 1] - 1) < 1e-9);
    }
    free(dat);

    r.bins = 400;
    assert_int_equal(make(&r), -1);
    assert_err_contains("study 'regnet_a': --normalize flops: bin ");
    assert_err_contains("has no models");
    r.bins = 3;
    r.have_range = 1;
    r.lo = 1e12;
    r.hi = 1e13;
    assert_int_equal(make(&r), -1);
    assert_err_contains("bin 1 of 3");
}

/* The band is the bootstrap of exactly the complete trials' (error, wa) pairs. */
static void param_band_is_the_bootstrap_of_complete_trials(void **state)
{
    (void)state;
    struct fx_study *s = &fx[0];
    double err[FX_MAX_TRIALS], wa[FX_MAX_TRIALS];
    size_t n = 0;
    for (int i = 0; i < s->n; i++)
        if (s->t[i].state == NS_DB_COMPLETE) {
            err[n] = s->t[i].err;
            wa[n++] = s->t[i].wa;
        }
    struct ns_plot_range want;
    assert_int_equal(ns_plot_bootstrap_best(err, wa, n, 2500, 7, &want), 0);
    struct ns_plot_req r = {.kind = NS_PLOT_PARAM,
                            .db = dbpath,
                            .out = out_path("wa.png"),
                            .studies = (const char *const[]){"regnet_a"},
                            .n_studies = 1,
                            .param = "wa",
                            .resamples = 2500,
                            .seed = 7,
                            .logx = -1};
    assert_int_equal(make(&r), 0);
    char *dat = slurp(out_path("wa.dat"));
    double lo, med, hi;
    const char *p = strstr(dat, "# best-model range: ");
    assert_non_null(p);
    assert_int_equal(
        sscanf(p, "# best-model range: 2.5%% %lf, median %lf, 97.5%% %lf", &lo, &med, &hi), 3);
    assert_true(fabs(lo - want.lo) < 1e-6 * want.lo && fabs(med - want.med) < 1e-6 * want.med &&
                fabs(hi - want.hi) < 1e-6 * want.hi);
    double x[256], y[256];
    assert_int_equal(dat_block(dat, 0, x, y, 256), (int)n);
    free(dat);
    char *gp = slurp(out_path("wa.gp"));
    assert_non_null(strstr(gp, "set logscale x")); /* wa spans 8..128 */
    free(gp);

    r.param = "no_such_param";
    assert_int_equal(make(&r), -1);
    assert_err_contains("unknown parameter 'no_such_param'");
    r.param = "wa";
    r.studies = (const char *const[]){"nope"};
    assert_int_equal(make(&r), -1);
    assert_err_contains("study 'nope' not found");
}

/* --top K picks the K lowest errors, in order; models draws each trial's stage widths. */
static void top_k_and_model_widths(void **state)
{
    (void)state;
    struct fx_study *s = &fx[1];
    double errs[FX_MAX_TRIALS];
    int n = 0;
    for (int i = 0; i < s->n; i++)
        if (s->t[i].state == NS_DB_COMPLETE)
            errs[n++] = s->t[i].err;
    qsort(errs, (size_t)n, sizeof *errs, cmp_double);
    struct ns_plot_req r = {.kind = NS_PLOT_CURVES,
                            .db = dbpath,
                            .out = out_path("c.png"),
                            .studies = (const char *const[]){"regnet_b"},
                            .n_studies = 1,
                            .top = 4};
    assert_int_equal(make(&r), 0);
    char *dat = slurp(out_path("c.dat"));
    for (int k = 0; k < 4; k++) {
        char key[32];
        snprintf(key, sizeof key, "# index %d: trial ", k);
        const char *p = strstr(dat, key);
        assert_non_null(p);
        int idx = atoi(p + strlen(key));
        assert_true(s->t[idx].err == errs[k]);
        double e[16], tr[16];
        assert_int_equal(dat_block(dat, k, e, tr, 16), FX_EPOCHS);
        assert_true(e[0] == 1 && e[FX_EPOCHS - 1] == FX_EPOCHS);
    }
    assert_null(strstr(dat, "# index 4:"));
    free(dat);

    r.kind = NS_PLOT_MODELS;
    r.out = out_path("m.png");
    r.top = 0;
    r.trials = (const int[]){3, 10};
    r.n_trials = 2;
    assert_int_equal(make(&r), 0);
    dat = slurp(out_path("m.dat"));
    for (int k = 0; k < 2; k++) {
        const struct fx_trial *t = &s->t[r.trials[k]];
        double j[FX_MAX_BLOCKS + 1], w[FX_MAX_BLOCKS + 1];
        assert_int_equal(dat_block(dat, k, j, w, FX_MAX_BLOCKS + 1), t->nb + 1);
        for (int b = 0; b < t->nb; b++)
            assert_true(j[b] == b && w[b] == t->widths[b]);
    }
    free(dat);

    r.trials = (const int[]){999};
    r.n_trials = 1;
    assert_int_equal(make(&r), -1);
    assert_err_contains("trial 999");
    r.studies = NULL;
    r.n_studies = 0;
    assert_int_equal(make(&r), -1); /* three studies: curves and models need one named */
    assert_err_contains("--study");
}

/* Labels say what the errors are: a study with data.val_split holds validation errors in
 * its test_error columns, and the figures, curves and comparisons name them so. */
static void error_label_names_the_evaluation_set(void **state)
{
    (void)state;
    struct ns_plot_req r = {.kind = NS_PLOT_EDF, .db = dbpath, .out = out_path("lab.png"),
                            .bins = 10, .studies = (const char *const[]){"regnet_a"},
                            .n_studies = 1};
    assert_int_equal(make(&r), 0);
    char *gp = slurp(out_path("lab.gp"));
    assert_has(gp, "'test error e (%)'", "lab.gp (regnet_a)");
    assert_null(strstr(gp, "validation"));
    free(gp);
    r.studies = (const char *const[]){"anynet"};
    assert_int_equal(make(&r), 0);
    gp = slurp(out_path("lab.gp"));
    assert_has(gp, "'validation error e (%)'", "lab.gp (anynet)");
    free(gp);
    r.error_best = 1;
    assert_int_equal(make(&r), 0);
    gp = slurp(out_path("lab.gp"));
    assert_has(gp, "'best validation error e (%)'", "lab.gp (anynet, best)");
    free(gp);
    r.error_best = 0;
    r.studies = NULL; /* every study: two on the test set, one on a validation split */
    r.n_studies = 0;
    assert_int_equal(make(&r), 0);
    gp = slurp(out_path("lab.gp"));
    assert_has(gp, "'validation or test error e (%)'", "lab.gp (all)");
    free(gp);

    r.kind = NS_PLOT_CURVES;
    r.studies = (const char *const[]){"anynet"};
    r.n_studies = 1;
    r.top = 2;
    assert_int_equal(make(&r), 0);
    gp = slurp(out_path("lab.gp"));
    assert_has(gp, "title 'validation error'", "curves lab.gp");
    assert_has(gp, "(final validation ", "curves lab.gp");
    free(gp);
    char *dat = slurp(out_path("lab.dat"));
    assert_has(dat, "validation_error(%)", "curves lab.dat");
    free(dat);

    struct ns_compare_req cr = {.db = dbpath, .a = "regnet_b", .b = "anynet", .resamples = 50};
    struct ns_compare_result res;
    assert_int_equal(ns_compare(&cr, &res), 0);
    assert_string_equal(res.error_label, "validation or test error");
    cr.a = "regnet_a";
    cr.b = "regnet_b";
    cr.error_best = 1;
    assert_int_equal(ns_compare(&cr, &res), 0);
    assert_string_equal(res.error_label, "best test error");
}

int main(int argc, char **argv)
{
    if (argc == 2) {
        if (access(argv[1], F_OK) == 0) {
            fprintf(stderr, "%s: exists; the fixture writes a new db\n", argv[1]);
            return 1;
        }
        if (fx_write(argv[1])) {
            fprintf(stderr, "fixture: %s\n", ns_errmsg());
            return 1;
        }
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(edf_blocks_match_the_fixture),
        cmocka_unit_test(error_label_names_the_evaluation_set),
        cmocka_unit_test(normalized_edf_uses_the_common_range),
        cmocka_unit_test(param_band_is_the_bootstrap_of_complete_trials),
        cmocka_unit_test(top_k_and_model_widths),
    };
    return cmocka_run_group_tests(tests, setup, scratch_teardown);
}
