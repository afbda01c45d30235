/* netspace bench: training and inference throughput of a net, batch 128, on Fashion-MNIST
 * images (synthetic ones when the dataset is not installed or the net's input is another
 * shape: the speed does not depend on the pixels). The net is the standard benchmark net
 * (DESIGN.md) or one of a table of one representative config per block family (--net), so
 * that every family can be compared with its PyTorch twin (bench/torch_net.py,
 * bench/compare_families.sh). Mirrors the PyTorch reference script: a few warm-up steps,
 * then `steps` timed SGD steps; inference in evaluation mode over 10,000 images in batches
 * of 128, with BN folded into the convolutions. --peak measures the machine: one large
 * sgemm per thread count, and the benchmark net's useful GFLOP/s as a fraction of it. */
#include "cli/cli.h"

#include "data/data.h"
#include "nn/net.h"
#include "util/err.h"
#include "model/model.h"
#include "util/timer.h"

#include <cblas.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One representative config per block family at benchmark size for 1x28x28 Fashion-MNIST
 * (1-8 M flops; cifar stems, the ViT a 4x4 patchify stem). bench/nets/NAME.json holds the
 * same configs for bench/torch_net.py (tests/cli/test_bench_net.sh checks they agree). */
static const struct bench_net {
    const char *name, *what, *json;
} bench_nets[] = {
    {"vanilla", "VGG-like: two 3x3 conv-BN-act per block, no shortcut",
     "{\"block\":\"vanilla\",\"classes\":10,\"im_size\":28,\"in_ch\":1,\"se_r\":0.0,\"stages\":["
     "{\"b\":1.0,\"d\":1,\"g\":0,\"s\":2,\"w\":24},"
     "{\"b\":1.0,\"d\":1,\"g\":0,\"s\":2,\"w\":48},"
     "{\"b\":1.0,\"d\":1,\"g\":0,\"s\":2,\"w\":96}],\"stem\":{\"type\":\"cifar\",\"w\":16}}"},
    {"res_basic", "ResNet basic blocks",
     "{\"block\":\"res_basic\",\"classes\":10,\"im_size\":28,\"in_ch\":1,\"se_r\":0.0,\"stages\":["
     "{\"b\":1.0,\"d\":1,\"g\":0,\"s\":2,\"w\":24},"
     "{\"b\":1.0,\"d\":1,\"g\":0,\"s\":2,\"w\":48},"
     "{\"b\":1.0,\"d\":1,\"g\":0,\"s\":2,\"w\":96}],\"stem\":{\"type\":\"cifar\",\"w\":16}}"},
    {"x", "ResNeXt bottlenecks, group width 8 (RegNetX): the standard benchmark net",
     "{\"block\":\"x\",\"classes\":10,\"im_size\":28,\"in_ch\":1,\"se_r\":0.0,\"stages\":["
     "{\"b\":1.0,\"d\":1,\"g\":8,\"s\":2,\"w\":32},"
     "{\"b\":1.0,\"d\":2,\"g\":8,\"s\":2,\"w\":64},"
     "{\"b\":1.0,\"d\":4,\"g\":8,\"s\":2,\"w\":128}],\"stem\":{\"type\":\"cifar\",\"w\":16}}"},
    {"y", "X blocks with squeeze-and-excitation 0.25 (RegNetY)",
     "{\"block\":\"y\",\"classes\":10,\"im_size\":28,\"in_ch\":1,\"se_r\":0.25,\"stages\":["
     "{\"b\":1.0,\"d\":1,\"g\":8,\"s\":2,\"w\":32},"
     "{\"b\":1.0,\"d\":2,\"g\":8,\"s\":2,\"w\":64},"
     "{\"b\":1.0,\"d\":4,\"g\":8,\"s\":2,\"w\":128}],\"stem\":{\"type\":\"cifar\",\"w\":16}}"},
    {"sep", "Xception-style separable convs, pre-activation",
     "{\"block\":\"sep\",\"classes\":10,\"im_size\":28,\"in_ch\":1,\"se_r\":0.0,\"stages\":["
     "{\"b\":1.0,\"d\":1,\"g\":1,\"s\":2,\"w\":32},"
     "{\"b\":1.0,\"d\":2,\"g\":1,\"s\":2,\"w\":64},"
     "{\"b\":1.0,\"d\":2,\"g\":1,\"s\":2,\"w\":128}],\"stem\":{\"type\":\"cifar\",\"w\":16}}"},
    {"mbconv", "MobileNetV2 inverted bottlenecks, expansion 4",
     "{\"block\":\"mbconv\",\"classes\":10,\"im_size\":28,\"in_ch\":1,\"se_r\":0.0,\"stages\":["
     "{\"b\":4.0,\"d\":1,\"g\":1,\"s\":2,\"w\":24},"
     "{\"b\":4.0,\"d\":2,\"g\":1,\"s\":2,\"w\":32},"
     "{\"b\":4.0,\"d\":3,\"g\":1,\"s\":2,\"w\":64}],\"stem\":{\"type\":\"cifar\",\"w\":16}}"},
    {"mbv1", "MobileNet v1 depthwise separable convs",
     "{\"block\":\"mbv1\",\"classes\":10,\"im_size\":28,\"in_ch\":1,\"se_r\":0.0,\"stages\":["
     "{\"b\":1.0,\"d\":1,\"g\":0,\"s\":2,\"w\":64},"
     "{\"b\":1.0,\"d\":2,\"g\":0,\"s\":2,\"w\":128},"
     "{\"b\":1.0,\"d\":2,\"g\":0,\"s\":2,\"w\":256}],\"stem\":{\"type\":\"cifar\",\"w\":32}}"},
    {"shuffle_v2", "ShuffleNet v2 units",
     "{\"block\":\"shuffle_v2\",\"classes\":10,\"im_size\":28,\"in_ch\":1,\"se_r\":0.0,\"stages\":["
     "{\"b\":1.0,\"d\":1,\"g\":0,\"s\":2,\"w\":48},"
     "{\"b\":1.0,\"d\":2,\"g\":0,\"s\":2,\"w\":96},"
     "{\"b\":1.0,\"d\":3,\"g\":0,\"s\":2,\"w\":192}],\"stem\":{\"type\":\"cifar\",\"w\":24}}"},
    {"shuffle_v1", "ShuffleNet v1 units, 3 groups",
     "{\"block\":\"shuffle_v1\",\"classes\":10,\"im_size\":28,\"in_ch\":1,\"se_r\":0.0,\"stages\":["
     "{\"b\":0.25,\"d\":1,\"g\":20,\"s\":2,\"w\":240},"
     "{\"b\":0.25,\"d\":2,\"g\":20,\"s\":2,\"w\":480},"
     "{\"b\":0.25,\"d\":2,\"g\":20,\"s\":2,\"w\":960}],\"stem\":{\"type\":\"cifar\",\"w\":24}}"},
    {"vit", "ViT: 4x4 patches, 4 encoder blocks of width 64, 2 heads, MLP 2x",
     "{\"block\":\"vit\",\"classes\":10,\"im_size\":28,\"in_ch\":1,\"se_r\":0.0,\"stages\":["
     "{\"b\":2.0,\"d\":4,\"g\":32,\"s\":1,\"w\":64}],\"stem\":{\"type\":\"patchify\",\"w\":64},"
     "\"patch\":4}"},
    {"nf", "NF-ResNet bottlenecks: scaled WS convs, no BN",
     "{\"block\":\"nf\",\"classes\":10,\"im_size\":28,\"in_ch\":1,\"se_r\":0.0,\"stages\":["
     "{\"b\":1.0,\"d\":1,\"g\":8,\"s\":2,\"w\":32},"
     "{\"b\":1.0,\"d\":2,\"g\":8,\"s\":2,\"w\":64},"
     "{\"b\":1.0,\"d\":4,\"g\":8,\"s\":2,\"w\":128}],\"stem\":{\"type\":\"cifar\",\"w\":16}}"},
    {"repvgg", "RepVGG blocks (3x3 + 1x1 + identity branches, summed)",
     "{\"block\":\"repvgg\",\"classes\":10,\"im_size\":28,\"in_ch\":1,\"se_r\":0.0,\"stages\":["
     "{\"b\":1.0,\"d\":1,\"g\":0,\"s\":2,\"w\":24},"
     "{\"b\":1.0,\"d\":2,\"g\":0,\"s\":2,\"w\":48},"
     "{\"b\":1.0,\"d\":2,\"g\":0,\"s\":2,\"w\":96}],\"stem\":{\"type\":\"cifar\",\"w\":16}}"},
    {"acnet", "ACNet blocks (3x3 + 1x3 + 3x1 branches, summed)",
     "{\"block\":\"acnet\",\"classes\":10,\"im_size\":28,\"in_ch\":1,\"se_r\":0.0,\"stages\":["
     "{\"b\":1.0,\"d\":1,\"g\":0,\"s\":2,\"w\":24},"
     "{\"b\":1.0,\"d\":2,\"g\":0,\"s\":2,\"w\":48},"
     "{\"b\":1.0,\"d\":2,\"g\":0,\"s\":2,\"w\":96}],\"stem\":{\"type\":\"cifar\",\"w\":16}}"},
};
#define N_BENCH_NETS ((int)(sizeof bench_nets / sizeof *bench_nets))

static void help(void)
{
    puts("usage: netspace bench [--net NAME|FILE|all] [--threads N] [--steps N] [--batch N]\n"
         "                      [--infer N] [--data-dir DIR] [--profile N] [--json]\n"
         "       netspace bench --peak [--threads N] [--peak-size N] [--steps N] [--json]\n"
         "       netspace bench --list | --net NAME --print-config\n"
         "\n"
         "Training and inference throughput of a net: by default the standard benchmark net\n"
         "(1x28x28, cifar stem 16, X blocks 32/64/128, depths 1/2/4, group width 8; 203,834\n"
         "params, 5.78 M flops). Training: SGD steps (forward, backward, update; momentum 0.9,\n"
         "weight decay 5e-4, no Nesterov) at batch 128 (--batch), timed over --steps steps\n"
         "(default 60) after 5 warm-up steps. Inference: evaluation mode, BN folded into the\n"
         "convolutions, 10,000 images (--infer) at the training batch size. Fashion-MNIST\n"
         "images, or synthetic ones of the net's input shape. Compare with\n"
         "../shared/reference/torch_bench.py THREADS STEPS (the benchmark net) or\n"
         "bench/torch_net.py bench/nets/NAME.json --bench THREADS STEPS (any net), run in\n"
         "the same sitting: bench/compare_torch.sh, bench/compare_families.sh.\n"
         "\n"
         "  --net NAME      bench (the standard benchmark net, the default) or one block\n"
         "                  family's representative net: vanilla, res_basic, x, y, sep, mbconv,\n"
         "                  mbv1, shuffle_v2, shuffle_v1, vit, nf, repvgg, acnet (--list);\n"
         "                  'all': every family in turn; or a config JSON FILE\n"
         "  --list          the named nets with their flops, params and a line each\n"
         "  --print-config  print the --net's canonical config JSON and exit\n"
         "  --threads N     compute threads (default 1)\n"
         "  --steps N       timed training steps (default 60)\n"
         "  --batch N       training batch (default 128)\n"
         "  --infer N       inference images (default 10,000; at most the training set's)\n"
         "  --data-dir DIR  where the Fashion-MNIST files are (default: the Debian package's)\n"
         "  --profile N     time every layer of the net over the timed steps and print, per\n"
         "                  step, the N slowest (forward and backward ms, % of the step;\n"
         "                  named by kind, kernel/stride, grouping, channels in->out and\n"
         "                  input size), every kind of layer summed, and the time outside\n"
         "                  the layers; not with --json, --peak, --list or --print-config\n"
         "  --peak          single-precision GEMM peak of the machine: one N x N x N\n"
         "                  cblas_sgemm (OpenBLAS, its own threads) per thread count\n"
         "                  1..--threads, best of 3, in GFLOP/s; then the benchmark net's\n"
         "                  training at that thread count and its useful GFLOP/s (3 x\n"
         "                  forward flops x 2 per image x img/s) as a fraction of the peak\n"
         "  --peak-size N   the sgemm's N (default 2048)\n"
         "  --json          one JSON object per net (per thread count with --peak):\n"
         "                  net, train_img_per_s, infer_img_per_s, threads, flops, ...");
}

/* The config of a --net argument: a table name, "bench", or a file. 0, or -1 (ns_err). */
static int net_config(const char *name, struct ns_config *cfg)
{
    if (strcmp(name, "bench") == 0) {
        ns_config_bench_net(cfg);
        return 0;
    }
    for (int i = 0; i < N_BENCH_NETS; i++)
        if (strcmp(name, bench_nets[i].name) == 0)
            return ns_config_from_json(bench_nets[i].json, cfg);
    if (strchr(name, '/') || strstr(name, ".json"))
        return ns_config_load(name, cfg);
    return ns_err("--net: no net '%s' (bench, all, a config FILE, or one of: vanilla, "
                  "res_basic, x, y, sep, mbconv, mbv1, shuffle_v2, shuffle_v1, vit, nf, "
                  "repvgg, acnet)",
                  name);
}

struct bench_opts {
    long threads, steps, batch, infer;
    long profile; /* --profile N: print the N slowest nodes (0: no profile) */
    const char *dir;
    int json;
};

struct bench_result {
    double train_ips, infer_ips, loss, flops;
    long long params;
    double net_mb;
    const char *source;
};

/* Training set for cfg: Fashion-MNIST when the net takes 1x28x28 with 10 classes and it is
 * installed, else synthetic images of the net's shape. *source names which. */
static int bench_data(const struct ns_config *cfg, const char *dir, struct ns_dataset *tr,
                      const char **source)
{
    struct ns_dataset te;
    if (cfg->in_ch == 1 && cfg->im_size == 28 && cfg->classes == 10 &&
        ns_data_load(NS_DATA_FASHION_MNIST, dir, tr, &te) == 0) {
        ns_data_free(&te);
        *source = "fashion-mnist";
        return 0;
    }
    *source = "synthetic";
    int classes = cfg->classes < 256 ? cfg->classes : 256;
    return ns_data_synthetic(tr, 10000, cfg->in_ch, cfg->im_size, classes, 1);
}

/* Kinds of node for the profile's summary: convolutions by kernel and grouping, the rest
 * by the first word of their name. */
static void profile_kind(const char *name, char *kind, size_t len)
{
    const char *sp = strchr(name, ' '), *end = sp ? strchr(sp + 1, '/') : NULL;
    if ((strncmp(name, "conv ", 5) == 0 || strncmp(name, "wsconv ", 7) == 0) && end) {
        const char *k = sp + 1;
        const char *grp = strstr(name, " dw ") ? " depthwise" : strstr(name, " gw") ? " grouped" : "";
        snprintf(kind, len, "%.*s %.*s%s", (int)(sp - name), name,
                 (int)(end - k), k, grp);
    } else {
        snprintf(kind, len, "%.*s", (int)strcspn(name, " "), name);
    }
}

struct prof_row {
    int node;
    double fwd, bwd;
    char name[64];
};

static int by_time_desc(const void *a, const void *b)
{
    const struct prof_row *x = a, *y = b;
    double tx = x->fwd + x->bwd, ty = y->fwd + y->bwd;
    return (tx < ty) - (tx > ty);
}

/* The --profile table: per training step, the o->profile slowest nodes, then every kind of
 * node summed, then what ran outside the nodes (batch copy, loss, zeroing, the update). */
static void print_profile(const struct ns_net *net, const struct bench_opts *o, double train_s)
{
    int nn = net->n_nodes, nk = 0;
    struct prof_row *rows = calloc((size_t)nn, sizeof *rows);
    struct prof_row *kinds = calloc((size_t)nn, sizeof *kinds);
    if (!rows || !kinds) {
        free(rows);
        free(kinds);
        fprintf(stderr, "netspace bench: --profile: out of memory\n");
        return;
    }
    const double per = 1e3 / (double)o->steps, step_ms = train_s * per;
    double in_nodes = 0;
    for (int i = 0; i < nn; i++) {
        rows[i].node = i;
        rows[i].fwd = net->prof[2 * i] * per;
        rows[i].bwd = net->prof[2 * i + 1] * per;
        in_nodes += rows[i].fwd + rows[i].bwd;
        ns_net_node_name(net, i, rows[i].name, sizeof rows[i].name);
        char k[64];
        profile_kind(rows[i].name, k, sizeof k);
        int j = 0;
        while (j < nk && strcmp(kinds[j].name, k) != 0)
            j++;
        if (j == nk)
            snprintf(kinds[nk++].name, sizeof kinds->name, "%s", k);
        kinds[j].node++;
        kinds[j].fwd += rows[i].fwd;
        kinds[j].bwd += rows[i].bwd;
    }
    qsort(rows, (size_t)nn, sizeof *rows, by_time_desc);
    qsort(kinds, (size_t)nk, sizeof *kinds, by_time_desc);
    printf("profile: %.2f ms a training step (%ld steps, %ld threads, batch %ld); the %ld "
           "slowest of %d nodes:\n%5s  %-34s %9s %9s %6s\n",
           step_ms, o->steps, o->threads, o->batch, o->profile < nn ? o->profile : (long)nn, nn,
           "node", "layer", "fwd ms", "bwd ms", "%");
    for (int i = 0; i < nn && i < o->profile; i++)
        printf("%5d  %-34s %9.3f %9.3f %5.1f%%\n", rows[i].node, rows[i].name, rows[i].fwd,
               rows[i].bwd, 100 * (rows[i].fwd + rows[i].bwd) / step_ms);
    printf("by kind:\n%5s  %-34s %9s %9s %6s\n", "nodes", "kind", "fwd ms", "bwd ms", "%");
    for (int j = 0; j < nk; j++)
        printf("%5d  %-34s %9.3f %9.3f %5.1f%%\n", kinds[j].node, kinds[j].name, kinds[j].fwd,
               kinds[j].bwd, 100 * (kinds[j].fwd + kinds[j].bwd) / step_ms);
    printf("%5s  %-34s %19.3f %5.1f%%\n", "", "outside the nodes (data, loss, update)",
           step_ms - in_nodes, 100 * (step_ms - in_nodes) / step_ms);
    fflush(stdout);
    free(rows);
    free(kinds);
}

/* Train o->steps SGD steps (after 5 warm-up steps), then o->infer images of inference. */
static int bench_run(const struct ns_config *cfg, const struct bench_opts *o,
                     struct bench_result *res)
{
    struct ns_dataset tr;
    memset(&tr, 0, sizeof tr);
    struct ns_complexity cx;
    if (ns_complexity(cfg, &cx) || bench_data(cfg, o->dir, &tr, &res->source))
        return -1;
    res->flops = cx.flops;
    long batch = o->batch;
    if (tr.n <= batch) {
        ns_data_free(&tr);
        return ns_err("the %s training set has %d images; --batch %ld needs more", res->source,
                      tr.n, batch);
    }
    const int infer_n = (int)(o->infer < tr.n ? o->infer : tr.n), bmax = (int)batch;
    struct ns_pool *pool = ns_pool_create((int)o->threads);
    struct ns_net *net = pool ? ns_net_build(cfg, bmax, 0, 0, pool) : NULL;
    size_t per = (size_t)tr.h * tr.w * tr.c;
    float *x = malloc(sizeof(float) * per * bmax);
    float *dl = malloc(sizeof(float) * (size_t)cfg->classes * bmax);
    int32_t *y = malloc(sizeof(int32_t) * bmax);
    uint32_t *idx = malloc(sizeof(uint32_t) * bmax);
    int rc = -1;
    if (!net || !x || !dl || !y || !idx) {
        if (net)
            ns_err("out of memory");
        goto out;
    }
    ns_net_init(net, 0);
    ns_flush_denormals();
    double loss = 0, t0 = 0;
    for (long i = 0; i < o->steps + 5; i++) {
        if (i == 5 && o->profile && ns_net_profile(net))
            goto out;
        if (i == 5)
            t0 = ns_now();
        long j = (i * batch) % (tr.n - batch);
        for (long k = 0; k < batch; k++)
            idx[k] = (uint32_t)(j + k);
        ns_data_batch(&tr, idx, (int)batch, NULL, NULL, x, y);
        ns_net_zero_grad(net);
        const float *logits = ns_net_forward(net, (int)batch, x, 1, NULL);
        loss = ns_softmax_xent((int)batch, cfg->classes, logits, y, dl, NULL);
        ns_net_backward(net, (int)batch, dl);
        ns_net_sgd_step(net, 0.1, 0.9, 5e-4, 0);
    }
    double train_s = ns_now() - t0;
    res->train_ips = (double)o->steps * batch / train_s;
    res->loss = loss;
    if (o->profile) {
        print_profile(net, o, train_s);
        free(net->prof); /* inference is timed without the clock reads */
        net->prof = NULL;
    }

    ns_net_fuse_bn(net);
    t0 = ns_now();
    for (int j = 0; j < infer_n; j += bmax) {
        int n = infer_n - j < bmax ? infer_n - j : bmax;
        for (int k = 0; k < n; k++)
            idx[k] = (uint32_t)(j + k);
        ns_data_batch(&tr, idx, n, NULL, NULL, x, y);
        ns_net_forward(net, n, x, 0, NULL);
    }
    res->infer_ips = infer_n / (ns_now() - t0);
    res->params = ns_net_param_count(net);
    res->net_mb = (double)net->bytes / (1 << 20);
    rc = 0;
out:
    free(x);
    free(dl);
    free(y);
    free(idx);
    ns_net_free(net);
    ns_pool_free(pool);
    ns_data_free(&tr);
    return rc;
}

static void bench_print(const char *name, const struct bench_opts *o,
                        const struct bench_result *r)
{
    double rss_mb = (double)ns_peak_rss() / (1 << 20);
    if (o->json)
        printf("{\"net\":\"%s\",\"train_img_per_s\":%.1f,\"infer_img_per_s\":%.1f,"
               "\"threads\":%ld,\"batch\":%ld,\"steps\":%ld,\"params\":%lld,\"flops\":%.0f,"
               "\"loss\":%.4f,\"peak_rss_mb\":%.1f,\"net_mb\":%.1f,\"data\":\"%s\"}\n",
               name, r->train_ips, r->infer_ips, o->threads, o->batch, o->steps, r->params,
               r->flops, r->loss, rss_mb, r->net_mb, r->source);
    else
        printf("netspace bench: net=%s threads=%ld params=%lld flops=%.0f batch=%ld steps=%ld "
               "(%s)\ntrain_img_per_s=%.0f loss=%.3f\ninfer_img_per_s=%.0f\npeak_rss_mb=%.0f\n",
               name, o->threads, r->params, r->flops, o->batch, o->steps, r->source,
               r->train_ips, r->loss, r->infer_ips, rss_mb);
    fflush(stdout);
}

/* Best GFLOP/s of 3 n x n x n sgemms on `threads` OpenBLAS threads (0 when out of memory). */
static double sgemm_peak(int n, int threads)
{
    size_t len = (size_t)n * n;
    float *a = malloc(sizeof(float) * len), *b = malloc(sizeof(float) * len),
          *c = malloc(sizeof(float) * len);
    double best = 0;
    if (a && b && c) {
        for (size_t i = 0; i < len; i++) {
            a[i] = (float)(i % 7) * 0.25f - 0.75f;
            b[i] = (float)(i % 5) * 0.5f - 1.0f;
            c[i] = 0;
        }
        openblas_set_num_threads(threads);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f,
                    c, n); /* warm-up: threads started, pages touched */
        for (int r = 0; r < 3; r++) {
            double t0 = ns_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n,
                        0.0f, c, n);
            double g = 2.0 * n * n * (double)n / (ns_now() - t0) / 1e9;
            best = g > best ? g : best;
        }
        openblas_set_num_threads(1); /* the core calls OpenBLAS from its own threads */
    }
    free(a);
    free(b);
    free(c);
    return best;
}

/* --peak: per thread count 1..threads, the sgemm peak and the benchmark net's share of it. */
static int bench_peak(struct bench_opts o, int size)
{
    long threads = o.threads;
    struct ns_config cfg;
    ns_config_bench_net(&cfg);
    if (!o.json)
        printf("netspace bench --peak: cblas_sgemm %dx%dx%d, best of 3; benchmark net "
               "training, %ld steps at batch %ld\n",
               size, size, size, o.steps, o.batch);
    for (long t = 1; t <= threads; t++) {
        o.threads = t;
        double peak = sgemm_peak(size, (int)t);
        struct bench_result r;
        if (peak <= 0)
            return ns_err("out of memory for the %d x %d sgemm", size, size);
        if (bench_run(&cfg, &o, &r))
            return -1;
        double useful = 3.0 * r.flops * 2.0 * r.train_ips / 1e9;
        if (o.json)
            printf("{\"threads\":%ld,\"sgemm_n\":%d,\"sgemm_gflops\":%.2f,\"net\":\"bench\","
                   "\"train_img_per_s\":%.1f,\"flops\":%.0f,\"useful_gflops\":%.3f,"
                   "\"fraction_of_peak\":%.4f}\n",
                   t, size, peak, r.train_ips, r.flops, useful, useful / peak);
        else
            printf("threads=%ld sgemm_gflops=%.1f train_img_per_s=%.0f useful_gflops=%.2f "
                   "fraction_of_peak=%.3f\n",
                   t, peak, r.train_ips, useful, useful / peak);
        fflush(stdout);
    }
    return 0;
}

static void list_nets(void)
{
    printf("%-11s %9s %9s  %s\n", "net", "flops", "params", "what");
    for (int i = -1; i < N_BENCH_NETS; i++) {
        struct ns_config cfg;
        struct ns_complexity cx;
        const char *name = i < 0 ? "bench" : bench_nets[i].name;
        if (net_config(name, &cfg) || ns_complexity(&cfg, &cx)) {
            ns_die_msg(); /* a table entry that does not parse is a bug: say which */
            continue;
        }
        printf("%-11s %8.2fM %9.0f  %s\n", name, cx.flops / 1e6, cx.params,
               i < 0 ? "the standard benchmark net (DESIGN.md)" : bench_nets[i].what);
    }
}

int ns_cmd_bench(int argc, char **argv)
{
    const char *C = "bench";
    struct bench_opts o = {.threads = 1, .steps = 60, .batch = 128, .infer = 10000};
    const char *net = "bench";
    int peak = 0, list = 0, print_config = 0;
    long peak_size = 2048;
    static const struct option opts[] = {
        {"threads", required_argument, 0, 't'}, {"steps", required_argument, 0, 's'},
        {"batch", required_argument, 0, 'b'},   {"data-dir", required_argument, 0, 'd'},
        {"json", no_argument, 0, 'j'},          {"net", required_argument, 0, 'n'},
        {"peak", no_argument, 0, 'p'},          {"peak-size", required_argument, 0, 'P'},
        {"list", no_argument, 0, 'l'},          {"print-config", no_argument, 0, 'c'},
        {"infer", required_argument, 0, 'i'},   {"help", no_argument, 0, 'h'},
        {"profile", required_argument, 0, 'f'},
        {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 't': if (ns_cli_int(C, "--threads", optarg, 1, 256, &o.threads)) return 2; break;
        case 's': if (ns_cli_int(C, "--steps", optarg, 1, 100000, &o.steps)) return 2; break;
        case 'b': if (ns_cli_int(C, "--batch", optarg, 1, 4096, &o.batch)) return 2; break;
        case 'P': if (ns_cli_int(C, "--peak-size", optarg, 16, 16384, &peak_size)) return 2; break;
        case 'i': if (ns_cli_int(C, "--infer", optarg, 1, 1000000, &o.infer)) return 2; break;
        case 'f': if (ns_cli_int(C, "--profile", optarg, 1, 100000, &o.profile)) return 2; break;
        case 'd': o.dir = optarg; break;
        case 'j': o.json = 1; break;
        case 'n': net = optarg; break;
        case 'p': peak = 1; break;
        case 'l': list = 1; break;
        case 'c': print_config = 1; break;
        case 'h': help(); return 0;
        default: return ns_cli_bad_option(C, c, argv);
        }
    }
    if (optind < argc)
        return ns_cli_usage_error(C, "unexpected argument '%s'", argv[optind]);
    if (o.profile && (o.json || peak || list || print_config))
        return ns_cli_usage_error(C, "--profile times a training run: not with --json, --peak, "
                                     "--list or --print-config");
    if (list) {
        list_nets();
        return 0;
    }
    if (peak) {
        if (strcmp(net, "bench") != 0 || print_config)
            return ns_cli_usage_error(C, "--peak measures the standard benchmark net: no "
                                         "--net or --print-config with it");
        if (bench_peak(o, (int)peak_size)) {
            ns_die_msg();
            return 1;
        }
        return 0;
    }
    int all = strcmp(net, "all") == 0;
    if (all && print_config)
        return ns_cli_usage_error(C, "--print-config takes one net, not 'all'");
    for (int i = all ? 0 : -1; i < (all ? N_BENCH_NETS : 0); i++) {
        const char *name = i < 0 ? net : bench_nets[i].name;
        struct ns_config cfg;
        struct bench_result r;
        if (net_config(name, &cfg)) {
            ns_die_msg();
            return 1;
        }
        if (print_config) {
            char *s = ns_config_to_json(&cfg);
            if (!s) {
                ns_die_msg();
                return 1;
            }
            printf("%s\n", s);
            free(s);
            return 0;
        }
        if (bench_run(&cfg, &o, &r)) {
            fprintf(stderr, "netspace bench: net %s: %s\n", name, ns_errmsg());
            return 1;
        }
        bench_print(name, &o, &r);
    }
    return 0;
}
