/* laplacian.c: the frequency content of conv filters (SPEC 4.2.2): the eigenvectors psi_j of the Laplacian of
 * the kh x kw grid graph (4-neighbour, free boundary; the path graph for 1-D filters), by cyclic Jacobi rotations,
 * and the projections omega_j = mean_i <w_i, psi_j>^2 of a layer's filters on them. The constant filter is the
 * lambda = 0 mode; weight on the low-lambda modes means spatially smooth (pooling-like) filters.
 * It is not a general eigen-solver: Jacobi is meant for the few-dozen-row matrices of filter grids. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/measure.h"

/* Applies the rotation in the (p, q) plane that zeroes a[p][q] to a (n, n) and to the columns of v. */
static void jacobi_rotate(double *a, double *v, int32_t n, int32_t p, int32_t q) {
    double apq = a[p * n + q];
    double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
    double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
    double c = 1 / sqrt(t * t + 1), s = t * c;
    for (int32_t k = 0; k < n; k++) { /* a <- a J */
        double akp = a[k * n + p], akq = a[k * n + q];
        a[k * n + p] = c * akp - s * akq;
        a[k * n + q] = s * akp + c * akq;
    }
    for (int32_t k = 0; k < n; k++) { /* a <- J^T a */
        double apk = a[p * n + k], aqk = a[q * n + k];
        a[p * n + k] = c * apk - s * aqk;
        a[q * n + k] = s * apk + c * aqk;
    }
    a[p * n + q] = a[q * n + p] = 0;
    for (int32_t k = 0; k < n; k++) { /* v <- v J */
        double vkp = v[k * n + p], vkq = v[k * n + q];
        v[k * n + p] = c * vkp - s * vkq;
        v[k * n + q] = s * vkp + c * vkq;
    }
}

typedef struct {
    double val;
    int32_t col;
} eig_ref;

static int cmp_eig(const void *x, const void *y) {
    const eig_ref *a = x, *b = y;
    if (a->val != b->val) return a->val < b->val ? -1 : 1;
    return a->col - b->col;
}

rs_status rs_jacobi_eigen(double *a, int32_t n, double *evals, double *evecs) {
    if (n < 1 || n > RS_JACOBI_MAX) return rs_error(RS_ERR_ARG, "Jacobi: matrix size %d outside 1..%d", n, RS_JACOBI_MAX);
    double *v = calloc((size_t)n * n, sizeof(double));
    eig_ref *e = malloc((size_t)n * sizeof(eig_ref));
    if (!v || !e) {
        free(v), free(e);
        return rs_error(RS_ERR_NOMEM, "Jacobi: out of memory");
    }
    for (int32_t i = 0; i < n; i++) v[i * n + i] = 1;
    double total = 0;
    for (int32_t i = 0; i < n * n; i++) total += a[i] * a[i];
    int converged = 0;
    for (int sweep = 0; sweep < 100 && !converged; sweep++) {
        double off = 0;
        for (int32_t p = 0; p < n; p++)
            for (int32_t q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
        if (off <= 1e-32 * total || off == 0) {
            converged = 1;
            break;
        }
        for (int32_t p = 0; p < n; p++)
            for (int32_t q = p + 1; q < n; q++)
                if (a[p * n + q] != 0) jacobi_rotate(a, v, n, p, q);
    }
    if (!converged) {
        free(v), free(e);
        return rs_error(RS_ERR_NUMERIC, "Jacobi: no convergence after 100 sweeps (is the matrix symmetric?)");
    }
    for (int32_t i = 0; i < n; i++) e[i] = (eig_ref){a[i * n + i], i};
    qsort(e, (size_t)n, sizeof *e, cmp_eig);
    for (int32_t j = 0; j < n; j++) {
        evals[j] = e[j].val;
        double norm = 0, big = 0;
        for (int32_t k = 0; k < n; k++) norm += v[k * n + e[j].col] * v[k * n + e[j].col];
        norm = sqrt(norm);
        for (int32_t k = 0; k < n; k++) big = fmax(big, fabs(v[k * n + e[j].col]));
        int32_t lead = 0;
        while (fabs(v[lead * n + e[j].col]) < big * (1 - 1e-9)) lead++;
        double sign = v[lead * n + e[j].col] < 0 ? -1.0 : 1.0;
        for (int32_t k = 0; k < n; k++) evecs[j * n + k] = sign * v[k * n + e[j].col] / norm;
    }
    free(v), free(e);
    return RS_OK;
}

rs_status rs_grid_laplacian_eigen(int32_t kh, int32_t kw, double *lambda, double *psi) {
    if (kh < 1 || kw < 1 || (int64_t)kh * kw > RS_JACOBI_MAX)
        return rs_error(RS_ERR_ARG, "grid Laplacian: a %dx%d grid is outside 1..%d nodes", kh, kw, RS_JACOBI_MAX);
    int32_t n = kh * kw;
    double *L = calloc((size_t)n * n, sizeof(double));
    if (!L) return rs_error(RS_ERR_NOMEM, "grid Laplacian: out of memory");
    for (int32_t y = 0; y < kh; y++)
        for (int32_t x = 0; x < kw; x++) {
            int32_t i = y * kw + x, nb[4][2] = {{y - 1, x}, {y + 1, x}, {y, x - 1}, {y, x + 1}};
            for (int k = 0; k < 4; k++) {
                if (nb[k][0] < 0 || nb[k][0] >= kh || nb[k][1] < 0 || nb[k][1] >= kw) continue;
                L[i * n + nb[k][0] * kw + nb[k][1]] = -1;
                L[i * n + i] += 1;
            }
        }
    rs_status s = rs_jacobi_eigen(L, n, lambda, psi);
    free(L);
    /* L is positive semi-definite with the constant vector in its kernel: the rounding residue of lambda_0 (~1e-16)
     * is set to the exact 0 */
    if (!s && fabs(lambda[0]) < 1e-12 * n) lambda[0] = 0;
    return s;
}

void rs_spectra_free(rs_spectrum *s, int32_t n) {
    for (int32_t i = 0; s && i < n; i++) {
        rs_free(s[i].lambda), rs_free(s[i].omega), rs_free(s[i].omega_norm), rs_free(s[i].omega_level);
        rs_free(s[i].omega_level_norm), rs_free(s[i].level);
    }
    rs_free(s);
}

rs_status rs_filter_spectrum(const float *w, int64_t n_filters, int32_t kh, int32_t kw, rs_spectrum *s) {
    int32_t n = kh * kw;
    if (n_filters < 1) return rs_error(RS_ERR_ARG, "spectrum of %s: no filters", s->layer);
    s->kh = kh, s->kw = kw, s->n = n, s->n_filters = n_filters;
    s->lambda = rs_alloc((size_t)n * sizeof(double));
    s->omega = rs_calloc((size_t)n * sizeof(double));
    s->omega_norm = rs_alloc((size_t)n * sizeof(double));
    s->omega_level = rs_calloc((size_t)n * sizeof(double));
    s->omega_level_norm = rs_alloc((size_t)n * sizeof(double));
    s->level = rs_alloc((size_t)n * sizeof(int32_t));
    double *psi = rs_alloc((size_t)n * n * sizeof(double));
    if (!s->lambda || !s->omega || !s->omega_norm || !s->omega_level || !s->omega_level_norm || !s->level || !psi) {
        rs_free(psi);
        return rs_error(RS_ERR_NOMEM, "spectrum of %s: out of memory", s->layer);
    }
    rs_status st = rs_grid_laplacian_eigen(kh, kw, s->lambda, psi);
    if (st) {
        rs_free(psi);
        return st;
    }
    for (int64_t i = 0; i < n_filters; i++) {
        const float *f = w + i * n;
        for (int32_t j = 0; j < n; j++) {
            double dot = 0;
            for (int32_t k = 0; k < n; k++) dot += (double)f[k] * psi[j * n + k];
            s->omega[j] += dot * dot;
        }
    }
    double total = 0;
    for (int32_t j = 0; j < n; j++) total += (s->omega[j] /= (double)n_filters);
    for (int32_t j = 0; j < n; j++) {
        int same = j > 0 && fabs(s->lambda[j] - s->lambda[j - 1]) <= 1e-9 * fmax(1.0, fabs(s->lambda[j]));
        s->level[j] = j == 0 ? 0 : s->level[j - 1] + !same;
    }
    for (int32_t j = 0; j < n; j++)
        for (int32_t k = 0; k < n; k++)
            if (s->level[k] == s->level[j]) s->omega_level[j] += s->omega[k];
    for (int32_t j = 0; j < n; j++) {
        s->omega_norm[j] = total > 0 ? s->omega[j] / total : NAN;
        s->omega_level_norm[j] = total > 0 ? s->omega_level[j] / total : NAN;
    }
    rs_free(psi);
    return RS_OK;
}

rs_status rs_net_spectra(const rs_net *net, rs_spectrum **out, int32_t *n_out) {
    *out = NULL;
    *n_out = 0;
    const rs_params *ps = &net->params;
    if (!ps->data) return rs_error(RS_ERR_ARG, "the net has no parameters yet");
    rs_spectrum *sp = rs_calloc((size_t)(net->n_nodes > 0 ? net->n_nodes : 1) * sizeof(rs_spectrum));
    char *done = rs_calloc((size_t)(ps->count > 0 ? ps->count : 1));
    if (!sp || !done) {
        rs_free(sp), rs_free(done);
        return rs_error(RS_ERR_NOMEM, "out of memory for the spectra");
    }
    int32_t m = 0;
    rs_status s = RS_OK;
    for (int32_t i = 0; i < net->n_nodes && !s; i++) {
        const rs_node *d = &net->nodes[i];
        int32_t pi = d->param[0];
        if (d->op != RS_OP_CONV2D || pi < 0 || done[pi]) continue;
        done[pi] = 1;
        const rs_param *p = &ps->items[pi];
        if (p->ndim != 3 && p->ndim != 4) continue;
        int32_t kh = p->ndim == 4 ? (int32_t)p->shape[2] : 1, kw = (int32_t)p->shape[p->ndim - 1];
        if ((int64_t)kh * kw < 2) continue; /* a 1 x 1 kernel has no spatial profile */
        snprintf(sp[m].layer, sizeof sp[m].layer, "%s", d->name);
        s = rs_filter_spectrum(rs_param_data(ps, pi), p->shape[0] * p->shape[1], kh, kw, &sp[m]);
        m++;
    }
    rs_free(done);
    if (s) {
        rs_spectra_free(sp, m);
        return s;
    }
    *out = sp;
    *n_out = m;
    return RS_OK;
}
