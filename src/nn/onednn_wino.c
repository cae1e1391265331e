/* onednn_wino.c: oneDNN's Winograd forward (F(4x4, 3x3), jit_wino_4x3) for 3x3 stride-1 convolutions, in place of
 * the direct algorithm where it is faster.
 *
 * The Winograd primitive only takes blocked activations (nChw16c), so the NHWC input is reordered in and the output
 * reordered back, around it; the weights are transformed into its (4x larger) layout at each call, since they change
 * every step. Measured (bench/bench_fma.c, CPU time, 1 thread, batch 32, docs/bench.md): a 3x3 conv of 64 channels
 * at 32x32 takes 0.78 of the direct time, reorders included, but at 128 channels and 16x16 it is already 1.08 and
 * at 512 channels and 4x4 4x (the weight transform is not amortised over the few pixels). Which layers use it is
 * therefore a fixed rule, not a timing: C_in and C_out at least RS_WINO_MIN_C, N H_out W_out at least
 * RS_WINO_MIN_PIXELS, zero padding at most 1, stride 1, no dilation, one group. A fixed rule keeps results
 * reproducible from run to run (a timed choice could differ between a run and its resumption). Winograd sums the
 * products in the transformed domain: its error is a few times the direct sum's, within the bounds of
 * tests/test_ops_fast.c (which checks it), but twice the direct error in D, G, R against a float64 reference
 * (tests/test_measure_torch.c), so the net's forward keeps AUTO for training passes only (net_run.c).
 * rs_set_conv_algo chooses the policy (auto: the rule; direct: never, the default). AUTO is not the default: on
 * whole training steps (VGG11-BN, ResNet18, batch 128, 1 thread) it measured 15-35 % MORE process CPU time than
 * DIRECT in two runs on a heavily loaded machine, against the layer benchmark's prediction of a few % less; until
 * an idle machine settles it, the default stays on the direct algorithm.
 * Forward only: backward stays on the direct primitives (onednn_conv.c). */
#ifdef RELSTAB_HAVE_ONEDNN
#include <stdlib.h>
#include <string.h>

#include "nn/onednn_internal.h"
#include "relstab/ops.h"

#define RS_WINO_MIN_C 64
#define RS_WINO_MIN_PIXELS 16384 /* N * H_out * W_out */

static rs_conv_algo g_algo = RS_CONV_ALGO_DIRECT; /* AUTO is opt-in: see docs/bench.md */
void rs_set_conv_algo(rs_conv_algo a) { g_algo = a; }
rs_conv_algo rs_get_conv_algo(void) { return g_algo; }

/* Geometry the Winograd kernel covers (the padding check also rules out dilation: with stride 1 and a 3x3 kernel,
 * the output is exactly the padded input minus 2). */
static int wino_shape_ok(const rs_conv2d_dims *d) {
    return d->kh == 3 && d->kw == 3 && d->stride_h == 1 && d->stride_w == 1 && d->groups == 1 &&
           d->pad_mode == RS_PAD_ZERO && d->pad_top <= 1 && d->pad_bottom <= 1 && d->pad_left <= 1 &&
           d->pad_right <= 1 && d->h_out == d->h_in + d->pad_top + d->pad_bottom - 2 &&
           d->w_out == d->w_in + d->pad_left + d->pad_right - 2;
}

typedef struct {
    rs_conv2d_dims d;
    int32_t with_bias;
} wino_key;

typedef struct {
    int ok; /* 0: oneDNN has no Winograd kernel for this shape on this CPU (the direct path runs) */
    dnnl_primitive_t conv, src_in, dst_out, wei_in;
    dnnl_memory_t src_user, src, wei_user, wei, bias, dst, dst_user;
    size_t src_bytes, dst_bytes, wei_bytes;
} wino_entry;

static void wino_destroy(void *v) {
    wino_entry *e = v;
    dnnl_primitive_t ps[] = {e->conv, e->src_in, e->dst_out, e->wei_in};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) rs_dnnl_destroy_primitive(ps[i]);
    dnnl_memory_t ms[] = {e->src_user, e->src, e->wei_user, e->wei, e->bias, e->dst, e->dst_user};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) rs_dnnl_destroy_memory(ms[i]);
    free(e);
}
static rs_dnnl_cache g_wino_cache = {.destroy = wino_destroy};

static void wino_build(wino_entry *e, const rs_conv2d_dims *d, int with_bias) {
    dnnl_memory_desc_t src_user, dst_user, src_any, dst_any, wei_user, wei_any, bias;
    dnnl_dims_t s = {d->n, d->c_in, d->h_in, d->w_in}, o = {d->n, d->c_out, d->h_out, d->w_out};
    dnnl_dims_t w = {d->c_out, d->c_in, 3, 3}, b = {d->c_out}, st = {1, 1};
    dnnl_dims_t pl = {d->pad_top, d->pad_left}, pr = {d->pad_bottom, d->pad_right};
    rs_dnnl_md(&src_user, 4, s, dnnl_nhwc);
    rs_dnnl_md(&dst_user, 4, o, dnnl_nhwc);
    rs_dnnl_md(&src_any, 4, s, dnnl_format_tag_any);
    rs_dnnl_md(&dst_any, 4, o, dnnl_format_tag_any);
    rs_dnnl_md(&wei_user, 4, w, dnnl_oihw);
    rs_dnnl_md(&wei_any, 4, w, dnnl_format_tag_any);
    rs_dnnl_md(&bias, 1, b, dnnl_x);
    dnnl_convolution_desc_t cd;
    if (dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_winograd, &src_any,
                                           &wei_any, with_bias ? &bias : NULL, &dst_any, st, pl, pr) != dnnl_success)
        return;
    dnnl_primitive_desc_t pd;
    if (dnnl_primitive_desc_create(&pd, &cd, NULL, rs_dnnl_engine(), NULL) != dnnl_success) return;
    const dnnl_memory_desc_t *smd = rs_dnnl_query_md(pd, dnnl_query_src_md);
    const dnnl_memory_desc_t *dmd = rs_dnnl_query_md(pd, dnnl_query_dst_md);
    const dnnl_memory_desc_t *wmd = rs_dnnl_query_md(pd, dnnl_query_weights_md);
    e->conv = rs_dnnl_primitive(pd);
    e->src_in = rs_dnnl_reorder(&src_user, smd, 0);
    e->dst_out = rs_dnnl_reorder(dmd, &dst_user, 0);
    e->wei_in = rs_dnnl_reorder(&wei_user, wmd, 0);
    e->src_user = rs_dnnl_memory(&src_user);
    e->dst_user = rs_dnnl_memory(&dst_user);
    e->wei_user = rs_dnnl_memory(&wei_user);
    e->src = rs_dnnl_memory(smd);
    e->dst = rs_dnnl_memory(dmd);
    e->wei = rs_dnnl_memory(wmd);
    e->bias = rs_dnnl_memory(&bias);
    e->src_bytes = dnnl_memory_desc_get_size(smd);
    e->dst_bytes = dnnl_memory_desc_get_size(dmd);
    e->wei_bytes = dnnl_memory_desc_get_size(wmd);
    RS_DNNL_CHECK(dnnl_primitive_desc_destroy(pd));
    e->ok = 1;
}

static wino_entry *wino_get(const rs_conv2d_dims *d, int with_bias) {
    wino_key key;
    memset(&key, 0, sizeof key);
    key.d = *d;
    key.with_bias = with_bias;
    wino_entry *e = rs_dnnl_cache_find(&g_wino_cache, &key, sizeof key);
    if (e) return e;
    e = calloc(1, sizeof *e);
    RS_ASSERT(e != NULL);
    wino_build(e, d, with_bias);
    rs_dnnl_cache_put(&g_wino_cache, &key, sizeof key, e);
    return e;
}

/* The policy and the shape rule: whether d may take Winograd (oneDNN may still lack a kernel for it). */
static int wino_wanted(const rs_conv2d_dims *d) {
    if (g_algo == RS_CONV_ALGO_DIRECT || !wino_shape_ok(d)) return 0;
    return g_algo != RS_CONV_ALGO_AUTO || (d->c_in >= RS_WINO_MIN_C && d->c_out >= RS_WINO_MIN_C &&
                                           (int64_t)d->n * d->h_out * d->w_out >= RS_WINO_MIN_PIXELS);
}

int rs_dnnl_conv_wino_taken(const rs_conv2d_dims *d, int with_bias) {
    return wino_wanted(d) && wino_get(d, with_bias)->ok;
}

int rs_dnnl_conv_wino_forward(float *out, const float *in, const float *weight, const float *bias,
                              const rs_conv2d_dims *d, rs_workspace *ws) {
    if (!wino_wanted(d)) return 0;
    wino_entry *e = wino_get(d, bias != NULL);
    if (!e->ok) return 0;
    size_t off = 0;
    rs_dnnl_carve(NULL, &off, e->src_bytes);
    rs_dnnl_carve(NULL, &off, e->dst_bytes);
    rs_dnnl_carve(NULL, &off, e->wei_bytes);
    char *base = rs_workspace_get(ws, off);
    RS_ASSERT(base != NULL);
    off = 0;
    rs_dnnl_bind(e->src, rs_dnnl_carve(base, &off, e->src_bytes)); // (N, C_in/16, H, W, 16)
    rs_dnnl_bind(e->dst, rs_dnnl_carve(base, &off, e->dst_bytes)); // (N, C_out/16, H_out, W_out, 16)
    rs_dnnl_bind(e->wei, rs_dnnl_carve(base, &off, e->wei_bytes));
    rs_dnnl_bind(e->src_user, in);
    rs_dnnl_bind(e->wei_user, weight);
    rs_dnnl_bind(e->dst_user, out);
    dnnl_exec_arg_t a_src[2] = {{DNNL_ARG_FROM, e->src_user}, {DNNL_ARG_TO, e->src}};
    dnnl_exec_arg_t a_wei[2] = {{DNNL_ARG_FROM, e->wei_user}, {DNNL_ARG_TO, e->wei}};
    rs_dnnl_run(e->src_in, 2, a_src);
    rs_dnnl_run(e->wei_in, 2, a_wei);
    if (bias) rs_dnnl_bind(e->bias, bias);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, e->src}, {DNNL_ARG_WEIGHTS, e->wei}, {DNNL_ARG_DST, e->dst},
                               {DNNL_ARG_BIAS, e->bias}};
    rs_dnnl_run(e->conv, bias ? 4 : 3, args);
    dnnl_exec_arg_t a_dst[2] = {{DNNL_ARG_FROM, e->dst}, {DNNL_ARG_TO, e->dst_user}};
    rs_dnnl_run(e->dst_out, 2, a_dst);
    return 1;
}
#else
typedef int rs_onednn_wino_empty; /* this build has no oneDNN: no Winograd path */
#endif
