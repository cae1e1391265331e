/* figures.c: the experiments' figures, each drawn twice (PNG and SVG) by the plot module (plot.h) from the CSV
 * written next to it, and the list of figures the report shows (figures.txt). No gnuplot code here beyond the
 * spectra figure, which the plot module has no ready-made figure for (exp_spectra.c). */
#include <stdio.h>
#include <string.h>

#include "exp_internal.h"
#include "relstab/plot.h"

void exp_fig_register(exp_ctx *c, const char *name, const char *title) {
    char p[1200];
    snprintf(p, sizeof p, "%s/figures.txt", c->dir);
    FILE *f = fopen(p, "a");
    if (!f) return;
    fprintf(f, "%s\t%s\n", name, title);
    fclose(f);
}

rs_status exp_fig_depth(exp_ctx *c, const char *name, const char *csv, const char *group, const char *nodes,
                        const char *title) {
    rs_plot_opts po = rs_plot_defaults();
    po.title = title;
    po.group = group;
    po.nodes = nodes;
    static const char *ext[2] = {"png", "svg"};
    for (int i = 0; i < 2; i++) {
        char out[1200];
        snprintf(out, sizeof out, "%s/%s.%s", c->dir, name, ext[i]);
        rs_plot_info info;
        RS_TRY(rs_plot_depth(csv, out, &po, &info));
    }
    exp_fig_register(c, name, title);
    return RS_OK;
}

rs_status exp_fig_scatter(exp_ctx *c, const char *name, const char *csv, const char *x, const char *y,
                          const char *group, int logx, int logy, int fit, const char *title) {
    rs_plot_opts po = rs_plot_defaults();
    po.title = title;
    po.group = group;
    po.x = x;
    po.y = y;
    po.logx = logx;
    po.logy = logy;
    po.fit = fit;
    static const char *ext[2] = {"png", "svg"};
    for (int i = 0; i < 2; i++) {
        char out[1200];
        snprintf(out, sizeof out, "%s/%s.%s", c->dir, name, ext[i]);
        rs_plot_info info;
        RS_TRY(rs_plot_scatter(csv, out, &po, &info));
    }
    exp_fig_register(c, name, title);
    return RS_OK;
}
