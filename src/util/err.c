#include "util/err.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char errbuf[2048];

int ns_verr(const char *fmt, va_list ap)
{
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    return -1;
}

int ns_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ns_verr(fmt, ap);
    va_end(ap);
    return -1;
}

int ns_err_prefix(const char *fmt, ...)
{
    char old[sizeof errbuf];
    char pre[512];
    memcpy(old, errbuf, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    /* a message that no longer fits is cut at the end, which keeps its prefix readable */
    int n = snprintf(errbuf, sizeof errbuf, "%s: ", pre);
    if (n < 0 || (size_t)n >= sizeof errbuf)
        return -1;
    size_t room = sizeof errbuf - (size_t)n;
    memcpy(errbuf + n, old, room - 1);
    errbuf[sizeof errbuf - 1] = 0;
    return -1;
}

const char *ns_errmsg(void) { return errbuf; }

void ns_err_clear(void) { errbuf[0] = 0; }

void ns_die_msg(void) { fprintf(stderr, "netspace: %s\n", errbuf[0] ? errbuf : "unknown error"); }
