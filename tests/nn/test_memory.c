/* ns_net_memory_estimate against what ns_net_build really allocates, over sampled configs of
 * every block type, two batch sizes and 1 and 3 threads: never more than 5% under (a limit
 * check must not pass a net that then runs out), at most 70% over, and growing with the
 * batch. */
/* cmocka.h needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>

#include "nn/memory.h"
#include "nn/net.h"
#include "nn/pool.h"
#include "space/space.h"
#include "util/err.h"

static void estimate_brackets_the_real_allocation(void **state)
{
    (void)state;
    static const char *const spaces[] = {"tiny_regnetx", "anynetx_a", "regnety",  "resnet",
                                         "vanilla",      "mbconv",    "xception", "resnext"};
    const char *fx = getenv("NS_FIXTURES");
    assert_non_null(fx);
    struct ns_pool *pools[2] = {ns_pool_create(1), ns_pool_create(3)};
    int checked = 0;
    for (size_t s = 0; s < sizeof spaces / sizeof spaces[0]; s++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/../../spaces/%s.json", fx, spaces[s]);
        struct ns_space *sp = ns_space_load(path);
        if (!sp)
            fail_msg("%s", ns_errmsg());
        struct ns_trial *t;
        assert_int_equal(ns_space_sample(sp, 1, 3, &t, NULL), 0);
        for (int i = 0; i < 3; i++) {
            struct ns_config cfg;
            assert_int_equal(ns_config_from_json(t[i].json, &cfg), 0);
            for (int pi = 0; pi < 2; pi++) {
                int nth = ns_pool_size(pools[pi]);
                size_t prev = 0;
                for (int b = 2; b <= 16; b *= 8) {
                    struct ns_net *n = ns_net_build(&cfg, b, 0, 0, pools[pi]);
                    assert_non_null(n);
                    size_t est =
                        ns_net_memory_estimate(&cfg, t[i].cx.params, t[i].cx.acts, b, nth);
                    double ratio = (double)est / (double)n->bytes;
                    if (ratio < 0.95 || ratio > 1.7)
                        fail_msg("%s trial %d batch %d, %d threads: estimate %zu, allocated %zu "
                                 "(x%.2f)",
                                 spaces[s], i, b, nth, est, n->bytes, ratio);
                    assert_true(est > prev);
                    prev = est;
                    ns_net_free(n);
                    checked++;
                }
            }
        }
        free(t);
        ns_space_free(sp);
    }
    ns_pool_free(pools[0]);
    ns_pool_free(pools[1]);
    assert_int_equal(checked, 8 * 3 * 2 * 2);
    struct ns_config any = {0};
    assert_int_equal(ns_net_memory_estimate(&any, 1, 1, 0, 1), 0);
    ns_config_bench_net(&any);
    assert_int_equal(ns_net_memory_estimate(&any, 1, 1, 8, 0), 0);
    /* more threads, more scratch */
    assert_true(ns_net_memory_estimate(&any, 1, 1, 8, 4) > ns_net_memory_estimate(&any, 1, 1, 8, 1));
}

/* Activation gradients share one arena by liveness (net.c's plan_grads): at every backward
 * step, the gradients in use (the node's output's and those of tensors already written by
 * later readers but not yet consumed by their producer) must not overlap; in the benchmark
 * net the arena is under a third of the activations; ns_net_memory still counts exactly
 * what is allocated. */
static void gradients_share_memory_only_when_not_live_together(void **state)
{
    (void)state;
    struct ns_config cfg;
    ns_config_bench_net(&cfg);
    struct ns_net *n = ns_net_build(&cfg, 8, 0, 0, NULL);
    assert_non_null(n);
    int N = n->n_nodes, T = n->n_tensors, checked = 0;
    int *last_reader = malloc(sizeof(int) * (size_t)T);
    for (int t = 0; t < T; t++)
        last_reader[t] = -1;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 2; j++)
            if (n->nodes[i].in[j] >= 0)
                last_reader[n->nodes[i].in[j]] = i;
    last_reader[n->logits] = N;
    assert_null(n->tensors[n->input].grad);
    for (int i = N - 1; i >= 0; i--) /* backward step of node i: tensor t live when its
                                        producer (node t-1) is at or before i and its last
                                        reader at or after i */
        for (int a = 1; a < T; a++) {
            if (a - 1 > i || last_reader[a] < i)
                continue;
            for (int b = a + 1; b < T; b++) {
                if (b - 1 > i || last_reader[b] < i)
                    continue;
                const float *ga = n->tensors[a].grad, *gb = n->tensors[b].grad;
                size_t la = n->tensors[a].per_image * 8, lb = n->tensors[b].per_image * 8;
                if (ga < gb + lb && gb < ga + la)
                    fail_msg("node %d: gradients of tensors %d and %d overlap", i, a, b);
                checked++;
            }
        }
    assert_true(checked > N);
    size_t bytes;
    assert_int_equal(ns_net_memory(&cfg, 8, NULL, 1, &bytes), 0);
    assert_int_equal(bytes, n->plan_bytes);
    if (3 * n->grad_len > n->act_len)
        fail_msg("gradient arena %zu floats, activations %zu", n->grad_len, n->act_len);
    free(last_reader);
    ns_net_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(estimate_brackets_the_real_allocation),
        cmocka_unit_test(gradients_share_memory_only_when_not_live_together),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
