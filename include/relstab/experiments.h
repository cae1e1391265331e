/* experiments.h: the paper's experiments as grids of ordinary training runs (`relstab reproduce`), their
 * aggregation across seeds, the verdicts against the paper's claims, and the HTML report.
 * Every run of a grid is a run directory of train.h, measured with measure.h: a finished run is skipped when the
 * experiment is run again, an interrupted one resumes from its last finished epoch.
 * It does not train or measure by itself (train.h, measure.h, theory.h do) and it does not decide how runs are
 * dispatched beyond rs_grid_run / rs_grid_run_ranks, the one place that does (in order, a process pool, or the
 * MPI ranks).
 * Under mpirun, rs_reproduce is run by every rank: rank 0 writes everything outside the run directories (tables,
 * figures, verdicts, settings, timing, the report); the other ranks only run the runs rank 0 hands them. */
#pragma once
#include <stdint.h>

#include "relstab/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- the grid executor */
/* Runs fn(job, ctx) for job = 0..n-1, longest first (by cost[job], estimated seconds; NULL: in index order).
 * jobs <= 1: in this process, one after the other. jobs > 1: that many forked children side by side, each with
 * rs_set_threads(max(1, cores / jobs)); a child runs one job and exits with 0 (RS_OK) or 1. Every job is run even
 * when one fails; the first failure's status is returned (for a child: a message naming the job). fn must be safe
 * to run in a forked child: it writes its results to files, not to memory the caller reads.
 * Under mpirun (rs_dist_size() > 1) these are jobs of rank 0 (figures, data files that rank 0 goes on to read): rank
 * 0 runs them one after the other (in local mode, dist.h), every other rank runs nothing and gets
 * RS_ERR_UNSUPPORTED, so that the experiment stops there on that rank. */
rs_status rs_grid_run(int32_t n, const double *cost, int32_t jobs, rs_status (*fn)(int32_t job, void *ctx),
                      void *ctx);
/* A grid of independent runs, each writing only into its own run directory (which it locks): as rs_grid_run on one
 * rank; under mpirun it is a collective of every rank: rs_dist_run_jobs hands the jobs out, longest first, rank 0
 * scheduling and ranks 1.. running them, each job in local mode (an ordinary one-process run); every rank returns
 * when the grid is done, with the same status (the first failed job's, whose message is on the stderr of the rank
 * that ran it). jobs > 1 under mpirun is refused (RS_ERR_ARG): the ranks are the runs side by side. */
rs_status rs_grid_run_ranks(int32_t n, const double *cost, int32_t jobs, rs_status (*fn)(int32_t job, void *ctx),
                            void *ctx);

/* ---------------------------------------------------------------- reproduce */
typedef enum { RS_SCALE_QUICK = 0, RS_SCALE_FULL = 1, RS_SCALE_TINY = 2 } rs_scale;
/* "quick", "full", "tiny" (tiny: seconds per experiment, for tests; not a scale to draw conclusions from) */
rs_status rs_scale_parse(const char *s, rs_scale *out);
const char *rs_scale_name(rs_scale s);

typedef struct {
    const char *out;     /* output directory: runs under OUT/runs, tables and figures under OUT/EXPERIMENT, the
                            report OUT/index.html */
    rs_scale scale;
    const char *data;    /* "cifar10:DIR" or NULL / "fashionmnist" (the default) */
    int32_t seeds;       /* > 0: this many seeds (0, 1, ...) for every model; 0: the scale's choice */
    int32_t dry_run;     /* 1: list the grid with estimated times, run nothing */
    int32_t jobs;        /* runs side by side (1) */
    int32_t threads;     /* threads for jobs = 1 (0: all cores) */
    int32_t quiet;       /* 1: no progress lines on stderr */
    const char *models;  /* comma-separated: keep only these models of the grids (NULL: all) */
} rs_reproduce_opts;

/* The experiments, in the order `all` runs them: "theory, scale1d, output-vs-error, layers, twopoints, spectra". */
const char *rs_experiment_names(void);
int32_t rs_experiment_count(void);
const char *rs_experiment_name(int32_t i);

/* Runs experiment `name` ("all": every one, then the report). Writes OUT/NAME/{*.csv,*.png,*.svg,verdicts.csv,
 * settings.txt} and rewrites OUT/index.html from whatever experiments have finished. */
rs_status rs_reproduce(const char *name, const rs_reproduce_opts *o);

/* Rewrites OUT/index.html from the experiment directories present under OUT. */
rs_status rs_report_write(const char *out);

#ifdef __cplusplus
}
#endif
