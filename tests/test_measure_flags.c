/* test_measure_flags.c: degenerate measurements are reported, never silent: all-zero weights (constant
 * representations: the denominator is the 1e-10 guard alone), a NaN weight (NaN from that node on), no perturbation
 * (delta 0: G = 0, R undefined); the flags reach the CSV and JSON; P below the estimator's minimum is refused. */
#include "measure_testutil.h"

static rs_measure_opts opts(int64_t P) {
    rs_measure_opts o;
    rs_measure_opts_default(&o);
    o.P = P;
    o.probe = RS_PROBE_FIRST;
    o.mode = RS_MODE_EVAL;
    return o;
}

static char *slurp(const char *path) {
    void *buf = NULL;
    size_t len = 0;
    assert_int_equal(rs_read_file(path, &buf, &len, 1 << 24), RS_OK);
    char *s = rs_alloc(len + 1);
    memcpy(s, buf, len);
    s[len] = 0;
    rs_free(buf);
    return s;
}

static void test_zero_weights(void **state) {
    (void)state;
    rs_dataset *ds = mt_open(mt_npy_data("flags0", 12, 1, 28, 28, 0.f, 1));
    rs_net *net = mt_lenet(3);
    memset(net->params.data, 0, net->params.total * sizeof(float));
    rs_measure_opts o = opts(6);
    rs_measure_result r;
    assert_int_equal(rs_measure(net, ds, NULL, NULL, 0, &o, &r), RS_OK);
    assert_int_equal(r.n_flagged, r.n_nodes);
    for (int32_t k = 0; k < r.n_nodes; k++) assert_int_equal(r.rows[k].flag, RS_SENS_ZERO_DENOMINATOR);
    char path[1100];
    snprintf(path, sizeof path, "%s/z.csv", tu_tmpdir("flags0"));
    assert_int_equal(rs_measure_write_csv(path, &r, &o, NULL, 0), RS_OK);
    char *csv = slurp(path);
    assert_non_null(strstr(csv, ",seed,aliased,flag\n"));
    assert_non_null(strstr(csv, ",zero_denominator\n"));
    assert_null(strstr(csv, ",ok\n"));
    rs_free(csv);
    snprintf(path, sizeof path, "%s/z.json", tu_tmpdir("flags0"));
    assert_int_equal(rs_measure_write_json(path, &r, &o, NULL), RS_OK);
    char *js = slurp(path);
    assert_non_null(strstr(js, "\"flag\":\t\"zero_denominator\""));
    rs_free(js);
    rs_measure_result_free(&r);
    rs_net_free(net);
    rs_dataset_free(ds);
}

static void test_nan_weight(void **state) {
    (void)state;
    rs_dataset *ds = mt_open(mt_npy_data("flagsn", 12, 1, 28, 28, 0.f, 2));
    rs_net *net = mt_lenet(3);
    int32_t b = rs_params_find(&net->params, "fc3.bias");
    assert_true(b >= 0);
    rs_param_data(&net->params, b)[0] = NAN;
    rs_measure_opts o = opts(6);
    rs_measure_result r;
    assert_int_equal(rs_measure(net, ds, NULL, NULL, 0, &o, &r), RS_OK);
    assert_int_equal(r.n_flagged, 1);
    for (int32_t k = 0; k < r.n_nodes; k++)
        assert_int_equal(r.rows[k].flag, !strcmp(r.rows[k].name, "fc3") ? RS_SENS_NAN : RS_SENS_OK);
    char path[1100];
    snprintf(path, sizeof path, "%s/n.csv", tu_tmpdir("flagsn"));
    assert_int_equal(rs_measure_write_csv(path, &r, &o, NULL, 0), RS_OK);
    char *csv = slurp(path);
    assert_non_null(strstr(csv, ",nan\n"));
    assert_non_null(strstr(csv, "\nconv1,"));
    rs_free(csv);
    rs_measure_result_free(&r);
    /* several draws: the combined row takes the worst flag */
    o.seeds = 3;
    assert_int_equal(rs_measure(net, ds, NULL, NULL, 0, &o, &r), RS_OK);
    assert_int_equal(r.n_flagged, 1);
    rs_measure_result_free(&r);
    rs_net_free(net);
    rs_dataset_free(ds);
}

static void test_no_perturbation(void **state) {
    (void)state;
    rs_dataset *ds = mt_open(mt_npy_data("flagsd", 12, 1, 28, 28, 0.f, 3));
    rs_net *net = mt_lenet(4);
    rs_measure_opts o = opts(6);
    o.move = RS_MOVE_DIFFEO;
    o.delta = 0;
    rs_measure_result r;
    assert_int_equal(rs_measure(net, ds, NULL, NULL, 0, &o, &r), RS_OK);
    assert_int_equal(r.n_flagged, r.n_nodes);
    for (int32_t k = 0; k < r.n_nodes; k++) {
        assert_int_equal(r.rows[k].flag, RS_SENS_ZERO_DENOMINATOR);
        assert_true(r.rows[k].deno > 1e-9); /* the images differ: the denominator is fine, G is 0 */
    }
    rs_measure_result_free(&r);
    rs_net_free(net);
    rs_dataset_free(ds);
}

static void test_minimum_P(void **state) {
    (void)state;
    rs_dataset *ds = mt_open(mt_npy_data("flagsp", 12, 1, 28, 28, 0.f, 4));
    rs_net *net = mt_lenet(5);
    rs_measure_result r;
    rs_measure_opts o = opts(1);
    assert_int_equal(rs_measure(net, ds, NULL, NULL, 0, &o, &r), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "P >= 2"));
    o = opts(2);
    o.estimator = RS_EST_MEDIAN;
    assert_int_equal(rs_measure(net, ds, NULL, NULL, 0, &o, &r), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "P >= 3"));
    o = opts(3);
    o.estimator = RS_EST_MEDIAN;
    assert_int_equal(rs_measure(net, ds, NULL, NULL, 0, &o, &r), RS_OK);
    assert_int_equal(r.n_flagged, 0);
    rs_measure_result_free(&r);
    o = opts(2);
    assert_int_equal(rs_measure(net, ds, NULL, NULL, 0, &o, &r), RS_OK);
    assert_int_equal(r.n_flagged, 0);
    rs_measure_result_free(&r);
    rs_net_free(net);
    rs_dataset_free(ds);
}

/* A sens.csv written before the aliased and flag columns is extended on append, not refused. */
static void test_append_older_csv(void **state) {
    (void)state;
    rs_dataset *ds = mt_open(mt_npy_data("flagsv1", 12, 1, 28, 28, 0.f, 6));
    rs_net *net = mt_lenet(5);
    rs_measure_opts o = opts(4);
    rs_measure_result r;
    int32_t node = rs_net_find(net, "fc3");
    assert_int_equal(rs_measure(net, ds, NULL, &node, 1, &o, &r), RS_OK);
    char path[1100];
    snprintf(path, sizeof path, "%s/sens.csv", tu_tmpdir("flagsv1"));
    const char old[] = "node,op,neurons,D,G,R,D_se,G_se,R_se,D_num,G_num,deno,P,seeds,perturbation,T,delta,cut,interp,"
                       "noise,estimator,mode,checkpoint,epoch,shuffle,channel_mean,model,data,seed\n"
                       "fc3,linear,10,1,1,1,0,0,0,1,1,1,4,1,diffeo,0.001,1,3,linear,matched,mean,init,init,0,0,0,lenet,x,0\n";
    assert_int_equal(rs_write_file_atomic(path, old, sizeof old - 1), RS_OK);
    assert_int_equal(rs_measure_write_csv(path, &r, &o, NULL, 1), RS_OK);
    char *csv = slurp(path);
    assert_non_null(strstr(csv, ",seed,aliased,flag\nfc3,linear,10,1,1,1,"));
    assert_non_null(strstr(csv, ",lenet,x,0,0,\nfc3,"));
    assert_non_null(strstr(csv, ",0,ok\n"));
    rs_free(csv);
    /* a file with other columns is still refused */
    assert_int_equal(rs_write_file_atomic(path, "a,b\n1,2\n", 8), RS_OK);
    assert_int_equal(rs_measure_write_csv(path, &r, &o, NULL, 1), RS_ERR_FORMAT);
    rs_measure_result_free(&r);
    rs_net_free(net);
    rs_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero_weights), cmocka_unit_test(test_nan_weight), cmocka_unit_test(test_no_perturbation),
        cmocka_unit_test(test_minimum_P), cmocka_unit_test(test_append_older_csv)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
