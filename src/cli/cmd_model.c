/* Placeholder until this subcommand lands; replaced by its owner. */
#include "cli/cli.h"

#include <stdio.h>

int ns_cmd_model(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "netspace model: not built yet\n");
    return 1;
}
