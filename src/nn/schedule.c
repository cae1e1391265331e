/* schedule.c: learning-rate schedules, as a pure function of the epoch. "paper" is PyTorch's CosineAnnealingLR
 * with T_max = 0.8 x epochs stepped once per epoch: its recursive update equals the closed form
 * lr (1 + cos(pi e / T_max)) / 2 for every e, including after T_max, where the cosine rises again. */
#include <math.h>
#include <string.h>

#include "relstab/nn.h"

double rs_schedule_lr(const rs_schedule *s, int32_t epoch) {
    const double pi = 3.14159265358979323846;
    switch (s->type) {
    case RS_SCHED_CONSTANT: return s->lr;
    case RS_SCHED_STEP: return s->lr * pow(s->gamma, (double)(epoch / (s->step_size > 0 ? s->step_size : 1)));
    case RS_SCHED_COSINE: return s->lr * 0.5 * (1.0 + cos(pi * (double)epoch / (double)s->epochs));
    case RS_SCHED_PAPER: {
        double t_max = 0.8 * (double)s->epochs;
        return s->lr * 0.5 * (1.0 + cos(pi * (double)epoch / t_max));
    }
    }
    return s->lr;
}

static const char *sched_names[] = {"constant", "step", "cosine", "paper"};

const char *rs_sched_name(rs_sched_type t) { return (t >= 0 && t <= RS_SCHED_PAPER) ? sched_names[t] : "unknown"; }

rs_status rs_sched_parse(const char *s, rs_sched_type *out) {
    for (int i = 0; i <= RS_SCHED_PAPER; i++)
        if (!strcmp(s, sched_names[i])) {
            *out = (rs_sched_type)i;
            return RS_OK;
        }
    return rs_error(RS_ERR_ARG, "unknown schedule '%s' (constant, step, cosine, paper)", s);
}
