/* Image decoding, resampling (src/data/image.c) and the geometric augmentation of
 * ns_data_batch (rotate, zoom, random-resized crop). Images are encoded here with libpng's
 * and libjpeg's own writers, so every colour type is covered without fixture files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jpeglib.h>
#include <math.h>
#include <png.h>

#include "data/data.h"
#include "data/image.h"
#include "util/err.h"

/* A PNG of w x h pixels in libpng's `format` from `px`; malloc'd, *len set. */
static uint8_t *png_encode(const uint8_t *px, int w, int h, png_uint_32 format,
                           const uint8_t *colormap, int entries, size_t *len)
{
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = (png_uint_32)w;
    pi.height = (png_uint_32)h;
    pi.format = format;
    pi.colormap_entries = (png_uint_32)entries;
    png_alloc_size_t n = 0;
    assert_true(png_image_write_to_memory(&pi, NULL, &n, 0, px, 0, colormap));
    uint8_t *buf = malloc(n);
    assert_true(png_image_write_to_memory(&pi, buf, &n, 0, px, 0, colormap));
    *len = n;
    return buf;
}

/* A JPEG of w x h pixels with `comps` components in colour space `cs`, quality 100. */
static uint8_t *jpeg_encode(const uint8_t *px, int w, int h, int comps, J_COLOR_SPACE cs,
                            size_t *len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    unsigned char *buf = NULL;
    unsigned long n = 0;
    jpeg_mem_dest(&c, &buf, &n);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = cs;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w * comps);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *len = n;
    return buf;
}

static void pattern(uint8_t *px, int w, int h, int c)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                px[((size_t)y * w + x) * c + k] = (uint8_t)(x * 7 + y * 13 + k * 50);
}

static void png_gray_and_rgb_are_exact(void **state)
{
    (void)state;
    enum { W = 13, H = 9 };
    uint8_t g[W * H], rgb[W * H * 3];
    pattern(g, W, H, 1);
    pattern(rgb, W, H, 3);
    size_t n;
    struct ns_image im;
    uint8_t *buf = png_encode(g, W, H, PNG_FORMAT_GRAY, NULL, 0, &n);
    assert_int_equal(ns_image_decode(buf, n, 1, &im), 0);
    assert_int_equal(im.w, W);
    assert_int_equal(im.h, H);
    assert_memory_equal(im.px, g, sizeof g);
    ns_image_free(&im);
    assert_int_equal(ns_image_decode(buf, n, 3, &im), 0); /* gray -> RGB: repeated */
    for (int i = 0; i < W * H; i++)
        for (int k = 0; k < 3; k++)
            assert_int_equal(im.px[3 * i + k], g[i]);
    ns_image_free(&im);
    free(buf);

    buf = png_encode(rgb, W, H, PNG_FORMAT_RGB, NULL, 0, &n);
    assert_int_equal(ns_image_decode(buf, n, 3, &im), 0);
    assert_memory_equal(im.px, rgb, sizeof rgb);
    ns_image_free(&im);
    assert_int_equal(ns_image_decode(buf, n, 1, &im), 0); /* RGB -> gray: 601 luma */
    for (int i = 0; i < W * H; i++) {
        const uint8_t *p = rgb + 3 * i;
        int want = (19595 * p[0] + 38470 * p[1] + 7471 * p[2] + 32768) >> 16;
        assert_int_equal(im.px[i], want);
    }
    ns_image_free(&im);
    free(buf);
}

static void png_alpha_is_dropped_and_palette_expanded(void **state)
{
    (void)state;
    enum { W = 8, H = 5 };
    uint8_t rgba[W * H * 4], rgb[W * H * 3];
    pattern(rgba, W, H, 4);
    for (int i = 0; i < W * H; i++) {
        rgba[4 * i + 3] = (uint8_t)(i * 5); /* varied alpha, colour must stay */
        memcpy(rgb + 3 * i, rgba + 4 * i, 3);
    }
    size_t n;
    struct ns_image im;
    uint8_t *buf = png_encode(rgba, W, H, PNG_FORMAT_RGBA, NULL, 0, &n);
    assert_int_equal(ns_image_decode(buf, n, 3, &im), 0);
    /* 8-bit sRGB in and out: the colour bytes come back as written, whatever the alpha */
    assert_memory_equal(im.px, rgb, sizeof rgb);
    ns_image_free(&im);
    free(buf);

    /* palette: 4 colours */
    uint8_t cmap[4 * 3] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
    uint8_t idx[W * H];
    for (int i = 0; i < W * H; i++)
        idx[i] = (uint8_t)(i % 4);
    buf = png_encode(idx, W, H, PNG_FORMAT_RGB_COLORMAP, cmap, 4, &n);
    assert_int_equal(ns_image_decode(buf, n, 3, &im), 0);
    for (int i = 0; i < W * H; i++)
        assert_memory_equal(im.px + 3 * i, cmap + 3 * (i % 4), 3);
    ns_image_free(&im);
    free(buf);
}

static void jpeg_gray_rgb_and_cmyk_decode(void **state)
{
    (void)state;
    enum { W = 16, H = 16 };
    uint8_t flat[W * H * 4];
    memset(flat, 0, sizeof flat);
    size_t n;
    struct ns_image im;
    /* a flat colour survives JPEG almost exactly */
    for (int i = 0; i < W * H; i++) {
        flat[3 * i] = 200, flat[3 * i + 1] = 100, flat[3 * i + 2] = 50;
    }
    uint8_t *buf = jpeg_encode(flat, W, H, 3, JCS_RGB, &n);
    assert_int_equal(ns_image_decode(buf, n, 3, &im), 0);
    assert_int_equal(im.c, 3);
    for (int i = 0; i < W * H; i++) {
        assert_true(abs(im.px[3 * i] - 200) <= 2);
        assert_true(abs(im.px[3 * i + 1] - 100) <= 2);
        assert_true(abs(im.px[3 * i + 2] - 50) <= 2);
    }
    ns_image_free(&im);
    free(buf);
    memset(flat, 77, W * H);
    buf = jpeg_encode(flat, W, H, 1, JCS_GRAYSCALE, &n);
    assert_int_equal(ns_image_decode(buf, n, 3, &im), 0);
    for (int i = 0; i < W * H * 3; i++)
        assert_int_equal(im.px[i], 77);
    ns_image_free(&im);
    free(buf);
    /* CMYK as stored (Adobe inverted): C=M=Y=255 (no ink), K=128 -> gray 128 */
    for (int i = 0; i < W * H; i++)
        flat[4 * i] = flat[4 * i + 1] = flat[4 * i + 2] = 255, flat[4 * i + 3] = 128;
    buf = jpeg_encode(flat, W, H, 4, JCS_CMYK, &n);
    assert_int_equal(ns_image_decode(buf, n, 3, &im), 0);
    for (int i = 0; i < W * H * 3; i++)
        assert_true(abs(im.px[i] - 128) <= 2);
    ns_image_free(&im);
    free(buf);
}

/* A 64 x 48 JPEG asked for at least 20 px comes out at 1/2 (32 x 24), close to a full
 * decode resized; at least 30 px needs the full size. */
static void jpeg_scaled_decode_keeps_the_shorter_side(void **state)
{
    (void)state;
    enum { W = 64, H = 48 };
    uint8_t px[W * H * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int k = 0; k < 3; k++)
                px[(y * W + x) * 3 + k] = (uint8_t)(128 + 100 * sin(x * 0.2 + k) * cos(y * 0.15));
    size_t n;
    uint8_t *buf = jpeg_encode(px, W, H, 3, JCS_RGB, &n);
    struct ns_image full, half;
    assert_int_equal(ns_image_decode_min(buf, n, 3, 20, &half), 0);
    assert_int_equal(half.w, 32);
    assert_int_equal(half.h, 24);
    assert_int_equal(ns_image_decode_min(buf, n, 3, 30, &full), 0);
    assert_int_equal(full.w, 64);
    uint8_t a[20 * 20 * 3], b[20 * 20 * 3];
    ns_image_center_square(&full, 20, a);
    ns_image_center_square(&half, 20, b);
    double mad = 0;
    for (size_t i = 0; i < sizeof a; i++)
        mad += abs(a[i] - b[i]);
    assert_true(mad / sizeof a < 3.0);
    ns_image_free(&full);
    ns_image_free(&half);
    free(buf);
}

static void broken_files_are_errors(void **state)
{
    (void)state;
    enum { W = 32, H = 32 };
    uint8_t px[W * H * 3];
    pattern(px, W, H, 3);
    size_t n;
    struct ns_image im;
    uint8_t *buf = jpeg_encode(px, W, H, 3, JCS_RGB, &n);
    assert_int_equal(ns_image_decode(buf, n / 2, 3, &im), -1); /* truncated: a warning */
    assert_non_null(strstr(ns_errmsg(), "corrupt JPEG"));
    assert_null(im.px);
    free(buf);
    buf = png_encode(px, W, H, PNG_FORMAT_RGB, NULL, 0, &n);
    assert_int_equal(ns_image_decode(buf, n - 20, 3, &im), -1);
    assert_non_null(strstr(ns_errmsg(), "corrupt PNG"));
    buf[40] ^= 0xff; /* a flipped byte in the image data: CRC error */
    assert_int_equal(ns_image_decode(buf, n, 3, &im), -1);
    free(buf);
    /* a header that claims 65000 x 65000 pixels is refused before any allocation */
    buf = jpeg_encode(px, W, H, 3, JCS_RGB, &n);
    size_t sof = 0;
    for (size_t i = 0; i + 9 < n && !sof; i++)
        if (buf[i] == 0xff && buf[i + 1] == 0xc0)
            sof = i;
    assert_true(sof > 0);
    buf[sof + 5] = buf[sof + 7] = 0xfd;
    buf[sof + 6] = buf[sof + 8] = 0xe8;
    assert_int_equal(ns_image_decode(buf, n, 3, &im), -1);
    assert_non_null(strstr(ns_errmsg(), "too large"));
    free(buf);
    const uint8_t text[] = "hello, not an image";
    assert_int_equal(ns_image_decode(text, sizeof text, 3, &im), -1);
    assert_non_null(strstr(ns_errmsg(), "not a JPEG or PNG"));
    assert_int_equal(ns_image_decode(text, 0, 3, &im), -1);
}

static void resize_identity_constant_and_antialias(void **state)
{
    (void)state;
    enum { S = 12 };
    uint8_t px[S * S * 3], out[S * S * 3];
    pattern(px, S, S, 3);
    struct ns_image im = {S, S, 3, px};
    ns_image_center_square(&im, S, out); /* same size: exact copy */
    assert_memory_equal(out, px, sizeof px);
    /* a constant image stays constant at any scale and crop */
    uint8_t big[40 * 30];
    memset(big, 99, sizeof big);
    struct ns_image b = {40, 30, 1, big};
    uint8_t o[17 * 17];
    ns_image_center_square(&b, 17, o);
    for (int i = 0; i < 17 * 17; i++)
        assert_int_equal(o[i], 99);
    /* a 1-pixel checkerboard halved averages to mid-gray (a nearest filter gives 0 or 255) */
    uint8_t cb[16 * 16], half[8 * 8];
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++)
            cb[y * 16 + x] = (uint8_t)(((x + y) & 1) * 255);
    struct ns_image c = {16, 16, 1, cb};
    ns_image_center_square(&c, 8, half);
    for (int y = 1; y < 7; y++) /* inside: the border pixels have clamped (uneven) taps */
        for (int x = 1; x < 7; x++)
            assert_true(abs(half[y * 8 + x] - 128) <= 1);
    /* the centre crop of a wide image: left and right thirds dropped */
    uint8_t wide[30 * 10];
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 30; x++)
            wide[y * 30 + x] = x < 10 ? 0 : x < 20 ? 200 : 50;
    struct ns_image wd = {30, 10, 1, wide};
    uint8_t sq[10 * 10];
    ns_image_center_square(&wd, 10, sq);
    for (int i = 0; i < 100; i++)
        assert_int_equal(sq[i], 200);
}

/* ---------------------------------------------------------------- augmentation -------- */

static void small_image(struct ns_dataset *d, int s, int c)
{
    assert_int_equal(ns_data_alloc(d, "t", 2, s, s, c, 2), 0);
    for (size_t i = 0; i < (size_t)2 * s * s * c; i++)
        d->x[i] = (uint8_t)(i * 37 % 251);
    d->y[0] = 0, d->y[1] = 1;
}

static void tiny_zoom_is_the_identity_and_flip_agrees(void **state)
{
    (void)state;
    enum { S = 10, C = 3, N = 2, IMG = S * S * C };
    struct ns_dataset d;
    small_image(&d, S, C);
    uint32_t idx[N] = {0, 1};
    float ref[N * IMG], got[N * IMG];
    int32_t y[N];
    ns_data_batch(&d, idx, N, NULL, NULL, ref, y);
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 3, 4);
    struct ns_augment z = {.zoom = 1e-7f};
    ns_data_batch(&d, idx, N, &z, &rng, got, y);
    for (int i = 0; i < N * IMG; i++)
        assert_true(fabsf(got[i] - ref[i]) < 1e-4f);
    /* flip through the geometric path = flip through the plain path, same draws */
    struct ns_augment f1 = {.flip = 1}, f2 = {.flip = 1, .zoom = 1e-7f};
    struct ns_pcg32 r1, r2;
    ns_pcg32_seed(&r1, 9, 1);
    ns_pcg32_seed(&r2, 9, 1);
    for (int rep = 0; rep < 4; rep++) {
        ns_data_batch(&d, idx, N, &f1, &r1, ref, y);
        ns_data_batch(&d, idx, N, &f2, &r2, got, y);
        (void)ns_pcg32_float(&r1); /* the zoom draws of f2 (one per image) */
        (void)ns_pcg32_float(&r1);
        for (int i = 0; i < N * IMG; i++)
            assert_true(fabsf(got[i] - ref[i]) < 1e-4f);
    }
    ns_data_free(&d);
}

static void rotation_keeps_a_disc_and_moves_a_bar(void **state)
{
    (void)state;
    enum { S = 33 };
    struct ns_dataset d;
    assert_int_equal(ns_data_alloc(&d, "t", 2, S, S, 1, 2), 0);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double r = hypot(x - 16, y - 16);
            d.x[y * S + x] = r < 10 ? 255 : 0;                   /* a disc */
            d.x[S * S + y * S + x] = abs(y - 16) <= 1 ? 255 : 0; /* a horizontal bar */
        }
    uint32_t idx[2] = {0, 1};
    float plain[2 * S * S], rot[2 * S * S];
    int32_t lab[2];
    ns_data_batch(&d, idx, 2, NULL, NULL, plain, lab);
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 1, 2);
    struct ns_augment a = {.rotate = 90};
    double moved = 0;
    for (int rep = 0; rep < 8; rep++) {
        ns_data_batch(&d, idx, 2, &a, &rng, rot, lab);
        double disc = 0, bar = 0;
        for (int i = 0; i < S * S; i++) {
            disc += fabs(rot[i] - plain[i]);
            bar += fabs(rot[S * S + i] - plain[S * S + i]);
        }
        assert_true(disc / (S * S) < 0.03); /* only the disc's rim is resampled */
        moved += bar / (S * S);
    }
    assert_true(moved / 8 > 0.05); /* the bar turns */
    ns_data_free(&d);
}

static void geometric_augmentation_is_deterministic(void **state)
{
    (void)state;
    enum { S = 12, C = 3, N = 2, IMG = S * S * C };
    struct ns_dataset d;
    small_image(&d, S, C);
    uint32_t idx[N] = {1, 0};
    float a[N * IMG], b[N * IMG], plain[N * IMG];
    int32_t y[N];
    struct ns_augment aug = {
        .crop_pad = 2, .flip = 1, .rotate = 20, .zoom = 0.2f, .rrc_scale = 0.3f};
    struct ns_pcg32 r1, r2;
    ns_pcg32_seed(&r1, 5, 6);
    ns_pcg32_seed(&r2, 5, 6);
    ns_data_batch(&d, idx, N, &aug, &r1, a, y);
    ns_data_batch(&d, idx, N, &aug, &r2, b, y);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(y[0], 1);
    ns_data_batch(&d, idx, N, NULL, NULL, plain, y);
    assert_memory_not_equal(a, plain, sizeof a);
    for (int i = 0; i < N * IMG; i++)
        assert_true(isfinite(a[i]) && a[i] >= 0.0f && a[i] <= 1.0f + 1e-6f);
    ns_data_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(png_gray_and_rgb_are_exact),
        cmocka_unit_test(png_alpha_is_dropped_and_palette_expanded),
        cmocka_unit_test(jpeg_gray_rgb_and_cmyk_decode),
        cmocka_unit_test(jpeg_scaled_decode_keeps_the_shorter_side),
        cmocka_unit_test(broken_files_are_errors),
        cmocka_unit_test(resize_identity_constant_and_antialias),
        cmocka_unit_test(tiny_zoom_is_the_identity_and_flip_agrees),
        cmocka_unit_test(rotation_keeps_a_disc_and_moves_a_bar),
        cmocka_unit_test(geometric_augmentation_is_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
