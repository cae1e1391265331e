/* efficientnet.c: EfficientNetB0, the kuangliu CIFAR version of the reference (SPEC 3.1): stem conv3x3 s1 (32) + BN
 * + swish, 16 MBConv blocks (expansion [1,6,6,6,6,6,6], channels [16,24,40,80,112,192,320], blocks [1,2,2,3,3,4,1],
 * kernels [3,3,5,3,5,5,3], strides [1,2,2,2,1,2,1]), each = [1x1 expansion conv + BN + swish] -> depthwise conv + BN
 * + swish -> squeeze-excitation (global average, 1x1 conv to in/4 channels + swish, 1x1 conv + sigmoid, channel
 * multiply) -> 1x1 projection conv + BN [-> + input when stride 1 and the channels agree]; then global average
 * pooling, dropout 0.2 (training only) and Linear(320, classes).
 * Reference quirks kept: blocks with expand_ratio 1 still own conv1/bn1, which forward never uses (registered as
 * tensors without a node, so the state_dict matches); the drop-connect rate is 0 in every block (the reference
 * never advances its block counter), so there is no drop-connect node.
 * swish(x) = x * sigmoid(x) is a silu node named after the multiply in torch.fx ("mul", "layers.1.mul_1"), preceded
 * by a sigmoid node of the same input named after torch.fx's sigmoid ("sigmoid", "layers.1.sigmoid_1"): the
 * sigmoid is a tap only (the silu computes the swish in one op, as exactly as before; nothing consumes the sigmoid
 * node, so it adds no gradient), there so that the sigmoid outputs that the reference measurement keeps exist. */
#include <math.h>

#include "models/zoo_internal.h"

typedef struct {
    rs_net *net;
    char p[RS_NAME_MAX]; /* block prefix "layers.<b>" */
} eff_ctx;

static int32_t conv_bn(eff_ctx *e, const char *conv, const char *bn, int32_t x, int32_t c, int32_t k, int32_t s,
                       int32_t groups) {
    char nm[2 * RS_NAME_MAX];
    ZOO_NAME(nm, "%s.%s", e->p, conv);
    x = rs_net_conv2d(e->net, nm, x, c, k, s, k == 3 ? 1 : k == 5 ? 2 : 0, groups, 0);
    ZOO_NAME(nm, "%s.%s", e->p, bn);
    return rs_net_batchnorm(e->net, nm, x, 1e-5f, 0.1f);
}

static int32_t named(eff_ctx *e, int32_t (*op)(rs_net *, const char *, int32_t), const char *suffix, int32_t x) {
    char nm[2 * RS_NAME_MAX];
    ZOO_NAME(nm, "%s.%s", e->p, suffix);
    return op(e->net, nm, x);
}

/* swish(x) as torch.fx traces x * x.sigmoid(): the sigmoid node (a tap), then the product (one silu node). */
static int32_t swish(eff_ctx *e, const char *sig, const char *mul, int32_t x) {
    char nm[2 * RS_NAME_MAX];
    ZOO_NAME(nm, "%s%s%s", e->p, e->p[0] ? "." : "", sig);
    rs_net_sigmoid(e->net, nm, x);
    ZOO_NAME(nm, "%s%s%s", e->p, e->p[0] ? "." : "", mul);
    return rs_net_silu(e->net, nm, x);
}

/* The unused expansion conv1/bn1 of an expand_ratio-1 block. */
static void register_unused_expansion(eff_ctx *e, int64_t c) {
    char nm[2 * RS_NAME_MAX];
    int64_t shape[4] = {c, c, 1, 1};
    double bound = 1.0 / sqrt((double)c); /* kaiming_uniform(a = sqrt 5) of a 1x1 conv with c inputs */
    ZOO_NAME(nm, "%s.conv1.weight", e->p);
    rs_net_param(e->net, nm, 4, shape, RS_PARAM_TRAINABLE, (rs_init){RS_INIT_UNIFORM, (float)-bound, (float)bound});
    ZOO_NAME(nm, "%s.bn1", e->p);
    zoo_register_bn_params(e->net, nm, c);
}

static int32_t mbconv(eff_ctx *e, int32_t x, int32_t in, int32_t out, int32_t k, int32_t stride, int32_t expand) {
    rs_net *net = e->net;
    char nm[2 * RS_NAME_MAX];
    int32_t ch = expand * in, y = x;
    if (expand == 1) {
        register_unused_expansion(e, ch);
    } else {
        y = conv_bn(e, "conv1", "bn1", y, ch, 1, 1, 1);
        y = swish(e, "sigmoid", "mul", y);
    }
    y = conv_bn(e, "conv2", "bn2", y, ch, k, stride, ch);
    y = expand == 1 ? swish(e, "sigmoid", "mul", y) : swish(e, "sigmoid_1", "mul_1", y);
    /* squeeze-excitation */
    ZOO_NAME(nm, "%s.se.adaptive_avg_pool2d", e->p);
    int32_t s = rs_net_adaptive_avgpool(net, nm, y, 1, 1);
    ZOO_NAME(nm, "%s.se.se1", e->p);
    s = rs_net_conv2d(net, nm, s, in / 4, 1, 1, 0, 1, 1);
    s = swish(e, "se.sigmoid", "se.mul", s);
    ZOO_NAME(nm, "%s.se.se2", e->p);
    s = rs_net_conv2d(net, nm, s, ch, 1, 1, 0, 1, 1);
    s = named(e, rs_net_sigmoid, "se.sigmoid_1", s);
    ZOO_NAME(nm, "%s.se.mul_1", e->p);
    y = rs_net_mul_channel(net, nm, y, s);
    y = conv_bn(e, "conv3", "bn3", y, out, 1, 1, 1);
    if (stride == 1 && in == out) {
        ZOO_NAME(nm, "%s.add", e->p);
        y = rs_net_add(net, nm, y, x);
    }
    return y;
}

rs_status zoo_build_efficientnet(rs_net *net, const rs_model_opts *o, int32_t variant) {
    (void)variant;
    static const int32_t expansion[7] = {1, 6, 6, 6, 6, 6, 6}, channels[7] = {16, 24, 40, 80, 112, 192, 320};
    static const int32_t blocks[7] = {1, 2, 2, 3, 3, 4, 1}, kernel[7] = {3, 3, 5, 3, 5, 5, 3};
    static const int32_t stride[7] = {1, 2, 2, 2, 1, 2, 1};
    eff_ctx e = {net, ""};
    int32_t x = rs_net_conv2d(net, "conv1", 0, 32, 3, 1, 1, 1, 0);
    x = rs_net_batchnorm(net, "bn1", x, 1e-5f, 0.1f);
    x = swish(&e, "sigmoid", "mul", x);
    int32_t in = 32, b = 0;
    for (int32_t g = 0; g < 7; g++)
        for (int32_t j = 0; j < blocks[g]; j++) {
            ZOO_NAME(e.p, "layers.%d", b++);
            x = mbconv(&e, x, in, channels[g], kernel[g], j == 0 ? stride[g] : 1, expansion[g]);
            in = channels[g];
        }
    x = rs_net_adaptive_avgpool(net, "adaptive_avg_pool2d", x, 1, 1);
    x = rs_net_flatten(net, "view", x);
    x = rs_net_dropout(net, "dropout", x, 0.2f);
    x = rs_net_linear(net, "linear", x, o->classes, 1);
    return x < 0 ? zoo_fail(net, "efficientnetb0") : RS_OK;
}
