/* onnx_testdir.c: running one directory of the ONNX backend-test layout (model.onnx, test_data_set_N/input_K.pb,
 * output_0.pb) through the reader and the net, and comparing the net's output with the expected tensor. Used by
 * `relstab onnx test` and the conformance test. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "relstab/onnx.h"

#define MAX_INPUTS 16

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* Compares the net's output (NCHW, the ONNX logical order) with want. */
static rs_status compare(rs_net *net, const rs_onnx_meta *m, const rs_onnx_tensor *want, int32_t n, double rtol,
                         double atol, rs_onnx_test_result *r, const char *set) {
    int64_t per = rs_net_output_numel(net);
    if (want->numel != per * n || want->ndim != m->out_rank || want->dims[0] != n)
        return rs_error(RS_ERR_NUMERIC, "%s: output has %lld values (rank %d), expected %lld (rank %d)", set,
                        (long long)(per * n), m->out_rank, (long long)want->numel, want->ndim);
    for (int32_t i = 1; i < m->out_rank; i++)
        if (want->dims[i] != m->out_dims[i])
            return rs_error(RS_ERR_NUMERIC, "%s: output dimension %d is %lld, expected %lld", set, i,
                            (long long)m->out_dims[i], (long long)want->dims[i]);
    float *got = rs_calloc(sizeof(float) * (size_t)(want->numel ? want->numel : 1));
    if (!got) return rs_error(RS_ERR_NOMEM, "out of memory");
    rs_net_tap_nchw(net, net->output, got);
    if (atol < 0) { /* relative to the largest expected magnitude */
        double mx = 0;
        for (int64_t i = 0; i < want->numel; i++) mx = fabs((double)want->data[i]) > mx ? fabs((double)want->data[i]) : mx;
        atol = -atol * mx;
    }
    int64_t worst = -1;
    double worst_ex = -INFINITY;
    for (int64_t i = 0; i < want->numel; i++) {
        double d = fabs((double)got[i] - want->data[i]), ex = d - rtol * fabs((double)want->data[i]);
        if (!(d <= r->worst_abs)) r->worst_abs = d; /* NaN counts as worst */
        if (!(ex <= worst_ex)) worst_ex = ex, worst = i;
    }
    if (!(worst_ex <= r->worst_excess)) r->worst_excess = worst_ex;
    rs_status s = RS_OK;
    if (worst >= 0 && !(worst_ex <= atol))
        s = rs_error(RS_ERR_NUMERIC, "%s: element %lld is %.9g, expected %.9g (|diff| %.3g > %.3g + %.3g |want|)", set,
                     (long long)worst, got[worst], want->data[worst], fabs((double)got[worst] - want->data[worst]), atol,
                     rtol);
    rs_free(got);
    return s;
}

static rs_status run_set(const char *dir, const char *set, double rtol, double atol, rs_onnx_test_result *r) {
    char path[4400], model[4400];
    rs_onnx_tensor in[MAX_INPUTS], want = {0};
    int32_t k = 0;
    rs_status s = RS_OK;
    snprintf(model, sizeof model, "%s/model.onnx", dir);
    for (; k < MAX_INPUTS; k++) {
        snprintf(path, sizeof path, "%s/input_%d.pb", set, k);
        if (!exists(path)) break;
        if ((s = rs_onnx_tensor_read(path, &in[k]))) break;
        if (k > 0 && !in[k].name[0]) {
            rs_onnx_tensor_free(&in[k]);
            s = rs_error(RS_ERR_UNSUPPORTED, "%s: input %d has no name to bind it by", set, k);
            break;
        }
    }
    if (!s && k == 0) s = rs_error(RS_ERR_FORMAT, "%s: no input_0.pb", set);
    snprintf(path, sizeof path, "%s/output_0.pb", set);
    if (!s) s = rs_onnx_tensor_read(path, &want);
    rs_net *net = NULL;
    rs_onnx_meta m;
    rs_onnx_opts o = {.bind = in + 1, .n_bind = k - 1};
    if (!s && in[0].ndim > 0 && in[0].dims[0] > 0 && in[0].dims[0] <= (1 << 20)) o.batch = (int32_t)in[0].dims[0];
    if (!s) s = rs_onnx_load(model, &o, &net, &m);
    int32_t n = !s && in[0].ndim > 0 && in[0].dims[0] > 0 && in[0].dims[0] <= (1 << 20) ? (int32_t)in[0].dims[0] : 0;
    if (!s && (!n || in[0].ndim != m.in_rank))
        s = rs_error(RS_ERR_FORMAT, "%s: input_0 does not have the model input's rank %d", set, m.in_rank);
    for (int32_t i = 1; !s && i < m.in_rank; i++)
        if (in[0].dims[i] != m.in_dims[i]) s = rs_error(RS_ERR_FORMAT, "%s: input_0 dimension %d differs", set, i);
    if (!s) s = rs_net_build(net, n, 0);
    if (!s) s = rs_net_forward(net, in[0].data, n, RS_MODE_EVAL);
    if (!s) s = compare(net, &m, &want, n, rtol, atol, r, set);
    rs_net_free(net);
    rs_onnx_tensor_free(&want);
    for (int32_t i = 0; i < k; i++) rs_onnx_tensor_free(&in[i]);
    return s;
}

rs_status rs_onnx_test_dir(const char *dir, double rtol, double atol, rs_onnx_test_result *r) {
    memset(r, 0, sizeof *r);
    r->worst_excess = -INFINITY;
    char set[4200];
    for (int32_t i = 0;; i++) {
        snprintf(set, sizeof set, "%s/test_data_set_%d", dir, i);
        if (!exists(set)) break;
        RS_TRY(run_set(dir, set, rtol, atol, r));
        r->sets++;
    }
    if (!r->sets) return rs_error(RS_ERR_FORMAT, "%s: no test_data_set_0", dir);
    return RS_OK;
}
