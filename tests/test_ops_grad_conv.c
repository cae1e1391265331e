/* test_ops_grad_conv.c: the reference conv2d (src/nn/conv2d.c): finite-difference checks of the input, weight and
 * bias gradients over strides, asymmetric padding, groups, depthwise, circular 1-D and 2-D padding and no bias;
 * hand-computed outputs; the dims check's errors; accumulation (+=); independence from the thread count; and a
 * negative control showing the gradient check rejects a 1% error. Calls the _ref functions directly. */
#include <string.h>

#include "gradcheck.h"

typedef struct {
    rs_conv2d_dims d;
    float *in, *w, *b; // (N, H, W, C_in), (C_out, C_in/G, KH, KW), (C_out) or NULL
    rs_workspace ws;
} conv_ctx;

static void conv_fwd(void *c, float *out) {
    conv_ctx *x = c;
    rs_conv2d_forward_ref(out, x->in, x->w, x->b, &x->d, &x->ws);
}

typedef struct {
    int64_t n_in, n_w, n_out;
} conv_sizes;

static conv_sizes conv_sizes_of(const rs_conv2d_dims *d) {
    conv_sizes s;
    s.n_in = (int64_t)d->n * d->h_in * d->w_in * d->c_in;
    s.n_w = (int64_t)d->c_out * (d->c_in / d->groups) * d->kh * d->kw;
    s.n_out = (int64_t)d->n * d->h_out * d->w_out * d->c_out;
    return s;
}

/* Random input, weight (scaled by 1/sqrt(fan_in) so outputs are O(1)), bias and loss weights r. */
static void conv_setup(conv_ctx *x, rs_conv2d_dims d, int with_bias, uint64_t stream) {
    assert_int_equal(rs_conv2d_dims_finish(&d), RS_OK);
    memset(x, 0, sizeof *x);
    x->d = d;
    conv_sizes s = conv_sizes_of(&d);
    x->in = tu_randn((size_t)s.n_in, stream);
    x->w = tu_randn((size_t)s.n_w, stream + 1);
    const float fan_scale = 1.0f / sqrtf((float)(d.c_in / d.groups * d.kh * d.kw));
    for (int64_t i = 0; i < s.n_w; i++) x->w[i] *= fan_scale;
    x->b = with_bias ? tu_randn((size_t)d.c_out, stream + 2) : NULL;
}

static void conv_teardown(conv_ctx *x) {
    rs_free(x->in);
    rs_free(x->w);
    rs_free(x->b);
    rs_workspace_free(&x->ws);
}

static void check_conv(rs_conv2d_dims d, int with_bias, uint64_t stream, const char *name) {
    conv_ctx x;
    conv_setup(&x, d, with_bias, stream);
    conv_sizes s = conv_sizes_of(&x.d);
    float *r = tu_randn((size_t)s.n_out, stream + 3), *out = gc_zeros((size_t)s.n_out);
    float *g_in = gc_zeros((size_t)s.n_in), *g_w = gc_zeros((size_t)s.n_w), *g_b = gc_zeros((size_t)d.c_out);
    rs_conv2d_backward_ref(g_in, g_w, with_bias ? g_b : NULL, r, x.in, x.w, &x.d, &x.ws);
    gc_problem p = {conv_fwd, &x, r, out, s.n_out};
    char what[128];
    snprintf(what, sizeof what, "%s d_in", name);
    assert_true(gc_check(&p, x.in, s.n_in, g_in, GC_EPS, what) < GC_TOL);
    snprintf(what, sizeof what, "%s d_weight", name);
    assert_true(gc_check(&p, x.w, s.n_w, g_w, GC_EPS, what) < GC_TOL);
    if (with_bias) {
        snprintf(what, sizeof what, "%s d_bias", name);
        assert_true(gc_check(&p, x.b, d.c_out, g_b, GC_EPS, what) < GC_TOL);
    }
    // Backward again into the same buffers: every gradient doubles.
    float *once_in = gc_zeros((size_t)s.n_in), *once_w = gc_zeros((size_t)s.n_w), *once_b = gc_zeros(d.c_out);
    memcpy(once_in, g_in, (size_t)s.n_in * sizeof(float));
    memcpy(once_w, g_w, (size_t)s.n_w * sizeof(float));
    memcpy(once_b, g_b, (size_t)d.c_out * sizeof(float));
    rs_conv2d_backward_ref(g_in, g_w, with_bias ? g_b : NULL, r, x.in, x.w, &x.d, &x.ws);
    assert_true(gc_doubling_error(g_in, once_in, s.n_in) < GC_ACC_TOL);
    assert_true(gc_doubling_error(g_w, once_w, s.n_w) < GC_ACC_TOL);
    if (with_bias) assert_true(gc_doubling_error(g_b, once_b, d.c_out) < GC_ACC_TOL);
    rs_free(once_in), rs_free(once_w), rs_free(once_b);
    rs_free(r), rs_free(out), rs_free(g_in), rs_free(g_w), rs_free(g_b);
    conv_teardown(&x);
}

/* Fields: n, h_in, w_in, c_in, c_out, kh, kw, stride_h, stride_w, pad_top, pad_bottom, pad_left, pad_right, groups,
 * pad_mode. */
static rs_conv2d_dims cd(int32_t n, int32_t h, int32_t w, int32_t ci, int32_t co, int32_t kh, int32_t kw, int32_t sh,
                         int32_t sw, int32_t pt, int32_t pb, int32_t pl, int32_t pr, int32_t g, rs_pad_mode m) {
    rs_conv2d_dims d = {n, h, w, ci, co, kh, kw, sh, sw, pt, pb, pl, pr, g, m, 0, 0};
    return d;
}

static void test_conv_strided(void **st) {
    check_conv(cd(2, 7, 6, 3, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, RS_PAD_ZERO), 1, 100, "conv strided");
}
static void test_conv_asymmetric_pad(void **st) {
    check_conv(cd(2, 5, 6, 2, 3, 3, 2, 1, 2, 2, 0, 0, 1, 1, RS_PAD_ZERO), 1, 110, "conv asymmetric pad");
}
static void test_conv_grouped(void **st) {
    check_conv(cd(2, 5, 5, 4, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2, RS_PAD_ZERO), 1, 120, "conv grouped");
}
static void test_conv_depthwise(void **st) {
    check_conv(cd(2, 6, 5, 5, 5, 3, 3, 2, 1, 1, 1, 1, 1, 5, RS_PAD_ZERO), 1, 130, "conv depthwise");
    // depthwise with a channel multiplier of 2 (C_in/G = 1, C_out/G = 2) takes the general path
    check_conv(cd(2, 5, 5, 3, 6, 3, 3, 1, 1, 1, 1, 1, 1, 3, RS_PAD_ZERO), 1, 135, "conv depthwise x2");
}
static void test_conv_circular_1d(void **st) {
    check_conv(cd(3, 1, 9, 2, 3, 1, 2, 1, 1, 0, 0, 0, 1, 1, RS_PAD_CIRCULAR), 1, 140, "conv circular k2");
    check_conv(cd(3, 1, 9, 2, 3, 1, 3, 1, 1, 0, 0, 1, 1, 1, RS_PAD_CIRCULAR), 1, 150, "conv circular k3");
    check_conv(cd(2, 1, 8, 3, 2, 1, 5, 1, 2, 0, 0, 2, 2, 1, RS_PAD_CIRCULAR), 1, 155, "conv circular k5 s2");
}
static void test_conv_circular_2d(void **st) {
    check_conv(cd(2, 4, 5, 2, 3, 3, 3, 1, 1, 1, 2, 2, 1, 1, RS_PAD_CIRCULAR), 1, 160, "conv circular 2d");
}
static void test_conv_no_bias(void **st) {
    check_conv(cd(2, 5, 4, 3, 2, 2, 2, 1, 1, 0, 1, 1, 0, 1, RS_PAD_ZERO), 0, 170, "conv no bias");
}
/* Enough channels and pixels for the kernel's full 4 x 16 blocks (and their tails) in all three products. */
static void test_conv_wide(void **st) {
    check_conv(cd(2, 6, 7, 16, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, RS_PAD_ZERO), 1, 176, "conv wide 16->20");
    check_conv(cd(2, 7, 9, 16, 32, 3, 3, 2, 2, 1, 1, 1, 1, 2, RS_PAD_CIRCULAR), 1, 177,
               "conv wide grouped circular s2");
}
static void test_conv_1x1(void **st) {
    check_conv(cd(2, 3, 4, 5, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, RS_PAD_ZERO), 1, 175, "conv 1x1");
}

/* A 4x4 ramp in[y][x] = 4y + x + 1 through Sobel filters: the x filter [[1,0,-1],[2,0,-2],[1,0,-1]] gives
 * (1+2+1) * (v - (v+2)) = -8 everywhere without padding, the y filter (its transpose) (1+2+1) * -8 = -32. With zero
 * padding the corner (0,0) of the x filter sees only w[1][2] in[0][1] + w[2][2] in[1][1] = -2*2 - 6 = -10; with
 * circular padding it sees rows 3, 0, 1 and columns 3, 0, 1: (1+2+1) * (in[r][3] - in[r][1]) = 4 * 2 = 8, and the
 * y filter sum_kw c_kw (in[3][.] - in[1][.]) = 4 * 8 = 32. Biases 0.5 and -1. */
static void test_conv_hand_sobel(void **st) {
    float in[16], w[18] = {1, 0, -1, 2, 0, -2, 1, 0, -1, /* y: */ 1, 2, 1, 0, 0, 0, -1, -2, -1}, b[2] = {0.5f, -1};
    for (int i = 0; i < 16; i++) in[i] = (float)(i + 1);
    rs_workspace ws = {0};
    float out[32];
    rs_conv2d_dims d = cd(1, 4, 4, 1, 2, 3, 3, 1, 1, 0, 0, 0, 0, 1, RS_PAD_ZERO);
    assert_int_equal(rs_conv2d_dims_finish(&d), RS_OK);
    assert_int_equal(d.h_out, 2);
    assert_int_equal(d.w_out, 2);
    rs_conv2d_forward_ref(out, in, w, b, &d, &ws);
    for (int p = 0; p < 4; p++) {
        assert_true(out[2 * p] == -7.5f);
        assert_true(out[2 * p + 1] == -33.0f);
    }
    d = cd(1, 4, 4, 1, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, RS_PAD_ZERO);
    assert_int_equal(rs_conv2d_dims_finish(&d), RS_OK);
    assert_int_equal(d.h_out, 4);
    rs_conv2d_forward_ref(out, in, w, b, &d, &ws);
    assert_true(out[0] == -9.5f);
    d.pad_mode = RS_PAD_CIRCULAR;
    rs_conv2d_forward_ref(out, in, w, b, &d, &ws);
    assert_true(out[0] == 8.5f);
    assert_true(out[1] == 31.0f);
    rs_workspace_free(&ws);
}

/* 1-D circular, filter [1, 10], padding left 0 right 1: out[x] = in[x] + 10 in[(x+1) mod 4] = 21, 32, 43, 14. */
static void test_conv_hand_circular_1d(void **st) {
    float in[4] = {1, 2, 3, 4}, w[2] = {1, 10}, out[4];
    rs_workspace ws = {0};
    rs_conv2d_dims d = cd(1, 1, 4, 1, 1, 1, 2, 1, 1, 0, 0, 0, 1, 1, RS_PAD_CIRCULAR);
    assert_int_equal(rs_conv2d_dims_finish(&d), RS_OK);
    assert_int_equal(d.w_out, 4);
    rs_conv2d_forward_ref(out, in, w, NULL, &d, &ws);
    assert_true(out[0] == 21 && out[1] == 32 && out[2] == 43 && out[3] == 14);
    rs_workspace_free(&ws);
}

static void expect_dims_error(rs_conv2d_dims d, const char *needle) {
    assert_int_equal(rs_conv2d_dims_finish(&d), RS_ERR_ARG);
    if (!strstr(rs_last_error(), needle)) fail_msg("message '%s' lacks '%s'", rs_last_error(), needle);
}

static void test_conv_dims_errors(void **st) {
    expect_dims_error(cd(1, 5, 5, 3, 4, 3, 3, 1, 1, 0, 0, 0, 0, 2, RS_PAD_ZERO), "divisible by groups");
    expect_dims_error(cd(1, 5, 5, 4, 3, 3, 3, 1, 1, 0, 0, 0, 0, 2, RS_PAD_ZERO), "divisible by groups");
    expect_dims_error(cd(1, 1, 4, 1, 1, 1, 3, 1, 1, 0, 0, 4, 0, 1, RS_PAD_CIRCULAR), "circular");
    expect_dims_error(cd(1, 4, 4, 1, 1, 6, 3, 1, 1, 0, 0, 0, 0, 1, RS_PAD_ZERO), "larger than");
    expect_dims_error(cd(1, 4, 4, 1, 1, 3, 3, 0, 1, 0, 0, 0, 0, 1, RS_PAD_ZERO), "stride");
    expect_dims_error(cd(0, 4, 4, 1, 1, 3, 3, 1, 1, 0, 0, 0, 0, 1, RS_PAD_ZERO), "positive");
    expect_dims_error(cd(1, 4, 4, 1, 1, 3, 3, 1, 1, -1, 0, 0, 0, 1, RS_PAD_ZERO), "padding");
    // output size: (4 + 1 + 0 - 3) / 2 + 1 = 2, and one pixel of circular padding on a 2-wide input is allowed
    rs_conv2d_dims d = cd(1, 4, 2, 1, 1, 3, 3, 2, 1, 1, 0, 1, 1, 1, RS_PAD_CIRCULAR);
    assert_int_equal(rs_conv2d_dims_finish(&d), RS_OK);
    assert_int_equal(d.h_out, 2);
    assert_int_equal(d.w_out, 2);
}

/* Forward and backward give the same bits with 1 and 2 threads (each output owned by one thread, fixed order). */
static void test_conv_thread_independent(void **st) {
    conv_ctx x;
    conv_setup(&x, cd(3, 9, 8, 6, 40, 3, 3, 1, 1, 1, 1, 1, 1, 2, RS_PAD_ZERO), 1, 180);
    conv_sizes s = conv_sizes_of(&x.d);
    float *r = tu_randn((size_t)s.n_out, 183);
    float *res[2][4];
    const int threads_before = rs_get_threads();
    for (int t = 0; t < 2; t++) {
        rs_set_threads(t + 1);
        res[t][0] = gc_zeros((size_t)s.n_out), res[t][1] = gc_zeros((size_t)s.n_in);
        res[t][2] = gc_zeros((size_t)s.n_w), res[t][3] = gc_zeros((size_t)x.d.c_out);
        rs_conv2d_forward_ref(res[t][0], x.in, x.w, x.b, &x.d, &x.ws);
        rs_conv2d_backward_ref(res[t][1], res[t][2], res[t][3], r, x.in, x.w, &x.d, &x.ws);
    }
    rs_set_threads(threads_before);
    assert_memory_equal(res[0][0], res[1][0], (size_t)s.n_out * sizeof(float));
    assert_memory_equal(res[0][1], res[1][1], (size_t)s.n_in * sizeof(float));
    assert_memory_equal(res[0][2], res[1][2], (size_t)s.n_w * sizeof(float));
    assert_memory_equal(res[0][3], res[1][3], (size_t)x.d.c_out * sizeof(float));
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 4; k++) rs_free(res[t][k]);
    rs_free(r);
    conv_teardown(&x);
}

/* The gradient check must fail for a gradient that is wrong by 1% (scaled) or in one element (a lost term). */
static void test_gradcheck_detects_small_errors(void **st) {
    conv_ctx x;
    conv_setup(&x, cd(2, 5, 5, 2, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, RS_PAD_ZERO), 1, 190);
    conv_sizes s = conv_sizes_of(&x.d);
    float *r = tu_randn((size_t)s.n_out, 193), *out = gc_zeros((size_t)s.n_out), *g_w = gc_zeros((size_t)s.n_w);
    rs_conv2d_backward_ref(NULL, g_w, NULL, r, x.in, x.w, &x.d, &x.ws);
    gc_problem p = {conv_fwd, &x, r, out, s.n_out};
    assert_true(gc_check(&p, x.w, s.n_w, g_w, GC_EPS, "control: exact") < GC_TOL);
    for (int64_t i = 0; i < s.n_w; i++) g_w[i] *= 1.01f;
    assert_true(gc_check(&p, x.w, s.n_w, g_w, GC_EPS, "control: scaled by 1.01 (expected to fail)") > GC_TOL);
    for (int64_t i = 0; i < s.n_w; i++) g_w[i] /= 1.01f;
    g_w[7] = 0.0f;
    assert_true(gc_check(&p, x.w, s.n_w, g_w, GC_EPS, "control: one element zeroed (expected to fail)") > GC_TOL);
    rs_free(r), rs_free(out), rs_free(g_w);
    conv_teardown(&x);
}

int main(void) {
    // The ops give the same bits on any number of threads (the *_thread_independent tests check it); one thread
    // keeps the thousands of tiny forward calls of the difference quotients cheap on a shared machine.
    rs_set_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_strided),
        cmocka_unit_test(test_conv_asymmetric_pad),
        cmocka_unit_test(test_conv_grouped),
        cmocka_unit_test(test_conv_depthwise),
        cmocka_unit_test(test_conv_circular_1d),
        cmocka_unit_test(test_conv_circular_2d),
        cmocka_unit_test(test_conv_no_bias),
        cmocka_unit_test(test_conv_1x1),
        cmocka_unit_test(test_conv_wide),
        cmocka_unit_test(test_conv_hand_sobel),
        cmocka_unit_test(test_conv_hand_circular_1d),
        cmocka_unit_test(test_conv_dims_errors),
        cmocka_unit_test(test_conv_thread_independent),
        cmocka_unit_test(test_gradcheck_detects_small_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
