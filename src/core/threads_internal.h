/* threads_internal.h: the busy-core count of threads.c on given files, for tests (not part of the API). */
#ifndef RELSTAB_THREADS_INTERNAL_H
#define RELSTAB_THREADS_INTERNAL_H

/* The cores (0 .. cores - 1) that other processes keep busy: the fewest runnable threads of other processes over
 * `samples` reads of `loadavg` (a /proc/loadavg) pause_us microseconds apart, this process's runnable threads (the
 * directory `tasks`, a /proc/self/task) not counted. 0 when a file cannot be read or cores < 2. */
int rs__threads_busy_from(const char *loadavg, const char *tasks, int cores, int samples, int pause_us);

#endif
