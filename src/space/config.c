/* The model config's canonical JSON, its hash, and reading it back. The JSON is written by
 * hand rather than with jansson's dumper so that the number format is ours and fixed: the
 * hash must not change with a library version. */
#include "space/space.h"
#include "space/space_internal.h"

#include "util/err.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ns_config_normalize(struct ns_config *c)
{
    int uses_se = c->block == NS_BLOCK_Y || c->block == NS_BLOCK_MBCONV;
    c->se_r = uses_se ? ns_sp_canon_real(c->se_r) : 0.0;
    for (int i = 0; i < c->n_stages && i < NS_MAX_STAGES; i++) {
        struct ns_stage *s = &c->stages[i];
        switch (c->block) {
        case NS_BLOCK_VANILLA:
        case NS_BLOCK_RES_BASIC:
            s->g = 0;
            s->b = 1.0;
            break;
        case NS_BLOCK_SEP:
            s->g = 1;
            s->b = 1.0;
            break;
        case NS_BLOCK_MBCONV:
            s->g = 1;
            break;
        default:
            break;
        }
        s->b = ns_sp_canon_real(s->b);
    }
    for (int i = c->n_stages < 0 ? 0 : c->n_stages; i < NS_MAX_STAGES; i++)
        c->stages[i] = (struct ns_stage){0};
}

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

/* Canonical JSON into buf (NUL-terminated); 0, or -1 when invalid or too long. */
static int write_json(const struct ns_config *in, char *buf, size_t cap)
{
    if (ns_config_check(in))
        return -1;
    struct ns_config c = *in;
    ns_config_normalize(&c);
    struct sbuf b = {buf, 0, cap};
    char r[32];
    ns_sp_fmt_real(c.se_r, r);
    /* bn_order only when not the default, so that every before_act config keeps its hash */
    char order[40] = "";
    if (c.bn_order != NS_BN_BEFORE_ACT)
        snprintf(order, sizeof order, "\"bn_order\":\"%s\",", ns_bn_order_name(c.bn_order));
    int rc = put(&b,
                 "{\"block\":\"%s\",%s\"classes\":%d,\"im_size\":%d,\"in_ch\":%d,"
                 "\"se_r\":%s,\"stages\":[",
                 ns_block_name(c.block), order, c.classes, c.im_size, c.in_ch, r);
    for (int i = 0; i < c.n_stages && !rc; i++) {
        const struct ns_stage *s = &c.stages[i];
        ns_sp_fmt_real(s->b, r);
        rc = put(&b, "%s{\"b\":%s,\"d\":%d,\"g\":%d,\"s\":%d,\"w\":%d}", i ? "," : "", r, s->d,
                 s->g, s->s, s->w);
    }
    if (!rc)
        rc = put(&b, "],\"stem\":{\"type\":\"%s\",\"w\":%d}}", ns_stem_name(c.stem), c.stem_w);
    if (rc)
        return ns_err("config: canonical JSON longer than %zu bytes", cap);
    return 0;
}

int ns_sp_config_json_into(const struct ns_config *c, char *buf, size_t cap)
{
    return write_json(c, buf, cap);
}

char *ns_config_to_json(const struct ns_config *c)
{
    char buf[4096];
    if (write_json(c, buf, sizeof buf))
        return NULL;
    char *s = strdup(buf);
    if (!s)
        ns_err("config: out of memory");
    return s;
}

json_t *ns_config_to_jansson(const struct ns_config *c)
{
    char buf[4096];
    if (write_json(c, buf, sizeof buf))
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
    if (write_json(c, buf, sizeof buf))
        return -1;
    ns_config_hash_json(buf, out);
    return 0;
}

static const char *const top_keys[] = {"block", "bn_order", "classes", "im_size", "in_ch",
                                       "se_r",  "stages",   "stem",    NULL};
static const char *const stem_keys[] = {"type", "w", NULL};
static const char *const stage_keys[] = {"b", "d", "g", "s", "w", NULL};

int ns_config_from_jansson(const json_t *j, struct ns_config *out)
{
    struct ns_config c;
    memset(&c, 0, sizeof c);
    if (ns_sp_check_keys(j, "config", top_keys))
        return -1;
    const char *name;
    if (ns_sp_get_int(j, "in_ch", "config", 1, 1, 64, &c.in_ch) ||
        ns_sp_get_int(j, "im_size", "config", 1, 4, 1024, &c.im_size) ||
        ns_sp_get_int(j, "classes", "config", 1, 2, 1000000, &c.classes) ||
        ns_sp_get_str(j, "block", "config", 1, &name))
        return -1;
    int v = ns_block_from_name(name);
    if (v < 0)
        return ns_err("config.block: unknown block type '%s' (vanilla, res_basic, x, y, sep, "
                      "mbconv)",
                      name);
    c.block = (enum ns_block)v;
    if (ns_sp_get_num(j, "se_r", "config", 0, &c.se_r) < 0)
        return -1;
    name = NULL;
    if (ns_sp_get_str(j, "bn_order", "config", 0, &name) < 0)
        return -1;
    if (name) {
        if ((v = ns_bn_order_from_name(name)) < 0)
            return ns_err("config.bn_order: unknown order '%s' (before_act, after_act)", name);
        c.bn_order = (enum ns_bn_order)v;
    }

    const json_t *stem = json_object_get(j, "stem");
    if (!stem)
        return ns_err("config.stem: missing field");
    if (ns_sp_check_keys(stem, "config.stem", stem_keys) ||
        ns_sp_get_str(stem, "type", "config.stem", 1, &name) ||
        ns_sp_get_int(stem, "w", "config.stem", 1, 1, 4096, &c.stem_w))
        return -1;
    v = ns_stem_from_name(name);
    if (v < 0)
        return ns_err("config.stem.type: unknown stem '%s' (cifar, simple, res)", name);
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
        if (ns_sp_check_keys(s, where, stage_keys) ||
            ns_sp_get_int(s, "d", where, 1, 1, 256, &st->d) ||
            ns_sp_get_int(s, "w", where, 1, 1, 8192, &st->w) ||
            ns_sp_get_int(s, "s", where, 1, 1, 2, &st->s) ||
            ns_sp_get_int(s, "g", where, 1, 0, 8192, &st->g) ||
            ns_sp_get_num(s, "b", where, 1, &st->b))
            return -1;
    }
    ns_config_normalize(&c);
    if (ns_config_check(&c))
        return ns_err_prefix("config");
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
    json_t *j = ns_sp_load_file(path);
    if (!j)
        return -1;
    int rc = ns_config_from_jansson(j, out);
    json_decref(j);
    if (rc)
        return ns_err_prefix("%s", path);
    return 0;
}
