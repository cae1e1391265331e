/* net_internal.h: what the net builders of net.c and net_ext.c share and nothing else uses. */
#pragma once
#include "relstab/nn.h"

/* Records the first builder error on the net (net->status, net->error) and returns -1 (the failed node's id). */
int32_t rs_net_build_fail(rs_net *net, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* net_plan.c: node i's gradient is live over the backward steps [i, live[i]] (live: n_nodes). */
void rs_net_grad_live(const rs_net *net, int32_t *live);
/* net_plan.c: points the nodes' out / d_out at the full layout (0: every node's own output) or the step layout (1). */
void rs_net_use_layout(rs_net *net, int32_t step);
/* net_plan.c: frees the activation block and the layouts (the net is then unbuilt). */
void rs_net_act_free(rs_net *net);
