/* Picking the hot kernels' instruction-set path at startup (kern.h). */
#include "nn/kern.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct ns_kernels *chosen;
static pthread_once_t once = PTHREAD_ONCE_INIT;

int ns_kern_has_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}

static void choose(void)
{
    int v4 = ns_kern_has_avx512();
    const char *want = getenv("NS_ISA");
    chosen = v4 ? &ns_kernels_avx512 : &ns_kernels_avx2;
    if (!want || !*want || !strcmp(want, "auto"))
        return;
    if (!strcmp(want, "avx2"))
        chosen = &ns_kernels_avx2;
    else if (!strcmp(want, "avx512") && !v4)
        fprintf(stderr, "netspace: NS_ISA=avx512: this CPU lacks AVX-512 (F, BW, DQ, VL); "
                        "running the AVX2 path\n");
    else if (strcmp(want, "avx512"))
        fprintf(stderr, "netspace: NS_ISA=%s is not one of auto, avx2, avx512; running the "
                        "%s path\n", want, chosen->name);
}

void ns_kern_use(const struct ns_kernels *k)
{
    pthread_once(&once, choose);
    chosen = k;
}

const struct ns_kernels *ns_kern(void)
{
    pthread_once(&once, choose);
    return chosen;
}
