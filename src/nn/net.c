/* Building a network from a model config, and running it forward and backward.
 * The block structures are the ones documented in src/model/model.h; src/space's
 * complexity counts exactly these layers. */
#include "nn/net.h"

#include "model/graph.h"
#include "util/err.h"
#include "util/timer.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building ----------------------------------------------------------------------- */

/* Append a parameter tensor; its id, or -1 with *oom set when the table cannot grow. */
static int add_param_init(struct ns_net *n, int *cap, int *oom, size_t len,
                          enum ns_param_kind kind, enum ns_init init, int fan_in, int fan_out,
                          int zero_init)
{
    if (n->n_params == *cap) {
        int nc = *cap ? 2 * *cap : 64;
        struct ns_param *p = realloc(n->params, (size_t)nc * sizeof *p);
        if (!p) {
            *oom = 1;
            return -1;
        }
        n->params = p;
        *cap = nc;
    }
    n->params[n->n_params] = (struct ns_param){.off = n->n_weights, .len = len, .kind = kind,
                                               .init = init, .fan_in = fan_in,
                                               .fan_out = fan_out, .zero_init = zero_init,
                                               .units = 1};
    n->n_weights += len;
    return n->n_params++;
}

static int add_param(struct ns_net *n, int *cap, int *oom, size_t len, enum ns_param_kind kind,
                     int fan_out, int zero_init)
{
    return add_param_init(n, cap, oom, len, kind, NS_INIT_DEFAULT, 0, fan_out, zero_init);
}

/* One node per layer of the graph (layer i's output is tensor i; layer 0 is the input),
 * with its parameters in layer order. -1 when out of memory. */
static int nodes_from_graph(struct ns_net *net, const struct ns_graph *g, int zero_init_last_bn)
{
    int cap = 0, oom = 0;
    net->n_tensors = g->n;
    net->n_nodes = g->n - 1;
    net->tensors = calloc((size_t)g->n, sizeof *net->tensors);
    net->nodes = calloc((size_t)g->n, sizeof *net->nodes);
    if (!net->tensors || !net->nodes)
        return -1;
    for (int i = 0; i < g->n; i++) {
        const struct ns_layer *l = &g->layer[i];
        struct ns_tensor *t = &net->tensors[i];
        t->h = l->h;
        t->w = l->w;
        t->c = l->c;
        t->per_image = (size_t)l->h * l->w * l->c;
    }
    for (int i = 1; i < g->n; i++) {
        const struct ns_layer *l = &g->layer[i];
        const struct ns_layer *in = &g->layer[l->in[0]];
        struct ns_node *nd = &net->nodes[i - 1];
        nd->in[0] = l->in[0];
        nd->in[1] = l->in[1];
        nd->out = i;
        nd->w = nd->b = nd->gain = -1;
        switch (l->kind) {
        case NS_L_CONV:
            nd->kind = NS_N_CONV;
            ns_conv_setup_rect(&nd->u.conv, in->h, in->w, in->c, l->c, l->k, ns_layer_kw(l),
                               l->stride, l->groups, l->bias);
            nd->w = add_param_init(net, &cap, &oom,
                                   (size_t)l->k * ns_layer_kw(l) * (in->c / l->groups) * l->c,
                                   NS_P_CONV_W, l->init,
                                   l->k * ns_layer_kw(l) * (in->c / l->groups),
                                   l->k * ns_layer_kw(l) * l->c, 0);
            if (!oom)
                net->params[nd->w].units = l->c;
            if (l->bias)
                nd->b = add_param_init(net, &cap, &oom, (size_t)l->c, NS_P_BIAS,
                                       l->small_bias ? NS_INIT_LECUN : NS_INIT_DEFAULT, 0, 0, 0);
            nd->bias_off = net->fused_len; /* the bias slot used after BN fusion */
            net->fused_len += (size_t)l->c;
            break;
        case NS_L_WSCONV: {
            size_t rows = (size_t)l->k * l->k * (in->c / l->groups);
            nd->kind = NS_N_WSCONV;
            ns_conv_setup(&nd->u.conv, in->h, in->w, in->c, l->c, l->k, l->stride, l->groups,
                          l->bias);
            nd->w = add_param(net, &cap, &oom, rows * l->c, NS_P_WS_W, 0, 0);
            if (!oom)
                net->params[nd->w].units = l->c;
            nd->gain = add_param(net, &cap, &oom, (size_t)l->c, NS_P_WS_GAIN, 0, 0);
            if (l->bias)
                nd->b = add_param(net, &cap, &oom, (size_t)l->c, NS_P_BIAS, 0, 0);
            nd->ws_off = net->ws_len;
            net->ws_len += 2 * rows * l->c + 2 * (size_t)l->c;
            break;
        }
        case NS_L_NF_ACT:
            nd->kind = NS_N_NF_ACT;
            nd->u.nf.act = l->act;
            nd->u.nf.mul_in = l->mul_in;
            nd->u.nf.mul_out = l->mul_out;
            break;
        case NS_L_NF_ADD:
            nd->kind = NS_N_NF_ADD;
            nd->u.alpha = l->alpha;
            break;
        case NS_L_BN:
            nd->kind = NS_N_BN;
            nd->u.bn = (struct ns_bn){.m_per_image = in->h * in->w, .c = l->c, .relu = l->relu};
            nd->bn_off = net->bn_state_len;
            net->bn_state_len += 8 * (size_t)l->c;
            nd->w = add_param(net, &cap, &oom, (size_t)l->c, NS_P_BN_GAMMA, 0,
                              zero_init_last_bn && l->res_last);
            nd->b = add_param(net, &cap, &oom, (size_t)l->c, NS_P_BN_BETA, 0, 0);
            break;
        case NS_L_ACT:
            nd->kind = NS_N_ACT;
            nd->u.act = l->act;
            break;
        case NS_L_ADD:
            nd->kind = NS_N_ADD;
            nd->relu = l->relu;
            break;
        case NS_L_MAXPOOL:
        case NS_L_AVGPOOL:
            nd->kind = l->kind == NS_L_MAXPOOL ? NS_N_MAXPOOL : NS_N_AVGPOOL;
            ns_pool2d_setup(&nd->u.pool, in->h, in->w, in->c, l->k, l->stride, l->pad);
            break;
        case NS_L_GAP:
            nd->kind = NS_N_GAP;
            nd->u.gap.hw = in->h * in->w;
            nd->u.gap.c = in->c;
            break;
        case NS_L_LINEAR:
            nd->kind = NS_N_LINEAR;
            nd->u.lin.cin = in->c;
            nd->u.lin.cout = l->c;
            /* SE's linear layers are 1x1 convs: conv init (fan_out); the classifier's N(0, 0.01) */
            nd->w = add_param_init(net, &cap, &oom, (size_t)in->c * l->c,
                                   l->classifier ? NS_P_FC_W : NS_P_CONV_W, l->init, in->c,
                                   l->classifier ? 0 : l->c, 0);
            nd->b = add_param(net, &cap, &oom, (size_t)l->c, NS_P_BIAS, 0, 0);
            if (!oom) {
                net->params[nd->w].units = l->c;
                net->params[nd->w].classifier = net->params[nd->b].classifier = l->classifier;
            }
            break;
        case NS_L_SCALE:
            nd->kind = NS_N_SCALE;
            break;
        case NS_L_DROPOUT:
            nd->kind = NS_N_DROPOUT;
            nd->u.rate = l->rate;
            nd->mask_off = net->drop_len;
            net->drop_len += (size_t)net->max_batch * l->c;
            break;
        case NS_L_DROPPATH:
            nd->kind = NS_N_DROPPATH;
            nd->u.rate = l->rate;
            nd->mask_off = net->drop_len;
            net->drop_len += (size_t)net->max_batch;
            break;
        case NS_L_SHUFFLE:
            nd->kind = NS_N_SHUFFLE;
            nd->u.ch.groups = l->groups;
            break;
        case NS_L_SLICE:
            nd->kind = NS_N_SLICE;
            nd->u.ch.lo = l->lo;
            break;
        case NS_L_CONCAT:
            nd->kind = NS_N_CONCAT;
            break;
        case NS_L_PATCHIFY:
            nd->kind = NS_N_PATCHIFY;
            nd->u.patch = (struct ns_patchify){in->h, in->w, in->c, l->k};
            break;
        case NS_L_TOKENS:
            nd->kind = NS_N_TOKENS;
            nd->w = add_param(net, &cap, &oom, (size_t)l->c, NS_P_CLS, 0, 0);
            nd->b = add_param(net, &cap, &oom, (size_t)l->c * l->h, NS_P_POS, 0, 0);
            break;
        case NS_L_LN:
            nd->kind = NS_N_LN;
            nd->w = add_param(net, &cap, &oom, (size_t)l->c, NS_P_LN_GAMMA, 0, 0);
            nd->b = add_param(net, &cap, &oom, (size_t)l->c, NS_P_LN_BETA, 0, 0);
            nd->cache_off = net->cache_len;
            net->cache_len += 2 * (size_t)net->max_batch * l->h * l->w;
            break;
        case NS_L_ATTN:
            nd->kind = NS_N_ATTN;
            nd->u.attn = (struct ns_attention){l->h * l->w, l->c, l->groups};
            nd->cache_off = net->cache_len;
            net->cache_len += (size_t)net->max_batch * l->groups * l->h * l->w * l->h * l->w;
            break;
        case NS_L_TOKEN0:
            nd->kind = NS_N_TOKEN0;
            break;
        default: /* the input is layer 0 only */
            return ns_err("layer %d: a %s layer has no node", i, ns_layer_kind_name(l->kind));
        }
    }
    return oom ? -1 : 0;
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

static size_t padded(size_t n) { return (n + 15) / 16 * 16; }

/* Whether backward writes the gradient of tensor t (the network's input gets none, unless a
 * SCALE node reads it as its scale, whose backward always writes it; nor does the output of
 * a conv fused with its BN). */
static int needs_grad(const struct ns_net *net, int t)
{
    if (t > 0 && net->nodes[t - 1].conv_bn >= 0)
        return 0; /* a conv whose BN runs its backward: its dy stays in the BN's blocks */
    if (t != net->input)
        return 1;
    for (int i = 0; i < net->n_nodes; i++)
        if (net->nodes[i].kind == NS_N_SCALE && net->nodes[i].in[1] == t)
            return 1;
    return 0;
}

struct grad_block {
    size_t off, len;
    int start, end; /* backward steps (0 = the last node) at which the gradient is live */
};

static int by_len_desc(const void *a, const void *b)
{
    const struct grad_block *x = *(const struct grad_block *const *)a;
    const struct grad_block *y = *(const struct grad_block *const *)b;
    if (x->len != y->len)
        return x->len < y->len ? 1 : -1;
    return x->start - y->start;
}

static int by_off(const void *a, const void *b)
{
    const struct grad_block *x = *(const struct grad_block *const *)a;
    const struct grad_block *y = *(const struct grad_block *const *)b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Activation gradients share memory by liveness. Backward step s runs node n_nodes-1-s; a
 * tensor's gradient is live from the step of its last reader in forward order (which
 * overwrites it: set_acc_flags) to the step of the node that made it (which reads it last),
 * both included, and the logits' from step 0. Blocks are placed largest first at the lowest
 * offset free over their whole interval, so the arena holds the gradients live at once at
 * the busiest steps (in the benchmark net, about a sixth of all gradients) instead of every
 * one. A tensor no node reads keeps a block of its own, live throughout: its gradient is never
 * written and stays zero. Sets every tensor's grad_off (SIZE_MAX: no gradient) and returns
 * the arena's floats, or (size_t)-1 when out of memory. */
static size_t plan_grads(struct ns_net *net)
{
    int T = net->n_tensors, N = net->n_nodes;
    struct grad_block *blk = calloc((size_t)T, sizeof *blk);
    struct grad_block **order = calloc((size_t)T, sizeof *order), **live = calloc((size_t)T, sizeof *live);
    if (!blk || !order || !live) {
        free(blk);
        free(order);
        free(live);
        return (size_t)-1;
    }
    for (int t = 0; t < T; t++) {
        blk[t].len = padded(net->tensors[t].per_image * net->max_batch);
        blk[t].start = N; /* no reader yet */
        blk[t].end = t == net->input ? N - 1 : N - t; /* node t-1 makes tensor t */
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 2; j++) {
            int t = net->nodes[i].in[j];
            /* a conv whose backward its BN runs writes its input's gradient a step early,
             * while the BN reads its own output's gradient */
            int step = N - 1 - (net->nodes[i].conv_bn >= 0 ? net->nodes[i].conv_bn : i);
            if (t >= 0 && step < blk[t].start)
                blk[t].start = step;
        }
    blk[net->logits].start = 0;
    int n = 0;
    for (int t = 0; t < T; t++) {
        net->tensors[t].grad_off = SIZE_MAX;
        if (!needs_grad(net, t))
            continue;
        if (blk[t].start > blk[t].end) { /* never read: never written */
            blk[t].start = 0;
            blk[t].end = N;
        }
        order[n++] = &blk[t];
    }
    qsort(order, (size_t)n, sizeof *order, by_len_desc);
    size_t total = 0;
    for (int k = 0; k < n; k++) {
        struct grad_block *b = order[k];
        int nl = 0;
        for (int q = 0; q < k; q++)
            if (order[q]->start <= b->end && b->start <= order[q]->end)
                live[nl++] = order[q];
        qsort(live, (size_t)nl, sizeof *live, by_off);
        size_t off = 0;
        for (int q = 0; q < nl && live[q]->off < off + b->len; q++)
            if (live[q]->off + live[q]->len > off)
                off = live[q]->off + live[q]->len;
        b->off = off;
        if (off + b->len > total)
            total = off + b->len;
    }
    for (int t = 0; t < T; t++)
        if (needs_grad(net, t))
            net->tensors[t].grad_off = blk[t].off;
    free(blk);
    free(order);
    free(live);
    return total;
}

/* The layout of a net whose nodes are made: acc flags, activation, gradient and scratch
 * sizes, and the bytes the arrays will take. -1 when out of memory. */
static int plan(struct ns_net *net, int nth)
{
    size_t act = 0, scratch = 0;
    for (int i = 0; i < net->n_tensors; i++)
        if (!net->tensors[i].unstored)
            act += padded(net->tensors[i].per_image * net->max_batch);
    for (int i = 0; i < net->n_nodes; i++) {
        size_t s = 0;
        if (net->nodes[i].kind == NS_N_CONV || net->nodes[i].kind == NS_N_WSCONV)
            s = ns_conv_scratch(&net->nodes[i].u.conv, net->max_batch, nth);
        else if (net->nodes[i].kind == NS_N_BN && net->nodes[i].bn_conv >= 0)
            s = ns_conv_bn_scratch(&net->nodes[net->nodes[i].bn_conv].u.conv,
                                   &net->nodes[i].u.bn, net->max_batch, nth);
        else if (net->nodes[i].kind == NS_N_BN)
            s = ns_bn_scratch(&net->nodes[i].u.bn, nth);
        else if (net->nodes[i].kind == NS_N_ATTN)
            s = ns_attention_scratch(&net->nodes[i].u.attn, nth);
        scratch = s > scratch ? s : scratch;
    }
    net->act_len = act;
    net->scratch_len = scratch;
    net->grad_len = plan_grads(net);
    if (net->grad_len == (size_t)-1)
        return -1;
    size_t floats = 3 * net->n_weights + net->bn_state_len + net->fused_len + net->ws_len +
                    act + net->grad_len + scratch + net->cache_len;
    net->plan_bytes = floats * sizeof(float) + net->drop_len;
    return 0;
}

/* Backward overwrites a tensor's gradient at its first use in reverse order and adds at
 * the later ones (a residual block's input feeds two branches). */
static int set_acc_flags(struct ns_net *net)
{
    char *seen = calloc((size_t)net->n_tensors, 1);
    if (!seen)
        return -1;
    for (int i = net->n_nodes - 1; i >= 0; i--)
        for (int j = 0; j < 2; j++) {
            int t = net->nodes[i].in[j];
            if (t < 0)
                continue;
            net->nodes[i].acc[j] = seen[t];
            seen[t] = 1;
        }
    free(seen);
    return 0;
}

/* How many nodes read each tensor (calloc'd, n_tensors counts; NULL when out of memory). */
static int *tensor_uses(const struct ns_net *net)
{
    int *uses = calloc((size_t)net->n_tensors, sizeof *uses);
    for (int i = 0; uses && i < net->n_nodes; i++)
        for (int j = 0; j < 2; j++)
            if (net->nodes[i].in[j] >= 0)
                uses[net->nodes[i].in[j]]++;
    return uses;
}

/* Whether BN+ADD fusion is on: NS_FUSE=0 turns it off (same-binary A/B runs, tests); unset,
 * empty or 1: on. */
static int fusion_on(void)
{
    static atomic_int warned;
    const char *v = getenv("NS_FUSE");
    if (!v || !*v || !strcmp(v, "1"))
        return 1;
    if (strcmp(v, "0") && !atomic_exchange(&warned, 1))
        fprintf(stderr, "netspace: NS_FUSE=%s is not 0 or 1; fusing (the default)\n", v);
    return strcmp(v, "0") != 0;
}

/* A BN without ReLU whose output one ADD reads and nothing else (a residual branch's last
 * BN) hands its affine to that ADD, which applies it while it adds (ns_bn_add_forward):
 * BN's output is then never written, read or stored. One BN an ADD (a RepVGG sum of two BN
 * outputs takes its first). Not applied when out of memory: unfused is correct too. */
static void fuse_bn_add(struct ns_net *net)
{
    for (int i = 0; i < net->n_nodes; i++)
        net->nodes[i].bn_add = net->nodes[i].add_bn = -1;
    if (!fusion_on())
        return;
    int *uses = tensor_uses(net);
    if (!uses)
        return;
    for (int i = 0; i < net->n_nodes; i++) {
        struct ns_node *add = &net->nodes[i];
        for (int k = 0; add->kind == NS_N_ADD && k < 2 && add->add_bn < 0; k++) {
            int t = add->in[k]; /* made by node t - 1 */
            if (t < 1 || t == net->logits || uses[t] != 1)
                continue;
            struct ns_node *bn = &net->nodes[t - 1];
            if (bn->kind != NS_N_BN || bn->u.bn.relu || bn->out != t)
                continue;
            bn->bn_add = i;
            add->add_bn = t - 1;
            net->tensors[t].unstored = 1;
        }
    }
    free(uses);
}

/* A BN whose input only the 1x1 conv just before it makes and nothing else reads runs that
 * conv's backward with its own (ns_conv_bn_backward): the conv's output gradient is then
 * computed a block of rows at a time into a buffer that stays in cache, never written to
 * the gradient arena nor read back from it. Same bits; NS_FUSE=0 turns it off too. */
static void fuse_conv_bn(struct ns_net *net)
{
    for (int i = 0; i < net->n_nodes; i++)
        net->nodes[i].bn_conv = net->nodes[i].conv_bn = -1;
    if (!fusion_on())
        return;
    int *uses = tensor_uses(net);
    if (!uses)
        return;
    for (int i = 1; i < net->n_nodes; i++) {
        struct ns_node *bn = &net->nodes[i], *cv = &net->nodes[i - 1];
        int t = bn->in[0];
        if (bn->kind != NS_N_BN || cv->kind != NS_N_CONV || cv->out != t || uses[t] != 1 ||
            t == net->logits || !ns_conv_bn_fusable(&cv->u.conv))
            continue;
        bn->bn_conv = i - 1;
        cv->conv_bn = i;
    }
    free(uses);
}

/* Everything but the big arrays: nodes, tensors, parameters, the plan. */
static struct ns_net *skeleton(const struct ns_config *cfg, int max_batch,
                               const struct ns_graph_opts *opts, int zero_init_last_bn, int nth)
{
    if (max_batch < 1) {
        ns_err("batch: %d is not >= 1", max_batch);
        return NULL;
    }
    struct ns_graph g;
    if (ns_graph_build(cfg, opts, &g))
        return NULL;
    struct ns_net *net = calloc(1, sizeof *net);
    if (!net) {
        ns_graph_free(&g);
        ns_err("out of memory");
        return NULL;
    }
    net->cfg = *cfg;
    net->max_batch = max_batch;
    net->input = 0;
    net->logits = g.n - 1;
    int rc = nodes_from_graph(net, &g, zero_init_last_bn);
    ns_graph_free(&g);
    if (!rc) {
        fuse_bn_add(net);
        fuse_conv_bn(net);
    }
    if (rc || set_acc_flags(net) || plan(net, nth)) {
        ns_net_free(net);
        ns_err("out of memory building the network");
        return NULL;
    }
    return net;
}

int ns_net_memory(const struct ns_config *cfg, int max_batch, const struct ns_graph_opts *opts,
                  int nth, size_t *bytes)
{
    struct ns_net *net = skeleton(cfg, max_batch, opts, 0, nth);
    if (!net)
        return -1;
    *bytes = net->plan_bytes;
    ns_net_free(net);
    return 0;
}

struct ns_net *ns_net_build(const struct ns_config *cfg, int max_batch, float dropout,
                            int zero_init_last_bn, struct ns_pool *pool)
{
    struct ns_graph_opts opts = {.dropout = dropout};
    return ns_net_build_opts(cfg, max_batch, &opts, zero_init_last_bn, pool);
}

struct ns_net *ns_net_build_opts(const struct ns_config *cfg, int max_batch,
                                 const struct ns_graph_opts *opts, int zero_init_last_bn,
                                 struct ns_pool *pool)
{
    struct ns_net *net = skeleton(cfg, max_batch, opts, zero_init_last_bn, ns_pool_size(pool));
    if (!net)
        return NULL;
    net->pool = pool;
    size_t act = net->act_len;
    net->w = alloc_floats(net, net->n_weights);
    net->dw = alloc_floats(net, net->n_weights);
    net->mom = alloc_floats(net, net->n_weights);
    net->bn_state = alloc_floats(net, net->bn_state_len);
    net->fused_bias = alloc_floats(net, net->fused_len);
    net->ws_mem = alloc_floats(net, net->ws_len);
    net->act_mem = alloc_floats(net, act);
    net->grad_mem = alloc_floats(net, net->grad_len);
    net->scratch = alloc_floats(net, net->scratch_len);
    net->drop_mask = net->drop_len ? malloc(net->drop_len) : NULL;
    net->cache = net->cache_len ? alloc_floats(net, net->cache_len) : NULL;
    if ((net->cache_len && !net->cache) || !net->w || !net->dw || !net->mom || !net->bn_state ||
        !net->fused_bias || !net->ws_mem || !net->act_mem || !net->grad_mem || !net->scratch ||
        (net->drop_len && !net->drop_mask)) {
        ns_net_free(net);
        ns_err("out of memory building the network");
        return NULL;
    }
    size_t off = 0;
    for (int i = 0; i < net->n_tensors; i++) {
        struct ns_tensor *t = &net->tensors[i];
        t->data = t->unstored ? NULL : net->act_mem + off;
        t->grad = t->grad_off == SIZE_MAX ? NULL : net->grad_mem + t->grad_off;
        if (!t->unstored)
            off += padded(t->per_image * max_batch);
    }
    return net;
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
    free(net->var);
    free(net->bn_state);
    free(net->fused_bias);
    free(net->ws_mem);
    free(net->act_mem);
    free(net->grad_mem);
    free(net->scratch);
    free(net->drop_mask);
    free(net->cache);
    free(net->prof);
    free(net);
}

int ns_net_profile(struct ns_net *net)
{
    if (!net->prof && !(net->prof = calloc(2 * (size_t)net->n_nodes, sizeof *net->prof)))
        return ns_err("out of memory");
    return 0;
}

void ns_net_node_name(const struct ns_net *net, int i, char *buf, size_t len)
{
    static const char *const kinds[] = {
        [NS_N_CONV] = "conv",        [NS_N_BN] = "bn",          [NS_N_ACT] = "act",
        [NS_N_ADD] = "add",          [NS_N_MAXPOOL] = "maxpool", [NS_N_AVGPOOL] = "avgpool",
        [NS_N_GAP] = "gap",          [NS_N_LINEAR] = "linear",  [NS_N_SCALE] = "scale",
        [NS_N_DROPOUT] = "dropout",  [NS_N_SHUFFLE] = "shuffle", [NS_N_SLICE] = "slice",
        [NS_N_CONCAT] = "concat",    [NS_N_DROPPATH] = "droppath", [NS_N_PATCHIFY] = "patchify",
        [NS_N_TOKENS] = "tokens",    [NS_N_LN] = "layernorm",   [NS_N_ATTN] = "attention",
        [NS_N_TOKEN0] = "token0",    [NS_N_WSCONV] = "wsconv",  [NS_N_NF_ACT] = "nf_act",
        [NS_N_NF_ADD] = "nf_add"};
    _Static_assert(sizeof kinds / sizeof kinds[0] == NS_N_NF_ADD + 1, "a node kind without a name");
    const struct ns_node *nd = &net->nodes[i];
    const struct ns_tensor *a = &net->tensors[nd->in[0]];
    if (nd->kind == NS_N_CONV || nd->kind == NS_N_WSCONV) {
        const struct ns_conv *c = &nd->u.conv;
        char g[24] = "";
        if (c->groups == c->cin && c->cin == c->cout && c->cin > 1)
            snprintf(g, sizeof g, " dw");
        else if (c->groups > 1)
            snprintf(g, sizeof g, " gw%d", c->cpg);
        snprintf(buf, len, "%s %dx%d/%d%s %d->%d %dx%d%s", kinds[nd->kind], c->kh, c->kw,
                 c->stride, g, c->cin, c->cout, c->h, c->w, nd->conv_bn >= 0 ? " +bn dx" : "");
    } else {
        snprintf(buf, len, "%s %d %dx%d", kinds[nd->kind], a->c, a->h, a->w);
    }
}

long long ns_net_param_count(const struct ns_net *net) { return (long long)net->n_weights; }

/* One initial value of parameter p (its rule: net.h, model/graph.h's enum ns_init). */
static float init_value(const struct ns_param *p, struct ns_pcg32 *rng)
{
    switch (p->kind) {
    case NS_P_CONV_W:
    case NS_P_FC_W:
        switch (p->init) {
        case NS_INIT_XAVIER: {
            double a = sqrt(6.0 / (p->fan_in + p->fan_out));
            return (float)(a * (2 * ns_pcg32_double(rng) - 1));
        }
        case NS_INIT_TORCH: {
            double a = 1.0 / sqrt(p->fan_in);
            return (float)(a * (2 * ns_pcg32_double(rng) - 1));
        }
        case NS_INIT_LECUN: {
            /* torch's trunc_normal_(std=s) as pycls calls it: N(0, s) cut at +-2 absolute */
            double s = sqrt(1.0 / p->fan_in), v;
            do
                v = s * ns_pcg32_normal(rng);
            while (fabs(v) > 2);
            return (float)v;
        }
        case NS_INIT_ZERO:
            return 0.0f;
        default:
            return (float)((p->kind == NS_P_CONV_W ? sqrt(2.0 / p->fan_out) : 0.01) *
                           ns_pcg32_normal(rng));
        }
    case NS_P_BIAS:
        return p->init == NS_INIT_LECUN ? (float)(1e-6 * ns_pcg32_normal(rng)) : 0.0f;
    case NS_P_WS_W: /* N(0, sqrt(1/fan_in)), fan_in = len/units */
        return (float)(sqrt((double)p->units / (double)p->len) * ns_pcg32_normal(rng));
    case NS_P_BN_GAMMA:
        return p->zero_init ? 0.0f : 1.0f;
    case NS_P_WS_GAIN:
    case NS_P_LN_GAMMA:
        return 1.0f;
    case NS_P_POS:
        return (float)(0.02 * ns_pcg32_normal(rng));
    default:
        return 0.0f;
    }
}

void ns_net_init(struct ns_net *net, uint64_t seed)
{
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, seed, 0x1a17u);
    for (int i = 0; i < net->n_params; i++) {
        const struct ns_param *p = &net->params[i];
        float *w = net->w + p->off;
        for (size_t j = 0; j < p->len; j++)
            w[j] = init_value(p, &rng);
    }
    memset(net->mom, 0, sizeof(float) * net->n_weights);
    for (int i = 0; i < net->n_nodes; i++) {
        const struct ns_node *nd = &net->nodes[i];
        if (nd->kind != NS_N_BN)
            continue;
        float *st = net->bn_state + nd->bn_off;
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

int ns_net_use_adamw(struct ns_net *net)
{
    if (!net->var && !(net->var = alloc_floats(net, net->n_weights)))
        return ns_err("out of memory for AdamW's second moments (%zu floats)", net->n_weights);
    memset(net->var, 0, sizeof(float) * net->n_weights);
    memset(net->mom, 0, sizeof(float) * net->n_weights);
    net->adam_steps = 0;
    return 0;
}

static int decays(enum ns_param_kind k)
{
    return k == NS_P_CONV_W || k == NS_P_FC_W || k == NS_P_WS_W;
}

void ns_net_adamw_step(struct ns_net *net, double lr, double beta1, double beta2, double eps,
                       double wd)
{
    long t = ++net->adam_steps;
    double c1 = 1 - pow(beta1, (double)t), c2 = 1 - pow(beta2, (double)t);
    float b1 = (float)beta1, b2 = (float)beta2, step = (float)(lr / c1);
    float rc2 = (float)(1 / sqrt(c2)), e = (float)eps;
    for (int i = 0; i < net->n_params; i++) {
        const struct ns_param *p = &net->params[i];
        float *restrict w = net->w + p->off, *restrict g = net->dw + p->off;
        float *restrict m = net->mom + p->off, *restrict v = net->var + p->off;
        float keep = decays(p->kind) ? (float)(1 - lr * wd) : 1.0f;
        for (size_t j = 0; j < p->len; j++) {
            w[j] *= keep;
            m[j] = b1 * m[j] + (1 - b1) * g[j];
            v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j];
            w[j] -= step * m[j] / (sqrtf(v[j]) * rc2 + e);
        }
    }
}

void ns_net_zero_grad(struct ns_net *net) { memset(net->dw, 0, sizeof(float) * net->n_weights); }

int ns_net_agc(struct ns_net *net, double lambda)
{
    int clipped = 0;
    for (int i = 0; i < net->n_params; i++) {
        const struct ns_param *p = &net->params[i];
        if (!p->classifier)
            clipped += ns_agc_clip(p->len / (size_t)p->units, p->units, net->w + p->off,
                                   net->dw + p->off, lambda);
    }
    return clipped;
}

/* A WS conv's standardized weights, their gradient, and the cached mean and rstd. */
struct ws_bufs {
    int rows;
    float *what, *dwhat, *mean, *rstd;
};

static struct ws_bufs ws_bufs(struct ns_net *net, const struct ns_node *nd)
{
    const struct ns_conv *c = &nd->u.conv;
    struct ws_bufs b = {.rows = c->k * c->k * c->cpg};
    size_t len = (size_t)b.rows * c->cout;
    b.what = net->ws_mem + nd->ws_off;
    b.dwhat = b.what + len;
    b.mean = b.dwhat + len;
    b.rstd = b.mean + c->cout;
    return b;
}

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
        double t0 = net->prof ? ns_now() : 0;
        switch (nd->kind) {
        case NS_N_CONV: {
            const float *bias = nd->u.conv.has_bias ? (net->fused ? net->fused_bias + nd->bias_off : P(net, nd->b)) : NULL;
            ns_conv_forward(pool, &nd->u.conv, n, a->data, P(net, nd->w), bias, y->data, net->scratch);
            break;
        }
        case NS_N_WSCONV: {
            struct ws_bufs wb = ws_bufs(net, nd);
            ns_ws_forward(pool, wb.rows, nd->u.conv.cout, P(net, nd->w), P(net, nd->gain), wb.what,
                          wb.mean, wb.rstd);
            ns_conv_forward(pool, &nd->u.conv, n, a->data, wb.what, P(net, nd->b), y->data,
                            net->scratch);
            break;
        }
        case NS_N_NF_ACT:
            ns_nf_act_forward(pool, nd->u.nf.act, a->per_image * n, nd->u.nf.mul_in,
                              nd->u.nf.mul_out, a->data, y->data);
            break;
        case NS_N_NF_ADD:
            ns_nf_add_forward(pool, a->per_image * n, a->data, nd->u.alpha, b2->data, y->data);
            break;
        case NS_N_BN: {
            float *st = net->bn_state + nd->bn_off;
            int c = nd->u.bn.c;
            /* with bn_add, the statistics or evaluation's scale and shift only: its ADD
             * applies them (y->data is NULL) */
            if (train)
                ns_bn_forward_train(pool, &nd->u.bn, n, a->data, P(net, nd->w), P(net, nd->b), st,
                                    st + c, st + 2 * c, st + 3 * c, st + 4 * c, y->data,
                                    net->scratch);
            else if (nd->bn_add >= 0) /* a slot of its own: the training cache stays */
                ns_bn_eval_affine(&nd->u.bn, P(net, nd->w), P(net, nd->b), st, st + c, st + 6 * c);
            else
                ns_bn_forward_eval(pool, &nd->u.bn, n, a->data, P(net, nd->w), P(net, nd->b), st,
                                   st + c, y->data);
            break;
        }
        case NS_N_ACT:
            ns_act_forward(pool, nd->u.act, a->per_image * n, a->data, y->data);
            break;
        case NS_N_ADD:
            if (nd->add_bn >= 0 && !net->nodes[nd->add_bn].skip) { /* not folded into a conv */
                /* reads the BN's input, which is not one of this node's in[]: a liveness
                 * plan of the activations would have to count it */
                const struct ns_node *bn = &net->nodes[nd->add_bn];
                size_t c = (size_t)bn->u.bn.c;
                const float *aff = net->bn_state + bn->bn_off + (train ? 4 : 6) * c;
                ns_bn_add_forward(pool, &bn->u.bn, n, net->tensors[bn->in[0]].data, aff,
                                  (nd->in[0] == bn->out ? b2 : a)->data, nd->relu, y->data);
            } else {
                ns_add_forward(pool, a->per_image * n, a->data, b2->data, nd->relu, y->data);
            }
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
        case NS_N_SHUFFLE:
            ns_shuffle_forward(pool, n * a->h * a->w, a->c, nd->u.ch.groups, a->data, y->data);
            break;
        case NS_N_SLICE:
            ns_slice_forward(pool, n * a->h * a->w, a->c, nd->u.ch.lo, y->c, a->data, y->data);
            break;
        case NS_N_CONCAT:
            ns_concat_forward(pool, n * a->h * a->w, a->c, b2->c, a->data, b2->data, y->data);
            break;
        case NS_N_PATCHIFY:
            ns_patchify_forward(pool, &nd->u.patch, n, a->data, y->data);
            break;
        case NS_N_TOKENS:
            ns_tokens_forward(pool, n, a->h * a->w, a->c, a->data, P(net, nd->w), P(net, nd->b),
                              y->data);
            break;
        case NS_N_LN: {
            int rows = n * a->h * a->w;
            float *mean = net->cache + nd->cache_off;
            ns_layernorm_forward(pool, rows, a->c, a->data, P(net, nd->w), P(net, nd->b), mean,
                                 mean + (size_t)net->max_batch * a->h * a->w, y->data);
            break;
        }
        case NS_N_ATTN:
            ns_attention_forward(pool, &nd->u.attn, n, a->data, net->cache + nd->cache_off,
                                 y->data);
            break;
        case NS_N_TOKEN0:
            ns_token0_forward(n, a->h * a->w, a->c, a->data, y->data);
            break;
        case NS_N_DROPPATH:
            if (train && rng)
                ns_droppath_forward(pool, n, a->per_image, nd->u.rate, rng, a->data,
                                    net->drop_mask + nd->mask_off, y->data);
            else
                memcpy(y->data, a->data, sizeof(float) * a->per_image * n);
            break;
        case NS_N_DROPOUT:
            if (train && rng)
                ns_dropout_forward(a->per_image * n, nd->u.rate, rng, a->data,
                                   net->drop_mask + nd->mask_off, y->data);
            else
                memcpy(y->data, a->data, sizeof(float) * a->per_image * n);
            break;
        }
        if (net->prof)
            net->prof[2 * i] += ns_now() - t0;
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
        double t0 = net->prof ? ns_now() : 0;
        switch (nd->kind) {
        case NS_N_CONV:
            if (nd->conv_bn < 0) /* else its BN has run it */
                ns_conv_backward(pool, &nd->u.conv, n, a->data, P(net, nd->w), y->grad, da,
                                 nd->acc[0], G(net, nd->w), G(net, nd->b), net->scratch);
            break;
        case NS_N_WSCONV: {
            struct ws_bufs wb = ws_bufs(net, nd);
            const struct ns_conv *c = &nd->u.conv;
            memset(wb.dwhat, 0, sizeof(float) * (size_t)wb.rows * c->cout);
            ns_conv_backward(pool, c, n, a->data, wb.what, y->grad, da, nd->acc[0], wb.dwhat,
                             G(net, nd->b), net->scratch);
            ns_ws_backward(pool, wb.rows, c->cout, P(net, nd->w), P(net, nd->gain), wb.mean,
                           wb.rstd, wb.dwhat, G(net, nd->w), G(net, nd->gain));
            break;
        }
        case NS_N_NF_ACT:
            ns_nf_act_backward(pool, nd->u.nf.act, a->per_image * n, nd->u.nf.mul_in,
                               nd->u.nf.mul_out, a->data, y->grad, da, nd->acc[0]);
            break;
        case NS_N_NF_ADD:
            ns_nf_add_backward(pool, a->per_image * n, nd->u.alpha, y->grad, da, nd->acc[0],
                               nd->in[1] == net->input ? NULL : b2->grad, nd->acc[1]);
            break;
        case NS_N_BN: {
            float *st = net->bn_state + nd->bn_off;
            int c = nd->u.bn.c;
            if (nd->bn_conv >= 0) { /* this BN's backward, then its conv's */
                double secs[2] = {0, 0};
                const struct ns_node *cv = &net->nodes[nd->bn_conv];
                const struct ns_tensor *cx = &net->tensors[cv->in[0]];
                ns_conv_bn_backward(pool, &cv->u.conv, &nd->u.bn, n, cx->data, P(net, cv->w),
                                    a->data, y->data, P(net, nd->w), st + 2 * c, st + 3 * c,
                                    st + 4 * c, y->grad,
                                    cv->in[0] == net->input ? NULL : cx->grad, cv->acc[0],
                                    G(net, cv->w), G(net, nd->w), G(net, nd->b), net->scratch,
                                    net->prof ? secs : NULL);
                if (net->prof) { /* BN's sums to the BN, the block pass to the conv */
                    net->prof[2 * nd->bn_conv + 1] += secs[1];
                    t0 += secs[1];
                }
                break;
            }
            ns_bn_backward(pool, &nd->u.bn, n, a->data, y->data, P(net, nd->w), st + 2 * c,
                           st + 3 * c, st + 4 * c, y->grad, da, nd->acc[0], G(net, nd->w), G(net, nd->b),
                           net->scratch);
            break;
        }
        case NS_N_ACT:
            ns_act_backward(pool, nd->u.act, a->per_image * n, a->data, y->data, y->grad, da,
                            nd->acc[0]);
            break;
        case NS_N_ADD:
            ns_add_backward(pool, a->per_image * n, y->data, nd->relu, y->grad, da, nd->acc[0],
                            nd->in[1] == net->input ? NULL : b2->grad, nd->acc[1]);
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
        case NS_N_SHUFFLE:
            ns_shuffle_backward(pool, n * a->h * a->w, a->c, nd->u.ch.groups, y->grad, da,
                                nd->acc[0]);
            break;
        case NS_N_SLICE:
            ns_slice_backward(pool, n * a->h * a->w, a->c, nd->u.ch.lo, y->c, y->grad, da,
                              nd->acc[0]);
            break;
        case NS_N_CONCAT:
            ns_concat_backward(pool, n * a->h * a->w, a->c, b2->c, y->grad, da, nd->acc[0],
                               nd->in[1] == net->input ? NULL : b2->grad, nd->acc[1]);
            break;
        case NS_N_PATCHIFY:
            ns_patchify_backward(pool, &nd->u.patch, n, y->grad, da, nd->acc[0]);
            break;
        case NS_N_TOKENS:
            ns_tokens_backward(pool, n, a->h * a->w, a->c, y->grad, da, nd->acc[0], G(net, nd->w),
                               G(net, nd->b));
            break;
        case NS_N_LN: {
            int rows = n * a->h * a->w;
            const float *mean = net->cache + nd->cache_off;
            ns_layernorm_backward(pool, rows, a->c, a->data, P(net, nd->w), mean,
                                  mean + (size_t)net->max_batch * a->h * a->w, y->grad, da,
                                  nd->acc[0], G(net, nd->w), G(net, nd->b));
            break;
        }
        case NS_N_ATTN:
            ns_attention_backward(pool, &nd->u.attn, n, a->data, net->cache + nd->cache_off,
                                  y->grad, da, nd->acc[0], net->scratch);
            break;
        case NS_N_TOKEN0:
            ns_token0_backward(n, a->h * a->w, a->c, y->grad, da, nd->acc[0]);
            break;
        case NS_N_DROPPATH:
            ns_droppath_backward(pool, n, a->per_image, nd->u.rate, net->drop_mask + nd->mask_off,
                                 y->grad, da, nd->acc[0]);
            break;
        case NS_N_DROPOUT:
            ns_dropout_backward(a->per_image * n, nd->u.rate, net->drop_mask + nd->mask_off, y->grad, da,
                                nd->acc[0]);
            break;
        }
        if (net->prof)
            net->prof[2 * i + 1] += ns_now() - t0;
    }
}

void ns_net_fuse_bn(struct ns_net *net)
{
    if (net->fused)
        return;
    int *uses = tensor_uses(net);
    if (!uses)
        return; /* fusion is an optimization; unfused evaluation stays correct */
    /* after fusion every conv reads its bias from fused_bias: convs with a bias of their own
     * that no BN follows (a transformer's linear layers) keep it there */
    for (int i = 0; i < net->n_nodes; i++) {
        const struct ns_node *nd = &net->nodes[i];
        if (nd->kind == NS_N_CONV && nd->b >= 0)
            memcpy(net->fused_bias + nd->bias_off, P(net, nd->b),
                   sizeof(float) * (size_t)nd->u.conv.cout);
    }
    for (int i = 0; i + 1 < net->n_nodes; i++) {
        struct ns_node *cv = &net->nodes[i], *bnn = &net->nodes[i + 1];
        if (cv->kind != NS_N_CONV || bnn->kind != NS_N_BN || bnn->in[0] != cv->out ||
            uses[cv->out] != 1)
            continue;
        struct ns_conv *c = &cv->u.conv;
        int C = c->cout;
        const float *gamma = P(net, bnn->w), *beta = P(net, bnn->b);
        const float *rm = net->bn_state + bnn->bn_off, *rv = rm + C;
        float *w = P(net, cv->w), *fb = net->fused_bias + cv->bias_off;
        const float *b0 = P(net, cv->b);
        size_t rows = (size_t)c->kh * c->kw * c->cpg;
        for (int co = 0; co < C; co++) {
            double s = gamma[co] / sqrt((double)rv[co] + NS_BN_EPS);
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
    ns_net_reparam(net);
    net->fused = 1;
}
