/* Multi-fidelity scheduling (see fidelity.h): rungs, brackets, synchronous and asynchronous
 * promotion. */
#include "search/fidelity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

static const char *const kind_names[NS_FID_NKINDS] = {"random", "sha", "hyperband", "asha"};

const char *ns_fid_kind_name(int kind)
{
    return kind >= 0 && kind < NS_FID_NKINDS ? kind_names[kind] : NULL;
}

int ns_fid_kind_from_name(const char *name)
{
    for (int k = 0; k < NS_FID_NKINDS; k++)
        if (!strcmp(name, kind_names[k]))
            return k;
    return -1;
}

int ns_fid_rungs(const struct ns_fid_spec *s, int epochs[NS_FID_MAX_RUNGS])
{
    if (s->eta < 2 || s->eta > 100)
        return ns_err("search.eta: %d is out of range (2..100)", s->eta);
    if (s->min_epochs < 1)
        return ns_err("search.min_epochs: %d is out of range (>= 1)", s->min_epochs);
    if (s->max_epochs < s->min_epochs)
        return ns_err("search.max_epochs: %d is less than search.min_epochs (%d)", s->max_epochs,
                      s->min_epochs);
    /* s_max = floor(log_eta(max / min)), in integers (no floating-point log rounding) */
    int s_max = 0;
    for (long long b = (long long)s->min_epochs * s->eta; b <= s->max_epochs; b *= s->eta)
        s_max++;
    if (s_max + 1 > NS_FID_MAX_RUNGS)
        return ns_err("search: %d rungs (max_epochs / min_epochs = %d with eta %d); at most %d",
                      s_max + 1, s->max_epochs / s->min_epochs, s->eta, NS_FID_MAX_RUNGS);
    for (int k = 0; k <= s_max; k++) {
        double d = 1;
        for (int j = k; j < s_max; j++)
            d *= s->eta;
        int e = (int)floor(s->max_epochs / d + 0.5);
        epochs[k] = e < 1 ? 1 : e;
    }
    return s_max + 1;
}

int ns_fid_init(struct ns_fid *f, const struct ns_fid_spec *s, int n)
{
    memset(f, 0, sizeof *f);
    if (s->kind == NS_FID_RANDOM || s->kind < 0 || s->kind >= NS_FID_NKINDS)
        return ns_err("search.kind: '%s' has no rungs", ns_fid_kind_name(s->kind));
    f->spec = *s;
    f->n_rungs = ns_fid_rungs(s, f->epochs);
    if (f->n_rungs < 0)
        return -1;
    int s_max = f->n_rungs - 1;
    f->n_brackets = s->kind == NS_FID_HYPERBAND ? f->n_rungs : 1;
    if (n < f->n_brackets)
        return ns_err("samples: hyperband with %d brackets needs at least %d samples, not %d",
                      f->n_brackets, f->n_brackets, n);
    if (f->n_brackets == 1) {
        f->br_lo[0] = 0;
        f->br_n[0] = n;
    } else {
        /* Li et al.'s bracket sizes, scaled to n: one each, the rest in proportion */
        double want[NS_FID_MAX_RUNGS], total = 0;
        for (int b = 0; b < f->n_brackets; b++) {
            int sb = s_max - b;
            want[b] = ceil((double)(s_max + 1) / (sb + 1) * pow(s->eta, sb));
            total += want[b];
        }
        int extra = n - f->n_brackets, given = 0;
        for (int b = 0; b < f->n_brackets; b++) {
            f->br_n[b] = 1 + (int)floor(extra * want[b] / total);
            given += f->br_n[b];
        }
        f->br_n[0] += n - given;
        for (int b = 1; b < f->n_brackets; b++)
            f->br_lo[b] = f->br_lo[b - 1] + f->br_n[b - 1];
    }
    f->n = n;
    f->t = calloc((size_t)(n ? n : 1), sizeof *f->t);
    if (!f->t)
        return ns_err("out of memory for %d trials", n);
    for (int b = 0; b < f->n_brackets; b++)
        for (int i = f->br_lo[b]; i < f->br_lo[b] + f->br_n[b]; i++) {
            f->t[i].bracket = b;
            f->t[i].cleared = ns_fid_first_rung(f, i);
            f->t[i].done = -1;
            for (int k = 0; k < NS_FID_MAX_RUNGS; k++)
                f->t[i].err[k] = NAN;
        }
    return 0;
}

void ns_fid_free(struct ns_fid *f)
{
    free(f->t);
    memset(f, 0, sizeof *f);
}

int ns_fid_first_rung(const struct ns_fid *f, int i)
{
    return f->spec.kind == NS_FID_HYPERBAND ? f->t[i].bracket : 0;
}

int ns_fid_load(struct ns_fid *f, int i, int cleared, int done, const double *err, int failed)
{
    if (i < 0 || i >= f->n)
        return ns_err("trial %d is not in the schedule (%d trials)", i, f->n);
    struct ns_fid_trial *t = &f->t[i];
    int first = ns_fid_first_rung(f, i);
    if (cleared < first)
        cleared = first;
    if (cleared >= f->n_rungs || done >= f->n_rungs || done > cleared ||
        (done >= 0 && done < first))
        return ns_err("trial %d: rungs recorded (cleared for %d, finished %d) do not fit the "
                      "schedule (rungs %d..%d)",
                      i, cleared, done, first, f->n_rungs - 1);
    t->cleared = cleared;
    t->done = done;
    for (int k = first; k <= done; k++)
        t->err[k] = err ? err[k] : NAN;
    t->failed = failed;
    t->running = 0;
    f->idle = 0;
    return 0;
}

int ns_fid_record(struct ns_fid *f, int i, int rung, double err)
{
    if (i < 0 || i >= f->n || rung < 0 || rung >= f->n_rungs)
        return ns_err("rung %d of trial %d is not in the schedule", rung, i);
    struct ns_fid_trial *t = &f->t[i];
    t->running = 0;
    f->idle = 0;
    if (isnan(err)) {
        t->failed = 1;
        return 0;
    }
    if (rung > t->cleared)
        return ns_err("trial %d finished rung %d, but was cleared only for rung %d", i, rung,
                      t->cleared);
    t->err[rung] = err;
    if (rung > t->done)
        t->done = rung;
    return 0;
}

void ns_fid_fail(struct ns_fid *f, int i)
{
    if (i >= 0 && i < f->n) {
        f->t[i].failed = 1;
        f->t[i].running = 0;
        f->idle = 0;
    }
}

void ns_fid_requeue(struct ns_fid *f, int i)
{
    if (i >= 0 && i < f->n) {
        f->t[i].running = 0;
        f->idle = 0;
    }
}

int ns_fid_epochs_spent(const struct ns_fid *f, int i)
{
    int d = f->t[i].done;
    return d >= 0 ? f->epochs[d] : 0;
}

/* The trials of [lo, lo+n) that finished rung k, best first: (error, index) ascending.
 * Returns how many; *out is malloc'd by the caller (n entries). */
struct ranked {
    double err;
    int i;
};

static int cmp_ranked(const void *pa, const void *pb)
{
    const struct ranked *a = pa, *b = pb;
    if (a->err != b->err)
        return a->err < b->err ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

static int rank_rung(const struct ns_fid *f, int k, int lo, int n, struct ranked *out)
{
    int c = 0;
    for (int j = lo; j < lo + n; j++)
        if (f->t[j].done >= k && !isnan(f->t[j].err[k]))
            out[c++] = (struct ranked){f->t[j].err[k], j};
    qsort(out, (size_t)c, sizeof *out, cmp_ranked);
    return c;
}

/* Synchronous: in every bracket, every closed rung's best are cleared for the next one.
 * Idempotent (a pure function of the rung results), so it may run at every call. */
static int promote_sync(struct ns_fid *f)
{
    struct ranked *rk = malloc((size_t)(f->n ? f->n : 1) * sizeof *rk);
    if (!rk)
        return ns_err("out of memory for the schedule of %d trials", f->n);
    for (int b = 0; b < f->n_brackets; b++) {
        int lo = f->br_lo[b], n = f->br_n[b];
        for (int k = b * (f->spec.kind == NS_FID_HYPERBAND); k + 1 < f->n_rungs; k++) {
            int entered = 0, open = 0;
            for (int i = lo; i < lo + n; i++) {
                const struct ns_fid_trial *t = &f->t[i];
                if (t->cleared < k)
                    continue;
                entered++;
                if (t->done < k && !t->failed)
                    open = 1;
            }
            if (open || entered == 0)
                break; /* later rungs wait for this one */
            int m = entered / f->spec.eta;
            if (m < 1)
                m = 1;
            int c = rank_rung(f, k, lo, n, rk);
            for (int r = 0; r < m && r < c; r++)
                if (f->t[rk[r].i].cleared == k)
                    f->t[rk[r].i].cleared = k + 1;
        }
    }
    free(rk);
    return 0;
}

int ns_fid_out(struct ns_fid *f, unsigned char *out)
{
    int sync = f->spec.kind != NS_FID_ASHA;
    if (sync && promote_sync(f) < 0)
        return -1;
    for (int i = 0; i < f->n; i++) {
        const struct ns_fid_trial *t = &f->t[i];
        out[i] = t->failed || t->done == f->n_rungs - 1;
    }
    if (!sync)
        return 0;
    for (int b = 0; b < f->n_brackets; b++) {
        int lo = f->br_lo[b], n = f->br_n[b];
        for (int k = ns_fid_first_rung(f, lo); k + 1 < f->n_rungs; k++) {
            int open = 0;
            for (int i = lo; i < lo + n && !open; i++)
                open = f->t[i].cleared >= k && f->t[i].done < k && !f->t[i].failed;
            if (open)
                break; /* the later rungs are open too */
            /* closed, its promotions made: who stopped here stays here */
            for (int i = lo; i < lo + n; i++)
                if (f->t[i].done == k && f->t[i].cleared == k && !f->t[i].running)
                    out[i] = 1;
        }
    }
    return 0;
}

static int any_running(const struct ns_fid *f)
{
    for (int i = 0; i < f->n; i++)
        if (f->t[i].running)
            return 1;
    return 0;
}

/* The trial rung k of ASHA may promote now, -1 if none (-2: out of memory): the best not
 * yet promoted, if it is among the best floor(c / eta) of the c that finished the rung.
 * With at_least_one (the end of a finite study: nothing runs, no new trial is left) the
 * best of a rung may always go on, so that the study ends with a model trained on the full
 * budget. */
static int promotable(const struct ns_fid *f, int k, int at_least_one)
{
    struct ranked *rk = malloc((size_t)(f->n ? f->n : 1) * sizeof *rk);
    if (!rk)
        return -2;
    int c = rank_rung(f, k, 0, f->n, rk), m = c / f->spec.eta, best = -1;
    if (at_least_one && m < 1)
        m = 1;
    for (int r = 0; r < m && r < c && best < 0; r++) {
        const struct ns_fid_trial *t = &f->t[rk[r].i];
        if (!t->failed && !t->running && t->done == k && t->cleared == k)
            best = rk[r].i;
    }
    free(rk);
    return best;
}

/* Asynchronous: the deepest promotable trial, cleared for its next rung; -1 if none. */
static int promote_async(struct ns_fid *f, int at_least_one)
{
    for (int k = f->n_rungs - 2; k >= 0; k--) {
        int best = promotable(f, k, at_least_one);
        if (best == -2)
            return ns_err("out of memory for the schedule of %d trials", f->n), -2;
        if (best >= 0) {
            f->t[best].cleared = k + 1;
            return best;
        }
    }
    return -1;
}

static int pending(const struct ns_fid_trial *t)
{
    return !t->failed && !t->running && t->done < t->cleared;
}

int ns_fid_next(struct ns_fid *f, const double *flops, struct ns_fid_job *job)
{
    if (f->idle)
        return 0;
    int pick = -1, promoted = 0;
    if (f->spec.kind == NS_FID_ASHA) {
        /* a job given back (interrupted, lost) first: it was decided already */
        for (int i = 0; i < f->n; i++) {
            const struct ns_fid_trial *t = &f->t[i];
            if (pending(t) && t->done >= 0 && (pick < 0 || t->cleared > f->t[pick].cleared))
                pick = i;
        }
        if (pick < 0 && (pick = promote_async(f, 0)) >= 0)
            promoted = 1;
        if (pick == -2)
            return -1;
    } else if (promote_sync(f) < 0) {
        return -1;
    }
    if (pick < 0)
        for (int i = 0; i < f->n; i++) {
            const struct ns_fid_trial *t = &f->t[i];
            if (!pending(t))
                continue;
            if (pick < 0) {
                pick = i;
                continue;
            }
            const struct ns_fid_trial *p = &f->t[pick];
            if (t->cleared != p->cleared) {
                if (t->cleared > p->cleared)
                    pick = i;
            } else if (flops && flops[i] != flops[pick]) {
                if (flops[i] > flops[pick])
                    pick = i;
            }
        }
    /* ASHA's end: no new trial is left and nothing runs */
    if (pick < 0 && f->spec.kind == NS_FID_ASHA && !any_running(f) &&
        (pick = promote_async(f, 1)) >= 0)
        promoted = 1;
    if (pick == -2)
        return -1;
    if (pick < 0) {
        f->idle = 1; /* nothing until the state changes */
        return 0;
    }
    struct ns_fid_trial *t = &f->t[pick];
    int first = ns_fid_first_rung(f, pick);
    if (t->done >= 0 && t->done < first)
        return ns_err("trial %d: finished rung %d before its first (%d)", pick, t->done, first);
    int rung = t->done < first ? first : t->done + 1;
    if (rung > t->cleared)
        return ns_err("trial %d: rung %d is beyond what it was cleared for (%d)", pick, rung,
                      t->cleared);
    /* a promoted trial goes one rung at a time, so that every rung's error is recorded */
    job->trial = pick;
    job->rung = rung;
    job->from = t->done >= 0 ? f->epochs[t->done] : 0;
    job->to = f->epochs[rung];
    job->promoted = promoted || (t->done >= 0 && f->spec.kind != NS_FID_ASHA);
    t->running = 1;
    return 1;
}

int ns_fid_finished(struct ns_fid *f)
{
    if (any_running(f))
        return 0;
    if (f->idle)
        return 1; /* ns_fid_next found nothing, and nothing changed since */
    if (f->spec.kind != NS_FID_ASHA && promote_sync(f) < 0)
        return 0;
    for (int i = 0; i < f->n; i++)
        if (pending(&f->t[i]))
            return 0;
    if (f->spec.kind == NS_FID_ASHA)
        for (int k = f->n_rungs - 2; k >= 0; k--)
            if (promotable(f, k, 1) != -1)
                return 0;
    return 1;
}
