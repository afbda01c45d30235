/* Checkpoints (nn/checkpoint.h) and ns_train's checkpoint options: a save/load round trip
 * restores every weight and BN statistic; damaged, truncated, foreign and newer files are
 * rejected with a message that says so; the bytes are the committed fixture's on every host
 * (little-endian, explicit); a run interrupted after an epoch and resumed from its
 * checkpoint gives the uninterrupted run's bits (SGD and AdamW, with every source of
 * randomness); stop_after then resume equals the full run; init starts from weights. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* needs the headers above: a block of its own, so sorting keeps it here */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "data/data.h"
#include "nn/checkpoint.h"
#include "nn/net.h"
#include "nn/pool.h"
#include "nn/train.h"
#include "util/err.h"

#ifndef NS_FIXTURES
#define NS_FIXTURES "tests/fixtures"
#endif

static struct ns_pool *pool1;

/* A small Y net (SE included) for 1x12x12 images with 4 classes. */
static struct ns_config tiny(void)
{
    struct ns_config c = {.in_ch = 1,
                          .im_size = 12,
                          .classes = 4,
                          .stem = NS_STEM_CIFAR,
                          .stem_w = 8,
                          .block = NS_BLOCK_Y,
                          .se_r = 0.25,
                          .n_stages = 2};
    c.stages[0] = (struct ns_stage){1, 16, 2, 8, 1.0, 0};
    c.stages[1] = (struct ns_stage){1, 16, 2, 8, 1.0, 0};
    return c;
}

static struct ns_net *build(const struct ns_config *c, uint64_t seed)
{
    struct ns_net *net = ns_net_build(c, 4, 0, 0, pool1);
    assert_non_null(net);
    ns_net_init(net, seed);
    return net;
}

static void expect_err(int rc, const char *must_mention)
{
    assert_int_equal(rc, -1);
    if (!strstr(ns_errmsg(), must_mention))
        fail_msg("error \"%s\" does not mention \"%s\"", ns_errmsg(), must_mention);
}

/* Rewrite a buffer's CRC after editing it (to reach the checks behind the CRC). */
static void fix_crc(uint8_t *b, size_t len)
{
    uint32_t crc = (uint32_t)crc32(0L, b, (uInt)(len - 4));
    for (int i = 0; i < 4; i++)
        b[len - 4 + i] = (uint8_t)(crc >> (8 * i));
}

static void weights_round_trip(void **state)
{
    (void)state;
    struct ns_config c = tiny();
    struct ns_net *a = build(&c, 1), *b = build(&c, 2);
    for (size_t i = 0; i < a->bn_state_len; i++) /* non-trivial running statistics */
        a->bn_state[i] = (float)i * 0.5f + 0.25f;
    uint8_t *buf;
    size_t len;
    assert_int_equal(ns_ckpt_save_weights(a, &buf, &len), 0);
    assert_int_equal(ns_ckpt_check(buf, len, "x"), 0);
    struct ns_ckpt_info info;
    assert_int_equal(ns_ckpt_info(buf, len, "x", &info), 0);
    assert_int_equal(info.version, 1);
    assert_int_equal(info.has_state, 0);
    assert_int_equal(info.n_weights, (long long)a->n_weights);
    char *json = ns_config_to_json(&c);
    assert_string_equal(info.config_json, json);
    free(json);
    assert_true(memcmp(a->w, b->w, 4 * a->n_weights) != 0);
    assert_int_equal(ns_ckpt_load_weights(b, buf, len, "x"), 0);
    assert_memory_equal(a->w, b->w, 4 * a->n_weights);
    for (int i = 0; i < a->n_nodes; i++)
        if (a->nodes[i].kind == NS_N_BN)
            assert_memory_equal(a->bn_state + a->nodes[i].bn_off, b->bn_state + b->nodes[i].bn_off,
                                8 * (size_t)a->nodes[i].u.bn.c);

    /* a full checkpoint carries the optimizer state; strip() leaves the weights-only one */
    for (size_t i = 0; i < a->n_weights; i++)
        a->mom[i] = (float)i;
    struct ns_ckpt_state st = {
        .epoch = 3, .recipe_hash = 0x1234567890abcdefULL, .adam_steps = 0, .best_test_err = 12.5};
    ns_pcg32_seed(&st.rng[0], 1, 2);
    ns_pcg32_seed(&st.rng[1], 3, 4);
    ns_pcg32_seed(&st.rng[2], 5, 6);
    uint8_t *full, *stripped;
    size_t flen, slen;
    assert_int_equal(ns_ckpt_save_full(a, &st, &full, &flen), 0);
    assert_int_equal(ns_ckpt_info(full, flen, "x", &info), 0);
    assert_int_equal(info.has_state, 1);
    assert_int_equal(info.epoch, 3);
    assert_true(info.recipe_hash == 0x1234567890abcdefULL);
    struct ns_ckpt_state back;
    assert_int_equal(ns_ckpt_load_full(b, full, flen, "x", &back), 0);
    assert_memory_equal(a->mom, b->mom, 4 * a->n_weights);
    assert_int_equal(back.epoch, 3);
    assert_memory_equal(back.rng, st.rng, sizeof st.rng);
    assert_true(back.best_test_err == 12.5);
    assert_int_equal(ns_ckpt_strip(full, flen, &stripped, &slen), 0);
    assert_int_equal(slen, len);
    assert_memory_equal(stripped, buf, len);
    /* a weights-only checkpoint cannot be resumed from */
    expect_err(ns_ckpt_load_full(b, buf, len, "w.ckpt", &back), "weights-only");

    /* files: atomic write (over a temp file a killed writer of the same pid left, never
     * through a symlink), checked read */
    const char *path = "test_checkpoint_tmp.ckpt";
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    remove(tmp);
    assert_int_equal(symlink("test_checkpoint_victim", tmp), 0);
    assert_int_equal(ns_ckpt_write_file(path, full, flen), 0);
    assert_int_equal(access(tmp, F_OK), -1);                      /* renamed, none left */
    assert_int_equal(access("test_checkpoint_victim", F_OK), -1); /* not written through */
    expect_err(ns_ckpt_write_file("no_such_dir/x.ckpt", full, flen), "no_such_dir/x.ckpt.tmp.");
    uint8_t *rd;
    size_t rlen;
    assert_int_equal(ns_ckpt_read_file(path, &rd, &rlen), 0);
    assert_int_equal(rlen, flen);
    assert_memory_equal(rd, full, flen);
    free(rd);
    FILE *f = fopen(path, "wb"); /* a truncated file names itself */
    assert_non_null(f);
    fwrite(full, 1, flen / 2, f);
    fclose(f);
    expect_err(ns_ckpt_read_file(path, &rd, &rlen), path);
    assert_non_null(strstr(ns_errmsg(), "truncated"));
    remove(path);
    expect_err(ns_ckpt_read_file(path, &rd, &rlen), "cannot open");
    free(full);
    free(stripped);
    free(buf);
    ns_net_free(a);
    ns_net_free(b);
}

static void damaged_and_foreign_checkpoints_are_rejected(void **state)
{
    (void)state;
    struct ns_config c = tiny();
    struct ns_net *a = build(&c, 1);
    uint8_t *buf;
    size_t len;
    assert_int_equal(ns_ckpt_save_weights(a, &buf, &len), 0);
    uint8_t *b = malloc(len + 8);
    assert_non_null(b);

    memcpy(b, "PK\003\004....", 8); /* a zip file, say */
    memcpy(b + 8, buf + 8, len - 8);
    expect_err(ns_ckpt_check(b, len, "m.bin"), "m.bin: not a netspace checkpoint");
    expect_err(ns_ckpt_check(buf, 0, "e.bin"), "not a netspace checkpoint");
    expect_err(ns_ckpt_check(buf, len - 1, "t.bin"), "t.bin: truncated");
    expect_err(ns_ckpt_check(buf, 20, "t.bin"), "truncated");
    memcpy(b, buf, len);
    memset(b + len, 0, 8);
    expect_err(ns_ckpt_check(b, len + 8, "long.bin"), "after the end");
    b[len / 2] ^= 0x10; /* one bit flipped in the weights */
    expect_err(ns_ckpt_check(b, len, "c.bin"), "c.bin: checksum mismatch (corrupt)");

    memcpy(b, buf, len);
    b[8] = 2; /* version 2 */
    fix_crc(b, len);
    expect_err(ns_ckpt_check(b, len, "v.bin"), "newer");
    memcpy(b, buf, len);
    b[12] = 4; /* an unknown flag */
    fix_crc(b, len);
    expect_err(ns_ckpt_check(b, len, "f.bin"), "unknown flags");
    memcpy(b, buf, len);
    memcpy(b + 32, "XONF", 4); /* CONF renamed: skipped as unknown, so CONF is missing */
    fix_crc(b, len);
    expect_err(ns_ckpt_check(b, len, "s.bin"), "CONF section is missing");
    memcpy(b, buf, len);
    b[32 + 8 + 6] = 0x7f; /* CONF's length overruns the section area */
    fix_crc(b, len);
    expect_err(ns_ckpt_check(b, len, "o.bin"), "overruns");

    /* an unknown section is skipped (forward compatibility) */
    uint8_t *u = malloc(len + 24);
    assert_non_null(u);
    memcpy(u, buf, len - 4);
    memcpy(u + len - 4, "ZZZZ\0\0\0\0\3\0\0\0\0\0\0\0abc\0\0\0\0\0", 24);
    u[24]++; /* one more section */
    uint64_t p = (uint64_t)len - 36 + 24;
    for (int i = 0; i < 8; i++)
        u[16 + i] = (uint8_t)(p >> (8 * i));
    fix_crc(u, len + 24);
    assert_int_equal(ns_ckpt_check(u, len + 24, "u.bin"), 0);
    assert_int_equal(ns_ckpt_load_weights(a, u, len + 24, "u.bin"), 0);
    free(u);

    /* another model's checkpoint does not load */
    struct ns_config c2 = tiny();
    c2.stages[1].w = 24;
    struct ns_net *other = build(&c2, 1);
    expect_err(ns_ckpt_load_weights(other, buf, len, "a.ckpt"),
               "a.ckpt: a checkpoint of another model");
    ns_net_free(other);
    free(b);
    free(buf);
    ns_net_free(a);
}

/* The offset of the first section tagged `tag` (its header), or fail. */
static size_t section_at(const uint8_t *b, size_t len, const char *tag)
{
    for (size_t off = 32; off + 16 <= len - 4;) {
        if (!memcmp(b + off, tag, 4))
            return off;
        uint64_t l = 0;
        for (int i = 0; i < 8; i++)
            l |= (uint64_t)b[off + 8 + i] << (8 * i);
        off += 16 + (size_t)((l + 7) / 8 * 8);
    }
    fail_msg("no %s section", tag);
    return 0;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Lengths and counts chosen to wrap the reader's arithmetic around, each behind a valid CRC:
 * every one is refused, none read out of the buffer (ASan would say). */
static void hostile_lengths_are_rejected(void **state)
{
    (void)state;
    struct ns_config c = tiny();
    struct ns_net *a = build(&c, 1);
    struct ns_ckpt_state st = {.epoch = 1, .optimizer = 0, .best_test_err = NAN};
    uint8_t *buf, *b;
    size_t len;
    assert_int_equal(ns_ckpt_save_full(a, &st, &buf, &len), 0);
    assert_non_null(b = malloc(len));
    size_t conf = section_at(buf, len, "CONF"), ptab = section_at(buf, len, "PTAB");
    size_t wght = section_at(buf, len, "WGHT"), optm = section_at(buf, len, "OPTM");
    size_t trst = section_at(buf, len, "TRST");

    /* a section length whose padding wraps to 0 */
    memcpy(b, buf, len);
    put_le64(b + conf + 8, UINT64_MAX - 6);
    fix_crc(b, len);
    expect_err(ns_ckpt_check(b, len, "h.bin"), "overruns");
    /* a WGHT count whose 4 * count wraps to the section's true length */
    memcpy(b, buf, len);
    put_le64(b + wght + 16, (1ULL << 62) + (uint64_t)a->n_weights);
    fix_crc(b, len);
    expect_err(ns_ckpt_check(b, len, "h.bin"), "WGHT");
    /* the same trick on OPTM's count */
    memcpy(b, buf, len);
    put_le64(b + optm + 16, (1ULL << 62) + (uint64_t)a->n_weights);
    fix_crc(b, len);
    expect_err(ns_ckpt_check(b, len, "h.bin"), "OPTM");
    /* PTAB: the largest count, then two parameters whose lengths sum to WGHT's count modulo
     * 2^64 */
    memcpy(b, buf, len);
    b[ptab + 16] = b[ptab + 17] = b[ptab + 18] = b[ptab + 19] = 0xff;
    fix_crc(b, len);
    expect_err(ns_ckpt_check(b, len, "h.bin"), "PTAB");
    memcpy(b, buf, len);
    assert_true(a->n_params >= 2);
    uint64_t first = UINT64_MAX - 9, n_rest = 0;
    for (int i = 2; i < a->n_params; i++)
        n_rest += a->params[i].len;
    put_le64(b + ptab + 16 + 8 + 8, first);
    put_le64(b + ptab + 16 + 8 + 16 + 8, (uint64_t)a->n_weights - n_rest - first);
    fix_crc(b, len);
    expect_err(ns_ckpt_check(b, len, "h.bin"), "overruns the weights");
    /* an epoch or AdamW step count that would load as a negative number */
    memcpy(b, buf, len);
    b[trst + 16 + 3] = 0x80;
    fix_crc(b, len);
    expect_err(ns_ckpt_check(b, len, "h.bin"), "negative");
    memcpy(b, buf, len);
    b[trst + 16 + 16 + 7] = 0x80;
    fix_crc(b, len);
    expect_err(ns_ckpt_check(b, len, "h.bin"), "negative");

    /* a CONF longer than ns_ckpt_info's 8191 bytes: a valid checkpoint whose info is refused */
    size_t conf_len = 9000, conf_end = ptab, big_len = len - (conf_end - conf) + 16 + conf_len;
    uint8_t *big = malloc(big_len);
    assert_non_null(big);
    memcpy(big, buf, conf);
    memcpy(big + conf, "CONF\0\0\0\0", 8);
    put_le64(big + conf + 8, conf_len);
    memset(big + conf + 16, ' ', conf_len);
    memcpy(big + conf + 16 + conf_len, buf + conf_end, len - conf_end);
    put_le64(big + 16, big_len - 36);
    fix_crc(big, big_len);
    assert_int_equal(ns_ckpt_check(big, big_len, "big.bin"), 0);
    struct ns_ckpt_info *info = malloc(sizeof *info);
    assert_non_null(info);
    expect_err(ns_ckpt_info(big, big_len, "big.bin", info), "more than 8191");
    expect_err(ns_ckpt_load_weights(a, big, big_len, "big.bin"), "another model");
    free(info);
    free(big);
    free(b);
    free(buf);
    ns_net_free(a);
}

/* The committed fixture: a tiny net whose every float is set by a formula (not by the
 * initializer, so libm cannot change it), saved as a full SGD checkpoint, must be these bytes
 * on every host. NS_REGEN_FIXTURES=1 rewrites it (then review the diff). */
static void bytes_are_the_fixture(void **state)
{
    (void)state;
    struct ns_config c = {.in_ch = 1,
                          .im_size = 8,
                          .classes = 3,
                          .stem = NS_STEM_CIFAR,
                          .stem_w = 4,
                          .block = NS_BLOCK_X,
                          .n_stages = 1};
    c.stages[0] = (struct ns_stage){1, 4, 2, 4, 1.0, 0};
    struct ns_net *net = build(&c, 1);
    for (size_t i = 0; i < net->n_weights; i++) {
        net->w[i] = (float)((int)(i % 17) - 8) * 0.125f;
        net->mom[i] = (float)(i % 5) * -0.5f;
    }
    /* running mean and var of each BN, numbered as when bn_state held 4 floats per channel
     * (the fixture's numbers): the layout of the rest of bn_state is the core's own */
    size_t old_off = 0;
    for (int k = 0; k < net->n_nodes; k++) {
        const struct ns_node *nd = &net->nodes[k];
        if (nd->kind != NS_N_BN)
            continue;
        int ch = nd->u.bn.c;
        for (int j = 0; j < 2 * ch; j++)
            net->bn_state[nd->bn_off + j] = 1.0f + (float)(old_off + j) / 64.0f;
        old_off += 4 * (size_t)ch;
    }
    struct ns_ckpt_state st = {.epoch = 2,
                               .optimizer = 0,
                               .recipe_hash = 0x0102030405060708ULL,
                               .adam_steps = 0,
                               .best_test_err = 37.5};
    for (int i = 0; i < 3; i++)
        st.rng[i] = (struct ns_pcg32){0x1111111111111111ULL * (uint64_t)(i + 1),
                                      0xa0a0a0a0a0a0a0a1ULL + 2 * (uint64_t)i};
    uint8_t *buf;
    size_t len;
    assert_int_equal(ns_ckpt_save_full(net, &st, &buf, &len), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/nn/ckpt_v1.bin",
             getenv("NS_FIXTURES") ? getenv("NS_FIXTURES") : NS_FIXTURES);
    if (getenv("NS_REGEN_FIXTURES"))
        assert_int_equal(ns_ckpt_write_file(path, buf, len), 0);
    uint8_t *want;
    size_t wlen;
    if (ns_ckpt_read_file(path, &want, &wlen))
        fail_msg("%s", ns_errmsg());
    assert_int_equal(wlen, len);
    assert_memory_equal(want, buf, len);
    /* spot checks of the layout that do not go through the writer */
    assert_memory_equal(want, "NSCKPT\r\n\1\0\0\0\1\0\0\0", 16);
    assert_int_equal(want[24], 7); /* CONF PTAB WGHT BNST TRST OPTM BEST */
    assert_memory_equal(want + 32, "CONF\0\0\0\0", 8);
    struct ns_ckpt_info info;
    assert_int_equal(ns_ckpt_info(want, wlen, path, &info), 0);
    assert_int_equal(info.epoch, 2);
    assert_true(info.recipe_hash == 0x0102030405060708ULL);
    free(want);
    free(buf);
    ns_net_free(net);
}

/* ---- training ----------------------------------------------------------------------------- */

struct ckpts {
    uint8_t *buf[8];
    size_t len[8];
    int epoch[8], n;
    double test_err[8];
};

static int keep_ckpt(void *ctx, int epoch, const uint8_t *buf, size_t len)
{
    struct ckpts *k = ctx;
    if (k->n == 8)
        return -1;
    k->buf[k->n] = malloc(len);
    memcpy(k->buf[k->n], buf, len);
    k->len[k->n] = len;
    k->epoch[k->n++] = epoch;
    return 0;
}

static void ckpts_free(struct ckpts *k)
{
    for (int i = 0; i < k->n; i++)
        free(k->buf[i]);
    k->n = 0;
}

static struct ns_recipe recipe(enum ns_optimizer opt, int epochs)
{
    struct ns_recipe r;
    ns_recipe_default(&r);
    r.optimizer = opt;
    r.epochs = epochs;
    r.batch = 32;
    r.lr = opt == NS_OPT_ADAMW ? 0.003 : 0.2;
    r.eval_batch = 64;
    /* every source of randomness: shuffling, crops, flips, dropout, drop path */
    r.crop_pad = 2;
    r.flip = 1;
    r.dropout = 0.2;
    r.drop_path = 0.1;
    r.warmup_epochs = 0.5;
    return r;
}

static void assert_same_result(const struct ns_train_result *a, const struct ns_train_result *b)
{
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->epochs_done, b->epochs_done);
    assert_memory_equal(&a->train_loss, &b->train_loss, sizeof(double));
    assert_memory_equal(&a->train_err, &b->train_err, sizeof(double));
    assert_memory_equal(&a->test_err, &b->test_err, sizeof(double));
    assert_memory_equal(&a->best_test_err, &b->best_test_err, sizeof(double));
}

/* 3 epochs straight vs. 1 epoch, then resumed: same bits (the checkpoint after epoch 3
 * included); and stop_after 2 then resume equals it too. */
static void resume_gives_the_uninterrupted_bits(enum ns_optimizer opt)
{
    struct ns_dataset train, test;
    assert_int_equal(ns_data_synthetic_pair(&train, &test, 160, 64, 1, 12, 4, 21), 0);
    ns_data_normalize(&train, &test);
    struct ns_config c = tiny();
    struct ns_recipe r = recipe(opt, 3);
    struct ckpts full = {0}, part = {0}, rest = {0};
    struct ns_train_result a, b, d;

    struct ns_train_opts o = {.checkpoint_every = 1, .on_checkpoint = keep_ckpt, .ctx = &full};
    assert_int_equal(ns_train(&c, &train, &test, &r, &o, &a), NS_TRAIN_OK);
    assert_int_equal(full.n, 3);
    assert_int_equal(full.epoch[0], 1);

    /* resume from the checkpoint after epoch 1 */
    struct ns_train_opts ro = {.resume = full.buf[0],
                               .resume_len = full.len[0],
                               .checkpoint_last = 1,
                               .on_checkpoint = keep_ckpt,
                               .ctx = &rest};
    assert_int_equal(ns_train(&c, &train, &test, &r, &ro, &b), NS_TRAIN_OK);
    assert_same_result(&a, &b);
    assert_int_equal(rest.n, 1);
    assert_int_equal(rest.epoch[0], 3);
    assert_int_equal(rest.len[0], full.len[2]);
    assert_memory_equal(rest.buf[0], full.buf[2], full.len[2]);
    ckpts_free(&rest);

    /* stop_after 2 (the schedule still spans 3 epochs), then resume to the end */
    struct ns_train_opts so = {
        .stop_after = 2, .checkpoint_last = 1, .on_checkpoint = keep_ckpt, .ctx = &part};
    assert_int_equal(ns_train(&c, &train, &test, &r, &so, &d), NS_TRAIN_OK);
    assert_int_equal(d.epochs_done, 2);
    assert_int_equal(part.n, 1);
    assert_memory_equal(part.buf[0], full.buf[1], full.len[1]);
    ro.resume = part.buf[0];
    ro.resume_len = part.len[0];
    assert_int_equal(ns_train(&c, &train, &test, &r, &ro, &b), NS_TRAIN_OK);
    assert_same_result(&a, &b);
    assert_memory_equal(rest.buf[0], full.buf[2], full.len[2]);

    /* a resume under another recipe (here: another seed) is refused, not run off course */
    struct ns_recipe r2 = r;
    r2.seed = 2;
    struct ns_train_opts o2 = {.resume = full.buf[0], .resume_len = full.len[0]};
    assert_int_equal(ns_train(&c, &train, &test, &r2, &o2, &b), NS_TRAIN_ERROR);
    if (!strstr(b.reason, "another recipe"))
        fail_msg("reason \"%s\" does not say another recipe", b.reason);
    /* and so is a resume on other training data (one label changed) */
    train.y[7] = (uint8_t)((train.y[7] + 1) % train.classes);
    assert_int_equal(ns_train(&c, &train, &test, &r, &o2, &b), NS_TRAIN_ERROR);
    if (!strstr(b.reason, "other training data"))
        fail_msg("reason \"%s\" does not say other training data", b.reason);

    ckpts_free(&rest);
    ckpts_free(&part);
    ckpts_free(&full);
    ns_data_free(&train);
    ns_data_free(&test);
}

static void resume_sgd(void **state)
{
    (void)state;
    resume_gives_the_uninterrupted_bits(NS_OPT_SGD);
}

static void resume_adamw(void **state)
{
    (void)state;
    resume_gives_the_uninterrupted_bits(NS_OPT_ADAMW);
}

static void init_and_evaluate_only(void **state)
{
    (void)state;
    struct ns_dataset train, test;
    assert_int_equal(ns_data_synthetic_pair(&train, &test, 96, 64, 1, 12, 4, 23), 0);
    ns_data_normalize(&train, &test);
    struct ns_config c = tiny();
    struct ns_recipe r = recipe(NS_OPT_SGD, 1);
    struct ckpts k = {0};
    struct ns_train_result a, b, e;
    struct ns_train_opts o = {.checkpoint_last = 1, .on_checkpoint = keep_ckpt, .ctx = &k};
    assert_int_equal(ns_train(&c, &train, &test, &r, &o, &a), NS_TRAIN_OK);
    assert_int_equal(k.n, 1);
    uint8_t *w;
    size_t wlen;
    assert_int_equal(ns_ckpt_strip(k.buf[0], k.len[0], &w, &wlen), 0);

    /* evaluate only: the trained weights give the trained run's test error */
    struct ns_train_opts eo = {.init = w, .init_len = wlen, .stop_after = -1};
    assert_int_equal(ns_train(&c, &train, &test, &r, &eo, &e), NS_TRAIN_OK);
    assert_int_equal(e.epochs_done, 0);
    assert_memory_equal(&e.test_err, &a.test_err, sizeof(double));
    /* ...and a resume with stop_after -1 evaluates the checkpoint's state */
    struct ns_train_opts ro = {.resume = k.buf[0], .resume_len = k.len[0], .stop_after = -1};
    assert_int_equal(ns_train(&c, &train, &test, &r, &ro, &e), NS_TRAIN_OK);
    assert_int_equal(e.epochs_done, 1);
    assert_memory_equal(&e.test_err, &a.test_err, sizeof(double));
    /* random weights evaluate differently (the check is not vacuous) */
    struct ns_train_opts zo = {.stop_after = -1};
    assert_int_equal(ns_train(&c, &train, &test, &r, &zo, &e), NS_TRAIN_OK);
    assert_true(e.test_err != a.test_err);

    /* fine-tuning from the weights trains on from them, not from random ones */
    struct ns_train_opts fo = {.init = w, .init_len = wlen};
    assert_int_equal(ns_train(&c, &train, &test, &r, &fo, &b), NS_TRAIN_OK);
    assert_true(b.train_loss < a.train_loss);

    /* errors: resume and init together, a resume from weights only, another model */
    struct ns_train_opts bo = {
        .init = w, .init_len = wlen, .resume = k.buf[0], .resume_len = k.len[0]};
    assert_int_equal(ns_train(&c, &train, &test, &r, &bo, &e), NS_TRAIN_ERROR);
    assert_non_null(strstr(e.reason, "exclude"));
    struct ns_train_opts wo = {.resume = w, .resume_len = wlen};
    assert_int_equal(ns_train(&c, &train, &test, &r, &wo, &e), NS_TRAIN_ERROR);
    assert_non_null(strstr(e.reason, "weights-only"));
    struct ns_config c2 = tiny();
    c2.stem_w = 16;
    assert_int_equal(ns_train(&c2, &train, &test, &r, &fo, &e), NS_TRAIN_ERROR);
    assert_non_null(strstr(e.reason, "another model"));
    struct ns_train_opts so = {.stop_after = 2};
    assert_int_equal(ns_train(&c, &train, &test, &r, &so, &e), NS_TRAIN_ERROR);
    assert_non_null(strstr(e.reason, "stop_after"));

    free(w);
    ckpts_free(&k);
    ns_data_free(&train);
    ns_data_free(&test);
}

static void recipe_hash_sees_the_trajectory(void **state)
{
    (void)state;
    struct ns_recipe a, b;
    ns_recipe_default(&a);
    b = a;
    assert_true(ns_recipe_hash(&a) == ns_recipe_hash(&b));
    b.eval_batch = 77; /* changes no weight */
    assert_true(ns_recipe_hash(&a) == ns_recipe_hash(&b));
    b = a;
    b.threads = 2;
    assert_true(ns_recipe_hash(&a) != ns_recipe_hash(&b));
    b = a;
    b.seed = 2;
    assert_true(ns_recipe_hash(&a) != ns_recipe_hash(&b));
    b = a;
    b.epochs = 11;
    assert_true(ns_recipe_hash(&a) != ns_recipe_hash(&b));
    b = a;
    b.lr = 0.1000001;
    assert_true(ns_recipe_hash(&a) != ns_recipe_hash(&b));
    /* the default recipe's hash is fixed (checkpoints store it): a change to the hashed
     * fields must bump the version in ns_recipe_hash and this value */
    assert_true(ns_recipe_hash(&a) == 0xb610b702086dd18dULL);
}

static int setup(void **state)
{
    (void)state;
    pool1 = ns_pool_create(1);
    return pool1 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ns_pool_free(pool1);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(weights_round_trip),
        cmocka_unit_test(damaged_and_foreign_checkpoints_are_rejected),
        cmocka_unit_test(hostile_lengths_are_rejected),
        cmocka_unit_test(bytes_are_the_fixture),
        cmocka_unit_test(resume_sgd),
        cmocka_unit_test(resume_adamw),
        cmocka_unit_test(init_and_evaluate_only),
        cmocka_unit_test(recipe_hash_sees_the_trajectory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
