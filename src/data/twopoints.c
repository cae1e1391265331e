/* twopoints.c: the 2D scale-detection task (SPEC.md 5.1, diffeo-sota datasets/twopoints.py). A d x d image is zero
 * except two active pixels of value d^2/2. Positions are the pairs (i, j) with i != j (the reference enumerates
 * permutations(range(d), 2), so the diagonal is never active); an image is a combination of two positions, in the
 * reference's order. Labels: class 0 ("far") if dist >= xi + gap/2, class 1 ("close") if dist < xi - gap/2, the
 * pairs in between dropped; or the quadrant labelling (class 0 = both pixels in the same quadrant, the first list
 * of the reference). Each class list is shuffled once with the split seed; the last ceil(testsize/2) of each form
 * the test split, the first P = min of the remaining lengths of each the training split.
 * Deliberate deviation: the reference shuffles with torch.randperm under a Mersenne-Twister generator seeded
 * 123456789; relstab shuffles with its counter-based RNG under the same seed, so the split rules and sizes are the
 * reference's but which pairs land in train or test differ (docs/formats.md).
 * Only the pair list is stored; images are rendered per batch (transforms.c). Not here: the local translations
 * used by the sensitivity measures (src/perturb), which move the pixels through rs_dataset_batch_points. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "data/data_internal.h"

#define TWOPOINTS_KEYS "d, xi, gap, norm, pbc, ptr, testsize, seed, labels, quadrant, bgnoise, ch"
#define DEFAULT_SPLIT_SEED 123456789

rs_status rs_task_shuffle(uint32_t *list, int64_t n, uint64_t seed, uint32_t a, uint32_t b) {
    if (n < 2) return RS_OK;
    int64_t *perm = rs_alloc((size_t)n * sizeof(int64_t));
    uint32_t *copy = rs_alloc((size_t)n * sizeof(uint32_t));
    if (!perm || !copy) {
        rs_free(perm);
        rs_free(copy);
        return rs_error(RS_ERR_NOMEM, "cannot allocate the shuffle of %lld pairs", (long long)n);
    }
    rs_permutation(perm, n, seed, rs_stream(RS_PURPOSE_SPLIT, a, b));
    memcpy(copy, list, (size_t)n * sizeof(uint32_t));
    for (int64_t k = 0; k < n; k++) list[k] = copy[perm[k]]; /* as list[randperm(n)] */
    rs_free(perm);
    rs_free(copy);
    return RS_OK;
}

rs_status rs_task_fill(rs_dataset *ds, const uint32_t *list0, int64_t from0, const uint32_t *list1, int64_t from1,
                       int64_t n_per_class, const uint16_t *pos, uint32_t npos) {
    struct rs_dataset_priv *p = ds->priv;
    int64_t n = 2 * n_per_class;
    p->pa = rs_alloc((size_t)n * sizeof(uint16_t));
    p->pb = rs_alloc((size_t)n * sizeof(uint16_t));
    p->labels = rs_alloc((size_t)n * sizeof(int32_t));
    if (!p->pa || !p->pb || !p->labels) return rs_error(RS_ERR_NOMEM, "cannot allocate %lld task images", (long long)n);
    for (int64_t k = 0; k < n; k++) {
        int cls = k >= n_per_class;
        uint32_t code = cls ? list1[from1 + k - n_per_class] : list0[from0 + k];
        p->pa[k] = pos[code / npos];
        p->pb[k] = pos[code % npos];
        p->labels[k] = cls;
    }
    p->n_source = n;
    return RS_OK;
}

rs_status rs_task_common_keys(rs_kv *kv, int nkv, const char *spec, rs_dataset *ds, int64_t *seed) {
    const char *labels = rs_kv_str(kv, nkv, "labels");
    ds->label_kind = RS_LABEL_SIGN;
    if (labels && !strcmp(labels, "class"))
        ds->label_kind = RS_LABEL_CLASS;
    else if (labels && strcmp(labels, "hinge"))
        return rs_error(RS_ERR_ARG, "%s: labels must be class or hinge, got '%s'", spec, labels);
    *seed = DEFAULT_SPLIT_SEED;
    if (rs_kv_int(kv, nkv, "seed", spec, 0, INT64_MAX, seed) < 0) return RS_ERR_ARG;
    return RS_OK;
}

typedef struct {
    int64_t d, pbc, quadrant, ptr, testsize, ch;
    double xi, gap, bgnoise;
    int linf;
} tp_params;

static rs_status parse_params(const char *opts, const char *spec, rs_dataset *ds, tp_params *t, int64_t *seed) {
    rs_kv kv[RS_KV_MAX];
    int n = 0;
    RS_TRY(rs_kv_split(opts, spec, kv, &n));
    *t = (tp_params){.d = 28, .xi = 14, .gap = 2, .ch = 1, .testsize = -1};
    if (rs_kv_int(kv, n, "d", spec, 2, 64, &t->d) < 0 || rs_kv_double(kv, n, "xi", spec, 0, 1e6, &t->xi) < 0 ||
        rs_kv_double(kv, n, "gap", spec, 0, 1e6, &t->gap) < 0 || rs_kv_int(kv, n, "pbc", spec, 0, 1, &t->pbc) < 0 ||
        rs_kv_int(kv, n, "ptr", spec, 0, INT32_MAX, &t->ptr) < 0 ||
        rs_kv_int(kv, n, "testsize", spec, 1, INT32_MAX, &t->testsize) < 0 ||
        rs_kv_int(kv, n, "quadrant", spec, 0, 1, &t->quadrant) < 0 ||
        rs_kv_double(kv, n, "bgnoise", spec, 0, 1e12, &t->bgnoise) < 0 ||
        rs_kv_int(kv, n, "ch", spec, 1, 3, &t->ch) < 0)
        return RS_ERR_ARG;
    const char *norm = rs_kv_str(kv, n, "norm");
    if (norm && strcmp(norm, "L2") && strcmp(norm, "Linf"))
        return rs_error(RS_ERR_ARG, "%s: norm must be L2 or Linf, got '%s'", spec, norm);
    t->linf = norm && !strcmp(norm, "Linf");
    RS_TRY(rs_task_common_keys(kv, n, spec, ds, seed));
    return rs_kv_check_unused(kv, n, spec, TWOPOINTS_KEYS);
}

/* Class of the pair of positions (ia, ja), (ib, jb): 0, 1, or -1 (dropped). Distances in float32 and compared
 * with the float32 threshold, as the reference's torch tensors. */
static int pair_class(const tp_params *t, int32_t ia, int32_t ja, int32_t ib, int32_t jb, float far, float close) {
    int32_t d = (int32_t)t->d;
    if (t->quadrant) {
        int32_t h = d / 2;
        return (ia / h == ib / h && ja / h == jb / h) ? 0 : 1;
    }
    int32_t di = ia > ib ? ia - ib : ib - ia, dj = ja > jb ? ja - jb : jb - ja;
    if (t->pbc) {
        di = di < d - di ? di : d - di;
        dj = dj < d - dj ? dj : d - dj;
    }
    float dist = t->linf ? (float)(di > dj ? di : dj) : sqrtf((float)(di * di + dj * dj));
    if (dist >= far) return 0;
    if (dist < close) return 1;
    return -1;
}

/* The pair classifier of twopoints over its position table. */
typedef struct {
    const tp_params *t;
    const uint16_t *pos;
    float far, close;
} tp_pairs;

static int tp_pair_class(const void *ctx, uint32_t a, uint32_t b) {
    const tp_pairs *p = ctx;
    int32_t d = (int32_t)p->t->d;
    return pair_class(p->t, p->pos[a] / d, p->pos[a] % d, p->pos[b] / d, p->pos[b] % d, p->far, p->close);
}

/* Builds the two class lists of pair codes (a * npos + b, a < b over the position table). */
static rs_status make_lists(const tp_params *t, const uint16_t *pos, uint32_t npos, uint32_t *lists[2],
                            int64_t count[2], int64_t *dropped) {
    tp_pairs p = {t, pos, (float)(t->xi + t->gap / 2), (float)(t->xi - t->gap / 2)};
    return rs_task_pair_lists(npos, tp_pair_class, &p, lists, count, dropped);
}

rs_status rs_task_pair_lists(uint32_t npos, rs_pair_class_fn cls, const void *ctx, uint32_t *lists[2],
                             int64_t count[2], int64_t *dropped) {
    for (int pass = 0; pass < 2; pass++) {
        int64_t c[2] = {0, 0}, drop = 0;
        for (uint32_t a = 0; a < npos; a++)
            for (uint32_t b = a + 1; b < npos; b++) {
                int k = cls(ctx, a, b);
                if (k < 0) {
                    drop++;
                    continue;
                }
                if (pass == 1) lists[k][c[k]] = a * npos + b;
                c[k]++;
            }
        if (pass == 0) {
            for (int k = 0; k < 2; k++) {
                lists[k] = rs_alloc((size_t)(c[k] > 0 ? c[k] : 1) * sizeof(uint32_t));
                if (!lists[k]) return rs_error(RS_ERR_NOMEM, "cannot allocate %lld pairs", (long long)c[k]);
            }
            count[0] = c[0];
            count[1] = c[1];
            *dropped = drop;
        }
    }
    return RS_OK;
}

static void describe(rs_dataset *ds, const tp_params *t, int64_t half, int64_t train_per_class) {
    rs_task_info *ti = &ds->task;
    const char *n0 = t->quadrant ? "same quadrant" : "far", *n1 = t->quadrant ? "different quadrants" : "close";
    char rule[128] = "quadrant labelling";
    if (!t->quadrant)
        snprintf(rule, sizeof rule, "%s dist >= %g far, < %g close", t->linf ? "Linf" : "L2", t->xi + t->gap / 2,
                 t->xi - t->gap / 2);
    snprintf(ds->priv->describe, sizeof ds->priv->describe,
             "task       twopoints d=%lld xi=%g gap=%g norm=%s pbc=%lld ch=%lld (%s); active value %g, background "
             "noise %g\n"
             "pairs      %lld: class 0 (%s) %lld, class 1 (%s) %lld, dropped %lld\n"
             "split      seed %llu, testsize %lld (%lld per class); train %lld per class (%lld images before ptr)\n",
             (long long)t->d, t->xi, t->gap, t->linf ? "Linf" : "L2", (long long)t->pbc, (long long)t->ch, rule,
             (double)ti->value, t->bgnoise, (long long)ti->n_pairs, n0, (long long)ti->n_class[0], n1,
             (long long)ti->n_class[1], (long long)ti->n_dropped, (unsigned long long)ti->split_seed,
             (long long)ti->testsize, (long long)half, (long long)train_per_class, (long long)(2 * train_per_class));
}

rs_status rs_twopoints_open(rs_dataset *ds, const char *opts, int split, rs_data_options *opt) {
    if (split == RS_SPLIT_VAL) return rs_error(RS_ERR_ARG, "%s: twopoints has only a train and a test split", ds->spec);
    tp_params t;
    int64_t seed = 0;
    RS_TRY(parse_params(opts, ds->spec, ds, &t, &seed));
    if (t.ptr > 0 && opt->ptr > 0 && t.ptr != opt->ptr)
        return rs_error(RS_ERR_ARG, "%s: ptr=%lld in the spec disagrees with ptr %lld of the options", ds->spec,
                        (long long)t.ptr, (long long)opt->ptr);
    if (t.ptr > 0) opt->ptr = t.ptr;
    int64_t testsize = t.testsize > 0 ? t.testsize : (opt->ptr > 0 ? 4 * opt->ptr : 5000);
    int64_t half = (testsize + 1) / 2; /* python's xp[-testsize // 2:] takes ceil(testsize / 2) */
    int32_t d = (int32_t)t.d;
    uint32_t npos = (uint32_t)(d * (d - 1));
    uint16_t pos[64 * 63];
    uint32_t k = 0;
    for (int32_t i = 0; i < d; i++)
        for (int32_t j = 0; j < d; j++)
            if (i != j) pos[k++] = (uint16_t)(i * d + j);
    uint32_t *lists[2] = {NULL, NULL};
    int64_t count[2] = {0, 0}, dropped = 0;
    rs_status st = make_lists(&t, pos, npos, lists, count, &dropped);
    for (int c = 0; c < 2 && st == RS_OK; c++) st = rs_task_shuffle(lists[c], count[c], (uint64_t)seed, (uint32_t)c, 0);
    int64_t per_train = (count[0] < count[1] ? count[0] : count[1]) - half;
    if (st == RS_OK && per_train < 1)
        st = rs_error(RS_ERR_ARG, "%s: testsize %lld leaves no training pairs (class sizes %lld and %lld)", ds->spec,
                      (long long)testsize, (long long)count[0], (long long)count[1]);
    if (st == RS_OK) {
        int64_t per = split == RS_SPLIT_TRAIN ? per_train : half;
        int64_t from0 = split == RS_SPLIT_TRAIN ? 0 : count[0] - half, from1 = split == RS_SPLIT_TRAIN ? 0 : count[1] - half;
        st = rs_task_fill(ds, lists[0], from0, lists[1], from1, per, pos, npos);
        rs_task_info *ti = &ds->task;
        *ti = (rs_task_info){.kind = 1, .size = d, .xi = t.xi, .gap = t.gap, .linf = t.linf, .pbc = (int32_t)t.pbc,
                             .quadrant = (int32_t)t.quadrant, .value = (float)(d * d) / 2.0f, .bgnoise = t.bgnoise,
                             .split_seed = (uint64_t)seed, .n_pairs = (int64_t)npos * (npos - 1) / 2,
                             .n_class = {count[0], count[1]}, .n_dropped = dropped, .testsize = testsize,
                             .per_class = per};
        ds->store = RS_STORE_TWOPOINTS;
        ds->channels = (int32_t)t.ch;
        ds->height = ds->width = d;
        ds->classes = 2;
        describe(ds, &t, half, per_train);
    }
    rs_free(lists[0]);
    rs_free(lists[1]);
    return st;
}
