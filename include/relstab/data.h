/* data.h: datasets behind one interface. Real images from IDX (MNIST, FashionMNIST, plain or .gz), the CIFAR-10 /
 * CIFAR-100 binary version and NPY arrays; the paper's two scale-detection tasks (SPEC.md 5.1 and 5.2) generated
 * from a seed; and the per-batch transforms (normalisation, random crop and flip, the paper's Gaussian corruption).
 *
 * Images are stored once, in their native type (uint8 for IDX / CIFAR / uint8 NPY, float for float32 NPY), or,
 * for the tasks, as the list of active-pixel pairs (never as 285k materialised images). The float conversion,
 * augmentation, normalisation and corruption happen per batch in rs_dataset_batch. Every random draw there is a
 * function of (seed, purpose, image index, epoch) only, so a batch is bit-identical whatever the thread count and
 * whichever other images share the batch.
 *
 * This is not a data loader with prefetching or shuffling: the caller (the trainer) picks the indices and the
 * order (RS_PURPOSE_ORDER), this module turns indices into float tensors. */
#pragma once
#include <stdint.h>

#include "relstab/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RS_DATA_MAXCH 16 /* most channels a dataset may have (NPY arrays with more are refused) */

/* The `train` argument of rs_dataset_open. RS_SPLIT_VAL exists only for scale1d (the reference's validation part). */
enum { RS_SPLIT_TEST = 0, RS_SPLIT_TRAIN = 1, RS_SPLIT_VAL = 2 };

/* Which loss the labels are meant for. Both forms are always available from rs_dataset_batch: the class index, and
 * the sign target = +1 if class >= classes/2 else -1 (the reference's hinge conversion: twopoints "close" = +1,
 * scale1d "same block" = +1). */
typedef enum {
    RS_LABEL_CLASS = 0, /* cross-entropy over `classes` */
    RS_LABEL_SIGN = 1,  /* one output, hinge loss on +-1 targets */
} rs_label_kind;

typedef enum {
    RS_NORM_REFERENCE = 0, /* the reference's constants: CIFAR-10 mean (0.4914, 0.4822, 0.4465) std (0.2023, 0.1994,
                              0.2010); FashionMNIST 0.5 / 0.5; MNIST, CIFAR-100, idx, npy and the tasks: none */
    RS_NORM_NONE = 1,      /* raw values: uint8 / 255, float NPY as stored, task pixels as generated */
    RS_NORM_COMPUTED = 2,  /* per-channel mean and std of the whole training split (raw values) */
    RS_NORM_GIVEN = 3,     /* norm_mean / norm_std of the options */
} rs_norm_kind;

typedef enum { RS_LAYOUT_AUTO = 0, RS_LAYOUT_NCHW = 1, RS_LAYOUT_NHWC = 2 } rs_layout;

typedef enum {
    RS_STORE_U8 = 0,        /* uint8 pixels, shown as x / 255 */
    RS_STORE_F32 = 1,       /* float pixels as stored */
    RS_STORE_TWOPOINTS = 2, /* generated from the pair list */
    RS_STORE_SCALE1D = 3,   /* generated from the pair list */
} rs_store_kind;

/* Options of rs_dataset_open. A zero-initialised struct (or NULL) means: reference normalisation, no augmentation,
 * no corruption, the whole split, seeds 0. */
typedef struct {
    rs_norm_kind norm;
    float norm_mean[RS_DATA_MAXCH], norm_std[RS_DATA_MAXCH]; /* RS_NORM_GIVEN only; std > 0 */
    /* Augmentation, applied to the TRAINING split only (as the reference): a random crop of the same size from the
     * image zero-padded by crop_padding pixels on each side (0 = off), then a horizontal flip with probability 1/2
     * (hflip != 0). Drawn from (seed, RS_PURPOSE_AUGMENT, epoch, image). */
    int32_t crop_padding;
    int32_t hflip;
    /* Gaussian corruption (SPEC 3.2), applied to every split after normalisation: x + std * z / sqrt(C*H*W),
     * z ~ N(0, I) drawn from (seed, RS_PURPOSE_CORRUPT, epoch, image), so redrawn at every epoch. 0 = off. */
    double corrupt_std;
    /* Training-subset size: a random subset of ptr images of the training split, drawn from
     * (subset_seed, RS_PURPOSE_SUBSET), kept in increasing index order. 0 = the whole split. Ignored for the test
     * split. For twopoints a ptr given here also sets the default testsize (4 * ptr, as the reference's training). */
    int64_t ptr;
    uint64_t subset_seed;
    uint64_t seed; /* augmentation, corruption, twopoints background noise */
    rs_layout npy_layout; /* npy: which axis holds the channels (AUTO: see docs/formats.md) */
} rs_data_options;
void rs_data_options_default(rs_data_options *opt); /* = zero-initialised */

/* Parameters and counts of a scale-detection task (kind 0 for real datasets). */
typedef struct {
    int32_t kind;       /* 0 none, 1 twopoints, 2 scale1d */
    int32_t size;       /* twopoints: d (image d x d); scale1d: L (image 1 x L) */
    double xi, gap;
    int32_t linf;       /* twopoints: 1 = Linf distance, 0 = L2 */
    int32_t pbc;        /* twopoints: periodic distance */
    int32_t quadrant;   /* twopoints: quadrant labelling instead of distance */
    int32_t task;       /* scale1d: 1 (circular distance with gap) or 2 (same block of size xi) */
    float value;        /* active pixel value: d^2/2 (twopoints), sqrt(magn) (scale1d) */
    double bgnoise;     /* twopoints: std of the fixed per-image background noise */
    uint64_t split_seed;
    int64_t n_pairs;    /* all pairs of active pixels */
    int64_t n_class[2]; /* pairs of class 0 and class 1 (twopoints: far / close; scale1d: other / same block) */
    int64_t n_dropped;  /* pairs in the gap, in neither class */
    int64_t testsize;   /* twopoints: test points (ceil(testsize/2) per class) */
    int64_t per_class;  /* images of each class in this split, before the ptr subset */
    int64_t ntrain, nval; /* scale1d: train and validation sizes */
} rs_task_info;

/* A dataset split. The fields are read-only for users; priv holds the storage. */
typedef struct rs_dataset {
    char name[32];     /* "fashionmnist", "mnist", "idx", "cifar10", "cifar100", "npy", "twopoints", "scale1d" */
    char spec[512];    /* the spec it was opened from */
    int32_t split;     /* RS_SPLIT_* */
    int64_t n;         /* images (after the ptr subset) */
    int32_t channels, height, width;
    int32_t classes;
    rs_label_kind label_kind;
    rs_store_kind store;
    /* what rs_dataset_batch applies */
    rs_norm_kind norm;
    int32_t normalise; /* 0: no normalisation in effect */
    float mean[RS_DATA_MAXCH], std[RS_DATA_MAXCH];
    int32_t crop_padding, hflip; /* 0 for the test split */
    double corrupt_std;
    uint64_t seed;
    rs_task_info task;
    struct rs_dataset_priv *priv;
} rs_dataset;

/* Opens split `train` (RS_SPLIT_TRAIN, RS_SPLIT_TEST or RS_SPLIT_VAL) of the dataset named by spec:
 *   fashionmnist              Debian's dataset-fashion-mnist files in /usr/share/datasets/fashion-mnist/
 *   fashionmnist:DIR, mnist:DIR, idx:DIR   IDX files {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] in DIR
 *   cifar10:DIR, cifar100:DIR the binary version (DIR or DIR/cifar-10-batches-bin, DIR/cifar-100-binary)
 *   npy:DIR[,layout=nchw|nhwc]   {train,test}_{images,labels}.npy (uint8 or float32 images)
 *   twopoints[:key=value,...] d, xi, gap, norm=L2|Linf, pbc, ptr, testsize, seed, labels=class|hinge, quadrant,
 *                             bgnoise, ch
 *   scale1d[:key=value,...]   L, xi, task=1|2, gap, magn, ntrain, nval, seed, labels=class|hinge
 * opt may be NULL (defaults). On error *out is NULL and the message names the file or key and the problem. */
rs_status rs_dataset_open(const char *spec, int train, const rs_data_options *opt, rs_dataset **out);
void rs_dataset_free(rs_dataset *ds);

/* Fills x (n, C, H, W) float with images indices[0..n) (each in [0, ds->n)) after augmentation, normalisation and
 * corruption for `epoch`; labels (n) with class indices and targets (n) with +-1 signs when not NULL. Thread-safe
 * for concurrent calls on the same dataset. */
rs_status rs_dataset_batch(const rs_dataset *ds, const int64_t *indices, int32_t n, uint64_t epoch, float *x,
                           int32_t *labels, float *targets);

/* Class index of image i (no image is built). */
int32_t rs_dataset_label(const rs_dataset *ds, int64_t i);
/* counts (ds->classes) = number of images of each class. */
void rs_dataset_label_histogram(const rs_dataset *ds, int64_t *counts);
/* Per-channel mean and (population) std over every pixel of every image of the split, in double: raw values
 * (uint8 / 255, before normalisation) if normalised == 0, else after normalisation. No augmentation, no
 * corruption. mean, std: (ds->channels). */
rs_status rs_dataset_channel_stats(const rs_dataset *ds, int normalised, double *mean, double *std);
/* A few lines describing the source (files, shapes, task counts), for `relstab data info`. */
const char *rs_dataset_describe(const rs_dataset *ds);

/* ---------------------------------------------------------------- scale-detection tasks: the active pixels */
/* Writes the two active pixels of image i as rc (2, 2) = {row_a, col_a, row_b, col_b} (scale1d: rows are 0) and
 * returns 2; returns 0 (rc untouched) for a real dataset. */
int32_t rs_dataset_task_points(const rs_dataset *ds, int64_t i, int32_t *rc);
/* Like rs_dataset_batch, but image k is rendered with its active pixels at rc[k] (n, 2, 2) (e.g. after a local
 * translation, SPEC 2.5) instead of its own; two pixels at the same place add up (as the reference's +=). The
 * background noise, normalisation and corruption are those of image indices[k]. RS_ERR_ARG for a real dataset or
 * a coordinate outside the image. */
rs_status rs_dataset_batch_points(const rs_dataset *ds, const int64_t *indices, const int32_t *rc, int32_t n,
                                  uint64_t epoch, float *x);

/* For bindings (access.c): *n images; dims = channels, height, width, classes, label kind. */
rs_status rs_dataset_dims(const rs_dataset *ds, int64_t *n, int32_t dims[5]);

#ifdef __cplusplus
}
#endif
