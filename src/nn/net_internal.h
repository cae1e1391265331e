/* net_internal.h: what the net builders of net.c and net_ext.c share and nothing else uses. */
#pragma once
#include "relstab/nn.h"

/* Records the first builder error on the net (net->status, net->error) and returns -1 (the failed node's id). */
int32_t rs_net_build_fail(rs_net *net, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
