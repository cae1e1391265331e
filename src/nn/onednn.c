/* onednn.c: the fast paths (`_fast`) of the ops in ops.h when the build has NO oneDNN.
 *
 * With RELSTAB_HAVE_ONEDNN (CMake option RELSTAB_ONEDNN=ON, the default) the fast paths run through oneDNN and
 * live in onednn_conv.c, onednn_linear.c, onednn_pool.c and onednn_bn.c (helpers in onednn_common.c). Without
 * it (RELSTAB_ONEDNN=OFF) every `_fast` function here simply calls its `_ref` twin, so fast == reference and the
 * rest of the program does not need to know which build it is in. This file is not the dispatcher
 * (src/nn/conv2d.c etc. choose between _ref and _fast) and does not validate dims (the *_dims_finish functions
 * do). */
#include <stdio.h>

#include "relstab/ops.h"

#ifndef RELSTAB_HAVE_ONEDNN
/* No oneDNN in this build: the fast path is the reference path, and the algorithm switch has nothing to choose. */
static rs_conv_algo g_algo = RS_CONV_ALGO_DIRECT;
void rs_set_conv_algo(rs_conv_algo a) { g_algo = a; }
rs_conv_algo rs_get_conv_algo(void) { return g_algo; }
static rs_conv_kernel g_kernel = RS_CONV_KERNEL_RULE;
void rs_set_conv_kernel(rs_conv_kernel k) { g_kernel = k; }
rs_conv_kernel rs_get_conv_kernel(void) { return g_kernel; }
void rs_conv2d_fast_kernel(char *buf, size_t n, const rs_conv2d_dims *d, int with_bias) {
    (void)d, (void)with_bias;
    snprintf(buf, n, "plain C");
}
void rs_conv2d_fast_backward_kernel(char *buf, size_t n, const rs_conv2d_dims *d) {
    (void)d;
    snprintf(buf, n, "plain C");
}
void rs_conv2d_forward_fast(float *out, const float *in, const float *weight, const float *bias,
                            const rs_conv2d_dims *d, rs_workspace *ws) {
    rs_conv2d_forward_ref(out, in, weight, bias, d, ws);
}
void rs_conv2d_backward_fast(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                             const float *weight, const rs_conv2d_dims *d, rs_workspace *ws) {
    rs_conv2d_backward_ref(d_in, d_weight, d_bias, d_out, in, weight, d, ws);
}
void rs_linear_forward_fast(float *out, const float *in, const float *weight, const float *bias, int64_t n,
                            int64_t k, int64_t o) {
    rs_linear_forward_ref(out, in, weight, bias, n, k, o);
}
void rs_linear_backward_fast(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                             const float *weight, int64_t n, int64_t k, int64_t o) {
    rs_linear_backward_ref(d_in, d_weight, d_bias, d_out, in, weight, n, k, o);
}
void rs_maxpool2d_forward_fast(float *out, void *saved, const float *in, const rs_pool2d_dims *d) {
    rs_maxpool2d_forward_ref(out, saved, in, d);
}
void rs_maxpool2d_backward_fast(float *d_in, const float *d_out, const void *saved, const rs_pool2d_dims *d) {
    rs_maxpool2d_backward_ref(d_in, d_out, saved, d);
}
void rs_avgpool2d_forward_fast(float *out, const float *in, const rs_pool2d_dims *d) {
    rs_avgpool2d_forward_ref(out, in, d);
}
void rs_avgpool2d_backward_fast(float *d_in, const float *d_out, const rs_pool2d_dims *d) {
    rs_avgpool2d_backward_ref(d_in, d_out, d);
}
void rs_batchnorm_forward_fast(float *out, float *save_mean, float *save_invstd, const float *in,
                               const float *gamma, const float *beta, float *running_mean, float *running_var,
                               int64_t rows, int32_t c, float eps, float momentum, rs_bn_mode mode) {
    rs_batchnorm_forward_ref(out, save_mean, save_invstd, in, gamma, beta, running_mean, running_var, rows, c, eps,
                             momentum, mode);
}
void rs_batchnorm_backward_fast(float *d_in, float *d_gamma, float *d_beta, const float *d_out, const float *in,
                                const float *gamma, const float *save_mean, const float *save_invstd,
                                int64_t rows, int32_t c, rs_bn_mode mode) {
    rs_batchnorm_backward_ref(d_in, d_gamma, d_beta, d_out, in, gamma, save_mean, save_invstd, rows, c, mode);
}
#else
typedef int rs_onednn_fast_in_other_files; /* oneDNN build: onednn_conv.c, _linear.c, _pool.c, _bn.c */
#endif
