/* PCG32: the XSH-RR 64/32 generator of M. O'Neill (pcg-random.org), written from the
 * paper's description. Seeding matches the reference pcg32_srandom_r(initstate, initseq),
 * so (state 42, stream 54) reproduces the published demo sequence.
 *
 * A struct ns_pcg32 is plain data: copy it to fork a stream, no allocation, not thread-safe
 * (give each thread its own). */
#ifndef NS_PCG32_H
#define NS_PCG32_H

#include <stdint.h>

struct ns_pcg32 {
    uint64_t state;
    uint64_t inc; /* always odd: selects the stream */
};

/* Seed with an initial state and a stream selector (any 64-bit value). */
void ns_pcg32_seed(struct ns_pcg32 *rng, uint64_t initstate, uint64_t initseq);
/* Next uniformly distributed 32-bit value. */
uint32_t ns_pcg32_next(struct ns_pcg32 *rng);
/* Uniform integer in [0, bound) without modulo bias; bound must be > 0. */
uint32_t ns_pcg32_bounded(struct ns_pcg32 *rng, uint32_t bound);
/* Uniform float in [0, 1) with 24 random bits. */
float ns_pcg32_float(struct ns_pcg32 *rng);
/* Uniform double in [0, 1) with 53 random bits (two draws). */
double ns_pcg32_double(struct ns_pcg32 *rng);
/* Standard normal deviate (Box-Muller on two doubles; one draw pair per call, no cache,
 * so the sequence depends only on the number of calls). */
double ns_pcg32_normal(struct ns_pcg32 *rng);
/* Fisher-Yates shuffle of n uint32 indices in place. */
void ns_pcg32_shuffle(struct ns_pcg32 *rng, uint32_t *a, uint32_t n);

#endif
