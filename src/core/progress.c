/* progress.c: the progress facility of progress.h: a bar with rate and ETA redrawn in place on a terminal, plain
 * lines otherwise. It prints to stderr and computes nothing else. */
#include "relstab/progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "relstab/tensor.h"

void rs_clock_str(char *buf, unsigned long len, double s) {
    long t = s > 0 && s < 1e9 ? (long)(s + 0.5) : 0;
    if (t >= 3600) snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

void rs_bar_start(rs_bar *b, const char *label, int64_t total, const char *unit, int quiet, int tty) {
    memset(b, 0, sizeof *b);
    snprintf(b->label, sizeof b->label, "%s", label ? label : "");
    b->unit = unit ? unit : "";
    b->total = total > 0 ? total : 1;
    b->quiet = quiet;
    b->tty = !quiet && (tty < 0 ? isatty(2) : tty);
    b->t0 = b->last_line = rs_now();
}

void rs_bar_update(rs_bar *b, int64_t done, const char *extra) {
    if (b->quiet) return;
    b->done = done;
    double now = rs_now(), elapsed = now - b->t0;
    double rate = elapsed > 0 ? (double)done / elapsed : 0, eta = rate > 0 ? (double)(b->total - done) / rate : 0;
    char eta_s[32];
    rs_clock_str(eta_s, sizeof eta_s, eta);
    if (!b->tty) { /* a line now and then during long steps */
        if (now - b->last_line < RS_BAR_LINE_EVERY || done >= b->total) return;
        b->last_line = now;
        fprintf(stderr, "%s: %lld/%lld %s (%.0f%%)%s%s, ETA %s\n", b->label, (long long)done, (long long)b->total,
                b->unit, 100.0 * (double)done / (double)b->total, extra ? ", " : "", extra ? extra : "", eta_s);
        return;
    }
    if (now - b->last_draw < 0.1 && done < b->total) return;
    b->last_draw = now;
    int width = 24, fill = (int)(width * (double)done / (double)b->total);
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\r%s [%s] %.0f %s/s%s%s ETA %s\033[K", b->label, bar, rate, b->unit, extra ? " " : "",
            extra ? extra : "", eta_s);
    fflush(stderr);
    b->drawn = 1;
}

void rs_bar_end(rs_bar *b) {
    if (b->drawn) fprintf(stderr, "\r\033[K");
    b->drawn = 0;
}

void rs_bar_line(rs_bar *b, const char *fmt, ...) {
    if (b->quiet) return;
    rs_bar_end(b);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    b->last_line = rs_now();
}
