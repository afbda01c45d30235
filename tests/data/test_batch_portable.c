/* The portable (plain C) build of batch.c must give the same bits as the vectorized one the
 * library uses, on every path: plain, cropped, flipped, one and three channels, rows shorter
 * and longer than a vector. Compiles batch.c a second time with NS_DATA_NO_SIMD. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#define NS_DATA_NO_SIMD
#define ns_data_batch ns_data_batch_portable
#include "../../src/data/batch.c"
#undef ns_data_batch

/* The library's build (data.h above declared only the renamed one). */
void ns_data_batch(const struct ns_dataset *d, const uint32_t *idx, int n,
                   const struct ns_augment *aug, struct ns_pcg32 *rng, float *x, int32_t *y);

static void same_bits(int h, int w, int c, int pad, int flip)
{
    struct ns_dataset d;
    assert_int_equal(ns_data_alloc(&d, "t", 9, h, w, c, 10), 0);
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, (uint64_t)(h * 1000 + w * 10 + c), 1);
    for (size_t j = 0; j < (size_t)9 * h * w * c; j++)
        d.x[j] = (uint8_t)ns_pcg32_next(&rng);
    for (int k = 0; k < c; k++) {
        d.mean[k] = 0.2f + 0.1f * k;
        d.std[k] = 0.3f - 0.05f * k;
    }
    enum { N = 64 };
    uint32_t idx[N];
    for (int i = 0; i < N; i++)
        idx[i] = (uint32_t)(i * 5 % 9);
    const size_t len = (size_t)N * h * w * c;
    float *a = malloc(len * sizeof *a), *b = malloc(len * sizeof *b);
    int32_t ya[N], yb[N];
    assert_true(a && b);
    const struct ns_augment aug = {.crop_pad = pad, .flip = flip};
    struct ns_pcg32 r1, r2;
    ns_pcg32_seed(&r1, 4, 4);
    r2 = r1;
    ns_data_batch(&d, idx, N, &aug, &r1, a, ya);
    ns_data_batch_portable(&d, idx, N, &aug, &r2, b, yb);
    assert_memory_equal(a, b, len * sizeof *a);
    assert_memory_equal(ya, yb, sizeof ya);
    free(a);
    free(b);
    ns_data_free(&d);
}

static void portable_and_vector_agree(void **state)
{
    (void)state;
    const int shapes[][3] = {{28, 28, 1}, {32, 32, 3}, {5, 7, 1}, {6, 9, 2}, {4, 20, 4}, {3, 3, 3}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int pad = 0; pad <= 3; pad += 3)
            for (int flip = 0; flip <= 1; flip++)
                same_bits(shapes[s][0], shapes[s][1], shapes[s][2], pad, flip);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(portable_and_vector_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
