/* The synthetic dataset: deterministic for a seed, balanced, shared class patterns between
 * train and test, learnable (a nearest-class-mean classifier already generalizes) but not
 * trivially (no single pixel tells the classes apart). Also dataset kind names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "util/err.h"

static size_t bytes(const struct ns_dataset *d)
{
    return (size_t)d->n * d->h * d->w * d->c;
}

static void same_seed_same_data_other_seed_other_data(void **state)
{
    (void)state;
    struct ns_dataset a, b, c;
    assert_int_equal(ns_data_synthetic(&a, 300, 1, 28, 10, 7), 0);
    assert_int_equal(ns_data_synthetic(&b, 300, 1, 28, 10, 7), 0);
    assert_int_equal(ns_data_synthetic(&c, 300, 1, 28, 10, 8), 0);
    assert_memory_equal(a.x, b.x, bytes(&a));
    assert_memory_equal(a.y, b.y, (size_t)a.n);
    size_t diff = 0;
    for (size_t i = 0; i < bytes(&a); i++)
        diff += a.x[i] != c.x[i];
    assert_true(diff > bytes(&a) * 9 / 10);
    assert_memory_not_equal(a.y, c.y, (size_t)a.n);
    ns_data_free(&a);
    ns_data_free(&b);
    ns_data_free(&c);
}

static void classes_are_balanced(void **state)
{
    (void)state;
    const int sizes[3] = {2050, 103, 10};
    for (int s = 0; s < 3; s++) {
        struct ns_dataset d;
        assert_int_equal(ns_data_synthetic(&d, sizes[s], 1, 12, 10, 3), 0);
        int hist[10] = {0};
        for (int i = 0; i < d.n; i++) {
            assert_true(d.y[i] < 10);
            hist[d.y[i]]++;
        }
        for (int k = 0; k < 10; k++)
            assert_true(hist[k] == sizes[s] / 10 || hist[k] == sizes[s] / 10 + 1);
        /* Labels come in random order, not 0, 1, 2, ... */
        int in_order = 0;
        for (int i = 0; i < d.n; i++)
            in_order += d.y[i] == i % 10;
        if (sizes[s] > 100)
            assert_true(in_order < d.n / 2);
        ns_data_free(&d);
    }
}

static void load_gives_documented_sets(void **state)
{
    (void)state;
    struct ns_dataset train, test, again;
    assert_int_equal(ns_data_load(NS_DATA_SYNTHETIC, "/nonexistent", &train, &test), 0);
    assert_string_equal(train.name, "synthetic");
    assert_int_equal(train.n, NS_DATA_SYNTH_TRAIN);
    assert_int_equal(test.n, NS_DATA_SYNTH_TEST);
    assert_int_equal(train.n, 2048);
    assert_int_equal(test.n, 512);
    assert_true(train.h == 28 && train.w == 28 && train.c == 1 && train.classes == 10);
    assert_true(test.h == 28 && test.w == 28 && test.c == 1 && test.classes == 10);
    /* The train set is ns_data_synthetic with the documented seed; test images differ. */
    assert_int_equal(ns_data_synthetic(&again, 2048, 1, 28, 10, NS_DATA_SYNTH_SEED), 0);
    assert_memory_equal(train.x, again.x, bytes(&train));
    assert_memory_equal(train.y, again.y, (size_t)train.n);
    assert_memory_not_equal(train.x, test.x, bytes(&test));
    ns_data_free(&train);
    ns_data_free(&test);
    ns_data_free(&again);
}

/* Nearest class mean, fitted on train, accuracy on test. */
static double nearest_mean_accuracy(const struct ns_dataset *train, const struct ns_dataset *test)
{
    const size_t img = (size_t)train->h * train->w * train->c;
    const int k = train->classes;
    double *mean = calloc((size_t)k * img, sizeof *mean);
    int *count = calloc((size_t)k, sizeof *count);
    assert_non_null(mean);
    assert_non_null(count);
    for (int i = 0; i < train->n; i++) {
        count[train->y[i]]++;
        for (size_t j = 0; j < img; j++)
            mean[train->y[i] * img + j] += train->x[i * img + j];
    }
    for (int c = 0; c < k; c++)
        for (size_t j = 0; j < img; j++)
            mean[c * img + j] /= count[c];
    int right = 0;
    for (int i = 0; i < test->n; i++) {
        int best = 0;
        double best_d = 1e300;
        for (int c = 0; c < k; c++) {
            double dist = 0;
            for (size_t j = 0; j < img; j++) {
                double e = test->x[i * img + j] - mean[c * img + j];
                dist += e * e;
            }
            if (dist < best_d) {
                best_d = dist;
                best = c;
            }
        }
        right += best == test->y[i];
    }
    free(mean);
    free(count);
    return (double)right / test->n;
}

/* The best accuracy any classifier that looks at one pixel (value in 16 bins) can reach on
 * test, fitted on train: majority class per bin, per pixel. */
static double best_single_pixel_accuracy(const struct ns_dataset *train,
                                         const struct ns_dataset *test)
{
    const int img = train->h * train->w * train->c, k = train->classes;
    double best = 0;
    for (int p = 0; p < img; p++) {
        int hist[16][256] = {{0}}, vote[16];
        for (int i = 0; i < train->n; i++)
            hist[train->x[(size_t)i * img + p] >> 4][train->y[i]]++;
        for (int b = 0; b < 16; b++) {
            vote[b] = 0;
            for (int c = 1; c < k; c++)
                if (hist[b][c] > hist[b][vote[b]])
                    vote[b] = c;
        }
        int right = 0;
        for (int i = 0; i < test->n; i++)
            right += vote[test->x[(size_t)i * img + p] >> 4] == test->y[i];
        double acc = (double)right / test->n;
        best = acc > best ? acc : best;
    }
    return best;
}

static void learnable_but_not_from_one_pixel(void **state)
{
    (void)state;
    struct ns_dataset train, test;
    assert_int_equal(ns_data_load(NS_DATA_SYNTHETIC, NULL, &train, &test), 0);
    double nm = nearest_mean_accuracy(&train, &test);
    double px = best_single_pixel_accuracy(&train, &test);
    print_message("nearest class mean: %.1f%% test accuracy; best single pixel: %.1f%%\n", 100 * nm,
                  100 * px);
    assert_true(nm > 0.95);
    assert_true(px < 0.5);
    /* Images of one class vary (shift, contrast, noise): two of class 0 differ a lot. */
    int a = -1, b = -1;
    for (int i = 0; i < train.n && b < 0; i++)
        if (train.y[i] == 0) {
            if (a < 0)
                a = i;
            else
                b = i;
        }
    long sad = 0;
    for (int j = 0; j < 784; j++)
        sad += abs(train.x[a * 784 + j] - train.x[b * 784 + j]);
    assert_true(sad / 784 > 15);
    ns_data_free(&train);
    ns_data_free(&test);
}

static void multichannel_and_small(void **state)
{
    (void)state;
    struct ns_dataset train, test;
    assert_int_equal(ns_data_synthetic_pair(&train, &test, 400, 100, 3, 8, 4, 11), 0);
    assert_true(train.c == 3 && train.h == 8 && train.w == 8 && train.classes == 4);
    assert_int_equal(test.n, 100);
    /* Channels carry different patterns. */
    long diff = 0;
    for (size_t i = 0; i < bytes(&train); i += 3)
        diff += abs(train.x[i] - train.x[i + 1]);
    assert_true(diff / (long)(bytes(&train) / 3) > 10);
    assert_true(nearest_mean_accuracy(&train, &test) > 0.9);
    ns_data_free(&train);
    ns_data_free(&test);
}

static void bad_shapes_fail_cleanly(void **state)
{
    (void)state;
    struct ns_dataset d, t;
    const int bad[][4] = {/* n, c, size, classes */
                          {0, 1, 28, 10}, {10, 0, 28, 10}, {10, 5, 28, 10},
                          {10, 1, 3, 10}, {10, 1, 28, 1},  {10, 1, 28, 257}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ns_err_clear();
        assert_int_equal(ns_data_synthetic(&d, bad[i][0], bad[i][1], bad[i][2], bad[i][3], 1), -1);
        assert_null(d.x);
        assert_non_null(strstr(ns_errmsg(), "synthetic"));
    }
    assert_int_equal(ns_data_synthetic_pair(&d, &t, 10, 0, 1, 8, 2, 1), -1);
    assert_null(d.x);
    assert_null(t.x);
}

static void kind_names(void **state)
{
    (void)state;
    assert_int_equal(ns_data_kind_from_name("fashion-mnist"), NS_DATA_FASHION_MNIST);
    assert_int_equal(ns_data_kind_from_name("cifar10"), NS_DATA_CIFAR10);
    assert_int_equal(ns_data_kind_from_name("synthetic"), NS_DATA_SYNTHETIC);
    for (int k = 0; k < 3; k++)
        assert_int_equal(ns_data_kind_from_name(ns_data_kind_name(k)), k);
    assert_int_equal(ns_data_kind_from_name("mnist"), -1);
    assert_non_null(strstr(ns_errmsg(), "mnist"));
    assert_int_equal(ns_data_kind_from_name(NULL), -1);
    assert_string_equal(ns_data_kind_name(7), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_seed_same_data_other_seed_other_data),
        cmocka_unit_test(classes_are_balanced),
        cmocka_unit_test(load_gives_documented_sets),
        cmocka_unit_test(learnable_but_not_from_one_pixel),
        cmocka_unit_test(multichannel_and_small),
        cmocka_unit_test(bad_shapes_fail_cleanly),
        cmocka_unit_test(kind_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
