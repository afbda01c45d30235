#include "util/modelcfg.h"

#include "util/err.h"

#include <math.h>
#include <string.h>

static const char *block_names[NS_BLOCK_COUNT] = {"vanilla", "res_basic", "x", "y", "sep", "mbconv"};
static const char *stem_names[NS_STEM_COUNT] = {"cifar", "simple", "res"};
static const char *bn_order_names[NS_BN_ORDER_COUNT] = {"before_act", "after_act"};

const char *ns_block_name(enum ns_block b)
{
    return (unsigned)b < NS_BLOCK_COUNT ? block_names[b] : NULL;
}

int ns_block_from_name(const char *name)
{
    for (int i = 0; i < NS_BLOCK_COUNT; i++)
        if (strcmp(name, block_names[i]) == 0)
            return i;
    return -1;
}

const char *ns_stem_name(enum ns_stem s)
{
    return (unsigned)s < NS_STEM_COUNT ? stem_names[s] : NULL;
}

int ns_stem_from_name(const char *name)
{
    for (int i = 0; i < NS_STEM_COUNT; i++)
        if (strcmp(name, stem_names[i]) == 0)
            return i;
    return -1;
}

const char *ns_bn_order_name(enum ns_bn_order o)
{
    return (unsigned)o < NS_BN_ORDER_COUNT ? bn_order_names[o] : NULL;
}

int ns_bn_order_from_name(const char *name)
{
    for (int i = 0; i < NS_BN_ORDER_COUNT; i++)
        if (strcmp(name, bn_order_names[i]) == 0)
            return i;
    return -1;
}

int ns_round_even(double v) { return (int)rint(v); }

int ns_config_check(const struct ns_config *c)
{
    if (c->in_ch < 1 || c->in_ch > 64)
        return ns_err("in_ch: %d is not in 1..64", c->in_ch);
    if (c->im_size < 4 || c->im_size > 1024)
        return ns_err("im_size: %d is not in 4..1024", c->im_size);
    if (c->classes < 2)
        return ns_err("classes: %d, need at least 2", c->classes);
    if ((unsigned)c->stem >= NS_STEM_COUNT)
        return ns_err("stem.type: unknown stem");
    if (c->stem_w < 1 || c->stem_w > 4096)
        return ns_err("stem.w: %d is not in 1..4096", c->stem_w);
    if ((unsigned)c->block >= NS_BLOCK_COUNT)
        return ns_err("block: unknown block type");
    if ((unsigned)c->bn_order >= NS_BN_ORDER_COUNT)
        return ns_err("bn_order: unknown order");
    if (c->bn_order == NS_BN_AFTER_ACT && c->block == NS_BLOCK_SEP)
        return ns_err("bn_order: sep blocks are pre-activation (BN, ReLU, conv); after_act "
                      "is for the other block types");
    if (c->n_stages < 1 || c->n_stages > NS_MAX_STAGES)
        return ns_err("stages: %d stages, need 1..%d", c->n_stages, NS_MAX_STAGES);
    if (!(c->se_r >= 0 && c->se_r < 1))
        return ns_err("se_r: %g is not in [0, 1)", c->se_r);
    if (c->block == NS_BLOCK_Y && !(c->se_r > 0))
        return ns_err("se_r: block y needs squeeze-and-excitation (se_r > 0)");
    int has_se = (c->block == NS_BLOCK_Y || c->block == NS_BLOCK_MBCONV) && c->se_r > 0;
    int w_in = c->stem_w;
    for (int i = 0; i < c->n_stages; i++) {
        const struct ns_stage *s = &c->stages[i];
        if (s->d < 1 || s->d > 256)
            return ns_err("stages[%d].d: %d is not in 1..256", i, s->d);
        if (s->w < 1 || s->w > 8192)
            return ns_err("stages[%d].w: %d is not in 1..8192", i, s->w);
        if (s->s != 1 && s->s != 2)
            return ns_err("stages[%d].s: stride %d, must be 1 or 2", i, s->s);
        if (!(s->b > 0 && s->b <= 16))
            return ns_err("stages[%d].b: %g is not in (0, 16]", i, s->b);
        if (c->block == NS_BLOCK_X || c->block == NS_BLOCK_Y) {
            int wb = ns_round_even(s->w * s->b);
            if (wb < 1)
                return ns_err("stages[%d].b: bottleneck width round(%d*%g) is 0", i, s->w, s->b);
            if (s->g < 1 || wb % s->g != 0)
                return ns_err("stages[%d].g: group width %d does not divide the bottleneck "
                              "width %d", i, s->g, wb);
        }
        /* the first block of a stage sees w_in, the others the stage width */
        if (has_se && (ns_round_even(c->se_r * w_in) < 1 || ns_round_even(c->se_r * s->w) < 1))
            return ns_err("stages[%d]: SE width round(%g * %d) is 0", i,
                          c->se_r, ns_round_even(c->se_r * w_in) < 1 ? w_in : s->w);
        if (c->block == NS_BLOCK_MBCONV && ns_round_even(w_in * s->b) < 1)
            return ns_err("stages[%d].b: expanded width round(%d*%g) is 0", i, w_in, s->b);
        w_in = s->w;
    }
    return 0;
}

void ns_config_bench_net(struct ns_config *c)
{
    memset(c, 0, sizeof *c);
    c->in_ch = 1;
    c->im_size = 28;
    c->classes = 10;
    c->stem = NS_STEM_CIFAR;
    c->stem_w = 16;
    c->block = NS_BLOCK_X;
    c->n_stages = 3;
    const int w[3] = {32, 64, 128}, d[3] = {1, 2, 4};
    for (int i = 0; i < 3; i++)
        c->stages[i] = (struct ns_stage){.d = d[i], .w = w[i], .s = 2, .g = 8, .b = 1.0};
}
