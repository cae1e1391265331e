/* test_diffeo_fast.c: the fast path of rs_diffeo_batch (src/perturb/diffeo_fast.c) against its plain-C reference
 * twin (rs__diffeo_batch_ref: the field loops of diffeo.c, then rs_remap), with tolerance zero: the deformed
 * images and the fields must be the same bits. Odd and even sizes (7, 28, 32, 33, and rectangles), 1 to 3
 * channels, cutoffs 1, 2, 3, 5 and 7, the three interpolations, T = 0, the paper's T (delta = 1) and a large T whose
 * sources are clamped at the borders; images with signed zeros, and with infinities and NaNs. */
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
    memset(y1, 0xff, n * 4), memset(y2, 0, n * 4), memset(f1, 0xff, nf * 4), memset(f2, 0, nf * 4);
    assert_int_equal(rs_diffeo_batch(&p, &o, y1, f1, x, b, c, idx), RS_OK);
    assert_int_equal(rs__diffeo_batch_ref(&p, &o, y2, f2, x, b, c, idx), RS_OK);
    char what[128];
    snprintf(what, sizeof what, "%dx%dx%d cut %d T %g %s special %d", (int)c, (int)h, (int)w, (int)cut, T,
             rs_interp_name(interp), special);
    size_t bad = mismatches(y1, y2, n, what) + mismatches(f1, f2, nf, what);
    /* without a fields buffer: the same images */
    memset(y1, 0xff, n * 4);
    assert_int_equal(rs_diffeo_batch(&p, &o, y1, NULL, x, b, c, idx), RS_OK);
    bad += mismatches(y1, y2, n, what);
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

/* Rectangles and 2x2, cutoffs 1 to 7, T = 0 (identity) and a large T (most sources clamped at a border). */
static void test_rectangles_cutoffs_extremes(void **state) {
    const int32_t hw[4][2] = {{7, 33}, {33, 7}, {28, 32}, {2, 2}};
    const double Ts[3] = {0.0, 2e-3, 0.5};
    const int32_t cuts[5] = {1, 2, 3, 5, 7}; /* 2, 3, 5: the unrolled field loops; 1, 7: the generic ones */
    for (int s = 0; s < 4; s++)
        for (int k = 0; k < 5; k++)
            for (int t = 0; t < 3; t++)
                for (int m = 0; m < 3; m++) compare(hw[s][0], hw[s][1], 1 + (s + t) % 3, cuts[k], Ts[t], interps[m], 0);
}

/* Signed zeros keep their sign as in the reference; infinities and NaNs land where the reference puts them. */
static void test_special_values(void **state) {
    const int32_t sizes[4] = {7, 28, 32, 33};
    for (int s = 0; s < 4; s++)
        for (int m = 0; m < 3; m++)
            for (int special = 1; special <= 2; special++) compare(sizes[s], sizes[s], 3, 3, 2e-3, interps[m], special);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_square_sizes),
        cmocka_unit_test(test_rectangles_cutoffs_extremes),
        cmocka_unit_test(test_special_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
