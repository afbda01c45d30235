/* The memory estimate (memory.h), from the layer graph. */
#include "nn/memory.h"

#include "nn/net.h"

size_t ns_net_memory_estimate(const struct ns_config *cfg, double params, double acts, int batch,
                              int threads)
{
    (void)params;
    (void)acts;
    size_t bytes;
    if (batch < 1 || threads < 1 || ns_net_memory(cfg, batch, NULL, threads, &bytes))
        return 0;
    /* the trainer's input batch (and its staging copy before a resize) */
    size_t input = (size_t)batch * cfg->in_ch * cfg->im_size * cfg->im_size * sizeof(float);
    return bytes + 2 * input;
}
