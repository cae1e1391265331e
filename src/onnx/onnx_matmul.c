/* onnx_matmul.c: the ONNX MatMul (numpy matmul semantics: the last two axes are matrices, the others broadcast).
 * A 2-D node A (N, K) times a constant (K, O) is relstab's matmul node (the samples are the rows). Any other
 * product in which the batch stays the first axis of every computed operand and of the result becomes one matmul
 * node of nn_ext.h (RS_BIN_MATMUL): for every output element, where its row of A and its column of B start (in
 * NHWC offsets for a node, row-major offsets for a constant) and the strides along the contraction. Constants are
 * shared, or per-sample constants of the test runner (first dimension the bound batch, rs_onnx_opts.batch).
 * Not here: products that put the batch on a matrix axis or off the first axis (refused, one line each). */
#include <string.h>

#include "relstab/onnx.h"

#ifdef RELSTAB_HAVE_ONNX
#include "onnx/onnx_internal.h"

#define FAIL(...) return ox_fail(c, RS_ERR_UNSUPPORTED, __VA_ARGS__)
#define BAD(...) return ox_fail(c, RS_ERR_FORMAT, __VA_ARGS__)

/* One operand after numpy's vector promotion: rank r (2 or more), dims d, and for each of its axes the stride of
 * that axis in its storage (NHWC offsets for a node, row-major within one sample's slice for a constant). */
typedef struct {
    ox_value *v;
    int32_t r;
    int64_t d[RS_ONNX_MAX_RANK + 1], st[RS_ONNX_MAX_RANK + 1];
    int32_t batch; /* a constant: samples it holds (0: shared by every sample) */
} operand;

static void node_strides(const ox_value *v, int64_t *st) {
    int64_t C = v->dims[1];
    st[0] = 0, st[1] = 1;
    if (v->rank == 3) st[2] = C;
    if (v->rank == 4) st[2] = v->dims[3] * C, st[3] = C;
}

/* Fills o from value v (vector promotion: A (K) -> (1, K), B (K) -> (K, 1)). */
static void make_operand(ox_value *v, int is_b, operand *o) {
    memset(o, 0, sizeof *o);
    o->v = v, o->r = v->rank;
    memcpy(o->d, v->dims, sizeof(int64_t) * (size_t)v->rank);
    if (v->node >= 0) {
        node_strides(v, o->st);
        return;
    }
    if (v->rank == 1) {
        o->r = 2;
        if (is_b) o->d[1] = 1;
        else o->d[1] = o->d[0], o->d[0] = 1;
    }
    int64_t s = 1;
    for (int32_t i = o->r - 1; i >= 0; i--) o->st[i] = s, s *= o->d[i];
}

/* The checks that keep the samples apart (a node's batch axis must be the result's first, not a matrix axis);
 * sets a constant's sample count. */
static rs_status batch_ok(ox_ctx *c, operand *o, int32_t ro) {
    if (o->v->node >= 0) {
        if (o->r < 3) FAIL("a computed B of rank 2 has the samples as its rows: the product would mix the batch");
        if (o->r != ro)
            FAIL("a computed operand of rank %d against one of rank %d: the batch would leave the first axis", o->r, ro);
        return RS_OK;
    }
    if (o->r == ro && o->d[0] != 1) {
        if (!c->test_batch || o->d[0] != c->test_batch)
            FAIL("constant '%s' varies along the batch dimension", o->v->name);
        o->batch = c->test_batch;
    }
    return RS_OK;
}

/* The 2-D case: node (N, K) times constant (K, O), rows = samples. */
static rs_status matmul_2d(ox_ctx *c, ox_value *a, ox_value *B) {
    if (B->dims[0] != a->dims[1] || B->dims[1] < 1 || B->dims[1] > (1 << 24)) BAD("B does not fit A");
    int32_t wp = ox_param(c, B, RS_PARAM_TRAINABLE, 0);
    if (wp < 0) BAD("B cannot be a parameter (%s)", c->net->error);
    int64_t dims[2] = {-1, B->dims[1]};
    return ox_set_node(c, rs_net_matmul(c->net, c->cur_name, a->node, (int32_t)B->dims[1], wp, -2), 2, dims);
}

/* The tables: for each output element (NHWC order), the start of its row of A and column of B. */
static rs_status tables(ox_ctx *c, const operand *A, const operand *B, int32_t ro2, const int64_t *out2, int32_t ro,
                        const int64_t *out, int64_t **ta, int64_t **tb) {
    int64_t per = ox_sample_numel(ro, out), sa[6] = {0}, sb[6] = {0};
    for (int32_t i = 1; i < ro2 - 2; i++) { /* broadcast batch axes, right-aligned */
        int32_t ka = i - (ro2 - A->r), kb = i - (ro2 - B->r);
        sa[i] = ka >= 0 && A->d[ka] != 1 ? A->st[ka] : 0;
        sb[i] = kb >= 0 && B->d[kb] != 1 ? B->st[kb] : 0;
    }
    sa[ro2 - 2] = A->st[A->r - 2], sb[ro2 - 1] = B->st[B->r - 1]; /* the row of A, the column of B */
    *ta = rs_calloc(sizeof(int64_t) * (size_t)(3 * per + 1));
    if (!*ta) return ox_fail(c, RS_ERR_NOMEM, "out of memory");
    *tb = *ta + per;
    int64_t *to = *ta + 2 * per;
    ox_phys_table(ro, out, to);
    for (int64_t j = 0; j < per; j++) { /* the promoted axes have size 1: the same logical order */
        int64_t r = j, x = 0, y = 0;
        for (int32_t i = ro2 - 1; i >= 1; i--) {
            int64_t q = r % out2[i];
            r /= out2[i];
            x += q * sa[i], y += q * sb[i];
        }
        (*ta)[to[j]] = x, (*tb)[to[j]] = y;
    }
    return RS_OK;
}

rs_status ox_op_matmul(ox_ctx *c) {
    RS_TRY(ox_check_attrs(c, NULL));
    ox_value *a = ox_input(c, 0), *b = ox_input(c, 1);
    if (!a || !b) BAD("an input is missing");
    if (a->node < 0 && b->node < 0) FAIL("both operands are constants");
    if (a->node >= 0 && a->rank == 2 && b->node < 0 && b->rank == 2) return matmul_2d(c, a, b);
    operand A, B;
    make_operand(a, 0, &A), make_operand(b, 1, &B);
    int32_t ro2 = A.r > B.r ? A.r : B.r;
    if (a->node >= 0 && a->rank == 2)
        FAIL("a 2-D A (its rows are the samples) times %s of rank %d: only a 2-D constant B keeps the samples apart",
             b->node >= 0 ? "a computed B" : "a constant", b->rank);
    RS_TRY(batch_ok(c, &A, ro2));
    RS_TRY(batch_ok(c, &B, ro2));
    int64_t K = A.d[A.r - 1];
    if (K < 1 || B.d[B.r - 2] != K)
        BAD("A with %lld columns times B with %lld rows", (long long)K, (long long)B.d[B.r - 2]);
    int64_t out2[6] = {-1}, out[4] = {-1, 1, 1, 1};
    for (int32_t i = 1; i < ro2 - 2; i++) {
        int32_t ka = i - (ro2 - A.r), kb = i - (ro2 - B.r);
        int64_t da = ka >= 0 ? A.d[ka] : 1, db = kb >= 0 ? B.d[kb] : 1;
        if (da != db && da != 1 && db != 1)
            BAD("batch dimensions %lld and %lld do not broadcast", (long long)da, (long long)db);
        out2[i] = da > db ? da : db;
    }
    out2[ro2 - 2] = A.d[A.r - 2], out2[ro2 - 1] = B.d[B.r - 1];
    int32_t ro = 1; /* the result without the axes numpy added to a vector */
    for (int32_t i = 1; i < ro2; i++)
        if (!((i == ro2 - 2 && a->rank == 1) || (i == ro2 - 1 && b->rank == 1))) out[ro++] = out2[i];
    for (int32_t i = 1; i < ro; i++)
        if (out[i] < 1 || out[i] > OX_MAX_NUMEL) BAD("result dimension %d is %lld", i, (long long)out[i]);
    if (ox_sample_numel(ro, out) > OX_MAX_NUMEL) BAD("result too large");
    int64_t *ta = NULL, *tb = NULL;
    RS_TRY(tables(c, &A, &B, ro2, out2, ro, out, &ta, &tb));
    operand *x = a->node >= 0 ? &A : &B, *y = a->node >= 0 ? &B : &A; /* the node is the op's first operand */
    int64_t *tx = a->node >= 0 ? ta : tb, *ty = a->node >= 0 ? tb : ta;
    int64_t dx = x == &A ? A.st[A.r - 1] : B.st[B.r - 2], dy = y == &A ? A.st[A.r - 1] : B.st[B.r - 2];
    int32_t bp = -1;
    if (y->v->node < 0 && (bp = ox_param(c, y->v, RS_PARAM_TRAINABLE, 0)) < 0) {
        rs_free(ta);
        BAD("constant '%s' cannot be a parameter (%s)", y->v->name, c->net->error);
    }
    int32_t H = ro > 3 ? (int32_t)out[2] : 1, W = ro > 3 ? (int32_t)out[3] : ro > 2 ? (int32_t)out[2] : 1;
    int32_t i = rs_net_matmul_tab(c->net, c->cur_name, x->v->node, y->v->node >= 0 ? y->v->node : -1, bp, y->batch,
                                  tx, ty, K, dx, dy, H, W, (int32_t)out[1]);
    rs_free(ta);
    return ox_set_node(c, i, ro, out);
}
#endif
