/* test_onnx_fold.c: the load-time evaluation of constant subgraphs (src/onnx/onnx_fold.c) on the committed graphs
 * of tests/fixtures/onnx/fold (make_fold_fixtures.py): the pads subgraph that torch 1.13 exports for ZeroPad2d
 * (here with asymmetric pads and a pad value), a chain of every folded operator, and the Shape of the input
 * (its batch size unknown at load) feeding a weight and a Reshape to (batch, -1) must give numpy's output
 * exactly as `onnx test` runs them; each hostile graph (absurd, negative or fractional sizes, too many folded
 * values, a size that depends on the batch size, a cycle, a bad permutation, step 0, an index out of range, a
 * cast to a string, a reshape that does not
 * fit) must be refused with one line naming the operator and the problem. Skipped without ONNX support. */
#include "testutil.h"

#include <string.h>

#include "relstab/onnx.h"

static void test_fold_cases(void **st) {
    (void)st;
    if (!rs_onnx_available()) skip();
    const char *names[] = {"torch_pads", "chain", "shape_flatten"};
    for (int i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", tu_fixture("onnx/fold"), names[i]);
        rs_onnx_test_result r;
        rs_status s = rs_onnx_test_dir(path, 0, 0, &r); /* numpy's values exactly: the folds only move values */
        printf("%-10s %s, worst |diff| %.3g\n", names[i], s ? rs_last_error() : "PASS", r.worst_abs);
        assert_int_equal(s, RS_OK);
        assert_true(r.sets == 1);
    }
}

static void test_fold_hostile(void **st) {
    (void)st;
    if (!rs_onnx_available()) skip();
    static const struct {
        const char *name, *want;
    } cases[] = {
        {"hostile_absurd", "op ConstantOfShape (node 'f'): result too large"},
        {"hostile_amplify", "op Concat (node 'k'): the constants evaluated at load would exceed 33554432 values"},
        {"hostile_negative", "op ConstantOfShape (node 'f'): a dimension is -3"},
        {"hostile_fractional", "op ConstantOfShape (node 'f'): a dimension is 2.5"},
        {"hostile_cycle", "input 'g' is not defined before this node (the graph is cyclic"},
        {"hostile_perm", "op Transpose (node 'f'): perm is not a permutation"},
        {"hostile_step0", "op Slice (node 'f'): a step of 0"},
        {"hostile_index", "op Gather (node 'f'): an index is 4"},
        {"hostile_cast", "op Cast (node 'f'): cast to data type 8"},
        {"hostile_batch_size", "op ConstantOfShape (node 'f'): a dimension depends on the batch size"},
        {"hostile_reshape", "op Reshape (node 'f'): cannot infer dimension 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.onnx", tu_fixture("onnx/fold"), cases[i].name);
        rs_net *net = NULL;
        rs_status s = rs_onnx_load(path, NULL, &net, NULL);
        const char *msg = rs_last_error();
        printf("%-20s %s\n", cases[i].name, msg);
        assert_true(s == RS_ERR_FORMAT || s == RS_ERR_UNSUPPORTED);
        assert_null(net);
        assert_non_null(strstr(msg, cases[i].want));
        assert_null(strchr(msg, '\n'));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_fold_cases), cmocka_unit_test(test_fold_hostile)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
