/* Every block type, written once: an emit function that appends the block's layers to the
 * graph (and checks the width rules that make it buildable), and a row of the table that
 * names it and says which config fields it takes. Adding a family is one function and one
 * row here, plus its space file.
 *
 * In each block, w_in is the block's input width, w the stage's width, s the block's stride;
 * "conv-BN-act" is ns_e_conv_bn_act (the config's BN order and activation). A projection
 * shortcut (1x1 s conv + BN) replaces the identity where the shape changes. */
#include "model/emit.h"

#include "util/err.h"

#include <math.h>

/* y + sc, then the block's activation (ReLU fused into the add); add_act: y is a residual
 * block's branch, after stochastic depth (if any). */
static int sum2_act(struct ns_emit *e, int y, int sc)
{
    if (e->cfg->act == NS_ACT_RELU)
        return ns_e_add(e, y, sc, 1);
    return ns_e_act(e, ns_e_add(e, y, sc, 0), e->cfg->act);
}

static int add_act(struct ns_emit *e, int y, int sc)
{
    return sum2_act(e, ns_e_drop_path(e, y), sc);
}

/* SE of width round(se_r * w_in) on x; -1 when that rounds to 0. */
static int se(struct ns_emit *e, int x, int w_in, int i)
{
    int w_se = ns_round_even(e->cfg->se_r * w_in);
    if (w_se < 1)
        return ns_err("stages[%d]: SE width round(%g * %d) is 0", i, e->cfg->se_r, w_in);
    return ns_e_se(e, x, w_se);
}

static int need_projection(const struct ns_emit *e, int x, const struct ns_stage *st, int s)
{
    return s != 1 || ns_e_c(e, x) != st->w;
}

/* vanilla: conv 3x3 s-BN-act, conv 3x3-BN-act; no shortcut (VGG-like). */
static int emit_vanilla(struct ns_emit *e, int x, const struct ns_stage *st, int s, int i)
{
    (void)i;
    int y = ns_e_conv_bn_act(e, x, st->w, 3, s, 1);
    return ns_e_conv_bn_act(e, y, st->w, 3, 1, 1);
}

/* res_basic: conv 3x3 s-BN-act, conv 3x3-BN, + shortcut, act (ResNet's basic block). */
static int emit_res_basic(struct ns_emit *e, int x, const struct ns_stage *st, int s, int i)
{
    (void)i;
    int sc = need_projection(e, x, st, s) ? ns_e_projection(e, x, st->w, s) : x;
    int y = ns_e_conv_bn_act(e, x, st->w, 3, s, 1);
    y = ns_e_bn(e, ns_e_conv(e, y, st->w, 3, 1, 1, 0), 0, 1);
    return add_act(e, y, sc);
}

/* The bottleneck width round(w*b) of a grouped bottleneck, or -1 (ns_err) when it is 0 or
 * the group width does not divide it. */
static int bottleneck_width(const struct ns_stage *st, int i)
{
    int wb = ns_round_even(st->w * st->b);
    if (wb < 1)
        return ns_err("stages[%d].b: bottleneck width round(%d*%g) is 0", i, st->w, st->b);
    if (st->g < 1 || wb % st->g != 0)
        return ns_err("stages[%d].g: group width %d does not divide the bottleneck width %d", i,
                      st->g, wb);
    return wb;
}

/* x (ResNeXt bottleneck): wb = round(w*b), groups = wb/g: conv 1x1 w_in->wb-BN-act, conv
 * 3x3 s grouped-BN-act, [y: SE of width round(se_r*w_in)], conv 1x1 wb->w-BN, + shortcut,
 * act. y is x with SE (RegNetY). */
static int emit_x(struct ns_emit *e, int x, const struct ns_stage *st, int s, int i)
{
    int w_in = ns_e_c(e, x), wb = bottleneck_width(st, i);
    if (wb < 0)
        return -1;
    int sc = need_projection(e, x, st, s) ? ns_e_projection(e, x, st->w, s) : x;
    int y = ns_e_conv_bn_act(e, x, wb, 1, 1, 1);
    y = ns_e_conv_bn_act(e, y, wb, 3, s, wb / st->g);
    if (e->cfg->se_r > 0 && (y = se(e, y, w_in, i)) < 0)
        return -1;
    y = ns_e_bn(e, ns_e_conv(e, y, st->w, 1, 1, 1, 0), 0, 1);
    return add_act(e, y, sc);
}

/* sep (Xception-style, pre-activation): BN-ReLU, separable conv (3x3 depthwise on w_in,
 * 1x1 to w, no BN between), BN-ReLU, separable conv w->w, [3x3 s2 max pool if s == 2], +
 * shortcut (1x1 s conv without BN where the shape changes); no activation after the add. */
static int emit_sep(struct ns_emit *e, int x, const struct ns_stage *st, int s, int i)
{
    (void)i;
    int w_in = ns_e_c(e, x), w = st->w;
    int sc = need_projection(e, x, st, s) ? ns_e_conv(e, x, w, 1, s, 1, 0) : x;
    int y = ns_e_bn(e, x, 1, 0);
    y = ns_e_conv(e, y, w_in, 3, 1, w_in, 0);
    y = ns_e_conv(e, y, w, 1, 1, 1, 0);
    y = ns_e_bn(e, y, 1, 0);
    y = ns_e_conv(e, y, w, 3, 1, w, 0);
    y = ns_e_conv(e, y, w, 1, 1, 1, 0);
    if (s == 2)
        y = ns_e_maxpool(e, y, 3, 2, 1);
    return ns_e_add(e, y, sc, 0);
}

/* mbconv (MobileNetV2 inverted bottleneck; EfficientNet's with SE, SiLU and k = 5):
 * we = round(w_in*b): conv 1x1 w_in->we-BN-act (skipped when b == 1), depthwise conv k x k
 * s-BN-act, [SE of width round(se_r*w_in)], conv 1x1 we->w-BN (linear), + identity when
 * s == 1 and w_in == w, else no shortcut. */
static int emit_mbconv(struct ns_emit *e, int x, const struct ns_stage *st, int s, int i)
{
    int w_in = ns_e_c(e, x), we = ns_round_even(w_in * st->b);
    if (we < 1)
        return ns_err("stages[%d].b: expanded width round(%d*%g) is 0", i, w_in, st->b);
    int proj = need_projection(e, x, st, s);
    int y = x;
    if (st->b != 1.0)
        y = ns_e_conv_bn_act(e, y, we, 1, 1, 1);
    y = ns_e_conv_bn_act(e, y, we, ns_stage_k(st), s, we);
    if (e->cfg->se_r > 0 && (y = se(e, y, w_in, i)) < 0)
        return -1;
    y = ns_e_bn(e, ns_e_conv(e, y, st->w, 1, 1, 1, 0), 0, !proj);
    return proj ? y : ns_e_add(e, ns_e_drop_path(e, y), x, 0);
}

/* mbv1 (MobileNet v1's depthwise separable conv): depthwise conv k x k s-BN-act, pointwise
 * conv 1x1 w_in->w-BN-act; no shortcut. */
static int emit_mbv1(struct ns_emit *e, int x, const struct ns_stage *st, int s, int i)
{
    (void)i;
    int w_in = ns_e_c(e, x);
    int y = ns_e_conv_bn_act(e, x, w_in, ns_stage_k(st), s, w_in);
    return ns_e_conv_bn_act(e, y, st->w, 1, 1, 1);
}

/* shuffle_v2 (ShuffleNet v2 unit), bf = w/2. Where s == 1 and w_in == w: split the input in
 * halves; the second goes through conv 1x1-BN-act, depthwise 3x3-BN, conv 1x1-BN-act; concat
 * with the first half. Else (downsampling) two branches on the whole input: depthwise 3x3
 * s-BN, conv 1x1 w_in->bf-BN-act; and conv 1x1 w_in->bf-BN-act, depthwise 3x3 s-BN, conv
 * 1x1-BN-act; concat. Then a channel shuffle with 2 groups. */
static int emit_shuffle_v2(struct ns_emit *e, int x, const struct ns_stage *st, int s, int i)
{
    int w_in = ns_e_c(e, x), w = st->w, bf = w / 2;
    if (w % 2)
        return ns_err("stages[%d].w: %d is odd; a ShuffleNet v2 unit splits its width in halves",
                      i, w);
    int a, b;
    if (!need_projection(e, x, st, s)) {
        a = ns_e_slice(e, x, 0, bf);
        b = ns_e_slice(e, x, bf, bf);
    } else {
        a = ns_e_bn(e, ns_e_conv(e, x, w_in, 3, s, w_in, 0), 0, 0);
        a = ns_e_conv_bn_act(e, a, bf, 1, 1, 1);
        b = x;
    }
    b = ns_e_conv_bn_act(e, b, bf, 1, 1, 1);
    b = ns_e_bn(e, ns_e_conv(e, b, bf, 3, s, bf, 0), 0, 0);
    b = ns_e_conv_bn_act(e, b, bf, 1, 1, 1);
    return ns_e_shuffle(e, ns_e_concat(e, a, b), 2);
}

/* The sum of n >= 2 parallel branch outputs, then the block's activation. No stochastic
 * depth: the branches are not a residual (and a dropped sum could not be folded). */
static int sum_act(struct ns_emit *e, const int *y, int n)
{
    int sum = y[0];
    for (int i = 1; i + 1 < n; i++)
        sum = ns_e_add(e, sum, y[i], 0);
    return sum2_act(e, sum, y[n - 1]);
}

/* A conv-BN branch of a structurally re-parameterizable block (no activation of its own). */
static int conv_bn(struct ns_emit *e, int x, int w, int kh, int kw, int s)
{
    return ns_e_bn(e, ns_e_conv_rect(e, x, w, kh, kw, s, 1, 0), 0, 0);
}

int ns_e_repvgg_unit(struct ns_emit *e, int x, int w, int s)
{
    int y[3], n = 0;
    y[n++] = conv_bn(e, x, w, 3, 3, s);
    y[n++] = conv_bn(e, x, w, 1, 1, s);
    if (s == 1 && ns_e_c(e, x) == w)
        y[n++] = ns_e_bn(e, x, 0, 0);
    return sum_act(e, y, n);
}

/* repvgg (RepVGG's training-time block): conv 3x3 s-BN + conv 1x1 s-BN + BN of the input
 * (only when s == 1 and w_in == w), summed, act. For inference the three branches fold into
 * one 3x3 conv with a bias (src/model/deploy.c, src/nn/reparam.c): a VGG-like plain net. */
static int emit_repvgg(struct ns_emit *e, int x, const struct ns_stage *st, int s, int i)
{
    (void)i;
    return ns_e_repvgg_unit(e, x, st->w, s);
}

/* acnet (ACNet's asymmetric convolution block, one per block): conv 3x3 s-BN + conv 1x3
 * s-BN + conv 3x1 s-BN, summed, act; folds into one 3x3 conv with a bias for inference. */
static int emit_acnet(struct ns_emit *e, int x, const struct ns_stage *st, int s, int i)
{
    (void)i;
    int y[3]; /* one statement each: the layers' order is the branches' */
    y[0] = conv_bn(e, x, st->w, 3, 3, s);
    y[1] = conv_bn(e, x, st->w, 1, 3, s);
    y[2] = conv_bn(e, x, st->w, 3, 1, s);
    return sum_act(e, y, 3);
}

/* shuffle_v1 (ShuffleNet v1 unit): bottleneck bw = round(w*b) (the paper's b = 1/4), G =
 * bw/g groups (g: the group width on the bottleneck side). Grouped conv 1x1 w_in->bw-BN-act
 * (ungrouped in the net's first block, whose input is the stem's few channels, as in the
 * paper), channel shuffle (G groups), depthwise 3x3 s-BN, grouped conv 1x1-BN to w (s == 1:
 * added to the input) or to w - w_in (s == 2: concatenated after a 3x3 s2 average pool of
 * the input), then act. */
static int emit_shuffle_v1(struct ns_emit *e, int x, const struct ns_stage *st, int s, int i)
{
    int w_in = ns_e_c(e, x), w = st->w, bw = ns_round_even(w * st->b);
    if (bw < 1 || st->g < 1 || bw % st->g != 0)
        return ns_err("stages[%d].g: group width %d does not divide the bottleneck width %d", i,
                      st->g, bw);
    int groups = bw / st->g, first = i == 0 && e->block == 0 ? 1 : groups;
    int out = s == 2 ? w - w_in : w;
    if (s == 1 && w_in != w)
        return ns_err("stages[%d].s: a ShuffleNet v1 unit changes the width (%d to %d) only "
                      "with stride 2",
                      i, w_in, w);
    if (out < 1 || w_in % first != 0 || out % groups != 0)
        return ns_err("stages[%d].w: %d groups do not divide the unit's widths (input %d, "
                      "branch output %d)",
                      i, groups, w_in, out);
    int y = ns_e_conv_bn_act(e, x, bw, 1, 1, first);
    y = ns_e_shuffle(e, y, groups);
    y = ns_e_bn(e, ns_e_conv(e, y, bw, 3, s, bw, 0), 0, 0);
    y = ns_e_bn(e, ns_e_conv(e, y, out, 1, 1, groups, 0), 0, s == 1);
    if (s == 1)
        return add_act(e, y, x);
    return ns_e_act(e, ns_e_concat(e, ns_e_avgpool(e, x, 3, 2, 1), y), e->cfg->act);
}

/* vit (a pre-LN transformer encoder block, ViT's), on tokens of width D = w with heads of
 * width g (heads = w/g) and an MLP of width round(w*b): x + attn(LN(x)), then
 * x + MLP(LN(x)) with MLP = linear, GELU, linear. attn: a linear to q|k|v (3w), multi-head
 * self-attention, a linear back to w. The net's first block first makes the tokens: the
 * stem's output map flattened, a class token in front, a learned position embedding added.
 * Inits as pycls's ViT: q|k|v and MLP xavier-uniform, the output projection torch's
 * default, MLP biases N(0, 1e-6), the patch embedding truncated-normal sqrt(1/fan_in). */
static int emit_vit(struct ns_emit *e, int x, const struct ns_stage *st, int s, int i)
{
    int w = st->w, m = ns_round_even(w * st->b);
    if (s != 1)
        return ns_err("stages[%d].s: a transformer stage has stride 1", i);
    if (ns_e_c(e, x) != w)
        return ns_err("stages[%d].w: %d is not the stem's (token) width %d", i, w, ns_e_c(e, x));
    if (st->g < 1 || w % st->g)
        return ns_err("stages[%d].g: head width %d does not divide the width %d", i, st->g, w);
    if (m < 1)
        return ns_err("stages[%d].b: MLP width round(%d*%g) is 0", i, w, st->b);
    if (e->block_no == 0)
        x = ns_e_tokens(e, x);
    int y = ns_e_linear_init(e, ns_e_ln(e, x), 3 * w, NS_INIT_XAVIER, 0);
    y = ns_e_linear_init(e, ns_e_attn(e, y, w / st->g), w, NS_INIT_TORCH, 0);
    x = ns_e_add(e, ns_e_drop_path(e, y), x, 0);
    y = ns_e_linear_init(e, ns_e_ln(e, x), m, NS_INIT_XAVIER, 1);
    y = ns_e_linear_init(e, ns_e_act(e, y, NS_ACT_GELU), w, NS_INIT_XAVIER, 1);
    return ns_e_add(e, ns_e_drop_path(e, y), x, 0);
}

/* The encoder's final layer norm, then the class token's features; the classifier starts
 * at zero. */
static int head_vit(struct ns_emit *e, int x)
{
    e->zero_classifier = 1;
    return ns_e_token0(e, ns_e_ln(e, x));
}

/* nf (NF-ResNet pre-activation bottleneck, Brock et al. 2021: "Characterizing signal
 * propagation to close the performance gap in unnormalized ResNets"): no BN anywhere; every
 * conv is a scaled weight-standardized conv with a bias ("WS conv"), every activation
 * gamma-scaled to preserve variance (ns_nf_gamma). With beta = sqrt(Var), the analytically
 * tracked variance of the block's input, wb = round(w*b) and groups = wb/g:
 *   a = gamma * act(x / beta); WS conv 1x1 w_in->wb, gamma*act; WS conv 3x3 s grouped,
 *   gamma*act; WS conv 1x1 wb->w; out = shortcut + alpha * branch,
 * the shortcut being WS conv 1x1 s of a where the shape changes (a transition block), else
 * x itself. Var is reset to 1 + alpha^2 after a transition block and grows by alpha^2 after
 * any other (it starts at 1 after the stem). */
static int emit_nf(struct ns_emit *e, int x, const struct ns_stage *st, int s, int i)
{
    int wb = bottleneck_width(st, i);
    if (wb < 0)
        return -1;
    const double alpha = NS_NF_ALPHA;
    int a = ns_e_nf_act(e, x, 1.0 / sqrt(e->nf_var));
    int proj = need_projection(e, x, st, s);
    int sc = proj ? ns_e_wsconv(e, a, st->w, 1, s, 1) : x;
    int y = ns_e_nf_act(e, ns_e_wsconv(e, a, wb, 1, 1, 1), 1.0);
    y = ns_e_nf_act(e, ns_e_wsconv(e, y, wb, 3, s, wb / st->g), 1.0);
    y = ns_e_wsconv(e, y, st->w, 1, 1, 1);
    e->nf_var = proj ? 1.0 + alpha * alpha : e->nf_var + alpha * alpha;
    return ns_e_nf_add(e, sc, y, alpha);
}

const struct ns_block_def ns_block_defs[NS_BLOCK_COUNT] = {
    [NS_BLOCK_VANILLA] = {"vanilla", NS_TAKES_ACT, emit_vanilla},
    [NS_BLOCK_RES_BASIC] = {"res_basic", NS_TAKES_ACT, emit_res_basic},
    [NS_BLOCK_X] = {"x", NS_TAKES_G | NS_TAKES_B | NS_TAKES_ACT, emit_x},
    [NS_BLOCK_Y] = {"y", NS_TAKES_G | NS_TAKES_B | NS_TAKES_SE | NS_NEEDS_SE | NS_TAKES_ACT, emit_x},
    [NS_BLOCK_SEP] = {"sep", NS_DEPTHWISE_G1, emit_sep},
    [NS_BLOCK_MBCONV] = {"mbconv",
                         NS_TAKES_B | NS_TAKES_K | NS_TAKES_SE | NS_TAKES_ACT | NS_DEPTHWISE_G1,
                         emit_mbconv},
    [NS_BLOCK_MBV1] = {"mbv1", NS_TAKES_K | NS_TAKES_ACT, emit_mbv1},
    [NS_BLOCK_SHUFFLE_V2] = {"shuffle_v2", NS_TAKES_ACT, emit_shuffle_v2},
    [NS_BLOCK_SHUFFLE_V1] = {"shuffle_v1", NS_TAKES_G | NS_TAKES_B | NS_TAKES_ACT, emit_shuffle_v1},
    [NS_BLOCK_VIT] = {"vit", NS_TAKES_G | NS_TAKES_B | NS_TOKENS, emit_vit, head_vit},
    [NS_BLOCK_NF] = {"nf", NS_TAKES_G | NS_TAKES_B | NS_TAKES_ACT | NS_NORM_FREE, emit_nf},
    [NS_BLOCK_REPVGG] = {"repvgg", NS_TAKES_ACT | NS_NO_BN_AFTER, emit_repvgg},
    [NS_BLOCK_ACNET] = {"acnet", NS_TAKES_ACT | NS_NO_BN_AFTER, emit_acnet},
};
