/* Multi-fidelity scheduling (issue #15): successive halving (SHA), Hyperband and ASHA over
 * "rungs" of epochs. Pure bookkeeping, no I/O: the coordinator (coord.c) feeds it the
 * trials' rung results and asks it for the next job; the unit tests drive it directly.
 *
 * Rungs. With eta, min_epochs and max_epochs, s_max = floor(log_eta(max/min)) and rung k
 * (0..s_max) ends at epoch round(max_epochs / eta^(s_max - k)) (1, 3, 9, 27 for eta 3, 1,
 * 27). Every trial's learning-rate schedule spans max_epochs, so the error at a rung is the
 * error at that epoch of the full-budget run, and a promoted trial continues from its
 * checkpoint at the rung's epoch: a job is (trial, rung, from_epoch, to_epoch).
 *
 * Brackets. SHA and ASHA: one bracket, every trial starts at rung 0. Hyperband: s_max + 1
 * brackets; bracket b starts at rung b and gets a share of the study's trials proportional
 * to Li et al.'s n_b = ceil((s_max + 1) / (s_max - b + 1) * eta^(s_max - b)) (at least one
 * each; the rounding remainder goes to bracket 0). Trials are assigned to brackets by index:
 * bracket 0 holds the first ones.
 *
 * Promotion, synchronous (SHA, Hyperband). Rung k of a bracket is closed when every trial
 * that entered it (was cleared for it) has finished it or failed. Then the best
 * max(1, floor(n_k / eta)) of the n_k that entered, by (error at rung k, trial index), among
 * those that finished it, are cleared for rung k + 1. This is a pure function of the rung's
 * results, which are deterministic (same seed, same bits), so the promotions and the final
 * models do not depend on the number of workers, the order results arrive in, or a resume.
 *
 * Promotion, asynchronous (ASHA, Li et al. 2020). When a worker asks for work: from the
 * highest rung down, a trial that finished rung k, is among the best floor(c_k / eta) of
 * the c_k trials that have finished rung k so far (ties by index) and is not yet promoted
 * is cleared for rung k + 1 and is the job; else a trial cleared for a rung it has not
 * finished (a new trial at rung 0). When nothing is left to start and nothing runs (the end
 * of a finite study) a rung whose floor(c_k / eta) is 0 still promotes its best, so the
 * study ends with a model of the full budget. The decisions depend on timing; the
 * coordinator records each in the db as it is made (a rung row), and a resume reloads them
 * (ns_fid_load).
 *
 * Failures: a failed trial is out (its finished rungs still count towards n_k, so one
 * failure does not change how many are promoted; it is just never one of them). */
#ifndef NS_SEARCH_FIDELITY_H
#define NS_SEARCH_FIDELITY_H

enum ns_fid_kind { NS_FID_RANDOM, NS_FID_SHA, NS_FID_HYPERBAND, NS_FID_ASHA, NS_FID_NKINDS };

#define NS_FID_MAX_RUNGS 16

struct ns_fid_spec {
    enum ns_fid_kind kind;
    int eta;        /* >= 2 */
    int min_epochs; /* >= 1 */
    int max_epochs; /* >= min_epochs; the recipe's epochs */
};

/* "random", "sha", "hyperband", "asha"; NULL if out of range. */
const char *ns_fid_kind_name(int kind);
/* The kind of a name, or -1. */
int ns_fid_kind_from_name(const char *name);

/* The rungs' end epochs (ascending, the last max_epochs) into epochs[]; their count (1 ..
 * NS_FID_MAX_RUNGS), or -1 with ns_err naming the bad field ("search.eta: ..."). */
int ns_fid_rungs(const struct ns_fid_spec *s, int epochs[NS_FID_MAX_RUNGS]);

/* One trial's state. */
struct ns_fid_trial {
    int bracket;                  /* its bracket (0 unless Hyperband) */
    int cleared;                  /* the highest rung it may train to */
    int done;                     /* the highest rung it has finished, -1 none */
    int failed;                   /* out of the study */
    int running;                  /* a job of it is out */
    double err[NS_FID_MAX_RUNGS]; /* error at each finished rung (percent) */
};

struct ns_fid {
    struct ns_fid_spec spec;
    int n_rungs;
    int epochs[NS_FID_MAX_RUNGS]; /* rung k ends at epochs[k] */
    int n_brackets;
    int br_lo[NS_FID_MAX_RUNGS], br_n[NS_FID_MAX_RUNGS]; /* bracket b: trials [lo, lo+n) */
    int n;
    struct ns_fid_trial *t; /* owned */
    int idle;               /* ns_fid_next found nothing and nothing has changed since (it costs
                               O(n log n) to look again) */
};

/* A job: train `trial` from epoch `from` (0: from scratch, else from its checkpoint after
 * that epoch) to epoch `to`, the end of rung `rung`. */
struct ns_fid_job {
    int trial, rung, from, to;
    int promoted; /* 1: this call cleared the trial for the rung (record the promotion) */
};

/* Set up n trials (every one cleared for its bracket's first rung). Hyperband needs
 * n >= the number of brackets. 0, or -1 with ns_err. Free with ns_fid_free. */
int ns_fid_init(struct ns_fid *f, const struct ns_fid_spec *s, int n);
void ns_fid_free(struct ns_fid *f);

/* The first rung of trial i's bracket. */
int ns_fid_first_rung(const struct ns_fid *f, int i);

/* Restore what a db says of trial i (a resume): cleared for rung `cleared` (-1: only its
 * first), finished rungs with errors err[first..done], failed. 0, or -1 with ns_err for a
 * state this schedule cannot have produced. */
int ns_fid_load(struct ns_fid *f, int i, int cleared, int done, const double *err, int failed);

/* Trial i finished rung `rung` with error err (percent; NAN counts as a failure). 0 or -1. */
int ns_fid_record(struct ns_fid *f, int i, int rung, double err);
/* Trial i failed (diverged, crashed, out of attempts): it is out. */
void ns_fid_fail(struct ns_fid *f, int i);
/* Trial i's job was given back unfinished (an interrupt, a lost worker): it is handed out
 * again. */
void ns_fid_requeue(struct ns_fid *f, int i);

/* Apply the synchronous promotions now due and pick the next job: promoted trials first
 * (the deepest rung first), then by flops descending (flops may be NULL), then by index.
 * Marks the job's trial running. 1 with *job, 0 when nothing can be handed out now (wait
 * for running jobs; when none runs, the study is done), -1 on a corrupt state. */
int ns_fid_next(struct ns_fid *f, const double *flops, struct ns_fid_job *job);

/* 1 when no job runs and none can be handed out: every trial finished where it stopped. */
int ns_fid_finished(struct ns_fid *f);

/* Mark in out[i] (n entries, set to 0 or 1) the trials that will train no more: failed, at
 * the last rung, or (SHA, Hyperband) left behind by a closed rung. Their checkpoints can go.
 * Under ASHA any finished rung may still promote, until the study ends. Applies the
 * synchronous promotions now due first. 0, or -1 (out of memory). */
int ns_fid_out(struct ns_fid *f, unsigned char *out);

/* The epochs a trial's finished rungs cost (its done rung's end epoch; 0 none). */
int ns_fid_epochs_spent(const struct ns_fid *f, int i);

#endif
