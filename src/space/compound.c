/* Compound scaling (EfficientNet): one coefficient phi scales a base network's depth,
 * width and resolution together, by alpha^phi, beta^phi and gamma^phi. */
#include "space/space.h"
#include "space/space_internal.h"

#include "util/err.h"

#include <math.h>

/* EfficientNet's round_filters: the nearest multiple of 8 (at least 8), one step up when
 * rounding lost more than 10 %. */
static int round_filters(double v)
{
    int r = (int)(v + 4) / 8 * 8;
    if (r < 8)
        r = 8;
    if (r < 0.9 * v)
        r += 8;
    return r;
}

int ns_compound_scale(const struct ns_config *base, const struct ns_compound *k,
                      struct ns_config *out)
{
    if (!(k->alpha >= 1 && k->beta >= 1 && k->gamma >= 1) || !isfinite(k->phi))
        return ns_err("compound: alpha %g, beta %g, gamma %g must be >= 1, phi %g finite",
                      k->alpha, k->beta, k->gamma, k->phi);
    const double dm = pow(k->alpha, k->phi), wm = pow(k->beta, k->phi), rm = pow(k->gamma, k->phi);
    struct ns_config c = *base;
    const unsigned takes = ns_block_takes(c.block);
    for (int i = 0; i < c.n_stages; i++) {
        struct ns_stage *st = &c.stages[i];
        st->d = (int)ceil(st->d * dm);
        st->w = round_filters(st->w * wm);
        if (takes & NS_TOKENS) /* a transformer: the head width must divide the width */
            st->w = (st->w + st->g / 2) / st->g * st->g > 0 ? (st->w + st->g / 2) / st->g * st->g
                                                             : st->g;
        else if (takes & NS_TAKES_G)
            ns_sp_adjust_compat(st); /* the group width must still divide the bottleneck */
    }
    c.stem_w = round_filters(c.stem_w * wm);
    if (takes & NS_TOKENS) /* the patch embedding makes tokens of the encoder's width */
        c.stem_w = c.stages[0].w;
    if (c.head_w)
        c.head_w = round_filters(c.head_w * wm);
    c.im_size = (int)rint(c.im_size * rm);
    if (c.patch > 0) /* a patch stem needs a multiple of its patch */
        c.im_size = (c.im_size + c.patch / 2) / c.patch * c.patch;
    ns_config_normalize(&c);
    if (ns_config_check(&c))
        return ns_err_prefix("compound scaling by phi %g", k->phi);
    *out = c;
    return 0;
}

const char *const ns_scale_dim_names[NS_SCALE_DIMS] = {"base", "depth", "width", "resolution",
                                                       "compound"};

/* The coefficients that scale along dim by x: alpha (depth), beta (width) or gamma
 * (resolution) = x with phi 1, or phi = x with coef's three (compound). */
static struct ns_compound scale_by(enum ns_scale_dim dim, double x, const struct ns_compound *coef)
{
    struct ns_compound k = {1, 1, 1, 1};
    if (dim == NS_SCALE_DEPTH)
        k.alpha = x;
    else if (dim == NS_SCALE_WIDTH)
        k.beta = x;
    else if (dim == NS_SCALE_RESOLUTION)
        k.gamma = x;
    else if (dim == NS_SCALE_COMPOUND)
        k = (struct ns_compound){x, coef->alpha, coef->beta, coef->gamma};
    else
        k.phi = 0;
    return k;
}

int ns_scale_to_flops(const struct ns_config *base, enum ns_scale_dim dim, double mult,
                      const struct ns_compound *coef, struct ns_compound *used,
                      struct ns_config *out)
{
    struct ns_complexity cx;
    if (ns_complexity(base, &cx))
        return ns_err_prefix("scaling: the base");
    if (!(mult >= 1 && mult <= 1024))
        return ns_err("scaling: a flops multiple of %g (1 to 1024)", mult);
    if (dim == NS_SCALE_BASE || mult == 1) {
        *used = scale_by(NS_SCALE_BASE, 0, coef);
        return ns_compound_scale(base, used, out);
    }
    if (dim != NS_SCALE_DEPTH && dim != NS_SCALE_WIDTH && dim != NS_SCALE_RESOLUTION &&
        dim != NS_SCALE_COMPOUND)
        return ns_err("scaling: unknown dimension %d", (int)dim);
    if (dim == NS_SCALE_COMPOUND && !(coef->alpha * coef->beta * coef->gamma > 1))
        return ns_err("scaling: compound coefficients alpha %g, beta %g, gamma %g scale nothing",
                      coef->alpha, coef->beta, coef->gamma);
    /* A scan of the one free coefficient: depths, widths and sizes are rounded, so the flops
     * are a step function of it; the first value of the step nearest the target (in log
     * ratio) wins. Coefficients up to 16 (depth) or 8 (width, resolution), phi up to 24. */
    const double target = log(mult * cx.flops);
    const double hi = dim == NS_SCALE_DEPTH ? 16 : dim == NS_SCALE_COMPOUND ? 24 : 8;
    const double lo = dim == NS_SCALE_COMPOUND ? 0 : 1;
    const int steps = 4000;
    double best = INFINITY, best_ratio = NAN;
    for (int i = 0; i <= steps; i++) {
        const double x = lo + (hi - lo) * i / steps;
        struct ns_compound k = scale_by(dim, x, coef);
        struct ns_config c;
        struct ns_complexity kx;
        if (ns_compound_scale(base, &k, &c) || ns_complexity(&c, &kx))
            continue;
        const double d = fabs(log(kx.flops) - target);
        if (d < best - 1e-12) {
            best = d;
            best_ratio = kx.flops / cx.flops;
            *used = k;
            *out = c;
        }
    }
    if (!isfinite(best))
        return ns_err("scaling: no %s scaling of the base builds a network",
                      ns_scale_dim_names[dim]);
    if (best > log(1.25)) /* the scan's range ends, or the rounding steps are too coarse */
        return ns_err("scaling: %s scaling reaches no network within 25 %% of %g x the base's "
                      "flops (nearest: %.3g x)",
                      ns_scale_dim_names[dim], mult, best_ratio);
    return 0;
}
