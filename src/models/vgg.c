/* vgg.c: VGG11/13/16/19 with and without batch norm, as the kuangliu CIFAR VGG of the reference (SPEC 3.1).
 * features = [ZeroPad2d(2) if 1 input channel] then per cfg entry conv3x3 pad 1 (with bias) [-> BatchNorm2d] -> ReLU,
 * or MaxPool 2x2 stride 2, then AvgPool2d(1, 1); classifier = Linear(512, classes) on the 1x1x512 map.
 * Node names are the reference's: "features.<i>" (Sequential indices), "view" (the flatten), "classifier".
 * Not here: the reference's alternative poolings (avg, subsampling) and ParameterList convs, unused in the paper. */
#include "models/zoo_internal.h"

#define M 0 /* max pool */
static const int16_t cfg11[] = {64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M, -1};
static const int16_t cfg13[] = {64, 64, M, 128, 128, M, 256, 256, M, 512, 512, M, 512, 512, M, -1};
static const int16_t cfg16[] = {64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M, -1};
static const int16_t cfg19[] = {64,  64,  M,   128, 128, M,   256, 256, 256, 256, M,
                                512, 512, 512, 512, M,   512, 512, 512, 512, M,   -1};

rs_status zoo_build_vgg(rs_net *net, const rs_model_opts *o, int32_t variant) {
    int32_t depth = variant % 100, bn = variant >= 100;
    const int16_t *cfg = depth == 11 ? cfg11 : depth == 13 ? cfg13 : depth == 16 ? cfg16 : cfg19;
    char model[16], nm[RS_NAME_MAX];
    ZOO_NAME(model, "vgg%d%s", depth, bn ? "bn" : "");
    int32_t pad = o->channels == 1 ? 4 : 0, h = o->height + pad, w = o->width + pad;
    if (h < 32 || h > 63 || w < 32 || w > 63)
        return rs_error(RS_ERR_ARG,
                        "%s: the classifier Linear(512) needs a 512x1x1 map after 5 max pools, i.e. an input of 32 to "
                        "63 pixels a side after padding (CIFAR 32x32; 28x28 with 1 channel, padded to 32); got %dx%d",
                        model, o->height, o->width);
    int32_t x = 0, i = 0;
    if (o->channels == 1) {
        ZOO_NAME(nm, "features.%d", i++);
        x = rs_net_zeropad(net, nm, x, 2, 2, 2, 2);
    }
    for (const int16_t *c = cfg; *c >= 0; c++) {
        ZOO_NAME(nm, "features.%d", i++);
        if (*c == M) {
            x = rs_net_maxpool(net, nm, x, 2, 2, 0);
            continue;
        }
        x = rs_net_conv2d(net, nm, x, *c, 3, 1, 1, 1, 1);
        if (bn) {
            ZOO_NAME(nm, "features.%d", i++);
            x = rs_net_batchnorm(net, nm, x, 1e-5f, 0.1f);
        }
        ZOO_NAME(nm, "features.%d", i++);
        x = rs_net_relu(net, nm, x);
    }
    ZOO_NAME(nm, "features.%d", i++);
    x = rs_net_avgpool(net, nm, x, 1, 1, 0, 1);
    if (x < 0) return zoo_fail(net, model);
    RS_ASSERT(net->nodes[x].h == 1 && net->nodes[x].w == 1); /* by the size check above */
    x = rs_net_flatten(net, "view", x);
    x = rs_net_linear(net, "classifier", x, o->classes, 1);
    return x < 0 ? zoo_fail(net, model) : RS_OK;
}
