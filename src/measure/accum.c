/* accum.c: the D, G, R estimators on representations the caller gives (rs_accum), for nets that relstab does not
 * run (the Python binding feeds it PyTorch activations). Per node, batch after batch in probe order, it takes the
 * clean, deformed and noisy representations of the same images and computes what rs_measure computes for one draw,
 * with the same arithmetic in the same order:
 *   mean    per image d_p = sum_j (xd_pj - x_pj)^2 and g_p likewise, summed in double in the given value order and
 *           fed to the bivariate Welford accumulator of measure_internal.h in image order; the denominator from a
 *           per-value Welford update over the clean images, 2 sum_j M2_j / P + 1e-10 (sensitivity.c);
 *   median  every representation kept (as double), then median.c's formulas: the lower median over the P^2 pairs
 *           for the denominator, sum over values of the per-value lower median over images for the numerators.
 * So on the taps of a relstab net (NHWC order) it gives rs_measure's numbers exactly; on another layout (NCHW) the
 * sums run in another order and agree to the last few bits. With the channel mean, node k's (C, S) values per image
 * (or (S, C) channels-last) become S means, summed in double over C and, for float input, rounded to float, as
 * rs_measure's channel mean does.
 * It does not run nets, make perturbations or combine draws. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "measure/measure_internal.h"

typedef struct {
    int64_t numel, channels, n; /* values per image as given; channel count (channel mean); images added */
    int32_t channels_last, dtype; /* dtype: 0 float32, 1 float64 (fixed by the first batch) */
    double *mean, *m2;          /* mean estimator: (N) */
    biv acc;
    double *keep;               /* median estimator: (3, cap, N) clean, deformed, noisy as they come */
    int64_t cap;
} accum_node;

struct rs_accum {
    int32_t n_nodes, chmean;
    rs_estimator est;
    accum_node *node;
    double *scratch; /* (3, batch, N) the converted batch */
    size_t scratch_len;
};

rs_status rs_accum_new(int32_t n_nodes, rs_estimator est, int32_t channel_mean, rs_accum **out) {
    *out = NULL;
    if (n_nodes < 1 || n_nodes > 100000) return rs_error(RS_ERR_ARG, "an accumulator needs 1 to 100000 nodes, got %d", n_nodes);
    if (est != RS_EST_MEAN && est != RS_EST_MEDIAN) return rs_error(RS_ERR_ARG, "unknown estimator %d", (int)est);
    rs_accum *a = rs_calloc(sizeof *a);
    if (a) a->node = rs_calloc((size_t)n_nodes * sizeof(accum_node));
    if (!a || !a->node) {
        rs_free(a);
        return rs_error(RS_ERR_NOMEM, "out of memory for an accumulator of %d nodes", n_nodes);
    }
    a->n_nodes = n_nodes, a->est = est, a->chmean = channel_mean != 0;
    *out = a;
    return RS_OK;
}

void rs_accum_free(rs_accum *a) {
    if (!a) return;
    for (int32_t k = 0; k < a->n_nodes; k++) {
        rs_free(a->node[k].mean), rs_free(a->node[k].m2);
        free(a->node[k].keep);
    }
    rs_free(a->node), rs_free(a->scratch), rs_free(a);
}

/* The representation of n images of src (dtype t, numel values each) into dst (n, N) doubles: as given, or the
 * channel means (float input: rounded to float like rep_get). */
static void to_rep(double *dst, const void *src, int32_t t, int64_t n, const accum_node *q, int32_t chmean) {
    int64_t N = q->numel;
    if (!chmean) {
        for (int64_t i = 0; i < n * N; i++) dst[i] = t ? ((const double *)src)[i] : (double)((const float *)src)[i];
        return;
    }
    int64_t C = q->channels, S = N / C;
    for (int64_t p = 0; p < n; p++)
        for (int64_t s = 0; s < S; s++) {
            double sum = 0;
            for (int64_t c = 0; c < C; c++) {
                int64_t at = p * N + (q->channels_last ? s * C + c : c * S + s);
                sum += t ? ((const double *)src)[at] : (double)((const float *)src)[at];
            }
            dst[p * S + s] = t ? sum / (double)C : (double)(float)(sum / (double)C);
        }
}

static rs_status check_batch(rs_accum *a, int32_t k, int32_t dtype, int64_t n, int64_t numel, int64_t channels,
                             int32_t channels_last) {
    if (k < 0 || k >= a->n_nodes) return rs_error(RS_ERR_ARG, "node %d is not one of the accumulator's %d", k, a->n_nodes);
    if (dtype != 0 && dtype != 1) return rs_error(RS_ERR_ARG, "dtype must be 0 (float32) or 1 (float64), got %d", dtype);
    if (n < 1) return rs_error(RS_ERR_ARG, "an empty batch (0 images)");
    if (numel < 1) return rs_error(RS_ERR_ARG, "a representation needs at least one value per image");
    if (a->chmean && (channels < 1 || numel % channels))
        return rs_error(RS_ERR_ARG, "channel mean: %lld values per image are not a multiple of %lld channels",
                        (long long)numel, (long long)channels);
    accum_node *q = &a->node[k];
    if (q->n && (q->numel != numel || q->dtype != dtype || (a->chmean && (q->channels != channels ||
                                                                         q->channels_last != channels_last))))
        return rs_error(RS_ERR_ARG, "node %d: this batch has %lld values per image (%s), the earlier ones %lld (%s)",
                        k, (long long)numel, dtype ? "float64" : "float32", (long long)q->numel,
                        q->dtype ? "float64" : "float32");
    size_t bytes;
    if (rs_mul_size((size_t)n, (size_t)numel, &bytes) || rs_mul_size(bytes, 3 * sizeof(double), &bytes))
        return rs_error(RS_ERR_NOMEM, "a batch of %lld x %lld values is too large", (long long)n, (long long)numel);
    if (bytes > a->scratch_len) {
        rs_free(a->scratch);
        a->scratch = rs_alloc(bytes);
        a->scratch_len = a->scratch ? bytes : 0;
        if (!a->scratch) return rs_error(RS_ERR_NOMEM, "out of memory for a batch (%zu MB)", bytes >> 20);
    }
    return RS_OK;
}

/* The first batch of a node fixes its sizes and allocates the mean estimator's state. */
static rs_status node_start(rs_accum *a, accum_node *q, int32_t dtype, int64_t numel, int64_t channels,
                            int32_t channels_last) {
    q->numel = numel, q->dtype = dtype, q->channels = a->chmean ? channels : 1, q->channels_last = channels_last;
    if (a->est != RS_EST_MEAN) return RS_OK;
    int64_t N = a->chmean ? numel / channels : numel;
    q->mean = rs_calloc((size_t)N * sizeof(double)), q->m2 = rs_calloc((size_t)N * sizeof(double));
    if (!q->mean || !q->m2) return rs_error(RS_ERR_NOMEM, "out of memory for %lld values per image", (long long)N);
    return RS_OK;
}

static double sqdist(const double *x, const double *y, int64_t N) {
    double s = 0;
    for (int64_t j = 0; j < N; j++) {
        double t = x[j] - y[j];
        s += t * t;
    }
    return s;
}

/* ||y - x||^2 summed as the mean estimator of rs_measure sums it (blocks of SENS_BLK, in order). */
static double sqdist_blocked(const double *y, const double *x, int64_t N) {
    double s = 0;
    for (int64_t j0 = 0; j0 < N; j0 += SENS_BLK) s += sens_sqdist_d(y, x, j0, j0 + SENS_BLK < N ? j0 + SENS_BLK : N);
    return s;
}

static void mean_add(accum_node *q, const double *x, const double *xd, const double *xn, int64_t n, int64_t N) {
    const int64_t blk = 1024;
#pragma omp parallel for schedule(static) if (n * N > 32768)
    for (int64_t j0 = 0; j0 < N; j0 += blk) { /* Welford per value, images in order */
        int64_t j1 = j0 + blk < N ? j0 + blk : N;
        for (int64_t p = 0; p < n; p++) {
            double inv = 1.0 / (double)(q->n + p + 1);
            for (int64_t j = j0; j < j1; j++) {
                double v = x[p * N + j], delta = v - q->mean[j];
                q->mean[j] += delta * inv;
                q->m2[j] += delta * (v - q->mean[j]);
            }
        }
    }
    for (int64_t p = 0; p < n; p++) biv_add(&q->acc, sqdist_blocked(xd + p * N, x + p * N, N), sqdist_blocked(xn + p * N, x + p * N, N));
}

static rs_status median_add(accum_node *q, const double *rep, int64_t n, int64_t N) {
    if (q->n + n > q->cap) { /* (3, cap, N) regrown with the three parts moved */
        int64_t cap = q->cap ? q->cap : 16;
        while (cap < q->n + n) cap *= 2;
        size_t bytes;
        if (rs_mul_size((size_t)cap, (size_t)N, &bytes) || rs_mul_size(bytes, 3 * sizeof(double), &bytes))
            return rs_error(RS_ERR_NOMEM, "the median estimator cannot hold %lld images", (long long)cap);
        double *keep = malloc(bytes);
        if (!keep) return rs_error(RS_ERR_NOMEM, "the median estimator needs %zu MB to hold the representations", bytes >> 20);
        for (int i = 0; i < 3 && q->n; i++)
            memcpy(keep + (size_t)i * cap * N, q->keep + (size_t)i * q->cap * N, (size_t)(q->n * N) * sizeof(double));
        free(q->keep);
        q->keep = keep, q->cap = cap;
    }
    for (int i = 0; i < 3; i++)
        memcpy(q->keep + ((size_t)i * q->cap + q->n) * N, rep + (size_t)i * n * N, (size_t)(n * N) * sizeof(double));
    return RS_OK;
}

rs_status rs_accum_add(rs_accum *a, int32_t k, int32_t dtype, const void *clean, const void *deformed,
                       const void *noisy, int64_t n, int64_t numel, int64_t channels, int32_t channels_last) {
    RS_TRY(check_batch(a, k, dtype, n, numel, channels, channels_last));
    if (!clean || !deformed || !noisy) return rs_error(RS_ERR_ARG, "node %d: a NULL representation", k);
    const void *src[3] = {clean, deformed, noisy};
    const char *what[3] = {"clean", "deformed", "noisy"};
    for (int i = 0; i < 3; i++) /* nothing is accumulated from a batch with a NaN or an infinity */
        for (int64_t j = 0; j < n * numel; j++) {
            double v = dtype ? ((const double *)src[i])[j] : (double)((const float *)src[i])[j];
            if (!isfinite(v))
                return rs_error(RS_ERR_NUMERIC, "node %d: the %s representation of image %lld has a non-finite value "
                                "(%g at position %lld)", k, what[i], (long long)(j / numel), v, (long long)(j % numel));
        }
    accum_node *q = &a->node[k];
    if (!q->n) RS_TRY(node_start(a, q, dtype, numel, channels, channels_last));
    int64_t N = a->chmean ? numel / q->channels : numel;
    double *rep = a->scratch; /* (3, n, N) */
    for (int i = 0; i < 3; i++) to_rep(rep + (size_t)i * n * N, src[i], dtype, n, q, a->chmean);
    if (a->est == RS_EST_MEAN) mean_add(q, rep, rep + n * N, rep + 2 * n * N, n, N);
    else RS_TRY(median_add(q, rep, n, N));
    q->n += n;
    return RS_OK;
}

int64_t rs_accum_count(const rs_accum *a, int32_t k) { return k >= 0 && k < a->n_nodes ? a->node[k].n : -1; }

/* median.c's denominator: the lower median of the P^2 squared distances between the rows of x (P, N), + 1e-10. */
static rs_status median_deno(const double *x, int64_t P, int64_t N, double *out) {
    int64_t M = P * P, m = (M - 1) / 2;
    if (m < P) { /* at least half of the P^2 values are the diagonal zeros */
        *out = 1e-10;
        return RS_OK;
    }
    size_t npairs = (size_t)(P * (P - 1) / 2);
    double *v = rs_alloc(npairs * sizeof(double));
    if (!v) return rs_error(RS_ERR_NOMEM, "the median estimator needs %zu MB for the pair distances of P = %lld",
                            (npairs * sizeof(double)) >> 20, (long long)P);
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t p = 0; p < P; p++)
        for (int64_t q = p + 1; q < P; q++) v[(size_t)(p * (2 * P - p - 1) / 2) + (size_t)(q - p - 1)] = sqdist(x + p * N, x + q * N, N);
    double med = lower_median_rank(v, (int64_t)npairs, (m - P) / 2);
    rs_free(v);
    *out = med + 1e-10;
    return RS_OK;
}

/* sum_j lower median over p of (y[p, j] - x[p, j])^2. */
static rs_status median_num(const double *x, const double *y, int64_t P, int64_t N, double *out) {
    double *v = rs_alloc((size_t)P * sizeof(double));
    if (!v) return rs_error(RS_ERR_NOMEM, "out of memory (median over %lld images)", (long long)P);
    double s = 0;
    for (int64_t j = 0; j < N; j++) {
        for (int64_t p = 0; p < P; p++) {
            double t = y[p * N + j] - x[p * N + j];
            v[p] = t * t;
        }
        s += lower_median(v, P);
    }
    rs_free(v);
    *out = s;
    return RS_OK;
}

rs_status rs_accum_result(const rs_accum *a, int32_t k, rs_sens *out) {
    if (k < 0 || k >= a->n_nodes) return rs_error(RS_ERR_ARG, "node %d is not one of the accumulator's %d", k, a->n_nodes);
    const accum_node *q = &a->node[k];
    if (!q->n) return rs_error(RS_ERR_ARG, "node %d: no image was added", k);
    memset(out, 0, sizeof *out);
    int64_t N = a->chmean ? q->numel / q->channels : q->numel, P = q->n;
    out->node = k, out->neurons = N, out->op = RS_OP_COUNT;
    if (a->est == RS_EST_MEAN) {
        double sum = 0;
        for (int64_t j = 0; j < N; j++) sum += q->m2[j];
        sens_from_biv(out, &q->acc, 2.0 * sum / (double)P + 1e-10);
    } else {
        const double *x = q->keep, *xd = q->keep + (size_t)q->cap * N, *xn = q->keep + 2 * (size_t)q->cap * N;
        RS_TRY(median_deno(x, P, N, &out->deno));
        RS_TRY(median_num(x, xd, P, N, &out->D_num));
        RS_TRY(median_num(x, xn, P, N, &out->G_num));
        out->D = out->D_num / out->deno, out->G = out->G_num / out->deno, out->R = out->D / out->G;
        out->D_se = out->G_se = out->R_se = NAN;
    }
    /* rs_measure's flags (sensitivity.c) */
    if (!isfinite(out->D_num) || !isfinite(out->G_num) || !isfinite(out->deno)) out->flag = RS_SENS_NAN;
    else if (!(out->deno - 1e-10 > 0) || !(out->G_num > 0)) out->flag = RS_SENS_ZERO_DENOMINATOR;
    else out->flag = RS_SENS_OK;
    return RS_OK;
}

size_t rs_sens_size(void) { return sizeof(rs_sens); }
