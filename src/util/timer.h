/* Wall-clock and process timing helpers. */
#ifndef NS_TIMER_H
#define NS_TIMER_H

#include <stddef.h>

/* Seconds on a monotonic clock (arbitrary origin). */
double ns_now(void);
/* Seconds since the Unix epoch (wall clock), for timestamps stored in the db. */
double ns_wall_time(void);
/* Format seconds as "1h02m", "3m05s" or "12.3s" into buf. */
void ns_fmt_duration(char *buf, size_t n, double seconds);
/* Peak resident set size of this process in bytes (0 if unknown). */
size_t ns_peak_rss(void);

#endif
