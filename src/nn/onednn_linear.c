/* onednn_linear.c: the fast path of the fully-connected layer: the forward through a cached oneDNN matmul
 * primitive, the backward through oneDNN's row-major SGEMM (dnnl_sgemm).
 *
 * Backward: SGEMM's beta argument accumulates into the gradients (backward ACCUMULATES) with no scratch copy, and
 * it takes PyTorch's (out, in) weight as the transposed operand with no reorder. The bias gradient is a column sum
 * in double. Forward: a matmul primitive (the weight read in place through strides, the bias added by the
 * primitive), because the first dnnl_sgemm call of a process generates its JIT kernels for about 45 ms (measured:
 * 43 ms for 297 x 400 x 120, against 3 ms to create a matmul primitive and 4 ms for its first run), which was half
 * of a LeNet measurement at P = 500; a forward-only process (measure, forward, spectrum) never pays it now.
 * Not here: the reference path and the dispatcher (linear.c). */
#ifdef RELSTAB_HAVE_ONEDNN
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "nn/onednn_internal.h"
#include "relstab/ops.h"

/* GEMMs below this many multiply-adds run on one thread: oneDNN would split even a tiny one, and waking the other
 * threads then costs more than the product (bench_ops, 128 x 512 x 10: 0.03 ms on one thread, 0.35 ms on two). */
#define LIN_SERIAL_MACS (1 << 20)

/* Drops to one thread for a product of fewer than LIN_SERIAL_MACS multiply-adds: returns the thread count to
 * restore with serial_end, or 0 when nothing changed. */
static int serial_begin(double macs) {
    const int threads = omp_get_max_threads();
    if (threads <= 1 || macs >= LIN_SERIAL_MACS) return 0;
    omp_set_num_threads(1);
    return threads;
}
static void serial_end(int threads) {
    if (threads) omp_set_num_threads(threads);
}

/* Row-major C (m, n) = op(A) op(B) + beta C through dnnl_sgemm, on one thread when small. */
static void sgemm(char ta, char tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                  int64_t ldb, float beta, float *c, int64_t ldc) {
    const int restore = serial_begin((double)m * n * k);
    RS_DNNL_CHECK(dnnl_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc));
    serial_end(restore);
}

typedef struct {
    int64_t n, k, o;
    int32_t bias, serial;
} mm_key;

typedef struct {
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, bias, dst;
} mm_entry;

static void mm_destroy(void *v) {
    mm_entry *e = v;
    rs_dnnl_destroy_primitive(e->prim);
    rs_dnnl_destroy_memory(e->src);
    rs_dnnl_destroy_memory(e->wei);
    rs_dnnl_destroy_memory(e->bias);
    rs_dnnl_destroy_memory(e->dst);
    free(e);
}
static rs_dnnl_cache g_mm_cache = {.destroy = mm_destroy};

/* The matmul primitive of out (n, o) = in (n, k) W^T (+ bias): W (o, k) row-major is the (k, o) operand with
 * strides (1, k). Created (and later run) on one thread when serial. */
static mm_entry *mm_get(int64_t n, int64_t k, int64_t o, int bias, int serial) {
    mm_key key;
    memset(&key, 0, sizeof key);
    key.n = n, key.k = k, key.o = o, key.bias = bias, key.serial = serial;
    mm_entry *e = rs_dnnl_cache_find(&g_mm_cache, &key, sizeof key);
    if (e) return e;
    e = calloc(1, sizeof *e);
    RS_ASSERT(e != NULL);
    dnnl_memory_desc_t src, wei, bmd, dst;
    dnnl_dims_t ds = {n, k}, dw = {k, o}, sw = {1, k}, db = {1, o}, dd = {n, o};
    rs_dnnl_md(&src, 2, ds, dnnl_ab);
    RS_DNNL_CHECK(dnnl_memory_desc_init_by_strides(&wei, 2, dw, dnnl_f32, sw));
    rs_dnnl_md(&bmd, 2, db, dnnl_ab);
    rs_dnnl_md(&dst, 2, dd, dnnl_ab);
    dnnl_matmul_desc_t md;
    RS_DNNL_CHECK(dnnl_matmul_desc_init(&md, &src, &wei, bias ? &bmd : NULL, &dst));
    dnnl_primitive_desc_t pd;
    RS_DNNL_CHECK(dnnl_primitive_desc_create(&pd, &md, NULL, rs_dnnl_engine(), NULL));
    e->prim = rs_dnnl_primitive(pd);
    RS_DNNL_CHECK(dnnl_primitive_desc_destroy(pd));
    e->src = rs_dnnl_memory(&src);
    e->wei = rs_dnnl_memory(&wei);
    e->bias = bias ? rs_dnnl_memory(&bmd) : NULL;
    e->dst = rs_dnnl_memory(&dst);
    rs_dnnl_cache_put(&g_mm_cache, &key, sizeof key, e);
    return e;
}

/* out (N, O) = in (N, K) weight^T (K, O) + bias (O). */
void rs_linear_forward_fast(float *out, const float *in, const float *weight, const float *bias, int64_t n,
                            int64_t k, int64_t o) {
    if (n == 0 || o == 0) return;
    if (k == 0) { /* no products: the bias alone (oneDNN refuses an empty reduction) */
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < o; j++) out[i * o + j] = bias ? bias[j] : 0.0f;
        return;
    }
    const int restore = serial_begin((double)n * o * k);
    mm_entry *e = mm_get(n, k, o, bias != NULL, restore != 0);
    rs_dnnl_bind(e->src, in);
    rs_dnnl_bind(e->wei, weight);
    rs_dnnl_bind(e->dst, out);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, e->src}, {DNNL_ARG_WEIGHTS, e->wei}, {DNNL_ARG_DST, e->dst},
                               {DNNL_ARG_BIAS, e->bias}};
    if (bias) rs_dnnl_bind(e->bias, bias);
    rs_dnnl_run(e->prim, bias ? 4 : 3, args);
    serial_end(restore);
}

/* d_in (N, K) += d_out (N, O) weight (O, K); d_weight (O, K) += d_out^T in; d_bias (O) += column sums of d_out. */
void rs_linear_backward_fast(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                             const float *weight, int64_t n, int64_t k, int64_t o) {
    if (n == 0) return;
    if (d_in && k > 0 && o > 0) sgemm('N', 'N', n, k, o, d_out, o, weight, k, 1.0f, d_in, k);
    if (d_weight && k > 0 && o > 0) sgemm('T', 'N', o, k, n, d_out, o, in, k, 1.0f, d_weight, k);
    if (d_bias) rs_dnnl_colsum_add(d_bias, d_out, n, o);
}
#else
typedef int rs_onednn_linear_empty; /* this build has no oneDNN: onednn.c maps the fast path to the reference */
#endif
