/* model.c: from a training config and its dataset to a zoo model: the input shape and the number of outputs come
 * from the data and the loss, the rest from the config's model options. Also the config's sanity checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/models.h"
#include "relstab/onnx.h"
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

/* train --onnx: the net read from the file (initializers as parameters, their values the starting point), the
 * input size from the data; the outputs per image must be what the loss needs. Every op the reader imports has a
 * backward (docs/onnx.md), so any graph it reads can be trained; an initializer feeding an op that takes no
 * parameter gradient (a constant made a node, a divisor) stays fixed. */
static rs_status build_onnx(const rs_train_config *c, const rs_dataset *ds, int32_t outputs, rs_net **net,
                            rs_model_shape *shape) {
    rs_onnx_opts o = {0};
    o.channels = ds->channels, o.height = ds->height, o.width = ds->width;
    RS_TRY(rs_onnx_load(c->onnx, &o, net, NULL));
    const rs_node *in = &(*net)->nodes[0];
    if (in->c != ds->channels || in->h * in->w != ds->height * ds->width) {
        rs_net_free(*net);
        *net = NULL;
        return rs_error(RS_ERR_ARG, "%s takes %d x %d x %d inputs, the data has %d x %d x %d", c->onnx, in->c, in->h,
                        in->w, ds->channels, ds->height, ds->width);
    }
    if (rs_params_count_trainable(&(*net)->params) == 0) {
        rs_net_free(*net);
        *net = NULL;
        return rs_error(RS_ERR_ARG, "%s has no trainable parameter (no initializer feeds a Conv, Gemm, MatMul, "
                        "BatchNormalization or arithmetic node)", c->onnx);
    }
    (void)outputs; /* checked by the caller against the net's output */
    shape->width = 1, shape->depth = 1;
    return RS_OK;
}

rs_status rs_train_build_model(const rs_train_config *c, const rs_dataset *ds, int32_t outputs, rs_net **net,
                               rs_model_shape *shape) {
    if (c->onnx[0]) return build_onnx(c, ds, outputs, net, shape);
    rs_model_opts o = c->model_opts;
    /* the input shape and the outputs come from the data (and the loss); options given must agree with them */
    RS_TRY(rs_model_opts_from_data(&o, ds->channels, ds->height, ds->width, outputs, c->data));
    RS_TRY(rs_model_resolve(c->model, &o));
    RS_TRY(rs_model_build(c->model, &o, net));
    shape->width = o.hidden > 0 ? o.hidden : 1;
    shape->depth = o.depth > 0 ? o.depth : 1;
    return RS_OK;
}
