/* Building a network from a model config, and running it forward and backward.
 * The block structures are the ones documented in src/util/modelcfg.h; src/space's
 * complexity counts exactly these layers. */
#include "nn/net.h"

#include "util/err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- building ----------------------------------------------------------------------- */

struct builder {
    struct ns_net *net;
    int cap_nodes, cap_tensors, cap_params;
    size_t fused_len;
    int failed;            /* out of memory: the build is abandoned at the end */
    struct ns_node dummy;  /* written instead of a node that could not be added */
};

/* The node added last (the dummy once the build has failed). */
static struct ns_node *last(struct builder *b)
{
    return b->failed || b->net->n_nodes == 0 ? &b->dummy : &b->net->nodes[b->net->n_nodes - 1];
}

static void *grow(void *p, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return p;
    int nc = *cap ? *cap * 2 : 64;
    while (nc < need)
        nc *= 2;
    void *q = realloc(p, (size_t)nc * elem);
    if (!q)
        return NULL;
    memset((char *)q + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
    *cap = nc;
    return q;
}

static int add_tensor(struct builder *b, int h, int w, int c)
{
    struct ns_net *n = b->net;
    void *t = grow(n->tensors, &b->cap_tensors, n->n_tensors + 1, sizeof *n->tensors);
    if (!t) {
        b->failed = 1;
        return 0;
    }
    n->tensors = t;
    struct ns_tensor *x = &n->tensors[n->n_tensors];
    x->h = h;
    x->w = w;
    x->c = c;
    x->per_image = (size_t)h * w * c;
    return n->n_tensors++;
}

static int add_param(struct builder *b, size_t len, enum ns_param_kind kind, int fan_out)
{
    struct ns_net *n = b->net;
    void *p = grow(n->params, &b->cap_params, n->n_params + 1, sizeof *n->params);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    n->params = p;
    n->params[n->n_params] = (struct ns_param){.off = n->n_weights, .len = len, .kind = kind,
                                               .fan_out = fan_out};
    n->n_weights += len;
    return n->n_params++;
}

static struct ns_node *add_node(struct builder *b, enum ns_node_kind kind, int in0, int in1)
{
    struct ns_net *n = b->net;
    void *p = grow(n->nodes, &b->cap_nodes, n->n_nodes + 1, sizeof *n->nodes);
    if (!p) {
        b->failed = 1;
        return &b->dummy;
    }
    n->nodes = p;
    struct ns_node *nd = &n->nodes[n->n_nodes++];
    nd->kind = kind;
    nd->in[0] = in0;
    nd->in[1] = in1;
    nd->w = nd->b = -1;
    return nd;
}

static int T(struct builder *b, int id, int what)
{
    const struct ns_tensor *t = &b->net->tensors[id];
    return what == 0 ? t->h : what == 1 ? t->w : t->c;
}

static int conv(struct builder *b, int x, int cout, int k, int stride, int groups, int bias)
{
    int h = T(b, x, 0), w = T(b, x, 1), cin = T(b, x, 2);
    struct ns_node *nd = add_node(b, NS_N_CONV, x, -1);
    ns_conv_setup(&nd->u.conv, h, w, cin, cout, k, stride, groups, bias);
    nd->w = add_param(b, (size_t)k * k * (cin / groups) * cout, NS_P_CONV_W, k * k * cout);
    if (bias)
        nd->b = add_param(b, cout, NS_P_BIAS, 0);
    nd->stat = b->fused_len; /* the bias slot used after BN fusion */
    b->fused_len += (size_t)cout;
    int out = add_tensor(b, nd->u.conv.ho, nd->u.conv.wo, cout);
    last(b)->out = out;
    return out;
}

static int bn(struct builder *b, int x, int relu, int zero_gamma)
{
    int c = T(b, x, 2);
    struct ns_node *nd = add_node(b, NS_N_BN, x, -1);
    nd->u.bn = (struct ns_bn){.m_per_image = T(b, x, 0) * T(b, x, 1), .c = c, .relu = relu};
    nd->stat = b->net->bn_state_len;
    b->net->bn_state_len += 4 * (size_t)c;
    int gi = add_param(b, c, NS_P_BN_GAMMA, 0);
    int bi = add_param(b, c, NS_P_BN_BETA, 0);
    if (gi >= 0)
        b->net->params[gi].zero_init = zero_gamma;
    nd = last(b);
    nd->w = gi;
    nd->b = bi;
    int out = add_tensor(b, T(b, x, 0), T(b, x, 1), c);
    last(b)->out = out;
    return out;
}

static int simple(struct builder *b, enum ns_node_kind kind, int x, int y, int h, int w, int c)
{
    add_node(b, kind, x, y);
    int out = add_tensor(b, h, w, c);
    last(b)->out = out;
    return out;
}

static int act(struct builder *b, int x, enum ns_act a)
{
    int out = simple(b, NS_N_ACT, x, -1, T(b, x, 0), T(b, x, 1), T(b, x, 2));
    last(b)->u.act = a;
    return out;
}

/* The "BN, ReLU" after a conv, in the config's order: BN with the ReLU fused into it, or
 * ReLU then BN (bn_order after_act). */
static int bn_relu(struct builder *b, int x)
{
    if (b->net->cfg.bn_order == NS_BN_AFTER_ACT)
        return bn(b, act(b, x, NS_ACT_RELU), 0, 0);
    return bn(b, x, 1, 0);
}

static int add(struct builder *b, int x, int y, int relu)
{
    int out = simple(b, NS_N_ADD, x, y, T(b, x, 0), T(b, x, 1), T(b, x, 2));
    last(b)->relu = relu;
    return out;
}

static int maxpool(struct builder *b, int x, int k, int stride, int pad)
{
    struct ns_pool2d q;
    ns_pool2d_setup(&q, T(b, x, 0), T(b, x, 1), T(b, x, 2), k, stride, pad);
    int out = simple(b, NS_N_MAXPOOL, x, -1, q.ho, q.wo, q.c);
    last(b)->u.pool = q;
    return out;
}

static int gap(struct builder *b, int x)
{
    int out = simple(b, NS_N_GAP, x, -1, 1, 1, T(b, x, 2));
    struct ns_node *nd = last(b);
    nd->u.gap.hw = T(b, x, 0) * T(b, x, 1);
    nd->u.gap.c = T(b, x, 2);
    return out;
}

static int linear(struct builder *b, int x, int cout, enum ns_param_kind wkind, int fan_out)
{
    int cin = T(b, x, 2);
    int out = simple(b, NS_N_LINEAR, x, -1, 1, 1, cout);
    int wi = add_param(b, (size_t)cin * cout, wkind, fan_out);
    int bi = add_param(b, cout, NS_P_BIAS, 0);
    struct ns_node *nd = last(b);
    nd->u.lin.cin = cin;
    nd->u.lin.cout = cout;
    nd->w = wi;
    nd->b = bi;
    return out;
}

/* Squeeze-and-excitation on x (wb channels) with w_se hidden units. */
static int squeeze_excite(struct builder *b, int x, int w_se)
{
    int c = T(b, x, 2);
    int s = gap(b, x);
    /* the SE's 1x1 convs at 1x1 resolution are linear layers; init as convs (fan_out) */
    s = linear(b, s, w_se, NS_P_CONV_W, w_se);
    s = act(b, s, NS_ACT_RELU);
    s = linear(b, s, c, NS_P_CONV_W, c);
    s = act(b, s, NS_ACT_SIGMOID);
    return simple(b, NS_N_SCALE, x, s, T(b, x, 0), T(b, x, 1), c);
}

static int projection(struct builder *b, int x, int w, int stride)
{
    return bn(b, conv(b, x, w, 1, stride, 1, 0), 0, 0);
}

static int block(struct builder *b, const struct ns_config *cfg, int x, const struct ns_stage *st,
                 int stride, int zero_last)
{
    int w_in = T(b, x, 2), w = st->w;
    int need_proj = stride != 1 || w_in != w;
    switch (cfg->block) {
    case NS_BLOCK_VANILLA: {
        int y = bn_relu(b, conv(b, x, w, 3, stride, 1, 0));
        return bn_relu(b, conv(b, y, w, 3, 1, 1, 0));
    }
    case NS_BLOCK_RES_BASIC: {
        int sc = need_proj ? projection(b, x, w, stride) : x;
        int y = bn_relu(b, conv(b, x, w, 3, stride, 1, 0));
        y = bn(b, conv(b, y, w, 3, 1, 1, 0), 0, zero_last);
        return add(b, y, sc, 1);
    }
    case NS_BLOCK_X:
    case NS_BLOCK_Y: {
        int wb = ns_round_even(w * st->b), groups = wb / st->g;
        int sc = need_proj ? projection(b, x, w, stride) : x;
        int y = bn_relu(b, conv(b, x, wb, 1, 1, 1, 0));
        y = bn_relu(b, conv(b, y, wb, 3, stride, groups, 0));
        if (cfg->block == NS_BLOCK_Y && cfg->se_r > 0)
            y = squeeze_excite(b, y, ns_round_even(cfg->se_r * w_in));
        y = bn(b, conv(b, y, w, 1, 1, 1, 0), 0, zero_last);
        return add(b, y, sc, 1);
    }
    case NS_BLOCK_SEP: {
        int sc = need_proj ? conv(b, x, w, 1, stride, 1, 0) : x;
        int y = bn(b, x, 1, 0);
        y = conv(b, y, w_in, 3, 1, w_in, 0); /* depthwise */
        y = conv(b, y, w, 1, 1, 1, 0);       /* pointwise */
        y = bn(b, y, 1, 0);
        y = conv(b, y, w, 3, 1, w, 0);
        y = conv(b, y, w, 1, 1, 1, 0);
        if (stride == 2)
            y = maxpool(b, y, 3, 2, 1);
        return add(b, y, sc, 0);
    }
    case NS_BLOCK_MBCONV: {
        int we = ns_round_even(w_in * st->b);
        int y = x;
        if (st->b != 1.0)
            y = bn_relu(b, conv(b, y, we, 1, 1, 1, 0));
        y = bn_relu(b, conv(b, y, we, 3, stride, we, 0));
        if (cfg->se_r > 0)
            y = squeeze_excite(b, y, ns_round_even(cfg->se_r * w_in));
        y = bn(b, conv(b, y, w, 1, 1, 1, 0), 0, zero_last && !need_proj);
        return need_proj ? y : add(b, y, x, 0);
    }
    default:
        return x;
    }
}

static void *alloc_floats(struct ns_net *net, size_t n)
{
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    if (bytes == 0)
        bytes = 64;
    void *p = aligned_alloc(64, bytes);
    if (p) {
        memset(p, 0, bytes);
        net->bytes += bytes;
    }
    return p;
}

struct ns_net *ns_net_build(const struct ns_config *cfg, int max_batch, float dropout,
                            int zero_init_last_bn, struct ns_pool *pool)
{
    if (ns_config_check(cfg) != 0)
        return NULL;
    if (max_batch < 1) {
        ns_err("batch: %d is not >= 1", max_batch);
        return NULL;
    }
    struct ns_net *net = calloc(1, sizeof *net);
    if (!net) {
        ns_err("out of memory");
        return NULL;
    }
    net->cfg = *cfg;
    net->max_batch = max_batch;
    net->pool = pool;
    struct builder bd = {.net = net};
    struct builder *b = &bd;

    net->input = add_tensor(b, cfg->im_size, cfg->im_size, cfg->in_ch);
    int x = net->input;
    switch (cfg->stem) {
    case NS_STEM_CIFAR:
        x = bn_relu(b, conv(b, x, cfg->stem_w, 3, 1, 1, 0));
        break;
    case NS_STEM_SIMPLE:
        x = bn_relu(b, conv(b, x, cfg->stem_w, 3, 2, 1, 0));
        break;
    default:
        x = bn_relu(b, conv(b, x, cfg->stem_w, 7, 2, 1, 0));
        x = maxpool(b, x, 3, 2, 1);
        break;
    }
    for (int s = 0; s < cfg->n_stages && !b->failed; s++)
        for (int d = 0; d < cfg->stages[s].d; d++)
            x = block(b, cfg, x, &cfg->stages[s], d == 0 ? cfg->stages[s].s : 1, zero_init_last_bn);
    x = gap(b, x);
    if (dropout > 0) {
        x = simple(b, NS_N_DROPOUT, x, -1, 1, 1, T(b, x, 2));
        last(b)->u.rate = dropout;
        net->drop_len = (size_t)max_batch * T(b, x, 2);
    }
    net->logits = linear(b, x, cfg->classes, NS_P_FC_W, 0);
    if (b->failed)
        goto oom;

    /* Backward overwrites a tensor's gradient at its first use in reverse order and adds
     * at the later ones (a residual block's input feeds two branches). */
    char *seen = calloc((size_t)net->n_tensors, 1);
    if (!seen)
        goto oom;
    for (int i = net->n_nodes - 1; i >= 0; i--)
        for (int j = 0; j < 2; j++) {
            int t = net->nodes[i].in[j];
            if (t < 0)
                continue;
            net->nodes[i].acc[j] = seen[t];
            seen[t] = 1;
        }
    free(seen);

    int nth = ns_pool_size(pool);
    size_t act = 0, scratch = 0;
    for (int i = 0; i < net->n_tensors; i++)
        act += (net->tensors[i].per_image * max_batch + 15) / 16 * 16;
    for (int i = 0; i < net->n_nodes; i++) {
        size_t s = 0;
        if (net->nodes[i].kind == NS_N_CONV)
            s = ns_conv_scratch(&net->nodes[i].u.conv, max_batch, nth);
        else if (net->nodes[i].kind == NS_N_BN)
            s = ns_bn_scratch(&net->nodes[i].u.bn, nth);
        scratch = s > scratch ? s : scratch;
    }
    net->act_len = act;
    net->scratch_len = scratch;
    net->w = alloc_floats(net, net->n_weights);
    net->dw = alloc_floats(net, net->n_weights);
    net->mom = alloc_floats(net, net->n_weights);
    net->bn_state = alloc_floats(net, net->bn_state_len);
    net->fused_bias = alloc_floats(net, bd.fused_len);
    net->act_mem = alloc_floats(net, act);
    net->grad_mem = alloc_floats(net, act);
    net->scratch = alloc_floats(net, scratch);
    net->drop_mask = net->drop_len ? malloc(net->drop_len) : NULL;
    if (!net->w || !net->dw || !net->mom || !net->bn_state || !net->fused_bias || !net->act_mem ||
        !net->grad_mem || !net->scratch || (net->drop_len && !net->drop_mask))
        goto oom;
    size_t off = 0;
    for (int i = 0; i < net->n_tensors; i++) {
        net->tensors[i].data = net->act_mem + off;
        net->tensors[i].grad = net->grad_mem + off;
        off += (net->tensors[i].per_image * max_batch + 15) / 16 * 16;
    }
    return net;
oom:
    ns_net_free(net);
    ns_err("out of memory building the network");
    return NULL;
}

void ns_net_free(struct ns_net *net)
{
    if (!net)
        return;
    free(net->nodes);
    free(net->tensors);
    free(net->params);
    free(net->w);
    free(net->dw);
    free(net->mom);
    free(net->bn_state);
    free(net->fused_bias);
    free(net->act_mem);
    free(net->grad_mem);
    free(net->scratch);
    free(net->drop_mask);
    free(net);
}

long long ns_net_param_count(const struct ns_net *net) { return (long long)net->n_weights; }

void ns_net_init(struct ns_net *net, uint64_t seed)
{
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, seed, 0x1a17u);
    for (int i = 0; i < net->n_params; i++) {
        const struct ns_param *p = &net->params[i];
        float *w = net->w + p->off;
        double sd = p->kind == NS_P_CONV_W ? sqrt(2.0 / p->fan_out) : 0.01;
        for (size_t j = 0; j < p->len; j++) {
            switch (p->kind) {
            case NS_P_CONV_W:
            case NS_P_FC_W:
                w[j] = (float)(sd * ns_pcg32_normal(&rng));
                break;
            case NS_P_BN_GAMMA:
                w[j] = p->zero_init ? 0.0f : 1.0f;
                break;
            default:
                w[j] = 0.0f;
            }
        }
    }
    memset(net->mom, 0, sizeof(float) * net->n_weights);
    for (int i = 0; i < net->n_nodes; i++) {
        const struct ns_node *nd = &net->nodes[i];
        if (nd->kind != NS_N_BN)
            continue;
        float *st = net->bn_state + nd->stat;
        for (int c = 0; c < nd->u.bn.c; c++) {
            st[c] = 0.0f;
            st[nd->u.bn.c + c] = 1.0f;
        }
    }
}

void ns_net_sgd_step(struct ns_net *net, double lr, double momentum, double wd, int nesterov)
{
    float m = (float)momentum, dec = (float)wd, eta = (float)lr;
    float *restrict w = net->w, *restrict g = net->dw, *restrict buf = net->mom;
    size_t n = net->n_weights;
    if (nesterov)
        for (size_t i = 0; i < n; i++) {
            float d = g[i] + dec * w[i];
            buf[i] = m * buf[i] + d;
            w[i] -= eta * (d + m * buf[i]);
        }
    else
        for (size_t i = 0; i < n; i++) {
            float d = g[i] + dec * w[i];
            buf[i] = m * buf[i] + d;
            w[i] -= eta * buf[i];
        }
}

void ns_net_zero_grad(struct ns_net *net) { memset(net->dw, 0, sizeof(float) * net->n_weights); }

/* ---- running ------------------------------------------------------------------------ */

static float *P(struct ns_net *net, int id) { return id >= 0 ? net->w + net->params[id].off : NULL; }
static float *G(struct ns_net *net, int id) { return id >= 0 ? net->dw + net->params[id].off : NULL; }

const float *ns_net_forward(struct ns_net *net, int n, const float *x, int train,
                            struct ns_pcg32 *rng)
{
    struct ns_pool *pool = net->pool;
    struct ns_tensor *in = &net->tensors[net->input];
    memcpy(in->data, x, sizeof(float) * in->per_image * n);
    for (int i = 0; i < net->n_nodes; i++) {
        struct ns_node *nd = &net->nodes[i];
        if (nd->skip)
            continue;
        const struct ns_tensor *a = &net->tensors[nd->in[0]];
        const struct ns_tensor *b2 = nd->in[1] >= 0 ? &net->tensors[nd->in[1]] : NULL;
        struct ns_tensor *y = &net->tensors[nd->out];
        switch (nd->kind) {
        case NS_N_CONV: {
            const float *bias = nd->u.conv.has_bias ? (net->fused ? net->fused_bias + nd->stat : P(net, nd->b)) : NULL;
            ns_conv_forward(pool, &nd->u.conv, n, a->data, P(net, nd->w), bias, y->data, net->scratch);
            break;
        }
        case NS_N_BN: {
            float *st = net->bn_state + nd->stat;
            int c = nd->u.bn.c;
            if (train)
                ns_bn_forward_train(pool, &nd->u.bn, n, a->data, P(net, nd->w), P(net, nd->b), st,
                                    st + c, st + 2 * c, st + 3 * c, y->data, net->scratch);
            else
                ns_bn_forward_eval(pool, &nd->u.bn, n, a->data, P(net, nd->w), P(net, nd->b), st,
                                   st + c, y->data);
            break;
        }
        case NS_N_ACT:
            ns_act_forward(pool, nd->u.act, a->per_image * n, a->data, y->data);
            break;
        case NS_N_ADD:
            ns_add_forward(pool, a->per_image * n, a->data, b2->data, nd->relu, y->data);
            break;
        case NS_N_MAXPOOL:
            ns_maxpool_forward(pool, &nd->u.pool, n, a->data, y->data);
            break;
        case NS_N_AVGPOOL:
            ns_avgpool_forward(pool, &nd->u.pool, n, a->data, y->data);
            break;
        case NS_N_GAP:
            ns_gap_forward(pool, n, nd->u.gap.hw, nd->u.gap.c, a->data, y->data);
            break;
        case NS_N_LINEAR:
            ns_linear_forward(pool, n, nd->u.lin.cin, nd->u.lin.cout, a->data, P(net, nd->w),
                              P(net, nd->b), y->data);
            break;
        case NS_N_SCALE:
            ns_scale_forward(pool, n, a->h * a->w, a->c, a->data, b2->data, y->data);
            break;
        case NS_N_DROPOUT:
            if (train && rng)
                ns_dropout_forward(a->per_image * n, nd->u.rate, rng, a->data, net->drop_mask, y->data);
            else
                memcpy(y->data, a->data, sizeof(float) * a->per_image * n);
            break;
        }
    }
    return net->tensors[net->logits].data;
}

void ns_net_backward(struct ns_net *net, int n, const float *dlogits)
{
    struct ns_pool *pool = net->pool;
    struct ns_tensor *lt = &net->tensors[net->logits];
    memcpy(lt->grad, dlogits, sizeof(float) * lt->per_image * n);
    for (int i = net->n_nodes - 1; i >= 0; i--) {
        struct ns_node *nd = &net->nodes[i];
        struct ns_tensor *a = &net->tensors[nd->in[0]];
        struct ns_tensor *b2 = nd->in[1] >= 0 ? &net->tensors[nd->in[1]] : NULL;
        struct ns_tensor *y = &net->tensors[nd->out];
        /* the network's input needs no gradient */
        float *da = nd->in[0] == net->input ? NULL : a->grad;
        switch (nd->kind) {
        case NS_N_CONV:
            ns_conv_backward(pool, &nd->u.conv, n, a->data, P(net, nd->w), y->grad, da, nd->acc[0],
                             G(net, nd->w), G(net, nd->b), net->scratch);
            break;
        case NS_N_BN: {
            float *st = net->bn_state + nd->stat;
            int c = nd->u.bn.c;
            ns_bn_backward(pool, &nd->u.bn, n, a->data, y->data, P(net, nd->w), st + 2 * c,
                           st + 3 * c, y->grad, da, nd->acc[0], G(net, nd->w), G(net, nd->b),
                           net->scratch);
            break;
        }
        case NS_N_ACT:
            ns_act_backward(pool, nd->u.act, a->per_image * n, a->data, y->data, y->grad, da,
                            nd->acc[0]);
            break;
        case NS_N_ADD:
            ns_add_backward(pool, a->per_image * n, y->data, nd->relu, y->grad, da, nd->acc[0],
                            b2->grad, nd->acc[1]);
            break;
        case NS_N_MAXPOOL:
            ns_maxpool_backward(pool, &nd->u.pool, n, a->data, y->data, y->grad, da, nd->acc[0]);
            break;
        case NS_N_AVGPOOL:
            ns_avgpool_backward(pool, &nd->u.pool, n, y->grad, da, nd->acc[0]);
            break;
        case NS_N_GAP:
            ns_gap_backward(pool, n, nd->u.gap.hw, nd->u.gap.c, y->grad, da, nd->acc[0]);
            break;
        case NS_N_LINEAR:
            ns_linear_backward(pool, n, nd->u.lin.cin, nd->u.lin.cout, a->data, P(net, nd->w),
                               y->grad, da, nd->acc[0], G(net, nd->w), G(net, nd->b));
            break;
        case NS_N_SCALE:
            ns_scale_backward(pool, n, a->h * a->w, a->c, a->data, b2->data, y->grad, da,
                              nd->acc[0], b2->grad, nd->acc[1]);
            break;
        case NS_N_DROPOUT:
            ns_dropout_backward(a->per_image * n, nd->u.rate, net->drop_mask, y->grad, da,
                                nd->acc[0]);
            break;
        }
    }
}

void ns_net_fuse_bn(struct ns_net *net)
{
    if (net->fused)
        return;
    int *uses = calloc((size_t)net->n_tensors, sizeof *uses);
    if (!uses)
        return; /* fusion is an optimization; unfused evaluation stays correct */
    for (int i = 0; i < net->n_nodes; i++)
        for (int j = 0; j < 2; j++)
            if (net->nodes[i].in[j] >= 0)
                uses[net->nodes[i].in[j]]++;
    for (int i = 0; i + 1 < net->n_nodes; i++) {
        struct ns_node *cv = &net->nodes[i], *bnn = &net->nodes[i + 1];
        if (cv->kind != NS_N_CONV || bnn->kind != NS_N_BN || bnn->in[0] != cv->out ||
            uses[cv->out] != 1)
            continue;
        struct ns_conv *c = &cv->u.conv;
        int C = c->cout;
        const float *gamma = P(net, bnn->w), *beta = P(net, bnn->b);
        const float *rm = net->bn_state + bnn->stat, *rv = rm + C;
        float *w = P(net, cv->w), *fb = net->fused_bias + cv->stat;
        const float *b0 = P(net, cv->b);
        size_t rows = (size_t)c->k * c->k * c->cpg;
        for (int co = 0; co < C; co++) {
            double s = gamma[co] / sqrt((double)rv[co] + 1e-5);
            for (size_t r = 0; r < rows; r++)
                w[r * C + co] = (float)(w[r * C + co] * s);
            fb[co] = (float)(((b0 ? b0[co] : 0.0) - rm[co]) * s + beta[co]);
        }
        c->has_bias = 1;
        c->relu = bnn->u.bn.relu;
        bnn->skip = 1;
        net->tensors[bnn->out].data = net->tensors[cv->out].data;
    }
    free(uses);
    net->fused = 1;
}
