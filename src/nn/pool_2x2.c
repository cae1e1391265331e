/* pool_2x2.c: the fast path's max pooling for the common 2x2 window with stride 2 and no padding (LeNet's, VGG's),
 * in plain C on NHWC activations. It gives the reference's outputs and argmax bit for bit (first maximum in window
 * order, a NaN wins, a later NaN over an earlier one), and saves the argmax in the reference's int32 format, so the
 * reference backward is its backward. oneDNN's pooling keeps C-blocked vector lanes busy only for many channels and
 * routes its backward through a scratch buffer and an add; this kernel reads each input once (measured in
 * bench/bench_ops: docs/bench.md). It is not used for other windows, strides or padding. */
#include "relstab/ops.h"
#include "nn/ref_internal.h"

int rs_maxpool2d_is_2x2(const rs_pool2d_dims *d) {
    return d->kh == 2 && d->kw == 2 && d->stride_h == 2 && d->stride_w == 2 && d->pad_h == 0 && d->pad_w == 0;
}

/* The running maximum m and its index k take candidate v (index i) when v is larger or a NaN (the reference's
 * comparison). Branch-free selects, so that the loops below vectorise. */
#define RS_POOL_TAKE(m, k, v, i)                                                                                       \
    do {                                                                                                               \
        const int t_ = ((v) > (m)) | ((v) != (v));                                                                     \
        (m) = t_ ? (v) : (m), (k) = t_ ? (i) : (k);                                                                    \
    } while (0)

/* One output row (n, y) for C < 16 channels, as Wo C elements flattened: element j = x C + c reads the top row r0 at off[j] = 2 x C + c
 * (and + C, and the same two in the bottom row r1). Flattening keeps the vector lanes full when C is small (LeNet's
 * 6 channels). out and arg (Wo C); arg may be NULL; base is the H*W index of the row's first window. */
static void row_2x2_flat(float *restrict out, int32_t *restrict arg, const float *restrict r0, const float *restrict r1,
                    const int32_t *restrict off, const int32_t *restrict pix, int32_t n, int32_t C, int32_t W,
                    int32_t base) {
    if (arg) {
#pragma omp simd
        for (int32_t j = 0; j < n; j++) {
            const int32_t o = off[j], i0 = base + pix[j];
            float m = r0[o];
            int32_t k = i0;
            RS_POOL_TAKE(m, k, r0[o + C], i0 + 1);
            RS_POOL_TAKE(m, k, r1[o], i0 + W);
            RS_POOL_TAKE(m, k, r1[o + C], i0 + W + 1);
            out[j] = m, arg[j] = k;
        }
    } else {
#pragma omp simd
        for (int32_t j = 0; j < n; j++) {
            const int32_t o = off[j];
            float m = r0[o];
            int32_t k = 0;
            RS_POOL_TAKE(m, k, r0[o + C], 1);
            RS_POOL_TAKE(m, k, r1[o], 2);
            RS_POOL_TAKE(m, k, r1[o + C], 3);
            out[j] = m;
            (void)k;
        }
    }
}

/* One output row (n, y) for C >= 16 channels: pixel by pixel, the channel loop vectorised with contiguous loads. */
static void row_2x2_wide(float *restrict out, int32_t *restrict arg, const float *restrict r0,
                         const float *restrict r1, int32_t Wo, int32_t C, int32_t W, int32_t base) {
    for (int32_t x = 0; x < Wo; x++) {
        const float *a = r0 + (size_t)2 * x * C, *b = a + C, *e = r1 + (size_t)2 * x * C, *f = e + C; // (C) each
        float *o = out + (size_t)x * C;
        const int32_t i0 = base + 2 * x;
        if (arg) {
            int32_t *s = arg + (size_t)x * C;
#pragma omp simd
            for (int32_t c = 0; c < C; c++) {
                float m = a[c];
                int32_t k = i0;
                RS_POOL_TAKE(m, k, b[c], i0 + 1);
                RS_POOL_TAKE(m, k, e[c], i0 + W);
                RS_POOL_TAKE(m, k, f[c], i0 + W + 1);
                o[c] = m, s[c] = k;
            }
        } else {
#pragma omp simd
            for (int32_t c = 0; c < C; c++) {
                float m = a[c];
                int32_t k = 0;
                RS_POOL_TAKE(m, k, b[c], 1);
                RS_POOL_TAKE(m, k, e[c], 2);
                RS_POOL_TAKE(m, k, f[c], 3);
                o[c] = m;
                (void)k;
            }
        }
    }
}

/* out (N, Ho, Wo, C); saved (N, Ho, Wo, C) int32 argmax into the H*W plane (the reference's format), or NULL. Below
 * 16 channels the windows' offsets are tabulated once for a piece of a row (at most RS_POOL_ROW elements). */
#define RS_POOL_ROW 4096
void rs_maxpool2d_2x2_forward(float *out, void *saved, const float *in, const rs_pool2d_dims *d) {
    const int32_t H = d->h_in, W = d->w_in, Ho = d->h_out, Wo = d->w_out, C = d->c;
    const int wide = C >= 16;
    const int32_t step = wide ? Wo : RS_POOL_ROW / C; /* pixels per piece of a row */
    int32_t off[RS_POOL_ROW], pix[RS_POOL_ROW];        /* (piece) for the flat rows */
    if (!wide)
        for (int32_t j = 0; j < step * C; j++) off[j] = 2 * (j / C) * C + j % C, pix[j] = 2 * (j / C);
    const int64_t work = (int64_t)d->n * Ho * Wo * C * 4;
#pragma omp parallel for collapse(2) schedule(static) if (work >= RS_PAR_MIN_WORK)
    for (int32_t n = 0; n < d->n; n++)
        for (int32_t y = 0; y < Ho; y++) {
            const size_t at = (((size_t)n * Ho + y) * Wo) * C;
            const float *r0 = in + ((size_t)n * H + 2 * y) * W * C, *r1 = r0 + (size_t)W * C; // (W, C) each
            int32_t *arg = saved ? (int32_t *)saved + at : NULL;
            for (int32_t x0 = 0; x0 < Wo; x0 += step) {
                const int32_t np = Wo - x0 < step ? Wo - x0 : step;
                const size_t sh = (size_t)x0 * C;
                if (wide)
                    row_2x2_wide(out + at, arg, r0, r1, Wo, C, W, 2 * y * W);
                else
                    row_2x2_flat(out + at + sh, arg ? arg + sh : NULL, r0 + 2 * sh, r1 + 2 * sh, off, pix, np * C, C,
                                 W, 2 * y * W + 2 * x0);
            }
        }
}
