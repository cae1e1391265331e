/* test_data_fashion.c: the default real dataset, FashionMNIST from Debian's dataset-fashion-mnist package
 * (/usr/share/datasets/fashion-mnist, gzip IDX files). Skipped when the package is not installed. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "relstab/data.h"

static void test_fashionmnist(void **state) {
    if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) != 0) {
        fprintf(stderr, "dataset-fashion-mnist is not installed: skipped\n");
        skip();
    }
    rs_dataset *tr = NULL, *te = NULL;
    assert_int_equal(rs_dataset_open("fashionmnist", RS_SPLIT_TRAIN, NULL, &tr), RS_OK);
    assert_int_equal(rs_dataset_open("fashionmnist", RS_SPLIT_TEST, NULL, &te), RS_OK);
    assert_int_equal(tr->n, 60000);
    assert_int_equal(te->n, 10000);
    assert_int_equal(tr->classes, 10);
    assert_int_equal(tr->channels, 1);
    assert_int_equal(tr->height, 28);
    assert_int_equal(tr->width, 28);
    int64_t h[10];
    rs_dataset_label_histogram(tr, h);
    for (int k = 0; k < 10; k++) assert_int_equal(h[k], 6000);
    rs_dataset_label_histogram(te, h);
    for (int k = 0; k < 10; k++) assert_int_equal(h[k], 1000);
    /* raw pixel mean of the training images: 0.2860 (the widely quoted value; 0.286041 to 6 digits), std 0.3530 */
    double m, s;
    assert_int_equal(rs_dataset_channel_stats(tr, 0, &m, &s), RS_OK);
    assert_true(fabs(m - 0.2860) < 5e-4);
    assert_true(fabs(s - 0.3530) < 5e-4);
    /* reference normalisation (x - 0.5) / 0.5 */
    assert_int_equal(tr->normalise, 1);
    assert_true(tr->mean[0] == 0.5f && tr->std[0] == 0.5f);
    float x[784];
    int64_t i0 = 0;
    int32_t y;
    assert_int_equal(rs_dataset_batch(tr, &i0, 1, 0, x, &y, NULL), RS_OK);
    assert_int_equal(y, 9); /* the first training image is an ankle boot */
    for (int k = 0; k < 784; k++) assert_true(x[k] >= -1.0f && x[k] <= 1.0f);
    rs_dataset_free(tr);
    rs_dataset_free(te);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_fashionmnist)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
