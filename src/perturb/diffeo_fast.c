/* diffeo_fast.c: the fast path of rs_diffeo_batch: one image's displacement field and its remap. The plain-C
 * reference (diffeo.c's field_component, remap.c's remap_linear / remap_nearest) stays the definition.
 *
 * What is exact and what is not (tests/test_diffeo_fast.c checks each line):
 *   - the field dx, dy: the reference's double operations in the same order, the same bits, in every build;
 *   - nearest and gaussian: the reference's bits (nearest in the portable loops below, gaussian through rs_remap);
 *   - bilinear, portable loops (any build without AVX-512 F/DQ/VL, or rs__diffeo_fast_portable = 1): the same
 *     double operations in the same order as remap_linear, the same bits;
 *   - bilinear, AVX-512 kernel (the -march=native build on this machine): the source point x - dx, y - dy rounded to
 *     float (the reference: double), its floor exact, the weights and the sum in float (FMA). Per output value, with
 *     u = 2^-24, M = max |a| and S = max a - min a over the 4x4 input pixels around the reference's source cell
 *     (rows y0 - 1 .. y0 + 2, columns x0 - 1 .. x0 + 2 of the reference's floor, clipped to the image):
 *         |fast - reference| <= u (9 M + (W + H) S) + 2^-126.
 *     Why: clamped to [0, W-1], the float source point is within u (W - 1) of the double one (u (H - 1) for y;
 *     2^-53 more for the double rounding), so the cell moves by at most one pixel; the bilinear interpolant is
 *     continuous and its slope is at most S, which gives the (W + H) S term. The float weights (up to 3 roundings)
 *     and the four products and FMA (up to 4 more) cost at most gamma_7 = 7u / (1 - 7u) times sum_k w_k |a_k| <= M;
 *     the reference's own rounding to float and double errors add u M (1 + 2^-25). 2^-126 covers subnormal results.
 *     Signed zeros follow the reference's rule (a zero output is -0 only when all four products are -0). Where the
 *     4x4 block holds an infinity or a NaN the bound says nothing; the output is then finite exactly where the
 *     reference's is (the test checks it on planted infinities and NaNs).
 *   The output of an image is a function of (seed, repeat, index, image) only: the same for any thread count and
 *   batch (test_diffeo.c), and for a given build; an AVX-512 build and a portable one differ within the bound.
 *
 * What makes it faster (docs/diffeo.md, "The fast path"):
 *   - the field: its first product S C (c^2 W) vectorised over x through a transposed sine table, then in the
 *     AVX-512 kernel 16 pixels at a time (two halves of 8 doubles) with the mode loop unrolled for c = 2, 3, 5;
 *   - bilinear (AVX-512): per row, the chunks' source points and float weights, then per channel the four
 *     neighbours of 16 pixels fetched from a window of 4 source rows x 32 columns held in registers and picked by
 *     in-register permutes (an AVX-512 gather of 16 floats costs about 20 cycles here, a permute about 1; chunks
 *     whose sources leave the window take the gathers), combined with three FMAs;
 *   - portable bilinear: the indices and weights computed once per pixel, row by row, applied to every channel;
 *   - the coefficients: only the kept modes' normals drawn (as rs_diffeo_coeffs now does), the kept pairs and the
 *     square roots of the amplitudes computed once per thread (rs__diffeo_fast_prepare).
 * It draws nothing but the coefficients' normals (rs_normal, rs_normals) and does not thread: rs_diffeo_batch
 * threads over images. */
#include "perturb_internal.h"

#include <math.h>
#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
#include <immintrin.h>
#define RS_DIFFEO_AVX512 1
#else
#define RS_DIFFEO_AVX512 0
#endif

#define ALIGN64(n) (((n) + 63) & ~(size_t)63)

#if RS_DIFFEO_AVX512
/* Source rows of a chunk's window, from its least y0 (moved up to H - 4 at the bottom): the paper's fields
 * (delta = 1, c = 3) move 16 neighbouring pixels within 4 rows in 99.6% of the chunks of a 28x28 or 32x32 image. */
#define WIN_ROWS 4

/* Where a chunk's neighbours come from: the window (rows rb .. rb + 3, columns xb .. xb + 31) when all its
 * sources lie in it (win), else gathers. m: live lanes. */
typedef struct {
    __m512 wt[4];           /* bilinear weights w00, w01, w10, w11 in float */
    __m512i p0, p1, y0, y1; /* columns x0 - xb, x1 - xb; rows y0, y1 */
    __mmask16 m;
    __mmask16 s0[2], s1[2]; /* bits 0 and 1 of y0 - rb (s0) and of y1 - rb (s1): the lane's window row */
    int win, tail;          /* tail: the window's last row is the image's last and may reach past the plane */
    int32_t rb, xb;
} chunk_src;
#endif

const int rs__diffeo_fast_simd = RS_DIFFEO_AVX512;
int rs__diffeo_fast_portable = 0;

/* Scratch layout of one thread; every block 64-byte aligned. */
typedef struct {
    double *coef;             /* (2, c, c) */
    double *root;             /* (2, c, c): sqrt((a+1)^2 + (b+1)^2) for kept modes, 0 otherwise */
    uint8_t *pairs;           /* (c^2): which of the normals (2j, 2j + 1) are kept: bit 0, bit 1 */
    double *sxt;              /* (c, W): the plan's sx transposed */
    double *tx, *ty;          /* (c, W): sum_b C^k_ab sx[x, b] */
    double *acc;              /* (W) */
    int32_t *idx, *ox, *oy;   /* (W), one row: top-left source index, +1 if x1 != x0, +W if y1 != y0 */
    double *w00, *w01, *w10, *w11; /* (W), one row: bilinear weights */
    void *chunks;             /* AVX-512: (ceil(W / 16)) chunk_src, one row's chunks */
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
    TAKE(t.root, double, 2 * c * c);
    TAKE(t.pairs, uint8_t, c * c);
    TAKE(t.sxt, double, c * w);
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
#if RS_DIFFEO_AVX512
    TAKE(t.chunks, chunk_src, (w + 15) / 16);
#endif
#undef TAKE
    if (base) *s = t;
    return off;
}

size_t rs__diffeo_fast_scratch(const rs_diffeo_plan *p) { return carve(p, NULL, NULL); }

/* ---------------------------------------------------------------- field */
/* tmp[a, x] = sum_b C[a, b] sx[x, b], the sum from 0.0 in the order b = 0, 1, ... as the reference's first loop,
 * vectorised over x through the transposed table sxt (c, W); CUT is a constant once inlined. */
static inline void field_tmp_cut(const int32_t cut, const double *C, const double *sxt, int32_t w,
                                 double *tmp) { // C (c, c), sxt (c, W), tmp (c, W)
    for (int32_t a = 0; a < cut; a++) {
        const double *ca = C + (size_t)a * cut;
#pragma omp simd
        for (int32_t x = 0; x < w; x++) {
            double s = 0.0;
#pragma GCC unroll 8
            for (int32_t b = 0; b < cut; b++) s += ca[b] * sxt[(size_t)b * w + x];
            tmp[(size_t)a * w + x] = s;
        }
    }
}

static void field_tmp(const double *C, const double *sxt, int32_t c, int32_t w, double *tmp) {
    switch (c) {
    case 2: field_tmp_cut(2, C, sxt, w, tmp); return;
    case 3: field_tmp_cut(3, C, sxt, w, tmp); return;
    case 5: field_tmp_cut(5, C, sxt, w, tmp); return;
    default: field_tmp_cut(c, C, sxt, w, tmp);
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

#if RS_DIFFEO_AVX512
/* The field and bilinear remap of one image with AVX-512, 16 pixels at a time (a row's last chunk masked):
 *   - the field in double, as the reference (the sum from 0.0 over the modes in order, scaled, rounded to float),
 *     8 lanes at a time, and stored: it is the output field, the same bits as the reference's;
 *   - the source point, floor and weights in float, from the float field: x - dx and y - dy rounded to float (the
 *     reference rounds them to double), clamped by max/min (NaN -> 0 as clamp_src), floor by roundscale (exact);
 *   - the four neighbours fetched exactly (chunk_neighbours) and combined in float with FMA. */

#define JOIN_PS(lo, hi) _mm512_insertf32x8(_mm512_castps256_ps512(lo), (hi), 1)

/* The field at the 8 pixels x..x+7 (k: the live ones) of row y, rounded to float. */
static inline __m256 half_field(const double *t, const double *sy, const int32_t cut, int32_t w, int32_t x,
                                __mmask8 k, double scale) { // t (cut, W): tx or ty
    __m512d acc = _mm512_mul_pd(_mm512_set1_pd(sy[0]), _mm512_maskz_loadu_pd(k, t + x));
    acc = _mm512_add_pd(_mm512_setzero_pd(), acc); /* 0.0 + first term: -0 -> +0, as the reference */
#pragma GCC unroll 8
    for (int32_t a = 1; a < cut; a++) {
        __m512d ta = _mm512_maskz_loadu_pd(k, t + (size_t)a * w + x);
        acc = _mm512_add_pd(acc, _mm512_mul_pd(_mm512_set1_pd(sy[a]), ta));
    }
    return _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_set1_pd(scale), acc));
}


/* The chunk's four neighbours g = (a[y0, x0], a[y0, x1], a[y1, x0], a[y1, x1]) of plane a (H, W), fetched
 * exactly. In the window: the 4 rows' 32 floats in two loads each, every lane's columns picked by in-register
 * permutes and its rows by masked moves (an AVX-512 gather costs about 20 cycles for 16 floats on this machine, a
 * permute about 1); outside, four gathers. */
static inline void chunk_neighbours(const float *a, int32_t w, const chunk_src *q, __mmask16 m3lo, __mmask16 m3hi,
                                    __m512 g[4]) {
    if (q->win) {
        const float *row = a + (size_t)q->rb * w + q->xb;
        __m512 t0[WIN_ROWS], t1[WIN_ROWS];
#pragma GCC unroll 4
        for (int r = 0; r < WIN_ROWS; r++, row += w) {
            __m512 lo, hi;
            if (r < WIN_ROWS - 1 || !q->tail) {
                lo = _mm512_loadu_ps(row);
                hi = _mm512_loadu_ps(row + 16);
            } else {
                lo = _mm512_maskz_loadu_ps(m3lo, row);
                hi = _mm512_maskz_loadu_ps(m3hi, row + 16);
            }
            t0[r] = _mm512_permutex2var_ps(lo, q->p0, hi);
            t1[r] = _mm512_permutex2var_ps(lo, q->p1, hi);
        }
        /* row rb + 2 b1 + b0 from the bits of the lane's offset */
#define PICK(t, s) _mm512_mask_mov_ps(_mm512_mask_mov_ps((t)[0], (s)[0], (t)[1]), (s)[1], \
                                      _mm512_mask_mov_ps((t)[2], (s)[0], (t)[3]))
        g[0] = PICK(t0, q->s0);
        g[1] = PICK(t1, q->s0);
        g[2] = PICK(t0, q->s1);
        g[3] = PICK(t1, q->s1);
#undef PICK
        return;
    }
    const __m512 z = _mm512_setzero_ps();
    const __m512i wi = _mm512_set1_epi32(w), xb = _mm512_set1_epi32(q->xb);
    __m512i r0 = _mm512_add_epi32(_mm512_mullo_epi32(q->y0, wi), xb);
    __m512i r1 = _mm512_add_epi32(_mm512_mullo_epi32(q->y1, wi), xb);
    g[0] = _mm512_mask_i32gather_ps(z, q->m, _mm512_add_epi32(r0, q->p0), a, 4);
    g[1] = _mm512_mask_i32gather_ps(z, q->m, _mm512_add_epi32(r0, q->p1), a, 4);
    g[2] = _mm512_mask_i32gather_ps(z, q->m, _mm512_add_epi32(r1, q->p0), a, 4);
    g[3] = _mm512_mask_i32gather_ps(z, q->m, _mm512_add_epi32(r1, q->p1), a, 4);
}

/* The chunk's source points from its field (16 lanes, m live), their bilinear weights wt (w00, w01, w10, w11),
 * and where its neighbours come from. */
static inline void chunk_sources(__m512 dx, __m512 dy, __mmask16 m, int32_t y, int32_t h, int32_t w, int32_t x,
                                 chunk_src *q) {
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    const __m512i ione = _mm512_set1_epi32(1);
    __m512 xl = _mm512_add_ps(_mm512_set_ps(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                              _mm512_set1_ps((float)x));
    __m512 xs = _mm512_min_ps(_mm512_max_ps(_mm512_sub_ps(xl, dx), zero), _mm512_set1_ps((float)(w - 1)));
    __m512 ys = _mm512_min_ps(_mm512_max_ps(_mm512_sub_ps(_mm512_set1_ps((float)y), dy), zero),
                              _mm512_set1_ps((float)(h - 1)));
    __m512 xf = _mm512_roundscale_ps(xs, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 yf = _mm512_roundscale_ps(ys, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 xv = _mm512_sub_ps(xs, xf), yv = _mm512_sub_ps(ys, yf);
    __m512 xu = _mm512_sub_ps(one, xv), yu = _mm512_sub_ps(one, yv);
    q->wt[0] = _mm512_mul_ps(yu, xu);
    q->wt[1] = _mm512_mul_ps(yu, xv);
    q->wt[2] = _mm512_mul_ps(yv, xu);
    q->wt[3] = _mm512_mul_ps(yv, xv);
    q->m = m;
    __m512i x0 = _mm512_cvttps_epi32(xf), y0 = _mm512_cvttps_epi32(yf);
    __m512i x1 = _mm512_mask_add_epi32(x0, _mm512_cmp_ps_mask(xs, xf, _CMP_GT_OQ), x0, ione);
    __m512i y1 = _mm512_mask_add_epi32(y0, _mm512_cmp_ps_mask(ys, yf, _CMP_GT_OQ), y0, ione);
    /* the window: from the least y0 (at most H - 4), columns from 0 (W <= 32) or x - 8; used when H >= 4 and
     * W >= 16, where only its last row can reach past the plane (when that row is the image's last and W < 32) */
    int32_t rb = _mm512_mask_reduce_min_epi32(m, y0);
    int32_t xb = w <= 32 ? 0 : x - 8 < 0 ? 0 : x - 8 > w - 32 ? w - 32 : x - 8;
    rb = rb > h - WIN_ROWS ? h - WIN_ROWS : rb;
    __mmask16 out = _mm512_mask_cmpgt_epi32_mask(m, y1, _mm512_set1_epi32(rb + WIN_ROWS - 1)) |
                    _mm512_mask_cmplt_epi32_mask(m, x0, _mm512_set1_epi32(xb)) |
                    _mm512_mask_cmpgt_epi32_mask(m, x1, _mm512_set1_epi32(xb + 31));
    q->win = out == 0 && h >= WIN_ROWS && w >= 16;
    q->tail = rb == h - WIN_ROWS && w < 32;
    q->rb = rb, q->xb = xb;
    q->p0 = _mm512_sub_epi32(x0, _mm512_set1_epi32(xb));
    q->p1 = _mm512_sub_epi32(x1, _mm512_set1_epi32(xb));
    q->y0 = y0, q->y1 = y1;
    __m512i r0 = _mm512_sub_epi32(y0, _mm512_set1_epi32(rb)), r1 = _mm512_sub_epi32(y1, _mm512_set1_epi32(rb));
    const __m512i bit1 = _mm512_set1_epi32(2);
    q->s0[0] = _mm512_test_epi32_mask(r0, ione);
    q->s0[1] = _mm512_test_epi32_mask(r0, bit1);
    q->s1[0] = _mm512_test_epi32_mask(r1, ione);
    q->s1[1] = _mm512_test_epi32_mask(r1, bit1);
}

/* The field of the whole image, 16 pixels at a time (two halves of 8 doubles), for a cutoff CUT that is a
 * constant once inlined. dx, dy (H, W). */
static inline void field_image_cut(const int32_t cut, const rs_diffeo_plan *p, const fast_scratch *s, double scx,
                                   double scy, float *dx, float *dy) {
    const int32_t h = p->h, w = p->w;
    for (int32_t y = 0; y < h; y++) {
        const double *sy = p->sy + (size_t)y * cut;
        for (int32_t x = 0; x < w; x += 16) {
            __mmask16 m = (__mmask16)((1u << (w - x < 16 ? w - x : 16)) - 1u);
            __m512 fx = JOIN_PS(half_field(s->tx, sy, cut, w, x, (__mmask8)m, scx),
                                half_field(s->tx, sy, cut, w, x + 8, (__mmask8)(m >> 8), scx));
            __m512 fy = JOIN_PS(half_field(s->ty, sy, cut, w, x, (__mmask8)m, scy),
                                half_field(s->ty, sy, cut, w, x + 8, (__mmask8)(m >> 8), scy));
            _mm512_mask_storeu_ps(dx + (size_t)y * w + x, m, fx);
            _mm512_mask_storeu_ps(dy + (size_t)y * w + x, m, fy);
        }
    }
}

/* One image: the field (the mode loop unrolled for the usual cutoffs), then row by row the chunks' sources and
 * weights, then every channel's chunks. The phases are short independent loops, so the core overlaps many chunks
 * (one loop doing all of a chunk's steps was bound by their chain of latencies). */
static void linear_image_avx512(const rs_diffeo_plan *p, const fast_scratch *s, double scx, double scy, int32_t c,
                                float *dx, float *dy, float *out, const float *in) { // out, in (C, H, W)
    const int32_t h = p->h, w = p->w, nk = (w + 15) / 16;
    const size_t hw = (size_t)h * w;
    switch (p->cut) {
    case 2: field_image_cut(2, p, s, scx, scy, dx, dy); break;
    case 3: field_image_cut(3, p, s, scx, scy, dx, dy); break;
    case 5: field_image_cut(5, p, s, scx, scy, dx, dy); break;
    default: field_image_cut(p->cut, p, s, scx, scy, dx, dy);
    }
    chunk_src *q = s->chunks;
    /* the loadable lanes of a window row that starts at the image's last row (W < 32: W floats left) */
    const __mmask16 m3lo = w >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << w) - 1u);
    const __mmask16 m3hi = w <= 16 ? 0 : w >= 32 ? (__mmask16)0xffff : (__mmask16)((1u << (w - 16)) - 1u);
    for (int32_t y = 0; y < h; y++) {
        const size_t r = (size_t)y * w;
        for (int32_t k = 0; k < nk; k++) {
            int32_t x = 16 * k;
            __mmask16 m = (__mmask16)((1u << (w - x < 16 ? w - x : 16)) - 1u);
            chunk_sources(_mm512_maskz_loadu_ps(m, dx + r + x), _mm512_maskz_loadu_ps(m, dy + r + x), m, y, h, w, x,
                          &q[k]);
        }
        for (int32_t ch = 0; ch < c; ch++)
            for (int32_t k = 0; k < nk; k++) {
                __m512 g[4];
                chunk_neighbours(in + (size_t)ch * hw, w, &q[k], m3lo, m3hi, g);
                __m512 v = _mm512_mul_ps(q[k].wt[0], g[0]);
                v = _mm512_fmadd_ps(q[k].wt[1], g[1], v);
                v = _mm512_fmadd_ps(q[k].wt[2], g[2], v);
                v = _mm512_fmadd_ps(q[k].wt[3], g[3], v);
                _mm512_mask_storeu_ps(out + (size_t)ch * hw + r + 16 * k, q[k].m, v);
            }
    }
}
#endif

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
/* rs_diffeo_coeffs (its twin: the same draws and divisions, the same bits) with the kept pairs and the roots of
 * the prepared scratch instead of the mode tests and square roots per image. */
static void coeffs(const fast_scratch *s, int32_t cut, uint64_t seed, uint32_t repeat, int64_t index) {
    const uint64_t stream = rs_stream(RS_PURPOSE_DIFFEO, repeat, 0), cc = (uint64_t)cut * (uint64_t)cut;
    const uint64_t base = (uint64_t)index * 2 * cc;
    double *coef = s->coef;
    for (uint64_t j = 0; j < 2 * cc; j += 2) switch (s->pairs[j / 2]) {
        case 3: rs_normals(coef + j, 2, seed, stream, base + j); break;
        case 1: coef[j] = rs_normal(seed, stream, base + j); break;
        case 2: coef[j + 1] = rs_normal(seed, stream, base + j + 1); break;
        }
    for (uint64_t j = 0; j < 2 * cc; j++) coef[j] = s->root[j] != 0 ? coef[j] / s->root[j] : 0.0;
}

void rs__diffeo_fast_prepare(const rs_diffeo_plan *p, void *scratch) {
    fast_scratch s = {0};
    carve(p, scratch, &s);
    const int32_t c = p->cut, cc = c * c;
    for (int32_t j = 0; j < 2 * cc; j++) {
        int32_t a = (j % cc) / c, b = j % c, r2 = (a + 1) * (a + 1) + (b + 1) * (b + 1);
        s.root[j] = rs_diffeo_mode_kept(a + 1, b + 1, c) ? sqrt((double)r2) : 0.0;
    }
    for (int32_t j = 0; j < cc; j++) s.pairs[j] = (uint8_t)((s.root[2 * j] != 0) | (s.root[2 * j + 1] != 0) << 1);
    for (int32_t x = 0; x < p->w; x++)
        for (int32_t b = 0; b < p->cut; b++) s.sxt[(size_t)b * p->w + x] = p->sx[(size_t)x * p->cut + b];
}

void rs__diffeo_fast_image(const rs_diffeo_plan *p, const rs_diffeo_opts *o, int64_t index, float *out,
                           const float *in, int32_t c, float *dx, float *dy, void *scratch) {
    int32_t h = p->h, w = p->w, cut = p->cut;
    size_t hw = (size_t)h * w;
    fast_scratch s = {0};
    carve(p, scratch, &s);
    coeffs(&s, cut, o->seed, o->repeat, index);
    double st = sqrt(o->T);
    field_tmp(s.coef, s.sxt, cut, w, s.tx);
    field_tmp(s.coef + (size_t)cut * cut, s.sxt, cut, w, s.ty);
#if RS_DIFFEO_AVX512
    if (o->interp == RS_INTERP_LINEAR && !rs__diffeo_fast_portable) {
        linear_image_avx512(p, &s, (double)w * st, (double)h * st, c, dx, dy, out, in);
        return;
    }
#endif
    for (int32_t y = 0; y < h; y++) {
        const double *sy = p->sy + (size_t)y * cut;
        float *dxr = dx + (size_t)y * w, *dyr = dy + (size_t)y * w;
        size_t r = (size_t)y * w;
        field_rows(&s, sy, cut, w, (double)w * st, (double)h * st, dxr, dyr);
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
