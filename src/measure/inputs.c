/* inputs.c: the clean, deformed and noisy inputs of a probe set, batch by batch or all at once, from the dataset
 * and the perturbations of perturb.h. Every input is a function of (dataset index, seed, repeat) only, so a batch
 * holds the same bits whatever its size, except for the rectified noise, whose sigma is a probe-set average by
 * definition: that one is made for the whole probe set at once. It does not run nets. */
#include <stdio.h>
#include <string.h>

#include "measure/measure_internal.h"
#include "relstab/io.h"

const char *mv_name(mv_kind m) {
    return m == MV_TRANSLATE2D ? "translate2d" : m == MV_TRANSLATE1D ? "translate1d" : "diffeo";
}

static rs_status resolve_move(gen *g) {
    const rs_dataset *ds = g->ds;
    const rs_measure_opts *o = g->o;
    int task = ds->task.kind;
    /* the reference: on twopoints, the local translations unless nearest interpolation is asked for, which
     * means the max-entropy diffeo with nearest remap (SPEC 2.5) */
    int auto_translate = task == 2 || (task == 1 && o->interp != RS_INTERP_NEAREST);
    if (o->move == RS_MOVE_TRANSLATE || (o->move == RS_MOVE_AUTO && auto_translate)) {
        if (!task)
            return rs_error(RS_ERR_ARG, "local translations need a scale-detection task (twopoints or scale1d), "
                                        "not %s: use the diffeo", ds->spec);
        g->move = task == 1 ? MV_TRANSLATE2D : MV_TRANSLATE1D;
        g->T = 0;
        return RS_OK;
    }
    g->move = MV_DIFFEO;
    if (g->h < 2 || g->w < 2)
        return rs_error(RS_ERR_ARG, "%s has %dx%d images: the max-entropy diffeo needs 2-D images (1-D signals "
                                    "take the local translations)", ds->spec, g->h, g->w);
    int32_t n = g->h > g->w ? g->h : g->w;
    if (o->T > 0) g->T = o->T;
    else RS_TRY(rs_diffeo_T_of_delta(o->delta, n, o->cut, &g->T));
    RS_TRY(rs_diffeo_plan_init(&g->plan, g->h, g->w, o->cut));
    g->have_plan = 1;
    g->smooth = o->interp == RS_INTERP_GAUSSIAN;
    return RS_OK;
}

rs_status gen_init(gen *g, const rs_dataset *ds, const rs_measure_opts *o, int32_t bmax) {
    memset(g, 0, sizeof *g);
    g->ds = ds;
    g->o = o;
    g->c = ds->channels, g->h = ds->height, g->w = ds->width;
    g->d = (int64_t)g->c * g->h * g->w;
    g->bmax = bmax;
    if (o->noise == RS_NOISE_NORM && !(o->noise_norm >= 0))
        return rs_error(RS_ERR_ARG, "the noise norm must be >= 0, got %g", o->noise_norm);
    rs_status s = resolve_move(g);
    if (s) {
        gen_free(g);
        return s;
    }
    g->pos = rs_alloc((size_t)bmax * 4 * sizeof(int32_t));
    g->raw = g->smooth ? rs_alloc((size_t)bmax * (size_t)g->d * sizeof(float)) : NULL;
    if (!g->pos || (g->smooth && !g->raw)) {
        gen_free(g);
        return rs_error(RS_ERR_NOMEM, "out of memory for the probe inputs");
    }
    return RS_OK;
}

void gen_free(gen *g) {
    if (g->have_plan) rs_diffeo_plan_free(&g->plan);
    rs_free(g->raw), rs_free(g->pos), rs_free(g->x), rs_free(g->xd), rs_free(g->xn), rs_free(g->xraw);
    memset(g, 0, sizeof *g);
}

/* The deformed images of n probe images (dataset indices idx) for repeat r: xd (n, d) from raw (the images before
 * smoothing, for the diffeo). */
static rs_status make_deformed(gen *g, const int64_t *idx, int32_t n, uint32_t r, const float *raw, float *xd) {
    const rs_dataset *ds = g->ds;
    if (g->move == MV_DIFFEO) {
        rs_diffeo_opts d = {.T = g->T, .interp = g->o->interp, .seed = g->o->seed, .repeat = r};
        return rs_diffeo_batch(&g->plan, &d, xd, NULL, raw, n, g->c, idx);
    }
    int32_t *pos = g->pos;
    for (int32_t p = 0; p < n; p++) {
        int32_t rc[4];
        rs_dataset_task_points(ds, idx[p], rc);
        int swap = rc[0] * g->w + rc[1] > rc[2] * g->w + rc[3]; /* pixel 0 = the smaller row-major index */
        int32_t *q = pos + 4 * p;
        q[0] = rc[swap ? 2 : 0], q[1] = rc[swap ? 3 : 1], q[2] = rc[swap ? 0 : 2], q[3] = rc[swap ? 1 : 3];
    }
    if (g->move == MV_TRANSLATE2D) {
        RS_TRY(rs_translate2d_positions(pos, n, g->h, g->w, idx, g->o->seed, r));
    } else {
        int32_t xi = (int32_t)ds->task.xi;
        for (int32_t p = 0; p < n; p++) { /* (n, 4) rows and columns -> (n, 2) columns, in place, forwards */
            int32_t a = pos[4 * p + 1], b = pos[4 * p + 3];
            pos[2 * p] = a, pos[2 * p + 1] = b;
        }
        RS_TRY(rs_translate1d_positions(pos, n, g->w, xi, idx, g->o->seed, r));
        for (int32_t p = n - 1; p >= 0; p--) { /* back to (n, 4), in place, backwards */
            int32_t a = pos[2 * p], b = pos[2 * p + 1];
            pos[4 * p] = 0, pos[4 * p + 1] = a, pos[4 * p + 2] = 0, pos[4 * p + 3] = b;
        }
    }
    return rs_dataset_batch_points(ds, idx, pos, n, 0, xd);
}

/* The noisy images (except the rectified noise, made for the whole set by make_whole). */
static rs_status make_noisy(gen *g, const int64_t *idx, int32_t n, uint32_t r, const float *x, const float *xd,
                            float *xn) {
    switch (g->o->noise) {
    case RS_NOISE_MATCHED: return rs_noise_matched(xn, NULL, x, xd, n, g->d, idx, g->o->seed, r);
    case RS_NOISE_NORM: return rs_noise_norm(xn, NULL, x, n, g->d, g->o->noise_norm, idx, g->o->seed, r);
    case RS_NOISE_DIFFEO: memcpy(xn, xd, (size_t)n * (size_t)g->d * sizeof(float)); return RS_OK;
    case RS_NOISE_RECTIFIED: break;
    }
    return rs_error(RS_ERR_ARG, "the rectified noise is made for the whole probe set (internal misuse)");
}

/* Clean images of n probe images into x; with smoothing, the raw images into raw and the smoothed ones into x. */
static rs_status make_clean(gen *g, const int64_t *idx, int32_t n, float *raw, float *x) {
    if (!g->smooth) return rs_dataset_batch(g->ds, idx, n, 0, x, NULL, NULL);
    RS_TRY(rs_dataset_batch(g->ds, idx, n, 0, raw, NULL, NULL));
    return rs_gaussian_smooth_batch(x, raw, n, g->c, g->h, g->w);
}

static rs_status make_whole(gen *g) {
    size_t d = (size_t)g->d, P = (size_t)g->P;
    for (int64_t p0 = 0; p0 < g->P; p0 += g->bmax) {
        int32_t n = (int32_t)(g->P - p0 < g->bmax ? g->P - p0 : g->bmax);
        const int64_t *idx = g->index + p0;
        float *x = g->x + (size_t)p0 * d, *raw = g->smooth ? g->xraw + (size_t)p0 * d : x;
        RS_TRY(make_clean(g, idx, n, raw, x));
        for (int32_t s = 0; s < g->K; s++) {
            float *xd = g->xd + ((size_t)s * P + (size_t)p0) * d, *xn = g->xn + ((size_t)s * P + (size_t)p0) * d;
            RS_TRY(make_deformed(g, idx, n, g->repeats[s], raw, xd));
            if (g->o->noise != RS_NOISE_RECTIFIED) RS_TRY(make_noisy(g, idx, n, g->repeats[s], x, xd, xn));
        }
    }
    if (g->o->noise == RS_NOISE_RECTIFIED)
        for (int32_t s = 0; s < g->K; s++)
            RS_TRY(rs_noise_rectified(g->xn + (size_t)s * P * d, NULL, g->x, g->xd + (size_t)s * P * d, g->P, g->d,
                                      g->index, g->o->seed, g->repeats[s], NULL));
    return RS_OK;
}

rs_status gen_start(gen *g, const int64_t *index, int64_t P, const uint32_t *repeats, int32_t K, int32_t whole) {
    rs_free(g->x), rs_free(g->xd), rs_free(g->xn), rs_free(g->xraw);
    g->x = g->xd = g->xn = g->xraw = NULL;
    g->index = index, g->P = P, g->repeats = repeats, g->K = K;
    g->whole = whole || g->o->noise == RS_NOISE_RECTIFIED;
    size_t rows = g->whole ? (size_t)P : (size_t)g->bmax, per, all;
    if (rs_mul_size(rows, (size_t)g->d, &per) || rs_mul_size(per, (size_t)K * sizeof(float), &all))
        return rs_error(RS_ERR_NOMEM, "the probe inputs of %lld images are too large", (long long)rows);
    g->x = rs_alloc(per * sizeof(float));
    g->xd = rs_alloc(all);
    g->xn = rs_alloc(all);
    if (g->whole && g->smooth) g->xraw = rs_alloc(per * sizeof(float));
    if (!g->x || !g->xd || !g->xn || (g->whole && g->smooth && !g->xraw))
        return rs_error(RS_ERR_NOMEM, "out of memory for the inputs of %lld probe images (%zu MB)", (long long)rows,
                        (3 * all) >> 20);
    return g->whole ? make_whole(g) : RS_OK;
}

rs_status gen_batch(gen *g, int64_t pos0, int32_t n, const float **x, const float **xd, const float **xn) {
    RS_ASSERT(pos0 >= 0 && n > 0 && pos0 + n <= g->P);
    size_t d = (size_t)g->d;
    if (g->whole) {
        *x = g->x + (size_t)pos0 * d;
        for (int32_t s = 0; s < g->K; s++) {
            xd[s] = g->xd + ((size_t)s * (size_t)g->P + (size_t)pos0) * d;
            xn[s] = g->xn + ((size_t)s * (size_t)g->P + (size_t)pos0) * d;
        }
        return RS_OK;
    }
    RS_ASSERT(n <= g->bmax);
    const int64_t *idx = g->index + pos0;
    float *raw = g->smooth ? g->raw : g->x;
    RS_TRY(make_clean(g, idx, n, raw, g->x));
    *x = g->x;
    for (int32_t s = 0; s < g->K; s++) {
        float *dd = g->xd + (size_t)s * g->bmax * d, *nn = g->xn + (size_t)s * g->bmax * d;
        RS_TRY(make_deformed(g, idx, n, g->repeats[s], raw, dd));
        RS_TRY(make_noisy(g, idx, n, g->repeats[s], g->x, dd, nn));
        xd[s] = dd, xn[s] = nn;
    }
    return RS_OK;
}

static rs_status dump_one(const char *dir, const char *name, const char *suffix, int32_t nd, const int64_t *shape,
                          rs_dtype t, const void *data) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s%s.npy", dir, name, suffix) >= (int)sizeof path)
        return rs_error(RS_ERR_ARG, "--dump: the directory name is too long");
    return rs_npy_write(path, t, nd, shape, data);
}

rs_status gen_dump(const gen *g, const char *dir, const char *suffix) {
    RS_ASSERT(g->whole);
    RS_TRY(rs_mkdir_p(dir));
    int64_t one[4] = {g->P, g->c, g->h, g->w}, many[5] = {g->K, g->P, g->c, g->h, g->w}, idx[1] = {g->P};
    int32_t nd = g->K > 1 ? 5 : 4;
    const int64_t *sh = g->K > 1 ? many : one;
    RS_TRY(dump_one(dir, "index", suffix, 1, idx, RS_DTYPE_I64, g->index));
    RS_TRY(dump_one(dir, "probe", suffix, 4, one, RS_DTYPE_F32, g->x));
    if (g->smooth) RS_TRY(dump_one(dir, "raw", suffix, 4, one, RS_DTYPE_F32, g->xraw));
    RS_TRY(dump_one(dir, "deformed", suffix, nd, sh, RS_DTYPE_F32, g->xd));
    return dump_one(dir, "noisy", suffix, nd, sh, RS_DTYPE_F32, g->xn);
}
