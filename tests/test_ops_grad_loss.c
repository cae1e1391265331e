/* test_ops_grad_loss.c: the losses (src/nn/loss.c): gradients of the mean cross-entropy and hinge losses against
 * central differences of the returned loss, hand-computed values, error counts, stability for large logits and
 * the hinge's subgradient at the kink. */
#include <string.h>

#include "gradcheck.h"

/* The loss is returned in double from float inputs, so its difference quotient carries no float32 forward error:
 * only the step's truncation eps^2 |f'''| / 6 ~ 2e-5 (smooth log-sum-exp) or 0 (hinge away from its kink). The
 * shared criterion GC_TOL (gradcheck.h) therefore applies with a wide margin. */
typedef double (*loss_fn)(const float *z, void *ctx);

static double loss_fd_error(loss_fn f, void *ctx, float *z, int64_t n, const float *grad, const char *name) {
    double d2 = 0, g2 = 0, n2 = 0;
    for (int64_t j = 0; j < n; j++) {
        const float z0 = z[j], zp = (float)(z0 + GC_EPS), zm = (float)(z0 - GC_EPS);
        z[j] = zp;
        const double lp = f(z, ctx);
        z[j] = zm;
        const double lm = f(z, ctx);
        z[j] = z0;
        const double num = (lp - lm) / ((double)zp - (double)zm);
        d2 += (num - grad[j]) * (num - grad[j]);
        g2 += (double)grad[j] * grad[j];
        n2 += num * num;
    }
    const double rel = sqrt(d2 / (g2 > n2 ? g2 : n2));
    if (rel > GC_TOL || getenv("GC_VERBOSE")) fprintf(stderr, "gradcheck %s: relative error %.3g\n", name, rel);
    return rel;
}

typedef struct {
    const int32_t *labels;
    const float *targets;
    int64_t n, k;
} loss_ctx;

static double ce_of(const float *z, void *p) {
    loss_ctx *c = p;
    return rs_cross_entropy(NULL, z, c->labels, c->n, c->k, NULL);
}

static double hinge_of(const float *f, void *p) {
    loss_ctx *c = p;
    return rs_hinge(NULL, f, c->targets, c->n, NULL);
}

static void test_cross_entropy_grad(void **st) {
    const int64_t n = 6, k = 10;
    float *z = tu_randn((size_t)(n * k), 800), *g = gc_zeros((size_t)(n * k));
    for (int64_t i = 0; i < n * k; i++) z[i] *= 3.0f;
    int32_t labels[6] = {0, 9, 3, 3, 7, 1};
    loss_ctx c = {labels, NULL, n, k};
    int64_t wrong = -1;
    const double l = rs_cross_entropy(g, z, labels, n, k, &wrong);
    assert_true(l > 0 && wrong >= 0 && wrong <= n);
    assert_true(loss_fd_error(ce_of, &c, z, n * k, g, "cross-entropy") < GC_TOL);
    // the gradient is written (=), not accumulated: a second call into the same buffer gives the same values
    float *g2 = gc_zeros((size_t)(n * k));
    memcpy(g2, g, (size_t)(n * k) * sizeof(float));
    rs_cross_entropy(g2, z, labels, n, k, NULL);
    assert_memory_equal(g, g2, (size_t)(n * k) * sizeof(float));
    // each row of the gradient sums to 0 (softmax minus one-hot), to rounding
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t j = 0; j < k; j++) s += g[i * k + j];
        assert_true(fabs(s) < 1e-7);
    }
    rs_free(z), rs_free(g), rs_free(g2);
}

/* Two equal logits: loss log 2, gradient (0.5 - 1, 0.5) / N; the first maximum is the prediction, so label 0 is
 * right and label 1 wrong. Logits (1000, 0) with label 1: loss 1000 (no overflow), gradient (1, -1) / N. */
static void test_cross_entropy_hand(void **st) {
    float z[4] = {0, 0, 0, 0}, g[4];
    int32_t labels[2] = {0, 1};
    int64_t wrong = 0;
    double l = rs_cross_entropy(g, z, labels, 2, 2, &wrong);
    assert_true(fabs(l - log(2.0)) < 1e-15);
    assert_int_equal(wrong, 1);
    assert_true(g[0] == -0.25f && g[1] == 0.25f && g[2] == 0.25f && g[3] == -0.25f);
    float big[2] = {1000, 0}, gb[2];
    int32_t one = 1;
    l = rs_cross_entropy(gb, big, &one, 1, 2, &wrong);
    assert_true(fabs(l - 1000.0) < 1e-9);
    assert_int_equal(wrong, 1);
    assert_true(gb[0] == 1.0f && gb[1] == -1.0f);
    // NULL gradient and NULL count are allowed
    l = rs_cross_entropy(NULL, big, &one, 1, 2, NULL);
    assert_true(fabs(l - 1000.0) < 1e-9);
}

static void test_hinge_grad(void **st) {
    const int64_t n = 40;
    float *f = tu_randn((size_t)n, 810), *g = gc_zeros((size_t)n), t[40];
    for (int64_t i = 0; i < n; i++) t[i] = i % 3 ? 1.0f : -1.0f;
    // keep y f away from the kink at 1 (and f from 0, where only the error count changes)
    for (int64_t i = 0; i < n; i++) {
        const float kinks[2] = {t[i] * 1.0f, 0.0f};
        gc_avoid_kinks(&f[i], 1, kinks, 2, 0.05f);
    }
    loss_ctx c = {NULL, t, n, 1};
    int64_t wrong = -1;
    rs_hinge(g, f, t, n, &wrong);
    int64_t expect_wrong = 0;
    for (int64_t i = 0; i < n; i++) expect_wrong += t[i] * f[i] <= 0;
    assert_int_equal(wrong, expect_wrong);
    assert_true(loss_fd_error(hinge_of, &c, f, n, g, "hinge") < GC_TOL);
    rs_free(f), rs_free(g);
}

/* f = (2, 0.5, -1, 1, 0) against y = 1: margins 1 - y f = (-1, 0.5, 2, 0, 1), losses (0, 0.5, 2, 0, 1), mean 0.7;
 * gradient -y/N = -0.2 where the margin is positive, 0 at the kink (margin exactly 0) and beyond; wrong where
 * y f <= 0: f = -1 and f = 0. */
static void test_hinge_hand(void **st) {
    float f[5] = {2, 0.5f, -1, 1, 0}, y[5] = {1, 1, 1, 1, 1}, g[5];
    int64_t wrong = 0;
    const double l = rs_hinge(g, f, y, 5, &wrong);
    assert_true(fabs(l - 0.7) < 1e-15);
    assert_int_equal(wrong, 2);
    assert_true(g[0] == 0 && g[1] == -0.2f && g[2] == -0.2f && g[3] == 0 && g[4] == -0.2f);
    float yn = -1, fn = -3, gn;
    assert_true(rs_hinge(&gn, &fn, &yn, 1, &wrong) == 0.0 && gn == 0.0f && wrong == 0);
    fn = 0.5f; // margin 1.5, gradient -y = +1
    assert_true(fabs(rs_hinge(&gn, &fn, &yn, 1, &wrong) - 1.5) < 1e-15 && gn == 1.0f && wrong == 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cross_entropy_grad),
        cmocka_unit_test(test_cross_entropy_hand),
        cmocka_unit_test(test_hinge_grad),
        cmocka_unit_test(test_hinge_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
