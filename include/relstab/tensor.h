/* tensor.h: relstab's core. Status codes and error messages, the counter-based RNG, float tensors,
 * the arenas (bump allocators) and the scratch workspace, threads and timing.
 * It is not a general tensor library: no broadcasting, no autograd, no views beyond a shape over a pointer. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- status and errors */
typedef enum {
    RS_OK = 0,
    RS_ERR_ARG,         /* a bad argument or option: the caller can fix it */
    RS_ERR_IO,          /* a file could not be opened, read or written */
    RS_ERR_FORMAT,      /* a file was read but its content is malformed */
    RS_ERR_NOMEM,       /* an allocation failed or a size overflowed */
    RS_ERR_NUMERIC,     /* NaN, infinity, divergence */
    RS_ERR_UNSUPPORTED, /* a valid request this build or this op cannot do */
} rs_status;

/* Sets the thread-local error message (printf format) and returns code, so that `return rs_error(...)` reads well. */
rs_status rs_error(rs_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last message set on this thread ("" if none). */
const char *rs_last_error(void);
void rs_clear_error(void);
const char *rs_status_name(rs_status s);

/* Programmer errors: file:line and abort. Bad input never goes through RS_ASSERT. */
#define RS_ASSERT(cond)                                                                          \
    do {                                                                                         \
        if (!(cond)) rs_assert_fail(#cond, __FILE__, __LINE__);                                  \
    } while (0)
void rs_assert_fail(const char *what, const char *file, int line) __attribute__((noreturn));
#define RS_TRY(expr)                                                                             \
    do {                                                                                         \
        rs_status rs_try_status_ = (expr);                                                       \
        if (rs_try_status_ != RS_OK) return rs_try_status_;                                     \
    } while (0)

/* ---------------------------------------------------------------- memory */
/* 64-byte aligned allocations; abort on failure is never used: they return NULL. */
void *rs_alloc(size_t bytes);
void *rs_calloc(size_t bytes);
void rs_free(void *p);
/* a * b with overflow check: returns 0 on success, -1 on overflow. */
int rs_mul_size(size_t a, size_t b, size_t *out);

/* A bump allocator over one block. rs_arena_push returns 64-byte aligned, zeroed memory or NULL when full. */
typedef struct {
    char *base;
    size_t capacity; /* bytes */
    size_t used;     /* bytes */
} rs_arena;
rs_status rs_arena_init(rs_arena *a, size_t capacity_bytes);
void *rs_arena_push(rs_arena *a, size_t bytes);
void rs_arena_reset(rs_arena *a); /* keeps the block, forgets its contents */
void rs_arena_free(rs_arena *a);

/* Scratch space reused across calls (im2col, reorders). rs_workspace_get grows it when needed; the pointer is
 * valid until the next rs_workspace_get on the same workspace. Not thread-safe: one per thread of control. */
typedef struct {
    void *data;
    size_t size;
} rs_workspace;
void *rs_workspace_get(rs_workspace *ws, size_t bytes);
void rs_workspace_free(rs_workspace *ws);

/* ---------------------------------------------------------------- tensors */
#define RS_MAXDIM 5
typedef struct {
    int32_t ndim;
    int64_t shape[RS_MAXDIM];
    float *data; /* contiguous, row-major over shape */
} rs_tensor;
int64_t rs_numel(int32_t ndim, const int64_t *shape);
static inline int64_t rs_tensor_numel(const rs_tensor *t) { return rs_numel(t->ndim, t->shape); }
/* "3x32x32" style string of a shape, into buf. */
const char *rs_shape_str(char *buf, size_t len, int32_t ndim, const int64_t *shape);

/* Layout changes at the boundaries: NCHW <-> NHWC, for n images of c x h x w. */
void rs_nchw_to_nhwc(float *dst, const float *src, int64_t n, int64_t c, int64_t h, int64_t w);
void rs_nhwc_to_nchw(float *dst, const float *src, int64_t n, int64_t c, int64_t h, int64_t w);

/* ---------------------------------------------------------------- counter-based RNG (Philox4x32-10) */
/* Every random number is a pure function of (seed, stream, index): no state, no dependence on the thread count,
 * the batch size or the order of calls. Streams separate purposes; rs_stream builds one from a purpose and two
 * sub-ids (e.g. a parameter index and an epoch), so that no two uses of the RNG ever share a stream. */
typedef enum {
    RS_PURPOSE_TEST = 0,
    RS_PURPOSE_INIT = 1,      /* weight initialisation: sub-id a = parameter index */
    RS_PURPOSE_ORDER = 2,     /* data order: a = epoch */
    RS_PURPOSE_AUGMENT = 3,   /* crops and flips: a = epoch */
    RS_PURPOSE_DROPOUT = 4,   /* a = node, b = step */
    RS_PURPOSE_CORRUPT = 5,   /* Gaussian corruption of data: a = epoch or load counter */
    RS_PURPOSE_SUBSET = 6,    /* training subset (ptr) and probe-set sampling */
    RS_PURPOSE_SPLIT = 7,     /* task split shuffles */
    RS_PURPOSE_DIFFEO = 8,    /* a = repeat */
    RS_PURPOSE_NOISE = 9,     /* a = repeat */
    RS_PURPOSE_SHUFFLE = 10,  /* channel shuffling: a = parameter index */
    RS_PURPOSE_TRANSLATE = 11,/* local translations of the scale-detection tasks */
    RS_PURPOSE_THEORY = 12,   /* theory noise draws */
    RS_PURPOSE_TASK = 13,     /* task background noise */
} rs_purpose;
static inline uint64_t rs_stream(rs_purpose purpose, uint32_t a, uint32_t b) {
    return ((uint64_t)purpose << 56) ^ ((uint64_t)(a & 0xffffffu) << 32) ^ (uint64_t)b;
}
/* The raw block: 4 x 32 random bits for counter (index, stream) under key seed. */
void rs_philox(uint64_t seed, uint64_t stream, uint64_t index, uint32_t out[4]);
/* Uniform in (0, 1), 53 random bits: number `index` of the stream. */
double rs_uniform(uint64_t seed, uint64_t stream, uint64_t index);
/* Standard normal: Box-Muller over block index/2; even indices take the cosine, odd the sine. */
double rs_normal(uint64_t seed, uint64_t stream, uint64_t index);
/* out[i] = rs_normal(seed, stream, start + i) for i < n, bit for bit, but each Philox block, logarithm and square
 * root serves both normals of a pair (about half the work of n calls). One thread. */
void rs_normals(double *out, size_t n, uint64_t seed, uint64_t stream, uint64_t start);
/* out[i] = mean + std * rs_normal(seed, stream, start + i) (and likewise uniform in [lo, hi)). Multi-threaded,
 * the same numbers whatever the thread count. */
void rs_fill_normal(float *out, size_t n, uint64_t seed, uint64_t stream, uint64_t start, float mean, float std);
void rs_fill_uniform(float *out, size_t n, uint64_t seed, uint64_t stream, uint64_t start, float lo, float hi);
/* A uniform integer in [0, n) (n > 0), unbiased by rejection on successive indices starting at *index. */
uint64_t rs_randint(uint64_t seed, uint64_t stream, uint64_t *index, uint64_t n);
/* Fisher-Yates permutation of 0..n-1 from (seed, stream). */
void rs_permutation(int64_t *perm, int64_t n, uint64_t seed, uint64_t stream);

/* ---------------------------------------------------------------- threads and time */
/* Sets the number of threads for relstab and oneDNN (OpenMP); n <= 0 means the default: every core this process
 * may run on (rs_threads_available) less the cores other processes keep busy (rs_threads_busy); a larger n is
 * capped at rs_threads_available. Returns the number used. */
int rs_set_threads(int n);
int rs_get_threads(void);
/* The cores this process may run on (sched_getaffinity). */
int rs_threads_available(void);
/* The cores other processes keep busy, decided once per process (the first call; rs_set_threads(0) makes it):
 * the fewest runnable threads of other processes over three looks at /proc/loadavg 1 ms apart, at most
 * rs_threads_available() - 1. 0 when the affinity mask is narrower than the machine (a cpuset is taken as given),
 * on one core, or without /proc. */
int rs_threads_busy(void);
/* "N threads", or "N threads (B of M cores busy with other processes)" when the last rs_set_threads took the
 * default and left busy cores out. */
const char *rs_threads_describe(char *buf, size_t size);
/* Called first by a program's main: unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set, re-executes the program
 * (same argv, same pid) with OMP_WAIT_POLICY=passive, so that idle OpenMP threads sleep instead of spinning.
 * Returns only when no re-execution happened (already set, or exec failed). */
void rs_threads_startup(char **argv);
/* > 0: the thread count rs_set_threads(0) means (set by rs_dist_init: the cores divided by the ranks on this
 * machine); 0: the default above. */
extern int rs_threads_default;
double rs_now(void); /* seconds, monotonic */

/* ---------------------------------------------------------------- files */
/* Writes len bytes to path: the one output-file writer of relstab. A regular file (or a missing one) is replaced
 * atomically: written to "path.tmp.PID", fsync'ed, renamed, so nothing half-written is ever visible; a symbolic link
 * is followed (its target replaced, the link kept). An existing file that is not a regular file (a device, a FIFO)
 * is written through, never replaced. "-", /dev/stdout, /dev/stderr and /dev/fd/N write to that descriptor. */
rs_status rs_write_file_atomic(const char *path, const void *data, size_t len);
/* DIR/NAME into buf without doubling a slash ("out/" + "a" = "out/a"); RS_ERR_ARG if it does not fit. */
rs_status rs_path_join(char *buf, size_t cap, const char *dir, const char *name);
/* Reads a whole file into a new buffer (rs_free it). max_bytes guards against absurd sizes (0 = no limit). */
rs_status rs_read_file(const char *path, void **data, size_t *len, size_t max_bytes);
/* mkdir -p */
rs_status rs_mkdir_p(const char *path);

#ifdef __cplusplus
}
#endif
