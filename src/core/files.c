/* files.c: whole-file reads with a size guard, the one output-file writer of relstab, mkdir -p, path joining.
 * The writer replaces a regular file atomically (temporary file + fsync + rename, following a symbolic link to
 * its target and keeping the link), writes through an existing file that is not a regular one (a device such as
 * /dev/null, a FIFO) instead of replacing it, and takes "-" (and /dev/stdout, /dev/fd/N) as a descriptor to write
 * to. It does not lock (see rs_run_lock_acquire) and does not create missing directories. */
#include "relstab/tensor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static rs_status write_all(int fd, const void *data, size_t len, const char *what) {
    const char *p = data;
    while (len > 0) {
        ssize_t k = write(fd, p, len);
        if (k < 0) {
            if (errno == EINTR) continue;
            return rs_error(RS_ERR_IO, "cannot write %s: %s", what, strerror(errno));
        }
        p += k;
        len -= (size_t)k;
    }
    return RS_OK;
}

/* "-", /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N: the descriptor to write to, else -1. */
static int named_fd(const char *path) {
    if (!strcmp(path, "-") || !strcmp(path, "/dev/stdout")) return 1;
    if (!strcmp(path, "/dev/stderr")) return 2;
    const char *n = !strncmp(path, "/dev/fd/", 8) ? path + 8 : !strncmp(path, "/proc/self/fd/", 14) ? path + 14 : NULL;
    if (!n || !*n) return -1;
    char *end;
    long fd = strtol(n, &end, 10);
    return *end || fd < 0 || fd > 1 << 20 ? -1 : (int)fd;
}

/* The target of a chain of symbolic links ending at a missing file (a dangling link), into buf. */
static rs_status resolve_dangling(const char *path, char *buf, size_t cap) {
    char cur[4096], link[4096];
    if (snprintf(cur, sizeof cur, "%s", path) >= (int)sizeof cur) return rs_error(RS_ERR_ARG, "path too long: %s", path);
    for (int depth = 0; depth < 40; depth++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) {
            if (snprintf(buf, cap, "%s", cur) >= (int)cap) return rs_error(RS_ERR_ARG, "path too long: %s", cur);
            return RS_OK;
        }
        ssize_t k = readlink(cur, link, sizeof link - 1);
        if (k < 0) return rs_error(RS_ERR_IO, "cannot read the link %s: %s", cur, strerror(errno));
        link[k] = 0;
        if (link[0] == '/') {
            snprintf(cur, sizeof cur, "%s", link);
        } else { /* relative to the link's directory */
            char *slash = strrchr(cur, '/');
            size_t dl = slash ? (size_t)(slash - cur) + 1 : 0;
            if (dl + (size_t)k + 1 > sizeof cur) return rs_error(RS_ERR_ARG, "path too long behind %s", path);
            memmove(cur + dl, link, (size_t)k + 1);
        }
    }
    return rs_error(RS_ERR_IO, "too many levels of symbolic links at %s", path);
}

/* Writes through an existing file that is not a regular one (a device, a FIFO): no temporary, no rename. */
static rs_status write_through(const char *path, const void *data, size_t len) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return rs_error(RS_ERR_IO, "cannot open %s for writing: %s", path, strerror(errno));
    rs_status s = write_all(fd, data, len, path);
    if (close(fd) != 0 && s == RS_OK) s = rs_error(RS_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    return s;
}

/* A regular file (or a new one): written to "path.tmp.PID" next to it, fsync'ed and renamed over it (keeping the
 * old file's permissions). */
static rs_status write_replace(const char *path, const void *data, size_t len, const struct stat *old) {
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return rs_error(RS_ERR_ARG, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return rs_error(RS_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    rs_status s = write_all(fd, data, len, tmp);
    if (s == RS_OK && old && fchmod(fd, old->st_mode & 07777) != 0)
        s = rs_error(RS_ERR_IO, "cannot set the permissions of %s: %s", tmp, strerror(errno));
    if (s == RS_OK && fsync(fd) != 0) s = rs_error(RS_ERR_IO, "cannot flush %s: %s", tmp, strerror(errno));
    if (close(fd) != 0 && s == RS_OK) s = rs_error(RS_ERR_IO, "cannot flush %s: %s", tmp, strerror(errno));
    if (s == RS_OK && rename(tmp, path) != 0)
        s = rs_error(RS_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (s != RS_OK) unlink(tmp);
    return s;
}

rs_status rs_write_file_atomic(const char *path, const void *data, size_t len) {
    if (!path || !path[0]) return rs_error(RS_ERR_ARG, "empty output path");
    int fd = named_fd(path);
    if (fd >= 0) { /* standard output (or another open descriptor): after what stdio has buffered */
        fflush(stdout);
        fflush(stderr);
        return write_all(fd, data, len, !strcmp(path, "-") ? "standard output" : path);
    }
    struct stat st, lst;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return rs_error(RS_ERR_IO, "%s is a directory, not a file", path);
        if (!S_ISREG(st.st_mode)) return write_through(path, data, len);
        if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) { /* replace the link's target, keep the link */
            char *real = realpath(path, NULL);
            if (!real) return rs_error(RS_ERR_IO, "cannot resolve the link %s: %s", path, strerror(errno));
            rs_status s = write_replace(real, data, len, &st);
            free(real);
            return s;
        }
        return write_replace(path, data, len, &st);
    }
    if (errno != ENOENT) return rs_error(RS_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) { /* a dangling link: create its target */
        char target[4096];
        RS_TRY(resolve_dangling(path, target, sizeof target));
        return write_replace(target, data, len, NULL);
    }
    return write_replace(path, data, len, NULL);
}

rs_status rs_path_join(char *buf, size_t cap, const char *dir, const char *name) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    int k = n == 0 ? snprintf(buf, cap, "%s", name)
            : (n == 1 && dir[0] == '/') ? snprintf(buf, cap, "/%s", name)
                                        : snprintf(buf, cap, "%.*s/%s", (int)n, dir, name);
    if (k < 0 || (size_t)k >= cap) return rs_error(RS_ERR_ARG, "path too long: %s/%s", dir, name);
    return RS_OK;
}

rs_status rs_read_file(const char *path, void **data, size_t *len, size_t max_bytes) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return rs_error(RS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return rs_error(RS_ERR_IO, "%s is not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    if (max_bytes && size > max_bytes) {
        fclose(f);
        return rs_error(RS_ERR_FORMAT, "%s is %zu bytes, more than the %zu allowed", path, size, max_bytes);
    }
    char *buf = rs_alloc(size + 1);
    if (!buf) {
        fclose(f);
        return rs_error(RS_ERR_NOMEM, "cannot allocate %zu bytes to read %s", size, path);
    }
    size_t got = fread(buf, 1, size, f);
    fclose(f);
    if (got != size) {
        rs_free(buf);
        return rs_error(RS_ERR_IO, "short read on %s (%zu of %zu bytes)", path, got, size);
    }
    buf[size] = 0;
    *data = buf;
    *len = size;
    return RS_OK;
}

rs_status rs_mkdir_p(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return rs_error(RS_ERR_ARG, "bad directory path '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return rs_error(RS_ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
            buf[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return rs_error(RS_ERR_IO, "%s is not a directory", path);
    return RS_OK;
}
