/* config.c: training settings: defaults, the paper's recipes (SPEC.md 3.3 and 5.2), and config.json. The recipe
 * table is the single place where a recipe's numbers live; docs/train.md lists them. */
#include <cjson/cJSON.h>
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
    c->track_P = 500;
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
     "CNNs on CIFAR-10 (SPEC 3.3 A)"},
    {"paper-fcn", RS_OPT_ADAM, 0.1, 0, 0, 0, RS_SCHED_CONSTANT, 250, 128, RS_LOSS_CE, 4, 1, 0, RS_STOP_EPOCHS,
     "fully connected nets on CIFAR-10 (SPEC 3.3 B)"},
    {"twopoints", RS_OPT_SGD, 0.05, 0.9, 5e-4, 0, RS_SCHED_PAPER, 300, 128, RS_LOSS_HINGE, 0, 0, 0, RS_STOP_EPOCHS,
     "deep nets on the 2-D scale-detection task (SPEC 3.3 C)"},
    {"scale1d", RS_OPT_SGD, 0.01, 0, 0, 1, RS_SCHED_CONSTANT, 600000, 8, RS_LOSS_HINGE, 0, 0, 0.01,
     RS_STOP_ZERO_LOSS, "the 1-D pooling CNN on the 1-D scale-detection task (SPEC 5.2)"},
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

static const char *opt_names[] = {"sgd", "adam"};
static const char *loss_names[] = {"ce", "hinge"};
static const char *stop_names[] = {"epochs", "zero-loss"};

#define JSON_NUM(obj, field) cJSON_AddNumberToObject(obj, #field, (double)c->field)
#define JSON_STR(obj, field) cJSON_AddStringToObject(obj, #field, c->field)

rs_status rs_train_config_write(const rs_train_config *c, const char *path) {
    cJSON *o = cJSON_CreateObject();
    JSON_STR(o, model);
    JSON_STR(o, data);
    JSON_STR(o, recipe);
    JSON_STR(o, out);
    JSON_NUM(o, width);
    JSON_NUM(o, depth);
    JSON_NUM(o, filter);
    JSON_STR(o, strides);
    cJSON_AddStringToObject(o, "opt", opt_names[c->opt]);
    JSON_NUM(o, lr);
    JSON_NUM(o, lr_times_width);
    JSON_NUM(o, momentum);
    JSON_NUM(o, weight_decay);
    JSON_NUM(o, nesterov);
    JSON_NUM(o, decay_1d);
    cJSON_AddStringToObject(o, "sched", rs_sched_name(c->sched));
    JSON_NUM(o, step_size);
    JSON_NUM(o, gamma);
    JSON_NUM(o, epochs);
    JSON_NUM(o, batch);
    JSON_NUM(o, test_batch);
    cJSON_AddStringToObject(o, "loss", loss_names[c->loss]);
    JSON_NUM(o, ridge);
    cJSON_AddStringToObject(o, "stop", stop_names[c->stop]);
    JSON_NUM(o, crop_padding);
    JSON_NUM(o, hflip);
    JSON_NUM(o, corrupt_std);
    JSON_NUM(o, ptr);
    JSON_NUM(o, seed);
    JSON_NUM(o, threads);
    JSON_NUM(o, track_every);
    JSON_NUM(o, track_P);
    if (c->sync_bn) JSON_NUM(o, sync_bn); /* only when set: other configs stay as before */
    if (c->bn) JSON_NUM(o, bn);
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
#define GET_NUM(field)                                                                                    \
    do {                                                                                                  \
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, #field);                                    \
        if (!cJSON_IsNumber(it)) return rs_error(RS_ERR_FORMAT, "%s: missing number '%s'", path, #field); \
        c->field = (__typeof__(c->field))it->valuedouble;                                                 \
    } while (0)
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
    GET_NUM(width);
    GET_NUM(depth);
    GET_NUM(filter);
    GET_STR(strides);
    GET_NUM(lr);
    GET_NUM(lr_times_width);
    GET_NUM(momentum);
    GET_NUM(weight_decay);
    GET_NUM(nesterov);
    GET_NUM(decay_1d);
    GET_NUM(step_size);
    GET_NUM(gamma);
    GET_NUM(epochs);
    GET_NUM(batch);
    GET_NUM(test_batch);
    GET_NUM(ridge);
    GET_NUM(crop_padding);
    GET_NUM(hflip);
    GET_NUM(corrupt_std);
    GET_NUM(ptr);
    GET_NUM(seed);
    GET_NUM(threads);
    GET_NUM(track_every);
    GET_NUM(track_P);
    const cJSON *sb = cJSON_GetObjectItemCaseSensitive(o, "sync_bn"); /* optional (data-parallel runs) */
    c->sync_bn = cJSON_IsNumber(sb) ? (int32_t)sb->valuedouble : 0;
    const cJSON *bn = cJSON_GetObjectItemCaseSensitive(o, "bn");
    c->bn = cJSON_IsNumber(bn) ? (int32_t)bn->valuedouble : 0;
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
#undef GET_NUM
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
