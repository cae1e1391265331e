/* npy.c: datasets saved with numpy (`npy:DIR[,layout=nchw|nhwc]`): DIR/{train,test}_images.npy with
 * DIR/{train,test}_labels.npy (or the Keras-style x_train.npy / y_train.npy, x_test.npy / y_test.npy).
 * Images: uint8 (shown as x / 255, like ToTensor) or float32 (used as stored, every value must be finite), shape
 * (N, H, W) or (N, C, H, W) or (N, H, W, C); labels: integer (int64, int32 or uint8), shape (N) or (N, 1), >= 0;
 * the class count is 1 + the largest training label. The array file format itself is parsed by src/io/npy.c.
 * Not handled: float64 images (convert them to float32), one-hot labels, more than one array per file (.npz). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "data/data_internal.h"
#include "relstab/io.h"

#define NPY_MAX_CLASSES 100000

void rs_npy_release(struct rs_dataset_priv *p) {
    if (!p || !p->npy) return;
    rs_npy_free(p->npy);
    rs_free(p->npy);
    p->npy = NULL;
}

/* DIR/{train,test}_WHAT.npy or DIR/{x,y}_{train,test}.npy. */
static rs_status find_npy(const char *dir, const char *split_name, int labels, char *path, size_t cap) {
    if (snprintf(path, cap, "%s/%s_%s.npy", dir, split_name, labels ? "labels" : "images") >= (int)cap)
        return rs_error(RS_ERR_ARG, "directory path too long: %s", dir);
    if (access(path, R_OK) == 0) return RS_OK;
    snprintf(path, cap, "%s/%s_%s.npy", dir, labels ? "y" : "x", split_name);
    if (access(path, R_OK) == 0) return RS_OK;
    return rs_error(RS_ERR_IO, "no %s_%s.npy (or %s_%s.npy) in %s", split_name, labels ? "labels" : "images",
                    labels ? "y" : "x", split_name, dir);
}

/* Reads a label array as int32; checks its length against n (when n > 0); returns the largest label. */
static rs_status read_labels(const char *path, int64_t n, const char *images_path, int32_t **out, int32_t *max_label) {
    rs_npy a;
    RS_TRY(rs_npy_read(path, &a));
    rs_status st = RS_OK;
    int64_t len = a.ndim >= 1 ? a.shape[0] : 0;
    if (a.dtype != RS_DTYPE_I64 && a.dtype != RS_DTYPE_I32 && a.dtype != RS_DTYPE_U8)
        st = rs_error(RS_ERR_FORMAT, "%s: labels must be integers (int64, int32 or uint8), this array is %s", path,
                      rs_dtype_name(a.dtype));
    else if (a.ndim != 1 && !(a.ndim == 2 && a.shape[1] == 1))
        st = rs_error(RS_ERR_FORMAT, "%s: labels must have shape (N) or (N, 1), this array has %d dimensions", path,
                      (int)a.ndim);
    else if (len < 1)
        st = rs_error(RS_ERR_FORMAT, "%s: no labels", path);
    else if (n > 0 && len != n)
        st = rs_error(RS_ERR_FORMAT, "%s has %lld images but %s has %lld labels", images_path, (long long)n, path,
                      (long long)len);
    int32_t *labels = st == RS_OK ? rs_alloc((size_t)len * sizeof(int32_t)) : NULL;
    if (st == RS_OK && !labels) st = rs_error(RS_ERR_NOMEM, "cannot allocate the labels of %s", path);
    *max_label = 0;
    for (int64_t i = 0; st == RS_OK && i < len; i++) {
        int64_t v = a.dtype == RS_DTYPE_I64   ? ((const int64_t *)a.data)[i]
                    : a.dtype == RS_DTYPE_I32 ? ((const int32_t *)a.data)[i]
                                              : ((const uint8_t *)a.data)[i];
        if (v < 0 || v >= NPY_MAX_CLASSES)
            st = rs_error(RS_ERR_FORMAT, "%s: label %lld of image %lld is outside 0..%d", path, (long long)v,
                          (long long)i, NPY_MAX_CLASSES - 1);
        else {
            labels[i] = (int32_t)v;
            if (v > *max_label) *max_label = (int32_t)v;
        }
    }
    rs_npy_free(&a);
    if (st != RS_OK) {
        rs_free(labels);
        return st;
    }
    *out = labels;
    return RS_OK;
}

/* Channels / height / width and the layout (nhwc 0/1) from the image array's shape. */
typedef struct {
    int32_t c, h, w;
    int nhwc;
} npy_geometry;

static rs_status image_shape(npy_geometry *g, const rs_npy *a, const char *path, rs_layout layout) {
    if (a->dtype != RS_DTYPE_U8 && a->dtype != RS_DTYPE_F32)
        return rs_error(RS_ERR_FORMAT, "%s: images must be uint8 or float32, this array is %s", path,
                        rs_dtype_name(a->dtype));
    if (a->ndim != 3 && a->ndim != 4)
        return rs_error(RS_ERR_FORMAT, "%s: images must have shape (N, H, W), (N, C, H, W) or (N, H, W, C), this "
                        "array has %d dimensions", path, (int)a->ndim);
    for (int32_t k = 0; k < a->ndim; k++)
        if (a->shape[k] < 1 || a->shape[k] > INT32_MAX)
            return rs_error(RS_ERR_FORMAT, "%s: dimension %d of the images is %lld", path, (int)k,
                            (long long)a->shape[k]);
    int nhwc = 0;
    if (a->ndim == 4) {
        /* AUTO: the channel axis is the smaller of axes 1 and 3 (a tie means NCHW) */
        nhwc = layout == RS_LAYOUT_NHWC || (layout == RS_LAYOUT_AUTO && a->shape[3] < a->shape[1]);
    }
    int64_t c = a->ndim == 3 ? 1 : nhwc ? a->shape[3] : a->shape[1];
    if (c > RS_DATA_MAXCH)
        return rs_error(RS_ERR_UNSUPPORTED, "%s: %lld channels in the %s layout (at most %d; give layout=nchw or "
                        "layout=nhwc if the guess is wrong)", path, (long long)c, nhwc ? "NHWC" : "NCHW",
                        RS_DATA_MAXCH);
    g->nhwc = nhwc;
    g->c = (int32_t)c;
    g->h = (int32_t)(a->ndim == 3 ? a->shape[1] : nhwc ? a->shape[1] : a->shape[2]);
    g->w = (int32_t)(a->ndim == 3 ? a->shape[2] : nhwc ? a->shape[2] : a->shape[3]);
    return RS_OK;
}

/* The other split's image shape from its header; nothing to compare when it has no images file. */
static rs_status check_other_split(const rs_dataset *ds, const char *dir, int split, rs_layout layout,
                                   const char *own_path) {
    char path[4200];
    if (find_npy(dir, split == RS_SPLIT_TRAIN ? "test" : "train", 0, path, sizeof path) != RS_OK) {
        rs_clear_error();
        return RS_OK;
    }
    rs_npy a;
    npy_geometry g;
    RS_TRY(rs_npy_read_header(path, &a));
    RS_TRY(image_shape(&g, &a, path, layout));
    return rs_data_check_other_split(ds, own_path, path, g.c, g.h, g.w);
}

rs_status rs_npy_open(rs_dataset *ds, const char *dir_and_opts, int split, rs_layout layout) {
    struct rs_dataset_priv *p = ds->priv;
    if (split == RS_SPLIT_VAL) return rs_error(RS_ERR_ARG, "npy datasets have only a train and a test split");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", dir_and_opts);
    char *opt = strstr(dir, ",layout=");
    if (opt) {
        const char *v = opt + strlen(",layout=");
        rs_layout l = !strcmp(v, "nchw") ? RS_LAYOUT_NCHW : !strcmp(v, "nhwc") ? RS_LAYOUT_NHWC : RS_LAYOUT_AUTO;
        if (l == RS_LAYOUT_AUTO) return rs_error(RS_ERR_ARG, "%s: layout must be nchw or nhwc, got '%s'", ds->spec, v);
        if (layout != RS_LAYOUT_AUTO && layout != l)
            return rs_error(RS_ERR_ARG, "%s: layout=%s disagrees with the layout of the options", ds->spec, v);
        layout = l;
        *opt = 0;
    }
    const char *name = split == RS_SPLIT_TRAIN ? "train" : "test";
    char ipath[4200], lpath[4200];
    RS_TRY(find_npy(dir, name, 0, ipath, sizeof ipath));
    RS_TRY(find_npy(dir, name, 1, lpath, sizeof lpath));
    rs_npy *a = rs_calloc(sizeof *a);
    if (!a) return rs_error(RS_ERR_NOMEM, "cannot allocate an array");
    p->npy = a;
    RS_TRY(rs_npy_read(ipath, a));
    npy_geometry g;
    RS_TRY(image_shape(&g, a, ipath, layout));
    p->nhwc = g.nhwc;
    ds->channels = g.c;
    ds->height = g.h;
    ds->width = g.w;
    RS_TRY(check_other_split(ds, dir, split, layout, ipath));
    p->n_source = a->shape[0];
    int64_t per = (int64_t)ds->channels * ds->height * ds->width;
    if (a->dtype == RS_DTYPE_F32) {
        const float *f = a->data;
        for (int64_t k = 0; k < p->n_source * per; k++)
            if (!isfinite(f[k]))
                return rs_error(RS_ERR_FORMAT, "%s: image %lld has a non-finite value (%g)", ipath,
                                (long long)(k / per), (double)f[k]);
        p->f32 = f;
        ds->store = RS_STORE_F32;
    } else {
        p->u8 = a->data;
        ds->store = RS_STORE_U8;
    }
    int32_t max_label = 0, train_max = 0;
    RS_TRY(read_labels(lpath, p->n_source, ipath, &p->labels, &max_label));
    train_max = max_label;
    if (split != RS_SPLIT_TRAIN) {
        char tpath[4200];
        int32_t *train_labels = NULL;
        RS_TRY(find_npy(dir, "train", 1, tpath, sizeof tpath));
        RS_TRY(read_labels(tpath, 0, NULL, &train_labels, &train_max));
        rs_free(train_labels);
        if (max_label > train_max)
            return rs_error(RS_ERR_FORMAT, "%s: label %d, but the training labels (%s) stop at %d", lpath,
                            (int)max_label, tpath, (int)train_max);
    }
    ds->classes = train_max + 1;
    snprintf(p->describe, sizeof p->describe, "file       %s (%lld x %d x %d x %d %s, %s)\nfile       %s (labels)\n", ipath,
             (long long)p->n_source, (int)ds->channels, (int)ds->height, (int)ds->width,
             a->dtype == RS_DTYPE_F32 ? "float32" : "uint8", a->ndim == 3 ? "N H W" : p->nhwc ? "NHWC" : "NCHW",
             lpath);
    return RS_OK;
}
