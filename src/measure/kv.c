/* kv.c: rs_measure with its options given as text ("key=value" lines) and its rows copied out, for bindings to
 * other languages (python/relstab), which then need no copy of rs_measure_opts. The keys and their meaning are
 * `relstab measure`'s flags: P, first (0/1), seed, seeds, resample (0/1), perturb (auto, diffeo, translate), delta,
 * T, cut, interp, noise (matched, rectified, norm=X, diffeo), estimator (mean, median), median_mem (MB),
 * channel_mean (0/1), aliased (0/1), mode (trained, init), batch (0: as the CLI: 100, or P at init with batch norm),
 * dump (DIR). Omitted keys take the CLI's defaults, including its scale1d ones (rectified noise, channel mean).
 * It does not open nets or datasets (the caller does) or write result files. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/kv.h"
#include "relstab/measure.h"

static rs_status num(const char *k, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi))
        return rs_error(RS_ERR_ARG, "measure option %s: expected a number in [%g, %g], got '%s'", k, lo, hi, v);
    *out = x;
    return RS_OK;
}

static rs_status set_opt(rs_measure_opts *o, const char *k, const char *v) {
    double x = 0;
    if (!strcmp(k, "P")) return num(k, v, 1, INT32_MAX, &x) ? RS_ERR_ARG : (o->P = (int64_t)x, RS_OK);
    if (!strcmp(k, "first")) return num(k, v, 0, 1, &x) ? RS_ERR_ARG : (o->probe = x ? RS_PROBE_FIRST : RS_PROBE_SAMPLE, RS_OK);
    if (!strcmp(k, "seed")) {
        char *end;
        errno = 0;
        unsigned long long u = strtoull(v, &end, 10);
        if (errno || end == v || *end || *v == '-') return rs_error(RS_ERR_ARG, "measure option seed: expected an integer >= 0, got '%s'", v);
        o->seed = (uint64_t)u;
        return RS_OK;
    }
    if (!strcmp(k, "seeds")) return num(k, v, 1, RS_MEASURE_MAX_SEEDS, &x) ? RS_ERR_ARG : (o->seeds = (int32_t)x, RS_OK);
    if (!strcmp(k, "resample")) return num(k, v, 0, 1, &x) ? RS_ERR_ARG : (o->resample = (int32_t)x, RS_OK);
    if (!strcmp(k, "delta")) return num(k, v, 0, 1e6, &o->delta);
    if (!strcmp(k, "T")) return num(k, v, 1e-300, 1e6, &o->T);
    if (!strcmp(k, "cut")) return num(k, v, 2, RS_DIFFEO_MAX_CUT, &x) ? RS_ERR_ARG : (o->cut = (int32_t)x, RS_OK);
    if (!strcmp(k, "interp")) return rs_interp_parse(v, &o->interp);
    if (!strcmp(k, "noise")) return rs_noise_parse(v, &o->noise, &o->noise_norm);
    if (!strcmp(k, "estimator")) return rs_estimator_parse(v, &o->estimator);
    if (!strcmp(k, "median_mem")) return num(k, v, 1, 1e9, &x) ? RS_ERR_ARG : (o->median_mem = x * 1048576.0, RS_OK);
    if (!strcmp(k, "channel_mean")) return num(k, v, 0, 1, &x) ? RS_ERR_ARG : (o->channel_mean = (int32_t)x, RS_OK);
    if (!strcmp(k, "aliased")) return num(k, v, 0, 1, &x) ? RS_ERR_ARG : (o->aliased = (int32_t)x, RS_OK);
    if (!strcmp(k, "batch")) return num(k, v, 0, 1 << 20, &x) ? RS_ERR_ARG : (o->batch = (int32_t)x, RS_OK);
    if (!strcmp(k, "dump")) return (o->dump_dir = v, RS_OK);
    if (!strcmp(k, "mode")) {
        if (!strcmp(v, "trained")) o->mode = RS_MODE_EVAL;
        else if (!strcmp(v, "init")) o->mode = RS_MODE_INIT_EVAL;
        else return rs_error(RS_ERR_ARG, "measure option mode: expected trained or init, got '%s'", v);
        return RS_OK;
    }
    if (!strcmp(k, "perturb")) {
        if (!strcmp(v, "auto")) o->move = RS_MOVE_AUTO;
        else if (!strcmp(v, "diffeo")) o->move = RS_MOVE_DIFFEO;
        else if (!strcmp(v, "translate")) o->move = RS_MOVE_TRANSLATE;
        else return rs_error(RS_ERR_ARG, "measure option perturb: expected auto, diffeo or translate, got '%s'", v);
        return RS_OK;
    }
    return rs_error(RS_ERR_ARG, "unknown measure option '%s'", k);
}

/* The setter of rs_kv_each, remembering which keys were given (for the defaults that depend on them). */
typedef struct {
    rs_measure_opts *o;
    int batch, T, delta, noise, chmean;
} kv_seen;

static rs_status set_seen(void *ctx, const char *k, const char *v) {
    kv_seen *e = ctx;
    e->batch |= !strcmp(k, "batch"), e->T |= !strcmp(k, "T"), e->delta |= !strcmp(k, "delta");
    e->noise |= !strcmp(k, "noise"), e->chmean |= !strcmp(k, "channel_mean");
    return set_opt(e->o, k, v);
}

/* The batch `relstab measure` uses when none is given. */
static int32_t cli_batch(const rs_net *net, const rs_measure_opts *o) {
    int has_bn = 0;
    for (int32_t i = 0; i < net->n_nodes; i++) has_bn |= net->nodes[i].op == RS_OP_BATCHNORM;
    return has_bn && o->mode == RS_MODE_INIT_EVAL ? 0 : 100;
}

rs_status rs_measure_kv(rs_net *net, const rs_dataset *ds, const char *nodes, const char *options, rs_sens *rows,
                        int32_t max_rows, int32_t *n_rows, double info[4]) {
    *n_rows = 0;
    rs_measure_opts o;
    rs_measure_opts_default(&o);
    kv_seen seen = {&o, 0, 0, 0, 0, 0};
    rs_status s = rs_kv_each(options, "measure option", set_seen, &seen);
    if (!s && seen.T && seen.delta) s = rs_error(RS_ERR_ARG, "give delta or T, not both");
    if (!strcmp(ds->name, "scale1d")) { /* the CLI's 1-D defaults */
        if (!seen.noise) o.noise = RS_NOISE_RECTIFIED;
        if (!seen.chmean) o.channel_mean = 1;
    }
    int32_t *sel = NULL, n_sel = 0;
    if (!s && nodes && *nodes) s = rs_measure_parse_nodes(net, nodes, &sel, &n_sel);
    if (!s && !seen.batch) o.batch = cli_batch(net, &o);
    rs_measure_result r = {0};
    if (!s) s = rs_measure(net, ds, NULL, sel, n_sel, &o, &r);
    if (!s && r.n_nodes > max_rows) s = rs_error(RS_ERR_ARG, "%d result rows for room for %d", r.n_nodes, max_rows);
    if (!s) {
        memcpy(rows, r.rows, (size_t)r.n_nodes * sizeof(rs_sens));
        *n_rows = r.n_nodes;
        info[0] = (double)r.P, info[1] = r.T, info[2] = r.delta, info[3] = r.batch;
    }
    rs_measure_result_free(&r);
    rs_free(sel);
    return s;
}
