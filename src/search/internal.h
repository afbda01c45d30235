/* Shared between the files of src/search only: the stop flag, message transport over MPI,
 * and the worker's entry point. Not part of the module's contract (search.h). */
#ifndef NS_SEARCH_INTERNAL_H
#define NS_SEARCH_INTERNAL_H

#include <signal.h>

#include "search/search.h"

/* Set by SIGINT/SIGTERM while ns_search_run() runs. */
extern volatile sig_atomic_t ns_search_signal;

/* The MPI rank of the coordinator. */
#define NS_COORD 0

/* Send b's bytes to `dest` with tag `kind` (MPI_Send: these messages are small, so Open MPI
 * sends them eagerly and the call returns without waiting for the receiver). 0 or -1. */
int ns_search_send(int dest, int kind, const struct ns_msgbuf *b);

/* One received message; buf is reused from call to call. */
struct ns_inbox {
    int kind, src;
    unsigned char *buf;
    size_t len, cap;
};

/* Receive a message from `src` (MPI_ANY_SOURCE) with tag `kind` (MPI_ANY_TAG) if one is
 * waiting: 1 with *in filled, 0 if none, -1 on error. Never blocks for long: it probes first. */
int ns_search_poll(struct ns_inbox *in, int src, int kind);
void ns_inbox_free(struct ns_inbox *in);

/* Sleep for `seconds` (interrupted early by a signal). */
void ns_search_sleep(double seconds);

/* This host's name (MPI processor name, or gethostname) into out. */
void ns_search_host(char *out, size_t n);

/* A worker rank's whole life: wait for SETUP, load the data, train what it is assigned until
 * STOP. Returns an enum ns_search_status. */
int ns_search_worker(int rank, struct ns_search_report *rep);

#endif
