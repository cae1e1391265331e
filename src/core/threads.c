/* threads.c: one threading model (OpenMP, which oneDNN uses too) and a monotonic clock. */
#include "relstab/tensor.h"

#include <omp.h>
#include <time.h>

int rs_threads_default = 0;

int rs_set_threads(int n) {
    if (n <= 0) n = rs_threads_default > 0 ? rs_threads_default : omp_get_num_procs();
    omp_set_num_threads(n);
    return n;
}

int rs_get_threads(void) { return omp_get_max_threads(); }

double rs_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
