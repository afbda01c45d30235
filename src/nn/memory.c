/* The memory a config needs to train (see memory.h). */
#include "nn/memory.h"

/* Forward tensors per activation that ns_complexity counts: a conv's output is followed by
 * its BN's and its activation's (and adds, pools and SE pieces by smaller ones); measured
 * over the block types by tests/nn/test_memory.c. */
#define ACT_TENSORS_PER_ACT 2.5
/* Working buffers of the kernels (im2col, per-thread partial sums) and the allocations'
 * rounding: small next to the tensors; a fixed allowance covers them. */
#define SCRATCH_BYTES (1u << 20)

size_t ns_net_memory_estimate(const struct ns_config *cfg, double params, double acts, int batch)
{
    if (!cfg || batch < 1 || params < 0 || acts < 0)
        return 0;
    double input = (double)cfg->in_ch * cfg->im_size * cfg->im_size;
    double floats = 3 * params /* weights, grads, momentum */
                    + 2.0 * batch * (ACT_TENSORS_PER_ACT * acts + 2 * input) /* values, grads */
                    + (double)batch * (input + 2 * cfg->classes); /* the batch, the logits */
    return (size_t)(4 * floats) + SCRATCH_BYTES;
}
