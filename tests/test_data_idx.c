/* test_data_idx.c: the IDX loader (src/data/idx.c): small files written here, plain and gzip, read back exactly
 * through idx:DIR and mnist:DIR; hostile files (wrong magic, other data types, truncated data, trailing bytes,
 * corrupt gzip, counts that disagree, absurd dimensions, headers claiming more than the file holds) each refused
 * with a message naming the file and the problem. */
#include "data_testutil.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "data/data_internal.h"
#include "relstab/data.h"

#define N 5
#define H 4
#define W 3

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* An IDX image in memory: header for dims, then `data_len` bytes of data. Returns its length. */
static size_t make_idx(uint8_t *buf, int nd, const uint32_t *dims, const uint8_t *data, size_t data_len) {
    buf[0] = buf[1] = 0;
    buf[2] = 0x08;
    buf[3] = (uint8_t)nd;
    for (int k = 0; k < nd; k++) put_be32(buf + 4 + 4 * k, dims[k]);
    memcpy(buf + 4 + 4 * nd, data, data_len);
    return 4 + 4 * (size_t)nd + data_len;
}

static void write_bytes(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
}

static void write_gz(const char *path, const void *buf, size_t len) {
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, buf, (unsigned)len), (int)len);
    assert_int_equal(gzclose(g), Z_OK);
}

/* gzip of buf in memory (compress2 would give zlib, not gzip: deflateInit2 with 16 + MAX_WBITS). */
static size_t gz_mem(const uint8_t *buf, size_t len, uint8_t *out, size_t cap) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)buf;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t n = cap - zs.avail_out;
    deflateEnd(&zs);
    return n;
}

static uint8_t pixels[N * H * W], labels[N];

static void fill_data(void) {
    for (int i = 0; i < N * H * W; i++) pixels[i] = (uint8_t)(i * 37 + 11);
    for (int i = 0; i < N; i++) labels[i] = (uint8_t)((i * 3) % 10);
}

/* Writes train and t10k image / label files into dir (gz or plain). */
static void write_split_files(const char *dir, int gz) {
    uint8_t buf[1024];
    char path[1024];
    uint32_t idims[3] = {N, H, W}, ldims[1] = {N};
    const char *prefixes[2] = {"train", "t10k"};
    for (int s = 0; s < 2; s++) {
        size_t len = make_idx(buf, 3, idims, pixels, sizeof pixels);
        snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte%s", dir, prefixes[s], gz ? ".gz" : "");
        gz ? write_gz(path, buf, len) : write_bytes(path, buf, len);
        len = make_idx(buf, 1, ldims, labels, sizeof labels);
        snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte%s", dir, prefixes[s], gz ? ".gz" : "");
        gz ? write_gz(path, buf, len) : write_bytes(path, buf, len);
    }
}

static void check_roundtrip(const char *spec, int split) {
    rs_data_options o;
    rs_data_options_default(&o);
    o.norm = RS_NORM_NONE;
    rs_dataset *ds = NULL;
    rs_status st = rs_dataset_open(spec, split, &o, &ds);
    if (st != RS_OK) fprintf(stderr, "%s\n", rs_last_error());
    assert_int_equal(st, RS_OK);
    assert_int_equal(ds->n, N);
    assert_int_equal(ds->channels, 1);
    assert_int_equal(ds->height, H);
    assert_int_equal(ds->width, W);
    assert_int_equal(ds->store, RS_STORE_U8);
    int64_t idx[N];
    for (int i = 0; i < N; i++) idx[i] = N - 1 - i; /* any order */
    float x[N * H * W];
    int32_t y[N];
    assert_int_equal(rs_dataset_batch(ds, idx, N, 0, x, y, NULL), RS_OK);
    for (int i = 0; i < N; i++) {
        assert_int_equal(y[i], labels[idx[i]]);
        for (int k = 0; k < H * W; k++) assert_true(x[i * H * W + k] == (float)pixels[idx[i] * H * W + k] / 255.0f);
    }
    rs_dataset_free(ds);
}

static void test_roundtrip_plain_and_gz(void **state) {
    fill_data();
    char spec[1100];
    for (int gz = 0; gz < 2; gz++) {
        const char *dir = tu_tmpdir("idx");
        write_split_files(dir, gz);
        snprintf(spec, sizeof spec, "idx:%s", dir);
        check_roundtrip(spec, RS_SPLIT_TRAIN);
        check_roundtrip(spec, RS_SPLIT_TEST);
        snprintf(spec, sizeof spec, "mnist:%s", dir);
        check_roundtrip(spec, RS_SPLIT_TRAIN);
        rs_dataset *ds = NULL;
        assert_int_equal(rs_dataset_open(spec, RS_SPLIT_TEST, NULL, &ds), RS_OK);
        assert_int_equal(ds->classes, 10);
        rs_dataset_free(ds);
        snprintf(spec, sizeof spec, "idx:%s", dir);
        assert_int_equal(rs_dataset_open(spec, RS_SPLIT_TEST, NULL, &ds), RS_OK);
        assert_int_equal(ds->classes, 10); /* 1 + the largest training label, 9 */
        rs_dataset_free(ds);
    }
}

/* The parser on memory buffers: every malformed variant is refused with the expected words in the message. */
static void expect_refused(const uint8_t *buf, size_t len, const char *words) {
    rs_idx a;
    rs_clear_error();
    rs_status st = rs_idx_parse(buf, len, "hostile.idx", &a);
    if (st == RS_OK || !strstr(rs_last_error(), words) || !strstr(rs_last_error(), "hostile.idx"))
        fprintf(stderr, "expected '%s', got status %d: %s\n", words, st, rs_last_error());
    assert_int_not_equal(st, RS_OK);
    assert_non_null(strstr(rs_last_error(), "hostile.idx"));
    assert_non_null(strstr(rs_last_error(), words));
}

static void test_hostile_plain(void **state) {
    fill_data();
    uint8_t buf[1024], bad[1024];
    uint32_t dims[3] = {N, H, W};
    size_t len = make_idx(buf, 3, dims, pixels, sizeof pixels);
    rs_idx a;
    assert_int_equal(rs_idx_parse(buf, len, "ok.idx", &a), RS_OK);
    assert_int_equal(a.nbytes, sizeof pixels);
    assert_memory_equal(a.data, pixels, sizeof pixels);
    rs_idx_free(&a);

    expect_refused(buf, 0, "too short");
    expect_refused(buf, 3, "too short");
    memcpy(bad, buf, len);
    bad[0] = 1;
    expect_refused(bad, len, "not an IDX file");
    memcpy(bad, buf, len);
    bad[2] = 0x0D; /* float data */
    expect_refused(bad, len, "data type 0x0d");
    memcpy(bad, buf, len);
    bad[3] = 0;
    expect_refused(bad, len, "dimension count 0");
    bad[3] = 5;
    expect_refused(bad, len, "dimension count 5");
    expect_refused(buf, 10, "truncated IDX header");
    expect_refused(buf, len - 1, "truncated");
    expect_refused(buf, 20, "truncated: 4 of the 60 data bytes");
    memcpy(bad, buf, len);
    bad[len] = 7;
    expect_refused(bad, len + 1, "1 bytes after");
    uint32_t zero[3] = {N, 0, W};
    size_t zl = make_idx(bad, 3, zero, pixels, 0);
    expect_refused(bad, zl, "dimension 1 is 0");
    /* absurd dimensions: each fits int32 but the product overflows size_t, or passes the 64 GiB cap */
    uint32_t huge[4] = {0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff};
    size_t hl = make_idx(bad, 4, huge, pixels, 16);
    expect_refused(bad, hl, "announce more than");
    uint32_t neg[3] = {0x80000000u, 1, 1};
    hl = make_idx(bad, 3, neg, pixels, 16);
    expect_refused(bad, hl, "dimension 0 is 2147483648");
    /* a header claiming more bytes than the file has */
    uint32_t big[3] = {60000, 28, 28};
    hl = make_idx(bad, 3, big, pixels, sizeof pixels);
    expect_refused(bad, hl, "truncated: 60 of the 47040000 data bytes");
}

static void test_hostile_gzip(void **state) {
    fill_data();
    uint8_t buf[1024], gz[2048], bad[2048];
    uint32_t dims[3] = {N, H, W};
    size_t len = make_idx(buf, 3, dims, pixels, sizeof pixels);
    size_t glen = gz_mem(buf, len, gz, sizeof gz);
    rs_idx a;
    assert_int_equal(rs_idx_parse(gz, glen, "ok.idx.gz", &a), RS_OK);
    assert_non_null(a.owned);
    assert_memory_equal(a.data, pixels, sizeof pixels);
    rs_idx_free(&a);

    expect_refused(gz, glen - 4, "truncated gzip"); /* the trailer cut */
    expect_refused(gz, 12, "");                     /* cut inside the header */
    memcpy(bad, gz, glen);
    bad[glen - 6] ^= 0xff; /* CRC-32 of the trailer */
    expect_refused(bad, glen, "corrupt gzip");
    memcpy(bad, gz, glen);
    bad[glen] = 0;
    expect_refused(bad, glen + 1, "1 bytes after the end of the gzip stream");
    /* data shorter than the header says, inside a well-formed gzip stream */
    size_t blen = gz_mem(buf, len - 7, bad, sizeof bad);
    expect_refused(bad, blen, "truncated: 53 of the 60 data bytes");
    /* more data than announced */
    uint8_t longer[1024];
    memcpy(longer, buf, len);
    longer[len] = 1;
    blen = gz_mem(longer, len + 1, bad, sizeof bad);
    expect_refused(bad, blen, "more data than the 60 bytes");
    /* a tiny gzip file whose header claims 47 MB: refused before allocating (deflate's 1032:1 bound) */
    uint32_t big[3] = {60000, 28, 28};
    size_t hl = make_idx(longer, 3, big, pixels, 8);
    blen = gz_mem(longer, hl, bad, sizeof bad);
    expect_refused(bad, blen, "more than a");
    /* wrong magic inside the gzip */
    memcpy(longer, buf, len);
    longer[1] = 9;
    blen = gz_mem(longer, len, bad, sizeof bad);
    expect_refused(bad, blen, "not an IDX file");
}

/* Directory-level errors: missing files, counts that disagree, labels out of range, wrong ranks. */

static void test_directory_errors(void **state) {
    fill_data();
    const char *dir = tu_tmpdir("idxbad");
    char spec[1100], path[1100];
    snprintf(spec, sizeof spec, "mnist:%s", dir);
    expect_open_fails(spec, RS_SPLIT_TRAIN, "no train-images-idx3-ubyte[.gz]");
    expect_open_fails("mnist", RS_SPLIT_TRAIN, "needs a directory");
    write_split_files(dir, 0);
    uint8_t buf[1024];
    /* 4 labels for 5 images */
    uint32_t ldims[1] = {N - 1};
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", dir);
    write_bytes(path, buf, make_idx(buf, 1, ldims, labels, N - 1));
    expect_open_fails(spec, RS_SPLIT_TEST, "has 5 images but");
    /* a label of 10 for MNIST */
    uint8_t l2[N];
    memcpy(l2, labels, N);
    l2[2] = 10;
    uint32_t ldims5[1] = {N};
    write_bytes(path, buf, make_idx(buf, 1, ldims5, l2, N));
    expect_open_fails(spec, RS_SPLIT_TEST, "label 10 of image 2 is outside 0..9");
    /* images with 2 dimensions */
    uint32_t idims[2] = {N, H * W};
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    write_bytes(path, buf, make_idx(buf, 2, idims, pixels, sizeof pixels));
    expect_open_fails(spec, RS_SPLIT_TRAIN, "must have 3 dimensions");
    /* a truncated images file names the file */
    uint32_t dims3[3] = {N, H, W};
    write_bytes(path, buf, make_idx(buf, 3, dims3, pixels, sizeof pixels) - 5);
    expect_open_fails(spec, RS_SPLIT_TRAIN, "train-images-idx3-ubyte: truncated");
    expect_open_fails(spec, RS_SPLIT_VAL, "only a train and a test split");
    expect_open_fails("nosuchset", RS_SPLIT_TRAIN, "unknown dataset 'nosuchset'");
}

/* Splits with different image shapes (the test images larger): both splits are refused at open, naming both. */
static void test_split_shapes_differ(void **state) {
    (void)state;
    fill_data();
    for (int gz = 0; gz < 2; gz++) {
        const char *dir = tu_tmpdir("idxsplit");
        write_split_files(dir, gz);
        static uint8_t big[N * (H + 2) * (W + 1)], buf[2048];
        uint32_t dims[3] = {N, H + 2, W + 1};
        char path[1100], spec[1100];
        snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte%s", dir, gz ? ".gz" : "");
        size_t len = make_idx(buf, 3, dims, big, sizeof big);
        gz ? write_gz(path, buf, len) : write_bytes(path, buf, len);
        snprintf(spec, sizeof spec, "idx:%s", dir);
        expect_open_fails(spec, RS_SPLIT_TRAIN, "the training images are 1x4x3");
        expect_open_fails(spec, RS_SPLIT_TEST, "but the test images are 1x6x4");
        snprintf(spec, sizeof spec, "fashionmnist:%s", dir);
        expect_open_fails(spec, RS_SPLIT_TEST, "both splits must have one image shape");
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_shapes_differ),
        cmocka_unit_test(test_roundtrip_plain_and_gz),
        cmocka_unit_test(test_hostile_plain),
        cmocka_unit_test(test_hostile_gzip),
        cmocka_unit_test(test_directory_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
