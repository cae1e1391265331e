/* dataset.c: the one dataset interface. Parses a spec ("fashionmnist", "cifar10:DIR", "twopoints:xi=14,..."),
 * dispatches to the loader or generator, sets up normalisation, augmentation, corruption and the training subset,
 * and builds float batches from indices. Also the "key=value,..." helpers of the task specs.
 * Not here: the formats themselves (idx.c, cifar.c, npy.c), the tasks (twopoints.c, scale1d.c) and the per-image
 * transforms (transforms.c). */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

#define FASHIONMNIST_DEBIAN_DIR "/usr/share/datasets/fashion-mnist"

void rs_data_options_default(rs_data_options *opt) { memset(opt, 0, sizeof *opt); }

/* ---------------------------------------------------------------- key=value lists */

rs_status rs_kv_split(const char *opts, const char *spec, rs_kv *kv, int *n) {
    *n = 0;
    if (!opts || !*opts) return RS_OK;
    const char *p = opts;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq || eq == p)
            return rs_error(RS_ERR_ARG, "%s: expected key=value, got '%.*s'", spec, (int)len, p);
        size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
        if (*n == RS_KV_MAX) return rs_error(RS_ERR_ARG, "%s: more than %d key=value options", spec, RS_KV_MAX);
        if (klen >= sizeof kv->key || vlen >= sizeof kv->val || vlen == 0)
            return rs_error(RS_ERR_ARG, "%s: bad option '%.*s'", spec, (int)len, p);
        rs_kv *e = &kv[*n];
        memcpy(e->key, p, klen);
        e->key[klen] = 0;
        memcpy(e->val, eq + 1, vlen);
        e->val[vlen] = 0;
        e->used = 0;
        for (int k = 0; k < *n; k++)
            if (!strcmp(kv[k].key, e->key)) return rs_error(RS_ERR_ARG, "%s: '%s' given twice", spec, e->key);
        (*n)++;
        if (!end) break;
        p = end + 1;
    }
    return RS_OK;
}

static rs_kv *kv_find(rs_kv *kv, int n, const char *key) {
    for (int k = 0; k < n; k++)
        if (!strcmp(kv[k].key, key)) {
            kv[k].used = 1;
            return &kv[k];
        }
    return NULL;
}

const char *rs_kv_str(rs_kv *kv, int n, const char *key) {
    rs_kv *e = kv_find(kv, n, key);
    return e ? e->val : NULL;
}

int rs_kv_int(rs_kv *kv, int n, const char *key, const char *spec, int64_t lo, int64_t hi, int64_t *out) {
    rs_kv *e = kv_find(kv, n, key);
    if (!e) return 0;
    char *end;
    errno = 0;
    long long v = strtoll(e->val, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        rs_error(RS_ERR_ARG, "%s: %s must be an integer in %lld..%lld, got '%s'", spec, key, (long long)lo,
                 (long long)hi, e->val);
        return -1;
    }
    *out = v;
    return 1;
}

int rs_kv_double(rs_kv *kv, int n, const char *key, const char *spec, double lo, double hi, double *out) {
    rs_kv *e = kv_find(kv, n, key);
    if (!e) return 0;
    char *end;
    errno = 0;
    double v = strtod(e->val, &end);
    if (errno || *end || !isfinite(v) || v < lo || v > hi) {
        rs_error(RS_ERR_ARG, "%s: %s must be a number in %g..%g, got '%s'", spec, key, lo, hi, e->val);
        return -1;
    }
    *out = v;
    return 1;
}

rs_status rs_kv_check_unused(const rs_kv *kv, int n, const char *spec, const char *known) {
    for (int k = 0; k < n; k++)
        if (!kv[k].used) return rs_error(RS_ERR_ARG, "%s: unknown option '%s' (known: %s)", spec, kv[k].key, known);
    return RS_OK;
}

/* ---------------------------------------------------------------- split consistency */
rs_status rs_data_check_other_split(const rs_dataset *ds, const char *own_path, const char *other_path, int32_t c,
                                    int32_t h, int32_t w) {
    if (c == ds->channels && h == ds->height && w == ds->width) return RS_OK;
    int own_train = ds->split == RS_SPLIT_TRAIN;
    int32_t tc = own_train ? ds->channels : c, th = own_train ? ds->height : h, tw = own_train ? ds->width : w;
    int32_t ec = own_train ? c : ds->channels, eh = own_train ? h : ds->height, ew = own_train ? w : ds->width;
    return rs_error(RS_ERR_FORMAT, "%s: the training images are %dx%dx%d (%s) but the test images are %dx%dx%d (%s); "
                    "both splits must have one image shape (channels x height x width)", ds->spec, (int)tc, (int)th,
                    (int)tw, own_train ? own_path : other_path, (int)ec, (int)eh, (int)ew,
                    own_train ? other_path : own_path);
}

/* ---------------------------------------------------------------- open / free */

static rs_status check_options(const rs_data_options *opt, int split) {
    if (split != RS_SPLIT_TRAIN && split != RS_SPLIT_TEST && split != RS_SPLIT_VAL)
        return rs_error(RS_ERR_ARG, "unknown split %d (1 train, 0 test, 2 validation)", split);
    if (opt->crop_padding < 0 || opt->crop_padding > 4096)
        return rs_error(RS_ERR_ARG, "crop padding must be in 0..4096, got %d", (int)opt->crop_padding);
    if (!(opt->corrupt_std >= 0) || !isfinite(opt->corrupt_std))
        return rs_error(RS_ERR_ARG, "corruption std must be a finite number >= 0, got %g", opt->corrupt_std);
    if (opt->ptr < 0) return rs_error(RS_ERR_ARG, "ptr must be >= 0, got %lld", (long long)opt->ptr);
    return RS_OK;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The training subset: the first ptr of a permutation from (subset_seed, RS_PURPOSE_SUBSET), sorted. */
static rs_status make_subset(rs_dataset *ds, const rs_data_options *opt) {
    struct rs_dataset_priv *p = ds->priv;
    ds->n = p->n_source;
    if (ds->split != RS_SPLIT_TRAIN || opt->ptr == 0) return RS_OK;
    if (opt->ptr > p->n_source)
        return rs_error(RS_ERR_ARG, "%s: ptr %lld is larger than the training split (%lld images)", ds->spec,
                        (long long)opt->ptr, (long long)p->n_source);
    int64_t *perm = rs_alloc((size_t)p->n_source * sizeof(int64_t));
    if (!perm) return rs_error(RS_ERR_NOMEM, "cannot allocate the ptr subset of %s", ds->spec);
    rs_permutation(perm, p->n_source, opt->subset_seed, rs_stream(RS_PURPOSE_SUBSET, 0, 0));
    qsort(perm, (size_t)opt->ptr, sizeof(int64_t), cmp_i64);
    p->subset = perm; /* only the first ptr entries are used */
    ds->n = opt->ptr;
    return RS_OK;
}

static rs_status open_source(rs_dataset *ds, const char *kind, const char *rest, int split, rs_data_options *opt) {
    if (!strcmp(kind, "twopoints")) return rs_twopoints_open(ds, rest, split, opt);
    if (!strcmp(kind, "scale1d")) return rs_scale1d_open(ds, rest, split, opt);
    int dir_given = rest && *rest;
    if (!strcmp(kind, "fashionmnist"))
        return rs_idx_open(ds, kind, dir_given ? rest : FASHIONMNIST_DEBIAN_DIR, split);
    if (!strcmp(kind, "mnist") || !strcmp(kind, "idx") || !strcmp(kind, "cifar10") || !strcmp(kind, "cifar100") ||
        !strcmp(kind, "npy")) {
        if (!dir_given) return rs_error(RS_ERR_ARG, "%s needs a directory: %s:DIR", kind, kind);
        if (kind[0] == 'c') return rs_cifar_open(ds, kind, rest, split);
        if (kind[0] == 'n') return rs_npy_open(ds, rest, split, opt->npy_layout);
        return rs_idx_open(ds, kind, rest, split);
    }
    return rs_error(RS_ERR_ARG,
                    "unknown dataset '%s' (known: fashionmnist[:DIR], mnist:DIR, idx:DIR, cifar10:DIR, cifar100:DIR, "
                    "npy:DIR, twopoints[:k=v,...], scale1d[:k=v,...])",
                    kind);
}

static rs_status finish_open(rs_dataset *ds, const rs_data_options *opt) {
    if (ds->channels < 1 || ds->channels > RS_DATA_MAXCH)
        return rs_error(RS_ERR_UNSUPPORTED, "%s: %d channels (at most %d are supported)", ds->spec, (int)ds->channels,
                        RS_DATA_MAXCH);
    int augment = opt->crop_padding > 0 || opt->hflip;
    if (augment && ds->task.kind)
        return rs_error(RS_ERR_ARG, "%s: random crop and flip are not defined for the scale-detection tasks "
                        "(as in the reference)", ds->spec);
    if (ds->split == RS_SPLIT_TRAIN) {
        ds->crop_padding = opt->crop_padding;
        ds->hflip = opt->hflip != 0;
    }
    ds->corrupt_std = opt->corrupt_std;
    RS_TRY(rs_data_setup_norm(ds, opt));
    return make_subset(ds, opt);
}

rs_status rs_dataset_open(const char *spec, int train, const rs_data_options *opt_in, rs_dataset **out) {
    *out = NULL;
    rs_data_options opt;
    if (opt_in)
        opt = *opt_in;
    else
        rs_data_options_default(&opt);
    RS_TRY(check_options(&opt, train));
    if (!spec || !*spec) return rs_error(RS_ERR_ARG, "empty dataset spec");
    rs_dataset *ds = rs_calloc(sizeof *ds);
    if (!ds) return rs_error(RS_ERR_NOMEM, "cannot allocate a dataset");
    ds->priv = rs_calloc(sizeof *ds->priv);
    if (!ds->priv) {
        rs_free(ds);
        return rs_error(RS_ERR_NOMEM, "cannot allocate a dataset");
    }
    rs_status st = RS_OK;
    if (strlen(spec) >= sizeof ds->spec) st = rs_error(RS_ERR_ARG, "dataset spec too long: %.80s...", spec);
    const char *colon = strchr(spec, ':');
    size_t klen = colon ? (size_t)(colon - spec) : strlen(spec);
    if (st == RS_OK && klen >= sizeof ds->name) st = rs_error(RS_ERR_ARG, "unknown dataset '%.40s'", spec);
    if (st == RS_OK) {
        snprintf(ds->spec, sizeof ds->spec, "%s", spec);
        memcpy(ds->name, spec, klen);
        ds->name[klen] = 0;
        ds->split = train;
        ds->seed = opt.seed;
        ds->label_kind = RS_LABEL_CLASS;
        st = open_source(ds, ds->name, colon ? colon + 1 : NULL, train, &opt);
    }
    if (st == RS_OK) st = finish_open(ds, &opt);
    if (st != RS_OK) {
        rs_dataset_free(ds);
        return st;
    }
    *out = ds;
    return RS_OK;
}

void rs_npy_release(struct rs_dataset_priv *p); /* npy.c */

void rs_dataset_free(rs_dataset *ds) {
    if (!ds) return;
    struct rs_dataset_priv *p = ds->priv;
    if (p) {
        rs_free(p->subset);
        rs_free(p->labels);
        rs_free(p->owned);
        rs_free(p->pa);
        rs_free(p->pb);
        rs_npy_release(p);
        rs_free(p);
    }
    rs_free(ds);
}

/* ---------------------------------------------------------------- access */

static inline int64_t source_index(const rs_dataset *ds, int64_t i) {
    return ds->priv->subset ? ds->priv->subset[i] : i;
}

static rs_status check_indices(const rs_dataset *ds, const int64_t *indices, int32_t n) {
    if (n < 0) return rs_error(RS_ERR_ARG, "negative batch size %d", (int)n);
    for (int32_t i = 0; i < n; i++)
        if (indices[i] < 0 || indices[i] >= ds->n)
            return rs_error(RS_ERR_ARG, "image index %lld is outside 0..%lld of %s", (long long)indices[i],
                            (long long)ds->n - 1, ds->spec);
    return RS_OK;
}

int32_t rs_dataset_label(const rs_dataset *ds, int64_t i) {
    RS_ASSERT(i >= 0 && i < ds->n);
    return ds->priv->labels[source_index(ds, i)];
}

void rs_dataset_label_histogram(const rs_dataset *ds, int64_t *counts) {
    memset(counts, 0, (size_t)ds->classes * sizeof(int64_t));
    for (int64_t i = 0; i < ds->n; i++) counts[rs_dataset_label(ds, i)]++;
}

const char *rs_dataset_describe(const rs_dataset *ds) { return ds->priv->describe; }

static void write_labels(const rs_dataset *ds, const int64_t *indices, int32_t n, int32_t *labels, float *targets) {
    for (int32_t i = 0; i < n; i++) {
        int32_t y = rs_dataset_label(ds, indices[i]);
        if (labels) labels[i] = y;
        if (targets) targets[i] = y >= ds->classes / 2 ? 1.0f : -1.0f;
    }
}

rs_status rs_dataset_batch(const rs_dataset *ds, const int64_t *indices, int32_t n, uint64_t epoch, float *x,
                           int32_t *labels, float *targets) {
    RS_TRY(check_indices(ds, indices, n));
    int64_t chw = (int64_t)ds->channels * ds->height * ds->width;
    int augment = ds->crop_padding > 0 || ds->hflip;
    int nthreads = omp_get_max_threads();
    float *scratch = NULL;
    if (augment && n > 0) {
        scratch = rs_alloc((size_t)nthreads * (size_t)chw * sizeof(float));
        if (!scratch) return rs_error(RS_ERR_NOMEM, "cannot allocate the augmentation scratch of %s", ds->spec);
    }
#pragma omp parallel for schedule(static) if ((int64_t)n * chw > 65536)
    for (int32_t i = 0; i < n; i++) {
        int64_t s = source_index(ds, indices[i]);
        float *xi = x + (int64_t)i * chw;
        rs_data_render_raw(ds, s, xi);
        if (augment) rs_data_augment(ds, s, epoch, xi, scratch + (size_t)omp_get_thread_num() * (size_t)chw);
        rs_data_finish(ds, s, epoch, xi);
    }
    rs_free(scratch);
    write_labels(ds, indices, n, labels, targets);
    return RS_OK;
}

int32_t rs_dataset_task_points(const rs_dataset *ds, int64_t i, int32_t *rc) {
    if (!ds->task.kind) return 0;
    RS_ASSERT(i >= 0 && i < ds->n);
    int64_t s = source_index(ds, i);
    int32_t w = ds->width, pa = ds->priv->pa[s], pb = ds->priv->pb[s];
    rc[0] = pa / w;
    rc[1] = pa % w;
    rc[2] = pb / w;
    rc[3] = pb % w;
    return 2;
}

rs_status rs_dataset_batch_points(const rs_dataset *ds, const int64_t *indices, const int32_t *rc, int32_t n,
                                  uint64_t epoch, float *x) {
    if (!ds->task.kind)
        return rs_error(RS_ERR_ARG, "%s is not a scale-detection task: it has no active pixels to move", ds->spec);
    RS_TRY(check_indices(ds, indices, n));
    for (int32_t i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            int32_t r = rc[4 * i + 2 * k], c = rc[4 * i + 2 * k + 1];
            if (r < 0 || r >= ds->height || c < 0 || c >= ds->width)
                return rs_error(RS_ERR_ARG, "active pixel (%d, %d) of batch image %d is outside the %d x %d image",
                                (int)r, (int)c, (int)i, (int)ds->height, (int)ds->width);
        }
    int64_t chw = (int64_t)ds->channels * ds->height * ds->width;
#pragma omp parallel for schedule(static) if ((int64_t)n * chw > 65536)
    for (int32_t i = 0; i < n; i++) {
        int64_t s = source_index(ds, indices[i]);
        const int32_t *q = rc + 4 * i;
        float *xi = x + (int64_t)i * chw;
        rs_data_render_points(ds, s, q[0] * ds->width + q[1], q[2] * ds->width + q[3], xi);
        rs_data_finish(ds, s, epoch, xi);
    }
    return RS_OK;
}
