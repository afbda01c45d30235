/* netspace sample: the configs a study with this space and seed would train, one JSON per
 * line, or a summary of the parameters' ranges and the acceptance rate. */
#include "cli/cli.h"

#include "space/space.h"
#include "util/err.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *help =
    "usage: netspace sample --space FILE --n N --seed S [options]\n"
    "\n"
    "Sample N model configs from a design space, as study seed S would: trial i is always\n"
    "the same config. Configs breaking the space's constraints are redrawn; duplicates\n"
    "(same canonical hash) are dropped.\n"
    "\n"
    "  --space FILE      a space file (spaces/*.json)\n"
    "  --n N             number of configs\n"
    "  --seed S          study seed (default 0)\n"
    "  --im-size N       input size (default: the space's input)\n"
    "  --in-ch N         input channels (default: the space's input)\n"
    "  --classes N       classes (default: the space's input)\n"
    "  --json            one JSON object per line (the default): index, stream, tries, hash,\n"
    "                    config (canonical), flops, params, acts, sample (drawn parameters)\n"
    "  --summary         instead: each parameter's range and mean, complexity ranges, and\n"
    "                    the acceptance rate\n"
    "  -h, --help        this help\n";

/* Reals the way the canonical JSON writes them (integers without a fraction here). */
static void put_num(double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        printf("%.0f", v);
    else
        printf("%.10g", v);
}

static void print_trial(const struct ns_space *sp, const struct ns_trial *t)
{
    printf("{\"acts\":%.0f,\"config\":%s,\"flops\":%.0f,\"hash\":\"%s\",\"index\":%d,"
           "\"params\":%.0f,\"sample\":{",
           t->cx.acts, t->json, t->cx.flops, t->hash, t->index, t->cx.params);
    for (int k = 0; k < t->n_params; k++) {
        printf("%s\"%s\":", k ? "," : "", ns_space_param_name(sp, k));
        put_num(t->params[k]);
    }
    printf("},\"stream\":%llu,\"tries\":%d}\n", (unsigned long long)t->stream, t->tries);
}

static void range_line(const char *name, const double *v, int n, size_t stride)
{
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    for (int i = 0; i < n; i++) {
        double x = *(const double *)((const char *)v + (size_t)i * stride);
        lo = fmin(lo, x);
        hi = fmax(hi, x);
        sum += x;
    }
    printf("  %-10s %12.6g %12.6g %12.6g\n", name, lo, hi, sum / n);
}

static void print_summary(const struct ns_space *sp, const struct ns_trial *t, int n,
                          const struct ns_sample_stats *st)
{
    printf("space %s (%s): %d configs\n", ns_space_name(sp), ns_space_path(sp), n);
    printf("acceptance %.4f (%ld of %ld draws met the constraints; rejected for flops %ld, "
           "params %ld, acts %ld, stages %ld, invalid %ld; %ld duplicates dropped)\n",
           st->draws ? (double)(st->draws - st->rejected) / st->draws : 0.0,
           st->draws - st->rejected, st->draws, st->rej_flops, st->rej_params, st->rej_acts,
           st->rej_stages, st->rej_invalid, st->duplicates);
    if (n == 0)
        return;
    printf("\n  %-10s %12s %12s %12s\n", "parameter", "min", "max", "mean");
    for (int k = 0; k < ns_space_n_params(sp); k++)
        range_line(ns_space_param_name(sp, k), &t[0].params[k], n, sizeof *t);
    range_line("flops", &t[0].cx.flops, n, sizeof *t);
    range_line("params*", &t[0].cx.params, n, sizeof *t);
    range_line("acts", &t[0].cx.acts, n, sizeof *t);
    printf("  (* the model's parameter count)\n");
}

int ns_cmd_sample(int argc, char **argv)
{
    static const struct option opts[] = {
        {"space", required_argument, 0, 'p'}, {"n", required_argument, 0, 'n'},
        {"seed", required_argument, 0, 's'},  {"im-size", required_argument, 0, 'i'},
        {"in-ch", required_argument, 0, 'c'}, {"classes", required_argument, 0, 'k'},
        {"json", no_argument, 0, 'j'},        {"summary", no_argument, 0, 'S'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    const char *path = NULL;
    long n = -1, seed = 0, im_size = -1, in_ch = -1, classes = -1;
    int summary = 0;
    optind = 0;
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'p':
            path = optarg;
            break;
        case 'n':
            if (ns_cli_int("sample", "--n", optarg, 0, 100000000, &n))
                return 2;
            break;
        case 's':
            if (ns_cli_int("sample", "--seed", optarg, 0, 0x7fffffffffffffffL, &seed))
                return 2;
            break;
        case 'i':
            if (ns_cli_int("sample", "--im-size", optarg, 4, 1024, &im_size))
                return 2;
            break;
        case 'c':
            if (ns_cli_int("sample", "--in-ch", optarg, 1, 64, &in_ch))
                return 2;
            break;
        case 'k':
            if (ns_cli_int("sample", "--classes", optarg, 2, 1000000, &classes))
                return 2;
            break;
        case 'j':
            break; /* the default */
        case 'S':
            summary = 1;
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            return ns_cli_usage_error("sample", "unknown or incomplete option '%s'",
                                      argv[optind - 1]);
        }
    }
    if (optind < argc)
        return ns_cli_usage_error("sample", "unexpected argument '%s'", argv[optind]);
    if (!path)
        return ns_cli_usage_error("sample", "--space FILE is required");
    if (n < 0)
        return ns_cli_usage_error("sample", "--n N is required");

    struct ns_space *sp = ns_space_load(path);
    if (!sp) {
        ns_die_msg();
        return 1;
    }
    struct ns_trial *t = NULL;
    struct ns_sample_stats st = {0};
    int rc = 0;
    if (in_ch > 0 || im_size > 0 || classes > 0) {
        int c0, s0, k0;
        ns_space_input(sp, &c0, &s0, &k0);
        rc = ns_space_set_input(sp, in_ch > 0 ? (int)in_ch : c0, im_size > 0 ? (int)im_size : s0,
                                classes > 0 ? (int)classes : k0);
    }
    if (!rc)
        rc = ns_space_sample(sp, (uint64_t)seed, (int)n, &t, &st);
    if (rc) {
        ns_die_msg();
        ns_space_free(sp);
        return 1;
    }
    if (summary)
        print_summary(sp, t, (int)n, &st);
    else
        for (long i = 0; i < n; i++)
            print_trial(sp, &t[i]);
    free(t);
    ns_space_free(sp);
    return 0;
}
