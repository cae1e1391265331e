/* linear.c: the fully-connected layer out = in W^T + b with PyTorch's (out, in) weight layout: the plain-C
 * reference forward and backward and the dispatchers to the fast path.
 * Dot products and the batch reductions of the parameter gradients are summed in double, each output element by
 * one thread in a fixed order (results do not depend on the thread count). Not a tuned GEMM (onednn.c is). */
#include "relstab/ops.h"
#include "nn/ref_internal.h"

#define LIN_OBLOCK 16  /* output features per forward task: their weight rows stay in cache over the batch */
#define LIN_KBLOCK 256 /* input features per weight-gradient task */

/* out (N, O) = in (N, K) weight^T (K, O) + bias (O). */
void rs_linear_forward_ref(float *out, const float *in, const float *weight, const float *bias, int64_t n,
                           int64_t k, int64_t o) {
    const int64_t nblock = (o + LIN_OBLOCK - 1) / LIN_OBLOCK;
#pragma omp parallel for schedule(static) if (n * k * o >= RS_PAR_MIN_WORK)
    for (int64_t b = 0; b < nblock; b++)
        for (int64_t i = 0; i < n; i++) {
            const float *x = in + i * k; // (K)
            for (int64_t j = b * LIN_OBLOCK; j < o && j < (b + 1) * LIN_OBLOCK; j++) {
                const float *w = weight + j * k; // (K)
                double acc = 0;
#pragma omp simd reduction(+ : acc)
                for (int64_t t = 0; t < k; t++) acc += (double)x[t] * (double)w[t];
                out[i * o + j] = (float)(acc + (bias ? (double)bias[j] : 0.0));
            }
        }
}

/* d_in (N, K) += d_out (N, O) W (O, K); d_weight (O, K) += d_out^T in; d_bias (O) += sum over N of d_out. */
void rs_linear_backward_ref(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                            const float *weight, int64_t n, int64_t k, int64_t o) {
    if (d_in) {
#pragma omp parallel for schedule(static) if (n * k * o >= RS_PAR_MIN_WORK)
        for (int64_t i = 0; i < n; i++) {
            float *dx = d_in + i * k; // (K)
            for (int64_t j = 0; j < o; j++) {
                const float a = d_out[i * o + j];
                const float *w = weight + j * k;
                for (int64_t t = 0; t < k; t++) dx[t] += a * w[t];
            }
        }
    }
    if (d_weight) {
        const int64_t kblocks = (k + LIN_KBLOCK - 1) / LIN_KBLOCK;
#pragma omp parallel for schedule(static) if (n * k * o >= RS_PAR_MIN_WORK)
        for (int64_t task = 0; task < o * kblocks; task++) {
            const int64_t j = task / kblocks, t0 = task % kblocks * LIN_KBLOCK;
            const int64_t tn = k - t0 < LIN_KBLOCK ? k - t0 : LIN_KBLOCK;
            double acc[LIN_KBLOCK] = {0};
            for (int64_t i = 0; i < n; i++) {
                const double a = d_out[i * o + j];
                const float *x = in + i * k + t0;
                for (int64_t t = 0; t < tn; t++) acc[t] += a * (double)x[t];
            }
            for (int64_t t = 0; t < tn; t++) d_weight[j * k + t0 + t] += (float)acc[t];
        }
    }
    if (d_bias) {
        for (int64_t j = 0; j < o; j++) {
            double acc = 0;
            for (int64_t i = 0; i < n; i++) acc += d_out[i * o + j];
            d_bias[j] += (float)acc;
        }
    }
}

void rs_linear_forward(float *out, const float *in, const float *weight, const float *bias, int64_t n, int64_t k,
                       int64_t o) {
    if (rs_get_backend() == RS_BACKEND_REF)
        rs_linear_forward_ref(out, in, weight, bias, n, k, o);
    else
        rs_linear_forward_fast(out, in, weight, bias, n, k, o);
}

void rs_linear_backward(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                        const float *weight, int64_t n, int64_t k, int64_t o) {
    if (rs_get_backend() == RS_BACKEND_REF)
        rs_linear_backward_ref(d_in, d_weight, d_bias, d_out, in, weight, n, k, o);
    else
        rs_linear_backward_fast(d_in, d_weight, d_bias, d_out, in, weight, n, k, o);
}
