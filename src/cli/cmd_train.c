/* netspace train: train one model on a dataset with a recipe given by flags. */
#include "cli/cli.h"

#include "data/data.h"
#include "nn/checkpoint.h"
#include "nn/memory.h"
#include "nn/train.h"
#include "search/search.h"
#include "space/space.h"
#include "store/store.h"
#include "util/err.h"
#include "util/progress.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --config FILE: a config, or a line of `netspace sample` output (the config is nested under
 * "config" there, beside its complexity and sampled parameters). */
static int load_config(const char *path, struct ns_config *cfg)
{
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
    json_t *inner = json_is_object(j) ? json_object_get(j, "config") : NULL;
    int rc;
    if (json_is_object(inner)) {
        rc = ns_config_from_jansson(inner, cfg);
        if (rc < 0)
            ns_err_prefix("%s: config", path);
    } else {
        rc = ns_config_load(path, cfg); /* its messages name the line and the field */
    }
    json_decref(j);
    return rc;
}

static atomic_int stop_flag; /* lock-free: safe in a signal handler */
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void help(void)
{
    puts("usage: netspace train (--bench-net | --regnet \"PARAMS\" | --config FILE |\n"
         "                      --preset NAME |\n"
         "                      --db FILE [--study NAME] --trial N) [options]\n"
         "\n"
         "Train one model on a dataset and print its errors.\n"
         "\n"
         "model (one of):\n"
         "  --bench-net             the standard benchmark net (DESIGN.md)\n"
         "  --regnet \"PARAMS\"       RegNet parameters: \"depth=.. w0=.. wa=.. wm=.. group_w=..\"\n"
         "                          [bot_mul=1] [se_r=0.25 with --block y]; the first stage\n"
         "                          has stride 1, as in spaces/regnetx.json for small inputs\n"
         "  --config FILE           a model config (canonical JSON, see `netspace model --json`),\n"
         "                          or a line of `netspace sample` output\n"
         "  --preset NAME           a published ImageNet model at the data's size and classes\n"
         "                          (netspace model --preset list)\n"
         "  (none)                  with --resume or --load: the checkpoint's model\n"
         "  --db FILE --trial N     retrain trial N of a results db with this recipe: its\n"
         "                          config as recorded, its study's dataset unless --data\n"
         "                          (--study NAME when the db has several studies)\n"
         "  --block x|y             block of a --regnet model (default x)\n"
         "  --stem cifar|simple|res stem of a --regnet model (default cifar)\n"
         "  --stem-w N              stem width of a --regnet model (default 16)\n"
         "data:\n"
         "  --data NAME             fashion-mnist (default), cifar10, synthetic or folder\n"
         "  --data-dir DIR          where the files are (default: the Debian package's folder);\n"
         "                          for folder: DIR/train/<class>/* and DIR/test/<class>/*\n"
         "                          (or val/, validation/; with none, give --val-split),\n"
         "                          JPEG or PNG, decoded once into a cache (README)\n"
         "  --im-size S             folder: resize to S x S (shorter side, centre crop)\n"
         "  --channels 1|3          folder: gray or RGB (default 3)\n"
         "  --strict                folder: a file that does not decode is an error (default:\n"
         "                          skipped, named on stderr and counted)\n"
         "  --data-cache FILE       folder: the cache file (default DIR/.netspace-cache/...)\n"
         "  --val-split F           hold out this fraction of the training set and report\n"
         "                          errors on it instead of the test set (default 0)\n"
         "  --normalize             per-channel mean/std normalization (default: inputs in [0,1])\n"
         "  --train-limit N         use only the first N training images\n"
         "  --test-limit N          use only the first N test images\n"
         "recipe:\n"
         "  --epochs N (10)  --batch N (128)  --lr F (0.1)  --momentum F (0.9)\n"
         "  --nesterov / --no-nesterov (on)  --wd F (5e-4)  --warmup EPOCHS (0)\n"
         "  --warmup-factor F (0.1)  --crop-pad N (0)  --flip  --dropout F (0)\n"
         "  --rotate DEG (0: random rotation in [-DEG, DEG])  --zoom F (0: random scale in\n"
         "  [1-F, 1+F])  --rrc F (0: random-resized crop of area fraction in [F, 1])\n"
         "  --drop-path F (0: stochastic depth; block j of J drops its residual branch\n"
         "                with rate F*j/J)\n"
         "  --optimizer sgd|adamw (sgd)  --beta1 F (0.9)  --beta2 F (0.999): AdamW with\n"
         "                decoupled weight decay (--wd), none on biases, norms, embeddings\n"
         "  --zero-init-last-bn  --seed N (1)  --threads N (1)  --eval-batch N (= batch)\n"
         "  --eval-every N (1)      evaluate after every N-th epoch and after the last one\n"
         "                          only (the others' test errors are not measured)\n"
         "  --agc L (0 = off)       adaptive gradient clipping: each output unit's gradient\n"
         "                          norm is clipped to L * max(|unit weights|, 1e-3), every\n"
         "                          parameter but the classifier's (for nf nets; 0.01-0.16)\n"
         "  learning rate: cosine from lr to 0 over all steps, per step, after the warmup\n"
         "checkpoints (doc/checkpoint.md):\n"
         "  --save FILE             keep the run in FILE: a full checkpoint (weights, BN\n"
         "                          statistics, optimizer and RNG state) written atomically\n"
         "                          after every epoch and at the end; a run killed or\n"
         "                          interrupted (SIGINT, SIGTERM: FILE keeps the last whole\n"
         "                          epoch) continues with the same command and --resume FILE\n"
         "  --checkpoint-every N    with --save: every N epochs (default 1; the last always)\n"
         "  --weights-only          with --save: the final FILE holds only the weights (config,\n"
         "                          parameters, BN statistics): smaller, not resumable\n"
         "  --resume FILE           continue the run of a full checkpoint: the same model,\n"
         "                          recipe (seed and threads included) and training images\n"
         "                          (else an error), the epochs after its own; the result is\n"
         "                          the uninterrupted run's\n"
         "  --load FILE             start from the weights of a checkpoint (full or weights-\n"
         "                          only) of the same model: fine-tuning with this recipe\n"
         "  --stop-after N          train only up to epoch N of the recipe's schedule (the\n"
         "                          learning rate still follows --epochs); --resume continues\n"
         "  --eval-only             train nothing: evaluate the model (--load's weights,\n"
         "                          --resume's state, or a random init) on the test set\n"
         "output:\n"
         "  --json                  last line: one JSON object with the results\n"
         "  --quiet                 no progress\n"
         "\n"
         "Exit status: 0 trained, 1 diverged, failed or interrupted, 2 bad usage.");
}

enum {
    O_BENCH = 256, O_REGNET, O_CONFIG, O_BLOCK, O_STEM, O_STEMW, O_DATA, O_DIR, O_VAL, O_NORM,
    O_TRL, O_TEL, O_EPOCHS, O_BATCH, O_LR, O_MOM, O_NEST, O_NONEST, O_WD, O_WARM, O_WARMF,
    O_CROP, O_FLIP, O_DROP, O_DPATH, O_OPT, O_BETA1, O_BETA2, O_ZERO, O_SEED, O_THREADS, O_EVALB, O_EVALE, O_JSON, O_QUIET, O_HELP, O_DB, O_STUDY, O_TRIAL, O_PRESET,
    O_IMSIZE, O_CHANNELS, O_STRICT, O_CACHE, O_ROTATE, O_ZOOM, O_RRC, O_AGC, O_SAVE, O_EVERY,
    O_WONLY, O_RESUME, O_LOAD, O_STOPAFTER, O_EVALONLY
};

static const struct option opts[] = {
    {"bench-net", no_argument, 0, O_BENCH}, {"regnet", required_argument, 0, O_REGNET},
    {"config", required_argument, 0, O_CONFIG}, {"preset", required_argument, 0, O_PRESET}, {"block", required_argument, 0, O_BLOCK},
    {"stem", required_argument, 0, O_STEM}, {"stem-w", required_argument, 0, O_STEMW},
    {"data", required_argument, 0, O_DATA}, {"data-dir", required_argument, 0, O_DIR},
    {"val-split", required_argument, 0, O_VAL}, {"normalize", no_argument, 0, O_NORM},
    {"train-limit", required_argument, 0, O_TRL}, {"test-limit", required_argument, 0, O_TEL},
    {"epochs", required_argument, 0, O_EPOCHS}, {"batch", required_argument, 0, O_BATCH},
    {"lr", required_argument, 0, O_LR}, {"momentum", required_argument, 0, O_MOM},
    {"nesterov", no_argument, 0, O_NEST}, {"no-nesterov", no_argument, 0, O_NONEST},
    {"wd", required_argument, 0, O_WD}, {"warmup", required_argument, 0, O_WARM},
    {"warmup-factor", required_argument, 0, O_WARMF}, {"crop-pad", required_argument, 0, O_CROP},
    {"flip", no_argument, 0, O_FLIP}, {"dropout", required_argument, 0, O_DROP},
    {"drop-path", required_argument, 0, O_DPATH},
    {"optimizer", required_argument, 0, O_OPT}, {"beta1", required_argument, 0, O_BETA1},
    {"beta2", required_argument, 0, O_BETA2},
    {"zero-init-last-bn", no_argument, 0, O_ZERO}, {"seed", required_argument, 0, O_SEED},
    {"threads", required_argument, 0, O_THREADS}, {"eval-batch", required_argument, 0, O_EVALB},
    {"eval-every", required_argument, 0, O_EVALE},
    {"json", no_argument, 0, O_JSON}, {"quiet", no_argument, 0, O_QUIET},
    {"help", no_argument, 0, O_HELP}, {"db", required_argument, 0, O_DB},
    {"study", required_argument, 0, O_STUDY}, {"trial", required_argument, 0, O_TRIAL},
    {"im-size", required_argument, 0, O_IMSIZE}, {"channels", required_argument, 0, O_CHANNELS},
    {"strict", no_argument, 0, O_STRICT}, {"data-cache", required_argument, 0, O_CACHE},
    {"rotate", required_argument, 0, O_ROTATE}, {"zoom", required_argument, 0, O_ZOOM},
    {"rrc", required_argument, 0, O_RRC},
    {"agc", required_argument, 0, O_AGC}, {"save", required_argument, 0, O_SAVE},
    {"checkpoint-every", required_argument, 0, O_EVERY}, {"weights-only", no_argument, 0, O_WONLY},
    {"resume", required_argument, 0, O_RESUME}, {"load", required_argument, 0, O_LOAD},
    {"stop-after", required_argument, 0, O_STOPAFTER}, {"eval-only", no_argument, 0, O_EVALONLY},
    {0, 0, 0, 0}};

/* --save: every checkpoint ns_train hands over replaces FILE atomically, so FILE is always a
 * whole checkpoint of the last epoch saved, whenever the process dies. */
struct saver {
    const char *path;
    int weights_only; /* the final epoch's file: weights only */
    int final_epoch;
    int saved;        /* the last epoch written */
};

static int save_checkpoint(void *ctx, int epoch, const uint8_t *buf, size_t len)
{
    struct saver *s = ctx;
    uint8_t *w = NULL;
    size_t wlen;
    if (s->weights_only && epoch == s->final_epoch) {
        if (ns_ckpt_strip(buf, len, &w, &wlen))
            return -1;
        buf = w;
        len = wlen;
    }
    int rc = ns_ckpt_write_file(s->path, buf, len);
    free(w);
    if (rc == 0)
        s->saved = epoch;
    return rc;
}

/* The checkpoint of --resume or --load, read and checked whole; with no model option, its
 * config is the model. 0 or -1 (ns_err). */
static int read_start(const char *path, int want_config, struct ns_config *cfg, uint8_t **buf,
                      size_t *len, struct ns_ckpt_info *info)
{
    if (ns_ckpt_read_file(path, buf, len))
        return -1;
    int rc = ns_ckpt_info(*buf, *len, path, info);
    if (rc == 0 && want_config && ns_config_from_json(info->config_json, cfg))
        rc = ns_err_prefix("%s: the checkpoint's config", path);
    if (rc) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
}

/* --db: trial idx's recorded config, and its study's dataset (kind, folder, synthetic
 * shape; the run's limits, split and normalization still come from the flags). 0 or -1. */
static int from_db(const char *path, const char *study, int idx, struct ns_config *cfg,
                   struct ns_exp_data *data)
{
    struct ns_db *db = ns_db_open(path, NS_DB_RO);
    if (!db)
        return -1;
    int rc = -1;
    int64_t sid = ns_db_study_resolve(db, study);
    struct ns_db_trial t;
    char *exp = NULL;
    if (sid >= 0 && ns_db_trial_load(db, sid, idx, &t) == 0) {
        rc = ns_config_from_json(t.config_json, cfg);
        if (rc != 0)
            ns_err_prefix("%s: trial %d", path, idx);
        ns_db_trial_clear(&t);
    }
    if (rc == 0 && ns_db_study_experiment(db, study, &exp) == 1) {
        char where[512];
        snprintf(where, sizeof where, "%s: the study's experiment", path);
        struct ns_experiment ex;
        rc = ns_experiment_parse(exp, where, &ex);
        if (rc == 0) {
            *data = ex.data;
            data->dir = ex.data.dir ? strdup(ex.data.dir) : NULL;
            data->folder_cache = ex.data.folder_cache ? strdup(ex.data.folder_cache) : NULL;
            if ((ex.data.dir && !data->dir) || (ex.data.folder_cache && !data->folder_cache))
                rc = ns_err("out of memory");
            ns_experiment_free(&ex);
        }
    } else if (rc == 0) {
        rc = -1;
    }
    free(exp);
    ns_db_close(db);
    return rc;
}

static void log_stderr(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "netspace: %s\n", msg);
}

/* An image folder, with the skipped files named on stderr; -1 when it has no eval folder
 * and no split is asked. */
static int load_folder(struct ns_folder_opts *fo, double val, struct ns_dataset *tr,
                       struct ns_dataset *te, struct ns_folder_info *fi)
{
    fo->log = log_stderr;
    if (ns_data_load_folder(fo, tr, te, fi) < 0)
        return -1;
    if (!fi->has_eval && !(val > 0)) {
        ns_data_free(tr);
        ns_data_free(te);
        return ns_err("%s: no test/ (or val/, validation/) folder: give --val-split", fo->dir);
    }
    return 0;
}

/* The dataset of a study (from_db), as the study loaded it before its limits. */
static int load_study_data(const struct ns_exp_data *d, const char *dir, double val,
                           struct ns_dataset *tr, struct ns_dataset *te, struct ns_folder_info *fi)
{
    if (d->kind == NS_DATA_FOLDER) {
        struct ns_folder_opts fo = {.dir = dir ? dir : d->dir,
                                    .size = d->folder_size,
                                    .channels = d->folder_channels,
                                    .strict = d->folder_strict,
                                    .cache = d->folder_cache};
        return load_folder(&fo, val, tr, te, fi);
    }
    if (d->kind == NS_DATA_SYNTHETIC)
        return ns_data_synthetic_pair(tr, te, d->synth_n, d->synth_n_test, d->synth_channels,
                                      d->synth_size, d->synth_classes, d->synth_seed);
    return ns_data_load(d->kind, dir ? dir : d->dir, tr, te);
}

int ns_cmd_train(int argc, char **argv)
{
    const char *C = "train";
    struct ns_recipe r;
    ns_recipe_default(&r);
    int bench = 0, json = 0, quiet = 0, normalize = 0, stem = NS_STEM_CIFAR, block = NS_BLOCK_X;
    long stem_w = 16, train_limit = 0, test_limit = 0, lv;
    double val = 0, dv;
    const char *regnet = NULL, *config = NULL, *preset = NULL, *data = NULL, *dir = NULL;
    const char *db = NULL, *study = NULL;
    const char *save = NULL, *resume = NULL, *load = NULL;
    long trial = -1, every = 1, stop_after = 0;
    int weights_only = 0, eval_only = 0, every_given = 0;
    struct ns_folder_opts fo = {0};
    struct ns_folder_info fi = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_BENCH: bench = 1; break;
        case O_REGNET: regnet = optarg; break;
        case O_CONFIG: config = optarg; break;
        case O_PRESET: preset = optarg; break;
        case O_BLOCK:
            block = ns_block_from_name(optarg);
            if (block != NS_BLOCK_X && block != NS_BLOCK_Y)
                return ns_cli_usage_error(C, "--block: '%s' is not x or y", optarg);
            break;
        case O_STEM:
            if ((stem = ns_stem_from_name(optarg)) < 0)
                return ns_cli_usage_error(C, "--stem: '%s' is not cifar, simple or res", optarg);
            break;
        case O_STEMW: if (ns_cli_int(C, "--stem-w", optarg, 1, 4096, &stem_w)) return 2; break;
        case O_DATA: data = optarg; break;
        case O_DIR: dir = optarg; break;
        case O_VAL:
            if (ns_cli_double(C, "--val-split", optarg, &val) || val < 0 || val >= 1)
                return ns_cli_usage_error(C, "--val-split: must be in [0, 1)");
            break;
        case O_NORM: normalize = 1; break;
        case O_TRL: if (ns_cli_int(C, "--train-limit", optarg, 1, 1L << 30, &train_limit)) return 2; break;
        case O_TEL: if (ns_cli_int(C, "--test-limit", optarg, 1, 1L << 30, &test_limit)) return 2; break;
        case O_EPOCHS: if (ns_cli_int(C, "--epochs", optarg, 1, 100000, &lv)) return 2; r.epochs = (int)lv; break;
        case O_BATCH: if (ns_cli_int(C, "--batch", optarg, 1, 65536, &lv)) return 2; r.batch = (int)lv; break;
        case O_LR: if (ns_cli_double(C, "--lr", optarg, &r.lr)) return 2; break;
        case O_MOM: if (ns_cli_double(C, "--momentum", optarg, &r.momentum)) return 2; break;
        case O_NEST: r.nesterov = 1; break;
        case O_NONEST: r.nesterov = 0; break;
        case O_WD: if (ns_cli_double(C, "--wd", optarg, &r.wd)) return 2; break;
        case O_WARM: if (ns_cli_double(C, "--warmup", optarg, &r.warmup_epochs)) return 2; break;
        case O_WARMF: if (ns_cli_double(C, "--warmup-factor", optarg, &r.warmup_factor)) return 2; break;
        case O_CROP: if (ns_cli_int(C, "--crop-pad", optarg, 0, 16, &lv)) return 2; r.crop_pad = (int)lv; break;
        case O_FLIP: r.flip = 1; break;
        case O_DROP: if (ns_cli_double(C, "--dropout", optarg, &dv)) return 2; r.dropout = dv; break;
        case O_DPATH: if (ns_cli_double(C, "--drop-path", optarg, &dv)) return 2; r.drop_path = dv; break;
        case O_OPT:
            if (strcmp(optarg, "sgd") && strcmp(optarg, "adamw"))
                return ns_cli_usage_error(C, "--optimizer: unknown optimizer '%s' (sgd, adamw)", optarg);
            r.optimizer = strcmp(optarg, "adamw") ? NS_OPT_SGD : NS_OPT_ADAMW;
            break;
        case O_BETA1: if (ns_cli_double(C, "--beta1", optarg, &dv)) return 2; r.beta1 = dv; break;
        case O_BETA2: if (ns_cli_double(C, "--beta2", optarg, &dv)) return 2; r.beta2 = dv; break;
        case O_ZERO: r.zero_init_last_bn = 1; break;
        case O_SEED: if (ns_cli_int(C, "--seed", optarg, 0, 0x7fffffffL, &lv)) return 2; r.seed = (uint64_t)lv; break;
        case O_THREADS: if (ns_cli_int(C, "--threads", optarg, 1, 256, &lv)) return 2; r.threads = (int)lv; break;
        case O_AGC: if (ns_cli_double(C, "--agc", optarg, &r.agc)) return 2; break;
        case O_EVALB: if (ns_cli_int(C, "--eval-batch", optarg, 1, 65536, &lv)) return 2; r.eval_batch = (int)lv; break;
        case O_EVALE: if (ns_cli_int(C, "--eval-every", optarg, 1, 100000, &lv)) return 2; r.eval_every = (int)lv; break;
        case O_DB: db = optarg; break;
        case O_STUDY: study = optarg; break;
        case O_TRIAL: if (ns_cli_int(C, "--trial", optarg, 0, 0x7fffffffL, &trial)) return 2; break;
        case O_IMSIZE: if (ns_cli_int(C, "--im-size", optarg, 8, 1024, &lv)) return 2; fo.size = (int)lv; break;
        case O_CHANNELS:
            if (ns_cli_int(C, "--channels", optarg, 1, 3, &lv) || lv == 2)
                return ns_cli_usage_error(C, "--channels: 1 (gray) or 3 (RGB)");
            fo.channels = (int)lv;
            break;
        case O_STRICT: fo.strict = 1; break;
        case O_CACHE: fo.cache = optarg; break;
        case O_ROTATE: if (ns_cli_double(C, "--rotate", optarg, &r.rotate)) return 2; break;
        case O_ZOOM: if (ns_cli_double(C, "--zoom", optarg, &r.zoom)) return 2; break;
        case O_RRC: if (ns_cli_double(C, "--rrc", optarg, &r.rrc_scale)) return 2; break;
        case O_SAVE: save = optarg; break;
        case O_EVERY: if (ns_cli_int(C, "--checkpoint-every", optarg, 1, 100000, &every)) return 2; every_given = 1; break;
        case O_WONLY: weights_only = 1; break;
        case O_RESUME: resume = optarg; break;
        case O_LOAD: load = optarg; break;
        case O_STOPAFTER: if (ns_cli_int(C, "--stop-after", optarg, 1, 100000, &stop_after)) return 2; break;
        case O_EVALONLY: eval_only = 1; break;
        case O_JSON: json = 1; break;
        case O_QUIET: quiet = 1; break;
        case 'h':
        case O_HELP: help(); return 0;
        default: return ns_cli_usage_error(C, "unknown option");
        }
    }
    if (optind < argc)
        return ns_cli_usage_error(C, "unexpected argument '%s'", argv[optind]);
    if ((db != NULL) != (trial >= 0))
        return ns_cli_usage_error(C, "--db and --trial go together");
    if (study && !db)
        return ns_cli_usage_error(C, "--study needs --db and --trial");
    int models = bench + (regnet != NULL) + (config != NULL) + (preset != NULL) + (db != NULL);
    if (models > 1 || (models == 0 && !resume && !load))
        return ns_cli_usage_error(C, "give exactly one of --bench-net, --regnet, --config, "
                                     "--preset, --db with --trial (or none with --resume or "
                                     "--load: the checkpoint's model)");
    if (resume && load)
        return ns_cli_usage_error(C, "--resume and --load exclude each other: --resume continues "
                                     "a run, --load starts a new one from weights");
    if ((every_given || weights_only) && !save)
        return ns_cli_usage_error(C, "--checkpoint-every and --weights-only go with --save");
    if (eval_only && (save || stop_after))
        return ns_cli_usage_error(C, "--eval-only trains nothing: no --save or --stop-after");
    if (stop_after > r.epochs)
        return ns_cli_usage_error(C, "--stop-after: %ld is more than --epochs %d", stop_after,
                                  r.epochs);
    if (ns_recipe_check(&r) != 0)
        return ns_cli_usage_error(C, "%s", ns_errmsg());
    int kind = ns_data_kind_from_name(data ? data : "fashion-mnist");
    if (kind < 0)
        return ns_cli_usage_error(C, "--data: %s", ns_errmsg());
    if (kind == NS_DATA_FOLDER && (!dir || !fo.size))
        return ns_cli_usage_error(C, "--data folder needs --data-dir DIR and --im-size S");
    if (kind != NS_DATA_FOLDER && (fo.size || fo.channels || fo.strict || fo.cache))
        return ns_cli_usage_error(C, "--im-size, --channels, --strict and --data-cache are "
                                     "for --data folder");
    fo.dir = dir;

    /* a db's trial and a checkpoint first: their errors come before the data loads */
    struct ns_config cfg;
    struct ns_exp_data sd = {0};
    uint8_t *start = NULL;
    size_t start_len = 0;
    struct ns_ckpt_info start_info;
    if ((resume || load) &&
        read_start(resume ? resume : load, models == 0, &cfg, &start, &start_len, &start_info)) {
        ns_die_msg();
        return 1;
    }
    if (resume && !start_info.has_state) {
        fprintf(stderr, "netspace train: %s is a weights-only checkpoint: it cannot be resumed "
                        "(--load FILE starts from its weights)\n", resume);
        free(start);
        return 1;
    }
    if (db && from_db(db, study, (int)trial, &cfg, &sd) != 0) {
        ns_die_msg();
        free(sd.dir);
        free(sd.folder_cache);
        free(start);
        return 1;
    }
    struct ns_dataset tr, te, va;
    memset(&va, 0, sizeof va);
    int lrc = db && !data           ? load_study_data(&sd, dir, val, &tr, &te, &fi)
              : kind == NS_DATA_FOLDER ? load_folder(&fo, val, &tr, &te, &fi)
                                       : ns_data_load((enum ns_data_kind)kind, dir, &tr, &te);
    free(sd.dir);
    free(sd.folder_cache);
    if (lrc != 0) {
        ns_die_msg();
        free(start);
        return 1;
    }
    if (train_limit && train_limit < tr.n)
        ns_data_truncate(&tr, (int)train_limit);
    if (test_limit && test_limit < te.n)
        ns_data_truncate(&te, (int)test_limit);
    struct ns_dataset *eval = &te;
    if (val > 0) {
        if (ns_data_split(&tr, &va, val, r.seed) != 0) {
            ns_die_msg();
            free(start);
            ns_data_free(&tr);
            ns_data_free(&te);
            return 1;
        }
        eval = &va;
    }
    if (normalize)
        ns_data_normalize(&tr, eval);

    int rc = 0;
    if (bench) {
        ns_config_bench_net(&cfg);
        cfg.in_ch = tr.c;
        cfg.im_size = tr.h;
        cfg.classes = tr.classes;
    } else if (regnet) {
        struct ns_regnet rp;
        memset(&cfg, 0, sizeof cfg);
        cfg.in_ch = tr.c;
        cfg.im_size = tr.h;
        cfg.classes = tr.classes;
        cfg.stem = (enum ns_stem)stem;
        cfg.stem_w = (int)stem_w;
        cfg.block = (enum ns_block)block;
        if (ns_regnet_parse(regnet, &rp) != 0 || ns_regnet_generate(&rp, 1, &cfg) != 0)
            rc = ns_err_prefix("--regnet");
    } else if (config) {
        rc = load_config(config, &cfg);
    } else if (preset) {
        rc = ns_model_preset(preset, tr.c, tr.h, tr.classes, &cfg);
    } /* else --db: from_db above filled cfg */
    if (rc != 0) {
        ns_die_msg();
        free(start);
        ns_data_free(&tr);
        ns_data_free(&te);
        ns_data_free(&va);
        return 1;
    }

    struct ns_progress prog;
    ns_progress_init(&prog, stdout, quiet);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct ns_train_opts to = {.progress = &prog, .stop = &stop_flag};
    if (!quiet) {
        char *js = ns_config_to_json(&cfg);
        char opt[64];
        if (r.optimizer == NS_OPT_ADAMW)
            snprintf(opt, sizeof opt, "AdamW betas %g %g", r.beta1, r.beta2);
        else
            snprintf(opt, sizeof opt, "momentum %g%s", r.momentum, r.nesterov ? " (Nesterov)" : "");
        printf("model %s\ndata %s: %d train, %d %s images; recipe: %d epochs, batch %d, lr %g, "
               "%s, wd %g, ",
               js ? js : "?", tr.name, tr.n, eval->n, val > 0 ? "validation" : "test", r.epochs,
               r.batch, r.lr, opt, r.wd);
        if (r.agc > 0)
            printf("agc %g, ", r.agc);
        printf("%d thread%s\n", r.threads, r.threads == 1 ? "" : "s");
        free(js);
        if (tr.map)
            printf("image folder: %d classes, %d file%s skipped, cache %s (%s)\n", fi.classes,
                   fi.skipped, fi.skipped == 1 ? "" : "s", fi.cache,
                   fi.built ? "built now" : "reused");
        fflush(stdout);
    }
    /* the memory the net needs is known before anything is allocated: more than the machine
     * has is refused with the figure, instead of swapping until something stops it */
    struct ns_complexity need_cx = {0, 0, 0};
    ns_complexity(&cfg, &need_cx);
    int bmax = r.eval_batch > r.batch ? r.eval_batch : r.batch;
    double need =
        (double)ns_net_memory_estimate(&cfg, need_cx.params, need_cx.acts, bmax, r.threads);
    double have = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    if (have > 0 && need > have) {
        fprintf(stderr,
                "netspace train: the net needs about %.0f MB to train at batch %d; this machine "
                "has %.0f MB (use a smaller --batch)\n",
                need / (1 << 20), bmax, have / (1 << 20));
        free(start);
        ns_data_free(&tr);
        ns_data_free(&te);
        ns_data_free(&va);
        return 1;
    }
    struct saver sv = {.path = save,
                       .weights_only = weights_only,
                       .final_epoch = stop_after ? (int)stop_after : r.epochs};
    if (save) {
        to.checkpoint_every = (int)every;
        to.checkpoint_last = 1;
        to.on_checkpoint = save_checkpoint;
        to.ctx = &sv;
    }
    if (resume) {
        to.resume = start;
        to.resume_len = start_len;
    } else if (load) {
        to.init = start;
        to.init_len = start_len;
    }
    to.stop_after = eval_only ? -1 : (int)stop_after;
    if (!quiet && resume)
        printf("resuming %s after epoch %d\n", resume, start_info.epoch);
    struct ns_train_result res;
    enum ns_train_status st = ns_train(&cfg, &tr, eval, &r, &to, &res);
    ns_progress_end(&prog);
    /* --resume of a run already at its last epoch trains nothing; --save still gets it */
    if (save && resume && st == NS_TRAIN_OK && sv.saved == 0 &&
        save_checkpoint(&sv, start_info.epoch, start, start_len) < 0) {
        fprintf(stderr, "netspace train: %s\n", ns_errmsg());
        st = NS_TRAIN_ERROR;
        snprintf(res.reason, sizeof res.reason, "could not write %s", save);
    }
    free(start);
    struct ns_complexity cx = {0};
    ns_complexity(&cfg, &cx);
    static const char *names[] = {"complete", "diverged", "stopped", "error"};
    /* the trainer's reason may already name the outcome ("diverged: loss nan at ...") */
    if (st != NS_TRAIN_OK && !strncmp(res.reason, names[st], strlen(names[st])))
        fprintf(stderr, "netspace train: %s\n", res.reason);
    else if (st != NS_TRAIN_OK)
        fprintf(stderr, "netspace train: %s: %s\n", names[st], res.reason);
    else if (!quiet && eval_only)
        printf("evaluated: %s error %.2f%% (after epoch %d), %.1f s\n",
               val > 0 ? "validation" : "test", res.test_err, res.epochs_done, res.seconds);
    else if (!quiet)
        printf("final: train error %.2f%%, %s error %.2f%% (best %.2f%%), %.1f s, %.0f img/s\n",
               res.train_err, val > 0 ? "validation" : "test", res.test_err, res.best_test_err,
               res.seconds, res.img_per_s);
    if (save && st == NS_TRAIN_STOPPED && sv.saved > 0)
        fprintf(stderr, "netspace train: %s holds epoch %d: continue with the same command and "
                        "--resume %s\n", save, sv.saved, save);
    else if (save && !quiet && st == NS_TRAIN_OK && sv.saved > 0)
        printf("saved %s (%s, epoch %d)\n", save, weights_only ? "weights only" : "full checkpoint",
               sv.saved);
    if (json) {
        /* null where nothing was evaluated (a run stopped before its first evaluation) */
        char tj[32] = "null", bj[32] = "null";
        if (isfinite(res.test_err))
            snprintf(tj, sizeof tj, "%.4f", res.test_err);
        if (isfinite(res.best_test_err))
            snprintf(bj, sizeof bj, "%.4f", res.best_test_err);
        printf("{\"status\":\"%s\",\"epochs\":%d,\"train_loss\":%.6f,\"train_error\":%.4f,"
               "\"test_error\":%s,\"best_test_error\":%s,\"seconds\":%.3f,\"img_per_s\":%.1f,"
               "\"params\":%lld,\"flops\":%.0f,\"threads\":%d,\"seed\":%llu}\n",
               names[st], res.epochs_done, res.train_loss, res.train_err, tj, bj, res.seconds,
               res.img_per_s, res.params, cx.flops, r.threads, (unsigned long long)r.seed);
    }
    if (json && fi.cache[0]) /* an image folder: what the loader did, on a line of its own */
        printf("{\"data\":\"folder\",\"classes\":%d,\"train\":%d,\"eval\":%d,"
               "\"skipped\":%d,\"cache_built\":%s}\n",
               fi.classes, tr.n, eval->n, fi.skipped, fi.built ? "true" : "false");
    ns_data_free(&tr);
    ns_data_free(&te);
    ns_data_free(&va);
    return st == NS_TRAIN_OK ? 0 : 1;
}
