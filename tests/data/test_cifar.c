/* CIFAR-10 binary batches: records written at test time, the planar-to-NHWC conversion,
 * concatenation of the five training files, and every damage the loader must report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "data/data.h"
#include "data_files.h"
#include "util/err.h"

#define REC 3073

/* Record r of file f: label and a pixel value that encodes (file, record, channel, y, x). */
static uint8_t rec_label(int f, int r)
{
    return (uint8_t)((f * 7 + r * 3) % 10);
}
static uint8_t rec_pixel(int f, int r, int ch, int y, int x)
{
    return (uint8_t)(f * 101 + r * 31 + ch * 85 + y * 7 + x * 3);
}

static void build_records(uint8_t *buf, int file, int n)
{
    for (int r = 0; r < n; r++) {
        uint8_t *rec = buf + (size_t)r * REC;
        rec[0] = rec_label(file, r);
        for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    rec[1 + ch * 1024 + y * 32 + x] = rec_pixel(file, r, ch, y, x);
    }
}

static const char *file_name(int i)
{
    static const char *const names[6] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                         "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};
    return names[i];
}

/* Files 0-4 hold 2, 3, 1, 2, 2 records; the test file 4. */
static const int counts[6] = {2, 3, 1, 2, 2, 4};

static void write_all(const char *dir, int gz_test)
{
    uint8_t buf[4 * REC];
    for (int i = 0; i < 6; i++) {
        build_records(buf, i, counts[i]);
        assert_int_equal(
            write_file(dir, file_name(i), buf, (size_t)counts[i] * REC, i == 5 && gz_test), 0);
    }
}

static int setup(void **state)
{
    char *dir = make_tmpdir();
    *state = dir;
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    rm_tree(*state);
    free(*state);
    return 0;
}

static void expect_failure(const char *dir, const char *file, const char *what)
{
    struct ns_dataset train, test;
    ns_err_clear();
    assert_int_equal(ns_data_load(NS_DATA_CIFAR10, dir, &train, &test), -1);
    print_message("%s\n", ns_errmsg());
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (!strstr(ns_errmsg(), path) || !strstr(ns_errmsg(), what))
        fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", ns_errmsg(), path, what);
    assert_null(train.x);
    assert_null(test.x);
}

static void loads_and_converts_to_nhwc(void **state)
{
    const char *dir = *state;
    write_all(dir, 1); /* test_batch.bin gzip-compressed: accepted too */
    struct ns_dataset train, test;
    if (ns_data_load(NS_DATA_CIFAR10, dir, &train, &test) != 0)
        fail_msg("%s", ns_errmsg());
    assert_string_equal(train.name, "cifar10");
    assert_int_equal(train.n, 10);
    assert_int_equal(test.n, 4);
    assert_true(train.h == 32 && train.w == 32 && train.c == 3 && train.classes == 10);
    /* Training images are the five files in order. */
    int i = 0;
    for (int f = 0; f < 5; f++)
        for (int r = 0; r < counts[f]; r++, i++) {
            assert_int_equal(train.y[i], rec_label(f, r));
            for (int y = 0; y < 32; y += 5)
                for (int x = 0; x < 32; x += 3)
                    for (int ch = 0; ch < 3; ch++)
                        assert_int_equal(train.x[(((size_t)i * 32 + y) * 32 + x) * 3 + ch],
                                         rec_pixel(f, r, ch, y, x));
        }
    for (int r = 0; r < 4; r++) {
        assert_int_equal(test.y[r], rec_label(5, r));
        assert_int_equal(test.x[(((size_t)r * 32 + 31) * 32 + 30) * 3 + 2],
                         rec_pixel(5, r, 2, 31, 30));
    }
    ns_data_free(&train);
    ns_data_free(&test);
}

static void partial_record(void **state)
{
    const char *dir = *state;
    write_all(dir, 0);
    uint8_t buf[3 * REC];
    build_records(buf, 2, 2);
    assert_int_equal(write_file(dir, "data_batch_3.bin", buf, REC + 1000, 0), 0);
    expect_failure(dir, "data_batch_3.bin", "truncated: record 1 has 1000 of 3073 bytes");
}

static void label_out_of_range(void **state)
{
    const char *dir = *state;
    write_all(dir, 0);
    uint8_t buf[4 * REC];
    build_records(buf, 5, 4);
    buf[3 * REC] = 10;
    assert_int_equal(write_file(dir, "test_batch.bin", buf, 4 * REC, 1), 0);
    expect_failure(dir, "test_batch.bin", "label 10 of record 3 is not < 10 classes");
}

static void empty_file(void **state)
{
    const char *dir = *state;
    write_all(dir, 0);
    assert_int_equal(write_file(dir, "data_batch_5.bin", "", 0, 0), 0);
    expect_failure(dir, "data_batch_5.bin", "empty");
}

static void missing_file(void **state)
{
    const char *dir = *state;
    expect_failure(dir, "data_batch_1.bin", "No such file");
    assert_non_null(strstr(ns_errmsg(), "--data-dir"));
    write_all(dir, 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    assert_int_equal(remove(path), 0);
    expect_failure(dir, "test_batch.bin", "cifar-10-binary.tar.gz");
}

static void default_dir_is_reported(void **state)
{
    (void)state;
    assert_string_equal(ns_data_default_dir(NS_DATA_CIFAR10), "./data/cifar-10-batches-bin");
    struct ns_dataset train, test;
    if (ns_data_load(NS_DATA_CIFAR10, NULL, &train, &test) == 0) {
        ns_data_free(&train); /* someone has CIFAR-10 in ./data: fine */
        ns_data_free(&test);
        skip();
    }
    assert_non_null(strstr(ns_errmsg(), "./data/cifar-10-batches-bin/data_batch_1.bin"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(loads_and_converts_to_nhwc, setup, teardown),
        cmocka_unit_test_setup_teardown(partial_record, setup, teardown),
        cmocka_unit_test_setup_teardown(label_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_file, setup, teardown),
        cmocka_unit_test(default_dir_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
