/* The worker's entry point (internal to src/search). */
#ifndef NS_SEARCH_WORKER_H
#define NS_SEARCH_WORKER_H

#include "search/search.h"
#include "search/transport.h"

/* A worker rank's whole life on transport t: wait for SETUP, load the data, train what it
 * is assigned until STOP. Returns an enum ns_search_status. */
int ns_search_worker(struct ns_transport *t, struct ns_search_report *rep);

#endif
