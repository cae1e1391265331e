/* fuzz_runmeta.c: libFuzzer target for what `train --resume` and `measure --run` read from a run directory:
 * config.json (rs_train_config_read), resume.safetensors (weights, optimiser state and the counters in its
 * metadata) and log.csv (rs_run_resume). The input packs the three files, separated by FUZZ_SEP lines. Every
 * input is either refused with a message or gives values inside the ranges that the command-line flags accept
 * (train --epochs, --batch, --threads, --track-P, ...) and counters that make sense (0 <= best epoch <= epochs
 * done); never a crash, a leak or undefined behaviour. The seeds named crash-* reproduce what the first runs found
 * (a fractional test_batch read as 0, threads 1000000 and track_P 2^40 accepted, epochs_done 1e30 converted to int
 * with undefined behaviour, best_epoch after epochs_done accepted): they fail until the run-directory readers
 * validate their fields. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_files.h"
#include "relstab/io.h"
#include "relstab/models.h"
#include "relstab/train.h"
#include "train/train_internal.h"

#define IN(v, lo, hi) ((v) >= (lo) && (v) <= (hi))

/* The ranges of the flags (src/train/config.c); track_P 0 means the default (500 or the whole test split), 1 is
 * refused when the run starts, not when the file is read. */
static void check_config(const rs_train_config *c) {
    if (!IN(c->epochs, 1, 100000000) || !IN(c->batch, 1, 4096) || !IN(c->test_batch, 1, 4096)) abort();
    if (!IN(c->threads, 0, 1024) || !IN(c->track_every, 0, 100000000) || !IN(c->track_P, 0, 1000000)) abort();
    if (!IN(c->lr, 0, 1e6) || !IN(c->momentum, 0, 1) || !IN(c->weight_decay, 0, 1e3)) abort();
    if (!IN(c->crop_padding, 0, 64) || !IN(c->corrupt_std, 0, 1e6) || !IN(c->ridge, 0, 1e6) || c->ptr < 0) abort();
    const rs_model_opts *m = &c->model_opts;
    if (!IN(m->hidden, -1, 1 << 20) || !IN(m->depth, -1, RS_MODEL_MAX_BLOCKS) || !IN(m->filter_size, -1, 1024)) abort();
    if (!IN(m->channels, -1, 65536) || !IN(m->pbc, -1, 1) || !IN(m->n_strides, 0, RS_MODEL_MAX_BLOCKS)) abort();
    for (int32_t l = 0; l < m->n_strides; l++)
        if (!IN(m->strides[l], 1, 1024)) abort();
    if (!IN(c->step_size, 1, 1000000) || !IN(c->gamma, 0, 1e3)) abort();
    if (memchr(c->model, 0, sizeof c->model) == NULL || memchr(c->data, 0, sizeof c->data) == NULL) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *part[3];
    size_t len[3];
    fuzz_split(data, size, 3, part, len);
    /* config.json */
    const char *cfg = fuzz_write(0, "config.json", part[0], len[0]);
    rs_train_config c;
    rs_clear_error();
    if (rs_train_config_read(&c, cfg) == RS_OK) check_config(&c);
    else if (rs_last_error()[0] == 0) abort();
    /* resume.safetensors and log.csv in the run directory of a fixed configuration */
    rs_train_config r;
    rs_train_config_default(&r);
    snprintf(r.out, sizeof r.out, "%s", fuzz_dir());
    fuzz_write(1, "resume.safetensors", part[1], len[1]);
    if (len[2]) fuzz_write(2, "log.csv", part[2], len[2]);
    else fuzz_remove("log.csv");
    rs_net *net = fuzz_tiny_net();
    rs_optimizer opt = rs_sgd(0.9, 0, 0);
    rs_run_state st;
    rs_clear_error();
    rs_status s = rs_run_resume(net, &opt, &r, &st);
    if (s == RS_OK) {
        if (st.epochs_done < 0 || st.best_epoch < 0 || st.best_epoch > st.epochs_done || opt.t < 0) abort();
        if (!(st.wall >= 0) || !isfinite(st.wall) || st.n_rows != st.epochs_done) abort();
    } else if (rs_last_error()[0] == 0) {
        abort();
    }
    rs_run_state_free(&st);
    rs_free(net->params.state1), rs_free(net->params.state2); /* the optimiser state a resume allocated */
    net->params.state1 = net->params.state2 = NULL;
    return 0;
}
