/* Elementwise math that the compiler can vectorize: glibc's expf is a call per element,
 * which kept the SiLU passes scalar (nf's scaled activation was ~60% of its training step,
 * #12). The loops that call these stay plain C, compiled once for every ISA path, and each
 * element is the same fixed sequence of IEEE operations (explicit fmaf, no libm), so
 * vectorized, scalar-tail and any-width builds all give the same bits. */
#ifndef NS_VMATH_H
#define NS_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* e^x within ~2 ulp for x in [-87.3, 88], x clamped to that range (so the result is a
 * normal float, never 0 or inf); NaN gives NaN (a diverged loss must stay visible). Cephes' expf: x = n ln2 + r, |r| <= ln2/2, e^r by a
 * degree-7 polynomial, 2^n put in the exponent bits. */
static inline float ns_vexpf(float x)
{
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.0f ? 88.0f : x;
    /* round(x log2 e) by the 1.5 * 2^23 trick: exact and branch-free for |v| < 2^22 */
    float n = fmaf(x, 1.44269504088896341f, 12582912.0f) - 12582912.0f;
    float r = fmaf(n, -0.693359375f, x);
    r = fmaf(n, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    p = fmaf(p, r * r, r) + 1.0f;
    /* a NaN x stays NaN through p; its n must not reach the int conversion (undefined) */
    int32_t bits = ((int32_t)(n == n ? n : 0.0f) + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* erf(x) within ~4e-7 absolute (a few ulp), x clamped to [-4, 4] where erf is 1 to float
 * precision: Eigen's rational approximation (odd degree-13 numerator, degree-8 denominator
 * in x), the one XLA uses. No exp, no branches. */
static inline float ns_verff(float x)
{
    x = x < -4.0f ? -4.0f : x;
    x = x > 4.0f ? 4.0f : x;
    const float x2 = x * x;
    float p = -2.72614225801306e-10f;
    p = fmaf(p, x2, 2.77068142495902e-08f);
    p = fmaf(p, x2, -2.10102402082508e-06f);
    p = fmaf(p, x2, -5.69250639462346e-05f);
    p = fmaf(p, x2, -7.34990630326855e-04f);
    p = fmaf(p, x2, -2.95459980854025e-03f);
    p = fmaf(p, x2, -1.60960333262415e-02f);
    float q = -1.45660718464996e-05f;
    q = fmaf(q, x2, -2.13374055278905e-04f);
    q = fmaf(q, x2, -1.68282697438203e-03f);
    q = fmaf(q, x2, -7.37332916720468e-03f);
    q = fmaf(q, x2, -1.42647390514189e-02f);
    return x * p / q;
}

#endif
