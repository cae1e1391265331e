/* fit.c: least-squares exponents of D_k, G_k, R_k over a range of layers chosen away from finite-size effects,
 * and prefactors of the laws with the exponent held fixed. Plain ordinary least squares, in double; it does not
 * weight points or tune the range to the data. */
#include "relstab/theory.h"

#include <math.h>

rs_theory_fit rs_theory_fit_line(const double *x, const double *y, int n) {
    rs_theory_fit f = {0};
    double sx = 0, sy = 0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) sx += x[i], sy += y[i], m++;
    f.n = m;
    if (m < 3) {
        f.slope = f.slope_se = f.intercept = NAN;
        return f;
    }
    double mx = sx / m, my = sy / m, sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) sxx += (x[i] - mx) * (x[i] - mx), sxy += (x[i] - mx) * (y[i] - my);
    if (!(sxx > 0)) {
        f.slope = f.slope_se = f.intercept = NAN;
        return f;
    }
    f.slope = sxy / sxx;
    f.intercept = my - f.slope * mx;
    double rss = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) {
            double r = y[i] - f.intercept - f.slope * x[i];
            rss += r * r;
        }
    f.slope_se = sqrt(rss / (m - 2) / sxx);
    f.ok = 1;
    return f;
}

int rs_theory_fit_range(const rs_theory_config *c, int *k_lo, int *k_hi) {
    /* free of finite-size effects: (RF_k / N)^dim <= 1/16, i.e. 16 RF_k <= N (1D) or 4 RF_k <= N (2D) */
    int64_t factor = c->dim == 1 ? 16 : 4;
    int kmax = 0;
    for (int k = 1; k <= c->depth; k++) {
        int64_t rf = rs_theory_rf(c->filter, c->stride, k);
        if (rf <= c->size / factor) kmax = k;
        else break;
    }
    int lo = (kmax + 1) / 2;
    if (kmax - lo + 1 < 3) lo = 1;
    *k_lo = lo;
    *k_hi = kmax;
    return kmax - lo + 1 >= 3;
}

static double quantity(const rs_theory_layer *ly, int q) { return q == 0 ? ly->D : q == 1 ? ly->G : ly->R; }

rs_theory_fit rs_theory_fit_quantity(const rs_theory_result *r, const rs_theory_laws *laws, int q, int k_lo,
                                     int k_hi) {
    double x[RS_THEORY_MAX_DEPTH], y[RS_THEORY_MAX_DEPTH];
    int n = 0;
    for (int k = k_lo; k <= k_hi && k <= r->cfg.depth; k++, n++) {
        x[n] = rs_theory_fit_x(laws, k);
        y[n] = rs_theory_fit_y(laws, quantity(&r->layers[k - 1], q));
    }
    rs_theory_fit f = rs_theory_fit_line(x, y, n);
    f.k_lo = k_lo;
    f.k_hi = k_hi;
    return f;
}

double rs_theory_fit_prefactor(const rs_theory_result *r, const rs_theory_laws *laws, int q, int k_lo, int k_hi) {
    if (laws->kind == RS_THEORY_LAW_NONE) return NAN;
    double s = 0;
    int n = 0;
    for (int k = k_lo; k <= k_hi && k <= r->cfg.depth; k++) {
        double v = quantity(&r->layers[k - 1], q);
        if (!(v > 0)) continue;
        s += log(v) - log(rs_theory_law_value(laws, q, 1.0, k));
        n++;
    }
    return n ? exp(s / n) : NAN;
}
