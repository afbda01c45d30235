/* Placeholder until this subcommand lands; replaced by its owner. */
#include "cli/cli.h"

#include <stdio.h>

int ns_cmd_bench(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "netspace bench: not built yet\n");
    return 1;
}
