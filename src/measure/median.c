/* median.c: the median estimator of the NeurIPS-2021 code (SPEC 1.4), an option of rs_measure:
 *   D_num = sum_j median_p (f(tau x_p)_j - f(x_p)_j)^2       (a median over images per neuron, summed over neurons)
 *   deno  = median over all P^2 ordered pairs (p, q), the diagonal included, of ||f(x_p) - f(x_q)||^2, + 1e-10
 * with torch.median's convention: the lower of the two middle values when the count is even.
 * Medians cannot be streamed: for each node the P clean and the K x P deformed and noisy representations are held
 * in memory, plus the P(P-1)/2 pair distances (in double). The nodes are processed in chunks whose stored
 * activations, P x neurons x (1 + 2K) floats, fit in the budget (rs_measure_opts.median_mem); each chunk is one
 * pass over the probe set (the inputs are regenerated, bit-identical). A single node larger than the budget is an
 * error that says how much it needs. No standard error over images is given (NaN): with several draws the
 * standard error comes from the spread over draws. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "measure/measure_internal.h"

/* deno: the lower median of the P^2 squared distances between the rows of a (P, N), + 1e-10. */
static rs_status median_deno(const float *a, int64_t P, int64_t N, double *out) {
    int64_t M = P * P, m = (M - 1) / 2;
    if (m < P) { /* at least half of the P^2 values are the diagonal zeros (P <= 2) */
        *out = 1e-10;
        return RS_OK;
    }
    size_t npairs = (size_t)(P * (P - 1) / 2);
    double *v = rs_alloc(npairs * sizeof(double));
    if (!v) return rs_error(RS_ERR_NOMEM, "the median estimator needs %zu MB for the pair distances of P = %lld",
                            (npairs * sizeof(double)) >> 20, (long long)P);
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t p = 0; p < P; p++) {
        double *row = v + (size_t)(p * (2 * P - p - 1) / 2);
        const float *x = a + p * N;
        for (int64_t q = p + 1; q < P; q++) {
            const float *y = a + q * N;
            double s = 0;
            for (int64_t j = 0; j < N; j++) {
                double t = (double)x[j] - (double)y[j];
                s += t * t;
            }
            row[q - p - 1] = s;
        }
    }
    /* sorted, the P^2 values are the P zeros, then every off-diagonal distance twice */
    double med = lower_median_rank(v, (int64_t)npairs, (m - P) / 2);
    rs_free(v);
    *out = med + 1e-10;
    return RS_OK;
}

/* sum_j lower median over p of (b[p, j] - a[p, j])^2, for a, b (P, N); scratch (threads, P). */
static double median_numerator(const float *a, const float *b, int64_t P, int64_t N, double *scratch, double *med) {
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < N; j++) {
        double *v = scratch + (size_t)omp_get_thread_num() * (size_t)P;
        for (int64_t p = 0; p < P; p++) {
            double t = (double)b[p * N + j] - (double)a[p * N + j];
            v[p] = t * t;
        }
        med[j] = lower_median(v, P);
    }
    double s = 0;
    for (int64_t j = 0; j < N; j++) s += med[j];
    return s;
}

/* Nodes [k0, k1) of L: their P clean and K x P perturbed representations, by one pass over the probe set. */
static rs_status collect(rs_net *net, gen *g, const rep_layout *L, int32_t k0, int32_t k1, int32_t batch,
                         rs_mode mode, float *clean, float *pd, float *pn, float *scratch, int64_t *forwarded) {
    int64_t P = g->P, base = L->off[k0], span = (k1 < L->n_nodes ? L->off[k1] : L->total) - base;
    const float *x, *xd[RS_MEASURE_MAX_SEEDS], *xn[RS_MEASURE_MAX_SEEDS];
    for (int64_t pos0 = 0; pos0 < P; pos0 += batch) {
        int32_t n = (int32_t)(P - pos0 < batch ? P - pos0 : batch);
        RS_TRY(gen_batch(g, pos0, n, &x, xd, xn));
        for (int32_t r = -1; r < g->K; r++) {
            const float *in = r < 0 ? x : xd[r];
            for (int32_t half = 0; half < (r < 0 ? 1 : 2); half++) {
                float *dst = r < 0 ? clean : (half ? pn : pd) + (size_t)r * (size_t)P * (size_t)span;
                RS_TRY(rs_net_forward(net, half ? xn[r] : in, n, mode));
                for (int32_t k = k0; k < k1; k++) {
                    const float *rep = rep_get(net, L, k, n, scratch);
                    float *to = dst + (L->off[k] - base) * P + pos0 * L->numel[k];
                    memcpy(to, rep, (size_t)n * (size_t)L->numel[k] * sizeof(float));
                }
            }
        }
        *forwarded += (int64_t)n * (1 + 2 * g->K);
        if (g->bar) rs_bar_update(g->bar, pos0 + n, NULL);
    }
    return RS_OK;
}

/* The chunk starting at k0: as many nodes as fit in mem bytes. */
static rs_status chunk_end(const rs_net *net, const rep_layout *L, int32_t k0, int64_t P, int32_t K, double mem,
                           int32_t *k1) {
    double per = (double)P * (1 + 2.0 * K) * sizeof(float), used = 0;
    int32_t k = k0;
    while (k < L->n_nodes && used + per * (double)L->numel[k] <= mem) used += per * (double)L->numel[k++];
    if (k == k0)
        return rs_error(RS_ERR_NOMEM, "the median estimator needs %.0f MB to hold node %s's activations (P = %lld, "
                                      "%d draw%s) but the budget is %.0f MB: raise --median-mem or lower --P",
                        per * (double)L->numel[k0] / 1048576.0, net->nodes[L->nodes[k0]].name, (long long)P, (int)K,
                        K > 1 ? "s" : "", mem / 1048576.0);
    *k1 = k;
    return RS_OK;
}

rs_status sens_median_pass(rs_net *net, gen *g, const rep_layout *L, int32_t batch, rs_mode mode, double mem,
                           rs_sens *per_seed, int32_t slot0, int64_t *forwarded) {
    int64_t P = g->P, maxn = 1;
    int32_t K = g->K, nn = L->n_nodes;
    for (int32_t k = 0; k < nn; k++) maxn = L->numel[k] > maxn ? L->numel[k] : maxn;
    double *vs = rs_alloc((size_t)omp_get_max_threads() * (size_t)P * sizeof(double));
    double *med = rs_alloc((size_t)maxn * sizeof(double));
    float *scratch = L->chmean ? rs_alloc((size_t)batch * (size_t)maxn * sizeof(float)) : NULL;
    rs_status s = (!vs || !med || (L->chmean && !scratch)) ? rs_error(RS_ERR_NOMEM, "out of memory (median)") : RS_OK;
    for (int32_t k0 = 0, k1 = 0; k0 < nn && !s; k0 = k1) {
        if ((s = chunk_end(net, L, k0, P, K, mem, &k1))) break;
        int64_t span = (k1 < nn ? L->off[k1] : L->total) - L->off[k0];
        size_t one = (size_t)P * (size_t)span * sizeof(float);
        float *clean = rs_alloc(one), *pd = rs_alloc(one * K), *pn = rs_alloc(one * K);
        if (!clean || !pd || !pn) s = rs_error(RS_ERR_NOMEM, "out of memory for %zu MB of activations", (3 * one) >> 20);
        if (!s) s = collect(net, g, L, k0, k1, batch, mode, clean, pd, pn, scratch, forwarded);
        for (int32_t k = k0; k < k1 && !s; k++) {
            int64_t N = L->numel[k], at = (L->off[k] - L->off[k0]) * P;
            double deno = 0;
            if ((s = median_deno(clean + at, P, N, &deno))) break;
            for (int32_t r = 0; r < K; r++) {
                size_t rb = (size_t)r * (size_t)P * (size_t)span + (size_t)at;
                rs_sens *q = &per_seed[(size_t)(slot0 + r) * nn + k];
                q->D_num = median_numerator(clean + at, pd + rb, P, N, vs, med);
                q->G_num = median_numerator(clean + at, pn + rb, P, N, vs, med);
                q->deno = deno;
                q->D = q->D_num / deno, q->G = q->G_num / deno, q->R = q->D / q->G;
                q->D_se = q->G_se = q->R_se = NAN;
            }
        }
        rs_free(clean), rs_free(pd), rs_free(pn);
    }
    rs_free(vs), rs_free(med), rs_free(scratch);
    return s;
}
