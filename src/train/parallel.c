/* parallel.c: data-parallel training under mpirun (mpirun -n N relstab train ...). Every rank holds the whole
 * net; each global batch (the same images, in the same order, as one rank takes) is cut into N contiguous shares;
 * each rank runs forward and backward on its share with the loss gradient scaled by share / batch, and the
 * gradients are then summed over the ranks in double (one allreduce per step, with the loss sum, the error count
 * and a finiteness flag appended), so every rank takes the identical optimiser step. Batch norm uses each rank's
 * statistics unless --sync-bn (then batchnorm_sync.c through rs_dist_sum). Rank 0 owns the run directory: it
 * creates or resumes it and broadcasts weights, optimiser state and counters, so a run resumes on any number of
 * ranks. One rank without --sync-bn: everything here is skipped and training is exactly the single-process loop.
 * Not here: the loop (train.c), MPI itself (src/dist). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "relstab/dist.h"
#include "train_internal.h"

static void bn_sum(double *buf, int64_t n, void *ctx) {
    (void)ctx;
    rs_status s = rs_dist_sum(buf, n);
    if (s) { /* inside a forward: no way to return; the job cannot continue without this rank */
        fprintf(stderr, "relstab train: rank %d: synchronised batch norm: %s\n", rs_dist_rank(), rs_last_error());
        rs_dist_finalize(1);
    }
}

rs_status rs_dp_init(rs_dp *d, rs_net *net, int32_t sync_bn, int64_t n_train, int32_t batch) {
    memset(d, 0, sizeof *d);
    d->size = rs_dist_size(), d->rank = rs_dist_rank(), d->sync_bn = sync_bn;
    int64_t last = n_train % batch ? n_train % batch : batch; /* the smallest batch of an epoch */
    if (sync_bn && d->size > 1 && (batch < d->size || last < d->size))
        return rs_error(RS_ERR_ARG, "--sync-bn on %d ranks needs every batch to have at least %d images; the batch is "
                        "%d and the last of an epoch has %lld", d->size, d->size, batch, (long long)last);
    if (d->size > 1) {
        d->buf = rs_alloc((net->params.total + 3) * sizeof(double));
        if (!d->buf) return rs_error(RS_ERR_NOMEM, "out of memory for the gradient sum over ranks");
    }
    if (sync_bn) {
        int32_t cmax = 1;
        for (int32_t i = 0; i < net->n_nodes; i++)
            if (net->nodes[i].op == RS_OP_BATCHNORM && net->nodes[i].c > cmax) cmax = net->nodes[i].c;
        net->bn_work = rs_alloc((2 * (size_t)cmax + 1) * sizeof(double));
        if (!net->bn_work) return rs_error(RS_ERR_NOMEM, "out of memory for synchronised batch norm");
        net->bn_sum = bn_sum;
    }
    return RS_OK;
}

void rs_dp_free(rs_dp *d, rs_net *net) {
    rs_free(d->buf);
    if (net) {
        rs_free(net->bn_work);
        net->bn_work = NULL, net->bn_sum = NULL;
    }
}

const char *rs_dp_describe(rs_dp *d) {
    snprintf(d->text, sizeof d->text, " per rank x %d ranks (%s batch norm)", d->size, d->sync_bn ? "synchronised" : "per-rank");
    return d->text;
}

void rs_dp_share(const rs_dp *d, int64_t n, int64_t *lo, int64_t *hi) {
    if (d->size == 1) *lo = 0, *hi = n;
    else rs_dist_share_of(n, d->rank, d->size, lo, hi);
}

/* This rank's share of a batch of n has m images: its mean-loss gradient d_out (m rows) becomes m / n of it. */
void rs_dp_scale_dout(const rs_dp *d, float *d_out, int64_t m, int32_t outputs, int64_t n) {
    if (d->size == 1 || m == n) return;
    const float f = (float)((double)m / (double)n);
    for (int64_t i = 0; i < m * outputs; i++) d_out[i] *= f;
}

/* Gradients, *loss_sum, *wrong and *finite summed (finite: anded) over the ranks. */
rs_status rs_dp_sum_step(rs_dp *d, rs_params *p, double *loss_sum, int64_t *wrong, int *finite) {
    if (d->size == 1) return RS_OK;
    size_t T = p->total;
    for (size_t i = 0; i < T; i++) d->buf[i] = p->grad[i];
    d->buf[T] = *loss_sum, d->buf[T + 1] = (double)*wrong, d->buf[T + 2] = *finite ? 0 : 1;
    RS_TRY(rs_dist_sum(d->buf, (int64_t)T + 3));
    for (size_t i = 0; i < T; i++) p->grad[i] = (float)d->buf[i];
    *loss_sum = d->buf[T], *wrong = (int64_t)d->buf[T + 1], *finite = d->buf[T + 2] == 0;
    return RS_OK;
}

rs_status rs_dp_sum_eval(const rs_dp *d, double *loss_sum, int64_t *wrong) {
    if (d->size == 1) return RS_OK;
    double v[2] = {*loss_sum, (double)*wrong};
    RS_TRY(rs_dist_sum(v, 2));
    *loss_sum = v[0], *wrong = (int64_t)v[1];
    return RS_OK;
}

/* Rank 0's weights and buffers (running statistics) to every rank: with per-rank batch norm the running
 * statistics drift apart; rank 0's are the run's (as PyTorch's DistributedDataParallel broadcasts its buffers). */
rs_status rs_dp_bcast_params(const rs_dp *d, rs_params *p) {
    if (d->size == 1) return RS_OK;
    return rs_dist_bcast(p->data, p->total * sizeof(float), 0);
}

/* After rank 0 created or resumed the run (status s there): everyone agrees on s, then takes rank 0's weights,
 * optimiser state and counters. */
rs_status rs_dp_sync_start(const rs_dp *d, rs_status s, rs_net *net, rs_optimizer *opt, rs_run_state *st) {
    if (d->size == 1) return s;
    RS_TRY(rs_dist_agree(s));
    rs_params *p = &net->params;
    RS_TRY(rs_dp_bcast_params(d, p));
    int64_t counters[6] = {opt->t, (int64_t)net->step, st->epochs_done, st->best_epoch, st->first_zero_epoch,
                           (p->state1 ? 1 : 0) | (p->state2 ? 2 : 0)};
    double reals[2] = {st->best_err, st->wall};
    RS_TRY(rs_dist_bcast(counters, sizeof counters, 0));
    RS_TRY(rs_dist_bcast(reals, sizeof reals, 0));
    opt->t = counters[0], net->step = (uint64_t)counters[1];
    st->epochs_done = (int32_t)counters[2], st->best_epoch = (int32_t)counters[3];
    st->first_zero_epoch = (int32_t)counters[4];
    st->best_err = reals[0], st->wall = reals[1];
    float **state[2] = {&p->state1, &p->state2};
    for (int k = 0; k < 2; k++) {
        if (!(counters[5] & (1 << k))) continue;
        if (!*state[k] && !(*state[k] = rs_calloc(p->total * sizeof(float))))
            return rs_error(RS_ERR_NOMEM, "out of memory for the optimiser state");
        RS_TRY(rs_dist_bcast(*state[k], p->total * sizeof(float), 0));
    }
    return RS_OK;
}
