/* The core's GEMM kernels (src/nn/kern.h) on both instruction-set paths against a plain
 * double-precision product: every transpose mode the convs use, beta 0 and 1, shapes with
 * row and column tails (masked vectors) and k past one NS_GEMM_KC block; and the two paths
 * bit for bit against each other (each C element is the same FMA sequence). The AVX-512
 * path is skipped, saying so, on a CPU without it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "nn_check.h"

/* A (m x k) as stored with row stride lda when !ta, or its transpose (k x m) when ta. */
static void check_path(const struct ns_kernels *kn, const struct ns_kernels *other)
{
    static const int shapes[][3] = {{1, 1, 1},   {7, 5, 3},     {6, 16, 9},   {13, 33, 17},
                                    {25, 64, 32}, {9, 10, 300}, {40, 128, 600}, {3, 47, 513}};
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 12, 34);
    int checked = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int beta = 0; beta < 2; beta++) {
                int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                int lda = (ta ? m : k) + 3, ldb = n + 5, ldc = n + 2;
                float *a = nn_floats((size_t)(ta ? k : m) * lda);
                float *b = nn_floats((size_t)k * ldb);
                float *c = nn_floats((size_t)m * ldc), *c2 = nn_floats((size_t)m * ldc);
                nn_uniform(&rng, a, (size_t)(ta ? k : m) * lda, -1, 1);
                nn_uniform(&rng, b, (size_t)k * ldb, -1, 1);
                nn_uniform(&rng, c, (size_t)m * ldc, -1, 1);
                memcpy(c2, c, sizeof(float) * m * ldc);
                long ars = ta ? 1 : lda, acs = ta ? lda : 1;
                kn->gemm(m, n, k, a, ars, acs, b, ldb, beta, c, ldc);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < ldc; j++) {
                        float got = c[(size_t)i * ldc + j];
                        if (j >= n) { /* padding between rows is never written */
                            if (got != c2[(size_t)i * ldc + j])
                                fail_msg("%s: wrote C(%d, %d) past n = %d", kn->name, i, j, n);
                            continue;
                        }
                        double want = beta ? c2[(size_t)i * ldc + j] : 0.0, mag = fabs(want);
                        for (int p = 0; p < k; p++) {
                            double t = (double)a[i * ars + p * acs] * b[(size_t)p * ldb + j];
                            want += t;
                            mag += fabs(t);
                        }
                        if (fabs(got - want) > 1e-6 * mag + 1e-7)
                            fail_msg("%s: m %d n %d k %d ta %d beta %d: C(%d, %d) = %g, want %g",
                                     kn->name, m, n, k, ta, beta, i, j, got, want);
                    }
                if (other) {
                    other->gemm(m, n, k, a, ars, acs, b, ldb, beta, c2, ldc);
                    if (memcmp(c, c2, sizeof(float) * m * ldc))
                        fail_msg("m %d n %d k %d ta %d beta %d: %s and %s differ", m, n, k, ta,
                                 beta, kn->name, other->name);
                }
                free(a);
                free(b);
                free(c);
                free(c2);
                checked++;
            }
    assert_int_equal(checked, 32);
}

static void avx2_gemm_matches_a_plain_product(void **state)
{
    (void)state;
    check_path(&ns_kernels_avx2, NULL);
}

static void avx512_gemm_matches_and_equals_avx2_bit_for_bit(void **state)
{
    (void)state;
    if (!ns_kern_has_avx512())
        skip(); /* cmocka prints it as skipped */
    check_path(&ns_kernels_avx512, &ns_kernels_avx2);
}

static void ns_isa_forces_a_path(void **state)
{
    (void)state;
    /* the table in use is one of the two, and the one NS_ISA names when it names one */
    const struct ns_kernels *k = ns_kern();
    assert_true(k == &ns_kernels_avx2 || k == &ns_kernels_avx512);
    const char *isa = getenv("NS_ISA");
    if (isa && !strcmp(isa, "avx2"))
        assert_ptr_equal(k, &ns_kernels_avx2);
    if (!isa && !ns_kern_has_avx512())
        assert_ptr_equal(k, &ns_kernels_avx2);
    if (!isa && ns_kern_has_avx512())
        assert_ptr_equal(k, &ns_kernels_avx512);
}

int main(void)
{
    if (nn_isa_skip())
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(avx2_gemm_matches_a_plain_product),
        cmocka_unit_test(avx512_gemm_matches_and_equals_avx2_bit_for_bit),
        cmocka_unit_test(ns_isa_forces_a_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
