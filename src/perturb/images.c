/* images.c: the max-entropy diffeo of a batch of given images in one call (plan made, used and freed here), for
 * bindings to other languages (python/relstab). Same fields, same remap, same (seed, index, repeat) addressing as
 * rs_diffeo_batch, which it calls: the result is bit-identical to `relstab diffeo` and to measure's inputs.
 * It does not choose T (rs_diffeo_T_of_delta does) or make noise (noise.c). */
#include "relstab/perturb.h"

rs_status rs_diffeo_images(float *out, float *fields, const float *in, int64_t b, int32_t c, int32_t h, int32_t w,
                           const int64_t *indices, double T, int32_t cut, int32_t interp, uint64_t seed,
                           uint32_t repeat) {
    if (b < 1) return rs_error(RS_ERR_ARG, "diffeo: an empty batch (0 images)");
    if (c < 1) return rs_error(RS_ERR_ARG, "diffeo: images need at least one channel, got %d", c);
    if (interp < RS_INTERP_LINEAR || interp > RS_INTERP_GAUSSIAN)
        return rs_error(RS_ERR_ARG, "diffeo: unknown interpolation %d", interp);
    if (!(T >= 0) || T > 1e6) return rs_error(RS_ERR_ARG, "diffeo: the temperature must be finite and >= 0, got %g", T);
    for (int64_t i = 0; i < b; i++)
        if (indices[i] < 0) return rs_error(RS_ERR_ARG, "diffeo: image index %lld is negative", (long long)indices[i]);
    rs_diffeo_plan plan;
    RS_TRY(rs_diffeo_plan_init(&plan, h, w, cut));
    rs_diffeo_opts o = {.T = T, .interp = (rs_interp)interp, .seed = seed, .repeat = repeat};
    rs_status s = rs_diffeo_batch(&plan, &o, out, fields, in, b, c, indices);
    rs_diffeo_plan_free(&plan);
    return s;
}
