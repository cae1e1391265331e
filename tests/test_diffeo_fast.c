/* test_diffeo_fast.c: the fast path of rs_diffeo_batch (src/perturb/diffeo_fast.c) against its plain-C reference
 * twin (rs__diffeo_batch_ref: the field loops of diffeo.c, then rs_remap).
 *   - the fields, and the nearest and gaussian images: tolerance zero (the same bits);
 *   - the bilinear images: through the portable loops (forced with rs__diffeo_fast_portable) tolerance zero; through
 *     the AVX-512 kernel, when the build has it, the bound stated in diffeo_fast.c and docs/diffeo.md, per output
 *     pixel: |fast - ref| <= 2^-24 (9 M + (W + H) S) + 2^-126, M = max |a| and S = max a - min a over the 4x4
 *     input pixels around the reference's source cell; a zero output has the reference's sign. Where that block
 *     holds an infinity or a NaN the bound says nothing; there the output must be finite exactly where the
 *     reference's is.
 * Odd and even sizes (7, 28, 32, 33, and rectangles), 1 to 3 channels, cutoffs 1, 2, 3, 5 and 7, T = 0, the
 * paper's T (delta = 1) and a large T whose sources are clamped at the borders; images with signed zeros, and with
 * infinities and NaNs. */
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "perturb/perturb_internal.h"
#include "relstab/perturb.h"

/* Same bits, or both NaN (a NaN's payload is not part of the contract). Returns the number of mismatches. */
static size_t mismatches(const float *a, const float *b, size_t n, const char *what) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) && isnan(b[i])) continue;
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) {
            if (!bad) fprintf(stderr, "%s: first difference at %zu: fast %.9g, reference %.9g\n", what, i, a[i], b[i]);
            bad++;
        }
    }
    return bad;
}

/* The stated bound at output pixel (y, x) of plane a (H, W), from the reference's field dx, dy (H, W); *finite = 0
 * when the 4x4 block holds a non-finite value. */
static double pixel_bound(const float *a, int32_t h, int32_t w, const float *dx, const float *dy, int32_t y,
                          int32_t x, int *finite) {
    size_t i = (size_t)y * w + x;
    double xs = fmin(fmax((double)x - (double)dx[i], 0.0), (double)(w - 1));
    double ys = fmin(fmax((double)y - (double)dy[i], 0.0), (double)(h - 1));
    int32_t x0 = (int32_t)floor(xs), y0 = (int32_t)floor(ys);
    double m = 0, lo = INFINITY, hi = -INFINITY;
    *finite = 1;
    for (int32_t r = y0 - 1; r <= y0 + 2; r++)
        for (int32_t q = x0 - 1; q <= x0 + 2; q++) {
            if (r < 0 || r >= h || q < 0 || q >= w) continue;
            double v = a[(size_t)r * w + q];
            if (!isfinite(v)) *finite = 0;
            m = fmax(m, fabs(v)), lo = fmin(lo, v), hi = fmax(hi, v);
        }
    return 0x1p-24 * (9.0 * m + (double)(w + h) * (hi - lo)) + 0x1p-126;
}

/* Bilinear images of b images (C, H, W): within the bound of the reference's, or (non-finite blocks) finite exactly
 * where the reference's are. Returns the number of violations; *differ counts the pixels whose bits differ. */
static size_t linear_violations(const float *fast, const float *ref, const float *x, const float *fields, int64_t b,
                                int32_t c, int32_t h, int32_t w, const char *what, size_t *differ) {
    size_t hw = (size_t)h * w, bad = 0;
    for (int64_t p = 0; p < b; p++) {
        const float *dx = fields + (size_t)p * 2 * hw, *dy = dx + hw;
        for (int32_t ch = 0; ch < c; ch++) {
            size_t off = ((size_t)p * c + ch) * hw;
            for (int32_t y = 0; y < h; y++)
                for (int32_t q = 0; q < w; q++) {
                    size_t i = off + (size_t)y * w + q;
                    int finite;
                    double tol = pixel_bound(x + off, h, w, dx, dy, y, q, &finite);
                    int ok = finite ? fabs((double)fast[i] - (double)ref[i]) <= tol
                                    : !isfinite(fast[i]) == !isfinite(ref[i]);
                    if (fast[i] == 0 && ref[i] == 0) ok &= !signbit(fast[i]) == !signbit(ref[i]); /* zero's sign */
                    *differ += memcmp(&fast[i], &ref[i], sizeof(float)) != 0 && !(isnan(fast[i]) && isnan(ref[i]));
                    if (!ok && !bad++)
                        fprintf(stderr, "%s: image %lld ch %d (%d, %d): fast %.9g, reference %.9g, bound %.3g%s\n",
                                what, (long long)p, (int)ch, (int)y, (int)q, fast[i], ref[i], tol,
                                finite ? "" : " (non-finite block)");
                }
        }
    }
    return bad;
}

static size_t differing; /* bilinear pixels of the AVX-512 kernel whose bits differ from the reference's */

/* Deforms b images of c x h x w both ways and compares; special = 1 plants -0, 2 plants inf and NaN. */
static void compare(int32_t h, int32_t w, int32_t c, int32_t cut, double T, rs_interp interp, int special) {
    const int64_t b = 5;
    size_t chw = (size_t)c * h * w, n = (size_t)b * chw, nf = (size_t)b * 2 * h * w;
    float *x = tu_randn(n, 1000 + (uint64_t)h * 7 + (uint64_t)w * 131 + c);
    float *y1 = rs_alloc(n * 4), *y2 = rs_alloc(n * 4), *f1 = rs_alloc(nf * 4), *f2 = rs_alloc(nf * 4);
    assert_non_null(x);
    assert_non_null(y1);
    assert_non_null(y2);
    assert_non_null(f1);
    assert_non_null(f2);
    if (special == 1)
        for (size_t i = 0; i < n; i += 3) x[i] = (i / 3) % 2 ? -0.0f : 0.0f;
    if (special == 2)
        for (size_t i = 0; i < n; i += 11) x[i] = (i / 11) % 3 == 0 ? NAN : (i / 11) % 3 == 1 ? INFINITY : -INFINITY;
    int64_t idx[5] = {0, 1, 17, 4096, 123456789};
    rs_diffeo_plan p;
    assert_int_equal(rs_diffeo_plan_init(&p, h, w, cut), RS_OK);
    rs_diffeo_opts o = {.T = T, .interp = interp, .seed = 11, .repeat = 2};
    char what[128];
    snprintf(what, sizeof what, "%dx%dx%d cut %d T %g %s special %d", (int)c, (int)h, (int)w, (int)cut, T,
             rs_interp_name(interp), special);
    memset(y2, 0, n * 4), memset(f2, 0, nf * 4);
    assert_int_equal(rs__diffeo_batch_ref(&p, &o, y2, f2, x, b, c, idx), RS_OK);
    size_t bad = 0;
    for (int portable = 1; portable >= 0; portable--) {
        rs__diffeo_fast_portable = portable;
        memset(y1, 0xff, n * 4), memset(f1, 0xff, nf * 4);
        assert_int_equal(rs_diffeo_batch(&p, &o, y1, f1, x, b, c, idx), RS_OK);
        bad += mismatches(f1, f2, nf, what); /* the fields: always the same bits */
        int exact = portable || !rs__diffeo_fast_simd || interp != RS_INTERP_LINEAR;
        if (exact) bad += mismatches(y1, y2, n, what);
        else bad += linear_violations(y1, y2, x, f2, b, c, h, w, what, &differing);
        /* without a fields buffer: the same images */
        float *y3 = rs_alloc(n * 4);
        assert_non_null(y3);
        assert_int_equal(rs_diffeo_batch(&p, &o, y3, NULL, x, b, c, idx), RS_OK);
        bad += mismatches(y3, y1, n, what);
        rs_free(y3);
    }
    rs__diffeo_fast_portable = 0;
    assert_int_equal(bad, 0);
    rs_diffeo_plan_free(&p);
    rs_free(x), rs_free(y1), rs_free(y2), rs_free(f1), rs_free(f2);
}

static const rs_interp interps[3] = {RS_INTERP_LINEAR, RS_INTERP_NEAREST, RS_INTERP_GAUSSIAN};

/* Square sizes 7, 28, 32, 33, c = 1..3, cutoff 3, the paper's T = 4 delta^2 / (pi n^2 ln c) at delta = 1 and 3. */
static void test_square_sizes(void **state) {
    const int32_t sizes[4] = {7, 28, 32, 33};
    for (int s = 0; s < 4; s++)
        for (int32_t c = 1; c <= 3; c++)
            for (int m = 0; m < 3; m++)
                for (int d = 1; d <= 3; d += 2) {
                    if (interps[m] == RS_INTERP_GAUSSIAN && d == 3) continue; /* slow twice; covered below */
                    double T;
                    assert_int_equal(rs_diffeo_T_of_delta((double)d, sizes[s], 3, &T), RS_OK);
                    compare(sizes[s], sizes[s], c, 3, T, interps[m], 0);
                }
}

/* Rectangles, 2x2 and wide rows (the kernel's window moves along rows wider than 32), cutoffs 1 to 7, T = 0
 * (identity) and a large T (most sources clamped at a border). */
static void test_rectangles_cutoffs_extremes(void **state) {
    const int32_t hw[6][2] = {{7, 33}, {33, 7}, {28, 32}, {2, 2}, {5, 70}, {40, 100}};
    const double Ts[3] = {0.0, 2e-3, 0.5};
    const int32_t cuts[5] = {1, 2, 3, 5, 7}; /* 2, 3, 5: the unrolled field loops; 1, 7: the generic ones */
    for (int s = 0; s < 6; s++)
        for (int k = 0; k < 5; k++)
            for (int t = 0; t < 3; t++)
                for (int m = 0; m < 3; m++) {
                    if (s >= 4 && interps[m] == RS_INTERP_GAUSSIAN) continue; /* slow; the sizes above cover it */
                    compare(hw[s][0], hw[s][1], 1 + (s + t) % 3, cuts[k], Ts[t], interps[m], 0);
                }
}

/* Signed zeros and infinities and NaNs: the exact paths keep them as the reference; the AVX-512 kernel keeps the
 * bound on finite blocks and non-finite outputs exactly where the reference has them. */
static void test_special_values(void **state) {
    const int32_t sizes[4] = {7, 28, 32, 33};
    for (int s = 0; s < 4; s++)
        for (int m = 0; m < 3; m++)
            for (int special = 1; special <= 2; special++) compare(sizes[s], sizes[s], 3, 3, 2e-3, interps[m], special);
}

/* The AVX-512 kernel really ran where the build has it: its float rounding shows in some pixels' bits. */
static void test_simd_path_ran(void **state) {
    fprintf(stderr, "bilinear kernel: %s; pixels whose bits differ from the reference's: %zu\n",
            rs__diffeo_fast_simd ? "AVX-512" : "portable (the reference's bits)", differing);
    if (rs__diffeo_fast_simd) assert_true(differing > 0);
    else assert_true(differing == 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_square_sizes),
        cmocka_unit_test(test_rectangles_cutoffs_extremes),
        cmocka_unit_test(test_special_values),
        cmocka_unit_test(test_simd_path_ran),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
