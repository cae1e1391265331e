/* alexnet.c: AlexNet, CIFAR variant of the reference (SPEC 3.1): [ZeroPad2d(2) if 1 channel] conv3x3 s2 p1 (64) -
 * ReLU - MaxPool2 - conv3x3 p1 (192) - ReLU - MaxPool2 - conv3x3 p1 (384) - ReLU - conv3x3 p1 (256) - ReLU -
 * conv3x3 p1 (256) - ReLU - MaxPool2, then classifier = Dropout - Linear(1024, 4096) - ReLU - Dropout -
 * Linear(4096, 4096) - ReLU - Linear(4096, classes). Node names "features.<i>", "view", "classifier.<i>".
 * The reference's view(N, 256*2*2) fixes the feature map at 256x2x2, so only inputs that give 2x2 are accepted. */
#include "models/zoo_internal.h"

rs_status zoo_build_alexnet(rs_net *net, const rs_model_opts *o, int32_t variant) {
    (void)variant;
    static const struct { int16_t c, stride; } convs[5] = {{64, 2}, {192, 1}, {384, 1}, {256, 1}, {256, 1}};
    static const int8_t pool_after[5] = {1, 1, 0, 0, 1};
    char nm[RS_NAME_MAX];
    int32_t pad = o->channels == 1 ? 4 : 0, h = o->height + pad, w = o->width + pad;
    if (h < 31 || h > 46 || w < 31 || w > 46)
        return rs_error(RS_ERR_ARG,
                        "alexnet: the classifier takes a 256x2x2 map (Linear(1024)), i.e. an input of 31 to 46 "
                        "pixels a side after padding (CIFAR 32x32; 28x28 with 1 channel, padded to 32); got %dx%d",
                        o->height, o->width);
    int32_t x = 0, i = 0;
    if (o->channels == 1) {
        ZOO_NAME(nm, "features.%d", i++);
        x = rs_net_zeropad(net, nm, x, 2, 2, 2, 2);
    }
    for (int32_t l = 0; l < 5; l++) {
        ZOO_NAME(nm, "features.%d", i++);
        x = rs_net_conv2d(net, nm, x, convs[l].c, 3, convs[l].stride, 1, 1, 1);
        ZOO_NAME(nm, "features.%d", i++);
        x = rs_net_relu(net, nm, x);
        if (pool_after[l]) {
            ZOO_NAME(nm, "features.%d", i++);
            x = rs_net_maxpool(net, nm, x, 2, 2, 0);
        }
    }
    if (x < 0) return zoo_fail(net, "alexnet");
    RS_ASSERT(net->nodes[x].h == 2 && net->nodes[x].w == 2); /* by the size check above */
    x = rs_net_flatten(net, "view", x);
    x = rs_net_dropout(net, "classifier.0", x, 0.5f);
    x = rs_net_linear(net, "classifier.1", x, 4096, 1);
    x = rs_net_relu(net, "classifier.2", x);
    x = rs_net_dropout(net, "classifier.3", x, 0.5f);
    x = rs_net_linear(net, "classifier.4", x, 4096, 1);
    x = rs_net_relu(net, "classifier.5", x);
    x = rs_net_linear(net, "classifier.6", x, o->classes, 1);
    return x < 0 ? zoo_fail(net, "alexnet") : RS_OK;
}
