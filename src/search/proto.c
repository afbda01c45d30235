/* The coordinator-worker messages as bytes: little-endian fixed-width numbers and
 * length-prefixed strings, so that a message means the same on every node of a cluster and
 * a malformed one is detected instead of read past its end. */
#include "search/search.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define MAX_STR (64u << 20)
/* A checkpoint: an MPI message counts its bytes in an int, so a blob and the rest of its
 * message (1 MiB covers ASSIGN's config and numbers) must stay under INT_MAX bytes. */
#define MAX_BLOB ((size_t)INT_MAX - (1u << 20))

/* ---------------------------------------------------------------- packing --------------- */

static void put(struct ns_msgbuf *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_u64(struct ns_msgbuf *b, uint64_t v)
{
    unsigned char x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    put(b, x, 8);
}

static void put_u32(struct ns_msgbuf *b, uint32_t v)
{
    unsigned char x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    put(b, x, 4);
}

static void put_i32(struct ns_msgbuf *b, int v)
{
    put_u32(b, (uint32_t)v);
}

static void put_f64(struct ns_msgbuf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    put_u64(b, u);
}

static void put_blob(struct ns_msgbuf *b, const uint8_t *p, size_t n)
{
    put_u64(b, (uint64_t)n);
    if (n)
        put(b, p, n);
}

static void put_str(struct ns_msgbuf *b, const char *s)
{
    size_t n = strlen(s);
    put_u32(b, (uint32_t)n);
    put(b, s, n);
}

static int finish(struct ns_msgbuf *b)
{
    return b->oom ? ns_err("message: out of memory") : 0;
}

void ns_msgbuf_free(struct ns_msgbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

int ns_msg_pack_str(struct ns_msgbuf *b, const char *s)
{
    b->len = 0;
    put_str(b, s);
    return finish(b);
}

int ns_msg_pack_ready(struct ns_msgbuf *b, const struct ns_msg_ready *m)
{
    b->len = 0;
    put_str(b, m->host);
    put_i32(b, m->threads);
    put_str(b, m->data_fp);
    put_i32(b, m->data_skipped);
    return finish(b);
}

/* A checkpoint too big for one message: an error naming it, not a wrapped int count. */
static int blob_too_big(const char *msg, int trial, size_t n)
{
    return ns_err("%s: trial %d's checkpoint is %zu bytes; a message carries at most %zu", msg,
                  trial, n, MAX_BLOB);
}

int ns_msg_pack_assign(struct ns_msgbuf *b, const struct ns_msg_assign *m)
{
    b->len = 0;
    if (m->ckpt_len > MAX_BLOB)
        return blob_too_big("ASSIGN", m->trial, m->ckpt_len);
    put_i32(b, m->trial);
    put_u64(b, m->seed);
    put_str(b, m->config);
    put_i32(b, m->rung);
    put_i32(b, m->from);
    put_i32(b, m->to);
    put_i32(b, m->ckpt_last);
    put_blob(b, m->ckpt, m->ckpt_len);
    return finish(b);
}

int ns_msg_pack_ckpt(struct ns_msgbuf *b, const struct ns_msg_ckpt *m)
{
    b->len = 0;
    if (m->len > MAX_BLOB)
        return blob_too_big("CKPT", m->trial, m->len);
    put_i32(b, m->trial);
    put_i32(b, m->epoch);
    put_blob(b, m->buf, m->len);
    return finish(b);
}

static void put_metrics(struct ns_msgbuf *b, const struct ns_epoch_metrics *m)
{
    put_i32(b, m->epoch);
    put_f64(b, m->train_loss);
    put_f64(b, m->train_err);
    put_f64(b, m->test_err);
    put_f64(b, m->seconds);
    put_f64(b, m->img_per_s);
}

int ns_msg_pack_epoch(struct ns_msgbuf *b, const struct ns_msg_epoch *m)
{
    b->len = 0;
    put_i32(b, m->trial);
    put_metrics(b, &m->m);
    return finish(b);
}

int ns_msg_pack_result(struct ns_msgbuf *b, const struct ns_msg_result *m)
{
    const struct ns_train_result *r = &m->r;
    b->len = 0;
    put_i32(b, m->trial);
    put_i32(b, (int)r->status);
    put_str(b, r->reason);
    put_i32(b, r->epochs_done);
    put_f64(b, r->train_loss);
    put_f64(b, r->train_err);
    put_f64(b, r->test_err);
    put_f64(b, r->best_test_err);
    put_f64(b, r->seconds);
    put_f64(b, r->img_per_s);
    put_u64(b, (uint64_t)r->params);
    put_f64(b, m->wait_s);
    return finish(b);
}

/* ---------------------------------------------------------------- unpacking ------------- */

struct reader {
    const unsigned char *p;
    size_t n, pos;
    int bad;
};

static const unsigned char *take(struct reader *r, size_t n)
{
    if (r->bad || n > r->n - r->pos) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *p = r->p + r->pos;
    r->pos += n;
    return p;
}

/* n little-endian bytes as an unsigned integer (0 once the reader has gone bad). */
static uint64_t get_le(struct reader *r, size_t n)
{
    const unsigned char *x = take(r, n);
    uint64_t v = 0;
    for (size_t i = 0; x && i < n; i++)
        v |= (uint64_t)x[i] << (8 * i);
    return v;
}

static uint64_t get_u64(struct reader *r) { return get_le(r, 8); }
static uint32_t get_u32(struct reader *r) { return (uint32_t)get_le(r, 4); }

static int get_i32(struct reader *r)
{
    return (int)get_u32(r);
}

static double get_f64(struct reader *r)
{
    uint64_t u = get_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

/* A string into a fixed buffer of `cap` bytes: too long or holding a NUL is malformed. */
static void get_str_into(struct reader *r, char *out, size_t cap)
{
    uint32_t n = get_u32(r);
    if (n >= cap) {
        r->bad = 1;
        n = 0;
    }
    const unsigned char *s = take(r, n);
    if (!s || memchr(s, 0, n)) {
        r->bad = 1;
        out[0] = 0;
        return;
    }
    memcpy(out, s, n);
    out[n] = 0;
}

static int done(struct reader *r, const char *what)
{
    if (r->bad || r->pos != r->n)
        return ns_err("malformed %s message (%zu bytes)", what, r->n);
    return 0;
}

int ns_msg_unpack_str(const void *p, size_t n, char **out)
{
    struct reader r = {p, n, 0, 0};
    *out = NULL;
    uint32_t len = get_u32(&r);
    if (len > MAX_STR)
        r.bad = 1;
    const unsigned char *s = r.bad ? NULL : take(&r, len);
    if (done(&r, "text") < 0)
        return -1;
    if (memchr(s, 0, len))
        return ns_err("malformed text message (NUL inside)");
    *out = malloc((size_t)len + 1);
    if (!*out)
        return ns_err("message: out of memory");
    memcpy(*out, s, len);
    (*out)[len] = 0;
    return 0;
}

int ns_msg_unpack_ready(const void *p, size_t n, struct ns_msg_ready *m)
{
    struct reader r = {p, n, 0, 0};
    get_str_into(&r, m->host, sizeof m->host);
    m->threads = get_i32(&r);
    get_str_into(&r, m->data_fp, sizeof m->data_fp);
    m->data_skipped = get_i32(&r);
    return done(&r, "READY");
}

/* A length-prefixed blob, in place (NULL when empty or bad). */
static const uint8_t *get_blob(struct reader *r, size_t *len)
{
    uint64_t n = get_u64(r);
    if (n > MAX_BLOB)
        r->bad = 1;
    *len = r->bad ? 0 : (size_t)n;
    return r->bad || n == 0 ? NULL : take(r, (size_t)n);
}

int ns_msg_unpack_assign(const void *p, size_t n, struct ns_msg_assign *m)
{
    struct reader r = {p, n, 0, 0};
    m->ckpt = NULL;
    m->ckpt_len = 0;
    m->trial = get_i32(&r);
    m->seed = get_u64(&r);
    get_str_into(&r, m->config, sizeof m->config);
    m->rung = get_i32(&r);
    m->from = get_i32(&r);
    m->to = get_i32(&r);
    m->ckpt_last = get_i32(&r);
    size_t len = 0;
    const uint8_t *ck = get_blob(&r, &len);
    if (m->trial < 0 || m->rung < -1 || m->from < 0 || m->to < 0 ||
        (m->to > 0 && m->from >= m->to) || (m->from > 0) != (len > 0))
        r.bad = 1;
    if (done(&r, "ASSIGN") < 0)
        return -1;
    if (len) {
        m->ckpt = malloc(len);
        if (!m->ckpt)
            return ns_err("ASSIGN: out of memory for a checkpoint of %zu bytes", len);
        memcpy(m->ckpt, ck, len);
        m->ckpt_len = len;
    }
    return 0;
}

void ns_msg_assign_free(struct ns_msg_assign *m)
{
    free(m->ckpt);
    m->ckpt = NULL;
    m->ckpt_len = 0;
}

int ns_msg_unpack_ckpt(const void *p, size_t n, struct ns_msg_ckpt *m)
{
    struct reader r = {p, n, 0, 0};
    m->trial = get_i32(&r);
    m->epoch = get_i32(&r);
    m->buf = get_blob(&r, &m->len);
    if (m->trial < 0 || m->epoch < 1 || m->len == 0)
        r.bad = 1;
    return done(&r, "CKPT");
}

static void get_metrics(struct reader *r, struct ns_epoch_metrics *m)
{
    m->epoch = get_i32(r);
    m->train_loss = get_f64(r);
    m->train_err = get_f64(r);
    m->test_err = get_f64(r);
    m->seconds = get_f64(r);
    m->img_per_s = get_f64(r);
}

int ns_msg_unpack_epoch(const void *p, size_t n, struct ns_msg_epoch *m)
{
    struct reader r = {p, n, 0, 0};
    m->trial = get_i32(&r);
    get_metrics(&r, &m->m);
    if (m->trial < 0 || m->m.epoch < 1)
        r.bad = 1;
    return done(&r, "EPOCH");
}

int ns_msg_unpack_result(const void *p, size_t n, struct ns_msg_result *m)
{
    struct reader r = {p, n, 0, 0};
    struct ns_train_result *t = &m->r;
    m->trial = get_i32(&r);
    int status = get_i32(&r);
    get_str_into(&r, t->reason, sizeof t->reason);
    t->epochs_done = get_i32(&r);
    t->train_loss = get_f64(&r);
    t->train_err = get_f64(&r);
    t->test_err = get_f64(&r);
    t->best_test_err = get_f64(&r);
    t->seconds = get_f64(&r);
    t->img_per_s = get_f64(&r);
    t->params = (long long)get_u64(&r);
    m->wait_s = get_f64(&r);
    if (m->trial < 0 || status < NS_TRAIN_OK || status > NS_TRAIN_ERROR)
        r.bad = 1;
    t->status = (enum ns_train_status)status;
    return done(&r, "RESULT");
}
