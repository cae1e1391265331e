/* exp_theory.c: the `theory` experiment: the constant-filter pooling model (theory.h) with stride 2 (filter 2)
 * and stride 1 (filter 3), in 1-D and 2-D; D, G, R per layer, the laws and the fitted exponents, one figure each.
 * Each model runs as a grid job that writes its CSV, figures and fits; the verdicts read the fits back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exp_internal.h"
#include "relstab/theory.h"

typedef struct {
    const char *name, *title;
    int dim, stride, filter, depth_quick, depth_full, depth_tiny;
} theory_case;

static const theory_case cases[] = {
    {"1d-stride2", "1-D, stride 2, filter 2", 1, 2, 2, 8, 10, 6},
    {"1d-stride1", "1-D, stride 1, filter 3", 1, 1, 3, 64, 64, 16},
    {"2d-stride2", "2-D, stride 2, filter 2", 2, 2, 2, 5, 5, 4},
    {"2d-stride1", "2-D, stride 1, filter 3", 2, 1, 3, 16, 16, 6},
};
#define N_CASES 4

typedef struct {
    exp_ctx *c;
} theory_ctx;

static rs_theory_config case_config(const exp_ctx *c, const theory_case *t) {
    rs_theory_config cfg = rs_theory_defaults();
    cfg.dim = t->dim;
    cfg.stride = t->stride;
    cfg.filter = t->filter;
    cfg.depth = c->o->scale == RS_SCALE_FULL ? t->depth_full : c->o->scale == RS_SCALE_TINY ? t->depth_tiny
                                                                                             : t->depth_quick;
    return cfg;
}

/* The job: run, write theory_NAME.csv, the figure, fits_NAME.csv (quantity, law, predicted, fitted, se, k range). */
static rs_status theory_job(int32_t job, void *ctx) {
    exp_ctx *c = ((theory_ctx *)ctx)->c;
    const theory_case *t = &cases[job];
    rs_theory_config cfg = case_config(c, t);
    rs_theory_result r;
    RS_TRY(rs_theory_run(&cfg, &r));
    char p[1200];
    snprintf(p, sizeof p, "%s/theory_%s.csv", c->dir, t->name);
    rs_status s = rs_theory_write_csv(p, &r);
    snprintf(p, sizeof p, "%s/theory_%s.png", c->dir, t->name);
    if (!s) s = rs_theory_plot(p, &r, NULL, 0, NULL, NULL);
    snprintf(p, sizeof p, "%s/theory_%s.svg", c->dir, t->name);
    if (!s) s = rs_theory_plot(p, &r, NULL, 0, NULL, NULL);
    rs_theory_laws laws = rs_theory_predict(&r.cfg);
    int k_lo, k_hi;
    rs_theory_fit_range(&r.cfg, &k_lo, &k_hi);
    char buf[1024];
    int len = snprintf(buf, sizeof buf, "quantity,law,predicted,fitted,se,k_lo,k_hi\n");
    static const char *q[3] = {"D", "G", "R"};
    for (int i = 0; i < 3; i++) {
        rs_theory_fit f = rs_theory_fit_quantity(&r, &laws, i, k_lo, k_hi);
        len += snprintf(buf + len, sizeof buf - (size_t)len, "%s,%s,%.6g,%.6g,%.6g,%d,%d\n", q[i],
                        laws.kind == RS_THEORY_LAW_POWER ? "power" : laws.kind == RS_THEORY_LAW_EXP ? "exp" : "none",
                        laws.exponent[i], f.ok ? f.slope : NAN, f.ok ? f.slope_se : NAN, k_lo, k_hi);
    }
    snprintf(p, sizeof p, "%s/fits_%s.csv", c->dir, t->name);
    if (!s) s = rs_write_file_atomic(p, buf, (size_t)len);
    rs_theory_result_free(&r);
    return s;
}

/* The a-priori rule for an exponent: holds if |fitted - predicted| <= 2 se + 0.1 |predicted|; partly if the signs
 * agree; does not hold otherwise. */
const char *exp_exponent_verdict(double fitted, double se, double predicted) {
    if (!isfinite(fitted)) return "not measured";
    double tol = 2 * (isfinite(se) ? se : 0) + 0.1 * fabs(predicted);
    if (fabs(fitted - predicted) <= tol) return "holds";
    if (fitted * predicted > 0) return "partly";
    return "does not hold";
}

static void case_verdicts(exp_ctx *c, const theory_case *t) {
    char p[1200], line[256];
    snprintf(p, sizeof p, "%s/fits_%s.csv", c->dir, t->name);
    FILE *f = fopen(p, "r");
    if (!f) return;
    char fig[64];
    snprintf(fig, sizeof fig, "theory_%s", t->name);
    static const char *q[3] = {"D", "G", "R"};
    const char *unit = t->stride == 1 ? "k^a (a = slope of ln Q on ln k)" : "2^(a k) (a = slope of log2 Q per layer)";
    for (int i = 0; fgets(line, sizeof line, f); i++) {
        if (i == 0) continue;
        char qn[8], law[16];
        double pred, fit, se;
        int lo, hi;
        if (sscanf(line, "%7[^,],%15[^,],%lf,%lf,%lf,%d,%d", qn, law, &pred, &fit, &se, &lo, &hi) != 7) continue;
        char claim[256];
        snprintf(claim, sizeof claim, "%s (%s): %s ~ %s with a = %+g", t->title, "constant filters", qn, unit, pred);
        exp_verdict(c, fig, claim, exp_exponent_verdict(fit, se, pred), "fitted a = %+.3f +- %.3f over k = %d..%d",
                    fit, se, lo, hi);
        (void)q;
    }
    fclose(f);
}

rs_status exp_theory(exp_ctx *c) {
    if (c->o->dry_run) {
        for (int i = 0; i < N_CASES; i++) {
            rs_theory_config cfg = case_config(c, &cases[i]);
            printf("theory %-12s depth %d (seconds)\n", cases[i].name, cfg.depth);
        }
        return RS_OK;
    }
    theory_ctx tc = {c};
    double cost[N_CASES];
    for (int i = 0; i < N_CASES; i++) cost[i] = cases[i].stride == 1 ? 10 : 1;
    fprintf(c->notes, "constant-filter model: one-hot probes at every position (1-D) or rows of positions (2-D), "
                      "one-site shift, norm-matched rectified noise; depths:");
    for (int i = 0; i < N_CASES; i++) fprintf(c->notes, " %s %d", cases[i].name, case_config(c, &cases[i]).depth);
    fprintf(c->notes, "\n");
    RS_TRY(rs_grid_run(N_CASES, cost, c->o->jobs, theory_job, &tc));
    for (int i = 0; i < N_CASES; i++) {
        char fig[64], title[160];
        snprintf(fig, sizeof fig, "theory_%s", cases[i].name);
        snprintf(title, sizeof title, "Constant-filter model, %s: D, G, R per layer and the laws", cases[i].title);
        exp_fig_register(c, fig, title);
        case_verdicts(c, &cases[i]);
    }
    return RS_OK;
}
