/* report.c: the text tables and CSV files of `relstab theory`: per-layer D, G, R next to the laws (with fitted
 * prefactors) and the exact or N -> infinity values, the fit range and the exponents, the comparison with a trained
 * net, the bias study. Formatting only: every number is computed in run.c, predict.c and fit.c. */
#include "relstab/theory.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *q_name[3] = {"D", "G", "R"};

static const char *padding_name(rs_theory_padding p) { return p == RS_THEORY_PAD_CIRCULAR ? "circular" : "zero"; }

/* The model's "theory" column: exact finite-N values, N -> infinity values (stride 1), or none. */
static const char *theory_kind(const rs_theory_config *c) {
    rs_theory_exact ex;
    double a, b;
    if (rs_theory_exact_layer(c, 1, &ex)) return "exact";
    if (rs_theory_infinite_layer(c, 1, &a, &b)) return "infinite_N";
    return "none";
}

static void theory_values(const rs_theory_config *c, int k, double *D, double *G) {
    rs_theory_exact ex;
    *D = *G = NAN;
    if (rs_theory_exact_layer(c, k, &ex)) {
        *D = ex.D;
        *G = ex.G;
    } else {
        rs_theory_infinite_layer(c, k, D, G);
    }
}

static double quantity(const rs_theory_layer *ly, int q) { return q == 0 ? ly->D : q == 1 ? ly->G : ly->R; }

static void print_header(FILE *f, const rs_theory_result *r) {
    const rs_theory_config *c = &r->cfg;
    int64_t rfL = rs_theory_rf(c->filter, c->stride, c->depth);
    fprintf(f, "constant-filter model: %dD, stride %d, filter %d, depth %d, bias %g, %s padding, seed %llu\n", c->dim,
            c->stride, c->filter, c->depth, c->bias, padding_name(c->padding), (unsigned long long)c->seed);
    fprintf(f, "receptive field RF(k) = 1 + (F-1) sum_{l<k} s^l per side: RF(%d) = %lld; probe size N = %lld (%.1f x RF(L))\n",
            c->depth, (long long)rfL, (long long)c->size, (double)c->size / (double)rfL);
    if (c->dim == 1)
        fprintf(f, "probes: one active pixel at each of the %lld positions; diffeo: the pixel shifted by one site (periodic)\n",
                (long long)r->n_probes);
    else
        fprintf(f, "probes: one active pixel at %lld of the %lld x %lld positions%s; diffeo: shifted by one site along the width (periodic)\n",
                (long long)r->n_probes, (long long)c->size, (long long)c->size,
                r->n_probes == c->size * c->size ? "" : " (random, --probes)");
    if (c->noise_norm > 0)
        fprintf(f, "noise: fixed norm %g, %s\n", c->noise_norm, c->raw_noise ? "not rectified" : "rectified, x_n = ReLU(x + eta)");
    else
        fprintf(f, "noise: norm matched per probe to ||x_d - x|| = sqrt 2, %s\n",
                c->raw_noise ? "not rectified" : "rectified, x_n = ReLU(x + eta)");
}

static void print_fits(FILE *f, const rs_theory_result *r, const rs_theory_laws *laws, int lo, int hi) {
    const rs_theory_config *c = &r->cfg;
    if (laws->kind == RS_THEORY_LAW_POWER) fprintf(f, "exponents (slope of ln Q against ln k, k = %d..%d):\n", lo, hi);
    else if (laws->kind == RS_THEORY_LAW_EXP)
        fprintf(f, "exponents (slope of log_%d Q per layer, k = %d..%d):\n", c->stride, lo, hi);
    else
        fprintf(f, "no law is derived for stride %d with filter %d (docs/theory.md); slopes of log2 Q per layer, k = %d..%d:\n",
                c->stride, c->filter, lo, hi);
    for (int q = 0; q < 3; q++) {
        rs_theory_fit fit = rs_theory_fit_quantity(r, laws, q, lo, hi);
        fprintf(f, "  %s  %+.4f +- %.4f", q_name[q], fit.slope, fit.slope_se);
        if (laws->kind != RS_THEORY_LAW_NONE)
            fprintf(f, "   law %-5s  prefactor fitted %.4g, derived %.4g", laws->exponent_text[q],
                    rs_theory_fit_prefactor(r, laws, q, lo, hi), laws->prefactor[q]);
        fputc('\n', f);
    }
    /* the same fit on the N -> infinity (stride 1) or exact curves: what finite depth alone does to the slope */
    if (strcmp(theory_kind(c), "none") != 0) {
        double x[RS_THEORY_MAX_DEPTH], y[2][RS_THEORY_MAX_DEPTH];
        int n = 0;
        for (int k = lo; k <= hi; k++, n++) {
            double D, G;
            theory_values(c, k, &D, &G);
            x[n] = rs_theory_fit_x(laws, k);
            y[0][n] = rs_theory_fit_y(laws, D);
            y[1][n] = rs_theory_fit_y(laws, G);
        }
        rs_theory_fit fd = rs_theory_fit_line(x, y[0], n), fg = rs_theory_fit_line(x, y[1], n);
        fprintf(f, "  the %s curves fitted over the same layers: D %+.4f, G %+.4f (finite-depth slopes, docs/theory.md)\n",
                strcmp(theory_kind(c), "exact") == 0 ? "exact" : "N -> infinity", fd.slope, fg.slope);
    }
}

void rs_theory_print(FILE *f, const rs_theory_result *r) {
    const rs_theory_config *c = &r->cfg;
    rs_theory_laws laws = rs_theory_predict(c);
    int lo, hi, ok = rs_theory_fit_range(c, &lo, &hi);
    print_header(f, r);
    const char *kind = theory_kind(c);
    double pref[3];
    for (int q = 0; q < 3; q++) pref[q] = ok ? rs_theory_fit_prefactor(r, &laws, q, lo, hi) : NAN;
    fprintf(f, "\n%4s %8s %8s %11s %11s %11s  %7s %7s %7s  %11s %11s\n", "k", "RF", "width", "D", "G", "R", "D/law",
            "G/law", "R/law", "D_theory", "G_theory");
    for (int k = 1; k <= c->depth; k++) {
        const rs_theory_layer *ly = &r->layers[k - 1];
        double Dt, Gt;
        theory_values(c, k, &Dt, &Gt);
        fprintf(f, "%4d %8lld %8lld %11.5g %11.5g %11.5g ", k, (long long)ly->rf, (long long)ly->width, ly->D, ly->G,
                ly->R);
        for (int q = 0; q < 3; q++) {
            double ratio = quantity(ly, q) / rs_theory_law_value(&laws, q, pref[q], k);
            if (isfinite(ratio)) fprintf(f, " %7.4f", ratio);
            else fprintf(f, " %7s", "-");
        }
        if (isfinite(Dt)) fprintf(f, "  %11.5g %11.5g\n", Dt, Gt);
        else fprintf(f, "  %11s %11s\n", "-", "-");
    }
    fprintf(f, "(law = the asymptotic law with its prefactor fitted over the fit range; theory = %s)\n",
            strcmp(kind, "exact") == 0        ? "the exact finite-N value derived in docs/theory.md (G: its expectation)"
            : strcmp(kind, "infinite_N") == 0 ? "the N -> infinity value of docs/theory.md"
                                              : "no closed form for this model");
    if (!ok) {
        fprintf(f, "\nno fit: fewer than 3 layers have a receptive field within 1/16 of the input (raise --size)\n");
    } else {
        fprintf(f, "\nfit range k = %d..%d: the deepest half of the layers whose receptive field covers at most 1/16 of the input\n",
                lo, hi);
        print_fits(f, r, &laws, lo, hi);
    }
    int64_t m = c->dim == 1 ? c->size : c->size * c->size;
    fprintf(f, "mean of max(eta_j, 0) per pixel: %.6g +- %.2g (exact expectation %.6g)\n", r->noise_pos_mean,
            r->noise_pos_mean_se, rs_theory_rect_mean(m, c->noise_norm > 0 ? c->noise_norm : sqrt(2.0)));
    fprintf(f, "time %.2f s on %d threads\n", r->seconds, r->threads);
}

/* ---------------------------------------------------------------- CSV */
static rs_status write_buffer(const char *path, char *buf, size_t len) {
    rs_status st = rs_write_file_atomic(path, buf, len);
    free(buf);
    return st;
}

rs_status rs_theory_write_csv(const char *path, const rs_theory_result *r) {
    const rs_theory_config *c = &r->cfg;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return rs_error(RS_ERR_NOMEM, "cannot build the CSV for %s", path);
    rs_theory_laws laws = rs_theory_predict(c);
    int lo, hi, ok = rs_theory_fit_range(c, &lo, &hi);
    const char *kind = theory_kind(c);
    fprintf(f, "dim,stride,filter,depth,size,probes,bias,padding,noise_norm,seed,k,width,rf,d_num,d_num_se,g_num,"
               "g_num_se,deno,D,D_se,G,G_se,R,D_law,G_law,R_law,D_theory,G_theory,theory,in_fit\n");
    for (int k = 1; k <= c->depth; k++) {
        const rs_theory_layer *ly = &r->layers[k - 1];
        double Dt, Gt, law[3];
        theory_values(c, k, &Dt, &Gt);
        for (int q = 0; q < 3; q++)
            law[q] = ok ? rs_theory_law_value(&laws, q, rs_theory_fit_prefactor(r, &laws, q, lo, hi), k) : NAN;
        fprintf(f, "%d,%d,%d,%d,%lld,%lld,%.17g,%s,%.17g,%llu,%d,%lld,%lld,", c->dim, c->stride, c->filter, c->depth,
                (long long)c->size, (long long)r->n_probes, c->bias, padding_name(c->padding),
                c->noise_norm > 0 ? c->noise_norm : sqrt(2.0), (unsigned long long)c->seed, k, (long long)ly->width,
                (long long)ly->rf);
        fprintf(f, "%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%s,%d\n",
                ly->d_num, ly->d_num_se, ly->g_num, ly->g_num_se, ly->deno, ly->D, ly->D_se, ly->G, ly->G_se, ly->R,
                law[0], law[1], law[2], Dt, Gt, kind, ok && k >= lo && k <= hi);
    }
    fclose(f);
    return write_buffer(path, buf, len);
}

/* ---------------------------------------------------------------- bias study */
void rs_theory_print_bias(FILE *f, const rs_theory_bias_config *bc, const rs_theory_bias_result *br) {
    const rs_theory_config *c = &bc->base;
    int L = br->depth;
    fprintf(f, "bias study: %dD, stride %d, filter %d, depth %d, %s padding, N = %lld, noise of fixed norm eta added to the\n"
               "input without rectification (the first ReLU rectifies it), %d noise draw%s per point\n",
            c->dim, c->stride, c->filter, L, padding_name(c->padding), (long long)br->size, bc->repeats,
            bc->repeats == 1 ? "" : "s");
    fprintf(f, "\nG_%d / eta^2 at the last layer:\n%11s", L, "eta");
    for (int b = 0; b < br->n_bias; b++) fprintf(f, "  b=%-9.3g", bc->biases[b]);
    fputc('\n', f);
    for (int e = 0; e < br->n_eta; e++) {
        fprintf(f, "%11.4g", bc->etas[e]);
        for (int b = 0; b < br->n_bias; b++)
            fprintf(f, "  %11.5g", br->g_over_eta2[((size_t)b * br->n_eta + e) * L + L - 1]);
        fputc('\n', f);
    }
    fprintf(f, "\npredicted onset of rectification (noise at the first layer as large as the bias), "
               "eta_c = b sqrt(M F^d) / s^d:\n");
    for (int b = 0; b < br->n_bias; b++)
        fprintf(f, "  b = %-9.3g eta_c = %.4g%s\n", bc->biases[b], br->eta_onset[b],
                bc->biases[b] == 0 ? " (rectified at any noise level)" : "");
    /* the two plateaus of docs/theory.md, for stride = filter = 2 with zero padding */
    rs_theory_config e = *c;
    rs_theory_exact ex;
    e.size = br->size;
    e.depth = L;
    e.probes = 0;
    e.bias = 0;
    e.raw_noise = 1;
    e.noise_norm = 1;
    if (rs_theory_exact_layer(&e, L, &ex)) {
        double v = (double)((br->size >> L) << L) / (double)br->size;
        fprintf(f, "plateaus of G_%d / eta^2 (docs/theory.md): linear regime (b > 0, eta << eta_c) %.5g; "
                   "rectified by the first layer (b = 0, eta <= 1) %.5g\n",
                L, pow(v, c->dim) / ex.deno, ex.G);
    }
}

rs_status rs_theory_write_bias_csv(const char *path, const rs_theory_bias_config *bc,
                                   const rs_theory_bias_result *br) {
    const rs_theory_config *c = &bc->base;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return rs_error(RS_ERR_NOMEM, "cannot build the CSV for %s", path);
    fprintf(f, "dim,stride,filter,depth,size,padding,seed,repeats,bias,eta,k,g_num,deno,G,G_over_eta2,eta_onset\n");
    int L = br->depth;
    for (int b = 0; b < br->n_bias; b++)
        for (int e = 0; e < br->n_eta; e++)
            for (int k = 1; k <= L; k++) {
                size_t i = ((size_t)b * br->n_eta + e) * L + k - 1;
                double deno = br->deno[(size_t)b * L + k - 1];
                fprintf(f, "%d,%d,%d,%d,%lld,%s,%llu,%d,%.17g,%.17g,%d,%.17g,%.17g,%.17g,%.17g,%.17g\n", c->dim,
                        c->stride, c->filter, L, (long long)br->size, padding_name(c->padding),
                        (unsigned long long)c->seed, bc->repeats, bc->biases[b], bc->etas[e], k, br->g_num[i], deno,
                        br->g_num[i] / deno, br->g_over_eta2[i], br->eta_onset[b]);
            }
    fclose(f);
    return write_buffer(path, buf, len);
}

/* ---------------------------------------------------------------- comparison with a trained net */
void rs_theory_print_compare(FILE *f, const rs_theory_result *r, const rs_theory_net_layer *net, int n_net) {
    rs_theory_laws laws = rs_theory_predict(&r->cfg);
    fprintf(f, "\ntrained net next to the model (ratio = net / model):\n");
    fprintf(f, "%4s %-24s %5s %10s %10s %8s %10s %10s %8s %10s %10s %8s\n", "k", "node", "seeds", "D_net", "D_model",
            "ratio", "G_net", "G_model", "ratio", "R_net", "R_model", "ratio");
    double x[RS_THEORY_MAX_DEPTH], y[3][RS_THEORY_MAX_DEPTH];
    int n = 0;
    for (int i = 0; i < n_net; i++) {
        const rs_theory_net_layer *nl = &net[i];
        const rs_theory_layer *ml = nl->k <= r->cfg.depth ? &r->layers[nl->k - 1] : NULL;
        double mv[3] = {ml ? ml->D : NAN, ml ? ml->G : NAN, ml ? ml->R : NAN}, nv[3] = {nl->D, nl->G, nl->R};
        fprintf(f, "%4d %-24.24s %5d", nl->k, nl->node, nl->n_seeds);
        for (int q = 0; q < 3; q++) fprintf(f, " %10.4g %10.4g %8.3g", nv[q], mv[q], nv[q] / mv[q]);
        fputc('\n', f);
        if (n < RS_THEORY_MAX_DEPTH) {
            x[n] = laws.kind == RS_THEORY_LAW_POWER ? log((double)nl->k) : nl->k;
            for (int q = 0; q < 3; q++) y[q][n] = rs_theory_fit_y(&laws, nv[q]);
            n++;
        }
    }
    if (laws.kind == RS_THEORY_LAW_POWER) fprintf(f, "net's exponents over all its %d layers (ln Q against ln k):", n);
    else fprintf(f, "net's exponents over all its %d layers (log_%d Q per layer):", n, r->cfg.stride == 1 ? 2 : r->cfg.stride);
    for (int q = 0; q < 3; q++) {
        rs_theory_fit fit = rs_theory_fit_line(x, y[q], n);
        fprintf(f, "  %s %+.3f +- %.3f (law %s)", q_name[q], fit.slope, fit.slope_se, laws.exponent_text[q]);
    }
    fputc('\n', f);
}
