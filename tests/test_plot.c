/* test_plot.c: the numbers behind the figures of src/plot: the CSV table reader (quoting, blank lines, ragged rows,
 * empty files), the per-(curve, x) aggregation (mean and standard error of the mean across rows, a single row's own
 * standard error), the grouping and filtering of D/G/R rows (default group columns, flags, NaN, --nodes, --where),
 * and the scatter's least-squares line. The drawing itself is checked end to end by tests/cli/plot.sh. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot_internal.h"
#include "testutil.h"

static const char *write_tmp(const char *name, const char *text) {
    static char path[4][512];
    static int slot;
    char *p = path[slot++ % 4];
    snprintf(p, 512, "%s/%s", tu_tmpdir("plot"), name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static void test_table(void **state) {
    (void)state;
    rs_table t;
    const char *p = write_tmp("t.csv", "a,b,\"c,d\"\n\n1, \"x,\"\"y\"\"\" ,3\r\n  \n4,5,\n");
    assert_int_equal(rs_table_read(p, &t), RS_OK);
    assert_int_equal(t.n_cols, 3);
    assert_int_equal(t.n_rows, 2);
    assert_string_equal(t.names[2], "c,d");
    assert_int_equal(rs_table_col(&t, "c,d"), 2);
    assert_int_equal(rs_table_col(&t, "z"), -1);
    assert_string_equal(rs_table_cell(&t, 0, 1), "x,\"y\"");
    assert_string_equal(rs_table_cell(&t, 1, 2), "");
    double v = 0;
    assert_true(rs_table_num(&t, 0, 2, &v) && v == 3);
    assert_false(rs_table_num(&t, 0, 1, &v));
    assert_false(rs_table_num(&t, 1, 2, &v)); /* empty is not a number */
    rs_table_free(&t);
    assert_int_equal(rs_table_read(write_tmp("r.csv", "a,b\n1,2\n3\n"), &t), RS_ERR_FORMAT);
    assert_non_null(strstr(rs_last_error(), "r.csv:3: 1 fields where the header has 2"));
    assert_int_equal(rs_table_read(write_tmp("e.csv", "\n \n"), &t), RS_ERR_FORMAT);
    assert_non_null(strstr(rs_last_error(), "is empty"));
    assert_int_equal(rs_table_read(write_tmp("q.csv", "a,\"b\n"), &t), RS_ERR_FORMAT);
}

static void test_aggregate(void **state) {
    (void)state;
    rs_plot_series s;
    memset(&s, 0, sizeof s);
    const double v[4] = {1, 2, 4, 9};
    for (int i = 0; i < 4; i++) assert_int_equal(rs_plot_series_add(&s, "g", "conv1", 0, 0, v[i], 0.5), RS_OK);
    assert_int_equal(rs_plot_series_add(&s, "g", "fc", 1, 0, 3, 0.25), RS_OK);
    assert_int_equal(rs_plot_series_add(&s, "h", "fc", 1, 2, 7, NAN), RS_OK);
    assert_int_equal(s.n_curves, 2);
    assert_int_equal(s.n_xkeys, 2);
    double m, se;
    /* mean 4, sample variance ((9 + 4 + 0 + 25) / 3), se = sqrt(var / 4) */
    assert_int_equal(rs_plot_point_stat(&s.curves[0].pts[0], 0, &m, &se), 4);
    assert_true(fabs(m - 4) < 1e-15);
    assert_true(fabs(se - sqrt(38.0 / 3 / 4)) < 1e-14);
    assert_int_equal(rs_plot_point_stat(&s.curves[0].pts[1], 0, &m, &se), 1);
    assert_true(m == 3 && se == 0.25); /* a single row keeps its own standard error */
    assert_int_equal(rs_plot_point_stat(&s.curves[0].pts[1], 1, &m, &se), 0);
    assert_true(isnan(m) && isnan(se));
    assert_int_equal(rs_plot_point_stat(&s.curves[1].pts[0], 2, &m, &se), 1);
    assert_true(m == 7 && isnan(se));
    rs_plot_series_free(&s);
    for (int i = 0; i < RS_PLOT_MAX_CURVES; i++) {
        char l[16];
        snprintf(l, sizeof l, "c%d", i);
        assert_int_equal(rs_plot_series_add(&s, l, "x", 0, 0, 1, NAN), RS_OK);
    }
    assert_int_equal(rs_plot_series_add(&s, "one more", "x", 0, 0, 1, NAN), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "more than 64 curves"));
    rs_plot_series_free(&s);
}

static void test_build(void **state) {
    (void)state;
    const char *p = write_tmp("m.csv", "node,D,G,R,D_se,checkpoint,seed,model,flag\n"
                                       "a,1,1,1,0.1,init,0,m,\n"
                                       "a,3,1,3,0.1,init,1,m,\n"
                                       "b,2,1,2,0.1,init,0,m,\n"
                                       "a,0.5,1,0.5,0.1,best,0,m,\n"
                                       "b,nan,1,nan,0.1,best,0,m,\n"
                                       "c,1,1,1,0.1,best,0,m,degenerate\n");
    rs_table t;
    assert_int_equal(rs_table_read(p, &t), RS_OK);
    static const char *const def[] = {"model", "checkpoint", NULL};
    rs_plot_opts o = rs_plot_defaults();
    rs_plot_series s;
    rs_plot_info in;
    assert_int_equal(rs_plot_series_build(&t, p, NULL, &o, def, 0, &s, &in), RS_OK);
    /* model does not vary, checkpoint does: two curves; the seeds of (init, a) are averaged */
    assert_int_equal(s.n_curves, 2);
    assert_string_equal(s.curves[0].label, "checkpoint=init");
    assert_string_equal(s.curves[1].label, "checkpoint=best");
    assert_int_equal(in.rows, 6);
    assert_int_equal(in.used, 5); /* b at best is drawn in the G panel only */
    assert_int_equal(in.skipped_flag, 1);
    assert_int_equal(in.skipped_nan, 1);
    assert_int_equal(s.n_xkeys, 2); /* the flagged node c is nowhere */
    double m, se;
    assert_int_equal(rs_plot_point_stat(&s.curves[0].pts[0], 0, &m, &se), 2);
    assert_true(m == 2 && fabs(se - 1) < 1e-15); /* values 1 and 3: sd sqrt 2, se 1 */
    assert_int_equal(rs_plot_point_stat(&s.curves[1].pts[1], 1, &m, &se), 1); /* b at best: G drawn, D and R not */
    assert_int_equal(rs_plot_point_stat(&s.curves[1].pts[1], 0, &m, &se), 0);
    rs_plot_series_free(&s);
    o.where = "seed=1";
    o.group = "";
    assert_int_equal(rs_plot_series_build(&t, p, NULL, &o, def, 0, &s, &in), RS_OK);
    assert_int_equal(s.n_curves, 1);
    assert_int_equal(in.used, 1);
    assert_int_equal(in.skipped_where, 5);
    rs_plot_series_free(&s);
    o.where = NULL;
    o.nodes = "zzz";
    assert_int_equal(rs_plot_series_build(&t, p, NULL, &o, def, 0, &s, &in), RS_ERR_FORMAT);
    assert_non_null(strstr(rs_last_error(), "no row left to plot"));
    o.nodes = NULL;
    o.where = "nope=1";
    assert_int_equal(rs_plot_series_build(&t, p, NULL, &o, def, 0, &s, &in), RS_ERR_FORMAT);
    assert_non_null(strstr(rs_last_error(), "no column 'nope' (--where)"));
    o.where = NULL;
    assert_int_equal(rs_plot_series_build(&t, p, "epoch", &o, def, 0, &s, &in), RS_ERR_FORMAT);
    assert_non_null(strstr(rs_last_error(), "no column 'epoch'"));
    rs_table_free(&t);
}

static void test_scatter_fit(void **state) {
    (void)state;
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) skip();
    /* y = 2 x^-1.5 on log axes: slope -1.5, intercept log10 2, r = -1 */
    const char *p = write_tmp("s.csv", "x,y\n1,2\n2,0.7071067812\n4,0.25\n8,0.08838834765\n");
    char out[600];
    snprintf(out, sizeof out, "%s/s.png", tu_tmpdir("plot-out"));
    rs_plot_opts o = rs_plot_defaults();
    o.x = "x", o.y = "y", o.fit = 1;
    rs_plot_info in;
    assert_int_equal(rs_plot_scatter(p, out, &o, &in), RS_OK);
    assert_true(fabs(in.fit_slope + 1.5) < 1e-9);
    assert_true(fabs(in.fit_intercept - log10(2.0)) < 1e-9);
    assert_true(fabs(in.fit_r + 1) < 1e-12);
    o.logx = o.logy = 0; /* linear: y on x, a different line */
    assert_int_equal(rs_plot_scatter(p, out, &o, &in), RS_OK);
    assert_true(in.fit_slope < 0 && in.fit_r > -1 + 1e-3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_aggregate),
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_scatter_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
