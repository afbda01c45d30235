/* How the coordinator and the workers talk: a tiny transport interface (send, poll) with two
 * implementations, MPI (transport_mpi.c) and in memory (transport_mem.c, for unit tests that
 * script a worker's side of the protocol), plus the run's stop flag and clock.
 *
 * Internal to src/search: the coordinator (coord.c) and the worker (worker.c) both use it;
 * neither knows which implementation it talks through. A transport is used by one thread. */
#ifndef NS_SEARCH_TRANSPORT_H
#define NS_SEARCH_TRANSPORT_H

#include <stdatomic.h>
#include <stddef.h>

#include "search/search.h"

/* The rank of the coordinator. */
#define NS_COORD 0
/* poll(): any source, any kind. */
#define NS_ANY (-1)

/* One received message; buf is reused from call to call. */
struct ns_inbox {
    int kind, src;
    unsigned char *buf;
    size_t len, cap;
};

/* Make room for n bytes (plus a NUL) in in->buf. 0, or -1 with ns_err. */
int ns_inbox_reserve(struct ns_inbox *in, size_t n);
void ns_inbox_free(struct ns_inbox *in);

struct ns_transport {
    /* Send b's bytes to rank `dest` as a message of `kind`. Messages between a pair of ranks
     * arrive in the order they were sent. Returns quickly (messages are small). 0 or -1. */
    int (*send)(struct ns_transport *t, int dest, int kind, const struct ns_msgbuf *b);
    /* Receive a message from `src` of `kind` (NS_ANY for either) if one is waiting: 1 with
     * *in filled, 0 if none, -1 with ns_err when the transport failed. Never blocks. */
    int (*poll)(struct ns_transport *t, struct ns_inbox *in, int src, int kind);
    int rank, size; /* this end's rank, and how many ranks there are */
};

static inline int ns_send(struct ns_transport *t, int dest, int kind, const struct ns_msgbuf *b)
{
    return t->send(t, dest, kind, b);
}

static inline int ns_poll(struct ns_transport *t, struct ns_inbox *in, int src, int kind)
{
    return t->poll(t, in, src, kind);
}

/* The MPI transport over MPI_COMM_WORLD (MPI must be initialized): send is MPI_Send, poll
 * is MPI_Iprobe then MPI_Recv. A static object; nothing to free. */
struct ns_transport *ns_transport_mpi(void);

/* The in-memory transport: `size` ranks in one process, each with its end
 * (ns_mem_net_end), a queue of messages per destination. */
struct ns_mem_net;
struct ns_mem_net *ns_mem_net_new(int size);
void ns_mem_net_free(struct ns_mem_net *net);
struct ns_transport *ns_mem_net_end(struct ns_mem_net *net, int rank);
/* Make the next `count` sends of `kind` (NS_ANY: any) from `rank` fail, as a broken link
 * would (for tests of the error paths). */
void ns_mem_net_fail_sends(struct ns_mem_net *net, int rank, int kind, int count);
/* Messages waiting for `rank` (all kinds). */
int ns_mem_net_pending(const struct ns_mem_net *net, int rank);

/* ---------------------------------------------------------------- stop flag and time --- */

/* Set by SIGINT/SIGTERM while ns_search_run() runs (the signal number); a lock-free atomic,
 * so the handler, the worker's threads and the coordinator may all read it. */
extern atomic_int ns_search_signal;
/* Install the handlers (a second signal falls back to the default action) / restore the
 * previous ones. */
void ns_search_signals_install(void);
void ns_search_signals_restore(void);

/* The time source of a coordinator: ns_now and nanosleep in a run; a scripted clock in unit
 * tests, whose sleep advances it. */
struct ns_clock {
    double (*now)(void *ctx);
    void (*sleep)(void *ctx, double seconds);
    void *ctx;
};
extern const struct ns_clock ns_clock_real;

/* Sleep for `seconds` (interrupted early by a signal). */
void ns_search_sleep(double seconds);

/* Rank 0: n workers never said goodbye (stalled) in a run that ended with `status`; then
 * ns_search_finalize() ends the job with MPI_Abort (with the run's exit status) instead of
 * an MPI_Finalize that would wait for them forever. */
void ns_search_abandon_workers(int n, int status);

/* This host's name (MPI processor name when MPI is up, else gethostname) into out. */
void ns_search_host(char *out, size_t n);

#endif
