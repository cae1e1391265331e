/* test_ops_grad_pool.c: the reference max, average and adaptive-average pools (src/nn/pool.c): finite-difference
 * gradient checks, max-pool tie-breaking and -infinity padding, hand-computed averages and adaptive bins, the dims
 * check's errors and accumulation (+=). Calls the _ref functions directly. */
#include <string.h>

#include "gradcheck.h"

static rs_pool2d_dims pd(int32_t n, int32_t h, int32_t w, int32_t c, int32_t kh, int32_t kw, int32_t sh, int32_t sw,
                         int32_t ph, int32_t pw, int32_t include_pad) {
    rs_pool2d_dims d = {n, h, w, c, kh, kw, sh, sw, ph, pw, include_pad, 0, 0};
    return d;
}

static int64_t in_size(const rs_pool2d_dims *d) { return (int64_t)d->n * d->h_in * d->w_in * d->c; }
static int64_t out_size(const rs_pool2d_dims *d) { return (int64_t)d->n * d->h_out * d->w_out * d->c; }

/* ---------------------------------------------------------------- max pool */
typedef struct {
    rs_pool2d_dims d;
    float *in;
} pool_ctx;

static void maxpool_fwd(void *c, float *out) {
    pool_ctx *x = c;
    rs_maxpool2d_forward_ref(out, NULL, x->in, &x->d); // inference form: no saved indices
}

/* Distinct inputs 0.01 apart (a permutation), so with steps of 1e-3 no window's maximum changes: the op is exactly
 * linear around the point and the check has no kink to cross. */
static void check_maxpool(rs_pool2d_dims d, uint64_t stream, const char *name) {
    assert_int_equal(rs_pool2d_dims_finish(&d), RS_OK);
    const int64_t ni = in_size(&d), no = out_size(&d);
    pool_ctx x = {d, gc_zeros((size_t)ni)};
    int64_t *perm = rs_alloc((size_t)ni * sizeof(int64_t));
    rs_permutation(perm, ni, 99, stream);
    for (int64_t i = 0; i < ni; i++) x.in[i] = 0.01f * (float)(perm[i] - ni / 2);
    void *saved = rs_alloc(rs_maxpool2d_saved_bytes(&d));
    float *out = gc_zeros((size_t)no), *out2 = gc_zeros((size_t)no), *r = tu_randn((size_t)no, stream + 1);
    float *g = gc_zeros((size_t)ni), *once = gc_zeros((size_t)ni);
    rs_maxpool2d_forward_ref(out, saved, x.in, &d);
    rs_maxpool2d_forward_ref(out2, NULL, x.in, &d);
    assert_memory_equal(out, out2, (size_t)no * sizeof(float));
    rs_maxpool2d_backward_ref(g, r, saved, &d);
    gc_problem p = {maxpool_fwd, &x, r, out2, no};
    assert_true(gc_check(&p, x.in, ni, g, 1e-3, name) < GC_TOL);
    memcpy(once, g, (size_t)ni * sizeof(float));
    rs_maxpool2d_backward_ref(g, r, saved, &d);
    assert_true(gc_doubling_error(g, once, ni) < GC_ACC_TOL);
    rs_free(perm), rs_free(saved), rs_free(out), rs_free(out2), rs_free(r), rs_free(g), rs_free(once);
    rs_free(x.in);
}

static void test_maxpool_grad(void **st) {
    check_maxpool(pd(2, 7, 7, 3, 3, 3, 2, 2, 1, 1, 1), 200, "maxpool k3 s2 p1");
    check_maxpool(pd(2, 6, 5, 2, 2, 2, 2, 2, 0, 0, 1), 210, "maxpool k2 s2");
    check_maxpool(pd(1, 5, 6, 4, 3, 2, 1, 1, 1, 1, 1), 220, "maxpool k3x2 s1 p1");
    check_maxpool(pd(3, 1, 9, 2, 1, 3, 1, 2, 0, 1, 1), 230, "maxpool 1-D");
}

/* Ties take the first maximum in row-major window order; padding is -infinity (never the maximum, even over
 * negative inputs); NaN propagates. */
static void test_maxpool_ties_and_padding(void **st) {
    rs_pool2d_dims d = pd(1, 2, 2, 1, 2, 2, 2, 2, 0, 0, 1);
    assert_int_equal(rs_pool2d_dims_finish(&d), RS_OK);
    int32_t arg;
    float out, g[4] = {0}, one = 1.0f;
    float flat[4] = {5, 5, 5, 5}, two[4] = {1, 3, 3, 2};
    rs_maxpool2d_forward_ref(&out, &arg, flat, &d);
    assert_true(out == 5.0f && arg == 0);
    rs_maxpool2d_forward_ref(&out, &arg, two, &d);
    assert_true(out == 3.0f && arg == 1);
    rs_maxpool2d_backward_ref(g, &one, &arg, &d);
    assert_true(g[0] == 0 && g[1] == 1 && g[2] == 0 && g[3] == 0);
    float with_nan[4] = {1, NAN, 7, 2};
    rs_maxpool2d_forward_ref(&out, &arg, with_nan, &d);
    assert_true(isnan(out) && arg == 1);
    // 3x3 window, padding 1, over a 2x2 input of negatives: the corner window's max is the input's max, -2.
    rs_pool2d_dims dp = pd(1, 2, 2, 1, 3, 3, 1, 1, 1, 1, 1);
    assert_int_equal(rs_pool2d_dims_finish(&dp), RS_OK);
    assert_int_equal(dp.h_out, 2);
    float neg[4] = {-5, -2, -3, -4}, outs[4];
    int32_t args[4];
    rs_maxpool2d_forward_ref(outs, args, neg, &dp);
    for (int i = 0; i < 4; i++) assert_true(outs[i] == -2.0f && args[i] == 1);
    // all -infinity: the index still points at the first valid element of the window
    float ninf[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    rs_maxpool2d_forward_ref(outs, args, ninf, &dp);
    for (int i = 0; i < 4; i++) assert_true(isinf(outs[i]) && outs[i] < 0 && args[i] == 0);
    // two channels: the argmax is per channel (NHWC), into the H*W plane
    rs_pool2d_dims dc = pd(1, 2, 2, 2, 2, 2, 1, 1, 0, 0, 1);
    assert_int_equal(rs_pool2d_dims_finish(&dc), RS_OK);
    float two_ch[8] = {1, 9, 4, 2, 3, 5, 0, 7}; // channel 0: 1 4 3 0 -> max at 1; channel 1: 9 2 5 7 -> at 0
    float o2[2];
    int32_t a2[2];
    rs_maxpool2d_forward_ref(o2, a2, two_ch, &dc);
    assert_true(o2[0] == 4 && a2[0] == 1 && o2[1] == 9 && a2[1] == 0);
}

/* ---------------------------------------------------------------- average pool */
static void avgpool_fwd(void *c, float *out) {
    pool_ctx *x = c;
    rs_avgpool2d_forward_ref(out, x->in, &x->d);
}

static void check_avgpool(rs_pool2d_dims d, uint64_t stream, const char *name) {
    assert_int_equal(rs_pool2d_dims_finish(&d), RS_OK);
    const int64_t ni = in_size(&d), no = out_size(&d);
    pool_ctx x = {d, tu_randn((size_t)ni, stream)};
    float *out = gc_zeros((size_t)no), *r = tu_randn((size_t)no, stream + 1);
    float *g = gc_zeros((size_t)ni), *once = gc_zeros((size_t)ni);
    rs_avgpool2d_backward_ref(g, r, &d);
    gc_problem p = {avgpool_fwd, &x, r, out, no};
    assert_true(gc_check(&p, x.in, ni, g, GC_EPS, name) < GC_TOL);
    memcpy(once, g, (size_t)ni * sizeof(float));
    rs_avgpool2d_backward_ref(g, r, &d);
    assert_true(gc_doubling_error(g, once, ni) < GC_ACC_TOL);
    rs_free(out), rs_free(r), rs_free(g), rs_free(once), rs_free(x.in);
}

static void test_avgpool_grad(void **st) {
    check_avgpool(pd(2, 7, 6, 3, 3, 3, 2, 2, 1, 1, 1), 300, "avgpool include pad");
    check_avgpool(pd(2, 7, 6, 3, 3, 3, 2, 2, 1, 1, 0), 310, "avgpool exclude pad");
    check_avgpool(pd(2, 6, 6, 2, 2, 2, 2, 2, 0, 0, 1), 320, "avgpool k2 s2");
    check_avgpool(pd(2, 5, 7, 2, 2, 3, 1, 2, 1, 1, 0), 330, "avgpool k2x3 exclude pad");
}

/* in (3x3) = 1..9. k2 s1: window means 3, 4, 6, 7. k2 s2 pad 1 (Ho = (3+2-2)/2+1 = 2): the (0,0) window holds only
 * in[0][0] = 1 -> 1/4 with the padding counted, 1 without; (0,1) holds 2+3 -> 5/4 or 5/2; (1,1) holds
 * 5+6+8+9 = 28 -> 7 either way. */
static void test_avgpool_hand(void **st) {
    float in[9], out[4];
    for (int i = 0; i < 9; i++) in[i] = (float)(i + 1);
    rs_pool2d_dims d = pd(1, 3, 3, 1, 2, 2, 1, 1, 0, 0, 1);
    assert_int_equal(rs_pool2d_dims_finish(&d), RS_OK);
    rs_avgpool2d_forward_ref(out, in, &d);
    assert_true(out[0] == 3 && out[1] == 4 && out[2] == 6 && out[3] == 7);
    d = pd(1, 3, 3, 1, 2, 2, 2, 2, 1, 1, 1);
    assert_int_equal(rs_pool2d_dims_finish(&d), RS_OK);
    assert_int_equal(d.h_out, 2);
    rs_avgpool2d_forward_ref(out, in, &d);
    assert_true(out[0] == 0.25f && out[1] == 1.25f && out[3] == 7.0f);
    d.count_include_pad = 0;
    rs_avgpool2d_forward_ref(out, in, &d);
    assert_true(out[0] == 1.0f && out[1] == 2.5f && out[3] == 7.0f);
}

/* ---------------------------------------------------------------- adaptive average pool */
typedef struct {
    float *in;
    int32_t n, h, w, c, ho, wo;
} adapt_ctx;

static void adapt_fwd(void *c, float *out) {
    adapt_ctx *x = c;
    rs_adaptive_avgpool2d_forward(out, x->in, x->n, x->h, x->w, x->c, x->ho, x->wo);
}

static void check_adaptive(adapt_ctx x, uint64_t stream, const char *name) {
    const int64_t ni = (int64_t)x.n * x.h * x.w * x.c, no = (int64_t)x.n * x.ho * x.wo * x.c;
    x.in = tu_randn((size_t)ni, stream);
    float *out = gc_zeros((size_t)no), *r = tu_randn((size_t)no, stream + 1);
    float *g = gc_zeros((size_t)ni), *once = gc_zeros((size_t)ni);
    rs_adaptive_avgpool2d_backward(g, r, x.n, x.h, x.w, x.c, x.ho, x.wo);
    gc_problem p = {adapt_fwd, &x, r, out, no};
    assert_true(gc_check(&p, x.in, ni, g, GC_EPS, name) < GC_TOL);
    memcpy(once, g, (size_t)ni * sizeof(float));
    rs_adaptive_avgpool2d_backward(g, r, x.n, x.h, x.w, x.c, x.ho, x.wo);
    assert_true(gc_doubling_error(g, once, ni) < GC_ACC_TOL);
    rs_free(out), rs_free(r), rs_free(g), rs_free(once), rs_free(x.in);
}

static void test_adaptive_grad(void **st) {
    check_adaptive((adapt_ctx){NULL, 2, 7, 5, 3, 3, 2}, 400, "adaptive uneven 7x5 -> 3x2");
    check_adaptive((adapt_ctx){NULL, 2, 4, 6, 70, 1, 1}, 410, "adaptive global (70 channels)");
    check_adaptive((adapt_ctx){NULL, 1, 3, 2, 2, 5, 3}, 420, "adaptive upsampling 3x2 -> 5x3");
}

/* 1-D, W = 5 -> 2: bins [0, 3) and [2, 5) (PyTorch: floor(i*5/2), ceil((i+1)*5/2)) overlap at x = 2; values 1..5
 * give means 2 and 4; in backward x = 2 receives from both bins: 1/3 + 1/3. H = 7 -> 3: [0,3), [2,5), [4,7). */
static void test_adaptive_hand(void **st) {
    float in[5] = {1, 2, 3, 4, 5}, out[2], g[5] = {0}, ones[2] = {1, 1};
    rs_adaptive_avgpool2d_forward(out, in, 1, 1, 5, 1, 1, 2);
    assert_true(fabsf(out[0] - 2.0f) < 1e-6f && fabsf(out[1] - 4.0f) < 1e-6f);
    rs_adaptive_avgpool2d_backward(g, ones, 1, 1, 5, 1, 1, 2);
    const float third = 1.0f / 3.0f;
    assert_true(g[0] == third && g[1] == third && g[2] == 2 * third && g[3] == third && g[4] == third);
    float col[7] = {1, 2, 3, 4, 5, 6, 7}, o3[3];
    rs_adaptive_avgpool2d_forward(o3, col, 1, 7, 1, 1, 3, 1);
    assert_true(fabsf(o3[0] - 2.0f) < 1e-6f && fabsf(o3[1] - 4.0f) < 1e-6f && fabsf(o3[2] - 6.0f) < 1e-6f);
}

/* ---------------------------------------------------------------- dims */
static void expect_pool_error(rs_pool2d_dims d, const char *needle) {
    assert_int_equal(rs_pool2d_dims_finish(&d), RS_ERR_ARG);
    if (!strstr(rs_last_error(), needle)) fail_msg("message '%s' lacks '%s'", rs_last_error(), needle);
}

static void test_pool_dims(void **st) {
    expect_pool_error(pd(1, 4, 4, 1, 2, 2, 2, 2, 2, 0, 1), "half the kernel"); // PyTorch: pad <= k/2
    expect_pool_error(pd(1, 4, 4, 1, 3, 3, 1, 1, 0, -1, 1), "half the kernel");
    expect_pool_error(pd(1, 2, 4, 1, 3, 3, 1, 1, 0, 0, 1), "larger than");
    expect_pool_error(pd(1, 4, 4, 1, 2, 2, 0, 2, 0, 0, 1), "stride");
    expect_pool_error(pd(1, 4, 0, 1, 2, 2, 2, 2, 0, 0, 1), "positive");
    expect_pool_error(pd(1, 4, 4, 1, 0, 2, 2, 2, 0, 0, 1), "kernel");
    rs_pool2d_dims d = pd(2, 7, 6, 3, 3, 2, 2, 3, 1, 1, 1); // floor((7+2-3)/2)+1 = 4, floor((6+2-2)/3)+1 = 3
    assert_int_equal(rs_pool2d_dims_finish(&d), RS_OK);
    assert_int_equal(d.h_out, 4);
    assert_int_equal(d.w_out, 3);
    assert_int_equal(rs_maxpool2d_saved_bytes(&d), 4 * 2 * 4 * 3 * 3);
}

/* Same bits on 1 and 2 threads for max, average and adaptive pooling, forward and backward. */
static void test_pool_thread_independent(void **st) {
    rs_pool2d_dims d = pd(4, 20, 18, 24, 3, 3, 2, 2, 1, 1, 0);
    assert_int_equal(rs_pool2d_dims_finish(&d), RS_OK);
    const int64_t ni = in_size(&d), no = out_size(&d), na = 4 * 7 * 5 * 24;
    float *in = tu_randn((size_t)ni, 600), *r = tu_randn((size_t)no, 601), *ra = tu_randn((size_t)na, 602);
    const int threads_before = rs_get_threads();
    float *res[2][6];
    void *saved = rs_alloc(rs_maxpool2d_saved_bytes(&d));
    for (int t = 0; t < 2; t++) {
        rs_set_threads(t + 1);
        for (int k = 0; k < 6; k++) res[t][k] = gc_zeros((size_t)ni);
        rs_maxpool2d_forward_ref(res[t][0], saved, in, &d);
        rs_maxpool2d_backward_ref(res[t][1], r, saved, &d);
        rs_avgpool2d_forward_ref(res[t][2], in, &d);
        rs_avgpool2d_backward_ref(res[t][3], r, &d);
        rs_adaptive_avgpool2d_forward(res[t][4], in, 4, 20, 18, 24, 7, 5);
        rs_adaptive_avgpool2d_backward(res[t][5], ra, 4, 20, 18, 24, 7, 5);
    }
    rs_set_threads(threads_before);
    for (int k = 0; k < 6; k++) {
        assert_memory_equal(res[0][k], res[1][k], (size_t)ni * sizeof(float));
        rs_free(res[0][k]), rs_free(res[1][k]);
    }
    rs_free(in), rs_free(r), rs_free(ra), rs_free(saved);
}

int main(void) {
    // The ops give the same bits on any number of threads (the *_thread_independent tests check it); one thread
    // keeps the thousands of tiny forward calls of the difference quotients cheap on a shared machine.
    rs_set_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maxpool_grad),   cmocka_unit_test(test_maxpool_ties_and_padding),
        cmocka_unit_test(test_avgpool_grad),   cmocka_unit_test(test_avgpool_hand),
        cmocka_unit_test(test_adaptive_grad),  cmocka_unit_test(test_adaptive_hand),
        cmocka_unit_test(test_pool_dims),      cmocka_unit_test(test_pool_thread_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
