/* The memory a config needs to train, known before anything is allocated.
 *
 * An estimate from the config's complexity (ns_complexity: parameters and activations per
 * image), not from a walk of its layers: parameters, gradients and momentum (3 floats per
 * parameter) and, per image of the batch, the forward tensors and their gradients (each
 * conv's output with its BN and activation outputs, measured at about ACT_TENSORS_PER_ACT
 * tensors per counted activation), plus the input batch. tests/nn/test_memory.c checks it
 * against what ns_net_build really allocates across block types (from 3% under to 65% over).
 * To be re-based on the layer graph (DESIGN.md) when that exists: the graph knows every
 * tensor exactly. */
#ifndef NS_NN_MEMORY_H
#define NS_NN_MEMORY_H

#include <stddef.h>

#include "util/modelcfg.h"

/* Bytes to train cfg at batch `batch`, given its complexity (ns_complexity params and acts:
 * nn does not depend on space). 0 for bad arguments. */
size_t ns_net_memory_estimate(const struct ns_config *cfg, double params, double acts, int batch);

#endif
