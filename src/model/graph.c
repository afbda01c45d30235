/* Building the layer graph (the primitives, the stem, the stages, the head) and reading it
 * (complexity). What each block type is lives in blocks.c. */
#include "model/emit.h"

#include "util/err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[NS_L_KIND_COUNT] = {
    "input", "conv", "bn", "act", "add", "maxpool", "avgpool", "gap", "linear", "scale",
    "dropout", "shuffle", "slice", "concat", "droppath", "patchify", "tokens", "ln", "attn",
    "token0", "wsconv", "nf_act", "nf_add"};

const char *ns_layer_kind_name(enum ns_layer_kind k)
{
    return (unsigned)k < NS_L_KIND_COUNT ? kind_names[k] : "?";
}

/* ---- primitives ------------------------------------------------------------------------ */

/* Append a layer of kind reading x (and y) with output shape (h, w, c); returns its id, or
 * x when the array cannot grow (e->failed is set). */
static int append(struct ns_emit *e, enum ns_layer_kind kind, int x, int y, int h, int w, int c)
{
    struct ns_graph *g = e->g;
    if (e->failed)
        return x;
    if (g->n == g->cap) {
        int nc = g->cap ? 2 * g->cap : 64;
        struct ns_layer *p = realloc(g->layer, (size_t)nc * sizeof *p);
        if (!p) {
            e->failed = 1;
            return x;
        }
        g->layer = p;
        g->cap = nc;
    }
    struct ns_layer *l = &g->layer[g->n];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->in[0] = x;
    l->in[1] = y;
    l->h = h;
    l->w = w;
    l->c = c;
    l->stage = e->stage;
    l->block = e->block;
    return g->n++;
}

/* The layer just appended (a scratch layer once the build has failed). */
static struct ns_layer *last(struct ns_emit *e)
{
    static _Thread_local struct ns_layer scratch;
    return e->failed ? &scratch : &e->g->layer[e->g->n - 1];
}

int ns_e_h(const struct ns_emit *e, int x) { return e->g->layer[x].h; }
int ns_e_c(const struct ns_emit *e, int x) { return e->g->layer[x].c; }

int ns_e_conv_rect(struct ns_emit *e, int x, int cout, int kh, int kw, int stride, int groups,
                   int bias)
{
    const struct ns_layer *in = &e->g->layer[x];
    int ho = (in->h + 2 * (kh / 2) - kh) / stride + 1, wo = (in->w + 2 * (kw / 2) - kw) / stride + 1;
    int id = append(e, NS_L_CONV, x, -1, ho, wo, cout);
    struct ns_layer *l = last(e);
    l->k = kh;
    l->kw = kw == kh ? 0 : kw;
    l->stride = stride;
    l->pad = kh / 2;
    l->groups = groups;
    l->bias = bias;
    return id;
}

int ns_e_conv(struct ns_emit *e, int x, int cout, int k, int stride, int groups, int bias)
{
    return ns_e_conv_rect(e, x, cout, k, k, stride, groups, bias);
}

int ns_e_bn(struct ns_emit *e, int x, int relu, int res_last)
{
    const struct ns_layer *in = &e->g->layer[x];
    int id = append(e, NS_L_BN, x, -1, in->h, in->w, in->c);
    last(e)->relu = relu;
    last(e)->res_last = res_last;
    return id;
}

int ns_e_act(struct ns_emit *e, int x, enum ns_act a)
{
    const struct ns_layer *in = &e->g->layer[x];
    int id = append(e, NS_L_ACT, x, -1, in->h, in->w, in->c);
    last(e)->act = a;
    return id;
}

int ns_e_bn_act(struct ns_emit *e, int x)
{
    enum ns_act a = e->cfg->act;
    if (e->cfg->bn_order == NS_BN_AFTER_ACT)
        return ns_e_bn(e, ns_e_act(e, x, a), 0, 0);
    if (a == NS_ACT_RELU)
        return ns_e_bn(e, x, 1, 0);
    return ns_e_act(e, ns_e_bn(e, x, 0, 0), a);
}

int ns_e_conv_bn_act(struct ns_emit *e, int x, int cout, int k, int stride, int groups)
{
    return ns_e_bn_act(e, ns_e_conv(e, x, cout, k, stride, groups, 0));
}

int ns_e_add(struct ns_emit *e, int x, int y, int relu)
{
    const struct ns_layer *in = &e->g->layer[x];
    int id = append(e, NS_L_ADD, x, y, in->h, in->w, in->c);
    last(e)->relu = relu;
    return id;
}

static int pool(struct ns_emit *e, enum ns_layer_kind kind, int x, int k, int stride, int pad)
{
    const struct ns_layer *in = &e->g->layer[x];
    int ho = (in->h + 2 * pad - k) / stride + 1, wo = (in->w + 2 * pad - k) / stride + 1;
    int id = append(e, kind, x, -1, ho, wo, in->c);
    struct ns_layer *l = last(e);
    l->k = k;
    l->stride = stride;
    l->pad = pad;
    return id;
}

int ns_e_maxpool(struct ns_emit *e, int x, int k, int stride, int pad)
{
    return pool(e, NS_L_MAXPOOL, x, k, stride, pad);
}

int ns_e_avgpool(struct ns_emit *e, int x, int k, int stride, int pad)
{
    return pool(e, NS_L_AVGPOOL, x, k, stride, pad);
}

int ns_e_gap(struct ns_emit *e, int x)
{
    return append(e, NS_L_GAP, x, -1, 1, 1, ns_e_c(e, x));
}

int ns_e_linear(struct ns_emit *e, int x, int cout, int classifier)
{
    int id = append(e, NS_L_LINEAR, x, -1, 1, 1, cout);
    last(e)->bias = 1;
    last(e)->classifier = classifier;
    return id;
}

int ns_e_se(struct ns_emit *e, int x, int w_se)
{
    const struct ns_layer *in = &e->g->layer[x];
    int h = in->h, w = in->w, c = in->c;
    int s = ns_e_gap(e, x);
    s = ns_e_linear(e, s, w_se, 0);
    s = ns_e_act(e, s, e->cfg->act);
    s = ns_e_linear(e, s, c, 0);
    s = ns_e_act(e, s, NS_ACT_SIGMOID);
    return append(e, NS_L_SCALE, x, s, h, w, c);
}

int ns_e_shuffle(struct ns_emit *e, int x, int groups)
{
    const struct ns_layer *in = &e->g->layer[x];
    int id = append(e, NS_L_SHUFFLE, x, -1, in->h, in->w, in->c);
    last(e)->groups = groups;
    return id;
}

int ns_e_slice(struct ns_emit *e, int x, int lo, int c)
{
    const struct ns_layer *in = &e->g->layer[x];
    int id = append(e, NS_L_SLICE, x, -1, in->h, in->w, c);
    last(e)->lo = lo;
    return id;
}

int ns_e_concat(struct ns_emit *e, int x, int y)
{
    const struct ns_layer *a = &e->g->layer[x];
    return append(e, NS_L_CONCAT, x, y, a->h, a->w, a->c + ns_e_c(e, y));
}

int ns_e_copy(struct ns_emit *e, const struct ns_layer *l, int x, int y)
{
    int id = append(e, l->kind, x, y, l->h, l->w, l->c);
    struct ns_layer *d = last(e);
    if (!e->failed) {
        *d = *l;
        d->in[0] = x;
        d->in[1] = y;
        d->stage = e->stage;
        d->block = e->block;
    }
    return id;
}

int ns_e_drop_path(struct ns_emit *e, int x)
{
    if (!(e->drop_path > 0))
        return x;
    const struct ns_layer *in = &e->g->layer[x];
    float rate = e->drop_path * (float)e->block_no / (float)e->n_blocks;
    if (!(rate > 0))
        return x;
    int id = append(e, NS_L_DROPPATH, x, -1, in->h, in->w, in->c);
    last(e)->rate = rate;
    return id;
}

int ns_e_patchify(struct ns_emit *e, int x, int p)
{
    const struct ns_layer *in = &e->g->layer[x];
    int id = append(e, NS_L_PATCHIFY, x, -1, in->h / p, in->w / p, p * p * in->c);
    last(e)->k = p;
    return id;
}

int ns_e_tokens(struct ns_emit *e, int x)
{
    const struct ns_layer *in = &e->g->layer[x];
    return append(e, NS_L_TOKENS, x, -1, in->h * in->w + 1, 1, in->c);
}

int ns_e_ln(struct ns_emit *e, int x)
{
    const struct ns_layer *in = &e->g->layer[x];
    return append(e, NS_L_LN, x, -1, in->h, in->w, in->c);
}

int ns_e_attn(struct ns_emit *e, int qkv, int heads)
{
    const struct ns_layer *in = &e->g->layer[qkv];
    int id = append(e, NS_L_ATTN, qkv, -1, in->h, in->w, in->c / 3);
    last(e)->groups = heads;
    return id;
}

int ns_e_token0(struct ns_emit *e, int x)
{
    return append(e, NS_L_TOKEN0, x, -1, 1, 1, ns_e_c(e, x));
}

int ns_e_linear_init(struct ns_emit *e, int x, int cout, enum ns_init init, int small_bias)
{
    int id = ns_e_conv(e, x, cout, 1, 1, 1, 1);
    last(e)->init = init;
    last(e)->small_bias = small_bias;
    return id;
}

int ns_e_projection(struct ns_emit *e, int x, int w, int stride)
{
    return ns_e_bn(e, ns_e_conv(e, x, w, 1, stride, 1, 0), 0, 0);
}

/* ---- normalizer-free nets ------------------------------------------------------------ */

double ns_nf_gamma(enum ns_act a)
{
    /* 1 / std(act(z)) for z ~ N(0, 1), as estimated in the NF-ResNet paper's code */
    return a == NS_ACT_RELU ? 1.7139588594436646 : a == NS_ACT_SILU ? 1.7881293296813965 : 0.0;
}

int ns_e_wsconv(struct ns_emit *e, int x, int cout, int k, int stride, int groups)
{
    int id = ns_e_conv(e, x, cout, k, stride, groups, 1);
    last(e)->kind = NS_L_WSCONV;
    return id;
}

int ns_e_nf_act(struct ns_emit *e, int x, double mul_in)
{
    const struct ns_layer *in = &e->g->layer[x];
    int id = append(e, NS_L_NF_ACT, x, -1, in->h, in->w, in->c);
    struct ns_layer *l = last(e);
    l->act = e->cfg->act;
    l->mul_in = (float)mul_in;
    l->mul_out = (float)ns_nf_gamma(e->cfg->act);
    return id;
}

int ns_e_nf_add(struct ns_emit *e, int x, int y, double alpha)
{
    const struct ns_layer *in = &e->g->layer[x];
    int id = append(e, NS_L_NF_ADD, x, y, in->h, in->w, in->c);
    last(e)->alpha = (float)alpha;
    return id;
}

int ns_e_conv_norm_act(struct ns_emit *e, int x, int cout, int k, int stride)
{
    if (ns_block_takes(e->cfg->block) & NS_NORM_FREE)
        return ns_e_nf_act(e, ns_e_wsconv(e, x, cout, k, stride, 1), 1.0);
    return ns_e_conv_bn_act(e, x, cout, k, stride, 1);
}

/* ---- the whole network ----------------------------------------------------------------- */

static int stem(struct ns_emit *e, int x)
{
    const struct ns_config *c = e->cfg;
    switch (c->stem) {
    case NS_STEM_CIFAR:
        return ns_e_conv_norm_act(e, x, c->stem_w, 3, 1);
    case NS_STEM_SIMPLE:
        return ns_e_conv_norm_act(e, x, c->stem_w, 3, 2);
    case NS_STEM_RES:
        return ns_e_maxpool(e, ns_e_conv_norm_act(e, x, c->stem_w, 7, 2), 3, 2, 1);
    case NS_STEM_SIMPLE_POOL:
        return ns_e_maxpool(e, ns_e_conv_norm_act(e, x, c->stem_w, 3, 2), 3, 2, 1);
    case NS_STEM_PATCHIFY: /* the k = p, stride p conv with bias, as patches and a 1x1 */
        return ns_e_linear_init(e, ns_e_patchify(e, x, c->patch), c->stem_w, NS_INIT_LECUN, 0);
    case NS_STEM_CONV_PATCH: /* "early convolutions help transformers see better" */
        for (int p = c->patch; p > 1; p /= 2)
            x = ns_e_bn(e, ns_e_conv(e, x, c->stem_w, 3, 2, 1, 0), 1, 0);
        return ns_e_conv(e, x, c->stem_w, 1, 1, 1, 1);
    case NS_STEM_REPVGG:
        return ns_e_repvgg_unit(e, x, c->stem_w, 2);
    default:
        return x;
    }
}

int ns_graph_build(const struct ns_config *cfg, const struct ns_graph_opts *opts,
                   struct ns_graph *g)
{
    memset(g, 0, sizeof *g);
    if (ns_config_check_fields(cfg))
        return -1;
    struct ns_emit e = {.g = g, .cfg = cfg, .nf_var = 1.0};
    g->cfg = cfg;
    if (opts && opts->drop_path > 0) {
        e.drop_path = opts->drop_path;
        for (int i = 0; i < cfg->n_stages; i++)
            e.n_blocks += cfg->stages[i].d;
    }
    int x = append(&e, NS_L_INPUT, -1, -1, cfg->im_size, cfg->im_size, cfg->in_ch);
    x = stem(&e, x);
    const ns_emit_block_fn emit = ns_block_defs[cfg->block].emit;
    for (int i = 0; i < cfg->n_stages && !e.failed; i++) {
        const struct ns_stage *st = &cfg->stages[i];
        e.stage = i + 1;
        for (int d = 0; d < st->d && !e.failed; d++) {
            e.block = d;
            x = emit(&e, x, st, d == 0 ? st->s : 1, i);
            if (x < 0) {
                ns_graph_free(g);
                return -1;
            }
            e.block_no++;
        }
    }
    e.stage = cfg->n_stages + 1;
    e.block = 0;
    if (ns_block_defs[cfg->block].head) {
        x = ns_block_defs[cfg->block].head(&e, x);
    } else {
        if (cfg->head_w > 0)
            x = ns_e_conv_norm_act(&e, x, cfg->head_w, 1, 1);
        else if (ns_block_takes(cfg->block) & NS_NORM_FREE)
            x = ns_e_nf_act(&e, x, 1.0); /* pre-activation blocks end un-activated */
        x = ns_e_gap(&e, x);
    }
    if (opts && opts->dropout > 0) {
        x = append(&e, NS_L_DROPOUT, x, -1, 1, 1, ns_e_c(&e, x));
        last(&e)->rate = opts->dropout;
    }
    ns_e_linear(&e, x, cfg->classes, 1);
    last(&e)->init = e.zero_classifier ? NS_INIT_ZERO : NS_INIT_DEFAULT;
    if (e.failed) {
        ns_graph_free(g);
        return ns_err("out of memory building the layer graph");
    }
    g->cfg = NULL;
    return 0;
}

void ns_graph_free(struct ns_graph *g)
{
    free(g->layer);
    memset(g, 0, sizeof *g);
}

/* ---- reading it ------------------------------------------------------------------------ */

void ns_layer_complexity(const struct ns_graph *g, int id, struct ns_complexity *out)
{
    const struct ns_layer *l = &g->layer[id];
    memset(out, 0, sizeof *out);
    if (l->kind == NS_L_CONV || l->kind == NS_L_WSCONV) {
        int cin = g->layer[l->in[0]].c;
        double w = (double)l->k * ns_layer_kw(l) * cin * l->c / l->groups;
        /* a bias costs one add per output element */
        out->flops = w * l->h * l->w + (l->bias ? (double)l->c * l->h * l->w : 0);
        /* a WS conv's gain: one parameter per output channel (the standardization itself
         * is per weight, not per image: no flops) */
        out->params = w + (l->bias ? l->c : 0) + (l->kind == NS_L_WSCONV ? l->c : 0);
        out->acts = (double)l->c * l->h * l->w;
    } else if (l->kind == NS_L_LINEAR) {
        double w = (double)g->layer[l->in[0]].c * l->c;
        out->flops = w + l->c;
        out->params = w + l->c;
        out->acts = l->c;
    } else if (l->kind == NS_L_BN || l->kind == NS_L_LN) {
        out->params = 2.0 * l->c;
    } else if (l->kind == NS_L_TOKENS) {
        out->params = (double)l->c * (l->h + 1); /* class token, position embedding */
    } else if (l->kind == NS_L_ATTN) {
        /* pycls: the two batched matmuls, q k^T and P v, and the attention map */
        double T = l->h * l->w, heads = l->groups, dh = l->c / l->groups;
        out->flops = 2 * heads * T * T * dh;
        out->acts = heads * T * T + heads * T * dh;
    }
}

double ns_layer_params(const struct ns_graph *g, int id)
{
    struct ns_complexity c;
    ns_layer_complexity(g, id, &c);
    return c.params;
}

void ns_graph_complexity(const struct ns_graph *g, struct ns_complexity *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < g->n; i++) {
        struct ns_complexity c;
        ns_layer_complexity(g, i, &c);
        out->flops += c.flops;
        out->params += c.params;
        out->acts += c.acts;
    }
}

int ns_complexity(const struct ns_config *c, struct ns_complexity *out)
{
    struct ns_graph g;
    if (ns_graph_build(c, NULL, &g))
        return -1;
    ns_graph_complexity(&g, out);
    ns_graph_free(&g);
    return 0;
}
