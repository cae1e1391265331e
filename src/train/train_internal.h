/* train_internal.h: the pieces of the trainer shared by its files (train.c: the loop; run.c: the run directory;
 * progress.c: the progress display; model.c: building the configured model). Not part of the public API. */
#pragma once
#include "relstab/progress.h"
#include <stdio.h>

#include "relstab/io.h"
#include "relstab/measure.h"
#include "relstab/train.h"

/* ---------------------------------------------------------------- model */
typedef struct {
    int32_t width, depth; /* resolved width and depth (for the 1-D task's lr and ridge scalings) */
} rs_model_shape;
rs_status rs_train_validate(const rs_train_config *c);
rs_status rs_train_build_model(const rs_train_config *c, const rs_dataset *ds, int32_t outputs, rs_net **net,
                               rs_model_shape *shape);

/* ---------------------------------------------------------------- the run directory */
typedef struct {
    int32_t epoch;
    double lr, train_loss, train_err, test_loss, test_err, images_per_s, wall;
} rs_log_row;
typedef struct {
    const rs_train_config *c;
    int32_t epochs_done;
    double best_err;
    int32_t best_epoch;
    int32_t first_zero_epoch;
    double wall;
    rs_log_row *rows;
    int32_t n_rows, cap_rows;
} rs_run_state;
/* A new run: creates the directory (refusing one that already holds a run), writes config.json and
 * init.safetensors. The net must be built and initialised. */
rs_status rs_run_create(rs_net *net, const rs_train_config *c, rs_run_state *st);
/* Resumes from resume.safetensors: weights, optimiser state, counters and the log up to the last finished epoch. */
rs_status rs_run_resume(rs_net *net, rs_optimizer *opt, const rs_train_config *c, rs_run_state *st);
/* After an epoch: appends the row, updates best, writes last, best (if better), resume and log.csv. */
rs_status rs_run_end_epoch(const rs_net *net, const rs_optimizer *opt, rs_run_state *st, const rs_log_row *row);
void rs_run_state_free(rs_run_state *st);

/* ---------------------------------------------------------------- progress */
typedef struct {
    int quiet, tty;
    int32_t epoch, epochs;
    int64_t total;
    double t0, last_draw;
    rs_bar bar; /* the shared facility (relstab/progress.h) */
} rs_progress;
void rs_progress_start(rs_progress *p, int quiet, int32_t epoch, int32_t epochs, int64_t total);
void rs_progress_update(rs_progress *p, int64_t done, double loss, double err);
void rs_progress_end(rs_progress *p, const rs_log_row *row, int is_best);

/* ---------------------------------------------------------------- tracking D, G, R while training (track.c) */
typedef struct {
    int32_t every;        /* 0: off */
    rs_measure_opts opts;
    int64_t *probe;       /* (opts.P) test images, fixed for the whole run */
    char path[1200];      /* RUN/sens.csv */
} rs_tracker;
rs_status rs_tracker_init(rs_tracker *tk, const rs_train_config *c, const rs_dataset *test);
void rs_tracker_free(rs_tracker *tk);
rs_status rs_tracker_measure(rs_tracker *tk, rs_net *net, const rs_dataset *test, const rs_train_config *c,
                             int32_t epoch);
rs_status rs_tracker_truncate(rs_tracker *tk, int32_t upto, int *have_epoch0);

/* ---------------------------------------------------------------- data-parallel training (parallel.c) */
typedef struct {
    int size, rank;
    int32_t sync_bn;
    double *buf; /* (params total + 3): the step's sum over ranks */
    char text[96];
} rs_dp;
/* Checks that --sync-bn can work (every batch of an epoch of n_train images has an image on every rank). */
rs_status rs_dp_init(rs_dp *d, rs_net *net, int32_t sync_bn, int64_t n_train, int32_t batch);
const char *rs_dp_describe(rs_dp *d); /* " per rank x N ranks (... batch norm)" */
void rs_dp_free(rs_dp *d, rs_net *net);
void rs_dp_share(const rs_dp *d, int64_t n, int64_t *lo, int64_t *hi);
void rs_dp_scale_dout(const rs_dp *d, float *d_out, int64_t m, int32_t outputs, int64_t n);
rs_status rs_dp_sum_step(rs_dp *d, rs_params *p, double *loss_sum, int64_t *wrong, int *finite);
rs_status rs_dp_sum_eval(const rs_dp *d, double *loss_sum, int64_t *wrong);
rs_status rs_dp_bcast_params(const rs_dp *d, rs_params *p);
rs_status rs_dp_sync_start(const rs_dp *d, rs_status s, rs_net *net, rs_optimizer *opt, rs_run_state *st);
