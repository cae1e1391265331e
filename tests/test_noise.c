/* test_noise.c: the perturbations other than the diffeo field (SPEC.md 1.2, 2.5, 5.2): norm-matched noise (its
 * norm equals the diffeo displacement norm image by image), noise of a given norm, the rectified batch-variance
 * noise, their addressing and thread/batch invariance; the local translations of the 2-D and 1-D scale-detection
 * tasks (step distribution, clipping, block preservation, positions vs images). */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/perturb.h"

/* Per-image norm of eta (double) against the displacement norm ||xd - x||. eta_j = fl(e_j) with
 * |fl(e) - e| <= 2^-24 |e| so ||eta|| = ||e|| (1 +- 2^-24), and ||e|| = s to double rounding: limit 2^-23 relative.
 * out = fl(x + eta) in float: ||out - x - eta|| <= 2^-24 ||out||, which bounds | ||out - x|| - ||eta|| |. */
static void check_matched(const float *out, const float *eta, const float *x, const float *xd, int64_t b,
                          int64_t d) {
    for (int64_t p = 0; p < b; p++) {
        double s = 0, ne = 0, no = 0, nout = 0;
        for (int64_t j = 0; j < d; j++) {
            size_t i = (size_t)p * d + j;
            s += ((double)xd[i] - x[i]) * ((double)xd[i] - x[i]);
            ne += (double)eta[i] * eta[i];
            no += ((double)out[i] - x[i]) * ((double)out[i] - x[i]);
            nout += (double)out[i] * out[i];
            assert_true(out[i] == x[i] + eta[i]);
        }
        s = sqrt(s);
        ne = sqrt(ne);
        assert_true(s > 0);
        assert_true(fabs(ne - s) <= 0x1p-23 * s);
        assert_true(fabs(sqrt(no) - ne) <= 1.01 * 0x1p-24 * sqrt(nout) + 1e-12 * s);
    }
}

static void test_matched_norm_equals_diffeo_norm(void **state) {
    int B = 20, c = 3, h = 32, w = 32;
    int64_t d = (int64_t)c * h * w;
    size_t n = (size_t)B * d;
    float *x = tu_randn(n, 5), *xd = rs_alloc(n * 4), *out = rs_alloc(n * 4), *eta = rs_alloc(n * 4);
    int64_t idx[20];
    for (int i = 0; i < B; i++) idx[i] = 7 * i + 1;
    rs_diffeo_plan p;
    assert_int_equal(rs_diffeo_plan_init(&p, h, w, 3), RS_OK);
    rs_diffeo_opts o = {.T = 1.1318e-3, .interp = RS_INTERP_LINEAR, .seed = 2, .repeat = 0};
    assert_int_equal(rs_diffeo_batch(&p, &o, xd, NULL, x, B, c, idx), RS_OK);
    assert_int_equal(rs_noise_matched(out, eta, x, xd, B, d, idx, 11, 0), RS_OK);
    check_matched(out, eta, x, xd, B, d);
    /* the direction is the documented draw: eta = z s/||z||, z_j = rs_normal(seed, NOISE stream, index*D + j) */
    uint64_t stream = rs_stream(RS_PURPOSE_NOISE, 0, 0);
    for (int pi = 0; pi < 2; pi++) {
        double nz = 0, s = 0;
        for (int64_t j = 0; j < d; j++) {
            double z = rs_normal(11, stream, (uint64_t)idx[pi] * d + j);
            nz += z * z;
            s += ((double)xd[pi * d + j] - x[pi * d + j]) * ((double)xd[pi * d + j] - x[pi * d + j]);
        }
        for (int64_t j = 0; j < d; j++)
            assert_true(eta[pi * d + j] ==
                        (float)(sqrt(s) / sqrt(nz) * rs_normal(11, stream, (uint64_t)idx[pi] * d + j)));
    }
    /* out may alias x */
    float *x2 = rs_alloc(n * 4);
    memcpy(x2, x, n * 4);
    assert_int_equal(rs_noise_matched(x2, NULL, x2, xd, B, d, idx, 11, 0), RS_OK);
    assert_memory_equal(x2, out, n * 4);
    /* zero displacement: zero noise */
    assert_int_equal(rs_noise_matched(out, eta, x, x, B, d, idx, 11, 0), RS_OK);
    assert_memory_equal(out, x, n * 4);
    rs_free(x);
    rs_free(x2);
    rs_free(xd);
    rs_free(out);
    rs_free(eta);
    rs_diffeo_plan_free(&p);
}

/* Noisy images bit-identical for 1 vs 2 threads and batch 64 vs batches of 7 (the per-image variants). */
static void test_noise_threads_and_batches(void **state) {
    int B = 64;
    int64_t d = 3 * 16 * 16;
    size_t n = (size_t)B * d;
    float *x = tu_randn(n, 6), *xd = tu_randn(n, 7), *o1 = rs_alloc(n * 4), *o2 = rs_alloc(n * 4);
    int64_t idx[64];
    for (int i = 0; i < B; i++) idx[i] = 500 - 5 * i;
    for (int kind = 0; kind < 2; kind++) {
        rs_set_threads(1);
        if (kind == 0) assert_int_equal(rs_noise_matched(o1, NULL, x, xd, B, d, idx, 3, 4), RS_OK);
        else assert_int_equal(rs_noise_norm(o1, NULL, x, B, d, 2.5, idx, 3, 4), RS_OK);
        rs_set_threads(2);
        for (int s = 0; s < B; s += 7) {
            int nb = B - s < 7 ? B - s : 7;
            if (kind == 0)
                assert_int_equal(rs_noise_matched(o2 + s * d, NULL, x + s * d, xd + s * d, nb, d, idx + s, 3, 4), RS_OK);
            else assert_int_equal(rs_noise_norm(o2 + s * d, NULL, x + s * d, nb, d, 2.5, idx + s, 3, 4), RS_OK);
        }
        assert_memory_equal(o1, o2, n * 4);
    }
    /* another repeat or seed: other noise */
    assert_int_equal(rs_noise_norm(o2, NULL, x, B, d, 2.5, idx, 3, 5), RS_OK);
    assert_true(memcmp(o1, o2, n * 4) != 0);
    rs_free(x);
    rs_free(xd);
    rs_free(o1);
    rs_free(o2);
}

/* Given norm: ||eta|| = norm to float rounding (2^-23 relative, as above), and the direction is isotropic: with
 * u = eta/norm uniform on the unit sphere of dimension D, E u_j = 0 with Var u_j = 1/D, and E u_j^2 = 1/D with
 * Var u_j^2 = 3/(D(D+2)) - 1/D^2. Each entry's means over N images are tested with limits of 5.5 sd. */
static void test_given_norm_and_isotropy(void **state) {
    int N = 20000;
    int64_t d = 8;
    float *x = rs_calloc((size_t)N * d * 4), *out = rs_alloc((size_t)N * d * 4), *eta = rs_alloc((size_t)N * d * 4);
    int64_t *idx = rs_alloc(N * sizeof(int64_t));
    for (int i = 0; i < N; i++) idx[i] = i;
    assert_int_equal(rs_noise_norm(out, eta, x, N, d, 3.0, idx, 99, 0), RS_OK);
    double m1[8] = {0}, m2[8] = {0};
    for (int i = 0; i < N; i++) {
        double ne = 0;
        for (int j = 0; j < d; j++) {
            double u = eta[i * d + j] / 3.0;
            ne += (double)eta[i * d + j] * eta[i * d + j];
            m1[j] += u;
            m2[j] += u * u;
        }
        assert_true(fabs(sqrt(ne) - 3.0) <= 0x1p-23 * 3.0);
    }
    double v2 = 3.0 / (d * (d + 2.0)) - 1.0 / (d * d);
    for (int j = 0; j < d; j++) {
        assert_true(fabs(m1[j] / N) < 5.5 / sqrt((double)d * N));
        assert_true(fabs(m2[j] / N - 1.0 / d) < 5.5 * sqrt(v2 / N));
    }
    /* norm 0: no noise; bad norm: error */
    assert_int_equal(rs_noise_norm(out, NULL, x, N, d, 0.0, idx, 99, 0), RS_OK);
    for (size_t i = 0; i < (size_t)N * d; i++) assert_true(out[i] == 0.0f);
    assert_int_equal(rs_noise_norm(out, NULL, x, N, d, -1.0, idx, 99, 0), RS_ERR_ARG);
    idx[3] = -1;
    assert_int_equal(rs_noise_norm(out, NULL, x, N, d, 1.0, idx, 99, 0), RS_ERR_ARG);
    rs_free(x);
    rs_free(out);
    rs_free(eta);
    rs_free(idx);
}

/* Rectified variant: sigma^2 is the batch-and-pixel mean of (xd - x)^2, eta = ReLU(sigma z) exactly, so
 * eta >= 0, about half the entries are 0 (binomial sd 1/(2 sqrt(M))), and E eta = sigma/sqrt(2 pi) with
 * sd sigma sqrt((1/2 - 1/(2 pi))/M) over M entries; limits 5.5 sd. The noise of an image depends on its batch. */
static void test_rectified(void **state) {
    int B = 50;
    int64_t d = 400;
    size_t n = (size_t)B * d;
    float *x = tu_randn(n, 8), *xd = tu_randn(n, 9), *out = rs_alloc(n * 4), *eta = rs_alloc(n * 4);
    int64_t idx[50];
    for (int i = 0; i < B; i++) idx[i] = 2 * i;
    double sigma;
    assert_int_equal(rs_noise_rectified(out, eta, x, xd, B, d, idx, 4, 0, &sigma), RS_OK);
    double s2 = 0;
    for (size_t i = 0; i < n; i++) s2 += ((double)xd[i] - x[i]) * ((double)xd[i] - x[i]);
    assert_true(fabs(sigma - sqrt(s2 / n)) <= 1e-12 * sigma);
    uint64_t stream = rs_stream(RS_PURPOSE_NOISE, 0, 0);
    double mean = 0, zeros = 0;
    for (int p = 0; p < B; p++)
        for (int64_t j = 0; j < d; j++) {
            size_t i = (size_t)p * d + j;
            double e = sigma * rs_normal(4, stream, (uint64_t)idx[p] * d + j);
            assert_true(eta[i] == (float)(e > 0 ? e : 0.0));
            assert_true(out[i] == x[i] + eta[i]);
            mean += eta[i];
            zeros += eta[i] == 0.0f;
        }
    double M = (double)n;
    assert_true(fabs(zeros / M - 0.5) < 5.5 * 0.5 / sqrt(M));
    assert_true(fabs(mean / M - sigma / sqrt(2 * M_PI)) < 5.5 * sigma * sqrt((0.5 - 0.5 / M_PI) / M));
    /* batch dependence (by definition): image 0 alone gets a different sigma, hence different noise */
    double sigma0;
    float *eta0 = rs_alloc(d * 4), *out0 = rs_alloc(d * 4);
    assert_int_equal(rs_noise_rectified(out0, eta0, x, xd, 1, d, idx, 4, 0, &sigma0), RS_OK);
    assert_true(sigma0 != sigma);
    assert_true(memcmp(eta0, eta, d * 4) != 0);
    rs_free(x);
    rs_free(xd);
    rs_free(out);
    rs_free(eta);
    rs_free(eta0);
    rs_free(out0);
}

/* ---------------------------------------------------------------- local translations */
/* 2-D steps round(g/||g||): the angle of g is uniform, so each axis step has probability 1/6 and each diagonal
 * 1/12 (t_col = +1 iff cos > 1/2, etc.); never (0, 0). Binomial limits 5.5 sd over N steps. */
static void test_translate2d_steps(void **state) {
    int N = 30000;
    int32_t *pos = rs_alloc((size_t)N * 4 * sizeof(int32_t));
    int64_t *idx = rs_alloc(N * sizeof(int64_t));
    for (int i = 0; i < N; i++) {
        idx[i] = i;
        pos[4 * i] = 10, pos[4 * i + 1] = 12, pos[4 * i + 2] = 3, pos[4 * i + 3] = 20;
    }
    assert_int_equal(rs_translate2d_positions(pos, N, 28, 28, idx, 1, 0), RS_OK);
    double count[3][3] = {{0}};
    for (int i = 0; i < N; i++) {
        int dr = pos[4 * i] - 10, dc = pos[4 * i + 1] - 12, dr2 = pos[4 * i + 2] - 3, dc2 = pos[4 * i + 3] - 20;
        assert_true(abs(dr) <= 1 && abs(dc) <= 1 && (dr || dc));
        assert_true(abs(dr2) <= 1 && abs(dc2) <= 1 && (dr2 || dc2));
        count[dr + 1][dc + 1] += 1;
    }
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) {
            if (r == 1 && c == 1) continue;
            double pr = (r == 1 || c == 1) ? 1.0 / 6 : 1.0 / 12;
            assert_true(fabs(count[r][c] / N - pr) < 5.5 * sqrt(pr * (1 - pr) / N));
        }
    /* clipping: pixels in the corners stay inside */
    for (int i = 0; i < N; i++) pos[4 * i] = 0, pos[4 * i + 1] = 0, pos[4 * i + 2] = 27, pos[4 * i + 3] = 27;
    assert_int_equal(rs_translate2d_positions(pos, N, 28, 28, idx, 1, 0), RS_OK);
    for (int i = 0; i < 4 * N; i++) assert_true(pos[i] >= 0 && pos[i] <= 27);
    pos[0] = 28;
    assert_int_equal(rs_translate2d_positions(pos, 1, 28, 28, idx, 1, 0), RS_ERR_ARG);
    rs_free(pos);
    rs_free(idx);
}

/* The images API finds the two active pixels of a normalised task image and moves them as the positions API does;
 * when both land on one pixel it holds v0 + v1 - bg; a non two-point image is refused. */
static void test_translate2d_images(void **state) {
    int B = 200, d = 28;
    size_t dd = (size_t)d * d;
    const float bg = -0.35f, v = 5.125f;
    float *in = rs_alloc(B * dd * 4), *out = rs_alloc(B * dd * 4);
    int32_t *pos = rs_alloc((size_t)B * 4 * sizeof(int32_t));
    int64_t idx[200];
    for (int p = 0; p < B; p++) {
        idx[p] = 3 * p + 1;
        int r0 = (p * 7) % d, c0 = (p * 11) % d, r1 = (r0 + 1 + p % 3) % d, c1 = (c0 + (p % 2)) % d;
        if (r1 * d + c1 < r0 * d + c0) { int t = r0; r0 = r1; r1 = t; t = c0; c0 = c1; c1 = t; }
        for (size_t j = 0; j < dd; j++) in[p * dd + j] = bg;
        in[p * dd + r0 * d + c0] = v;
        in[p * dd + r1 * d + c1] = v;
        pos[4 * p] = r0, pos[4 * p + 1] = c0, pos[4 * p + 2] = r1, pos[4 * p + 3] = c1;
    }
    assert_int_equal(rs_translate2d_batch(out, in, B, d, d, idx, 8, 2), RS_OK);
    assert_int_equal(rs_translate2d_positions(pos, B, d, d, idx, 8, 2), RS_OK);
    int collisions = 0;
    for (int p = 0; p < B; p++) {
        size_t q0 = pos[4 * p] * d + pos[4 * p + 1], q1 = pos[4 * p + 2] * d + pos[4 * p + 3];
        for (size_t j = 0; j < dd; j++) {
            float want = bg;
            if (j == q0 && j == q1) want = (float)(2.0 * v - bg), collisions++;
            else if (j == q0 || j == q1) want = v;
            assert_true(out[p * dd + j] == want);
        }
    }
    assert_true(collisions > 0); /* adjacent pixels: some land on the same place in 200 draws */
    in[5] = 9.0f; /* a third active pixel in image 0 */
    assert_int_equal(rs_translate2d_batch(out, in, 1, d, d, idx, 8, 2), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "not a two-point image"));
    rs_free(in);
    rs_free(out);
    rs_free(pos);
}

/* 1-D moves: +-1 with probability 1/2 each (5.5 binomial sd), clipped to [0, L-1], reverted when the block r / xi
 * would change; the images API agrees with the positions API. */
static void test_translate1d(void **state) {
    int N = 20000, L = 128, xi = 32;
    int32_t *pos = rs_alloc((size_t)N * 2 * sizeof(int32_t)), *orig = rs_alloc((size_t)N * 2 * sizeof(int32_t));
    int64_t *idx = rs_alloc(N * sizeof(int64_t));
    for (int i = 0; i < N; i++) {
        idx[i] = i;
        orig[2 * i] = pos[2 * i] = (i * 37) % L;
        orig[2 * i + 1] = pos[2 * i + 1] = (i * 53 + 5) % L;
    }
    assert_int_equal(rs_translate1d_positions(pos, N, L, xi, idx, 6, 0), RS_OK);
    double plus = 0, interior = 0;
    for (int i = 0; i < 2 * N; i++) {
        int r = orig[i], q = pos[i], s = q - r;
        assert_true(q >= 0 && q < L && abs(s) <= 1 && q / xi == r / xi);
        if (r % xi != 0 && r % xi != xi - 1) { /* strictly inside a block: always moves */
            assert_true(s != 0);
            plus += s > 0;
            interior += 1;
        }
        if (r % xi == 0) assert_true(s >= 0);      /* a step left would leave the block (or the signal) */
        if (r % xi == xi - 1) assert_true(s <= 0); /* a step right likewise */
    }
    assert_true(fabs(plus / interior - 0.5) < 5.5 * 0.5 / sqrt(interior));
    /* images API on a (B, L) batch: background 0, active value 8 */
    int B = 100;
    float *in = rs_calloc((size_t)B * L * 4), *out = rs_alloc((size_t)B * L * 4);
    for (int p = 0; p < B; p++) {
        int r0 = orig[2 * p] < orig[2 * p + 1] ? orig[2 * p] : orig[2 * p + 1];
        int r1 = orig[2 * p] < orig[2 * p + 1] ? orig[2 * p + 1] : orig[2 * p];
        if (r0 == r1) r1 = (r1 + 1) % L;
        in[p * L + r0] = in[p * L + r1] = 8.0f;
        pos[2 * p] = r0 < r1 ? r0 : r1;
        pos[2 * p + 1] = r0 < r1 ? r1 : r0;
    }
    assert_int_equal(rs_translate1d_batch(out, in, B, L, xi, idx, 6, 3), RS_OK);
    assert_int_equal(rs_translate1d_positions(pos, B, L, xi, idx, 6, 3), RS_OK);
    for (int p = 0; p < B; p++)
        for (int j = 0; j < L; j++) {
            float want = (j == pos[2 * p] && j == pos[2 * p + 1]) ? 16.0f
                         : (j == pos[2 * p] || j == pos[2 * p + 1]) ? 8.0f : 0.0f;
            assert_true(out[p * L + j] == want);
        }
    rs_free(pos);
    rs_free(orig);
    rs_free(idx);
    rs_free(in);
    rs_free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matched_norm_equals_diffeo_norm), cmocka_unit_test(test_noise_threads_and_batches),
        cmocka_unit_test(test_given_norm_and_isotropy),         cmocka_unit_test(test_rectified),
        cmocka_unit_test(test_translate2d_steps),               cmocka_unit_test(test_translate2d_images),
        cmocka_unit_test(test_translate1d),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
