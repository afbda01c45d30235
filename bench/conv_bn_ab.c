/* Same-process A/B of the fused 1x1 conv + BN backward (ns_conv_bn_backward) against the two
 * ops it replaces (ns_bn_backward, then ns_conv_backward), in one build: the two alternate
 * every round (which goes first alternates, after a warm-up round), so that the machine's
 * drift hits both alike. Prints per shape the median (and range) of the per-round time
 * ratios unfused/fused (above 1: the fused pass is faster) and whether both gave the same
 * bits (dx, dW, dgamma, dbeta).
 *   conv_bn_ab SIDE,CIN,COUT[,RELU[,THREADS]]...   batch 128, SIDE x SIDE, RELU 1 (default)
 *                                                  or 0 (a residual branch's last BN)
 * Rounds: NS_AB_ROUNDS (default 15). Built and run by bench/conv_bn_ab.sh. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/ops.h"
#include "nn/pool.h"

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
        fprintf(stderr, "conv_bn_ab: out of memory\n");
        exit(1);
    }
    return p;
}

static float val(size_t i, size_t mul) { return (float)((i * mul) % 1000) / 500 - 1; }

static void ab(int side, int cin, int cout, int relu, int nth, int rounds)
{
    int n = 128;
    size_t m = (size_t)n * side * side, xl = m * cin, yl = m * cout, wl = (size_t)cin * cout;
    struct ns_pool *p = ns_pool_create(nth);
    struct ns_conv c;
    ns_conv_setup(&c, side, side, cin, cout, 1, 1, 1, 0);
    struct ns_bn b = {.m_per_image = side * side, .c = cout, .relu = relu};
    size_t s1 = ns_conv_scratch(&c, n, nth), s2 = ns_bn_scratch(&b, nth);
    size_t s3 = ns_conv_bn_scratch(&c, &b, n, nth);
    size_t sl = s1 > s2 ? s1 : s2;
    sl = s3 > sl ? s3 : sl;
    float *x = floats(xl), *w = floats(wl), *y = floats(yl), *bdy = floats(yl), *dyc = floats(yl);
    float *st = floats(7 * (size_t)cout), *scratch = floats(sl), *dx[2], *dw[2], *dg[2];
    for (size_t i = 0; i < xl; i++)
        x[i] = val(i, 7919);
    for (size_t i = 0; i < wl; i++)
        w[i] = val(i, 31) * 0.2f;
    for (size_t i = 0; i < yl; i++)
        bdy[i] = val(i, 104729);
    for (int v = 0; v < 2; v++)
        dx[v] = floats(xl), dw[v] = floats(wl), dg[v] = floats(2 * (size_t)cout);
    /* the forward: the conv's output, BN's statistics and affine */
    ns_conv_forward(p, &c, n, x, w, NULL, y, scratch);
    float *gamma = st, *beta = st + cout, *rm = st + 2 * cout, *rv = st + 3 * cout;
    float *mean = st + 4 * cout, *rstd = st + 5 * cout, *aff = floats(2 * (size_t)cout);
    for (int k = 0; k < cout; k++)
        gamma[k] = 1 + 0.01f * k, beta[k] = 0.1f, rv[k] = 1;
    float *ybn = floats(yl);
    ns_bn_forward_train(p, &b, n, y, gamma, beta, rm, rv, mean, rstd, aff, ybn, scratch);
    double r[MAX_ROUNDS], t[2];
    for (int k = 0; k <= rounds; k++) {
        for (int q = 0; q < 2; q++) {
            int v = (k + q) % 2; /* v 1: unfused */
            memset(dw[v], 0, wl * sizeof(float));
            memset(dg[v], 0, 2 * cout * sizeof(float));
            double t0 = now();
            if (v) {
                ns_bn_backward(p, &b, n, y, ybn, gamma, mean, rstd, aff, bdy, dyc, 0, dg[v],
                               dg[v] + cout, scratch);
                ns_conv_backward(p, &c, n, x, w, dyc, dx[v], 0, dw[v], NULL, scratch);
            } else {
                ns_conv_bn_backward(p, &c, &b, n, x, w, y, ybn, gamma, mean, rstd, aff, bdy,
                                    dx[v], 0, dw[v], dg[v], dg[v] + cout, scratch, NULL);
            }
            t[v] = now() - t0;
        }
        if (k)
            r[k - 1] = t[1] / t[0];
    }
    int same = !memcmp(dx[0], dx[1], xl * 4) && !memcmp(dw[0], dw[1], wl * 4) &&
               !memcmp(dg[0], dg[1], 2 * cout * 4);
    qsort(r, (size_t)rounds, sizeof r[0], by_value);
    printf("1x1 %3d->%-3d + bn%s %2dx%-2d %d thr  unfused/fused median %.2f (range %.2f-%.2f) "
           "same bits: %s\n", cin, cout, relu ? "+relu" : "     ", side, side, nth, r[rounds / 2],
           r[0], r[rounds - 1], same ? "yes" : "NO");
    for (int v = 0; v < 2; v++)
        free(dx[v]), free(dw[v]), free(dg[v]);
    free(x), free(w), free(y), free(bdy), free(dyc), free(st), free(scratch), free(aff), free(ybn);
    ns_pool_free(p);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: conv_bn_ab SIDE,CIN,COUT[,RELU[,THREADS]]...\n");
        return 2;
    }
    const char *rs = getenv("NS_AB_ROUNDS");
    int rounds = rs ? atoi(rs) : 15;
    if (rounds < 1 || rounds > MAX_ROUNDS)
        rounds = 15;
    for (int a = 1; a < argc; a++) {
        int side, cin, cout, relu = 1, nth = 1;
        if (sscanf(argv[a], "%d,%d,%d,%d,%d", &side, &cin, &cout, &relu, &nth) < 3 || side < 1 ||
            cin < 1 || cout < 1 || nth < 1 || nth > 64) {
            fprintf(stderr, "conv_bn_ab: bad shape '%s'\n", argv[a]);
            return 2;
        }
        ab(side, cin, cout, relu, nth, rounds);
    }
    return 0;
}
