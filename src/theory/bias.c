/* bias.c: the role of the bias (SPEC 6.3, last point): G_k / eta^2 against the noise norm eta for several biases.
 * The noise is added to the input without rectification, so that the first layer's ReLU (and its bias) decides
 * whether it is rectified: with b > 0 small noise stays in the linear regime and does not pile up; once the
 * noise at the first layer exceeds b it is rectified and G / eta^2 climbs to the b = 0 value.
 * It reuses rs_theory_run point by point; it does not fit anything. */
#include "relstab/theory.h"

#include <math.h>
#include <string.h>

void rs_theory_bias_result_free(rs_theory_bias_result *r) {
    rs_free(r->g_over_eta2);
    rs_free(r->g_num);
    rs_free(r->g_num_se);
    rs_free(r->deno);
    rs_free(r->eta_onset);
    memset(r, 0, sizeof *r);
}

static rs_status check(const rs_theory_bias_config *bc) {
    if (bc->n_bias < 1 || bc->n_eta < 1) return rs_error(RS_ERR_ARG, "the bias study needs at least one bias and one eta");
    if (bc->repeats < 1) return rs_error(RS_ERR_ARG, "--repeats must be at least 1, got %d", bc->repeats);
    for (int e = 0; e < bc->n_eta; e++)
        if (!(bc->etas[e] > 0) || !isfinite(bc->etas[e]))
            return rs_error(RS_ERR_ARG, "--etas must be positive, got %g", bc->etas[e]);
    for (int b = 0; b < bc->n_bias; b++)
        if (!isfinite(bc->biases[b])) return rs_error(RS_ERR_ARG, "--biases must be finite numbers");
    return RS_OK;
}

static rs_status alloc_result(rs_theory_bias_result *out, const rs_theory_bias_config *bc, const rs_theory_config *base) {
    int L = base->depth;
    size_t n = (size_t)bc->n_bias * bc->n_eta * L;
    out->n_bias = bc->n_bias;
    out->n_eta = bc->n_eta;
    out->depth = L;
    out->size = base->size;
    out->g_over_eta2 = rs_calloc(n * sizeof(double));
    out->g_num = rs_calloc(n * sizeof(double));
    out->g_num_se = rs_calloc(n * sizeof(double));
    out->deno = rs_calloc((size_t)bc->n_bias * L * sizeof(double));
    out->eta_onset = rs_calloc((size_t)bc->n_bias * sizeof(double));
    if (!out->g_over_eta2 || !out->g_num || !out->g_num_se || !out->deno || !out->eta_onset) {
        rs_theory_bias_result_free(out);
        return rs_error(RS_ERR_NOMEM, "cannot allocate the bias study");
    }
    double m = base->dim == 1 ? (double)base->size : (double)base->size * (double)base->size;
    for (int b = 0; b < bc->n_bias; b++) /* first-layer noise (s/F)^d sqrt(F^d) eta / sqrt(M) reaches b */
        out->eta_onset[b] = bc->biases[b] * sqrt(m * pow(base->filter, base->dim)) / pow(base->stride, base->dim);
    return RS_OK;
}

/* per point i = ((b n_eta + e) repeats + rep): (npt, L) arrays of g_num, deno, g_num_se -> averages over the
 * repeats, in repeat order */
static void combine(rs_theory_bias_result *out, const rs_theory_bias_config *bc, const double *gn, const double *dn,
                    const double *gs) {
    int L = out->depth;
    int64_t npt = (int64_t)bc->n_bias * bc->n_eta * bc->repeats;
    for (int64_t i = 0; i < npt; i++) {
        int rep = (int)(i % bc->repeats), b = (int)(i / bc->repeats / bc->n_eta);
        size_t pt = (size_t)(i / bc->repeats); /* (b, e) */
        for (int k = 0; k < L; k++) {
            out->g_num[pt * L + k] += gn[i * L + k] / bc->repeats;
            out->g_num_se[pt * L + k] += gs[i * L + k] * gs[i * L + k]; /* variances add */
            if (rep == 0) out->deno[(size_t)b * L + k] = dn[i * L + k]; /* clean probes only: the same for all */
        }
    }
    for (size_t pt = 0; pt < (size_t)bc->n_bias * bc->n_eta; pt++)
        for (int k = 0; k < L; k++) {
            double eta = bc->etas[pt % bc->n_eta];
            out->g_num_se[pt * L + k] = sqrt(out->g_num_se[pt * L + k]) / bc->repeats;
            out->g_over_eta2[pt * L + k] = out->g_num[pt * L + k] / out->deno[pt / bc->n_eta * L + k] / (eta * eta);
        }
}

rs_status rs_theory_bias_run(const rs_theory_bias_config *bc, rs_theory_bias_result *out) {
    memset(out, 0, sizeof *out);
    RS_TRY(check(bc));
    rs_theory_config base = bc->base;
    base.raw_noise = 1;
    base.noise_norm = bc->etas[0];
    RS_TRY(rs_theory_resolve(&base));
    RS_TRY(alloc_result(out, bc, &base));
    int L = base.depth;
    /* The points are many small runs: threads take whole points (each run then uses one thread), every point's
     * numbers are stored, and the repeats are averaged in order afterwards. */
    int64_t npt = (int64_t)bc->n_bias * bc->n_eta * bc->repeats;
    double *gn = rs_calloc((size_t)npt * L * 3 * sizeof(double));
    rs_status *sts = rs_calloc((size_t)npt * sizeof(rs_status));
    char first_error[512] = "";
    if (!gn || !sts) {
        rs_free(gn);
        rs_free(sts);
        rs_theory_bias_result_free(out);
        return rs_error(RS_ERR_NOMEM, "cannot allocate the bias study");
    }
    double *dn = gn + npt * L, *gs = dn + npt * L;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t i = 0; i < npt; i++) {
        int rep = (int)(i % bc->repeats), e = (int)(i / bc->repeats % bc->n_eta), b = (int)(i / bc->repeats / bc->n_eta);
        rs_theory_config c = base;
        rs_theory_result r;
        c.bias = bc->biases[b];
        c.noise_norm = bc->etas[e];
        c.repeat = (uint32_t)rep;
        sts[i] = rs_theory_run(&c, &r);
        if (sts[i] != RS_OK) {
#pragma omp critical(rs_theory_bias_error)
            if (!first_error[0]) snprintf(first_error, sizeof first_error, "%s", rs_last_error());
            continue;
        }
        for (int k = 0; k < L; k++) {
            gn[i * L + k] = r.layers[k].g_num;
            dn[i * L + k] = r.layers[k].deno;
            gs[i * L + k] = r.layers[k].g_num_se;
        }
        rs_theory_result_free(&r);
    }
    rs_status st = RS_OK;
    for (int64_t i = 0; i < npt && st == RS_OK; i++) st = sts[i];
    if (st == RS_OK) combine(out, bc, gn, dn, gs);
    rs_free(gn);
    rs_free(sts);
    if (st != RS_OK) {
        rs_theory_bias_result_free(out);
        return rs_error(st, "%s", first_error);
    }
    return RS_OK;
}
