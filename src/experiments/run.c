/* run.c: one run of an experiment grid: train (or resume) into its run directory with the ordinary trainer, then
 * measure D, G, R (init, trained, channel-shuffled) and the filter spectra with the ordinary measure code, each
 * result in its own file written atomically. result.csv is written last and marks the run finished.
 * It decides nothing about the grid (which runs, in which order, how many at once). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "exp_internal.h"
#include "relstab/models.h"

/* Measured throughput constants of the estimate (docs/bench.md, 2 threads, idle machine): a VGG11 training step at
 * batch 128 takes 520 ms, i.e. about 230 GFLOP/s of training (3 x the forward FLOPs); a LeNet epoch runs at about
 * 39,000 images/s, far below that, so small nets pay a fixed cost per image. */
#define THROUGHPUT_FLOPS 2.3e11
#define IMAGE_OVERHEAD_S (1.0 / 40000.0)

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void path_in(char *buf, size_t len, const exp_run *r, const char *file) {
    snprintf(buf, len, "%s/%s", r->dir, file);
}

int exp_run_finished(const exp_run *run) {
    char p[1200];
    path_in(p, sizeof p, run, "result.csv");
    return file_exists(p);
}

double exp_run_test_err(const exp_run *run) {
    char p[1200], line[256];
    path_in(p, sizeof p, run, "result.csv");
    FILE *f = fopen(p, "r");
    if (!f) return NAN;
    double e = NAN;
    if (fgets(line, sizeof line, f) && fgets(line, sizeof line, f)) e = strtod(line, NULL);
    fclose(f);
    return e;
}

static void fill_config(const exp_run *r, rs_train_config *c, int32_t threads, int32_t quiet) {
    rs_train_config_default(c);
    if (r->recipe[0]) rs_train_apply_recipe(c, r->recipe);
    snprintf(c->model, sizeof c->model, "%s", r->model);
    snprintf(c->data, sizeof c->data, "%s", r->data);
    snprintf(c->out, sizeof c->out, "%s", r->dir);
    c->epochs = r->epochs;
    if (r->width > 0) c->model_opts.hidden = r->width;
    if (r->depth > 0) c->model_opts.depth = r->depth;
    c->ptr = r->ptr;
    c->corrupt_std = r->corrupt;
    if (r->lr > 0) c->lr = r->lr;
    if (r->ridge >= 0) c->ridge = r->ridge;
    c->seed = r->seed;
    c->threads = threads;
    c->quiet = quiet;
}

/* The input shape a model gets for the run's data (1 x 28 x 28 FashionMNIST, 3 x 32 x 32 CIFAR-10, 1 x 28 x 28
 * twopoints, 1 x 1 x 128 scale1d). */
static void input_shape(const exp_run *r, rs_model_opts *mo) {
    rs_model_opts_init(mo);
    if (!strncmp(r->data, "cifar", 5)) mo->channels = 3, mo->height = mo->width = 32;
    else if (!strncmp(r->data, "scale1d", 7)) mo->channels = 1, mo->height = 1, mo->width = 128;
    else mo->channels = 1, mo->height = mo->width = 28;
    mo->classes = (!strncmp(r->data, "twopoints", 9) || !strncmp(r->data, "scale1d", 7)) ? 1 : 10;
    if (r->width > 0) mo->hidden = r->width;
    if (r->depth > 0) mo->depth = r->depth;
}

static double model_flops(const exp_run *r) {
    rs_model_opts mo;
    input_shape(r, &mo);
    rs_net *net = NULL;
    if (rs_model_build(r->model, &mo, &net) != RS_OK) return NAN;
    double f = (double)rs_net_flops(net);
    rs_net_free(net);
    return f;
}

/* Test-split size of the run's data without opening it. */
static double test_images(const exp_run *r) {
    const char *t = strstr(r->data, "testsize=");
    if (t) return atof(t + 9);
    if (!strncmp(r->data, "scale1d", 7)) return 2816;
    if (!strncmp(r->data, "twopoints", 9)) return 4.0 * (double)r->ptr;
    return 10000;
}

double exp_run_estimate(const exp_run *r) {
    double f = model_flops(r);
    if (!isfinite(f)) return NAN;
    double train = r->ptr > 0 ? (double)r->ptr : (!strncmp(r->data, "scale1d", 7) ? 1024 : 50000);
    double imgs = 3.0 * train * r->epochs + test_images(r) * r->epochs;
    int n_meas = 0;
    for (int b = 1; b <= EXP_M_SHUF2; b <<= 1) n_meas += !!(r->measure & b);
    imgs += 3.0 * (double)r->P * n_meas;
    return imgs * (f / THROUGHPUT_FLOPS + IMAGE_OVERHEAD_S);
}

/* ---------------------------------------------------------------- measurements */
static rs_status measure_one(const exp_run *r, const char *checkpoint, int32_t shuffle, const char *file) {
    char out[1200];
    path_in(out, sizeof out, r, file);
    if (file_exists(out)) return RS_OK; /* measured before an interruption */
    rs_net_source src;
    rs_net_source_init(&src);
    src.run_dir = r->dir, src.checkpoint = checkpoint;
    rs_net *net = NULL;
    rs_dataset *ds = NULL;
    rs_net_source_info info;
    RS_TRY(rs_net_source_open(&src, &net, &ds, &info));
    rs_measure_opts m;
    rs_measure_opts_default(&m);
    m.P = r->P;
    m.seed = r->seed;
    m.mode = info.mode;
    int32_t *nodes = NULL, n_nodes = 0;
    rs_status s = RS_OK;
    if (r->style_1d) {
        m.channel_mean = 1;
        m.noise = RS_NOISE_RECTIFIED;
        char list[1024] = "";
        for (int32_t i = 0; i < net->n_nodes; i++) {
            const char *nm = net->nodes[i].name;
            size_t l = strlen(nm);
            if (l > 4 && !strcmp(nm + l - 4, ".mul") && strlen(list) + l + 2 < sizeof list)
                strcat(strcat(list, list[0] ? "," : ""), nm);
        }
        s = rs_measure_parse_nodes(net, list, &nodes, &n_nodes);
    } else if (r->output_only) {
        s = rs_measure_parse_nodes(net, net->nodes[net->n_nodes - 1].name, &nodes, &n_nodes);
    }
    int has_bn = 0;
    for (int32_t i = 0; i < net->n_nodes; i++) has_bn |= net->nodes[i].op == RS_OP_BATCHNORM;
    m.batch = has_bn && m.mode == RS_MODE_INIT_EVAL ? 0 : 100; /* at init, batch norm sees the whole probe set */
    if (!s && shuffle) s = rs_shuffle_channels(net, shuffle, r->seed, NULL);
    rs_measure_result res = {0};
    if (!s) s = rs_measure(net, ds, NULL, nodes, n_nodes, &m, &res);
    rs_measure_tags t = {.model = info.model, .data = info.data, .checkpoint = info.checkpoint, .epoch = info.epoch,
                         .shuffle = shuffle};
    if (!s) s = rs_measure_write_csv(out, &res, &m, &t, 0);
    rs_measure_result_free(&res);
    rs_free(nodes);
    rs_dataset_free(ds);
    rs_net_free(net);
    return s;
}

/* spectra_CHECKPOINT.csv: layer, index, lambda, level, omega, omega_norm, omega_level_norm */
static rs_status spectra_one(const exp_run *r, const char *checkpoint, const char *file) {
    char out[1200];
    path_in(out, sizeof out, r, file);
    if (file_exists(out)) return RS_OK;
    rs_net_source src;
    rs_net_source_init(&src);
    src.run_dir = r->dir, src.checkpoint = checkpoint;
    rs_net *net = NULL;
    rs_net_source_info info;
    RS_TRY(rs_net_source_open(&src, &net, NULL, &info));
    rs_spectrum *sp = NULL;
    int32_t n = 0;
    rs_status s = rs_net_spectra(net, &sp, &n);
    size_t cap = 256, len = 0;
    for (int32_t i = 0; i < n; i++) cap += (size_t)sp[i].n * 200;
    char *buf = s ? NULL : malloc(cap);
    if (!s && !buf) s = rs_error(RS_ERR_NOMEM, "spectra table");
    if (!s) {
        len += (size_t)snprintf(buf, cap, "layer,conv_index,j,lambda,level,omega,omega_norm,omega_level_norm\n");
        for (int32_t i = 0; i < n; i++)
            for (int32_t j = 0; j < sp[i].n; j++)
                len += (size_t)snprintf(buf + len, cap - len, "%s,%d,%d,%.9g,%d,%.9g,%.9g,%.9g\n", sp[i].layer, (int)i,
                                        (int)j, sp[i].lambda[j], (int)sp[i].level[j], sp[i].omega[j],
                                        sp[i].omega_norm[j], sp[i].omega_level_norm[j]);
        s = rs_write_file_atomic(out, buf, len);
    }
    free(buf);
    rs_spectra_free(sp, n);
    rs_net_free(net);
    return s;
}

static rs_status train_run(const exp_run *r, int32_t threads, int32_t quiet, rs_train_result *res) {
    rs_train_config c;
    fill_config(r, &c, threads, quiet);
    char cfg[1200];
    path_in(cfg, sizeof cfg, r, "config.json");
    c.resume = file_exists(cfg); /* an interrupted run continues from its last finished epoch */
    return rs_train_run(&c, res);
}

static rs_status write_result(const exp_run *r, const rs_train_result *res, const char *file) {
    char p[1200], buf[256];
    path_in(p, sizeof p, r, file);
    int n = snprintf(buf, sizeof buf, "best_test_err,best_epoch,epochs_done,stopped_early\n%.9g,%d,%d,%d\n",
                     res->best_test_err, (int)res->best_epoch, (int)res->epochs_done, (int)res->stopped_early);
    return rs_write_file_atomic(p, buf, (size_t)n);
}

rs_status exp_run_do(const exp_run *r, int32_t threads, int32_t quiet) {
    /* the trainer's run-directory lock, held over training and measuring (re-entrant: rs_train_run takes it too);
     * a run another process is working on is refused with a message naming that process */
    RS_TRY(rs_mkdir_p(r->dir));
    rs_run_lock *lock = NULL;
    RS_TRY(rs_run_lock_acquire(r->dir, &lock));
    rs_status s = RS_OK;
    if (!exp_run_finished(r)) { /* checked under the lock: another process may have finished it */
        /* small nets run fastest on one thread (thread wake-ups dominate them) */
        double f = model_flops(r);
        int32_t t = isfinite(f) && f < RS_TRAIN_SMALL_NET_FLOPS ? 1 : threads;
        if (!quiet) fprintf(stderr, "relstab reproduce: run %s\n", r->dir);
        /* trained.csv marks finished training (a run stopped by its stop rule must not train again) */
        rs_train_result res = {0};
        char tp[1200], line[256];
        path_in(tp, sizeof tp, r, "trained.csv");
        FILE *tf = fopen(tp, "r");
        if (tf) {
            if (!fgets(line, sizeof line, tf) || !fgets(line, sizeof line, tf) ||
                sscanf(line, "%lf,%d,%d,%d", &res.best_test_err, &res.best_epoch, &res.epochs_done,
                       &res.stopped_early) != 4)
                s = rs_error(RS_ERR_FORMAT, "%s: malformed", tp);
            fclose(tf);
        } else {
            s = train_run(r, t, 1, &res);
            if (!s) s = write_result(r, &res, "trained.csv");
        }
        rs_set_threads(t);
        if (!s && (r->measure & EXP_M_INIT)) s = measure_one(r, "init", 0, "sens_init.csv");
        if (!s && (r->measure & EXP_M_TRAINED)) s = measure_one(r, "best", 0, "sens_trained.csv");
        if (!s && (r->measure & EXP_M_SHUF1)) s = measure_one(r, "best", 1, "sens_shuffle1.csv");
        if (!s && (r->measure & EXP_M_SHUF2)) s = measure_one(r, "best", 2, "sens_shuffle2.csv");
        if (!s && (r->measure & EXP_M_SPECTRA)) s = spectra_one(r, "init", "spectra_init.csv");
        if (!s && (r->measure & EXP_M_SPECTRA)) s = spectra_one(r, "best", "spectra_trained.csv");
        if (!s) s = write_result(r, &res, "result.csv");
    }
    rs_run_lock_release(lock);
    return s;
}
