/* onednn_linear.c: the fast path of the fully-connected layer through oneDNN's row-major SGEMM (dnnl_sgemm).
 *
 * SGEMM rather than a matmul or inner-product primitive: its beta argument accumulates into the gradients
 * (backward ACCUMULATES) with no scratch copy, it takes PyTorch's (out, in) weight as the transposed operand with
 * no reorder, and there is no primitive to create or cache. The bias gradient is a column sum in double.
 * Not here: the reference path and the dispatcher (linear.c). */
#ifdef RELSTAB_HAVE_ONEDNN
#include <omp.h>
#include <string.h>

#include "nn/onednn_internal.h"
#include "relstab/ops.h"

/* GEMMs below this many multiply-adds run on one thread: oneDNN would split even a tiny one, and waking the other
 * threads then costs more than the product (bench_ops, 128 x 512 x 10: 0.03 ms on one thread, 0.35 ms on two). */
#define LIN_SERIAL_MACS (1 << 20)

/* Row-major C (m, n) = op(A) op(B) + beta C through dnnl_sgemm, on one thread when small. */
static void sgemm(char ta, char tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                  int64_t ldb, float beta, float *c, int64_t ldc) {
    const int threads = omp_get_max_threads(), serial = threads > 1 && (double)m * n * k < LIN_SERIAL_MACS;
    if (serial) omp_set_num_threads(1);
    RS_DNNL_CHECK(dnnl_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc));
    if (serial) omp_set_num_threads(threads);
}

/* out (N, O) = in (N, K) weight^T (K, O) + bias (O). */
void rs_linear_forward_fast(float *out, const float *in, const float *weight, const float *bias, int64_t n,
                            int64_t k, int64_t o) {
    if (n == 0 || o == 0) return;
    if (bias && n * o < RS_DNNL_PAR_MIN) {
        for (int64_t i = 0; i < n; i++) memcpy(out + i * o, bias, (size_t)o * sizeof(float));
    } else if (bias) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) memcpy(out + i * o, bias, (size_t)o * sizeof(float));
    }
    sgemm('N', 'T', n, o, k, in, k, weight, k, bias ? 1.0f : 0.0f, out, o);
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
