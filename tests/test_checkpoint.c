/* test_checkpoint.c: rs_net_save / rs_net_load on a small conv + batchnorm + conv + linear net: exact round trips,
 * the file as PyTorch's safetensors helper writes it (state_dict names, num_batches_tracked as I64, "format": "pt"),
 * files from DataParallel ("module." names) and in float64, and every kind of mismatch refused with a message
 * naming the tensor while the net's parameters stay exactly as they were. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/io.h"
#include "relstab/models.h"

/* (3, 4, 4) -> conv 3x3 -> BN -> conv 4x4 (no bias, to 1x1) -> linear: 9 parameters, one counter. */
static rs_net *small_net(uint64_t seed) {
    rs_net *net = rs_net_new(3, 4, 4);
    assert_non_null(net);
    int32_t c1 = rs_net_conv2d(net, "features.0", 0, 5, 3, 1, 1, 1, 1);
    int32_t b1 = rs_net_batchnorm(net, "features.1", c1, 1e-5f, 0.1f);
    int32_t c2 = rs_net_conv2d(net, "features.2", b1, 6, 4, 1, 0, 1, 0);
    rs_net_linear(net, "classifier", c2, 3, 1);
    assert_int_equal(net->status, RS_OK);
    assert_int_equal(rs_net_build(net, 2, 0), RS_OK);
    rs_net_init(net, seed);
    /* running statistics and the counter as a trained net has them */
    rs_params *p = &net->params;
    int32_t rm = rs_params_find(p, "features.1.running_mean"), nb = rs_params_find(p, "features.1.num_batches_tracked");
    assert_true(rm >= 0 && nb >= 0);
    for (int i = 0; i < 5; i++) rs_param_data(p, rm)[i] = 0.1f * (float)(i + (int)seed);
    rs_param_data(p, nb)[0] = (float)(40 + seed);
    return net;
}

static void assert_params_equal(const rs_net *a, const rs_net *b) {
    assert_int_equal(a->params.count, b->params.count);
    for (int32_t i = 0; i < a->params.count; i++)
        assert_memory_equal(rs_param_data(&a->params, i), rs_param_data(&b->params, i),
                            (size_t)a->params.items[i].numel * sizeof(float));
}

static void test_roundtrip(void **state) {
    rs_net *a = small_net(1), *b = small_net(2);
    assert_true(memcmp(a->params.data, b->params.data, a->params.total * sizeof(float)) != 0);
    const char *dir = tu_tmpdir("ckpt");
    char path[600];
    snprintf(path, sizeof path, "%s/a.safetensors", dir);
    const char *keys[1] = {"epoch"}, *values[1] = {"7"};
    assert_int_equal(rs_net_save(a, path, keys, values, 1), RS_OK);
    rs_safetensors *meta;
    assert_int_equal(rs_net_load(b, path, &meta), RS_OK);
    assert_params_equal(a, b);
    assert_string_equal(rs_safetensors_meta(meta, "format"), "pt");
    assert_string_equal(rs_safetensors_meta(meta, "epoch"), "7");
    rs_safetensors_free(meta);

    /* the file itself: table order, PyTorch shapes, the counter as an I64 scalar */
    rs_safetensors *st;
    assert_int_equal(rs_safetensors_read(path, &st), RS_OK);
    assert_int_equal(st->n_tensors, a->params.count);
    for (int32_t i = 0; i < st->n_tensors; i++) {
        const rs_param *q = &a->params.items[i];
        const rs_st_tensor *t = &st->tensors[i];
        assert_string_equal(t->name, q->name);
        assert_int_equal(t->ndim, q->ndim);
        for (int32_t d = 0; d < q->ndim; d++) assert_int_equal(t->shape[d], q->shape[d]);
        assert_int_equal(t->dtype, q->kind == RS_PARAM_COUNTER ? RS_DTYPE_I64 : RS_DTYPE_F32);
    }
    const rs_st_tensor *w = rs_safetensors_get(st, "features.0.weight");
    assert_true(w->ndim == 4 && w->shape[0] == 5 && w->shape[1] == 3 && w->shape[2] == 3 && w->shape[3] == 3);
    const rs_st_tensor *nb = rs_safetensors_get(st, "features.1.num_batches_tracked");
    assert_true(nb->dtype == RS_DTYPE_I64 && nb->ndim == 0);
    assert_int_equal(*(const int64_t *)nb->data, 41);
    assert_null(rs_safetensors_get(st, "features.2.bias"));
    rs_safetensors_free(st);

    /* a caller's "format" replaces the default one */
    const char *k2[1] = {"format"}, *v2[1] = {"relstab"};
    assert_int_equal(rs_net_save(a, path, k2, v2, 1), RS_OK);
    assert_int_equal(rs_net_load(b, path, &meta), RS_OK);
    assert_string_equal(rs_safetensors_meta(meta, "format"), "relstab");
    assert_int_equal(meta->n_meta, 1);
    rs_safetensors_free(meta);
    rs_net_free(a);
    rs_net_free(b);
}

/* How write_variant departs from the net's own table. */
typedef struct {
    const char *prefix;  /* put before every name ("module.") */
    int f64;             /* float parameters as F64 */
    const char *skip;    /* leave this parameter out */
    const char *extra;   /* add this tensor (1 float) */
    const char *reshape; /* give this parameter shape (numel) instead of its own */
    const char *retype;  /* store this parameter as I32 (floats) or F32 (a counter) */
} variant;

/* Writes net's parameters to path as described by v. */
static void write_variant(const rs_net *net, const char *path, variant v) {
    const rs_params *p = &net->params;
    int32_t n = 0;
    rs_st_tensor *ts = calloc((size_t)p->count + 1, sizeof *ts);
    char(*names)[160] = calloc((size_t)p->count + 1, sizeof *names);
    void **bufs = calloc((size_t)p->count + 1, sizeof *bufs);
    static const float one = 1.0f;
    for (int32_t i = 0; i < p->count; i++) {
        const rs_param *q = &p->items[i];
        const float *x = rs_param_data(p, i);
        if (v.skip && !strcmp(q->name, v.skip)) continue;
        rs_st_tensor *t = &ts[n];
        snprintf(names[n], sizeof names[n], "%s%s", v.prefix ? v.prefix : "", q->name);
        t->name = names[n];
        t->ndim = q->ndim;
        for (int32_t d = 0; d < q->ndim; d++) t->shape[d] = q->shape[d];
        if (v.reshape && !strcmp(q->name, v.reshape)) {
            t->ndim = 1;
            t->shape[0] = q->numel;
        }
        int retype = v.retype && !strcmp(q->name, v.retype);
        if (q->kind == RS_PARAM_COUNTER && !retype) {
            int64_t *c = bufs[n] = malloc(8 * (size_t)q->numel);
            for (int64_t k = 0; k < q->numel; k++) c[k] = (int64_t)x[k];
            t->dtype = RS_DTYPE_I64;
        } else if (retype && q->kind != RS_PARAM_COUNTER) {
            int32_t *c = bufs[n] = malloc(4 * (size_t)q->numel);
            for (int64_t k = 0; k < q->numel; k++) c[k] = (int32_t)x[k];
            t->dtype = RS_DTYPE_I32;
        } else if (v.f64 && !retype) {
            double *c = bufs[n] = malloc(8 * (size_t)q->numel);
            for (int64_t k = 0; k < q->numel; k++) c[k] = x[k];
            t->dtype = RS_DTYPE_F64;
        } else {
            t->dtype = RS_DTYPE_F32;
        }
        t->data = bufs[n] ? bufs[n] : x;
        t->nbytes = (size_t)q->numel * rs_dtype_size(t->dtype);
        n++;
    }
    if (v.extra) ts[n++] = (rs_st_tensor){.name = (char *)v.extra, .dtype = RS_DTYPE_F32, .ndim = 1, .shape = {1},
                                          .data = &one, .nbytes = 4};
    assert_int_equal(rs_safetensors_write(path, ts, n, NULL, NULL, 0), RS_OK);
    for (int32_t i = 0; i < p->count; i++) free(bufs[i]);
    free(bufs);
    free(names);
    free(ts);
}

/* DataParallel names and float64 files load to the same floats (float -> double -> float is exact). */
static void test_module_prefix_and_f64(void **state) {
    rs_net *a = small_net(1), *b = small_net(2);
    const char *dir = tu_tmpdir("ckpt-dp");
    char path[600];
    snprintf(path, sizeof path, "%s/dp.safetensors", dir);
    write_variant(a, path, (variant){.prefix = "module.", .f64 = 1});
    assert_int_equal(rs_net_load(b, path, NULL), RS_OK);
    assert_params_equal(a, b);
    rs_net_free(a);
    rs_net_free(b);
}

/* Each mismatch: RS_ERR_FORMAT, a message with the tensor (and for shapes, both shapes), the net untouched. */
static void expect_refused(rs_net *net, const char *path, const char *n1, const char *n2) {
    size_t bytes = net->params.total * sizeof(float);
    float *before = malloc(bytes);
    memcpy(before, net->params.data, bytes);
    rs_safetensors *meta = (rs_safetensors *)1;
    rs_status s = rs_net_load(net, path, &meta);
    if (s != RS_ERR_FORMAT || !strstr(rs_last_error(), n1) || (n2 && !strstr(rs_last_error(), n2)))
        fprintf(stderr, "status %d, message '%s', expected '%s' and '%s'\n", s, rs_last_error(), n1, n2 ? n2 : "");
    assert_int_equal(s, RS_ERR_FORMAT);
    assert_null(meta);
    assert_non_null(strstr(rs_last_error(), path));
    assert_non_null(strstr(rs_last_error(), n1));
    if (n2) assert_non_null(strstr(rs_last_error(), n2));
    assert_memory_equal(net->params.data, before, bytes);
    free(before);
}

static void test_mismatches(void **state) {
    rs_net *a = small_net(1), *b = small_net(2);
    const char *dir = tu_tmpdir("ckpt-bad");
    char path[600];
    snprintf(path, sizeof path, "%s/bad.safetensors", dir);
    write_variant(a, path, (variant){.skip = "features.1.running_var"});
    expect_refused(b, path, "'features.1.running_var'", "missing");
    write_variant(a, path, (variant){.extra = "features.3.weight"});
    expect_refused(b, path, "'features.3.weight'", "not a parameter");
    write_variant(a, path, (variant){.reshape = "features.2.weight"});
    expect_refused(b, path, "'features.2.weight'", "shape 480 in the file, 6x5x4x4 in the net");
    /* the last parameter in table order: every earlier one has been converted when this one fails */
    write_variant(a, path, (variant){.retype = "classifier.bias"});
    expect_refused(b, path, "'classifier.bias'", "I32");
    write_variant(a, path, (variant){.retype = "features.1.num_batches_tracked"});
    expect_refused(b, path, "'features.1.num_batches_tracked'", "I64");
    /* one parameter under two names once "module." is stripped */
    write_variant(a, path, (variant){.extra = "module.classifier.bias"});
    expect_refused(b, path, "'classifier.bias'", "twice");
    /* a file that is not safetensors at all */
    assert_int_equal(rs_write_file_atomic(path, "garbage!", 8), RS_OK);
    expect_refused(b, path, "header length", NULL);

    snprintf(path, sizeof path, "%s/absent.safetensors", dir);
    assert_int_equal(rs_net_load(b, path, NULL), RS_ERR_IO);
    rs_net *unbuilt = rs_net_new(3, 4, 4);
    rs_net_linear(unbuilt, "fc", 0, 2, 1); /* 4x4 input: refused by the builder, never built */
    assert_int_equal(rs_net_load(unbuilt, path, NULL), RS_ERR_ARG);
    assert_int_equal(rs_net_save(unbuilt, path, NULL, NULL, 0), RS_ERR_ARG);
    rs_net_free(unbuilt);
    rs_net_free(a);
    rs_net_free(b);
}

/* A zoo net's checkpoint records its model configuration; a net built with another configuration (here zero vs
 * circular padding: the same tensors, the same shapes) is refused naming the option, a file without the record
 * (PyTorch's, older relstab's) still loads by names and shapes. */
static rs_net *gapmf_net(int32_t pbc, uint64_t seed) {
    rs_model_opts o;
    rs_model_opts_init(&o);
    o.channels = 1;
    o.height = o.width = 28;
    o.classes = 10;
    o.hidden = 4;
    o.depth = 3;
    o.filter_size = 5;
    o.pbc = pbc;
    rs_net *net = NULL;
    assert_int_equal(rs_model_build("gapmf", &o, &net), RS_OK);
    assert_int_equal(rs_net_build(net, 1, 0), RS_OK);
    rs_net_init(net, seed);
    return net;
}

static void test_model_config(void **state) {
    (void)state;
    rs_net *zero = gapmf_net(0, 1), *zero2 = gapmf_net(0, 2), *circ = gapmf_net(1, 3);
    const char *dir = tu_tmpdir("ckpt-config");
    char path[600], bare[600];
    snprintf(path, sizeof path, "%s/zero.safetensors", dir);
    snprintf(bare, sizeof bare, "%s/bare.safetensors", dir);
    assert_int_equal(rs_net_save(zero, path, NULL, NULL, 0), RS_OK);
    rs_safetensors *meta;
    assert_int_equal(rs_net_load(zero2, path, &meta), RS_OK); /* the same configuration */
    assert_params_equal(zero, zero2);
    const char *want[][2] = {{"model.name", "gapmf"}, {"model.channels", "1"}, {"model.height", "28"},
                             {"model.classes", "10"}, {"model.hidden", "4"}, {"model.depth", "3"},
                             {"model.filter_size", "5"}, {"model.stride", "2"}, {"model.strides", "2,1,2"},
                             {"model.pbc", "0"}, {"model.batch_norm", "0"}, {"model.last_bias", "1"},
                             {"model.released_strides", "-1"}, {"model.alpha", "0"}, {"format", "pt"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *v = rs_safetensors_meta(meta, want[i][0]);
        if (!v || strcmp(v, want[i][1])) fail_msg("%s: '%s', expected '%s'", want[i][0], v ? v : "(none)", want[i][1]);
    }
    rs_safetensors_free(meta);
    expect_refused(circ, path, "written by gapmf with pbc=0", "this net has pbc=1");
    /* another model recording the same options */
    snprintf(zero2->config[0].value, sizeof zero2->config[0].value, "gapmf1d");
    expect_refused(zero2, path, "written by gapmf", "this net is gapmf1d");
    /* no record: loads by names and shapes (the configuration cannot be checked) */
    int32_t n_config = zero->n_config;
    zero->n_config = 0;
    assert_int_equal(rs_net_save(zero, bare, NULL, NULL, 0), RS_OK);
    zero->n_config = n_config;
    assert_int_equal(rs_net_load(circ, bare, NULL), RS_OK);
    assert_params_equal(zero, circ);
    rs_net_free(zero);
    rs_net_free(zero2);
    rs_net_free(circ);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_module_prefix_and_f64),
        cmocka_unit_test(test_mismatches),
        cmocka_unit_test(test_model_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
