/* batchnorm.c: batch normalisation over (rows, C), rows = N*H*W of an NHWC activation: the plain-C reference
 * forward and backward (train, eval and batch-statistics modes, as described in ops.h) and the dispatchers.
 * Statistics and gradient sums are computed in double, two-pass (mean, then squared deviations). Each thread
 * owns a contiguous range of channels (whole cache lines of every row) and sums over the rows in order, so results
 * do not depend on the thread count. gamma or beta may be NULL (meaning 1 and 0: a BN without affine
 * parameters). It is not the fast path (onednn.c). */
#include "relstab/ops.h"
#include "nn/ref_internal.h"

#include <math.h>
#include <omp.h>

#define BN_CHUNK 256 /* channels whose sums live on the stack at once */

/* This thread's channels [*lo, *hi): the channels in contiguous ranges of whole 16-channel blocks (cache lines),
 * so that each thread streams its part of every row. */
static void bn_my_channels(int32_t c, int32_t *lo, int32_t *hi) {
    const int32_t nb = (c + 15) / 16, nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int32_t b0 = (int32_t)((int64_t)nb * t / nt), b1 = (int32_t)((int64_t)nb * (t + 1) / nt);
    *lo = 16 * b0 < c ? 16 * b0 : c;
    *hi = 16 * b1 < c ? 16 * b1 : c;
}

/* Mean and biased variance of the cn channels at x (row stride c), two-pass in double. */
static void bn_stats(double *mean, double *var, const float *x, int64_t rows, int32_t c, int32_t cn) {
    for (int32_t j = 0; j < cn; j++) mean[j] = 0, var[j] = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int32_t j = 0; j < cn; j++) mean[j] += x[r * c + j];
    for (int32_t j = 0; j < cn; j++) mean[j] /= (double)rows;
    for (int64_t r = 0; r < rows; r++)
        for (int32_t j = 0; j < cn; j++) {
            const double dv = (double)x[r * c + j] - mean[j];
            var[j] += dv * dv;
        }
    for (int32_t j = 0; j < cn; j++) var[j] /= (double)rows;
}

/* Forward of channels [c0, c0 + cn): statistics, running-statistics update, saved statistics, output. */
static void bn_forward_chunk(float *out, float *save_mean, float *save_invstd, const float *in, const float *gamma,
                             const float *beta, float *running_mean, float *running_var, int64_t rows, int32_t c,
                             int32_t c0, int32_t cn, float eps, float momentum, rs_bn_mode mode) {
    double mean[BN_CHUNK], var[BN_CHUNK];
    float mu[BN_CHUNK], alpha[BN_CHUNK], bt[BN_CHUNK];
    if (mode == RS_BN_EVAL) {
        for (int32_t j = 0; j < cn; j++) mean[j] = running_mean[c0 + j], var[j] = running_var[c0 + j];
    } else {
        bn_stats(mean, var, in + c0, rows, c, cn);
    }
    if (mode == RS_BN_TRAIN) {
        // With a single row the unbiased variance is undefined (PyTorch refuses); the biased one (0) is used.
        const double unbias = rows > 1 ? (double)rows / (double)(rows - 1) : 1.0, m = momentum;
        for (int32_t j = 0; j < cn; j++) {
            running_mean[c0 + j] = (float)((1.0 - m) * running_mean[c0 + j] + m * mean[j]);
            running_var[c0 + j] = (float)((1.0 - m) * running_var[c0 + j] + m * var[j] * unbias);
        }
    }
    for (int32_t j = 0; j < cn; j++) {
        const double invstd = 1.0 / sqrt(var[j] + (double)eps);
        mu[j] = (float)mean[j];
        alpha[j] = (float)(invstd * (gamma ? gamma[c0 + j] : 1.0));
        bt[j] = beta ? beta[c0 + j] : 0.0f;
        if (save_mean) save_mean[c0 + j] = (float)mean[j];
        if (save_invstd) save_invstd[c0 + j] = (float)invstd;
    }
    const float *x = in + c0;
    float *y = out + c0;
    for (int64_t r = 0; r < rows; r++)
        for (int32_t j = 0; j < cn; j++) y[r * c + j] = (x[r * c + j] - mu[j]) * alpha[j] + bt[j];
}

/* out (rows, C) = (in - mean) * invstd * gamma + beta. */
void rs_batchnorm_forward_ref(float *out, float *save_mean, float *save_invstd, const float *in,
                              const float *gamma, const float *beta, float *running_mean, float *running_var,
                              int64_t rows, int32_t c, float eps, float momentum, rs_bn_mode mode) {
#pragma omp parallel if (rows * c >= RS_PAR_MIN_WORK)
    {
        int32_t lo, hi;
        bn_my_channels(c, &lo, &hi);
        for (int32_t c0 = lo; c0 < hi; c0 += BN_CHUNK)
            bn_forward_chunk(out, save_mean, save_invstd, in, gamma, beta, running_mean, running_var, rows, c, c0,
                             hi - c0 < BN_CHUNK ? hi - c0 : BN_CHUNK, eps, momentum, mode);
    }
}

/* Backward of channels [c0, c0 + cn), see rs_batchnorm_backward_ref. */
static void bn_backward_chunk(float *d_in, float *d_gamma, float *d_beta, const float *d_out, const float *in,
                              const float *gamma, const float *save_mean, const float *save_invstd, int64_t rows,
                              int32_t c, int32_t c0, int32_t cn, rs_bn_mode mode) {
    double sdy[BN_CHUNK] = {0}, sdyx[BN_CHUNK] = {0};
    float mu[BN_CHUNK], is[BN_CHUNK], k_dy[BN_CHUNK], k_x[BN_CHUNK], k_0[BN_CHUNK];
    for (int32_t j = 0; j < cn; j++) mu[j] = save_mean[c0 + j], is[j] = save_invstd[c0 + j];
    const float *x = in + c0, *dy = d_out + c0;
    for (int64_t r = 0; r < rows; r++)
        for (int32_t j = 0; j < cn; j++) {
            const double g = dy[r * c + j];
            sdy[j] += g;
            sdyx[j] += g * (((double)x[r * c + j] - mu[j]) * is[j]);
        }
    for (int32_t j = 0; j < cn; j++) {
        if (d_gamma) d_gamma[c0 + j] += (float)sdyx[j];
        if (d_beta) d_beta[c0 + j] += (float)sdy[j];
    }
    if (!d_in) return;
    // d_in += k_dy dy + k_x (x - mean) + k_0: the formula with xh expanded (no cancellation in x - mean).
    for (int32_t j = 0; j < cn; j++) {
        const double gi = (gamma ? gamma[c0 + j] : 1.0) * is[j];
        const int batch = mode != RS_BN_EVAL;
        k_dy[j] = (float)gi;
        k_x[j] = batch ? (float)(-gi * is[j] * sdyx[j] / (double)rows) : 0.0f;
        k_0[j] = batch ? (float)(-gi * sdy[j] / (double)rows) : 0.0f;
    }
    float *dx = d_in + c0;
    for (int64_t r = 0; r < rows; r++)
        for (int32_t j = 0; j < cn; j++)
            dx[r * c + j] += k_dy[j] * dy[r * c + j] + k_x[j] * (x[r * c + j] - mu[j]) + k_0[j];
}

/* For batch statistics (TRAIN, BATCHSTAT), with xh = (x - mean) invstd:
 *   d_in += gamma invstd (dy - mean(dy) - xh mean(dy xh)),  d_gamma += sum dy xh,  d_beta += sum dy.
 * For EVAL the statistics are constants: d_in += gamma invstd dy. */
void rs_batchnorm_backward_ref(float *d_in, float *d_gamma, float *d_beta, const float *d_out, const float *in,
                               const float *gamma, const float *save_mean, const float *save_invstd, int64_t rows,
                               int32_t c, rs_bn_mode mode) {
#pragma omp parallel if (rows * c >= RS_PAR_MIN_WORK)
    {
        int32_t lo, hi;
        bn_my_channels(c, &lo, &hi);
        for (int32_t c0 = lo; c0 < hi; c0 += BN_CHUNK)
            bn_backward_chunk(d_in, d_gamma, d_beta, d_out, in, gamma, save_mean, save_invstd, rows, c, c0,
                              hi - c0 < BN_CHUNK ? hi - c0 : BN_CHUNK, mode);
    }
}

void rs_batchnorm_forward(float *out, float *save_mean, float *save_invstd, const float *in, const float *gamma,
                          const float *beta, float *running_mean, float *running_var, int64_t rows, int32_t c,
                          float eps, float momentum, rs_bn_mode mode) {
    if (rs_get_backend() == RS_BACKEND_REF)
        rs_batchnorm_forward_ref(out, save_mean, save_invstd, in, gamma, beta, running_mean, running_var, rows, c,
                                 eps, momentum, mode);
    else
        rs_batchnorm_forward_fast(out, save_mean, save_invstd, in, gamma, beta, running_mean, running_var, rows, c,
                                  eps, momentum, mode);
}

void rs_batchnorm_backward(float *d_in, float *d_gamma, float *d_beta, const float *d_out, const float *in,
                           const float *gamma, const float *save_mean, const float *save_invstd, int64_t rows,
                           int32_t c, rs_bn_mode mode) {
    if (rs_get_backend() == RS_BACKEND_REF)
        rs_batchnorm_backward_ref(d_in, d_gamma, d_beta, d_out, in, gamma, save_mean, save_invstd, rows, c, mode);
    else
        rs_batchnorm_backward_fast(d_in, d_gamma, d_beta, d_out, in, gamma, save_mean, save_invstd, rows, c, mode);
}
