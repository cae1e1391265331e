/* conv2d.c: 2-D convolution (1-D as H = 1) on NHWC activations with PyTorch's OIHW weights: the dims check, the
 * plain-C reference forward and backward, and the dispatchers that choose between the reference and the fast path.
 *
 * Covers groups (depthwise included), strides, asymmetric padding, zero or circular padding (circular wraps the
 * index modulo the input size, as PyTorch's padding_mode='circular'), optional bias. The reference is direct
 * convolution: the weight is re-laid-out in the workspace as (KH, KW, G, C_in/G, C_out/G) and every product goes
 * through one register-blocked kernel (4 pixels or channels by 16 channels), with plain channel-vector loops for
 * depthwise layers. It is not a tuned library (onednn.c is the fast path), but fast enough to train small nets.
 * It is deterministic: each output element is owned by one thread and summed in a fixed order; the weight gradient
 * sums each sample in double and adds the samples in order, so results do not depend on the thread count. The
 * workspace holds the re-laid-out weight and, for the weight gradient, up to 16 per-sample partials (<= 64 MB). */
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

/* One output row (n, y) of the grouped/dense forward: blocks of RS_KP pixels by RS_KJ output channels, summed over
 * the taps and input channels of the group. Zero-padding taps read `zero` (a row of C_in zeros), as PyTorch
 * multiplies its zero padding. */
static void conv_forward_row(float *out, const float *in, const float *wt, const float *bias, const float *zero,
                             const rs_conv2d_dims *d, int32_t n, int32_t y) {
    const int32_t G = d->groups, cg = d->c_in / G, og = d->c_out / G, KH = d->kh, KW = d->kw;
    const int32_t H = d->h_in, W = d->w_in, Wo = d->w_out, Ci = d->c_in, Co = d->c_out;
    const int circ = d->pad_mode == RS_PAD_CIRCULAR;
    for (int32_t x0 = 0; x0 < Wo; x0 += RS_KP) {
        const int32_t np = Wo - x0 < RS_KP ? Wo - x0 : RS_KP;
        for (int32_t g = 0; g < G; g++)
            for (int32_t o0 = 0; o0 < og; o0 += RS_KJ) {
                const int32_t nj = og - o0 < RS_KJ ? og - o0 : RS_KJ;
                float acc[RS_KP * RS_KJ] = {0};
                for (int32_t kh = 0; kh < KH; kh++) {
                    const int32_t iy = conv_src(y * d->stride_h - d->pad_top + kh, H, circ);
                    if (iy < 0) continue;
                    for (int32_t kw = 0; kw < KW; kw++) {
                        const float *a[RS_KP];
                        for (int32_t p = 0; p < RS_KP; p++) { // pixels past the row's end repeat pixel 0, unused
                            const int32_t x = x0 + (p < np ? p : 0);
                            const int32_t ix = conv_src(x * d->stride_w - d->pad_left + kw, W, circ);
                            a[p] = (ix < 0 ? zero : in + (((size_t)n * H + iy) * W + ix) * Ci) + (size_t)g * cg;
                        }
                        const float *b = wt + (((size_t)kh * KW + kw) * G + g) * cg * og + o0; // (cg, og)
                        rs_ref_kernel(acc, a, 1, b, og, cg, nj);
                    }
                }
                for (int32_t p = 0; p < np; p++) {
                    float *op = out + (((size_t)n * d->h_out + y) * Wo + x0 + p) * Co + (size_t)g * og + o0;
                    for (int32_t j = 0; j < nj; j++)
                        op[j] = acc[p * RS_KJ + j] + (bias ? bias[(size_t)g * og + o0 + j] : 0.0f);
                }
            }
    }
}

/* One output row of the depthwise forward (C_in = C_out = groups): vectorised over the channels. */
static void conv_forward_row_depthwise(float *out, const float *in, const float *wt, const float *bias,
                                       const rs_conv2d_dims *d, int32_t n, int32_t y) {
    const int32_t KH = d->kh, KW = d->kw, H = d->h_in, W = d->w_in, Wo = d->w_out, C = d->c_out;
    const int circ = d->pad_mode == RS_PAD_CIRCULAR;
    for (int32_t x = 0; x < Wo; x++) {
        float *op = out + (((size_t)n * d->h_out + y) * Wo + x) * C; // (C)
        for (int32_t c = 0; c < C; c++) op[c] = 0.0f;
        for (int32_t kh = 0; kh < KH; kh++) {
            const int32_t iy = conv_src(y * d->stride_h - d->pad_top + kh, H, circ);
            if (iy < 0) continue;
            for (int32_t kw = 0; kw < KW; kw++) {
                const int32_t ix = conv_src(x * d->stride_w - d->pad_left + kw, W, circ);
                if (ix < 0) continue;
                const float *ip = in + (((size_t)n * H + iy) * W + ix) * C, *wk = wt + ((size_t)kh * KW + kw) * C;
                for (int32_t c = 0; c < C; c++) op[c] += ip[c] * wk[c];
            }
        }
        if (bias)
            for (int32_t c = 0; c < C; c++) op[c] += bias[c];
    }
}

/* out (N, H_out, W_out, C_out) = conv(in (N, H, W, C_in), weight) + bias. */
void rs_conv2d_forward_ref(float *out, const float *in, const float *weight, const float *bias,
                           const rs_conv2d_dims *d, rs_workspace *ws) {
    const int32_t cg = d->c_in / d->groups, og = d->c_out / d->groups;
    const size_t wn = (size_t)d->c_out * cg * d->kh * d->kw;
    float *wt = rs_workspace_get(ws, (wn + (size_t)d->c_in) * sizeof(float)); // (KH, KW, G, cg, og), zeros (C_in)
    RS_ASSERT(wt);
    float *zero = wt + wn;
    for (int32_t c = 0; c < d->c_in; c++) zero[c] = 0.0f;
    conv_relayout(wt, weight, d, 1);
    const int64_t work = (int64_t)d->n * d->h_out * d->w_out * (int64_t)wn;
#pragma omp parallel for collapse(2) schedule(static) if (work >= RS_PAR_MIN_WORK)
    for (int32_t n = 0; n < d->n; n++)
        for (int32_t y = 0; y < d->h_out; y++) {
            if (cg == 1 && og == 1)
                conv_forward_row_depthwise(out, in, wt, bias, d, n, y);
            else
                conv_forward_row(out, in, wt, bias, zero, d, n, y);
        }
}

/* One row (n, y) of d_out through the transposed weight wt2 (KH, KW, G, og, cg): for each tap, a block of RS_KP
 * output pixels times the weight gives their contributions to RS_KJ input channels, added where the tap reads. */
static void conv_backward_input_row(float *d_in, const float *d_out, const float *wt2, const rs_conv2d_dims *d,
                                    int32_t n, int32_t y) {
    const int32_t G = d->groups, cg = d->c_in / G, og = d->c_out / G, KH = d->kh, KW = d->kw;
    const int32_t H = d->h_in, W = d->w_in, Wo = d->w_out, Ci = d->c_in, Co = d->c_out;
    const int circ = d->pad_mode == RS_PAD_CIRCULAR;
    for (int32_t x0 = 0; x0 < Wo; x0 += RS_KP) {
        const int32_t np = Wo - x0 < RS_KP ? Wo - x0 : RS_KP;
        for (int32_t kh = 0; kh < KH; kh++) {
            const int32_t iy = conv_src(y * d->stride_h - d->pad_top + kh, H, circ);
            if (iy < 0) continue;
            for (int32_t kw = 0; kw < KW; kw++) {
                int32_t ix[RS_KP];
                for (int32_t p = 0; p < np; p++) ix[p] = conv_src((x0 + p) * d->stride_w - d->pad_left + kw, W, circ);
                for (int32_t g = 0; g < G; g++) {
                    const float *a[RS_KP];
                    for (int32_t p = 0; p < RS_KP; p++)
                        a[p] = d_out + (((size_t)n * d->h_out + y) * Wo + x0 + (p < np ? p : 0)) * Co + (size_t)g * og;
                    for (int32_t c0 = 0; c0 < cg; c0 += RS_KJ) {
                        const int32_t nj = cg - c0 < RS_KJ ? cg - c0 : RS_KJ;
                        float acc[RS_KP * RS_KJ] = {0};
                        const float *b = wt2 + (((size_t)kh * KW + kw) * G + g) * og * cg + c0; // (og, cg)
                        rs_ref_kernel(acc, a, 1, b, cg, og, nj);
                        for (int32_t p = 0; p < np; p++) {
                            if (ix[p] < 0) continue;
                            float *dip = d_in + (((size_t)n * H + iy) * W + ix[p]) * Ci + (size_t)g * cg + c0;
                            for (int32_t j = 0; j < nj; j++) dip[j] += acc[p * RS_KJ + j];
                        }
                    }
                }
            }
        }
    }
}

/* Depthwise: d_in += d_out * w per tap, vectorised over the channels. */
static void conv_backward_input_row_depthwise(float *d_in, const float *d_out, const float *wt2,
                                              const rs_conv2d_dims *d, int32_t n, int32_t y) {
    const int32_t KH = d->kh, KW = d->kw, H = d->h_in, W = d->w_in, Wo = d->w_out, C = d->c_in;
    const int circ = d->pad_mode == RS_PAD_CIRCULAR;
    for (int32_t x = 0; x < Wo; x++) {
        const float *dop = d_out + (((size_t)n * d->h_out + y) * Wo + x) * C; // (C)
        for (int32_t kh = 0; kh < KH; kh++) {
            const int32_t iy = conv_src(y * d->stride_h - d->pad_top + kh, H, circ);
            if (iy < 0) continue;
            for (int32_t kw = 0; kw < KW; kw++) {
                const int32_t ix = conv_src(x * d->stride_w - d->pad_left + kw, W, circ);
                if (ix < 0) continue;
                float *dip = d_in + (((size_t)n * H + iy) * W + ix) * C;
                const float *wk = wt2 + ((size_t)kh * KW + kw) * C;
                for (int32_t c = 0; c < C; c++) dip[c] += dop[c] * wk[c];
            }
        }
    }
}

/* The weight gradient of one sample into part (KH, KW, G, cg, og), in double: for each tap, group, block of RS_KP
 * input channels and RS_KJ output channels, each output row is summed in float registers (over the runs of
 * pixels whose tap positions are evenly spaced: padding and circular wrapping break runs) and added in double. */
static void conv_weight_sample(double *part, const float *d_out, const float *in, const rs_conv2d_dims *d,
                               int32_t n) {
    const int32_t G = d->groups, cg = d->c_in / G, og = d->c_out / G, KW = d->kw, sw = d->stride_w;
    const int32_t H = d->h_in, W = d->w_in, Ho = d->h_out, Wo = d->w_out, Ci = d->c_in, Co = d->c_out;
    const int circ = d->pad_mode == RS_PAD_CIRCULAR;
    for (int32_t tap = 0; tap < d->kh * KW; tap++) {
        const int32_t kh = tap / KW, kw = tap % KW;
        for (int32_t g = 0; g < G; g++)
            for (int32_t c0 = 0; c0 < cg; c0 += RS_KP)
                for (int32_t o0 = 0; o0 < og; o0 += RS_KJ) {
                    const int32_t nc = cg - c0 < RS_KP ? cg - c0 : RS_KP, nj = og - o0 < RS_KJ ? og - o0 : RS_KJ;
                    double *pp = part + ((size_t)tap * G + g) * cg * og; // (cg, og)
                    for (int32_t y = 0; y < Ho; y++) {
                        const int32_t iy = conv_src(y * d->stride_h - d->pad_top + kh, H, circ);
                        if (iy < 0) continue;
                        float acc[RS_KP * RS_KJ] = {0};
                        for (int32_t x = 0; x < Wo;) {
                            const int32_t ix = conv_src(x * sw - d->pad_left + kw, W, circ);
                            if (ix < 0) {
                                x++;
                                continue;
                            }
                            int32_t len = 1; // the run of pixels whose tap positions step by sw
                            while (x + len < Wo &&
                                   conv_src((x + len) * sw - d->pad_left + kw, W, circ) == ix + len * sw)
                                len++;
                            const float *ip = in + (((size_t)n * H + iy) * W + ix) * Ci + (size_t)g * cg + c0;
                            const float *a[RS_KP];
                            for (int32_t p = 0; p < RS_KP; p++) a[p] = ip + (p < nc ? p : 0);
                            const float *b = d_out + (((size_t)n * Ho + y) * Wo + x) * Co + (size_t)g * og + o0;
                            rs_ref_kernel(acc, a, (int64_t)sw * Ci, b, Co, len, nj);
                            x += len;
                        }
                        for (int32_t p = 0; p < nc; p++)
                            for (int32_t j = 0; j < nj; j++) pp[(size_t)(c0 + p) * og + o0 + j] += acc[p * RS_KJ + j];
                    }
                }
    }
}

/* Depthwise weight gradient of one sample into part (KH, KW, C), in double, vectorised over the channels. */
static void conv_weight_sample_depthwise(double *part, const float *d_out, const float *in,
                                         const rs_conv2d_dims *d, int32_t n) {
    const int32_t KW = d->kw, H = d->h_in, W = d->w_in, Ho = d->h_out, Wo = d->w_out, C = d->c_in;
    const int circ = d->pad_mode == RS_PAD_CIRCULAR;
    for (int32_t tap = 0; tap < d->kh * KW; tap++) {
        const int32_t kh = tap / KW, kw = tap % KW;
        double *pp = part + (size_t)tap * C;
        for (int32_t y = 0; y < Ho; y++) {
            const int32_t iy = conv_src(y * d->stride_h - d->pad_top + kh, H, circ);
            if (iy < 0) continue;
            for (int32_t x = 0; x < Wo; x++) {
                const int32_t ix = conv_src(x * d->stride_w - d->pad_left + kw, W, circ);
                if (ix < 0) continue;
                const float *ip = in + (((size_t)n * H + iy) * W + ix) * C;
                const float *dop = d_out + (((size_t)n * Ho + y) * Wo + x) * C;
                for (int32_t c = 0; c < C; c++) pp[c] += (double)ip[c] * (double)dop[c];
            }
        }
    }
}

#define RS_KPART_BUDGET ((size_t)64 << 20) /* bytes of per-sample weight-gradient partials held at once */
#define RS_KPART_MAX 16                      /* samples per round, at most */

/* Partial buffers for the weight gradient: as many samples per round as fit the budget (not the thread count, so
 * the workspace and the results are the same on any machine). */
static int32_t conv_part_count(const rs_conv2d_dims *d, size_t wn) {
    int32_t k = d->n < RS_KPART_MAX ? d->n : RS_KPART_MAX;
    while (k > 1 && (size_t)k * wn * sizeof(double) > RS_KPART_BUDGET) k--;
    return k;
}

/* d_weight (C_out, cg, KH, KW) += sum over the batch. Samples go in rounds of nparts: each sample's gradient is
 * computed (in double, by one thread) into its own partial, then every weight element adds the round's partials in
 * sample order, so the sum does not depend on the thread count. dw (wn) and parts (nparts * wn) are workspace. */
static void conv_backward_weight(float *d_weight, double *dw, double *parts, int32_t nparts, const float *d_out,
                                 const float *in, const rs_conv2d_dims *d) {
    const int32_t G = d->groups, cg = d->c_in / G, og = d->c_out / G, KH = d->kh, KW = d->kw;
    const size_t wn = (size_t)d->c_out * cg * KH * KW;
    const int depthwise = cg == 1 && og == 1;
    const int64_t work = (int64_t)d->n * d->h_out * d->w_out * (int64_t)wn;
    memset(dw, 0, wn * sizeof(double));
#pragma omp parallel if (work >= RS_PAR_MIN_WORK)
    for (int32_t n0 = 0; n0 < d->n; n0 += nparts) { // every thread runs the rounds; the work inside is shared
        const int32_t nr = d->n - n0 < nparts ? d->n - n0 : nparts;
#pragma omp for schedule(dynamic, 1)
        for (int32_t i = 0; i < nr; i++) {
            double *part = parts + (size_t)i * wn;
            memset(part, 0, wn * sizeof(double));
            if (depthwise)
                conv_weight_sample_depthwise(part, d_out, in, d, n0 + i);
            else
                conv_weight_sample(part, d_out, in, d, n0 + i);
        }
#pragma omp for schedule(static)
        for (size_t e = 0; e < wn; e++)
            for (int32_t i = 0; i < nr; i++) dw[e] += parts[(size_t)i * wn + e];
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
    const int32_t cg = d->c_in / d->groups, og = d->c_out / d->groups;
    const size_t wn = (size_t)d->c_out * cg * d->kh * d->kw;
    const int32_t nparts = conv_part_count(d, wn);
    // workspace: dw (wn doubles), the per-sample partials (nparts * wn doubles), the transposed weight (wn floats)
    char *base = rs_workspace_get(ws, wn * ((size_t)(nparts + 1) * sizeof(double) + sizeof(float)));
    RS_ASSERT(base);
    double *dw = (double *)base, *parts = dw + wn;         // (KH, KW, G, cg, og) each
    float *wt2 = (float *)(parts + (size_t)nparts * wn);   // (KH, KW, G, og, cg)
    if (d_in) {
        conv_relayout(wt2, weight, d, 0);
        const int64_t work = (int64_t)d->n * d->h_out * d->w_out * (int64_t)wn;
        // one thread per sample: rows of one sample write overlapping parts of its d_in
#pragma omp parallel for schedule(static) if (work >= RS_PAR_MIN_WORK)
        for (int32_t n = 0; n < d->n; n++)
            for (int32_t y = 0; y < d->h_out; y++) {
                if (cg == 1 && og == 1)
                    conv_backward_input_row_depthwise(d_in, d_out, wt2, d, n, y);
                else
                    conv_backward_input_row(d_in, d_out, wt2, d, n, y);
            }
    }
    if (d_weight) conv_backward_weight(d_weight, dw, parts, nparts, d_out, in, d);
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
