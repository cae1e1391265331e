/* gapmf.c: the simple pooling CNNs of the theory: ConvNetGAPMF (2-D, diffeo-sota models/convs.py as the
 * relativestability code builds it) and ConvNetGAPMF_1d (scale_detection_1d convolutional_nets.py, SPEC 5.2).
 * Raw parameters, all N(0, 1) (NTK-style): conv.<l>.w (H, C_in, f, f) or (H, C_in, f), conv.<l>.b (H), beta
 * (H, classes) and the readout bias (last_bias / biasFinal, one number).
 *   2-D block: [circular pad (f-1)/2 each side if pbc] conv(x, w / sqrt(C_in f^2), bias b, stride) -> ReLU [-> BN].
 *   1-D block: circular pad (f even: f/2 - 1 left, f/2 right; f odd: (f-1)/2 each side) conv1d(x, w / sqrt(C_in f),
 *              bias b, stride) -> ReLU -> times sqrt(f).
 *   readout: mean over space, then mean(y) @ beta / H (+ last_bias) in 2-D, alpha (biasFinal + mean(y) @ beta / H)
 *            in 1-D. The readout bias is one number (shape (1)) added to every output, as in the reference, also
 *            with several classes (the matmul node's broadcast scalar bias).
 * Strides come per block from the resolved options (zoo.c): 1-D default = the intended all-strided net; the released
 * code's quirk (only block 0 strided) is --strides 2,1,1,... . 2-D default = the reference's pattern (block 0, then
 * blocks 2, 4, ...).
 * Nodes: torch.fx names of the reference ("conv.l.conv2d" / "conv.l.conv1d", "conv.l.relu", "conv.l.bn",
 * "conv.l.mul", "mean", "add" / "truediv", "mul"), plus relstab's "conv.l.prescale" / "prescale": the input times
 * the 1/sqrt(fan-in) (1/H) that the reference applies to the raw weight, which gives the same product. */
#include <math.h>

#include "models/zoo_internal.h"

/* The readout tensors come first, as in the reference's state_dict (a module's own parameters before its
 * children's). */
static void readout_params(rs_net *net, const rs_model_opts *o, int one_d, int32_t *beta, int32_t *bias) {
    int64_t shape[2] = {o->hidden, o->classes}, one = 1;
    *beta = zoo_normal_param(net, "beta", 2, shape);
    *bias = one_d || o->last_bias ? zoo_normal_param(net, one_d ? "biasFinal" : "last_bias", 1, &one) : -2;
}

/* Block l of either net on input x. */
static int32_t block(rs_net *net, const rs_model_opts *o, int one_d, int32_t l, int32_t x) {
    char nm[RS_NAME_MAX];
    int32_t f = o->filter_size, cin = net->nodes[x].c, h = o->hidden;
    int64_t wshape[4] = {h, cin, one_d ? 1 : f, f}, bshape = h;
    ZOO_NAME(nm, "conv.%d.w", l);
    int32_t w = zoo_normal_param(net, nm, 4, wshape);
    ZOO_NAME(nm, "conv.%d.b", l);
    int32_t b = zoo_normal_param(net, nm, 1, &bshape);
    ZOO_NAME(nm, "conv.%d.prescale", l);
    x = rs_net_scale(net, nm, x, (float)(1.0 / sqrt((double)cin * f * (one_d ? 1 : f))));
    rs_conv2d_dims t = {0};
    t.c_out = h;
    t.kh = one_d ? 1 : f;
    t.kw = f;
    t.stride_h = one_d ? 1 : o->strides[l];
    t.stride_w = o->strides[l];
    t.groups = 1;
    if (one_d) {
        t.pad_left = f % 2 ? (f - 1) / 2 : f / 2 - 1;
        t.pad_right = f % 2 ? (f - 1) / 2 : f / 2;
    } else if (o->pbc) {
        t.pad_top = t.pad_bottom = t.pad_left = t.pad_right = (f - 1) / 2;
    }
    t.pad_mode = (one_d || o->pbc) ? RS_PAD_CIRCULAR : RS_PAD_ZERO;
    ZOO_NAME(nm, "conv.%d.%s", l, one_d ? "conv1d" : "conv2d");
    x = rs_net_conv2d_ex(net, nm, x, &t, w, b);
    if (one_d) { /* the engine runs the conv1d weight (h, in, f) as a conv2d weight (h, in, 1, f): same bytes */
        int64_t ref_shape[3] = {h, cin, f};
        zoo_reshape_param(net, w, 3, ref_shape);
    }
    ZOO_NAME(nm, "conv.%d.relu", l);
    x = rs_net_relu(net, nm, x);
    if (one_d) {
        ZOO_NAME(nm, "conv.%d.mul", l);
        x = rs_net_scale(net, nm, x, (float)sqrt((double)f));
    } else if (o->batch_norm) {
        ZOO_NAME(nm, "conv.%d.bn", l);
        x = rs_net_batchnorm(net, nm, x, 1e-5f, 0.1f);
    }
    return x;
}

rs_status zoo_build_gapmf(rs_net *net, const rs_model_opts *o, int32_t variant) {
    int one_d = variant == 1;
    const char *model = one_d ? "gapmf1d" : "gapmf";
    int32_t beta = -1, bias = -1;
    readout_params(net, o, one_d, &beta, &bias);
    int32_t x = 0;
    for (int32_t l = 0; l < o->depth && x >= 0; l++) x = block(net, o, one_d, l, x);
    x = rs_net_adaptive_avgpool(net, "mean", x, 1, 1);
    x = rs_net_scale(net, "prescale", x, (float)(1.0 / (double)o->hidden));
    x = rs_net_matmul(net, bias >= 0 ? "add" : "truediv", x, o->classes, beta, bias);
    if (one_d) x = rs_net_scale(net, "mul", x, (float)o->alpha);
    return x < 0 ? zoo_fail(net, model) : RS_OK;
}
