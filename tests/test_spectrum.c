/* test_spectrum.c: the grid-Laplacian spectra of filters (SPEC 4.2.2). The Jacobi routine diagonalises random
 * symmetric matrices; grid Laplacians have the analytic eigenvalues (2 - 2cos(pi a/kh)) + (2 - 2cos(pi b/kw));
 * a constant filter puts all its weight on lambda = 0; a filter equal to an eigenvector puts all its weight on it
 * (on its eigenspace when the eigenvalue is degenerate); i.i.d. filters give a flat spectrum; rs_net_spectra
 * visits every conv weight once, skips 1 x 1 kernels and treats Conv1d weights as paths. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/measure.h"
#include "relstab/models.h"
#include "testutil.h"

static void test_jacobi_random(void **state) {
    (void)state;
    const int32_t n = 12;
    double a[144], a0[144], ev[12], V[144];
    float *r = tu_randn(144, 40);
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = r[i * n + j];
    memcpy(a0, a, sizeof a);
    assert_int_equal(rs_jacobi_eigen(a, n, ev, V), RS_OK);
    double norm = 0;
    for (int i = 0; i < n * n; i++) norm = fmax(norm, fabs(a0[i]));
    for (int j = 0; j < n; j++) {
        if (j) assert_true(ev[j] >= ev[j - 1]);
        for (int i = 0; i < n; i++) { /* (A v_j)_i = lambda_j v_ji: residual at double rounding x n x ||A|| */
            double s = 0;
            for (int k = 0; k < n; k++) s += a0[i * n + k] * V[j * n + k];
            assert_true(fabs(s - ev[j] * V[j * n + i]) <= 1e-12 * n * norm);
        }
        for (int k = 0; k < n; k++) { /* orthonormal rows */
            double d = 0;
            for (int i = 0; i < n; i++) d += V[j * n + i] * V[k * n + i];
            assert_true(fabs(d - (j == k)) <= 1e-13);
        }
    }
    rs_free(r);
}

/* The arrays of one spectrum made by rs_filter_spectrum (rs_spectra_free frees an allocated array of them). */
static void free_fields(rs_spectrum *s) {
    rs_free(s->lambda), rs_free(s->omega), rs_free(s->omega_norm), rs_free(s->omega_level);
    rs_free(s->omega_level_norm), rs_free(s->level);
}

static int cmp_d(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static void test_grid_eigenvalues(void **state) {
    (void)state;
    int32_t sizes[5][2] = {{3, 3}, {5, 5}, {2, 4}, {1, 5}, {7, 7}};
    for (int t = 0; t < 5; t++) {
        int32_t kh = sizes[t][0], kw = sizes[t][1], n = kh * kw;
        double lam[49], psi[49 * 49], ref[49];
        assert_int_equal(rs_grid_laplacian_eigen(kh, kw, lam, psi), RS_OK);
        for (int a = 0; a < kh; a++)
            for (int b = 0; b < kw; b++) ref[a * kw + b] = (2 - 2 * cos(M_PI * a / kh)) + (2 - 2 * cos(M_PI * b / kw));
        qsort(ref, (size_t)n, sizeof(double), cmp_d);
        for (int j = 0; j < n; j++) assert_true(fabs(lam[j] - ref[j]) <= 1e-12);
        assert_true(lam[0] == 0.0);
        for (int k = 0; k < n; k++) assert_true(fabs(psi[k] - 1 / sqrt((double)n)) <= 1e-13); /* constant mode */
    }
}

/* 3 x 3 filters: constant ones on lambda = 0; the eigenvector of lambda = 2 (non-degenerate: only a = b = 1 gives
 * it) on itself; a mixture inside the degenerate lambda = 1 eigenspace on that level. */
static void test_filters_on_modes(void **state) {
    (void)state;
    double lam[9], psi[81];
    assert_int_equal(rs_grid_laplacian_eigen(3, 3, lam, psi), RS_OK);
    float w[4 * 9];
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 9; k++) w[i * 9 + k] = (float)(i + 1) * 0.5f; /* constant filters, several values */
    rs_spectrum s = {.layer = "const"};
    assert_int_equal(rs_filter_spectrum(w, 4, 3, 3, &s), RS_OK);
    assert_true(fabs(s.omega_norm[0] - 1) <= 1e-14);
    for (int j = 1; j < 9; j++) assert_true(s.omega_norm[j] <= 1e-28);
    free_fields(&s);
    int j2 = -1, j1[2], n1 = 0;
    for (int j = 0; j < 9; j++) {
        if (fabs(lam[j] - 2) < 1e-9) j2 = j;
        if (fabs(lam[j] - 1) < 1e-9) j1[n1++] = j;
    }
    assert_true(j2 >= 0 && n1 == 2);
    for (int k = 0; k < 9; k++) w[k] = (float)psi[j2 * 9 + k], w[9 + k] = (float)(0.6 * psi[j1[0] * 9 + k] + 0.8 * psi[j1[1] * 9 + k]);
    rs_spectrum a = {.layer = "eig"}, b = {.layer = "mix"};
    assert_int_equal(rs_filter_spectrum(w, 1, 3, 3, &a), RS_OK);
    assert_int_equal(rs_filter_spectrum(w + 9, 1, 3, 3, &b), RS_OK);
    /* float filters: the projection of a rounded eigenvector on the others is ~1e-8, its square ~1e-15 */
    assert_true(fabs(a.omega_norm[j2] - 1) <= 1e-13);
    assert_int_equal(b.level[j1[0]], b.level[j1[1]]);
    assert_true(fabs(b.omega_level_norm[j1[0]] - 1) <= 1e-13);
    assert_true(fabs(b.omega_level_norm[j1[1]] - 1) <= 1e-13);
    assert_true(fabs(b.omega_norm[j1[0]] + b.omega_norm[j1[1]] - 1) <= 1e-13);
    free_fields(&a), free_fields(&b);
}

/* i.i.d. N(0, 1) filters: <w, psi_j> ~ N(0, 1) for every unit psi_j, so omega_j is the mean of n chi-square(1)
 * values: 1 +- sqrt(2/n); bound 5 sigma. */
static void test_iid_filters_flat(void **state) {
    (void)state;
    const int64_t n = 20000;
    float *w = tu_randn((size_t)n * 25, 41);
    rs_spectrum s = {.layer = "iid"};
    assert_int_equal(rs_filter_spectrum(w, n, 5, 5, &s), RS_OK);
    for (int j = 0; j < 25; j++) assert_true(fabs(s.omega[j] - 1) <= 5 * sqrt(2.0 / n));
    free_fields(&s);
    rs_free(w);
}

/* A net: a 3x3 conv, a 1x1 conv (skipped), a conv reusing the first conv's weight (counted once), a linear layer. */
static void test_net_spectra(void **state) {
    (void)state;
    rs_net *net = rs_net_new(4, 6, 6);
    int32_t a = rs_net_conv2d(net, "a", 0, 4, 3, 1, 1, 1, 1);
    int32_t b = rs_net_conv2d(net, "b", a, 4, 1, 1, 0, 1, 0);
    rs_conv2d_dims t = net->nodes[a].conv;
    int32_t c = rs_net_conv2d_ex(net, "c", b, &t, net->nodes[a].param[0], -2);
    rs_net_linear(net, "fc", rs_net_flatten(net, "flat", c), 3, 1);
    assert_int_equal(rs_net_build(net, 1, 0), RS_OK);
    float *wa = rs_param_data(&net->params, net->nodes[a].param[0]);
    for (int k = 0; k < 4 * 4 * 9; k++) wa[k] = 1.0f; /* constant filters */
    rs_spectrum *sp = NULL;
    int32_t n = 0;
    assert_int_equal(rs_net_spectra(net, &sp, &n), RS_OK);
    assert_int_equal(n, 1);
    assert_string_equal(sp[0].layer, "a");
    assert_int_equal(sp[0].n_filters, 16);
    assert_true(fabs(sp[0].omega_norm[0] - 1) <= 1e-14);
    rs_spectra_free(sp, n);
    rs_net_free(net);
    /* Conv1d weights (out, in, 3): the path graph, eigenvalues 0, 1, 3 */
    rs_model_opts o;
    rs_model_opts_init(&o);
    o.hidden = 8, o.depth = 2, o.filter_size = 3;
    assert_int_equal(rs_model_resolve("gapmf1d", &o), RS_OK);
    assert_int_equal(rs_model_build("gapmf1d", &o, &net), RS_OK);
    assert_int_equal(rs_net_build(net, 1, 0), RS_OK);
    rs_net_init(net, 1);
    assert_int_equal(rs_net_spectra(net, &sp, &n), RS_OK);
    assert_int_equal(n, 2);
    double ref[3] = {0, 1, 3};
    for (int j = 0; j < 3; j++) assert_true(fabs(sp[1].lambda[j] - ref[j]) <= 1e-12);
    assert_int_equal(sp[1].kh, 1);
    assert_int_equal(sp[1].n_filters, 64);
    rs_spectra_free(sp, n);
    rs_net_free(net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jacobi_random),    cmocka_unit_test(test_grid_eigenvalues),
        cmocka_unit_test(test_filters_on_modes), cmocka_unit_test(test_iid_filters_flat),
        cmocka_unit_test(test_net_spectra),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
