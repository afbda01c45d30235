/* netspace search: run a study, alone or under mpirun; resume by running it again. */
#include "cli/cli.h"

#include "search/search.h"
#include "util/err.h"
#include "util/timer.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

/* Exit status of an interrupted run, distinct from a failure (1) and bad usage (2). */
#define EXIT_INTERRUPTED 3

static const char *help =
    "usage: netspace search --experiment FILE --db FILE [options]\n"
    "       mpirun -np N netspace search --experiment FILE --db FILE [options]\n"
    "\n"
    "Run a study: sample the experiment's design space, train every trial, record configs,\n"
    "per-epoch metrics and errors in the SQLite db (created if missing). Alone, this process\n"
    "trains the trials one after another; under mpirun, rank 0 coordinates and writes the\n"
    "db and ranks 1..N-1 train (largest models first; a free worker gets the next trial).\n"
    "Trial i's config and training seed depend only on the experiment, so the results are\n"
    "the same on any number of ranks (with the same threads per worker).\n"
    "\n"
    "Running the same command again resumes the study: complete and failed trials are kept;\n"
    "waiting, interrupted and stale ones are trained with their original config and seed.\n"
    "An existing study of the same name with a different experiment is refused, except a\n"
    "larger \"samples\", which grows the study (the trials done are kept; fewer is refused).\n"
    "SIGINT/SIGTERM stop it cleanly (exit status 3; a SIGTERM to mpirun stops every rank\n"
    "cleanly too, but mpirun itself then exits 1); a second signal stops it at once.\n"
    "Each trial trains in a child process of its worker, so one that crashes or runs past\n"
    "its limits (the experiment's \"limits\": memory_mb, trial_minutes) fails alone; a trial\n"
    "lost with its process twice (limits.max_attempts) is failed instead of retried.\n"
    "\n"
    "Multi-fidelity search: with \"search\": {\"kind\": \"sha\" | \"hyperband\" | \"asha\",\n"
    "\"eta\": 3, \"min_epochs\": 1, \"max_epochs\": 27} trials train in rungs (1, 3, 9, 27\n"
    "epochs); the best 1/eta of a rung continue from their checkpoint to the next. SHA and\n"
    "Hyperband promote when a rung is complete: the same promotions on any number of ranks\n"
    "and after a resume; ASHA promotes as results come (recorded in the db). Selection uses\n"
    "data.val_split when set. \"keep_weights\": K keeps the best K trials' weights in the\n"
    "db (netspace export); \"checkpoint_every\": N checkpoints trials into the db every N\n"
    "epochs, so a preempted trial resumes from its last checkpoint.\n"
    "\n"
    "  --experiment FILE   experiment file (experiments/*.json; see experiments/README.md)\n"
    "  --db FILE           results db (results/NAME.db; put it on a local disk)\n"
    "  --samples N         train only the study's first N samples (N up to the file's\n"
    "                      \"samples\"; a multi-fidelity study takes only its own): the\n"
    "                      db records N, and a later run with a larger N, or without\n"
    "                      --samples, grows it. For growing several studies in turn, a\n"
    "                      slice each (sampling is prefix-stable: trial i is the same\n"
    "                      whatever N is)\n"
    "  --no-mpi            do not initialise MPI even if started by a launcher\n"
    "  -q, --quiet         no progress display\n"
    "  -h, --help          this help\n"
    "\n"
    "Exit status: 0 study finished (failed trials included), 1 error, 2 bad usage,\n"
    "3 interrupted (run the same command again to resume).\n";

/* Rank 0's last words, printed before MPI is finalized (see ns_search_finalize). */
static void summary(int status, const struct ns_search_report *r)
{
    if (status == NS_SEARCH_ERROR) {
        fflush(stdout);
        ns_die_msg();
        return;
    }
    fflush(stdout);
    if (status == NS_SEARCH_INTERRUPTED) {
        fprintf(stderr,
                "netspace search: interrupted: %d of %d trials complete (%d failed); run the "
                "same command again to resume\n",
                r->n_complete, r->n_trials, r->n_failed);
        return;
    }
    char took[32];
    ns_fmt_duration(took, sizeof took, r->seconds);
    if (r->grown_from)
        printf("study %s grew from %d to %d samples (the first %d are kept)\n", r->study,
               r->grown_from, r->n_trials, r->grown_from);
    printf("study %s: %d of %d trials complete, %d failed", r->study, r->n_complete, r->n_trials,
           r->n_failed);
    if (r->best_trial >= 0)
        printf("; best %s%s error %.2f%% (trial %d)", r->multi ? "top-rung " : "",
               r->on_validation ? "validation" : "test", r->best_err, r->best_trial);
    if (r->epochs_spent >= 0)
        printf("; %lld epochs spent", r->epochs_spent);
    if (r->data_skipped)
        printf("\nnote: %d files of the image folder did not decode and were skipped (named "
               "on stderr; counted in the study: studies.data_skipped)", r->data_skipped);
    if (r->test_selection)
        printf("\nnote: rungs were selected on the test set (the experiment has no "
               "data.val_split), so the best test error is optimistic; set data.val_split to "
               "select on a validation split");
    printf("\nthis run: %d %s in %s on %d rank%s", r->n_trained, r->multi ? "rungs" : "trials",
           took, r->size, r->size > 1 ? "s" : "");
    if (r->n_trained > 0)
        printf(" (%.1f trials/hour; training %.1f%% of wall time",
               r->n_trained * 3600.0 / r->seconds,
               100.0 * r->train_s / (r->seconds * (r->size > 1 ? r->size - 1 : 1)));
    if (r->n_trained > 0 && r->size > 1)
        printf("; workers waited %.2f ms per trial; coordinator busy %.1f%% of a core",
               1e3 * r->wait_s / r->n_trained, 100.0 * r->cpu_s / r->seconds);
    if (r->n_trained > 0)
        printf(")");
    printf("\n");
    fflush(stdout);
}

int ns_cmd_search(int argc, char **argv)
{
    static const struct option opts[] = {
        {"experiment", required_argument, NULL, 'e'},
        {"db", required_argument, NULL, 'd'},
        {"no-mpi", no_argument, NULL, 'M'},
        {"samples", required_argument, NULL, 's'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ns_search_opts o = {.progress = stdout, .use_mpi = -1};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":qh", opts, NULL)) != -1) {
        switch (c) {
        case 'e':
            o.experiment = optarg;
            break;
        case 'd':
            o.db = optarg;
            break;
        case 'M':
            o.use_mpi = 0;
            break;
        case 's': {
            long n;
            if (ns_cli_int("search", "--samples", optarg, 1, 100000, &n) < 0)
                return 2;
            o.samples = (int)n;
            break;
        }
        case 'q':
            o.progress = NULL;
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            return ns_cli_bad_option("search", c, argv);
        }
    }
    if (optind < argc)
        return ns_cli_usage_error("search", "unexpected argument '%s'", argv[optind]);
    if (!o.experiment)
        return ns_cli_usage_error("search", "--experiment FILE is required");
    if (!o.db)
        return ns_cli_usage_error("search", "--db FILE is required");

    struct ns_search_report r;
    int status = ns_search_run(&o, &r);
    int rc = status == NS_SEARCH_DONE ? 0 : status == NS_SEARCH_INTERRUPTED ? EXIT_INTERRUPTED : 1;
    if (r.rank == 0)
        summary(status, &r);
    ns_search_finalize();
    return rc;
}
