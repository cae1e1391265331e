/* ops_ext.c: the graph-import ops of nn_ext.h in plain C: an index-table gather and its scatter-add, softmax over
 * groups of elements, an elementwise add / mul with broadcasting through index maps, and the batched matmul that
 * uses the same maps (row start of A, column start of B, strides along the contraction). Sums that a backward
 * reduces over samples (a constant operand's gradient) run in double. Parallel over samples where the samples'
 * writes are disjoint; never approximated. */
#include <math.h>
#include <string.h>

#include "relstab/nn_ext.h"

void rs_gather_forward(float *out, const float *const *src, const int64_t *src_numel, const int32_t *which,
                       const int64_t *off, int64_t n, int64_t per, float fill) {
#pragma omp parallel for schedule(static) if (n * per >= 65536)
    for (int64_t s = 0; s < n; s++) {
        float *y = out + s * per; /* (per) */
        for (int64_t j = 0; j < per; j++)
            y[j] = which[j] < 0 ? fill : src[which[j]][s * src_numel[which[j]] + off[j]];
    }
}

void rs_gather_backward(float *const *d_src, const int64_t *src_numel, const float *d_out, const int32_t *which,
                        const int64_t *off, int64_t n, int64_t per) {
#pragma omp parallel for schedule(static) if (n * per >= 65536)
    for (int64_t s = 0; s < n; s++) {
        const float *dy = d_out + s * per; /* (per) */
        for (int64_t j = 0; j < per; j++) {
            int32_t k = which[j];
            if (k >= 0 && d_src[k]) d_src[k][s * src_numel[k] + off[j]] += dy[j];
        }
    }
}

void rs_softmax_forward(float *out, const float *in, const int64_t *idx, int64_t n, int64_t per, int64_t groups,
                        int64_t len) {
#pragma omp parallel for schedule(static) if (n * per >= 65536)
    for (int64_t s = 0; s < n; s++) {
        const float *x = in + s * per;
        float *y = out + s * per;
        for (int64_t g = 0; g < groups; g++) {
            const int64_t *ix = idx + g * len; /* (len) */
            float mx = -INFINITY;
            for (int64_t l = 0; l < len; l++) mx = x[ix[l]] > mx ? x[ix[l]] : mx;
            double sum = 0;
            for (int64_t l = 0; l < len; l++) {
                float e = expf(x[ix[l]] - mx);
                y[ix[l]] = e;
                sum += e;
            }
            const float inv = (float)(1.0 / sum);
            for (int64_t l = 0; l < len; l++) y[ix[l]] *= inv;
        }
    }
}

void rs_softmax_backward(float *d_in, const float *d_out, const float *out, const int64_t *idx, int64_t n,
                         int64_t per, int64_t groups, int64_t len) {
#pragma omp parallel for schedule(static) if (n * per >= 65536)
    for (int64_t s = 0; s < n; s++) {
        const float *y = out + s * per, *dy = d_out + s * per;
        float *dx = d_in + s * per;
        for (int64_t g = 0; g < groups; g++) {
            const int64_t *ix = idx + g * len;
            double dot = 0;
            for (int64_t l = 0; l < len; l++) dot += (double)dy[ix[l]] * y[ix[l]];
            for (int64_t l = 0; l < len; l++) dx[ix[l]] += y[ix[l]] * (dy[ix[l]] - (float)dot);
        }
    }
}

/* The matmul kind: out[s, j] = ka sum_t A[ia[j] + t da] B[ib[j] + t db] (sum in double). */
static void matmul_forward(float *out, const float *a, const float *b, const rs_binary_dims *d, int64_t n,
                           int64_t per) {
#pragma omp parallel for schedule(static) if (n * per * d->k >= 65536)
    for (int64_t s = 0; s < n; s++) {
        const float *A = a + s * d->sa, *B = b + s * d->sb;
        for (int64_t j = 0; j < per; j++) {
            const float *x = A + d->ia[j], *w = B + d->ib[j];
            double acc = 0;
            for (int64_t t = 0; t < d->k; t++) acc += (double)x[t * d->da] * w[t * d->db];
            out[s * per + j] = (float)(d->ka * acc);
        }
    }
}

/* Its gradient for one operand (self: map / stride ds / floats per sample sdst; other: omap / os / sother):
 * dst[map[j] + t ds] += ka dy[j] other[omap[j] + t os]. A shared constant (sdst 0) sums over samples in double.
 * Serial: several outputs reach one element. */
static void matmul_grad(float *dst, int64_t sdst, const int64_t *map, int64_t ds, const float *other, int64_t sother,
                        const int64_t *omap, int64_t os, const float *d_out, const rs_binary_dims *d, int64_t n,
                        int64_t per) {
    int64_t m = 0;
    if (sdst == 0)
        for (int64_t j = 0; j < per; j++) m = map[j] + (d->k - 1) * ds + 1 > m ? map[j] + (d->k - 1) * ds + 1 : m;
    double *acc = sdst == 0 ? rs_calloc(sizeof(double) * (size_t)(m ? m : 1)) : NULL;
    RS_ASSERT(sdst != 0 || acc);
    for (int64_t s = 0; s < n; s++)
        for (int64_t j = 0; j < per; j++) {
            double g = (double)d->ka * d_out[s * per + j];
            const float *o = other + s * sother + omap[j];
            if (acc)
                for (int64_t t = 0; t < d->k; t++) acc[map[j] + t * ds] += g * o[t * os];
            else
                for (int64_t t = 0; t < d->k; t++) dst[s * sdst + map[j] + t * ds] += (float)(g * o[t * os]);
        }
    for (int64_t i = 0; acc && i < m; i++) dst[i] += (float)acc[i];
    rs_free(acc);
}

void rs_binary_forward(float *out, const float *a, const float *b, const rs_binary_dims *d, int64_t n, int64_t per) {
    if (d->kind == RS_BIN_MATMUL) {
        matmul_forward(out, a, b, d, n, per);
        return;
    }
#pragma omp parallel for schedule(static) if (n * per >= 65536)
    for (int64_t s = 0; s < n; s++) {
        const float *A = a + s * d->sa, *B = b + s * d->sb;
        float *y = out + s * per;
        for (int64_t j = 0; j < per; j++) {
            float u = d->kind == RS_BIN_CONST ? 0 : A[d->ia ? d->ia[j] : j], v = B[d->ib ? d->ib[j] : j];
            y[j] = d->kind == RS_BIN_ADD ? d->ka * u + d->kb * v
                   : d->kind == RS_BIN_MUL ? d->ka * u * v
                   : d->kind == RS_BIN_DIV ? d->ka * u / v
                                           : v;
        }
    }
}

/* d out / d operand at output j of sample s: add: coef; mul: coef * other; div (ka a / b): ka / b for a and
 * -ka a / b^2 for b (self and other are this operand's and the other operand's values). */
static double partial(const rs_binary_dims *d, int is_b, float coef, float self, float other) {
    if (d->kind == RS_BIN_CONST) return is_b ? 1 : 0;
    if (d->kind == RS_BIN_ADD) return coef;
    if (d->kind == RS_BIN_MUL) return (double)coef * other;
    return is_b ? -(double)d->ka * other / ((double)self * self) : (double)d->ka / other;
}

/* The gradient of one operand: dst[map[j]] += dy[j] * partial. Serial: a map may send several outputs to one
 * element (broadcasting). */
static void binary_grad(float *dst, int64_t sdst, const int64_t *map, const float *self, const float *other,
                        int64_t sother, const int64_t *omap, const float *d_out, const rs_binary_dims *d, float coef,
                        int is_b, int64_t n, int64_t per) {
    if (sdst == 0) { /* a constant: the sum over samples, in double */
        int64_t m = 0;
        for (int64_t j = 0; j < per; j++) m = (map ? map[j] : j) + 1 > m ? (map ? map[j] : j) + 1 : m;
        double *acc = rs_calloc(sizeof(double) * (size_t)(m ? m : 1));
        RS_ASSERT(acc);
        for (int64_t s = 0; s < n; s++)
            for (int64_t j = 0; j < per; j++) {
                int64_t at = map ? map[j] : j;
                acc[at] += d_out[s * per + j] * partial(d, is_b, coef, self[at], other[s * sother + (omap ? omap[j] : j)]);
            }
        for (int64_t i = 0; i < m; i++) dst[i] += (float)acc[i];
        rs_free(acc);
        return;
    }
    for (int64_t s = 0; s < n; s++)
        for (int64_t j = 0; j < per; j++) {
            int64_t at = s * sdst + (map ? map[j] : j);
            dst[at] += (float)(d_out[s * per + j] * partial(d, is_b, coef, self[at], other[s * sother + (omap ? omap[j] : j)]));
        }
}

void rs_binary_backward(float *d_a, float *d_b, const float *d_out, const float *a, const float *b,
                        const rs_binary_dims *d, int64_t n, int64_t per) {
    if (d->kind == RS_BIN_MATMUL) {
        if (d_a) matmul_grad(d_a, d->sa, d->ia, d->da, b, d->sb, d->ib, d->db, d_out, d, n, per);
        if (d_b) matmul_grad(d_b, d->sb, d->ib, d->db, a, d->sa, d->ia, d->da, d_out, d, n, per);
        return;
    }
    if (d_a && d->kind != RS_BIN_CONST) binary_grad(d_a, d->sa, d->ia, a, b, d->sb, d->ib, d_out, d, d->ka, 0, n, per);
    if (d_b) binary_grad(d_b, d->sb, d->ib, b, a, d->sa, d->ia, d_out, d, d->kind == RS_BIN_ADD ? d->kb : d->ka, 1, n, per);
}
