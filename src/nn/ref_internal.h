/* ref_internal.h: what the plain-C op files of src/nn share (not onednn*.c): the threading threshold and the
 * register-blocked product kernel. Below RS_PAR_MIN_WORK units of work (about one multiply-add or one element
 * each), an op runs on one thread, since starting and joining an OpenMP team costs microseconds (much more when
 * the machine is oversubscribed). Whether an op runs threaded never changes its results: every op assigns each
 * output element to one thread and sums in a fixed order. */
#pragma once
#include <stdint.h>

#include "relstab/ops.h"

#define RS_PAR_MIN_WORK 32768

/* pool_2x2.c: plain-C max pooling for a 2x2 window, stride 2, no padding, which the fast path (onednn_pool.c)
 * takes instead of oneDNN's; bit-equal to the reference forward, argmax in its int32 format. */
int rs_maxpool2d_is_2x2(const rs_pool2d_dims *d);
void rs_maxpool2d_2x2_forward(float *out, void *saved, const float *in, const rs_pool2d_dims *d);

/* The inner block of the reference conv and linear products: acc (RS_KP, RS_KJ) += sum over t < nt of
 * a[p][t * lda] b[t * ldb + j], for j < nj (nj <= RS_KJ). Four rows of a at once reuse each loaded row of b four
 * times, and the block lives in fixed-size locals that the compiler keeps in vector registers (about 40 GFLOP/s on
 * one AVX-512 core). t runs in order, so the sums are deterministic. Callers pad a short block of rows by repeating
 * a valid row and ignore the extra results. */
#define RS_KP 4
#define RS_KJ 16
static inline void rs_ref_kernel(float *restrict acc, const float *const a[RS_KP], int64_t lda, const float *b,
                                 int64_t ldb, int32_t nt, int32_t nj) {
    float c0[RS_KJ], c1[RS_KJ], c2[RS_KJ], c3[RS_KJ];
    for (int j = 0; j < RS_KJ; j++)
        c0[j] = acc[j], c1[j] = acc[RS_KJ + j], c2[j] = acc[2 * RS_KJ + j], c3[j] = acc[3 * RS_KJ + j];
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3];
    if (nj == RS_KJ) {
        for (int32_t t = 0; t < nt; t++) {
            const float *bt = b + (size_t)t * ldb;
            const float x0 = a0[t * lda], x1 = a1[t * lda], x2 = a2[t * lda], x3 = a3[t * lda];
            for (int j = 0; j < RS_KJ; j++) {
                c0[j] += x0 * bt[j];
                c1[j] += x1 * bt[j];
                c2[j] += x2 * bt[j];
                c3[j] += x3 * bt[j];
            }
        }
    } else {
        for (int32_t t = 0; t < nt; t++) {
            const float *bt = b + (size_t)t * ldb;
            const float x0 = a0[t * lda], x1 = a1[t * lda], x2 = a2[t * lda], x3 = a3[t * lda];
            for (int j = 0; j < nj; j++) {
                c0[j] += x0 * bt[j];
                c1[j] += x1 * bt[j];
                c2[j] += x2 * bt[j];
                c3[j] += x3 * bt[j];
            }
        }
    }
    for (int j = 0; j < RS_KJ; j++)
        acc[j] = c0[j], acc[RS_KJ + j] = c1[j], acc[2 * RS_KJ + j] = c2[j], acc[3 * RS_KJ + j] = c3[j];
}
