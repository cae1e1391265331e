/* data.c: the FashionMNIST copy that the quick and tiny scales train the big nets on: the full training set (links
 * to the installed files) and the first N test images as uncompressed IDX files in OUT/data/fashionmnist-testN, so
 * that the per-epoch test evaluation (which the trainer runs on the whole test split) costs N images instead of
 * 10,000. The images are the installed ones, byte for byte; the spec stays fashionmnist:DIR, so the reference
 * normalisation applies unchanged. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exp_internal.h"
#include "relstab/data.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

static void be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* images (n, 28, 28) uint8 and labels (n) as IDX, written atomically. */
static rs_status write_idx(const char *dir, const uint8_t *img, const uint8_t *lab, int64_t n) {
    size_t ni = 16 + (size_t)n * 784, nl = 8 + (size_t)n;
    uint8_t *b = malloc(ni + nl);
    if (!b) return rs_error(RS_ERR_NOMEM, "test subset");
    uint8_t *l = b + ni;
    memset(b, 0, 16);
    b[2] = 0x08, b[3] = 3;
    be32(b + 4, (uint32_t)n), be32(b + 8, 28), be32(b + 12, 28);
    memcpy(b + 16, img, (size_t)n * 784);
    memset(l, 0, 8);
    l[2] = 0x08, l[3] = 1;
    be32(l + 4, (uint32_t)n);
    memcpy(l + 8, lab, (size_t)n);
    char p[1200];
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", dir);
    rs_status s = rs_write_file_atomic(p, b, ni);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", dir);
    if (!s) s = rs_write_file_atomic(p, l, nl);
    free(b);
    return s;
}

typedef struct {
    char dir[1100];
    int64_t n;
} prep_ctx;

static rs_status prepare_job(int32_t job, void *ctx) {
    (void)job;
    prep_ctx *pc = ctx;
    rs_data_options o;
    rs_data_options_default(&o);
    o.norm = RS_NORM_NONE; /* x / 255: back to the stored bytes exactly */
    rs_dataset *ds;
    RS_TRY(rs_dataset_open("fashionmnist", RS_SPLIT_TEST, &o, &ds));
    int64_t n = pc->n < ds->n ? pc->n : ds->n;
    int64_t *idx = malloc(sizeof *idx * (size_t)n);
    float *x = malloc(sizeof *x * (size_t)n * 784);
    uint8_t *img = malloc((size_t)n * 784), *lab = malloc((size_t)n);
    rs_status s = idx && x && img && lab ? RS_OK : rs_error(RS_ERR_NOMEM, "test subset");
    for (int64_t i = 0; i < n && !s; i++) idx[i] = i;
    if (!s) s = rs_dataset_batch(ds, idx, (int32_t)n, 0, x, NULL, NULL);
    for (int64_t i = 0; i < n * 784 && !s; i++) img[i] = (uint8_t)lrintf(x[i] * 255.0f);
    for (int64_t i = 0; i < n && !s; i++) lab[i] = (uint8_t)rs_dataset_label(ds, i);
    if (!s) s = write_idx(pc->dir, img, lab, n);
    free(idx), free(x), free(img), free(lab);
    rs_dataset_free(ds);
    return s;
}

rs_status exp_prepare_fmnist(const rs_reproduce_opts *o, int64_t n_test, char *spec, size_t len) {
    prep_ctx pc = {.n = n_test};
    snprintf(pc.dir, sizeof pc.dir, "%.700s/data/fashionmnist-test%lld", o->out, (long long)n_test);
    snprintf(spec, len, "fashionmnist:%s", pc.dir);
    if (o->dry_run) return RS_OK;
    char p[1200], target[256];
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", pc.dir);
    struct stat sb;
    if (stat(p, &sb) == 0) return RS_OK; /* made before (written last) */
    RS_TRY(rs_mkdir_p(pc.dir));
    static const char *train[2] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", pc.dir, train[i]);
        snprintf(target, sizeof target, "%s/%s", FMNIST_DIR, train[i]);
        unlink(p);
        if (symlink(target, p)) return rs_error(RS_ERR_IO, "cannot link %s: %s", p, strerror(errno));
    }
    /* opening the dataset may start OpenMP threads: a grid job keeps this process fork-safe for --jobs > 1 */
    return rs_grid_run(1, NULL, o->jobs, prepare_job, &pc);
}
