/* netspace export: a trial's kept weights (or its last full checkpoint) from a results db,
 * written as a checkpoint file (doc/checkpoint.md) for netspace train --load, another
 * program or bench/torch_net.py. */
#include "cli/cli.h"

#include "model/model.h"
#include "nn/checkpoint.h"
#include "store/store.h"
#include "util/err.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: netspace export --db FILE [--study NAME] --trial N --out FILE [--checkpoint]\n"
    "\n"
    "Write a trial's kept weights from a results db to a checkpoint file (doc/checkpoint.md):\n"
    "the model's config, its parameters and BN statistics, readable by `netspace train --load\n"
    "FILE` and bench/torch_net.py. A search keeps the weights of its best K trials when its\n"
    "experiment says \"keep_weights\": K.\n"
    "\n"
    "  --db FILE        the results db (read only; a db of any schema version)\n"
    "  --study NAME     the study (needed when the db has several)\n"
    "  --trial N        the trial's index\n"
    "  --out FILE       where to write (atomically: FILE.tmp, then renamed)\n"
    "  --checkpoint     the trial's last full checkpoint instead (a paused or preempted\n"
    "                   trial's state: `netspace train --resume FILE` continues it)\n"
    "\n"
    "Exit status: 0 written, 1 failure (no such trial, no weights kept), 2 bad usage.\n";

enum { OPT_DB = 256, OPT_STUDY, OPT_TRIAL, OPT_OUT, OPT_CKPT, OPT_HELP };

static const struct option options[] = {
    {"db", required_argument, 0, OPT_DB},       {"study", required_argument, 0, OPT_STUDY},
    {"trial", required_argument, 0, OPT_TRIAL}, {"out", required_argument, 0, OPT_OUT},
    {"checkpoint", no_argument, 0, OPT_CKPT},   {"help", no_argument, 0, OPT_HELP},
    {0, 0, 0, 0}};

/* "FILE: trial N of study 'S' has no kept weights ..." with the trials that have some. */
static int no_weights(struct ns_db *db, int64_t study, const char *study_name, int idx, int ckpt)
{
    char name[300] = "";
    if (study_name)
        snprintf(name, sizeof name, " of study '%s'", study_name);
    if (ckpt)
        return ns_err("%s: trial %d%s has no checkpoint (a trial has one while it is paused or "
                      "was preempted, when the experiment sets \"checkpoint_every\" or a "
                      "multi-fidelity \"search\")",
                      ns_db_path(db), idx, name);
    int *have, n;
    if (ns_db_weights_trials(db, study, &have, &n))
        return -1;
    char list[200] = "";
    for (int i = 0; i < n && strlen(list) < sizeof list - 24; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", i ? ", " : "", have[i]);
    if (n > 0 && strlen(list) >= sizeof list - 24)
        strcat(list, ", ...");
    free(have);
    if (n == 0)
        return ns_err("%s: trial %d%s has no kept weights, nor has any trial of the study: a "
                      "search keeps the best K trials' weights when its experiment says "
                      "\"keep_weights\": K (or retrain it: netspace train --db FILE --trial N "
                      "--save OUT)",
                      ns_db_path(db), idx, name);
    return ns_err("%s: trial %d%s has no kept weights (only the best \"keep_weights\" trials "
                  "keep them; trials with weights: %s)",
                  ns_db_path(db), idx, name, list);
}

static int export(const char *path, const char *study_name, int idx, const char *out, int ckpt)
{
    struct ns_db *db = ns_db_open(path, NS_DB_RO);
    if (!db)
        return -1;
    int rc = -1, epoch = 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    int64_t study = ns_db_study_resolve(db, study_name);
    struct ns_db_trial t;
    if (study < 0 || ns_db_trial_load(db, study, idx, &t) != 0)
        goto out;
    ns_db_trial_clear(&t);
    int found = ckpt ? ns_db_get_checkpoint(db, study, idx, &buf, &len, &epoch)
                     : ns_db_get_weights(db, study, idx, &buf, &len, &epoch);
    if (found < 0)
        goto out;
    if (found == 0) {
        no_weights(db, study, study_name, idx, ckpt);
        goto out;
    }
    char what[600];
    snprintf(what, sizeof what, "%s: trial %d's %s", path, idx, ckpt ? "checkpoint" : "weights");
    struct ns_ckpt_info *info = malloc(sizeof *info);
    if (!info) {
        ns_err("out of memory");
        goto out;
    }
    if (ns_ckpt_info(buf, len, what, info) == 0 && ns_ckpt_write_file(out, buf, len) == 0) {
        char hash[17];
        ns_config_hash_json(info->config_json, hash);
        printf("%s: trial %d's %s after epoch %d (config %s, %lld parameters, %zu bytes)\n", out,
               idx, info->has_state ? "full checkpoint" : "weights", epoch, hash,
               info->n_weights, len);
        rc = 0;
    }
    free(info);
out:
    free(buf);
    ns_db_close(db);
    return rc;
}

int ns_cmd_export(int argc, char **argv)
{
    const char *C = "export", *db = NULL, *study = NULL, *out = NULL;
    long trial = -1;
    int ckpt = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (c) {
        case 'h':
        case OPT_HELP: fputs(help, stdout); return 0;
        case OPT_DB: db = optarg; break;
        case OPT_STUDY: study = optarg; break;
        case OPT_TRIAL: if (ns_cli_int(C, "--trial", optarg, 0, 0x7fffffffL, &trial)) return 2; break;
        case OPT_OUT: out = optarg; break;
        case OPT_CKPT: ckpt = 1; break;
        default: return ns_cli_bad_option(C, c, argv);
        }
    }
    if (optind < argc)
        return ns_cli_usage_error(C, "unexpected argument '%s'", argv[optind]);
    if (!db || trial < 0 || !out)
        return ns_cli_usage_error(C, "--db, --trial and --out are required");
    if (export(db, study, (int)trial, out, ckpt) != 0) {
        ns_die_msg();
        return 1;
    }
    return 0;
}
