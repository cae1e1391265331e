/* lock.c: the run-directory lock. An exclusive flock on DIR/lock, held for as long as a process works in the run
 * directory (a whole `train`, resume included), with the holder's pid written in the file so that a second process
 * can be told who holds it. The lock is re-entrant inside one process (a second acquire of the same directory
 * shares the first one's descriptor), so a command may lock a directory and then call rs_train_run on it. When the
 * lock is first taken, the temporary files "NAME.tmp.PID" that dead processes left behind (killed during an atomic
 * write) are removed. It does not protect against processes that ignore the lock, nor across NFS without flock. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relstab/train.h"

#define MAX_HELD 64

typedef struct {
    dev_t dev;
    ino_t ino;
    int fd;
    int refs;
    pid_t owner; /* a child of fork() inherits the table, not the right to share the lock */
} held_lock;

static held_lock held[MAX_HELD];
static pthread_mutex_t held_mu = PTHREAD_MUTEX_INITIALIZER;

struct rs_run_lock {
    int slot;
};

/* "NAME.tmp.PID" with PID a process that no longer exists (and not this one): 1, else 0. */
static int is_stale_tmp(const char *name) {
    const char *t = strstr(name, ".tmp.");
    if (!t) return 0;
    while (strstr(t + 1, ".tmp.")) t = strstr(t + 1, ".tmp.");
    const char *digits = t + 5;
    if (!*digits) return 0;
    char *end;
    errno = 0;
    long long pid = strtoll(digits, &end, 10);
    if (errno || *end || pid <= 0 || pid == (long long)getpid()) return 0;
    if (pid > 0x7fffffffLL) return 1; /* no such pid can exist */
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

int32_t rs_run_remove_stale_tmp(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int32_t n = 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (!is_stale_tmp(e->d_name)) continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && unlink(path) == 0) n++;
    }
    closedir(d);
    return n;
}

/* The pid written in a held lock file, or 0 if unreadable. */
static long holder_pid(int fd) {
    char buf[32];
    ssize_t k = pread(fd, buf, sizeof buf - 1, 0);
    if (k <= 0) return 0;
    buf[k] = 0;
    return strtol(buf, NULL, 10);
}

static rs_status lock_fd(int fd, const char *dir, const char *path) {
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR) continue;
        int e = errno;
        if (e != EWOULDBLOCK) return rs_error(RS_ERR_IO, "cannot lock %s: %s", path, strerror(e));
        long pid = holder_pid(fd);
        if (pid > 0)
            return rs_error(RS_ERR_ARG, "run directory %s is in use by process %ld (it holds %s); wait for it to "
                            "finish or stop it", dir, pid, path);
        return rs_error(RS_ERR_ARG, "run directory %s is in use by another process (it holds %s)", dir, path);
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n)
        return rs_error(RS_ERR_IO, "cannot write the pid into %s: %s", path, strerror(errno));
    return RS_OK;
}

rs_status rs_run_lock_acquire(const char *dir, rs_run_lock **out) {
    *out = NULL;
    char path[4096];
    if (!dir || !dir[0]) return rs_error(RS_ERR_ARG, "no run directory to lock");
    if (snprintf(path, sizeof path, "%s%slock", dir, dir[strlen(dir) - 1] == '/' ? "" : "/") >= (int)sizeof path)
        return rs_error(RS_ERR_ARG, "run directory path too long: %s", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return rs_error(RS_ERR_IO, "cannot open the lock file %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return rs_error(RS_ERR_IO, "the lock file %s is not a regular file", path);
    }
    rs_run_lock *lk = malloc(sizeof *lk);
    if (!lk) {
        close(fd);
        return rs_error(RS_ERR_NOMEM, "run lock");
    }
    pthread_mutex_lock(&held_mu);
    int slot = -1, free_slot = -1;
    pid_t me = getpid();
    for (int i = 0; i < MAX_HELD; i++) {
        int mine = held[i].refs > 0 && held[i].owner == me;
        if (mine && held[i].dev == st.st_dev && held[i].ino == st.st_ino) slot = i;
        if (!mine && free_slot < 0) free_slot = i;
    }
    rs_status s = RS_OK;
    if (slot >= 0) { /* already held by this process: share it */
        held[slot].refs++;
        close(fd);
    } else if (free_slot < 0) {
        s = rs_error(RS_ERR_ARG, "more than %d run directories locked at once", MAX_HELD);
    } else if ((s = lock_fd(fd, dir, path)) == RS_OK) {
        held[free_slot] = (held_lock){st.st_dev, st.st_ino, fd, 1, me};
        slot = free_slot;
        rs_run_remove_stale_tmp(dir);
    }
    pthread_mutex_unlock(&held_mu);
    if (s != RS_OK) {
        if (slot < 0) close(fd);
        free(lk);
        return s;
    }
    lk->slot = slot;
    *out = lk;
    return RS_OK;
}

void rs_run_lock_release(rs_run_lock *lk) {
    if (!lk) return;
    pthread_mutex_lock(&held_mu);
    held_lock *h = &held[lk->slot];
    if (h->refs > 0 && --h->refs == 0) {
        if (ftruncate(h->fd, 0) != 0) { /* the pid is only informative; the flock goes with the descriptor */
        }
        close(h->fd);
        h->fd = -1;
    }
    pthread_mutex_unlock(&held_mu);
    free(lk);
}
