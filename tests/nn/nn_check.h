/* Helpers shared by the nn tests: allocation that fails the test instead of crashing,
 * random fills from PCG, and a tensor comparison that names the tensor and the worst
 * element when it fails. Header-only because every tests/nn/test_*.c is its own program. */
#ifndef NS_TEST_NN_CHECK_H
#define NS_TEST_NN_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/kern.h"
#include "util/pcg32.h"

/* Exit code 77 (ctest: skipped) for a run that forces the AVX-512 path (NS_ISA=avx512, the
 * *_avx512 variants in tests/CMakeLists.txt) on a CPU without it, saying so; else 0. */
static inline int nn_isa_skip(void)
{
    const char *isa = getenv("NS_ISA");
    if (isa && !strcmp(isa, "avx512") && !ns_kern_has_avx512()) {
        printf("skipped: NS_ISA=avx512 but this CPU lacks AVX-512 (F, BW, DQ, VL)\n");
        return 77;
    }
    return 0;
}

/* n floats, zeroed; exact size, so the sanitizer build catches any op reading past it. */
static inline float *nn_floats(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory (%zu floats)\n", n);
        abort();
    }
    return p;
}

static inline void nn_uniform(struct ns_pcg32 *rng, float *a, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        a[i] = lo + (hi - lo) * ns_pcg32_float(rng);
}

static inline void nn_fill(float *a, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        a[i] = v;
}

/* True when max |got - want| <= atol + rtol * max |want| (a tolerance relative to the
 * tensor's scale, so one small element does not demand an impossible relative match).
 * On failure prints the tensor name, the worst element and both scales; with the
 * environment variable NS_TEST_VERBOSE set, also how much of the tolerance every check
 * used. */
static inline int nn_close(const char *name, const float *got, const float *want, size_t n,
                           double atol, double rtol)
{
    double scale = 0, worst = -1;
    size_t wi = 0;
    int nonfinite = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(want[i]) > scale)
            scale = fabs(want[i]);
        if (!isfinite(got[i]))
            nonfinite = 1;
        double e = fabs((double)got[i] - want[i]);
        if (!(e <= worst)) {
            worst = e;
            wi = i;
        }
    }
    double tol = atol + rtol * scale;
    if (getenv("NS_TEST_VERBOSE"))
        fprintf(stderr, "  %-60s err/tol %.3f\n", name, worst / tol);
    if (!nonfinite && worst <= tol)
        return 1;
    fprintf(stderr,
            "%s: mismatch: max |got-want| = %.3g at [%zu] (got %.7g, want %.7g), "
            "tolerance %.3g (atol %.1g + rtol %.1g * max|want| %.4g), %zu elements\n",
            name, worst, wi, n ? got[wi] : 0.0, n ? want[wi] : 0.0, tol, atol, rtol, scale, n);
    return 0;
}

/* Same with a double-precision reference. */
static inline int nn_close_d(const char *name, const float *got, const double *want, size_t n,
                             double atol, double rtol)
{
    float *w = nn_floats(n);
    for (size_t i = 0; i < n; i++)
        w[i] = (float)want[i];
    /* compare against the float rounding of the reference: well inside any tolerance */
    int ok = nn_close(name, got, w, n, atol, rtol);
    free(w);
    return ok;
}

#endif
