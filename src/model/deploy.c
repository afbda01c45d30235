/* The inference form of a layer graph (graph.h): conv+BN folding and structural
 * re-parameterization (RepVGG, ACNet) as rewrites of the graph. Which layers fold is decided
 * here once; src/nn/net.c (conv+BN) and src/nn/reparam.c (sums) fold the weights of exactly
 * these patterns, and `netspace model --deploy` counts the result. */
#include "model/emit.h"

#include "util/err.h"

#include <stdlib.h>
#include <string.h>

int *ns_graph_uses(const struct ns_graph *g)
{
    int *uses = calloc((size_t)(g->n > 0 ? g->n : 1), sizeof *uses);
    if (!uses)
        return NULL;
    for (int i = 0; i < g->n; i++)
        for (int j = 0; j < 2; j++)
            if (g->layer[i].in[j] >= 0)
                uses[g->layer[i].in[j]]++;
    return uses;
}

/* Walk the sum below layer t (the root when is_root) into m: ADDs recurse, BNs are
 * branches. 0 when something on the way is not part of a foldable sum. */
static int collect(const struct ns_graph *g, const int *uses, int t, int is_root,
                   struct ns_merge *m)
{
    const struct ns_layer *l = &g->layer[t];
    if (l->kind == NS_L_ADD && (is_root || (!l->relu && uses[t] == 1))) {
        if (m->n_adds == NS_MERGE_MAX)
            return 0;
        m->add[m->n_adds++] = t;
        return collect(g, uses, l->in[0], 0, m) && collect(g, uses, l->in[1], 0, m);
    }
    if (l->kind != NS_L_BN || l->relu || uses[t] != 1 || m->n == NS_MERGE_MAX)
        return 0;
    int in = l->in[0], x = in, conv = -1;
    if (g->layer[in].kind == NS_L_CONV && uses[in] == 1) {
        conv = in;
        x = g->layer[in].in[0];
    }
    if (m->x >= 0 && m->x != x)
        return 0;
    m->x = x;
    m->conv[m->n] = conv;
    m->bn[m->n++] = t;
    return 1;
}

/* The sum rooted at ADD r, if it folds (graph.h's rules). */
static int merge_at(const struct ns_graph *g, const int *uses, int r, struct ns_merge *m)
{
    memset(m, 0, sizeof *m);
    m->root = r;
    m->x = m->target = -1;
    if (!collect(g, uses, r, 1, m) || m->n < 2)
        return 0;
    for (int i = 0; i < m->n; i++) {
        const struct ns_layer *c = m->conv[i] >= 0 ? &g->layer[m->conv[i]] : NULL;
        if (c && c->k == ns_layer_kw(c) && c->k % 2 == 1 &&
            (m->target < 0 || c->k > g->layer[m->target].k))
            m->target = m->conv[i];
    }
    if (m->target < 0)
        return 0;
    const struct ns_layer *t = &g->layer[m->target], *x = &g->layer[m->x];
    for (int i = 0; i < m->n; i++) {
        if (m->conv[i] < 0) {
            if (t->stride != 1 || x->c != t->c)
                return 0;
            continue;
        }
        const struct ns_layer *c = &g->layer[m->conv[i]];
        int kw = ns_layer_kw(c);
        if (c->groups != 1 || t->groups != 1 || c->stride != t->stride || c->k % 2 == 0 ||
            kw % 2 == 0 || c->k > t->k || kw > t->k)
            return 0;
    }
    return 1;
}

int ns_graph_merges(const struct ns_graph *g, struct ns_merge **out, int *n)
{
    *out = NULL;
    *n = 0;
    int *uses = ns_graph_uses(g);
    char *taken = calloc((size_t)(g->n > 0 ? g->n : 1), 1);
    if (!uses || !taken) {
        free(uses);
        free(taken);
        return ns_err("out of memory");
    }
    int cap = 0, rc = 0;
    /* from the end: a sum's root comes after its inner ADDs, which are sums too */
    for (int r = g->n - 1; r > 0; r--) {
        struct ns_merge m;
        if (g->layer[r].kind != NS_L_ADD || taken[r] || !merge_at(g, uses, r, &m))
            continue;
        if (*n == cap) {
            int nc = cap ? 2 * cap : 16;
            struct ns_merge *p = realloc(*out, (size_t)nc * sizeof *p);
            if (!p) {
                rc = ns_err("out of memory");
                break;
            }
            *out = p;
            cap = nc;
        }
        for (int i = 0; i < m.n_adds; i++)
            taken[m.add[i]] = 1;
        (*out)[(*n)++] = m;
    }
    free(uses);
    free(taken);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* What becomes of each layer in the inference form. */
enum { KEEP, DROP, ROOT, CONV_BN };

int ns_graph_deploy(const struct ns_graph *g, struct ns_graph *out)
{
    memset(out, 0, sizeof *out);
    struct ns_merge *ms;
    int nm;
    if (ns_graph_merges(g, &ms, &nm))
        return -1;
    int *uses = ns_graph_uses(g);
    int *role = calloc((size_t)g->n, sizeof *role), *map = calloc((size_t)g->n, sizeof *map);
    int *root_of = calloc((size_t)g->n, sizeof *root_of);
    if (!uses || !role || !map || !root_of) {
        free(ms), free(uses), free(role), free(map), free(root_of);
        return ns_err("out of memory");
    }
    for (int i = 0; i < nm; i++) {
        const struct ns_merge *m = &ms[i];
        for (int j = 0; j < m->n; j++) {
            role[m->bn[j]] = DROP;
            if (m->conv[j] >= 0)
                role[m->conv[j]] = DROP;
        }
        for (int j = 0; j < m->n_adds; j++)
            role[m->add[j]] = DROP;
        role[m->root] = ROOT;
        root_of[m->root] = i;
    }
    /* conv+BN: the rule of ns_net_fuse_bn (the BN right after its conv, its only reader) */
    for (int i = 1; i + 1 < g->n; i++) {
        const struct ns_layer *b = &g->layer[i + 1];
        if (role[i] == KEEP && role[i + 1] == KEEP && g->layer[i].kind == NS_L_CONV &&
            b->kind == NS_L_BN && b->in[0] == i && uses[i] == 1) {
            role[i] = CONV_BN;
            role[i + 1] = DROP;
        }
    }
    struct ns_emit e = {.g = out};
    for (int i = 0; i < g->n && !e.failed; i++) {
        const struct ns_layer *l = &g->layer[i];
        e.stage = l->stage;
        e.block = l->block;
        int in0 = l->in[0] >= 0 ? map[l->in[0]] : -1, in1 = l->in[1] >= 0 ? map[l->in[1]] : -1;
        if (role[i] == KEEP) {
            map[i] = ns_e_copy(&e, l, in0, in1);
        } else if (role[i] == CONV_BN) {
            int c = ns_e_copy(&e, l, in0, in1);
            if (!e.failed)
                out->layer[c].bias = 1;
            map[i] = map[i + 1] = g->layer[i + 1].relu ? ns_e_act(&e, c, NS_ACT_RELU) : c;
        } else if (role[i] == ROOT) {
            const struct ns_merge *m = &ms[root_of[i]];
            const struct ns_layer *t = &g->layer[m->target];
            int c = ns_e_conv(&e, map[m->x], t->c, t->k, t->stride, 1, 1);
            map[i] = l->relu ? ns_e_act(&e, c, NS_ACT_RELU) : c;
        }
    }
    int failed = e.failed;
    free(ms), free(uses), free(role), free(map), free(root_of);
    if (failed) {
        ns_graph_free(out);
        return ns_err("out of memory building the inference graph");
    }
    return 0;
}
