/* net.c: the DAG of named nodes. Builders append nodes (in topological order) and register parameters in the
 * table; rs_net_build sizes the parameter and activation arenas; forward and backward are a loop over the nodes
 * that calls the ops. It is not a graph optimiser: no fusion, no in-place op; every node's true output is kept for
 * taps, except in a training step's forward (net_plan.c). */
#include "nn/net_internal.h"
#include "relstab/nn.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *op_names[RS_OP_COUNT] = {
    "input", "conv2d", "linear", "relu", "silu", "sigmoid", "maxpool", "avgpool", "adaptive_avgpool",
    "batchnorm", "add", "mul_channel", "flatten", "dropout", "dropconnect", "zeropad", "scale",
    "gather", "softmax", "binary",
};

const char *rs_op_name(rs_op_type op) { return (op >= 0 && op < RS_OP_COUNT) ? op_names[op] : "unknown"; }

/* ---------------------------------------------------------------- errors of the builder */
int32_t rs_net_build_fail(rs_net *net, const char *fmt, ...) {
    if (net->status == RS_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(net->error, sizeof net->error, fmt, ap);
        va_end(ap);
        net->status = RS_ERR_ARG;
    }
    return -1;
}

rs_net *rs_net_new(int32_t c, int32_t h, int32_t w) {
    rs_net *net = rs_calloc(sizeof *net);
    if (!net) return NULL;
    net->output = -1;
    if (c <= 0 || h <= 0 || w <= 0) {
        rs_net_build_fail(net, "input shape %dx%dx%d is not positive", c, h, w);
        return net;
    }
    net->cap_nodes = 64;
    net->nodes = rs_calloc(sizeof(rs_node) * (size_t)net->cap_nodes);
    if (!net->nodes) {
        rs_net_build_fail(net, "out of memory");
        net->status = RS_ERR_NOMEM;
        return net;
    }
    rs_node *x = &net->nodes[0];
    snprintf(x->name, RS_NAME_MAX, "x");
    x->op = RS_OP_INPUT;
    x->h = h;
    x->w = w;
    x->c = c;
    for (int i = 0; i < 5; i++) x->param[i] = -1;
    net->n_nodes = 1;
    net->output = 0;
    return net;
}

void rs_net_free(rs_net *net) {
    if (!net) return;
    for (int32_t i = 0; i < net->n_nodes; i++) rs_free(net->nodes[i].ext);
    rs_free(net->nodes);
    rs_free(net->params.items);
    rs_free(net->params.data);
    rs_free(net->params.grad);
    rs_free(net->params.state1);
    rs_free(net->params.state2);
    rs_net_act_free(net);
    rs_workspace_free(&net->ws);
    rs_free(net);
}

int32_t rs_net_find(const rs_net *net, const char *name) {
    for (int32_t i = 0; i < net->n_nodes; i++)
        if (!strcmp(net->nodes[i].name, name)) return i;
    return -1;
}

int32_t rs_params_find(const rs_params *p, const char *name) {
    for (int32_t i = 0; i < p->count; i++)
        if (!strcmp(p->items[i].name, name)) return i;
    return -1;
}

int64_t rs_params_count_trainable(const rs_params *p) {
    int64_t n = 0;
    for (int32_t i = 0; i < p->count; i++)
        if (p->items[i].kind == RS_PARAM_TRAINABLE) n += p->items[i].numel;
    return n;
}

int32_t rs_net_param(rs_net *net, const char *name, int32_t ndim, const int64_t *shape, rs_param_kind kind,
                     rs_init init) {
    if (net->status != RS_OK) return -1;
    if (net->params.data) return rs_net_build_fail(net, "parameter %s added after the net was built", name);
    if (strlen(name) >= RS_NAME_MAX) return rs_net_build_fail(net, "parameter name too long: %s", name);
    if (ndim < 0 || ndim > 4) return rs_net_build_fail(net, "parameter %s: %d dimensions (at most 4)", name, ndim);
    if (rs_params_find(&net->params, name) >= 0) return rs_net_build_fail(net, "duplicate parameter name %s", name);
    rs_params *p = &net->params;
    if (p->count == p->cap) {
        int32_t cap = p->cap ? 2 * p->cap : 64;
        rs_param *items = rs_calloc(sizeof(rs_param) * (size_t)cap);
        if (!items) return rs_net_build_fail(net, "out of memory");
        if (p->items) memcpy(items, p->items, sizeof(rs_param) * (size_t)p->count);
        rs_free(p->items);
        p->items = items;
        p->cap = cap;
    }
    rs_param *q = &p->items[p->count];
    memset(q, 0, sizeof *q);
    snprintf(q->name, RS_NAME_MAX, "%s", name);
    q->ndim = ndim;
    q->numel = 1;
    for (int32_t i = 0; i < ndim; i++) {
        if (shape[i] <= 0) return rs_net_build_fail(net, "parameter %s: dimension %d is %lld", name, i, (long long)shape[i]);
        q->shape[i] = shape[i];
        q->numel *= shape[i];
    }
    q->kind = kind;
    q->init = init;
    q->offset = p->total;
    /* keep every parameter 64-byte aligned: offsets in multiples of 16 floats */
    p->total += (size_t)(q->numel + 15) / 16 * 16;
    return p->count++;
}

/* Appends a node with inputs in0 (and in1 >= 0) and returns its index. */
static int32_t add_node(rs_net *net, const char *name, rs_op_type op, int32_t in0, int32_t in1) {
    if (net->status != RS_OK) return -1;
    if (net->act.base) return rs_net_build_fail(net, "node %s added after the net was built", name);
    if (!name || !name[0] || strlen(name) >= RS_NAME_MAX) return rs_net_build_fail(net, "bad node name '%s'", name ? name : "");
    if (rs_net_find(net, name) >= 0) return rs_net_build_fail(net, "duplicate node name %s", name);
    if (in0 < 0 || in0 >= net->n_nodes || in1 >= net->n_nodes)
        return rs_net_build_fail(net, "node %s: input node index out of range", name);
    if (net->n_nodes == net->cap_nodes) {
        int32_t cap = 2 * net->cap_nodes;
        rs_node *nodes = rs_calloc(sizeof(rs_node) * (size_t)cap);
        if (!nodes) return rs_net_build_fail(net, "out of memory");
        memcpy(nodes, net->nodes, sizeof(rs_node) * (size_t)net->n_nodes);
        rs_free(net->nodes);
        net->nodes = nodes;
        net->cap_nodes = cap;
    }
    int32_t idx = net->n_nodes;
    rs_node *d = &net->nodes[idx];
    memset(d, 0, sizeof *d);
    snprintf(d->name, RS_NAME_MAX, "%s", name);
    d->op = op;
    d->in[0] = in0;
    d->in[1] = in1;
    d->n_in = in1 >= 0 ? 2 : 1;
    for (int i = 0; i < 5; i++) d->param[i] = -1;
    const rs_node *src = &net->nodes[in0];
    d->h = src->h;
    d->w = src->w;
    d->c = src->c;
    net->n_nodes++;
    net->output = idx;
    return idx;
}

/* Registers "<node>.<suffix>" or checks that an existing parameter has the expected shape. */
static int32_t node_param(rs_net *net, const char *node, const char *suffix, int32_t existing, int32_t ndim,
                          const int64_t *shape, rs_param_kind kind, rs_init init) {
    if (existing >= 0) {
        if (existing >= net->params.count) return rs_net_build_fail(net, "node %s: parameter index out of range", node);
        const rs_param *p = &net->params.items[existing];
        int same = p->ndim == ndim;
        for (int32_t i = 0; same && i < ndim; i++) same = p->shape[i] == shape[i];
        /* a PyTorch Conv1d weight (C_out, C_in/g, K) serves a conv2d node with kernel 1 x K */
        if (!same && p->ndim == 3 && ndim == 4 && shape[2] == 1)
            same = p->shape[0] == shape[0] && p->shape[1] == shape[1] && p->shape[2] == shape[3];
        if (!same) return rs_net_build_fail(net, "node %s: parameter %s has the wrong shape", node, p->name);
        return existing;
    }
    char full[2 * RS_NAME_MAX];
    snprintf(full, sizeof full, "%s.%s", node, suffix);
    return rs_net_param(net, full, ndim, shape, kind, init);
}

static rs_init uniform_init(double bound) { return (rs_init){RS_INIT_UNIFORM, (float)-bound, (float)bound}; }
static rs_init const_init(float v) { return (rs_init){RS_INIT_CONST, v, 0}; }

int32_t rs_net_conv2d_ex(rs_net *net, const char *name, int32_t in, const rs_conv2d_dims *tmpl, int32_t w_param,
                         int32_t b_param) {
    int32_t idx = add_node(net, name, RS_OP_CONV2D, in, -1);
    if (idx < 0) return -1;
    rs_node *d = &net->nodes[idx];
    d->conv = *tmpl;
    d->conv.n = 1;
    d->conv.h_in = d->h;
    d->conv.w_in = d->w;
    d->conv.c_in = d->c;
    if (rs_conv2d_dims_finish(&d->conv) != RS_OK) return rs_net_build_fail(net, "node %s: %s", name, rs_last_error());
    d->h = d->conv.h_out;
    d->w = d->conv.w_out;
    d->c = d->conv.c_out;
    int64_t cin_g = d->conv.c_in / d->conv.groups;
    int64_t wshape[4] = {d->conv.c_out, cin_g, d->conv.kh, d->conv.kw};
    double bound = 1.0 / sqrt((double)(cin_g * d->conv.kh * d->conv.kw));
    int32_t wp = node_param(net, name, "weight", w_param, 4, wshape, RS_PARAM_TRAINABLE, uniform_init(bound));
    int32_t bp = -1;
    if (b_param != -2) bp = node_param(net, name, "bias", b_param, 1, wshape, RS_PARAM_TRAINABLE, uniform_init(bound));
    net->nodes[idx].param[0] = wp;
    net->nodes[idx].param[1] = bp;
    return net->status == RS_OK ? idx : -1;
}

int32_t rs_net_conv2d(rs_net *net, const char *name, int32_t in, int32_t c_out, int32_t k, int32_t stride,
                      int32_t pad, int32_t groups, int32_t bias) {
    rs_conv2d_dims t = {0};
    t.c_out = c_out;
    t.kh = t.kw = k;
    t.stride_h = t.stride_w = stride;
    t.pad_top = t.pad_bottom = t.pad_left = t.pad_right = pad;
    t.groups = groups;
    t.pad_mode = RS_PAD_ZERO;
    return rs_net_conv2d_ex(net, name, in, &t, -1, bias ? -1 : -2);
}

/* A linear node; transposed: the weight is (in, out) (rs_net_matmul) instead of PyTorch Linear's (out, in). */
static int32_t linear_node(rs_net *net, const char *name, int32_t in, int32_t out, int32_t w_param, int32_t b_param,
                           int32_t transposed) {
    int32_t idx = add_node(net, name, RS_OP_LINEAR, in, -1);
    if (idx < 0) return -1;
    rs_node *d = &net->nodes[idx];
    if (d->h != 1 || d->w != 1)
        return rs_net_build_fail(net, "node %s: linear needs a flat input, got %dx%dx%d (add a flatten)", name, d->c, d->h,
                          d->w);
    if (out <= 0) return rs_net_build_fail(net, "node %s: %d outputs", name, out);
    int64_t k = d->c;
    d->c = out;
    d->w_t = transposed;
    int64_t wshape[2] = {transposed ? k : out, transposed ? out : k};
    double bound = 1.0 / sqrt((double)k);
    int32_t wp = node_param(net, name, "weight", w_param, 2, wshape, RS_PARAM_TRAINABLE, uniform_init(bound));
    int32_t bp = -1;
    int64_t bshape = out;
    if (transposed && b_param >= 0 && b_param < net->params.count && out > 1 &&
        net->params.items[b_param].ndim <= 1 && net->params.items[b_param].numel == 1) {
        bp = b_param; /* one number broadcast to every output */
        net->nodes[idx].b_scalar = 1;
    } else if (b_param != -2) {
        bp = node_param(net, name, "bias", b_param, 1, &bshape, RS_PARAM_TRAINABLE, uniform_init(bound));
    }
    net->nodes[idx].param[0] = wp;
    net->nodes[idx].param[1] = bp;
    return net->status == RS_OK ? idx : -1;
}

int32_t rs_net_linear_ex(rs_net *net, const char *name, int32_t in, int32_t out, int32_t w_param, int32_t b_param) {
    return linear_node(net, name, in, out, w_param, b_param, 0);
}

int32_t rs_net_matmul(rs_net *net, const char *name, int32_t in, int32_t out, int32_t w_param, int32_t b_param) {
    return linear_node(net, name, in, out, w_param, b_param, 1);
}

int32_t rs_net_linear(rs_net *net, const char *name, int32_t in, int32_t out, int32_t bias) {
    return rs_net_linear_ex(net, name, in, out, -1, bias ? -1 : -2);
}

int32_t rs_net_relu(rs_net *net, const char *name, int32_t in) { return add_node(net, name, RS_OP_RELU, in, -1); }
int32_t rs_net_silu(rs_net *net, const char *name, int32_t in) { return add_node(net, name, RS_OP_SILU, in, -1); }
int32_t rs_net_sigmoid(rs_net *net, const char *name, int32_t in) {
    return add_node(net, name, RS_OP_SIGMOID, in, -1);
}

static int32_t add_pool(rs_net *net, const char *name, rs_op_type op, int32_t in, int32_t k, int32_t stride,
                        int32_t pad, int32_t count_include_pad) {
    int32_t idx = add_node(net, name, op, in, -1);
    if (idx < 0) return -1;
    rs_node *d = &net->nodes[idx];
    rs_pool2d_dims *p = &d->pool;
    p->n = 1;
    p->h_in = d->h;
    p->w_in = d->w;
    p->c = d->c;
    p->kh = p->kw = k;
    p->stride_h = p->stride_w = stride;
    p->pad_h = p->pad_w = pad;
    p->count_include_pad = count_include_pad;
    if (rs_pool2d_dims_finish(p) != RS_OK) return rs_net_build_fail(net, "node %s: %s", name, rs_last_error());
    d->h = p->h_out;
    d->w = p->w_out;
    return idx;
}

int32_t rs_net_maxpool(rs_net *net, const char *name, int32_t in, int32_t k, int32_t stride, int32_t pad) {
    return add_pool(net, name, RS_OP_MAXPOOL, in, k, stride, pad, 1);
}

int32_t rs_net_avgpool(rs_net *net, const char *name, int32_t in, int32_t k, int32_t stride, int32_t pad,
                       int32_t count_include_pad) {
    return add_pool(net, name, RS_OP_AVGPOOL, in, k, stride, pad, count_include_pad);
}

int32_t rs_net_adaptive_avgpool(rs_net *net, const char *name, int32_t in, int32_t ho, int32_t wo) {
    int32_t idx = add_node(net, name, RS_OP_ADAPTIVE_AVGPOOL, in, -1);
    if (idx < 0) return -1;
    if (ho <= 0 || wo <= 0) return rs_net_build_fail(net, "node %s: output size %dx%d", name, ho, wo);
    net->nodes[idx].h = ho;
    net->nodes[idx].w = wo;
    return idx;
}

int32_t rs_net_batchnorm(rs_net *net, const char *name, int32_t in, float eps, float momentum) {
    int32_t idx = add_node(net, name, RS_OP_BATCHNORM, in, -1);
    if (idx < 0) return -1;
    int64_t c = net->nodes[idx].c;
    int32_t p[5];
    p[0] = node_param(net, name, "weight", -1, 1, &c, RS_PARAM_TRAINABLE, const_init(1));
    p[1] = node_param(net, name, "bias", -1, 1, &c, RS_PARAM_TRAINABLE, const_init(0));
    p[2] = node_param(net, name, "running_mean", -1, 1, &c, RS_PARAM_BUFFER, const_init(0));
    p[3] = node_param(net, name, "running_var", -1, 1, &c, RS_PARAM_BUFFER, const_init(1));
    p[4] = node_param(net, name, "num_batches_tracked", -1, 0, &c, RS_PARAM_COUNTER, const_init(0));
    rs_node *d = &net->nodes[idx];
    memcpy(d->param, p, sizeof p);
    d->eps = eps;
    d->momentum = momentum;
    return net->status == RS_OK ? idx : -1;
}

int32_t rs_net_add(rs_net *net, const char *name, int32_t a, int32_t b) {
    if (b < 0) return rs_net_build_fail(net, "node %s: add needs two inputs", name);
    int32_t idx = add_node(net, name, RS_OP_ADD, a, b);
    if (idx < 0) return -1;
    const rs_node *x = &net->nodes[a], *y = &net->nodes[b];
    if (x->h != y->h || x->w != y->w || x->c != y->c)
        return rs_net_build_fail(net, "node %s: cannot add %dx%dx%d and %dx%dx%d", name, x->c, x->h, x->w, y->c, y->h, y->w);
    return idx;
}

int32_t rs_net_mul_channel(rs_net *net, const char *name, int32_t x, int32_t s) {
    if (s < 0) return rs_net_build_fail(net, "node %s: mul_channel needs two inputs", name);
    int32_t idx = add_node(net, name, RS_OP_MUL_CHANNEL, x, s);
    if (idx < 0) return -1;
    const rs_node *a = &net->nodes[x], *b = &net->nodes[s];
    if (b->h != 1 || b->w != 1 || b->c != a->c)
        return rs_net_build_fail(net, "node %s: scale %dx%dx%d does not match %d channels", name, b->c, b->h, b->w, a->c);
    return idx;
}

int32_t rs_net_flatten(rs_net *net, const char *name, int32_t in) {
    int32_t idx = add_node(net, name, RS_OP_FLATTEN, in, -1);
    if (idx < 0) return -1;
    rs_node *d = &net->nodes[idx];
    d->c = d->c * d->h * d->w;
    d->h = d->w = 1;
    return idx;
}

static int32_t add_drop(rs_net *net, const char *name, rs_op_type op, int32_t in, float p) {
    if (!(p >= 0 && p < 1)) return rs_net_build_fail(net, "node %s: drop probability %g outside [0, 1)", name, p);
    int32_t idx = add_node(net, name, op, in, -1);
    if (idx >= 0) net->nodes[idx].p = p;
    return idx;
}

int32_t rs_net_dropout(rs_net *net, const char *name, int32_t in, float p) {
    return add_drop(net, name, RS_OP_DROPOUT, in, p);
}

int32_t rs_net_dropconnect(rs_net *net, const char *name, int32_t in, float p) {
    return add_drop(net, name, RS_OP_DROPCONNECT, in, p);
}

int32_t rs_net_zeropad(rs_net *net, const char *name, int32_t in, int32_t top, int32_t bottom, int32_t left,
                       int32_t right) {
    if (top < 0 || bottom < 0 || left < 0 || right < 0) return rs_net_build_fail(net, "node %s: negative padding", name);
    int32_t idx = add_node(net, name, RS_OP_ZEROPAD, in, -1);
    if (idx < 0) return -1;
    rs_node *d = &net->nodes[idx];
    d->pad[0] = top;
    d->pad[1] = bottom;
    d->pad[2] = left;
    d->pad[3] = right;
    d->h += top + bottom;
    d->w += left + right;
    return idx;
}

int32_t rs_net_scale(rs_net *net, const char *name, int32_t in, float alpha) {
    int32_t idx = add_node(net, name, RS_OP_SCALE, in, -1);
    if (idx >= 0) net->nodes[idx].alpha = alpha;
    return idx;
}

/* Appends a node for the builders of other files (net_ext.c): the same checks as the builders here. */
int32_t rs_net_append_node(rs_net *net, const char *name, rs_op_type op, int32_t in0, int32_t in1) {
    return add_node(net, name, op, in0, in1);
}
