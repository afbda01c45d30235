/* A network built from a model config (src/model/model.h): a fixed list of nodes (ops)
 * over tensors, in forward order; backward walks it in reverse. All memory — parameters,
 * their gradients and momentum, activations, their gradients, scratch — is allocated once
 * at build time for the largest batch; forward and backward allocate nothing.
 *
 * Parameters live in one array with a table of (offset, length, kind), like llm.c, so
 * zeroing, the SGD update and initialization are single loops. Not thread-safe: one
 * caller; the net's own pool runs the ops. */
#ifndef NS_NET_H
#define NS_NET_H

#include <stddef.h>
#include <stdint.h>

#include "nn/ops.h"
#include "model/graph.h"

/* What a parameter tensor is. Norm parameters, biases and embeddings (BN_*, LN_*, BIAS,
 * CLS, POS) and WS gains take no weight decay under AdamW. */
enum ns_param_kind { NS_P_CONV_W, NS_P_BIAS, NS_P_FC_W, NS_P_BN_GAMMA, NS_P_BN_BETA,
                     NS_P_LN_GAMMA, NS_P_LN_BETA, NS_P_CLS, NS_P_POS, NS_P_WS_W, NS_P_WS_GAIN };

struct ns_param {
    size_t off, len;
    enum ns_param_kind kind;
    enum ns_init init; /* CONV_W, FC_W: the rule (model/graph.h); BIAS: DEFAULT (0) or
                        * NS_INIT_LECUN standing for N(0, 1e-6) (ViT's MLP biases) */
    int fan_in;
    int fan_out;    /* conv: k*k*cout (pycls init) */
    int zero_init;  /* BN gamma that starts at 0 (last BN of a residual block, if asked) */
    int units;      /* output units of a weight laid out (len/units, units): cout of conv
                     * and linear weights; 1 for vectors (adaptive gradient clipping) */
    int classifier; /* the classifier's weight or bias (not clipped) */
};

enum ns_node_kind { NS_N_CONV, NS_N_BN, NS_N_ACT, NS_N_ADD, NS_N_MAXPOOL, NS_N_AVGPOOL,
                    NS_N_GAP, NS_N_LINEAR, NS_N_SCALE, NS_N_DROPOUT, NS_N_SHUFFLE, NS_N_SLICE,
                    NS_N_CONCAT, NS_N_DROPPATH, NS_N_PATCHIFY, NS_N_TOKENS, NS_N_LN,
                    NS_N_ATTN, NS_N_TOKEN0, NS_N_WSCONV, NS_N_NF_ACT, NS_N_NF_ADD };

struct ns_node {
    enum ns_node_kind kind;
    int in[2], out;   /* tensor ids (in[1] = -1 when unused) */
    int acc[2];       /* backward adds into in[i]'s gradient instead of overwriting */
    int w, b;         /* parameter ids (-1 = none): conv/linear weight and bias, BN gamma/beta */
    int relu;         /* ADD: ReLU after the sum */
    int skip;         /* fused away for inference: output aliases the input */
    int bn_add;       /* BN: the ADD node that applies this BN's affine (its output is not
                       * stored; ns_bn_add_forward), -1: none */
    int add_bn;       /* ADD: that BN node, -1: none */
    int bn_conv;      /* BN: the 1x1 CONV node (the one before it) whose backward its own
                       * runs (ns_conv_bn_backward), -1: none */
    int conv_bn;      /* CONV: that BN node (its backward step does this node's), -1: none */
    size_t bn_off;    /* BN: offset in bn_state of running mean, running var, batch mean, rstd,
                       * the training forward's scale and shift, and evaluation's scale and
                       * shift (bn_add's ADD applies them) (c each) */
    size_t bias_off;  /* CONV: offset in fused_bias of the bias BN fusion gives it */
    size_t mask_off;  /* DROPOUT, DROPPATH: offset of the node's masks in drop_mask */
    size_t cache_off; /* LN: mean and rstd per row, ATTN: attention maps, in cache */
    int gain;         /* WSCONV: parameter id of the per-channel gain (w: the raw weights) */
    size_t ws_off;    /* WSCONV: offset in ws_mem of the standardized weights, their
                       * gradient (k*k*cpg*cout each), then mean and rstd (cout each) */
    union {
        struct ns_conv conv;
        struct ns_bn bn;
        struct ns_pool2d pool;
        struct { int cin, cout; } lin;
        struct { int hw, c; } gap;
        enum ns_act act;
        float rate;
        struct { int groups, lo; } ch; /* SHUFFLE: groups; SLICE: first channel */
        struct ns_patchify patch;
        struct ns_attention attn;
        struct { enum ns_act act; float mul_in, mul_out; } nf; /* NF_ACT */
        float alpha;  /* NF_ADD */
    } u;
};

struct ns_tensor {
    int h, w, c;      /* per image */
    size_t per_image; /* h*w*c */
    float *data, *grad; /* grad: NULL for the input (unless a SCALE node writes it) */
    size_t grad_off;  /* where grad sits in grad_mem (shared by liveness: plan in net.c) */
    int unstored;     /* a BN output its ADD computes through (node bn_add): no data (NULL)
                       * until inference fusion points it at its conv's output */
};

struct ns_net {
    struct ns_config cfg;
    int max_batch;
    struct ns_pool *pool;     /* borrowed */
    struct ns_node *nodes;
    int n_nodes;
    struct ns_tensor *tensors;
    int n_tensors;
    struct ns_param *params;
    int n_params;
    size_t n_weights;         /* total parameter floats */
    float *w, *dw, *mom;      /* parameters, gradients, momentum (AdamW: first moment) */
    float *var;               /* AdamW's second moment (ns_net_use_adamw), else NULL */
    long adam_steps;
    float *bn_state;          /* per BN: running mean, running var, mean, rstd, scale, shift,
                               * evaluation's scale and shift (8*c) */
    size_t bn_state_len;
    float *fused_bias;        /* per conv: cout floats used after ns_net_fuse_bn */
    size_t fused_len;
    float *ws_mem;            /* per WS conv: standardized weights and what backward needs */
    size_t ws_len;
    float *act_mem, *grad_mem, *scratch;
    size_t act_len, grad_len, scratch_len;
    float *cache;             /* what LN and attention keep for backward */
    size_t cache_len;
    uint8_t *drop_mask;       /* dropout and drop path masks, max_batch-sized per node */
    size_t drop_len;
    int input, logits;        /* tensor ids */
    int fused;                /* ns_net_fuse_bn was called: inference only */
    size_t bytes;             /* total bytes allocated */
    size_t plan_bytes;        /* what ns_net_memory predicts (the arrays above, unpadded) */
    double *prof;             /* ns_net_profile: seconds per node, forward then backward */
};

/* Build the network of cfg for batches up to max_batch. dropout: rate before the FC (0 =
 * none); zero_init_last_bn: start each residual block's last BN gamma at 0. NULL with
 * ns_err if the config is invalid or memory runs out. */
struct ns_net *ns_net_build(const struct ns_config *cfg, int max_batch, float dropout,
                            int zero_init_last_bn, struct ns_pool *pool);
/* The same with every graph option (dropout, stochastic depth: model/graph.h). */
struct ns_net *ns_net_build_opts(const struct ns_config *cfg, int max_batch,
                                 const struct ns_graph_opts *opts, int zero_init_last_bn,
                                 struct ns_pool *pool);
void ns_net_free(struct ns_net *net);

/* Time every node from now on: forward and backward seconds per node add up in
 * net->prof[2*i] and net->prof[2*i+1] (netspace bench --profile). Off by default: one
 * clock read per node and pass when on. -1 (ns_err) if out of memory. */
int ns_net_profile(struct ns_net *net);
/* A short description of node i ("conv 3x3/2 gw8 16->32 28x28": kind, kernel/stride,
 * depthwise or group width, channels in->out, input size), into buf. */
void ns_net_node_name(const struct ns_net *net, int i, char *buf, size_t len);

/* The bytes ns_net_build would allocate for cfg at max_batch on nth threads (parameters,
 * their gradients and momentum, BN state, activations and their gradients, scratch, dropout
 * masks), computed from the layer graph without allocating any of it. 0, or -1 (ns_err)
 * for an invalid config. */
int ns_net_memory(const struct ns_config *cfg, int max_batch, const struct ns_graph_opts *opts,
                  int nth, size_t *bytes);

/* Initialize parameters (pycls): conv N(0, sqrt(2/fan_out)), FC N(0, 0.01), biases 0, BN
 * gamma 1 (0 where zero_init) and beta 0, running mean 0 and var 1; WS convs (timm's NF
 * nets) N(0, 1/sqrt(fan_in)) with gains 1. */
void ns_net_init(struct ns_net *net, uint64_t seed);

/* x: (n, h, w, in_ch) floats, n <= max_batch. train: batch statistics and dropout (rng
 * used only for dropout; may be NULL when dropout is 0); else running statistics.
 * Returns the logits (n, classes), owned by the net. */
const float *ns_net_forward(struct ns_net *net, int n, const float *x, int train,
                            struct ns_pcg32 *rng);
/* After a training forward: dlogits (n, classes) -> parameter gradients, added into dw. */
void ns_net_backward(struct ns_net *net, int n, const float *dlogits);
void ns_net_zero_grad(struct ns_net *net);

/* One SGD step with torch.optim.SGD semantics: g = grad + wd*w; buf = momentum*buf + g;
 * w -= lr * (nesterov ? g + momentum*buf : buf). The buffers start at zero (torch's
 * first-step buf = g, with dampening 0). */
void ns_net_sgd_step(struct ns_net *net, double lr, double momentum, double wd, int nesterov);

/* Allocate AdamW's second-moment buffer (once; it is zeroed with the first moments). 0, or
 * -1 with ns_err when out of memory. */
int ns_net_use_adamw(struct ns_net *net);
/* One AdamW step with torch.optim.AdamW semantics: w *= 1 - lr*wd (decoupled decay, not on
 * biases, BN and LN parameters, class token and position embedding); m = b1 m + (1-b1) g;
 * v = b2 v + (1-b2) g^2; w -= lr/(1-b1^t) * m / (sqrt(v/(1-b2^t)) + eps), t the step count
 * since ns_net_use_adamw. */
void ns_net_adamw_step(struct ns_net *net, double lr, double beta1, double beta2, double eps,
                       double wd);
/* Adaptive gradient clipping of the gradients in dw (ns_agc_clip, unit-wise) with factor
 * lambda, every parameter but the classifier's. Returns the number of units clipped. */
int ns_net_agc(struct ns_net *net, double lambda);

/* Fold every BN that follows a conv into the conv's weights and a bias, then every
 * re-parameterizable sum of conv-BN and BN branches (RepVGG, ACNet: graph.h) into one conv
 * with a bias (ns_net_reparam), for inference: evaluation outputs are unchanged (to
 * rounding) and the BNs and extra branches cost nothing; the net computes what
 * ns_graph_deploy describes. The net can no longer be trained. */
void ns_net_fuse_bn(struct ns_net *net);
/* The second step of ns_net_fuse_bn (src/nn/reparam.c), for a net whose conv+BN pairs are
 * fused: returns the number of sums folded (0 when out of memory: evaluation stays
 * correct, only slower). */
int ns_net_reparam(struct ns_net *net);

/* Number of parameter floats (weights, biases, BN gamma and beta). */
long long ns_net_param_count(const struct ns_net *net);

#endif
