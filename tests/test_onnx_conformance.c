/* test_onnx_conformance.c: the ONNX backend node tests shipped by Debian's libonnx-testdata
 * (/usr/share/libonnx-testdata/data/node and pytorch-converted) for every operator relstab imports. Every test
 * directory of those operators is run and listed as PASS, FAIL or SKIP with the loader's reason (an operator,
 * attribute or data type relstab refuses: rank-5 inputs, integer types, batch-mixing reshapes, ...).
 * No test may FAIL, and every test of REQUIRED (the subset that exercises what relstab implements) must PASS.
 *
 * Tolerance (float32): an output element passes when |got - want| <= 1e-5 + 1e-4 |want|. The reference outputs
 * were computed by numpy / PyTorch, mostly in float32 with another summation order; 1e-4 relative is ~800 float32
 * ulps, far below any real error (a wrong pad or stride changes outputs by O(1)), and the worst error is printed.
 * The test is skipped when the package or the ONNX support is missing. */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/onnx.h"

#define DATA "/usr/share/libonnx-testdata/data"
#define RTOL 1e-4
#define ATOL 1e-5

static const char *prefixes[] = {
    "node/test_conv", "node/test_basic_conv", "node/test_maxpool", "node/test_averagepool",
    "node/test_globalaveragepool", "node/test_batchnorm", "node/test_relu", "node/test_sigmoid", "node/test_add",
    "node/test_sub", "node/test_mul", "node/test_div", "node/test_gemm", "node/test_matmul", "node/test_flatten",
    "node/test_reshape", "node/test_constant_pad", "node/test_concat", "node/test_softmax", "node/test_identity",
    "node/test_dropout", "node/test_constant", "node/test_slice", "node/test_reduce_mean",
    "pytorch-converted/test_Conv", "pytorch-converted/test_AvgPool", "pytorch-converted/test_MaxPool",
    "pytorch-converted/test_BatchNorm", "pytorch-converted/test_Linear", "pytorch-converted/test_ReLU",
    "pytorch-converted/test_Sigmoid", "pytorch-converted/test_Softmax", "pytorch-converted/test_ZeroPad2d",
    "pytorch-converted/test_ConstantPad2d",
};

static const char *required[] = {
    "node/test_add",     "node/test_add_bcast",     "node/test_averagepool_1d_default",     
"node/test_averagepool_2d_default",     "node/test_averagepool_2d_precomputed_pads",     
"node/test_averagepool_2d_precomputed_pads_count_include_pad",     
"node/test_averagepool_2d_precomputed_same_upper",     "node/test_averagepool_2d_precomputed_strides",     
"node/test_averagepool_2d_strides",     "node/test_basic_conv_with_padding",
    /* ceil_mode, asymmetric pads and pads above half the kernel (pool_general in onnx_ops.c) */
    "node/test_averagepool_2d_ceil", "node/test_averagepool_2d_pads", "node/test_averagepool_2d_pads_count_include_pad",
    "node/test_averagepool_2d_same_lower", "node/test_averagepool_2d_same_upper", "node/test_maxpool_2d_ceil",
    "node/test_maxpool_2d_pads", "node/test_maxpool_2d_same_lower", "node/test_maxpool_2d_same_upper",
    /* dilations (the dilated windows side by side: ox_windows) */
    "node/test_maxpool_2d_dilations", "pytorch-converted/test_Conv1d_dilated", "pytorch-converted/test_Conv2d_dilated",
    "pytorch-converted/test_MaxPool1d_stride_padding_dilation",
    "pytorch-converted/test_MaxPool2d_stride_padding_dilation",     
"node/test_basic_conv_without_padding",     "node/test_batchnorm_epsilon",     "node/test_batchnorm_example",   
  "node/test_concat_2d_axis_1",     "node/test_concat_2d_axis_negative_1",     "node/test_concat_3d_axis_1",    
 "node/test_concat_3d_axis_2",     "node/test_concat_3d_axis_negative_1",     
"node/test_concat_3d_axis_negative_2",     "node/test_constant_pad",     "node/test_conv_with_autopad_same",    
 "node/test_conv_with_strides_and_asymmetric_padding",     "node/test_conv_with_strides_no_padding",     
"node/test_conv_with_strides_padding",     "node/test_div",     "node/test_div_bcast",     
"node/test_div_example",     "node/test_dropout_default",     "node/test_dropout_default_old",     
"node/test_dropout_default_ratio",     "node/test_dropout_random_old",     "node/test_flatten_axis1",     
"node/test_flatten_default_axis",     "node/test_flatten_negative_axis3",     "node/test_gemm_alpha",     
"node/test_gemm_beta",     "node/test_gemm_default_matrix_bias",     "node/test_gemm_default_no_bias",     
"node/test_gemm_default_scalar_bias",     "node/test_gemm_default_single_elem_vector_bias",     
"node/test_gemm_default_vector_bias",     "node/test_gemm_default_zero_bias",     "node/test_gemm_transposeB",  
   "node/test_identity",     "node/test_matmul_2d",     "node/test_matmul_3d",     "node/test_matmul_4d",     "pytorch-converted/test_Linear_no_bias",     "node/test_maxpool_1d_default",     
"node/test_maxpool_2d_default",     "node/test_maxpool_2d_precomputed_pads",     
"node/test_maxpool_2d_precomputed_same_upper",     "node/test_maxpool_2d_precomputed_strides",     
"node/test_maxpool_2d_strides",     "node/test_mul",     "node/test_mul_bcast",     "node/test_mul_example",    
 "node/test_relu",     "node/test_reshape_extended_dims",     "node/test_reshape_negative_dim",     
"node/test_reshape_reduced_dims",     "node/test_reshape_reordered_last_dims",     
"node/test_reshape_zero_and_negative_dim",     "node/test_reshape_zero_dim",     "node/test_sigmoid",     
"node/test_sigmoid_example",     "node/test_slice_end_out_of_bounds",     "node/test_slice_neg",     
"node/test_softmax_axis_1",     "node/test_softmax_axis_2",     "node/test_softmax_default_axis",     
"node/test_softmax_example",     "node/test_softmax_large_number",     "node/test_softmax_negative_axis",     
"node/test_sub",     "node/test_sub_bcast",     "node/test_sub_example",     
"pytorch-converted/test_AvgPool2d",     "pytorch-converted/test_AvgPool2d_stride",     
"pytorch-converted/test_BatchNorm1d_3d_input_eval",     "pytorch-converted/test_BatchNorm2d_eval",     
"pytorch-converted/test_BatchNorm2d_momentum_eval",     "pytorch-converted/test_ConstantPad2d",     
"pytorch-converted/test_Conv1d",     "pytorch-converted/test_Conv1d_groups",     
"pytorch-converted/test_Conv1d_pad1",     "pytorch-converted/test_Conv1d_pad1size1",     
"pytorch-converted/test_Conv1d_pad2",     "pytorch-converted/test_Conv1d_pad2size1",     
"pytorch-converted/test_Conv1d_stride",     "pytorch-converted/test_Conv2d",     
"pytorch-converted/test_Conv2d_depthwise",     "pytorch-converted/test_Conv2d_depthwise_padded",     
"pytorch-converted/test_Conv2d_depthwise_strided",     
"pytorch-converted/test_Conv2d_depthwise_with_multiplier",     "pytorch-converted/test_Conv2d_groups",     
"pytorch-converted/test_Conv2d_groups_thnn",     "pytorch-converted/test_Conv2d_no_bias",     
"pytorch-converted/test_Conv2d_padding",     "pytorch-converted/test_Conv2d_strided",     
"pytorch-converted/test_Linear",     "pytorch-converted/test_MaxPool1d",     
"pytorch-converted/test_MaxPool1d_stride",     "pytorch-converted/test_MaxPool2d",     
"pytorch-converted/test_ReLU",     "pytorch-converted/test_Sigmoid",     "pytorch-converted/test_Softmax",     
"pytorch-converted/test_ZeroPad2d",

};

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The test directories of sub ("node" or "pytorch-converted") whose "sub/name" starts with a prefix. */
static int32_t list_dirs(const char *sub, char **out, int32_t n, int32_t cap) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", DATA, sub);
    DIR *d = opendir(path);
    if (!d) return n;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        char rel[600];
        snprintf(rel, sizeof rel, "%s/%s", sub, e->d_name);
        for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++)
            if (!strncmp(rel, prefixes[p], strlen(prefixes[p]))) {
                out[n++] = strdup(rel);
                break;
            }
    }
    closedir(d);
    return n;
}

static void test_conformance(void **state) {
    (void)state;
    DIR *probe = opendir(DATA "/node");
    if (!rs_onnx_available() || !probe) {
        printf("SKIP: %s\n", probe ? "built without ONNX support" : DATA " not installed (libonnx-testdata)");
        if (probe) closedir(probe);
        skip();
    }
    closedir(probe);
    char *dirs[2048];
    int32_t n = list_dirs("node", dirs, 0, 2048);
    n = list_dirs("pytorch-converted", dirs, n, 2048);
    qsort(dirs, (size_t)n, sizeof dirs[0], cmp);
    int32_t pass = 0, fail = 0, skipped = 0;
    double worst = 0;
    char *passed[2048];
    printf("ONNX conformance: %d test directories, |got - want| <= %g + %g |want|\n", n, ATOL, RTOL);
    for (int32_t i = 0; i < n; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/%s", DATA, dirs[i]);
        rs_onnx_test_result r;
        rs_status s = rs_onnx_test_dir(path, RTOL, ATOL, &r);
        if (!s) {
            printf("  PASS %-60s worst |diff| %.3g\n", dirs[i], r.worst_abs);
            passed[pass++] = dirs[i];
            worst = r.worst_abs > worst ? r.worst_abs : worst;
        } else {
            const char *msg = rs_last_error(), *at = strstr(msg, "model.onnx: ");
            printf("  %s %-60s %s\n", s == RS_ERR_NUMERIC ? "FAIL" : "SKIP", dirs[i], at ? at + 12 : msg);
            if (s == RS_ERR_NUMERIC) fail++;
            else skipped++;
        }
    }
    printf("%d passed (worst |diff| %.3g), %d failed, %d skipped\n", pass, worst, fail, skipped);
    int32_t missing = 0;
    for (size_t k = 0; k < sizeof required / sizeof required[0]; k++) {
        int found = 0;
        for (int32_t i = 0; i < pass && !found; i++) found = !strcmp(passed[i], required[k]);
        if (!found) printf("REQUIRED test did not pass: %s\n", required[k]), missing++;
    }
    for (int32_t i = 0; i < n; i++) free(dirs[i]);
    assert_int_equal(fail, 0);
    assert_int_equal(missing, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_conformance)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
