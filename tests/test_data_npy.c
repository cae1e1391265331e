/* test_data_npy.c: the NPY dataset loader (src/data/npy.c): uint8 and float32 images in NCHW, NHWC and (N, H, W)
 * written with rs_npy_write and read back exactly (the layout guessed or given); label arrays of every accepted
 * integer type and shape; and the refusals: counts that disagree, float64 images, NaN pixels, negative labels, test
 * labels beyond the training classes, missing files. */
#include "data_testutil.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "relstab/data.h"
#include "relstab/io.h"

#define N 4
#define C 3
#define H 5
#define W 6

static float value(int i, int c, int y, int x) { return (float)(i * 1000 + c * 100 + y * 10 + x) * 0.25f; }

/* Images (N, C, H, W) written as layout nhwc (0/1) with dtype; labels int64 (N). */
static void write_images(const char *dir, const char *name, rs_dtype dtype, int nhwc, int channels) {
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int three = channels == 0; /* (N, H, W): one channel */
    if (three) channels = 1;
    size_t per = (size_t)channels * H * W;
    float *f = rs_alloc(N * per * sizeof(float));
    uint8_t *u = rs_alloc(N * per);
    for (int i = 0; i < N; i++)
        for (int c = 0; c < channels; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    size_t at = nhwc ? (((size_t)i * H + y) * W + x) * channels + c : (((size_t)i * channels + c) * H + y) * W + x;
                    f[at] = value(i, c, y, x);
                    u[at] = (uint8_t)((int)value(i, c, y, x) % 251);
                }
    int64_t shape4[4] = {N, nhwc ? H : channels, nhwc ? W : H, nhwc ? channels : W}, shape3[3] = {N, H, W};
    assert_int_equal(rs_npy_write(path, dtype, three ? 3 : 4, three ? shape3 : shape4,
                                  dtype == RS_DTYPE_U8 ? (const void *)u : (const void *)f),
                     RS_OK);
    rs_free(f);
    rs_free(u);
}

static void write_labels(const char *dir, const char *name, rs_dtype dtype, int n, int two_d, int64_t offset) {
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int64_t l64[16];
    int32_t l32[16];
    uint8_t l8[16];
    for (int i = 0; i < n; i++) {
        int64_t v = (i * 3 + 1) % 7 + offset; /* 1, 4, 0, 3 (+ offset) */
        l64[i] = v;
        l32[i] = (int32_t)v;
        l8[i] = (uint8_t)v;
    }
    int64_t shape[2] = {n, 1};
    const void *data = dtype == RS_DTYPE_I64 ? (const void *)l64 : dtype == RS_DTYPE_I32 ? (const void *)l32 : l8;
    assert_int_equal(rs_npy_write(path, dtype, two_d ? 2 : 1, shape, data), RS_OK);
}

/* Reads split `split` of spec and checks every pixel and label against what write_images / write_labels wrote. */
static void check(const char *spec, int split, int channels, int is_u8) {
    rs_data_options o;
    rs_data_options_default(&o);
    o.norm = RS_NORM_NONE;
    rs_dataset *ds = NULL;
    rs_status st = rs_dataset_open(spec, split, &o, &ds);
    if (st) fprintf(stderr, "%s\n", rs_last_error());
    assert_int_equal(st, RS_OK);
    int c_exp = channels ? channels : 1;
    assert_int_equal(ds->n, N);
    assert_int_equal(ds->channels, c_exp);
    assert_int_equal(ds->height, H);
    assert_int_equal(ds->width, W);
    assert_int_equal(ds->classes, 5); /* 1 + the largest label, 4 */
    float x[N * C * H * W];
    int32_t y[N];
    int64_t idx[N] = {3, 1, 0, 2};
    assert_int_equal(rs_dataset_batch(ds, idx, N, 0, x, y, NULL), RS_OK);
    for (int b = 0; b < N; b++) {
        int i = (int)idx[b];
        assert_int_equal(y[b], (i * 3 + 1) % 7);
        for (int c = 0; c < c_exp; c++)
            for (int yy = 0; yy < H; yy++)
                for (int xx = 0; xx < W; xx++) {
                    float got = x[((b * c_exp + c) * H + yy) * W + xx];
                    float want = is_u8 ? (float)((int)value(i, c, yy, xx) % 251) / 255.0f : value(i, c, yy, xx);
                    assert_true(got == want);
                }
    }
    rs_dataset_free(ds);
}

static void test_roundtrips(void **state) {
    const struct {
        rs_dtype dtype;
        int nhwc, channels;
        rs_dtype ldtype;
        int l2d;
    } cases[] = {
        {RS_DTYPE_U8, 0, 3, RS_DTYPE_I64, 0}, {RS_DTYPE_U8, 1, 3, RS_DTYPE_I32, 1}, {RS_DTYPE_F32, 0, 3, RS_DTYPE_U8, 0},
        {RS_DTYPE_F32, 1, 3, RS_DTYPE_I64, 1}, {RS_DTYPE_F32, 0, 0, RS_DTYPE_I64, 0}, {RS_DTYPE_U8, 0, 1, RS_DTYPE_I64, 0},
        {RS_DTYPE_U8, 1, 1, RS_DTYPE_I64, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *dir = tu_tmpdir("npy");
        write_images(dir, "train_images.npy", cases[k].dtype, cases[k].nhwc, cases[k].channels);
        write_images(dir, "test_images.npy", cases[k].dtype, cases[k].nhwc, cases[k].channels);
        write_labels(dir, "train_labels.npy", cases[k].ldtype, N, cases[k].l2d, 0);
        write_labels(dir, "test_labels.npy", cases[k].ldtype, N, cases[k].l2d, 0);
        char spec[1200];
        /* (N, 1, H, W) vs (N, H, W, 1): the smaller axis is the channel axis, so these need no hint */
        snprintf(spec, sizeof spec, "npy:%s", dir);
        check(spec, RS_SPLIT_TRAIN, cases[k].channels, cases[k].dtype == RS_DTYPE_U8);
        check(spec, RS_SPLIT_TEST, cases[k].channels, cases[k].dtype == RS_DTYPE_U8);
        if (cases[k].channels) {
            snprintf(spec, sizeof spec, "npy:%s,layout=%s", dir, cases[k].nhwc ? "nhwc" : "nchw");
            check(spec, RS_SPLIT_TRAIN, cases[k].channels, cases[k].dtype == RS_DTYPE_U8);
        }
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        tu_system(cmd);
    }
    /* Keras-style names */
    const char *dir = tu_tmpdir("npyk");
    write_images(dir, "x_train.npy", RS_DTYPE_U8, 0, 3);
    write_labels(dir, "y_train.npy", RS_DTYPE_I64, N, 0, 0);
    char spec[1200];
    snprintf(spec, sizeof spec, "npy:%s", dir);
    check(spec, RS_SPLIT_TRAIN, 3, 1);
}


static void test_refusals(void **state) {
    const char *dir = tu_tmpdir("npybad");
    char spec[1200], path[1200];
    snprintf(spec, sizeof spec, "npy:%s", dir);
    expect_open_fails(spec, RS_SPLIT_TRAIN, "no train_images.npy (or x_train.npy) in");
    write_images(dir, "train_images.npy", RS_DTYPE_U8, 0, 3);
    expect_open_fails(spec, RS_SPLIT_TRAIN, "no train_labels.npy");
    write_labels(dir, "train_labels.npy", RS_DTYPE_I64, N - 1, 0, 0);
    expect_open_fails(spec, RS_SPLIT_TRAIN, "has 4 images but");
    write_labels(dir, "train_labels.npy", RS_DTYPE_I64, N, 0, -5);
    expect_open_fails(spec, RS_SPLIT_TRAIN, "label -4 of image 0 is outside");
    write_labels(dir, "train_labels.npy", RS_DTYPE_I64, N, 0, 0);
    /* float64 images */
    double d[N * H * W] = {0};
    int64_t shape[3] = {N, H, W};
    snprintf(path, sizeof path, "%s/train_images.npy", dir);
    assert_int_equal(rs_npy_write(path, RS_DTYPE_F64, 3, shape, d), RS_OK);
    expect_open_fails(spec, RS_SPLIT_TRAIN, "images must be uint8 or float32, this array is F64");
    /* a NaN pixel */
    float f[N * H * W] = {0};
    f[2 * H * W + 7] = NAN;
    assert_int_equal(rs_npy_write(path, RS_DTYPE_F32, 3, shape, f), RS_OK);
    expect_open_fails(spec, RS_SPLIT_TRAIN, "image 2 has a non-finite value");
    /* 2-D images */
    int64_t shape2[2] = {N, H * W};
    assert_int_equal(rs_npy_write(path, RS_DTYPE_U8, 2, shape2, f), RS_OK);
    expect_open_fails(spec, RS_SPLIT_TRAIN, "this array has 2 dimensions");
    /* float labels */
    write_images(dir, "train_images.npy", RS_DTYPE_U8, 0, 3);
    snprintf(path, sizeof path, "%s/train_labels.npy", dir);
    int64_t lshape[1] = {N};
    assert_int_equal(rs_npy_write(path, RS_DTYPE_F32, 1, lshape, f), RS_OK);
    expect_open_fails(spec, RS_SPLIT_TRAIN, "labels must be integers");
    /* test labels beyond the training classes (training labels stop at 6) */
    write_labels(dir, "train_labels.npy", RS_DTYPE_I64, N, 0, 0);
    write_images(dir, "test_images.npy", RS_DTYPE_U8, 0, 3);
    write_labels(dir, "test_labels.npy", RS_DTYPE_I64, N, 0, 3);
    expect_open_fails(spec, RS_SPLIT_TEST, "but the training labels");
    /* too many channels: (N, 20, 20, 20) is a tie, read as NCHW */
    static uint8_t cube[N * 20 * 20 * 20];
    int64_t cshape[4] = {N, 20, 20, 20};
    snprintf(path, sizeof path, "%s/train_images.npy", dir);
    assert_int_equal(rs_npy_write(path, RS_DTYPE_U8, 4, cshape, cube), RS_OK);
    expect_open_fails(spec, RS_SPLIT_TRAIN, "20 channels in the NCHW layout");
    snprintf(spec, sizeof spec, "npy:%s,layout=nhwc", dir);
    expect_open_fails(spec, RS_SPLIT_TRAIN, "20 channels in the NHWC layout");
    snprintf(spec, sizeof spec, "npy:%s,layout=chw", dir);
    expect_open_fails(spec, RS_SPLIT_TRAIN, "layout must be nchw or nhwc");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    tu_system(cmd);
}

/* Splits with different image shapes (more channels in the test images): both splits are refused at open. */
static void test_split_shapes_differ(void **state) {
    (void)state;
    const char *dir = tu_tmpdir("npysplit");
    char spec[1200];
    snprintf(spec, sizeof spec, "npy:%s", dir);
    write_images(dir, "train_images.npy", RS_DTYPE_U8, 0, 1);
    write_labels(dir, "train_labels.npy", RS_DTYPE_I64, N, 0, 0);
    write_images(dir, "test_images.npy", RS_DTYPE_U8, 0, 3);
    write_labels(dir, "test_labels.npy", RS_DTYPE_I64, N, 0, 0);
    expect_open_fails(spec, RS_SPLIT_TRAIN, "the training images are 1x5x6");
    expect_open_fails(spec, RS_SPLIT_TEST, "but the test images are 3x5x6");
    write_images(dir, "test_images.npy", RS_DTYPE_F32, 1, 3); /* NHWC float32: still 3x5x6 */
    expect_open_fails(spec, RS_SPLIT_TEST, "but the test images are 3x5x6");
    write_images(dir, "test_images.npy", RS_DTYPE_U8, 0, 0); /* (N, H, W): 1x5x6, agrees */
    rs_dataset *ds = NULL;
    assert_int_equal(rs_dataset_open(spec, RS_SPLIT_TEST, NULL, &ds), RS_OK);
    rs_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_shapes_differ),
        cmocka_unit_test(test_roundtrips),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
