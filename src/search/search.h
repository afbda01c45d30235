/* The search: run a study (an experiment file against a results db), alone or under mpirun.
 *
 * Roles. Without mpirun, or under `mpirun -np 1`, one process samples the study, trains the
 * trials one after another and writes the db between them. Under `mpirun -np N` (N >= 2),
 * rank 0 is the coordinator: it samples the study, hands trials to ranks 1..N-1 (the
 * workers), receives their per-epoch metrics and results and is the only writer of the db;
 * it never trains. Workers load the dataset once and train what they are given.
 *
 * Determinism. Trial i's config is the space's candidate from PCG stream i of the study
 * seed (space.h); its training seed is ns_search_train_seed(study seed, i), or of the
 * experiment's "train_seed" where it has one (ns_exp_train_seed). So configs, and
 * with the same thread count errors, do not depend on the number of ranks or on which
 * worker finishes first.
 *
 * Scheduling. Dynamic: a worker that reports a result gets the next trial at once; pending
 * trials go out largest first (flops descending, then index), so the study's tail is short.
 * The coordinator polls with MPI_Iprobe and sleeps between polls (20 us growing to 5 ms),
 * so it does not burn a core the way Open MPI's blocking receive does.
 *
 * Signals. SIGINT or SIGTERM (Open MPI's mpirun, given either, sends every rank SIGCONT,
 * SIGTERM a second later, and SIGKILL a second after that): the coordinator stops handing
 * out work, puts the running trials back to 'waiting' and commits at once, records any
 * result that arrives within the next 0.3 s and returns NS_SEARCH_INTERRUPTED (in time for
 * the caller to say so before the SIGKILL). Workers abort their trial within one SGD step. Every
 * commit leaves the db consistent, so even a SIGKILL at any moment is resumed by running the
 * same command again ('running' trials of a dead run are marked stale and retrained).
 *
 * Errors: functions returning int give 0 (or a count) on success and -1 with ns_err() set;
 * library code never prints except the progress display, to the FILE the caller passes. */
#ifndef NS_SEARCH_H
#define NS_SEARCH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "data/data.h"
#include "nn/train.h"
#include "search/fidelity.h"
#include "space/space.h"

/* ---------------------------------------------------------------- experiment files ------ */

/* Experiment files (experiments/NAME.json; see experiments/README.md):
 *   {"name": "quickstart",              required; letters, digits, '_', '-', '.'
 *    "space": "../spaces/x.json",       required; a path (relative: to the experiment
 *                                       file's folder first, then to the current folder,
                                       then in the installed share/netspace)
 *                                       or an inline space object
 *    "samples": 8,                      required; trials in the study, 1..100000 (may be
 *                                       raised later: the study grows, see search.c)
 *    "seed": 1,                         study seed, 0..2^53 (default 1)
 *    "constraints": {"flops": [lo, hi], ...},   optional; narrows the space's (space.h)
 *    "data": {"name": "fashion-mnist",  required: fashion-mnist, cifar10, synthetic, folder
 *             "dir": null,              folder of the files (default: data.h's)
 *             "val_split": 0,           [0, 0.9]: evaluate on this fraction of the training
 *                                       set instead of the test set
 *             "train_limit": 0, "test_limit": 0,   keep the first N images (0 = all)
 *             "n": 2048, "n_test": 512, "size": 28, "channels": 1, "classes": 10,
 *             "seed": ...               synthetic only: training and test images (n_test
 *                                       defaults to n/4), side, channels, classes,
 *                                       generator seed (defaults: data.h's NS_DATA_SYNTH_*)
 *             name "folder" (an image folder, data.h): "dir" and "size" (8..1024) required;
 *             "channels" 1 or 3 (default 3), "strict" (default false: undecodable files
 *             are skipped and logged), "cache" (the cache file; default data.h's)},
 *    "recipe": {"epochs", "batch", "lr", "momentum", "nesterov", "weight_decay",
 *               "warmup_epochs", "warmup_factor", "crop_pad", "flip", "rotate", "zoom",
 *               "rrc_scale", "dropout", "drop_path", "optimizer", "beta1", "beta2",
 *               "zero_init_last_bn", "eval_batch", "eval_every", "agc"}   optional,
 *               defaults of ns_recipe_default ("agc": adaptive gradient clipping factor,
 *               0 = off; "eval_every": N evaluates after every N-th epoch and the last;
 *               options added after the first studies are written in the canonical form
 *               only when set),
 *    "threads": 1,                      compute threads per worker (1..256)
 *    "search": {"kind": "sha", "eta": 3, "min_epochs": 1, "max_epochs": 27}   optional
 *                                       (struct ns_exp_search; default "random")
 *    "keep_weights": 0,                 keep the weights of the best K trials in the db
 *    "checkpoint_every": 0,             checkpoint each trial every N epochs into the db
 *                                       (a preempted trial resumes from it)
 *    "limits": {"memory_mb": 0,         per trial: memory limit (0 = none)
 *               "trial_minutes": 0,     wall-clock limit of one trial (0 = none)
 *               "max_attempts": 2,      a trial lost (its process died, its worker stalled)
 *                                       this many times is failed with the reason
 *               "isolate": true}}       train each trial in a child process (isolate.h); the
 *                                       memory limit needs it
 *   "limits" are not part of the study: a resume may change them.
 * Unknown keys, wrong types and out-of-range values are errors naming the file and the key
 * ("experiments/x.json: recipe.lrate: unknown key (known: epochs, batch, ...)"). */

struct ns_exp_data {
    enum ns_data_kind kind;
    char name[32];             /* as written: "fashion-mnist", "cifar10", "synthetic" */
    char *dir;                 /* NULL = the default folder; as written; owned */
    char *dir_path;            /* dir resolved: a relative dir is beside the experiment file
                                  (ns_experiment_load); NULL = dir as is; owned */
    double val_split;          /* 0 = evaluate on the test set */
    int train_limit;           /* 0 = all */
    int test_limit;            /* 0 = all */
    int synth_n, synth_n_test; /* synthetic only: images in train and test */
    int synth_size, synth_channels, synth_classes;
    uint64_t synth_seed;
    int folder_size, folder_channels, folder_strict; /* image folders only */
    char *folder_cache;                              /* NULL = the default; owned */
    int skipped; /* set by ns_exp_data_load: files of an image folder that did not decode */
};

struct ns_exp_limits {
    int memory_mb;        /* 0 = none */
    double trial_minutes; /* 0 = none */
    int max_attempts;     /* >= 1 */
    int isolate;          /* train each trial in a child process (default 1) */
};

/* "search": {"kind": "random" | "sha" | "hyperband" | "asha", "eta": 3, "min_epochs": 1,
 *            "max_epochs": E}  how trials are scheduled (fidelity.h). Default random: every
 * trial trains recipe.epochs. The others train in rungs; max_epochs is the recipe's epochs
 * (either may be given; both must agree). */
struct ns_exp_search {
    int kind; /* enum ns_fid_kind (fidelity.h) */
    int eta, min_epochs, max_epochs;
};

struct ns_experiment {
    char *file;           /* the file it came from, or the `where` of a text; owned */
    char *name;           /* owned */
    char *space_file;     /* "space" as written, NULL when inline; owned */
    char *space_path;     /* the space file found by ns_experiment_load (NULL until then or
                             when inline); owned */
    json_t *space_file_json; /* its content, read once by ns_experiment_load: the space is
                                sampled from it and stored from it, so an edit of the file
                                while a study starts cannot make the two disagree; owned */
    json_t *space_inline; /* an inline space object, or NULL; owned reference */
    int samples;
    uint64_t seed;
    uint64_t train_seed; /* "train_seed": the training seeds' source instead of `seed`, so the
                            same models train again from other initial weights */
    int has_train_seed;
    json_t *constraints; /* as written (validated), or NULL; owned reference */
    struct ns_exp_data data;
    struct ns_recipe recipe; /* threads set from "threads"; seed is per trial (unused here) */
    struct ns_exp_limits limits;
    struct ns_exp_search search;
    int keep_weights;     /* "keep_weights": keep the weights of the best K trials in the db */
    int checkpoint_every; /* "checkpoint_every": a trial's checkpoint goes to the db every N
                             epochs, so a preempted trial resumes from it (0 = off) */
    char *canonical;         /* the experiment with defaults filled in, as compact JSON with
                                sorted keys: equal meaning <=> equal text; owned */
};

/* Parse experiment JSON text; `where` names it in messages (usually the file name).
 * Does not touch the file system (the space is not looked up). Returns 0, or -1 with ns_err
 * ("WHERE: recipe.lr: ..."); on error nothing is left allocated. Free with
 * ns_experiment_free(). */
int ns_experiment_parse(const char *text, const char *where, struct ns_experiment *ex);
/* Read and parse the file `path`, then find and read the space file (space_path,
 * space_file_json). */
int ns_experiment_load(const char *path, struct ns_experiment *ex);
void ns_experiment_free(struct ns_experiment *ex);
/* Run only the first n of the experiment's samples (netspace search --samples): the study is
 * then recorded with n samples, and a later run with more (or the file's own) grows it, as
 * sampling is prefix-stable. n must be 1..samples; a multi-fidelity experiment refuses any n
 * below its samples. Returns 0, or -1 with ns_err naming the file. */
int ns_experiment_cap_samples(struct ns_experiment *ex, int n);

/* The input shape the experiment's dataset will have (known without loading it; an image
 * folder's classes are its train/ sub-folders). 0, or -1 with ns_err (a folder that is
 * not one). */
int ns_exp_data_shape(const struct ns_exp_data *d, int *in_ch, int *im_size, int *classes);

/* Load the experiment's dataset: train and eval (the test set, or the validation split of
 * train when val_split > 0; an image folder without test/ needs val_split), limited and
 * normalized with the training statistics; d->skipped is set. Skipped files of an image
 * folder are logged to stderr, one line each. The split
 * is drawn with a fixed seed, so every worker gets the same images. 0 or -1 (nothing left
 * allocated). */
int ns_exp_data_load(struct ns_exp_data *d, struct ns_dataset *train, struct ns_dataset *eval);

/* A fingerprint of the loaded dataset's content (images, labels, shapes of both sets):
 * 16 hex digits (FNV-1a 64) into out. Stored in the study, so that a resume on other data is
 * refused. */
void ns_exp_data_fingerprint(const struct ns_dataset *train, const struct ns_dataset *eval,
                             char out[17]);
/* The files a dataset is read from, for messages ("fashion-mnist in DIR
 * (train-images-idx3-ubyte.gz, ...)"), into buf. */
void ns_exp_data_describe(const struct ns_exp_data *d, char *buf, size_t n);
/* The experiment as rank 0 sends it to the workers (SETUP): the canonical form with data.dir
 * resolved. Malloc'd; NULL with ns_err. */
char *ns_experiment_setup_json(const struct ns_experiment *ex);

/* Refuse a dataset the recipe cannot train on (a batch larger than the training set), before
 * any trial runs. 0, or -1 with ns_err ("FILE: recipe.batch: ..."). */
int ns_exp_data_check(const struct ns_experiment *ex, const struct ns_dataset *train);

/* Load the experiment's space (file or inline), set its input shape from the dataset and
 * narrow it by the experiment's constraints. NULL with ns_err on error. */
struct ns_space *ns_experiment_space(const struct ns_experiment *ex);

/* What the db stores as the study's experiment: the canonical experiment with the space
 * file's content in place of its path, so that editing the space file is refused on resume
 * while moving it is not. Malloc'd; NULL with ns_err. */
char *ns_experiment_study_json(const struct ns_experiment *ex, const char *space_path);
/* (space_path is read only when ex has no space_file_json: an experiment that was parsed,
 * not loaded.) */

/* Where two experiment (or study) JSON texts differ, for messages: up to 4 key paths
 * ("recipe.lr, space.params.depth.hi"), comma-separated, into out (n bytes; "" when
 * equal or unparsable). Returns the number of paths listed. */
int ns_experiment_diff(const char *a, const char *b, char *out, size_t n);

/* Training seed of trial i: splitmix64(study_seed ^ ((i + 1) * 0x9e3779b97f4a7c15)), the
 * finalizer of SplitMix64 (Steele et al. 2014), so neighbouring trials get unrelated seeds. */
uint64_t ns_search_train_seed(uint64_t study_seed, int trial);
/* Trial `trial`'s training seed in this experiment: from "train_seed" where given, else from
 * the study seed. */
uint64_t ns_exp_train_seed(const struct ns_experiment *ex, int trial);

/* ---------------------------------------------------------------- scheduling ------------ */

/* The queue of trials to train in this run: largest first. Plain data, no allocation after
 * init. */
struct ns_sched {
    int n;      /* trials in the queue */
    int next;   /* position of the next one to hand out */
    int *order; /* trial indices, flops descending, then index ascending; owned */
};

/* Queue the trials idx[0..n) (indices into `flops`, which holds every trial's flops).
 * 0 or -1 (out of memory). */
int ns_sched_init(struct ns_sched *s, const int *idx, int n, const double *flops);
/* The next trial to hand out, or -1 when none is left. */
int ns_sched_next(struct ns_sched *s);
/* Hand trial t out again, next (it was handed out and lost). 0, or -1 when nothing was
 * handed out (then t cannot have been). */
int ns_sched_requeue(struct ns_sched *s, int t);
void ns_sched_free(struct ns_sched *s);

/* ---------------------------------------------------------------- messages -------------- */

/* The MPI protocol between rank 0 (C) and the workers (W). Every message is MPI_BYTE with
 * its kind as the tag; numbers are little-endian fixed width, strings are a u32 length and
 * the bytes. Order between a pair of ranks is MPI's (non-overtaking), which the protocol
 * relies on: a trial's EPOCH messages arrive before its RESULT.
 *   C->W SETUP  experiment canonical JSON: load the data, then answer READY or FATAL
 *   W->C READY  host name, threads, dataset fingerprint: give me work
 *   W->C FATAL  message: this worker cannot work (data missing, ...); C stops the study
 *   C->W ASSIGN trial, training seed, config JSON, rung, epochs from and to, whether to send
 *               the checkpoint after `to`, the checkpoint to continue from (from > 0)
 *   W->C EPOCH  trial, epoch metrics (sent as each epoch ends)
 *   W->C CKPT   trial, epoch, a full checkpoint after that epoch (nn/checkpoint.h): every
 *               checkpoint_every epochs and, when asked, after the job's last epoch; sent
 *               before the RESULT, so rank 0 has it when it records the rung
 *   W->C RESULT trial, ns_train_result, seconds spent waiting for this trial
 *   C->W STOP   abort the running trial (its RESULT still comes), then say BYE and exit
 *   W->C BYE    (empty) the last message of a worker */
enum ns_msg_kind {
    NS_MSG_SETUP = 1,
    NS_MSG_READY,
    NS_MSG_FATAL,
    NS_MSG_ASSIGN,
    NS_MSG_EPOCH,
    NS_MSG_RESULT,
    NS_MSG_STOP,
    NS_MSG_BYE,
    NS_MSG_CKPT,
    NS_MSG_NKINDS
};

/* A growable byte buffer to pack a message into. */
struct ns_msgbuf {
    unsigned char *p;
    size_t len, cap;
    int oom; /* an allocation failed; the buffer is unusable */
};

struct ns_msg_assign {
    int trial;
    uint64_t seed;
    char config[1024]; /* canonical config JSON (same size as ns_trial.json) */
    int rung;          /* multi-fidelity: the rung this job ends (for messages); -1: none */
    int from;          /* continue after this epoch from ckpt (0: from scratch) */
    int to;            /* stop after this epoch (0: recipe.epochs); the schedule still spans
                          recipe.epochs */
    int ckpt_last;     /* send the checkpoint after `to` (CKPT) */
    uint8_t *ckpt;     /* the checkpoint after `from` (from > 0); pack reads it, unpack
                          mallocs it (ns_msg_assign_free) */
    size_t ckpt_len;
};

struct ns_msg_ckpt {
    int trial, epoch;
    const uint8_t *buf; /* unpack: points into the message (valid while it is) */
    size_t len;
};

struct ns_msg_epoch {
    int trial;
    struct ns_epoch_metrics m;
};

struct ns_msg_result {
    int trial;
    struct ns_train_result r;
    double wait_s; /* this worker's idle time between its previous message and the ASSIGN */
};

struct ns_msg_ready {
    char host[64];
    int threads;
    char data_fp[17]; /* the fingerprint of the dataset it loaded (ns_exp_data_fingerprint) */
    int data_skipped; /* files of an image folder that did not decode (ns_exp_data.skipped) */
};

void ns_msgbuf_free(struct ns_msgbuf *b);
/* Pack into b (b->len = 0 first); 0, or -1 when out of memory. */
int ns_msg_pack_str(struct ns_msgbuf *b, const char *s); /* SETUP, FATAL */
int ns_msg_pack_ready(struct ns_msgbuf *b, const struct ns_msg_ready *m);
int ns_msg_pack_assign(struct ns_msgbuf *b, const struct ns_msg_assign *m);
int ns_msg_pack_epoch(struct ns_msgbuf *b, const struct ns_msg_epoch *m);
int ns_msg_pack_result(struct ns_msgbuf *b, const struct ns_msg_result *m);
int ns_msg_pack_ckpt(struct ns_msgbuf *b, const struct ns_msg_ckpt *m);
/* Unpack n bytes; 0, or -1 with ns_err for a short, long or malformed message (never reads
 * past n). ns_msg_unpack_str returns a malloc'd string in *out. */
int ns_msg_unpack_str(const void *p, size_t n, char **out);
int ns_msg_unpack_ready(const void *p, size_t n, struct ns_msg_ready *m);
int ns_msg_unpack_assign(const void *p, size_t n, struct ns_msg_assign *m);
int ns_msg_unpack_epoch(const void *p, size_t n, struct ns_msg_epoch *m);
int ns_msg_unpack_result(const void *p, size_t n, struct ns_msg_result *m);
int ns_msg_unpack_ckpt(const void *p, size_t n, struct ns_msg_ckpt *m);
/* Free what ns_msg_unpack_assign allocated (the checkpoint). */
void ns_msg_assign_free(struct ns_msg_assign *m);

/* ---------------------------------------------------------------- running --------------- */

struct ns_search_opts {
    const char *experiment; /* experiment file */
    const char *db;         /* results db (created if missing) */
    FILE *progress;         /* rank 0's progress display; NULL = none */
    int use_mpi;            /* 1: MPI_Init (under a launcher); 0: alone, no MPI at all;
                               -1: decide from the environment (ns_search_under_mpi) */
    int samples;            /* > 0: the first `samples` of the experiment's samples only
                               (ns_experiment_cap_samples); 0: all of them */
};

enum ns_search_status {
    NS_SEARCH_ERROR = -1,      /* ns_err() says why */
    NS_SEARCH_DONE = 0,        /* every trial complete or failed */
    NS_SEARCH_INTERRUPTED = 1, /* a signal stopped it; run again to resume */
};

/* What a run did, for the caller's summary (meaningful on rank 0). */
struct ns_search_report {
    int rank, size; /* this process's MPI rank and the world size (0, 1 alone) */
    char study[128];
    int n_trials;             /* trials in the study */
    int n_complete, n_failed; /* over the whole study, after this run */
    int n_pending_start;      /* trials this run set out to train */
    int grown_from;           /* the study's samples before this run grew it, 0 if it did not */
    int n_trained;            /* trials finished (complete or failed) in this run */
    int best_trial;           /* lowest final test error among complete trials, -1 if none */
    double best_err;          /* its error (percent) */
    double seconds;           /* wall time of the run */
    double train_s;           /* sum of the workers' training wall times in this run */
    double wait_s;            /* sum of the workers' idle time between trials (scheduling
                                 overhead as the workers see it) */
    double cpu_s;             /* CPU time (user + system) of this process during the run */
    int multi;                /* a multi-fidelity study (search.kind sha, hyperband, asha) */
    int test_selection;       /* ... whose rungs were selected on the test set (no
                                 data.val_split): its best error is optimistic */
    int on_validation;        /* the errors are on data.val_split's images, not the test set */
    long long epochs_spent;   /* the study's epochs trained so far (rungs: the epochs trained
                                 for them; else the trials' epoch rows); -1 unknown */
    int data_skipped;         /* files of the study's image folder that did not decode
                                 (counted in the study: studies.data_skipped) */
};

/* 1 when this process was started by an MPI launcher (mpirun, srun with PMI/PMIx), judged
 * from the environment variables they set. */
int ns_search_under_mpi(void);

/* Run the study. Initializes MPI itself when opts->use_mpi says so (call it once per
 * process), and leaves it initialized for ns_search_finalize(). Installs SIGINT/SIGTERM
 * handlers for its duration. Returns an enum ns_search_status and fills *rep; on
 * NS_SEARCH_ERROR ns_errmsg() says why (on the rank that failed; rank 0 also reports a
 * worker's fatal error). */
int ns_search_run(const struct ns_search_opts *opts, struct ns_search_report *rep);

/* The process that trains one trial in isolation (src/search/isolate.h): `netspace
 * trial-child PARENT_PID`, started by a worker with its job on fd 3, events to fd 4 and the
 * dataset on fd 5. Returns the process exit status. */
int ns_search_trial_child(int argc, char **argv);

/* Finalize MPI if ns_search_run() initialized it. Call it after printing the summary: when
 * mpirun is stopping the job (it forwarded a SIGTERM), MPI_Finalize waits for a runtime
 * that is going away and the process ends by mpirun's SIGKILL a second later, so anything
 * to say must be said before. */
void ns_search_finalize(void);

#endif
