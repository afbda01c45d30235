/* Training one model: the contract between the convnet core and its callers (the train
 * command and the search worker). The core knows nothing about MPI, SQLite or JSON.
 *
 * ns_train() builds the network of a model config, trains it with SGD on `train` with the
 * recipe, evaluates on `test` after every epoch (or every recipe.eval_every-th and the
 * last), and reports each epoch through a callback.
 * The same config, data, recipe (seed included) and thread count give bit-identical
 * results. It allocates once at the start (one arena for the net) and nothing per step. */
#ifndef NS_TRAIN_H
#define NS_TRAIN_H

#include <stdatomic.h>
#include <stdint.h>

#include "data/data.h"
#include "model/model.h"
#include "util/progress.h"

enum ns_optimizer { NS_OPT_SGD, NS_OPT_ADAMW };

struct ns_recipe {
    enum ns_optimizer optimizer; /* SGD (momentum, nesterov) or AdamW (beta1, beta2) */
    double beta1, beta2;         /* AdamW's moment decays (0.9, 0.999); eps is 1e-8 */
    int epochs;             /* >= 1 */
    int batch;              /* images per SGD step (the last partial batch is dropped) */
    double lr;              /* peak learning rate */
    double momentum;        /* SGD momentum, 0 = plain SGD */
    int nesterov;           /* Nesterov momentum */
    double wd;              /* weight decay (L2), applied to every parameter like torch's SGD */
    double warmup_epochs;   /* linear warmup length (may be fractional); 0 = none */
    double warmup_factor;   /* warmup starts at lr * warmup_factor */
    int crop_pad;           /* augmentation: random crop with this zero padding, 0 = off */
    int flip;               /* augmentation: random horizontal flip */
    double rotate;          /* augmentation: random rotation up to this many degrees, 0 = off */
    double zoom;            /* augmentation: random zoom by up to this fraction, 0 = off */
    double rrc_scale;       /* augmentation: random-resized crop of area fraction in
                               [rrc_scale, 1], 0 = off (data.h struct ns_augment) */
    double dropout;         /* dropout rate before the classifier, 0 = off */
    double drop_path;       /* stochastic depth rate of the last block (model/graph.h), 0 = off */
    int zero_init_last_bn;  /* zero gamma on each residual block's last BN */
    uint64_t seed;          /* init, shuffling, augmentation and dropout all derive from it */
    int threads;            /* compute threads, >= 1 */
    int eval_batch;         /* batch for evaluation (0 = the training batch) */
    int eval_every;         /* evaluate after every N-th epoch and after the last one a run
                             * trains (0 or 1: every epoch); other epochs' test_err is NAN */
    double agc;             /* adaptive gradient clipping factor lambda (0 = off): each
                             * step's gradients are clipped unit-wise (ns_net_agc, every
                             * parameter but the classifier's) before the SGD update */
};

/* Defaults: SGD, 10 epochs, batch 128, lr 0.1, momentum 0.9, Nesterov, wd 5e-4, no warmup,
 * no augmentation, no gradient clipping, seed 1, 1 thread; AdamW's betas 0.9 and 0.999. With AdamW the weight
 * decay is decoupled and spares biases, norms and embeddings (ns_net_adamw_step). The learning rate follows a cosine from lr to 0 over
 * all steps (per step), after the warmup. */
void ns_recipe_default(struct ns_recipe *r);
/* 0, or -1 with ns_err naming the field ("batch: 0 is not >= 1"). */
int ns_recipe_check(const struct ns_recipe *r);

struct ns_epoch_metrics {
    int epoch;           /* 1-based */
    double train_loss;   /* mean cross-entropy over the epoch's steps */
    double train_err;    /* percent, measured on the fly (training mode, augmented) */
    double test_err;     /* percent, evaluation mode on the test (or validation) set; NAN
                          * for an epoch not evaluated (recipe.eval_every) */
    double seconds;      /* wall time of the epoch, evaluation included */
    double img_per_s;    /* training images per second in this epoch */
};

/* Called after every epoch. Return 0 to go on, non-zero to stop training now. */
typedef int (*ns_epoch_fn)(void *ctx, const struct ns_epoch_metrics *m);

enum ns_train_status {
    NS_TRAIN_OK = 0,       /* all epochs done */
    NS_TRAIN_DIVERGED = 1, /* loss became NaN or infinite; reason says at which epoch/step */
    NS_TRAIN_STOPPED = 2,  /* the callback or the stop flag asked to stop */
    NS_TRAIN_ERROR = 3,    /* bad config/recipe, out of memory, data mismatch; reason says */
};

struct ns_train_result {
    enum ns_train_status status;
    char reason[256];      /* why it diverged, stopped or failed ("" when OK) */
    int epochs_done;
    double train_loss;     /* last epoch's */
    double train_err;      /* percent, last epoch's */
    double test_err;       /* percent, the last evaluated epoch's (NAN: none evaluated; a
                            * stopped run's may be older than its train_err) */
    double best_test_err;  /* percent, lowest over the evaluated epochs (NAN: none) */
    double seconds;        /* wall time, all epochs */
    double img_per_s;      /* mean training throughput */
    long long params;      /* parameter count of the built net */
};

struct ns_train_opts {
    ns_epoch_fn on_epoch;          /* may be NULL */
    void *ctx;                     /* passed to on_epoch */
    struct ns_progress *progress;  /* per-step progress line; NULL = silent */
    atomic_int *stop;              /* checked every step (another thread or a signal handler
                                      may set it: lock-free); non-zero = stop; may be NULL */

    /* Checkpoints (nn/checkpoint.h); all optional, zero = off. */
    const uint8_t *resume;         /* a full checkpoint of this config and recipe (same
                                      recipe hash): training continues after its epoch with
                                      its weights, optimizer state and RNG streams, and gives
                                      the bits the uninterrupted run gives */
    size_t resume_len;
    const uint8_t *init;           /* start from these weights (a weights-only or full
                                      checkpoint of this config) instead of random ones:
                                      fine-tuning, or evaluation with stop_after = -1 */
    size_t init_len;
    int stop_after;                /* train up to this epoch and return NS_TRAIN_OK with
                                      epochs_done = stop_after (the LR schedule still spans
                                      recipe->epochs, so a later resume continues it: the
                                      rungs of multi-fidelity search); 0 = recipe->epochs;
                                      -1 = train nothing, only evaluate the test set */
    int checkpoint_every;          /* call on_checkpoint after every N-th epoch (0 = never) */
    int checkpoint_last;           /* also call it after the last epoch trained */
    /* buf: the full checkpoint after `epoch` (valid during the call only). Non-zero return
     * stops training with NS_TRAIN_ERROR (the reason says so). */
    int (*on_checkpoint)(void *ctx, int epoch, const uint8_t *buf, size_t len);
};

/* A 64-bit hash of everything in a recipe that changes the training trajectory (not the
 * thread count's effect on bits, which a resume must also keep: threads is included). */
uint64_t ns_recipe_hash(const struct ns_recipe *r);

/* Train `cfg` on `train`, evaluating on `test`. The data's channels must be the config's
 * and its classes no more than the config's (else NS_TRAIN_ERROR); images of another size
 * than the config's im_size are resized to it (bilinear, after augmentation), as compound
 * scaling needs. Always fills *res and returns its status. */
enum ns_train_status ns_train(const struct ns_config *cfg, const struct ns_dataset *train,
                              const struct ns_dataset *test, const struct ns_recipe *r,
                              const struct ns_train_opts *opts, struct ns_train_result *res);

#endif
