/* test_safetensors.c: the safetensors reader and writer: round trips of every dtype, the committed fixture laid out
 * as the reference writer does (tests/fixtures/make_st_fixture.py), byte-identical output for the same tensors, and
 * hostile files, each of which must be refused with RS_ERR_FORMAT and a message naming the file (and the tensor). */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/io.h"

/* A safetensors image: declared header length n_decl (or the JSON's own length if n_decl is -1), the JSON, then
 * data_len bytes 0, 1, 2, ... */
static uint8_t *make_st(const char *json, long long n_decl, size_t data_len, size_t *len) {
    size_t j = strlen(json);
    uint64_t n = n_decl < 0 ? j : (uint64_t)n_decl;
    *len = 8 + j + data_len;
    uint8_t *b = malloc(*len);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(n >> (8 * i));
    memcpy(b + 8, json, j);
    for (size_t i = 0; i < data_len; i++) b[8 + j + i] = (uint8_t)i;
    return b;
}

static void expect_format_error(const uint8_t *b, size_t len, const char *what, const char *needle) {
    rs_safetensors *st = (rs_safetensors *)1;
    rs_status s = rs_safetensors_parse(b, len, "evil.safetensors", &st);
    if (s != RS_ERR_FORMAT || !strstr(rs_last_error(), "evil.safetensors") ||
        (needle && !strstr(rs_last_error(), needle)))
        fprintf(stderr, "case '%s': status %d, message '%s' (expected RS_ERR_FORMAT mentioning '%s')\n", what, s,
                rs_last_error(), needle ? needle : "");
    assert_int_equal(s, RS_ERR_FORMAT);
    assert_null(st);
    assert_non_null(strstr(rs_last_error(), "evil.safetensors"));
    if (needle) assert_non_null(strstr(rs_last_error(), needle));
}

static void hostile_json(const char *json, size_t data_len, const char *what, const char *needle) {
    size_t len;
    uint8_t *b = make_st(json, -1, data_len, &len);
    expect_format_error(b, len, what, needle);
    free(b);
}

#define T(name, dtype, shape, off) "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" off "}"

static void test_hostile(void **state) {
    size_t len;
    uint8_t *b;
    /* too short for the header length */
    b = make_st("", 0, 0, &len);
    expect_format_error(b, 5, "truncated", "truncated");
    free(b);
    /* header length beyond the end of the file */
    b = make_st("{}", 100, 0, &len);
    expect_format_error(b, len, "header length > file", "100");
    free(b);
    /* header length above the 100 MB limit, and a huge one */
    b = make_st("{}", 200000000, 0, &len);
    expect_format_error(b, len, "header 200 MB", "allowed");
    free(b);
    b = make_st("{}", (long long)1 << 62, 0, &len);
    expect_format_error(b, len, "header 2^62", "allowed");
    free(b);
    hostile_json("{" T("w", "F32", "[2]", "[0,8]") "}", 4, "truncated data", "'w'");
    hostile_json("{" T("w", "F32", "[2]", "[8,16]") "}", 8, "offsets out of bounds", "'w'");
    hostile_json("{" T("w", "F32", "[2]", "[8,0]") "}", 8, "begin > end", "end before");
    hostile_json("{" T("a", "F32", "[2]", "[0,8]") "," T("b", "F32", "[2]", "[4,12]") "}", 12, "overlap", "overlaps");
    hostile_json("{" T("a", "F32", "[1]", "[0,4]") "," T("b", "F32", "[1]", "[8,12]") "}", 12, "gap",
                 "belong to no tensor");
    hostile_json("{" T("a", "F32", "[1]", "[0,4]") "}", 12, "trailing bytes", "cover");
    hostile_json("{" T("w", "F32", "[3]", "[0,8]") "}", 8, "byte count vs shape", "'w'");
    hostile_json("[1,2]", 0, "array header", "not a JSON object");
    hostile_json("\"str\"", 0, "string header", "not a JSON object");
    hostile_json("{\"a\":", 0, "malformed JSON", "not valid JSON");
    hostile_json("{} x", 0, "text after JSON", "after");
    hostile_json("{" T("w", "F16", "[2]", "[0,4]") "}", 4, "bad dtype", "'w'");
    hostile_json("{\"w\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype not string", "'w'");
    hostile_json("{" T("w", "F32", "[-1,2]", "[0,8]") "}", 8, "negative dim", "'w'");
    hostile_json("{" T("w", "F32", "[2.5]", "[0,8]") "}", 8, "fractional dim", "'w'");
    hostile_json("{" T("w", "F32", "[\"2\"]", "[0,8]") "}", 8, "string dim", "'w'");
    hostile_json("{" T("w", "U8", "[4294967296,4294967296,4294967296]", "[0,8]") "}", 8, "dims overflow",
                 "overflows");
    hostile_json("{" T("w", "F32", "[1000000000000]", "[0,8]") "}", 8, "absurd dim", "'w'");
    hostile_json("{" T("w", "F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]") "}", 4, "9 dims", "'w'");
    hostile_json("{" T("w", "F32", "[1]", "[0]") "}", 4, "one offset", "'w'");
    hostile_json("{" T("w", "F32", "[1]", "[0,-4]") "}", 4, "negative offset", "'w'");
    hostile_json("{\"__metadata__\":{\"a\":1}," T("w", "F32", "[1]", "[0,4]") "}", 4, "non-string metadata",
                 "__metadata__");
    hostile_json("{\"__metadata__\":[]}", 0, "metadata not an object", "__metadata__");
    hostile_json("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0, "duplicate metadata key", "'a'");
    hostile_json("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "two metadata", "__metadata__");
    hostile_json("{" T("w", "F32", "[1]", "[0,4]") "," T("w", "F32", "[1]", "[4,8]") "}", 8, "duplicate name", "'w'");
    hostile_json("{" T("", "F32", "[1]", "[0,4]") "}", 4, "empty name", "empty name");
    hostile_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "missing field", "data_offsets");
    hostile_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, "unknown field", "'x'");
    hostile_json("{\"w\":[1]}", 4, "entry not object", "'w'");
    hostile_json("{\"w\xff\":1}", 0, "invalid UTF-8", "UTF-8");
    hostile_json("{\"w\xed\xa0\x80\":1}", 0, "UTF-8 surrogate", "UTF-8");
    /* a NUL byte inside the header */
    b = make_st("{\"a\":1}", -1, 0, &len);
    b[10] = 0;
    expect_format_error(b, len, "NUL in header", "NUL");
    free(b);
}

/* The same refusal through rs_safetensors_read names the path. */
static void test_read_errors(void **state) {
    const char *dir = tu_tmpdir("st-read");
    char path[600];
    snprintf(path, sizeof path, "%s/cut.safetensors", dir);
    size_t len;
    uint8_t *b = make_st("{" T("w", "F32", "[4]", "[0,16]") "}", -1, 16, &len);
    assert_int_equal(rs_write_file_atomic(path, b, len - 3), RS_OK);
    free(b);
    rs_safetensors *st;
    assert_int_equal(rs_safetensors_read(path, &st), RS_ERR_FORMAT);
    assert_null(st);
    assert_non_null(strstr(rs_last_error(), path));
    assert_non_null(strstr(rs_last_error(), "'w'"));
    snprintf(path, sizeof path, "%s/absent.safetensors", dir);
    assert_int_equal(rs_safetensors_read(path, &st), RS_ERR_IO);
}

/* Six tensors of every dtype (a scalar and an empty one among them) with metadata, written and read back. */
static void test_roundtrip(void **state) {
    float *f32 = tu_randn(6, 1);
    double f64[3] = {1.0 / 3.0, -2e300, 5e-320};
    int64_t i64 = -1234567890123ll;
    uint8_t u8[5] = {0, 1, 127, 128, 255};
    int32_t i32[4] = {-2147483647 - 1, -1, 0, 2147483647};
    float odd[3] = {1, 2, 3};
    rs_st_tensor ts[7] = {
        {.name = "odd", .dtype = RS_DTYPE_F32, .ndim = 1, .shape = {3}, .data = odd, .nbytes = 12},
        {.name = "u8", .dtype = RS_DTYPE_U8, .ndim = 1, .shape = {5}, .data = u8, .nbytes = 5},
        {.name = "a.weight", .dtype = RS_DTYPE_F32, .ndim = 2, .shape = {2, 3}, .data = f32, .nbytes = 24},
        {.name = "count", .dtype = RS_DTYPE_I64, .ndim = 0, .data = &i64, .nbytes = 8},
        {.name = "f64", .dtype = RS_DTYPE_F64, .ndim = 1, .shape = {3}, .data = f64, .nbytes = 24},
        {.name = "empty", .dtype = RS_DTYPE_F32, .ndim = 2, .shape = {0, 4}, .data = NULL, .nbytes = 0},
        {.name = "i32 \"quoted\" \xc3\xa9", .dtype = RS_DTYPE_I32, .ndim = 2, .shape = {2, 2}, .data = i32,
         .nbytes = 16},
    };
    const char *keys[2] = {"epoch", "note"}, *values[2] = {"3", "caf\xc3\xa9 \"x\"\n"};
    const char *dir = tu_tmpdir("st-rt");
    char path[600];
    snprintf(path, sizeof path, "%s/rt.safetensors", dir);
    assert_int_equal(rs_safetensors_write(path, ts, 7, keys, values, 2), RS_OK);

    rs_safetensors *st;
    assert_int_equal(rs_safetensors_read(path, &st), RS_OK);
    assert_int_equal(st->n_tensors, 7);
    for (int i = 0; i < 7; i++) {
        const rs_st_tensor *t = &st->tensors[i];
        assert_string_equal(t->name, ts[i].name); /* header order is the caller's order */
        assert_int_equal(t->dtype, ts[i].dtype);
        assert_int_equal(t->ndim, ts[i].ndim);
        for (int d = 0; d < t->ndim; d++) assert_int_equal(t->shape[d], ts[i].shape[d]);
        assert_int_equal(t->nbytes, ts[i].nbytes);
        if (t->nbytes) assert_memory_equal(t->data, ts[i].data, t->nbytes);
        assert_int_equal((uintptr_t)t->data % rs_dtype_size(t->dtype), 0);
        assert_ptr_equal(rs_safetensors_get(st, ts[i].name), t);
    }
    assert_null(rs_safetensors_get(st, "nope"));
    assert_int_equal(st->n_meta, 2);
    assert_string_equal(rs_safetensors_meta(st, "epoch"), "3");
    assert_string_equal(rs_safetensors_meta(st, "note"), values[1]);
    assert_null(rs_safetensors_meta(st, "format"));

    /* the layout: header padded to 8 with spaces, every tensor at a multiple of its element size */
    const uint8_t *raw = st->buffer;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | raw[i];
    assert_int_equal(n % 8, 0);
    assert_int_equal(raw[8], '{');
    cJSON *root = cJSON_ParseWithLength((const char *)raw + 8, (size_t)n);
    assert_non_null(root);
    assert_string_equal(root->child->string, "__metadata__");
    for (const cJSON *e = root->child->next; e; e = e->next) {
        const rs_st_tensor *t = rs_safetensors_get(st, e->string);
        assert_non_null(t);
        double begin = cJSON_GetArrayItem(cJSON_GetObjectItem(e, "data_offsets"), 0)->valuedouble;
        assert_int_equal((uint64_t)begin % rs_dtype_size(t->dtype), 0);
    }
    cJSON_Delete(root);
    rs_safetensors_free(st);
    rs_free(f32);
}

/* The fixture written by tests/fixtures/make_st_fixture.py in the reference writer's layout. */
static const float fx_weight[8] = {-1.0f, -0.75f, -0.5f, -0.25f, 0.0f, 0.25f, 0.5f, 0.75f};
static const float fx_bias[2] = {0.5f, -0.125f};
static const int64_t fx_count = 7;
static const double fx_f64[3] = {1.5, -2.25, 1e-3};
static const uint8_t fx_u8[5] = {0, 1, 127, 128, 255};
static const int32_t fx_i32[4] = {-1, 2, -3, 2147483647};

static void test_fixture(void **state) {
    rs_safetensors *st;
    assert_int_equal(rs_safetensors_read(tu_fixture("tiny.safetensors"), &st), RS_OK);
    assert_int_equal(st->n_tensors, 6);
    const rs_st_tensor *w = rs_safetensors_get(st, "features.0.weight");
    assert_non_null(w);
    assert_int_equal(w->dtype, RS_DTYPE_F32);
    assert_int_equal(w->ndim, 4);
    assert_true(w->shape[0] == 2 && w->shape[1] == 1 && w->shape[2] == 2 && w->shape[3] == 2);
    assert_memory_equal(w->data, fx_weight, sizeof fx_weight);
    const rs_st_tensor *c = rs_safetensors_get(st, "features.1.num_batches_tracked");
    assert_true(c && c->dtype == RS_DTYPE_I64 && c->ndim == 0 && c->nbytes == 8);
    assert_int_equal(*(const int64_t *)c->data, 7);
    assert_memory_equal(rs_safetensors_get(st, "features.0.bias")->data, fx_bias, sizeof fx_bias);
    assert_memory_equal(rs_safetensors_get(st, "x.f64")->data, fx_f64, sizeof fx_f64);
    assert_memory_equal(rs_safetensors_get(st, "x.u8")->data, fx_u8, sizeof fx_u8);
    assert_memory_equal(rs_safetensors_get(st, "x.i32")->data, fx_i32, sizeof fx_i32);
    assert_string_equal(rs_safetensors_meta(st, "format"), "pt");
    assert_string_equal(rs_safetensors_meta(st, "note"), "fixture");
    rs_safetensors_free(st);
}

/* Given the fixture's tensors in the reference writer's order, our writer produces the fixture byte for byte. */
static void test_writer_matches_reference(void **state) {
    rs_st_tensor ts[6] = {
        {.name = "features.1.num_batches_tracked", .dtype = RS_DTYPE_I64, .ndim = 0, .data = &fx_count, .nbytes = 8},
        {.name = "x.f64", .dtype = RS_DTYPE_F64, .ndim = 1, .shape = {3}, .data = fx_f64, .nbytes = 24},
        {.name = "features.0.bias", .dtype = RS_DTYPE_F32, .ndim = 1, .shape = {2}, .data = fx_bias, .nbytes = 8},
        {.name = "features.0.weight", .dtype = RS_DTYPE_F32, .ndim = 4, .shape = {2, 1, 2, 2}, .data = fx_weight,
         .nbytes = 32},
        {.name = "x.i32", .dtype = RS_DTYPE_I32, .ndim = 2, .shape = {2, 2}, .data = fx_i32, .nbytes = 16},
        {.name = "x.u8", .dtype = RS_DTYPE_U8, .ndim = 1, .shape = {5}, .data = fx_u8, .nbytes = 5},
    };
    const char *keys[2] = {"format", "note"}, *values[2] = {"pt", "fixture"};
    const char *dir = tu_tmpdir("st-ref");
    char path[600];
    snprintf(path, sizeof path, "%s/same.safetensors", dir);
    assert_int_equal(rs_safetensors_write(path, ts, 6, keys, values, 2), RS_OK);
    void *ours, *ref;
    size_t n_ours, n_ref;
    assert_int_equal(rs_read_file(path, &ours, &n_ours, 0), RS_OK);
    assert_int_equal(rs_read_file(tu_fixture("tiny.safetensors"), &ref, &n_ref, 0), RS_OK);
    assert_int_equal(n_ours, n_ref);
    assert_memory_equal(ours, ref, n_ref);
    rs_free(ours);
    rs_free(ref);
}

/* A file from a writer that neither pads the header nor orders by dtype: the F32 tensor sits at an odd address in
 * the file; the reader still hands out aligned data with the right values. */
static void test_misaligned_tensor(void **state) {
    const char *json = "{" T("b", "U8", "[1]", "[0,1]") "," T("f", "F32", "[2]", "[1,9]") "," T(
        "d", "F64", "[1]", "[9,17]") "}";
    size_t len;
    uint8_t *b = make_st(json, -1, 17, &len);
    float fv[2] = {1.5f, -3.0f};
    double dv = 2.75;
    size_t data = len - 17;
    memcpy(b + data + 1, fv, 8);
    memcpy(b + data + 9, &dv, 8);
    rs_safetensors *st;
    assert_int_equal(rs_safetensors_parse(b, len, "odd", &st), RS_OK);
    const rs_st_tensor *f = rs_safetensors_get(st, "f"), *d = rs_safetensors_get(st, "d");
    assert_int_equal((uintptr_t)f->data % 4, 0);
    assert_int_equal((uintptr_t)d->data % 8, 0);
    assert_true(((const float *)f->data)[0] == 1.5f && ((const float *)f->data)[1] == -3.0f);
    assert_true(*(const double *)d->data == 2.75);
    assert_int_equal(*(const uint8_t *)rs_safetensors_get(st, "b")->data, 0);
    assert_int_equal(st->buffer_len, len);
    assert_memory_equal(st->buffer, b, len);
    rs_safetensors_free(st);
    free(b);
}

static void test_empty_and_writer_errors(void **state) {
    const char *dir = tu_tmpdir("st-err");
    char path[600];
    snprintf(path, sizeof path, "%s/empty.safetensors", dir);
    assert_int_equal(rs_safetensors_write(path, NULL, 0, NULL, NULL, 0), RS_OK);
    rs_safetensors *st;
    assert_int_equal(rs_safetensors_read(path, &st), RS_OK);
    assert_int_equal(st->n_tensors, 0);
    assert_int_equal(st->n_meta, 0);
    assert_int_equal(st->buffer_len, 16); /* 8 + "{}" padded to 8 */
    rs_safetensors_free(st);

    float x[2] = {1, 2};
    rs_st_tensor t[2] = {{.name = "x", .dtype = RS_DTYPE_F32, .ndim = 1, .shape = {2}, .data = x, .nbytes = 8},
                         {.name = "x", .dtype = RS_DTYPE_F32, .ndim = 1, .shape = {2}, .data = x, .nbytes = 8}};
    assert_int_equal(rs_safetensors_write(path, t, 2, NULL, NULL, 0), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "'x' given twice"));
    t[1].name = "y";
    t[1].nbytes = 4;
    assert_int_equal(rs_safetensors_write(path, t, 2, NULL, NULL, 0), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "'y'"));
    t[1].nbytes = 8;
    t[1].name = "__metadata__";
    assert_int_equal(rs_safetensors_write(path, t, 2, NULL, NULL, 0), RS_ERR_ARG);
    t[1].name = "y";
    const char *k[2] = {"a", "a"}, *v[2] = {"1", "2"};
    assert_int_equal(rs_safetensors_write(path, t, 2, k, v, 2), RS_ERR_ARG);
    snprintf(path, sizeof path, "%s/no/such/dir.safetensors", dir);
    assert_int_equal(rs_safetensors_write(path, t, 2, NULL, NULL, 0), RS_ERR_IO);
    assert_int_equal(rs_dtype_size(RS_DTYPE_I64), 8);
    assert_string_equal(rs_dtype_name(RS_DTYPE_U8), "U8");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile),         cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_roundtrip),       cmocka_unit_test(test_fixture),
        cmocka_unit_test(test_writer_matches_reference), cmocka_unit_test(test_misaligned_tensor),
        cmocka_unit_test(test_empty_and_writer_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
