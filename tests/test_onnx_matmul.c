/* test_onnx_matmul.c: the batched ONNX MatMul (onnx_matmul.c, the RS_BIN_MATMUL node of nn_ext.h) on the committed
 * graphs of tests/fixtures/onnx/matmul (make_matmul_fixtures.py): A of rank 3 or 4 times a 2-D B, a B of rank 3
 * or 4 broadcast over the batch and other axes, A broadcast, a vector B, a constant A times computed matrices, and
 * two computed operands. For each: the forward against numpy's product (rs_onnx_test_dir, the conformance
 * tolerance), then the gradient of L = sum r * y with respect to every parameter (the initializer a of A = a * x,
 * and B or the constant A when it is one), through rs_net_backward, against central differences (gradcheck.h).
 * The refuse_*.onnx graphs (the batch on a matrix axis or off the first axis) must be refused with one line.
 * Skipped without ONNX support. */
#include "gradcheck.h"
#include "relstab/onnx.h"

typedef struct {
    rs_net *net;
    const float *x;
} net_ctx;

static void net_fwd(void *p, float *out) {
    net_ctx *c = p;
    assert_int_equal(rs_net_forward(c->net, c->x, 2, RS_MODE_EVAL), RS_OK);
    memcpy(out, rs_net_output_data(c->net), sizeof(float) * (size_t)(2 * rs_net_output_numel(c->net)));
}

static void check_case(const char *name, uint64_t seed) {
    char dir[256], path[300];
    snprintf(dir, sizeof dir, "%s", tu_fixture("onnx/matmul"));
    snprintf(path, sizeof path, "%s/%s", dir, name);
    rs_onnx_test_result tr;
    assert_int_equal(rs_onnx_test_dir(path, 1e-4, 1e-5, &tr), RS_OK);
    assert_true(tr.sets == 1);
    snprintf(path, sizeof path, "%s/%s/model.onnx", dir, name);
    rs_net *net;
    assert_int_equal(rs_onnx_load(path, NULL, &net, NULL), RS_OK);
    assert_int_equal(rs_net_build(net, 2, 1), RS_OK);
    const rs_node *in = &net->nodes[0];
    int64_t n_in = 2LL * in->c * in->h * in->w, n_out = 2 * rs_net_output_numel(net);
    float *x = gc_uniform((size_t)n_in, seed, -1, 1), *r = gc_uniform((size_t)n_out, seed + 1, -1, 1);
    float *out = gc_zeros((size_t)n_out);
    net_ctx c = {net, x};
    net_fwd(&c, out);
    rs_net_zero_grad(net);
    assert_int_equal(rs_net_backward(net, r), RS_OK);
    gc_problem p = {net_fwd, &c, r, out, n_out};
    assert_true(net->params.count >= 1);
    printf("%-12s worst |diff| %.3g;", name, tr.worst_abs);
    for (int32_t k = 0; k < net->params.count; k++) {
        int64_t n = net->params.items[k].numel;
        float *g = gc_zeros((size_t)n);
        memcpy(g, rs_param_grad(&net->params, k), sizeof(float) * (size_t)n);
        double rel = gc_check(&p, rs_param_data(&net->params, k), n, g, GC_EPS, name);
        printf(" gradient relative error %.3g (%s)", rel, net->params.items[k].name);
        assert_true(rel <= GC_TOL);
        rs_free(g);
    }
    printf("\n");
    rs_free(x), rs_free(r), rs_free(out);
    rs_net_free(net);
}

static void test_matmul_cases(void **st) {
    (void)st;
    if (!rs_onnx_available()) skip();
    const char *names[] = {"r3_b2", "r4_b2", "r4_b3", "r4_b4_bcast", "r4_a_bcast", "r3_bvec", "const_a", "node_node"};
    for (int i = 0; i < 8; i++) check_case(names[i], 1100 + 10 * (uint64_t)i);
}

static void test_matmul_refused(void **st) {
    (void)st;
    if (!rs_onnx_available()) skip();
    const char *names[] = {"refuse_node_2d", "refuse_b_higher", "refuse_b_batch", "refuse_a2d_b3"};
    const char *why[] = {"rows are the samples", "the batch would leave the first axis",
                         "varies along the batch dimension", "rows are the samples"};
    for (int i = 0; i < 4; i++) {
        char path[300];
        snprintf(path, sizeof path, "%s/%s.onnx", tu_fixture("onnx/matmul"), names[i]);
        rs_net *net = NULL;
        assert_int_equal(rs_onnx_load(path, NULL, &net, NULL), RS_ERR_UNSUPPORTED);
        assert_null(net);
        const char *msg = rs_last_error();
        printf("%-16s %s\n", names[i], msg);
        assert_non_null(strstr(msg, "op MatMul"));
        assert_non_null(strstr(msg, why[i]));
        assert_null(strchr(msg, '\n'));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_matmul_cases), cmocka_unit_test(test_matmul_refused)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
