/* Checkpoints: a net's state in one documented, versioned, endian-explicit binary format
 * with a CRC-32 (doc/checkpoint.md): the canonical config, the parameters (in the net's
 * parameter-table order and layouts), the BN running statistics, and, in a full
 * checkpoint, what continuing training needs (optimizer moments, RNG streams, epochs done,
 * the recipe's hash). A weights-only checkpoint lacks the training part: it is what
 * `netspace train --save` keeps of a finished model, what a search keeps for its best
 * trials ("keep_weights") and what `netspace export` writes; `bench/torch_net.py` reads it.
 *
 * Checkpoints travel as byte buffers (a worker sends them to rank 0 over MPI; the results
 * db keeps them as blobs) and as files (written atomically: temp file, fsync, rename).
 * Every reader checks magic, version, length and CRC before using a byte, and names what
 * is wrong ("FILE: checksum mismatch (truncated or corrupt)"). */
#ifndef NS_CHECKPOINT_H
#define NS_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "util/pcg32.h"

struct ns_net;

#define NS_CKPT_VERSION 1

/* What a checkpoint says about itself (ns_ckpt_info). */
struct ns_ckpt_info {
    int version;
    int has_state;          /* a full checkpoint: training can continue from it */
    int epoch;              /* epochs done (full checkpoints; 0 in a weights-only one) */
    uint64_t recipe_hash;   /* the recipe it was trained with (full checkpoints) */
    long long n_weights;    /* parameter floats */
    char config_json[8192]; /* the canonical config JSON, NUL-terminated */
};

/* 0 if buf[0..len) is a well-formed checkpoint (magic, version, lengths, CRC), else -1
 * with ns_err naming `what` (a file name, "trial 12's weights") and the fault. */
int ns_ckpt_check(const uint8_t *buf, size_t len, const char *what);
/* ns_ckpt_check, then fill *info. 0 or -1 (ns_err). */
int ns_ckpt_info(const uint8_t *buf, size_t len, const char *what, struct ns_ckpt_info *info);

/* The weights-only checkpoint of net (malloc'd into *buf, *len): config, parameters, BN
 * running statistics. 0 or -1 (ns_err: out of memory). */
int ns_ckpt_save_weights(const struct ns_net *net, uint8_t **buf, size_t *len);
/* Load a checkpoint's parameters and BN statistics (full or weights-only) into a net built
 * from the same config: -1 with ns_err when the config or the parameter table differs. */
int ns_ckpt_load_weights(struct ns_net *net, const uint8_t *buf, size_t len, const char *what);
/* The weights-only checkpoint inside a full one (malloc'd). 0 or -1 (ns_err). */
int ns_ckpt_strip(const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len);

/* The training state of a full checkpoint (TRST, OPTM; BEST is optional), for ns_train's
 * resume and on_checkpoint. The optimizer moments and BN statistics are the net's. */
struct ns_ckpt_state {
    int epoch;             /* epochs done */
    int optimizer;         /* 0 SGD, 1 AdamW (enum ns_optimizer) */
    uint64_t recipe_hash;  /* ns_recipe_hash of the recipe */
    int64_t adam_steps;    /* AdamW's step count */
    struct ns_pcg32 rng[3]; /* shuffle, augmentation, dropout/drop-path streams */
    double best_test_err;  /* lowest test error so far (the optional BEST section); NaN =
                              unknown (not written) */
};

/* The full checkpoint of net with state st (malloc'd). 0 or -1 (ns_err). */
int ns_ckpt_save_full(const struct ns_net *net, const struct ns_ckpt_state *st, uint8_t **buf,
                      size_t *len);
/* Load a full checkpoint into a net of the same config (parameters, BN statistics, the
 * optimizer moments: an AdamW checkpoint needs ns_net_use_adamw first), fill *st. -1 with
 * ns_err for a weights-only checkpoint or another config. The recipe hash is the caller's
 * to check. */
int ns_ckpt_load_full(struct ns_net *net, const uint8_t *buf, size_t len, const char *what,
                      struct ns_ckpt_state *st);

/* Whole files. Write: atomically (FILE.tmp, fsync, rename); read: the whole file, checked
 * with ns_ckpt_check. 0 or -1 with ns_err naming the file. */
int ns_ckpt_write_file(const char *path, const uint8_t *buf, size_t len);
int ns_ckpt_read_file(const char *path, uint8_t **buf, size_t *len);

#endif
