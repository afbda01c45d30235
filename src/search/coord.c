/* The coordinator (see coord.h): opening a study, the journal of db writes, the trial state
 * machine, and its two drivers, local (this process trains) and distributed (workers train
 * over a transport; this process only schedules and records). */
#include "search/coord.h"

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "nn/checkpoint.h"
#include "search/isolate.h"
#include "store/store.h"
#include "util/err.h"
#include "util/progress.h"
#include "util/timer.h"

/* Polling: short naps right after activity (results tend to come in bursts and a trivially
 * small trial is over in a millisecond), growing to 0.5 ms while messages keep coming and
 * to 5 ms after a quiet 0.1 s: a wake-up costs ~15 us (nanosleep plus an MPI_Iprobe that
 * progresses every transport), so 2000 a second would be 3% of a core, while 5 ms more
 * latency is nothing next to a trial of seconds. */
#define POLL_MIN_S 0.00002
#define POLL_BUSY_S 0.0005
#define POLL_QUIET_AFTER_S 0.1
#define POLL_MAX_S 0.005
/* After a signal, how long the coordinator waits for the workers' last results before it
 * reports: mpirun follows its SIGTERM with SIGKILL about a second later, and the report must
 * come out before that. Without a signal (done, or a fatal error) it waits longer. */
#define INTERRUPT_GRACE_S 0.3
#define STOP_GRACE_S 30.0
/* While another process holds the db's write lock: how long one try waits for it, and how
 * often the journal is retried. */
#define LOCK_WAIT_MS 50
#define LOCK_RETRY_S 0.5
/* A worker's trial time limit is enforced by the worker; the coordinator gives up on a
 * worker that has said nothing about its trial for the limit plus this grace (10% more,
 * and at least 30 s): the worker is stalled (stopped, swapping, cut off). */
#define TIMEOUT_GRACE_FRAC 0.1
#define TIMEOUT_GRACE_MIN_S 30.0

/* ---------------------------------------------------------------- the journal ----------- */

enum op_kind {
    OP_START,
    OP_EPOCH,
    OP_COMPLETE,
    OP_FAIL,
    OP_RESET,
    OP_LOST,
    OP_PAUSE,      /* back to waiting keeping the epoch rows (a checkpoint continues them) */
    OP_RUNG_CLEAR, /* a promotion */
    OP_RUNG_DONE,
    OP_CKPT,      /* the trial's checkpoint (replaces the one before) */
    OP_CKPT_DROP, /* trial -1: every trial's */
    OP_WEIGHTS,   /* keep_weights: a finished trial's weights, then keep the best K */
};

struct op {
    enum op_kind kind;
    int trial, rank;
    char host[64];
    int from;              /* OP_START: the epoch it continues after; OP_PAUSE: 1 = lost */
    struct ns_db_epoch e;  /* OP_EPOCH */
    struct ns_db_result r; /* OP_COMPLETE, OP_FAIL (no epoch rows: they came as OP_EPOCH) */
    char reason[300];      /* OP_FAIL */
    struct ns_db_rung g;   /* OP_RUNG_CLEAR, OP_RUNG_DONE */
    int epoch;             /* OP_CKPT */
    uint8_t *blob;         /* OP_CKPT, OP_WEIGHTS: a checkpoint (owned) */
    size_t len;
};

enum wstate { W_SETUP, W_IDLE, W_BUSY, W_LOST, W_GONE };

struct wslot {
    enum wstate state;
    int trial; /* W_BUSY, W_LOST: the trial it was given */
    int stop_sent;
    double deadline; /* W_BUSY with a time limit: when it is given up */
    double img_s;    /* the throughput of its last epoch */
    char host[64];
};

struct ns_coord {
    struct ns_experiment ex;
    struct ns_space *sp;
    struct ns_trial *trials; /* the whole study, index = trial */
    double *flops;           /* trials[i].cx.flops, for the scheduler */
    int *owner;              /* per trial: the rank training it in this run, -1 if none */
    int *attempts;           /* per trial: attempts used (the db's count, kept in step) */
    int *counted;            /* per trial: counted in n_complete (a multi-fidelity trial is
                                complete between rungs, running again when promoted) */
    int n;

    /* multi-fidelity search (fidelity.h) and checkpoints */
    int multi;               /* search.kind is not random */
    struct ns_fid fid;
    int *job_rung, *job_from, *job_to; /* per trial: the job out (while owner >= 0) */
    uint8_t **final;         /* per trial: its checkpoint after its job's last epoch, kept from
                                its CKPT to its RESULT (owned): journaled with the rung it
                                ends, or kept as weights (keep_weights) */
    size_t *final_len;
    int *final_epoch;
    unsigned char *fid_out;   /* per trial: ns_fid_out's answer (scratch) */
    unsigned char *ckpt_gone; /* per trial: its checkpoint was dropped for good (it is out) */
    struct ns_db *db;
    int lock_fd; /* holds the writer's flock() on the db file; -1 if none */
    int64_t study;
    struct ns_sched sched;
    int n_running, n_complete, n_failed;
    int best_trial;
    double best_err;
    double work_total, work_done; /* sum of flops x epochs: this run's, for the ETA */
    double t0;
    struct ns_progress prog;
    struct ns_search_report *rep;
    struct ns_clock clk;

    struct op *ops; /* the journal: written in order by flush() */
    int n_ops, cap_ops;
    int locked;      /* the last flush found the db locked by another process */
    double retry_at; /* when locked: the next try */

    /* the distributed driver */
    struct ns_transport *t;
    struct wslot *w; /* index = rank; [0] unused */
    struct ns_inbox in;
    struct ns_msgbuf out;
    int stopping;
    double deadline; /* when stopping: give up waiting for the workers' goodbyes */
    int status;      /* what the run ends with */
    double nap, last_msg;
    char error[2048]; /* the first error, reported at the end */
};

static double now(const struct ns_coord *c)
{
    return c->clk.now(c->clk.ctx);
}

static void ops_clear(struct ns_coord *c)
{
    for (int i = 0; i < c->n_ops; i++)
        free(c->ops[i].blob);
    c->n_ops = 0;
}

static struct op *op_new(struct ns_coord *c, enum op_kind kind, int trial)
{
    if (c->n_ops == c->cap_ops) {
        int cap = c->cap_ops ? 2 * c->cap_ops : 64;
        struct op *p = realloc(c->ops, (size_t)cap * sizeof *p);
        if (!p)
            return ns_err("out of memory for the db journal"), NULL;
        c->ops = p;
        c->cap_ops = cap;
    }
    struct op *o = &c->ops[c->n_ops++];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->trial = trial;
    return o;
}

/* ---------------------------------------------------------------- checkpoints in the db -- */

/* The trials' checkpoints and the kept weights live in the db (store/blobs.c, issue #15).
 * These adapters are the coordinator's only use of it. */

/* Store trial t's full checkpoint after `epoch` (replacing the one before). */
static int ckpt_put(struct ns_coord *c, int t, int epoch, const uint8_t *buf, size_t len)
{
    return ns_db_put_checkpoint(c->db, c->study, t, epoch, buf, len);
}

/* Trial t's stored checkpoint: 1 with *buf (malloc'd), *len and its epoch; 0 none. */
static int ckpt_get(struct ns_coord *c, int t, int *epoch, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    *epoch = 0;
    int rc = ns_db_get_checkpoint(c->db, c->study, t, buf, len, epoch);
    if (rc == 1 && ns_ckpt_check(*buf, *len, "a stored checkpoint") < 0) {
        /* a damaged one is not fatal: the trial trains from scratch to the same bits */
        free(*buf);
        *buf = NULL;
        return 0;
    }
    return rc;
}

/* Drop trial t's checkpoint (t = -1: every trial's of the study). */
static int ckpt_drop(struct ns_coord *c, int t)
{
    if (t >= 0)
        return ns_db_drop_checkpoint(c->db, c->study, t);
    for (int i = 0; i < c->n; i++)
        if (ns_db_drop_checkpoint(c->db, c->study, i) < 0)
            return -1;
    return 0;
}

/* keep_weights: store the weights of trial t (from its final full checkpoint) and keep
 * only the best keep_weights trials' (by their recorded error: the trial's OP_COMPLETE is
 * journaled before). */
static int weights_put(struct ns_coord *c, int t, const uint8_t *buf, size_t len)
{
    uint8_t *w = NULL;
    size_t n = 0;
    if (ns_ckpt_strip(buf, len, &w, &n) < 0)
        return ns_err_prefix("trial %d's weights", t);
    int rc = ns_db_put_weights(c->db, c->study, t, c->ex.recipe.epochs, w, n);
    free(w);
    if (rc == 0 && ns_db_prune_weights(c->db, c->study, c->ex.keep_weights) < 0)
        rc = -1;
    return rc;
}

static int op_apply(struct ns_coord *c, const struct op *o)
{
    switch (o->kind) {
    case OP_START:
        return ns_db_trial_start_at(c->db, c->study, o->trial, o->rank, o->host, o->from);
    case OP_EPOCH:
        return ns_db_trial_epoch(c->db, c->study, o->trial, &o->e);
    case OP_COMPLETE:
        return ns_db_trial_complete(c->db, c->study, o->trial, &o->r);
    case OP_FAIL:
        return ns_db_trial_fail(c->db, c->study, o->trial, o->reason, &o->r);
    case OP_RESET:
        return ns_db_trial_reset(c->db, c->study, o->trial);
    case OP_LOST:
        return ns_db_trial_lost(c->db, c->study, o->trial);
    case OP_PAUSE:
        return ns_db_trial_pause(c->db, c->study, o->trial, o->from);
    case OP_RUNG_CLEAR:
        return ns_db_rung_clear(c->db, c->study, o->trial, o->g.rung, o->g.epochs);
    case OP_RUNG_DONE:
        return ns_db_rung_done(c->db, c->study, o->trial, &o->g);
    case OP_CKPT:
        return ckpt_put(c, o->trial, o->epoch, o->blob, o->len);
    case OP_CKPT_DROP:
        return ckpt_drop(c, o->trial);
    case OP_WEIGHTS:
        return weights_put(c, o->trial, o->blob, o->len);
    }
    return ns_err("unknown journal entry %d", (int)o->kind);
}

static void progress(struct ns_coord *c, int force, double img_s, const char *event);

/* Write the journal in one transaction. 0 when written (or empty); 1 when the db is locked
 * by another process (the journal is kept for the next try); -1 on any other failure. */
static int flush(struct ns_coord *c)
{
    if (c->n_ops == 0)
        return 0;
    if (c->locked && now(c) < c->retry_at)
        return 1;
    int rc = ns_db_begin(c->db);
    for (int i = 0; rc == 0 && i < c->n_ops; i++)
        rc = op_apply(c, &c->ops[i]);
    if (rc == 0)
        rc = ns_db_commit(c->db);
    if (rc == 0) {
        if (c->locked) {
            char event[160];
            snprintf(event, sizeof event, "%s: lock released; %d writes recorded",
                     ns_db_path(c->db), c->n_ops);
            c->locked = 0;
            ops_clear(c);
            progress(c, 1, 0, event);
        }
        ops_clear(c);
        return 0;
    }
    int locked = ns_db_locked(c->db);
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", ns_errmsg());
    ns_db_rollback(c->db); /* an error when no batch was open: nothing to undo */
    if (ns_db_in_place(c->db) < 0) /* moved: after the rollback, the message names the copy */
        snprintf(msg, sizeof msg, "%s", ns_errmsg());
    if (!locked)
        return ns_err("%s", msg);
    if (!c->locked) {
        char event[300];
        snprintf(event, sizeof event,
                 "%s is locked by another process; holding %d writes until it is released",
                 ns_db_path(c->db), c->n_ops);
        progress(c, 1, 0, event);
    }
    c->locked = 1;
    c->retry_at = now(c) + LOCK_RETRY_S;
    return 1;
}

int ns_coord_unwritten(const struct ns_coord *c)
{
    return c->n_ops;
}

/* ---------------------------------------------------------------- opening --------------- */

static void progress(struct ns_coord *c, int force, double img_s, const char *event)
{
    if (!c->prog.out)
        return;
    char eta[32] = "?";
    if (c->work_done > 0 && c->work_total > c->work_done)
        ns_fmt_duration(eta, sizeof eta,
                        (now(c) - c->t0) * (c->work_total - c->work_done) / c->work_done);
    else if (c->work_total > 0 && c->work_done >= c->work_total)
        snprintf(eta, sizeof eta, "0s");
    char best[48] = "-";
    if (c->best_trial >= 0)
        snprintf(best, sizeof best, "%.2f%% (trial %d)", c->best_err, c->best_trial);
    ns_progress_show(&c->prog, force,
                     "%s%s%d/%d done, %d running, %d failed | %.0f img/s | best %s | ETA %s",
                     event ? event : "", event ? " | " : "", c->n_complete + c->n_failed, c->n,
                     c->n_running, c->n_failed, img_s, best, eta);
}

/* One writer per db: a second search on the same file (the same command started twice)
 * would retrain the first one's running trials. An flock() on the db file says "taken"; it
 * is independent of SQLite's own fcntl() locks on Linux, and readers never ask for it. The
 * descriptor stays open until after the db is closed, since closing any descriptor of a
 * file drops the process's fcntl() locks on it, SQLite's included. */
static int writer_lock(struct ns_coord *c, const char *path)
{
    c->lock_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (c->lock_fd < 0)
        return ns_err("%s: cannot open: %s", path, strerror(errno));
    if (flock(c->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return ns_err("%s: another netspace search is writing this db; wait for it to end "
                          "or stop it first",
                          path);
        return ns_err("%s: cannot lock: %s", path, strerror(errno));
    }
    return 0;
}

/* The study exists with another experiment: say where the two differ. */
static void explain_refusal(struct ns_coord *c, const char *study_json)
{
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", ns_errmsg());
    char *stored = NULL;
    char diff[512] = "";
    if (ns_db_study_experiment(c->db, c->ex.name, &stored) == 1)
        ns_experiment_diff(stored, study_json, diff, sizeof diff);
    free(stored);
    if (diff[0])
        ns_err("%s: %s (differs in: %s)", c->ex.file, msg, diff);
    else
        ns_err("%s: %s", c->ex.file, msg);
}

/* A study may grow: when the stored experiment of this name differs from this one only in a
 * smaller "samples", store this one (sampling is prefix-stable, so the trials the db holds
 * are this study's first ones; ns_db_trial_add checks their hashes). A larger stored
 * "samples" is refused: the db would hold trials beyond this experiment's. Any other
 * difference is left to ns_db_study_ensure, which refuses it. */
static int grow_study(struct ns_coord *c, const char *study_json)
{
    char *stored = NULL;
    int found = ns_db_study_experiment(c->db, c->ex.name, &stored);
    if (found <= 0)
        return found;
    int rc = 0;
    json_t *old = json_loads(stored, 0, NULL), *cur = json_loads(study_json, 0, NULL);
    json_t *os = old ? json_object_get(old, "samples") : NULL;
    json_t *cs = cur ? json_object_get(cur, "samples") : NULL;
    if (json_is_integer(os) && json_is_integer(cs)) {
        json_int_t was = json_integer_value(os), cur_n = json_integer_value(cs);
        json_object_del(old, "samples");
        json_object_del(cur, "samples");
        if (was != cur_n && json_equal(old, cur)) {
            if (c->ex.search.kind != NS_FID_RANDOM)
                rc = ns_err("%s: study '%s' has %lld samples in %s; a multi-fidelity study "
                            "cannot grow (its rungs were sized for its samples): use another "
                            "name",
                            c->ex.file, c->ex.name, (long long)was, ns_db_path(c->db));
            else if (cur_n < was)
                rc = ns_err("%s: study '%s' has %lld samples in %s; a study can grow but not "
                            "shrink (run it with %lld samples or more, or use another name)",
                            c->ex.file, c->ex.name, (long long)was, ns_db_path(c->db),
                            (long long)was);
            else if ((rc = ns_db_study_set_experiment(c->db, c->ex.name, study_json)) == 0)
                c->rep->grown_from = (int)was;
        }
    }
    json_decref(old);
    json_decref(cur);
    free(stored);
    return rc;
}

/* The study and its trials exist in the db (idempotently); a dead run's 'running' trials
 * are stale; trials that used their attempts are failed. One transaction. */
static int store_study(struct ns_coord *c)
{
    char *study_json = ns_experiment_study_json(&c->ex, c->ex.space_path);
    if (!study_json)
        return -1;
    struct ns_db_study_def def = {c->ex.name, study_json, c->ex.seed,
                                  c->ex.space_file ? c->ex.space_file : ns_space_name(c->sp)};
    if (ns_db_begin(c->db) < 0) {
        free(study_json);
        return -1;
    }
    int rc = grow_study(c, study_json);
    if (rc == 0) {
        c->study = ns_db_study_ensure(c->db, &def, NULL);
        rc = c->study < 0 ? -1 : 0;
        if (rc < 0)
            explain_refusal(c, study_json);
    }
    free(study_json);
    int np = ns_space_n_params(c->sp);
    struct ns_db_param params[NS_SPACE_MAX_PARAMS];
    for (int i = 0; rc == 0 && i < c->n; i++) {
        const struct ns_trial *t = &c->trials[i];
        for (int k = 0; k < np; k++)
            params[k] = (struct ns_db_param){ns_space_param_name(c->sp, k), t->params[k]};
        struct ns_db_trial_def td = {i,
                                     t->stream,
                                     t->json,
                                     t->hash,
                                     (int64_t)t->cx.flops,
                                     (int64_t)t->cx.params,
                                     (int64_t)t->cx.acts,
                                     params,
                                     np,
                                     ns_exp_train_seed(&c->ex, i)};
        if (ns_db_trial_add(c->db, c->study, &td) < 0)
            rc = -1;
    }
    if (rc == 0 && ns_db_mark_stale(c->db, c->study) < 0)
        rc = -1;
    if (rc == 0 && ns_db_fail_exhausted(c->db, c->study, c->ex.limits.max_attempts) < 0)
        rc = -1;
    if (rc == 0 && ns_db_commit(c->db) < 0)
        rc = -1;
    if (rc < 0) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", ns_errmsg());
        ns_db_rollback(c->db);
        return ns_err("%s", msg);
    }
    return 0;
}

/* The best trial of a multi-fidelity study: the lowest error at the deepest rung any trial
 * finished (ties: the lower index), so that a trial trained for a few epochs does not beat
 * one trained for all. A failed trial is no model (it diverged or crashed on the rung after
 * its last), even though its finished rungs are on record. */
static void multi_best(struct ns_coord *c)
{
    int deep = -1;
    for (int i = 0; i < c->n; i++)
        if (!c->fid.t[i].failed && c->fid.t[i].done > deep)
            deep = c->fid.t[i].done;
    c->best_trial = -1;
    for (int i = 0; deep >= 0 && i < c->n; i++) {
        const struct ns_fid_trial *t = &c->fid.t[i];
        if (!t->failed && t->done == deep && !isnan(t->err[deep]) &&
            (c->best_trial < 0 || t->err[deep] < c->best_err)) {
            c->best_err = t->err[deep];
            c->best_trial = i;
        }
    }
}

/* A multi-fidelity study: the schedule restored from the rungs the db recorded (the
 * promotions ASHA made included) and the trials' states. */
static int load_rungs(struct ns_coord *c, const struct ns_db_trial *all, int n_all,
                      const char *path)
{
    struct ns_fid_spec spec = {c->ex.search.kind, c->ex.search.eta, c->ex.search.min_epochs,
                               c->ex.search.max_epochs};
    if (ns_fid_init(&c->fid, &spec, c->n) < 0)
        return ns_err_prefix("%s", c->ex.file);
    struct ns_db_rung *g = NULL;
    int ng = 0;
    if (ns_db_rungs_load(c->db, c->study, &g, &ng) < 0)
        return -1;
    int rc = 0;
    for (int k = 0; rc == 0 && k < ng;) {
        int t = g[k].trial, cleared = -1, done = -1;
        double err[NS_FID_MAX_RUNGS];
        for (int r = 0; r < NS_FID_MAX_RUNGS; r++)
            err[r] = NAN;
        for (; k < ng && g[k].trial == t; k++) {
            int r = g[k].rung;
            if (r < 0 || r >= c->fid.n_rungs || g[k].epochs != c->fid.epochs[r]) {
                rc = ns_err("%s: trial %d's rung %d (%d epochs) is not a rung of this schedule",
                            path, t, r, g[k].epochs);
                break;
            }
            cleared = r > cleared ? r : cleared;
            if (!isnan(g[k].test_error)) {
                err[r] = g[k].test_error;
                done = r > done ? r : done;
            }
        }
        if (rc == 0 && ns_fid_load(&c->fid, t, cleared, done, err, 0) < 0)
            rc = ns_err_prefix("%s", path);
    }
    free(g);
    for (int i = 0; rc == 0 && i < n_all; i++)
        if (all[i].state == NS_DB_FAILED)
            ns_fid_fail(&c->fid, all[i].idx);
    if (rc == 0)
        multi_best(c);
    return rc;
}

/* What the db holds: counts, the best trial, attempts; then queue what is left. Ties of
 * the best error go to the lowest trial index, so a resumed study names the same best
 * trial as an uninterrupted one. */
static int load_state(struct ns_coord *c, const char *path)
{
    struct ns_db_trial *all = NULL;
    int n_all = 0;
    if (ns_db_trials_load(c->db, c->study, 0, &all, &n_all) < 0)
        return -1;
    int *pending = malloc((size_t)(n_all ? n_all : 1) * sizeof *pending), n_pending = 0;
    int rc = pending ? 0 : ns_err("out of memory for %d trials", n_all);
    for (int i = 0; rc == 0 && i < n_all; i++) {
        const struct ns_db_trial *t = &all[i];
        if (t->idx < 0 || t->idx >= c->n) {
            rc = ns_err("%s: study '%s' has trial %d, beyond its %d samples", path, c->ex.name,
                        t->idx, c->n);
            break;
        }
        c->attempts[t->idx] = t->attempts;
        if (t->state == NS_DB_FAILED) {
            c->n_failed++;
        } else if (t->state == NS_DB_COMPLETE) {
            c->n_complete++;
            c->counted[t->idx] = 1;
            if (!isnan(t->test_error) && (c->best_trial < 0 || t->test_error < c->best_err)) {
                c->best_err = t->test_error;
                c->best_trial = t->idx;
            }
        } else {
            pending[n_pending++] = t->idx;
        }
    }
    if (rc == 0 && c->multi)
        rc = load_rungs(c, all, n_all, path);
    ns_db_trials_free(all, n_all);
    if (rc == 0)
        rc = ns_sched_init(&c->sched, pending, n_pending, c->flops);
    for (int i = 0; rc == 0 && i < n_pending; i++)
        c->work_total += c->flops[pending[i]] * c->ex.recipe.epochs;
    free(pending);
    c->rep->n_pending_start = n_pending;
    return rc;
}

struct ns_coord *ns_coord_open(const struct ns_search_opts *o, struct ns_search_report *rep,
                               const struct ns_clock *clk)
{
    struct ns_coord *c = calloc(1, sizeof *c);
    if (!c)
        return ns_err("out of memory"), NULL;
    c->lock_fd = -1;
    c->best_trial = -1;
    c->rep = rep;
    c->clk = clk ? *clk : ns_clock_real;
    c->t0 = now(c);
    ns_progress_init(&c->prog, o->progress ? o->progress : stderr, o->progress == NULL);
    if (!o->progress)
        c->prog.out = NULL;
    if (ns_experiment_load(o->experiment, &c->ex) < 0 ||
        (o->samples > 0 && ns_experiment_cap_samples(&c->ex, o->samples) < 0))
        goto fail;
    snprintf(rep->study, sizeof rep->study, "%s", c->ex.name);
    c->sp = ns_experiment_space(&c->ex);
    if (!c->sp)
        goto fail;
    if (ns_space_sample(c->sp, c->ex.seed, c->ex.samples, &c->trials, NULL) < 0) {
        ns_err_prefix("%s", c->ex.file);
        goto fail;
    }
    c->n = c->ex.samples;
    rep->n_trials = c->n;
    c->flops = malloc((size_t)c->n * sizeof *c->flops);
    c->owner = malloc((size_t)c->n * sizeof *c->owner);
    c->attempts = calloc((size_t)c->n, sizeof *c->attempts);
    c->counted = calloc((size_t)c->n, sizeof *c->counted);
    c->job_rung = calloc((size_t)c->n, sizeof *c->job_rung);
    c->job_from = calloc((size_t)c->n, sizeof *c->job_from);
    c->job_to = calloc((size_t)c->n, sizeof *c->job_to);
    c->final = calloc((size_t)c->n, sizeof *c->final);
    c->final_len = calloc((size_t)c->n, sizeof *c->final_len);
    c->final_epoch = calloc((size_t)c->n, sizeof *c->final_epoch);
    c->fid_out = calloc((size_t)c->n, 1);
    c->ckpt_gone = calloc((size_t)c->n, 1);
    c->multi = c->ex.search.kind != NS_FID_RANDOM;
    if (!c->flops || !c->owner || !c->attempts || !c->counted || !c->job_rung || !c->job_from ||
        !c->job_to || !c->final || !c->final_len || !c->final_epoch || !c->fid_out ||
        !c->ckpt_gone) {
        ns_err("out of memory for %d trials", c->n);
        goto fail;
    }
    for (int i = 0; i < c->n; i++) {
        c->flops[i] = c->trials[i].cx.flops;
        c->owner[i] = -1;
    }
    c->db = ns_db_open(o->db, NS_DB_RW | NS_DB_CREATE);
    if (!c->db || writer_lock(c, o->db) < 0 || store_study(c) < 0 || load_state(c, o->db) < 0)
        goto fail;
    ns_db_set_busy_timeout(c->db, LOCK_WAIT_MS);
    return c;
fail:
    ns_coord_close(c);
    return NULL;
}

void ns_coord_close(struct ns_coord *c)
{
    if (!c)
        return;
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", ns_errmsg());
    struct ns_search_report *r = c->rep;
    r->n_complete = c->n_complete;
    r->n_failed = c->n_failed;
    r->best_trial = c->best_trial;
    r->best_err = c->best_err;
    r->multi = c->multi;
    r->test_selection = c->multi && c->ex.data.val_split == 0;
    r->on_validation = c->ex.data.val_split > 0;
    r->epochs_spent = -1;
    if (c->db && c->study > 0) {
        long long e = ns_db_study_epochs_spent(c->db, c->study);
        if (e >= 0)
            r->epochs_spent = e;
    }
    ns_progress_end(&c->prog);
    ns_db_close(c->db);
    if (c->lock_fd >= 0)
        close(c->lock_fd);
    ns_sched_free(&c->sched);
    ns_fid_free(&c->fid);
    ops_clear(c);
    free(c->ops);
    for (int i = 0; c->final && i < c->n; i++)
        free(c->final[i]);
    free(c->final);
    free(c->final_len);
    free(c->final_epoch);
    free(c->fid_out);
    free(c->ckpt_gone);
    free(c->job_rung);
    free(c->job_from);
    free(c->job_to);
    free(c->counted);
    free(c->owner);
    free(c->attempts);
    free(c->flops);
    free(c->trials);
    if (c->sp)
        ns_space_free(c->sp);
    ns_experiment_free(&c->ex);
    ns_inbox_free(&c->in);
    ns_msgbuf_free(&c->out);
    free(c->w);
    free(c);
    ns_err("%s", msg);
}

/* The dataset a process loaded (its fingerprint fp) must be the study's: the first run stores
 * it, a resume on other data is refused naming the files. `who` names the process. */
static int data_check(struct ns_coord *c, const char *fp, int skipped, const char *who)
{
    char stored[32], files[1024];
    int rc = ns_db_study_data_check(c->db, c->study, fp, skipped, stored, sizeof stored);
    if (skipped > c->rep->data_skipped)
        c->rep->data_skipped = skipped;
    if (rc <= 0)
        return rc;
    ns_exp_data_describe(&c->ex.data, files, sizeof files);
    return ns_err("%s: %s%sthe dataset differs from the one study '%s' was trained on "
                  "(fingerprint %s, now %s): %s; use that data, or another study name",
                  c->ex.file, who ? who : "", who ? ": " : "", c->ex.name, stored, fp, files);
}

/* ---------------------------------------------------------------- trial state machine --- */

/* What a trial is handed out to do: all of it (rung -1, to 0: recipe.epochs), or a rung of
 * a multi-fidelity schedule; from > 0 continues from the checkpoint ckpt. */
struct job {
    int trial, rung, from, to, ckpt_last;
    uint8_t *ckpt; /* owned */
    size_t ckpt_len;
};

/* Trial t's latest checkpoint: the journal's if it holds one not yet written, else the
 * db's. 1 with a malloc'd copy, 0 none, -1 error. */
static int ckpt_find(struct ns_coord *c, int t, int *epoch, uint8_t **buf, size_t *len)
{
    for (int i = c->n_ops - 1; i >= 0; i--) {
        const struct op *o = &c->ops[i];
        if (o->kind == OP_CKPT_DROP && (o->trial == t || o->trial < 0))
            break;
        if (o->kind != OP_CKPT || o->trial != t)
            continue;
        *buf = malloc(o->len);
        if (!*buf)
            return ns_err("out of memory for trial %d's checkpoint", t);
        memcpy(*buf, o->blob, o->len);
        *len = o->len;
        *epoch = o->epoch;
        return 1;
    }
    return ckpt_get(c, t, epoch, buf, len);
}

/* The next job, if one can be handed out now: 1 with *j, 0 none, -1 error. A multi-fidelity
 * promotion is journaled as it is decided (ASHA's are not a function of the results). */
static int next_job(struct ns_coord *c, struct job *j)
{
    memset(j, 0, sizeof *j);
    j->rung = -1;
    if (!c->multi) {
        j->trial = ns_sched_next(&c->sched);
        if (j->trial < 0)
            return 0;
    } else {
        struct ns_fid_job fj;
        int got = ns_fid_next(&c->fid, c->flops, &fj);
        if (got <= 0)
            return got < 0 ? ns_err_prefix("%s", c->ex.file) : 0;
        j->trial = fj.trial;
        j->rung = fj.rung;
        j->to = fj.to;
        struct op *o = op_new(c, OP_RUNG_CLEAR, fj.trial);
        if (!o)
            return -1;
        o->g.rung = fj.rung;
        o->g.epochs = fj.to;
    }
    int max = c->ex.recipe.epochs, to = j->to ? j->to : max;
    j->ckpt_last = to < max || c->ex.keep_weights > 0;
    /* continue from the trial's checkpoint when it has one before `to` (a rung's end, or
     * checkpoint_every's); without one (never made, or dropped) it trains from scratch,
     * to the same bits */
    int e = 0;
    uint8_t *b = NULL;
    size_t n = 0;
    int rc = c->multi || c->ex.checkpoint_every > 0 ? ckpt_find(c, j->trial, &e, &b, &n) : 0;
    if (rc < 0)
        return -1;
    if (rc == 1 && e >= 1 && e < to) {
        j->from = e;
        j->ckpt = b;
        j->ckpt_len = n;
    } else {
        free(b);
    }
    return 1;
}

static int trial_start(struct ns_coord *c, const struct job *j, int rank, const char *host)
{
    int trial = j->trial;
    struct op *o = op_new(c, OP_START, trial);
    if (!o)
        return -1;
    o->rank = rank;
    o->from = j->from;
    snprintf(o->host, sizeof o->host, "%s", host ? host : "");
    c->owner[trial] = rank;
    c->attempts[trial]++;
    c->n_running++;
    c->job_rung[trial] = j->rung;
    c->job_from[trial] = j->from;
    c->job_to[trial] = j->to ? j->to : c->ex.recipe.epochs;
    if (c->counted[trial]) { /* promoted: complete no more until this rung is done */
        c->counted[trial] = 0;
        c->n_complete--;
    }
    return 0;
}

/* A checkpoint of `trial` after `epoch` from `rank` (ignored when the trial is no longer that
 * rank's). One before the job's last epoch (checkpoint_every) is journaled at once: a
 * preempted job continues from it. The one after the job's last epoch is held until its
 * RESULT and journaled with it (trial_result), so that the db never holds a rung's end
 * checkpoint without the rung: written alone (rank 0 flushes between the CKPT and the
 * RESULT) and killed there, it would replace the checkpoint the rung started from, and the
 * resume would retrain the trial from scratch. After the full budget it is the weights
 * keep_weights keeps. */
static int trial_ckpt(struct ns_coord *c, int trial, int rank, int epoch, const uint8_t *buf,
                      size_t len)
{
    if (trial < 0 || trial >= c->n || c->owner[trial] != rank)
        return 0;
    if (epoch >= c->ex.recipe.epochs && !c->ex.keep_weights)
        return 0;
    char what[64];
    snprintf(what, sizeof what, "trial %d's checkpoint after epoch %d", trial, epoch);
    if (ns_ckpt_check(buf, len, what) < 0)
        return -1;
    uint8_t *copy = malloc(len);
    if (!copy)
        return ns_err("out of memory for trial %d's checkpoint (%zu bytes)", trial, len);
    memcpy(copy, buf, len);
    if (epoch >= c->job_to[trial]) {
        free(c->final[trial]);
        c->final[trial] = copy;
        c->final_len[trial] = len;
        c->final_epoch[trial] = epoch;
        return 0;
    }
    struct op *o = op_new(c, OP_CKPT, trial);
    if (!o) {
        free(copy);
        return -1;
    }
    o->epoch = epoch;
    o->blob = copy;
    o->len = len;
    return 0;
}

/* A trial's job is over unfinished (interrupted, lost): back to waiting. With checkpoints
 * in play the epoch rows stay (a resume continues them from the checkpoint). */
static int trial_put_back(struct ns_coord *c, int trial, int lost)
{
    /* a checkpoint after the job's last epoch without its result: no job continues from it
     * (a job starts before its last epoch) */
    free(c->final[trial]);
    c->final[trial] = NULL;
    if (c->multi)
        ns_fid_requeue(&c->fid, trial);
    if (c->multi || c->ex.checkpoint_every > 0) {
        struct op *o = op_new(c, OP_PAUSE, trial);
        if (!o)
            return -1;
        o->from = lost;
        return 0;
    }
    return op_new(c, lost ? OP_LOST : OP_RESET, trial) ? 0 : -1;
}

/* An epoch of `trial` from `rank`; ignored when the trial is no longer that rank's (put
 * back by an interrupt, or taken back from a stalled worker). */
static int trial_epoch(struct ns_coord *c, int trial, int rank, const struct ns_epoch_metrics *m,
                       double img_s_total)
{
    if (trial < 0 || trial >= c->n || c->owner[trial] != rank)
        return 0;
    struct op *o = op_new(c, OP_EPOCH, trial);
    if (!o)
        return -1;
    o->e = (struct ns_db_epoch){m->epoch - 1, m->train_loss, m->train_err, m->test_err, m->seconds};
    c->work_done += c->flops[trial];
    progress(c, 0, img_s_total, NULL);
    return 0;
}

/* A trial is over for this run: failed with `reason` (res may be NULL) and counted. */
static int trial_failed(struct ns_coord *c, int trial, const char *reason,
                        const struct ns_db_result *res)
{
    struct op *o = op_new(c, OP_FAIL, trial);
    if (!o)
        return -1;
    snprintf(o->reason, sizeof o->reason, "%s", reason);
    if (res)
        o->r = *res;
    else
        o->r.train_error = o->r.test_error = o->r.best_test_error = o->r.wall_s = NAN;
    if (c->multi) {
        ns_fid_fail(&c->fid, trial);
        multi_best(c); /* it may have been the best so far */
    }
    if (c->counted[trial]) {
        c->counted[trial] = 0;
        c->n_complete--;
    }
    if ((c->multi || c->ex.checkpoint_every > 0) && !op_new(c, OP_CKPT_DROP, trial))
        return -1;
    free(c->final[trial]);
    c->final[trial] = NULL;
    c->n_failed++;
    c->rep->n_trained++;
    return 0;
}

/* A multi-fidelity trial finished its job's rung: recorded in the schedule and the db (its
 * error, the epochs trained for it). A result that does not end at the rung's epoch (a
 * trainer that ignored stop_after) is an error, not a silently wrong rung. */
static int record_rung(struct ns_coord *c, int trial, const struct ns_train_result *r,
                       const struct ns_db_result *res)
{
    int rung = c->job_rung[trial], to = c->job_to[trial];
    if (r->epochs_done != to)
        return ns_err("trial %d: rung %d ends at epoch %d, but training stopped after %d",
                      trial, rung, to, r->epochs_done);
    if (ns_fid_record(&c->fid, trial, rung, res->test_error) < 0)
        return -1;
    struct op *o = op_new(c, OP_RUNG_DONE, trial);
    if (!o)
        return -1;
    /* the rung's cost: from its start, also when this job continued from a checkpoint
     * inside it (checkpoint_every: an earlier, preempted attempt trained those epochs);
     * from further back when no checkpoint was left at its start */
    int start = rung == ns_fid_first_rung(&c->fid, trial) ? 0 : c->fid.epochs[rung - 1];
    int from = c->job_from[trial] < start ? c->job_from[trial] : start;
    o->g = (struct ns_db_rung){trial, rung, to, res->test_error, to - from, r->seconds};
    c->attempts[trial] = 0;
    return 0;
}

/* A trial trained all its epochs: its checkpoint is not needed any more; its weights are
 * kept when keep_weights asks (the store keeps the best K). */
static int finished(struct ns_coord *c, int trial)
{
    if ((c->multi || c->ex.checkpoint_every > 0) && !op_new(c, OP_CKPT_DROP, trial))
        return -1;
    if (c->ex.keep_weights > 0 && c->final[trial]) {
        struct op *o = op_new(c, OP_WEIGHTS, trial);
        if (!o)
            return -1;
        o->blob = c->final[trial];
        o->len = c->final_len[trial];
        c->final[trial] = NULL;
    }
    return 0;
}

/* A multi-fidelity study: drop, once each, the checkpoints of the trials that will train no
 * more (SHA and Hyperband: those a closed rung left behind). Kept to the study's end, a
 * study of big models would hold one per trial (tens of MB each) in the db, and SQLite does
 * not give the pages back to the file system. */
static int drop_out_checkpoints(struct ns_coord *c)
{
    if (!c->multi)
        return 0;
    if (ns_fid_out(&c->fid, c->fid_out) < 0)
        return ns_err("out of memory for the schedule of %d trials", c->n);
    for (int i = 0; i < c->n; i++)
        if (c->fid_out[i] && !c->ckpt_gone[i]) {
            if (!op_new(c, OP_CKPT_DROP, i))
                return -1;
            c->ckpt_gone[i] = 1;
        }
    return 0;
}

/* Record a trial's result from `rank`. A stopped trial goes back to 'waiting'. A result for a
 * trial that is no longer that rank's is ignored: the interrupt put it back (its epoch rows
 * are gone: a 'complete' trial with a partial curve would be wrong) or it was taken back from
 * a stalled worker and handed to another. */
static int trial_result(struct ns_coord *c, int trial, int rank, const struct ns_train_result *r,
                        double img_s_total)
{
    if (trial < 0 || trial >= c->n)
        return ns_err("result for trial %d, which is not in the study", trial);
    if (c->owner[trial] != rank)
        return 0;
    c->owner[trial] = -1;
    c->n_running--;
    struct ns_db_result res = {r->train_err, r->test_err, r->best_test_err, r->seconds, NULL, 0};
    if (r->epochs_done <= 0) /* nothing was measured: no error is not a 0% error */
        res.train_error = res.test_error = res.best_test_error = NAN;
    char event[400];
    switch (r->status) {
    case NS_TRAIN_OK: {
        if (c->multi && record_rung(c, trial, r, &res) < 0)
            return -1;
        if (c->final[trial] && c->final_epoch[trial] < c->ex.recipe.epochs) {
            /* the checkpoint the next rung continues from, in the transaction of the rung */
            struct op *o = op_new(c, OP_CKPT, trial);
            if (!o)
                return -1;
            o->epoch = c->final_epoch[trial];
            o->blob = c->final[trial];
            o->len = c->final_len[trial];
            c->final[trial] = NULL;
        }
        struct op *o = op_new(c, OP_COMPLETE, trial);
        if (!o)
            return -1;
        o->r = res;
        c->n_complete++;
        c->counted[trial] = 1;
        c->rep->n_trained++;
        if (c->multi) {
            multi_best(c);
        } else if (!isnan(r->test_err) &&
                   (c->best_trial < 0 || r->test_err < c->best_err ||
                    (r->test_err == c->best_err && trial < c->best_trial))) {
            c->best_err = r->test_err;
            c->best_trial = trial;
        }
        if (r->epochs_done >= c->ex.recipe.epochs && finished(c, trial) < 0)
            return -1;
        if (c->multi)
            snprintf(event, sizeof event, "trial %d: %.2f%% at epoch %d (rung %d) in %.1fs",
                     trial, r->test_err, r->epochs_done, c->job_rung[trial], r->seconds);
        else
            snprintf(event, sizeof event, "trial %d: %.2f%% in %.1fs", trial, r->test_err,
                     r->seconds);
        break;
    }
    case NS_TRAIN_DIVERGED:
    case NS_TRAIN_ERROR: {
        char reason[300];
        const char *kind = r->status == NS_TRAIN_DIVERGED ? "diverged" : "error";
        if (strncmp(r->reason, kind, strlen(kind)) == 0)
            snprintf(reason, sizeof reason, "%s", r->reason);
        else
            snprintf(reason, sizeof reason, "%s: %s", kind, r->reason[0] ? r->reason : "?");
        if (trial_failed(c, trial, reason, &res) < 0)
            return -1;
        snprintf(event, sizeof event, "trial %d failed: %s", trial, reason);
        break;
    }
    default: /* stopped: put back, the attempt given back */
        return trial_put_back(c, trial, 0);
    }
    if (drop_out_checkpoints(c) < 0)
        return -1;
    c->rep->train_s += r->seconds;
    c->work_done += c->flops[trial] * (c->ex.recipe.epochs - r->epochs_done);
    progress(c, 1, img_s_total, event);
    return 0;
}

/* A trial's worker gave no result in time: take the trial back. It counts as an attempt;
 * with attempts left it is handed out again (first), else it fails with the reason. */
static int trial_timed_out(struct ns_coord *c, int trial, int rank)
{
    c->owner[trial] = -1;
    c->n_running--;
    char event[400];
    if (c->attempts[trial] >= c->ex.limits.max_attempts) {
        char reason[300];
        snprintf(reason, sizeof reason,
                 "timed out %d times: no result within limits.trial_minutes (%g) plus a grace; "
                 "its worker stopped responding",
                 c->attempts[trial], c->ex.limits.trial_minutes);
        if (trial_failed(c, trial, reason, NULL) < 0 || drop_out_checkpoints(c) < 0)
            return -1;
        snprintf(event, sizeof event, "trial %d failed: %s", trial, reason);
    } else {
        if (trial_put_back(c, trial, 1) < 0 || (!c->multi && ns_sched_requeue(&c->sched, trial) < 0))
            return -1;
        snprintf(event, sizeof event,
                 "rank %d gave no result for trial %d in time; trial handed to another worker",
                 rank, trial);
    }
    progress(c, 1, 0, event);
    return 0;
}

/* An interrupt or error: every trial still out goes back to 'waiting' now (the attempt given
 * back), so that the db is right even if this process is killed in the next second
 * (mpirun's SIGKILL). Returns what flush() returns. */
static int put_back(struct ns_coord *c)
{
    for (int i = 0; i < c->n; i++)
        if (c->owner[i] >= 0) {
            if (trial_put_back(c, i, 0) < 0)
                return -1;
            c->owner[i] = -1;
            c->n_running--;
        }
    return flush(c);
}

/* ---------------------------------------------------------------- local driver ---------- */

struct local_ctx {
    struct ns_coord *c;
    int trial;
    int failed; /* a db write failed: stop training */
};

static int local_ckpt(void *ctx, int epoch, const uint8_t *buf, size_t len)
{
    struct local_ctx *l = ctx;
    if (trial_ckpt(l->c, l->trial, 0, epoch, buf, len) < 0 || flush(l->c) < 0) {
        l->failed = 1;
        return 1;
    }
    return 0;
}

static int local_epoch(void *ctx, const struct ns_epoch_metrics *m)
{
    struct local_ctx *l = ctx;
    if (trial_epoch(l->c, l->trial, 0, m, m->img_per_s) < 0 || flush(l->c) < 0) {
        l->failed = 1;
        return 1;
    }
    return 0;
}

/* Train trial t in a child process (isolate.h), recording its epochs as they come; a signal
 * stops it. *res is its result, or how it died. */
static void train_isolated(struct ns_coord *c, const struct ns_child_data *data,
                           const struct ns_recipe *r, const struct job *j, struct local_ctx *l,
                           struct ns_train_result *res)
{
    struct ns_child child;
    struct ns_child_ckpt ck = {j->ckpt,       j->ckpt_len, j->to, c->ex.checkpoint_every,
                               j->ckpt_last, local_ckpt,  l};
    if (ns_child_start(&child, data, r, &c->ex.limits, c->trials[j->trial].json, &ck) < 0) {
        memset(res, 0, sizeof *res);
        res->status = NS_TRAIN_ERROR;
        snprintf(res->reason, sizeof res->reason, "%s", ns_errmsg());
        return;
    }
    while (!ns_child_poll(&child, 0.05, local_epoch, l, res))
        if (l->failed || atomic_load(&ns_search_signal))
            ns_child_stop(&child);
}

/* Keep trying to write the journal while another process holds the lock; a signal ends the
 * wait (the db stays consistent: what was not written is trained again). 0 or -1. */
static int flush_wait(struct ns_coord *c)
{
    int rc;
    while ((rc = flush(c)) == 1 && !atomic_load(&ns_search_signal))
        c->clk.sleep(c->clk.ctx, LOCK_RETRY_S);
    if (rc == 1)
        return ns_err("%s: still locked by another process; %d writes not recorded (their "
                      "trials are trained again on resume)",
                      ns_db_path(c->db), c->n_ops);
    return rc;
}

int ns_coord_run_local(struct ns_coord *c)
{
    struct ns_dataset train, eval;
    if (ns_exp_data_load(&c->ex.data, &train, &eval) < 0)
        return NS_SEARCH_ERROR;
    int status = NS_SEARCH_DONE;
    struct ns_child_data data = {-1, 0};
    char fp[17];
    ns_exp_data_fingerprint(&train, &eval, fp);
    if (ns_exp_data_check(&c->ex, &train) < 0 || data_check(c, fp, c->ex.data.skipped, NULL) < 0 ||
        (c->ex.limits.isolate && ns_child_data_make(&data, &train, &eval) < 0))
        status = NS_SEARCH_ERROR;
    char host[64];
    ns_search_host(host, sizeof host);
    progress(c, 0, 0, NULL);
    while (status == NS_SEARCH_DONE) {
        if (atomic_load(&ns_search_signal)) {
            status = NS_SEARCH_INTERRUPTED;
            break;
        }
        struct job j;
        int got = next_job(c, &j);
        if (got <= 0) {
            if (got < 0)
                status = NS_SEARCH_ERROR;
            break; /* alone, nothing runs: no job now is none ever */
        }
        int t = j.trial;
        struct ns_config cfg;
        if (trial_start(c, &j, 0, host) < 0 || flush(c) < 0 ||
            ns_config_from_json(c->trials[t].json, &cfg) < 0) {
            free(j.ckpt);
            status = NS_SEARCH_ERROR;
            break;
        }
        struct ns_recipe r = c->ex.recipe;
        r.seed = ns_exp_train_seed(&c->ex, t);
        struct local_ctx l = {c, t, 0};
        struct ns_train_result res;
        if (data.fd >= 0)
            train_isolated(c, &data, &r, &j, &l, &res);
        else
            ns_train(&cfg, &train, &eval, &r,
                     &(struct ns_train_opts){.on_epoch = local_epoch,
                                             .ctx = &l,
                                             .stop = &ns_search_signal,
                                             .resume = j.ckpt,
                                             .resume_len = j.ckpt_len,
                                             .stop_after = j.to,
                                             .checkpoint_every = c->ex.checkpoint_every,
                                             .checkpoint_last = j.ckpt_last,
                                             .on_checkpoint = local_ckpt},
                     &res);
        free(j.ckpt);
        if (l.failed || trial_result(c, t, 0, &res, res.img_per_s) < 0 || flush(c) < 0) {
            status = NS_SEARCH_ERROR;
            break;
        }
    }
    if (status == NS_SEARCH_DONE && (c->multi || c->ex.checkpoint_every > 0) &&
        !op_new(c, OP_CKPT_DROP, -1))
        status = NS_SEARCH_ERROR;
    if (status == NS_SEARCH_DONE && flush_wait(c) < 0)
        status = NS_SEARCH_ERROR;
    /* a db replaced after the last write (nothing would notice it otherwise); checked
     * whatever the status, so that the copy is made and named */
    char first[2048], moved[2048];
    snprintf(first, sizeof first, "%s", ns_errmsg());
    if (ns_db_in_place(c->db) < 0) {
        snprintf(moved, sizeof moved, "%s", ns_errmsg());
        if (status == NS_SEARCH_ERROR && strstr(first, ".rescued-"))
            ns_err("%s", first); /* the failure was the move, already said */
        else if (status == NS_SEARCH_ERROR)
            ns_err("%s; and %s", first, moved);
        status = NS_SEARCH_ERROR;
    }
    if (status != NS_SEARCH_DONE) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", ns_errmsg());
        put_back(c);
        ns_err("%s", msg);
    }
    ns_child_data_free(&data);
    ns_data_free(&train);
    ns_data_free(&eval);
    return status;
}

/* ---------------------------------------------------------------- distributed driver ---- */

static double img_s_total(const struct ns_coord *c)
{
    double s = 0;
    for (int r = 1; r < c->t->size; r++)
        if (c->w[r].state == W_BUSY)
            s += c->w[r].img_s;
    return s;
}

static void keep_error(struct ns_coord *c)
{
    if (!c->error[0])
        snprintf(c->error, sizeof c->error, "%s", ns_errmsg()[0] ? ns_errmsg() : "unknown error");
}

/* Stop handing out work and tell every worker to stop; with `status` interrupted or error
 * the trials still out are put back to 'waiting' at once. */
static void begin_stop(struct ns_coord *c, int status)
{
    if (status == NS_SEARCH_ERROR)
        keep_error(c);
    if (c->stopping) {
        if (status == NS_SEARCH_ERROR)
            c->status = status;
        return;
    }
    c->stopping = 1;
    c->status = status;
    c->deadline = now(c) + (status == NS_SEARCH_INTERRUPTED ? INTERRUPT_GRACE_S : STOP_GRACE_S);
    if (status != NS_SEARCH_DONE && put_back(c) < 0) {
        keep_error(c);
        c->status = NS_SEARCH_ERROR;
    }
    c->out.len = 0;
    c->out.oom = 0;
    for (int r = 1; r < c->t->size; r++)
        if (c->w[r].state != W_GONE && !c->w[r].stop_sent) {
            /* a worker that cannot be told is not waited for */
            if (ns_send(c->t, r, NS_MSG_STOP, &c->out) < 0) {
                c->w[r].state = W_GONE;
                if (c->status != NS_SEARCH_ERROR) {
                    keep_error(c);
                    c->status = NS_SEARCH_ERROR;
                }
            }
            c->w[r].stop_sent = 1;
        }
}

static int assign(struct ns_coord *c, int r)
{
    struct job j;
    int got = next_job(c, &j);
    if (got <= 0)
        return got;
    int t = j.trial;
    struct ns_msg_assign a = {.trial = t,
                              .seed = ns_exp_train_seed(&c->ex, t),
                              .rung = j.rung,
                              .from = j.from,
                              .to = j.to,
                              .ckpt_last = j.ckpt_last,
                              .ckpt = j.ckpt,
                              .ckpt_len = j.ckpt_len};
    snprintf(a.config, sizeof a.config, "%s", c->trials[t].json);
    int rc = trial_start(c, &j, r, c->w[r].host) < 0 || ns_msg_pack_assign(&c->out, &a) < 0 ||
             ns_send(c->t, r, NS_MSG_ASSIGN, &c->out) < 0;
    free(j.ckpt);
    if (rc)
        return -1;
    c->w[r].state = W_BUSY;
    c->w[r].trial = t;
    double lim = c->ex.limits.trial_minutes * 60;
    double grace = lim * TIMEOUT_GRACE_FRAC;
    c->w[r].deadline =
        lim > 0 ? now(c) + lim + (grace > TIMEOUT_GRACE_MIN_S ? grace : TIMEOUT_GRACE_MIN_S)
                : INFINITY;
    return 1;
}

static int handle(struct ns_coord *c)
{
    struct ns_inbox *in = &c->in;
    if (in->src <= 0 || in->src >= c->t->size)
        return ns_err("message %d from rank %d, which is not a worker", in->kind, in->src);
    struct wslot *w = &c->w[in->src];
    switch (in->kind) {
    case NS_MSG_READY: {
        struct ns_msg_ready rd;
        if (ns_msg_unpack_ready(in->buf, in->len, &rd) < 0)
            return ns_err_prefix("rank %d", in->src);
        snprintf(w->host, sizeof w->host, "%s", rd.host);
        char who[128];
        snprintf(who, sizeof who, "rank %d (%s)", in->src, rd.host);
        if (data_check(c, rd.data_fp, rd.data_skipped, who) < 0)
            return -1;
        if (w->state == W_SETUP)
            w->state = W_IDLE;
        return 0;
    }
    case NS_MSG_FATAL: {
        char *text = NULL;
        if (ns_msg_unpack_str(in->buf, in->len, &text) < 0)
            return ns_err_prefix("rank %d", in->src);
        ns_err("%s", text);
        free(text);
        begin_stop(c, NS_SEARCH_ERROR);
        return 0;
    }
    case NS_MSG_EPOCH: {
        struct ns_msg_epoch e;
        if (ns_msg_unpack_epoch(in->buf, in->len, &e) < 0)
            return ns_err_prefix("rank %d", in->src);
        if (w->state != W_BUSY || w->trial != e.trial)
            return 0; /* a worker given up on: its trial is someone else's now */
        w->img_s = e.m.img_per_s;
        return trial_epoch(c, e.trial, in->src, &e.m, img_s_total(c));
    }
    case NS_MSG_RESULT: {
        struct ns_msg_result r;
        if (ns_msg_unpack_result(in->buf, in->len, &r) < 0)
            return ns_err_prefix("rank %d", in->src);
        if (w->state == W_LOST && w->trial == r.trial) {
            /* a stalled worker came back: its trial went to another, it may have more */
            w->state = W_IDLE;
            char event[160];
            snprintf(event, sizeof event,
                     "rank %d is back; its late result for trial %d is ignored", in->src, r.trial);
            progress(c, 1, img_s_total(c), event);
            return 0;
        }
        if (w->state != W_BUSY || w->trial != r.trial)
            return ns_err("rank %d sent a result for trial %d, which it was not given", in->src,
                          r.trial);
        w->state = W_IDLE;
        if (r.r.img_per_s > 0)
            w->img_s = r.r.img_per_s;
        c->rep->wait_s += r.wait_s;
        if (trial_result(c, r.trial, in->src, &r.r, img_s_total(c)) < 0)
            return -1;
        /* A worker stopped by its own signal (not via mpirun, which signals everyone)
         * means the job is being stopped: treat it like our own interrupt. */
        if (r.r.status == NS_TRAIN_STOPPED && !c->stopping)
            begin_stop(c, NS_SEARCH_INTERRUPTED);
        return 0;
    }
    case NS_MSG_CKPT: {
        struct ns_msg_ckpt k;
        if (ns_msg_unpack_ckpt(in->buf, in->len, &k) < 0)
            return ns_err_prefix("rank %d", in->src);
        if (w->state != W_BUSY || w->trial != k.trial)
            return 0; /* a worker given up on */
        return trial_ckpt(c, k.trial, in->src, k.epoch, k.buf, k.len);
    }
    case NS_MSG_BYE:
        if (w->state == W_BUSY)
            return ns_err("rank %d left while training trial %d", in->src, w->trial);
        w->state = W_GONE;
        return 0;
    default:
        return ns_err("rank %d sent an unexpected message (%d)", in->src, in->kind);
    }
}

void ns_coord_begin(struct ns_coord *c, struct ns_transport *t)
{
    c->t = t;
    c->status = NS_SEARCH_DONE;
    c->nap = POLL_MIN_S;
    c->last_msg = now(c);
    c->w = calloc((size_t)t->size, sizeof *c->w);
    if (!c->w) {
        /* nothing can be tracked: say so and tell nobody (no slot to remember them by) */
        snprintf(c->error, sizeof c->error, "out of memory for %d workers", t->size);
        c->status = NS_SEARCH_ERROR;
        c->stopping = 1;
        c->deadline = -INFINITY;
        return;
    }
    char *setup = ns_experiment_setup_json(&c->ex);
    if (!setup || ns_msg_pack_str(&c->out, setup) < 0) {
        free(setup);
        ns_err("out of memory for the SETUP message");
        begin_stop(c, NS_SEARCH_ERROR);
        return;
    }
    free(setup);
    for (int r = 1; r < t->size; r++)
        if (ns_send(t, r, NS_MSG_SETUP, &c->out) < 0) {
            ns_err_prefix("cannot send the experiment to rank %d", r);
            begin_stop(c, NS_SEARCH_ERROR);
            return;
        }
    progress(c, 0, 0, NULL);
}

int ns_coord_step(struct ns_coord *c)
{
    if (!c->w)
        return 0;
    if (atomic_load(&ns_search_signal) && !c->stopping)
        begin_stop(c, NS_SEARCH_INTERRUPTED);
    double t_now = now(c);
    int busy = 0, out = 0;
    for (int r = 1; r < c->t->size; r++) {
        struct wslot *w = &c->w[r];
        if (w->state == W_BUSY && t_now > w->deadline && !c->stopping) {
            w->state = W_LOST;
            if (trial_timed_out(c, w->trial, r) < 0)
                begin_stop(c, NS_SEARCH_ERROR);
        }
        if (!c->stopping && w->state == W_IDLE && assign(c, r) < 0)
            begin_stop(c, NS_SEARCH_ERROR);
        busy += w->state == W_BUSY;
        out += w->state != W_GONE;
    }
    if (!c->stopping && busy == 0 &&
        (c->multi ? ns_fid_finished(&c->fid) : c->sched.next >= c->sched.n)) {
        /* the study is over: the trials' checkpoints are not needed any more */
        if ((c->multi || c->ex.checkpoint_every > 0) && !op_new(c, OP_CKPT_DROP, -1))
            begin_stop(c, NS_SEARCH_ERROR);
        else
            begin_stop(c, NS_SEARCH_DONE);
    }
    if (out == 0 || (c->stopping && t_now > c->deadline)) {
        /* The end. Trials that finish from now on are lost and retrained on resume: the db
         * is already consistent without them. What the journal holds is written first,
         * waiting out another process's lock unless a signal says to hurry. */
        int rc = flush(c);
        while (rc == 1 && !atomic_load(&ns_search_signal)) {
            c->clk.sleep(c->clk.ctx, LOCK_RETRY_S);
            rc = flush(c);
        }
        if (rc != 0 && c->status != NS_SEARCH_ERROR) {
            if (rc == 1)
                ns_err("%s: still locked by another process; %d writes not recorded (their "
                       "trials are trained again on resume)",
                       ns_db_path(c->db), c->n_ops);
            keep_error(c);
            c->status = NS_SEARCH_ERROR;
        }
        /* a db replaced after the last write (nothing would notice it otherwise); checked
         * whatever the status, so that the copy is made and named */
        if (ns_db_in_place(c->db) < 0) {
            if (c->status == NS_SEARCH_ERROR && !strstr(c->error, ".rescued-")) {
                size_t used = strlen(c->error); /* c->error is not ns_errmsg's buffer */
                snprintf(c->error + used, sizeof c->error - used, "; and %s", ns_errmsg());
            }
            keep_error(c);
            c->status = NS_SEARCH_ERROR;
        }
        return 0;
    }
    int got = ns_poll(c->t, &c->in, NS_ANY, NS_ANY);
    if (got < 0) {
        /* The transport itself failed: nothing more can be said to the workers. */
        keep_error(c);
        c->status = NS_SEARCH_ERROR;
        put_back(c);
        return 0;
    }
    if (got) {
        if (handle(c) < 0)
            begin_stop(c, NS_SEARCH_ERROR);
        c->nap = POLL_MIN_S;
        c->last_msg = now(c);
        return 1;
    }
    if (flush(c) < 0)
        begin_stop(c, NS_SEARCH_ERROR);
    progress(c, 0, img_s_total(c), NULL);
    c->clk.sleep(c->clk.ctx, c->nap);
    double cap = now(c) - c->last_msg < POLL_QUIET_AFTER_S ? POLL_BUSY_S : POLL_MAX_S;
    c->nap = c->nap * 2 < cap ? c->nap * 2 : cap;
    return 1;
}

int ns_coord_workers_stalled(const struct ns_coord *c)
{
    int n = 0;
    for (int r = 1; c->w && r < c->t->size; r++)
        n += c->w[r].state == W_LOST;
    return n;
}

int ns_coord_status(const struct ns_coord *c)
{
    if (c->status == NS_SEARCH_ERROR)
        ns_err("%s", c->error);
    return c->status;
}

int ns_coord_serve(struct ns_coord *c, struct ns_transport *t)
{
    ns_coord_begin(c, t);
    while (ns_coord_step(c))
        ;
    return ns_coord_status(c);
}

void ns_coord_turn_away(struct ns_transport *t, const struct ns_clock *clk)
{
    const struct ns_clock *k = clk ? clk : &ns_clock_real;
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", ns_errmsg());
    struct ns_msgbuf empty = {0};
    int waiting = 0;
    for (int r = 1; r < t->size; r++)
        waiting += ns_send(t, r, NS_MSG_STOP, &empty) == 0;
    /* wait for the goodbyes so MPI_Finalize finds nothing in flight */
    struct ns_inbox in = {0};
    double deadline = k->now(k->ctx) + STOP_GRACE_S;
    while (waiting > 0 && k->now(k->ctx) < deadline) {
        int got = ns_poll(t, &in, NS_ANY, NS_ANY);
        if (got < 0)
            break;
        if (got && in.kind == NS_MSG_BYE)
            waiting--;
        else if (!got)
            k->sleep(k->ctx, POLL_MAX_S);
    }
    ns_inbox_free(&in);
    ns_err("%s", msg);
}
