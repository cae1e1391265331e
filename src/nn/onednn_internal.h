/* onednn_internal.h: what the oneDNN fast-path files (src/nn/onednn_*.c) share: the engine and stream, an
 * error check that aborts, a small cache of primitives keyed by op dims, scratch buffers, and a few loops.
 * Private to src/nn; only included when the build has oneDNN (RELSTAB_HAVE_ONEDNN). Not a general wrapper of
 * oneDNN: just enough for the ops in ops.h. */
#pragma once
#ifdef RELSTAB_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>

#include "relstab/ops.h"
#include "relstab/tensor.h"

/* oneDNN failures here are programmer errors (the dims were validated before): file:line, call, status, abort. */
#define RS_DNNL_CHECK(call)                                                                      \
    do {                                                                                         \
        dnnl_status_t rs_dnnl_st_ = (call);                                                      \
        if (rs_dnnl_st_ != dnnl_success) rs_dnnl_fail(#call, rs_dnnl_st_, __FILE__, __LINE__);  \
    } while (0)
void rs_dnnl_fail(const char *call, dnnl_status_t st, const char *file, int line) __attribute__((noreturn));

/* The one CPU engine and its one in-order stream, created on first use. */
dnnl_engine_t rs_dnnl_engine(void);
dnnl_stream_t rs_dnnl_stream(void);

/* A fixed-size table of (key bytes -> value), linear search, least-recently-used eviction. 256 slots hold every
 * layer of the largest zoo net (EfficientNet-B0 has 81 convolutions) at two or three batch sizes (training, the
 * last partial batch, measurement) without thrashing. Keys are small structs compared with memcmp, so callers
 * memset them to zero before filling (padding bytes). Values are owned by the cache and released with `destroy`
 * on eviction. A primitive is only reused under the thread count it was created with (oneDNN's OpenMP kernels
 * partition their work, and their reductions, for that count): the count is part of the match. Not thread-safe: ops are called from one thread of control (the OpenMP parallelism is inside each
 * op), so a plain static table per op family is enough. */
#define RS_DNNL_CACHE_SLOTS 256
#define RS_DNNL_KEY_MAX 96
typedef struct {
    unsigned char key[RS_DNNL_KEY_MAX];
    size_t key_len; /* 0: empty slot */
    int32_t threads; /* omp_get_max_threads() when the primitive was created */
    uint64_t last_use;
    void *value;
} rs_dnnl_cache_slot;
typedef struct {
    rs_dnnl_cache_slot slots[RS_DNNL_CACHE_SLOTS];
    uint64_t tick;
    void (*destroy)(void *value);
} rs_dnnl_cache;
void *rs_dnnl_cache_find(rs_dnnl_cache *c, const void *key, size_t key_len);
void rs_dnnl_cache_put(rs_dnnl_cache *c, const void *key, size_t key_len, void *value);

/* Memory objects without a buffer (the handle is set at each call) and the small helpers around them. */
dnnl_memory_t rs_dnnl_memory(const dnnl_memory_desc_t *md);
void rs_dnnl_bind(dnnl_memory_t m, const void *data); /* casts away const: oneDNN only reads sources */
void rs_dnnl_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims, dnnl_format_tag_t tag);
dnnl_primitive_t rs_dnnl_primitive(const_dnnl_primitive_desc_t pd);
const dnnl_memory_desc_t *rs_dnnl_query_md(const_dnnl_primitive_desc_t pd, dnnl_query_t what);
/* Runs a primitive on the stream and waits. */
void rs_dnnl_run(dnnl_primitive_t p, int nargs, const dnnl_exec_arg_t *args);
/* A reorder src -> dst; with accumulate the reorder adds into dst (a sum post-op: dst = src + dst). */
dnnl_primitive_t rs_dnnl_reorder(const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst, int accumulate);
void rs_dnnl_destroy_primitive(dnnl_primitive_t p); /* NULL-safe */
void rs_dnnl_destroy_memory(dnnl_memory_t m);       /* NULL-safe */

/* Scratch for ops without an rs_workspace argument: `slot` (0..3) selects an independent buffer that grows as
 * needed and lives until exit. Same single-thread-of-control rule as the cache. */
void *rs_dnnl_scratch(int slot, size_t bytes);
/* Carves consecutive 64-byte aligned pieces out of one block: returns base + *offset and advances *offset. With
 * base == NULL it only counts (to size the block first). */
void *rs_dnnl_carve(void *base, size_t *offset, size_t bytes);

/* Loops over fewer elements than this run on one thread, outside OpenMP altogether (an `if` clause still
 * enters the runtime, which may wait for the idle workers): starting a parallel region costs microseconds on
 * an idle machine and up to a scheduler tick (4 ms) when the other cores are busy. */
#define RS_DNNL_PAR_MIN 65536
/* The Winograd forward of onednn_wino.c: runs it and returns 1 when the policy and d's shape call for it, else
 * returns 0 without touching out (the direct path then runs). ws holds its blocked copies. */
int rs_dnnl_conv_wino_forward(float *out, const float *in, const float *weight, const float *bias,
                              const rs_conv2d_dims *d, rs_workspace *ws);
/* 1 when rs_dnnl_conv_wino_forward would run Winograd for d (creates its primitive if needed). */
int rs_dnnl_conv_wino_taken(const rs_conv2d_dims *d, int with_bias);
/* The small-map rule of onednn_conv.c: 3x3, stride 1, one group, >= 128 channels in and out, <= 16 output pixels
 * per image (the forward avoids brgconv there, the backward runs as GEMMs). */
int rs_dnnl_conv_small_map(const rs_conv2d_dims *d);
/* onednn_gemmconv.c: whether the backward of d runs as im2col GEMMs (the rule, or forced), and that backward
 * (accumulating, like rs_conv2d_backward_fast). */
int rs_dnnl_conv_gemm_taken(const rs_conv2d_dims *d);
void rs_dnnl_conv_gemm_backward(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                                const float *weight, const rs_conv2d_dims *d, rs_workspace *ws);
/* dst[i] += src[i] for n floats (OpenMP). */
void rs_dnnl_add(float *dst, const float *src, int64_t n);
/* sums (C) += the column sums of m (rows, C), each summed in double in row order (a bias gradient). */
void rs_dnnl_colsum_add(float *sums, const float *m, int64_t rows, int64_t c);
#endif
