/* Multi-fidelity scheduling (fidelity.h): rungs, brackets, synchronous promotions that do
 * not depend on the order results arrive in, ASHA's asynchronous rule, resume. */
/* cmocka.h needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/fidelity.h"
#include "util/err.h"

static void rungs(void **state)
{
    (void)state;
    int e[NS_FID_MAX_RUNGS];
    struct ns_fid_spec s = {NS_FID_SHA, 3, 1, 27};
    assert_int_equal(ns_fid_rungs(&s, e), 4);
    assert_int_equal(e[0], 1);
    assert_int_equal(e[1], 3);
    assert_int_equal(e[2], 9);
    assert_int_equal(e[3], 27);
    s = (struct ns_fid_spec){NS_FID_SHA, 2, 1, 6}; /* 6/4, 6/2, 6 */
    assert_int_equal(ns_fid_rungs(&s, e), 3);
    assert_int_equal(e[0], 2);
    assert_int_equal(e[1], 3);
    assert_int_equal(e[2], 6);
    s = (struct ns_fid_spec){NS_FID_SHA, 3, 2, 2};
    assert_int_equal(ns_fid_rungs(&s, e), 1);
    assert_int_equal(e[0], 2);
    s = (struct ns_fid_spec){NS_FID_SHA, 1, 1, 27};
    assert_int_equal(ns_fid_rungs(&s, e), -1);
    assert_non_null(strstr(ns_errmsg(), "search.eta"));
    s = (struct ns_fid_spec){NS_FID_SHA, 3, 5, 4};
    assert_int_equal(ns_fid_rungs(&s, e), -1);
    assert_non_null(strstr(ns_errmsg(), "search.max_epochs"));
    s = (struct ns_fid_spec){NS_FID_SHA, 3, 0, 4};
    assert_int_equal(ns_fid_rungs(&s, e), -1);
    assert_non_null(strstr(ns_errmsg(), "search.min_epochs"));
}

static void names(void **state)
{
    (void)state;
    for (int k = 0; k < NS_FID_NKINDS; k++)
        assert_int_equal(ns_fid_kind_from_name(ns_fid_kind_name(k)), k);
    assert_int_equal(ns_fid_kind_from_name("bohb"), -1);
    assert_null(ns_fid_kind_name(NS_FID_NKINDS));
}

/* A deterministic "error" for trial i at rung k: a trial's quality, improving with epochs. */
static double err_of(int i, int k)
{
    static const double q[] = {30, 12, 45, 12, 8, 50, 20, 33, 9, 27, 15, 40, 11};
    return q[i % 13] / (1 + k) + 0.01 * (i / 13);
}

/* Run a schedule to the end with `workers` jobs in flight, finishing the running job picked
 * by `order` (0: oldest first; 1: newest first; 2: pseudo-random), and record per trial the
 * rungs it finished. Returns the epochs spent. */
static int simulate(const struct ns_fid_spec *s, int n, int workers, int order, int *done_out,
                    int *n_jobs)
{
    struct ns_fid f;
    assert_int_equal(ns_fid_init(&f, s, n), 0);
    struct ns_fid_job run[16];
    int n_run = 0, spent = 0, jobs = 0;
    unsigned rnd = 12345;
    for (;;) {
        while (n_run < workers) {
            int got = ns_fid_next(&f, NULL, &run[n_run]);
            assert_true(got >= 0);
            if (!got)
                break;
            n_run++;
            jobs++;
        }
        if (n_run == 0)
            break;
        int pick = order == 0   ? 0
                   : order == 1 ? n_run - 1
                                : (int)((rnd = rnd * 1103515245u + 12345u) >> 16) % n_run;
        struct ns_fid_job j = run[pick];
        run[pick] = run[--n_run];
        spent += j.to - j.from;
        assert_int_equal(ns_fid_record(&f, j.trial, j.rung, err_of(j.trial, j.rung)), 0);
    }
    assert_true(ns_fid_finished(&f));
    for (int i = 0; i < n; i++) {
        done_out[i] = f.t[i].done;
        assert_int_equal(ns_fid_epochs_spent(&f, i), f.epochs[f.t[i].done]);
    }
    if (n_jobs)
        *n_jobs = jobs;
    ns_fid_free(&f);
    return spent;
}

static void sha_promotes_the_best(void **state)
{
    (void)state;
    struct ns_fid_spec s = {NS_FID_SHA, 3, 1, 9};
    int done[9];
    /* 9 trials: rung 0 (1 epoch) all; 3 to rung 1 (3 epochs); 1 to rung 2 (9 epochs) */
    int spent = simulate(&s, 9, 1, 0, done, NULL);
    assert_int_equal(spent, 9 * 1 + 3 * 2 + 1 * 6);
    /* errors at rung 0: 30 12 45 12 8 50 20 33 9: best 4 (8), 8 (9), then 1 and 3 tie at
     * 12: the lower index, 1 */
    const int want[9] = {0, 1, 0, 0, 2, 0, 0, 0, 1};
    for (int i = 0; i < 9; i++)
        assert_int_equal(done[i], want[i]);
}

/* The same promotions however many workers and whatever order results arrive in. */
static void sync_is_order_independent(void **state)
{
    (void)state;
    const enum ns_fid_kind kinds[] = {NS_FID_SHA, NS_FID_HYPERBAND};
    for (int ki = 0; ki < 2; ki++) {
        struct ns_fid_spec s = {kinds[ki], 3, 1, 27};
        int ref[40], got[40];
        int spent = simulate(&s, 40, 1, 0, ref, NULL);
        for (int w = 1; w <= 5; w++)
            for (int order = 0; order < 3; order++) {
                assert_int_equal(simulate(&s, 40, w, order, got, NULL), spent);
                assert_memory_equal(ref, got, sizeof ref);
            }
        int top = 0;
        for (int i = 0; i < 40; i++)
            top += ref[i] == 3;
        assert_true(top >= 1);
    }
}

static void hyperband_brackets(void **state)
{
    (void)state;
    struct ns_fid_spec s = {NS_FID_HYPERBAND, 3, 1, 27};
    struct ns_fid f;
    assert_int_equal(ns_fid_init(&f, &s, 40), 0);
    assert_int_equal(f.n_brackets, 4);
    int sum = 0;
    for (int b = 0; b < 4; b++) {
        assert_true(f.br_n[b] >= 1);
        assert_int_equal(f.br_lo[b], sum);
        sum += f.br_n[b];
        /* the brackets' first jobs start at their own rung */
        assert_int_equal(ns_fid_first_rung(&f, f.br_lo[b]), b);
    }
    assert_int_equal(sum, 40);
    /* Li et al.'s n for eta 3, s_max 3: 27 12 6 4 (49): the most exploratory bracket largest */
    assert_true(f.br_n[0] > f.br_n[1] && f.br_n[1] > f.br_n[2] && f.br_n[2] >= f.br_n[3]);
    struct ns_fid_job j;
    int seen_top = 0;
    while (ns_fid_next(&f, NULL, &j) == 1) {
        if (j.trial >= f.br_lo[3]) {
            assert_int_equal(j.rung, 3);
            assert_int_equal(j.from, 0);
            assert_int_equal(j.to, 27);
            seen_top = 1;
        } else {
            assert_int_equal(j.rung, f.t[j.trial].bracket);
        }
    }
    assert_true(seen_top);
    ns_fid_free(&f);
    assert_int_equal(ns_fid_init(&f, &s, 3), -1);
    assert_non_null(strstr(ns_errmsg(), "at least 4 samples"));
}

/* Promotion waits for the whole rung: no promoted job while one trial still runs rung 0. */
static void sync_waits_for_the_rung(void **state)
{
    (void)state;
    struct ns_fid_spec s = {NS_FID_SHA, 2, 1, 4};
    struct ns_fid f;
    assert_int_equal(ns_fid_init(&f, &s, 4), 0);
    struct ns_fid_job j[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(ns_fid_next(&f, NULL, &j[i]), 1);
    assert_int_equal(ns_fid_next(&f, NULL, &j[0]), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ns_fid_record(&f, j[i].trial, 0, 10.0 + i), 0);
    struct ns_fid_job k;
    assert_int_equal(ns_fid_next(&f, NULL, &k), 0);
    assert_false(ns_fid_finished(&f));
    /* the last one fails: the rung closes; 4 entered, 2 promoted, from the 3 that finished */
    ns_fid_fail(&f, j[3].trial);
    assert_int_equal(ns_fid_next(&f, NULL, &k), 1);
    assert_int_equal(k.rung, 1);
    assert_int_equal(k.from, 1);
    assert_int_equal(k.to, 2);
    assert_true(k.promoted);
    struct ns_fid_job k2;
    assert_int_equal(ns_fid_next(&f, NULL, &k2), 1);
    assert_int_equal(ns_fid_next(&f, NULL, &j[0]), 0);
    /* the two best: errors 10 and 11 */
    assert_true((k.trial == j[0].trial && k2.trial == j[1].trial) ||
                (k.trial == j[1].trial && k2.trial == j[0].trial));
    ns_fid_free(&f);
}

/* Flops order within a rung: largest first; deeper rungs before new trials. */
static void job_order(void **state)
{
    (void)state;
    struct ns_fid_spec s = {NS_FID_ASHA, 2, 1, 2};
    struct ns_fid f;
    assert_int_equal(ns_fid_init(&f, &s, 4), 0);
    const double flops[] = {1, 5, 3, 5};
    struct ns_fid_job j;
    assert_int_equal(ns_fid_next(&f, flops, &j), 1);
    assert_int_equal(j.trial, 1);
    assert_int_equal(ns_fid_next(&f, flops, &j), 1);
    assert_int_equal(j.trial, 3);
    assert_int_equal(ns_fid_record(&f, 1, 0, 20), 0);
    assert_int_equal(ns_fid_record(&f, 3, 0, 10), 0);
    /* 2 finished rung 0: floor(2/2) = 1 may go on, the best (3), before a new trial */
    assert_int_equal(ns_fid_next(&f, flops, &j), 1);
    assert_int_equal(j.trial, 3);
    assert_int_equal(j.rung, 1);
    assert_true(j.promoted);
    assert_int_equal(ns_fid_next(&f, flops, &j), 1);
    assert_int_equal(j.trial, 2);
    assert_false(j.promoted);
    ns_fid_free(&f);
}

/* ASHA: promotions as soon as a rung's top fraction allows; the study ends with a model of
 * the full budget; interrupted jobs come back. */
static void asha(void **state)
{
    (void)state;
    struct ns_fid_spec s = {NS_FID_ASHA, 3, 1, 9};
    int done[9], jobs = 0;
    int spent = simulate(&s, 9, 1, 0, done, &jobs);
    int top = 0, mid = 0;
    for (int i = 0; i < 9; i++) {
        top += done[i] == 2;
        mid += done[i] >= 1;
    }
    assert_int_equal(top, 1);
    assert_true(mid >= 3);
    assert_true(spent <= 9 + 3 * 2 + 2 * 6 + 6);
    /* serially, each promotion happens as soon as 3 results are in */
    struct ns_fid f;
    assert_int_equal(ns_fid_init(&f, &s, 9), 0);
    struct ns_fid_job j;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ns_fid_next(&f, NULL, &j), 1);
        assert_int_equal(j.rung, 0);
        assert_int_equal(ns_fid_record(&f, j.trial, 0, err_of(j.trial, 0)), 0);
    }
    assert_int_equal(ns_fid_next(&f, NULL, &j), 1);
    assert_int_equal(j.rung, 1);
    assert_int_equal(j.trial, 1); /* 30 12 45: trial 1 */
    assert_true(j.promoted);
    /* interrupted: it is handed out again first, not promoted a second time */
    ns_fid_requeue(&f, j.trial);
    assert_int_equal(ns_fid_next(&f, NULL, &j), 1);
    assert_int_equal(j.trial, 1);
    assert_int_equal(j.rung, 1);
    assert_false(j.promoted);
    ns_fid_free(&f);
}

/* A resume restores the recorded rungs and continues to the same end. */
static void resume(void **state)
{
    (void)state;
    const enum ns_fid_kind kinds[] = {NS_FID_SHA, NS_FID_HYPERBAND, NS_FID_ASHA};
    for (int ki = 0; ki < 3; ki++) {
        struct ns_fid_spec s = {kinds[ki], 3, 1, 9};
        int ref[20];
        simulate(&s, 20, 1, 0, ref, NULL);
        for (int cut = 1; cut < 40; cut += 3) {
            /* run `cut` jobs (two in flight), "kill", reload from the records, go on */
            struct ns_fid f, g;
            assert_int_equal(ns_fid_init(&f, &s, 20), 0);
            struct ns_fid_job j, pend[2];
            int n_pend = 0, k = 0;
            while (k < cut) {
                while (n_pend < 2 && ns_fid_next(&f, NULL, &pend[n_pend]) == 1)
                    n_pend++;
                if (!n_pend)
                    break;
                j = pend[0];
                pend[0] = pend[--n_pend];
                assert_int_equal(ns_fid_record(&f, j.trial, j.rung, err_of(j.trial, j.rung)), 0);
                k++;
            }
            assert_int_equal(ns_fid_init(&g, &s, 20), 0);
            for (int i = 0; i < 20; i++)
                assert_int_equal(ns_fid_load(&g, i, f.t[i].cleared, f.t[i].done, f.t[i].err, 0), 0);
            ns_fid_free(&f);
            while (ns_fid_next(&g, NULL, &j) == 1)
                assert_int_equal(ns_fid_record(&g, j.trial, j.rung, err_of(j.trial, j.rung)), 0);
            assert_true(ns_fid_finished(&g));
            if (kinds[ki] != NS_FID_ASHA)
                for (int i = 0; i < 20; i++)
                    assert_int_equal(g.t[i].done, ref[i]);
            ns_fid_free(&g);
        }
    }
}

/* Run a synchronous schedule serially with err[trial][rung] (NAN: the job fails); the rungs
 * each trial finished into done[]. */
static void run_serial(const struct ns_fid_spec *s, int n, const double err[][3], int *done)
{
    struct ns_fid f;
    assert_int_equal(ns_fid_init(&f, s, n), 0);
    struct ns_fid_job j;
    while (ns_fid_next(&f, NULL, &j) == 1)
        assert_int_equal(ns_fid_record(&f, j.trial, j.rung, err[j.trial][j.rung]), 0);
    assert_true(ns_fid_finished(&f));
    for (int i = 0; i < n; i++)
        done[i] = f.t[i].done;
    ns_fid_free(&f);
}

/* Failures, a rung smaller than eta, and rungs when max_epochs is not min * eta^k. */
static void sync_edges(void **state)
{
    (void)state;
    struct ns_fid_spec s = {NS_FID_SHA, 3, 2, 20};
    int e[NS_FID_MAX_RUNGS];
    assert_int_equal(ns_fid_rungs(&s, e), 3);
    assert_int_equal(e[0], 2);
    assert_int_equal(e[1], 7); /* 20 / 3 rounded */
    assert_int_equal(e[2], 20);
    s = (struct ns_fid_spec){NS_FID_SHA, 3, 1, 9};
    /* a failed trial counts in its rung (5 entered: 1 promoted) but is never promoted; the
     * promoted one failing ends the study there */
    const double a[5][3] = {{NAN}, {5}, {3}, {4}, {1, NAN}};
    int done[5];
    run_serial(&s, 5, a, done);
    const int want_a[5] = {-1, 0, 0, 0, 0};
    assert_memory_equal(done, want_a, sizeof want_a);
    /* fewer trials than eta: the best still goes on, to the full budget */
    const double b[2][3] = {{5, 4, 3}, {3, 2, 1}};
    run_serial(&s, 2, b, done);
    assert_int_equal(done[0], 0);
    assert_int_equal(done[1], 2);
    /* a tie at rung 0 goes to the lower index */
    const double c[3][3] = {{7}, {2, 1, 1}, {2, 1, 1}};
    run_serial(&s, 3, c, done);
    assert_int_equal(done[1], 2);
    assert_int_equal(done[2], 0);
}

/* Who is out: SHA's trials left behind by a closed rung (not before it closes), failed and
 * finished ones; under ASHA only failed and finished ones. */
static void out_trials(void **state)
{
    (void)state;
    struct ns_fid_spec s = {NS_FID_SHA, 3, 1, 9};
    struct ns_fid f;
    unsigned char out[9];
    assert_int_equal(ns_fid_init(&f, &s, 9), 0);
    struct ns_fid_job j;
    for (int i = 0; i < 9; i++)
        assert_int_equal(ns_fid_next(&f, NULL, &j), 1);
    for (int i = 0; i < 8; i++) /* trial i: error 10 + i; trial 8 still runs */
        assert_int_equal(ns_fid_record(&f, i, 0, 10 + i), 0);
    assert_int_equal(ns_fid_out(&f, out), 0);
    /* rung 0 is open: anyone may go on */
    for (int i = 0; i < 9; i++)
        assert_int_equal(out[i], 0);
    assert_int_equal(ns_fid_record(&f, 8, 0, NAN), 0); /* trial 8 fails: rung 0 closes */
    assert_int_equal(ns_fid_out(&f, out), 0);
    for (int i = 0; i < 9; i++) /* 0, 1, 2 promoted; 3..7 left behind; 8 failed */
        assert_int_equal(out[i], i >= 3);
    ns_fid_free(&f);
    s.kind = NS_FID_ASHA;
    assert_int_equal(ns_fid_init(&f, &s, 9), 0);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(ns_fid_next(&f, NULL, &j), 1);
        assert_int_equal(ns_fid_record(&f, j.trial, j.rung, j.trial == 4 ? NAN : 10 + j.trial), 0);
    }
    assert_int_equal(ns_fid_out(&f, out), 0);
    for (int i = 0; i < 9; i++) /* any may still be promoted */
        assert_int_equal(out[i], i == 4);
    ns_fid_free(&f);
}

static void bad_records(void **state)
{
    (void)state;
    struct ns_fid_spec s = {NS_FID_SHA, 3, 1, 9};
    struct ns_fid f;
    assert_int_equal(ns_fid_init(&f, &s, 3), 0);
    assert_int_equal(ns_fid_record(&f, 0, 2, 5), -1);
    assert_non_null(strstr(ns_errmsg(), "cleared only for rung 0"));
    assert_int_equal(ns_fid_record(&f, 7, 0, 5), -1);
    assert_int_equal(ns_fid_load(&f, 0, 1, 2, NULL, 0), -1);
    assert_int_equal(ns_fid_load(&f, 0, 5, 0, NULL, 0), -1);
    /* NAN is a failure */
    assert_int_equal(ns_fid_record(&f, 1, 0, NAN), 0);
    assert_true(f.t[1].failed);
    ns_fid_free(&f);
    s.kind = NS_FID_RANDOM;
    assert_int_equal(ns_fid_init(&f, &s, 3), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rungs),
        cmocka_unit_test(names),
        cmocka_unit_test(sha_promotes_the_best),
        cmocka_unit_test(sync_is_order_independent),
        cmocka_unit_test(hyperband_brackets),
        cmocka_unit_test(sync_waits_for_the_rung),
        cmocka_unit_test(job_order),
        cmocka_unit_test(asha),
        cmocka_unit_test(resume),
        cmocka_unit_test(sync_edges),
        cmocka_unit_test(out_trials),
        cmocka_unit_test(bad_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
