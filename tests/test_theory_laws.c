/* test_theory_laws.c: the scaling claims of the constant-filter model (fitted exponents of D and G within 0.1 of
 * the laws, with the probe size above the receptive field), the least-squares fit and its range rule, the bias
 * study's two plateaus, and the reader of a trained net's sens.csv (fixture tests/fixtures/theory). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "relstab/theory.h"

static rs_theory_result run_ok(rs_theory_config c) {
    rs_theory_result r;
    rs_status st = rs_theory_run(&c, &r);
    if (st != RS_OK) fprintf(stderr, "run failed: %s\n", rs_last_error());
    assert_int_equal(st, RS_OK);
    return r;
}

static void fits(const rs_theory_result *r, rs_theory_fit f[3]) {
    rs_theory_laws laws = rs_theory_predict(&r->cfg);
    int lo, hi;
    assert_true(rs_theory_fit_range(&r->cfg, &lo, &hi));
    for (int q = 0; q < 3; q++) {
        f[q] = rs_theory_fit_quantity(r, &laws, q, lo, hi);
        assert_true(f[q].ok);
        fprintf(stderr, "  %s slope %+.4f +- %.4f (k = %d..%d)\n", q == 0 ? "D" : q == 1 ? "G" : "R", f[q].slope,
                f[q].slope_se, lo, hi);
    }
}

/* stride = filter = 2: D ~ 2^-k, G ~ 2^k (log2 units per layer); depth 7 is the smallest with the claim's margin
 * (the exact G curve fits +0.975 over k = 4..7). */
static void test_stride2_exponents(void **state) {
    rs_theory_config c = rs_theory_defaults();
    c.depth = 7;
    rs_theory_result r = run_ok(c);
    assert_true(r.cfg.size > rs_theory_rf(2, 2, 7));
    rs_theory_fit f[3];
    fits(&r, f);
    assert_true(fabs(f[0].slope + 1) < 0.1);
    assert_true(fabs(f[1].slope - 1) < 0.1);
    rs_theory_result_free(&r);
    /* 2D: G grows like the receptive field's area, 4^k = 2^(2k) */
    c = rs_theory_defaults();
    c.dim = 2;
    c.depth = 5;
    r = run_ok(c);
    fits(&r, f);
    assert_true(fabs(f[0].slope + 1) < 0.1);
    assert_true(fabs(f[1].slope - 2) < 0.1);
    rs_theory_result_free(&r);
}

/* stride 1, filter 3, depth 64, N = 16 RF: D ~ 1/k, G ~ k^(1/2) (ln-ln). The G slope stays below 1/2 by the
 * constant part (1 - 1/pi)/2 of G; the N -> infinity curve fitted over the same layers shows the same shortfall.
 * Bound on their difference: G / G_inf stays within 1% over k = 32..64 (finite N), which moves a slope over a
 * ln 2 range by at most 0.01 / ln 2 < 0.02. */
static void test_stride1_exponents(void **state) {
    rs_theory_config c = rs_theory_defaults();
    c.stride = 1;
    c.filter = 3;
    c.depth = 64;
    rs_theory_result r = run_ok(c);
    assert_true(r.cfg.size > rs_theory_rf(3, 1, 64));
    rs_theory_fit f[3];
    fits(&r, f);
    assert_true(fabs(f[0].slope + 1) < 0.1);
    assert_true(fabs(f[1].slope - 0.5) < 0.1);
    assert_true(f[1].slope < 0.5);
    rs_theory_laws laws = rs_theory_predict(&r.cfg);
    double x[64], y[64];
    int n = 0;
    for (int k = f[1].k_lo; k <= f[1].k_hi; k++, n++) {
        double D, G;
        assert_true(rs_theory_infinite_layer(&r.cfg, k, &D, &G));
        assert_true(fabs(r.layers[k - 1].G / G - 1) < 0.01);
        x[n] = rs_theory_fit_x(&laws, k);
        y[n] = rs_theory_fit_y(&laws, G);
    }
    rs_theory_fit g = rs_theory_fit_line(x, y, n);
    assert_true(fabs(g.slope - f[1].slope) < 0.02);
    rs_theory_result_free(&r);
}

static void test_fit_line(void **state) {
    double x[4] = {0, 1, 2, 3}, y[4] = {0, 1, 1, 3}, yl[4];
    rs_theory_fit f = rs_theory_fit_line(x, y, 4);
    /* by hand: Sxx = 5, Sxy = 4.5, residuals 0.1 0.2 -0.7 0.4, rss = 0.7, se = sqrt(0.7 / 2 / 5) */
    assert_true(f.ok);
    assert_true(fabs(f.slope - 0.9) < 1e-14);
    assert_true(fabs(f.intercept + 0.1) < 1e-14);
    assert_true(fabs(f.slope_se - sqrt(0.07)) < 1e-14);
    for (int i = 0; i < 4; i++) yl[i] = 2 + 3 * x[i];
    f = rs_theory_fit_line(x, yl, 4);
    assert_true(fabs(f.slope - 3) < 1e-14 && f.slope_se < 1e-12);
    assert_false(rs_theory_fit_line(x, y, 2).ok);
    y[1] = NAN; /* skipped: three points left */
    assert_true(rs_theory_fit_line(x, y, 4).ok && rs_theory_fit_line(x, y, 4).n == 3);
}

static void test_fit_range_rule(void **state) {
    rs_theory_config c = rs_theory_defaults();
    int lo, hi;
    assert_int_equal(rs_theory_resolve(&c), RS_OK);
    assert_true(rs_theory_fit_range(&c, &lo, &hi));
    assert_int_equal(lo, 4);
    assert_int_equal(hi, 8);
    c = rs_theory_defaults();
    c.stride = 1;
    c.filter = 3;
    c.depth = 64;
    assert_int_equal(rs_theory_resolve(&c), RS_OK);
    assert_true(rs_theory_fit_range(&c, &lo, &hi));
    assert_int_equal(lo, 32);
    assert_int_equal(hi, 64);
    /* the notebook's N = RF(L+1) + 1: only layers with 16 RF_k <= N = 513 count, k <= 5 */
    c = rs_theory_defaults();
    c.size = 513;
    assert_true(rs_theory_fit_range(&c, &lo, &hi));
    assert_int_equal(lo, 3);
    assert_int_equal(hi, 5);
    c.size = 40;
    c.depth = 3;
    assert_false(rs_theory_fit_range(&c, &lo, &hi));
}

/* The bias study's plateaus (docs/theory.md): with b > 0 and eta far below eta_c every unit stays linear and
 * E g_num = eta^2 (the fraction of pixels reaching layer k is 1 here); with b = 0 the first layer rectifies and
 * g_num follows the exact raw-noise expectation. Both within 5 standard errors. */
static void test_bias_study_plateaus(void **state) {
    double biases[2] = {0, 0.1}, etas[2] = {1e-3, 0.5};
    rs_theory_bias_config bc = {rs_theory_defaults(), biases, 2, etas, 2, 2};
    bc.base.depth = 5;
    bc.base.size = 128;
    rs_theory_bias_result br;
    assert_int_equal(rs_theory_bias_run(&bc, &br), RS_OK);
    int L = 5;
    assert_true(fabs(br.eta_onset[1] - 0.1 * sqrt(128.0 * 2) / 2) < 1e-12);
    for (int k = 1; k <= L; k++) {
        size_t lin = ((size_t)1 * 2 + 0) * L + k - 1; /* b = 0.1, eta = 1e-3 */
        assert_true(fabs(br.g_num[lin] - 1e-6) <= 5 * br.g_num_se[lin]);
        for (int e = 0; e < 2; e++) {
            rs_theory_config c = bc.base;
            rs_theory_exact ex;
            c.raw_noise = 1;
            c.noise_norm = etas[e];
            assert_int_equal(rs_theory_resolve(&c), RS_OK);
            assert_true(rs_theory_exact_layer(&c, k, &ex));
            size_t i = (size_t)e * L + k - 1; /* b = 0 */
            assert_true(fabs(br.g_num[i] - ex.g_num) <= 5 * br.g_num_se[i]);
            assert_true(fabs(br.g_over_eta2[i] - br.g_num[i] / br.deno[k - 1] / (etas[e] * etas[e])) < 1e-12);
        }
    }
    /* rectification halves the noise power but piles up its mean: at layer 5 the b = 0 plateau is
     * (1 + 15/pi)/2 = 2.89 times the linear one (docs/theory.md); well above 2 */
    assert_true(br.g_over_eta2[L - 1] > 2 * br.g_over_eta2[(size_t)2 * L + L - 1]);
    rs_theory_bias_result_free(&br);
}

static void test_read_sens_fixture(void **state) {
    rs_theory_net_layer *net;
    int n;
    assert_int_equal(rs_theory_read_sens(tu_fixture("theory/pool1d_run/sens.csv"), ".mul", &net, &n), RS_OK);
    assert_int_equal(n, 7);
    double x[7], y[3][7];
    for (int i = 0; i < n; i++) {
        int k = i + 1;
        assert_int_equal(net[i].k, k);
        assert_int_equal(net[i].n_seeds, 2);
        /* the fixture's two seeds are f = 2 and 1/2 around D = 2^-k, G = 0.2 2^k, R = 5 4^-k: geometric means */
        assert_true(fabs(net[i].D / ldexp(1, -k) - 1) < 1e-12);
        assert_true(fabs(net[i].G / (0.2 * ldexp(1, k)) - 1) < 1e-12);
        assert_true(fabs(net[i].R / (5 * ldexp(1, -2 * k)) - 1) < 1e-12);
        x[i] = k;
        y[0][i] = log2(net[i].D);
        y[1][i] = log2(net[i].G);
        y[2][i] = log2(net[i].R);
    }
    assert_string_equal(net[0].node, "conv.0.mul");
    assert_true(fabs(rs_theory_fit_line(x, y[0], 7).slope + 1) < 1e-12);
    assert_true(fabs(rs_theory_fit_line(x, y[1], 7).slope - 1) < 1e-12);
    assert_true(fabs(rs_theory_fit_line(x, y[2], 7).slope + 2) < 1e-12);
    rs_free(net);
    /* without the node filter two nodes claim each layer: an error naming both */
    assert_int_equal(rs_theory_read_sens(tu_fixture("theory/pool1d_run/sens.csv"), NULL, &net, &n), RS_ERR_FORMAT);
    assert_non_null(strstr(rs_last_error(), "both map to layer"));
}

static void expect_bad(const char *dir, const char *text, size_t len, const char *needle) {
    char path[1024];
    snprintf(path, sizeof path, "%s/sens.csv", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(text, 1, len, f);
    fclose(f);
    rs_theory_net_layer *net = NULL;
    int n = -1;
    assert_int_not_equal(rs_theory_read_sens(path, NULL, &net, &n), RS_OK);
    if (!strstr(rs_last_error(), needle)) fprintf(stderr, "message: %s\n", rs_last_error());
    assert_non_null(strstr(rs_last_error(), needle));
    assert_null(net);
    assert_int_equal(n, 0);
}

static void test_read_sens_malformed(void **state) {
    const char *dir = tu_tmpdir("theory");
    expect_bad(dir, "", 0, "empty");
    expect_bad(dir, "node,D,G\na,1,2\n", 15, "node, D, G and R");
    expect_bad(dir, "node,D,G,R\na,1,x,2\n", 19, "G is not a number");
    expect_bad(dir, "node,D,G,R\na,1,2\n", 17, "3 fields");
    expect_bad(dir, "node,D,G,R\na,1,0,2\n", 19, "positive");
    expect_bad(dir, "node,D,G,R\na,1\0,2,3\n", 20, "NUL");
    expect_bad(dir, "node,layer,D,G,R\na,0,1,1,1\n", 27, "layer must be an integer");
    expect_bad(dir, "node,D,G,R\n", 11, "no rows");
    expect_bad(dir, "node,D,G,R\n\"a,1,2,3\n", 19, "unclosed quote");
    char missing[1100];
    snprintf(missing, sizeof missing, "%s/absent.csv", dir);
    rs_theory_net_layer *net;
    int n;
    assert_int_equal(rs_theory_read_sens(missing, NULL, &net, &n), RS_ERR_IO);
}

/* The columns of relstab measure's CSV (docs/measure.md): extra columns ignored, RFC 4180 quotes, an empty epoch,
 * mode = init rows dropped, non-numbers tolerated in rows the node filter drops. */
static void test_read_sens_measure_format(void **state) {
    const char *dir = tu_tmpdir("theory");
    char path[1024];
    snprintf(path, sizeof path, "%s/sens.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("node,op,neurons,D,G,R,mode,checkpoint,epoch,data\n"
          "x,input,128,nan,nan,nan,trained,best,,\"a,b\"\n"
          "\"conv.0.mul\",mul,64,0.5,2,0.25,trained,best,,\"say \"\"hi\"\", x\"\n"
          "conv.0.mul,mul,64,9,9,1,init,,,d\n"
          "conv.1.mul,mul,32,0.25,4,0.0625,trained,best,,d\r\n",
          f);
    fclose(f);
    rs_theory_net_layer *net;
    int n;
    assert_int_equal(rs_theory_read_sens(path, ".mul", &net, &n), RS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(net[0].node, "conv.0.mul");
    assert_true(net[0].k == 1 && net[0].D == 0.5 && net[0].G == 2 && net[0].n_seeds == 1);
    assert_true(net[1].k == 2 && net[1].R == 0.0625);
    rs_free(net);
    /* without the filter the input row's nan is an error naming its line */
    assert_int_equal(rs_theory_read_sens(path, NULL, &net, &n), RS_ERR_FORMAT);
    assert_non_null(strstr(rs_last_error(), "line 2: D is not a number"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stride2_exponents), cmocka_unit_test(test_stride1_exponents),
        cmocka_unit_test(test_fit_line),          cmocka_unit_test(test_fit_range_rule),
        cmocka_unit_test(test_bias_study_plateaus), cmocka_unit_test(test_read_sens_fixture),
        cmocka_unit_test(test_read_sens_malformed), cmocka_unit_test(test_read_sens_measure_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
