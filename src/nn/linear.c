/* linear.c: the fully-connected layer out = in W^T + b with PyTorch's (out, in) weight layout: the plain-C
 * reference forward and backward and the dispatchers to the fast path.
 * Forward is blocks of 4 x 2 dot products (16 float lanes each, lanes summed in a fixed order); the input gradient
 * and the weight gradient go through the shared 4 x 16 kernel (ref_internal.h). The weight and bias gradients,
 * reductions over the batch, are summed in float over chunks of LIN_CHUNK rows and across chunks in double. Every
 * output element is owned by one thread, so results do not depend on the thread count. Not a tuned GEMM (onednn.c
 * is the fast path). Also the broadcast scalar bias (one number added to every output) of the mean-field readouts. */
#include "relstab/ops.h"
#include "nn/ref_internal.h"

#define LIN_LANES 16  /* float lanes of the forward dot products */
#define LIN_CHUNK 64  /* batch rows summed in float before adding in double (weight gradient) */

/* out[p * 2 + q] = sum_t a[p][t] b[q][t] for p < 4, q < 2, over k. */
static void lin_dot4x2(float *out, const float *const a[4], const float *const b[2], int64_t k) {
    float s00[LIN_LANES] = {0}, s01[LIN_LANES] = {0}, s10[LIN_LANES] = {0}, s11[LIN_LANES] = {0};
    float s20[LIN_LANES] = {0}, s21[LIN_LANES] = {0}, s30[LIN_LANES] = {0}, s31[LIN_LANES] = {0};
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *b0 = b[0], *b1 = b[1];
    int64_t t = 0;
    for (; t + LIN_LANES <= k; t += LIN_LANES)
        for (int v = 0; v < LIN_LANES; v++) {
            const float x0 = b0[t + v], x1 = b1[t + v];
            s00[v] += a0[t + v] * x0, s01[v] += a0[t + v] * x1;
            s10[v] += a1[t + v] * x0, s11[v] += a1[t + v] * x1;
            s20[v] += a2[t + v] * x0, s21[v] += a2[t + v] * x1;
            s30[v] += a3[t + v] * x0, s31[v] += a3[t + v] * x1;
        }
    float r[8] = {0};
    for (int v = 0; v < LIN_LANES; v++) {
        r[0] += s00[v], r[1] += s01[v], r[2] += s10[v], r[3] += s11[v];
        r[4] += s20[v], r[5] += s21[v], r[6] += s30[v], r[7] += s31[v];
    }
    for (; t < k; t++)
        for (int p = 0; p < 4; p++)
            for (int q = 0; q < 2; q++) r[p * 2 + q] += a[p][t] * b[q][t];
    for (int i = 0; i < 8; i++) out[i] = r[i];
}

/* out (N, O) = in (N, K) weight^T (K, O) + bias (O). Threads own pairs of output features (weight rows). */
void rs_linear_forward_ref(float *out, const float *in, const float *weight, const float *bias, int64_t n,
                           int64_t k, int64_t o) {
    const int64_t pairs = (o + 1) / 2;
#pragma omp parallel for schedule(static) if (n * k * o >= RS_PAR_MIN_WORK)
    for (int64_t jp = 0; jp < pairs; jp++) {
        const int64_t j0 = 2 * jp, nq = o - j0 < 2 ? o - j0 : 2;
        const float *b[2] = {weight + j0 * k, weight + (j0 + nq - 1) * k}; // a lone last row is paired with itself
        for (int64_t i0 = 0; i0 < n; i0 += 4) {
            const int64_t np = n - i0 < 4 ? n - i0 : 4;
            const float *a[4];
            for (int64_t p = 0; p < 4; p++) a[p] = in + (i0 + (p < np ? p : 0)) * k;
            float r[8];
            lin_dot4x2(r, a, b, k);
            for (int64_t p = 0; p < np; p++)
                for (int64_t q = 0; q < nq; q++)
                    out[(i0 + p) * o + j0 + q] = r[p * 2 + q] + (bias ? bias[j0 + q] : 0.0f);
        }
    }
}

/* d_in (N, K) += d_out (N, O) W (O, K): threads own strips of 16 input features, over all rows. */
static void lin_backward_input(float *d_in, const float *d_out, const float *weight, int64_t n, int64_t k, int64_t o) {
    const int64_t strips = (k + RS_KJ - 1) / RS_KJ;
#pragma omp parallel for schedule(static) if (n * k * o >= RS_PAR_MIN_WORK)
    for (int64_t s = 0; s < strips; s++) {
        const int64_t t0 = s * RS_KJ;
        const int32_t nj = (int32_t)(k - t0 < RS_KJ ? k - t0 : RS_KJ);
        for (int64_t i0 = 0; i0 < n; i0 += RS_KP) {
            const int64_t np = n - i0 < RS_KP ? n - i0 : RS_KP;
            const float *a[RS_KP];
            for (int64_t p = 0; p < RS_KP; p++) a[p] = d_out + (i0 + (p < np ? p : 0)) * o;
            float acc[RS_KP * RS_KJ] = {0};
            rs_ref_kernel(acc, a, 1, weight + t0, k, (int32_t)o, nj);
            for (int64_t p = 0; p < np; p++)
                for (int32_t j = 0; j < nj; j++) d_in[(i0 + p) * k + t0 + j] += acc[p * RS_KJ + j];
        }
    }
}

/* d_weight (O, K) += d_out^T (O, N) in (N, K): threads own strips of 16 input features; blocks of 4 output
 * features are summed in float over LIN_CHUNK rows at a time and in double across chunks. */
static void lin_backward_weight(float *d_weight, const float *d_out, const float *in, int64_t n, int64_t k,
                                int64_t o) {
    const int64_t strips = (k + RS_KJ - 1) / RS_KJ;
#pragma omp parallel for schedule(static) if (n * k * o >= RS_PAR_MIN_WORK)
    for (int64_t s = 0; s < strips; s++) {
        const int64_t t0 = s * RS_KJ;
        const int32_t nj = (int32_t)(k - t0 < RS_KJ ? k - t0 : RS_KJ);
        for (int64_t j0 = 0; j0 < o; j0 += RS_KP) {
            const int64_t np = o - j0 < RS_KP ? o - j0 : RS_KP;
            double sum[RS_KP * RS_KJ] = {0};
            for (int64_t i0 = 0; i0 < n; i0 += LIN_CHUNK) {
                const int32_t rows = (int32_t)(n - i0 < LIN_CHUNK ? n - i0 : LIN_CHUNK);
                const float *a[RS_KP]; // a[p][i * o] = d_out[i0 + i][j0 + p]
                for (int64_t p = 0; p < RS_KP; p++) a[p] = d_out + i0 * o + j0 + (p < np ? p : 0);
                float acc[RS_KP * RS_KJ] = {0};
                rs_ref_kernel(acc, a, o, in + i0 * k + t0, k, rows, nj);
                for (int q = 0; q < RS_KP * RS_KJ; q++) sum[q] += acc[q];
            }
            for (int64_t p = 0; p < np; p++)
                for (int32_t j = 0; j < nj; j++) d_weight[(j0 + p) * k + t0 + j] += (float)sum[p * RS_KJ + j];
        }
    }
}

/* d_in += d_out W; d_weight += d_out^T in; d_bias (O) += sum over N of d_out (in double). */
void rs_linear_backward_ref(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                            const float *weight, int64_t n, int64_t k, int64_t o) {
    if (d_in) lin_backward_input(d_in, d_out, weight, n, k, o);
    if (d_weight) lin_backward_weight(d_weight, d_out, in, n, k, o);
    if (d_bias) {
        for (int64_t j0 = 0; j0 < o; j0 += 64) {
            const int64_t nj = o - j0 < 64 ? o - j0 : 64;
            double acc[64] = {0};
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < nj; j++) acc[j] += d_out[i * o + j0 + j];
            for (int64_t j = 0; j < nj; j++) d_bias[j0 + j] += (float)acc[j];
        }
    }
}

/* out (n) += bias[0]: one number added to every element. */
void rs_scalar_bias_forward(float *out, const float *bias, int64_t n) {
    const float b = bias[0];
    for (int64_t i = 0; i < n; i++) out[i] += b;
}

/* d_bias[0] += sum of d_out (n), in double. */
void rs_scalar_bias_backward(float *d_bias, const float *d_out, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += d_out[i];
    d_bias[0] += (float)s;
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
