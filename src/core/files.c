/* files.c: whole-file reads with a size guard, atomic writes (temporary file + fsync + rename), mkdir -p. */
#include "relstab/tensor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

rs_status rs_write_file_atomic(const char *path, const void *data, size_t len) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return rs_error(RS_ERR_ARG, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return rs_error(RS_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t k = write(fd, p, left);
        if (k < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return rs_error(RS_ERR_IO, "cannot write %s: %s", tmp, strerror(e));
        }
        p += k;
        left -= (size_t)k;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return rs_error(RS_ERR_IO, "cannot flush %s: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return rs_error(RS_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
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
