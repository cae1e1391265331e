/* onednn_bn.c: the fast path of batch normalisation over (rows, C), rows = N*H*W of NHWC activations.
 *
 * EVAL forward (running statistics) runs oneDNN's inference primitive with use_global_stats; the data is
 * described to oneDNN as a 1 x C x rows x 1 NHWC tensor, which is the same bytes as (rows, C). Everything that
 * sums over the rows (the batch statistics of TRAIN and BATCHSTAT, and every backward's d_gamma, d_beta and the
 * means in d_in) is done here in C with double accumulation, not by oneDNN's training and backward primitives,
 * which sum in float32. TRAIN updates the running statistics as PyTorch does: r = (1 - momentum) r + momentum s,
 * with the unbiased variance s = var * rows / (rows - 1). save_mean and save_invstd = 1 / sqrt(var + eps) are the
 * statistics that were used. Backward ACCUMULATES into d_in, d_gamma and d_beta. A NULL gamma (beta) acts as ones
 * (zeros). Not here: the reference path (batchnorm.c), the dispatcher, the elementwise activations. */
#ifdef RELSTAB_HAVE_ONEDNN
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/onednn_internal.h"
#include "relstab/ops.h"

typedef struct {
    int64_t rows;
    int32_t c;
    float eps;
} bn_key;

typedef struct {
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst, mean, var, scale, shift;
} bn_entry;

static void bn_destroy(void *v) {
    bn_entry *e = v;
    rs_dnnl_destroy_primitive(e->prim);
    dnnl_memory_t ms[] = {e->src, e->dst, e->mean, e->var, e->scale, e->shift};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) rs_dnnl_destroy_memory(ms[i]);
    free(e);
}
static rs_dnnl_cache g_bn_cache = {.destroy = bn_destroy};

/* The inference primitive (use_global_stats, scale and shift) for (rows, C). */
static bn_entry *bn_get(int64_t rows, int32_t c, float eps) {
    bn_key key;
    memset(&key, 0, sizeof key);
    key.rows = rows;
    key.c = c;
    key.eps = eps;
    bn_entry *e = rs_dnnl_cache_find(&g_bn_cache, &key, sizeof key);
    if (e) return e;
    e = calloc(1, sizeof *e);
    RS_ASSERT(e != NULL);
    dnnl_memory_desc_t data, stat;
    dnnl_dims_t dd = {1, c, rows, 1}, sd = {c};
    rs_dnnl_md(&data, 4, dd, dnnl_nhwc);
    rs_dnnl_md(&stat, 1, sd, dnnl_x);
    unsigned flags = dnnl_use_scale | dnnl_use_shift | dnnl_use_global_stats;
    dnnl_batch_normalization_desc_t fd;
    RS_DNNL_CHECK(dnnl_batch_normalization_forward_desc_init(&fd, dnnl_forward_inference, &data, eps, flags));
    dnnl_primitive_desc_t fwd;
    RS_DNNL_CHECK(dnnl_primitive_desc_create(&fwd, &fd, NULL, rs_dnnl_engine(), NULL));
    e->prim = rs_dnnl_primitive(fwd);
    RS_DNNL_CHECK(dnnl_primitive_desc_destroy(fwd));
    e->src = rs_dnnl_memory(&data);
    e->dst = rs_dnnl_memory(&data);
    e->mean = rs_dnnl_memory(&stat);
    e->var = rs_dnnl_memory(&stat);
    e->scale = rs_dnnl_memory(&stat);
    e->shift = rs_dnnl_memory(&stat);
    rs_dnnl_cache_put(&g_bn_cache, &key, sizeof key, e);
    return e;
}

/* gamma, or ones when gamma is NULL; likewise beta, or zeros. The ones and zeros are written into space. */
static void bn_affine(const float **gamma, const float **beta, int32_t c, float *space /* (2, C) */) {
    if (!*gamma) {
        for (int32_t j = 0; j < c; j++) space[j] = 1.0f;
        *gamma = space;
    }
    if (!*beta) {
        memset(space + c, 0, (size_t)c * sizeof(float));
        *beta = space + c;
    }
}

/* ---------------------------------------------------------------- batch statistics in double
 * The batch modes (TRAIN, BATCHSTAT) do not use oneDNN's training primitives, which sum in float32 (an error of
 * ~1e-5 relative after 16k rows that the measure's init mode saw in D, G, R): their statistics and gradient sums
 * are accumulated here in double, and only the elementwise passes are simple float loops like the reference's.
 * The rows are cut into a number of consecutive chunks that depends only on (rows, C), each chunk's partial sums
 * go to their own slot, and the slots are added in chunk order: results do not depend on the thread count. The
 * forward sums are shifted by each channel's first value K (sum d, sum d^2 with d = x - K, one pass over the
 * data): var = S2/R - (S1/R)^2 in double loses only the digits of (mean - K)^2 / var, about 1 for data whose first
 * row is a typical sample, against the 9 that float output keeps. The loops over channels are `omp simd`, which
 * GCC vectorises at -O2 (its default cost model there skips loops that need a runtime check). */
#define BN_MAX_CHUNKS 64

static int64_t bn_chunks(int64_t rows, int32_t c) {
    int64_t k = (rows * c + RS_DNNL_PAR_MIN - 1) / RS_DNNL_PAR_MIN;
    if (k > BN_MAX_CHUNKS) k = BN_MAX_CHUNKS;
    if (k > rows) k = rows;
    return k < 1 ? 1 : k;
}

/* part (2, C) = over rows [r0, r1): backward (y given; x = dy, y = the input): sums of x and x (y - m); forward
 * (y == NULL): sums of a = x - k and a^2. x, y are (rows, C). */
static void bn_chunk_sums(double *restrict part, const float *restrict x, const float *restrict y,
                          const float *restrict k, const float *restrict m, int64_t r0, int64_t r1, int32_t c) {
    double *restrict s1 = part, *restrict s2 = part + c;
    for (int32_t j = 0; j < 2 * c; j++) part[j] = 0;
    for (int64_t r = r0; r < r1; r++) {
        const float *restrict xr = x + r * c;
        if (y) {
            const float *restrict yr = y + r * c;
#pragma omp simd
            for (int32_t j = 0; j < c; j++) {
                const double a = xr[j];
                s1[j] += a;
                s2[j] += a * ((double)yr[j] - (double)m[j]);
            }
        } else {
#pragma omp simd
            for (int32_t j = 0; j < c; j++) {
                const double a = (double)xr[j] - (double)k[j];
                s1[j] += a;
                s2[j] += a * a;
            }
        }
    }
}

/* s1, s2 (C) = the chunk sums of bn_chunk_sums over all rows, added in chunk order. */
static void bn_sums(double *s1, double *s2, const float *x, const float *y, const float *k, const float *m,
                    int64_t rows, int32_t c) {
    const int64_t nk = bn_chunks(rows, c);
    double *part = rs_dnnl_scratch(2, (size_t)nk * 2 * c * sizeof(double)); // (nk, 2, C)
    if (nk == 1) {
        bn_chunk_sums(part, x, y, k, m, 0, rows, c);
    } else {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < nk; i++)
            bn_chunk_sums(part + i * 2 * c, x, y, k, m, rows * i / nk, rows * (i + 1) / nk, c);
    }
    for (int32_t j = 0; j < c; j++) s1[j] = 0, s2[j] = 0;
    for (int64_t i = 0; i < nk; i++)
        for (int32_t j = 0; j < c; j++) s1[j] += part[i * 2 * c + j], s2[j] += part[i * 2 * c + c + j];
}

/* out (rows, C) = (x - m) a + b, or out += e dy + a (x - m) + b when dy is given: the reference's two elementwise
 * formulas, with a, b, e, m (C). */
static void bn_rows_chunk(float *restrict out, const float *restrict x, const float *restrict dy,
                          const float *restrict m, const float *restrict a, const float *restrict b,
                          const float *restrict e, int64_t r0, int64_t r1, int32_t c) {
    for (int64_t r = r0; r < r1; r++) {
        const float *restrict xr = x + r * c;
        float *restrict o = out + r * c;
        if (dy) {
            const float *restrict dr = dy + r * c;
#pragma omp simd
            for (int32_t j = 0; j < c; j++) o[j] += e[j] * dr[j] + a[j] * (xr[j] - m[j]) + b[j];
        } else {
#pragma omp simd
            for (int32_t j = 0; j < c; j++) o[j] = (xr[j] - m[j]) * a[j] + b[j];
        }
    }
}
static void bn_rows(float *out, const float *x, const float *dy, const float *m, const float *a, const float *b,
                    const float *e, int64_t rows, int32_t c) {
    const int64_t nk = bn_chunks(rows, c);
    if (nk == 1) {
        bn_rows_chunk(out, x, dy, m, a, b, e, 0, rows, c);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < nk; i++) bn_rows_chunk(out, x, dy, m, a, b, e, rows * i / nk, rows * (i + 1) / nk, c);
}

/* Forward with batch statistics: the reference's formula, y = (x - mean) a + beta, a = gamma invstd, with the
 * statistics in double. */
static void bn_forward_batch(float *out, float *save_mean, float *save_invstd, const float *in, const float *gamma,
                             const float *beta, float *running_mean, float *running_var, int64_t rows, int32_t c,
                             float eps, float momentum, rs_bn_mode mode) {
    double *s = rs_dnnl_scratch(1, (size_t)c * (2 * sizeof(double) + 3 * sizeof(float))); // s1, s2 (C) double
    double *s1 = s, *s2 = s + c;
    float *m = (float *)(s + 2 * (size_t)c), *a = m + c, *b = a + c; // (C) each
    bn_sums(s1, s2, in, NULL, in, NULL, rows, c);        // shifted by the first row
    const double unbias = rows > 1 ? (double)rows / (double)(rows - 1) : 1.0, mo = momentum;
    for (int32_t j = 0; j < c; j++) {
        const double d = s1[j] / (double)rows, mean = (double)in[j] + d;
        double var = s2[j] / (double)rows - d * d;
        if (var < 0) var = 0;
        const double invstd = 1.0 / sqrt(var + (double)eps);
        m[j] = (float)mean;
        a[j] = (float)(invstd * (gamma ? gamma[j] : 1.0));
        b[j] = beta ? beta[j] : 0.0f;
        if (save_mean) save_mean[j] = m[j];
        if (save_invstd) save_invstd[j] = (float)invstd;
        if (mode == RS_BN_TRAIN && running_mean && running_var) {
            running_mean[j] = (float)((1.0 - mo) * running_mean[j] + mo * mean);
            running_var[j] = (float)((1.0 - mo) * running_var[j] + mo * var * unbias);
        }
    }
    bn_rows(out, in, NULL, m, a, b, NULL, rows, c);
}

/* Backward: d_in += k_dy dy + k_x (x - mean) + k_0, the reference's formula (k_x = k_0 = 0 for EVAL, whose
 * statistics are constants). */
static void bn_backward_sums(float *d_in, float *d_gamma, float *d_beta, const float *d_out, const float *in,
                             const float *gamma, const float *save_mean, const float *save_invstd, int64_t rows,
                             int32_t c, int batch) {
    double *s = rs_dnnl_scratch(1, (size_t)c * (2 * sizeof(double) + 3 * sizeof(float)));
    double *sdy = s, *sdyx = s + c; // sum dy, sum dy (x - mean); (C) each
    float *kx = (float *)(s + 2 * (size_t)c), *k0 = kx + c, *kdy = k0 + c;
    bn_sums(sdy, sdyx, d_out, in, NULL, save_mean, rows, c);
    for (int32_t j = 0; j < c; j++) {
        const double is = save_invstd[j], gi = (gamma ? gamma[j] : 1.0) * is, dxh = sdyx[j] * is;
        if (d_gamma) d_gamma[j] += (float)dxh;
        if (d_beta) d_beta[j] += (float)sdy[j];
        kdy[j] = (float)gi;
        kx[j] = batch ? (float)(-gi * is * dxh / (double)rows) : 0.0f;
        k0[j] = batch ? (float)(-gi * sdy[j] / (double)rows) : 0.0f;
    }
    if (d_in) bn_rows(d_in, in, d_out, save_mean, kx, k0, kdy, rows, c);
}

void rs_batchnorm_forward_fast(float *out, float *save_mean, float *save_invstd, const float *in,
                               const float *gamma, const float *beta, float *running_mean, float *running_var,
                               int64_t rows, int32_t c, float eps, float momentum, rs_bn_mode mode) {
    if (mode != RS_BN_EVAL) {
        bn_forward_batch(out, save_mean, save_invstd, in, gamma, beta, running_mean, running_var, rows, c, eps,
                         momentum, mode);
        return;
    }
    bn_entry *e = bn_get(rows, c, eps);
    float *space = rs_dnnl_scratch(1, 2 * (size_t)c * sizeof(float)); // (2, C): ones, zeros
    bn_affine(&gamma, &beta, c, space);
    rs_dnnl_bind(e->src, in);
    rs_dnnl_bind(e->dst, out);
    rs_dnnl_bind(e->mean, running_mean);
    rs_dnnl_bind(e->var, running_var);
    rs_dnnl_bind(e->scale, gamma);
    rs_dnnl_bind(e->shift, beta);
    dnnl_exec_arg_t args[6] = {{DNNL_ARG_SRC, e->src},   {DNNL_ARG_DST, e->dst},     {DNNL_ARG_MEAN, e->mean},
                               {DNNL_ARG_VARIANCE, e->var}, {DNNL_ARG_SCALE, e->scale}, {DNNL_ARG_SHIFT, e->shift}};
    rs_dnnl_run(e->prim, 6, args);
    for (int32_t j = 0; j < c; j++) {
        if (save_mean) save_mean[j] = running_mean[j];
        if (save_invstd) save_invstd[j] = (float)(1.0 / sqrt((double)running_var[j] + (double)eps));
    }
}

void rs_batchnorm_backward_fast(float *d_in, float *d_gamma, float *d_beta, const float *d_out, const float *in,
                                const float *gamma, const float *save_mean, const float *save_invstd,
                                int64_t rows, int32_t c, rs_bn_mode mode) {
    if (!d_in && !d_gamma && !d_beta) return;
    bn_backward_sums(d_in, d_gamma, d_beta, d_out, in, gamma, save_mean, save_invstd, rows, c, mode != RS_BN_EVAL);
}
#else
typedef int rs_onednn_bn_empty; /* this build has no oneDNN: onednn.c maps the fast path to the reference */
#endif
