/* onnx_ops.c: one handler per supported ONNX operator, mapping it onto relstab's ops (conv2d, linear, pools,
 * batch norm, activations, flatten, zeropad, dropout) or onto the graph-import ops of nn_ext.h (gather for
 * Reshape / Concat / Pad, softmax, binary for broadcasting Add / Mul / Gemm's alpha and beta). Each handler checks
 * its attributes against a whitelist and refuses any value it does not implement exactly (dilations, ceil mode,
 * transposes of the batch dimension, ...). The batch is the first dimension of every node value. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "relstab/onnx.h"

#ifdef RELSTAB_HAVE_ONNX
#include "onnx/onnx_internal.h"

#define FAIL(...) return ox_fail(c, RS_ERR_UNSUPPORTED, __VA_ARGS__)
#define BAD(...) return ox_fail(c, RS_ERR_FORMAT, __VA_ARGS__)


static int64_t *alloc_i64(ox_ctx *c, int64_t n) { return rs_calloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1)); }

/* ---------------------------------------------------------------- Conv, pools */
typedef struct {
    int32_t sp;                          /* spatial dims: 1 or 2 */
    int64_t k[2], s[2], pb[2], pe[2];    /* kernel, strides, pads begin / end */
    int64_t d[2];                        /* dilations */
    int dilated;                         /* some dilation above 1 */
} window;

static rs_status read_window(ox_ctx *c, const ox_value *x, const int64_t *kernel, window *w) {
    w->sp = x->rank - 2;
    if (w->sp < 1 || w->sp > 2) FAIL("a rank-%d input (3 or 4 supported)", x->rank);
    int64_t v[4];
    int32_t n = ox_attr_ints(c->cur, "kernel_shape", v, 2);
    if (n < 0 || (n == 0 && !kernel) || (n > 0 && n != w->sp)) BAD("kernel_shape has the wrong length");
    for (int i = 0; i < w->sp; i++) {
        w->k[i] = n ? v[i] : kernel[i];
        if (kernel && w->k[i] != kernel[i]) BAD("kernel_shape does not match the weight");
        w->s[i] = 1, w->pb[i] = w->pe[i] = 0, w->d[i] = 1;
    }
    w->dilated = 0;
    n = ox_attr_ints(c->cur, "strides", v, 2);
    if (n < 0 || (n && n != w->sp)) BAD("strides has the wrong length");
    for (int i = 0; i < n; i++) w->s[i] = v[i];
    n = ox_attr_ints(c->cur, "dilations", v, 2);
    if (n < 0 || (n && n != w->sp)) BAD("dilations has the wrong length");
    for (int i = 0; i < n; i++) {
        if (v[i] < 1 || v[i] > 4096) BAD("dilation %lld out of range", (long long)v[i]);
        w->d[i] = v[i], w->dilated |= v[i] > 1;
    }
    n = ox_attr_ints(c->cur, "pads", v, 4);
    if (n < 0 || (n && n != 2 * w->sp)) BAD("pads has the wrong length");
    for (int i = 0; i < n / 2; i++) w->pb[i] = v[i], w->pe[i] = v[i + w->sp];
    char buf[32];
    const char *ap = ox_attr_string(c->cur, "auto_pad", buf, sizeof buf, "NOTSET");
    for (int i = 0; i < w->sp; i++) {
        if (w->k[i] < 1 || w->k[i] > 4096 || w->s[i] < 1 || w->s[i] > 4096 || w->pb[i] < 0 || w->pe[i] < 0 ||
            w->pb[i] > 4096 || w->pe[i] > 4096)
            BAD("kernel, strides or pads out of range");
        int64_t in = x->dims[2 + i];
        if (!strcmp(ap, "VALID")) w->pb[i] = w->pe[i] = 0;
        else if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            int64_t ke = (w->k[i] - 1) * w->d[i] + 1;
            int64_t out = (in + w->s[i] - 1) / w->s[i], tot = (out - 1) * w->s[i] + ke - in;
            tot = tot < 0 ? 0 : tot;
            w->pb[i] = ap[5] == 'U' ? tot / 2 : tot - tot / 2;
            w->pe[i] = tot - w->pb[i];
        } else if (strcmp(ap, "NOTSET")) FAIL("auto_pad '%s' is not supported", ap);
    }
    return RS_OK;
}

/* Output size along each axis of a window op with dilation (effective kernel (k - 1) d + 1), floor or ceil. */
static rs_status window_out(ox_ctx *c, const ox_value *x, const window *w, int ceil, int64_t *o) {
    for (int i = 0; i < w->sp; i++) {
        int64_t in = x->dims[2 + i], ke = (w->k[i] - 1) * w->d[i] + 1, tot = in + w->pb[i] + w->pe[i];
        if (tot < ke) BAD("the (dilated) kernel is larger than the padded input");
        o[i] = ceil ? (tot - ke + w->s[i] - 1) / w->s[i] + 1 : (tot - ke) / w->s[i] + 1;
        if (ceil && (o[i] - 1) * w->s[i] >= in + w->pb[i]) o[i]--; /* no window starting in the end padding */
    }
    if (w->sp == 1) o[1] = 1;
    return RS_OK;
}

/* A dilated Conv: the input's dilated windows side by side ('<name>#windows', zero padding), which a conv of the
 * same weights with stride = kernel and no padding turns into the dilated convolution (exact: the same products,
 * summed by the same conv kernels). *xn becomes that node, t its stride and pads. */
static rs_status dilated_input(ox_ctx *c, ox_value *x, const window *w, rs_conv2d_dims *t, int32_t *xn) {
    int64_t o[2];
    RS_TRY(window_out(c, x, w, 0, o));
    char tw[RS_NAME_MAX + 16];
    snprintf(tw, sizeof tw, "%s#windows", c->cur_name);
    ox_value *z;
    RS_TRY(ox_windows(c, x, w->k, w->s, w->d, w->pb, o, 0, tw, &z));
    *xn = z->node;
    t->stride_h = (int32_t)(w->sp == 2 ? w->k[0] : 1), t->stride_w = (int32_t)w->k[w->sp - 1];
    t->pad_top = t->pad_bottom = t->pad_left = t->pad_right = 0;
    return RS_OK;
}

/* A dilated MaxPool: the dilated windows side by side ('<name>#windows'; a padded position holds a copy of a
 * position of its own window inside the input), then a max pool of stride = kernel. */
static rs_status maxpool_dilated(ox_ctx *c, ox_value *x, const window *w, int ceil) {
    int64_t o[2], zero[2] = {0, 0};
    RS_TRY(window_out(c, x, w, ceil, o));
    for (int i = 0; i < w->sp; i++)
        for (int64_t j = 0; j < o[i]; j++) { /* every window must hold a position of the input */
            int64_t a = j * w->s[i] - w->pb[i], t0 = a >= 0 ? 0 : (-a + w->d[i] - 1) / w->d[i];
            if (t0 >= w->k[i] || a + t0 * w->d[i] >= x->dims[2 + i])
                FAIL("a pooling window lies entirely in the padding");
        }
    int32_t rank = x->rank;
    char tw[RS_NAME_MAX + 16];
    snprintf(tw, sizeof tw, "%s#windows", c->cur_name);
    ox_value *z;
    RS_TRY(ox_windows(c, x, w->k, w->s, w->d, w->pb, o, 1, tw, &z));
    window u = *w; /* kernel k, stride k, no padding over the windows */
    for (int i = 0; i < w->sp; i++) u.s[i] = u.k[i];
    int32_t i = rs_net_maxpool(c->net, c->cur_name, z->node, 1, 1, 0);
    if (i < 0) return ox_set_node(c, i, 0, NULL);
    rs_node *d = &c->net->nodes[i];
    rs_pool2d_dims p = d->pool;
    p.kh = w->sp == 2 ? (int32_t)u.k[0] : 1, p.kw = (int32_t)u.k[w->sp - 1];
    p.stride_h = w->sp == 2 ? (int32_t)u.s[0] : 1, p.stride_w = (int32_t)u.s[w->sp - 1];
    p.pad_h = (int32_t)zero[0], p.pad_w = (int32_t)zero[1];
    if (rs_pool2d_dims_finish(&p) != RS_OK) BAD("%s", rs_last_error());
    d->pool = p, d->h = p.h_out, d->w = p.w_out;
    int64_t dims[4] = {-1, d->c, o[0], o[1]};
    return ox_set_node(c, i, rank, dims);
}

static rs_status op_conv(ox_ctx *c) {
    static const char *const at[] = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", NULL};
    RS_TRY(ox_check_attrs(c, at));
    ox_value *x, *W, *B = ox_input(c, 2);
    RS_TRY(ox_need_node(c, 0, &x));
    RS_TRY(ox_need_const(c, 1, &W));
    if (B && B->node >= 0) FAIL("a computed bias is not supported");
    if (W->rank != x->rank) BAD("weight of rank %d for an input of rank %d", W->rank, x->rank);
    window w;
    RS_TRY(read_window(c, x, W->dims + 2, &w));
    int64_t g = ox_attr_int(c->cur, "group", 1);
    if (g < 1 || g > x->dims[1]) BAD("group %lld", (long long)g);
    rs_conv2d_dims t = {0};
    t.c_out = (int32_t)W->dims[0];
    t.kh = w.sp == 2 ? (int32_t)w.k[0] : 1, t.kw = (int32_t)w.k[w.sp - 1];
    t.stride_h = w.sp == 2 ? (int32_t)w.s[0] : 1, t.stride_w = (int32_t)w.s[w.sp - 1];
    t.pad_top = w.sp == 2 ? (int32_t)w.pb[0] : 0, t.pad_bottom = w.sp == 2 ? (int32_t)w.pe[0] : 0;
    t.pad_left = (int32_t)w.pb[w.sp - 1], t.pad_right = (int32_t)w.pe[w.sp - 1];
    t.groups = (int32_t)g;
    t.pad_mode = RS_PAD_ZERO;
    if (W->dims[0] < 1 || W->dims[0] > (1 << 20) || W->dims[1] * g != x->dims[1])
        BAD("weight %lldx%lld does not fit %lld input channels in %lld groups", (long long)W->dims[0],
            (long long)W->dims[1], (long long)x->dims[1], (long long)g);
    int32_t wp = ox_param(c, W, RS_PARAM_TRAINABLE, 0), bp = -2;
    if (B) bp = ox_param(c, B, RS_PARAM_TRAINABLE, W->dims[0]);
    if (wp < 0 || (B && bp < 0)) BAD("weight or bias of the wrong shape (%s)", c->net->error);
    int32_t xn = x->node, rank = x->rank;
    if (w.dilated) RS_TRY(dilated_input(c, x, &w, &t, &xn)); /* moves the value table: x, W, B not used after */
    int32_t i = rs_net_conv2d_ex(c->net, c->cur_name, xn, &t, wp, bp);
    if (i < 0) return ox_set_node(c, i, 0, NULL);
    const rs_node *d = &c->net->nodes[i];
    int64_t dims[4] = {-1, d->c, w.sp == 2 ? d->h : d->w, d->w};
    return ox_set_node(c, i, rank, dims);
}

/* A pool node named name over node xn with window w and pads pad (per spatial axis). */
static rs_status pool_node(ox_ctx *c, int max, int32_t cip, const char *name, int32_t xn, const window *w,
                           const int64_t *pad, int32_t *i) {
    *i = max ? rs_net_maxpool(c->net, name, xn, 1, 1, 0) : rs_net_avgpool(c->net, name, xn, 1, 1, 0, cip);
    if (*i < 0) return ox_set_node(c, *i, 0, NULL);
    rs_node *d = &c->net->nodes[*i];
    rs_pool2d_dims p = d->pool;
    p.kh = w->sp == 2 ? (int32_t)w->k[0] : 1, p.kw = (int32_t)w->k[w->sp - 1];
    p.stride_h = w->sp == 2 ? (int32_t)w->s[0] : 1, p.stride_w = (int32_t)w->s[w->sp - 1];
    p.pad_h = w->sp == 2 ? (int32_t)pad[0] : 0, p.pad_w = (int32_t)pad[w->sp - 1];
    if (rs_pool2d_dims_finish(&p) != RS_OK) BAD("%s", rs_last_error());
    d->pool = p, d->h = p.h_out, d->w = p.w_out;
    return RS_OK;
}

/* Pools that relstab's pool ops do not take directly (ceil_mode, asymmetric pads, pads above half the kernel):
 * a pad node (gather; MaxPool: a copy of the nearest element, which every window that holds it also holds, so
 * the max is unchanged; AveragePool: zeros), the pool without padding, and for AveragePool a multiplication by
 * the constant (kernel size / elements counted) per output position, the count excluding the padding
 * (count_include_pad 0) or what lies beyond the explicit pads (ceil_mode's extra window part). Windows that lie
 * entirely in the padding are refused. Nodes '<name>#pad', '<name>#pool' (when the factor is needed), '<name>'. */
static rs_status pool_general(ox_ctx *c, int max, int32_t cip, int ceil, ox_value *x, const window *w) {
    int32_t r = x->rank, sp = w->sp;
    int64_t in[2], o[2], pe2[2], zero[2] = {0, 0};
    for (int i = 0; i < sp; i++) {
        in[i] = x->dims[2 + i];
        int64_t tot = in[i] + w->pb[i] + w->pe[i];
        if (tot < w->k[i]) BAD("the kernel is larger than the padded input");
        o[i] = ceil ? (tot - w->k[i] + w->s[i] - 1) / w->s[i] + 1 : (tot - w->k[i]) / w->s[i] + 1;
        if (ceil && (o[i] - 1) * w->s[i] >= in[i] + w->pb[i]) o[i]--; /* no window starting in the end padding */
        if (w->pb[i] >= w->k[i] || (o[i] - 1) * w->s[i] - w->pb[i] > in[i] - 1)
            FAIL("a pooling window lies entirely in the padding");
        int64_t need = (o[i] - 1) * w->s[i] + w->k[i] - in[i] - w->pb[i];
        pe2[i] = need > w->pe[i] ? need : w->pe[i];
    }
    char tp[RS_NAME_MAX + 8], tq[RS_NAME_MAX + 8];
    snprintf(tp, sizeof tp, "%s#pad", c->cur_name);
    snprintf(tq, sizeof tq, "%s#pool", c->cur_name);
    ox_value *xp;
    RS_TRY(ox_pad_spatial(c, x, w->pb, pe2, max, tp, &xp));
    int64_t dims[4] = {-1, x->dims[1], o[0], sp == 2 ? o[1] : 1};
    /* the factor kernel size / count per output position (1 everywhere: no multiplication) */
    int64_t nf = o[0] * (sp == 2 ? o[1] : 1), ktot = w->k[0] * (sp == 2 ? w->k[1] : 1);
    double *f = max ? NULL : rs_calloc(sizeof(double) * (size_t)nf);
    if (!max && !f) return ox_fail(c, RS_ERR_NOMEM, "out of memory");
    int ones = 1;
    for (int64_t j = 0; f && j < nf; j++) {
        int64_t q[2] = {sp == 2 ? j / o[1] : j, sp == 2 ? j % o[1] : 0}, cnt = 1;
        for (int i = 0; i < sp; i++) {
            int64_t a = q[i] * w->s[i] - w->pb[i], b = a + w->k[i];
            int64_t lo = cip ? -w->pb[i] : 0, hi = cip ? in[i] + w->pe[i] : in[i];
            cnt *= (b < hi ? b : hi) - (a > lo ? a : lo);
        }
        f[j] = (double)ktot / (double)cnt;
        ones &= f[j] == 1.0;
    }
    int32_t i;
    rs_status s = pool_node(c, max, 1, max || ones ? c->cur_name : tq, xp->node, w, zero, &i);
    if (s || max || ones) {
        rs_free(f);
        return s ? s : ox_set_node(c, i, r, dims);
    }
    char tf[RS_NAME_MAX + 16];
    snprintf(tf, sizeof tf, "%s#divisor", c->cur_name);
    ox_value *fv = ox_add(c, tf);
    if (!fv) {
        rs_free(f);
        return ox_fail(c, RS_ERR_NOMEM, "out of memory");
    }
    fv->v = f, fv->numel = nf, fv->rank = r - 1; /* (1, Ho, Wo) or (1, Lo): broadcast over the channels */
    fv->dims[0] = 1, fv->dims[1] = o[0], fv->dims[2] = o[1];
    if (ox_param(c, fv, RS_PARAM_BUFFER, 0) < 0) BAD("divisor: %s", c->net->error);
    ox_value pv = {.name = tq, .node = i, .rank = r, .dims = {-1, dims[1], dims[2], dims[3]}, .param = -1};
    return ox_binary(c, RS_BIN_MUL, &pv, fv, 1.0f, 1.0f);
}

static rs_status op_pool(ox_ctx *c, int max) {
    static const char *const amax[] = {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order",
                                       "strides", NULL};
    static const char *const aavg[] = {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads",
                                       "strides", NULL};
    RS_TRY(ox_check_attrs(c, max ? amax : aavg));
    ox_value *x;
    RS_TRY(ox_need_node(c, 0, &x));
    window w;
    RS_TRY(read_window(c, x, NULL, &w));
    int64_t ceil = ox_attr_int(c->cur, "ceil_mode", 0), cip = ox_attr_int(c->cur, "count_include_pad", 0);
    if (ceil != 0 && ceil != 1) BAD("ceil_mode %lld", (long long)ceil);
    if (cip != 0 && cip != 1) BAD("count_include_pad %lld", (long long)cip);
    if (ox_attr_int(c->cur, "storage_order", 0)) FAIL("storage_order 1 is not supported");
    if (w.dilated) return maxpool_dilated(c, x, &w, (int)ceil);
    int direct = !ceil; /* relstab's pools: symmetric pads of at most half the kernel */
    for (int i = 0; i < w.sp; i++) direct &= w.pb[i] == w.pe[i] && 2 * w.pb[i] <= w.k[i];
    if (!direct) return pool_general(c, max, (int32_t)cip, (int)ceil, x, &w);
    int32_t i;
    RS_TRY(pool_node(c, max, (int32_t)cip, c->cur_name, x->node, &w, w.pb, &i));
    const rs_node *d = &c->net->nodes[i];
    int64_t dims[4] = {-1, d->c, w.sp == 2 ? d->h : d->w, d->w};
    return ox_set_node(c, i, x->rank, dims);
}

static rs_status op_maxpool(ox_ctx *c) { return op_pool(c, 1); }
static rs_status op_avgpool(ox_ctx *c) { return op_pool(c, 0); }

static rs_status op_gap(ox_ctx *c) {
    RS_TRY(ox_check_attrs(c, NULL));
    ox_value *x;
    RS_TRY(ox_need_node(c, 0, &x));
    if (x->rank < 3) FAIL("a rank-%d input (3 or 4 supported)", x->rank);
    int32_t i = rs_net_adaptive_avgpool(c->net, c->cur_name, x->node, 1, 1);
    int64_t dims[4] = {-1, x->dims[1], 1, 1};
    return ox_set_node(c, i, x->rank, dims);
}

/* ---------------------------------------------------------------- BatchNormalization */
static rs_status op_bn(ox_ctx *c) {
    static const char *const at[] = {"epsilon", "momentum", "spatial", "is_test", "training_mode", NULL};
    RS_TRY(ox_check_attrs(c, at));
    if (ox_attr_int(c->cur, "spatial", 1) != 1) FAIL("spatial 0 is not supported");
    if (ox_attr_int(c->cur, "training_mode", 0)) FAIL("training_mode 1 is not supported (inference only)");
    if (c->opset < 7 && !ox_attr_int(c->cur, "is_test", 0)) FAIL("is_test 0 (training) is not supported");
    ox_value *x, *p[4];
    RS_TRY(ox_need_node(c, 0, &x));
    if (x->rank < 2) FAIL("a rank-1 input");
    for (int k = 0; k < 4; k++) {
        RS_TRY(ox_need_const(c, (size_t)k + 1, &p[k]));
        if (p[k]->numel != x->dims[1] || p[k]->rank != 1) BAD("'%s' does not have %lld values", p[k]->name, (long long)x->dims[1]);
        if (p[k]->param >= 0) FAIL("'%s' is also used by another operator", p[k]->name);
        if (strlen(p[k]->name) >= RS_NAME_MAX) FAIL("name '%s' is too long", p[k]->name);
        if (rs_params_find(&c->net->params, p[k]->name) >= 0) FAIL("'%s' is used twice", p[k]->name);
        for (int j = 0; j < k; j++)
            if (p[j] == p[k]) FAIL("'%s' is used twice", p[k]->name);
    }
    float eps = ox_attr_float(c->cur, "epsilon", 1e-5f), mom = ox_attr_float(c->cur, "momentum", 0.9f);
    int32_t i = rs_net_batchnorm(c->net, c->cur_name, x->node, eps, 1.0f - mom);
    if (i < 0) return ox_set_node(c, i, 0, NULL);
    for (int k = 0; k < 4; k++) { /* the parameters keep the ONNX names (checkpoints round-trip) */
        int32_t q = c->net->nodes[i].param[k];
        snprintf(c->net->params.items[q].name, RS_NAME_MAX, "%s", p[k]->name);
        p[k]->param = q;
        c->params_values += p[k]->numel;
    }
    return ox_set_node(c, i, x->rank, x->dims);
}

/* ---------------------------------------------------------------- elementwise */
static rs_status op_unary(ox_ctx *c, int32_t (*build)(rs_net *, const char *, int32_t)) {
    RS_TRY(ox_check_attrs(c, NULL));
    ox_value *x;
    RS_TRY(ox_need_node(c, 0, &x));
    return ox_set_node(c, build(c->net, c->cur_name, x->node), x->rank, x->dims);
}
static rs_status op_relu(ox_ctx *c) { return op_unary(c, rs_net_relu); }
static rs_status op_sigmoid(ox_ctx *c) { return op_unary(c, rs_net_sigmoid); }

/* Logical row-major strides of dims (rank r) with broadcasting against out (rank ro): 0 on broadcast axes. */
static void bcast_strides(const int64_t *dims, int32_t r, int32_t ro, int64_t *st) {
    int64_t s = 1;
    for (int32_t i = ro - 1; i >= 0; i--) {
        int32_t k = i - (ro - r);
        int64_t d = k >= 0 ? dims[k] : 1;
        st[i] = d == 1 ? 0 : s;
        s *= d;
    }
}

/* out = ka a + kb b (add) or ka a b (mul) with numpy broadcasting; the batch axis must not broadcast a constant. */
rs_status ox_binary(ox_ctx *c, rs_binary_kind kind, ox_value *a, ox_value *b, float ka, float kb) {
    if (a->node < 0 && b->node < 0) FAIL("both operands are constants");
    if (a->node < 0) {
        if (kind == RS_BIN_DIV) FAIL("a constant divided by a computed value is not supported");
        ox_value *t = a;
        a = b, b = t;
        if (kind == RS_BIN_ADD) {
            float u = ka;
            ka = kb, kb = u;
        }
    }
    int32_t ro = a->rank > b->rank ? a->rank : b->rank;
    if (b->node < 0 && b->rank > a->rank) FAIL("a constant of higher rank than the computed operand");
    int32_t b_batch = 0; /* > 0: b is a per-sample constant of the test runner */
    if (b->node < 0 && b->rank == a->rank && b->dims[0] != 1) {
        if (!c->test_batch || b->dims[0] != c->test_batch)
            FAIL("constant '%s' varies along the batch dimension", b->name);
        b_batch = c->test_batch;
    }
    if (b->node >= 0 && b->rank != a->rank) FAIL("computed operands of ranks %d and %d", a->rank, b->rank);
    int64_t out[4] = {-1, 1, 1, 1};
    for (int32_t i = 1; i < ro; i++) {
        int64_t da = i - (ro - a->rank) >= 0 ? a->dims[i - (ro - a->rank)] : 1;
        int64_t db = i - (ro - b->rank) >= 0 ? b->dims[i - (ro - b->rank)] : 1;
        if (da != db && da != 1 && db != 1) BAD("shapes do not broadcast (%lld vs %lld)", (long long)da, (long long)db);
        out[i] = da > db ? da : db;
    }
    int64_t per = ox_sample_numel(ro, out);
    if (per > OX_MAX_NUMEL) BAD("result too large");
    int64_t *tab = alloc_i64(c, 4 * per);
    if (!tab) return ox_fail(c, RS_ERR_NOMEM, "out of memory");
    int64_t *to = tab, *ta = tab + per, *ia = tab + 2 * per, *ib = tab + 3 * per, sa[4], sb[4];
    ox_phys_table(ro, out, to);
    ox_phys_table(a->rank, a->dims, ta);
    bcast_strides(a->dims, a->rank, ro, sa);
    bcast_strides(b->dims, b->rank, ro, sb);
    sa[0] = sb[0] = 0;
    for (int64_t j = 0; j < per; j++) { /* j: logical per-sample index of the output */
        int64_t r = j, la = 0, lb = 0;
        for (int32_t i = ro - 1; i >= 1; i--) {
            int64_t q = r % out[i];
            r /= out[i];
            la += q * sa[i], lb += q * sb[i];
        }
        ia[to[j]] = ta[la];
        ib[to[j]] = lb; /* a constant's logical index, or (below) a node's physical one */
    }
    int32_t bp = -1;
    if (b->node >= 0) {
        int64_t *tb = ta; /* reuse: b has the output's rank */
        ox_phys_table(b->rank, b->dims, tb);
        for (int64_t j = 0; j < per; j++) ib[j] = tb[ib[j]];
    } else if ((bp = ox_param(c, b, RS_PARAM_TRAINABLE, 0)) < 0) {
        rs_free(tab);
        BAD("constant '%s' cannot be a parameter (%s)", b->name, c->net->error);
    }
    int32_t H = ro > 3 ? (int32_t)out[2] : 1, W = ro > 3 ? (int32_t)out[3] : ro > 2 ? (int32_t)out[2] : 1;
    int32_t i = b_batch ? rs_net_binary_batched(c->net, c->cur_name, kind, a->node, bp, b_batch, ia, ib, H, W,
                                                (int32_t)out[1], ka, kb)
                        : rs_net_binary(c->net, c->cur_name, kind, a->node, b->node >= 0 ? b->node : -1, bp, ia, ib,
                                        H, W, (int32_t)out[1], ka, kb);
    rs_free(tab);
    return ox_set_node(c, i, ro, out);
}

rs_status ox_const_node(ox_ctx *c, ox_value *v, int32_t rank, ox_value *out) {
    if (v->rank != rank) FAIL("constant '%s' has rank %d, not %d", v->name, v->rank, rank);
    int32_t batch = v->dims[0] == 1 ? 0 : v->dims[0] == c->test_batch ? c->test_batch : -1;
    if (batch < 0) FAIL("constant '%s' varies along the batch dimension", v->name);
    int64_t dims[4] = {-1, 1, 1, 1};
    memcpy(dims + 1, v->dims + 1, sizeof(int64_t) * (size_t)(rank - 1));
    int64_t per = ox_sample_numel(rank, dims);
    int64_t *tab = alloc_i64(c, 2 * per);
    if (!tab) return ox_fail(c, RS_ERR_NOMEM, "out of memory");
    ox_phys_table(rank, dims, tab);
    for (int64_t l = 0; l < per; l++) tab[per + tab[l]] = l;
    int32_t bp = ox_param(c, v, RS_PARAM_TRAINABLE, 0), i = -1;
    char name[RS_NAME_MAX + 16];
    snprintf(name, sizeof name, "%s#%s", c->cur_name, v->name);
    if (bp >= 0)
        i = rs_net_binary_batched(c->net, name, RS_BIN_CONST, 0, bp, batch, NULL, tab + per,
                                  rank > 3 ? (int32_t)dims[2] : 1, rank > 3 ? (int32_t)dims[3] : rank > 2 ? (int32_t)dims[2] : 1,
                                  rank > 1 ? (int32_t)dims[1] : 1, 1, 1);
    rs_free(tab);
    if (i < 0) return ox_fail(c, c->net->status ? c->net->status : RS_ERR_ARG, "%s", c->net->error);
    memset(out, 0, sizeof *out);
    out->name = v->name, out->node = i, out->rank = rank, out->param = -1;
    memcpy(out->dims, dims, sizeof dims);
    return RS_OK;
}

static rs_status op_addmul(ox_ctx *c, rs_binary_kind kind, float kb) {
    static const char *const legacy[] = {"broadcast", "axis", NULL};
    RS_TRY(ox_check_attrs(c, c->opset < 7 ? legacy : NULL));
    ox_value *a = ox_input(c, 0), *b = ox_input(c, 1);
    if (!a || !b) BAD("an input is missing");
    if (ox_attr_int(c->cur, "broadcast", 0)) {
        int same = a->rank == b->rank;
        for (int32_t i = 1; same && i < a->rank; i++) same = a->dims[i] == b->dims[i];
        if (!same) FAIL("legacy broadcasting (broadcast 1 with different shapes) is not supported");
    }
    if (kind == RS_BIN_ADD && a->node >= 0 && b->node >= 0 && a->rank == b->rank &&
        !memcmp(a->dims + 1, b->dims + 1, sizeof(int64_t) * (size_t)(a->rank - 1)))
        return ox_set_node(c, rs_net_add(c->net, c->cur_name, a->node, b->node), a->rank, a->dims);
    return ox_binary(c, kind, a, b, 1, kb);
}
static rs_status op_add(ox_ctx *c) { return op_addmul(c, RS_BIN_ADD, 1); }
static rs_status op_sub(ox_ctx *c) { return op_addmul(c, RS_BIN_ADD, -1); }
static rs_status op_mul(ox_ctx *c) { return op_addmul(c, RS_BIN_MUL, 1); }
static rs_status op_div(ox_ctx *c) { return op_addmul(c, RS_BIN_DIV, 1); }

/* ReduceMean over the spatial axes: a global average pool (and a flatten when keepdims is 0). */
static rs_status op_reducemean(ox_ctx *c) {
    static const char *const at[] = {"axes", "keepdims", NULL};
    RS_TRY(ox_check_attrs(c, at));
    ox_value *x;
    RS_TRY(ox_need_node(c, 0, &x));
    if (ox_input(c, 1)) FAIL("axes as an input is not supported");
    int64_t ax[4];
    int32_t n = ox_attr_ints(c->cur, "axes", ax, 4), keep = ox_attr_int(c->cur, "keepdims", 1) != 0;
    int spatial = x->rank >= 3 && n == x->rank - 2, seen = 0;
    for (int32_t i = 0; spatial && i < n; i++) {
        int64_t a = ax[i] < 0 ? ax[i] + x->rank : ax[i];
        spatial = a >= 2 && a < x->rank && !(seen & (1 << a));
        seen |= 1 << (a & 7);
    }
    if (!spatial) FAIL("only a mean over all the spatial axes is supported");
    char tmp[RS_NAME_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s#mean", c->cur_name);
    int32_t i = rs_net_adaptive_avgpool(c->net, keep ? c->cur_name : tmp, x->node, 1, 1);
    int64_t dims[4] = {-1, x->dims[1], 1, 1};
    if (keep || i < 0) return ox_set_node(c, i, x->rank, dims);
    return ox_set_node(c, rs_net_flatten(c->net, c->cur_name, i), 2, dims);
}

static const struct {
    const char *op;
    rs_status (*fn)(ox_ctx *);
} ops[] = {
    {"Conv", op_conv},           {"MaxPool", op_maxpool},   {"AveragePool", op_avgpool},
    {"GlobalAveragePool", op_gap}, {"BatchNormalization", op_bn}, {"Relu", op_relu},
    {"Sigmoid", op_sigmoid},     {"Add", op_add},           {"Mul", op_mul},
    {"Sub", op_sub},             {"Div", op_div},           {"ReduceMean", op_reducemean},
    {"Slice", ox_op_slice},
    {"Gemm", ox_op_gemm},           {"MatMul", ox_op_matmul},     {"Flatten", ox_op_flatten},
    {"Reshape", ox_op_reshape},     {"Pad", ox_op_pad},           {"Concat", ox_op_concat},
    {"Softmax", ox_op_softmax},     {"Identity", ox_op_identity}, {"Dropout", ox_op_dropout},
    {"Constant", ox_op_constant},
};

rs_status ox_import_node(ox_ctx *c) {
    for (size_t k = 1; k < c->cur->n_output; k++)
        if (c->cur->output[k] && c->cur->output[k][0]) FAIL("output %zu ('%s') is not supported", k, c->cur->output[k]);
    int folded = 0;
    RS_TRY(ox_fold_node(c, &folded));
    if (folded) return RS_OK;
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        if (!strcmp(ops[k].op, c->cur->op_type)) return ops[k].fn(c);
    static const char *const fold_only[] = {"ConstantOfShape", "Transpose", "Cast", "Unsqueeze", "Squeeze", "Gather"};
    for (size_t k = 0; k < sizeof fold_only / sizeof fold_only[0]; k++)
        if (!strcmp(fold_only[k], c->cur->op_type))
            FAIL("operator not supported on computed values (evaluated at load only when every input is a constant)");
    FAIL("operator not supported");
}
#endif
