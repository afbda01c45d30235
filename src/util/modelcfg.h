/* The model config: the one value that travels through netspace (DESIGN.md). It describes
 * an AnyNet network completely; the trainer (src/nn) builds from it, src/space samples and
 * measures it, src/store records its canonical JSON (src/space/space.h reads and writes it).
 *
 * The architecture a config stands for, per block type (w_in -> w, stride s on the first
 * block of a stage, 1 on the others; every conv is bias-free and followed by BN unless said):
 *   stem   cifar : 3x3 s1 conv in_ch->stem_w, BN, ReLU
 *          simple: 3x3 s2 conv, BN, ReLU
 *          res   : 7x7 s2 conv (pad 3), BN, ReLU, 3x3 s2 max pool (pad 1)
 *   vanilla  : 3x3 s conv w_in->w, BN, ReLU; 3x3 conv w->w, BN, ReLU (no shortcut)
 *   res_basic: 3x3 s conv, BN, ReLU; 3x3 conv, BN; + shortcut; ReLU
 *   x        : wb = round(w*b), groups = wb/g; 1x1 w_in->wb, BN, ReLU; 3x3 s grouped wb->wb,
 *              BN, ReLU; 1x1 wb->w, BN; + shortcut; ReLU
 *   y        : x with squeeze-and-excitation after the 3x3's ReLU: global avg pool,
 *              1x1 conv wb->w_se (bias), ReLU, 1x1 conv w_se->wb (bias), sigmoid, scale;
 *              w_se = round(se_r * w_in)
 *   sep      : Xception-style, pre-activation: BN, ReLU, separable conv (3x3 depthwise on the
 *              input channels, then 1x1 to w, no BN between); BN, ReLU, separable conv w->w;
 *              if s == 2: 3x3 s2 max pool (pad 1); + shortcut; no ReLU after the add.
 *              Shortcut: 1x1 s conv w_in->w without BN when s != 1 or w_in != w, else identity.
 *   mbconv   : MobileNetV2 inverted bottleneck, we = round(w_in*b): 1x1 w_in->we, BN, ReLU
 *              (skipped when b == 1); 3x3 s depthwise, BN, ReLU; [SE as in y if se_r > 0,
 *              w_se = round(se_r * w_in)]; 1x1 we->w, BN (linear); + identity when s == 1
 *              and w_in == w, else no shortcut.
 *   shortcut (res_basic, x, y): identity when s == 1 and w_in == w, else 1x1 s conv + BN.
 *   head     : global average pool, fully connected w_last->classes with bias.
 * BN order (bn_order): before_act (the default, everything above) or after_act, where every
 * "conv, BN, ReLU" above (stem, vanilla, res_basic's first conv, x and y's first two,
 * mbconv's expansion (if any) and depthwise convs) becomes "conv, ReLU, BN"; BNs without a
 * ReLU after them are unchanged.
 * sep blocks are pre-activation and have only before_act.
 * Rounding (round(w*b), w_se) is half to even (rint), as everywhere in netspace.
 * Fields a block type does not use are canonical as: g = 0 and b = 1 for vanilla, res_basic;
 * g = 1 for sep and mbconv (depthwise); se_r = 0 unless the block is y or mbconv. */
#ifndef NS_MODELCFG_H
#define NS_MODELCFG_H

#define NS_MAX_STAGES 8

enum ns_block { NS_BLOCK_VANILLA, NS_BLOCK_RES_BASIC, NS_BLOCK_X, NS_BLOCK_Y, NS_BLOCK_SEP,
                NS_BLOCK_MBCONV, NS_BLOCK_COUNT };
enum ns_stem { NS_STEM_CIFAR, NS_STEM_SIMPLE, NS_STEM_RES, NS_STEM_COUNT };
enum ns_bn_order { NS_BN_BEFORE_ACT, NS_BN_AFTER_ACT, NS_BN_ORDER_COUNT };

struct ns_stage {
    int d;    /* blocks in the stage (>= 1) */
    int w;    /* output width (channels) */
    int s;    /* stride of the first block: 1 or 2 */
    int g;    /* group width (channels per group) of the 3x3 conv; see above */
    double b; /* bottleneck multiplier (x, y) or expansion ratio (mbconv) */
};

struct ns_config {
    int in_ch, im_size, classes;
    enum ns_stem stem;
    int stem_w;
    enum ns_block block;
    double se_r; /* squeeze-and-excitation ratio, 0 = none */
    enum ns_bn_order bn_order; /* 0 (before_act) in a zeroed config */
    int n_stages;
    struct ns_stage stages[NS_MAX_STAGES];
};

/* Names as in the canonical JSON ("x", "res_basic", "cifar", ...); NULL/-1 if unknown. */
const char *ns_block_name(enum ns_block b);
int ns_block_from_name(const char *name);
const char *ns_stem_name(enum ns_stem s);
int ns_stem_from_name(const char *name);
const char *ns_bn_order_name(enum ns_bn_order o);
int ns_bn_order_from_name(const char *name);

/* Bottleneck (x, y) or expanded (mbconv) width of a stage: round(w*b) (or round(w_in*b)). */
int ns_round_even(double v);

/* Check that the config describes a buildable network (positive sizes, strides 1 or 2,
 * group widths dividing the bottleneck width, ...). Returns 0, or -1 with ns_err set to a
 * message naming the field ("stages[2].g: ..."). */
int ns_config_check(const struct ns_config *c);

/* The standard benchmark net of DESIGN.md (1x28x28, cifar stem 16, X blocks 32/64/128,
 * depths 1/2/4, group width 8, b = 1). */
void ns_config_bench_net(struct ns_config *c);

#endif
