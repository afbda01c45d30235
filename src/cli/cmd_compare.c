/* netspace compare: two studies' error distributions (KS, medians, paired twins). */
#include "cli/cli.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/analysis.h"
#include "util/err.h"

static const char help[] =
    "usage: netspace compare --db FILE --study A,B [OPTIONS]\n"
    "\n"
    "Compare the error distributions of two studies (the db is opened read-only):\n"
    "  - the two-sample Kolmogorov-Smirnov statistic D = sup |F_A - F_B| and its asymptotic\n"
    "    p-value (with --normalize, also on the complexity-normalized EDFs, whose p-value\n"
    "    uses the weights' effective sample size);\n"
    "  - each study's median error and the difference of the medians (B - A), with 95 %\n"
    "    percentile-bootstrap intervals.\n"
    "With --paired, twins instead of samples: trial i of A against trial i of B where both\n"
    "have an error and the same flops and params (studies whose spaces draw the same\n"
    "architectures from the same seed, e.g. the BN-order studies): how often B is better, and\n"
    "the mean and median of the paired difference B - A with bootstrap intervals, and\n"
    "whether the twins rank alike: Spearman's rho, Kendall's tau-b and the overlap of\n"
    "their top 10 % (e.g. A trained 10 epochs, B the same models trained 2: does the\n"
    "short budget rank them as the long one does?).\n"
    "\n"
    "options:\n"
    "  --db FILE            results database (required)\n"
    "  --study A,B          the two studies (or --study A --study B)\n"
    "  --error final|best   final test error (default) or best over epochs\n"
    "                       (a study with data.val_split holds validation errors there,\n"
    "                       and the labels say 'validation error')\n"
    "  --failed drop|chance failed trials left out (default) or at chance error\n"
    "  --normalize flops|params|acts  also the weighted KS on normalized EDFs, with\n"
    "  --bins K, --range LO,HI, --linear-bins  as in 'netspace plot edf'\n"
    "  --paired             the paired comparison of twins (adds to the output)\n"
    "  --resamples N        bootstrap resamples (default 2000)\n"
    "  --seed S             bootstrap seed (default 0)\n"
    "  --json               one JSON object instead of text\n"
    "  --markdown           with --paired: one markdown table row (header with --header)\n"
    "  --header             print the markdown table's header first\n"
    "\n"
    "examples:\n"
    "  netspace compare --db results/studies.db --study regnetx,anynetx_e\n"
    "  netspace compare --db results/studies.db --study regnetx,regnetx_bn_after --paired\n";

enum {
    OPT_DB = 256,
    OPT_STUDY,
    OPT_ERROR,
    OPT_FAILED,
    OPT_NORMALIZE,
    OPT_BINS,
    OPT_RANGE,
    OPT_LINEAR_BINS,
    OPT_PAIRED,
    OPT_RESAMPLES,
    OPT_SEED,
    OPT_JSON,
    OPT_MARKDOWN,
    OPT_HEADER,
    OPT_HELP
};

static const struct option options[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"study", required_argument, NULL, OPT_STUDY},
    {"error", required_argument, NULL, OPT_ERROR},
    {"failed", required_argument, NULL, OPT_FAILED},
    {"normalize", required_argument, NULL, OPT_NORMALIZE},
    {"bins", required_argument, NULL, OPT_BINS},
    {"range", required_argument, NULL, OPT_RANGE},
    {"linear-bins", no_argument, NULL, OPT_LINEAR_BINS},
    {"paired", no_argument, NULL, OPT_PAIRED},
    {"resamples", required_argument, NULL, OPT_RESAMPLES},
    {"seed", required_argument, NULL, OPT_SEED},
    {"json", no_argument, NULL, OPT_JSON},
    {"markdown", no_argument, NULL, OPT_MARKDOWN},
    {"header", no_argument, NULL, OPT_HEADER},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static json_t *ci_json(const struct ns_ci *c)
{
    return json_pack("{s:f, s:f, s:f}", "estimate", c->est, "lo", c->lo, "hi", c->hi);
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static void print_json(const struct ns_compare_req *r, const struct ns_compare_result *c)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i}", "db", r->db, "a", r->a, "b",
                          r->b, "error", r->error_best ? "best" : "final", "n_a", (int)c->na, "n_b",
                          (int)c->nb, "failed_a", (int)c->na_failed, "failed_b", (int)c->nb_failed);
    if (c->error_label) /* what the errors are: "validation error" on data.val_split studies */
        json_object_set_new(j, "error_label", json_string(c->error_label));
    json_object_set_new(j, "ks",
                        json_pack("{s:f, s:f, s:f}", "d", c->ks.d, "p", c->ks.p, "n_eff", c->ks.m));
    if (r->normalize)
        json_object_set_new(j, "ks_normalized",
                            json_pack("{s:s, s:o, s:o, s:i, s:f, s:f, s:f}", "by", r->normalize,
                                      "lo", num_or_null(c->w_lo), "hi", num_or_null(c->w_hi),
                                      "bins", r->bins, "d", c->ks_weighted.d, "p", c->ks_weighted.p,
                                      "n_eff", c->ks_weighted.m));
    json_object_set_new(j, "median_a", ci_json(&c->med_a));
    json_object_set_new(j, "median_b", ci_json(&c->med_b));
    json_object_set_new(j, "median_diff", ci_json(&c->med_diff));
    if (r->paired)
        json_object_set_new(j, "paired",
                            json_pack("{s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:o, s:o, s:o, s:o, "
                                      "s:o}",
                                      "pairs", (int)c->pairs, "unmatched", (int)c->unmatched,
                                      "b_better", (int)c->p.b_better, "a_better",
                                      (int)c->p.a_better, "ties", (int)c->p.ties, "median_a",
                                      c->med_pa, "median_b", c->med_pb, "mean_diff",
                                      ci_json(&c->p.mean), "median_diff", ci_json(&c->p.median),
                                      "spearman",
                                      json_pack("{s:o, s:o, s:o}", "estimate",
                                                num_or_null(c->rho.est), "lo",
                                                num_or_null(c->rho.lo), "hi",
                                                num_or_null(c->rho.hi)),
                                      "kendall",
                                      num_or_null(c->tau), "top10_overlap", num_or_null(c->top10)));
    json_object_set_new(j, "resamples", json_integer(r->resamples));
    char *s = json_dumps(j, JSON_REAL_PRECISION(10) | JSON_PRESERVE_ORDER);
    if (s)
        puts(s);
    free(s);
    json_decref(j);
}

/* v in fmt, or "undefined" (a rank correlation of tied or too few twins). */
struct numtext {
    char s[32];
};
static struct numtext fmt_num(double v, const char *fmt)
{
    struct numtext t;
    if (isfinite(v))
        snprintf(t.s, sizeof t.s, fmt, v);
    else
        snprintf(t.s, sizeof t.s, "undefined");
    return t;
}

static void print_text(const struct ns_compare_req *r, const struct ns_compare_result *c)
{
    printf("%s: %s%s, failed trials %s; 95%% intervals from %d bootstrap resamples\n", r->db,
           r->error_best ? "" : "final ", c->error_label,
           r->failed_chance ? "counted at chance error" : "dropped", r->resamples);
    int w = (int)strlen(r->a) > (int)strlen(r->b) ? (int)strlen(r->a) : (int)strlen(r->b);
    w = w < 5 ? 5 : w;
    printf("  %-*s  %6s  %6s  %8s  %s\n", w, "study", "n", "failed", "median", "95% interval");
    printf("  %-*s  %6zu  %6zu  %7.2f%%  [%.2f, %.2f]\n", w, r->a, c->na, c->na_failed,
           c->med_a.est, c->med_a.lo, c->med_a.hi);
    printf("  %-*s  %6zu  %6zu  %7.2f%%  [%.2f, %.2f]\n", w, r->b, c->nb, c->nb_failed,
           c->med_b.est, c->med_b.lo, c->med_b.hi);
    printf("median difference (%s - %s): %+.2f points, 95%% interval [%+.2f, %+.2f]\n", r->b, r->a,
           c->med_diff.est, c->med_diff.lo, c->med_diff.hi);
    printf("KS: D = %.4f, p = %.4g (effective n %.1f)\n", c->ks.d, c->ks.p, c->ks.m);
    if (r->normalize)
        printf("KS, %s-normalized (%s in (%.4g, %.4g), %d %s bins): D = %.4f, p = %.4g "
               "(effective n %.1f)\n",
               r->normalize, r->normalize, c->w_lo, c->w_hi, r->bins,
               r->linear_bins ? "equal-width" : "log-spaced", c->ks_weighted.d, c->ks_weighted.p,
               c->ks_weighted.m);
    if (!r->paired)
        return;
    printf("paired: %zu twins (same trial index and architecture)", c->pairs);
    if (c->unmatched)
        printf("; %zu trials of the same index differ in architecture (left out)", c->unmatched);
    printf("\n  medians of the twins: %s %.2f%%, %s %.2f%%\n", r->a, c->med_pa, r->b, c->med_pb);
    printf("  %s better in %zu, %s better in %zu, tied %zu\n", r->b, c->p.b_better, r->a,
           c->p.a_better, c->p.ties);
    printf("  difference %s - %s: mean %+.2f [%+.2f, %+.2f], median %+.2f [%+.2f, %+.2f]\n", r->b,
           r->a, c->p.mean.est, c->p.mean.lo, c->p.mean.hi, c->p.median.est, c->p.median.lo,
           c->p.median.hi);
    printf("  ranking of the twins: Spearman rho %s [%s, %s], Kendall tau %s, top-10 %% overlap "
           "%s\n",
           fmt_num(c->rho.est, "%.3f").s, fmt_num(c->rho.lo, "%.3f").s,
           fmt_num(c->rho.hi, "%.3f").s, fmt_num(c->tau, "%.3f").s, fmt_num(c->top10, "%.2f").s);
}

static void print_markdown(const struct ns_compare_req *r, const struct ns_compare_result *c,
                           int header)
{
    if (header)
        printf("| A | B | pairs | median A | median B | B better | mean diff B - A (95%%) | "
               "median diff (95%%) | Spearman rho |\n|---|---|---|---|---|---|---|---|---|\n");
    printf("| %s | %s | %zu | %.2f | %.2f | %zu of %zu | %+.2f [%+.2f, %+.2f] | %+.2f [%+.2f, "
           "%+.2f] | %s |\n",
           r->a, r->b, c->pairs, c->med_pa, c->med_pb, c->p.b_better, c->pairs, c->p.mean.est,
           c->p.mean.lo, c->p.mean.hi, c->p.median.est, c->p.median.lo, c->p.median.hi,
           fmt_num(c->rho.est, "%.3f").s);
}

int ns_cmd_compare(int argc, char **argv)
{
    struct ns_compare_req r = {.bins = 10, .resamples = NS_STAT_RESAMPLES};
    struct ns_cli_names studies = {NULL, 0};
    int status = 2, c, json = 0, markdown = 0, header = 0;
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
        case OPT_STUDY:
            if ((status = ns_cli_study_option("compare", &studies, optarg)))
                goto done;
            status = 2;
            break;
        case OPT_ERROR:
            if ((status = ns_cli_either("compare", "--error", optarg, "final", "best", &r.error_best)))
                goto done;
            status = 2;
            break;
        case OPT_FAILED:
            if ((status = ns_cli_either("compare", "--failed", optarg, "drop", "chance",
                                        &r.failed_chance)))
                goto done;
            status = 2;
            break;
        case OPT_NORMALIZE:
            if (strcmp(optarg, "flops") && strcmp(optarg, "params") && strcmp(optarg, "acts")) {
                status = ns_cli_usage_error("compare", "--normalize %s: use flops, params or acts",
                                            optarg);
                goto done;
            }
            r.normalize = optarg;
            break;
        case OPT_BINS:
            if (ns_cli_int("compare", "--bins", optarg, 1, 100000, &v))
                goto done;
            r.bins = (int)v;
            break;
        case OPT_RANGE:
            if (ns_cli_range("compare", optarg, &r.lo, &r.hi))
                goto done;
            r.have_range = 1;
            break;
        case OPT_LINEAR_BINS:
            r.linear_bins = 1;
            break;
        case OPT_PAIRED:
            r.paired = 1;
            break;
        case OPT_RESAMPLES:
            if (ns_cli_int("compare", "--resamples", optarg, 1, 1000000, &v))
                goto done;
            r.resamples = (int)v;
            break;
        case OPT_SEED:
            if (ns_cli_int("compare", "--seed", optarg, 0, 0x7fffffffffffffffL, &v))
                goto done;
            r.seed = (uint64_t)v;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case OPT_MARKDOWN:
            markdown = 1;
            break;
        case OPT_HEADER:
            header = 1;
            break;
        default:
            status = ns_cli_usage_error("compare", "unknown or incomplete option '%s'",
                                        argv[optind - 1]);
            goto done;
        }
    }
    if (optind < argc) {
        status = ns_cli_usage_error("compare", "unexpected argument '%s'", argv[optind]);
        goto done;
    }
    if (!r.db) {
        status = ns_cli_usage_error("compare", "--db is required");
        goto done;
    }
    if (studies.n != 2) {
        status = ns_cli_usage_error("compare", "--study: name exactly two studies (A,B); %d given",
                                    studies.n);
        goto done;
    }
    if ((r.have_range || r.linear_bins) && !r.normalize) {
        status = ns_cli_usage_error("compare", "--range and --linear-bins need --normalize");
        goto done;
    }
    if ((markdown || header) && !r.paired) {
        status = ns_cli_usage_error("compare", "--markdown and --header go with --paired");
        goto done;
    }
    if (markdown && json) {
        status = ns_cli_usage_error("compare", "give --json or --markdown, not both");
        goto done;
    }
    r.a = studies.v[0];
    r.b = studies.v[1];
    struct ns_compare_result res;
    if (ns_compare(&r, &res)) {
        ns_die_msg();
        status = 1;
        goto done;
    }
    if (json)
        print_json(&r, &res);
    else if (markdown)
        print_markdown(&r, &res, header);
    else
        print_text(&r, &res);
    status = 0;
done:
    ns_cli_names_free(&studies);
    return status;
}
