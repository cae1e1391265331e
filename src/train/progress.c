/* progress.c: training progress on stderr, on the shared facility of relstab/progress.h: a live bar (epoch,
 * loss, error, images/s, ETA) on a terminal, and one line per epoch in every case (unless quiet). */
#include <stdio.h>

#include "train_internal.h"

void rs_progress_start(rs_progress *p, int quiet, int32_t epoch, int32_t epochs, int64_t total) {
    p->quiet = quiet;
    p->epoch = epoch;
    p->epochs = epochs;
    p->total = total;
    char label[64];
    snprintf(label, sizeof label, "epoch %d/%d", (int)epoch + 1, (int)epochs);
    rs_bar_start(&p->bar, label, total, "img", quiet, -1);
    p->tty = p->bar.tty;
    p->t0 = p->bar.t0;
    p->last_draw = 0;
}

void rs_progress_update(rs_progress *p, int64_t done, double loss, double err) {
    char extra[64];
    snprintf(extra, sizeof extra, "loss %.4f err %.4f", loss, err);
    rs_bar_update(&p->bar, done, extra);
}

void rs_progress_end(rs_progress *p, const rs_log_row *row, int is_best) {
    char wall[48];
    rs_clock_str(wall, sizeof wall, row->wall);
    rs_bar_line(&p->bar, "epoch %d/%d lr %.4g train loss %.4f err %.4f | test loss %.4f err %.4f%s | %.0f img/s, %s",
                row->epoch, p->epochs, row->lr, row->train_loss, row->train_err, row->test_loss, row->test_err,
                is_best ? " (best)" : "", row->images_per_s, wall);
}
