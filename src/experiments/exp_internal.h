/* exp_internal.h: what the files of src/experiments share: a run of a grid (what to train, what to measure, where),
 * the settings of each scale, tables of aggregated quantities, verdicts, and the figure helpers.
 * Not public: `relstab reproduce` (experiments.h) is the interface. */
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "relstab/experiments.h"
#include "relstab/measure.h"
#include "relstab/train.h"

/* ---------------------------------------------------------------- one run of a grid */
enum { EXP_M_INIT = 1, EXP_M_TRAINED = 2, EXP_M_SHUF1 = 4, EXP_M_SHUF2 = 8, EXP_M_SPECTRA = 16 };

typedef struct {
    char model[32];
    char label[64];        /* what the run is in the figures: "lenet", "noise=10" ... */
    char data[512];        /* dataset spec */
    char recipe[32];
    int32_t epochs, width, depth;
    int64_t ptr;
    double corrupt;        /* training (and probe) corruption std */
    double lr;             /* > 0: overrides the recipe's */
    double ridge;          /* >= 0: overrides the recipe's; < 0: the recipe's */
    uint64_t seed;
    char dir[1000];        /* the run directory */
    int32_t measure;       /* EXP_M_* */
    int64_t P;
    int32_t style_1d;      /* the 1-D paper's measurement: channel mean, rectified noise, the blocks' mul nodes */
    int32_t output_only;   /* measure the output node only */
    double est_seconds;    /* estimated time (dry run, ordering) */
} exp_run;

/* Trains (or resumes) the run, then measures what run->measure asks, writing into run->dir:
 * sens_{init,trained,shuffle1,shuffle2}.csv (the tidy CSV of measure.h), spectra_{init,trained}.csv and last
 * result.csv (best_test_err, best_epoch, epochs_done): its presence marks a finished run, which is skipped. The
 * directory is locked (rs_run_lock_acquire of train.h) while the run works on it. */
rs_status exp_run_do(const exp_run *run, int32_t threads, int32_t quiet);
int exp_run_finished(const exp_run *run);
/* Estimated seconds (FLOPs x images x epochs, plus the measurements) at THROUGHPUT_FLOPS FLOP/s. */
double exp_run_estimate(const exp_run *run);
/* The run's best test error from its result.csv (NAN if missing). */
double exp_run_test_err(const exp_run *run);

/* ---------------------------------------------------------------- the context of an experiment */
typedef struct {
    const rs_reproduce_opts *o;
    const char *data;      /* "fashionmnist" or the cifar10 spec */
    int32_t cifar;         /* 1 when the data is CIFAR-10 */
    char dir[1100];        /* OUT/EXPERIMENT */
    FILE *verdicts;        /* OUT/EXPERIMENT/verdicts.csv being written */
    FILE *notes;           /* OUT/EXPERIMENT/settings.txt being written */
} exp_ctx;

/* Writes a verdict row: figure, claim, verdict (holds / partly / does not hold / not measured), the numbers. */
void exp_verdict(exp_ctx *c, const char *figure, const char *claim, const char *verdict, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Runs the grid of runs (or prints it for a dry run). Returns RS_OK when every run finished. */
rs_status exp_grid(exp_ctx *c, exp_run *runs, int32_t n);
/* 1 if the user's --models list (if any) keeps model. */
int exp_model_wanted(const exp_ctx *c, const char *model);
/* Seeds of a model at this scale: the user's --seeds, else the scale's `quick` / `full` number. */
int32_t exp_seeds(const exp_ctx *c, int32_t quick, int32_t full);

/* ---------------------------------------------------------------- aggregated layer-wise curves */
typedef struct {
    char model[32], cond[32], node[96];
    int32_t k;             /* the node's position among the measured nodes (0-based) */
    int32_t n;             /* seeds */
    double mean[3], se[3]; /* D, G, R: mean and standard error across seeds */
    double lmean[3];       /* mean of log10 (the geometric mean's log) */
} exp_curve_row;

typedef struct {
    exp_curve_row *rows;
    int32_t n, cap;
} exp_curves;

/* Adds the sens CSV of one seed to the curves of (model, cond); sums are kept until exp_curves_finish. */
rs_status exp_curves_add_csv(exp_curves *cv, const char *model, const char *cond, const char *csv);
void exp_curves_finish(exp_curves *cv);
void exp_curves_free(exp_curves *cv);
/* Rows of (model, cond) in node order; returns the count (rows points into cv). */
int32_t exp_curves_select(const exp_curves *cv, const char *model, const char *cond, const exp_curve_row **out,
                          int32_t max);
/* The tidy CSV (experiment, model, condition, node, layer, quantity, mean, se, n, gmean) and the wide figure CSV
 * (model, condition, node, layer, D_mean, D_se, G_mean, G_se, R_mean, R_se, n), appending to open files. */
void exp_curves_write_tidy(const exp_curves *cv, const char *experiment, FILE *f);
rs_status exp_curves_write_wide(const exp_curves *cv, const char *path);

/* ---------------------------------------------------------------- statistics */
typedef struct {
    int ok, n;
    double slope, slope_se, intercept, r;
} exp_fit;
/* Least squares y = a + b x over the finite points, with the slope's standard error and Pearson's r. */
exp_fit exp_fit_line(const double *x, const double *y, int32_t n);
/* The a-priori verdict rules (docs/experiments.md states them):
 * an exponent: holds if |fitted - predicted| <= 2 se + 0.1 |predicted|, partly if the signs agree, else does not;
 * a trend (sign = +1 increasing, -1 decreasing): holds if sign * slope > 2 se, partly if sign * slope > 0. */
const char *exp_exponent_verdict(double fitted, double se, double predicted);
const char *exp_trend_verdict(double slope, double se, int sign);
/* mean and standard error of v[0..n) (se = sd / sqrt(n), NaN for n < 2). */
void exp_mean_se(const double *v, int32_t n, double *mean, double *se);

/* ---------------------------------------------------------------- figures and files */
/* A figure drawn as PNG and SVG: OUT/EXPERIMENT/NAME.{png,svg} via the plot module's depth figure. */
rs_status exp_fig_depth(exp_ctx *c, const char *name, const char *csv, const char *group, const char *nodes,
                        const char *title);
rs_status exp_fig_scatter(exp_ctx *c, const char *name, const char *csv, const char *x, const char *y,
                          const char *group, int logx, int logy, int fit, const char *title);
/* Appends "NAME\tTITLE" to OUT/EXPERIMENT/figures.txt (the report's list of figures, in order). */
void exp_fig_register(exp_ctx *c, const char *name, const char *title);
/* Comma-separated node names of a model's curve (for the depth figures), into buf. */
void exp_nodes_of(const exp_curves *cv, const char *model, const char *cond, char *buf, size_t len);

/* ---------------------------------------------------------------- the experiments */
rs_status exp_theory(exp_ctx *c);
rs_status exp_scale1d(exp_ctx *c);
rs_status exp_output_vs_error(exp_ctx *c);
rs_status exp_layers(exp_ctx *c);
rs_status exp_spectra(exp_ctx *c);
rs_status exp_twopoints(exp_ctx *c);
/* The run grids that spectra reuses (the layers and twopoints runs): fills runs, returns the count. */
int32_t exp_layers_runs(exp_ctx *c, exp_run *runs, int32_t max);
int32_t exp_twopoints_runs(exp_ctx *c, exp_run *runs, int32_t max);

/* Layer-wise aggregation, figures (one per model) and verdicts of runs whose sens_*.csv exist; shuffle_kind 0:
 * real data (early unchanged, late raised), 1: scale detection (little change). */
rs_status exp_layerwise(exp_ctx *c, const char *experiment, const exp_run *runs, int32_t n, int shuffle_kind);
/* Runs of `model` among runs[0..n). */
int32_t exp_count_seeds(const exp_run *runs, int32_t n, const char *model);
/* Makes (once) OUT/data/fashionmnist-testN: the FashionMNIST training files and the first n_test test images;
 * spec receives "fashionmnist:DIR". */
rs_status exp_prepare_fmnist(const rs_reproduce_opts *o, int64_t n_test, char *spec, size_t len);
/* the run directory root: OUT/runs */
void exp_run_dir(const exp_ctx *c, exp_run *r, const char *experiment);
