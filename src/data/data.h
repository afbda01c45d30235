/* Datasets for training: Fashion-MNIST (IDX gzip), CIFAR-10 (binary batches), and a
 * synthetic set for fast tests; validation split, per-channel normalization, batching with
 * augmentation (random crop with padding, horizontal flip) and PCG shuffling.
 *
 * Images are kept as bytes, NHWC (n, h, w, c), and turned into normalized floats one batch
 * at a time by ns_data_batch(), so a 60,000-image set costs 47 MB, not 188 MB.
 * Errors: loaders return -1 with ns_err() set to a message naming the file ("...: bad magic
 * 0x... (not an IDX image file)", "...: truncated: 784 of 47040000 bytes"). Never abort. */
#ifndef NS_DATA_H
#define NS_DATA_H

#include <stdint.h>

#include "util/pcg32.h"

#define NS_DATA_MAX_CH 4

struct ns_dataset {
    char name[32];           /* "fashion-mnist", "cifar10", "synthetic" */
    int n, h, w, c;          /* images, height, width, channels */
    int classes;
    uint8_t *x;              /* n*h*w*c bytes, NHWC; owned */
    uint8_t *y;              /* n labels in [0, classes); owned */
    float mean[NS_DATA_MAX_CH]; /* per-channel normalization applied to v/255: (v/255-mean)/std */
    float std[NS_DATA_MAX_CH];  /* defaults mean 0, std 1: inputs scaled to [0, 1] */
};

/* Which data to load. dir NULL means the default place: /usr/share/datasets/fashion-mnist
 * for Fashion-MNIST (Debian's dataset-fashion-mnist), ./data/cifar-10-batches-bin for
 * CIFAR-10. */
enum ns_data_kind { NS_DATA_FASHION_MNIST, NS_DATA_CIFAR10, NS_DATA_SYNTHETIC };
/* "fashion-mnist", "cifar10", "synthetic" -> kind; -1 (with ns_err) if unknown. */
int ns_data_kind_from_name(const char *name);

/* Load the train and test sets. For synthetic, `dir` is ignored and the set is generated
 * deterministically from `seed` (train n_synth images, test n_synth/4; 1x28x28 or as
 * set by ns_data_synthetic). Returns 0, or -1 with ns_err set; on error nothing is left
 * allocated. */
int ns_data_load(enum ns_data_kind kind, const char *dir, struct ns_dataset *train,
                 struct ns_dataset *test);

/* A synthetic, learnable dataset: `classes` classes, each a fixed random pattern plus noise,
 * n images of c x size x size. Deterministic for a seed. */
int ns_data_synthetic(struct ns_dataset *d, int n, int c, int size, int classes, uint64_t seed);

/* Move a random `frac` of `train` (chosen with PCG seed) into `val`; train keeps the rest.
 * frac in (0, 1). Returns 0 or -1. */
int ns_data_split(struct ns_dataset *train, struct ns_dataset *val, double frac, uint64_t seed);

/* Compute per-channel mean and std of `d` (on the [0, 1] scale) and store them in both
 * `d` and `other` (normally the test set), so both are normalized with train statistics. */
void ns_data_normalize(struct ns_dataset *d, struct ns_dataset *other);

/* Keep only the first n images (n <= d->n); for quick runs. */
void ns_data_truncate(struct ns_dataset *d, int n);

void ns_data_free(struct ns_dataset *d);

struct ns_augment {
    int crop_pad; /* random crop after zero padding by this many pixels (0 = off) */
    int flip;     /* random horizontal flip with probability 1/2 */
};

/* Fill one batch: x is n*h*w*c floats NHWC (normalized), y is n labels. idx are image
 * indices into d. aug NULL or all zero = no augmentation (evaluation); rng is used only
 * when augmenting. Allocates nothing. Thread-safe for distinct outputs. */
void ns_data_batch(const struct ns_dataset *d, const uint32_t *idx, int n,
                   const struct ns_augment *aug, struct ns_pcg32 *rng, float *x, int32_t *y);

#endif
