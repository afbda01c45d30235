/* Error reporting for library code. Functions that can fail return -1 (or NULL) after
 * calling ns_err(), which records a message in a per-thread buffer; the caller prints
 * ns_errmsg() (the CLI as "netspace: MESSAGE"). Library code never prints or exits.
 * Messages name the file, field or trial: "spaces/x.json: stages[1].d: lo > hi". */
#ifndef NS_ERR_H
#define NS_ERR_H

#include <stdarg.h>

/* Record a message (printf format); always returns -1 so callers can `return ns_err(...)`. */
int ns_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int ns_verr(const char *fmt, va_list ap);
/* Prefix the current message with "PREFIX: " (adds context on the way up); returns -1. */
int ns_err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last message of this thread ("" if none). */
const char *ns_errmsg(void);
void ns_err_clear(void);

/* Print "netspace: MESSAGE" to stderr for the CLI. */
void ns_die_msg(void);

#endif
