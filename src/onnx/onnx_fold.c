/* onnx_fold.c: load-time evaluation of the nodes whose inputs are all constants (initializers, Constant nodes,
 * values folded before), so that small constant subgraphs (torch 1.13 computes the pads of ZeroPad2d with
 * ConstantOfShape / Concat / Reshape / Slice / Transpose / Cast) become constants for the operators that need
 * them. Folded: ConstantOfShape, Concat, Reshape, Slice, Transpose, Cast, Unsqueeze, Squeeze, Gather, and Shape
 * (also of a computed value: its batch size, unknown at load, is NaN, which the folds that move values pass on
 * and every read of a size or index refuses; a Reshape of a computed value takes it as the batch). Each node is
 * checked as strictly as the rest of the reader: integer inputs must be integers, sizes non-negative and within
 * OX_MAX_NUMEL, all folded values together within OX_FOLD_MAX (a ConstantOfShape makes data the file does not
 * hold), permutations and axes valid; anything else is refused with one line. Not here: operators over
 * computed values (onnx_ops.c), arithmetic on constants. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "relstab/onnx.h"

#ifdef RELSTAB_HAVE_ONNX
#include "onnx/onnx_internal.h"

#define FAIL(...) return ox_fail(c, RS_ERR_UNSUPPORTED, __VA_ARGS__)
#define BAD(...) return ox_fail(c, RS_ERR_FORMAT, __VA_ARGS__)
#define MAXR RS_ONNX_MAX_RANK

typedef struct {
    int32_t rank;
    int64_t dims[MAXR], numel;
    double *v; /* owned until put() */
} tensor;

/* The result becomes the value of the current node's first output (takes t.v). */
static rs_status put(ox_ctx *c, tensor *t) {
    ox_value *v = ox_add(c, c->cur_name);
    if (!v) {
        rs_free(t->v);
        return ox_fail(c, RS_ERR_NOMEM, "out of memory");
    }
    v->rank = t->rank, v->numel = t->numel, v->v = t->v;
    memcpy(v->dims, t->dims, sizeof(int64_t) * MAXR);
    t->v = NULL;
    return RS_OK;
}

static rs_status alloc_result(ox_ctx *c, tensor *t) {
    t->numel = 1;
    for (int32_t i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0 || t->dims[i] > OX_MAX_NUMEL) BAD("result dimension %d is %lld", i, (long long)t->dims[i]);
        t->numel *= t->dims[i];
        if (t->numel > OX_MAX_NUMEL) BAD("result too large");
    }
    if (c->folded + t->numel > OX_FOLD_MAX)
        BAD("the constants evaluated at load would exceed %lld values", (long long)OX_FOLD_MAX);
    c->folded += t->numel;
    t->v = rs_calloc(sizeof(double) * (size_t)(t->numel ? t->numel : 1));
    if (!t->v) return ox_fail(c, RS_ERR_NOMEM, "out of memory");
    return RS_OK;
}

/* The integer at v (refused when not an integer, or outside [lo, hi]). */
static rs_status to_int(ox_ctx *c, double v, const char *what, double lo, double hi, int64_t *out) {
    if (isnan(v)) FAIL("%s depends on the batch size (unknown at load) or is not a number", what);
    if (!(v == floor(v)) || v < lo || v > hi) BAD("%s is %g", what, v);
    *out = (int64_t)v;
    return RS_OK;
}

static rs_status axis_in(ox_ctx *c, double a, int32_t rank, int32_t *out) {
    int64_t k = 0;
    RS_TRY(to_int(c, a, "an axis", -rank, rank - 1, &k));
    *out = (int32_t)(k < 0 ? k + rank : k);
    return RS_OK;
}

static void strides(int32_t r, const int64_t *d, int64_t *st) {
    int64_t s = 1;
    for (int32_t i = r - 1; i >= 0; i--) st[i] = s, s *= d[i];
}

/* ---------------------------------------------------------------- the folded operators */
static rs_status fold_constantofshape(ox_ctx *c, ox_value **in) {
    static const char *const at[] = {"value", NULL};
    RS_TRY(ox_check_attrs(c, at));
    tensor t = {0};
    if (in[0]->rank != 1 || in[0]->numel > MAXR) BAD("the shape must be 1-D with at most %d entries", MAXR);
    t.rank = (int32_t)in[0]->numel;
    for (int32_t i = 0; i < t.rank; i++) RS_TRY(to_int(c, in[0]->v[i], "a dimension", 0, OX_MAX_NUMEL, &t.dims[i]));
    double fill = 0;
    const Onnx__AttributeProto *a = ox_attr(c->cur, "value");
    if (a) {
        int32_t r;
        int64_t d[MAXR], n;
        double *v;
        if (!a->t) BAD("value is not a tensor");
        rs_status s = ox_tensor_values(a->t, NULL, &r, d, &v, &n);
        if (s) {
            char msg[300];
            snprintf(msg, sizeof msg, "%s", rs_last_error());
            return ox_fail(c, s, "%s", msg);
        }
        fill = n == 1 ? v[0] : NAN;
        rs_free(v);
        if (n != 1) BAD("value must hold one element");
    }
    RS_TRY(alloc_result(c, &t));
    for (int64_t j = 0; j < t.numel; j++) t.v[j] = fill;
    return put(c, &t);
}

static rs_status fold_concat(ox_ctx *c, ox_value **in, int32_t nin) {
    static const char *const at[] = {"axis", NULL};
    RS_TRY(ox_check_attrs(c, at));
    if (!ox_attr(c->cur, "axis")) BAD("the axis attribute is missing");
    int32_t r = in[0]->rank, ax;
    if (r < 1) BAD("scalars cannot be concatenated");
    RS_TRY(axis_in(c, (double)ox_attr_int(c->cur, "axis", 0), r, &ax));
    tensor t = {.rank = r};
    memcpy(t.dims, in[0]->dims, sizeof(int64_t) * (size_t)r);
    t.dims[ax] = 0;
    for (int32_t k = 0; k < nin; k++) {
        if (in[k]->rank != r) BAD("inputs of different ranks");
        for (int32_t i = 0; i < r; i++)
            if (i != ax && in[k]->dims[i] != t.dims[i]) BAD("input %d does not match the others", k);
        t.dims[ax] += in[k]->dims[ax];
        if (t.dims[ax] > OX_MAX_NUMEL) BAD("result too large");
    }
    RS_TRY(alloc_result(c, &t));
    int64_t outer = 1, j = 0;
    for (int32_t i = 0; i < ax; i++) outer *= t.dims[i];
    for (int64_t o = 0; o < outer; o++)
        for (int32_t k = 0; k < nin; k++) { /* each input's block of its axis and the inner axes */
            int64_t blk = in[k]->numel / outer;
            memcpy(t.v + j, in[k]->v + o * blk, sizeof(double) * (size_t)blk);
            j += blk;
        }
    return put(c, &t);
}

static rs_status fold_reshape(ox_ctx *c, ox_value **in) {
    static const char *const at[] = {"allowzero", NULL};
    RS_TRY(ox_check_attrs(c, at));
    ox_value *x = in[0], *sh = in[1];
    if (!sh || sh->rank != 1 || sh->numel > MAXR) BAD("the shape must be 1-D with at most %d entries", MAXR);
    int allowzero = ox_attr_int(c->cur, "allowzero", 0) != 0;
    tensor t = {.rank = (int32_t)sh->numel};
    int32_t infer = -1;
    int64_t known = 1;
    for (int32_t i = 0; i < t.rank; i++) {
        RS_TRY(to_int(c, sh->v[i], "a target dimension", -1, OX_MAX_NUMEL, &t.dims[i]));
        if (t.dims[i] == -1) {
            if (infer >= 0) BAD("two dimensions to infer");
            infer = i;
            continue;
        }
        if (t.dims[i] == 0 && !allowzero) {
            if (i >= x->rank) BAD("target dimension %d copies a dimension the input does not have", i);
            t.dims[i] = x->dims[i];
        }
        known *= t.dims[i];
    }
    if (infer >= 0) {
        if (known == 0 || x->numel % known) BAD("cannot infer dimension %d", infer);
        t.dims[infer] = x->numel / known;
    }
    RS_TRY(alloc_result(c, &t));
    if (t.numel != x->numel) {
        rs_free(t.v);
        BAD("%lld values cannot take the target shape", (long long)x->numel);
    }
    memcpy(t.v, x->v, sizeof(double) * (size_t)x->numel);
    return put(c, &t);
}

/* Gathers t (dims set, allocated) from x: element j of t is x at sum_i q_i step[i] + base (q: j's indices). */
static void strided_copy(tensor *t, const ox_value *x, const int64_t *step, int64_t base) {
    for (int64_t j = 0; j < t->numel; j++) {
        int64_t r = j, at = base;
        for (int32_t i = t->rank - 1; i >= 0; i--) {
            at += (r % t->dims[i]) * step[i];
            r /= t->dims[i];
        }
        t->v[j] = x->v[at];
    }
}

static rs_status fold_transpose(ox_ctx *c, ox_value **in) {
    static const char *const at[] = {"perm", NULL};
    RS_TRY(ox_check_attrs(c, at));
    ox_value *x = in[0];
    int64_t perm[MAXR], st[MAXR], step[MAXR];
    int32_t r = x->rank, n = ox_attr_ints(c->cur, "perm", perm, MAXR), seen = 0;
    if (n < 0 || (n && n != r)) BAD("perm has the wrong length");
    for (int32_t i = 0; i < r; i++) {
        if (!n) perm[i] = r - 1 - i;
        if (perm[i] < 0 || perm[i] >= r || (seen & (1 << perm[i]))) BAD("perm is not a permutation");
        seen |= 1 << perm[i];
    }
    strides(r, x->dims, st);
    tensor t = {.rank = r};
    for (int32_t i = 0; i < r; i++) t.dims[i] = x->dims[perm[i]], step[i] = st[perm[i]];
    RS_TRY(alloc_result(c, &t));
    strided_copy(&t, x, step, 0);
    return put(c, &t);
}

static rs_status fold_slice(ox_ctx *c, ox_value **in, int32_t nin) {
    static const char *const at_old[] = {"starts", "ends", "axes", NULL};
    RS_TRY(ox_check_attrs(c, c->opset < 10 ? at_old : NULL));
    ox_value *x = in[0];
    int32_t r = x->rank, n;
    double st[MAXR], en[MAXR], ax[MAXR], sp[MAXR];
    for (int32_t i = 0; i < MAXR; i++) ax[i] = i, sp[i] = 1;
    if (c->opset < 10) {
        int64_t a[MAXR], e[MAXR], b[MAXR];
        n = ox_attr_ints(c->cur, "starts", a, MAXR);
        if (n < 1 || ox_attr_ints(c->cur, "ends", e, MAXR) != n) BAD("starts and ends must have the same length");
        int32_t na = ox_attr_ints(c->cur, "axes", b, MAXR);
        if (na && na != n) BAD("axes has the wrong length");
        for (int32_t i = 0; i < n; i++) st[i] = (double)a[i], en[i] = (double)e[i], ax[i] = na ? (double)b[i] : i;
    } else {
        if (nin < 3 || !in[1] || !in[2]) BAD("starts and ends are missing");
        n = (int32_t)in[1]->numel;
        for (int32_t k = 1; k < 5 && k < nin; k++)
            if (in[k] && (in[k]->rank != 1 || in[k]->numel != n)) BAD("starts, ends, axes and steps must match");
        if (n < 1 || n > r) BAD("%d axes sliced for rank %d", n, r);
        for (int32_t i = 0; i < n; i++) {
            st[i] = in[1]->v[i], en[i] = in[2]->v[i];
            if (nin > 3 && in[3]) ax[i] = in[3]->v[i];
            if (nin > 4 && in[4]) sp[i] = in[4]->v[i];
        }
    }
    int64_t xst[MAXR], first[MAXR] = {0}, step[MAXR];
    tensor t = {.rank = r};
    memcpy(t.dims, x->dims, sizeof(int64_t) * (size_t)r);
    strides(r, x->dims, xst);
    for (int32_t i = 0; i < r; i++) step[i] = xst[i];
    int32_t seen = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t a;
        int64_t s = 1, b = 0, e = 0, dim;
        RS_TRY(axis_in(c, ax[i], r, &a));
        if (seen & (1 << a)) BAD("axis %d sliced twice", a);
        seen |= 1 << a;
        RS_TRY(to_int(c, sp[i], "a step", -OX_MAX_NUMEL, OX_MAX_NUMEL, &s));
        if (isnan(st[i]) || isnan(en[i])) BAD("a start or end is not a number");
        RS_TRY(to_int(c, fmax(fmin(st[i], 4e18), -4e18), "a start", -4e18, 4e18, &b));
        RS_TRY(to_int(c, fmax(fmin(en[i], 4e18), -4e18), "an end", -4e18, 4e18, &e));
        if (s == 0) BAD("a step of 0");
        dim = x->dims[a];
        b = b < 0 ? b + dim : b, e = e < 0 ? e + dim : e;
        if (s > 0) b = b < 0 ? 0 : b > dim ? dim : b, e = e < 0 ? 0 : e > dim ? dim : e;
        else b = b < 0 ? 0 : b > dim - 1 ? dim - 1 : b, e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
        int64_t cnt = s > 0 ? (e > b ? (e - b + s - 1) / s : 0) : (b > e ? (b - e + (-s) - 1) / -s : 0);
        t.dims[a] = cnt, first[a] = cnt ? b : 0, step[a] = xst[a] * s;
    }
    int64_t base = 0;
    for (int32_t i = 0; i < r; i++) base += first[i] * xst[i];
    RS_TRY(alloc_result(c, &t));
    strided_copy(&t, x, step, base);
    return put(c, &t);
}

static rs_status fold_cast(ox_ctx *c, ox_value **in) {
    static const char *const at[] = {"to", NULL};
    RS_TRY(ox_check_attrs(c, at));
    int64_t to = ox_attr_int(c->cur, "to", 0);
    if (to != 1 && to != 7 && to != 11 && to != 6)
        FAIL("cast to data type %lld (float, double, int32, int64)", (long long)to);
    ox_value *x = in[0];
    tensor t = {.rank = x->rank};
    memcpy(t.dims, x->dims, sizeof(int64_t) * MAXR);
    RS_TRY(alloc_result(c, &t));
    for (int64_t j = 0; j < x->numel; j++) {
        double v = x->v[j];
        if ((to == 7 || to == 6) && !(fabs(v) < (to == 7 ? 9.2e18 : 2147483648.0))) {
            rs_free(t.v);
            BAD("%g does not fit the integer type (NaN: the batch size, unknown at load)", v);
        }
        if (to == 1 && fabs(v) >= 0x1.ffffffp127) v = copysign(INFINITY, v); /* rounds past FLT_MAX: inf, as IEEE */
        t.v[j] = to == 1 ? (double)(float)v : to == 11 ? v : trunc(v);
    }
    return put(c, &t);
}

/* Unsqueeze / Squeeze: the values unchanged, axes of size 1 added or removed (axes: an input from opset 13). */
static rs_status fold_squeeze(ox_ctx *c, ox_value **in, int32_t nin, int unsq) {
    static const char *const at[] = {"axes", NULL};
    RS_TRY(ox_check_attrs(c, c->opset < 13 ? at : NULL));
    ox_value *x = in[0];
    double axd[MAXR];
    int32_t n = 0;
    if (c->opset < 13) {
        int64_t a[MAXR];
        n = ox_attr_ints(c->cur, "axes", a, MAXR);
        if (n < 0) BAD("axes has the wrong length");
        for (int32_t i = 0; i < n; i++) axd[i] = (double)a[i];
    } else if (nin > 1 && in[1]) {
        if (in[1]->rank != 1 || in[1]->numel > MAXR) BAD("axes must be 1-D with at most %d entries", MAXR);
        n = (int32_t)in[1]->numel;
        for (int32_t i = 0; i < n; i++) axd[i] = in[1]->v[i];
    }
    if (unsq && n < 1) BAD("Unsqueeze needs axes");
    tensor t = {.rank = unsq ? x->rank + n : 0};
    if (t.rank > MAXR) BAD("result of rank %d", t.rank);
    int32_t mark = 0, rr = unsq ? t.rank : x->rank;
    for (int32_t i = 0; i < n; i++) {
        int32_t a;
        RS_TRY(axis_in(c, axd[i], rr, &a));
        if (mark & (1 << a)) BAD("axis %d given twice", a);
        if (!unsq && x->dims[a] != 1) BAD("axis %d has size %lld, not 1", a, (long long)x->dims[a]);
        mark |= 1 << a;
    }
    for (int32_t i = 0, k = 0; i < rr; i++) {
        if (unsq) t.dims[i] = mark & (1 << i) ? 1 : x->dims[k++];
        else if (n ? !(mark & (1 << i)) : x->dims[i] != 1) t.dims[t.rank++] = x->dims[i];
    }
    RS_TRY(alloc_result(c, &t));
    memcpy(t.v, x->v, sizeof(double) * (size_t)x->numel);
    return put(c, &t);
}

static rs_status fold_gather(ox_ctx *c, ox_value **in) {
    static const char *const at[] = {"axis", NULL};
    RS_TRY(ox_check_attrs(c, at));
    ox_value *x = in[0], *ix = in[1];
    int32_t ax;
    if (x->rank < 1) BAD("a scalar cannot be indexed");
    RS_TRY(axis_in(c, (double)ox_attr_int(c->cur, "axis", 0), x->rank, &ax));
    if (x->rank + ix->rank - 1 > MAXR) BAD("result of rank %d", x->rank + ix->rank - 1);
    tensor t = {.rank = x->rank + ix->rank - 1};
    int32_t k = 0;
    for (int32_t i = 0; i < ax; i++) t.dims[k++] = x->dims[i];
    for (int32_t i = 0; i < ix->rank; i++) t.dims[k++] = ix->dims[i];
    for (int32_t i = ax + 1; i < x->rank; i++) t.dims[k++] = x->dims[i];
    RS_TRY(alloc_result(c, &t));
    int64_t outer = 1, inner = 1, dim = x->dims[ax];
    for (int32_t i = 0; i < ax; i++) outer *= x->dims[i];
    for (int32_t i = ax + 1; i < x->rank; i++) inner *= x->dims[i];
    for (int64_t q = 0; q < ix->numel; q++) {
        int64_t g = 0;
        rs_status s = to_int(c, ix->v[q], "an index", (double)-dim, (double)dim - 1, &g);
        if (s) {
            rs_free(t.v);
            return s;
        }
        g = g < 0 ? g + dim : g;
        for (int64_t o = 0; o < outer; o++)
            memcpy(t.v + (o * ix->numel + q) * inner, x->v + (o * dim + g) * inner, sizeof(double) * (size_t)inner);
    }
    return put(c, &t);
}

/* Shape: the dims of a constant, or of a computed value with NaN for its batch size (unknown at load: a fold
 * that reads it is refused, a Reshape keeps the batch where it is the first entry); start / end from opset 15. */
static rs_status fold_shape(ox_ctx *c, ox_value *x) {
    static const char *const at[] = {"start", "end", NULL};
    RS_TRY(ox_check_attrs(c, c->opset >= 15 ? at : NULL));
    int64_t r = x->rank, b = ox_attr_int(c->cur, "start", 0), e = ox_attr_int(c->cur, "end", r);
    b = b < 0 ? b + r : b, e = e < 0 ? e + r : e;
    b = b < 0 ? 0 : b > r ? r : b, e = e < 0 ? 0 : e > r ? r : e;
    tensor t = {.rank = 1, .dims = {e > b ? e - b : 0}};
    RS_TRY(alloc_result(c, &t));
    for (int64_t i = b; i < e; i++) t.v[i - b] = x->node >= 0 && i == 0 ? NAN : (double)x->dims[i];
    return put(c, &t);
}

/* ---------------------------------------------------------------- dispatch */
rs_status ox_fold_node(ox_ctx *c, int *done) {
    static const char *const foldable[] = {"ConstantOfShape", "Concat", "Reshape", "Slice", "Transpose", "Cast",
                                           "Unsqueeze", "Squeeze", "Gather", NULL};
    *done = 0;
    const char *op = c->cur->op_type;
    if (!strcmp(op, "Shape")) {
        ox_value *x = c->cur->n_input == 1 ? ox_input(c, 0) : NULL;
        if (!x) BAD("one input expected");
        *done = 1;
        return fold_shape(c, x);
    }
    int32_t k = 0;
    while (foldable[k] && strcmp(foldable[k], op)) k++;
    if (!foldable[k]) return RS_OK;
    int32_t nin = (int32_t)c->cur->n_input, present = 0;
    if (nin < 1 || nin > 64) return RS_OK; /* the operator's own handler reports it */
    ox_value *in[64] = {NULL};
    for (int32_t i = 0; i < nin; i++) {
        in[i] = ox_input(c, (size_t)i);
        if (in[i] && in[i]->node >= 0) return RS_OK; /* a computed input: not folded */
        present += in[i] != NULL;
    }
    if (!in[0]) return RS_OK;
    for (int32_t i = 0; i < nin; i++)
        if (in[i] && in[i]->numel && !in[i]->v) BAD("input %d has no values", i);
    *done = 1;
    switch (k) {
    case 0: return fold_constantofshape(c, in);
    case 1: return present == nin ? fold_concat(c, in, nin) : ox_fail(c, RS_ERR_FORMAT, "an input is missing");
    case 2: return nin == 2 && in[1] ? fold_reshape(c, in) : ox_fail(c, RS_ERR_FORMAT, "the shape is missing");
    case 3: return fold_slice(c, in, nin);
    case 4: return fold_transpose(c, in);
    case 5: return fold_cast(c, in);
    case 6: return fold_squeeze(c, in, nin, 1);
    case 7: return fold_squeeze(c, in, nin, 0);
    default: return nin == 2 && in[1] ? fold_gather(c, in) : ox_fail(c, RS_ERR_FORMAT, "the indices are missing");
    }
}
#endif
