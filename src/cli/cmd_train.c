/* cmd_train.c: `relstab train`: train a zoo model on a dataset with a recipe (or flags) into a run directory. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "relstab/train.h"

const char rs_cmd_train_help[] = "train a model on a dataset with a recipe; writes a run directory";

static void usage(FILE *f) {
    fprintf(f,
            "usage: relstab train --model NAME [--data SPEC] [--recipe R] [options]\n"
            "       relstab train --resume --out DIR\n\n"
            "Trains a zoo model (relstab info --list) and writes DIR/config.json, log.csv, init.safetensors,\n"
            "best.safetensors (best test accuracy), last.safetensors and resume.safetensors.\n\n"
            "  --model NAME        architecture (vgg11, resnet18, lenet, gapmf1d, ...)\n"
            "  --data SPEC         dataset (default fashionmnist; see relstab data --help)\n"
            "  --recipe R          %s (a recipe sets the flags below; later flags override)\n"
            "  --out DIR           run directory (default runs/MODEL-sSEED)\n"
            "  --resume            continue the run in --out DIR from its last finished epoch\n"
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
            "  --stop epochs|zero-loss   stop rule (zero-loss: the 1-D task's rule of SPEC 5.2)\n"
            "  --width N --depth N --filter N --strides a,b,...   model options\n"
            "  --seed N            seed of initialisation, data order, augmentation (default 0)\n"
            "  --threads N         threads (default: all cores)\n"
            "  --track-every K     measure D, G, R at every node at init and every K epochs into DIR/sens.csv\n"
            "  --track-P P         probe images of the test split for --track-every (default 500)\n"
            "  --quiet             no progress output\n",
            rs_train_recipe_names());
}

enum {
    O_MODEL = 1000, O_DATA, O_RECIPE, O_OUT, O_RESUME, O_EPOCHS, O_BATCH, O_TEST_BATCH, O_OPT, O_LR, O_MOMENTUM,
    O_WD, O_DECAY1D, O_NESTEROV, O_SCHED, O_STEP_SIZE, O_GAMMA, O_LOSS, O_CROP, O_FLIP, O_CORRUPT, O_PTR, O_RIDGE,
    O_STOP, O_WIDTH, O_DEPTH, O_FILTER, O_STRIDES, O_SEED, O_THREADS, O_QUIET, O_TRACK, O_TRACK_P, O_HELP
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
    {"width", 1, 0, O_WIDTH},       {"depth", 1, 0, O_DEPTH},       {"filter", 1, 0, O_FILTER},
    {"strides", 1, 0, O_STRIDES},   {"seed", 1, 0, O_SEED},         {"threads", 1, 0, O_THREADS},
    {"track-every", 1, 0, O_TRACK}, {"track-P", 1, 0, O_TRACK_P},
    {"quiet", 0, 0, O_QUIET},       {"help", 0, 0, O_HELP},         {0, 0, 0, 0},
};

static int copy_str(char *dst, size_t cap, const char *src, const char *flag) {
    if (strlen(src) >= cap) return cli_usage_error("train", "%s is too long (at most %zu characters)", flag, cap - 1);
    snprintf(dst, cap, "%s", src);
    return 0;
}

/* Applies one option; returns 0, or the exit code of a usage error. */
static int apply(rs_train_config *c, int opt, const char *arg) {
    int64_t i;
    switch (opt) {
    case O_MODEL: return copy_str(c->model, sizeof c->model, arg, "--model");
    case O_DATA: return copy_str(c->data, sizeof c->data, arg, "--data");
    case O_OUT: return copy_str(c->out, sizeof c->out, arg, "--out");
    case O_RECIPE: return 0; /* applied first */
    case O_RESUME: c->resume = 1; return 0;
    case O_EPOCHS: if (cli_parse_int("train", "--epochs", arg, 1, 100000000, &i)) return 2; c->epochs = (int32_t)i; return 0;
    case O_BATCH: if (cli_parse_int("train", "--batch", arg, 1, 4096, &i)) return 2; c->batch = (int32_t)i; return 0;
    case O_TEST_BATCH: if (cli_parse_int("train", "--test-batch", arg, 1, 4096, &i)) return 2; c->test_batch = (int32_t)i; return 0;
    case O_OPT:
        if (!strcmp(arg, "sgd")) c->opt = RS_OPT_SGD;
        else if (!strcmp(arg, "adam")) c->opt = RS_OPT_ADAM;
        else return cli_usage_error("train", "--opt expects sgd or adam, got '%s'", arg);
        return 0;
    case O_LR: if (cli_parse_double("train", "--lr", arg, 0, 1e6, &c->lr)) return 2; c->lr_times_width = 0; return 0;
    case O_MOMENTUM: return cli_parse_double("train", "--momentum", arg, 0, 1, &c->momentum) ? 2 : 0;
    case O_WD: return cli_parse_double("train", "--wd", arg, 0, 1e3, &c->weight_decay) ? 2 : 0;
    case O_DECAY1D: c->decay_1d = 1; return 0;
    case O_NESTEROV: c->nesterov = 1; return 0;
    case O_SCHED: return rs_sched_parse(arg, &c->sched) == RS_OK ? 0 : cli_fail("train", RS_ERR_ARG);
    case O_STEP_SIZE: if (cli_parse_int("train", "--step-size", arg, 1, 1000000, &i)) return 2; c->step_size = (int32_t)i; return 0;
    case O_GAMMA: return cli_parse_double("train", "--gamma", arg, 0, 1e3, &c->gamma) ? 2 : 0;
    case O_LOSS:
        if (!strcmp(arg, "ce")) c->loss = RS_LOSS_CE;
        else if (!strcmp(arg, "hinge")) c->loss = RS_LOSS_HINGE;
        else return cli_usage_error("train", "--loss expects ce or hinge, got '%s'", arg);
        return 0;
    case O_CROP: if (cli_parse_int("train", "--crop-padding", arg, 0, 64, &i)) return 2; c->crop_padding = (int32_t)i; return 0;
    case O_FLIP: c->hflip = 1; return 0;
    case O_CORRUPT: return cli_parse_double("train", "--corrupt", arg, 0, 1e6, &c->corrupt_std) ? 2 : 0;
    case O_PTR: if (cli_parse_int("train", "--ptr", arg, 0, INT64_MAX, &i)) return 2; c->ptr = i; return 0;
    case O_RIDGE: return cli_parse_double("train", "--ridge", arg, 0, 1e6, &c->ridge) ? 2 : 0;
    case O_STOP:
        if (!strcmp(arg, "epochs")) c->stop = RS_STOP_EPOCHS;
        else if (!strcmp(arg, "zero-loss")) c->stop = RS_STOP_ZERO_LOSS;
        else return cli_usage_error("train", "--stop expects epochs or zero-loss, got '%s'", arg);
        return 0;
    case O_WIDTH: if (cli_parse_int("train", "--width", arg, 1, 1 << 20, &i)) return 2; c->width = (int32_t)i; return 0;
    case O_DEPTH: if (cli_parse_int("train", "--depth", arg, 1, 1 << 12, &i)) return 2; c->depth = (int32_t)i; return 0;
    case O_FILTER: if (cli_parse_int("train", "--filter", arg, 1, 1 << 12, &i)) return 2; c->filter = (int32_t)i; return 0;
    case O_STRIDES: return copy_str(c->strides, sizeof c->strides, arg, "--strides");
    case O_SEED: if (cli_parse_int("train", "--seed", arg, 0, INT64_MAX, &i)) return 2; c->seed = (uint64_t)i; return 0;
    case O_THREADS: if (cli_parse_int("train", "--threads", arg, 0, 1024, &i)) return 2; c->threads = (int32_t)cli_threads_cap(i); return 0;
    case O_QUIET: c->quiet = 1; return 0;
    case O_TRACK: if (cli_parse_int("train", "--track-every", arg, 0, 100000000, &i)) return 2; c->track_every = (int32_t)i; return 0;
    case O_TRACK_P: if (cli_parse_int("train", "--track-P", arg, 2, 1000000, &i)) return 2; c->track_P = (int32_t)i; return 0;
    }
    return cli_usage_error("train", "unknown option");
}

int rs_cmd_train(int argc, char **argv) {
    rs_train_config c;
    rs_train_config_default(&c);
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
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == '?') return cli_usage_error("train", "unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
        int rc = apply(&c, opt, optarg);
        if (rc) return rc;
    }
    if (optind < argc) return cli_usage_error("train", "unexpected argument '%s'", argv[optind]);
    rs_run_lock *lock = NULL; /* a resume locks the directory before reading its config.json */
    if (c.resume) {
        if (!c.out[0]) return cli_usage_error("train", "--resume needs --out DIR");
        struct stat sb;
        if (stat(c.out, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return cli_usage_error("train", "--resume: %s is not a run directory (no config.json)", c.out);
        if (rs_run_lock_acquire(c.out, &lock) != RS_OK) return cli_fail("train", RS_ERR_ARG);
        char path[1100];
        snprintf(path, sizeof path, "%s/config.json", c.out);
        int quiet = c.quiet;
        char out[1024];
        snprintf(out, sizeof out, "%s", c.out);
        if (rs_train_config_read(&c, path) != RS_OK) {
            rs_run_lock_release(lock);
            return cli_fail("train", RS_ERR_ARG);
        }
        snprintf(c.out, sizeof c.out, "%s", out);
        c.quiet = quiet;
        c.resume = 1;
    } else {
        if (!c.model[0]) return cli_usage_error("train", "--model is required (relstab info --list lists the models)");
        if (!c.out[0]) snprintf(c.out, sizeof c.out, "runs/%s-s%llu", c.model, (unsigned long long)c.seed);
    }
    rs_train_result res;
    rs_status s = rs_train_run(&c, &res);
    rs_run_lock_release(lock);
    if (s != RS_OK) return cli_fail("train", s);
    printf("best test error %.4f at epoch %d; last test error %.4f after %d epochs; run directory %s\n",
           res.best_test_err, res.best_epoch, res.last_test_err, res.epochs_done, c.out);
    return 0;
}
