/* cli.c: see cli.h. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int cli_parse_int(const char *cmd, const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) {
        fprintf(stderr, "relstab %s: %s expects an integer, got '%s'\n", cmd, flag, s);
        return -1;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "relstab %s: %s must be between %lld and %lld, got %lld\n", cmd, flag, (long long)lo,
                (long long)hi, v);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_double(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) {
        fprintf(stderr, "relstab %s: %s expects a number, got '%s'\n", cmd, flag, s);
        return -1;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "relstab %s: %s must be between %g and %g, got %g\n", cmd, flag, lo, hi, v);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_double_list(const char *cmd, const char *flag, const char *s, double *out, int max) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (errno || end == p || (*end && *end != ',') || !isfinite(v)) {
            fprintf(stderr, "relstab %s: %s expects comma-separated numbers, got '%s'\n", cmd, flag, s);
            return -1;
        }
        if (n == max) {
            fprintf(stderr, "relstab %s: %s takes at most %d values\n", cmd, flag, max);
            return -1;
        }
        out[n++] = v;
        p = *end ? end + 1 : end;
    }
    if (n == 0) {
        fprintf(stderr, "relstab %s: %s expects at least one number\n", cmd, flag);
        return -1;
    }
    return n;
}

int cli_fail(const char *cmd, rs_status s) {
    const char *msg = rs_last_error();
    fprintf(stderr, "relstab %s: %s\n", cmd, msg[0] ? msg : rs_status_name(s));
    return s == RS_ERR_ARG ? 2 : 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "relstab %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

int64_t cli_threads_cap(int64_t n) {
    const int avail = rs_threads_available();
    if (n <= avail) return n;
    fprintf(stderr, "relstab: --threads %lld capped at %d, the number of cores this process may run on\n",
            (long long)n, avail);
    return avail;
}

int cli_threads(int64_t n) { return rs_set_threads((int)cli_threads_cap(n)); }

int cli_stderr_is_tty(void) { return isatty(2); }
