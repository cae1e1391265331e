/* fuzz_sens.c: libFuzzer target for the readers of a run's sens.csv: `theory --compare` (rs_theory_read_sens and
 * the node selection of rs_theory_read_sens_nodes: the pooling model's default, a pattern and a type) and the
 * trainer's rewrite of sens.csv on --resume (rs_tracker_truncate). Every input is either refused with a message or
 * read into positive finite D, G, R per layer, layers in increasing order; never a crash, a leak or undefined
 * behaviour. (log.csv is read by fuzz_runmeta, through rs_run_resume.) */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_files.h"
#include "relstab/io.h"
#include "relstab/theory.h"
#include "train/train_internal.h"

static void check(const rs_theory_net_layer *l, int n) {
    if (n < 1) abort();
    for (int i = 0; i < n; i++) {
        if (!(l[i].D > 0) || !(l[i].G > 0) || !(l[i].R > 0) || !isfinite(l[i].D) || !isfinite(l[i].G) ||
            !isfinite(l[i].R) || l[i].n_seeds < 1 || !memchr(l[i].node, 0, sizeof l[i].node))
            abort();
        if (i && l[i].k <= l[i - 1].k) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write(0, "sens.csv", data, size);
    static const char *filters[3] = {NULL, ".mul", NULL};
    static const char *specs[3] = {NULL, "all", "type:relu,conv.*,x"};
    for (int i = 0; i < 3; i++) {
        rs_theory_net_layer *l = NULL;
        int n = 0;
        char note[256];
        rs_clear_error();
        rs_status s = rs_theory_read_sens_nodes(path, filters[i], specs[i], &l, &n, note, sizeof note);
        if (s == RS_OK) check(l, n);
        else if (l || rs_last_error()[0] == 0) abort();
        rs_free(l);
    }
    rs_tracker tk;
    memset(&tk, 0, sizeof tk);
    tk.every = 1;
    snprintf(tk.path, sizeof tk.path, "%s", path);
    int have0 = 0;
    rs_clear_error();
    if (rs_tracker_truncate(&tk, (int32_t)(size % 7), &have0) != RS_OK && rs_last_error()[0] == 0) abort();
    return 0;
}
