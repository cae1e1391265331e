/* exp_layers.c: the `layers` experiment (D, G, R at every node of VGG11, VGG11bn, AlexNet and LeNet, at init and
 * trained, with and without channel shuffling) and the layer-wise aggregation, figures and verdicts that the
 * `twopoints` experiment shares (exp_layerwise). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exp_internal.h"

typedef struct {
    const char *model;
    int32_t seeds_quick;
    int64_t ptr_quick; /* 0: the whole training split */
    int32_t epochs_quick;
    double lr_fmnist; /* the learning rate on FashionMNIST (CIFAR-10: the recipe's 0.1) */
} layer_model;

/* quick: every net sees the whole FashionMNIST training split. Without batch norm, AlexNet and VGG11 sit on the
 * plateau of PyTorch's default initialisation (loss 2.30) for their first hundreds of SGD steps: AlexNet leaves it
 * after about 300 steps at lr 0.05, VGG11 had not after 312 steps at lr 0.05 and starts to leave it after about 600 at lr
 * 0.1 (training loss 2.304 at step 500, 2.298 at step 600; docs/experiments.md), more than quick scale can afford
 * for it, so quick scale leaves VGG11 out unless --models names it. 3,000 images for 5 epochs (120
 * steps) left all three big nets at 78-90% test error. LeNet is unstable at 0.1 in its first epoch on FashionMNIST,
 * hence 0.05, except for VGG11 (the recipe's 0.1). */
static const layer_model layer_models[] = {{"lenet", 2, 0, 5, 0.05},
                                           {"alexnet", 1, 0, 3, 0.05},
                                           {"vgg11", 1, 0, 3, 0.1},
                                           {"vgg11bn", 1, 0, 2, 0.05}};

int32_t exp_layers_runs(exp_ctx *c, exp_run *runs, int32_t max) {
    int32_t n = 0;
    rs_scale sc = c->o->scale;
    for (int m = 0; m < 4; m++) {
        const layer_model *lm = &layer_models[m];
        if (sc == RS_SCALE_TINY && m > 0) break; /* tiny: LeNet only */
        if (!exp_model_wanted(c, lm->model)) continue;
        /* quick: VGG11 only when --models names it (it does not leave its initial plateau at this scale) */
        if (sc == RS_SCALE_QUICK && !strcmp(lm->model, "vgg11") && !(c->o->models && *c->o->models)) continue;
        int32_t seeds = sc == RS_SCALE_TINY ? (c->o->seeds > 0 ? c->o->seeds : 2) : exp_seeds(c, lm->seeds_quick, 4);
        for (int32_t s = 0; s < seeds && n < max; s++) {
            exp_run *r = &runs[n++];
            memset(r, 0, sizeof *r);
            snprintf(r->model, sizeof r->model, "%s", lm->model);
            snprintf(r->label, sizeof r->label, "%s", lm->model);
            snprintf(r->data, sizeof r->data, "%s", c->data);
            snprintf(r->recipe, sizeof r->recipe, "paper-cnn");
            r->epochs = sc == RS_SCALE_FULL ? 250 : sc == RS_SCALE_TINY ? 1 : lm->epochs_quick;
            r->ptr = sc == RS_SCALE_FULL ? 0 : sc == RS_SCALE_TINY ? 256 : lm->ptr_quick;
            r->lr = c->cifar ? 0 : lm->lr_fmnist;
            r->ridge = -1;
            r->seed = (uint64_t)s;
            r->measure = EXP_M_INIT | EXP_M_TRAINED | EXP_M_SHUF1 | EXP_M_SHUF2 | EXP_M_SPECTRA;
            r->P = sc == RS_SCALE_FULL ? 500 : sc == RS_SCALE_TINY ? 20 : 200;
            exp_run_dir(c, r, "layers");
        }
    }
    return n;
}

static const char *cond_files[4] = {"sens_init.csv", "sens_trained.csv", "sens_shuffle1.csv", "sens_shuffle2.csv"};
static const char *cond_names[4] = {"init", "trained", "shuffle1", "shuffle2"};

/* log10 of a curve's geometric mean of quantity q, by node; returns the node count. */
static int32_t curve_logs(const exp_curves *cv, const char *model, const char *cond, int q, double *k, double *y,
                          int32_t max) {
    const exp_curve_row *rows[512];
    int32_t n = exp_curves_select(cv, model, cond, rows, max < 512 ? max : 512);
    for (int32_t i = 0; i < n; i++) k[i] = rows[i]->k, y[i] = rows[i]->lmean[q];
    return n;
}

static void trend_verdicts(exp_ctx *c, const exp_curves *cv, const char *fig, const char *model) {
    double k[512], y[512], ki[512], yi[512];
    static const char *qn[3] = {"D", "G", "R"};
    for (int q = 0; q < 2; q++) {
        int32_t n = curve_logs(cv, model, "trained", q, k, y, 512);
        int32_t ni = curve_logs(cv, model, "init", q, ki, yi, 512);
        exp_fit f = exp_fit_line(k, y, n), fi = exp_fit_line(ki, yi, ni);
        char claim[160];
        snprintf(claim, sizeof claim, "%s: trained %s_k %s with depth (at init: flat)", model, qn[q],
                 q == 0 ? "decreases" : "increases");
        exp_verdict(c, fig, claim, exp_trend_verdict(f.slope, f.slope_se, q == 0 ? -1 : 1),
                    "slope of log10 %s per node: trained %+.4f +- %.4f, init %+.4f +- %.4f (%d nodes)", qn[q], f.slope,
                    f.slope_se, fi.slope, fi.slope_se, (int)n);
    }
    int32_t n = curve_logs(cv, model, "trained", 2, k, y, 512);
    int32_t ni = curve_logs(cv, model, "init", 2, ki, yi, 512);
    if (n < 2) return;
    double drop = y[n - 1] - y[0], drop_i = ni >= 2 ? yi[ni - 1] - yi[0] : NAN;
    char claim[160];
    snprintf(claim, sizeof claim, "%s: trained R_k falls by orders of magnitude from the first to the last node", model);
    exp_verdict(c, fig, claim, drop <= -1 ? "holds" : drop < 0 ? "partly" : "does not hold",
                "log10 R(last) - log10 R(first): trained %+.2f, init %+.2f (holds: <= -1, partly: < 0)", drop, drop_i);
}

/* Shuffling: the change of log10 D in the first and the second half of the nodes. kind 0 (real data): early
 * unchanged, late raised; kind 1 (scale detection): little change anywhere (|change| < log10 2 on average). */
static void shuffle_verdict(exp_ctx *c, const exp_curves *cv, const char *fig, const char *model, const char *cond,
                            int kind) {
    double k[512], yt[512], ys[512], d[512];
    int32_t n = curve_logs(cv, model, "trained", 0, k, yt, 512);
    int32_t ns = curve_logs(cv, model, cond, 0, k, ys, 512);
    if (n < 4 || ns != n) return;
    for (int32_t i = 0; i < n; i++) d[i] = ys[i] - yt[i];
    double em, ese, lm, lse;
    exp_mean_se(d, n / 2, &em, &ese);
    exp_mean_se(d + n / 2, n - n / 2, &lm, &lse);
    char claim[200];
    if (kind == 0) {
        snprintf(claim, sizeof claim, "%s (%s): shuffling leaves the early D_k unchanged and raises the late D_k",
                 model, cond);
        double diff = lm - em, se = sqrt(ese * ese + lse * lse);
        const char *v = diff > 2 * se && lm > 0 ? "holds" : diff > 0 ? "partly" : "does not hold";
        exp_verdict(c, fig, claim, v,
                    "mean log10(D shuffled / D trained): first half of the nodes %+.3f +- %.3f, second half "
                    "%+.3f +- %.3f (holds: second - first > 2 se and second > 0)", em, ese, lm, lse);
    } else {
        double a = 0;
        for (int32_t i = 0; i < n; i++) a += fabs(d[i]);
        a /= n;
        snprintf(claim, sizeof claim, "%s (%s): on scale detection shuffling changes D_k little", model, cond);
        exp_verdict(c, fig, claim, a < log10(2.0) ? "holds" : a < 1 ? "partly" : "does not hold",
                    "mean |log10(D shuffled / D trained)| over the nodes %.3f (holds: < log10 2 = 0.301, partly: < 1); "
                    "first half %+.3f, second half %+.3f", a, em, lm);
    }
}

rs_status exp_layerwise(exp_ctx *c, const char *experiment, const exp_run *runs, int32_t n, int shuffle_kind) {
    exp_curves cv = {0};
    rs_status s = RS_OK;
    for (int32_t i = 0; i < n && !s; i++)
        for (int j = 0; j < 4 && !s; j++) {
            char p[1200];
            snprintf(p, sizeof p, "%s/%s", runs[i].dir, cond_files[j]);
            FILE *f = fopen(p, "r");
            if (!f) continue; /* not measured in this experiment */
            fclose(f);
            s = exp_curves_add_csv(&cv, runs[i].label, cond_names[j], p);
        }
    if (s) {
        exp_curves_free(&cv);
        return s;
    }
    exp_curves_finish(&cv);
    char tidy[1200], wide[1200];
    snprintf(tidy, sizeof tidy, "%s/%s.csv", c->dir, experiment);
    snprintf(wide, sizeof wide, "%s/%s_figure.csv", c->dir, experiment);
    FILE *f = fopen(tidy, "w");
    if (!f) s = rs_error(RS_ERR_IO, "cannot write %s", tidy);
    else {
        fprintf(f, "experiment,model,condition,node,layer,quantity,mean,se,n,gmean\n");
        exp_curves_write_tidy(&cv, experiment, f);
        fclose(f);
    }
    if (!s) s = exp_curves_write_wide(&cv, wide);
    for (int32_t i = 0; i < n && !s; i++) {
        if (i > 0 && !strcmp(runs[i].label, runs[i - 1].label)) continue; /* one figure per model */
        const char *model = runs[i].label;
        char fig[160], title[300], per_model[1200], nodes[8192];
        snprintf(fig, sizeof fig, "%s_%s", experiment, model);
        snprintf(per_model, sizeof per_model, "%s/%s_%s.csv", c->dir, experiment, model);
        exp_curves sub = {0};
        for (int32_t j = 0; j < cv.n; j++)
            if (!strcmp(cv.rows[j].model, model)) {
                if (sub.n == sub.cap) {
                    sub.cap = sub.cap ? 2 * sub.cap : 64;
                    sub.rows = realloc(sub.rows, sizeof *sub.rows * (size_t)sub.cap);
                    if (!sub.rows) return rs_error(RS_ERR_NOMEM, "curves");
                }
                sub.rows[sub.n++] = cv.rows[j];
            }
        s = exp_curves_write_wide(&sub, per_model);
        exp_curves_free(&sub);
        exp_nodes_of(&cv, model, "trained", nodes, sizeof nodes);
        snprintf(title, sizeof title, "%s: D, G, R at every node (%s), init vs trained vs shuffled", model,
                 experiment);
        if (!s) s = exp_fig_depth(c, fig, per_model, "condition", NULL, title);
        if (!s) trend_verdicts(c, &cv, fig, model);
        if (!s) shuffle_verdict(c, &cv, fig, model, "shuffle1", shuffle_kind);
        if (!s && shuffle_kind == 0) shuffle_verdict(c, &cv, fig, model, "shuffle2", shuffle_kind);
    }
    exp_curves_free(&cv);
    return s;
}

rs_status exp_layers(exp_ctx *c) {
    exp_run runs[64];
    int32_t n = exp_layers_runs(c, runs, 64);
    if (n == 0) return rs_error(RS_ERR_ARG, "--models keeps none of the models of this experiment");
    if (!c->o->dry_run) {
        fprintf(c->notes, "runs: %d (model x seed), recipe paper-cnn%s; P = %lld probe images; measured at init "
                          "(batch statistics), at the best-test checkpoint, and with shuffling modes 1 and 2\n",
                (int)n, c->cifar ? "" : " (FashionMNIST: lr below)", (long long)runs[0].P);
        for (int32_t i = 0; i < n; i++)
            if (i == 0 || strcmp(runs[i].model, runs[i - 1].model))
                fprintf(c->notes,
                        "%s: %d epochs, %lld training images (0 = all), lr %g (0 = the recipe's), seeds 0..%d\n",
                        runs[i].model, (int)runs[i].epochs, (long long)runs[i].ptr, runs[i].lr,
                        (int)exp_count_seeds(runs, n, runs[i].model) - 1);
    }
    RS_TRY(exp_grid(c, runs, n));
    if (c->o->dry_run) return RS_OK;
    return exp_layerwise(c, "layers", runs, n, 0);
}
