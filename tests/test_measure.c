/* test_measure.c: the mean estimator of D, G, R (SPEC 11.2) against brute force: the no-loop denominator against
 * the explicit P^2 loop, the numerators against the dumped inputs, D = G and R = 1 when the noise is the diffeo,
 * linear maps (a scale leaves D unchanged; a linear layer gives the computed value), the standard errors, the
 * combination of several draws, and the invariance to the thread count and the batch size. */
#include "measure_testutil.h"

#include "measure/measure_internal.h"

/* Brute-force D_num, G_num, deno and standard errors of a representation given per image (double). */
typedef struct {
    double D_num, G_num, deno, D_se, G_se, R_se;
    double R_se_tol; /* relative accuracy of R_se: its variance terms cancel (see brute_force) */
} brute;

static brute brute_force(const double *a, const double *ad, const double *an, int64_t P, int64_t N) {
    brute b;
    double *d = rs_alloc((size_t)P * sizeof(double)), *g = rs_alloc((size_t)P * sizeof(double));
    mt_dist(d, a, ad, P, N);
    mt_dist(g, a, an, P, N);
    b.D_num = mt_mean(d, P), b.G_num = mt_mean(g, P), b.deno = mt_deno_loop(a, P, N);
    double vd = 0, vg = 0, c = 0;
    for (int64_t p = 0; p < P; p++) {
        vd += (d[p] - b.D_num) * (d[p] - b.D_num);
        vg += (g[p] - b.G_num) * (g[p] - b.G_num);
        c += (d[p] - b.D_num) * (g[p] - b.G_num);
    }
    vd /= (double)(P - 1) * P, vg /= (double)(P - 1) * P, c /= (double)(P - 1) * P;
    b.D_se = sqrt(vd) / b.deno, b.G_se = sqrt(vg) / b.deno;
    double R = b.D_num / b.G_num, terms = vd / (b.D_num * b.D_num) + vg / (b.G_num * b.G_num);
    double rel = terms - 2 * c / (b.D_num * b.G_num);
    b.R_se = R * sqrt(rel);
    /* the variance terms are each accurate to ~1e-12 relative (sums of P double terms computed in two different
     * orders); when d_p ~ g_p (matched noise at the input node) they nearly cancel, and the relative accuracy of
     * rel, hence twice that of R_se, degrades by terms / rel */
    b.R_se_tol = 1e-12 * terms / rel;
    rs_free(d), rs_free(g);
    return b;
}

/* Node x of an input-only net: everything is a formula of the dumped inputs. Large offset (1000) and unit spread:
 * the one-pass sum-of-squares formula would lose ~1e6 x 1e-16 = 1e-10 relative; Welford keeps ~1e-15. The bound
 * 1e-12 leaves room for P x N = 37 x 192 double roundings in each sum. */
static void test_input_node_brute_force(void **state) {
    (void)state;
    const char *spec = mt_npy_data("meas-a", 60, 3, 8, 8, 1000.0f, 1);
    rs_dataset *ds = mt_open(spec);
    rs_net *net = rs_net_new(3, 8, 8);
    assert_int_equal(rs_net_build(net, 1, 0), RS_OK);
    int32_t nn, *nodes = mt_nodes(net, "x", &nn);
    rs_measure_opts o;
    rs_measure_opts_default(&o);
    o.P = 37, o.batch = 5, o.seed = 7;
    o.dump_dir = tu_tmpdir("meas-a-dump");
    rs_measure_result r;
    assert_int_equal(rs_measure(net, ds, NULL, nodes, nn, &o, &r), RS_OK);
    assert_string_equal(r.move, "diffeo");
    mt_close(r.T, 4.0 / (M_PI * 64 * log(3.0)), 1e-15, "T(delta = 1, n = 8, c = 3)");
    rs_npy x = mt_read(o.dump_dir, "probe"), xd = mt_read(o.dump_dir, "deformed"), xn = mt_read(o.dump_dir, "noisy");
    assert_int_equal(x.shape[0], 37);
    int64_t N = 192;
    double *a = mt_to_double(x.data, 37 * N), *ad = mt_to_double(xd.data, 37 * N), *an = mt_to_double(xn.data, 37 * N);
    brute b = brute_force(a, ad, an, 37, N);
    const rs_sens *q = &r.rows[0];
    mt_close(q->deno, b.deno, 1e-12, "deno");
    mt_close(q->D_num, b.D_num, 1e-12, "D_num");
    mt_close(q->G_num, b.G_num, 1e-12, "G_num");
    mt_close(q->D, b.D_num / b.deno, 1e-12, "D");
    mt_close(q->R, b.D_num / b.G_num, 1e-12, "R");
    mt_close(q->D_se, b.D_se, 1e-9, "D_se");
    mt_close(q->G_se, b.G_se, 1e-9, "G_se");
    mt_close(q->R_se, b.R_se, b.R_se_tol, "R_se");
    /* the matched noise has the displacement's norm image by image */
    for (int p = 0; p < 37; p++) {
        double dn = 0, nn2 = 0;
        for (int64_t j = 0; j < N; j++) {
            dn += (ad[p * N + j] - a[p * N + j]) * (ad[p * N + j] - a[p * N + j]);
            nn2 += (an[p * N + j] - a[p * N + j]) * (an[p * N + j] - a[p * N + j]);
        }
        mt_close(nn2, dn, 1e-3, "noise norm"); /* x + eta is rounded to float around |x| = 1000: 6e-5 abs per entry */
    }
    rs_npy_free(&x), rs_npy_free(&xd), rs_npy_free(&xn);
    rs_free(a), rs_free(ad), rs_free(an), rs_free(nodes);
    rs_measure_result_free(&r);
    rs_net_free(net);
    rs_dataset_free(ds);
}

/* With the "noise" replaced by the diffeo, the two numerators are the same numbers: D = G, R = 1, R_se = 0 exactly
 * at every node; at the input node D is the brute-force value. */
static void test_noise_is_diffeo(void **state) {
    (void)state;
    rs_dataset *ds = mt_open(mt_npy_data("meas-b", 40, 1, 28, 28, 0.0f, 2));
    rs_net *net = mt_lenet(3);
    int32_t nn, *nodes = mt_nodes(net, "x,conv1,relu,max_pool2d,fc1,fc3", &nn);
    rs_measure_opts o;
    rs_measure_opts_default(&o);
    o.P = 24, o.batch = 10, o.noise = RS_NOISE_DIFFEO, o.mode = RS_MODE_INIT_EVAL;
    o.dump_dir = tu_tmpdir("meas-b-dump");
    rs_measure_result r;
    assert_int_equal(rs_measure(net, ds, NULL, nodes, nn, &o, &r), RS_OK);
    for (int32_t k = 0; k < nn; k++) {
        const rs_sens *q = &r.rows[k];
        assert_true(q->D > 0);
        assert_true(q->D == q->G);
        assert_true(q->D_num == q->G_num);
        assert_true(q->R == 1.0);
        assert_true(q->R_se == 0.0);
    }
    rs_npy x = mt_read(o.dump_dir, "probe"), xd = mt_read(o.dump_dir, "deformed");
    double *a = mt_to_double(x.data, 24 * 784), *ad = mt_to_double(xd.data, 24 * 784);
    brute b = brute_force(a, ad, ad, 24, 784);
    mt_close(r.rows[0].D, b.D_num / b.deno, 1e-12, "D at x");
    rs_npy_free(&x), rs_npy_free(&xd);
    rs_free(a), rs_free(ad), rs_free(nodes);
    rs_measure_result_free(&r);
    rs_net_free(net);
    rs_dataset_free(ds);
}

/* x -> 3 x -> flatten -> W . + b. D is scale-free: D(scale) = D(x) and D_num(scale) = 9 D_num(x), to the float
 * rounding of 3x (one rounding per value: 2^-24 relative, so 1e-6 bounds the ratios). The linear layer gives the
 * value computed here in double from the dumped inputs and the weights; its float sums over 72 terms have relative
 * errors ~72 x 6e-8 of the terms, about 1e-5 of the output differences (which are not much smaller than the
 * outputs at delta = 1): 1e-4. */
static void test_linear_maps(void **state) {
    (void)state;
    rs_dataset *ds = mt_open(mt_npy_data("meas-c", 50, 2, 6, 6, 0.5f, 3));
    rs_net *net = rs_net_new(2, 6, 6);
    int32_t s = rs_net_scale(net, "scale", 0, 3.0f);
    int32_t f = rs_net_flatten(net, "flat", s);
    rs_net_linear(net, "fc", f, 5, 1);
    assert_int_equal(rs_net_build(net, 4, 0), RS_OK);
    rs_net_init(net, 11);
    rs_measure_opts o;
    rs_measure_opts_default(&o);
    o.P = 30, o.batch = 8, o.probe = RS_PROBE_FIRST;
    o.dump_dir = tu_tmpdir("meas-c-dump");
    rs_measure_result r;
    assert_int_equal(rs_measure(net, ds, NULL, NULL, 0, &o, &r), RS_OK); /* default nodes: scale, flat, fc */
    assert_int_equal(r.n_nodes, 3);
    assert_string_equal(r.rows[0].name, "scale");
    rs_measure_result rx;
    int32_t input_node = 0;
    assert_int_equal(rs_measure(net, ds, NULL, &input_node, 1, &o, &rx), RS_OK);
    mt_close(r.rows[0].D, rx.rows[0].D, 1e-6, "D(3x) = D(x)");
    mt_close(r.rows[0].G, rx.rows[0].G, 1e-6, "G(3x) = G(x)");
    mt_close(r.rows[0].D_num, 9 * rx.rows[0].D_num, 1e-6, "D_num(3x) = 9 D_num(x)");
    mt_close(r.rows[1].D, r.rows[0].D, 1e-12, "flatten keeps D");
    /* the linear layer in double */
    rs_npy x = mt_read(o.dump_dir, "probe"), xd = mt_read(o.dump_dir, "deformed"), xn = mt_read(o.dump_dir, "noisy");
    const float *W = rs_param_data(&net->params, rs_params_find(&net->params, "fc.weight")); // (5, 72)
    const float *B = rs_param_data(&net->params, rs_params_find(&net->params, "fc.bias"));
    double *y[3];
    const float *in[3] = {x.data, xd.data, xn.data};
    for (int t = 0; t < 3; t++) {
        y[t] = rs_alloc(30 * 5 * sizeof(double));
        for (int p = 0; p < 30; p++)
            for (int i = 0; i < 5; i++) {
                double acc = B[i];
                for (int j = 0; j < 72; j++) acc += (double)W[i * 72 + j] * 3.0 * in[t][p * 72 + j];
                y[t][p * 5 + i] = acc;
            }
    }
    brute b = brute_force(y[0], y[1], y[2], 30, 5);
    mt_close(r.rows[2].deno, b.deno, 1e-4, "fc deno");
    mt_close(r.rows[2].D_num, b.D_num, 1e-4, "fc D_num");
    mt_close(r.rows[2].G_num, b.G_num, 1e-4, "fc G_num");
    for (int t = 0; t < 3; t++) rs_free(y[t]);
    rs_npy_free(&x), rs_npy_free(&xd), rs_npy_free(&xn);
    rs_measure_result_free(&r);
    rs_measure_result_free(&rx);
    rs_net_free(net);
    rs_dataset_free(ds);
}

/* K draws: draw s is the single-draw measurement with repeat s (bit for bit: same inputs, same batches), and the
 * combined values are the geometric means with the standard error of the mean of logs. */
static void test_seeds_combined(void **state) {
    (void)state;
    rs_dataset *ds = mt_open(mt_npy_data("meas-d", 30, 1, 28, 28, 0.0f, 4));
    rs_net *net = mt_lenet(5);
    rs_measure_opts o;
    rs_measure_opts_default(&o);
    o.P = 20, o.batch = 20, o.seeds = 3;
    rs_measure_result r, r1;
    assert_int_equal(rs_measure(net, ds, NULL, NULL, 0, &o, &r), RS_OK);
    o.seeds = 1;
    assert_int_equal(rs_measure(net, ds, NULL, NULL, 0, &o, &r1), RS_OK);
    int32_t nn = r.n_nodes;
    for (int32_t k = 0; k < nn; k++) {
        assert_true(r.per_seed[k].D == r1.rows[k].D && r.per_seed[k].G == r1.rows[k].G);
        double lD = 0, lR = 0, lD2 = 0;
        for (int s = 0; s < 3; s++) lD += log(r.per_seed[s * nn + k].D) / 3, lR += log(r.per_seed[s * nn + k].R) / 3;
        for (int s = 0; s < 3; s++) lD2 += pow(log(r.per_seed[s * nn + k].D) - lD, 2);
        mt_close(r.rows[k].D, exp(lD), 1e-14, "geometric mean of D");
        mt_close(r.rows[k].R, exp(lR), 1e-14, "geometric mean of R");
        mt_close(r.rows[k].R, r.rows[k].D / r.rows[k].G, 1e-13, "R = D / G after combining");
        mt_close(r.rows[k].D_se, exp(lD) * sqrt(lD2 / 2 / 3), 1e-12, "D_se over draws");
        assert_true(r.per_seed[nn + k].D != r.per_seed[k].D); /* independent draws */
    }
    /* resampled probe sets: draw 0 is again the same measurement */
    o.seeds = 2, o.resample = 1;
    rs_measure_result r2;
    assert_int_equal(rs_measure(net, ds, NULL, NULL, 0, &o, &r2), RS_OK);
    assert_true(r2.per_seed[0].D == r1.rows[0].D);
    assert_true(r2.per_seed[nn].deno != r1.rows[0].deno);
    rs_measure_result_free(&r), rs_measure_result_free(&r1), rs_measure_result_free(&r2);
    rs_net_free(net);
    rs_dataset_free(ds);
}

/* Thread count and batch size: the inputs are bit-identical (batch 7 vs the whole set at once), and D, G, R agree
 * to the float rounding of the net's kernels. Bound: an activation's relative rounding error is ~ depth x
 * sqrt(fan-in) x 6e-8 ~ 5 x 20 x 6e-8 = 6e-6; a numerator is a squared difference a' - a, amplified by |a| / |a' - a|
 * (~ 3 at delta = 1 pixel): ~4e-5, hence 1e-4 on D, G, R. (Measured differences are reported on failure.) */
static void test_threads_and_batches(void **state) {
    (void)state;
    rs_dataset *ds = mt_open(mt_npy_data("meas-e", 120, 1, 28, 28, 0.0f, 6));
    rs_net *net = mt_lenet(7);
    rs_measure_opts o;
    rs_measure_opts_default(&o);
    o.P = 100, o.seeds = 2;
    /* inputs: batch mode with 7 images per batch against the whole set */
    int64_t probe[100];
    assert_int_equal(rs_probe_select(ds, 100, RS_PROBE_SAMPLE, 0, 0, probe), RS_OK);
    uint32_t reps[2] = {0, 1};
    gen g7, gall;
    assert_int_equal(gen_init(&g7, ds, &o, 7), RS_OK);
    assert_int_equal(gen_init(&gall, ds, &o, 64), RS_OK);
    assert_int_equal(gen_start(&g7, probe, 100, reps, 2, 0), RS_OK);
    assert_int_equal(gen_start(&gall, probe, 100, reps, 2, 1), RS_OK);
    for (int64_t p0 = 0; p0 < 100; p0 += 7) {
        int32_t n = p0 + 7 <= 100 ? 7 : (int32_t)(100 - p0);
        const float *x, *xd[2], *xn[2], *y, *yd[2], *yn[2];
        assert_int_equal(gen_batch(&g7, p0, n, &x, xd, xn), RS_OK);
        assert_int_equal(gen_batch(&gall, p0, n, &y, yd, yn), RS_OK);
        size_t bytes = (size_t)n * 784 * sizeof(float);
        assert_memory_equal(x, y, bytes);
        for (int s = 0; s < 2; s++) assert_memory_equal(xd[s], yd[s], bytes), assert_memory_equal(xn[s], yn[s], bytes);
    }
    gen_free(&g7), gen_free(&gall);
    /* results */
    rs_measure_result r[3];
    int threads[3] = {1, 2, 2}, batches[3] = {7, 7, 64};
    for (int i = 0; i < 3; i++) {
        rs_set_threads(threads[i]);
        o.batch = batches[i];
        assert_int_equal(rs_measure(net, ds, NULL, NULL, 0, &o, &r[i]), RS_OK);
    }
    double worst = 0;
    for (int i = 1; i < 3; i++)
        for (int32_t k = 0; k < r[0].n_nodes; k++) {
            const rs_sens *a = &r[0].rows[k], *b = &r[i].rows[k];
            double v[5][2] = {{a->D, b->D}, {a->G, b->G}, {a->R, b->R}, {a->deno, b->deno}, {a->D_se, b->D_se}};
            for (int j = 0; j < 5; j++) worst = fmax(worst, fabs(v[j][0] - v[j][1]) / fabs(v[j][1]));
        }
    fprintf(stderr, "threads 1/2, batch 7/64: largest relative difference %.3g\n", worst);
    assert_true(worst <= 1e-4);
    for (int i = 0; i < 3; i++) rs_measure_result_free(&r[i]);
    rs_set_threads(2);
    rs_net_free(net);
    rs_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_node_brute_force), cmocka_unit_test(test_noise_is_diffeo),
        cmocka_unit_test(test_linear_maps),            cmocka_unit_test(test_seeds_combined),
        cmocka_unit_test(test_threads_and_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
