/* batchnorm_sync.c: batch normalisation whose statistics span several replicas of the net (data-parallel
 * training with --sync-bn): each replica holds some rows of the batch, and sum(buf, n, ctx) adds a buffer of
 * doubles over the replicas in place (an MPI allreduce; with one replica, nothing). Forward: per-channel sums of
 * x, then of (x - mean)^2, each summed over replicas (two passes, as the reference path), the running statistics
 * updated with the unbiased variance of all rows. Backward: the sums of dy and dy * xh over all rows give d_in;
 * d_gamma and d_beta receive this replica's sums only (the gradient allreduce adds the replicas' parts). In double,
 * each thread owning whole channels, so results do not depend on the thread count. Not the per-replica kernels
 * (batchnorm.c, onednn_bn.c). */
#include <math.h>
#include <string.h>

#include "relstab/ops.h"
#include "nn/ref_internal.h"

/* acc[j] += sum over rows of f(x[r, j]) for f = x (mean == NULL) or (x - mean)^2. */
static void col_sums(double *acc, const float *x, const double *mean, int64_t rows, int32_t c) {
#pragma omp parallel for schedule(static) if (rows * c >= RS_PAR_MIN_WORK)
    for (int32_t j = 0; j < c; j++) {
        double s = 0;
        for (int64_t r = 0; r < rows; r++) {
            double v = x[r * c + j];
            if (mean) v = (v - mean[j]) * (v - mean[j]);
            s += v;
        }
        acc[j] = s;
    }
}

/* work: (2C + 1) doubles. */
void rs_batchnorm_forward_sync(float *out, float *save_mean, float *save_invstd, const float *in, const float *gamma,
                               const float *beta, float *running_mean, float *running_var, int64_t rows, int32_t c,
                               float eps, float momentum, rs_sum_fn sum, void *ctx, double *work) {
    double *mean = work, *var = work + c;
    col_sums(mean, in, NULL, rows, c);
    mean[c] = (double)rows;
    sum(mean, c + 1, ctx);
    const double all = mean[c];
    for (int32_t j = 0; j < c; j++) mean[j] /= all;
    col_sums(var, in, mean, rows, c);
    sum(var, c, ctx);
    const double unbias = all > 1 ? all / (all - 1) : 1.0, m = momentum;
    for (int32_t j = 0; j < c; j++) {
        var[j] /= all;
        running_mean[j] = (float)((1.0 - m) * running_mean[j] + m * mean[j]);
        running_var[j] = (float)((1.0 - m) * running_var[j] + m * var[j] * unbias);
        save_mean[j] = (float)mean[j];
        save_invstd[j] = (float)(1.0 / sqrt(var[j] + (double)eps));
    }
#pragma omp parallel for schedule(static) if (rows * c >= RS_PAR_MIN_WORK)
    for (int64_t r = 0; r < rows; r++)
        for (int32_t j = 0; j < c; j++) {
            const float a = (float)((double)save_invstd[j] * (gamma ? gamma[j] : 1.0f));
            out[r * c + j] = (in[r * c + j] - save_mean[j]) * a + (beta ? beta[j] : 0.0f);
        }
}

/* work: (2C + 1) doubles. ACCUMULATES into d_in, d_gamma, d_beta. */
void rs_batchnorm_backward_sync(float *d_in, float *d_gamma, float *d_beta, const float *d_out, const float *in,
                                const float *gamma, const float *save_mean, const float *save_invstd, int64_t rows,
                                int32_t c, rs_sum_fn sum, void *ctx, double *work) {
    double *sdy = work, *sdyx = work + c;
#pragma omp parallel for schedule(static) if (rows * c >= RS_PAR_MIN_WORK)
    for (int32_t j = 0; j < c; j++) {
        double a = 0, b = 0;
        for (int64_t r = 0; r < rows; r++) {
            const double g = d_out[r * c + j];
            a += g;
            b += g * (((double)in[r * c + j] - save_mean[j]) * save_invstd[j]);
        }
        sdy[j] = a, sdyx[j] = b;
    }
    for (int32_t j = 0; j < c; j++) {
        if (d_gamma) d_gamma[j] += (float)sdyx[j];
        if (d_beta) d_beta[j] += (float)sdy[j];
    }
    sdy[2 * c] = (double)rows;
    sum(sdy, 2 * c + 1, ctx);
    if (!d_in) return;
    const double all = sdy[2 * c];
#pragma omp parallel for schedule(static) if (rows * c >= RS_PAR_MIN_WORK)
    for (int64_t r = 0; r < rows; r++)
        for (int32_t j = 0; j < c; j++) {
            const double gi = (gamma ? gamma[j] : 1.0) * save_invstd[j];
            const double xh = ((double)in[r * c + j] - save_mean[j]) * save_invstd[j];
            d_in[r * c + j] += (float)(gi * ((double)d_out[r * c + j] - sdy[j] / all - xh * sdyx[j] / all));
        }
}
