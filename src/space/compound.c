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
