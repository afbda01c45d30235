/* One copy of the dataset per node for the worker ranks of an MPI search.
 *
 * Without it every worker loads the experiment's dataset and holds its own copy: a node
 * running 64 workers reads the files 64 times and holds 64 copies. Here the workers of a
 * node (MPI_Comm_split_type with MPI_COMM_TYPE_SHARED, over the workers only: rank 0, the
 * coordinator, takes no part) elect the lowest rank among them, which loads the data once
 * (ns_exp_data_load: limits, validation split and normalization included) and copies the
 * images and labels into an MPI-3 shared-memory window (MPI_Win_allocate_shared); the other
 * workers of the node point their datasets into that window. The datasets are read-only
 * from then on (training only reads them), so no locking is needed after setup.
 *
 * A node with a single worker keeps a private copy (no window). The shape, name and
 * normalization of the sets travel with a broadcast on the node, so every worker of a node
 * gets exactly the leader's datasets.
 *
 * Collective: every worker rank (MPI ranks 1..size-1 of MPI_COMM_WORLD) must call
 * ns_shared_data_load once, and later ns_shared_data_free once (it frees the window, which
 * is collective over the node). Only the MPI thread may call them. */
#ifndef NS_SEARCH_SHARED_DATA_H
#define NS_SEARCH_SHARED_DATA_H

#include <mpi.h>

#include "data/data.h"
#include "search/search.h"

/* What a worker holds besides its two datasets; zero-initialize before use. */
struct ns_shared_data {
    int active;    /* 1: the datasets point into `win` (0: a private copy, or nothing) */
    int node_size; /* workers on this node, the leader included (0 before a load) */
    MPI_Win win;
};

/* Load the experiment's data for this worker: read once per node and shared, as above.
 * Fills *train and *eval (outputs). Returns 0, or -1 with ns_err set on every worker of the
 * node (the leader's own message; the others say which rank failed to load it). On error
 * nothing is left allocated, but the call still took part in the collectives, so the
 * caller may report the error and wait for STOP as usual and must still call
 * ns_shared_data_free. */
int ns_shared_data_load(struct ns_exp_data *d, struct ns_shared_data *sh,
                        struct ns_dataset *train, struct ns_dataset *eval);

/* Release the datasets and the window (collective over the node's workers when a window
 * exists). Safe on a zeroed struct and after a failed load. */
void ns_shared_data_free(struct ns_shared_data *sh, struct ns_dataset *train,
                         struct ns_dataset *eval);

#endif
