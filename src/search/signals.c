/* The run's stop flag (set by SIGINT/SIGTERM), the real clock, and the inbox buffer shared by
 * both transports. */
#include "search/transport.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/err.h"
#include "util/timer.h"

atomic_int ns_search_signal;

static struct sigaction old_int, old_term, old_pipe;

static void on_signal(int sig)
{
    /* A second signal means "now": fall back to the default action. The db is consistent
     * at every commit, so the next run resumes from the last one. */
    if (atomic_load(&ns_search_signal)) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    atomic_store(&ns_search_signal, sig);
}

void ns_search_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    atomic_store(&ns_search_signal, 0);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    /* a trial child that dies before reading its job must not take the worker with it */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, &old_pipe);
}

void ns_search_signals_restore(void)
{
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
}

void ns_search_sleep(double seconds)
{
    if (seconds <= 0)
        return;
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
}

static double real_now(void *ctx)
{
    (void)ctx;
    return ns_now();
}

static void real_sleep(void *ctx, double seconds)
{
    (void)ctx;
    ns_search_sleep(seconds);
}

const struct ns_clock ns_clock_real = {real_now, real_sleep, NULL};

int ns_inbox_reserve(struct ns_inbox *in, size_t n)
{
    if (n + 1 <= in->cap)
        return 0;
    unsigned char *p = realloc(in->buf, n + 1);
    if (!p)
        return ns_err("out of memory for a %zu-byte message", n);
    in->buf = p;
    in->cap = n + 1;
    return 0;
}

void ns_inbox_free(struct ns_inbox *in)
{
    free(in->buf);
    memset(in, 0, sizeof *in);
}
