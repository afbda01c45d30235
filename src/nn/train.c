/* The training loop: SGD with momentum on a model config, cosine learning rate with linear
 * warmup, per-epoch evaluation, divergence detection. Everything is allocated before the
 * first step. */
#include "nn/train.h"

#include "nn/checkpoint.h"
#include "nn/net.h"
#include "util/err.h"
#include "util/timer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ns_recipe_default(struct ns_recipe *r)
{
    memset(r, 0, sizeof *r);
    r->epochs = 10;
    r->batch = 128;
    r->lr = 0.1;
    r->momentum = 0.9;
    r->nesterov = 1;
    r->wd = 5e-4;
    r->warmup_factor = 0.1;
    r->seed = 1;
    r->threads = 1;
    r->eval_batch = 0;
    r->optimizer = NS_OPT_SGD;
    r->beta1 = 0.9;
    r->beta2 = 0.999;
}

int ns_recipe_check(const struct ns_recipe *r)
{
    if (r->epochs < 1 || r->epochs > 100000)
        return ns_err("epochs: %d is not in 1..100000", r->epochs);
    if (r->batch < 1 || r->batch > 65536)
        return ns_err("batch: %d is not in 1..65536", r->batch);
    if (!(r->lr > 0 && isfinite(r->lr)))
        return ns_err("lr: %g must be a finite number > 0", r->lr);
    if (!(r->momentum >= 0 && r->momentum < 1))
        return ns_err("momentum: %g is not in [0, 1)", r->momentum);
    if (!(r->wd >= 0 && r->wd < 1))
        return ns_err("wd: %g is not in [0, 1)", r->wd);
    if (!(r->warmup_epochs >= 0 && r->warmup_epochs <= r->epochs))
        return ns_err("warmup: %g is not in [0, epochs]", r->warmup_epochs);
    if (!(r->warmup_factor >= 0 && r->warmup_factor <= 1))
        return ns_err("warmup_factor: %g is not in [0, 1]", r->warmup_factor);
    if (r->crop_pad < 0 || r->crop_pad > 16)
        return ns_err("crop_pad: %d is not in 0..16", r->crop_pad);
    if (!(r->rotate >= 0 && r->rotate <= 180))
        return ns_err("rotate: %g is not in [0, 180] degrees", r->rotate);
    if (!(r->zoom >= 0 && r->zoom <= 0.9))
        return ns_err("zoom: %g is not in [0, 0.9]", r->zoom);
    if (!(r->rrc_scale >= 0 && r->rrc_scale <= 1))
        return ns_err("rrc_scale: %g is not in [0, 1]", r->rrc_scale);
    if (!(r->dropout >= 0 && r->dropout < 1))
        return ns_err("dropout: %g is not in [0, 1)", r->dropout);
    if (r->optimizer != NS_OPT_SGD && r->optimizer != NS_OPT_ADAMW)
        return ns_err("optimizer: unknown optimizer");
    if (!(r->beta1 >= 0 && r->beta1 < 1) || !(r->beta2 >= 0 && r->beta2 < 1))
        return ns_err("beta1, beta2: %g and %g must be in [0, 1)", r->beta1, r->beta2);
    if (!(r->drop_path >= 0 && r->drop_path < 1))
        return ns_err("drop_path: %g is not in [0, 1)", r->drop_path);
    if (r->threads < 1 || r->threads > 256)
        return ns_err("threads: %d is not in 1..256", r->threads);
    if (r->eval_batch < 0 || r->eval_batch > 65536)
        return ns_err("eval_batch: %d is not in 0..65536", r->eval_batch);
    if (r->eval_every < 0 || r->eval_every > 100000)
        return ns_err("eval_every: %d is not in 0..100000", r->eval_every);
    if (!(r->agc >= 0 && r->agc <= 100))
        return ns_err("agc: %g is not in [0, 100] (0 = off)", r->agc);
    return 0;
}

/* FNV-1a over an explicit little-endian serialization of the fields, so the hash is the
 * same on every host (it is stored in checkpoints). */
static void h_u64(uint64_t *h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        *h ^= (uint8_t)(v >> (8 * i));
        *h *= 0x100000001b3ULL;
    }
}

static void h_f64(uint64_t *h, double d)
{
    uint64_t u;
    if (d == 0)
        d = 0; /* -0.0 and 0.0 train alike */
    memcpy(&u, &d, 8);
    h_u64(h, u);
}

uint64_t ns_recipe_hash(const struct ns_recipe *r)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h_u64(&h, 1); /* the version of this list: bump it when a field is added */
    h_u64(&h, (uint64_t)r->optimizer);
    if (r->optimizer == NS_OPT_ADAMW) {
        h_f64(&h, r->beta1);
        h_f64(&h, r->beta2);
    } else {
        h_f64(&h, r->momentum);
        h_u64(&h, (uint64_t)r->nesterov);
    }
    h_u64(&h, (uint64_t)r->epochs);
    h_u64(&h, (uint64_t)r->batch);
    h_f64(&h, r->lr);
    h_f64(&h, r->wd);
    h_f64(&h, r->warmup_epochs);
    h_f64(&h, r->warmup_factor);
    h_u64(&h, (uint64_t)r->crop_pad);
    h_u64(&h, (uint64_t)r->flip);
    h_f64(&h, r->rotate);
    h_f64(&h, r->zoom);
    h_f64(&h, r->rrc_scale);
    h_f64(&h, r->dropout);
    h_f64(&h, r->drop_path);
    h_u64(&h, (uint64_t)r->zero_init_last_bn);
    h_u64(&h, r->seed);
    h_u64(&h, (uint64_t)r->threads);
    h_f64(&h, r->agc);
    /* not eval_batch or eval_every: they change no weight */
    return h;
}

/* What a full checkpoint records as its "recipe hash": the recipe's, folded with a
 * fingerprint of the training set (its shape, classes, normalization, labels and every
 * pixel, 8 bytes at a time: ~20 ms for Fashion-MNIST's 47 MB), so that a resume on other
 * data (another --train-limit, --val or folder) is refused instead of silently giving
 * another run. The test set changes no weight and is left out. */
static uint64_t trajectory_hash(const struct ns_recipe *r, const struct ns_dataset *d)
{
    uint64_t h = ns_recipe_hash(r);
    h_u64(&h, (uint64_t)d->n);
    h_u64(&h, (uint64_t)d->h);
    h_u64(&h, (uint64_t)d->w);
    h_u64(&h, (uint64_t)d->c);
    h_u64(&h, (uint64_t)d->classes);
    for (int i = 0; i < d->c && i < NS_DATA_MAX_CH; i++) {
        h_f64(&h, d->mean[i]);
        h_f64(&h, d->std[i]);
    }
    const uint8_t *bufs[2] = {d->x, d->y};
    size_t lens[2] = {(size_t)d->n * d->h * d->w * d->c, (size_t)d->n};
    for (int b = 0; b < 2; b++) {
        uint64_t acc = 0x9e3779b97f4a7c15ULL ^ lens[b];
        size_t i = 0;
        for (; i + 8 <= lens[b]; i += 8) {
            uint64_t v;
            memcpy(&v, bufs[b] + i, 8);
            acc = (acc ^ v) * 0xff51afd7ed558ccdULL;
            acc ^= acc >> 32;
        }
        for (; i < lens[b]; i++)
            acc = (acc ^ bufs[b][i]) * 0x100000001b3ULL;
        h_u64(&h, acc);
    }
    return h;
}

/* Learning rate at step t of total: cosine from lr to 0, times a linear warmup factor. */
static double lr_at(const struct ns_recipe *r, long t, long total, long warm)
{
    double lr = 0.5 * r->lr * (1.0 + cos(M_PI * (double)t / (double)total));
    if (t < warm) {
        double a = (double)t / (double)warm;
        lr *= r->warmup_factor * (1.0 - a) + a;
    }
    return lr;
}

/* Input batches at the model's resolution: the dataset's images, resized (bilinear) when
 * the model's resolution differs from theirs (compound scaling). */
struct input {
    struct ns_resize rs;
    int resize;
    float *stage; /* the batch at the data's size before resizing */
};

static void input_setup(struct input *in, const struct ns_dataset *d, const struct ns_config *c,
                        float *stage)
{
    in->rs = (struct ns_resize){d->h, d->w, d->c, c->im_size, c->im_size};
    in->resize = d->h != c->im_size || d->w != c->im_size;
    in->stage = stage;
}

static void make_batch(struct ns_pool *pool, const struct input *in, const struct ns_dataset *d,
                       const uint32_t *idx, int n, const struct ns_augment *aug,
                       struct ns_pcg32 *rng, float *x, int32_t *y)
{
    ns_data_batch(d, idx, n, aug, rng, in->resize ? in->stage : x, y);
    if (in->resize)
        ns_resize_forward(pool, &in->rs, n, in->stage, x);
}

/* Percent of `ds` misclassified in evaluation mode. */
static double evaluate(struct ns_net *net, const struct ns_dataset *ds, const struct input *in,
                       int batch, float *x, int32_t *y, uint32_t *idx)
{
    long wrong = 0;
    for (int i0 = 0; i0 < ds->n; i0 += batch) {
        int n = ds->n - i0 < batch ? ds->n - i0 : batch;
        for (int i = 0; i < n; i++)
            idx[i] = (uint32_t)(i0 + i);
        make_batch(net->pool, in, ds, idx, n, NULL, NULL, x, y);
        const float *logits = ns_net_forward(net, n, x, 0, NULL);
        int bad = 0;
        ns_softmax_xent(n, net->cfg.classes, logits, y, NULL, &bad);
        wrong += bad;
    }
    return ds->n ? 100.0 * (double)wrong / ds->n : 0.0;
}

static enum ns_train_status fail(struct ns_train_result *res, enum ns_train_status st,
                                 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum ns_train_status fail(struct ns_train_result *res, enum ns_train_status st,
                                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof res->reason, fmt, ap);
    va_end(ap);
    res->status = st;
    return st;
}

/* The data must have the model's channels and classes; a different image size is resized
 * to the model's (bilinear). */
static int check_data(const struct ns_config *cfg, const struct ns_dataset *d, const char *what)
{
    if (d->c != cfg->in_ch)
        return ns_err("%s set has %d channels (%dx%dx%d) but the model expects %d", what, d->c,
                      d->c, d->h, d->w, cfg->in_ch);
    if (d->classes > cfg->classes)
        return ns_err("%s set has %d classes but the model only %d", what, d->classes, cfg->classes);
    return 0;
}

static int check_ckpt_opts(const struct ns_train_opts *o, const struct ns_recipe *r)
{
    if (o->stop_after < -1 || o->stop_after > r->epochs)
        return ns_err("stop_after: %d is not in -1..%d (the recipe's epochs; 0 = all, -1 = "
                      "evaluate only)",
                      o->stop_after, r->epochs);
    if (o->resume && o->init)
        return ns_err("resume and init exclude each other: a resume continues a run with its "
                      "optimizer state, init starts a new run from weights");
    if (o->checkpoint_every < 0)
        return ns_err("checkpoint_every: %d is not >= 0", o->checkpoint_every);
    if ((o->checkpoint_every > 0 || o->checkpoint_last) && !o->on_checkpoint)
        return ns_err("checkpoint_every/checkpoint_last need an on_checkpoint callback");
    return 0;
}

/* Continue from a full checkpoint: its weights, BN statistics, optimizer moments and RNG
 * streams; the recipe (hence the LR schedule, the seed and the thread count) must be the
 * one it was trained with, or the run would not be the uninterrupted one. Returns the
 * epochs it had done, or -1 with ns_err. */
static int resume_from(struct ns_net *net, const struct ns_train_opts *o, const struct ns_recipe *r,
                       uint64_t traj, struct ns_pcg32 rng[3], double *best)
{
    struct ns_ckpt_state cs;
    if (ns_ckpt_load_full(net, o->resume, o->resume_len, "resume checkpoint", &cs))
        return -1;
    static const char *opt_names[] = {"sgd", "adamw"};
    if (cs.optimizer != (int)r->optimizer)
        return ns_err("resume checkpoint: trained with %s, the recipe says %s",
                      opt_names[cs.optimizer], opt_names[r->optimizer]);
    if (cs.recipe_hash != traj)
        return ns_err("resume checkpoint: trained with another recipe or other training data "
                      "(hash %016llx, this run's %016llx): a resume needs the same epochs, "
                      "batch, lr, schedule, augmentation, seed, threads and training images",
                      (unsigned long long)cs.recipe_hash, (unsigned long long)traj);
    if (cs.epoch < 0 || cs.epoch > r->epochs)
        return ns_err("resume checkpoint: epoch %d is not in 0..%d", cs.epoch, r->epochs);
    if (o->stop_after > 0 && cs.epoch > o->stop_after)
        return ns_err("stop_after: %d is before the resume checkpoint's epoch %d", o->stop_after,
                      cs.epoch);
    memcpy(rng, cs.rng, sizeof cs.rng);
    if (!isnan(cs.best_test_err))
        *best = cs.best_test_err;
    return cs.epoch;
}

/* Hand the full checkpoint after epoch e to the caller. 0, or -1 with ns_err. */
static int emit_checkpoint(const struct ns_net *net, const struct ns_train_opts *o,
                           const struct ns_recipe *r, uint64_t traj, int e,
                           const struct ns_pcg32 rng[3], double best)
{
    struct ns_ckpt_state cs = {.epoch = e,
                               .optimizer = (int)r->optimizer,
                               .recipe_hash = traj,
                               .adam_steps = net->adam_steps,
                               .best_test_err = best};
    memcpy(cs.rng, rng, sizeof cs.rng);
    uint8_t *buf;
    size_t len;
    if (ns_ckpt_save_full(net, &cs, &buf, &len))
        return -1;
    ns_err_clear();
    int rc = o->on_checkpoint(o->ctx, e, buf, len);
    free(buf);
    if (!rc)
        return 0;
    char why[200];
    snprintf(why, sizeof why, "%s", ns_errmsg());
    return ns_err("the checkpoint callback failed after epoch %d%s%s", e, *why ? ": " : "", why);
}

enum ns_train_status ns_train(const struct ns_config *cfg, const struct ns_dataset *train,
                              const struct ns_dataset *test, const struct ns_recipe *r,
                              const struct ns_train_opts *opts, struct ns_train_result *res)
{
    static const struct ns_train_opts no_opts;
    if (!opts)
        opts = &no_opts;
    memset(res, 0, sizeof *res);
    res->test_err = res->best_test_err = NAN; /* until an evaluation */
    if (ns_recipe_check(r) || ns_config_check(cfg) || check_data(cfg, train, "training") ||
        check_data(cfg, test, "test"))
        return fail(res, NS_TRAIN_ERROR, "%s", ns_errmsg());
    long steps = train->n / r->batch;
    if (steps < 1)
        return fail(res, NS_TRAIN_ERROR, "batch %d is larger than the training set (%d images)",
                    r->batch, train->n);
    if (check_ckpt_opts(opts, r))
        return fail(res, NS_TRAIN_ERROR, "%s", ns_errmsg());

    double t_start = ns_now(), train_time = 0;
    /* evaluating at the training batch keeps one arena size for both */
    int eval_batch = r->eval_batch > 0 ? r->eval_batch : r->batch;
    int bmax = r->batch > eval_batch ? r->batch : eval_batch;
    size_t per_image = (size_t)cfg->in_ch * cfg->im_size * cfg->im_size;
    struct ns_pool *pool = ns_pool_create(r->threads);
    struct ns_graph_opts gopts = {.dropout = (float)r->dropout, .drop_path = (float)r->drop_path};
    struct ns_net *net =
        pool ? ns_net_build_opts(cfg, bmax, &gopts, r->zero_init_last_bn, pool) : NULL;
    float *x = malloc(sizeof(float) * per_image * bmax);
    size_t data_image = (size_t)train->c * (train->h * train->w > test->h * test->w
                                                ? train->h * train->w
                                                : test->h * test->w);
    float *stage = malloc(sizeof(float) * data_image * bmax);
    struct input in_train, in_test;
    input_setup(&in_train, train, cfg, stage);
    input_setup(&in_test, test, cfg, stage);
    float *dlogits = malloc(sizeof(float) * (size_t)cfg->classes * bmax);
    int32_t *y = malloc(sizeof(int32_t) * bmax);
    uint32_t *perm = malloc(sizeof(uint32_t) * (size_t)(train->n > bmax ? train->n : bmax));
    enum ns_train_status st = NS_TRAIN_OK;
    int first = 1, last = 0; /* the epochs this call trains */
    if (!pool || !net || !x || !stage || !dlogits || !y || !perm) {
        st = fail(res, NS_TRAIN_ERROR, "%s", pool && net ? "out of memory" : ns_errmsg());
        goto done;
    }
    if (r->optimizer == NS_OPT_ADAMW && ns_net_use_adamw(net)) {
        st = fail(res, NS_TRAIN_ERROR, "%s", ns_errmsg());
        goto done;
    }
    res->params = ns_net_param_count(net);
    ns_net_init(net, r->seed);
    ns_flush_denormals();

    /* shuffle, augmentation, dropout/drop path: what a checkpoint keeps */
    struct ns_pcg32 rng[3];
    ns_pcg32_seed(&rng[0], r->seed, 0x5u);
    ns_pcg32_seed(&rng[1], r->seed, 0xa0u);
    ns_pcg32_seed(&rng[2], r->seed, 0xd0u);
    struct ns_pcg32 *rng_shuffle = &rng[0], *rng_aug = &rng[1], *rng_drop = &rng[2];
    uint64_t traj = opts->resume || opts->on_checkpoint ? trajectory_hash(r, train) : 0;
    last = opts->stop_after > 0 ? opts->stop_after : r->epochs;
    if (opts->stop_after == -1)
        last = 0;
    if (opts->init && ns_ckpt_load_weights(net, opts->init, opts->init_len, "init checkpoint")) {
        st = fail(res, NS_TRAIN_ERROR, "%s", ns_errmsg());
        goto done;
    }
    if (opts->resume) {
        int done_before = resume_from(net, opts, r, traj, rng, &res->best_test_err);
        if (done_before < 0) {
            st = fail(res, NS_TRAIN_ERROR, "%s", ns_errmsg());
            goto done;
        }
        first = done_before + 1;
        res->epochs_done = done_before;
        if (opts->stop_after == -1)
            last = done_before;
    }
    if (first > last) { /* nothing to train: evaluate the weights as they are */
        double t_eval = ns_now();
        res->test_err = evaluate(net, test, &in_test, eval_batch, x, y, perm);
        if (!opts->resume || !(res->test_err >= res->best_test_err)) /* NAN: no best yet */
            res->best_test_err = res->test_err;
        if (opts->progress)
            ns_progress_show(opts->progress, 1, "evaluated after epoch %d: test err %.2f%%  %.1fs",
                             res->epochs_done, res->test_err, ns_now() - t_eval);
        goto done;
    }
    struct ns_augment aug = {.crop_pad = r->crop_pad,
                             .flip = r->flip,
                             .rotate = (float)r->rotate,
                             .zoom = (float)r->zoom,
                             .rrc_scale = (float)r->rrc_scale};
    long total = steps * r->epochs;
    long warm = (long)(r->warmup_epochs * steps);

    for (int e = first; e <= last; e++) {
        double t_epoch = ns_now();
        for (uint32_t i = 0; i < (uint32_t)train->n; i++)
            perm[i] = i;
        ns_pcg32_shuffle(rng_shuffle, perm, (uint32_t)train->n);
        double loss_sum = 0;
        long wrong = 0;
        for (long s = 0; s < steps; s++) {
            if (opts->stop && atomic_load(opts->stop)) {
                st = fail(res, NS_TRAIN_STOPPED, "stopped at epoch %d step %ld", e, s + 1);
                goto done;
            }
            long t = (e - 1) * steps + s;
            make_batch(pool, &in_train, train, perm + s * r->batch, r->batch, &aug, rng_aug, x, y);
            ns_net_zero_grad(net);
            const float *logits = ns_net_forward(net, r->batch, x, 1, rng_drop);
            int bad = 0;
            double loss = ns_softmax_xent(r->batch, cfg->classes, logits, y, dlogits, &bad);
            if (!isfinite(loss)) {
                st = fail(res, NS_TRAIN_DIVERGED, "diverged: loss %s at epoch %d step %ld",
                          isnan(loss) ? "nan" : "inf", e, s + 1);
                goto done;
            }
            ns_net_backward(net, r->batch, dlogits);
            if (r->agc > 0)
                ns_net_agc(net, r->agc);
            if (r->optimizer == NS_OPT_ADAMW)
                ns_net_adamw_step(net, lr_at(r, t, total, warm), r->beta1, r->beta2, 1e-8, r->wd);
            else
                ns_net_sgd_step(net, lr_at(r, t, total, warm), r->momentum, r->wd, r->nesterov);
            loss_sum += loss;
            wrong += bad;
            if (opts->progress) {
                double el = ns_now() - t_epoch;
                double ips = el > 0 ? (double)(s + 1) * r->batch / el : 0;
                double frac = (double)(t + 1) / (double)total;
                char eta[32];
                ns_fmt_duration(eta, sizeof eta, ns_progress_eta(opts->progress, frac));
                ns_progress_show(opts->progress, 0,
                                 "epoch %d/%d  step %ld/%ld  loss %.4f  err %.2f%%  %.0f img/s  ETA %s",
                                 e, r->epochs, s + 1, steps, loss_sum / (s + 1),
                                 100.0 * wrong / ((s + 1) * r->batch), ips, eta);
            }
        }
        double t_train = ns_now() - t_epoch;
        train_time += t_train;
        struct ns_epoch_metrics m = {.epoch = e};
        m.train_loss = loss_sum / steps;
        m.train_err = 100.0 * wrong / (steps * r->batch);
        /* every eval_every-th epoch and the run's last; skipping one changes nothing the
         * training reads (perm, evaluation's scratch, is refilled every epoch) */
        int eval = r->eval_every <= 1 || e % r->eval_every == 0 || e == last;
        m.test_err = eval ? evaluate(net, test, &in_test, eval_batch, x, y, perm) : NAN;
        m.seconds = ns_now() - t_epoch;
        m.img_per_s = t_train > 0 ? steps * r->batch / t_train : 0;
        res->epochs_done = e;
        res->train_loss = m.train_loss;
        res->train_err = m.train_err;
        if (eval)
            res->test_err = m.test_err;
        if (eval && !(m.test_err >= res->best_test_err)) /* NAN: no best yet */
            res->best_test_err = m.test_err;
        if (opts->progress) {
            char te[32] = "not evaluated";
            if (eval)
                snprintf(te, sizeof te, "%.2f%%", m.test_err);
            ns_progress_show(opts->progress, 1,
                             "epoch %d/%d  loss %.4f  train err %.2f%%  test err %s  %.0f img/s  %.1fs",
                             e, r->epochs, m.train_loss, m.train_err, te, m.img_per_s, m.seconds);
        }
        int stop = opts->on_epoch && opts->on_epoch(opts->ctx, &m) != 0 && e < last;
        /* the epoch is complete: its checkpoint is valid even when the callback stops here */
        if (((opts->checkpoint_every > 0 && e % opts->checkpoint_every == 0) ||
             (opts->checkpoint_last && e == last)) &&
            emit_checkpoint(net, opts, r, traj, e, rng, res->best_test_err)) {
            st = fail(res, NS_TRAIN_ERROR, "%s", ns_errmsg());
            goto done;
        }
        if (stop) {
            st = fail(res, NS_TRAIN_STOPPED, "stopped after epoch %d", e);
            goto done;
        }
    }
done:
    res->seconds = ns_now() - t_start;
    res->img_per_s =
        train_time > 0 ? (double)(res->epochs_done - first + 1) * steps * r->batch / train_time : 0;
    res->status = st;
    ns_net_free(net);
    ns_pool_free(pool);
    free(x);
    free(stage);
    free(dlogits);
    free(y);
    free(perm);
    return st;
}
