/* net_plan.c: rs_net_build, the allocation of a net's parameter arenas and of its activation arena, laid out twice.
 *
 * The full layout (every pass but a training step's): every node has its own output buffer, so any node's output is
 * readable after a forward (taps, measurements); gradients share buffers over non-overlapping lifetimes.
 * The step layout (TRAIN-mode forwards of a net built with gradients, unless net->keep_outputs): a training step
 * reads only the net's output after its forward, so outputs and gradients together share buffers over their
 * lifetimes in the step (forward, then backward). A node's output lives from its forward until its last reader:
 * the forward of its last consumer, or the backward of a consumer (or its own) that reads its values (convolution,
 * linear, batch norm, SiLU: their input; ReLU, sigmoid: their own output; see backward_reads). Outputs no backward
 * reads (a batch norm's before its ReLU, a residual sum before its ReLU) live for a node or two and are reused, as
 * PyTorch's autograd frees the tensors it did not save.
 * The two layouts overlay one block (passes do not keep values across each other: only parameters do), taken with
 * calloc so that a page is resident only once a pass touches it: a process that only trains holds the step layout.
 * Not a graph optimiser: no op is fused or run in place. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* madvise */
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "nn/net_internal.h"
#include "relstab/nn.h"
#include "relstab/nn_ext.h"

static size_t aligned_floats(size_t n) { return (n + 15) / 16 * 16; }
static const size_t huge_page = (size_t)2 << 20;

/* Advises [p, p + bytes) as transparent huge pages where it covers whole 2 MB pages: the first touch of a few
 * hundred MB of activations in 4 KB pages costs one page fault per page, which perf put at 15-20 % of the CPU time
 * of a VGG11 measurement at P = 500 (docs/bench.md). Where the kernel gives no huge pages, the advice is ignored. */
static void advise_huge(void *p, size_t bytes) {
#ifdef MADV_HUGEPAGE
    uintptr_t a = ((uintptr_t)p + huge_page - 1) / huge_page * huge_page, e = ((uintptr_t)p + bytes) / huge_page * huge_page;
    if (e > a) madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
    (void)p, (void)bytes;
#endif
}

/* Zeroed memory for the parameter blocks, freed by rs_free: from 4 MB on, 2 MB aligned and advised huge. */
static void *big_calloc(size_t bytes) {
    if (bytes < 2 * huge_page || bytes > SIZE_MAX - huge_page) return rs_calloc(bytes);
    size_t rounded = (bytes + huge_page - 1) / huge_page * huge_page;
    void *p = aligned_alloc(huge_page, rounded);
    if (!p) return NULL;
    advise_huge(p, rounded);
    memset(p, 0, bytes);
    return p;
}

void rs_net_act_free(rs_net *net) {
    free(net->act_block);
    net->act_block = NULL;
    net->act.base = NULL;
    net->act.capacity = net->act.used = 0;
    rs_free(net->layout);
    net->layout = NULL;
}

/* The activation block: calloc (zeroed; glibc maps a block this large fresh, so its pages stay out of the resident
 * set until touched), the arena 2 MB aligned inside it. */
static rs_status act_alloc(rs_net *net, size_t bytes) {
    if (bytes > SIZE_MAX - huge_page) return rs_error(RS_ERR_NOMEM, "activation arena too large");
    net->act_block = calloc(1, bytes + huge_page);
    if (!net->act_block) return rs_error(RS_ERR_NOMEM, "cannot allocate %zu MB of activations", bytes >> 20);
    uintptr_t a = ((uintptr_t)net->act_block + huge_page - 1) / huge_page * huge_page;
    net->act.base = (char *)a;
    net->act.capacity = net->act.used = bytes;
    advise_huge(net->act.base, bytes);
    return RS_OK;
}

/* Bytes of the per-node "saved" buffer for a batch of b. */
static size_t saved_bytes(const rs_node *d, int32_t b) {
    if (d->op == RS_OP_MAXPOOL) {
        rs_pool2d_dims p = d->pool;
        p.n = b;
        return rs_maxpool2d_saved_bytes(&p);
    }
    if (d->op == RS_OP_BATCHNORM) return 2 * sizeof(float) * (size_t)d->c;
    return 0;
}

static rs_status alloc_params(rs_net *net) {
    rs_params *p = &net->params;
    size_t bytes;
    if (rs_mul_size(p->total ? p->total : 1, sizeof(float), &bytes))
        return rs_error(RS_ERR_NOMEM, "parameter arena too large");
    p->data = big_calloc(bytes);
    p->grad = big_calloc(bytes);
    if (!p->data || !p->grad) return rs_error(RS_ERR_NOMEM, "cannot allocate %zu bytes of parameters", 2 * bytes);
    for (int32_t i = 0; i < p->count; i++) /* buffers and constants get their values even before rs_net_init */
        if (p->items[i].init.kind == RS_INIT_CONST)
            for (int64_t j = 0; j < p->items[i].numel; j++) p->data[p->items[i].offset + j] = p->items[i].init.a;
    return RS_OK;
}

/* ---------------------------------------------------------------- lifetimes
 * The backward walks the nodes from the output down to 1; node i's gradient is written first by the backward of
 * its last consumer and read last by its own: it is live over the backward steps [i, live[i]] (live[i] = the
 * largest consumer up to the output, or i if none; the output's from the start). */
void rs_net_grad_live(const rs_net *net, int32_t *live) { // live: (n_nodes)
    int32_t out = net->output;
    for (int32_t i = 0; i < net->n_nodes; i++) live[i] = i;
    for (int32_t j = 1; j <= out; j++) {
        const rs_node *d = &net->nodes[j];
        const rs_ext_node *e = d->ext;
        for (int32_t k = 0; k < d->n_in; k++)
            if (d->in[k] >= 0 && live[d->in[k]] < j) live[d->in[k]] = j;
        for (int32_t k = 0; e && k < e->n_src; k++)
            if (e->src[k] >= 0 && live[e->src[k]] < j) live[e->src[k]] = j;
    }
}

/* Whether node j's backward reads the values of its input k (k >= 0: in[k], or ext src[k]) or of its own output
 * (k = -1). The graph-import ops are taken to read all of them. */
static int backward_reads(const rs_node *d, int32_t k) {
    switch (d->op) {
    case RS_OP_CONV2D: case RS_OP_LINEAR: case RS_OP_BATCHNORM: case RS_OP_SILU: return k == 0;
    case RS_OP_MUL_CHANNEL: return k >= 0;
    case RS_OP_RELU: case RS_OP_SIGMOID: return k < 0; /* ReLU: in > 0 exactly where out > 0 */
    case RS_OP_GATHER: case RS_OP_SOFTMAX: case RS_OP_BINARY: return 1;
    default: return 0;
    }
}

/* The step layout's lifetimes on one clock: node i's forward at time i, the backward of node j <= out at
 * t_end - j (t_end = n_nodes + out). Buffers 0..n-1: outputs; n..2n-1: gradients. Node 0 (the input) is not
 * planned (start -1); nodes after the output, which the backward never walks, keep theirs for the whole step. */
static void step_lifetimes(const rs_net *net, const int32_t *live, int32_t *start, int32_t *end) {
    int32_t n = net->n_nodes, out = net->output, t_end = n + out;
    start[0] = end[0] = start[n] = end[n] = -1;
    for (int32_t i = 1; i < n; i++) {
        start[i] = i, end[i] = i >= out ? t_end : i;
        if (i <= out && backward_reads(&net->nodes[i], -1)) end[i] = t_end - i;
        start[n + i] = i <= out ? t_end - live[i] : 0, end[n + i] = i <= out ? t_end - i : t_end;
    }
    for (int32_t j = 1; j < n; j++) {
        const rs_node *d = &net->nodes[j];
        const rs_ext_node *e = d->ext;
        int32_t n_src = d->n_in + (e ? e->n_src : 0);
        for (int32_t k = 0; k < n_src; k++) {
            int32_t i = k < d->n_in ? d->in[k] : e->src[k - d->n_in];
            if (i < 1) continue;
            int32_t t = j <= out && backward_reads(d, k < d->n_in ? k : k - d->n_in) ? t_end - j : j;
            if (end[i] < t) end[i] = t;
        }
    }
}

/* The full layout's: gradients only (outputs are all own), the same clock. */
static void full_lifetimes(const rs_net *net, const int32_t *live, int32_t *start, int32_t *end) {
    int32_t n = net->n_nodes, out = net->output, t_end = n + out;
    for (int32_t i = 0; i < n; i++) start[i] = end[i] = -1;
    start[n] = end[n] = -1;
    for (int32_t i = 1; i < n; i++)
        start[n + i] = i <= out ? t_end - live[i] : 0, end[n + i] = i <= out ? t_end - i : t_end;
}

/* Assigns the m buffers with start >= 0 to slots (slot[b]) by walking the clock: at each time, the buffers that
 * start take the best-fitting free slot (the smallest that fits, else the largest, grown), then the buffers that
 * end free theirs. need: floats per image; size: the slots' (room for m). Returns the number of slots. */
static int32_t plan_slots(int32_t m, const int32_t *start, const int32_t *end, const int64_t *need, int32_t t_end,
                          int32_t *slot, int64_t *size, char *busy) {
    int32_t ns = 0;
    for (int32_t t = 0; t <= t_end; t++) {
        for (int32_t b = 0; b < m; b++) {
            if (start[b] != t) continue;
            int32_t best = -1;
            for (int32_t k = 0; k < ns; k++)
                if (!busy[k] && (best < 0 || (size[k] >= need[b] ? size[best] < need[b] || size[k] < size[best]
                                                                 : size[best] < need[b] && size[k] > size[best])))
                    best = k;
            if (best < 0) best = ns++, size[best] = 0;
            if (size[best] < need[b]) size[best] = need[b];
            busy[best] = 1, slot[b] = best;
        }
        for (int32_t b = 0; b < m; b++)
            if (start[b] >= 0 && end[b] == t) busy[slot[b]] = 0;
    }
    return ns;
}

/* One layout: plans the buffers, returns the bytes it needs from `base` on and, with `at` set, points
 * layout[b] at them (outputs of a full layout: consecutive own buffers, from `base` on). */
static size_t lay_out(const rs_net *net, int32_t batch, int32_t full, const int32_t *live, int32_t *scratch,
                      char *at, float **layout) {
    int32_t n = net->n_nodes, m = 2 * n, *start = scratch, *end = start + m, *slot = end + m; // (m) each
    int64_t *need = (int64_t *)(slot + 2 * m), *size = need + m; // (m) each, 8-byte aligned
    char *busy = (char *)(size + m);
    memset(busy, 0, (size_t)m);
    if (full) full_lifetimes(net, live, start, end);
    else step_lifetimes(net, live, start, end);
    if (!net->with_grad)
        for (int32_t i = 0; i < n; i++) start[n + i] = -1;
    for (int32_t i = 0; i < n; i++) need[i] = need[n + i] = rs_net_node_numel(net, i);
    size_t bytes = 0;
    for (int32_t i = 1; full && i < n; i++) {
        if (layout) layout[i] = (float *)(at + bytes);
        bytes += aligned_floats((size_t)batch * (size_t)need[i]) * sizeof(float);
    }
    int32_t ns = plan_slots(m, start, end, need, n + net->output, slot, size, busy);
    size_t *off = (size_t *)need; /* the slots' offsets (need is no longer needed once planned) */
    for (int32_t k = 0; k < ns; k++) {
        size_t sb = aligned_floats((size_t)batch * (size_t)size[k]) * sizeof(float);
        off[k] = bytes, bytes += sb;
    }
    for (int32_t b = 0; layout && b < m; b++)
        if (start[b] >= 0) layout[b] = (float *)(at + off[slot[b]]);
    return bytes;
}

/* The part outside both layouts: the input's output and gradient and every node's saved buffer. */
static size_t fixed_bytes(const rs_net *net, int32_t batch, char *at) {
    size_t bytes = 0, in = aligned_floats((size_t)batch * (size_t)rs_net_node_numel(net, 0)) * sizeof(float);
    for (int32_t i = 0; i < net->n_nodes; i++) {
        rs_node *d = &net->nodes[i];
        size_t sb = saved_bytes(d, batch);
        if (at) d->saved = sb ? at + bytes : NULL;
        bytes += aligned_floats((sb + 3) / 4) * sizeof(float);
    }
    for (int32_t k = 0; k < (net->with_grad ? 2 : 1); k++) {
        if (at) net->layout[(size_t)k * net->n_nodes] = net->layout[(size_t)(2 + k) * net->n_nodes] = (float *)(at + bytes);
        bytes += in;
    }
    return bytes;
}

/* Points every node's out and d_out at the full (0) or the step (1) layout. */
void rs_net_use_layout(rs_net *net, int32_t step) {
    int32_t n = net->n_nodes;
    float **l = net->layout + (size_t)(step ? 2 : 0) * n; // (2, n): outputs, gradients
    for (int32_t i = 0; i < n; i++) net->nodes[i].out = l[i], net->nodes[i].d_out = net->with_grad ? l[n + i] : NULL;
    net->cur_layout = step;
}

rs_status rs_net_build(rs_net *net, int32_t batch, int32_t with_grad) {
    if (net->status != RS_OK) return rs_error(net->status, "%s", net->error);
    if (batch <= 0) return rs_error(RS_ERR_ARG, "batch size %d is not positive", batch);
    if (!net->params.data) RS_TRY(alloc_params(net));
    rs_net_act_free(net);
    net->with_grad = with_grad;
    int32_t n = net->n_nodes, m = 2 * n;
    size_t scratch_bytes = (size_t)m * (4 * sizeof(int32_t) + 2 * sizeof(int64_t) + 1) + 64;
    int32_t *live = rs_alloc((size_t)n * sizeof(int32_t)), *scratch = rs_alloc(scratch_bytes);
    net->layout = rs_calloc((size_t)4 * n * sizeof(float *));
    if (!live || !scratch || !net->layout) {
        rs_free(live), rs_free(scratch), rs_net_act_free(net);
        return rs_error(RS_ERR_NOMEM, "out of memory planning the buffers of %d nodes", n);
    }
    rs_net_grad_live(net, live);
    size_t fixed = fixed_bytes(net, batch, NULL), full = lay_out(net, batch, 1, live, scratch, NULL, NULL);
    size_t step = with_grad ? lay_out(net, batch, 0, live, scratch, NULL, NULL) : 0;
    rs_status s = act_alloc(net, fixed + (full > step ? full : step));
    if (s == RS_OK) {
        fixed_bytes(net, batch, net->act.base);
        lay_out(net, batch, 1, live, scratch, net->act.base + fixed, net->layout);
        if (with_grad) lay_out(net, batch, 0, live, scratch, net->act.base + fixed, net->layout + (size_t)2 * n);
        else memcpy(net->layout + (size_t)2 * n, net->layout, (size_t)2 * n * sizeof(float *));
        rs_net_use_layout(net, 0);
    } else
        rs_net_act_free(net);
    rs_free(live), rs_free(scratch);
    if (s != RS_OK) return s;
    net->grad_output = net->output;
    net->batch = batch;
    net->cur_n = 0;
    return RS_OK;
}
