/* The finite-difference engine of the nn tests (as ggml's test-grad0): a scalar loss
 * L = sum(y * r) for a fixed random r (so dy = r), each checked element perturbed by +-eps
 * and the difference quotient compared with the analytic gradient. Header-only, like
 * nn_check.h: every tests/nn/test_*.c is its own program. Set NS_TEST_VERBOSE to print how
 * much of its tolerance every check used. */
#ifndef NS_TEST_NN_FD_H
#define NS_TEST_NN_FD_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "nn_check.h"
#include "util/pcg32.h"

/* Garbage an overwriting backward must replace. */
#define SENTINEL 12345.0f

/* ---- the finite-difference engine ---------------------------------------------------- */

typedef double (*loss_fn)(void *ctx);

/* L = sum(y * r) in double: terms that the perturbation leaves untouched cancel exactly. */
static inline double project(const float *y, const float *r, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)y[i] * r[i];
    return s;
}

/* (L(v+eps) - L(v-eps)) / (the step actually taken) for element i of v. */
static inline double fd_at(loss_fn f, void *ctx, float *v, size_t i, double eps)
{
    float v0 = v[i];
    v[i] = (float)(v0 + eps);
    float hp = v[i];
    double lp = f(ctx);
    v[i] = (float)(v0 - eps);
    float hm = v[i];
    double lm = f(ctx);
    v[i] = v0;
    return (lp - lm) / ((double)hp - (double)hm);
}

/* Compare grad[i] (the analytic dL/dv[i]) with central differences for every element of
 * v, or for max_checks of them (the first, the last and random others) when v is larger.
 * An element passes when |fd - grad| <= atol + rtol * max(|fd|, |grad|). Returns the
 * number of failures; the first few are printed unless quiet. */
static inline int fd_check(const char *what, loss_fn f, void *ctx, float *v, size_t n, const float *grad,
                    double eps, size_t max_checks, double atol, double rtol, int quiet)
{
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 0xfdu + n, 7u);
    size_t checks = n <= max_checks ? n : max_checks;
    int bad = 0;
    double worst = 0;
    for (size_t k = 0; k < checks; k++) {
        size_t i = n <= max_checks ? k
                   : k == 0        ? 0
                   : k == 1        ? n - 1
                                   : (size_t)ns_pcg32_bounded(&rng, (uint32_t)n);
        double fd = fd_at(f, ctx, v, i, eps);
        double err = fabs(fd - grad[i]);
        double tol = atol + rtol * fmax(fabs(fd), fabs(grad[i]));
        if (err / tol > worst)
            worst = err / tol;
        if (!(err <= tol)) {
            if (!quiet && bad < 5)
                fprintf(stderr,
                        "%s: element %zu: analytic %.7g, finite difference %.7g "
                        "(|diff| %.3g > tol %.3g)\n",
                        what, i, grad[i], fd, err, tol);
            bad++;
        }
    }
    if (getenv("NS_TEST_VERBOSE"))
        fprintf(stderr, "  %-44s %4zu checked, worst err/tol %.3f\n", what, checks, worst);
    if (bad && !quiet)
        fprintf(stderr, "%s: %d of %zu elements wrong\n", what, bad, checks);
    return bad;
}

/* a - b elementwise: the amount a backward added to pre-filled gradients. */
static inline float *diff(const float *a, const float *b, size_t n)
{
    float *d = nn_floats(n);
    for (size_t i = 0; i < n; i++)
        d[i] = a[i] - b[i];
    return d;
}

/* Tolerances. Central differences of float32 ops with eps 1e-2 on O(1) data are good to
 * about 1e-4 relative; 3e-3 leaves a wide margin and still catches a gradient off by 1%. */
#define FD_ATOL 3e-3
#define FD_RTOL 3e-3

#endif
