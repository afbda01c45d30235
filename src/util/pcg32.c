#include "util/pcg32.h"

#include <math.h>

#define PCG_MULT 6364136223846793005ULL

uint32_t ns_pcg32_next(struct ns_pcg32 *rng)
{
    uint64_t old = rng->state;
    rng->state = old * PCG_MULT + rng->inc;
    /* XSH-RR: xorshift the high bits down, then rotate by the top five bits. */
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

void ns_pcg32_seed(struct ns_pcg32 *rng, uint64_t initstate, uint64_t initseq)
{
    rng->state = 0u;
    rng->inc = (initseq << 1u) | 1u;
    ns_pcg32_next(rng);
    rng->state += initstate;
    ns_pcg32_next(rng);
}

uint32_t ns_pcg32_bounded(struct ns_pcg32 *rng, uint32_t bound)
{
    /* Reject the values below 2^32 mod bound so every residue is equally likely. */
    uint32_t threshold = (uint32_t)(-bound) % bound;
    for (;;) {
        uint32_t r = ns_pcg32_next(rng);
        if (r >= threshold)
            return r % bound;
    }
}

float ns_pcg32_float(struct ns_pcg32 *rng)
{
    return (float)(ns_pcg32_next(rng) >> 8) * (1.0f / 16777216.0f);
}

double ns_pcg32_double(struct ns_pcg32 *rng)
{
    uint64_t hi = ns_pcg32_next(rng) >> 5; /* 27 bits */
    uint64_t lo = ns_pcg32_next(rng) >> 6; /* 26 bits */
    return (double)((hi << 26) | lo) * (1.0 / 9007199254740992.0);
}

double ns_pcg32_normal(struct ns_pcg32 *rng)
{
    double u1 = ns_pcg32_double(rng);
    double u2 = ns_pcg32_double(rng);
    /* 1 - u1 lies in (0, 1], so the log is finite. */
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

void ns_pcg32_shuffle(struct ns_pcg32 *rng, uint32_t *a, uint32_t n)
{
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = ns_pcg32_bounded(rng, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}
