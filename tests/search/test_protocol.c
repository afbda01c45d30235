/* The coordinator-worker messages: each kind survives a round trip bit for bit, and a
 * truncated, overlong or malformed message is refused without reading past its end. */
/* cmocka.h needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/search.h"
#include "util/err.h"

static struct ns_msg_result sample_result(void)
{
    struct ns_msg_result m;
    memset(&m, 0, sizeof m);
    m.trial = 41;
    m.r.status = NS_TRAIN_DIVERGED;
    snprintf(m.r.reason, sizeof m.r.reason, "loss nan at epoch 2 step 31");
    m.r.epochs_done = 2;
    m.r.train_loss = NAN;
    m.r.train_err = 12.5;
    m.r.test_err = 90.0;
    m.r.best_test_err = 11.25;
    m.r.seconds = 3.75;
    m.r.img_per_s = 1234.5;
    m.r.params = 203834;
    m.wait_s = 0.000125;
    return m;
}

/* Every proper prefix and one byte more must be refused. `unpack` wraps one unpacker. */
static void refuses_wrong_lengths(const struct ns_msgbuf *b,
                                  int (*unpack)(const void *, size_t, void *), void *out)
{
    unsigned char *copy = malloc(b->len + 1);
    assert_non_null(copy);
    memcpy(copy, b->p, b->len);
    copy[b->len] = 0;
    for (size_t n = 0; n < b->len; n++) {
        /* each prefix in its own exact-size allocation, so ASan sees any over-read */
        unsigned char *pre = malloc(n ? n : 1);
        memcpy(pre, copy, n);
        assert_int_equal(unpack(pre, n, out), -1);
        free(pre);
    }
    assert_int_equal(unpack(copy, b->len + 1, out), -1);
    assert_non_null(strstr(ns_errmsg(), "malformed"));
    free(copy);
}

static int un_result(const void *p, size_t n, void *o)
{
    return ns_msg_unpack_result(p, n, o);
}
static int un_assign(const void *p, size_t n, void *o)
{
    return ns_msg_unpack_assign(p, n, o);
}
static int un_ckpt(const void *p, size_t n, void *o)
{
    return ns_msg_unpack_ckpt(p, n, o);
}
static int un_epoch(const void *p, size_t n, void *o)
{
    return ns_msg_unpack_epoch(p, n, o);
}
static int un_ready(const void *p, size_t n, void *o)
{
    return ns_msg_unpack_ready(p, n, o);
}

static void result_round_trips(void **state)
{
    (void)state;
    struct ns_msg_result m = sample_result(), back;
    struct ns_msgbuf b = {0};
    assert_int_equal(ns_msg_pack_result(&b, &m), 0);
    memset(&back, 0xa5, sizeof back);
    assert_int_equal(ns_msg_unpack_result(b.p, b.len, &back), 0);
    assert_int_equal(back.trial, 41);
    assert_int_equal(back.r.status, NS_TRAIN_DIVERGED);
    assert_string_equal(back.r.reason, m.r.reason);
    assert_int_equal(back.r.epochs_done, 2);
    assert_true(isnan(back.r.train_loss));
    assert_true(back.r.train_err == 12.5 && back.r.test_err == 90.0);
    assert_true(back.r.best_test_err == 11.25 && back.r.seconds == 3.75);
    assert_true(back.r.img_per_s == 1234.5 && back.wait_s == 0.000125);
    assert_int_equal(back.r.params, 203834);
    refuses_wrong_lengths(&b, un_result, &back);
    ns_msgbuf_free(&b);
}

static void assign_round_trips_with_a_long_config(void **state)
{
    (void)state;
    struct ns_msg_assign m = {.trial = 7, .seed = 0xfedcba9876543210ull}, back;
    memset(m.config, 'x', sizeof m.config - 1);
    m.config[sizeof m.config - 1] = 0;
    struct ns_msgbuf b = {0};
    assert_int_equal(ns_msg_pack_assign(&b, &m), 0);
    assert_int_equal(b.len, 4 + 8 + 4 + sizeof m.config - 1 + 4 * 4 + 8);
    assert_int_equal(ns_msg_unpack_assign(b.p, b.len, &back), 0);
    assert_int_equal(back.trial, 7);
    assert_true(back.seed == 0xfedcba9876543210ull);
    assert_string_equal(back.config, m.config);
    assert_int_equal(back.from, 0);
    assert_null(back.ckpt);
    refuses_wrong_lengths(&b, un_assign, &back);
    ns_msgbuf_free(&b);
}

/* A job that continues a trial carries its checkpoint; CKPT carries one back. */
static void assign_and_ckpt_carry_checkpoints(void **state)
{
    (void)state;
    uint8_t blob[300];
    for (int i = 0; i < 300; i++)
        blob[i] = (uint8_t)(i * 7);
    struct ns_msg_assign m = {.trial = 2, .seed = 9, .config = "{}", .rung = 1, .from = 3,
                              .to = 9, .ckpt_last = 1, .ckpt = blob, .ckpt_len = sizeof blob},
                         back;
    struct ns_msgbuf b = {0};
    assert_int_equal(ns_msg_pack_assign(&b, &m), 0);
    assert_int_equal(ns_msg_unpack_assign(b.p, b.len, &back), 0);
    assert_int_equal(back.rung, 1);
    assert_int_equal(back.from, 3);
    assert_int_equal(back.to, 9);
    assert_int_equal(back.ckpt_last, 1);
    assert_int_equal(back.ckpt_len, sizeof blob);
    assert_memory_equal(back.ckpt, blob, sizeof blob);
    ns_msg_assign_free(&back);
    refuses_wrong_lengths(&b, un_assign, &back);
    /* continuing without a checkpoint, or from past the end, is malformed */
    m.ckpt_len = 0;
    assert_int_equal(ns_msg_pack_assign(&b, &m), 0);
    assert_int_equal(ns_msg_unpack_assign(b.p, b.len, &back), -1);
    m.ckpt_len = sizeof blob;
    m.from = 9;
    assert_int_equal(ns_msg_pack_assign(&b, &m), 0);
    assert_int_equal(ns_msg_unpack_assign(b.p, b.len, &back), -1);

    struct ns_msg_ckpt c = {.trial = 5, .epoch = 3, .buf = blob, .len = sizeof blob}, cb;
    assert_int_equal(ns_msg_pack_ckpt(&b, &c), 0);
    assert_int_equal(ns_msg_unpack_ckpt(b.p, b.len, &cb), 0);
    assert_int_equal(cb.trial, 5);
    assert_int_equal(cb.epoch, 3);
    assert_int_equal(cb.len, sizeof blob);
    assert_memory_equal(cb.buf, blob, sizeof blob);
    refuses_wrong_lengths(&b, un_ckpt, &cb);
    c.len = 0;
    assert_int_equal(ns_msg_pack_ckpt(&b, &c), 0);
    assert_int_equal(ns_msg_unpack_ckpt(b.p, b.len, &cb), -1);
    /* a checkpoint too big for an MPI message (its count is an int) is refused by name
     * before a byte is read, not sent with a wrapped length */
    c.len = (size_t)INT_MAX;
    assert_int_equal(ns_msg_pack_ckpt(&b, &c), -1);
    assert_non_null(strstr(ns_errmsg(), "trial 5's checkpoint"));
    m.ckpt_len = (size_t)1 << 32;
    assert_int_equal(ns_msg_pack_assign(&b, &m), -1);
    assert_non_null(strstr(ns_errmsg(), "trial 2's checkpoint"));
    ns_msgbuf_free(&b);
}

static void epoch_and_ready_round_trip(void **state)
{
    (void)state;
    struct ns_msg_epoch e = {.trial = 3, .m = {2, 0.5, 10.0, 12.0, 1.5, 900.0}}, eb;
    struct ns_msgbuf b = {0};
    assert_int_equal(ns_msg_pack_epoch(&b, &e), 0);
    assert_int_equal(ns_msg_unpack_epoch(b.p, b.len, &eb), 0);
    assert_int_equal(eb.trial, 3);
    assert_int_equal(eb.m.epoch, 2);
    assert_true(eb.m.train_loss == 0.5 && eb.m.test_err == 12.0 && eb.m.img_per_s == 900.0);
    refuses_wrong_lengths(&b, un_epoch, &eb);

    struct ns_msg_ready r = {.host = "node-17", .threads = 4, .data_skipped = 3}, rb;
    assert_int_equal(ns_msg_pack_ready(&b, &r), 0);
    assert_int_equal(ns_msg_unpack_ready(b.p, b.len, &rb), 0);
    assert_string_equal(rb.host, "node-17");
    assert_int_equal(rb.threads, 4);
    assert_int_equal(rb.data_skipped, 3);
    refuses_wrong_lengths(&b, un_ready, &rb);

    char *s = NULL;
    assert_int_equal(ns_msg_pack_str(&b, "{\"name\":\"x\"}"), 0);
    assert_int_equal(ns_msg_unpack_str(b.p, b.len, &s), 0);
    assert_string_equal(s, "{\"name\":\"x\"}");
    free(s);
    assert_int_equal(ns_msg_unpack_str(b.p, b.len - 1, &s), -1);
    assert_null(s);
    ns_msgbuf_free(&b);
}

static void malformed_fields_are_refused(void **state)
{
    (void)state;
    struct ns_msgbuf b = {0};
    struct ns_msg_result m = sample_result(), back;
    /* a status outside the enum */
    m.r.status = (enum ns_train_status)9;
    assert_int_equal(ns_msg_pack_result(&b, &m), 0);
    assert_int_equal(ns_msg_unpack_result(b.p, b.len, &back), -1);
    /* a negative trial */
    m = sample_result();
    m.trial = -1;
    assert_int_equal(ns_msg_pack_result(&b, &m), 0);
    assert_int_equal(ns_msg_unpack_result(b.p, b.len, &back), -1);
    /* a host name longer than the receiver's buffer: packed by hand */
    unsigned char raw[4 + 100 + 4];
    raw[0] = 100, raw[1] = raw[2] = raw[3] = 0;
    memset(raw + 4, 'h', 100);
    memset(raw + 104, 0, 4);
    struct ns_msg_ready r;
    assert_int_equal(ns_msg_unpack_ready(raw, sizeof raw, &r), -1);
    /* a NUL inside a string */
    raw[0] = 4;
    raw[6] = 0;
    assert_int_equal(ns_msg_unpack_ready(raw, 4 + 4 + 4, &r), -1);
    /* a string length beyond the message */
    raw[0] = 0xff, raw[1] = 0xff, raw[2] = 0xff, raw[3] = 0x7f;
    char *s = NULL;
    assert_int_equal(ns_msg_unpack_str(raw, sizeof raw, &s), -1);
    ns_msgbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(result_round_trips),
        cmocka_unit_test(assign_round_trips_with_a_long_config),
        cmocka_unit_test(assign_and_ckpt_carry_checkpoints),
        cmocka_unit_test(epoch_and_ready_round_trip),
        cmocka_unit_test(malformed_fields_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
