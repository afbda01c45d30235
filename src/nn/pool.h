/* A fixed team of compute threads for the convnet core. An op splits its own work by
 * (ith, nth) like ggml's compute_forward_* functions, so the pool only has to start all
 * threads on one function and wait for them: the caller's thread is thread 0.
 * Work splits are static (fixed ranges per ith), which is what makes results depend only on
 * the thread count, never on timing. Not reentrant: one ns_pool_run at a time. */
#ifndef NS_POOL_H
#define NS_POOL_H

struct ns_pool;

typedef void (*ns_pool_fn)(void *ctx, int ith, int nth);

/* Start nth-1 worker threads (nth >= 1). NULL with ns_err on failure. */
struct ns_pool *ns_pool_create(int nth);
void ns_pool_free(struct ns_pool *p);
int ns_pool_size(const struct ns_pool *p);
/* Run fn(ctx, ith, nth) on every thread, ith = 0..nth-1, and return when all are done.
 * p may be NULL: then fn(ctx, 0, 1) runs on the caller. */
void ns_pool_run(struct ns_pool *p, ns_pool_fn fn, void *ctx);

/* Set flush-to-zero and denormals-are-zero on the calling thread (pool threads do it
 * themselves). */
void ns_flush_denormals(void);

/* The [lo, hi) share of thread ith among nth of n items (contiguous, balanced). */
static inline void ns_split(int n, int ith, int nth, int *lo, int *hi)
{
    long long a = (long long)n * ith / nth, b = (long long)n * (ith + 1) / nth;
    *lo = (int)a;
    *hi = (int)b;
}

#endif
