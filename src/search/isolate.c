/* Training a trial in a child process (see isolate.h).
 *
 * The child is this same executable (/proc/self/exe), so the job and the events cross the
 * pipes as the structs themselves: [u32 kind][u32 length][bytes]. */
#include "search/isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nn/memory.h"
#include "util/err.h"
#include "util/timer.h"

extern char **environ;

#define CHILD_JOB_FD 3
#define CHILD_EVENT_FD 4
#define CHILD_DATA_FD 5
#define DATA_MAGIC 0x6e734441u /* "nsDA" */

enum { EV_EPOCH = 1, EV_RESULT = 2, EV_CKPT = 3 };

/* ---------------------------------------------------------------- shared data ----------- */

struct data_head {
    uint32_t magic;
    uint32_t pad;
    struct set {
        struct ns_dataset d; /* x and y are offsets into the file here */
        uint64_t x_off, y_off;
    } set[2];
};

static size_t align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

int ns_child_data_make(struct ns_child_data *s, const struct ns_dataset *train,
                        const struct ns_dataset *eval)
{
    s->fd = -1;
    const struct ns_dataset *sets[2] = {train, eval};
    struct data_head h;
    memset(&h, 0, sizeof h);
    h.magic = DATA_MAGIC;
    size_t off = align64(sizeof h);
    for (int k = 0; k < 2; k++) {
        const struct ns_dataset *d = sets[k];
        h.set[k].d = *d;
        h.set[k].d.x = NULL;
        h.set[k].d.y = NULL;
        h.set[k].x_off = off;
        off = align64(off + (size_t)d->n * d->h * d->w * d->c);
        h.set[k].y_off = off;
        off = align64(off + (size_t)d->n);
    }
    int fd = memfd_create("netspace-data", MFD_CLOEXEC);
    if (fd < 0)
        return ns_err("memfd_create: %s", strerror(errno));
    if (ftruncate(fd, (off_t)off) != 0) {
        close(fd);
        return ns_err("dataset in memory (%zu bytes): %s", off, strerror(errno));
    }
    unsigned char *m = mmap(NULL, off, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        close(fd);
        return ns_err("dataset in memory: mmap: %s", strerror(errno));
    }
    memcpy(m, &h, sizeof h);
    for (int k = 0; k < 2; k++) {
        const struct ns_dataset *d = sets[k];
        memcpy(m + h.set[k].x_off, d->x, (size_t)d->n * d->h * d->w * d->c);
        memcpy(m + h.set[k].y_off, d->y, (size_t)d->n);
    }
    munmap(m, off);
    s->fd = fd;
    s->len = off;
    return 0;
}

void ns_child_data_free(struct ns_child_data *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

/* The child's view: the datasets point into the read-only mapping. */
static int shared_data_map(int fd, struct ns_dataset *train, struct ns_dataset *eval)
{
    struct stat_len {
        off_t len;
    } sl = {lseek(fd, 0, SEEK_END)};
    if (sl.len < (off_t)sizeof(struct data_head))
        return ns_err("trial child: the dataset file is too short");
    unsigned char *m = mmap(NULL, (size_t)sl.len, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return ns_err("trial child: mmap: %s", strerror(errno));
    struct data_head h;
    memcpy(&h, m, sizeof h);
    if (h.magic != DATA_MAGIC)
        return ns_err("trial child: not a dataset file");
    struct ns_dataset *out[2] = {train, eval};
    for (int k = 0; k < 2; k++) {
        *out[k] = h.set[k].d;
        out[k]->x = m + h.set[k].x_off;
        out[k]->y = m + h.set[k].y_off;
    }
    return 0;
}

/* ---------------------------------------------------------------- frames ---------------- */

static int write_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    unsigned char *b = p;
    while (n > 0) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

static int send_frame(int fd, uint32_t kind, const void *p, uint32_t len)
{
    uint32_t head[2] = {kind, len};
    return write_all(fd, head, sizeof head) < 0 || write_all(fd, p, len) < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- the parent's side ----- */

struct job {
    struct ns_recipe recipe;
    struct ns_exp_limits limits;
    int32_t stop_after, checkpoint_every, checkpoint_last;
    uint32_t config_len; /* followed by the config JSON */
    uint64_t resume_len; /* then the checkpoint to continue from */
};

int ns_child_start(struct ns_child *c, const struct ns_child_data *d, const struct ns_recipe *r,
                   const struct ns_exp_limits *l, const char *config_json,
                   const struct ns_child_ckpt *ck)
{
    memset(c, 0, sizeof *c);
    if (ck)
        c->ck = *ck;
    c->pid = -1;
    c->in_fd = -1;
    c->t0 = ns_now();
    c->limit_s = l->trial_minutes * 60;
    int job[2], ev[2];
    if (pipe2(job, O_CLOEXEC) != 0)
        return ns_err("trial child: pipe: %s", strerror(errno));
    if (pipe2(ev, O_CLOEXEC) != 0) {
        close(job[0]);
        close(job[1]);
        return ns_err("trial child: pipe: %s", strerror(errno));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, job[0], CHILD_JOB_FD);
    posix_spawn_file_actions_adddup2(&fa, ev[1], CHILD_EVENT_FD);
    posix_spawn_file_actions_adddup2(&fa, d->fd, CHILD_DATA_FD);
    char ppid[32];
    snprintf(ppid, sizeof ppid, "%ld", (long)getpid());
    char *argv[] = {"netspace", "trial-child", ppid, NULL};
    int rc = posix_spawn(&c->pid, "/proc/self/exe", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(job[0]);
    close(ev[1]);
    if (rc != 0) {
        close(job[1]);
        close(ev[0]);
        c->pid = -1;
        return ns_err("trial child: cannot start: %s", strerror(rc));
    }
    c->in_fd = ev[0];
    /* the job is small: the pipe takes it at once, and a child that died early gives EPIPE,
     * which the poll below reports as its death */
    /* (SIGPIPE is ignored while a search runs: ns_search_signals_install) */
    /* (a checkpoint to resume from may be larger than the pipe: the write then waits for the
     * child, which reads its job first) */
    struct job j = {*r,
                    *l,
                    c->ck.stop_after,
                    c->ck.checkpoint_every,
                    c->ck.checkpoint_last,
                    (uint32_t)strlen(config_json),
                    c->ck.resume ? c->ck.resume_len : 0};
    (void)(write_all(job[1], &j, sizeof j) || write_all(job[1], config_json, j.config_len) ||
           (j.resume_len && write_all(job[1], c->ck.resume, j.resume_len)));
    c->ck.resume = NULL; /* the caller's, not needed any more */
    close(job[1]);
    return 0;
}

/* How the child ended, as a trial failure reason. */
static void death_reason(const struct ns_child *c, int status, struct ns_train_result *res)
{
    memset(res, 0, sizeof *res);
    res->status = NS_TRAIN_ERROR;
    res->seconds = ns_now() - c->t0;
    if (c->killed_for_time)
        snprintf(res->reason, sizeof res->reason,
                 "time limit: killed after %.1f minutes (limits.trial_minutes %g)",
                 res->seconds / 60, c->limit_s / 60);
    else if (c->killed_for_memory)
        snprintf(res->reason, sizeof res->reason,
                 "error: out of memory for a %zu-byte event of the trial's process (a "
                 "checkpoint?); the process was killed",
                 c->killed_for_memory);
    else if (c->stop_sent && WIFSIGNALED(status) &&
             (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGINT)) {
        /* our own stop reached the child before its handler was installed (it had just
         * started): an interrupt, not a crash, so the trial goes back to waiting */
        res->status = NS_TRAIN_STOPPED;
        snprintf(res->reason, sizeof res->reason, "stopped before its process began training");
    } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        snprintf(res->reason, sizeof res->reason,
                 "crashed: its process was killed (SIGKILL: out of memory? the kernel's OOM "
                 "killer or a memory limit; see limits.memory_mb)");
    else if (WIFSIGNALED(status))
        snprintf(res->reason, sizeof res->reason, "crashed: its process died of signal %d (%s)",
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(res->reason, sizeof res->reason,
                 "crashed: its process exited with status %d and no result",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* Hand the complete frames in the buffer to their receivers. */
static void drain_frames(struct ns_child *c, ns_epoch_fn on_epoch, void *ctx)
{
    size_t at = 0;
    while (c->len - at >= 8) {
        uint32_t head[2];
        memcpy(head, c->buf + at, sizeof head);
        if (c->len - at - 8 < head[1])
            break;
        const unsigned char *p = c->buf + at + 8;
        if (head[0] == EV_EPOCH && head[1] == sizeof(struct ns_epoch_metrics) && on_epoch) {
            struct ns_epoch_metrics m;
            memcpy(&m, p, sizeof m);
            on_epoch(ctx, &m);
        } else if (head[0] == EV_CKPT && head[1] > 4 && c->ck.on_checkpoint) {
            int32_t epoch;
            memcpy(&epoch, p, 4);
            c->ck.on_checkpoint(c->ck.ctx, epoch, p + 4, head[1] - 4);
        } else if (head[0] == EV_RESULT && head[1] == sizeof(struct ns_train_result)) {
            memcpy(&c->res, p, sizeof c->res);
            c->got_result = 1;
        }
        at += 8 + head[1];
    }
    memmove(c->buf, c->buf + at, c->len - at);
    c->len -= at;
}

int ns_child_poll(struct ns_child *c, double wait_s, ns_epoch_fn on_epoch, void *ctx,
                  struct ns_train_result *res)
{
    if (c->limit_s > 0 && !c->killed_for_time && ns_now() - c->t0 > c->limit_s) {
        c->killed_for_time = 1;
        kill(c->pid, SIGKILL);
    }
    struct pollfd pfd = {c->in_fd, POLLIN, 0};
    int n = poll(&pfd, 1, (int)(wait_s * 1000));
    if (n <= 0)
        return 0;
    /* room for the frame being read (a checkpoint is one frame) */
    size_t want = c->len + 4096;
    if (c->len >= 8) {
        uint32_t head[2];
        memcpy(head, c->buf, sizeof head);
        if ((size_t)head[1] + 8 + 4096 > want)
            want = (size_t)head[1] + 8 + 4096;
    }
    if (c->cap < want) {
        size_t cap = c->cap ? 2 * c->cap : 8192;
        while (cap < want)
            cap *= 2;
        unsigned char *b = realloc(c->buf, cap);
        if (b) {
            c->buf = b;
            c->cap = cap;
        }
    }
    if (c->cap <= c->len && !c->killed_for_memory) {
        /* No room for the frame and none to be had: reading nothing would look like the
         * end of the events, and waitpid() would wait forever for a child blocked writing
         * the rest. End it instead. */
        c->killed_for_memory = want - 4096;
        kill(c->pid, SIGKILL);
    }
    ssize_t r = c->cap > c->len ? read(c->in_fd, c->buf + c->len, c->cap - c->len) : 0;
    if (r < 0 && errno == EINTR)
        return 0;
    if (r > 0) {
        c->len += (size_t)r;
        drain_frames(c, on_epoch, ctx);
        return 0;
    }
    /* end of the events: the child has ended (or is about to) */
    int status = 0;
    while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
        ;
    close(c->in_fd);
    free(c->buf);
    c->buf = NULL;
    if (c->got_result && !c->killed_for_time && !c->killed_for_memory && WIFEXITED(status) &&
        WEXITSTATUS(status) == 0)
        *res = c->res;
    else
        death_reason(c, status, res);
    return 1;
}

void ns_child_stop(struct ns_child *c)
{
    if (!c->stop_sent && c->pid > 0)
        kill(c->pid, SIGTERM);
    c->stop_sent = 1;
}

/* ---------------------------------------------------------------- the child's side ------ */

static atomic_int child_stop;

static void on_child_signal(int sig)
{
    (void)sig;
    atomic_store(&child_stop, 1);
}

static int child_epoch(void *ctx, const struct ns_epoch_metrics *m)
{
    (void)ctx;
    return send_frame(CHILD_EVENT_FD, EV_EPOCH, m, sizeof *m) < 0; /* parent gone: stop */
}

static int child_checkpoint(void *ctx, int epoch, const uint8_t *buf, size_t len)
{
    (void)ctx;
    if (len > UINT32_MAX - 4)
        return ns_err("the checkpoint is %zu bytes; a trial's process passes at most %u", len,
                      (unsigned)(UINT32_MAX - 4)),
               1;
    uint32_t head[2] = {EV_CKPT, (uint32_t)len + 4};
    int32_t e = epoch;
    return write_all(CHILD_EVENT_FD, head, sizeof head) < 0 || write_all(CHILD_EVENT_FD, &e, 4) < 0 ||
           write_all(CHILD_EVENT_FD, buf, len) < 0;
}

int ns_search_trial_child(int argc, char **argv)
{
    /* die with the parent; and if it is already gone, do not train for nobody */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (argc < 2 || getppid() != (pid_t)strtol(argv[1], NULL, 10)) {
        fprintf(stderr, "netspace trial-child: for netspace's own use (a search starts it)\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_child_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct ns_train_result res;
    memset(&res, 0, sizeof res);
    res.status = NS_TRAIN_ERROR;
    struct job j;
    char *config = NULL;
    uint8_t *resume = NULL;
    struct ns_dataset train, eval;
    struct ns_config cfg;
    if (read_all(CHILD_JOB_FD, &j, sizeof j) < 0 || j.config_len > (1u << 20) ||
        !(config = calloc(1, j.config_len + 1)) ||
        read_all(CHILD_JOB_FD, config, j.config_len) < 0 || j.resume_len > (1ull << 40) ||
        (j.resume_len &&
         (!(resume = malloc(j.resume_len)) || read_all(CHILD_JOB_FD, resume, j.resume_len) < 0))) {
        snprintf(res.reason, sizeof res.reason, "trial child: cannot read its job");
    } else if (shared_data_map(CHILD_DATA_FD, &train, &eval) < 0 ||
               ns_config_from_json(config, &cfg) < 0) {
        snprintf(res.reason, sizeof res.reason, "%s", ns_errmsg());
    } else {
        int eval_batch = j.recipe.eval_batch > 0 ? j.recipe.eval_batch : j.recipe.batch;
        int bmax = j.recipe.batch > eval_batch ? j.recipe.batch : eval_batch;
        struct ns_complexity cx = {0, 0, 0};
        ns_complexity(&cfg, &cx);
        double need_mb =
            (double)ns_net_memory_estimate(&cfg, cx.params, cx.acts, bmax, j.recipe.threads) /
            (1 << 20);
        if (j.limits.memory_mb > 0 && need_mb > j.limits.memory_mb) {
            snprintf(res.reason, sizeof res.reason,
                     "memory: the net needs about %.0f MB at batch %d; limits.memory_mb is %d",
                     need_mb, bmax, j.limits.memory_mb);
        } else {
            if (j.limits.memory_mb > 0) {
                /* the trial's own memory on top of what this process has already mapped
                 * (the libraries' data, OpenBLAS's buffers come later and count) */
                struct rlimit rl;
                rl.rlim_cur = rl.rlim_max = (rlim_t)j.limits.memory_mb << 20;
                setrlimit(RLIMIT_DATA, &rl);
            }
            struct ns_train_opts o = {.on_epoch = child_epoch,
                                      .stop = &child_stop,
                                      .resume = resume,
                                      .resume_len = j.resume_len,
                                      .stop_after = j.stop_after,
                                      .checkpoint_every = j.checkpoint_every,
                                      .checkpoint_last = j.checkpoint_last,
                                      .on_checkpoint = child_checkpoint};
            ns_train(&cfg, &train, &eval, &j.recipe, &o, &res);
            if (res.status == NS_TRAIN_ERROR && j.limits.memory_mb > 0 &&
                strstr(res.reason, "out of memory")) {
                size_t len = strlen(res.reason);
                snprintf(res.reason + len, sizeof res.reason - len, " (limits.memory_mb %d)",
                         j.limits.memory_mb);
            }
        }
    }
    free(config);
    free(resume);
    return send_frame(CHILD_EVENT_FD, EV_RESULT, &res, sizeof res) < 0 ? 1 : 0;
}
