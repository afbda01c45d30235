/* A one-line progress display for long work. On a terminal the line is redrawn in place
 * (at most 10 times a second); otherwise it degrades to plain lines, printed at most every
 * `interval` seconds and whenever the caller forces one (end of an epoch), so logs stay
 * readable. Under an MPI launcher (whose ranks see a pseudo-terminal) lines are plain too;
 * the environment variable NS_PROGRESS=tty or =plain forces either. Not thread-safe: one owner thread per display. */
#ifndef NS_PROGRESS_H
#define NS_PROGRESS_H

#include <stdio.h>

struct ns_progress {
    FILE *out;
    int tty;           /* redraw in place */
    int quiet;         /* print nothing */
    double t_start;    /* ns_now() at init */
    double last_print; /* ns_now() of the last line drawn */
    double interval;   /* seconds between plain lines when not a terminal */
    int dirty;         /* a line is drawn in place and not yet ended */
};

/* out: usually stdout or stderr; quiet: draw nothing at all. */
void ns_progress_init(struct ns_progress *p, FILE *out, int quiet);
/* Show `text` (no newline). force: print even if rate-limited (and as a plain line). */
void ns_progress_show(struct ns_progress *p, int force, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* End an in-place line so normal output can follow. */
void ns_progress_end(struct ns_progress *p);
/* Estimated seconds left given a fraction done in [0, 1] (negative if unknown). */
double ns_progress_eta(const struct ns_progress *p, double frac_done);

#endif
