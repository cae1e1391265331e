/* test_shuffle.c: channel shuffling (SPEC 4.2.1). Mode 1 permutes the input channels of every conv weight with
 * the documented permutation (so every filter keeps its spatial profile exactly and every output channel sees the
 * same permutation), mode 2 also the output channels; biases and linear layers are untouched; 3-D (Conv1d)
 * weights too; the result is a function of the seed. */
#include <string.h>

#include "relstab/measure.h"
#include "relstab/models.h"
#include "testutil.h"

/* x (3, 8, 8) -> conv a (16 <- 3, 3x3) -> relu -> conv b (16 <- 16, 3x3) -> flatten -> fc (5). */
static rs_net *small_net(void) {
    rs_net *net = rs_net_new(3, 8, 8);
    int32_t a = rs_net_conv2d(net, "a", 0, 16, 3, 1, 1, 1, 1);
    a = rs_net_relu(net, "relu", a);
    int32_t b = rs_net_conv2d(net, "b", a, 16, 3, 1, 1, 1, 1);
    b = rs_net_flatten(net, "flat", b);
    rs_net_linear(net, "fc", b, 5, 1);
    assert_int_equal(rs_net_build(net, 1, 0), RS_OK);
    rs_net_init(net, 9);
    return net;
}

static float *copy_params(const rs_net *net) {
    float *c = rs_alloc(net->params.total * sizeof(float));
    memcpy(c, net->params.data, net->params.total * sizeof(float));
    return c;
}

/* Checks new[o, i, :] == old[pout[o], pin[i], :] for the weight named name (pout NULL: identity). */
static void check_weight(const rs_net *net, const float *old_all, const char *name, int32_t mode, uint64_t seed) {
    int32_t pi = rs_params_find(&net->params, name);
    assert_true(pi >= 0);
    const rs_param *p = &net->params.items[pi];
    int64_t O = p->shape[0], I = p->shape[1], K = p->numel / (O * I);
    int64_t pin[64], pout[64];
    rs_permutation(pin, I, seed, rs_stream(RS_PURPOSE_SHUFFLE, (uint32_t)pi, 0));
    rs_permutation(pout, O, seed, rs_stream(RS_PURPOSE_SHUFFLE, (uint32_t)pi, 1));
    const float *w = rs_param_data(&net->params, pi), *old = old_all + p->offset;
    for (int64_t o = 0; o < O; o++)
        for (int64_t i = 0; i < I; i++) {
            int64_t so = mode == 2 ? pout[o] : o, si = pin[i];
            assert_memory_equal(w + (o * I + i) * K, old + (so * I + si) * K, (size_t)K * sizeof(float));
        }
    int moved = 0; /* a 16-element permutation is the identity with probability 1/16! */
    for (int64_t i = 0; i < I; i++) moved |= pin[i] != i;
    assert_true(I == 1 || moved);
}

static void check_untouched(const rs_net *net, const float *old, const char *name) {
    int32_t pi = rs_params_find(&net->params, name);
    assert_true(pi >= 0);
    const rs_param *p = &net->params.items[pi];
    assert_memory_equal(rs_param_data(&net->params, pi), old + p->offset, (size_t)p->numel * sizeof(float));
}

static void test_mode1_and_mode2(void **state) {
    (void)state;
    for (int32_t mode = 1; mode <= 2; mode++) {
        rs_net *net = small_net();
        float *old = copy_params(net);
        int32_t n = -1;
        assert_int_equal(rs_shuffle_channels(net, mode, 77, &n), RS_OK);
        assert_int_equal(n, 2);
        check_weight(net, old, "a.weight", mode, 77);
        check_weight(net, old, "b.weight", mode, 77);
        check_untouched(net, old, "a.bias");
        check_untouched(net, old, "b.bias");
        check_untouched(net, old, "fc.weight");
        check_untouched(net, old, "fc.bias");
        rs_free(old);
        rs_net_free(net);
    }
}

static void test_seed_determines_result(void **state) {
    (void)state;
    rs_net *a = small_net(), *b = small_net(), *c = small_net();
    assert_int_equal(rs_shuffle_channels(a, 2, 5, NULL), RS_OK);
    assert_int_equal(rs_shuffle_channels(b, 2, 5, NULL), RS_OK);
    assert_int_equal(rs_shuffle_channels(c, 2, 6, NULL), RS_OK);
    assert_memory_equal(a->params.data, b->params.data, a->params.total * sizeof(float));
    assert_true(memcmp(a->params.data, c->params.data, a->params.total * sizeof(float)) != 0);
    /* mode 0 does nothing; other modes are refused */
    float *old = copy_params(a);
    int32_t n = -1;
    assert_int_equal(rs_shuffle_channels(a, 0, 5, &n), RS_OK);
    assert_int_equal(n, 0);
    assert_memory_equal(a->params.data, old, a->params.total * sizeof(float));
    assert_int_equal(rs_shuffle_channels(a, 3, 5, NULL), RS_ERR_ARG);
    rs_free(old);
    rs_net_free(a), rs_net_free(b), rs_net_free(c);
}

/* The 1-D scale-detection CNN keeps PyTorch's Conv1d weights (out, in, k): they are shuffled the same way. */
static void test_conv1d_weights(void **state) {
    (void)state;
    rs_model_opts o;
    rs_model_opts_init(&o);
    o.hidden = 16, o.depth = 3;
    assert_int_equal(rs_model_resolve("gapmf1d", &o), RS_OK);
    rs_net *net = NULL;
    assert_int_equal(rs_model_build("gapmf1d", &o, &net), RS_OK);
    assert_int_equal(rs_net_build(net, 1, 0), RS_OK);
    rs_net_init(net, 3);
    float *old = copy_params(net);
    int32_t n = 0;
    assert_int_equal(rs_shuffle_channels(net, 1, 8, &n), RS_OK);
    assert_int_equal(n, 3);
    for (int32_t i = 0; i < net->params.count; i++) {
        const rs_param *p = &net->params.items[i];
        int conv = p->ndim == 3; /* the Conv1d weights "conv.l.w" (out, in, k) */
        if (conv) check_weight(net, old, p->name, 1, 8);
        else check_untouched(net, old, p->name);
    }
    rs_free(old);
    rs_net_free(net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mode1_and_mode2),
        cmocka_unit_test(test_seed_determines_result),
        cmocka_unit_test(test_conv1d_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
