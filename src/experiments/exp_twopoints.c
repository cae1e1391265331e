/* exp_twopoints.c: the `twopoints` experiment: deep nets trained on the 2-D scale-detection task (hinge loss):
 * their test errors, and D, G, R at every node at init, trained and channel-shuffled (local translations as the
 * perturbation). The layer-wise part is exp_layerwise (exp_layers.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exp_internal.h"

int32_t exp_twopoints_runs(exp_ctx *c, exp_run *runs, int32_t max) {
    static const char *full_models[] = {"vgg13bn", "vgg11", "vgg11bn", "vgg16bn", "vgg19bn", "resnet18",
                                        "resnet34", "resnet50", "alexnet", "lenet", "efficientnetb0"};
    static const char *quick_models[] = {"lenet", "vgg11bn"};
    rs_scale sc = c->o->scale;
    int n_models = sc == RS_SCALE_FULL ? 11 : sc == RS_SCALE_TINY ? 1 : 2;
    int n_ptr = sc == RS_SCALE_FULL ? 2 : 1;
    int32_t n = 0;
    for (int m = 0; m < n_models; m++) {
        const char *model = sc == RS_SCALE_FULL ? full_models[m] : quick_models[m];
        if (!exp_model_wanted(c, model)) continue;
        int32_t seeds = sc == RS_SCALE_TINY ? (c->o->seeds > 0 ? c->o->seeds : 2)
                                            : exp_seeds(c, !strcmp(model, "lenet") ? 2 : 1, 10);
        for (int pi = 0; pi < n_ptr; pi++)
            for (int32_t s = 0; s < seeds && n < max; s++) {
                exp_run *r = &runs[n++];
                memset(r, 0, sizeof *r);
                int64_t ptr = sc == RS_SCALE_TINY ? 128 : pi ? 2048 : 1024;
                snprintf(r->model, sizeof r->model, "%s", model);
                if (n_ptr > 1) snprintf(r->label, sizeof r->label, "%s-ptr%lld", model, (long long)ptr);
                else snprintf(r->label, sizeof r->label, "%s", model);
                /* quick: a test set of 1000 instead of 4 ptr (the evaluation of every epoch dominates otherwise) */
                snprintf(r->data, sizeof r->data, "%s", sc == RS_SCALE_FULL ? "twopoints" : "twopoints:testsize=1000");
                snprintf(r->recipe, sizeof r->recipe, "twopoints");
                /* VGG11bn: its test error stays at chance (0.5, the batch-norm running statistics far from the
                 * batch ones) for the first 4-5 epochs of 8 steps, then falls to about 0.1 at epoch 6 and 0.002
                 * at epoch 11 */
                int quick_epochs = !strcmp(model, "lenet") ? 40 : 20;
                r->epochs = sc == RS_SCALE_FULL ? 300 : sc == RS_SCALE_TINY ? 2 : quick_epochs;
                r->ptr = ptr;
                r->ridge = -1;
                r->seed = (uint64_t)s;
                r->measure = EXP_M_INIT | EXP_M_TRAINED | EXP_M_SHUF1 | EXP_M_SPECTRA;
                r->P = sc == RS_SCALE_FULL ? 500 : sc == RS_SCALE_TINY ? 20 : 200;
                exp_run_dir(c, r, "twopoints");
            }
    }
    return n;
}

/* errors.csv: one row per run; the test errors' mean and standard error per model in the verdict. */
static rs_status error_table(exp_ctx *c, const exp_run *runs, int32_t n) {
    char p[1200];
    snprintf(p, sizeof p, "%s/twopoints_errors.csv", c->dir);
    FILE *f = fopen(p, "w");
    if (!f) return rs_error(RS_ERR_IO, "cannot write %s", p);
    fprintf(f, "model,seed,ptr,epochs,test_err\n");
    for (int32_t i = 0; i < n; i++)
        fprintf(f, "%s,%llu,%lld,%d,%.6g\n", runs[i].label, (unsigned long long)runs[i].seed, (long long)runs[i].ptr,
                (int)runs[i].epochs, exp_run_test_err(&runs[i]));
    fclose(f);
    for (int32_t i = 0; i < n;) {
        int32_t j = i;
        double e[64];
        while (j < n && !strcmp(runs[j].label, runs[i].label) && j - i < 64) e[j - i] = exp_run_test_err(&runs[j]), j++;
        double m, se;
        exp_mean_se(e, j - i, &m, &se);
        char claim[160];
        snprintf(claim, sizeof claim, "%s learns the scale-detection task (test error well below chance, 0.5)",
                 runs[i].label);
        exp_verdict(c, "twopoints_errors", claim, m < 0.25 ? "holds" : m < 0.45 ? "partly" : "does not hold",
                    "best test error %.4f +- %.4f over %d seed(s) (holds: < 0.25, partly: < 0.45)", m, se, (int)(j - i));
        i = j;
    }
    return RS_OK;
}

rs_status exp_twopoints(exp_ctx *c) {
    exp_run runs[256];
    int32_t n = exp_twopoints_runs(c, runs, 256);
    if (n == 0) return rs_error(RS_ERR_ARG, "--models keeps none of the models of this experiment");
    if (!c->o->dry_run)
        fprintf(c->notes, "runs: %d (model x seed); 2-D task d = 28, xi = 14, gap = 2, hinge loss, recipe twopoints "
                          "(SGD lr 0.05); %lld training points; P = %lld; perturbation: local translations of the two "
                          "active pixels; measured at init, trained (best test) and shuffled (mode 1)\n",
                (int)n, (long long)runs[0].ptr, (long long)runs[0].P);
    RS_TRY(exp_grid(c, runs, n));
    if (c->o->dry_run) return RS_OK;
    RS_TRY(error_table(c, runs, n));
    char csv[1200];
    snprintf(csv, sizeof csv, "%s/twopoints_errors.csv", c->dir);
    RS_TRY(exp_fig_scatter(c, "twopoints_errors", csv, "seed", "test_err", "model", 0, 0, 0,
                           "2-D scale detection: best test error of each run"));
    return exp_layerwise(c, "twopoints", runs, n, 1);
}
