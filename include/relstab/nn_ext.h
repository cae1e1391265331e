/* nn_ext.h: the ops that graph import (ONNX, onnx.h) needs beyond the zoo's: an index-table gather (reshape,
 * transpose, concat along any axis, constant padding), softmax over groups of elements, and an elementwise binary
 * op (add / mul with broadcasting, against another node or a constant parameter), and a batched matmul through
 * the same index tables (a row of one operand times a column of the other). Each is a forward / backward
 * pair in plain C (ops_ext.c) and a net node (net_ext.c). The tables are per sample: every sample of the batch
 * uses the same index maps, so the batch dimension is never mixed. There is no fast path for these: relstab has
 * none for structural ops either. Backward accumulates (+=) like every op of ops.h. */
#pragma once
#include "relstab/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RS_EXT_MAX_IN 64 /* inputs of a gather (a Concat of at most this many tensors) */

/* ---------------------------------------------------------------- ops (n samples; per = output numel per sample) */
/* out[s, j] = src[which[j]][s, off[j]] (src k has src_numel[k] floats per sample), or fill when which[j] < 0. */
void rs_gather_forward(float *out, const float *const *src, const int64_t *src_numel, const int32_t *which,
                       const int64_t *off, int64_t n, int64_t per, float fill);
/* d_src[which[j]][s, off[j]] += d_out[s, j] (NULL d_src[k]: not needed). */
void rs_gather_backward(float *const *d_src, const int64_t *src_numel, const float *d_out, const int32_t *which,
                        const int64_t *off, int64_t n, int64_t per);
/* Softmax over groups: per sample (per floats), group g holds the len elements at idx[g * len + l]; every element
 * belongs to exactly one group (groups * len = per). */
void rs_softmax_forward(float *out, const float *in, const int64_t *idx, int64_t n, int64_t per, int64_t groups,
                        int64_t len);
/* d_in += out * (d_out - sum_group d_out * out): uses the OUTPUT of the forward. */
void rs_softmax_backward(float *d_in, const float *d_out, const float *out, const int64_t *idx, int64_t n,
                         int64_t per, int64_t groups, int64_t len);
typedef enum { RS_BIN_ADD = 0, RS_BIN_MUL = 1, RS_BIN_DIV = 2, RS_BIN_CONST = 3, RS_BIN_MATMUL = 4 } rs_binary_kind;
/* out[s, j] = ka A[s sa + ia[j]] + kb B[s sb + ib[j]] (add), ka A[..] B[..] (mul), ka A[..] / B[..] (div), or
 * B[..] (const: a constant made a node; A is not read). sa, sb: the operands' floats
 * per sample (0: a constant shared by all samples); ia / ib NULL: the identity map.
 * matmul: out[s, j] = ka sum_{t < k} A[s sa + ia[j] + t da] B[s sb + ib[j] + t db] (a row of A times a column of
 * B: a batched MatMul with any layout and broadcasting, through the tables; ia / ib must be given). */
typedef struct {
    rs_binary_kind kind;
    float ka, kb;
    int64_t sa, sb;
    const int64_t *ia, *ib; /* (per) or NULL */
    int64_t k, da, db;      /* matmul: the contraction length and the operands' strides along it */
} rs_binary_dims;
void rs_binary_forward(float *out, const float *a, const float *b, const rs_binary_dims *d, int64_t n, int64_t per);
/* Accumulates into d_a, d_b (NULL: not needed); a constant operand's gradient sums over the samples. */
void rs_binary_backward(float *d_a, float *d_b, const float *d_out, const float *a, const float *b,
                        const rs_binary_dims *d, int64_t n, int64_t per);

/* ---------------------------------------------------------------- net nodes */
/* The tables of a gather / softmax / binary node (rs_node.ext: one allocation, freed with the net). */
typedef struct {
    int32_t n_src, src[RS_EXT_MAX_IN]; /* input node indices (gather: all; binary: a and, if a node, b) */
    int64_t per;                       /* output floats per sample */
    float fill;                        /* gather: value where which < 0 */
    int32_t *which;                    /* gather (per) */
    int64_t *off;                      /* gather (per) */
    int64_t groups, len, *idx;         /* softmax */
    rs_binary_dims bin;                /* binary (ia / ib point into this allocation) */
    int32_t b_param;                   /* binary: B is this parameter (-1: B is node src[1]) */
    int32_t b_batch;                   /* binary: samples in a per-sample constant B (0: shared) */
} rs_ext_node;

/* Builders: as those of nn.h (append a node, -1 after recording an error). The tables are copied. */
int32_t rs_net_append_node(rs_net *net, const char *name, rs_op_type op, int32_t in0, int32_t in1);
/* Output per sample (h, w, c); which / off index the NHWC per-sample data of srcs[which[j]]. */
int32_t rs_net_gather(rs_net *net, const char *name, int32_t n_src, const int32_t *srcs, int32_t h, int32_t w,
                      int32_t c, const int32_t *which, const int64_t *off, float fill);
int32_t rs_net_softmax(rs_net *net, const char *name, int32_t in, int64_t groups, int64_t len, const int64_t *idx);
/* A binary node of output shape (h, w, c): a is a node; b is node b, or (b < 0) parameter b_param (the
 * parameter's numel must cover every ib). ia / ib: (h w c) maps or NULL (identity: same shape). b_batch > 0: the
 * parameter holds b_batch samples of numel / b_batch values each (a per-sample constant: the net may then run
 * batches of at most b_batch; the ONNX test runner's bound inputs); 0: one set shared by every sample. */
int32_t rs_net_binary(rs_net *net, const char *name, rs_binary_kind kind, int32_t a, int32_t b, int32_t b_param,
                      const int64_t *ia, const int64_t *ib, int32_t h, int32_t w, int32_t c, float ka, float kb);
int32_t rs_net_binary_batched(rs_net *net, const char *name, rs_binary_kind kind, int32_t a, int32_t b_param,
                              int32_t b_batch, const int64_t *ia, const int64_t *ib, int32_t h, int32_t w, int32_t c,
                              float ka, float kb);
/* A matmul node (RS_BIN_MATMUL) of output shape (h, w, c): a is a node; B is node b, or (b < 0) parameter b_param
 * with b_batch samples as above. ia / ib: (h w c) offsets of the first element of each output's row of A and
 * column of B, k the contraction length, da / db the strides along it (every index checked inside its operand). */
int32_t rs_net_matmul_tab(rs_net *net, const char *name, int32_t a, int32_t b, int32_t b_param, int32_t b_batch,
                          const int64_t *ia, const int64_t *ib, int64_t k, int64_t da, int64_t db, int32_t h, int32_t w,
                          int32_t c);
/* Forward / backward of one such node for the current batch of n (called by net_run.c). */
void rs_net_ext_forward(rs_net *net, int32_t node, int32_t n);
void rs_net_ext_backward(rs_net *net, int32_t node, int32_t n);

#ifdef __cplusplus
}
#endif
