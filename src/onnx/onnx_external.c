/* onnx_external.c: tensors stored outside the model file (TensorProto.data_location = EXTERNAL, the ONNX layout of
 * models whose weights are large): reading one tensor's bytes from its file (keys location, offset, length; the
 * location relative to the model's directory, refused if it is absolute, has a '..' component, or resolves outside
 * that directory through a link; the byte range checked against the file), and writing the data files of a model
 * from a safetensors checkpoint by initializer names (rs_onnx_fill_data, `relstab onnx fill-data`).
 * Not: the checksum key (ignored), memory mapping, external data inside the test layout's .pb tensors. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "relstab/io.h"
#include "relstab/onnx.h"

#ifdef RELSTAB_HAVE_ONNX
#include "onnx/onnx_internal.h"

typedef struct {
    const char *location;
    int64_t offset, length; /* length -1: absent */
} ext_ref;

static rs_status parse_count(const char *nm, const char *key, const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = s && s[0] >= '0' && s[0] <= '9' ? strtoll(s, &end, 10) : -1;
    if (v < 0 || errno || *end)
        return rs_error(RS_ERR_FORMAT, "tensor '%s': external data %s '%s' is not a non-negative integer", nm, key,
                        s ? s : "");
    *out = v;
    return RS_OK;
}

static rs_status ext_keys(const Onnx__TensorProto *t, ext_ref *r) {
    const char *nm = t->name ? t->name : "";
    r->location = NULL, r->offset = 0, r->length = -1;
    for (size_t i = 0; i < t->n_external_data; i++) {
        const char *k = t->external_data[i]->key, *v = t->external_data[i]->value;
        if (!k) continue;
        if (!strcmp(k, "location")) r->location = v;
        else if (!strcmp(k, "offset")) RS_TRY(parse_count(nm, k, v, &r->offset));
        else if (!strcmp(k, "length")) RS_TRY(parse_count(nm, k, v, &r->length));
    }
    if (!r->location || !r->location[0])
        return rs_error(RS_ERR_FORMAT, "tensor '%s': external data without a location", nm);
    return RS_OK;
}

/* dir/location into out, refused when location is absolute, has a '..' component, or (once resolved) is not
 * inside dir. A file that does not exist yet (must_exist 0) is checked through its directory. */
static rs_status ext_path(const char *nm, const char *dir, const char *loc, int must_exist, char *out, size_t n) {
    if (loc[0] == '/' || strchr(loc, '\\'))
        return rs_error(RS_ERR_FORMAT, "tensor '%s': external data location '%s' is not relative to the model", nm,
                        loc);
    for (const char *p = loc; *p;) {
        size_t len = strcspn(p, "/");
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return rs_error(RS_ERR_FORMAT, "tensor '%s': external data location '%s' leaves the model's directory",
                            nm, loc);
        p += len + (p[len] == '/');
    }
    if ((size_t)snprintf(out, n, "%s/%s", dir, loc) >= n)
        return rs_error(RS_ERR_FORMAT, "tensor '%s': external data path too long", nm);
    char base[PATH_MAX], real[PATH_MAX];
    if (!realpath(dir, base)) return rs_error(RS_ERR_IO, "%s: %s", dir, strerror(errno));
    if (!realpath(out, real)) {
        if (must_exist || errno != ENOENT)
            return rs_error(RS_ERR_IO, "tensor '%s': external data file %s: %s", nm, out, strerror(errno));
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", out);
        *strrchr(parent, '/') = 0;
        if (!realpath(parent, real))
            return rs_error(RS_ERR_IO, "tensor '%s': external data file %s: %s", nm, out, strerror(errno));
        strcat(real, "/"); /* the directory itself may be base */
    }
    size_t bl = strlen(base);
    if (strncmp(real, base, bl) || real[bl] != '/')
        return rs_error(RS_ERR_FORMAT, "tensor '%s': external data location '%s' resolves outside the model's "
                        "directory", nm, loc);
    return RS_OK;
}

rs_status ox_external_bytes(const Onnx__TensorProto *t, const char *dir, size_t want, uint8_t **out) {
    const char *nm = t->name ? t->name : "";
    *out = NULL;
    if (!dir)
        return rs_error(RS_ERR_UNSUPPORTED, "tensor '%s': external data needs the model's file (read from a path)", nm);
    if (t->has_raw_data || t->n_float_data || t->n_double_data || t->n_int64_data)
        return rs_error(RS_ERR_FORMAT, "tensor '%s': external data and data in the file both given", nm);
    ext_ref r;
    RS_TRY(ext_keys(t, &r));
    char path[PATH_MAX + 256];
    RS_TRY(ext_path(nm, dir, r.location, 1, path, sizeof path));
    if (r.length >= 0 && (uint64_t)r.length != want)
        return rs_error(RS_ERR_FORMAT, "tensor '%s': external data length %lld for %zu bytes of values", nm,
                        (long long)r.length, want);
    FILE *f = fopen(path, "rb");
    if (!f) return rs_error(RS_ERR_IO, "tensor '%s': %s: %s", nm, path, strerror(errno));
    struct stat st;
    rs_status s = RS_OK;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode))
        s = rs_error(RS_ERR_IO, "tensor '%s': %s is not a regular file", nm, path);
    else if (r.offset > (int64_t)st.st_size || (uint64_t)(st.st_size - r.offset) < want)
        s = rs_error(RS_ERR_FORMAT, "tensor '%s': external data bytes %lld..%lld are outside %s (%lld bytes)", nm,
                     (long long)r.offset, (long long)(r.offset + (int64_t)want), path, (long long)st.st_size);
    uint8_t *b = s ? NULL : rs_calloc(want ? want : 1);
    if (!s && !b) s = rs_error(RS_ERR_NOMEM, "tensor '%s': out of memory", nm);
    if (!s && (fseeko(f, (off_t)r.offset, SEEK_SET) || fread(b, 1, want, f) != want))
        s = rs_error(RS_ERR_IO, "tensor '%s': reading %s failed", nm, path);
    fclose(f);
    if (s) {
        rs_free(b);
        return s;
    }
    *out = b;
    return RS_OK;
}

/* ---------------------------------------------------------------- writing the data files from a checkpoint */
static void dir_of(const char *path, char *dir, size_t n) {
    snprintf(dir, n, "%s", path);
    char *sl = strrchr(dir, '/');
    if (!sl) snprintf(dir, n, ".");
    else if (sl == dir) sl[1] = 0;
    else *sl = 0;
}

/* One initializer's bytes (float32 little-endian) from the checkpoint into buf at its offset. */
static rs_status fill_one(const Onnx__TensorProto *t, const ext_ref *r, const rs_safetensors *st, uint8_t *buf) {
    const char *nm = t->name ? t->name : "";
    const rs_st_tensor *w = rs_safetensors_get(st, nm);
    if (!w) return rs_error(RS_ERR_ARG, "initializer '%s' is not in the checkpoint", nm);
    if (!t->has_data_type || t->data_type != 1)
        return rs_error(RS_ERR_UNSUPPORTED, "initializer '%s': only float32 external data can be written", nm);
    if (w->dtype != RS_DTYPE_F32 && w->dtype != RS_DTYPE_F64)
        return rs_error(RS_ERR_ARG, "checkpoint tensor '%s' is %s, not F32 or F64", nm, rs_dtype_name(w->dtype));
    int same = (size_t)w->ndim == t->n_dims;
    int64_t n = 1;
    for (size_t i = 0; same && i < t->n_dims; i++) same = w->shape[i] == t->dims[i], n *= t->dims[i];
    if (!same) return rs_error(RS_ERR_ARG, "checkpoint tensor '%s' has another shape than the initializer", nm);
    if (r->length >= 0 && r->length != 4 * n)
        return rs_error(RS_ERR_FORMAT, "initializer '%s': external data length %lld for %lld float32 values", nm,
                        (long long)r->length, (long long)n);
    for (int64_t i = 0; i < n; i++) {
        float v;
        if (w->dtype == RS_DTYPE_F32) memcpy(&v, (const uint8_t *)w->data + 4 * i, 4);
        else {
            double d;
            memcpy(&d, (const uint8_t *)w->data + 8 * i, 8);
            v = (float)d;
        }
        memcpy(buf + r->offset + 4 * i, &v, 4);
    }
    return RS_OK;
}

/* Writes the file `loc` (every external initializer stored there). */
static rs_status fill_file(const Onnx__GraphProto *g, const char *dir, const char *loc, const rs_safetensors *st,
                           int64_t *n_tensors) {
    int64_t size = 0;
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        ext_ref r;
        if (!(t->has_data_location && t->data_location == 1) || ext_keys(t, &r) || strcmp(r.location, loc)) continue;
        int64_t n = 1;
        for (size_t k = 0; k < t->n_dims; k++) {
            if (t->dims[k] < 0 || t->dims[k] > OX_MAX_NUMEL)
                return rs_error(RS_ERR_FORMAT, "initializer '%s': bad dims", t->name);
            n *= t->dims[k];
            if (n > OX_MAX_NUMEL) return rs_error(RS_ERR_FORMAT, "initializer '%s': too many elements", t->name);
        }
        if (r.offset > OX_MAX_NUMEL * 16) return rs_error(RS_ERR_FORMAT, "initializer '%s': absurd offset", t->name);
        if (r.offset + 4 * n > size) size = r.offset + 4 * n;
    }
    uint8_t *buf = rs_calloc((size_t)(size ? size : 1));
    if (!buf) return rs_error(RS_ERR_NOMEM, "out of memory");
    rs_status s = RS_OK;
    for (size_t i = 0; !s && i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        ext_ref r;
        if (!(t->has_data_location && t->data_location == 1) || ext_keys(t, &r) || strcmp(r.location, loc)) continue;
        s = fill_one(t, &r, st, buf);
        (*n_tensors)++;
    }
    char path[PATH_MAX + 256];
    if (!s) s = ext_path(loc, dir, loc, 0, path, sizeof path);
    if (!s) s = rs_write_file_atomic(path, buf, (size_t)size);
    rs_free(buf);
    return s;
}

rs_status rs_onnx_fill_data(const char *model, const char *weights, int64_t *n_tensors, int32_t *n_files) {
    *n_tensors = 0, *n_files = 0;
    void *mb;
    size_t ml;
    RS_TRY(rs_read_file(model, &mb, &ml, (size_t)(2LL << 30)));
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, ml, mb);
    rs_free(mb);
    if (!m || !m->graph) {
        if (m) onnx__model_proto__free_unpacked(m, NULL);
        return rs_error(RS_ERR_FORMAT, "%s: not an ONNX model (protobuf decoding failed)", model);
    }
    rs_safetensors *st = NULL;
    rs_status s = rs_safetensors_read(weights, &st);
    char dir[PATH_MAX];
    dir_of(model, dir, sizeof dir);
    const Onnx__GraphProto *g = m->graph;
    for (size_t i = 0; !s && i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        if (!(t->has_data_location && t->data_location == 1)) continue;
        ext_ref r;
        s = ext_keys(t, &r);
        int first = 1; /* the first initializer stored in this file writes it */
        for (size_t j = 0; !s && first && j < i; j++) {
            const Onnx__TensorProto *u = g->initializer[j];
            ext_ref q;
            if (u->has_data_location && u->data_location == 1 && !ext_keys(u, &q) && !strcmp(q.location, r.location))
                first = 0;
        }
        if (!s && first) s = fill_file(g, dir, r.location, st, n_tensors), (*n_files)++;
    }
    if (!s && !*n_files) s = rs_error(RS_ERR_ARG, "%s has no initializer stored as external data", model);
    rs_safetensors_free(st);
    onnx__model_proto__free_unpacked(m, NULL);
    return s;
}
#else
rs_status rs_onnx_fill_data(const char *model, const char *weights, int64_t *n_tensors, int32_t *n_files) {
    (void)model, (void)weights, (void)n_tensors, (void)n_files;
    return rs_error(RS_ERR_UNSUPPORTED, "this relstab was built without ONNX support");
}
#endif
