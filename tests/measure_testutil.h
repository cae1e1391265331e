/* measure_testutil.h: helpers of the measure tests (header-only, static): a random NPY dataset in a temporary
 * directory, small nets, the dumped probe inputs, and brute-force versions of the estimators' formulas. */
#pragma once
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/io.h"
#include "relstab/measure.h"
#include "relstab/models.h"
#include "testutil.h"

/* n random float32 images (c, h, w) = offset + N(0, 1), as both splits of an NPY dataset; returns its spec. */
static inline const char *mt_npy_data(const char *tag, int64_t n, int32_t c, int32_t h, int32_t w, float offset,
                               uint64_t stream) {
    static char spec[4][600];
    static int slot = 0;
    char *out = spec[slot++ & 3];
    const char *dir = tu_tmpdir(tag);
    size_t d = (size_t)c * h * w;
    float *x = tu_randn((size_t)n * d, stream);
    for (size_t i = 0; i < (size_t)n * d; i++) x[i] += offset;
    int64_t *y = rs_alloc((size_t)n * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) y[i] = i % 2;
    int64_t shx[4] = {n, c, h, w}, shy[1] = {n};
    char path[1024];
    const char *split[2] = {"train", "test"};
    for (int s = 0; s < 2; s++) {
        snprintf(path, sizeof path, "%s/%s_images.npy", dir, split[s]);
        assert_int_equal(rs_npy_write(path, RS_DTYPE_F32, 4, shx, x), RS_OK);
        snprintf(path, sizeof path, "%s/%s_labels.npy", dir, split[s]);
        assert_int_equal(rs_npy_write(path, RS_DTYPE_I64, 1, shy, y), RS_OK);
    }
    rs_free(x), rs_free(y);
    snprintf(out, 600, "npy:%s,layout=nchw", dir);
    return out;
}

static inline rs_dataset *mt_open(const char *spec) {
    rs_dataset *ds = NULL;
    rs_status s = rs_dataset_open(spec, RS_SPLIT_TEST, NULL, &ds);
    if (s) fprintf(stderr, "%s\n", rs_last_error());
    assert_int_equal(s, RS_OK);
    return ds;
}

/* LeNet for 1 x 28 x 28 inputs, initialised from seed. */
static inline rs_net *mt_lenet(uint64_t seed) {
    rs_model_opts o;
    rs_model_opts_init(&o);
    o.channels = 1, o.height = 28, o.width = 28, o.classes = 10;
    assert_int_equal(rs_model_resolve("lenet", &o), RS_OK);
    rs_net *net = NULL;
    assert_int_equal(rs_model_build("lenet", &o, &net), RS_OK);
    assert_int_equal(rs_net_build(net, 1, 0), RS_OK);
    rs_net_init(net, seed);
    return net;
}

/* A dumped array (rs_npy_read), checked for dtype F32 (or I64 when i64). */
static inline rs_npy mt_read(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    rs_npy a;
    rs_status s = rs_npy_read(path, &a);
    if (s) fprintf(stderr, "%s\n", rs_last_error());
    assert_int_equal(s, RS_OK);
    return a;
}

/* mean over all P^2 ordered pairs of ||a_p - a_q||^2, the explicit double loop, + 1e-10. a (P, N). */
static inline double mt_deno_loop(const double *a, int64_t P, int64_t N) {
    double s = 0;
    for (int64_t p = 0; p < P; p++)
        for (int64_t q = 0; q < P; q++) {
            double t = 0;
            for (int64_t j = 0; j < N; j++) {
                double u = a[p * N + j] - a[q * N + j];
                t += u * u;
            }
            s += t;
        }
    return s / ((double)P * (double)P) + 1e-10;
}

/* per-image squared distances out[p] = ||b_p - a_p||^2. */
static inline void mt_dist(double *out, const double *a, const double *b, int64_t P, int64_t N) {
    for (int64_t p = 0; p < P; p++) {
        double t = 0;
        for (int64_t j = 0; j < N; j++) {
            double u = b[p * N + j] - a[p * N + j];
            t += u * u;
        }
        out[p] = t;
    }
}

static inline double *mt_to_double(const float *x, size_t n) {
    double *d = rs_alloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

static inline double mt_mean(const double *v, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += v[i];
    return s / (double)n;
}

/* |a - b| <= rtol |b| (+ tiny absolute floor for zeros), with a message. */
static inline void mt_close(double a, double b, double rtol, const char *what) {
    if (!(fabs(a - b) <= rtol * fabs(b) + 1e-300)) {
        fprintf(stderr, "%s: %.17g vs %.17g (relative %.3g > %.3g)\n", what, a, b, fabs(a - b) / fabs(b), rtol);
        fail();
    }
}

static inline int32_t *mt_nodes(const rs_net *net, const char *list, int32_t *n) {
    int32_t *nodes = NULL;
    rs_status s = rs_measure_parse_nodes(net, list, &nodes, n);
    if (s) fprintf(stderr, "%s\n", rs_last_error());
    assert_int_equal(s, RS_OK);
    return nodes;
}
