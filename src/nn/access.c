/* access.c: a net's nodes and taps through plain function calls (no struct layout needed), for bindings to other
 * languages (python/relstab): node count, name, op and output shape, the batch it is built for, a tap copied out
 * in NCHW or NHWC order. It does not build or run nets (net.c, net_run.c). */
#include <string.h>

#include "relstab/nn.h"

int32_t rs_net_node_count(const rs_net *net) { return net ? net->n_nodes : 0; }

const char *rs_net_node_name(const rs_net *net, int32_t i) {
    return net && i >= 0 && i < net->n_nodes ? net->nodes[i].name : NULL;
}

rs_status rs_net_node_dims(const rs_net *net, int32_t i, int32_t dims[4]) {
    if (!net || i < 0 || i >= net->n_nodes)
        return rs_error(RS_ERR_ARG, "node %d is not in the net (%d nodes)", i, net ? net->n_nodes : 0);
    const rs_node *d = &net->nodes[i];
    dims[0] = (int32_t)d->op, dims[1] = d->c, dims[2] = d->h, dims[3] = d->w;
    return RS_OK;
}

int32_t rs_net_built_batch(const rs_net *net) { return net && net->act.base ? net->batch : 0; }

int32_t rs_net_has_params(const rs_net *net) { return net && net->params.data ? 1 : 0; }

rs_status rs_net_tap_copy(const rs_net *net, int32_t node, int32_t nhwc, float *dst, int64_t capacity) {
    if (!net || node < 0 || node >= net->n_nodes)
        return rs_error(RS_ERR_ARG, "node %d is not in the net (%d nodes)", node, net ? net->n_nodes : 0);
    if (!net->act.base || net->cur_n < 1) return rs_error(RS_ERR_ARG, "no forward has run yet: no tap to read");
    const rs_node *d = &net->nodes[node];
    if (net->cur_layout && node != net->output)
        return rs_error(RS_ERR_ARG, "node %s: a training forward keeps only the output node's values (set the net's "
                        "keep_outputs to read the others)", d->name);
    int64_t numel = (int64_t)net->cur_n * d->c * d->h * d->w;
    if (capacity < numel)
        return rs_error(RS_ERR_ARG, "node %s: %lld values to copy into room for %lld", d->name, (long long)numel,
                        (long long)capacity);
    if (nhwc) memcpy(dst, d->out, (size_t)numel * sizeof(float));
    else rs_net_tap_nchw(net, node, dst);
    return RS_OK;
}
