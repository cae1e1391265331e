/* series.c: rows of a D/G/R CSV grouped into curves and aggregated per (curve, x): the mean over rows and its
 * standard error. Flagged rows and values that cannot go on a log axis are left out and counted. It reads a table;
 * it draws nothing (src/plot/figures.c does). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot_internal.h"

static const char *Q_NAME[3] = {"D", "G", "R"};

static char *dup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static rs_status add_xkey(rs_plot_series *s, const char *key) {
    for (int32_t i = 0; i < s->n_xkeys; i++)
        if (!strcmp(s->xkeys[i], key)) return RS_OK;
    if (s->n_xkeys == s->cap_xkeys) {
        int32_t cap = s->cap_xkeys ? 2 * s->cap_xkeys : 64;
        char **k = realloc(s->xkeys, (size_t)cap * sizeof *k);
        if (!k) return rs_error(RS_ERR_NOMEM, "out of memory");
        s->xkeys = k, s->cap_xkeys = cap;
    }
    if (!(s->xkeys[s->n_xkeys] = dup(key))) return rs_error(RS_ERR_NOMEM, "out of memory");
    s->n_xkeys++;
    return RS_OK;
}

static rs_plot_curve *find_curve(rs_plot_series *s, const char *label) {
    for (int32_t i = 0; i < s->n_curves; i++)
        if (!strcmp(s->curves[i].label, label)) return &s->curves[i];
    if (s->n_curves == RS_PLOT_MAX_CURVES) {
        rs_error(RS_ERR_ARG, "more than %d curves: choose fewer with --group or --nodes", RS_PLOT_MAX_CURVES);
        return NULL;
    }
    rs_plot_curve *c = &s->curves[s->n_curves];
    memset(c, 0, sizeof *c);
    if (!(c->label = dup(label))) return rs_error(RS_ERR_NOMEM, "out of memory"), NULL;
    s->n_curves++;
    return c;
}

static rs_plot_point *find_point(rs_plot_curve *c, const char *key, double x) {
    for (int32_t i = 0; i < c->n_pts; i++)
        if (!strcmp(c->pts[i].key, key)) return &c->pts[i];
    if (c->n_pts == c->cap) {
        int32_t cap = c->cap ? 2 * c->cap : 32;
        rs_plot_point *p = realloc(c->pts, (size_t)cap * sizeof *p);
        if (!p) return rs_error(RS_ERR_NOMEM, "out of memory"), NULL;
        c->pts = p, c->cap = cap;
    }
    rs_plot_point *p = &c->pts[c->n_pts];
    memset(p, 0, sizeof *p);
    if (!(p->key = dup(key))) return rs_error(RS_ERR_NOMEM, "out of memory"), NULL;
    p->x = x;
    c->n_pts++;
    return p;
}

rs_status rs_plot_series_add(rs_plot_series *s, const char *label, const char *xkey, double x, int q, double v,
                             double se) {
    rs_plot_curve *c = find_curve(s, label);
    if (!c) return RS_ERR_ARG;
    rs_plot_point *p = find_point(c, xkey, x);
    if (!p) return RS_ERR_NOMEM;
    RS_TRY(add_xkey(s, xkey));
    int32_t n = ++p->n[q];
    double d = v - p->mean[q];
    p->mean[q] += d / n;
    p->m2[q] += d * (v - p->mean[q]);
    p->se1[q] = se;
    return RS_OK;
}

int32_t rs_plot_point_stat(const rs_plot_point *p, int q, double *mean, double *se) {
    int32_t n = p->n[q];
    *mean = n ? p->mean[q] : NAN;
    if (n > 1) *se = sqrt(p->m2[q] / (n - 1) / n);
    else if (n == 1 && isfinite(p->se1[q]) && p->se1[q] >= 0) *se = p->se1[q];
    else *se = NAN;
    return n;
}

void rs_plot_series_free(rs_plot_series *s) {
    for (int32_t i = 0; i < s->n_curves; i++) {
        for (int32_t j = 0; j < s->curves[i].n_pts; j++) free(s->curves[i].pts[j].key);
        free(s->curves[i].pts);
        free(s->curves[i].label);
    }
    for (int32_t i = 0; i < s->n_xkeys; i++) free(s->xkeys[i]);
    free(s->xkeys);
    memset(s, 0, sizeof *s);
}

/* The columns that label the curves: opts->group split on commas (each must exist), or the default candidates
 * that exist and take more than one value. *count gets their number (at most 16). */
static rs_status group_columns(const rs_table *t, const char *csv, const char *group, const char *const *def,
                               int32_t *cols, int *count) {
    int n = 0;
    *count = 0;
    if (group) {
        char buf[1024];
        if (snprintf(buf, sizeof buf, "%s", group) >= (int)sizeof buf) return rs_error(RS_ERR_ARG, "--group too long");
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int32_t c = rs_table_col(t, tok);
            if (c < 0) return rs_error(RS_ERR_FORMAT, "%s has no column '%s' (--group)", csv, tok);
            if (n == 16) return rs_error(RS_ERR_ARG, "--group: at most 16 columns");
            cols[n++] = c;
        }
        *count = n;
        return RS_OK;
    }
    for (int i = 0; def && def[i] && n < 16; i++) {
        int32_t c = rs_table_col(t, def[i]);
        if (c < 0) continue;
        for (int32_t r = 1; r < t->n_rows; r++)
            if (strcmp(rs_table_cell(t, r, c), rs_table_cell(t, 0, c))) {
                cols[n++] = c;
                break;
            }
    }
    *count = n;
    return RS_OK;
}

static int in_list(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && !strncmp(p, name, n)) return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* 1 if row r passes opts.where ("COL=V1,V2,..."), else 0; minus the status with the error set when it is
 * malformed or the column is missing. */
int rs_plot_where_ok(const rs_table *t, const char *csv, const char *where, int32_t r) {
    if (!where) return 1;
    const char *eq = strchr(where, '=');
    char col[256];
    if (!eq || eq == where || (size_t)(eq - where) >= sizeof col)
        return -(int)rs_error(RS_ERR_ARG, "--where expects COL=V1,V2,..., got '%s'", where);
    memcpy(col, where, (size_t)(eq - where));
    col[eq - where] = 0;
    int32_t c = rs_table_col(t, col);
    if (c < 0) return -(int)rs_error(RS_ERR_FORMAT, "%s has no column '%s' (--where)", csv, col);
    return in_list(eq + 1, rs_table_cell(t, r, c));
}

static int flagged(const char *f) { return *f && strcmp(f, "0") && strcmp(f, "ok"); }

static void make_label(const rs_table *t, int32_t r, const int32_t *gc, int ng, const char *node, char *buf, size_t len) {
    size_t w = 0;
    buf[0] = 0;
    if (node) w += (size_t)snprintf(buf, len, "%s", node);
    for (int i = 0; i < ng && w < len; i++)
        w += (size_t)snprintf(buf + w, len - w, "%s%s=%s", w ? " " : "", t->names[gc[i]], rs_table_cell(t, r, gc[i]));
}

rs_status rs_plot_series_build(const rs_table *t, const char *csv, const char *x_col, const rs_plot_opts *o,
                               const char *const *def_groups, int always_node, rs_plot_series *s, rs_plot_info *info) {
    memset(s, 0, sizeof *s);
    int32_t node = rs_table_col(t, "node"), xc = x_col ? rs_table_col(t, x_col) : -1, val[3], sec[3];
    int32_t flag = rs_table_col(t, "flag"), gc[16];
    if (node < 0) return rs_error(RS_ERR_FORMAT, "%s has no column 'node'", csv);
    if (x_col && xc < 0) return rs_error(RS_ERR_FORMAT, "%s has no column '%s'", csv, x_col);
    for (int q = 0; q < 3; q++) {
        char nm[16];
        snprintf(nm, sizeof nm, "%s_mean", Q_NAME[q]);
        val[q] = rs_table_col(t, Q_NAME[q]);
        if (val[q] < 0) val[q] = rs_table_col(t, nm);
        if (val[q] < 0) return rs_error(RS_ERR_FORMAT, "%s has no column '%s' (or '%s')", csv, Q_NAME[q], nm);
        snprintf(nm, sizeof nm, "%s_se", Q_NAME[q]);
        sec[q] = rs_table_col(t, nm);
    }
    if (t->n_rows == 0) return rs_error(RS_ERR_FORMAT, "%s has a header but no rows: nothing to plot", csv);
    int ng;
    RS_TRY(group_columns(t, csv, o->group, def_groups, gc, &ng));
    memset(info, 0, sizeof *info);
    info->rows = t->n_rows;
    rs_status st = RS_OK;
    for (int32_t r = 0; r < t->n_rows && st == RS_OK; r++) {
        const char *nd = rs_table_cell(t, r, node);
        int w = rs_plot_where_ok(t, csv, o->where, r);
        if (w < 0) { st = (rs_status)-w; break; }
        if (!w) { info->skipped_where++; continue; }
        if (o->nodes && !in_list(o->nodes, nd)) { info->skipped_node++; continue; }
        if (flag >= 0 && flagged(rs_table_cell(t, r, flag))) { info->skipped_flag++; continue; }
        double x = 0;
        if (x_col && (!rs_table_num(t, r, xc, &x) || !isfinite(x))) { info->skipped_nan++; continue; }
        char label[1024];
        make_label(t, r, gc, ng, always_node ? nd : NULL, label, sizeof label);
        int used = 0, bad = 0;
        for (int q = 0; q < 3 && st == RS_OK; q++) {
            double v, se = NAN;
            if (!rs_table_num(t, r, val[q], &v) || !isfinite(v) || v <= 0) { bad = 1; continue; }
            if (sec[q] >= 0 && !rs_table_num(t, r, sec[q], &se)) se = NAN;
            st = rs_plot_series_add(s, label, x_col ? rs_table_cell(t, r, xc) : nd, x, q, v, se);
            used = 1;
        }
        info->skipped_nan += bad;
        info->used += used;
    }
    info->groups = s->n_curves;
    if (st == RS_OK && info->used == 0)
        st = rs_error(RS_ERR_FORMAT, "%s: no row left to plot (%d rows: %d flagged, %d NaN or not positive, %d other "
                                     "nodes, %d not --where)", csv, info->rows, info->skipped_flag, info->skipped_nan,
                      info->skipped_node, info->skipped_where);
    if (st != RS_OK) rs_plot_series_free(s);
    return st;
}
