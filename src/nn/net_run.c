/* net_run.c: initialising a net's parameters, forward and backward over the nodes (in the layout net_plan.c chose
 * for the pass), taps. Building the arenas is net_plan.c's.
 * Forward walks the nodes in order (they are appended topologically), backward walks them in reverse and
 * accumulates into each input's gradient, so branches (residual adds) need nothing special. */
#include <stdlib.h>
#include <string.h>

#include "nn/net_internal.h"
#include "relstab/nn.h"
#include "relstab/nn_ext.h"

void rs_net_init(rs_net *net, uint64_t seed) {
    RS_ASSERT(net->params.data);
    for (int32_t i = 0; i < net->params.count; i++) {
        const rs_param *p = &net->params.items[i];
        float *x = net->params.data + p->offset;
        uint64_t stream = rs_stream(RS_PURPOSE_INIT, (uint32_t)i, 0);
        switch (p->init.kind) {
        case RS_INIT_CONST:
            for (int64_t j = 0; j < p->numel; j++) x[j] = p->init.a;
            break;
        case RS_INIT_UNIFORM: rs_fill_uniform(x, (size_t)p->numel, seed, stream, 0, p->init.a, p->init.b); break;
        case RS_INIT_NORMAL: rs_fill_normal(x, (size_t)p->numel, seed, stream, 0, p->init.a, p->init.b); break;
        }
    }
}

void rs_net_zero_grad(rs_net *net) {
    if (net->params.grad) memset(net->params.grad, 0, net->params.total * sizeof(float));
}

static const float *param_or_null(const rs_net *net, int32_t i) {
    return i >= 0 ? rs_param_data(&net->params, i) : NULL;
}
static float *grad_or_null(const rs_net *net, int32_t i) { return i >= 0 ? rs_param_grad(&net->params, i) : NULL; }

static rs_bn_mode bn_mode_of(rs_mode m) {
    return m == RS_MODE_TRAIN ? RS_BN_TRAIN : m == RS_MODE_EVAL ? RS_BN_EVAL : RS_BN_BATCHSTAT;
}

/* A matmul node's weight W (K, O) transposed into the workspace as (O, K), the layout the linear op takes, followed
 * by `extra` more floats of scratch. */
static float *transposed_weight(rs_net *net, const rs_node *d, int64_t k, int64_t o, int64_t extra) {
    const float *w = rs_param_data(&net->params, d->param[0]); // (K, O)
    float *wt = rs_workspace_get(&net->ws, (size_t)(k * o + extra) * sizeof(float)); // (O, K)
    RS_ASSERT(wt);
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < o; j++) wt[j * k + i] = w[i * o + j];
    return wt;
}

/* Backward of a matmul node: the linear op's backward on the transposed weight, whose weight gradient (O, K) is
 * added transposed into the parameter's (K, O) gradient; a scalar bias takes the sum of every output's gradient. */
static void matmul_backward(rs_net *net, const rs_node *d, float *dx, const float *dy, const float *x, int64_t n,
                            int64_t k, int64_t o) {
    float *dw = grad_or_null(net, d->param[0]); // (K, O)
    float *wt = transposed_weight(net, d, k, o, dw ? k * o : 0);
    float *dwt = dw ? wt + k * o : NULL; // (O, K)
    if (dwt) memset(dwt, 0, (size_t)(k * o) * sizeof(float));
    float *db = grad_or_null(net, d->param[1]);
    rs_linear_backward(dx, dwt, d->b_scalar ? NULL : db, dy, x, wt, n, k, o);
    if (db && d->b_scalar) rs_scalar_bias_backward(db, dy, n * o);
    if (dwt)
        for (int64_t i = 0; i < k; i++)
            for (int64_t j = 0; j < o; j++) dw[i * o + j] += dwt[j * k + i];
}

/* One node's forward for the current batch of n. */
static void node_forward(rs_net *net, int32_t i, int32_t n, rs_mode mode) {
    rs_node *d = &net->nodes[i];
    const rs_node *a = &net->nodes[d->in[0]];
    const float *x = a->out; /* (n, a->h, a->w, a->c) */
    float *y = d->out;        /* (n, d->h, d->w, d->c) */
    int64_t in_numel = (int64_t)n * a->h * a->w * a->c, out_numel = (int64_t)n * d->h * d->w * d->c;
    uint64_t stream = rs_stream(RS_PURPOSE_DROPOUT, (uint32_t)i, (uint32_t)net->step);
    switch (d->op) {
    case RS_OP_INPUT: break;
    case RS_OP_CONV2D: {
        rs_conv2d_dims cd = d->conv;
        cd.n = n;
        rs_conv2d_forward(y, x, param_or_null(net, d->param[0]), param_or_null(net, d->param[1]), &cd, &net->ws);
        break;
    }
    case RS_OP_LINEAR:
        if (d->w_t && d->b_scalar) {
            rs_linear_forward(y, x, transposed_weight(net, d, a->c, d->c, 0), NULL, n, a->c, d->c);
            rs_scalar_bias_forward(y, param_or_null(net, d->param[1]), out_numel);
        } else if (d->w_t)
            rs_linear_forward(y, x, transposed_weight(net, d, a->c, d->c, 0), param_or_null(net, d->param[1]), n,
                              a->c, d->c);
        else
            rs_linear_forward(y, x, param_or_null(net, d->param[0]), param_or_null(net, d->param[1]), n, a->c, d->c);
        break;
    case RS_OP_RELU: rs_relu_forward(y, x, out_numel); break;
    case RS_OP_SILU: rs_silu_forward(y, x, out_numel); break;
    case RS_OP_SIGMOID: rs_sigmoid_forward(y, x, out_numel); break;
    case RS_OP_MAXPOOL: {
        rs_pool2d_dims pd = d->pool;
        pd.n = n;
        rs_maxpool2d_forward(y, net->with_grad ? d->saved : NULL, x, &pd);
        break;
    }
    case RS_OP_AVGPOOL: {
        rs_pool2d_dims pd = d->pool;
        pd.n = n;
        rs_avgpool2d_forward(y, x, &pd);
        break;
    }
    case RS_OP_ADAPTIVE_AVGPOOL: rs_adaptive_avgpool2d_forward(y, x, n, a->h, a->w, a->c, d->h, d->w); break;
    case RS_OP_BATCHNORM: {
        float *saved = d->saved; /* (2, C): mean, invstd */
        if (mode == RS_MODE_TRAIN && net->bn_sum)
            rs_batchnorm_forward_sync(y, saved, saved + d->c, x, param_or_null(net, d->param[0]),
                                      param_or_null(net, d->param[1]), rs_param_data(&net->params, d->param[2]),
                                      rs_param_data(&net->params, d->param[3]), (int64_t)n * d->h * d->w, d->c,
                                      d->eps, d->momentum, net->bn_sum, net->bn_sum_ctx, net->bn_work);
        else
            rs_batchnorm_forward(y, saved, saved + d->c, x, param_or_null(net, d->param[0]),
                                 param_or_null(net, d->param[1]), rs_param_data(&net->params, d->param[2]),
                                 rs_param_data(&net->params, d->param[3]), (int64_t)n * d->h * d->w, d->c, d->eps,
                                 d->momentum, bn_mode_of(mode));
        if (mode == RS_MODE_TRAIN) rs_param_data(&net->params, d->param[4])[0] += 1.0f;
        break;
    }
    case RS_OP_ADD: rs_add_forward(y, x, net->nodes[d->in[1]].out, out_numel); break;
    case RS_OP_MUL_CHANNEL: rs_mul_channel_forward(y, x, net->nodes[d->in[1]].out, n, (int64_t)d->h * d->w, d->c); break;
    case RS_OP_FLATTEN: rs_flatten_forward(y, x, n, a->h, a->w, a->c); break;
    case RS_OP_DROPOUT:
        if (mode == RS_MODE_TRAIN && d->p > 0) rs_dropout_forward(y, x, out_numel, d->p, net->seed, stream);
        else memcpy(y, x, (size_t)out_numel * sizeof(float));
        break;
    case RS_OP_DROPCONNECT:
        if (mode == RS_MODE_TRAIN && d->p > 0)
            rs_dropconnect_forward(y, x, n, out_numel / n, d->p, net->seed, stream);
        else memcpy(y, x, (size_t)out_numel * sizeof(float));
        break;
    case RS_OP_ZEROPAD: rs_zeropad_forward(y, x, n, a->h, a->w, a->c, d->pad[0], d->pad[1], d->pad[2], d->pad[3]); break;
    case RS_OP_SCALE: rs_scale_forward(y, x, out_numel, d->alpha); break;
    case RS_OP_GATHER: case RS_OP_SOFTMAX: case RS_OP_BINARY: rs_net_ext_forward(net, i, n); break;
    case RS_OP_COUNT: RS_ASSERT(0);
    }
    (void)in_numel;
}

rs_status rs_net_forward_nhwc(rs_net *net, const float *x, int32_t n, rs_mode mode) {
    if (!net->act.base) return rs_error(RS_ERR_ARG, "the net was not built (rs_net_build)");
    if (n <= 0 || n > net->batch)
        return rs_error(RS_ERR_ARG, "batch of %d images, but the net was built for at most %d", n, net->batch);
    const rs_node *in = &net->nodes[0];
    if (x) memcpy(net->nodes[0].out, x, sizeof(float) * (size_t)n * in->h * in->w * in->c);
    net->cur_n = n;
    net->cur_mode = mode;
    rs_net_use_layout(net, mode == RS_MODE_TRAIN && net->with_grad && !net->keep_outputs);
    /* Winograd (the AUTO policy) only for training passes: it doubles the convolutions' rounding error, which the
     * D, G, R measurements (eval and batch-statistics passes) would see against a float64 reference. */
    const rs_conv_algo algo = rs_get_conv_algo();
    if (mode != RS_MODE_TRAIN && algo == RS_CONV_ALGO_AUTO) rs_set_conv_algo(RS_CONV_ALGO_DIRECT);
    for (int32_t i = 1; i < net->n_nodes; i++) node_forward(net, i, n, mode);
    rs_set_conv_algo(algo);
    if (mode == RS_MODE_TRAIN) net->step++;
    return RS_OK;
}

rs_status rs_net_forward(rs_net *net, const float *x, int32_t n, rs_mode mode) {
    if (!net->act.base) return rs_error(RS_ERR_ARG, "the net was not built (rs_net_build)");
    if (n <= 0 || n > net->batch)
        return rs_error(RS_ERR_ARG, "batch of %d images, but the net was built for at most %d", n, net->batch);
    const rs_node *in = &net->nodes[0];
    rs_nchw_to_nhwc(net->nodes[0].out, x, n, in->c, in->h, in->w);
    return rs_net_forward_nhwc(net, NULL, n, mode);
}

/* One node's backward: accumulates into its inputs' d_out (NULL for the input node) and its parameters' grads. */
static void node_backward(rs_net *net, int32_t i, int32_t n, rs_mode mode, uint64_t step) {
    rs_node *d = &net->nodes[i];
    const rs_node *a = &net->nodes[d->in[0]];
    const float *x = a->out, *dy = d->d_out;
    float *dx = d->in[0] == 0 ? NULL : a->d_out;
    int64_t out_numel = (int64_t)n * d->h * d->w * d->c;
    uint64_t stream = rs_stream(RS_PURPOSE_DROPOUT, (uint32_t)i, (uint32_t)step);
    switch (d->op) {
    case RS_OP_INPUT: break;
    case RS_OP_CONV2D: {
        rs_conv2d_dims cd = d->conv;
        cd.n = n;
        rs_conv2d_backward(dx, grad_or_null(net, d->param[0]), grad_or_null(net, d->param[1]), dy, x,
                           param_or_null(net, d->param[0]), &cd, &net->ws);
        break;
    }
    case RS_OP_LINEAR:
        if (d->w_t)
            matmul_backward(net, d, dx, dy, x, n, a->c, d->c);
        else
            rs_linear_backward(dx, grad_or_null(net, d->param[0]), grad_or_null(net, d->param[1]), dy, x,
                               param_or_null(net, d->param[0]), n, a->c, d->c);
        break;
    case RS_OP_RELU: if (dx) rs_relu_backward(dx, dy, d->out, out_numel); break; /* out > 0 where in > 0 */
    case RS_OP_SILU: if (dx) rs_silu_backward(dx, dy, x, out_numel); break;
    case RS_OP_SIGMOID: if (dx) rs_sigmoid_backward(dx, dy, d->out, out_numel); break;
    case RS_OP_MAXPOOL: {
        rs_pool2d_dims pd = d->pool;
        pd.n = n;
        if (dx) rs_maxpool2d_backward(dx, dy, d->saved, &pd);
        break;
    }
    case RS_OP_AVGPOOL: {
        rs_pool2d_dims pd = d->pool;
        pd.n = n;
        if (dx) rs_avgpool2d_backward(dx, dy, &pd);
        break;
    }
    case RS_OP_ADAPTIVE_AVGPOOL: if (dx) rs_adaptive_avgpool2d_backward(dx, dy, n, a->h, a->w, a->c, d->h, d->w); break;
    case RS_OP_BATCHNORM: {
        const float *saved = d->saved;
        if (mode == RS_MODE_TRAIN && net->bn_sum)
            rs_batchnorm_backward_sync(dx, grad_or_null(net, d->param[0]), grad_or_null(net, d->param[1]), dy, x,
                                       param_or_null(net, d->param[0]), saved, saved + d->c,
                                       (int64_t)n * d->h * d->w, d->c, net->bn_sum, net->bn_sum_ctx, net->bn_work);
        else
            rs_batchnorm_backward(dx, grad_or_null(net, d->param[0]), grad_or_null(net, d->param[1]), dy, x,
                                  param_or_null(net, d->param[0]), saved, saved + d->c, (int64_t)n * d->h * d->w, d->c,
                                  bn_mode_of(mode));
        break;
    }
    case RS_OP_ADD: {
        float *db = d->in[1] == 0 ? NULL : net->nodes[d->in[1]].d_out;
        rs_add_backward(dx, db, dy, out_numel);
        break;
    }
    case RS_OP_MUL_CHANNEL: {
        const rs_node *s = &net->nodes[d->in[1]];
        rs_mul_channel_backward(dx, d->in[1] == 0 ? NULL : s->d_out, dy, x, s->out, n, (int64_t)d->h * d->w, d->c);
        break;
    }
    case RS_OP_FLATTEN: if (dx) rs_flatten_backward(dx, dy, n, a->h, a->w, a->c); break;
    case RS_OP_DROPOUT:
        if (!dx) break;
        if (mode == RS_MODE_TRAIN && d->p > 0) rs_dropout_backward(dx, dy, out_numel, d->p, net->seed, stream);
        else rs_add_backward(dx, NULL, dy, out_numel);
        break;
    case RS_OP_DROPCONNECT:
        if (!dx) break;
        if (mode == RS_MODE_TRAIN && d->p > 0)
            rs_dropconnect_backward(dx, dy, n, out_numel / n, d->p, net->seed, stream);
        else rs_add_backward(dx, NULL, dy, out_numel);
        break;
    case RS_OP_ZEROPAD:
        if (dx) rs_zeropad_backward(dx, dy, n, a->h, a->w, a->c, d->pad[0], d->pad[1], d->pad[2], d->pad[3]);
        break;
    case RS_OP_SCALE: if (dx) rs_scale_backward(dx, dy, out_numel, d->alpha); break;
    case RS_OP_GATHER: case RS_OP_SOFTMAX: case RS_OP_BINARY: rs_net_ext_backward(net, i, n); break;
    case RS_OP_COUNT: RS_ASSERT(0);
    }
}

/* Zeroes the gradients that step j of the backward starts to write (live[i] == j; at the output's step also the
 * output's own, before d_output is copied in). */
static void grad_zero_at(rs_net *net, const int32_t *live, int32_t j, int32_t n) {
    for (int32_t i = 1; i <= net->output; i++)
        if (live[i] == j) {
            const rs_node *d = &net->nodes[i];
            memset(d->d_out, 0, sizeof(float) * (size_t)n * d->h * d->w * d->c);
        }
}

rs_status rs_net_backward(rs_net *net, const float *d_output) {
    if (!net->with_grad) return rs_error(RS_ERR_ARG, "the net was built without gradients");
    int32_t n = net->cur_n;
    if (n <= 0) return rs_error(RS_ERR_ARG, "backward before any forward");
    if (net->output != net->grad_output)
        return rs_error(RS_ERR_ARG, "the net's output node changed after rs_net_build (%d, built for %d): build it "
                        "again", net->output, net->grad_output);
    int32_t *live = rs_alloc((size_t)net->n_nodes * sizeof(int32_t));
    if (!live) return rs_error(RS_ERR_NOMEM, "out of memory");
    rs_net_grad_live(net, live);
    grad_zero_at(net, live, net->output, n);
    rs_node *o = &net->nodes[net->output];
    memcpy(o->d_out, d_output, sizeof(float) * (size_t)n * o->h * o->w * o->c);
    /* the dropout masks of the last forward: a training forward has already advanced the step */
    uint64_t step = net->cur_mode == RS_MODE_TRAIN ? net->step - 1 : net->step;
    for (int32_t i = net->output; i >= 1; i--) {
        if (i < net->output) grad_zero_at(net, live, i, n);
        node_backward(net, i, n, net->cur_mode, step);
    }
    rs_free(live);
    return RS_OK;
}

void rs_net_tap_nchw(const rs_net *net, int32_t node, float *dst) {
    const rs_node *d = &net->nodes[node];
    rs_nhwc_to_nchw(dst, d->out, net->cur_n, d->c, d->h, d->w);
}

const float *rs_net_output_data(const rs_net *net) { return net->nodes[net->output].out; }

int64_t rs_net_output_numel(const rs_net *net) { return rs_net_node_numel(net, net->output); }
