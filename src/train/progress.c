/* progress.c: training progress on stderr: a live bar (epoch, loss, error, images/s, ETA) redrawn at most 10 times
 * a second when stderr is a terminal, and one line per epoch in every case (unless quiet). */
#include <stdio.h>
#include <unistd.h>

#include "train_internal.h"

void rs_progress_start(rs_progress *p, int quiet, int32_t epoch, int32_t epochs, int64_t total) {
    p->quiet = quiet;
    p->tty = !quiet && isatty(2);
    p->epoch = epoch;
    p->epochs = epochs;
    p->total = total;
    p->t0 = rs_now();
    p->last_draw = 0;
}

static void clock_str(char *buf, size_t len, double s) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

void rs_progress_update(rs_progress *p, int64_t done, double loss, double err) {
    if (!p->tty) return;
    double now = rs_now();
    if (now - p->last_draw < 0.1 && done < p->total) return;
    p->last_draw = now;
    double elapsed = now - p->t0, rate = elapsed > 0 ? (double)done / elapsed : 0;
    double eta = rate > 0 ? (double)(p->total - done) / rate : 0;
    int width = 24, fill = (int)(width * (double)done / (double)p->total);
    char bar[32], eta_s[48];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    clock_str(eta_s, sizeof eta_s, eta);
    fprintf(stderr, "\repoch %d/%d [%s] loss %.4f err %.4f %.0f img/s ETA %s   ", p->epoch + 1, p->epochs, bar, loss,
            err, rate, eta_s);
    fflush(stderr);
}

void rs_progress_end(rs_progress *p, const rs_log_row *row, int is_best) {
    if (p->quiet) return;
    char wall[48];
    clock_str(wall, sizeof wall, row->wall);
    if (p->tty) fprintf(stderr, "\r\033[K");
    fprintf(stderr, "epoch %d/%d lr %.4g train loss %.4f err %.4f | test loss %.4f err %.4f%s | %.0f img/s, %s\n",
            row->epoch, p->epochs, row->lr, row->train_loss, row->train_err, row->test_loss, row->test_err,
            is_best ? " (best)" : "", row->images_per_s, wall);
}
