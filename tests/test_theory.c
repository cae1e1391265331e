/* test_theory.c: the constant-filter model against what docs/theory.md derives: receptive fields (brute force),
 * the exact stride-2 and circular stride-1 identities, the expected G numerators and rectified-noise mean, the
 * N -> infinity prefactors, the counter-based noise, thread-count independence, and one-line errors on bad
 * configurations. The scaling claims and the readers are in test_theory_laws.c. */
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "relstab/theory.h"

/* Sums of at most a few thousand O(1) doubles: relative rounding below P * 2^-53 ~ 1e-12 for P <= 16384, so the
 * exact identities are checked to 1e-10 relative. */
#define EXACT_RTOL 1e-10

static int close_rel(double a, double b, double rtol) { return fabs(a - b) <= rtol * fabs(b) + 1e-300; }

static rs_theory_result run_ok(rs_theory_config c) {
    rs_theory_result r;
    rs_status st = rs_theory_run(&c, &r);
    if (st != RS_OK) fprintf(stderr, "run failed: %s\n", rs_last_error());
    assert_int_equal(st, RS_OK);
    return r;
}

/* The receptive field: count the input pixels that reach a central neuron of layer k, by brute force. */
static void test_receptive_field(void **state) {
    const int cases[][3] = {{2, 2, 6}, {3, 1, 7}, {3, 2, 4}, {3, 3, 3}, {4, 2, 3}, {2, 1, 5}, {5, 1, 3}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        rs_theory_config c = rs_theory_defaults();
        c.filter = cases[t][0];
        c.stride = cases[t][1];
        c.depth = cases[t][2];
        c.size = 4 * rs_theory_rf(c.filter, c.stride, c.depth) + 7;
        double *x = rs_calloc((size_t)c.size * sizeof(double)), *y = rs_alloc((size_t)c.size * sizeof(double));
        for (int k = 1; k <= c.depth; k++) {
            int64_t w, w2, lo = -1, hi = -1; /* w: neurons per side of layer k */
            assert_int_equal(rs_theory_forward(&c, x, k, y, &w), RS_OK);
            int64_t centre = w / 2;
            for (int64_t j = 0; j < c.size; j++) {
                x[j] = 1;
                assert_int_equal(rs_theory_forward(&c, x, k, y, &w2), RS_OK);
                x[j] = 0;
                if (y[centre] > 0) {
                    if (lo < 0) lo = j;
                    hi = j;
                }
            }
            assert_int_equal(hi - lo + 1, rs_theory_rf(c.filter, c.stride, k));
        }
        /* the reference notebook's receptive_field(F, s, L) = F + (F-1) sum_{l=1..L} s^l is RF(L + 1) */
        int64_t nb = c.filter, p = 1;
        for (int l = 1; l <= c.depth; l++) p *= c.stride, nb += (c.filter - 1) * p;
        assert_int_equal(nb, rs_theory_rf(c.filter, c.stride, c.depth + 1));
        rs_free(x);
        rs_free(y);
    }
    assert_int_equal(rs_theory_layer_width(1000, 2, 2, RS_THEORY_PAD_ZERO), 500);
    assert_int_equal(rs_theory_layer_width(1001, 2, 2, RS_THEORY_PAD_ZERO), 500);
    assert_int_equal(rs_theory_layer_width(100, 3, 1, RS_THEORY_PAD_ZERO), 100);
    assert_int_equal(rs_theory_layer_width(100, 2, 1, RS_THEORY_PAD_ZERO), 99);
    assert_int_equal(rs_theory_layer_width(101, 2, 2, RS_THEORY_PAD_CIRCULAR), 51);
}

/* stride = filter = 2: D, its numerator and the denominator equal the closed forms; the G numerator is within 5
 * standard errors (over independent probes) of its expectation. */
static void check_exact(const rs_theory_result *r) {
    for (int k = 1; k <= r->cfg.depth; k++) {
        const rs_theory_layer *ly = &r->layers[k - 1];
        rs_theory_exact ex;
        assert_true(rs_theory_exact_layer(&r->cfg, k, &ex));
        if (!close_rel(ly->d_num, ex.d_num, EXACT_RTOL) || !close_rel(ly->deno, ex.deno, EXACT_RTOL) ||
            !close_rel(ly->D, ex.D, EXACT_RTOL) || fabs(ly->g_num - ex.g_num) > 5 * ly->g_num_se)
            fprintf(stderr, "k=%d d_num %.17g/%.17g deno %.17g/%.17g g_num %.9g/%.9g se %.3g\n", k, ly->d_num,
                    ex.d_num, ly->deno, ex.deno, ly->g_num, ex.g_num, ly->g_num_se);
        assert_true(close_rel(ly->d_num, ex.d_num, EXACT_RTOL));
        assert_true(close_rel(ly->deno, ex.deno, EXACT_RTOL));
        assert_true(close_rel(ly->D, ex.D, EXACT_RTOL));
        assert_true(ly->g_num_se > 0);
        assert_true(fabs(ly->g_num - ex.g_num) <= 5 * ly->g_num_se);
    }
}

static void test_pool2_exact_1d(void **state) {
    const int64_t sizes[] = {1024, 1000, 777};
    for (int i = 0; i < 3; i++) {
        rs_theory_config c = rs_theory_defaults();
        c.depth = 6;
        c.size = sizes[i];
        rs_theory_result r = run_ok(c);
        check_exact(&r);
        if (sizes[i] == 1024) /* N a multiple of B = 2^k: D_k = 1 / (B (1 - B/N)) */
            for (int k = 1; k <= 6; k++) {
                double B = ldexp(1, k), deno = 2 * (1 - B / 1024) + RS_THEORY_DENO_EPS;
                assert_true(close_rel(r.layers[k - 1].D, (2.0 / B) / deno, EXACT_RTOL));
            }
        rs_theory_result_free(&r);
    }
    /* a positive bias with rectified noise adds the same constants to every probe: D and G do not change */
    rs_theory_config c = rs_theory_defaults();
    c.depth = 5;
    c.size = 512;
    rs_theory_result a = run_ok(c);
    c.bias = 0.1;
    rs_theory_result b = run_ok(c);
    for (int k = 0; k < 5; k++) { /* constants of order b k enter the differences: rounding ~ 1e-15 * 10 */
        assert_true(close_rel(b.layers[k].D, a.layers[k].D, 1e-9));
        assert_true(close_rel(b.layers[k].G, a.layers[k].G, 1e-9));
    }
    rs_theory_result_free(&a);
    rs_theory_result_free(&b);
}

static void test_pool2_exact_2d(void **state) {
    rs_theory_config c = rs_theory_defaults();
    c.dim = 2;
    c.depth = 3;
    c.size = 40; /* not a multiple of 2^3 at layer 3: the dropped band is covered too */
    c.probes = 40 * 40;
    rs_theory_result r = run_ok(c);
    check_exact(&r);
    rs_theory_result_free(&r);
}

/* stride 1 with circular padding: exact D and denominator from the folded kernel autocorrelation */
static void test_circular_stride1_exact(void **state) {
    const int filters[] = {3, 2, 5};
    for (int i = 0; i < 3; i++) {
        rs_theory_config c = rs_theory_defaults();
        c.stride = 1;
        c.filter = filters[i];
        c.padding = RS_THEORY_PAD_CIRCULAR;
        c.depth = 12;
        c.size = 96; /* smaller than the kernel's autocorrelation support at depth 12 for F = 5: folding matters */
        rs_theory_result r = run_ok(c);
        check_exact(&r);
        rs_theory_result_free(&r);
    }
    rs_theory_config c = rs_theory_defaults();
    c.dim = 2;
    c.stride = 1;
    c.filter = 3;
    c.padding = RS_THEORY_PAD_CIRCULAR;
    c.depth = 4;
    c.size = 24;
    c.probes = 24 * 24;
    rs_theory_result r = run_ok(c);
    check_exact(&r);
    rs_theory_result_free(&r);
}

/* With raw noise and b = 0 the first layer rectifies the noise: the G numerator's expectation of
 * docs/theory.md (units = layer-1 neurons). */
static void test_raw_noise_first_layer_rectifies(void **state) {
    rs_theory_config c = rs_theory_defaults();
    c.depth = 5;
    c.size = 1024;
    c.raw_noise = 1;
    c.noise_norm = 0.5;
    rs_theory_result r = run_ok(c);
    check_exact(&r);
    rs_theory_result_free(&r);
}

/* The rectified-noise mean: E max(eta_j, 0) = (norm/2) Gamma(m/2) / (sqrt(pi) Gamma((m+1)/2)). */
static void test_rectified_noise_mean(void **state) {
    assert_true(close_rel(rs_theory_rect_mean(2, 1.0), 1 / M_PI, 1e-14));          /* E|cos| = 2/pi */
    assert_true(close_rel(rs_theory_rect_mean(3, 2.0), 0.5, 1e-14));               /* E|u_1| = 1/2 on S^2 */
    double m = 1e6; /* large m: norm / sqrt(2 pi m) (1 + 1/(4m) + ...) */
    assert_true(close_rel(rs_theory_rect_mean((int64_t)m, 1.0), 1 / sqrt(2 * M_PI * m), 1e-6));
    rs_theory_config c = rs_theory_defaults();
    c.stride = 1;
    c.filter = 3;
    c.depth = 2;
    c.size = 512;
    rs_theory_result r = run_ok(c);
    double e = rs_theory_rect_mean(512, sqrt(2.0));
    assert_true(fabs(r.noise_pos_mean - e) <= 5 * r.noise_pos_mean_se);
    rs_theory_result_free(&r);
}

/* N -> infinity, stride 1: D_inf 4 v k -> 1 and G_inf -> sqrt(v k / pi) + (1 - 1/pi)/2; corrections are
 * O(1/(v k)) relative (lattice), below 1e-2 at k = 256. */
static void test_infinite_prefactors(void **state) {
    for (int F = 2; F <= 4; F++) {
        rs_theory_config c = rs_theory_defaults();
        c.stride = 1;
        c.filter = F;
        double v = (F * F - 1) / 12.0, D, G;
        int k = 256;
        c.depth = k;
        assert_true(rs_theory_infinite_layer(&c, k, &D, &G));
        assert_true(fabs(D * 4 * v * k - 1) < 1e-2);
        assert_true(close_rel(G, sqrt(v * k / M_PI) + (1 - 1 / M_PI) / 2, 1e-2));
        double c0;
        assert_int_equal(rs_theory_kernel_autocorr(F, k, 0, 0, &c0), RS_OK);
        assert_true(close_rel(c0, 1 / (2 * sqrt(M_PI * k * v)), 1e-2));
    }
}

/* The noise is counter-based: eta_j = norm z_j / ||z||, z_j = rs_normal(seed, stream(THEORY, 0, repeat),
 * sample * m + j); same (seed, repeat, sample) -> same numbers, anything else -> different. */
static void test_noise_counter_based(void **state) {
    int64_t m = 300;
    double a[300], b[300], ss = 0;
    rs_theory_noise(a, m, 7, 0, 5, 2.0);
    for (int64_t j = 0; j < m; j++) {
        b[j] = rs_normal(7, rs_stream(RS_PURPOSE_THEORY, 0, 0), 5 * (uint64_t)m + (uint64_t)j);
        ss += b[j] * b[j];
    }
    double n2 = 0;
    for (int64_t j = 0; j < m; j++) {
        assert_true(a[j] == b[j] * (2.0 / sqrt(ss)));
        n2 += a[j] * a[j];
    }
    assert_true(fabs(sqrt(n2) - 2.0) < 1e-14);
    rs_theory_noise(b, m, 7, 0, 5, 2.0);
    assert_memory_equal(a, b, sizeof a);
    rs_theory_noise(b, m, 8, 0, 5, 2.0);
    assert_true(memcmp(a, b, sizeof a) != 0);
    rs_theory_noise(b, m, 7, 1, 5, 2.0);
    assert_true(memcmp(a, b, sizeof a) != 0);
    rs_theory_noise(b, m, 7, 0, 6, 2.0);
    assert_true(memcmp(a, b, sizeof a) != 0);
    /* a run with another seed has other G numerators, the same D */
    rs_theory_config c = rs_theory_defaults();
    c.depth = 4;
    c.size = 256;
    rs_theory_result r1 = run_ok(c);
    c.seed = 1;
    rs_theory_result r2 = run_ok(c);
    assert_true(r1.layers[3].D == r2.layers[3].D);
    assert_true(r1.layers[3].g_num != r2.layers[3].g_num);
    rs_theory_result_free(&r1);
    rs_theory_result_free(&r2);
}

static void same_bits(rs_theory_config c) {
    rs_set_threads(1);
    rs_theory_result a = run_ok(c);
    rs_set_threads(2);
    rs_theory_result b = run_ok(c);
    for (int k = 0; k < c.depth; k++) {
        rs_theory_layer x = a.layers[k], y = b.layers[k];
        assert_memory_equal(&x, &y, sizeof x);
    }
    assert_true(a.noise_pos_mean == b.noise_pos_mean);
    rs_theory_result_free(&a);
    rs_theory_result_free(&b);
}

static void test_thread_count_independent(void **state) {
    rs_theory_config c = rs_theory_defaults();
    c.stride = 1;
    c.filter = 3;
    c.depth = 10;
    same_bits(c);
    c = rs_theory_defaults();
    c.dim = 2;
    c.depth = 3;
    c.bias = -0.01; /* a nonlinear regime too */
    same_bits(c);
}

static void expect_error(rs_theory_config c, rs_status code, const char *needle) {
    rs_status st = rs_theory_resolve(&c);
    assert_int_equal(st, code);
    if (!strstr(rs_last_error(), needle)) fprintf(stderr, "message: %s\n", rs_last_error());
    assert_non_null(strstr(rs_last_error(), needle));
    assert_null(strchr(rs_last_error(), '\n'));
}

static void test_bad_configurations(void **state) {
    rs_theory_config c = rs_theory_defaults();
    c.stride = 3;
    expect_error(c, RS_ERR_ARG, "--stride");
    c = rs_theory_defaults();
    c.filter = 1;
    expect_error(c, RS_ERR_ARG, "--filter");
    c = rs_theory_defaults();
    c.depth = 8;
    c.size = 100;
    expect_error(c, RS_ERR_ARG, "too large for --size 100");
    c = rs_theory_defaults();
    c.dim = 2;
    c.stride = 1;
    c.filter = 3;
    c.size = 1 << 20;
    expect_error(c, RS_ERR_NOMEM, "MB");
    c = rs_theory_defaults();
    c.probes = 10;
    expect_error(c, RS_ERR_ARG, "--probes");
    c = rs_theory_defaults();
    c.dim = 3;
    expect_error(c, RS_ERR_ARG, "--dim");
    c = rs_theory_defaults();
    c.stride = 1;
    c.filter = 3;
    c.depth = 4000;
    expect_error(c, RS_ERR_NOMEM, "MB"); /* automatic size 16 x 8001: 4000 layers of 128k values */
    /* the 2D probe count is rounded up to whole rows */
    c = rs_theory_defaults();
    c.dim = 2;
    c.depth = 3;
    c.size = 64;
    c.probes = 100;
    assert_int_equal(rs_theory_resolve(&c), RS_OK);
    assert_int_equal(c.probes, 128);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_receptive_field),         cmocka_unit_test(test_pool2_exact_1d),
        cmocka_unit_test(test_pool2_exact_2d),          cmocka_unit_test(test_circular_stride1_exact),
        cmocka_unit_test(test_raw_noise_first_layer_rectifies), cmocka_unit_test(test_rectified_noise_mean),
        cmocka_unit_test(test_infinite_prefactors),     cmocka_unit_test(test_noise_counter_based),
        cmocka_unit_test(test_thread_count_independent), cmocka_unit_test(test_bad_configurations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
