/* Structural re-parameterization (RepVGG, ACNet) of a net whose conv+BN pairs are fused:
 * each re-parameterizable sum of the layer graph (src/model/deploy.c decides which) becomes
 * its largest conv, whose kernel and bias take in the other branches:
 *   a conv branch (its BN already folded into its weights and bias) adds its kh x kw kernel
 *   at the centre of the K x K one (offsets (K-kh)/2, (K-kw)/2: pads kh/2 and kw/2 keep the
 *   taps aligned) and its bias;
 *   an identity BN branch, y = gamma (x - mean) / sqrt(var + eps) + beta, adds its scale on
 *   the diagonal of the kernel's centre tap and beta - mean * scale to the bias.
 * The other branches' nodes and the ADDs are skipped; the root ADD's output aliases the
 * conv's, which applies the root's ReLU. */
#include "nn/net.h"

#include "model/graph.h"

#include <math.h>
#include <stdlib.h>

static float *param(struct ns_net *net, int id)
{
    return net->w + net->params[id].off;
}

/* The graph net was built from (a dropout layer where the net has one). */
static int graph_of(const struct ns_net *net, struct ns_graph *g)
{
    struct ns_graph_opts opts = {0};
    for (int i = 0; i < net->n_nodes; i++)
        if (net->nodes[i].kind == NS_N_DROPOUT)
            opts.dropout = net->nodes[i].u.rate;
    if (ns_graph_build(&net->cfg, &opts, g))
        return -1;
    if (g->n != net->n_tensors) {
        ns_graph_free(g);
        return -1;
    }
    return 0;
}

/* Layer i's node (layer 0 is the input; node i-1 makes tensor i). */
static struct ns_node *node(struct ns_net *net, int layer)
{
    return &net->nodes[layer - 1];
}

/* Fold one sum; 0 when its convs were not fused with their BNs (then nothing changes). */
static int fold(struct ns_net *net, const struct ns_merge *m)
{
    for (int i = 0; i < m->n; i++)
        if (m->conv[i] >= 0 && !node(net, m->bn[i])->skip)
            return 0;
    struct ns_node *tn = node(net, m->target);
    struct ns_conv *t = &tn->u.conv;
    const int K = t->k, C = t->cout, cin = t->cin;
    float *wt = param(net, tn->w), *bt = net->fused_bias + tn->bias_off;
    for (int i = 0; i < m->n; i++) {
        if (m->conv[i] == m->target)
            continue;
        if (m->conv[i] < 0) {
            struct ns_node *bn = node(net, m->bn[i]);
            const float *gamma = param(net, bn->w), *beta = param(net, bn->b);
            const float *rm = net->bn_state + bn->bn_off, *rv = rm + C;
            const size_t centre = (size_t)(K / 2 * K + K / 2) * cin;
            for (int co = 0; co < C; co++) {
                double s = gamma[co] / sqrt((double)rv[co] + NS_BN_EPS);
                wt[(centre + co) * C + co] += (float)s;
                bt[co] += (float)(beta[co] - rm[co] * s);
            }
            bn->skip = 1;
            continue;
        }
        struct ns_node *cn = node(net, m->conv[i]);
        const struct ns_conv *c = &cn->u.conv;
        const float *wb = param(net, cn->w), *bb = net->fused_bias + cn->bias_off;
        const int oy = (K - c->kh) / 2, ox = (K - c->kw) / 2;
        for (int ky = 0; ky < c->kh; ky++)
            for (int kx = 0; kx < c->kw; kx++)
                for (int ci = 0; ci < cin; ci++) {
                    const float *src = wb + ((size_t)(ky * c->kw + kx) * cin + ci) * C;
                    float *dst = wt + ((size_t)((ky + oy) * K + kx + ox) * cin + ci) * C;
                    for (int co = 0; co < C; co++)
                        dst[co] += src[co];
                }
        for (int co = 0; co < C; co++)
            bt[co] += bb[co];
        cn->skip = 1;
    }
    for (int i = 0; i < m->n_adds; i++)
        node(net, m->add[i])->skip = 1;
    t->relu = node(net, m->root)->relu;
    net->tensors[m->root].data = net->tensors[m->target].data;
    return 1;
}

int ns_net_reparam(struct ns_net *net)
{
    struct ns_graph g;
    if (graph_of(net, &g))
        return 0;
    struct ns_merge *ms;
    int nm, folded = 0;
    if (ns_graph_merges(&g, &ms, &nm) == 0) {
        for (int i = 0; i < nm; i++)
            folded += fold(net, &ms[i]);
        free(ms);
    }
    ns_graph_free(&g);
    return folded;
}
