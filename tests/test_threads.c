/* test_threads.c: the default thread count's busy-core detection (src/core/threads.c) on made-up /proc files: the
 * runnable count of a loadavg line less this process's runnable threads, capped at cores - 1; unreadable or
 * malformed files mean an idle machine. The live behaviour (busy loops beside relstab) is tests/cli/threads.sh. */
#include "testutil.h"

#include "core/threads_internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static char root[600];

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A fake /proc/self/task with one thread per state letter of `states` (comm "w (x) y", parentheses and spaces
 * included, as a thread may name itself); returns its path. */
static const char *make_tasks(const char *tag, const char *states) {
    static char dir[700];
    snprintf(dir, sizeof dir, "%s/%s", root, tag);
    assert_int_equal(mkdir(dir, 0755), 0);
    for (int i = 0; states[i]; i++) {
        char d[800], f[820], line[128];
        snprintf(d, sizeof d, "%s/%d", dir, 100 + i);
        assert_int_equal(mkdir(d, 0755), 0);
        snprintf(f, sizeof f, "%s/stat", d);
        snprintf(line, sizeof line, "%d (w (x) %c) %c 1 1 1 0 -1 4194560 0 0\n", 100 + i, states[i] == 'R' ? 'S' : 'R',
                 states[i]);
        write_file(f, line);
    }
    return dir;
}

static const char *make_loadavg(const char *tag, const char *text) {
    static char path[700];
    snprintf(path, sizeof path, "%s/%s.loadavg", root, tag);
    write_file(path, text);
    return path;
}

static void test_busy_cores_counted(void **state) {
    (void)state;
    const char *one_running = make_tasks("t1", "RS"); /* the caller runs, a worker sleeps */
    /* 3 runnable on the machine, 1 of them ours: 2 other busy threads */
    assert_int_equal(rs__threads_busy_from(make_loadavg("a", "0.50 0.40 0.30 3/200 4242\n"), one_running, 4, 3, 0), 2);
    /* never more than cores - 1: one thread is always left */
    assert_int_equal(rs__threads_busy_from(make_loadavg("b", "7.00 7.00 7.00 9/200 4242\n"), one_running, 4, 3, 0), 3);
    assert_int_equal(rs__threads_busy_from(make_loadavg("c", "7.00 7.00 7.00 9/200 4242\n"), one_running, 2, 1, 0), 1);
    /* only ourselves running: nothing busy */
    assert_int_equal(rs__threads_busy_from(make_loadavg("d", "0.00 0.00 0.00 1/90 4242\n"), one_running, 2, 3, 0), 0);
    /* our own runnable threads are not other processes' */
    const char *three_running = make_tasks("t3", "RRRS");
    assert_int_equal(rs__threads_busy_from(make_loadavg("e", "3.0 3.0 3.0 4/90 4242\n"), three_running, 8, 1, 0), 1);
    /* a count below our own (the machine's runnable count moved between the two reads): 0, not negative */
    assert_int_equal(rs__threads_busy_from(make_loadavg("f", "3.0 3.0 3.0 1/90 4242\n"), three_running, 8, 1, 0), 0);
}

static void test_busy_cores_unknown_means_idle(void **state) {
    (void)state;
    const char *tasks = make_tasks("t2", "R");
    char missing[700];
    snprintf(missing, sizeof missing, "%s/no-such-file", root);
    assert_int_equal(rs__threads_busy_from(missing, tasks, 4, 3, 0), 0);
    assert_int_equal(rs__threads_busy_from(make_loadavg("g", "0.5 0.4 0.3 3/200 4242\n"), missing, 4, 3, 0), 0);
    assert_int_equal(rs__threads_busy_from(make_loadavg("h", "garbage\n"), tasks, 4, 3, 0), 0);
    assert_int_equal(rs__threads_busy_from(make_loadavg("i", "0.5 0.4 0.3\n"), tasks, 4, 3, 0), 0);
    /* one core, or no samples: nothing to decide */
    assert_int_equal(rs__threads_busy_from(make_loadavg("j", "5.0 5.0 5.0 5/90 4242\n"), tasks, 1, 3, 0), 0);
    assert_int_equal(rs__threads_busy_from(make_loadavg("k", "5.0 5.0 5.0 5/90 4242\n"), tasks, 4, 0, 0), 0);
}

/* The real files of this machine: a count in [0, cores - 1], and the default thread count is the cores less it. */
static void test_busy_cores_live(void **state) {
    (void)state;
    int avail = rs_threads_available(), busy = rs_threads_busy();
    assert_true(busy >= 0 && busy <= (avail > 1 ? avail - 1 : 0));
    assert_int_equal(rs_threads_busy(), busy); /* decided once per process */
    assert_int_equal(rs_set_threads(0), avail - busy);
    char buf[96];
    assert_non_null(strstr(rs_threads_describe(buf, sizeof buf), busy ? "busy with other processes" : "thread"));
    assert_int_equal(rs_set_threads(1), 1);
    assert_string_equal(rs_threads_describe(buf, sizeof buf), "1 thread"); /* an explicit count: no note */
}

int main(void) {
    snprintf(root, sizeof root, "%s", tu_tmpdir("threads"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_busy_cores_counted),
        cmocka_unit_test(test_busy_cores_unknown_means_idle),
        cmocka_unit_test(test_busy_cores_live),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
