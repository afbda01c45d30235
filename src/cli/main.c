/* netspace: git-style dispatch to the subcommands. */
#include "cli/cli.h"
#include "search/search.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cblas.h>
#include <unistd.h>

#ifndef NS_VERSION
#define NS_VERSION "0.1.0"
#endif

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *help;
} commands[] = {
    {"model", ns_cmd_model, "generate a model config from RegNet parameters; print its complexity"},
    {"sample", ns_cmd_sample, "sample model configs from a design space"},
    {"train", ns_cmd_train, "train one model on a dataset"},
    {"bench", ns_cmd_bench, "training and inference throughput of the standard benchmark net"},
    {"search", ns_cmd_search, "run a study: sample, train, record (alone or under mpirun)"},
    {"query", ns_cmd_query, "read a results database: studies, trials, best, export, sql"},
    {"plot", ns_cmd_plot, "plot results with gnuplot: edf, param, curves, models"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: netspace COMMAND [OPTIONS]   (netspace COMMAND --help for each)\n\n"
               "Design-space search for convolutional networks.\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
}

int ns_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "netspace %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'netspace %s --help')\n", cmd);
    va_end(ap);
    return 2;
}

int ns_cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "netspace %s: %s: '%s' is not an integer in %ld..%ld\n", cmd, opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int ns_cli_double(const char *cmd, const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v != v) {
        fprintf(stderr, "netspace %s: %s: '%s' is not a number\n", cmd, opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Debian's OpenBLAS 0.3.21 does not know recent AVX-512 processors (AMD Zen 4/5, new Xeons)
 * and falls back to its Haswell (AVX2) kernels, about 60% of the speed of its SkylakeX
 * kernels on the same machine. The core type is read once when the library loads, so when
 * the CPU has the AVX-512 subsets those kernels use, set it and start again. Setting
 * OPENBLAS_CORETYPE yourself (any value) turns this off. */
static void pick_blas_kernels(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE") || getenv("NS_BLAS_REEXEC"))
        return;
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")))
        return;
    const char *core = openblas_get_corename();
    if (!core || (strcmp(core, "Haswell") && strcmp(core, "Zen") && strcmp(core, "haswell") &&
                  strcmp(core, "zen")))
        return;
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    setenv("NS_BLAS_REEXEC", "1", 1); /* never loop */
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the kernels we have */
}

int main(int argc, char **argv)
{
    pick_blas_kernels(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("netspace %s\n", NS_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "trial-child")) /* not a user's command: a search starts it */
        return ns_search_trial_child(argc - 1, argv + 1);
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "netspace: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
