/* The primitives that block emit functions build a graph with (graph.c), and the table of
 * block types (blocks.c). Internal to src/model.
 *
 * Every primitive takes the id of its input layer(s), appends one layer and returns its id.
 * When the graph cannot grow (out of memory) they set g->failed and return 0 (the input),
 * so an emit function needs no error checks of its own; ns_graph_build reports it. */
#ifndef NS_EMIT_H
#define NS_EMIT_H

#include "model/graph.h"

/* The build state: the graph plus where layers are being emitted. */
struct ns_emit {
    struct ns_graph *g;
    const struct ns_config *cfg;
    int stage, block; /* stamped on every layer emitted */
    int block_no, n_blocks; /* this block's index in the whole net, and how many there are */
    float drop_path;        /* the graph's stochastic depth rate (0 = none) */
    int zero_classifier;    /* the head asks for a classifier initialized to zeros */
    int failed;       /* out of memory */
    double nf_var;    /* NF nets: the analytically tracked variance of the residual stream
                       * at the current block's input (1 after the stem) */
};

/* One block of a stage: x is the block's input (its width is w_in), st the stage, s the
 * block's stride (the stage's on its first block, else 1), i the stage index (for error
 * messages). Returns the block's output layer, or -1 after ns_err naming the field that
 * makes the block impossible (emit functions check their own width rules). */
typedef int (*ns_emit_block_fn)(struct ns_emit *e, int x, const struct ns_stage *st, int s, int i);

/* A family's own head in place of the default (head conv if any, global average pool):
 * from the last block's output to the classifier's input. */
typedef int (*ns_emit_head_fn)(struct ns_emit *e, int x);

struct ns_block_def {
    const char *name;
    unsigned takes; /* NS_TAKES_* of model.h */
    ns_emit_block_fn emit;
    ns_emit_head_fn head; /* NULL: the default head */
};
extern const struct ns_block_def ns_block_defs[NS_BLOCK_COUNT];

/* ns_config_check without the blocks' width rules (which need the graph). */
int ns_config_check_fields(const struct ns_config *c);

/* Layer shape shorthands. */
int ns_e_h(const struct ns_emit *e, int x);
int ns_e_c(const struct ns_emit *e, int x);

int ns_e_conv(struct ns_emit *e, int x, int cout, int k, int stride, int groups, int bias);
/* A kh x kw conv (pads kh/2 and kw/2; ns_e_conv is kh = kw = k). */
int ns_e_conv_rect(struct ns_emit *e, int x, int cout, int kh, int kw, int stride, int groups,
                   int bias);
/* BN (relu: a ReLU fused after it; res_last: the last BN of a residual branch). */
int ns_e_bn(struct ns_emit *e, int x, int relu, int res_last);
int ns_e_act(struct ns_emit *e, int x, enum ns_act a);
/* The "BN, act" after a conv, in the config's BN order and activation: BN with the ReLU
 * fused into it, or BN then act, or act then BN (bn_order after_act). */
int ns_e_bn_act(struct ns_emit *e, int x);
/* conv then ns_e_bn_act. */
int ns_e_conv_bn_act(struct ns_emit *e, int x, int cout, int k, int stride, int groups);
int ns_e_add(struct ns_emit *e, int x, int y, int relu);
int ns_e_maxpool(struct ns_emit *e, int x, int k, int stride, int pad);
int ns_e_avgpool(struct ns_emit *e, int x, int k, int stride, int pad);
int ns_e_gap(struct ns_emit *e, int x);
int ns_e_linear(struct ns_emit *e, int x, int cout, int classifier);
/* Squeeze-and-excitation on x with w_se hidden units: GAP, linear, the config's act,
 * linear, sigmoid, scale. */
int ns_e_se(struct ns_emit *e, int x, int w_se);
int ns_e_shuffle(struct ns_emit *e, int x, int groups);
int ns_e_slice(struct ns_emit *e, int x, int lo, int c);
int ns_e_concat(struct ns_emit *e, int x, int y);
/* Stochastic depth on a residual branch x, at this block's rate (nothing when 0). */
int ns_e_drop_path(struct ns_emit *e, int x);
/* Transformer pieces (graph.h's layer kinds). ns_e_linear_init: a linear layer on every
 * position (a 1x1 conv with bias) with an init rule. */
int ns_e_patchify(struct ns_emit *e, int x, int p);
int ns_e_tokens(struct ns_emit *e, int x);
int ns_e_ln(struct ns_emit *e, int x);
int ns_e_attn(struct ns_emit *e, int qkv, int heads);
int ns_e_token0(struct ns_emit *e, int x);
int ns_e_linear_init(struct ns_emit *e, int x, int cout, enum ns_init init, int small_bias);
/* A copy of layer l (its shape and settings, stamped with e's stage and block) reading
 * x and y instead of l's inputs. */
int ns_e_copy(struct ns_emit *e, const struct ns_layer *l, int x, int y);
/* Projection shortcut: 1x1 strided conv + BN. */
int ns_e_projection(struct ns_emit *e, int x, int w, int stride);
/* RepVGG's training-time unit (blocks.c): conv 3x3 s-BN + conv 1x1 s-BN [+ BN of x when
 * s == 1 and x has w channels], summed, then the config's activation. Also the repvgg stem. */
int ns_e_repvgg_unit(struct ns_emit *e, int x, int w, int s);

/* ---- normalizer-free nets (NS_NORM_FREE) ----
 * NS_NF_ALPHA: the residual branch's scale; ns_nf_gamma: the gain that makes the config's
 * activation variance-preserving for unit Gaussian inputs (relu, silu; 0 for others), the
 * constants of the NF-ResNet paper's code (DeepMind's and timm's). */
#define NS_NF_ALPHA 0.2
double ns_nf_gamma(enum ns_act a);
/* Scaled weight-standardized conv with a bias (its gain is part of the layer). */
int ns_e_wsconv(struct ns_emit *e, int x, int cout, int k, int stride, int groups);
/* gamma * act(mul_in * x) with the config's act. */
int ns_e_nf_act(struct ns_emit *e, int x, double mul_in);
/* x + alpha * y. */
int ns_e_nf_add(struct ns_emit *e, int x, int y, double alpha);
/* The stem's and head's "conv, normalize, act": conv-BN-act, or for a norm-free block
 * type WS conv then the gamma-scaled act. */
int ns_e_conv_norm_act(struct ns_emit *e, int x, int cout, int k, int stride);

#endif
