/* test_ops_grad_struct.c: finite-difference gradient checks and hand-computed cases for the reference linear layer,
 * the activations and the structural ops (add, mul_channel, flatten, zeropad, dropout, drop-connect, scale), the
 * dropout masks' statistics, accumulation (+=) and the backend switch. */
#include <string.h>

#include "gradcheck.h"

/* ---------------------------------------------------------------- linear */
typedef struct {
    float *in, *w, *b; // (N, K), (O, K), (O) or NULL
    int64_t n, k, o;
} lin_ctx;

static void lin_fwd(void *p, float *out) {
    lin_ctx *x = p;
    rs_linear_forward_ref(out, x->in, x->w, x->b, x->n, x->k, x->o);
}

static void check_linear(int64_t n, int64_t k, int64_t o, int with_bias, uint64_t stream, const char *name) {
    lin_ctx x = {tu_randn((size_t)(n * k), stream), tu_randn((size_t)(o * k), stream + 1),
                 with_bias ? tu_randn((size_t)o, stream + 2) : NULL, n, k, o};
    float *out = gc_zeros((size_t)(n * o)), *r = tu_randn((size_t)(n * o), stream + 3);
    float *g_in = gc_zeros((size_t)(n * k)), *g_w = gc_zeros((size_t)(o * k)), *g_b = gc_zeros((size_t)o);
    rs_linear_backward_ref(g_in, g_w, with_bias ? g_b : NULL, r, x.in, x.w, n, k, o);
    gc_problem p = {lin_fwd, &x, r, out, n * o};
    char what[128];
    snprintf(what, sizeof what, "%s d_in", name);
    assert_true(gc_check(&p, x.in, n * k, g_in, GC_EPS, what) < GC_TOL);
    snprintf(what, sizeof what, "%s d_weight", name);
    assert_true(gc_check(&p, x.w, o * k, g_w, GC_EPS, what) < GC_TOL);
    if (with_bias) {
        snprintf(what, sizeof what, "%s d_bias", name);
        assert_true(gc_check(&p, x.b, o, g_b, GC_EPS, what) < GC_TOL);
    }
    float *once_in = gc_zeros((size_t)(n * k)), *once_w = gc_zeros((size_t)(o * k)), *once_b = gc_zeros((size_t)o);
    memcpy(once_in, g_in, (size_t)(n * k) * sizeof(float));
    memcpy(once_w, g_w, (size_t)(o * k) * sizeof(float));
    memcpy(once_b, g_b, (size_t)o * sizeof(float));
    rs_linear_backward_ref(g_in, g_w, with_bias ? g_b : NULL, r, x.in, x.w, n, k, o);
    assert_true(gc_doubling_error(g_in, once_in, n * k) < GC_ACC_TOL);
    assert_true(gc_doubling_error(g_w, once_w, o * k) < GC_ACC_TOL);
    if (with_bias) assert_true(gc_doubling_error(g_b, once_b, o) < GC_ACC_TOL);
    rs_free(once_in), rs_free(once_w), rs_free(once_b), rs_free(out), rs_free(r);
    rs_free(g_in), rs_free(g_w), rs_free(g_b), rs_free(x.in), rs_free(x.w), rs_free(x.b);
}

static void test_linear_grad(void **st) {
    check_linear(3, 7, 5, 1, 600, "linear");
    check_linear(4, 300, 3, 0, 610, "linear no bias, K 300");
    // rows past one float chunk (64) and not a multiple of 4, K with a tail past 16 lanes, an odd O
    check_linear(70, 37, 9, 1, 620, "linear 70 x 37 -> 9");
}

/* [1, 2] through W = [[1, 0], [0, 1], [1, 1]], b = [0.5, 0, -1] -> [1.5, 2, 2]; backward of d_out = [1, 1, 1]:
 * d_in = column sums of W = [2, 2], d_W = rows of in = [[1, 2]] x 3, d_b = [1, 1, 1]. */
static void test_linear_hand(void **st) {
    float in[2] = {1, 2}, w[6] = {1, 0, 0, 1, 1, 1}, b[3] = {0.5f, 0, -1}, out[3], ones[3] = {1, 1, 1};
    rs_linear_forward_ref(out, in, w, b, 1, 2, 3);
    assert_true(out[0] == 1.5f && out[1] == 2 && out[2] == 2);
    float gi[2] = {0}, gw[6] = {0}, gb[3] = {0};
    rs_linear_backward_ref(gi, gw, gb, ones, in, w, 1, 2, 3);
    assert_true(gi[0] == 2 && gi[1] == 2);
    for (int j = 0; j < 3; j++) assert_true(gw[2 * j] == 1 && gw[2 * j + 1] == 2 && gb[j] == 1);
}

/* ---------------------------------------------------------------- linear with a broadcast scalar bias */
/* The matmul node's readout with one bias number for every output: out = in W^T + b[0]. */
static void lin_scalar_fwd(void *p, float *out) {
    lin_ctx *x = p;
    rs_linear_forward_ref(out, x->in, x->w, NULL, x->n, x->k, x->o);
    rs_scalar_bias_forward(out, x->b, x->n * x->o);
}

static void test_scalar_bias_grad(void **st) {
    const int64_t n = 5, k = 6, o = 10;
    lin_ctx x = {tu_randn((size_t)(n * k), 640), tu_randn((size_t)(o * k), 641), tu_randn(1, 642), n, k, o};
    float *out = gc_zeros((size_t)(n * o)), *r = tu_randn((size_t)(n * o), 643);
    float *g_in = gc_zeros((size_t)(n * k)), *g_w = gc_zeros((size_t)(o * k)), *g_b = gc_zeros(1);
    rs_linear_backward_ref(g_in, g_w, NULL, r, x.in, x.w, n, k, o);
    rs_scalar_bias_backward(g_b, r, n * o);
    gc_problem p = {lin_scalar_fwd, &x, r, out, n * o};
    assert_true(gc_check(&p, x.in, n * k, g_in, GC_EPS, "scalar-bias linear d_in") < GC_TOL);
    assert_true(gc_check(&p, x.w, o * k, g_w, GC_EPS, "scalar-bias linear d_weight") < GC_TOL);
    assert_true(gc_check(&p, x.b, 1, g_b, GC_EPS, "scalar-bias linear d_bias") < GC_TOL);
    // by hand: every output moves by b; the bias gradient is the sum of d_out, accumulated (+=)
    float y[3] = {1, -2, 0.5f}, b = 0.25f, gb = 1, ones[3] = {1, 2, 3};
    rs_scalar_bias_forward(y, &b, 3);
    assert_true(y[0] == 1.25f && y[1] == -1.75f && y[2] == 0.75f);
    rs_scalar_bias_backward(&gb, ones, 3);
    assert_true(gb == 7);
    rs_free(out), rs_free(r), rs_free(g_in), rs_free(g_w), rs_free(g_b), rs_free(x.in), rs_free(x.w), rs_free(x.b);
}

/* ---------------------------------------------------------------- elementwise: one input, n elements */
typedef struct {
    void (*f)(float *, const float *, int64_t);
    float *in;
    int64_t n;
} unary_ctx;

static void unary_fwd(void *p, float *out) {
    unary_ctx *x = p;
    x->f(out, x->in, x->n);
}

/* bwd(g, x) runs the op's backward with d_out = r into g. Checks one call's gradient against differences of f,
 * then that a second call doubles it. */
static void check_unary(unary_ctx *x, const float *r, void (*bwd)(float *g, const unary_ctx *x, const float *r),
                        const char *name) {
    const int64_t n = x->n;
    float *out = gc_zeros((size_t)n), *g = gc_zeros((size_t)n), *once = gc_zeros((size_t)n);
    bwd(g, x, r);
    memcpy(once, g, (size_t)n * sizeof(float));
    gc_problem p = {unary_fwd, x, r, out, n};
    assert_true(gc_check(&p, x->in, n, once, GC_EPS, name) < GC_TOL);
    bwd(g, x, r);
    assert_true(gc_doubling_error(g, once, n) < GC_ACC_TOL);
    rs_free(out), rs_free(g), rs_free(once);
}

static void relu_bwd(float *g, const unary_ctx *x, const float *r) { rs_relu_backward(g, r, x->in, x->n); }
static void silu_bwd(float *g, const unary_ctx *x, const float *r) { rs_silu_backward(g, r, x->in, x->n); }
static void sigmoid_bwd(float *g, const unary_ctx *x, const float *r) {
    float *y = gc_zeros((size_t)x->n);
    rs_sigmoid_forward(y, x->in, x->n);
    rs_sigmoid_backward(g, r, y, x->n); // from the OUTPUT
    rs_free(y);
}

static void test_activations_grad(void **st) {
    const int64_t n = 300;
    float *r = tu_randn(n, 701);
    unary_ctx x = {rs_relu_forward, tu_randn(n, 700), n};
    const float kink = 0.0f;
    gc_avoid_kinks(x.in, n, &kink, 1, 0.05f); // 0.05 > 2 eps: no difference crosses the kink
    check_unary(&x, r, relu_bwd, "relu");
    for (int64_t i = 0; i < n; i++) x.in[i] *= 3.0f; // silu and sigmoid over about [-9, 9]: tails and middle
    x.f = rs_silu_forward;
    check_unary(&x, r, silu_bwd, "silu");
    x.f = rs_sigmoid_forward;
    check_unary(&x, r, sigmoid_bwd, "sigmoid");
    rs_free(r), rs_free(x.in);
}

/* Closed forms at chosen points; ReLU's derivative at exactly 0 and its NaN handling; the tails of sigmoid. */
static void test_activations_hand(void **st) {
    float in[5] = {-1, 2, 0, -100, 100}, out[5], g[5] = {0}, ones[5] = {1, 1, 1, 1, 1};
    rs_relu_forward(out, in, 5);
    assert_true(out[0] == 0 && out[1] == 2 && out[2] == 0 && out[3] == 0 && out[4] == 100);
    rs_relu_backward(g, ones, in, 5);
    assert_true(g[0] == 0 && g[1] == 1 && g[2] == 0 && g[3] == 0 && g[4] == 1); // derivative 0 at exactly 0
    float nan_in = NAN, nan_out = 0;
    rs_relu_forward(&nan_out, &nan_in, 1);
    assert_true(isnan(nan_out));
    rs_sigmoid_forward(out, in, 5);
    assert_true(out[2] == 0.5f && out[3] >= 0.0f && out[3] < 1e-40f && out[4] == 1.0f);
    rs_silu_forward(out, in, 5);
    assert_true(out[2] == 0.0f && fabsf(out[0] - (float)(-1.0 / (1.0 + exp(1.0)))) < 3e-7f && out[4] == 100.0f);
    memset(g, 0, sizeof g);
    rs_silu_backward(g, ones, in, 5);
    assert_true(g[2] == 0.5f); // s(0) (1 + 0) = 1/2
}

/* ---------------------------------------------------------------- add, mul_channel */
typedef struct {
    float *a, *b;
    int64_t n, hw, c;
} two_ctx;

static void add_fwd(void *p, float *out) {
    two_ctx *x = p;
    rs_add_forward(out, x->a, x->b, x->n);
}

static void test_add_grad(void **st) {
    const int64_t n = 50;
    two_ctx x = {tu_randn(n, 720), tu_randn(n, 721), n, 0, 0};
    float *r = tu_randn(n, 722), *out = gc_zeros(n), *ga = gc_zeros(n), *gb = gc_zeros(n);
    rs_add_backward(ga, gb, r, n);
    gc_problem p = {add_fwd, &x, r, out, n};
    assert_true(gc_check(&p, x.a, n, ga, GC_EPS, "add d_a") < GC_TOL);
    assert_true(gc_check(&p, x.b, n, gb, GC_EPS, "add d_b") < GC_TOL);
    // x + x: both gradients into one buffer, which receives d_out twice; NULL gradients are skipped
    float *gs = gc_zeros(n);
    rs_add_backward(gs, gs, r, n);
    rs_add_backward(NULL, gs, r, n);
    for (int64_t i = 0; i < n; i++) assert_true(gs[i] == (r[i] + r[i]) + r[i]);
    rs_free(gs), rs_free(r), rs_free(out), rs_free(ga), rs_free(gb), rs_free(x.a), rs_free(x.b);
}

static void mul_fwd(void *p, float *out) {
    two_ctx *x = p;
    rs_mul_channel_forward(out, x->a, x->b, x->n, x->hw, x->c);
}

static void test_mul_channel_grad(void **st) {
    const int64_t n = 2, hw = 6, c = 70; // c > one 64-channel accumulator block
    two_ctx x = {tu_randn((size_t)(n * hw * c), 730), tu_randn((size_t)(n * c), 731), n, hw, c};
    float *r = tu_randn((size_t)(n * hw * c), 732), *out = gc_zeros((size_t)(n * hw * c));
    float *gx = gc_zeros((size_t)(n * hw * c)), *gs = gc_zeros((size_t)(n * c));
    float *ox = gc_zeros((size_t)(n * hw * c)), *os = gc_zeros((size_t)(n * c));
    rs_mul_channel_backward(gx, gs, r, x.a, x.b, n, hw, c);
    gc_problem p = {mul_fwd, &x, r, out, n * hw * c};
    assert_true(gc_check(&p, x.a, n * hw * c, gx, GC_EPS, "mul_channel d_x") < GC_TOL);
    assert_true(gc_check(&p, x.b, n * c, gs, GC_EPS, "mul_channel d_s") < GC_TOL);
    memcpy(ox, gx, (size_t)(n * hw * c) * sizeof(float));
    memcpy(os, gs, (size_t)(n * c) * sizeof(float));
    rs_mul_channel_backward(gx, gs, r, x.a, x.b, n, hw, c);
    assert_true(gc_doubling_error(gx, ox, n * hw * c) < GC_ACC_TOL);
    assert_true(gc_doubling_error(gs, os, n * c) < GC_ACC_TOL);
    rs_free(r), rs_free(out), rs_free(gx), rs_free(gs), rs_free(ox), rs_free(os), rs_free(x.a), rs_free(x.b);
}

/* ---------------------------------------------------------------- flatten, zeropad */
typedef struct {
    float *in;
    int64_t n, h, w, c;
    int32_t t, b, l, r;
} shape_ctx;

static void flatten_fwd(void *p, float *out) {
    shape_ctx *x = p;
    rs_flatten_forward(out, x->in, x->n, x->h, x->w, x->c);
}

static void zeropad_fwd(void *p, float *out) {
    shape_ctx *x = p;
    rs_zeropad_forward(out, x->in, x->n, x->h, x->w, x->c, x->t, x->b, x->l, x->r);
}

static void check_shape_op(shape_ctx *x, int64_t n_out, void (*fwd)(void *, float *), int zeropad, uint64_t stream,
                           const char *name) {
    const int64_t n_in = x->n * x->h * x->w * x->c;
    float *r = tu_randn((size_t)n_out, stream), *out = gc_zeros((size_t)n_out);
    float *g = gc_zeros((size_t)n_in), *once = gc_zeros((size_t)n_in);
    if (zeropad)
        rs_zeropad_backward(g, r, x->n, x->h, x->w, x->c, x->t, x->b, x->l, x->r);
    else
        rs_flatten_backward(g, r, x->n, x->h, x->w, x->c);
    gc_problem p = {fwd, x, r, out, n_out};
    assert_true(gc_check(&p, x->in, n_in, g, GC_EPS, name) < GC_TOL);
    memcpy(once, g, (size_t)n_in * sizeof(float));
    if (zeropad)
        rs_zeropad_backward(g, r, x->n, x->h, x->w, x->c, x->t, x->b, x->l, x->r);
    else
        rs_flatten_backward(g, r, x->n, x->h, x->w, x->c);
    assert_true(gc_doubling_error(g, once, n_in) < GC_ACC_TOL);
    rs_free(r), rs_free(out), rs_free(g), rs_free(once);
}

/* NHWC (1, 2, 2, 3) with value 100 c + 10 y + x flattens to PyTorch's (c, y, x) order: 0, 1, 10, 11, 100, ... */
static void test_flatten(void **st) {
    float in[12], out[12];
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 2; x++)
            for (int c = 0; c < 3; c++) in[(y * 2 + x) * 3 + c] = (float)(100 * c + 10 * y + x);
    rs_flatten_forward(out, in, 1, 2, 2, 3);
    const float want[12] = {0, 1, 10, 11, 100, 101, 110, 111, 200, 201, 210, 211};
    assert_memory_equal(out, want, sizeof want);
    shape_ctx x = {tu_randn(2 * 3 * 4 * 5, 740), 2, 3, 4, 5, 0, 0, 0, 0};
    float *o = gc_zeros(120), *ref = gc_zeros(120);
    rs_flatten_forward(o, x.in, 2, 3, 4, 5);
    rs_nhwc_to_nchw(ref, x.in, 2, 5, 3, 4);
    assert_memory_equal(o, ref, 120 * sizeof(float));
    check_shape_op(&x, 120, flatten_fwd, 0, 741, "flatten");
    rs_free(o), rs_free(ref), rs_free(x.in);
}

/* (1, 1, 2, 1) = [1, 2] padded top 1, bottom 0, left 2, right 1 -> (2, 5): row 0 zeros, row 1 = 0 0 1 2 0. */
static void test_zeropad(void **st) {
    float in[2] = {1, 2}, out[10];
    rs_zeropad_forward(out, in, 1, 1, 2, 1, 1, 0, 2, 1);
    const float want[10] = {0, 0, 0, 0, 0, 0, 0, 1, 2, 0};
    assert_memory_equal(out, want, sizeof want);
    shape_ctx x = {tu_randn(2 * 3 * 2 * 4, 750), 2, 3, 2, 4, 2, 1, 0, 3};
    check_shape_op(&x, 2 * 6 * 5 * 4, zeropad_fwd, 1, 751, "zeropad");
    rs_free(x.in);
}

/* ---------------------------------------------------------------- dropout, dropconnect, scale */
typedef struct {
    float *in;
    int64_t n, per_sample; // per_sample 0: dropout (elementwise)
    float p;
} drop_ctx;

static void drop_fwd(void *q, float *out) {
    drop_ctx *x = q;
    if (x->per_sample)
        rs_dropconnect_forward(out, x->in, x->n, x->per_sample, x->p, 42, rs_stream(RS_PURPOSE_DROPOUT, 3, 7));
    else
        rs_dropout_forward(out, x->in, x->n, x->p, 42, rs_stream(RS_PURPOSE_DROPOUT, 3, 7));
}

static void drop_bwd(drop_ctx *x, float *g, const float *d_out) {
    if (x->per_sample)
        rs_dropconnect_backward(g, d_out, x->n, x->per_sample, x->p, 42, rs_stream(RS_PURPOSE_DROPOUT, 3, 7));
    else
        rs_dropout_backward(g, d_out, x->n, x->p, 42, rs_stream(RS_PURPOSE_DROPOUT, 3, 7));
}

/* Gradient check (the mask is a fixed function of (seed, stream, index), so the op is linear in its input), the
 * same mask forward and backward, kept values scaled by exactly 1/(1-p), and the kept fraction: with m Bernoulli
 * draws the count has standard deviation sqrt(m p (1-p)); 5 of them bound a false failure by 6e-7. */
static void check_drop(int64_t n, int64_t per_sample, float p, const char *name) {
    const int64_t total = n * (per_sample ? per_sample : 1);
    drop_ctx x = {tu_randn((size_t)total, 760), n, per_sample, p};
    float *r = tu_randn((size_t)total, 761), *out = gc_zeros((size_t)total), *g = gc_zeros((size_t)total);
    float *ones = gc_zeros((size_t)total);
    for (int64_t i = 0; i < total; i++) ones[i] = 1.0f;
    drop_fwd(&x, out);
    drop_bwd(&x, g, ones);
    const float scale = 1.0f / (1.0f - p);
    int64_t kept = 0;
    for (int64_t i = 0; i < total; i++) {
        const int k = g[i] != 0.0f;
        assert_true(k ? (g[i] == scale && out[i] == x.in[i] * scale) : out[i] == 0.0f);
        if (per_sample) assert_int_equal(k, g[i / per_sample * per_sample] != 0.0f); // whole samples
        kept += k;
    }
    const double frac = (double)kept / (double)total, m = (double)n;
    const double bound = 5.0 * sqrt(m * p * (1.0 - p)) / m;
    if (fabs(frac - (1.0 - p)) > bound) fail_msg("%s: kept %.4f, expected %.4f +- %.4f", name, frac, 1 - p, bound);
    // gradient check on the first 300 elements' worth of the op
    drop_ctx small = x;
    small.n = per_sample ? 100 : 300;
    const int64_t ns = small.n * (per_sample ? per_sample : 1);
    memset(g, 0, (size_t)total * sizeof(float));
    drop_bwd(&small, g, r);
    gc_problem pr = {drop_fwd, &small, r, out, ns};
    assert_true(gc_check(&pr, small.in, ns, g, GC_EPS, name) < GC_TOL);
    rs_free(r), rs_free(out), rs_free(g), rs_free(ones), rs_free(x.in);
}

static void test_dropout(void **st) {
    check_drop(200000, 0, 0.3f, "dropout p 0.3");
    check_drop(20000, 3, 0.5f, "dropconnect p 0.5");
    // p = 0 keeps everything unscaled, p = 1 drops everything (no 0 * inf)
    float in[4] = {1, -2, 3, INFINITY}, out[4];
    rs_dropout_forward(out, in, 4, 0.0f, 1, 2);
    assert_memory_equal(out, in, sizeof in);
    rs_dropout_forward(out, in, 4, 1.0f, 1, 2);
    for (int i = 0; i < 4; i++) assert_true(out[i] == 0.0f);
    // another stream, another mask: agreement about p^2 + (1-p)^2 = 0.5 of 1000 elements, not all
    float a[1000], b[1000], ones[1000];
    for (int i = 0; i < 1000; i++) ones[i] = 1;
    rs_dropout_forward(a, ones, 1000, 0.5f, 42, rs_stream(RS_PURPOSE_DROPOUT, 3, 7));
    rs_dropout_forward(b, ones, 1000, 0.5f, 42, rs_stream(RS_PURPOSE_DROPOUT, 3, 8));
    int same = 0;
    for (int i = 0; i < 1000; i++) same += a[i] == b[i];
    assert_true(same < 600 && same > 400); // 500 +- 6.3 sd
}

static void scale_fwd(void *p, float *out) {
    unary_ctx *x = p;
    rs_scale_forward(out, x->in, x->n, -0.37f);
}

static void test_scale(void **st) {
    unary_ctx x = {NULL, tu_randn(40, 770), 40};
    float *r = tu_randn(40, 771), *out = gc_zeros(40), *g = gc_zeros(40), *once = gc_zeros(40);
    rs_scale_backward(g, r, 40, -0.37f);
    gc_problem p = {scale_fwd, &x, r, out, 40};
    assert_true(gc_check(&p, x.in, 40, g, GC_EPS, "scale") < GC_TOL);
    memcpy(once, g, 40 * sizeof(float));
    rs_scale_backward(g, r, 40, -0.37f);
    assert_true(gc_doubling_error(g, once, 40) < GC_ACC_TOL);
    rs_free(r), rs_free(out), rs_free(g), rs_free(once), rs_free(x.in);
}

/* Same bits on 1 and 2 threads: linear forward and backward, mul_channel's backward, dropout. */
static void test_thread_independent(void **st) {
    const int64_t n = 16, k = 300, o = 40, hw = 64, c = 48;
    float *in = tu_randn((size_t)(n * k), 790), *w = tu_randn((size_t)(o * k), 791), *b = tu_randn((size_t)o, 792);
    float *r = tu_randn((size_t)(n * o), 793), *x = tu_randn((size_t)(n * hw * c), 794);
    float *s = tu_randn((size_t)(n * c), 795), *rx = tu_randn((size_t)(n * hw * c), 796);
    const int threads_before = rs_get_threads();
    const int64_t sizes[7] = {n * o, n * k, o * k, o, n * hw * c, n * c, n * hw * c};
    float *res[2][7];
    for (int t = 0; t < 2; t++) {
        rs_set_threads(t + 1);
        for (int q = 0; q < 7; q++) res[t][q] = gc_zeros((size_t)sizes[q]);
        rs_linear_forward_ref(res[t][0], in, w, b, n, k, o);
        rs_linear_backward_ref(res[t][1], res[t][2], res[t][3], r, in, w, n, k, o);
        rs_mul_channel_backward(res[t][4], res[t][5], rx, x, s, n, hw, c);
        rs_dropout_forward(res[t][6], x, n * hw * c, 0.2f, 5, rs_stream(RS_PURPOSE_DROPOUT, 1, 2));
    }
    rs_set_threads(threads_before);
    for (int q = 0; q < 7; q++) {
        assert_memory_equal(res[0][q], res[1][q], (size_t)sizes[q] * sizeof(float));
        rs_free(res[0][q]), rs_free(res[1][q]);
    }
    rs_free(in), rs_free(w), rs_free(b), rs_free(r), rs_free(x), rs_free(s), rs_free(rx);
}

/* ---------------------------------------------------------------- backend switch */
static void test_backend(void **st) {
#ifdef RELSTAB_HAVE_ONEDNN
    assert_int_equal(rs_have_onednn(), 1);
#else
    assert_int_equal(rs_have_onednn(), 0);
#endif
    assert_int_equal(rs_get_backend(), RS_BACKEND_FAST); // the default
    rs_set_backend(RS_BACKEND_REF);
    assert_int_equal(rs_get_backend(), RS_BACKEND_REF);
    // through the dispatcher with the reference selected: bit-identical to calling _ref
    float *in = tu_randn(3 * 9, 780), *w = tu_randn(4 * 9, 781), a[12], b[12];
    rs_linear_forward(a, in, w, NULL, 3, 9, 4);
    rs_linear_forward_ref(b, in, w, NULL, 3, 9, 4);
    assert_memory_equal(a, b, sizeof a);
    rs_set_backend(RS_BACKEND_FAST);
    assert_int_equal(rs_get_backend(), RS_BACKEND_FAST);
    rs_free(in), rs_free(w);
}

int main(void) {
    // The ops give the same bits on any number of threads (the *_thread_independent tests check it); one thread
    // keeps the thousands of tiny forward calls of the difference quotients cheap on a shared machine.
    rs_set_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_grad),      cmocka_unit_test(test_linear_hand),
        cmocka_unit_test(test_scalar_bias_grad),
        cmocka_unit_test(test_activations_grad), cmocka_unit_test(test_activations_hand),
        cmocka_unit_test(test_add_grad),         cmocka_unit_test(test_mul_channel_grad),
        cmocka_unit_test(test_flatten),          cmocka_unit_test(test_zeropad),
        cmocka_unit_test(test_dropout),          cmocka_unit_test(test_scale),
        cmocka_unit_test(test_thread_independent), cmocka_unit_test(test_backend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
