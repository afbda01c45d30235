/* Training a trial in a child process (internal to src/search).
 *
 * The worker (or the process running a study alone) starts `netspace trial-child` with exec
 * (a fresh process image: never a bare fork of an MPI process), hands it the trial through a
 * pipe and the dataset through a memory file (memfd) that the child maps read-only, so the
 * data is shared, not copied or reloaded per trial. The child trains and sends each epoch's
 * metrics and the result back through a second pipe. A child that crashes, is killed (the
 * kernel's OOM killer) or runs past the trial's time limit is recorded as a failed trial with
 * that reason; the worker lives on. The child's private memory (RLIMIT_DATA: heap and private
 * mappings) is capped at limits.memory_mb, and a trial whose estimated need
 * (ns_net_memory_estimate) is over it fails before anything is allocated. The child dies
 * with its parent (PR_SET_PDEATHSIG). The child is the running executable (/proc/self/exe),
 * so isolation works in the netspace binary, whose main() dispatches `trial-child`; unit
 * tests of the worker set limits.isolate false. */
#ifndef NS_SEARCH_ISOLATE_H
#define NS_SEARCH_ISOLATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "search/search.h"

/* The dataset in a memory file, made once per worker. */
struct ns_child_data {
    int fd; /* -1 when none */
    size_t len;
};
/* 0, or -1 with ns_err (nothing left open). */
int ns_child_data_make(struct ns_child_data *s, const struct ns_dataset *train,
                        const struct ns_dataset *eval);
void ns_child_data_free(struct ns_child_data *s);

/* A job's checkpoints (nn/checkpoint.h; all zero: none): continue from `resume`, stop
 * after epoch `stop_after` (0: recipe.epochs), and hand the checkpoints the child makes
 * (every checkpoint_every epochs; after the last with checkpoint_last) to on_checkpoint in
 * the parent, from ns_child_poll. */
struct ns_child_ckpt {
    const uint8_t *resume;
    size_t resume_len;
    int stop_after, checkpoint_every, checkpoint_last;
    int (*on_checkpoint)(void *ctx, int epoch, const uint8_t *buf, size_t len);
    void *ctx;
};

/* One trial in a child. */
struct ns_child {
    pid_t pid;
    int in_fd;          /* the child's events */
    unsigned char *buf; /* partial frames */
    size_t len, cap;
    int got_result;
    struct ns_train_result res;
    int stop_sent, killed_for_time;
    size_t killed_for_memory; /* the size of the event frame that could not be buffered */
    double t0, limit_s;
    struct ns_child_ckpt ck;
};

/* Start a child training config_json with recipe r (seed included) under limits l, with
 * checkpoints as ck says (NULL: none). 0, or -1 with ns_err (no child left). */
int ns_child_start(struct ns_child *c, const struct ns_child_data *d, const struct ns_recipe *r,
                   const struct ns_exp_limits *l, const char *config_json,
                   const struct ns_child_ckpt *ck);
/* Wait up to wait_s for the child's events: each epoch goes to on_epoch (its return value is
 * ignored). Past the time limit the child is killed. Returns 0 while it runs, 1 when it has
 * ended with *res filled (its result, or a failure saying how it died). */
int ns_child_poll(struct ns_child *c, double wait_s, ns_epoch_fn on_epoch, void *ctx,
                  struct ns_train_result *res);
/* Ask the child to stop (SIGTERM): it ends its trial within one step, reporting it stopped. */
void ns_child_stop(struct ns_child *c);

#endif
