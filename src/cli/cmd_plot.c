/* netspace plot KIND: analysis plots from a results db with gnuplot (src/plot). */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/analysis.h"
#include "plot/plot.h"
#include "space/space.h"
#include "util/err.h"

static const char help[] =
    "usage: netspace plot KIND --db FILE --out FILE.png|FILE.svg [OPTIONS]\n"
    "\n"
    "Plot results with gnuplot. Beside the image go its gnuplot script (OUT.gp) and data\n"
    "(OUT.dat); the script names them by base name, so restyle with\n"
    "'cd DIR && gnuplot NAME.gp'. PNG uses the pngcairo terminal (800x560), SVG the svg one.\n"
    "The db is opened read-only.\n"
    "\n"
    "kinds:\n"
    "  edf      error EDF of each study, overlaid: F(e) = fraction of models with error < e;\n"
    "           legend: name, n, min and mean error\n"
    "  param    error against a parameter or complexity (scatter), with the best-model range:\n"
    "           2,500 bootstrap resamples of floor(n/4) models, the lowest-error model of\n"
    "           each; band = 2.5..97.5th percentile of its parameter, line = median\n"
    "  curves   per-epoch train (dashed) and test (solid; validation on a data.val_split\n"
    "           study) error of chosen trials\n"
    "  models   per-block widths of chosen RegNet trials against block index, with the\n"
    "           linear widths u_j = w0 + wa*j\n"
    "  rs       random-search efficiency (NDS Fig. 6): the expected minimum error of k models\n"
    "           drawn from each study's (normalized) EDF against k, exactly:\n"
    "           P(min <= e) = 1 - (1 - F(e))^k; band: 95 % of bootstrap resamples of the EDF\n"
    "  fidelity Spearman's rho, Kendall's tau and the top-10 % overlap between the test (or\n"
    "           validation) error after epoch k and the final one, per k (per-epoch rows)\n"
    "  budget   --study REF,T1,T2,...: do the same models trained for other budgets (twins\n"
    "           of REF: same trial index and architecture) rank as REF ranks them? Spearman's\n"
    "           rho (bars: bootstrap 95 %), Kendall's tau and the top-10 % overlap of the\n"
    "           twins (as compare pairs them), against each study's recipe.epochs; one of\n"
    "           REF's epochs (another training seed) is the ceiling, a dashed line\n"
    "  trend    error against a complexity (--param flops|params|acts, default flops) with\n"
    "           the mean +- 2 sd of each of --bins bins (log-spaced unless --linear-bins)\n"
    "  effects  'param' for every sampled parameter of the studies at once: OUT-PARAM.EXT\n"
    "           for each (studies with fewer than 4 models with it are left out, noted)\n"
    "  scaling  error of a scaling study's seeds against flops, a line per scaling dimension;\n"
    "           its table (a row per model: mean, min and max over the seeds) on stdout\n"
    "\n"
    "options:\n"
    "  --db FILE            results database (required)\n"
    "  --out FILE           image to write, .png or .svg (required)\n"
    "  --study NAME[,NAME]  studies to plot (repeatable); default: all (edf, param) or the\n"
    "                       db's only study (curves, models, which take one); budget: the\n"
    "                       reference first, then its twin studies; scaling: the seeds of\n"
    "                       one scaling study (default: the db's studies whose trials sample\n"
    "                       a dim, a \"kind\": \"scaling\" space, if of one base network)\n"
    "  --error final|best   final test error (default) or best test error over epochs\n"
    "                       (a study with data.val_split holds validation errors there,\n"
    "                       and the labels say 'validation error')\n"
    "  --failed drop|chance failed trials left out (default) or counted at chance error\n"
    "                       100*(1 - 1/classes), classes from the trial's config (else 10)\n"
    "  --title TEXT         replace the default title\n"
    "edf:\n"
    "  --normalize flops|params|acts   complexity-normalized EDF (NDS paper): keep models\n"
    "                       with complexity in (LO, HI), bin it into K bins, weight each model\n"
    "                       1/(count in its bin * K); an empty bin is an error\n"
    "  --bins K             bins for --normalize (default 10); log-spaced unless\n"
    "  --linear-bins        equal-width bins\n"
    "  --range LO,HI        complexity range for --normalize (default: the intersection of\n"
    "                       the studies' ranges; the interval is open, so models exactly at\n"
    "                       LO or HI are left out)\n"
    "param:\n"
    "  --param NAME         the x axis: flops, params, acts, a sampled parameter (depth, w0,\n"
    "                       wa, wm, group_w, bot_mul, se_r, d1..d4, w1..w4, b1..b4, g1..g4,\n"
    "                       or another of the space) or a numeric trial column (wall_s, ...)\n"
    "  --seed S             bootstrap seed (default 0; same seed, same band)\n"
    "  --resamples N        bootstrap resamples (default 2500)\n"
    "  --logx auto|on|off   log x axis (param, trend, effects); auto: when all values are\n"
    "                       > 0 and span > 1 decade\n"
    "rs:\n"
    "  --normalize, --bins, --range, --linear-bins   as edf (the normalized EDF)\n"
    "  --k K                largest k (default: the largest study's n, at most 100)\n"
    "  --seed S, --resamples N   the band's bootstrap (default 2500 resamples)\n"
    "budget:\n"
    "  --seed S, --resamples N   rho's bootstrap, as compare's (default 2000 resamples, seed 0)\n"
    "trend:\n"
    "  --param flops|params|acts, --bins K (default 10), --linear-bins, --logx\n"
    "curves, models:\n"
    "  --trials I,J,...     trial indices to plot\n"
    "  --top K              the K complete trials with the lowest error (default 5 for\n"
    "                       curves, 3 for models)\n"
    "\n"
    "examples:\n"
    "  netspace plot edf --db results/a.db --out plots/edf.png\n"
    "  netspace plot edf --db results/a.db --normalize flops --bins 8 --out plots/nedf.svg\n"
    "  netspace plot param --db results/a.db --param wa --out plots/wa.png\n"
    "  netspace plot curves --db results/a.db --study regnet --top 4 --out plots/curves.png\n"
    "  netspace plot rs --db results/a.db --normalize flops --out plots/rs.svg\n"
    "  netspace plot budget --db results/fidelity.db --study fidelity_regnetx,\\\n"
    "      fidelity_regnetx_e1,fidelity_regnetx_e2,fidelity_regnetx_e4 --out plots/budget.png\n"
    "  netspace plot effects --db results/a.db --study regnet --out plots/regnet.png\n"
    "  netspace plot scaling --db results/scaling.db --out plots/scaling.png\n";

enum {
    OPT_DB = 256,
    OPT_OUT,
    OPT_STUDY,
    OPT_ERROR,
    OPT_FAILED,
    OPT_TITLE,
    OPT_NORMALIZE,
    OPT_BINS,
    OPT_LINEAR_BINS,
    OPT_RANGE,
    OPT_PARAM,
    OPT_SEED,
    OPT_RESAMPLES,
    OPT_LOGX,
    OPT_TRIALS,
    OPT_TOP,
    OPT_K,
    OPT_HELP
};

static const struct option options[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"out", required_argument, NULL, OPT_OUT},
    {"study", required_argument, NULL, OPT_STUDY},
    {"error", required_argument, NULL, OPT_ERROR},
    {"failed", required_argument, NULL, OPT_FAILED},
    {"title", required_argument, NULL, OPT_TITLE},
    {"normalize", required_argument, NULL, OPT_NORMALIZE},
    {"bins", required_argument, NULL, OPT_BINS},
    {"linear-bins", no_argument, NULL, OPT_LINEAR_BINS},
    {"range", required_argument, NULL, OPT_RANGE},
    {"param", required_argument, NULL, OPT_PARAM},
    {"seed", required_argument, NULL, OPT_SEED},
    {"resamples", required_argument, NULL, OPT_RESAMPLES},
    {"logx", required_argument, NULL, OPT_LOGX},
    {"trials", required_argument, NULL, OPT_TRIALS},
    {"top", required_argument, NULL, OPT_TOP},
    {"k", required_argument, NULL, OPT_K},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

int ns_cli_study_option(const char *cmd, struct ns_cli_names *l, const char *arg)
{
    if (ns_cli_list_check(cmd, "--study", arg) < 0)
        return 2;
    if (ns_cli_names_add(l, arg)) {
        fprintf(stderr, "netspace %s: out of memory\n", cmd);
        return 1;
    }
    return 0;
}

int ns_cli_either(const char *cmd, const char *opt, const char *arg, const char *first,
                  const char *second, int *is_second)
{
    if (strcmp(arg, first) && strcmp(arg, second))
        return ns_cli_usage_error(cmd, "%s %s: use %s or %s", opt, arg, first, second);
    *is_second = !strcmp(arg, second);
    return 0;
}

int ns_cli_names_add(struct ns_cli_names *l, const char *arg)
{
    char *copy = strdup(arg), *save = NULL;
    if (!copy)
        return -1;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char **nv = realloc(l->v, (size_t)(l->n + 1) * sizeof *nv);
        if (!nv || !(nv[l->n] = strdup(tok))) {
            if (nv)
                l->v = nv;
            free(copy);
            return -1;
        }
        l->v = nv;
        l->n++;
    }
    free(copy);
    return 0;
}

void ns_cli_names_free(struct ns_cli_names *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* "1,5,9" into a malloc'd int array. */
static int parse_trials(const char *arg, int **out, int *n)
{
    if (ns_cli_list_check("plot", "--trials", arg) < 0)
        return -1;
    char *copy = strdup(arg), *save = NULL;
    int cap = 0, rc = 0;
    if (!copy)
        return -1;
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
        long v;
        if (ns_cli_int("plot", "--trials", tok, 0, 2147483647L, &v)) {
            rc = -1;
            break;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            int *nv = realloc(*out, (size_t)cap * sizeof *nv);
            if (!nv) {
                rc = -1;
                break;
            }
            *out = nv;
        }
        (*out)[(*n)++] = (int)v;
    }
    free(copy);
    return rc;
}

int ns_cli_range(const char *cmd, const char *arg, double *lo, double *hi)
{
    const char *comma = strchr(arg, ',');
    if (!comma || strchr(comma + 1, ',')) {
        fprintf(stderr, "netspace %s: --range: '%s' is not LO,HI\n", cmd, arg);
        return -1;
    }
    char *first = strndup(arg, (size_t)(comma - arg));
    if (!first)
        return -1;
    int rc =
        ns_cli_double(cmd, "--range", first, lo) || ns_cli_double(cmd, "--range", comma + 1, hi);
    free(first);
    if (rc == 0 && !(*lo < *hi)) {
        fprintf(stderr, "netspace %s: --range: '%s': LO must be below HI\n", cmd, arg);
        return -1;
    }
    return rc ? -1 : 0;
}

/* "wrote IMG (script GP, data DAT)" for each image of written (one a line; consumed). */
static void print_written(char *written)
{
    for (char *line = written, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        struct ns_plot_files f;
        if (ns_plot_files_init(&f, line) == 0)
            printf("wrote %s (script %s, data %s)\n", f.img, f.gp, f.dat);
        ns_plot_files_free(&f);
    }
}

/* plot scaling's models on stdout, the numbers behind the figure: one row per model. */
static void print_scaling(const struct ns_scaling_table *t)
{
    printf("%s (%%) over %d seed%s:", t->error_name, t->n_studies, t->n_studies == 1 ? "" : "s");
    for (int i = 0; i < t->n_studies; i++)
        printf("%s %s", i ? "," : "", t->studies[i]);
    /* n counts seeds: its column as wide as their number */
    int nw = snprintf(NULL, 0, "%d", t->n_studies);
    nw = nw < 2 ? 2 : nw;
    printf("\n%-10s  %6s  %11s  %9s  %*s  %7s  %7s  %7s  %5s\n", "dim", "target", "flops", "params",
           nw, "n", "mean", "min", "max", "trial");
    for (int k = 0; k < t->n; k++) {
        const struct ns_scaling_model *m = &t->m[k];
        printf("%-10s  %6g  %11.0f  %9.0f  %*d  %7.2f  %7.2f  %7.2f  %5d\n",
               ns_scale_dim_names[m->dim], m->target, m->flops, m->params, nw, m->n, m->mean,
               m->min, m->max, m->trial);
    }
}

/* A plot's notes (log, freed) on stderr, then its error when rc says it failed: 1, else 0. */
static int notes_then_error(int rc, char *log)
{
    if (log)
        fprintf(stderr, "netspace plot: %s\n", log);
    free(log);
    if (rc) {
        ns_die_msg();
        return 1;
    }
    return 0;
}

/* plot scaling: the table first, on stdout, so that its numbers are there even when the
 * figure cannot be drawn (no gnuplot: then the exit status is still 1). */
static int plot_scaling(const struct ns_plot_req *r)
{
    struct ns_plot_files f; /* --out checked before the db is read */
    if (ns_plot_files_init(&f, r->out)) {
        ns_die_msg();
        return 1;
    }
    ns_plot_files_free(&f);
    struct ns_scaling_table t;
    char *log = NULL, *written = NULL;
    int rc = ns_scaling_table_load(r, &t, &log);
    if (notes_then_error(rc, log))
        return 1;
    print_scaling(&t);
    fflush(stdout);
    rc = ns_plot_scaling_draw(r, &t, &log, &written);
    ns_scaling_table_free(&t);
    if (notes_then_error(rc, log))
        return 1;
    print_written(written);
    free(written);
    return 0;
}

/* The analysis kinds (rs, fidelity, budget, trend, effects, scaling): their option checks,
 * then the plot. */
static int plot_analysis(struct ns_plot_req *r, const struct ns_plot_analysis_opts *o,
                         const char *kind, int n_trials)
{
    int rs = o->kind == NS_PLOT_RS, trend = o->kind == NS_PLOT_TREND;
    if (n_trials || r->top > 0)
        return ns_cli_usage_error("plot", "--trials and --top are for curves and models");
    if (!rs && (r->normalize || r->have_range))
        return ns_cli_usage_error("plot", "--normalize and --range are for edf and rs");
    if (!rs && !trend && r->linear_bins)
        return ns_cli_usage_error("plot", "--linear-bins is for edf, rs and trend");
    if (!rs && o->kmax)
        return ns_cli_usage_error("plot", "--k is for rs");
    if (r->param && !trend)
        return ns_cli_usage_error("plot", "%s takes no --param%s", kind,
                                  o->kind == NS_PLOT_EFFECTS ? " (it draws every parameter)" : "");
    if (trend && r->param && strcmp(r->param, "flops") && strcmp(r->param, "params") &&
        strcmp(r->param, "acts"))
        return ns_cli_usage_error("plot", "trend: --param %s: use flops, params or acts", r->param);
    if (o->kind == NS_PLOT_SCALING)
        return plot_scaling(r);
    char *log = NULL, *written = NULL;
    int rc = ns_plot_make_analysis(r, o, &log, &written);
    if (notes_then_error(rc, log))
        return 1;
    print_written(written);
    free(written);
    return 0;
}

int ns_cmd_plot(int argc, char **argv)
{
    struct ns_plot_req r = {
        .bins = 10, .resamples = NS_PLOT_BOOTSTRAP_RESAMPLES, .logx = -1, .top = -1};
    struct ns_cli_names studies = {NULL, 0};
    int *trials = NULL, n_trials = 0, status = 2, c, resamples_given = 0;
    long v;
    const char *kind = NULL;
    struct ns_plot_analysis_opts ao = {NS_PLOT_RS, 0};
    int analysis = 0;
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
            r.out = optarg;
            break;
        case OPT_STUDY:
            if ((status = ns_cli_study_option("plot", &studies, optarg)))
                goto done;
            status = 2;
            break;
        case OPT_ERROR:
            if ((status = ns_cli_either("plot", "--error", optarg, "final", "best", &r.error_best)))
                goto done;
            status = 2;
            break;
        case OPT_FAILED:
            if ((status = ns_cli_either("plot", "--failed", optarg, "drop", "chance",
                                        &r.failed_chance)))
                goto done;
            status = 2;
            break;
        case OPT_TITLE:
            r.title = optarg;
            break;
        case OPT_NORMALIZE:
            if (strcmp(optarg, "flops") && strcmp(optarg, "params") && strcmp(optarg, "acts")) {
                status =
                    ns_cli_usage_error("plot", "--normalize %s: use flops, params or acts", optarg);
                goto done;
            }
            r.normalize = optarg;
            break;
        case OPT_BINS:
            if (ns_cli_int("plot", "--bins", optarg, 1, 100000, &v))
                goto done;
            r.bins = (int)v;
            break;
        case OPT_LINEAR_BINS:
            r.linear_bins = 1;
            break;
        case OPT_RANGE:
            if (ns_cli_range("plot", optarg, &r.lo, &r.hi))
                goto done;
            r.have_range = 1;
            break;
        case OPT_PARAM:
            r.param = optarg;
            break;
        case OPT_SEED:
            if (ns_cli_int("plot", "--seed", optarg, 0, 0x7fffffffffffffffL, &v))
                goto done;
            r.seed = (uint64_t)v;
            break;
        case OPT_RESAMPLES:
            if (ns_cli_int("plot", "--resamples", optarg, 1, 10000000, &v))
                goto done;
            r.resamples = (int)v;
            resamples_given = 1;
            break;
        case OPT_LOGX:
            if (!strcmp(optarg, "auto"))
                r.logx = -1;
            else if (!strcmp(optarg, "on"))
                r.logx = 1;
            else if (!strcmp(optarg, "off"))
                r.logx = 0;
            else {
                status = ns_cli_usage_error("plot", "--logx %s: use auto, on or off", optarg);
                goto done;
            }
            break;
        case OPT_TRIALS:
            if (parse_trials(optarg, &trials, &n_trials))
                goto done;
            break;
        case OPT_TOP:
            if (ns_cli_int("plot", "--top", optarg, 1, 1000, &v))
                goto done;
            r.top = (int)v;
            break;
        case OPT_K:
            if (ns_cli_int("plot", "--k", optarg, 1, 100000, &v))
                goto done;
            ao.kmax = (int)v;
            break;
        default:
            status =
                ns_cli_usage_error("plot", "unknown or incomplete option '%s'", argv[optind - 1]);
            goto done;
        }
    }
    if (optind >= argc) {
        status = ns_cli_usage_error(
            "plot",
            "which plot? (edf, param, curves, models, rs, fidelity, budget, trend, effects or "
            "scaling)");
        goto done;
    }
    kind = argv[optind];
    if (optind + 1 < argc) {
        status = ns_cli_usage_error("plot", "unexpected argument '%s'", argv[optind + 1]);
        goto done;
    }
    if (!strcmp(kind, "edf"))
        r.kind = NS_PLOT_EDF;
    else if (!strcmp(kind, "param"))
        r.kind = NS_PLOT_PARAM;
    else if (!strcmp(kind, "curves"))
        r.kind = NS_PLOT_CURVES;
    else if (!strcmp(kind, "models"))
        r.kind = NS_PLOT_MODELS;
    else if (!strcmp(kind, "rs") || !strcmp(kind, "fidelity") || !strcmp(kind, "budget") ||
             !strcmp(kind, "trend") || !strcmp(kind, "effects") || !strcmp(kind, "scaling")) {
        analysis = 1;
        ao.kind = !strcmp(kind, "rs")         ? NS_PLOT_RS
                  : !strcmp(kind, "fidelity") ? NS_PLOT_FIDELITY
                  : !strcmp(kind, "budget")   ? NS_PLOT_BUDGET
                  : !strcmp(kind, "trend")    ? NS_PLOT_TREND
                  : !strcmp(kind, "effects")  ? NS_PLOT_EFFECTS
                                              : NS_PLOT_SCALING;
        /* budget's rho is compare --paired's: its resamples by default */
        if (ao.kind == NS_PLOT_BUDGET && !resamples_given)
            r.resamples = NS_STAT_RESAMPLES;
        r.kind = NS_PLOT_EDF; /* not read by the analysis plots */
    } else {
        status = ns_cli_usage_error("plot",
                                    "unknown plot '%s' (edf, param, curves, models, rs, fidelity, "
                                    "budget, trend, effects or scaling)",
                                    kind);
        goto done;
    }
    if (!r.db || !r.out) {
        status = ns_cli_usage_error("plot", "%s is required", r.db ? "--out" : "--db");
        goto done;
    }
    if (analysis) {
        r.studies = (const char *const *)studies.v;
        r.n_studies = studies.n;
        status = plot_analysis(&r, &ao, kind, n_trials);
        goto done;
    }
    if (ao.kmax) {
        status = ns_cli_usage_error("plot", "--k is for rs");
        goto done;
    }
    if (r.kind == NS_PLOT_PARAM && !r.param) {
        status = ns_cli_usage_error("plot", "param needs --param NAME");
        goto done;
    }
    if (r.kind != NS_PLOT_EDF && (r.normalize || r.have_range || r.linear_bins)) {
        status = ns_cli_usage_error("plot", "--normalize, --range and --linear-bins are for edf");
        goto done;
    }
    if ((r.kind == NS_PLOT_EDF || r.kind == NS_PLOT_PARAM) && (n_trials || r.top > 0)) {
        status = ns_cli_usage_error("plot", "--trials and --top are for curves and models");
        goto done;
    }
    if (n_trials && r.top > 0) {
        status = ns_cli_usage_error("plot", "give --trials or --top, not both");
        goto done;
    }
    if (r.top < 0)
        r.top = r.kind == NS_PLOT_CURVES ? 5 : 3;
    r.studies = (const char *const *)studies.v;
    r.n_studies = studies.n;
    r.trials = trials;
    r.n_trials = n_trials;

    char *log = NULL;
    if (ns_plot_make(&r, &log)) {
        ns_die_msg();
        status = 1;
        goto done;
    }
    if (log)
        fprintf(stderr, "netspace plot: gnuplot said: %s\n", log);
    free(log);
    struct ns_plot_files f;
    if (ns_plot_files_init(&f, r.out) == 0)
        printf("wrote %s (script %s, data %s)\n", f.img, f.gp, f.dat);
    ns_plot_files_free(&f);
    status = 0;
done:
    ns_cli_names_free(&studies);
    free(trials);
    return status;
}
