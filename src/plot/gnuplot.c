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
    const char *s1 = strrchr(f->img, '/'), *s2 = strrchr(f->dat, '/');
    f->img_base = s1 ? s1 + 1 : f->img;
    f->dat_base = s2 ? s2 + 1 : f->dat;
    return 0;
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
    if (unlink(f->img) && errno != ENOENT)
        return ns_err("%s: cannot replace the old image: %s", f->img, strerror(errno));
    const char *gp_base = strrchr(f->gp, '/');
    gp_base = gp_base ? gp_base + 1 : f->gp;
    /* posix_spawnp reports a failed chdir as ENOENT too, which would read as "no gnuplot". */
    struct stat st;
    if (stat(f->dir, &st) || !S_ISDIR(st.st_mode))
        return ns_err("%s: not a folder", f->dir);

    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC))
        return ns_err("gnuplot: pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    posix_spawn_file_actions_addchdir_np(&fa, f->dir);
    char *argv[] = {"gnuplot", (char *)gp_base, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (rc) {
        close(pfd[0]);
        if (rc == ENOENT)
            return ns_err("gnuplot not found on PATH; install it (apt-get install gnuplot-nox) "
                          "and re-run, or run 'gnuplot %s' in %s later (the script and data "
                          "are written)",
                          gp_base, f->dir);
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
    if (stat(f->img, &st) || st.st_size == 0) {
        ns_err("gnuplot wrote no image %s%s%s", f->img, err ? ": " : "", err ? err : "");
        free(err);
        return -1;
    }
    if (log)
        *log = err;
    else
        free(err);
    return 0;
}
