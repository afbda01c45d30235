#include "nn/pool.h"

#include "util/err.h"

#include <cblas.h>
#include <pthread.h>
#include <xmmintrin.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Workers spin briefly on the generation counter (a training step launches hundreds of
 * short ops back to back), then sleep on the condition variable so an idle pool costs
 * nothing. */
#define SPIN_ITERS 20000

struct ns_pool {
    int nth;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv_start;
    pthread_cond_t cv_done;
    atomic_uint generation;
    atomic_int pending; /* workers still running the current job */
    int quit;
    ns_pool_fn fn;
    void *ctx;
};

struct worker_arg {
    struct ns_pool *p;
    int ith;
};

static void *worker_main(void *argp)
{
    struct worker_arg *a = argp;
    struct ns_pool *p = a->p;
    int ith = a->ith;
    free(a);
    ns_flush_denormals();
    unsigned seen = 0;
    for (;;) {
        unsigned gen;
        int spins = 0;
        while ((gen = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
               spins < SPIN_ITERS) {
            spins++;
            __builtin_ia32_pause();
        }
        if (gen == seen) {
            pthread_mutex_lock(&p->mu);
            while ((gen = atomic_load(&p->generation)) == seen && !p->quit)
                pthread_cond_wait(&p->cv_start, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (p->quit)
            return NULL;
        seen = gen;
        p->fn(p->ctx, ith, p->nth);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

void ns_flush_denormals(void)
{
    /* FTZ | DAZ: denormals appear in small gradients and cost 100x per operation */
    _mm_setcsr(_mm_getcsr() | 0x8040);
}

struct ns_pool *ns_pool_create(int nth)
{
    /* The ops call OpenBLAS from each pool thread on their own share of the work. */
    openblas_set_num_threads(1);
    ns_flush_denormals();
    if (nth < 1 || nth > 256) {
        ns_err("threads: %d is not in 1..256", nth);
        return NULL;
    }
    struct ns_pool *p = calloc(1, sizeof *p);
    if (!p) {
        ns_err("out of memory");
        return NULL;
    }
    p->nth = nth;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_start, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    atomic_init(&p->generation, 0);
    atomic_init(&p->pending, 0);
    p->threads = calloc((size_t)nth, sizeof *p->threads);
    for (int i = 1; i < nth; i++) {
        struct worker_arg *a = malloc(sizeof *a);
        if (a) {
            a->p = p;
            a->ith = i;
        }
        if (!a || !p->threads || pthread_create(&p->threads[i], NULL, worker_main, a) != 0) {
            free(a);
            p->nth = i; /* free only the threads that started */
            ns_pool_free(p);
            ns_err("cannot start compute thread %d", i);
            return NULL;
        }
    }
    return p;
}

void ns_pool_free(struct ns_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    atomic_fetch_add(&p->generation, 1);
    pthread_cond_broadcast(&p->cv_start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->nth; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_start);
    pthread_cond_destroy(&p->cv_done);
    free(p->threads);
    free(p);
}

int ns_pool_size(const struct ns_pool *p) { return p ? p->nth : 1; }

void ns_pool_run(struct ns_pool *p, ns_pool_fn fn, void *ctx)
{
    if (!p || p->nth == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->pending, p->nth - 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv_start);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->nth);
    int spins = 0;
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0 && spins < SPIN_ITERS) {
        spins++;
        __builtin_ia32_pause();
    }
    if (atomic_load(&p->pending) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->pending) > 0)
            pthread_cond_wait(&p->cv_done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
