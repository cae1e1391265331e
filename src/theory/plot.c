/* plot.c: the figures of `relstab theory --plot`, drawn by gnuplot from a generated script through a plot job
 * (src/plot/job.c: temporary directory, gnuplot, rename into place on success; PNG or SVG by the extension).
 * It draws; it computes nothing beyond the law lines. */
#include "relstab/theory.h"

#include <math.h>
#include <string.h>

#include "relstab/plot.h"

static void write_model_data(FILE *f, const rs_theory_result *r) {
    rs_theory_laws laws = rs_theory_predict(&r->cfg);
    int lo, hi, ok = rs_theory_fit_range(&r->cfg, &lo, &hi);
    fprintf(f, "# k D G R D_law G_law R_law\n");
    for (int k = 1; k <= r->cfg.depth; k++) {
        const rs_theory_layer *ly = &r->layers[k - 1];
        fprintf(f, "%d %.10g %.10g %.10g", k, ly->D, ly->G, ly->R);
        for (int q = 0; q < 3; q++) {
            double v = ok ? rs_theory_law_value(&laws, q, rs_theory_fit_prefactor(r, &laws, q, lo, hi), k) : NAN;
            fprintf(f, isfinite(v) ? " %.10g" : " NaN", v);
        }
        fputc('\n', f);
    }
}

static void write_model_script(FILE *g, const rs_plot_job *j, const rs_theory_result *r, int with_net) {
    const rs_theory_config *c = &r->cfg;
    const char *dir = j->dir;
    rs_theory_laws laws = rs_theory_predict(c);
    rs_plot_terminal(j, g, 1000, 650);
    fprintf(g, "set title 'constant-filter model: %dD, stride %d, filter %d, N = %lld'\n", c->dim, c->stride, c->filter,
            (long long)c->size);
    fprintf(g, "set logscale y\nset format y '10^{%%L}'\nset xlabel 'layer k'\nset ylabel 'D_k, G_k, R_k'\n");
    if (laws.kind == RS_THEORY_LAW_POWER || laws.kind == RS_THEORY_LAW_NONE) fprintf(g, "set logscale x\n");
    fprintf(g, "set key below\nset grid\n");
    fprintf(g, "plot '%s/model.dat' u 1:2 w p pt 7 lc rgb '#1f77b4' t 'D (model)', \\\n", dir);
    fprintf(g, "     '' u 1:3 w p pt 5 lc rgb '#d62728' t 'G (model)', \\\n");
    fprintf(g, "     '' u 1:4 w p pt 9 lc rgb '#2ca02c' t 'R (model)'");
    if (laws.kind != RS_THEORY_LAW_NONE) {
        const char *col[3] = {"#1f77b4", "#d62728", "#2ca02c"}, *nm[3] = {"D", "G", "R"};
        for (int q = 0; q < 3; q++) {
            double a = laws.exponent[q];
            if (laws.kind == RS_THEORY_LAW_POWER)
                fprintf(g, ", \\\n     '' u 1:%d w l lw 2 lc rgb '%s' t '%s law ~ k^%s (fitted prefactor)' noenhanced", 5 + q, col[q], nm[q],
                        laws.exponent_text[q]);
            else if (a == 1 || a == -1)
                fprintf(g, ", \\\n     '' u 1:%d w l lw 2 lc rgb '%s' t '%s law ~ %d^(%sk) (fitted prefactor)' noenhanced", 5 + q, col[q], nm[q],
                        c->stride, a < 0 ? "-" : "");
            else
                fprintf(g, ", \\\n     '' u 1:%d w l lw 2 lc rgb '%s' t '%s law ~ %d^(%gk) (fitted prefactor)' noenhanced", 5 + q, col[q], nm[q],
                        c->stride, a);
        }
    }
    if (with_net) {
        fprintf(g, ", \\\n     '%s/net.dat' u 1:2 w lp pt 6 dt 2 lc rgb '#1f77b4' t 'D (trained net)'", dir);
        fprintf(g, ", \\\n     '' u 1:3 w lp pt 4 dt 2 lc rgb '#d62728' t 'G (trained net)'");
        fprintf(g, ", \\\n     '' u 1:4 w lp pt 8 dt 2 lc rgb '#2ca02c' t 'R (trained net)'");
    }
    fputc('\n', g);
}

static void write_bias(FILE *f, FILE *g, const rs_plot_job *j, const rs_theory_bias_config *bc,
                       const rs_theory_bias_result *br) {
    const char *dir = j->dir;
    int L = br->depth;
    fprintf(f, "# eta then G_L/eta^2 per bias\n");
    for (int e = 0; e < br->n_eta; e++) {
        fprintf(f, "%.10g", bc->etas[e]);
        for (int b = 0; b < br->n_bias; b++) fprintf(f, " %.10g", br->g_over_eta2[((size_t)b * br->n_eta + e) * L + L - 1]);
        fputc('\n', f);
    }
    rs_plot_terminal(j, g, 1000, 650);
    fprintf(g, "set title 'role of the bias: G_%d / eta^2 against the noise norm (stride %d, filter %d, N = %lld)'\n", L,
            bc->base.stride, bc->base.filter, (long long)br->size);
    fprintf(g, "set logscale xy\nset format x '10^{%%L}'\nset xlabel 'noise norm eta'\nset ylabel 'G / eta^2'\n");
    fprintf(g, "set key outside right\nset grid\nplot ");
    for (int b = 0; b < br->n_bias; b++)
        fprintf(g, "%s'%s/bias.dat' u 1:%d w lp pt 7 t 'b = %g'", b ? ", \\\n     " : "", dir, b + 2, bc->biases[b]);
    fputc('\n', g);
}

rs_status rs_theory_plot(const char *png, const rs_theory_result *r, const rs_theory_net_layer *net, int n_net,
                         const rs_theory_bias_config *bc, const rs_theory_bias_result *br) {
    if (!r && !(bc && br)) return rs_error(RS_ERR_ARG, "nothing to plot");
    rs_plot_job j;
    rs_status st = rs_plot_begin(&j, png, "relstab-theory");
    if (st != RS_OK) return rs_plot_finish(&j, st);
    FILE *d = rs_plot_open(&j, r ? "model.dat" : "bias.dat"), *g = rs_plot_open(&j, "plot.gp");
    FILE *nd = (r && net) ? rs_plot_open(&j, "net.dat") : NULL;
    if (!d || !g || (r && net && !nd)) return rs_plot_finish(&j, RS_OK); /* reports the open error */
    if (r) {
        write_model_data(d, r);
        if (nd)
            for (int i = 0; i < n_net; i++) fprintf(nd, "%d %.10g %.10g %.10g\n", net[i].k, net[i].D, net[i].G, net[i].R);
        write_model_script(g, &j, r, nd != NULL);
    } else {
        write_bias(d, g, &j, bc, br);
    }
    return rs_plot_finish(&j, RS_OK);
}
