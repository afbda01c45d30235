/* Fashion-MNIST IDX loading: tiny IDX files written at test time (gzip and plain), every
 * kind of damage the loader must report (with the file's name, -1, nothing allocated), and
 * the real data set when Debian's dataset-fashion-mnist is installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <sys/stat.h>

#include "data/data.h"
#include "data_files.h"
#include "util/err.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

static uint8_t pixel(int img, int j)
{
    return (uint8_t)(img * 37 + j * 11 + 5);
}
static uint8_t label(int img)
{
    return (uint8_t)((img * 3 + 1) % 10);
}

/* Files of one IDX pair, built in memory so a test can damage them before writing. */
struct idx_pair {
    uint8_t images[16 + 64 * 64 * 8];
    size_t images_len;
    uint8_t labels[8 + 64];
    size_t labels_len;
};

static void build_pair(struct idx_pair *p, int n, int rows, int cols)
{
    put_be32(p->images, 0x00000803);
    put_be32(p->images + 4, (uint32_t)n);
    put_be32(p->images + 8, (uint32_t)rows);
    put_be32(p->images + 12, (uint32_t)cols);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < rows * cols; j++)
            p->images[16 + i * rows * cols + j] = pixel(i, j);
    p->images_len = 16 + (size_t)n * rows * cols;
    put_be32(p->labels, 0x00000801);
    put_be32(p->labels + 4, (uint32_t)n);
    for (int i = 0; i < n; i++)
        p->labels[8 + i] = label(i);
    p->labels_len = 8 + (size_t)n;
}

/* Write prefix-images-idx3-ubyte[.gz] and prefix-labels-idx1-ubyte[.gz]. */
static void write_pair(const char *dir, const char *prefix, const struct idx_pair *p, int gz)
{
    char name[128];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte%s", prefix, gz ? ".gz" : "");
    assert_int_equal(write_file(dir, name, p->images, p->images_len, gz), 0);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte%s", prefix, gz ? ".gz" : "");
    assert_int_equal(write_file(dir, name, p->labels, p->labels_len, gz), 0);
}

struct fx {
    char *dir;
    struct idx_pair train, test;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->dir = make_tmpdir();
    if (!f->dir) {
        free(f);
        return -1;
    }
    build_pair(&f->train, 5, 3, 4);
    build_pair(&f->test, 3, 3, 4);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    rm_tree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("message \"%s\" lacks \"%s\"", haystack, needle);
}

/* Load must fail with a message naming dir/file and containing `what`; nothing is left. */
static void expect_failure(const struct fx *f, const char *file, const char *what)
{
    struct ns_dataset train, test;
    ns_err_clear();
    assert_int_equal(ns_data_load(NS_DATA_FASHION_MNIST, f->dir, &train, &test), -1);
    print_message("%s\n", ns_errmsg());
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", f->dir, file);
    assert_contains(ns_errmsg(), path);
    assert_contains(ns_errmsg(), what);
    assert_null(train.x);
    assert_null(train.y);
    assert_null(test.x);
    assert_int_equal(train.n, 0);
}

static void check_set(const struct ns_dataset *d, int n)
{
    assert_string_equal(d->name, "fashion-mnist");
    assert_int_equal(d->n, n);
    assert_int_equal(d->h, 3);
    assert_int_equal(d->w, 4);
    assert_int_equal(d->c, 1);
    assert_int_equal(d->classes, 10);
    for (int i = 0; i < n; i++) {
        assert_int_equal(d->y[i], label(i));
        for (int j = 0; j < 12; j++)
            assert_int_equal(d->x[i * 12 + j], pixel(i, j));
    }
    assert_true(d->mean[0] == 0.0f && d->std[0] == 1.0f);
}

static void loads_gzip_files(void **state)
{
    struct fx *f = *state;
    write_pair(f->dir, "train", &f->train, 1);
    write_pair(f->dir, "t10k", &f->test, 1);
    struct ns_dataset train, test;
    assert_int_equal(ns_data_load(NS_DATA_FASHION_MNIST, f->dir, &train, &test), 0);
    check_set(&train, 5);
    check_set(&test, 3);
    ns_data_free(&train);
    ns_data_free(&test);
    assert_null(train.x);
}

static void loads_plain_files_without_gz_names(void **state)
{
    struct fx *f = *state;
    write_pair(f->dir, "train", &f->train, 0);
    write_pair(f->dir, "t10k", &f->test, 0);
    struct ns_dataset train, test;
    assert_int_equal(ns_data_load(NS_DATA_FASHION_MNIST, f->dir, &train, &test), 0);
    check_set(&train, 5);
    check_set(&test, 3);
    ns_data_free(&train);
    ns_data_free(&test);
}

static void loads_plain_bytes_under_gz_name(void **state)
{
    struct fx *f = *state;
    assert_int_equal(write_file(f->dir, "i.gz", f->train.images, f->train.images_len, 0), 0);
    assert_int_equal(write_file(f->dir, "l", f->train.labels, f->train.labels_len, 1), 0);
    char xi[4096], yi[4096];
    snprintf(xi, sizeof xi, "%s/i.gz", f->dir);
    snprintf(yi, sizeof yi, "%s/l.gz", f->dir); /* exists only without .gz */
    struct ns_dataset d;
    assert_int_equal(ns_data_load_idx(&d, xi, yi, 10), 0);
    check_set(&d, 5);
    ns_data_free(&d);
}

static void wrong_magic_names_the_file(void **state)
{
    struct fx *f = *state;
    write_pair(f->dir, "t10k", &f->test, 1);
    put_be32(f->train.images, 0x00000801); /* a label file's magic */
    write_pair(f->dir, "train", &f->train, 1);
    expect_failure(f, "train-images-idx3-ubyte.gz", "bad magic 0x00000801");

    put_be32(f->train.images, 0x00000803);
    put_be32(f->train.labels, 0x1f8b0800);
    write_pair(f->dir, "train", &f->train, 1);
    expect_failure(f, "train-labels-idx1-ubyte.gz", "bad magic 0x1f8b0800");
}

static void truncated_header(void **state)
{
    struct fx *f = *state;
    write_pair(f->dir, "t10k", &f->test, 1);
    f->train.images_len = 10;
    write_pair(f->dir, "train", &f->train, 1);
    expect_failure(f, "train-images-idx3-ubyte.gz", "truncated header: got 10 of 16 bytes");
    f->train.images_len = 2;
    write_pair(f->dir, "train", &f->train, 1);
    expect_failure(f, "train-images-idx3-ubyte.gz", "truncated header: got 2 of 16 bytes");
}

static void truncated_data_gz_and_plain(void **state)
{
    struct fx *f = *state;
    write_pair(f->dir, "train", &f->train, 1);
    f->test.images_len -= 7; /* 36 image bytes announced, 29 present */
    write_pair(f->dir, "t10k", &f->test, 1);
    expect_failure(f, "t10k-images-idx3-ubyte.gz", "truncated: got 29 of 36 image bytes");

    /* The same damage in a plain file, found under the name without .gz. */
    char gzname[4096];
    snprintf(gzname, sizeof gzname, "%s/t10k-images-idx3-ubyte.gz", f->dir);
    assert_int_equal(remove(gzname), 0);
    assert_int_equal(
        write_file(f->dir, "t10k-images-idx3-ubyte", f->test.images, f->test.images_len, 0), 0);
    expect_failure(f, "t10k-images-idx3-ubyte", "truncated: got 29 of 36 image bytes");
}

static void truncated_labels(void **state)
{
    struct fx *f = *state;
    write_pair(f->dir, "t10k", &f->test, 1);
    f->train.labels_len -= 3;
    write_pair(f->dir, "train", &f->train, 1);
    expect_failure(f, "train-labels-idx1-ubyte.gz", "truncated: got 2 of 5 label bytes");
}

static void count_mismatch(void **state)
{
    struct fx *f = *state;
    write_pair(f->dir, "t10k", &f->test, 1);
    put_be32(f->train.labels + 4, 4);
    f->train.labels_len = 8 + 4;
    write_pair(f->dir, "train", &f->train, 1);
    expect_failure(f, "train-labels-idx1-ubyte.gz", "4 labels");
    assert_contains(ns_errmsg(), "holds 5 images");
}

static void trailing_bytes(void **state)
{
    struct fx *f = *state;
    write_pair(f->dir, "t10k", &f->test, 1);
    put_be32(f->train.images + 4, 4); /* header understates the file by one image */
    put_be32(f->train.labels + 4, 4);
    f->train.labels_len = 8 + 4;
    write_pair(f->dir, "train", &f->train, 1);
    expect_failure(f, "train-images-idx3-ubyte.gz", "trailing data");
}

static void label_out_of_range(void **state)
{
    struct fx *f = *state;
    write_pair(f->dir, "train", &f->train, 1);
    f->test.labels[8 + 2] = 10;
    write_pair(f->dir, "t10k", &f->test, 1);
    expect_failure(f, "t10k-labels-idx1-ubyte.gz", "label 10 of image 2 is not < 10 classes");

    /* The class count is the caller's: the same file passes with 11 classes. */
    char xi[4096], yi[4096];
    snprintf(xi, sizeof xi, "%s/t10k-images-idx3-ubyte.gz", f->dir);
    snprintf(yi, sizeof yi, "%s/t10k-labels-idx1-ubyte.gz", f->dir);
    struct ns_dataset d;
    assert_int_equal(ns_data_load_idx(&d, xi, yi, 11), 0);
    assert_int_equal(d.y[2], 10);
    ns_data_free(&d);
}

static void bad_dimensions(void **state)
{
    struct fx *f = *state;
    write_pair(f->dir, "t10k", &f->test, 1);
    put_be32(f->train.images + 8, 0);
    write_pair(f->dir, "train", &f->train, 1);
    expect_failure(f, "train-images-idx3-ubyte.gz", "bad dimensions 5 x 0 x 4");

    /* An absurd count must fail as truncated, not try to allocate what it claims. */
    put_be32(f->train.images + 4, 0x7fffffff);
    put_be32(f->train.images + 8, 60000);
    write_pair(f->dir, "train", &f->train, 1);
    expect_failure(f, "train-images-idx3-ubyte.gz", "truncated: got 60 of");
}

static void train_and_test_shapes_must_agree(void **state)
{
    struct fx *f = *state;
    write_pair(f->dir, "train", &f->train, 1);
    build_pair(&f->test, 3, 4, 4);
    write_pair(f->dir, "t10k", &f->test, 1);
    expect_failure(f, "t10k-images-idx3-ubyte.gz", "images are 4x4");
}

static void missing_file_gives_hint(void **state)
{
    struct fx *f = *state;
    expect_failure(f, "train-images-idx3-ubyte.gz", "No such file");
    assert_contains(ns_errmsg(), "apt-get install dataset-fashion-mnist");
    assert_contains(ns_errmsg(), "--data-dir");

    write_pair(f->dir, "train", &f->train, 1);
    write_pair(f->dir, "t10k", &f->test, 1);
    char path[4096];
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", f->dir);
    assert_int_equal(remove(path), 0);
    expect_failure(f, "t10k-labels-idx1-ubyte.gz", "apt-get install dataset-fashion-mnist");
}

static void corrupt_gzip_stream(void **state)
{
    struct fx *f = *state;
    write_pair(f->dir, "t10k", &f->test, 1);
    write_pair(f->dir, "train", &f->train, 1);
    /* Damage the compressed bytes (past the 10-byte gzip header) of the labels file. */
    char path[4096];
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", f->dir);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    uint8_t buf[256];
    size_t len = fread(buf, 1, sizeof buf, fp);
    assert_true(len > 20);
    for (size_t i = 10; i < len - 8; i++)
        buf[i] ^= 0xa5;
    rewind(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    fclose(fp);
    expect_failure(f, "train-labels-idx1-ubyte.gz", "");
}

static void cut_gzip_download(void **state)
{
    struct fx *f = *state;
    write_pair(f->dir, "t10k", &f->test, 1);
    /* Incompressible pixels, so that cutting the .gz in half loses about half the data. */
    build_pair(&f->train, 10, 16, 16);
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 5, 5);
    for (int j = 0; j < 2560; j++)
        f->train.images[16 + j] = (uint8_t)ns_pcg32_next(&rng);
    write_pair(f->dir, "train", &f->train, 1);
    char path[4096];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", f->dir);
    assert_int_equal(truncate(path, 1200), 0);
    expect_failure(f, "train-images-idx3-ubyte.gz", "truncated: got ");
    assert_contains(ns_errmsg(), " of 2560 image bytes");
}

static void folder_instead_of_file(void **state)
{
    struct fx *f = *state;
    write_pair(f->dir, "t10k", &f->test, 1);
    char path[4096];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    expect_failure(f, "train-images-idx3-ubyte.gz", "");
}

static void real_fashion_mnist(void **state)
{
    (void)state;
    struct stat st;
    if (stat(FASHION_DIR "/train-images-idx3-ubyte.gz", &st) != 0)
        skip();
    struct ns_dataset train, test;
    if (ns_data_load(NS_DATA_FASHION_MNIST, NULL, &train, &test) != 0)
        fail_msg("%s", ns_errmsg());
    assert_int_equal(train.n, 60000);
    assert_int_equal(test.n, 10000);
    assert_true(train.h == 28 && train.w == 28 && train.c == 1 && train.classes == 10);
    assert_true(test.h == 28 && test.w == 28 && test.c == 1);
    /* Fashion-MNIST is balanced: 6000 and 1000 images of each class. */
    int htrain[10] = {0}, htest[10] = {0};
    for (int i = 0; i < train.n; i++)
        htrain[train.y[i]]++;
    for (int i = 0; i < test.n; i++)
        htest[test.y[i]]++;
    for (int k = 0; k < 10; k++) {
        assert_int_equal(htrain[k], 6000);
        assert_int_equal(htest[k], 1000);
    }
    /* Its well-known statistics: mean 0.2860, std 0.3530 on the [0, 1] scale. */
    ns_data_normalize(&train, &test);
    assert_true(fabsf(train.mean[0] - 0.2860f) < 5e-4f);
    assert_true(fabsf(train.std[0] - 0.3530f) < 5e-4f);
    assert_true(test.mean[0] == train.mean[0]);
    ns_data_free(&train);
    ns_data_free(&test);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(loads_gzip_files, setup, teardown),
        cmocka_unit_test_setup_teardown(loads_plain_files_without_gz_names, setup, teardown),
        cmocka_unit_test_setup_teardown(loads_plain_bytes_under_gz_name, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_magic_names_the_file, setup, teardown),
        cmocka_unit_test_setup_teardown(truncated_header, setup, teardown),
        cmocka_unit_test_setup_teardown(truncated_data_gz_and_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(truncated_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(count_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(trailing_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(label_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_dimensions, setup, teardown),
        cmocka_unit_test_setup_teardown(train_and_test_shapes_must_agree, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_file_gives_hint, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_gzip_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(cut_gzip_download, setup, teardown),
        cmocka_unit_test_setup_teardown(folder_instead_of_file, setup, teardown),
        cmocka_unit_test(real_fashion_mnist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
