/* predict.c: what docs/theory.md derives for the constant-filter model: the asymptotic laws of D_k, G_k, R_k with
 * their prefactors, the exact finite-size values (stride = filter = 2 with zero padding; stride 1 with circular
 * padding), the N -> infinity values of stride 1, and the expected rectified-noise mean.
 * It measures nothing: run.c does, and the tests hold the two against each other. */
#include "relstab/theory.h"

#include <math.h>
#include <string.h>

static const double PI = 3.14159265358979323846;

/* squared noise norm of a configuration (matched: ||x_d - x||^2 = 2) */
static double noise_sq(const rs_theory_config *c) { return c->noise_norm > 0 ? c->noise_norm * c->noise_norm : 2.0; }

rs_theory_laws rs_theory_predict(const rs_theory_config *c) {
    rs_theory_laws l;
    memset(&l, 0, sizeof l);
    l.kind = RS_THEORY_LAW_NONE;
    for (int q = 0; q < 3; q++) {
        l.exponent[q] = NAN;
        l.prefactor[q] = NAN;
        l.exponent_text[q] = "-";
    }
    /* The laws need the rectified input noise (its mean is what piles up) and a linear regime (b >= 0). */
    if (c->raw_noise || c->bias < 0) return l;
    double e2 = noise_sq(c), d = c->dim;
    if (c->stride == c->filter) {
        l.kind = RS_THEORY_LAW_EXP;
        l.base = c->filter;
        l.exponent[0] = -1;
        l.exponent[1] = d;
        l.exponent[2] = -1 - d;
        l.prefactor[0] = 1;             /* D = 1 / B */
        l.prefactor[1] = e2 / (4 * PI); /* G = (e2/2) B^d / (2 pi) */
        l.prefactor[2] = 4 * PI / e2;
        l.exponent_text[0] = "-1";
        l.exponent_text[1] = c->dim == 1 ? "+1" : "+2";
        l.exponent_text[2] = c->dim == 1 ? "-2" : "-3";
    } else if (c->stride == 1) {
        double v = ((double)c->filter * c->filter - 1) / 12.0; /* variance of one layer's uniform window */
        l.kind = RS_THEORY_LAW_POWER;
        l.base = 0;
        l.exponent[0] = -1;
        l.prefactor[0] = 1 / (4 * v); /* D = 1 / (4 v k) */
        if (c->dim == 1) {
            l.exponent[1] = 0.5;
            l.prefactor[1] = e2 / 2 * sqrt(v / PI); /* G = (e2/2) sqrt(v k / pi) */
            l.exponent[2] = -1.5;
            l.exponent_text[1] = "+1/2";
            l.exponent_text[2] = "-3/2";
        } else {
            l.exponent[1] = 1;
            l.prefactor[1] = e2 * v; /* G = (e2/2) 2 v k */
            l.exponent[2] = -2;
            l.exponent_text[1] = "+1";
            l.exponent_text[2] = "-2";
        }
        l.prefactor[2] = l.prefactor[0] / l.prefactor[1];
        l.exponent_text[0] = "-1";
    }
    return l;
}

double rs_theory_law_value(const rs_theory_laws *l, int q, double prefactor, int k) {
    if (l->kind == RS_THEORY_LAW_POWER) return prefactor * pow((double)k, l->exponent[q]);
    if (l->kind == RS_THEORY_LAW_EXP) return prefactor * pow(l->base, l->exponent[q] * k);
    return NAN;
}

double rs_theory_fit_x(const rs_theory_laws *l, int k) { return l->kind == RS_THEORY_LAW_POWER ? log((double)k) : k; }

double rs_theory_fit_y(const rs_theory_laws *l, double q) {
    if (!(q > 0)) return NAN;
    if (l->kind == RS_THEORY_LAW_EXP) return log(q) / log(l->base);
    if (l->kind == RS_THEORY_LAW_POWER) return log(q);
    return log2(q); /* no law: strided models are read in log2 units per layer */
}

double rs_theory_rect_mean(int64_t m, double norm) {
    /* E|u_j| = Gamma(m/2) / (sqrt(pi) Gamma((m+1)/2)) for u uniform on the unit sphere of R^m */
    double e = exp(lgamma(0.5 * (double)m) - lgamma(0.5 * ((double)m + 1))) / sqrt(PI);
    return 0.5 * norm * e;
}

rs_status rs_theory_kernel_autocorr(int filter, int k, int64_t n, int maxlag, double *out) {
    if (filter < 2 || k < 0 || maxlag < 0) return rs_error(RS_ERR_ARG, "bad kernel autocorrelation request");
    int64_t len = (int64_t)k * (filter - 1) + 1;
    double *a = rs_calloc((size_t)len * sizeof(double)), *b = rs_calloc((size_t)len * sizeof(double));
    double *f = n > 0 ? rs_calloc((size_t)n * sizeof(double)) : NULL;
    if (!a || !b || (n > 0 && !f)) {
        rs_free(a);
        rs_free(b);
        rs_free(f);
        return rs_error(RS_ERR_NOMEM, "cannot allocate a kernel of %lld taps", (long long)len);
    }
    /* K_k = k-fold convolution of the uniform window (1/F on F points), by direct F-tap sums */
    a[0] = 1;
    for (int l = 1; l <= k; l++) {
        int64_t cur = (int64_t)l * (filter - 1) + 1;
        for (int64_t j = 0; j < cur; j++) {
            double s = 0;
            for (int t = 0; t < filter; t++)
                if (j - t >= 0 && j - t < cur - (filter - 1)) s += a[j - t];
            b[j] = s / filter;
        }
        double *t = a;
        a = b;
        b = t;
    }
    if (n > 0) { /* fold onto the circle of n points */
        for (int64_t j = 0; j < len; j++) f[j % n] += a[j];
        for (int m = 0; m <= maxlag; m++) {
            double s = 0;
            for (int64_t j = 0; j < n; j++) s += f[j] * f[(j + m) % n];
            out[m] = s;
        }
    } else {
        for (int m = 0; m <= maxlag; m++) {
            double s = 0;
            for (int64_t j = 0; j + m < len; j++) s += a[j] * a[j + m];
            out[m] = s;
        }
    }
    rs_free(a);
    rs_free(b);
    rs_free(f);
    return RS_OK;
}

/* stride = filter = 2, zero padding: blocks of B = 2^k pixels per side. The noise is rectified either at the
 * input (units = pixels, W = 1 pixel each) or, with raw noise and b = 0, by the first layer (units = layer-1
 * neurons, each the sum of W = 2^d pixels); a layer-k neuron sums Bu units. */
static void exact_pool2(const rs_theory_config *c, int k, rs_theory_exact *ex) {
    double N = (double)c->size, B = ldexp(1.0, k), d = c->dim;
    int64_t nk = c->size >> k;
    double v = (double)nk * B / N; /* fraction of the pixels (per side) that reach layer k */
    double dn1 = (nk == 0 || (nk == 1 && (int64_t)B == c->size)) ? 0.0 : 2.0 * (double)nk / N;
    ex->d_num = c->dim == 1 ? dn1 : v * dn1;
    ex->deno = 2 * pow(v, d) * (1 - pow(B / N, d)) + RS_THEORY_DENO_EPS;
    double M = pow(N, d), nb = pow((double)nk, d), e2 = noise_sq(c);
    double W = c->raw_noise ? pow(2, d) : 1, Bu = c->raw_noise ? pow(B / 2, d) : pow(B, d);
    double a = W * e2 / (2 * M), cc = W * e2 / (2 * PI * M); /* E r_i^2, E r_i r_j of rectified units */
    ex->g_num = nb * (Bu * a + Bu * (Bu - 1) * cc) + pow(v, d) * (W * e2 / M - a - 2 * (Bu - 1) * cc);
}

/* stride 1, circular padding: a_p = the folded kernel rolled to p */
static int exact_circular1(const rs_theory_config *c, int k, rs_theory_exact *ex) {
    double cr[2];
    if (rs_theory_kernel_autocorr(c->filter, k, c->size, 1, cr) != RS_OK) return 0;
    double C0 = c->dim == 1 ? cr[0] : cr[0] * cr[0], Cs = c->dim == 1 ? cr[1] : cr[0] * cr[1];
    double M = c->dim == 1 ? (double)c->size : (double)c->size * (double)c->size, e2 = noise_sq(c);
    double a = e2 / (2 * M), cc = e2 / (2 * PI * M);
    ex->d_num = 2 * (C0 - Cs);
    ex->deno = 2 * (C0 - 1 / M) + RS_THEORY_DENO_EPS;
    ex->g_num = C0 * ((M - 1) * a + e2 / M) + cc * (M - 2) * (1 - C0);
    return 1;
}

int rs_theory_exact_layer(const rs_theory_config *c, int k, rs_theory_exact *ex) {
    memset(ex, 0, sizeof *ex);
    if (c->bias < 0 || k < 1 || k > c->depth || c->size < 2) return 0;
    if (c->raw_noise && !(c->bias == 0 && c->noise_norm > 0 && c->noise_norm <= 1 && c->stride == 2 &&
                          c->filter == 2 && c->padding == RS_THEORY_PAD_ZERO))
        return 0;
    int64_t m = c->dim == 1 ? c->size : c->size * c->size;
    if (c->dim == 2 && c->probes != 0 && c->probes != m) return 0; /* sub-sampled probes: no exact value */
    if (c->stride == 2 && c->filter == 2 && c->padding == RS_THEORY_PAD_ZERO) {
        if (k > 62) return 0;
        exact_pool2(c, k, ex);
    } else if (c->stride == 1 && c->padding == RS_THEORY_PAD_CIRCULAR) {
        if (!exact_circular1(c, k, ex)) return 0;
    } else {
        return 0;
    }
    ex->D = ex->d_num / ex->deno;
    ex->G = ex->g_num / ex->deno;
    return 1;
}

int rs_theory_infinite_layer(const rs_theory_config *c, int k, double *D_inf, double *G_inf) {
    double cr[2];
    if (c->stride != 1 || c->raw_noise || c->bias < 0) return 0;
    if (rs_theory_kernel_autocorr(c->filter, k, 0, 1, cr) != RS_OK) return 0;
    double C0 = c->dim == 1 ? cr[0] : cr[0] * cr[0];
    *D_inf = 1 - cr[1] / cr[0];
    *G_inf = noise_sq(c) / 2 * (C0 + (1 - C0) / PI) / (2 * C0);
    return 1;
}
