/* dist.c: the MPI side of rs_dist (dist.h): joining the job, rank and size, sums in double, gathers, broadcasts
 * and agreement on errors. Without RELSTAB_HAVE_MPI, or when the process was not launched by mpirun, every
 * function is the one-rank identity. The only file with MPI calls besides jobs.c. Not here: what is summed
 * (measure, train), the job scheduler (jobs.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "relstab/dist.h"
#include "dist/dist_internal.h"

#ifdef RELSTAB_HAVE_MPI
#include <mpi.h>
#endif

int rs_dist_on_ = 0; /* 1: inside an MPI job (MPI_Init succeeded) */
static int g_rank = 0, g_size = 1, g_init_called = 0; /* the job's; rs_dist_rank/size also see local mode */

int rs_dist_built(void) {
#ifdef RELSTAB_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

static int launched_by_mpirun(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

/* Ranks on this machine (Open MPI's local size; 1 when unknown). */
static int local_ranks(void) {
    const char *v = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (!v) v = getenv("MPI_LOCALNRANKS");
    int n = v ? atoi(v) : 1;
    return n > 0 ? n : 1;
}

void rs_dist_init(int *argc, char ***argv) {
    if (g_init_called) return;
    g_init_called = 1;
#ifdef RELSTAB_HAVE_MPI
    if (!launched_by_mpirun()) return;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) return;
    rs_dist_on_ = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (g_size > 1) { /* threads per rank: OMP_NUM_THREADS, else this machine's cores / its ranks */
        const char *env = getenv("OMP_NUM_THREADS");
        int t = env ? atoi(env) : omp_get_num_procs() / local_ranks();
        rs_threads_default = t > 0 ? t : 1;
        omp_set_num_threads(rs_threads_default);
    }
#else
    (void)argc, (void)argv;
#endif
}

static int g_together = 0;
void rs_dist_exit_together(void) { g_together = 1; }

void rs_dist_finalize(int exit_code) {
#ifdef RELSTAB_HAVE_MPI
    if (!rs_dist_on_) return;
    if (exit_code != 0 && g_size > 1 && !g_together) MPI_Abort(MPI_COMM_WORLD, exit_code);
    MPI_Finalize();
    rs_dist_on_ = 0;
#else
    (void)exit_code;
#endif
}

static int g_local = 0;
void rs_dist_set_local(int on) { g_local = on; }
int rs_dist_rank(void) { return g_local ? 0 : g_rank; }
int rs_dist_size(void) { return g_local ? 1 : g_size; }

void rs_dist_share_of(int64_t n, int rank, int size, int64_t *lo, int64_t *hi) {
    *lo = n * rank / size;
    *hi = n * (rank + 1) / size;
}
void rs_dist_share(int64_t n, int64_t *lo, int64_t *hi) { rs_dist_share_of(n, rs_dist_rank(), rs_dist_size(), lo, hi); }

#ifdef RELSTAB_HAVE_MPI
static rs_status mpi_err(int rc, const char *what) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return rs_error(RS_ERR_IO, "MPI %s failed on rank %d: %s", what, g_rank, msg);
}
#define MPI_TRY(call, what)                       \
    do {                                          \
        int rc_ = (call);                         \
        if (rc_ != MPI_SUCCESS) return mpi_err(rc_, what); \
    } while (0)
#endif

/* Sums in chunks of at most 2^28 doubles (MPI counts are int). */
rs_status rs_dist_sum(double *buf, int64_t n) {
#ifdef RELSTAB_HAVE_MPI
    if (!rs_dist_on_ || rs_dist_size() == 1) return RS_OK;
    const int64_t chunk = (int64_t)1 << 28;
    for (int64_t at = 0; at < n; at += chunk) {
        int c = (int)(n - at < chunk ? n - at : chunk);
        MPI_TRY(MPI_Allreduce(MPI_IN_PLACE, buf + at, c, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "allreduce");
    }
#else
    (void)buf, (void)n;
#endif
    return RS_OK;
}

rs_status rs_dist_sum_f32(float *buf, int64_t n, double *tmp) {
    if (rs_dist_size() == 1) return RS_OK;
    double *own = tmp ? NULL : rs_alloc((size_t)(n > 0 ? n : 1) * sizeof(double)), *t = tmp ? tmp : own;
    if (!t) return rs_error(RS_ERR_NOMEM, "out of memory for a sum over ranks of %lld values", (long long)n);
    for (int64_t i = 0; i < n; i++) t[i] = buf[i];
    rs_status s = rs_dist_sum(t, n);
    if (!s)
        for (int64_t i = 0; i < n; i++) buf[i] = (float)t[i];
    rs_free(own);
    return s;
}

rs_status rs_dist_gather(const double *buf, int64_t n, double *all) {
#ifdef RELSTAB_HAVE_MPI
    if (rs_dist_on_ && rs_dist_size() > 1) {
        if (n > ((int64_t)1 << 30)) return rs_error(RS_ERR_UNSUPPORTED, "a gather of %lld values is too large", (long long)n);
        MPI_TRY(MPI_Gather(buf, (int)n, MPI_DOUBLE, all, (int)n, MPI_DOUBLE, 0, MPI_COMM_WORLD), "gather");
        return RS_OK;
    }
#endif
    memcpy(all, buf, (size_t)n * sizeof(double));
    return RS_OK;
}

rs_status rs_dist_bcast(void *buf, size_t bytes, int root) {
#ifdef RELSTAB_HAVE_MPI
    if (!rs_dist_on_ || rs_dist_size() == 1) return RS_OK;
    const size_t chunk = (size_t)1 << 30;
    for (size_t at = 0; at < bytes; at += chunk) {
        int c = (int)(bytes - at < chunk ? bytes - at : chunk);
        MPI_TRY(MPI_Bcast((char *)buf + at, c, MPI_BYTE, root, MPI_COMM_WORLD), "broadcast");
    }
#else
    (void)buf, (void)bytes, (void)root;
#endif
    return RS_OK;
}

rs_status rs_dist_barrier(void) {
#ifdef RELSTAB_HAVE_MPI
    if (rs_dist_on_ && rs_dist_size() > 1) MPI_TRY(MPI_Barrier(MPI_COMM_WORLD), "barrier");
#endif
    return RS_OK;
}

rs_status rs_dist_agree(rs_status s) {
#ifdef RELSTAB_HAVE_MPI
    if (!rs_dist_on_ || rs_dist_size() == 1) return s;
    int mine = (int)s, *all = rs_alloc((size_t)g_size * sizeof(int));
    if (!all) return rs_error(RS_ERR_NOMEM, "out of memory");
    int rc = MPI_Allgather(&mine, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) {
        rs_free(all);
        return mpi_err(rc, "allgather");
    }
    int first = -1;
    for (int r = 0; r < g_size && first < 0; r++)
        if (all[r] != RS_OK) first = r;
    rs_status out = first < 0 ? RS_OK : (rs_status)all[first];
    rs_free(all);
    if (first >= 0 && first != g_rank) return rs_error(out, "rank %d failed (its message is on its stderr)", first);
    return s;
#else
    return s;
#endif
}
