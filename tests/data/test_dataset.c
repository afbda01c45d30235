/* Whole-dataset operations: the validation split (sizes, disjointness, order, determinism,
 * errors), normalization statistics (hand-worked), truncation, allocation and freeing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "data/data.h"
#include "util/err.h"

/* n images of 1x2x1 whose two bytes spell the image's index, label index % 7. */
static void make_numbered(struct ns_dataset *d, int n)
{
    assert_int_equal(ns_data_alloc(d, "numbered", n, 1, 2, 1, 7), 0);
    for (int i = 0; i < n; i++) {
        d->x[2 * i] = (uint8_t)(i & 255);
        d->x[2 * i + 1] = (uint8_t)(i >> 8);
        d->y[i] = (uint8_t)(i % 7);
    }
}

static int id_of(const struct ns_dataset *d, int i)
{
    return d->x[2 * i] | d->x[2 * i + 1] << 8;
}

static void split_is_a_partition_in_order(void **state)
{
    (void)state;
    struct ns_dataset train, val;
    make_numbered(&train, 1000);
    train.mean[0] = 0.25f;
    train.std[0] = 0.5f;
    assert_int_equal(ns_data_split(&train, &val, 0.1, 5), 0);
    assert_int_equal(train.n, 900);
    assert_int_equal(val.n, 100);
    assert_string_equal(val.name, "numbered");
    assert_true(val.h == 1 && val.w == 2 && val.c == 1 && val.classes == 7);
    assert_true(val.mean[0] == 0.25f && val.std[0] == 0.5f);
    int seen[1000] = {0};
    const struct ns_dataset *parts[2] = {&train, &val};
    for (int p = 0; p < 2; p++) {
        int prev = -1;
        for (int i = 0; i < parts[p]->n; i++) {
            int id = id_of(parts[p], i);
            assert_true(id > prev); /* original order kept */
            prev = id;
            assert_int_equal(parts[p]->y[i], id % 7); /* labels travel with images */
            seen[id]++;
        }
    }
    for (int i = 0; i < 1000; i++)
        assert_int_equal(seen[i], 1);
    /* Spread over the whole set, not the first or last hundred. */
    assert_true(id_of(&val, 0) < 100 && id_of(&val, 99) > 900);
    ns_data_free(&train);
    ns_data_free(&val);
}

static void split_is_deterministic_per_seed(void **state)
{
    (void)state;
    int ids[3][100];
    const uint64_t seeds[3] = {42, 42, 43};
    for (int s = 0; s < 3; s++) {
        struct ns_dataset train, val;
        make_numbered(&train, 1000);
        assert_int_equal(ns_data_split(&train, &val, 0.1, seeds[s]), 0);
        for (int i = 0; i < 100; i++)
            ids[s][i] = id_of(&val, i);
        ns_data_free(&train);
        ns_data_free(&val);
    }
    assert_memory_equal(ids[0], ids[1], sizeof ids[0]);
    int common = 0; /* two random 10% subsets share about 10 images */
    for (int i = 0; i < 100; i++)
        for (int j = 0; j < 100; j++)
            common += ids[0][i] == ids[2][j];
    assert_true(common < 30);
}

static void split_rounds_and_refuses_empty_parts(void **state)
{
    (void)state;
    struct ns_dataset train, val;
    make_numbered(&train, 10);
    assert_int_equal(ns_data_split(&train, &val, 0.26, 1), 0); /* 2.6 -> 3 */
    assert_int_equal(val.n, 3);
    assert_int_equal(train.n, 7);
    ns_data_free(&val);

    const double bad[] = {0.0, 1.0, -0.5, 1.5, NAN, 0.01, 0.95};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ns_err_clear();
        assert_int_equal(ns_data_split(&train, &val, bad[i], 1), -1);
        assert_non_null(strstr(ns_errmsg(), "numbered"));
        assert_null(val.x);
        assert_int_equal(train.n, 7); /* untouched */
    }
    ns_data_free(&train);
}

static void normalize_hand_worked(void **state)
{
    (void)state;
    struct ns_dataset d, other;
    /* Two images of 1x2, two channels: channel 0 holds 0, 255, 255, 255 (mean 0.75,
     * variance (0.75^2 + 3 * 0.25^2) / 4 = 0.1875); channel 1 is constant 51 (0.2). */
    assert_int_equal(ns_data_alloc(&d, "hand", 2, 1, 2, 2, 2), 0);
    const uint8_t px[8] = {0, 51, 255, 51, 255, 51, 255, 51};
    memcpy(d.x, px, sizeof px);
    assert_int_equal(ns_data_alloc(&other, "other", 1, 1, 2, 2, 2), 0);
    ns_data_normalize(&d, &other);
    assert_float_equal(d.mean[0], 0.75, 1e-7);
    assert_float_equal(d.std[0], sqrt(0.1875), 1e-7);
    assert_float_equal(d.mean[1], 0.2, 1e-7);
    assert_float_equal(d.std[1], 1.0, 0); /* constant channel keeps scale 1 */
    assert_memory_equal(other.mean, d.mean, sizeof d.mean);
    assert_memory_equal(other.std, d.std, sizeof d.std);
    ns_data_normalize(&other, NULL); /* statistics of other alone: all zero bytes */
    assert_float_equal(other.mean[0], 0.0, 0);
    assert_float_equal(other.std[0], 1.0, 0);
    ns_data_free(&d);
    ns_data_free(&other);
}

static void truncate_keeps_the_first(void **state)
{
    (void)state;
    struct ns_dataset d;
    make_numbered(&d, 100);
    ns_data_truncate(&d, 10);
    assert_int_equal(d.n, 10);
    assert_int_equal(id_of(&d, 9), 9);
    ns_data_truncate(&d, 20);
    assert_int_equal(d.n, 10);
    ns_data_truncate(&d, -1);
    assert_int_equal(d.n, 10);
    ns_data_truncate(&d, 0);
    assert_int_equal(d.n, 0);
    ns_data_free(&d);
}

static void alloc_checks_shape_and_free_is_idempotent(void **state)
{
    (void)state;
    struct ns_dataset d;
    assert_int_equal(ns_data_alloc(&d, "a", 3, 4, 5, 2, 10), 0);
    assert_true(d.n == 3 && d.h == 4 && d.w == 5 && d.c == 2 && d.classes == 10);
    for (int i = 0; i < 3 * 4 * 5 * 2; i++)
        assert_int_equal(d.x[i], 0);
    assert_true(d.mean[1] == 0.0f && d.std[1] == 1.0f);
    ns_data_free(&d);
    ns_data_free(&d);
    ns_data_free(NULL);
    assert_null(d.x);
    const int bad[][5] = {{0, 1, 1, 1, 2}, {1, 0, 1, 1, 2}, {1, 1, 1, 5, 2}, {1, 1, 1, 1, 0}};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(
            ns_data_alloc(&d, "bad", bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4]), -1);
        assert_non_null(strstr(ns_errmsg(), "bad: bad shape"));
        assert_null(d.x);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_is_a_partition_in_order),
        cmocka_unit_test(split_is_deterministic_per_seed),
        cmocka_unit_test(split_rounds_and_refuses_empty_parts),
        cmocka_unit_test(normalize_hand_worked),
        cmocka_unit_test(truncate_keeps_the_first),
        cmocka_unit_test(alloc_checks_shape_and_free_is_idempotent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
