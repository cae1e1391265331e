/* test_png.c: PNG output. The files are decoded here independently of stb: signature, chunk CRCs, IHDR, zlib
 * inflation of the IDAT data to exactly h * (1 + w * channels) bytes, then PNG's row filters undone, so the pixels
 * themselves are compared. Grids are checked for layout (cells, white separators, empty cells) and scaling. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "relstab/io.h"

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int paeth(int a, int b, int c) {
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Decodes an 8-bit grey or RGB, non-interlaced PNG file; returns the pixels (h, w, channels) or fails the test. */
static uint8_t *decode_png(const char *path, int *w, int *h, int *channels) {
    void *raw;
    size_t len;
    assert_int_equal(rs_read_file(path, &raw, &len, 0), RS_OK);
    const uint8_t *b = raw;
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    assert_true(len > 8);
    assert_memory_equal(b, sig, 8);
    uint8_t *idat = NULL;
    size_t n_idat = 0, at = 8;
    int seen_iend = 0;
    while (at + 12 <= len && !seen_iend) {
        uint32_t n = be32(b + at);
        assert_true(at + 12 + n <= len);
        const uint8_t *type = b + at + 4, *data = b + at + 8;
        assert_int_equal(crc32(crc32(0, NULL, 0), type, 4 + n), be32(data + n));
        if (!memcmp(type, "IHDR", 4)) {
            assert_int_equal(at, 8); /* IHDR comes first */
            assert_int_equal(n, 13);
            *w = (int)be32(data);
            *h = (int)be32(data + 4);
            assert_int_equal(data[8], 8); /* bit depth */
            assert_true(data[9] == 0 || data[9] == 2);
            *channels = data[9] == 0 ? 1 : 3;
            assert_int_equal(data[12], 0); /* not interlaced */
        } else if (!memcmp(type, "IDAT", 4)) {
            idat = realloc(idat, n_idat + n + 1);
            memcpy(idat + n_idat, data, n);
            n_idat += n;
        } else if (!memcmp(type, "IEND", 4)) {
            seen_iend = 1;
        }
        at += 12 + n;
    }
    assert_true(seen_iend);
    assert_int_equal(at, len);
    size_t stride = (size_t)*w * (size_t)*channels, want = (size_t)*h * (1 + stride);
    uLongf got = (uLongf)want + 16;
    uint8_t *filtered = malloc(got);
    assert_int_equal(uncompress(filtered, &got, idat, (uLong)n_idat), Z_OK);
    assert_int_equal(got, want); /* inflates to exactly one filter byte plus one row per line */
    uint8_t *px = calloc(1, stride * (size_t)*h + 1);
    int c = *channels;
    for (int y = 0; y < *h; y++) {
        const uint8_t *f = filtered + (size_t)y * (1 + stride);
        uint8_t *row = px + (size_t)y * stride, *up = y ? row - stride : NULL;
        assert_true(f[0] <= 4);
        for (size_t x = 0; x < stride; x++) {
            int a = x >= (size_t)c ? row[x - c] : 0, u = up ? up[x] : 0, ul = up && x >= (size_t)c ? up[x - c] : 0;
            int pred = f[0] == 0 ? 0 : f[0] == 1 ? a : f[0] == 2 ? u : f[0] == 3 ? (a + u) / 2 : paeth(a, u, ul);
            row[x] = (uint8_t)(f[1 + x] + pred);
        }
    }
    free(filtered);
    free(idat);
    rs_free(raw);
    return px;
}

static void test_write_pixels(void **state) {
    const char *dir = tu_tmpdir("png");
    char path[600];
    for (int c = 1; c <= 3; c += 2) {
        int w = 37, h = 11;
        uint8_t *px = malloc((size_t)w * h * c);
        uint64_t idx = 0;
        for (int i = 0; i < w * h * c; i++)
            px[i] = (uint8_t)rs_randint(5, rs_stream(RS_PURPOSE_TEST, 40, (uint32_t)c), &idx, 256);
        snprintf(path, sizeof path, "%s/img%d.png", dir, c);
        assert_int_equal(rs_png_write(path, w, h, c, px), RS_OK);
        int w2, h2, c2;
        uint8_t *back = decode_png(path, &w2, &h2, &c2);
        assert_int_equal(w2, w);
        assert_int_equal(h2, h);
        assert_int_equal(c2, c);
        assert_memory_equal(back, px, (size_t)w * h * c);
        free(back);
        free(px);
    }
}

/* A 2 x 2 grid of three 2 x 3 grey images: fixed range [0, 1] and per-image range. */
static void test_grid_grey(void **state) {
    const char *dir = tu_tmpdir("png-grid");
    char path[600];
    snprintf(path, sizeof path, "%s/grid.png", dir);
    float img[3][6] = {
        {0.0f, 0.5f, 1.0f, -1.0f, 2.0f, NAN},      /* clamping and NaN */
        {0.25f, 0.75f, 0.1f, 0.2f, 0.3f, 0.4f},
        {7.0f, 7.0f, 7.0f, 7.0f, 7.0f, 7.0f},        /* constant */
    };
    assert_int_equal(rs_png_write_grid(path, &img[0][0], 3, 1, 2, 3, 2, 2, 0.0f, 1.0f), RS_OK);
    int w, h, c;
    uint8_t *px = decode_png(path, &w, &h, &c);
    assert_int_equal(w, 2 * 3 + 1);
    assert_int_equal(h, 2 * 2 + 1);
    assert_int_equal(c, 1);
    /* cell 0 at (0, 0); round(255 * v) with ties away from zero: 0.5 -> 128, 0.25 -> 64, 0.75 -> 191 */
    const uint8_t cell0[6] = {0, 128, 255, 0, 255, 0}, cell1[6] = {64, 191, 26, 51, 77, 102};
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 3; x++) {
            assert_int_equal(px[y * w + x], cell0[y * 3 + x]);
            assert_int_equal(px[y * w + 4 + x], cell1[y * 3 + x]);
            assert_int_equal(px[(3 + y) * w + x], 255);     /* the constant image above 1 clamps */
            assert_int_equal(px[(3 + y) * w + 4 + x], 255); /* the empty fourth cell is white */
        }
    for (int y = 0; y < h; y++) assert_int_equal(px[y * w + 3], 255); /* vertical separator */
    for (int x = 0; x < w; x++) assert_int_equal(px[2 * w + x], 255); /* horizontal separator */
    free(px);

    /* lo == hi: each image by its own finite range; a constant image is mid-grey */
    assert_int_equal(rs_png_write_grid(path, &img[0][0], 3, 1, 2, 3, 1, 3, 0.0f, 0.0f), RS_OK);
    px = decode_png(path, &w, &h, &c);
    assert_int_equal(w, 3 * 3 + 2);
    assert_int_equal(h, 2);
    /* image 0 spans [-1, 2]: 0 -> 85, 0.5 -> 127.5 -> 128, 1 -> 170, -1 -> 0, 2 -> 255, NaN -> 0 */
    const uint8_t auto0[6] = {85, 128, 170, 0, 255, 0};
    for (int i = 0; i < 6; i++) assert_int_equal(px[(i / 3) * w + i % 3], auto0[i]);
    /* image 1 spans [0.1, 0.75] */
    for (int i = 0; i < 6; i++) {
        double t = (img[1][i] - (double)0.1f) / ((double)0.75f - (double)0.1f) * 255.0;
        assert_int_equal(px[(i / 3) * w + 4 + i % 3], (int)lround(t));
    }
    for (int i = 0; i < 6; i++) assert_int_equal(px[(i / 3) * w + 8 + i % 3], 128);
    free(px);
}

/* RGB: channel planes (NCHW) become interleaved pixels. */
static void test_grid_rgb(void **state) {
    const char *dir = tu_tmpdir("png-rgb");
    char path[600];
    snprintf(path, sizeof path, "%s/rgb.png", dir);
    float img[3 * 1 * 2] = {0.0f, 1.0f, /* R */ 1.0f, 0.0f, /* G */ 0.5f, 0.5f /* B */};
    assert_int_equal(rs_png_write_grid(path, img, 1, 3, 1, 2, 1, 1, 0.0f, 1.0f), RS_OK);
    int w, h, c;
    uint8_t *px = decode_png(path, &w, &h, &c);
    assert_true(w == 2 && h == 1 && c == 3);
    const uint8_t want[6] = {0, 255, 128, 255, 0, 128};
    assert_memory_equal(px, want, 6);
    free(px);
}

static void test_errors(void **state) {
    const char *dir = tu_tmpdir("png-err");
    char path[600];
    snprintf(path, sizeof path, "%s/x.png", dir);
    uint8_t px[12] = {0};
    float f[12] = {0};
    assert_int_equal(rs_png_write(path, 2, 2, 2, px), RS_ERR_ARG);
    assert_int_equal(rs_png_write(path, 0, 2, 1, px), RS_ERR_ARG);
    assert_int_equal(rs_png_write(path, 2, 2, 1, NULL), RS_ERR_ARG);
    assert_int_equal(rs_png_write_grid(path, f, 5, 1, 1, 2, 2, 2, 0, 1), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "do not fit"));
    assert_int_equal(rs_png_write_grid(path, f, 1, 1, 1, 2, 1, 1, 1, 0), RS_ERR_ARG);
    assert_int_equal(rs_png_write_grid(path, f, 1, 1, 1, 2, 1, 1, 0, INFINITY), RS_ERR_ARG);
    assert_int_equal(rs_png_write_grid(path, f, 1, 2, 1, 2, 1, 1, 0, 1), RS_ERR_ARG);
    snprintf(path, sizeof path, "%s/missing/x.png", dir);
    assert_int_equal(rs_png_write(path, 2, 2, 1, px), RS_ERR_IO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_pixels),
        cmocka_unit_test(test_grid_grey),
        cmocka_unit_test(test_grid_rgb),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
