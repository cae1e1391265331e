/* progress.h: one progress facility for every long piece of work (training epochs, the test pass, tracking,
 * measure passes, the theory model): on a terminal, a bar with the rate and the ETA redrawn in place at most 10
 * times a second; otherwise one plain line per finished step (rs_bar_line) and, for steps longer than
 * RS_BAR_LINE_EVERY seconds, an intermediate line with the fraction done and the ETA. Everything goes to stderr.
 * It does not decide what a step is: the caller does. */
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RS_BAR_LINE_EVERY 30.0 /* seconds between intermediate lines when stderr is not a terminal */

typedef struct rs_bar_s {
    char label[64];  /* what is running, e.g. "epoch 3/10" or "measure pass 1/1" */
    const char *unit; /* the counted things, e.g. "img" (a literal) */
    int64_t total, done;
    int quiet, tty;
    double t0, last_draw, last_line;
    int drawn;       /* a bar is on the terminal line */
} rs_bar;

/* Starts a bar for total units (quiet: nothing is ever printed). tty: 1 or 0 to force, -1 = isatty(stderr). */
void rs_bar_start(rs_bar *b, const char *label, int64_t total, const char *unit, int quiet, int tty);
/* done units so far; extra (may be NULL) is appended to the bar (e.g. "loss 0.31 err 0.12"). */
void rs_bar_update(rs_bar *b, int64_t done, const char *extra);
/* Clears the bar (terminal) and prints "line\n" unless quiet: the one line per step of every mode. */
void rs_bar_line(rs_bar *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clears the bar without printing anything. */
void rs_bar_end(rs_bar *b);
/* "1:05" or "1:02:05". */
void rs_clock_str(char *buf, unsigned long len, double seconds);

#ifdef __cplusplus
}
#endif
