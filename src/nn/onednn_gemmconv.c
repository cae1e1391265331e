/* onednn_gemmconv.c: the backward of conv2d as two GEMMs over an im2col matrix (oneDNN's sgemm), for the small
 * feature maps where oneDNN's direct backward kernels starve.
 *
 * For a convolution with few output pixels per image (VGG's and ResNet's 4x4 and 2x2 maps on CIFAR), the rows of
 * all images together make one large GEMM: col (R, C_in KH KW) holds, for each output pixel, the input values under
 * its window (zero in the padding), in the order (c_in, ky, kx) of PyTorch's weight (C_out, C_in, KH, KW), so the
 * weight is used as is, never reordered:
 *   d_col (R, C_in KH KW) = d_out (R, C_out) W (C_out, C_in KH KW), folded back onto d_in (col2im, a gather);
 *   d_W (C_out, C_in KH KW) += d_out^T (C_out, R) col (R, C_in KH KW), accumulated in place by the GEMM (beta 1).
 * R runs over whole images in chunks of about RS_GEMMCONV_CHUNK bytes of col, one buffer reused. Measured
 * (bench/bench_fma.c, batch 128, 1 thread, docs/bench.md): 512 channels on 4x4 and on 2x2, backward in 0.8-0.9
 * and 0.5-0.6 of the direct primitives' time. The rule is fixed on the shape (never a timing, so a resumed run
 * computes the same sums): the same as the forward's kernel rule in onednn_conv.c (3x3, stride 1, one group, at
 * least 128 channels in and out, at most 16 output pixels per image), zero padding.
 * rs_set_conv_kernel(RS_CONV_KERNEL_GEMM) takes this path for every zero-padded one-group shape (tests),
 * RS_CONV_KERNEL_ONEDNN never (benchmarks). Not here: the forward (the direct kernels win there), circular padding,
 * groups. */
#ifdef RELSTAB_HAVE_ONEDNN
#include <string.h>

#include "nn/onednn_internal.h"
#include "relstab/ops.h"

#define RS_GEMMCONV_CHUNK ((size_t)16 << 20) /* bytes of col per GEMM */

int rs_dnnl_conv_gemm_taken(const rs_conv2d_dims *d) {
    if (d->groups != 1 || (d->pad_mode == RS_PAD_CIRCULAR && (d->pad_top | d->pad_bottom | d->pad_left |
                                                              d->pad_right) != 0))
        return 0;
    rs_conv_kernel k = rs_get_conv_kernel();
    if (k == RS_CONV_KERNEL_GEMM) return 1;
    return k == RS_CONV_KERNEL_RULE && rs_dnnl_conv_small_map(d);
}

/* Row r (= image n, output pixel (oy, ox)) of col (R, C_in KH KW) from in (N, H, W, C_in). */
static void im2col_row(float *row, const float *in, const rs_conv2d_dims *d, int64_t r) {
    const int64_t hw = (int64_t)d->h_out * d->w_out, n = r / hw, oy = r % hw / d->w_out, ox = r % d->w_out;
    const int64_t kk = (int64_t)d->kh * d->kw, c = d->c_in;
    for (int64_t ky = 0; ky < d->kh; ky++)
        for (int64_t kx = 0; kx < d->kw; kx++) {
            int64_t y = oy * d->stride_h + ky - d->pad_top, x = ox * d->stride_w + kx - d->pad_left;
            float *dst = row + ky * d->kw + kx; /* column ci KH KW + ky KW + kx */
            if (y < 0 || y >= d->h_in || x < 0 || x >= d->w_in) {
                for (int64_t ci = 0; ci < c; ci++) dst[ci * kk] = 0.0f;
                continue;
            }
            const float *src = in + ((n * d->h_in + y) * d->w_in + x) * c;
            for (int64_t ci = 0; ci < c; ci++) dst[ci * kk] = src[ci];
        }
}

/* Input row (image n, row y) of d_in += the fold of d_col (rows of the images [n0, ...)): each input value
 * gathers, in the fixed order (ky, kx), the columns of the output pixels whose window covers it. */
static void col2im_row(float *d_in, const float *d_col, const rs_conv2d_dims *d, int64_t n0, int64_t row) {
    const int64_t n = row / d->h_in, y = row % d->h_in, kk = (int64_t)d->kh * d->kw, c = d->c_in;
    const int64_t cols = c * kk, hw = (int64_t)d->h_out * d->w_out;
    for (int64_t x = 0; x < d->w_in; x++) {
        float *dst = d_in + ((n * d->h_in + y) * d->w_in + x) * c;
        for (int64_t ky = 0; ky < d->kh; ky++) {
            int64_t ty = y + d->pad_top - ky;
            if (ty < 0 || ty % d->stride_h || ty / d->stride_h >= d->h_out) continue;
            for (int64_t kx = 0; kx < d->kw; kx++) {
                int64_t tx = x + d->pad_left - kx;
                if (tx < 0 || tx % d->stride_w || tx / d->stride_w >= d->w_out) continue;
                const float *src =
                    d_col + ((n - n0) * hw + ty / d->stride_h * d->w_out + tx / d->stride_w) * cols + ky * d->kw + kx;
                for (int64_t ci = 0; ci < c; ci++) dst[ci] += src[ci * kk];
            }
        }
    }
}

static void im2col(float *col, const float *in, const rs_conv2d_dims *d, int64_t r0, int64_t rows) {
    const int64_t cols = (int64_t)d->c_in * d->kh * d->kw;
    if (rows * cols < RS_DNNL_PAR_MIN) {
        for (int64_t r = 0; r < rows; r++) im2col_row(col + r * cols, in, d, r0 + r);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) im2col_row(col + r * cols, in, d, r0 + r);
}

static void col2im_add(float *d_in, const float *d_col, const rs_conv2d_dims *d, int64_t n0, int64_t images) {
    const int64_t rows = images * d->h_in, size = rows * d->w_in * d->c_in * d->kh * d->kw;
    if (size < RS_DNNL_PAR_MIN) {
        for (int64_t r = 0; r < rows; r++) col2im_row(d_in, d_col, d, n0, n0 * d->h_in + r);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) col2im_row(d_in, d_col, d, n0, n0 * d->h_in + r);
}

void rs_dnnl_conv_gemm_backward(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                                const float *weight, const rs_conv2d_dims *d, rs_workspace *ws) {
    const int64_t hw = (int64_t)d->h_out * d->w_out, cols = (int64_t)d->c_in * d->kh * d->kw, co = d->c_out;
    if (d_bias) rs_dnnl_colsum_add(d_bias, d_out, (int64_t)d->n * hw, co);
    if (!d_in && !d_weight) return;
    int64_t per = (int64_t)(RS_GEMMCONV_CHUNK / ((size_t)(hw * cols) * sizeof(float))); /* images per chunk */
    if (per < 1) per = 1;
    if (per > d->n) per = d->n;
    float *col = rs_workspace_get(ws, (size_t)(per * hw * cols) * sizeof(float)); // (per H_out W_out, C_in KH KW)
    RS_ASSERT(col != NULL);
    for (int64_t n0 = 0; n0 < d->n; n0 += per) {
        const int64_t images = d->n - n0 < per ? d->n - n0 : per, rows = images * hw;
        const float *dy = d_out + n0 * hw * co; // (rows, C_out)
        if (d_in) {
            RS_DNNL_CHECK(dnnl_sgemm('N', 'N', rows, cols, co, 1.0f, dy, co, weight, cols, 0.0f, col, cols));
            col2im_add(d_in, col, d, n0, images);
        }
        if (d_weight) {
            im2col(col, in, d, n0 * hw, rows);
            RS_DNNL_CHECK(dnnl_sgemm('T', 'N', co, cols, rows, 1.0f, dy, co, col, cols, 1.0f, d_weight, cols));
        }
    }
}
#else
typedef int rs_onednn_gemmconv_empty; /* this build has no oneDNN: no GEMM path */
#endif
