/* test_measure_io.c: the parts of a measurement around the estimator: probe sets, node lists, the perturbations it
 * chooses (local translations for the two scale-detection tasks, gaussian smoothing of the clean images, the
 * rectified and fixed-norm noises), the channel-mean representation, the result files (CSV with append, JSON),
 * the trainer's rs_measure_track, and the one-line errors. */
#include <cjson/cJSON.h>

#include "measure_testutil.h"

static void test_probe_sets(void **state) {
    (void)state;
    rs_dataset *ds = mt_open(mt_npy_data("io-a", 50, 1, 4, 4, 0.0f, 30));
    int64_t a[20], b[20], c[20];
    assert_int_equal(rs_probe_select(ds, 20, RS_PROBE_FIRST, 0, 0, a), RS_OK);
    for (int i = 0; i < 20; i++) assert_int_equal(a[i], i);
    assert_int_equal(rs_probe_select(ds, 20, RS_PROBE_SAMPLE, 3, 0, a), RS_OK);
    assert_int_equal(rs_probe_select(ds, 20, RS_PROBE_SAMPLE, 3, 0, b), RS_OK);
    assert_int_equal(rs_probe_select(ds, 20, RS_PROBE_SAMPLE, 3, 1, c), RS_OK);
    assert_memory_equal(a, b, sizeof a);
    assert_true(memcmp(a, c, sizeof a) != 0);
    for (int i = 0; i < 20; i++) {
        assert_true(a[i] >= 0 && a[i] < 50);
        if (i) assert_true(a[i] > a[i - 1]); /* sorted and distinct */
    }
    assert_int_equal(rs_probe_select(ds, 51, RS_PROBE_SAMPLE, 3, 0, a), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "larger than the 50 images"));
    rs_dataset_free(ds);
}

static void test_node_lists(void **state) {
    (void)state;
    rs_net *net = mt_lenet(1);
    int32_t n = 0, *nodes = NULL;
    assert_int_equal(rs_measure_parse_nodes(net, "all", &nodes, &n), RS_OK);
    assert_int_equal(n, net->n_nodes - 1);
    rs_free(nodes);
    assert_int_equal(rs_measure_parse_nodes(net, "fc3,x", &nodes, &n), RS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(nodes[1], 0);
    rs_free(nodes);
    assert_int_equal(rs_measure_parse_nodes(net, "conv1,nope", &nodes, &n), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "'nope' is no node name, node type or pattern"));
    assert_non_null(strstr(rs_last_error(), "max_pool2d_1"));
    assert_int_equal(rs_measure_parse_nodes(net, "relu,relu", &nodes, &n), RS_ERR_ARG);
    /* types, patterns, prefixes: the net's order within a token, duplicates across tokens skipped */
    assert_int_equal(rs_measure_parse_nodes(net, "fc3,type:relu,linear", &nodes, &n), RS_OK);
    const char *want[] = {"fc3", "relu", "relu_1", "relu_2", "relu_3", "fc1", "fc2"};
    assert_int_equal(n, 7);
    for (int32_t i = 0; i < n; i++) assert_string_equal(net->nodes[nodes[i]].name, want[i]);
    rs_free(nodes);
    assert_int_equal(rs_measure_parse_nodes(net, "*", &nodes, &n), RS_OK);
    assert_int_equal(n, net->n_nodes - 1); /* a pattern never matches the input */
    rs_free(nodes);
    assert_int_equal(rs_measure_parse_nodes(net, "type:input", &nodes, &n), RS_OK);
    assert_int_equal(n, 1);
    rs_free(nodes);
    assert_int_equal(rs_measure_parse_nodes(net, "conv*,", &nodes, &n), RS_OK); /* an empty token is skipped */
    assert_int_equal(n, 2);
    rs_free(nodes);
    assert_int_equal(rs_measure_parse_nodes(net, "type:", &nodes, &n), RS_ERR_ARG);
    assert_int_equal(rs_measure_parse_nodes(net, "[", &nodes, &n), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "pattern '['"));
    rs_net_free(net);
    /* over named items without types: names and patterns only */
    const char *names[3] = {"a.1", "a.2", "b"};
    assert_int_equal(rs_select_nodes(names, NULL, 3, "a.*", &nodes, &n), RS_OK);
    assert_int_equal(n, 2);
    rs_free(nodes);
    assert_int_equal(rs_select_nodes(names, NULL, 3, "relu", &nodes, &n), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "needs the nodes' types"));
}

/* Runs a measurement of node x of an input-only net on ds with the dump, returns the result; dir receives the
 * dump directory. */
static rs_measure_result measure_input(rs_dataset *ds, rs_measure_opts *o, const char **dir) {
    rs_net *net = rs_net_new(ds->channels, ds->height, ds->width);
    assert_int_equal(rs_net_build(net, 1, 0), RS_OK);
    int32_t x = 0;
    *dir = o->dump_dir = tu_tmpdir("io-dump");
    rs_measure_result r;
    rs_status s = rs_measure(net, ds, NULL, &x, 1, o, &r);
    if (s) fprintf(stderr, "%s\n", rs_last_error());
    assert_int_equal(s, RS_OK);
    rs_net_free(net);
    return r;
}

/* twopoints: each image's deformed version has the same pixels except the two active ones, each moved by at most
 * one pixel in each direction; D_num at x is the brute-force value. */
static void test_twopoints_translations(void **state) {
    (void)state;
    rs_dataset *ds = mt_open("twopoints:testsize=200");
    rs_measure_opts o;
    rs_measure_opts_default(&o);
    o.P = 40;
    const char *dir;
    rs_measure_result r = measure_input(ds, &o, &dir);
    assert_string_equal(r.move, "translate2d");
    assert_true(r.T == 0);
    rs_npy x = mt_read(dir, "probe"), xd = mt_read(dir, "deformed");
    const float *a = x.data, *b = xd.data;
    int moved_images = 0;
    for (int p = 0; p < 40; p++) {
        int changed = 0;
        for (int j = 0; j < 784; j++) changed += a[p * 784 + j] != b[p * 784 + j];
        assert_true(changed <= 4);
        moved_images += changed > 0;
        double sa = 0, sb = 0;
        for (int j = 0; j < 784; j++) sa += a[p * 784 + j], sb += b[p * 784 + j];
        assert_true(sa == sb); /* the two active values are moved, not changed */
    }
    assert_true(moved_images >= 30); /* a pixel stays only when clipped at the border */
    double *da = mt_to_double(a, 40 * 784), *db = mt_to_double(b, 40 * 784), d[40];
    mt_dist(d, da, db, 40, 784);
    mt_close(r.rows[0].D_num, mt_mean(d, 40), 1e-12, "twopoints D_num");
    mt_close(r.rows[0].deno, mt_deno_loop(da, 40, 784), 1e-12, "twopoints deno");
    rs_free(da), rs_free(db);
    rs_npy_free(&x), rs_npy_free(&xd);
    rs_measure_result_free(&r);
    /* the reference's convention: nearest interpolation on twopoints means the diffeo with nearest remap */
    o.interp = RS_INTERP_NEAREST, o.P = 5;
    r = measure_input(ds, &o, &dir);
    assert_string_equal(r.move, "diffeo");
    rs_measure_result_free(&r);
    rs_dataset_free(ds);
}

/* scale1d: the active pixels move by at most one site and stay in their block of size xi = 32. */
static void test_scale1d_moves(void **state) {
    (void)state;
    rs_dataset *ds = mt_open("scale1d");
    rs_measure_opts o;
    rs_measure_opts_default(&o);
    o.P = 60;
    const char *dir;
    rs_measure_result r = measure_input(ds, &o, &dir);
    assert_string_equal(r.move, "translate1d");
    rs_npy x = mt_read(dir, "probe"), xd = mt_read(dir, "deformed");
    const float *a = x.data, *b = xd.data;
    for (int p = 0; p < 60; p++) {
        int pa[2], pb[2], na = 0, nb = 0;
        for (int j = 0; j < 128; j++) {
            if (a[p * 128 + j] > 0 && na < 2) pa[na++] = j;
            if (b[p * 128 + j] > 0 && nb < 2) pb[nb++] = j;
        }
        assert_int_equal(na, 2);
        if (nb == 1) pb[1] = pb[0]; /* both on one site */
        for (int k = 0; k < 2; k++) {
            int best = 1000;
            for (int m = 0; m < 2; m++)
                if (pb[m] / 32 == pa[k] / 32) best = abs(pb[m] - pa[k]) < best ? abs(pb[m] - pa[k]) : best;
            assert_true(best <= 1);
        }
    }
    rs_npy_free(&x), rs_npy_free(&xd);
    rs_measure_result_free(&r);
    rs_dataset_free(ds);
}

/* Gaussian interpolation smooths the clean images (SPEC 11.1); the rectified noise is non-negative and made for
 * the whole probe set (so the same for any batch); norm=X noise has norm X per image. */
static void test_interp_and_noises(void **state) {
    (void)state;
    rs_dataset *ds = mt_open(mt_npy_data("io-b", 40, 2, 9, 9, 0.0f, 31));
    rs_measure_opts o;
    rs_measure_opts_default(&o);
    o.P = 20, o.interp = RS_INTERP_GAUSSIAN;
    const char *dir;
    rs_measure_result r = measure_input(ds, &o, &dir);
    rs_npy raw = mt_read(dir, "raw"), probe = mt_read(dir, "probe");
    float *sm = rs_alloc(20 * 162 * sizeof(float));
    assert_int_equal(rs_gaussian_smooth_batch(sm, raw.data, 20, 2, 9, 9), RS_OK);
    assert_memory_equal(sm, probe.data, 20 * 162 * sizeof(float));
    rs_free(sm), rs_npy_free(&raw), rs_npy_free(&probe), rs_measure_result_free(&r);
    /* rectified: x + ReLU(sigma z) >= x, and the same inputs for batches of 3 and 20 */
    rs_measure_opts_default(&o);
    o.P = 20, o.noise = RS_NOISE_RECTIFIED, o.batch = 3;
    const char *d3, *d20;
    r = measure_input(ds, &o, &d3);
    rs_measure_result_free(&r);
    o.batch = 20;
    r = measure_input(ds, &o, &d20);
    rs_npy n3 = mt_read(d3, "noisy"), n20 = mt_read(d20, "noisy"), px = mt_read(d20, "probe");
    assert_memory_equal(n3.data, n20.data, n20.nbytes);
    int positive = 0;
    for (int i = 0; i < 20 * 162; i++) {
        float e = ((float *)n20.data)[i] - ((float *)px.data)[i];
        assert_true(e >= 0);
        positive += e > 0;
    }
    assert_true(positive > 20 * 162 / 3); /* about half of ReLU(sigma z) is > 0 */
    rs_npy_free(&n3), rs_npy_free(&n20), rs_npy_free(&px), rs_measure_result_free(&r);
    /* norm=0.25: ||x + eta - x|| = 0.25 to float rounding (|x| ~ 1: 162 roundings of 6e-8) */
    rs_measure_opts_default(&o);
    o.P = 20, o.noise = RS_NOISE_NORM, o.noise_norm = 0.25;
    r = measure_input(ds, &o, &d20);
    rs_npy nn = mt_read(d20, "noisy"), p2 = mt_read(d20, "probe");
    for (int p = 0; p < 20; p++) {
        double s = 0;
        for (int j = 0; j < 162; j++) s += pow((double)((float *)nn.data)[p * 162 + j] - ((float *)p2.data)[p * 162 + j], 2);
        mt_close(sqrt(s), 0.25, 1e-5, "norm=X noise");
    }
    rs_npy_free(&nn), rs_npy_free(&p2), rs_measure_result_free(&r);
    rs_dataset_free(ds);
}

/* The channel mean of node x: deno and D_num against brute force on the channel means (computed here in double;
 * the measurement rounds each mean to float once: 6e-8 relative, hence 1e-6). */
static void test_channel_mean(void **state) {
    (void)state;
    rs_dataset *ds = mt_open(mt_npy_data("io-c", 40, 3, 6, 6, 0.2f, 32));
    rs_measure_opts o;
    rs_measure_opts_default(&o);
    o.P = 25, o.channel_mean = 1;
    const char *dir;
    rs_measure_result r = measure_input(ds, &o, &dir);
    assert_int_equal(r.rows[0].neurons, 36);
    rs_npy x = mt_read(dir, "probe"), xd = mt_read(dir, "deformed");
    double m[25 * 36], md[25 * 36], d[25];
    for (int p = 0; p < 25; p++)
        for (int j = 0; j < 36; j++) {
            m[p * 36 + j] = md[p * 36 + j] = 0;
            for (int c = 0; c < 3; c++) {
                m[p * 36 + j] += ((float *)x.data)[(p * 3 + c) * 36 + j] / 3.0;
                md[p * 36 + j] += ((float *)xd.data)[(p * 3 + c) * 36 + j] / 3.0;
            }
        }
    mt_dist(d, m, md, 25, 36);
    mt_close(r.rows[0].deno, mt_deno_loop(m, 25, 36), 1e-6, "channel-mean deno");
    mt_close(r.rows[0].D_num, mt_mean(d, 25), 1e-5, "channel-mean D_num"); /* differences of means: 10x */
    rs_npy_free(&x), rs_npy_free(&xd), rs_measure_result_free(&r);
    rs_dataset_free(ds);
}

/* The CSV: a header, one row per node, append keeps the header once, a foreign file is refused, fields with
 * commas are quoted; the JSON parses and holds null for a NaN; rs_measure_track appends the epoch. */
static void test_result_files(void **state) {
    (void)state;
    const char *spec = mt_npy_data("io-d", 40, 1, 28, 28, 0.0f, 33);
    rs_dataset *ds = mt_open(spec);
    rs_net *net = mt_lenet(2);
    rs_measure_opts o;
    rs_measure_opts_default(&o);
    o.P = 12;
    int64_t probe[12];
    assert_int_equal(rs_probe_select(ds, 12, RS_PROBE_SAMPLE, 0, 0, probe), RS_OK);
    const char *dir = tu_tmpdir("io-files");
    char csv[1024], js[1024];
    snprintf(csv, sizeof csv, "%s/sens.csv", dir);
    snprintf(js, sizeof js, "%s/r.json", dir);
    rs_measure_tags t = {.model = "lenet", .data = "a,b", .checkpoint = "init", .epoch = 0};
    assert_int_equal(rs_measure_track(net, ds, probe, &o, &t, csv), RS_OK);
    t.epoch = 1;
    assert_int_equal(rs_measure_track(net, ds, probe, &o, &t, csv), RS_OK);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(rs_read_file(csv, (void **)&text, &len, 0), RS_OK);
    int lines = 0, headers = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    for (const char *p = text; (p = strstr(p, "node,op,neurons")); p++) headers++;
    assert_int_equal(lines, 1 + 2 * 12);
    assert_int_equal(headers, 1);
    assert_non_null(strstr(text, ",\"a,b\","));
    assert_non_null(strstr(text, "\nfc3,linear,10,"));
    rs_free(text);
    assert_int_equal(rs_write_file_atomic(csv, "a,b\n1,2\n", 8), RS_OK);
    assert_int_equal(rs_measure_track(net, ds, probe, &o, &t, csv), RS_ERR_FORMAT);
    /* JSON: the median estimator has NaN standard errors, written as null */
    o.estimator = RS_EST_MEDIAN;
    rs_measure_result r;
    assert_int_equal(rs_measure(net, ds, probe, NULL, 0, &o, &r), RS_OK);
    assert_int_equal(rs_measure_write_json(js, &r, &o, &t), RS_OK);
    assert_int_equal(rs_read_file(js, (void **)&text, &len, 0), RS_OK);
    cJSON *root = cJSON_ParseWithLength(text, len);
    assert_non_null(root);
    cJSON *nodes = cJSON_GetObjectItem(root, "nodes");
    assert_int_equal(cJSON_GetArraySize(nodes), 12);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(nodes, 0), "D_se")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetArrayItem(nodes, 0), "D")));
    cJSON_Delete(root);
    rs_free(text);
    rs_measure_result_free(&r);
    rs_net_free(net);
    rs_dataset_free(ds);
}

static void test_errors(void **state) {
    (void)state;
    rs_dataset *ds = mt_open(mt_npy_data("io-e", 20, 3, 8, 8, 0.0f, 34));
    rs_net *net = mt_lenet(1); /* takes 1 x 28 x 28 */
    rs_measure_opts o;
    rs_measure_opts_default(&o);
    o.P = 10;
    rs_measure_result r;
    assert_int_equal(rs_measure(net, ds, NULL, NULL, 0, &o, &r), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "1x28x28"));
    rs_net_free(net);
    net = rs_net_new(3, 8, 8);
    assert_int_equal(rs_net_build(net, 1, 0), RS_OK);
    int32_t x = 0;
    o.probe = RS_PROBE_FIRST, o.resample = 1, o.seeds = 2;
    assert_int_equal(rs_measure(net, ds, NULL, &x, 1, &o, &r), RS_ERR_ARG);
    rs_measure_opts_default(&o);
    o.P = 10, o.move = RS_MOVE_TRANSLATE;
    assert_int_equal(rs_measure(net, ds, NULL, &x, 1, &o, &r), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "scale-detection task"));
    rs_noise_kind k;
    double v;
    assert_int_equal(rs_noise_parse("norm=-1", &k, &v), RS_ERR_ARG);
    assert_int_equal(rs_noise_parse("norm=2.5", &k, &v), RS_OK);
    assert_true(k == RS_NOISE_NORM && v == 2.5);
    rs_net_free(net);
    rs_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_sets),        cmocka_unit_test(test_node_lists),
        cmocka_unit_test(test_twopoints_translations), cmocka_unit_test(test_scale1d_moves),
        cmocka_unit_test(test_interp_and_noises), cmocka_unit_test(test_channel_mean),
        cmocka_unit_test(test_result_files),      cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
