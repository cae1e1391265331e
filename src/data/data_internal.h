/* data_internal.h: what the files of src/data share: the storage behind an rs_dataset, the format parsers
 * (exposed here for the tests and the fuzz targets), the task generators and the spec key=value helpers.
 * It is not public API: include/relstab/data.h is. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "relstab/data.h"

/* Files bigger than this are refused before anything is allocated (64 GiB). */
#define RS_DATA_MAX_BYTES ((size_t)1 << 36)

struct rs_dataset_priv {
    int64_t n_source;       /* images in the split before the ptr subset */
    int64_t *subset;        /* (n) source index of dataset image i, or NULL (identity) */
    int32_t *labels;        /* (n_source) class index */
    /* RS_STORE_U8 / RS_STORE_F32 */
    const uint8_t *u8;      /* (n_source, C, H, W) or (n_source, H, W, C) when nhwc */
    const float *f32;       /* likewise */
    int32_t nhwc;
    void *owned;            /* buffer freed with rs_free */
    void *npy;              /* an rs_npy (io.h) freed with rs_npy_free */
    /* tasks: image s has its active pixels at positions pa[s], pb[s] (row * W + col) */
    uint16_t *pa, *pb;      /* (n_source) */
    char describe[12288];
};

/* ---------------------------------------------------------------- split consistency */
/* Both splits of a file dataset must have one image shape (a model is built for one). Compares ds's shape with
 * the other split's (c, h, w, read from other_path's header) and refuses a difference naming both shapes. */
rs_status rs_data_check_other_split(const rs_dataset *ds, const char *own_path, const char *other_path, int32_t c,
                                    int32_t h, int32_t w);

/* ---------------------------------------------------------------- IDX */
typedef struct {
    int32_t ndim;
    int64_t dims[4];
    const uint8_t *data; /* (dims[0], ..., dims[ndim-1]) uint8 */
    size_t nbytes;
    void *owned;         /* the inflated file when the input was gzip (rs_free), else NULL: data points into buf */
} rs_idx;
/* Parses an IDX image in memory, plain or gzip (detected by its magic). Only unsigned-byte data (type 0x08),
 * 1 to 4 dimensions, each > 0; the data size must equal the header's dims exactly. source names the file. */
rs_status rs_idx_parse(const void *buf, size_t len, const char *source, rs_idx *out);
void rs_idx_free(rs_idx *a);
/* Inflates a gzip member in memory into out (rs_alloc'd, *out_len bytes). The size is found from the IDX
 * header inside, with caps: no more than RS_DATA_MAX_BYTES and no more than deflate's 1032:1 ratio allows. */
rs_status rs_gunzip_idx(const uint8_t *buf, size_t len, const char *source, uint8_t **out, size_t *out_len);

rs_status rs_idx_open(rs_dataset *ds, const char *kind, const char *dir, int split);

/* ---------------------------------------------------------------- CIFAR binary */
/* classes_kind 10 (record: label, 3072 pixels) or 100 (record: coarse label, fine label, 3072 pixels).
 * Checks that len is a whole number (> 0) of records (equal to expect_records when that is > 0) and every label
 * is in range; returns the record count. */
rs_status rs_cifar_check(const void *buf, size_t len, const char *source, int32_t classes_kind,
                         int64_t expect_records, int64_t *records);
/* Copies the pixels (records, 3, 32, 32) and the labels (fine labels for CIFAR-100) of a checked buffer. */
void rs_cifar_extract(const void *buf, int64_t records, int32_t classes_kind, uint8_t *images, int32_t *labels);

rs_status rs_cifar_open(rs_dataset *ds, const char *kind, const char *dir, int split);

/* ---------------------------------------------------------------- NPY */
rs_status rs_npy_open(rs_dataset *ds, const char *dir_and_opts, int split, rs_layout layout);

/* ---------------------------------------------------------------- spec "key=value,key=value" */
#define RS_KV_MAX 24
typedef struct {
    char key[32];
    char val[96];
    int used;
} rs_kv;
/* Splits opts (may be NULL or "") into at most RS_KV_MAX pairs; an entry without '=' or an overlong one is an
 * error naming spec. Returns the count in *n. */
rs_status rs_kv_split(const char *opts, const char *spec, rs_kv *kv, int *n);
/* Looks key up (marks it used): returns 1 and sets *out when present and valid, 0 when absent; on a bad value
 * returns -1 after setting the error message. */
int rs_kv_int(rs_kv *kv, int n, const char *key, const char *spec, int64_t lo, int64_t hi, int64_t *out);
int rs_kv_double(rs_kv *kv, int n, const char *key, const char *spec, double lo, double hi, double *out);
const char *rs_kv_str(rs_kv *kv, int n, const char *key);
/* RS_ERR_ARG naming the first key that was never looked up (an unknown key), else RS_OK. */
rs_status rs_kv_check_unused(const rs_kv *kv, int n, const char *spec, const char *known);

/* ---------------------------------------------------------------- tasks */
/* Generate the pair lists, split them and fill ds and ds->priv (pa, pb, labels). twopoints may set opt->ptr from
 * its own ptr key (which also decides its default testsize). */
rs_status rs_twopoints_open(rs_dataset *ds, const char *opts, int split, rs_data_options *opt);
rs_status rs_scale1d_open(rs_dataset *ds, const char *opts, int split, rs_data_options *opt);
/* The keys both tasks have: labels=class|hinge (default hinge) and seed (default 123456789). */
rs_status rs_task_common_keys(rs_kv *kv, int nkv, const char *spec, rs_dataset *ds, int64_t *seed);
/* The class of the pair of positions a < b of a task: 0, 1, or -1 (dropped). */
typedef int (*rs_pair_class_fn)(const void *ctx, uint32_t a, uint32_t b);
/* Builds the two class lists of pair codes a * npos + b over every pair a < b of npos positions (two passes:
 * count, then fill), with the counts and the number of dropped pairs. */
rs_status rs_task_pair_lists(uint32_t npos, rs_pair_class_fn cls, const void *ctx, uint32_t *lists[2],
                             int64_t count[2], int64_t *dropped);
/* Shuffles list (n entries) by a permutation from (seed, RS_PURPOSE_SPLIT, sub-stream a, b). */
rs_status rs_task_shuffle(uint32_t *list, int64_t n, uint64_t seed, uint32_t a, uint32_t b);
/* Fills ds->priv pa / pb / labels with n_per_class pairs of class 0 (list0[from0 ..]) then of class 1. Pair codes
 * are a * npos + b over the position table pos (pixel index row * W + col). */
rs_status rs_task_fill(rs_dataset *ds, const uint32_t *list0, int64_t from0, const uint32_t *list1, int64_t from1,
                       int64_t n_per_class, const uint16_t *pos, uint32_t npos);

/* ---------------------------------------------------------------- rendering and transforms (transforms.c) */
/* Image s of the split (source index) in raw float values, (C, H, W). */
void rs_data_render_raw(const rs_dataset *ds, int64_t s, float *x);
/* A task image from explicit points pa, pb (positions row * W + col), with the background noise of source s. */
void rs_data_render_points(const rs_dataset *ds, int64_t s, int32_t pa, int32_t pb, float *x);
/* Crop / flip (training split only, if enabled), in place with scratch (C*H*W floats); source index s. */
void rs_data_augment(const rs_dataset *ds, int64_t s, uint64_t epoch, float *x, float *scratch);
/* Normalisation then corruption, in place. */
void rs_data_finish(const rs_dataset *ds, int64_t s, uint64_t epoch, float *x);
/* Per-channel mean / std over all source images (all_source) or over the dataset's n images. */
rs_status rs_data_stats(const rs_dataset *ds, int all_source, int normalised, double *mean, double *std);
/* Sets ds->normalise / mean / std from the options (may open the training split for RS_NORM_COMPUTED). */
rs_status rs_data_setup_norm(rs_dataset *ds, const rs_data_options *opt);
/* Reference constants for a dataset name: returns 1 and fills mean/std (channels values) if it has them. */
int rs_data_reference_norm(const char *name, int32_t channels, float *mean, float *std);
