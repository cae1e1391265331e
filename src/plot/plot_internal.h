/* plot_internal.h: the series behind the three-panel figures (D, G, R against depth or epoch): rows of a CSV
 * grouped into curves and aggregated per (curve, x) into a mean and a standard error. Shared by src/plot and its
 * tests; not public API. */
#pragma once
#include "relstab/plot.h"

#define RS_PLOT_MAX_CURVES 64

typedef struct {
    char *key;                     /* the x key as written in the CSV (node name, epoch) */
    double x;                      /* position on the x axis */
    int32_t n[3];                  /* rows averaged, per quantity (D, G, R) */
    double mean[3], m2[3], se1[3]; /* running mean and sum of squared deviations; se1: the row's own Q_se */
} rs_plot_point;

typedef struct {
    char *label; /* "" for a single curve */
    rs_plot_point *pts;
    int32_t n_pts, cap;
} rs_plot_curve;

typedef struct {
    rs_plot_curve curves[RS_PLOT_MAX_CURVES];
    int32_t n_curves;
    char **xkeys; /* every x key, in order of first appearance over the file */
    int32_t n_xkeys, cap_xkeys;
} rs_plot_series;

/* Adds one observation of quantity q (0 D, 1 G, 2 R) with its own standard error (NaN if unknown) to the point
 * (curve label, x key); creates both as needed. */
rs_status rs_plot_series_add(rs_plot_series *s, const char *label, const char *xkey, double x, int q, double v,
                             double se);
/* The aggregate of a point: the mean over its rows and the standard error of that mean (sd / sqrt(n) for n > 1,
 * the row's own standard error for n = 1, NaN if unknown). Returns the number of rows (0: no value). */
int32_t rs_plot_point_stat(const rs_plot_point *p, int q, double *mean, double *se);
void rs_plot_series_free(rs_plot_series *s);
/* Builds the series of a D/G/R CSV: x_col NULL means depth (x = node, by first appearance), else the numeric
 * column x_col (epoch). group: as rs_plot_opts.group; def_groups: the default candidate columns (NULL-terminated)
 * used when group is NULL; always_node: 1 to put the node into the curve label (epochs). */
rs_status rs_plot_series_build(const rs_table *t, const char *csv, const char *x_col, const rs_plot_opts *o,
                               const char *const *def_groups, int always_node, rs_plot_series *s, rs_plot_info *info);
/* 1 if row r passes where ("COL=V1,V2,...", NULL: every row), else 0; minus the status (error set) when it is
 * malformed or the column is missing. */
int rs_plot_where_ok(const rs_table *t, const char *csv, const char *where, int32_t r);
