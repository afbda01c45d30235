/* A worker rank: gets the dataset (read once per node: shared_data.h), then trains the
 * trials the coordinator assigns.
 *
 * By default (limits.isolate) each trial trains in a child process (isolate.h) that maps the
 * worker's dataset; the main thread forwards its epochs and watches for STOP, a signal and
 * the time limit, so a trial that crashes or runs out of memory fails alone. Otherwise
 * training runs on a second thread so that the main thread stays free to talk to the
 * coordinator (only it uses the transport; under MPI: MPI_THREAD_FUNNELED): it forwards each
 * epoch's metrics as the epoch ends and watches for STOP from the coordinator, a signal or
 * the trial's time limit (limits.trial_minutes), which it turns into the trainer's stop
 * flag, so a trial is aborted within one SGD step whatever the epoch length. While it waits
 * it sleeps on a condition variable, not in a spinning receive. */
#include "search/worker.h"

#include "search/isolate.h"
#include "search/shared_data.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/err.h"
#include "util/timer.h"

/* How often the main thread looks for STOP while a trial trains. Between trials a worker
 * normally waits only while the coordinator answers (well under a millisecond), so it polls
 * finely at first; once the wait is long (the study's tail: nothing left to hand out) it
 * backs off to naps that cost nothing. */
#define TRAIN_POLL_S 0.005
#define IDLE_POLL_MIN_S 0.00002
#define IDLE_POLL_FINE_S 0.0002
#define IDLE_POLL_FINE_FOR_S 0.05
#define IDLE_POLL_MAX_S 0.005

/* One trial in flight, shared by the main thread and the training thread. */
struct job {
    struct ns_config cfg;
    struct ns_recipe recipe;
    const struct ns_dataset *train, *eval;
    struct ns_train_result res;
    atomic_int stop; /* the trainer's stop flag, set by the main thread */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ns_epoch_metrics *epochs; /* reported, not yet forwarded: [0, n_epochs) */
    int n_epochs, cap_epochs;
    int done;

    const struct ns_msg_assign *a; /* the job's checkpoint options */
    int checkpoint_every;
    uint8_t *ckpt; /* the latest checkpoint made, not yet forwarded (only the latest matters:
                      rank 0 keeps one per trial) */
    size_t ckpt_len;
    int ckpt_epoch;
};

static int on_checkpoint(void *ctx, int epoch, const uint8_t *buf, size_t len)
{
    struct job *j = ctx;
    uint8_t *copy = malloc(len);
    pthread_mutex_lock(&j->mu);
    if (copy) {
        memcpy(copy, buf, len);
        free(j->ckpt);
        j->ckpt = copy;
        j->ckpt_len = len;
        j->ckpt_epoch = epoch;
    }
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return copy ? 0 : 1; /* out of memory: the trial stops with an error */
}

static int on_epoch(void *ctx, const struct ns_epoch_metrics *m)
{
    struct job *j = ctx;
    pthread_mutex_lock(&j->mu);
    if (j->n_epochs < j->cap_epochs)
        j->epochs[j->n_epochs++] = *m;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return 0;
}

static void *train_thread(void *arg)
{
    struct job *j = arg;
    struct ns_train_opts o = {.on_epoch = on_epoch,
                              .ctx = j,
                              .progress = NULL,
                              .stop = &j->stop,
                              .resume = j->a->ckpt,
                              .resume_len = j->a->ckpt_len,
                              .stop_after = j->a->to,
                              .checkpoint_every = j->checkpoint_every,
                              .checkpoint_last = j->a->ckpt_last,
                              .on_checkpoint = on_checkpoint};
    ns_train(&j->cfg, j->train, j->eval, &j->recipe, &o, &j->res);
    pthread_mutex_lock(&j->mu);
    j->done = 1;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

static void deadline_in(struct timespec *ts, double s)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    long ns = ts->tv_nsec + (long)(s * 1e9);
    ts->tv_sec += ns / 1000000000L;
    ts->tv_nsec = ns % 1000000000L;
}

struct worker {
    int rank;
    struct ns_transport *t;
    int checkpoint_every; /* the experiment's */
    double trial_s; /* limits.trial_minutes in seconds, 0 = none */
    const struct ns_exp_limits *limits;
    struct ns_child_data data; /* the dataset for trial children (limits.isolate) */
    struct ns_inbox in;
    struct ns_msgbuf out;
    int stop_received;
};

static int send_result(struct worker *w, int trial, const struct ns_train_result *r, double wait_s)
{
    struct ns_msg_result m = {.trial = trial, .r = *r, .wait_s = wait_s};
    if (ns_msg_pack_result(&w->out, &m) < 0)
        return -1;
    return ns_send(w->t, NS_COORD, NS_MSG_RESULT, &w->out);
}

static int send_ckpt(struct worker *w, struct ns_msgbuf *b, int trial, int epoch,
                     const uint8_t *buf, size_t len)
{
    struct ns_msg_ckpt m = {trial, epoch, buf, len};
    if (ns_msg_pack_ckpt(b, &m) < 0)
        return -1;
    return ns_send(w->t, NS_COORD, NS_MSG_CKPT, b);
}

/* Check for STOP from the coordinator without blocking. 0 or -1. */
static int check_stop(struct worker *w)
{
    if (w->stop_received)
        return 0;
    int got = ns_poll(w->t, &w->in, NS_COORD, NS_MSG_STOP);
    if (got < 0)
        return -1;
    if (got)
        w->stop_received = 1;
    return 0;
}

/* Train one assigned trial on the training thread, forwarding its epochs and finally its
 * result. 0, or -1 on an MPI or thread failure (the worker cannot go on). */
static int run_trial(struct worker *w, const struct ns_msg_assign *a, const struct ns_recipe *base,
                     const struct ns_dataset *train, const struct ns_dataset *eval, double wait_s)
{
    struct ns_train_result res;
    memset(&res, 0, sizeof res);
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return ns_err("rank %d: out of memory", w->rank);
    if (ns_config_from_json(a->config, &j->cfg) < 0) {
        res.status = NS_TRAIN_ERROR;
        snprintf(res.reason, sizeof res.reason, "config: %s", ns_errmsg());
        free(j);
        return send_result(w, a->trial, &res, wait_s);
    }
    j->recipe = *base;
    j->recipe.seed = a->seed;
    j->a = a;
    j->checkpoint_every = w->checkpoint_every;
    j->train = train;
    j->eval = eval;
    j->cap_epochs = base->epochs;
    j->epochs = calloc((size_t)j->cap_epochs, sizeof *j->epochs);
    struct ns_epoch_metrics *batch = calloc((size_t)j->cap_epochs, sizeof *batch);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = -1;
    pthread_t th;
    if (!j->epochs || !batch || pthread_mutex_init(&j->mu, NULL) ||
        pthread_cond_init(&j->cv, &ca)) {
        ns_err("rank %d: out of memory", w->rank);
        goto out;
    }
    if (atomic_load(&ns_search_signal) || w->stop_received)
        atomic_store(&j->stop, 1);
    if (pthread_create(&th, NULL, train_thread, j)) {
        ns_err("rank %d: cannot start the training thread", w->rank);
        goto out_sync;
    }
    struct ns_msgbuf eb = {0};
    int done = 0, failed = 0, over_time = 0;
    double t0 = ns_now();
    while (!done) {
        struct timespec ts;
        deadline_in(&ts, TRAIN_POLL_S);
        pthread_mutex_lock(&j->mu);
        while (!j->done && j->n_epochs == 0)
            if (pthread_cond_timedwait(&j->cv, &j->mu, &ts) == ETIMEDOUT)
                break;
        int n = j->n_epochs;
        memcpy(batch, j->epochs, (size_t)n * sizeof *batch);
        j->n_epochs = 0;
        done = j->done;
        uint8_t *ck = j->ckpt;
        size_t ck_len = j->ckpt_len;
        int ck_epoch = j->ckpt_epoch;
        j->ckpt = NULL;
        pthread_mutex_unlock(&j->mu);
        for (int i = 0; i < n && !failed; i++) {
            struct ns_msg_epoch m = {.trial = a->trial, .m = batch[i]};
            if (ns_msg_pack_epoch(&eb, &m) < 0 || ns_send(w->t, NS_COORD, NS_MSG_EPOCH, &eb) < 0)
                failed = 1;
        }
        /* after the epoch it follows, before the RESULT */
        if (ck && !failed && send_ckpt(w, &eb, a->trial, ck_epoch, ck, ck_len) < 0)
            failed = 1;
        free(ck);
        if (!failed && check_stop(w) < 0)
            failed = 1;
        if (!over_time && w->trial_s > 0 && ns_now() - t0 > w->trial_s)
            over_time = 1;
        if (failed || over_time || atomic_load(&ns_search_signal) || w->stop_received)
            atomic_store(&j->stop, 1);
    }
    pthread_join(th, NULL);
    free(j->ckpt); /* (none left: the loop forwards it with the last events) */
    ns_msgbuf_free(&eb);
    if (over_time && j->res.status == NS_TRAIN_STOPPED && !w->stop_received &&
        !atomic_load(&ns_search_signal)) {
        j->res.status = NS_TRAIN_ERROR;
        snprintf(j->res.reason, sizeof j->res.reason,
                 "time limit: stopped after %.1f minutes (limits.trial_minutes %g) in epoch %d",
                 (ns_now() - t0) / 60, w->trial_s / 60, j->res.epochs_done + 1);
    }
    rc = failed ? -1 : send_result(w, a->trial, &j->res, wait_s);
out_sync:
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
out:
    pthread_condattr_destroy(&ca);
    free(batch);
    free(j->epochs);
    free(j);
    return rc;
}

/* Forward one epoch of a child's trial (ns_child_poll's callback). */
struct forward {
    struct worker *w;
    int trial;
    struct ns_msgbuf b;
    int failed;
};

static int forward_ckpt(void *ctx, int epoch, const uint8_t *buf, size_t len)
{
    struct forward *f = ctx;
    if (!f->failed && send_ckpt(f->w, &f->b, f->trial, epoch, buf, len) < 0)
        f->failed = 1;
    return 0;
}

static int forward_epoch(void *ctx, const struct ns_epoch_metrics *m)
{
    struct forward *f = ctx;
    struct ns_msg_epoch e = {.trial = f->trial, .m = *m};
    if (!f->failed &&
        (ns_msg_pack_epoch(&f->b, &e) < 0 || ns_send(f->w->t, NS_COORD, NS_MSG_EPOCH, &f->b) < 0))
        f->failed = 1;
    return 0;
}

/* Train one assigned trial in a child process (isolate.h): its epochs are forwarded as they
 * come, STOP or a signal stops it, and however it ends the coordinator gets a result. 0, or
 * -1 when the coordinator can no longer be told (the worker cannot go on). */
static int run_trial_isolated(struct worker *w, const struct ns_msg_assign *a,
                              const struct ns_recipe *base, double wait_s)
{
    struct ns_recipe r = *base;
    r.seed = a->seed;
    struct ns_train_result res;
    struct ns_child child;
    struct forward f = {w, a->trial, {0}, 0};
    struct ns_child_ckpt ck = {a->ckpt,           a->ckpt_len,  a->to,        w->checkpoint_every,
                               a->ckpt_last,      forward_ckpt, &f};
    if (ns_child_start(&child, &w->data, &r, w->limits, a->config, &ck) < 0) {
        memset(&res, 0, sizeof res);
        res.status = NS_TRAIN_ERROR;
        snprintf(res.reason, sizeof res.reason, "%s", ns_errmsg());
        return send_result(w, a->trial, &res, wait_s);
    }
    int rc = 0;
    while (!ns_child_poll(&child, TRAIN_POLL_S, forward_epoch, &f, &res)) {
        if (!f.failed && check_stop(w) < 0)
            f.failed = 1;
        if (f.failed || atomic_load(&ns_search_signal) || w->stop_received)
            ns_child_stop(&child);
    }
    ns_msgbuf_free(&f.b);
    if (f.failed)
        rc = -1;
    else
        rc = send_result(w, a->trial, &res, wait_s);
    return rc;
}

/* Wait for the next message from the coordinator, sleeping between polls. 1 with w->in
 * filled, or -1. */
static int wait_msg(struct worker *w)
{
    double nap = IDLE_POLL_MIN_S, t0 = ns_now();
    for (;;) {
        int got = ns_poll(w->t, &w->in, NS_COORD, NS_ANY);
        if (got)
            return got;
        ns_search_sleep(nap);
        double cap = ns_now() - t0 < IDLE_POLL_FINE_FOR_S ? IDLE_POLL_FINE_S : IDLE_POLL_MAX_S;
        nap = nap * 2 < cap ? nap * 2 : cap;
    }
}

/* After STOP: say goodbye (the coordinator waits for every worker's BYE before it
 * finalizes, so no message is left in flight). */
static int say_bye(struct worker *w)
{
    w->out.len = 0;
    return ns_send(w->t, NS_COORD, NS_MSG_BYE, &w->out);
}

/* Tell the coordinator this worker cannot go on (ns_errmsg says why). It answers with STOP,
 * which this worker then answers with BYE, so the job ends cleanly with the message printed
 * by rank 0 instead of hanging on a worker that left silently. 0, or -1 when even the
 * message cannot be sent. */
static int report_fatal(struct worker *w)
{
    char host[64], msg[2300];
    ns_search_host(host, sizeof host);
    snprintf(msg, sizeof msg, "rank %d (%s): %s", w->rank, host, ns_errmsg());
    if (ns_msg_pack_str(&w->out, msg) < 0)
        return -1;
    return ns_send(w->t, NS_COORD, NS_MSG_FATAL, &w->out);
}

int ns_search_worker(struct ns_transport *t, struct ns_search_report *rep)
{
    int rank = t->rank;
    struct worker w = {.rank = rank, .t = t, .data = {-1, 0}};
    struct ns_experiment ex;
    struct ns_dataset train, eval;
    struct ns_shared_data shared = {0};
    memset(&ex, 0, sizeof ex);
    memset(&train, 0, sizeof train);
    memset(&eval, 0, sizeof eval);
    int status = NS_SEARCH_ERROR, ready = 0, fatal = 0;
    double t_idle = 0;

    for (;;) {
        if (wait_msg(&w) < 0)
            goto out;
        if (w.in.kind == NS_MSG_STOP) {
            w.stop_received = 1;
            break;
        }
        if (w.in.kind == NS_MSG_SETUP && !ready) {
            char *text = NULL;
            int bad = ns_msg_unpack_str(w.in.buf, w.in.len, &text) < 0 ||
                      ns_experiment_parse(text, "experiment from rank 0", &ex) < 0 ||
                      ns_shared_data_load(&ex.data, &shared, &train, &eval) < 0 ||
                      ns_exp_data_check(&ex, &train) < 0;
            w.trial_s = ex.limits.trial_minutes * 60;
            w.limits = &ex.limits;
            w.checkpoint_every = ex.checkpoint_every;
            if (!bad && ex.limits.isolate && ns_child_data_make(&w.data, &train, &eval) < 0)
                bad = 1;
            free(text);
            if (bad) {
                fatal = 1;
                if (report_fatal(&w) < 0)
                    goto out;
                continue; /* the coordinator answers FATAL with STOP */
            }
            struct ns_msg_ready m = {.threads = ex.recipe.threads, .data_skipped = ex.data.skipped};
            ns_exp_data_fingerprint(&train, &eval, m.data_fp);
            ns_search_host(m.host, sizeof m.host);
            if (ns_msg_pack_ready(&w.out, &m) < 0 || ns_send(t, NS_COORD, NS_MSG_READY, &w.out) < 0)
                goto out;
            ready = 1;
            t_idle = ns_now();
            continue;
        }
        if (w.in.kind == NS_MSG_ASSIGN && ready) {
            struct ns_msg_assign a;
            double wait_s = ns_now() - t_idle;
            int bad = ns_msg_unpack_assign(w.in.buf, w.in.len, &a) < 0 ||
                      (ex.limits.isolate ? run_trial_isolated(&w, &a, &ex.recipe, wait_s)
                                         : run_trial(&w, &a, &ex.recipe, &train, &eval, wait_s)) < 0;
            ns_msg_assign_free(&a);
            if (bad) {
                fatal = 1;
                if (report_fatal(&w) < 0)
                    goto out;
                continue;
            }
            t_idle = ns_now();
            if (w.stop_received)
                break;
            continue;
        }
        ns_err("rank %d: unexpected message %d from the coordinator", rank, w.in.kind);
        fatal = 1;
        if (report_fatal(&w) < 0)
            goto out;
    }
    if (say_bye(&w) < 0)
        goto out;
    status = fatal                            ? NS_SEARCH_ERROR
             : atomic_load(&ns_search_signal) ? NS_SEARCH_INTERRUPTED
                                              : NS_SEARCH_DONE;
    if (rep)
        rep->n_trials = ex.samples;
out:
    ns_experiment_free(&ex);
    ns_shared_data_free(&shared, &train, &eval);
    ns_child_data_free(&w.data);
    ns_inbox_free(&w.in);
    ns_msgbuf_free(&w.out);
    return status;
}
