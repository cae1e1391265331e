/* threads.c: one threading model (OpenMP, which oneDNN uses too: the same libgomp) and a monotonic clock.
 * The default thread count is the number of cores this process may run on (its affinity mask, which taskset,
 * cgroups' cpusets and batch schedulers restrict), never more, less the cores other processes keep busy when the
 * program first asks for its default (rs_threads_busy). Why: the kernels split their work evenly between threads
 * and wait for the slowest, so a thread that shares its core with another process halves the speed of all of them
 * (measured: two threads beside one busy process no faster than one, docs/bench.md). The count is decided once
 * per process, so every pass of a run uses the same one; train records it in config.json for --resume.
 * OpenMP's idle threads yield instead of spinning: libgomp's default keeps a waiting thread spinning for up to
 * ~300,000 iterations, which on a machine where another process holds a core steals the time the working thread
 * needs (measured: the default thread count up to 10x slower than one thread). libgomp reads its wait policy once,
 * when it is loaded, so rs_threads_startup (called first thing by the CLI's main) re-executes the program once
 * with OMP_WAIT_POLICY=passive in its environment unless the user chose a policy (OMP_WAIT_POLICY or
 * GOMP_SPINCOUNT set). It does not bind threads to cores. */
#define _GNU_SOURCE
#include "threads_internal.h"

#include "relstab/tensor.h"

#include <dirent.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* ---------------------------------------------------------------- cores busy with other processes */
/* The machine's runnable threads now: the fourth field of /proc/loadavg, "running/total" (the reader included). */
static int runnable_now(const char *loadavg) {
    FILE *f = fopen(loadavg, "r");
    if (!f) return -1;
    double l1, l5, l15;
    int running = -1, total;
    if (fscanf(f, "%lf %lf %lf %d/%d", &l1, &l5, &l15, &running, &total) != 5) running = -1;
    fclose(f);
    return running;
}

/* This process's threads that are runnable now (state R in tasks/<tid>/stat; the caller's own thread included). */
static int own_runnable(const char *tasks) {
    DIR *d = opendir(tasks);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[512], line[512];
        snprintf(path, sizeof path, "%s/%s/stat", tasks, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue; /* the thread ended meanwhile */
        size_t len = fread(line, 1, sizeof line - 1, f);
        fclose(f);
        line[len] = '\0';
        const char *close = strrchr(line, ')'); /* "tid (comm) S ...": comm may hold spaces and parentheses */
        if (close && close[1] == ' ' && close[2] == 'R') n++;
    }
    closedir(d);
    return n;
}

int rs__threads_busy_from(const char *loadavg, const char *tasks, int cores, int samples, int pause_us) {
    if (cores < 2 || samples < 1) return 0;
    int busy = cores; /* the fewest other runnable threads over the samples: a short-lived process is not counted */
    for (int s = 0; s < samples; s++) {
        if (s > 0 && pause_us > 0) {
            struct timespec t = {0, 1000L * pause_us};
            nanosleep(&t, NULL);
        }
        int all = runnable_now(loadavg), own = own_runnable(tasks);
        if (all < 0 || own < 0) return 0; /* no /proc: assume an idle machine, as before */
        int others = all - own;
        if (others < busy) busy = others;
    }
    if (busy < 0) busy = 0;
    return busy > cores - 1 ? cores - 1 : busy;
}

static int busy_cores = -1; /* decided once per process */

int rs_threads_busy(void) {
    if (busy_cores >= 0) return busy_cores;
    const int avail = rs_threads_available();
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    /* /proc/loadavg counts the whole machine: with an affinity mask narrower than the machine, the other
     * processes' threads may all run elsewhere, so the mask is taken as given (a batch scheduler's cpuset) */
    busy_cores = avail < 2 || online != avail ? 0 : rs__threads_busy_from("/proc/loadavg", "/proc/self/task", avail,
                                                                          3, 1000);
    return busy_cores;
}

/* ---------------------------------------------------------------- the thread count */
int rs_threads_default = 0;

static int left_out = 0; /* busy cores the last rs_set_threads left out (for rs_threads_describe) */

int rs_set_threads(int n) {
    const int avail = rs_threads_available();
    left_out = 0;
    if (n <= 0 && rs_threads_default > 0) n = rs_threads_default; /* under mpirun: this rank's share */
    if (n <= 0) n = avail - (left_out = rs_threads_busy());
    if (n <= 0 || n > avail) n = avail, left_out = 0;
    omp_set_num_threads(n);
    return n;
}

int rs_get_threads(void) { return omp_get_max_threads(); }

const char *rs_threads_describe(char *buf, size_t size) {
    const int n = rs_get_threads();
    if (left_out > 0)
        snprintf(buf, size, "%d thread%s (%d of %d cores busy with other processes)", n, n == 1 ? "" : "s", left_out,
                 rs_threads_available());
    else
        snprintf(buf, size, "%d thread%s", n, n == 1 ? "" : "s");
    return buf;
}

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
