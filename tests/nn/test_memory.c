/* ns_net_memory_estimate against what ns_net_build really allocates, over sampled configs of
 * every block type and two batch sizes: never more than 5% under (a limit check must not
 * pass a net that then runs out), at most 70% over, and growing with the batch. */
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
    struct ns_pool *pool = ns_pool_create(1);
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
            size_t prev = 0;
            for (int b = 2; b <= 16; b *= 8) {
                struct ns_net *n = ns_net_build(&cfg, b, 0, 0, pool);
                assert_non_null(n);
                size_t est = ns_net_memory_estimate(&cfg, t[i].cx.params, t[i].cx.acts, b);
                double ratio = (double)est / (double)n->bytes;
                if (ratio < 0.95 || ratio > 1.7)
                    fail_msg("%s trial %d batch %d: estimate %zu, allocated %zu (x%.2f)", spaces[s],
                             i, b, est, n->bytes, ratio);
                assert_true(est > prev);
                prev = est;
                ns_net_free(n);
                checked++;
            }
        }
        free(t);
        ns_space_free(sp);
    }
    ns_pool_free(pool);
    assert_int_equal(checked, 8 * 3 * 2);
    struct ns_config any = {0};
    assert_int_equal(ns_net_memory_estimate(&any, 1, 1, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(estimate_brackets_the_real_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
