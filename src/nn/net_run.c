/* net_run.c: building a net's arenas, initialising its parameters, forward and backward over the nodes, taps.
 * Forward walks the nodes in order (they are appended topologically), backward walks them in reverse and
 * accumulates into each input's gradient, so branches (residual adds) need nothing special. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* madvise */
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "relstab/nn.h"
#include "relstab/nn_ext.h"

static size_t aligned_floats(size_t n) { return (n + 15) / 16 * 16; }

/* Zeroed memory for the big blocks of a net (activations, parameters and their gradients), freed by rs_free. From
 * 4 MB on, 2 MB aligned and advised as transparent huge pages: the first touch of a few hundred MB of activations
 * in 4 KB pages costs one page fault per page, which perf put at 15-20 % of the CPU time of a VGG11 measurement
 * at P = 500 (docs/bench.md). Where the kernel gives no huge pages, the advice is ignored. */
static void *big_calloc(size_t bytes) {
    const size_t huge = (size_t)2 << 20;
    if (bytes < 2 * huge || bytes > SIZE_MAX - huge) return rs_calloc(bytes);
    size_t rounded = (bytes + huge - 1) / huge * huge;
    void *p = aligned_alloc(huge, rounded);
    if (!p) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, rounded, MADV_HUGEPAGE);
#endif
    memset(p, 0, bytes);
    return p;
}

/* Bytes of the per-node "saved" buffer for a batch of b. */
static size_t saved_bytes(const rs_node *d, int32_t b) {
    if (d->op == RS_OP_MAXPOOL) {
        rs_pool2d_dims p = d->pool;
        p.n = b;
        return rs_maxpool2d_saved_bytes(&p);
    }
    if (d->op == RS_OP_BATCHNORM) return 2 * sizeof(float) * (size_t)d->c;
    return 0;
}

static rs_status alloc_params(rs_net *net) {
    rs_params *p = &net->params;
    size_t bytes;
    if (rs_mul_size(p->total ? p->total : 1, sizeof(float), &bytes))
        return rs_error(RS_ERR_NOMEM, "parameter arena too large");
    p->data = big_calloc(bytes);
    p->grad = big_calloc(bytes);
    if (!p->data || !p->grad) return rs_error(RS_ERR_NOMEM, "cannot allocate %zu bytes of parameters", 2 * bytes);
    for (int32_t i = 0; i < p->count; i++) /* buffers and constants get their values even before rs_net_init */
        if (p->items[i].init.kind == RS_INIT_CONST)
            for (int64_t j = 0; j < p->items[i].numel; j++) p->data[p->items[i].offset + j] = p->items[i].init.a;
    return RS_OK;
}

/* ---------------------------------------------------------------- gradient buffers shared over time
 * The backward walks the nodes from the output down to 1; node i's gradient is written first by the backward of
 * its last consumer and read last by its own: it is live over the steps [i, live[i]] (live[i] = the largest
 * consumer up to the output, or i if none; the output's from the start). Nodes whose steps do not overlap share one
 * buffer (a slot), so a chain keeps about two gradients instead of all of them (PyTorch's autograd frees each
 * gradient once consumed for the same reason). Nodes after the output are never walked: they keep own slots. */
static void grad_live(const rs_net *net, int32_t *live) { // live: (n_nodes)
    int32_t out = net->output;
    for (int32_t i = 0; i < net->n_nodes; i++) live[i] = i;
    for (int32_t j = 1; j <= out; j++) {
        const rs_node *d = &net->nodes[j];
        const rs_ext_node *e = d->ext;
        for (int32_t k = 0; k < d->n_in; k++)
            if (d->in[k] >= 0 && live[d->in[k]] < j) live[d->in[k]] = j;
        for (int32_t k = 0; e && k < e->n_src; k++)
            if (e->src[k] >= 0 && live[e->src[k]] < j) live[e->src[k]] = j;
    }
}

/* Assigns every node i >= 1 a slot (slot[i]) by replaying the backward's order, and the slots' sizes in floats per
 * image (size, at most n_nodes slots); returns the number of slots. */
static int32_t grad_slots(const rs_net *net, const int32_t *live, int32_t *slot, int64_t *size) {
    int32_t n = net->n_nodes, ns = 0, out = net->output;
    char *busy = rs_calloc((size_t)n);
    RS_ASSERT(busy);
    for (int32_t i = out + 1; i < n; i++) slot[i] = ns, size[ns] = 0, busy[ns++] = 1;
    for (int32_t j = out; j >= 1; j--) {
        for (int32_t i = 1; i <= out; i++) { /* the gradients that step j starts to write (best fit) */
            if (live[i] != j && !(j == out && i == out)) continue;
            int64_t need = (int64_t)net->nodes[i].h * net->nodes[i].w * net->nodes[i].c;
            int32_t best = -1;
            for (int32_t k = 0; k < ns; k++)
                if (!busy[k] && (best < 0 || (size[k] >= need ? size[best] < need || size[k] < size[best]
                                                              : size[best] < need && size[k] > size[best])))
                    best = k;
            if (best < 0) best = ns++, size[best] = 0;
            if (size[best] < need) size[best] = need;
            busy[best] = 1, slot[i] = best;
        }
        busy[slot[j]] = 0; /* node j's gradient is dead after its own backward */
    }
    for (int32_t i = out + 1; i < n; i++) size[slot[i]] = (int64_t)net->nodes[i].h * net->nodes[i].w * net->nodes[i].c;
    rs_free(busy);
    return ns;
}

rs_status rs_net_build(rs_net *net, int32_t batch, int32_t with_grad) {
    if (net->status != RS_OK) return rs_error(net->status, "%s", net->error);
    if (batch <= 0) return rs_error(RS_ERR_ARG, "batch size %d is not positive", batch);
    if (!net->params.data) RS_TRY(alloc_params(net));
    int32_t nn = net->n_nodes, ns = 0;
    int32_t *live = with_grad ? rs_alloc((size_t)nn * 2 * sizeof(int32_t)) : NULL, *slot = live ? live + nn : NULL;
    int64_t *slot_size = with_grad ? rs_alloc((size_t)nn * sizeof(int64_t)) : NULL;
    float **slot_at = with_grad ? rs_alloc((size_t)nn * sizeof(float *)) : NULL;
    if (with_grad && (!live || !slot_size || !slot_at)) {
        rs_free(live), rs_free(slot_size), rs_free(slot_at);
        return rs_error(RS_ERR_NOMEM, "out of memory planning the gradients of %d nodes", nn);
    }
    if (with_grad) grad_live(net, live), ns = grad_slots(net, live, slot, slot_size);
    size_t total = 0;
    for (int32_t i = 0; i < nn; i++) {
        const rs_node *d = &net->nodes[i];
        size_t numel = (size_t)batch * (size_t)d->h * (size_t)d->w * (size_t)d->c;
        total += aligned_floats(numel) * sizeof(float) * (with_grad && i == 0 ? 2 : 1);
        total += aligned_floats((saved_bytes(d, batch) + 3) / 4) * sizeof(float);
    }
    for (int32_t k = 0; k < ns; k++) total += aligned_floats((size_t)batch * (size_t)slot_size[k]) * sizeof(float);
    rs_arena_free(&net->act);
    net->act.base = big_calloc(total + 64);
    if (!net->act.base) {
        rs_free(live), rs_free(slot_size), rs_free(slot_at);
        return rs_error(RS_ERR_NOMEM, "cannot allocate %zu MB of activations", (total + 64) >> 20);
    }
    net->act.capacity = total + 64, net->act.used = 0;
    for (int32_t k = 0; k < ns; k++) slot_at[k] = rs_arena_push(&net->act, (size_t)batch * (size_t)slot_size[k] * sizeof(float));
    for (int32_t i = 0; i < nn; i++) {
        rs_node *d = &net->nodes[i];
        size_t numel = (size_t)batch * (size_t)d->h * (size_t)d->w * (size_t)d->c;
        d->out = rs_arena_push(&net->act, numel * sizeof(float));
        d->d_out = !with_grad ? NULL : i == 0 ? rs_arena_push(&net->act, numel * sizeof(float)) : slot_at[slot[i]];
        size_t sb = saved_bytes(d, batch);
        d->saved = sb ? rs_arena_push(&net->act, sb) : NULL;
        RS_ASSERT(d->out && (!with_grad || d->d_out) && (!sb || d->saved));
    }
    rs_free(live), rs_free(slot_size), rs_free(slot_at);
    net->grad_output = net->output;
    net->batch = batch;
    net->with_grad = with_grad;
    net->cur_n = 0;
    return RS_OK;
}

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
    case RS_OP_RELU: if (dx) rs_relu_backward(dx, dy, x, out_numel); break;
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
    grad_live(net, live);
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
