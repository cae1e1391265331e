/* test_models_golden.c: the model zoo against PyTorch. For every architecture (the files in tests/fixtures/models,
 * written by make_fixtures.py from PyTorch models in float64): every state_dict tensor's name, shape and order, the
 * parameter count, and the outputs (logits and a few intermediate nodes) of fixed weights on a fixed batch, in eval
 * mode and, for BN nets, with batch statistics (relstab's init mode); the small nets also on the plain-C reference
 * backend. test_models.c has the other model tests.
 *
 * Tolerance of the golden outputs: relstab computes in float32, PyTorch in float64 from the same float32 weights and
 * inputs. A dot product of K <= 4608 float32 terms has a relative rounding error of order sqrt(K) 2^-24 ~ 4e-6 of
 * its terms' scale; the deepest nets chain ~50 such layers (ResNet50, EfficientNetB0), and BN with batch
 * statistics renormalises without amplifying relative errors. Independent roundings add up to ~sqrt(50) 4e-6 ~ 3e-5
 * of a node's scale, so every compared value must agree within 1e-4 of the node's largest |value| (its scale). */
#include "testutil.h"
#include "fixture_hash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/models.h"

#define GOLDEN_RTOL 1e-4

/* ---------------------------------------------------------------- the fixtures' deterministic values */
/* lowbias32 and hashed: fixture_hash.h */

/* ---------------------------------------------------------------- fixture files */
typedef struct {
    char name[RS_NAME_MAX];
    int is_i64;
    int32_t ndim;
    int64_t shape[4];
    double offset, scale;
} fx_tensor;

typedef struct {
    char mode[8];
    char node[RS_NAME_MAX];
    int64_t count, nsamples;
    double absmax, sum, sumsq;
    int64_t *idx;
    double *val;
} fx_out;

typedef struct {
    char model[32];
    rs_model_opts opts;
    int64_t params;
    int32_t batch;
    uint64_t input_t;
    double input_offset, input_scale;
    fx_tensor *tensors;
    int32_t n_tensors;
    fx_out *outs;
    int32_t n_outs;
} fixture;

static void fx_free(fixture *f) {
    for (int32_t i = 0; i < f->n_outs; i++) {
        free(f->outs[i].idx);
        free(f->outs[i].val);
    }
    free(f->outs);
    free(f->tensors);
}

static void parse_opt(fixture *f, const char *line) {
    char key[32];
    int off = 0;
    assert_int_equal(sscanf(line, "opt %31s %n", key, &off), 1);
    const char *v = line + off;
    rs_model_opts *o = &f->opts;
    if (!strcmp(key, "strides")) {
        int n = 0, k = 0, used;
        while (sscanf(v + k, "%d%n", &o->strides[n], &used) == 1) n++, k += used;
        o->n_strides = n;
        return;
    }
    if (!strcmp(key, "alpha")) {
        o->alpha = atof(v);
        return;
    }
    struct { const char *k; int32_t *p; } map[] = {
        {"channels", &o->channels}, {"height", &o->height}, {"width", &o->width}, {"classes", &o->classes},
        {"hidden", &o->hidden}, {"depth", &o->depth}, {"filter_size", &o->filter_size}, {"pbc", &o->pbc},
        {"bn", &o->batch_norm}, {"last_bias", &o->last_bias}, {"released_strides", &o->released_strides},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(key, map[i].k)) {
            *map[i].p = atoi(v);
            return;
        }
    fail_msg("unknown fixture option %s", key);
}

static void parse_tensor(fixture *f, const char *line) {
    fx_tensor *t = &f->tensors[f->n_tensors++];
    char dtype[8];
    int off = 0;
    assert_int_equal(sscanf(line, "tensor %95s %7s %d %n", t->name, dtype, &t->ndim, &off), 3);
    t->is_i64 = !strcmp(dtype, "I64");
    const char *p = line + off;
    for (int32_t d = 0; d < t->ndim; d++) {
        long long v;
        int used;
        assert_int_equal(sscanf(p, "%lld%n", &v, &used), 1);
        t->shape[d] = v;
        p += used;
    }
    assert_int_equal(sscanf(p, "%lf %lf", &t->offset, &t->scale), 2);
}

static void parse_out(fixture *f, const char *line, FILE *in) {
    fx_out *o = &f->outs[f->n_outs++];
    long long count, ns;
    assert_int_equal(sscanf(line, "out %7s %95s %lld %lf %lf %lf %lld", o->mode, o->node, &count, &o->absmax, &o->sum,
                            &o->sumsq, &ns),
                     7);
    o->count = count;
    o->nsamples = ns;
    o->idx = malloc(sizeof(int64_t) * (size_t)ns);
    o->val = malloc(sizeof(double) * (size_t)ns);
    for (int64_t i = 0; i < ns; i++) {
        long long k;
        assert_int_equal(fscanf(in, "%lld %lf", &k, &o->val[i]), 2);
        o->idx[i] = k;
    }
}

static void fx_read(const char *path, fixture *f) {
    memset(f, 0, sizeof *f);
    rs_model_opts_init(&f->opts);
    FILE *in = fopen(path, "r");
    if (!in) fail_msg("cannot open %s", path);
    f->tensors = calloc(4096, sizeof(fx_tensor));
    f->outs = calloc(256, sizeof(fx_out));
    char line[512];
    while (fgets(line, sizeof line, in)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        if (!strncmp(line, "model ", 6)) assert_int_equal(sscanf(line, "model %31s", f->model), 1);
        else if (!strncmp(line, "opt ", 4)) parse_opt(f, line);
        else if (!strncmp(line, "params ", 7)) f->params = atoll(line + 7);
        else if (!strncmp(line, "batch ", 6)) f->batch = atoi(line + 6);
        else if (!strncmp(line, "input ", 6)) {
            unsigned long long t;
            assert_int_equal(sscanf(line, "input %llu %lf %lf", &t, &f->input_offset, &f->input_scale), 3);
            f->input_t = t;
        } else if (!strncmp(line, "tensor ", 7)) {
            assert_true(f->n_tensors < 4096);
            parse_tensor(f, line);
        } else if (!strncmp(line, "out ", 4)) {
            assert_true(f->n_outs < 256);
            parse_out(f, line, in);
        } else fail_msg("%s: unexpected line %s", path, line);
    }
    fclose(in);
}

/* ---------------------------------------------------------------- golden comparisons */
/* The net's tensors equal the fixture's state_dict: same names in the same order, same shapes and kinds. */
static void check_tensors(const rs_net *net, const fixture *f, const char *file) {
    const rs_params *p = &net->params;
    if (p->count != f->n_tensors) fail_msg("%s: %d tensors in relstab, %d in PyTorch", file, p->count, f->n_tensors);
    for (int32_t i = 0; i < f->n_tensors; i++) {
        const rs_param *q = &p->items[i];
        const fx_tensor *t = &f->tensors[i];
        if (strcmp(q->name, t->name)) fail_msg("%s: tensor %d is %s, PyTorch has %s", file, i, q->name, t->name);
        int same = q->ndim == t->ndim && (q->kind == RS_PARAM_COUNTER) == t->is_i64;
        for (int32_t d = 0; same && d < t->ndim; d++) same = q->shape[d] == t->shape[d];
        if (!same) fail_msg("%s: tensor %s has another shape or kind than PyTorch's", file, t->name);
    }
    assert_int_equal(rs_params_count_trainable(p), f->params);
}

static void fill_tensors(rs_net *net, const fixture *f) {
    for (int32_t t = 0; t < f->n_tensors; t++) {
        float *x = rs_param_data(&net->params, t);
        for (int64_t i = 0; i < net->params.items[t].numel; i++)
            x[i] = hashed((uint64_t)t, (uint64_t)i, f->tensors[t].offset, f->tensors[t].scale);
    }
}

/* Compares node output o with the net's; returns the worst |error| / scale. */
static double compare_out(const rs_net *net, const fx_out *o, const char *file) {
    int32_t node = strcmp(o->node, "@output") ? rs_net_find(net, o->node) : net->output;
    if (node < 0) fail_msg("%s: no node %s", file, o->node);
    int64_t n = (int64_t)net->cur_n * rs_net_node_numel(net, node);
    if (n != o->count) fail_msg("%s: node %s has %lld values, PyTorch %lld", file, o->node, (long long)n,
                                (long long)o->count);
    float *v = malloc(sizeof(float) * (size_t)n);
    rs_net_tap_nchw(net, node, v);
    double scale = o->absmax > 0 ? o->absmax : 1, worst = 0, sum = 0, sumsq = 0;
    for (int64_t i = 0; i < n; i++) sum += v[i], sumsq += (double)v[i] * v[i];
    for (int64_t i = 0; i < o->nsamples; i++) {
        double e = fabs(v[o->idx[i]] - o->val[i]) / scale;
        if (!(e <= worst)) worst = e; /* NaN too */
    }
    /* aggregates: the elementwise bound summed over all values */
    double tol = GOLDEN_RTOL * scale;
    double sum_err = fabs(sum - o->sum) / (tol * (double)n);
    double sumsq_err = fabs(sumsq - o->sumsq) / (2 * o->absmax * tol * (double)n + 1e-300);
    if (worst > GOLDEN_RTOL || !(sum_err <= 1) || !(sumsq_err <= 1))
        fail_msg("%s: %s node %s: max error %.3g of its scale %.4g (sampled), sum %.9g vs %.9g, sum of squares "
                 "%.9g vs %.9g",
                 file, o->mode, o->node, worst, scale, sum, o->sum, sumsq, o->sumsq);
    free(v);
    return worst;
}

static double run_fixture(const char *name) {
    char rel[128];
    snprintf(rel, sizeof rel, "models/%s.txt", name);
    fixture f;
    fx_read(tu_fixture(rel), &f);
    rs_net *net = NULL;
    if (rs_model_build(f.model, &f.opts, &net) != RS_OK) fail_msg("%s: %s", name, rs_last_error());
    check_tensors(net, &f, name);
    double t0 = rs_now();
    assert_int_equal(rs_net_build(net, f.batch, 0), RS_OK);
    fill_tensors(net, &f);
    double t1 = rs_now();
    const rs_node *x = &net->nodes[0];
    int64_t nin = (int64_t)f.batch * x->c * x->h * x->w;
    float *in = malloc(sizeof(float) * (size_t)nin); // (B, C, H, W)
    for (int64_t i = 0; i < nin; i++) in[i] = hashed(f.input_t, (uint64_t)i, f.input_offset, f.input_scale);
    double worst = 0;
    const char *mode = "";
    for (int32_t i = 0; i < f.n_outs; i++) {
        if (strcmp(mode, f.outs[i].mode)) {
            mode = f.outs[i].mode;
            assert_int_equal(rs_net_forward(net, in, f.batch, !strcmp(mode, "init") ? RS_MODE_INIT_EVAL
                                                                                     : RS_MODE_EVAL),
                             RS_OK);
        }
        double e = compare_out(net, &f.outs[i], name);
        if (e > worst) worst = e;
    }
    printf("  %-22s %10lld parameters, %3d tensors, %2d outputs compared, max error %.2e of scale (%.2f + %.2f s)\n",
           name, (long long)f.params, f.n_tensors, f.n_outs, worst, t1 - t0, rs_now() - t1);
    free(in);
    rs_net_free(net);
    fx_free(&f);
    return worst;
}

static const char *fixture_names[] = {
    "vgg11", "vgg11bn", "vgg13", "vgg13bn", "vgg16", "vgg16bn", "vgg19", "vgg19bn", "vgg11_1ch", "vgg11bn_1ch",
    "alexnet", "alexnet_1ch", "lenet", "lenet_1ch", "resnet18", "resnet18_1ch", "resnet34", "resnet50",
    "efficientnetb0", "densenetl2", "densenetl4", "densenetl6", "densenetl4_w32_1ch", "gapmf", "gapmf_bn",
    "gapmf_nopbc", "gapmf_authors", "gapmf1d", "gapmf1d_released", "gapmf1d_f3",
};

static void test_golden(void **state) {
    (void)state;
    double worst = 0;
    double t0 = rs_now();
    for (size_t i = 0; i < sizeof fixture_names / sizeof fixture_names[0]; i++) {
        double e = run_fixture(fixture_names[i]);
        if (e > worst) worst = e;
    }
    printf("  golden outputs: worst error %.2e of the node scale (tolerance %.0e), %.1f s\n", worst, GOLDEN_RTOL,
           rs_now() - t0);
}

/* The plain-C reference path on the small nets and every op kind they use (depthwise and strided convs, SE,
 * swish, BN in both modes, circular padding, matmul). */
static void test_golden_reference_backend(void **state) {
    (void)state;
    static const char *small[] = {"lenet_1ch", "efficientnetb0", "densenetl2", "gapmf_bn", "gapmf_nopbc", "gapmf1d_f3"};
    rs_backend saved = rs_get_backend();
    rs_set_backend(RS_BACKEND_REF);
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) run_fixture(small[i]);
    rs_set_backend(saved);
}

/* Every model of the catalogue has a golden fixture. */
static void test_every_model_has_a_fixture(void **state) {
    (void)state;
    for (int32_t m = 0; m < rs_model_count(); m++) {
        const char *name = rs_model_get(m)->name;
        int found = 0;
        for (size_t i = 0; i < sizeof fixture_names / sizeof fixture_names[0]; i++)
            found |= !strcmp(fixture_names[i], name);
        if (!found) fail_msg("model %s has no golden fixture", name);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_model_has_a_fixture),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_golden_reference_backend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
