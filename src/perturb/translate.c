/* translate.c: the "diffeomorphisms" of the two scale-detection tasks (SPEC.md 2.5): local translations of the two
 * active pixels of a 2-D task image (one step to one of the 8 neighbours) and the block-preserving +-1 moves of
 * the 1-D task. On positions, or on images whose active pixels are found as the two largest values.
 * It does not generate task images (src/data) and does not recompute labels (the moves never need it: the 2-D
 * reference keeps the labels, the 1-D moves preserve the block). Serial: a task image is a few hundred pixels. */
#include "relstab/perturb.h"

#include <math.h>

static inline int32_t clampi(int64_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : (int32_t)v); }

static rs_status check_batch(const char *fn, int64_t b, const int64_t *indices) {
    if (b < 0) return rs_error(RS_ERR_ARG, "%s: negative batch size %lld", fn, (long long)b);
    for (int64_t p = 0; p < b; p++)
        if (indices[p] < 0 || (uint64_t)indices[p] > UINT64_MAX / 4)
            return rs_error(RS_ERR_ARG, "%s: image index %lld (batch position %lld) out of range", fn,
                            (long long)indices[p], (long long)p);
    return RS_OK;
}

/* Step (dr, dc) of active pixel k of image `index`: round(g/||g||) with g = (g_row, g_col) ~ N(0, I_2). */
static void step2d(uint64_t seed, uint32_t repeat, int64_t index, int k, int32_t *dr, int32_t *dc) {
    uint64_t stream = rs_stream(RS_PURPOSE_TRANSLATE, repeat, 0), base = (uint64_t)index * 4 + 2 * (uint64_t)k;
    double g0 = rs_normal(seed, stream, base), g1 = rs_normal(seed, stream, base + 1);
    double n = sqrt(g0 * g0 + g1 * g1);
    *dr = n > 0 ? (int32_t)nearbyint(g0 / n) : 0; /* half to even, like torch.round; a tie has probability 0 */
    *dc = n > 0 ? (int32_t)nearbyint(g1 / n) : 0;
}

/* Step of pixel k of a 1-D signal: -1 or +1. */
static int32_t step1d(uint64_t seed, uint32_t repeat, int64_t index, int k) {
    uint64_t stream = rs_stream(RS_PURPOSE_TRANSLATE, repeat, 1);
    return rs_uniform(seed, stream, (uint64_t)index * 2 + (uint64_t)k) < 0.5 ? -1 : 1;
}

static int32_t move1d(int32_t r, int32_t s, int32_t len, int32_t xi) {
    int32_t q = clampi((int64_t)r + s, 0, len - 1);
    return q / xi == r / xi ? q : r;
}

rs_status rs_translate2d_positions(int32_t *pos, int64_t b, int32_t h, int32_t w, const int64_t *indices,
                                   uint64_t seed, uint32_t repeat) { // pos: (B, 2, 2)
    RS_TRY(check_batch("rs_translate2d_positions", b, indices));
    if (h < 1 || w < 1) return rs_error(RS_ERR_ARG, "rs_translate2d_positions: bad image size %dx%d", h, w);
    for (int64_t p = 0; p < b; p++)
        for (int k = 0; k < 2; k++) {
            int32_t *rc = &pos[(size_t)p * 4 + 2 * k];
            if (rc[0] < 0 || rc[0] >= h || rc[1] < 0 || rc[1] >= w)
                return rs_error(RS_ERR_ARG, "rs_translate2d_positions: pixel (%d, %d) of image %lld is outside %dx%d",
                                rc[0], rc[1], (long long)indices[p], h, w);
        }
    for (int64_t p = 0; p < b; p++)
        for (int k = 0; k < 2; k++) {
            int32_t *rc = &pos[(size_t)p * 4 + 2 * k], dr, dc;
            step2d(seed, repeat, indices[p], k, &dr, &dc);
            rc[0] = clampi((int64_t)rc[0] + dr, 0, h - 1);
            rc[1] = clampi((int64_t)rc[1] + dc, 0, w - 1);
        }
    return RS_OK;
}

rs_status rs_translate1d_positions(int32_t *pos, int64_t b, int32_t len, int32_t xi, const int64_t *indices,
                                   uint64_t seed, uint32_t repeat) { // pos: (B, 2)
    RS_TRY(check_batch("rs_translate1d_positions", b, indices));
    if (len < 1 || xi < 1) return rs_error(RS_ERR_ARG, "rs_translate1d_positions: bad L = %d or xi = %d", len, xi);
    for (int64_t p = 0; p < 2 * b; p++)
        if (pos[p] < 0 || pos[p] >= len)
            return rs_error(RS_ERR_ARG, "rs_translate1d_positions: pixel %d of image %lld is outside [0, %d)", pos[p],
                            (long long)indices[p / 2], len);
    for (int64_t p = 0; p < b; p++)
        for (int k = 0; k < 2; k++)
            pos[2 * p + k] = move1d(pos[2 * p + k], step1d(seed, repeat, indices[p], k), len, xi);
    return RS_OK;
}

/* The two active pixels of a two-point image of n values: the two largest (i0 < i1), every other value equal to
 * one background bg below both. Returns RS_ERR_ARG naming the image otherwise. */
static rs_status find_two(const float *a, int64_t n, int64_t index, int64_t *i0, int64_t *i1, float *bg) {
    if (n < 3) return rs_error(RS_ERR_ARG, "translate: image %lld has %lld pixels, fewer than 3", (long long)index,
                               (long long)n);
    int64_t t0 = -1, t1 = -1; /* positions of the largest and second largest (first occurrence wins ties) */
    for (int64_t j = 0; j < n; j++) {
        if (t0 < 0 || a[j] > a[t0]) {
            t1 = t0;
            t0 = j;
        } else if (t1 < 0 || a[j] > a[t1]) {
            t1 = j;
        }
    }
    int64_t lo = t0 < t1 ? t0 : t1, hi = t0 < t1 ? t1 : t0;
    int64_t first = lo == 0 ? (hi == 1 ? 2 : 1) : 0;
    float b = a[first];
    for (int64_t j = 0; j < n; j++) {
        if (j == lo || j == hi) continue;
        if (!(a[j] == b))
            return rs_error(RS_ERR_ARG, "translate: image %lld is not a two-point image: pixel %lld = %g differs from "
                                        "the background %g", (long long)index, (long long)j, (double)a[j], (double)b);
    }
    if (!(a[lo] > b && a[hi] > b))
        return rs_error(RS_ERR_ARG, "translate: image %lld does not have two active pixels above its background %g",
                        (long long)index, (double)b);
    *i0 = lo;
    *i1 = hi;
    *bg = b;
    return RS_OK;
}

/* out = bg everywhere, v0 at q0 and v1 at q1 (v0 + v1 - bg if q0 == q1, as the raw images add). */
static void render_two(float *out, int64_t n, float bg, int64_t q0, float v0, int64_t q1, float v1) {
    for (int64_t j = 0; j < n; j++) out[j] = bg;
    out[q0] = v0;
    out[q1] = q1 == q0 ? (float)((double)v0 + (double)v1 - (double)bg) : v1;
}

rs_status rs_translate2d_batch(float *out, const float *in, int64_t b, int32_t h, int32_t w,
                               const int64_t *indices, uint64_t seed, uint32_t repeat) { // out, in: (B, 1, H, W)
    RS_TRY(check_batch("rs_translate2d_batch", b, indices));
    if (h < 1 || w < 1) return rs_error(RS_ERR_ARG, "rs_translate2d_batch: bad image size %dx%d", h, w);
    int64_t n = (int64_t)h * w;
    for (int64_t p = 0; p < b; p++) {
        const float *a = in + (size_t)p * n;
        int64_t i[2];
        float bg;
        RS_TRY(find_two(a, n, indices[p], &i[0], &i[1], &bg));
        float v[2] = {a[i[0]], a[i[1]]};
        int64_t q[2];
        for (int k = 0; k < 2; k++) {
            int32_t dr, dc;
            step2d(seed, repeat, indices[p], k, &dr, &dc);
            int32_t r = clampi(i[k] / w + dr, 0, h - 1), c = clampi(i[k] % w + dc, 0, w - 1);
            q[k] = (int64_t)r * w + c;
        }
        render_two(out + (size_t)p * n, n, bg, q[0], v[0], q[1], v[1]);
    }
    return RS_OK;
}

rs_status rs_translate1d_batch(float *out, const float *in, int64_t b, int32_t len, int32_t xi,
                               const int64_t *indices, uint64_t seed, uint32_t repeat) { // out, in: (B, L)
    RS_TRY(check_batch("rs_translate1d_batch", b, indices));
    if (len < 1 || xi < 1) return rs_error(RS_ERR_ARG, "rs_translate1d_batch: bad L = %d or xi = %d", len, xi);
    for (int64_t p = 0; p < b; p++) {
        const float *a = in + (size_t)p * len;
        int64_t i[2];
        float bg;
        RS_TRY(find_two(a, len, indices[p], &i[0], &i[1], &bg));
        float v[2] = {a[i[0]], a[i[1]]};
        int64_t q[2];
        for (int k = 0; k < 2; k++) q[k] = move1d((int32_t)i[k], step1d(seed, repeat, indices[p], k), len, xi);
        render_two(out + (size_t)p * len, len, bg, q[0], v[0], q[1], v[1]);
    }
    return RS_OK;
}
