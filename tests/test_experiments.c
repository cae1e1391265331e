/* test_experiments.c: the pieces of `reproduce` that decide outcomes: the grid executor (longest first in order,
 * every job run once in a process pool, a failing job reported without stopping the others), a run whose
 * directory another process has locked is refused, the least-squares line and correlation, the aggregation across seeds (mean,
 * standard error, geometric mean) and the a-priori verdict rules. */
#include "testutil.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "relstab/train.h"
#include <sys/wait.h>
#include <unistd.h>

#include "experiments/exp_internal.h"

/* ---------------------------------------------------------------- grid */
typedef struct {
    int32_t order[16], n;
} record;

static rs_status record_job(int32_t job, void *ctx) {
    record *r = ctx;
    r->order[r->n++] = job;
    return job == 2 ? rs_error(RS_ERR_NUMERIC, "job two fails") : RS_OK;
}

static void test_grid_serial_longest_first(void **state) {
    (void)state;
    double cost[5] = {1, 5, 3, 5, 0.5};
    record r = {{0}, 0};
    rs_status s = rs_grid_run(5, cost, 1, record_job, &r);
    assert_int_equal(s, RS_ERR_NUMERIC); /* job 2 failed, but every job ran */
    assert_non_null(strstr(rs_last_error(), "job two fails"));
    assert_int_equal(r.n, 5);
    int32_t expect[5] = {1, 3, 2, 0, 4}; /* by decreasing cost, ties in index order */
    for (int i = 0; i < 5; i++) assert_int_equal(r.order[i], expect[i]);
    r.n = 0;
    assert_int_equal(rs_grid_run(0, NULL, 1, record_job, &r), RS_OK);
    assert_int_equal(r.n, 0);
}

/* Each forked job appends its index to a file under a flock; the parent reads which jobs ran. */
static const char *g_dir;
static rs_status file_job(int32_t job, void *ctx) {
    (void)ctx;
    char p[600];
    snprintf(p, sizeof p, "%s/jobs.txt", g_dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return rs_error(RS_ERR_IO, "open");
    flock(fd, LOCK_EX);
    dprintf(fd, "%d %d\n", (int)job, rs_get_threads());
    close(fd);
    return job == 3 ? rs_error(RS_ERR_IO, "job three fails") : RS_OK;
}

static void test_grid_forked_runs_every_job_once(void **state) {
    (void)state;
    g_dir = tu_tmpdir("grid");
    double cost[7] = {1, 2, 3, 4, 5, 6, 7};
    rs_status s = rs_grid_run(7, cost, 3, file_job, NULL);
    assert_int_equal(s, RS_ERR_IO);
    assert_non_null(strstr(rs_last_error(), "job 3 failed"));
    char p[600];
    snprintf(p, sizeof p, "%s/jobs.txt", g_dir);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    int seen[7] = {0}, job, threads, n = 0;
    while (fscanf(f, "%d %d", &job, &threads) == 2) {
        assert_true(job >= 0 && job < 7);
        seen[job]++;
        assert_int_equal(threads, 1); /* 2 cores / 3 jobs: one thread each (at least 1) */
        n++;
    }
    fclose(f);
    assert_int_equal(n, 7);
    for (int i = 0; i < 7; i++) assert_int_equal(seen[i], 1);
}

/* ---------------------------------------------------------------- lock */
/* A run directory another process holds the trainer's lock on is refused (not trained, not marked finished). */
static void test_locked_run_is_refused(void **state) {
    (void)state;
    const char *dir = tu_tmpdir("lock");
    exp_run r;
    memset(&r, 0, sizeof r);
    snprintf(r.model, sizeof r.model, "lenet");
    snprintf(r.data, sizeof r.data, "fashionmnist");
    snprintf(r.dir, sizeof r.dir, "%s/run", dir);
    r.epochs = 1, r.ptr = 64, r.ridge = -1, r.measure = EXP_M_TRAINED, r.P = 10;
    assert_int_equal(rs_mkdir_p(r.dir), RS_OK);
    int to_child[2], from_child[2];
    assert_int_equal(pipe(to_child), 0);
    assert_int_equal(pipe(from_child), 0);
    pid_t pid = fork();
    if (pid == 0) { /* holds the lock until the parent writes a byte */
        rs_run_lock *l = NULL;
        char b = rs_run_lock_acquire(r.dir, &l) == RS_OK ? 'y' : 'n';
        if (write(from_child[1], &b, 1) != 1) _exit(2);
        if (read(to_child[0], &b, 1) != 1) _exit(2);
        rs_run_lock_release(l);
        _exit(0);
    }
    char b = 0;
    assert_int_equal(read(from_child[0], &b, 1), 1);
    assert_int_equal(b, 'y');
    rs_status s = exp_run_do(&r, 1, 1);
    assert_int_equal(s, RS_ERR_ARG);
    assert_false(exp_run_finished(&r));
    assert_int_equal(write(to_child[1], "x", 1), 1);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---------------------------------------------------------------- statistics */
static void test_fit_line(void **state) {
    (void)state;
    double x[5] = {0, 1, 2, 3, NAN}, y[5] = {1, 3, 5, 7, 100};
    exp_fit f = exp_fit_line(x, y, 5); /* exact line y = 1 + 2x; the NaN point is skipped */
    assert_int_equal(f.n, 4);
    assert_true(f.ok);
    assert_true(fabs(f.slope - 2) < 1e-12 && fabs(f.intercept - 1) < 1e-12 && fabs(f.r - 1) < 1e-12);
    assert_true(f.slope_se < 1e-7);
    /* y = x + e with e = (+1, -1, -1, +1): slope 1, residual sum of squares 4 - (proj on x = 0) = 4 */
    double y2[4] = {1, 0, 1, 4};
    f = exp_fit_line(x, y2, 4);
    assert_true(fabs(f.slope - 1) < 1e-12);
    /* se = sqrt(RSS / (n - 2) / Sxx) = sqrt(4 / 2 / 5) */
    assert_true(fabs(f.slope_se - sqrt(0.4)) < 1e-12);
    /* r = Sxy / sqrt(Sxx Syy): Sxx = 5, Sxy = 5, Syy = 9 */
    assert_true(fabs(f.r - 5 / sqrt(45.0)) < 1e-12);
    double c[3] = {2, 2, 2};
    f = exp_fit_line(c, y, 3); /* no spread in x: no line */
    assert_false(f.ok);
    assert_true(isnan(f.slope));
}

static void test_mean_se(void **state) {
    (void)state;
    double v[4] = {1, 2, 3, 6}, m, se;
    exp_mean_se(v, 4, &m, &se);
    assert_true(fabs(m - 3) < 1e-15);
    assert_true(fabs(se - sqrt(14.0 / 3) / 2) < 1e-12); /* sd^2 = (4 + 1 + 0 + 9) / 3 */
    exp_mean_se(v, 1, &m, &se);
    assert_true(m == 1 && isnan(se));
}

static void write_sens(const char *path, double d0, double d1) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "node,op,D,G,R,seed\nconv1,conv2d,%g,0.5,%g,0\nrelu,relu,%g,0.25,%g,0\n", d0, d0 / 0.5, d1, d1 / 0.25);
    fclose(f);
}

static void test_curves_aggregate_seeds(void **state) {
    (void)state;
    const char *dir = tu_tmpdir("curves");
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/a.csv", dir);
    snprintf(b, sizeof b, "%s/b.csv", dir);
    write_sens(a, 0.1, 0.01);
    write_sens(b, 0.4, 0.04);
    exp_curves cv = {0};
    assert_int_equal(exp_curves_add_csv(&cv, "net", "trained", a), RS_OK);
    assert_int_equal(exp_curves_add_csv(&cv, "net", "trained", b), RS_OK);
    assert_int_equal(exp_curves_add_csv(&cv, "net", "init", a), RS_OK);
    exp_curves_finish(&cv);
    const exp_curve_row *rows[8];
    assert_int_equal(exp_curves_select(&cv, "net", "trained", rows, 8), 2);
    assert_string_equal(rows[0]->node, "conv1");
    assert_int_equal(rows[1]->k, 1);
    assert_int_equal(rows[0]->n, 2);
    assert_true(fabs(rows[0]->mean[0] - 0.25) < 1e-12);
    assert_true(fabs(rows[0]->se[0] - 0.15) < 1e-12); /* sd = 0.15 sqrt 2, / sqrt 2 */
    assert_true(fabs(pow(10, rows[0]->lmean[0]) - 0.2) < 1e-12); /* geometric mean of 0.1 and 0.4 */
    assert_int_equal(exp_curves_select(&cv, "net", "init", rows, 8), 2);
    assert_true(isnan(rows[0]->se[0])); /* one seed: no standard error */
    exp_curves_free(&cv);
    snprintf(a, sizeof a, "%s/bad.csv", dir);
    FILE *f = fopen(a, "w");
    fprintf(f, "node,D,G\nx,1,2\n");
    fclose(f);
    assert_int_equal(exp_curves_add_csv(&cv, "net", "x", a), RS_ERR_FORMAT);
    exp_curves_free(&cv);
}

static void test_verdict_rules(void **state) {
    (void)state;
    /* exponent: |fit - pred| <= 2 se + 0.1 |pred| */
    assert_string_equal(exp_exponent_verdict(-0.95, 0.01, -1), "holds");
    assert_string_equal(exp_exponent_verdict(-1.15, 0.03, -1), "holds");   /* 0.15 <= 0.06 + 0.1 */
    assert_string_equal(exp_exponent_verdict(-1.15, 0.01, -1), "partly");  /* 0.15 > 0.02 + 0.1 */
    assert_string_equal(exp_exponent_verdict(0.3, 0.01, -1), "does not hold");
    assert_string_equal(exp_exponent_verdict(NAN, 0.01, -1), "not measured");
    /* trend: sign * slope > 2 se holds, > 0 partly */
    assert_string_equal(exp_trend_verdict(-0.3, 0.1, -1), "holds");
    assert_string_equal(exp_trend_verdict(-0.1, 0.1, -1), "partly");
    assert_string_equal(exp_trend_verdict(0.1, 0.01, -1), "does not hold");
    assert_string_equal(exp_trend_verdict(0.3, NAN, 1), "partly"); /* no standard error: never "holds" */
}

static void test_scale_names(void **state) {
    (void)state;
    rs_scale s;
    assert_int_equal(rs_scale_parse("full", &s), RS_OK);
    assert_int_equal(s, RS_SCALE_FULL);
    assert_int_equal(rs_scale_parse("medium", &s), RS_ERR_ARG);
    assert_int_equal(rs_experiment_count(), 6);
    assert_string_equal(rs_experiment_name(0), "theory");
    assert_null(rs_experiment_name(6));
    rs_reproduce_opts o = {.out = "/tmp/x", .dry_run = 1, .jobs = 1};
    assert_int_equal(rs_reproduce("figure9", &o), RS_ERR_ARG);
    o.data = "mnist";
    assert_int_equal(rs_reproduce("layers", &o), RS_ERR_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_serial_longest_first),
        cmocka_unit_test(test_grid_forked_runs_every_job_once),
        cmocka_unit_test(test_locked_run_is_refused),
        cmocka_unit_test(test_fit_line),
        cmocka_unit_test(test_mean_se),
        cmocka_unit_test(test_curves_aggregate_seeds),
        cmocka_unit_test(test_verdict_rules),
        cmocka_unit_test(test_scale_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
