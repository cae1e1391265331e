/* onnx_load.c: rs_onnx_load: versions, constants (initializers, bound inputs), the net's input, the node loop,
 * the output, and the copy of the constants into the parameters once the net is built. */
#include <stdio.h>
#include <string.h>

#include "relstab/onnx.h"

#ifdef RELSTAB_HAVE_ONNX
#include "onnx/onnx_internal.h"

#define OX_MAX_FILE (2LL << 30)

static rs_status version_check(const Onnx__ModelProto *m, int64_t *opset) {
    if (!m->has_ir_version || m->ir_version < 3 || m->ir_version > 8)
        return rs_error(RS_ERR_UNSUPPORTED, "ONNX IR version %lld is not supported (3 to 8)",
                        (long long)(m->has_ir_version ? m->ir_version : 0));
    *opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        if (!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx")) *opset = o->has_version ? o->version : -1;
    }
    if (*opset < 6 || *opset > 17)
        return rs_error(RS_ERR_UNSUPPORTED, "default-domain opset %lld is not supported (6 to 17)", (long long)*opset);
    if (!m->graph) return rs_error(RS_ERR_FORMAT, "the model has no graph");
    return RS_OK;
}

static rs_status add_const(ox_ctx *c, const char *name, const Onnx__TensorProto *t, const rs_onnx_tensor *b) {
    if (!name || !name[0]) return rs_error(RS_ERR_FORMAT, "an initializer without a name");
    if (ox_find(c, name)) return rs_error(RS_ERR_FORMAT, "value '%s' is defined twice", name);
    ox_value *v = ox_add(c, name);
    if (!v) return rs_error(RS_ERR_NOMEM, "out of memory");
    if (t) return ox_tensor_values(t, c->dir, &v->rank, v->dims, &v->v, &v->numel);
    if (b->ndim > RS_ONNX_MAX_RANK) return rs_error(RS_ERR_ARG, "bound tensor '%s': rank %d", name, b->ndim);
    v->rank = b->ndim;
    memcpy(v->dims, b->dims, sizeof(int64_t) * (size_t)b->ndim);
    v->numel = b->numel;
    v->v = rs_calloc(sizeof(double) * (size_t)(b->numel ? b->numel : 1));
    if (!v->v) return rs_error(RS_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < b->numel; i++) v->v[i] = b->data[i];
    return RS_OK;
}

/* The net's input: the first graph input that is not a constant; its per-sample dims fixed (or given in opts). */
static rs_status make_input(ox_ctx *c, const Onnx__GraphProto *g, const rs_onnx_opts *o, rs_onnx_meta *meta) {
    const Onnx__ValueInfoProto *in = NULL;
    for (size_t i = 0; i < g->n_input; i++) {
        const char *nm = g->input[i]->name;
        if (!nm || !nm[0]) return rs_error(RS_ERR_FORMAT, "a graph input without a name");
        if (ox_find(c, nm)) continue; /* an initializer also listed as an input (IR < 4), or bound */
        if (in) return rs_error(RS_ERR_UNSUPPORTED, "graph inputs '%s' and '%s': a relstab net takes one input",
                                in->name, nm);
        in = g->input[i];
    }
    if (!in) return rs_error(RS_ERR_FORMAT, "the graph has no input besides its initializers");
    const Onnx__TypeProto *t = in->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type)
        return rs_error(RS_ERR_UNSUPPORTED, "graph input '%s' is not a tensor", in->name);
    if (t->tensor_type->elem_type != 1)
        return rs_error(RS_ERR_UNSUPPORTED, "graph input '%s' has data type %d, not float", in->name,
                        t->tensor_type->elem_type);
    const Onnx__TensorShapeProto *sh = t->tensor_type->shape;
    if (!sh || sh->n_dim < 1 || sh->n_dim > 4)
        return rs_error(RS_ERR_UNSUPPORTED, "graph input '%s': rank %zu (1 to 4 with the batch supported)", in->name,
                        sh ? sh->n_dim : 0);
    int32_t r = (int32_t)sh->n_dim;
    int64_t dims[4] = {-1, 1, 1, 1};
    const int32_t given[4] = {0, o ? o->channels : 0, r == 4 ? (o ? o->height : 0) : (o ? o->width : 0),
                              o ? o->width : 0};
    for (int32_t i = 0; i < r; i++) {
        const Onnx__TensorShapeProto__Dimension *d = sh->dim[i];
        int64_t v = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ? d->dim_value : -1;
        if (i == 0) {
            c->batch0 = v > 0 ? v : -1;
            continue;
        }
        if (v <= 0 && given[i] > 0) v = given[i];
        if (v <= 0 || v > (1 << 20))
            return rs_error(RS_ERR_UNSUPPORTED, "graph input '%s': dimension %d is %s; give the input size", in->name,
                            i, v <= 0 ? "symbolic" : "too large");
        if (given[i] > 0 && v != given[i])
            return rs_error(RS_ERR_ARG, "graph input '%s': dimension %d is %lld, the data has %d", in->name, i,
                            (long long)v, given[i]);
        dims[i] = v;
    }
    if (ox_sample_numel(r, dims) > OX_MAX_NUMEL) return rs_error(RS_ERR_FORMAT, "graph input '%s' is too large", in->name);
    int32_t C = r > 1 ? (int32_t)dims[1] : 1, H = r > 3 ? (int32_t)dims[2] : 1;
    int32_t W = r > 3 ? (int32_t)dims[3] : r > 2 ? (int32_t)dims[2] : 1;
    c->net = rs_net_new(C, H, W);
    if (!c->net) return rs_error(RS_ERR_NOMEM, "out of memory");
    if (c->net->status) return rs_error(c->net->status, "%s", c->net->error);
    ox_value *v = ox_add(c, in->name);
    if (!v) return rs_error(RS_ERR_NOMEM, "out of memory");
    v->node = 0, v->rank = r;
    memcpy(v->dims, dims, sizeof dims);
    snprintf(meta->input, sizeof meta->input, "%s", in->name);
    meta->in_rank = r;
    memcpy(meta->in_dims, dims, sizeof dims);
    meta->in_dims[0] = c->batch0;
    return RS_OK;
}

static rs_status import_nodes(ox_ctx *c, const Onnx__GraphProto *g) {
    for (size_t k = 0; k < g->n_node; k++) {
        const Onnx__NodeProto *n = g->node[k];
        c->cur = n;
        c->cur_name = n->n_output ? n->output[0] : NULL;
        if (!n->op_type) return ox_fail(c, RS_ERR_FORMAT, "a node without an operator");
        if (!c->cur_name || !c->cur_name[0]) return ox_fail(c, RS_ERR_FORMAT, "a node without an output name");
        if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx"))
            return ox_fail(c, RS_ERR_UNSUPPORTED, "operator domain '%s' is not supported", n->domain);
        for (size_t i = 0; i < n->n_input; i++)
            if (n->input[i] && n->input[i][0] && !ox_find(c, n->input[i]))
                return ox_fail(c, RS_ERR_FORMAT, "input '%s' is not defined before this node (the graph is cyclic or "
                               "not sorted, or the initializer is missing)", n->input[i]);
        for (size_t i = 0; i < n->n_output; i++)
            if (n->output[i] && n->output[i][0] && ox_find(c, n->output[i]))
                return ox_fail(c, RS_ERR_FORMAT, "output '%s' is defined twice", n->output[i]);
        RS_TRY(ox_import_node(c));
    }
    c->cur = NULL;
    return RS_OK;
}

static rs_status finish(ox_ctx *c, const Onnx__GraphProto *g, rs_onnx_meta *meta) {
    if (g->n_output < 1 || !g->output[0]->name) return rs_error(RS_ERR_FORMAT, "the graph has no output");
    const ox_value *out = ox_find(c, g->output[0]->name);
    if (!out) return rs_error(RS_ERR_FORMAT, "graph output '%s' is not computed by any node", g->output[0]->name);
    if (out->node <= 0)
        return rs_error(RS_ERR_UNSUPPORTED, "graph output '%s' is a constant or the input itself", out->name);
    c->net->output = out->node;
    snprintf(meta->output, sizeof meta->output, "%s", out->name);
    meta->out_rank = out->rank;
    memcpy(meta->out_dims, out->dims, sizeof meta->out_dims);
    RS_TRY(rs_net_build(c->net, 1, 0));
    for (int32_t i = 0; i < c->n_vals; i++) {
        const ox_value *v = &c->vals[i];
        if (v->param < 0) continue;
        float *dst = rs_param_data(&c->net->params, v->param);
        for (int64_t j = 0; j < v->numel; j++) dst[j] = (float)v->v[j];
    }
    meta->onnx_params = c->params_values;
    return RS_OK;
}

static rs_status load(const uint8_t *buf, size_t len, const char *dir, const rs_onnx_opts *o, rs_net **net,
                      rs_onnx_meta *meta) {
    *net = NULL;
    rs_onnx_meta scratch;
    if (!meta) meta = &scratch;
    memset(meta, 0, sizeof *meta);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
    if (!m) return rs_error(RS_ERR_FORMAT, "not an ONNX model (protobuf decoding failed: truncated or not ONNX)");
    ox_ctx c = {0};
    c.batch0 = -1;
    c.dir = dir;
    c.test_batch = o && o->batch > 0 ? o->batch : 0;
    rs_status s = version_check(m, &c.opset);
    const Onnx__GraphProto *g = m->graph;
    if (!s) {
        meta->ir_version = m->ir_version, meta->opset = c.opset, meta->onnx_nodes = (int32_t)g->n_node;
        snprintf(meta->producer, sizeof meta->producer, "%s %s", m->producer_name ? m->producer_name : "",
                 m->producer_version ? m->producer_version : "");
    }
    for (size_t i = 0; !s && i < g->n_initializer; i++) s = add_const(&c, g->initializer[i]->name, g->initializer[i], NULL);
    if (!s && g->n_sparse_initializer) s = rs_error(RS_ERR_UNSUPPORTED, "sparse initializers are not supported");
    for (int32_t i = 0; !s && o && i < o->n_bind; i++) s = add_const(&c, o->bind[i].name, NULL, &o->bind[i]);
    if (!s) s = make_input(&c, g, o, meta);
    if (!s) s = import_nodes(&c, g);
    if (!s) s = finish(&c, g, meta);
    for (int32_t i = 0; i < c.n_vals; i++) rs_free(c.vals[i].v);
    rs_free(c.vals);
    onnx__model_proto__free_unpacked(m, NULL);
    if (s) {
        rs_net_free(c.net);
        return s;
    }
    *net = c.net;
    return RS_OK;
}

rs_status rs_onnx_load_buffer(const uint8_t *buf, size_t len, const rs_onnx_opts *o, rs_net **net,
                              rs_onnx_meta *meta) {
    return load(buf, len, NULL, o, net, meta);
}

rs_status rs_onnx_load(const char *path, const rs_onnx_opts *o, rs_net **net, rs_onnx_meta *meta) {
    void *buf;
    size_t len;
    *net = NULL;
    RS_TRY(rs_read_file(path, &buf, &len, (size_t)OX_MAX_FILE));
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *sl = strrchr(dir, '/');
    if (!sl) snprintf(dir, sizeof dir, ".");
    else if (sl == dir) sl[1] = 0;
    else *sl = 0;
    rs_status s = load(buf, len, dir, o, net, meta);
    rs_free(buf);
    if (!s) return RS_OK;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", rs_last_error());
    return rs_error(s, "%s: %s", path, msg);
}
#endif
