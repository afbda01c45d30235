/* The MPI transport: every message is MPI_BYTE on MPI_COMM_WORLD with its kind as the tag.
 * MPI_Send of these small messages is eager in Open MPI (the call returns without waiting
 * for the receiver); poll probes first so that it never blocks. */
#include "search/transport.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"

static int mpi_send(struct ns_transport *t, int dest, int kind, const struct ns_msgbuf *b)
{
    (void)t;
    static unsigned char empty;
    if (b->oom)
        return ns_err("message %d to rank %d: out of memory while packing it", kind, dest);
    if (b->len > INT_MAX) /* MPI counts in int: a cast would wrap to a wrong length */
        return ns_err("message %d to rank %d: %zu bytes; MPI sends at most %d", kind, dest, b->len,
                      INT_MAX);
    int rc = MPI_Send(b->len ? b->p : &empty, (int)b->len, MPI_BYTE, dest, kind, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        return ns_err("MPI_Send of message %d to rank %d failed (%d)", kind, dest, rc);
    return 0;
}

static int mpi_poll(struct ns_transport *t, struct ns_inbox *in, int src, int kind)
{
    (void)t;
    int flag = 0, count = 0;
    MPI_Status st;
    if (MPI_Iprobe(src == NS_ANY ? MPI_ANY_SOURCE : src, kind == NS_ANY ? MPI_ANY_TAG : kind,
                   MPI_COMM_WORLD, &flag, &st) != MPI_SUCCESS)
        return ns_err("MPI_Iprobe failed");
    if (!flag)
        return 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    if (count < 0)
        return ns_err("message of unknown size from rank %d", st.MPI_SOURCE);
    if (ns_inbox_reserve(in, (size_t)count) < 0)
        return -1;
    if (MPI_Recv(in->buf, count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE) != MPI_SUCCESS)
        return ns_err("MPI_Recv from rank %d failed", st.MPI_SOURCE);
    in->kind = st.MPI_TAG;
    in->src = st.MPI_SOURCE;
    in->len = (size_t)count;
    return 1;
}

struct ns_transport *ns_transport_mpi(void)
{
    static struct ns_transport t = {mpi_send, mpi_poll, 0, 1};
    MPI_Comm_rank(MPI_COMM_WORLD, &t.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &t.size);
    return &t;
}

void ns_search_host(char *out, size_t n)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin) {
        char name[MPI_MAX_PROCESSOR_NAME];
        int len = 0;
        if (MPI_Get_processor_name(name, &len) == MPI_SUCCESS && len > 0) {
            snprintf(out, n, "%.*s", len, name);
            return;
        }
    }
    if (gethostname(out, n) != 0)
        snprintf(out, n, "?");
    out[n - 1] = 0;
}

int ns_search_under_mpi(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE",
                                       "MPI_LOCALNRANKS",      NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

/* Workers rank 0 gave up on (stalled: stopped, swapping, cut off) and the exit status the run
 * ends with: MPI_Finalize would wait for those workers forever, so the job is ended with
 * MPI_Abort instead, once the db is consistent and the summary printed. */
static int abandoned, abandon_code;

void ns_search_abandon_workers(int n, int status)
{
    abandoned = n;
    abandon_code = status == NS_SEARCH_DONE ? 0 : status == NS_SEARCH_INTERRUPTED ? 3 : 1;
}

void ns_search_finalize(void)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin && abandoned > 0) {
        fprintf(stderr,
                "netspace search: %d worker%s never answered (stalled); ending the MPI job "
                "with MPI_Abort\n",
                abandoned, abandoned == 1 ? "" : "s");
        MPI_Abort(MPI_COMM_WORLD, abandon_code);
    }
    if (init && !fin)
        MPI_Finalize();
}
