/* train.h: training a zoo model on a dataset with a recipe, into a run directory:
 *   config.json        every setting, resolved (what the run actually used)
 *   log.csv            one row per epoch: epoch, lr, train loss/error, test loss/error, images/s, wall time
 *   init.safetensors   the weights before training
 *   best.safetensors   the weights with the best test accuracy so far (model selection as the paper's code)
 *   last.safetensors   the weights after the last finished epoch
 *   resume.safetensors weights + optimiser state + counters after the last finished epoch (for --resume)
 *   lock               the run's lock file: the pid of the process working in the directory (see below)
 * Every file is written atomically; a run killed at any moment resumes from its last finished epoch and ends with
 * the same weights as an uninterrupted run (same seed and thread count). */
#pragma once
#include "relstab/data.h"
#include "relstab/models.h"
#include "relstab/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { RS_LOSS_CE = 0, RS_LOSS_HINGE = 1 } rs_loss_kind;
typedef enum {
    RS_STOP_EPOCHS = 0,    /* run all epochs */
    RS_STOP_ZERO_LOSS = 1, /* SPEC 5.2: stop at the first epoch whose training hinge loss is exactly 0 (with a
                              ridge penalty: at epoch >= 500 x that epoch, with zero validation error) */
} rs_stop_rule;

typedef struct {
    /* what */
    char model[64];
    char onnx[1024];         /* an ONNX model (absolute path) instead of a zoo model (then model is "onnx"): its
                                initializers are the parameters, trained from their values in the file */
    char data[512];
    char recipe[32];         /* "paper-cnn", "paper-fcn", "twopoints", "scale1d" or "" (flags only) */
    char out[1024];          /* run directory */
    /* every model option as given (rs_model_opts_init: -1 / alpha 0 = the model's default); the input channels and
     * size default to the data's, the classes to the data's (1 with the hinge loss), and must agree with them if
     * given. config.json holds them as an object "model_opts"; the checkpoints hold the resolved ones. */
    rs_model_opts model_opts;
    /* optimisation */
    rs_opt_type opt;
    double lr, momentum, weight_decay;
    int32_t lr_times_width;  /* the 1-D task's rule: the learning rate used is lr x width (SPEC 5.2) */
    int32_t nesterov, decay_1d;
    rs_sched_type sched;
    int32_t step_size;
    double gamma;
    int32_t epochs, batch, test_batch;
    rs_loss_kind loss;
    double ridge;            /* the 1-D task's penalty on conv weights, ridge * sum W^2 / (H * depth) */
    rs_stop_rule stop;
    /* data */
    int32_t crop_padding, hflip;
    double corrupt_std;
    int64_t ptr;
    uint64_t seed;
    int32_t threads;
    int32_t resume;
    int32_t quiet;
    int32_t track_every;     /* measure D, G, R every K epochs into sens.csv (0 = off) */
    int32_t track_P;
    int32_t sync_bn;         /* under mpirun: batch norm statistics over the whole global batch (all ranks); also
                                on one rank, then through the same (double) kernel. 0: each rank's own (default) */
} rs_train_config;

/* Defaults: no recipe, SGD lr 0.05, momentum 0.9, wd 5e-4 on weights only, paper schedule, batch 128, 10 epochs,
 * cross-entropy, no augmentation, seed 0. */
void rs_train_config_default(rs_train_config *c);
/* Applies a recipe's settings (SPEC 3.3); flags given afterwards override them. */
rs_status rs_train_apply_recipe(rs_train_config *c, const char *recipe);
const char *rs_train_recipe_names(void);

/* What a finished (or stopped) run reached. */
typedef struct {
    int32_t epochs_done;
    double best_test_err;
    int32_t best_epoch;
    double last_train_loss, last_test_err;
    int32_t stopped_early; /* a stop rule fired */
    int32_t already_finished; /* a resume of a run that had done all its epochs: nothing was trained */
} rs_train_result;

/* Runs (or resumes) training as configured. Progress goes to stderr (a live bar on a terminal, a line per epoch
 * otherwise, nothing with quiet). A NaN or diverging loss stops the run with RS_ERR_NUMERIC, keeping the last good
 * checkpoints. */
rs_status rs_train_run(const rs_train_config *c, rs_train_result *res);
/* Nets under this many FLOPs per image (LeNet, the FCNs, the 1-D CNN) train on one thread when no thread count is
 * given (threads = 0): their ops are too short for a second thread to pay its synchronisation once another process
 * holds a core (a LeNet epoch took 3x longer on two threads than on one with one busy process beside it; on an idle
 * machine two threads are 1.3x faster; docs/bench.md). A given thread count is always used. */
#define RS_TRAIN_SMALL_NET_FLOPS 2e7

/* The ranges of the numeric settings, one table for the command line and config.json. key is the field's name
 * ("epochs", "track_P", ..., and the model options' "channels", "hidden", "pbc", ...); returns -1 for an unknown key, else 0 with the flag, the bounds, and whether it is an
 * integer. rs_train_config_set stores a value after checking it (RS_ERR_ARG naming the key and the flag);
 * rs_train_check_ranges checks every numeric field of a config (rs_train_run calls it). */
int rs_train_config_range(const char *key, const char **flag, double *lo, double *hi, int *integer);
rs_status rs_train_config_set(rs_train_config *c, const char *key, double value);
rs_status rs_train_check_ranges(const rs_train_config *c);

/* Writes the config as JSON (config.json) and reads it back (for --resume and for `measure --run`); every number
 * read is checked against the ranges above (RS_ERR_FORMAT naming the file and the field). */
rs_status rs_train_config_write(const rs_train_config *c, const char *path);
rs_status rs_train_config_read(rs_train_config *c, const char *path);

/* The run-directory lock: an exclusive flock on DIR/lock (the directory must exist), held from acquire to release;
 * rs_train_run holds it for the whole run. A directory locked by another process is refused with RS_ERR_ARG and a
 * message naming that process's pid. Re-entrant inside one process (each acquire needs its release). Taking the
 * lock removes the "*.tmp.PID" files that dead processes left in DIR. */
typedef struct rs_run_lock rs_run_lock;
rs_status rs_run_lock_acquire(const char *dir, rs_run_lock **lock);
void rs_run_lock_release(rs_run_lock *lock); /* NULL: nothing */
/* Removes DIR's "*.tmp.PID" files whose process no longer exists; returns how many were removed. */
int32_t rs_run_remove_stale_tmp(const char *dir);

#ifdef __cplusplus
}
#endif
