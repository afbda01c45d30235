/* The in-memory transport: all ranks in one process, one FIFO of messages per destination.
 * A poll takes the first waiting message that matches (source, kind), so messages from one
 * source keep their order as MPI's do. For unit tests of the coordinator and the worker. */
#include "search/transport.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

struct mem_msg {
    struct mem_msg *next;
    int src, kind;
    size_t len;
    unsigned char bytes[];
};

struct mem_end {
    struct ns_transport t; /* first: an end is its transport */
    struct ns_mem_net *net;
    struct mem_msg *head, *tail; /* messages for this rank */
    int fail_kind, fail_count;
};

struct ns_mem_net {
    int size;
    struct mem_end *ends;
};

static int mem_send(struct ns_transport *t, int dest, int kind, const struct ns_msgbuf *b)
{
    struct mem_end *e = (struct mem_end *)t;
    if (dest < 0 || dest >= t->size)
        return ns_err("send to rank %d of %d", dest, t->size);
    if (e->fail_count > 0 && (e->fail_kind == NS_ANY || e->fail_kind == kind)) {
        e->fail_count--;
        return ns_err("send of message %d to rank %d failed (injected)", kind, dest);
    }
    if (b->oom)
        return ns_err("message %d to rank %d: out of memory while packing it", kind, dest);
    struct mem_msg *m = malloc(sizeof *m + b->len);
    if (!m)
        return ns_err("out of memory for a %zu-byte message", b->len);
    m->next = NULL;
    m->src = t->rank;
    m->kind = kind;
    m->len = b->len;
    if (b->len)
        memcpy(m->bytes, b->p, b->len);
    struct mem_end *to = &e->net->ends[dest];
    if (to->tail)
        to->tail->next = m;
    else
        to->head = m;
    to->tail = m;
    return 0;
}

static int mem_poll(struct ns_transport *t, struct ns_inbox *in, int src, int kind)
{
    struct mem_end *e = (struct mem_end *)t;
    struct mem_msg *prev = NULL, *m = e->head;
    while (m && !((src == NS_ANY || m->src == src) && (kind == NS_ANY || m->kind == kind))) {
        prev = m;
        m = m->next;
    }
    if (!m)
        return 0;
    if (ns_inbox_reserve(in, m->len) < 0)
        return -1;
    if (m->len)
        memcpy(in->buf, m->bytes, m->len);
    in->len = m->len;
    in->src = m->src;
    in->kind = m->kind;
    if (prev)
        prev->next = m->next;
    else
        e->head = m->next;
    if (e->tail == m)
        e->tail = prev;
    free(m);
    return 1;
}

struct ns_mem_net *ns_mem_net_new(int size)
{
    struct ns_mem_net *net = calloc(1, sizeof *net);
    if (!net || size < 1 || !(net->ends = calloc((size_t)size, sizeof *net->ends))) {
        free(net);
        return ns_err("in-memory transport: out of memory"), NULL;
    }
    net->size = size;
    for (int r = 0; r < size; r++)
        net->ends[r] = (struct mem_end){{mem_send, mem_poll, r, size}, net, NULL, NULL, 0, 0};
    return net;
}

void ns_mem_net_free(struct ns_mem_net *net)
{
    if (!net)
        return;
    for (int r = 0; r < net->size; r++)
        for (struct mem_msg *m = net->ends[r].head, *next; m; m = next) {
            next = m->next;
            free(m);
        }
    free(net->ends);
    free(net);
}

struct ns_transport *ns_mem_net_end(struct ns_mem_net *net, int rank)
{
    return rank >= 0 && rank < net->size ? &net->ends[rank].t : NULL;
}

void ns_mem_net_fail_sends(struct ns_mem_net *net, int rank, int kind, int count)
{
    net->ends[rank].fail_kind = kind;
    net->ends[rank].fail_count = count;
}

int ns_mem_net_pending(const struct ns_mem_net *net, int rank)
{
    int n = 0;
    for (const struct mem_msg *m = net->ends[rank].head; m; m = m->next)
        n++;
    return n;
}
