/* Batch assembly: bytes to normalized floats, with random crop and flip. This runs every
 * training step, so it allocates nothing and works a row span at a time, never per pixel.
 *
 * A byte v of channel k becomes fmaf(v, scale[k], bias[k]): one rounding, vectorizable
 * (a 256-entry table lookup is not, and was twice as slow), and the same bits for a given
 * byte whichever path (plain, crop, flip) produced it. */
#include "data/data.h"

#include <math.h>
#include <string.h>

/* Offsets beyond this make no sense for any image; clamping keeps 2p+1 from overflowing. */
#define MAX_PAD 65535
/* scale/bias repeated over a span that every channel count 1-4 divides, so a contiguous
 * run of whole pixels converts in blocks the compiler vectorizes without a modulo. */
#define PERIOD 48

struct norm {
    float scale[PERIOD], bias[PERIOD];
    int single; /* one channel: convert in chunks of VEC rather than PERIOD */
};

/* The conversions below come in two forms that give the same bits: AVX2 + FMA (8 floats at
 * a time, _mm256_fmadd_ps rounds once like fmaf) and a plain C fallback (forced by
 * NS_DATA_NO_SIMD; a test compares the two). Short rows (28 pixels) are the common case,
 * so the vector loops end with one chunk that overlaps the previous one (recomputing a few
 * values) rather than a scalar tail. */
#if defined(__AVX2__) && defined(__FMA__) && !defined(NS_DATA_NO_SIMD)
#include <immintrin.h>
#define VEC 8

static inline __m256 convert8(const uint8_t *src, __m256 scale, __m256 bias)
{
    __m128i b = _mm_loadl_epi64((const __m128i *)src);
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b)), scale, bias);
}
#endif

/* len bytes of whole pixels starting at channel 0. */
static void convert_span(const uint8_t *restrict src, float *restrict out, size_t len,
                         const struct norm *nm)
{
#ifdef VEC
    if (len >= PERIOD || (nm->single && len >= VEC)) {
        /* Chunks of `step` start on pixel boundaries, so scale[t] is channel t % c. */
        const size_t step = nm->single ? VEC : PERIOD;
        for (size_t j = 0;; j += step) {
            if (j + step > len)
                j = len - step;
            for (size_t t = 0; t < step; t += VEC)
                _mm256_storeu_ps(out + j + t, convert8(src + j + t, _mm256_loadu_ps(nm->scale + t),
                                                       _mm256_loadu_ps(nm->bias + t)));
            if (j + step == len)
                return;
        }
    }
#endif
    for (size_t j = 0; j < len; j++)
        out[j] = fmaf((float)src[j], nm->scale[j % PERIOD], nm->bias[j % PERIOD]);
}

/* One channel, mirrored: out[t] = f(src[-t]) for t in [0, len). */
static void convert_mirrored(const uint8_t *restrict src, float *restrict out, int len,
                             const struct norm *nm)
{
#ifdef VEC
    if (len >= VEC) {
        const __m256 sc = _mm256_set1_ps(nm->scale[0]), bi = _mm256_set1_ps(nm->bias[0]);
        const __m256i rev = _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0);
        for (int j = 0;; j += VEC) {
            if (j + VEC > len)
                j = len - VEC;
            /* src[-j-7 .. -j], reversed. */
            __m256 v = convert8(src - j - (VEC - 1), sc, bi);
            _mm256_storeu_ps(out + j, _mm256_permutevar8x32_ps(v, rev));
            if (j + VEC == len)
                return;
        }
    }
#endif
    for (int t = 0; t < len; t++)
        out[t] = fmaf((float)src[-t], nm->scale[0], nm->bias[0]);
}

/* One mirrored row of whole pixels, any channel count: out pixel t = src pixel -t. */
static void convert_mirrored_pixels(const uint8_t *restrict src, float *restrict out, int len,
                                    int c, const struct norm *nm)
{
    if (c == 1) {
        convert_mirrored(src, out, len, nm);
        return;
    }
    for (int t = 0; t < len; t++)
        for (int k = 0; k < c; k++)
            out[t * c + k] = fmaf((float)src[-t * c + k], nm->scale[k], nm->bias[k]);
}

/* [lo, hi): the output coordinates whose source coordinate o + off (or, mirrored,
 * n-1-o + off) falls inside [0, n). Empty (lo >= hi) when the offset misses the image. */
static void valid_range(int n, int off, int mirrored, int *lo, int *hi)
{
    if (mirrored) {
        *lo = off > 0 ? off : 0;
        *hi = off < 0 ? n + off : n;
    } else {
        *lo = off < 0 ? -off : 0;
        *hi = off > 0 ? n - off : n;
    }
}

/* One value of a source pixel with its 4 bilinear neighbours; outside the image a
 * neighbour is padding, 0 after normalization (as in the crop path). */
static void sample_bilinear(const uint8_t *src, int h, int w, int c, const struct norm *nm,
                            float sx, float sy, float *out)
{
    float fx0 = floorf(sx), fy0 = floorf(sy);
    int x0 = (int)fx0, y0 = (int)fy0;
    float ax = sx - fx0, ay = sy - fy0;
    float wt[4] = {(1 - ax) * (1 - ay), ax * (1 - ay), (1 - ax) * ay, ax * ay};
    int px[4] = {x0, x0 + 1, x0, x0 + 1}, py[4] = {y0, y0, y0 + 1, y0 + 1};
    for (int k = 0; k < c; k++)
        out[k] = 0.0f;
    for (int t = 0; t < 4; t++) {
        if (px[t] < 0 || px[t] >= w || py[t] < 0 || py[t] >= h || wt[t] == 0.0f)
            continue;
        const uint8_t *p = src + ((size_t)py[t] * w + px[t]) * c;
        for (int k = 0; k < c; k++)
            out[k] += wt[t] * fmaf((float)p[k], nm->scale[k], nm->bias[k]);
    }
}

/* The geometric path: output pixel centre (u, v), relative to the image centre, reads the
 * source at A (u, v) + t, bilinearly. */
static void warp_image(const uint8_t *src, float *out, int h, int w, int c, const struct norm *nm,
                       const float a[4], float tx, float ty)
{
    for (int oy = 0; oy < h; oy++) {
        float v = (float)oy + 0.5f - 0.5f * (float)h;
        for (int ox = 0; ox < w; ox++) {
            float u = (float)ox + 0.5f - 0.5f * (float)w;
            float sx = a[0] * u + a[1] * v + tx - 0.5f, sy = a[2] * u + a[3] * v + ty - 0.5f;
            sample_bilinear(src, h, w, c, nm, sx, sy, out + ((size_t)oy * w + ox) * c);
        }
    }
}

/* Draw the geometric parameters of one image (after dy, dx, flip) and warp it. Draw order:
 * for rrc, area then log-aspect then box x then box y; then the angle; then the zoom; each
 * one ns_pcg32_float. */
static void augment_geometric(const uint8_t *src, float *out, int h, int w, int c,
                              const struct norm *nm, const struct ns_augment *aug,
                              struct ns_pcg32 *rng, int dy, int dx, int fl)
{
    double bw = w, bh = h, bcx = 0.5 * w, bcy = 0.5 * h;
    if (aug->rrc_scale > 0) {
        double lo = aug->rrc_scale < 1 ? aug->rrc_scale : 1;
        double area = lo + (1 - lo) * ns_pcg32_float(rng);
        double lr = log(3.0 / 4.0) + (log(4.0 / 3.0) - log(3.0 / 4.0)) * ns_pcg32_float(rng);
        double r = exp(lr);
        bw = fmin(w, w * sqrt(area * r));
        bh = fmin(h, h * sqrt(area / r));
        bcx = 0.5 * bw + (w - bw) * ns_pcg32_float(rng);
        bcy = 0.5 * bh + (h - bh) * ns_pcg32_float(rng);
    }
    double th = 0, z = 1;
    if (aug->rotate > 0)
        th = (2.0 * ns_pcg32_float(rng) - 1.0) * aug->rotate * (M_PI / 180.0);
    if (aug->zoom > 0)
        z = 1.0 + (2.0 * ns_pcg32_float(rng) - 1.0) * aug->zoom;
    /* u -> flip -> zoom -> rotate -> into the box -> shift by the crop offset */
    double f = fl ? -1.0 : 1.0, sx = z * bw / w, sy = z * bh / h, co = cos(th), si = sin(th);
    float a[4] = {(float)(sx * co * f), (float)(-sx * si), (float)(sy * si * f), (float)(sy * co)};
    warp_image(src, out, h, w, c, nm, a, (float)(bcx + dx), (float)(bcy + dy));
}

void ns_data_batch(const struct ns_dataset *d, const uint32_t *idx, int n,
                   const struct ns_augment *aug, struct ns_pcg32 *rng, float *x, int32_t *y)
{
    const int h = d->h, w = d->w, c = d->c;
    if (n < 1 || c < 1 || c > NS_DATA_MAX_CH)
        return;
    struct norm nm;
    nm.single = c == 1;
    for (int t = 0; t < PERIOD; t++) {
        double sd = d->std[t % c], mean = d->mean[t % c];
        nm.scale[t] = (float)(1.0 / (255.0 * sd));
        nm.bias[t] = (float)(-mean / sd);
    }

    int pad = aug && aug->crop_pad > 0 ? aug->crop_pad : 0;
    pad = pad > MAX_PAD ? MAX_PAD : pad;
    const int flip = aug && aug->flip;
    const int geometric = aug && (aug->rotate > 0 || aug->zoom > 0 || aug->rrc_scale > 0);
    const size_t row = (size_t)w * c, img = (size_t)h * row;
    for (int i = 0; i < n; i++) {
        const uint8_t *src = d->x + (size_t)idx[i] * img;
        float *out = x + (size_t)i * img;
        y[i] = d->y[idx[i]];
        /* Shuffled images sit far apart, out of the hardware prefetcher's sight: fetch
         * the one after next while this one converts (a third off a 28x28 epoch). */
        if (i + 2 < n) {
            const char *next = (const char *)(d->x + (size_t)idx[i + 2] * img);
            for (size_t off = 0; off < img; off += 64)
                __builtin_prefetch(next + off);
        }
        /* Draw order per image (part of the determinism contract): dy, dx, then the flip. */
        int dy = 0, dx = 0, fl = 0;
        if (pad) {
            dy = (int)ns_pcg32_bounded(rng, 2u * pad + 1) - pad;
            dx = (int)ns_pcg32_bounded(rng, 2u * pad + 1) - pad;
        }
        if (flip)
            fl = (int)(ns_pcg32_next(rng) >> 31);
        if (geometric) {
            augment_geometric(src, out, h, w, c, &nm, aug, rng, dy, dx, fl);
            continue;
        }
        if (!dy && !dx && !fl) {
            convert_span(src, out, img, &nm);
            continue;
        }
        /* Output pixel (oy, ox) reads (oy + dy, (fl ? w-1-ox : ox) + dx); the rest is
         * padding: zero the image once, then convert the rectangle that reads the image. */
        int y0, y1, x0, x1;
        valid_range(h, dy, 0, &y0, &y1);
        valid_range(w, dx, fl, &x0, &x1);
        if (y0 > 0 || y1 < h || x0 > 0 || x1 < w)
            memset(out, 0, img * sizeof *out);
        for (int oy = y0; oy < y1 && x0 < x1; oy++) {
            const uint8_t *s = src + (size_t)(oy + dy) * row;
            float *o = out + (size_t)oy * row + (size_t)x0 * c;
            if (fl)
                convert_mirrored_pixels(s + (size_t)(w - 1 + dx - x0) * c, o, x1 - x0, c, &nm);
            else
                convert_span(s + (size_t)(x0 + dx) * c, o, (size_t)(x1 - x0) * c, &nm);
        }
    }
}
