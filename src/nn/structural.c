/* structural.c: the ops that move or mask values without learned weights of their own: residual add,
 * squeeze-excitation channel multiply, flatten (NHWC to PyTorch's C, H, W order), zero padding, dropout,
 * drop-connect and a constant scale. One plain-C version each (OpenMP where it pays); there is no fast path.
 * Dropout masks come from the counter-based RNG, so backward redraws the forward's mask instead of saving it. */
#include "relstab/ops.h"
#include "nn/ref_internal.h"

#define MUL_CBLOCK 64 /* channels per double accumulator in mul_channel's backward */

void rs_add_forward(float *out, const float *a, const float *b, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= RS_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/* d_a and d_b may be the same buffer (x + x): it then receives d_out twice. */
void rs_add_backward(float *d_a, float *d_b, const float *d_out, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= RS_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) {
        if (d_a) d_a[i] += d_out[i];
        if (d_b) d_b[i] += d_out[i];
    }
}

/* out (N, HW, C) = x (N, HW, C) * s (N, C). */
void rs_mul_channel_forward(float *out, const float *x, const float *s, int64_t n, int64_t hw, int64_t c) {
#pragma omp parallel for collapse(2) schedule(static) if (n * hw * c >= RS_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++)
        for (int64_t p = 0; p < hw; p++) {
            const int64_t at = (i * hw + p) * c;
            for (int64_t j = 0; j < c; j++) out[at + j] = x[at + j] * s[i * c + j];
        }
}

/* d_x += d_out * s; d_s (N, C) += sum over HW of d_out * x (in double). One thread per sample. */
void rs_mul_channel_backward(float *d_x, float *d_s, const float *d_out, const float *x, const float *s,
                             int64_t n, int64_t hw, int64_t c) {
#pragma omp parallel for schedule(static) if (n * hw * c >= RS_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) {
        if (d_x)
            for (int64_t p = 0; p < hw; p++) {
                const int64_t at = (i * hw + p) * c;
                for (int64_t j = 0; j < c; j++) d_x[at + j] += d_out[at + j] * s[i * c + j];
            }
        if (d_s)
            for (int64_t j0 = 0; j0 < c; j0 += MUL_CBLOCK) {
                const int64_t jn = c - j0 < MUL_CBLOCK ? c - j0 : MUL_CBLOCK;
                double acc[MUL_CBLOCK] = {0};
                for (int64_t p = 0; p < hw; p++) {
                    const int64_t at = (i * hw + p) * c + j0;
                    for (int64_t j = 0; j < jn; j++) acc[j] += (double)d_out[at + j] * (double)x[at + j];
                }
                for (int64_t j = 0; j < jn; j++) d_s[i * c + j0 + j] += (float)acc[j];
            }
    }
}

/* in (N, H, W, C) -> out (N, C*H*W), element (c, y, x) at (c*H + y)*W + x. */
void rs_flatten_forward(float *out, const float *in, int64_t n, int64_t h, int64_t w, int64_t c) {
#pragma omp parallel for collapse(2) schedule(static) if (n * h * w * c >= RS_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++)
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++)
                for (int64_t k = 0; k < c; k++)
                    out[i * c * h * w + (k * h + y) * w + x] = in[((i * h + y) * w + x) * c + k];
}

void rs_flatten_backward(float *d_in, const float *d_out, int64_t n, int64_t h, int64_t w, int64_t c) {
#pragma omp parallel for collapse(2) schedule(static) if (n * h * w * c >= RS_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++)
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++)
                for (int64_t k = 0; k < c; k++)
                    d_in[((i * h + y) * w + x) * c + k] += d_out[i * c * h * w + (k * h + y) * w + x];
}

/* in (N, H, W, C) -> out (N, H+top+bottom, W+left+right, C), zeros around. */
void rs_zeropad_forward(float *out, const float *in, int64_t n, int64_t h, int64_t w, int64_t c, int32_t top,
                        int32_t bottom, int32_t left, int32_t right) {
    const int64_t ho = h + top + bottom, wo = w + left + right;
#pragma omp parallel for collapse(2) schedule(static) if (n * ho * wo * c >= RS_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++)
        for (int64_t y = 0; y < ho; y++)
            for (int64_t x = 0; x < wo; x++) {
                float *op = out + ((i * ho + y) * wo + x) * c; // (C)
                const int64_t iy = y - top, ix = x - left;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
                    for (int64_t k = 0; k < c; k++) op[k] = 0.0f;
                } else {
                    const float *ip = in + ((i * h + iy) * w + ix) * c;
                    for (int64_t k = 0; k < c; k++) op[k] = ip[k];
                }
            }
}

void rs_zeropad_backward(float *d_in, const float *d_out, int64_t n, int64_t h, int64_t w, int64_t c, int32_t top,
                         int32_t bottom, int32_t left, int32_t right) {
    const int64_t ho = h + top + bottom, wo = w + left + right;
#pragma omp parallel for collapse(2) schedule(static) if (n * h * w * c >= RS_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++)
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++) {
                const float *dop = d_out + ((i * ho + y + top) * wo + x + left) * c;
                float *dip = d_in + ((i * h + y) * w + x) * c;
                for (int64_t k = 0; k < c; k++) dip[k] += dop[k];
            }
}

/* The kept-scale 1/(1-p); with p >= 1 nothing is kept and the scale is never used. */
static inline float keep_scale(float p) { return p < 1.0f ? (float)(1.0 / (1.0 - (double)p)) : 0.0f; }

/* out = in * mask / (1-p), mask_i = [rs_uniform(seed, stream, i) >= p]. Applied to in (forward) or to d_out with
 * accumulation (backward): the same mask both ways. */
static void dropout_apply(float *dst, const float *src, int64_t n, float p, uint64_t seed, uint64_t stream,
                          int accumulate) {
    const float scale = keep_scale(p);
#pragma omp parallel for schedule(static) if (n >= RS_PAR_MIN_WORK / 8)
    for (int64_t i = 0; i < n; i++) {
        const float v = rs_uniform(seed, stream, (uint64_t)i) >= (double)p ? src[i] * scale : 0.0f;
        if (accumulate)
            dst[i] += v;
        else
            dst[i] = v;
    }
}

void rs_dropout_forward(float *out, const float *in, int64_t n, float p, uint64_t seed, uint64_t stream) {
    dropout_apply(out, in, n, p, seed, stream, 0);
}

void rs_dropout_backward(float *d_in, const float *d_out, int64_t n, float p, uint64_t seed, uint64_t stream) {
    dropout_apply(d_in, d_out, n, p, seed, stream, 1);
}

/* Per-sample mask: sample i (per_sample elements) kept iff rs_uniform(seed, stream, i) >= p. */
static void dropconnect_apply(float *dst, const float *src, int64_t n, int64_t per_sample, float p, uint64_t seed,
                              uint64_t stream, int accumulate) {
    const float scale = keep_scale(p);
#pragma omp parallel for schedule(static) if (n * (per_sample + 8) >= RS_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) {
        const float f = rs_uniform(seed, stream, (uint64_t)i) >= (double)p ? scale : 0.0f;
        float *d = dst + i * per_sample;
        const float *s = src + i * per_sample;
        if (accumulate)
            for (int64_t j = 0; j < per_sample; j++) d[j] += f == 0.0f ? 0.0f : s[j] * f;
        else
            for (int64_t j = 0; j < per_sample; j++) d[j] = f == 0.0f ? 0.0f : s[j] * f;
    }
}

void rs_dropconnect_forward(float *out, const float *in, int64_t n, int64_t per_sample, float p, uint64_t seed,
                            uint64_t stream) {
    dropconnect_apply(out, in, n, per_sample, p, seed, stream, 0);
}

void rs_dropconnect_backward(float *d_in, const float *d_out, int64_t n, int64_t per_sample, float p,
                             uint64_t seed, uint64_t stream) {
    dropconnect_apply(d_in, d_out, n, per_sample, p, seed, stream, 1);
}

void rs_scale_forward(float *out, const float *in, int64_t n, float alpha) {
#pragma omp parallel for simd schedule(static) if (n >= RS_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) out[i] = alpha * in[i];
}

void rs_scale_backward(float *d_in, const float *d_out, int64_t n, float alpha) {
#pragma omp parallel for simd schedule(static) if (n >= RS_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) d_in[i] += alpha * d_out[i];
}
