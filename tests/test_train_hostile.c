/* test_train_hostile.c: the trainer against hostile inputs. Datasets whose test split has larger images (IDX) or
 * more channels (NPY) than the training split are refused before anything is allocated from the wrong shape (they
 * overflowed the input buffer before). A run directory whose config.json or resume metadata holds a value the
 * command line would refuse (threads 1000000, track_P 2^40, epochs_done 1e30, a wrong optimizer_states ...) is
 * refused with a message naming the field, and the run's files are left as they were. A resume with a larger
 * epoch count extends the run with the schedule of the new length (the log's learning rates of the added epochs
 * equal those of a run started with that length, config.json records it); resuming a finished run trains nothing
 * and says so. A one-class dataset and a --track-P larger than the test split are refused. */
#include <cjson/cJSON.h>
#include "testutil.h"

#include <math.h>
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

#define TASK "scale1d:L=64,xi=16,ntrain=64,nval=16"

static void small_run(rs_train_config *c, const char *out, int32_t epochs) {
    rs_train_config_default(c);
    assert_int_equal(rs_train_apply_recipe(c, "scale1d"), RS_OK);
    snprintf(c->model, sizeof c->model, "gapmf1d");
    snprintf(c->data, sizeof c->data, TASK);
    snprintf(c->out, sizeof c->out, "%s", out);
    c->width = 8;
    c->depth = 6;
    c->epochs = epochs;
    c->stop = RS_STOP_EPOCHS;
    c->threads = 1;
    c->quiet = 1;
    c->momentum = 0.9; /* one optimiser state, to be lost by a wrong optimizer_states */
}

/* config.json of dir with `key` set to the number v (or the string sv); returns the read status. */
static rs_status read_with(const char *dir, const char *key, double v, const char *sv) {
    char path[1200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    void *buf;
    size_t len;
    assert_int_equal(rs_read_file(path, &buf, &len, 1 << 20), RS_OK);
    cJSON *o = cJSON_ParseWithLength(buf, len);
    rs_free(buf);
    assert_non_null(o);
    cJSON_ReplaceItemInObjectCaseSensitive(o, key, sv ? cJSON_CreateString(sv) : cJSON_CreateNumber(v));
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    char bad[1200];
    snprintf(bad, sizeof bad, "%s/bad.json", dir);
    assert_int_equal(rs_write_file_atomic(bad, text, strlen(text)), RS_OK);
    free(text);
    rs_train_config c;
    return rs_train_config_read(&c, bad);
}

static void expect_config_refused(const char *dir, const char *key, double v, const char *sv, const char *words) {
    rs_status s = read_with(dir, key, v, sv);
    if (s == RS_OK || !strstr(rs_last_error(), words)) fprintf(stderr, "%s: expected '%s': %s\n", key, words, rs_last_error());
    assert_int_equal(s, RS_ERR_FORMAT);
    assert_non_null(strstr(rs_last_error(), words));
}

static void test_hostile_config(void **state) {
    (void)state;
    const char *dir = tu_tmpdir("hostile-config");
    rs_train_config c;
    rs_train_result r;
    small_run(&c, dir, 1);
    assert_int_equal(rs_train_run(&c, &r), RS_OK);
    assert_int_equal(read_with(dir, "threads", 1, NULL), RS_OK); /* the file as written reads back */
    expect_config_refused(dir, "threads", 1e6, NULL, "'threads' (--threads) must be an integer between 0 and 1024");
    expect_config_refused(dir, "track_P", 1099511627776.0, NULL, "'track_P' (--track-P)");
    expect_config_refused(dir, "epochs", 1e30, NULL, "'epochs' (--epochs)");
    expect_config_refused(dir, "epochs", 2.5, NULL, "must be an integer");
    expect_config_refused(dir, "seed", -1, NULL, "'seed' (--seed)");
    expect_config_refused(dir, "seed", 1e19, NULL, "'seed' (--seed)");
    expect_config_refused(dir, "lr", -0.1, NULL, "'lr' (--lr) must be a number between 0");
    expect_config_refused(dir, "momentum", 2, NULL, "'momentum'");
    expect_config_refused(dir, "batch", 0, NULL, "'batch'");
    expect_config_refused(dir, "ptr", -5, NULL, "'ptr'");
    expect_config_refused(dir, "width", 1e12, NULL, "'width'");
    expect_config_refused(dir, "threads", 0, "many", "missing number 'threads'");
}

/* Rewrites DIR/resume.safetensors with metadata `key` set to value. */
static void set_resume_meta(const char *dir, const char *key, const char *value) {
    char path[1300];
    snprintf(path, sizeof path, "%s/resume.safetensors", dir);
    rs_safetensors *st;
    assert_int_equal(rs_safetensors_read(path, &st), RS_OK);
    const char *vals[32];
    assert_true(st->n_meta <= 32);
    int found = 0;
    for (int32_t i = 0; i < st->n_meta; i++) {
        vals[i] = st->meta_values[i];
        if (!strcmp(st->meta_keys[i], key)) vals[i] = value, found = 1;
    }
    assert_true(found);
    rs_st_tensor *ts = st->tensors;
    /* the writer copies: write next to it, then over it */
    char tmp[1300];
    snprintf(tmp, sizeof tmp, "%s/resume.new", dir);
    assert_int_equal(rs_safetensors_write(tmp, ts, st->n_tensors, (const char *const *)st->meta_keys, vals,
                                          st->n_meta), RS_OK);
    rs_safetensors_free(st);
    assert_int_equal(rename(tmp, path), 0);
}

static void test_hostile_resume_metadata(void **state) {
    (void)state;
    const char *root = tu_tmpdir("hostile-resume");
    const struct {
        const char *key, *value, *words;
    } cases[] = {
        {"epochs_done", "1e30", "metadata 'epochs_done' must be an integer"},
        {"epochs_done", "-1", "'epochs_done'"},
        {"epochs_done", "1.5", "'epochs_done'"},
        {"best_epoch", "7", "'best_epoch'"},
        {"best_test_err", "nan", "'best_test_err'"},
        {"step", "1e300", "'step'"},
        {"optimizer_states", "0", "'optimizer_states' is 0 but the configured optimiser (sgd, momentum 0.9) keeps 1"},
        {"optimizer_states", "2", "'optimizer_states' is 2"},
        {"wall_s", "-3", "'wall_s'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/run%zu", root, i);
        rs_train_config c;
        rs_train_result r;
        small_run(&c, dir, 1);
        assert_int_equal(rs_train_run(&c, &r), RS_OK);
        set_resume_meta(dir, cases[i].key, cases[i].value);
        c.epochs = 2;
        c.resume = 1;
        rs_status s = rs_train_run(&c, &r);
        if (s == RS_OK || !strstr(rs_last_error(), cases[i].words))
            fprintf(stderr, "%s=%s: expected '%s': %s\n", cases[i].key, cases[i].value, cases[i].words, rs_last_error());
        assert_int_equal(s, RS_ERR_FORMAT);
        assert_non_null(strstr(rs_last_error(), cases[i].words));
    }
}

/* The lr column of DIR/log.csv (up to 16 rows); returns the row count. */
static int log_lrs(const char *dir, double *lr) {
    char path[1300], line[512];
    snprintf(path, sizeof path, "%s/log.csv", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int n = 0, ep;
    assert_non_null(fgets(line, sizeof line, f));
    while (n < 16 && fgets(line, sizeof line, f) && sscanf(line, "%d,%lf", &ep, &lr[n]) == 2) n++;
    fclose(f);
    return n;
}

static void test_resume_extends(void **state) {
    (void)state;
    const char *root = tu_tmpdir("hostile-extend");
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s/extended", root);
    snprintf(b, sizeof b, "%s/straight", root);
    rs_train_config c;
    rs_train_result r;
    small_run(&c, a, 2);
    c.sched = RS_SCHED_COSINE;
    assert_int_equal(rs_train_run(&c, &r), RS_OK);
    c.resume = 1; /* same length: finished, nothing trained */
    assert_int_equal(rs_train_run(&c, &r), RS_OK);
    assert_true(r.already_finished);
    assert_int_equal(r.epochs_done, 2);
    c.epochs = 1;
    assert_int_equal(rs_train_run(&c, &r), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "--epochs 1 is fewer than the 2 epochs"));
    c.epochs = 4;
    assert_int_equal(rs_train_run(&c, &r), RS_OK);
    assert_false(r.already_finished);
    assert_int_equal(r.epochs_done, 4);
    rs_train_config back;
    char path[1300];
    snprintf(path, sizeof path, "%s/config.json", a);
    assert_int_equal(rs_train_config_read(&back, path), RS_OK);
    assert_int_equal(back.epochs, 4);
    small_run(&c, b, 4);
    c.sched = RS_SCHED_COSINE;
    assert_int_equal(rs_train_run(&c, &r), RS_OK);
    double la[16], lb[16];
    assert_int_equal(log_lrs(a, la), 4);
    assert_int_equal(log_lrs(b, lb), 4);
    for (int i = 2; i < 4; i++) assert_true(fabs(la[i] - lb[i]) <= 1e-9 * lb[i]);
    assert_true(la[1] != lb[1]); /* epoch 2 ran with the 2-epoch schedule, as logged */
}

static void test_one_class_and_track_p(void **state) {
    (void)state;
    const char *dir = tu_tmpdir("hostile-oneclass");
    char path[1200], spec[1200], out[1300];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    write_idx(path, 16, 8, 8);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir);
    write_idx(path, 1, 0, 0); /* one label, 0: written below for 16 images */
    FILE *f = fopen(path, "wb");
    uint8_t head[8] = {0, 0, 8, 1, 0, 0, 0, 16}, zeros[16] = {0};
    fwrite(head, 1, 8, f);
    fwrite(zeros, 1, 16, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", dir);
    write_idx(path, 8, 8, 8);
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", dir);
    f = fopen(path, "wb");
    head[7] = 8;
    fwrite(head, 1, 8, f);
    fwrite(zeros, 1, 8, f);
    fclose(f);
    snprintf(spec, sizeof spec, "idx:%s", dir);
    snprintf(out, sizeof out, "%s/run", dir);
    expect_refused(spec, out, "has 1 class");

    rs_train_config c;
    rs_train_result r;
    snprintf(out, sizeof out, "%s/track", dir);
    small_run(&c, out, 1);
    c.track_every = 1;
    c.track_P = 20000;
    assert_int_equal(rs_train_run(&c, &r), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "--track-P 20000 is more than the"));
    c.track_P = 1;
    assert_int_equal(rs_train_run(&c, &r), RS_ERR_ARG);
    assert_non_null(strstr(rs_last_error(), "--track-P must be at least 2"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_class_and_track_p),
        cmocka_unit_test(test_resume_extends),
        cmocka_unit_test(test_hostile_config),
        cmocka_unit_test(test_hostile_resume_metadata),
        cmocka_unit_test(test_split_shapes_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
