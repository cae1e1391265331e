/* test_measure_median.c: the median estimator (SPEC 1.4) against a brute-force median computed here from the
 * dumped inputs: D_num = sum over neurons of the lower median over images of the squared difference, deno = the
 * lower median of all P^2 ordered-pair squared distances (diagonal included) + 1e-10; for an odd and an even P,
 * with the nodes processed in one chunk or one node per chunk, and a budget too small for a node refused. */
#include "measure_testutil.h"

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Brute force on representations a, ad (P, N) in double. */
static void brute_median(const double *a, const double *ad, int64_t P, int64_t N, double *num, double *deno) {
    double *v = malloc((size_t)(P * P) * sizeof(double));
    *num = 0;
    for (int64_t j = 0; j < N; j++) {
        for (int64_t p = 0; p < P; p++) v[p] = (ad[p * N + j] - a[p * N + j]) * (ad[p * N + j] - a[p * N + j]);
        qsort(v, (size_t)P, sizeof(double), cmp_d);
        *num += v[(P - 1) / 2];
    }
    for (int64_t p = 0; p < P; p++)
        for (int64_t q = 0; q < P; q++) {
            double t = 0;
            for (int64_t j = 0; j < N; j++) t += (a[p * N + j] - a[q * N + j]) * (a[p * N + j] - a[q * N + j]);
            v[p * P + q] = t;
        }
    qsort(v, (size_t)(P * P), sizeof(double), cmp_d);
    *deno = v[(P * P - 1) / 2] + 1e-10;
    free(v);
}

/* The representation of node `node` of net on n images x (n, d), forwarded as one batch: (n, N) in double. */
static double *reps(rs_net *net, int32_t node, const float *x, int32_t n) {
    assert_int_equal(rs_net_forward(net, x, n, RS_MODE_EVAL), RS_OK);
    int64_t N = rs_net_node_numel(net, node);
    return mt_to_double(rs_net_tap(net, node), (size_t)(n * N));
}

static void check_median(int64_t P, double mem) {
    const char *spec = mt_npy_data("med", 30, 2, 5, 5, 0.3f, 21);
    rs_dataset *ds = mt_open(spec);
    rs_net *net = rs_net_new(2, 5, 5);
    int32_t s = rs_net_scale(net, "scale", 0, 2.0f);
    int32_t f = rs_net_flatten(net, "flat", s);
    rs_net_linear(net, "fc", f, 4, 1);
    assert_int_equal(rs_net_build(net, (int32_t)P, 0), RS_OK);
    rs_net_init(net, 2);
    int32_t nn, *nodes = mt_nodes(net, "x,scale,fc", &nn);
    rs_measure_opts o;
    rs_measure_opts_default(&o);
    o.P = P, o.batch = (int32_t)P, o.estimator = RS_EST_MEDIAN, o.median_mem = mem;
    o.dump_dir = tu_tmpdir("med-dump");
    rs_measure_result r;
    rs_status st = rs_measure(net, ds, NULL, nodes, nn, &o, &r);
    if (st) fprintf(stderr, "%s\n", rs_last_error());
    assert_int_equal(st, RS_OK);
    rs_npy x = mt_read(o.dump_dir, "probe"), xd = mt_read(o.dump_dir, "deformed"), xn = mt_read(o.dump_dir, "noisy");
    for (int32_t k = 0; k < nn; k++) {
        int64_t N = rs_net_node_numel(net, nodes[k]);
        double *a = reps(net, nodes[k], x.data, (int32_t)P), *ad = reps(net, nodes[k], xd.data, (int32_t)P);
        double *an = reps(net, nodes[k], xn.data, (int32_t)P);
        double dn, gn, deno, deno2;
        brute_median(a, ad, P, N, &dn, &deno);
        brute_median(a, an, P, N, &gn, &deno2);
        /* the same float activations (one batch of P, as the measurement's), sums of N double terms: 1e-12 */
        mt_close(r.rows[k].deno, deno, 1e-12, "median deno");
        mt_close(r.rows[k].D_num, dn, 1e-12, "median D_num");
        mt_close(r.rows[k].G_num, gn, 1e-12, "median G_num");
        mt_close(r.rows[k].R, dn / gn, 1e-12, "median R");
        assert_true(isnan(r.rows[k].D_se)); /* no standard error over images for the median */
        rs_free(a), rs_free(ad), rs_free(an);
    }
    rs_npy_free(&x), rs_npy_free(&xd), rs_npy_free(&xn);
    rs_measure_result_free(&r);
    rs_free(nodes);
    rs_net_free(net);
    rs_dataset_free(ds);
}

static void test_median_odd_one_chunk(void **state) { (void)state, check_median(11, 1e9); }
static void test_median_even_one_chunk(void **state) { (void)state, check_median(10, 1e9); }
/* 10 images x 3 stored copies x 50 floats = 6000 bytes per node x or scale: a 7000-byte budget holds one node */
static void test_median_chunks(void **state) { (void)state, check_median(10, 7000); }

static void test_median_budget_too_small(void **state) {
    (void)state;
    rs_dataset *ds = mt_open(mt_npy_data("med-b", 20, 2, 5, 5, 0.0f, 22));
    rs_net *net = rs_net_new(2, 5, 5);
    rs_net_scale(net, "scale", 0, 2.0f);
    assert_int_equal(rs_net_build(net, 4, 0), RS_OK);
    rs_measure_opts o;
    rs_measure_opts_default(&o);
    o.P = 10, o.estimator = RS_EST_MEDIAN, o.median_mem = 1000;
    rs_measure_result r;
    assert_int_equal(rs_measure(net, ds, NULL, NULL, 0, &o, &r), RS_ERR_NOMEM);
    assert_non_null(strstr(rs_last_error(), "node scale"));
    assert_non_null(strstr(rs_last_error(), "--median-mem"));
    rs_net_free(net);
    rs_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_median_odd_one_chunk),
        cmocka_unit_test(test_median_even_one_chunk),
        cmocka_unit_test(test_median_chunks),
        cmocka_unit_test(test_median_budget_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
