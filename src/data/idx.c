/* idx.c: the IDX format of MNIST / FashionMNIST / KMNIST (plain or gzip), and the datasets built on it
 * (`fashionmnist`, `fashionmnist:DIR`, `mnist:DIR`, `idx:DIR`).
 * Only unsigned-byte IDX files are accepted (every image dataset in this format uses them); the other IDX data
 * types (int8, int16, int32, float, double) are refused with a message, not converted. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "data/data_internal.h"

/* Deflate cannot expand more than 1032:1 (a 258-byte match per 2 bits); with the gzip header and trailer, a gzip
 * file of len bytes inflates to at most 1032 * len bytes. A header claiming more is refused before allocating. */
#define RS_DEFLATE_MAX_RATIO 1032

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* Validates the header in p[0..avail) and returns its size and the data size it announces. */
static rs_status idx_header(const uint8_t *p, size_t avail, const char *source, int32_t *ndim, int64_t dims[4],
                            size_t *header, size_t *data_bytes) {
    if (avail < 4) return rs_error(RS_ERR_FORMAT, "%s: too short for an IDX header (%zu bytes)", source, avail);
    if (p[0] != 0 || p[1] != 0)
        return rs_error(RS_ERR_FORMAT, "%s: not an IDX file (magic %02x %02x %02x %02x; the first two bytes must be 0)",
                        source, p[0], p[1], p[2], p[3]);
    if (p[2] != 0x08)
        return rs_error(RS_ERR_FORMAT, "%s: IDX data type 0x%02x is not supported (only unsigned bytes, 0x08)", source,
                        p[2]);
    int32_t nd = p[3];
    if (nd < 1 || nd > 4)
        return rs_error(RS_ERR_FORMAT, "%s: IDX dimension count %d is outside 1..4", source, (int)nd);
    size_t h = 4 + 4 * (size_t)nd;
    if (avail < h)
        return rs_error(RS_ERR_FORMAT, "%s: truncated IDX header (%zu of %zu bytes)", source, avail, h);
    size_t total = 1;
    for (int32_t k = 0; k < nd; k++) {
        uint32_t d = be32(p + 4 + 4 * k);
        if (d == 0 || d > INT32_MAX)
            return rs_error(RS_ERR_FORMAT, "%s: IDX dimension %d is %u (must be 1..%d)", source, (int)k, d, INT32_MAX);
        if (rs_mul_size(total, d, &total) != 0 || total > RS_DATA_MAX_BYTES)
            return rs_error(RS_ERR_FORMAT, "%s: IDX dimensions announce more than %zu bytes of data", source,
                            (size_t)RS_DATA_MAX_BYTES);
        dims[k] = d;
    }
    *ndim = nd;
    *header = h;
    *data_bytes = total;
    return RS_OK;
}

/* Inflates until `want` bytes are in dst or the stream stops; returns the last zlib code, *got = bytes produced. */
static int inflate_exact(z_stream *zs, const uint8_t *buf, size_t len, size_t *in_pos, uint8_t *dst, size_t want,
                         size_t *got) {
    *got = 0;
    int ret = Z_OK;
    while (*got < want) {
        if (zs->avail_in == 0 && *in_pos < len) {
            size_t chunk = len - *in_pos < ((size_t)1 << 30) ? len - *in_pos : ((size_t)1 << 30);
            zs->next_in = (Bytef *)(buf + *in_pos);
            zs->avail_in = (uInt)chunk;
            *in_pos += chunk;
        }
        size_t out_chunk = want - *got < ((size_t)1 << 30) ? want - *got : ((size_t)1 << 30);
        zs->next_out = dst + *got;
        zs->avail_out = (uInt)out_chunk;
        ret = inflate(zs, Z_NO_FLUSH);
        *got += out_chunk - zs->avail_out;
        if (ret != Z_OK) break;
    }
    return ret;
}

static rs_status gz_error(int ret, const z_stream *zs, const char *source, const char *what) {
    if (ret == Z_BUF_ERROR || ret == Z_OK || ret == Z_STREAM_END)
        return rs_error(RS_ERR_FORMAT, "%s: truncated gzip data (%s)", source, what);
    if (ret == Z_MEM_ERROR) return rs_error(RS_ERR_NOMEM, "%s: out of memory while inflating", source);
    return rs_error(RS_ERR_FORMAT, "%s: corrupt gzip data (%s): %s", source, what, zs->msg ? zs->msg : "zlib error");
}

/* After the announced data: the gzip member must end right there (checking its CRC), with nothing after it. */
static rs_status gz_finish(z_stream *zs, const uint8_t *buf, size_t len, size_t *in_pos, const char *source,
                           size_t expected) {
    uint8_t extra;
    size_t got = 0;
    int ret = inflate_exact(zs, buf, len, in_pos, &extra, 1, &got);
    if (got > 0)
        return rs_error(RS_ERR_FORMAT, "%s: more data than the %zu bytes its IDX header announces", source, expected);
    if (ret != Z_STREAM_END) return gz_error(ret, zs, source, "missing end of stream");
    size_t left = zs->avail_in + (len - *in_pos);
    if (left > 0) return rs_error(RS_ERR_FORMAT, "%s: %zu bytes after the end of the gzip stream", source, left);
    return RS_OK;
}

rs_status rs_gunzip_idx(const uint8_t *buf, size_t len, const char *source, uint8_t **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return rs_error(RS_ERR_NOMEM, "%s: cannot start zlib", source);
    uint8_t hdr[20];
    size_t in_pos = 0, got = 0, header = 0, data_bytes = 0, total = 0, cap = 0;
    int32_t ndim = 0;
    int64_t dims[4];
    rs_status st = RS_OK;
    uint8_t *dst = NULL;
    int ret = inflate_exact(&zs, buf, len, &in_pos, hdr, 4, &got);
    if (got < 4) {
        st = ret == Z_STREAM_END ? rs_error(RS_ERR_FORMAT, "%s: too short for an IDX header (%zu bytes)", source, got)
                                 : gz_error(ret, &zs, source, "in the IDX header");
        goto done;
    }
    size_t hlen = 4 + 4 * (size_t)(hdr[3] >= 1 && hdr[3] <= 4 ? hdr[3] : 0);
    if (hlen > 4) {
        ret = inflate_exact(&zs, buf, len, &in_pos, hdr + 4, hlen - 4, &got);
        if (got < hlen - 4) {
            st = ret == Z_STREAM_END ? rs_error(RS_ERR_FORMAT, "%s: truncated IDX header", source)
                                     : gz_error(ret, &zs, source, "in the IDX header");
            goto done;
        }
    }
    st = idx_header(hdr, hlen, source, &ndim, dims, &header, &data_bytes);
    if (st != RS_OK) goto done;
    total = header + data_bytes;
    if (rs_mul_size(len, RS_DEFLATE_MAX_RATIO, &cap) == 0 && total > cap) {
        st = rs_error(RS_ERR_FORMAT, "%s: the IDX header announces %zu bytes, more than a %zu-byte gzip file can hold",
                      source, total, len);
        goto done;
    }
    dst = rs_alloc(total);
    if (!dst) {
        st = rs_error(RS_ERR_NOMEM, "%s: cannot allocate %zu bytes", source, total);
        goto done;
    }
    memcpy(dst, hdr, header);
    ret = inflate_exact(&zs, buf, len, &in_pos, dst + header, data_bytes, &got);
    if (got < data_bytes) {
        st = ret == Z_STREAM_END ? rs_error(RS_ERR_FORMAT,
                                            "%s: truncated: %zu of the %zu data bytes its IDX header announces",
                                            source, got, data_bytes)
                                 : gz_error(ret, &zs, source, "in the image data");
        goto done;
    }
    st = gz_finish(&zs, buf, len, &in_pos, source, data_bytes);
done:
    inflateEnd(&zs);
    if (st != RS_OK) {
        rs_free(dst);
        return st;
    }
    *out = dst;
    *out_len = total;
    return RS_OK;
}

rs_status rs_idx_parse(const void *buf, size_t len, const char *source, rs_idx *out) {
    memset(out, 0, sizeof *out);
    const uint8_t *p = buf;
    uint8_t *inflated = NULL;
    if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
        RS_TRY(rs_gunzip_idx(p, len, source, &inflated, &len));
        p = inflated;
    }
    size_t header = 0, data_bytes = 0;
    rs_status st = idx_header(p, len, source, &out->ndim, out->dims, &header, &data_bytes);
    if (st == RS_OK && len - header != data_bytes)
        st = len - header < data_bytes
                 ? rs_error(RS_ERR_FORMAT, "%s: truncated: %zu of the %zu data bytes its IDX header announces", source,
                            len - header, data_bytes)
                 : rs_error(RS_ERR_FORMAT, "%s: %zu bytes after the %zu data bytes its IDX header announces", source,
                            len - header - data_bytes, data_bytes);
    if (st != RS_OK) {
        rs_free(inflated);
        memset(out, 0, sizeof *out);
        return st;
    }
    out->data = p + header;
    out->nbytes = data_bytes;
    out->owned = inflated;
    return RS_OK;
}

void rs_idx_free(rs_idx *a) {
    if (!a) return;
    rs_free(a->owned);
    memset(a, 0, sizeof *a);
}

/* ---------------------------------------------------------------- datasets */

/* Finds DIR/PREFIX-WHAT-ubyte in its usual spellings (.gz or not, '-' or '.' before idxN). */
static rs_status find_idx_file(const char *dir, const char *prefix, const char *what, int nd, char *path, size_t cap) {
    static const char *const forms[] = {"%s/%s-%s-idx%d-ubyte.gz", "%s/%s-%s-idx%d-ubyte", "%s/%s-%s.idx%d-ubyte.gz",
                                        "%s/%s-%s.idx%d-ubyte"};
    for (int k = 0; k < 4; k++) {
        if (snprintf(path, cap, forms[k], dir, prefix, what, nd) >= (int)cap)
            return rs_error(RS_ERR_ARG, "directory path too long: %s", dir);
        if (access(path, R_OK) == 0) return RS_OK;
    }
    return rs_error(RS_ERR_IO, "no %s-%s-idx%d-ubyte[.gz] in %s", prefix, what, nd, dir);
}

/* Reads an IDX file whole; the pixels point into *keep (to rs_free when done). */
static rs_status read_idx(const char *path, rs_idx *a, void **keep) {
    void *buf = NULL;
    size_t len = 0;
    *keep = NULL;
    RS_TRY(rs_read_file(path, &buf, &len, RS_DATA_MAX_BYTES));
    rs_status st = rs_idx_parse(buf, len, path, a);
    if (st != RS_OK || a->owned) {
        rs_free(buf);
        if (st == RS_OK) {
            *keep = a->owned;
            a->owned = NULL;
        }
        return st;
    }
    *keep = buf;
    return RS_OK;
}

/* Class labels of one split as int32 (checked against the image count when n_images > 0). */
static rs_status read_labels(const char *dir, const char *prefix, int64_t n_images, const char *images_path,
                             int32_t **labels, int64_t *n, int32_t *max_label) {
    char path[4096];
    RS_TRY(find_idx_file(dir, prefix, "labels", 1, path, sizeof path));
    rs_idx a;
    void *keep = NULL;
    RS_TRY(read_idx(path, &a, &keep));
    rs_status st = RS_OK;
    if (a.ndim != 1)
        st = rs_error(RS_ERR_FORMAT, "%s: IDX labels must have 1 dimension, this file has %d", path, (int)a.ndim);
    else if (n_images > 0 && a.dims[0] != n_images)
        st = rs_error(RS_ERR_FORMAT, "%s has %lld images but %s has %lld labels", images_path, (long long)n_images,
                      path, (long long)a.dims[0]);
    if (st == RS_OK) {
        *labels = rs_alloc((size_t)a.dims[0] * sizeof(int32_t));
        if (!*labels) st = rs_error(RS_ERR_NOMEM, "cannot allocate the labels of %s", path);
    }
    if (st == RS_OK) {
        *max_label = 0;
        for (int64_t i = 0; i < a.dims[0]; i++) {
            (*labels)[i] = a.data[i];
            if (a.data[i] > *max_label) *max_label = a.data[i];
        }
        *n = a.dims[0];
    }
    rs_free(keep);
    return st;
}

static rs_status check_labels(const int32_t *labels, int64_t n, int32_t classes, const char *path) {
    for (int64_t i = 0; i < n; i++)
        if (labels[i] >= classes)
            return rs_error(RS_ERR_FORMAT, "%s: label %d of image %lld is outside 0..%d", path, (int)labels[i],
                            (long long)i, (int)classes - 1);
    return RS_OK;
}

/* The other split's image shape from the first 16 bytes of its file (gzip or plain: zlib reads both); nothing to
 * compare when it has no images file (opening that split says so). */
static rs_status check_other_split(const rs_dataset *ds, const char *dir, int split, const char *own_path) {
    const char *prefix = split == RS_SPLIT_TRAIN ? "t10k" : "train";
    char path[4096];
    if (find_idx_file(dir, prefix, "images", 3, path, sizeof path) != RS_OK) {
        rs_clear_error();
        return RS_OK;
    }
    gzFile g = gzopen(path, "rb");
    if (!g) return rs_error(RS_ERR_IO, "cannot open %s", path);
    uint8_t h[16];
    int got = gzread(g, h, sizeof h);
    gzclose(g);
    if (got != (int)sizeof h || h[0] || h[1] || h[2] != 0x08 || h[3] != 3)
        return rs_error(RS_ERR_FORMAT, "%s: not an IDX file of uint8 images (N, H, W)", path);
    uint32_t d[3];
    for (int k = 0; k < 3; k++)
        d[k] = (uint32_t)h[4 + 4 * k] << 24 | (uint32_t)h[5 + 4 * k] << 16 | (uint32_t)h[6 + 4 * k] << 8 | h[7 + 4 * k];
    if (d[1] > INT32_MAX || d[2] > INT32_MAX)
        return rs_error(RS_ERR_FORMAT, "%s: images of %u x %u pixels", path, (unsigned)d[1], (unsigned)d[2]);
    return rs_data_check_other_split(ds, own_path, path, 1, (int32_t)d[1], (int32_t)d[2]);
}

rs_status rs_idx_open(rs_dataset *ds, const char *kind, const char *dir, int split) {
    struct rs_dataset_priv *p = ds->priv;
    if (split == RS_SPLIT_VAL) return rs_error(RS_ERR_ARG, "%s: IDX datasets have only a train and a test split", kind);
    const char *prefix = split == RS_SPLIT_TRAIN ? "train" : "t10k";
    char ipath[4096], lpath[4096];
    RS_TRY(find_idx_file(dir, prefix, "images", 3, ipath, sizeof ipath));
    rs_idx a;
    RS_TRY(read_idx(ipath, &a, &p->owned));
    if (a.ndim != 3)
        return rs_error(RS_ERR_FORMAT, "%s: IDX images must have 3 dimensions (N, H, W), this file has %d", ipath,
                        (int)a.ndim);
    p->u8 = a.data;
    p->n_source = a.dims[0];
    ds->channels = 1;
    ds->height = (int32_t)a.dims[1];
    ds->width = (int32_t)a.dims[2];
    RS_TRY(check_other_split(ds, dir, split, ipath));
    int32_t max_label = 0;
    int64_t nl = 0;
    RS_TRY(find_idx_file(dir, prefix, "labels", 1, lpath, sizeof lpath));
    RS_TRY(read_labels(dir, prefix, p->n_source, ipath, &p->labels, &nl, &max_label));
    if (!strcmp(kind, "idx")) {
        /* the class count comes from the training labels, so that both splits agree */
        int32_t *train_labels = NULL, train_max = max_label;
        if (split != RS_SPLIT_TRAIN) {
            RS_TRY(read_labels(dir, "train", 0, NULL, &train_labels, &nl, &train_max));
            rs_free(train_labels);
        }
        ds->classes = train_max + 1;
    } else {
        ds->classes = 10;
    }
    RS_TRY(check_labels(p->labels, p->n_source, ds->classes, lpath));
    snprintf(p->describe, sizeof p->describe, "file       %s (%lld x %d x %d uint8)\nfile       %s (labels)\n", ipath,
             (long long)p->n_source, (int)ds->height, (int)ds->width, lpath);
    return RS_OK;
}
