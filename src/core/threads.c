/* threads.c: one threading model (OpenMP, which oneDNN uses too: the same libgomp) and a monotonic clock.
 * The default thread count is the number of cores this process may run on (its affinity mask, which taskset,
 * cgroups' cpusets and batch schedulers restrict), never more. OpenMP's idle threads yield instead of spinning:
 * libgomp's default keeps a waiting thread spinning for up to ~300,000 iterations, which on a machine where another
 * process holds a core steals the time the working thread needs (measured: the default thread count up to 10x
 * slower than one thread). libgomp reads its wait policy once, when it is loaded, so rs_threads_startup (called first
 * thing by the CLI's main) re-executes the program once with OMP_WAIT_POLICY=passive in its environment unless the
 * user chose a policy (OMP_WAIT_POLICY or GOMP_SPINCOUNT set). It does not bind threads to cores. */
#define _GNU_SOURCE
#include "relstab/tensor.h"

#include <omp.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int rs_threads_available(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    return omp_get_num_procs();
}

int rs_threads_default = 0;

int rs_set_threads(int n) {
    const int avail = rs_threads_available();
    if (n <= 0 && rs_threads_default > 0) n = rs_threads_default; /* under mpirun: this rank's share */
    if (n <= 0 || n > avail) n = avail;
    omp_set_num_threads(n);
    return n;
}

int rs_get_threads(void) { return omp_get_max_threads(); }

void rs_threads_startup(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || !argv || !argv[0]) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with the runtime's own policy; the variable stays set for children */
}

double rs_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
