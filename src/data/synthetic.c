/* The synthetic dataset: a stand-in for real data in tests and quick runs.
 *
 * Each class owns a fixed smooth random pattern per channel (a few Gaussian blobs of both
 * signs plus a sinusoidal grating), drawn on a canvas a little larger than the image. An
 * image of class k is that pattern seen through a window shifted by up to `shift` pixels,
 * with random contrast and brightness and Gaussian pixel noise, rounded to bytes. So no
 * single pixel tells the classes apart (the test checks that), but a small convnet - even
 * a nearest-class-mean classifier - separates them almost perfectly.
 *
 * PCG streams: the patterns come from (seed, PATTERN_STREAM); the images of the train set
 * from (seed, TRAIN_STREAM), those of the test set from (seed, TEST_STREAM). */
#include "data/data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define PATTERN_STREAM 0x9a77e2ull
#define TRAIN_STREAM 0x77a1aull
#define TEST_STREAM 0x7e57ull
#define BLOBS 5
#define BASE 128.0    /* the mid grey the pattern swings around */
#define SWING 80.0    /* pattern amplitude in byte units */
#define NOISE_SD 24.0 /* per-pixel noise, byte units */
#define CONTRAST 0.2  /* contrast factor in [1 - CONTRAST, 1 + CONTRAST] */
#define BRIGHT 16.0   /* brightness offset in [-BRIGHT, BRIGHT] */

static double uniform(struct ns_pcg32 *rng, double lo, double hi)
{
    return lo + (hi - lo) * ns_pcg32_double(rng);
}

/* Largest shift: about a twelfth of the side, at least 1 (2 for 28x28 images). */
static int max_shift(int size)
{
    return size >= 10 ? (size + 5) / 12 : 1;
}

/* patterns: classes x c x canvas x canvas floats with zero mean and max |value| 1. */
static void make_patterns(float *pat, int classes, int c, int size, uint64_t seed)
{
    const int canvas = size + 2 * max_shift(size);
    const double pi = 3.14159265358979323846;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, seed, PATTERN_STREAM);
    for (int p = 0; p < classes * c; p++) {
        float *q = pat + (size_t)p * canvas * canvas;
        double cy[BLOBS], cx[BLOBS], inv2s2[BLOBS], amp[BLOBS];
        for (int b = 0; b < BLOBS; b++) {
            cy[b] = uniform(&rng, 0, canvas);
            cx[b] = uniform(&rng, 0, canvas);
            double s = uniform(&rng, size / 10.0, size / 4.0);
            inv2s2[b] = 1.0 / (2.0 * s * s);
            amp[b] = uniform(&rng, -1, 1);
        }
        double angle = uniform(&rng, 0, pi), cycles = uniform(&rng, 1, 3);
        double phase = uniform(&rng, 0, 2 * pi), gamp = uniform(&rng, 0.2, 0.5);
        double fy = 2 * pi * cycles / size * sin(angle), fx = 2 * pi * cycles / size * cos(angle);
        double sum = 0;
        for (int y = 0; y < canvas; y++)
            for (int x = 0; x < canvas; x++) {
                double v = gamp * sin(fy * y + fx * x + phase);
                for (int b = 0; b < BLOBS; b++) {
                    double dy = y - cy[b], dx = x - cx[b];
                    v += amp[b] * exp(-(dy * dy + dx * dx) * inv2s2[b]);
                }
                q[y * canvas + x] = (float)v;
                sum += v;
            }
        double mean = sum / ((double)canvas * canvas), peak = 1e-9;
        for (int i = 0; i < canvas * canvas; i++) {
            q[i] -= (float)mean;
            peak = fmax(peak, fabs(q[i]));
        }
        for (int i = 0; i < canvas * canvas; i++)
            q[i] = (float)(q[i] / peak);
    }
}

static int make_images(struct ns_dataset *d, int n, int c, int size, int classes, const float *pat,
                       uint64_t seed, uint64_t stream)
{
    if (ns_data_alloc(d, "synthetic", n, size, size, c, classes) < 0)
        return -1;
    const int shift = max_shift(size), canvas = size + 2 * shift;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, seed, stream);
    /* Balanced classes in random order. */
    for (int i = 0; i < n; i++)
        d->y[i] = (uint8_t)(i % classes);
    for (int i = n; i > 1; i--) {
        int j = (int)ns_pcg32_bounded(&rng, (uint32_t)i);
        uint8_t t = d->y[i - 1];
        d->y[i - 1] = d->y[j];
        d->y[j] = t;
    }
    for (int i = 0; i < n; i++) {
        int dy = (int)ns_pcg32_bounded(&rng, 2 * shift + 1);
        int dx = (int)ns_pcg32_bounded(&rng, 2 * shift + 1);
        double swing = SWING * uniform(&rng, 1 - CONTRAST, 1 + CONTRAST);
        double bright = BASE + uniform(&rng, -BRIGHT, BRIGHT);
        uint8_t *img = d->x + (size_t)i * size * size * c;
        for (int k = 0; k < c; k++) {
            const float *q = pat + ((size_t)d->y[i] * c + k) * canvas * canvas;
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++) {
                    double v = bright + swing * q[(y + dy) * canvas + x + dx] +
                               NOISE_SD * ns_pcg32_normal(&rng);
                    v = v < 0 ? 0 : v > 255 ? 255 : v;
                    img[(y * size + x) * c + k] = (uint8_t)lrint(v);
                }
        }
    }
    return 0;
}

static float *new_patterns(int c, int size, int classes, uint64_t seed)
{
    if (c < 1 || c > NS_DATA_MAX_CH || size < 4 || size > 1024 || classes < 2 || classes > 256)
        return ns_err("synthetic: bad shape %dx%dx%d with %d classes (want 1-%d channels, "
                      "size 4-1024, 2-256 classes)",
                      c, size, size, classes, NS_DATA_MAX_CH),
               NULL;
    const size_t canvas = (size_t)size + 2 * (size_t)max_shift(size);
    float *pat = malloc((size_t)classes * c * canvas * canvas * sizeof *pat);
    if (!pat)
        return ns_err("synthetic: out of memory"), NULL;
    make_patterns(pat, classes, c, size, seed);
    return pat;
}

int ns_data_synthetic(struct ns_dataset *d, int n, int c, int size, int classes, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    float *pat = new_patterns(c, size, classes, seed);
    if (!pat)
        return -1;
    int rc = make_images(d, n, c, size, classes, pat, seed, TRAIN_STREAM);
    free(pat);
    return rc;
}

int ns_data_synthetic_pair(struct ns_dataset *train, struct ns_dataset *test, int n_train,
                           int n_test, int c, int size, int classes, uint64_t seed)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    float *pat = new_patterns(c, size, classes, seed);
    if (!pat)
        return -1;
    int rc = make_images(train, n_train, c, size, classes, pat, seed, TRAIN_STREAM);
    if (rc == 0 && make_images(test, n_test, c, size, classes, pat, seed, TEST_STREAM) < 0) {
        ns_data_free(train);
        rc = -1;
    }
    free(pat);
    return rc;
}
