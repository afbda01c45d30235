/* Datasets for training: Fashion-MNIST (IDX gzip), CIFAR-10 (binary batches), image
 * folders of JPEG and PNG files (decoded once into a mapped cache), and a synthetic set for
 * fast tests; validation split, per-channel normalization, batching with
 * augmentation (random crop with padding, horizontal flip, rotation, zoom, random-resized
 * crop). Shuffling is the caller's, with
 * ns_pcg32_shuffle.
 *
 * Images are kept as bytes, NHWC (n, h, w, c), and turned into normalized floats one batch
 * at a time by ns_data_batch(), so a 60,000-image set costs 47 MB, not 188 MB.
 * Errors: loaders return -1 with ns_err() set to a message naming the file ("...: bad magic
 * 0x... (not an IDX image file)", "...: truncated: got 784 of 47040000 image bytes"),
 * and a missing file says how to get the data. Never abort. */
#ifndef NS_DATA_H
#define NS_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "util/pcg32.h"

#define NS_DATA_MAX_CH 4

struct ns_dataset {
    char name[32];  /* "fashion-mnist", "cifar10", "synthetic", "folder" */
    int n, h, w, c; /* images, height, width, channels */
    int classes;
    uint8_t *x;                 /* n*h*w*c bytes, NHWC; owned */
    uint8_t *y;                 /* n labels in [0, classes); owned */
    float mean[NS_DATA_MAX_CH]; /* per-channel normalization applied to v/255: (v/255-mean)/std */
    float std[NS_DATA_MAX_CH];  /* defaults mean 0, std 1: inputs scaled to [0, 1] */
    void *map;                  /* non-NULL: x and y point into this read-only mapping of
                                   map_len bytes (an image-folder cache), unmapped by
                                   ns_data_free instead of freed */
    size_t map_len;
};

/* Which data to load. dir NULL means the default place: /usr/share/datasets/fashion-mnist
 * for Fashion-MNIST (Debian's dataset-fashion-mnist), ./data/cifar-10-batches-bin for
 * CIFAR-10. */
enum ns_data_kind { NS_DATA_FASHION_MNIST, NS_DATA_CIFAR10, NS_DATA_SYNTHETIC, NS_DATA_FOLDER };
/* "fashion-mnist", "cifar10", "synthetic", "folder" -> kind; -1 (with ns_err) if unknown.
 * A folder needs an image size, so ns_data_load() refuses it: use ns_data_load_folder(). */
int ns_data_kind_from_name(const char *name);

/* Load the train and test sets. Fashion-MNIST reads train-images-idx3-ubyte.gz,
 * train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz from
 * dir (each also accepted uncompressed and/or without ".gz"); CIFAR-10 reads
 * data_batch_1.bin ... data_batch_5.bin (train) and test_batch.bin. For synthetic, `dir` is
 * ignored and the sets are ns_data_synthetic_pair(NS_DATA_SYNTH_* below): train 2048 and
 * test 512 images of 1x28x28, 10 classes, a fixed seed. Sets come with mean 0 and std 1
 * (call ns_data_normalize). *train and *test are outputs. Returns 0, or -1 with ns_err set;
 * on error nothing is left allocated and both structs are zeroed. */
int ns_data_load(enum ns_data_kind kind, const char *dir, struct ns_dataset *train,
                 struct ns_dataset *test);

/* The synthetic set ns_data_load() generates, from a fixed seed so that every run sees the
 * same data. */
#define NS_DATA_SYNTH_TRAIN 2048
#define NS_DATA_SYNTH_TEST 512
#define NS_DATA_SYNTH_SIZE 28
#define NS_DATA_SYNTH_CLASSES 10
#define NS_DATA_SYNTH_SEED 20240229u

/* The inverse of ns_data_kind_from_name ("fashion-mnist", ...); "?" if out of range. */
const char *ns_data_kind_name(enum ns_data_kind kind);

/* The default directory of a kind (NULL for synthetic). */
const char *ns_data_default_dir(enum ns_data_kind kind);

/* One IDX pair: `images` (magic 0x00000803, n x rows x cols bytes) and `labels` (magic
 * 0x00000801, n bytes, each < classes), gzip-compressed or not. If a path ends in ".gz"
 * and does not exist, the same name without ".gz" is tried (and the other way round).
 * Fills *d (c = 1, name "fashion-mnist"); 0, or -1 with ns_err naming the file and
 * nothing allocated. */
int ns_data_load_idx(struct ns_dataset *d, const char *images, const char *labels, int classes);

/* CIFAR-10 binary batches: each file a sequence of 3073-byte records (label byte, then
 * 1024 R, 1024 G, 1024 B bytes of a 32x32 image, row-major), concatenated into *d as
 * NHWC (name "cifar10", 10 classes). Files may be gzip-compressed. 0 or -1 as above. */
int ns_data_load_cifar_files(struct ns_dataset *d, const char *const *paths, int n_paths);

/* A synthetic, learnable dataset: `classes` classes, each a fixed random smooth pattern
 * (Gaussian blobs plus a grating) seen with a random shift of about size/12 pixels, random
 * contrast and brightness, and Gaussian pixel noise; n images of c x size x size, bytes,
 * NHWC. Deterministic for a seed (PCG; patterns use libm's exp and sin, so another libm
 * could move a rare byte by one). c in [1, NS_DATA_MAX_CH], size in [4, 1024],
 * classes in [2, 256]. *d is an output (its old contents are not freed). 0, or -1 with
 * ns_err and nothing allocated. */
int ns_data_synthetic(struct ns_dataset *d, int n, int c, int size, int classes, uint64_t seed);

/* A train and a test set drawn from the same class patterns (the patterns depend only on
 * seed, c, size and classes; the two sets use different PCG streams for their images).
 * ns_data_synthetic() gives exactly the `train` of this call. Class counts differ by at
 * most one. 0, or -1 with ns_err (bad sizes, out of memory) and nothing allocated. */
int ns_data_synthetic_pair(struct ns_dataset *train, struct ns_dataset *test, int n_train,
                           int n_test, int c, int size, int classes, uint64_t seed);

/* Move a random `frac` of `train` (round(frac * n) images, chosen with PCG seeded by `seed`)
 * into `val`; train keeps the rest. Both keep the original order of their images, and val
 * gets train's name, shape, classes, mean and std. Deterministic for (n, frac, seed).
 * *val is an output (its old contents are not freed). frac in (0, 1) and both parts
 * non-empty, else -1 with ns_err and nothing changed; 0 on success. */
int ns_data_split(struct ns_dataset *train, struct ns_dataset *val, double frac, uint64_t seed);

/* Compute per-channel mean and std of `d` (on the [0, 1] scale, population std over all
 * pixels of all images) and store them in both `d` and `other` (normally the test set; may
 * be NULL), so both are normalized with train statistics. A constant channel keeps std 1. */
void ns_data_normalize(struct ns_dataset *d, struct ns_dataset *other);

/* Keep only the first n images (n <= d->n; larger or negative n changes nothing); for quick
 * runs. The memory stays allocated until ns_data_free. */
void ns_data_truncate(struct ns_dataset *d, int n);

/* Free the images and labels and zero *d (std back to 1). Safe on a zeroed struct, twice,
 * or with NULL. */
void ns_data_free(struct ns_dataset *d);

/* Allocate a zero-filled dataset of n images h x w x c with `classes` classes (mean 0,
 * std 1): for loaders and for tests that build data by hand. *d is an output. 0, or -1
 * with ns_err (bad shape, out of memory) and nothing allocated. */
int ns_data_alloc(struct ns_dataset *d, const char *name, int n, int h, int w, int c, int classes);
/* Fill d's shape and name, take ownership of x (n*h*w*c bytes) and y (n labels), and reset
 * the normalization to mean 0, std 1. No checks: the loaders have made them. */
void ns_data_adopt(struct ns_dataset *d, const char *name, int n, int h, int w, int c, int classes,
                   uint8_t *x, uint8_t *y);

/* ---------------------------------------------------------------- image folders ------ */

/* An image folder: DIR/train/<class>/<image> and, for evaluation, DIR/test/<class>/<image>
 * (or DIR/val/, or DIR/validation/: the first of the three that exists; with none the
 * eval set is empty and the caller splits train). Classes are the sub-folder names of
 * train/, sorted bytewise (strcmp), label = rank; test/ may lack a class but not add one.
 * Hidden entries (".name") are ignored; every other file must be a JPEG or PNG (told by
 * its bytes, not its name).
 *
 * Images are decoded (image.h), converted to `channels` and resized to size x size (the
 * shorter side scaled to `size` with an antialiased triangle filter, the centre square
 * kept), all once, into a cache file that later loads map read-only (shared by every
 * process of the machine through the page cache). The cache is rebuilt when the folder's
 * fingerprint (every file's path, size and mtime) or the size or channels change, under an
 * flock so that concurrent workers decode once, and written to a temp file then renamed,
 * so a reader never sees half a cache. Format (little-endian), see folder.c. */
struct ns_folder_opts {
    const char *dir;
    int size;          /* output side in pixels, 8..1024 */
    int channels;      /* 1 (gray) or 3 (RGB); 0 means 3 */
    int strict;        /* a file that cannot be decoded is an error, not skipped */
    const char *cache; /* cache file; NULL = DIR/.netspace-cache/SIZEpx-Cch.nsc, or, when
                          DIR is not writable, $XDG_CACHE_HOME (else ~/.cache)
                          /netspace/folder-HASH-SIZEpx-Cch.nsc */
    int threads;       /* decoding threads; 0 = the online CPUs, at most 16 */
    /* Called once per skipped file, at each load, with "DIR/train/cat/x.jpg: corrupt JPEG:
     * ..." (library code prints nothing itself); NULL = silent. */
    void (*log)(void *ctx, const char *msg);
    void *log_ctx;
};

struct ns_folder_info {
    int classes;
    int skipped;       /* files that could not be decoded (train and test together) */
    int built;         /* 1 if this call decoded the folder, 0 if it mapped a valid cache */
    int has_eval;      /* 1 if a test/, val/ or validation/ folder exists */
    char eval_dir[16]; /* its name ("test", ...), "" if none */
    uint64_t fingerprint;
    char cache[4096]; /* the cache file used */
};

/* Load an image folder (above) as train and eval sets of size x size x channels bytes,
 * mapped from the cache (ds->map set). info may be NULL. Returns 0, or -1 with ns_err
 * naming the path: a missing or unreadable folder, no class folders, an empty class folder
 * (or one where no image decodes), a test class unknown to train, more than 256 classes,
 * a bad file under `strict`, a cache that cannot be written. On error both sets are
 * zeroed. */
int ns_data_load_folder(const struct ns_folder_opts *o, struct ns_dataset *train,
                        struct ns_dataset *eval, struct ns_folder_info *info);

/* The fingerprint a load of (dir, size, channels) would give (ns_folder_info), from a scan
 * of names, sizes and mtimes only: for a resume to check that its data did not change.
 * 0 or -1 with ns_err as above. */
int ns_data_folder_fingerprint(const char *dir, int size, int channels, uint64_t *fp);

/* The number of classes of DIR/train (the sorted sub-folders), without decoding anything:
 * what a model needs before the data loads. 0 or -1 with ns_err as above. */
int ns_data_folder_classes(const char *dir, int *classes);

/* ---------------------------------------------------------------- batches ------------ */

struct ns_augment {
    int crop_pad; /* random crop after zero padding by this many pixels (0 = off) */
    int flip;     /* random horizontal flip with probability 1/2 */
    /* Geometric augmentation of the chapter (Keras' RandomRotation, RandomZoom) and
     * Inception's random-resized crop; each 0 = off. Applied after crop_pad/flip draws. */
    float rotate;    /* rotation by a uniform angle in [-rotate, rotate] degrees */
    float zoom;      /* scale by a uniform factor in [1-zoom, 1+zoom] (>1 zooms out) */
    float rrc_scale; /* random-resized crop: a box of uniform area fraction in
                        [rrc_scale, 1] and log-uniform aspect in [3/4, 4/3] of the image,
                        stretched to the full image */
};

/* Fill one batch: x is n*h*w*c floats NHWC (normalized), y is n labels. idx are image
 * indices into d (each < d->n: not checked, this is the hot path). aug NULL or all zero =
 * no augmentation (evaluation), and rng may be NULL; otherwise rng must be given.
 *
 * A byte v of channel k becomes fmaf(v, scale, bias) with scale = (float)(1/(255 std[k]))
 * and bias = (float)(-mean[k]/std[k]): (v/255 - mean)/std to within about 1e-6, and the
 * same bits for the same byte on every path (plain, cropped, flipped). With
 * augmentation, image i draws from rng, in this order: dy then dx, each uniform in
 * [-crop_pad, crop_pad] (ns_pcg32_bounded(2p+1) - p; only if crop_pad > 0), then a flip bit
 * (ns_pcg32_next >> 31; only if flip). Output pixel (oy, ox) is source pixel
 * (oy + dy, (flip ? w-1-ox : ox) + dx), i.e. crop of the padded image, then mirror. Source
 * pixels outside the image are padding, which is 0.0f in the output: zero *after*
 * normalization, the value a pixel at the channel mean would get, so padding carries no
 * signal whatever the statistics. With rotate, zoom or rrc_scale set, image i then draws
 * (ns_pcg32_float each) the rrc box's area, log-aspect, x and y (if rrc_scale > 0), the
 * angle (if rotate > 0) and the zoom factor (if zoom > 0), and output pixel centre (u, v)
 * (relative to the image centre) reads the source bilinearly at
 * box_centre + (dx, dy) + diag(z bw/w, z bh/h) R(angle) (flip ? -u : u, v): flip, zoom,
 * rotate, into the box, shifted by the crop offset; neighbours outside the image are
 * padding (0.0f) as above. Same rng state and inputs give the same batch.
 * Allocates nothing. Thread-safe for distinct outputs and rngs. */
void ns_data_batch(const struct ns_dataset *d, const uint32_t *idx, int n,
                   const struct ns_augment *aug, struct ns_pcg32 *rng, float *x, int32_t *y);

#endif
