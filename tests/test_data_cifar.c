/* test_data_cifar.c: the CIFAR-10 / CIFAR-100 binary loader (src/data/cifar.c): small files written here (a few
 * records each) read back exactly, from DIR and from the archive's own sub-folder; hostile files (partial records,
 * labels out of range, empty or missing files) refused with a message naming the file. */
#include "data_testutil.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "data/data_internal.h"
#include "relstab/data.h"

#define PIX 3072

/* Pixel k of record i of file f (distinct enough to catch any mix-up). */
static uint8_t pix(int f, int i, int k) { return (uint8_t)(f * 71 + i * 13 + k * 7 + (k >> 8)); }

/* Writes `records` CIFAR records (10: label; 100: coarse, fine) to path; labels from label_of(f, i). */
static void write_cifar(const char *path, int kind, int f, int records) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    for (int i = 0; i < records; i++) {
        if (kind == 100) {
            fputc((f + i) % 20, fp);
            fputc((f * 7 + i * 3) % 100, fp);
        } else {
            fputc((f + i) % 10, fp);
        }
        for (int k = 0; k < PIX; k++) fputc(pix(f, i, k), fp);
    }
    fclose(fp);
}

static int32_t label_of(int kind, int f, int i) { return kind == 100 ? (f * 7 + i * 3) % 100 : (f + i) % 10; }

static void check_dataset(const char *spec, int split, int kind, int nfiles, int per_file, int first_f) {
    rs_data_options o;
    rs_data_options_default(&o);
    o.norm = RS_NORM_NONE;
    rs_dataset *ds = NULL;
    rs_status st = rs_dataset_open(spec, split, &o, &ds);
    if (st) fprintf(stderr, "%s\n", rs_last_error());
    assert_int_equal(st, RS_OK);
    assert_int_equal(ds->n, nfiles * per_file);
    assert_int_equal(ds->channels, 3);
    assert_int_equal(ds->height, 32);
    assert_int_equal(ds->width, 32);
    assert_int_equal(ds->classes, kind);
    float *x = rs_alloc((size_t)ds->n * PIX * sizeof(float));
    int32_t *y = rs_alloc((size_t)ds->n * sizeof(int32_t));
    int64_t idx[64];
    for (int64_t i = 0; i < ds->n; i++) idx[i] = i;
    assert_int_equal(rs_dataset_batch(ds, idx, (int32_t)ds->n, 0, x, y, NULL), RS_OK);
    for (int f = 0; f < nfiles; f++)
        for (int i = 0; i < per_file; i++) {
            int64_t r = (int64_t)f * per_file + i;
            assert_int_equal(y[r], label_of(kind, first_f + f, i));
            for (int k = 0; k < PIX; k++) assert_true(x[r * PIX + k] == (float)pix(first_f + f, i, k) / 255.0f);
        }
    rs_free(x);
    rs_free(y);
    rs_dataset_free(ds);
}

static void test_cifar10_roundtrip(void **state) {
    const char *dir = tu_tmpdir("c10");
    char path[1100], spec[1100];
    for (int f = 1; f <= 5; f++) {
        snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, f);
        write_cifar(path, 10, f, 3);
    }
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    write_cifar(path, 10, 9, 4);
    snprintf(spec, sizeof spec, "cifar10:%s", dir);
    check_dataset(spec, RS_SPLIT_TRAIN, 10, 5, 3, 1);
    check_dataset(spec, RS_SPLIT_TEST, 10, 1, 4, 9);
    /* reference normalisation: (x/255 - mean_c) / std_c in float */
    rs_dataset *ds = NULL;
    assert_int_equal(rs_dataset_open(spec, RS_SPLIT_TEST, NULL, &ds), RS_OK);
    assert_int_equal(ds->normalise, 1);
    float x[PIX];
    int64_t i0 = 2;
    assert_int_equal(rs_dataset_batch(ds, &i0, 1, 0, x, NULL, NULL), RS_OK);
    const float m[3] = {0.4914f, 0.4822f, 0.4465f}, s[3] = {0.2023f, 0.1994f, 0.2010f};
    for (int k = 0; k < PIX; k++) assert_true(x[k] == ((float)pix(9, 2, k) / 255.0f - m[k / 1024]) / s[k / 1024]);
    rs_dataset_free(ds);
    /* the archive's folder inside DIR */
    const char *top = tu_tmpdir("c10top");
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "mv %s %s/cifar-10-batches-bin", dir, top);
    assert_int_equal(tu_system(cmd), 0);
    snprintf(spec, sizeof spec, "cifar10:%s", top);
    check_dataset(spec, RS_SPLIT_TRAIN, 10, 5, 3, 1);
    snprintf(cmd, sizeof cmd, "rm -rf %s", top);
    tu_system(cmd);
}

static void test_cifar100_roundtrip(void **state) {
    const char *dir = tu_tmpdir("c100");
    char path[1100], spec[1100];
    snprintf(path, sizeof path, "%s/train.bin", dir);
    write_cifar(path, 100, 3, 7);
    snprintf(path, sizeof path, "%s/test.bin", dir);
    write_cifar(path, 100, 5, 2);
    snprintf(spec, sizeof spec, "cifar100:%s", dir);
    check_dataset(spec, RS_SPLIT_TRAIN, 100, 1, 7, 3);
    check_dataset(spec, RS_SPLIT_TEST, 100, 1, 2, 5);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    tu_system(cmd);
}

static void expect_check_fails(const void *buf, size_t len, int kind, const char *words) {
    int64_t records = -1;
    rs_status st = rs_cifar_check(buf, len, "hostile.bin", kind, 0, &records);
    if (st == RS_OK || !strstr(rs_last_error(), words)) fprintf(stderr, "expected '%s': %s\n", words, rs_last_error());
    assert_int_not_equal(st, RS_OK);
    assert_int_equal(records, 0);
    assert_non_null(strstr(rs_last_error(), "hostile.bin"));
    assert_non_null(strstr(rs_last_error(), words));
}

static void test_hostile(void **state) {
    static uint8_t buf[3 * 3074];
    memset(buf, 0, sizeof buf);
    int64_t records = 0;
    assert_int_equal(rs_cifar_check(buf, 3 * 3073, "ok.bin", 10, 0, &records), RS_OK);
    assert_int_equal(records, 3);
    assert_int_equal(rs_cifar_check(buf, 3 * 3074, "ok.bin", 100, 3, &records), RS_OK);
    expect_check_fails(buf, 0, 10, "empty file");
    expect_check_fails(buf, 3 * 3073 - 1, 10, "not a whole number of CIFAR-10 records of 3073 bytes");
    expect_check_fails(buf, 3 * 3073, 100, "not a whole number of CIFAR-100 records of 3074 bytes");
    buf[3073] = 10; /* label of record 1 */
    expect_check_fails(buf, 3 * 3073, 10, "record 1 has label 10");
    memset(buf, 0, sizeof buf);
    buf[2 * 3074 + 1] = 100; /* fine label of record 2 */
    expect_check_fails(buf, 3 * 3074, 100, "record 2 has coarse label 0 / fine label 100");
    buf[2 * 3074 + 1] = 0;
    buf[0] = 20; /* coarse label */
    expect_check_fails(buf, 3 * 3074, 100, "record 0 has coarse label 20");
    buf[0] = 0;
}


static void test_directory_errors(void **state) {
    const char *dir = tu_tmpdir("c10bad");
    char path[1100], spec[1100];
    snprintf(spec, sizeof spec, "cifar10:%s", dir);
    expect_open_fails(spec, RS_SPLIT_TRAIN, "no data_batch_1.bin in");
    for (int f = 1; f <= 4; f++) {
        snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, f);
        write_cifar(path, 10, f, 2);
    }
    expect_open_fails(spec, RS_SPLIT_TRAIN, "data_batch_5.bin");
    snprintf(path, sizeof path, "%s/data_batch_5.bin", dir);
    write_cifar(path, 10, 5, 2);
    FILE *fp = fopen(path, "ab"); /* half a record more */
    for (int k = 0; k < 1000; k++) fputc(1, fp);
    fclose(fp);
    expect_open_fails(spec, RS_SPLIT_TRAIN, "data_batch_5.bin: 7146 bytes is not a whole number");
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    fp = fopen(path, "wb");
    fclose(fp);
    expect_open_fails(spec, RS_SPLIT_TEST, "test_batch.bin: 0 bytes is not a whole number");
    expect_open_fails("cifar10", RS_SPLIT_TEST, "needs a directory");
    expect_open_fails(spec, RS_SPLIT_VAL, "only a train and a test split");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    tu_system(cmd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cifar10_roundtrip),
        cmocka_unit_test(test_cifar100_roundtrip),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_directory_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
