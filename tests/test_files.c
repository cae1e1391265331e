/* test_files.c: the output-file writer (rs_write_file_atomic). A regular file is replaced atomically keeping its
 * permissions; a symbolic link is followed (its target updated, the link kept), a dangling one creates its target;
 * a FIFO is written through (a reader gets the bytes, the FIFO stays a FIFO); a character device is written
 * through, never replaced; "-" writes to standard output; a directory is refused. Also rs_path_join. */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static char *slurp(const char *path) {
    void *buf;
    size_t len;
    if (rs_read_file(path, &buf, &len, 1 << 20) != RS_OK) return NULL;
    return buf;
}

static void join(char *buf, const char *dir, const char *name) { snprintf(buf, 1200, "%s/%s", dir, name); }

static void test_regular_file_and_mode(void **state) {
    (void)state;
    const char *dir = tu_tmpdir("files");
    char p[1200];
    join(p, dir, "a.csv");
    assert_int_equal(rs_write_file_atomic(p, "one\n", 4), RS_OK);
    assert_int_equal(chmod(p, 0600), 0);
    assert_int_equal(rs_write_file_atomic(p, "two\n", 4), RS_OK);
    char *s = slurp(p);
    assert_string_equal(s, "two\n");
    rs_free(s);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(rs_write_file_atomic(dir, "x", 1), RS_ERR_IO); /* a directory */
    assert_non_null(strstr(rs_last_error(), "is a directory"));
}

static void test_symlink_kept_target_updated(void **state) {
    (void)state;
    const char *dir = tu_tmpdir("files-link");
    char target[1200], link[1200], dangling[1200], newt[1200];
    join(target, dir, "target.csv");
    join(link, dir, "link.csv");
    join(dangling, dir, "dangling.csv");
    join(newt, dir, "new-target.csv");
    assert_int_equal(rs_write_file_atomic(target, "old\n", 4), RS_OK);
    assert_int_equal(symlink("target.csv", link), 0); /* relative, as ln -s makes them */
    assert_int_equal(rs_write_file_atomic(link, "new\n", 4), RS_OK);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    char *s = slurp(target);
    assert_string_equal(s, "new\n");
    rs_free(s);
    assert_int_equal(symlink("new-target.csv", dangling), 0);
    assert_int_equal(rs_write_file_atomic(dangling, "made\n", 5), RS_OK);
    assert_int_equal(lstat(dangling, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    s = slurp(newt);
    assert_string_equal(s, "made\n");
    rs_free(s);
}

static void test_fifo_written_through(void **state) {
    (void)state;
    const char *dir = tu_tmpdir("files-fifo");
    char fifo[1200], got[1200];
    join(fifo, dir, "pipe");
    join(got, dir, "got");
    assert_int_equal(mkfifo(fifo, 0644), 0);
    pid_t c = fork();
    if (c == 0) { /* the reader: copies what comes through the FIFO into `got` (gives up after 10 s) */
        alarm(10);
        int in = open(fifo, O_RDONLY), out = open(got, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        char buf[256];
        ssize_t k;
        while ((k = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)k) != k) _exit(1);
        _exit(0);
    }
    assert_int_equal(rs_write_file_atomic(fifo, "through a fifo\n", 15), RS_OK);
    int st;
    waitpid(c, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *s = slurp(got);
    assert_string_equal(s, "through a fifo\n");
    rs_free(s);
    struct stat sb;
    assert_int_equal(lstat(fifo, &sb), 0);
    assert_true(S_ISFIFO(sb.st_mode));
}

/* A null device of our own (mknod, as root) or, when that is not allowed, /dev/null itself: written through, still
 * a character device afterwards. (/dev/null is only used when this process could not replace it anyway.) */
static void test_device_not_replaced(void **state) {
    (void)state;
    const char *dir = tu_tmpdir("files-dev");
    char dev[1200];
    join(dev, dir, "null");
    if (mknod(dev, S_IFCHR | 0666, makedev(1, 3)) != 0) snprintf(dev, sizeof dev, "/dev/null");
    assert_int_equal(rs_write_file_atomic(dev, "gone\n", 5), RS_OK);
    struct stat st;
    assert_int_equal(lstat(dev, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(major(st.st_rdev), 1);
    assert_int_equal(minor(st.st_rdev), 3);
}

static void test_dash_is_stdout(void **state) {
    (void)state;
    const char *dir = tu_tmpdir("files-stdout");
    char out[1200];
    join(out, dir, "stdout.txt");
    fflush(stdout);
    int saved = dup(1), fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    printf("before,");
    rs_status s1 = rs_write_file_atomic("-", "table\n", 6);
    rs_status s2 = rs_write_file_atomic("/dev/stdout", "more\n", 5);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    assert_int_equal(s1, RS_OK);
    assert_int_equal(s2, RS_OK);
    char *s = slurp(out);
    assert_string_equal(s, "before,table\nmore\n");
    rs_free(s);
    struct stat st;
    assert_int_equal(stat("-", &st), -1); /* no file named "-" was made in the working directory */
}

static void test_path_join(void **state) {
    (void)state;
    char b[64];
    assert_int_equal(rs_path_join(b, sizeof b, "out/", "log.csv"), RS_OK);
    assert_string_equal(b, "out/log.csv");
    assert_int_equal(rs_path_join(b, sizeof b, "out//", "log.csv"), RS_OK);
    assert_string_equal(b, "out/log.csv");
    assert_int_equal(rs_path_join(b, sizeof b, "out", "log.csv"), RS_OK);
    assert_string_equal(b, "out/log.csv");
    assert_int_equal(rs_path_join(b, sizeof b, "/", "x"), RS_OK);
    assert_string_equal(b, "/x");
    assert_int_equal(rs_path_join(b, 8, "a-long-directory", "x"), RS_ERR_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regular_file_and_mode), cmocka_unit_test(test_symlink_kept_target_updated),
        cmocka_unit_test(test_fifo_written_through),  cmocka_unit_test(test_device_not_replaced),
        cmocka_unit_test(test_dash_is_stdout),        cmocka_unit_test(test_path_join),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
