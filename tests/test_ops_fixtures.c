/* test_ops_fixtures.c: the reference ops against golden values computed by PyTorch in float64
 * (tests/fixtures/ops/NAME.txt, written by tests/fixtures/make_op_fixtures.py; this test needs no Python).
 * Covers conv2d (strided, asymmetric padding, grouped, depthwise, circular 1-D), max/avg/adaptive pooling,
 * batch norm in training mode (with the running statistics), linear and cross-entropy, forward and backward.
 *
 * Tolerance FX_TOL = 1e-5, relative to the largest magnitude of the expected tensor: the inputs are float32 values
 * (read exactly), so the only error is float32 rounding inside the op. Each result here sums at most m = 28 terms
 * (conv_strided: 3 channels x 9 taps + bias); the rounding is at most m u sum|terms| with u = 6e-8, and
 * sum|terms| is about twice the largest result for random data: 28 * 6e-8 * 2 = 3.4e-6, so 1e-5 holds with a
 * margin of 3 while any indexing or formula error (relative errors of order 1) is caught. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "relstab/ops.h"

#define FX_TOL 1e-5
#define FX_MAX_TENSORS 16
#define FX_MAX_SCALARS 24

typedef struct {
    char name[32];
    int ndim;
    int64_t dims[4], n;
    double *v;
} fx_tensor;

typedef struct {
    char name[32];
    double v;
} fx_scalar;

typedef struct {
    fx_tensor t[FX_MAX_TENSORS];
    fx_scalar s[FX_MAX_SCALARS];
    int nt, ns;
} fixture;

static char *fx_token(char **save, const char *name) {
    char *tok = strtok_r(NULL, " \n", save);
    if (!tok) fail_msg("%s: the file ends early", name);
    return tok;
}

/* Parses tests/fixtures/ops/<name>.txt (format in make_op_fixtures.py); any malformation fails the test. */
static void fx_load(fixture *f, const char *name) {
    char rel[128];
    snprintf(rel, sizeof rel, "ops/%s.txt", name);
    void *data;
    size_t len;
    if (rs_read_file(tu_fixture(rel), &data, &len, 1 << 22) != RS_OK) fail_msg("%s", rs_last_error());
    char *text = malloc(len + 1);
    memcpy(text, data, len);
    text[len] = 0;
    rs_free(data);
    memset(f, 0, sizeof *f);
    for (char *line = text; *line;) { // blank out comment lines, then read whitespace-separated tokens
        char *nl = strchr(line, '\n');
        if (*line == '#') memset(line, ' ', nl ? (size_t)(nl - line) : strlen(line));
        if (!nl) break;
        line = nl + 1;
    }
    char *save = NULL;
    for (char *tok = strtok_r(text, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
        char *key = strtok_r(NULL, " \n", &save);
        if (!key || strlen(key) >= 32) fail_msg("%s: bad key after '%s'", name, tok);
        if (!strcmp(tok, "int") || !strcmp(tok, "float")) {
            if (f->ns == FX_MAX_SCALARS) fail_msg("%s: too many scalars", name);
            char *val = strtok_r(NULL, " \n", &save), *end;
            if (!val) fail_msg("%s: %s has no value", name, key);
            snprintf(f->s[f->ns].name, 32, "%s", key);
            f->s[f->ns++].v = strtod(val, &end);
            if (*end) fail_msg("%s: bad number '%s'", name, val);
        } else if (!strcmp(tok, "tensor")) {
            if (f->nt == FX_MAX_TENSORS) fail_msg("%s: too many tensors", name);
            fx_tensor *t = &f->t[f->nt++];
            snprintf(t->name, 32, "%s", key);
            t->ndim = atoi(fx_token(&save, name));
            if (t->ndim < 1 || t->ndim > 4) fail_msg("%s: %s has %d dims", name, key, t->ndim);
            t->n = 1;
            for (int i = 0; i < t->ndim; i++) t->n *= (t->dims[i] = atoll(fx_token(&save, name)));
            if (t->n <= 0 || t->n > (1 << 20)) fail_msg("%s: %s has %lld elements", name, key, (long long)t->n);
            t->v = malloc((size_t)t->n * sizeof(double));
            for (int64_t i = 0; i < t->n; i++) {
                char *val = strtok_r(NULL, " \n", &save), *end;
                if (!val) fail_msg("%s: %s is truncated", name, key);
                t->v[i] = strtod(val, &end);
                if (*end) fail_msg("%s: bad number '%s' in %s", name, val, key);
            }
        } else {
            fail_msg("%s: unknown record '%s'", name, tok);
        }
    }
    free(text);
}

static void fx_free(fixture *f) {
    for (int i = 0; i < f->nt; i++) free(f->t[i].v);
}

static const fx_tensor *fx_get(const fixture *f, const char *name) {
    for (int i = 0; i < f->nt; i++)
        if (!strcmp(f->t[i].name, name)) return &f->t[i];
    fail_msg("fixture has no tensor '%s'", name);
    return NULL;
}

static double fx_num(const fixture *f, const char *name) {
    for (int i = 0; i < f->ns; i++)
        if (!strcmp(f->s[i].name, name)) return f->s[i].v;
    fail_msg("fixture has no scalar '%s'", name);
    return 0;
}

/* The tensor as floats; a 4-D activation (to_nhwc) is converted from PyTorch's NCHW to NHWC. */
static float *fx_floats(const fx_tensor *t, int to_nhwc) {
    float *p = rs_alloc((size_t)t->n * sizeof(float)), *q = rs_alloc((size_t)t->n * sizeof(float));
    for (int64_t i = 0; i < t->n; i++) p[i] = (float)t->v[i];
    if (!to_nhwc) {
        rs_free(q);
        return p;
    }
    assert_int_equal(t->ndim, 4);
    rs_nchw_to_nhwc(q, p, t->dims[0], t->dims[1], t->dims[2], t->dims[3]);
    rs_free(p);
    return q;
}

/* max |got - want| <= FX_TOL * max |want|, want converted like fx_floats. FX_VERBOSE=1 prints every error. */
static void fx_expect(const float *got, const fx_tensor *want, int to_nhwc, const char *what) {
    float *w = fx_floats(want, to_nhwc);
    double scale = 0, worst = 0;
    for (int64_t i = 0; i < want->n; i++) scale = fabs(w[i]) > scale ? fabs(w[i]) : scale;
    for (int64_t i = 0; i < want->n; i++) {
        const double d = fabs((double)got[i] - (double)w[i]);
        worst = d > worst || isnan(d) ? (isnan(d) ? INFINITY : d) : worst;
    }
    const double rel = scale > 0 ? worst / scale : worst;
    if (getenv("FX_VERBOSE")) fprintf(stderr, "%s %s: max error / max |value| = %.3g\n", what, want->name, rel);
    if (!(rel <= FX_TOL)) fail_msg("%s (%s) differs from PyTorch: error %.3g x max |value| %.3g", what, want->name,
                                   rel, scale);
    rs_free(w);
}

static void run_conv(const char *name) {
    fixture f;
    fx_load(&f, name);
    const fx_tensor *in = fx_get(&f, "in"), *wt = fx_get(&f, "weight");
    rs_conv2d_dims d = {(int32_t)in->dims[0], (int32_t)in->dims[2], (int32_t)in->dims[3], (int32_t)in->dims[1],
                        (int32_t)wt->dims[0], (int32_t)fx_num(&f, "kh"), (int32_t)fx_num(&f, "kw"),
                        (int32_t)fx_num(&f, "stride_h"), (int32_t)fx_num(&f, "stride_w"),
                        (int32_t)fx_num(&f, "pad_top"), (int32_t)fx_num(&f, "pad_bottom"),
                        (int32_t)fx_num(&f, "pad_left"), (int32_t)fx_num(&f, "pad_right"),
                        (int32_t)fx_num(&f, "groups"), fx_num(&f, "circular") ? RS_PAD_CIRCULAR : RS_PAD_ZERO, 0, 0};
    assert_int_equal(rs_conv2d_dims_finish(&d), RS_OK);
    const fx_tensor *out_t = fx_get(&f, "out");
    assert_true(out_t->dims[2] == d.h_out && out_t->dims[3] == d.w_out);
    const int has_bias = (int)fx_num(&f, "has_bias");
    float *x = fx_floats(in, 1), *w = fx_floats(wt, 0), *b = has_bias ? fx_floats(fx_get(&f, "bias"), 0) : NULL;
    float *dy = fx_floats(fx_get(&f, "d_out"), 1);
    float *y = calloc((size_t)out_t->n, 4), *dx = calloc((size_t)in->n, 4), *dw = calloc((size_t)wt->n, 4);
    float *db = calloc((size_t)d.c_out, 4);
    rs_workspace ws = {0};
    rs_conv2d_forward_ref(y, x, w, b, &d, &ws);
    fx_expect(y, out_t, 1, name);
    rs_conv2d_backward_ref(dx, dw, has_bias ? db : NULL, dy, x, w, &d, &ws);
    fx_expect(dx, fx_get(&f, "d_in"), 1, name);
    fx_expect(dw, fx_get(&f, "d_weight"), 0, name);
    if (has_bias) fx_expect(db, fx_get(&f, "d_bias"), 0, name);
    rs_workspace_free(&ws);
    rs_free(x), rs_free(w), rs_free(b), rs_free(dy);
    free(y), free(dx), free(dw), free(db);
    fx_free(&f);
}

static void test_conv_fixtures(void **st) {
    run_conv("conv_strided");
    run_conv("conv_padded");
    run_conv("conv_grouped");
    run_conv("conv_depthwise");
    run_conv("conv_circular1d_k2");
    run_conv("conv_circular1d_k5");
}

static void run_pool(const char *name, int is_max) {
    fixture f;
    fx_load(&f, name);
    const fx_tensor *in = fx_get(&f, "in"), *out_t = fx_get(&f, "out");
    rs_pool2d_dims d = {(int32_t)in->dims[0], (int32_t)in->dims[2], (int32_t)in->dims[3], (int32_t)in->dims[1],
                        (int32_t)fx_num(&f, "kh"), (int32_t)fx_num(&f, "kw"), (int32_t)fx_num(&f, "stride_h"),
                        (int32_t)fx_num(&f, "stride_w"), (int32_t)fx_num(&f, "pad_h"), (int32_t)fx_num(&f, "pad_w"),
                        (int32_t)fx_num(&f, "count_include_pad"), 0, 0};
    assert_int_equal(rs_pool2d_dims_finish(&d), RS_OK);
    assert_true(out_t->dims[2] == d.h_out && out_t->dims[3] == d.w_out);
    float *x = fx_floats(in, 1), *dy = fx_floats(fx_get(&f, "d_out"), 1);
    float *y = calloc((size_t)out_t->n, 4), *dx = calloc((size_t)in->n, 4);
    void *saved = rs_alloc(rs_maxpool2d_saved_bytes(&d));
    if (is_max) {
        rs_maxpool2d_forward_ref(y, saved, x, &d);
        rs_maxpool2d_backward_ref(dx, dy, saved, &d);
    } else {
        rs_avgpool2d_forward_ref(y, x, &d);
        rs_avgpool2d_backward_ref(dx, dy, &d);
    }
    fx_expect(y, out_t, 1, name);
    fx_expect(dx, fx_get(&f, "d_in"), 1, name);
    rs_free(x), rs_free(dy), rs_free(saved), free(y), free(dx);
    fx_free(&f);
}

static void test_pool_fixtures(void **st) {
    run_pool("maxpool", 1);
    run_pool("avgpool_include_pad", 0);
    run_pool("avgpool_exclude_pad", 0);
    fixture f;
    fx_load(&f, "adaptive_avgpool");
    const fx_tensor *in = fx_get(&f, "in"), *out_t = fx_get(&f, "out");
    const int32_t n = (int32_t)in->dims[0], c = (int32_t)in->dims[1], h = (int32_t)in->dims[2];
    const int32_t w = (int32_t)in->dims[3], ho = (int32_t)out_t->dims[2], wo = (int32_t)out_t->dims[3];
    float *x = fx_floats(in, 1), *dy = fx_floats(fx_get(&f, "d_out"), 1);
    float *y = calloc((size_t)out_t->n, 4), *dx = calloc((size_t)in->n, 4);
    rs_adaptive_avgpool2d_forward(y, x, n, h, w, c, ho, wo);
    rs_adaptive_avgpool2d_backward(dx, dy, n, h, w, c, ho, wo);
    fx_expect(y, out_t, 1, "adaptive_avgpool");
    fx_expect(dx, fx_get(&f, "d_in"), 1, "adaptive_avgpool");
    rs_free(x), rs_free(dy), free(y), free(dx);
    fx_free(&f);
}

static void test_batchnorm_fixture(void **st) {
    fixture f;
    fx_load(&f, "batchnorm_train");
    const fx_tensor *in = fx_get(&f, "in");
    const int32_t c = (int32_t)in->dims[1];
    const int64_t rows = in->n / c;
    float *x = fx_floats(in, 1), *dy = fx_floats(fx_get(&f, "d_out"), 1);
    float *g = fx_floats(fx_get(&f, "gamma"), 0), *b = fx_floats(fx_get(&f, "beta"), 0);
    float *rm = fx_floats(fx_get(&f, "running_mean_before"), 0), *rv = fx_floats(fx_get(&f, "running_var_before"), 0);
    float *y = calloc((size_t)in->n, 4), *dx = calloc((size_t)in->n, 4), *dg = calloc(c, 4), *db = calloc(c, 4);
    float *mean = calloc(c, 4), *invstd = calloc(c, 4);
    rs_batchnorm_forward_ref(y, mean, invstd, x, g, b, rm, rv, rows, c, (float)fx_num(&f, "eps"),
                             (float)fx_num(&f, "momentum"), RS_BN_TRAIN);
    fx_expect(y, fx_get(&f, "out"), 1, "batchnorm out");
    fx_expect(rm, fx_get(&f, "running_mean_after"), 0, "batchnorm running mean");
    fx_expect(rv, fx_get(&f, "running_var_after"), 0, "batchnorm running var");
    rs_batchnorm_backward_ref(dx, dg, db, dy, x, g, mean, invstd, rows, c, RS_BN_TRAIN);
    fx_expect(dx, fx_get(&f, "d_in"), 1, "batchnorm d_in");
    fx_expect(dg, fx_get(&f, "d_gamma"), 0, "batchnorm d_gamma");
    fx_expect(db, fx_get(&f, "d_beta"), 0, "batchnorm d_beta");
    rs_free(x), rs_free(dy), rs_free(g), rs_free(b), rs_free(rm), rs_free(rv);
    free(y), free(dx), free(dg), free(db), free(mean), free(invstd);
    fx_free(&f);
}

static void test_linear_fixture(void **st) {
    fixture f;
    fx_load(&f, "linear");
    const fx_tensor *in = fx_get(&f, "in"), *wt = fx_get(&f, "weight");
    const int64_t n = in->dims[0], k = in->dims[1], o = wt->dims[0];
    float *x = fx_floats(in, 0), *w = fx_floats(wt, 0), *b = fx_floats(fx_get(&f, "bias"), 0);
    float *dy = fx_floats(fx_get(&f, "d_out"), 0);
    float *y = calloc((size_t)(n * o), 4), *dx = calloc((size_t)in->n, 4), *dw = calloc((size_t)wt->n, 4);
    float *db = calloc((size_t)o, 4);
    rs_linear_forward_ref(y, x, w, b, n, k, o);
    rs_linear_backward_ref(dx, dw, db, dy, x, w, n, k, o);
    fx_expect(y, fx_get(&f, "out"), 0, "linear out");
    fx_expect(dx, fx_get(&f, "d_in"), 0, "linear d_in");
    fx_expect(dw, fx_get(&f, "d_weight"), 0, "linear d_weight");
    fx_expect(db, fx_get(&f, "d_bias"), 0, "linear d_bias");
    rs_free(x), rs_free(w), rs_free(b), rs_free(dy), free(y), free(dx), free(dw), free(db);
    fx_free(&f);
}

/* The loss is computed in double from the same float32 logits, so it matches to double rounding (1e-12). */
static void test_cross_entropy_fixture(void **st) {
    fixture f;
    fx_load(&f, "cross_entropy");
    const fx_tensor *z = fx_get(&f, "logits"), *lab = fx_get(&f, "labels");
    const int64_t n = z->dims[0], k = z->dims[1];
    float *logits = fx_floats(z, 0), *g = calloc((size_t)z->n, 4);
    int32_t *labels = calloc((size_t)n, sizeof(int32_t));
    for (int64_t i = 0; i < n; i++) labels[i] = (int32_t)lab->v[i];
    int64_t wrong = -1;
    const double loss = rs_cross_entropy(g, logits, labels, n, k, &wrong), want = fx_num(&f, "loss");
    assert_true(fabs(loss - want) <= 1e-12 * fabs(want));
    assert_int_equal(wrong, (int64_t)fx_num(&f, "n_wrong"));
    fx_expect(g, fx_get(&f, "d_logits"), 0, "cross-entropy gradient");
    rs_free(logits), free(g), free(labels);
    fx_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_fixtures),     cmocka_unit_test(test_pool_fixtures),
        cmocka_unit_test(test_batchnorm_fixture), cmocka_unit_test(test_linear_fixture),
        cmocka_unit_test(test_cross_entropy_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
