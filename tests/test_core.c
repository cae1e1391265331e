/* test_core.c: the core module: Philox known answers, thread-count independence, moments of the draws,
 * permutations, arenas, atomic writes. */
#include "testutil.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors). */
static void test_philox_kat(void **state) {
    uint32_t r[4];
    rs_philox(0, 0, 0, r);
    assert_int_equal(r[0], 0x6627e8d5u);
    assert_int_equal(r[1], 0xe169c58du);
    assert_int_equal(r[2], 0xbc57ac4cu);
    assert_int_equal(r[3], 0x9b00dbd8u);
    rs_philox(0xffffffffffffffffull, 0xffffffffffffffffull, 0xffffffffffffffffull, r);
    assert_int_equal(r[0], 0x408f276du);
    assert_int_equal(r[1], 0x41c83b0eu);
    assert_int_equal(r[2], 0xa20bc7c6u);
    assert_int_equal(r[3], 0x6d5451fdu);
}

static void test_same_numbers_any_thread_count(void **state) {
    size_t n = 300000; /* above the parallel threshold */
    float *a = rs_alloc(n * 4), *b = rs_alloc(n * 4), *c = rs_alloc(n * 4);
    rs_set_threads(1);
    rs_fill_normal(a, n, 7, rs_stream(RS_PURPOSE_TEST, 3, 1), 100, 0.f, 1.f);
    rs_set_threads(2);
    rs_fill_normal(b, n, 7, rs_stream(RS_PURPOSE_TEST, 3, 1), 100, 0.f, 1.f);
    assert_memory_equal(a, b, n * 4);
    /* a sub-range drawn alone equals the same indices of the full draw */
    rs_fill_normal(c, 1000, 7, rs_stream(RS_PURPOSE_TEST, 3, 1), 100 + 5000, 0.f, 1.f);
    assert_memory_equal(c, a + 5000, 1000 * 4);
    for (int i = 0; i < 10; i++) assert_true(a[i] == (float)rs_normal(7, rs_stream(RS_PURPOSE_TEST, 3, 1), 100 + i));
    rs_free(a);
    rs_free(b);
    rs_free(c);
}

/* rs_normals (pairs sharing one Philox block, log and square root) gives rs_normal's numbers bit for bit, for
 * every parity of start and length; rs_fill_normal too, at every index (not only the first ten). */
static void test_normals_equal_rs_normal(void **state) {
    const uint64_t stream = rs_stream(RS_PURPOSE_TEST, 4, 2);
    double z[2051];
    for (uint64_t start = 0; start < 4; start++)
        for (size_t n = 0; n <= 2051; n += (n < 8 ? 1 : 511)) {
            rs_normals(z, n, 11, stream, start + (1ull << 40));
            for (size_t i = 0; i < n; i++) {
                const double want = rs_normal(11, stream, start + (1ull << 40) + i);
                assert_memory_equal(&z[i], &want, sizeof want);
            }
        }
    size_t m = 100001;
    float *a = rs_alloc(m * 4);
    rs_fill_normal(a, m, 7, stream, 3, 0.5f, 2.0f);
    for (size_t i = 0; i < m; i++) assert_true(a[i] == 0.5f + 2.0f * (float)rs_normal(7, stream, 3 + i));
    rs_free(a);
    (void)state;
}

/* Moments of normal and uniform draws, with limits of 5 standard errors of each estimator. */
static void test_moments(void **state) {
    size_t n = 1000000;
    double s1 = 0, s2 = 0, s3 = 0, s4 = 0, u1 = 0, u2 = 0;
    for (size_t i = 0; i < n; i++) {
        double z = rs_normal(42, 9, i), u = rs_uniform(42, 10, i);
        s1 += z;
        s2 += z * z;
        s3 += z * z * z;
        s4 += z * z * z * z;
        u1 += u;
        u2 += u * u;
        assert_true(u > 0.0 && u < 1.0);
    }
    double m = s1 / n, v = s2 / n, sk = s3 / n, k4 = s4 / n;
    /* sd of the mean 1/sqrt(n); of E z^2: sqrt(2/n); of E z^3: sqrt(15/n); of E z^4: sqrt(96/n) */
    assert_true(fabs(m) < 5 / sqrt(n));
    assert_true(fabs(v - 1) < 5 * sqrt(2.0 / n));
    assert_true(fabs(sk) < 5 * sqrt(15.0 / n));
    assert_true(fabs(k4 - 3) < 5 * sqrt(96.0 / n));
    /* uniform: mean 1/2 (sd sqrt(1/12n)), E u^2 = 1/3 (sd sqrt(4/45 n)) */
    assert_true(fabs(u1 / n - 0.5) < 5 * sqrt(1.0 / (12.0 * n)));
    assert_true(fabs(u2 / n - 1.0 / 3) < 5 * sqrt(4.0 / (45.0 * n)));
    /* different streams and seeds give different numbers */
    assert_true(rs_normal(42, 9, 0) != rs_normal(42, 10, 0));
    assert_true(rs_normal(42, 9, 0) != rs_normal(43, 9, 0));
}

static void test_permutation(void **state) {
    int64_t n = 1000, perm[1000], seen[1000] = {0};
    rs_permutation(perm, n, 5, 77);
    int64_t fixed = 0;
    for (int64_t i = 0; i < n; i++) {
        assert_true(perm[i] >= 0 && perm[i] < n);
        seen[perm[i]]++;
        fixed += perm[i] == i;
    }
    for (int64_t i = 0; i < n; i++) assert_int_equal(seen[i], 1);
    assert_true(fixed < 10); /* expected 1 fixed point; P(>= 10) is ~1e-7 */
    int64_t again[1000];
    rs_permutation(again, n, 5, 77);
    assert_memory_equal(perm, again, sizeof perm);
    uint64_t idx = 0;
    for (int i = 0; i < 1000; i++) assert_true(rs_randint(1, 2, &idx, 7) < 7);
}

static void test_arena_and_workspace(void **state) {
    rs_arena a;
    assert_int_equal(rs_arena_init(&a, 1000), RS_OK);
    char *p = rs_arena_push(&a, 10), *q = rs_arena_push(&a, 100);
    assert_non_null(p);
    assert_non_null(q);
    assert_int_equal(((uintptr_t)q) % 64, 0);
    assert_null(rs_arena_push(&a, 2000));
    rs_arena_reset(&a);
    assert_int_equal(a.used, 0);
    rs_arena_free(&a);
    rs_workspace ws = {0};
    void *w1 = rs_workspace_get(&ws, 100);
    assert_non_null(w1);
    assert_ptr_equal(rs_workspace_get(&ws, 50), w1);
    assert_non_null(rs_workspace_get(&ws, 10000));
    rs_workspace_free(&ws);
    size_t out;
    assert_int_equal(rs_mul_size(SIZE_MAX / 2, 3, &out), -1);
    assert_int_equal(rs_mul_size(6, 7, &out), 0);
    assert_int_equal(out, 42);
}

static void test_files(void **state) {
    const char *dir = tu_tmpdir("core");
    char path[1024], sub[1024];
    snprintf(path, sizeof path, "%s/a.bin", dir);
    assert_int_equal(rs_write_file_atomic(path, "hello", 5), RS_OK);
    void *data;
    size_t len;
    assert_int_equal(rs_read_file(path, &data, &len, 0), RS_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(data, "hello", 5);
    rs_free(data);
    assert_int_equal(rs_read_file(path, &data, &len, 3), RS_ERR_FORMAT);
    assert_true(strstr(rs_last_error(), "a.bin") != NULL);
    snprintf(sub, sizeof sub, "%s/x/y/z", dir);
    assert_int_equal(rs_mkdir_p(sub), RS_OK);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    snprintf(path, sizeof path, "%s/nope/a.bin", dir);
    assert_int_equal(rs_write_file_atomic(path, "x", 1), RS_ERR_IO);
    assert_int_equal(rs_read_file(path, &data, &len, 0), RS_ERR_IO);
}

static void test_layout(void **state) {
    float src[2 * 3 * 2 * 4], mid[48], back[48];
    for (int i = 0; i < 48; i++) src[i] = (float)i;
    rs_nchw_to_nhwc(mid, src, 2, 3, 2, 4);
    /* element (n=1, c=2, y=1, x=3) */
    assert_true(mid[((1 * 2 + 1) * 4 + 3) * 3 + 2] == src[((1 * 3 + 2) * 2 + 1) * 4 + 3]);
    rs_nhwc_to_nchw(back, mid, 2, 3, 2, 4);
    assert_memory_equal(src, back, sizeof src);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_philox_kat),  cmocka_unit_test(test_same_numbers_any_thread_count),
        cmocka_unit_test(test_moments),     cmocka_unit_test(test_permutation),
        cmocka_unit_test(test_arena_and_workspace), cmocka_unit_test(test_files),
        cmocka_unit_test(test_layout),      cmocka_unit_test(test_normals_equal_rs_normal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
