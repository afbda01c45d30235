/* JPEG and PNG decoding and the resampling filter of the image-folder loader (image.h). */
#include "data/image.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "util/err.h"

#define MAX_PIXELS (1L << 26)

void ns_image_free(struct ns_image *im)
{
    if (!im)
        return;
    free(im->px);
    memset(im, 0, sizeof *im);
}

/* ---------------------------------------------------------------- JPEG ---------------- */

struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
};

static void jerr_exit(j_common_ptr cinfo)
{
    struct jerr *e = (struct jerr *)cinfo->err;
    e->mgr.format_message(cinfo, e->msg);
    longjmp(e->jump, 1);
}

/* Level -1 is a warning about corrupt data (a truncated file among them): libjpeg carries
 * on with made-up pixels, which a training set must not contain. Trace messages pass. */
static void jerr_message(j_common_ptr cinfo, int level)
{
    if (level < 0)
        jerr_exit(cinfo);
}

/* Everything that the setjmp must not clobber lives in this struct, not in locals. */
struct jpeg_job {
    struct jpeg_decompress_struct cinfo;
    struct jerr err;
    uint8_t *raw; /* decoded rows before channel conversion */
};

static void gray_from_rgb(const uint8_t *rgb, uint8_t *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        g[i] = (uint8_t)((19595u * rgb[3 * i] + 38470u * rgb[3 * i + 1] + 7471u * rgb[3 * i + 2] +
                          32768u) >>
                         16);
}

/* src has sc channels (1, 3, or 4 = CMYK as stored, Adobe-inverted), dst gets dc (1 or 3). */
static void convert_channels(const uint8_t *src, int sc, uint8_t *dst, int dc, size_t n)
{
    if (sc == dc) {
        memcpy(dst, src, n * (size_t)dc);
    } else if (sc == 1) { /* dc == 3 */
        for (size_t i = 0; i < n; i++)
            dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = src[i];
    } else if (sc == 3) { /* dc == 1 */
        gray_from_rgb(src, dst, n);
    } else { /* CMYK */
        for (size_t i = 0; i < n; i++) {
            const uint8_t *p = src + 4 * i;
            uint8_t rgb[3];
            for (int k = 0; k < 3; k++)
                rgb[k] = (uint8_t)((p[k] * p[3] + 127) / 255);
            if (dc == 3)
                memcpy(dst + 3 * i, rgb, 3);
            else
                gray_from_rgb(rgb, dst + i, 1);
        }
    }
}

static int decode_jpeg(const uint8_t *buf, size_t len, int want_c, int min_side,
                       struct ns_image *im)
{
    struct jpeg_job *j = calloc(1, sizeof *j);
    if (!j)
        return ns_err("out of memory");
    j->cinfo.err = jpeg_std_error(&j->err.mgr);
    j->err.mgr.error_exit = jerr_exit;
    j->err.mgr.emit_message = jerr_message;
    if (setjmp(j->err.jump)) {
        ns_err("corrupt JPEG: %s", j->err.msg);
        jpeg_destroy_decompress(&j->cinfo);
        free(j->raw);
        free(j);
        ns_image_free(im);
        return -1;
    }
    jpeg_create_decompress(&j->cinfo);
    jpeg_mem_src(&j->cinfo, buf, (unsigned long)len);
    jpeg_read_header(&j->cinfo, TRUE);
    if ((long)j->cinfo.image_width * j->cinfo.image_height > MAX_PIXELS) {
        snprintf(j->err.msg, sizeof j->err.msg, "%ux%u pixels is too large", j->cinfo.image_width,
                 j->cinfo.image_height);
        longjmp(j->err.jump, 1);
    }
    /* Decode at 1/8, 1/4 or 1/2 in the DCT domain when the shorter side stays >= min_side:
     * libjpeg's scaled IDCT is a proper low-pass, and with the resize after it
     * it halves the time per photo. */
    unsigned shorter =
        j->cinfo.image_width < j->cinfo.image_height ? j->cinfo.image_width : j->cinfo.image_height;
    for (unsigned d = 8; min_side > 0 && d >= 2; d /= 2)
        if (shorter / d >= (unsigned)min_side) {
            j->cinfo.scale_num = 1;
            j->cinfo.scale_denom = d;
            break;
        }
    int sc;
    J_COLOR_SPACE cs = j->cinfo.jpeg_color_space;
    if (cs == JCS_CMYK || cs == JCS_YCCK) {
        j->cinfo.out_color_space = JCS_CMYK;
        sc = 4;
    } else if (cs == JCS_GRAYSCALE || want_c == 1) {
        j->cinfo.out_color_space = JCS_GRAYSCALE;
        sc = 1;
    } else {
        j->cinfo.out_color_space = JCS_RGB;
        sc = 3;
    }
    jpeg_start_decompress(&j->cinfo);
    long w = j->cinfo.output_width, h = j->cinfo.output_height;
    if (w < 1 || h < 1 || w * h > MAX_PIXELS || j->cinfo.output_components != sc) {
        snprintf(j->err.msg, sizeof j->err.msg, "%ldx%ld pixels with %d components", w, h,
                 j->cinfo.output_components);
        longjmp(j->err.jump, 1);
    }
    j->raw = malloc((size_t)w * h * sc);
    im->px = malloc((size_t)w * h * want_c);
    if (!j->raw || !im->px) {
        snprintf(j->err.msg, sizeof j->err.msg, "out of memory");
        longjmp(j->err.jump, 1);
    }
    while (j->cinfo.output_scanline < j->cinfo.output_height) {
        JSAMPROW row = j->raw + (size_t)j->cinfo.output_scanline * w * sc;
        jpeg_read_scanlines(&j->cinfo, &row, 1);
    }
    jpeg_finish_decompress(&j->cinfo);
    jpeg_destroy_decompress(&j->cinfo);
    convert_channels(j->raw, sc, im->px, want_c, (size_t)w * h);
    free(j->raw);
    free(j);
    im->w = (int)w;
    im->h = (int)h;
    im->c = want_c;
    return 0;
}

/* ---------------------------------------------------------------- PNG ----------------- */

static int decode_png(const uint8_t *buf, size_t len, int want_c, struct ns_image *im)
{
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&pi, buf, len))
        return ns_err("corrupt PNG: %s", pi.message);
    if ((long)pi.width * pi.height > MAX_PIXELS || pi.width < 1 || pi.height < 1) {
        png_image_free(&pi);
        return ns_err("PNG of %ux%u pixels is too large", pi.width, pi.height);
    }
    /* Read in the file's own colour model (gray or RGB, with alpha if any) and convert
     * here: libpng's own RGB-to-gray works in linear light, not as documented in image.h;
     * alpha is dropped rather than composited. */
    int alpha = (pi.format & PNG_FORMAT_FLAG_ALPHA) != 0;
    int color = (pi.format & PNG_FORMAT_FLAG_COLOR) != 0;
    pi.format = color ? (alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB)
                      : (alpha ? PNG_FORMAT_GA : PNG_FORMAT_GRAY);
    int c = color ? 3 : 1, sc = c + alpha;
    size_t n = (size_t)pi.width * pi.height;
    uint8_t *raw = malloc(n * sc), *px = malloc(n * want_c);
    if (!raw || !px) {
        png_image_free(&pi);
        free(raw);
        free(px);
        return ns_err("out of memory");
    }
    if (!png_image_finish_read(&pi, NULL, raw, 0, NULL) || PNG_IMAGE_FAILED(pi)) {
        ns_err("corrupt PNG: %s", pi.message);
        png_image_free(&pi);
        free(raw);
        free(px);
        return -1;
    }
    if (alpha) /* squeeze out the alpha bytes in place */
        for (size_t i = 0; i < n; i++)
            memmove(raw + i * c, raw + i * sc, (size_t)c);
    convert_channels(raw, c, px, want_c, n);
    free(raw);
    im->px = px;
    im->w = (int)pi.width;
    im->h = (int)pi.height;
    im->c = want_c;
    png_image_free(&pi);
    return 0;
}

int ns_image_decode(const uint8_t *buf, size_t len, int want_c, struct ns_image *im)
{
    return ns_image_decode_min(buf, len, want_c, 0, im);
}

int ns_image_decode_min(const uint8_t *buf, size_t len, int want_c, int min_side,
                        struct ns_image *im)
{
    memset(im, 0, sizeof *im);
    if (want_c != 1 && want_c != 3)
        return ns_err("%d channels asked (1 or 3)", want_c);
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff)
        return decode_jpeg(buf, len, want_c, min_side, im);
    if (len >= 8 && !memcmp(buf, png_magic, 8))
        return decode_png(buf, len, want_c, im);
    return ns_err("not a JPEG or PNG file");
}

/* ---------------------------------------------------------------- resampling ---------- */

/* Weights of one axis: out[i] = sum_k w[i][k] * in[first[i] + k], k < taps. */
struct axis {
    int taps;
    int *first;
    float *w; /* out_n * taps */
};

static int axis_make(struct axis *a, int in_n, double x0, double side, int out_n)
{
    double scale = side / out_n, support = scale > 1 ? scale : 1.0;
    a->taps = (int)ceil(support) * 2 + 1;
    a->first = malloc((size_t)out_n * sizeof *a->first);
    a->w = calloc((size_t)out_n * a->taps, sizeof *a->w);
    if (!a->first || !a->w)
        return -1;
    for (int i = 0; i < out_n; i++) {
        double center = x0 + (i + 0.5) * scale;
        int lo = (int)floor(center - support), hi = (int)ceil(center + support);
        if (lo < 0)
            lo = 0;
        if (hi > in_n)
            hi = in_n;
        if (hi - lo > a->taps)
            hi = lo + a->taps;
        double sum = 0;
        float *w = a->w + (size_t)i * a->taps;
        for (int j = lo; j < hi; j++) {
            double t = fabs((j + 0.5 - center) / support);
            double v = t < 1 ? 1 - t : 0;
            w[j - lo] = (float)v;
            sum += v;
        }
        if (sum <= 0) { /* the box lies off the image: take the nearest pixel */
            lo = center < 0 ? 0 : in_n - 1;
            w[0] = 1;
            for (int k = 1; k < a->taps; k++)
                w[k] = 0;
            sum = 1;
        }
        for (int k = 0; k < a->taps; k++) /* taps past hi keep weight 0 */
            w[k] = (float)(w[k] / sum);
        a->first[i] = lo;
    }
    return 0;
}

static void axis_free(struct axis *a)
{
    free(a->first);
    free(a->w);
}

static uint8_t to_byte(float v)
{
    v = v < 0 ? 0 : v > 255 ? 255 : v;
    return (uint8_t)lrintf(v);
}

void ns_image_resize_box(const struct ns_image *im, double x0, double y0, double side, int size,
                         uint8_t *out)
{
    const int c = im->c, w = im->w, h = im->h;
    if (x0 == 0 && y0 == 0 && side == size && w == size && h == size) {
        memcpy(out, im->px, (size_t)size * size * c);
        return;
    }
    struct axis ax = {0}, ay = {0};
    float *tmp = NULL;
    /* Rows of the source that the vertical pass reads; only those are filtered. */
    if (axis_make(&ax, w, x0, side, size) < 0 || axis_make(&ay, h, y0, side, size) < 0 ||
        !(tmp = malloc((size_t)h * size * c * sizeof *tmp))) {
        memset(out, 0, (size_t)size * size * c); /* out of memory: a black image, not a crash */
        goto done;
    }
    int r0 = ay.first[0], r1 = ay.first[size - 1] + ay.taps;
    if (r1 > h)
        r1 = h;
    for (int y = r0; y < r1; y++) {
        const uint8_t *src = im->px + (size_t)y * w * c;
        float *dst = tmp + (size_t)y * size * c;
        for (int i = 0; i < size; i++) {
            const float *wt = ax.w + (size_t)i * ax.taps;
            int f = ax.first[i], n = ax.taps < w - f ? ax.taps : w - f;
            for (int k = 0; k < c; k++) {
                float s = 0;
                for (int t = 0; t < n; t++)
                    s += wt[t] * src[(size_t)(f + t) * c + k];
                dst[i * c + k] = s;
            }
        }
    }
    for (int i = 0; i < size; i++) {
        const float *wt = ay.w + (size_t)i * ay.taps;
        int f = ay.first[i], n = ay.taps < h - f ? ay.taps : h - f;
        uint8_t *o = out + (size_t)i * size * c;
        for (int x = 0; x < size * c; x++) {
            float s = 0;
            for (int t = 0; t < n; t++)
                s += wt[t] * tmp[(size_t)(f + t) * size * c + x];
            o[x] = to_byte(s);
        }
    }
done:
    axis_free(&ax);
    axis_free(&ay);
    free(tmp);
}

void ns_image_center_square(const struct ns_image *im, int size, uint8_t *out)
{
    double side = im->w < im->h ? im->w : im->h;
    ns_image_resize_box(im, (im->w - side) / 2, (im->h - side) / 2, side, size, out);
}
