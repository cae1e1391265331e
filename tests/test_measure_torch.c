/* test_measure_torch.c: relstab's D, G, R estimators against an independent PyTorch implementation of SPEC 1.2 (the
 * mean estimator) and SPEC 1.4 (the median one), node by node, on given inputs. tests/fixtures/measure holds 16
 * probe images with their deformed and noisy versions (NPY) and, for LeNet and VGG11-BN (1 x 28 x 28, the zoo's
 * PyTorch models with make_fixtures.py's hashed weights, which C recomputes), the float64 D_num, G_num, deno, D, G, R
 * of every node, written by make_measure_fixtures.py: eval mode and BN batch statistics (init), the full
 * representation and the channel mean. relstab runs its real passes (sens_mean_pass / sens_median_pass) on those
 * inputs through sens_given (src/measure/given.c). It does not test the perturbations (test_diffeo.c, test_noise.c)
 * or the combination of draws (test_measure.c).
 *
 * Tolerance. relstab's net runs in float32, PyTorch's in float64 on the same float32 weights and inputs; the
 * estimators' own sums are in double on both sides (~1e-15). Model of the net's error: every image's node output
 * a_p is off by a vector of norm at most EPS_NET ||a_p||. Justification: a float32 dot product of K <= 4608 terms
 * is off by ~sqrt(K) 2^-24 ~ 4e-6 of its scale, a dozen chained layers by ~1.4e-5, and batch statistics summed in
 * float32 over N*H*W = 16384 values would add ~1e-5 after the first BN at init; EPS_NET = 1e-4 is
 * test_models_golden.c's bound for the same nets. (Measured while writing this test, max over images and nodes:
 * 1.1e-6 LeNet, 1.5e-6 VGG11-BN eval, 2.7e-5 VGG11-BN init when oneDNN summed the batch statistics in float32.) A difference u of two outputs is then off by at most EPS_NET s, s the sum of
 * their norms, and ||u||^2 by at most 2 EPS_NET ||u|| s + EPS_NET^2 s^2. Averaged over images (D_num, G_num) or
 * pairs (deno), or through the median of the pair distances (a median moves by at most the largest move of its
 * values), this gives an absolute bound 2 EPS_NET K1 + EPS_NET^2 K2 per quantity, with K1, K2 computed by the
 * fixture script from the float64 outputs (its docstring has the formulas). The bound grows as ||a|| / ||u||: the
 * numerators of nearly identical inputs are differences of close numbers and get a wider relative bound than the
 * denominator, by the ratio the fixture measures, not by a chosen factor. The median numerators sum_j median_p u_pj^2
 * are the exception: at ReLU nodes most u_pj are 0 or tiny and the worst case exceeds 100 %, so their K1, K2 are
 * 5 standard deviations of a sum of roundings independent across neurons (the script's docstring). D = D_num / deno
 * and R = D_num / G_num combine two bounds: a relative error at most (e1 + e2) / (1 - e2). A bound of 100 % or more
 * is refused (it would check nothing). Measured (the printed table): relative errors 5e-8 to 6e-5, at most 1.5 % of
 * their bounds; the plausible slips (deno over the P(P-1) pairs only, the upper median, a missing factor 2, one image
 * dropped) each move some node's numbers by 10 to 1800 times its bound (make_measure_fixtures.py prints this).
 * BN at init (batch statistics) is held to a flat INIT_TOL = 1e-5 relative on top of that bound: every path
 * accumulates batch statistics in double (issue 9 item 5), so what remains is the float32 convolutions' error,
 * measured at most 3.3e-6 (oneDNN build) and 4.4e-6 (plain-C build) on D, G, R and their parts; oneDNN's float32 batch statistics gave up to 6.1e-5
 * here and fail it. */
#include "testutil.h"
#include "fixture_hash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure/measure_internal.h"
#include "relstab/io.h"
#include "relstab/models.h"

#define EPS_NET 1e-4
#define INIT_TOL 1e-5
#define MAX_TENSORS 128
#define MAX_ROWS 512

/* ---------------------------------------------------------------- the fixtures' hashed weights (make_fixtures.py) */
/* lowbias32 and hashed: fixture_hash.h */

/* ---------------------------------------------------------------- fixture files */
enum { Q_DNUM, Q_GNUM, Q_DENO, Q_D, Q_G, Q_R, NQ };
static const char *q_names[NQ] = {"D_num", "G_num", "deno", "D", "G", "R"};

typedef struct {
    char mode[8], est[8], rep[8], node[RS_NAME_MAX];
    int64_t neurons;
    double v[NQ]; /* D_num, G_num, deno, D, G, R */
    double k[6];  /* KD1, KD2, KG1, KG2, KZ1, KZ2 */
} fx_row;

typedef struct {
    char model[32];
    rs_model_opts opts;
    int64_t P;
    int32_t n_tensors, n_rows;
    char tname[MAX_TENSORS][RS_NAME_MAX];
    double offset[MAX_TENSORS], scale[MAX_TENSORS];
    fx_row rows[MAX_ROWS];
} mfixture;

static void parse_tensor(mfixture *f, const char *line) {
    assert_true(f->n_tensors < MAX_TENSORS);
    int32_t t = f->n_tensors++, ndim;
    char dtype[8];
    int off = 0;
    assert_int_equal(sscanf(line, "tensor %95s %7s %d %n", f->tname[t], dtype, &ndim, &off), 3);
    const char *p = line + off;
    for (int32_t d = 0; d < ndim; d++) {
        long long v;
        int used;
        assert_int_equal(sscanf(p, "%lld%n", &v, &used), 1);
        p += used;
    }
    assert_int_equal(sscanf(p, "%lf %lf", &f->offset[t], &f->scale[t]), 2);
}

static void parse_row(mfixture *f, const char *line) {
    assert_true(f->n_rows < MAX_ROWS);
    fx_row *r = &f->rows[f->n_rows++];
    long long n;
    int got = sscanf(line, "row %7s %7s %7s %95s %lld %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf", r->mode, r->est,
                     r->rep, r->node, &n, &r->v[0], &r->v[1], &r->v[2], &r->v[3], &r->v[4], &r->v[5], &r->k[0],
                     &r->k[1], &r->k[2], &r->k[3], &r->k[4], &r->k[5]);
    assert_int_equal(got, 17);
    r->neurons = n;
}

static mfixture *fx_read(const char *name) {
    char rel[128];
    snprintf(rel, sizeof rel, "measure/%s.txt", name);
    const char *path = tu_fixture(rel);
    FILE *in = fopen(path, "r");
    if (!in) fail_msg("cannot open %s", path);
    mfixture *f = calloc(1, sizeof *f);
    rs_model_opts_init(&f->opts);
    char line[1024];
    while (fgets(line, sizeof line, in)) {
        char key[32];
        int v;
        if (line[0] == '#' || line[0] == '\n') continue;
        if (!strncmp(line, "model ", 6)) assert_int_equal(sscanf(line, "model %31s", f->model), 1);
        else if (!strncmp(line, "P ", 2)) f->P = atoll(line + 2);
        else if (!strncmp(line, "tensor ", 7)) parse_tensor(f, line);
        else if (!strncmp(line, "row ", 4)) parse_row(f, line);
        else if (sscanf(line, "opt %31s %d", key, &v) == 2) {
            if (!strcmp(key, "channels")) f->opts.channels = v;
            else if (!strcmp(key, "height")) f->opts.height = v;
            else if (!strcmp(key, "width")) f->opts.width = v;
            else if (!strcmp(key, "classes")) f->opts.classes = v;
            else fail_msg("%s: unknown option %s", path, key);
        } else fail_msg("%s: unexpected line %s", path, line);
    }
    fclose(in);
    return f;
}

/* The net of the fixture with its hashed weights: same tensor names, in the same order. */
static rs_net *fx_net(const mfixture *f) {
    rs_net *net = NULL;
    if (rs_model_build(f->model, &f->opts, &net) != RS_OK) fail_msg("%s: %s", f->model, rs_last_error());
    assert_int_equal(rs_net_build(net, (int32_t)f->P, 0), RS_OK);
    assert_int_equal(net->params.count, f->n_tensors);
    for (int32_t t = 0; t < f->n_tensors; t++) {
        if (strcmp(net->params.items[t].name, f->tname[t]))
            fail_msg("%s: tensor %d is %s in relstab, %s in PyTorch", f->model, t, net->params.items[t].name,
                     f->tname[t]);
        float *x = rs_param_data(&net->params, t);
        for (int64_t i = 0; i < net->params.items[t].numel; i++)
            x[i] = hashed((uint64_t)t, (uint64_t)i, f->offset[t], f->scale[t]);
    }
    return net;
}

/* probe.npy, deformed.npy or noisy.npy: (P, C, H, W) float32 matching the net's input. */
static rs_npy read_inputs(const char *name, const rs_net *net, int64_t P) {
    char rel[128];
    snprintf(rel, sizeof rel, "measure/%s.npy", name);
    rs_npy a;
    if (rs_npy_read(tu_fixture(rel), &a) != RS_OK) fail_msg("%s", rs_last_error());
    const rs_node *x = &net->nodes[0];
    assert_int_equal(a.dtype, RS_DTYPE_F32);
    assert_int_equal(a.ndim, 4);
    assert_true(a.shape[0] == P && a.shape[1] == x->c && a.shape[2] == x->h && a.shape[3] == x->w);
    return a;
}

/* ---------------------------------------------------------------- comparisons */
typedef struct {
    double rel[NQ];   /* worst |relstab / torch - 1| per quantity */
    double ratio[NQ]; /* worst |relstab / torch - 1| / bound per quantity */
    double tol[NQ];   /* largest bound seen */
    int32_t rows;
} stats;

static double abs_bound(double k1, double k2) { return 2 * EPS_NET * k1 + EPS_NET * EPS_NET * k2; }

/* One node: relstab's s against the fixture's row r. */
static void compare_row(const rs_sens *s, const fx_row *r, const char *model, stats *st) {
    if (s->neurons != r->neurons)
        fail_msg("%s %s %s %s: node %s has %lld values per image in relstab, %lld in PyTorch", model, r->mode, r->est,
                 r->rep, r->node, (long long)s->neurons, (long long)r->neurons);
    double e_d = abs_bound(r->k[0], r->k[1]) / r->v[Q_DNUM], e_g = abs_bound(r->k[2], r->k[3]) / r->v[Q_GNUM];
    double e_z = abs_bound(r->k[4], r->k[5]) / r->v[Q_DENO];
    double tol[NQ] = {e_d, e_g, e_z, (e_d + e_z) / (1 - e_z), (e_g + e_z) / (1 - e_z), (e_d + e_g) / (1 - e_g)};
    if (!strcmp(r->mode, "init"))
        for (int q = 0; q < NQ; q++) tol[q] = tol[q] < INIT_TOL ? tol[q] : INIT_TOL;
    double got[NQ] = {s->D_num, s->G_num, s->deno, s->D, s->G, s->R};
    for (int q = 0; q < NQ; q++) {
        assert_true(r->v[q] > 0 && tol[q] > 0 && tol[q] < 1); /* a bound of 100 % would check nothing */
        double rel = fabs(got[q] / r->v[q] - 1);
        if (!(rel <= tol[q]))
            fail_msg("%s %s %s %s node %s: %s = %.10g in relstab, %.10g in PyTorch (relative error %.3g > bound "
                     "%.3g)",
                     model, r->mode, r->est, r->rep, r->node, q_names[q], got[q], r->v[q], rel, tol[q]);
        if (rel > st->rel[q]) st->rel[q] = rel;
        if (rel / tol[q] > st->ratio[q]) st->ratio[q] = rel / tol[q];
        if (tol[q] > st->tol[q]) st->tol[q] = tol[q];
    }
    st->rows++;
}

/* Rows [r0, r1) of f share mode, estimator and representation: one relstab pass over every node they name. Every
 * node of the net but the input must be among them. */
static void run_case(rs_net *net, const mfixture *f, int32_t r0, int32_t r1, const float *x, const float *xd,
                     const float *xn, stats *st) {
    const fx_row *c = &f->rows[r0];
    int32_t n = r1 - r0;
    int32_t *nodes = calloc((size_t)n, sizeof(int32_t));
    for (int32_t i = 0; i < n; i++) {
        nodes[i] = rs_net_find(net, f->rows[r0 + i].node);
        if (nodes[i] <= 0)
            fail_msg("%s: PyTorch node %s is not a node of relstab's net", f->model, f->rows[r0 + i].node);
    }
    if (n != net->n_nodes - 1)
        fail_msg("%s %s %s %s: %d nodes in PyTorch, %d in relstab", f->model, c->mode, c->est, c->rep, n,
                 net->n_nodes - 1);
    rs_measure_opts o;
    rs_measure_opts_default(&o);
    o.estimator = !strcmp(c->est, "median") ? RS_EST_MEDIAN : RS_EST_MEAN;
    o.channel_mean = !strcmp(c->rep, "chmean");
    o.mode = !strcmp(c->mode, "init") ? RS_MODE_INIT_EVAL : RS_MODE_EVAL;
    o.batch = 0; /* all P images per forward: batch statistics over the P clean (deformed, noisy) images */
    rs_sens *out = calloc((size_t)n, sizeof(rs_sens));
    if (sens_given(net, x, xd, xn, f->P, nodes, n, &o, out) != RS_OK) fail_msg("%s", rs_last_error());
    for (int32_t i = 0; i < n; i++) {
        assert_string_equal(out[i].name, f->rows[r0 + i].node);
        compare_row(&out[i], &f->rows[r0 + i], f->model, st);
    }
    free(out);
    free(nodes);
}

static int same_case(const fx_row *a, const fx_row *b) {
    return !strcmp(a->mode, b->mode) && !strcmp(a->est, b->est) && !strcmp(a->rep, b->rep);
}

static void run_fixture(const char *name) {
    double t0 = rs_now();
    mfixture *f = fx_read(name);
    rs_net *net = fx_net(f);
    rs_npy x = read_inputs("probe", net, f->P), xd = read_inputs("deformed", net, f->P);
    rs_npy xn = read_inputs("noisy", net, f->P);
    int32_t cases = 0;
    for (int32_t r0 = 0, r1; r0 < f->n_rows; r0 = r1) {
        for (r1 = r0 + 1; r1 < f->n_rows && same_case(&f->rows[r0], &f->rows[r1]); r1++) {
        }
        stats st = {0};
        run_case(net, f, r0, r1, x.data, xd.data, xn.data, &st);
        const fx_row *c = &f->rows[r0];
        printf("  %-8s %-4s %-6s %-6s %3d nodes, worst relative error (error / bound):\n   ", name, c->mode, c->est,
               c->rep, st.rows);
        for (int q = 0; q < NQ; q++) printf(" %s %.1e (%.1e)", q_names[q], st.rel[q], st.ratio[q]);
        printf("\n");
        cases++;
    }
    assert_true(cases >= 1);
    printf("  %s: %d cases, %.2f s\n", name, cases, rs_now() - t0);
    rs_npy_free(&x), rs_npy_free(&xd), rs_npy_free(&xn);
    rs_net_free(net);
    free(f);
}

static void test_lenet(void **state) {
    (void)state;
    run_fixture("lenet");
}

static void test_vgg11bn(void **state) {
    (void)state;
    run_fixture("vgg11bn_1ch");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lenet),
        cmocka_unit_test(test_vgg11bn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
