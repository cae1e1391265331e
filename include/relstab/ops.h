/* ops.h: the neural-network ops, each a forward and a backward side by side.
 *
 * Layout: activations are NHWC ("channels last": (N, H, W, C) row-major), the layout oneDNN's fastest CPU
 * kernels take without reorders; a 1-D signal is H = 1. Weights keep PyTorch's layouts (conv (C_out, C_in/groups,
 * KH, KW), linear (out, in)), so checkpoints move to and from PyTorch unchanged. Conversions to NCHW happen only at
 * the boundaries (input, flatten, taps written to files).
 *
 * Backward functions ACCUMULATE (+=) into every gradient they write (inputs and parameters); callers zero them.
 * A NULL gradient pointer means "not needed". Each op has a plain-C reference (`_ref`) and a fast path (`_fast`,
 * oneDNN or OpenMP C); the unsuffixed name dispatches on rs_set_backend. Without oneDNN, fast == reference.
 * Ops do not validate their dims: the *_dims_finish functions and the net builder do. */
#pragma once
#include "relstab/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { RS_BACKEND_FAST = 0, RS_BACKEND_REF = 1 } rs_backend;
void rs_set_backend(rs_backend b);
rs_backend rs_get_backend(void);
int rs_have_onednn(void);
/* The fast path in words, for logs and benchmarks: "oneDNN 2.7.3, ISA avx512_core_bf16" (the ISA oneDNN's JIT
 * kernels use on this CPU) or that the build has no oneDNN. */
void rs_backend_describe(char *buf, size_t n);

/* ---------------------------------------------------------------- conv2d (and conv1d as H = 1) */
typedef enum { RS_PAD_ZERO = 0, RS_PAD_CIRCULAR = 1 } rs_pad_mode;
typedef struct {
    int32_t n, h_in, w_in, c_in;                       /* input (N, H, W, C_in) */
    int32_t c_out, kh, kw;                             /* weight (C_out, C_in/groups, KH, KW) */
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_bottom, pad_left, pad_right;
    int32_t groups;                                    /* 1; C_in for depthwise */
    rs_pad_mode pad_mode;                              /* circular: the padding wraps around (1-D nets) */
    int32_t h_out, w_out;                              /* set by rs_conv2d_dims_finish */
} rs_conv2d_dims;
rs_status rs_conv2d_dims_finish(rs_conv2d_dims *d);
/* out (N, H_out, W_out, C_out); bias (C_out) or NULL. */
void rs_conv2d_forward(float *out, const float *in, const float *weight, const float *bias,
                       const rs_conv2d_dims *d, rs_workspace *ws);
void rs_conv2d_backward(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                        const float *weight, const rs_conv2d_dims *d, rs_workspace *ws);
/* Which algorithm the fast forward uses for 3x3 stride-1 convolutions (oneDNN builds): DIRECT (the default) always
 * the direct one; AUTO takes Winograd for layers of at least 64 input and output channels and 16384 output pixels
 * (N H W); WINOGRAD wherever oneDNN has it (tests). A process-wide switch like rs_set_backend; a net's forward
 * treats AUTO as DIRECT except in training passes (rs_net_forward). */
typedef enum { RS_CONV_ALGO_AUTO = 0, RS_CONV_ALGO_DIRECT = 1, RS_CONV_ALGO_WINOGRAD = 2 } rs_conv_algo;
void rs_set_conv_algo(rs_conv_algo a);
rs_conv_algo rs_get_conv_algo(void);
/* Which oneDNN kernels the fast conv uses: RULE (the default) oneDNN's first choice (brgconv on AVX-512) except
 * for 3x3 stride-1 one-group convolutions of at least 128 channels in and out with at most 16 output pixels per
 * image, whose forward takes oneDNN's first kernel that is not brgconv (jit:avx512_core) and whose backward runs
 * as im2col GEMMs (onednn_conv.c, onednn_gemmconv.c say why); NOT_BRG that forward kernel for every shape, GEMM
 * that backward for every zero-padded one-group shape (tests); ONEDNN oneDNN's first choice and its backward
 * primitives everywhere (benchmarks: the path before the rule). A fixed rule on the shape, never a timing. */
typedef enum {
    RS_CONV_KERNEL_RULE = 0,
    RS_CONV_KERNEL_NOT_BRG = 1,
    RS_CONV_KERNEL_GEMM = 2,
    RS_CONV_KERNEL_ONEDNN = 3
} rs_conv_kernel;
void rs_set_conv_kernel(rs_conv_kernel k);
rs_conv_kernel rs_get_conv_kernel(void);
/* buf <- the name of the kernel the fast forward runs for d ("plain C" without oneDNN): tests and benchmarks. */
void rs_conv2d_fast_kernel(char *buf, size_t n, const rs_conv2d_dims *d, int with_bias);
void rs_conv2d_fast_backward_kernel(char *buf, size_t n, const rs_conv2d_dims *d); /* the same for backward */
void rs_conv2d_forward_ref(float *out, const float *in, const float *weight, const float *bias,
                           const rs_conv2d_dims *d, rs_workspace *ws);
void rs_conv2d_backward_ref(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                            const float *weight, const rs_conv2d_dims *d, rs_workspace *ws);
void rs_conv2d_forward_fast(float *out, const float *in, const float *weight, const float *bias,
                            const rs_conv2d_dims *d, rs_workspace *ws);
void rs_conv2d_backward_fast(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                             const float *weight, const rs_conv2d_dims *d, rs_workspace *ws);

/* ---------------------------------------------------------------- linear: out = in W^T + b */
/* in (N, K), weight (O, K), bias (O) or NULL, out (N, O). */
void rs_linear_forward(float *out, const float *in, const float *weight, const float *bias, int64_t n, int64_t k,
                       int64_t o);
void rs_linear_backward(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                        const float *weight, int64_t n, int64_t k, int64_t o);
void rs_linear_forward_ref(float *out, const float *in, const float *weight, const float *bias, int64_t n,
                           int64_t k, int64_t o);
void rs_linear_backward_ref(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                            const float *weight, int64_t n, int64_t k, int64_t o);
void rs_linear_forward_fast(float *out, const float *in, const float *weight, const float *bias, int64_t n,
                            int64_t k, int64_t o);
void rs_linear_backward_fast(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                             const float *weight, int64_t n, int64_t k, int64_t o);
/* A broadcast scalar bias: out (n) += bias[0]; d_bias[0] += sum of d_out (n), summed in double. The readout bias
 * of the mean-field nets (one number added to every output). */
void rs_scalar_bias_forward(float *out, const float *bias, int64_t n);
void rs_scalar_bias_backward(float *d_bias, const float *d_out, int64_t n);

/* ---------------------------------------------------------------- elementwise activations (n elements) */
void rs_relu_forward(float *out, const float *in, int64_t n);
void rs_relu_backward(float *d_in, const float *d_out, const float *in, int64_t n);
void rs_silu_forward(float *out, const float *in, int64_t n);       /* x * sigmoid(x) (swish) */
void rs_silu_backward(float *d_in, const float *d_out, const float *in, int64_t n);
void rs_sigmoid_forward(float *out, const float *in, int64_t n);
void rs_sigmoid_backward(float *d_in, const float *d_out, const float *out, int64_t n); /* uses the OUTPUT */

/* ---------------------------------------------------------------- pooling */
typedef struct {
    int32_t n, h_in, w_in, c;     /* input (N, H, W, C) */
    int32_t kh, kw, stride_h, stride_w, pad_h, pad_w;
    int32_t count_include_pad;    /* average pool: PyTorch's default is 1 */
    int32_t h_out, w_out;         /* set by rs_pool2d_dims_finish (floor mode) */
} rs_pool2d_dims;
rs_status rs_pool2d_dims_finish(rs_pool2d_dims *d);
/* Max pool. saved: rs_maxpool2d_saved_bytes(d) bytes that forward fills (in training) and backward reads; NULL in
 * inference. Padding counts as -infinity; ties take the first maximum in row-major window order (as PyTorch). */
size_t rs_maxpool2d_saved_bytes(const rs_pool2d_dims *d);
void rs_maxpool2d_forward(float *out, void *saved, const float *in, const rs_pool2d_dims *d);
void rs_maxpool2d_backward(float *d_in, const float *d_out, const void *saved, const rs_pool2d_dims *d);
void rs_maxpool2d_forward_ref(float *out, void *saved, const float *in, const rs_pool2d_dims *d);
void rs_maxpool2d_backward_ref(float *d_in, const float *d_out, const void *saved, const rs_pool2d_dims *d);
void rs_maxpool2d_forward_fast(float *out, void *saved, const float *in, const rs_pool2d_dims *d);
void rs_maxpool2d_backward_fast(float *d_in, const float *d_out, const void *saved, const rs_pool2d_dims *d);
void rs_avgpool2d_forward(float *out, const float *in, const rs_pool2d_dims *d);
void rs_avgpool2d_backward(float *d_in, const float *d_out, const rs_pool2d_dims *d);
void rs_avgpool2d_forward_ref(float *out, const float *in, const rs_pool2d_dims *d);
void rs_avgpool2d_backward_ref(float *d_in, const float *d_out, const rs_pool2d_dims *d);
void rs_avgpool2d_forward_fast(float *out, const float *in, const rs_pool2d_dims *d);
void rs_avgpool2d_backward_fast(float *d_in, const float *d_out, const rs_pool2d_dims *d);
/* Adaptive average pool, PyTorch's bins: start = floor(i*H/Ho), end = ceil((i+1)*H/Ho).
 * in (N, H, W, C) -> out (N, Ho, Wo, C). Global average pooling is Ho = Wo = 1. */
void rs_adaptive_avgpool2d_forward(float *out, const float *in, int32_t n, int32_t h, int32_t w, int32_t c,
                                   int32_t ho, int32_t wo);
void rs_adaptive_avgpool2d_backward(float *d_in, const float *d_out, int32_t n, int32_t h, int32_t w, int32_t c,
                                    int32_t ho, int32_t wo);

/* ---------------------------------------------------------------- batch norm over (rows, C), rows = N*H*W */
typedef enum {
    RS_BN_TRAIN = 0,     /* batch statistics; running stats updated (momentum, unbiased variance), as PyTorch */
    RS_BN_EVAL = 1,      /* running statistics */
    RS_BN_BATCHSTAT = 2, /* batch statistics, running stats untouched: the reference's "BN at init" */
} rs_bn_mode;
/* save_mean, save_invstd (C): what backward needs (the statistics used, whichever mode). */
void rs_batchnorm_forward(float *out, float *save_mean, float *save_invstd, const float *in, const float *gamma,
                          const float *beta, float *running_mean, float *running_var, int64_t rows, int32_t c,
                          float eps, float momentum, rs_bn_mode mode);
void rs_batchnorm_backward(float *d_in, float *d_gamma, float *d_beta, const float *d_out, const float *in,
                           const float *gamma, const float *save_mean, const float *save_invstd, int64_t rows,
                           int32_t c, rs_bn_mode mode);
void rs_batchnorm_forward_ref(float *out, float *save_mean, float *save_invstd, const float *in,
                              const float *gamma, const float *beta, float *running_mean, float *running_var,
                              int64_t rows, int32_t c, float eps, float momentum, rs_bn_mode mode);
void rs_batchnorm_backward_ref(float *d_in, float *d_gamma, float *d_beta, const float *d_out, const float *in,
                               const float *gamma, const float *save_mean, const float *save_invstd, int64_t rows,
                               int32_t c, rs_bn_mode mode);
void rs_batchnorm_forward_fast(float *out, float *save_mean, float *save_invstd, const float *in,
                               const float *gamma, const float *beta, float *running_mean, float *running_var,
                               int64_t rows, int32_t c, float eps, float momentum, rs_bn_mode mode);
void rs_batchnorm_backward_fast(float *d_in, float *d_gamma, float *d_beta, const float *d_out, const float *in,
                                const float *gamma, const float *save_mean, const float *save_invstd,
                                int64_t rows, int32_t c, rs_bn_mode mode);

/* Batch norm over the rows of several replicas (data-parallel training, --sync-bn; batchnorm_sync.c), always in
 * training mode: sum(buf, n, ctx) must add buf over the replicas in place (identity for one replica). Forward
 * updates the running statistics with all rows; backward gives d_in from all rows and adds this replica's part of
 * d_gamma, d_beta. work: 2C + 1 doubles. */
typedef void (*rs_sum_fn)(double *buf, int64_t n, void *ctx);
void rs_batchnorm_forward_sync(float *out, float *save_mean, float *save_invstd, const float *in, const float *gamma,
                               const float *beta, float *running_mean, float *running_var, int64_t rows, int32_t c,
                               float eps, float momentum, rs_sum_fn sum, void *ctx, double *work);
void rs_batchnorm_backward_sync(float *d_in, float *d_gamma, float *d_beta, const float *d_out, const float *in,
                                const float *gamma, const float *save_mean, const float *save_invstd, int64_t rows,
                                int32_t c, rs_sum_fn sum, void *ctx, double *work);

/* ---------------------------------------------------------------- structural ops */
void rs_add_forward(float *out, const float *a, const float *b, int64_t n);            /* residual add */
void rs_add_backward(float *d_a, float *d_b, const float *d_out, int64_t n);
/* Squeeze-excitation multiply: out (N, HW, C) = x (N, HW, C) * s (N, C). */
void rs_mul_channel_forward(float *out, const float *x, const float *s, int64_t n, int64_t hw, int64_t c);
void rs_mul_channel_backward(float *d_x, float *d_s, const float *d_out, const float *x, const float *s,
                             int64_t n, int64_t hw, int64_t c);
/* Flatten NHWC (N, H, W, C) to (N, C*H*W) in PyTorch's C, H, W order. */
void rs_flatten_forward(float *out, const float *in, int64_t n, int64_t h, int64_t w, int64_t c);
void rs_flatten_backward(float *d_in, const float *d_out, int64_t n, int64_t h, int64_t w, int64_t c);
/* Zero padding: (N, H, W, C) -> (N, H+top+bottom, W+left+right, C). */
void rs_zeropad_forward(float *out, const float *in, int64_t n, int64_t h, int64_t w, int64_t c, int32_t top,
                        int32_t bottom, int32_t left, int32_t right);
void rs_zeropad_backward(float *d_in, const float *d_out, int64_t n, int64_t h, int64_t w, int64_t c, int32_t top,
                         int32_t bottom, int32_t left, int32_t right);
/* Dropout (elementwise) with probability p: element i of the batch is kept iff rs_uniform(seed, stream, i) >= p,
 * and scaled by 1/(1-p). Nothing is saved: backward redraws the same mask. */
void rs_dropout_forward(float *out, const float *in, int64_t n, float p, uint64_t seed, uint64_t stream);
void rs_dropout_backward(float *d_in, const float *d_out, int64_t n, float p, uint64_t seed, uint64_t stream);
/* Drop-connect (per sample): sample i of the batch (per_sample elements) is kept iff rs_uniform(seed, stream, i)
 * >= p, and scaled by 1/(1-p). */
void rs_dropconnect_forward(float *out, const float *in, int64_t n, int64_t per_sample, float p, uint64_t seed,
                            uint64_t stream);
void rs_dropconnect_backward(float *d_in, const float *d_out, int64_t n, int64_t per_sample, float p,
                             uint64_t seed, uint64_t stream);
/* y = alpha * x (the sqrt(f) and 1/fan_in scalings of the NTK and mean-field nets). */
void rs_scale_forward(float *out, const float *in, int64_t n, float alpha);
void rs_scale_backward(float *d_in, const float *d_out, int64_t n, float alpha);

/* ---------------------------------------------------------------- losses (the mean over the batch) */
/* Cross-entropy of logits (N, K) against labels in [0, K). Returns the mean loss (double); writes (=, not +=)
 * d_logits = gradient of the mean loss if non-NULL; *n_wrong (if non-NULL) counts argmax != label. */
double rs_cross_entropy(float *d_logits, const float *logits, const int32_t *labels, int64_t n, int64_t k,
                        int64_t *n_wrong);
/* Hinge: mean over the batch of max(0, 1 - y f), f (N) the single output, y = +-1. A point is wrong iff y f <= 0. */
double rs_hinge(float *d_out, const float *out, const float *targets, int64_t n, int64_t *n_wrong);

#ifdef __cplusplus
}
#endif
