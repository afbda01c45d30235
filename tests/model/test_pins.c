/* Pins: every config that existed before the layer graph keeps its canonical JSON, hash,
 * complexity and training numbers bit for bit. For each pinned config (the benchmark net,
 * one config of every block type and stem, both BN orders, SE and dropout variants) the
 * fixture tests/fixtures/model/pins.txt holds: the canonical JSON, the hash, flops, params,
 * acts, and the logits (printed to round-trip exactly) of (a) the training forward of the
 * third of three SGD steps, with zero-init of the last BNs and dropout where given, (b) the
 * evaluation forward, (c) the evaluation forward after conv+BN fusion. The fixture was written
 * by the code before the layer graph (NS_PIN_WRITE=1 prints a new one). JSON, hash and
 * complexity must match exactly. Logits depend on the CPU's kernels (AVX-512 or AVX2 builds
 * sum in other orders), so they must match to 1e-4 of their scale anywhere, and bit for bit
 * when NS_PIN_EXACT=1 (on the machine and build that wrote the fixture). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/net.h"
#include "nn/pool.h"
#include "space/space.h"
#include "util/err.h"

/* Configs as JSON (read through the public reader, so the reader is pinned too). */
static const char *const pinned[] = {
    "bench",
    "{\"block\":\"vanilla\",\"classes\":5,\"im_size\":16,\"in_ch\":3,\"stages\":[{\"b\":1,\"d\":1,"
    "\"g\":0,\"s\":1,\"w\":8},{\"b\":1,\"d\":2,\"g\":0,\"s\":2,\"w\":16}],\"stem\":{\"type\":"
    "\"cifar\",\"w\":8}}",
    "{\"block\":\"res_basic\",\"classes\":5,\"im_size\":16,\"in_ch\":3,\"stages\":[{\"b\":1,"
    "\"d\":2,\"g\":0,\"s\":1,\"w\":8},{\"b\":1,\"d\":2,\"g\":0,\"s\":2,\"w\":16}],\"stem\":"
    "{\"type\":\"simple\",\"w\":8}}",
    "{\"block\":\"x\",\"classes\":5,\"im_size\":32,\"in_ch\":3,\"stages\":[{\"b\":0.5,\"d\":1,"
    "\"g\":4,\"s\":2,\"w\":16},{\"b\":0.5,\"d\":2,\"g\":4,\"s\":2,\"w\":32}],\"stem\":{\"type\":"
    "\"res\",\"w\":8}}",
    "{\"block\":\"y\",\"classes\":5,\"im_size\":16,\"in_ch\":1,\"se_r\":0.25,\"stages\":[{\"b\":1,"
    "\"d\":2,\"g\":8,\"s\":2,\"w\":16},{\"b\":1,\"d\":1,\"g\":8,\"s\":2,\"w\":32}],\"stem\":"
    "{\"type\":\"cifar\",\"w\":8}}",
    "{\"block\":\"sep\",\"classes\":5,\"im_size\":16,\"in_ch\":3,\"stages\":[{\"b\":1,\"d\":1,"
    "\"g\":1,\"s\":2,\"w\":16},{\"b\":1,\"d\":2,\"g\":1,\"s\":2,\"w\":24}],\"stem\":{\"type\":"
    "\"cifar\",\"w\":8}}",
    "{\"block\":\"mbconv\",\"classes\":5,\"im_size\":16,\"in_ch\":3,\"stages\":[{\"b\":1,\"d\":1,"
    "\"g\":1,\"s\":1,\"w\":8},{\"b\":4,\"d\":2,\"g\":1,\"s\":2,\"w\":16}],\"stem\":{\"type\":"
    "\"cifar\",\"w\":8}}",
    "{\"block\":\"mbconv\",\"classes\":5,\"im_size\":16,\"in_ch\":3,\"se_r\":0.25,\"stages\":[{"
    "\"b\":1,\"d\":1,\"g\":1,\"s\":1,\"w\":8},{\"b\":3,\"d\":2,\"g\":1,\"s\":2,\"w\":16}],"
    "\"stem\":{\"type\":\"simple\",\"w\":8}}",
    "{\"block\":\"vanilla\",\"bn_order\":\"after_act\",\"classes\":5,\"im_size\":16,\"in_ch\":3,"
    "\"stages\":[{\"b\":1,\"d\":2,\"g\":0,\"s\":2,\"w\":8}],\"stem\":{\"type\":\"res\",\"w\":8}}",
    "{\"block\":\"res_basic\",\"bn_order\":\"after_act\",\"classes\":5,\"im_size\":16,\"in_ch\":3,"
    "\"stages\":[{\"b\":1,\"d\":2,\"g\":0,\"s\":2,\"w\":8}],\"stem\":{\"type\":\"cifar\",\"w\":8}}",
    "{\"block\":\"x\",\"bn_order\":\"after_act\",\"classes\":5,\"im_size\":16,\"in_ch\":1,"
    "\"stages\":[{\"b\":1,\"d\":2,\"g\":8,\"s\":2,\"w\":16}],\"stem\":{\"type\":\"cifar\",\"w\":8}}",
    "{\"block\":\"y\",\"bn_order\":\"after_act\",\"classes\":5,\"im_size\":16,\"in_ch\":1,"
    "\"se_r\":0.5,\"stages\":[{\"b\":2,\"d\":2,\"g\":8,\"s\":2,\"w\":16}],\"stem\":{\"type\":"
    "\"cifar\",\"w\":8}}",
    "{\"block\":\"mbconv\",\"bn_order\":\"after_act\",\"classes\":5,\"im_size\":16,\"in_ch\":3,"
    "\"se_r\":0.25,\"stages\":[{\"b\":1,\"d\":1,\"g\":1,\"s\":1,\"w\":8},{\"b\":4,\"d\":2,\"g\":1,"
    "\"s\":2,\"w\":16}],\"stem\":{\"type\":\"cifar\",\"w\":8}}",
};
#define N_PINNED (int)(sizeof pinned / sizeof pinned[0])

struct pin {
    char json[1024], hash[17];
    double flops, params, acts;
    float logits[3][30]; /* training, evaluation, fused evaluation: 6 images x 5 classes */
    int nl;
};

/* Three SGD steps (dropout 0.2 on odd pins, zero-init last BN on even ones) on PCG inputs,
 * then the training-step logits, evaluation logits and fused evaluation logits. */
static void measure(int i, struct pin *p, struct ns_pool *pool)
{
    struct ns_config c;
    if (strcmp(pinned[i], "bench") == 0)
        ns_config_bench_net(&c);
    else if (ns_config_from_json(pinned[i], &c))
        fail_msg("pin %d: %s", i, ns_errmsg());
    char *js = ns_config_to_json(&c);
    assert_non_null(js);
    snprintf(p->json, sizeof p->json, "%s", js);
    free(js);
    assert_int_equal(ns_config_hash(&c, p->hash), 0);
    struct ns_complexity cx;
    assert_int_equal(ns_complexity(&c, &cx), 0);
    p->flops = cx.flops;
    p->params = cx.params;
    p->acts = cx.acts;

    const int n = 6;
    struct ns_net *net = ns_net_build(&c, n, i % 2 ? 0.2f : 0.0f, i % 2 == 0, pool);
    if (!net)
        fail_msg("pin %d: build: %s", i, ns_errmsg());
    ns_net_init(net, 100 + (uint64_t)i);
    struct ns_pcg32 rng, drop;
    ns_pcg32_seed(&rng, 7, (uint64_t)i);
    ns_pcg32_seed(&drop, 8, (uint64_t)i);
    size_t nx = (size_t)n * c.im_size * c.im_size * c.in_ch, nl = (size_t)n * c.classes;
    float *x = malloc(nx * sizeof *x), *dl = malloc(nl * sizeof *dl);
    int32_t labels[6];
    for (size_t k = 0; k < nx; k++)
        x[k] = (float)ns_pcg32_double(&rng) * 2.0f - 0.5f;
    for (int k = 0; k < n; k++)
        labels[k] = (int32_t)(ns_pcg32_next(&rng) % (uint32_t)c.classes);
    const float *logits = NULL;
    for (int step = 0; step < 3; step++) {
        ns_net_zero_grad(net);
        logits = ns_net_forward(net, n, x, 1, &drop);
        int wrong;
        ns_softmax_xent(n, c.classes, logits, labels, dl, &wrong);
        ns_net_backward(net, n, dl);
        ns_net_sgd_step(net, 0.1, 0.9, 5e-4, step == 2);
    }
    p->nl = (int)(nl < 30 ? nl : 30);
    memcpy(p->logits[0], logits, (size_t)p->nl * sizeof(float));
    memcpy(p->logits[1], ns_net_forward(net, n, x, 0, NULL), (size_t)p->nl * sizeof(float));
    ns_net_fuse_bn(net);
    memcpy(p->logits[2], ns_net_forward(net, n, x, 0, NULL), (size_t)p->nl * sizeof(float));
    ns_net_free(net);
    free(x);
    free(dl);
}

static void pinned_configs_unchanged(void **state)
{
    (void)state;
    struct ns_pool *pool = ns_pool_create(2);
    assert_non_null(pool);
    if (getenv("NS_PIN_WRITE")) {
        for (int i = 0; i < N_PINNED; i++) {
            struct pin p;
            measure(i, &p, pool);
            printf("%s %s %.0f %.0f %.0f %d", p.json, p.hash, p.flops, p.params, p.acts, p.nl);
            for (int k = 0; k < 3; k++)
                for (int j = 0; j < p.nl; j++)
                    printf(" %.9g", p.logits[k][j]);
            printf("\n");
        }
        ns_pool_free(pool);
        return;
    }
    const int exact = getenv("NS_PIN_EXACT") != NULL;
    FILE *f = fopen(NS_FIXTURES "/model/pins.txt", "r");
    if (!f)
        fail_msg("cannot open %s", NS_FIXTURES "/model/pins.txt");
    for (int i = 0; i < N_PINNED; i++) {
        struct pin want, got;
        if (fscanf(f, "%1023s %16s %lf %lf %lf %d", want.json, want.hash, &want.flops,
                   &want.params, &want.acts, &want.nl) != 6 || want.nl < 1 || want.nl > 30)
            fail_msg("pins.txt: line %d is malformed", i + 1);
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < want.nl; j++)
                if (fscanf(f, "%f", &want.logits[k][j]) != 1)
                    fail_msg("pins.txt: line %d is malformed", i + 1);
        measure(i, &got, pool);
        if (strcmp(want.json, got.json) || strcmp(want.hash, got.hash))
            fail_msg("pin %d: canonical JSON or hash changed:\n want %s %s\n got  %s %s", i,
                     want.json, want.hash, got.json, got.hash);
        if (want.flops != got.flops || want.params != got.params || want.acts != got.acts)
            fail_msg("pin %d (%s): complexity changed: want %.0f %.0f %.0f, got %.0f %.0f %.0f",
                     i, got.json, want.flops, want.params, want.acts, got.flops, got.params,
                     got.acts);
        static const char *const phase[3] = {"training", "evaluation", "fused evaluation"};
        for (int k = 0; k < 3; k++) {
            double scale = 1e-3, dev = 0;
            for (int j = 0; j < want.nl; j++)
                scale = fmax(scale, fabs(want.logits[k][j]));
            for (int j = 0; j < want.nl; j++)
                dev = fmax(dev, fabs((double)want.logits[k][j] - got.logits[k][j]));
            if (dev > 1e-4 * scale || (exact && dev != 0))
                fail_msg("pin %d (%s): %s logits changed by %g (scale %g)%s", i, got.json,
                         phase[k], dev, scale, exact ? " (NS_PIN_EXACT)" : "");
        }
    }
    fclose(f);
    ns_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(pinned_configs_unchanged)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
