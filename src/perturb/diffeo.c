/* diffeo.c: the max-entropy diffeomorphism of SPEC.md section 2: temperature formulas, the sine tables, the
 * random mode coefficients, the separable displacement field, and the batched deformation of images.
 * rs_diffeo_batch runs the fast path of diffeo_fast.c; the loops here and rs_remap are its reference twin (the same
 * field bits; the bilinear images the same bits or, through the AVX-512 kernel, within diffeo_fast.c's bound).
 * It is not the remap itself (remap.c) and draws nothing but the field: noise is noise.c. */
#include "perturb_internal.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#define PI 3.14159265358979323846

/* ---------------------------------------------------------------- temperature and modes */
static rs_status check_cut_n(int32_t n, int32_t cut) {
    if (cut == 1)
        return rs_error(RS_ERR_ARG, "cutoff c = 1 is not allowed: T depends on ln c and ln 1 = 0 (use c >= 2)");
    if (cut < 2) return rs_error(RS_ERR_ARG, "cutoff c must be >= 2, got %d", (int)cut);
    if (n < 2) return rs_error(RS_ERR_ARG, "image size n must be >= 2, got %d", (int)n);
    return RS_OK;
}

rs_status rs_diffeo_tmin(int32_t n, int32_t cut, double *out) {
    RS_TRY(check_cut_n(n, cut));
    *out = 1.0 / (PI * (double)n * (double)n * log((double)cut));
    return RS_OK;
}

rs_status rs_diffeo_tmax(int32_t cut, double *out) {
    RS_TRY(check_cut_n(2, cut));
    *out = 4.0 / (PI * PI * PI * (double)cut * (double)cut * log((double)cut));
    return RS_OK;
}

rs_status rs_diffeo_T_of_delta(double delta, int32_t n, int32_t cut, double *T) {
    RS_TRY(check_cut_n(n, cut));
    if (!isfinite(delta) || delta < 0)
        return rs_error(RS_ERR_ARG, "displacement delta must be a finite number >= 0, got %g", delta);
    *T = 4.0 * delta * delta / (PI * (double)n * (double)n * log((double)cut));
    return RS_OK;
}

rs_status rs_diffeo_delta_of_T(double T, int32_t n, int32_t cut, double *delta) {
    RS_TRY(check_cut_n(n, cut));
    if (!isfinite(T) || T < 0) return rs_error(RS_ERR_ARG, "temperature T must be a finite number >= 0, got %g", T);
    *delta = 0.5 * (double)n * sqrt(PI * T * log((double)cut));
    return RS_OK;
}

/* sqrt(i^2 + j^2) < c + 1/2  <=>  i^2 + j^2 < c^2 + c + 1/4  <=>  i^2 + j^2 <= c^2 + c (integers). */
int rs_diffeo_mode_kept(int32_t i, int32_t j, int32_t cut) {
    if (i < 1 || j < 1 || i > cut || j > cut) return 0;
    int64_t r2 = (int64_t)i * i + (int64_t)j * j;
    return r2 <= (int64_t)cut * cut + cut;
}

int32_t rs_diffeo_n_modes(int32_t cut) {
    int32_t n = 0;
    for (int32_t i = 1; i <= cut; i++)
        for (int32_t j = 1; j <= cut; j++) n += rs_diffeo_mode_kept(i, j, cut);
    return n;
}

/* ---------------------------------------------------------------- interpolation names */
rs_status rs_interp_parse(const char *s, rs_interp *out) {
    if (!strcmp(s, "linear") || !strcmp(s, "bilinear")) *out = RS_INTERP_LINEAR;
    else if (!strcmp(s, "nearest")) *out = RS_INTERP_NEAREST;
    else if (!strcmp(s, "gaussian")) *out = RS_INTERP_GAUSSIAN;
    else return rs_error(RS_ERR_ARG, "unknown interpolation '%s' (expected linear, nearest or gaussian)", s);
    return RS_OK;
}

const char *rs_interp_name(rs_interp m) {
    switch (m) {
    case RS_INTERP_LINEAR: return "linear";
    case RS_INTERP_NEAREST: return "nearest";
    case RS_INTERP_GAUSSIAN: return "gaussian";
    }
    return "?";
}

/* ---------------------------------------------------------------- sine tables */
/* sin(pi k p / N) with the argument reduced exactly in integers, so that p = 0 and p = N (the first and last
 * pixel) give exactly 0 and the border never moves. */
static double sinpi_ratio(int64_t kp, int64_t N) {
    int64_t m = kp % (2 * N);
    if (m == 0 || m == N) return 0.0;
    return sin(PI * (double)m / (double)N);
}

static void sine_table(double *s, int32_t n, int32_t cut) { // s: (n, cut)
    for (int32_t p = 0; p < n; p++)
        for (int32_t k = 0; k < cut; k++) s[(size_t)p * cut + k] = sinpi_ratio((int64_t)(k + 1) * p, n - 1);
}

rs_status rs_diffeo_plan_init(rs_diffeo_plan *p, int32_t h, int32_t w, int32_t cut) {
    memset(p, 0, sizeof *p);
    if (h == 1 || w == 1)
        return rs_error(RS_ERR_ARG, "diffeo of a %dx%d image: 1-D signals are not deformed by the 2-D field "
                                    "(the 1-D task uses rs_translate1d)", (int)h, (int)w);
    if (h < 2 || w < 2 || h > 65536 || w > 65536)
        return rs_error(RS_ERR_ARG, "diffeo image size must be between 2 and 65536 per side, got %dx%d", (int)h,
                        (int)w);
    if (cut < 1 || cut > RS_DIFFEO_MAX_CUT)
        return rs_error(RS_ERR_ARG, "diffeo cutoff must be between 1 and %d, got %d", RS_DIFFEO_MAX_CUT, (int)cut);
    p->h = h;
    p->w = w;
    p->cut = cut;
    p->sy = rs_alloc((size_t)h * cut * sizeof(double));
    p->sx = rs_alloc((size_t)w * cut * sizeof(double));
    p->amp = rs_alloc((size_t)cut * cut * sizeof(double));
    if (!p->sy || !p->sx || !p->amp) {
        rs_diffeo_plan_free(p);
        return rs_error(RS_ERR_NOMEM, "out of memory for the diffeo sine tables (%dx%d, c = %d)", (int)h, (int)w,
                        (int)cut);
    }
    sine_table(p->sy, h, cut);
    sine_table(p->sx, w, cut);
    for (int32_t a = 0; a < cut; a++)
        for (int32_t b = 0; b < cut; b++)
            p->amp[a * cut + b] =
                rs_diffeo_mode_kept(a + 1, b + 1, cut) ? 1.0 / sqrt((double)((a + 1) * (a + 1) + (b + 1) * (b + 1)))
                                                       : 0.0;
    return RS_OK;
}

void rs_diffeo_plan_free(rs_diffeo_plan *p) {
    rs_free(p->sy);
    rs_free(p->sx);
    rs_free(p->amp);
    memset(p, 0, sizeof *p);
}

/* ---------------------------------------------------------------- coefficients and field */
/* Whether coefficient j = k c^2 + a c + b of an image belongs to a kept mode (a + 1, b + 1). */
static int coeff_kept(uint64_t j, int32_t cut) {
    uint64_t m = j % ((uint64_t)cut * (uint64_t)cut);
    return rs_diffeo_mode_kept((int32_t)(m / (uint64_t)cut) + 1, (int32_t)(m % (uint64_t)cut) + 1, cut);
}

void rs_diffeo_coeffs(double *coef, int32_t cut, uint64_t seed, uint32_t repeat, int64_t index) { // coef: (2, c, c)
    RS_ASSERT(cut >= 1 && cut <= RS_DIFFEO_MAX_CUT && index >= 0);
    uint64_t stream = rs_stream(RS_PURPOSE_DIFFEO, repeat, 0);
    uint64_t cc = (uint64_t)cut * (uint64_t)cut;
    uint64_t base = (uint64_t)index * 2 * cc;
    /* rs_normal at base + j, j = k cc + a cut + b, for the kept modes only: the pair (j, j + 1) (j even; base and
     * 2 cc are even) of one Philox block drawn together when both are kept (rs_normals: the same bits), one alone
     * when only one is. */
    for (uint64_t j = 0; j < 2 * cc; j += 2) {
        int k0 = coeff_kept(j, cut), k1 = coeff_kept(j + 1, cut);
        if (k0 && k1) rs_normals(coef + j, 2, seed, stream, base + j);
        else if (k0) coef[j] = rs_normal(seed, stream, base + j);
        else if (k1) coef[j + 1] = rs_normal(seed, stream, base + j + 1);
    }
    for (int32_t k = 0; k < 2; k++)
        for (int32_t a = 0; a < cut; a++)
            for (int32_t b = 0; b < cut; b++) {
                double *dst = &coef[k * cc + (uint64_t)a * cut + b];
                *dst = rs_diffeo_mode_kept(a + 1, b + 1, cut)
                           ? *dst / sqrt((double)((a + 1) * (a + 1) + (b + 1) * (b + 1)))
                           : 0.0;
            }
}

/* out[y, x] = (float)(scale * sum_a sy[y, a] (sum_b C[a, b] sx[x, b])); tmp: (c, W) scratch. */
static void field_component(const rs_diffeo_plan *p, const double *C, double scale, double *tmp, float *out) {
    int32_t h = p->h, w = p->w, c = p->cut;
    for (int32_t a = 0; a < c; a++)
        for (int32_t x = 0; x < w; x++) {
            double s = 0.0;
            for (int32_t b = 0; b < c; b++) s += C[a * c + b] * p->sx[(size_t)x * c + b];
            tmp[(size_t)a * w + x] = s;
        }
    for (int32_t y = 0; y < h; y++) {
        const double *sy = &p->sy[(size_t)y * c];
        float *row = &out[(size_t)y * w];
        for (int32_t x = 0; x < w; x++) {
            double s = 0.0;
            for (int32_t a = 0; a < c; a++) s += sy[a] * tmp[(size_t)a * w + x];
            row[x] = (float)(scale * s);
        }
    }
}

/* The field with caller-provided scratch: coef (2, c, c), tmp (c, W). */
static void field_scratch(const rs_diffeo_plan *p, double T, uint64_t seed, uint32_t repeat, int64_t index,
                          float *dx, float *dy, double *coef, double *tmp) {
    int32_t c = p->cut;
    rs_diffeo_coeffs(coef, c, seed, repeat, index);
    double st = sqrt(T);
    field_component(p, coef, (double)p->w * st, tmp, dx);
    field_component(p, coef + (size_t)c * c, (double)p->h * st, tmp, dy);
}

rs_status rs_diffeo_field(const rs_diffeo_plan *p, double T, uint64_t seed, uint32_t repeat, int64_t index,
                          float *dx, float *dy) {
    if (!p || !p->sx) return rs_error(RS_ERR_ARG, "rs_diffeo_field: the plan is not initialised");
    if (!isfinite(T) || T < 0) return rs_error(RS_ERR_ARG, "diffeo temperature T must be a finite number >= 0, got %g", T);
    if (index < 0) return rs_error(RS_ERR_ARG, "rs_diffeo_field: image index %lld is negative", (long long)index);
    int32_t c = p->cut;
    double *coef = rs_alloc((size_t)2 * c * c * sizeof(double));
    double *tmp = rs_alloc((size_t)c * p->w * sizeof(double));
    if (!coef || !tmp) {
        rs_free(coef);
        rs_free(tmp);
        return rs_error(RS_ERR_NOMEM, "rs_diffeo_field: out of memory for the scratch");
    }
    field_scratch(p, T, seed, repeat, index, dx, dy, coef, tmp);
    rs_free(coef);
    rs_free(tmp);
    return RS_OK;
}

/* ---------------------------------------------------------------- batched deformation */
/* rs_diffeo_batch through the fast path (fast = 1, diffeo_fast.c) or the plain-C reference (fast = 0: the field
 * of field_scratch, then rs_remap); the same bits, but for the AVX-512 bilinear kernel's stated bound
 * (test_diffeo_fast.c). */
static rs_status diffeo_batch(const rs_diffeo_plan *plan, const rs_diffeo_opts *o, float *out, float *fields,
                              const float *in, int64_t b, int32_t c, const int64_t *indices, int fast) {
    if (!plan || !plan->sx) return rs_error(RS_ERR_ARG, "rs_diffeo_batch: the plan is not initialised");
    if (!isfinite(o->T) || o->T < 0)
        return rs_error(RS_ERR_ARG, "diffeo temperature T must be a finite number >= 0, got %g", o->T);
    if (b < 0 || c < 1) return rs_error(RS_ERR_ARG, "rs_diffeo_batch: bad batch %lld x %d channels", (long long)b, c);
    if (o->interp != RS_INTERP_LINEAR && o->interp != RS_INTERP_NEAREST && o->interp != RS_INTERP_GAUSSIAN)
        return rs_error(RS_ERR_ARG, "rs_diffeo_batch: unknown interpolation %d", (int)o->interp);
    if (b == 0) return RS_OK;
    if (out == in) return rs_error(RS_ERR_ARG, "rs_diffeo_batch: out must not alias in");
    for (int64_t p = 0; p < b; p++)
        if (indices[p] < 0)
            return rs_error(RS_ERR_ARG, "rs_diffeo_batch: image index %lld (batch position %lld) is negative",
                            (long long)indices[p], (long long)p);
    int32_t h = plan->h, w = plan->w, cut = plan->cut;
    size_t hw = (size_t)h * w, chw;
    if (rs_mul_size(hw, (size_t)c, &chw)) return rs_error(RS_ERR_NOMEM, "rs_diffeo_batch: image size overflows");
    if (hw > (size_t)INT32_MAX) fast = 0; /* the fast path indexes a channel with int32 */
    int nt = omp_get_max_threads();
    if ((int64_t)nt > b) nt = (int)b;
    /* per thread: the fast path's scratch, or the reference's coefficients (2c^2) and tmp (cW) doubles; plus a
     * field (2HW floats) when the caller gives none */
    size_t per_d = fast ? rs__diffeo_fast_scratch(plan) : ((size_t)2 * cut * cut + (size_t)cut * w) * sizeof(double);
    size_t per_f = fields ? 0 : (2 * hw * sizeof(float) + 63) & ~(size_t)63;
    char *scr = rs_alloc((size_t)nt * (per_d + per_f));
    if (!scr) return rs_error(RS_ERR_NOMEM, "rs_diffeo_batch: out of memory for %d threads' scratch", nt);
#pragma omp parallel num_threads(nt)
    {
        char *mine = scr + (size_t)omp_get_thread_num() * (per_d + per_f);
        if (fast) rs__diffeo_fast_prepare(plan, mine);
#pragma omp for schedule(static)
        for (int64_t p = 0; p < b; p++) {
            float *dx = fields ? fields + (size_t)p * 2 * hw : (float *)(void *)(mine + per_d), *dy = dx + hw;
            if (fast) {
                rs__diffeo_fast_image(plan, o, indices[p], out + (size_t)p * chw, in + (size_t)p * chw, c, dx, dy,
                                      mine);
            } else {
                double *coef = (double *)(void *)mine, *tmp = coef + (size_t)2 * cut * cut;
                field_scratch(plan, o->T, o->seed, o->repeat, indices[p], dx, dy, coef, tmp);
                rs_remap(out + (size_t)p * chw, in + (size_t)p * chw, c, h, w, dx, dy, o->interp);
            }
        }
    }
    rs_free(scr);
    return RS_OK;
}

rs_status rs_diffeo_batch(const rs_diffeo_plan *plan, const rs_diffeo_opts *o, float *out, float *fields,
                          const float *in, int64_t b, int32_t c, const int64_t *indices) {
    return diffeo_batch(plan, o, out, fields, in, b, c, indices, 1);
}

rs_status rs__diffeo_batch_ref(const rs_diffeo_plan *plan, const rs_diffeo_opts *o, float *out, float *fields,
                               const float *in, int64_t b, int32_t c, const int64_t *indices) {
    return diffeo_batch(plan, o, out, fields, in, b, c, indices, 0);
}
