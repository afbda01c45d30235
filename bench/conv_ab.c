/* Same-process A/B of one convolution layer: the build's ns_conv_* against the same
 * functions of another commit's conv.c, renamed base_ns_conv_* (bench/conv_ab.sh builds it).
 * Each round runs base forward and backward, and this build's forward and backward, on the
 * same data (base first in even rounds, this build first in odd ones, after an untimed
 * warm-up round), so the machine's drift (this noisy VM's speed moves by tens of percent
 * over minutes) hits both alike; what is reported is the median of the per-round ratios. It also
 * says whether the two gave the same bits (y, dx, and dW summed over the rounds).
 * usage: conv_ab H C STRIDE GROUP_WIDTH K ROUNDS [BATCH] [THREADS] [CIN] [NODX]
 * (C output channels, CIN input channels, default C; GROUP_WIDTH input channels a group;
 * NODX 1: no input gradient, as for a net's first layer) */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "nn/ops.h"
#include "nn/pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

size_t base_ns_conv_scratch(const struct ns_conv *c, int n, int nth);
void base_ns_conv_forward(struct ns_pool *p, const struct ns_conv *c, int n, const float *x,
                          const float *w, const float *b, float *y, float *scratch);
void base_ns_conv_backward(struct ns_pool *p, const struct ns_conv *c, int n, const float *x,
                           const float *w, const float *dy, float *dx, int acc, float *dw,
                           float *db, float *scratch);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static float *filled(size_t len, int period, float step)
{
    float *a = malloc(sizeof(float) * (len ? len : 1));
    if (!a) {
        fprintf(stderr, "conv_ab: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < len; i++)
        a[i] = (float)(i % (size_t)period) * step - step * (float)(period / 2);
    return a;
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr,
                "usage: conv_ab H C STRIDE GROUP_WIDTH K ROUNDS [BATCH] [THREADS] [CIN] [NODX]\n");
        return 2;
    }
    int h = atoi(argv[1]), ch = atoi(argv[2]), s = atoi(argv[3]), gw = atoi(argv[4]);
    int k = atoi(argv[5]), rounds = atoi(argv[6]);
    int n = argc > 7 ? atoi(argv[7]) : 128, nth = argc > 8 ? atoi(argv[8]) : 1;
    int cin = argc > 9 ? atoi(argv[9]) : ch, nodx = argc > 10 && atoi(argv[10]);
    if (h < 1 || ch < 1 || cin < 1 || s < 1 || gw < 1 || cin % gw || ch % (cin / gw) || k < 1 ||
        rounds < 1 || n < 1 || nth < 1) {
        fprintf(stderr, "conv_ab: bad shape (CIN must be a multiple of GROUP_WIDTH, C of the "
                        "groups)\n");
        return 2;
    }
    struct ns_conv c;
    ns_conv_setup(&c, h, h, cin, ch, k, s, cin / gw, 0);
    struct ns_pool *p = ns_pool_create(nth);
    if (!p)
        return 1;
    size_t xs = (size_t)n * h * h * cin, ys = (size_t)n * c.ho * c.wo * ch;
    size_t ws = (size_t)k * k * gw * ch;
    size_t sn = ns_conv_scratch(&c, n, nth), sb = base_ns_conv_scratch(&c, n, nth);
    float *x = filled(xs, 7, 0.1f), *dy = filled(ys, 5, 0.1f), *w = filled(ws, 3, 0.1f);
    float *y[2] = {filled(ys, 1, 0), filled(ys, 1, 0)},
          *dx[2] = {filled(xs, 1, 0), filled(xs, 1, 0)};
    float *dw[2] = {calloc(ws, sizeof(float)), calloc(ws, sizeof(float))};
    float *scratch = filled(sn > sb ? sn : sb, 1, 0);
    double *fr = malloc(sizeof(double) * rounds), *br = malloc(sizeof(double) * rounds);
    double *tb = malloc(sizeof(double) * rounds), *tn = malloc(sizeof(double) * rounds);
    if (!dw[0] || !dw[1] || !fr || !br || !tb || !tn)
        return 1;
    for (int r = -1; r < rounds; r++) { /* round -1: warm-up, untimed */
        double t[2][3];                 /* [base, this][start, after fwd, after bwd] */
        for (int turn = 0; turn < 2; turn++) {
            int side = (r & 1) ? 1 - turn : turn; /* odd rounds: this build first */
            t[side][0] = now();
            if (side == 0)
                base_ns_conv_forward(p, &c, n, x, w, NULL, y[0], scratch);
            else
                ns_conv_forward(p, &c, n, x, w, NULL, y[1], scratch);
            t[side][1] = now();
            if (side == 0)
                base_ns_conv_backward(p, &c, n, x, w, dy, nodx ? NULL : dx[0], 0, dw[0], NULL,
                                      scratch);
            else
                ns_conv_backward(p, &c, n, x, w, dy, nodx ? NULL : dx[1], 0, dw[1], NULL, scratch);
            t[side][2] = now();
        }
        if (r < 0)
            continue;
        fr[r] = (t[0][1] - t[0][0]) / (t[1][1] - t[1][0]);
        br[r] = (t[0][2] - t[0][1]) / (t[1][2] - t[1][1]);
        tb[r] = t[0][2] - t[0][0];
        tn[r] = t[1][2] - t[1][0];
    }
    int same = !memcmp(y[0], y[1], sizeof(float) * ys) &&
               !memcmp(dx[0], dx[1], sizeof(float) * xs) &&
               !memcmp(dw[0], dw[1], sizeof(float) * ws);
    printf("%2dx%-2d c%d->%-4d s%d gw%-4d k%d%s  base/this: fwd %.3f bwd %.3f  (medians of %d "
           "rounds; fwd+bwd base %.3f ms, this %.3f ms)  bits %s\n",
           h, h, cin, ch, s, gw, k, nodx ? " (no dx)" : "", median(fr, rounds), median(br, rounds),
           rounds, 1e3 * median(tb, rounds), 1e3 * median(tn, rounds), same ? "same" : "DIFFER");
    ns_pool_free(p);
    float *bufs[] = {x, dy, w, y[0], y[1], dx[0], dx[1], dw[0], dw[1], scratch};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    free(fr);
    free(br);
    free(tb);
    free(tn);
    return 0;
}
