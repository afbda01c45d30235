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
