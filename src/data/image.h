/* Image files to bytes: JPEG (libjpeg-turbo) and PNG (libpng) decoding into 8-bit gray or RGB,
 * and resampling to a square with a quality filter. Used by the image-folder loader
 * (folder.c); kept apart so the decoders and the filter can be tested on their own.
 *
 * Thread-safety: every function is reentrant (no global state; libjpeg errors are caught
 * with a per-call setjmp). Library code: errors are values with ns_err set. */
#ifndef NS_DATA_IMAGE_H
#define NS_DATA_IMAGE_H

#include <stddef.h>
#include <stdint.h>

struct ns_image {
    int w, h, c; /* c is 1 (gray) or 3 (RGB) */
    uint8_t *px; /* h*w*c bytes, row-major, interleaved; owned (free) */
};

/* Decode a JPEG or PNG held in memory (the format is told by its magic bytes, never by a
 * file name) into `want_c` channels (1 or 3):
 * - JPEG gray, YCbCr/RGB and CMYK/YCCK (Adobe's inverted CMYK as Photoshop writes it:
 *   R = C*K/255 on the stored values); gray is libjpeg's Y channel, exact.
 * - PNG gray, gray+alpha, RGB, RGBA, palette, 1-16 bits: through libpng's simplified API
 *   to 8-bit; alpha is dropped (not composited), as TensorFlow's decode_image does, so an
 *   opaque pixel keeps its colour whatever its alpha.
 * - RGB to gray: ITU-R 601 luma, (19595 R + 38470 G + 7471 B + 2^15) >> 16 (PIL's "L");
 *   gray to RGB: the value repeated.
 * A truncated or corrupt file (libjpeg's "premature end" and corrupt-data *warnings*
 * included: libjpeg would fill the rest with gray) is an error, as is anything that is
 * neither. Images larger than 2^26 pixels are refused. Returns 0 and fills *im, or -1 with
 * ns_err ("not a JPEG or PNG file", "corrupt JPEG: ...") and *im zeroed. */
int ns_image_decode(const uint8_t *buf, size_t len, int want_c, struct ns_image *im);

/* The same, but a JPEG may come out smaller, decoded at 1/2, 1/4 or 1/8 scale in the DCT
 * domain (libjpeg's scaled IDCT), as long as its shorter side stays >= min_side: what a
 * loader that resizes to min_side needs, about twice as fast on photos. PNG is always
 * full size. min_side 0 = ns_image_decode. */
int ns_image_decode_min(const uint8_t *buf, size_t len, int want_c, int min_side,
                        struct ns_image *im);

void ns_image_free(struct ns_image *im);

/* Resample the square source box [x0, x0+side) x [y0, y0+side) of `im` (fractional
 * coordinates) to size x size pixels into out (size*size*im->c bytes), with a separable
 * triangle filter whose support widens with the downscaling factor (PIL's antialiased
 * BILINEAR), so a large photo is averaged, not aliased; weights are clamped at the image
 * border. A box the size of the image with side == size copies the pixels exactly. */
void ns_image_resize_box(const struct ns_image *im, double x0, double y0, double side, int size,
                         uint8_t *out);

/* The evaluation view: the shorter side scaled to `size` and the centre square kept
 * (ns_image_resize_box on the centred square of side min(w, h)). */
void ns_image_center_square(const struct ns_image *im, int size, uint8_t *out);

#endif
