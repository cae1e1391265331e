/* npy.c: NumPy's .npy array files, versions 1.0 to 3.0: a magic string, a version, a header length, then a Python
 * dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } and the raw row-major data.
 * The dict is parsed by hand and strictly (exactly those three keys, plain quoted strings, a real tuple); it is not
 * a Python evaluator. Only little-endian numeric dtypes relstab uses are accepted: no big-endian, object,
 * structured or column-major (fortran_order) arrays. */
#include "relstab/io.h"

#include <stdlib.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "relstab's file formats are read and written as little-endian memory images"
#endif

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* The descr string numpy writes for each dtype. */
static const char *npy_descr(rs_dtype t) {
    switch (t) {
    case RS_DTYPE_F32: return "<f4";
    case RS_DTYPE_F64: return "<f8";
    case RS_DTYPE_I64: return "<i8";
    case RS_DTYPE_U8: return "|u1";
    case RS_DTYPE_I32: return "<i4";
    }
    return NULL;
}

/* ---------------------------------------------------------------- the header dict */
typedef struct {
    const char *p, *end;
    const char *src; /* file name for messages */
} npy_cursor;

static void skip_ws(npy_cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int eat(npy_cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string of printable ASCII without escapes ('...' or "..."), copied into out[cap]. */
static int parse_str(npy_cursor *c, char *out, size_t cap) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return -1;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        unsigned char ch = (unsigned char)*c->p++;
        if (ch < 0x20 || ch > 0x7e || ch == '\\' || n + 1 >= cap) return -1;
        out[n++] = (char)ch;
    }
    if (c->p >= c->end) return -1;
    c->p++;
    out[n] = 0;
    return 0;
}

static int parse_word(npy_cursor *c, const char *w) {
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return -1;
    c->p += n;
    /* the word must end here: "Falsey" is not False */
    if (c->p < c->end && (*c->p == '_' || (*c->p >= 'a' && *c->p <= 'z') || (*c->p >= 'A' && *c->p <= 'Z') ||
                          (*c->p >= '0' && *c->p <= '9')))
        return -1;
    return 0;
}

/* A non-negative decimal integer below 2^62 (anything larger is absurd for an array dimension). */
static int parse_dim(npy_cursor *c, int64_t *v) {
    skip_ws(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') return -1;
    if (*c->p == '0' && c->p + 1 < c->end && c->p[1] >= '0' && c->p[1] <= '9') return -1; /* Python: no 007 */
    int64_t x = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        int digit = *c->p++ - '0';
        if (x > (((int64_t)1 << 62) - 1 - digit) / 10) return -1; /* x * 10 + digit would reach 2^62 */
        x = x * 10 + digit;
    }
    *v = x;
    return 0;
}

static rs_status parse_descr(npy_cursor *c, rs_npy *out) {
    char d[64];
    skip_ws(c);
    if (c->p < c->end && *c->p == '[')
        return rs_error(RS_ERR_FORMAT, "%s: structured dtypes (a 'descr' list) are not supported", c->src);
    if (parse_str(c, d, sizeof d) != 0)
        return rs_error(RS_ERR_FORMAT, "%s: 'descr' is not a plain quoted string", c->src);
    if (strcmp(d, "<u1") == 0) {
        out->dtype = RS_DTYPE_U8;
        return RS_OK;
    }
    static const rs_dtype all[] = {RS_DTYPE_F32, RS_DTYPE_F64, RS_DTYPE_I64, RS_DTYPE_U8, RS_DTYPE_I32};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(d, npy_descr(all[i])) == 0) {
            out->dtype = all[i];
            return RS_OK;
        }
    if (d[0] == '>')
        return rs_error(RS_ERR_FORMAT, "%s: big-endian dtype '%s' is not supported (save it little-endian)", c->src, d);
    if (strchr(d, 'O'))
        return rs_error(RS_ERR_FORMAT, "%s: object dtype '%s' is not supported", c->src, d);
    return rs_error(RS_ERR_FORMAT, "%s: unsupported dtype '%s' (relstab reads <f4 <f8 <i8 <i4 |u1)", c->src, d);
}

/* A Python tuple of dimensions: (), (n,), (a, b), (a, b,) ... */
static rs_status parse_shape(npy_cursor *c, rs_npy *out) {
    if (!eat(c, '(')) return rs_error(RS_ERR_FORMAT, "%s: 'shape' is not a tuple", c->src);
    out->ndim = 0;
    if (eat(c, ')')) return RS_OK;
    for (;;) {
        int64_t v;
        if (out->ndim == RS_ST_MAXDIM)
            return rs_error(RS_ERR_FORMAT, "%s: more than %d dimensions", c->src, RS_ST_MAXDIM);
        if (parse_dim(c, &v) != 0)
            return rs_error(RS_ERR_FORMAT, "%s: shape dimension %d is not a non-negative integer below 2^62", c->src,
                            out->ndim);
        out->shape[out->ndim++] = v;
        if (eat(c, ',')) {
            if (eat(c, ')')) return RS_OK;
            continue;
        }
        if (!eat(c, ')')) return rs_error(RS_ERR_FORMAT, "%s: malformed 'shape' tuple", c->src);
        if (out->ndim == 1) /* Python's (3) is the integer 3, not a tuple */
            return rs_error(RS_ERR_FORMAT, "%s: 'shape' (n) is not a tuple: a 1-tuple is written (n,)", c->src);
        return RS_OK;
    }
}

static rs_status parse_dict(npy_cursor *c, rs_npy *out) {
    int seen[3] = {0, 0, 0}; /* descr, fortran_order, shape */
    if (!eat(c, '{')) return rs_error(RS_ERR_FORMAT, "%s: the header is not a dict", c->src);
    while (!eat(c, '}')) {
        char key[32];
        if (parse_str(c, key, sizeof key) != 0 || !eat(c, ':'))
            return rs_error(RS_ERR_FORMAT, "%s: malformed header dict", c->src);
        int k = strcmp(key, "descr") == 0 ? 0 : strcmp(key, "fortran_order") == 0 ? 1 : strcmp(key, "shape") == 0 ? 2
                                                                                                                 : -1;
        if (k < 0) return rs_error(RS_ERR_FORMAT, "%s: unexpected header key '%s'", c->src, key);
        if (seen[k]++) return rs_error(RS_ERR_FORMAT, "%s: header key '%s' given twice", c->src, key);
        if (k == 0) RS_TRY(parse_descr(c, out));
        if (k == 2) RS_TRY(parse_shape(c, out));
        if (k == 1) {
            if (parse_word(c, "True") == 0)
                return rs_error(RS_ERR_FORMAT, "%s: fortran_order True (column-major) arrays are not supported",
                                c->src);
            if (parse_word(c, "False") != 0)
                return rs_error(RS_ERR_FORMAT, "%s: 'fortran_order' is neither True nor False", c->src);
        }
        if (!eat(c, ',')) {
            if (!eat(c, '}')) return rs_error(RS_ERR_FORMAT, "%s: malformed header dict", c->src);
            break;
        }
    }
    for (int k = 0; k < 3; k++)
        if (!seen[k])
            return rs_error(RS_ERR_FORMAT, "%s: header has no '%s'", c->src,
                            k == 0 ? "descr" : k == 1 ? "fortran_order" : "shape");
    skip_ws(c);
    if (c->p != c->end) return rs_error(RS_ERR_FORMAT, "%s: text after the header dict", c->src);
    return RS_OK;
}

/* ---------------------------------------------------------------- reading */
/* Parses the preamble and header dict of an NPY image of total_len bytes whose first `len` bytes are in buf (len
 * may stop short of the data): fills *out (without data) and the data's offset, after checking that the data
 * section is exactly the shape's byte size. */
static rs_status parse_header(const uint8_t *b, size_t len, size_t total_len, const char *src, rs_npy *out,
                              size_t *data_offset) {
    memset(out, 0, sizeof *out);
    if (len < 10 || memcmp(b, npy_magic, 6) != 0)
        return rs_error(RS_ERR_FORMAT, "%s: not an NPY file (no \\x93NUMPY magic)", src);
    int major = b[6], minor = b[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0)
        return rs_error(RS_ERR_FORMAT, "%s: unsupported NPY version %d.%d (relstab reads 1.0, 2.0, 3.0)", src, major,
                        minor);
    size_t pre = major == 1 ? 10 : 12, hlen;
    if (len < pre) return rs_error(RS_ERR_FORMAT, "%s: truncated NPY preamble", src);
    hlen = major == 1 ? (size_t)b[8] | (size_t)b[9] << 8
                      : (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    if (hlen > total_len - pre)
        return rs_error(RS_ERR_FORMAT, "%s: header length %zu but only %zu bytes follow (truncated file?)", src, hlen,
                        total_len - pre);
    if (hlen > len - pre) return rs_error(RS_ERR_FORMAT, "%s: header of %zu bytes not read", src, hlen);
    npy_cursor c = {(const char *)b + pre, (const char *)b + pre + hlen, src};
    rs_npy a;
    memset(&a, 0, sizeof a);
    RS_TRY(parse_dict(&c, &a));
    size_t numel = 1, nbytes;
    for (int32_t d = 0; d < a.ndim; d++)
        if (rs_mul_size(numel, (size_t)a.shape[d], &numel) != 0)
            return rs_error(RS_ERR_FORMAT, "%s: the shape's element count overflows", src);
    if (rs_mul_size(numel, rs_dtype_size(a.dtype), &nbytes) != 0)
        return rs_error(RS_ERR_FORMAT, "%s: the shape's byte size overflows", src);
    size_t have = total_len - pre - hlen;
    if (have != nbytes) {
        char sb[160];
        return rs_error(RS_ERR_FORMAT, "%s: %zu data bytes but shape %s of %s needs %zu (%s)", src, have,
                        rs_shape_str(sb, sizeof sb, a.ndim, a.shape), npy_descr(a.dtype), nbytes,
                        have < nbytes ? "truncated" : "trailing bytes");
    }
    a.nbytes = nbytes;
    *out = a;
    *data_offset = pre + hlen;
    return RS_OK;
}

rs_status rs_npy_parse(const void *buf, size_t len, const char *source, rs_npy *out) {
    const char *src = source ? source : "(memory)";
    size_t off;
    RS_TRY(parse_header(buf, len, len, src, out, &off));
    out->data = rs_alloc(out->nbytes);
    if (!out->data) return rs_error(RS_ERR_NOMEM, "%s: cannot allocate %zu bytes", src, out->nbytes);
    memcpy(out->data, (const uint8_t *)buf + off, out->nbytes);
    return RS_OK;
}

/* Reads the header, then (with_data) the data straight into the array's buffer: the file is never held twice. */
static rs_status read_npy(const char *path, rs_npy *out, int with_data) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return rs_error(RS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    rs_status s = RS_OK;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) s = rs_error(RS_ERR_IO, "%s is not a regular file", path);
    size_t total = s == RS_OK ? (size_t)st.st_size : 0, head_len = 0, off = 0;
    uint8_t *head = NULL;
    if (s == RS_OK) { /* the preamble says how long the header is (at most 12 + 2^32 bytes; cap by the file) */
        uint8_t pre[12];
        size_t got = fread(pre, 1, sizeof pre, f);
        size_t hlen = got >= 10 ? (size_t)pre[8] | (size_t)pre[9] << 8 : 0;
        if (got == 12 && pre[6] >= 2) hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        head_len = got + hlen < total ? got + hlen : total; /* covers the dict (v1 starts it at 10, v2/3 at 12) */
        head = rs_alloc(head_len ? head_len : 1);
        if (!head) s = rs_error(RS_ERR_NOMEM, "%s: cannot allocate the header", path);
        if (s == RS_OK) {
            memcpy(head, pre, got < head_len ? got : head_len);
            if (head_len > got && fread(head + got, 1, head_len - got, f) != head_len - got)
                s = rs_error(RS_ERR_IO, "short read on %s", path);
        }
        if (s == RS_OK) s = parse_header(head, head_len, total, path, out, &off);
    }
    rs_free(head);
    if (s == RS_OK && with_data) {
        out->data = rs_alloc(out->nbytes);
        if (!out->data) s = rs_error(RS_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, out->nbytes);
        else if (fseek(f, (long)off, SEEK_SET) != 0 || fread(out->data, 1, out->nbytes, f) != out->nbytes)
            s = rs_error(RS_ERR_IO, "short read on %s", path);
    }
    fclose(f);
    if (s != RS_OK) rs_npy_free(out);
    return s;
}

rs_status rs_npy_read(const char *path, rs_npy *out) { return read_npy(path, out, 1); }
rs_status rs_npy_read_header(const char *path, rs_npy *out) { return read_npy(path, out, 0); }

void rs_npy_free(rs_npy *a) {
    if (!a) return;
    rs_free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---------------------------------------------------------------- writing */
/* Version 1.0, the dict as numpy writes it, padded with spaces and a final '\n' so the data starts at a multiple of
 * 64 bytes (numpy's rule: the padding is 1 to 64 bytes, never 0). */
rs_status rs_npy_write(const char *path, rs_dtype dtype, int32_t ndim, const int64_t *shape, const void *data) {
    const char *descr = npy_descr(dtype);
    if (!descr || ndim < 0 || ndim > RS_ST_MAXDIM || (ndim > 0 && !shape))
        return rs_error(RS_ERR_ARG, "%s: bad dtype or %d dimensions", path, ndim);
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    size_t numel = 1, nbytes;
    for (int32_t d = 0; d < ndim; d++) {
        if (shape[d] < 0 || rs_mul_size(numel, (size_t)shape[d], &numel) != 0)
            return rs_error(RS_ERR_ARG, "%s: bad dimension %d (%lld)", path, d, (long long)shape[d]);
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%lld", d ? ", " : "", (long long)shape[d]);
    }
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", ndim == 1 ? "," : "");
    if (rs_mul_size(numel, rs_dtype_size(dtype), &nbytes) != 0)
        return rs_error(RS_ERR_ARG, "%s: the array's byte size overflows", path);
    if (nbytes && !data) return rs_error(RS_ERR_ARG, "%s: no data", path);
    size_t pad = 64 - (10 + (size_t)n + 1) % 64, hlen = (size_t)n + pad + 1, total = 10 + hlen + nbytes;
    uint8_t *out = rs_alloc(total);
    if (!out) return rs_error(RS_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, total);
    memcpy(out, npy_magic, 6);
    out[6] = 1;
    out[7] = 0;
    out[8] = (uint8_t)(hlen & 0xff);
    out[9] = (uint8_t)(hlen >> 8);
    memcpy(out + 10, dict, (size_t)n);
    memset(out + 10 + n, ' ', pad);
    out[10 + hlen - 1] = '\n';
    if (nbytes) memcpy(out + 10 + hlen, data, nbytes);
    rs_status s = rs_write_file_atomic(path, out, total);
    rs_free(out);
    return s;
}
