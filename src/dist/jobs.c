/* jobs.c: rs_dist_run_jobs, the dynamic scheduler of independent jobs (the runs of a sweep or of a reproduced
 * figure). Rank 0 keeps the jobs sorted by decreasing cost and answers each worker's request with the next one;
 * a worker's request carries the status of the job it just finished. One rank runs the jobs itself in the same
 * order. Every rank leaves together, with rank 0's table of statuses. Not here: what a job does (cmd_sweep.c,
 * experiments/grid.c) or its lock (train.h: rs_run_lock_acquire). */
#include <stdlib.h>
#include <string.h>

#include "relstab/dist.h"
#include "dist/dist_internal.h"

#ifdef RELSTAB_HAVE_MPI
#include <mpi.h>
#endif

enum { TAG_ASK = 71, TAG_JOB = 72 };

typedef struct {
    const double *cost;
    int64_t i;
} job_key;

static int by_cost(const void *a, const void *b) {
    const job_key *x = a, *y = b;
    double cx = x->cost ? x->cost[x->i] : 0, cy = y->cost ? y->cost[y->i] : 0;
    if (cx != cy) return cx > cy ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

void rs_dist_job_order(int64_t n, const double *cost, int64_t *order) {
    job_key *k = malloc((size_t)(n > 0 ? n : 1) * sizeof *k);
    RS_ASSERT(k != NULL);
    for (int64_t i = 0; i < n; i++) k[i] = (job_key){cost, i};
    qsort(k, (size_t)n, sizeof *k, by_cost);
    for (int64_t i = 0; i < n; i++) order[i] = k[i].i;
    free(k);
}

static rs_status run_alone(int64_t n, const int64_t *order, rs_dist_job_fn fn, void *ctx, rs_status *status) {
    for (int64_t i = 0; i < n; i++) {
        rs_status s = fn(order[i], ctx);
        if (status) status[order[i]] = s;
    }
    return RS_OK;
}

#ifdef RELSTAB_HAVE_MPI
/* Rank 0: answers requests until every worker was told to stop. msg = {finished job or -1, its status}. */
static rs_status schedule(int64_t n, const int64_t *order, rs_status *status) {
    int size = rs_dist_size(), stopped = 0;
    int64_t next = 0;
    while (stopped < size - 1) {
        int64_t msg[2];
        MPI_Status st;
        if (MPI_Recv(msg, 2, MPI_INT64_T, MPI_ANY_SOURCE, TAG_ASK, MPI_COMM_WORLD, &st) != MPI_SUCCESS)
            return rs_error(RS_ERR_IO, "the job scheduler lost contact with the workers");
        if (msg[0] >= 0 && msg[0] < n && status) status[msg[0]] = (rs_status)msg[1];
        int64_t job = next < n ? order[next++] : -1;
        if (job < 0) stopped++;
        if (MPI_Send(&job, 1, MPI_INT64_T, st.MPI_SOURCE, TAG_JOB, MPI_COMM_WORLD) != MPI_SUCCESS)
            return rs_error(RS_ERR_IO, "the job scheduler could not reach rank %d", st.MPI_SOURCE);
    }
    return RS_OK;
}

static rs_status work(rs_dist_job_fn fn, void *ctx, rs_status *status) {
    int64_t msg[2] = {-1, RS_OK};
    for (;;) {
        int64_t job;
        if (MPI_Send(msg, 2, MPI_INT64_T, 0, TAG_ASK, MPI_COMM_WORLD) != MPI_SUCCESS ||
            MPI_Recv(&job, 1, MPI_INT64_T, 0, TAG_JOB, MPI_COMM_WORLD, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return rs_error(RS_ERR_IO, "rank %d lost contact with the job scheduler", rs_dist_rank());
        if (job < 0) return RS_OK;
        rs_status s = fn(job, ctx);
        if (status) status[job] = s;
        msg[0] = job, msg[1] = s;
    }
}
#endif

rs_status rs_dist_run_jobs(int64_t n, const double *cost, rs_dist_job_fn fn, void *ctx, rs_status *status) {
    int64_t *order = rs_alloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
    if (!order) return rs_error(RS_ERR_NOMEM, "out of memory for %lld jobs", (long long)n);
    rs_dist_job_order(n, cost, order);
    rs_status s = RS_OK;
#ifdef RELSTAB_HAVE_MPI
    if (rs_dist_on_ && rs_dist_size() > 1) {
        s = rs_dist_rank() == 0 ? schedule(n, order, status) : work(fn, ctx, status);
        rs_free(order);
        if (s) return s; /* contact lost: Open MPI ends the job; no collective could complete */
        /* a worker is told to stop while others still work: everyone waits here for the last job, then takes
         * rank 0's complete table of statuses */
        return status ? rs_dist_bcast(status, (size_t)n * sizeof *status, 0) : rs_dist_barrier();
    }
#endif
    s = run_alone(n, order, fn, ctx, status);
    rs_free(order);
    return s;
}
