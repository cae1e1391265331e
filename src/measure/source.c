/* source.c: where the net of a measurement (or of `forward`, `spectrum`) comes from: a run directory (its
 * config.json says the model and the dataset, its checkpoints the weights), a model name with a safetensors file,
 * or a model name with a fresh initialisation. A run's model is built by the trainer's own rule
 * (rs_train_build_model), so that the weights fit by construction, and its test split is opened with the
 * trainer's data options (ptr, seed, corruption), so that the probe images are the run's test images.
 * It does not measure anything. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/io.h"
#include "relstab/measure.h"
#include "relstab/onnx.h"
#include "relstab/train.h"
#include "train/train_internal.h"

void rs_net_source_init(rs_net_source *src) {
    memset(src, 0, sizeof *src);
    rs_model_opts_init(&src->model_opts);
}

/* A model by name, its input and outputs from the dataset (or the options given, else the model's defaults). */
static rs_status build_named(const rs_net_source *src, const rs_dataset *ds, rs_net **net) {
    rs_model_opts o = src->model_opts;
    /* the images fix the input; the classes default to the data's, but a --classes given wins (no labels are used:
     * a 10-class net measures on any images) */
    if (ds)
        RS_TRY(rs_model_opts_from_data(&o, ds->channels, ds->height, ds->width,
                                       o.classes >= 0 ? -1 : ds->label_kind == RS_LABEL_SIGN ? 1 : ds->classes,
                                       src->data));
    RS_TRY(rs_model_resolve(src->model, &o));
    return rs_model_build(src->model, &o, net);
}

/* The epoch in a checkpoint's metadata, or -1. */
static int64_t meta_epoch(const rs_safetensors *meta) {
    const char *e = meta ? rs_safetensors_meta(meta, "epoch") : NULL;
    if (!e) return -1;
    char *end;
    long long v = strtoll(e, &end, 10);
    return (end != e && !*end && v >= 0) ? v : -1;
}

static rs_status load_weights(rs_net *net, const char *path, rs_net_source_info *info) {
    rs_safetensors *meta = NULL;
    RS_TRY(rs_net_build(net, 1, 0));
    RS_TRY(rs_net_load(net, path, &meta));
    info->epoch = meta_epoch(meta);
    rs_safetensors_free(meta);
    return RS_OK;
}

static rs_status open_run(const rs_net_source *src, rs_net **net, rs_dataset **test, rs_net_source_info *info) {
    rs_model_opts none;
    rs_model_opts_init(&none);
    if (memcmp(&none, &src->model_opts, sizeof none))
        return rs_error(RS_ERR_ARG, "--run takes the model and its options from the run's config.json: give no model "
                        "options with it");
    const char *ck = src->checkpoint ? src->checkpoint : "best";
    if (strcmp(ck, "best") && strcmp(ck, "last") && strcmp(ck, "init"))
        return rs_error(RS_ERR_ARG, "--checkpoint must be best, last or init, got '%s'", ck);
    char path[4096];
    rs_train_config c;
    if (snprintf(path, sizeof path, "%s/config.json", src->run_dir) >= (int)sizeof path)
        return rs_error(RS_ERR_ARG, "the run directory name is too long");
    RS_TRY(rs_train_config_read(&c, path));
    rs_data_options o;
    rs_data_options_default(&o);
    o.corrupt_std = c.corrupt_std, o.ptr = c.ptr, o.subset_seed = c.seed, o.seed = c.seed;
    const char *data = src->data ? src->data : c.data;
    rs_dataset *ds = NULL;
    RS_TRY(rs_dataset_open(data, RS_SPLIT_TEST, &o, &ds));
    rs_model_shape shape;
    rs_status s = rs_train_build_model(&c, ds, c.loss == RS_LOSS_HINGE ? 1 : ds->classes, net, &shape);
    snprintf(info->model, sizeof info->model, "%s", c.model);
    snprintf(info->data, sizeof info->data, "%s", data);
    snprintf(info->checkpoint, sizeof info->checkpoint, "%s", ck);
    info->mode = strcmp(ck, "init") ? RS_MODE_EVAL : RS_MODE_INIT_EVAL;
    if (!s && snprintf(path, sizeof path, "%s/%s.safetensors", src->run_dir, ck) >= (int)sizeof path)
        s = rs_error(RS_ERR_ARG, "the run directory name is too long");
    if (!s) s = load_weights(*net, path, info);
    if (!s && !strcmp(ck, "init")) info->epoch = 0;
    if (s || !test) rs_dataset_free(ds);
    else *test = ds;
    return s;
}

/* An ONNX model: its graph and weights from the file; symbolic input sizes from the dataset. */
static rs_status open_onnx(const rs_net_source *src, rs_net **net, rs_dataset **test, rs_net_source_info *info) {
    if (src->weights || src->init || src->checkpoint)
        return rs_error(RS_ERR_ARG, "--onnx takes its weights from the file: no --weights / --init / --checkpoint");
    rs_dataset *ds = NULL;
    RS_TRY(src->data ? rs_dataset_open(src->data, RS_SPLIT_TEST, NULL, &ds) : RS_OK);
    rs_onnx_opts o = {0};
    if (ds) o.channels = ds->channels, o.height = ds->height, o.width = ds->width;
    rs_status s = rs_onnx_load(src->onnx, &o, net, NULL);
    snprintf(info->model, sizeof info->model, "onnx");
    snprintf(info->data, sizeof info->data, "%s", src->data ? src->data : "");
    snprintf(info->checkpoint, sizeof info->checkpoint, "onnx:%s", src->onnx);
    info->mode = RS_MODE_EVAL;
    if (s || !test) rs_dataset_free(ds);
    else *test = ds;
    return s;
}

rs_status rs_net_source_open(const rs_net_source *src, rs_net **net, rs_dataset **test, rs_net_source_info *info) {
    *net = NULL;
    if (test) *test = NULL;
    memset(info, 0, sizeof *info);
    info->epoch = -1;
    int kinds = !!src->run_dir + !!src->model + !!src->onnx;
    if (kinds != 1) return rs_error(RS_ERR_ARG, "give one of a run directory (--run), a model (--model), --onnx");
    rs_status s;
    if (src->onnx) {
        s = open_onnx(src, net, test, info);
    } else if (src->run_dir) {
        if (src->weights || src->init) return rs_error(RS_ERR_ARG, "--run takes its weights from the run: no --weights / --init");
        s = open_run(src, net, test, info);
    } else {
        if (!!src->weights + !!src->init != 1)
            return rs_error(RS_ERR_ARG, "--model needs either --weights FILE.safetensors or --init");
        if (src->checkpoint) return rs_error(RS_ERR_ARG, "--checkpoint is for --run; with --model give --weights");
        rs_dataset *ds = NULL;
        s = src->data ? rs_dataset_open(src->data, RS_SPLIT_TEST, NULL, &ds) : RS_OK;
        if (!s) s = build_named(src, ds, net);
        snprintf(info->model, sizeof info->model, "%s", src->model);
        snprintf(info->data, sizeof info->data, "%s", src->data ? src->data : "");
        if (!s && src->weights) {
            snprintf(info->checkpoint, sizeof info->checkpoint, "weights:%s", src->weights);
            info->mode = RS_MODE_EVAL;
            s = load_weights(*net, src->weights, info);
        } else if (!s) {
            snprintf(info->checkpoint, sizeof info->checkpoint, "init-seed:%llu", (unsigned long long)src->init_seed);
            info->mode = RS_MODE_INIT_EVAL;
            info->epoch = 0;
            s = rs_net_build(*net, 1, 0);
            if (!s) rs_net_init(*net, src->init_seed);
        }
        if (s || !test) rs_dataset_free(ds);
        else *test = ds;
    }
    if (s) {
        rs_net_free(*net);
        *net = NULL;
        if (test) *test = NULL;
    }
    return s;
}
