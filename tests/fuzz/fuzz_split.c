/* fuzz_split.c: libFuzzer target for the consistency of a dataset's splits: the input packs four files (FUZZ_SEP
 * between them), the training and test images and labels of an NPY dataset (first byte even) or of an IDX one
 * (odd), written into a directory and opened as both splits. Each split is either refused with a message or opens
 * with images of the same channels, height and width as the other split (a dataset whose splits disagree is
 * refused at open), and one batch of each split is read; never a crash, a leak or undefined behaviour.
 * RELSTAB_FUZZ_KNOWN=skip in the environment skips the shape check (while the refusal at open is not in place, to
 * let a run explore past it; the seeds named *_mismatch reproduce it). */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_files.h"
#include "relstab/data.h"

static const char *npy_names[4] = {"train_images.npy", "train_labels.npy", "test_images.npy", "test_labels.npy"};
static const char *idx_names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                   "t10k-labels-idx1-ubyte"};

static void read_batch(const rs_dataset *ds) {
    int64_t idx[2] = {0, ds->n - 1};
    int32_t n = ds->n > 1 ? 2 : 1;
    size_t d = (size_t)ds->channels * ds->height * ds->width;
    if (ds->n < 1 || d == 0 || d > ((size_t)1 << 24)) return;
    float *x = malloc(2 * d * sizeof(float));
    int32_t labels[2];
    float targets[2];
    if (!x) abort();
    rs_clear_error();
    if (rs_dataset_batch(ds, idx, n, 0, x, labels, targets) != RS_OK && rs_last_error()[0] == 0) abort();
    free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int idx = data[0] & 1;
    const uint8_t *part[4];
    size_t len[4];
    fuzz_split(data + 1, size - 1, 4, part, len);
    const char *const *names = idx ? idx_names : npy_names;
    for (int i = 0; i < 4; i++) {
        fuzz_remove(npy_names[i]), fuzz_remove(idx_names[i]);
        fuzz_write(i, names[i], part[i], len[i]);
    }
    char spec[700];
    snprintf(spec, sizeof spec, "%s:%s", idx ? "idx" : "npy", fuzz_dir());
    rs_dataset *tr = NULL, *te = NULL;
    rs_clear_error();
    if (rs_dataset_open(spec, RS_SPLIT_TRAIN, NULL, &tr) != RS_OK && (tr || rs_last_error()[0] == 0)) abort();
    rs_clear_error();
    if (rs_dataset_open(spec, RS_SPLIT_TEST, NULL, &te) != RS_OK && (te || rs_last_error()[0] == 0)) abort();
    static int skip = -1;
    if (skip < 0) skip = getenv("RELSTAB_FUZZ_KNOWN") && !strcmp(getenv("RELSTAB_FUZZ_KNOWN"), "skip");
    if (!skip && tr && te && (tr->channels != te->channels || tr->height != te->height || tr->width != te->width))
        abort();
    if (tr) read_batch(tr);
    if (te) read_batch(te);
    rs_dataset_free(tr);
    rs_dataset_free(te);
    return 0;
}
