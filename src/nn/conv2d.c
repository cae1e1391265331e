/* conv2d.c: 2-D convolution (1-D as H = 1) on NHWC activations with PyTorch's OIHW weights: the dims check, the
 * plain-C reference forward and backward, and the dispatchers that choose between the reference and the fast path.
 *
 * Covers groups (depthwise included), strides, asymmetric padding, zero or circular padding (circular wraps the
 * index modulo the input size, as PyTorch's padding_mode='circular'), optional bias. The reference is direct loops
 * over output pixels with the weight re-laid-out in the workspace as (KH, KW, G, C_in/G, C_out/G) so that the
 * innermost loop runs over contiguous channels. It is not a tuned kernel (onednn.c is). It is deterministic:
 * every output element (and every weight-gradient element) is owned by one thread and summed in a fixed order, so
 * results do not depend on the thread count. Weight and bias gradients are accumulated in double. */
#include "relstab/ops.h"
#include "nn/ref_internal.h"

#include <string.h>

rs_status rs_conv2d_dims_finish(rs_conv2d_dims *d) {
    if (!d) return rs_error(RS_ERR_ARG, "conv2d: no dims given");
    if (d->n <= 0 || d->h_in <= 0 || d->w_in <= 0 || d->c_in <= 0 || d->c_out <= 0)
        return rs_error(RS_ERR_ARG, "conv2d: sizes must be positive (n %d, h_in %d, w_in %d, c_in %d, c_out %d)",
                        d->n, d->h_in, d->w_in, d->c_in, d->c_out);
    if (d->kh <= 0 || d->kw <= 0) return rs_error(RS_ERR_ARG, "conv2d: kernel %dx%d must be positive", d->kh, d->kw);
    if (d->stride_h <= 0 || d->stride_w <= 0)
        return rs_error(RS_ERR_ARG, "conv2d: stride %dx%d must be positive", d->stride_h, d->stride_w);
    if (d->pad_top < 0 || d->pad_bottom < 0 || d->pad_left < 0 || d->pad_right < 0)
        return rs_error(RS_ERR_ARG, "conv2d: padding (top %d, bottom %d, left %d, right %d) must be >= 0",
                        d->pad_top, d->pad_bottom, d->pad_left, d->pad_right);
    if (d->groups <= 0) return rs_error(RS_ERR_ARG, "conv2d: groups %d must be positive", d->groups);
    if (d->c_in % d->groups || d->c_out % d->groups)
        return rs_error(RS_ERR_ARG, "conv2d: c_in %d and c_out %d must both be divisible by groups %d", d->c_in,
                        d->c_out, d->groups);
    if (d->pad_mode != RS_PAD_ZERO && d->pad_mode != RS_PAD_CIRCULAR)
        return rs_error(RS_ERR_ARG, "conv2d: unknown padding mode %d", (int)d->pad_mode);
    if (d->pad_mode == RS_PAD_CIRCULAR &&
        (d->pad_top >= d->h_in || d->pad_bottom >= d->h_in || d->pad_left >= d->w_in || d->pad_right >= d->w_in))
        return rs_error(RS_ERR_ARG,
                        "conv2d: circular padding (top %d, bottom %d, left %d, right %d) must be smaller than the "
                        "input %dx%d",
                        d->pad_top, d->pad_bottom, d->pad_left, d->pad_right, d->h_in, d->w_in);
    int64_t hp = (int64_t)d->h_in + d->pad_top + d->pad_bottom;
    int64_t wp = (int64_t)d->w_in + d->pad_left + d->pad_right;
    if (hp < d->kh || wp < d->kw)
        return rs_error(RS_ERR_ARG, "conv2d: kernel %dx%d is larger than the padded input %lldx%lld", d->kh, d->kw,
                        (long long)hp, (long long)wp);
    d->h_out = (int32_t)((hp - d->kh) / d->stride_h + 1);
    d->w_out = (int32_t)((wp - d->kw) / d->stride_w + 1);
    return RS_OK;
}

/* Input index read by padded position i, or -1 for a zero-padding position. Circular padding is smaller than the
 * input (checked above), so one wrap suffices, but the modulo is general anyway. */
static inline int32_t conv_src(int32_t i, int32_t size, int circular) {
    if (i >= 0 && i < size) return i;
    if (!circular) return -1;
    i %= size;
    return i < 0 ? i + size : i;
}

/* OIHW (C_out, cg, KH, KW) -> (KH, KW, G, cg, og) if og_inner, else (KH, KW, G, og, cg). */
static void conv_relayout(float *dst, const float *w, const rs_conv2d_dims *d, int og_inner) {
    const int32_t G = d->groups, cg = d->c_in / G, og = d->c_out / G, KH = d->kh, KW = d->kw;
    for (int32_t g = 0; g < G; g++)
        for (int32_t o = 0; o < og; o++)
            for (int32_t ci = 0; ci < cg; ci++)
                for (int32_t kh = 0; kh < KH; kh++)
                    for (int32_t kw = 0; kw < KW; kw++) {
                        float v = w[((((size_t)g * og + o) * cg + ci) * KH + kh) * KW + kw];
                        size_t base = (((size_t)kh * KW + kw) * G + g) * cg * og;
                        dst[base + (og_inner ? (size_t)ci * og + o : (size_t)o * cg + ci)] = v;
                    }
}

/* out (N, H_out, W_out, C_out) = conv(in (N, H, W, C_in), weight) + bias. */
void rs_conv2d_forward_ref(float *out, const float *in, const float *weight, const float *bias,
                           const rs_conv2d_dims *d, rs_workspace *ws) {
    const int32_t G = d->groups, cg = d->c_in / G, og = d->c_out / G, KH = d->kh, KW = d->kw;
    const int32_t H = d->h_in, W = d->w_in, Ho = d->h_out, Wo = d->w_out, Ci = d->c_in, Co = d->c_out;
    const int circ = d->pad_mode == RS_PAD_CIRCULAR, depthwise = cg == 1 && og == 1;
    float *wt = rs_workspace_get(ws, (size_t)Co * cg * KH * KW * sizeof(float)); // (KH, KW, G, cg, og)
    RS_ASSERT(wt);
    conv_relayout(wt, weight, d, 1);
    const int64_t work = (int64_t)d->n * Ho * Wo * Co * cg * KH * KW;
#pragma omp parallel for collapse(2) schedule(static) if (work >= RS_PAR_MIN_WORK)
    for (int32_t n = 0; n < d->n; n++)
        for (int32_t y = 0; y < Ho; y++)
            for (int32_t x = 0; x < Wo; x++) {
                float *op = out + (((size_t)n * Ho + y) * Wo + x) * Co; // (C_out)
                for (int32_t c = 0; c < Co; c++) op[c] = bias ? bias[c] : 0.0f;
                for (int32_t kh = 0; kh < KH; kh++) {
                    int32_t iy = conv_src(y * d->stride_h - d->pad_top + kh, H, circ);
                    if (iy < 0) continue;
                    for (int32_t kw = 0; kw < KW; kw++) {
                        int32_t ix = conv_src(x * d->stride_w - d->pad_left + kw, W, circ);
                        if (ix < 0) continue;
                        const float *ip = in + (((size_t)n * H + iy) * W + ix) * Ci; // (C_in)
                        const float *wk = wt + ((size_t)kh * KW + kw) * cg * Co;    // (G, cg, og)
                        if (depthwise) {
                            for (int32_t c = 0; c < Co; c++) op[c] += ip[c] * wk[c];
                            continue;
                        }
                        for (int32_t g = 0; g < G; g++)
                            for (int32_t ci = 0; ci < cg; ci++) {
                                const float a = ip[g * cg + ci];
                                const float *wr = wk + ((size_t)g * cg + ci) * og;
                                float *og_p = op + (size_t)g * og;
                                for (int32_t o = 0; o < og; o++) og_p[o] += a * wr[o];
                            }
                    }
                }
            }
}

/* d_in (N, H, W, C_in) += the transposed convolution of d_out with the weight; one thread per sample. */
static void conv_backward_input(float *d_in, const float *d_out, const float *wt2, const rs_conv2d_dims *d) {
    const int32_t G = d->groups, cg = d->c_in / G, og = d->c_out / G, KH = d->kh, KW = d->kw;
    const int32_t H = d->h_in, W = d->w_in, Ho = d->h_out, Wo = d->w_out, Ci = d->c_in, Co = d->c_out;
    const int circ = d->pad_mode == RS_PAD_CIRCULAR, depthwise = cg == 1 && og == 1;
    const int64_t work = (int64_t)d->n * Ho * Wo * Co * cg * KH * KW;
#pragma omp parallel for schedule(static) if (work >= RS_PAR_MIN_WORK)
    for (int32_t n = 0; n < d->n; n++)
        for (int32_t y = 0; y < Ho; y++)
            for (int32_t x = 0; x < Wo; x++) {
                const float *dop = d_out + (((size_t)n * Ho + y) * Wo + x) * Co; // (C_out)
                for (int32_t kh = 0; kh < KH; kh++) {
                    int32_t iy = conv_src(y * d->stride_h - d->pad_top + kh, H, circ);
                    if (iy < 0) continue;
                    for (int32_t kw = 0; kw < KW; kw++) {
                        int32_t ix = conv_src(x * d->stride_w - d->pad_left + kw, W, circ);
                        if (ix < 0) continue;
                        float *dip = d_in + (((size_t)n * H + iy) * W + ix) * Ci; // (C_in)
                        const float *wk = wt2 + ((size_t)kh * KW + kw) * cg * Co; // (G, og, cg)
                        if (depthwise) {
                            for (int32_t c = 0; c < Ci; c++) dip[c] += dop[c] * wk[c];
                            continue;
                        }
                        for (int32_t g = 0; g < G; g++)
                            for (int32_t o = 0; o < og; o++) {
                                const float a = dop[g * og + o];
                                const float *wr = wk + ((size_t)g * og + o) * cg;
                                float *dg = dip + (size_t)g * cg;
                                for (int32_t ci = 0; ci < cg; ci++) dg[ci] += a * wr[ci];
                            }
                    }
                }
            }
}

/* One task of the weight gradient: kernel tap (kh, kw), group g, output channels [o0, o0 + ob) of that group (for
 * depthwise: channels [o0, o0 + ob) of all groups). Sums over every (n, y, x) in a fixed order into dw, the
 * double accumulator laid out (KH, KW, G, cg, og), of which this task owns a disjoint part. */
static void conv_weight_task(double *dw, const float *d_out, const float *in, const rs_conv2d_dims *d, int32_t kh,
                             int32_t kw, int32_t g, int32_t o0, int32_t ob) {
    const int32_t G = d->groups, cg = d->c_in / G, og = d->c_out / G, KW = d->kw;
    const int32_t H = d->h_in, W = d->w_in, Ho = d->h_out, Wo = d->w_out, Ci = d->c_in, Co = d->c_out;
    const int circ = d->pad_mode == RS_PAD_CIRCULAR, depthwise = cg == 1 && og == 1;
    double *acc = dw + (((size_t)kh * KW + kw) * G + g) * cg * og; // (cg, og), or (C) for depthwise (g = 0)
    for (int32_t n = 0; n < d->n; n++)
        for (int32_t y = 0; y < Ho; y++) {
            int32_t iy = conv_src(y * d->stride_h - d->pad_top + kh, H, circ);
            if (iy < 0) continue;
            for (int32_t x = 0; x < Wo; x++) {
                int32_t ix = conv_src(x * d->stride_w - d->pad_left + kw, W, circ);
                if (ix < 0) continue;
                const float *ip = in + (((size_t)n * H + iy) * W + ix) * Ci;   // (C_in)
                const float *dop = d_out + (((size_t)n * Ho + y) * Wo + x) * Co; // (C_out)
                if (depthwise) {
                    for (int32_t c = o0; c < o0 + ob; c++) acc[c] += (double)ip[c] * (double)dop[c];
                    continue;
                }
                for (int32_t ci = 0; ci < cg; ci++) {
                    const double a = ip[g * cg + ci];
                    double *ar = acc + (size_t)ci * og;
                    for (int32_t o = o0; o < o0 + ob; o++) ar[o] += a * (double)dop[g * og + o];
                }
            }
        }
}

#define CONV_OBLOCK 32 /* output channels per weight-gradient task */

/* d_weight (C_out, cg, KH, KW) += sum over the batch, via the double accumulator dw (zeroed here). */
static void conv_backward_weight(float *d_weight, double *dw, const float *d_out, const float *in,
                                 const rs_conv2d_dims *d) {
    const int32_t G = d->groups, cg = d->c_in / G, og = d->c_out / G, KH = d->kh, KW = d->kw;
    const int depthwise = cg == 1 && og == 1;
    const int32_t groups_in_task = depthwise ? 1 : G;        // depthwise tasks span all channels
    const int32_t width = depthwise ? d->c_out : og;         // channels split into blocks
    const int32_t nblock = (width + CONV_OBLOCK - 1) / CONV_OBLOCK;
    const int64_t ntask = (int64_t)KH * KW * groups_in_task * nblock;
    memset(dw, 0, (size_t)d->c_out * cg * KH * KW * sizeof(double));
    const int64_t work = (int64_t)d->n * d->h_out * d->w_out * d->c_out * cg * KH * KW;
#pragma omp parallel for schedule(dynamic, 1) if (work >= RS_PAR_MIN_WORK)
    for (int64_t t = 0; t < ntask; t++) {
        int32_t b = (int32_t)(t % nblock), g = (int32_t)(t / nblock % groups_in_task);
        int32_t tap = (int32_t)(t / nblock / groups_in_task), kh = tap / KW, kw = tap % KW;
        int32_t o0 = b * CONV_OBLOCK, ob = width - o0 < CONV_OBLOCK ? width - o0 : CONV_OBLOCK;
        conv_weight_task(dw, d_out, in, d, kh, kw, g, o0, ob);
    }
    for (int32_t g = 0; g < G; g++)
        for (int32_t o = 0; o < og; o++)
            for (int32_t ci = 0; ci < cg; ci++)
                for (int32_t kh = 0; kh < KH; kh++)
                    for (int32_t kw = 0; kw < KW; kw++) {
                        size_t src = (((size_t)kh * KW + kw) * G + g) * cg * og + (size_t)ci * og + o;
                        d_weight[((((size_t)g * og + o) * cg + ci) * KH + kh) * KW + kw] += (float)dw[src];
                    }
}

/* d_bias (C_out) += sum over (N, H_out, W_out) of d_out; threads own blocks of 16 channels (one cache line). */
static void conv_backward_bias(float *d_bias, const float *d_out, const rs_conv2d_dims *d) {
    const int64_t rows = (int64_t)d->n * d->h_out * d->w_out;
    const int32_t C = d->c_out, nb = (C + 15) / 16;
#pragma omp parallel for schedule(static) if (rows * C >= RS_PAR_MIN_WORK)
    for (int32_t b = 0; b < nb; b++) {
        double acc[16] = {0};
        int32_t c0 = b * 16, cn = C - c0 < 16 ? C - c0 : 16;
        for (int64_t r = 0; r < rows; r++)
            for (int32_t j = 0; j < cn; j++) acc[j] += d_out[r * C + c0 + j];
        for (int32_t j = 0; j < cn; j++) d_bias[c0 + j] += (float)acc[j];
    }
}

void rs_conv2d_backward_ref(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                            const float *weight, const rs_conv2d_dims *d, rs_workspace *ws) {
    const size_t wn = (size_t)d->c_out * (d->c_in / d->groups) * d->kh * d->kw;
    // workspace: the weight-gradient accumulator (wn doubles), then the transposed weight (wn floats)
    char *base = rs_workspace_get(ws, wn * (sizeof(double) + sizeof(float)));
    RS_ASSERT(base);
    double *dw = (double *)base;               // (KH, KW, G, cg, og)
    float *wt2 = (float *)(base + wn * sizeof(double)); // (KH, KW, G, og, cg)
    if (d_in) {
        conv_relayout(wt2, weight, d, 0);
        conv_backward_input(d_in, d_out, wt2, d);
    }
    if (d_weight) conv_backward_weight(d_weight, dw, d_out, in, d);
    if (d_bias) conv_backward_bias(d_bias, d_out, d);
}

void rs_conv2d_forward(float *out, const float *in, const float *weight, const float *bias,
                       const rs_conv2d_dims *d, rs_workspace *ws) {
    if (rs_get_backend() == RS_BACKEND_REF)
        rs_conv2d_forward_ref(out, in, weight, bias, d, ws);
    else
        rs_conv2d_forward_fast(out, in, weight, bias, d, ws);
}

void rs_conv2d_backward(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                        const float *weight, const rs_conv2d_dims *d, rs_workspace *ws) {
    if (rs_get_backend() == RS_BACKEND_REF)
        rs_conv2d_backward_ref(d_in, d_weight, d_bias, d_out, in, weight, d, ws);
    else
        rs_conv2d_backward_fast(d_in, d_weight, d_bias, d_out, in, weight, d, ws);
}
