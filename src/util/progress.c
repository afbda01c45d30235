#include "util/progress.h"

#include "util/timer.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Redraw in place only on a real terminal. Open MPI hands its ranks a pseudo-terminal even
 * when mpirun's own output goes to a file, so under a launcher plain lines are the default.
 * NS_PROGRESS=tty|plain overrides both guesses. */
static int want_tty(FILE *out)
{
    const char *mode = getenv("NS_PROGRESS");
    if (mode && !strcmp(mode, "tty"))
        return 1;
    if (mode && !strcmp(mode, "plain"))
        return 0;
    if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK"))
        return 0;
    return isatty(fileno(out));
}

void ns_progress_init(struct ns_progress *p, FILE *out, int quiet)
{
    p->out = out;
    p->tty = want_tty(out);
    p->quiet = quiet;
    p->t_start = ns_now();
    p->last_print = 0;
    p->interval = 10.0;
    p->dirty = 0;
}

void ns_progress_show(struct ns_progress *p, int force, const char *fmt, ...)
{
    if (p->quiet)
        return;
    double now = ns_now();
    double gap = p->tty ? 0.1 : p->interval;
    if (!force && now - p->last_print < gap)
        return;
    p->last_print = now;
    va_list ap;
    va_start(ap, fmt);
    if (p->tty) {
        fputs("\r\033[K", p->out); /* carriage return, clear to end of line */
        vfprintf(p->out, fmt, ap);
        p->dirty = 1;
        if (force) {
            fputc('\n', p->out);
            p->dirty = 0;
        }
    } else {
        vfprintf(p->out, fmt, ap);
        fputc('\n', p->out);
    }
    va_end(ap);
    fflush(p->out);
}

void ns_progress_end(struct ns_progress *p)
{
    if (p->dirty && !p->quiet) {
        fputc('\n', p->out);
        fflush(p->out);
    }
    p->dirty = 0;
}

double ns_progress_eta(const struct ns_progress *p, double frac)
{
    if (frac <= 0 || frac > 1)
        return -1;
    double el = ns_now() - p->t_start;
    return el * (1 - frac) / frac;
}
