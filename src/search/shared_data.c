/* One copy of the dataset per node: the node's lowest worker rank loads it into an MPI-3
 * shared-memory window, the node's other workers map it (see shared_data.h). */
#include "search/shared_data.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search/transport.h"
#include "util/err.h"

/* The tag of MPI_Comm_create_group: any value, only this call uses it. */
#define WORKERS_TAG 0x5da7a
/* Each array in the window starts on a cache line. */
#define ALIGN 64

/* What the node leader tells the node's other workers: the outcome of its load, and the
 * datasets' shapes and normalization (their pointers are meaningless on the other side). */
struct header {
    int rc;          /* 0, or -1 when the load failed (msg says why) */
    int leader_rank; /* in MPI_COMM_WORLD */
    int skipped;     /* the leader's ns_exp_data.skipped, for every worker's READY */
    char host[64];
    struct ns_dataset train, eval;
    char msg[1024];
};

static size_t aligned(size_t n)
{
    return (n + ALIGN - 1) / ALIGN * ALIGN;
}

static size_t image_bytes(const struct ns_dataset *d)
{
    return (size_t)d->n * d->h * d->w * d->c;
}

/* Bytes of one set in the window: its images, then its labels. */
static size_t set_bytes(const struct ns_dataset *d)
{
    return aligned(image_bytes(d)) + aligned((size_t)d->n);
}

/* Copy d's images and labels to `at` (leader) or just point d into it (others). Returns
 * the bytes it takes. */
static size_t place(struct ns_dataset *d, unsigned char *at, int copy)
{
    size_t xb = image_bytes(d);
    if (copy) {
        memcpy(at, d->x, xb);
        memcpy(at + aligned(xb), d->y, (size_t)d->n);
    }
    d->x = at;
    d->y = at + aligned(xb);
    return set_bytes(d);
}

/* The workers of this node, as a communicator over MPI_COMM_WORLD's ranks other than the
 * coordinator (MPI_Comm_create_group is collective over those ranks only, so rank 0 need
 * not take part). MPI_COMM_NULL with ns_err on failure. */
static MPI_Comm node_workers(void)
{
    MPI_Group world, workers;
    MPI_Comm all = MPI_COMM_NULL, node = MPI_COMM_NULL;
    const int coord = NS_COORD;
    MPI_Comm_group(MPI_COMM_WORLD, &world);
    int rc = MPI_Group_excl(world, 1, &coord, &workers);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_create_group(MPI_COMM_WORLD, workers, WORKERS_TAG, &all);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_split_type(all, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    if (rc != MPI_SUCCESS)
        ns_err("cannot group the workers by node (MPI error %d)", rc);
    if (all != MPI_COMM_NULL)
        MPI_Comm_free(&all);
    MPI_Group_free(&world);
    if (workers != MPI_GROUP_NULL)
        MPI_Group_free(&workers);
    return node;
}

int ns_shared_data_load(struct ns_exp_data *d, struct ns_shared_data *sh,
                        struct ns_dataset *train, struct ns_dataset *eval)
{
    memset(sh, 0, sizeof *sh);
    sh->win = MPI_WIN_NULL;
    memset(train, 0, sizeof *train);
    memset(eval, 0, sizeof *eval);
    int mpi = 0;
    MPI_Initialized(&mpi);
    if (!mpi) /* a worker driven without MPI (the unit tests' in-memory transport) */
        return ns_exp_data_load(d, train, eval);
    MPI_Comm node = node_workers();
    if (node == MPI_COMM_NULL)
        return -1;
    int me;
    MPI_Comm_rank(node, &me);
    MPI_Comm_size(node, &sh->node_size);
    if (sh->node_size == 1) { /* alone on the node: nothing to share */
        MPI_Comm_free(&node);
        return ns_exp_data_load(d, train, eval);
    }

    struct header *h = calloc(1, sizeof *h);
    if (!h) {
        MPI_Comm_free(&node);
        return ns_err("out of memory");
    }
    if (me == 0) {
        MPI_Comm_rank(MPI_COMM_WORLD, &h->leader_rank);
        ns_search_host(h->host, sizeof h->host);
        h->rc = ns_exp_data_load(d, train, eval);
        if (h->rc < 0)
            snprintf(h->msg, sizeof h->msg, "%s", ns_errmsg());
        h->train = *train;
        h->eval = *eval;
        h->skipped = d->skipped;
    }
    /* Every worker of the node learns the outcome, so they all fail or all go on together
     * and the collectives below are entered by all or none. */
    int rc = MPI_Bcast(h, (int)sizeof *h, MPI_BYTE, 0, node);
    d->skipped = h->skipped;
    if (rc != MPI_SUCCESS || h->rc < 0) {
        if (rc != MPI_SUCCESS)
            ns_err("broadcast of the dataset's shape failed (MPI error %d)", rc);
        else if (me != 0)
            ns_err("%s (rank %d, which loads the data for %s)", h->msg, h->leader_rank, h->host);
        ns_data_free(train);
        ns_data_free(eval);
        MPI_Comm_free(&node);
        free(h);
        return -1;
    }

    MPI_Aint bytes = me == 0 ? (MPI_Aint)(set_bytes(&h->train) + set_bytes(&h->eval)) : 0;
    unsigned char *mine = NULL, *base = NULL;
    MPI_Aint got = 0;
    int disp = 0;
    rc = MPI_Win_allocate_shared(bytes, 1, MPI_INFO_NULL, node, &mine, &sh->win);
    if (rc == MPI_SUCCESS)
        rc = MPI_Win_shared_query(sh->win, 0, &got, &disp, &base);
    if (rc != MPI_SUCCESS) {
        MPI_Comm_free(&node);
        /* all workers of the node see the same failure: the window is collective */
        ns_data_free(train);
        ns_data_free(eval);
        if (sh->win != MPI_WIN_NULL)
            MPI_Win_free(&sh->win);
        free(h);
        return ns_err("cannot allocate the node's shared dataset of %ld bytes (MPI error %d)",
                      (long)bytes, rc);
    }

    /* The leader fills the window, then everyone synchronizes memory and waits for it
     * (the pattern MPI-3 prescribes for load/store access to a shared window). */
    MPI_Win_lock_all(MPI_MODE_NOCHECK, sh->win);
    struct ns_dataset sets[2] = {h->train, h->eval};
    size_t off = 0;
    for (int i = 0; i < 2; i++)
        off += place(&sets[i], base + off, me == 0);
    if (me == 0) {
        ns_data_free(train);
        ns_data_free(eval);
    }
    MPI_Win_sync(sh->win);
    MPI_Barrier(node);
    MPI_Win_sync(sh->win);
    MPI_Win_unlock_all(sh->win);
    MPI_Comm_free(&node);
    *train = sets[0];
    *eval = sets[1];
    sh->active = 1;
    free(h);
    return 0;
}

void ns_shared_data_free(struct ns_shared_data *sh, struct ns_dataset *train,
                         struct ns_dataset *eval)
{
    if (!sh->active) {
        ns_data_free(train);
        ns_data_free(eval);
        return;
    }
    /* the memory belongs to the window: forget it, then free the window with the node */
    memset(train, 0, sizeof *train);
    memset(eval, 0, sizeof *eval);
    MPI_Win_free(&sh->win);
    sh->active = 0;
}
