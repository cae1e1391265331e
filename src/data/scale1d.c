/* scale1d.c: the 1D scale-detection task (SPEC.md 5.2, scale_detection_1d create_dataset.py and the training
 * script). A 1 x L vector is zero except two active pixels r1 < r2 of value sqrt(magn); pairs are
 * combinations(range(L), 2). Task 2 (default): class 1 ("same block", target +1) if r1 // xi == r2 // xi, else
 * class 0. Task 1: circular distance d = min(r2 - r1, L - (r2 - r1)); class 1 if d < xi - gap, class 0 if
 * d >= xi + gap, dropped otherwise. Each class list is shuffled with the split seed; with half = min(#class 0,
 * #class 1), the training split is the first ntrain/2 of each list, the validation split the next nval/2, the test
 * split the rest up to half (the reference's NTOT = 2 x half).
 * The reference's training script flips the sign of its labels (same block = -1); the convention does not change
 * the task, and relstab keeps same block = +1. Not here: the block-preserving +-1 moves of the 1D sensitivity
 * measure (src/perturb). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "data/data_internal.h"

#define SCALE1D_KEYS "L, xi, task, gap, magn, ntrain, nval, seed, labels"

typedef struct {
    int64_t L, task, ntrain, nval;
    double xi, gap, magn;
} s1_params;

static rs_status parse_params(const char *opts, const char *spec, rs_dataset *ds, s1_params *t, int64_t *seed) {
    rs_kv kv[RS_KV_MAX];
    int n = 0;
    RS_TRY(rs_kv_split(opts, spec, kv, &n));
    *t = (s1_params){.L = 128, .task = 2, .ntrain = 1024, .nval = 128, .xi = 32, .gap = 0, .magn = -1};
    if (rs_kv_int(kv, n, "L", spec, 4, 4096, &t->L) < 0 || rs_kv_int(kv, n, "task", spec, 1, 2, &t->task) < 0 ||
        rs_kv_double(kv, n, "xi", spec, 0, 1e6, &t->xi) < 0 || rs_kv_double(kv, n, "gap", spec, 0, 1e6, &t->gap) < 0 ||
        rs_kv_double(kv, n, "magn", spec, 1e-30, 1e30, &t->magn) < 0 ||
        rs_kv_int(kv, n, "ntrain", spec, 2, INT32_MAX, &t->ntrain) < 0 ||
        rs_kv_int(kv, n, "nval", spec, 0, INT32_MAX, &t->nval) < 0)
        return RS_ERR_ARG;
    RS_TRY(rs_task_common_keys(kv, n, spec, ds, seed));
    RS_TRY(rs_kv_check_unused(kv, n, spec, SCALE1D_KEYS));
    if (t->magn < 0) t->magn = (double)t->L / 2;
    if (t->task == 2 && (t->xi < 1 || t->xi != floor(t->xi)))
        return rs_error(RS_ERR_ARG, "%s: task 2 needs an integer block size xi >= 1, got %g", spec, t->xi);
    if (t->ntrain % 2 || t->nval % 2)
        return rs_error(RS_ERR_ARG, "%s: ntrain and nval must be even (half of each class), got %lld and %lld", spec,
                        (long long)t->ntrain, (long long)t->nval);
    return RS_OK;
}

/* 1 (same block / close), 0 (other / far) or -1 (dropped). */
static int pair_class(const s1_params *t, int64_t r1, int64_t r2) {
    if (t->task == 2) return (int64_t)(r1 / (int64_t)t->xi) == (int64_t)(r2 / (int64_t)t->xi);
    int64_t d = r2 - r1 < t->L - (r2 - r1) ? r2 - r1 : t->L - (r2 - r1);
    if ((double)d < t->xi - t->gap) return 1;
    if ((double)d >= t->xi + t->gap) return 0;
    return -1;
}

static int s1_pair_class(const void *ctx, uint32_t a, uint32_t b) { return pair_class(ctx, a, b); }

static rs_status make_lists(const s1_params *t, uint32_t *lists[2], int64_t count[2], int64_t *dropped) {
    return rs_task_pair_lists((uint32_t)t->L, s1_pair_class, t, lists, count, dropped);
}

static void describe(rs_dataset *ds, const s1_params *t, int64_t half) {
    rs_task_info *ti = &ds->task;
    char rule[128];
    if (t->task == 2)
        snprintf(rule, sizeof rule, "task 2: same block of size %g", t->xi);
    else
        snprintf(rule, sizeof rule, "task 1: circular distance < %g close, >= %g far", t->xi - t->gap, t->xi + t->gap);
    snprintf(ds->priv->describe, sizeof ds->priv->describe,
             "task       scale1d L=%lld xi=%g gap=%g (%s); active value %g = sqrt(magn %g)\n"
             "pairs      %lld: class 1 (%s) %lld, class 0 (%s) %lld, dropped %lld\n"
             "split      seed %llu, %lld per class used; train %lld, validation %lld, test %lld\n",
             (long long)t->L, t->xi, t->gap, rule, (double)ti->value, t->magn, (long long)ti->n_pairs,
             t->task == 2 ? "same block" : "close", (long long)ti->n_class[1], t->task == 2 ? "other" : "far",
             (long long)ti->n_class[0], (long long)ti->n_dropped, (unsigned long long)ti->split_seed,
             (long long)half, (long long)t->ntrain, (long long)t->nval,
             (long long)(2 * half - t->ntrain - t->nval));
}

rs_status rs_scale1d_open(rs_dataset *ds, const char *opts, int split, rs_data_options *opt) {
    s1_params t;
    int64_t seed = 0;
    RS_TRY(parse_params(opts, ds->spec, ds, &t, &seed));
    uint32_t *lists[2] = {NULL, NULL};
    int64_t count[2] = {0, 0}, dropped = 0;
    rs_status st = make_lists(&t, lists, count, &dropped);
    for (int c = 0; c < 2 && st == RS_OK; c++) st = rs_task_shuffle(lists[c], count[c], (uint64_t)seed, (uint32_t)c, 1);
    int64_t half = count[0] < count[1] ? count[0] : count[1];
    int64_t tr = t.ntrain / 2, va = t.nval / 2;
    if (st == RS_OK && tr + va >= half)
        st = rs_error(RS_ERR_ARG, "%s: ntrain/2 + nval/2 = %lld leaves no test pairs (%lld per class)", ds->spec,
                      (long long)(tr + va), (long long)half);
    if (st == RS_OK) {
        int64_t from = split == RS_SPLIT_TRAIN ? 0 : split == RS_SPLIT_VAL ? tr : tr + va;
        int64_t per = split == RS_SPLIT_TRAIN ? tr : split == RS_SPLIT_VAL ? va : half - tr - va;
        if (per == 0) st = rs_error(RS_ERR_ARG, "%s: the validation split is empty (nval=0)", ds->spec);
        /* the position table of a 1 x L image is the identity */
        uint16_t *pos = st == RS_OK ? rs_alloc((size_t)t.L * sizeof(uint16_t)) : NULL;
        if (st == RS_OK && !pos) st = rs_error(RS_ERR_NOMEM, "cannot allocate %lld positions", (long long)t.L);
        for (int64_t k = 0; pos && k < t.L; k++) pos[k] = (uint16_t)k;
        if (st == RS_OK) st = rs_task_fill(ds, lists[0], from, lists[1], from, per, pos, (uint32_t)t.L);
        rs_free(pos);
        ds->task = (rs_task_info){.kind = 2, .size = (int32_t)t.L, .xi = t.xi, .gap = t.gap, .task = (int32_t)t.task,
                                  .value = (float)sqrt(t.magn), .split_seed = (uint64_t)seed,
                                  .n_pairs = t.L * (t.L - 1) / 2, .n_class = {count[0], count[1]},
                                  .n_dropped = dropped, .per_class = per, .ntrain = t.ntrain, .nval = t.nval};
        ds->store = RS_STORE_SCALE1D;
        ds->channels = 1;
        ds->height = 1;
        ds->width = (int32_t)t.L;
        ds->classes = 2;
        describe(ds, &t, half);
    }
    rs_free(lists[0]);
    rs_free(lists[1]);
    return st;
}
