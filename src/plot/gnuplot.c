/* The files of one figure and running gnuplot on them (see plot.h). */
#include "plot/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/err.h"

extern char **environ;

static int run_gnuplot(const struct ns_plot_files *f, const char *set_out, char **log);

/* A malloc'd copy of s with its last n characters replaced by ext. */
static char *swap_ext(const char *s, size_t n, const char *ext)
{
    size_t keep = strlen(s) - n, le = strlen(ext);
    char *r = malloc(keep + le + 1);
    if (r) {
        memcpy(r, s, keep);
        memcpy(r + keep, ext, le + 1);
    }
    return r;
}

int ns_plot_files_init(struct ns_plot_files *f, const char *out)
{
    memset(f, 0, sizeof *f);
    for (const unsigned char *p = (const unsigned char *)out; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return ns_err("--out: the name holds a control character (byte 0x%02x); use a plain "
                          "file name",
                          *p);
    size_t n = strlen(out);
    const char *dot = strrchr(out, '.');
    const char *slash = strrchr(out, '/');
    if (!dot || (slash && dot < slash) || (slash ? dot == slash + 1 : dot == out))
        return ns_err("--out %s: needs a file name ending in .png or .svg", out);
    if (!strcasecmp(dot, ".svg"))
        f->svg = 1;
    else if (strcasecmp(dot, ".png"))
        return ns_err("--out %s: unknown image type '%s'; use .png or .svg", out, dot);
    size_t next = n - (size_t)(dot - out);
    f->img = strdup(out);
    f->gp = swap_ext(out, next, ".gp");
    f->dat = swap_ext(out, next, ".dat");
    f->dir = slash ? strndup(out, slash == out ? 1 : (size_t)(slash - out)) : strdup(".");
    if (!f->img || !f->gp || !f->dat || !f->dir) {
        ns_plot_files_free(f);
        return ns_err("--out %s: out of memory", out);
    }
    const char *s1 = strrchr(f->img, '/'), *s2 = strrchr(f->dat, '/'), *s3 = strrchr(f->gp, '/');
    f->img_base = s1 ? s1 + 1 : f->img;
    f->dat_base = s2 ? s2 + 1 : f->dat;
    f->gp_base = s3 ? s3 + 1 : f->gp;
    return 0;
}

/* ---------------------------------------------------------------- safe writes ----------- */

/* A new file beside `final` (same folder, so the rename is atomic), created exclusively:
 * whatever is at `final` (a link planted in a shared folder, another user's file) is never
 * opened, and the rename replaces the name, not what a link points to. Mode 0666 less the
 * umask, like fopen's. Returns the stream with *tmp the malloc'd temporary name, or NULL
 * with ns_err. */
static FILE *create_beside(const char *final, char **tmp)
{
    *tmp = malloc(strlen(final) + 16);
    if (!*tmp)
        return ns_err("%s: out of memory", final), NULL;
    sprintf(*tmp, "%s.tmp-XXXXXX", final);
    int fd = mkostemp(*tmp, O_CLOEXEC);
    if (fd < 0) {
        ns_err("%s: cannot write: %s", final, strerror(errno));
        free(*tmp);
        *tmp = NULL;
        return NULL;
    }
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
    FILE *fp = fdopen(fd, "w");
    if (!fp) {
        ns_err("%s: cannot write: %s", final, strerror(errno));
        close(fd);
        unlink(*tmp);
        free(*tmp);
        *tmp = NULL;
    }
    return fp;
}

FILE *ns_plot_file_create(struct ns_plot_file *pf, const char *final)
{
    pf->final = final;
    pf->fp = create_beside(final, &pf->tmp);
    return pf->fp;
}

int ns_plot_file_finish(struct ns_plot_file *pf, int ok)
{
    int bad = ferror(pf->fp);
    bad |= fclose(pf->fp) != 0;
    pf->fp = NULL;
    int rc = 0;
    if (ok && bad)
        rc = ns_err("%s: write failed", pf->final);
    else if (ok && rename(pf->tmp, pf->final) != 0)
        rc = ns_err("%s: cannot write: %s", pf->final, strerror(errno));
    if (!ok || rc)
        unlink(pf->tmp);
    free(pf->tmp);
    pf->tmp = NULL;
    return ok ? rc : -1;
}

void ns_plot_files_free(struct ns_plot_files *f)
{
    free(f->img);
    free(f->gp);
    free(f->dat);
    free(f->dir);
    memset(f, 0, sizeof *f);
}

/* Read fd to EOF into a malloc'd NUL-terminated string (NULL if nothing was read). */
static char *slurp_fd(int fd)
{
    size_t len = 0, cap = 0;
    char *buf = NULL;
    for (;;) {
        if (cap - len < 1025) {
            size_t ncap = cap ? 2 * cap : 4096;
            char *nb = realloc(buf, ncap);
            if (!nb)
                break; /* keep what we have: the log is advisory */
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    if (!buf)
        return NULL;
    buf[len] = 0;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        buf[--len] = 0;
    if (!len) {
        free(buf);
        return NULL;
    }
    return buf;
}

int ns_plot_gnuplot_run(const struct ns_plot_files *f, char **log)
{
    if (log)
        *log = NULL;
    /* posix_spawnp reports a failed chdir as ENOENT too, which would read as "no gnuplot". */
    struct stat st;
    if (stat(f->dir, &st) || !S_ISDIR(st.st_mode))
        return ns_err("%s: not a folder", f->dir);
    /* gnuplot writes the image into a file made here (exclusively, beside the image), named
     * by the script's `outfile` variable; it is renamed over the image when gnuplot is done,
     * so a link at the image's name is replaced, never followed. */
    char *tmp = NULL;
    FILE *img = create_beside(f->img, &tmp);
    if (!img)
        return -1;
    fclose(img);
    const char *tmp_base = strrchr(tmp, '/') ? strrchr(tmp, '/') + 1 : tmp;
    char *set_out = malloc(2 * strlen(tmp_base) + 32), *o = set_out;
    if (!set_out) {
        unlink(tmp);
        free(tmp);
        return ns_err("out of memory");
    }
    o += sprintf(o, "outfile = './");
    for (const char *p = tmp_base; *p; p++) /* '' is a quote in a single-quoted string */
        o += sprintf(o, *p == '\'' ? "''" : "%c", *p);
    sprintf(o, "'");
    int rc = run_gnuplot(f, set_out, log);
    free(set_out);
    if (rc == 0 && (stat(tmp, &st) || st.st_size == 0))
        rc = ns_err("gnuplot wrote no image %s%s%s", f->img, log && *log ? ": " : "",
                    log && *log ? *log : "");
    if (rc == 0 && rename(tmp, f->img) != 0)
        rc = ns_err("%s: cannot write: %s", f->img, strerror(errno));
    if (rc) {
        unlink(tmp);
        if (log) {
            free(*log);
            *log = NULL;
        }
    }
    free(tmp);
    return rc;
}

/* Run `gnuplot -e SET_OUT ./NAME.gp` in f->dir ("./": a name starting with '-' is not an
 * option). 0 with *log (may be NULL) gnuplot's stderr, or -1. */
static int run_gnuplot(const struct ns_plot_files *f, const char *set_out, char **log)
{
    char *gp_arg = malloc(strlen(f->gp_base) + 3);
    if (!gp_arg)
        return ns_err("out of memory");
    sprintf(gp_arg, "./%s", f->gp_base);

    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC))
        return ns_err("gnuplot: pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    posix_spawn_file_actions_addchdir_np(&fa, f->dir);
    char *argv[] = {"gnuplot", "-e", (char *)set_out, gp_arg, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    free(gp_arg);
    if (rc) {
        close(pfd[0]);
        if (rc == ENOENT)
            return ns_err("gnuplot not found on PATH; install it (apt-get install gnuplot-nox) "
                          "and re-run, or run 'gnuplot %s' in %s later (the script and data "
                          "are written)",
                          f->gp_base, f->dir);
        if (rc == ENOTDIR || rc == EACCES)
            return ns_err("gnuplot: cannot run in %s: %s", f->dir, strerror(rc));
        return ns_err("gnuplot: cannot start: %s", strerror(rc));
    }
    char *err = slurp_fd(pfd[0]);
    close(pfd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            free(err);
            return ns_err("gnuplot: waitpid: %s", strerror(errno));
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        char how[64];
        if (WIFSIGNALED(status))
            snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(status));
        else
            snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(status));
        ns_err("gnuplot failed on %s (%s): %s", f->gp, how, err ? err : "(no message)");
        free(err);
        return -1;
    }
    if (log)
        *log = err;
    else
        free(err);
    return 0;
}
