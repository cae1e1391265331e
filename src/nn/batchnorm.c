/* batchnorm.c: batch normalisation over (rows, C), rows = N*H*W of an NHWC activation: the plain-C reference
 * forward and backward (train, eval and batch-statistics modes, as described in ops.h) and the dispatchers.
 * Statistics and gradient sums are computed in double, two-pass (mean, then squared deviations). Threads own
 * blocks of 16 channels (one cache line per row) and sum over rows in order, so results do not depend on the thread
 * count. gamma or beta may be NULL (meaning 1 and 0: a BN without affine parameters). It is not the fast path. */
#include "relstab/ops.h"
#include "nn/ref_internal.h"

#include <math.h>

#define BN_CBLOCK 16

/* Mean and biased variance of channels [c0, c0 + cn) over the rows. */
static void bn_batch_stats(double *mean, double *var, const float *in, int64_t rows, int32_t c, int32_t c0,
                           int32_t cn) {
    double s[BN_CBLOCK] = {0}, q[BN_CBLOCK] = {0};
    for (int64_t r = 0; r < rows; r++)
        for (int32_t j = 0; j < cn; j++) s[j] += in[r * c + c0 + j];
    for (int32_t j = 0; j < cn; j++) mean[j] = s[j] / (double)rows;
    for (int64_t r = 0; r < rows; r++)
        for (int32_t j = 0; j < cn; j++) {
            double dv = (double)in[r * c + c0 + j] - mean[j];
            q[j] += dv * dv;
        }
    for (int32_t j = 0; j < cn; j++) var[j] = q[j] / (double)rows;
}

/* out (rows, C) = (in - mean) * invstd * gamma + beta. */
void rs_batchnorm_forward_ref(float *out, float *save_mean, float *save_invstd, const float *in,
                              const float *gamma, const float *beta, float *running_mean, float *running_var,
                              int64_t rows, int32_t c, float eps, float momentum, rs_bn_mode mode) {
    const int32_t nb = (c + BN_CBLOCK - 1) / BN_CBLOCK;
#pragma omp parallel for schedule(static) if (rows * c >= RS_PAR_MIN_WORK)
    for (int32_t b = 0; b < nb; b++) {
        const int32_t c0 = b * BN_CBLOCK, cn = c - c0 < BN_CBLOCK ? c - c0 : BN_CBLOCK;
        double mean[BN_CBLOCK], var[BN_CBLOCK];
        float mu[BN_CBLOCK], alpha[BN_CBLOCK], bt[BN_CBLOCK];
        if (mode == RS_BN_EVAL) {
            for (int32_t j = 0; j < cn; j++) mean[j] = running_mean[c0 + j], var[j] = running_var[c0 + j];
        } else {
            bn_batch_stats(mean, var, in, rows, c, c0, cn);
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
        for (int64_t r = 0; r < rows; r++)
            for (int32_t j = 0; j < cn; j++) out[r * c + c0 + j] = (in[r * c + c0 + j] - mu[j]) * alpha[j] + bt[j];
    }
}

/* For batch statistics (TRAIN, BATCHSTAT), with xh = (x - mean) invstd:
 *   d_in += gamma invstd (dy - mean(dy) - xh mean(dy xh)),  d_gamma += sum dy xh,  d_beta += sum dy.
 * For EVAL the statistics are constants: d_in += gamma invstd dy. */
void rs_batchnorm_backward_ref(float *d_in, float *d_gamma, float *d_beta, const float *d_out, const float *in,
                               const float *gamma, const float *save_mean, const float *save_invstd, int64_t rows,
                               int32_t c, rs_bn_mode mode) {
    const int32_t nb = (c + BN_CBLOCK - 1) / BN_CBLOCK;
#pragma omp parallel for schedule(static) if (rows * c >= RS_PAR_MIN_WORK)
    for (int32_t b = 0; b < nb; b++) {
        const int32_t c0 = b * BN_CBLOCK, cn = c - c0 < BN_CBLOCK ? c - c0 : BN_CBLOCK;
        double sdy[BN_CBLOCK] = {0}, sdyx[BN_CBLOCK] = {0};
        float mu[BN_CBLOCK], is[BN_CBLOCK], k_dy[BN_CBLOCK], k_x[BN_CBLOCK], k_0[BN_CBLOCK];
        for (int32_t j = 0; j < cn; j++) mu[j] = save_mean[c0 + j], is[j] = save_invstd[c0 + j];
        for (int64_t r = 0; r < rows; r++)
            for (int32_t j = 0; j < cn; j++) {
                const double dy = d_out[r * c + c0 + j];
                sdy[j] += dy;
                sdyx[j] += dy * (((double)in[r * c + c0 + j] - mu[j]) * is[j]);
            }
        for (int32_t j = 0; j < cn; j++) {
            if (d_gamma) d_gamma[c0 + j] += (float)sdyx[j];
            if (d_beta) d_beta[c0 + j] += (float)sdy[j];
        }
        if (!d_in) continue;
        // d_in += k_dy dy + k_x (x - mean) + k_0: the formula above with xh expanded (no cancellation in x - mean).
        for (int32_t j = 0; j < cn; j++) {
            const double gi = (gamma ? gamma[c0 + j] : 1.0) * is[j];
            const int batch = mode != RS_BN_EVAL;
            k_dy[j] = (float)gi;
            k_x[j] = batch ? (float)(-gi * is[j] * sdyx[j] / (double)rows) : 0.0f;
            k_0[j] = batch ? (float)(-gi * sdy[j] / (double)rows) : 0.0f;
        }
        for (int64_t r = 0; r < rows; r++)
            for (int32_t j = 0; j < cn; j++) {
                const int64_t at = r * c + c0 + j;
                d_in[at] += k_dy[j] * d_out[at] + k_x[j] * (in[at] - mu[j]) + k_0[j];
            }
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
