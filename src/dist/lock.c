/* lock.c: exclusive locks on files with flock(2) (dist.h): the lock belongs to the open file description, so it
 * is released by the kernel when its process dies, however it dies. The file keeps "host pid" of the last holder
 * for people reading it; a file left by a dead process is a stale file, not a lock: the next rs_dist_lock takes
 * it. On a network file system, flock must be supported across nodes (NFSv4, Lustre with -o flock, BeeGFS,
 * GPFS do; docs/cluster.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "relstab/dist.h"

rs_status rs_dist_lock(const char *path, int *fd) {
    *fd = -1;
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0) return rs_error(RS_ERR_IO, "cannot open the lock file %s: %s", path, strerror(errno));
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(f);
        if (e == EWOULDBLOCK) return RS_OK;
        return rs_error(RS_ERR_IO, "cannot lock %s: %s", path, strerror(e));
    }
    char host[256] = "?", line[320];
    gethostname(host, sizeof host - 1);
    int len = snprintf(line, sizeof line, "%s %ld\n", host, (long)getpid());
    if (ftruncate(f, 0) != 0 || pwrite(f, line, (size_t)len, 0) != len) {
        int e = errno;
        close(f);
        return rs_error(RS_ERR_IO, "cannot write the lock file %s: %s", path, strerror(e));
    }
    *fd = f;
    return RS_OK;
}

void rs_dist_unlock(int fd) {
    if (fd < 0) return;
    flock(fd, LOCK_UN);
    close(fd);
}
