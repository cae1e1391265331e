/* test_run_lock.c: the run-directory lock. A directory locked by this process is refused to a child process with
 * a message naming this process's pid, and granted again once released; the lock is re-entrant inside one
 * process; taking it removes the temporary files of dead processes and keeps those of live ones and other files. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "relstab/train.h"

/* In a child process: tries the lock; exit 0 if granted, 3 if refused with a message naming `pid`, 4 otherwise. */
static int child_try(const char *dir, long pid) {
    pid_t c = fork();
    if (c == 0) {
        rs_run_lock *lk;
        rs_status s = rs_run_lock_acquire(dir, &lk);
        if (s == RS_OK) _exit(0);
        char want[64];
        snprintf(want, sizeof want, "in use by process %ld", pid);
        _exit(strstr(rs_last_error(), want) ? 3 : 4);
    }
    int st;
    waitpid(c, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_lock_refuses_second_process(void **state) {
    (void)state;
    const char *dir = tu_tmpdir("lock");
    rs_run_lock *a, *b;
    assert_int_equal(rs_run_lock_acquire(dir, &a), RS_OK);
    assert_int_equal(child_try(dir, (long)getpid()), 3);
    assert_int_equal(rs_run_lock_acquire(dir, &b), RS_OK); /* re-entrant */
    rs_run_lock_release(a);
    assert_int_equal(child_try(dir, (long)getpid()), 3); /* still held through b */
    rs_run_lock_release(b);
    assert_int_equal(child_try(dir, (long)getpid()), 0);
    rs_run_lock *c;
    assert_int_equal(rs_run_lock_acquire("/nonexistent-relstab-dir", &c), RS_ERR_IO);
}

static void touch(const char *dir, const char *name) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("x", f);
    fclose(f);
}

static int exists(const char *dir, const char *name) {
    char path[1200];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static void test_lock_removes_stale_tmp(void **state) {
    (void)state;
    const char *dir = tu_tmpdir("lock-tmp");
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    waitpid(dead, NULL, 0); /* a pid that no longer runs */
    char stale[64], live[64], mine[64];
    snprintf(stale, sizeof stale, "log.csv.tmp.%ld", (long)dead);
    snprintf(live, sizeof live, "last.safetensors.tmp.%ld", (long)getppid());
    snprintf(mine, sizeof mine, "best.safetensors.tmp.%ld", (long)getpid());
    touch(dir, stale);
    touch(dir, "resume.safetensors.tmp.2147483647999");
    touch(dir, live);
    touch(dir, mine);
    touch(dir, "notes.tmp.txt");
    touch(dir, "config.json");
    rs_run_lock *lk;
    assert_int_equal(rs_run_lock_acquire(dir, &lk), RS_OK);
    assert_false(exists(dir, stale));
    assert_false(exists(dir, "resume.safetensors.tmp.2147483647999"));
    assert_true(exists(dir, live));
    assert_true(exists(dir, mine));
    assert_true(exists(dir, "notes.tmp.txt"));
    assert_true(exists(dir, "config.json"));
    rs_run_lock_release(lk);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lock_refuses_second_process),
        cmocka_unit_test(test_lock_removes_stale_tmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
