/* checkpoint.c: a net's parameter table to and from a safetensors file, under PyTorch's state_dict names, so that
 * PyTorch's safetensors helpers read our checkpoints and we read theirs (counters such as num_batches_tracked are
 * I64, as in PyTorch).
 * The metadata also records the net's model configuration (model.name and every resolved option, net->config), and
 * loading refuses a checkpoint whose recorded configuration differs from the net's; a file without it (PyTorch's,
 * older relstab's) is matched by tensor names and shapes only.
 * It is not a training-state checkpoint: optimiser state, epoch and RNG position are the caller's metadata. */
#include "relstab/io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int32_t find_param(const rs_params *p, const char *name) {
    for (int32_t i = 0; i < p->count; i++)
        if (strcmp(p->items[i].name, name) == 0) return i;
    return -1;
}

rs_status rs_net_save(const rs_net *net, const char *path, const char *const *keys, const char *const *values,
                      int32_t n_meta) {
    const rs_params *p = &net->params;
    if (!p->data) return rs_error(RS_ERR_ARG, "%s: the net has no parameters yet (build it before saving)", path);
    if (n_meta < 0 || (n_meta > 0 && (!keys || !values)))
        return rs_error(RS_ERR_ARG, "%s: bad metadata list (%d entries)", path, n_meta);
    int64_t n_counter = 0;
    for (int32_t i = 0; i < p->count; i++)
        if (p->items[i].kind == RS_PARAM_COUNTER) n_counter += p->items[i].numel;
    rs_st_tensor *ts = calloc((size_t)p->count + 1, sizeof *ts);
    int64_t *counters = rs_alloc((size_t)n_counter * sizeof(int64_t)); // (n_counter) the counters as I64
    const size_t n_mk = (size_t)n_meta + 1 + (size_t)net->n_config; // caller's, "format", the model configuration
    const char **mk = calloc(n_mk, sizeof *mk), **mv = calloc(n_mk, sizeof *mv);
    rs_status s = RS_OK;
    if (!ts || !counters || !mk || !mv) s = rs_error(RS_ERR_NOMEM, "%s: no memory for the tensor list", path);
    int64_t at = 0;
    for (int32_t i = 0; i < p->count && s == RS_OK; i++) {
        const rs_param *q = &p->items[i];
        const float *v = rs_param_data(p, i);
        rs_st_tensor *t = &ts[i];
        t->name = (char *)q->name;
        t->ndim = q->ndim;
        for (int32_t d = 0; d < q->ndim; d++) t->shape[d] = q->shape[d];
        if (q->kind == RS_PARAM_COUNTER) {
            for (int64_t k = 0; k < q->numel && s == RS_OK; k++) {
                if (!isfinite(v[k]) || v[k] != floorf(v[k]))
                    s = rs_error(RS_ERR_NUMERIC, "%s: counter %s holds %g, not an integer", path, q->name, v[k]);
                else counters[at + k] = (int64_t)v[k];
            }
            t->dtype = RS_DTYPE_I64;
            t->data = counters + at;
            t->nbytes = (size_t)q->numel * sizeof(int64_t);
            at += q->numel;
        } else {
            t->dtype = RS_DTYPE_F32;
            t->data = v;
            t->nbytes = (size_t)q->numel * sizeof(float);
        }
    }
    /* "format": "pt" marks a PyTorch state_dict, as safetensors.torch.save_file does, unless the caller says. */
    int32_t nm = 0, has_format = 0;
    for (int32_t i = 0; i < n_meta && s == RS_OK; i++) {
        if (keys[i] && strcmp(keys[i], "format") == 0) has_format = 1;
        mk[nm] = keys[i];
        mv[nm++] = values[i];
    }
    if (s == RS_OK && !has_format) {
        mk[nm] = "format";
        mv[nm++] = "pt";
    }
    for (int32_t i = 0; i < net->n_config && s == RS_OK; i++) { /* the model configuration, unless the caller set it */
        int given = 0;
        for (int32_t j = 0; j < n_meta; j++) given |= keys[j] && !strcmp(keys[j], net->config[i].key);
        if (given) continue;
        mk[nm] = net->config[i].key;
        mv[nm++] = net->config[i].value;
    }
    if (s == RS_OK) s = rs_safetensors_write(path, ts, p->count, mk, mv, nm);
    free(ts);
    rs_free(counters);
    free(mk);
    free(mv);
    return s;
}

/* Fills src_of[param] with the file tensor holding it (a "module." prefix stripped); every tensor of the file must
 * map to exactly one parameter and every parameter must be found. */
static rs_status match_names(const rs_safetensors *st, const rs_params *p, const char *path, int32_t *src_of) {
    for (int32_t i = 0; i < p->count; i++) src_of[i] = -1;
    for (int32_t j = 0; j < st->n_tensors; j++) {
        const char *name = st->tensors[j].name;
        const char *bare = strncmp(name, "module.", 7) == 0 ? name + 7 : name;
        int32_t i = find_param(p, bare);
        if (i < 0)
            return rs_error(RS_ERR_FORMAT, "%s: tensor '%s' in the file is not a parameter of the net", path, name);
        if (src_of[i] >= 0)
            return rs_error(RS_ERR_FORMAT, "%s: parameter '%s' is in the file twice ('%s' and '%s')", path, bare,
                            st->tensors[src_of[i]].name, name);
        src_of[i] = j;
    }
    for (int32_t i = 0; i < p->count; i++)
        if (src_of[i] < 0)
            return rs_error(RS_ERR_FORMAT, "%s: parameter '%s' of the net is missing from the file", path,
                            p->items[i].name);
    return RS_OK;
}

/* Converts one file tensor into the parameter's floats at dst, after checking its shape and dtype. */
static rs_status load_one(const rs_st_tensor *t, const rs_param *q, float *dst, const char *path) {
    int same = t->ndim == q->ndim;
    for (int32_t d = 0; same && d < q->ndim; d++) same = t->shape[d] == q->shape[d];
    if (!same) {
        char a[160], b[160];
        return rs_error(RS_ERR_FORMAT, "%s: tensor '%s': shape %s in the file, %s in the net", path, t->name,
                        rs_shape_str(a, sizeof a, t->ndim, t->shape), rs_shape_str(b, sizeof b, q->ndim, q->shape));
    }
    int64_t n = q->numel;
    if (q->kind == RS_PARAM_COUNTER) {
        if (t->dtype != RS_DTYPE_I64)
            return rs_error(RS_ERR_FORMAT, "%s: tensor '%s' is %s in the file; this counter must be I64", path,
                            t->name, rs_dtype_name(t->dtype));
        const int64_t *v = t->data; /* the reader aligns every tensor to its element size */
        for (int64_t k = 0; k < n; k++) {
            if (v[k] < 0)
                return rs_error(RS_ERR_FORMAT, "%s: counter '%s' holds %lld", path, t->name, (long long)v[k]);
            dst[k] = (float)v[k];
        }
        return RS_OK;
    }
    if (t->dtype == RS_DTYPE_F32) {
        memcpy(dst, t->data, (size_t)n * sizeof(float));
        return RS_OK;
    }
    if (t->dtype == RS_DTYPE_F64) {
        const double *v = t->data;
        for (int64_t k = 0; k < n; k++) {
            if (isfinite(v[k]) && fabs(v[k]) > 3.4028234663852886e38)
                return rs_error(RS_ERR_FORMAT, "%s: tensor '%s' element %lld (%g) is out of float range", path,
                                t->name, (long long)k, v[k]);
            dst[k] = (float)v[k];
        }
        return RS_OK;
    }
    return rs_error(RS_ERR_FORMAT, "%s: tensor '%s' is %s in the file; parameters must be F32 or F64", path, t->name,
                    rs_dtype_name(t->dtype));
}

rs_status rs_net_check_config(const rs_net *net, const rs_safetensors *st, const char *path) {
    const char *model = rs_safetensors_meta(st, "model.name");
    if (!model || net->n_config == 0) return RS_OK; /* no configuration recorded (PyTorch's, older relstab's) */
    if (strcmp(model, net->config[0].value))
        return rs_error(RS_ERR_FORMAT, "%s: the checkpoint was written by %s; this net is %s", path, model,
                        net->config[0].value);
    for (int32_t i = 0; i < st->n_meta; i++) {
        const char *key = st->meta_keys[i], *v = st->meta_values[i], *mine = NULL;
        if (strncmp(key, "model.", 6) || !strcmp(key, "model.name")) continue;
        for (int32_t j = 1; j < net->n_config && !mine; j++)
            if (!strcmp(net->config[j].key, key)) mine = net->config[j].value;
        if (!mine)
            return rs_error(RS_ERR_FORMAT, "%s: the checkpoint was written by %s with %s=%s, an option this net "
                            "does not record", path, model, key + 6, v);
        if (strcmp(mine, v))
            return rs_error(RS_ERR_FORMAT, "%s: the checkpoint was written by %s with %s=%s; this net has %s=%s",
                            path, model, key + 6, v, key + 6, mine);
    }
    return RS_OK;
}

rs_status rs_net_load(rs_net *net, const char *path, rs_safetensors **meta_out) {
    if (meta_out) *meta_out = NULL;
    rs_params *p = &net->params;
    if (!p->data) return rs_error(RS_ERR_ARG, "%s: the net has no parameters yet (build it before loading)", path);
    rs_safetensors *st;
    RS_TRY(rs_safetensors_read(path, &st));
    /* Everything is converted into a scratch copy first: on any error the net is left as it was. */
    float *scratch = rs_alloc(p->total * sizeof(float)); // (total)
    int32_t *src_of = malloc(((size_t)p->count + 1) * sizeof *src_of);
    rs_status s = RS_OK;
    if (!scratch || !src_of) s = rs_error(RS_ERR_NOMEM, "%s: no memory to load %zu floats", path, p->total);
    if (s == RS_OK) s = rs_net_check_config(net, st, path);
    if (s == RS_OK) {
        memcpy(scratch, p->data, p->total * sizeof(float)); /* keeps any bytes between parameters */
        s = match_names(st, p, path, src_of);
    }
    for (int32_t i = 0; i < p->count && s == RS_OK; i++)
        s = load_one(&st->tensors[src_of[i]], &p->items[i], scratch + p->items[i].offset, path);
    if (s == RS_OK) memcpy(p->data, scratch, p->total * sizeof(float));
    rs_free(scratch);
    free(src_of);
    if (s == RS_OK && meta_out) *meta_out = st;
    else rs_safetensors_free(st);
    return s;
}
