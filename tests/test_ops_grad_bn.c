/* test_ops_grad_bn.c: the reference batch norm (src/nn/batchnorm.c): finite-difference gradients of input, gamma
 * and beta in TRAIN, BATCHSTAT and EVAL modes; the running statistics after one TRAIN step against hand-computed
 * values; BATCHSTAT leaving them untouched; EVAL's use of them; accumulation (+=). Calls the _ref functions. */
#include <string.h>

#include "gradcheck.h"

typedef struct {
    float *in, *gamma, *beta, *rm, *rv; // (rows, C), (C) x 4
    float *save_mean, *save_invstd;     // (C)
    int64_t rows;
    int32_t c;
    rs_bn_mode mode;
} bn_ctx;

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f

static void bn_fwd(void *p, float *out) {
    bn_ctx *x = p;
    rs_batchnorm_forward_ref(out, x->save_mean, x->save_invstd, x->in, x->gamma, x->beta, x->rm, x->rv, x->rows, x->c,
                             BN_EPS, BN_MOMENTUM, x->mode);
}

/* Inputs N(0,1) * 2 + 1 (a non-zero mean exercises the centring), gamma around 1, random beta; running mean and
 * variance (for EVAL) near but not equal to the batch's. */
static bn_ctx bn_setup(int64_t rows, int32_t c, rs_bn_mode mode, uint64_t stream) {
    bn_ctx x = {0};
    x.rows = rows, x.c = c, x.mode = mode;
    x.in = tu_randn((size_t)(rows * c), stream);
    for (int64_t i = 0; i < rows * c; i++) x.in[i] = 2.0f * x.in[i] + 1.0f;
    x.gamma = gc_uniform((size_t)c, stream + 1, 0.5f, 1.5f);
    x.beta = tu_randn((size_t)c, stream + 2);
    x.rm = gc_uniform((size_t)c, stream + 3, 0.5f, 1.5f);
    x.rv = gc_uniform((size_t)c, stream + 4, 2.0f, 6.0f);
    x.save_mean = gc_zeros((size_t)c), x.save_invstd = gc_zeros((size_t)c);
    return x;
}

static void bn_teardown(bn_ctx *x) {
    rs_free(x->in), rs_free(x->gamma), rs_free(x->beta), rs_free(x->rm), rs_free(x->rv);
    rs_free(x->save_mean), rs_free(x->save_invstd);
}

static void check_bn(int64_t rows, int32_t c, rs_bn_mode mode, uint64_t stream, const char *name) {
    bn_ctx x = bn_setup(rows, c, mode, stream);
    const int64_t n = rows * c;
    float *out = gc_zeros((size_t)n), *r = tu_randn((size_t)n, stream + 5);
    float *g_in = gc_zeros((size_t)n), *g_g = gc_zeros((size_t)c), *g_b = gc_zeros((size_t)c);
    bn_fwd(&x, out);
    rs_batchnorm_backward_ref(g_in, g_g, g_b, r, x.in, x.gamma, x.save_mean, x.save_invstd, rows, c, mode);
    gc_problem p = {bn_fwd, &x, r, out, n};
    char what[128];
    snprintf(what, sizeof what, "%s d_in", name);
    assert_true(gc_check(&p, x.in, n, g_in, GC_EPS, what) < GC_TOL);
    snprintf(what, sizeof what, "%s d_gamma", name);
    assert_true(gc_check(&p, x.gamma, c, g_g, GC_EPS, what) < GC_TOL);
    snprintf(what, sizeof what, "%s d_beta", name);
    assert_true(gc_check(&p, x.beta, c, g_b, GC_EPS, what) < GC_TOL);
    // the checks moved inputs back bit for bit; recompute the saved statistics, then backward once more
    bn_fwd(&x, out);
    float *once_in = gc_zeros((size_t)n), *once_g = gc_zeros((size_t)c), *once_b = gc_zeros((size_t)c);
    memcpy(once_in, g_in, (size_t)n * sizeof(float));
    memcpy(once_g, g_g, (size_t)c * sizeof(float));
    memcpy(once_b, g_b, (size_t)c * sizeof(float));
    rs_batchnorm_backward_ref(g_in, g_g, g_b, r, x.in, x.gamma, x.save_mean, x.save_invstd, rows, c, mode);
    assert_true(gc_doubling_error(g_in, once_in, n) < GC_ACC_TOL);
    assert_true(gc_doubling_error(g_g, once_g, c) < GC_ACC_TOL);
    assert_true(gc_doubling_error(g_b, once_b, c) < GC_ACC_TOL);
    rs_free(once_in), rs_free(once_g), rs_free(once_b);
    rs_free(out), rs_free(r), rs_free(g_in), rs_free(g_g), rs_free(g_b);
    bn_teardown(&x);
}

static void test_bn_train_grad(void **st) {
    check_bn(18, 5, RS_BN_TRAIN, 500, "bn train rows 18 c 5");
    check_bn(12, 20, RS_BN_TRAIN, 510, "bn train rows 12 c 20"); // a full and a partial block of 16 channels
    check_bn(4, 270, RS_BN_TRAIN, 515, "bn train rows 4 c 270"); // more channels than one 256-channel chunk
}
static void test_bn_batchstat_grad(void **st) { check_bn(18, 5, RS_BN_BATCHSTAT, 520, "bn batchstat"); }
static void test_bn_eval_grad(void **st) { check_bn(18, 5, RS_BN_EVAL, 530, "bn eval"); }

/* One channel, rows 1, 2, 3, 4: mean 2.5, biased variance 1.25, unbiased 5/3. From running (0, 1) with momentum
 * 0.1: running mean 0.1 * 2.5 = 0.25, running var 0.9 + 0.1 * 5/3 = 1.0666667. The output uses the biased one:
 * (x - 2.5) / sqrt(1.25 + 1e-5). Tolerances: one float rounding of each stored value (rel 1.2e-7), times 4. */
static void test_bn_running_stats(void **st) {
    float in[4] = {1, 2, 3, 4}, out[4], gamma = 1, beta = 0, rm = 0, rv = 1, mean, invstd;
    rs_batchnorm_forward_ref(out, &mean, &invstd, in, &gamma, &beta, &rm, &rv, 4, 1, BN_EPS, BN_MOMENTUM,
                             RS_BN_TRAIN);
    const double tol = 4.8e-7;
    assert_true(fabs(rm - 0.25) <= tol * 0.25);
    assert_true(fabs(rv - (0.9 + 0.1 * 5.0 / 3.0)) <= tol * 1.07);
    assert_true(fabs(mean - 2.5) <= tol * 2.5);
    const double is = 1.0 / sqrt(1.25 + 1e-5);
    assert_true(fabs(invstd - is) <= tol * is);
    for (int i = 0; i < 4; i++) assert_true(fabs(out[i] - (in[i] - 2.5) * is) <= tol * 2);
    // BATCHSTAT: the same normalisation, running statistics untouched
    float out2[4], rm2 = 0.3f, rv2 = 1.7f;
    rs_batchnorm_forward_ref(out2, NULL, NULL, in, &gamma, &beta, &rm2, &rv2, 4, 1, BN_EPS, BN_MOMENTUM,
                             RS_BN_BATCHSTAT);
    assert_memory_equal(out, out2, sizeof out);
    assert_true(rm2 == 0.3f && rv2 == 1.7f);
    // EVAL: (x - 0.3) / sqrt(1.7 + eps) * 2 - 1, running statistics untouched, saved stats are the running ones
    float g2 = 2, b2 = -1;
    rs_batchnorm_forward_ref(out2, &mean, &invstd, in, &g2, &b2, &rm2, &rv2, 4, 1, BN_EPS, BN_MOMENTUM, RS_BN_EVAL);
    const double is2 = 1.0 / sqrt((double)1.7f + 1e-5);
    for (int i = 0; i < 4; i++) assert_true(fabs(out2[i] - ((in[i] - (double)0.3f) * is2 * 2 - 1)) <= tol * 4);
    assert_true(mean == 0.3f && fabs(invstd - is2) <= tol * is2);
    assert_true(rm2 == 0.3f && rv2 == 1.7f);
}

/* gamma = NULL and beta = NULL mean 1 and 0 (a BN without affine parameters). */
static void test_bn_no_affine(void **st) {
    bn_ctx x = bn_setup(10, 3, RS_BN_BATCHSTAT, 540);
    float ones[3] = {1, 1, 1}, zeros[3] = {0, 0, 0}, a[30], b[30];
    rs_batchnorm_forward_ref(a, NULL, NULL, x.in, ones, zeros, x.rm, x.rv, 10, 3, BN_EPS, BN_MOMENTUM,
                             RS_BN_BATCHSTAT);
    rs_batchnorm_forward_ref(b, NULL, NULL, x.in, NULL, NULL, x.rm, x.rv, 10, 3, BN_EPS, BN_MOMENTUM,
                             RS_BN_BATCHSTAT);
    assert_memory_equal(a, b, sizeof a);
    bn_teardown(&x);
}

/* Same bits on 1 and 2 threads, forward and backward, with enough rows * channels to run threaded. */
static void test_bn_thread_independent(void **st) {
    const int64_t rows = 256;
    const int32_t c = 300; // uneven 16-channel blocks per thread and a 256-channel chunk boundary
    const int threads_before = rs_get_threads();
    float *res[2][6];
    for (int t = 0; t < 2; t++) {
        bn_ctx x = bn_setup(rows, c, RS_BN_TRAIN, 550); // the same inputs both times
        float *r = tu_randn((size_t)(rows * c), 555);
        rs_set_threads(t + 1);
        res[t][0] = gc_zeros((size_t)(rows * c)), res[t][1] = gc_zeros((size_t)(rows * c));
        res[t][2] = gc_zeros((size_t)c), res[t][3] = gc_zeros((size_t)c);
        bn_fwd(&x, res[t][0]);
        rs_batchnorm_backward_ref(res[t][1], res[t][2], res[t][3], r, x.in, x.gamma, x.save_mean, x.save_invstd, rows,
                                  c, RS_BN_TRAIN);
        res[t][4] = x.rm, res[t][5] = x.rv; // updated running statistics
        x.rm = x.rv = NULL;
        bn_teardown(&x);
        rs_free(r);
    }
    rs_set_threads(threads_before);
    const int64_t sizes[6] = {rows * c, rows * c, c, c, c, c};
    for (int k = 0; k < 6; k++) {
        assert_memory_equal(res[0][k], res[1][k], (size_t)sizes[k] * sizeof(float));
        rs_free(res[0][k]), rs_free(res[1][k]);
    }
}

int main(void) {
    // The ops give the same bits on any number of threads (the *_thread_independent tests check it); one thread
    // keeps the thousands of tiny forward calls of the difference quotients cheap on a shared machine.
    rs_set_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bn_train_grad),    cmocka_unit_test(test_bn_batchstat_grad),
        cmocka_unit_test(test_bn_eval_grad),     cmocka_unit_test(test_bn_running_stats),
        cmocka_unit_test(test_bn_no_affine),     cmocka_unit_test(test_bn_thread_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
