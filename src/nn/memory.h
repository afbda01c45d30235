/* The memory a config needs to train, known before anything is allocated: what
 * ns_net_build will allocate (ns_net_memory: parameters, gradients and momentum, BN state,
 * every layer's output (but the BN outputs a residual add applies itself, unless NS_FUSE=0
 * in this process) and its gradient, scratch, caches and masks, counted from the config's
 * layer graph) plus the input batch and its staging copy. */
#ifndef NS_NN_MEMORY_H
#define NS_NN_MEMORY_H

#include <stddef.h>

#include "model/model.h"

/* Bytes to train cfg at batch `batch` on `threads` compute threads (the per-thread scratch
 * of the convolutions grows with them). params and acts (ns_complexity's) are not needed by
 * the graph-based count and are ignored; they stay in the signature for the callers that
 * have them. 0 for bad arguments or an invalid config. */
size_t ns_net_memory_estimate(const struct ns_config *cfg, double params, double acts, int batch,
                              int threads);

#endif
