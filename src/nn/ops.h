/* The convnet core's ops: each a forward/backward pair of plain functions on NHWC float
 * tensors (n, h, w, c), channels last. Shapes are given by a small per-op struct that the
 * net fills once at build time; the batch n is passed per call (it may be smaller than the
 * batch the net was built for, e.g. the last evaluation batch).
 *
 * Conventions (as in nnabla): backward functions *accumulate* (+=) into parameter
 * gradients, which the optimizer zeroes once per step; an input gradient is overwritten,
 * or added to when the op's `acc` argument is non-zero (a tensor read by two ops, such as a
 * residual block's input, gets the sum of both). A NULL input gradient is not computed.
 * Every op splits its work over the pool's threads by static ranges; reductions over the
 * batch use per-thread partial sums added in thread order, so results are bit-identical
 * for the same thread count. No op allocates: scratch comes from the caller (sizes below).
 */
#ifndef NS_OPS_H
#define NS_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h" /* enum ns_act */
#include "nn/pool.h"
#include "util/pcg32.h"

/* ---- convolution ----------------------------------------------------------------------
 * x (n, h, w, cin) -> y (n, ho, wo, cout) with a kh x kw kernel (square k x k, or
 * rectangular such as ACNet's 1x3 and 3x1), padding pad_h = kh/2 rows and pad_w = kw/2
 * columns: ho = (h + 2*pad_h - kh)/stride + 1, wo = (w + 2*pad_w - kw)/stride + 1.
 * Weights W are (kh, kw, cin/groups, cout): element (i, j, ci, co) sits at
 * ((i*kw + j)*cpg + ci)*cout + co, where ci indexes the channels of co's group.
 * Optional bias (cout). Kernels: 1x1 ungrouped = one GEMM over n*ho*wo rows (strided
 * input gathered first); other ungrouped (square or not) = per-image im2col + GEMM, except
 * square ones of 2 and 4-8 channels in and out (the grouped kernel, padded to 8 under 8);
 * square depthwise and grouped = direct kernels vectorized over 8 output channels;
 * rectangular grouped = a plain direct loop. */
struct ns_conv {
    int h, w, cin, cout;
    int k, pad;         /* square kernels: k = kh = kw, pad = k/2; 0 when rectangular */
    int kh, kw;         /* kernel height and width */
    int pad_h, pad_w;   /* kh/2, kw/2 */
    int stride, groups;
    int ho, wo;
    int cpg;      /* input channels per group */
    int has_bias; /* bias is added (and its gradient computed) */
    int relu;     /* apply ReLU after the bias (only for fused inference; no backward) */
    int per_pixel; /* tests: depthwise kernels per pixel only (the reference of their flat
                    * runs, which give the same bits) */
};
void ns_conv_setup(struct ns_conv *c, int h, int w, int cin, int cout, int k, int stride,
                   int groups, int has_bias);
/* The same with a kh x kw kernel (ns_conv_setup is kh = kw = k). */
void ns_conv_setup_rect(struct ns_conv *c, int h, int w, int cin, int cout, int kh, int kw,
                        int stride, int groups, int has_bias);
/* Scratch floats needed by forward and backward for batch n and nth threads. */
size_t ns_conv_scratch(const struct ns_conv *c, int n, int nth);
void ns_conv_forward(struct ns_pool *p, const struct ns_conv *c, int n, const float *x,
                     const float *w, const float *b, float *y, float *scratch);
/* dx may be NULL (the input is the network's image); dw, db accumulate. */
void ns_conv_backward(struct ns_pool *p, const struct ns_conv *c, int n, const float *x,
                      const float *w, const float *dy, float *dx, int acc, float *dw,
                      float *db, float *scratch);
/* A 1x1 stride-1 ungrouped conv without bias whose output only a BN reads: the BN's backward
 * and then the conv's in one pass over the pixels (ns_conv_bn_fusable says which convs the
 * net fuses: those, with at least as many outputs as inputs, where it measured faster).
 * Each thread takes the rows of its pixel range a block of NS_GEMM_KC at a time: the BN's dx
 * of the block (the conv's dy) into a buffer of the thread's, the weight gradient's sum over
 * the block, then the block's rows of dx. The conv's dy is never written nor read back from
 * memory; the bits are those of ns_bn_backward then ns_conv_backward (the same sums in the
 * same order). bn_x, bn_y, bn_dy: the BN's input (the conv's output), output and output
 * gradient; scratch: ns_conv_bn_scratch floats. secs (NULL, or 2 doubles): the seconds of
 * the BN's sums and of the block pass are added to secs[0] and secs[1] (a profile's). */
struct ns_bn;
int ns_conv_bn_fusable(const struct ns_conv *c);
size_t ns_conv_bn_scratch(const struct ns_conv *c, const struct ns_bn *b, int n, int nth);
void ns_conv_bn_backward(struct ns_pool *p, const struct ns_conv *c, const struct ns_bn *b,
                         int n, const float *x, const float *w, const float *bn_x,
                         const float *bn_y, const float *gamma, const float *mean,
                         const float *rstd, const float *affine, const float *bn_dy, float *dx,
                         int acc, float *dw, float *dgamma, float *dbeta, float *scratch,
                         double *secs);

/* ---- batch norm (+ optional fused ReLU) ------------------------------------------------
 * x, y (n, h, w, c) seen as (m = n*h*w, c). Training: batch mean and biased variance,
 * running averages updated as running = (1-momentum)*running + momentum*batch (unbiased
 * variance, like torch); evaluation: running statistics. eps NS_BN_EPS, momentum 0.1. */
#define NS_BN_EPS 1e-5
/* lcm(c, 8): the period, in floats, of a per-channel constant laid along rows of c channels
 * that are read 8 floats at a time across row ends (BN's flat passes, the depthwise flat
 * runs: their "strips"). */
static inline int ns_strip_period(int c)
{
    int L = c;
    while (L % 8)
        L += c;
    return L;
}
struct ns_bn {
    int m_per_image; /* h*w */
    int c;
    int relu;
    int plain; /* tests: the plain scalar loops, whose bits the vector paths must give */
};
/* mean, rstd: (c) caches for backward; affine (2c, may be NULL): the forward's per-channel
 * scale and shift (y = x*scale + shift before the ReLU), kept so that backward can recompute
 * the ReLU mask from x instead of reading y. y NULL (affine then not NULL): the statistics
 * and the cache only, for ns_bn_add_forward. scratch: ns_bn_scratch() floats. */
size_t ns_bn_scratch(const struct ns_bn *b, int nth);
void ns_bn_forward_train(struct ns_pool *p, const struct ns_bn *b, int n, const float *x,
                         const float *gamma, const float *beta, float *run_mean,
                         float *run_var, float *mean, float *rstd, float *affine, float *y,
                         float *scratch);
void ns_bn_forward_eval(struct ns_pool *p, const struct ns_bn *b, int n, const float *x,
                        const float *gamma, const float *beta, const float *run_mean,
                        const float *run_var, float *y);
/* A BN (without ReLU) whose only reader is a residual ADD leaves its output unstored: the
 * forward takes the statistics (ns_bn_forward_train with y NULL, affine not NULL) or
 * evaluation's scale and shift (ns_bn_eval_affine into affine, 2c floats: scale, then
 * shift), and the ADD applies them: out = (x*scale + shift) + skip, then its ReLU when relu
 * (v > 0 ? v : 0), each value rounded as BN's pass and ns_add_forward round it, so the bits
 * are those of the two passes (but for which payload the sum of two NaNs keeps); one pass
 * over the tensor and no store of BN's output. */
void ns_bn_eval_affine(const struct ns_bn *b, const float *gamma, const float *beta,
                       const float *run_mean, const float *run_var, float *affine);
void ns_bn_add_forward(struct ns_pool *p, const struct ns_bn *b, int n, const float *x,
                       const float *affine, const float *skip, int relu, float *out);
/* The ReLU mask (when relu is set) is x*scale + shift > 0 from the forward's affine cache,
 * bit for bit the forward's own test, or, when affine is NULL, y > 0 from the forward
 * output y (one more stream to read in both passes). y is read for nothing else: it may be
 * NULL without a ReLU or with affine. */
void ns_bn_backward(struct ns_pool *p, const struct ns_bn *b, int n, const float *x,
                    const float *y, const float *gamma, const float *mean, const float *rstd,
                    const float *affine, const float *dy, float *dx, int acc, float *dgamma,
                    float *dbeta, float *scratch);
/* ns_bn_backward in its two passes, for a consumer that takes dx a block of rows at a time
 * while it is in cache (ns_conv_bn_backward). ns_bn_backward_sums: the first pass (the sums
 * over the batch, dgamma and dbeta added) and the second pass's per-channel coefficients,
 * kept in scratch (ns_bn_scratch floats) and described by *d. ns_bn_dx_rows: dx of rows
 * [lo, hi) into dx (its row lo first), written or, with acc, added: any split into blocks
 * gives ns_bn_backward's bits (each element is computed on its own). */
struct ns_bn_dx {
    const struct ns_bn *b;
    const float *x, *y, *dy;
    const float *k, *a, *bc, *sc, *sh; /* dx = k*g + a + x*bc, g = dy masked (mode) by
                                        * x*sc + sh > 0 or by y > 0: C floats each, or in the
                                        * flat form (L > 0) strips of period L */
    int mode, L;
};
void ns_bn_backward_sums(struct ns_pool *p, const struct ns_bn *b, int n, const float *x,
                         const float *y, const float *gamma, const float *mean,
                         const float *rstd, const float *affine, const float *dy,
                         float *dgamma, float *dbeta, float *scratch, struct ns_bn_dx *d);
void ns_bn_dx_rows(const struct ns_bn_dx *d, size_t lo, size_t hi, float *dx, int acc);

/* ---- elementwise -----------------------------------------------------------------------
 * len = number of floats. */
/* enum ns_act (model.h): relu, silu, relu6 (min(max(x, 0), 6)), sigmoid, gelu (exact: x
 * Phi(x), as torch's default). */
void ns_act_forward(struct ns_pool *p, enum ns_act a, size_t len, const float *x, float *y);
void ns_act_backward(struct ns_pool *p, enum ns_act a, size_t len, const float *x,
                     const float *y, const float *dy, float *dx, int acc);
/* y = a + b, optionally followed by ReLU. Backward passes dy (masked by y > 0 when relu)
 * to both inputs: da, db may be NULL. */
void ns_add_forward(struct ns_pool *p, size_t len, const float *a, const float *b, int relu,
                    float *y);
void ns_add_backward(struct ns_pool *p, size_t len, const float *y, int relu, const float *dy,
                     float *da, int acc_a, float *db, int acc_b);
/* Channel scale (squeeze-and-excitation): y(n,hw,c) = x(n,hw,c) * s(n,c). */
void ns_scale_forward(struct ns_pool *p, int n, int hw, int c, const float *x, const float *s,
                      float *y);
void ns_scale_backward(struct ns_pool *p, int n, int hw, int c, const float *x, const float *s,
                       const float *dy, float *dx, int acc, float *ds, int acc_s);

/* ---- channel rearrangements (ShuffleNet) ----------------------------------------------
 * Tensors seen as (rows = n*h*w, channels). Backward moves the gradient back (overwriting
 * or, with acc, adding); a NULL input gradient is skipped.
 * shuffle: y[r, j*G + i] = x[r, i*cpg + j] for group i < G, j < cpg = c/G (torch's
 * channel_shuffle). slice: y (rows, c) = x[:, lo:lo+c] of x (rows, cin); its backward writes
 * the whole dx: dy in the slice's channels, 0 elsewhere (or adds dy there with acc).
 * concat: y (rows, ca+cb) = [a, b]. */
void ns_shuffle_forward(struct ns_pool *p, int rows, int c, int groups, const float *x, float *y);
void ns_shuffle_backward(struct ns_pool *p, int rows, int c, int groups, const float *dy,
                         float *dx, int acc);
void ns_slice_forward(struct ns_pool *p, int rows, int cin, int lo, int c, const float *x,
                      float *y);
void ns_slice_backward(struct ns_pool *p, int rows, int cin, int lo, int c, const float *dy,
                       float *dx, int acc);
void ns_concat_forward(struct ns_pool *p, int rows, int ca, int cb, const float *a,
                       const float *b, float *y);
void ns_concat_backward(struct ns_pool *p, int rows, int ca, int cb, const float *dy, float *da,
                        int acc_a, float *db, int acc_b);

/* ---- pooling ---------------------------------------------------------------------------
 * Max and average pooling, k x k window, stride, padding pad (padded cells are ignored by
 * max and not counted by average: count_include_pad=False). */
struct ns_pool2d {
    int h, w, c, k, stride, pad, ho, wo;
};
void ns_pool2d_setup(struct ns_pool2d *q, int h, int w, int c, int k, int stride, int pad);
void ns_maxpool_forward(struct ns_pool *p, const struct ns_pool2d *q, int n, const float *x,
                        float *y);
void ns_maxpool_backward(struct ns_pool *p, const struct ns_pool2d *q, int n, const float *x,
                         const float *y, const float *dy, float *dx, int acc);
void ns_avgpool_forward(struct ns_pool *p, const struct ns_pool2d *q, int n, const float *x,
                        float *y);
void ns_avgpool_backward(struct ns_pool *p, const struct ns_pool2d *q, int n, const float *dy,
                         float *dx, int acc);
/* Global average pool: x (n, hw, c) -> y (n, c). */
void ns_gap_forward(struct ns_pool *p, int n, int hw, int c, const float *x, float *y);
void ns_gap_backward(struct ns_pool *p, int n, int hw, int c, const float *dy, float *dx,
                     int acc);

/* ---- fully connected -------------------------------------------------------------------
 * x (n, cin) -> y (n, cout) = x W + b; W (cin, cout), b (cout). */
void ns_linear_forward(struct ns_pool *p, int n, int cin, int cout, const float *x,
                       const float *w, const float *b, float *y);
void ns_linear_backward(struct ns_pool *p, int n, int cin, int cout, const float *x,
                        const float *w, const float *dy, float *dx, int acc, float *dw,
                        float *db);

/* ---- dropout ---------------------------------------------------------------------------
 * Inverted dropout: y = x * mask / (1 - rate); mask (len bytes) drawn from rng. */
void ns_dropout_forward(size_t len, float rate, struct ns_pcg32 *rng, const float *x,
                        uint8_t *mask, float *y);
void ns_dropout_backward(size_t len, float rate, const uint8_t *mask, const float *dy,
                         float *dx, int acc);

/* ---- bilinear resize -----------------------------------------------------------------
 * x (n, h, w, c) -> y (n, ho, wo, c), as torch's F.interpolate(mode="bilinear",
 * align_corners=False) without antialiasing: output pixel o reads source coordinate
 * max(0, (o + 0.5) * in/out - 0.5) between its two nearest pixels (the last one clamped).
 * Backward spreads dy over the same four pixels with the same weights. */
struct ns_resize {
    int h, w, c, ho, wo;
};
void ns_resize_forward(struct ns_pool *p, const struct ns_resize *r, int n, const float *x,
                       float *y);
void ns_resize_backward(struct ns_pool *p, const struct ns_resize *r, int n, const float *dy,
                        float *dx, int acc);

/* ---- vision transformer ---------------------------------------------------------------
 * Token sequences are (n, T, 1, C) tensors: row t of an image is token t.
 * patchify: x (n, h, w, c) -> tokens (n, (h/p)*(w/p), 1, p*p*c), token (i, j) the patch at
 * (i*p, j*p) with channels in (py, px, c) order: a 1x1 conv on it is the k = p, stride p conv.
 * tokens: y (n, T+1, C) = [cls; x] + pos (cls (C), pos ((T+1) C) are parameters; their
 * gradients accumulate, summed over the batch). token0: y (n, C) = x[:, 0, :].
 * layernorm: per row of (rows, C), eps NS_LN_EPS; mean and rstd (rows) cached for backward.
 * attention: qkv (n, T, 3d) = [q | k | v], heads contiguous in each; per image and head
 * P = softmax(q k^T / sqrt(d/heads)) (cached in prob, n*heads*T*T floats), y = P v. */
#define NS_LN_EPS 1e-6
struct ns_patchify {
    int h, w, c, p;
};
void ns_patchify_forward(struct ns_pool *p, const struct ns_patchify *q, int n, const float *x,
                         float *y);
void ns_patchify_backward(struct ns_pool *p, const struct ns_patchify *q, int n, const float *dy,
                          float *dx, int acc);
void ns_tokens_forward(struct ns_pool *p, int n, int T, int C, const float *x, const float *cls,
                       const float *pos, float *y);
void ns_tokens_backward(struct ns_pool *p, int n, int T, int C, const float *dy, float *dx,
                        int acc, float *dcls, float *dpos);
void ns_token0_forward(int n, int T, int C, const float *x, float *y);
void ns_token0_backward(int n, int T, int C, const float *dy, float *dx, int acc);
void ns_layernorm_forward(struct ns_pool *p, int rows, int C, const float *x, const float *gamma,
                          const float *beta, float *mean, float *rstd, float *y);
void ns_layernorm_backward(struct ns_pool *p, int rows, int C, const float *x, const float *gamma,
                           const float *mean, const float *rstd, const float *dy, float *dx,
                           int acc, float *dgamma, float *dbeta);
struct ns_attention {
    int T, d, heads;
};
size_t ns_attention_scratch(const struct ns_attention *a, int nth);
void ns_attention_forward(struct ns_pool *p, const struct ns_attention *a, int n,
                          const float *qkv, float *prob, float *y);
void ns_attention_backward(struct ns_pool *p, const struct ns_attention *a, int n,
                           const float *qkv, const float *prob, const float *dy, float *dqkv,
                           int acc, float *scratch);

/* ---- stochastic depth (drop path) -------------------------------------------------------
 * x, y (n, per_image): each image's row is dropped (0) with probability rate, else scaled by
 * 1/(1 - rate); mask (n bytes) drawn from rng, one draw per image. */
void ns_droppath_forward(struct ns_pool *p, int n, size_t per_image, float rate,
                         struct ns_pcg32 *rng, const float *x, uint8_t *mask, float *y);
void ns_droppath_backward(struct ns_pool *p, int n, size_t per_image, float rate,
                          const uint8_t *mask, const float *dy, float *dx, int acc);
/* ---- normalizer-free nets (nf.c) ------------------------------------------------------
 * Scaled weight standardization (NF-ResNets; timm's ScaledStdConv2d convention): conv
 * weights W (rows, cout) in the conv layout, rows = k*k*cin/groups = fan_in. Per output
 * channel co: mu = mean_r W[r,co], var = mean_r (W[r,co] - mu)^2 (biased), rstd =
 * 1/sqrt(var + NS_WS_EPS), and
 *     What[r,co] = gain[co] * (W[r,co] - mu) * rstd / sqrt(rows).
 * Forward writes What and caches mean, rstd (cout each) for backward; backward takes
 * dWhat (rows, cout) and adds the gradients of W and gain into dw, dgain (nothing else
 * depends on the standardization's inputs). Reductions in double per channel; channels are
 * split over threads, so results do not depend on the thread count. */
#define NS_WS_EPS 1e-6
void ns_ws_forward(struct ns_pool *p, int rows, int cout, const float *w, const float *gain,
                   float *what, float *mean, float *rstd);
void ns_ws_backward(struct ns_pool *p, int rows, int cout, const float *w, const float *gain,
                    const float *mean, const float *rstd, const float *dwhat, float *dw,
                    float *dgain);
/* y = mul_out * act(mul_in * x), act relu or silu (mul_in = 1/beta, mul_out = gamma). */
void ns_nf_act_forward(struct ns_pool *p, enum ns_act a, size_t len, float mul_in, float mul_out,
                       const float *x, float *y);
void ns_nf_act_backward(struct ns_pool *p, enum ns_act a, size_t len, float mul_in,
                        float mul_out, const float *x, const float *dy, float *dx, int acc);
/* y = a + alpha * b; backward: da = dy, db = alpha * dy (either may be NULL). */
void ns_nf_add_forward(struct ns_pool *p, size_t len, const float *a, float alpha,
                       const float *b, float *y);
void ns_nf_add_backward(struct ns_pool *p, size_t len, float alpha, const float *dy, float *da,
                        int acc_a, float *db, int acc_b);

/* Adaptive gradient clipping (Brock et al. 2021, "High-performance large-scale image
 * recognition without normalization"), unit-wise, in place. w and g are (rows, units) with
 * units fastest (the conv and linear weight layouts: a unit is an output channel); a vector
 * (bias, gain, BN's gamma or beta) is one unit (units = 1), as in DeepMind's code. For each
 * unit u with column norms |w_u|, |g_u|: max = lambda * max(|w_u|, NS_AGC_EPS); where
 * |g_u| >= max, g_u *= max / max(|g_u|, 1e-6) (timm's adaptive_clip_grad). Returns the
 * number of units clipped. */
#define NS_AGC_EPS 1e-3
int ns_agc_clip(size_t rows, int units, const float *w, float *g, double lambda);

/* ---- loss ------------------------------------------------------------------------------
 * Mean softmax cross-entropy over n rows of `classes` logits. Writes dlogits
 * ((softmax - onehot)/n) when dlogits is not NULL; counts wrong argmax predictions into
 * *wrong. Returns the mean loss (NaN/inf propagate so the trainer can see divergence). */
double ns_softmax_xent(int n, int classes, const float *logits, const int32_t *labels,
                       float *dlogits, int *wrong);

#endif
