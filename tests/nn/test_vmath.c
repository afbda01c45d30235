/* The vectorizable exp and erf of src/nn/vmath.h against libm: within their stated error
 * over the range the activations use, NaN kept (a diverged loss must stay NaN), and the
 * clamps give finite, normal results at the extremes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "nn/vmath.h"

static void exp_is_within_3_ulp_of_libm(void **state)
{
    (void)state;
    double worst = 0;
    for (float x = -87.0f; x <= 87.9f; x += 0.0137f) {
        double want = exp((double)x), got = ns_vexpf(x);
        double rel = fabs(got - want) / want;
        if (rel > worst)
            worst = rel;
    }
    if (worst > 3 * 0x1p-24)
        fail_msg("ns_vexpf: worst relative error %.3g (3 ulp = %.3g)", worst, 3 * 0x1p-24);
}

static void exp_keeps_nan_and_clamps(void **state)
{
    (void)state;
    assert_true(isnan(ns_vexpf(NAN)));
    float lo = ns_vexpf(-1e30f), hi = ns_vexpf(1e30f);
    assert_true(isnormal(lo) && lo > 0 && lo < 2e-38f);
    assert_true(isfinite(hi) && hi > 1e38f);
    assert_true(ns_vexpf(0.0f) == 1.0f);
}

static void erf_is_within_5e_7_of_libm(void **state)
{
    (void)state;
    double worst = 0;
    for (float x = -6.0f; x <= 6.0f; x += 0.00731f) {
        double d = fabs((double)ns_verff(x) - erf((double)x));
        if (d > worst)
            worst = d;
    }
    if (worst > 5e-7)
        fail_msg("ns_verff: worst absolute error %.3g", worst);
    assert_true(isnan(ns_verff(NAN)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exp_is_within_3_ulp_of_libm),
        cmocka_unit_test(exp_keeps_nan_and_clamps),
        cmocka_unit_test(erf_is_within_5e_7_of_libm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
