/* resnet.c: ResNet18/34/50, the kuangliu CIFAR ResNets of the reference (SPEC 3.1): conv3x3 s1 (64, no bias) + BN +
 * ReLU, four stages of 64/128/256/512 planes with strides 1/2/2/2 (BasicBlock [2,2,2,2] or [3,4,6,3], Bottleneck
 * [3,4,6,3] with expansion 4), avg_pool2d(4), Linear(512 * expansion, classes).
 * Node names: the module paths ("conv1", "layer2.0.shortcut.0", "linear") and torch.fx's names for the functional
 * ops ("relu", "layer1.0.relu", "layer1.0.add", "layer1.0.relu_1", "avg_pool2d", "view").
 * The reference returns squeeze(logits); relstab keeps the node's (N, 1, 1, classes) shape, so a 1-output net's
 * output is one number per image either way. The last stage must be 4 to 7 pixels a side (32x32 or 28x28 inputs). */
#include "models/zoo_internal.h"

typedef struct {
    rs_net *net;
    int32_t in_planes;
    int32_t bottleneck;
} resnet_ctx;

/* conv (no bias) + BN: "<p>.convN" and "<p>.bnN". */
static int32_t conv_bn(rs_net *net, const char *p, int32_t n, int32_t x, int32_t c, int32_t k, int32_t s) {
    char nm[2 * RS_NAME_MAX];
    ZOO_NAME(nm, "%s.conv%d", p, n);
    x = rs_net_conv2d(net, nm, x, c, k, s, k / 2, 1, 0);
    ZOO_NAME(nm, "%s.bn%d", p, n);
    return rs_net_batchnorm(net, nm, x, 1e-5f, 0.1f);
}

/* One block named p (e.g. "layer2.0") on input x; returns its output node. */
static int32_t block(resnet_ctx *r, const char *p, int32_t x, int32_t planes, int32_t stride) {
    rs_net *net = r->net;
    char nm[2 * RS_NAME_MAX];
    int32_t expansion = r->bottleneck ? 4 : 1, out = planes * expansion, y;
    if (!r->bottleneck) {
        y = conv_bn(net, p, 1, x, planes, 3, stride);
        ZOO_NAME(nm, "%s.relu", p);
        y = rs_net_relu(net, nm, y);
        y = conv_bn(net, p, 2, y, planes, 3, 1);
    } else {
        y = conv_bn(net, p, 1, x, planes, 1, 1);
        ZOO_NAME(nm, "%s.relu", p);
        y = rs_net_relu(net, nm, y);
        y = conv_bn(net, p, 2, y, planes, 3, stride);
        ZOO_NAME(nm, "%s.relu_1", p);
        y = rs_net_relu(net, nm, y);
        y = conv_bn(net, p, 3, y, out, 1, 1);
    }
    int32_t s = x;
    if (stride != 1 || r->in_planes != out) {
        ZOO_NAME(nm, "%s.shortcut.0", p);
        s = rs_net_conv2d(net, nm, x, out, 1, stride, 0, 1, 0);
        ZOO_NAME(nm, "%s.shortcut.1", p);
        s = rs_net_batchnorm(net, nm, s, 1e-5f, 0.1f);
    }
    ZOO_NAME(nm, "%s.add", p);
    y = rs_net_add(net, nm, y, s);
    ZOO_NAME(nm, "%s.relu_%d", p, r->bottleneck ? 2 : 1);
    r->in_planes = out;
    return rs_net_relu(net, nm, y);
}

rs_status zoo_build_resnet(rs_net *net, const rs_model_opts *o, int32_t variant) {
    static const int32_t blocks34[4] = {3, 4, 6, 3}, blocks18[4] = {2, 2, 2, 2};
    const int32_t *nb = variant == 18 ? blocks18 : blocks34;
    char model[16], nm[RS_NAME_MAX];
    ZOO_NAME(model, "resnet%d", variant);
    /* stages 2-4 halve the size (rounding up); avg_pool2d(4) must leave 1x1: the last stage is 4 to 7 a side */
    if (o->height < 25 || o->height > 56 || o->width < 25 || o->width > 56)
        return rs_error(RS_ERR_ARG,
                        "%s: avg_pool2d(4) must leave a 1x1 map for the linear layer, so the last stage must be 4 to "
                        "7 pixels a side, i.e. an input of 25 to 56 pixels (CIFAR 32x32, MNIST 28x28); got %dx%d",
                        model, o->height, o->width);
    resnet_ctx r = {net, 64, variant == 50};
    int32_t x = rs_net_conv2d(net, "conv1", 0, 64, 3, 1, 1, 1, 0);
    x = rs_net_batchnorm(net, "bn1", x, 1e-5f, 0.1f);
    x = rs_net_relu(net, "relu", x);
    for (int32_t s = 0; s < 4; s++)
        for (int32_t b = 0; b < nb[s]; b++) {
            ZOO_NAME(nm, "layer%d.%d", s + 1, b);
            x = block(&r, nm, x, 64 << s, (b == 0 && s > 0) ? 2 : 1);
        }
    x = rs_net_avgpool(net, "avg_pool2d", x, 4, 4, 0, 1);
    if (x < 0) return zoo_fail(net, model);
    RS_ASSERT(net->nodes[x].h == 1 && net->nodes[x].w == 1); /* by the size check above */
    x = rs_net_flatten(net, "view", x);
    x = rs_net_linear(net, "linear", x, o->classes, 1);
    return x < 0 ? zoo_fail(net, model) : RS_OK;
}
