/* test_models.c: the model zoo's structure: the SPEC 3.1 parameter counts, node names, FLOPs, the init rules, the
 * matmul node (a linear node on an (in, out) weight) against a linear node, the error messages, and a checkpoint
 * round trip through rs_net_save / rs_net_load under the reference's tensor names and shapes. The outputs against
 * PyTorch are in test_models_golden.c. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/io.h"
#include "relstab/models.h"

/* ---------------------------------------------------------------- counts, names, FLOPs */
static int64_t count_of(const char *model, int32_t channels, int32_t size) {
    rs_model_opts o;
    rs_model_opts_init(&o);
    o.channels = channels;
    o.height = o.width = size;
    rs_net *net = NULL;
    if (rs_model_build(model, &o, &net) != RS_OK) fail_msg("%s: %s", model, rs_last_error());
    int64_t n = rs_params_count_trainable(&net->params);
    rs_net_free(net);
    return n;
}

static void test_spec_parameter_counts(void **state) {
    (void)state;
    /* SPEC 3.1 [CHK]: 3 x 32 x 32 input, 10 classes */
    assert_int_equal(count_of("vgg11", 3, 32), 9225610);
    assert_int_equal(count_of("vgg11bn", 3, 32), 9231114);
    assert_int_equal(count_of("vgg16bn", 3, 32), 14728266);
    assert_int_equal(count_of("alexnet", 3, 32), 23272266);
    assert_int_equal(count_of("lenet", 3, 32), 62006);
    assert_int_equal(count_of("lenet", 1, 28), 44426);
    assert_int_equal(count_of("resnet18", 3, 32), 11173962);
    assert_int_equal(count_of("resnet50", 3, 32), 23520842);
    assert_int_equal(count_of("efficientnetb0", 3, 32), 3599686);
    assert_int_equal(count_of("densenetl4", 3, 32), 205642);
    assert_int_equal(count_of("VGG11BN", 3, 32), 9231114); /* names are case-insensitive */
}

static void test_node_names(void **state) {
    (void)state;
    /* LeNet's functional ops take torch.fx's names (SPEC 1.3), in this order */
    static const char *lenet[] = {"x", "conv1", "relu", "max_pool2d", "conv2", "relu_1", "max_pool2d_1", "view",
                                  "fc1", "relu_2", "fc2", "relu_3", "fc3"};
    rs_net *net = NULL;
    assert_int_equal(rs_model_build("lenet", NULL, &net), RS_OK);
    assert_int_equal(net->n_nodes, 13);
    for (int32_t i = 0; i < 13; i++) assert_string_equal(net->nodes[i].name, lenet[i]);
    rs_net_free(net);
    /* VGG with one channel: features.0 is the ZeroPad2d, and indices shift by one */
    rs_model_opts o;
    rs_model_opts_init(&o);
    o.channels = 1;
    o.height = o.width = 28;
    assert_int_equal(rs_model_build("vgg11", &o, &net), RS_OK);
    assert_int_equal(net->nodes[rs_net_find(net, "features.0")].op, RS_OP_ZEROPAD);
    assert_int_equal(net->nodes[rs_net_find(net, "features.1")].op, RS_OP_CONV2D);
    assert_int_equal(net->nodes[rs_net_find(net, "features.0")].h, 32);
    assert_int_equal(net->nodes[net->output].c, 10);
    assert_string_equal(net->nodes[net->output].name, "classifier");
    rs_net_free(net);
    /* ResNet: a 1-output net's output node is (1, 1, 1) per image */
    o.classes = 1;
    assert_int_equal(rs_model_build("resnet18", &o, &net), RS_OK);
    const rs_node *out = &net->nodes[net->output];
    assert_true(out->c == 1 && out->h == 1 && out->w == 1);
    assert_true(rs_net_find(net, "layer2.0.shortcut.0") > 0 && rs_net_find(net, "layer1.0.relu_1") > 0);
    rs_net_free(net);
}

static void test_flops(void **state) {
    (void)state;
    rs_net *net = NULL;
    assert_int_equal(rs_model_build("lenet", NULL, &net), RS_OK);
    /* 2 x MACs: conv1 6*28*28*3*25, conv2 16*10*10*6*25, fc 400*120 + 120*84 + 84*10 */
    int64_t macs = 6 * 28 * 28 * 3 * 25 + 16 * 10 * 10 * 6 * 25 + 400 * 120 + 120 * 84 + 84 * 10;
    assert_int_equal(rs_net_flops(net), 2 * macs);
    assert_int_equal(rs_node_flops(net, rs_net_find(net, "relu")), 0);
    assert_int_equal(rs_node_param_count(net, rs_net_find(net, "conv1")), 6 * 3 * 25 + 6);
    rs_net_free(net);
    /* a depthwise conv counts C_in / groups = 1 input per output */
    assert_int_equal(rs_model_build("efficientnetb0", NULL, &net), RS_OK);
    int32_t dw = rs_net_find(net, "layers.0.conv2");
    assert_int_equal(rs_node_flops(net, dw), 2 * 32 * 32 * 32 * 9);
    rs_net_free(net);
}

/* ---------------------------------------------------------------- initialisation rules */
/* Sample mean and mean square of parameter `name` must match a distribution with mean 0, second moment m2 and
 * fourth moment m4, within 5 standard errors (the sample sizes make that a ~1e-6 false-alarm rate). */
static void check_moments(const rs_net *net, const char *name, double m2, double m4) {
    int32_t i = rs_params_find(&net->params, name);
    assert_true(i >= 0);
    const float *x = rs_param_data(&net->params, i);
    int64_t n = net->params.items[i].numel;
    double s1 = 0, s2 = 0;
    for (int64_t j = 0; j < n; j++) s1 += x[j], s2 += (double)x[j] * x[j];
    s1 /= (double)n;
    s2 /= (double)n;
    if (fabs(s1) > 5 * sqrt(m2 / (double)n) || fabs(s2 - m2) > 5 * sqrt((m4 - m2 * m2) / (double)n))
        fail_msg("%s: mean %g, mean square %g (expected 0 and %g, n = %lld)", name, s1, s2, m2, (long long)n);
}

static void check_uniform(const rs_net *net, const char *name, double bound) {
    int32_t i = rs_params_find(&net->params, name);
    assert_true(i >= 0);
    const float *x = rs_param_data(&net->params, i);
    for (int64_t j = 0; j < net->params.items[i].numel; j++) assert_true(fabs(x[j]) <= bound * (1 + 1e-6));
    check_moments(net, name, bound * bound / 3, bound * bound * bound * bound / 5);
}

static void check_const(const rs_net *net, const char *name, float v) {
    int32_t i = rs_params_find(&net->params, name);
    assert_true(i >= 0);
    for (int64_t j = 0; j < net->params.items[i].numel; j++) assert_true(rs_param_data(&net->params, i)[j] == v);
}

static void test_init_rules(void **state) {
    (void)state;
    rs_net *net = NULL;
    assert_int_equal(rs_model_build("vgg11bn", NULL, &net), RS_OK);
    assert_int_equal(rs_net_build(net, 1, 0), RS_OK);
    rs_net_init(net, 7);
    check_uniform(net, "features.0.weight", 1 / sqrt(27.0)); /* kaiming_uniform(a = sqrt 5): U(+-1/sqrt(fan_in)) */
    check_uniform(net, "features.0.bias", 1 / sqrt(27.0));
    check_uniform(net, "features.25.weight", 1 / sqrt(4608.0));
    check_uniform(net, "classifier.weight", 1 / sqrt(512.0));
    check_const(net, "features.1.weight", 1);
    check_const(net, "features.1.bias", 0);
    check_const(net, "features.1.running_var", 1);
    rs_net_free(net);
    assert_int_equal(rs_model_build("efficientnetb0", NULL, &net), RS_OK);
    assert_int_equal(rs_net_build(net, 1, 0), RS_OK);
    rs_net_init(net, 7);
    check_uniform(net, "layers.0.conv1.weight", 1 / sqrt(32.0)); /* the unused expansion conv, as PyTorch's */
    check_uniform(net, "layers.0.conv2.weight", 1 / 3.0);         /* depthwise: fan_in 1 x 3 x 3 */
    check_const(net, "layers.0.bn1.running_var", 1);
    rs_net_free(net);
    assert_int_equal(rs_model_build("densenetl4", NULL, &net), RS_OK); /* NTK: N(0, 1) */
    assert_int_equal(rs_net_build(net, 1, 0), RS_OK);
    rs_net_init(net, 7);
    check_moments(net, "fcn.0.w", 1, 3);
    check_moments(net, "fcn.3.w", 1, 3);
    rs_net_free(net);
    rs_model_opts o;
    rs_model_opts_init(&o);
    o.hidden = 256;
    assert_int_equal(rs_model_build("gapmf1d", &o, &net), RS_OK);
    assert_int_equal(rs_net_build(net, 1, 0), RS_OK);
    rs_net_init(net, 7);
    check_moments(net, "conv.1.w", 1, 3);
    check_moments(net, "beta", 1, 3);
    rs_net_free(net);
}

/* ---------------------------------------------------------------- the matmul node */
/* A matmul node (W stored (K, O)) must give exactly what a linear node with W^T gives, forward and backward. */
static void test_matmul_equals_linear(void **state) {
    (void)state;
    const int32_t n = 3, k = 5, o = 4;
    rs_net *a = rs_net_new(k, 1, 1), *b = rs_net_new(k, 1, 1);
    int64_t wshape[2] = {k, o}, bshape = o;
    int32_t w = rs_net_param(a, "w", 2, wshape, RS_PARAM_TRAINABLE, (rs_init){RS_INIT_NORMAL, 0, 1});
    int32_t bb = rs_net_param(a, "b", 1, &bshape, RS_PARAM_TRAINABLE, (rs_init){RS_INIT_NORMAL, 0, 1});
    int32_t ya = rs_net_matmul(a, "mm", rs_net_scale(a, "s", 0, 0.5f), o, w, bb);
    int32_t yb = rs_net_linear(b, "lin", rs_net_scale(b, "s", 0, 0.5f), o, 1);
    assert_true(ya > 0 && yb > 0);
    assert_int_equal(a->params.items[w].shape[0], k);
    assert_int_equal(rs_net_build(a, n, 1), RS_OK);
    assert_int_equal(rs_net_build(b, n, 1), RS_OK);
    rs_net_init(a, 3);
    const float *wa = rs_param_data(&a->params, w);
    float *wb = rs_param_data(&b->params, 0);
    for (int32_t i = 0; i < k; i++)
        for (int32_t j = 0; j < o; j++) wb[j * k + i] = wa[i * o + j];
    memcpy(rs_param_data(&b->params, 1), rs_param_data(&a->params, bb), sizeof(float) * o);
    float *x = tu_randn((size_t)n * k, 11), *dy = tu_randn((size_t)n * o, 12);
    assert_int_equal(rs_net_forward(a, x, n, RS_MODE_TRAIN), RS_OK);
    assert_int_equal(rs_net_forward(b, x, n, RS_MODE_TRAIN), RS_OK);
    assert_memory_equal(rs_net_output_data(a), rs_net_output_data(b), sizeof(float) * n * o);
    rs_net_zero_grad(a);
    rs_net_zero_grad(b);
    assert_int_equal(rs_net_backward(a, dy), RS_OK);
    assert_int_equal(rs_net_backward(b, dy), RS_OK);
    const float *ga = rs_param_grad(&a->params, w), *gb = rs_param_grad(&b->params, 0);
    for (int32_t i = 0; i < k; i++)
        for (int32_t j = 0; j < o; j++) assert_true(ga[i * o + j] == gb[j * k + i]);
    assert_memory_equal(rs_param_grad(&a->params, bb), rs_param_grad(&b->params, 1), sizeof(float) * o);
    assert_memory_equal(a->nodes[1].d_out, b->nodes[1].d_out, sizeof(float) * n * k);
    /* and the gradient is not trivially zero */
    double g2 = 0;
    for (int32_t i = 0; i < k * o; i++) g2 += (double)ga[i] * ga[i];
    assert_true(g2 > 0);
    rs_free(x);
    rs_free(dy);
    rs_net_free(a);
    rs_net_free(b);
}

/* A matmul node with a one-element bias adds that number to every output (the reference's `y + last_bias`), in the
 * net's forward and backward: the same as a per-output bias holding the number O times, whose gradients sum. */
static void test_matmul_scalar_bias(void **state) {
    (void)state;
    const int32_t n = 3, k = 5, o = 4;
    rs_net *a = rs_net_new(k, 1, 1), *b = rs_net_new(k, 1, 1);
    int64_t wshape[2] = {k, o}, one = 1, bshape = o;
    int32_t wa = rs_net_param(a, "w", 2, wshape, RS_PARAM_TRAINABLE, (rs_init){RS_INIT_NORMAL, 0, 1});
    int32_t ba = rs_net_param(a, "b", 1, &one, RS_PARAM_TRAINABLE, (rs_init){RS_INIT_NORMAL, 0, 1});
    int32_t wb = rs_net_param(b, "w", 2, wshape, RS_PARAM_TRAINABLE, (rs_init){RS_INIT_NORMAL, 0, 1});
    int32_t bb = rs_net_param(b, "b", 1, &bshape, RS_PARAM_TRAINABLE, (rs_init){RS_INIT_NORMAL, 0, 1});
    assert_true(rs_net_matmul(a, "mm", 0, o, wa, ba) > 0 && rs_net_matmul(b, "mm", 0, o, wb, bb) > 0);
    assert_true(a->nodes[1].b_scalar && !b->nodes[1].b_scalar);
    assert_int_equal(rs_net_build(a, n, 1), RS_OK);
    assert_int_equal(rs_net_build(b, n, 1), RS_OK);
    rs_net_init(a, 3);
    memcpy(rs_param_data(&b->params, wb), rs_param_data(&a->params, wa), sizeof(float) * k * o);
    for (int32_t j = 0; j < o; j++) rs_param_data(&b->params, bb)[j] = rs_param_data(&a->params, ba)[0];
    float *x = tu_randn((size_t)n * k, 21), *dy = tu_randn((size_t)n * o, 22);
    for (int backend = 0; backend < 2; backend++) {
        rs_set_backend(backend ? RS_BACKEND_REF : RS_BACKEND_FAST);
        assert_int_equal(rs_net_forward(a, x, n, RS_MODE_TRAIN), RS_OK);
        assert_int_equal(rs_net_forward(b, x, n, RS_MODE_TRAIN), RS_OK);
        assert_memory_equal(rs_net_output_data(a), rs_net_output_data(b), sizeof(float) * n * o);
        rs_net_zero_grad(a);
        rs_net_zero_grad(b);
        assert_int_equal(rs_net_backward(a, dy), RS_OK);
        assert_int_equal(rs_net_backward(b, dy), RS_OK);
        assert_memory_equal(rs_param_grad(&a->params, wa), rs_param_grad(&b->params, wb), sizeof(float) * k * o);
        double sum = 0;
        for (int32_t j = 0; j < o; j++) sum += rs_param_grad(&b->params, bb)[j];
        assert_float_equal(rs_param_grad(&a->params, ba)[0], sum, 1e-5 * (1 + fabs(sum)));
    }
    rs_set_backend(RS_BACKEND_FAST);
    rs_free(x);
    rs_free(dy);
    rs_net_free(a);
    rs_net_free(b);
}

/* The authors' default ConvGAP: 1x28x28, depth 3, filter 5, zero padding, 10 classes with the scalar last_bias:
 * 64 x 25 + 64 + 2 (64 x 64 x 25 + 64) + 64 x 10 + 1 = 207,233 parameters. */
static void test_gapmf_authors_default(void **state) {
    (void)state;
    rs_model_opts o;
    rs_model_opts_init(&o);
    o.channels = 1;
    o.height = o.width = 28;
    o.classes = 10;
    o.depth = 3;
    o.filter_size = 5;
    o.pbc = 0;
    o.last_bias = 1;
    rs_net *net = NULL;
    assert_int_equal(rs_model_build("gapmf", &o, &net), RS_OK);
    assert_int_equal(rs_params_count_trainable(&net->params), 207233);
    int32_t lb = rs_params_find(&net->params, "last_bias");
    assert_true(lb >= 0 && net->params.items[lb].numel == 1);
    rs_net_free(net);
}

/* ---------------------------------------------------------------- errors */
static void expect_error(const char *model, const rs_model_opts *o, const char *needle) {
    rs_net *net = (rs_net *)1;
    rs_status s = rs_model_build(model, o, &net);
    if (s == RS_OK || net != NULL) fail_msg("%s: expected an error containing '%s'", model, needle);
    if (!strstr(rs_last_error(), needle)) fail_msg("%s: error '%s' lacks '%s'", model, rs_last_error(), needle);
}

static void test_errors(void **state) {
    (void)state;
    rs_model_opts o;
    rs_model_opts_init(&o);
    expect_error("vgg12", NULL, "unknown model 'vgg12' (known: vgg11, vgg13");
    expect_error("", NULL, "efficientnetb0");
    o.channels = 1;
    o.height = o.width = 32;
    expect_error("lenet", &o, "28x28");
    o.channels = 3;
    o.height = o.width = 64;
    expect_error("vgg11", &o, "32 to 63 pixels");
    expect_error("resnet18", &o, "25 to 56 pixels");
    expect_error("alexnet", &o, "256x2x2");
    o.height = o.width = 8;
    expect_error("lenet", &o, "kernel 5x5 is larger");
    rs_model_opts_init(&o);
    o.depth = 3;
    expect_error("vgg11", &o, "'depth' does not apply");
    rs_model_opts_init(&o);
    rs_model_opts_init(&o);
    o.height = 2;
    expect_error("gapmf1d", &o, "height 1");
    rs_model_opts_init(&o);
    o.depth = 4;
    o.n_strides = 2;
    o.strides[0] = o.strides[1] = 2;
    expect_error("gapmf", &o, "2 strides given for depth 4");
    rs_model_opts_init(&o);
    o.depth = 8; /* 128 -> 1 after 7 stride-2 blocks: the 8th cannot wrap a 1-sample signal */
    expect_error("gapmf1d", &o, "conv.7.conv1d");
    rs_model_opts_init(&o);
    o.released_strides = 1;
    expect_error("gapmf", &o, "does not apply");
    /* resolving fills every default and is idempotent */
    rs_model_opts_init(&o);
    o.released_strides = 1;
    assert_int_equal(rs_model_resolve("gapmf1d", &o), RS_OK);
    assert_int_equal(o.depth, 7);
    assert_int_equal(o.n_strides, 7);
    assert_int_equal(o.strides[0], 2);
    assert_int_equal(o.strides[1], 1);
    assert_int_equal(rs_model_resolve("gapmf1d", &o), RS_OK);
    rs_net *net = NULL;
    assert_int_equal(rs_model_build("gapmf1d", &o, &net), RS_OK);
    assert_int_equal(net->nodes[rs_net_find(net, "conv.6.mul")].w, 64); /* 128 -> 64 -> 64 ... (SPEC 5.2 quirk) */
    rs_net_free(net);
}

/* ---------------------------------------------------------------- checkpoints */
/* Save and load through safetensors: every tensor back bit for bit, under the reference's names and shapes. */
static void roundtrip(const char *model, const rs_model_opts *o, const char *tensor, int32_t ndim,
                      const int64_t *shape) {
    rs_net *a = NULL, *b = NULL;
    assert_int_equal(rs_model_build(model, o, &a), RS_OK);
    assert_int_equal(rs_model_build(model, o, &b), RS_OK);
    assert_int_equal(rs_net_build(a, 2, 0), RS_OK);
    assert_int_equal(rs_net_build(b, 2, 0), RS_OK);
    rs_net_init(a, 5);
    rs_net_init(b, 6);
    char path[600];
    snprintf(path, sizeof path, "%s/%s.safetensors", tu_tmpdir("models"), model);
    const char *keys[] = {"model"}, *values[] = {model};
    if (rs_net_save(a, path, keys, values, 1) != RS_OK) fail_msg("save: %s", rs_last_error());
    rs_safetensors *st = NULL;
    if (rs_net_load(b, path, &st) != RS_OK) fail_msg("load: %s", rs_last_error());
    assert_string_equal(rs_safetensors_meta(st, "model"), model);
    const rs_st_tensor *t = rs_safetensors_get(st, tensor);
    assert_non_null(t);
    assert_int_equal(t->ndim, ndim);
    for (int32_t d = 0; d < ndim; d++) assert_int_equal(t->shape[d], shape[d]);
    rs_safetensors_free(st);
    assert_memory_equal(a->params.data, b->params.data, a->params.total * sizeof(float));
    const rs_node *x = &a->nodes[0];
    size_t nin = (size_t)2 * x->c * x->h * x->w;
    float *in = tu_randn(nin, 21);
    assert_int_equal(rs_net_forward(a, in, 2, RS_MODE_EVAL), RS_OK);
    assert_int_equal(rs_net_forward(b, in, 2, RS_MODE_EVAL), RS_OK);
    assert_memory_equal(rs_net_output_data(a), rs_net_output_data(b), sizeof(float) * 2 * rs_net_output_numel(a));
    rs_free(in);
    rs_net_free(a);
    rs_net_free(b);
}

static void test_checkpoint_roundtrip(void **state) {
    (void)state;
    int64_t bn_count_shape[1] = {0};
    roundtrip("resnet18", NULL, "layer1.0.bn1.num_batches_tracked", 0, bn_count_shape);
    rs_model_opts o;
    rs_model_opts_init(&o);
    o.hidden = 16;
    int64_t w3[3] = {16, 16, 2}; /* a conv1d weight keeps PyTorch's 3-D shape in the file */
    roundtrip("gapmf1d", &o, "conv.1.w", 3, w3);
    int64_t wt[2] = {3072, 16}; /* the NTK nets' raw x @ w layout */
    roundtrip("densenetl2", &o, "fcn.0.w", 2, wt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_parameter_counts),
        cmocka_unit_test(test_node_names),
        cmocka_unit_test(test_flops),
        cmocka_unit_test(test_init_rules),
        cmocka_unit_test(test_matmul_equals_linear),
        cmocka_unit_test(test_matmul_scalar_bias),
        cmocka_unit_test(test_gapmf_authors_default),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_checkpoint_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
