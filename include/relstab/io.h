/* io.h: files in and out. safetensors (weights and checkpoints), NPY arrays, PNG images, and the net checkpoint
 * helpers built on safetensors. Every writer goes through rs_write_file_atomic (temporary file + rename for a
 * regular file, so a reader never sees a half-written one; write-through for a device or FIFO; "-" = stdout). Every reader validates what it reads and refuses a malformed file with a message naming the file and
 * the problem. */
#pragma once
#include "relstab/nn.h"
#include "relstab/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { RS_DTYPE_F32 = 0, RS_DTYPE_F64 = 1, RS_DTYPE_I64 = 2, RS_DTYPE_U8 = 3, RS_DTYPE_I32 = 4 } rs_dtype;
size_t rs_dtype_size(rs_dtype t);
const char *rs_dtype_name(rs_dtype t); /* safetensors spelling: "F32", "F64", "I64", "U8", "I32" */

/* ---------------------------------------------------------------- safetensors */
#define RS_ST_MAXDIM 8
typedef struct {
    char *name;
    rs_dtype dtype;
    int32_t ndim;
    int64_t shape[RS_ST_MAXDIM];
    const void *data; /* little-endian, row-major; points into the file buffer when read */
    size_t nbytes;
} rs_st_tensor;
typedef struct {
    rs_st_tensor *tensors;
    int32_t n_tensors;
    char **meta_keys, **meta_values; /* __metadata__ (string -> string) */
    int32_t n_meta;
    void *buffer; /* the whole file (owned) */
    size_t buffer_len;
} rs_safetensors;
/* Parses a safetensors image in memory (copies it). Accepts F32, F64, I64 (and U8, I32); rejects a header longer
 * than the file or than 100 MB, unknown dtypes, offsets outside the data section, overlapping or unordered
 * tensors, shapes whose byte size disagrees with the offsets, duplicate names. source names the file in errors. */
rs_status rs_safetensors_parse(const void *buf, size_t len, const char *source, rs_safetensors **out);
rs_status rs_safetensors_read(const char *path, rs_safetensors **out);
const rs_st_tensor *rs_safetensors_get(const rs_safetensors *st, const char *name);
const char *rs_safetensors_meta(const rs_safetensors *st, const char *key); /* NULL if absent */
void rs_safetensors_free(rs_safetensors *st);
/* Writes n tensors (in the given order) and n_meta key/value pairs atomically to path. */
rs_status rs_safetensors_write(const char *path, const rs_st_tensor *tensors, int32_t n, const char *const *keys,
                               const char *const *values, int32_t n_meta);

/* ---------------------------------------------------------------- net checkpoints */
/* Every parameter and buffer of the net under its PyTorch name (num_batches_tracked as I64), plus metadata. */
rs_status rs_net_save(const rs_net *net, const char *path, const char *const *keys, const char *const *values,
                      int32_t n_meta);
/* Loads every parameter of the net from a safetensors file: names and shapes must match exactly (F32 or F64 in the
 * file; a "module." prefix from DataParallel is stripped). A tensor missing from the file, an extra tensor or a
 * shape mismatch is an error naming the tensor. Optionally returns the file's metadata (free with
 * rs_safetensors_free). */
rs_status rs_net_load(rs_net *net, const char *path, rs_safetensors **meta_out);

/* ---------------------------------------------------------------- NPY (format version 1.0 - 3.0) */
typedef struct {
    rs_dtype dtype;   /* '<f4', '<f8', '<i8', '|u1', '<i4' accepted (and '<u1' spelling) */
    int32_t ndim;
    int64_t shape[RS_ST_MAXDIM];
    int32_t fortran_order; /* always rejected on read: 0 */
    void *data;       /* owned, row-major */
    size_t nbytes;
} rs_npy;
rs_status rs_npy_parse(const void *buf, size_t len, const char *source, rs_npy *out);
rs_status rs_npy_read(const char *path, rs_npy *out);
/* The header only (dtype, shape, nbytes checked against the file's size; data NULL): a cheap look at a big array. */
rs_status rs_npy_read_header(const char *path, rs_npy *out);
void rs_npy_free(rs_npy *a);
/* Writes a row-major array atomically. */
rs_status rs_npy_write(const char *path, rs_dtype dtype, int32_t ndim, const int64_t *shape, const void *data);

/* ---------------------------------------------------------------- PNG */
/* Writes an 8-bit image (channels 1 or 3, row-major HWC) atomically. */
rs_status rs_png_write(const char *path, int32_t w, int32_t h, int32_t channels, const uint8_t *pixels);
/* A grid of float images (rows x cols cells, each C x H x W NCHW, C in {1, 3}) scaled to 0..255 by [lo, hi]
 * (lo == hi: by each image's own min and max), with a 1-pixel white separator; cells are taken in row-major order. */
rs_status rs_png_write_grid(const char *path, const float *images, int32_t n, int32_t c, int32_t h, int32_t w,
                            int32_t rows, int32_t cols, float lo, float hi);

/* ---------------------------------------------------------------- CSV */
/* Splits a line in place into RFC 4180 fields (quoted fields may hold commas and doubled quotes), trimming blanks
 * and '\r' around unquoted fields. Returns the field count, or -1 (more than max_fields or an unclosed quote). */
int rs_csv_split(char *line, char **fields, int max_fields);

#ifdef __cplusplus
}
#endif
