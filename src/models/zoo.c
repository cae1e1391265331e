/* zoo.c: the model catalogue (name -> builder), option defaults and checks, the shared helpers of the model files,
 * and the per-node FLOP and parameter counts used by `relstab info`. It holds no architecture itself: those are in
 * the family files (vgg.c, resnet.c, ...). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "models/zoo_internal.h"

typedef struct {
    rs_model_info info;
    zoo_builder build;
    int32_t variant;
} zoo_entry;

static const zoo_entry zoo[] = {
    {{"vgg11", "vgg", "VGG11 (kuangliu CIFAR VGG, Linear(512, classes) on the 1x1 map)"}, zoo_build_vgg, 11},
    {{"vgg13", "vgg", "VGG13"}, zoo_build_vgg, 13},
    {{"vgg16", "vgg", "VGG16"}, zoo_build_vgg, 16},
    {{"vgg19", "vgg", "VGG19"}, zoo_build_vgg, 19},
    {{"vgg11bn", "vgg", "VGG11 with BatchNorm after every conv (convs keep their bias)"}, zoo_build_vgg, 111},
    {{"vgg13bn", "vgg", "VGG13 with BatchNorm"}, zoo_build_vgg, 113},
    {{"vgg16bn", "vgg", "VGG16 with BatchNorm"}, zoo_build_vgg, 116},
    {{"vgg19bn", "vgg", "VGG19 with BatchNorm"}, zoo_build_vgg, 119},
    {{"alexnet", "alexnet", "AlexNet, CIFAR variant (5 convs, 3 linear layers, dropout 0.5)"}, zoo_build_alexnet, 0},
    {{"lenet", "lenet", "LeNet-5 (2 convs 5x5, 3 linear layers)"}, zoo_build_lenet, 0},
    {{"resnet18", "resnet", "ResNet18, kuangliu CIFAR version (BasicBlock [2,2,2,2])"}, zoo_build_resnet, 18},
    {{"resnet34", "resnet", "ResNet34 (BasicBlock [3,4,6,3])"}, zoo_build_resnet, 34},
    {{"resnet50", "resnet", "ResNet50 (Bottleneck [3,4,6,3])"}, zoo_build_resnet, 50},
    {{"efficientnetb0", "efficientnet", "EfficientNetB0, kuangliu CIFAR version (MBConv + SE, swish)"},
     zoo_build_efficientnet, 0},
    {{"densenetl2", "fcn", "fully connected ReLU net, 2 weight layers, NTK parametrisation (--width)"}, zoo_build_fcn,
     2},
    {{"densenetl4", "fcn", "fully connected ReLU net, 4 weight layers, NTK parametrisation"}, zoo_build_fcn, 4},
    {{"densenetl6", "fcn", "fully connected ReLU net, 6 weight layers, NTK parametrisation"}, zoo_build_fcn, 6},
    {{"gapmf", "gapmf", "ConvNetGAPMF: NTK conv blocks, global average pooling, mean-field readout (2-D)"},
     zoo_build_gapmf, 2},
    {{"gapmf1d", "gapmf", "ConvNetGAPMF_1d: the 1-D scale-detection CNN (sqrt(f) scaling, circular padding)"},
     zoo_build_gapmf, 1},
};
#define ZOO_COUNT ((int32_t)(sizeof zoo / sizeof zoo[0]))

int32_t rs_model_count(void) { return ZOO_COUNT; }

const rs_model_info *rs_model_get(int32_t i) { return (i >= 0 && i < ZOO_COUNT) ? &zoo[i].info : NULL; }

int32_t rs_model_find(const char *name) {
    if (!name) return -1;
    for (int32_t i = 0; i < ZOO_COUNT; i++) {
        const char *a = zoo[i].info.name, *b = name;
        while (*a && *b && *a == tolower((unsigned char)*b)) a++, b++;
        if (!*a && !*b) return i;
    }
    return -1;
}

const char *rs_model_names(void) {
    static char buf[512];
    if (!buf[0]) {
        size_t n = 0;
        for (int32_t i = 0; i < ZOO_COUNT; i++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? ", " : "", zoo[i].info.name);
    }
    return buf;
}

void rs_model_opts_init(rs_model_opts *o) {
    memset(o, 0, sizeof *o);
    o->channels = o->height = o->width = o->classes = -1;
    o->hidden = o->depth = o->filter_size = o->stride = -1;
    o->n_strides = 0;
    o->pbc = o->batch_norm = o->last_bias = o->released_strides = -1;
    o->alpha = 0;
}

/* ---------------------------------------------------------------- option defaults and checks */
static int set_default(int32_t *v, int32_t def) {
    if (*v < 0) *v = def;
    return 0;
}

static rs_status check_range(const char *model, const char *opt, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo || v > hi)
        return rs_error(RS_ERR_ARG, "%s: %s must be between %lld and %lld, got %lld", model, opt, (long long)lo,
                        (long long)hi, (long long)v);
    return RS_OK;
}

/* Options that only the gapmf / fcn families use must be left at their defaults by the other models. */
static rs_status check_unused(const char *model, const char *family, const rs_model_opts *o) {
    int fcn = !strcmp(family, "fcn"), gap = !strcmp(family, "gapmf"), one_d = !strcmp(model, "gapmf1d");
    struct { const char *opt; int set, allowed; } rules[] = {
        {"width (hidden units)", o->hidden >= 0, fcn || gap},
        {"depth", o->depth >= 0, gap},
        {"filter size", o->filter_size >= 0, gap},
        {"stride", o->stride >= 0, gap},
        {"strides", o->n_strides > 0, gap},
        {"released strides", o->released_strides >= 0, one_d},
        {"pbc", o->pbc >= 0, gap && !one_d},
        {"batch norm", o->batch_norm >= 0, gap && !one_d},
        {"last bias", o->last_bias >= 0, gap && !one_d},
        {"alpha", o->alpha != 0, one_d},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (rules[i].set && !rules[i].allowed)
            return rs_error(RS_ERR_ARG, "%s: the option '%s' does not apply to this model", model, rules[i].opt);
    return RS_OK;
}

static rs_status resolve_gapmf(const char *model, rs_model_opts *o, int one_d) {
    set_default(&o->hidden, one_d ? 1000 : 64);
    set_default(&o->filter_size, one_d ? 2 : 3);
    set_default(&o->stride, 2);
    if (o->n_strides > 0) {
        if (o->depth >= 0 && o->depth != o->n_strides)
            return rs_error(RS_ERR_ARG, "%s: %d strides given for depth %d (one per block)", model, o->n_strides,
                            o->depth);
        o->depth = o->n_strides;
    }
    set_default(&o->depth, one_d ? 7 : 4);
    RS_TRY(check_range(model, "depth", o->depth, 1, RS_MODEL_MAX_BLOCKS));
    RS_TRY(check_range(model, "filter size", o->filter_size, 1, 1024));
    RS_TRY(check_range(model, "stride", o->stride, 1, 1024));
    if (one_d) set_default(&o->released_strides, 0);
    for (int32_t l = 0; o->released_strides == 1 && l < o->n_strides; l++) /* resolving twice is harmless */
        if (o->strides[l] != (l == 0 ? o->stride : 1))
            return rs_error(RS_ERR_ARG, "%s: give either the released strides or a stride list, not both", model);
    if (o->n_strides == 0) {
        /* 1-D: the intended all-strided net (SPEC 5.2), or with released_strides only block 0 (the released code's
         * quirk). 2-D: the reference's pattern, block 0 strided, then every other block (blocks 2, 4, ...). */
        for (int32_t l = 0; l < o->depth; l++) {
            int strided = one_d ? (l == 0 || o->released_strides != 1) : l % 2 == 0;
            o->strides[l] = strided ? o->stride : 1;
        }
        o->n_strides = o->depth;
    }
    for (int32_t l = 0; l < o->n_strides; l++) RS_TRY(check_range(model, "a block's stride", o->strides[l], 1, 1024));
    if (!one_d) {
        set_default(&o->pbc, 1);
        set_default(&o->batch_norm, 0);
        set_default(&o->last_bias, 1);
        RS_TRY(check_range(model, "pbc", o->pbc, 0, 1));
        RS_TRY(check_range(model, "batch norm", o->batch_norm, 0, 1));
        RS_TRY(check_range(model, "last bias", o->last_bias, 0, 1));
    } else if (o->alpha == 0) {
        o->alpha = 1;
    }
    return RS_OK;
}

rs_status rs_model_opts_from_data(rs_model_opts *o, int32_t channels, int32_t height, int32_t width, int32_t classes,
                                  const char *what) {
    const struct { const char *flag; int32_t *v, data; } t[] = {
        {"--channels", &o->channels, channels}, {"--size (height)", &o->height, height},
        {"--size (width)", &o->width, width}, {"--classes", &o->classes, classes},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (t[i].data < 0) continue; /* the data does not say */
        if (*t[i].v < 0) *t[i].v = t[i].data;
        else if (*t[i].v != t[i].data)
            return rs_error(RS_ERR_ARG, "%s %d does not match the data: %s gives %d%s", t[i].flag, (int)*t[i].v, what,
                            (int)t[i].data, i == 3 ? " (its classes, or 1 output for +-1 labels or the hinge loss)" : "");
    }
    return RS_OK;
}

rs_status rs_model_resolve(const char *name, rs_model_opts *o) {
    int32_t i = rs_model_find(name);
    if (i < 0) return rs_error(RS_ERR_ARG, "unknown model '%s' (known: %s)", name ? name : "", rs_model_names());
    const char *model = zoo[i].info.name, *family = zoo[i].info.family;
    int one_d = !strcmp(model, "gapmf1d");
    RS_TRY(check_unused(model, family, o));
    set_default(&o->channels, one_d ? 1 : 3);
    set_default(&o->height, one_d ? 1 : 32);
    set_default(&o->width, one_d ? 128 : 32);
    set_default(&o->classes, !strcmp(family, "gapmf") ? 1 : 10);
    RS_TRY(check_range(model, "input channels", o->channels, 1, 65536));
    RS_TRY(check_range(model, "input height", o->height, 1, 65536));
    RS_TRY(check_range(model, "input width", o->width, 1, 65536));
    RS_TRY(check_range(model, "classes", o->classes, 1, 1 << 24));
    if (one_d && o->height != 1)
        return rs_error(RS_ERR_ARG, "%s: the input is a 1-D signal (height 1), got height %d", model, o->height);
    if (!strcmp(family, "fcn")) set_default(&o->hidden, 64);
    if (!strcmp(family, "gapmf")) RS_TRY(resolve_gapmf(model, o, one_d));
    if (o->hidden >= 0) RS_TRY(check_range(model, "width", o->hidden, 1, 1 << 20));
    return RS_OK;
}

/* Records the model name and every resolved option in net->config ("model.name", "model.<field>"), for checkpoints'
 * metadata. -1 (and alpha 0) mark an option the model does not use; "strides" is the list of every block's stride. */
static void record_config(rs_net *net, const char *model, const rs_model_opts *o) {
    const struct { const char *key; int32_t v; } ints[] = {
        {"channels", o->channels}, {"height", o->height}, {"width", o->width}, {"classes", o->classes},
        {"hidden", o->hidden}, {"depth", o->depth}, {"filter_size", o->filter_size}, {"stride", o->stride},
        {"released_strides", o->released_strides}, {"pbc", o->pbc}, {"batch_norm", o->batch_norm},
        {"last_bias", o->last_bias},
    };
    const int32_t n_ints = (int32_t)(sizeof ints / sizeof ints[0]);
    rs_net_config_entry *c = net->config;
    snprintf(c[0].key, sizeof c[0].key, "model.name");
    snprintf(c[0].value, sizeof c[0].value, "%s", model);
    for (int32_t i = 0; i < n_ints; i++) {
        snprintf(c[1 + i].key, sizeof c[1 + i].key, "model.%s", ints[i].key);
        snprintf(c[1 + i].value, sizeof c[1 + i].value, "%d", (int)ints[i].v);
    }
    rs_net_config_entry *st = &c[1 + n_ints], *al = &c[2 + n_ints];
    snprintf(st->key, sizeof st->key, "model.strides");
    size_t at = 0;
    st->value[0] = 0;
    for (int32_t l = 0; l < o->n_strides && at < sizeof st->value; l++)
        at += (size_t)snprintf(st->value + at, sizeof st->value - at, "%s%d", l ? "," : "", (int)o->strides[l]);
    if (o->n_strides == 0) snprintf(st->value, sizeof st->value, "none");
    snprintf(al->key, sizeof al->key, "model.alpha");
    snprintf(al->value, sizeof al->value, "%.17g", o->alpha);
    net->n_config = 3 + n_ints;
}

rs_status rs_model_build(const char *name, const rs_model_opts *opts, rs_net **out) {
    *out = NULL;
    rs_model_opts o;
    if (opts) o = *opts;
    else rs_model_opts_init(&o);
    RS_TRY(rs_model_resolve(name, &o));
    const zoo_entry *e = &zoo[rs_model_find(name)];
    rs_net *net = rs_net_new(o.channels, o.height, o.width);
    if (!net) return rs_error(RS_ERR_NOMEM, "%s: out of memory", e->info.name);
    rs_status s = net->status != RS_OK ? zoo_fail(net, e->info.name) : e->build(net, &o, e->variant);
    if (s == RS_OK && net->status != RS_OK) s = zoo_fail(net, e->info.name);
    if (s == RS_OK) record_config(net, e->info.name, &o);
    if (s != RS_OK) {
        rs_net_free(net);
        return s;
    }
    *out = net;
    return RS_OK;
}

/* ---------------------------------------------------------------- helpers of the model files */
rs_status zoo_fail(const rs_net *net, const char *model) {
    return rs_error(net->status != RS_OK ? net->status : RS_ERR_ARG, "%s: %s", model,
                    net->error[0] ? net->error : "cannot build the net");
}

void zoo_register_bn_params(rs_net *net, const char *name, int64_t c) {
    static const struct { const char *suffix; rs_param_kind kind; float value; int32_t ndim; } t[] = {
        {"weight", RS_PARAM_TRAINABLE, 1, 1},     {"bias", RS_PARAM_TRAINABLE, 0, 1},
        {"running_mean", RS_PARAM_BUFFER, 0, 1},  {"running_var", RS_PARAM_BUFFER, 1, 1},
        {"num_batches_tracked", RS_PARAM_COUNTER, 0, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char full[2 * RS_NAME_MAX];
        ZOO_NAME(full, "%s.%s", name, t[i].suffix);
        rs_net_param(net, full, t[i].ndim, &c, t[i].kind, (rs_init){RS_INIT_CONST, t[i].value, 0});
    }
}

void zoo_reshape_param(rs_net *net, int32_t p, int32_t ndim, const int64_t *shape) {
    if (net->status != RS_OK || p < 0) return;
    rs_param *q = &net->params.items[p];
    int64_t numel = 1;
    for (int32_t i = 0; i < ndim; i++) numel *= shape[i];
    if (ndim < 0 || ndim > 4 || numel != q->numel) {
        net->status = RS_ERR_ARG;
        snprintf(net->error, sizeof net->error, "parameter %s cannot take the reference shape (%lld elements)",
                 q->name, (long long)numel);
        return;
    }
    q->ndim = ndim;
    for (int32_t i = 0; i < 4; i++) q->shape[i] = i < ndim ? shape[i] : 0;
}

int32_t zoo_normal_param(rs_net *net, const char *name, int32_t ndim, const int64_t *shape) {
    return rs_net_param(net, name, ndim, shape, RS_PARAM_TRAINABLE, (rs_init){RS_INIT_NORMAL, 0, 1});
}

/* ---------------------------------------------------------------- counts */
int64_t rs_node_flops(const rs_net *net, int32_t node) {
    const rs_node *d = &net->nodes[node];
    if (d->op == RS_OP_CONV2D) {
        const rs_conv2d_dims *c = &d->conv;
        return 2 * (int64_t)c->h_out * c->w_out * c->c_out * (c->c_in / c->groups) * c->kh * c->kw;
    }
    if (d->op == RS_OP_LINEAR) return 2 * (int64_t)net->nodes[d->in[0]].c * d->c;
    return 0;
}

int64_t rs_net_flops(const rs_net *net) {
    int64_t f = 0;
    for (int32_t i = 0; i < net->n_nodes; i++) f += rs_node_flops(net, i);
    return f;
}

/* 1 if parameter p appears among the parameters of a node before `node`, or earlier in node's own list. */
static int param_seen_before(const rs_net *net, int32_t node, int32_t slot, int32_t p) {
    for (int32_t j = 0; j < slot; j++)
        if (net->nodes[node].param[j] == p) return 1;
    for (int32_t i = 0; i < node; i++)
        for (int32_t j = 0; j < 5; j++)
            if (net->nodes[i].param[j] == p) return 1;
    return 0;
}

int64_t rs_node_param_count(const rs_net *net, int32_t node) {
    int64_t n = 0;
    const rs_node *d = &net->nodes[node];
    for (int32_t j = 0; j < 5; j++) {
        int32_t p = d->param[j];
        if (p < 0 || net->params.items[p].kind != RS_PARAM_TRAINABLE) continue;
        if (!param_seen_before(net, node, j, p)) n += net->params.items[p].numel;
    }
    return n;
}
