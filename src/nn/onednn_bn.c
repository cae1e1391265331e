/* onednn_bn.c: the oneDNN fast path of batch normalisation over (rows, C), rows = N*H*W of NHWC activations.
 *
 * The data is described to oneDNN as a 1 x C x rows x 1 NHWC tensor, which is the same bytes as (rows, C).
 * Forward: TRAIN and BATCHSTAT run the training primitive (batch mean and biased variance as outputs); TRAIN then
 * updates the running statistics here in C as PyTorch does: r = (1 - momentum) r + momentum s, with the unbiased
 * variance s = var * rows / (rows - 1). EVAL runs the inference primitive with the running statistics
 * (use_global_stats). save_mean and save_invstd = 1 / sqrt(var + eps) are the statistics that were used.
 * Backward: the backward primitive takes a variance and an epsilon, but only save_invstd is passed down; it is
 * given var = 1 / invstd^2 with epsilon 0, which gives back invstd to a couple of float roundings. EVAL backward
 * uses use_global_stats (the statistics are constants). Backward ACCUMULATES: d_in, d_gamma and d_beta are
 * computed into scratch and added. A NULL gamma (beta) acts as ones (zeros).
 * Not here: the reference path, the dispatcher, the elementwise activations. */
#ifdef RELSTAB_HAVE_ONEDNN
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/onednn_internal.h"
#include "relstab/ops.h"

typedef struct {
    int64_t rows;
    int32_t c;
    int32_t kind; /* 0 forward training, 1 forward inference (global stats), 2 backward, 3 backward global */
    float eps;
    int32_t pad_;
} bn_key;

typedef struct {
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst, mean, var, scale, shift, diff_dst, diff_src, diff_scale, diff_shift;
} bn_entry;

static void bn_destroy(void *v) {
    bn_entry *e = v;
    rs_dnnl_destroy_primitive(e->prim);
    dnnl_memory_t ms[] = {e->src,      e->dst,      e->mean,       e->var,       e->scale,
                          e->shift,    e->diff_dst, e->diff_src,   e->diff_scale, e->diff_shift};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) rs_dnnl_destroy_memory(ms[i]);
    free(e);
}
static rs_dnnl_cache g_bn_cache = {.destroy = bn_destroy};

static const unsigned BN_AFFINE = dnnl_use_scale | dnnl_use_shift;

static bn_entry *bn_get(int64_t rows, int32_t c, int kind, float eps) {
    bn_key key;
    memset(&key, 0, sizeof key);
    key.rows = rows;
    key.c = c;
    key.kind = kind;
    key.eps = eps;
    bn_entry *e = rs_dnnl_cache_find(&g_bn_cache, &key, sizeof key);
    if (e) return e;
    e = calloc(1, sizeof *e);
    RS_ASSERT(e != NULL);
    dnnl_memory_desc_t data, stat;
    dnnl_dims_t dd = {1, c, rows, 1}, sd = {c};
    rs_dnnl_md(&data, 4, dd, dnnl_nhwc);
    rs_dnnl_md(&stat, 1, sd, dnnl_x);
    int global = kind == 1 || kind == 3;
    unsigned flags = BN_AFFINE | (global ? dnnl_use_global_stats : 0u);
    dnnl_batch_normalization_desc_t fd;
    RS_DNNL_CHECK(dnnl_batch_normalization_forward_desc_init(
        &fd, kind == 1 ? dnnl_forward_inference : dnnl_forward_training, &data, eps, flags));
    dnnl_primitive_desc_t fwd;
    RS_DNNL_CHECK(dnnl_primitive_desc_create(&fwd, &fd, NULL, rs_dnnl_engine(), NULL));
    if (kind >= 2) {
        dnnl_batch_normalization_desc_t bd;
        RS_DNNL_CHECK(dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &data, &data, eps, flags));
        dnnl_primitive_desc_t bwd;
        RS_DNNL_CHECK(dnnl_primitive_desc_create(&bwd, &bd, NULL, rs_dnnl_engine(), fwd));
        e->prim = rs_dnnl_primitive(bwd);
        RS_DNNL_CHECK(dnnl_primitive_desc_destroy(bwd));
        e->diff_dst = rs_dnnl_memory(&data);
        e->diff_src = rs_dnnl_memory(&data);
        e->diff_scale = rs_dnnl_memory(&stat);
        e->diff_shift = rs_dnnl_memory(&stat);
    } else {
        e->prim = rs_dnnl_primitive(fwd);
        e->dst = rs_dnnl_memory(&data);
    }
    RS_DNNL_CHECK(dnnl_primitive_desc_destroy(fwd));
    e->src = rs_dnnl_memory(&data);
    e->mean = rs_dnnl_memory(&stat);
    e->var = rs_dnnl_memory(&stat);
    e->scale = rs_dnnl_memory(&stat);
    e->shift = rs_dnnl_memory(&stat); /* backward with use_shift takes it too (unread) */
    rs_dnnl_cache_put(&g_bn_cache, &key, sizeof key, e);
    return e;
}

/* gamma, or ones when gamma is NULL; likewise beta, or zeros. The ones and zeros are written into space. */
static void bn_affine(const float **gamma, const float **beta, int32_t c, float *space /* (2, C) */) {
    if (!*gamma) {
        for (int32_t j = 0; j < c; j++) space[j] = 1.0f;
        *gamma = space;
    }
    if (beta && !*beta) {
        memset(space + c, 0, (size_t)c * sizeof(float));
        *beta = space + c;
    }
}

void rs_batchnorm_forward_fast(float *out, float *save_mean, float *save_invstd, const float *in,
                               const float *gamma, const float *beta, float *running_mean, float *running_var,
                               int64_t rows, int32_t c, float eps, float momentum, rs_bn_mode mode) {
    int eval = mode == RS_BN_EVAL;
    bn_entry *e = bn_get(rows, c, eval ? 1 : 0, eps);
    float *space = rs_dnnl_scratch(1, 4 * (size_t)c * sizeof(float)); // (4, C): ones, zeros, mean, var
    bn_affine(&gamma, &beta, c, space);
    float *mean = eval ? running_mean : (save_mean ? save_mean : space + 2 * (size_t)c); // (C)
    float *var = eval ? running_var : space + 3 * (size_t)c;                           // (C)
    rs_dnnl_bind(e->src, in);
    rs_dnnl_bind(e->dst, out);
    rs_dnnl_bind(e->mean, mean);
    rs_dnnl_bind(e->var, var);
    rs_dnnl_bind(e->scale, gamma);
    rs_dnnl_bind(e->shift, beta);
    dnnl_exec_arg_t args[6] = {{DNNL_ARG_SRC, e->src},   {DNNL_ARG_DST, e->dst},     {DNNL_ARG_MEAN, e->mean},
                               {DNNL_ARG_VARIANCE, e->var}, {DNNL_ARG_SCALE, e->scale}, {DNNL_ARG_SHIFT, e->shift}};
    rs_dnnl_run(e->prim, 6, args);
    for (int32_t j = 0; j < c; j++) {
        if (save_mean && mean != save_mean) save_mean[j] = mean[j];
        if (save_invstd) save_invstd[j] = (float)(1.0 / sqrt((double)var[j] + (double)eps));
    }
    if (mode == RS_BN_TRAIN && running_mean && running_var) {
        double unbias = rows > 1 ? (double)rows / (double)(rows - 1) : 1.0;
        for (int32_t j = 0; j < c; j++) {
            running_mean[j] = (float)((1.0 - momentum) * running_mean[j] + (double)momentum * mean[j]);
            running_var[j] = (float)((1.0 - momentum) * running_var[j] + (double)momentum * var[j] * unbias);
        }
    }
}

void rs_batchnorm_backward_fast(float *d_in, float *d_gamma, float *d_beta, const float *d_out, const float *in,
                                const float *gamma, const float *save_mean, const float *save_invstd,
                                int64_t rows, int32_t c, rs_bn_mode mode) {
    if (!d_in && !d_gamma && !d_beta) return;
    bn_entry *e = bn_get(rows, c, mode == RS_BN_EVAL ? 3 : 2, 0.0f);
    float *space = rs_dnnl_scratch(1, 5 * (size_t)c * sizeof(float)); // (5, C): ones, zeros, var, d_gamma, d_beta
    const float *beta = NULL;
    bn_affine(&gamma, &beta, c, space);
    float *var = space + 2 * (size_t)c, *dg = space + 3 * (size_t)c, *db = space + 4 * (size_t)c;
    for (int32_t j = 0; j < c; j++) var[j] = (float)(1.0 / ((double)save_invstd[j] * save_invstd[j]));
    float *diff_src = rs_dnnl_scratch(0, (size_t)rows * c * sizeof(float)); // (rows, C)
    rs_dnnl_bind(e->src, in);
    rs_dnnl_bind(e->mean, save_mean);
    rs_dnnl_bind(e->var, var);
    rs_dnnl_bind(e->scale, gamma);
    rs_dnnl_bind(e->shift, beta);
    rs_dnnl_bind(e->diff_dst, d_out);
    rs_dnnl_bind(e->diff_src, diff_src);
    rs_dnnl_bind(e->diff_scale, dg);
    rs_dnnl_bind(e->diff_shift, db);
    dnnl_exec_arg_t args[9] = {{DNNL_ARG_SRC, e->src},           {DNNL_ARG_MEAN, e->mean},
                               {DNNL_ARG_VARIANCE, e->var},      {DNNL_ARG_SCALE, e->scale},
                               {DNNL_ARG_SHIFT, e->shift},       {DNNL_ARG_DIFF_DST, e->diff_dst},
                               {DNNL_ARG_DIFF_SRC, e->diff_src}, {DNNL_ARG_DIFF_SCALE, e->diff_scale},
                               {DNNL_ARG_DIFF_SHIFT, e->diff_shift}};
    rs_dnnl_run(e->prim, 9, args);
    if (d_in) rs_dnnl_add(d_in, diff_src, rows * c);
    for (int32_t j = 0; j < c; j++) {
        if (d_gamma) d_gamma[j] += dg[j];
        if (d_beta) d_beta[j] += db[j];
    }
}
#else
typedef int rs_onednn_bn_empty; /* this build has no oneDNN: onednn.c maps the fast path to the reference */
#endif
