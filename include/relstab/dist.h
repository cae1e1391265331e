/* dist.h: running one relstab command over several MPI ranks (mpirun -n N relstab ...): the rank and the size,
 * sums over ranks in double, broadcasts, and a dynamic scheduler of independent jobs (run-directory locks are
 * train.h's rs_run_lock_acquire).
 * Only src/dist talks to MPI; everything else calls these functions, which are no-ops (size 1, rank 0) when the
 * library was built without MPI or when the process was not started by mpirun: run alone, relstab behaves as
 * without MPI. Every collective (sum, bcast, barrier) must be called by every rank in the same order.
 * It is not a general communication layer: no point-to-point messages outside the scheduler. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "relstab/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Joins the MPI job when launched by mpirun (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK in the environment) and
 * MPI support is built in; otherwise does nothing. On several ranks without OMP_NUM_THREADS, the default thread
 * count becomes the cores of this machine divided by the ranks on it. Safe to call more than once. */
void rs_dist_init(int *argc, char ***argv);
/* Leaves the job; a non-zero exit code on any rank aborts the whole job (the other ranks may be waiting in a
 * collective that will never complete). */
void rs_dist_finalize(int exit_code);
/* Every rank has finished its part of the command (call it after a last collective): a non-zero exit code then
 * ends the job normally instead of aborting it. */
void rs_dist_exit_together(void);
int rs_dist_rank(void);
int rs_dist_size(void);
/* on = 1: this rank works alone (rs_dist_size() is 1, rs_dist_rank() 0, collectives are identities) until
 * on = 0: how a job of rs_dist_run_jobs runs an ordinary single-process command. */
void rs_dist_set_local(int on);
int rs_dist_built(void); /* 1 if built with MPI support */
/* The contiguous share [*lo, *hi) of n items of this rank: n * rank / size .. n * (rank + 1) / size. */
void rs_dist_share(int64_t n, int64_t *lo, int64_t *hi);
void rs_dist_share_of(int64_t n, int rank, int size, int64_t *lo, int64_t *hi);

/* buf[0..n) = the sum over ranks of every rank's buf, in double, on every rank. */
rs_status rs_dist_sum(double *buf, int64_t n);
/* Float buffer summed over ranks in double (converted, summed, rounded back once); tmp (n) doubles or NULL
 * (then allocated). */
rs_status rs_dist_sum_f32(float *buf, int64_t n, double *tmp);
/* Every rank's buf (n doubles) to rank 0: all (size, n) there; other ranks' all is not touched (may be NULL). */
rs_status rs_dist_gather(const double *buf, int64_t n, double *all);
rs_status rs_dist_bcast(void *buf, size_t bytes, int root);
rs_status rs_dist_barrier(void);
/* The first non-OK status over ranks (by rank order), so that every rank stops together; msg of that rank. */
rs_status rs_dist_agree(rs_status s);

/* ---------------------------------------------------------------- independent jobs */
/* Runs jobs 0..n-1 with fn(job, ctx) (RS_OK or an error that fails only that job; status[job] receives it, may
 * be NULL). On one rank: in order of decreasing cost (ties: by index). On several: rank 0 schedules, handing the
 * next costliest job to whichever worker asks first; ranks 1.. work; with two or more ranks rank 0 does not work.
 * Every rank returns when all jobs are done (the last collective is a broadcast of status, or a barrier when
 * status is NULL), with the complete status on every rank. fn may call no collective; a job that runs an ordinary
 * command sets rs_dist_set_local(1) around it. */
typedef rs_status (*rs_dist_job_fn)(int64_t job, void *ctx);
rs_status rs_dist_run_jobs(int64_t n, const double *cost, rs_dist_job_fn fn, void *ctx, rs_status *status);
/* The order a single rank uses (and the scheduler hands out): indices by decreasing cost, ties by index. */
void rs_dist_job_order(int64_t n, const double *cost, int64_t *order);

#ifdef __cplusplus
}
#endif
