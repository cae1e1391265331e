/* bench_ops.c: time the fast (oneDNN) and the reference paths of the heavy ops on the shapes of a VGG layer stack
 * at batch 128 on 32x32 CIFAR images: conv forward and backward, linear, batch norm, max pool.
 * Prints one line per (op, direction, path): milliseconds per call and GFLOP/s (conv, linear) or GB/s of minimal
 * memory traffic (batch norm, pooling, which are memory-bound). bench/run.sh lays these lines next to PyTorch's.
 * It is a benchmark, not a test: no result is checked here (tests/test_ops_fast.c does that).
 *
 * usage: bench_ops [--threads N] [--no-ref] [--batch B] [--seconds S] [--only SUBSTRING] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/ops.h"

typedef enum { OP_CONV, OP_LINEAR, OP_BN, OP_MAXPOOL } op_kind;

typedef struct {
    const char *name;
    op_kind kind;
    rs_conv2d_dims cd;
    int first; /* a net's first layer: no input gradient */
    rs_pool2d_dims pd;
    int64_t n, k, o;    /* linear */
    int64_t rows;       /* batch norm: rows x c */
    int32_t c;
    float *x, *w, *b, *y, *dy, *dx, *dw, *db, *mean, *invstd, *rmean, *rvar;
    void *saved;
    rs_workspace ws;
} job;

static float *filled(size_t n, uint64_t stream) {
    float *p = rs_alloc((n ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "bench_ops: out of memory (%zu floats)\n", n);
        exit(1);
    }
    rs_fill_normal(p, n, 1, stream, 0, 0.0f, 0.1f);
    return p;
}

/* Input, output and parameter sizes of a job, in floats. */
static void job_sizes(const job *j, size_t *nin, size_t *nout, size_t *nw, size_t *nb) {
    switch (j->kind) {
    case OP_CONV:
        *nin = (size_t)j->cd.n * j->cd.h_in * j->cd.w_in * j->cd.c_in;
        *nout = (size_t)j->cd.n * j->cd.h_out * j->cd.w_out * j->cd.c_out;
        *nw = (size_t)j->cd.c_out * (j->cd.c_in / j->cd.groups) * j->cd.kh * j->cd.kw;
        *nb = (size_t)j->cd.c_out;
        break;
    case OP_LINEAR:
        *nin = (size_t)(j->n * j->k), *nout = (size_t)(j->n * j->o), *nw = (size_t)(j->o * j->k);
        *nb = (size_t)j->o;
        break;
    case OP_BN:
        *nin = *nout = (size_t)j->rows * j->c, *nw = *nb = (size_t)j->c;
        break;
    case OP_MAXPOOL:
        *nin = (size_t)j->pd.n * j->pd.h_in * j->pd.w_in * j->pd.c;
        *nout = (size_t)j->pd.n * j->pd.h_out * j->pd.w_out * j->pd.c;
        *nw = *nb = 1;
        break;
    }
}

static void job_alloc(job *j) {
    size_t nin, nout, nw, nb;
    job_sizes(j, &nin, &nout, &nw, &nb);
    j->x = filled(nin, 1), j->w = filled(nw, 2), j->b = filled(nb, 3), j->dy = filled(nout, 4);
    j->y = filled(nout, 5), j->dx = filled(nin, 6), j->dw = filled(nw, 7), j->db = filled(nb, 8);
    j->mean = filled(nb, 9), j->invstd = filled(nb, 10), j->rmean = filled(nb, 11), j->rvar = filled(nb, 12);
    for (size_t i = 0; i < nb; i++) j->rvar[i] = 1.0f;
    if (j->kind == OP_MAXPOOL) j->saved = rs_alloc(rs_maxpool2d_saved_bytes(&j->pd));
}

static void job_free(job *j) {
    float *all[] = {j->x, j->w, j->b, j->y, j->dy, j->dx, j->dw, j->db, j->mean, j->invstd, j->rmean, j->rvar};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rs_free(all[i]);
    rs_free(j->saved);
    rs_workspace_free(&j->ws);
}

static void job_run(job *j, int fast, int backward) {
    switch (j->kind) {
    case OP_CONV:
        /* fast: the dispatcher under the fast backend (what a net runs: oneDNN, or conv_c1.c for one channel) */
        if (!backward)
            (fast ? rs_conv2d_forward : rs_conv2d_forward_ref)(j->y, j->x, j->w, j->b, &j->cd, &j->ws);
        else
            (fast ? rs_conv2d_backward : rs_conv2d_backward_ref)(j->first ? NULL : j->dx, j->dw, j->db, j->dy, j->x, j->w, &j->cd,
                                                                 &j->ws);
        break;
    case OP_LINEAR:
        if (!backward)
            (fast ? rs_linear_forward_fast : rs_linear_forward_ref)(j->y, j->x, j->w, j->b, j->n, j->k, j->o);
        else
            (fast ? rs_linear_backward_fast : rs_linear_backward_ref)(j->dx, j->dw, j->db, j->dy, j->x, j->w, j->n,
                                                                      j->k, j->o);
        break;
    case OP_BN:
        if (!backward)
            (fast ? rs_batchnorm_forward_fast : rs_batchnorm_forward_ref)(j->y, j->mean, j->invstd, j->x, j->w, j->b,
                                                                          j->rmean, j->rvar, j->rows, j->c, 1e-5f,
                                                                          0.1f, RS_BN_TRAIN);
        else
            (fast ? rs_batchnorm_backward_fast : rs_batchnorm_backward_ref)(
                j->dx, j->dw, j->db, j->dy, j->x, j->w, j->mean, j->invstd, j->rows, j->c, RS_BN_TRAIN);
        break;
    case OP_MAXPOOL:
        if (!backward)
            (fast ? rs_maxpool2d_forward_fast : rs_maxpool2d_forward_ref)(j->y, j->saved, j->x, &j->pd);
        else
            (fast ? rs_maxpool2d_backward_fast : rs_maxpool2d_backward_ref)(j->dx, j->dy, j->saved, &j->pd);
        break;
    }
}

/* Work of one call: floating-point operations (conv, linear) or bytes of minimal memory traffic (bn, pool). */
static double job_work(const job *j, int backward) {
    size_t nin, nout, nw, nb;
    job_sizes(j, &nin, &nout, &nw, &nb);
    switch (j->kind) {
    case OP_CONV: {
        double f = 2.0 * nout * (j->cd.c_in / j->cd.groups) * j->cd.kh * j->cd.kw;
        return backward ? 2.0 * f : f; /* backward: data and weights */
    }
    case OP_LINEAR: return (backward ? 4.0 : 2.0) * j->n * j->k * j->o;
    case OP_BN: return 4.0 * (backward ? 3.0 * nin : 2.0 * nin); /* read x (and dy), write y (dx += : r+w) */
    case OP_MAXPOOL: return 4.0 * (backward ? 2.0 * nin + 2.0 * nout : nin + 2.0 * nout);
    }
    return 0;
}

/* Milliseconds per call: one warm-up call (it creates the oneDNN primitives), then calls until `seconds` have
 * passed (at least 1, at most max_calls); the fastest call is reported, the one least disturbed by other work on
 * a shared machine. For batch norm and max pool backward, the forward is run first once so that the saved
 * statistics and argmax are those of the same path. */
static double job_time(job *j, int fast, int backward, double seconds, int max_calls) {
    if (backward && (j->kind == OP_BN || j->kind == OP_MAXPOOL)) job_run(j, fast, 0);
    job_run(j, fast, backward);
    int calls = 0;
    double t0 = rs_now(), t = t0, best = 1e300;
    while (calls < max_calls && (calls == 0 || t - t0 < seconds)) {
        double a = rs_now();
        job_run(j, fast, backward);
        t = rs_now();
        best = t - a < best ? t - a : best;
        calls++;
    }
    return 1e3 * best;
}

/* A k x k convolution, stride 1, padding pad on every side. */
static job conv_job(const char *name, int32_t batch, int32_t hw, int32_t ci, int32_t co, int32_t k, int32_t pad) {
    job j;
    memset(&j, 0, sizeof j);
    j.name = name;
    j.kind = OP_CONV;
    j.cd = (rs_conv2d_dims){.n = batch, .h_in = hw, .w_in = hw, .c_in = ci, .c_out = co, .kh = k, .kw = k,
                            .stride_h = 1, .stride_w = 1, .pad_top = pad, .pad_bottom = pad, .pad_left = pad,
                            .pad_right = pad, .groups = 1, .pad_mode = RS_PAD_ZERO};
    if (rs_conv2d_dims_finish(&j.cd) != RS_OK) {
        fprintf(stderr, "bench_ops: %s\n", rs_last_error());
        exit(1);
    }
    return j;
}

int main(int argc, char **argv) {
    rs_threads_startup(argv); /* OpenMP's passive wait policy, as the relstab program runs */
    int threads = 0, with_ref = 1;
    const char *only = NULL;
    int32_t batch = 128;
    double seconds = 1.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--no-ref")) with_ref = 0;
        else {
            fprintf(stderr, "usage: bench_ops [--threads N] [--no-ref] [--batch B] [--seconds S] [--only SUBSTRING]\n");
            return 2;
        }
    }
    if (batch <= 0 || seconds <= 0) {
        fprintf(stderr, "bench_ops: --batch and --seconds must be positive\n");
        return 2;
    }
    threads = rs_set_threads(threads);
    job jobs[12];
    int nj = 0;
    jobs[nj++] = conv_job("conv3x3_3to64_32px", batch, 32, 3, 64, 3, 1);
    jobs[nj++] = conv_job("conv3x3_64to64_32px", batch, 32, 64, 64, 3, 1);
    jobs[nj++] = conv_job("conv3x3_128to128_16px", batch, 16, 128, 128, 3, 1);
    jobs[nj++] = conv_job("conv3x3_256to256_8px", batch, 8, 256, 256, 3, 1);
    jobs[nj] = conv_job("lenet_conv5x5_1to6_28px", batch, 28, 1, 6, 5, 0); /* LeNet's two convolutions */
    jobs[nj++].first = 1;
    jobs[nj++] = conv_job("lenet_conv5x5_6to16_12px", batch, 12, 6, 16, 5, 0);
    jobs[nj++] = (job){.name = "linear_512to512", .kind = OP_LINEAR, .n = batch, .k = 512, .o = 512};
    jobs[nj++] = (job){.name = "linear_512to10", .kind = OP_LINEAR, .n = batch, .k = 512, .o = 10};
    jobs[nj++] = (job){.name = "bn_64ch_32px", .kind = OP_BN, .rows = (int64_t)batch * 32 * 32, .c = 64};
    job mp = {.name = "maxpool2x2_64ch_32px", .kind = OP_MAXPOOL};
    mp.pd = (rs_pool2d_dims){.n = batch, .h_in = 32, .w_in = 32, .c = 64, .kh = 2, .kw = 2, .stride_h = 2,
                             .stride_w = 2};
    if (rs_pool2d_dims_finish(&mp.pd) != RS_OK) return 1;
    jobs[nj++] = mp;
    job lp = {.name = "lenet_maxpool2x2_6ch_24px", .kind = OP_MAXPOOL};
    lp.pd = mp.pd;
    lp.pd.h_in = lp.pd.w_in = 24;
    lp.pd.c = 6;
    if (rs_pool2d_dims_finish(&lp.pd) != RS_OK) return 1;
    jobs[nj++] = lp;
    printf("# bench_ops: batch %d, %d threads, fast path %s\n", batch, threads,
           rs_have_onednn() ? "oneDNN" : "none (= reference)");
    printf("# %-22s %-4s %-4s %12s %10s %s\n", "op", "dir", "path", "ms/call", "rate", "unit");
    for (int i = 0; i < nj; i++) {
        job *j = &jobs[i];
        if (only && !strstr(j->name, only)) continue;
        job_alloc(j);
        const char *unit = j->kind == OP_CONV || j->kind == OP_LINEAR ? "GFLOP/s" : "GB/s";
        for (int backward = 0; backward < 2; backward++)
            for (int fast = 1; fast >= (with_ref ? 0 : 1); fast--) {
                double ms = job_time(j, fast, backward, fast ? seconds : seconds / 4, fast ? 1000 : 3);
                printf("%-24s %-4s %-4s %12.3f %10.1f %s\n", j->name, backward ? "bwd" : "fwd", fast ? "fast" : "ref",
                       ms, job_work(j, backward) / (ms * 1e-3) * 1e-9, unit);
                fflush(stdout);
            }
        job_free(j);
    }
    return 0;
}
