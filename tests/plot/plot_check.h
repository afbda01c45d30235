/* Helpers shared by the plot tests that run on db fixtures (test_analysis.c, test_plotdb.c,
 * test_scaling.c): a scratch folder for the fixtures and the figures, a request for a figure
 * in it, reading a file back, and assertions that show the text they searched when they
 * fail. Header-only because every tests/plot/test_*.c is its own program; include it after
 * cmocka.h. */
#ifndef NS_TEST_PLOT_CHECK_H
#define NS_TEST_PLOT_CHECK_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "plot/plot.h"
#include "util/err.h"

/* The scratch folder of the running test program (scratch_make). */
static char scratch[64];

/* A fresh folder /tmp/PREFIX_XXXXXX into `scratch`; 0 or -1. */
static inline int scratch_make(const char *prefix)
{
    snprintf(scratch, sizeof scratch, "/tmp/%s_XXXXXX", prefix);
    return mkdtemp(scratch) ? 0 : -1;
}

static inline int scratch_rm_entry(const char *path, const struct stat *sb, int flag,
                                   struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* The scratch folder and everything in it, gone. */
static inline void scratch_remove(void)
{
    nftw(scratch, scratch_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* A cmocka group teardown that removes the scratch folder. */
static inline int scratch_teardown(void **state)
{
    (void)state;
    scratch_remove();
    return 0;
}

/* SCRATCH/NAME, in one of 8 rotating buffers (so a call may hold a few at once). */
static inline char *out_path(const char *name)
{
    static char ring[8][192];
    static int next;
    char *p = ring[next++ % 8];
    snprintf(p, sizeof ring[0], "%s/%s", scratch, name);
    return p;
}

/* A file's whole text (malloc'd); fails the test when it cannot be read. */
static inline char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("%s: cannot read", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static inline void assert_err_contains(const char *needle)
{
    if (!strstr(ns_errmsg(), needle))
        fail_msg("error '%s' lacks '%s'", ns_errmsg(), needle);
}

static inline void assert_has(const char *text, const char *needle, const char *what)
{
    if (!text || !strstr(text, needle))
        fail_msg("%s lacks '%s':\n%s", what, needle, text ? text : "(nothing)");
}

/* No NaN or inf reached a data file or page (case-insensitive, outside '#' comments). */
static inline void assert_no_nan(const char *text, const char *what)
{
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (line[0] != '#')
            for (size_t i = 0; i + 3 <= len; i++)
                if ((strncasecmp(line + i, "nan", 3) == 0 &&
                     (i == 0 || !((line[i - 1] | 32) >= 'a' && (line[i - 1] | 32) <= 'z')) &&
                     (i + 3 == len || !((line[i + 3] | 32) >= 'a' && (line[i + 3] | 32) <= 'z'))) ||
                    strncasecmp(line + i, "inf", 3) == 0)
                    fail_msg("%s: a NaN or inf in '%.*s'", what, (int)len, line);
        line = end ? end + 1 : NULL;
    }
}

/* A figure of studies[0..n) of db at out_path(out), with `netspace plot`'s settings (10
 * bins, automatic log x) and 200 bootstrap resamples. */
static inline struct ns_plot_req plot_req(const char *db, const char *out,
                                          const char *const *studies, int n)
{
    struct ns_plot_req r = {.db = db,
                            .out = out_path(out),
                            .studies = studies,
                            .n_studies = n,
                            .bins = 10,
                            .resamples = 200,
                            .logx = -1};
    return r;
}

#endif
