/* test_dist.c: the one-process parts of the MPI support: Chan's merge of Welford states and of the numerators'
 * bivariate accumulators (split streams merged equal the whole stream), the job order (longest first, ties by
 * index), the scheduler on one rank (every job once, in that order, failures recorded per job), the shares of a
 * range, local mode (a job sees one rank), and the synchronised batch norm on one replica against the reference
 * batch norm. The runs over 2 and 3 ranks: tests/cli/mpi_*.sh, test_dist_train.c, test_dist_bn.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "measure/measure_internal.h"
#include "relstab/dist.h"
#include "relstab/ops.h"
#include "testutil.h"

static double rel(double a, double b) { return fabs(a - b) / fmax(fabs(a), 1e-300); }

/* A stream of n images of N neurons split at cuts, merged in order == the one stream. */
static void test_welford_merge(void **state) {
    enum { N = 5, P = 97 };
    float *x = tu_randn((size_t)P * N, 3);
    for (int i = 0; i < P * N; i++) x[i] = 1000.0f + 3.0f * x[i]; /* a large mean: cancellation would show */
    double mean[N] = {0}, m2[N] = {0};
    for (int p = 0; p < P; p++)
        for (int j = 0; j < N; j++) {
            double d = x[p * N + j] - mean[j];
            mean[j] += d / (p + 1);
            m2[j] += d * (x[p * N + j] - mean[j]);
        }
    const int cuts[] = {0, 10, 11, 60, P};
    double am[N] = {0}, a2[N] = {0};
    int64_t na = 0;
    for (int c = 0; c + 1 < 5; c++) {
        double bm[N] = {0}, b2[N] = {0};
        for (int p = cuts[c]; p < cuts[c + 1]; p++)
            for (int j = 0; j < N; j++) {
                double d = x[p * N + j] - bm[j];
                bm[j] += d / (p - cuts[c] + 1);
                b2[j] += d * (x[p * N + j] - bm[j]);
            }
        sens_welford_merge(am, a2, na, bm, b2, cuts[c + 1] - cuts[c], N);
        na += cuts[c + 1] - cuts[c];
    }
    for (int j = 0; j < N; j++) {
        assert_true(rel(mean[j], am[j]) < 1e-13);
        assert_true(rel(m2[j], a2[j]) < 1e-11);
    }
    rs_free(x);
}

static void test_biv_merge(void **state) {
    float *d = tu_randn(200, 4), *g = tu_randn(200, 5);
    biv whole = {0}, a = {0}, b = {0}, c = {0}, empty = {0};
    for (int p = 0; p < 200; p++) {
        double dp = 5 + d[p] * d[p], gp = 2 + 0.5 * dp + g[p] * g[p];
        biv_add(&whole, dp, gp);
        biv_add(p < 37 ? &a : p < 150 ? &b : &c, dp, gp);
    }
    biv m = empty;
    sens_biv_merge(&m, &a);
    sens_biv_merge(&m, &empty);
    sens_biv_merge(&m, &b);
    sens_biv_merge(&m, &c);
    assert_int_equal(m.n, 200);
    assert_true(rel(whole.md, m.md) < 1e-14 && rel(whole.mg, m.mg) < 1e-14);
    assert_true(rel(whole.m2d, m.m2d) < 1e-12 && rel(whole.m2g, m.m2g) < 1e-12 && rel(whole.cdg, m.cdg) < 1e-12);
    rs_free(d), rs_free(g);
}

static void test_job_order_and_share(void **state) {
    const double cost[] = {1, 5, 2, 5, 0.5, 2};
    int64_t order[6];
    rs_dist_job_order(6, cost, order);
    const int64_t want[] = {1, 3, 2, 5, 0, 4};
    for (int i = 0; i < 6; i++) assert_int_equal(order[i], want[i]);
    rs_dist_job_order(3, NULL, order); /* no costs: index order */
    for (int i = 0; i < 3; i++) assert_int_equal(order[i], i);
    int64_t lo, hi, prev = 0;
    for (int r = 0; r < 3; r++) { /* shares tile the range */
        rs_dist_share_of(10, r, 3, &lo, &hi);
        assert_int_equal(lo, prev);
        assert_true(hi - lo == 3 || hi - lo == 4);
        prev = hi;
    }
    assert_int_equal(prev, 10);
    assert_int_equal(rs_dist_size(), 1); /* not launched by mpirun */
    assert_int_equal(rs_dist_rank(), 0);
    rs_dist_set_local(1);
    assert_int_equal(rs_dist_size(), 1);
    double v[2] = {1, 2};
    assert_int_equal(rs_dist_sum(v, 2), RS_OK); /* the one-rank identity */
    assert_true(v[0] == 1 && v[1] == 2);
    rs_dist_set_local(0);
}

typedef struct {
    int64_t seen[8];
    int n;
} job_log;
static rs_status record(int64_t job, void *ctx) {
    job_log *l = ctx;
    l->seen[l->n++] = job;
    return job == 2 ? rs_error(RS_ERR_IO, "job 2 fails") : RS_OK;
}

static void test_run_jobs_one_rank(void **state) {
    const double cost[] = {3, 1, 4, 1, 5};
    job_log l = {{0}, 0};
    rs_status st[5];
    assert_int_equal(rs_dist_run_jobs(5, cost, record, &l, st), RS_OK);
    assert_int_equal(l.n, 5);
    const int64_t want[] = {4, 2, 0, 1, 3};
    for (int i = 0; i < 5; i++) assert_int_equal(l.seen[i], want[i]);
    for (int i = 0; i < 5; i++) assert_int_equal(st[i], i == 2 ? RS_ERR_IO : RS_OK);
}

static void no_sum(double *buf, int64_t n, void *ctx) { (void)buf, (void)n, (void)ctx; }

/* One replica: the synchronised batch norm is the reference batch norm in training mode (outputs, saved and
 * running statistics, d_in, d_gamma, d_beta), to float rounding. */
static void test_sync_bn_one_replica(void **state) {
    enum { R = 300, C = 5 };
    float *x = tu_randn(R * C, 11), *dy = tu_randn(R * C, 12), *g = tu_randn(C, 13), *b = tu_randn(C, 14);
    for (int i = 0; i < R * C; i++) x[i] = 3.0f + 2.0f * x[i];
    float y1[R * C], y2[R * C], m1[C], m2[C], s1[C], s2[C], rm1[C], rm2[C], rv1[C], rv2[C];
    float dx1[R * C] = {0}, dx2[R * C] = {0}, dg1[C] = {0}, dg2[C] = {0}, db1[C] = {0}, db2[C] = {0};
    for (int j = 0; j < C; j++) rm1[j] = rm2[j] = 0.1f * j, rv1[j] = rv2[j] = 1.0f + j;
    double work[2 * C + 1];
    rs_batchnorm_forward_ref(y1, m1, s1, x, g, b, rm1, rv1, R, C, 1e-5f, 0.1f, RS_BN_TRAIN);
    rs_batchnorm_forward_sync(y2, m2, s2, x, g, b, rm2, rv2, R, C, 1e-5f, 0.1f, no_sum, NULL, work);
    assert_true(tu_check_close(y1, y2, R * C, 1e-5, 1e-5, "output") <= 0);
    assert_true(tu_check_close(m1, m2, C, 1e-6, 1e-6, "saved mean") <= 0);
    assert_true(tu_check_close(s1, s2, C, 1e-6, 1e-6, "saved invstd") <= 0);
    assert_true(tu_check_close(rm1, rm2, C, 1e-6, 1e-6, "running mean") <= 0);
    assert_true(tu_check_close(rv1, rv2, C, 1e-6, 1e-6, "running var") <= 0);
    rs_batchnorm_backward_ref(dx1, dg1, db1, dy, x, g, m1, s1, R, C, RS_BN_TRAIN);
    rs_batchnorm_backward_sync(dx2, dg2, db2, dy, x, g, m2, s2, R, C, no_sum, NULL, work);
    assert_true(tu_check_close(dx1, dx2, R * C, 1e-5, 1e-4, "d_in") <= 0);
    assert_true(tu_check_close(dg1, dg2, C, 1e-4, 1e-5, "d_gamma") <= 0);
    assert_true(tu_check_close(db1, db2, C, 1e-4, 1e-5, "d_beta") <= 0);
    rs_free(x), rs_free(dy), rs_free(g), rs_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_welford_merge),
        cmocka_unit_test(test_biv_merge),
        cmocka_unit_test(test_job_order_and_share),
        cmocka_unit_test(test_run_jobs_one_rank),
        cmocka_unit_test(test_sync_bn_one_replica),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
