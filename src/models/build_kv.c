/* build_kv.c: builds a zoo model from options given as text, "key=value" lines, for bindings to other languages
 * (python/relstab), which then need no copy of rs_model_opts. The keys are `train`'s model flags: channels,
 * height, img_width, size (height = img_width), classes, width (hidden units / channels H), depth, filter, stride,
 * strides (colon-separated per-block strides, or "released"), pbc, batch_norm, last_bias, alpha.
 * It does not load or initialise parameters (rs_net_build, rs_net_init, rs_net_load do). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/kv.h"
#include "relstab/models.h"

static rs_status kv_int(const char *key, const char *v, int64_t lo, int64_t hi, int32_t *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return rs_error(RS_ERR_ARG, "model option %s: expected an integer in [%lld, %lld], got '%s'", key,
                        (long long)lo, (long long)hi, v);
    *out = (int32_t)x;
    return RS_OK;
}

static rs_status kv_strides(rs_model_opts *o, const char *v) {
    if (!strcmp(v, "released")) {
        o->released_strides = 1;
        return RS_OK;
    }
    o->n_strides = 0;
    const char *p = v;
    while (*p) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 1 || x > 64 || (*end && *end != ':') || o->n_strides == RS_MODEL_MAX_BLOCKS)
            return rs_error(RS_ERR_ARG, "model option strides: expected up to %d colon-separated integers in [1, 64], "
                            "got '%s'", RS_MODEL_MAX_BLOCKS, v);
        o->strides[o->n_strides++] = (int32_t)x;
        p = *end ? end + 1 : end;
    }
    return o->n_strides ? RS_OK : rs_error(RS_ERR_ARG, "model option strides: empty");
}

static rs_status kv_set(rs_model_opts *o, const char *k, const char *v) {
    if (!strcmp(k, "channels")) return kv_int(k, v, 1, 4096, &o->channels);
    if (!strcmp(k, "height")) return kv_int(k, v, 1, 65536, &o->height);
    if (!strcmp(k, "img_width")) return kv_int(k, v, 1, 65536, &o->width);
    if (!strcmp(k, "size")) {
        RS_TRY(kv_int(k, v, 1, 65536, &o->height));
        o->width = o->height;
        return RS_OK;
    }
    if (!strcmp(k, "classes")) return kv_int(k, v, 1, 1 << 20, &o->classes);
    if (!strcmp(k, "width")) return kv_int(k, v, 1, 1 << 20, &o->hidden);
    if (!strcmp(k, "depth")) return kv_int(k, v, 1, RS_MODEL_MAX_BLOCKS, &o->depth);
    if (!strcmp(k, "filter")) return kv_int(k, v, 1, 1024, &o->filter_size);
    if (!strcmp(k, "stride")) return kv_int(k, v, 1, 64, &o->stride);
    if (!strcmp(k, "pbc")) return kv_int(k, v, 0, 1, &o->pbc);
    if (!strcmp(k, "batch_norm")) return kv_int(k, v, 0, 1, &o->batch_norm);
    if (!strcmp(k, "last_bias")) return kv_int(k, v, 0, 1, &o->last_bias);
    if (!strcmp(k, "strides")) return kv_strides(o, v);
    if (!strcmp(k, "alpha")) {
        char *end;
        o->alpha = strtod(v, &end);
        if (end == v || *end || !(o->alpha > 0)) return rs_error(RS_ERR_ARG, "model option alpha: expected a positive number, got '%s'", v);
        return RS_OK;
    }
    return rs_error(RS_ERR_ARG, "unknown model option '%s' (channels, height, img_width, size, classes, width, depth, "
                                "filter, stride, strides, pbc, batch_norm, last_bias, alpha)", k);
}

static rs_status kv_set_any(void *o, const char *k, const char *v) { return kv_set(o, k, v); }

rs_status rs_model_build_kv(const char *name, const char *options, rs_net **out) {
    *out = NULL;
    rs_model_opts o;
    rs_model_opts_init(&o);
    RS_TRY(rs_kv_each(options, "model option", kv_set_any, &o));
    return rs_model_build(name, &o, out);
}
