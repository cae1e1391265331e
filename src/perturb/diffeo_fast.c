/* diffeo_fast.c: the fast path of rs_diffeo_batch: one image's displacement field and its remap, computed with
 * the same double operations in the same order as the plain-C reference (diffeo.c's field_component, remap.c's
 * remap_linear / remap_nearest), so the output is the reference's bit for bit; test_diffeo_fast.c checks that.
 * What makes it faster (docs/bench.md, "Diffeomorphisms: the fast path"):
 *   - the field row by row, both components in one loop over x with the mode loop unrolled for the usual cutoffs
 *     (2, 3, 5; others take three simple loops per row), which the compiler vectorises (`omp simd`: the build's -O2
 *     vectorises only such loops);
 *   - the clamp of the source point written with comparisons instead of fmin/fmax calls (the same values: a NaN
 *     source goes to 0 in both; the source x - dx is never -0), floor by the exact 2^52 shift;
 *   - the bilinear indices and weights computed once per pixel, row by row, and applied to every channel while
 *     they are in the L1 cache.
 * It does not draw anything but through rs_diffeo_coeffs and does not thread: rs_diffeo_batch threads over images. */
#include "perturb_internal.h"

#include <math.h>

#define ALIGN64(n) (((n) + 63) & ~(size_t)63)

/* Scratch layout of one thread; every block 64-byte aligned. */
typedef struct {
    double *coef;             /* (2, c, c) */
    double *tx, *ty;          /* (c, W): sum_b C^k_ab sx[x, b] */
    double *acc;              /* (W) */
    int32_t *idx, *ox, *oy;   /* (W), one row: top-left source index, +1 if x1 != x0, +W if y1 != y0 */
    double *w00, *w01, *w10, *w11; /* (W), one row: bilinear weights */
} fast_scratch;

static size_t carve(const rs_diffeo_plan *p, char *base, fast_scratch *s) {
    size_t c = (size_t)p->cut, w = (size_t)p->w, off = 0;
#define TAKE(ptr, type, n)                                          \
    do {                                                            \
        if (base) (ptr) = (type *)(void *)(base + off);             \
        off += ALIGN64((n) * sizeof(type));                         \
    } while (0)
    fast_scratch t = {0};
    TAKE(t.coef, double, 2 * c * c);
    TAKE(t.tx, double, c * w);
    TAKE(t.ty, double, c * w);
    TAKE(t.acc, double, w);
    TAKE(t.idx, int32_t, w);
    TAKE(t.ox, int32_t, w);
    TAKE(t.oy, int32_t, w);
    TAKE(t.w00, double, w);
    TAKE(t.w01, double, w);
    TAKE(t.w10, double, w);
    TAKE(t.w11, double, w);
#undef TAKE
    if (base) *s = t;
    return off;
}

size_t rs__diffeo_fast_scratch(const rs_diffeo_plan *p) { return carve(p, NULL, NULL); }

/* ---------------------------------------------------------------- field */
/* tmp[a, x] = sum_b C[a, b] sx[x, b], the reference's first loop as is (c^2 W products). */
static void field_tmp(const rs_diffeo_plan *p, const double *C, double *tmp) { // C (c, c), tmp (c, W)
    int32_t w = p->w, c = p->cut;
    for (int32_t a = 0; a < c; a++)
        for (int32_t x = 0; x < w; x++) {
            double s = 0.0;
            for (int32_t b = 0; b < c; b++) s += C[a * c + b] * p->sx[(size_t)x * c + b];
            tmp[(size_t)a * w + x] = s;
        }
}

/* row[x] = (float)(scale * sum_a sy[a] tmp[a, x]), the sum from 0.0 in the order a = 0, 1, ... as the reference. */
static void field_row(const double *sy, const double *tmp, int32_t c, int32_t w, double scale, double *acc,
                      float *row) { // sy (c), tmp (c, W), acc (W), row (W)
#pragma omp simd
    for (int32_t x = 0; x < w; x++) acc[x] = 0.0 + sy[0] * tmp[x];
    for (int32_t a = 1; a < c; a++) {
        const double s = sy[a], *t = tmp + (size_t)a * w;
#pragma omp simd
        for (int32_t x = 0; x < w; x++) acc[x] += s * t[x];
    }
#pragma omp simd
    for (int32_t x = 0; x < w; x++) row[x] = (float)(scale * acc[x]);
}

/* Both rows at once for a cutoff CUT that is a constant once inlined: the mode loop unrolls and the x loop
 * vectorises as one; the same operations as field_row. */
static inline void field_rows_const(const int32_t CUT, const double *sy, const double *tx, const double *ty,
                                    int32_t w, double scx, double scy, float *dxr, float *dyr) {
#pragma omp simd
    for (int32_t x = 0; x < w; x++) {
        double ax = 0.0 + sy[0] * tx[x], ay = 0.0 + sy[0] * ty[x];
#pragma GCC unroll 8
        for (int32_t a = 1; a < CUT; a++) {
            ax += sy[a] * tx[(size_t)a * w + x];
            ay += sy[a] * ty[(size_t)a * w + x];
        }
        dxr[x] = (float)(scx * ax);
        dyr[x] = (float)(scy * ay);
    }
}

static void field_rows(const fast_scratch *s, const double *sy, int32_t cut, int32_t w, double scx, double scy,
                       float *dxr, float *dyr) { // sy (c), dxr (W), dyr (W)
    switch (cut) {
    case 2: field_rows_const(2, sy, s->tx, s->ty, w, scx, scy, dxr, dyr); return;
    case 3: field_rows_const(3, sy, s->tx, s->ty, w, scx, scy, dxr, dyr); return;
    case 5: field_rows_const(5, sy, s->tx, s->ty, w, scx, scy, dxr, dyr); return;
    default:
        field_row(sy, s->tx, cut, w, scx, s->acc, dxr);
        field_row(sy, s->ty, cut, w, scy, s->acc, dyr);
    }
}

/* The source coordinate v - d clamped to [0, hi]: fmin(fmax(v - d, 0), hi) of the reference. */
static inline double clamp_src(double v, double d, double hi) {
    double s = v - d;
    s = s > 0.0 ? s : 0.0; /* also NaN -> 0, as fmax(NaN, 0) */
    return s < hi ? s : hi;
}

/* ---------------------------------------------------------------- bilinear */
/* floor(v) for 0 <= v < 2^51 without a libm call (which the vectoriser cannot take): r = v rounded to the nearest
 * integer by the 2^52 shift (exact), then one step down if it rounded up. */
static inline double floor_pos(double v) {
    double r = (v + 0x1p52) - 0x1p52;
    return r > v ? r - 1.0 : r;
}

static void linear_row(const fast_scratch *s, int32_t y, int32_t h, int32_t w, const float *dxr, const float *dyr) {
    const double xhi = (double)(w - 1), yhi = (double)(h - 1), yd = (double)y;
    int32_t *idx = s->idx, *ox = s->ox, *oy = s->oy;
    double *w00 = s->w00, *w01 = s->w01, *w10 = s->w10, *w11 = s->w11;
#pragma omp simd
    for (int32_t x = 0; x < w; x++) {
        double xs = clamp_src((double)x, (double)dxr[x], xhi), ys = clamp_src(yd, (double)dyr[x], yhi);
        double xf = floor_pos(xs), yf = floor_pos(ys);
        int32_t x0 = (int32_t)xf, y0 = (int32_t)yf;
        double yv = ys - yf, xv = xs - xf;
        w00[x] = (1 - yv) * (1 - xv);
        w01[x] = (1 - yv) * xv;
        w10[x] = yv * (1 - xv);
        w11[x] = yv * xv;
        idx[x] = y0 * w + x0;
        ox[x] = isgreater(xs, xf) ? 1 : 0; /* ceil(xs) - floor(xs) */
        oy[x] = isgreater(ys, yf) ? w : 0; /* (ceil(ys) - floor(ys)) W */
    }
}

/* One output row of NCH channels (a constant once inlined) from the row's indices and weights: the channel
 * loop unrolls inside the x loop, so the source indices and weights are loaded once for all channels. The loop
 * is left scalar: vectorised, its four gathers are emulated lane by lane, and that measured slower (as did
 * AVX-512 gathers of doubles). */
static inline void linear_gather(const int32_t NCH, const fast_scratch *s, int32_t w, size_t hw, float *out,
                                 const float *in) { // out: row start in channel 0 of (C, H, W); in (C, H, W)

    for (int32_t i = 0; i < w; i++) {
        int32_t j00 = s->idx[i], j01 = j00 + s->ox[i], j10 = j00 + s->oy[i], j11 = j10 + s->ox[i];
#pragma GCC unroll 4
        for (int32_t ch = 0; ch < NCH; ch++) {
            const float *a = in + ch * hw;
            out[ch * hw + i] =
                (float)(s->w00[i] * a[j00] + s->w01[i] * a[j01] + s->w10[i] * a[j10] + s->w11[i] * a[j11]);
        }
    }
}

static void linear_gather_all(const fast_scratch *s, int32_t c, int32_t w, size_t hw, float *out, const float *in) {
    switch (c) {
    case 1: linear_gather(1, s, w, hw, out, in); return;
    case 2: linear_gather(2, s, w, hw, out, in); return;
    case 3: linear_gather(3, s, w, hw, out, in); return;
    default:
        for (int32_t ch = 0; ch < c; ch++) linear_gather(1, s, w, hw, out + ch * hw, in + ch * hw);
    }
}

/* ---------------------------------------------------------------- nearest */
static void nearest_row(const fast_scratch *s, int32_t y, int32_t h, int32_t w, const float *dxr, const float *dyr) {
    const double xhi = (double)(w - 1), yhi = (double)(h - 1), yd = (double)y;
    int32_t *idx = s->idx;
#pragma omp simd
    for (int32_t x = 0; x < w; x++) {
        double xs = clamp_src((double)x, (double)dxr[x], xhi), ys = clamp_src(yd, (double)dyr[x], yhi);
        idx[x] = (int32_t)nearbyint(ys) * w + (int32_t)nearbyint(xs); /* half to even, as the reference */
    }
}

/* ---------------------------------------------------------------- one image */
void rs__diffeo_fast_image(const rs_diffeo_plan *p, const rs_diffeo_opts *o, int64_t index, float *out,
                           const float *in, int32_t c, float *dx, float *dy, void *scratch) {
    int32_t h = p->h, w = p->w, cut = p->cut;
    size_t hw = (size_t)h * w;
    fast_scratch s = {0};
    carve(p, scratch, &s);
    rs_diffeo_coeffs(s.coef, cut, o->seed, o->repeat, index);
    double st = sqrt(o->T);
    field_tmp(p, s.coef, s.tx);
    field_tmp(p, s.coef + (size_t)cut * cut, s.ty);
    for (int32_t y = 0; y < h; y++) {
        const double *sy = p->sy + (size_t)y * cut;
        float *dxr = dx + (size_t)y * w, *dyr = dy + (size_t)y * w;
        field_rows(&s, sy, cut, w, (double)w * st, (double)h * st, dxr, dyr);
        size_t r = (size_t)y * w;
        if (o->interp == RS_INTERP_LINEAR) {
            linear_row(&s, y, h, w, dxr, dyr);
            linear_gather_all(&s, c, w, hw, out + r, in);
        } else if (o->interp == RS_INTERP_NEAREST) {
            nearest_row(&s, y, h, w, dxr, dyr);
            for (int32_t ch = 0; ch < c; ch++) {
                const float *a = in + ch * hw;
                float *b = out + ch * hw + r;
#pragma omp simd
                for (int32_t x = 0; x < w; x++) b[x] = a[s.idx[x]];
            }
        }
    }
    if (o->interp == RS_INTERP_GAUSSIAN) rs_remap(out, in, c, h, w, dx, dy, o->interp);
}
