/* Exact forward cost of a config, layer by layer as modelcfg.h describes the network, with
 * pycls's counting conventions (conv output (h-1)//s+1, grouped cost divided by the groups,
 * BN = two params per channel, SE at 1x1, FC with bias). */
#include "space/space.h"

#include "util/err.h"

#include <string.h>

/* A running count plus the current feature map size (square). */
struct cx {
    double flops, params, acts;
    int h;
};

static void conv(struct cx *c, int w_in, int w_out, int k, int stride, int groups, int bias)
{
    c->h = (c->h - 1) / stride + 1;
    double hw = (double)c->h * c->h;
    c->flops += (double)k * k * w_in * w_out * hw / groups + (bias ? w_out : 0);
    c->params += (double)k * k * w_in * w_out / groups + (bias ? w_out : 0);
    c->acts += (double)w_out * hw;
}

static void bn(struct cx *c, int w)
{
    c->params += 2.0 * w;
}

static void pool(struct cx *c, int stride)
{
    c->h = (c->h - 1) / stride + 1;
}

/* Squeeze-and-excitation on w channels: two 1x1 convs with bias on the pooled vector. */
static void se(struct cx *c, int w, int w_se)
{
    int h = c->h;
    c->h = 1;
    conv(c, w, w_se, 1, 1, 1, 1);
    conv(c, w_se, w, 1, 1, 1, 1);
    c->h = h;
}

/* Projection shortcut (1x1 strided conv, BN unless said) counted from the block input size. */
static void shortcut(struct cx *c, int h_in, int w_in, int w, int s, int with_bn)
{
    struct cx p = {0, 0, 0, h_in};
    conv(&p, w_in, w, 1, s, 1, 0);
    if (with_bn)
        bn(&p, w);
    c->flops += p.flops;
    c->params += p.params;
    c->acts += p.acts;
}

static void block(struct cx *c, const struct ns_config *cfg, const struct ns_stage *st, int w_in,
                  int s)
{
    const int w = st->w, h_in = c->h;
    const int proj = s != 1 || w_in != w;
    switch (cfg->block) {
    case NS_BLOCK_VANILLA:
    case NS_BLOCK_RES_BASIC:
        conv(c, w_in, w, 3, s, 1, 0);
        bn(c, w);
        conv(c, w, w, 3, 1, 1, 0);
        bn(c, w);
        if (cfg->block == NS_BLOCK_RES_BASIC && proj)
            shortcut(c, h_in, w_in, w, s, 1);
        break;
    case NS_BLOCK_X:
    case NS_BLOCK_Y: {
        int wb = ns_round_even(w * st->b);
        conv(c, w_in, wb, 1, 1, 1, 0);
        bn(c, wb);
        conv(c, wb, wb, 3, s, wb / st->g, 0);
        bn(c, wb);
        if (cfg->block == NS_BLOCK_Y)
            se(c, wb, ns_round_even(cfg->se_r * w_in));
        conv(c, wb, w, 1, 1, 1, 0);
        bn(c, w);
        if (proj)
            shortcut(c, h_in, w_in, w, s, 1);
        break;
    }
    case NS_BLOCK_SEP:
        bn(c, w_in);
        conv(c, w_in, w_in, 3, 1, w_in, 0);
        conv(c, w_in, w, 1, 1, 1, 0);
        bn(c, w);
        conv(c, w, w, 3, 1, w, 0);
        conv(c, w, w, 1, 1, 1, 0);
        if (s == 2)
            pool(c, 2);
        if (proj)
            shortcut(c, h_in, w_in, w, s, 0);
        break;
    case NS_BLOCK_MBCONV: {
        int we = ns_round_even(w_in * st->b);
        if (st->b != 1.0) {
            conv(c, w_in, we, 1, 1, 1, 0);
            bn(c, we);
        } else {
            we = w_in;
        }
        conv(c, we, we, 3, s, we, 0);
        bn(c, we);
        if (cfg->se_r > 0)
            se(c, we, ns_round_even(cfg->se_r * w_in));
        conv(c, we, w, 1, 1, 1, 0);
        bn(c, w);
        break;
    }
    default:
        break;
    }
}

/* ns_config_check lets through squeeze-and-excitation of width 0 (se_r * w_in rounding to 0,
 * or block y without se_r), which no network can build. */
static int check_se(const struct ns_config *cfg)
{
    if (cfg->block == NS_BLOCK_Y && !(cfg->se_r > 0))
        return ns_err("se_r: block y needs an SE ratio > 0");
    if (cfg->block != NS_BLOCK_Y && !(cfg->block == NS_BLOCK_MBCONV && cfg->se_r > 0))
        return 0;
    int w_in = cfg->stem_w;
    for (int i = 0; i < cfg->n_stages; i++) {
        int lo = w_in < cfg->stages[i].w ? w_in : cfg->stages[i].w;
        if (ns_round_even(cfg->se_r * lo) < 1)
            return ns_err("stages[%d]: SE width round(%g * %d) is 0", i, cfg->se_r, lo);
        w_in = cfg->stages[i].w;
    }
    return 0;
}

int ns_complexity(const struct ns_config *cfg, struct ns_complexity *out)
{
    if (ns_config_check(cfg) || check_se(cfg))
        return -1;
    struct cx c = {0, 0, 0, cfg->im_size};
    switch (cfg->stem) {
    case NS_STEM_CIFAR:
        conv(&c, cfg->in_ch, cfg->stem_w, 3, 1, 1, 0);
        bn(&c, cfg->stem_w);
        break;
    case NS_STEM_SIMPLE:
        conv(&c, cfg->in_ch, cfg->stem_w, 3, 2, 1, 0);
        bn(&c, cfg->stem_w);
        break;
    case NS_STEM_RES:
        conv(&c, cfg->in_ch, cfg->stem_w, 7, 2, 1, 0);
        bn(&c, cfg->stem_w);
        pool(&c, 2);
        break;
    default:
        break;
    }
    int w_in = cfg->stem_w;
    for (int i = 0; i < cfg->n_stages; i++) {
        const struct ns_stage *st = &cfg->stages[i];
        for (int k = 0; k < st->d; k++) {
            block(&c, cfg, st, w_in, k == 0 ? st->s : 1);
            w_in = st->w;
        }
    }
    c.h = 1; /* global average pool */
    c.flops += (double)w_in * cfg->classes + cfg->classes;
    c.params += (double)w_in * cfg->classes + cfg->classes;
    c.acts += cfg->classes;
    memset(out, 0, sizeof *out);
    out->flops = c.flops;
    out->params = c.params;
    out->acts = c.acts;
    return 0;
}
