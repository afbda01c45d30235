/* Whole-dataset operations: allocation, validation split, normalization statistics,
 * truncation and freeing. */
#include "data/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util/err.h"

/* The PCG stream of ns_data_split, so a split seed never replays the stream that
 * shuffling or augmentation draw from the same seed. */
#define SPLIT_STREAM 0x5b117ull

void ns_data_adopt(struct ns_dataset *d, const char *name, int n, int h, int w, int c, int classes,
                   uint8_t *x, uint8_t *y)
{
    snprintf(d->name, sizeof d->name, "%s", name);
    d->n = n;
    d->h = h;
    d->w = w;
    d->c = c;
    d->classes = classes;
    d->x = x;
    d->y = y;
    for (int k = 0; k < NS_DATA_MAX_CH; k++) {
        d->mean[k] = 0.0f;
        d->std[k] = 1.0f;
    }
}

int ns_data_alloc(struct ns_dataset *d, const char *name, int n, int h, int w, int c, int classes)
{
    memset(d, 0, sizeof *d);
    if (n < 1 || h < 1 || w < 1 || c < 1 || c > NS_DATA_MAX_CH || classes < 1 || classes > 256)
        return ns_err("%s: bad shape: %d images of %dx%dx%d, %d classes", name, n, h, w, c,
                      classes);
    size_t img = (size_t)h * w * c;
    if (img > SIZE_MAX / (size_t)n)
        return ns_err("%s: %d images of %zu bytes do not fit in memory", name, n, img);
    uint8_t *x = calloc((size_t)n * img, 1), *y = calloc((size_t)n, 1);
    if (!x || !y) {
        free(x);
        free(y);
        return ns_err("%s: out of memory for %d images of %zu bytes", name, n, img);
    }
    ns_data_adopt(d, name, n, h, w, c, classes, x, y);
    return 0;
}

void ns_data_free(struct ns_dataset *d)
{
    if (!d)
        return;
    if (d->map) {
        munmap(d->map, d->map_len);
    } else {
        free(d->x);
        free(d->y);
    }
    memset(d, 0, sizeof *d);
    for (int k = 0; k < NS_DATA_MAX_CH; k++)
        d->std[k] = 1.0f;
}

void ns_data_truncate(struct ns_dataset *d, int n)
{
    if (n >= 0 && n < d->n)
        d->n = n;
}

/* A mapped (read-only) set becomes a private copy, so it can be compacted in place. */
static int unshare(struct ns_dataset *d)
{
    if (!d->map)
        return 0;
    const size_t img = (size_t)d->h * d->w * d->c;
    uint8_t *x = malloc((size_t)d->n * img + 1), *y = malloc((size_t)d->n + 1);
    if (!x || !y) {
        free(x);
        free(y);
        return ns_err("%s: out of memory for the split", d->name);
    }
    memcpy(x, d->x, (size_t)d->n * img);
    memcpy(y, d->y, (size_t)d->n);
    munmap(d->map, d->map_len);
    d->map = NULL;
    d->map_len = 0;
    d->x = x;
    d->y = y;
    return 0;
}

int ns_data_split(struct ns_dataset *train, struct ns_dataset *val, double frac, uint64_t seed)
{
    memset(val, 0, sizeof *val);
    const int n = train->n;
    if (!(frac > 0.0 && frac < 1.0))
        return ns_err("%s: validation fraction %g is not in (0, 1)", train->name, frac);
    long n_val = lround(frac * n);
    if (n_val < 1 || n_val >= n)
        return ns_err("%s: a validation fraction %g of %d images leaves an empty set", train->name,
                      frac, n);
    if (unshare(train) < 0)
        return -1;
    uint32_t *perm = malloc((size_t)n * sizeof *perm);
    if (!perm)
        return ns_err("%s: out of memory for the split", train->name);
    if (ns_data_alloc(val, train->name, (int)n_val, train->h, train->w, train->c, train->classes) <
        0) {
        free(perm);
        return -1;
    }
    /* A partial Fisher-Yates picks the validation images; both parts then keep the
     * original order, so the split depends only on (n, frac, seed). */
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, seed, SPLIT_STREAM);
    for (int i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    for (long i = 0; i < n_val; i++) {
        uint32_t j = (uint32_t)i + ns_pcg32_bounded(&rng, (uint32_t)(n - i));
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    uint8_t *mask = calloc((size_t)n, 1);
    if (!mask) {
        free(perm);
        ns_data_free(val);
        return ns_err("%s: out of memory for the split", train->name);
    }
    for (long i = 0; i < n_val; i++)
        mask[perm[i]] = 1;
    free(perm);

    const size_t img = (size_t)train->h * train->w * train->c;
    int kept = 0, moved = 0;
    for (int i = 0; i < n; i++) {
        const uint8_t *src = train->x + (size_t)i * img;
        if (mask[i]) {
            memcpy(val->x + (size_t)moved * img, src, img);
            val->y[moved++] = train->y[i];
        } else {
            if (kept != i) /* compaction in place: kept <= i, so src is never overwritten */
                memcpy(train->x + (size_t)kept * img, src, img);
            train->y[kept++] = train->y[i];
        }
    }
    free(mask);
    train->n = kept;
    /* Give the tail back; failing to shrink only wastes memory. */
    uint8_t *nx = realloc(train->x, (size_t)kept * img);
    if (nx)
        train->x = nx;
    memcpy(val->mean, train->mean, sizeof val->mean);
    memcpy(val->std, train->std, sizeof val->std);
    return 0;
}

void ns_data_normalize(struct ns_dataset *d, struct ns_dataset *other)
{
    const int c = d->c;
    if (d->n < 1 || c < 1 || c > NS_DATA_MAX_CH)
        return;
    /* A byte histogram per channel: exact sums and independent of summation order. */
    uint64_t hist[NS_DATA_MAX_CH][256];
    memset(hist, 0, sizeof hist);
    const size_t pixels = (size_t)d->n * d->h * d->w;
    const uint8_t *x = d->x;
    if (c == 1) {
        for (size_t i = 0; i < pixels; i++)
            hist[0][x[i]]++;
    } else {
        for (size_t i = 0; i < pixels; i++)
            for (int k = 0; k < c; k++)
                hist[k][x[i * c + k]]++;
    }
    for (int k = 0; k < c; k++) {
        double sum = 0;
        for (int v = 0; v < 256; v++)
            sum += (double)hist[k][v] * v;
        double mean = sum / (255.0 * (double)pixels), var = 0;
        for (int v = 0; v < 256; v++) {
            double dv = v / 255.0 - mean;
            var += (double)hist[k][v] * dv * dv;
        }
        double sd = sqrt(var / (double)pixels);
        /* A constant channel carries no information; leave its scale alone. */
        d->mean[k] = (float)mean;
        d->std[k] = sd > 1e-6 ? (float)sd : 1.0f;
    }
    if (other) {
        memcpy(other->mean, d->mean, sizeof d->mean);
        memcpy(other->std, d->std, sizeof d->std);
    }
}
