/* The model config: names, checks, canonical values, the canonical JSON and its hash. The JSON
 * is written by hand rather than with jansson's dumper so that the number format is ours and
 * fixed: the hash must not change with a library version. */
#include "model/config_json.h"
#include "model/emit.h"

#include "util/err.h"
#include "util/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const stem_names[NS_STEM_COUNT] = {
    "cifar", "simple", "res", "simple_pool", "patchify", "conv_patch", "repvgg"};
static const char *const bn_order_names[NS_BN_ORDER_COUNT] = {"before_act", "after_act"};
static const char *const act_names[NS_ACT_COUNT] = {"relu", "silu", "relu6", "sigmoid", "gelu"};

static int find(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

const char *ns_block_name(enum ns_block b)
{
    return (unsigned)b < NS_BLOCK_COUNT ? ns_block_defs[b].name : NULL;
}

int ns_block_from_name(const char *name)
{
    for (int i = 0; i < NS_BLOCK_COUNT; i++)
        if (strcmp(name, ns_block_defs[i].name) == 0)
            return i;
    return -1;
}

const char *ns_block_names(void)
{
    static char list[256];
    if (!list[0])
        for (int i = 0; i < NS_BLOCK_COUNT; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                     ns_block_defs[i].name);
    return list;
}

unsigned ns_block_takes(enum ns_block b)
{
    return (unsigned)b < NS_BLOCK_COUNT ? ns_block_defs[b].takes : 0;
}

const char *ns_stem_name(enum ns_stem s)
{
    return (unsigned)s < NS_STEM_COUNT ? stem_names[s] : NULL;
}
int ns_stem_from_name(const char *name) { return find(stem_names, NS_STEM_COUNT, name); }

const char *ns_bn_order_name(enum ns_bn_order o)
{
    return (unsigned)o < NS_BN_ORDER_COUNT ? bn_order_names[o] : NULL;
}
int ns_bn_order_from_name(const char *name)
{
    return find(bn_order_names, NS_BN_ORDER_COUNT, name);
}

const char *ns_act_name(enum ns_act a) { return (unsigned)a < NS_ACT_COUNT ? act_names[a] : NULL; }
int ns_act_from_name(const char *name) { return find(act_names, NS_CONFIG_ACTS, name); }

int ns_round_even(double v) { return (int)rint(v); }

/* ---- checks ---------------------------------------------------------------------------- */

/* The field checks: ranges, and fields the block does not take at their canonical values.
 * The width rules are the blocks' own (ns_graph_build runs them). */
static int check_fields(const struct ns_config *c)
{
    if (c->in_ch < 1 || c->in_ch > 64)
        return ns_err("in_ch: %d is not in 1..64", c->in_ch);
    if (c->im_size < 4 || c->im_size > 1024)
        return ns_err("im_size: %d is not in 4..1024", c->im_size);
    if (c->classes < 2)
        return ns_err("classes: %d, need at least 2", c->classes);
    if ((unsigned)c->stem >= NS_STEM_COUNT)
        return ns_err("stem.type: unknown stem");
    if (c->stem_w < 1 || c->stem_w > 4096)
        return ns_err("stem.w: %d is not in 1..4096", c->stem_w);
    if ((unsigned)c->block >= NS_BLOCK_COUNT)
        return ns_err("block: unknown block type");
    const char *bname = ns_block_name(c->block);
    const unsigned takes = ns_block_takes(c->block);
    if ((unsigned)c->bn_order >= NS_BN_ORDER_COUNT)
        return ns_err("bn_order: unknown order");
    if ((unsigned)c->act >= NS_CONFIG_ACTS)
        return ns_err("act: unknown activation (relu, silu, relu6)");
    if (!(takes & NS_TAKES_ACT) && c->bn_order == NS_BN_AFTER_ACT)
        return ns_err("bn_order: %s blocks are pre-activation (BN, ReLU, conv); after_act "
                      "is for the other block types",
                      bname);
    if ((takes & NS_NO_BN_AFTER) && c->bn_order == NS_BN_AFTER_ACT)
        return ns_err("bn_order: %s blocks sum conv-BN branches before the activation; "
                      "after_act does not apply",
                      bname);
    if (c->stem == NS_STEM_REPVGG && c->bn_order == NS_BN_AFTER_ACT)
        return ns_err("bn_order: the repvgg stem sums conv-BN branches before the activation; "
                      "after_act does not apply");
    if (!(takes & NS_TAKES_ACT) && c->act != NS_ACT_RELU)
        return ns_err("act: %s blocks are pre-activation with ReLU; act is for the other block "
                      "types",
                      bname);
    if ((takes & NS_NORM_FREE) && c->bn_order != NS_BN_BEFORE_ACT)
        return ns_err("bn_order: %s blocks have no BN", bname);
    if ((takes & NS_NORM_FREE) && ns_nf_gamma(c->act) == 0)
        return ns_err("act: %s blocks need a variance-preserving gain, known for relu and silu "
                      "only",
                      bname);
    if (c->head_w < 0 || c->head_w > 8192)
        return ns_err("head_w: %d is not in 0..8192", c->head_w);
    const int patch_stem = c->stem == NS_STEM_PATCHIFY || c->stem == NS_STEM_CONV_PATCH;
    if (!patch_stem && c->patch != 0)
        return ns_err("patch: only a patchify or conv_patch stem has a patch size");
    if (patch_stem && (c->patch < 1 || c->patch > c->im_size || c->im_size % c->patch != 0))
        return ns_err("patch: %d does not divide the input size %d", c->patch, c->im_size);
    if (c->stem == NS_STEM_CONV_PATCH && (c->patch < 2 || (c->patch & (c->patch - 1))))
        return ns_err("patch: %d, a conv_patch stem needs a power of two >= 2 (one stride-2 "
                      "conv per factor 2)",
                      c->patch);
    if ((takes & NS_TOKENS) && !patch_stem)
        return ns_err("stem.type: block %s needs a patchify or conv_patch stem", bname);
    if ((takes & NS_TOKENS) && c->n_stages != 1)
        return ns_err("stages: block %s has one stage (its depth is the number of encoder "
                      "blocks), not %d",
                      bname, c->n_stages);
    if ((takes & NS_TOKENS) && c->head_w)
        return ns_err("head_w: block %s has no head conv", bname);
    if (c->n_stages < 1 || c->n_stages > NS_MAX_STAGES)
        return ns_err("stages: %d stages, need 1..%d", c->n_stages, NS_MAX_STAGES);
    if (!(c->se_r >= 0 && c->se_r < 1))
        return ns_err("se_r: %g is not in [0, 1)", c->se_r);
    if ((takes & NS_NEEDS_SE) && !(c->se_r > 0))
        return ns_err("se_r: block %s needs squeeze-and-excitation (se_r > 0)", bname);
    if (!(takes & NS_TAKES_SE) && c->se_r != 0)
        return ns_err("se_r: block %s has no squeeze-and-excitation (se_r must be 0)", bname);
    const int g_canon = takes & NS_DEPTHWISE_G1 ? 1 : 0;
    for (int i = 0; i < c->n_stages; i++) {
        const struct ns_stage *s = &c->stages[i];
        if (s->d < 1 || s->d > 256)
            return ns_err("stages[%d].d: %d is not in 1..256", i, s->d);
        if (s->w < 1 || s->w > 8192)
            return ns_err("stages[%d].w: %d is not in 1..8192", i, s->w);
        if (s->s != 1 && s->s != 2)
            return ns_err("stages[%d].s: stride %d, must be 1 or 2", i, s->s);
        if (!(s->b > 0 && s->b <= 16))
            return ns_err("stages[%d].b: %g is not in (0, 16]", i, s->b);
        if (!(takes & NS_TAKES_B) && s->b != 1.0)
            return ns_err("stages[%d].b: block %s has no bottleneck or expansion (b must be 1)",
                          i, bname);
        if (!(takes & NS_TAKES_G) && s->g != g_canon)
            return ns_err("stages[%d].g: block %s has no group width (g must be %d)", i, bname,
                          g_canon);
        if (s->k != 0 && s->k != 3 && s->k != 5 && s->k != 7)
            return ns_err("stages[%d].k: kernel size %d, must be 3, 5 or 7", i, s->k);
        if (!(takes & NS_TAKES_K) && ns_stage_k(s) != 3)
            return ns_err("stages[%d].k: block %s has no depthwise kernel size (k must be 3)",
                          i, bname);
    }
    return 0;
}

int ns_config_check(const struct ns_config *c)
{
    /* the field checks, then the width rules: the blocks check their own while the graph
     * is built */
    struct ns_graph g;
    if (ns_graph_build(c, NULL, &g))
        return -1;
    ns_graph_free(&g);
    return 0;
}

int ns_config_check_fields(const struct ns_config *c) { return check_fields(c); }

void ns_config_normalize(struct ns_config *c)
{
    unsigned takes = ns_block_takes(c->block);
    c->se_r = takes & NS_TAKES_SE ? ns_json_canon_real(c->se_r) : 0.0;
    for (int i = 0; i < c->n_stages && i < NS_MAX_STAGES; i++) {
        struct ns_stage *s = &c->stages[i];
        if (!(takes & NS_TAKES_G))
            s->g = takes & NS_DEPTHWISE_G1 ? 1 : 0;
        if (!(takes & NS_TAKES_B))
            s->b = 1.0;
        if (!(takes & NS_TAKES_K) || s->k == 3)
            s->k = 0;
        s->b = ns_json_canon_real(s->b);
    }
    for (int i = c->n_stages < 0 ? 0 : c->n_stages; i < NS_MAX_STAGES; i++)
        c->stages[i] = (struct ns_stage){0};
}

void ns_config_bench_net(struct ns_config *c)
{
    memset(c, 0, sizeof *c);
    c->in_ch = 1;
    c->im_size = 28;
    c->classes = 10;
    c->stem = NS_STEM_CIFAR;
    c->stem_w = 16;
    c->block = NS_BLOCK_X;
    c->n_stages = 3;
    const int w[3] = {32, 64, 128}, d[3] = {1, 2, 4};
    for (int i = 0; i < 3; i++)
        c->stages[i] = (struct ns_stage){.d = d[i], .w = w[i], .s = 2, .g = 8, .b = 1.0};
}

/* ---- canonical JSON -------------------------------------------------------------------- */

/* Append to a fixed buffer; returns -1 when it would overflow. */
struct sbuf {
    char *p;
    size_t len, cap;
};

static int put(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len)
        return -1;
    b->len += (size_t)n;
    return 0;
}

int ns_config_json_into(const struct ns_config *in, char *buf, size_t cap)
{
    if (ns_config_check(in))
        return -1;
    struct ns_config c = *in;
    ns_config_normalize(&c);
    struct sbuf b = {buf, 0, cap};
    char r[32];
    /* keys sorted; the fields with defaults only when not at them, so that every config
     * written before they existed keeps its hash */
    int rc = put(&b, "{");
    if (!rc && c.act != NS_ACT_RELU)
        rc = put(&b, "\"act\":\"%s\",", ns_act_name(c.act));
    if (!rc)
        rc = put(&b, "\"block\":\"%s\",", ns_block_name(c.block));
    if (!rc && c.bn_order != NS_BN_BEFORE_ACT)
        rc = put(&b, "\"bn_order\":\"%s\",", ns_bn_order_name(c.bn_order));
    if (!rc)
        rc = put(&b, "\"classes\":%d,", c.classes);
    if (!rc && c.head_w)
        rc = put(&b, "\"head_w\":%d,", c.head_w);
    ns_json_fmt_real(c.se_r, r);
    if (!rc)
        rc = put(&b, "\"im_size\":%d,\"in_ch\":%d,", c.im_size, c.in_ch);
    if (!rc && c.patch)
        rc = put(&b, "\"patch\":%d,", c.patch);
    if (!rc)
        rc = put(&b, "\"se_r\":%s,\"stages\":[", r);
    for (int i = 0; i < c.n_stages && !rc; i++) {
        const struct ns_stage *s = &c.stages[i];
        ns_json_fmt_real(s->b, r);
        rc = put(&b, "%s{\"b\":%s,\"d\":%d,\"g\":%d,", i ? "," : "", r, s->d, s->g);
        if (!rc && s->k)
            rc = put(&b, "\"k\":%d,", s->k);
        if (!rc)
            rc = put(&b, "\"s\":%d,\"w\":%d}", s->s, s->w);
    }
    if (!rc)
        rc = put(&b, "],\"stem\":{\"type\":\"%s\",\"w\":%d}}", ns_stem_name(c.stem), c.stem_w);
    if (rc)
        return ns_err("config: canonical JSON longer than %zu bytes", cap);
    return 0;
}

char *ns_config_to_json(const struct ns_config *c)
{
    char buf[4096];
    if (ns_config_json_into(c, buf, sizeof buf))
        return NULL;
    char *s = strdup(buf);
    if (!s)
        ns_err("config: out of memory");
    return s;
}

json_t *ns_config_to_jansson(const struct ns_config *c)
{
    char buf[4096];
    if (ns_config_json_into(c, buf, sizeof buf))
        return NULL;
    json_error_t e;
    json_t *j = json_loads(buf, 0, &e);
    if (!j)
        ns_err("config: %s", e.text);
    return j;
}

uint64_t ns_fnv1a64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void ns_config_hash_json(const char *canonical_json, char out[17])
{
    snprintf(out, 17, "%016" PRIx64, ns_fnv1a64(canonical_json, strlen(canonical_json)));
}

int ns_config_hash(const struct ns_config *c, char out[17])
{
    char buf[4096];
    if (ns_config_json_into(c, buf, sizeof buf))
        return -1;
    ns_config_hash_json(buf, out);
    return 0;
}

/* ---- reading it ------------------------------------------------------------------------ */

static const char *const top_keys[] = {"act",   "block", "bn_order", "classes", "head_w",
                                       "im_size", "in_ch", "patch",    "se_r",    "stages",
                                       "stem",    NULL};
static const char *const stem_keys[] = {"type", "w", NULL};
static const char *const stage_keys[] = {"b", "d", "g", "k", "s", "w", NULL};

/* An optional enum-valued string field: 0 (absent or read), -1 (ns_err). */
static int get_name(const json_t *j, const char *key, int (*from_name)(const char *),
                    const char *noun, const char *choices, int *out)
{
    const char *name = NULL;
    if (ns_json_get_str(j, key, "config", 0, &name) < 0)
        return -1;
    if (!name)
        return 0;
    int v = from_name(name);
    if (v < 0)
        return ns_err("config.%s: unknown %s '%s' (%s)", key, noun, name, choices);
    *out = v;
    return 0;
}

int ns_config_from_jansson(const json_t *j, struct ns_config *out)
{
    struct ns_config c;
    memset(&c, 0, sizeof c);
    if (ns_json_check_keys(j, "config", top_keys))
        return -1;
    const char *name;
    int v;
    if (ns_json_get_int(j, "in_ch", "config", 1, 1, 64, &c.in_ch) ||
        ns_json_get_int(j, "im_size", "config", 1, 4, 1024, &c.im_size) ||
        ns_json_get_int(j, "classes", "config", 1, 2, 1000000, &c.classes) ||
        ns_json_get_str(j, "block", "config", 1, &name))
        return -1;
    if ((v = ns_block_from_name(name)) < 0)
        return ns_err("config.block: unknown block type '%s' (%s)", name, ns_block_names());
    c.block = (enum ns_block)v;
    int order = 0, act = 0;
    if (ns_json_get_num(j, "se_r", "config", 0, &c.se_r) < 0 ||
        get_name(j, "bn_order", ns_bn_order_from_name, "order", "before_act, after_act", &order) ||
        get_name(j, "act", ns_act_from_name, "activation", "relu, silu, relu6", &act) ||
        ns_json_get_int(j, "head_w", "config", 0, 0, 8192, &c.head_w) < 0 ||
        ns_json_get_int(j, "patch", "config", 0, 1, 1024, &c.patch) < 0)
        return -1;
    c.bn_order = (enum ns_bn_order)order;
    c.act = (enum ns_act)act;

    const json_t *stem = json_object_get(j, "stem");
    if (!stem)
        return ns_err("config.stem: missing field");
    if (ns_json_check_keys(stem, "config.stem", stem_keys) ||
        ns_json_get_str(stem, "type", "config.stem", 1, &name) ||
        ns_json_get_int(stem, "w", "config.stem", 1, 1, 4096, &c.stem_w))
        return -1;
    if ((v = ns_stem_from_name(name)) < 0)
        return ns_err("config.stem.type: unknown stem '%s' (cifar, simple, res, simple_pool, "
                      "patchify, conv_patch, repvgg)",
                      name);
    c.stem = (enum ns_stem)v;

    const json_t *stages = json_object_get(j, "stages");
    if (!stages)
        return ns_err("config.stages: missing field");
    if (!json_is_array(stages))
        return ns_err("config.stages: expected an array");
    size_t n = json_array_size(stages);
    if (n < 1 || n > NS_MAX_STAGES)
        return ns_err("config.stages: %zu stages, need 1..%d", n, NS_MAX_STAGES);
    c.n_stages = (int)n;
    for (size_t i = 0; i < n; i++) {
        char where[48];
        snprintf(where, sizeof where, "config.stages[%zu]", i);
        const json_t *s = json_array_get(stages, i);
        struct ns_stage *st = &c.stages[i];
        if (ns_json_check_keys(s, where, stage_keys) ||
            ns_json_get_int(s, "d", where, 1, 1, 256, &st->d) ||
            ns_json_get_int(s, "w", where, 1, 1, 8192, &st->w) ||
            ns_json_get_int(s, "s", where, 1, 1, 2, &st->s) ||
            ns_json_get_int(s, "g", where, 1, 0, 8192, &st->g) ||
            ns_json_get_num(s, "b", where, 1, &st->b) ||
            ns_json_get_int(s, "k", where, 0, 1, 7, &st->k) < 0)
            return -1;
    }
    /* fields the block does not take are errors here, before normalizing could hide them */
    if (ns_config_check(&c))
        return ns_err_prefix("config");
    ns_config_normalize(&c);
    *out = c;
    return 0;
}

int ns_config_from_json(const char *text, struct ns_config *out)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    if (!j)
        return ns_err("config: line %d, column %d: %s", e.line, e.column, e.text);
    int rc = ns_config_from_jansson(j, out);
    json_decref(j);
    return rc;
}

int ns_config_load(const char *path, struct ns_config *out)
{
    json_t *j = ns_json_load_file(path);
    if (!j)
        return -1;
    int rc = ns_config_from_jansson(j, out);
    json_decref(j);
    if (rc)
        return ns_err_prefix("%s", path);
    return 0;
}
