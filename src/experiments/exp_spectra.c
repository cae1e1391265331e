/* exp_spectra.c: the `spectra` experiment: grid-Laplacian spectra of the conv filters by layer, at init and
 * trained, for the nets of `layers` and `twopoints` (the same run directories: their runs are reused, or run here
 * if those experiments have not run yet). Summary per layer: the fraction of the filters' squared weight on the
 * constant mode (lambda = 0); the full spectra are in the CSV. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exp_internal.h"

int32_t exp_read_frac0(const char *csv, double *frac, int32_t max);

typedef struct {
    char model[64];
    int32_t layers;
    double sum[2][64], sumsq[2][64];
    int32_t n[2][64];
} frac_acc;

/* Accumulates the runs' lambda-0 fractions per (model, condition, conv layer); returns the number of models. */
static int32_t accumulate(const exp_run *runs, int32_t n, frac_acc *acc, int32_t max) {
    int32_t na = 0;
    static const char *files[2] = {"spectra_init.csv", "spectra_trained.csv"};
    for (int32_t i = 0; i < n; i++) {
        int32_t a = 0;
        while (a < na && strcmp(acc[a].model, runs[i].label)) a++;
        if (a == na) {
            if (na == max) continue;
            memset(&acc[na], 0, sizeof acc[na]);
            snprintf(acc[na].model, sizeof acc[na].model, "%s", runs[i].label);
            na++;
        }
        for (int c = 0; c < 2; c++) {
            char p[1200];
            double fr[64];
            snprintf(p, sizeof p, "%s/%s", runs[i].dir, files[c]);
            int32_t l = exp_read_frac0(p, fr, 64);
            if (l > acc[a].layers) acc[a].layers = l;
            for (int32_t k = 0; k < l; k++) acc[a].sum[c][k] += fr[k], acc[a].sumsq[c][k] += fr[k] * fr[k], acc[a].n[c][k]++;
        }
    }
    return na;
}

static void mean_se_of(const frac_acc *a, int c, int32_t k, double *m, double *se) {
    double n = a->n[c][k];
    *m = n > 0 ? a->sum[c][k] / n : NAN;
    double var = n > 1 ? (a->sumsq[c][k] - n * *m * *m) / (n - 1) : NAN;
    *se = n > 1 ? sqrt(var > 0 ? var : 0) / sqrt(n) : NAN;
}

static rs_status write_tables(exp_ctx *c, const char *source, const frac_acc *acc, int32_t na, FILE *tidy) {
    char wide[1200];
    snprintf(wide, sizeof wide, "%s/spectra_%s_figure.csv", c->dir, source);
    FILE *w = fopen(wide, "w");
    if (!w) return rs_error(RS_ERR_IO, "cannot write %s", wide);
    fprintf(w, "model,condition,conv_layer,frac0,frac0_se,n\n");
    static const char *cn[2] = {"init", "trained"};
    for (int32_t a = 0; a < na; a++)
        for (int cc = 0; cc < 2; cc++)
            for (int32_t k = 0; k < acc[a].layers; k++) {
                double m, se;
                mean_se_of(&acc[a], cc, k, &m, &se);
                fprintf(w, "%s,%s,%d,%.6e,%.6e,%d\n", acc[a].model, cn[cc], (int)k + 1, m, se, (int)acc[a].n[cc][k]);
                fprintf(tidy, "spectra-%s,%s,%s,conv%d,%d,frac_lambda0,%.6e,%.6e,%d\n", source, acc[a].model, cn[cc],
                        (int)k + 1, (int)k + 1, m, se, (int)acc[a].n[cc][k]);
            }
    fclose(w);
    char fig[64], title[200];
    snprintf(fig, sizeof fig, "spectra_%s", source);
    snprintf(title, sizeof title, "Weight of the conv filters on the constant Laplacian mode (lambda = 0) by layer, "
                                  "init vs trained (%s nets)", source);
    return exp_fig_scatter(c, fig, wide, "conv_layer", "frac0", "model,condition", 0, 0, 0, title);
}

/* Claim: trained filters weigh the lambda = 0 mode more in the early layers (the first half of the conv layers). */
static void early_verdict(exp_ctx *c, const char *source, const frac_acc *acc, int32_t na) {
    double d[1024];
    int32_t nd = 0, models_up = 0;
    char per[1024] = "";
    size_t pl = 0;
    for (int32_t a = 0; a < na; a++) {
        int32_t half = (acc[a].layers + 1) / 2;
        double s = 0;
        for (int32_t k = 0; k < half && nd < 1024; k++) {
            double mi, si, mt, st;
            mean_se_of(&acc[a], 0, k, &mi, &si);
            mean_se_of(&acc[a], 1, k, &mt, &st);
            d[nd++] = mt - mi;
            s += mt - mi;
        }
        models_up += s > 0;
        int w = snprintf(per + pl, sizeof per - pl, "%s%s %+.3f", pl ? ", " : "", acc[a].model, half ? s / half : NAN);
        if (w > 0 && (size_t)w < sizeof per - pl) pl += (size_t)w;
    }
    double m, se;
    exp_mean_se(d, nd, &m, &se);
    char fig[64], claim[200];
    snprintf(fig, sizeof fig, "spectra_%s", source);
    snprintf(claim, sizeof claim, "%s nets: trained filters weigh the lambda = 0 (constant) mode more than at init "
                                  "in the early layers", source);
    const char *v = !nd ? "not measured" : models_up == na && m > 2 * se ? "holds" : models_up > 0 ? "partly"
                                                                                                   : "does not hold";
    exp_verdict(c, fig, claim, v,
                "trained minus init fraction on lambda = 0, first half of the conv layers: mean %+.3f +- %.3f over %d "
                "layers; per model: %s (holds: every model up and mean > 2 se)", m, se, (int)nd, per);
}

rs_status exp_spectra(exp_ctx *c) {
    exp_run runs[320];
    int32_t nl = exp_layers_runs(c, runs, 64);
    int32_t nt = exp_twopoints_runs(c, runs + nl, 256);
    if (nl + nt == 0) return rs_error(RS_ERR_ARG, "--models keeps none of the models of this experiment");
    if (!c->o->dry_run)
        fprintf(c->notes, "reuses the runs of layers (%d) and twopoints (%d); per conv layer with kernels > 1 tap: "
                          "omega_j = mean over filters of <w, psi_j>^2 on the grid-Laplacian eigenvectors psi_j; the "
                          "figure shows omega at lambda = 0 as a fraction of sum_j omega_j\n", (int)nl, (int)nt);
    RS_TRY(exp_grid(c, runs, nl + nt));
    if (c->o->dry_run) return RS_OK;
    char p[1200];
    snprintf(p, sizeof p, "%s/spectra.csv", c->dir);
    FILE *tidy = fopen(p, "w");
    if (!tidy) return rs_error(RS_ERR_IO, "cannot write %s", p);
    fprintf(tidy, "experiment,model,condition,node,layer,quantity,mean,se,n\n");
    frac_acc *acc = calloc(32, sizeof *acc);
    rs_status s = acc ? RS_OK : rs_error(RS_ERR_NOMEM, "spectra");
    static const char *src[2] = {"layers", "twopoints"};
    for (int i = 0; i < 2 && !s; i++) {
        int32_t na = accumulate(i ? runs + nl : runs, i ? nt : nl, acc, 32);
        s = write_tables(c, src[i], acc, na, tidy);
        if (!s) early_verdict(c, src[i], acc, na);
    }
    fclose(tidy);
    free(acc);
    return s;
}
