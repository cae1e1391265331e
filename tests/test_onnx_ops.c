/* test_onnx_ops.c: the graph-import ops of nn_ext.h (gather, softmax over groups, broadcasting add / mul / div,
 * the batched matmul through index tables):
 * finite-difference gradient checks (gradcheck.h), accumulation (+=), hand-computed cases, and their use in a net
 * (rs_net_gather / softmax / binary) with backward through rs_net_backward. The binary "const" kind (a constant
 * made a node) is checked too: its A gradient is zero. There is no fast path for these ops
 * (plain C only, like relstab's other structural ops), so there is no fast-vs-reference comparison here. */
#include <string.h>

#include "gradcheck.h"
#include "relstab/nn_ext.h"

/* ---------------------------------------------------------------- gather */
typedef struct {
    float *a, *b;           /* two sources: (N, na), (N, nb) */
    int64_t n, na, nb, per;
    int32_t *which;
    int64_t *off;
} gather_ctx;

static void gather_fwd(void *p, float *out) {
    gather_ctx *x = p;
    const float *src[2] = {x->a, x->b};
    const int64_t numel[2] = {x->na, x->nb};
    rs_gather_forward(out, src, numel, x->which, x->off, x->n, x->per, 0.5f);
}

static void test_gather_grad(void **st) {
    (void)st;
    /* a concat-with-padding-and-permutation: out j takes a[(3j) % na], b[j % nb] or the fill value */
    gather_ctx x = {tu_randn(2 * 12, 900), tu_randn(2 * 5, 901), 2, 12, 5, 20, NULL, NULL};
    x.which = rs_calloc(sizeof(int32_t) * 20);
    x.off = rs_calloc(sizeof(int64_t) * 20);
    for (int64_t j = 0; j < 20; j++) {
        x.which[j] = j < 12 ? 0 : j < 17 ? 1 : -1;
        x.off[j] = j < 12 ? (5 * j) % 12 : j < 17 ? 16 - j : 0;
    }
    float *out = gc_zeros(40), *r = tu_randn(40, 902), *ga = gc_zeros(24), *gb = gc_zeros(10);
    float *dsrc[2] = {ga, gb};
    const int64_t numel[2] = {12, 5};
    rs_gather_backward(dsrc, numel, r, x.which, x.off, 2, 20);
    gc_problem p = {gather_fwd, &x, r, out, 40};
    assert_true(gc_check(&p, x.a, 24, ga, GC_EPS, "gather d_a") < GC_TOL);
    assert_true(gc_check(&p, x.b, 10, gb, GC_EPS, "gather d_b") < GC_TOL);
    gather_fwd(&x, out); /* hand: the fill value and one moved element */
    assert_true(out[19] == 0.5f && out[20 + 1] == x.a[12 + 5] && out[20 + 12] == x.b[5 + 4]);
    float once[24];
    memcpy(once, ga, sizeof once);
    rs_gather_backward(dsrc, numel, r, x.which, x.off, 2, 20);
    assert_true(gc_doubling_error(ga, once, 24) < GC_ACC_TOL);
    rs_free(x.a), rs_free(x.b), rs_free(x.which), rs_free(x.off), rs_free(out), rs_free(r), rs_free(ga), rs_free(gb);
}

/* ---------------------------------------------------------------- softmax */
typedef struct {
    float *in;
    int64_t *idx, n, per, groups, len;
} softmax_ctx;

static void softmax_fwd(void *p, float *out) {
    softmax_ctx *x = p;
    rs_softmax_forward(out, x->in, x->idx, x->n, x->per, x->groups, x->len);
}

static void test_softmax_grad(void **st) {
    (void)st;
    /* 3 samples of 4 groups of 6 strided elements (a softmax over channels of an NHWC map) */
    softmax_ctx x = {tu_randn(3 * 24, 910), rs_calloc(sizeof(int64_t) * 24), 3, 24, 4, 6};
    for (int64_t g = 0; g < 4; g++)
        for (int64_t l = 0; l < 6; l++) x.idx[g * 6 + l] = l * 4 + g;
    float *out = gc_zeros(72), *r = tu_randn(72, 911), *g = gc_zeros(72);
    softmax_fwd(&x, out);
    double s = 0;
    for (int64_t l = 0; l < 6; l++) s += out[24 + l * 4 + 1];
    assert_true(fabs(s - 1) < 1e-6); /* a group sums to one */
    rs_softmax_backward(g, r, out, x.idx, 3, 24, 4, 6);
    gc_problem p = {softmax_fwd, &x, r, out, 72};
    assert_true(gc_check(&p, x.in, 72, g, GC_EPS, "softmax d_in") < GC_TOL);
    softmax_fwd(&x, out);
    float once[72];
    memcpy(once, g, sizeof once);
    rs_softmax_backward(g, r, out, x.idx, 3, 24, 4, 6);
    assert_true(gc_doubling_error(g, once, 72) < GC_ACC_TOL);
    /* hand: softmax(0, log 3) = (1/4, 3/4) */
    float in2[2] = {0, logf(3)}, out2[2];
    int64_t id2[2] = {0, 1};
    rs_softmax_forward(out2, in2, id2, 1, 2, 1, 2);
    assert_true(fabsf(out2[0] - 0.25f) < 1e-7f && fabsf(out2[1] - 0.75f) < 1e-7f);
    rs_free(x.in), rs_free(x.idx), rs_free(out), rs_free(r), rs_free(g);
}

/* ---------------------------------------------------------------- binary */
typedef struct {
    float *a, *b;
    rs_binary_dims d;
    int64_t n, per;
} bin_ctx;

static void bin_fwd(void *p, float *out) {
    bin_ctx *x = p;
    rs_binary_forward(out, x->a, x->b, &x->d, x->n, x->per);
}

/* The backward's gradients ga (len_a values of a) and gb (len_b of b) from the output gradient r (N, per), each
 * against finite differences of bin_fwd (out: scratch (N, per)). */
static void check_ab_grads(bin_ctx *x, float *r, float *out, float *ga, int64_t len_a, float *gb, int64_t len_b,
                           const char *name) {
    rs_binary_backward(ga, gb, r, x->a, x->b, &x->d, x->n, x->per);
    gc_problem p = {bin_fwd, x, r, out, x->n * x->per};
    char what[96];
    snprintf(what, sizeof what, "%s d_a", name);
    assert_true(gc_check(&p, x->a, len_a, ga, GC_EPS, what) < GC_TOL);
    snprintf(what, sizeof what, "%s d_b", name);
    assert_true(gc_check(&p, x->b, len_b, gb, GC_EPS, what) < GC_TOL);
}

/* a (N, 12) node against b: a node (N, 4) broadcast over 3, or a constant (4) shared by the samples */
static void check_binary(rs_binary_kind kind, int b_const, float ka, float kb, const char *name) {
    const int64_t n = 3, per = 12, nb = 4;
    int64_t *ib = rs_calloc(sizeof(int64_t) * per);
    for (int64_t j = 0; j < per; j++) ib[j] = j % nb;
    bin_ctx x = {tu_randn((size_t)(n * per), 920), gc_uniform((size_t)(n * nb), 921, 0.5f, 2.0f),
                 {kind, ka, kb, per, b_const ? 0 : nb, NULL, ib, 1, 0, 0}, n, per};
    if (kind != RS_BIN_DIV) rs_fill_uniform(x.b, (size_t)(n * nb), 777, 922, 0, -2.0f, 2.0f);
    float *out = gc_zeros((size_t)(n * per)), *r = tu_randn((size_t)(n * per), 923);
    float *ga = gc_zeros((size_t)(n * per)), *gb = gc_zeros((size_t)(n * nb));
    check_ab_grads(&x, r, out, ga, n * per, gb, b_const ? nb : n * nb, name);
    rs_free(ib), rs_free(x.a), rs_free(x.b), rs_free(out), rs_free(r), rs_free(ga), rs_free(gb);
}

static void test_binary_grad(void **st) {
    (void)st;
    check_binary(RS_BIN_ADD, 0, 1, 1, "add node");
    check_binary(RS_BIN_ADD, 1, 0.5f, -2, "add constant, alpha 0.5 beta -2");
    check_binary(RS_BIN_MUL, 0, 1, 1, "mul node");
    check_binary(RS_BIN_MUL, 1, 1.5f, 1, "mul constant");
    check_binary(RS_BIN_DIV, 0, 1, 1, "div node");
    check_binary(RS_BIN_DIV, 1, 1, 1, "div constant");
    check_binary(RS_BIN_CONST, 1, 1, 1, "constant node");
    check_binary(RS_BIN_CONST, 0, 1, 1, "per-sample constant node");
    /* hand: (2, 3) * (4) broadcast, then / 2 */
    float a[2] = {2, 3}, b[1] = {4}, out[2];
    int64_t ib[2] = {0, 0};
    rs_binary_dims d = {RS_BIN_MUL, 1, 1, 2, 0, NULL, ib, 1, 0, 0};
    rs_binary_forward(out, a, b, &d, 1, 2);
    assert_true(out[0] == 8 && out[1] == 12);
    b[0] = 2, d.kind = RS_BIN_DIV;
    rs_binary_forward(out, a, b, &d, 1, 2);
    assert_true(out[0] == 1 && out[1] == 1.5f);
}

/* ---------------------------------------------------------------- matmul (RS_BIN_MATMUL) */
/* Per sample a (2 x 3) matrix A stored transposed (element (m, t) at t * 2 + m: stride 2 along the contraction, as
 * a channels-last node) times B (3 x 4) row-major (stride 4); B a node (one per sample), a shared constant, or a
 * per-sample constant. Output j = m * 4 + o. */
static void check_matmul(int b_mode, float ka, const char *name) {
    const int64_t n = 3, per = 8, na = 6, nb = 12;
    int64_t ia[8], ib[8];
    for (int64_t j = 0; j < per; j++) ia[j] = j / 4, ib[j] = j % 4;
    bin_ctx x = {tu_randn((size_t)(n * na), 940), tu_randn((size_t)(n * nb), 941),
                 {RS_BIN_MATMUL, ka, 0, na, b_mode == 1 ? 0 : nb, ia, ib, 3, 2, 4}, n, per};
    float *out = gc_zeros((size_t)(n * per)), *r = tu_randn((size_t)(n * per), 942);
    float *ga = gc_zeros((size_t)(n * na)), *gb = gc_zeros((size_t)(n * nb));
    check_ab_grads(&x, r, out, ga, n * na, gb, b_mode == 1 ? nb : n * nb, name);
    bin_fwd(&x, out); /* hand: sample 2, output (1, 3) */
    const float *A = x.a + 2 * na, *B = x.b + (b_mode == 1 ? 0 : 2 * nb);
    double want = 0;
    for (int t = 0; t < 3; t++) want += (double)A[t * 2 + 1] * B[t * 4 + 3];
    assert_true(fabs(out[2 * per + 7] - ka * want) < 1e-5);
    float once[36]; /* accumulation */
    memcpy(once, gb, sizeof(float) * (size_t)(n * nb));
    rs_binary_backward(NULL, gb, r, x.a, x.b, &x.d, n, per);
    assert_true(gc_doubling_error(gb, once, b_mode == 1 ? nb : n * nb) < GC_ACC_TOL);
    rs_free(x.a), rs_free(x.b), rs_free(out), rs_free(r), rs_free(ga), rs_free(gb);
}

static void test_matmul_grad(void **st) {
    (void)st;
    check_matmul(0, 1, "matmul node B");
    check_matmul(1, 1, "matmul shared constant B");
    check_matmul(2, 0.5f, "matmul per-sample constant B, ka 0.5");
    /* the builder checks the rows and columns against the operands' sizes */
    rs_net *net = rs_net_new(2, 1, 3); /* input: 2 x 1 x 3 per sample = 6 values */
    int64_t shape[2] = {3, 4}, ia[8], ib[8];
    int32_t k = rs_net_param(net, "B", 2, shape, RS_PARAM_TRAINABLE, (rs_init){RS_INIT_CONST, 1, 0});
    for (int64_t j = 0; j < 8; j++) ia[j] = j / 4, ib[j] = j % 4;
    assert_true(rs_net_matmul_tab(net, "ok", 0, -1, k, 0, ia, ib, 3, 2, 4, 1, 4, 2) > 0);
    ib[7] = 4; /* its column would reach element 4 + 2 * 4 = 12 of 12 */
    assert_int_equal(rs_net_matmul_tab(net, "bad", 0, -1, k, 0, ia, ib, 3, 2, 4, 1, 4, 2), -1);
    assert_non_null(strstr(net->error, "out of range"));
    rs_net_free(net);
}

/* ---------------------------------------------------------------- in a net */
static void test_net_nodes(void **st) {
    (void)st;
    /* x (2 x 3 x 3) -> concat along channels with itself reversed -> softmax over channels -> times a constant */
    rs_net *net = rs_net_new(2, 3, 3);
    int64_t per = 4 * 9;
    int32_t *which = rs_calloc(sizeof(int32_t) * per);
    int64_t *off = rs_calloc(sizeof(int64_t) * per), *idx = rs_calloc(sizeof(int64_t) * per);
    for (int64_t p = 0; p < 9; p++)
        for (int64_t c = 0; c < 4; c++) off[p * 4 + c] = p * 2 + (c < 2 ? c : 3 - c), idx[p * 4 + c] = p * 4 + c;
    int32_t srcs[1] = {0};
    int32_t g = rs_net_gather(net, "cat", 1, srcs, 3, 3, 4, which, off, 0);
    int32_t s = rs_net_softmax(net, "soft", g, 9, 4, idx);
    int64_t shape[1] = {4};
    int32_t k = rs_net_param(net, "k", 1, shape, RS_PARAM_TRAINABLE, (rs_init){RS_INIT_CONST, 2, 0});
    int64_t ib[36];
    for (int64_t j = 0; j < 36; j++) ib[j] = j % 4;
    int32_t m = rs_net_binary(net, "scaled", RS_BIN_MUL, s, -1, k, NULL, ib, 3, 3, 4, 1, 1);
    assert_true(g > 0 && s > g && m > s);
    /* an out-of-range table is refused */
    off[0] = 99;
    rs_net *bad = rs_net_new(2, 3, 3);
    assert_int_equal(rs_net_gather(bad, "bad", 1, srcs, 3, 3, 4, which, off, 0), -1);
    assert_non_null(strstr(bad->error, "out of range"));
    rs_net_free(bad);
    assert_int_equal(rs_net_build(net, 2, 1), RS_OK);
    float *x = tu_randn(36, 930), *dy = tu_randn(2 * 36, 931);
    assert_int_equal(rs_net_forward(net, x, 2, RS_MODE_EVAL), RS_OK);
    const float *y = rs_net_output_data(net);
    double sum = 0;
    for (int c = 0; c < 4; c++) sum += y[36 + 4 * 5 + c];
    assert_true(fabs(sum - 2) < 1e-5); /* softmax sums to one, times 2 */
    rs_net_zero_grad(net);
    assert_int_equal(rs_net_backward(net, dy), RS_OK);
    /* d loss / d k_c = sum over samples and positions of dy * softmax */
    const float *sm = net->nodes[s].out, *gk = rs_param_grad(&net->params, k);
    for (int c = 0; c < 4; c++) {
        double want = 0;
        for (int64_t j = c; j < 72; j += 4) want += (double)dy[j] * sm[j];
        assert_true(fabs(gk[c] - want) < 1e-5);
    }
    rs_free(which), rs_free(off), rs_free(idx), rs_free(x), rs_free(dy);
    rs_net_free(net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gather_grad), cmocka_unit_test(test_softmax_grad), cmocka_unit_test(test_binary_grad),
        cmocka_unit_test(test_matmul_grad), cmocka_unit_test(test_net_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
