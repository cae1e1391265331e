/* tensor.c: shape helpers and the NCHW <-> NHWC conversions used at the engine's boundaries. */
#include "relstab/tensor.h"

#include <stdio.h>

int64_t rs_numel(int32_t ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int32_t i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

const char *rs_shape_str(char *buf, size_t len, int32_t ndim, const int64_t *shape) {
    size_t at = 0;
    buf[0] = 0;
    for (int32_t i = 0; i < ndim && at < len; i++) {
        int k = snprintf(buf + at, len - at, i ? "x%lld" : "%lld", (long long)shape[i]);
        if (k < 0) break;
        at += (size_t)k;
    }
    if (ndim == 0) snprintf(buf, len, "scalar");
    return buf;
}

void rs_nchw_to_nhwc(float *dst, const float *src, int64_t n, int64_t c, int64_t h, int64_t w) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t i = 0; i < n; i++)
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++)
                for (int64_t k = 0; k < c; k++)
                    dst[((i * h + y) * w + x) * c + k] = src[((i * c + k) * h + y) * w + x];
}

void rs_nhwc_to_nchw(float *dst, const float *src, int64_t n, int64_t c, int64_t h, int64_t w) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < c; k++)
            for (int64_t y = 0; y < h; y++)
                for (int64_t x = 0; x < w; x++)
                    dst[((i * c + k) * h + y) * w + x] = src[((i * h + y) * w + x) * c + k];
}
