/* test_net.c: the net engine end to end: builder checks, names and shapes, taps, a finite-difference check of
 * the whole net's gradient (conv, BN, pooling, residual add, SE multiply, linear), its gradient buffers shared over
 * time, fast vs reference backends,
 * determinism, and a small net trained on generated data whose loss must fall. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/nn.h"

static void test_builder_errors_and_shapes(void **state) {
    rs_net *net = rs_net_new(3, 8, 8);
    int32_t c = rs_net_conv2d(net, "conv1", 0, 4, 3, 2, 1, 1, 1);
    assert_int_equal(c, 1);
    assert_int_equal(net->nodes[c].h, 4);
    assert_int_equal(net->nodes[c].c, 4);
    assert_int_equal(rs_net_linear(net, "fc", c, 10, 1), -1); /* needs a flatten */
    assert_int_equal(net->status, RS_ERR_ARG);
    assert_non_null(strstr(net->error, "flatten"));
    assert_int_equal(rs_net_relu(net, "relu", c), -1); /* every later call fails too */
    assert_int_not_equal(rs_net_build(net, 2, 0), RS_OK);
    rs_net_free(net);

    net = rs_net_new(3, 8, 8);
    rs_net_conv2d(net, "conv1", 0, 4, 3, 1, 1, 1, 1);
    assert_int_equal(rs_net_conv2d(net, "conv1", 1, 4, 3, 1, 1, 1, 1), -1);
    assert_non_null(strstr(net->error, "duplicate"));
    rs_net_free(net);

    net = rs_net_new(3, 8, 8);
    assert_int_equal(rs_net_conv2d(net, "g", 0, 4, 3, 1, 1, 2, 1), -1); /* 3 channels not divisible by 2 groups */
    rs_net_free(net);
}

/* A net with every kind of node, small enough for a finite-difference check. */
static rs_net *kitchen_sink(void) {
    rs_net *net = rs_net_new(2, 6, 6);
    int32_t x = rs_net_conv2d(net, "conv1", 0, 4, 3, 1, 1, 1, 1);
    x = rs_net_batchnorm(net, "bn1", x, 1e-5f, 0.1f);
    x = rs_net_relu(net, "relu1", x);
    int32_t b = rs_net_conv2d(net, "conv2", x, 4, 3, 1, 1, 4, 0); /* depthwise */
    b = rs_net_silu(net, "silu", b);
    int32_t r = rs_net_add(net, "add", x, b);
    int32_t s = rs_net_adaptive_avgpool(net, "se.pool", r, 1, 1);
    s = rs_net_conv2d(net, "se.fc", s, 4, 1, 1, 0, 1, 1);
    s = rs_net_sigmoid(net, "se.sig", s);
    int32_t m = rs_net_mul_channel(net, "se.mul", r, s);
    int32_t p = rs_net_maxpool(net, "pool", m, 2, 2, 0);
    p = rs_net_zeropad(net, "pad", p, 1, 0, 0, 1);
    p = rs_net_avgpool(net, "avg", p, 2, 1, 0, 1);
    p = rs_net_dropout(net, "drop", p, 0.5f);
    int32_t f = rs_net_flatten(net, "flat", p);
    f = rs_net_scale(net, "scale", f, 0.5f);
    f = rs_net_linear(net, "fc", f, 3, 1);
    assert_true(f > 0);
    assert_int_equal(net->status, RS_OK);
    return net;
}

static double loss_of(rs_net *net, const float *x, int32_t n, const float *r) {
    assert_int_equal(rs_net_forward(net, x, n, RS_MODE_INIT_EVAL), RS_OK);
    const float *y = rs_net_output_data(net);
    double l = 0;
    for (int64_t i = 0; i < n * rs_net_output_numel(net); i++) l += (double)r[i] * y[i];
    return l;
}

/* Central differences on every parameter of the net (batch statistics mode: BN uses the batch, no updates).
 * Step: the error of the difference quotient grows as eps^2 (curvature, and ReLU / max-pool kinks crossed by the
 * step: through BN, conv1's weights move every activation); measured 3e-2 -> 3e-2, 1e-2 -> 1.1e-2,
 * 3e-3 -> 2.3e-3, 1e-3 -> 8e-5. With eps = 1e-3 the float32 rounding of the O(1) loss (~1e-7 relative) adds
 * ~1e-4 per difference. A relative error of the whole gradient vector below 1e-2 (in the 2-norm) leaves a factor
 * ~100 for both and still fails on any wrong term (a wrong gradient is off by O(1)). */
static void test_whole_net_gradient(void **state) {
    rs_set_backend(RS_BACKEND_REF);
    rs_net *net = kitchen_sink();
    int32_t n = 3;
    assert_int_equal(rs_net_build(net, n, 1), RS_OK);
    rs_net_init(net, 7);
    float *x = tu_randn((size_t)n * 2 * 36, 1);
    float *r = tu_randn((size_t)n * 3, 2);
    loss_of(net, x, n, r);
    rs_net_zero_grad(net);
    assert_int_equal(rs_net_backward(net, r), RS_OK);
    double num2 = 0, den2 = 0;
    const double eps = 1e-3;
    for (int32_t i = 0; i < net->params.count; i++) {
        const rs_param *p = &net->params.items[i];
        if (p->kind != RS_PARAM_TRAINABLE) continue;
        for (int64_t j = 0; j < p->numel; j++) {
            float *w = net->params.data + p->offset + j;
            float keep = *w;
            *w = keep + (float)eps;
            double lp = loss_of(net, x, n, r);
            *w = keep - (float)eps;
            double lm = loss_of(net, x, n, r);
            *w = keep;
            double fd = (lp - lm) / (2 * eps), an = net->params.grad[p->offset + j];
            num2 += (fd - an) * (fd - an);
            den2 += fd * fd;
        }
    }
    double rel = sqrt(num2 / den2);
    fprintf(stderr, "whole-net gradient relative error %.3g over %lld parameters\n", rel,
            (long long)rs_params_count_trainable(&net->params));
    assert_true(rel < 1e-2);
    assert_true(den2 > 0);
    rs_free(x);
    rs_free(r);
    rs_net_free(net);
    rs_set_backend(RS_BACKEND_FAST);
}

/* Gradient buffers are shared between nodes whose backward lifetimes do not overlap (net_run.c): fewer distinct
 * buffers than nodes, a gradient arena smaller than the activations', the same parameter gradients bit for bit on
 * a second backward over buffers that hold the first one's values (each is zeroed when its lifetime starts), and a
 * clear error when the output node is changed after the plan was made. */
static void test_gradient_buffers_shared(void **state) {
    (void)state;
    rs_net *net = kitchen_sink();
    int32_t n = 3;
    assert_int_equal(rs_net_build(net, n, 0), RS_OK);
    size_t no_grad = net->act.capacity;
    assert_int_equal(rs_net_build(net, n, 1), RS_OK);
    assert_true(net->act.capacity - no_grad < no_grad / 2);
    int32_t distinct = 0;
    for (int32_t i = 1; i < net->n_nodes; i++) {
        int seen = 0;
        for (int32_t j = 1; j < i; j++) seen |= net->nodes[j].d_out == net->nodes[i].d_out;
        distinct += !seen;
    }
    assert_true(distinct < net->n_nodes / 2);
    rs_net_init(net, 7);
    float *x = tu_randn((size_t)n * 2 * 36, 1), *r = tu_randn((size_t)n * 3, 2);
    float *g1 = malloc(net->params.total * sizeof(float));
    for (int rep = 0; rep < 2; rep++) {
        assert_int_equal(rs_net_forward(net, x, n, RS_MODE_INIT_EVAL), RS_OK);
        rs_net_zero_grad(net);
        assert_int_equal(rs_net_backward(net, r), RS_OK);
        if (rep == 0) memcpy(g1, net->params.grad, net->params.total * sizeof(float));
        else assert_memory_equal(g1, net->params.grad, net->params.total * sizeof(float));
    }
    net->output = net->n_nodes - 2;
    assert_int_equal(rs_net_backward(net, r), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "build it again"));
    free(g1);
    rs_free(x), rs_free(r);
    rs_net_free(net);
}

static void test_taps_and_backends(void **state) {
    rs_net *net = kitchen_sink();
    int32_t n = 5;
    assert_int_equal(rs_net_build(net, n, 1), RS_OK);
    rs_net_init(net, 3);
    float *x = tu_randn((size_t)n * 72, 3);
    size_t total = 0;
    for (int32_t i = 0; i < net->n_nodes; i++) total += (size_t)n * rs_net_node_numel(net, i);
    float *ref = rs_alloc(total * 4), *fast = rs_alloc(total * 4);
    rs_set_backend(RS_BACKEND_REF);
    assert_int_equal(rs_net_forward(net, x, n, RS_MODE_INIT_EVAL), RS_OK);
    for (size_t at = 0, i = 0; i < (size_t)net->n_nodes; at += (size_t)n * rs_net_node_numel(net, (int32_t)i), i++)
        memcpy(ref + at, rs_net_tap(net, (int32_t)i), (size_t)n * rs_net_node_numel(net, (int32_t)i) * 4);
    rs_set_backend(RS_BACKEND_FAST);
    assert_int_equal(rs_net_forward(net, x, n, RS_MODE_INIT_EVAL), RS_OK);
    for (size_t at = 0, i = 0; i < (size_t)net->n_nodes; at += (size_t)n * rs_net_node_numel(net, (int32_t)i), i++)
        memcpy(fast + at, rs_net_tap(net, (int32_t)i), (size_t)n * rs_net_node_numel(net, (int32_t)i) * 4);
    /* O(1) activations through a handful of float32 reductions of length <= 36: 1e-4 absolute is ~100 ulps */
    assert_true(tu_check_close(fast, ref, total, 1e-4, 1e-4, "fast vs reference taps") <= 0);
    /* the input tap is the NHWC image; the NCHW copy of it is the input itself */
    float *back = rs_alloc((size_t)n * 72 * 4);
    rs_net_tap_nchw(net, 0, back);
    assert_memory_equal(back, x, (size_t)n * 72 * 4);
    assert_int_equal(rs_net_find(net, "se.mul"), 10);
    assert_int_equal(rs_net_find(net, "nope"), -1);
    /* eval mode needs running stats: fresh ones are mean 0, var 1, so bn is the identity affine */
    assert_int_equal(rs_net_forward(net, x, n, RS_MODE_EVAL), RS_OK);
    assert_int_equal(rs_net_forward(net, x, n + 1, RS_MODE_EVAL), RS_ERR_ARG);
    rs_free(back);
    rs_free(x);
    rs_free(ref);
    rs_free(fast);
    rs_net_free(net);
}

/* Two classes of 1x8x8 images: a horizontal bar or a vertical bar at a random place, plus noise. */
static void make_bars(float *x, int32_t *y, int32_t n, uint64_t batch) {
    for (int32_t i = 0; i < n; i++) {
        uint64_t id = batch * 1000 + (uint64_t)i, k = 0;
        int32_t cls = (int32_t)rs_randint(99, id, &k, 2), at = (int32_t)rs_randint(99, id, &k, 8);
        y[i] = cls;
        for (int32_t p = 0; p < 64; p++) {
            int32_t r = p / 8, c = p % 8;
            float on = (cls == 0 ? r == at : c == at) ? 1.0f : 0.0f;
            x[i * 64 + p] = on + 0.3f * (float)rs_normal(98, id, (uint64_t)p);
        }
    }
}

static double train_bars(rs_net *net, int steps, double *first_loss) {
    int32_t n = 16;
    float x[16 * 64], dlog[16 * 2];
    int32_t y[16];
    rs_optimizer opt = rs_sgd(0.9, 0, 5e-4);
    double last = 0;
    for (int s = 0; s < steps; s++) {
        make_bars(x, y, n, (uint64_t)s);
        assert_int_equal(rs_net_forward(net, x, n, RS_MODE_TRAIN), RS_OK);
        double l = rs_cross_entropy(dlog, rs_net_output_data(net), y, n, 2, NULL);
        if (s == 0) *first_loss = l;
        last = 0.9 * last + 0.1 * l;
        if (s < 10) last = l;
        rs_net_zero_grad(net);
        assert_int_equal(rs_net_backward(net, dlog), RS_OK);
        assert_int_equal(rs_optimizer_step(&opt, &net->params, 0.05), RS_OK);
    }
    return last;
}

static rs_net *small_cnn(void) {
    rs_net *net = rs_net_new(1, 8, 8);
    int32_t x = rs_net_conv2d(net, "conv1", 0, 4, 3, 1, 1, 1, 1);
    x = rs_net_relu(net, "relu1", x);
    x = rs_net_conv2d(net, "conv2", x, 8, 3, 2, 1, 1, 1);
    x = rs_net_relu(net, "relu2", x);
    x = rs_net_flatten(net, "flatten", x);
    rs_net_linear(net, "fc", x, 2, 1);
    assert_int_equal(rs_net_build(net, 16, 1), RS_OK);
    rs_net_init(net, 1);
    return net;
}

static void test_small_net_learns(void **state) {
    rs_net *net = small_cnn();
    double first, last = train_bars(net, 300, &first);
    fprintf(stderr, "bars: loss %.4f -> %.4f (smoothed) after 300 steps\n", first, last);
    assert_true(first > 0.5);
    assert_true(last < 0.2);
    /* held-out batch */
    float x[16 * 64];
    int32_t y[16];
    int64_t wrong = 0, total_wrong = 0;
    for (int b = 0; b < 8; b++) {
        make_bars(x, y, 16, 100000 + (uint64_t)b);
        assert_int_equal(rs_net_forward(net, x, 16, RS_MODE_EVAL), RS_OK);
        rs_cross_entropy(NULL, rs_net_output_data(net), y, 16, 2, &wrong);
        total_wrong += wrong;
    }
    assert_true(total_wrong <= 6); /* <= 5% of 128 held-out images */
    /* the same seed and thread count give bit-identical weights */
    rs_net *again = small_cnn();
    train_bars(again, 300, &first);
    assert_memory_equal(net->params.data, again->params.data, net->params.total * sizeof(float));
    rs_net_free(net);
    rs_net_free(again);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builder_errors_and_shapes),
        cmocka_unit_test(test_whole_net_gradient),
        cmocka_unit_test(test_gradient_buffers_shared),
        cmocka_unit_test(test_taps_and_backends),
        cmocka_unit_test(test_small_net_learns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
