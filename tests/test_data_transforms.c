/* test_data_transforms.c: the per-batch transforms (src/data/transforms.c) on a small random uint8 dataset
 * written here: the Gaussian corruption's norm statistics, its redraw per epoch and its presence in the test split;
 * random crop + flip (every output is the raw image shifted by an offset in [-pad, pad]^2 and maybe mirrored, the
 * flips are fair, every offset occurs, the test split is untouched); normalisation (given, computed, reference);
 * and that a batch is bit-identical whatever the thread count or the other images in it. */
#include "testutil.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "relstab/data.h"
#include "relstab/io.h"

#define N 256
#define C 3
#define H 8
#define W 8
#define CHW (C * H * W)

static char spec[1200];
static uint8_t raw[N * CHW];

static int setup(void **state) {
    const char *dir = tu_tmpdir("tfm");
    for (int i = 0; i < N * CHW; i++) {
        uint32_t r[4];
        rs_philox(99, 1, (uint64_t)i, r);
        raw[i] = (uint8_t)r[0];
    }
    int64_t shape[4] = {N, C, H, W}, lshape[1] = {N};
    int64_t labels[N];
    for (int i = 0; i < N; i++) labels[i] = i % 4;
    char path[1100];
    const char *names[2] = {"train", "test"};
    for (int s = 0; s < 2; s++) {
        snprintf(path, sizeof path, "%s/%s_images.npy", dir, names[s]);
        assert_int_equal(rs_npy_write(path, RS_DTYPE_U8, 4, shape, raw), RS_OK);
        snprintf(path, sizeof path, "%s/%s_labels.npy", dir, names[s]);
        assert_int_equal(rs_npy_write(path, RS_DTYPE_I64, 1, lshape, labels), RS_OK);
    }
    snprintf(spec, sizeof spec, "npy:%s", dir);
    return 0;
}

static int teardown(void **state) {
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", spec + 4);
    tu_system(cmd);
    return 0;
}

static rs_dataset *open_ok(int split, const rs_data_options *o) {
    rs_dataset *ds = NULL;
    rs_status st = rs_dataset_open(spec, split, o, &ds);
    if (st) fprintf(stderr, "%s\n", rs_last_error());
    assert_int_equal(st, RS_OK);
    return ds;
}

static float *batch_all(const rs_dataset *ds, uint64_t epoch) {
    float *x = rs_alloc((size_t)ds->n * CHW * sizeof(float));
    int64_t idx[N];
    for (int i = 0; i < ds->n; i++) idx[i] = i;
    assert_int_equal(rs_dataset_batch(ds, idx, (int32_t)ds->n, epoch, x, NULL, NULL), RS_OK);
    return x;
}

static void test_corruption(void **state) {
    rs_data_options o;
    rs_data_options_default(&o);
    o.norm = RS_NORM_NONE;
    rs_dataset *clean = open_ok(RS_SPLIT_TEST, &o);
    o.corrupt_std = 2.0;
    for (int split = 0; split < 2; split++) { /* test and train splits alike */
        rs_dataset *noisy = open_ok(split, &o);
        float *a = batch_all(clean, 0), *b = batch_all(noisy, 0), *b1 = batch_all(noisy, 1), *b0 = batch_all(noisy, 0);
        double mean_sq_norm = 0, s1 = 0;
        int64_t differ = 0;
        for (int i = 0; i < N; i++) {
            double sq = 0;
            for (int k = 0; k < CHW; k++) {
                double z = (double)b[i * CHW + k] - a[i * CHW + k];
                sq += z * z;
                s1 += z;
                differ += b1[i * CHW + k] != b[i * CHW + k];
            }
            mean_sq_norm += sq / N;
        }
        /* ||noise||^2 / std^2 ~ chi^2(CHW) / CHW: mean 1, sd sqrt(2 / CHW); over N images sd sqrt(2 / (CHW N)).
         * The float subtraction adds ~1e-7 relative, far below. 5 sd. */
        assert_true(fabs(mean_sq_norm / 4.0 - 1.0) < 5 * sqrt(2.0 / (CHW * N)));
        /* per-pixel mean: sd (std / sqrt(CHW)) / sqrt(N CHW) */
        assert_true(fabs(s1 / (N * CHW)) < 5 * (2.0 / sqrt(CHW)) / sqrt((double)N * CHW));
        assert_true(differ > N * CHW - 10);            /* redrawn at another epoch */
        assert_memory_equal(b, b0, N * CHW * sizeof(float)); /* and the same at the same epoch */
        rs_free(a);
        rs_free(b);
        rs_free(b1);
        rs_free(b0);
        rs_dataset_free(noisy);
    }
    rs_dataset_free(clean);
}

/* Finds (dy, dx, flip) with out = raw image i shifted and maybe mirrored; returns 1 and sets them if unique. */
static int identify(const float *out, int i, int pad, int *dy_out, int *dx_out, int *flip_out) {
    int found = 0;
    for (int flip = 0; flip < 2; flip++)
        for (int dy = -pad; dy <= pad; dy++)
            for (int dx = -pad; dx <= pad; dx++) {
                int ok = 1;
                for (int c = 0; c < C && ok; c++)
                    for (int y = 0; y < H && ok; y++)
                        for (int x = 0; x < W && ok; x++) {
                            int sy = y + dy, sx = (flip ? W - 1 - x : x) + dx;
                            float want = (sy >= 0 && sy < H && sx >= 0 && sx < W)
                                             ? (float)raw[i * CHW + (c * H + sy) * W + sx] / 255.0f
                                             : 0.0f;
                            ok = out[(c * H + y) * W + x] == want;
                        }
                if (ok) {
                    found++;
                    *dy_out = dy;
                    *dx_out = dx;
                    *flip_out = flip;
                }
            }
    return found == 1;
}

static void test_crop_flip(void **state) {
    rs_data_options o;
    rs_data_options_default(&o);
    o.norm = RS_NORM_NONE;
    o.crop_padding = 2;
    o.hflip = 1;
    o.seed = 5;
    rs_dataset *tr = open_ok(RS_SPLIT_TRAIN, &o);
    int offsets[5][5] = {{0}}, flips = 0, total = 0;
    for (uint64_t epoch = 0; epoch < 2; epoch++) {
        float *x = batch_all(tr, epoch);
        for (int i = 0; i < N; i++) {
            int dy = 0, dx = 0, flip = 0;
            assert_true(identify(x + i * CHW, i, 2, &dy, &dx, &flip));
            offsets[dy + 2][dx + 2]++;
            flips += flip;
            total++;
        }
        rs_free(x);
    }
    /* fair flips: binomial(512, 1/2), 5 sd; every one of the 25 offsets drawn (each ~20 times) */
    assert_true(fabs(flips - total / 2.0) < 5 * sqrt(total / 4.0));
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++) assert_true(offsets[a][b] > 0);
    /* the test split is never augmented */
    rs_dataset *te = open_ok(RS_SPLIT_TEST, &o);
    assert_int_equal(te->crop_padding, 0);
    float *x = batch_all(te, 3);
    for (int k = 0; k < N * CHW; k++) assert_true(x[k] == (float)raw[k] / 255.0f);
    rs_free(x);
    rs_dataset_free(te);
    rs_dataset_free(tr);
}

/* Everything on (crop, flip, normalisation, corruption): image i is the same alone, in any batch, any thread count. */
static void test_batch_invariance(void **state) {
    rs_data_options o;
    rs_data_options_default(&o);
    o.norm = RS_NORM_COMPUTED;
    o.crop_padding = 3;
    o.hflip = 1;
    o.corrupt_std = 1.0;
    o.ptr = 100;
    o.subset_seed = 3;
    o.seed = 11;
    rs_dataset *ds = open_ok(RS_SPLIT_TRAIN, &o);
    assert_int_equal(ds->n, 100);
    rs_set_threads(2);
    float *all2 = batch_all(ds, 7);
    rs_set_threads(1);
    float *all1 = batch_all(ds, 7);
    rs_set_threads(2);
    assert_memory_equal(all1, all2, (size_t)ds->n * CHW * sizeof(float));
    int64_t pick[3] = {42, 7, 99};
    float x[3 * CHW];
    assert_int_equal(rs_dataset_batch(ds, pick, 3, 7, x, NULL, NULL), RS_OK);
    for (int k = 0; k < 3; k++) assert_memory_equal(x + k * CHW, all2 + pick[k] * CHW, CHW * sizeof(float));
    rs_free(all1);
    rs_free(all2);
    /* the subset: sorted, distinct, and the same for the same subset seed */
    rs_dataset *again = open_ok(RS_SPLIT_TRAIN, &o);
    for (int64_t i = 0; i < 100; i++) assert_int_equal(rs_dataset_label(again, i), rs_dataset_label(ds, i));
    rs_dataset_free(again);
    rs_dataset_free(ds);
}

static void test_normalisation(void **state) {
    rs_data_options o;
    rs_data_options_default(&o);
    o.norm = RS_NORM_COMPUTED;
    rs_dataset *tr = open_ok(RS_SPLIT_TRAIN, &o), *te = open_ok(RS_SPLIT_TEST, &o);
    /* the test split uses the training statistics */
    assert_memory_equal(tr->mean, te->mean, sizeof tr->mean);
    assert_memory_equal(tr->std, te->std, sizeof tr->std);
    double m[RS_DATA_MAXCH], s[RS_DATA_MAXCH], m0[RS_DATA_MAXCH], s0[RS_DATA_MAXCH];
    assert_int_equal(rs_dataset_channel_stats(tr, 1, m, s), RS_OK);
    /* (x - m) / s in float: ~1e-7 relative per pixel, the float-rounded m and s another ~1e-7; 1e-5 is ample */
    for (int c = 0; c < C; c++) {
        assert_true(fabs(m[c]) < 1e-5);
        assert_true(fabs(s[c] - 1.0) < 1e-5);
    }
    /* raw statistics against a direct double computation; and the same with 1 thread */
    assert_int_equal(rs_dataset_channel_stats(tr, 0, m, s), RS_OK);
    for (int c = 0; c < C; c++) {
        double sum = 0, sq = 0;
        for (int i = 0; i < N; i++)
            for (int k = 0; k < H * W; k++) sum += (float)raw[i * CHW + c * H * W + k] / 255.0f;
        double mean = sum / (N * H * W);
        for (int i = 0; i < N; i++)
            for (int k = 0; k < H * W; k++) {
                double d = (float)raw[i * CHW + c * H * W + k] / 255.0f - mean;
                sq += d * d;
            }
        assert_true(fabs(m[c] - mean) < 1e-12);
        assert_true(fabs(s[c] - sqrt(sq / (N * H * W))) < 1e-12);
        assert_true(tr->mean[c] == (float)mean);
    }
    rs_set_threads(1);
    assert_int_equal(rs_dataset_channel_stats(tr, 0, m0, s0), RS_OK);
    rs_set_threads(2);
    assert_memory_equal(m, m0, C * sizeof(double));
    assert_memory_equal(s, s0, C * sizeof(double));
    rs_dataset_free(tr);
    rs_dataset_free(te);

    /* given values */
    o.norm = RS_NORM_GIVEN;
    for (int c = 0; c < C; c++) {
        o.norm_mean[c] = 0.25f * c;
        o.norm_std[c] = 0.5f + c;
    }
    tr = open_ok(RS_SPLIT_TRAIN, &o);
    float x[CHW];
    int64_t i5 = 5;
    assert_int_equal(rs_dataset_batch(tr, &i5, 1, 0, x, NULL, NULL), RS_OK);
    for (int k = 0; k < CHW; k++)
        assert_true(x[k] == ((float)raw[5 * CHW + k] / 255.0f - o.norm_mean[k / 64]) / o.norm_std[k / 64]);
    rs_dataset_free(tr);
    o.norm_std[1] = 0;
    rs_dataset *bad = NULL;
    assert_int_equal(rs_dataset_open(spec, RS_SPLIT_TRAIN, &o, &bad), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "channel 1 needs a finite mean and a std > 0"));
    /* reference: npy has no reference constants, so nothing is applied */
    rs_data_options_default(&o);
    tr = open_ok(RS_SPLIT_TRAIN, &o);
    assert_int_equal(tr->normalise, 0);
    rs_dataset_free(tr);
    o.corrupt_std = -1;
    assert_int_equal(rs_dataset_open(spec, RS_SPLIT_TRAIN, &o, &bad), RS_ERR_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_crop_flip),
        cmocka_unit_test(test_batch_invariance),
        cmocka_unit_test(test_normalisation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
