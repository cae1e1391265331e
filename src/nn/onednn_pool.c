/* onednn_pool.c: the oneDNN fast path of max and average pooling (forward and backward), NHWC throughout.
 *
 * Max pool in training keeps oneDNN's workspace (the argmax of every output, u8 or s32 per output element) in the
 * caller's `saved` buffer, which rs_maxpool2d_saved_bytes sizes at 4 bytes per output element; it is asserted to
 * fit. That workspace is oneDNN's own format, so `saved` written by the fast forward must be read by the fast
 * backward (the backend is not switched between a forward and its backward). Without `saved` (inference) the
 * forward runs the inference primitive. oneDNN takes the first maximum of a window on ties, like PyTorch. NaN:
 * oneDNN's max ignores it; an input with a NaN has its output recomputed by the reference, which propagates it.
 * Floor mode: the right/bottom padding handed to oneDNN is whatever makes its output size equal h_out, w_out
 * (it may be negative: the last input rows are then not covered, as in PyTorch).
 * Backward ACCUMULATES: oneDNN writes diff_src into scratch, which is added into d_in.
 * Max pooling with a 2x2 window, stride 2 and no padding does not go to oneDNN: pool_2x2.c's plain-C kernel is
 * faster there (its argmax is in the reference's int32 format, and the reference's scatter is its backward).
 * Not here: the reference path, dims validation, adaptive pooling. */
#ifdef RELSTAB_HAVE_ONEDNN
#include <stdlib.h>
#include <string.h>

#include "nn/onednn_internal.h"
#include "nn/ref_internal.h"
#include "relstab/ops.h"

typedef enum { POOL_FWD_INFER = 0, POOL_FWD_TRAIN = 1, POOL_BWD = 2 } pool_kind;

typedef struct {
    rs_pool2d_dims d;
    int32_t alg; /* dnnl_alg_kind_t */
    int32_t kind;
} pool_key;

typedef struct {
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, ws; /* forward: a = src, b = dst; backward: a = diff_dst, b = diff_src */
    size_t ws_bytes, diff_src_bytes;
} pool_entry;

static void pool_destroy(void *v) {
    pool_entry *e = v;
    rs_dnnl_destroy_primitive(e->prim);
    rs_dnnl_destroy_memory(e->a);
    rs_dnnl_destroy_memory(e->b);
    rs_dnnl_destroy_memory(e->ws);
    free(e);
}
static rs_dnnl_cache g_pool_cache = {.destroy = pool_destroy};

typedef struct {
    dnnl_memory_desc_t src, dst;
    dnnl_dims_t strides, kernel, pad_l, pad_r;
} pool_geom;

static void pool_geom_init(pool_geom *g, const rs_pool2d_dims *d) {
    dnnl_dims_t src = {d->n, d->c, d->h_in, d->w_in}, dst = {d->n, d->c, d->h_out, d->w_out};
    rs_dnnl_md(&g->src, 4, src, dnnl_nhwc);
    rs_dnnl_md(&g->dst, 4, dst, dnnl_nhwc);
    g->strides[0] = d->stride_h;
    g->strides[1] = d->stride_w;
    g->kernel[0] = d->kh;
    g->kernel[1] = d->kw;
    g->pad_l[0] = d->pad_h;
    g->pad_l[1] = d->pad_w;
    /* the padding that makes oneDNN's (in + pad_l + pad_r - k) / stride + 1 equal to the floor-mode output size */
    g->pad_r[0] = (int64_t)(d->h_out - 1) * d->stride_h + d->kh - d->h_in - d->pad_h;
    g->pad_r[1] = (int64_t)(d->w_out - 1) * d->stride_w + d->kw - d->w_in - d->pad_w;
}

static dnnl_primitive_desc_t pool_fwd_pd(const pool_geom *g, dnnl_alg_kind_t alg, dnnl_prop_kind_t prop) {
    dnnl_pooling_desc_t pdesc;
    RS_DNNL_CHECK(dnnl_pooling_forward_desc_init(&pdesc, prop, alg, &g->src, &g->dst, g->strides, g->kernel,
                                                 g->pad_l, g->pad_r));
    dnnl_primitive_desc_t pd;
    RS_DNNL_CHECK(dnnl_primitive_desc_create(&pd, &pdesc, NULL, rs_dnnl_engine(), NULL));
    return pd;
}

static pool_entry *pool_get(const rs_pool2d_dims *d, dnnl_alg_kind_t alg, pool_kind kind) {
    pool_key key;
    memset(&key, 0, sizeof key);
    key.d = *d;
    key.alg = (int32_t)alg;
    key.kind = (int32_t)kind;
    pool_entry *e = rs_dnnl_cache_find(&g_pool_cache, &key, sizeof key);
    if (e) return e;
    e = calloc(1, sizeof *e);
    RS_ASSERT(e != NULL);
    pool_geom g;
    pool_geom_init(&g, d);
    dnnl_primitive_desc_t fwd = pool_fwd_pd(&g, alg, kind == POOL_FWD_INFER ? dnnl_forward_inference
                                                                             : dnnl_forward_training);
    int max_train = alg == dnnl_pooling_max && kind != POOL_FWD_INFER;
    if (max_train) {
        const dnnl_memory_desc_t *ws = rs_dnnl_query_md(fwd, dnnl_query_workspace_md);
        e->ws = rs_dnnl_memory(ws);
        e->ws_bytes = dnnl_memory_desc_get_size(ws);
    }
    if (kind == POOL_BWD) {
        dnnl_pooling_desc_t bdesc;
        RS_DNNL_CHECK(dnnl_pooling_backward_desc_init(&bdesc, alg, &g.src, &g.dst, g.strides, g.kernel, g.pad_l,
                                                      g.pad_r));
        dnnl_primitive_desc_t bwd;
        RS_DNNL_CHECK(dnnl_primitive_desc_create(&bwd, &bdesc, NULL, rs_dnnl_engine(), fwd));
        e->prim = rs_dnnl_primitive(bwd);
        RS_DNNL_CHECK(dnnl_primitive_desc_destroy(bwd));
        e->a = rs_dnnl_memory(&g.dst);
        e->b = rs_dnnl_memory(&g.src);
        e->diff_src_bytes = dnnl_memory_desc_get_size(&g.src);
    } else {
        e->prim = rs_dnnl_primitive(fwd);
        e->a = rs_dnnl_memory(&g.src);
        e->b = rs_dnnl_memory(&g.dst);
    }
    RS_DNNL_CHECK(dnnl_primitive_desc_destroy(fwd));
    rs_dnnl_cache_put(&g_pool_cache, &key, sizeof key, e);
    return e;
}

static void pool_forward(float *out, void *saved, const float *in, const rs_pool2d_dims *d, dnnl_alg_kind_t alg) {
    pool_entry *e = pool_get(d, alg, saved ? POOL_FWD_TRAIN : POOL_FWD_INFER);
    rs_dnnl_bind(e->a, in);
    rs_dnnl_bind(e->b, out);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->a}, {DNNL_ARG_DST, e->b}, {DNNL_ARG_WORKSPACE, e->ws}};
    int nargs = 2;
    if (e->ws) {
        RS_ASSERT(e->ws_bytes <= rs_maxpool2d_saved_bytes(d));
        rs_dnnl_bind(e->ws, saved);
        nargs = 3;
    }
    rs_dnnl_run(e->prim, nargs, args);
}

/* d_in (N, H, W, C) += oneDNN's diff_src, computed into scratch slot 0. */
static void pool_backward(float *d_in, const float *d_out, const void *saved, const rs_pool2d_dims *d,
                          dnnl_alg_kind_t alg) {
    pool_entry *e = pool_get(d, alg, POOL_BWD);
    float *diff_src = rs_dnnl_scratch(0, e->diff_src_bytes); // (N, H, W, C)
    rs_dnnl_bind(e->a, d_out);
    rs_dnnl_bind(e->b, diff_src);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, e->a}, {DNNL_ARG_DIFF_SRC, e->b}, {DNNL_ARG_WORKSPACE, e->ws}};
    int nargs = 2;
    if (e->ws) {
        RS_ASSERT(saved != NULL && e->ws_bytes <= rs_maxpool2d_saved_bytes(d));
        rs_dnnl_bind(e->ws, saved);
        nargs = 3;
    }
    rs_dnnl_run(e->prim, nargs, args);
    rs_dnnl_add(d_in, diff_src, (int64_t)(e->diff_src_bytes / sizeof(float)));
}

/* Whether x (n floats) holds a NaN: one vectorised pass (OpenMP above RS_DNNL_PAR_MIN). */
static int any_nan(const float *x, int64_t n) {
    int found = 0;
    if (n < RS_DNNL_PAR_MIN) {
#pragma omp simd reduction(| : found)
        for (int64_t i = 0; i < n; i++) found |= x[i] != x[i];
        return found;
    }
#pragma omp parallel for simd schedule(static) reduction(| : found)
    for (int64_t i = 0; i < n; i++) found |= x[i] != x[i];
    return found;
}

void rs_maxpool2d_forward_fast(float *out, void *saved, const float *in, const rs_pool2d_dims *d) {
    if (rs_maxpool2d_is_2x2(d)) { /* pool_2x2.c: faster than oneDNN's here, NaN handled as the reference */
        rs_maxpool2d_2x2_forward(out, saved, in, d);
        return;
    }
    pool_forward(out, saved, in, d, dnnl_pooling_max);
    /* oneDNN's max skips NaN (an all-NaN window gives -FLT_MAX); PyTorch and the reference propagate it. When the
     * input holds a NaN, the output is recomputed by the reference, which equals oneDNN's bit for bit elsewhere;
     * oneDNN's workspace is kept, so a backward routes a NaN window's gradient to its largest non-NaN element. */
    if (any_nan(in, (int64_t)d->n * d->h_in * d->w_in * d->c)) rs_maxpool2d_forward_ref(out, NULL, in, d);
}

void rs_maxpool2d_backward_fast(float *d_in, const float *d_out, const void *saved, const rs_pool2d_dims *d) {
    if (rs_maxpool2d_is_2x2(d)) { /* the argmax of pool_2x2.c is in the reference's format */
        rs_maxpool2d_backward_ref(d_in, d_out, saved, d);
        return;
    }
    pool_backward(d_in, d_out, saved, d, dnnl_pooling_max);
}

static dnnl_alg_kind_t avg_alg(const rs_pool2d_dims *d) {
    return d->count_include_pad ? dnnl_pooling_avg_include_padding : dnnl_pooling_avg_exclude_padding;
}

void rs_avgpool2d_forward_fast(float *out, const float *in, const rs_pool2d_dims *d) {
    pool_forward(out, NULL, in, d, avg_alg(d));
}

void rs_avgpool2d_backward_fast(float *d_in, const float *d_out, const rs_pool2d_dims *d) {
    pool_backward(d_in, d_out, NULL, d, avg_alg(d));
}
#else
typedef int rs_onednn_pool_empty; /* this build has no oneDNN: onednn.c maps the fast path to the reference */
#endif
