/* testutil.c: see testutil.h. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

float *tu_randn(size_t n, uint64_t stream) {
    float *p = rs_alloc(n * sizeof(float));
    rs_fill_normal(p, n, 12345, stream, 0, 0.0f, 1.0f);
    return p;
}

double tu_max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
    }
    return m;
}

double tu_check_close(const float *a, const float *b, size_t n, double atol, double rtol, const char *what) {
    double worst = -INFINITY;
    size_t first_bad = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double excess = isnan(d) ? INFINITY : d - (atol + rtol * fabs((double)b[i]));
        if (excess > worst) worst = excess;
        if (excess > 0 && first_bad == (size_t)-1) first_bad = i;
    }
    if (first_bad != (size_t)-1)
        fprintf(stderr, "%s: mismatch at %zu: %.9g vs %.9g (atol %g rtol %g)\n", what, first_bad,
                (double)a[first_bad], (double)b[first_bad], atol, rtol);
    return worst;
}

const char *tu_tmpdir(const char *tag) {
    static char bufs[4][512];
    static int slot = 0;
    char *buf = bufs[slot++ & 3];
    const char *base = getenv("TMPDIR");
    snprintf(buf, 512, "%s/relstab-%s-XXXXXX", base ? base : "/tmp", tag);
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        abort();
    }
    return buf;
}

const char *tu_fixture(const char *name) {
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/tests/fixtures/%s", RELSTAB_SOURCE_DIR, name);
    return buf;
}

int tu_system(const char *cmd) {
    int r = system(cmd);
    if (r == -1) return -1;
    return WEXITSTATUS(r);
}
