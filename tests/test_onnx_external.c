/* test_onnx_external.c: ONNX external data (onnx_external.c). The committed hostile/ext_good.onnx keeps its Conv
 * weight W (3x2x3x3, the values 0..53) in ext_good.data at offset 8: the loaded parameter must hold exactly those
 * values; the same model from a buffer is refused (no directory to read from); a data file that is a link to a
 * file outside the model's directory is refused; rs_onnx_fill_data writes the data file from a checkpoint by
 * name, and the model then loads those values. The refused locations and ranges are in tests/cli/onnx.sh. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relstab/io.h"
#include "relstab/onnx.h"
#include "testutil.h"

static void copy_file(const char *from, const char *to) {
    void *b;
    size_t n;
    assert_int_equal(rs_read_file(from, &b, &n, 1 << 20), RS_OK);
    assert_int_equal(rs_write_file_atomic(to, b, n), RS_OK);
    rs_free(b);
}

static void expect_w(rs_net *net, float scale) {
    int32_t k = -1;
    for (int32_t i = 0; i < net->params.count; i++)
        if (!strcmp(net->params.items[i].name, "W")) k = i;
    assert_true(k >= 0);
    assert_int_equal(net->params.items[k].numel, 54);
    const float *w = rs_param_data(&net->params, k);
    for (int i = 0; i < 54; i++) assert_true(w[i] == scale * (float)i);
}

static void test_read(void **st) {
    (void)st;
    if (!rs_onnx_available()) skip();
    rs_net *net;
    assert_int_equal(rs_onnx_load(tu_fixture("onnx/hostile/ext_good.onnx"), NULL, &net, NULL), RS_OK);
    expect_w(net, 1.0f);
    rs_net_free(net);
    void *b;
    size_t n;
    assert_int_equal(rs_read_file(tu_fixture("onnx/hostile/ext_good.onnx"), &b, &n, 1 << 20), RS_OK);
    assert_int_equal(rs_onnx_load_buffer(b, n, NULL, &net, NULL), RS_ERR_UNSUPPORTED);
    assert_non_null(strstr(rs_last_error(), "external data needs the model's file"));
    assert_null(net);
    rs_free(b);
}

static void test_link_outside(void **st) {
    (void)st;
    if (!rs_onnx_available()) skip();
    const char *dir = tu_tmpdir("onnx_ext_link");
    char model[1024], data[1024], target[4096];
    snprintf(model, sizeof model, "%s/m.onnx", dir);
    snprintf(data, sizeof data, "%s/ext_good.data", dir);
    copy_file(tu_fixture("onnx/hostile/ext_good.onnx"), model);
    assert_non_null(realpath(tu_fixture("onnx/hostile/ext_good.data"), target));
    unlink(data);
    assert_int_equal(symlink(target, data), 0);
    rs_net *net;
    assert_int_equal(rs_onnx_load(model, NULL, &net, NULL), RS_ERR_FORMAT);
    assert_non_null(strstr(rs_last_error(), "resolves outside the model's directory"));
    unlink(data);
}

static void test_fill(void **st) {
    (void)st;
    if (!rs_onnx_available()) skip();
    const char *dir = tu_tmpdir("onnx_ext_fill");
    char model[1024], data[1024], ck[1024];
    snprintf(model, sizeof model, "%s/m.onnx", dir);
    snprintf(data, sizeof data, "%s/ext_good.data", dir);
    snprintf(ck, sizeof ck, "%s/w.safetensors", dir);
    copy_file(tu_fixture("onnx/hostile/ext_good.onnx"), model);
    unlink(data);
    float w[54];
    for (int i = 0; i < 54; i++) w[i] = -2.0f * (float)i;
    rs_st_tensor t = {"W", RS_DTYPE_F32, 4, {3, 2, 3, 3}, w, sizeof w};
    assert_int_equal(rs_safetensors_write(ck, &t, 1, NULL, NULL, 0), RS_OK);
    int64_t nt;
    int32_t nf;
    assert_int_equal(rs_onnx_fill_data(model, ck, &nt, &nf), RS_OK);
    assert_int_equal(nt, 1);
    assert_int_equal(nf, 1);
    rs_net *net;
    assert_int_equal(rs_onnx_load(model, NULL, &net, NULL), RS_OK);
    expect_w(net, -2.0f);
    rs_net_free(net);
    /* a checkpoint without the initializer's name, or with another shape, is refused */
    t.name = "V";
    assert_int_equal(rs_safetensors_write(ck, &t, 1, NULL, NULL, 0), RS_OK);
    assert_int_equal(rs_onnx_fill_data(model, ck, &nt, &nf), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "'W' is not in the checkpoint"));
    t.name = "W", t.shape[0] = 1, t.shape[1] = 6, t.nbytes = sizeof w;
    assert_int_equal(rs_safetensors_write(ck, &t, 1, NULL, NULL, 0), RS_OK);
    assert_int_equal(rs_onnx_fill_data(model, ck, &nt, &nf), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "another shape"));
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_read), cmocka_unit_test(test_link_outside),
                                       cmocka_unit_test(test_fill)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
