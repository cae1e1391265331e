/* net_ext.c: the net nodes of nn_ext.h (gather, softmax, binary incl. its matmul kind): builders that copy their
 * index tables into one allocation hung on the node, and the forward / backward that net_run.c calls for them.
 * The tables are checked here (every index inside its source, a matmul's whole row and column), so a hostile
 * graph cannot make an op read out of bounds. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nn/net_internal.h"
#include "relstab/nn_ext.h"

static int64_t node_numel(const rs_net *net, int32_t i) {
    const rs_node *d = &net->nodes[i];
    return (int64_t)d->h * d->w * d->c;
}

/* Appends the node and its table block of `extra` bytes after the rs_ext_node header. */
static rs_ext_node *ext_new(rs_net *net, const char *name, rs_op_type op, int32_t in0, int32_t in1, int32_t h,
                            int32_t w, int32_t c, size_t extra, int32_t *idx) {
    *idx = -1;
    if (h <= 0 || w <= 0 || c <= 0) return rs_net_build_fail(net, "node %s: output shape %dx%dx%d", name, c, h, w), NULL;
    int32_t i = rs_net_append_node(net, name, op, in0, in1);
    if (i < 0) return NULL;
    rs_ext_node *e = rs_calloc(sizeof *e + extra);
    if (!e) {
        rs_net_build_fail(net, "out of memory");
        net->status = RS_ERR_NOMEM;
        return NULL;
    }
    rs_node *d = &net->nodes[i];
    d->ext = e;
    d->h = h, d->w = w, d->c = c;
    e->per = (int64_t)h * w * c;
    e->b_param = -1;
    *idx = i;
    return e;
}

int32_t rs_net_gather(rs_net *net, const char *name, int32_t n_src, const int32_t *srcs, int32_t h, int32_t w,
                      int32_t c, const int32_t *which, const int64_t *off, float fill) {
    if (net->status != RS_OK) return -1;
    if (n_src < 1 || n_src > RS_EXT_MAX_IN) return rs_net_build_fail(net, "node %s: %d inputs (1 to %d)", name, n_src, RS_EXT_MAX_IN);
    for (int32_t k = 0; k < n_src; k++)
        if (srcs[k] < 0 || srcs[k] >= net->n_nodes) return rs_net_build_fail(net, "node %s: input %d out of range", name, k);
    int64_t per = (int64_t)h * w * c;
    int32_t idx;
    rs_ext_node *e = ext_new(net, name, RS_OP_GATHER, srcs[0], -1, h, w, c,
                             (size_t)(per > 0 ? per : 0) * (sizeof(int64_t) + sizeof(int32_t)), &idx);
    if (!e) return -1;
    e->off = (int64_t *)(e + 1);
    e->which = (int32_t *)(e->off + per);
    e->n_src = n_src;
    memcpy(e->src, srcs, sizeof(int32_t) * (size_t)n_src);
    for (int64_t j = 0; j < per; j++) {
        if (which[j] >= n_src || (which[j] >= 0 && (off[j] < 0 || off[j] >= node_numel(net, srcs[which[j]]))))
            return rs_net_build_fail(net, "node %s: gather index %lld out of range", name, (long long)j);
        e->which[j] = which[j] < 0 ? -1 : which[j];
        e->off[j] = off[j];
    }
    e->fill = fill;
    return idx;
}

int32_t rs_net_softmax(rs_net *net, const char *name, int32_t in, int64_t groups, int64_t len, const int64_t *idx) {
    if (net->status != RS_OK) return -1;
    if (in < 0 || in >= net->n_nodes) return rs_net_build_fail(net, "node %s: input out of range", name);
    const rs_node *a = &net->nodes[in];
    int64_t per = node_numel(net, in);
    if (groups <= 0 || len <= 0 || groups * len != per)
        return rs_net_build_fail(net, "node %s: softmax groups %lld x %lld do not cover %lld values", name, (long long)groups,
                        (long long)len, (long long)per);
    int32_t i;
    rs_ext_node *e = ext_new(net, name, RS_OP_SOFTMAX, in, -1, a->h, a->w, a->c, (size_t)per * sizeof(int64_t), &i);
    if (!e) return -1;
    e->idx = (int64_t *)(e + 1);
    e->groups = groups, e->len = len;
    for (int64_t j = 0; j < per; j++) {
        if (idx[j] < 0 || idx[j] >= per) return rs_net_build_fail(net, "node %s: softmax index out of range", name);
        e->idx[j] = idx[j];
    }
    return i;
}

/* The body of both builders: B is node b, or (b < 0) parameter b_param holding b_batch samples (0: shared). */
static int32_t binary_node(rs_net *net, const char *name, rs_binary_kind kind, int32_t a, int32_t b, int32_t b_param,
                           int32_t b_batch, const int64_t *ia, const int64_t *ib, int32_t h, int32_t w, int32_t c,
                           float ka, float kb, const int64_t *kdd) {
    if (net->status != RS_OK) return -1;
    int64_t reach[2] = {0, 0}; /* matmul: how far past its start a row of A / a column of B reaches */
    if (kind == RS_BIN_MATMUL) {
        if (!ia || !ib || kdd[0] < 1 || kdd[1] < 0 || kdd[2] < 0 || kdd[0] > (1LL << 28) ||
            kdd[1] > (1LL << 32) || kdd[2] > (1LL << 32))
            return rs_net_build_fail(net, "node %s: matmul of length %lld", name, (long long)kdd[0]);
        reach[0] = (kdd[0] - 1) * kdd[1], reach[1] = (kdd[0] - 1) * kdd[2];
    }
    if (a < 0 || a >= net->n_nodes || b >= net->n_nodes) return rs_net_build_fail(net, "node %s: input out of range", name);
    if (b < 0 && (b_param < 0 || b_param >= net->params.count))
        return rs_net_build_fail(net, "node %s: no second operand", name);
    int64_t per = (int64_t)h * w * c, na = node_numel(net, a);
    int64_t nb = b >= 0 ? node_numel(net, b) : net->params.items[b_param].numel;
    if (b < 0 && b_batch > 0) {
        if (b_batch > net->params.items[b_param].numel || nb % b_batch)
            return rs_net_build_fail(net, "node %s: %lld values are not %d samples", name, (long long)nb, b_batch);
        nb /= b_batch;
    }
    if (kind == RS_BIN_CONST) ia = NULL, na = per; /* A is not read */
    int32_t idx;
    rs_ext_node *e = ext_new(net, name, RS_OP_BINARY, a, b, h, w, c,
                             (size_t)(per > 0 ? per : 0) * sizeof(int64_t) * ((ia != NULL) + (ib != NULL)), &idx);
    if (!e) return -1;
    int64_t *tab = (int64_t *)(e + 1);
    e->n_src = b >= 0 ? 2 : 1;
    e->src[0] = a, e->src[1] = b;
    e->b_param = b >= 0 ? -1 : b_param;
    e->bin = (rs_binary_dims){kind, ka, kb, na, b >= 0 || b_batch > 0 ? nb : 0, NULL, NULL, 1, 0, 0};
    if (kind == RS_BIN_MATMUL) e->bin.k = kdd[0], e->bin.da = kdd[1], e->bin.db = kdd[2];
    e->b_batch = b_batch;
    const int64_t *maps[2] = {ia, ib};
    const int64_t lim[2] = {na, nb};
    for (int m = 0; m < 2; m++) {
        if (!maps[m]) {
            if (lim[m] != per) return rs_net_build_fail(net, "node %s: operand %d has %lld values, not %lld", name, m,
                                               (long long)lim[m], (long long)per);
            continue;
        }
        for (int64_t j = 0; j < per; j++) {
            if (maps[m][j] < 0 || maps[m][j] + reach[m] >= lim[m])
                return rs_net_build_fail(net, "node %s: broadcast index out of range", name);
            tab[j] = maps[m][j];
        }
        if (m == 0) e->bin.ia = tab;
        else e->bin.ib = tab;
        tab += per;
    }
    return idx;
}

int32_t rs_net_binary(rs_net *net, const char *name, rs_binary_kind kind, int32_t a, int32_t b, int32_t b_param,
                      const int64_t *ia, const int64_t *ib, int32_t h, int32_t w, int32_t c, float ka, float kb) {
    if (kind == RS_BIN_MATMUL) return rs_net_build_fail(net, "node %s: a matmul needs rs_net_matmul_tab", name);
    return binary_node(net, name, kind, a, b, b_param, 0, ia, ib, h, w, c, ka, kb, NULL);
}

int32_t rs_net_binary_batched(rs_net *net, const char *name, rs_binary_kind kind, int32_t a, int32_t b_param,
                              int32_t b_batch, const int64_t *ia, const int64_t *ib, int32_t h, int32_t w, int32_t c,
                              float ka, float kb) {
    if (b_param < 0) return rs_net_build_fail(net, "node %s: no constant operand", name);
    if (kind == RS_BIN_MATMUL) return rs_net_build_fail(net, "node %s: a matmul needs rs_net_matmul_tab", name);
    return binary_node(net, name, kind, a, -1, b_param, b_batch, ia, ib, h, w, c, ka, kb, NULL);
}

int32_t rs_net_matmul_tab(rs_net *net, const char *name, int32_t a, int32_t b, int32_t b_param, int32_t b_batch,
                          const int64_t *ia, const int64_t *ib, int64_t k, int64_t da, int64_t db, int32_t h, int32_t w,
                          int32_t c) {
    const int64_t kdd[3] = {k, da, db};
    if (b >= 0 && b_batch) return rs_net_build_fail(net, "node %s: a node operand has no sample count", name);
    return binary_node(net, name, RS_BIN_MATMUL, a, b, b >= 0 ? -1 : b_param, b >= 0 ? 0 : b_batch, ia, ib, h, w, c,
                       1, 0, kdd);
}

/* The operand pointers of a binary node: B is a node's output or a parameter. */
static void binary_operands(rs_net *net, const rs_ext_node *e, const float **b, float **d_b) {
    if (e->b_param >= 0) {
        *b = rs_param_data(&net->params, e->b_param);
        *d_b = net->params.grad ? rs_param_grad(&net->params, e->b_param) : NULL;
    } else {
        const rs_node *nb = &net->nodes[e->src[1]];
        *b = nb->out;
        *d_b = e->src[1] == 0 ? NULL : nb->d_out;
    }
}

void rs_net_ext_forward(rs_net *net, int32_t node, int32_t n) {
    rs_node *d = &net->nodes[node];
    const rs_ext_node *e = d->ext;
    if (d->op == RS_OP_GATHER) {
        const float *src[RS_EXT_MAX_IN];
        int64_t numel[RS_EXT_MAX_IN];
        for (int32_t k = 0; k < e->n_src; k++) src[k] = net->nodes[e->src[k]].out, numel[k] = node_numel(net, e->src[k]);
        rs_gather_forward(d->out, src, numel, e->which, e->off, n, e->per, e->fill);
    } else if (d->op == RS_OP_SOFTMAX) {
        rs_softmax_forward(d->out, net->nodes[d->in[0]].out, e->idx, n, e->per, e->groups, e->len);
    } else {
        const float *b;
        float *db;
        binary_operands(net, e, &b, &db);
        RS_ASSERT(!e->b_batch || n <= e->b_batch); /* a per-sample constant covers the batch it was made for */
        rs_binary_forward(d->out, net->nodes[e->src[0]].out, b, &e->bin, n, e->per);
    }
}

void rs_net_ext_backward(rs_net *net, int32_t node, int32_t n) {
    rs_node *d = &net->nodes[node];
    const rs_ext_node *e = d->ext;
    if (d->op == RS_OP_GATHER) {
        float *dsrc[RS_EXT_MAX_IN];
        int64_t numel[RS_EXT_MAX_IN];
        for (int32_t k = 0; k < e->n_src; k++) {
            dsrc[k] = e->src[k] == 0 ? NULL : net->nodes[e->src[k]].d_out;
            numel[k] = node_numel(net, e->src[k]);
        }
        rs_gather_backward(dsrc, numel, d->d_out, e->which, e->off, n, e->per);
    } else if (d->op == RS_OP_SOFTMAX) {
        if (d->in[0] != 0)
            rs_softmax_backward(net->nodes[d->in[0]].d_out, d->d_out, d->out, e->idx, n, e->per, e->groups, e->len);
    } else {
        const float *b;
        float *db;
        binary_operands(net, e, &b, &db);
        const rs_node *a = &net->nodes[e->src[0]];
        rs_binary_backward(e->src[0] == 0 ? NULL : a->d_out, db, d->d_out, a->out, b, &e->bin, n, e->per);
    }
}
