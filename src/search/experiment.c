/* Experiment files: parsing with every key checked, the canonical form stored in the db,
 * finding the space file, and loading the experiment's dataset.
 *
 * The canonical form is rebuilt from the parsed values with every default written out, so a
 * file that spells out a default and one that leaves it implicit are the same experiment,
 * while any change that alters the trials (a recipe value, the seed, the data) is not. */
#include "search/search.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "util/paths.h"

#define MAX_SAMPLES 100000
#define MAX_THREADS 256
#define MAX_SEED 9007199254740992LL /* 2^53: every seed survives a trip through a double */
#define MAX_VAL_SPLIT 0.9

static const char *const top_keys[] = {"name", "space",  "samples", "seed",   "train_seed",
                                       "constraints", "data", "recipe", "threads", "limits",
                                       "search", "keep_weights", "checkpoint_every", NULL};
static const char *const search_keys[] = {"kind", "eta", "min_epochs", "max_epochs", NULL};
#define DEFAULT_ETA 3
static const char *const limits_keys[] = {"memory_mb", "trial_minutes", "max_attempts", "isolate",
                                          NULL};
#define DEFAULT_MAX_ATTEMPTS 2
static const char *const data_keys[] = {"name", "dir",    "val_split", "train_limit", "test_limit",
                                        "n",    "n_test", "size",      "channels",    "classes",
                                        "seed", "strict", "cache",     NULL};
static const char *const synth_only_keys[] = {"n", "n_test", "classes", "seed", NULL};
static const char *const folder_only_keys[] = {"strict", "cache", NULL};
static const char *const recipe_keys[] = {"epochs",
                                          "batch",
                                          "lr",
                                          "momentum",
                                          "nesterov",
                                          "weight_decay",
                                          "warmup_epochs",
                                          "warmup_factor",
                                          "crop_pad",
                                          "flip",
                                          "rotate",
                                          "zoom",
                                          "rrc_scale",
                                          "dropout",
                                          "drop_path",
                                          "optimizer",
                                          "beta1",
                                          "beta2",
                                          "zero_init_last_bn",
                                          "eval_batch",
                                          "eval_every",
                                          "agc",
                                          NULL};

/* The parse context: the name of the text for messages and the section being read. */
struct ctx {
    const char *where;
    const char *section; /* "" for the top level, else "data." or "recipe." */
};

static int fail(const struct ctx *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(const struct ctx *c, const char *key, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ns_err("%s: %s%s: %s", c->where, c->section, key, msg);
}

static int in_list(const char *const *list, const char *s)
{
    for (int i = 0; list[i]; i++)
        if (!strcmp(list[i], s))
            return 1;
    return 0;
}

static int check_keys(const struct ctx *c, const json_t *obj, const char *const *known)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (in_list(known, key))
            continue;
        char list[512] = "";
        size_t used = 0;
        for (int i = 0; known[i] && used < sizeof list; i++)
            used +=
                (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", known[i]);
        return fail(c, key, "unknown key (known: %s)", list);
    }
    return 0;
}

/* An integer in [lo, hi]; integral reals (2.0) are accepted. Missing: *out unchanged. */
static int get_int(const struct ctx *c, const json_t *obj, const char *key, long long lo,
                   long long hi, long long *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    long long x;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) == nearbyint(json_real_value(v)) &&
               fabs(json_real_value(v)) < 9.2e18) {
        x = (long long)json_real_value(v);
    } else {
        return fail(c, key, "expected an integer in %lld..%lld, got %s", lo, hi,
                    ns_json_type_name(v));
    }
    if (x < lo || x > hi)
        return fail(c, key, "%lld is not in %lld..%lld", x, lo, hi);
    *out = x;
    return 0;
}

static int get_int32(const struct ctx *c, const json_t *obj, const char *key, int lo, int hi,
                     int *out)
{
    long long x = *out;
    if (get_int(c, obj, key, lo, hi, &x) < 0)
        return -1;
    *out = (int)x;
    return 0;
}

/* A finite number in [lo, hi] (lo_open: > lo). Missing: *out unchanged. */
static int get_num(const struct ctx *c, const json_t *obj, const char *key, double lo, int lo_open,
                   double hi, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_number(v))
        return fail(c, key, "expected a number, got %s", ns_json_type_name(v));
    double x = json_number_value(v);
    if (!isfinite(x) || x < lo || (lo_open && x == lo) || x > hi) {
        if (isinf(hi))
            return fail(c, key, "%g is not %s %g", x, lo_open ? ">" : ">=", lo);
        return fail(c, key, "%g is not in %s%g, %g]", x, lo_open ? "(" : "[", lo, hi);
    }
    *out = x;
    return 0;
}

static int get_bool(const struct ctx *c, const json_t *obj, const char *key, int *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return fail(c, key, "expected true or false, got %s", ns_json_type_name(v));
    *out = json_is_true(v);
    return 0;
}

/* A non-empty string, copied (NULL when missing and not required). */
static int get_str(const struct ctx *c, const json_t *obj, const char *key, int required,
                   char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return fail(c, key, "missing (required)");
        return 0;
    }
    if (!json_is_string(v) || !json_string_length(v))
        return fail(c, key, "expected a non-empty string, got %s",
                    json_is_string(v) ? "\"\"" : ns_json_type_name(v));
    if (strlen(json_string_value(v)) != json_string_length(v))
        return fail(c, key, "contains a NUL character");
    *out = strdup(json_string_value(v));
    if (!*out)
        return fail(c, key, "out of memory");
    return 0;
}

static int valid_name(const char *s)
{
    if (!*s || strlen(s) > 100)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

static int parse_data(const struct ctx *top, const json_t *j, struct ns_exp_data *d)
{
    struct ctx c = {top->where, "data."};
    if (!json_is_object(j))
        return fail(top, "data", "expected an object, got %s", ns_json_type_name(j));
    if (check_keys(&c, j, data_keys) < 0)
        return -1;
    char *name = NULL;
    if (get_str(&c, j, "name", 1, &name) < 0)
        return -1;
    int kind = ns_data_kind_from_name(name);
    if (kind < 0 || strlen(name) >= sizeof d->name) {
        free(name);
        return fail(&c, "name", "%s", ns_errmsg());
    }
    snprintf(d->name, sizeof d->name, "%s", name);
    free(name);
    d->kind = (enum ns_data_kind)kind;
    const int synth = d->kind == NS_DATA_SYNTHETIC, folder = d->kind == NS_DATA_FOLDER;
    if (synth && json_object_get(j, "dir"))
        return fail(&c, "dir", "not used by the synthetic dataset");
    for (int i = 0; !synth && synth_only_keys[i]; i++)
        if (json_object_get(j, synth_only_keys[i]))
            return fail(&c, synth_only_keys[i], "only for the synthetic dataset");
    for (int i = 0; !folder && folder_only_keys[i]; i++)
        if (json_object_get(j, folder_only_keys[i]))
            return fail(&c, folder_only_keys[i], "only for an image folder (name \"folder\")");
    static const char *const shape_keys[] = {"size", "channels", NULL};
    for (int i = 0; !synth && !folder && shape_keys[i]; i++)
        if (json_object_get(j, shape_keys[i]))
            return fail(&c, shape_keys[i], "only for the synthetic dataset or an image folder");
    if (folder) {
        json_t *dj = json_object_get(j, "dir");
        if (!dj || json_is_null(dj))
            return fail(&c, "dir", "missing (an image folder needs its folder)");
        if (!json_object_get(j, "size"))
            return fail(&c, "size", "missing (an image folder needs the image size)");
        d->folder_channels = 3;
        if (get_int32(&c, j, "size", 8, 1024, &d->folder_size) < 0 ||
            get_int32(&c, j, "channels", 1, 3, &d->folder_channels) < 0 ||
            get_bool(&c, j, "strict", &d->folder_strict) < 0 ||
            get_str(&c, j, "cache", 0, &d->folder_cache) < 0)
            return -1;
        if (d->folder_channels == 2)
            return fail(&c, "channels", "2 is not 1 (gray) or 3 (RGB)");
    }
    json_t *dir = json_object_get(j, "dir");
    if (dir && !json_is_null(dir) && get_str(&c, j, "dir", 0, &d->dir) < 0)
        return -1;
    d->synth_n = NS_DATA_SYNTH_TRAIN;
    d->synth_size = NS_DATA_SYNTH_SIZE;
    d->synth_channels = 1;
    d->synth_classes = NS_DATA_SYNTH_CLASSES;
    d->synth_seed = NS_DATA_SYNTH_SEED;
    long long seed = (long long)d->synth_seed;
    if (get_num(&c, j, "val_split", 0, 0, MAX_VAL_SPLIT, &d->val_split) < 0 ||
        get_int32(&c, j, "train_limit", 0, INT_MAX, &d->train_limit) < 0 ||
        get_int32(&c, j, "test_limit", 0, INT_MAX, &d->test_limit) < 0 ||
        get_int32(&c, j, "n", 2, 1000000, &d->synth_n) < 0 ||
        (synth && get_int32(&c, j, "size", 4, 1024, &d->synth_size) < 0) ||
        (synth && get_int32(&c, j, "channels", 1, NS_DATA_MAX_CH, &d->synth_channels) < 0) ||
        get_int32(&c, j, "classes", 2, 256, &d->synth_classes) < 0 ||
        get_int(&c, j, "seed", 0, MAX_SEED, &seed) < 0)
        return -1;
    d->synth_seed = (uint64_t)seed;
    int n_test = d->synth_n / 4 > 0 ? d->synth_n / 4 : 1;
    if (get_int32(&c, j, "n_test", 1, 1000000, &n_test) < 0)
        return -1;
    d->synth_n_test = n_test;
    if (d->train_limit == 1)
        return fail(&c, "train_limit", "1 image cannot be trained on (0 = all)");
    return 0;
}

static int parse_recipe(const struct ctx *top, const json_t *j, struct ns_recipe *r)
{
    struct ctx c = {top->where, "recipe."};
    if (!json_is_object(j))
        return fail(top, "recipe", "expected an object, got %s", ns_json_type_name(j));
    if (check_keys(&c, j, recipe_keys) < 0)
        return -1;
    if (get_int32(&c, j, "epochs", 1, 100000, &r->epochs) < 0 ||
        get_int32(&c, j, "batch", 1, 65536, &r->batch) < 0 ||
        get_num(&c, j, "lr", 0, 1, 1e9, &r->lr) < 0 ||
        get_num(&c, j, "momentum", 0, 0, 0.999999, &r->momentum) < 0 ||
        get_bool(&c, j, "nesterov", &r->nesterov) < 0 ||
        get_num(&c, j, "weight_decay", 0, 0, 1, &r->wd) < 0 ||
        get_num(&c, j, "warmup_epochs", 0, 0, 100000, &r->warmup_epochs) < 0 ||
        get_num(&c, j, "warmup_factor", 0, 1, 1, &r->warmup_factor) < 0 ||
        get_int32(&c, j, "crop_pad", 0, 16, &r->crop_pad) < 0 ||
        get_bool(&c, j, "flip", &r->flip) < 0 ||
        get_num(&c, j, "rotate", 0, 0, 180, &r->rotate) < 0 ||
        get_num(&c, j, "zoom", 0, 0, 0.9, &r->zoom) < 0 ||
        get_num(&c, j, "rrc_scale", 0, 0, 1, &r->rrc_scale) < 0 ||
        get_num(&c, j, "dropout", 0, 0, 0.99, &r->dropout) < 0 ||
        get_num(&c, j, "drop_path", 0, 0, 0.99, &r->drop_path) < 0 ||
        get_bool(&c, j, "zero_init_last_bn", &r->zero_init_last_bn) < 0 ||
        get_int32(&c, j, "eval_batch", 0, 65536, &r->eval_batch) < 0 ||
        get_int32(&c, j, "eval_every", 1, 100000, &r->eval_every) < 0 ||
        get_num(&c, j, "beta1", 0, 0, 0.999999, &r->beta1) < 0 ||
        get_num(&c, j, "beta2", 0, 0, 0.999999, &r->beta2) < 0 ||
        get_num(&c, j, "agc", 0, 0, 100, &r->agc) < 0)
        return -1;
    char *opt = NULL;
    if (get_str(&c, j, "optimizer", 0, &opt) < 0)
        return -1;
    if (opt) {
        int known = !strcmp(opt, "sgd") || !strcmp(opt, "adamw");
        r->optimizer = strcmp(opt, "adamw") ? NS_OPT_SGD : NS_OPT_ADAMW;
        if (!known) {
            fail(&c, "optimizer", "unknown optimizer '%s' (sgd, adamw)", opt);
            free(opt);
            return -1;
        }
        free(opt);
        /* SGD's Nesterov default means nothing to AdamW */
        if (r->optimizer == NS_OPT_ADAMW && !json_object_get(j, "nesterov"))
            r->nesterov = 0;
    }
    if (r->nesterov && r->momentum == 0)
        return fail(&c, "nesterov", "needs momentum > 0");
    if (r->warmup_epochs > r->epochs)
        return fail(&c, "warmup_epochs", "%g is longer than the %d epochs", r->warmup_epochs,
                    r->epochs);
    return 0;
}

static int parse_limits(const struct ctx *top, const json_t *j, struct ns_exp_limits *l)
{
    struct ctx c = {top->where, "limits."};
    if (!json_is_object(j))
        return fail(top, "limits", "expected an object, got %s", ns_json_type_name(j));
    if (check_keys(&c, j, limits_keys) < 0)
        return -1;
    return get_int32(&c, j, "memory_mb", 0, 16 << 20, &l->memory_mb) < 0 ||
                   get_num(&c, j, "trial_minutes", 0, 0, 1e6, &l->trial_minutes) < 0 ||
                   get_int32(&c, j, "max_attempts", 1, 1000, &l->max_attempts) < 0 ||
                   get_bool(&c, j, "isolate", &l->isolate) < 0
               ? -1
           : !l->isolate && l->memory_mb > 0
               ? fail(&c, "memory_mb",
                      "needs \"isolate\": true (the limit is set on the "
                      "trial's own process)")
               : 0;
}

/* "search" (after the recipe: its epochs and max_epochs are one number). */
static int parse_search(const struct ctx *top, const json_t *j, struct ns_experiment *ex,
                        int epochs_given)
{
    struct ctx c = {top->where, "search."};
    struct ns_exp_search *s = &ex->search;
    s->kind = NS_FID_RANDOM;
    s->eta = DEFAULT_ETA;
    s->min_epochs = 1;
    s->max_epochs = ex->recipe.epochs;
    if (!j)
        return 0;
    if (!json_is_object(j))
        return fail(top, "search", "expected an object, got %s", ns_json_type_name(j));
    if (check_keys(&c, j, search_keys) < 0)
        return -1;
    json_t *kind = json_object_get(j, "kind");
    if (kind) {
        if (!json_is_string(kind))
            return fail(&c, "kind", "expected a string (random, sha, hyperband, asha), got %s",
                        ns_json_type_name(kind));
        s->kind = ns_fid_kind_from_name(json_string_value(kind));
        if (s->kind < 0)
            return fail(&c, "kind", "unknown kind '%s' (random, sha, hyperband, asha)",
                        json_string_value(kind));
    }
    if (s->kind == NS_FID_RANDOM) {
        const char *const rungs_only[] = {"eta", "min_epochs", "max_epochs", NULL};
        for (int i = 0; rungs_only[i]; i++)
            if (json_object_get(j, rungs_only[i]))
                return fail(&c, rungs_only[i],
                            "only for the rung schedules (kind sha, hyperband, asha); random "
                            "search trains every trial for recipe.epochs");
        return 0;
    }
    if (get_int32(&c, j, "eta", 2, 100, &s->eta) < 0 ||
        get_int32(&c, j, "min_epochs", 1, 100000, &s->min_epochs) < 0 ||
        get_int32(&c, j, "max_epochs", 1, 100000, &s->max_epochs) < 0)
        return -1;
    if (json_object_get(j, "max_epochs")) {
        if (epochs_given && s->max_epochs != ex->recipe.epochs)
            return fail(&c, "max_epochs",
                        "%d differs from recipe.epochs (%d): every trial's learning-rate "
                        "schedule spans max_epochs; give one of them",
                        s->max_epochs, ex->recipe.epochs);
        ex->recipe.epochs = s->max_epochs;
    } else if (s->min_epochs > s->max_epochs) {
        /* name what the file says: max_epochs was not given, it is recipe.epochs */
        return fail(&c, "min_epochs", "%d is more than recipe.epochs (%d), the max_epochs",
                    s->min_epochs, s->max_epochs);
    }
    int epochs[NS_FID_MAX_RUNGS];
    struct ns_fid_spec spec = {s->kind, s->eta, s->min_epochs, s->max_epochs};
    int n = ns_fid_rungs(&spec, epochs);
    if (n < 0)
        return ns_err_prefix("%s", c.where);
    if (s->kind == NS_FID_HYPERBAND && ex->samples < n)
        return fail(top, "samples",
                    "%d: hyperband with %d rungs has %d brackets and needs at least one "
                    "sample each",
                    ex->samples, n, n);
    return 0;
}

/* The canonical form: every value, defaults included, as compact JSON with sorted keys.
 * "limits" only when one differs from its default, so the experiments written before it
 * existed keep their text; it is how a run is limited, not what it trains, and
 * ns_experiment_study_json() leaves it out of the study. */
static char *canonical(const struct ns_experiment *ex)
{
    const struct ns_exp_data *d = &ex->data;
    const struct ns_recipe *r = &ex->recipe;
    json_t *data = json_pack("{s:s, s:o, s:f, s:i, s:i}", "name", d->name, "dir",
                             d->dir ? json_string(d->dir) : json_null(), "val_split", d->val_split,
                             "train_limit", d->train_limit, "test_limit", d->test_limit);
    if (data && d->kind == NS_DATA_SYNTHETIC) {
        json_object_del(data, "dir");
        json_object_set_new(data, "n", json_integer(d->synth_n));
        json_object_set_new(data, "n_test", json_integer(d->synth_n_test));
        json_object_set_new(data, "size", json_integer(d->synth_size));
        json_object_set_new(data, "channels", json_integer(d->synth_channels));
        json_object_set_new(data, "classes", json_integer(d->synth_classes));
        json_object_set_new(data, "seed", json_integer((json_int_t)d->synth_seed));
    }
    if (data && d->kind == NS_DATA_FOLDER) {
        json_object_set_new(data, "size", json_integer(d->folder_size));
        json_object_set_new(data, "channels", json_integer(d->folder_channels));
        json_object_set_new(data, "strict", json_boolean(d->folder_strict));
        if (d->folder_cache)
            json_object_set_new(data, "cache", json_string(d->folder_cache));
    }
    json_t *recipe = json_pack(
        "{s:i, s:i, s:f, s:f, s:b, s:f, s:f, s:f, s:i, s:b, s:f, s:b, s:i}", "epochs", r->epochs,
        "batch", r->batch, "lr", r->lr, "momentum", r->momentum, "nesterov", r->nesterov,
        "weight_decay", r->wd, "warmup_epochs", r->warmup_epochs, "warmup_factor", r->warmup_factor,
        "crop_pad", r->crop_pad, "flip", r->flip, "dropout", r->dropout, "zero_init_last_bn",
        r->zero_init_last_bn, "eval_batch", r->eval_batch);
    /* options added later only when set, so that earlier studies keep their canonical form */
    if (recipe && r->drop_path > 0)
        json_object_set_new(recipe, "drop_path", json_real(r->drop_path));
    if (recipe && r->optimizer == NS_OPT_ADAMW) {
        json_object_set_new(recipe, "optimizer", json_string("adamw"));
        json_object_set_new(recipe, "beta1", json_real(r->beta1));
        json_object_set_new(recipe, "beta2", json_real(r->beta2));
    }
    if (recipe && r->rotate > 0)
        json_object_set_new(recipe, "rotate", json_real(r->rotate));
    if (recipe && r->zoom > 0)
        json_object_set_new(recipe, "zoom", json_real(r->zoom));
    if (recipe && r->rrc_scale > 0)
        json_object_set_new(recipe, "rrc_scale", json_real(r->rrc_scale));
    if (recipe && r->agc > 0)
        json_object_set_new(recipe, "agc", json_real(r->agc));
    if (recipe && r->eval_every > 1)
        json_object_set_new(recipe, "eval_every", json_integer(r->eval_every));
    json_t *space = ex->space_inline ? json_incref(ex->space_inline) : json_string(ex->space_file);
    json_t *top = json_pack("{s:s, s:o, s:i, s:I, s:o, s:o, s:i}", "name", ex->name, "space", space,
                            "samples", ex->samples, "seed", (json_int_t)ex->seed, "data", data,
                            "recipe", recipe, "threads", r->threads);
    if (top && ex->constraints)
        json_object_set(top, "constraints", ex->constraints);
    if (top && ex->has_train_seed) /* added with issue #17: only when set */
        json_object_set_new(top, "train_seed", json_integer((json_int_t)ex->train_seed));
    /* added with issue #15: only when set, so that earlier studies keep their text */
    const struct ns_exp_search *sr = &ex->search;
    if (top && sr->kind != NS_FID_RANDOM)
        json_object_set_new(top, "search",
                            json_pack("{s:s, s:i, s:i, s:i}", "kind", ns_fid_kind_name(sr->kind),
                                      "eta", sr->eta, "min_epochs", sr->min_epochs,
                                      "max_epochs", sr->max_epochs));
    if (top && ex->keep_weights)
        json_object_set_new(top, "keep_weights", json_integer(ex->keep_weights));
    if (top && ex->checkpoint_every)
        json_object_set_new(top, "checkpoint_every", json_integer(ex->checkpoint_every));
    const struct ns_exp_limits *l = &ex->limits;
    if (top && (l->memory_mb || l->trial_minutes > 0 || l->max_attempts != DEFAULT_MAX_ATTEMPTS ||
                !l->isolate))
        json_object_set_new(top, "limits",
                            json_pack("{s:i, s:f, s:i, s:b}", "memory_mb", l->memory_mb,
                                      "trial_minutes", l->trial_minutes, "max_attempts",
                                      l->max_attempts, "isolate", l->isolate));
    char *s = top ? json_dumps(top, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(top);
    if (!s)
        ns_err("%s: out of memory", ex->file);
    return s;
}

static int parse_obj(const json_t *root, const struct ctx *c, struct ns_experiment *ex)
{
    if (!json_is_object(root))
        return ns_err("%s: expected a JSON object at the top, got %s", c->where,
                      ns_json_type_name(root));
    if (check_keys(c, root, top_keys) < 0 || get_str(c, root, "name", 1, &ex->name) < 0)
        return -1;
    if (!valid_name(ex->name))
        return fail(c, "name", "'%s' is not a name (1-100 letters, digits, '_', '-', '.')",
                    ex->name);
    json_t *space = json_object_get(root, "space");
    if (json_is_object(space)) {
        ex->space_inline = json_incref(space);
    } else if (!space || json_is_string(space)) {
        if (get_str(c, root, "space", 1, &ex->space_file) < 0)
            return -1;
    } else {
        return fail(c, "space", "expected a file name or a space object, got %s",
                    ns_json_type_name(space));
    }
    long long seed = 1, samples = 0;
    if (!json_object_get(root, "samples"))
        return fail(c, "samples", "missing (required)");
    if (get_int(c, root, "samples", 1, MAX_SAMPLES, &samples) < 0 ||
        get_int(c, root, "seed", 0, MAX_SEED, &seed) < 0)
        return -1;
    ex->samples = (int)samples;
    ex->seed = (uint64_t)seed;
    if (json_object_get(root, "train_seed")) {
        long long tseed = 0;
        if (get_int(c, root, "train_seed", 0, MAX_SEED, &tseed) < 0)
            return -1;
        ex->train_seed = (uint64_t)tseed;
        ex->has_train_seed = 1;
    }
    json_t *cons = json_object_get(root, "constraints");
    if (cons) {
        char where[600];
        snprintf(where, sizeof where, "%s: constraints", c->where);
        struct ns_constraints tmp;
        ns_constraints_none(&tmp);
        if (!json_is_object(cons))
            return fail(c, "constraints", "expected an object, got %s", ns_json_type_name(cons));
        if (ns_constraints_from_jansson(cons, where, &tmp) < 0)
            return -1;
        ex->constraints = json_incref(cons);
    }
    json_t *data = json_object_get(root, "data");
    if (!data)
        return fail(c, "data", "missing (required)");
    if (parse_data(c, data, &ex->data) < 0)
        return -1;
    ns_recipe_default(&ex->recipe);
    json_t *recipe = json_object_get(root, "recipe");
    if (recipe && parse_recipe(c, recipe, &ex->recipe) < 0)
        return -1;
    if (get_int32(c, root, "threads", 1, MAX_THREADS, &ex->recipe.threads) < 0)
        return -1;
    ex->limits.max_attempts = DEFAULT_MAX_ATTEMPTS;
    ex->limits.isolate = 1;
    json_t *limits = json_object_get(root, "limits");
    if (limits && parse_limits(c, limits, &ex->limits) < 0)
        return -1;
    if (parse_search(c, json_object_get(root, "search"), ex,
                     recipe && json_object_get(recipe, "epochs")) < 0 ||
        get_int32(c, root, "keep_weights", 0, MAX_SAMPLES, &ex->keep_weights) < 0 ||
        get_int32(c, root, "checkpoint_every", 0, 100000, &ex->checkpoint_every) < 0)
        return -1;
    if (ns_recipe_check(&ex->recipe) < 0)
        return ns_err_prefix("%s: recipe", c->where);
    ex->canonical = canonical(ex);
    return ex->canonical ? 0 : -1;
}

int ns_experiment_parse(const char *text, const char *where, struct ns_experiment *ex)
{
    memset(ex, 0, sizeof *ex);
    ex->file = strdup(where);
    if (!ex->file)
        return ns_err("%s: out of memory", where);
    struct ctx c = {where, ""};
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        ns_err("%s:%d:%d: %s", where, jerr.line, jerr.column, ns_json_error_text(&jerr));
        ns_experiment_free(ex);
        return -1;
    }
    int rc = parse_obj(root, &c, ex);
    json_decref(root);
    if (rc < 0)
        ns_experiment_free(ex);
    return rc;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ns_err("%s: cannot open: %m", path), NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - 1 - len, f);
        if (len < cap - 1)
            break;
        if (cap >= (64u << 20)) {
            free(buf);
            fclose(f);
            return ns_err("%s: larger than 64 MB; not an experiment file", path), NULL;
        }
        char *nb = realloc(buf, cap * 2);
        if (!nb)
            free(buf);
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf)
        return ns_err("%s: out of memory", path), NULL;
    if (bad) {
        free(buf);
        return ns_err("%s: read error", path), NULL;
    }
    buf[len] = 0;
    if (strlen(buf) != len) {
        free(buf);
        return ns_err("%s: contains NUL bytes; not a JSON file", path), NULL;
    }
    return buf;
}

static int resolve_data_dir(const char *path, struct ns_experiment *ex);

int ns_experiment_load(const char *path, struct ns_experiment *ex)
{
    memset(ex, 0, sizeof *ex);
    char *text = read_file(path);
    if (!text)
        return -1;
    int rc = ns_experiment_parse(text, path, ex);
    free(text);
    if (rc == 0 && resolve_data_dir(path, ex) < 0) {
        ns_experiment_free(ex);
        return -1;
    }
    if (rc < 0 || ex->space_inline)
        return rc;
    /* A relative space path is looked up beside the experiment file first, so an
     * experiment folder can be moved with its spaces; then from the current folder; then
     * in the installed share folder, as written (spaces/x.json) or as the shipped
     * experiments write it (../spaces/x.json, from share/netspace/experiments). */
    char cand[PATH_MAX];
    const char *sp = ex->space_file;
    if (sp[0] != '/') {
        const char *slash = strrchr(path, '/');
        int dirlen = slash ? (int)(slash - path) : 0;
        if (slash)
            snprintf(cand, sizeof cand, "%.*s/%s", dirlen, path, sp);
        else
            snprintf(cand, sizeof cand, "%s", sp);
        if (access(cand, R_OK) == 0)
            sp = cand;
        else if (access(sp, R_OK) != 0) {
            snprintf(cand, sizeof cand, "%s/%s", ns_share_dir(), sp);
            if (access(cand, R_OK) != 0)
                snprintf(cand, sizeof cand, "%s/experiments/%s", ns_share_dir(), sp);
            if (access(cand, R_OK) == 0)
                sp = cand;
        }
    }
    if (access(sp, R_OK) != 0) {
        ns_err("%s: space: cannot read '%s' (looked beside the experiment file, in the "
               "current folder and in %s)",
               path, ex->space_file, ns_share_dir());
        ns_experiment_free(ex);
        return -1;
    }
    ex->space_path = strdup(sp);
    if (!ex->space_path) {
        ns_experiment_free(ex);
        return ns_err("%s: out of memory", path);
    }
    json_error_t jerr;
    ex->space_file_json = json_load_file(ex->space_path, JSON_REJECT_DUPLICATES, &jerr);
    if (!ex->space_file_json) {
        ns_err("%s:%d:%d: %s", ex->space_path, jerr.line, jerr.column, ns_json_error_text(&jerr));
        ns_experiment_free(ex);
        return -1;
    }
    return 0;
}

/* A relative data.dir is beside the experiment file (not the current folder: a resume from
 * another folder must read the same data), made absolute so that every rank reads the same
 * path whatever its current folder. */
static int resolve_data_dir(const char *path, struct ns_experiment *ex)
{
    const char *dir = ex->data.dir;
    if (!dir || dir[0] == '/')
        return 0;
    char cwd[PATH_MAX] = "";
    const char *slash = strrchr(path, '/');
    if (path[0] != '/' && !getcwd(cwd, sizeof cwd))
        return ns_err("%s: data.dir: cannot resolve '%s': %m", path, dir);
    size_t n = strlen(cwd) + strlen(path) + strlen(dir) + 4;
    ex->data.dir_path = malloc(n);
    if (!ex->data.dir_path)
        return ns_err("%s: out of memory", path);
    snprintf(ex->data.dir_path, n, "%s%s%.*s%s%s", cwd, cwd[0] ? "/" : "",
             slash ? (int)(slash - path) : 0, path, slash ? "/" : "", dir);
    return 0;
}

int ns_experiment_cap_samples(struct ns_experiment *ex, int n)
{
    if (n < 1 || n > ex->samples)
        return ns_err("%s: --samples %d: must be 1 to the experiment's \"samples\" (%d); to "
                      "grow the study beyond it, raise \"samples\" in the file",
                      ex->file, n, ex->samples);
    if (n == ex->samples)
        return 0;
    if (ex->search.kind != NS_FID_RANDOM)
        return ns_err("%s: --samples %d: a multi-fidelity study cannot run a part of its "
                      "samples (its rungs are sized for all %d)",
                      ex->file, n, ex->samples);
    char *text = NULL;
    int old = ex->samples;
    ex->samples = n;
    text = canonical(ex);
    if (!text) {
        ex->samples = old;
        return -1;
    }
    free(ex->canonical);
    ex->canonical = text;
    return 0;
}

void ns_experiment_free(struct ns_experiment *ex)
{
    free(ex->file);
    free(ex->name);
    free(ex->space_file);
    free(ex->space_path);
    json_decref(ex->space_inline);
    json_decref(ex->space_file_json);
    json_decref(ex->constraints);
    free(ex->data.dir);
    free(ex->data.folder_cache);
    free(ex->data.dir_path);
    free(ex->canonical);
    memset(ex, 0, sizeof *ex);
}

int ns_exp_data_shape(const struct ns_exp_data *d, int *in_ch, int *im_size, int *classes)
{
    switch (d->kind) {
    case NS_DATA_CIFAR10:
        *in_ch = 3, *im_size = 32, *classes = 10;
        break;
    case NS_DATA_SYNTHETIC:
        *in_ch = d->synth_channels, *im_size = d->synth_size, *classes = d->synth_classes;
        break;
    case NS_DATA_FOLDER:
        *in_ch = d->folder_channels, *im_size = d->folder_size, *classes = 0;
        return ns_data_folder_classes(d->dir, classes);
    default:
        *in_ch = 1, *im_size = 28, *classes = 10;
        break;
    }
    return 0;
}

static void log_stderr(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "netspace: %s\n", msg);
}

/* Seed of the validation split: fixed, so every worker and every resume splits alike. */
#define VAL_SPLIT_SEED 0x5eed5711ull

int ns_exp_data_load(struct ns_exp_data *d, struct ns_dataset *train, struct ns_dataset *eval)
{
    memset(train, 0, sizeof *train);
    memset(eval, 0, sizeof *eval);
    d->skipped = 0;
    int rc;
    if (d->kind == NS_DATA_FOLDER) {
        struct ns_folder_opts fo = {.dir = d->dir,
                                    .size = d->folder_size,
                                    .channels = d->folder_channels,
                                    .strict = d->folder_strict,
                                    .cache = d->folder_cache,
                                    .log = log_stderr};
        struct ns_folder_info fi;
        rc = ns_data_load_folder(&fo, train, eval, &fi);
        if (rc == 0 && !fi.has_eval && !(d->val_split > 0)) {
            ns_err("%s: no test/ (or val/, validation/) folder: set data.val_split", d->dir);
            goto fail;
        }
        if (rc == 0)
            d->skipped = fi.skipped;
    } else if (d->kind == NS_DATA_SYNTHETIC)
        rc = ns_data_synthetic_pair(train, eval, d->synth_n, d->synth_n_test, d->synth_channels,
                                    d->synth_size, d->synth_classes, d->synth_seed);
    else
        rc = ns_data_load(d->kind, d->dir_path ? d->dir_path : d->dir, train, eval);
    if (rc < 0)
        return -1;
    int c, size, classes;
    if (ns_exp_data_shape(d, &c, &size, &classes) < 0)
        goto fail;
    if (train->c != c || train->h != size || train->w != size || train->classes != classes) {
        ns_err("%s: the data is %dx%dx%d with %d classes, not %dx%dx%d with %d", d->name, train->c,
               train->h, train->w, train->classes, c, size, size, classes);
        goto fail;
    }
    if (d->train_limit)
        ns_data_truncate(train, d->train_limit);
    if (d->val_split > 0) {
        ns_data_free(eval);
        if (ns_data_split(train, eval, d->val_split, VAL_SPLIT_SEED) < 0) {
            ns_err_prefix("%s: val_split", d->name);
            goto fail;
        }
    }
    if (d->test_limit)
        ns_data_truncate(eval, d->test_limit);
    ns_data_normalize(train, eval);
    return 0;
fail:
    ns_data_free(train);
    ns_data_free(eval);
    return -1;
}

struct ns_space *ns_experiment_space(const struct ns_experiment *ex)
{
    struct ns_space *sp;
    if (ex->space_inline) {
        char where[600];
        snprintf(where, sizeof where, "%s: space", ex->file);
        sp = ns_space_from_jansson(ex->space_inline, where);
    } else if (ex->space_file_json) {
        sp = ns_space_from_jansson(ex->space_file_json, ex->space_path);
    } else {
        sp = ns_space_load(ex->space_path ? ex->space_path : ex->space_file);
    }
    if (!sp)
        return NULL;
    int c, size, classes;
    if (ns_exp_data_shape(&ex->data, &c, &size, &classes) < 0 ||
        ns_space_set_input(sp, c, size, classes) < 0)
        goto fail;
    if (ex->constraints) {
        struct ns_constraints cons;
        char where[600];
        snprintf(where, sizeof where, "%s: constraints", ex->file);
        ns_constraints_none(&cons);
        if (ns_constraints_from_jansson(ex->constraints, where, &cons) < 0 ||
            ns_space_narrow(sp, &cons) < 0) {
            ns_err_prefix("%s: constraints", ex->file);
            goto fail;
        }
    }
    return sp;
fail:
    ns_space_free(sp);
    return NULL;
}

char *ns_experiment_study_json(const struct ns_experiment *ex, const char *space_path)
{
    json_error_t jerr;
    json_t *top = json_loads(ex->canonical, 0, &jerr);
    if (!top)
        return ns_err("%s: canonical form does not parse: %s", ex->file, jerr.text), NULL;
    if (!ex->space_inline && (ex->space_file_json || space_path)) {
        if (ex->space_file_json) {
            json_object_set_new(top, "space", json_deep_copy(ex->space_file_json));
        } else {
            json_t *def = json_load_file(space_path, JSON_REJECT_DUPLICATES, &jerr);
            if (!def) {
                json_decref(top);
                return ns_err("%s:%d:%d: %s", space_path, jerr.line, jerr.column,
                              ns_json_error_text(&jerr)),
                       NULL;
            }
            json_object_set_new(top, "space", def);
        }
        /* the content, not the path: moving the file, or naming it relative to another
         * folder, is the same experiment; editing it is not */
    }
    /* a resume may change these: how a run is limited and what it keeps, not what it trains */
    json_object_del(top, "limits");
    json_object_del(top, "keep_weights");
    json_object_del(top, "checkpoint_every");
    char *s = json_dumps(top, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(top);
    if (!s)
        ns_err("%s: out of memory", ex->file);
    return s;
}

/* Append the paths where a and b differ to out (at most `max` of them). */
static void diff_paths(const json_t *a, const json_t *b, const char *path, char *out, size_t n,
                       int *count, int max)
{
    if (*count >= max || json_equal((json_t *)a, (json_t *)b))
        return;
    if (json_is_object(a) && json_is_object(b)) {
        /* keys of either side, each once: a's, then those only in b */
        const char *key;
        json_t *v;
        char sub[256];
        json_object_foreach((json_t *)a, key, v)
        {
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
            json_t *w = json_object_get(b, key);
            if (!w) {
                diff_paths(v, json_null(), sub, out, n, count, max);
                continue;
            }
            diff_paths(v, w, sub, out, n, count, max);
        }
        json_object_foreach((json_t *)b, key, v)
        {
            if (json_object_get(a, key))
                continue;
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
            diff_paths(json_null(), v, sub, out, n, count, max);
        }
        return;
    }
    size_t len = strlen(out);
    snprintf(out + len, n - len, "%s%s", *count ? ", " : "", *path ? path : "(top)");
    (*count)++;
}

int ns_experiment_diff(const char *a, const char *b, char *out, size_t n)
{
    out[0] = 0;
    json_error_t jerr;
    json_t *ja = json_loads(a, 0, &jerr), *jb = json_loads(b, 0, &jerr);
    int count = 0;
    if (ja && jb) {
        diff_paths(ja, jb, "", out, n, &count, 4);
        if (count == 4) {
            size_t len = strlen(out);
            snprintf(out + len, n - len, ", ...");
        }
    }
    json_decref(ja);
    json_decref(jb);
    return count;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

void ns_exp_data_fingerprint(const struct ns_dataset *train, const struct ns_dataset *eval,
                             char out[17])
{
    uint64_t h = 0xcbf29ce484222325ull;
    const struct ns_dataset *sets[2] = {train, eval};
    for (int k = 0; k < 2; k++) {
        const struct ns_dataset *d = sets[k];
        int shape[5] = {d->n, d->h, d->w, d->c, d->classes};
        h = fnv1a(h, shape, sizeof shape);
        h = fnv1a(h, d->x, (size_t)d->n * d->h * d->w * d->c);
        h = fnv1a(h, d->y, (size_t)d->n);
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

void ns_exp_data_describe(const struct ns_exp_data *d, char *buf, size_t n)
{
    const char *dir = d->dir_path ? d->dir_path : d->dir ? d->dir : ns_data_default_dir(d->kind);
    if (d->kind == NS_DATA_FASHION_MNIST)
        snprintf(buf, n,
                 "%s in %s (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                 "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte)",
                 d->name, dir);
    else if (d->kind == NS_DATA_CIFAR10)
        snprintf(buf, n, "%s in %s (data_batch_1.bin ... data_batch_5.bin, test_batch.bin)",
                 d->name, dir);
    else
        snprintf(buf, n, "%s (generated)", d->name);
}

char *ns_experiment_setup_json(const struct ns_experiment *ex)
{
    json_t *top = json_loads(ex->canonical, 0, NULL);
    json_t *data = top ? json_object_get(top, "data") : NULL;
    if (data && ex->data.dir_path)
        json_object_set_new(data, "dir", json_string(ex->data.dir_path));
    char *s = top ? json_dumps(top, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(top);
    if (!s)
        ns_err("%s: out of memory", ex->file);
    return s;
}

int ns_exp_data_check(const struct ns_experiment *ex, const struct ns_dataset *train)
{
    if (ex->recipe.batch > train->n)
        return ns_err("%s: recipe.batch: %d is larger than the training set (%d images): no "
                      "trial could take a step; use a batch of at most %d",
                      ex->file, ex->recipe.batch, train->n, train->n);
    return 0;
}

uint64_t ns_exp_train_seed(const struct ns_experiment *ex, int trial)
{
    return ns_search_train_seed(ex->has_train_seed ? ex->train_seed : ex->seed, trial);
}

uint64_t ns_search_train_seed(uint64_t study_seed, int trial)
{
    uint64_t z = study_seed ^ ((uint64_t)(trial + 1) * 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
