/* Design spaces: RegNet generation, distributions, and sampling studies from space files (the
 * JSON files in spaces/, format in spaces/README.md). The model config itself (its JSON, hash
 * and complexity) is src/model's (model/model.h, included here). Everything here is a pure function of
 * its inputs: no global state, so every function is thread-safe on distinct objects; a struct
 * ns_space is read-only after ns_space_load + ns_space_set_input/ns_space_narrow and may then be
 * shared by threads.
 *
 * Errors: functions return -1 (or NULL) after ns_err() with a message naming the file and
 * field ("spaces/x.json: params.w0.lo: ..."); library code never prints. */
#ifndef NS_SPACE_H
#define NS_SPACE_H

#include <jansson.h>
#include <stdint.h>

#include "model/config_json.h"
#include "model/model.h"
#include "util/json.h"
#include "util/pcg32.h"

/* ---------------------------------------------------------------- RegNet ---------------- */

/* RegNet parameters (paper notation): depth d, initial width w0, slope wa, multiplier wm,
 * group width, bottleneck multiplier, SE ratio (used only for block y). */
struct ns_regnet {
    int depth;
    double w0, wa, wm;
    int group_w;
    double bot_mul;
    double se_r;
};

/* Generate the stages of c from r. On entry c->in_ch, im_size, classes, stem, stem_w and
 * block (NS_BLOCK_X or NS_BLOCK_Y) must be set; on return c->n_stages, stages[] and se_r are
 * filled (every stage stride 2, except the first when first_stride is 1: pass 2 for the
 * paper's nets) and c is normalized and checked. Block x gets se_r = 0 whatever r->se_r;
 * block y needs r->se_r in (0, 1) (the paper's RegNetY: 0.25).
 * Generation: u_j = w0 + wa*j (j < depth); k_j = rint(log(u_j/w0)/log(wm));
 * w_j = rint(w0*wm^k_j / 8)*8; runs of equal w_j form stages. Then per stage:
 * v = max(1, rint(w*b)); g = min(group_w, v); m = lcm(g, b) for integral b > 1, else g;
 * v = max(m, rint(v/m)*m); w = v/b.
 * Errors (-1, ns_err naming the parameter): depth < 1, w0 <= 0 or not a multiple of 8,
 * wa < 0, wm <= 1, group_w < 1, bot_mul <= 0, more than NS_MAX_STAGES stages, and a result
 * failing ns_config_check. */
int ns_regnet_generate(const struct ns_regnet *r, int first_stride, struct ns_config *c);

/* Parse "depth=13 w0=24 wa=36.44 wm=2.49 group_w=8 [bot_mul=1] [se_r=0.25]" (whitespace or
 * comma separated; depth, w0, wa, wm, group_w required; bot_mul defaults to 1, se_r to 0.25).
 * Returns 0, or -1 with ns_err naming the key. */
int ns_regnet_parse(const char *text, struct ns_regnet *out);

/* ---------------------------------------------------------------- compound scaling ------ */

/* EfficientNet's compound scaling of a base network by phi with coefficients alpha (depth),
 * beta (width), gamma (resolution); the paper's are 1.2, 1.1, 1.15. */
struct ns_compound {
    double phi, alpha, beta, gamma;
};

/* out = base with every stage's depth d -> ceil(d * alpha^phi), every width (stages, stem,
 * head conv) w -> round_filters(w * beta^phi) (the nearest multiple of 8, at least 8, plus
 * 8 when that lost more than 10 %), grouped stages' group widths adjusted to still divide
 * (a transformer's width rounded to a multiple of its head width, its patch embedding
 * the encoder's width), and the input size r -> rint(r * gamma^phi), rounded to a multiple
 * of the patch on a patch stem (the trainer resizes the data to it). Returns
 * 0, or -1 with ns_err for coefficients below 1 or a scaled net that cannot be built. */
int ns_compound_scale(const struct ns_config *base, const struct ns_compound *k,
                      struct ns_config *out);
/* Scaling one base network to a multiple of its flops along one dimension (a "scaling"
 * space; README, Results): depth only (alpha), width only (beta), resolution only (gamma),
 * or compound (phi with the given alpha, beta, gamma). */
enum ns_scale_dim {
    NS_SCALE_BASE,
    NS_SCALE_DEPTH,
    NS_SCALE_WIDTH,
    NS_SCALE_RESOLUTION,
    NS_SCALE_COMPOUND,
    NS_SCALE_DIMS
};
extern const char *const ns_scale_dim_names[NS_SCALE_DIMS]; /* "base", "depth", ... */
/* out = base scaled by ns_compound_scale along dim, with the free coefficient (alpha, beta or
 * gamma at phi 1; phi for compound, with coef's alpha, beta, gamma) chosen so that out's
 * flops come nearest (in log ratio) to mult times base's; *used gets the coefficients (so
 * ns_compound_scale(base, used) gives out again). mult 1 or NS_SCALE_BASE: the base itself.
 * Rounding makes the flops a step function: the smallest coefficient of the nearest step
 * wins, scanned on a grid of 4,000 values (depth up to 16x, width and resolution up to 8x,
 * phi up to 24). Returns 0, or -1 with ns_err for mult outside [1, 1024], compound
 * coefficients that scale nothing, no buildable scaling, or none within 25 % of the target
 * (out of the scan's range, or rounding steps too coarse), naming the nearest. */
int ns_scale_to_flops(const struct ns_config *base, enum ns_scale_dim dim, double mult,
                      const struct ns_compound *coef, struct ns_compound *used,
                      struct ns_config *out);

/* ---------------------------------------------------------------- distributions --------- */

/* One parameter's distribution, as a space file writes it (spaces/README.md):
 *   {"dist": "uniform",     "lo": L, "hi": H, "q": Q}  Q > 0: uniform over the multiples of Q
 *                                                     in [L, H]; Q absent or 0: continuous
 *   {"dist": "log_uniform", "lo": L, "hi": H, "q": Q}  exp(uniform(log L, log H)) rounded
 *                                                     (half to even) to a multiple of Q and
 *                                                     kept inside [L, H]; L > 0
 *   {"dist": "pow2",        "lo": L, "hi": H, "q": Q}  uniform over the powers of two in
 *                                                     [L, H] (that are multiples of Q)
 *   {"dist": "choice", "values": [v1, v2, ...]}       uniform over the list
 *   a bare number V                                   always V (a choice of one) */
enum ns_dist_kind { NS_DIST_UNIFORM, NS_DIST_LOG_UNIFORM, NS_DIST_POW2, NS_DIST_CHOICE };
#define NS_DIST_MAX_VALUES 64

struct ns_dist {
    enum ns_dist_kind kind;
    double lo, hi, q;
    int n_values; /* choice, and pow2 (expanded at parse time) */
    double values[NS_DIST_MAX_VALUES];
};

/* Parse one distribution; `where` names it in errors ("spaces/a.json: params.w0"), e.g.
 * "...: params.w0.dist: unknown distribution 'gauss' (uniform, log_uniform, pow2, choice)",
 * "...: params.w0: lo 64 > hi 8", "...: params.w0.hi: missing field". Returns 0 or -1. */
int ns_dist_from_jansson(const json_t *j, const char *where, struct ns_dist *out);
/* One draw. Uses 1 (grids, lists) or 2 (continuous) PCG outputs per call. */
double ns_dist_draw(const struct ns_dist *d, struct ns_pcg32 *rng);
/* The smallest and largest value a draw can take. */
double ns_dist_min(const struct ns_dist *d);
double ns_dist_max(const struct ns_dist *d);
/* 1 if every value a draw can take is an integer multiple of m (m >= 1), else 0. */
int ns_dist_multiple_of(const struct ns_dist *d, int m);

/* ---------------------------------------------------------------- design spaces --------- */

#define NS_SPACE_MAX_PARAMS 48
#define NS_SPACE_NAME_MAX 16 /* a parameter name with its NUL: "depth", "w3", "se_r" */

/* Complexity and stage-count constraints; a config is accepted when lo <= value <= hi for
 * each. Unconstrained: lo = 0, hi = INFINITY (stages: 1 and NS_MAX_STAGES). */
struct ns_constraints {
    double flops_lo, flops_hi;
    double params_lo, params_hi;
    double acts_lo, acts_hi;
    int stages_lo, stages_hi;
};

/* An unconstrained set. */
void ns_constraints_none(struct ns_constraints *c);
/* Read {"flops": [lo, hi], "params": [lo, hi], "acts": [lo, hi], "stages": [lo, hi]} (every
 * key optional; either bound may be null = unbounded) into *out, starting from *out's current
 * values (so call ns_constraints_none first for a fresh set). `where` prefixes errors
 * ("experiments/a.json: constraints"). Returns 0 or -1. */
int ns_constraints_from_jansson(const json_t *j, const char *where, struct ns_constraints *out);

struct ns_space;

/* Load a space file (format: spaces/README.md). Returns NULL with ns_err naming the file and
 * field on: malformed JSON (with line and column), a missing or unknown field, an unknown
 * distribution, lo > hi, a range holding no value of the quantum, an invalid fixed part. The
 * space's input shape (in_ch, im_size, classes) defaults to the file's "input" object. */
struct ns_space *ns_space_load(const char *path);
/* The same from a parsed object (an experiment embedding a space); `where` names it in errors. */
struct ns_space *ns_space_from_jansson(const json_t *j, const char *where);
void ns_space_free(struct ns_space *sp);

/* The space's "name" field ("regnetx"), and the file it came from ("" if none). */
const char *ns_space_name(const struct ns_space *sp);
const char *ns_space_path(const struct ns_space *sp);

/* The names of the sampled parameters, in a fixed order that is the order of
 * struct ns_trial.params: RegNet spaces: depth, w0, wa, wm, group_w, bot_mul, se_r.
 * Compound spaces: phi, alpha, beta, gamma.
 * Scaling spaces: target (the flops multiple asked for; 1 for the base), dim (enum
 * ns_scale_dim), phi, alpha, beta, gamma (the coefficients ns_scale_to_flops chose).
 * AnyNet-kind spaces (AnyNetX_A..E, vanilla, resnet, resnext, sep, mbconv): for each of
 * d, w, b, g: either one shared name ("b") or one per stage ("b1".."b4"), then "se_r" when
 * the space has it. Values are the drawn values (sorted across stages for the space's
 * "non_decreasing" parameters; before the group/bottleneck compatibility adjustment: the
 * config holds the adjusted architecture). */
int ns_space_n_params(const struct ns_space *sp);
const char *ns_space_param_name(const struct ns_space *sp, int i);

/* The input shape sampled configs get now. */
void ns_space_input(const struct ns_space *sp, int *in_ch, int *im_size, int *classes);
/* Set the input shape of sampled configs (a dataset's channels, size, classes); 0 or -1. */
int ns_space_set_input(struct ns_space *sp, int in_ch, int im_size, int classes);
/* Narrow the space's constraints to their intersection with *c (an experiment file's
 * budget). -1 (ns_err) when a range becomes empty. From an experiment's JSON:
 *   struct ns_constraints k; ns_constraints_none(&k);
 *   ns_constraints_from_jansson(obj, "exp.json: constraints", &k) || ns_space_narrow(sp, &k) */
int ns_space_narrow(struct ns_space *sp, const struct ns_constraints *c);
/* The constraints now in force. */
void ns_space_constraints(const struct ns_space *sp, struct ns_constraints *out);

/* One sampled candidate (plain data, about 1.7 KB: no pointers, copy freely). */
struct ns_trial {
    int index;       /* position in the study: 0, 1, ... */
    uint64_t stream; /* PCG stream of the study seed it was drawn from (>= index) */
    int tries;       /* draws within the stream until one met the constraints (>= 1) */
    struct ns_config config;
    char json[1024]; /* canonical JSON of config */
    char hash[17];   /* ns_config_hash */
    struct ns_complexity cx;
    int n_params; /* == ns_space_n_params */
    double params[NS_SPACE_MAX_PARAMS];
};

/* Counters of a sampling run (for --summary). */
struct ns_sample_stats {
    long streams;  /* streams used */
    long draws;    /* configs drawn, accepted or not */
    long rejected; /* draws breaking a constraint (sum of the next five) */
    long rej_flops, rej_params, rej_acts, rej_stages, rej_invalid;
    long duplicates; /* accepted candidates dropped as duplicates of an earlier trial */
};

/* Draw the candidate of stream `stream` of study seed `seed`: rng = ns_pcg32_seed(seed,
 * stream); draw, generate, measure; on a broken constraint draw again from the same rng, at
 * most the space's max_tries times (file field "max_tries", default 1000). Fills *out except
 * index (set to -1). stats may be NULL (else counters are added to). Returns 0, or -1 with
 * "FILE: constraints: no config met ... in N tries" when none was found. */
int ns_space_draw(const struct ns_space *sp, uint64_t seed, uint64_t stream, struct ns_trial *out,
                  struct ns_sample_stats *stats);

/* Sample a study: trials 0..n-1, deterministic in (space, seed, n) and prefix-stable (the
 * first n trials of a study of N > n are those of a study of n). Candidate k comes from
 * stream k (ns_space_draw); a candidate whose hash equals an earlier accepted trial's is
 * dropped and the next stream is used, so trial i has stream >= i. Gives up (-1, ns_err) when
 * max_tries streams in a row give duplicates (the space is too small for n). On success
 * *out is a malloc'd array of n trials (free with free()); stats may be NULL. */
int ns_space_sample(const struct ns_space *sp, uint64_t seed, int n, struct ns_trial **out,
                    struct ns_sample_stats *stats);

#endif
