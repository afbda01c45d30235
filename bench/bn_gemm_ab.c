/* Same-process A/B of BN's passes (src/nn/bn.c) and the AVX2 GEMM kernel (src/nn/kern_body.h)
 * against another commit's (bench/bn_gemm_ab.sh links that commit's bn.c and kern_avx2.c
 * under base_ names): the two alternate every round (which goes first alternates, after a
 * warm-up round), so that the machine's drift hits both alike; prints the median and range
 * of the per-round time ratios base/this (above 1: this tree is faster) and whether both
 * gave the same bits.
 *   bn_gemm_ab bn C,SIDE...          BN's forward (training), backward and the fused BN+add
 *                                    forward, batch 128, SIDE x SIDE, with the ReLU
 *   bn_gemm_ab gemm M,K,N,f|w...     f: C (M x N) = A (M x K) B, a 1x1 conv's forward;
 *                                    w: C (K x N) += A^T B over M rows, its weight gradient
 * Rounds: NS_AB_ROUNDS (default 15). One thread. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/kern.h"
#include "nn/ops.h"
#include "nn/pool.h"

/* the base commit's, renamed */
extern const struct ns_kernels base_ns_kernels_avx2;
size_t base_ns_bn_scratch(const struct ns_bn *b, int nth);
void base_ns_bn_forward_train(struct ns_pool *p, const struct ns_bn *b, int n, const float *x,
                              const float *gamma, const float *beta, float *run_mean,
                              float *run_var, float *mean, float *rstd, float *affine, float *y,
                              float *scratch);
void base_ns_bn_backward(struct ns_pool *p, const struct ns_bn *b, int n, const float *x,
                         const float *y, const float *gamma, const float *mean,
                         const float *rstd, const float *affine, const float *dy, float *dx,
                         int acc, float *dgamma, float *dbeta, float *scratch);
void base_ns_bn_add_forward(struct ns_pool *p, const struct ns_bn *b, int n, const float *x,
                            const float *affine, const float *skip, int relu, float *out);

#define MAX_ROUNDS 64

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static float *floats(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "bn_gemm_ab: out of memory\n");
        exit(1);
    }
    return p;
}

/* one BN training step's passes; par: gamma, beta, running mean and variance, mean, rstd,
 * affine (2C), dgamma, dbeta */
static double bn_step(int base, struct ns_pool *p, const struct ns_bn *b, int n, const float *x,
                      const float *dy, const float *skip, float *y, float *dx, float *out,
                      float *par, float *scratch)
{
    int C = b->c;
    for (int c = 0; c < C; c++) {
        par[c] = 1, par[C + c] = 0, par[2 * C + c] = 0, par[3 * C + c] = 1;
        par[8 * C + c] = 0, par[9 * C + c] = 0;
    }
    double t0 = now();
    (base ? base_ns_bn_forward_train : ns_bn_forward_train)(
        p, b, n, x, par, par + C, par + 2 * C, par + 3 * C, par + 4 * C, par + 5 * C,
        par + 6 * C, y, scratch);
    (base ? base_ns_bn_backward : ns_bn_backward)(p, b, n, x, y, par, par + 4 * C, par + 5 * C,
                                                  par + 6 * C, dy, dx, 0, par + 8 * C,
                                                  par + 9 * C, scratch);
    (base ? base_ns_bn_add_forward : ns_bn_add_forward)(p, b, n, x, par + 6 * C, skip, 1, out);
    return now() - t0;
}

static void report(const char *what, double *r, int rounds, int same)
{
    qsort(r, (size_t)rounds, sizeof r[0], by_value);
    printf("%-40s base/this median %.2f (range %.2f-%.2f) same bits: %s\n", what, r[rounds / 2],
           r[0], r[rounds - 1], same ? "yes" : "NO");
}

static void bn_ab(struct ns_pool *p, int C, int side, int rounds)
{
    int n = 128;
    size_t m = (size_t)n * side * side, len = m * C;
    struct ns_bn b = {.m_per_image = side * side, .c = C, .relu = 1};
    size_t ns = ns_bn_scratch(&b, 1), bs = base_ns_bn_scratch(&b, 1);
    float *x = floats(len), *dy = floats(len), *skip = floats(len);
    float *scratch = floats(ns > bs ? ns : bs), *y[2], *dx[2], *out[2], *par[2];
    for (int v = 0; v < 2; v++)
        y[v] = floats(len), dx[v] = floats(len), out[v] = floats(len), par[v] = floats(16 * C);
    for (size_t i = 0; i < len; i++) {
        x[i] = (float)((i * 7919) % 1000) / 500 - 1;
        dy[i] = (float)((i * 104729) % 1000) / 500 - 1;
        skip[i] = x[i] * 0.5f;
    }
    double r[MAX_ROUNDS], t[2];
    for (int k = 0; k <= rounds; k++) {
        for (int q = 0; q < 2; q++) {
            int v = (k + q) % 2; /* v 1: the base */
            t[v] = bn_step(v, p, &b, n, x, dy, skip, y[v], dx[v], out[v], par[v], scratch);
        }
        if (k)
            r[k - 1] = t[1] / t[0];
    }
    int same = !memcmp(y[0], y[1], len * 4) && !memcmp(dx[0], dx[1], len * 4) &&
               !memcmp(out[0], out[1], len * 4) && !memcmp(par[0], par[1], 16 * C * 4);
    char what[64];
    snprintf(what, sizeof what, "bn C=%d %dx%d", C, side, side);
    report(what, r, rounds, same);
    for (int v = 0; v < 2; v++)
        free(y[v]), free(dx[v]), free(out[v]), free(par[v]);
    free(x), free(dy), free(skip), free(scratch);
}

static void gemm_ab(int M, int K, int N, char mode, int rounds)
{
    size_t blen = (size_t)M * (mode == 'w' ? N : 0) + (size_t)K * (mode == 'w' ? 0 : N);
    size_t clen = mode == 'w' ? (size_t)K * N : (size_t)M * N;
    float *A = floats((size_t)M * K), *B = floats(blen), *C[2] = {floats(clen), floats(clen)};
    for (size_t i = 0; i < (size_t)M * K; i++)
        A[i] = (float)(i % 13) - 6;
    for (size_t i = 0; i < blen; i++)
        B[i] = (float)(i % 7) * 0.1f;
    double r[MAX_ROUNDS], t[2];
    for (int k = 0; k <= rounds; k++) {
        for (int q = 0; q < 2; q++) {
            int v = (k + q) % 2;
            const struct ns_kernels *kn = v ? &base_ns_kernels_avx2 : &ns_kernels_avx2;
            double t0 = now();
            if (mode == 'w') {
                memset(C[v], 0, clen * sizeof(float));
                kn->gemm(K, N, M, A, 1, K, B, N, 1, C[v], N);
            } else {
                kn->gemm(M, N, K, A, K, 1, B, N, 0, C[v], N);
            }
            t[v] = now() - t0;
        }
        if (k)
            r[k - 1] = t[1] / t[0];
    }
    char what[64];
    snprintf(what, sizeof what, "gemm %s %d->%d over %d", mode == 'w' ? "wgrad" : "fwd", K, N,
             M);
    report(what, r, rounds, !memcmp(C[0], C[1], clen * sizeof(float)));
    free(A), free(B), free(C[0]), free(C[1]);
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "bn") && strcmp(argv[1], "gemm"))) {
        fprintf(stderr, "usage: bn_gemm_ab bn C,SIDE... | gemm M,K,N,f|w...\n");
        return 2;
    }
    const char *rs = getenv("NS_AB_ROUNDS");
    int rounds = rs ? atoi(rs) : 15;
    if (rounds < 1 || rounds > MAX_ROUNDS)
        rounds = 15;
    struct ns_pool *p = ns_pool_create(1);
    for (int a = 2; a < argc; a++) {
        int C, side, M, K, N;
        char mode;
        if (!strcmp(argv[1], "bn") && sscanf(argv[a], "%d,%d", &C, &side) == 2 && C > 0 &&
            side > 0)
            bn_ab(p, C, side, rounds);
        else if (!strcmp(argv[1], "gemm") &&
                 sscanf(argv[a], "%d,%d,%d,%c", &M, &K, &N, &mode) == 4 && M > 0 && K > 0 &&
                 N > 0 && (mode == 'f' || mode == 'w'))
            gemm_ab(M, K, N, mode, rounds);
        else {
            fprintf(stderr, "bn_gemm_ab: bad shape '%s'\n", argv[a]);
            return 2;
        }
    }
    ns_pool_free(p);
    return 0;
}
