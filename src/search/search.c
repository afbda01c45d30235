/* Running a study: the coordinator (rank 0, or the only process) and its two drivers,
 * local (one process trains the trials itself, one after another) and MPI (workers train,
 * rank 0 only schedules and records).
 *
 * The coordinator keeps the db consistent at every commit: a trial is 'running' from its
 * assignment until its result is written, and its epochs and result are written together
 * with its final state by the store. Writes are batched: one transaction holds everything
 * handled since the coordinator last ran out of messages, committed before it sleeps, so a
 * reader sees each result within milliseconds and the cost is one commit per burst. */
#include "search/internal.h"

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/err.h"
#include "util/progress.h"
#include "util/timer.h"

volatile sig_atomic_t ns_search_signal;

/* Coordinator polling: short naps right after activity (results tend to come in bursts and
 * a trivially small trial is over in a millisecond), growing to 0.5 ms while messages keep
 * coming and to 5 ms after a quiet 0.1 s: a wake-up costs ~15 us (nanosleep plus an
 * MPI_Iprobe that progresses every transport), so 2000 a second would be 3% of a core,
 * while 5 ms more latency is nothing next to a trial of seconds. */
#define POLL_MIN_S 0.00002
#define POLL_BUSY_S 0.0005
#define POLL_QUIET_AFTER_S 0.1
#define POLL_MAX_S 0.005
/* After a signal, how long the coordinator waits for the workers' last results before it
 * reports: mpirun follows its SIGTERM with SIGKILL about a second later, and the report must
 * come out before that. Without a signal (done, or a fatal error) it waits longer. */
#define INTERRUPT_GRACE_S 0.3
#define STOP_GRACE_S 30.0

/* ---------------------------------------------------------------- transport ------------- */

int ns_search_send(int dest, int kind, const struct ns_msgbuf *b)
{
    static unsigned char empty;
    int rc = MPI_Send(b->len ? b->p : &empty, (int)b->len, MPI_BYTE, dest, kind, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        return ns_err("MPI_Send of message %d to rank %d failed (%d)", kind, dest, rc);
    return 0;
}

int ns_search_poll(struct ns_inbox *in, int src, int kind)
{
    int flag = 0, count = 0;
    MPI_Status st;
    if (MPI_Iprobe(src, kind, MPI_COMM_WORLD, &flag, &st) != MPI_SUCCESS)
        return ns_err("MPI_Iprobe failed");
    if (!flag)
        return 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    if (count < 0)
        return ns_err("message of unknown size from rank %d", st.MPI_SOURCE);
    if ((size_t)count + 1 > in->cap) {
        unsigned char *p = realloc(in->buf, (size_t)count + 1);
        if (!p)
            return ns_err("out of memory for a %d-byte message", count);
        in->buf = p;
        in->cap = (size_t)count + 1;
    }
    if (MPI_Recv(in->buf, count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE) != MPI_SUCCESS)
        return ns_err("MPI_Recv from rank %d failed", st.MPI_SOURCE);
    in->kind = st.MPI_TAG;
    in->src = st.MPI_SOURCE;
    in->len = (size_t)count;
    return 1;
}

void ns_inbox_free(struct ns_inbox *in)
{
    free(in->buf);
    memset(in, 0, sizeof *in);
}

void ns_search_sleep(double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
}

void ns_search_host(char *out, size_t n)
{
    int init = 0;
    MPI_Initialized(&init);
    if (init) {
        char name[MPI_MAX_PROCESSOR_NAME];
        int len = 0;
        if (MPI_Get_processor_name(name, &len) == MPI_SUCCESS && len > 0) {
            snprintf(out, n, "%.*s", len, name);
            return;
        }
    }
    if (gethostname(out, n) != 0)
        snprintf(out, n, "?");
    out[n - 1] = 0;
}

int ns_search_under_mpi(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE",
                                       "MPI_LOCALNRANKS",      NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

/* ---------------------------------------------------------------- signals --------------- */

static struct sigaction old_int, old_term;

static void on_signal(int sig)
{
    /* A second signal means "now": fall back to the default action. The db is consistent
     * at every commit, so the next run resumes from the last one. */
    if (ns_search_signal) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    ns_search_signal = sig;
}

static void signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    ns_search_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
}

static void signals_restore(void)
{
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
}

/* ---------------------------------------------------------------- the coordinator ------- */

struct coord {
    struct ns_experiment ex;
    struct ns_space *sp;
    struct ns_trial *trials; /* the whole study, index = trial */
    double *flops;           /* trials[i].cx.flops, for the scheduler */
    int n;
    struct ns_db *db;
    int lock_fd; /* holds the writer's flock() on the db file; -1 if none */
    int64_t study;
    int in_batch;
    struct ns_sched sched;
    char *running; /* per trial: 1 while handed out in this run */
    int n_running;
    int n_complete, n_failed;
    int best_trial;
    double best_err;
    double work_total, work_done; /* sum of flops x epochs: this run's, for the ETA */
    double t0;
    struct ns_progress prog;
    struct ns_search_report *rep;
};

static int batch_begin(struct coord *c)
{
    if (c->in_batch)
        return 0;
    if (ns_db_begin(c->db) < 0)
        return -1;
    c->in_batch = 1;
    return 0;
}

static int batch_commit(struct coord *c)
{
    if (!c->in_batch)
        return 0;
    if (ns_db_commit(c->db) < 0) {
        /* the store leaves a failed COMMIT open: undo it so later writes start afresh,
         * keeping the commit's own message */
        char why[1024];
        snprintf(why, sizeof why, "%s", ns_errmsg());
        ns_db_rollback(c->db);
        c->in_batch = 0;
        return ns_err("%s", why);
    }
    c->in_batch = 0;
    return 0;
}

static void progress(struct coord *c, int force, double img_s, const char *event)
{
    if (!c->prog.out)
        return;
    char eta[32] = "?";
    if (c->work_done > 0 && c->work_total > c->work_done)
        ns_fmt_duration(eta, sizeof eta,
                        (ns_now() - c->t0) * (c->work_total - c->work_done) / c->work_done);
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
static int writer_lock(struct coord *c, const char *path)
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
static void explain_refusal(struct coord *c, const char *study_json)
{
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", ns_errmsg());
    struct ns_db_study_info *st = NULL;
    int n = 0;
    char diff[512] = "";
    if (ns_db_studies(c->db, &st, &n) == 0) {
        for (int i = 0; i < n; i++)
            if (!strcmp(st[i].name, c->ex.name) && st[i].experiment_json)
                ns_experiment_diff(st[i].experiment_json, study_json, diff, sizeof diff);
        ns_db_studies_free(st, n);
    }
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
static int grow_study(struct coord *c, const char *study_json)
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
        json_int_t was = json_integer_value(os), now = json_integer_value(cs);
        json_object_del(old, "samples");
        json_object_del(cur, "samples");
        if (was != now && json_equal(old, cur)) {
            if (now < was)
                rc = ns_err("%s: study '%s' has %lld samples in %s; a study can grow but not "
                            "shrink (use \"samples\": %lld or more, or another name)",
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

/* Load the experiment, sample the study, open the db and bring it up to date: the study and
 * its trials exist (idempotently), trials left 'running' by a dead run are 'stale', and the
 * scheduler holds what is left to train, largest first. */
static int coord_open(struct coord *c, const struct ns_search_opts *o, struct ns_search_report *rep)
{
    memset(c, 0, sizeof *c);
    c->lock_fd = -1;
    c->best_trial = -1;
    c->rep = rep;
    c->t0 = ns_now();
    ns_progress_init(&c->prog, o->progress ? o->progress : stderr, o->progress == NULL);
    if (!o->progress)
        c->prog.out = NULL;
    if (ns_experiment_load(o->experiment, &c->ex) < 0)
        return -1;
    snprintf(rep->study, sizeof rep->study, "%s", c->ex.name);
    c->sp = ns_experiment_space(&c->ex);
    if (!c->sp)
        return -1;
    if (ns_space_sample(c->sp, c->ex.seed, c->ex.samples, &c->trials, NULL) < 0)
        return ns_err_prefix("%s", c->ex.file);
    c->n = c->ex.samples;
    rep->n_trials = c->n;
    c->flops = malloc((size_t)c->n * sizeof *c->flops);
    c->running = calloc((size_t)c->n, 1);
    if (!c->flops || !c->running)
        return ns_err("out of memory for %d trials", c->n);
    for (int i = 0; i < c->n; i++)
        c->flops[i] = c->trials[i].cx.flops;

    char *study_json = ns_experiment_study_json(&c->ex, c->ex.space_path);
    if (!study_json)
        return -1;
    c->db = ns_db_open(o->db, NS_DB_RW | NS_DB_CREATE);
    if (!c->db || writer_lock(c, o->db) < 0) {
        free(study_json);
        return -1;
    }
    struct ns_db_study_def def = {c->ex.name, study_json, c->ex.seed,
                                  c->ex.space_file ? c->ex.space_file : ns_space_name(c->sp)};
    int rc = batch_begin(c);
    if (rc == 0) {
        rc = grow_study(c, study_json);
        if (rc == 0) {
            c->study = ns_db_study_ensure(c->db, &def, NULL);
            rc = c->study < 0 ? -1 : 0;
            if (rc < 0)
                explain_refusal(c, study_json);
        }
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
                                     ns_search_train_seed(c->ex.seed, i)};
        if (ns_db_trial_add(c->db, c->study, &td) < 0)
            rc = -1;
    }
    if (rc == 0 && ns_db_mark_stale(c->db, c->study) < 0)
        rc = -1;
    if (rc == 0)
        rc = batch_commit(c);
    if (rc < 0) {
        if (c->in_batch)
            ns_db_rollback(c->db);
        c->in_batch = 0;
        return -1;
    }

    struct ns_db_trial *done = NULL;
    int n_done = 0;
    if (ns_db_trials_load(c->db, c->study,
                          NS_DB_STATE_BIT(NS_DB_COMPLETE) | NS_DB_STATE_BIT(NS_DB_FAILED), &done,
                          &n_done) < 0)
        return -1;
    for (int i = 0; i < n_done; i++) {
        if (done[i].state == NS_DB_FAILED) {
            c->n_failed++;
            continue;
        }
        c->n_complete++;
        if (!isnan(done[i].test_error) && (c->best_trial < 0 || done[i].test_error < c->best_err)) {
            c->best_err = done[i].test_error;
            c->best_trial = done[i].idx;
        }
    }
    ns_db_trials_free(done, n_done);

    int *pending = NULL, n_pending = 0;
    if (ns_db_trials_pending(c->db, c->study, &pending, &n_pending) < 0)
        return -1;
    for (int i = 0; i < n_pending; i++)
        if (pending[i] < 0 || pending[i] >= c->n) {
            free(pending);
            return ns_err("%s: study '%s' has trial %d, beyond its %d samples", o->db, c->ex.name,
                          pending[i], c->n);
        }
    rc = ns_sched_init(&c->sched, pending, n_pending, c->flops);
    for (int i = 0; i < n_pending; i++)
        c->work_total += c->flops[pending[i]] * c->ex.recipe.epochs;
    free(pending);
    rep->n_pending_start = n_pending;
    return rc;
}

static void coord_close(struct coord *c)
{
    if (c->db && c->in_batch)
        ns_db_rollback(c->db);
    ns_progress_end(&c->prog);
    ns_db_close(c->db);
    if (c->lock_fd >= 0)
        close(c->lock_fd);
    ns_sched_free(&c->sched);
    free(c->running);
    free(c->flops);
    free(c->trials);
    if (c->sp)
        ns_space_free(c->sp);
    ns_experiment_free(&c->ex);
}

static int coord_start(struct coord *c, int trial, int rank, const char *host)
{
    if (batch_begin(c) < 0 || ns_db_trial_start(c->db, c->study, trial, rank, host) < 0)
        return -1;
    c->running[trial] = 1;
    c->n_running++;
    return 0;
}

static int coord_epoch(struct coord *c, int trial, const struct ns_epoch_metrics *m,
                       double img_s_total)
{
    if (trial < 0 || trial >= c->n || !c->running[trial])
        return 0; /* a trial already put back (interrupted): its epochs are moot */
    struct ns_db_epoch e = {m->epoch - 1, m->train_loss, m->train_err, m->test_err, m->seconds};
    if (batch_begin(c) < 0 || ns_db_trial_epoch(c->db, c->study, trial, &e) < 0)
        return -1;
    c->work_done += c->flops[trial];
    progress(c, 0, img_s_total, NULL);
    return 0;
}

/* Record a trial's result. A stopped trial goes back to 'waiting' (unless it already was). */
static int coord_result(struct coord *c, int trial, const struct ns_train_result *r,
                        double img_s_total)
{
    if (trial < 0 || trial >= c->n)
        return ns_err("result for trial %d, which is not in the study", trial);
    /* A trial the interrupt already put back lost its epoch rows and ignored the epochs that
     * came after: recording its late result would make a 'complete' trial with a partial
     * curve. It stays waiting and the resume trains it again, to the same numbers. */
    if (!c->running[trial])
        return 0;
    c->running[trial] = 0;
    c->n_running--;
    if (batch_begin(c) < 0)
        return -1;
    struct ns_db_result res = {r->train_err, r->test_err, r->best_test_err, r->seconds, NULL, 0};
    if (r->epochs_done <= 0) /* nothing was measured: no error is not a 0% error */
        res.train_error = res.test_error = res.best_test_error = NAN;
    char reason[300], event[400];
    int rc;
    switch (r->status) {
    case NS_TRAIN_OK:
        rc = ns_db_trial_complete(c->db, c->study, trial, &res);
        c->n_complete++;
        if (!isnan(r->test_err) && (c->best_trial < 0 || r->test_err < c->best_err)) {
            c->best_err = r->test_err;
            c->best_trial = trial;
        }
        snprintf(event, sizeof event, "trial %d: %.2f%% in %.1fs", trial, r->test_err, r->seconds);
        break;
    case NS_TRAIN_DIVERGED:
    case NS_TRAIN_ERROR: {
        const char *kind = r->status == NS_TRAIN_DIVERGED ? "diverged" : "error";
        if (strncmp(r->reason, kind, strlen(kind)) == 0)
            snprintf(reason, sizeof reason, "%s", r->reason);
        else
            snprintf(reason, sizeof reason, "%s: %s", kind, r->reason[0] ? r->reason : "?");
        rc = ns_db_trial_fail(c->db, c->study, trial, reason, &res);
        c->n_failed++;
        snprintf(event, sizeof event, "trial %d failed: %s", trial, reason);
        break;
    }
    default: /* stopped */
        return ns_db_trial_reset(c->db, c->study, trial);
    }
    if (rc < 0)
        return -1;
    c->rep->n_trained++;
    c->rep->train_s += r->seconds;
    c->work_done += c->flops[trial] * (c->ex.recipe.epochs - r->epochs_done);
    progress(c, 1, img_s_total, event);
    return 0;
}

/* An interrupt or error: every trial still out goes back to 'waiting' now, so that the db
 * is right even if this process is killed in the next second (mpirun's SIGKILL). */
static int coord_put_back(struct coord *c)
{
    if (c->n_running == 0)
        return batch_commit(c);
    if (batch_begin(c) < 0)
        return -1;
    for (int i = 0; i < c->n; i++)
        if (c->running[i]) {
            if (ns_db_trial_reset(c->db, c->study, i) < 0)
                return -1;
            c->running[i] = 0;
            c->n_running--;
        }
    return batch_commit(c);
}

static void coord_report(struct coord *c)
{
    struct ns_search_report *r = c->rep;
    r->n_complete = c->n_complete;
    r->n_failed = c->n_failed;
    r->best_trial = c->best_trial;
    r->best_err = c->best_err;
}

/* ---------------------------------------------------------------- local driver ---------- */

struct local_ctx {
    struct coord *c;
    int trial;
    int failed; /* a db write failed: stop training */
};

static int local_epoch(void *ctx, const struct ns_epoch_metrics *m)
{
    struct local_ctx *l = ctx;
    if (coord_epoch(l->c, l->trial, m, m->img_per_s) < 0 || batch_commit(l->c) < 0) {
        l->failed = 1;
        return 1;
    }
    return 0;
}

static int run_local(struct coord *c)
{
    struct ns_dataset train, eval;
    if (ns_exp_data_load(&c->ex.data, &train, &eval) < 0)
        return NS_SEARCH_ERROR;
    char host[64];
    ns_search_host(host, sizeof host);
    int status = NS_SEARCH_DONE;
    progress(c, 0, 0, NULL);
    for (;;) {
        if (ns_search_signal) {
            status = NS_SEARCH_INTERRUPTED;
            break;
        }
        int t = ns_sched_next(&c->sched);
        if (t < 0)
            break;
        struct ns_config cfg;
        if (coord_start(c, t, 0, host) < 0 || batch_commit(c) < 0 ||
            ns_config_from_json(c->trials[t].json, &cfg) < 0) {
            status = NS_SEARCH_ERROR;
            break;
        }
        struct ns_recipe r = c->ex.recipe;
        r.seed = ns_search_train_seed(c->ex.seed, t);
        struct local_ctx l = {c, t, 0};
        struct ns_train_opts o = {local_epoch, &l, NULL, &ns_search_signal};
        struct ns_train_result res;
        ns_train(&cfg, &train, &eval, &r, &o, &res);
        if (l.failed) {
            status = NS_SEARCH_ERROR;
            break;
        }
        if (coord_result(c, t, &res, res.img_per_s) < 0 || batch_commit(c) < 0) {
            status = NS_SEARCH_ERROR;
            break;
        }
    }
    if (status != NS_SEARCH_DONE) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", ns_errmsg());
        coord_put_back(c);
        ns_err("%s", msg);
    }
    ns_data_free(&train);
    ns_data_free(&eval);
    return status;
}

/* ---------------------------------------------------------------- MPI driver ------------ */

enum wstate { W_SETUP, W_IDLE, W_BUSY, W_GONE };

struct wslot {
    enum wstate state;
    int trial;
    int stop_sent;
    double img_s; /* the throughput of its last epoch */
    char host[64];
};

struct mpi_coord {
    struct coord *c;
    int size;
    struct wslot *w; /* index = rank; [0] unused */
    struct ns_inbox in;
    struct ns_msgbuf out;
    int stopping;
    double deadline;  /* when stopping: give up waiting for the workers' goodbyes */
    int status;       /* what the run ends with */
    char error[2048]; /* the first error, reported at the end */
};

static double img_s_total(const struct mpi_coord *m)
{
    double s = 0;
    for (int r = 1; r < m->size; r++)
        if (m->w[r].state != W_GONE)
            s += m->w[r].img_s;
    return s;
}

/* Stop handing out work and tell every worker to stop; with `status` interrupted or error
 * the trials still out are put back to 'waiting' at once. */
static void begin_stop(struct mpi_coord *m, int status)
{
    if (status == NS_SEARCH_ERROR && !m->error[0])
        snprintf(m->error, sizeof m->error, "%s", ns_errmsg());
    if (m->stopping) {
        if (status == NS_SEARCH_ERROR)
            m->status = status;
        return;
    }
    m->stopping = 1;
    m->status = status;
    m->deadline = ns_now() + (status == NS_SEARCH_INTERRUPTED ? INTERRUPT_GRACE_S : STOP_GRACE_S);
    if (status != NS_SEARCH_DONE && m->c->db && coord_put_back(m->c) < 0 && !m->error[0]) {
        snprintf(m->error, sizeof m->error, "%s", ns_errmsg());
        m->status = NS_SEARCH_ERROR;
    }
    m->out.len = 0;
    for (int r = 1; r < m->size; r++)
        if (m->w[r].state != W_GONE && !m->w[r].stop_sent) {
            ns_search_send(r, NS_MSG_STOP, &m->out);
            m->w[r].stop_sent = 1;
        }
}

static int assign(struct mpi_coord *m, int r)
{
    struct coord *c = m->c;
    int t = ns_sched_next(&c->sched);
    if (t < 0)
        return 0;
    struct ns_msg_assign a = {.trial = t, .seed = ns_search_train_seed(c->ex.seed, t)};
    snprintf(a.config, sizeof a.config, "%s", c->trials[t].json);
    if (coord_start(c, t, r, m->w[r].host) < 0 || ns_msg_pack_assign(&m->out, &a) < 0 ||
        ns_search_send(r, NS_MSG_ASSIGN, &m->out) < 0)
        return -1;
    m->w[r].state = W_BUSY;
    m->w[r].trial = t;
    return 1;
}

static int handle(struct mpi_coord *m)
{
    struct coord *c = m->c;
    struct ns_inbox *in = &m->in;
    struct wslot *w = &m->w[in->src];
    switch (in->kind) {
    case NS_MSG_READY: {
        struct ns_msg_ready rd;
        if (ns_msg_unpack_ready(in->buf, in->len, &rd) < 0)
            return ns_err_prefix("rank %d", in->src);
        snprintf(w->host, sizeof w->host, "%s", rd.host);
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
        begin_stop(m, NS_SEARCH_ERROR);
        return 0;
    }
    case NS_MSG_EPOCH: {
        struct ns_msg_epoch e;
        if (ns_msg_unpack_epoch(in->buf, in->len, &e) < 0)
            return ns_err_prefix("rank %d", in->src);
        w->img_s = e.m.img_per_s;
        return coord_epoch(c, e.trial, &e.m, img_s_total(m));
    }
    case NS_MSG_RESULT: {
        struct ns_msg_result r;
        if (ns_msg_unpack_result(in->buf, in->len, &r) < 0)
            return ns_err_prefix("rank %d", in->src);
        if (w->state != W_BUSY || w->trial != r.trial)
            return ns_err("rank %d sent a result for trial %d, which it was not given", in->src,
                          r.trial);
        w->state = W_IDLE;
        if (r.r.img_per_s > 0)
            w->img_s = r.r.img_per_s;
        c->rep->wait_s += r.wait_s;
        if (coord_result(c, r.trial, &r.r, img_s_total(m)) < 0)
            return -1;
        /* A worker stopped by its own signal (not via mpirun, which signals everyone)
         * means the job is being stopped: treat it like our own interrupt. */
        if (r.r.status == NS_TRAIN_STOPPED && !m->stopping)
            begin_stop(m, NS_SEARCH_INTERRUPTED);
        return 0;
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

static int run_mpi(struct mpi_coord *m)
{
    struct coord *c = m->c;
    if (ns_msg_pack_str(&m->out, c->ex.canonical) < 0)
        return NS_SEARCH_ERROR;
    for (int r = 1; r < m->size; r++)
        if (ns_search_send(r, NS_MSG_SETUP, &m->out) < 0)
            return NS_SEARCH_ERROR;
    progress(c, 0, 0, NULL);
    double nap = POLL_MIN_S, last_msg = ns_now();
    for (;;) {
        if (ns_search_signal && !m->stopping)
            begin_stop(m, NS_SEARCH_INTERRUPTED);
        int busy = 0, gone = 0;
        for (int r = 1; r < m->size; r++) {
            if (!m->stopping && m->w[r].state == W_IDLE && assign(m, r) < 0)
                begin_stop(m, NS_SEARCH_ERROR);
            busy += m->w[r].state == W_BUSY;
            gone += m->w[r].state == W_GONE;
        }
        if (!m->stopping && busy == 0 && c->sched.next >= c->sched.n)
            begin_stop(m, NS_SEARCH_DONE);
        if (gone == m->size - 1)
            break;
        if (m->stopping && ns_now() > m->deadline) {
            /* Trials that finish from now on are lost and retrained on resume: the db is
             * already consistent without them. */
            break;
        }
        int got = ns_search_poll(&m->in, MPI_ANY_SOURCE, MPI_ANY_TAG);
        if (got < 0) {
            /* The transport itself failed: nothing more can be said to the workers. */
            snprintf(m->error, sizeof m->error, "%s", ns_errmsg());
            coord_put_back(c);
            return NS_SEARCH_ERROR;
        }
        if (got) {
            if (handle(m) < 0)
                begin_stop(m, NS_SEARCH_ERROR);
            nap = POLL_MIN_S;
            last_msg = ns_now();
            continue;
        }
        if (batch_commit(c) < 0)
            begin_stop(m, NS_SEARCH_ERROR);
        progress(c, 0, img_s_total(m), NULL);
        ns_search_sleep(nap);
        double cap = ns_now() - last_msg < POLL_QUIET_AFTER_S ? POLL_BUSY_S : POLL_MAX_S;
        nap = nap * 2 < cap ? nap * 2 : cap;
    }
    if (batch_commit(c) < 0 && m->status != NS_SEARCH_ERROR) {
        snprintf(m->error, sizeof m->error, "%s", ns_errmsg());
        m->status = NS_SEARCH_ERROR;
    }
    return m->status;
}

/* Rank 0 under MPI: coordinate, or, if the study cannot even be set up, stop the workers
 * (they are waiting for SETUP) and report why. */
static int coordinate_mpi(const struct ns_search_opts *o, int size, struct ns_search_report *rep)
{
    struct coord c;
    struct mpi_coord m = {.c = &c, .size = size};
    m.w = calloc((size_t)size, sizeof *m.w);
    if (!m.w)
        return ns_err("out of memory"), NS_SEARCH_ERROR;
    int status;
    if (coord_open(&c, o, rep) < 0) {
        begin_stop(&m, NS_SEARCH_ERROR);
        /* wait for the workers' goodbyes so MPI_Finalize finds nothing in flight */
        int gone = 0;
        while (gone < size - 1) {
            int got = ns_search_poll(&m.in, MPI_ANY_SOURCE, MPI_ANY_TAG);
            if (got < 0)
                break;
            if (got && m.in.kind == NS_MSG_BYE)
                gone++;
            else if (!got)
                ns_search_sleep(POLL_MAX_S);
        }
        status = NS_SEARCH_ERROR;
    } else {
        status = run_mpi(&m);
    }
    coord_report(&c);
    coord_close(&c);
    if (status == NS_SEARCH_ERROR)
        ns_err("%s", m.error);
    ns_inbox_free(&m.in);
    ns_msgbuf_free(&m.out);
    free(m.w);
    return status;
}

/* ---------------------------------------------------------------- entry ----------------- */

static double cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

int ns_search_run(const struct ns_search_opts *o, struct ns_search_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->best_trial = -1;
    rep->size = 1;
    double t0 = ns_now(), cpu0 = cpu_seconds();
    int use_mpi = o->use_mpi < 0 ? ns_search_under_mpi() : o->use_mpi;
    if (use_mpi) {
        int provided;
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return ns_err("MPI_Init failed"), NS_SEARCH_ERROR;
        MPI_Comm_rank(MPI_COMM_WORLD, &rep->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &rep->size);
    }
    signals_install();
    int status;
    if (rep->size > 1 && rep->rank != NS_COORD) {
        status = ns_search_worker(rep->rank, rep);
    } else if (rep->size > 1) {
        status = coordinate_mpi(o, rep->size, rep);
    } else {
        struct coord c;
        if (coord_open(&c, o, rep) < 0) {
            status = NS_SEARCH_ERROR;
        } else {
            status = run_local(&c);
        }
        coord_report(&c);
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", ns_errmsg());
        coord_close(&c);
        ns_err("%s", msg);
    }
    signals_restore();
    rep->seconds = ns_now() - t0;
    rep->cpu_s = cpu_seconds() - cpu0;
    return status;
}

void ns_search_finalize(void)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin)
        MPI_Finalize();
}
