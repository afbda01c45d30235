/* The model config: the one value that travels through netspace (DESIGN.md). It describes a
 * network completely; src/model turns it into a layer graph (graph.h) from which the trainer
 * (src/nn) builds, complexity is counted and `netspace model --layers` prints. What each
 * block type *is* is written once, in its emit function in src/model/blocks.c; this header
 * only lists the fields a config has.
 *
 * Fields (canonical JSON names in quotes):
 *   "in_ch", "im_size", "classes"  input channels, square input size, classes
 *   "stem": {"type", "w"}          stem type (cifar, simple, res, simple_pool, patchify,
 *                                   conv_patch, repvgg) and width
 *   "patch"                         the patch size of a patchify or conv_patch stem (written
 *                                   when not 0)
 *   "block"                         block type, the same for every stage (blocks.c)
 *   "stages": [{"d","w","s","g","b","k"}]
 *       d blocks of output width w; stride s on the first block; g the group *width* of the
 *       grouped convs; b the bottleneck multiplier (x, y) or expansion ratio (mbconv);
 *       k the depthwise kernel size (3 or 5; written only when not 3)
 *   "se_r"                          squeeze-and-excitation ratio (0 = none)
 *   "bn_order"                      before_act (default) or after_act (written when not
 *                                   the default)
 *   "act"                           activation of stem and blocks: relu (default), silu,
 *                                   relu6 (written when not relu)
 *   "head_w"                        width of a 1x1 conv, BN, act before the pooling (0 =
 *                                   none, the default; written when not 0)
 * A field a block type does not take must hold its canonical value (g = 0 where there is no
 * grouped conv, 1 for sep and mbconv whose convs are depthwise; b = 1; k = 3; se_r = 0):
 * ns_config_check names it otherwise. Fields at their defaults are left out of the canonical
 * JSON, so configs written before a field existed keep their JSON and hash.
 * Rounding (round(w*b), SE widths) is half to even (rint), as everywhere in netspace. */
#ifndef NS_MODEL_H
#define NS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define NS_MAX_STAGES 8

enum ns_block { NS_BLOCK_VANILLA, NS_BLOCK_RES_BASIC, NS_BLOCK_X, NS_BLOCK_Y, NS_BLOCK_SEP,
                NS_BLOCK_MBCONV, NS_BLOCK_MBV1, NS_BLOCK_SHUFFLE_V2, NS_BLOCK_SHUFFLE_V1,
                NS_BLOCK_VIT, NS_BLOCK_NF, NS_BLOCK_REPVGG, NS_BLOCK_ACNET, NS_BLOCK_COUNT };
enum ns_stem { NS_STEM_CIFAR, NS_STEM_SIMPLE, NS_STEM_RES, NS_STEM_SIMPLE_POOL,
               NS_STEM_PATCHIFY, NS_STEM_CONV_PATCH, NS_STEM_REPVGG, NS_STEM_COUNT };
enum ns_bn_order { NS_BN_BEFORE_ACT, NS_BN_AFTER_ACT, NS_BN_ORDER_COUNT };
/* Activations: the first three can be a config's "act"; sigmoid gates SE. */
enum ns_act { NS_ACT_RELU, NS_ACT_SILU, NS_ACT_RELU6, NS_ACT_SIGMOID, NS_ACT_GELU,
              NS_ACT_COUNT };
#define NS_CONFIG_ACTS 3

struct ns_stage {
    int d;    /* blocks in the stage (>= 1) */
    int w;    /* output width (channels) */
    int s;    /* stride of the first block: 1 or 2 */
    int g;    /* group width (channels per group) of the grouped conv; see above */
    double b; /* bottleneck multiplier (x, y) or expansion ratio (mbconv) */
    int k;    /* depthwise kernel size; 0 reads as 3 (a zeroed stage is canonical) */
};

struct ns_config {
    int in_ch, im_size, classes;
    enum ns_stem stem;
    int stem_w;
    enum ns_block block;
    double se_r;               /* squeeze-and-excitation ratio, 0 = none */
    enum ns_bn_order bn_order; /* 0 (before_act) in a zeroed config */
    enum ns_act act;           /* 0 (relu) in a zeroed config */
    int head_w;                /* 0 = no head conv */
    int patch;                 /* patch size of a patchify or conv_patch stem, else 0 */
    int n_stages;
    struct ns_stage stages[NS_MAX_STAGES];
};

/* Names as in the canonical JSON ("x", "res_basic", "cifar", "silu", ...); NULL/-1 if
 * unknown. ns_block_names() lists every block as "vanilla, res_basic, ..." for messages. */
const char *ns_block_name(enum ns_block b);
int ns_block_from_name(const char *name);
const char *ns_block_names(void);
const char *ns_stem_name(enum ns_stem s);
int ns_stem_from_name(const char *name);
const char *ns_bn_order_name(enum ns_bn_order o);
int ns_bn_order_from_name(const char *name);
const char *ns_act_name(enum ns_act a);
/* Only the activations a config can name (relu, silu, relu6). */
int ns_act_from_name(const char *name);

/* What a block type takes (blocks.c): bits of NS_TAKES_*. */
enum {
    NS_TAKES_G = 1,        /* stages' g: group width of a grouped conv */
    NS_TAKES_B = 2,        /* stages' b: bottleneck multiplier / expansion ratio */
    NS_TAKES_K = 4,        /* stages' k: depthwise kernel size */
    NS_TAKES_SE = 8,       /* se_r may be > 0 */
    NS_NEEDS_SE = 16,      /* se_r must be > 0 (y) */
    NS_TAKES_ACT = 32,     /* act and bn_order after_act (not pre-activation sep) */
    NS_DEPTHWISE_G1 = 64,  /* canonical g is 1 (depthwise convs), not 0 */
    NS_TOKENS = 128,       /* a transformer: one stage of stride 1 on a patch stem; g is the
                            * head width, b the MLP ratio */
    NS_NORM_FREE = 256,    /* no BN anywhere (nf): the stem and head convs are scaled
                            * weight-standardized convs with biases and their activations
                            * gamma-scaled; bn_order must be before_act; act relu or silu */
    NS_NO_BN_AFTER = 512,  /* act, but not bn_order after_act: the block sums BN'd branches
                            * before its activation (repvgg, acnet) */
};
unsigned ns_block_takes(enum ns_block b);

int ns_round_even(double v);
/* A stage's depthwise kernel size (k, or 3 when 0). */
static inline int ns_stage_k(const struct ns_stage *s) { return s->k ? s->k : 3; }

/* Check that the config describes a buildable network (positive sizes, strides 1 or 2,
 * group widths dividing the bottleneck width, fields the block does not take at their
 * canonical values, ...). Returns 0, or -1 with ns_err set to a message naming the field
 * ("stages[2].g: ..."). The per-block width rules (a group width that must divide, an SE
 * width that must not round to 0) are the block's: the check builds the layer graph. */
int ns_config_check(const struct ns_config *c);

/* Set the fields a block type does not use to their canonical values (g = 0, or 1 for sep
 * and mbconv; b = 1; k = 0; se_r = 0 unless the block takes SE) and round b and se_r to the
 * precision of the canonical JSON (10 significant digits), so that a config and its JSON
 * round trip compare equal. For code that makes configs (samplers, generators); a config
 * read from JSON must already be canonical. */
void ns_config_normalize(struct ns_config *c);

/* The standard benchmark net of DESIGN.md (1x28x28, cifar stem 16, X blocks 32/64/128,
 * depths 1/2/4, group width 8, b = 1). */
void ns_config_bench_net(struct ns_config *c);

/* ---- canonical JSON and hash ----------------------------------------------------------- */

/* Canonical JSON of a (normalized copy of the) config: compact, keys sorted at every level,
 * integers as integers, b and se_r as "%.10g" with a ".0" added when integral (so 1 and 1.0
 * write the same), fields at their defaults (bn_order, act, head_w, k) left out, e.g.
 *   {"block":"x","classes":10,"im_size":28,"in_ch":1,"se_r":0.0,
 *    "stages":[{"b":1.0,"d":1,"g":8,"s":2,"w":32},...],"stem":{"type":"cifar","w":16}}
 * (one line). Returns a malloc'd string the caller frees, or NULL (ns_err) when the config
 * fails ns_config_check. */
char *ns_config_to_json(const struct ns_config *c);
/* The same into buf (NUL-terminated); 0, or -1 (ns_err) when invalid or longer than cap. */
int ns_config_json_into(const struct ns_config *c, char *buf, size_t cap);

/* Parse a config from JSON text / a file (a jansson object: model/config_json.h). Every key of the canonical form
 * is required except those with defaults (se_r, bn_order, act, head_w, k); unknown keys are
 * errors (they are typos); integer fields accept integral reals (2.0); a field the block
 * does not take is an error naming it unless it holds its canonical value. The result
 * passes ns_config_check. Returns 0, or -1 with ns_err naming the field ("stages[1].w: ...";
 * the file first for ns_config_load, with line and column for malformed JSON). *out is
 * unspecified on error. */
int ns_config_from_json(const char *text, struct ns_config *out);
int ns_config_load(const char *path, struct ns_config *out);

/* FNV-1a 64-bit of n bytes. */
uint64_t ns_fnv1a64(const void *data, size_t n);
/* Hash of the canonical JSON as 16 lowercase hex digits + NUL in out. The dedupe key and the
 * db key: equal iff the canonical JSONs are equal (up to 64-bit collisions). Returns 0, or -1
 * (ns_err) if the config is invalid. */
int ns_config_hash(const struct ns_config *c, char out[17]);
/* Same, from an already canonical JSON string (from ns_config_to_json). */
void ns_config_hash_json(const char *canonical_json, char out[17]);

/* ---- presets --------------------------------------------------------------------------- */

/* The published ImageNet models (resnet18, resnet50, resnext50_32x4d, wide_resnet50_2,
 * mobilenet_v2, shufflenet_v2_x1_0, efficientnet_b0, regnet_y_400mf, vit_b_16) as configs
 * with the given input shape (a ViT's patch must divide it); at 3x224x224 and 1000 classes their params and flops are torchvision's.
 * Returns 0, or -1 with ns_err (an unknown name lists the presets; an input shape the
 * network cannot take names it). */
int ns_model_preset(const char *name, int in_ch, int im_size, int classes, struct ns_config *out);
int ns_model_preset_count(void);
/* The i-th preset's name (NULL past the end) and, when what is not NULL, a line about it. */
const char *ns_model_preset_name(int i, const char **what);

/* ---- complexity ------------------------------------------------------------------------ */

/* Forward cost of one image, pycls conventions (DESIGN.md): flops = multiply-adds of convs and
 * linear layers (+ one per output channel for a bias), params = weights + biases + 2 per BN
 * channel + 1 per output channel of a WS conv (its gain), acts = output elements of every conv
 * and linear layer (SE's at 1x1). Activations (scaled ones too), adds, pooling, shuffle, split
 * and concat are free, and so is weight standardization (per weight, not per image); conv/pool output size (h-1)//stride+1.
 * Summed over the layers of the config's graph (graph.h). Integers held in doubles (exact
 * below 2^53). */
struct ns_complexity {
    double flops, params, acts;
};

/* Returns 0, or -1 (ns_err from ns_config_check) for an invalid config. */
int ns_complexity(const struct ns_config *c, struct ns_complexity *out);

#endif
