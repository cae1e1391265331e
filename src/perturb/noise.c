/* noise.c: the isotropic Gaussian perturbations that G is made of (SPEC.md 1.2, 5.2, 11.3): noise whose norm
 * matches each image's diffeo displacement, noise of a given norm, and the 1-D paper's rectified batch-variance
 * noise. Draws are addressed by (seed, image index, repeat) (perturb.h); norms and variances in double.
 * It does not deform anything (diffeo.c) and does not clip or renormalise the noisy images. */
#include "relstab/perturb.h"

#include <math.h>
#include <omp.h>

typedef enum { NOISE_MATCHED, NOISE_NORM, NOISE_RECTIFIED } noise_kind;

static rs_status check_args(const char *fn, const float *x, int64_t b, int64_t d, const int64_t *indices) {
    if (b < 0 || d < 1) return rs_error(RS_ERR_ARG, "%s: bad batch shape (%lld, %lld)", fn, (long long)b, (long long)d);
    if (b > 0 && (!x || !indices)) return rs_error(RS_ERR_ARG, "%s: NULL input", fn);
    for (int64_t p = 0; p < b; p++) {
        if (indices[p] < 0)
            return rs_error(RS_ERR_ARG, "%s: image index %lld (batch position %lld) is negative", fn,
                            (long long)indices[p], (long long)p);
        if ((uint64_t)indices[p] > UINT64_MAX / (uint64_t)d - 1)
            return rs_error(RS_ERR_ARG, "%s: image index %lld too large for images of %lld values", fn,
                            (long long)indices[p], (long long)d);
    }
    return RS_OK;
}

/* z (D) = the standard normal vector of image `index`; returns ||z||. */
static double draw_z(double *z, int64_t d, uint64_t seed, uint32_t repeat, int64_t index) {
    uint64_t stream = rs_stream(RS_PURPOSE_NOISE, repeat, 0), base = (uint64_t)index * (uint64_t)d;
    double s = 0.0;
    rs_normals(z, (size_t)d, seed, stream, base);
    for (int64_t j = 0; j < d; j++) s += z[j] * z[j];
    return sqrt(s);
}

/* ||xd - x||^2 of one image, in double. */
static double sq_dist(const float *x, const float *xd, int64_t d) {
    double s = 0.0;
    for (int64_t j = 0; j < d; j++) {
        double e = (double)xd[j] - (double)x[j];
        s += e * e;
    }
    return s;
}

/* The shared loop. matched: scale = ||xd_p - x_p||/||z||; norm: param/||z||; rectified: eta = ReLU(param z). */
static rs_status noise_run(noise_kind kind, float *out, float *eta, const float *x, const float *xd, int64_t b,
                           int64_t d, double param, const int64_t *indices, uint64_t seed, uint32_t repeat) {
    int nt = omp_get_max_threads();
    size_t bytes;
    if (rs_mul_size((size_t)nt * sizeof(double), (size_t)d, &bytes))
        return rs_error(RS_ERR_NOMEM, "noise: scratch size overflows");
    double *scr = rs_alloc(bytes);
    if (!scr) return rs_error(RS_ERR_NOMEM, "noise: out of memory for %d x %lld doubles", nt, (long long)d);
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t p = 0; p < b; p++) {
        double *z = scr + (size_t)omp_get_thread_num() * (size_t)d;
        const float *xp = x + (size_t)p * d;
        double target = kind == NOISE_MATCHED ? sqrt(sq_dist(xp, xd + (size_t)p * d, d)) : param;
        double nz = draw_z(z, d, seed, repeat, indices[p]);
        double scale = kind == NOISE_RECTIFIED ? param : (nz > 0 ? target / nz : 0.0);
        float *op = out + (size_t)p * d, *ep = eta ? eta + (size_t)p * d : NULL;
        for (int64_t j = 0; j < d; j++) {
            double e = scale * z[j];
            if (kind == NOISE_RECTIFIED && !(e > 0)) e = 0.0;
            float ef = (float)e;
            if (ep) ep[j] = ef;
            op[j] = xp[j] + ef; /* float arithmetic: out is exactly x + eta as stored */
        }
    }
    rs_free(scr);
    return RS_OK;
}

rs_status rs_noise_matched(float *out, float *eta, const float *x, const float *xd, int64_t b, int64_t d,
                           const int64_t *indices, uint64_t seed, uint32_t repeat) {
    RS_TRY(check_args("rs_noise_matched", x, b, d, indices));
    if (b > 0 && !xd) return rs_error(RS_ERR_ARG, "rs_noise_matched: the deformed images are NULL");
    return b ? noise_run(NOISE_MATCHED, out, eta, x, xd, b, d, 0.0, indices, seed, repeat) : RS_OK;
}

rs_status rs_noise_norm(float *out, float *eta, const float *x, int64_t b, int64_t d, double norm,
                        const int64_t *indices, uint64_t seed, uint32_t repeat) {
    RS_TRY(check_args("rs_noise_norm", x, b, d, indices));
    if (!isfinite(norm) || norm < 0)
        return rs_error(RS_ERR_ARG, "noise norm must be a finite number >= 0, got %g", norm);
    return b ? noise_run(NOISE_NORM, out, eta, x, NULL, b, d, norm, indices, seed, repeat) : RS_OK;
}

rs_status rs_noise_rectified(float *out, float *eta, const float *x, const float *xd, int64_t b, int64_t d,
                             const int64_t *indices, uint64_t seed, uint32_t repeat, double *sigma_out) {
    RS_TRY(check_args("rs_noise_rectified", x, b, d, indices));
    if (b > 0 && !xd) return rs_error(RS_ERR_ARG, "rs_noise_rectified: the deformed images are NULL");
    if (b == 0) {
        if (sigma_out) *sigma_out = 0.0;
        return RS_OK;
    }
    /* sigma^2 = mean over the batch and the entries: per-image sums in parallel, then summed in batch order. */
    double *ss = rs_alloc((size_t)b * sizeof(double));
    if (!ss) return rs_error(RS_ERR_NOMEM, "rs_noise_rectified: out of memory");
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < b; p++) ss[p] = sq_dist(x + (size_t)p * d, xd + (size_t)p * d, d);
    double tot = 0.0;
    for (int64_t p = 0; p < b; p++) tot += ss[p];
    rs_free(ss);
    double sigma = sqrt(tot / ((double)b * (double)d));
    if (sigma_out) *sigma_out = sigma;
    return noise_run(NOISE_RECTIFIED, out, eta, x, NULL, b, d, sigma, indices, seed, repeat);
}
