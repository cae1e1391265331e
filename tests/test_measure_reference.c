/* test_measure_reference.c: `--nodes reference` (the nodes the authors' measurement keeps: their torch.fx node list
 * less x, size, view, squeeze, dropout and names with size, sub, floordiv, numel, pow), including EfficientNetB0's
 * swish sigmoids; and `--aliased`: a node before VGG's in-place ReLU reports the ReLU's output, other nodes and
 * nets are untouched. */
#include "measure_testutil.h"

#include "measure/measure_internal.h"

static rs_net *build(const char *model, int32_t c, int32_t hw) {
    rs_model_opts o;
    rs_model_opts_init(&o);
    o.channels = c, o.height = hw, o.width = hw, o.classes = 10;
    assert_int_equal(rs_model_resolve(model, &o), RS_OK);
    rs_net *net = NULL;
    assert_int_equal(rs_model_build(model, &o, &net), RS_OK);
    return net;
}

static int has(const rs_net *net, const int32_t *nodes, int32_t n, const char *name) {
    for (int32_t i = 0; i < n; i++)
        if (!strcmp(net->nodes[nodes[i]].name, name)) return 1;
    return 0;
}

static void test_reference_nodes(void **state) {
    (void)state;
    rs_net *net = build("efficientnetb0", 3, 32);
    int32_t *nodes = NULL, n = 0;
    assert_int_equal(rs_measure_parse_nodes(net, "reference", &nodes, &n), RS_OK);
    const char *kept[] = {"conv1", "sigmoid", "mul", "layers.0.sigmoid", "layers.0.se.sigmoid", "layers.0.se.sigmoid_1",
                          "layers.1.sigmoid", "layers.1.sigmoid_1", "layers.15.mul_1", "adaptive_avg_pool2d", "linear"};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        if (!has(net, nodes, n, kept[i])) fail_msg("reference nodes lack %s", kept[i]);
    }
    assert_false(has(net, nodes, n, "x"));
    assert_false(has(net, nodes, n, "view"));
    assert_false(has(net, nodes, n, "dropout"));
    assert_int_equal(n, net->n_nodes - 3); /* x, view, dropout */
    rs_free(nodes);
    /* a type selection sees the sigmoid taps too: 16 blocks x (1 or 2 swish + SE swish + SE gate) + the stem */
    assert_int_equal(rs_measure_parse_nodes(net, "type:sigmoid", &nodes, &n), RS_OK);
    assert_int_equal(n, 1 + 16 * 3 + 15);
    rs_free(nodes);
    rs_net_free(net);
    net = build("lenet", 1, 28);
    assert_int_equal(rs_measure_parse_nodes(net, "reference", &nodes, &n), RS_OK);
    assert_int_equal(n, 11); /* conv1 .. fc3 without x and view */
    assert_false(has(net, nodes, n, "view"));
    rs_free(nodes);
    rs_net_free(net);
}

static void test_aliased(void **state) {
    (void)state;
    rs_net *net = build("vgg11bn", 3, 32);
    /* features.0 conv, features.1 BN, features.2 ReLU(inplace): the BN reports the ReLU; the conv does not alias */
    int32_t conv = rs_net_find(net, "features.0"), bn = rs_net_find(net, "features.1"), relu = rs_net_find(net, "features.2");
    assert_true(conv >= 0 && bn >= 0 && relu >= 0);
    assert_int_equal(rs_inplace_relu_after(net, bn), relu);
    assert_int_equal(rs_inplace_relu_after(net, conv), -1);
    assert_int_equal(rs_inplace_relu_after(net, relu), -1);
    rs_net_free(net);
    net = build("lenet", 1, 28); /* functional ReLUs: never aliased */
    assert_int_equal(rs_inplace_relu_after(net, rs_net_find(net, "conv1")), -1);
    rs_net_free(net);
    /* measured: with --aliased the BN row equals the ReLU row; without, it differs */
    rs_dataset *ds = mt_open(mt_npy_data("aliased", 8, 3, 32, 32, 0.f, 5));
    net = build("vgg11bn", 3, 32);
    assert_int_equal(rs_net_build(net, 1, 0), RS_OK);
    rs_net_init(net, 2);
    int32_t sel[2] = {rs_net_find(net, "features.1"), rs_net_find(net, "features.2")};
    rs_measure_opts o;
    rs_measure_opts_default(&o);
    o.P = 6, o.probe = RS_PROBE_FIRST, o.mode = RS_MODE_INIT_EVAL;
    rs_measure_result r;
    assert_int_equal(rs_measure(net, ds, NULL, sel, 2, &o, &r), RS_OK);
    assert_true(fabs(r.rows[0].D - r.rows[1].D) > 1e-6 * r.rows[1].D);
    rs_measure_result_free(&r);
    o.aliased = 1;
    assert_int_equal(rs_measure(net, ds, NULL, sel, 2, &o, &r), RS_OK);
    assert_true(r.rows[0].D == r.rows[1].D && r.rows[0].G == r.rows[1].G && r.rows[0].deno == r.rows[1].deno);
    assert_string_equal(r.rows[0].name, "features.1");
    rs_measure_result_free(&r);
    rs_net_free(net);
    rs_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_reference_nodes), cmocka_unit_test(test_aliased)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
