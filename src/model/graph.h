/* The layer graph of a model config: the one description of what a network is. A config
 * becomes an ordered list of layers, each reading the outputs of earlier layers (by id) and
 * producing one tensor of known shape. It is made by one emit function per block type
 * (src/model/blocks.c); everything that needs to know what a block is reads the graph:
 * complexity (ns_graph_complexity), the trainer's net builder (src/nn/net.c), inference
 * fusions (conv+BN, by pattern on the graph's order) and `netspace model --layers`.
 *
 * Pure data: no tensors, no allocation beyond the layer array, so complexity and memory
 * estimates come from it without building anything. Layer 0 is the input; layers are in
 * forward order (every input id is smaller than the layer's own id); the last layer is the
 * classifier. Shapes are per image, (h, w, c) channels last. */
#ifndef NS_GRAPH_H
#define NS_GRAPH_H

#include "model/model.h"

enum ns_layer_kind {
    NS_L_INPUT,   /* the image */
    NS_L_CONV,    /* k x kw conv (kw 0: square k x k), stride, pads k/2 and kw/2, groups,
                   * optional bias */
    NS_L_BN,      /* batch norm (optionally with a ReLU fused after it) */
    NS_L_ACT,     /* elementwise activation */
    NS_L_ADD,     /* in[0] + in[1] (optionally followed by ReLU) */
    NS_L_MAXPOOL, /* k x k max pool, stride, pad */
    NS_L_AVGPOOL, /* k x k average pool, stride, pad (padding not counted) */
    NS_L_GAP,     /* global average pool to 1x1 */
    NS_L_LINEAR,  /* fully connected on a 1x1 input, with bias */
    NS_L_SCALE,   /* in[0] (h, w, c) times in[1] (1, 1, c): SE's channel gate */
    NS_L_DROPOUT, /* inverted dropout (training only) */
    NS_L_SHUFFLE, /* channel shuffle with `groups` groups (ShuffleNet) */
    NS_L_SLICE,   /* channels [lo, lo + c) of in[0] */
    NS_L_CONCAT,  /* channels of in[0] then in[1] */
    NS_L_DROPPATH, /* stochastic depth: a residual branch dropped per image (training only) */
    NS_L_PATCHIFY, /* p x p patches (p = k) to channels: (h/p, w/p, p*p*c) */
    NS_L_TOKENS,   /* (h, w, C) -> tokens (h*w + 1, 1, C): a class token first, plus a
                    * learned position embedding */
    NS_L_LN,       /* layer norm over channels */
    NS_L_ATTN,     /* multi-head self-attention on (T, 1, 3C) q|k|v rows -> (T, 1, C);
                    * groups = heads */
    NS_L_TOKEN0,   /* the class token's row: (T, 1, C) -> (1, 1, C) */
    NS_L_WSCONV,  /* conv (as NS_L_CONV) whose weights are scaled weight-standardized per
                   * output channel, with a learnable gain per output channel (NF nets) */
    NS_L_NF_ACT,  /* mul_out * act(mul_in * x): NF nets' 1/beta input scaling and
                   * variance-preserving gamma */
    NS_L_NF_ADD,  /* in[0] + alpha * in[1]: NF nets' shortcut plus scaled residual branch */
    NS_L_KIND_COUNT
};

/* How a layer's weights are initialized (the trainer's job; the graph says which rule a
 * family's recipe uses). */
enum ns_init {
    NS_INIT_DEFAULT, /* conv N(0, sqrt(2/fan_out)) (pycls), classifier N(0, 0.01) */
    NS_INIT_XAVIER,  /* uniform +-sqrt(6/(fan_in + fan_out)) */
    NS_INIT_LECUN,   /* N(0, sqrt(1/fan_in)) cut at +-2 (torch's trunc_normal_) */
    NS_INIT_TORCH,   /* uniform +-1/sqrt(fan_in) (torch's Linear default) */
    NS_INIT_ZERO,    /* zeros (ViT's classifier) */
};

struct ns_layer {
    enum ns_layer_kind kind;
    int in[2];           /* input layer ids (-1 when unused) */
    int h, w, c;         /* output shape per image */
    int stage, block;    /* where it sits: stage 0 = stem, 1..n = stages, n+1 = head;
                          * block index within the stage */
    int k, stride, pad;  /* conv, pools */
    int groups;          /* conv: groups; shuffle: groups */
    int bias;            /* conv: has a bias (linear layers always do) */
    int relu;            /* BN: ReLU fused after; ADD: ReLU after the sum */
    enum ns_act act;     /* ACT */
    int res_last;        /* BN: last BN of a residual branch (zero-initialized if asked) */
    int classifier;      /* LINEAR: the classifier (init N(0, 0.01)), else SE (conv init) */
    int lo;              /* SLICE: first channel */
    float rate;          /* DROPOUT, DROPPATH */
    enum ns_init init;   /* CONV, LINEAR: how the weights start */
    int small_bias;      /* CONV, LINEAR: bias N(0, 1e-6) instead of 0 (ViT's MLP) */
    float mul_in, mul_out; /* NF_ACT */
    float alpha;         /* NF_ADD */
    int kw;              /* conv: kernel width when not square (ACNet's 1x3 and 3x1; k is the
                          * height), 0 for a square k x k kernel */
};

/* A conv layer's kernel width (k when square). */
static inline int ns_layer_kw(const struct ns_layer *l) { return l->kw ? l->kw : l->k; }

struct ns_graph {
    struct ns_layer *layer; /* layer[0] is the input */
    int n, cap;
    const struct ns_config *cfg; /* borrowed during the build only */
};

/* What a graph is built with besides the config (the recipe's parts that add layers). */
struct ns_graph_opts {
    float dropout;   /* rate of a dropout layer before the classifier (0 = none) */
    float drop_path; /* stochastic depth: block j of J (0-based, over the whole net) drops
                      * its residual branch with rate drop_path * j / J, as torchvision's
                      * EfficientNet; 0 = none */
};

/* Build the graph of cfg into *g (zeroed on entry or freed before). opts may be NULL.
 * Returns 0, or -1 with ns_err naming the field of the config that makes an impossible
 * network ("stages[1].g: group width 8 does not divide the bottleneck width 12"); *g is
 * then empty. Checks the config (ns_config_check's field checks) first. */
int ns_graph_build(const struct ns_config *cfg, const struct ns_graph_opts *opts,
                   struct ns_graph *g);
void ns_graph_free(struct ns_graph *g);

/* Sum of the layers' costs (model.h's conventions). */
void ns_graph_complexity(const struct ns_graph *g, struct ns_complexity *out);
/* One layer's share of it. */
void ns_layer_complexity(const struct ns_graph *g, int id, struct ns_complexity *out);
/* Parameter floats of one layer (weights, biases, BN's gamma and beta). */
double ns_layer_params(const struct ns_graph *g, int id);

/* "conv", "bn", "act", ... */
const char *ns_layer_kind_name(enum ns_layer_kind k);

/* ---- the inference form (deploy.c) -----------------------------------------------------
 * For evaluation a graph folds into a cheaper one with the same outputs: every BN that is
 * the only reader of a conv, right after it, folds into the conv's weights and a bias (as
 * src/nn/net.c's ns_net_fuse_bn does), and every structurally re-parameterizable sum folds
 * into one conv (RepVGG, ACNet; src/nn/reparam.c folds the weights).
 *
 * A re-parameterizable sum is an ADD (the root) whose inputs are, through ADDs without
 * ReLU that nothing else reads, n >= 2 linear branches of one tensor x, each a BN without
 * ReLU that only the sum reads: of a conv that only that BN reads (a conv branch) or of x
 * itself (an identity branch). It folds when the convs are ungrouped, share one stride and
 * fit centred into the largest, which is square with an odd size (3x3 holds 1x1, 1x3, 3x1:
 * pads k/2 keep their centres aligned); an identity branch needs stride 1 and as many
 * output as input channels (it becomes the kernel's centre diagonal). */
#define NS_MERGE_MAX 8
struct ns_merge {
    int root;   /* the last ADD: its output is the merged conv's (its ReLU after it) */
    int x;      /* the branches' input */
    int target; /* the conv that the others fold into */
    int n;      /* branches */
    int conv[NS_MERGE_MAX], bn[NS_MERGE_MAX]; /* branch i: its conv (-1: identity), its BN */
    int n_adds;
    int add[NS_MERGE_MAX]; /* the sum's ADDs, root first */
};

/* How many layers read each layer (a malloc'd array of g->n ints the caller frees), or
 * NULL when out of memory. */
int *ns_graph_uses(const struct ns_graph *g);
/* Every re-parameterizable sum of g, outermost first (no two share a layer): *out is a
 * malloc'd array of *n merges (NULL when none) the caller frees. 0, or -1 (ns_err) when out
 * of memory. */
int ns_graph_merges(const struct ns_graph *g, struct ns_merge **out, int *n);
/* The inference form of g into *out (zeroed on entry or freed before): folded BNs and
 * sums become convs with a bias (a BN's or root's ReLU an act layer after it); every other
 * layer is copied. Its complexity is the deployed net's. 0, or -1 (ns_err; *out empty). */
int ns_graph_deploy(const struct ns_graph *g, struct ns_graph *out);

#endif
