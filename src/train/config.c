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
} field;

#define MAX_EXACT 9007199254740992.0 /* 2^53 */
#define FIELD(key, flag, lo, hi, type) {#key, flag, lo, hi, type, offsetof(rs_train_config, key)}
static const field fields[] = {
    FIELD(width, "--width", 0, 1 << 20, F_I32),
    FIELD(depth, "--depth", 0, 4096, F_I32),
    FIELD(filter, "--filter", 0, 4096, F_I32),
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

rs_status rs_train_check_ranges(const rs_train_config *c) {
    rs_train_config tmp = *c;
    for (int i = 0; i < N_FIELDS; i++) RS_TRY(set_field(&tmp, &fields[i], get_field(c, &fields[i]), ""));
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
    JSON_STR(o, data);
    JSON_STR(o, recipe);
    JSON_STR(o, out);
    JSON_STR(o, strides);
    cJSON_AddStringToObject(o, "opt", opt_names[c->opt]);
    cJSON_AddStringToObject(o, "sched", rs_sched_name(c->sched));
    cJSON_AddStringToObject(o, "loss", loss_names[c->loss]);
    cJSON_AddStringToObject(o, "stop", stop_names[c->stop]);
    for (int i = 0; i < N_FIELDS; i++) cJSON_AddNumberToObject(o, fields[i].key, get_field(c, &fields[i]));
    if (c->sync_bn) cJSON_AddNumberToObject(o, "sync_bn", c->sync_bn); /* only when set: other configs as before */
    if (c->bn) cJSON_AddNumberToObject(o, "bn", c->bn);
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

static rs_status read_fields(rs_train_config *c, const cJSON *o, const char *path) {
#define GET_STR(field)                                                                                    \
    do {                                                                                                  \
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, #field);                                    \
        if (!cJSON_IsString(it) || strlen(it->valuestring) >= sizeof c->field)                            \
            return rs_error(RS_ERR_FORMAT, "%s: missing or too long string '%s'", path, #field);          \
        snprintf(c->field, sizeof c->field, "%s", it->valuestring);                                       \
    } while (0)
    GET_STR(model);
    GET_STR(data);
    GET_STR(recipe);
    GET_STR(out);
    GET_STR(strides);
    char where[1100];
    snprintf(where, sizeof where, "%s: ", path);
    for (int i = 0; i < N_FIELDS; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, fields[i].key);
        if (!cJSON_IsNumber(it)) return rs_error(RS_ERR_FORMAT, "%s: missing number '%s'", path, fields[i].key);
        if (set_field(c, &fields[i], it->valuedouble, where) != RS_OK) return RS_ERR_FORMAT;
    }
    const cJSON *sb = cJSON_GetObjectItemCaseSensitive(o, "sync_bn"); /* optional (data-parallel runs) */
    c->sync_bn = cJSON_IsNumber(sb) ? (int32_t)(sb->valuedouble != 0) : 0;
    const cJSON *bn = cJSON_GetObjectItemCaseSensitive(o, "bn");
    c->bn = cJSON_IsNumber(bn) ? (int32_t)(bn->valuedouble != 0) : 0;
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
