/* netspace bench: training and inference throughput of the standard benchmark net
 * (DESIGN.md), batch 128, on Fashion-MNIST images (synthetic ones when the dataset is not
 * installed: the speed does not depend on the pixels). Mirrors the PyTorch reference
 * script: a few warm-up steps, then `steps` timed SGD steps; inference in evaluation mode
 * over 10,000 images in batches of 128, with BN folded into the convolutions. */
#include "cli/cli.h"

#include "data/data.h"
#include "nn/net.h"
#include "util/err.h"
#include "model/model.h"
#include "util/timer.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(void)
{
    puts("usage: netspace bench [--threads N] [--steps N] [--batch N] [--data-dir DIR] [--json]\n"
         "\n"
         "Training and inference throughput of the standard benchmark net (1x28x28, cifar stem 16,\n"
         "X blocks 32/64/128, depths 1/2/4, group width 8; 203,834 params, 5.78 M flops).\n"
         "Training: SGD steps (forward, backward, update) at batch 128 (--batch), timed over\n"
         "--steps steps (default 60) after 5 warm-up steps. Inference: evaluation mode, BN folded\n"
         "into the convolutions, 10,000 images at the training batch size.\n"
         "Compare with ../shared/reference/torch_bench.py THREADS STEPS run in the same sitting.\n"
         "\n"
         "  --threads N   compute threads (default 1)\n"
         "  --json        one JSON object: train_img_per_s, infer_img_per_s, threads, ...");
}

int ns_cmd_bench(int argc, char **argv)
{
    const char *C = "bench";
    long threads = 1, steps = 60, batch = 128;
    int json = 0;
    const char *dir = NULL;
    static const struct option opts[] = {
        {"threads", required_argument, 0, 't'}, {"steps", required_argument, 0, 's'},
        {"batch", required_argument, 0, 'b'},   {"data-dir", required_argument, 0, 'd'},
        {"json", no_argument, 0, 'j'},          {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't': if (ns_cli_int(C, "--threads", optarg, 1, 256, &threads)) return 2; break;
        case 's': if (ns_cli_int(C, "--steps", optarg, 1, 100000, &steps)) return 2; break;
        case 'b': if (ns_cli_int(C, "--batch", optarg, 1, 4096, &batch)) return 2; break;
        case 'd': dir = optarg; break;
        case 'j': json = 1; break;
        case 'h': help(); return 0;
        default: return ns_cli_usage_error(C, "unknown option");
        }
    }
    if (optind < argc)
        return ns_cli_usage_error(C, "unexpected argument '%s'", argv[optind]);

    struct ns_dataset tr, te;
    const char *source = "fashion-mnist";
    if (ns_data_load(NS_DATA_FASHION_MNIST, dir, &tr, &te) != 0) {
        source = "synthetic";
        if (ns_data_synthetic(&tr, 10000, 1, 28, 10, 1) != 0) {
            ns_die_msg();
            return 1;
        }
        memset(&te, 0, sizeof te);
    }
    if (tr.n <= batch) {
        fprintf(stderr, "netspace bench: the %s training set has %d images; --batch %ld needs more\n",
                source, tr.n, batch);
        ns_data_free(&tr);
        ns_data_free(&te);
        return 1;
    }
    struct ns_config cfg;
    ns_config_bench_net(&cfg);
    /* inference runs at the training batch: one net, one arena */
    const int infer_batch = (int)batch, infer_n = 10000 < tr.n ? 10000 : tr.n;
    int bmax = (int)batch;
    struct ns_pool *pool = ns_pool_create((int)threads);
    struct ns_net *net = pool ? ns_net_build(&cfg, bmax, 0, 0, pool) : NULL;
    size_t per = (size_t)tr.h * tr.w * tr.c;
    float *x = malloc(sizeof(float) * per * bmax);
    float *dl = malloc(sizeof(float) * 10 * bmax);
    int32_t *y = malloc(sizeof(int32_t) * bmax);
    uint32_t *idx = malloc(sizeof(uint32_t) * bmax);
    int rc = 1;
    if (!net || !x || !dl || !y || !idx) {
        ns_die_msg();
        goto out;
    }
    ns_net_init(net, 0);
    ns_flush_denormals();
    double loss = 0, t0 = 0;
    for (long i = 0; i < steps + 5; i++) {
        if (i == 5)
            t0 = ns_now();
        long j = (i * batch) % (tr.n - batch);
        for (long k = 0; k < batch; k++)
            idx[k] = (uint32_t)(j + k);
        ns_data_batch(&tr, idx, (int)batch, NULL, NULL, x, y);
        ns_net_zero_grad(net);
        const float *logits = ns_net_forward(net, (int)batch, x, 1, NULL);
        loss = ns_softmax_xent((int)batch, 10, logits, y, dl, NULL);
        ns_net_backward(net, (int)batch, dl);
        ns_net_sgd_step(net, 0.1, 0.9, 5e-4, 0);
    }
    double train_s = ns_now() - t0;
    double train_ips = (double)steps * batch / train_s;

    ns_net_fuse_bn(net);
    t0 = ns_now();
    for (int j = 0; j < infer_n; j += infer_batch) {
        int n = infer_n - j < infer_batch ? infer_n - j : infer_batch;
        for (int k = 0; k < n; k++)
            idx[k] = (uint32_t)(j + k);
        ns_data_batch(&tr, idx, n, NULL, NULL, x, y);
        ns_net_forward(net, n, x, 0, NULL);
    }
    double infer_ips = infer_n / (ns_now() - t0);
    double rss_mb = (double)ns_peak_rss() / (1 << 20);
    if (json)
        printf("{\"train_img_per_s\":%.1f,\"infer_img_per_s\":%.1f,\"threads\":%ld,\"batch\":%ld,"
               "\"steps\":%ld,\"params\":%lld,\"loss\":%.4f,\"peak_rss_mb\":%.1f,\"net_mb\":%.1f,"
               "\"data\":\"%s\"}\n",
               train_ips, infer_ips, threads, batch, steps, ns_net_param_count(net), loss, rss_mb,
               (double)net->bytes / (1 << 20), source);
    else
        printf("netspace bench: threads=%ld params=%lld batch=%ld steps=%ld (%s)\n"
               "train_img_per_s=%.0f loss=%.3f\ninfer_img_per_s=%.0f\npeak_rss_mb=%.0f\n",
               threads, ns_net_param_count(net), batch, steps, source, train_ips, loss, infer_ips,
               rss_mb);
    rc = 0;
out:
    free(x);
    free(dl);
    free(y);
    free(idx);
    ns_net_free(net);
    ns_pool_free(pool);
    ns_data_free(&tr);
    ns_data_free(&te);
    return rc;
}
