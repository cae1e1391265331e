/* config.c: training settings: defaults, the paper's recipes (SPEC.md 3.3 and 5.2), and config.json. The recipe
 * table is the single place where a recipe's numbers live; docs/train.md lists them. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/train.h"

void rs_train_config_default(rs_train_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->data, sizeof c->data, "fashionmnist");
    c->opt = RS_OPT_SGD;
    c->lr = 0.05; /* without a recipe; LeNet on FashionMNIST is unstable in its first epoch at 0.1 */
    c->momentum = 0.9;
    c->weight_decay = 5e-4;
    c->sched = RS_SCHED_PAPER;
    c->step_size = 30;
    c->gamma = 0.1;
    c->epochs = 10;
    c->batch = 128;
    c->test_batch = 500;
    c->loss = RS_LOSS_CE;
    c->track_P = 0; /* 500, or the test split if smaller */
    rs_model_opts_init(&c->model_opts);
}

typedef struct {
    const char *name;
    rs_opt_type opt;
    double lr, momentum, weight_decay;
    int32_t lr_times_width;
    rs_sched_type sched;
    int32_t epochs, batch;
    rs_loss_kind loss;
    int32_t crop_padding, hflip;
    double ridge;
    rs_stop_rule stop;
    const char *what;
} recipe;

static const recipe recipes[] = {
    {"paper-cnn", RS_OPT_SGD, 0.1, 0.9, 5e-4, 0, RS_SCHED_PAPER, 250, 128, RS_LOSS_CE, 4, 1, 0, RS_STOP_EPOCHS,
     "CNNs on CIFAR-10 (docs/science.md 3.3 A)"},
    {"paper-fcn", RS_OPT_ADAM, 0.1, 0, 0, 0, RS_SCHED_CONSTANT, 250, 128, RS_LOSS_CE, 4, 1, 0, RS_STOP_EPOCHS,
     "fully connected nets on CIFAR-10 (docs/science.md 3.3 B)"},
    {"twopoints", RS_OPT_SGD, 0.05, 0.9, 5e-4, 0, RS_SCHED_PAPER, 300, 128, RS_LOSS_HINGE, 0, 0, 0, RS_STOP_EPOCHS,
     "deep nets on the 2-D scale-detection task (docs/science.md 3.3 C)"},
    {"scale1d", RS_OPT_SGD, 0.01, 0, 0, 1, RS_SCHED_CONSTANT, 600000, 8, RS_LOSS_HINGE, 0, 0, 0.01,
     RS_STOP_ZERO_LOSS, "the 1-D pooling CNN on the 1-D scale-detection task (docs/science.md 5.2)"},
};

const char *rs_train_recipe_names(void) { return "paper-cnn, paper-fcn, twopoints, scale1d"; }

rs_status rs_train_apply_recipe(rs_train_config *c, const char *name) {
    for (size_t i = 0; i < sizeof recipes / sizeof recipes[0]; i++) {
        const recipe *r = &recipes[i];
        if (strcmp(name, r->name)) continue;
        snprintf(c->recipe, sizeof c->recipe, "%s", r->name);
        c->opt = r->opt;
        c->lr = r->lr;
        c->momentum = r->momentum;
        c->weight_decay = r->weight_decay;
        c->lr_times_width = r->lr_times_width;
        c->decay_1d = 0;
        c->nesterov = 0;
        c->sched = r->sched;
        c->epochs = r->epochs;
        c->batch = r->batch;
        c->loss = r->loss;
        c->crop_padding = r->crop_padding;
        c->hflip = r->hflip;
        c->ridge = r->ridge;
        c->stop = r->stop;
        return RS_OK;
    }
    return rs_error(RS_ERR_ARG, "unknown recipe '%s' (known: %s)", name, rs_train_recipe_names());
}

/* ---------------------------------------------------------------- the ranges of the numeric settings */
/* One table for the command line (cmd_train.c parses each flag with these bounds) and for config.json (every
 * number read back is checked against them before it is stored): a run directory can hold nothing that the
 * flags would refuse. Seeds and counts stop at 2^53, the largest integer a JSON number holds exactly. */
typedef enum { F_I32, F_I64, F_U64, F_F64 } field_type;
typedef struct {
    const char *key, *flag;
    double lo, hi;
    field_type type;
    size_t offset;
    int32_t model; /* a model option: in config.json's "model_opts" object */
} field;

#define MAX_EXACT 9007199254740992.0 /* 2^53 */
#define FIELD(key, flag, lo, hi, type) {#key, flag, lo, hi, type, offsetof(rs_train_config, key), 0}
/* a model option: -1 (alpha 0) is the model's default; the upper bounds are the model flags' (model_cli.c) */
#define MFIELD(key, flag, hi) {#key, flag, -1, hi, F_I32, offsetof(rs_train_config, model_opts.key), 1}
static const field fields[] = {
    MFIELD(channels, "--channels", 65536),
    MFIELD(height, "--size", 65536),
    MFIELD(width, "--size", 65536),
    MFIELD(classes, "--classes", 1 << 24),
    MFIELD(hidden, "--width", 1 << 20),
    MFIELD(depth, "--depth", RS_MODEL_MAX_BLOCKS),
    MFIELD(filter_size, "--filter-size", 1024),
    MFIELD(stride, "--stride", 1024),
    MFIELD(released_strides, "--strides released", 1),
    MFIELD(pbc, "--pbc", 1),
    MFIELD(batch_norm, "--bn", 1),
    MFIELD(last_bias, "--last-bias", 1),
    {"alpha", "--alpha", -1e30, 1e30, F_F64, offsetof(rs_train_config, model_opts.alpha), 1},
    FIELD(lr, "--lr", 0, 1e6, F_F64),
    FIELD(lr_times_width, "--recipe scale1d", 0, 1, F_I32),
    FIELD(momentum, "--momentum", 0, 1, F_F64),
    FIELD(weight_decay, "--wd", 0, 1e3, F_F64),
    FIELD(nesterov, "--nesterov", 0, 1, F_I32),
    FIELD(decay_1d, "--decay-1d", 0, 1, F_I32),
    FIELD(step_size, "--step-size", 1, 1e6, F_I32),
    FIELD(gamma, "--gamma", 0, 1e3, F_F64),
    FIELD(epochs, "--epochs", 1, 1e8, F_I32),
    FIELD(batch, "--batch", 1, 4096, F_I32),
    FIELD(test_batch, "--test-batch", 1, 4096, F_I32),
    FIELD(ridge, "--ridge", 0, 1e6, F_F64),
    FIELD(crop_padding, "--crop-padding", 0, 64, F_I32),
    FIELD(hflip, "--flip", 0, 1, F_I32),
    FIELD(corrupt_std, "--corrupt", 0, 1e6, F_F64),
    FIELD(ptr, "--ptr", 0, MAX_EXACT, F_I64),
    FIELD(seed, "--seed", 0, MAX_EXACT, F_U64),
    FIELD(threads, "--threads", 0, 1024, F_I32),
    FIELD(track_every, "--track-every", 0, 1e8, F_I32),
    FIELD(track_P, "--track-P", 0, 1e6, F_I32), /* 0: 500 or the whole test split if smaller; else >= 2 */
};
#define N_FIELDS ((int)(sizeof fields / sizeof fields[0]))

static const field *find_field(const char *key) {
    for (int i = 0; i < N_FIELDS; i++)
        if (!strcmp(fields[i].key, key)) return &fields[i];
    return NULL;
}

int rs_train_config_range(const char *key, const char **flag, double *lo, double *hi, int *integer) {
    const field *f = find_field(key);
    if (!f) return -1;
    if (flag) *flag = f->flag;
    if (lo) *lo = f->lo;
    if (hi) *hi = f->hi;
    if (integer) *integer = f->type != F_F64;
    return 0;
}

static double get_field(const rs_train_config *c, const field *f) {
    const char *p = (const char *)c + f->offset;
    switch (f->type) {
    case F_I32: return (double)*(const int32_t *)p;
    case F_I64: return (double)*(const int64_t *)p;
    case F_U64: return (double)*(const uint64_t *)p;
    default: return *(const double *)p;
    }
}

/* Checks v against the field's range (and integrality) before storing it: never a cast of an out-of-range double. */
static rs_status set_field(rs_train_config *c, const field *f, double v, const char *where) {
    if (!isfinite(v) || v < f->lo || v > f->hi || (f->type != F_F64 && v != floor(v)))
        return rs_error(RS_ERR_ARG, "%s'%s' (%s) must be %s between %.17g and %.17g, got %.17g", where, f->key, f->flag,
                        f->type == F_F64 ? "a number" : "an integer", f->lo, f->hi, v);
    char *p = (char *)c + f->offset;
    switch (f->type) {
    case F_I32: *(int32_t *)p = (int32_t)v; break;
    case F_I64: *(int64_t *)p = (int64_t)v; break;
    case F_U64: *(uint64_t *)p = (uint64_t)v; break;
    default: *(double *)p = v;
    }
    return RS_OK;
}

rs_status rs_train_config_set(rs_train_config *c, const char *key, double v) {
    const field *f = find_field(key);
    if (!f) return rs_error(RS_ERR_ARG, "unknown training setting '%s'", key);
    return set_field(c, f, v, "");
}

/* The model options' stride list: at most RS_MODEL_MAX_BLOCKS strides from 1 to 1024 (the --strides flag's rule). */
static rs_status check_strides(const rs_model_opts *o, const char *where) {
    if (o->n_strides < 0 || o->n_strides > RS_MODEL_MAX_BLOCKS)
        return rs_error(RS_ERR_ARG, "%s'strides' (--strides) must hold at most %d strides, got %d", where,
                        RS_MODEL_MAX_BLOCKS, (int)o->n_strides);
    for (int32_t l = 0; l < o->n_strides; l++)
        if (o->strides[l] < 1 || o->strides[l] > 1024)
            return rs_error(RS_ERR_ARG, "%s'strides' (--strides) must be integers from 1 to 1024, got %d", where,
                            (int)o->strides[l]);
    return RS_OK;
}

rs_status rs_train_check_ranges(const rs_train_config *c) {
    rs_train_config tmp = *c;
    for (int i = 0; i < N_FIELDS; i++) RS_TRY(set_field(&tmp, &fields[i], get_field(c, &fields[i]), ""));
    RS_TRY(check_strides(&c->model_opts, ""));
    if (c->opt != RS_OPT_SGD && c->opt != RS_OPT_ADAM) return rs_error(RS_ERR_ARG, "unknown optimiser %d", (int)c->opt);
    if (c->loss != RS_LOSS_CE && c->loss != RS_LOSS_HINGE) return rs_error(RS_ERR_ARG, "unknown loss %d", (int)c->loss);
    if (c->stop != RS_STOP_EPOCHS && c->stop != RS_STOP_ZERO_LOSS)
        return rs_error(RS_ERR_ARG, "unknown stop rule %d", (int)c->stop);
    return RS_OK;
}

/* ---------------------------------------------------------------- config.json */
static const char *opt_names[] = {"sgd", "adam"};
static const char *loss_names[] = {"ce", "hinge"};
static const char *stop_names[] = {"epochs", "zero-loss"};

#define JSON_STR(obj, field) cJSON_AddStringToObject(obj, #field, c->field)

rs_status rs_train_config_write(const rs_train_config *c, const char *path) {
    cJSON *o = cJSON_CreateObject();
    JSON_STR(o, model);
    if (c->onnx[0]) JSON_STR(o, onnx);
    JSON_STR(o, data);
    JSON_STR(o, recipe);
    JSON_STR(o, out);
    cJSON_AddStringToObject(o, "opt", opt_names[c->opt]);
    cJSON_AddStringToObject(o, "sched", rs_sched_name(c->sched));
    cJSON_AddStringToObject(o, "loss", loss_names[c->loss]);
    cJSON_AddStringToObject(o, "stop", stop_names[c->stop]);
    cJSON *m = cJSON_AddObjectToObject(o, "model_opts");
    for (int i = 0; i < N_FIELDS; i++)
        cJSON_AddNumberToObject(fields[i].model ? m : o, fields[i].key, get_field(c, &fields[i]));
    cJSON *st = cJSON_AddArrayToObject(m, "strides"); /* every block's stride, [] = the model's pattern */
    for (int32_t l = 0; l < c->model_opts.n_strides && st; l++)
        cJSON_AddItemToArray(st, cJSON_CreateNumber(c->model_opts.strides[l]));
    if (c->sync_bn) cJSON_AddNumberToObject(o, "sync_bn", c->sync_bn); /* only when set: other configs as before */
    cJSON_AddStringToObject(o, "relstab_version", RELSTAB_VERSION);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return rs_error(RS_ERR_NOMEM, "cannot format %s", path);
    size_t len = strlen(text);
    text[len] = '\n'; /* cJSON's buffer has room for its terminator: replace it, write len + 1 */
    rs_status s = rs_write_file_atomic(path, text, len + 1);
    free(text);
    return s;
}

static int lookup(const char *const *names, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (s && !strcmp(names[i], s)) return i;
    return -1;
}

/* "strides": [2, 1, ...] of "model_opts", checked as the flag's values are. */
static rs_status read_strides(rs_train_config *c, const cJSON *st, const char *path, const char *where) {
    if (!cJSON_IsArray(st)) return rs_error(RS_ERR_FORMAT, "%s: missing list 'model_opts.strides'", path);
    int32_t n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, st) {
        if (n == RS_MODEL_MAX_BLOCKS || !cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
            it->valuedouble < 1 || it->valuedouble > 1024)
            return rs_error(RS_ERR_FORMAT, "%s'strides' (--strides) must be at most %d integers from 1 to 1024",
                            where, RS_MODEL_MAX_BLOCKS);
        c->model_opts.strides[n++] = (int32_t)it->valuedouble;
    }
    c->model_opts.n_strides = n;
    return RS_OK;
}

/* A config.json from before "model_opts": numbers width (hidden units), depth, filter (0 = default), a string
 * strides ("2,1,2" or "") and an optional number bn. */
static rs_status read_legacy_model(rs_train_config *c, const cJSON *o, const char *path) {
    rs_model_opts *m = &c->model_opts;
    const char *keys[3] = {"width", "depth", "filter"};
    int32_t *dst[3] = {&m->hidden, &m->depth, &m->filter_size};
    const double hi[3] = {1 << 20, RS_MODEL_MAX_BLOCKS, 1024};
    for (int i = 0; i < 3; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
        if (!cJSON_IsNumber(it)) return rs_error(RS_ERR_FORMAT, "%s: missing 'model_opts'", path);
        double v = it->valuedouble;
        if (v != floor(v) || v < 0 || v > hi[i])
            return rs_error(RS_ERR_FORMAT, "%s: '%s' must be an integer between 0 and %.0f, got %.17g", path, keys[i],
                            hi[i], v);
        *dst[i] = v > 0 ? (int32_t)v : -1;
    }
    const cJSON *bn = cJSON_GetObjectItemCaseSensitive(o, "bn"); /* optional: 1 = BatchNorm after each ReLU */
    if (cJSON_IsNumber(bn) && bn->valuedouble != 0) m->batch_norm = 1;
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "strides"));
    m->n_strides = 0;
    while (s && *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 1024 || (*end && *end != ',') || m->n_strides == RS_MODEL_MAX_BLOCKS)
            return rs_error(RS_ERR_FORMAT, "%s: bad 'strides'", path);
        m->strides[m->n_strides++] = (int32_t)v;
        s = *end ? end + 1 : end;
    }
    return RS_OK;
}

static rs_status read_fields(rs_train_config *c, const cJSON *o, const char *path) {
#define GET_STR(field)                                                                                    \
    do {                                                                                                  \
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, #field);                                    \
        if (!cJSON_IsString(it) || strlen(it->valuestring) >= sizeof c->field)                            \
            return rs_error(RS_ERR_FORMAT, "%s: missing or too long string '%s'", path, #field);          \
        snprintf(c->field, sizeof c->field, "%s", it->valuestring);                                       \
    } while (0)
    GET_STR(model);
    if (!strcmp(c->model, "onnx")) GET_STR(onnx); /* a run of an ONNX model (train --onnx) */
    GET_STR(data);
    GET_STR(recipe);
    GET_STR(out);
    char where[1100];
    snprintf(where, sizeof where, "%s: ", path);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "model_opts");
    if (!m) RS_TRY(read_legacy_model(c, o, path));
    else if (!cJSON_IsObject(m)) return rs_error(RS_ERR_FORMAT, "%s: 'model_opts' is not an object", path);
    for (int i = 0; i < N_FIELDS; i++) {
        if (fields[i].model && !m) continue;
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(fields[i].model ? m : o, fields[i].key);
        if (!cJSON_IsNumber(it))
            return rs_error(RS_ERR_FORMAT, "%s: missing number '%s%s'", path, fields[i].model ? "model_opts." : "",
                            fields[i].key);
        if (set_field(c, &fields[i], it->valuedouble, where) != RS_OK) return RS_ERR_FORMAT;
    }
    if (m) RS_TRY(read_strides(c, cJSON_GetObjectItemCaseSensitive(m, "strides"), path, where));
    const cJSON *sb = cJSON_GetObjectItemCaseSensitive(o, "sync_bn"); /* optional (data-parallel runs) */
    c->sync_bn = cJSON_IsNumber(sb) ? (int32_t)(sb->valuedouble != 0) : 0;
    const cJSON *it;
    int k;
    it = cJSON_GetObjectItemCaseSensitive(o, "opt");
    if ((k = lookup(opt_names, 2, cJSON_GetStringValue(it))) < 0) return rs_error(RS_ERR_FORMAT, "%s: bad 'opt'", path);
    c->opt = (rs_opt_type)k;
    it = cJSON_GetObjectItemCaseSensitive(o, "loss");
    if ((k = lookup(loss_names, 2, cJSON_GetStringValue(it))) < 0) return rs_error(RS_ERR_FORMAT, "%s: bad 'loss'", path);
    c->loss = (rs_loss_kind)k;
    it = cJSON_GetObjectItemCaseSensitive(o, "stop");
    if ((k = lookup(stop_names, 2, cJSON_GetStringValue(it))) < 0) return rs_error(RS_ERR_FORMAT, "%s: bad 'stop'", path);
    c->stop = (rs_stop_rule)k;
    it = cJSON_GetObjectItemCaseSensitive(o, "sched");
    if (!cJSON_GetStringValue(it) || rs_sched_parse(cJSON_GetStringValue(it), &c->sched) != RS_OK)
        return rs_error(RS_ERR_FORMAT, "%s: bad 'sched'", path);
    return RS_OK;
#undef GET_STR
}

rs_status rs_train_config_read(rs_train_config *c, const char *path) {
    void *buf;
    size_t len;
    RS_TRY(rs_read_file(path, &buf, &len, 1 << 20));
    cJSON *o = cJSON_ParseWithLength(buf, len);
    rs_free(buf);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return rs_error(RS_ERR_FORMAT, "%s is not a JSON object", path);
    }
    rs_train_config_default(c);
    rs_status s = read_fields(c, o, path);
    cJSON_Delete(o);
    return s;
}
