/* shuffle.c: channel shuffling of a net's conv weights (SPEC 4.2.1), the reference's --shuffle_channels: every
 * conv filter keeps its spatial profile but is applied to other input channels (mode 1), and in mode 2 also
 * lands in another output channel, so that learned channel pooling is destroyed while spatial pooling stays.
 * Permutations are counter-based (RS_PURPOSE_SHUFFLE, one stream per parameter index), so a shuffled net is a
 * function of the seed only. It touches conv weights only: biases, batch norm and linear layers stay. */
#include <string.h>

#include "relstab/measure.h"

/* w (O, I, K) <- w[:, perm_in] and then, if perm_out, w[perm_out]. tmp (O * I * K). */
static void permute(float *w, float *tmp, int64_t O, int64_t I, int64_t K, const int64_t *perm_in,
                    const int64_t *perm_out) {
    for (int64_t o = 0; o < O; o++)
        for (int64_t i = 0; i < I; i++)
            memcpy(tmp + (o * I + i) * K, w + (o * I + perm_in[i]) * K, (size_t)K * sizeof(float));
    if (!perm_out) {
        memcpy(w, tmp, (size_t)(O * I * K) * sizeof(float));
        return;
    }
    for (int64_t o = 0; o < O; o++) memcpy(w + o * I * K, tmp + perm_out[o] * I * K, (size_t)(I * K) * sizeof(float));
}

rs_status rs_shuffle_channels(rs_net *net, int32_t mode, uint64_t seed, int32_t *n_shuffled) {
    if (n_shuffled) *n_shuffled = 0;
    if (mode < 0 || mode > 2) return rs_error(RS_ERR_ARG, "shuffle mode must be 0, 1 or 2, got %d", mode);
    if (mode == 0) return RS_OK;
    rs_params *ps = &net->params;
    if (!ps->data) return rs_error(RS_ERR_ARG, "the net has no parameters yet: nothing to shuffle");
    char *done = rs_calloc((size_t)(ps->count > 0 ? ps->count : 1));
    if (!done) return rs_error(RS_ERR_NOMEM, "out of memory for shuffling");
    rs_status s = RS_OK;
    int32_t count = 0;
    for (int32_t n = 0; n < net->n_nodes && !s; n++) {
        const rs_node *d = &net->nodes[n];
        int32_t pi = d->param[0];
        if (d->op != RS_OP_CONV2D || pi < 0 || done[pi]) continue;
        done[pi] = 1;
        const rs_param *p = &ps->items[pi];
        if (p->ndim != 3 && p->ndim != 4) continue;
        int64_t O = p->shape[0], I = p->shape[1], K = p->shape[2] * (p->ndim == 4 ? p->shape[3] : 1);
        int64_t *pin = rs_alloc((size_t)I * sizeof(int64_t)), *pout = rs_alloc((size_t)O * sizeof(int64_t));
        float *tmp = rs_alloc((size_t)p->numel * sizeof(float));
        if (!pin || !pout || !tmp) {
            s = rs_error(RS_ERR_NOMEM, "out of memory shuffling %s", p->name);
        } else {
            rs_permutation(pin, I, seed, rs_stream(RS_PURPOSE_SHUFFLE, (uint32_t)pi, 0));
            if (mode == 2) rs_permutation(pout, O, seed, rs_stream(RS_PURPOSE_SHUFFLE, (uint32_t)pi, 1));
            permute(rs_param_data(ps, pi), tmp, O, I, K, pin, mode == 2 ? pout : NULL);
            count++;
        }
        rs_free(pin), rs_free(pout), rs_free(tmp);
    }
    rs_free(done);
    if (n_shuffled) *n_shuffled = count;
    return s;
}
