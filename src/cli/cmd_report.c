/* netspace report: one static HTML page of a results db (src/plot/report.c). */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/analysis.h"
#include "util/err.h"

static const char help[] =
    "usage: netspace report --db FILE --out DIR [OPTIONS]\n"
    "\n"
    "Write DIR/index.html: one self-contained static page of the studies of a results db,\n"
    "with its figures as SVG files beside it (each with its gnuplot script and data). The\n"
    "page loads nothing from the network and has no script: copy DIR off a cluster (scp -r)\n"
    "and open index.html anywhere. It holds the studies table; error EDFs and\n"
    "flops-normalized EDFs with the pairwise KS statistics; random-search efficiency;\n"
    "fidelity of early epochs; error against flops in bins; every sampled parameter's\n"
    "effect with the best-model range; and per study the top trials with their configs,\n"
    "complexity and training curves, the failures with their reasons, and the experiment.\n"
    "The db is opened read-only and may be written by a running search meanwhile. A figure\n"
    "that cannot be drawn (an empty study, no per-epoch rows, an empty normalization bin) is\n"
    "replaced by a sentence saying why, also printed here.\n"
    "\n"
    "options:\n"
    "  --db FILE            results database (required)\n"
    "  --out DIR            folder to write (created with its parents if missing;\n"
    "                       required)\n"
    "  --study NAME[,NAME]  studies to include (repeatable; default: all)\n"
    "  --error final|best   final test error (default) or best over epochs\n"
    "                       (a study with data.val_split holds validation errors there,\n"
    "                       and the labels say 'validation error')\n"
    "  --failed drop|chance failed trials left out (default) or at chance error\n"
    "  --top K              trials listed per study (default 10)\n"
    "  --title TEXT         the page's title\n"
    "  --resamples N        bootstrap resamples (default 1000)\n"
    "  --seed S             bootstrap seed (default 0)\n"
    "\n"
    "example:\n"
    "  netspace report --db results/studies.db --out report && xdg-open report/index.html\n";

enum {
    OPT_DB = 256,
    OPT_OUT,
    OPT_STUDY,
    OPT_ERROR,
    OPT_FAILED,
    OPT_TOP,
    OPT_TITLE,
    OPT_RESAMPLES,
    OPT_SEED,
    OPT_HELP
};

static const struct option options[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"out", required_argument, NULL, OPT_OUT},
    {"study", required_argument, NULL, OPT_STUDY},
    {"error", required_argument, NULL, OPT_ERROR},
    {"failed", required_argument, NULL, OPT_FAILED},
    {"top", required_argument, NULL, OPT_TOP},
    {"title", required_argument, NULL, OPT_TITLE},
    {"resamples", required_argument, NULL, OPT_RESAMPLES},
    {"seed", required_argument, NULL, OPT_SEED},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

int ns_cmd_report(int argc, char **argv)
{
    struct ns_report_req r = {.top = 10, .resamples = 1000};
    struct ns_cli_names studies = {NULL, 0};
    int status = 2, c;
    long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'h':
        case OPT_HELP:
            fputs(help, stdout);
            status = 0;
            goto done;
        case OPT_DB:
            r.db = optarg;
            break;
        case OPT_OUT:
            r.out_dir = optarg;
            break;
        case OPT_STUDY:
            if ((status = ns_cli_study_option("report", &studies, optarg)))
                goto done;
            status = 2;
            break;
        case OPT_ERROR:
            if ((status = ns_cli_either("report", "--error", optarg, "final", "best", &r.error_best)))
                goto done;
            status = 2;
            break;
        case OPT_FAILED:
            if ((status = ns_cli_either("report", "--failed", optarg, "drop", "chance",
                                        &r.failed_chance)))
                goto done;
            status = 2;
            break;
        case OPT_TOP:
            if (ns_cli_int("report", "--top", optarg, 1, 1000, &v))
                goto done;
            r.top = (int)v;
            break;
        case OPT_TITLE:
            r.title = optarg;
            break;
        case OPT_RESAMPLES:
            if (ns_cli_int("report", "--resamples", optarg, 1, 100000, &v))
                goto done;
            r.resamples = (int)v;
            break;
        case OPT_SEED:
            if (ns_cli_int("report", "--seed", optarg, 0, 0x7fffffffffffffffL, &v))
                goto done;
            r.seed = (uint64_t)v;
            break;
        default:
            status =
                ns_cli_usage_error("report", "unknown or incomplete option '%s'", argv[optind - 1]);
            goto done;
        }
    }
    if (optind < argc) {
        status = ns_cli_usage_error("report", "unexpected argument '%s'", argv[optind]);
        goto done;
    }
    if (!r.db || !r.out_dir) {
        status = ns_cli_usage_error("report", "%s is required", r.db ? "--out" : "--db");
        goto done;
    }
    r.studies = (const char *const *)studies.v;
    r.n_studies = studies.n;
    char *warnings = NULL;
    int rc = ns_report(&r, &warnings);
    for (char *line = warnings, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        fprintf(stderr, "netspace report: %s\n", line);
    }
    free(warnings);
    if (rc) {
        ns_die_msg();
        status = 1;
        goto done;
    }
    printf("wrote %s/index.html\n", r.out_dir);
    status = 0;
done:
    ns_cli_names_free(&studies);
    return status;
}
