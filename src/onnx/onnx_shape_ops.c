/* onnx_shape_ops.c: the ONNX operators that reshape or route values (Flatten, Reshape, Concat, Pad), Gemm
 * against constant weights (MatMul: onnx_matmul.c), Softmax, and the pass-through ones (Identity, Dropout, Constant). Reshape,
 * Concat and Pad become one gather node each, whose table maps every output element to its source element, so
 * any axis works with relstab's channels-last storage; nothing here mixes samples of the batch. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "relstab/onnx.h"

#ifdef RELSTAB_HAVE_ONNX
#include "onnx/onnx_internal.h"

#define FAIL(...) return ox_fail(c, RS_ERR_UNSUPPORTED, __VA_ARGS__)
#define BAD(...) return ox_fail(c, RS_ERR_FORMAT, __VA_ARGS__)


/* The two tables of a gather node for `per` output elements per sample: which input, and which element of it. */
static rs_status gather_tables(ox_ctx *c, int64_t per, int32_t **which, int64_t **src) {
    *which = rs_calloc(sizeof(int32_t) * (size_t)per);
    *src = rs_calloc(sizeof(int64_t) * (size_t)per);
    if (*which && *src) return RS_OK;
    rs_free(*which), rs_free(*src);
    return ox_fail(c, RS_ERR_NOMEM, "out of memory");
}

static rs_status axis_of(ox_ctx *c, int64_t a, int32_t rank, int32_t *out) {
    if (a < 0) a += rank;
    if (a < 0 || a >= rank) return ox_fail(c, RS_ERR_FORMAT, "axis %lld out of range for rank %d", (long long)a, rank);
    *out = (int32_t)a;
    return RS_OK;
}

/* (h, w, c) of a node value of logical dims (rank r). */
static void hwc(int32_t r, const int64_t *d, int32_t *h, int32_t *w, int32_t *ch) {
    *ch = r > 1 ? (int32_t)d[1] : 1;
    *h = r > 3 ? (int32_t)d[2] : 1;
    *w = r > 3 ? (int32_t)d[3] : r > 2 ? (int32_t)d[2] : 1;
}

/* ---------------------------------------------------------------- Gemm */
rs_status ox_op_gemm(ox_ctx *c) {
    static const char *const at[] = {"alpha", "beta", "transA", "transB", "broadcast", NULL};
    RS_TRY(ox_check_attrs(c, at));
    ox_value *a, *B, *C = ox_input(c, 2);
    RS_TRY(ox_need_node(c, 0, &a));
    RS_TRY(ox_need_const(c, 1, &B));
    if (C && C->node >= 0) FAIL("a computed C is not supported");
    if (ox_attr_int(c->cur, "transA", 0))
        FAIL("transA 1 makes the batch the summed axis of A^T B (every output mixes all samples): a per-sample net "
             "cannot express it");
    if (a->rank != 2 || B->rank != 2) FAIL("A of rank %d and B of rank %d (2 and 2 supported)", a->rank, B->rank);
    int tb = ox_attr_int(c->cur, "transB", 0) != 0;
    float alpha = ox_attr_float(c->cur, "alpha", 1), beta = ox_attr_float(c->cur, "beta", 1);
    int64_t K = tb ? B->dims[1] : B->dims[0], N = tb ? B->dims[0] : B->dims[1];
    if (K != a->dims[1] || N < 1 || N > (1 << 24)) BAD("B of %lldx%lld for A with %lld columns", (long long)B->dims[0],
                                                    (long long)B->dims[1], (long long)a->dims[1]);
    int32_t wp = ox_param(c, B, RS_PARAM_TRAINABLE, 0);
    if (wp < 0) BAD("B cannot be a parameter (%s)", c->net->error);
    int simple_c = C && beta == 1 && C->numel == N && (C->rank == 1 || (C->rank == 2 && C->dims[0] == 1));
    int64_t dims[2] = {-1, N};
    if (alpha == 1 && (!C || simple_c)) {
        int32_t bp = C ? ox_param(c, C, RS_PARAM_TRAINABLE, N) : -2;
        if (C && bp < 0) BAD("C cannot be a bias (%s)", c->net->error);
        int32_t i = tb ? rs_net_linear_ex(c->net, c->cur_name, a->node, (int32_t)N, wp, bp)
                       : rs_net_matmul(c->net, c->cur_name, a->node, (int32_t)N, wp, bp);
        return ox_set_node(c, i, 2, dims);
    }
    char tmp[RS_NAME_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s#gemm", c->cur_name);
    int32_t lin = tb ? rs_net_linear_ex(c->net, tmp, a->node, (int32_t)N, wp, -2)
                     : rs_net_matmul(c->net, tmp, a->node, (int32_t)N, wp, -2);
    if (lin < 0) return ox_set_node(c, lin, 0, NULL);
    ox_value lv = {.name = tmp, .node = lin, .rank = 2, .dims = {-1, N}, .param = -1};
    if (C) return ox_binary(c, RS_BIN_ADD, &lv, C, alpha, beta);
    return ox_set_node(c, rs_net_scale(c->net, c->cur_name, lin, alpha), 2, dims);
}

/* ---------------------------------------------------------------- Flatten, Reshape */
rs_status ox_op_flatten(ox_ctx *c) {
    static const char *const at[] = {"axis", NULL};
    RS_TRY(ox_check_attrs(c, at));
    ox_value *x;
    RS_TRY(ox_need_node(c, 0, &x));
    int32_t ax = 0;
    int64_t a = ox_attr_int(c->cur, "axis", 1);
    if (a == x->rank) FAIL("axis %lld folds the batch into the features: not supported", (long long)a);
    RS_TRY(axis_of(c, a, x->rank, &ax));
    if (ax != 1) FAIL("axis %lld mixes the batch dimension: only axis 1 is supported", (long long)a);
    int64_t dims[2] = {-1, ox_sample_numel(x->rank, x->dims)};
    return ox_set_node(c, rs_net_flatten(c->net, c->cur_name, x->node), 2, dims);
}

/* A gather node from one source x to the logical dims out (rank ro): element j of the output in logical order is
 * element src_of[j] of x in logical order (-1: fill). */
static rs_status gather_from(ox_ctx *c, const ox_value *const *xs, int32_t nx, int32_t ro, const int64_t *out,
                             const int32_t *which_l, const int64_t *src_l, float fill) {
    int64_t per = ox_sample_numel(ro, out);
    int64_t *to = rs_calloc(sizeof(int64_t) * (size_t)(2 * per + 1));
    int32_t *which = rs_calloc(sizeof(int32_t) * (size_t)(per + 1));
    int64_t *tx = NULL;
    rs_status s = to && which ? RS_OK : ox_fail(c, RS_ERR_NOMEM, "out of memory");
    int64_t *off = to ? to + per : NULL;
    if (!s) ox_phys_table(ro, out, to);
    for (int32_t k = 0; !s && k < nx; k++) { /* source k's logical -> physical offsets */
        rs_free(tx);
        int64_t nk = ox_sample_numel(xs[k]->rank, xs[k]->dims);
        tx = rs_calloc(sizeof(int64_t) * (size_t)(nk + 1));
        if (!tx) {
            s = ox_fail(c, RS_ERR_NOMEM, "out of memory");
            break;
        }
        ox_phys_table(xs[k]->rank, xs[k]->dims, tx);
        for (int64_t j = 0; j < per; j++)
            if (which_l[j] == k) which[to[j]] = k, off[to[j]] = tx[src_l[j]];
    }
    for (int64_t j = 0; !s && j < per; j++)
        if (which_l[j] < 0) which[to[j]] = -1, off[to[j]] = 0;
    int32_t srcs[RS_EXT_MAX_IN], h, w, ch;
    for (int32_t k = 0; k < nx; k++) srcs[k] = xs[k]->node;
    hwc(ro, out, &h, &w, &ch);
    int32_t i = s ? -1 : rs_net_gather(c->net, c->cur_name, nx, srcs, h, w, ch, which, off, fill);
    rs_free(tx), rs_free(to), rs_free(which);
    RS_TRY(s);
    return ox_set_node(c, i, ro, out);
}

rs_status ox_op_reshape(ox_ctx *c) {
    static const char *const at[] = {"allowzero", NULL};
    RS_TRY(ox_check_attrs(c, at));
    ox_value *x, *sh;
    RS_TRY(ox_need_node(c, 0, &x));
    RS_TRY(ox_need_const(c, 1, &sh));
    if (sh->rank != 1 || sh->numel < 1 || sh->numel > 4) FAIL("a target shape of %lld dimensions (1 to 4)", (long long)sh->numel);
    int32_t ro = (int32_t)sh->numel;
    int64_t out[4] = {-1, 1, 1, 1}, per = ox_sample_numel(x->rank, x->dims), known = 1;
    int infer = -1, allowzero = ox_attr_int(c->cur, "allowzero", 0) != 0;
    double s0 = sh->v[0];
    for (int32_t i = 1; i < ro; i++) {
        double v = sh->v[i];
        if (v == 0 && !allowzero && i < x->rank) out[i] = x->dims[i];
        else if (v == -1 && infer < 0) infer = i;
        else if (v >= 1 && v <= OX_MAX_NUMEL && v == floor(v)) out[i] = (int64_t)v;
        else BAD("target dimension %d is %g", i, v);
        if (i != infer) known *= out[i];
    }
    /* NaN: the batch size itself, from a folded Shape of a computed value (onnx_fold.c) */
    int batch_ok = (s0 == 0 && !allowzero) || (s0 > 0 && s0 == (double)c->batch0) || (s0 == -1 && infer < 0) ||
                   isnan(s0);
    if (!batch_ok) FAIL("target shape starts with %g: reshaping the batch dimension is not supported", s0);
    if (infer > 0) {
        if (per % known) BAD("cannot infer dimension %d", infer);
        out[infer] = per / known;
    }
    if (ox_sample_numel(ro, out) != per) BAD("%lld values per sample cannot take the target shape", (long long)per);
    if (ro == 2 && x->rank > 2) return ox_set_node(c, rs_net_flatten(c->net, c->cur_name, x->node), 2, out);
    int32_t *which;
    int64_t *src;
    RS_TRY(gather_tables(c, per, &which, &src));
    for (int64_t j = 0; j < per; j++) src[j] = j;
    const ox_value *xs[1] = {x};
    rs_status s = gather_from(c, xs, 1, ro, out, which, src, 0);
    rs_free(which), rs_free(src);
    return s;
}

/* ---------------------------------------------------------------- Concat, Pad */
/* Splits logical per-sample index j of dims (rank r) into per-axis indices q[1..r). */
static void unravel(int64_t j, int32_t r, const int64_t *dims, int64_t *q) {
    for (int32_t i = r - 1; i >= 1; i--) q[i] = j % dims[i], j /= dims[i];
}
static int64_t ravel(int32_t r, const int64_t *dims, const int64_t *q) {
    int64_t j = 0;
    for (int32_t i = 1; i < r; i++) j = j * dims[i] + q[i];
    return j;
}

/* The gather node `name` (one input x of rank r; output dims od; which/src from gather_tables, freed here; fill
 * for the positions with which = -1), then *out = its value. */
static rs_status gather_named(ox_ctx *c, ox_value *x, int32_t r, const int64_t *od, int32_t *which, int64_t *src,
                              float fill, const char *name, ox_value **out) {
    const ox_value *xs[1] = {x};
    const char *keep = c->cur_name;
    c->cur_name = name;
    rs_status s = gather_from(c, xs, 1, r, od, which, src, fill);
    c->cur_name = keep;
    rs_free(which), rs_free(src);
    RS_TRY(s);
    *out = ox_find(c, name);
    return RS_OK;
}

/* x padded on axes 1..r-1 (pads: the begin pad of each axis, [0] unused) to the dims od: a gather node named name
 * whose padding is value or (replicate) a copy of the nearest element of x; *out is its value. */
static rs_status pad_gather(ox_ctx *c, ox_value *x, const int64_t *pads, const int64_t *od, int replicate, float value,
                            const char *name, ox_value **out) {
    int32_t r = x->rank;
    int64_t per = ox_sample_numel(r, od);
    if (per > OX_MAX_NUMEL) BAD("padded result too large");
    int32_t *which;
    int64_t *src;
    RS_TRY(gather_tables(c, per, &which, &src));
    for (int64_t j = 0; j < per; j++) {
        int64_t q[4];
        unravel(j, r, od, q);
        int inside = 1;
        for (int32_t i = 1; i < r; i++) {
            q[i] -= pads[i];
            if (replicate) q[i] = q[i] < 0 ? 0 : q[i] >= x->dims[i] ? x->dims[i] - 1 : q[i];
            inside &= q[i] >= 0 && q[i] < x->dims[i];
        }
        which[j] = inside ? 0 : -1, src[j] = inside ? ravel(r, x->dims, q) : 0;
    }
    return gather_named(c, x, r, od, which, src, value, name, out);
}


rs_status ox_op_concat(ox_ctx *c) {
    static const char *const at[] = {"axis", NULL};
    RS_TRY(ox_check_attrs(c, at));
    int32_t nx = (int32_t)c->cur->n_input, ax = 0;
    if (nx < 1 || nx > RS_EXT_MAX_IN) FAIL("%d inputs (1 to %d supported)", nx, RS_EXT_MAX_IN);
    ox_value *xs[RS_EXT_MAX_IN], made[RS_EXT_MAX_IN];
    int32_t r = 0;
    for (int32_t k = 0; k < nx; k++) {
        xs[k] = ox_input(c, (size_t)k);
        if (!xs[k]) BAD("input %d is missing", k);
        if (xs[k]->node >= 0 && !r) r = xs[k]->rank;
    }
    if (!r) FAIL("every input is a constant");
    for (int32_t k = 0; k < nx; k++) /* constants become constant nodes */
        if (xs[k]->node < 0) {
            RS_TRY(ox_const_node(c, xs[k], r, &made[k]));
            xs[k] = &made[k];
        }
    if (!ox_attr(c->cur, "axis")) BAD("the axis attribute is missing");
    RS_TRY(axis_of(c, ox_attr_int(c->cur, "axis", 0), r, &ax));
    if (ax == 0) FAIL("concatenation along the batch dimension is not supported");
    int64_t out[4] = {-1, 1, 1, 1}, start[RS_EXT_MAX_IN + 1];
    memcpy(out, xs[0]->dims, sizeof(int64_t) * (size_t)r);
    out[ax] = 0;
    for (int32_t k = 0; k < nx; k++) {
        if (xs[k]->rank != r) BAD("inputs of different ranks");
        for (int32_t i = 1; i < r; i++)
            if (i != ax && xs[k]->dims[i] != out[i]) BAD("input %d does not match the others", k);
        start[k] = out[ax];
        out[ax] += xs[k]->dims[ax];
    }
    start[nx] = out[ax];
    int64_t per = ox_sample_numel(r, out);
    if (per > OX_MAX_NUMEL) BAD("result too large");
    int32_t *which;
    int64_t *src;
    RS_TRY(gather_tables(c, per, &which, &src));
    for (int64_t j = 0; j < per; j++) {
        int64_t q[4];
        unravel(j, r, out, q);
        int32_t k = 0;
        while (q[ax] >= start[k + 1]) k++;
        q[ax] -= start[k];
        which[j] = k, src[j] = ravel(r, xs[k]->dims, q);
    }
    rs_status s = gather_from(c, (const ox_value *const *)xs, nx, r, out, which, src, 0);
    rs_free(which), rs_free(src);
    return s;
}

rs_status ox_op_pad(ox_ctx *c) {
    static const char *const at_old[] = {"mode", "pads", "value", NULL};
    static const char *const at_new[] = {"mode", NULL};
    RS_TRY(ox_check_attrs(c, c->opset < 11 ? at_old : at_new));
    char buf[32];
    const char *mode = ox_attr_string(c->cur, "mode", buf, sizeof buf, "constant");
    if (strcmp(mode, "constant")) FAIL("mode '%s' is not supported (constant only)", mode);
    ox_value *x, *pv = NULL, *cv = NULL;
    RS_TRY(ox_need_node(c, 0, &x));
    int32_t r = x->rank;
    int64_t pads[8];
    float value = 0;
    if (c->opset < 11) {
        if (ox_attr_ints(c->cur, "pads", pads, 8) != 2 * r) BAD("pads must have %d values", 2 * r);
        value = ox_attr_float(c->cur, "value", 0);
    } else {
        RS_TRY(ox_need_const(c, 1, &pv));
        if (pv->numel != 2 * r || pv->rank != 1) BAD("pads must have %d values", 2 * r);
        for (int32_t i = 0; i < 2 * r; i++) {
            if (!(pv->v[i] == floor(pv->v[i])) || fabs(pv->v[i]) > 4096) BAD("pad %g", pv->v[i]);
            pads[i] = (int64_t)pv->v[i];
        }
        if (ox_input(c, 3)) FAIL("the axes input is not supported");
        if (ox_input(c, 2)) {
            RS_TRY(ox_need_const(c, 2, &cv));
            if (cv->numel != 1) BAD("constant_value must be a scalar");
            value = (float)cv->v[0];
        }
    }
    if (pads[0] || pads[r]) FAIL("padding the batch dimension is not supported");
    int64_t out[4] = {-1, 1, 1, 1};
    for (int32_t i = 1; i < r; i++) {
        if (pads[i] < 0 || pads[i + r] < 0 || pads[i] > 4096 || pads[i + r] > 4096)
            FAIL("negative or huge pads are not supported");
        out[i] = x->dims[i] + pads[i] + pads[i + r];
    }
    if (r == 4 && value == 0 && !pads[1] && !pads[1 + r])
        return ox_set_node(c, rs_net_zeropad(c->net, c->cur_name, x->node, (int32_t)pads[2], (int32_t)pads[2 + r],
                                             (int32_t)pads[3], (int32_t)pads[3 + r]), r, out);
    ox_value *v;
    return pad_gather(c, x, pads, out, 0, value, c->cur_name, &v);
}


/* The spatial axes of node x (rank 3 or 4) padded by pb / pe (per spatial axis): a gather node named name, the
 * padding zeros or (replicate) a copy of the nearest element of x; *out is its value (pointer into the table). */
rs_status ox_pad_spatial(ox_ctx *c, ox_value *x, const int64_t *pb, const int64_t *pe, int replicate, const char *name,
                         ox_value **out) {
    int32_t r = x->rank;
    int64_t od[4] = {-1, x->dims[1], 1, 1}, pads[4] = {0, 0, 0, 0};
    for (int32_t i = 2; i < r; i++) pads[i] = pb[i - 2], od[i] = x->dims[i] + pb[i - 2] + pe[i - 2];
    return pad_gather(c, x, pads, od, replicate, 0.0f, name, out);
}

/* The windows of node x (rank 3 or 4) laid side by side: a gather node named name of spatial size (o[i] k[i]),
 * whose element (q k + t) on axis i is x at q s + t d - pb on that axis (kernel k, stride s, dilation d, pads
 * begin pb). A position in the padding is zero, or (same_window) a copy of the first position of the same window
 * that is inside x (for a max, which it then does not change). A kernel-k stride-k op over it is the windowed op
 * over x with dilation d. The caller makes sure every window holds a position inside x when same_window is set. */
rs_status ox_windows(ox_ctx *c, ox_value *x, const int64_t *k, const int64_t *st, const int64_t *d, const int64_t *pb,
                     const int64_t *o, int same_window, const char *name, ox_value **out) {
    int32_t r = x->rank;
    int64_t od[4] = {-1, x->dims[1], 1, 1}, xd[4];
    memcpy(xd, x->dims, sizeof(int64_t) * (size_t)r);
    for (int32_t i = 2; i < r; i++) od[i] = o[i - 2] * k[i - 2];
    int64_t per = ox_sample_numel(r, od);
    if (per > OX_MAX_NUMEL) BAD("the windows of the input are too large (%lld values per sample)", (long long)per);
    int32_t *which;
    int64_t *src;
    RS_TRY(gather_tables(c, per, &which, &src));
    for (int64_t j = 0; j < per; j++) {
        int64_t q[4];
        unravel(j, r, od, q);
        int inside = 1;
        for (int32_t i = 2; i < r; i++) {
            int64_t w = q[i] / k[i - 2], t = q[i] % k[i - 2], a = w * st[i - 2] - pb[i - 2];
            q[i] = a + t * d[i - 2];
            if (same_window && (q[i] < 0 || q[i] >= xd[i])) { /* the window's first tap inside x */
                int64_t t0 = a >= 0 ? 0 : (-a + d[i - 2] - 1) / d[i - 2];
                q[i] = a + t0 * d[i - 2];
            }
            inside &= q[i] >= 0 && q[i] < xd[i];
        }
        which[j] = inside ? 0 : -1, src[j] = inside ? ravel(r, xd, q) : 0;
    }
    return gather_named(c, x, r, od, which, src, 0.0f, name, out);
}

/* Slice with constant starts / ends / axes / steps (inputs from opset 10, attributes before); the batch axis must
 * be kept whole. */
rs_status ox_op_slice(ox_ctx *c) {
    static const char *const at_old[] = {"starts", "ends", "axes", NULL};
    RS_TRY(ox_check_attrs(c, c->opset < 10 ? at_old : NULL));
    ox_value *x;
    RS_TRY(ox_need_node(c, 0, &x));
    int32_t r = x->rank, n = 0;
    double st[4], en[4], ax[4] = {0, 1, 2, 3}, sp[4] = {1, 1, 1, 1};
    if (c->opset < 10) {
        int64_t a[4], b[4], e[4];
        n = ox_attr_ints(c->cur, "starts", a, 4);
        if (n < 1 || ox_attr_ints(c->cur, "ends", e, 4) != n) BAD("starts and ends must have the same length");
        int32_t na = ox_attr_ints(c->cur, "axes", b, 4);
        if (na && na != n) BAD("axes has the wrong length");
        for (int32_t i = 0; i < n; i++) st[i] = (double)a[i], en[i] = (double)e[i], ax[i] = na ? (double)b[i] : i;
    } else {
        ox_value *v[5] = {NULL};
        for (int k = 1; k < 5; k++) {
            v[k] = ox_input(c, (size_t)k);
            if (k <= 2 && !v[k]) BAD("input %d is missing", k);
            if (v[k] && (v[k]->node >= 0 || v[k]->rank != 1)) FAIL("input %d must be a 1-D constant", k);
        }
        n = (int32_t)v[1]->numel;
        if (n < 1 || n > r || v[2]->numel != n || (v[3] && v[3]->numel != n) || (v[4] && v[4]->numel != n))
            BAD("starts, ends, axes and steps must have the same length, at most the rank");
        for (int32_t i = 0; i < n; i++) {
            st[i] = v[1]->v[i], en[i] = v[2]->v[i];
            if (v[3]) ax[i] = v[3]->v[i];
            if (v[4]) sp[i] = v[4]->v[i];
        }
    }
    int64_t out[4] = {-1, 1, 1, 1}, first[4] = {0}, step[4] = {1, 1, 1, 1};
    memcpy(out + 1, x->dims + 1, sizeof(int64_t) * (size_t)(r - 1));
    for (int32_t i = 0; i < n; i++) {
        int32_t a = 0;
        if (!(ax[i] == floor(ax[i])) || fabs(ax[i]) > 8) BAD("axis %g", ax[i]);
        RS_TRY(axis_of(c, (int64_t)ax[i], r, &a));
        double dim = a == 0 ? 0 : (double)x->dims[a], s = sp[i], b = st[i], e = en[i];
        if (a == 0) {
            if (b == 0 && s == 1 && e >= 9.2e18) continue;
            FAIL("slicing the batch dimension is not supported");
        }
        if (s == 0 || !(fabs(s) <= 4096) || s != floor(s)) BAD("step %g", s);
        if (isnan(b) || isnan(e)) BAD("a start or end is not a number (or depends on the batch size)");
        b = b < 0 ? b + dim : b, e = e < 0 ? e + dim : e;
        if (s > 0) b = b < 0 ? 0 : b > dim ? dim : b, e = e < 0 ? 0 : e > dim ? dim : e;
        else b = b < 0 ? 0 : b > dim - 1 ? dim - 1 : b, e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
        double cnt = s > 0 ? ceil((e - b) / s) : ceil((b - e) / -s);
        if (cnt < 1) FAIL("an empty slice is not supported");
        out[a] = (int64_t)cnt, first[a] = (int64_t)b, step[a] = (int64_t)s;
    }
    int64_t per = ox_sample_numel(r, out);
    int32_t *which;
    int64_t *src;
    RS_TRY(gather_tables(c, per, &which, &src));
    for (int64_t j = 0; j < per; j++) {
        int64_t q[4];
        unravel(j, r, out, q);
        for (int32_t i = 1; i < r; i++) q[i] = first[i] + q[i] * step[i];
        src[j] = ravel(r, x->dims, q);
    }
    const ox_value *xs[1] = {x};
    rs_status s = gather_from(c, xs, 1, r, out, which, src, 0);
    rs_free(which), rs_free(src);
    return s;
}

/* ---------------------------------------------------------------- Softmax */
rs_status ox_op_softmax(ox_ctx *c) {
    static const char *const at[] = {"axis", NULL};
    RS_TRY(ox_check_attrs(c, at));
    ox_value *x;
    RS_TRY(ox_need_node(c, 0, &x));
    int32_t r = x->rank, ax = 0;
    RS_TRY(axis_of(c, ox_attr_int(c->cur, "axis", c->opset < 13 ? 1 : -1), r, &ax));
    if (ax == 0) FAIL("softmax over the batch dimension is not supported");
    /* opset < 13: over all axes from ax on (the input coerced to 2-D); from 13: over axis ax alone */
    int64_t per = ox_sample_numel(r, x->dims), len = 1;
    for (int32_t i = ax; i < (c->opset < 13 ? r : ax + 1); i++) len *= x->dims[i];
    int64_t *tab = rs_calloc(sizeof(int64_t) * (size_t)(2 * per + 1));
    if (!tab) return ox_fail(c, RS_ERR_NOMEM, "out of memory");
    int64_t *phys = tab + per;
    ox_phys_table(r, x->dims, phys);
    for (int64_t j = 0; j < per; j++) {
        int64_t q[4], g = 0, l = 0;
        unravel(j, r, x->dims, q);
        for (int32_t i = 1; i < r; i++) {
            int inner = c->opset < 13 ? i >= ax : i == ax;
            if (inner) l = l * x->dims[i] + q[i];
            else g = g * x->dims[i] + q[i];
        }
        tab[g * len + l] = phys[j];
    }
    int32_t i = rs_net_softmax(c->net, c->cur_name, x->node, per / len, len, tab);
    rs_free(tab);
    return ox_set_node(c, i, r, x->dims);
}

/* ---------------------------------------------------------------- Identity, Dropout, Constant */
static rs_status copy_const(ox_ctx *c, const ox_value *from) {
    const ox_value copy = *from, *src = &copy; /* ox_add may move the table `from` points into */
    ox_value *v = ox_add(c, c->cur_name);
    if (!v) return ox_fail(c, RS_ERR_NOMEM, "out of memory");
    const char *name = v->name;
    *v = *src;
    v->name = name, v->param = -1;
    v->v = rs_calloc(sizeof(double) * (size_t)(src->numel ? src->numel : 1));
    if (!v->v) return ox_fail(c, RS_ERR_NOMEM, "out of memory");
    memcpy(v->v, src->v, sizeof(double) * (size_t)src->numel);
    return RS_OK;
}

rs_status ox_op_identity(ox_ctx *c) {
    RS_TRY(ox_check_attrs(c, NULL));
    ox_value *x = ox_input(c, 0);
    if (!x) BAD("input 0 is missing");
    if (x->node < 0) return copy_const(c, x);
    return ox_set_node(c, rs_net_dropout(c->net, c->cur_name, x->node, 0), x->rank, x->dims);
}

rs_status ox_op_dropout(ox_ctx *c) {
    static const char *const at[] = {"ratio", "is_test", "seed", NULL};
    RS_TRY(ox_check_attrs(c, at));
    ox_value *x, *rv = ox_input(c, 1), *tm = ox_input(c, 2);
    RS_TRY(ox_need_node(c, 0, &x));
    float ratio = ox_attr_float(c->cur, "ratio", 0.5f);
    if (rv) {
        if (rv->node >= 0 || rv->numel != 1) FAIL("a computed or non-scalar ratio");
        ratio = (float)rv->v[0];
    }
    if (tm && (tm->node >= 0 || tm->numel != 1 || tm->v[0] != 0)) FAIL("training_mode is not supported (inference)");
    if (!(ratio >= 0 && ratio < 1)) BAD("ratio %g outside [0, 1)", ratio);
    return ox_set_node(c, rs_net_dropout(c->net, c->cur_name, x->node, ratio), x->rank, x->dims);
}

rs_status ox_op_constant(ox_ctx *c) {
    static const char *const at[] = {"value", NULL};
    RS_TRY(ox_check_attrs(c, at));
    const Onnx__AttributeProto *a = ox_attr(c->cur, "value");
    if (!a || !a->t) FAIL("a Constant without a tensor 'value' is not supported");
    ox_value *v = ox_add(c, c->cur_name);
    if (!v) return ox_fail(c, RS_ERR_NOMEM, "out of memory");
    rs_status s = ox_tensor_values(a->t, c->dir, &v->rank, v->dims, &v->v, &v->numel);
    if (s) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", rs_last_error());
        return ox_fail(c, s, "%s", msg);
    }
    return RS_OK;
}
#endif
