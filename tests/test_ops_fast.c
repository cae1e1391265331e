/* test_ops_fast.c: every fast op (`_fast`: oneDNN) against its plain-C reference twin (`_ref`), forward and
 * backward, on random shapes drawn from the counter-based RNG (plus a few fixed layer shapes that take oneDNN's
 * blocked JIT kernels), and that backward ACCUMULATES into its gradients. Built without oneDNN, fast == reference
 * and the same comparisons run on identical paths.
 *
 * Tolerances. Both paths compute the same sums of products in float32 in different orders. For a sum of K terms
 * (each a product of exact inputs) computed in ANY order with float rounding u = 2^-24, the error is at most
 * gamma_K * sum |terms|, gamma_K = K u / (1 - K u) (Higham, Accuracy and Stability of Numerical Algorithms, §3.1
 * and §4.2; one more term per product's own rounding is included in K). So each path is within gamma_K * M of the
 * exact value, where M is the same op run on absolute values (|x|, |w|, |b|, and the initial |gradient|, which
 * the accumulation adds as one more term), and |fast - ref| <= 2 gamma_K M. M itself is computed by the reference
 * in float, a sum of positive terms, low by at most a factor (1 - gamma_K): the bound divides by that. K is the
 * exact number of terms of the op (stated at each use), never a fudge factor. Batch norm is not a plain sum of
 * products; its bounds are derived in bn_* below from the same gamma_K. Max pooling selects, so its forward must
 * be bit-exact. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/ops.h"

#define SEED 20240611ull
static const double U = 0x1p-24; /* float32 unit roundoff */
static double gam(double k) { return k * U / (1.0 - k * U); }

/* |fast - ref| <= 2 gamma_K M / (1 - gamma_K) elementwise (plus 1e-30 for flushed denormal products). */
static void check_bound(const float *fast, const float *ref, const float *mag, size_t n, double k, const char *what) {
    const double g = gam(k), f = 2.0 * g / (1.0 - g);
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)fast[i] - (double)ref[i]), tol = f * (double)mag[i] + 1e-30;
        if (!(d <= tol)) {
            fprintf(stderr, "%s: element %zu: fast %.9g ref %.9g |diff| %.3g > bound %.3g (K %.0f, M %.4g)\n", what, i,
                    (double)fast[i], (double)ref[i], d, tol, k, (double)mag[i]);
            fail();
        }
    }
}

static float *randn(size_t n, uint64_t stream) { return tu_randn(n ? n : 1, stream); }
static float *copy_of(const float *x, size_t n) {
    float *y = rs_alloc((n ? n : 1) * sizeof(float));
    memcpy(y, x, n * sizeof(float));
    return y;
}
static float *abs_of(const float *x, size_t n) {
    float *y = copy_of(x, n);
    for (size_t i = 0; i < n; i++) y[i] = fabsf(y[i]);
    return y;
}
/* Rounds to multiples of 1/2 so that many values tie (the max-pool tie rule then matters). */
static void quantize(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = roundf(x[i] * 2.0f) / 2.0f;
}
static int64_t draw(uint64_t stream, uint64_t *idx, int64_t lo, int64_t hi) {
    return lo + (int64_t)rs_randint(SEED, stream, idx, (uint64_t)(hi - lo + 1));
}

/* ---------------------------------------------------------------- conv2d */
typedef struct {
    rs_conv2d_dims d;
    int bias, want_in, want_w, want_b;
} conv_case;

/* Shape of the backward-data sum: each input element receives (C_out/G) KH KW products per time its padded
 * copies appear (circular padding can show one input position up to ceil(Hp/H) ceil(Wp/W) times). */
static double conv_bwd_data_terms(const rs_conv2d_dims *d) {
    double copies = 1.0;
    if (d->pad_mode == RS_PAD_CIRCULAR) {
        int64_t hp = d->h_in + d->pad_top + d->pad_bottom, wp = d->w_in + d->pad_left + d->pad_right;
        copies = (double)((hp + d->h_in - 1) / d->h_in) * (double)((wp + d->w_in - 1) / d->w_in);
    }
    return copies * (d->c_out / d->groups) * d->kh * d->kw;
}

static void run_conv_case(const conv_case *cc, uint64_t stream) {
    rs_conv2d_dims d = cc->d;
    assert_int_equal(rs_conv2d_dims_finish(&d), RS_OK);
    const size_t nin = (size_t)d.n * d.h_in * d.w_in * d.c_in, nout = (size_t)d.n * d.h_out * d.w_out * d.c_out;
    const size_t nw = (size_t)d.c_out * (d.c_in / d.groups) * d.kh * d.kw, nb = (size_t)d.c_out;
    float *x = randn(nin, stream), *w = randn(nw, stream + 1), *b = randn(nb, stream + 2);
    float *dy = randn(nout, stream + 3), *v_in = randn(nin, stream + 4), *v_w = randn(nw, stream + 5);
    float *v_b = randn(nb, stream + 6);
    const float *bias = cc->bias ? b : NULL;
    rs_workspace ws = {0};
    float *yf = rs_alloc(nout * 4), *yr = rs_alloc(nout * 4), *ym = rs_alloc(nout * 4);
    float *ax = abs_of(x, nin), *aw = abs_of(w, nw), *ab = abs_of(b, nb), *ady = abs_of(dy, nout);
    rs_conv2d_forward_fast(yf, x, w, bias, &d, &ws);
    rs_conv2d_forward_ref(yr, x, w, bias, &d, &ws);
    rs_conv2d_forward_ref(ym, ax, aw, cc->bias ? ab : NULL, &d, &ws);
    /* forward: (C_in/G) KH KW products + the bias */
    check_bound(yf, yr, ym, nout, (double)(d.c_in / d.groups) * d.kh * d.kw + 1, "conv2d forward");

    /* backward from random initial gradients (an overwrite instead of += would be off by |v| ~ 1) */
    float *gi_f = copy_of(v_in, nin), *gi_r = copy_of(v_in, nin), *gi_m = abs_of(v_in, nin);
    float *gw_f = copy_of(v_w, nw), *gw_r = copy_of(v_w, nw), *gw_m = abs_of(v_w, nw);
    float *gb_f = copy_of(v_b, nb), *gb_r = copy_of(v_b, nb), *gb_m = abs_of(v_b, nb);
    float *pi = cc->want_in ? gi_f : NULL, *pw = cc->want_w ? gw_f : NULL, *pb = cc->want_b ? gb_f : NULL;
    rs_conv2d_backward_fast(pi, pw, pb, dy, x, w, &d, &ws);
    rs_conv2d_backward_ref(cc->want_in ? gi_r : NULL, cc->want_w ? gw_r : NULL, cc->want_b ? gb_r : NULL, dy, x, w,
                           &d, &ws);
    rs_conv2d_backward_ref(cc->want_in ? gi_m : NULL, cc->want_w ? gw_m : NULL, cc->want_b ? gb_m : NULL, ady, ax,
                           aw, &d, &ws);
    const double rows = (double)d.n * d.h_out * d.w_out;
    check_bound(gi_f, gi_r, gi_m, nin, conv_bwd_data_terms(&d) + 1, "conv2d backward d_in"); /* + initial */
    check_bound(gw_f, gw_r, gw_m, nw, rows + 1, "conv2d backward d_weight");                  /* N Ho Wo + initial */
    check_bound(gb_f, gb_r, gb_m, nb, rows + 1, "conv2d backward d_bias");

    /* accumulation, directly: a second backward call onto the first adds the same gradient again */
    float *g1_in = rs_calloc(nin * 4), *g2_in = rs_calloc(nin * 4), *g1_w = rs_calloc(nw * 4);
    float *g2_w = rs_calloc(nw * 4), *g1_b = rs_calloc(nb * 4), *g2_b = rs_calloc(nb * 4);
    rs_conv2d_backward_fast(cc->want_in ? g1_in : NULL, cc->want_w ? g1_w : NULL, cc->want_b ? g1_b : NULL, dy, x, w,
                            &d, &ws);
    for (int rep = 0; rep < 2; rep++)
        rs_conv2d_backward_fast(cc->want_in ? g2_in : NULL, cc->want_w ? g2_w : NULL, cc->want_b ? g2_b : NULL, dy,
                                x, w, &d, &ws);
    for (size_t i = 0; i < nin; i++) g1_in[i] *= 2.0f; /* exact */
    for (size_t i = 0; i < nw; i++) g1_w[i] *= 2.0f;
    for (size_t i = 0; i < nb; i++) g1_b[i] *= 2.0f;
    /* each call is within gamma_K M of exact; twice M bounds the doubled gradient; K + 1 covers the final add */
    for (size_t i = 0; i < nin; i++) gi_m[i] *= 2.0f;
    for (size_t i = 0; i < nw; i++) gw_m[i] *= 2.0f;
    for (size_t i = 0; i < nb; i++) gb_m[i] *= 2.0f;
    check_bound(g2_in, g1_in, gi_m, nin, conv_bwd_data_terms(&d) + 1, "conv2d d_in accumulates");
    check_bound(g2_w, g1_w, gw_m, nw, rows + 1, "conv2d d_weight accumulates");
    check_bound(g2_b, g1_b, gb_m, nb, rows + 1, "conv2d d_bias accumulates");

    float *all[] = {x, w, b, dy, v_in, v_w, v_b, yf, yr, ym, ax, aw, ab, ady, gi_f, gi_r, gi_m, gw_f, gw_r, gw_m,
                    gb_f, gb_r, gb_m, g1_in, g2_in, g1_w, g2_w, g1_b, g2_b};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rs_free(all[i]);
    rs_workspace_free(&ws);
}

/* A random conv: dense, depthwise, grouped, 1-D circular or 2-D circular; batch 1..8, channels 1..40 (3 often),
 * sizes 1..20, kernels 1..5, strides 1..3, asymmetric pads; the work is capped to keep the reference quick. */
static conv_case random_conv(uint64_t s) {
    uint64_t k = 0;
    conv_case cc;
    memset(&cc, 0, sizeof cc);
    rs_conv2d_dims *d = &cc.d;
    int kind = (int)draw(s, &k, 0, 4);
    d->n = (int32_t)draw(s, &k, 1, 8);
    d->c_in = draw(s, &k, 0, 3) == 0 ? 3 : (int32_t)draw(s, &k, 1, 40);
    d->groups = 1;
    d->c_out = (int32_t)draw(s, &k, 1, 40);
    if (kind == 1) { /* depthwise, channel multiplier 1 or 2 */
        d->groups = d->c_in;
        d->c_out = d->c_in * (int32_t)draw(s, &k, 1, 2);
    } else if (kind == 2) { /* grouped */
        d->groups = (int32_t)draw(s, &k, 2, 4);
        d->c_in = d->groups * (int32_t)draw(s, &k, 1, 8);
        d->c_out = d->groups * (int32_t)draw(s, &k, 1, 8);
    }
    d->h_in = kind == 3 ? 1 : (int32_t)draw(s, &k, 1, 20);
    d->w_in = (int32_t)draw(s, &k, kind >= 3 ? 2 : 1, 20);
    d->kh = kind == 3 ? 1 : (int32_t)draw(s, &k, 1, 5);
    d->kw = (int32_t)draw(s, &k, 1, 5);
    d->stride_h = (int32_t)draw(s, &k, 1, 3);
    d->stride_w = (int32_t)draw(s, &k, 1, 3);
    d->pad_mode = kind >= 3 ? RS_PAD_CIRCULAR : RS_PAD_ZERO;
    /* zero pads up to the kernel size (a window may then lie wholly in the padding); circular pads below the
     * input size (and, here, at most the kernel size) */
    int32_t mh = kind >= 3 ? d->h_in - 1 : d->kh, mw = kind >= 3 ? d->w_in - 1 : d->kw;
    mh = mh < d->kh ? mh : d->kh;
    mw = mw < d->kw ? mw : d->kw;
    d->pad_top = (int32_t)draw(s, &k, 0, mh);
    d->pad_bottom = (int32_t)draw(s, &k, 0, mh);
    d->pad_left = (int32_t)draw(s, &k, 0, mw);
    d->pad_right = (int32_t)draw(s, &k, 0, mw);
    if (d->kh > d->h_in + d->pad_top + d->pad_bottom) d->kh = d->h_in + d->pad_top + d->pad_bottom;
    if (d->kw > d->w_in + d->pad_left + d->pad_right) d->kw = d->w_in + d->pad_left + d->pad_right;
    for (;;) { /* cap the multiply-adds of one pass at 4M */
        double macs = (double)d->n * d->h_in * d->w_in * (d->c_in / d->groups) * d->c_out * d->kh * d->kw /
                      (d->stride_h * d->stride_w);
        if (macs <= 4e6) break;
        if (d->n > 1) d->n--;
        else if (d->h_in > d->kh + 1) d->h_in--;
        else d->w_in--;
    }
    cc.bias = (int)draw(s, &k, 0, 3) != 0;
    int mask = (int)draw(s, &k, 0, 7); /* which gradients: all three half of the time */
    mask = draw(s, &k, 0, 1) ? 7 : mask;
    cc.want_in = mask & 1;
    cc.want_w = (mask >> 1) & 1;
    cc.want_b = (mask >> 2) & 1;
    return cc;
}

static void test_conv2d_random(void **state) {
    for (uint32_t i = 0; i < 24; i++) {
        uint64_t s = rs_stream(RS_PURPOSE_TEST, 100, i);
        conv_case cc = random_conv(s);
        run_conv_case(&cc, s + 1000);
    }
}

static conv_case fixed_conv(int32_t n, int32_t h, int32_t w, int32_t ci, int32_t co, int32_t k, int32_t stride,
                            int32_t pad, int32_t groups, rs_pad_mode mode) {
    conv_case cc;
    memset(&cc, 0, sizeof cc);
    cc.d = (rs_conv2d_dims){.n = n, .h_in = h, .w_in = w, .c_in = ci, .c_out = co, .kh = h == 1 ? 1 : k, .kw = k,
                            .stride_h = stride, .stride_w = stride, .pad_top = h == 1 ? 0 : pad,
                            .pad_bottom = h == 1 ? 0 : pad, .pad_left = pad, .pad_right = pad, .groups = groups,
                            .pad_mode = mode};
    cc.bias = cc.want_in = cc.want_w = cc.want_b = 1;
    return cc;
}

/* Layer shapes of the zoo: VGG 3x3 (first layer from 3 channels), a strided 1x1 shortcut, an EfficientNet
 * depthwise 3x3 stride 2, a 1-D circular conv. Channels are multiples of 16 so oneDNN takes its blocked kernels. */
static void test_conv2d_layers(void **state) {
    conv_case cs[] = {
        fixed_conv(2, 16, 16, 3, 32, 3, 1, 1, 1, RS_PAD_ZERO),   fixed_conv(2, 8, 8, 32, 64, 3, 1, 1, 1, RS_PAD_ZERO),
        fixed_conv(2, 8, 8, 32, 64, 1, 2, 0, 1, RS_PAD_ZERO),    fixed_conv(2, 8, 8, 32, 32, 3, 2, 1, 32, RS_PAD_ZERO),
        fixed_conv(4, 1, 32, 16, 32, 5, 1, 2, 1, RS_PAD_CIRCULAR),
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) run_conv_case(&cs[i], rs_stream(RS_PURPOSE_TEST, 101, i));
}

/* Winograd forward (RS_CONV_ALGO_WINOGRAD forces it wherever oneDNN has it; AUTO, opt-in, takes it from 64
 * channels and 16384 output pixels): the
 * VGG-like 3x3 stride-1 shapes (even and odd sizes, padding 1 and 0, 64 to 128 channels, with and without bias,
 * one of 16384 output pixels that AUTO gives to Winograd)
 * and the random set again, against the reference within the same gamma_K bounds as the direct algorithm. The
 * forced Winograd output must differ from the direct one somewhere (different sums: proof that it ran). */
static void test_conv2d_winograd(void **state) {
    conv_case cs[] = {
        fixed_conv(2, 8, 8, 64, 64, 3, 1, 1, 1, RS_PAD_ZERO),   fixed_conv(2, 16, 16, 64, 128, 3, 1, 1, 1, RS_PAD_ZERO),
        fixed_conv(3, 7, 7, 128, 64, 3, 1, 1, 1, RS_PAD_ZERO),  fixed_conv(2, 10, 9, 64, 64, 3, 1, 0, 1, RS_PAD_ZERO),
        fixed_conv(2, 4, 4, 128, 128, 3, 1, 1, 1, RS_PAD_ZERO), fixed_conv(2, 8, 8, 16, 32, 3, 1, 1, 1, RS_PAD_ZERO),
    };
    cs[1].bias = 0;
    const rs_conv_algo before = rs_get_conv_algo();
    for (int pass = 0; pass < 2; pass++) {
        rs_set_conv_algo(pass == 0 ? RS_CONV_ALGO_WINOGRAD : RS_CONV_ALGO_AUTO);
        for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
            run_conv_case(&cs[i], rs_stream(RS_PURPOSE_TEST, 102, i));
    }
    conv_case big = fixed_conv(4, 64, 64, 64, 64, 3, 1, 1, 1, RS_PAD_ZERO); /* AUTO takes Winograd here */
    run_conv_case(&big, rs_stream(RS_PURPOSE_TEST, 103, 0));
    rs_set_conv_algo(RS_CONV_ALGO_WINOGRAD);
    for (uint32_t i = 0; i < 24; i++) {
        uint64_t s = rs_stream(RS_PURPOSE_TEST, 100, i);
        conv_case cc = random_conv(s);
        run_conv_case(&cc, s + 1000);
    }
    if (rs_have_onednn()) {
        rs_conv2d_dims d = cs[0].d;
        assert_int_equal(rs_conv2d_dims_finish(&d), RS_OK);
        size_t nin = (size_t)d.n * d.h_in * d.w_in * d.c_in, nout = (size_t)d.n * d.h_out * d.w_out * d.c_out;
        float *x = randn(nin, 11), *w = randn((size_t)d.c_out * d.c_in * 9, 12);
        float *yw = rs_alloc(nout * 4), *yd = rs_alloc(nout * 4);
        rs_workspace ws = {0};
        rs_conv2d_forward_fast(yw, x, w, NULL, &d, &ws);
        rs_set_conv_algo(RS_CONV_ALGO_DIRECT);
        rs_conv2d_forward_fast(yd, x, w, NULL, &d, &ws);
        assert_true(memcmp(yw, yd, nout * 4) != 0);
        rs_free(x), rs_free(w), rs_free(yw), rs_free(yd);
        rs_workspace_free(&ws);
    }
    rs_set_conv_algo(before);
    (void)state;
}

/* The kernels of small maps (rs_set_conv_kernel; onednn_conv.c, onednn_gemmconv.c): VGG's and ResNet's 512-channel
 * 3x3 layers on 4x4 and 2x2 pixels (and 256 -> 512 in, 512 -> 256 out, with and without bias), whose forward the
 * rule gives to oneDNN's non-brgconv kernel and whose backward to the im2col GEMMs, against the reference within
 * the same gamma_K bounds as every conv; then that forward kernel, and the GEMM backward, forced on the layer
 * shapes, a strided and a 5x5 conv and the 24 random convolutions. The rule must have taken a kernel other than
 * brgconv on those shapes (it picked brgconv before: 2x slower there), and a forward or backward run twice on the
 * same shape must give the same bits (the kernels are a function of the shape only). */
static void test_conv2d_small_maps(void **state) {
    conv_case cs[] = {
        fixed_conv(2, 4, 4, 512, 512, 3, 1, 1, 1, RS_PAD_ZERO), fixed_conv(2, 2, 2, 512, 512, 3, 1, 1, 1, RS_PAD_ZERO),
        fixed_conv(3, 4, 4, 256, 512, 3, 1, 1, 1, RS_PAD_ZERO), fixed_conv(2, 2, 2, 512, 256, 3, 1, 1, 1, RS_PAD_ZERO),
        fixed_conv(2, 3, 5, 128, 144, 3, 1, 1, 1, RS_PAD_ZERO),
    };
    cs[1].bias = 0;
    cs[3].want_in = 0;
    const rs_conv_kernel before = rs_get_conv_kernel();
    rs_set_conv_kernel(RS_CONV_KERNEL_RULE);
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        run_conv_case(&cs[i], rs_stream(RS_PURPOSE_TEST, 104, i));
        rs_conv2d_dims d = cs[i].d;
        assert_int_equal(rs_conv2d_dims_finish(&d), RS_OK);
        char name[64];
        rs_conv2d_fast_kernel(name, sizeof name, &d, cs[i].bias);
        assert_true(strncmp(name, "brg", 3) != 0);
    }
    rs_set_conv_kernel(RS_CONV_KERNEL_NOT_BRG);
    conv_case layers[] = {
        fixed_conv(2, 16, 16, 3, 32, 3, 1, 1, 1, RS_PAD_ZERO),   fixed_conv(2, 8, 8, 64, 64, 3, 1, 1, 1, RS_PAD_ZERO),
        fixed_conv(2, 8, 8, 32, 64, 1, 2, 0, 1, RS_PAD_ZERO),    fixed_conv(2, 8, 8, 32, 32, 3, 2, 1, 32, RS_PAD_ZERO),
        fixed_conv(4, 1, 32, 16, 32, 5, 1, 2, 1, RS_PAD_CIRCULAR),
    };
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        run_conv_case(&layers[i], rs_stream(RS_PURPOSE_TEST, 105, i));
        rs_conv2d_dims d = layers[i].d;
        assert_int_equal(rs_conv2d_dims_finish(&d), RS_OK);
        char name[64];
        rs_conv2d_fast_kernel(name, sizeof name, &d, 1);
        assert_true(strncmp(name, "brg", 3) != 0);
    }
    for (int pass = 0; pass < 2; pass++) { /* the forward kernel, then the GEMM backward, forced everywhere */
        rs_set_conv_kernel(pass == 0 ? RS_CONV_KERNEL_NOT_BRG : RS_CONV_KERNEL_GEMM);
        for (uint32_t i = 0; i < 24; i++) {
            uint64_t s = rs_stream(RS_PURPOSE_TEST, 100, i);
            conv_case cc = random_conv(s);
            run_conv_case(&cc, s + 1000);
        }
    }
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
        run_conv_case(&layers[i], rs_stream(RS_PURPOSE_TEST, 106, i));
    conv_case strided = fixed_conv(3, 9, 7, 16, 24, 3, 2, 1, 1, RS_PAD_ZERO), k5 = fixed_conv(2, 6, 6, 8, 16, 5, 1, 2,
                                                                                            1, RS_PAD_ZERO);
    run_conv_case(&strided, rs_stream(RS_PURPOSE_TEST, 107, 0));
    run_conv_case(&k5, rs_stream(RS_PURPOSE_TEST, 107, 1));
    rs_set_conv_kernel(RS_CONV_KERNEL_RULE);
    rs_conv2d_dims d = cs[0].d, other = cs[2].d;
    assert_int_equal(rs_conv2d_dims_finish(&d), RS_OK);
    assert_int_equal(rs_conv2d_dims_finish(&other), RS_OK);
    size_t nin = (size_t)d.n * d.h_in * d.w_in * d.c_in, nout = (size_t)d.n * d.h_out * d.w_out * d.c_out;
    size_t onin = (size_t)other.n * other.h_in * other.w_in * other.c_in;
    size_t onout = (size_t)other.n * other.h_out * other.w_out * other.c_out;
    float *x = randn(nin, 21), *w = randn((size_t)d.c_out * d.c_in * 9, 22), *y1 = rs_alloc(nout * 4);
    float *y2 = rs_alloc(nout * 4), *ox = randn(onin, 23), *ow = randn((size_t)other.c_out * other.c_in * 9, 24);
    float *oy = rs_alloc(onout * 4);
    rs_workspace ws = {0};
    rs_conv2d_forward_fast(y1, x, w, NULL, &d, &ws);
    rs_conv2d_forward_fast(oy, ox, ow, NULL, &other, &ws);
    rs_conv2d_forward_fast(y2, x, w, NULL, &d, &ws);
    assert_memory_equal(y1, y2, nout * 4);
    /* the backward twice: the same bits; and the GEMM backward (rule) differs from the direct primitives' (other
     * sums: proof that it ran) where oneDNN is built in */
    size_t nw = (size_t)d.c_out * d.c_in * 9;
    float *g1 = rs_calloc(nw * 4), *g2 = rs_calloc(nw * 4), *g3 = rs_calloc(nw * 4);
    float *i1 = rs_calloc(nin * 4), *i2 = rs_calloc(nin * 4);
    rs_conv2d_backward_fast(i1, g1, NULL, y1, x, w, &d, &ws);
    rs_conv2d_backward_fast(i2, g2, NULL, y1, x, w, &d, &ws);
    assert_memory_equal(g1, g2, nw * 4);
    assert_memory_equal(i1, i2, nin * 4);
    if (rs_have_onednn()) {
        rs_set_conv_kernel(RS_CONV_KERNEL_NOT_BRG);
        rs_conv2d_backward_fast(NULL, g3, NULL, y1, x, w, &d, &ws);
        assert_true(memcmp(g1, g3, nw * 4) != 0);
    }
    rs_free(g1), rs_free(g2), rs_free(g3), rs_free(i1), rs_free(i2);
    rs_free(x), rs_free(w), rs_free(y1), rs_free(y2), rs_free(ox), rs_free(ow), rs_free(oy);
    rs_workspace_free(&ws);
    rs_set_conv_kernel(before);
    (void)state;
}

/* More distinct shapes (300) than the primitive cache has slots (256), then the first again: eviction keeps
 * results right. */
static void test_conv2d_cache_eviction(void **state) {
    rs_workspace ws = {0};
    float *x = randn(40 * 6 * 4, 7), *w = randn(8 * 4 * 3 * 3, 8); /* up to (1, 40, 6, 4) and (8, 4, 3, 3) */
    float *y0 = rs_alloc(40 * 6 * 8 * 4), *y1 = rs_alloc(40 * 6 * 8 * 4);
    for (int32_t i = 0; i < 300; i++) {
        int32_t co = 1 + i % 8, hh = 3 + i / 8;
        rs_conv2d_dims d = {.n = 1, .h_in = hh, .w_in = 6, .c_in = 4, .c_out = co, .kh = 3, .kw = 3, .stride_h = 1,
                            .stride_w = 1, .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1, .groups = 1};
        assert_int_equal(rs_conv2d_dims_finish(&d), RS_OK);
        rs_conv2d_forward_fast(i == 0 ? y0 : y1, x, w, NULL, &d, &ws);
    }
    rs_conv2d_dims d = {.n = 1, .h_in = 3, .w_in = 6, .c_in = 4, .c_out = 1, .kh = 3, .kw = 3, .stride_h = 1,
                        .stride_w = 1, .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1, .groups = 1};
    assert_int_equal(rs_conv2d_dims_finish(&d), RS_OK);
    rs_conv2d_forward_fast(y1, x, w, NULL, &d, &ws);
    assert_memory_equal(y0, y1, (size_t)d.h_out * d.w_out * d.c_out * 4); /* same primitive kind, same result */
    rs_free(x);
    rs_free(w);
    rs_free(y0);
    rs_free(y1);
    rs_workspace_free(&ws);
}

/* ---------------------------------------------------------------- pooling */
static void run_pool_case(rs_pool2d_dims d, int ties, uint64_t stream) {
    assert_int_equal(rs_pool2d_dims_finish(&d), RS_OK);
    const size_t nin = (size_t)d.n * d.h_in * d.w_in * d.c, nout = (size_t)d.n * d.h_out * d.w_out * d.c;
    float *x = randn(nin, stream), *dy = randn(nout, stream + 1), *v = randn(nin, stream + 2);
    if (ties) quantize(x, nin);
    float *yf = rs_alloc(nout * 4), *yr = rs_alloc(nout * 4), *yi = rs_alloc(nout * 4), *ym = rs_alloc(nout * 4);
    void *sf = rs_alloc(rs_maxpool2d_saved_bytes(&d)), *sr = rs_alloc(rs_maxpool2d_saved_bytes(&d));
    float *ady = abs_of(dy, nout), *ax = abs_of(x, nin);
    const double window = (double)d.kh * d.kw;

    /* max: the forward selects, so it is exact (training and inference); ties must pick the same element, which
     * the backward then shows. Each input gathers at most KH KW routed gradients, plus its initial value. */
    rs_maxpool2d_forward_fast(yf, sf, x, &d);
    rs_maxpool2d_forward_ref(yr, sr, x, &d);
    rs_maxpool2d_forward_fast(yi, NULL, x, &d);
    assert_memory_equal(yf, yr, nout * 4);
    assert_memory_equal(yi, yr, nout * 4);
    float *gf = copy_of(v, nin), *gr = copy_of(v, nin), *gm = abs_of(v, nin);
    rs_maxpool2d_backward_fast(gf, dy, sf, &d);
    rs_maxpool2d_backward_ref(gr, dy, sr, &d);
    rs_maxpool2d_backward_ref(gm, ady, sr, &d);
    check_bound(gf, gr, gm, nin, window + 1, "maxpool backward");

    /* average: K = KH KW terms and one division (forward); backward adds at most KH KW quotients to the initial */
    rs_avgpool2d_forward_fast(yf, x, &d);
    rs_avgpool2d_forward_ref(yr, x, &d);
    rs_avgpool2d_forward_ref(ym, ax, &d);
    check_bound(yf, yr, ym, nout, window + 1, "avgpool forward");
    memcpy(gf, v, nin * 4);
    memcpy(gr, v, nin * 4);
    for (size_t i = 0; i < nin; i++) gm[i] = fabsf(v[i]);
    rs_avgpool2d_backward_fast(gf, dy, &d);
    rs_avgpool2d_backward_ref(gr, dy, &d);
    rs_avgpool2d_backward_ref(gm, ady, &d);
    check_bound(gf, gr, gm, nin, window + 1, "avgpool backward");
    float *all[] = {x, dy, v, yf, yr, yi, ym, ady, ax, gf, gr, gm};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rs_free(all[i]);
    rs_free(sf);
    rs_free(sr);
}

static void test_pool_random(void **state) {
    for (uint32_t i = 0; i < 24; i++) {
        uint64_t s = rs_stream(RS_PURPOSE_TEST, 200, i), k = 0;
        rs_pool2d_dims d = {0};
        d.n = (int32_t)draw(s, &k, 1, 8);
        d.c = draw(s, &k, 0, 3) == 0 ? 3 : (int32_t)draw(s, &k, 1, 40);
        d.h_in = (int32_t)draw(s, &k, 1, 20);
        d.w_in = (int32_t)draw(s, &k, 1, 20);
        d.kh = (int32_t)draw(s, &k, 1, 4);
        d.kw = (int32_t)draw(s, &k, 1, 4);
        d.pad_h = (int32_t)draw(s, &k, 0, d.kh / 2);
        d.pad_w = (int32_t)draw(s, &k, 0, d.kw / 2);
        if (d.kh > d.h_in + 2 * d.pad_h) d.kh = d.h_in + 2 * d.pad_h;
        if (d.kw > d.w_in + 2 * d.pad_w) d.kw = d.w_in + 2 * d.pad_w;
        d.stride_h = (int32_t)draw(s, &k, 1, 3);
        d.stride_w = (int32_t)draw(s, &k, 1, 3);
        d.count_include_pad = (int32_t)draw(s, &k, 0, 1);
        run_pool_case(d, (int)draw(s, &k, 0, 1), s + 1000);
    }
}

/* VGG's 2x2 stride 2, AlexNet's overlapping 3x3 stride 2, a padded 3x3 stride 1; 64 channels; with ties. */
static void test_pool_layers(void **state) {
    rs_pool2d_dims ds[] = {
        {.n = 4, .h_in = 16, .w_in = 16, .c = 64, .kh = 2, .kw = 2, .stride_h = 2, .stride_w = 2},
        {.n = 4, .h_in = 13, .w_in = 13, .c = 64, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2},
        {.n = 2, .h_in = 9, .w_in = 9, .c = 64, .kh = 3, .kw = 3, .stride_h = 1, .stride_w = 1, .pad_h = 1,
         .pad_w = 1, .count_include_pad = 1},
    };
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) run_pool_case(ds[i], 1, rs_stream(RS_PURPOSE_TEST, 201, i));
}

/* ---------------------------------------------------------------- linear */
static void run_linear_case(int64_t n, int64_t k, int64_t o, int bias, uint64_t stream) {
    float *x = randn(n * k, stream), *w = randn(o * k, stream + 1), *b = randn(o, stream + 2);
    float *dy = randn(n * o, stream + 3), *vi = randn(n * k, stream + 4), *vw = randn(o * k, stream + 5);
    float *vb = randn(o, stream + 6);
    float *ax = abs_of(x, n * k), *aw = abs_of(w, o * k), *ab = abs_of(b, o), *ady = abs_of(dy, n * o);
    float *yf = rs_alloc(n * o * 4), *yr = rs_alloc(n * o * 4), *ym = rs_alloc(n * o * 4);
    rs_linear_forward_fast(yf, x, w, bias ? b : NULL, n, k, o);
    rs_linear_forward_ref(yr, x, w, bias ? b : NULL, n, k, o);
    rs_linear_forward_ref(ym, ax, aw, bias ? ab : NULL, n, k, o);
    check_bound(yf, yr, ym, n * o, (double)k + 1, "linear forward"); /* K products + bias */
    float *gi_f = copy_of(vi, n * k), *gi_r = copy_of(vi, n * k), *gi_m = abs_of(vi, n * k);
    float *gw_f = copy_of(vw, o * k), *gw_r = copy_of(vw, o * k), *gw_m = abs_of(vw, o * k);
    float *gb_f = copy_of(vb, o), *gb_r = copy_of(vb, o), *gb_m = abs_of(vb, o);
    rs_linear_backward_fast(gi_f, gw_f, gb_f, dy, x, w, n, k, o);
    rs_linear_backward_ref(gi_r, gw_r, gb_r, dy, x, w, n, k, o);
    rs_linear_backward_ref(gi_m, gw_m, gb_m, ady, ax, aw, n, k, o);
    check_bound(gi_f, gi_r, gi_m, n * k, (double)o + 1, "linear d_in");    /* O products + initial */
    check_bound(gw_f, gw_r, gw_m, o * k, (double)n + 1, "linear d_weight"); /* N products + initial */
    check_bound(gb_f, gb_r, gb_m, o, (double)n + 1, "linear d_bias");
    /* one gradient at a time (NULL for the others) gives the same as all at once */
    float *g1 = copy_of(vi, n * k), *g2 = copy_of(vw, o * k), *g3 = copy_of(vb, o);
    rs_linear_backward_fast(g1, NULL, NULL, dy, x, w, n, k, o);
    rs_linear_backward_fast(NULL, g2, NULL, dy, x, w, n, k, o);
    rs_linear_backward_fast(NULL, NULL, g3, dy, x, w, n, k, o);
    check_bound(g1, gi_r, gi_m, n * k, (double)o + 1, "linear d_in alone");
    check_bound(g2, gw_r, gw_m, o * k, (double)n + 1, "linear d_weight alone");
    check_bound(g3, gb_r, gb_m, o, (double)n + 1, "linear d_bias alone");
    float *all[] = {x, w, b, dy, vi, vw, vb, ax, aw, ab, ady, yf, yr, ym, gi_f, gi_r, gi_m, gw_f, gw_r, gw_m, gb_f,
                    gb_r, gb_m, g1, g2, g3};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rs_free(all[i]);
}

static void test_linear(void **state) {
    for (uint32_t i = 0; i < 16; i++) {
        uint64_t s = rs_stream(RS_PURPOSE_TEST, 300, i), k = 0;
        int64_t n = draw(s, &k, 1, 64), kk = draw(s, &k, 1, 300), o = draw(s, &k, 1, 100);
        run_linear_case(n, kk, o, (int)draw(s, &k, 0, 3) != 0, s + 1000);
    }
    run_linear_case(128, 512, 10, 1, rs_stream(RS_PURPOSE_TEST, 301, 0)); /* VGG's classifier on CIFAR */
}

/* ---------------------------------------------------------------- batch norm
 * Bounds, per channel, with R rows, m1 = mean |x|, m2 = mean x^2, exact mean mu and biased variance var (double):
 *   one implementation's batch mean is within e_mu = gamma_{R+1} m1, its variance (one-pass E x^2 - mean^2 or
 *   two-pass) within e_var = 4 gamma_{R+2} m2 (one pass: gamma m2 for the sum of squares, 2 gamma m2 for the
 *   squared mean, u m2 for the subtraction), so invstd is within the relative r_is = t / (2 (1 - t)^1.5) + 2u,
 *   t = e_var / (var + eps) (the 2u: sqrt and division). In EVAL mode the statistics are given: e_mu = e_var = 0.
 *   y = gamma invstd (x - mu) + beta is then within gamma invstd (e_mu + |x - mu| r_is), plus at most 4 roundings
 *   of magnitudes bounded by gamma invstd (|x| + m1 + e_mu) + |beta| + |y| (this covers both the (x - mu) * a + b
 *   and the x * a + (b - mu a) forms). Backward is given the saved statistics, xh = (x - mu_s) invstd_s:
 *   d_beta = sum dy (R terms), d_gamma = sum dy xh (R terms of 3 roundings each, and 3u more for the fast path's
 *   invstd, which it gets back from var = 1 / invstd^2), d_in = gamma invstd (dy - mean dy - xh mean(dy xh)) with
 *   the two means within gamma_{R+1} A1 and gamma_{R+7} A2 (A1 = mean |dy|, A2 = mean |dy xh|) and about 10
 *   roundings of T = |dy| + A1 + |xh| A2 (subtraction, scalings, the invstd round trip, the sum of three parts).
 *   Every bound is for one implementation, so the test allows twice it, to first order in u. */
typedef struct {
    double m1, m2, mu, var, is, e_mu, e_var, r_is;
} bn_chan;

static bn_chan bn_channel(const float *x, int64_t rows, int32_t c, int32_t j, float eps, int batch,
                          const float *rmean, const float *rvar) {
    bn_chan s = {0};
    for (int64_t r = 0; r < rows; r++) {
        double v = x[r * c + j];
        s.m1 += fabs(v) / rows;
        s.m2 += v * v / rows;
        s.mu += v / rows;
    }
    for (int64_t r = 0; r < rows; r++) s.var += (x[r * c + j] - s.mu) * (x[r * c + j] - s.mu) / rows;
    if (!batch) s.mu = rmean[j], s.var = rvar[j];
    s.is = 1.0 / sqrt(s.var + eps);
    /* a single row is exact: its mean is itself and its deviation 0 */
    s.e_mu = batch && rows > 1 ? gam((double)rows + 1) * s.m1 : 0.0;
    s.e_var = batch && rows > 1 ? 4.0 * gam((double)rows + 2) * s.m2 : 0.0;
    double t = s.e_var / (s.var + eps);
    assert_true(t < 0.1);
    s.r_is = t / (2.0 * pow(1.0 - t, 1.5)) + 2.0 * U;
    return s;
}

static void bn_fail(const char *what, int64_t i, double f, double r, double tol) {
    fprintf(stderr, "%s: element %lld: fast %.9g ref %.9g |diff| %.3g > bound %.3g\n", what, (long long)i, f, r,
            fabs(f - r), tol);
    fail();
}
static void bn_check(const char *what, int64_t i, double f, double r, double tol) {
    if (!(fabs(f - r) <= tol + 1e-30)) bn_fail(what, i, f, r, tol);
}

typedef struct {
    int64_t rows;
    int32_t c;
    rs_bn_mode mode;
    int affine;
} bn_case;

static void bn_check_forward(const bn_case *bc, const bn_chan *st, const float *x, const float *g, const float *b,
                             const float *yf, const float *yr, const float *mf, const float *mr, const float *isf,
                             const float *isr, const float *rm0, const float *rv0, const float *rmf,
                             const float *rmr, const float *rvf, const float *rvr, float momentum) {
    const int64_t rows = bc->rows;
    const int32_t c = bc->c;
    for (int32_t j = 0; j < c; j++) {
        const bn_chan *s = &st[j];
        double gj = g ? fabs(g[j]) : 1.0, bj = b ? fabs(b[j]) : 0.0;
        bn_check("bn save_mean", j, mf[j], mr[j], 2.0 * (s->e_mu + U * s->m1));
        bn_check("bn save_invstd", j, isf[j], isr[j], 2.0 * s->r_is * s->is);
        for (int64_t r = 0; r < rows; r++) {
            double xv = x[r * c + j], y = yr[r * c + j];
            double tol = 2.0 * (gj * s->is * (s->e_mu + fabs(xv - s->mu) * s->r_is) +
                                4.0 * U * (gj * s->is * (fabs(xv) + s->m1 + s->e_mu) + bj + fabs(y)));
            bn_check("bn forward", r * c + j, yf[r * c + j], y, tol);
        }
        if (bc->mode != RS_BN_TRAIN) { /* running statistics untouched */
            assert_true(rmf[j] == rm0[j] && rmr[j] == rm0[j] && rvf[j] == rv0[j] && rvr[j] == rv0[j]);
            continue;
        }
        double m = momentum, ub = rows > 1 ? (double)rows / (rows - 1) : 1.0;
        bn_check("bn running_mean", j, rmf[j], rmr[j],
                 2.0 * (m * (s->e_mu + U * s->m1) + 2 * U * (fabs(rm0[j]) + m * s->m1)));
        bn_check("bn running_var", j, rvf[j], rvr[j],
                 2.0 * (m * ub * (s->e_var + U * s->m2) + 2 * U * (fabs(rv0[j]) + m * ub * s->m2)));
    }
}

static void bn_check_backward(const bn_case *bc, const float *x, const float *g, const float *dy, const float *ms,
                              const float *iss, const float *v_in, const float *v_g, const float *v_b,
                              const float *dif, const float *dir, const float *dgf, const float *dgr,
                              const float *dbf, const float *dbr) {
    const int64_t rows = bc->rows;
    const int32_t c = bc->c;
    for (int32_t j = 0; j < c; j++) {
        double a1 = 0, a2 = 0, gj = g ? fabs(g[j]) : 1.0, is = iss[j];
        for (int64_t r = 0; r < rows; r++) {
            double d = dy[r * c + j], xh = ((double)x[r * c + j] - ms[j]) * is;
            a1 += fabs(d) / rows;
            a2 += fabs(d * xh) / rows;
        }
        bn_check("bn d_beta", j, dbf[j], dbr[j], 2.0 * gam((double)rows + 1) * (rows * a1 + fabs(v_b[j])));
        bn_check("bn d_gamma", j, dgf[j], dgr[j], 2.0 * gam((double)rows + 7) * (rows * a2 + fabs(v_g[j])));
        for (int64_t r = 0; r < rows; r++) {
            int64_t at = r * c + j;
            double d = fabs(dy[at]), xh = fabs(((double)x[at] - ms[j]) * is), tol;
            if (bc->mode == RS_BN_EVAL)
                tol = 2.0 * (6.0 * U * gj * is * d + U * fabs(v_in[at]));
            else
                tol = 2.0 * (gj * is * (gam((double)rows + 1) * a1 + xh * gam((double)rows + 7) * a2 +
                                        10.0 * U * (d + a1 + xh * a2)) +
                             2.0 * U * fabs(v_in[at]));
            bn_check("bn d_in", at, dif[at], dir[at], tol);
        }
    }
}

static void run_bn_case(const bn_case *bc, uint64_t stream) {
    const int64_t rows = bc->rows, n = rows * bc->c;
    const int32_t c = bc->c;
    const float eps = 1e-5f, momentum = 0.1f;
    float *x = randn(n, stream), *off = randn(c, stream + 1), *g = randn(c, stream + 2), *b = randn(c, stream + 3);
    for (int64_t i = 0; i < n; i++) x[i] = 2.0f * x[i] + 3.0f * off[i % c]; /* not centred: tests the variance */
    float *rm0 = randn(c, stream + 4), *rv0 = randn(c, stream + 5);
    for (int32_t j = 0; j < c; j++) rv0[j] = 0.5f + fabsf(rv0[j]);
    const float *gamma = bc->affine ? g : NULL, *beta = bc->affine ? b : NULL;
    float *yf = rs_alloc(n * 4), *yr = rs_alloc(n * 4);
    float *mf = rs_alloc(c * 4), *mr = rs_alloc(c * 4), *isf = rs_alloc(c * 4), *isr = rs_alloc(c * 4);
    float *rmf = copy_of(rm0, c), *rmr = copy_of(rm0, c), *rvf = copy_of(rv0, c), *rvr = copy_of(rv0, c);
    rs_batchnorm_forward_fast(yf, mf, isf, x, gamma, beta, rmf, rvf, rows, c, eps, momentum, bc->mode);
    rs_batchnorm_forward_ref(yr, mr, isr, x, gamma, beta, rmr, rvr, rows, c, eps, momentum, bc->mode);
    bn_chan *st = rs_alloc(c * sizeof(bn_chan));
    for (int32_t j = 0; j < c; j++) st[j] = bn_channel(x, rows, c, j, eps, bc->mode != RS_BN_EVAL, rm0, rv0);
    bn_check_forward(bc, st, x, gamma, beta, yf, yr, mf, mr, isf, isr, rm0, rv0, rmf, rmr, rvf, rvr, momentum);

    /* backward from the reference's saved statistics, onto random initial gradients */
    float *dy = randn(n, stream + 6), *v_in = randn(n, stream + 7), *v_g = randn(c, stream + 8);
    float *v_b = randn(c, stream + 9);
    float *dif = copy_of(v_in, n), *dir = copy_of(v_in, n), *dgf = copy_of(v_g, c), *dgr = copy_of(v_g, c);
    float *dbf = copy_of(v_b, c), *dbr = copy_of(v_b, c);
    rs_batchnorm_backward_fast(dif, dgf, dbf, dy, x, gamma, mr, isr, rows, c, bc->mode);
    rs_batchnorm_backward_ref(dir, dgr, dbr, dy, x, gamma, mr, isr, rows, c, bc->mode);
    bn_check_backward(bc, x, gamma, dy, mr, isr, v_in, v_g, v_b, dif, dir, dgf, dgr, dbf, dbr);
    /* d_in alone (no parameter gradients) is the same */
    memcpy(dif, v_in, n * 4);
    rs_batchnorm_backward_fast(dif, NULL, NULL, dy, x, gamma, mr, isr, rows, c, bc->mode);
    bn_check_backward(bc, x, gamma, dy, mr, isr, v_in, v_g, v_b, dif, dir, dgf, dgr, dbf, dbr);
    float *all[] = {x, off, g, b, rm0, rv0, yf, yr, mf, mr, isf, isr, rmf, rmr, rvf, rvr, dy, v_in, v_g, v_b,
                    dif, dir, dgf, dgr, dbf, dbr};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rs_free(all[i]);
    rs_free(st);
}

static void test_batchnorm(void **state) {
    for (uint32_t i = 0; i < 24; i++) {
        uint64_t s = rs_stream(RS_PURPOSE_TEST, 400, i), k = 0;
        bn_case bc;
        bc.rows = draw(s, &k, 1, 8) * draw(s, &k, 1, 20) * draw(s, &k, 1, 20);
        bc.c = draw(s, &k, 0, 3) == 0 ? 3 : (int32_t)draw(s, &k, 1, 40);
        bc.mode = (rs_bn_mode)(i % 3);
        bc.affine = (int)draw(s, &k, 0, 3) != 0;
        run_bn_case(&bc, s + 1000);
    }
    bn_case layer = {.rows = 8 * 16 * 16, .c = 64, .mode = RS_BN_TRAIN, .affine = 1}; /* a VGG-BN layer */
    run_bn_case(&layer, rs_stream(RS_PURPOSE_TEST, 401, 0));
    bn_case one = {.rows = 1, .c = 5, .mode = RS_BN_BATCHSTAT, .affine = 1}; /* a single row: variance 0 */
    run_bn_case(&one, rs_stream(RS_PURPOSE_TEST, 401, 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d_random), cmocka_unit_test(test_conv2d_layers),
        cmocka_unit_test(test_conv2d_cache_eviction), cmocka_unit_test(test_conv2d_winograd),
        cmocka_unit_test(test_conv2d_small_maps),
        cmocka_unit_test(test_pool_random),
        cmocka_unit_test(test_pool_layers), cmocka_unit_test(test_linear), cmocka_unit_test(test_batchnorm),
    };
    printf("fast path: %s\n", rs_have_onednn() ? "oneDNN" : "none (fast == reference)");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
