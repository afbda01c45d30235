/* netspace model: generate a config from RegNet parameters (or read one) and print its stages
 * and exact complexity. */
#include "cli/cli.h"
#include "nn/memory.h"

#include "space/space.h"
#include "util/err.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *help =
    "usage: netspace model (--regnet \"PARAMS\" | --config FILE) [options]\n"
    "\n"
    "Generate a model config from RegNet parameters, or read a canonical config, and print\n"
    "its stages and complexity (flops = multiply-adds per image, params, acts).\n"
    "\n"
    "  --regnet \"depth=D w0=W0 wa=WA wm=WM group_w=G [bot_mul=B] [se_r=R]\"\n"
    "                       RegNet parameters (bot_mul defaults to 1; se_r, used by\n"
    "                       --block y, to 0.25)\n"
    "  --config FILE        a canonical config JSON file instead\n"
    "  --im-size N          input size (default 224, or the config's)\n"
    "  --in-ch N            input channels (default 3, or the config's)\n"
    "  --classes N          classes (default 1000, or the config's)\n"
    "  --stem TYPE          cifar, simple or res (default simple; --regnet only)\n"
    "  --stem-w N           stem width (default 32; --regnet only)\n"
    "  --block x|y          RegNetX or RegNetY blocks (default x; --regnet only)\n"
    "  --bot-mul B          bottleneck multiplier (same as bot_mul= in --regnet)\n"
    "  --first-stride 1|2   stride of the first stage (default 2; --regnet only)\n"
    "  --batch N            the batch for the memory estimate (default 128)\n"
    "  --json               print one JSON object: the canonical config plus hash, flops,\n"
    "                       params, acts, widths, depths, group_widths, train_memory\n"
    "                       (bytes to train at --batch, estimated before allocating)\n"
    "  -h, --help           this help\n";

/* "199040872" as "0.199 G": the unit that puts the value in [0.1, 100). */
static void human(double v, char *buf, size_t n)
{
    static const char *units[] = {"", "K", "M", "G", "T"};
    int u = 0;
    while (v >= 100 * 1e3 && u < 4) {
        v /= 1e3;
        u++;
    }
    if (v >= 100 && u < 4) {
        v /= 1e3;
        u++;
    }
    snprintf(buf, n, "%.3g %s", v, units[u]);
}

/* The batch of the memory estimate (--batch). */
static long mem_batch = 128;

static double train_memory(const struct ns_config *c, const struct ns_complexity *cx)
{
    return (double)ns_net_memory_estimate(c, cx->params, cx->acts, (int)mem_batch);
}

static int print_json(const struct ns_config *c, const struct ns_complexity *cx)
{
    json_t *j = ns_config_to_jansson(c);
    if (!j)
        return -1;
    char hash[17];
    ns_config_hash(c, hash);
    json_t *ws = json_array(), *ds = json_array(), *gs = json_array();
    for (int i = 0; i < c->n_stages; i++) {
        json_array_append_new(ws, json_integer(c->stages[i].w));
        json_array_append_new(ds, json_integer(c->stages[i].d));
        json_array_append_new(gs, json_integer(c->stages[i].g));
    }
    json_object_set_new(j, "widths", ws);
    json_object_set_new(j, "depths", ds);
    json_object_set_new(j, "group_widths", gs);
    json_object_set_new(j, "flops", json_integer((json_int_t)cx->flops));
    json_object_set_new(j, "params", json_integer((json_int_t)cx->params));
    json_object_set_new(j, "acts", json_integer((json_int_t)cx->acts));
    json_object_set_new(j, "train_memory", json_integer((json_int_t)train_memory(c, cx)));
    json_object_set_new(j, "hash", json_string(hash));
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
    json_decref(j);
    if (!s)
        return ns_err("out of memory");
    printf("%s\n", s);
    free(s);
    return 0;
}

static void print_table(const struct ns_config *c, const struct ns_complexity *cx)
{
    char hash[17], f[32], p[32], a[32];
    ns_config_hash(c, hash);
    printf("input %dx%dx%d, %d classes; stem %s, %d channels; block %s", c->in_ch, c->im_size,
           c->im_size, c->classes, ns_stem_name(c->stem), c->stem_w, ns_block_name(c->block));
    if (c->se_r > 0)
        printf(", se_r %g", c->se_r);
    if (c->bn_order != NS_BN_BEFORE_ACT)
        printf("; BN %s", ns_bn_order_name(c->bn_order));
    printf("\n\nstage    d      w  s      g      b\n");
    for (int i = 0; i < c->n_stages; i++) {
        const struct ns_stage *s = &c->stages[i];
        printf("%5d %4d %6d %2d %6d %6g\n", i + 1, s->d, s->w, s->s, s->g, s->b);
    }
    human(cx->flops, f, sizeof f);
    human(cx->params, p, sizeof p);
    human(cx->acts, a, sizeof a);
    printf("\nflops   %-9s (%.0f multiply-adds per image)\n", f, cx->flops);
    printf("params  %-9s (%.0f)\n", p, cx->params);
    printf("acts    %-9s (%.0f)\n", a, cx->acts);
    printf("memory  %.0f MB to train at batch %ld (estimated)\n", train_memory(c, cx) / (1 << 20),
           mem_batch);
    printf("hash    %s\n", hash);
}

int ns_cmd_model(int argc, char **argv)
{
    static const struct option opts[] = {
        {"regnet", required_argument, 0, 'r'},  {"config", required_argument, 0, 'c'},
        {"im-size", required_argument, 0, 'i'}, {"in-ch", required_argument, 0, 'n'},
        {"classes", required_argument, 0, 'k'}, {"stem", required_argument, 0, 's'},
        {"stem-w", required_argument, 0, 'w'},  {"block", required_argument, 0, 'b'},
        {"bot-mul", required_argument, 0, 'm'}, {"first-stride", required_argument, 0, 'f'},
        {"json", no_argument, 0, 'j'},          {"batch", required_argument, 0, 'B'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    const char *regnet = NULL, *config = NULL;
    long im_size = -1, in_ch = -1, classes = -1, stem_w = -1, first_stride = -1;
    int stem = -1, block = -1, json = 0;
    double bot_mul = -1;
    optind = 0;
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'r':
            regnet = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'i':
            if (ns_cli_int("model", "--im-size", optarg, 4, 1024, &im_size))
                return 2;
            break;
        case 'n':
            if (ns_cli_int("model", "--in-ch", optarg, 1, 64, &in_ch))
                return 2;
            break;
        case 'k':
            if (ns_cli_int("model", "--classes", optarg, 2, 1000000, &classes))
                return 2;
            break;
        case 'w':
            if (ns_cli_int("model", "--stem-w", optarg, 1, 4096, &stem_w))
                return 2;
            break;
        case 'f':
            if (ns_cli_int("model", "--first-stride", optarg, 1, 2, &first_stride))
                return 2;
            break;
        case 'm':
            if (ns_cli_double("model", "--bot-mul", optarg, &bot_mul))
                return 2;
            if (!(bot_mul > 0))
                return ns_cli_usage_error("model", "--bot-mul: %s must be > 0", optarg);
            break;
        case 's':
            stem = ns_stem_from_name(optarg);
            if (stem < 0)
                return ns_cli_usage_error("model",
                                          "--stem: unknown stem '%s' (cifar, simple, "
                                          "res)",
                                          optarg);
            break;
        case 'b':
            block = ns_block_from_name(optarg);
            if (block != NS_BLOCK_X && block != NS_BLOCK_Y)
                return ns_cli_usage_error("model", "--block: '%s' is not x or y", optarg);
            break;
        case 'j':
            json = 1;
            break;
        case 'B':
            if (ns_cli_int("model", "--batch", optarg, 1, 1 << 20, &mem_batch))
                return 2;
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            return ns_cli_usage_error("model", "unknown or incomplete option '%s'",
                                      argv[optind - 1]);
        }
    }
    if (optind < argc)
        return ns_cli_usage_error("model", "unexpected argument '%s'", argv[optind]);
    if (!regnet == !config)
        return ns_cli_usage_error("model", "give exactly one of --regnet and --config");
    if (config && (stem >= 0 || stem_w >= 0 || block >= 0 || bot_mul > 0 || first_stride > 0))
        return ns_cli_usage_error("model", "--stem, --stem-w, --block, --bot-mul and "
                                           "--first-stride go with --regnet, not --config");

    struct ns_config c;
    if (config) {
        if (ns_config_load(config, &c)) {
            ns_die_msg();
            return 1;
        }
        if (in_ch > 0)
            c.in_ch = (int)in_ch;
        if (im_size > 0)
            c.im_size = (int)im_size;
        if (classes > 0)
            c.classes = (int)classes;
    } else {
        struct ns_regnet r;
        if (ns_regnet_parse(regnet, &r)) {
            ns_die_msg();
            return 1;
        }
        if (bot_mul > 0)
            r.bot_mul = bot_mul;
        memset(&c, 0, sizeof c);
        c.in_ch = in_ch > 0 ? (int)in_ch : 3;
        c.im_size = im_size > 0 ? (int)im_size : 224;
        c.classes = classes > 0 ? (int)classes : 1000;
        c.stem = stem >= 0 ? (enum ns_stem)stem : NS_STEM_SIMPLE;
        c.stem_w = stem_w > 0 ? (int)stem_w : 32;
        c.block = block >= 0 ? (enum ns_block)block : NS_BLOCK_X;
        if (ns_regnet_generate(&r, first_stride > 0 ? (int)first_stride : 2, &c)) {
            ns_die_msg();
            return 1;
        }
    }
    struct ns_complexity cx;
    if (ns_complexity(&c, &cx) || (json ? print_json(&c, &cx) : (print_table(&c, &cx), 0))) {
        ns_die_msg();
        return 1;
    }
    return 0;
}
