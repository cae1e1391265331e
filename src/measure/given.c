/* given.c: D, G, R of one draw on inputs the caller gives (clean, deformed and noisy images), through the same
 * passes rs_measure runs (sens_mean_pass, sens_median_pass), so that the estimators can be checked against an
 * independent implementation on identical inputs. The inputs are held as a "whole" probe set of the input
 * generator, the form the passes already read for --dump and the rectified noise.
 * It does not make perturbations, combine draws, or read datasets: rs_measure does that. */
#include <stdio.h>
#include <string.h>

#include "measure/measure_internal.h"

/* The pass of o->estimator over the given inputs; g holds them. */
static rs_status given_pass(rs_net *net, gen *g, const int32_t *nodes, int32_t n_nodes, const rs_measure_opts *o,
                            int32_t batch, rs_sens *out) {
    rep_layout L = {0};
    int64_t forwarded = 0;
    rs_status s = rep_layout_init(&L, net, nodes, n_nodes, o->channel_mean, o->aliased);
    if (!s && o->estimator == RS_EST_MEAN) s = sens_mean_pass(net, g, &L, batch, o->mode, out, 0, &forwarded);
    else if (!s) s = sens_median_pass(net, g, &L, batch, o->mode, o->median_mem, out, 0, &forwarded);
    for (int32_t k = 0; k < n_nodes && !s; k++) {
        out[k].node = nodes[k];
        snprintf(out[k].name, sizeof out[k].name, "%s", net->nodes[nodes[k]].name);
        out[k].op = net->nodes[nodes[k]].op;
        out[k].neurons = L.numel[k];
    }
    rep_layout_free(&L);
    return s;
}

rs_status sens_given(rs_net *net, const float *x, const float *xd, const float *xn, int64_t P, const int32_t *nodes,
                     int32_t n_nodes, const rs_measure_opts *o, rs_sens *out) {
    if (P < 1 || P > INT32_MAX) return rs_error(RS_ERR_ARG, "given inputs: P = %lld images", (long long)P);
    if (n_nodes < 1) return rs_error(RS_ERR_ARG, "given inputs: no node to measure");
    if (o->batch < 0) return rs_error(RS_ERR_ARG, "batch must be >= 0, got %d", o->batch);
    if (o->estimator == RS_EST_MEDIAN && !(o->median_mem > 0))
        return rs_error(RS_ERR_ARG, "the median estimator needs a positive memory budget");
    if (!net->params.data) return rs_error(RS_ERR_ARG, "the net has no parameters yet (load or initialise it first)");
    for (int32_t k = 0; k < n_nodes; k++)
        if (nodes[k] < 0 || nodes[k] >= net->n_nodes)
            return rs_error(RS_ERR_ARG, "given inputs: node index %d is not in the net (%d nodes)", nodes[k],
                            net->n_nodes);
    int32_t batch = (int32_t)(o->batch > 0 && o->batch < P ? o->batch : P);
    if (!net->act.base || net->batch < batch) RS_TRY(rs_net_build(net, batch, net->with_grad));
    const rs_node *in = &net->nodes[0];
    gen g = {0};
    g.o = o;
    g.c = in->c, g.h = in->h, g.w = in->w;
    g.d = (int64_t)in->c * in->h * in->w;
    g.P = P, g.K = 1, g.bmax = batch, g.whole = 1;
    size_t bytes;
    if (rs_mul_size((size_t)P, (size_t)g.d, &bytes) || rs_mul_size(bytes, sizeof(float), &bytes))
        return rs_error(RS_ERR_NOMEM, "given inputs: %lld images are too large", (long long)P);
    g.x = rs_alloc(bytes), g.xd = rs_alloc(bytes), g.xn = rs_alloc(bytes);
    rs_status s = RS_OK;
    if (!g.x || !g.xd || !g.xn) {
        s = rs_error(RS_ERR_NOMEM, "out of memory for %lld given probe images (%zu MB)", (long long)P,
                     (3 * bytes) >> 20);
    } else {
        memcpy(g.x, x, bytes), memcpy(g.xd, xd, bytes), memcpy(g.xn, xn, bytes);
        s = given_pass(net, &g, nodes, n_nodes, o, batch, out);
    }
    gen_free(&g);
    return s;
}
