/* The image-folder loader (src/data/folder.c) on small trees made here with libpng: labels
 * and pixels, order, the cache's reuse and rebuild, skipped files, strict mode and the
 * errors. (tests/data/test_folder.sh covers the same against Fashion-MNIST and training.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <png.h>

#include "data/data.h"
#include "util/err.h"

static char root[256];

static void path_of(char *out, size_t n, const char *rel)
{
    snprintf(out, n, "%s/%s", root, rel);
}

static void mkdirs(const char *rel)
{
    char p[512], cmd[600];
    path_of(p, sizeof p, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", p);
    assert_int_equal(system(cmd), 0);
}

/* A w x w gray PNG whose every pixel is v. */
static void write_png(const char *rel, int w, uint8_t v)
{
    uint8_t px[64 * 64];
    memset(px, v, sizeof px);
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = pi.height = (png_uint_32)w;
    pi.format = PNG_FORMAT_GRAY;
    char p[512];
    path_of(p, sizeof p, rel);
    assert_true(png_image_write_to_file(&pi, p, 0, px, 0, NULL));
}

static void write_text(const char *rel, const char *text)
{
    char p[512];
    path_of(p, sizeof p, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int n_logged;
static void count_log(void *ctx, const char *msg)
{
    (void)ctx;
    (void)msg;
    n_logged++;
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/ns_folder_XXXXXX");
    assert_non_null(mkdtemp(root));
    mkdirs("train/b_dog");
    mkdirs("train/a_cat");
    mkdirs("test/a_cat");
    write_png("train/b_dog/2.png", 20, 200);
    write_png("train/b_dog/1.png", 10, 150);
    write_png("train/a_cat/x.png", 8, 10);
    write_png("test/a_cat/y.png", 16, 60);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd);
}

static int load(struct ns_dataset *tr, struct ns_dataset *te, struct ns_folder_info *fi, int strict)
{
    struct ns_folder_opts o = {
        .dir = root, .size = 8, .channels = 1, .strict = strict, .threads = 2, .log = count_log};
    n_logged = 0;
    return ns_data_load_folder(&o, tr, te, fi);
}

static void labels_pixels_and_order(void **state)
{
    (void)state;
    struct ns_dataset tr, te;
    struct ns_folder_info fi;
    assert_int_equal(load(&tr, &te, &fi, 0), 0);
    assert_int_equal(fi.classes, 2);
    assert_int_equal(fi.built, 1);
    assert_string_equal(fi.eval_dir, "test");
    assert_int_equal(tr.n, 3);
    assert_int_equal(te.n, 1);
    assert_non_null(tr.map);
    /* a_cat < b_dog; in b_dog, 1.png < 2.png */
    uint8_t want_y[3] = {0, 1, 1}, want_v[3] = {10, 150, 200};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tr.y[i], want_y[i]);
        for (int k = 0; k < 64; k++)
            assert_int_equal(tr.x[i * 64 + k], want_v[i]);
    }
    assert_int_equal(te.y[0], 0);
    assert_int_equal(te.x[5], 60);
    uint64_t fp = 0;
    assert_int_equal(ns_data_folder_fingerprint(root, 8, 1, &fp), 0);
    assert_true(fp == fi.fingerprint);
    assert_int_equal(ns_data_folder_fingerprint(root, 9, 1, &fp), 0);
    assert_true(fp != fi.fingerprint);
    ns_data_free(&tr);
    ns_data_free(&te);
    /* again: the cache is mapped, not rebuilt */
    assert_int_equal(load(&tr, &te, &fi, 0), 0);
    assert_int_equal(fi.built, 0);
    assert_int_equal(tr.x[64], 150);
    /* a split of a mapped set makes a private copy */
    struct ns_dataset va;
    assert_int_equal(ns_data_split(&tr, &va, 0.34, 1), 0);
    assert_null(tr.map);
    assert_int_equal(tr.n + va.n, 3);
    ns_data_free(&va);
    ns_data_free(&tr);
    ns_data_free(&te);
}

static void changes_rebuild_and_bad_files_are_skipped(void **state)
{
    (void)state;
    struct ns_dataset tr, te;
    struct ns_folder_info fi;
    assert_int_equal(load(&tr, &te, &fi, 0), 0);
    ns_data_free(&tr);
    ns_data_free(&te);
    write_text("train/a_cat/broken.png", "\x89PNG\r\n\x1a\n garbage");
    write_text("train/b_dog/notes.txt", "not an image");
    assert_int_equal(load(&tr, &te, &fi, 0), 0);
    assert_int_equal(fi.built, 1);
    assert_int_equal(fi.skipped, 2);
    assert_int_equal(n_logged, 2);
    assert_int_equal(tr.n, 3);
    ns_data_free(&tr);
    ns_data_free(&te);
    assert_int_equal(load(&tr, &te, &fi, 1), -1); /* the same cache, strict */
    assert_non_null(strstr(ns_errmsg(), "broken.png"));
    assert_null(tr.x);
    char p[512];
    path_of(p, sizeof p, "train/a_cat/broken.png");
    unlink(p);
    path_of(p, sizeof p, "train/b_dog/notes.txt");
    unlink(p);
    assert_int_equal(load(&tr, &te, &fi, 1), 0);
    assert_int_equal(fi.skipped, 0);
    ns_data_free(&tr);
    ns_data_free(&te);
}

static void errors_name_the_path(void **state)
{
    (void)state;
    struct ns_dataset tr, te;
    mkdirs("train/c_empty");
    assert_int_equal(load(&tr, &te, NULL, 0), -1);
    assert_non_null(strstr(ns_errmsg(), "train/c_empty: empty class folder"));
    char p[512];
    path_of(p, sizeof p, "train/c_empty");
    rmdir(p);
    mkdirs("test/zebra");
    write_png("test/zebra/z.png", 8, 1);
    assert_int_equal(load(&tr, &te, NULL, 0), -1);
    assert_non_null(strstr(ns_errmsg(), "test/zebra: class folder not in"));
    char cmd[600];
    path_of(p, sizeof p, "test/zebra");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
    assert_int_equal(system(cmd), 0);
    int classes = 0;
    assert_int_equal(ns_data_folder_classes(root, &classes), 0);
    assert_int_equal(classes, 2);
    assert_int_equal(ns_data_folder_classes("/nonexistent/x", &classes), -1);
    assert_non_null(strstr(ns_errmsg(), "/nonexistent/x"));
    struct ns_folder_opts o = {.dir = root, .size = 4};
    assert_int_equal(ns_data_load_folder(&o, &tr, &te, NULL), -1);
    assert_non_null(strstr(ns_errmsg(), "size 4"));
    o.size = 8;
    o.channels = 2;
    assert_int_equal(ns_data_load_folder(&o, &tr, &te, NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(labels_pixels_and_order, setup, teardown),
        cmocka_unit_test_setup_teardown(changes_rebuild_and_bad_files_are_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(errors_name_the_path, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
