/* scatter.c: one column of a CSV against another (rs_plot_scatter), one point style per group, error bars from
 * the X_se / Y_se columns, and optionally the least-squares line with its slope and the correlation coefficient
 * (in log-log coordinates on log axes). It draws and fits a line; nothing else. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot_internal.h"

typedef struct {
    int32_t x, y, xse, yse, flag, group[16];
    int ng;
} cols;

static rs_status find_cols(const rs_table *t, const char *csv, const rs_plot_opts *o, cols *c) {
    char nm[300];
    if (!o->x || !o->y) return rs_error(RS_ERR_ARG, "a scatter figure needs the x and y columns (--x, --y)");
    if ((c->x = rs_table_col(t, o->x)) < 0) return rs_error(RS_ERR_FORMAT, "%s has no column '%s' (--x)", csv, o->x);
    if ((c->y = rs_table_col(t, o->y)) < 0) return rs_error(RS_ERR_FORMAT, "%s has no column '%s' (--y)", csv, o->y);
    snprintf(nm, sizeof nm, "%s_se", o->x);
    c->xse = rs_table_col(t, nm);
    snprintf(nm, sizeof nm, "%s_se", o->y);
    c->yse = rs_table_col(t, nm);
    c->flag = rs_table_col(t, "flag");
    c->ng = 0;
    if (o->group && *o->group) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", o->group);
        for (char *sv = NULL, *tok = strtok_r(buf, ",", &sv); tok; tok = strtok_r(NULL, ",", &sv)) {
            int32_t g = rs_table_col(t, tok);
            if (g < 0) return rs_error(RS_ERR_FORMAT, "%s has no column '%s' (--group)", csv, tok);
            if (c->ng == 16) return rs_error(RS_ERR_ARG, "--group: at most 16 columns");
            c->group[c->ng++] = g;
        }
    }
    if (t->n_rows == 0) return rs_error(RS_ERR_FORMAT, "%s has a header but no rows: nothing to plot", csv);
    return RS_OK;
}

static double num_or_nan(const rs_table *t, int32_t r, int32_t c) {
    double v;
    return c >= 0 && rs_table_num(t, r, c, &v) ? v : NAN;
}

static int ok_value(double v, int lg) { return isfinite(v) && (!lg || v > 0); }

/* Least squares of v on u and the correlation coefficient. */
static void fit_line(const double *u, const double *v, int32_t n, rs_plot_info *info) {
    info->fit_slope = info->fit_intercept = info->fit_r = NAN;
    if (n < 2) return;
    double mu = 0, mv = 0, suu = 0, svv = 0, suv = 0;
    for (int32_t i = 0; i < n; i++) mu += u[i], mv += v[i];
    mu /= n, mv /= n;
    for (int32_t i = 0; i < n; i++)
        suu += (u[i] - mu) * (u[i] - mu), svv += (v[i] - mv) * (v[i] - mv), suv += (u[i] - mu) * (v[i] - mv);
    if (suu <= 0) return;
    info->fit_slope = suv / suu;
    info->fit_intercept = mv - info->fit_slope * mu;
    info->fit_r = svv > 0 ? suv / sqrt(suu * svv) : NAN;
}

/* Tic labels on a log axis that spans less than about 20x (lmin, lmax: log10 of the data's range), where gnuplot's
 * decade tics would leave the axis without a single label: 1, 1.5, 2, 3, 5, 7 times the powers of ten. */
static void log_tics(FILE *g, const char *axis, double lmin, double lmax) {
    if (!(lmax - lmin < 1.3)) return;
    static const double mant[6] = {1, 1.5, 2, 3, 5, 7};
    int first = 1;
    fprintf(g, "set %stics (", axis);
    for (int d = (int)floor(lmin) - 1; d <= (int)ceil(lmax); d++)
        for (int k = 0; k < 6; k++) {
            double v = mant[k] * pow(10.0, d), lv = log10(v);
            if (lv < lmin - 0.08 || lv > lmax + 0.08) continue;
            fprintf(g, "%s'%g' %.10g", first ? "" : ", ", v, v);
            first = 0;
        }
    fprintf(g, ")\n");
}

static void range_of(const double *a, int32_t n, double *lo, double *hi) {
    *lo = INFINITY, *hi = -INFINITY;
    for (int32_t i = 0; i < n; i++) *lo = a[i] < *lo ? a[i] : *lo, *hi = a[i] > *hi ? a[i] : *hi;
}

static void write_script(FILE *g, const rs_plot_job *j, const rs_plot_opts *o, const char *title, char **labels,
                         int32_t n_groups, int bars, const rs_plot_info *info, const double *u, const double *v,
                         int32_t n) {
    rs_plot_terminal(j, g, o->width > 0 ? o->width : 800, o->height > 0 ? o->height : 600);
    fprintf(g, "set title ");
    rs_plot_quote(g, title);
    fprintf(g, " noenhanced\nset grid\nset key outside right top Left reverse font ',9' noenhanced\nset xlabel ");
    rs_plot_quote(g, o->x);
    fprintf(g, " noenhanced\nset ylabel ");
    rs_plot_quote(g, o->y);
    fprintf(g, " noenhanced\n");
    double lo, hi;
    if (o->logx) {
        fprintf(g, "set logscale x\nset format x '%%g'\n");
        range_of(u, n, &lo, &hi), log_tics(g, "x", lo, hi);
    }
    if (o->logy) {
        fprintf(g, "set logscale y\nset format y '%%g'\n");
        range_of(v, n, &lo, &hi), log_tics(g, "y", lo, hi);
    }
    fprintf(g, "set autoscale fix\nset offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05\nplot ");
    for (int32_t c = 0; c < n_groups; c++) {
        fprintf(g, "%s'%s/g%02d.dat' u 1:2%s w %s pt %d ps 1.2 lc %d ", c ? ", \\\n  " : "", j->dir,
                (int)c, bars ? ":3:4:5:6" : "", bars ? "xyerrorbars" : "points", 5 + 2 * (c % 6), (int)c + 1);
        if (n_groups > 1) fprintf(g, "t "), rs_plot_quote(g, labels[c]);
        else fprintf(g, "notitle");
    }
    if (o->fit && isfinite(info->fit_slope)) {
        const char *u = o->logx ? "log10(x)" : "x";
        fprintf(g, ", \\\n  %s%.10g + %.10g * %s%s w l lw 2 dt 2 lc rgb 'black' t 'least squares: slope %.3g, r = %.3f'",
                o->logy ? "10**(" : "", info->fit_intercept, info->fit_slope, u, o->logy ? ")" : "", info->fit_slope,
                info->fit_r);
    }
    fprintf(g, "\n");
}

rs_status rs_plot_scatter(const char *csv, const char *out, const rs_plot_opts *opts, rs_plot_info *info) {
    rs_plot_opts o = opts ? *opts : rs_plot_defaults();
    rs_plot_info tmp;
    info = info ? info : &tmp;
    memset(info, 0, sizeof *info);
    info->fit_slope = info->fit_intercept = info->fit_r = NAN;
    if (rs_plot_format_of(out) < 0) return rs_error(RS_ERR_ARG, "figure %s: the name must end in .png or .svg", out);
    rs_table t;
    RS_TRY(rs_table_read(csv, &t));
    cols c = {0};
    rs_status st = find_cols(&t, csv, &o, &c);
    if (st != RS_OK) return rs_table_free(&t), st;
    info->rows = t.n_rows;
    int32_t *grp = calloc((size_t)t.n_rows, sizeof *grp);
    double *u = malloc((size_t)t.n_rows * sizeof *u), *v = malloc((size_t)t.n_rows * sizeof *v);
    char *labels[RS_PLOT_MAX_CURVES] = {0};
    int32_t n_groups = 0, n = 0;
    if (!grp || !u || !v) st = rs_error(RS_ERR_NOMEM, "out of memory");
    for (int32_t r = 0; r < t.n_rows && st == RS_OK; r++) {
        grp[r] = -1;
        int wh = rs_plot_where_ok(&t, csv, o.where, r);
        if (wh < 0) { st = (rs_status)-wh; break; }
        if (!wh) { info->skipped_where++; continue; }
        const char *f = c.flag >= 0 ? rs_table_cell(&t, r, c.flag) : "";
        if (*f && strcmp(f, "0") && strcmp(f, "ok")) { info->skipped_flag++; continue; }
        double x = num_or_nan(&t, r, c.x), y = num_or_nan(&t, r, c.y);
        if (!ok_value(x, o.logx) || !ok_value(y, o.logy)) { info->skipped_nan++; continue; }
        char label[1024] = "";
        size_t w = 0;
        for (int i = 0; i < c.ng && w < sizeof label; i++)
            w += (size_t)snprintf(label + w, sizeof label - w, "%s%s=%s", i ? " " : "", t.names[c.group[i]],
                                  rs_table_cell(&t, r, c.group[i]));
        int32_t k = 0;
        while (k < n_groups && strcmp(labels[k], label)) k++;
        if (k == n_groups) {
            if (n_groups == RS_PLOT_MAX_CURVES) { st = rs_error(RS_ERR_ARG, "more than %d groups", RS_PLOT_MAX_CURVES); break; }
            if (!(labels[n_groups++] = strdup(label))) { st = rs_error(RS_ERR_NOMEM, "out of memory"); break; }
        }
        grp[r] = k;
        u[n] = o.logx ? log10(x) : x, v[n] = o.logy ? log10(y) : y, n++;
    }
    info->used = n, info->groups = n_groups;
    if (st == RS_OK && n == 0)
        st = rs_error(RS_ERR_FORMAT, "%s: no row left to plot (%d rows: %d flagged, %d NaN%s)", csv, info->rows,
                      info->skipped_flag, info->skipped_nan, o.logx || o.logy ? " or not positive on a log axis" : "");
    if (st == RS_OK && o.fit) fit_line(u, v, n, info);
    rs_plot_job j;
    if (st == RS_OK) st = rs_plot_begin(&j, out, "relstab-plot");
    if (st == RS_OK) {
        int bars = c.xse >= 0 || c.yse >= 0;
        for (int32_t k = 0; k < n_groups; k++) {
            char name[32];
            snprintf(name, sizeof name, "g%02d.dat", (int)k);
            FILE *d = rs_plot_open(&j, name);
            for (int32_t r = 0; d && r < t.n_rows; r++) {
                if (grp[r] != k) continue;
                double x = num_or_nan(&t, r, c.x), y = num_or_nan(&t, r, c.y);
                double xs = num_or_nan(&t, r, c.xse), ys = num_or_nan(&t, r, c.yse);
                xs = isfinite(xs) ? xs : 0, ys = isfinite(ys) ? ys : 0;
                fprintf(d, "%.10g %.10g %.10g %.10g %.10g %.10g\n", x, y, x - xs, x + xs, y - ys, y + ys);
            }
        }
        FILE *g = rs_plot_open(&j, "plot.gp");
        char title[1200];
        const char *base = strrchr(csv, '/');
        if (o.title) snprintf(title, sizeof title, "%s", o.title);
        else snprintf(title, sizeof title, "%s: %s against %s", base ? base + 1 : csv, o.y, o.x);
        if (g) write_script(g, &j, &o, title, labels, n_groups, bars, info, u, v, n);
        st = rs_plot_finish(&j, RS_OK);
    }
    for (int32_t k = 0; k < n_groups; k++) free(labels[k]);
    free(grp), free(u), free(v);
    rs_table_free(&t);
    return st;
}
