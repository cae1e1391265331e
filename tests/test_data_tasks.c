/* test_data_tasks.c: the scale-detection tasks (src/data/twopoints.c, scale1d.c). The exact pair counts of SPEC 5.1
 * and 5.2 (and, for the other options, counts computed independently with a brute-force Python loop over
 * itertools, as the reference enumerates them); every image's label against its own pixels; split sizes, balance,
 * disjointness; same seed -> same split, other seed -> other split; the rendered pixels; the options' refusals. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "relstab/data.h"

static rs_dataset *open_ok(const char *spec, int split, const rs_data_options *o) {
    rs_dataset *ds = NULL;
    rs_status st = rs_dataset_open(spec, split, o, &ds);
    if (st) fprintf(stderr, "%s: %s\n", spec, rs_last_error());
    assert_int_equal(st, RS_OK);
    return ds;
}

static void expect_fail(const char *spec, int split, const rs_data_options *o, const char *words) {
    rs_dataset *ds = NULL;
    rs_status st = rs_dataset_open(spec, split, o, &ds);
    if (st == RS_OK || !strstr(rs_last_error(), words)) fprintf(stderr, "expected '%s': %s\n", words, rs_last_error());
    assert_int_not_equal(st, RS_OK);
    assert_null(ds);
    assert_non_null(strstr(rs_last_error(), words));
}

/* Marks the pair of image i in a (P x P) bitmap of pixel pairs; fails on a duplicate. Returns the pair key. */
static void mark(uint8_t *seen, int64_t npix, const int32_t *rc, int32_t w) {
    int64_t a = rc[0] * w + rc[1], b = rc[2] * w + rc[3];
    int64_t key = a < b ? a * npix + b : b * npix + a;
    assert_int_equal(seen[key], 0);
    seen[key] = 1;
}

/* Every image of ds: off-diagonal pixels, label agreeing with the L2 distance rule, each pair once in seen. */
static void check_twopoints_split(const rs_dataset *ds, uint8_t *seen, double far, double close) {
    int64_t counts[2] = {0, 0};
    for (int64_t i = 0; i < ds->n; i++) {
        int32_t rc[4];
        assert_int_equal(rs_dataset_task_points(ds, i, rc), 2);
        assert_true(rc[0] != rc[1] && rc[2] != rc[3]); /* the reference never uses the diagonal */
        double dist = sqrt((double)((rc[0] - rc[2]) * (rc[0] - rc[2]) + (rc[1] - rc[3]) * (rc[1] - rc[3])));
        int32_t y = rs_dataset_label(ds, i);
        assert_true(y == 0 ? dist >= far : dist < close);
        counts[y]++;
        mark(seen, (int64_t)ds->height * ds->width, rc, ds->width);
    }
    assert_int_equal(counts[0], counts[1]); /* the split itself is exactly balanced */
}

static void test_twopoints_reference_counts(void **state) {
    rs_dataset *tr = open_ok("twopoints", RS_SPLIT_TRAIN, NULL);
    rs_dataset *te = open_ok("twopoints:d=28,xi=14,gap=2,norm=L2", RS_SPLIT_TEST, NULL);
    /* SPEC 5.1: 285,390 pairs, 135,397 far, 120,767 close, 29,226 dropped */
    assert_int_equal(tr->task.n_pairs, 285390);
    assert_int_equal(tr->task.n_class[0], 135397);
    assert_int_equal(tr->task.n_class[1], 120767);
    assert_int_equal(tr->task.n_dropped, 29226);
    assert_int_equal(te->task.n_class[1], 120767);
    /* default testsize 5000: 2500 per class in test, min(...) - 2500 per class in train */
    assert_int_equal(te->n, 5000);
    assert_int_equal(tr->n, 2 * (120767 - 2500));
    assert_int_equal(tr->channels, 1);
    assert_int_equal(tr->height, 28);
    assert_int_equal(tr->classes, 2);
    assert_int_equal(tr->label_kind, RS_LABEL_SIGN);
    assert_true(tr->task.value == 392.0f);
    uint8_t *seen = rs_calloc((size_t)784 * 784);
    check_twopoints_split(tr, seen, 15.0, 13.0);
    check_twopoints_split(te, seen, 15.0, 13.0); /* train and test share no pair */
    rs_free(seen);
    rs_dataset_free(tr);
    rs_dataset_free(te);
}

/* Counts from a brute-force Python loop (itertools.combinations(itertools.permutations(range(d), 2), 2)). */
static void test_twopoints_other_options(void **state) {
    const struct {
        const char *spec;
        int64_t c0, c1, dropped;
    } cases[] = {
        {"twopoints:norm=Linf", 117663, 136862, 30865},
        {"twopoints:quadrant=1", 71162, 214228, 0},
        {"twopoints:pbc=1", 39774, 188076, 57540},
        {"twopoints:d=12,xi=5,gap=1,testsize=100", 4952, 2830, 864},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        rs_dataset *ds = open_ok(cases[k].spec, RS_SPLIT_TEST, NULL);
        assert_int_equal(ds->task.n_class[0], cases[k].c0);
        assert_int_equal(ds->task.n_class[1], cases[k].c1);
        assert_int_equal(ds->task.n_dropped, cases[k].dropped);
        rs_dataset_free(ds);
    }
    /* odd testsize: the reference's xp[-testsize // 2:] takes ceil(testsize / 2) of each class */
    rs_dataset *ds = open_ok("twopoints:d=12,xi=5,gap=1,testsize=101", RS_SPLIT_TEST, NULL);
    assert_int_equal(ds->n, 102);
    rs_dataset_free(ds);
    ds = open_ok("twopoints:d=12,xi=5,gap=1,testsize=101", RS_SPLIT_TRAIN, NULL);
    assert_int_equal(ds->n, 2 * (2830 - 51));
    rs_dataset_free(ds);
}

static void test_twopoints_seed_and_ptr(void **state) {
    const char *specs[3] = {"twopoints:d=12,xi=5,gap=1,testsize=200", "twopoints:d=12,xi=5,gap=1,testsize=200",
                            "twopoints:d=12,xi=5,gap=1,testsize=200,seed=7"};
    rs_dataset *ds[3];
    for (int k = 0; k < 3; k++) ds[k] = open_ok(specs[k], RS_SPLIT_TEST, NULL);
    assert_int_equal(ds[0]->task.split_seed, 123456789);
    int64_t same01 = 0, same02 = 0;
    for (int64_t i = 0; i < ds[0]->n; i++) {
        int32_t a[4], b[4], c[4];
        rs_dataset_task_points(ds[0], i, a);
        rs_dataset_task_points(ds[1], i, b);
        rs_dataset_task_points(ds[2], i, c);
        same01 += !memcmp(a, b, sizeof a);
        same02 += !memcmp(a, c, sizeof a);
    }
    assert_int_equal(same01, ds[0]->n);
    /* another seed: a test image is the same pair by chance with probability ~1/2830 per image */
    assert_true(same02 < 5);
    for (int k = 0; k < 3; k++) rs_dataset_free(ds[k]);

    /* ptr: testsize defaults to 4 ptr (the reference's training), the train split is a ptr subset */
    rs_data_options o;
    rs_data_options_default(&o);
    o.ptr = 64;
    rs_dataset *te = open_ok("twopoints:d=12,xi=5,gap=1", RS_SPLIT_TEST, &o);
    rs_dataset *tr = open_ok("twopoints:d=12,xi=5,gap=1", RS_SPLIT_TRAIN, &o);
    rs_dataset *tr2 = open_ok("twopoints:d=12,xi=5,gap=1,ptr=64", RS_SPLIT_TRAIN, NULL);
    assert_int_equal(te->n, 256);
    assert_int_equal(tr->n, 64);
    assert_int_equal(tr->task.per_class, 2830 - 128);
    for (int64_t i = 0; i < 64; i++) {
        int32_t a[4], b[4];
        rs_dataset_task_points(tr, i, a);
        rs_dataset_task_points(tr2, i, b);
        assert_memory_equal(a, b, sizeof a);
    }
    rs_dataset_free(te);
    rs_dataset_free(tr);
    rs_dataset_free(tr2);
    expect_fail("twopoints:d=12,xi=5,gap=1,ptr=10", RS_SPLIT_TRAIN, &o, "disagrees with ptr 64");
    o.ptr = 100000;
    expect_fail("twopoints:d=12,xi=5,gap=1,testsize=10", RS_SPLIT_TRAIN, &o, "larger than the training split");
}

static void test_twopoints_pixels(void **state) {
    rs_dataset *ds = open_ok("twopoints:d=12,xi=5,gap=1,testsize=100,ch=2", RS_SPLIT_TEST, NULL);
    int64_t idx[3] = {0, 57, 99};
    float x[3 * 2 * 144], t[3];
    int32_t y[3];
    assert_int_equal(rs_dataset_batch(ds, idx, 3, 0, x, y, t), RS_OK);
    for (int b = 0; b < 3; b++) {
        int32_t rc[4];
        rs_dataset_task_points(ds, idx[b], rc);
        assert_int_equal(y[b], rs_dataset_label(ds, idx[b]));
        assert_true(t[b] == (y[b] == 1 ? 1.0f : -1.0f)); /* close = +1 */
        for (int c = 0; c < 2; c++)
            for (int p = 0; p < 144; p++) {
                int active = p == rc[0] * 12 + rc[1] || p == rc[2] * 12 + rc[3];
                assert_true(x[(b * 2 + c) * 144 + p] == (active ? 72.0f : 0.0f)); /* d^2 / 2 */
            }
    }
    /* moved pixels: both on one site add up (the reference's +=) */
    int32_t rc[12] = {0, 0, 11, 11, 3, 4, 3, 4, 5, 5, 5, 6};
    assert_int_equal(rs_dataset_batch_points(ds, idx, rc, 3, 0, x), RS_OK);
    assert_true(x[0] == 72.0f && x[143] == 72.0f);
    assert_true(x[2 * 144 + 3 * 12 + 4] == 144.0f);
    assert_true(x[4 * 144 + 5 * 12 + 5] == 72.0f && x[4 * 144 + 5 * 12 + 6] == 72.0f);
    rc[3] = 12;
    assert_int_equal(rs_dataset_batch_points(ds, idx, rc, 3, 0, x), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "outside the 12 x 12 image"));
    rs_dataset_free(ds);
}

/* Background noise: fixed per image (the same at every epoch and in any batch), of the requested std. */
static void test_twopoints_background_noise(void **state) {
    rs_dataset *ds = open_ok("twopoints:d=12,xi=5,gap=1,testsize=1000,bgnoise=0.5", RS_SPLIT_TEST, NULL);
    int64_t n = ds->n;
    float *x = rs_alloc((size_t)n * 144 * sizeof(float)), *x2 = rs_alloc(144 * sizeof(float));
    int64_t *idx = rs_alloc((size_t)n * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    assert_int_equal(rs_dataset_batch(ds, idx, (int32_t)n, 0, x, NULL, NULL), RS_OK);
    double s2 = 0;
    int64_t cnt = 0;
    for (int64_t i = 0; i < n; i++) {
        int32_t rc[4];
        rs_dataset_task_points(ds, i, rc);
        for (int p = 0; p < 144; p++) {
            double v = x[i * 144 + p];
            if (p == rc[0] * 12 + rc[1] || p == rc[2] * 12 + rc[3]) v -= 72.0;
            s2 += v * v;
            cnt++;
        }
    }
    /* mean of z^2 over cnt draws: 0.25 with sd 0.25 sqrt(2 / cnt); 5 sd */
    assert_true(fabs(s2 / cnt - 0.25) < 5 * 0.25 * sqrt(2.0 / cnt));
    int64_t one = 321;
    assert_int_equal(rs_dataset_batch(ds, &one, 1, 9, x2, NULL, NULL), RS_OK);
    assert_memory_equal(x2, x + 321 * 144, 144 * sizeof(float));
    rs_free(x);
    rs_free(x2);
    rs_free(idx);
    rs_dataset_free(ds);
}

static void test_scale1d(void **state) {
    rs_dataset *tr = open_ok("scale1d", RS_SPLIT_TRAIN, NULL);
    rs_dataset *va = open_ok("scale1d", RS_SPLIT_VAL, NULL);
    rs_dataset *te = open_ok("scale1d:L=128,xi=32,task=2", RS_SPLIT_TEST, NULL);
    /* SPEC 5.2: L = 128, xi = 32, Task 2: 1,984 same-block pairs vs 6,144; train 1024, val 128, test 2816 */
    assert_int_equal(tr->task.n_class[1], 1984);
    assert_int_equal(tr->task.n_class[0], 6144);
    assert_int_equal(tr->task.n_pairs, 8128);
    assert_int_equal(tr->n, 1024);
    assert_int_equal(va->n, 128);
    assert_int_equal(te->n, 2816);
    assert_int_equal(tr->height, 1);
    assert_int_equal(tr->width, 128);
    assert_true(tr->task.value == 8.0f); /* sqrt(magn), magn = L/2 */
    uint8_t *seen = rs_calloc(128 * 128);
    rs_dataset *all[3] = {tr, va, te};
    for (int s = 0; s < 3; s++) {
        int64_t counts[2] = {0, 0};
        for (int64_t i = 0; i < all[s]->n; i++) {
            int32_t rc[4];
            rs_dataset_task_points(all[s], i, rc);
            assert_true(rc[0] == 0 && rc[2] == 0 && rc[1] < rc[3]);
            int32_t y = rs_dataset_label(all[s], i);
            assert_int_equal(y, rc[1] / 32 == rc[3] / 32);
            counts[y]++;
            mark(seen, 128, rc, 128);
        }
        assert_int_equal(counts[0], counts[1]);
    }
    rs_free(seen);
    int64_t i0 = 5;
    float x[128], t;
    int32_t rc[4];
    assert_int_equal(rs_dataset_batch(te, &i0, 1, 0, x, NULL, &t), RS_OK);
    rs_dataset_task_points(te, 5, rc);
    for (int p = 0; p < 128; p++) assert_true(x[p] == ((p == rc[1] || p == rc[3]) ? 8.0f : 0.0f));
    assert_true(t == (rc[1] / 32 == rc[3] / 32 ? 1.0f : -1.0f)); /* same block = +1 */
    for (int s = 0; s < 3; s++) rs_dataset_free(all[s]);

    /* Task 1 (brute-force Python counts) */
    rs_dataset *t1 = open_ok("scale1d:task=1,gap=2", RS_SPLIT_TEST, NULL);
    assert_int_equal(t1->task.n_class[1], 3712);
    assert_int_equal(t1->task.n_class[0], 3904);
    assert_int_equal(t1->task.n_dropped, 512);
    assert_int_equal(t1->n, 2 * (3712 - 512 - 64));
    rs_dataset_free(t1);
    t1 = open_ok("scale1d:L=64,xi=10,task=1,ntrain=200,nval=0,magn=2", RS_SPLIT_TRAIN, NULL);
    assert_int_equal(t1->task.n_class[1], 576);
    assert_int_equal(t1->task.n_class[0], 1440);
    assert_true(t1->task.value == (float)sqrt(2.0));
    assert_int_equal(t1->n, 200);
    rs_dataset_free(t1);
}

static void test_refusals(void **state) {
    expect_fail("twopoints:foo=1", RS_SPLIT_TRAIN, NULL, "unknown option 'foo'");
    expect_fail("twopoints:d=100", RS_SPLIT_TRAIN, NULL, "d must be an integer in 2..64, got '100'");
    expect_fail("twopoints:xi", RS_SPLIT_TRAIN, NULL, "expected key=value, got 'xi'");
    expect_fail("twopoints:norm=L1", RS_SPLIT_TRAIN, NULL, "norm must be L2 or Linf");
    expect_fail("twopoints:labels=soft", RS_SPLIT_TRAIN, NULL, "labels must be class or hinge");
    expect_fail("twopoints:d=8,xi=3,gap=2,xi=4", RS_SPLIT_TRAIN, NULL, "'xi' given twice");
    expect_fail("twopoints:d=12,xi=5,gap=1,testsize=6000", RS_SPLIT_TRAIN, NULL, "leaves no training pairs");
    expect_fail("twopoints", RS_SPLIT_VAL, NULL, "only a train and a test split");
    expect_fail("scale1d:task=3", RS_SPLIT_TRAIN, NULL, "task must be an integer in 1..2");
    expect_fail("scale1d:xi=2.5", RS_SPLIT_TRAIN, NULL, "task 2 needs an integer block size");
    expect_fail("scale1d:ntrain=5", RS_SPLIT_TRAIN, NULL, "must be even");
    expect_fail("scale1d:ntrain=4000", RS_SPLIT_TRAIN, NULL, "leaves no test pairs");
    expect_fail("scale1d:nval=0", RS_SPLIT_VAL, NULL, "validation split is empty");
    rs_data_options o;
    rs_data_options_default(&o);
    o.hflip = 1;
    expect_fail("scale1d", RS_SPLIT_TRAIN, &o, "not defined for the scale-detection tasks");
    rs_dataset *ds = open_ok("scale1d:labels=class", RS_SPLIT_TEST, NULL);
    assert_int_equal(ds->label_kind, RS_LABEL_CLASS);
    int64_t bad = ds->n;
    float x[128];
    assert_int_equal(rs_dataset_batch(ds, &bad, 1, 0, x, NULL, NULL), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "image index 2816 is outside 0..2815"));
    rs_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_twopoints_reference_counts), cmocka_unit_test(test_twopoints_other_options),
        cmocka_unit_test(test_twopoints_seed_and_ptr),     cmocka_unit_test(test_twopoints_pixels),
        cmocka_unit_test(test_twopoints_background_noise), cmocka_unit_test(test_scale1d),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
