/* test_ops_fast_edge.c: fast (oneDNN) against reference ops where the two used to disagree beyond rounding (issue 9):
 * batch norm's row sums (batch statistics and backward sums) in double, and max pooling's NaN propagation. Built
 * without oneDNN, fast == reference and the same checks run on identical paths (the NaN one still checks the
 * reference against the definition). The general fast-vs-reference bounds are in test_ops_fast.c. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/ops.h"

static const double U = 0x1p-24; /* float32 unit roundoff */

static float *randn(size_t n, uint64_t stream) { return tu_randn(n ? n : 1, stream); }

static void bn_check(const char *what, int64_t i, double f, double r, double tol) {
    if (!(fabs(f - r) <= tol + 1e-30)) {
        fprintf(stderr, "%s: element %lld: fast %.9g ref %.9g |diff| %.3g > bound %.3g\n", what, (long long)i, f, r,
                fabs(f - r), tol);
        fail();
    }
}

/* Batch statistics and backward sums in double on both paths (issue 9 item 5): on a VGG-sized layer (131072 rows)
 * of data far from centred (mean 100, deviation 1), the saved mean and invstd and d_gamma, d_beta are each the
 * rounding of a double result, so fast and reference agree to 2 ulps (u per rounding, the invstd also through a
 * sqrt and a division), where float32 sums over the rows would be off by ~sqrt(rows) u = 1e-5 relative and more. */
static void test_batchnorm_double_sums(void **state) {
    const int64_t rows = 128 * 32 * 32;
    const int32_t c = 8;
    const int64_t n = rows * c;
    float *x = randn(n, rs_stream(RS_PURPOSE_TEST, 402, 0)), *dy = randn(n, rs_stream(RS_PURPOSE_TEST, 402, 1));
    for (int64_t i = 0; i < n; i++) x[i] += 100.0f, dy[i] += 1.0f;
    float *y = rs_alloc(n * 4), *st = rs_alloc(12 * c * 4);
    float *mf = st, *mr = st + c, *isf = st + 2 * c, *isr = st + 3 * c, *g = st + 4 * c, *b = st + 5 * c;
    float *dgf = st + 6 * c, *dgr = st + 7 * c, *dbf = st + 8 * c, *dbr = st + 9 * c;
    for (int32_t j = 0; j < c; j++) g[j] = 1.0f + 0.1f * j, b[j] = 0.5f, dgf[j] = dgr[j] = dbf[j] = dbr[j] = 0.0f;
    const rs_bn_mode modes[2] = {RS_BN_TRAIN, RS_BN_BATCHSTAT};
    for (int k = 0; k < 2; k++) {
        const rs_bn_mode mode = modes[k];
        float *rm = st + 10 * c, *rv = st + 11 * c;
        for (int32_t j = 0; j < c; j++) rm[j] = 0.0f, rv[j] = 1.0f;
        rs_batchnorm_forward_fast(y, mf, isf, x, g, b, rm, rv, rows, c, 1e-5f, 0.1f, mode);
        rs_batchnorm_forward_ref(y, mr, isr, x, g, b, rm, rv, rows, c, 1e-5f, 0.1f, mode);
        rs_batchnorm_backward_fast(NULL, dgf, dbf, dy, x, g, mr, isr, rows, c, mode);
        rs_batchnorm_backward_ref(NULL, dgr, dbr, dy, x, g, mr, isr, rows, c, mode);
        for (int32_t j = 0; j < c; j++) {
            bn_check("bn double save_mean", j, mf[j], mr[j], 2.0 * U * fabs(mr[j]));
            bn_check("bn double save_invstd", j, isf[j], isr[j], 4.0 * U * fabs(isr[j]));
            bn_check("bn double d_gamma", j, dgf[j], dgr[j], 2.0 * U * fabs(dgr[j]));
            bn_check("bn double d_beta", j, dbf[j], dbr[j], 2.0 * U * fabs(dbr[j]));
        }
    }
    (void)state;
    rs_free(x), rs_free(dy), rs_free(y), rs_free(st);
}

/* Max pooling propagates NaN on every path, as PyTorch does (issue 9 item 6; oneDNN's own max skips it): an output
 * is NaN exactly when its window (clipped to the input) holds a NaN, and the fast path (training and inference)
 * equals the reference bit for bit. Windows with one NaN among larger values and a window of NaN only are both
 * present, and an input without NaN is pooled again afterwards (no state is left behind). */
static void test_maxpool_nan(void **state) {
    rs_pool2d_dims d = {.n = 2, .c = 19, .h_in = 9, .w_in = 9, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                        .pad_h = 1, .pad_w = 1};
    assert_int_equal(rs_pool2d_dims_finish(&d), RS_OK);
    const int32_t H = d.h_in, W = d.w_in, C = d.c;
    const size_t nin = (size_t)d.n * H * W * C, nout = (size_t)d.n * d.h_out * d.w_out * C;
    float *x = randn(nin, rs_stream(RS_PURPOSE_TEST, 210, 0));
    for (size_t i = 0; i < nin; i += 37) x[i] = NAN;  /* scattered: most windows mix NaN and numbers */
    for (int32_t y = 0; y < 2; y++)                  /* the top-left window of image 1, channel 5: NaN only */
        for (int32_t xx = 0; xx < 2; xx++) x[(((size_t)1 * H + y) * W + xx) * C + 5] = NAN;
    float *yr = rs_alloc(nout * 4), *yf = rs_alloc(nout * 4), *yi = rs_alloc(nout * 4);
    void *sr = rs_alloc(rs_maxpool2d_saved_bytes(&d)), *sf = rs_alloc(rs_maxpool2d_saved_bytes(&d));
    rs_maxpool2d_forward_ref(yr, sr, x, &d);
    rs_maxpool2d_forward_fast(yf, sf, x, &d);
    rs_maxpool2d_forward_fast(yi, NULL, x, &d);
    size_t nan_out = 0;
    for (int32_t n = 0; n < d.n; n++)
        for (int32_t oy = 0; oy < d.h_out; oy++)
            for (int32_t ox = 0; ox < d.w_out; ox++)
                for (int32_t c = 0; c < C; c++) {
                    int has_nan = 0;
                    for (int32_t y = oy * 2 - 1; y <= oy * 2 + 1; y++)
                        for (int32_t xx = ox * 2 - 1; xx <= ox * 2 + 1; xx++)
                            if (y >= 0 && y < H && xx >= 0 && xx < W)
                                has_nan |= isnan(x[(((size_t)n * H + y) * W + xx) * C + c]);
                    size_t at = (((size_t)n * d.h_out + oy) * d.w_out + ox) * C + c;
                    assert_int_equal(!!isnan(yr[at]), has_nan);
                    nan_out += (size_t)has_nan;
                }
    assert_true(nan_out > 0 && nan_out < nout);
    assert_true(isnan(yr[((size_t)1 * d.h_out * d.w_out) * C + 5]));
    assert_memory_equal(yf, yr, nout * 4);
    assert_memory_equal(yi, yr, nout * 4);
    for (size_t i = 0; i < nin; i++)
        if (isnan(x[i])) x[i] = 0.5f;
    rs_maxpool2d_forward_ref(yr, sr, x, &d);
    rs_maxpool2d_forward_fast(yf, sf, x, &d);
    for (size_t i = 0; i < nout; i++) assert_false(isnan(yr[i]));
    assert_memory_equal(yf, yr, nout * 4);
    rs_free(x), rs_free(yr), rs_free(yf), rs_free(yi), rs_free(sr), rs_free(sf);
    (void)state;
}

/* The fast path's own 2x2 / stride 2 max pooling (pool_2x2.c): output, saved argmax and backward equal the
 * reference bit for bit, for 1 to 64 channels (the flat kernel below 16 channels, the per-pixel one above), odd
 * sizes (the last row and column are dropped), ties, scattered NaN, a window with two NaN (the later one is the
 * argmax, as in the reference), a window of -infinity only, and inference (no saved argmax). */
static void test_maxpool_2x2(void **state) {
    const int32_t cs[] = {1, 6, 15, 16, 19, 64}, hs[] = {24, 7, 5, 12, 3, 9}, ws[] = {24, 9, 6, 11, 2, 8};
    for (int t = 0; t < 6; t++) {
        rs_pool2d_dims d = {.n = 3, .c = cs[t], .h_in = hs[t], .w_in = ws[t], .kh = 2, .kw = 2, .stride_h = 2,
                            .stride_w = 2};
        assert_int_equal(rs_pool2d_dims_finish(&d), RS_OK);
        const int32_t W = d.w_in, C = d.c;
        const size_t nin = (size_t)d.n * d.h_in * W * C, nout = (size_t)d.n * d.h_out * d.w_out * C;
        float *x = randn(nin, rs_stream(RS_PURPOSE_TEST, 211, (uint64_t)t)), *dy = randn(nout, 7 + t);
        for (size_t i = 0; i < nin; i += 3) x[i] = roundf(x[i]); /* ties */
        for (size_t i = 5; i < nin; i += 41) x[i] = NAN;
        const int32_t c = C - 1; /* image 1: window (0, 0) two NaN, window (0, 1) -infinity only */
        x[((size_t)1 * d.h_in * W + 0) * C + c] = NAN, x[((size_t)1 * d.h_in * W + W + 1) * C + c] = NAN;
        for (int32_t y = 0; y < 2; y++)
            for (int32_t xx = 2; xx < 4 && xx < W; xx++) x[(((size_t)1 * d.h_in + y) * W + xx) * C + c] = -INFINITY;
        float *yr = rs_alloc(nout * 4), *yf = rs_alloc(nout * 4), *yi = rs_alloc(nout * 4);
        float *gr = rs_alloc(nin * 4), *gf = rs_alloc(nin * 4);
        int32_t *sr = rs_alloc(rs_maxpool2d_saved_bytes(&d)), *sf = rs_alloc(rs_maxpool2d_saved_bytes(&d));
        rs_maxpool2d_forward_ref(yr, sr, x, &d);
        rs_maxpool2d_forward_fast(yf, sf, x, &d);
        rs_maxpool2d_forward_fast(yi, NULL, x, &d);
        assert_memory_equal(yf, yr, nout * 4);
        assert_memory_equal(yi, yr, nout * 4);
        assert_memory_equal(sf, sr, nout * 4);
        assert_int_equal(sr[(size_t)1 * d.h_out * d.w_out * C + c], W + 1); /* the later NaN */
        for (size_t i = 0; i < nin; i++) gr[i] = gf[i] = 0.25f * (float)(i % 5);
        rs_maxpool2d_backward_ref(gr, dy, sr, &d);
        rs_maxpool2d_backward_fast(gf, dy, sf, &d);
        assert_memory_equal(gf, gr, nin * 4);
        rs_free(x), rs_free(dy), rs_free(yr), rs_free(yf), rs_free(yi), rs_free(gr), rs_free(gf), rs_free(sr);
        rs_free(sf);
    }
    (void)state;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maxpool_2x2),
        cmocka_unit_test(test_batchnorm_double_sums),
        cmocka_unit_test(test_maxpool_nan),
    };
    printf("fast path: %s\n", rs_have_onednn() ? "oneDNN" : "none (fast == reference)");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
