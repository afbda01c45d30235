/* The results store: one SQLite file holding studies, their trials and per-epoch metrics.
 *
 * Who writes: only the search coordinator (rank 0) opens a db read-write; everything else
 * (netspace query, netspace plot) opens it read-only. The file is in WAL mode, so readers
 * never block the writer and the writer never blocks readers: a reader sees the db as of the
 * last commit before its read began. A reader never sees half a trial, because every write
 * function below is atomic (a savepoint), and ns_db_trial_complete()/ns_db_trial_fail()
 * write a trial's final epoch rows and its final state in the same transaction.
 *
 * Batching: outside ns_db_begin()/ns_db_commit() every write function is its own
 * transaction (one fsync each). The coordinator should wrap a batch of writes (e.g. all the
 * messages it drained in one poll, or the initial insertion of all trials) in
 * ns_db_begin()/ns_db_commit(); the write functions then nest inside it as savepoints, so a
 * failing call rolls back only its own changes and the batch stays usable.
 *
 * A coordinator's run, in order:
 *   db = ns_db_open(path, NS_DB_RW | NS_DB_CREATE); id = ns_db_study_ensure(db, &def, NULL);
 *   ns_db_begin; ns_db_trial_add for every trial (idempotent on resume); ns_db_commit;
 *   ns_db_mark_stale(db, id) (resume: trials left 'running' by a dead run);
 *   ns_db_trials_pending -> the indices to hand out;
 *   per poll: ns_db_begin; ns_db_trial_start / _epoch / _complete / _fail for the messages
 *   drained; ns_db_commit;  on SIGINT: ns_db_trial_reset the unfinished ones; ns_db_close.
 *
 * Readers and WAL: the writer removes -wal/-shm when it closes cleanly. A read-only open of
 * a db that no connection has open (no -wal file) reads the file alone (SQLite's immutable
 * mode): it works in a folder the reader cannot write and never leaves -wal/-shm files
 * behind. While a search writes, readers share its -wal/-shm files as usual.
 * A RW open runs PRAGMA quick_check (about 0.2 s CPU for 100k trials, once per search).
 *
 * Units: errors are in percent (0..100); times are seconds; timestamps are seconds since the
 * Unix epoch (ns_wall_time()); flops are multiply-adds per image (DESIGN.md).
 * Missing numbers read back as NAN (doubles) or -1 (rank).
 *
 * Errors: functions return -1 (or NULL) with ns_err() set to a message that starts with the
 * db's file name ("results/a.db: study 'x' not found; studies: a, b"). Bad input (a foreign
 * file, a corrupt file, unknown names) never crashes.
 *
 * Thread-safety: a struct ns_db is used by one thread at a time.
 *
 * Schema (version NS_DB_SCHEMA_VERSION; the names are the ones --where/--columns and
 * ns_db_trial_values() accept):
 *   netspace_version(schema_version)
 *   studies(id, name UNIQUE, experiment JSON, seed, space, created, data_fingerprint)
 *   trials(study_id, trial, stream, state, config JSON, config_hash, flops, params, acts,
 *          depth, w0, wa, wm, group_w, bot_mul, se_r, d, w, b, g, d1..d8, w1..w8, b1..b8,
 *          g1..g8,
 *          other_params JSON, train_seed, train_error, test_error, best_test_error, wall_s,
 *          host, rank, started, ended, reason, attempts;  UNIQUE(study_id, trial))
 *   (version 2 added trials.attempts, the parameters of stages 5-8 and
 *   studies.data_fingerprint; a writer migrates a version-1 file when it opens it, readers
 *   read either; the trial columns are one table in store.c)
 *   epochs(study_id, trial, epoch, train_loss, train_error, test_error, seconds;
 *          PRIMARY KEY(study_id, trial, epoch))
 *   rungs(study_id, trial, rung, epochs, test_error, trained, wall_s, cleared, ended;
 *          PRIMARY KEY(study_id, trial, rung))   multi-fidelity search (issue #15)
 *   weights(study_id, trial, epoch, bytes; PRIMARY KEY(study_id, trial)),
 *   checkpoints(study_id, trial, epoch, bytes; PRIMARY KEY(study_id, trial))
 *   (version 3 added weights and checkpoints: blobs.c, at the end of this file)
 */
#ifndef NS_STORE_H
#define NS_STORE_H

#include <stddef.h>
#include <stdint.h>

#define NS_DB_SCHEMA_VERSION 3

/* ns_db_open() flags. NS_DB_RO alone opens read-only (SQLITE_OPEN_READONLY and
 * PRAGMA query_only, no ATTACH): nothing done through that handle can modify the file. */
enum { NS_DB_RO = 0, NS_DB_RW = 1, NS_DB_CREATE = 2 };

enum ns_db_state {
    NS_DB_WAITING,
    NS_DB_RUNNING,
    NS_DB_COMPLETE,
    NS_DB_FAILED,
    NS_DB_STALE,
    NS_DB_NSTATES
};
/* Bit for a state in a `states` mask (0 means all states). */
#define NS_DB_STATE_BIT(s) (1u << (s))

/* "waiting", "running", "complete", "failed", "stale"; NULL if out of range. */
const char *ns_db_state_name(int state);
/* The state of a name, or -1 with ns_err() listing the states. */
int ns_db_state_from_name(const char *name);

/* The typed sampled-parameter columns, in schema order: the RegNet parameters depth w0 wa wm
 * group_w bot_mul se_r, then AnyNet's shared d w b g and per-stage d1..d8 w1..w8 b1..b8
 * g1..g8 (NS_DB_N_PARAMS names; the names of ns_space_param_name()). Any other sampled
 * parameter name is kept in the trial's other_params JSON object. One list: adding a typed
 * parameter is one P(name) here. */
#define NS_DB_PARAMS(P)                                                                            \
    P(depth)                                                                                       \
    P(w0) P(wa) P(wm) P(group_w) P(bot_mul) P(se_r) P(d) P(w) P(b) P(g) P(d1) P(d2) P(d3) P(d4)    \
        P(d5) P(d6) P(d7) P(d8) P(w1) P(w2) P(w3) P(w4) P(w5) P(w6) P(w7) P(w8) P(b1) P(b2) P(b3)  \
            P(b4) P(b5) P(b6) P(b7) P(b8) P(g1) P(g2) P(g3) P(g4) P(g5) P(g6) P(g7) P(g8)
#define NS_DB_COUNT_ONE(name) +1
#define NS_DB_N_PARAMS (0 NS_DB_PARAMS(NS_DB_COUNT_ONE))
extern const char *const ns_db_param_names[NS_DB_N_PARAMS];

struct ns_db;

/* ---------------------------------------------------------------------------------------
 * Opening */

/* Open the db at `path`.
 * NS_DB_RW | NS_DB_CREATE: create the file and schema if the file is missing or empty;
 *   switch to WAL; run PRAGMA quick_check (a corrupt file is refused before any write).
 * NS_DB_RW: the file must exist.
 * NS_DB_RO: the file must exist; opened read-only as above.
 * All modes: busy timeout of 10 s; the netspace_version table must exist and hold a version
 * this build understands. Returns NULL with ns_err() naming the file for: a missing file,
 * an unwritable file or folder (RW), a file that is not SQLite, an SQLite file that is not
 * a netspace db, a db of a newer schema version, a corrupt file. Free with ns_db_close(). */
struct ns_db *ns_db_open(const char *path, int flags);
/* Close (rolls back a batch left open). NULL is ignored. */
void ns_db_close(struct ns_db *db);
/* The path the db was opened with. */
const char *ns_db_path(const struct ns_db *db);

/* ---------------------------------------------------------------------------------------
 * Writing (a handle opened NS_DB_RW; one writer per file) */

/* Start / end a batch (BEGIN IMMEDIATE / COMMIT). Batches do not nest: a second
 * ns_db_begin() before ns_db_commit() is an error. ns_db_rollback() discards the batch. */
int ns_db_begin(struct ns_db *db);
int ns_db_commit(struct ns_db *db);
int ns_db_rollback(struct ns_db *db);

struct ns_db_study_def {
    const char *name;            /* unique in the db, non-empty */
    const char *experiment_json; /* the experiment (valid JSON; stored with sorted keys,
                                    compact, so key order and whitespace do not matter).
                                    Put everything that defines the trials in it (the space
                                    inline if edits to the space file must be refused). */
    uint64_t seed;               /* the study seed */
    const char *space;           /* the space's name or path, for listings (may be NULL) */
};

/* The id of study def->name, creating it if absent (*created = 1, else 0; created may be
 * NULL). If the name exists with a different experiment or seed: -1 and "FILE: study 'x'
 * exists with a different experiment; use another --study name or another db". */
int64_t ns_db_study_ensure(struct ns_db *db, const struct ns_db_study_def *def, int *created);
/* Replace the stored experiment of study `name` (stored as ns_db_study_ensure stores it). For
 * a caller that knows the new experiment keeps the study's trials (netspace search: more
 * samples of a prefix-stable study). 0, or -1 with ns_err ("FILE: study 'x' not found"). */
int ns_db_study_set_experiment(struct ns_db *db, const char *name, const char *experiment_json);

struct ns_db_param {
    const char *name; /* a typed column (ns_db_param_names) or any other identifier */
    double value;
};

struct ns_db_trial_def {
    int idx;                 /* trial index (>= 0), unique within the study */
    uint64_t stream;         /* PCG stream the config was sampled from */
    const char *config_json; /* canonical model config JSON */
    const char *config_hash; /* its hash (dedupe key) */
    int64_t flops, params, acts;
    const struct ns_db_param *sampled; /* the sampled parameters (n_sampled pairs) */
    int n_sampled;
    uint64_t train_seed;
};

/* Insert a trial in state 'waiting'. Idempotent for resume: if (study, idx) exists with the
 * same config hash, nothing changes and 0 is returned; if it exists with a different hash,
 * -1 ("trial 12 exists with config hash A, not B"); 1 when inserted. */
int ns_db_trial_add(struct ns_db *db, int64_t study, const struct ns_db_trial_def *t);

/* The state of a trial, or -1 with ns_err() if it does not exist. */
int ns_db_trial_state(struct ns_db *db, int64_t study, int idx);

/* Resume: mark every 'running' trial of the study 'stale' (they belonged to a run that
 * died). Returns the number of trials marked, or -1. */
int ns_db_mark_stale(struct ns_db *db, int64_t study);

/* The indices (ascending) of the trials that still need training: state waiting, running or
 * stale. *idx is malloc'd (NULL when *n == 0); the caller frees it. 0 or -1. */
int ns_db_trials_pending(struct ns_db *db, int64_t study, int **idx, int *n);

/* A trial was handed to a worker: state 'running', with rank, host (may be NULL) and the
 * start time; clears results, reason and epoch rows of an earlier attempt. */
int ns_db_trial_start(struct ns_db *db, int64_t study, int idx, int rank, const char *host);
/* The same for a trial that continues after epoch `from` (a multi-fidelity rung, a resume
 * from a checkpoint): only the epoch rows from `from` on (0-based epoch >= from) go. */
int ns_db_trial_start_at(struct ns_db *db, int64_t study, int idx, int rank, const char *host,
                         int from);

struct ns_db_epoch {
    int epoch;                                           /* 0-based */
    double train_loss, train_error, test_error, seconds; /* NAN = not measured */
};

/* Record (insert or replace) one epoch's metrics of a running trial. */
int ns_db_trial_epoch(struct ns_db *db, int64_t study, int idx, const struct ns_db_epoch *e);

struct ns_db_result {
    double train_error, test_error, best_test_error; /* final, percent; NAN = unknown */
    double wall_s;                                   /* training wall time */
    const struct ns_db_epoch *epochs; /* epoch rows written with the final state (insert or
                                         replace); may be NULL with n_epochs = 0 */
    int n_epochs;
};

/* Finish a trial: state 'complete' with the result and end time, in one transaction with
 * r->epochs. The trial must exist (any state). */
int ns_db_trial_complete(struct ns_db *db, int64_t study, int idx, const struct ns_db_result *r);

/* Finish a trial as 'failed' with a reason ("diverged: loss nan at epoch 2 step 31"); r may
 * be NULL, else its errors, wall time and epochs are kept as for complete. */
int ns_db_trial_fail(struct ns_db *db, int64_t study, int idx, const char *reason,
                     const struct ns_db_result *r);

/* Attempts: ns_db_trial_start() counts one. A trial put back unharmed (stopped by a signal)
 * gives it back; a trial lost with its process (a dead run's 'stale' trials) or its worker
 * (timed out) keeps it, so that a trial that kills its process cannot be retried forever. */

/* Put a trial back to 'waiting' (e.g. stopped by a signal): clears rank, host, times,
 * results and reason, deletes its epoch rows, and gives back the attempt. */
int ns_db_trial_reset(struct ns_db *db, int64_t study, int idx);
/* The same for a trial that was lost (its worker stopped answering): the attempt counts. */
int ns_db_trial_lost(struct ns_db *db, int64_t study, int idx);
/* Put a trial back to 'waiting' keeping its epoch rows (a multi-fidelity trial between
 * rungs, or stopped with a checkpoint to continue from); lost: the attempt counts. */
int ns_db_trial_pause(struct ns_db *db, int64_t study, int idx, int lost);

/* Multi-fidelity rungs (table rungs; see search/fidelity.h). */
struct ns_db_rung {
    int trial, rung;
    int epochs;        /* the rung ends at this epoch */
    double test_error; /* the error there (percent); NAN: cleared for it, not finished */
    int trained;       /* epochs trained to finish it */
    double wall_s;     /* training time of the job that finished it; NAN: unknown */
};
/* Trial idx is cleared for `rung` (ending at `epochs`): a promotion, recorded as it is
 * decided (idempotent). */
int ns_db_rung_clear(struct ns_db *db, int64_t study, int idx, int rung, int epochs);
/* Trial idx finished r->rung: its error, the epochs trained, and the trial's attempts start
 * again from 0 (they count per job). */
int ns_db_rung_done(struct ns_db *db, int64_t study, int idx, const struct ns_db_rung *r);
/* Every rung row of a study, by trial then rung; *out malloc'd (NULL when *n == 0). A file
 * without the table gives none. 0 or -1. */
int ns_db_rungs_load(struct ns_db *db, int64_t study, struct ns_db_rung **out, int *n);

/* The epochs a study has trained: the sum of its rungs' `trained` when it has rungs, else
 * its trials' epoch rows. -1 with ns_err. */
long long ns_db_study_epochs_spent(struct ns_db *db, int64_t study);

/* Mark 'failed' every waiting or stale trial of the study that has used max_attempts
 * attempts, with the reason "lost N times: its process died (out of memory? ...)". Returns
 * how many, or -1. */
int ns_db_fail_exhausted(struct ns_db *db, int64_t study, int max_attempts);

/* The study's dataset fingerprint: store fp, with the number of an image folder's files
 * that did not decode (skipped), if the study has none (0), compare otherwise: 0 equal, 1
 * different (*stored, n bytes, gets the stored one), -1 with ns_err. */
int ns_db_study_data_check(struct ns_db *db, int64_t study, const char *fp, int skipped,
                           char *stored, size_t n);

/* How long a write waits for a lock held by another connection (10 s after ns_db_open). */
void ns_db_set_busy_timeout(struct ns_db *db, int ms);
/* 1 when the last failed call on db failed because another connection held a lock (the
 * write can be retried later), else 0. */
int ns_db_locked(struct ns_db *db);
/* 0 while the file this read-write connection writes is still the one at its path (or for a
 * read-only one); -1 with ns_err once it was replaced, moved or deleted (a git stash or
 * checkout of a tracked db does that), after saving what the connection had written to
 * PATH.rescued-PID. Every write checks it; a search checks it once more at its end. */
int ns_db_in_place(struct ns_db *db);

/* ---------------------------------------------------------------------------------------
 * Reading (any handle) */

struct ns_db_study_info {
    int64_t id;
    char *name, *space, *experiment_json; /* space may be NULL */
    uint64_t seed;
    double created;
    int64_t n_trials;
    int64_t n_state[NS_DB_NSTATES];
    double best_test_error, median_test_error; /* over complete trials; NAN if none */
    /* the budget spent: the study's epoch rows (one per trial and epoch: rungs included; an
     * epoch retrained after a lost attempt counts once, with its last seconds), the sum of
     * their seconds (training and evaluation), and the earliest trial start on record (a
     * restarted or promoted trial keeps its latest) and the last end (Unix s; NAN if none) */
    int64_t epochs;
    double epoch_seconds, first_started, last_ended;
};

/* All studies, ordered by id. *out is malloc'd; free with ns_db_studies_free(). 0 or -1. */
int ns_db_studies(struct ns_db *db, struct ns_db_study_info **out, int *n);
void ns_db_studies_free(struct ns_db_study_info *s, int n);

/* The id of study `name`; with name NULL, the only study of the db. -1 with ns_err():
 * "FILE: study 'x' not found; studies: a, b", "FILE: no studies", or "FILE: 2 studies (a,
 * b); name one with --study". */
int64_t ns_db_study_resolve(struct ns_db *db, const char *name);

/* The stored experiment JSON of study `name` (NULL: the db's only study, with the errors of
 * ns_db_study_resolve) into *out (malloc'd). 1 found, 0 no study of that name (*out NULL),
 * -1 with ns_err. */
int ns_db_study_experiment(struct ns_db *db, const char *name, char **out);

struct ns_db_trial {
    int64_t study_id;
    int idx;
    uint64_t stream;
    int state; /* enum ns_db_state */
    char *config_json, *config_hash;
    int64_t flops, params, acts;
    double p[NS_DB_N_PARAMS]; /* typed sampled parameters (ns_db_param_names); NAN if none */
    char *other_params;       /* JSON object of the other sampled parameters, or NULL */
    uint64_t train_seed;
    double train_error, test_error, best_test_error, wall_s; /* NAN if not recorded */
    char *host;                                              /* NULL if never started */
    int rank;                                                /* -1 if never started */
    double started, ended;                                   /* NAN if not recorded */
    char *reason;                                            /* failure reason, or NULL */
    int attempts; /* times handed out and not given back (ns_db_trial_start counts them) */
};

/* The trials of a study whose state is in the mask `states` (0 = all), ordered by index.
 * *out is malloc'd (NULL when *n == 0); free with ns_db_trials_free(). 0 or -1. */
int ns_db_trials_load(struct ns_db *db, int64_t study, unsigned states, struct ns_db_trial **out,
                      int *n);
void ns_db_trials_free(struct ns_db_trial *t, int n);
/* One trial; free its strings with ns_db_trial_clear(). -1 if it does not exist. */
int ns_db_trial_load(struct ns_db *db, int64_t study, int idx, struct ns_db_trial *out);
void ns_db_trial_clear(struct ns_db_trial *t);

/* Numeric trial columns a caller may ask for by name (ns_db_trial_values, plot axes):
 * trial stream flops params acts <params> train_seed train_error test_error best_test_error
 * wall_s rank started ended. */
extern const char *const ns_db_value_columns[];
extern const int ns_db_n_value_columns;

/* The values of `ncols` named numeric columns for the trials of `study` in `states` (0 =
 * all), ordered by trial index: *out is a malloc'd row-major (*nrows x ncols) array, NULL
 * stored as NAN (rows are never dropped, so columns stay aligned). An unknown column name:
 * -1 with "FILE: unknown column 'x'; columns: trial, stream, ...". The caller frees *out. */
int ns_db_trial_values_n(struct ns_db *db, int64_t study, unsigned states,
                         const char *const *columns, int ncols, double **out, int *nrows);
/* One column: the same with ncols = 1. */
int ns_db_trial_values(struct ns_db *db, int64_t study, unsigned states, const char *column,
                       double **out, int *n);

/* One trial's per-epoch rows ordered by epoch; *out malloc'd (NULL when *n == 0); the caller
 * frees it. A trial with no epochs gives *n = 0; a missing trial is an error. */
int ns_db_epochs_load(struct ns_db *db, int64_t study, int idx, struct ns_db_epoch **out, int *n);

/* ---------------------------------------------------------------------------------------
 * Queries for users (query.c): rows streamed to a callback as they are read, so an endless
 * query costs no memory, under a time limit and a memory cap. */

enum ns_db_type { NS_DB_NULL, NS_DB_INT, NS_DB_REAL, NS_DB_TEXT };
struct ns_db_value {
    enum ns_db_type type;
    long long i;   /* NS_DB_INT */
    double d;      /* NS_DB_REAL */
    const char *s; /* NS_DB_TEXT (blobs too), valid during the callback only */
};
/* Called first with v NULL (the ncols column names, even when no row follows), then once per
 * row. Return 0 to go on, anything else to stop (the query function then returns that
 * value). */
typedef int (*ns_db_row_fn)(void *ctx, int ncols, const char *const *names,
                            const struct ns_db_value *v);

struct ns_db_read_limits {
    double timeout_s;   /* a statement running longer is stopped with an error; 0 = none */
    long max_memory_mb; /* SQLite's heap during the statement (sorts, CTEs); 0 = no cap */
};

struct ns_db_trials_query {
    int64_t study;       /* -1: every study */
    int state;           /* enum ns_db_state, -1: every state */
    int trial;           /* one trial index, -1: all */
    const char *where;   /* NULL, or an SQL expression over the trial columns that can only
                            narrow the selection (ns_db_where_check) */
    const char *columns; /* comma-separated trial columns, NULL: all */
    const char *sort;    /* a trial column (missing values last, then study, trial); NULL:
                            study, trial */
    int desc;
    long long limit; /* -1: none */
    struct ns_db_read_limits limits;
};

/* The trials listing: the relation of every trial column with its study's name as `study`
 * (ns_db_trial_columns), selected, filtered, sorted and limited as q says. Unknown columns
 * are errors listing the columns there are. 0, fn's non-zero value, or -1 with ns_err. */
int ns_db_trials_query(struct ns_db *db, const struct ns_db_trials_query *q, ns_db_row_fn fn,
                       void *ctx);
/* One read-only SQL statement (a writing one is refused before it runs). */
int ns_db_sql_query(struct ns_db *db, const char *sql, const struct ns_db_read_limits *rl,
                    ns_db_row_fn fn, void *ctx);
/* A trial's epoch rows (epoch, train_loss, train_error, test_error, seconds) by epoch. */
int ns_db_epochs_query(struct ns_db *db, int64_t study, int idx, ns_db_row_fn fn, void *ctx);
/* A study's rungs (multi-fidelity search): trial, rung, epochs, test_error, trained, wall_s,
 * promoted (1 when the trial was cleared for the next rung, 0 not (yet), NULL while the rung
 * is not finished), by trial and rung; idx >= 0: that trial's only. None in a file without
 * rungs. */
int ns_db_rungs_query(struct ns_db *db, int64_t study, int idx, ns_db_row_fn fn, void *ctx);
/* The trial columns, ", "-separated, into buf (n bytes); their count, or -1. */
int ns_db_trial_columns(struct ns_db *db, char *buf, size_t n);
/* 0 when expr is a --where expression that stays inside its parentheses (balanced outside
 * quotes, no ';', no comments), else -1 with ns_err saying what is wrong. */
int ns_db_where_check(const char *expr);

/* The underlying SQLite connection (a `struct sqlite3 *`), for the store's own query code.
 * Writers must use the functions above. */
void *ns_db_sqlite(struct ns_db *db);

/* Report an SQLite failure on db: ns_err("FILE: WHAT: <sqlite message>"); returns -1. */
int ns_db_sqlerr(struct ns_db *db, const char *what);

/* ---------------------------------------------------------------------------------------
 * Weights and checkpoints (blobs.c, schema 3): the bytes of checkpoints (nn/checkpoint.h)
 * kept in the db, so that a search's best models and its paused trials are not files on the
 * workers' nodes. The store keeps the bytes as given (it does not parse them: the callers
 * check them with ns_ckpt_check). One row per trial in each table; a put replaces it.
 * A db of schema 2 opened read-only has neither table: the getters find nothing there. */

/* A trial's kept weights (a weights-only checkpoint) taken after `epoch`. 0 or -1 (ns_err:
 * no such trial, read-only, SQLite's error). */
int ns_db_put_weights(struct ns_db *db, int64_t study, int idx, int epoch, const uint8_t *buf,
                      size_t len);
/* 1 with *buf (malloc'd), *len and *epoch (may be NULL) when the trial has kept weights, 0
 * when not, -1 with ns_err. */
int ns_db_get_weights(struct ns_db *db, int64_t study, int idx, uint8_t **buf, size_t *len,
                      int *epoch);
/* The trials of a study with kept weights, by index (*idx malloc'd, NULL when *n == 0). */
int ns_db_weights_trials(struct ns_db *db, int64_t study, int **idx, int *n);
/* Keep the weights of the `keep` best trials of the study (lowest test_error of those with
 * kept weights, ties by index; trials without an error last) and delete the others. Returns
 * the number deleted, or -1. */
int ns_db_prune_weights(struct ns_db *db, int64_t study, int keep);

/* A trial's last full checkpoint (to resume a preempted trial, or to continue a promoted one
 * in a multi-fidelity search), taken after `epoch`. Same conventions as the weights. */
int ns_db_put_checkpoint(struct ns_db *db, int64_t study, int idx, int epoch, const uint8_t *buf,
                         size_t len);
int ns_db_get_checkpoint(struct ns_db *db, int64_t study, int idx, uint8_t **buf, size_t *len,
                         int *epoch);
/* Delete a trial's checkpoint (none is fine). 0 or -1. */
int ns_db_drop_checkpoint(struct ns_db *db, int64_t study, int idx);

#endif
