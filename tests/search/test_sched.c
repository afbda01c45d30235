/* The scheduler hands out the largest trials first, ties by index, each exactly once. */
/* cmocka.h needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "search/search.h"

static void largest_first_ties_by_index(void **state)
{
    (void)state;
    /* trial:             0    1    2    3    4    5    6 */
    const double flops[] = {5e6, 9e6, 1e6, 9e6, 3e6, 7e6, 2e6};
    const int pending[] = {6, 0, 3, 2, 1, 5}; /* trial 4 is complete: not queued */
    struct ns_sched s;
    assert_int_equal(ns_sched_init(&s, pending, 6, flops), 0);
    const int want[] = {1, 3, 5, 0, 6, 2};
    for (int i = 0; i < 6; i++)
        assert_int_equal(ns_sched_next(&s), want[i]);
    assert_int_equal(ns_sched_next(&s), -1);
    assert_int_equal(ns_sched_next(&s), -1);
    ns_sched_free(&s);
}

static void empty_queue(void **state)
{
    (void)state;
    struct ns_sched s;
    assert_int_equal(ns_sched_init(&s, NULL, 0, NULL), 0);
    assert_int_equal(ns_sched_next(&s), -1);
    ns_sched_free(&s);
}

static void input_is_not_modified(void **state)
{
    (void)state;
    const double flops[] = {1, 2, 3};
    int pending[] = {0, 1, 2};
    struct ns_sched s;
    assert_int_equal(ns_sched_init(&s, pending, 3, flops), 0);
    assert_int_equal(pending[0], 0);
    assert_int_equal(pending[2], 2);
    assert_int_equal(ns_sched_next(&s), 2);
    ns_sched_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(largest_first_ties_by_index),
        cmocka_unit_test(empty_queue),
        cmocka_unit_test(input_is_not_modified),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
