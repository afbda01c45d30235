/* Running a study: ns_search_run() picks the role of this process (alone, coordinator or
 * worker) and runs it. The coordinator is coord.c, the worker worker.c; they talk through
 * transport.h. */
#include "search/search.h"

#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "search/coord.h"
#include "search/transport.h"
#include "search/worker.h"
#include "util/err.h"
#include "util/timer.h"

static double cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

/* Rank 0 under MPI: coordinate, or, if the study cannot even be set up, stop the workers
 * (they are waiting for SETUP) and report why. */
static int coordinate(const struct ns_search_opts *o, struct ns_transport *t,
                      struct ns_search_report *rep)
{
    struct ns_coord *c = ns_coord_open(o, rep, NULL);
    if (!c) {
        ns_coord_turn_away(t, NULL);
        return NS_SEARCH_ERROR;
    }
    int status = ns_coord_serve(c, t);
    ns_search_abandon_workers(ns_coord_workers_stalled(c), status);
    ns_coord_close(c);
    return status;
}

static int run_alone(const struct ns_search_opts *o, struct ns_search_report *rep)
{
    struct ns_coord *c = ns_coord_open(o, rep, NULL);
    if (!c)
        return NS_SEARCH_ERROR;
    int status = ns_coord_run_local(c);
    ns_coord_close(c);
    return status;
}

int ns_search_run(const struct ns_search_opts *o, struct ns_search_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->best_trial = -1;
    rep->size = 1;
    double t0 = ns_now(), cpu0 = cpu_seconds();
    int use_mpi = o->use_mpi < 0 ? ns_search_under_mpi() : o->use_mpi;
    struct ns_transport *t = NULL;
    if (use_mpi) {
        int provided;
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return ns_err("MPI_Init failed"), NS_SEARCH_ERROR;
        t = ns_transport_mpi();
        rep->rank = t->rank;
        rep->size = t->size;
    }
    ns_search_signals_install();
    int status;
    if (rep->size > 1 && rep->rank != NS_COORD)
        status = ns_search_worker(t, rep);
    else if (rep->size > 1)
        status = coordinate(o, t, rep);
    else
        status = run_alone(o, rep);
    ns_search_signals_restore();
    rep->seconds = ns_now() - t0;
    rep->cpu_s = cpu_seconds() - cpu0;
    return status;
}
