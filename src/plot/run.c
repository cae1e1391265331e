/* run.c: the figures of a training run tracked with --track-every (rs_plot_run): D, G, R against epoch
 * (RUN/sens.png) and against depth at the first and last tracked epochs (RUN/depth.png), both from RUN/sens.csv.
 * It chooses what to draw; the drawing is figures.c's. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plot/plot_internal.h"

rs_status rs_plot_run(const char *run_dir) {
    char csv[4200], fig[4200], where[128];
    if (snprintf(csv, sizeof csv, "%s/sens.csv", run_dir) >= (int)sizeof csv)
        return rs_error(RS_ERR_ARG, "run directory path too long");
    rs_table t;
    RS_TRY(rs_table_read(csv, &t));
    int32_t ec = rs_table_col(&t, "epoch");
    double lo = INFINITY, hi = -INFINITY, e;
    for (int32_t r = 0; ec >= 0 && r < t.n_rows; r++)
        if (rs_table_num(&t, r, ec, &e) && isfinite(e)) lo = e < lo ? e : lo, hi = e > hi ? e : hi;
    rs_table_free(&t);
    if (ec < 0) return rs_error(RS_ERR_FORMAT, "%s has no column 'epoch'", csv);
    if (!isfinite(lo)) return rs_error(RS_ERR_FORMAT, "%s has no tracked epoch", csv);
    rs_plot_opts o = rs_plot_defaults();
    rs_plot_info info;
    snprintf(fig, sizeof fig, "%s/sens.png", run_dir);
    o.title = "D, G, R during training (sens.csv)";
    RS_TRY(rs_plot_epochs(csv, fig, &o, &info));
    snprintf(where, sizeof where, "epoch=%.17g,%.17g", lo, hi);
    o.where = where;
    o.group = "epoch";
    o.title = lo == hi ? "D, G, R by node (sens.csv)" : "D, G, R by node, first and last tracked epoch (sens.csv)";
    snprintf(fig, sizeof fig, "%s/depth.png", run_dir);
    return rs_plot_depth(csv, fig, &o, &info);
}
