/* What the commands share when getopt_long rejects an argument. */
#include "cli/cli.h"

#include <getopt.h>
#include <string.h>

int ns_cli_bad_option(const char *cmd, int c, char **argv)
{
    const char *arg = argv[optind - 1];
    int is_long = arg && !strncmp(arg, "--", 2);
    if (c == ':') {
        if (is_long)
            return ns_cli_usage_error(cmd, "%.*s needs a value", (int)strcspn(arg, "="), arg);
        return ns_cli_usage_error(cmd, "-%c needs a value", optopt);
    }
    if (is_long)
        return ns_cli_usage_error(cmd, "unknown option '%.*s'", (int)strcspn(arg, "="), arg);
    if (optopt)
        return ns_cli_usage_error(cmd, "unknown option '-%c'", optopt);
    return ns_cli_usage_error(cmd, "unknown option '%s'", arg ? arg : "?");
}

int ns_cli_list_check(const char *cmd, const char *opt, const char *arg)
{
    size_t n = strlen(arg);
    if (n == 0 || arg[0] == ',' || arg[n - 1] == ',' || strstr(arg, ",,")) {
        ns_cli_usage_error(cmd, "%s '%s': an empty item (items are separated by one comma)", opt,
                           arg);
        return -1;
    }
    /* each item against the ones after it */
    for (const char *a = arg; a; a = strchr(a, ',') ? strchr(a, ',') + 1 : NULL) {
        size_t la = strcspn(a, ",");
        for (const char *b = a + la; *b == ','; b += 1 + strcspn(b + 1, ",")) {
            size_t lb = strcspn(b + 1, ",");
            if (la == lb && !strncmp(a, b + 1, la)) {
                ns_cli_usage_error(cmd, "%s '%s': '%.*s' is given twice", opt, arg, (int)la, a);
                return -1;
            }
        }
    }
    return 0;
}
