/* onnx.h: reading an ONNX model (a CNN exported by PyTorch, tf2onnx, ...) into a relstab net, so that every command
 * that takes a net (measure, forward, spectrum, train) runs on it, in C, without Python.
 *
 * The graph's initializers become parameters under their ONNX names; every graph node becomes one relstab node
 * named by its (first) ONNX output name. The net's input is the graph's first input that is not an initializer;
 * its first dimension is the batch (any batch size runs), the others are fixed per sample. Activations are stored
 * as relstab stores them (NHWC): a rank-4 ONNX value (N, C, H, W) is a node of shape C x H x W, rank 3 (N, C, L)
 * is C x 1 x L, rank 2 (N, F) is F x 1 x 1. docs/onnx.md lists the supported operators and attributes; anything
 * else is refused at load with the operator and node named, never approximated.
 * IR versions 3 to 8, default-domain opsets 6 to 17. Built only with protobuf-c (RELSTAB_ONNX): without it, every
 * function here returns RS_ERR_UNSUPPORTED. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "relstab/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RS_ONNX_MAX_RANK 8

/* A tensor read from a TensorProto (the .pb files of the ONNX test layout), converted to float. */
typedef struct {
    char name[RS_NAME_MAX];
    int32_t ndim;
    int64_t dims[RS_ONNX_MAX_RANK];
    int64_t numel;
    float *data; /* (numel), row-major in the tensor's own (ONNX) order */
} rs_onnx_tensor;
rs_status rs_onnx_tensor_read(const char *path, rs_onnx_tensor *t);
void rs_onnx_tensor_free(rs_onnx_tensor *t);

typedef struct {
    const rs_onnx_tensor *bind; /* graph inputs besides the net's input, bound as constants by name (tests) */
    int32_t n_bind;
    int32_t channels, height, width; /* sizes for symbolic per-sample input dimensions (0: none given) */
    int32_t batch;               /* > 0 (tests): a bound tensor whose first dimension is batch holds one value per
                                    sample (the net then runs batches of at most this size); 0: constants only */
} rs_onnx_opts;

typedef struct {
    int64_t ir_version, opset;
    char producer[64];
    char input[RS_NAME_MAX], output[RS_NAME_MAX];
    int32_t in_rank, out_rank;                 /* ranks with the batch dimension */
    int64_t in_dims[4], out_dims[4];           /* logical (ONNX) dims; [0] is the graph's declared batch or -1 */
    int32_t onnx_nodes;                        /* nodes of the ONNX graph */
    int64_t onnx_params;                       /* values of the initializers that became parameters */
} rs_onnx_meta;

/* 1 when this build reads ONNX. */
int rs_onnx_available(void);
/* Reads the model and builds the net, its parameters loaded (built for batch 1, inference: rs_net_build again for
 * another batch). opts may be NULL. */
rs_status rs_onnx_load(const char *path, const rs_onnx_opts *opts, rs_net **net, rs_onnx_meta *meta);
rs_status rs_onnx_load_buffer(const uint8_t *buf, size_t len, const rs_onnx_opts *opts, rs_net **net,
                              rs_onnx_meta *meta); /* tensors stored as external data are refused */
/* Writes the external data files of the model at path (its initializers with data_location EXTERNAL, float32:
 * each file named by their location, next to the model) from the checkpoint's tensors of the same names and
 * shapes; counts the tensors and files written. */
rs_status rs_onnx_fill_data(const char *model, const char *weights, int64_t *n_tensors, int32_t *n_files);

/* Runs a directory in the ONNX backend-test layout: model.onnx and test_data_set_N/ holding input_K.pb and
 * output_0.pb (TensorProtos). input_0 is the net's input (its first dimension the batch); input_K (K >= 1) are
 * bound as constants by their names. An output element passes when |got - want| <= atol + rtol |want|; a negative
 * atol means -atol times the largest |want| of the data set (a tolerance relative to the output's scale).
 * Returns RS_OK when every data set passes, RS_ERR_NUMERIC (message: the worst element) when one does not, or
 * the loader's error (RS_ERR_UNSUPPORTED for an operator or attribute relstab refuses). */
typedef struct {
    int32_t sets;          /* data sets run */
    double worst_abs;      /* max |got - want| over every set */
    double worst_excess;   /* max (|got - want| - rtol |want|): <= atol passes */
} rs_onnx_test_result;
rs_status rs_onnx_test_dir(const char *dir, double rtol, double atol, rs_onnx_test_result *r);

#ifdef __cplusplus
}
#endif
