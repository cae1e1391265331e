/* test_onnx_pool.c: the backward of the pools and convolutions that the ONNX reader composes from existing ops:
 * a pad gather, a pool and (AveragePool) a multiplication by the divisor constant for ceil_mode, asymmetric pads
 * and pads above half the kernel (pool_general in onnx_ops.c); a gather of the dilated windows side by side and a
 * conv / max pool of stride = kernel for dilations (dilated_input, maxpool_dilated). Their forward is checked by
 * test_onnx_conformance; here the committed graphs y = Pool(a * x) and y = Conv(a * x, W) of
 * tests/fixtures/onnx/pool (make_pool_fixtures.py) give the gradient of L = sum r * y with respect to the
 * parameters a (and W), through rs_net_backward, against central differences (gradcheck.h; steps below).
 * Skipped without ONNX support. */
#include "gradcheck.h"
#include "relstab/onnx.h"

typedef struct {
    rs_net *net;
    const float *x; /* (2, C, H, W) */
} net_ctx;

static void net_fwd(void *p, float *out) {
    net_ctx *c = p;
    assert_int_equal(rs_net_forward(c->net, c->x, 2, RS_MODE_EVAL), RS_OK);
    memcpy(out, rs_net_output_data(c->net), sizeof(float) * (size_t)(2 * rs_net_output_numel(c->net)));
}

static void check_model(const char *name, uint64_t seed) {
    char path[256];
    snprintf(path, sizeof path, "onnx/pool/%s.onnx", name);
    rs_net *net;
    assert_int_equal(rs_onnx_load(tu_fixture(path), NULL, &net, NULL), RS_OK);
    assert_int_equal(rs_net_build(net, 2, 1), RS_OK);
    int32_t k = -1, kw = -1, composed = 0;
    for (int32_t i = 0; i < net->params.count; i++) {
        if (!strcmp(net->params.items[i].name, "a")) k = i;
        if (!strcmp(net->params.items[i].name, "W")) kw = i;
    }
    for (int32_t i = 0; i < net->n_nodes; i++)
        composed |= strstr(net->nodes[i].name, "#pad") || strstr(net->nodes[i].name, "#windows");
    assert_true(k >= 0 && composed);
    const rs_node *in = &net->nodes[0];
    int64_t n_in = 2LL * in->c * in->h * in->w, n_out = 2 * rs_net_output_numel(net), na = net->params.items[k].numel;
    float *x = gc_uniform((size_t)n_in, seed, -1, 1); /* distinct values: no ties in a max */
    net_ctx c = {net, x};
    float *r = gc_uniform((size_t)n_out, seed + 1, -1, 1), *out = gc_zeros((size_t)n_out), *ga = gc_zeros((size_t)na);
    net_fwd(&c, out);
    rs_net_zero_grad(net);
    assert_int_equal(rs_net_backward(net, r), RS_OK);
    memcpy(ga, rs_param_grad(&net->params, k), sizeof(float) * (size_t)na);
    float *gw = NULL;
    int64_t nw = kw >= 0 ? net->params.items[kw].numel : 0;
    if (kw >= 0) {
        gw = gc_zeros((size_t)nw);
        memcpy(gw, rs_param_grad(&net->params, kw), sizeof(float) * (size_t)nw);
    }
    gc_problem p = {net_fwd, &c, r, out, n_out};
    /* the step: 1e-3 (gradcheck.h's 1e-2 would move a * x across the gaps between the values of a max window);
     * 1e-4 for the max pools, where among 60 uniform values per channel two values of one window can lie within
     * 1e-3 of each other (max_dilated at 1e-3: a kink crossed, relative error 1e-2; at 1e-4: 2e-4) */
    const double eps = strncmp(name, "max", 3) ? 1e-3 : 1e-4;
    double rel = gc_check(&p, rs_param_data(&net->params, k), na, ga, eps, name);
    printf("%-22s %d relstab nodes, gradient relative error %.3g (a)", name, net->n_nodes, rel);
    assert_true(rel <= GC_TOL);
    if (kw >= 0) {
        double relw = gc_check(&p, rs_param_data(&net->params, kw), nw, gw, eps, name);
        printf(", %.3g (W)", relw);
        assert_true(relw <= GC_TOL);
        rs_free(gw);
    }
    printf("\n");
    rs_free(x), rs_free(r), rs_free(out), rs_free(ga);
    rs_net_free(net);
}

static void test_pool_grads(void **st) {
    (void)st;
    if (!rs_onnx_available()) skip();
    const char *names[] = {"max_ceil", "max_pads", "max_same_upper", "avg_ceil", "avg_pads", "avg_pads_cip",
                           "avg_same_lower_ceil", "max_dilated", "conv_dilated"};
    for (int i = 0; i < 9; i++) check_model(names[i], 1000 + 10 * (uint64_t)i);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_pool_grads)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
