/* Checkpoints (nn/checkpoint.h, format: doc/checkpoint.md). Every integer and float is
 * written and read byte by byte in little-endian order, so the bytes do not depend on the
 * host; a reader checks the whole buffer (magic, version, length, CRC, section bounds)
 * before it uses any of it. */
#include "nn/checkpoint.h"

#include "nn/net.h"
#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const uint8_t magic[8] = {'N', 'S', 'C', 'K', 'P', 'T', '\r', '\n'};
enum { HEADER = 32, FLAG_STATE = 1u };

/* ---- little-endian encoding ------------------------------------------------------------ */

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- writer ----------------------------------------------------------------------------- */

/* A buffer sized exactly up front (ckpt_size), so writing cannot fail half-way. */
struct wbuf {
    uint8_t *p;
    size_t n, cap;
    size_t sec;       /* offset of the open section's header */
    uint32_t n_secs;
};

static uint8_t *wput(struct wbuf *b, size_t n)
{
    uint8_t *p = b->p + b->n;
    b->n += n;
    return p;
}

static void put32(struct wbuf *b, uint32_t v) { le32(wput(b, 4), v); }
static void put64(struct wbuf *b, uint64_t v) { le64(wput(b, 8), v); }

static void put_floats(struct wbuf *b, const float *f, size_t n)
{
    uint8_t *p = wput(b, 4 * n);
    for (size_t i = 0; i < n; i++)
        le32(p + 4 * i, f2u(f[i]));
}

static size_t pad8(size_t n) { return (n + 7) / 8 * 8; }

static void sec_begin(struct wbuf *b, const char tag[4])
{
    b->sec = b->n;
    memcpy(wput(b, 4), tag, 4);
    put32(b, 0);
    put64(b, 0); /* the payload length, filled in by sec_end */
}

static void sec_end(struct wbuf *b)
{
    size_t len = b->n - b->sec - 16;
    le64(b->p + b->sec + 8, len);
    size_t padded = pad8(b->n);
    memset(b->p + b->n, 0, padded - b->n);
    b->n = padded;
    b->n_secs++;
}

/* What a checkpoint of net holds besides the config: sizes of the sections' payloads. */
struct layout {
    size_t conf, ptab, wght, bnst, trst, optm, best;
};

static size_t bn_floats(const struct ns_net *net)
{
    size_t n = 0;
    for (int i = 0; i < net->n_nodes; i++)
        if (net->nodes[i].kind == NS_N_BN)
            n += 2 * (size_t)net->nodes[i].u.bn.c;
    return n;
}

/* The graph layer of every parameter (the layer of the node that owns it). */
static int param_layer(const struct ns_net *net, int p)
{
    for (int i = 0; i < net->n_nodes; i++) {
        const struct ns_node *nd = &net->nodes[i];
        if (nd->w == p || nd->b == p || (nd->kind == NS_N_WSCONV && nd->gain == p))
            return nd->out;
    }
    return 0;
}

static void write_body(struct wbuf *b, const struct ns_net *net, const char *conf)
{
    sec_begin(b, "CONF");
    memcpy(wput(b, strlen(conf)), conf, strlen(conf));
    sec_end(b);

    sec_begin(b, "PTAB");
    put32(b, (uint32_t)net->n_params);
    put32(b, 0);
    for (int i = 0; i < net->n_params; i++) {
        put32(b, (uint32_t)net->params[i].kind);
        put32(b, (uint32_t)param_layer(net, i));
        put64(b, (uint64_t)net->params[i].len);
    }
    sec_end(b);

    sec_begin(b, "WGHT");
    put64(b, net->n_weights);
    put_floats(b, net->w, net->n_weights);
    sec_end(b);

    sec_begin(b, "BNST");
    put64(b, bn_floats(net));
    for (int i = 0; i < net->n_nodes; i++) {
        const struct ns_node *nd = &net->nodes[i];
        if (nd->kind == NS_N_BN) /* running mean then running var, contiguous in bn_state */
            put_floats(b, net->bn_state + nd->bn_off, 2 * (size_t)nd->u.bn.c);
    }
    sec_end(b);
}

static void write_state(struct wbuf *b, const struct ns_net *net, const struct ns_ckpt_state *st)
{
    sec_begin(b, "TRST");
    put32(b, (uint32_t)st->epoch);
    put32(b, (uint32_t)st->optimizer);
    put64(b, st->recipe_hash);
    put64(b, (uint64_t)st->adam_steps);
    for (int i = 0; i < 3; i++) {
        put64(b, st->rng[i].state);
        put64(b, st->rng[i].inc);
    }
    sec_end(b);

    sec_begin(b, "OPTM");
    put64(b, net->n_weights);
    put_floats(b, net->mom, net->n_weights);
    if (st->optimizer == 1)
        put_floats(b, net->var, net->n_weights);
    sec_end(b);

    if (!isnan(st->best_test_err)) {
        sec_begin(b, "BEST");
        uint64_t u;
        memcpy(&u, &st->best_test_err, 8);
        put64(b, u);
        sec_end(b);
    }
}

/* Header and CRC around the sections. */
static void finish(struct wbuf *b, uint32_t flags)
{
    memcpy(b->p, magic, 8);
    le32(b->p + 8, NS_CKPT_VERSION);
    le32(b->p + 12, flags);
    le64(b->p + 16, b->n - HEADER);
    le32(b->p + 24, b->n_secs);
    le32(b->p + 28, 0);
    uint32_t crc = (uint32_t)crc32(0L, Z_NULL, 0);
    /* zlib's crc32 takes a uInt length: feed large buffers in pieces */
    for (size_t off = 0; off < b->n;) {
        size_t k = b->n - off > (1u << 30) ? (1u << 30) : b->n - off;
        crc = (uint32_t)crc32(crc, b->p + off, (uInt)k);
        off += k;
    }
    put32(b, crc);
}

static int save(const struct ns_net *net, const struct ns_ckpt_state *st, uint8_t **buf,
                size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (net->fused)
        return ns_err("cannot save a net fused for inference (its BNs are folded into convs)");
    if (st && st->optimizer == 1 && !net->var)
        return ns_err("cannot save AdamW's state: the net has no second moments");
    char *conf = ns_config_to_json(&net->cfg);
    if (!conf)
        return -1;
    size_t nw = net->n_weights, sz = HEADER + 4;
    sz += 16 + pad8(strlen(conf));
    sz += 16 + pad8(8 + 16 * (size_t)net->n_params);
    sz += 16 + pad8(8 + 4 * nw);
    sz += 16 + pad8(8 + 4 * bn_floats(net));
    if (st)
        sz += 16 + 72 + 16 + pad8(8 + 4 * nw * (st->optimizer == 1 ? 2 : 1)) + 16 + 8;
    struct wbuf b = {.p = malloc(sz), .cap = sz, .n = HEADER};
    if (!b.p) {
        free(conf);
        return ns_err("out of memory for a checkpoint of %zu bytes", sz);
    }
    write_body(&b, net, conf);
    free(conf);
    if (st)
        write_state(&b, net, st);
    finish(&b, st ? FLAG_STATE : 0);
    *buf = b.p;
    *len = b.n;
    return 0;
}

int ns_ckpt_save_weights(const struct ns_net *net, uint8_t **buf, size_t *len)
{
    return save(net, NULL, buf, len);
}

int ns_ckpt_save_full(const struct ns_net *net, const struct ns_ckpt_state *st, uint8_t **buf,
                      size_t *len)
{
    return save(net, st, buf, len);
}

/* ---- reader ----------------------------------------------------------------------------- */

struct section {
    const uint8_t *p; /* payload */
    uint64_t len;
};

struct parsed {
    uint32_t version, flags;
    struct section conf, ptab, wght, bnst, trst, optm, best;
};

/* The whole check of ns_ckpt_check, remembering where the known sections are. */
static int parse(const uint8_t *buf, size_t len, const char *what, struct parsed *ck)
{
    memset(ck, 0, sizeof *ck);
    if (!what)
        what = "checkpoint";
    size_t m = len < 8 ? len : 8;
    if (!buf || len == 0)
        return ns_err("%s: empty (not a netspace checkpoint)", what);
    if (memcmp(buf, magic, m) != 0)
        return ns_err("%s: not a netspace checkpoint (wrong magic bytes)", what);
    if (len < HEADER + 4)
        return ns_err("%s: truncated (%zu bytes, less than a checkpoint's header)", what, len);
    ck->version = rd32(buf + 8);
    if (ck->version > NS_CKPT_VERSION)
        return ns_err("%s: checkpoint format version %u is newer than this netspace reads (%d); "
                      "upgrade netspace",
                      what, ck->version, NS_CKPT_VERSION);
    if (ck->version < 1)
        return ns_err("%s: checkpoint format version 0 is not valid", what);
    uint64_t p = rd64(buf + 16);
    if (p > (uint64_t)(len - HEADER - 4))
        return ns_err("%s: truncated (%zu bytes, the header says %llu)", what, len,
                      (unsigned long long)(p > UINT64_MAX - 64 ? p : p + HEADER + 4));
    if (p < (uint64_t)(len - HEADER - 4))
        return ns_err("%s: %llu bytes after the end of the checkpoint (not a single checkpoint)",
                      what, (unsigned long long)(len - HEADER - 4 - p));
    uint32_t crc = (uint32_t)crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < len - 4;) {
        size_t k = len - 4 - off > (1u << 30) ? (1u << 30) : len - 4 - off;
        crc = (uint32_t)crc32(crc, buf + off, (uInt)k);
        off += k;
    }
    if (crc != rd32(buf + len - 4))
        return ns_err("%s: checksum mismatch (corrupt)", what);
    ck->flags = rd32(buf + 12);
    if (ck->flags & ~(uint32_t)FLAG_STATE)
        return ns_err("%s: unknown flags 0x%x in the header", what, ck->flags);
    uint32_t n_secs = rd32(buf + 24);
    const uint8_t *s = buf + HEADER, *end = buf + HEADER + p;
    for (uint32_t i = 0; i < n_secs; i++) {
        if (end - s < 16)
            return ns_err("%s: section %u overruns the section area", what, i + 1);
        uint64_t l = rd64(s + 8);
        if (l > (uint64_t)(end - s) - 16 || pad8(l) > (uint64_t)(end - s) - 16)
            return ns_err("%s: section %u ('%.4s', %llu bytes) overruns the section area", what,
                          i + 1, (const char *)s, (unsigned long long)l);
        struct section sec = {s + 16, l}, *slot = NULL;
        if (!memcmp(s, "CONF", 4))
            slot = &ck->conf;
        else if (!memcmp(s, "PTAB", 4))
            slot = &ck->ptab;
        else if (!memcmp(s, "WGHT", 4))
            slot = &ck->wght;
        else if (!memcmp(s, "BNST", 4))
            slot = &ck->bnst;
        else if (!memcmp(s, "TRST", 4))
            slot = &ck->trst;
        else if (!memcmp(s, "OPTM", 4))
            slot = &ck->optm;
        else if (!memcmp(s, "BEST", 4))
            slot = &ck->best;
        if (slot) /* unknown tags are skipped: written by a later netspace */
            *slot = sec;
        s += 16 + pad8(l);
    }
    if (s != end)
        return ns_err("%s: %zu bytes after the last section", what, (size_t)(end - s));
    const char *missing = !ck->conf.p   ? "CONF"
                          : !ck->ptab.p ? "PTAB"
                          : !ck->wght.p ? "WGHT"
                          : !ck->bnst.p ? "BNST"
                                        : NULL;
    if (!missing && (ck->flags & FLAG_STATE))
        missing = !ck->trst.p ? "TRST" : !ck->optm.p ? "OPTM" : NULL;
    if (missing)
        return ns_err("%s: the %s section is missing", what, missing);
    /* the sections' own lengths */
    if (ck->ptab.len < 8 || ck->ptab.len != 8 + 16 * (uint64_t)rd32(ck->ptab.p))
        return ns_err("%s: the PTAB section's length does not match its count", what);
    if (ck->wght.len < 8 || ck->wght.len != 8 + 4 * rd64(ck->wght.p) ||
        rd64(ck->wght.p) > ck->wght.len)
        return ns_err("%s: the WGHT section's length does not match its count", what);
    if (ck->bnst.len < 8 || ck->bnst.len != 8 + 4 * rd64(ck->bnst.p) ||
        rd64(ck->bnst.p) > ck->bnst.len)
        return ns_err("%s: the BNST section's length does not match its count", what);
    uint64_t sum = 0, np = rd32(ck->ptab.p);
    for (uint64_t i = 0; i < np; i++) {
        uint64_t l = rd64(ck->ptab.p + 8 + 16 * i + 8);
        if (l > ck->wght.len)
            return ns_err("%s: parameter %llu's length overruns the weights", what,
                          (unsigned long long)i);
        sum += l;
    }
    if (sum != rd64(ck->wght.p))
        return ns_err("%s: the parameter table counts %llu floats, WGHT holds %llu", what,
                      (unsigned long long)sum, (unsigned long long)rd64(ck->wght.p));
    if (memchr(ck->conf.p, 0, ck->conf.len))
        return ns_err("%s: the CONF section contains a NUL byte", what);
    if (ck->flags & FLAG_STATE) {
        if (ck->trst.len != 72)
            return ns_err("%s: the TRST section has %llu bytes, not 72", what,
                          (unsigned long long)ck->trst.len);
        uint32_t opt = rd32(ck->trst.p + 4);
        if (opt > 1)
            return ns_err("%s: unknown optimizer %u in TRST", what, opt);
        uint64_t n = ck->optm.len >= 8 ? rd64(ck->optm.p) : 0;
        if (ck->optm.len < 8 || n != rd64(ck->wght.p) ||
            ck->optm.len != 8 + 4 * n * (opt == 1 ? 2 : 1))
            return ns_err("%s: the OPTM section does not match the weights and the optimizer",
                          what);
        if (ck->best.p && ck->best.len != 8)
            return ns_err("%s: the BEST section has %llu bytes, not 8", what,
                          (unsigned long long)ck->best.len);
    }
    return 0;
}

int ns_ckpt_check(const uint8_t *buf, size_t len, const char *what)
{
    struct parsed ck;
    return parse(buf, len, what, &ck);
}

int ns_ckpt_info(const uint8_t *buf, size_t len, const char *what, struct ns_ckpt_info *info)
{
    struct parsed ck;
    memset(info, 0, sizeof *info);
    if (parse(buf, len, what, &ck))
        return -1;
    if (ck.conf.len >= sizeof info->config_json)
        return ns_err("%s: the config JSON has %llu bytes, more than %zu", what ? what : "checkpoint",
                      (unsigned long long)ck.conf.len, sizeof info->config_json - 1);
    info->version = (int)ck.version;
    info->has_state = (ck.flags & FLAG_STATE) != 0;
    info->n_weights = (long long)rd64(ck.wght.p);
    memcpy(info->config_json, ck.conf.p, ck.conf.len);
    info->config_json[ck.conf.len] = 0;
    if (info->has_state) {
        info->epoch = (int)rd32(ck.trst.p);
        info->recipe_hash = rd64(ck.trst.p + 8);
    }
    return 0;
}

static void get_floats(float *dst, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = u2f(rd32(p + 4 * i));
}

/* The config and the parameter table must be the net's. */
static int match_net(const struct ns_net *net, const struct parsed *ck, const char *what)
{
    if (net->fused)
        return ns_err("%s: cannot load into a net fused for inference", what);
    char *conf = ns_config_to_json(&net->cfg);
    if (!conf)
        return -1;
    int same = strlen(conf) == ck->conf.len && !memcmp(conf, ck->conf.p, ck->conf.len);
    if (!same) {
        char want[17], have[17], *stored = malloc(ck->conf.len + 1);
        ns_config_hash_json(conf, want);
        if (stored) {
            memcpy(stored, ck->conf.p, ck->conf.len);
            stored[ck->conf.len] = 0;
            ns_config_hash_json(stored, have);
            free(stored);
        } else {
            strcpy(have, "?");
        }
        free(conf);
        return ns_err("%s: a checkpoint of another model (config %s, this model is %s)", what,
                      have, want);
    }
    free(conf);
    uint32_t np = rd32(ck->ptab.p);
    if (np != (uint32_t)net->n_params)
        return ns_err("%s: %u parameter tensors, the model has %d", what, np, net->n_params);
    for (int i = 0; i < net->n_params; i++) {
        const uint8_t *e = ck->ptab.p + 8 + 16 * (size_t)i;
        if (rd32(e) != (uint32_t)net->params[i].kind || rd32(e + 4) != (uint32_t)param_layer(net, i) ||
            rd64(e + 8) != net->params[i].len)
            return ns_err("%s: parameter %d (kind %u, layer %u, %llu floats) is not the model's "
                          "(kind %d, layer %d, %zu floats)",
                          what, i, rd32(e), rd32(e + 4), (unsigned long long)rd64(e + 8),
                          (int)net->params[i].kind, param_layer(net, i), net->params[i].len);
    }
    if (rd64(ck->bnst.p) != bn_floats(net))
        return ns_err("%s: %llu BN statistics, the model has %zu", what,
                      (unsigned long long)rd64(ck->bnst.p), bn_floats(net));
    return 0;
}

static void load_body(struct ns_net *net, const struct parsed *ck)
{
    get_floats(net->w, ck->wght.p + 8, net->n_weights);
    const uint8_t *p = ck->bnst.p + 8;
    for (int i = 0; i < net->n_nodes; i++) {
        const struct ns_node *nd = &net->nodes[i];
        if (nd->kind == NS_N_BN) {
            get_floats(net->bn_state + nd->bn_off, p, 2 * (size_t)nd->u.bn.c);
            p += 8 * (size_t)nd->u.bn.c;
        }
    }
}

int ns_ckpt_load_weights(struct ns_net *net, const uint8_t *buf, size_t len, const char *what)
{
    struct parsed ck;
    if (!what)
        what = "checkpoint";
    if (parse(buf, len, what, &ck) || match_net(net, &ck, what))
        return -1;
    load_body(net, &ck);
    return 0;
}

int ns_ckpt_load_full(struct ns_net *net, const uint8_t *buf, size_t len, const char *what,
                      struct ns_ckpt_state *st)
{
    struct parsed ck;
    if (!what)
        what = "checkpoint";
    if (parse(buf, len, what, &ck))
        return -1;
    if (!(ck.flags & FLAG_STATE))
        return ns_err("%s: a weights-only checkpoint has no training state to resume from "
                      "(start from its weights instead)",
                      what);
    if (match_net(net, &ck, what))
        return -1;
    memset(st, 0, sizeof *st);
    st->epoch = (int)rd32(ck.trst.p);
    st->optimizer = (int)rd32(ck.trst.p + 4);
    st->recipe_hash = rd64(ck.trst.p + 8);
    st->adam_steps = (int64_t)rd64(ck.trst.p + 16);
    for (int i = 0; i < 3; i++) {
        st->rng[i].state = rd64(ck.trst.p + 24 + 16 * i);
        st->rng[i].inc = rd64(ck.trst.p + 32 + 16 * i);
    }
    st->best_test_err = NAN;
    if (ck.best.p) {
        uint64_t u = rd64(ck.best.p);
        memcpy(&st->best_test_err, &u, 8);
    }
    if (st->optimizer == 1 && !net->var)
        return ns_err("%s: an AdamW checkpoint, but the net is not set up for AdamW", what);
    load_body(net, &ck);
    get_floats(net->mom, ck.optm.p + 8, net->n_weights);
    if (st->optimizer == 1)
        get_floats(net->var, ck.optm.p + 8 + 4 * net->n_weights, net->n_weights);
    net->adam_steps = (long)st->adam_steps;
    return 0;
}

int ns_ckpt_strip(const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len)
{
    struct parsed ck;
    *out = NULL;
    *out_len = 0;
    if (parse(buf, len, "checkpoint", &ck))
        return -1;
    size_t sz = HEADER + 4;
    const struct section *keep[4] = {&ck.conf, &ck.ptab, &ck.wght, &ck.bnst};
    static const char tags[4][5] = {"CONF", "PTAB", "WGHT", "BNST"};
    for (int i = 0; i < 4; i++)
        sz += 16 + pad8(keep[i]->len);
    struct wbuf b = {.p = malloc(sz), .cap = sz, .n = HEADER};
    if (!b.p)
        return ns_err("out of memory for a checkpoint of %zu bytes", sz);
    for (int i = 0; i < 4; i++) {
        sec_begin(&b, tags[i]);
        memcpy(wput(&b, keep[i]->len), keep[i]->p, keep[i]->len);
        sec_end(&b);
    }
    finish(&b, 0);
    *out = b.p;
    *out_len = b.n;
    return 0;
}

/* ---- files ------------------------------------------------------------------------------ */

int ns_ckpt_write_file(const char *path, const uint8_t *buf, size_t len)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 5);
    if (!tmp)
        return ns_err("%s: out of memory", path);
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        ns_err("%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            ns_err("%s: write failed: %s", tmp, w < 0 ? strerror(errno) : "no progress");
            goto fail;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        ns_err("%s: fsync failed: %s", tmp, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        ns_err("%s: close failed: %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        ns_err("%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
        goto fail;
    }
    free(tmp);
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return -1;
}

int ns_ckpt_read_file(const char *path, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ns_err("%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return ns_err("%s: not a regular file", path);
    }
    size_t n = (size_t)sb.st_size;
    uint8_t *p = malloc(n ? n : 1);
    if (!p) {
        fclose(f);
        return ns_err("%s: out of memory for %zu bytes", path, n);
    }
    size_t got = fread(p, 1, n, f);
    int bad = ferror(f) || got != n;
    fclose(f);
    if (bad) {
        free(p);
        return ns_err("%s: read failed", path);
    }
    if (ns_ckpt_check(p, n, path)) {
        free(p);
        return -1;
    }
    *buf = p;
    *len = n;
    return 0;
}
