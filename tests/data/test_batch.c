/* Batch assembly: normalized values without augmentation, hand-worked crops and flips
 * (padding is 0 after normalization), agreement with the documented definition for many
 * random draws and several channels (bit for bit with the plain conversion), determinism,
 * and speed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/data.h"

static double norm(const struct ns_dataset *d, uint8_t v, int k)
{
    return (v / 255.0 - (double)d->mean[k]) / (double)d->std[k];
}

/* The documented accuracy: the exact formula to within about 1e-6. */
static void assert_close(float got, double want)
{
    if (!(fabs(got - want) <= 1e-6 * (1 + fabs(want))))
        fail_msg("got %.9g, want %.9g", got, want);
}

/* The plain (unaugmented) conversion of every image of d, NHWC floats; caller frees. */
static float *plain_images(const struct ns_dataset *d)
{
    const size_t img = (size_t)d->h * d->w * d->c;
    float *x = malloc(sizeof(float) * img * d->n);
    uint32_t *idx = malloc(sizeof(uint32_t) * d->n);
    int32_t *y = malloc(sizeof(int32_t) * d->n);
    assert_true(x && idx && y);
    for (int i = 0; i < d->n; i++)
        idx[i] = (uint32_t)i;
    ns_data_batch(d, idx, d->n, NULL, NULL, x, y);
    free(idx);
    free(y);
    return x;
}

/* n images h x w x c with distinct-ish bytes, labels i % classes, nontrivial statistics. */
static void make(struct ns_dataset *d, int n, int h, int w, int c)
{
    assert_int_equal(ns_data_alloc(d, "t", n, h, w, c, 10), 0);
    for (size_t j = 0; j < (size_t)n * h * w * c; j++)
        d->x[j] = (uint8_t)(j * 7 + j / 13);
    for (int i = 0; i < n; i++)
        d->y[i] = (uint8_t)(i % 10);
    for (int k = 0; k < c; k++) {
        d->mean[k] = 0.3f + 0.1f * k;
        d->std[k] = 0.2f + 0.05f * k;
    }
}

static void no_augmentation_gives_normalized_values(void **state)
{
    (void)state;
    struct ns_dataset d;
    make(&d, 4, 3, 5, 2);
    const uint32_t idx[3] = {2, 0, 2};
    float x[3 * 30];
    int32_t y[3];
    const struct ns_augment off = {.crop_pad = 0, .flip = 0};
    for (int pass = 0; pass < 2; pass++) {
        memset(x, 0xff, sizeof x);
        ns_data_batch(&d, idx, 3, pass ? &off : NULL, NULL, x, y);
        for (int i = 0; i < 3; i++) {
            assert_int_equal(y[i], idx[i] % 10);
            for (int j = 0; j < 30; j++)
                assert_close(x[i * 30 + j], norm(&d, d.x[idx[i] * 30 + j], j % 2));
        }
    }
    ns_data_free(&d);
}

/* The first image's draws for crop_pad 1 / flip: find a seed giving the wanted ones. */
static struct ns_pcg32 seed_for(int want_dy, int want_dx, int want_flip)
{
    for (uint64_t s = 0;; s++) {
        struct ns_pcg32 r, c;
        ns_pcg32_seed(&r, s, 1);
        c = r;
        int dy = (int)ns_pcg32_bounded(&c, 3) - 1, dx = (int)ns_pcg32_bounded(&c, 3) - 1;
        int fl = (int)(ns_pcg32_next(&c) >> 31);
        if (dy == want_dy && dx == want_dx && fl == want_flip)
            return r;
    }
}

static void hand_worked_crop_and_flip(void **state)
{
    (void)state;
    /* One 3x3 image 1..9; mean and std such that every real pixel is far from 0. */
    struct ns_dataset d;
    assert_int_equal(ns_data_alloc(&d, "t", 1, 3, 3, 1, 10), 0);
    for (int j = 0; j < 9; j++)
        d.x[j] = (uint8_t)(j + 1);
    d.mean[0] = 0.5f;
    d.std[0] = 0.25f;
    const uint32_t idx[1] = {0};
    const struct ns_augment aug = {.crop_pad = 1, .flip = 1};
    float x[9];
    int32_t y;
    float p[10];
    ns_data_batch(&d, idx, 1, NULL, NULL, x, &y);
    for (int v = 1; v <= 9; v++) {
        p[v] = x[v - 1];
        assert_close(p[v], (v / 255.0 - 0.5) / 0.25);
    }
    p[0] = 0.0f; /* padding */

    /* dy = +1, dx = -1, no flip: out(oy, ox) = in(oy + 1, ox - 1). */
    struct ns_pcg32 rng = seed_for(1, -1, 0);
    ns_data_batch(&d, idx, 1, &aug, &rng, x, &y);
    const int want1[9] = {0, 4, 5, 0, 7, 8, 0, 0, 0};
    for (int j = 0; j < 9; j++)
        assert_true(x[j] == p[want1[j]]);

    /* dy = 0, dx = +1, flip: out(oy, ox) = in(oy, 2 - ox + 1). */
    rng = seed_for(0, 1, 1);
    ns_data_batch(&d, idx, 1, &aug, &rng, x, &y);
    const int want2[9] = {0, 3, 2, 0, 6, 5, 0, 9, 8};
    for (int j = 0; j < 9; j++)
        assert_true(x[j] == p[want2[j]]);

    /* dy = -1, dx = 0, flip: a mirror pushed down a row. */
    rng = seed_for(-1, 0, 1);
    ns_data_batch(&d, idx, 1, &aug, &rng, x, &y);
    const int want3[9] = {0, 0, 0, 3, 2, 1, 6, 5, 4};
    for (int j = 0; j < 9; j++)
        assert_true(x[j] == p[want3[j]]);
    ns_data_free(&d);
}

/* Compare a whole augmented batch with the header's definition, replaying the draws: each
 * pixel is padding (0) or, bit for bit, the plain conversion of its source pixel. */
static void check_against_definition(const struct ns_dataset *d, const uint32_t *idx, int n,
                                     const struct ns_augment *aug, struct ns_pcg32 rng,
                                     const float *x, int *flips, int *offsets)
{
    const int h = d->h, w = d->w, c = d->c, p = aug->crop_pad;
    float *plain = plain_images(d);
    for (int i = 0; i < n; i++) {
        int dy = 0, dx = 0, fl = 0;
        if (p) {
            dy = (int)ns_pcg32_bounded(&rng, 2 * p + 1) - p;
            dx = (int)ns_pcg32_bounded(&rng, 2 * p + 1) - p;
            offsets[(dy + p) * (2 * p + 1) + dx + p]++;
        }
        if (aug->flip)
            fl = (int)(ns_pcg32_next(&rng) >> 31);
        *flips += fl;
        for (int oy = 0; oy < h; oy++)
            for (int ox = 0; ox < w; ox++)
                for (int k = 0; k < c; k++) {
                    int sy = oy + dy, sx = (fl ? w - 1 - ox : ox) + dx;
                    float want = 0.0f;
                    if (sy >= 0 && sy < h && sx >= 0 && sx < w)
                        want = plain[(((size_t)idx[i] * h + sy) * w + sx) * c + k];
                    assert_true(x[(((size_t)i * h + oy) * w + ox) * c + k] == want);
                }
    }
    free(plain);
}

static void flip_only_mirrors_about_half(void **state)
{
    (void)state;
    struct ns_dataset d;
    make(&d, 5, 4, 6, 1);
    enum { N = 200 };
    uint32_t idx[N];
    for (int i = 0; i < N; i++)
        idx[i] = (uint32_t)(i * 3 % 5);
    float *x = malloc(sizeof(float) * N * 24);
    int32_t y[N];
    assert_non_null(x);
    const struct ns_augment aug = {.crop_pad = 0, .flip = 1};
    struct ns_pcg32 rng, start;
    ns_pcg32_seed(&rng, 9, 2);
    start = rng;
    ns_data_batch(&d, idx, N, &aug, &rng, x, y);
    int flips = 0, offsets[1];
    check_against_definition(&d, idx, N, &aug, start, x, &flips, offsets);
    assert_true(flips > 70 && flips < 130);
    /* One draw per image, no more. */
    for (int i = 0; i < N; i++)
        ns_pcg32_next(&start);
    assert_true(start.state == rng.state);
    free(x);
    ns_data_free(&d);
}

static void crop_and_flip_multichannel(void **state)
{
    (void)state;
    struct ns_dataset d;
    make(&d, 7, 5, 6, 3);
    enum { N = 300, IMG = 5 * 6 * 3 };
    uint32_t idx[N];
    for (int i = 0; i < N; i++)
        idx[i] = (uint32_t)(i % 7);
    float *x = malloc(sizeof(float) * N * IMG);
    int32_t y[N];
    assert_non_null(x);
    const struct ns_augment aug = {.crop_pad = 2, .flip = 1};
    struct ns_pcg32 rng, start;
    ns_pcg32_seed(&rng, 123, 4);
    start = rng;
    ns_data_batch(&d, idx, N, &aug, &rng, x, y);
    int flips = 0, offsets[25] = {0};
    check_against_definition(&d, idx, N, &aug, start, x, &flips, offsets);
    for (int o = 0; o < 25; o++)
        assert_true(offsets[o] > 0); /* every offset in [-2, 2]^2 happens */
    assert_true(flips > 100 && flips < 200);
    for (int i = 0; i < N; i++)
        assert_int_equal(y[i], idx[i] % 10);
    free(x);
    ns_data_free(&d);
}

static void padding_wider_than_the_image(void **state)
{
    (void)state;
    struct ns_dataset d;
    make(&d, 2, 3, 3, 1);
    enum { N = 100 };
    uint32_t idx[N] = {0};
    float x[N * 9];
    int32_t y[N];
    const struct ns_augment aug = {.crop_pad = 5, .flip = 1};
    struct ns_pcg32 rng, start;
    ns_pcg32_seed(&rng, 1, 1);
    start = rng;
    ns_data_batch(&d, idx, N, &aug, &rng, x, y);
    int flips = 0, offsets[121] = {0}, blank = 0;
    check_against_definition(&d, idx, N, &aug, start, x, &flips, offsets);
    for (int i = 0; i < N; i++) {
        int zero = 0;
        for (int j = 0; j < 9; j++)
            zero += x[i * 9 + j] == 0.0f;
        blank += zero == 9;
    }
    assert_true(blank > N / 2); /* most offsets miss a 3x3 image entirely */
    ns_data_free(&d);
}

static void deterministic_for_a_seed(void **state)
{
    (void)state;
    struct ns_dataset d;
    make(&d, 16, 8, 8, 1);
    uint32_t idx[16];
    for (int i = 0; i < 16; i++)
        idx[i] = (uint32_t)(15 - i);
    float a[16 * 64], b[16 * 64], c[16 * 64];
    int32_t y[16];
    const struct ns_augment aug = {.crop_pad = 2, .flip = 1};
    struct ns_pcg32 r1, r2, r3;
    ns_pcg32_seed(&r1, 77, 0);
    ns_pcg32_seed(&r2, 77, 0);
    ns_pcg32_seed(&r3, 78, 0);
    ns_data_batch(&d, idx, 16, &aug, &r1, a, y);
    ns_data_batch(&d, idx, 16, &aug, &r2, b, y);
    ns_data_batch(&d, idx, 16, &aug, &r3, c, y);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
    ns_data_free(&d);
}

/* CPU time, not wall time: the test machine is shared. */
static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* One Fashion-MNIST-sized epoch (60,000 28x28 images, batches of 128) with and without
 * augmentation. The budget is well under 0.1 s; the bound here only catches a gross
 * regression, and is checked in optimized builds only. */
static void an_epoch_is_fast(void **state)
{
    (void)state;
    struct ns_dataset d;
    make(&d, 60000, 28, 28, 1);
    uint32_t *perm = malloc(60000 * sizeof *perm);
    float *x = malloc(128 * 784 * sizeof *x);
    int32_t y[128];
    assert_non_null(perm);
    assert_non_null(x);
    for (uint32_t i = 0; i < 60000; i++)
        perm[i] = i;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 3, 3);
    ns_pcg32_shuffle(&rng, perm, 60000);
    const struct ns_augment aug = {.crop_pad = 2, .flip = 1};
    double secs[2] = {1e9, 1e9};
    for (int rep = 0; rep < 2; rep++) /* the best of two: the first pays for page faults */
        for (int a = 0; a < 2; a++) {
            double t0 = cpu_seconds();
            for (int s = 0; s + 128 <= 60000; s += 128)
                ns_data_batch(&d, perm + s, 128, a ? &aug : NULL, &rng, x, y);
            double t = cpu_seconds() - t0;
            secs[a] = t < secs[a] ? t : secs[a];
        }
    print_message("epoch of batches: %.1f ms plain, %.1f ms with crop and flip\n", 1e3 * secs[0],
                  1e3 * secs[1]);
#ifdef NDEBUG
    assert_true(secs[0] < 0.3 && secs[1] < 0.3);
#endif
    free(perm);
    free(x);
    ns_data_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_augmentation_gives_normalized_values),
        cmocka_unit_test(hand_worked_crop_and_flip),
        cmocka_unit_test(flip_only_mirrors_about_half),
        cmocka_unit_test(crop_and_flip_multichannel),
        cmocka_unit_test(padding_wider_than_the_image),
        cmocka_unit_test(deterministic_for_a_seed),
        cmocka_unit_test(an_epoch_is_fast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
