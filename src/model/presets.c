/* Presets: the published ImageNet models as model configs, at any input shape. Each is the
 * canonical JSON of its 224x224, 3-channel, 1000-class form; ns_model_preset reads it and
 * sets the input shape asked for. At 224 px and 1000 classes their parameter counts and
 * flops equal torchvision's definitions' (tests/fixtures/model/torchvision_table.py), but
 * for repvgg_a0, which torchvision lacks (the paper's figures: tests/model/test_presets.c). */
#include "model/model.h"

#include "util/err.h"

#include <stdio.h>
#include <string.h>

struct preset {
    const char *name, *what, *json;
};

/* ResNet-50-style bottleneck stages (x blocks: wb = w*b, one group when g = wb). */
#define RESNET_STEM "\"stem\":{\"type\":\"res\",\"w\":64}"
#define INPUT "\"classes\":1000,\"im_size\":224,\"in_ch\":3,"

static const struct preset presets[] = {
    {"resnet18", "ResNet-18: basic blocks 64-128-256-512, depths 2-2-2-2",
     "{\"block\":\"res_basic\"," INPUT "\"stages\":["
     "{\"b\":1,\"d\":2,\"g\":0,\"s\":1,\"w\":64},{\"b\":1,\"d\":2,\"g\":0,\"s\":2,\"w\":128},"
     "{\"b\":1,\"d\":2,\"g\":0,\"s\":2,\"w\":256},{\"b\":1,\"d\":2,\"g\":0,\"s\":2,\"w\":512}],"
     RESNET_STEM "}"},
    {"resnet50", "ResNet-50 (v1.5: stride on the 3x3): bottlenecks, depths 3-4-6-3",
     "{\"block\":\"x\"," INPUT "\"stages\":["
     "{\"b\":0.25,\"d\":3,\"g\":64,\"s\":1,\"w\":256},"
     "{\"b\":0.25,\"d\":4,\"g\":128,\"s\":2,\"w\":512},"
     "{\"b\":0.25,\"d\":6,\"g\":256,\"s\":2,\"w\":1024},"
     "{\"b\":0.25,\"d\":3,\"g\":512,\"s\":2,\"w\":2048}]," RESNET_STEM "}"},
    {"resnext50_32x4d", "ResNeXt-50 32x4d: 32 groups, bottleneck twice ResNet-50's",
     "{\"block\":\"x\"," INPUT "\"stages\":["
     "{\"b\":0.5,\"d\":3,\"g\":4,\"s\":1,\"w\":256},{\"b\":0.5,\"d\":4,\"g\":8,\"s\":2,\"w\":512},"
     "{\"b\":0.5,\"d\":6,\"g\":16,\"s\":2,\"w\":1024},"
     "{\"b\":0.5,\"d\":3,\"g\":32,\"s\":2,\"w\":2048}]," RESNET_STEM "}"},
    {"wide_resnet50_2", "Wide ResNet-50-2: bottleneck twice ResNet-50's, one group",
     "{\"block\":\"x\"," INPUT "\"stages\":["
     "{\"b\":0.5,\"d\":3,\"g\":128,\"s\":1,\"w\":256},"
     "{\"b\":0.5,\"d\":4,\"g\":256,\"s\":2,\"w\":512},"
     "{\"b\":0.5,\"d\":6,\"g\":512,\"s\":2,\"w\":1024},"
     "{\"b\":0.5,\"d\":3,\"g\":1024,\"s\":2,\"w\":2048}]," RESNET_STEM "}"},
    {"mobilenet_v2", "MobileNetV2 1.0: inverted bottlenecks, ReLU6, 1280-wide head conv",
     "{\"act\":\"relu6\",\"block\":\"mbconv\",\"classes\":1000,\"head_w\":1280,"
     "\"im_size\":224,\"in_ch\":3,\"stages\":["
     "{\"b\":1,\"d\":1,\"g\":1,\"s\":1,\"w\":16},{\"b\":6,\"d\":2,\"g\":1,\"s\":2,\"w\":24},"
     "{\"b\":6,\"d\":3,\"g\":1,\"s\":2,\"w\":32},{\"b\":6,\"d\":4,\"g\":1,\"s\":2,\"w\":64},"
     "{\"b\":6,\"d\":3,\"g\":1,\"s\":1,\"w\":96},{\"b\":6,\"d\":3,\"g\":1,\"s\":2,\"w\":160},"
     "{\"b\":6,\"d\":1,\"g\":1,\"s\":1,\"w\":320}],\"stem\":{\"type\":\"simple\",\"w\":32}}"},
    {"shufflenet_v2_x1_0", "ShuffleNet v2 1.0x: units 116-232-464, depths 4-8-4, head 1024",
     "{\"block\":\"shuffle_v2\",\"classes\":1000,\"head_w\":1024,\"im_size\":224,\"in_ch\":3,"
     "\"stages\":[{\"b\":1,\"d\":4,\"g\":0,\"s\":2,\"w\":116},"
     "{\"b\":1,\"d\":8,\"g\":0,\"s\":2,\"w\":232},{\"b\":1,\"d\":4,\"g\":0,\"s\":2,\"w\":464}],"
     "\"stem\":{\"type\":\"simple_pool\",\"w\":24}}"},
    {"efficientnet_b0", "EfficientNet-B0: MBConv with SE and SiLU, k 3/5, head 1280",
     "{\"act\":\"silu\",\"block\":\"mbconv\",\"classes\":1000,\"head_w\":1280,\"im_size\":224,"
     "\"in_ch\":3,\"se_r\":0.25,\"stages\":["
     "{\"b\":1,\"d\":1,\"g\":1,\"s\":1,\"w\":16},{\"b\":6,\"d\":2,\"g\":1,\"s\":2,\"w\":24},"
     "{\"b\":6,\"d\":2,\"g\":1,\"k\":5,\"s\":2,\"w\":40},{\"b\":6,\"d\":3,\"g\":1,\"s\":2,\"w\":80},"
     "{\"b\":6,\"d\":3,\"g\":1,\"k\":5,\"s\":1,\"w\":112},"
     "{\"b\":6,\"d\":4,\"g\":1,\"k\":5,\"s\":2,\"w\":192},"
     "{\"b\":6,\"d\":1,\"g\":1,\"s\":1,\"w\":320}],\"stem\":{\"type\":\"simple\",\"w\":32}}"},
    {"regnet_y_400mf", "RegNetY-400MF: depth 16, w0 48, wa 27.89, wm 2.09, group width 8, SE",
     "{\"block\":\"y\"," INPUT "\"se_r\":0.25,\"stages\":["
     "{\"b\":1,\"d\":1,\"g\":8,\"s\":2,\"w\":48},{\"b\":1,\"d\":3,\"g\":8,\"s\":2,\"w\":104},"
     "{\"b\":1,\"d\":6,\"g\":8,\"s\":2,\"w\":208},{\"b\":1,\"d\":6,\"g\":8,\"s\":2,\"w\":440}],"
     "\"stem\":{\"type\":\"simple\",\"w\":32}}"},
    {"vit_b_16", "ViT-B/16: patch 16, width 768, 12 encoder blocks of 12 heads, MLP 3072",
     "{\"block\":\"vit\"," INPUT "\"patch\":16,\"stages\":["
     "{\"b\":4,\"d\":12,\"g\":64,\"s\":1,\"w\":768}],\"stem\":{\"type\":\"patchify\",\"w\":768}}"},    /* not in torchvision: its figures are the paper's (tests/model/test_presets.c) */
    {"repvgg_a0", "RepVGG-A0 (training form): repvgg blocks 48-96-192-1280, depths 2-4-14-1",
     "{\"block\":\"repvgg\"," INPUT "\"stages\":["
     "{\"b\":1,\"d\":2,\"g\":0,\"s\":2,\"w\":48},{\"b\":1,\"d\":4,\"g\":0,\"s\":2,\"w\":96},"
     "{\"b\":1,\"d\":14,\"g\":0,\"s\":2,\"w\":192},{\"b\":1,\"d\":1,\"g\":0,\"s\":2,\"w\":1280}],"
     "\"stem\":{\"type\":\"repvgg\",\"w\":48}}"},
};
#define N_PRESETS (int)(sizeof presets / sizeof presets[0])

int ns_model_preset_count(void) { return N_PRESETS; }

const char *ns_model_preset_name(int i, const char **what)
{
    if (i < 0 || i >= N_PRESETS)
        return NULL;
    if (what)
        *what = presets[i].what;
    return presets[i].name;
}

int ns_model_preset(const char *name, int in_ch, int im_size, int classes, struct ns_config *out)
{
    for (int i = 0; i < N_PRESETS; i++) {
        if (strcmp(name, presets[i].name) != 0)
            continue;
        struct ns_config c;
        if (ns_config_from_json(presets[i].json, &c))
            return ns_err_prefix("preset %s", name);
        c.in_ch = in_ch;
        c.im_size = im_size;
        c.classes = classes;
        if (ns_config_check(&c))
            return ns_err_prefix("preset %s at %dx%dx%d, %d classes", name, in_ch, im_size,
                                 im_size, classes);
        *out = c;
        return 0;
    }
    char list[512] = "";
    for (int i = 0; i < N_PRESETS; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 presets[i].name);
    return ns_err("preset: unknown model '%s' (%s)", name, list);
}
