/* netspace model: generate a config from RegNet parameters (or read one) and print its stages
 * and exact complexity. */
#include "cli/cli.h"
#include "nn/memory.h"

#include "model/graph.h"
#include "nn/net.h"
#include "space/space.h"
#include "util/err.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *help =
    "usage: netspace model (--regnet \"PARAMS\" | --config FILE | --preset NAME) [options]\n"
    "\n"
    "Generate a model config from RegNet parameters, or read a canonical config, and print\n"
    "its stages and complexity (flops = multiply-adds per image, params, acts).\n"
    "\n"
    "  --regnet \"depth=D w0=W0 wa=WA wm=WM group_w=G [bot_mul=B] [se_r=R]\"\n"
    "                       RegNet parameters (bot_mul defaults to 1; se_r, used by\n"
    "                       --block y, to 0.25)\n"
    "  --config FILE        a canonical config JSON file instead\n"
    "  --preset NAME        a published ImageNet model (--preset list: the names): resnet18,\n"
    "                       resnet50, resnext50_32x4d, wide_resnet50_2, mobilenet_v2,\n"
    "                       shufflenet_v2_x1_0, efficientnet_b0, regnet_y_400mf, vit_b_16,\n"
    "                       repvgg_a0\n"
    "  --im-size N          input size (default 224, or the config's)\n"
    "  --in-ch N            input channels (default 3, or the config's)\n"
    "  --classes N          classes (default 1000, or the config's)\n"
    "  --stem TYPE          cifar, simple or res (default simple; --regnet only)\n"
    "  --stem-w N           stem width (default 32; --regnet only)\n"
    "  --block x|y          RegNetX or RegNetY blocks (default x; --regnet only)\n"
    "  --bot-mul B          bottleneck multiplier (same as bot_mul= in --regnet)\n"
    "  --first-stride 1|2   stride of the first stage (default 2; --regnet only)\n"
    "  --layers             print the layer graph: one row per layer with its inputs,\n"
    "                       output shape, parameters and flops; with --json, the --json\n"
    "                       object plus \"layers\" (every layer's kind, inputs, shape\n"
    "                       [h, w, c], k, kw, stride, pad, groups, bias, relu, act, lo,\n"
    "                       rate, mul_in, mul_out, alpha, classifier, init, ...) and\n"
    "                       \"param_tensors\" (the parameters in the net's and the\n"
    "                       checkpoint's order: kind, layer, shape, channels last);\n"
    "                       bench/torch_net.py builds the PyTorch twin from it\n"
    "  --deploy             the inference form: every BN after a conv folded into it,\n"
    "                       RepVGG/ACNet branches merged into one 3x3 conv with a bias;\n"
    "                       its complexity (and layers with --layers, numbers with --json)\n"
    "  --batch N            batch size of the memory estimate (default 128)\n"
    "  --json               print one JSON object: the canonical config plus hash, flops,\n"
    "                       params, acts, widths, depths, group_widths, train_memory\n"
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

/* The --json object: the canonical config plus its hash and complexity (NULL, ns_err). */
static json_t *summary_json(const struct ns_config *c, const struct ns_complexity *cx,
                            size_t mem, int deploy)
{
    json_t *j = ns_config_to_jansson(c);
    if (!j)
        return NULL;
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
    json_object_set_new(j, "hash", json_string(hash));
    json_object_set_new(j, "train_memory", json_integer((json_int_t)mem));
    if (deploy)
        json_object_set_new(j, "form", json_string("deploy"));
    return j;
}

/* Print j on one line (keys sorted) and drop it. */
static int print_json(json_t *j)
{
    if (!j)
        return -1;
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
    json_decref(j);
    if (!s)
        return ns_err("out of memory");
    printf("%s\n", s);
    free(s);
    return 0;
}

static const char *init_name(enum ns_init i)
{
    static const char *const names[] = {"default", "xavier", "lecun", "torch", "zero"};
    return (unsigned)i < sizeof names / sizeof *names ? names[i] : "?";
}

/* Names of enum ns_param_kind, as the checkpoint's PTAB numbers them. */
static const char *param_kind_name(enum ns_param_kind k)
{
    static const char *const names[] = {"conv_w",   "bias",     "fc_w", "bn_gamma",
                                        "bn_beta",  "ln_gamma", "ln_beta", "cls",
                                        "pos",      "ws_w",     "ws_gain"};
    return (unsigned)k < sizeof names / sizeof *names ? names[k] : "?";
}

/* One layer as a JSON object: every field of struct ns_layer (graph.h), the act and init by
 * name, the output shape as [h, w, c], and its share of the complexity. */
static json_t *layer_json(const struct ns_graph *g, int id)
{
    const struct ns_layer *l = &g->layer[id];
    struct ns_complexity cx;
    ns_layer_complexity(g, id, &cx);
    json_t *in = json_array();
    for (int k = 0; k < 2; k++)
        if (l->in[k] >= 0)
            json_array_append_new(in, json_integer(l->in[k]));
    return json_pack("{s:i, s:s, s:o, s:[i,i,i], s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i,"
                     " s:s, s:i, s:i, s:i, s:f, s:s, s:i, s:f, s:f, s:f, s:f, s:f}",
                     "id", id, "kind", ns_layer_kind_name(l->kind), "in", in, "shape", l->h,
                     l->w, l->c, "stage", l->stage, "block", l->block, "k", l->k, "kw",
                     ns_layer_kw(l), "stride", l->stride, "pad", l->pad, "groups", l->groups,
                     "bias", l->bias, "relu", l->relu, "act", ns_act_name(l->act), "res_last",
                     l->res_last, "classifier", l->classifier, "lo", l->lo, "rate",
                     (double)l->rate, "init", init_name(l->init), "small_bias", l->small_bias,
                     "mul_in", (double)l->mul_in, "mul_out", (double)l->mul_out, "alpha",
                     (double)l->alpha, "flops", cx.flops, "params", cx.params);
}

/* The parameter tensors of layer l (input layer in) in the order ns_net_build adds them
 * (src/nn/net.c, the checkpoint's PTAB order): kind and shape, channels last as the net
 * stores them: conv weights (kh, kw, cin/groups, cout), linear ones (cin, cout), the
 * position embedding (tokens, c), vectors (c). Returns the number of tensors (at most 3). */
struct param_tensor {
    enum ns_param_kind kind;
    int dims;
    long long shape[4];
};

static int layer_param_tensors(const struct ns_layer *l, const struct ns_layer *in,
                               struct param_tensor *p)
{
    int n = 0;
    switch (l->kind) {
    case NS_L_CONV:
    case NS_L_WSCONV:
        p[n++] = (struct param_tensor){l->kind == NS_L_CONV ? NS_P_CONV_W : NS_P_WS_W, 4,
                                       {l->k, ns_layer_kw(l), in->c / l->groups, l->c}};
        if (l->kind == NS_L_WSCONV)
            p[n++] = (struct param_tensor){NS_P_WS_GAIN, 1, {l->c}};
        if (l->bias)
            p[n++] = (struct param_tensor){NS_P_BIAS, 1, {l->c}};
        break;
    case NS_L_LINEAR: /* SE's linear layers are conv-initialized: conv weights */
        p[n++] = (struct param_tensor){l->classifier ? NS_P_FC_W : NS_P_CONV_W, 2, {in->c, l->c}};
        p[n++] = (struct param_tensor){NS_P_BIAS, 1, {l->c}};
        break;
    case NS_L_BN:
    case NS_L_LN:
        p[n++] = (struct param_tensor){l->kind == NS_L_BN ? NS_P_BN_GAMMA : NS_P_LN_GAMMA, 1,
                                       {l->c}};
        p[n++] = (struct param_tensor){l->kind == NS_L_BN ? NS_P_BN_BETA : NS_P_LN_BETA, 1,
                                       {l->c}};
        break;
    case NS_L_TOKENS:
        p[n++] = (struct param_tensor){NS_P_CLS, 1, {l->c}};
        p[n++] = (struct param_tensor){NS_P_POS, 2, {l->h, l->c}};
        break;
    default:
        break;
    }
    return n;
}

/* Every layer's parameter tensors, in the net's order. Computed from the graph without
 * building the net (a ViT-B's would take a GB); each layer's sizes are checked against its
 * parameter count (ns_layer_params), and bench/torch_net.py checks them against a
 * checkpoint's own table when it loads one. NULL with ns_err. */
static json_t *param_tensors_json(const struct ns_graph *g)
{
    json_t *a = json_array();
    int index = 0;
    for (int i = 1; i < g->n && a; i++) {
        const struct ns_layer *l = &g->layer[i];
        struct param_tensor p[3];
        int n = layer_param_tensors(l, &g->layer[l->in[0]], p);
        double total = 0;
        for (int k = 0; k < n; k++) {
            long long len = 1;
            json_t *js = json_array();
            for (int d = 0; d < p[k].dims; d++) {
                len *= p[k].shape[d];
                json_array_append_new(js, json_integer(p[k].shape[d]));
            }
            total += (double)len;
            json_t *t = json_pack("{s:i, s:s, s:i, s:o, s:I}", "index", index++, "kind",
                                  param_kind_name(p[k].kind), "layer", i, "shape", js, "len",
                                  (json_int_t)len);
            if (!t || json_array_append_new(a, t)) {
                json_decref(a);
                ns_err("out of memory");
                return NULL;
            }
        }
        if (total != ns_layer_params(g, i)) {
            json_decref(a);
            ns_err("layer %d (%s): parameter tensors of %.0f floats, %.0f parameters", i,
                   ns_layer_kind_name(l->kind), total, ns_layer_params(g, i));
            return NULL;
        }
    }
    if (!a)
        ns_err("out of memory");
    return a;
}

/* --layers --json: the --json object plus the layer graph and the parameter tensors (not in
 * the deployed form, which is no trainable net). */
static json_t *layers_json(const struct ns_config *c, const struct ns_complexity *cx,
                           size_t mem, int deploy, const struct ns_graph *g)
{
    json_t *j = summary_json(c, cx, mem, deploy), *ls = json_array();
    if (!j)
        return NULL;
    for (int i = 0; i < g->n; i++) {
        json_t *l = layer_json(g, i);
        if (!l || json_array_append_new(ls, l)) {
            json_decref(ls);
            json_decref(j);
            ns_err("out of memory");
            return NULL;
        }
    }
    json_object_set_new(j, "layers", ls);
    if (!deploy) {
        json_t *p = param_tensors_json(g);
        if (!p) {
            json_decref(j);
            return NULL;
        }
        json_object_set_new(j, "param_tensors", p);
    }
    return j;
}

/* One row per layer of g: what it is, where it reads from, its output and its cost. */
static void print_layers(const struct ns_config *c, const struct ns_graph *gp)
{
    const struct ns_graph g = *gp;
    printf("%4s %-9s %-8s %-24s %-11s %-14s %10s %12s\n", "id", "where", "layer", "detail",
           "inputs", "output", "params", "flops");
    for (int i = 0; i < g.n; i++) {
        const struct ns_layer *l = &g.layer[i];
        char where[16], detail[48] = "", in[24] = "", out[24];
        if (l->stage == 0)
            snprintf(where, sizeof where, i ? "stem" : "-");
        else if (l->stage > c->n_stages)
            snprintf(where, sizeof where, "head");
        else
            snprintf(where, sizeof where, "s%d.b%d", l->stage, l->block + 1);
        switch (l->kind) {
        case NS_L_CONV:
        case NS_L_WSCONV:
            snprintf(detail, sizeof detail, "%dx%d s%d%s", l->k, ns_layer_kw(l), l->stride,
                     l->groups == l->c && l->groups > 1 ? " depthwise" : "");
            if (l->groups > 1 && l->groups != l->c)
                snprintf(detail + strlen(detail), sizeof detail - strlen(detail), " g%d",
                         l->groups);
            if (l->bias)
                snprintf(detail + strlen(detail), sizeof detail - strlen(detail), " bias");
            break;
        case NS_L_BN:
            snprintf(detail, sizeof detail, "%s%s", l->relu ? "+relu" : "",
                     l->res_last ? " (last of branch)" : "");
            break;
        case NS_L_ACT:
            snprintf(detail, sizeof detail, "%s", ns_act_name(l->act));
            break;
        case NS_L_ADD:
            snprintf(detail, sizeof detail, "%s", l->relu ? "+relu" : "");
            break;
        case NS_L_MAXPOOL:
        case NS_L_AVGPOOL:
            snprintf(detail, sizeof detail, "%dx%d s%d", l->k, l->k, l->stride);
            break;
        case NS_L_LINEAR:
            snprintf(detail, sizeof detail, "%s", l->classifier ? "classifier" : "SE");
            break;
        case NS_L_SHUFFLE:
            snprintf(detail, sizeof detail, "%d groups", l->groups);
            break;
        case NS_L_SLICE:
            snprintf(detail, sizeof detail, "channels %d..%d", l->lo, l->lo + l->c - 1);
            break;
        case NS_L_NF_ACT:
            snprintf(detail, sizeof detail, "%.4g*%s(x*%.4g)", l->mul_out, ns_act_name(l->act),
                     l->mul_in);
            break;
        case NS_L_NF_ADD:
            snprintf(detail, sizeof detail, "in0 + %g*in1", l->alpha);
            break;
        default:
            break;
        }
        if (l->in[0] >= 0)
            snprintf(in, sizeof in, l->in[1] >= 0 ? "%d,%d" : "%d", l->in[0], l->in[1]);
        snprintf(out, sizeof out, "%dx%dx%d", l->h, l->w, l->c);
        struct ns_complexity cx;
        ns_layer_complexity(&g, i, &cx);
        printf("%4d %-9s %-8s %-24s %-11s %-14s %10.0f %12.0f\n", i, where,
               ns_layer_kind_name(l->kind), detail, in, out, cx.params, cx.flops);
    }
    struct ns_complexity t;
    ns_graph_complexity(&g, &t);
    printf("%4s %-9s %-8s %-24s %-11s %-14s %10.0f %12.0f\n", "", "total", "", "", "", "",
           t.params, t.flops);
}

static void print_table(const struct ns_config *c, const struct ns_complexity *cx, size_t mem,
                        int batch, int deploy)
{
    char hash[17], f[32], p[32], a[32];
    ns_config_hash(c, hash);
    printf("input %dx%dx%d, %d classes; stem %s, %d channels; block %s", c->in_ch, c->im_size,
           c->im_size, c->classes, ns_stem_name(c->stem), c->stem_w, ns_block_name(c->block));
    if (c->se_r > 0)
        printf(", se_r %g", c->se_r);
    if (c->bn_order != NS_BN_BEFORE_ACT)
        printf("; BN %s", ns_bn_order_name(c->bn_order));
    if (c->act != NS_ACT_RELU)
        printf("; act %s", ns_act_name(c->act));
    if (c->head_w)
        printf("; head conv %d", c->head_w);
    printf("\n\nstage    d      w  s      g      b  k\n");
    for (int i = 0; i < c->n_stages; i++) {
        const struct ns_stage *s = &c->stages[i];
        printf("%5d %4d %6d %2d %6d %6g %2d\n", i + 1, s->d, s->w, s->s, s->g, s->b,
               ns_stage_k(s));
    }
    if (deploy)
        printf("\nform    deployed (inference): BN folded into convs, RepVGG/ACNet branches\n"
               "        merged into one 3x3 conv with a bias\n");
    human(cx->flops, f, sizeof f);
    human(cx->params, p, sizeof p);
    human(cx->acts, a, sizeof a);
    printf("\nflops   %-9s (%.0f multiply-adds per image)\n", f, cx->flops);
    printf("params  %-9s (%.0f)\n", p, cx->params);
    printf("acts    %-9s (%.0f)\n", a, cx->acts);
    printf("memory  %.1f MB to train at batch %d (parameters, gradients, momentum,\n"
           "        activations and their gradients, scratch, input; 1 thread)\n",
           mem / 1048576.0, batch);
    printf("hash    %s\n", hash);
}

int ns_cmd_model(int argc, char **argv)
{
    static const struct option opts[] = {{"regnet", required_argument, 0, 'r'},
                                         {"config", required_argument, 0, 'c'},
                                         {"preset", required_argument, 0, 'p'},
                                         {"im-size", required_argument, 0, 'i'},
                                         {"in-ch", required_argument, 0, 'n'},
                                         {"classes", required_argument, 0, 'k'},
                                         {"stem", required_argument, 0, 's'},
                                         {"stem-w", required_argument, 0, 'w'},
                                         {"block", required_argument, 0, 'b'},
                                         {"bot-mul", required_argument, 0, 'm'},
                                         {"first-stride", required_argument, 0, 'f'},
                                         {"json", no_argument, 0, 'j'},
                                         {"layers", no_argument, 0, 'L'},
                                         {"deploy", no_argument, 0, 'D'},
                                         {"batch", required_argument, 0, 'B'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *regnet = NULL, *config = NULL, *preset = NULL;
    long im_size = -1, in_ch = -1, classes = -1, stem_w = -1, first_stride = -1;
    int stem = -1, block = -1, json = 0, layers = 0, deploy = 0;
    long batch = 128;
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
        case 'p':
            preset = optarg;
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
        case 'L':
            layers = 1;
            break;
        case 'D':
            deploy = 1;
            break;
        case 'B':
            if (ns_cli_int("model", "--batch", optarg, 1, 1000000, &batch))
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
    if (preset && strcmp(preset, "list") == 0) {
        for (int i = 0; i < ns_model_preset_count(); i++) {
            const char *what;
            const char *name = ns_model_preset_name(i, &what);
            printf("%-20s %s\n", name, what);
        }
        return 0;
    }
    if ((regnet != NULL) + (config != NULL) + (preset != NULL) != 1)
        return ns_cli_usage_error("model", "give exactly one of --regnet, --config, --preset");
    if ((config || preset) && (stem >= 0 || stem_w >= 0 || block >= 0 || bot_mul > 0 || first_stride > 0))
        return ns_cli_usage_error("model", "--stem, --stem-w, --block, --bot-mul and "
                                           "--first-stride go with --regnet only");

    struct ns_config c;
    if (preset) {
        if (ns_model_preset(preset, in_ch > 0 ? (int)in_ch : 3, im_size > 0 ? (int)im_size : 224,
                            classes > 0 ? (int)classes : 1000, &c)) {
            ns_die_msg();
            return 1;
        }
    } else if (config) {
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
    struct ns_graph g, d;
    size_t mem = 0;
    /* the training memory is the training form's */
    if (ns_complexity(&c, &cx) ||
        !(mem = ns_net_memory_estimate(&c, cx.params, cx.acts, (int)batch, 1)))
        goto fail;
    if (ns_graph_build(&c, NULL, &g))
        goto fail;
    if (deploy) {
        int rc = ns_graph_deploy(&g, &d);
        ns_graph_free(&g);
        if (rc)
            goto fail;
        g = d;
        ns_graph_complexity(&g, &cx);
    }
    int rc = 0;
    if (layers && json)
        rc = print_json(layers_json(&c, &cx, mem, deploy, &g));
    else if (layers)
        print_layers(&c, &g);
    else if (json)
        rc = print_json(summary_json(&c, &cx, mem, deploy));
    else
        print_table(&c, &cx, mem, (int)batch, deploy);
    ns_graph_free(&g);
    if (rc)
        goto fail;
    return 0;
fail:
    ns_die_msg();
    return 1;
}
