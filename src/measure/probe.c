/* probe.c: the small pieces of a measurement: default options and their parsers, probe sets (which test images),
 * node lists (which representations) and the representation of a node (the tap, or its mean over channels).
 * It does not perturb images (inputs.c) or accumulate anything (sensitivity.c, median.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "measure/measure_internal.h"

void rs_measure_opts_default(rs_measure_opts *o) {
    memset(o, 0, sizeof *o);
    o->P = 500;
    o->probe = RS_PROBE_SAMPLE;
    o->seeds = 1;
    o->move = RS_MOVE_AUTO;
    o->delta = 1.0;
    o->T = -1.0;
    o->cut = 3;
    o->interp = RS_INTERP_LINEAR;
    o->noise = RS_NOISE_MATCHED;
    o->estimator = RS_EST_MEAN;
    o->mode = RS_MODE_EVAL;
    o->median_mem = 1024.0 * 1024.0 * 1024.0;
}

const char *rs_estimator_name(rs_estimator e) { return e == RS_EST_MEDIAN ? "median" : "mean"; }

rs_status rs_estimator_parse(const char *s, rs_estimator *out) {
    if (!strcmp(s, "mean")) *out = RS_EST_MEAN;
    else if (!strcmp(s, "median")) *out = RS_EST_MEDIAN;
    else return rs_error(RS_ERR_ARG, "estimator '%s' is unknown (mean or median)", s);
    return RS_OK;
}

const char *rs_noise_kind_name(rs_noise_kind k) {
    switch (k) {
    case RS_NOISE_MATCHED: return "matched";
    case RS_NOISE_RECTIFIED: return "rectified";
    case RS_NOISE_NORM: return "norm";
    case RS_NOISE_DIFFEO: return "diffeo";
    }
    return "unknown";
}

rs_status rs_noise_parse(const char *s, rs_noise_kind *kind, double *norm) {
    if (!strcmp(s, "matched")) *kind = RS_NOISE_MATCHED;
    else if (!strcmp(s, "rectified")) *kind = RS_NOISE_RECTIFIED;
    else if (!strcmp(s, "diffeo")) *kind = RS_NOISE_DIFFEO;
    else if (!strncmp(s, "norm=", 5)) {
        char *end;
        double v = strtod(s + 5, &end);
        if (end == s + 5 || *end || !isfinite(v) || v < 0)
            return rs_error(RS_ERR_ARG, "noise '%s': norm=X needs a non-negative number X", s);
        *kind = RS_NOISE_NORM;
        *norm = v;
    } else {
        return rs_error(RS_ERR_ARG, "noise '%s' is unknown (matched, rectified, norm=X or diffeo)", s);
    }
    return RS_OK;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

rs_status rs_probe_select(const rs_dataset *ds, int64_t P, rs_probe_kind kind, uint64_t seed, uint32_t sample,
                          int64_t *out) {
    const char *split = ds->split == RS_SPLIT_TEST ? "test" : ds->split == RS_SPLIT_TRAIN ? "training" : "validation";
    if (P < 1) return rs_error(RS_ERR_ARG, "the probe set needs P >= 1 images, got %lld", (long long)P);
    if (P > ds->n)
        return rs_error(RS_ERR_ARG, "P = %lld is larger than the %lld images of the %s split of %s", (long long)P,
                        (long long)ds->n, split, ds->spec);
    if (kind == RS_PROBE_FIRST) {
        for (int64_t i = 0; i < P; i++) out[i] = i;
        return RS_OK;
    }
    int64_t *perm = rs_alloc((size_t)ds->n * sizeof(int64_t));
    if (!perm) return rs_error(RS_ERR_NOMEM, "out of memory for a probe sample of %lld images", (long long)ds->n);
    rs_permutation(perm, ds->n, seed, rs_stream(RS_PURPOSE_SUBSET, 1, sample));
    memcpy(out, perm, (size_t)P * sizeof(int64_t));
    rs_free(perm);
    qsort(out, (size_t)P, sizeof(int64_t), cmp_i64);
    return RS_OK;
}

/* ---------------------------------------------------------------- node lists */
rs_status rs_measure_default_nodes(const rs_net *net, int32_t **nodes, int32_t *n) {
    *nodes = rs_alloc((size_t)(net->n_nodes > 1 ? net->n_nodes - 1 : 1) * sizeof(int32_t));
    if (!*nodes) return rs_error(RS_ERR_NOMEM, "out of memory for the node list");
    *n = 0;
    for (int32_t i = 0; i < net->n_nodes; i++)
        if (net->nodes[i].op != RS_OP_INPUT) (*nodes)[(*n)++] = i;
    if (*n == 0) {
        rs_free(*nodes);
        *nodes = NULL;
        return rs_error(RS_ERR_ARG, "the net has no node besides its input");
    }
    return RS_OK;
}

/* ---------------------------------------------------------------- representations */
rs_status rep_layout_init(rep_layout *L, const rs_net *net, const int32_t *nodes, int32_t n, int32_t chmean,
                          int32_t aliased) {
    memset(L, 0, sizeof *L);
    L->n_nodes = n;
    L->nodes = nodes;
    L->chmean = chmean;
    L->numel = rs_alloc((size_t)n * sizeof(int64_t));
    L->off = rs_alloc((size_t)n * sizeof(int64_t));
    L->src = rs_alloc((size_t)n * sizeof(int32_t));
    if (!L->numel || !L->off || !L->src) {
        rep_layout_free(L);
        return rs_error(RS_ERR_NOMEM, "out of memory for the node layout");
    }
    for (int32_t k = 0; k < n; k++) {
        RS_ASSERT(nodes[k] >= 0 && nodes[k] < net->n_nodes);
        const rs_node *d = &net->nodes[nodes[k]];
        L->numel[k] = chmean ? (int64_t)d->h * d->w : rs_net_node_numel(net, nodes[k]);
        L->off[k] = L->total;
        L->total += L->numel[k];
        int32_t r = aliased ? rs_inplace_relu_after(net, nodes[k]) : -1;
        L->src[k] = r >= 0 ? r : nodes[k];
    }
    return RS_OK;
}

void rep_layout_free(rep_layout *L) {
    rs_free(L->numel);
    rs_free(L->off);
    rs_free(L->src);
    L->numel = L->off = NULL;
    L->src = NULL;
}

const float *rep_get(const rs_net *net, const rep_layout *L, int32_t k, int32_t n, float *scratch) {
    const rs_node *d = &net->nodes[L->src[k]];
    const float *t = rs_net_tap(net, L->src[k]); // (n, H, W, C)
    if (!L->chmean) return t;
    int64_t hw = (int64_t)d->h * d->w, c = d->c;
#pragma omp parallel for schedule(static) if ((int64_t)n * hw * c > 65536)
    for (int64_t q = 0; q < (int64_t)n * hw; q++) {
        const float *v = t + q * c;
        double s = 0;
        for (int64_t j = 0; j < c; j++) s += v[j];
        scratch[q] = (float)(s / (double)c);
    }
    return scratch;
}

/* ---------------------------------------------------------------- medians */
static void swap_d(double *a, double *b) {
    double t = *a;
    *a = *b;
    *b = t;
}

/* Quickselect (median-of-three pivot, Hoare-style partition): the k-th smallest of v[0..n), v reordered. */
static double select_kth(double *v, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (hi > lo) {
        int64_t mid = lo + (hi - lo) / 2;
        if (v[mid] < v[lo]) swap_d(&v[mid], &v[lo]);
        if (v[hi] < v[lo]) swap_d(&v[hi], &v[lo]);
        if (v[hi] < v[mid]) swap_d(&v[hi], &v[mid]);
        double pivot = v[mid];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot) i++;
            while (v[j] > pivot) j--;
            if (i <= j) swap_d(&v[i++], &v[j--]);
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return v[k];
    }
    return v[k];
}

double lower_median(double *v, int64_t n) {
    RS_ASSERT(n > 0);
    return select_kth(v, n, (n - 1) / 2);
}

double lower_median_rank(double *v, int64_t n, int64_t k) {
    RS_ASSERT(n > 0 && k >= 0 && k < n);
    return select_kth(v, n, k);
}
