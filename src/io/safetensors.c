/* safetensors.c: reader and writer of the safetensors format (an 8-byte little-endian header length, a JSON header
 * naming each tensor's dtype, shape and byte range, then the raw data), with cJSON for the header.
 * The reader trusts nothing: every length, offset, shape and name is checked before a byte of data is used, and
 * the layout rules are those of the reference implementation (tensors tile the data section exactly).
 * It is deliberately not a zero-copy or memory-mapped reader, and knows only the five dtypes relstab uses. */
#include "relstab/io.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "relstab's file formats are read and written as little-endian memory images"
#endif

#define ST_MAX_HEADER 100000000u           /* bytes, as the reference implementation */
#define ST_MAX_INT 9007199254740992.0      /* 2^53: the largest integer a JSON number holds exactly */

size_t rs_dtype_size(rs_dtype t) {
    switch (t) {
    case RS_DTYPE_F32: return 4;
    case RS_DTYPE_F64: return 8;
    case RS_DTYPE_I64: return 8;
    case RS_DTYPE_U8: return 1;
    case RS_DTYPE_I32: return 4;
    }
    return 0;
}

const char *rs_dtype_name(rs_dtype t) {
    switch (t) {
    case RS_DTYPE_F32: return "F32";
    case RS_DTYPE_F64: return "F64";
    case RS_DTYPE_I64: return "I64";
    case RS_DTYPE_U8: return "U8";
    case RS_DTYPE_I32: return "I32";
    }
    return "?";
}

static int dtype_from_name(const char *s, rs_dtype *out) {
    static const rs_dtype all[] = {RS_DTYPE_F32, RS_DTYPE_F64, RS_DTYPE_I64, RS_DTYPE_U8, RS_DTYPE_I32};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(s, rs_dtype_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    return -1;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. Returns 1 if s[0..n) is valid. */
static int utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned lo = 0x80, hi = 0xbf;
        if (c < 0x80) { i++; continue; }
        else if (c >= 0xc2 && c <= 0xdf) k = 1;
        else if (c >= 0xe0 && c <= 0xef) { k = 2; if (c == 0xe0) lo = 0xa0; if (c == 0xed) hi = 0x9f; }
        else if (c >= 0xf0 && c <= 0xf4) { k = 3; if (c == 0xf0) lo = 0x90; if (c == 0xf4) hi = 0x8f; }
        else return 0;
        if (n - i <= k) return 0;
        if (s[i + 1] < lo || s[i + 1] > hi) return 0;
        for (size_t j = 2; j <= k; j++)
            if (s[i + j] < 0x80 || s[i + j] > 0xbf) return 0;
        i += k + 1;
    }
    return 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The first name that occurs twice in names[0..n), or NULL. Sorts a copy: O(n log n) even for hostile headers. */
static const char *find_duplicate(const char *const *names, int32_t n, rs_status *st) {
    *st = RS_OK;
    if (n < 2) return NULL;
    const char **s = malloc((size_t)n * sizeof *s);
    if (!s) {
        *st = rs_error(RS_ERR_NOMEM, "cannot allocate %d name pointers", n);
        return NULL;
    }
    memcpy(s, names, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_str);
    const char *dup = NULL;
    for (int32_t i = 1; i < n && !dup; i++)
        if (strcmp(s[i - 1], s[i]) == 0) dup = s[i];
    free(s);
    return dup;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

/* ---------------------------------------------------------------- reading */

/* A JSON number that is a non-negative integer no larger than 2^53. */
static int json_uint(const cJSON *it, uint64_t *out) {
    if (!cJSON_IsNumber(it)) return -1;
    double v = it->valuedouble;
    if (!isfinite(v) || v < 0 || v > ST_MAX_INT || v != floor(v)) return -1;
    *out = (uint64_t)v;
    return 0;
}

typedef struct {
    size_t begin, end; /* bytes, relative to the data section */
    int32_t index;     /* tensor index */
} st_span;

/* One tensor entry {"dtype", "shape", "data_offsets"}: fills t (not its data pointer) and its span. */
static rs_status parse_tensor(const cJSON *e, const char *src, size_t data_len, rs_st_tensor *t, st_span *sp) {
    const char *name = e->string;
    if (!cJSON_IsObject(e)) return rs_error(RS_ERR_FORMAT, "%s: tensor '%s': entry is not a JSON object", src, name);
    const cJSON *dt = NULL, *sh = NULL, *off = NULL;
    for (const cJSON *f = e->child; f; f = f->next) {
        const cJSON **slot = strcmp(f->string, "dtype") == 0          ? &dt
                             : strcmp(f->string, "shape") == 0        ? &sh
                             : strcmp(f->string, "data_offsets") == 0 ? &off
                                                                      : NULL;
        if (!slot) return rs_error(RS_ERR_FORMAT, "%s: tensor '%s': unknown field '%s'", src, name, f->string);
        if (*slot) return rs_error(RS_ERR_FORMAT, "%s: tensor '%s': field '%s' given twice", src, name, f->string);
        *slot = f;
    }
    if (!dt || !sh || !off)
        return rs_error(RS_ERR_FORMAT, "%s: tensor '%s': missing field '%s'", src, name,
                        !dt ? "dtype" : !sh ? "shape" : "data_offsets");
    if (!cJSON_IsString(dt)) return rs_error(RS_ERR_FORMAT, "%s: tensor '%s': dtype is not a string", src, name);
    if (dtype_from_name(dt->valuestring, &t->dtype) != 0)
        return rs_error(RS_ERR_FORMAT, "%s: tensor '%s': unsupported dtype '%.32s' (relstab reads F32, F64, I64, U8, "
                        "I32)", src, name, dt->valuestring);
    if (!cJSON_IsArray(sh)) return rs_error(RS_ERR_FORMAT, "%s: tensor '%s': shape is not an array", src, name);
    int nd = cJSON_GetArraySize(sh);
    if (nd > RS_ST_MAXDIM)
        return rs_error(RS_ERR_FORMAT, "%s: tensor '%s': %d dimensions, at most %d supported", src, name, nd,
                        RS_ST_MAXDIM);
    t->ndim = nd;
    size_t numel = 1;
    int d = 0;
    for (const cJSON *x = sh->child; x; x = x->next, d++) {
        uint64_t v;
        if (json_uint(x, &v) != 0)
            return rs_error(RS_ERR_FORMAT, "%s: tensor '%s': dimension %d is not a non-negative integer", src,
                            name, d);
        if (rs_mul_size(numel, (size_t)v, &numel) != 0)
            return rs_error(RS_ERR_FORMAT, "%s: tensor '%s': the shape's element count overflows", src, name);
        t->shape[d] = (int64_t)v;
    }
    if (rs_mul_size(numel, rs_dtype_size(t->dtype), &t->nbytes) != 0)
        return rs_error(RS_ERR_FORMAT, "%s: tensor '%s': the shape's byte size overflows", src, name);
    uint64_t b, en;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || json_uint(off->child, &b) != 0 ||
        json_uint(off->child->next, &en) != 0)
        return rs_error(RS_ERR_FORMAT, "%s: tensor '%s': data_offsets is not a pair of non-negative integers", src,
                        name);
    if (b > en)
        return rs_error(RS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin", src, name,
                        (unsigned long long)b, (unsigned long long)en);
    if (en > data_len)
        return rs_error(RS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] outside the data section of %zu "
                        "bytes", src, name, (unsigned long long)b, (unsigned long long)en, data_len);
    if (en - b != t->nbytes) {
        char sb[160];
        return rs_error(RS_ERR_FORMAT, "%s: tensor '%s': %llu bytes in the file but shape %s of %s needs %zu", src,
                        name, (unsigned long long)(en - b), rs_shape_str(sb, sizeof sb, t->ndim, t->shape),
                        rs_dtype_name(t->dtype), t->nbytes);
    }
    sp->begin = (size_t)b;
    sp->end = (size_t)en;
    return RS_OK;
}

static rs_status parse_meta(const cJSON *m, const char *src, rs_safetensors *st) {
    if (!cJSON_IsObject(m)) return rs_error(RS_ERR_FORMAT, "%s: __metadata__ is not a JSON object", src);
    int n = cJSON_GetArraySize(m);
    st->meta_keys = calloc((size_t)n + 1, sizeof(char *));
    st->meta_values = calloc((size_t)n + 1, sizeof(char *));
    if (!st->meta_keys || !st->meta_values) return rs_error(RS_ERR_NOMEM, "%s: no memory for metadata", src);
    for (const cJSON *e = m->child; e; e = e->next) {
        if (!cJSON_IsString(e))
            return rs_error(RS_ERR_FORMAT, "%s: __metadata__ value of '%s' is not a string", src, e->string);
        int32_t k = st->n_meta++;
        st->meta_keys[k] = dup_str(e->string);
        st->meta_values[k] = dup_str(e->valuestring);
        if (!st->meta_keys[k] || !st->meta_values[k]) return rs_error(RS_ERR_NOMEM, "%s: no memory for metadata", src);
    }
    rs_status s;
    const char *dup = find_duplicate((const char *const *)st->meta_keys, st->n_meta, &s);
    if (s != RS_OK) return s;
    if (dup) return rs_error(RS_ERR_FORMAT, "%s: __metadata__ key '%s' given twice", src, dup);
    return RS_OK;
}

static int cmp_span(const void *a, const void *b) {
    const st_span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->index - y->index;
}

/* The tensors, in offset order, must tile [0, data_len) with neither overlap nor gap (the reference's rule). */
static rs_status check_layout(st_span *sp, int32_t n, size_t data_len, const rs_safetensors *st, const char *src) {
    qsort(sp, (size_t)n, sizeof *sp, cmp_span);
    size_t at = 0;
    for (int32_t i = 0; i < n; i++) {
        if (sp[i].begin < at)
            return rs_error(RS_ERR_FORMAT, "%s: tensor '%s' (bytes %zu..%zu) overlaps tensor '%s'", src,
                            st->tensors[sp[i].index].name, sp[i].begin, sp[i].end, st->tensors[sp[i - 1].index].name);
        if (sp[i].begin > at)
            return rs_error(RS_ERR_FORMAT, "%s: bytes %zu..%zu of the data section, before tensor '%s', belong to no "
                            "tensor", src, at, sp[i].begin, st->tensors[sp[i].index].name);
        at = sp[i].end;
    }
    if (at != data_len)
        return rs_error(RS_ERR_FORMAT, "%s: the data section has %zu bytes but its tensors cover %zu", src, data_len,
                        at);
    return RS_OK;
}

/* Walks the header object: the tensors (in header order) and __metadata__. */
static rs_status parse_header(const cJSON *root, const char *src, size_t data_len, rs_safetensors *st,
                              st_span **spans) {
    if (!cJSON_IsObject(root)) return rs_error(RS_ERR_FORMAT, "%s: the header is not a JSON object", src);
    int n = 0, n_meta = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) n_meta++;
        else n++;
    }
    if (n_meta > 1) return rs_error(RS_ERR_FORMAT, "%s: __metadata__ given %d times", src, n_meta);
    st->tensors = calloc((size_t)n + 1, sizeof *st->tensors);
    *spans = calloc((size_t)n + 1, sizeof **spans);
    if (!st->tensors || !*spans) return rs_error(RS_ERR_NOMEM, "%s: no memory for %d tensor entries", src, n);
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            RS_TRY(parse_meta(e, src, st));
            continue;
        }
        if (e->string[0] == 0) return rs_error(RS_ERR_FORMAT, "%s: a tensor has an empty name", src);
        rs_st_tensor *t = &st->tensors[st->n_tensors];
        if (!(t->name = dup_str(e->string))) return rs_error(RS_ERR_NOMEM, "%s: no memory for names", src);
        st->n_tensors++;
        (*spans)[st->n_tensors - 1].index = st->n_tensors - 1;
        RS_TRY(parse_tensor(e, src, data_len, t, &(*spans)[st->n_tensors - 1]));
    }
    const char **names = malloc(((size_t)n + 1) * sizeof *names);
    if (!names) return rs_error(RS_ERR_NOMEM, "%s: no memory for names", src);
    for (int32_t i = 0; i < st->n_tensors; i++) names[i] = st->tensors[i].name;
    rs_status s;
    const char *dup = find_duplicate(names, st->n_tensors, &s);
    rs_status r = s != RS_OK ? s : dup ? rs_error(RS_ERR_FORMAT, "%s: tensor '%s' given twice", src, dup) : RS_OK;
    free(names);
    return r;
}

/* Copies (or adopts, and then always owns or frees) the file image and points each tensor at its bytes. A tensor
 * whose bytes are not aligned to its element size in the image (possible only in files from writers that neither
 * pad the header nor order by dtype) gets an aligned copy placed after the image in the same allocation, so every
 * data pointer may be cast to its element type. */
static rs_status place_data(rs_safetensors *st, const st_span *sp_by_offset, const uint8_t *buf, size_t len,
                            size_t data_start, void *adopt, const char *src) {
    size_t image = (len + 63) / 64 * 64, extra = 0;
    /* absolute offsets in the image (data_start + begin), the image itself being 64-byte aligned */
    size_t *begin = malloc(((size_t)st->n_tensors + 1) * sizeof *begin);
    if (!begin) {
        rs_free(adopt);
        return rs_error(RS_ERR_NOMEM, "%s: no memory", src);
    }
    for (int32_t i = 0; i < st->n_tensors; i++) begin[sp_by_offset[i].index] = data_start + sp_by_offset[i].begin;
    for (int32_t i = 0; i < st->n_tensors; i++)
        if (begin[i] % rs_dtype_size(st->tensors[i].dtype) != 0) extra += (st->tensors[i].nbytes + 63) / 64 * 64;
    uint8_t *mem = adopt;
    if (!adopt || extra) {
        mem = rs_alloc(image + extra);
        if (!mem) {
            free(begin);
            rs_free(adopt);
            return rs_error(RS_ERR_NOMEM, "%s: cannot allocate %zu bytes", src, image + extra);
        }
        memcpy(mem, buf, len);
        if (adopt) rs_free(adopt);
    }
    st->buffer = mem;
    st->buffer_len = len;
    size_t at = image;
    for (int32_t i = 0; i < st->n_tensors; i++) {
        rs_st_tensor *t = &st->tensors[i];
        if (begin[i] % rs_dtype_size(t->dtype) == 0) {
            t->data = mem + begin[i];
        } else {
            memcpy(mem + at, mem + begin[i], t->nbytes);
            t->data = mem + at;
            at += (t->nbytes + 63) / 64 * 64;
        }
    }
    free(begin);
    return RS_OK;
}

/* adopt: NULL, or an rs_alloc'd buffer holding buf that the result takes over (freed on error too). */
static rs_status st_parse(const uint8_t *buf, size_t len, const char *src, void *adopt, rs_safetensors **out) {
    *out = NULL;
    if (len < 8) {
        rs_free(adopt);
        return rs_error(RS_ERR_FORMAT, "%s: truncated: %zu bytes, a safetensors file has at least 8", src, len);
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | buf[i];
    rs_status s = RS_OK;
    if (n > ST_MAX_HEADER)
        s = rs_error(RS_ERR_FORMAT, "%s: header length %llu is more than the %u bytes allowed", src,
                     (unsigned long long)n, ST_MAX_HEADER);
    else if (n > len - 8)
        s = rs_error(RS_ERR_FORMAT, "%s: header length %llu but only %zu bytes follow (truncated file?)", src,
                     (unsigned long long)n, len - 8);
    else if (memchr(buf + 8, 0, (size_t)n))
        s = rs_error(RS_ERR_FORMAT, "%s: the JSON header contains a NUL byte", src);
    else if (!utf8_valid(buf + 8, (size_t)n))
        s = rs_error(RS_ERR_FORMAT, "%s: the JSON header is not valid UTF-8", src);
    if (s != RS_OK) {
        rs_free(adopt);
        return s;
    }
    size_t data_start = 8 + (size_t)n, data_len = len - data_start;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)buf + 8, (size_t)n, &end, 0);
    if (!root) {
        rs_free(adopt);
        return rs_error(RS_ERR_FORMAT, "%s: the header is not valid JSON", src);
    }
    for (const char *p = end; p < (const char *)buf + data_start && s == RS_OK; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            s = rs_error(RS_ERR_FORMAT, "%s: text after the JSON header", src);
    rs_safetensors *st = calloc(1, sizeof *st);
    st_span *spans = NULL;
    if (!st && s == RS_OK) s = rs_error(RS_ERR_NOMEM, "%s: no memory", src);
    if (s == RS_OK) s = parse_header(root, src, data_len, st, &spans);
    cJSON_Delete(root);
    if (s == RS_OK) s = check_layout(spans, st->n_tensors, data_len, st, src);
    if (s == RS_OK) {
        s = place_data(st, spans, buf, len, data_start, adopt, src);
        adopt = NULL; /* place_data took it over, or freed it */
    }
    free(spans);
    rs_free(adopt);
    if (s != RS_OK) {
        rs_safetensors_free(st);
        return s;
    }
    *out = st;
    return RS_OK;
}

rs_status rs_safetensors_parse(const void *buf, size_t len, const char *source, rs_safetensors **out) {
    return st_parse(buf, len, source ? source : "(memory)", NULL, out);
}

rs_status rs_safetensors_read(const char *path, rs_safetensors **out) {
    *out = NULL;
    void *data;
    size_t len;
    RS_TRY(rs_read_file(path, &data, &len, 0));
    return st_parse(data, len, path, data, out);
}

const rs_st_tensor *rs_safetensors_get(const rs_safetensors *st, const char *name) {
    for (int32_t i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

const char *rs_safetensors_meta(const rs_safetensors *st, const char *key) {
    for (int32_t i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}

void rs_safetensors_free(rs_safetensors *st) {
    if (!st) return;
    if (st->tensors)
        for (int32_t i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    free(st->tensors);
    for (int32_t i = 0; i < st->n_meta; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->meta_keys);
    free(st->meta_values);
    rs_free(st->buffer);
    free(st);
}

/* ---------------------------------------------------------------- writing */

/* The caller's tensors and metadata must be what the reader accepts: names unique, non-empty, UTF-8; shapes that
 * match nbytes. */
static rs_status check_write_args(const char *path, const rs_st_tensor *ts, int32_t n, const char *const *keys,
                                  const char *const *values, int32_t n_meta) {
    if (n < 0 || n_meta < 0 || (n > 0 && !ts) || (n_meta > 0 && (!keys || !values)))
        return rs_error(RS_ERR_ARG, "%s: bad tensor or metadata list (n %d, n_meta %d)", path, n, n_meta);
    for (int32_t i = 0; i < n; i++) {
        const rs_st_tensor *t = &ts[i];
        const char *nm = t->name ? t->name : "";
        if (!nm[0] || strcmp(nm, "__metadata__") == 0 || !utf8_valid((const unsigned char *)nm, strlen(nm)))
            return rs_error(RS_ERR_ARG, "%s: tensor %d has an empty, reserved or non-UTF-8 name", path, i);
        if (rs_dtype_size(t->dtype) == 0 || t->ndim < 0 || t->ndim > RS_ST_MAXDIM)
            return rs_error(RS_ERR_ARG, "%s: tensor '%s': bad dtype or %d dimensions", path, nm, t->ndim);
        size_t numel = 1, bytes;
        for (int32_t d = 0; d < t->ndim; d++)
            if (t->shape[d] < 0 || rs_mul_size(numel, (size_t)t->shape[d], &numel) != 0)
                return rs_error(RS_ERR_ARG, "%s: tensor '%s': bad dimension %d", path, nm, d);
        if (rs_mul_size(numel, rs_dtype_size(t->dtype), &bytes) != 0 || bytes != t->nbytes || (bytes && !t->data))
            return rs_error(RS_ERR_ARG, "%s: tensor '%s': %zu bytes given, its shape needs %zu", path, nm, t->nbytes,
                            bytes);
    }
    for (int32_t i = 0; i < n_meta; i++)
        if (!keys[i] || !values[i] || !utf8_valid((const unsigned char *)keys[i], strlen(keys[i])) ||
            !utf8_valid((const unsigned char *)values[i], strlen(values[i])))
            return rs_error(RS_ERR_ARG, "%s: metadata entry %d is missing or not UTF-8", path, i);
    const char **names = malloc(((size_t)n + 1) * sizeof *names);
    if (!names) return rs_error(RS_ERR_NOMEM, "%s: no memory", path);
    for (int32_t i = 0; i < n; i++) names[i] = ts[i].name;
    rs_status s, s2 = RS_OK;
    const char *dup = find_duplicate(names, n, &s);
    free(names);
    if (s == RS_OK && dup) s = rs_error(RS_ERR_ARG, "%s: tensor '%s' given twice", path, dup);
    if (s == RS_OK) dup = find_duplicate(keys, n_meta, &s2);
    if (s == RS_OK && s2 == RS_OK && dup) s = rs_error(RS_ERR_ARG, "%s: metadata key '%s' given twice", path, dup);
    return s != RS_OK ? s : s2;
}

static int add_uint(cJSON *arr, uint64_t v) {
    char num[32];
    snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    cJSON *x = cJSON_CreateRaw(num); /* raw digits: cJSON would print large integers in exponent form */
    return x && cJSON_AddItemToArray(arr, x) ? 0 : -1;
}

/* The header JSON: __metadata__ first, then the tensors in the caller's order with their byte ranges. */
static char *header_json(const rs_st_tensor *ts, int32_t n, const size_t *begin, const char *const *keys,
                         const char *const *values, int32_t n_meta) {
    cJSON *root = cJSON_CreateObject();
    int bad = !root;
    if (!bad && n_meta > 0) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        bad = !m;
        for (int32_t i = 0; i < n_meta && !bad; i++) bad = !cJSON_AddStringToObject(m, keys[i], values[i]);
    }
    for (int32_t i = 0; i < n && !bad; i++) {
        cJSON *e = cJSON_AddObjectToObject(root, ts[i].name);
        cJSON *sh = e ? cJSON_CreateArray() : NULL, *off = e ? cJSON_CreateArray() : NULL;
        bad = !e || !cJSON_AddStringToObject(e, "dtype", rs_dtype_name(ts[i].dtype)) || !sh || !off;
        for (int32_t d = 0; d < ts[i].ndim && !bad; d++) bad = add_uint(sh, (uint64_t)ts[i].shape[d]) != 0;
        if (!bad) bad = add_uint(off, begin[i]) != 0 || add_uint(off, begin[i] + ts[i].nbytes) != 0;
        if (!bad && cJSON_AddItemToObject(e, "shape", sh)) sh = NULL;
        if (!bad && cJSON_AddItemToObject(e, "data_offsets", off)) off = NULL;
        bad = bad || sh || off;
        cJSON_Delete(sh);
        cJSON_Delete(off);
    }
    char *text = bad ? NULL : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

rs_status rs_safetensors_write(const char *path, const rs_st_tensor *tensors, int32_t n, const char *const *keys,
                               const char *const *values, int32_t n_meta) {
    RS_TRY(check_write_args(path, tensors, n, keys, values, n_meta));
    /* Data order: by element size, largest first, otherwise the caller's order. With the header padded to a multiple
     * of 8 bytes, every tensor then starts at a multiple of its element size and the tensors tile the data section
     * without gaps, as the reference writer lays them out (a gap would make the reference reader refuse the file). */
    size_t *begin = malloc(((size_t)n + 1) * sizeof *begin);
    if (!begin) return rs_error(RS_ERR_NOMEM, "%s: no memory", path);
    size_t data_len = 0;
    for (size_t es = 8; es >= 1; es /= 2)
        for (int32_t i = 0; i < n; i++)
            if (rs_dtype_size(tensors[i].dtype) == es) {
                begin[i] = data_len;
                data_len += tensors[i].nbytes;
            }
    char *text = header_json(tensors, n, begin, keys, values, n_meta);
    if (!text) {
        free(begin);
        return rs_error(RS_ERR_NOMEM, "%s: cannot build the JSON header", path);
    }
    size_t hlen = strlen(text), padded = (hlen + 7) / 8 * 8, total = 8 + padded + data_len;
    uint8_t *out = rs_alloc(total);
    rs_status s = RS_OK;
    if (!out) {
        s = rs_error(RS_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, total);
    } else {
        for (int i = 0; i < 8; i++) out[i] = (uint8_t)((uint64_t)padded >> (8 * i));
        memcpy(out + 8, text, hlen);
        memset(out + 8 + hlen, ' ', padded - hlen);
        for (int32_t i = 0; i < n; i++)
            if (tensors[i].nbytes) memcpy(out + 8 + padded + begin[i], tensors[i].data, tensors[i].nbytes);
        s = rs_write_file_atomic(path, out, total);
    }
    cJSON_free(text);
    free(begin);
    rs_free(out);
    return s;
}
