/* The order trials are handed out in: largest first. With dynamic scheduling the study ends
 * when its last trial does; starting the long ones early leaves only short ones to balance
 * the workers at the end (longest-processing-time-first, within 4/3 of the best makespan). */
#include "search/search.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* qsort has no context argument in C11; the comparison reads the flops through this. */
static _Thread_local const double *sort_flops;

static int by_flops_desc(const void *pa, const void *pb)
{
    int a = *(const int *)pa, b = *(const int *)pb;
    double fa = sort_flops[a], fb = sort_flops[b];
    if (fa != fb)
        return fa > fb ? -1 : 1;
    return (a > b) - (a < b);
}

int ns_sched_init(struct ns_sched *s, const int *idx, int n, const double *flops)
{
    memset(s, 0, sizeof *s);
    if (n <= 0)
        return 0;
    s->order = malloc((size_t)n * sizeof *s->order);
    if (!s->order)
        return ns_err("scheduler: out of memory for %d trials", n);
    memcpy(s->order, idx, (size_t)n * sizeof *idx);
    sort_flops = flops;
    qsort(s->order, (size_t)n, sizeof *s->order, by_flops_desc);
    sort_flops = NULL;
    s->n = n;
    return 0;
}

int ns_sched_next(struct ns_sched *s)
{
    return s->next < s->n ? s->order[s->next++] : -1;
}

/* The slot before `next` held a trial already handed out; reusing it keeps the queue within
 * its allocation however often trials come back. */
int ns_sched_requeue(struct ns_sched *s, int t)
{
    if (s->next <= 0)
        return ns_err("scheduler: trial %d put back, but nothing was handed out", t);
    s->order[--s->next] = t;
    return 0;
}

void ns_sched_free(struct ns_sched *s)
{
    free(s->order);
    memset(s, 0, sizeof *s);
}
