/* test_train_hostile.c: the trainer against hostile inputs. Datasets whose test split has larger images (IDX) or
 * more channels (NPY) than the training split are refused before anything is allocated from the wrong shape (they
 * overflowed the input buffer before). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relstab/io.h"
#include "relstab/train.h"

static void fcn_config(rs_train_config *c, const char *data, const char *out) {
    rs_train_config_default(c);
    snprintf(c->model, sizeof c->model, "densenetl2");
    snprintf(c->data, sizeof c->data, "%s", data);
    snprintf(c->out, sizeof c->out, "%s", out);
    c->width = 8;
    c->epochs = 1;
    c->batch = 4;
    c->test_batch = 4;
    c->threads = 1;
    c->quiet = 1;
}

/* An IDX file of n uint8 images (h x w) or, with h == 0, n labels (0, 1, 0, ...). */
static void write_idx(const char *path, int32_t n, int32_t h, int32_t w) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    int nd = h ? 3 : 1;
    uint8_t head[16] = {0, 0, 8, (uint8_t)nd};
    uint32_t dims[3] = {(uint32_t)n, (uint32_t)h, (uint32_t)w};
    for (int k = 0; k < nd; k++)
        for (int b = 0; b < 4; b++) head[4 + 4 * k + b] = (uint8_t)(dims[k] >> (24 - 8 * b));
    assert_int_equal(fwrite(head, 1, 4 + 4 * (size_t)nd, f), 4 + 4 * (size_t)nd);
    size_t len = h ? (size_t)n * h * w : (size_t)n;
    for (size_t i = 0; i < len; i++) fputc(h ? (int)(i * 7 % 256) : (int)(i % 2), f);
    fclose(f);
}

static void expect_refused(const char *data, const char *out, const char *words) {
    rs_train_config c;
    rs_train_result r;
    fcn_config(&c, data, out);
    rs_status s = rs_train_run(&c, &r);
    if (s == RS_OK || !strstr(rs_last_error(), words)) fprintf(stderr, "expected '%s': %s\n", words, rs_last_error());
    assert_int_not_equal(s, RS_OK);
    assert_non_null(strstr(rs_last_error(), words));
    struct stat st;
    char path[1200];
    snprintf(path, sizeof path, "%s/config.json", out);
    assert_int_not_equal(stat(path, &st), 0); /* nothing written */
}

static void test_split_shapes_refused(void **state) {
    (void)state;
    const char *dir = tu_tmpdir("hostile-idx");
    char path[1200], spec[1200], out[1200];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    write_idx(path, 16, 8, 8);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir);
    write_idx(path, 16, 0, 0);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", dir);
    write_idx(path, 8, 12, 12); /* larger test images */
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", dir);
    write_idx(path, 8, 0, 0);
    snprintf(spec, sizeof spec, "idx:%s", dir);
    snprintf(out, sizeof out, "%s/run", dir);
    expect_refused(spec, out, "the training images are 1x8x8");

    const char *ndir = tu_tmpdir("hostile-npy");
    static uint8_t px[16 * 3 * 8 * 8];
    int64_t lab[16];
    for (int i = 0; i < 16; i++) lab[i] = i % 2;
    int64_t s_train[4] = {16, 1, 8, 8}, s_test[4] = {8, 3, 8, 8}, s_lab[1] = {16}, s_tlab[1] = {8};
    snprintf(path, sizeof path, "%s/train_images.npy", ndir);
    assert_int_equal(rs_npy_write(path, RS_DTYPE_U8, 4, s_train, px), RS_OK);
    snprintf(path, sizeof path, "%s/train_labels.npy", ndir);
    assert_int_equal(rs_npy_write(path, RS_DTYPE_I64, 1, s_lab, lab), RS_OK);
    snprintf(path, sizeof path, "%s/test_images.npy", ndir);
    assert_int_equal(rs_npy_write(path, RS_DTYPE_U8, 4, s_test, px), RS_OK); /* more channels */
    snprintf(path, sizeof path, "%s/test_labels.npy", ndir);
    assert_int_equal(rs_npy_write(path, RS_DTYPE_I64, 1, s_tlab, lab), RS_OK);
    snprintf(spec, sizeof spec, "npy:%s", ndir);
    snprintf(out, sizeof out, "%s/run", ndir);
    expect_refused(spec, out, "but the test images are 3x8x8");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_shapes_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
