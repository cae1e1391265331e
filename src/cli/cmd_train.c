/* cmd_train.c: `relstab train`: train a zoo model on a dataset with a recipe (or flags) into a run directory. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "model_cli.h"
#include "relstab/dist.h"
#include "relstab/plot.h"
#include "relstab/train.h"

const char rs_cmd_train_help[] = "train a model on a dataset with a recipe; writes a run directory";

static void usage(FILE *f) {
    fprintf(f,
            "usage: relstab train (--model NAME | --onnx MODEL.onnx) [--data SPEC] [--recipe R] [options]\n"
            "       relstab train --resume --out DIR\n\n"
            "Trains a zoo model (relstab info --list) and writes DIR/config.json, log.csv, init.safetensors,\n"
            "best.safetensors (best test accuracy), last.safetensors and resume.safetensors.\n\n"
            "  --model NAME        architecture (vgg11, resnet18, lenet, gapmf1d, ...)\n"
            "  --onnx FILE         an ONNX model instead: its initializers are the parameters trained from their\n"
            "                      values in the file, checkpoints hold them by their ONNX names (docs/onnx.md)\n"
            "  --data SPEC         dataset (default fashionmnist; see relstab data --help)\n"
            "  --recipe R          %s (a recipe sets the flags below; later flags override)\n"
            "  --out DIR           run directory (default runs/MODEL-sSEED)\n"
            "  --resume            continue the run in --out DIR from its last finished epoch; with --epochs N, extend\n"
            "                      it to N epochs (the schedule recomputed for N); only --threads and --quiet\n"
            "                      may also be given\n"
            "  --epochs N          (default 10)        --batch N (default 128)     --test-batch N (default 500)\n"
            "  --opt sgd|adam      (default sgd)       --lr X (default 0.05)        --momentum X (default 0.9)\n"
            "  --wd X              weight decay (default 5e-4), on weights with 2+ dimensions only\n"
            "  --decay-1d          also decay biases and batch-norm parameters\n"
            "  --nesterov          Nesterov momentum\n"
            "  --sched S           constant, step, cosine, paper (default paper: cosine with T_max = 0.8 epochs)\n"
            "  --step-size N --gamma X   for --sched step (default 30, 0.1)\n"
            "  --loss ce|hinge     (default ce; hinge needs a one-output model and +-1 targets)\n"
            "  --crop-padding N    random crop with N pixels of zero padding (training only; default 0)\n"
            "  --flip              random horizontal flips (training only)\n"
            "  --corrupt STD       Gaussian corruption x + STD z / sqrt(CHW) of train and test images\n"
            "  --ptr N             train on a random subset of N images\n"
            "  --ridge X           the 1-D task's penalty X sum W^2 / (width depth) on conv weights\n"
            "  --stop epochs|zero-loss   stop rule (zero-loss: the 1-D task's rule of docs/science.md 5.2)\n"
            "  --seed N            seed of initialisation, data order, augmentation (default 0)\n"
            "  --threads N         threads (default: every free core; 1 for nets under 2e7 FLOPs per image,\n"
            "                      e.g. LeNet)\n"
            "  --track-every K     measure D, G, R at every node at init and every K epochs into DIR/sens.csv\n"
            "  --track-P P         probe images of the test split for --track-every (default 500, or the whole test\n"
            "                      split if smaller; more than the test split holds is an error)\n"
            "  --sync-bn           under mpirun: batch norm statistics over the whole global batch (default:\n"
            "                      each rank's share); mpirun -n N relstab train ... splits every batch over\n"
            "                      the N ranks (docs/cluster.md)\n"
            "  --quiet             no progress output\n\n"
            "%s(the input channels, size and classes default to the data's and, if given, must agree with it)\n",
            rs_train_recipe_names(), model_cli_help);
}

enum {
    O_MODEL = 1000, O_DATA, O_RECIPE, O_OUT, O_RESUME, O_EPOCHS, O_BATCH, O_TEST_BATCH, O_OPT, O_LR, O_MOMENTUM,
    O_WD, O_DECAY1D, O_NESTEROV, O_SCHED, O_STEP_SIZE, O_GAMMA, O_LOSS, O_CROP, O_FLIP, O_CORRUPT, O_PTR, O_RIDGE,
    O_STOP, O_SEED, O_THREADS, O_QUIET, O_TRACK, O_TRACK_P, O_SYNC_BN, O_ONNX, O_HELP
};

static const struct option options[] = {
    {"model", 1, 0, O_MODEL},       {"data", 1, 0, O_DATA},         {"recipe", 1, 0, O_RECIPE},
    {"out", 1, 0, O_OUT},           {"resume", 0, 0, O_RESUME},     {"epochs", 1, 0, O_EPOCHS},
    {"batch", 1, 0, O_BATCH},       {"test-batch", 1, 0, O_TEST_BATCH}, {"opt", 1, 0, O_OPT},
    {"lr", 1, 0, O_LR},             {"momentum", 1, 0, O_MOMENTUM}, {"wd", 1, 0, O_WD},
    {"decay-1d", 0, 0, O_DECAY1D},  {"nesterov", 0, 0, O_NESTEROV}, {"sched", 1, 0, O_SCHED},
    {"step-size", 1, 0, O_STEP_SIZE}, {"gamma", 1, 0, O_GAMMA},     {"loss", 1, 0, O_LOSS},
    {"crop-padding", 1, 0, O_CROP}, {"flip", 0, 0, O_FLIP},         {"corrupt", 1, 0, O_CORRUPT},
    {"ptr", 1, 0, O_PTR},           {"ridge", 1, 0, O_RIDGE},       {"stop", 1, 0, O_STOP},
    {"seed", 1, 0, O_SEED},         {"threads", 1, 0, O_THREADS},   MODEL_CLI_LONG_OPTIONS,
    {"track-every", 1, 0, O_TRACK}, {"track-P", 1, 0, O_TRACK_P}, {"sync-bn", 0, 0, O_SYNC_BN},
    {"quiet", 0, 0, O_QUIET},       {"onnx", 1, 0, O_ONNX},         {"help", 0, 0, O_HELP},
    {0, 0, 0, 0},
};

static int copy_str(char *dst, size_t cap, const char *src, const char *flag) {
    if (strlen(src) >= cap) return cli_usage_error("train", "%s is too long (at most %zu characters)", flag, cap - 1);
    snprintf(dst, cap, "%s", src);
    return 0;
}

/* A numeric setting, parsed with the bounds of the one table of ranges (config.c) that config.json is also
 * checked against. */
static int set_number(rs_train_config *c, const char *key, const char *arg) {
    const char *flag;
    double lo, hi, v;
    int integer;
    if (rs_train_config_range(key, &flag, &lo, &hi, &integer) != 0) return cli_usage_error("train", "unknown setting");
    if (integer) {
        int64_t i;
        if (cli_parse_int("train", flag, arg, (int64_t)lo, (int64_t)hi, &i)) return 2;
        v = (double)i;
    } else if (cli_parse_double("train", flag, arg, lo, hi, &v)) {
        return 2;
    }
    return rs_train_config_set(c, key, v) == RS_OK ? 0 : cli_fail("train", RS_ERR_ARG);
}

/* Applies one option; returns 0, or the exit code of a usage error. */
static int apply(rs_train_config *c, int opt, const char *arg) {
    switch (opt) {
    case O_MODEL: return copy_str(c->model, sizeof c->model, arg, "--model");
    case O_DATA: return copy_str(c->data, sizeof c->data, arg, "--data");
    case O_ONNX: { /* the absolute path: the run directory's config.json names it for --resume and measure --run */
        char abs[PATH_MAX];
        if (!realpath(arg, abs)) return cli_usage_error("train", "--onnx %s: %s", arg, strerror(errno));
        snprintf(c->model, sizeof c->model, "onnx");
        return copy_str(c->onnx, sizeof c->onnx, abs, "--onnx");
    }
    case O_OUT: return copy_str(c->out, sizeof c->out, arg, "--out");
    case O_RECIPE: return 0; /* applied first */
    case O_RESUME: c->resume = 1; return 0;
    case O_EPOCHS: return set_number(c, "epochs", arg);
    case O_BATCH: return set_number(c, "batch", arg);
    case O_TEST_BATCH: return set_number(c, "test_batch", arg);
    case O_OPT:
        if (!strcmp(arg, "sgd")) c->opt = RS_OPT_SGD;
        else if (!strcmp(arg, "adam")) c->opt = RS_OPT_ADAM;
        else return cli_usage_error("train", "--opt expects sgd or adam, got '%s'", arg);
        return 0;
    case O_LR: c->lr_times_width = 0; return set_number(c, "lr", arg);
    case O_MOMENTUM: return set_number(c, "momentum", arg);
    case O_WD: return set_number(c, "weight_decay", arg);
    case O_DECAY1D: c->decay_1d = 1; return 0;
    case O_NESTEROV: c->nesterov = 1; return 0;
    case O_SCHED: return rs_sched_parse(arg, &c->sched) == RS_OK ? 0 : cli_fail("train", RS_ERR_ARG);
    case O_STEP_SIZE: return set_number(c, "step_size", arg);
    case O_GAMMA: return set_number(c, "gamma", arg);
    case O_LOSS:
        if (!strcmp(arg, "ce")) c->loss = RS_LOSS_CE;
        else if (!strcmp(arg, "hinge")) c->loss = RS_LOSS_HINGE;
        else return cli_usage_error("train", "--loss expects ce or hinge, got '%s'", arg);
        return 0;
    case O_CROP: return set_number(c, "crop_padding", arg);
    case O_FLIP: c->hflip = 1; return 0;
    case O_CORRUPT: return set_number(c, "corrupt_std", arg);
    case O_PTR: return set_number(c, "ptr", arg);
    case O_RIDGE: return set_number(c, "ridge", arg);
    case O_STOP:
        if (!strcmp(arg, "epochs")) c->stop = RS_STOP_EPOCHS;
        else if (!strcmp(arg, "zero-loss")) c->stop = RS_STOP_ZERO_LOSS;
        else return cli_usage_error("train", "--stop expects epochs or zero-loss, got '%s'", arg);
        return 0;
    case O_SEED: return set_number(c, "seed", arg);
    case O_THREADS: { /* the flag's range, then the cores this process may use (with a message) */
        int r = set_number(c, "threads", arg);
        if (r == 0) c->threads = (int32_t)cli_threads_cap(c->threads);
        return r;
    }
    case O_QUIET: c->quiet = 1; return 0;
    case O_TRACK: return set_number(c, "track_every", arg);
    case O_TRACK_P: return set_number(c, "track_P", arg);
    case O_SYNC_BN: c->sync_bn = 1; return 0;
    }
    return cli_usage_error("train", "unknown option");
}

/* With --resume, the flags that may be given: the others are fixed by the run (config.json). */
static int resume_allows(int opt) {
    return opt == O_RESUME || opt == O_OUT || opt == O_EPOCHS || opt == O_THREADS || opt == O_QUIET;
}

/* --resume: reads the run's config.json (under the run's lock) and applies the flags that may change. */
static int resume_config(rs_train_config *c, const rs_train_config *flags, const unsigned char *given,
                         rs_run_lock **lock) {
    if (!c->out[0]) return cli_usage_error("train", "--resume needs --out DIR");
    for (int o = O_MODEL; o < O_HELP; o++)
        if (given[o - O_MODEL] && !resume_allows(o)) {
            const char *name = "?";
            for (const struct option *q = options; q->name; q++)
                if (q->val == o) name = q->name;
            return cli_usage_error("train", "--%s cannot be given with --resume: the run in %s keeps its settings "
                                   "(config.json); only --epochs (to extend it), --threads and --quiet apply", name,
                                   c->out);
        }
    struct stat sb;
    if (stat(c->out, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return cli_usage_error("train", "--resume: %s is not a run directory (no config.json)", c->out);
    /* under mpirun rank 0 alone locks (its failure aborts the job: rs_dist_finalize) */
    if (rs_dist_rank() == 0 && rs_run_lock_acquire(c->out, lock) != RS_OK) return cli_fail("train", RS_ERR_ARG);
    char path[1100];
    if (rs_path_join(path, sizeof path, flags->out, "config.json") != RS_OK ||
        rs_train_config_read(c, path) != RS_OK)
        return cli_fail("train", RS_ERR_ARG);
    snprintf(c->out, sizeof c->out, "%s", flags->out);
    c->quiet = flags->quiet;
    c->resume = 1;
    if (given[O_EPOCHS - O_MODEL]) c->epochs = flags->epochs;
    if (given[O_THREADS - O_MODEL]) c->threads = flags->threads;
    return 0;
}

int rs_cmd_train(int argc, char **argv) {
    rs_train_config c;
    rs_train_config_default(&c);
    unsigned char given[O_HELP - O_MODEL + 1] = {0};
    /* pass 1: --help and --recipe (a recipe sets defaults that later flags override, whatever their order) */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        const char *r = !strcmp(argv[i], "--recipe") && i + 1 < argc ? argv[i + 1]
                        : !strncmp(argv[i], "--recipe=", 9) ? argv[i] + 9 : NULL;
        if (r && rs_train_apply_recipe(&c, r) != RS_OK) return cli_fail("train", RS_ERR_ARG);
    }
    optind = 1;
    opterr = 0;
    int opt;
    model_cli mc;
    model_cli_init(&mc);
    const char *model_flag = NULL; /* the first model option given (refused with --resume) */
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == '?') return cli_usage_error("train", "unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
        int mr = model_cli_handle(&mc, "train", opt, optarg);
        if (mr < 0) return 2;
        if (mr > 0) {
            if (!model_flag) model_flag = argv[optind - 1 - (optarg && argv[optind - 1] == optarg)];
            continue;
        }
        int rc = apply(&c, opt, optarg);
        if (rc) return rc;
        given[opt - O_MODEL] = 1;
    }
    if (optind < argc) return cli_usage_error("train", "unexpected argument '%s'", argv[optind]);
    if (given[O_OUT - O_MODEL] && !c.out[0]) return cli_usage_error("train", "--out needs a directory, got ''");
    rs_run_lock *lock = NULL; /* a resume locks the directory before reading its config.json */
    if (c.resume && model_flag)
        return cli_usage_error("train", "%s cannot be given with --resume: the run in %s keeps its model options "
                               "(config.json)", model_flag, c.out);
    if (given[O_ONNX - O_MODEL] && (given[O_MODEL - O_MODEL] || model_flag))
        return cli_usage_error("train", "--onnx takes its net from the file: %s cannot be given with it",
                               given[O_MODEL - O_MODEL] ? "--model" : model_flag);
    model_cli_finish(&mc, c.model);
    c.model_opts = mc.o;
    if (c.resume) {
        rs_train_config flags = c;
        int rc = resume_config(&c, &flags, given, &lock);
        if (rc) {
            rs_run_lock_release(lock);
            return rc;
        }
    } else {
        if (!c.model[0]) return cli_usage_error("train", "--model is required (relstab info --list lists the models)");
        if (!c.out[0]) snprintf(c.out, sizeof c.out, "runs/%s-s%llu", c.model, (unsigned long long)c.seed);
    }
    rs_train_result res;
    rs_status s = rs_train_run(&c, &res);
    rs_run_lock_release(lock);
    if (s != RS_OK) return cli_fail("train", s);
    if (rs_dist_rank() != 0) return 0; /* under mpirun the other ranks trained the same run */
    if (res.already_finished) {
        printf("run already finished: %d epoch%s (best test error %.4f at epoch %d) in %s; use --epochs M (M > %d) "
               "to extend it\n", res.epochs_done, res.epochs_done == 1 ? "" : "s", res.best_test_err, res.best_epoch, c.out, res.epochs_done);
        return 0;
    }
    printf("best test error %.4f at epoch %d; last test error %.4f after %d epoch%s; run directory %s\n",
           res.best_test_err, res.best_epoch, res.last_test_err, res.epochs_done, res.epochs_done == 1 ? "" : "s",
           c.out);
    if (c.track_every > 0 && rs_plot_run(c.out) == RS_OK) printf("wrote %s/sens.png and %s/depth.png\n", c.out, c.out);
    else if (c.track_every > 0) fprintf(stderr, "relstab train: warning: no figures: %s\n", rs_last_error());
    return 0;
}
