/* cifar.c: the CIFAR-10 and CIFAR-100 "binary version" files (`cifar10:DIR`, `cifar100:DIR`).
 * CIFAR-10: data_batch_1..5.bin (train) and test_batch.bin, 10000 records of <label byte><3072 pixel bytes>.
 * CIFAR-100: train.bin (50000 records) and test.bin (10000) of <coarse byte><fine byte><3072 pixel bytes>; the
 * fine labels (100 classes) are used. Pixels are stored channel-major (R plane, G plane, B plane), i.e. CHW.
 * A file may hold fewer records than the official one (a subset), but always a whole number of them.
 * Not handled: the Python-pickle and MATLAB versions of CIFAR. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/data_internal.h"

#define CIFAR_PIXELS 3072

static size_t record_size(int32_t classes_kind) { return (classes_kind == 100 ? 2 : 1) + CIFAR_PIXELS; }

rs_status rs_cifar_check(const void *buf, size_t len, const char *source, int32_t classes_kind,
                         int64_t expect_records, int64_t *records) {
    RS_ASSERT(classes_kind == 10 || classes_kind == 100);
    size_t rec = record_size(classes_kind);
    *records = 0;
    if (len == 0) return rs_error(RS_ERR_FORMAT, "%s: empty file", source);
    if (len % rec != 0)
        return rs_error(RS_ERR_FORMAT,
                        "%s: %zu bytes is not a whole number of CIFAR-%d records of %zu bytes (truncated or not a "
                        "CIFAR-%d binary file)",
                        source, len, (int)classes_kind, rec, (int)classes_kind);
    int64_t n = (int64_t)(len / rec);
    if (expect_records > 0 && n != expect_records)
        return rs_error(RS_ERR_FORMAT, "%s: %lld records where %lld were expected (the file changed while read?)",
                        source, (long long)n, (long long)expect_records);
    const uint8_t *p = buf;
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *r = p + (size_t)i * rec;
        if (classes_kind == 10 && r[0] >= 10)
            return rs_error(RS_ERR_FORMAT, "%s: record %lld has label %d, outside 0..9", source, (long long)i, r[0]);
        if (classes_kind == 100 && (r[0] >= 20 || r[1] >= 100))
            return rs_error(RS_ERR_FORMAT, "%s: record %lld has coarse label %d / fine label %d, outside 0..19 / 0..99",
                            source, (long long)i, r[0], r[1]);
    }
    *records = n;
    return RS_OK;
}

void rs_cifar_extract(const void *buf, int64_t records, int32_t classes_kind, uint8_t *images, int32_t *labels) {
    size_t rec = record_size(classes_kind), lab = rec - CIFAR_PIXELS;
    const uint8_t *p = buf;
    for (int64_t i = 0; i < records; i++) {
        const uint8_t *r = p + (size_t)i * rec;
        labels[i] = r[lab - 1]; /* CIFAR-10: the label; CIFAR-100: the fine label */
        memcpy(images + (size_t)i * CIFAR_PIXELS, r + lab, CIFAR_PIXELS);
    }
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* DIR itself or the folder the official archive unpacks to, whichever holds the first file. */
static rs_status find_dir(const char *dir, const char *sub, const char *probe, char *out, size_t cap) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, probe);
    if (access(path, R_OK) == 0) {
        snprintf(out, cap, "%s", dir);
        return RS_OK;
    }
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, probe);
    if (access(path, R_OK) == 0) {
        snprintf(out, cap, "%s/%s", dir, sub);
        return RS_OK;
    }
    if (!is_dir(dir)) return rs_error(RS_ERR_IO, "%s is not a directory", dir);
    return rs_error(RS_ERR_IO, "no %s in %s or %s/%s", probe, dir, dir, sub);
}

/* Size of a file in bytes, or an error naming it. */
static rs_status file_size(const char *path, size_t *size) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return rs_error(RS_ERR_IO, "cannot read %s", path);
    *size = (size_t)st.st_size;
    return RS_OK;
}

rs_status rs_cifar_open(rs_dataset *ds, const char *kind, const char *dir, int split) {
    struct rs_dataset_priv *p = ds->priv;
    if (split == RS_SPLIT_VAL) return rs_error(RS_ERR_ARG, "%s: CIFAR has only a train and a test split", kind);
    int32_t ck = !strcmp(kind, "cifar100") ? 100 : 10;
    static const char *const train10[5] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                           "data_batch_4.bin", "data_batch_5.bin"};
    const char *const *names = NULL;
    const char *test_name = ck == 10 ? "test_batch.bin" : "test.bin", *train100 = "train.bin";
    int nfiles = 1;
    if (split == RS_SPLIT_TRAIN && ck == 10) {
        names = train10;
        nfiles = 5;
    } else {
        names = split == RS_SPLIT_TRAIN ? &train100 : &test_name;
    }
    char base[4096], path[4200];
    RS_TRY(find_dir(dir, ck == 10 ? "cifar-10-batches-bin" : "cifar-100-binary", names[0], base, sizeof base));
    /* sizes first, so that the images are allocated once */
    int64_t counts[5], total = 0;
    for (int k = 0; k < nfiles; k++) {
        size_t size = 0;
        snprintf(path, sizeof path, "%s/%s", base, names[k]);
        RS_TRY(file_size(path, &size));
        if (size % record_size(ck) != 0 || size == 0 || size > RS_DATA_MAX_BYTES)
            return rs_error(RS_ERR_FORMAT,
                            "%s: %zu bytes is not a whole number of CIFAR-%d records of %zu bytes (truncated or "
                            "not a CIFAR-%d binary file)",
                            path, size, (int)ck, record_size(ck), (int)ck);
        counts[k] = (int64_t)(size / record_size(ck));
        total += counts[k];
    }
    uint8_t *images = rs_alloc((size_t)total * CIFAR_PIXELS);
    p->labels = rs_alloc((size_t)total * sizeof(int32_t));
    p->owned = images;
    if (!images || !p->labels) return rs_error(RS_ERR_NOMEM, "cannot allocate %lld CIFAR images", (long long)total);
    int64_t at = 0;
    for (int k = 0; k < nfiles; k++) {
        snprintf(path, sizeof path, "%s/%s", base, names[k]);
        void *buf = NULL;
        size_t len = 0;
        int64_t records = 0;
        RS_TRY(rs_read_file(path, &buf, &len, (size_t)counts[k] * record_size(ck)));
        rs_status st = rs_cifar_check(buf, len, path, ck, counts[k], &records);
        if (st == RS_OK) rs_cifar_extract(buf, records, ck, images + (size_t)at * CIFAR_PIXELS, p->labels + at);
        rs_free(buf);
        RS_TRY(st);
        at += records;
    }
    p->u8 = images;
    p->n_source = total;
    ds->channels = 3;
    ds->height = 32;
    ds->width = 32;
    ds->classes = ck;
    snprintf(p->describe, sizeof p->describe, "files      %s/%s%s (%lld x 3 x 32 x 32 uint8%s)\n", base, names[0],
             nfiles > 1 ? " .. data_batch_5.bin" : "", (long long)total, ck == 100 ? ", fine labels" : "");
    return RS_OK;
}
