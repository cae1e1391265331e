/* grid.c: the one place that decides how the jobs of an experiment are executed: in order in this process, as a
 * pool of forked children side by side, or, for a grid of runs under mpirun, handed out over the MPI ranks by
 * rs_dist_run_jobs (rank 0 schedules, the others work), always longest first.
 * It knows nothing about what a job does; jobs communicate only through the files they write. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "relstab/dist.h"
#include "relstab/experiments.h"

/* order[0..n): job indices by decreasing cost (stable: equal costs keep index order). */
static void longest_first(int32_t n, const double *cost, int32_t *order) {
    for (int32_t i = 0; i < n; i++) order[i] = i;
    if (!cost) return;
    for (int32_t i = 1; i < n; i++) { /* insertion sort: grids are small */
        int32_t v = order[i], j = i;
        while (j > 0 && cost[order[j - 1]] < cost[v]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
}

static rs_status run_serial(int32_t n, const int32_t *order, rs_status (*fn)(int32_t, void *), void *ctx) {
    rs_status first = RS_OK;
    char msg[512] = "";
    for (int32_t i = 0; i < n; i++) {
        rs_status s = fn(order[i], ctx);
        if (s != RS_OK && first == RS_OK) {
            first = s;
            snprintf(msg, sizeof msg, "%s", rs_last_error());
        }
    }
    if (first != RS_OK) return rs_error(first, "%s", msg);
    return RS_OK;
}

/* Waits for one child; records a failure. Returns the job it ran, or -1 if no child was left. */
static int32_t reap(const pid_t *pids, int32_t n, int32_t *failed_job) {
    int status;
    pid_t p;
    do p = wait(&status);
    while (p < 0 && errno == EINTR);
    if (p < 0) return -1;
    for (int32_t j = 0; j < n; j++) {
        if (pids[j] != p) continue;
        int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok && *failed_job < 0) *failed_job = j;
        return j;
    }
    return -1;
}

static rs_status run_forked(int32_t n, const int32_t *order, int32_t jobs, rs_status (*fn)(int32_t, void *),
                            void *ctx) {
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    if (!pids) return rs_error(RS_ERR_NOMEM, "grid: process table");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = (int)(cores / jobs) > 1 ? (int)(cores / jobs) : 1;
    int32_t running = 0, failed_job = -1, fork_failed = 0;
    fflush(NULL);
    for (int32_t i = 0; i < n && !fork_failed; i++) {
        while (running >= jobs) {
            if (reap(pids, n, &failed_job) < 0) break;
            running--;
        }
        pid_t p = fork();
        if (p < 0) {
            fork_failed = 1;
            break;
        }
        if (p == 0) { /* the child: one job, then _exit (no atexit handlers of the parent) */
            rs_set_threads(threads);
            rs_status s = fn(order[i], ctx);
            if (s != RS_OK) fprintf(stderr, "relstab reproduce: job %d: %s\n", (int)order[i], rs_last_error());
            fflush(NULL);
            _exit(s == RS_OK ? 0 : 1);
        }
        pids[order[i]] = p;
        running++;
    }
    while (running > 0 && reap(pids, n, &failed_job) >= 0) running--;
    free(pids);
    if (fork_failed) return rs_error(RS_ERR_IO, "grid: fork failed: %s", strerror(errno));
    if (failed_job >= 0) return rs_error(RS_ERR_IO, "grid: job %d failed (its message is above)", (int)failed_job);
    return RS_OK;
}

static rs_status run_here(int32_t n, const double *cost, int32_t jobs, rs_status (*fn)(int32_t, void *), void *ctx) {
    if (n <= 0) return RS_OK;
    int32_t *order = malloc(sizeof *order * (size_t)n);
    if (!order) return rs_error(RS_ERR_NOMEM, "grid: job order");
    longest_first(n, cost, order);
    rs_status s = jobs > 1 ? run_forked(n, order, jobs, fn, ctx) : run_serial(n, order, fn, ctx);
    free(order);
    return s;
}

rs_status rs_grid_run(int32_t n, const double *cost, int32_t jobs, rs_status (*fn)(int32_t job, void *ctx),
                      void *ctx) {
    if (rs_dist_size() <= 1) return run_here(n, cost, jobs, fn, ctx);
    if (rs_dist_rank() != 0)
        return rs_error(RS_ERR_UNSUPPORTED, "rank %d: these jobs are rank 0's (they write the experiment's own files)",
                        rs_dist_rank());
    rs_dist_set_local(1); /* rank 0 alone, one after the other (no fork in an MPI process), no collective inside */
    rs_status s = run_here(n, cost, 1, fn, ctx);
    rs_dist_set_local(0);
    return s;
}

/* ---------------------------------------------------------------- a grid of runs over MPI ranks */
typedef struct {
    rs_status (*fn)(int32_t, void *);
    void *ctx;
} rank_job;

static rs_status rank_one(int64_t job, void *ctx) {
    rank_job *r = ctx;
    rs_dist_set_local(1); /* the run is an ordinary one-process run: its training and measuring use no collective */
    rs_status s = r->fn((int32_t)job, r->ctx);
    rs_dist_set_local(0);
    if (s) fprintf(stderr, "relstab: [rank %d] job %d: %s\n", rs_dist_rank(), (int)job, rs_last_error());
    return s;
}

rs_status rs_grid_run_ranks(int32_t n, const double *cost, int32_t jobs, rs_status (*fn)(int32_t job, void *ctx),
                            void *ctx) {
    if (rs_dist_size() <= 1) return run_here(n, cost, jobs, fn, ctx);
    if (jobs > 1)
        return rs_error(RS_ERR_ARG, "--jobs %d under mpirun: the ranks already run the runs side by side; start more "
                        "ranks instead", (int)jobs);
    if (n <= 0) return RS_OK;
    rs_status *status = calloc((size_t)n, sizeof *status);
    if (!status) return rs_error(RS_ERR_NOMEM, "grid: job statuses");
    rank_job r = {fn, ctx};
    rs_status s = rs_dist_run_jobs(n, cost, rank_one, &r, status);
    int32_t failed = 0, first = -1;
    for (int32_t i = 0; !s && i < n; i++)
        if (status[i] != RS_OK) failed++, first = first < 0 ? i : first;
    if (!s && failed)
        s = rs_error(status[first], "grid: %d of %d runs failed, the first job %d (its message is on the stderr of the "
                     "rank that ran it)", (int)failed, (int)n, (int)first);
    free(status);
    return s;
}
