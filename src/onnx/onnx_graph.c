/* onnx_graph.c: the ONNX model reader: protobuf-c decodes the file (C code generated at build time from Debian's
 * onnx.proto), then the graph is walked in its stored (topological) order, each node imported by onnx_ops.c into
 * the relstab net; constants (initializers, Constant nodes, bound test inputs) are kept as values and become
 * parameters when an operator uses them as weights. It checks everything it reads: versions, types, dimensions,
 * data sizes, names, that every input is defined before use (so a cyclic graph is refused), and it never trusts a
 * size from the file before comparing it with the bytes present. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/onnx.h"

#ifndef RELSTAB_HAVE_ONNX
int rs_onnx_available(void) { return 0; }
rs_status rs_onnx_tensor_read(const char *path, rs_onnx_tensor *t) {
    (void)path, (void)t;
    return rs_error(RS_ERR_UNSUPPORTED, "this relstab was built without ONNX support (protobuf-c not found)");
}
void rs_onnx_tensor_free(rs_onnx_tensor *t) { (void)t; }
rs_status rs_onnx_load(const char *path, const rs_onnx_opts *o, rs_net **net, rs_onnx_meta *m) {
    (void)path, (void)o, (void)net, (void)m;
    return rs_error(RS_ERR_UNSUPPORTED, "this relstab was built without ONNX support (protobuf-c not found)");
}
rs_status rs_onnx_load_buffer(const uint8_t *b, size_t len, const rs_onnx_opts *o, rs_net **net, rs_onnx_meta *m) {
    (void)b, (void)len, (void)o, (void)net, (void)m;
    return rs_error(RS_ERR_UNSUPPORTED, "this relstab was built without ONNX support (protobuf-c not found)");
}
#else
#include "onnx/onnx_internal.h"

#define OX_MAX_FILE (2LL << 30)

int rs_onnx_available(void) { return 1; }

rs_status ox_fail(ox_ctx *c, rs_status code, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c && c->cur)
        return rs_error(code, "op %s (node '%s'): %s", c->cur->op_type ? c->cur->op_type : "?",
                        c->cur_name ? c->cur_name : "", msg);
    return rs_error(code, "%s", msg);
}

ox_value *ox_find(ox_ctx *c, const char *name) {
    if (!name) return NULL;
    for (int32_t i = c->n_vals - 1; i >= 0; i--)
        if (!strcmp(c->vals[i].name, name)) return &c->vals[i];
    return NULL;
}

ox_value *ox_input(ox_ctx *c, size_t k) {
    if (k >= c->cur->n_input || !c->cur->input[k] || !c->cur->input[k][0]) return NULL;
    return ox_find(c, c->cur->input[k]);
}

rs_status ox_need_node(ox_ctx *c, size_t k, ox_value **v) {
    *v = ox_input(c, k);
    if (!*v) return ox_fail(c, RS_ERR_FORMAT, "input %zu is missing", k);
    if ((*v)->node < 0)
        return ox_fail(c, RS_ERR_UNSUPPORTED, "input %zu ('%s') is a constant; it must be computed from the net's input",
                       k, (*v)->name);
    return RS_OK;
}

rs_status ox_need_const(ox_ctx *c, size_t k, ox_value **v) {
    *v = ox_input(c, k);
    if (!*v) return ox_fail(c, RS_ERR_FORMAT, "input %zu is missing", k);
    if ((*v)->node >= 0)
        return ox_fail(c, RS_ERR_UNSUPPORTED, "input %zu ('%s') must be a constant (an initializer)", k, (*v)->name);
    return RS_OK;
}

ox_value *ox_add(ox_ctx *c, const char *name) {
    if (c->n_vals == c->cap_vals) {
        int32_t cap = c->cap_vals ? 2 * c->cap_vals : 64;
        ox_value *v = rs_calloc(sizeof(ox_value) * (size_t)cap);
        if (!v) return NULL;
        if (c->vals) memcpy(v, c->vals, sizeof(ox_value) * (size_t)c->n_vals);
        rs_free(c->vals);
        c->vals = v, c->cap_vals = cap;
    }
    ox_value *v = &c->vals[c->n_vals++];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->node = -1;
    v->param = -1;
    return v;
}

/* ---------------------------------------------------------------- tensors */
static int elem_size(int32_t type) { return type == 1 ? 4 : type == 11 || type == 7 ? 8 : 0; }
static const char *type_name(int32_t t) {
    static const char *names[] = {"undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64",
                                  "string", "bool", "float16", "double", "uint32", "uint64", "complex64",
                                  "complex128", "bfloat16"};
    return t >= 0 && t <= 16 ? names[t] : "unknown";
}

rs_status ox_tensor_values(const Onnx__TensorProto *t, const char *dir, int32_t *rank, int64_t *dims, double **v,
                           int64_t *numel) {
    const char *nm = t->name ? t->name : "";
    int32_t type = t->has_data_type ? t->data_type : 0;
    if (!elem_size(type))
        return rs_error(RS_ERR_UNSUPPORTED, "tensor '%s': data type %s (%d) is not supported (float, double, int64)",
                        nm, type_name(type), type);
    if (t->n_dims > RS_ONNX_MAX_RANK) return rs_error(RS_ERR_FORMAT, "tensor '%s': %zu dimensions", nm, t->n_dims);
    int external = t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    if (t->segment) return rs_error(RS_ERR_UNSUPPORTED, "tensor '%s': segmented data is not supported", nm);
    if (t->has_data_location && t->data_location != 0 && !external)
        return rs_error(RS_ERR_FORMAT, "tensor '%s': data location %d", nm, (int)t->data_location);
    int64_t n = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0 || t->dims[i] > OX_MAX_NUMEL)
            return rs_error(RS_ERR_FORMAT, "tensor '%s': dimension %zu is %lld", nm, i, (long long)t->dims[i]);
        n *= t->dims[i];
        if (n > OX_MAX_NUMEL) return rs_error(RS_ERR_FORMAT, "tensor '%s': more than 2^28 elements", nm);
        dims[i] = t->dims[i];
    }
    *rank = (int32_t)t->n_dims;
    uint8_t *ext = NULL; /* (n * element size) bytes read from the external file */
    if (external) RS_TRY(ox_external_bytes(t, dir, (size_t)n * (size_t)elem_size(type), &ext));
    size_t have = external ? (size_t)n : t->has_raw_data ? t->raw_data.len / (size_t)elem_size(type)
                  : type == 1       ? t->n_float_data
                  : type == 11      ? t->n_double_data
                                    : t->n_int64_data;
    if (!external && t->has_raw_data && t->raw_data.len != (size_t)n * (size_t)elem_size(type))
        return rs_error(RS_ERR_FORMAT, "tensor '%s': %zu bytes of data for %lld %s values", nm, t->raw_data.len,
                        (long long)n, type_name(type));
    if (have != (size_t)n)
        return rs_error(RS_ERR_FORMAT, "tensor '%s': %zu values for %lld elements", nm, have, (long long)n);
    double *x = rs_calloc(sizeof(double) * (size_t)(n ? n : 1));
    if (!x) {
        rs_free(ext);
        return rs_error(RS_ERR_NOMEM, "tensor '%s': out of memory", nm);
    }
    const uint8_t *raw = ext ? ext : t->has_raw_data ? t->raw_data.data : NULL;
    for (int64_t i = 0; i < n; i++) {
        if (type == 1) {
            float f;
            if (raw) memcpy(&f, raw + 4 * i, 4);
            else f = t->float_data[i];
            x[i] = f;
        } else if (type == 11) {
            if (raw) memcpy(&x[i], raw + 8 * i, 8);
            else x[i] = t->double_data[i];
        } else {
            int64_t k;
            if (raw) memcpy(&k, raw + 8 * i, 8);
            else k = t->int64_data[i];
            x[i] = (double)k;
        }
    }
    rs_free(ext);
    *v = x;
    *numel = n;
    return RS_OK;
}

rs_status rs_onnx_tensor_read(const char *path, rs_onnx_tensor *t) {
    memset(t, 0, sizeof *t);
    void *buf;
    size_t len;
    RS_TRY(rs_read_file(path, &buf, &len, (size_t)OX_MAX_FILE));
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    rs_free(buf);
    if (!tp) return rs_error(RS_ERR_FORMAT, "%s: not an ONNX TensorProto (protobuf decoding failed)", path);
    double *v = NULL;
    int64_t n = 0;
    rs_status s = ox_tensor_values(tp, NULL, &t->ndim, t->dims, &v, &n);
    if (!s) {
        snprintf(t->name, sizeof t->name, "%s", tp->name ? tp->name : "");
        t->numel = n;
        t->data = rs_calloc(sizeof(float) * (size_t)(n ? n : 1));
        if (!t->data) s = rs_error(RS_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; !s && i < n; i++) t->data[i] = (float)v[i];
    }
    rs_free(v);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    if (!s) return RS_OK;
    rs_onnx_tensor_free(t);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", rs_last_error());
    return rs_error(s, "%s: %s", path, msg);
}

void rs_onnx_tensor_free(rs_onnx_tensor *t) {
    rs_free(t->data);
    t->data = NULL;
}

/* ---------------------------------------------------------------- parameters from constants */
int32_t ox_param(ox_ctx *c, ox_value *v, rs_param_kind kind, int64_t flat_len) {
    if (v->param >= 0) {
        const rs_param *p = &c->net->params.items[v->param];
        if (flat_len > 0 && !(p->ndim == 1 && p->shape[0] == flat_len)) return -1;
        return v->param;
    }
    int64_t shape[4];
    int32_t nd = flat_len > 0 ? 1 : v->rank;
    if (flat_len > 0) shape[0] = flat_len;
    else if (v->rank > 4) return -1;
    else memcpy(shape, v->dims, sizeof(int64_t) * (size_t)v->rank);
    if (flat_len > 0 && flat_len != v->numel) return -1;
    v->param = rs_net_param(c->net, v->name, nd, shape, kind, (rs_init){RS_INIT_CONST, 0, 0});
    if (v->param >= 0) c->params_values += v->numel;
    return v->param;
}

/* ---------------------------------------------------------------- attributes */
const Onnx__AttributeProto *ox_attr(const Onnx__NodeProto *n, const char *name) {
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && !strcmp(n->attribute[i]->name, name)) return n->attribute[i];
    return NULL;
}

rs_status ox_check_attrs(ox_ctx *c, const char *const *allowed) {
    for (size_t i = 0; i < c->cur->n_attribute; i++) {
        const char *a = c->cur->attribute[i]->name ? c->cur->attribute[i]->name : "";
        int ok = 0;
        for (int j = 0; allowed && allowed[j] && !ok; j++) ok = !strcmp(a, allowed[j]);
        if (!ok) return ox_fail(c, RS_ERR_UNSUPPORTED, "attribute '%s' is not supported", a);
        if (c->cur->attribute[i]->ref_attr_name && c->cur->attribute[i]->ref_attr_name[0])
            return ox_fail(c, RS_ERR_UNSUPPORTED, "attribute '%s' refers to a function attribute", a);
    }
    return RS_OK;
}

int64_t ox_attr_int(const Onnx__NodeProto *n, const char *name, int64_t dflt) {
    const Onnx__AttributeProto *a = ox_attr(n, name);
    return a && a->has_i ? a->i : dflt;
}

float ox_attr_float(const Onnx__NodeProto *n, const char *name, float dflt) {
    const Onnx__AttributeProto *a = ox_attr(n, name);
    return a && a->has_f ? a->f : dflt;
}

int32_t ox_attr_ints(const Onnx__NodeProto *n, const char *name, int64_t *out, int32_t max) {
    const Onnx__AttributeProto *a = ox_attr(n, name);
    if (!a) return 0;
    if (a->n_ints > (size_t)max || (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS)) return -1;
    for (size_t i = 0; i < a->n_ints; i++) out[i] = a->ints[i];
    return (int32_t)a->n_ints;
}

const char *ox_attr_string(const Onnx__NodeProto *n, const char *name, char *buf, size_t len, const char *dflt) {
    const Onnx__AttributeProto *a = ox_attr(n, name);
    if (!a || !a->has_s) return dflt;
    size_t k = a->s.len < len - 1 ? a->s.len : len - 1;
    memcpy(buf, a->s.data, k);
    buf[k] = 0;
    return buf;
}

/* ---------------------------------------------------------------- layout */
int64_t ox_sample_numel(int32_t rank, const int64_t *dims) {
    int64_t n = 1;
    for (int32_t i = 1; i < rank; i++) n *= dims[i];
    return n;
}

/* NHWC storage of logical (N, d1[, d2[, d3]]): C = d1, then H = d2, W = d3 (rank 4) or W = d2 (rank 3). */
void ox_phys_table(int32_t rank, const int64_t *dims, int64_t *tab) {
    int64_t C = rank > 1 ? dims[1] : 1, A = rank > 2 ? dims[2] : 1, B = rank > 3 ? dims[3] : 1;
    int64_t j = 0;
    for (int64_t c = 0; c < C; c++)
        for (int64_t a = 0; a < A; a++)
            for (int64_t b = 0; b < B; b++) tab[j++] = (a * B + b) * C + c;
}

rs_status ox_set_node(ox_ctx *c, int32_t i, int32_t rank, const int64_t *dims) {
    if (i < 0) return ox_fail(c, c->net->status ? c->net->status : RS_ERR_ARG, "%s", c->net->error);
    if (rank < 1 || rank > 4) return ox_fail(c, RS_ERR_UNSUPPORTED, "a rank-%d result (1 to 4 supported)", rank);
    const rs_node *d = &c->net->nodes[i];
    int64_t C = rank > 1 ? dims[1] : 1, H = rank > 3 ? dims[2] : 1, W = rank > 3 ? dims[3] : rank > 2 ? dims[2] : 1;
    if (d->c != C || d->h != H || d->w != W)
        return ox_fail(c, RS_ERR_FORMAT, "internal shape mismatch (%lldx%lldx%lld vs %dx%dx%d)", (long long)C,
                       (long long)H, (long long)W, d->c, d->h, d->w);
    int64_t keep[4]; /* dims may point into the value table, which ox_add may move */
    memcpy(keep, dims, sizeof(int64_t) * (size_t)rank);
    ox_value *v = ox_add(c, c->cur_name);
    if (!v) return ox_fail(c, RS_ERR_NOMEM, "out of memory");
    v->node = i;
    v->rank = rank;
    memcpy(v->dims, keep, sizeof(int64_t) * (size_t)rank);
    v->dims[0] = -1;
    return RS_OK;
}
#endif
