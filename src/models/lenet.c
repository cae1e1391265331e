/* lenet.c: LeNet of the reference (SPEC 3.1): conv5x5 (6) - ReLU - maxpool2 - conv5x5 (16) - ReLU - maxpool2 -
 * fc1 (120) - ReLU - fc2 (84) - ReLU - fc3 (classes). The reference applies ReLU and max pooling functionally, so
 * those nodes take torch.fx's names: relu, max_pool2d, relu_1, max_pool2d_1, relu_2, relu_3 (and "view" for the
 * flatten). fc1's fan-in follows the reference's rule: 16*5*5 = 400 with 3 input channels, 16*4*4 = 256 otherwise,
 * so a 3-channel net takes 32x32 images and any other channel count 28x28 ones; other sizes are refused. */
#include "models/zoo_internal.h"

rs_status zoo_build_lenet(rs_net *net, const rs_model_opts *o, int32_t variant) {
    (void)variant;
    int32_t x = rs_net_conv2d(net, "conv1", 0, 6, 5, 1, 0, 1, 1);
    x = rs_net_relu(net, "relu", x);
    x = rs_net_maxpool(net, "max_pool2d", x, 2, 2, 0);
    x = rs_net_conv2d(net, "conv2", x, 16, 5, 1, 0, 1, 1);
    x = rs_net_relu(net, "relu_1", x);
    x = rs_net_maxpool(net, "max_pool2d_1", x, 2, 2, 0);
    if (x < 0) return zoo_fail(net, "lenet");
    int32_t a = o->channels == 3 ? 5 : 4;
    const rs_node *f = &net->nodes[x];
    if (f->h != a || f->w != a)
        return rs_error(RS_ERR_ARG,
                        "lenet: fc1 takes 16x%dx%d inputs with %d input channel%s (the reference decides on the "
                        "channel count: %s), but a %dx%d input gives 16x%dx%d",
                        a, a, o->channels, o->channels == 1 ? "" : "s",
                        a == 5 ? "3 channels means 32x32 images" : "other than 3 channels means 28x28 images",
                        net->nodes[0].h, net->nodes[0].w, f->h, f->w);
    x = rs_net_flatten(net, "view", x);
    x = rs_net_linear(net, "fc1", x, 120, 1);
    x = rs_net_relu(net, "relu_2", x);
    x = rs_net_linear(net, "fc2", x, 84, 1);
    x = rs_net_relu(net, "relu_3", x);
    x = rs_net_linear(net, "fc3", x, o->classes, 1);
    return x < 0 ? zoo_fail(net, "lenet") : RS_OK;
}
