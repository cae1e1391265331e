/* table.c: the theory model (rs_theory_run) with its configuration given as text ("key=value" lines) and its
 * per-layer results copied into a plain table, for bindings to other languages (python/relstab). Keys: dim,
 * stride, filter, depth, size, probes, bias, padding (zero, circular), raw_noise (0/1), noise_norm, seed, repeat;
 * omitted keys keep rs_theory_defaults(). Columns of a row: k, width, rf, d_num, d_num_se, g_num, g_num_se, deno,
 * D, G, R, D_se, G_se (RS_THEORY_COLUMNS). It does not predict or fit (predict.c, fit.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/kv.h"
#include "relstab/theory.h"

static rs_status tnum(const char *k, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi))
        return rs_error(RS_ERR_ARG, "theory option %s: expected a number in [%g, %g], got '%s'", k, lo, hi, v);
    *out = x;
    return RS_OK;
}

static rs_status tset(rs_theory_config *c, const char *k, const char *v) {
    double x = 0;
    rs_status s = RS_OK;
    if (!strcmp(k, "dim")) s = tnum(k, v, 1, 2, &x), c->dim = (int)x;
    else if (!strcmp(k, "stride")) s = tnum(k, v, 1, RS_THEORY_MAX_FILTER, &x), c->stride = (int)x;
    else if (!strcmp(k, "filter")) s = tnum(k, v, 1, RS_THEORY_MAX_FILTER, &x), c->filter = (int)x;
    else if (!strcmp(k, "depth")) s = tnum(k, v, 1, RS_THEORY_MAX_DEPTH, &x), c->depth = (int)x;
    else if (!strcmp(k, "size")) s = tnum(k, v, 0, 1e15, &x), c->size = (int64_t)x;
    else if (!strcmp(k, "probes")) s = tnum(k, v, 0, 1e15, &x), c->probes = (int64_t)x;
    else if (!strcmp(k, "bias")) s = tnum(k, v, -1e300, 1e300, &c->bias);
    else if (!strcmp(k, "raw_noise")) s = tnum(k, v, 0, 1, &x), c->raw_noise = (int)x;
    else if (!strcmp(k, "noise_norm")) s = tnum(k, v, -1e300, 1e300, &c->noise_norm);
    else if (!strcmp(k, "seed")) s = tnum(k, v, 0, 9007199254740992.0, &x), c->seed = (uint64_t)x;
    else if (!strcmp(k, "repeat")) s = tnum(k, v, 0, 4294967295.0, &x), c->repeat = (uint32_t)x;
    else if (!strcmp(k, "padding")) {
        if (!strcmp(v, "zero")) c->padding = RS_THEORY_PAD_ZERO;
        else if (!strcmp(v, "circular")) c->padding = RS_THEORY_PAD_CIRCULAR;
        else s = rs_error(RS_ERR_ARG, "theory option padding: expected zero or circular, got '%s'", v);
    } else s = rs_error(RS_ERR_ARG, "unknown theory option '%s'", k);
    return s;
}

static rs_status tset_any(void *c, const char *k, const char *v) { return tset(c, k, v); }

rs_status rs_theory_run_table(const char *options, double *out, int32_t max_rows, int32_t *rows, int64_t *n_probes) {
    *rows = 0;
    rs_theory_config c = rs_theory_defaults();
    RS_TRY(rs_kv_each(options, "theory option", tset_any, &c));
    if (c.depth > max_rows) return rs_error(RS_ERR_ARG, "depth %d: room for %d rows only", c.depth, max_rows);
    rs_theory_result r;
    RS_TRY(rs_theory_run(&c, &r));
    for (int i = 0; i < r.cfg.depth; i++) {
        const rs_theory_layer *l = &r.layers[i];
        double row[RS_THEORY_COLUMNS] = {l->k, (double)l->width, (double)l->rf, l->d_num, l->d_num_se, l->g_num,
                                         l->g_num_se, l->deno, l->D, l->G, l->R, l->D_se, l->G_se};
        memcpy(out + (size_t)i * RS_THEORY_COLUMNS, row, sizeof row);
    }
    *rows = r.cfg.depth;
    *n_probes = r.n_probes;
    rs_theory_result_free(&r);
    return RS_OK;
}
