/* plot.h: figures, drawn by gnuplot from generated scripts. Three ready-made figures read from relstab's CSV files
 * (D, G, R against depth; D, G, R against epoch; one column against another), a small CSV table reader they share,
 * and the "plot job" that every figure in relstab goes through (a fresh temporary directory for the data and the
 * script, gnuplot run on it, the figure renamed into place only when gnuplot succeeded). The format of a figure
 * is chosen by its file name: ".png" (pngcairo) or ".svg" (svg). It computes nothing beyond means, standard errors
 * and least-squares lines; it never changes a CSV. docs/plot.md describes the figures and the CSV they accept. */
#pragma once
#include <stdio.h>

#include "relstab/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- CSV tables */
/* A whole CSV file with a header line, as strings. Blank lines are ignored; a row with a different number of
 * fields than the header is an error naming the file and line. */
typedef struct {
    int32_t n_cols, n_rows;
    char **names; /* [n_cols] */
    char **cells; /* [n_rows * n_cols], row-major; never NULL ("" for an empty field) */
    void *buffer; /* owned storage */
} rs_table;
/* Reads path (at most 256 MB, 4096 columns). An empty file (no header) is an error. */
rs_status rs_table_read(const char *path, rs_table *t);
int32_t rs_table_col(const rs_table *t, const char *name); /* column index, or -1 */
static inline const char *rs_table_cell(const rs_table *t, int32_t row, int32_t col) {
    return t->cells[(size_t)row * (size_t)t->n_cols + (size_t)col];
}
/* The cell as a number: 1 and *v set when it parses whole as a double ("nan", "inf" included), else 0. */
int rs_table_num(const rs_table *t, int32_t row, int32_t col, double *v);
void rs_table_free(rs_table *t);

/* ---------------------------------------------------------------- ready-made figures */
typedef struct {
    const char *title;  /* figure title; NULL: one naming the CSV file */
    const char *group;  /* comma-separated columns whose values tell the curves apart; NULL: the default of each
                           figure (below); "" : one curve */
    const char *nodes;  /* comma-separated node names to keep (exact names); NULL: every node */
    const char *where;  /* "COL=V1,V2,...": keep only the rows whose column COL is one of the values; NULL: all */
    const char *x, *y;  /* scatter only: the columns on the axes (required) */
    int logx, logy;     /* scatter only: log axes (default both 1) */
    int fit;            /* scatter only: draw the least-squares line of log y on log x (or y on x) with its slope */
    int width, height;  /* pixels (0: 1200 x 450 for the 3-panel figures, 800 x 600 for scatter) */
} rs_plot_opts;
rs_plot_opts rs_plot_defaults(void);

/* What a figure used and what it left out, for the caller to report. */
typedef struct {
    int32_t rows;          /* data rows in the CSV */
    int32_t used;          /* rows drawn (in at least one panel) */
    int32_t skipped_flag;  /* rows whose `flag` column is set (not empty, "0" or "ok") */
    int32_t skipped_nan;   /* rows with a value that is not a positive finite number on a log axis (or not finite) */
    int32_t skipped_node;  /* rows left out by opts.nodes (or the epoch figure's default choice of 12 nodes) */
    int32_t skipped_where; /* rows left out by opts.where */
    int32_t groups;        /* curves */
    /* scatter with opts.fit: the least-squares line v = intercept + slope u, where u, v are x, y or their log10 on
     * log axes, and the correlation coefficient of u and v over the points drawn (NaN with fewer than 2 points). */
    double fit_slope, fit_intercept, fit_r;
} rs_plot_info;

/* D, G and R against depth: three panels side by side in one figure, log y, the nodes on the x axis in the order
 * they first appear (their names as tic labels when every curve has the same nodes, else their index in the
 * net). Input: a `relstab measure` CSV (columns node, D, G, R, optional D_se, G_se, R_se, flag) or an aggregated
 * CSV (node and D_mean/D_se or D/D_se ...: for Q in D, G, R the value column is Q, else Q_mean). Curves: the
 * distinct values of opts->group; by default of the columns among group, model, data, checkpoint, mode, shuffle,
 * channel_mean, noise, estimator, epoch that take more than one value in the file (init vs trained, shuffled or
 * not, model ...). Several rows for one (curve, node) (e.g. seeds appended to one CSV) are averaged: the mean and
 * its standard error sd / sqrt(n) across rows; a single row keeps its Q_se column. Error bars where a standard
 * error is known. */
rs_status rs_plot_depth(const char *csv, const char *out, const rs_plot_opts *opts, rs_plot_info *info);
/* D, G and R against epoch from a training run's sens.csv (`train --track-every`; columns node, epoch, D, G, R):
 * three panels, log y, one curve per node (opts->nodes; by default every node when there are at most 12, else
 * 12 spread evenly over depth, the last node included; info->skipped_node counts the rest). */
rs_status rs_plot_epochs(const char *csv, const char *out, const rs_plot_opts *opts, rs_plot_info *info);
/* opts->y against opts->x, one point style per value of opts->group (default: none), log axes by default (e.g.
 * test error against R at the output); error bars from the columns X_se / Y_se when they exist; with opts->fit,
 * the least-squares line (in log-log coordinates on log axes) and its slope in the legend. */
rs_status rs_plot_scatter(const char *csv, const char *out, const rs_plot_opts *opts, rs_plot_info *info);

/* The figures of a training run tracked with --track-every, from RUN/sens.csv: RUN/sens.png (rs_plot_epochs) and
 * RUN/depth.png (rs_plot_depth of the first and the last tracked epoch, one curve each). */
rs_status rs_plot_run(const char *run_dir);

/* ---------------------------------------------------------------- plot jobs (for writing new figures) */
/* Usage:
 *     rs_plot_job j; RS_TRY(rs_plot_begin(&j, "fig.svg", "relstab-fig"));
 *     FILE *d = rs_plot_open(&j, "a.dat");   // data files in j.dir, closed by rs_plot_finish
 *     FILE *g = rs_plot_open(&j, "plot.gp"); // the script: the first one named *.gp is the one run
 *     rs_plot_terminal(&j, g, 1000, 650);    // "set terminal ...; set output '<temporary name>'"
 *     fprintf(g, "plot '%s/a.dat' u 1:2 w lp\n", j.dir);
 *     return rs_plot_finish(&j, RS_OK);      // runs gnuplot, renames the figure into place, removes j.dir
 * rs_plot_finish with a status other than RS_OK only cleans up and returns that status. Output paths may not
 * contain quotes or newlines (they are written into the script). */
#define RS_PLOT_MAX_FILES 200
typedef enum { RS_PLOT_PNG = 0, RS_PLOT_SVG = 1 } rs_plot_format;
typedef struct {
    char dir[512];      /* the temporary directory (under $TMPDIR or /tmp) */
    char tmp_out[4200]; /* the temporary figure path gnuplot writes; renamed to out on success */
    const char *out;
    rs_plot_format format;
    int32_t n_files;
    FILE *files[RS_PLOT_MAX_FILES];
    char *paths[RS_PLOT_MAX_FILES];
    int32_t script; /* index of the script in files, -1 before rs_plot_open("*.gp") */
    rs_status failed; /* the first error of rs_plot_open, reported by rs_plot_finish */
} rs_plot_job;
/* Checks out's extension (.png or .svg, case-insensitive) and characters, and creates the temporary directory
 * "<TMPDIR>/<prefix>-XXXXXX". Does not touch out. */
rs_status rs_plot_begin(rs_plot_job *j, const char *out, const char *prefix);
/* Opens j->dir/name for writing; NULL on failure (the error is kept and returned by rs_plot_finish). */
FILE *rs_plot_open(rs_plot_job *j, const char *name);
/* Writes the terminal (pngcairo or svg, by the output's extension), its size in pixels and the output line. */
void rs_plot_terminal(const rs_plot_job *j, FILE *script, int width, int height);
/* Writes s as a gnuplot single-quoted string (quotes doubled, line breaks as spaces), quotes included. */
void rs_plot_quote(FILE *script, const char *s);
rs_status rs_plot_finish(rs_plot_job *j, rs_status st);
/* Runs `gnuplot script` and waits; an error if gnuplot is missing or exits non-zero (its stderr passes through). */
rs_status rs_plot_run_gnuplot(const char *script);
/* Checks a figure path before any work: the extension (.png or .svg), no quotes or newlines, and an existing
 * writable directory to put it in. rs_plot_begin does the same. */
rs_status rs_plot_check_output(const char *out);
/* rs_plot_format for a file name; -1 if it is neither .png nor .svg. */
int rs_plot_format_of(const char *path);

#ifdef __cplusplus
}
#endif
