/* test_capi.c: the plain-call entry points that bindings use (python/relstab), against the library functions they
 * stand for: rs_accum on a net's taps equals rs_measure bit for bit (mean and median, full and channel mean);
 * rs_accum refuses bad batches and keeps its state; rs_measure_kv equals rs_measure with the same options;
 * rs_diffeo_images equals measure's dumped deformed images; rs_net_tap_copy, rs_model_build_kv and
 * rs_theory_run_table against their struct-based counterparts. */
#include "measure_testutil.h"

#include <math.h>

#include "relstab/perturb.h"
#include "relstab/theory.h"

#define NP 12
#define NB 5

/* rs_measure on a fresh LeNet (one draw), its inputs dumped. */
static void measure_dumped(rs_net *net, rs_dataset *ds, rs_estimator est, int32_t chmean, const char *dir,
                           rs_measure_result *r) {
    rs_measure_opts o;
    rs_measure_opts_default(&o);
    o.P = NP, o.batch = NB, o.estimator = est, o.channel_mean = chmean, o.dump_dir = dir, o.seed = 5;
    rs_status s = rs_measure(net, ds, NULL, NULL, 0, &o, r);
    if (s) fail_msg("%s", rs_last_error());
}

/* The same numbers from the dumped inputs: forwards of NB images, NHWC taps into rs_accum. */
static void accum_on_taps(rs_net *net, rs_estimator est, int32_t chmean, const char *dir, const rs_measure_result *r) {
    rs_npy x = mt_read(dir, "probe"), xd = mt_read(dir, "deformed"), xn = mt_read(dir, "noisy");
    int64_t d = 28 * 28;
    rs_accum *a = NULL;
    assert_int_equal(rs_accum_new(r->n_nodes, est, chmean, &a), RS_OK);
    float *buf = malloc(3 * (size_t)NB * 6 * 28 * 28 * sizeof(float));
    for (int64_t p0 = 0; p0 < NP; p0 += NB) {
        int32_t n = NP - p0 < NB ? (int32_t)(NP - p0) : NB;
        const float *in[3] = {(float *)x.data + p0 * d, (float *)xd.data + p0 * d, (float *)xn.data + p0 * d};
        for (int32_t k = 0; k < r->n_nodes; k++) {
            int32_t dims[4];
            assert_int_equal(rs_net_node_dims(net, r->rows[k].node, dims), RS_OK);
            int64_t numel = (int64_t)dims[1] * dims[2] * dims[3], room = (int64_t)NB * 6 * 28 * 28;
            for (int i = 0; i < 3; i++) {
                assert_int_equal(rs_net_forward(net, in[i], n, RS_MODE_EVAL), RS_OK);
                assert_int_equal(rs_net_tap_copy(net, r->rows[k].node, 1, buf + i * room, room), RS_OK);
            }
            rs_status s = rs_accum_add(a, k, 0, buf, buf + room, buf + 2 * room, n, numel, dims[1], 1);
            if (s) fail_msg("%s", rs_last_error());
        }
    }
    for (int32_t k = 0; k < r->n_nodes; k++) {
        rs_sens q;
        assert_int_equal(rs_accum_result(a, k, &q), RS_OK);
        const rs_sens *e = &r->rows[k];
        assert_int_equal(q.neurons, e->neurons);
        assert_int_equal(rs_accum_count(a, k), NP);
        assert_int_equal(q.flag, e->flag);
        double got[7] = {q.D, q.G, q.R, q.D_num, q.G_num, q.deno, q.D_se}, want[7] = {e->D, e->G, e->R, e->D_num,
                                                                                   e->G_num, e->deno, e->D_se};
        for (int j = 0; j < 7; j++)
            if (!(got[j] == want[j] || (isnan(got[j]) && isnan(want[j]))))
                fail_msg("%s (%s, chmean %d) quantity %d: accum %.17g, rs_measure %.17g", e->name,
                         rs_estimator_name(est), chmean, j, got[j], want[j]);
    }
    free(buf);
    rs_accum_free(a);
    rs_npy_free(&x), rs_npy_free(&xd), rs_npy_free(&xn);
}

static void test_accum_equals_measure(void **state) {
    (void)state;
    rs_dataset *ds = mt_open(mt_npy_data("capi-a", 20, 1, 28, 28, 0.3f, 41));
    rs_net *net = mt_lenet(3);
    for (int est = 0; est < 2; est++)
        for (int chmean = 0; chmean < 2; chmean++) {
            const char *dir = tu_tmpdir("capi-a-dump");
            rs_measure_result r;
            measure_dumped(net, ds, (rs_estimator)est, chmean, dir, &r);
            assert_int_equal(rs_net_build(net, NB, 0), RS_OK);
            accum_on_taps(net, (rs_estimator)est, chmean, dir, &r);
            rs_measure_result_free(&r);
        }
    rs_net_free(net);
    rs_dataset_free(ds);
}

static void test_accum_refuses_bad_batches(void **state) {
    (void)state;
    double x[2 * 6], y[2 * 6], z[2 * 6];
    for (int i = 0; i < 12; i++) x[i] = sin(i), y[i] = x[i] + 0.1 * cos(3 * i), z[i] = x[i] + 0.05 * sin(7 * i);
    rs_accum *a = NULL, *b = NULL;
    assert_int_equal(rs_accum_new(0, RS_EST_MEAN, 0, &a), RS_ERR_ARG);
    assert_int_equal(rs_accum_new(1, RS_EST_MEAN, 1, &a), RS_OK);
    assert_int_equal(rs_accum_new(1, RS_EST_MEAN, 1, &b), RS_OK);
    assert_int_equal(rs_accum_add(a, 0, 1, x, y, z, 2, 6, 2, 0), RS_OK);
    assert_int_equal(rs_accum_add(b, 0, 1, x, y, z, 2, 6, 2, 0), RS_OK);
    double nan_y[12];
    memcpy(nan_y, y, sizeof y);
    nan_y[7] = NAN;
    assert_int_equal(rs_accum_add(a, 0, 1, x, nan_y, z, 2, 6, 2, 0), RS_ERR_NUMERIC);
    assert_non_null(strstr(rs_last_error(), "deformed representation of image 1"));
    assert_int_equal(rs_accum_add(a, 0, 1, x, y, z, 2, 4, 2, 0), RS_ERR_ARG);  /* other size */
    assert_int_equal(rs_accum_add(a, 0, 0, x, y, z, 2, 6, 2, 0), RS_ERR_ARG);  /* other dtype */
    assert_int_equal(rs_accum_add(a, 0, 1, x, y, z, 0, 6, 2, 0), RS_ERR_ARG);  /* empty */
    assert_int_equal(rs_accum_add(a, 0, 1, x, y, z, 2, 6, 4, 0), RS_ERR_ARG);  /* 6 values, 4 channels */
    assert_int_equal(rs_accum_add(a, 1, 1, x, y, z, 2, 6, 2, 0), RS_ERR_ARG);  /* no node 1 */
    assert_int_equal(rs_accum_add(a, 0, 1, x, y, z, 2, 6, 2, 0), RS_OK);
    assert_int_equal(rs_accum_add(b, 0, 1, x, y, z, 2, 6, 2, 0), RS_OK);
    rs_sens ra, rb;
    assert_int_equal(rs_accum_result(a, 0, &ra), RS_OK);
    assert_int_equal(rs_accum_result(b, 0, &rb), RS_OK);
    assert_true(ra.D == rb.D && ra.G == rb.G && ra.deno == rb.deno && ra.D_se == rb.D_se);
    assert_int_equal(ra.neurons, 3);
    /* against the formulas: channel mean of (2, 3), then deno over the NP^2 pairs */
    double m[4][3], dsum = 0, dn = 0;
    for (int p = 0; p < 4; p++)
        for (int s = 0; s < 3; s++) m[p][s] = (x[(p % 2) * 6 + s] + x[(p % 2) * 6 + 3 + s]) / 2;
    for (int p = 0; p < 4; p++)
        for (int q = 0; q < 4; q++)
            for (int s = 0; s < 3; s++) dsum += (m[p][s] - m[q][s]) * (m[p][s] - m[q][s]);
    for (int p = 0; p < 2; p++)
        for (int s = 0; s < 3; s++) {
            double u = (y[p * 6 + s] + y[p * 6 + 3 + s]) / 2 - m[p][s];
            dn += u * u;
        }
    assert_true(fabs(ra.deno - (dsum / 16 + 1e-10)) <= 1e-13 * ra.deno);
    assert_true(fabs(ra.D_num - dn / 2) <= 1e-13 * ra.D_num);
    rs_accum_free(a), rs_accum_free(b);
    /* identical clean images: deno is the 1e-10 guard alone, flagged as rs_measure flags it */
    double same[12];
    for (int i = 0; i < 12; i++) same[i] = x[i % 6];
    assert_int_equal(rs_accum_new(1, RS_EST_MEAN, 0, &a), RS_OK);
    assert_int_equal(rs_accum_add(a, 0, 1, same, y, z, 2, 6, 1, 0), RS_OK);
    assert_int_equal(rs_accum_result(a, 0, &ra), RS_OK);
    assert_true(ra.deno == 1e-10);
    assert_int_equal(ra.flag, RS_SENS_ZERO_DENOMINATOR);
    rs_accum_free(a);
}

static void test_measure_kv(void **state) {
    (void)state;
    rs_dataset *ds = mt_open(mt_npy_data("capi-b", 16, 1, 28, 28, 0.0f, 43));
    rs_net *net = mt_lenet(4);
    rs_measure_opts o;
    rs_measure_opts_default(&o);
    o.P = 10, o.seed = 9, o.seeds = 2, o.delta = 1.5, o.batch = 100;
    int32_t *nodes = NULL, n = 0;
    assert_int_equal(rs_measure_parse_nodes(net, "conv1,relu_1,fc3", &nodes, &n), RS_OK);
    rs_measure_result r;
    assert_int_equal(rs_measure(net, ds, NULL, nodes, n, &o, &r), RS_OK);
    rs_sens rows[8];
    int32_t got = 0;
    double info[4];
    rs_status s = rs_measure_kv(net, ds, "conv1,relu_1,fc3", "P=10\nseed=9\nseeds=2\ndelta=1.5", rows, 8, &got, info);
    if (s) fail_msg("%s", rs_last_error());
    assert_int_equal(got, 3);
    for (int k = 0; k < 3; k++) {
        assert_string_equal(rows[k].name, r.rows[k].name);
        assert_true(rows[k].D == r.rows[k].D && rows[k].G == r.rows[k].G && rows[k].R_se == r.rows[k].R_se);
    }
    assert_true(info[0] == 10 && info[1] == r.T && info[3] == 10);
    assert_int_equal(rs_measure_kv(net, ds, NULL, "P=10\nbogus=1", rows, 8, &got, info), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "bogus"));
    assert_int_equal(rs_measure_kv(net, ds, NULL, "P=10\ndelta=1\nT=0.01", rows, 8, &got, info), RS_ERR_ARG);
    assert_int_equal(rs_measure_kv(net, ds, NULL, "P=10", rows, 2, &got, info), RS_ERR_ARG); /* 12 rows, room 2 */
    assert_int_equal(sizeof(rs_sens), rs_sens_size());
    rs_measure_result_free(&r);
    rs_free(nodes);
    rs_net_free(net);
    rs_dataset_free(ds);
}

static void test_diffeo_images_equal_dump(void **state) {
    (void)state;
    rs_dataset *ds = mt_open(mt_npy_data("capi-c", 12, 1, 28, 28, 0.0f, 45));
    rs_net *net = mt_lenet(5);
    const char *dir = tu_tmpdir("capi-c-dump");
    rs_measure_result r;
    measure_dumped(net, ds, RS_EST_MEAN, 0, dir, &r);
    rs_npy x = mt_read(dir, "probe"), xd = mt_read(dir, "deformed"), idx = mt_read(dir, "index");
    float *out = malloc(x.nbytes);
    rs_status s = rs_diffeo_images(out, NULL, x.data, NP, 1, 28, 28, idx.data, r.T, 3, RS_INTERP_LINEAR, 5, 0);
    if (s) fail_msg("%s", rs_last_error());
    assert_memory_equal(out, xd.data, x.nbytes);
    int64_t bad = -1;
    assert_int_equal(rs_diffeo_images(out, NULL, x.data, 1, 1, 28, 28, &bad, r.T, 3, 0, 5, 0), RS_ERR_ARG);
    assert_int_equal(rs_diffeo_images(out, NULL, x.data, 1, 1, 28, 28, idx.data, NAN, 3, 0, 5, 0), RS_ERR_ARG);
    assert_int_equal(rs_diffeo_images(out, NULL, x.data, 1, 1, 1, 28, idx.data, r.T, 3, 0, 5, 0), RS_ERR_ARG);
    free(out);
    rs_npy_free(&x), rs_npy_free(&xd), rs_npy_free(&idx);
    rs_measure_result_free(&r);
    rs_net_free(net);
    rs_dataset_free(ds);
}

static void test_net_access_and_build_kv(void **state) {
    (void)state;
    rs_net *a = mt_lenet(7), *b = NULL;
    rs_status s = rs_model_build_kv("lenet", "channels=1\nsize=28\nclasses=10", &b);
    if (s) fail_msg("%s", rs_last_error());
    assert_int_equal(rs_net_node_count(a), rs_net_node_count(b));
    for (int32_t i = 0; i < rs_net_node_count(a); i++) {
        int32_t da[4], db[4];
        assert_string_equal(rs_net_node_name(a, i), rs_net_node_name(b, i));
        assert_int_equal(rs_net_node_dims(a, i, da), RS_OK);
        assert_int_equal(rs_net_node_dims(b, i, db), RS_OK);
        assert_memory_equal(da, db, sizeof da);
    }
    assert_null(rs_net_node_name(a, -1));
    assert_int_equal(rs_net_has_params(b), 0);
    assert_int_equal(rs_net_built_batch(b), 0);
    rs_net_free(b);
    assert_int_equal(rs_model_build_kv("lenet", "chanels=1", &b), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "chanels"));
    assert_int_equal(rs_model_build_kv("lenet", "size=x", &b), RS_ERR_ARG);
    assert_int_equal(rs_model_build_kv("nosuchnet", "", &b), RS_ERR_ARG);
    /* taps: NCHW copy equals rs_net_tap_nchw, NHWC copy equals the raw tap */
    float tmp[1];
    assert_int_equal(rs_net_tap_copy(a, 1, 0, tmp, 1), RS_ERR_ARG); /* no forward yet */
    assert_int_equal(rs_net_build(a, 2, 0), RS_OK);
    float *x = tu_randn(2 * 28 * 28, 47);
    assert_int_equal(rs_net_forward(a, x, 2, RS_MODE_EVAL), RS_OK);
    int32_t k = rs_net_find(a, "conv1");
    int64_t n = 2 * rs_net_node_numel(a, k);
    float *u = malloc((size_t)n * sizeof(float)), *v = malloc((size_t)n * sizeof(float));
    assert_int_equal(rs_net_tap_copy(a, k, 0, u, n), RS_OK);
    rs_net_tap_nchw(a, k, v);
    assert_memory_equal(u, v, (size_t)n * sizeof(float));
    assert_int_equal(rs_net_tap_copy(a, k, 1, u, n), RS_OK);
    assert_memory_equal(u, rs_net_tap(a, k), (size_t)n * sizeof(float));
    assert_int_equal(rs_net_tap_copy(a, k, 1, u, n - 1), RS_ERR_ARG);
    free(u), free(v), rs_free(x);
    rs_net_free(a);
}

static void test_theory_table(void **state) {
    (void)state;
    rs_theory_config c = rs_theory_defaults();
    c.depth = 4, c.seed = 3;
    rs_theory_result r;
    assert_int_equal(rs_theory_run(&c, &r), RS_OK);
    double t[4 * RS_THEORY_COLUMNS];
    int32_t rows = 0;
    int64_t probes = 0;
    rs_status s = rs_theory_run_table("depth=4\nseed=3", t, 4, &rows, &probes);
    if (s) fail_msg("%s", rs_last_error());
    assert_int_equal(rows, 4);
    assert_int_equal(probes, r.n_probes);
    for (int i = 0; i < 4; i++) {
        assert_true(t[i * RS_THEORY_COLUMNS + 8] == r.layers[i].D && t[i * RS_THEORY_COLUMNS + 10] == r.layers[i].R);
        assert_true(t[i * RS_THEORY_COLUMNS + 2] == (double)r.layers[i].rf);
    }
    assert_int_equal(rs_theory_run_table("depth=5", t, 4, &rows, &probes), RS_ERR_ARG);
    assert_int_equal(rs_theory_run_table("padding=round", t, 4, &rows, &probes), RS_ERR_ARG);
    rs_theory_result_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accum_equals_measure),     cmocka_unit_test(test_accum_refuses_bad_batches),
        cmocka_unit_test(test_measure_kv),               cmocka_unit_test(test_diffeo_images_equal_dump),
        cmocka_unit_test(test_net_access_and_build_kv),  cmocka_unit_test(test_theory_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
