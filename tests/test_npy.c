/* test_npy.c: NPY arrays: the committed fixtures in numpy's layout (versions 1.0, 2.0, 3.0; a scalar and an empty
 * array; tests/fixtures/make_npy_fixture.py), round trips of every dtype with the writer's header layout, and
 * hostile headers and data sizes, each refused with RS_ERR_FORMAT and a message naming the file. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/io.h"

static void test_fixtures(void **state) {
    rs_npy a;
    assert_int_equal(rs_npy_read(tu_fixture("npy_f4.npy"), &a), RS_OK);
    assert_int_equal(a.dtype, RS_DTYPE_F32);
    assert_int_equal(a.ndim, 2);
    assert_true(a.shape[0] == 2 && a.shape[1] == 3 && a.nbytes == 24 && a.fortran_order == 0);
    const float f4[6] = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f};
    assert_memory_equal(a.data, f4, sizeof f4);
    rs_npy_free(&a);

    assert_int_equal(rs_npy_read(tu_fixture("npy_f8_scalar.npy"), &a), RS_OK);
    assert_true(a.dtype == RS_DTYPE_F64 && a.ndim == 0 && a.nbytes == 8 && *(double *)a.data == 3.25);
    rs_npy_free(&a);

    assert_int_equal(rs_npy_read(tu_fixture("npy_u1_v2.npy"), &a), RS_OK);
    const uint8_t u1[4] = {0, 1, 128, 255};
    assert_true(a.dtype == RS_DTYPE_U8 && a.ndim == 1 && a.shape[0] == 4);
    assert_memory_equal(a.data, u1, 4);
    rs_npy_free(&a);

    assert_int_equal(rs_npy_read(tu_fixture("npy_i8_v3.npy"), &a), RS_OK);
    const int64_t i8[4] = {-(1ll << 40), -1, 0, 1ll << 62};
    assert_true(a.dtype == RS_DTYPE_I64 && a.ndim == 3 && a.shape[0] == 2 && a.shape[1] == 1 && a.shape[2] == 2);
    assert_memory_equal(a.data, i8, sizeof i8);
    rs_npy_free(&a);

    assert_int_equal(rs_npy_read(tu_fixture("npy_i4_empty.npy"), &a), RS_OK);
    assert_true(a.dtype == RS_DTYPE_I32 && a.ndim == 2 && a.shape[0] == 0 && a.shape[1] == 3 && a.nbytes == 0);
    rs_npy_free(&a);
}

/* Every dtype through the writer; the file is laid out as numpy's: version 1.0, a header padded with spaces to a
 * 64-byte boundary and ending in '\n'. The (2, 3) float32 file is byte-identical to the fixture. */
static void test_roundtrip(void **state) {
    const char *dir = tu_tmpdir("npy-rt");
    char path[600];
    float *f = tu_randn(24, 3);
    double d[5] = {1.0 / 3.0, -1e300, 0, 4.9e-324, 7};
    int64_t i8[3] = {INT64_MIN, 0, INT64_MAX};
    uint8_t u1[7] = {0, 1, 2, 3, 250, 254, 255};
    int32_t i4[2] = {-5, 6};
    struct { rs_dtype t; int32_t ndim; int64_t shape[4]; const void *data; size_t nbytes; } cases[] = {
        {RS_DTYPE_F32, 4, {2, 3, 2, 2}, f, 96}, {RS_DTYPE_F64, 1, {5}, d, 40}, {RS_DTYPE_I64, 1, {3}, i8, 24},
        {RS_DTYPE_U8, 2, {7, 1}, u1, 7},        {RS_DTYPE_I32, 0, {0}, i4, 4},  {RS_DTYPE_I32, 2, {0, 9}, NULL, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        snprintf(path, sizeof path, "%s/a%zu.npy", dir, c);
        assert_int_equal(rs_npy_write(path, cases[c].t, cases[c].ndim, cases[c].shape, cases[c].data), RS_OK);
        void *raw;
        size_t len;
        assert_int_equal(rs_read_file(path, &raw, &len, 0), RS_OK);
        const uint8_t *r = raw;
        size_t hlen = (size_t)r[8] | (size_t)r[9] << 8;
        assert_int_equal(r[6], 1);
        assert_int_equal(r[7], 0);
        assert_int_equal((10 + hlen) % 64, 0);
        assert_int_equal(r[10 + hlen - 1], '\n');
        assert_int_equal(len, 10 + hlen + cases[c].nbytes);
        rs_free(raw);
        rs_npy a;
        assert_int_equal(rs_npy_read(path, &a), RS_OK);
        assert_int_equal(a.dtype, cases[c].t);
        assert_int_equal(a.ndim, cases[c].ndim);
        for (int32_t k = 0; k < a.ndim; k++) assert_int_equal(a.shape[k], cases[c].shape[k]);
        assert_int_equal(a.nbytes, cases[c].nbytes);
        if (a.nbytes) assert_memory_equal(a.data, cases[c].data, a.nbytes);
        rs_npy_free(&a);
        assert_null(a.data);
    }
    const float f4[6] = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f};
    int64_t sh[2] = {2, 3};
    snprintf(path, sizeof path, "%s/same.npy", dir);
    assert_int_equal(rs_npy_write(path, RS_DTYPE_F32, 2, sh, f4), RS_OK);
    void *ours, *ref;
    size_t n_ours, n_ref;
    assert_int_equal(rs_read_file(path, &ours, &n_ours, 0), RS_OK);
    assert_int_equal(rs_read_file(tu_fixture("npy_f4.npy"), &ref, &n_ref, 0), RS_OK);
    assert_int_equal(n_ours, n_ref);
    assert_memory_equal(ours, ref, n_ref);
    rs_free(ours);
    rs_free(ref);
    rs_free(f);
    sh[0] = -1;
    assert_int_equal(rs_npy_write(path, RS_DTYPE_F32, 2, sh, f4), RS_ERR_ARG);
}

/* An NPY image: version major.0, the given header text (unpadded) and data_len bytes of data. */
static uint8_t *make_npy(int major, const char *header, size_t data_len, size_t *len) {
    size_t h = strlen(header), pre = major == 1 ? 10 : 12;
    *len = pre + h + data_len;
    uint8_t *b = calloc(1, *len);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t)major;
    b[8] = (uint8_t)(h & 0xff);
    b[9] = (uint8_t)(h >> 8);
    memcpy(b + pre, header, h);
    return b;
}

static void hostile(int major, const char *header, size_t data_len, const char *needle) {
    size_t len;
    uint8_t *b = make_npy(major, header, data_len, &len);
    rs_npy a;
    rs_status s = rs_npy_parse(b, len, "evil.npy", &a);
    if (s != RS_ERR_FORMAT || !strstr(rs_last_error(), "evil.npy") || !strstr(rs_last_error(), needle))
        fprintf(stderr, "header %s: status %d, message '%s', expected '%s'\n", header, s, rs_last_error(), needle);
    assert_int_equal(s, RS_ERR_FORMAT);
    assert_non_null(strstr(rs_last_error(), "evil.npy"));
    assert_non_null(strstr(rs_last_error(), needle));
    assert_null(a.data);
    /* the same bytes as a file: rs_npy_read (which reads the header, then the data in place) refuses them too */
    char path[1024];
    snprintf(path, sizeof path, "%s/evil.npy", tu_tmpdir("npyevil"));
    assert_int_equal(rs_write_file_atomic(path, b, len), RS_OK);
    s = rs_npy_read(path, &a);
    if (s != RS_ERR_FORMAT || !strstr(rs_last_error(), needle))
        fprintf(stderr, "file %s: status %d, message '%s', expected '%s'\n", header, s, rs_last_error(), needle);
    assert_int_equal(s, RS_ERR_FORMAT);
    assert_non_null(strstr(rs_last_error(), needle));
    assert_null(a.data);
    free(b);
}

#define H(descr, fo, shape) "{'descr': " descr ", 'fortran_order': " fo ", 'shape': " shape ", }\n"

static void test_hostile(void **state) {
    /* the header itself: sanity of the helper (a valid header with the right size parses) */
    size_t len;
    uint8_t *b = make_npy(1, H("'<f4'", "False", "(2, 3)"), 24, &len);
    rs_npy a;
    assert_int_equal(rs_npy_parse(b, len, "ok.npy", &a), RS_OK);
    rs_npy_free(&a);
    assert_int_equal(rs_npy_parse(b, len - 1, "evil.npy", &a), RS_ERR_FORMAT); /* one byte short */
    assert_non_null(strstr(rs_last_error(), "truncated"));
    b[0] = 'X';
    assert_int_equal(rs_npy_parse(b, len, "evil.npy", &a), RS_ERR_FORMAT);
    assert_non_null(strstr(rs_last_error(), "magic"));
    b[0] = 0x93;
    b[6] = 4;
    assert_int_equal(rs_npy_parse(b, len, "evil.npy", &a), RS_ERR_FORMAT);
    assert_non_null(strstr(rs_last_error(), "version 4.0"));
    b[6] = 1;
    b[8] = 0xff; /* header length beyond the file */
    assert_int_equal(rs_npy_parse(b, len, "evil.npy", &a), RS_ERR_FORMAT);
    assert_non_null(strstr(rs_last_error(), "header length"));
    assert_int_equal(rs_npy_parse(b, 7, "evil.npy", &a), RS_ERR_FORMAT);
    free(b);

    hostile(1, H("'<f4'", "False", "(2, 3)"), 25, "trailing");
    hostile(1, H("'<f4'", "False", "(2, 3)"), 23, "truncated");
    hostile(1, H("'>f4'", "False", "(2, 3)"), 24, "big-endian");
    hostile(1, H("'|O'", "False", "(2,)"), 16, "object");
    hostile(1, H("'<f2'", "False", "(2,)"), 4, "unsupported dtype");
    hostile(1, H("'|i1'", "False", "(2,)"), 2, "unsupported dtype");
    hostile(1, H("[('a', '<f4')]", "False", "(2,)"), 8, "structured");
    hostile(1, H("'<f4'", "True", "(2, 3)"), 24, "fortran_order");
    hostile(1, H("'<f4'", "1", "(2, 3)"), 24, "fortran_order");
    hostile(1, H("'<f4'", "Falsey", "(2, 3)"), 24, "fortran_order");
    hostile(1, H("'<f4'", "False", "(-2, 3)"), 24, "dimension 0");
    hostile(1, H("'<f4'", "False", "(2, 3.0)"), 24, "shape");
    hostile(1, H("'<f4'", "False", "(6)"), 24, "1-tuple");
    hostile(1, H("'<f4'", "False", "(06,)"), 24, "dimension 0");
    hostile(1, H("'<f4'", "False", "(4611686018427387904,)"), 24, "dimension 0");
    hostile(1, H("'<f4'", "False", "(4611686018427387903,)"), 24, "truncated"); /* 2^62 - 1: the largest taken */
    hostile(1, H("'<f4'", "False", "(99999999999999999999,)"), 24, "dimension 0"); /* beyond int64 */
    hostile(1, H("'<u1'", "False", "(4294967296, 4294967296, 4294967296)"), 24, "overflows");
    hostile(1, H("'<f4'", "False", "(1000000000000,)"), 24, "truncated");
    hostile(1, H("'<f4'", "False", "(1, 1, 1, 1, 1, 1, 1, 1, 1)"), 4, "dimensions");
    hostile(1, H("'<f4'", "False", "[2, 3]"), 24, "tuple");
    hostile(1, "{'descr': '<f4', 'shape': (2, 3), }\n", 24, "fortran_order");
    hostile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1, }\n", 24, "'x'");
    hostile(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 24, "twice");
    hostile(1, "{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3), }\n", 24, "malformed");
    hostile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } x\n", 24, "after");
    hostile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), \n", 24, "malformed");
    hostile(1, "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2, 3), }\n", 24, "descr");
    hostile(1, "", 0, "dict");
    hostile(3, H("'<f\xc3\xa9'", "False", "(2,)"), 8, "descr");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
