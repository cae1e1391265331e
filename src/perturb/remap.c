/* remap.c: applies a displacement field to an image (SPEC.md 2.2): out(y, x) = in(y - dy, x - dx), source clamped
 * to the image, by bilinear, nearest or gaussian interpolation; and the gaussian smoothing of clean images.
 * It does not make fields (diffeo.c) and does not thread: the batch functions thread over images. */
#include "relstab/perturb.h"

#include <math.h>
#include <omp.h>

/* Half-width, in pixels, of the window of the gaussian interpolation. A pixel at distance > 6 along an axis has
 * weight < exp(-36/(2 * 0.4715^2)) = 7e-36, while the nearest pixel (distance <= 1/2) has weight > 0.57: the
 * skipped pixels together weigh < 1e-34 of the total, far below double rounding. */
#define GAUSS_RADIUS 6
#define GAUSS_TAPS (2 * GAUSS_RADIUS + 2)

/* Source point of output pixel (y, x), clamped. fmax/fmin also map a NaN displacement to the border. */
static inline void source_point(const float *dx, const float *dy, size_t i, int32_t y, int32_t x, int32_t h,
                                int32_t w, double *ys, double *xs) {
    double sx = (double)x - (dx ? (double)dx[i] : 0.0);
    double sy = (double)y - (dy ? (double)dy[i] : 0.0);
    *xs = fmin(fmax(sx, 0.0), (double)(w - 1));
    *ys = fmin(fmax(sy, 0.0), (double)(h - 1));
}

static void remap_linear(float *out, const float *in, int32_t c, int32_t h, int32_t w, const float *dx,
                         const float *dy) { // out, in: (C, H, W)
    size_t hw = (size_t)h * w;
    for (int32_t y = 0; y < h; y++)
        for (int32_t x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            double ys, xs;
            source_point(dx, dy, i, y, x, h, w, &ys, &xs);
            double yf = floor(ys), xf = floor(xs);
            size_t y0 = (size_t)yf, x0 = (size_t)xf, y1 = (size_t)ceil(ys), x1 = (size_t)ceil(xs);
            double yv = ys - yf, xv = xs - xf;
            double w00 = (1 - yv) * (1 - xv), w01 = (1 - yv) * xv, w10 = yv * (1 - xv), w11 = yv * xv;
            size_t i00 = y0 * w + x0, i01 = y0 * w + x1, i10 = y1 * w + x0, i11 = y1 * w + x1;
            for (int32_t ch = 0; ch < c; ch++) {
                const float *a = in + (size_t)ch * hw;
                out[(size_t)ch * hw + i] = (float)(w00 * a[i00] + w01 * a[i01] + w10 * a[i10] + w11 * a[i11]);
            }
        }
}

static void remap_nearest(float *out, const float *in, int32_t c, int32_t h, int32_t w, const float *dx,
                          const float *dy) { // out, in: (C, H, W)
    size_t hw = (size_t)h * w;
    for (int32_t y = 0; y < h; y++)
        for (int32_t x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            double ys, xs;
            source_point(dx, dy, i, y, x, h, w, &ys, &xs);
            size_t j = (size_t)nearbyint(ys) * w + (size_t)nearbyint(xs); /* half to even, like torch.round */
            for (int32_t ch = 0; ch < c; ch++) out[(size_t)ch * hw + i] = in[(size_t)ch * hw + j];
        }
}

/* Gaussian weights of the pixels lo..lo+n-1 of an axis around s; returns their sum. */
static double gauss_taps(double s, int32_t size, int32_t *lo, int32_t *n, double *wt) {
    const double k = 1.0 / (2.0 * RS_GAUSSIAN_SIGMA * RS_GAUSSIAN_SIGMA);
    int32_t a = (int32_t)ceil(s - GAUSS_RADIUS), b = (int32_t)floor(s + GAUSS_RADIUS);
    if (a < 0) a = 0;
    if (b > size - 1) b = size - 1;
    double sum = 0.0;
    for (int32_t p = a; p <= b; p++) {
        double d = (double)p - s;
        wt[p - a] = exp(-d * d * k);
        sum += wt[p - a];
    }
    *lo = a;
    *n = b - a + 1;
    return sum;
}

static void remap_gaussian(float *out, const float *in, int32_t c, int32_t h, int32_t w, const float *dx,
                           const float *dy) { // out, in: (C, H, W)
    size_t hw = (size_t)h * w;
    double wy[GAUSS_TAPS], wx[GAUSS_TAPS];
    for (int32_t y = 0; y < h; y++)
        for (int32_t x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            double ys, xs;
            source_point(dx, dy, i, y, x, h, w, &ys, &xs);
            int32_t ylo, ny, xlo, nx;
            double norm = gauss_taps(ys, h, &ylo, &ny, wy) * gauss_taps(xs, w, &xlo, &nx, wx);
            for (int32_t ch = 0; ch < c; ch++) {
                const float *a = in + (size_t)ch * hw;
                double s = 0.0;
                for (int32_t r = 0; r < ny; r++) {
                    const float *row = a + (size_t)(ylo + r) * w + xlo;
                    double sr = 0.0;
                    for (int32_t q = 0; q < nx; q++) sr += wx[q] * row[q];
                    s += wy[r] * sr;
                }
                out[(size_t)ch * hw + i] = (float)(s / norm);
            }
        }
}

void rs_remap(float *out, const float *in, int32_t c, int32_t h, int32_t w, const float *dx, const float *dy,
              rs_interp interp) {
    RS_ASSERT(out != in && c >= 1 && h >= 1 && w >= 1);
    switch (interp) {
    case RS_INTERP_LINEAR: remap_linear(out, in, c, h, w, dx, dy); return;
    case RS_INTERP_NEAREST: remap_nearest(out, in, c, h, w, dx, dy); return;
    case RS_INTERP_GAUSSIAN: remap_gaussian(out, in, c, h, w, dx, dy); return;
    }
    RS_ASSERT(!"unknown interpolation");
}

rs_status rs_gaussian_smooth_batch(float *out, const float *in, int64_t b, int32_t c, int32_t h, int32_t w) {
    if (b < 0 || c < 1 || h < 1 || w < 1)
        return rs_error(RS_ERR_ARG, "rs_gaussian_smooth_batch: bad shape (%lld, %d, %d, %d)", (long long)b, c, h, w);
    if (b > 0 && out == in) return rs_error(RS_ERR_ARG, "rs_gaussian_smooth_batch: out must not alias in");
    size_t chw = (size_t)c * h * w;
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < b; p++) remap_gaussian(out + (size_t)p * chw, in + (size_t)p * chw, c, h, w, NULL, NULL);
    return RS_OK;
}
