/* The coordinator: the study's state machine (rank 0, or the only process). Internal to
 * src/search; ns_search_run() (search.c) drives it.
 *
 * It samples the study, keeps the db up to date and decides who trains what: it hands out
 * trials (largest first), records epochs and results, puts trials back on an interrupt,
 * counts attempts (a trial lost with its process or its worker counts one; after
 * limits.max_attempts it is failed with the reason), takes a trial back from a worker that
 * gave no result within limits.trial_minutes (plus a grace) and hands it to another,
 * ignoring the late result, and stops the workers when the study is done or cannot go on.
 *
 * Writes are journaled: every change is applied to the coordinator's own state at once and
 * queued for the db, and the queue is written in one transaction whenever the coordinator
 * runs out of messages. When another process holds the db's write lock (a user's sqlite3
 * session), the queue is kept and retried every LOCK_RETRY_S until the db takes it: a
 * result a worker delivered is never dropped for a lock.
 *
 * The distributed driver talks through a struct ns_transport and tells time with a struct
 * ns_clock, so that unit tests script the workers' messages and the clock. */
#ifndef NS_SEARCH_COORD_H
#define NS_SEARCH_COORD_H

#include "search/search.h"
#include "search/transport.h"

struct ns_coord;

/* Load the experiment, sample the study, open the db (created if missing; the writer's lock
 * taken) and bring it up to date: the study and its trials exist, trials left 'running' by a
 * dead run are 'stale' (an attempt lost), those that have used their attempts are failed,
 * and the rest are queued. rep is filled as the run goes; clk may be NULL (the real clock).
 * NULL with ns_err on error (nothing left open). */
struct ns_coord *ns_coord_open(const struct ns_search_opts *o, struct ns_search_report *rep,
                               const struct ns_clock *clk);
/* Fill the report, roll back what was not written, close the db. NULL is ignored. Keeps
 * ns_errmsg(). */
void ns_coord_close(struct ns_coord *c);

/* Alone: train every queued trial in this process, one after another. Returns an enum
 * ns_search_status (ns_errmsg says why on NS_SEARCH_ERROR). */
int ns_coord_run_local(struct ns_coord *c);

/* Distributed: ns_coord_begin() sends SETUP to every worker of t; then call ns_coord_step()
 * until it returns 0 and read ns_coord_status(). One step: look at the clock (timeouts, the
 * stop deadline), hand trials to idle workers, handle one message, or, when none is waiting,
 * write the journal and nap. ns_coord_serve() is begin + steps. */
void ns_coord_begin(struct ns_coord *c, struct ns_transport *t);
int ns_coord_step(struct ns_coord *c);
int ns_coord_status(const struct ns_coord *c);
int ns_coord_serve(struct ns_coord *c, struct ns_transport *t);
/* Workers given up on for silence (limits.trial_minutes) that have not come back by the end
 * of the run: MPI_Finalize would wait for them forever. */
int ns_coord_workers_stalled(const struct ns_coord *c);
/* Writes queued and not yet accepted by the db (for tests and messages). */
int ns_coord_unwritten(const struct ns_coord *c);

/* The study could not be opened: tell the workers of t, who wait for SETUP, to stop, and
 * wait (at most a grace period on clk, NULL = real) for their goodbyes. */
void ns_coord_turn_away(struct ns_transport *t, const struct ns_clock *clk);

#endif
