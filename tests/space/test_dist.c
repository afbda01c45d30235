/* Parameter distributions: range, quantum and rough shape of each, and their errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "space/space.h"
#include "util/err.h"

#define N 60000

static struct ns_dist parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test JSON %s: %s", text, e.text);
    struct ns_dist d;
    if (ns_dist_from_jansson(j, "t", &d))
        fail_msg("%s: %s", text, ns_errmsg());
    json_decref(j);
    return d;
}

/* Draw N values; check each lies in [lo, hi] and is a multiple of q (q > 0); return the
 * fraction of draws equal to each of `vals` in freq (when given) and their mean. */
static double draw_many(const struct ns_dist *d, double lo, double hi, double q, int nv,
                        const double *vals, double *freq)
{
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 7, 3);
    double sum = 0;
    for (int k = 0; k < nv; k++)
        freq[k] = 0;
    for (int i = 0; i < N; i++) {
        double v = ns_dist_draw(d, &rng);
        if (!(v >= lo && v <= hi))
            fail_msg("draw %g outside [%g, %g]", v, lo, hi);
        if (q > 0 && fabs(v / q - rint(v / q)) > 1e-9)
            fail_msg("draw %g is not a multiple of %g", v, q);
        int hit = nv == 0;
        for (int k = 0; k < nv; k++)
            if (v == vals[k]) {
                freq[k] += 1.0 / N;
                hit = 1;
            }
        if (!hit)
            fail_msg("draw %g is not one of the expected values", v);
        sum += v;
    }
    return sum / N;
}

static void expect_flat(const double *freq, int n)
{
    for (int k = 0; k < n; k++)
        if (fabs(freq[k] - 1.0 / n) > 0.01)
            fail_msg("value %d has frequency %.4f, want %.4f", k, freq[k], 1.0 / n);
}

static void uniform_on_a_grid_hits_every_point_equally(void **state)
{
    (void)state;
    double f[8];
    struct ns_dist d = parse("{\"dist\": \"uniform\", \"lo\": 1, \"hi\": 6, \"q\": 1}");
    const double six[6] = {1, 2, 3, 4, 5, 6};
    draw_many(&d, 1, 6, 1, 6, six, f);
    expect_flat(f, 6); /* the end points as often as the rest */
    /* lo and hi off the grid: the multiples of 0.25 inside [0.3, 1.1]. */
    d = parse("{\"dist\": \"uniform\", \"lo\": 0.3, \"hi\": 1.1, \"q\": 0.25}");
    const double three[3] = {0.5, 0.75, 1.0};
    draw_many(&d, 0.5, 1.0, 0.25, 3, three, f);
    expect_flat(f, 3);
    assert_true(ns_dist_min(&d) == 0.5 && ns_dist_max(&d) == 1.0);
    /* Decimal quanta give the nearest double to the decimal. */
    d = parse("{\"dist\": \"uniform\", \"lo\": 2.4, \"hi\": 2.45, \"q\": 0.01}");
    const double dec[6] = {2.40, 2.41, 2.42, 2.43, 2.44, 2.45};
    draw_many(&d, 2.4, 2.45, 0.01, 6, dec, f);
    expect_flat(f, 6);
}

static void continuous_uniform(void **state)
{
    (void)state;
    struct ns_dist d = parse("{\"dist\": \"uniform\", \"lo\": 2, \"hi\": 4}");
    double f[8];
    double mean = draw_many(&d, 2, 4, 0, 0, NULL, f);
    assert_true(fabs(mean - 3) < 0.02);
}

static void log_uniform_is_flat_in_log(void **state)
{
    (void)state;
    struct ns_dist d = parse("{\"dist\": \"log_uniform\", \"lo\": 1, \"hi\": 100}");
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 1, 1);
    int below10 = 0, below_half_decade = 0;
    for (int i = 0; i < N; i++) {
        double v = ns_dist_draw(&d, &rng);
        assert_true(v >= 1 && v <= 100);
        below10 += v < 10;
        below_half_decade += v < sqrt(10);
    }
    assert_true(fabs((double)below10 / N - 0.5) < 0.01);
    assert_true(fabs((double)below_half_decade / N - 0.25) < 0.01);
    /* Quantized: multiples of 8 in [8, 256]; a draw under 28 rounds to 24 or less, so
     * P(v <= 24) = log(28/8) / log(256/8). */
    d = parse("{\"dist\": \"log_uniform\", \"lo\": 8, \"hi\": 256, \"q\": 8}");
    double f[8];
    draw_many(&d, 8, 256, 8, 0, NULL, f);
    int small = 0;
    for (int i = 0; i < N; i++)
        small += ns_dist_draw(&d, &rng) <= 24;
    assert_true(fabs((double)small / N - log(3.5) / log(32)) < 0.01);
    /* A range narrower than the quantum still stays inside the grid points it holds. */
    d = parse("{\"dist\": \"log_uniform\", \"lo\": 9, \"hi\": 30, \"q\": 8}");
    const double two[2] = {16, 24};
    draw_many(&d, 16, 24, 8, 2, two, f);
    d = parse("{\"dist\": \"log_uniform\", \"lo\": 1.5, \"hi\": 3, \"q\": 0.01}");
    draw_many(&d, 1.5, 3, 0.01, 0, NULL, f);
}

static void pow2_and_choice_are_flat(void **state)
{
    (void)state;
    double f[8];
    struct ns_dist d = parse("{\"dist\": \"pow2\", \"lo\": 1, \"hi\": 32}");
    const double p[6] = {1, 2, 4, 8, 16, 32};
    draw_many(&d, 1, 32, 1, 6, p, f);
    expect_flat(f, 6);
    d = parse("{\"dist\": \"pow2\", \"lo\": 3, \"hi\": 40}");
    const double p2[4] = {4, 8, 16, 32};
    draw_many(&d, 4, 32, 4, 4, p2, f);
    expect_flat(f, 4);
    d = parse("{\"dist\": \"pow2\", \"lo\": 3, \"hi\": 40, \"q\": 8}");
    draw_many(&d, 8, 32, 8, 3, p2 + 1, f);
    expect_flat(f, 3);
    d = parse("{\"dist\": \"choice\", \"values\": [1, 0.5, 0.25]}");
    const double c[3] = {1, 0.5, 0.25};
    draw_many(&d, 0.25, 1, 0.25, 3, c, f);
    expect_flat(f, 3);
    d = parse("2.5");
    draw_many(&d, 2.5, 2.5, 0, 1, (const double[]){2.5}, f);
    assert_true(fabs(f[0] - 1.0) < 1e-9);
}

static void multiple_of(void **state)
{
    (void)state;
    struct ns_dist d = parse("{\"dist\": \"log_uniform\", \"lo\": 8, \"hi\": 256, \"q\": 8}");
    assert_true(ns_dist_multiple_of(&d, 8) && ns_dist_multiple_of(&d, 1));
    assert_false(ns_dist_multiple_of(&d, 16));
    d = parse("{\"dist\": \"uniform\", \"lo\": 1, \"hi\": 3, \"q\": 0.5}");
    assert_false(ns_dist_multiple_of(&d, 1));
    d = parse("{\"dist\": \"uniform\", \"lo\": 1, \"hi\": 3}");
    assert_false(ns_dist_multiple_of(&d, 1));
    d = parse("{\"dist\": \"choice\", \"values\": [8, 24]}");
    assert_true(ns_dist_multiple_of(&d, 8));
}

static void expect_error(const char *text, const char *want)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    assert_non_null(j);
    struct ns_dist d;
    ns_err_clear();
    int rc = ns_dist_from_jansson(j, "f.json: params.w0", &d);
    json_decref(j);
    assert_int_equal(rc, -1);
    if (!strstr(ns_errmsg(), want))
        fail_msg("error '%s' does not contain '%s'", ns_errmsg(), want);
}

static void errors_name_the_field(void **state)
{
    (void)state;
    expect_error("{\"dist\": \"gauss\", \"lo\": 1, \"hi\": 2}",
                 "f.json: params.w0.dist: unknown distribution 'gauss'");
    expect_error("{\"lo\": 1, \"hi\": 2}", "f.json: params.w0.dist: missing field");
    expect_error("{\"dist\": \"uniform\", \"lo\": 5, \"hi\": 2}", "f.json: params.w0: lo 5 > hi 2");
    expect_error("{\"dist\": \"uniform\", \"hi\": 2}", "f.json: params.w0.lo: missing field");
    expect_error("{\"dist\": \"uniform\", \"lo\": 2}", "f.json: params.w0.hi: missing field");
    expect_error("{\"dist\": \"uniform\", \"lo\": 1, \"hi\": 2, \"q\": -1}",
                 "f.json: params.w0.q: quantum -1 must be >= 0");
    expect_error("{\"dist\": \"log_uniform\", \"lo\": 0, \"hi\": 2}",
                 "f.json: params.w0.lo: 0 must be > 0 for log_uniform");
    expect_error("{\"dist\": \"uniform\", \"lo\": 3, \"hi\": 5, \"q\": 8}",
                 "f.json: params.w0: no multiple of q 8 in [3, 5]");
    expect_error("{\"dist\": \"pow2\", \"lo\": 5, \"hi\": 7}",
                 "f.json: params.w0: no power of two in [5, 7]");
    expect_error("{\"dist\": \"choice\", \"values\": []}", "f.json: params.w0.values: expected");
    expect_error("{\"dist\": \"choice\"}", "f.json: params.w0.values: missing field");
    expect_error("{\"dist\": \"choice\", \"values\": [1, \"a\"]}",
                 "f.json: params.w0.values[1]: expected a number");
    expect_error("{\"dist\": \"uniform\", \"lo\": 1, \"hi\": 2, \"qq\": 1}",
                 "f.json: params.w0: unknown field 'qq'");
    expect_error("{\"dist\": \"uniform\", \"lo\": \"1\", \"hi\": 2}",
                 "f.json: params.w0.lo: expected a number, got a string");
    expect_error("\"uniform\"", "f.json: params.w0: expected a distribution object or a number");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uniform_on_a_grid_hits_every_point_equally),
        cmocka_unit_test(continuous_uniform),
        cmocka_unit_test(log_uniform_is_flat_in_log),
        cmocka_unit_test(pow2_and_choice_are_flat),
        cmocka_unit_test(multiple_of),
        cmocka_unit_test(errors_name_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
