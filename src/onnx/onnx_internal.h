/* onnx_internal.h: what the ONNX reader's files share: the table of graph values (each a relstab node or a
 * constant), attribute access with the per-operator whitelist, and the operator handlers of onnx_ops.c. */
#pragma once
#include "onnx.pb-c.h"
#include "relstab/nn_ext.h"
#include "relstab/onnx.h"

#define OX_MAX_NUMEL (1LL << 28) /* elements of one tensor or per-sample value: larger is refused as absurd */
#define OX_FOLD_MAX (1LL << 25)  /* values of all the constants folded at load together (256 MB as double) */

typedef struct {
    const char *name;
    int32_t node;                  /* relstab node, or -1 for a constant */
    int32_t rank;                  /* with the batch dimension for a node */
    int64_t dims[RS_ONNX_MAX_RANK];/* logical; a node's dims[0] is the batch (-1) */
    double *v;                     /* constant values (numel) */
    int64_t numel;
    int32_t param;                 /* the parameter made from the constant, or -1 */
} ox_value;

typedef struct {
    rs_net *net;
    int64_t opset;
    int64_t batch0;                /* the graph input's declared batch (-1: symbolic) */
    int32_t test_batch;            /* rs_onnx_opts.batch */
    const char *dir;               /* the model file's directory (external data), NULL for a buffer */
    ox_value *vals;
    int32_t n_vals, cap_vals;
    const Onnx__NodeProto *cur;    /* the node being imported (errors name it) */
    const char *cur_name;          /* its first output's name */
    int64_t params_values;
    int64_t folded;                /* values of the constants evaluated at load (onnx_fold.c), at most OX_FOLD_MAX */
} ox_ctx;

/* Errors naming the current node: "op Conv (node 'x'): ..." */
rs_status ox_fail(ox_ctx *c, rs_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
ox_value *ox_find(ox_ctx *c, const char *name);
ox_value *ox_add(ox_ctx *c, const char *name);
/* The current node's input k: NULL when absent or empty. */
ox_value *ox_input(ox_ctx *c, size_t k);
/* Input k, which must be computed from the net's input (a node) / must be a constant (an initializer). */
rs_status ox_need_node(ox_ctx *c, size_t k, ox_value **v);
rs_status ox_need_const(ox_ctx *c, size_t k, ox_value **v);
/* Converts a TensorProto into a constant (checks type, dims, data size); external data is read from dir (the
 * model's directory; NULL: refused). */
rs_status ox_tensor_values(const Onnx__TensorProto *t, const char *dir, int32_t *rank, int64_t *dims, double **v,
                           int64_t *numel);
/* onnx_external.c: the want bytes of a tensor stored as external data (*out allocated; rs_free). */
rs_status ox_external_bytes(const Onnx__TensorProto *t, const char *dir, size_t want, uint8_t **out);
/* The parameter holding constant v (registered on first use under its name, with shape dims[0..rank) or, when
 * flat_len > 0, as a 1-D tensor of flat_len values). */
int32_t ox_param(ox_ctx *c, ox_value *v, rs_param_kind kind, int64_t flat_len);

/* attributes */
const Onnx__AttributeProto *ox_attr(const Onnx__NodeProto *n, const char *name);
rs_status ox_check_attrs(ox_ctx *c, const char *const *allowed);
int64_t ox_attr_int(const Onnx__NodeProto *n, const char *name, int64_t dflt);
float ox_attr_float(const Onnx__NodeProto *n, const char *name, float dflt);
/* ints of attribute name into out (at most max); returns the count, 0 when absent, -1 when not INTS / too many */
int32_t ox_attr_ints(const Onnx__NodeProto *n, const char *name, int64_t *out, int32_t max);
const char *ox_attr_string(const Onnx__NodeProto *n, const char *name, char *buf, size_t len, const char *dflt);

/* The per-sample NHWC offset of every logical element of a node value, in row-major logical order. */
void ox_phys_table(int32_t rank, const int64_t *dims, int64_t *tab);
int64_t ox_sample_numel(int32_t rank, const int64_t *dims);
/* Records node i as the value of the current node's first output (its rank and logical dims). */
rs_status ox_set_node(ox_ctx *c, int32_t i, int32_t rank, const int64_t *dims);
/* out = ka a + kb b (add) or ka a b (mul), numpy broadcasting; named after the current node. */
rs_status ox_binary(ox_ctx *c, rs_binary_kind kind, ox_value *a, ox_value *b, float ka, float kb);
/* A constant as a node (per-sample when its first dimension is the test batch, else shared): *out describes it. */
rs_status ox_const_node(ox_ctx *c, ox_value *v, int32_t rank, ox_value *out);
/* The spatial axes of node x padded by pb / pe into a gather node named name (zeros, or replicate: the nearest
 * element); *out its value. */
rs_status ox_pad_spatial(ox_ctx *c, ox_value *x, const int64_t *pb, const int64_t *pe, int replicate, const char *name,
                         ox_value **out);
/* The dilated windows of node x side by side (a gather named name; see onnx_shape_ops.c): a kernel-k stride-k
 * conv or max pool over *out is the dilated one over x. */
rs_status ox_windows(ox_ctx *c, ox_value *x, const int64_t *k, const int64_t *st, const int64_t *d, const int64_t *pb,
                     const int64_t *o, int same_window, const char *name, ox_value **out);
/* handlers of onnx_shape_ops.c */
rs_status ox_op_gemm(ox_ctx *c);
rs_status ox_op_matmul(ox_ctx *c);
rs_status ox_op_flatten(ox_ctx *c);
rs_status ox_op_reshape(ox_ctx *c);
rs_status ox_op_pad(ox_ctx *c);
rs_status ox_op_concat(ox_ctx *c);
rs_status ox_op_slice(ox_ctx *c);
rs_status ox_op_softmax(ox_ctx *c);
rs_status ox_op_identity(ox_ctx *c);
rs_status ox_op_dropout(ox_ctx *c);
rs_status ox_op_constant(ox_ctx *c);
/* onnx_fold.c: evaluates the current node at load when all its inputs are constants and its operator is one
 * that folds (*done = 1; its output becomes a constant), else leaves it to the handlers (*done = 0). */
rs_status ox_fold_node(ox_ctx *c, int *done);
/* Imports the current node (c->cur). */
rs_status ox_import_node(ox_ctx *c);
