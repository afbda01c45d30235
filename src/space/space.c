/* Design spaces: loading space files and sampling studies from them.
 *
 * Two kinds of space. "regnet": draw the seven RegNet parameters, generate the stages.
 * "anynet": a fixed number of stages, each with its own (or one shared) depth, width,
 * bottleneck multiplier and group width, optionally sorted to be non-decreasing; this one
 * kind covers AnyNetX_A..E and the vanilla, ResNet, ResNeXt, separable and inverted
 * bottleneck families, which differ only in block type and which parameters exist. */
#include "space/space.h"
#include "space/space_internal.h"

#include "util/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum space_kind { KIND_REGNET, KIND_ANYNET, KIND_COMPOUND, KIND_SCALING };

/* RegNet parameters, in the order of the parameter list. */
enum { RG_DEPTH, RG_W0, RG_WA, RG_WM, RG_GROUP_W, RG_BOT_MUL, RG_SE_R, RG_COUNT };
static const char *const regnet_names[RG_COUNT] = {"depth",   "w0",      "wa",  "wm",
                                                   "group_w", "bot_mul", "se_r"};
/* AnyNet parameters in draw order: the per-stage d, w, b, g, then the global se_r, then the
 * later additions (k per stage, width_mult global), so that spaces without them draw
 * exactly what they drew before these existed. */
enum { AN_D, AN_W, AN_B, AN_G, AN_SE_R, AN_K, AN_WMULT, AN_COUNT };
static const char *const anynet_names[AN_COUNT] = {"d", "w", "b", "g", "se_r", "k", "width_mult"};
static const int per_stage[AN_COUNT] = {1, 1, 1, 1, 0, 1, 0};

struct ns_space {
    char name[64];
    char where[512]; /* the file, or what embedded the space: prefixes every error */
    char path[512];
    enum space_kind kind;
    enum ns_block block;
    enum ns_stem stem;
    int stem_w;
    enum ns_bn_order bn_order;
    enum ns_act act;
    int head_w, patch;
    int in_ch, im_size, classes;
    int max_tries;
    struct ns_constraints cons;

    /* regnet */
    int first_stride;
    struct ns_dist rg[RG_COUNT];

    /* compound, scaling */
    struct ns_config base;
    struct ns_dist cp[4];
    /* scaling: item 0 is the base, then every dim of every target (targets outer) */
    struct ns_compound coef;
    int n_targets, n_dims, n_items;
    double targets[16];
    enum ns_scale_dim dims[NS_SCALE_DIMS];

    /* anynet */
    int n_stages;
    int strides[NS_MAX_STAGES];
    int has[AN_COUNT], shared[AN_COUNT], nondec[AN_COUNT];
    struct ns_dist an[AN_COUNT];

    int n_params;
    char names[NS_SPACE_MAX_PARAMS][NS_SPACE_NAME_MAX];
};

/* ------------------------------------------------------------------ constraints --------- */

void ns_constraints_none(struct ns_constraints *c)
{
    *c = (struct ns_constraints){0, INFINITY, 0, INFINITY, 0, INFINITY, 1, NS_MAX_STAGES};
}

/* [lo, hi] with null for an unbounded end. */
static int read_range(const json_t *obj, const char *key, const char *where, double *lo, double *hi)
{
    const json_t *a = json_object_get(obj, key);
    if (!a)
        return 0;
    if (!json_is_array(a) || json_array_size(a) != 2)
        return ns_err("%s.%s: expected [lo, hi] (null for no bound)", where, key);
    double v[2] = {*lo, *hi};
    for (int i = 0; i < 2; i++) {
        const json_t *x = json_array_get(a, (size_t)i);
        if (json_is_null(x))
            v[i] = i ? INFINITY : 0;
        else if (json_is_number(x) && isfinite(json_number_value(x)) && json_number_value(x) >= 0)
            v[i] = json_number_value(x);
        else
            return ns_err("%s.%s[%d]: expected a number >= 0 or null", where, key, i);
    }
    if (v[0] > v[1])
        return ns_err("%s.%s: lo %g > hi %g", where, key, v[0], v[1]);
    *lo = v[0];
    *hi = v[1];
    return 0;
}

static const char *const constraint_keys[] = {"flops", "params", "acts", "stages", NULL};

int ns_constraints_from_jansson(const json_t *j, const char *where, struct ns_constraints *out)
{
    struct ns_constraints c = *out;
    double slo = c.stages_lo, shi = c.stages_hi;
    if (ns_json_check_keys(j, where, constraint_keys) ||
        read_range(j, "flops", where, &c.flops_lo, &c.flops_hi) ||
        read_range(j, "params", where, &c.params_lo, &c.params_hi) ||
        read_range(j, "acts", where, &c.acts_lo, &c.acts_hi) ||
        read_range(j, "stages", where, &slo, &shi))
        return -1;
    if (slo != floor(slo) || (shi != floor(shi) && isfinite(shi)))
        return ns_err("%s.stages: bounds must be integers", where);
    c.stages_lo = slo < 1 ? 1 : (int)slo;
    c.stages_hi = shi > NS_MAX_STAGES ? NS_MAX_STAGES : (int)shi;
    if (c.stages_lo > c.stages_hi)
        return ns_err("%s.stages: no stage count in [%g, %g] (1..%d possible)", where, slo, shi,
                      NS_MAX_STAGES);
    *out = c;
    return 0;
}

static int narrow_range(const char *where, const char *what, double *lo, double *hi, double nlo,
                        double nhi)
{
    double a = fmax(*lo, nlo), b = fmin(*hi, nhi);
    if (a > b)
        return ns_err("%s: constraints.%s: [%g, %g] does not meet the space's [%g, %g]", where,
                      what, nlo, nhi, *lo, *hi);
    *lo = a;
    *hi = b;
    return 0;
}

int ns_space_narrow(struct ns_space *sp, const struct ns_constraints *c)
{
    struct ns_constraints n = sp->cons;
    double slo = n.stages_lo, shi = n.stages_hi;
    if (narrow_range(sp->where, "flops", &n.flops_lo, &n.flops_hi, c->flops_lo, c->flops_hi) ||
        narrow_range(sp->where, "params", &n.params_lo, &n.params_hi, c->params_lo, c->params_hi) ||
        narrow_range(sp->where, "acts", &n.acts_lo, &n.acts_hi, c->acts_lo, c->acts_hi) ||
        narrow_range(sp->where, "stages", &slo, &shi, c->stages_lo, c->stages_hi))
        return -1;
    n.stages_lo = (int)slo;
    n.stages_hi = (int)shi;
    sp->cons = n;
    return 0;
}

void ns_space_constraints(const struct ns_space *sp, struct ns_constraints *out)
{
    *out = sp->cons;
}

/* ------------------------------------------------------------------ loading ------------- */

static int add_name(struct ns_space *sp, const char *fmt, const char *base, int stage)
{
    if (sp->n_params == NS_SPACE_MAX_PARAMS)
        return ns_err("%s: more than %d parameters", sp->where, NS_SPACE_MAX_PARAMS);
    snprintf(sp->names[sp->n_params++], NS_SPACE_NAME_MAX, fmt, base, stage);
    return 0;
}

/* A parameter's distribution must only give values in [lo, hi] (and multiples of `mult`
 * when mult > 0, i.e. integers); `lo_open` makes the lower bound strict. */
static int check_values(const struct ns_space *sp, const char *name, const struct ns_dist *d,
                        double lo, int lo_open, double hi, int mult)
{
    double mn = ns_dist_min(d), mx = ns_dist_max(d);
    if (lo_open ? !(mn > lo) : !(mn >= lo))
        return ns_err("%s: params.%s: values down to %g, must be %s %g", sp->where, name, mn,
                      lo_open ? ">" : ">=", lo);
    if (!(mx <= hi))
        return ns_err("%s: params.%s: values up to %g, must be <= %g", sp->where, name, mx, hi);
    if (mult > 0 && !ns_dist_multiple_of(d, mult))
        return ns_err("%s: params.%s: must give %s (use an integer quantum q%s)", sp->where, name,
                      mult == 1 ? "integers" : "multiples of 8", mult == 1 ? "" : " of 8");
    return 0;
}

static int parse_dist(struct ns_space *sp, const json_t *params, const char *name,
                      struct ns_dist *d, int *present)
{
    const json_t *j = json_object_get(params, name);
    *present = j != NULL;
    if (!j)
        return 0;
    char where[600];
    snprintf(where, sizeof where, "%s: params.%s", sp->where, name);
    return ns_dist_from_jansson(j, where, d);
}

static void fixed(struct ns_dist *d, double v)
{
    memset(d, 0, sizeof *d);
    d->kind = NS_DIST_CHOICE;
    d->n_values = 1;
    d->values[0] = d->lo = d->hi = v;
}

static int load_regnet_params(struct ns_space *sp, const json_t *params)
{
    static const char *const keys[] = {"depth",   "w0",      "wa",   "wm",
                                       "group_w", "bot_mul", "se_r", NULL};
    char where[600];
    snprintf(where, sizeof where, "%s: params", sp->where);
    if (ns_json_check_keys(params, where, keys))
        return -1;
    for (int i = 0; i < RG_COUNT; i++) {
        int present;
        if (parse_dist(sp, params, regnet_names[i], &sp->rg[i], &present))
            return -1;
        if (!present) {
            if (i < RG_BOT_MUL)
                return ns_err("%s: params.%s: missing field", sp->where, regnet_names[i]);
            fixed(&sp->rg[i], i == RG_BOT_MUL ? 1.0 : sp->block == NS_BLOCK_Y ? 0.25 : 0.0);
        }
        if (add_name(sp, "%s", regnet_names[i], 0))
            return -1;
    }
    if (sp->block == NS_BLOCK_X && ns_dist_max(&sp->rg[RG_SE_R]) != 0)
        return ns_err("%s: params.se_r: block x has no squeeze-and-excitation (use block y)",
                      sp->where);
    if (check_values(sp, "depth", &sp->rg[RG_DEPTH], 1, 0, 1024, 1) ||
        check_values(sp, "w0", &sp->rg[RG_W0], 0, 1, 8192, 8) ||
        check_values(sp, "wa", &sp->rg[RG_WA], 0, 0, INFINITY, 0) ||
        check_values(sp, "wm", &sp->rg[RG_WM], 1, 1, INFINITY, 0) ||
        check_values(sp, "group_w", &sp->rg[RG_GROUP_W], 1, 0, 8192, 1) ||
        check_values(sp, "bot_mul", &sp->rg[RG_BOT_MUL], 0, 1, 16, 0))
        return -1;
    if (sp->block == NS_BLOCK_Y && check_values(sp, "se_r", &sp->rg[RG_SE_R], 0, 1, 0.999999, 0))
        return -1;
    return 0;
}

/* Read a list of parameter names (of d, w, b, g) into flags. */
static int read_name_list(struct ns_space *sp, const json_t *j, const char *key, int *flags)
{
    const json_t *a = json_object_get(j, key);
    if (!a)
        return 0;
    if (!json_is_array(a))
        return ns_err("%s: %s: expected a list of parameter names", sp->where, key);
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *s = json_string_value(json_array_get(a, i));
        int k = -1;
        for (int p = 0; s && p < AN_COUNT; p++)
            if (per_stage[p] && !strcmp(s, anynet_names[p]))
                k = p;
        if (k < 0)
            return ns_err("%s: %s[%zu]: not one of d, w, b, g, k", sp->where, key, i);
        flags[k] = 1;
    }
    return 0;
}

static int load_anynet_params(struct ns_space *sp, const json_t *j, const json_t *params)
{
    static const char *const keys[] = {"d", "w", "b", "g", "se_r", "k", "width_mult", NULL};
    char where[600];
    snprintf(where, sizeof where, "%s: params", sp->where);
    if (ns_json_check_keys(params, where, keys))
        return -1;
    const enum ns_block bl = sp->block;
    /* which parameters a block has is the block's to say (ns_block_takes) */
    const unsigned takes = ns_block_takes(bl);
    const int grouped = (takes & NS_TAKES_G) != 0;
    const unsigned allowed_bit[AN_COUNT] = {0, 0, NS_TAKES_B, NS_TAKES_G, NS_TAKES_SE, NS_TAKES_K, 0};
    static const char *const what[AN_COUNT] = {"", "", "bottleneck or expansion", "group width",
                                               "SE", "depthwise kernel size", ""};
    for (int i = 0; i < AN_COUNT; i++) {
        if (parse_dist(sp, params, anynet_names[i], &sp->an[i], &sp->has[i]))
            return -1;
        int needed = i <= AN_W || (i == AN_B && grouped) || (i == AN_G && grouped);
        int allowed = needed || !allowed_bit[i] || (takes & allowed_bit[i]);
        if (needed && !sp->has[i])
            return ns_err("%s: params.%s: missing field", sp->where, anynet_names[i]);
        if (!allowed && sp->has[i])
            return ns_err("%s: params.%s: block %s has no %s", sp->where, anynet_names[i],
                          ns_block_name(bl), what[i]);
    }
    if ((takes & NS_NEEDS_SE) && !sp->has[AN_SE_R]) {
        fixed(&sp->an[AN_SE_R], 0.25);
        sp->has[AN_SE_R] = 1;
    }
    sp->shared[AN_SE_R] = sp->shared[AN_WMULT] = 1;
    if (read_name_list(sp, j, "shared", sp->shared) ||
        read_name_list(sp, j, "non_decreasing", sp->nondec))
        return -1;
    for (int i = 0; i < AN_COUNT; i++) {
        if (!per_stage[i])
            continue;
        if ((sp->shared[i] || sp->nondec[i]) && !sp->has[i])
            return ns_err("%s: %s: the space has no parameter %s", sp->where,
                          sp->shared[i] ? "shared" : "non_decreasing", anynet_names[i]);
        if (sp->shared[i] && sp->nondec[i])
            return ns_err("%s: non_decreasing: %s is shared (one value for all stages)", sp->where,
                          anynet_names[i]);
    }
    if (check_values(sp, "d", &sp->an[AN_D], 1, 0, 256, 1) ||
        check_values(sp, "w", &sp->an[AN_W], 1, 0, 8192, 1) ||
        (sp->has[AN_B] && check_values(sp, "b", &sp->an[AN_B], 0, 1, 16, 0)) ||
        (sp->has[AN_G] && check_values(sp, "g", &sp->an[AN_G], 1, 0, 8192, 1)) ||
        (sp->has[AN_SE_R] && check_values(sp, "se_r", &sp->an[AN_SE_R], 0, 0, 0.999999, 0)) ||
        (sp->has[AN_K] && check_values(sp, "k", &sp->an[AN_K], 3, 0, 7, 1)) ||
        (sp->has[AN_WMULT] && check_values(sp, "width_mult", &sp->an[AN_WMULT], 0, 1, 16, 0)))
        return -1;
    if (sp->has[AN_K]) {
        if (sp->an[AN_K].kind != NS_DIST_CHOICE)
            return ns_err("%s: params.k: give the kernel sizes as a choice of 3, 5, 7", sp->where);
        for (int v = 0; v < sp->an[AN_K].n_values; v++) {
            double k = sp->an[AN_K].values[v];
            if (k != 3 && k != 5 && k != 7)
                return ns_err("%s: params.k: %g is not a kernel size (3, 5, 7)", sp->where, k);
        }
    }
    for (int i = 0; i < AN_COUNT; i++) {
        if (!sp->has[i])
            continue;
        if (sp->shared[i]) {
            if (add_name(sp, "%s", anynet_names[i], 0))
                return -1;
        } else {
            for (int s = 0; s < sp->n_stages; s++)
                if (add_name(sp, "%s%d", anynet_names[i], s + 1))
                    return -1;
        }
    }
    return 0;
}

/* What every kind of space has: the input shape (required unless the kind has a default),
 * max_tries, constraints. */
static int load_common(struct ns_space *sp, const json_t *j)
{
    char where[600];
    const json_t *in = json_object_get(j, "input");
    snprintf(where, sizeof where, "%s.input", sp->where);
    static const char *const input_keys[] = {"in_ch", "im_size", "classes", NULL};
    if (!in && sp->kind != KIND_COMPOUND && sp->kind != KIND_SCALING)
        return ns_err("%s: missing field", where);
    if (in && (ns_json_check_keys(in, where, input_keys) ||
               ns_json_get_int(in, "in_ch", where, 1, 1, 64, &sp->in_ch) ||
               ns_json_get_int(in, "im_size", where, 1, 4, 1024, &sp->im_size) ||
               ns_json_get_int(in, "classes", where, 1, 2, 1000000, &sp->classes)))
        return -1;

    sp->max_tries = 1000;
    if (ns_json_get_int(j, "max_tries", sp->where, 0, 1, 10000000, &sp->max_tries) < 0)
        return -1;

    ns_constraints_none(&sp->cons);
    const json_t *cons = json_object_get(j, "constraints");
    snprintf(where, sizeof where, "%s: constraints", sp->where);
    if (cons && ns_constraints_from_jansson(cons, where, &sp->cons))
        return -1;

    return 0;
}

static const char *const space_keys[] = {"name",      "description",    "kind",   "block",
                                         "stem",      "input",          "params", "constraints",
                                         "max_tries", "first_stride",   "stages", "strides",
                                         "shared",    "non_decreasing", "bn_order", "act",
                                         "head_w",    "patch",          NULL};

static const char *const compound_keys[] = {"name",   "description", "kind",      "base",
                                            "input",  "params",      "constraints", "max_tries",
                                            NULL};
/* Compound-scaling parameters, in draw order, and their defaults (EfficientNet's). */
enum { CP_PHI, CP_ALPHA, CP_BETA, CP_GAMMA, CP_COUNT };
static const char *const compound_names[CP_COUNT] = {"phi", "alpha", "beta", "gamma"};

/* The "base" config of a compound or scaling space, its input shape the space's default. */
static int load_base(struct ns_space *sp, const json_t *j)
{
    const json_t *base = json_object_get(j, "base");
    if (!base)
        return ns_err("%s.base: missing field (the config to scale)", sp->where);
    if (ns_config_from_jansson(base, &sp->base))
        return ns_err_prefix("%s.base", sp->where);
    sp->block = sp->base.block;
    sp->in_ch = sp->base.in_ch;
    sp->im_size = sp->base.im_size;
    sp->classes = sp->base.classes;
    return load_common(sp, j);
}

/* kind "compound": a base config scaled by phi (ns_compound_scale). */
static int load_compound(struct ns_space *sp, const json_t *j)
{
    sp->kind = KIND_COMPOUND;
    if (ns_json_check_keys(j, sp->where, compound_keys) || load_base(sp, j))
        return -1;
    const json_t *params = json_object_get(j, "params");
    if (!params)
        return ns_err("%s: params: missing field", sp->where);
    static const char *const keys[] = {"phi", "alpha", "beta", "gamma", NULL};
    char where[600];
    snprintf(where, sizeof where, "%s: params", sp->where);
    if (ns_json_check_keys(params, where, keys))
        return -1;
    static const double defaults[CP_COUNT] = {0, 1.2, 1.1, 1.15};
    for (int i = 0; i < CP_COUNT; i++) {
        int present;
        if (parse_dist(sp, params, compound_names[i], &sp->cp[i], &present))
            return -1;
        if (!present && i == CP_PHI)
            return ns_err("%s: params.phi: missing field", sp->where);
        if (!present)
            fixed(&sp->cp[i], defaults[i]);
        if (add_name(sp, "%s", compound_names[i], 0))
            return -1;
    }
    if (check_values(sp, "phi", &sp->cp[CP_PHI], -8, 0, 8, 0) ||
        check_values(sp, "alpha", &sp->cp[CP_ALPHA], 1, 0, 4, 0) ||
        check_values(sp, "beta", &sp->cp[CP_BETA], 1, 0, 4, 0) ||
        check_values(sp, "gamma", &sp->cp[CP_GAMMA], 1, 0, 4, 0))
        return -1;
    return 0;
}

static const char *const scaling_keys[] = {"name",    "description", "kind",        "base",
                                           "input",   "targets",     "dims",        "coefficients",
                                           "constraints", NULL};
/* Scaling parameters (what each trial records): the flops multiple asked for, the dimension
 * (enum ns_scale_dim: 0 base, 1 depth, 2 width, 3 resolution, 4 compound) and the compound
 * coefficients that made it. */
enum { SC_TARGET, SC_DIM, SC_PHI, SC_ALPHA, SC_BETA, SC_GAMMA, SC_COUNT };
static const char *const scaling_names[SC_COUNT] = {"target", "dim",  "phi",
                                                    "alpha",  "beta", "gamma"};

/* kind "scaling": one base config and its scalings to each flops multiple of "targets" along
 * each of "dims" (ns_scale_to_flops); trial order is fixed: the base, then for each target
 * every dim. */
static int load_scaling(struct ns_space *sp, const json_t *j)
{
    sp->kind = KIND_SCALING;
    if (ns_json_check_keys(j, sp->where, scaling_keys) || load_base(sp, j))
        return -1;
    const json_t *t = json_object_get(j, "targets");
    const size_t max_t = sizeof sp->targets / sizeof sp->targets[0];
    if (!json_is_array(t) || json_array_size(t) < 1 || json_array_size(t) > max_t)
        return ns_err("%s.targets: expected a list of 1 to %zu flops multiples (e.g. [2, 4])",
                      sp->where, max_t);
    for (size_t i = 0; i < json_array_size(t); i++) {
        const json_t *x = json_array_get(t, i);
        double v = json_is_number(x) ? json_number_value(x) : NAN;
        if (!(v > 1 && v <= 1024))
            return ns_err("%s.targets[%zu]: a flops multiple > 1 and <= 1024", sp->where, i);
        for (int k = 0; k < sp->n_targets; k++)
            if (sp->targets[k] == v)
                return ns_err("%s.targets[%zu]: %g twice", sp->where, i, v);
        sp->targets[sp->n_targets++] = v;
    }
    const json_t *d = json_object_get(j, "dims");
    if (!d) {
        for (int k = NS_SCALE_DEPTH; k < NS_SCALE_DIMS; k++)
            sp->dims[sp->n_dims++] = (enum ns_scale_dim)k;
    } else {
        if (!json_is_array(d) || json_array_size(d) < 1 || json_array_size(d) > 4)
            return ns_err("%s.dims: expected a list of depth, width, resolution, compound",
                          sp->where);
        for (size_t i = 0; i < json_array_size(d); i++) {
            const char *name = json_string_value(json_array_get(d, i));
            int k = NS_SCALE_DEPTH;
            while (name && k < NS_SCALE_DIMS && strcmp(name, ns_scale_dim_names[k]))
                k++;
            if (!name || k == NS_SCALE_DIMS)
                return ns_err("%s.dims[%zu]: not one of depth, width, resolution, compound",
                              sp->where, i);
            for (int m = 0; m < sp->n_dims; m++)
                if (sp->dims[m] == (enum ns_scale_dim)k)
                    return ns_err("%s.dims[%zu]: %s twice", sp->where, i, name);
            sp->dims[sp->n_dims++] = (enum ns_scale_dim)k;
        }
    }
    sp->coef = (struct ns_compound){1, 1.2, 1.1, 1.15};
    const json_t *co = json_object_get(j, "coefficients");
    if (co) {
        char where[600];
        snprintf(where, sizeof where, "%s.coefficients", sp->where);
        static const char *const keys[] = {"alpha", "beta", "gamma", NULL};
        double *v[] = {&sp->coef.alpha, &sp->coef.beta, &sp->coef.gamma};
        if (ns_json_check_keys(co, where, keys))
            return -1;
        for (int k = 0; k < 3; k++) {
            const json_t *x = json_object_get(co, keys[k]);
            if (!x)
                continue;
            if (!json_is_number(x) || !(json_number_value(x) >= 1 && json_number_value(x) <= 4))
                return ns_err("%s.%s: a number in [1, 4]", where, keys[k]);
            *v[k] = json_number_value(x);
        }
    }
    sp->n_items = 1 + sp->n_targets * sp->n_dims;
    for (int i = 0; i < SC_COUNT; i++)
        if (add_name(sp, "%s", scaling_names[i], 0))
            return -1;
    return 0;
}

static int load(struct ns_space *sp, const json_t *j)
{
    const char *s;
    const char *kind = json_is_object(j) ? json_string_value(json_object_get(j, "kind")) : NULL;
    if (kind && !strcmp(kind, "compound")) {
        if (ns_json_check_keys(j, sp->where, compound_keys))
            return -1;
    } else if (kind && !strcmp(kind, "scaling")) {
        if (ns_json_check_keys(j, sp->where, scaling_keys))
            return -1;
    } else if (ns_json_check_keys(j, sp->where, space_keys)) {
        return -1;
    }
    if (ns_json_get_str(j, "name", sp->where, 1, &s))
        return -1;
    if (!*s || strlen(s) >= sizeof sp->name)
        return ns_err("%s.name: must be 1..%zu characters", sp->where, sizeof sp->name - 1);
    strcpy(sp->name, s);
    if (ns_json_get_str(j, "description", sp->where, 0, &s) < 0)
        return -1;

    if (ns_json_get_str(j, "kind", sp->where, 1, &s))
        return -1;
    if (!strcmp(s, "regnet"))
        sp->kind = KIND_REGNET;
    else if (!strcmp(s, "anynet"))
        sp->kind = KIND_ANYNET;
    else if (!strcmp(s, "compound"))
        return load_compound(sp, j);
    else if (!strcmp(s, "scaling"))
        return load_scaling(sp, j);
    else
        return ns_err("%s.kind: unknown kind '%s' (regnet, anynet, compound, scaling)", sp->where,
                      s);

    if (ns_json_get_str(j, "block", sp->where, 1, &s))
        return -1;
    int v = ns_block_from_name(s);
    if (v < 0)
        return ns_err("%s.block: unknown block type '%s' (%s)", sp->where, s, ns_block_names());
    sp->block = (enum ns_block)v;
    if (sp->kind == KIND_REGNET && v != NS_BLOCK_X && v != NS_BLOCK_Y)
        return ns_err("%s.block: a regnet space has block x or y, not %s", sp->where, s);
    const int takes_act = (ns_block_takes(sp->block) & NS_TAKES_ACT) != 0;
    s = NULL;
    if (ns_json_get_str(j, "bn_order", sp->where, 0, &s) < 0)
        return -1;
    if (s) {
        if ((v = ns_bn_order_from_name(s)) < 0)
            return ns_err("%s.bn_order: unknown order '%s' (before_act, after_act)", sp->where, s);
        if (v == NS_BN_AFTER_ACT && !takes_act)
            return ns_err("%s.bn_order: %s blocks are pre-activation; after_act is for the "
                          "other block types",
                          sp->where, ns_block_name(sp->block));
        if (v == NS_BN_AFTER_ACT && (ns_block_takes(sp->block) & NS_NORM_FREE))
            return ns_err("%s.bn_order: %s blocks have no BN", sp->where, ns_block_name(sp->block));
        sp->bn_order = (enum ns_bn_order)v;
    }
    s = NULL;
    if (ns_json_get_str(j, "act", sp->where, 0, &s) < 0)
        return -1;
    if (s) {
        if ((v = ns_act_from_name(s)) < 0)
            return ns_err("%s.act: unknown activation '%s' (relu, silu, relu6)", sp->where, s);
        if (v != NS_ACT_RELU && !takes_act)
            return ns_err("%s.act: %s blocks are pre-activation with ReLU", sp->where,
                          ns_block_name(sp->block));
        sp->act = (enum ns_act)v;
    }
    if (ns_json_get_int(j, "head_w", sp->where, 0, 0, 8192, &sp->head_w) < 0 ||
        ns_json_get_int(j, "patch", sp->where, 0, 1, 1024, &sp->patch) < 0)
        return -1;

    char where[600];
    const json_t *stem = json_object_get(j, "stem");
    snprintf(where, sizeof where, "%s.stem", sp->where);
    static const char *const stem_keys[] = {"type", "w", NULL};
    if (!stem)
        return ns_err("%s: missing field", where);
    if (ns_json_check_keys(stem, where, stem_keys) || ns_json_get_str(stem, "type", where, 1, &s) ||
        ns_json_get_int(stem, "w", where, 1, 1, 4096, &sp->stem_w))
        return -1;
    v = ns_stem_from_name(s);
    if (v < 0)
        return ns_err("%s.type: unknown stem '%s' (cifar, simple, res, simple_pool, patchify, "
                      "conv_patch, repvgg)",
                      where, s);
    sp->stem = (enum ns_stem)v;

    if (load_common(sp, j))
        return -1;
    const json_t *params = json_object_get(j, "params");
    if (!params)
        return ns_err("%s: params: missing field", sp->where);

    if (sp->kind == KIND_REGNET) {
        static const char *const anynet_only[] = {"stages", "strides", "shared", "non_decreasing",
                                                  NULL};
        for (const char *const *k = anynet_only; *k; k++)
            if (json_object_get(j, *k))
                return ns_err("%s.%s: only for anynet spaces", sp->where, *k);
        sp->first_stride = 2;
        if (ns_json_get_int(j, "first_stride", sp->where, 0, 1, 2, &sp->first_stride) < 0)
            return -1;
        return load_regnet_params(sp, params);
    }

    if (json_object_get(j, "first_stride"))
        return ns_err("%s.first_stride: only for regnet spaces (anynet: strides)", sp->where);
    if (ns_json_get_int(j, "stages", sp->where, 1, 1, NS_MAX_STAGES, &sp->n_stages))
        return -1;
    if (sp->n_stages < sp->cons.stages_lo || sp->n_stages > sp->cons.stages_hi)
        return ns_err("%s: constraints.stages: the space has %d stages, outside [%d, %d]",
                      sp->where, sp->n_stages, sp->cons.stages_lo, sp->cons.stages_hi);
    for (int i = 0; i < sp->n_stages; i++)
        sp->strides[i] = 2;
    const json_t *st = json_object_get(j, "strides");
    if (st) {
        if (!json_is_array(st) || json_array_size(st) != (size_t)sp->n_stages)
            return ns_err("%s.strides: expected a list of %d strides (one per stage)", sp->where,
                          sp->n_stages);
        for (int i = 0; i < sp->n_stages; i++) {
            const json_t *x = json_array_get(st, (size_t)i);
            if (!json_is_integer(x) || (json_integer_value(x) != 1 && json_integer_value(x) != 2))
                return ns_err("%s.strides[%d]: stride must be 1 or 2", sp->where, i);
            sp->strides[i] = (int)json_integer_value(x);
        }
    }
    return load_anynet_params(sp, j, params);
}

struct ns_space *ns_space_from_jansson(const json_t *j, const char *where)
{
    struct ns_space *sp = calloc(1, sizeof *sp);
    if (!sp) {
        ns_err("%s: out of memory", where);
        return NULL;
    }
    snprintf(sp->where, sizeof sp->where, "%s", where);
    if (load(sp, j)) {
        free(sp);
        return NULL;
    }
    return sp;
}

struct ns_space *ns_space_load(const char *path)
{
    json_t *j = ns_json_load_file(path);
    if (!j)
        return NULL;
    struct ns_space *sp = ns_space_from_jansson(j, path);
    json_decref(j);
    if (sp)
        snprintf(sp->path, sizeof sp->path, "%s", path);
    return sp;
}

void ns_space_free(struct ns_space *sp)
{
    free(sp);
}

const char *ns_space_name(const struct ns_space *sp)
{
    return sp->name;
}
const char *ns_space_path(const struct ns_space *sp)
{
    return sp->path;
}
int ns_space_n_params(const struct ns_space *sp)
{
    return sp->n_params;
}

const char *ns_space_param_name(const struct ns_space *sp, int i)
{
    return i >= 0 && i < sp->n_params ? sp->names[i] : NULL;
}

void ns_space_input(const struct ns_space *sp, int *in_ch, int *im_size, int *classes)
{
    *in_ch = sp->in_ch;
    *im_size = sp->im_size;
    *classes = sp->classes;
}

int ns_space_set_input(struct ns_space *sp, int in_ch, int im_size, int classes)
{
    struct ns_config probe;
    ns_config_bench_net(&probe);
    probe.in_ch = in_ch;
    probe.im_size = im_size;
    probe.classes = classes;
    if (ns_config_check(&probe))
        return ns_err_prefix("%s: input", sp->where);
    sp->in_ch = in_ch;
    sp->im_size = im_size;
    sp->classes = classes;
    return 0;
}

/* ------------------------------------------------------------------ sampling ------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One draw of the parameters into vals (in name order) and the config they make.
 * Returns 0, or -1 when the draw makes no valid network (ns_err says why). */
static int draw_once(const struct ns_space *sp, struct ns_pcg32 *rng, uint64_t stream,
                     double *vals, struct ns_config *c)
{
    memset(c, 0, sizeof *c);
    c->in_ch = sp->in_ch;
    c->im_size = sp->im_size;
    c->classes = sp->classes;
    c->stem = sp->stem;
    c->stem_w = sp->stem_w;
    c->block = sp->block;
    c->bn_order = sp->bn_order;
    c->act = sp->act;
    c->head_w = sp->head_w;
    if (sp->kind == KIND_SCALING) {
        struct ns_config b = sp->base; /* stream < n_items: ns_space_draw checked */
        b.in_ch = sp->in_ch;
        b.im_size = sp->im_size;
        b.classes = sp->classes;
        const int item = (int)stream;
        const double target = item ? sp->targets[(item - 1) / sp->n_dims] : 1;
        const enum ns_scale_dim dim = item ? sp->dims[(item - 1) % sp->n_dims] : NS_SCALE_BASE;
        struct ns_compound used;
        if (ns_scale_to_flops(&b, dim, target, &sp->coef, &used, c))
            return -1;
        const double v[SC_COUNT] = {target, dim, used.phi, used.alpha, used.beta, used.gamma};
        memcpy(vals, v, sizeof v);
        return 0;
    }
    if (sp->kind == KIND_COMPOUND) {
        for (int i = 0; i < CP_COUNT; i++)
            vals[i] = ns_dist_draw(&sp->cp[i], rng);
        struct ns_config b = sp->base;
        b.in_ch = sp->in_ch;
        b.im_size = sp->im_size;
        b.classes = sp->classes;
        struct ns_compound k = {vals[CP_PHI], vals[CP_ALPHA], vals[CP_BETA], vals[CP_GAMMA]};
        return ns_compound_scale(&b, &k, c);
    }
    if (sp->kind == KIND_REGNET) {
        for (int i = 0; i < RG_COUNT; i++)
            vals[i] = ns_dist_draw(&sp->rg[i], rng);
        struct ns_regnet r = {(int)vals[RG_DEPTH],   vals[RG_W0],      vals[RG_WA],  vals[RG_WM],
                              (int)vals[RG_GROUP_W], vals[RG_BOT_MUL], vals[RG_SE_R]};
        return ns_regnet_generate(&r, sp->first_stride, c);
    }
    const int n = sp->n_stages;
    double per[AN_COUNT][NS_MAX_STAGES];
    int k = 0;
    for (int i = 0; i < AN_COUNT; i++) {
        if (!sp->has[i])
            continue;
        int m = sp->shared[i] ? 1 : n;
        for (int s = 0; s < m; s++)
            per[i][s] = ns_dist_draw(&sp->an[i], rng);
        if (sp->nondec[i])
            qsort(per[i], (size_t)n, sizeof per[i][0], cmp_double);
        for (int s = m; s < n; s++)
            per[i][s] = per[i][0];
        memcpy(vals + k, per[i], (size_t)m * sizeof *vals);
        k += m;
    }
    c->n_stages = n;
    c->se_r = sp->has[AN_SE_R] ? per[AN_SE_R][0] : 0.0;
    /* a width multiplier scales every width, the stem's too (MobileNet's alpha) */
    const double wm = sp->has[AN_WMULT] ? per[AN_WMULT][0] : 1.0;
    if (sp->has[AN_WMULT])
        c->stem_w = ns_round_even(c->stem_w * wm) > 0 ? ns_round_even(c->stem_w * wm) : 1;
    /* pycls's group/bottleneck adjustment where g divides a bottleneck (not a transformer's
     * head width, which must divide w: a draw where it does not is rejected) */
    const unsigned takes = ns_block_takes(sp->block);
    const int grouped = (takes & NS_TAKES_G) && !(takes & NS_TOKENS);
    for (int s = 0; s < n; s++) {
        struct ns_stage *st = &c->stages[s];
        st->d = (int)per[AN_D][s];
        st->w = (int)per[AN_W][s];
        if (sp->has[AN_WMULT])
            st->w = ns_round_even(st->w * wm) > 0 ? ns_round_even(st->w * wm) : 1;
        st->s = sp->strides[s];
        st->b = sp->has[AN_B] ? per[AN_B][s] : 1.0;
        st->g = sp->has[AN_G] ? (int)per[AN_G][s] : 1;
        st->k = sp->has[AN_K] ? (int)per[AN_K][s] : 0;
        if (grouped)
            ns_sp_adjust_compat(st);
    }
    if (takes & NS_TOKENS) /* the patch embedding makes tokens of the encoder's width */
        c->stem_w = c->stages[0].w;
    c->patch = sp->patch;
    ns_config_normalize(c);
    return ns_config_check(c);
}

static void add_stats(struct ns_sample_stats *to, const struct ns_sample_stats *s)
{
    to->streams += s->streams;
    to->draws += s->draws;
    to->rejected += s->rejected;
    to->rej_flops += s->rej_flops;
    to->rej_params += s->rej_params;
    to->rej_acts += s->rej_acts;
    to->rej_stages += s->rej_stages;
    to->rej_invalid += s->rej_invalid;
    to->duplicates += s->duplicates;
}

int ns_space_draw(const struct ns_space *sp, uint64_t seed, uint64_t stream, struct ns_trial *out,
                  struct ns_sample_stats *stats)
{
    struct ns_sample_stats st = {0};
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, seed, stream);
    const struct ns_constraints *k = &sp->cons;
    char last[256] = "";
    memset(out, 0, sizeof *out);
    out->index = -1;
    out->stream = stream;
    out->n_params = sp->n_params;
    if (sp->kind == KIND_SCALING && stream >= (uint64_t)sp->n_items)
        return ns_err("%s: a scaling space has %d models (the base, then %d targets x %d "
                      "dims); asked for model %llu",
                      sp->where, sp->n_items, sp->n_targets, sp->n_dims,
                      (unsigned long long)stream + 1);
    int ok = 0;
    /* a scaling space's stream is one fixed model: drawing it again gives the same */
    const int max_tries = sp->kind == KIND_SCALING ? 1 : sp->max_tries;
    for (int t = 0; t < max_tries && !ok; t++) {
        st.draws++;
        out->tries = t + 1;
        struct ns_complexity *cx = &out->cx;
        if (draw_once(sp, &rng, stream, out->params, &out->config) ||
            ns_complexity(&out->config, cx)) {
            st.rej_invalid++;
            snprintf(last, sizeof last, "%s", ns_errmsg());
        } else if (out->config.n_stages < k->stages_lo || out->config.n_stages > k->stages_hi) {
            st.rej_stages++;
            snprintf(last, sizeof last, "%d stages", out->config.n_stages);
        } else if (cx->flops < k->flops_lo || cx->flops > k->flops_hi) {
            st.rej_flops++;
            snprintf(last, sizeof last, "flops %.4g", cx->flops);
        } else if (cx->params < k->params_lo || cx->params > k->params_hi) {
            st.rej_params++;
            snprintf(last, sizeof last, "params %.4g", cx->params);
        } else if (cx->acts < k->acts_lo || cx->acts > k->acts_hi) {
            st.rej_acts++;
            snprintf(last, sizeof last, "acts %.4g", cx->acts);
        } else {
            ok = 1;
        }
    }
    st.rejected = st.rej_invalid + st.rej_stages + st.rej_flops + st.rej_params + st.rej_acts;
    if (stats)
        add_stats(stats, &st);
    if (!ok)
        return ns_err("%s: constraints: no config met them in %d tries (stream %llu; rejected "
                      "for flops %ld, params %ld, acts %ld, stages %ld, invalid %ld; last: %s)",
                      sp->where, max_tries, (unsigned long long)stream, st.rej_flops,
                      st.rej_params, st.rej_acts, st.rej_stages, st.rej_invalid, last);
    if (ns_config_json_into(&out->config, out->json, sizeof out->json))
        return ns_err_prefix("%s", sp->where);
    ns_config_hash_json(out->json, out->hash);
    return 0;
}

/* An open-addressing set of 64-bit hashes (0 marks an empty slot; hash 0 is kept aside). */
struct hashset {
    uint64_t *slot;
    size_t cap; /* a power of two */
    int has_zero;
};

/* 1 if h was already there, 0 if inserted. */
static int hashset_add(struct hashset *s, uint64_t h)
{
    if (h == 0) {
        int was = s->has_zero;
        s->has_zero = 1;
        return was;
    }
    for (size_t i = (size_t)(h ^ (h >> 29)) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->slot[i] == h)
            return 1;
        if (s->slot[i] == 0) {
            s->slot[i] = h;
            return 0;
        }
    }
}

int ns_space_sample(const struct ns_space *sp, uint64_t seed, int n, struct ns_trial **out,
                    struct ns_sample_stats *stats)
{
    *out = NULL;
    if (n < 0)
        return ns_err("%s: sample: n = %d must be >= 0", sp->where, n);
    if (n == 0)
        return 0;
    struct ns_trial *t = malloc((size_t)n * sizeof *t);
    struct hashset set = {NULL, 16, 0};
    while (set.cap < 2 * (size_t)n)
        set.cap *= 2;
    set.slot = calloc(set.cap, sizeof *set.slot);
    if (!t || !set.slot) {
        free(t);
        free(set.slot);
        return ns_err("%s: sample: out of memory for %d trials", sp->where, n);
    }
    struct ns_sample_stats st = {0};
    uint64_t stream = 0;
    int dups_in_a_row = 0;
    for (int i = 0; i < n;) {
        if (ns_space_draw(sp, seed, stream, &t[i], &st))
            goto fail;
        stream++;
        if (hashset_add(&set, ns_fnv1a64(t[i].json, strlen(t[i].json)))) {
            if (sp->kind == KIND_SCALING) { /* fixed models: skipping one would shift the rest */
                int k = 0;
                while (k < i && strcmp(t[k].json, t[i].json))
                    k++;
                ns_err("%s: models %d and %llu of the scaling space are the same network "
                       "(targets too close for the rounding of depths, widths and sizes)",
                       sp->where, k + 1, (unsigned long long)stream);
                goto fail;
            }
            st.duplicates++;
            if (++dups_in_a_row >= sp->max_tries) {
                ns_err("%s: only %d distinct configs; the last %d candidates were all "
                       "duplicates: the space is too small for n = %d",
                       sp->where, i, dups_in_a_row, n);
                goto fail;
            }
            continue;
        }
        dups_in_a_row = 0;
        t[i].index = i;
        i++;
    }
    st.streams = (long)stream;
    if (stats)
        add_stats(stats, &st);
    free(set.slot);
    *out = t;
    return 0;
fail:
    free(set.slot);
    free(t);
    return -1;
}
