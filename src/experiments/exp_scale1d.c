/* exp_scale1d.c: the `scale1d` experiment: the 1-D pooling CNN (gapmf1d, stride 2, filter 2) on the 1-D
 * scale-detection task (Task 2: same block of size xi): test error, how homogeneous the learned filters are (the
 * weight on the constant grid-Laplacian mode), and D, G, R of the channel mean at every block (rectified noise, the
 * 1-D paper's setting) against the constant-filter theory with stride 2. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exp_internal.h"
#include "relstab/theory.h"

static int32_t scale1d_runs(exp_ctx *c, exp_run *runs, int32_t max) {
    rs_scale sc = c->o->scale;
    int32_t seeds = sc == RS_SCALE_TINY ? (c->o->seeds > 0 ? c->o->seeds : 2) : exp_seeds(c, 2, 10);
    int32_t n = 0;
    for (int32_t s = 0; s < seeds && n < max; s++) {
        exp_run *r = &runs[n++];
        memset(r, 0, sizeof *r);
        snprintf(r->model, sizeof r->model, "gapmf1d");
        snprintf(r->label, sizeof r->label, "gapmf1d");
        snprintf(r->data, sizeof r->data, "scale1d");
        snprintf(r->recipe, sizeof r->recipe, "scale1d");
        r->width = sc == RS_SCALE_FULL ? 1000 : sc == RS_SCALE_TINY ? 16 : 100;
        r->epochs = sc == RS_SCALE_FULL ? 600000 : sc == RS_SCALE_TINY ? 2 : 30;
        r->ridge = -1;
        r->seed = (uint64_t)(s + 1); /* the reference's manual_seed 1..10 */
        r->measure = EXP_M_INIT | EXP_M_TRAINED | EXP_M_SPECTRA;
        r->style_1d = 1;
        r->P = sc == RS_SCALE_TINY ? 64 : 1000;
        exp_run_dir(c, r, "scale1d");
    }
    return n;
}

/* The fraction of the filters' squared weight on the constant mode (lambda = 0) per conv layer, from a run's
 * spectra CSV: frac[conv_index]; returns the number of layers. */
int32_t exp_read_frac0(const char *csv, double *frac, int32_t max) {
    FILE *f = fopen(csv, "r");
    if (!f) return 0;
    char line[512];
    int32_t n = 0;
    if (!fgets(line, sizeof line, f)) line[0] = 0;
    while (fgets(line, sizeof line, f)) {
        char layer[128];
        int ci, j, level;
        double lambda, om, omn, oml;
        if (sscanf(line, "%127[^,],%d,%d,%lf,%d,%lf,%lf,%lf", layer, &ci, &j, &lambda, &level, &om, &omn, &oml) != 8)
            continue;
        if (j == 0 && ci < max) frac[ci] = oml, n = ci + 1 > n ? ci + 1 : n;
    }
    fclose(f);
    return n;
}

/* The geometric mean over the runs of the trained D, G, R per block, as a CSV theory.h reads (node, D, G, R). */
static rs_status write_net_curve(exp_ctx *c, const exp_curves *cv, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return rs_error(RS_ERR_IO, "cannot write %s", path);
    fprintf(f, "node,layer,D,G,R\n");
    const exp_curve_row *rows[64];
    int32_t n = exp_curves_select(cv, "gapmf1d", "trained", rows, 64);
    for (int32_t i = 0; i < n; i++)
        fprintf(f, "%s,%d,%.6e,%.6e,%.6e\n", rows[i]->node, (int)i + 1, pow(10, rows[i]->lmean[0]),
                pow(10, rows[i]->lmean[1]), pow(10, rows[i]->lmean[2]));
    fclose(f);
    (void)c;
    return RS_OK;
}

static rs_status theory_figure(exp_ctx *c, const exp_curves *cv) {
    char net_csv[1200];
    snprintf(net_csv, sizeof net_csv, "%s/scale1d_trained_gmean.csv", c->dir);
    RS_TRY(write_net_curve(c, cv, net_csv));
    rs_theory_net_layer *net = NULL;
    int n_net = 0;
    RS_TRY(rs_theory_read_sens(net_csv, NULL, &net, &n_net));
    rs_theory_config cfg = rs_theory_defaults(); /* 1-D, stride 2, filter 2 */
    cfg.depth = n_net;
    rs_theory_result r;
    rs_status s = rs_theory_run(&cfg, &r);
    static const char *ext[2] = {"png", "svg"};
    for (int i = 0; i < 2 && !s; i++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/scale1d_theory.%s", c->dir, ext[i]);
        s = rs_theory_plot(p, &r, net, n_net, NULL, NULL);
    }
    if (!s) rs_theory_result_free(&r);
    rs_free(net);
    return s;
}

typedef struct {
    exp_ctx *c;
    const exp_curves *cv;
} fig_ctx;

static rs_status theory_figure_job(int32_t job, void *ctx) {
    (void)job;
    fig_ctx *f = ctx;
    return theory_figure(f->c, f->cv);
}

/* Exponents of log2 D and log2 G per block over k = 1 .. log2(xi) = 5 (the blocks whose receptive field fits in
 * a block of the task), against the stride-2 laws 2^-k and 2^k. */
static void exponent_verdicts(exp_ctx *c, const exp_curves *cv) {
    const exp_curve_row *rows[64];
    int32_t n = exp_curves_select(cv, "gapmf1d", "trained", rows, 64);
    int32_t kmax = n < 5 ? n : 5;
    double k[64], y[64];
    static const char *qn[2] = {"D", "G"};
    for (int q = 0; q < 2; q++) {
        for (int32_t i = 0; i < kmax; i++) k[i] = i + 1, y[i] = rows[i]->lmean[q] / log10(2.0);
        exp_fit f = exp_fit_line(k, y, kmax);
        char claim[160];
        snprintf(claim, sizeof claim, "trained 1-D CNN: %s_k ~ 2^(%+d k) as the stride-2 constant-filter model", qn[q],
                 q ? 1 : -1);
        exp_verdict(c, "scale1d_theory", claim, exp_exponent_verdict(f.slope, f.slope_se, q ? 1 : -1),
                    "fitted slope of log2 %s per block over k = 1..%d: %+.3f +- %.3f", qn[q], (int)kmax, f.slope,
                    f.slope_se);
    }
}

static void filter_verdict(exp_ctx *c, const exp_run *runs, int32_t n) {
    double init[64], trained[64], d[1024];
    int32_t nd = 0, layers = 0;
    for (int32_t i = 0; i < n; i++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/spectra_init.csv", runs[i].dir);
        int32_t a = exp_read_frac0(p, init, 64);
        snprintf(p, sizeof p, "%s/spectra_trained.csv", runs[i].dir);
        int32_t b = exp_read_frac0(p, trained, 64);
        layers = a < b ? a : b;
        for (int32_t l = 0; l < layers && nd < 1024; l++) d[nd++] = trained[l] - init[l];
    }
    double m, se;
    exp_mean_se(d, nd, &m, &se);
    exp_verdict(c, "scale1d_gapmf1d", "trained filters become homogeneous (more weight on the constant mode, w1 ~ w2)",
                exp_trend_verdict(m, se, 1),
                "weight fraction on the constant mode, trained minus init, mean over %d layers x runs: %+.3f +- %.3f",
                (int)nd, m, se);
}

rs_status exp_scale1d(exp_ctx *c) {
    exp_run runs[64];
    int32_t n = scale1d_runs(c, runs, 64);
    if (!c->o->dry_run)
        fprintf(c->notes, "runs: %d seeds; gapmf1d (7 blocks, filter 2, stride 2, width %d) on scale1d (L = 128, "
                          "xi = 32, Task 2), recipe scale1d (SGD lr 0.01 x width, batch 8, hinge, ridge 0.01, stop at "
                          "zero loss) capped at %d epochs; D, G, R of the channel mean at each block's output "
                          "(conv.l.mul), block-preserving moves, rectified noise; P = %lld\n",
                (int)n, (int)runs[0].width, (int)runs[0].epochs, (long long)runs[0].P);
    RS_TRY(exp_grid(c, runs, n));
    if (c->o->dry_run) return RS_OK;
    RS_TRY(exp_layerwise(c, "scale1d", runs, n, -1));
    double e[64];
    for (int32_t i = 0; i < n; i++) e[i] = exp_run_test_err(&runs[i]);
    double m, se;
    exp_mean_se(e, n, &m, &se);
    exp_verdict(c, "scale1d_gapmf1d", "the 1-D CNN learns the task (test error well below chance, 0.5)",
                m < 0.25 ? "holds" : m < 0.45 ? "partly" : "does not hold",
                "best test error %.4f +- %.4f over %d seeds (holds: < 0.25, partly: < 0.45)", m, se, (int)n);
    filter_verdict(c, runs, n);
    exp_curves cv = {0};
    for (int32_t i = 0; i < n; i++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/sens_trained.csv", runs[i].dir);
        RS_TRY(exp_curves_add_csv(&cv, "gapmf1d", "trained", p));
    }
    exp_curves_finish(&cv);
    exponent_verdicts(c, &cv);
    /* the theory model runs OpenMP: as a grid job, so that with --jobs > 1 this process stays fork-safe */
    fig_ctx fc = {c, &cv};
    rs_status s = rs_grid_run(1, NULL, c->o->jobs, theory_figure_job, &fc);
    if (!s) exp_fig_register(c, "scale1d_theory", "1-D CNN trained on scale detection (points) against the stride-2 "
                                                  "constant-filter model (lines): D, G, R per block");
    exp_curves_free(&cv);
    return s;
}
