/* model.c: from a training config and its dataset to a zoo model: the input shape and the number of outputs come
 * from the data and the loss, the rest from the config's model options. Also the config's sanity checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/models.h"
#include "train_internal.h"

rs_status rs_train_validate(const rs_train_config *c) {
    if (!c->model[0]) return rs_error(RS_ERR_ARG, "no model given");
    if (!c->out[0]) return rs_error(RS_ERR_ARG, "no run directory given");
    RS_TRY(rs_train_check_ranges(c));
    if (c->track_P == 1) return rs_error(RS_ERR_ARG, "--track-P must be at least 2 (a mean over pairs), got 1");
    if (c->epochs <= 0 || c->batch <= 0 || c->test_batch <= 0)
        return rs_error(RS_ERR_ARG, "epochs, batch and test batch must be positive");
    if (c->sched == RS_SCHED_STEP && c->step_size <= 0) return rs_error(RS_ERR_ARG, "--step-size must be positive");
    if (c->stop == RS_STOP_ZERO_LOSS && c->loss != RS_LOSS_HINGE)
        return rs_error(RS_ERR_ARG, "the zero-loss stop rule needs the hinge loss (a cross-entropy is never 0)");
    return RS_OK;
}

/* "2,2,1" -> strides; returns the count or -1. */
static int32_t parse_strides(const char *s, int32_t *out, int32_t max) {
    int32_t n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 64 || (*end && *end != ',') || n == max) return -1;
        out[n++] = (int32_t)v;
        p = *end ? end + 1 : end;
    }
    return n;
}

rs_status rs_train_build_model(const rs_train_config *c, const rs_dataset *ds, int32_t outputs, rs_net **net,
                               rs_model_shape *shape) {
    rs_model_opts o;
    rs_model_opts_init(&o);
    o.channels = ds->channels;
    o.height = ds->height;
    o.width = ds->width;
    o.classes = outputs;
    if (c->width > 0) o.hidden = c->width;
    if (c->depth > 0) o.depth = c->depth;
    if (c->filter > 0) o.filter_size = c->filter;
    if (c->bn) o.batch_norm = 1;
    if (c->strides[0]) {
        o.n_strides = parse_strides(c->strides, o.strides, RS_MODEL_MAX_BLOCKS);
        if (o.n_strides < 0)
            return rs_error(RS_ERR_ARG, "--strides expects comma-separated integers from 1 to 64, got '%s'", c->strides);
    }
    RS_TRY(rs_model_resolve(c->model, &o));
    RS_TRY(rs_model_build(c->model, &o, net));
    shape->width = o.hidden > 0 ? o.hidden : 1;
    shape->depth = o.depth > 0 ? o.depth : 1;
    return RS_OK;
}
