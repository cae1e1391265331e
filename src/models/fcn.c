/* fcn.c: the fully connected nets DenseNetL2/L4/L6 of the reference (SPEC 3.1, "FCN"): blocks fcn.0 .. fcn.{L-1},
 * each with raw parameters w (in, out) and b (out), both N(0, 1) (NTK parametrisation). A hidden block computes
 * relu(x @ w / sqrt(in) + b); the last block x @ w / in with no bias (its b exists, unused, as in the reference).
 * The input is flattened in PyTorch's C, H, W order; the hidden width is o->hidden (default 64).
 * Nodes (torch.fx names of the reference's ops): "fcn.0.flatten", then per block "fcn.i.prescale" (relstab's own:
 * the input times 1/sqrt(in), or 1/in in the last block, so that the product with the raw w is the reference's),
 * "fcn.i.add" (x @ w / sqrt(in) + b) and "fcn.i.relu"; the last block's output node is "fcn.{L-1}.truediv". */
#include <math.h>

#include "models/zoo_internal.h"

rs_status zoo_build_fcn(rs_net *net, const rs_model_opts *o, int32_t variant) {
    char model[16], nm[RS_NAME_MAX];
    ZOO_NAME(model, "densenetl%d", variant);
    int32_t x = rs_net_flatten(net, "fcn.0.flatten", 0);
    if (x < 0) return zoo_fail(net, model);
    int64_t in = net->nodes[x].c;
    for (int32_t l = 0; l < variant; l++) {
        int last = l == variant - 1;
        int64_t out = last ? o->classes : o->hidden;
        int64_t wshape[2] = {in, out};
        ZOO_NAME(nm, "fcn.%d.w", l);
        int32_t w = zoo_normal_param(net, nm, 2, wshape);
        ZOO_NAME(nm, "fcn.%d.b", l);
        int32_t b = zoo_normal_param(net, nm, 1, &out);
        ZOO_NAME(nm, "fcn.%d.prescale", l);
        x = rs_net_scale(net, nm, x, (float)(last ? 1.0 / (double)in : 1.0 / sqrt((double)in)));
        ZOO_NAME(nm, "fcn.%d.%s", l, last ? "truediv" : "add");
        x = rs_net_matmul(net, nm, x, (int32_t)out, w, last ? -2 : b);
        if (!last) {
            ZOO_NAME(nm, "fcn.%d.relu", l);
            x = rs_net_relu(net, nm, x);
        }
        in = out;
    }
    return x < 0 ? zoo_fail(net, model) : RS_OK;
}
