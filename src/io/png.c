/* png.c: 8-bit PNG images (grey or RGB) through stb_image_write, encoded in memory and written atomically, and
 * grids of float images (inputs, their deformations, noise) scaled to 0..255 for looking at.
 * It writes only: relstab never reads PNG. This file holds the single stb_image_write implementation. */
#include "relstab/io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <stb_image_write.h>
#pragma GCC diagnostic pop

#define PNG_MAX_SIDE 32768           /* pixels: far above any grid relstab draws */
#define PNG_MAX_BYTES (1u << 30)      /* raw pixel bytes: stb_image_write counts in int */

/* A growing byte buffer fed by stb's write callback. */
typedef struct {
    uint8_t *data;
    size_t len, cap;
    int failed;
} png_sink;

static void png_sink_write(void *ctx, void *data, int size) {
    png_sink *s = ctx;
    if (s->failed || size <= 0) return;
    if (s->len + (size_t)size > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + (size_t)size) cap *= 2;
        uint8_t *p = realloc(s->data, cap);
        if (!p) {
            s->failed = 1;
            return;
        }
        s->data = p;
        s->cap = cap;
    }
    memcpy(s->data + s->len, data, (size_t)size);
    s->len += (size_t)size;
}

rs_status rs_png_write(const char *path, int32_t w, int32_t h, int32_t channels, const uint8_t *pixels) {
    if (w <= 0 || h <= 0 || w > PNG_MAX_SIDE || h > PNG_MAX_SIDE || (channels != 1 && channels != 3) || !pixels)
        return rs_error(RS_ERR_ARG, "%s: cannot write a %dx%d image with %d channels (sides 1..%d, channels 1 or 3)",
                        path, w, h, channels, PNG_MAX_SIDE);
    if ((uint64_t)w * (uint64_t)h * (uint64_t)channels > PNG_MAX_BYTES)
        return rs_error(RS_ERR_ARG, "%s: a %dx%dx%d image is too large for a PNG here", path, w, h, channels);
    png_sink sink = {0};
    int ok = stbi_write_png_to_func(png_sink_write, &sink, w, h, channels, pixels, w * channels);
    rs_status s = RS_OK;
    if (!ok || sink.failed) s = rs_error(RS_ERR_NOMEM, "%s: PNG encoding failed (out of memory)", path);
    else s = rs_write_file_atomic(path, sink.data, sink.len);
    free(sink.data);
    return s;
}

/* Maps v to 0..255 over [lo, hi] (lo < hi), rounding to nearest, clamping; NaN gives 0. */
static uint8_t to_byte(float v, double lo, double hi) {
    double t = ((double)v - lo) / (hi - lo) * 255.0;
    if (!(t > 0)) return 0;
    if (t >= 255) return 255;
    return (uint8_t)lround(t);
}

/* Draws image img (c, h, w) into the grid at pixel (x0, y0), scaled by [lo, hi] or by its own range. */
static void draw_cell(uint8_t *grid, int64_t gw, const float *img, int32_t c, int32_t h, int32_t w, int64_t x0,
                      int64_t y0, float lo, float hi) {
    double a = lo, b = hi;
    int64_t plane = (int64_t)h * w;
    if (lo == hi) { /* the image's own finite min and max */
        a = INFINITY;
        b = -INFINITY;
        for (int64_t i = 0; i < plane * c; i++)
            if (isfinite(img[i])) {
                a = fmin(a, img[i]);
                b = fmax(b, img[i]);
            }
    }
    for (int32_t y = 0; y < h; y++)
        for (int32_t x = 0; x < w; x++)
            for (int32_t ch = 0; ch < c; ch++) {
                float v = img[ch * plane + (int64_t)y * w + x];
                /* a constant image (no range to scale by) is drawn mid-grey */
                uint8_t p = a < b ? to_byte(v, a, b) : 128;
                grid[((y0 + y) * gw + x0 + x) * c + ch] = p;
            }
}

rs_status rs_png_write_grid(const char *path, const float *images, int32_t n, int32_t c, int32_t h, int32_t w,
                            int32_t rows, int32_t cols, float lo, float hi) {
    if (n < 0 || (c != 1 && c != 3) || h <= 0 || w <= 0 || rows <= 0 || cols <= 0 || (n > 0 && !images))
        return rs_error(RS_ERR_ARG, "%s: bad image grid (n %d, c %d, h %d, w %d, rows %d, cols %d)", path, n, c, h, w,
                        rows, cols);
    if ((int64_t)rows * cols < n)
        return rs_error(RS_ERR_ARG, "%s: %d images do not fit a %dx%d grid", path, n, rows, cols);
    if (!isfinite(lo) || !isfinite(hi) || hi < lo)
        return rs_error(RS_ERR_ARG, "%s: bad intensity range [%g, %g]", path, (double)lo, (double)hi);
    /* one-pixel white lines between cells, none around the border */
    int64_t gw = (int64_t)cols * w + cols - 1, gh = (int64_t)rows * h + rows - 1;
    if (gw > PNG_MAX_SIDE || gh > PNG_MAX_SIDE)
        return rs_error(RS_ERR_ARG, "%s: a %lldx%lld grid is too large", path, (long long)gw, (long long)gh);
    uint8_t *grid = rs_alloc((size_t)(gw * gh * c)); // (gh, gw, c)
    if (!grid) return rs_error(RS_ERR_NOMEM, "%s: cannot allocate the grid", path);
    memset(grid, 255, (size_t)(gw * gh * c)); /* separators and empty cells stay white */
    int64_t per = (int64_t)c * h * w;
    for (int32_t i = 0; i < n; i++)
        draw_cell(grid, gw, images + i * per, c, h, w, (int64_t)(i % cols) * (w + 1), (int64_t)(i / cols) * (h + 1),
                  lo, hi);
    rs_status s = rs_png_write(path, (int32_t)gw, (int32_t)gh, c, grid);
    rs_free(grid);
    return s;
}
