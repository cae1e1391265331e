/* onednn_conv.c: the oneDNN fast path of conv2d (forward, backward data, backward weights and bias).
 *
 * Activations stay NHWC (oneDNN's nhwc tag), so they are never reordered; weights arrive in PyTorch's layout
 * (oihw, or goihw for groups > 1, which is the same bytes) and are reordered at each call into the layout the
 * primitive chose (`any`), because they change between calls. Bias is fused in the forward primitive and in the
 * backward-weights primitive. Circular padding is not a oneDNN feature: the input is padded by wrap-around into
 * the workspace and convolved with zero padding; backward folds the padded input's gradient back.
 * Backward ACCUMULATES: oneDNN writes gradients, so they go to scratch and are added (the weight gradient by a
 * reorder with a sum post-op). Primitives are cached by dims (see onednn_internal.h for the rules).
 * Not here: the dispatcher (conv2d.c), dims validation (rs_conv2d_dims_finish), the reference path. */
#ifdef RELSTAB_HAVE_ONEDNN
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/onednn_internal.h"
#include "relstab/ops.h"

static int conv_circular(const rs_conv2d_dims *d) {
    return d->pad_mode == RS_PAD_CIRCULAR &&
           (d->pad_top | d->pad_bottom | d->pad_left | d->pad_right) != 0;
}

/* The memory descriptors and geometry of the primitive for d: with circular padding the source is the padded
 * input and the primitive's own padding is zero. */
typedef struct {
    dnnl_memory_desc_t src, wei_user, wei_any, bias, dst;
    dnnl_dims_t strides, pad_l, pad_r;
    int64_t hp, wp; /* source height and width as the primitive sees them */
} conv_geom;

static void conv_geom_init(conv_geom *g, const rs_conv2d_dims *d) {
    int circ = conv_circular(d);
    g->hp = d->h_in + (circ ? d->pad_top + d->pad_bottom : 0);
    g->wp = d->w_in + (circ ? d->pad_left + d->pad_right : 0);
    dnnl_dims_t src = {d->n, d->c_in, g->hp, g->wp}, dst = {d->n, d->c_out, d->h_out, d->w_out};
    rs_dnnl_md(&g->src, 4, src, dnnl_nhwc);
    rs_dnnl_md(&g->dst, 4, dst, dnnl_nhwc);
    if (d->groups == 1) {
        dnnl_dims_t w = {d->c_out, d->c_in, d->kh, d->kw};
        rs_dnnl_md(&g->wei_user, 4, w, dnnl_oihw);
        rs_dnnl_md(&g->wei_any, 4, w, dnnl_format_tag_any);
    } else {
        int64_t gr = d->groups;
        dnnl_dims_t w = {gr, d->c_out / gr, d->c_in / gr, d->kh, d->kw};
        rs_dnnl_md(&g->wei_user, 5, w, dnnl_goihw);
        rs_dnnl_md(&g->wei_any, 5, w, dnnl_format_tag_any);
    }
    dnnl_dims_t b = {d->c_out};
    rs_dnnl_md(&g->bias, 1, b, dnnl_x);
    g->strides[0] = d->stride_h;
    g->strides[1] = d->stride_w;
    g->pad_l[0] = circ ? 0 : d->pad_top;
    g->pad_l[1] = circ ? 0 : d->pad_left;
    g->pad_r[0] = circ ? 0 : d->pad_bottom;
    g->pad_r[1] = circ ? 0 : d->pad_right;
}

/* Which forward kernel: oneDNN's first choice, or its first kernel that is not brgconv. The fixed rule (never a
 * timing, so that a run and its resumption choose alike): 3x3, stride 1, one group, at least 128 channels in and
 * out, at most 16 output pixels per image (VGG's and ResNet's 4x4 and 2x2 maps on CIFAR). There oneDNN's older
 * jit:avx512_core kernel ran 1.9x faster than brgconv at 512 channels on 4x4 and 2x2 (batch 128, 1 and 2
 * threads), on par at 128 and 256 channels, and slower from 6x6 up (docs/bench.md). Our reading, not measured
 * (no cache counters here): brgconv goes through the whole weight tensor (9.4 MB at 512 channels, far more than
 * the L2 cache) for each image's 16 or 4 pixels. rs_set_conv_kernel(RS_CONV_KERNEL_NOT_BRG) applies it to every
 * shape (tests). The backward of the same shapes runs as GEMMs (onednn_gemmconv.c). */
static rs_conv_kernel g_kernel = RS_CONV_KERNEL_RULE;
void rs_set_conv_kernel(rs_conv_kernel k) { g_kernel = k; }
rs_conv_kernel rs_get_conv_kernel(void) { return g_kernel; }

int rs_dnnl_conv_small_map(const rs_conv2d_dims *d) {
    return d->kh == 3 && d->kw == 3 && d->stride_h == 1 && d->stride_w == 1 && d->groups == 1 &&
           d->c_in >= 128 && d->c_out >= 128 && (int64_t)d->h_out * d->w_out <= 16;
}

static int conv_avoid_brgconv(const rs_conv2d_dims *d) {
    return g_kernel == RS_CONV_KERNEL_NOT_BRG || (g_kernel != RS_CONV_KERNEL_ONEDNN && rs_dnnl_conv_small_map(d));
}

/* The forward primitive descriptor (forward_training, so that it also serves as the backward hint). With
 * avoid_brg, oneDNN's implementations are walked in its order of preference and the first one that is not
 * brgconv taken, unless only the reference kernel is left (then oneDNN's first choice stays). */
static dnnl_primitive_desc_t conv_fwd_pd(const conv_geom *g, int with_bias, int avoid_brg) {
    dnnl_convolution_desc_t cd;
    RS_DNNL_CHECK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct, &g->src,
                                                     &g->wei_any, with_bias ? &g->bias : NULL, &g->dst, g->strides,
                                                     g->pad_l, g->pad_r));
    dnnl_primitive_desc_t pd = NULL;
    if (avoid_brg) {
        dnnl_primitive_desc_iterator_t it;
        RS_DNNL_CHECK(dnnl_primitive_desc_iterator_create(&it, &cd, NULL, rs_dnnl_engine(), NULL));
        do {
            dnnl_primitive_desc_t cand = dnnl_primitive_desc_iterator_fetch(it);
            RS_ASSERT(cand != NULL);
            const char *name = "";
            RS_DNNL_CHECK(dnnl_primitive_desc_query(cand, dnnl_query_impl_info_str, 0, &name));
            if (strncmp(name, "brg", 3) != 0 && strncmp(name, "ref", 3) != 0) {
                pd = cand;
                break;
            }
            RS_DNNL_CHECK(dnnl_primitive_desc_destroy(cand));
        } while (dnnl_primitive_desc_iterator_next(it) == dnnl_success);
        RS_DNNL_CHECK(dnnl_primitive_desc_iterator_destroy(it));
    }
    if (!pd) RS_DNNL_CHECK(dnnl_primitive_desc_create(&pd, &cd, NULL, rs_dnnl_engine(), NULL));
    return pd;
}

/* Row `row` (= n * Hp + y) of the circular padding of in (N, H, W, C) into out (N, Hp, Wp, C). */
static void circular_pad_row(float *out, const float *in, const rs_conv2d_dims *d, int64_t row) {
    int64_t h = d->h_in, w = d->w_in, c = d->c_in;
    int64_t hp = h + d->pad_top + d->pad_bottom, wp = w + d->pad_left + d->pad_right, n = row / hp, y = row % hp;
    int64_t sy = ((y - d->pad_top) % h + h) % h;
    for (int64_t x = 0; x < wp; x++) {
        int64_t sx = ((x - d->pad_left) % w + w) % w;
        memcpy(out + (row * wp + x) * c, in + ((n * h + sy) * w + sx) * c, (size_t)c * sizeof(float));
    }
}

/* in (N, H, W, C) -> out (N, H + top + bottom, W + left + right, C), wrapping around. */
static void circular_pad(float *out, const float *in, const rs_conv2d_dims *d) {
    int64_t rows = (int64_t)d->n * (d->h_in + d->pad_top + d->pad_bottom);
    int64_t size = rows * (d->w_in + d->pad_left + d->pad_right) * d->c_in;
    if (size < RS_DNNL_PAR_MIN) {
        for (int64_t r = 0; r < rows; r++) circular_pad_row(out, in, d, r);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) circular_pad_row(out, in, d, r);
}

/* Row `row` (= n * H + y) of d_in += the fold of d_pad: every padded position adds into the input position it
 * was copied from. The row gathers its own sources, so threads never write the same row. */
static void circular_fold_row(float *d_in, const float *d_pad, const rs_conv2d_dims *d, int64_t row) {
    int64_t h = d->h_in, w = d->w_in, c = d->c_in;
    int64_t hp = h + d->pad_top + d->pad_bottom, wp = w + d->pad_left + d->pad_right, n = row / h, y = row % h;
    for (int64_t x = 0; x < w; x++) {
        float *dst = d_in + (row * w + x) * c;
        for (int64_t py = (y + d->pad_top) % h; py < hp; py += h)
            for (int64_t px = (x + d->pad_left) % w; px < wp; px += w) {
                const float *src = d_pad + ((n * hp + py) * wp + px) * c;
                for (int64_t k = 0; k < c; k++) dst[k] += src[k];
            }
    }
}

/* d_in (N, H, W, C) += the wrap-around fold of d_pad (N, Hp, Wp, C). */
static void circular_fold_add(float *d_in, const float *d_pad, const rs_conv2d_dims *d) {
    int64_t rows = (int64_t)d->n * d->h_in;
    int64_t size = (int64_t)d->n * (d->h_in + d->pad_top + d->pad_bottom) * (d->w_in + d->pad_left + d->pad_right) *
                   d->c_in;
    if (size < RS_DNNL_PAR_MIN) {
        for (int64_t r = 0; r < rows; r++) circular_fold_row(d_in, d_pad, d, r);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) circular_fold_row(d_in, d_pad, d, r);
}

/* ---------------------------------------------------------------- forward */
typedef struct {
    rs_conv2d_dims d;
    int32_t with_bias;
    int32_t backward_flags; /* 0 for forward; bit 0 data, bit 1 weights, bit 2 bias (backward entries) */
    int32_t avoid_brg;      /* forward: conv_avoid_brgconv's answer when the primitive was made */
} conv_key;

typedef struct {
    dnnl_primitive_t conv, wei_reorder; /* wei_reorder NULL when the primitive takes oihw as is */
    dnnl_memory_t src, wei_user, wei, bias, dst;
    size_t wei_bytes, pad_bytes;
    char impl[48]; /* oneDNN's name of the kernel, e.g. "brgconv:avx512_core" */
} conv_fwd;

static void conv_fwd_destroy(void *v) {
    conv_fwd *f = v;
    rs_dnnl_destroy_primitive(f->conv);
    rs_dnnl_destroy_primitive(f->wei_reorder);
    rs_dnnl_destroy_memory(f->src);
    rs_dnnl_destroy_memory(f->wei_user);
    rs_dnnl_destroy_memory(f->wei);
    rs_dnnl_destroy_memory(f->bias);
    rs_dnnl_destroy_memory(f->dst);
    free(f);
}
static rs_dnnl_cache g_fwd_cache = {.destroy = conv_fwd_destroy};

static conv_fwd *conv_fwd_get(const rs_conv2d_dims *d, int with_bias) {
    conv_key key;
    memset(&key, 0, sizeof key);
    key.d = *d;
    key.with_bias = with_bias;
    key.avoid_brg = conv_avoid_brgconv(d);
    conv_fwd *f = rs_dnnl_cache_find(&g_fwd_cache, &key, sizeof key);
    if (f) return f;
    f = calloc(1, sizeof *f);
    RS_ASSERT(f != NULL);
    conv_geom g;
    conv_geom_init(&g, d);
    dnnl_primitive_desc_t pd = conv_fwd_pd(&g, with_bias, key.avoid_brg);
    const char *name = "";
    RS_DNNL_CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name));
    snprintf(f->impl, sizeof f->impl, "%s", name);
    const dnnl_memory_desc_t *wei = rs_dnnl_query_md(pd, dnnl_query_weights_md);
    f->conv = rs_dnnl_primitive(pd);
    f->src = rs_dnnl_memory(&g.src);
    f->dst = rs_dnnl_memory(&g.dst);
    f->bias = rs_dnnl_memory(&g.bias);
    f->wei_user = rs_dnnl_memory(&g.wei_user);
    if (!dnnl_memory_desc_equal(wei, &g.wei_user)) {
        f->wei_reorder = rs_dnnl_reorder(&g.wei_user, wei, 0);
        f->wei = rs_dnnl_memory(wei);
        f->wei_bytes = dnnl_memory_desc_get_size(wei);
    }
    if (conv_circular(d)) f->pad_bytes = dnnl_memory_desc_get_size(&g.src);
    RS_DNNL_CHECK(dnnl_primitive_desc_destroy(pd));
    rs_dnnl_cache_put(&g_fwd_cache, &key, sizeof key, f);
    return f;
}

static rs_workspace g_own_ws; /* used when the caller passes no workspace */

void rs_conv2d_forward_fast(float *out, const float *in, const float *weight, const float *bias,
                            const rs_conv2d_dims *d, rs_workspace *ws) {
    if (rs_dnnl_conv_wino_forward(out, in, weight, bias, d, ws ? ws : &g_own_ws)) return;
    conv_fwd *f = conv_fwd_get(d, bias != NULL);
    size_t off = 0;
    rs_dnnl_carve(NULL, &off, f->pad_bytes);
    rs_dnnl_carve(NULL, &off, f->wei_bytes);
    char *base = rs_workspace_get(ws ? ws : &g_own_ws, off > 64 ? off : 64);
    RS_ASSERT(base != NULL);
    off = 0;
    float *padded = rs_dnnl_carve(base, &off, f->pad_bytes); // (N, Hp, Wp, C_in)
    void *wei_prim = rs_dnnl_carve(base, &off, f->wei_bytes);
    const float *src = in;
    if (f->pad_bytes) {
        circular_pad(padded, in, d);
        src = padded;
    }
    rs_dnnl_bind(f->wei_user, weight);
    dnnl_memory_t wei = f->wei_user;
    if (f->wei_reorder) {
        rs_dnnl_bind(f->wei, wei_prim);
        dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, f->wei_user}, {DNNL_ARG_TO, f->wei}};
        rs_dnnl_run(f->wei_reorder, 2, ra);
        wei = f->wei;
    }
    rs_dnnl_bind(f->src, src);
    rs_dnnl_bind(f->dst, out);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, f->src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, f->dst},
                               {DNNL_ARG_BIAS, f->bias}};
    if (bias) rs_dnnl_bind(f->bias, bias);
    rs_dnnl_run(f->conv, bias ? 4 : 3, args);
}

void rs_conv2d_fast_kernel(char *buf, size_t n, const rs_conv2d_dims *d, int with_bias) {
    if (rs_dnnl_conv_wino_taken(d, with_bias)) {
        snprintf(buf, n, "jit_wino_4x3");
        return;
    }
    snprintf(buf, n, "%s", conv_fwd_get(d, with_bias)->impl);
}

void rs_conv2d_fast_backward_kernel(char *buf, size_t n, const rs_conv2d_dims *d) {
    snprintf(buf, n, "%s", rs_dnnl_conv_gemm_taken(d) ? "im2col+sgemm" : "oneDNN backward primitives");
}

/* ---------------------------------------------------------------- backward */
typedef struct {
    /* backward data: d_src = conv^T(d_dst, W), W reordered to the primitive's layout */
    dnnl_primitive_t bwd_data, wei_reorder;
    dnnl_memory_t diff_dst, wei_user, wei, diff_src;
    size_t wei_bytes, diff_src_bytes;
    /* backward weights: d_W (+ d_b) from (src, d_dst); d_W goes through an accumulating reorder to oihw */
    dnnl_primitive_t bwd_wei, dwei_accumulate;
    dnnl_memory_t src, dwei, dwei_user, dbias;
    size_t dwei_bytes, pad_bytes;
} conv_bwd;

static void conv_bwd_destroy(void *v) {
    conv_bwd *b = v;
    rs_dnnl_destroy_primitive(b->bwd_data);
    rs_dnnl_destroy_primitive(b->wei_reorder);
    rs_dnnl_destroy_primitive(b->bwd_wei);
    rs_dnnl_destroy_primitive(b->dwei_accumulate);
    dnnl_memory_t ms[] = {b->diff_dst, b->wei_user, b->wei, b->diff_src, b->src, b->dwei, b->dwei_user, b->dbias};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) rs_dnnl_destroy_memory(ms[i]);
    free(b);
}
static rs_dnnl_cache g_bwd_cache = {.destroy = conv_bwd_destroy};

static void conv_bwd_data_init(conv_bwd *b, const conv_geom *g, const_dnnl_primitive_desc_t hint) {
    dnnl_convolution_desc_t cd;
    RS_DNNL_CHECK(dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &g->src, &g->wei_any,
                                                           &g->dst, g->strides, g->pad_l, g->pad_r));
    dnnl_primitive_desc_t pd;
    RS_DNNL_CHECK(dnnl_primitive_desc_create(&pd, &cd, NULL, rs_dnnl_engine(), hint));
    const dnnl_memory_desc_t *wei = rs_dnnl_query_md(pd, dnnl_query_weights_md);
    b->bwd_data = rs_dnnl_primitive(pd);
    b->wei_user = rs_dnnl_memory(&g->wei_user);
    if (!dnnl_memory_desc_equal(wei, &g->wei_user)) {
        b->wei_reorder = rs_dnnl_reorder(&g->wei_user, wei, 0);
        b->wei = rs_dnnl_memory(wei);
        b->wei_bytes = dnnl_memory_desc_get_size(wei);
    }
    b->diff_src = rs_dnnl_memory(&g->src);
    b->diff_src_bytes = dnnl_memory_desc_get_size(&g->src);
    RS_DNNL_CHECK(dnnl_primitive_desc_destroy(pd));
}

static void conv_bwd_weights_init(conv_bwd *b, const conv_geom *g, const_dnnl_primitive_desc_t hint,
                                  int with_bias) {
    dnnl_convolution_desc_t cd;
    RS_DNNL_CHECK(dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &g->src, &g->wei_any,
                                                              with_bias ? &g->bias : NULL, &g->dst, g->strides,
                                                              g->pad_l, g->pad_r));
    dnnl_primitive_desc_t pd;
    RS_DNNL_CHECK(dnnl_primitive_desc_create(&pd, &cd, NULL, rs_dnnl_engine(), hint));
    const dnnl_memory_desc_t *dwei = rs_dnnl_query_md(pd, dnnl_query_diff_weights_md);
    b->bwd_wei = rs_dnnl_primitive(pd);
    b->src = rs_dnnl_memory(&g->src);
    b->dwei = rs_dnnl_memory(dwei);
    b->dwei_bytes = dnnl_memory_desc_get_size(dwei);
    b->dwei_user = rs_dnnl_memory(&g->wei_user);
    b->dwei_accumulate = rs_dnnl_reorder(dwei, &g->wei_user, 1);
    b->dbias = rs_dnnl_memory(&g->bias);
    RS_DNNL_CHECK(dnnl_primitive_desc_destroy(pd));
}

/* flags: bit 0 d_in wanted, bit 1 d_weight wanted, bit 2 d_bias computed inside the weights primitive. */
static conv_bwd *conv_bwd_get(const rs_conv2d_dims *d, int flags) {
    conv_key key;
    memset(&key, 0, sizeof key);
    key.d = *d;
    key.backward_flags = flags;
    conv_bwd *b = rs_dnnl_cache_find(&g_bwd_cache, &key, sizeof key);
    if (b) return b;
    b = calloc(1, sizeof *b);
    RS_ASSERT(b != NULL);
    conv_geom g;
    conv_geom_init(&g, d);
    dnnl_primitive_desc_t hint = conv_fwd_pd(&g, (flags & 4) != 0, 0);
    b->diff_dst = rs_dnnl_memory(&g.dst);
    if (flags & 1) conv_bwd_data_init(b, &g, hint);
    if (flags & 2) conv_bwd_weights_init(b, &g, hint, (flags & 4) != 0);
    if (conv_circular(d)) b->pad_bytes = dnnl_memory_desc_get_size(&g.src);
    RS_DNNL_CHECK(dnnl_primitive_desc_destroy(hint));
    rs_dnnl_cache_put(&g_bwd_cache, &key, sizeof key, b);
    return b;
}

static void conv_bwd_data_run(conv_bwd *b, float *d_in, float *diff_src, void *wei_prim, const float *weight,
                              const rs_conv2d_dims *d) {
    rs_dnnl_bind(b->wei_user, weight);
    dnnl_memory_t wei = b->wei_user;
    if (b->wei_reorder) {
        rs_dnnl_bind(b->wei, wei_prim);
        dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, b->wei_user}, {DNNL_ARG_TO, b->wei}};
        rs_dnnl_run(b->wei_reorder, 2, ra);
        wei = b->wei;
    }
    rs_dnnl_bind(b->diff_src, diff_src);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, b->diff_dst}, {DNNL_ARG_WEIGHTS, wei},
                               {DNNL_ARG_DIFF_SRC, b->diff_src}};
    rs_dnnl_run(b->bwd_data, 3, args);
    if (conv_circular(d))
        circular_fold_add(d_in, diff_src, d);
    else
        rs_dnnl_add(d_in, diff_src, (int64_t)(b->diff_src_bytes / sizeof(float)));
}

static void conv_bwd_weights_run(conv_bwd *b, float *d_weight, float *d_bias, float *dbias_tmp, void *dwei,
                                 const float *src, const rs_conv2d_dims *d) {
    rs_dnnl_bind(b->src, src);
    rs_dnnl_bind(b->dwei, dwei);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, b->src}, {DNNL_ARG_DIFF_DST, b->diff_dst},
                               {DNNL_ARG_DIFF_WEIGHTS, b->dwei}, {DNNL_ARG_DIFF_BIAS, b->dbias}};
    if (d_bias) rs_dnnl_bind(b->dbias, dbias_tmp);
    rs_dnnl_run(b->bwd_wei, d_bias ? 4 : 3, args);
    rs_dnnl_bind(b->dwei_user, d_weight);
    dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, b->dwei}, {DNNL_ARG_TO, b->dwei_user}};
    rs_dnnl_run(b->dwei_accumulate, 2, ra); /* d_weight += dwei */
    if (d_bias) rs_dnnl_add(d_bias, dbias_tmp, d->c_out);
}

void rs_conv2d_backward_fast(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                             const float *weight, const rs_conv2d_dims *d, rs_workspace *ws) {
    if (rs_dnnl_conv_gemm_taken(d)) {
        rs_dnnl_conv_gemm_backward(d_in, d_weight, d_bias, d_out, in, weight, d, ws ? ws : &g_own_ws);
        return;
    }
    int flags = (d_in ? 1 : 0) | (d_weight ? 2 : 0) | (d_weight && d_bias ? 4 : 0);
    if (d_bias && !d_weight) rs_dnnl_colsum_add(d_bias, d_out, (int64_t)d->n * d->h_out * d->w_out, d->c_out);
    if (!(flags & 3)) return;
    conv_bwd *b = conv_bwd_get(d, flags);
    size_t sizes[5] = {b->pad_bytes, b->diff_src_bytes, b->wei_bytes, b->dwei_bytes,
                       (size_t)d->c_out * sizeof(float)};
    size_t off = 0;
    for (int i = 0; i < 5; i++) rs_dnnl_carve(NULL, &off, sizes[i]);
    char *base = rs_workspace_get(ws ? ws : &g_own_ws, off);
    RS_ASSERT(base != NULL);
    off = 0;
    float *padded = rs_dnnl_carve(base, &off, sizes[0]);   // (N, Hp, Wp, C_in), circular only
    float *diff_src = rs_dnnl_carve(base, &off, sizes[1]); // (N, Hp, Wp, C_in)
    void *wei_prim = rs_dnnl_carve(base, &off, sizes[2]);
    void *dwei = rs_dnnl_carve(base, &off, sizes[3]);
    float *dbias_tmp = rs_dnnl_carve(base, &off, sizes[4]); // (C_out)
    rs_dnnl_bind(b->diff_dst, d_out);
    if (d_in) conv_bwd_data_run(b, d_in, diff_src, wei_prim, weight, d);
    if (d_weight) {
        const float *src = in;
        if (b->pad_bytes) {
            circular_pad(padded, in, d);
            src = padded;
        }
        conv_bwd_weights_run(b, d_weight, (flags & 4) ? d_bias : NULL, dbias_tmp, dwei, src, d);
    }
}
#else
typedef int rs_onednn_conv_empty; /* this build has no oneDNN: onednn.c maps the fast path to the reference */
#endif
