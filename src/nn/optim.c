/* optim.c: SGD (momentum, Nesterov, weight decay) and Adam with torch.optim's update rules, on the parameter
 * arena. Weight decay is the L2 term added to the gradient; by default (decay_1d = 0) only parameters with two or
 * more dimensions are decayed, as the paper's code does (biases and batch-norm parameters are not). Buffers are
 * never touched. */
#include <math.h>

#include "relstab/nn.h"

rs_optimizer rs_sgd(double momentum, int32_t nesterov, double weight_decay) {
    rs_optimizer o = {0};
    o.type = RS_OPT_SGD;
    o.momentum = momentum;
    o.nesterov = nesterov;
    o.weight_decay = weight_decay;
    return o;
}

rs_optimizer rs_adam(double weight_decay) {
    rs_optimizer o = {0};
    o.type = RS_OPT_ADAM;
    o.weight_decay = weight_decay;
    o.beta1 = 0.9;
    o.beta2 = 0.999;
    o.eps = 1e-8;
    return o;
}

static void sgd_update(const rs_optimizer *o, float *w, const float *g, float *buf, int64_t n, double wd, double lr) {
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t j = 0; j < n; j++) {
        double d = (double)g[j] + wd * (double)w[j];
        if (o->momentum != 0) {
            /* torch: buf = d at the first step, then buf = momentum * buf + d (dampening 0) */
            double b = o->t == 0 ? d : o->momentum * (double)buf[j] + d;
            buf[j] = (float)b;
            d = o->nesterov ? d + o->momentum * b : b;
        }
        w[j] = (float)((double)w[j] - lr * d);
    }
}

static void adam_update(const rs_optimizer *o, float *w, const float *g, float *m, float *v, int64_t n, double wd,
                        double lr) {
    double t = (double)(o->t + 1);
    double bc1 = 1.0 - pow(o->beta1, t), bc2 = 1.0 - pow(o->beta2, t);
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t j = 0; j < n; j++) {
        double d = (double)g[j] + wd * (double)w[j];
        double mj = o->beta1 * (double)m[j] + (1.0 - o->beta1) * d;
        double vj = o->beta2 * (double)v[j] + (1.0 - o->beta2) * d * d;
        m[j] = (float)mj;
        v[j] = (float)vj;
        double denom = sqrt(vj) / sqrt(bc2) + o->eps;
        w[j] = (float)((double)w[j] - lr / bc1 * mj / denom);
    }
}

rs_status rs_optimizer_step(rs_optimizer *opt, rs_params *p, double lr) {
    if (!p->data) return rs_error(RS_ERR_ARG, "optimiser step on a net that was not built");
    if (!isfinite(lr) || lr < 0) return rs_error(RS_ERR_ARG, "learning rate %g is not a finite non-negative number", lr);
    int need2 = opt->type == RS_OPT_ADAM;
    if (!p->state1 && (opt->type == RS_OPT_ADAM || opt->momentum != 0)) p->state1 = rs_calloc(p->total * sizeof(float));
    if (need2 && !p->state2) p->state2 = rs_calloc(p->total * sizeof(float));
    if ((opt->type == RS_OPT_ADAM || opt->momentum != 0) && !p->state1) return rs_error(RS_ERR_NOMEM, "optimiser state");
    if (need2 && !p->state2) return rs_error(RS_ERR_NOMEM, "optimiser state");
    for (int32_t i = 0; i < p->count; i++) {
        const rs_param *q = &p->items[i];
        if (q->kind != RS_PARAM_TRAINABLE) continue;
        double wd = (opt->decay_1d || q->ndim >= 2) ? opt->weight_decay : 0.0;
        float *w = p->data + q->offset, *g = p->grad + q->offset;
        if (opt->type == RS_OPT_SGD) sgd_update(opt, w, g, p->state1 ? p->state1 + q->offset : NULL, q->numel, wd, lr);
        else adam_update(opt, w, g, p->state1 + q->offset, p->state2 + q->offset, q->numel, wd, lr);
    }
    opt->t++;
    return RS_OK;
}
