/* test_diffeo.c: the max-entropy diffeomorphism (SPEC.md 2): temperature formulas against SPEC 2.3's table, mode
 * counts, the statistics of the field over many draws (limits derived from the sample size), the fixed border,
 * the remap (identity at T = 0, exact integer translations, bilinear exact on linear images, gaussian equal to
 * the full sum over all pixels), and bit-identical results for any thread count and batch composition. */
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "perturb/perturb_internal.h"
#include "relstab/perturb.h"

#define PI 3.14159265358979323846

/* |x - ref| within half a unit of the last printed digit of ref, printed with `sig` significant digits. */
static void assert_digits(double x, double ref, int sig) {
    double unit = pow(10.0, floor(log10(fabs(ref))) - (sig - 1));
    if (!(fabs(x - ref) <= 0.5 * unit * (1 + 1e-9))) {
        fprintf(stderr, "%.8g differs from %.*e in %d digits\n", x, sig - 1, ref, sig);
        fail();
    }
}

/* SPEC 2.3's table (5 significant digits printed; delta at T_max with 3). (n = 28, c = 5) is not in the table:
 * its values were computed with Python from the SPEC formulas and agree with T(28) = T(32) (32/28)^2. */
static void test_T_table(void **state) {
    struct { int n, c; double tmin, tmax, t1, dmax; } rows[] = {
        {32, 3, 2.8295e-4, 1.3047e-2, 1.1318e-3, 3.40}, {28, 3, 3.6956e-4, 1.3047e-2, 1.4783e-3, 2.97},
        {32, 5, 1.9314e-4, 3.2062e-3, 7.7257e-4, 2.04}, {28, 5, 2.5227e-4, 3.2062e-3, 1.0091e-3, 1.78},
        {32, 15, 1.1479e-4, 2.1172e-4, 4.5915e-4, 0.679}};
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        double tmin, tmax, t1, dmax, d1;
        assert_int_equal(rs_diffeo_tmin(rows[r].n, rows[r].c, &tmin), RS_OK);
        assert_int_equal(rs_diffeo_tmax(rows[r].c, &tmax), RS_OK);
        assert_int_equal(rs_diffeo_T_of_delta(1.0, rows[r].n, rows[r].c, &t1), RS_OK);
        assert_int_equal(rs_diffeo_delta_of_T(tmax, rows[r].n, rows[r].c, &dmax), RS_OK);
        assert_int_equal(rs_diffeo_delta_of_T(t1, rows[r].n, rows[r].c, &d1), RS_OK);
        assert_digits(tmin, rows[r].tmin, 5);
        assert_digits(tmax, rows[r].tmax, 5);
        assert_digits(t1, rows[r].t1, 5);
        assert_digits(dmax, rows[r].dmax, 3);
        assert_true(fabs(d1 - 1.0) < 1e-14);  /* delta(T(delta)) = delta to double rounding */
        assert_true(fabs(t1 / tmin - 4.0) < 1e-14); /* T(delta = 1) = 4 T_min (SPEC 2.3) */
    }
}

static void test_bad_cut_and_sizes(void **state) {
    double T;
    assert_int_equal(rs_diffeo_tmin(32, 1, &T), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "ln 1 = 0"));
    assert_int_equal(rs_diffeo_tmax(1, &T), RS_ERR_ARG);
    assert_int_equal(rs_diffeo_T_of_delta(1.0, 32, 1, &T), RS_ERR_ARG);
    assert_int_equal(rs_diffeo_delta_of_T(1e-3, 32, 1, &T), RS_ERR_ARG);
    assert_int_equal(rs_diffeo_tmin(32, 0, &T), RS_ERR_ARG);
    assert_int_equal(rs_diffeo_T_of_delta(-1.0, 32, 3, &T), RS_ERR_ARG);
    assert_int_equal(rs_diffeo_T_of_delta(NAN, 32, 3, &T), RS_ERR_ARG);
    assert_int_equal(rs_diffeo_delta_of_T(-1e-3, 32, 3, &T), RS_ERR_ARG);
    rs_diffeo_plan p;
    assert_int_equal(rs_diffeo_plan_init(&p, 1, 128, 3), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "1-D"));
    assert_int_equal(rs_diffeo_plan_init(&p, 32, 32, 0), RS_ERR_ARG);
    assert_int_equal(rs_diffeo_plan_init(&p, 32, 32, RS_DIFFEO_MAX_CUT + 1), RS_ERR_ARG);
    assert_int_equal(rs_diffeo_plan_init(&p, 8, 8, 3), RS_OK);
    float x[64] = {0}, y[64], f[128];
    int64_t idx = 0;
    rs_diffeo_opts o = {.T = -1.0, .interp = RS_INTERP_LINEAR, .seed = 1, .repeat = 0};
    assert_int_equal(rs_diffeo_batch(&p, &o, y, NULL, x, 1, 1, &idx), RS_ERR_ARG);
    o.T = 1e-3;
    idx = -4;
    assert_int_equal(rs_diffeo_batch(&p, &o, y, NULL, x, 1, 1, &idx), RS_ERR_ARG);
    assert_int_equal(rs_diffeo_field(&p, -1.0, 1, 0, 0, f, f + 64), RS_ERR_ARG);
    rs_interp m;
    assert_int_equal(rs_interp_parse("bicubic", &m), RS_ERR_ARG);
    assert_int_equal(rs_interp_parse("bilinear", &m), RS_OK);
    assert_int_equal(m, RS_INTERP_LINEAR);
    rs_diffeo_plan_free(&p);
}

static void test_mode_counts(void **state) {
    assert_int_equal(rs_diffeo_n_modes(3), 6);
    assert_int_equal(rs_diffeo_n_modes(5), 19);
    assert_int_equal(rs_diffeo_n_modes(15), 172);
    assert_int_equal(rs_diffeo_n_modes(1), 1);
    /* c = 3: exactly (1,1), (1,2), (2,1), (2,2), (1,3), (3,1) */
    int kept[3][3] = {{1, 1, 1}, {1, 1, 0}, {1, 0, 0}};
    for (int i = 1; i <= 3; i++)
        for (int j = 1; j <= 3; j++) assert_int_equal(rs_diffeo_mode_kept(i, j, 3), kept[i - 1][j - 1]);
}

/* The coefficients are the documented rs_normal draws; a field depends on (seed, index, repeat) only. */
static void test_addressing(void **state) {
    uint64_t stream = rs_stream(RS_PURPOSE_DIFFEO, 3, 0);
    for (int c = 1; c <= 12; c++) /* odd and even c c: a pair of normals may straddle two modes, or k = 0 and 1 */
        for (int64_t index = 1233; index <= 1234; index++) {
            double coef[2 * 144];
            uint64_t cc = (uint64_t)c * c;
            rs_diffeo_coeffs(coef, c, 77, 3, index);
            for (int k = 0; k < 2; k++)
                for (int a = 0; a < c; a++)
                    for (int b = 0; b < c; b++) {
                        double want = rs_diffeo_mode_kept(a + 1, b + 1, c)
                                          ? rs_normal(77, stream, (uint64_t)index * 2 * cc + k * cc + a * c + b) /
                                                sqrt((a + 1) * (a + 1) + (b + 1) * (b + 1))
                                          : 0.0;
                        assert_true(memcmp(&coef[k * cc + a * c + b], &want, sizeof want) == 0);
                    }
        }
    rs_diffeo_plan p;
    assert_int_equal(rs_diffeo_plan_init(&p, 16, 16, 3), RS_OK);
    float f1[512], f2[512], f3[512];
    rs_diffeo_field(&p, 1e-3, 5, 0, 10, f1, f1 + 256);
    rs_diffeo_field(&p, 1e-3, 5, 0, 10, f2, f2 + 256);
    assert_memory_equal(f1, f2, sizeof f1);
    rs_diffeo_field(&p, 1e-3, 5, 0, 11, f3, f3 + 256); /* another image */
    assert_true(memcmp(f1, f3, sizeof f1) != 0);
    rs_diffeo_field(&p, 1e-3, 5, 1, 10, f3, f3 + 256); /* another repeat */
    assert_true(memcmp(f1, f3, sizeof f1) != 0);
    rs_diffeo_field(&p, 1e-3, 6, 0, 10, f3, f3 + 256); /* another seed */
    assert_true(memcmp(f1, f3, sizeof f1) != 0);
    assert_true(memcmp(f1, f1 + 256, 256 * sizeof(float)) != 0); /* dx and dy independent */
    rs_diffeo_plan_free(&p);
}

/* Statistics over N fields (many seeds x many image indices), n x n with cutoff c at temperature T.
 * 1. Projection on the modes: the sine vectors sin(pi k p/(n-1)), k = 1..n-2, are orthogonal on the grid
 *    (DST-I: sum_p s_k s_l = (n-1)/2 delta_kl), so the coefficients are recovered exactly (to float rounding of the
 *    field) from the field. Each kept coefficient must have E C^2 = 1/(i^2+j^2): the estimator mean(C^2) of a
 *    centred normal has relative standard deviation sqrt(2/N); limit 5.5 of them (19 modes x 2 components tested:
 *    Bonferroni p < 38 x 4e-8). Non-kept modes are zero up to the float rounding of the field (< 1e-5).
 *    Cross-moments E[C_m C_m'] of distinct modes have standard deviation sd_m sd_m' / sqrt(N): limit 5.5 of them.
 * 2. Pixel variance: E dx^2 = n^2 T sum_kept sin^2(i pi u) sin^2(j pi v)/(i^2+j^2), the same relative standard
 *    deviation sqrt(2/N) per pixel; limit 5.5 (at most 2 x 1024 pixels: Bonferroni p < 1e-4).
 * 3. The whole-image sum: by the same orthogonality, sum_yx dx^2 = (W sqrt T)^2 ((H-1)/2)((W-1)/2) sum_kept C^2, a
 *    weighted chi-square with mean (W^2 T)((H-1)(W-1)/4) S1 and relative sd sqrt(2 S2)/S1 per draw, where
 *    S1 = sum_kept 1/r^2, S2 = sum_kept 1/r^4 (r^2 = i^2 + j^2); limit 5.5 sd of the mean over N draws. This one
 *    resolves a scale error of ~2% (n vs n-1 would be 6%).
 * 4. The first and last rows and columns are exactly zero in every draw. */
typedef struct {
    int h, w, c;
    double T, N;         /* N: draws per component */
    double *m2;          /* (2, H, W): sum of dx^2, dy^2 */
    double *cm;          /* (c^2, c^2): sum of C_m C_m' over both components */
    double *ty, *tx;     /* (c, H), (c, W): the test's own sine tables, from sin() directly */
    double *tmp, *chat;  /* (c, W), (c, c) scratch */
    double worst_unkept; /* largest |C| recovered for a mode that is not kept */
} stats;

/* Adds one field component F (H, W) of scale n sqrt(T): its squares, and its coefficients recovered by projection
 * chat[a][b] = (2/(H-1)) (2/(W-1)) sum_yx F ty[a][y] tx[b][x] / scale. Checks the fixed border on the way. */
static void stats_add(stats *st, const float *F, double scale, int k) { // k: 0 = dx, 1 = dy
    int h = st->h, w = st->w, c = st->c;
    size_t hw = (size_t)h * w;
    for (size_t j = 0; j < hw; j++) st->m2[k * hw + j] += (double)F[j] * F[j];
    for (int y = 0; y < h; y++) assert_true(F[(size_t)y * w] == 0 && F[(size_t)y * w + w - 1] == 0);
    for (int x = 0; x < w; x++) assert_true(F[x] == 0 && F[(size_t)(h - 1) * w + x] == 0);
    for (int a = 0; a < c; a++)
        for (int x = 0; x < w; x++) {
            double acc = 0;
            for (int y = 0; y < h; y++) acc += F[(size_t)y * w + x] * st->ty[a * h + y];
            st->tmp[a * w + x] = acc;
        }
    for (int a = 0; a < c; a++)
        for (int b = 0; b < c; b++) {
            double acc = 0;
            for (int x = 0; x < w; x++) acc += st->tmp[a * w + x] * st->tx[b * w + x];
            st->chat[a * c + b] = acc * 4.0 / ((h - 1.0) * (w - 1.0)) / scale;
            if (!rs_diffeo_mode_kept(a + 1, b + 1, c)) st->worst_unkept = fmax(st->worst_unkept, fabs(st->chat[a * c + b]));
        }
    for (int m = 0; m < c * c; m++)
        for (int m2 = 0; m2 < c * c; m2++) st->cm[m * c * c + m2] += st->chat[m] * st->chat[m2];
    if (k == 1) st->N += 1; /* one draw = both components */
}

/* Mode variances 1/r^2 and zero cross-moments (limits in the comment of field_stats). */
static void stats_check_modes(const stats *st) {
    int c = st->c;
    double n2 = 2 * st->N; /* samples: both components */
    assert_true(st->worst_unkept < 1e-5);
    for (int m = 0; m < c * c; m++) {
        int a = m / c + 1, b = m % c + 1;
        if (!rs_diffeo_mode_kept(a, b, c)) continue;
        double v = st->cm[m * c * c + m] / n2, want = 1.0 / (a * a + b * b);
        if (fabs(v / want - 1) > 5.5 * sqrt(2.0 / n2)) {
            fprintf(stderr, "mode (%d,%d): variance %.5g, expected %.5g\n", a, b, v, want);
            fail();
        }
        for (int m2 = m + 1; m2 < c * c; m2++) {
            int a2 = m2 / c + 1, b2 = m2 % c + 1;
            if (!rs_diffeo_mode_kept(a2, b2, c)) continue;
            double sd = sqrt(want / (a2 * a2 + b2 * b2) / n2);
            assert_true(fabs(st->cm[m * c * c + m2] / n2) < 5.5 * sd);
        }
    }
}

/* The whole-image sum and the per-pixel variance against the closed forms. */
static void stats_check_pixels(const stats *st) {
    int h = st->h, w = st->w, c = st->c;
    size_t hw = (size_t)h * w;
    double S1 = 0, S2 = 0, N = st->N, T = st->T;
    for (int a = 1; a <= c; a++)
        for (int b = 1; b <= c; b++)
            if (rs_diffeo_mode_kept(a, b, c)) {
                S1 += 1.0 / (a * a + b * b);
                S2 += 1.0 / ((double)(a * a + b * b) * (a * a + b * b));
            }
    for (int k = 0; k < 2; k++) {
        double n2 = (double)(k == 0 ? w : h) * (k == 0 ? w : h), tot = 0;
        for (size_t j = 0; j < hw; j++) tot += st->m2[k * hw + j];
        double want = n2 * T * (h - 1.0) * (w - 1.0) / 4 * S1, rel = fabs(tot / N / want - 1);
        if (rel > 5.5 * sqrt(2 * S2) / S1 / sqrt(N)) {
            fprintf(stderr, "comp %d: sum of E d^2 over pixels %.6g, expected %.6g\n", k, tot / N, want);
            fail();
        }
        for (int y = 1; y < h - 1; y++)
            for (int x = 1; x < w - 1; x++) {
                double pw = 0;
                for (int a = 1; a <= c; a++)
                    for (int b = 1; b <= c; b++) {
                        if (!rs_diffeo_mode_kept(a, b, c)) continue;
                        double sy = sin(PI * a * y / (h - 1.0)), sx = sin(PI * b * x / (w - 1.0));
                        pw += sy * sy * sx * sx / (a * a + b * b);
                    }
                pw *= n2 * T;
                double got = st->m2[k * hw + (size_t)y * w + x] / N;
                if (fabs(got / pw - 1) > 5.5 * sqrt(2.0 / N)) {
                    fprintf(stderr, "pixel (%d,%d) comp %d: E d^2 = %.6g, expected %.6g (N = %g)\n", y, x, k, got, pw, N);
                    fail();
                }
            }
    }
}

static void field_stats(int h, int w, int c, double T, int nseeds, int nimg) {
    rs_diffeo_plan p;
    assert_int_equal(rs_diffeo_plan_init(&p, h, w, c), RS_OK);
    size_t hw = (size_t)h * w;
    stats st = {.h = h, .w = w, .c = c, .T = T};
    st.m2 = rs_calloc(2 * hw * sizeof(double));
    st.cm = rs_calloc((size_t)c * c * c * c * sizeof(double));
    st.ty = rs_alloc((size_t)c * h * sizeof(double)), st.tx = rs_alloc((size_t)c * w * sizeof(double));
    st.tmp = rs_alloc((size_t)c * w * sizeof(double)), st.chat = rs_alloc((size_t)c * c * sizeof(double));
    for (int a = 0; a < c; a++) {
        for (int y = 0; y < h; y++) st.ty[a * h + y] = sin(PI * (a + 1) * y / (h - 1.0));
        for (int x = 0; x < w; x++) st.tx[a * w + x] = sin(PI * (a + 1) * x / (w - 1.0));
    }
    float *f = rs_alloc(2 * hw * sizeof(float));
    for (int s = 0; s < nseeds; s++)
        for (int i = 0; i < nimg; i++) {
            assert_int_equal(rs_diffeo_field(&p, T, 1000 + s, 0, i, f, f + hw), RS_OK);
            stats_add(&st, f, w * sqrt(T), 0);      /* dx, scaled by W */
            stats_add(&st, f + hw, h * sqrt(T), 1); /* dy, scaled by H */
        }
    stats_check_modes(&st);
    stats_check_pixels(&st);
    rs_free(f);
    rs_free(st.m2), rs_free(st.cm), rs_free(st.ty), rs_free(st.tx), rs_free(st.tmp), rs_free(st.chat);
    rs_diffeo_plan_free(&p);
}

static void test_field_statistics(void **state) {
    double T;
    assert_int_equal(rs_diffeo_T_of_delta(1.0, 32, 5, &T), RS_OK);
    field_stats(32, 32, 5, T, 10, 1000);  /* 10 seeds x 1000 images */
    assert_int_equal(rs_diffeo_T_of_delta(1.0, 28, 3, &T), RS_OK);
    field_stats(28, 28, 3, T, 4, 2000);
    field_stats(20, 36, 3, 2e-3, 4, 2000); /* H != W: each axis its own linspace, dx scaled by W, dy by H */
}

static float *ramp_images(int64_t b, int c, int h, int w) { /* distinct random values */
    return tu_randn((size_t)b * c * h * w, 91);
}

static void test_remap_identity(void **state) {
    int b = 3, c = 3, h = 17, w = 23;
    size_t n = (size_t)b * c * h * w;
    float *x = ramp_images(b, c, h, w), *y = rs_alloc(n * 4), *s = rs_alloc(n * 4), *fl = rs_alloc((size_t)b * 2 * h * w * 4);
    int64_t idx[3] = {0, 5, 9};
    rs_diffeo_plan p;
    assert_int_equal(rs_diffeo_plan_init(&p, h, w, 3), RS_OK);
    rs_diffeo_opts o = {.T = 0.0, .interp = RS_INTERP_LINEAR, .seed = 3, .repeat = 0};
    assert_int_equal(rs_diffeo_batch(&p, &o, y, fl, x, b, c, idx), RS_OK);
    assert_memory_equal(x, y, n * 4);
    for (size_t i = 0; i < (size_t)b * 2 * h * w; i++) assert_true(fl[i] == 0.0f);
    o.interp = RS_INTERP_NEAREST;
    assert_int_equal(rs_diffeo_batch(&p, &o, y, NULL, x, b, c, idx), RS_OK);
    assert_memory_equal(x, y, n * 4);
    /* gaussian at T = 0 is the clean-image smoothing, and a constant image stays constant (to rounding) */
    o.interp = RS_INTERP_GAUSSIAN;
    assert_int_equal(rs_diffeo_batch(&p, &o, y, NULL, x, b, c, idx), RS_OK);
    assert_int_equal(rs_gaussian_smooth_batch(s, x, b, c, h, w), RS_OK);
    assert_memory_equal(s, y, n * 4);
    assert_true(memcmp(s, x, n * 4) != 0);
    for (size_t i = 0; i < n; i++) x[i] = 0.7f;
    assert_int_equal(rs_gaussian_smooth_batch(s, x, b, c, h, w), RS_OK);
    for (size_t i = 0; i < n; i++) assert_true(fabsf(s[i] - 0.7f) <= 0.7f * 0x1p-23f);
    rs_free(x);
    rs_free(y);
    rs_free(s);
    rs_free(fl);
    rs_diffeo_plan_free(&p);
}

/* A constant integer field moves pixels exactly (clamped at the edges) with linear and nearest. */
static void test_remap_integer_translation(void **state) {
    int c = 2, h = 9, w = 11;
    size_t hw = (size_t)h * w;
    float *x = ramp_images(1, c, h, w), y[2 * 99], dx[99], dy[99];
    for (size_t i = 0; i < hw; i++) {
        dx[i] = 2.0f;
        dy[i] = -1.0f;
    }
    rs_interp modes[2] = {RS_INTERP_LINEAR, RS_INTERP_NEAREST};
    for (int m = 0; m < 2; m++) {
        rs_remap(y, x, c, h, w, dx, dy, modes[m]);
        for (int ch = 0; ch < c; ch++)
            for (int r = 0; r < h; r++)
                for (int q = 0; q < w; q++) {
                    int sr = r + 1 > h - 1 ? h - 1 : r + 1, sq = q - 2 < 0 ? 0 : q - 2;
                    assert_true(y[ch * hw + r * w + q] == x[ch * hw + sr * w + sq]);
                }
    }
    rs_free(x);
}

/* Bilinear interpolation reproduces a linear image exactly, up to rounding. The plain-C reference computes the
 * source coordinates and weights in double and rounds the output once: |out - exact| <= 2^-24 |exact| + 1e-12.
 * rs_diffeo_batch's AVX-512 kernel (diffeo_fast.c) rounds the source point, weights and sum to float; its stated
 * bound against the reference, 2^-24 (9 M + (W + H) S) with M the largest |pixel| and S the spread of the pixels
 * around the source, is added for it (M <= 16, S <= 5.5 here). */
static void test_bilinear_exact_on_linear(void **state) {
    int h = 32, w = 32, c = 2;
    size_t hw = (size_t)h * w;
    float *x = rs_alloc(c * hw * 4), *y = rs_alloc(c * hw * 4), *f = rs_alloc(2 * hw * 4);
    float *y2 = rs_alloc(c * hw * 4), *f2 = rs_alloc(2 * hw * 4);
    for (int ch = 0; ch < c; ch++)
        for (int r = 0; r < h; r++)
            for (int q = 0; q < w; q++) x[ch * hw + r * w + q] = 0.25f * ch + 0.5f * r - 0.125f * q;
    rs_diffeo_plan p;
    assert_int_equal(rs_diffeo_plan_init(&p, h, w, 3), RS_OK);
    double tmax;
    assert_int_equal(rs_diffeo_tmax(3, &tmax), RS_OK);
    int64_t idx = 42;
    rs_diffeo_opts o = {.T = tmax, .interp = RS_INTERP_LINEAR, .seed = 9, .repeat = 2};
    assert_int_equal(rs_diffeo_batch(&p, &o, y, f, x, 1, c, &idx), RS_OK);
    assert_int_equal(rs__diffeo_batch_ref(&p, &o, y2, f2, x, 1, c, &idx), RS_OK);
    assert_memory_equal(f, f2, 2 * hw * 4); /* the same field */
    const double fast_bound = 0x1p-24 * (9.0 * 16.0 + (double)(w + h) * 5.5);
    int tested = 0;
    double maxdisp = 0;
    for (int r = 0; r < h; r++)
        for (int q = 0; q < w; q++) {
            double ys = r - (double)f[hw + r * w + q], xs = q - (double)f[r * w + q];
            maxdisp = fmax(maxdisp, fabs(f[r * w + q]));
            if (ys < 0 || ys > h - 1 || xs < 0 || xs > w - 1) continue; /* clamped: not linear there */
            tested++;
            for (int ch = 0; ch < c; ch++) {
                double want = 0.25 * ch + 0.5 * ys - 0.125 * xs;
                assert_true(fabs(y2[ch * hw + r * w + q] - want) <= 0x1p-24 * fabs(want) + 1e-12);
                assert_true(fabs(y[ch * hw + r * w + q] - want) <= 0x1p-24 * fabs(want) + 1e-12 + fast_bound);
            }
        }
    assert_true(tested > (int)hw * 3 / 4);
    assert_true(maxdisp > 1.0); /* a real deformation was tested */
    rs_free(x);
    rs_free(y);
    rs_free(f);
    rs_free(y2);
    rs_free(f2);
    rs_diffeo_plan_free(&p);
}

/* Gaussian interpolation equals the normalised Gaussian average over ALL input pixels, computed here directly.
 * Both sums are double; the two results differ by the final float rounding (<= 1 ulp, 2^-23 |ref|) plus the double
 * rounding of sums of terms bounded by max|in| (< 1e-13 max|in|). */
static void test_gaussian_full_sum(void **state) {
    int h = 14, w = 19, c = 2;
    size_t hw = (size_t)h * w;
    float *x = ramp_images(1, c, h, w), *y = rs_alloc(c * hw * 4), *f = rs_alloc(2 * hw * 4);
    rs_diffeo_plan p;
    assert_int_equal(rs_diffeo_plan_init(&p, h, w, 3), RS_OK);
    assert_int_equal(rs_diffeo_field(&p, 1e-2, 4, 0, 3, f, f + hw), RS_OK);
    rs_remap(y, x, c, h, w, f, f + hw, RS_INTERP_GAUSSIAN);
    double maxin = 0;
    for (size_t i = 0; i < c * hw; i++) maxin = fmax(maxin, fabs(x[i]));
    const double s2 = 2 * RS_GAUSSIAN_SIGMA * RS_GAUSSIAN_SIGMA;
    for (int r = 0; r < h; r++)
        for (int q = 0; q < w; q++) {
            double ys = fmin(fmax(r - (double)f[hw + r * w + q], 0), h - 1);
            double xs = fmin(fmax(q - (double)f[r * w + q], 0), w - 1);
            for (int ch = 0; ch < c; ch++) {
                double num = 0, den = 0;
                for (int rr = 0; rr < h; rr++)
                    for (int qq = 0; qq < w; qq++) {
                        double wt = exp(-((rr - ys) * (rr - ys) + (qq - xs) * (qq - xs)) / s2);
                        num += wt * x[ch * hw + rr * w + qq];
                        den += wt;
                    }
                double ref = num / den;
                assert_true(fabs(y[ch * hw + r * w + q] - ref) <= 0x1p-23 * fabs(ref) + 1e-13 * maxin);
            }
        }
    rs_free(x);
    rs_free(y);
    rs_free(f);
    rs_diffeo_plan_free(&p);
}

/* The deformed images and fields are bit-identical for 1 vs 2 threads and batch 64 vs batches of 7. */
static void test_threads_and_batches(void **state) {
    int B = 64, c = 3, h = 32, w = 32;
    size_t chw = (size_t)c * h * w, n = B * chw, nf = (size_t)B * 2 * h * w;
    float *x = ramp_images(B, c, h, w);
    float *y1 = rs_alloc(n * 4), *y2 = rs_alloc(n * 4), *f1 = rs_alloc(nf * 4), *f2 = rs_alloc(nf * 4);
    int64_t idx[64];
    for (int i = 0; i < B; i++) idx[i] = 1000 + 3 * i;
    rs_diffeo_plan p;
    assert_int_equal(rs_diffeo_plan_init(&p, h, w, 3), RS_OK);
    rs_interp modes[3] = {RS_INTERP_LINEAR, RS_INTERP_NEAREST, RS_INTERP_GAUSSIAN};
    for (int m = 0; m < 3; m++) {
        rs_diffeo_opts o = {.T = 1.1318e-3, .interp = modes[m], .seed = 17, .repeat = 1};
        rs_set_threads(1);
        assert_int_equal(rs_diffeo_batch(&p, &o, y1, f1, x, B, c, idx), RS_OK);
        rs_set_threads(2);
        for (int s = 0; s < B; s += 7) {
            int nb = B - s < 7 ? B - s : 7;
            assert_int_equal(rs_diffeo_batch(&p, &o, y2 + s * chw, f2 + (size_t)s * 2 * h * w, x + s * chw, nb, c,
                                             idx + s), RS_OK);
        }
        assert_memory_equal(y1, y2, n * 4);
        assert_memory_equal(f1, f2, nf * 4);
        assert_true(memcmp(x, y1, n * 4) != 0);
        /* without a fields buffer: the same images */
        assert_int_equal(rs_diffeo_batch(&p, &o, y2, NULL, x, B, c, idx), RS_OK);
        assert_memory_equal(y1, y2, n * 4);
    }
    rs_free(x);
    rs_free(y1);
    rs_free(y2);
    rs_free(f1);
    rs_free(f2);
    rs_diffeo_plan_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_T_table),          cmocka_unit_test(test_bad_cut_and_sizes),
        cmocka_unit_test(test_mode_counts),      cmocka_unit_test(test_addressing),
        cmocka_unit_test(test_field_statistics), cmocka_unit_test(test_remap_identity),
        cmocka_unit_test(test_remap_integer_translation), cmocka_unit_test(test_bilinear_exact_on_linear),
        cmocka_unit_test(test_gaussian_full_sum), cmocka_unit_test(test_threads_and_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
