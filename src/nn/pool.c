/* pool.c: max, average and adaptive-average pooling on NHWC activations: the dims check, the plain-C reference
 * forward and backward, and the dispatchers to the fast path (max and average pool have one; adaptive pooling is
 * a single plain-C version). Floor mode only (no ceil_mode), no dilation. Semantics are PyTorch's: max pooling
 * treats padding as -infinity and takes the first maximum in row-major window order (NaN wins, as in PyTorch);
 * average pooling divides by the full window (count_include_pad) or by the valid elements. Backward scatters with
 * one thread per sample, so sums are in a fixed order whatever the thread count. */
#include "relstab/ops.h"
#include "nn/ref_internal.h"

#include <math.h>

rs_status rs_pool2d_dims_finish(rs_pool2d_dims *d) {
    if (!d) return rs_error(RS_ERR_ARG, "pool2d: no dims given");
    if (d->n <= 0 || d->h_in <= 0 || d->w_in <= 0 || d->c <= 0)
        return rs_error(RS_ERR_ARG, "pool2d: sizes must be positive (n %d, h_in %d, w_in %d, c %d)", d->n, d->h_in,
                        d->w_in, d->c);
    if (d->kh <= 0 || d->kw <= 0) return rs_error(RS_ERR_ARG, "pool2d: kernel %dx%d must be positive", d->kh, d->kw);
    if (d->stride_h <= 0 || d->stride_w <= 0)
        return rs_error(RS_ERR_ARG, "pool2d: stride %dx%d must be positive", d->stride_h, d->stride_w);
    if (d->pad_h < 0 || d->pad_w < 0 || d->pad_h > d->kh / 2 || d->pad_w > d->kw / 2)
        return rs_error(RS_ERR_ARG, "pool2d: padding %dx%d must be between 0 and half the kernel %dx%d", d->pad_h,
                        d->pad_w, d->kh, d->kw);
    int64_t hp = (int64_t)d->h_in + 2 * d->pad_h, wp = (int64_t)d->w_in + 2 * d->pad_w;
    if (hp < d->kh || wp < d->kw)
        return rs_error(RS_ERR_ARG, "pool2d: kernel %dx%d is larger than the padded input %lldx%lld", d->kh, d->kw,
                        (long long)hp, (long long)wp);
    d->h_out = (int32_t)((hp - d->kh) / d->stride_h + 1);
    d->w_out = (int32_t)((wp - d->kw) / d->stride_w + 1);
    return RS_OK;
}

size_t rs_maxpool2d_saved_bytes(const rs_pool2d_dims *d) {
    return sizeof(int32_t) * (size_t)d->n * d->h_out * d->w_out * d->c;
}

/* One output pixel of max pooling: the window clipped to the input (padding never wins, being -infinity). The
 * index starts at the first valid element, as PyTorch's, so an all -infinity window still points inside. */
static void maxpool_pixel(float *op, int32_t *sp, const float *in_n, const rs_pool2d_dims *d, int32_t y, int32_t x) {
    const int32_t C = d->c, W = d->w_in;
    int32_t y0 = y * d->stride_h - d->pad_h, x0 = x * d->stride_w - d->pad_w;
    int32_t y1 = y0 + d->kh < d->h_in ? y0 + d->kh : d->h_in, x1 = x0 + d->kw < W ? x0 + d->kw : W;
    y0 = y0 < 0 ? 0 : y0;
    x0 = x0 < 0 ? 0 : x0;
    for (int32_t c = 0; c < C; c++) op[c] = -INFINITY;
    if (sp)
        for (int32_t c = 0; c < C; c++) sp[c] = y0 * W + x0;
    for (int32_t iy = y0; iy < y1; iy++)
        for (int32_t ix = x0; ix < x1; ix++) {
            const float *ip = in_n + ((size_t)iy * W + ix) * C; // (C)
            const int32_t idx = iy * W + ix;
            if (sp) {
                for (int32_t c = 0; c < C; c++)
                    if (ip[c] > op[c] || isnan(ip[c])) op[c] = ip[c], sp[c] = idx;
            } else {
                for (int32_t c = 0; c < C; c++)
                    if (ip[c] > op[c] || isnan(ip[c])) op[c] = ip[c];
            }
        }
}

/* out (N, Ho, Wo, C); saved (N, Ho, Wo, C) int32 argmax into the H*W plane, or NULL. */
void rs_maxpool2d_forward_ref(float *out, void *saved, const float *in, const rs_pool2d_dims *d) {
    const int32_t Ho = d->h_out, Wo = d->w_out, C = d->c;
    const int64_t work = (int64_t)d->n * Ho * Wo * C * d->kh * d->kw;
#pragma omp parallel for collapse(2) schedule(static) if (work >= RS_PAR_MIN_WORK)
    for (int32_t n = 0; n < d->n; n++)
        for (int32_t y = 0; y < Ho; y++)
            for (int32_t x = 0; x < Wo; x++) {
                size_t at = (((size_t)n * Ho + y) * Wo + x) * C;
                maxpool_pixel(out + at, saved ? (int32_t *)saved + at : NULL,
                              in + (size_t)n * d->h_in * d->w_in * C, d, y, x);
            }
}

/* d_in (N, H, W, C) += d_out routed to the saved argmax. */
void rs_maxpool2d_backward_ref(float *d_in, const float *d_out, const void *saved, const rs_pool2d_dims *d) {
    const int32_t Ho = d->h_out, Wo = d->w_out, C = d->c;
    const int32_t *arg = saved;
#pragma omp parallel for schedule(static) if ((int64_t)d->n * Ho * Wo * C >= RS_PAR_MIN_WORK)
    for (int32_t n = 0; n < d->n; n++) {
        float *dn = d_in + (size_t)n * d->h_in * d->w_in * C; // (H, W, C)
        for (size_t p = 0; p < (size_t)Ho * Wo; p++) {
            size_t at = ((size_t)n * Ho * Wo + p) * C;
            for (int32_t c = 0; c < C; c++) dn[(size_t)arg[at + c] * C + c] += d_out[at + c];
        }
    }
}

/* The window of output (y, x) clipped to the input, and the divisor PyTorch uses (floor mode). */
typedef struct {
    int32_t y0, y1, x0, x1;
    float div;
} avg_window;

static avg_window avg_window_at(const rs_pool2d_dims *d, int32_t y, int32_t x) {
    avg_window w;
    int32_t ys = y * d->stride_h - d->pad_h, xs = x * d->stride_w - d->pad_w;
    int32_t ye = ys + d->kh, xe = xs + d->kw;
    int32_t ye_pad = ye < d->h_in + d->pad_h ? ye : d->h_in + d->pad_h;
    int32_t xe_pad = xe < d->w_in + d->pad_w ? xe : d->w_in + d->pad_w;
    w.y0 = ys < 0 ? 0 : ys;
    w.x0 = xs < 0 ? 0 : xs;
    w.y1 = ye < d->h_in ? ye : d->h_in;
    w.x1 = xe < d->w_in ? xe : d->w_in;
    w.div = d->count_include_pad ? (float)((ye_pad - ys) * (xe_pad - xs)) : (float)((w.y1 - w.y0) * (w.x1 - w.x0));
    return w;
}

void rs_avgpool2d_forward_ref(float *out, const float *in, const rs_pool2d_dims *d) {
    const int32_t Ho = d->h_out, Wo = d->w_out, C = d->c, W = d->w_in;
    const int64_t work = (int64_t)d->n * Ho * Wo * C * d->kh * d->kw;
#pragma omp parallel for collapse(2) schedule(static) if (work >= RS_PAR_MIN_WORK)
    for (int32_t n = 0; n < d->n; n++)
        for (int32_t y = 0; y < Ho; y++)
            for (int32_t x = 0; x < Wo; x++) {
                avg_window w = avg_window_at(d, y, x);
                float *op = out + (((size_t)n * Ho + y) * Wo + x) * C; // (C)
                for (int32_t c = 0; c < C; c++) op[c] = 0.0f;
                for (int32_t iy = w.y0; iy < w.y1; iy++)
                    for (int32_t ix = w.x0; ix < w.x1; ix++) {
                        const float *ip = in + (((size_t)n * d->h_in + iy) * W + ix) * C;
                        for (int32_t c = 0; c < C; c++) op[c] += ip[c];
                    }
                for (int32_t c = 0; c < C; c++) op[c] /= w.div;
            }
}

void rs_avgpool2d_backward_ref(float *d_in, const float *d_out, const rs_pool2d_dims *d) {
    const int32_t Ho = d->h_out, Wo = d->w_out, C = d->c, W = d->w_in;
    const int64_t work = (int64_t)d->n * Ho * Wo * C * d->kh * d->kw;
#pragma omp parallel for schedule(static) if (work >= RS_PAR_MIN_WORK)
    for (int32_t n = 0; n < d->n; n++)
        for (int32_t y = 0; y < Ho; y++)
            for (int32_t x = 0; x < Wo; x++) {
                avg_window w = avg_window_at(d, y, x);
                const float *dop = d_out + (((size_t)n * Ho + y) * Wo + x) * C; // (C)
                for (int32_t iy = w.y0; iy < w.y1; iy++)
                    for (int32_t ix = w.x0; ix < w.x1; ix++) {
                        float *dip = d_in + (((size_t)n * d->h_in + iy) * W + ix) * C;
                        for (int32_t c = 0; c < C; c++) dip[c] += dop[c] / w.div;
                    }
            }
}

/* PyTorch's adaptive bins: [floor(i*H/Ho), ceil((i+1)*H/Ho)). */
static inline int32_t bin_start(int32_t i, int32_t size, int32_t out) { return (int32_t)((int64_t)i * size / out); }
static inline int32_t bin_end(int32_t i, int32_t size, int32_t out) {
    return (int32_t)(((int64_t)(i + 1) * size + out - 1) / out);
}

#define ADAPT_CBLOCK 64 /* channels per double accumulator on the stack */

/* in (N, H, W, C) -> out (N, Ho, Wo, C), sums in double. */
void rs_adaptive_avgpool2d_forward(float *out, const float *in, int32_t n, int32_t h, int32_t w, int32_t c,
                                   int32_t ho, int32_t wo) {
    const int64_t work = (int64_t)n * (h + ho) * (w + wo) * c; // bins cover the input about once (more if overlapping)
#pragma omp parallel for collapse(2) schedule(static) if (work >= RS_PAR_MIN_WORK)
    for (int32_t i = 0; i < n; i++)
        for (int32_t y = 0; y < ho; y++) {
            const int32_t y0 = bin_start(y, h, ho), y1 = bin_end(y, h, ho);
            for (int32_t x = 0; x < wo; x++) {
                const int32_t x0 = bin_start(x, w, wo), x1 = bin_end(x, w, wo);
                const double count = (double)(y1 - y0) * (x1 - x0);
                float *op = out + (((size_t)i * ho + y) * wo + x) * c; // (C)
                for (int32_t c0 = 0; c0 < c; c0 += ADAPT_CBLOCK) {
                    const int32_t cn = c - c0 < ADAPT_CBLOCK ? c - c0 : ADAPT_CBLOCK;
                    double acc[ADAPT_CBLOCK] = {0};
                    for (int32_t iy = y0; iy < y1; iy++)
                        for (int32_t ix = x0; ix < x1; ix++) {
                            const float *ip = in + (((size_t)i * h + iy) * w + ix) * c + c0;
                            for (int32_t j = 0; j < cn; j++) acc[j] += ip[j];
                        }
                    for (int32_t j = 0; j < cn; j++) op[c0 + j] = (float)(acc[j] / count);
                }
            }
        }
}

/* Bins may overlap (when Ho does not divide H): an input element then receives from each bin that holds it. */
void rs_adaptive_avgpool2d_backward(float *d_in, const float *d_out, int32_t n, int32_t h, int32_t w, int32_t c,
                                    int32_t ho, int32_t wo) {
    const int64_t work = (int64_t)n * (h + ho) * (w + wo) * c;
#pragma omp parallel for schedule(static) if (work >= RS_PAR_MIN_WORK)
    for (int32_t i = 0; i < n; i++)
        for (int32_t y = 0; y < ho; y++) {
            const int32_t y0 = bin_start(y, h, ho), y1 = bin_end(y, h, ho);
            for (int32_t x = 0; x < wo; x++) {
                const int32_t x0 = bin_start(x, w, wo), x1 = bin_end(x, w, wo);
                const float inv = (float)(1.0 / ((double)(y1 - y0) * (x1 - x0)));
                const float *dop = d_out + (((size_t)i * ho + y) * wo + x) * c; // (C)
                for (int32_t iy = y0; iy < y1; iy++)
                    for (int32_t ix = x0; ix < x1; ix++) {
                        float *dip = d_in + (((size_t)i * h + iy) * w + ix) * c;
                        for (int32_t j = 0; j < c; j++) dip[j] += dop[j] * inv;
                    }
            }
        }
}

void rs_maxpool2d_forward(float *out, void *saved, const float *in, const rs_pool2d_dims *d) {
    if (rs_get_backend() == RS_BACKEND_REF)
        rs_maxpool2d_forward_ref(out, saved, in, d);
    else
        rs_maxpool2d_forward_fast(out, saved, in, d);
}

void rs_maxpool2d_backward(float *d_in, const float *d_out, const void *saved, const rs_pool2d_dims *d) {
    if (rs_get_backend() == RS_BACKEND_REF)
        rs_maxpool2d_backward_ref(d_in, d_out, saved, d);
    else
        rs_maxpool2d_backward_fast(d_in, d_out, saved, d);
}

void rs_avgpool2d_forward(float *out, const float *in, const rs_pool2d_dims *d) {
    if (rs_get_backend() == RS_BACKEND_REF)
        rs_avgpool2d_forward_ref(out, in, d);
    else
        rs_avgpool2d_forward_fast(out, in, d);
}

void rs_avgpool2d_backward(float *d_in, const float *d_out, const rs_pool2d_dims *d) {
    if (rs_get_backend() == RS_BACKEND_REF)
        rs_avgpool2d_backward_ref(d_in, d_out, d);
    else
        rs_avgpool2d_backward_fast(d_in, d_out, d);
}
