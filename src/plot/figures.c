/* figures.c: the three-panel figures of D, G and R against depth (rs_plot_depth) and against epoch
 * (rs_plot_epochs): the series of src/plot/series.c written as data files, one per curve and quantity, and a
 * gnuplot script with three panels placed by hand (so that one legend, right of the panels, serves all three).
 * It draws; the numbers are the series'. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot_internal.h"

static const char *Q_TITLE[3] = {"D (deformations)", "G (noise)", "R = D / G"};
static const char *COLORS[10] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

rs_plot_opts rs_plot_defaults(void) {
    rs_plot_opts o;
    memset(&o, 0, sizeof o);
    o.logx = o.logy = 1;
    return o;
}

static int32_t xkey_index(const rs_plot_series *s, const char *key) {
    for (int32_t i = 0; i < s->n_xkeys; i++)
        if (!strcmp(s->xkeys[i], key)) return i;
    return -1;
}

/* Depth: node names on the axis when one curve has every node (the others may have holes); else the relative
 * depth of the node in its own curve, (i) / (n - 1). Returns 1 for named tics. */
static int place_depth(rs_plot_series *s) {
    int named = 0;
    for (int32_t c = 0; c < s->n_curves; c++) named |= s->curves[c].n_pts == s->n_xkeys;
    for (int32_t c = 0; c < s->n_curves; c++) {
        rs_plot_curve *cv = &s->curves[c];
        for (int32_t i = 0; i < cv->n_pts; i++)
            cv->pts[i].x = named ? xkey_index(s, cv->pts[i].key) : cv->n_pts > 1 ? (double)i / (cv->n_pts - 1) : 0;
    }
    return named;
}

static int cmp_x(const void *a, const void *b) {
    double x = ((const rs_plot_point *)a)->x, y = ((const rs_plot_point *)b)->x;
    return (x > y) - (x < y);
}

static void write_data(FILE *d, const rs_plot_curve *cv, int q) {
    for (int32_t i = 0; i < cv->n_pts; i++) {
        double m, se;
        if (!rs_plot_point_stat(&cv->pts[i], q, &m, &se)) continue;
        if (!isfinite(se)) se = 0;
        fprintf(d, "%.10g %.10g %.10g %.10g\n", cv->pts[i].x, m, m - se, m + se);
    }
}

static size_t max_label(const rs_plot_series *s) {
    size_t m = 0;
    for (int32_t c = 0; c < s->n_curves; c++) m = strlen(s->curves[c].label) > m ? strlen(s->curves[c].label) : m;
    return m;
}

/* The script: three panels, manual margins, the legend in a column right of them when there are several curves. */
static void write_script(FILE *g, const rs_plot_job *j, const rs_plot_series *s, const rs_plot_opts *o,
                         const char *title, const char *xlabel, int named) {
    int W = o->width > 0 ? o->width : 1200, H = o->height > 0 ? o->height : 450;
    rs_plot_terminal(j, g, W, H);
    double key_w = 0;
    if (s->n_curves > 1) {
        key_w = (double)(max_label(s) * 7 + 70) / W;
        key_w = key_w > 0.4 ? 0.4 : key_w;
    }
    double left = 0.06, right = 0.99 - key_w, gap = 0.06, pw = (right - left - 2 * gap) / 3;
    double bottom = named ? (s->n_xkeys > 1 ? 0.26 : 0.16) : 0.14, top = 0.86;
    fprintf(g, "set multiplot title ");
    rs_plot_quote(g, title);
    fprintf(g, " noenhanced\nset logscale y\nset format y '10^{%%L}'\nset grid\nset tmargin at screen %g\n"
               "set bmargin at screen %g\nset xlabel '%s'\n", top, bottom, xlabel);
    if (named) {
        fprintf(g, "set xrange [-0.5:%g]\nset xtics rotate by -60 font ',8' noenhanced (", s->n_xkeys - 0.5);
        for (int32_t i = 0; i < s->n_xkeys; i++) {
            fprintf(g, "%s", i ? ", " : "");
            rs_plot_quote(g, s->xkeys[i]);
            fprintf(g, " %d", i);
        }
        fprintf(g, ")\n");
    } else if (!strcmp(xlabel, "epoch")) {
        fprintf(g, "set autoscale xfix\nset offsets graph 0.03, graph 0.03, 0, 0\n");
    } else {
        fprintf(g, "set xrange [-0.05:1.05]\n");
    }
    for (int q = 0; q < 3; q++) {
        double l = left + q * (pw + gap);
        fprintf(g, "set lmargin at screen %g\nset rmargin at screen %g\nset title '%s'\n", l, l + pw, Q_TITLE[q]);
        if (q == 2 && s->n_curves > 1)
            fprintf(g, "set key at screen 0.995, %g right top vertical Left reverse font ',9' samplen 2\n", top);
        else fprintf(g, "unset key\n");
        fprintf(g, "plot ");
        for (int32_t c = 0; c < s->n_curves; c++) {
            fprintf(g, "%s'%s/c%02d_%d.dat' u 1:2:3:4 w yerrorlines lw 1.5 pt %d ps 0.8 lc rgb '%s' t ", c ? ", \\\n  " : "",
                    j->dir, (int)c, q, 4 + 2 * (c / 10 % 4), COLORS[c % 10]);
            rs_plot_quote(g, s->curves[c].label);
            fprintf(g, " noenhanced");
        }
        fprintf(g, "\n");
    }
    fprintf(g, "unset multiplot\n");
}

static rs_status draw(const char *csv, const char *out, const rs_plot_opts *o, rs_plot_series *s, int named,
                      const char *xlabel, const char *what) {
    rs_plot_job j;
    rs_status st = rs_plot_begin(&j, out, "relstab-plot");
    if (st != RS_OK) return rs_plot_finish(&j, st);
    for (int32_t c = 0; c < s->n_curves && st == RS_OK; c++) {
        qsort(s->curves[c].pts, (size_t)s->curves[c].n_pts, sizeof(rs_plot_point), cmp_x);
        for (int q = 0; q < 3; q++) {
            char name[32];
            snprintf(name, sizeof name, "c%02d_%d.dat", (int)c, q);
            FILE *d = rs_plot_open(&j, name);
            if (!d) return rs_plot_finish(&j, RS_OK);
            write_data(d, &s->curves[c], q);
        }
    }
    FILE *g = rs_plot_open(&j, "plot.gp");
    if (!g) return rs_plot_finish(&j, RS_OK);
    char title[1200];
    const char *base = strrchr(csv, '/');
    snprintf(title, sizeof title, "%s", o->title ? o->title : "");
    if (!o->title) snprintf(title, sizeof title, "%s: %s", base ? base + 1 : csv, what);
    write_script(g, &j, s, o, title, xlabel, named);
    return rs_plot_finish(&j, RS_OK);
}

rs_status rs_plot_depth(const char *csv, const char *out, const rs_plot_opts *opts, rs_plot_info *info) {
    static const char *const def[] = {"group", "model", "data", "checkpoint", "mode", "shuffle", "channel_mean",
                                      "noise", "estimator", "epoch", NULL};
    rs_plot_opts o = opts ? *opts : rs_plot_defaults();
    rs_plot_info tmp;
    info = info ? info : &tmp;
    if (rs_plot_format_of(out) < 0) return rs_error(RS_ERR_ARG, "figure %s: the name must end in .png or .svg", out);
    rs_table t;
    RS_TRY(rs_table_read(csv, &t));
    rs_plot_series s;
    rs_status st = rs_plot_series_build(&t, csv, NULL, &o, def, 0, &s, info);
    rs_table_free(&t);
    if (st != RS_OK) return st;
    int named = place_depth(&s);
    st = draw(csv, out, &o, &s, named, named ? "node" : "relative depth (node index / last)", "D, G, R by node");
    rs_plot_series_free(&s);
    return st;
}

/* The default node choice of the epoch figure: every node when there are at most 12, else 12 spread evenly over
 * the order of first appearance, the last included. Writes a comma-separated list into buf. */
static rs_status default_nodes(const rs_table *t, const char *csv, char **buf) {
    int32_t node = rs_table_col(t, "node");
    if (node < 0) return rs_error(RS_ERR_FORMAT, "%s has no column 'node'", csv);
    rs_plot_series names;
    memset(&names, 0, sizeof names);
    for (int32_t r = 0; r < t->n_rows; r++)
        if (rs_plot_series_add(&names, "", rs_table_cell(t, r, node), 0, 0, 1, NAN) != RS_OK)
            return rs_plot_series_free(&names), RS_ERR_NOMEM;
    *buf = NULL;
    int32_t n = names.n_xkeys;
    if (n > 12) {
        size_t len = 1;
        for (int32_t i = 0; i < n; i++) len += strlen(names.xkeys[i]) + 1;
        if (!(*buf = calloc(len, 1))) return rs_plot_series_free(&names), rs_error(RS_ERR_NOMEM, "out of memory");
        for (int k = 0; k < 12; k++) {
            int32_t i = (int32_t)((double)k * (n - 1) / 11 + 0.5);
            if (k) strcat(*buf, ",");
            strcat(*buf, names.xkeys[i]);
        }
    }
    rs_plot_series_free(&names);
    return RS_OK;
}

rs_status rs_plot_epochs(const char *csv, const char *out, const rs_plot_opts *opts, rs_plot_info *info) {
    rs_plot_opts o = opts ? *opts : rs_plot_defaults();
    rs_plot_info tmp;
    info = info ? info : &tmp;
    if (rs_plot_format_of(out) < 0) return rs_error(RS_ERR_ARG, "figure %s: the name must end in .png or .svg", out);
    rs_table t;
    RS_TRY(rs_table_read(csv, &t));
    char *sel = NULL;
    rs_status st = o.nodes ? RS_OK : default_nodes(&t, csv, &sel);
    if (sel) o.nodes = sel;
    if (!o.group) o.group = "";
    rs_plot_series s;
    if (st == RS_OK) st = rs_plot_series_build(&t, csv, "epoch", &o, NULL, 1, &s, info);
    rs_table_free(&t);
    free(sel);
    if (st != RS_OK) return st;
    st = draw(csv, out, &o, &s, 0, "epoch", "D, G, R during training");
    rs_plot_series_free(&s);
    return st;
}
