/* run.c: the run directory of a training run (see train.h for its files). Each file is replaced atomically, and
 * resume.safetensors is written last at the end of an epoch, so whatever moment a run is killed, the directory
 * holds a consistent state to resume from: at worst the last epoch is done again. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "train_internal.h"

static void path_in(char *buf, size_t len, const rs_train_config *c, const char *file) {
    if (rs_path_join(buf, len, c->out, file) != RS_OK) buf[0] = 0; /* out is at most 1023 characters: fits */
}

static rs_status save_weights(const rs_net *net, const rs_run_state *st, const char *file, int32_t epoch,
                              double test_err) {
    char path[1200], ep[32], acc[32];
    path_in(path, sizeof path, st->c, file);
    snprintf(ep, sizeof ep, "%d", epoch);
    snprintf(acc, sizeof acc, "%.6f", 1.0 - test_err);
    const char *keys[] = {"model", "dataset", "epoch", "test_accuracy", "relstab_version", "recipe"};
    const char *values[] = {st->c->model, st->c->data, ep, acc, RELSTAB_VERSION, st->c->recipe};
    return rs_net_save(net, path, keys, values, 6);
}

/* ---------------------------------------------------------------- log.csv */
static const char log_header[] = "epoch,lr,train_loss,train_err,test_loss,test_err,images_per_s,wall_s\n";

static rs_status write_log(const rs_run_state *st) {
    size_t cap = sizeof log_header + (size_t)st->n_rows * 200, len = 0;
    char *buf = rs_alloc(cap);
    if (!buf) return rs_error(RS_ERR_NOMEM, "cannot format log.csv");
    len += (size_t)snprintf(buf, cap, "%s", log_header);
    for (int32_t i = 0; i < st->n_rows; i++) {
        const rs_log_row *r = &st->rows[i];
        len += (size_t)snprintf(buf + len, cap - len, "%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.1f,%.3f\n", r->epoch, r->lr,
                                r->train_loss, r->train_err, r->test_loss, r->test_err, r->images_per_s, r->wall);
    }
    char path[1200];
    path_in(path, sizeof path, st->c, "log.csv");
    rs_status s = rs_write_file_atomic(path, buf, len);
    rs_free(buf);
    return s;
}

static rs_status push_row(rs_run_state *st, const rs_log_row *row) {
    if (st->n_rows == st->cap_rows) {
        int32_t cap = st->cap_rows ? 2 * st->cap_rows : 256;
        rs_log_row *rows = realloc(st->rows, sizeof *rows * (size_t)cap);
        if (!rows) return rs_error(RS_ERR_NOMEM, "log rows");
        st->rows = rows;
        st->cap_rows = cap;
    }
    st->rows[st->n_rows++] = *row;
    return RS_OK;
}

/* Reads the rows of log.csv for epochs <= upto (later rows belong to an epoch that will be done again). */
static rs_status read_log(rs_run_state *st, int32_t upto) {
    char path[1200];
    path_in(path, sizeof path, st->c, "log.csv");
    FILE *f = fopen(path, "r");
    if (!f) return upto == 0 ? RS_OK : rs_error(RS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    char line[512];
    rs_status s = RS_OK;
    if (!fgets(line, sizeof line, f) || strcmp(line, log_header)) s = rs_error(RS_ERR_FORMAT, "%s: unexpected header", path);
    while (s == RS_OK && fgets(line, sizeof line, f)) {
        rs_log_row r;
        if (sscanf(line, "%d,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &r.epoch, &r.lr, &r.train_loss, &r.train_err, &r.test_loss,
                   &r.test_err, &r.images_per_s, &r.wall) != 8) {
            s = rs_error(RS_ERR_FORMAT, "%s: malformed row '%.60s'", path, line);
            break;
        }
        if (r.epoch <= upto) s = push_row(st, &r);
    }
    fclose(f);
    if (s == RS_OK && st->n_rows != upto)
        s = rs_error(RS_ERR_FORMAT, "%s has %d row%s up to epoch %d, expected %d", path, st->n_rows,
                     st->n_rows == 1 ? "" : "s", upto, upto);
    return s;
}

/* ---------------------------------------------------------------- resume.safetensors */
/* Every parameter (F32, counters included), then the optimiser's state1/state2 as "optim.state1.<name>", and the
 * counters as metadata. */
static rs_status write_resume(const rs_net *net, const rs_optimizer *opt, const rs_run_state *st) {
    const rs_params *p = &net->params;
    int32_t n_state = (p->state1 ? 1 : 0) + (p->state2 ? 1 : 0);
    int32_t cap = p->count * (1 + n_state), n = 0;
    rs_st_tensor *ts = calloc((size_t)cap, sizeof *ts);
    char **names = calloc((size_t)cap, sizeof *names);
    rs_status s = (ts && names) ? RS_OK : rs_error(RS_ERR_NOMEM, "resume tensor list");
    for (int32_t k = 0; k <= n_state && s == RS_OK; k++) {
        const float *base = k == 0 ? p->data : k == 1 ? p->state1 : p->state2;
        for (int32_t i = 0; i < p->count; i++) {
            const rs_param *q = &p->items[i];
            if (k > 0 && q->kind != RS_PARAM_TRAINABLE) continue;
            size_t len = strlen(q->name) + 16;
            names[n] = malloc(len);
            if (!names[n]) {
                s = rs_error(RS_ERR_NOMEM, "resume tensor names");
                break;
            }
            if (k == 0) snprintf(names[n], len, "%s", q->name);
            else snprintf(names[n], len, "optim.state%d.%s", k, q->name);
            ts[n] = (rs_st_tensor){names[n], RS_DTYPE_F32, q->ndim, {0}, base + q->offset, (size_t)q->numel * 4};
            for (int32_t d = 0; d < q->ndim; d++) ts[n].shape[d] = q->shape[d];
            n++;
        }
    }
    char v[8][40], path[1200];
    snprintf(v[0], 40, "%d", st->epochs_done);
    snprintf(v[1], 40, "%llu", (unsigned long long)net->step);
    snprintf(v[2], 40, "%lld", (long long)opt->t);
    snprintf(v[3], 40, "%.17g", st->best_err);
    snprintf(v[4], 40, "%d", st->best_epoch);
    snprintf(v[5], 40, "%d", st->first_zero_epoch);
    snprintf(v[6], 40, "%.17g", st->wall);
    snprintf(v[7], 40, "%d", n_state);
    const char *keys[] = {"epochs_done", "step", "optimizer_steps", "best_test_err", "best_epoch",
                          "first_zero_epoch", "wall_s", "optimizer_states"};
    const char *vals[] = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
    path_in(path, sizeof path, st->c, "resume.safetensors");
    if (s == RS_OK) s = rs_safetensors_write(path, ts, n, keys, vals, 8);
    for (int32_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(ts);
    return s;
}

static rs_status copy_tensor(const rs_safetensors *f, const char *name, const rs_param *q, float *dst,
                             const char *path) {
    const rs_st_tensor *t = rs_safetensors_get(f, name);
    if (!t || t->dtype != RS_DTYPE_F32 || t->nbytes != (size_t)q->numel * 4)
        return rs_error(RS_ERR_FORMAT, "%s: tensor %s is missing or has the wrong size", path, name);
    memcpy(dst, t->data, t->nbytes);
    return RS_OK;
}

/* A metadata number, checked: finite, in [lo, hi], and a whole number when integer. */
static rs_status meta_num(const rs_safetensors *f, const char *key, double lo, double hi, int integer, double *out,
                          const char *path) {
    const char *v = rs_safetensors_meta(f, key);
    char *end;
    if (!v || (*out = strtod(v, &end), end == v || *end))
        return rs_error(RS_ERR_FORMAT, "%s: metadata '%s' is missing or not a number", path, key);
    if (isinf(*out) && *out > 0 && isinf(hi)) return RS_OK;
    if (!isfinite(*out) || *out < lo || *out > hi || (integer && *out != floor(*out)))
        return rs_error(RS_ERR_FORMAT, "%s: metadata '%s' must be %s between %.17g and %.17g, got '%s'", path, key,
                        integer ? "an integer" : "a number", lo, hi, v);
    return RS_OK;
}

/* The optimiser states the configured optimiser keeps once it has stepped: Adam 2, SGD with momentum 1, else 0. */
static int32_t states_needed(const rs_train_config *c) {
    return c->opt == RS_OPT_ADAM ? 2 : c->momentum != 0 ? 1 : 0;
}

#define MAX_EXACT 9007199254740992.0 /* 2^53 */

static rs_status load_counters(const rs_safetensors *f, const rs_train_config *c, double v[8], const char *path) {
    RS_TRY(meta_num(f, "epochs_done", 0, 1e8, 1, &v[0], path));
    RS_TRY(meta_num(f, "step", 0, MAX_EXACT, 1, &v[1], path));
    RS_TRY(meta_num(f, "optimizer_steps", 0, MAX_EXACT, 1, &v[2], path));
    RS_TRY(meta_num(f, "best_epoch", 0, v[0], 1, &v[4], path));
    RS_TRY(meta_num(f, "best_test_err", 0, v[4] > 0 ? 1 : INFINITY, 0, &v[3], path));
    if (v[4] > 0 && !isfinite(v[3])) return rs_error(RS_ERR_FORMAT, "%s: metadata 'best_test_err' is not finite", path);
    RS_TRY(meta_num(f, "first_zero_epoch", 0, v[0], 1, &v[5], path));
    RS_TRY(meta_num(f, "wall_s", 0, 1e12, 0, &v[6], path));
    RS_TRY(meta_num(f, "optimizer_states", 0, 2, 1, &v[7], path));
    int32_t need = v[2] > 0 ? states_needed(c) : 0;
    if ((int32_t)v[7] != need)
        return rs_error(RS_ERR_FORMAT, "%s: metadata 'optimizer_states' is %d but the configured optimiser (%s, "
                        "momentum %g) keeps %d after %.0f steps: its state would be lost or invented", path,
                        (int)v[7], c->opt == RS_OPT_ADAM ? "adam" : "sgd", c->momentum, (int)need, v[2]);
    return RS_OK;
}

static rs_status load_resume(rs_net *net, rs_optimizer *opt, rs_run_state *st, const char *path) {
    rs_safetensors *f;
    RS_TRY(rs_safetensors_read(path, &f));
    rs_params *p = &net->params;
    double v[8];
    rs_status s = load_counters(f, st->c, v, path);
    for (int32_t i = 0; i < p->count && s == RS_OK; i++)
        s = copy_tensor(f, p->items[i].name, &p->items[i], p->data + p->items[i].offset, path);
    for (int32_t k = 1; k <= (int32_t)v[7] && s == RS_OK; k++) {
        float **dst = k == 1 ? &p->state1 : &p->state2;
        if (!*dst) *dst = rs_calloc(p->total * sizeof(float));
        if (!*dst) s = rs_error(RS_ERR_NOMEM, "optimiser state");
        for (int32_t i = 0; i < p->count && s == RS_OK; i++) {
            if (p->items[i].kind != RS_PARAM_TRAINABLE) continue;
            char name[RS_NAME_MAX + 32];
            snprintf(name, sizeof name, "optim.state%d.%s", (int)k, p->items[i].name);
            s = copy_tensor(f, name, &p->items[i], *dst + p->items[i].offset, path);
        }
    }
    if (s == RS_OK) {
        st->epochs_done = (int32_t)v[0];
        net->step = (uint64_t)v[1];
        opt->t = (int64_t)v[2];
        st->best_err = v[3];
        st->best_epoch = (int32_t)v[4];
        st->first_zero_epoch = (int32_t)v[5];
        st->wall = v[6];
    }
    rs_safetensors_free(f);
    return s;
}

/* ---------------------------------------------------------------- the run's life */
rs_status rs_run_create(rs_net *net, const rs_train_config *c, rs_run_state *st) {
    memset(st, 0, sizeof *st);
    st->c = c;
    st->best_err = INFINITY;
    char path[1200];
    struct stat sb;
    path_in(path, sizeof path, c, "config.json");
    if (stat(path, &sb) == 0)
        return rs_error(RS_ERR_ARG, "%s already holds a run (config.json); use --resume to continue it or another --out",
                        c->out);
    RS_TRY(rs_mkdir_p(c->out));
    if (!c->onnx[0]) rs_net_init(net, c->seed); /* an ONNX model starts from its initializers */
    RS_TRY(save_weights(net, st, "init.safetensors", 0, 1.0));
    RS_TRY(write_log(st));
    return rs_train_config_write(c, path); /* last: its presence marks a run that can be resumed */
}

rs_status rs_run_resume(rs_net *net, rs_optimizer *opt, const rs_train_config *c, rs_run_state *st) {
    memset(st, 0, sizeof *st);
    st->c = c;
    st->best_err = INFINITY;
    char path[1200];
    struct stat sb;
    path_in(path, sizeof path, c, "resume.safetensors");
    if (stat(path, &sb) != 0) { /* killed during the first epoch: start again from init.safetensors */
        path_in(path, sizeof path, c, "init.safetensors");
        RS_TRY(rs_net_load(net, path, NULL));
        return write_log(st);
    }
    RS_TRY(load_resume(net, opt, st, path));
    RS_TRY(read_log(st, st->epochs_done));
    return RS_OK;
}

rs_status rs_run_end_epoch(const rs_net *net, const rs_optimizer *opt, rs_run_state *st, const rs_log_row *row) {
    RS_TRY(push_row(st, row));
    st->epochs_done = row->epoch;
    RS_TRY(save_weights(net, st, "last.safetensors", row->epoch, row->test_err));
    if (row->test_err < st->best_err) {
        st->best_err = row->test_err;
        st->best_epoch = row->epoch;
        RS_TRY(save_weights(net, st, "best.safetensors", row->epoch, row->test_err));
    }
    RS_TRY(write_log(st));
    return write_resume(net, opt, st);
}

void rs_run_state_free(rs_run_state *st) {
    free(st->rows);
    st->rows = NULL;
}
