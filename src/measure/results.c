/* results.c: the result files of a measurement (the tidy CSV, JSON), the aligned table printed on stdout, and
 * rs_measure_track, the one call the trainer makes to append D, G, R of every node to a run's sens.csv.
 * It computes nothing; docs/measure.md says what every column means. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "measure/measure_internal.h"
#include "relstab/dist.h"

static const char csv_header[] =
    "node,op,neurons,D,G,R,D_se,G_se,R_se,D_num,G_num,deno,P,seeds,perturbation,T,delta,cut,interp,noise,"
    "estimator,mode,checkpoint,epoch,shuffle,channel_mean,model,data,seed,aliased,flag\n";

/* The header before the aliased and flag columns: such a file (a sens.csv of an older run) is extended on append,
 * its rows getting aliased 0 and an empty flag (not measured then). */
static const char csv_header_v1[] =
    "node,op,neurons,D,G,R,D_se,G_se,R_se,D_num,G_num,deno,P,seeds,perturbation,T,delta,cut,interp,noise,"
    "estimator,mode,checkpoint,epoch,shuffle,channel_mean,model,data,seed\n";

/* A growing text buffer. */
typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *t = realloc(b->s, cap);
        if (!t) {
            b->failed = 1;
            return;
        }
        b->s = t, b->cap = cap;
    }
}

/* A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180). */
static void sb_field(sbuf *b, const char *s) {
    s = s ? s : "";
    if (!strpbrk(s, ",\"\n\r")) {
        sb_printf(b, "%s,", s);
        return;
    }
    sb_printf(b, "\"");
    for (const char *p = s; *p; p++) {
        if (*p == '"') sb_printf(b, "\"\"");
        else sb_printf(b, "%c", *p);
    }
    sb_printf(b, "\",");
}

static void sb_num(sbuf *b, double v) {
    if (isnan(v)) sb_printf(b, "nan,");
    else if (isinf(v)) sb_printf(b, v > 0 ? "inf," : "-inf,");
    else sb_printf(b, "%.10g,", v);
}

static const char *mode_name(rs_mode m) { return m == RS_MODE_INIT_EVAL ? "init" : "trained"; }

static void noise_str(char *buf, size_t len, const rs_measure_opts *o) {
    if (o->noise == RS_NOISE_NORM) snprintf(buf, len, "norm=%g", o->noise_norm);
    else snprintf(buf, len, "%s", rs_noise_kind_name(o->noise));
}

static void csv_rows(sbuf *b, const rs_measure_result *r, const rs_measure_opts *o, const rs_measure_tags *t) {
    char noise[64];
    noise_str(noise, sizeof noise, o);
    for (int32_t k = 0; k < r->n_nodes; k++) {
        const rs_sens *q = &r->rows[k];
        sb_field(b, q->name);
        sb_field(b, rs_op_name(q->op));
        sb_printf(b, "%lld,", (long long)q->neurons);
        double v[9] = {q->D, q->G, q->R, q->D_se, q->G_se, q->R_se, q->D_num, q->G_num, q->deno};
        for (int i = 0; i < 9; i++) sb_num(b, v[i]);
        sb_printf(b, "%lld,%d,%s,", (long long)r->P, (int)r->seeds, r->move ? r->move : "");
        sb_num(b, r->T);
        sb_num(b, r->delta);
        sb_printf(b, "%d,%s,%s,%s,%s,", (int)r->cut, rs_interp_name(o->interp), noise, rs_estimator_name(o->estimator),
                  mode_name(o->mode));
        sb_field(b, t ? t->checkpoint : NULL);
        if (t && t->epoch >= 0) sb_printf(b, "%lld,", (long long)t->epoch);
        else sb_printf(b, ",");
        sb_printf(b, "%d,%d,", t ? (int)t->shuffle : 0, (int)o->channel_mean);
        sb_field(b, t ? t->model : NULL);
        sb_field(b, t ? t->data : NULL);
        sb_printf(b, "%llu,%d,%s\n", (unsigned long long)o->seed, (int)o->aliased, rs_sens_flag_name(q->flag));
    }
}

rs_status rs_measure_write_csv(const char *path, const rs_measure_result *r, const rs_measure_opts *o,
                               const rs_measure_tags *t, int append) {
    sbuf b = {0};
    void *old = NULL;
    size_t old_len = 0;
    struct stat st;
    if (append && stat(path, &st) == 0 && st.st_size > 0) {
        RS_TRY(rs_read_file(path, &old, &old_len, (size_t)1 << 30));
        size_t hl = sizeof csv_header - 1, h1 = sizeof csv_header_v1 - 1;
        const char *text = old;
        if (old_len >= h1 && !memcmp(old, csv_header_v1, h1)) { /* the older columns: extend every row */
            sb_printf(&b, "%s", csv_header);
            for (size_t at = h1; at < old_len;) {
                const char *nl = memchr(text + at, '\n', old_len - at);
                size_t ll = nl ? (size_t)(nl - (text + at)) : old_len - at;
                if (ll) sb_printf(&b, "%.*s,0,\n", (int)ll, text + at);
                at += ll + 1;
            }
        } else if (old_len < hl || memcmp(old, csv_header, hl)) {
            rs_free(old);
            return rs_error(RS_ERR_FORMAT, "%s exists but is not a relstab measure CSV with the same columns: not "
                                           "appending to it", path);
        } else {
            sb_printf(&b, "%.*s", (int)old_len, text);
            if (old_len && text[old_len - 1] != '\n') sb_printf(&b, "\n");
        }
        rs_free(old);
    } else {
        sb_printf(&b, "%s", csv_header);
    }
    csv_rows(&b, r, o, t);
    rs_status s = b.failed ? rs_error(RS_ERR_NOMEM, "out of memory writing %s", path)
                           : rs_write_file_atomic(path, b.s, b.len);
    free(b.s);
    return s;
}

/* ---------------------------------------------------------------- JSON */
static cJSON *sens_json(const rs_sens *q) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "node", q->name);
    cJSON_AddStringToObject(o, "op", rs_op_name(q->op));
    cJSON_AddNumberToObject(o, "neurons", (double)q->neurons);
    const char *keys[9] = {"D", "G", "R", "D_se", "G_se", "R_se", "D_num", "G_num", "deno"};
    double v[9] = {q->D, q->G, q->R, q->D_se, q->G_se, q->R_se, q->D_num, q->G_num, q->deno};
    for (int i = 0; i < 9; i++) /* JSON has no NaN: null */
        if (isfinite(v[i])) cJSON_AddNumberToObject(o, keys[i], v[i]);
        else cJSON_AddNullToObject(o, keys[i]);
    cJSON_AddStringToObject(o, "flag", rs_sens_flag_name(q->flag));
    return o;
}

static cJSON *settings_json(const rs_measure_result *r, const rs_measure_opts *o, const rs_measure_tags *t) {
    char noise[64];
    noise_str(noise, sizeof noise, o);
    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "P", (double)r->P);
    cJSON_AddNumberToObject(s, "seeds", r->seeds);
    cJSON_AddNumberToObject(s, "seed", (double)o->seed);
    cJSON_AddBoolToObject(s, "resample", o->resample);
    cJSON_AddStringToObject(s, "probe", o->probe == RS_PROBE_FIRST ? "first" : "sample");
    cJSON_AddStringToObject(s, "perturbation", r->move ? r->move : "");
    cJSON_AddNumberToObject(s, "T", r->T);
    cJSON_AddNumberToObject(s, "delta", r->delta);
    cJSON_AddNumberToObject(s, "cut", r->cut);
    cJSON_AddStringToObject(s, "interp", rs_interp_name(o->interp));
    cJSON_AddStringToObject(s, "noise", noise);
    cJSON_AddStringToObject(s, "estimator", rs_estimator_name(o->estimator));
    cJSON_AddStringToObject(s, "mode", mode_name(o->mode));
    cJSON_AddBoolToObject(s, "channel_mean", o->channel_mean);
    cJSON_AddBoolToObject(s, "aliased", o->aliased);
    cJSON_AddNumberToObject(s, "batch", r->batch);
    cJSON_AddNumberToObject(s, "threads", rs_get_threads()); /* the network's kernels round by it (docs/measure.md) */
    cJSON_AddNumberToObject(s, "shuffle", t ? t->shuffle : 0);
    cJSON_AddStringToObject(s, "checkpoint", t && t->checkpoint ? t->checkpoint : "");
    if (t && t->epoch >= 0) cJSON_AddNumberToObject(s, "epoch", (double)t->epoch);
    cJSON_AddStringToObject(s, "model", t && t->model ? t->model : "");
    cJSON_AddStringToObject(s, "data", t && t->data ? t->data : "");
    cJSON_AddNumberToObject(s, "seconds", r->seconds);
    cJSON_AddNumberToObject(s, "images_forwarded", (double)r->images_forwarded);
    return s;
}

rs_status rs_measure_write_json(const char *path, const rs_measure_result *r, const rs_measure_opts *o,
                                const rs_measure_tags *t) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return rs_error(RS_ERR_NOMEM, "out of memory writing %s", path);
    cJSON_AddItemToObject(root, "settings", settings_json(r, o, t));
    cJSON *nodes = cJSON_AddArrayToObject(root, "nodes");
    for (int32_t k = 0; k < r->n_nodes; k++) cJSON_AddItemToArray(nodes, sens_json(&r->rows[k]));
    cJSON *ps = cJSON_AddArrayToObject(root, "per_seed");
    for (int32_t s = 0; s < r->seeds; s++) {
        cJSON *a = cJSON_CreateArray();
        for (int32_t k = 0; k < r->n_nodes; k++) cJSON_AddItemToArray(a, sens_json(&r->per_seed[(size_t)s * r->n_nodes + k]));
        cJSON_AddItemToArray(ps, a);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return rs_error(RS_ERR_NOMEM, "out of memory writing %s", path);
    size_t n = strlen(text);
    text[n] = '\n'; /* cJSON's buffer ends with the terminator; replace it by a newline, write n + 1 bytes */
    rs_status s = rs_write_file_atomic(path, text, n + 1);
    cJSON_free(text);
    return s;
}

/* ---------------------------------------------------------------- the table */
static const char *pm(char *buf, size_t len, double v, double se) {
    if (isnan(v)) snprintf(buf, len, "nan"); /* printf may write "-nan" */
    else if (isnan(se)) snprintf(buf, len, "%.4e", v);
    else snprintf(buf, len, "%.4e +- %.1e", v, se);
    return buf;
}

void rs_measure_print(FILE *f, const rs_measure_result *r) {
    int w = 4;
    for (int32_t k = 0; k < r->n_nodes; k++) {
        int l = (int)strlen(r->rows[k].name);
        w = l > w ? l : w;
    }
    char a[64], b[64], c[64];
    fprintf(f, "%-*s  %-17s %9s  %-22s %-22s %-22s%s\n", w, "node", "op", "neurons", "D", "G", "R",
            r->n_flagged ? " flag" : "");
    for (int32_t k = 0; k < r->n_nodes; k++) {
        const rs_sens *q = &r->rows[k];
        fprintf(f, "%-*s  %-17s %9lld  %-22s %-22s %-22s%s%s\n", w, q->name, rs_op_name(q->op), (long long)q->neurons,
                pm(a, sizeof a, q->D, q->D_se), pm(b, sizeof b, q->G, q->G_se), pm(c, sizeof c, q->R, q->R_se),
                q->flag ? " " : "", q->flag ? rs_sens_flag_name(q->flag) : "");
    }
}

int32_t rs_measure_warn_flags(FILE *f, const char *who, const rs_measure_result *r) {
    static const char *why[3] = {
        "",
        ("zero denominator: constant representations over the probe set, or no noise (G = 0), so D, G or R is "
         "undefined"),
        "NaN or infinity in the representations"};
    for (int flag = RS_SENS_ZERO_DENOMINATOR; flag <= RS_SENS_NAN; flag++) {
        int32_t n = 0;
        for (int32_t k = 0; k < r->n_nodes; k++) n += r->rows[k].flag == (rs_sens_flag)flag;
        if (!n) continue;
        fprintf(f, "%s: warning: %d of %d node%s flagged %s (%s):", who, (int)n, (int)r->n_nodes,
                r->n_nodes == 1 ? "" : "s", rs_sens_flag_name((rs_sens_flag)flag), why[flag]);
        int32_t shown = 0;
        for (int32_t k = 0; k < r->n_nodes && shown < 40; k++)
            if (r->rows[k].flag == (rs_sens_flag)flag) fprintf(f, "%s %s", shown++ ? "," : "", r->rows[k].name);
        fprintf(f, "%s\n", n > shown ? ", ..." : "");
    }
    return r->n_flagged;
}

/* ---------------------------------------------------------------- the trainer's call */
rs_status rs_measure_track(rs_net *net, const rs_dataset *ds, const int64_t *probe, const rs_measure_opts *o,
                           const rs_measure_tags *t, const char *csv_path) {
    if (!probe) return rs_error(RS_ERR_ARG, "tracking needs a fixed probe set (rs_probe_select)");
    rs_measure_result r;
    RS_TRY(rs_measure(net, ds, probe, NULL, 0, o, &r));
    /* under mpirun every rank measured its share (rs_measure is collective there); rank 0 writes */
    rs_status s = rs_dist_agree(rs_dist_rank() == 0 ? rs_measure_write_csv(csv_path, &r, o, t, 1) : RS_OK);
    if (!s && r.n_flagged && rs_dist_rank() == 0) rs_measure_warn_flags(stderr, "relstab train: tracking", &r);
    rs_measure_result_free(&r);
    return s;
}
