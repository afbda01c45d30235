/* netspace: git-style dispatch to the subcommands. */
#include "cli/cli.h"
#include "search/search.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <cblas.h>
#include <unistd.h>

#include "ns_build.h"  /* NS_VERSION, NS_BUILD: written when CMake configures */
#include "ns_commit.h" /* NS_GIT_COMMIT: written at every build (cmake/version.cmake) */
#include "nn/kern.h"
#include "util/paths.h"

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
    {"plot", ns_cmd_plot,
     "plot results with gnuplot: edf, param, curves, models, rs, fidelity, budget, trend, "
     "effects, scaling"},
    {"compare", ns_cmd_compare, "compare two studies: KS statistic, medians, paired twins"},
    {"report", ns_cmd_report, "one static HTML page of a results db, readable offline"},
    {"export", ns_cmd_export, "write a trial's kept weights from a results db to a file"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: netspace COMMAND [OPTIONS]   (netspace COMMAND --help for each)\n"
               "       netspace --version           version, commit, CPU paths compiled in\n\n"
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
        fprintf(stderr, "netspace %s: %s: '%s' is not an integer in %ld..%ld\n", cmd, opt, s, lo,
                hi);
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
 * and falls back to older kernels (Haswell's AVX2: about 60% of the speed of its SkylakeX
 * kernels on the same machine). The core type is read once when the library loads, so when
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
    /* Any core without AVX-512 kernels is a fallback: Haswell or Zen on AMD Zen 4/5, and
     * on an Intel CPU it does not know (Emerald Rapids, family 6 model 207) even Prescott,
     * its SSE3 kernels. */
    const char *core = openblas_get_corename();
    if (!core || !strcasecmp(core, "SkylakeX") || !strcasecmp(core, "Cooperlake") ||
        !strcasecmp(core, "SapphireRapids"))
        return;
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    setenv("NS_BLAS_REEXEC", "1", 1); /* never loop */
    /* by its real path, so that the process keeps its name (ps, top, pgrep -x netspace);
     * exec of /proc/self/exe would rename it "exe" */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        execv(self, argv);
    }
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the kernels we have */
}

/* The instruction sets the compiler was allowed to use for this binary (its -march), which
 * every kernel was compiled for; and what the running CPU and OpenBLAS make of it. */
static void print_version(void)
{
    printf("netspace %s (commit %s)\n", NS_VERSION, NS_GIT_COMMIT);
    printf("built with %s\n", NS_BUILD);
    printf("CPU paths compiled in: x86-64");
#ifdef __AVX512F__
    printf(" AVX-512 (F");
#ifdef __AVX512BW__
    printf(" BW");
#endif
#ifdef __AVX512DQ__
    printf(" DQ");
#endif
#ifdef __AVX512VL__
    printf(" VL");
#endif
    printf(")");
#endif
#ifdef __AVX2__
    printf(" AVX2");
#endif
#ifdef __FMA__
    printf(" FMA");
#endif
    printf("; data batches: %s\n",
#if defined(__AVX2__) && defined(__FMA__)
           "AVX2+FMA"
#else
           "plain C"
#endif
    );
    __builtin_cpu_init();
    printf("this CPU: AVX-512 %s, AVX2 %s, FMA %s; BLAS: %s (kernels: %s)\n",
           __builtin_cpu_supports("avx512f") ? "yes" : "no",
           __builtin_cpu_supports("avx2") ? "yes" : "no",
           __builtin_cpu_supports("fma") ? "yes" : "no", openblas_get_config(),
           openblas_get_corename());
    printf("core kernels compiled in: avx2 (x86-64-v3) avx512 (x86-64-v4); running: %s%s\n",
           ns_kern()->name, getenv("NS_ISA") ? " (NS_ISA)" : "");
    printf("shipped spaces and experiments: %s\n", ns_share_dir());
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
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        print_version();
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
