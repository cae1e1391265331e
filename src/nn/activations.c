/* activations.c: elementwise activations (ReLU, SiLU/swish, sigmoid), forward and backward, over n floats.
 * One plain-C version each (OpenMP over elements); there is no separate fast path. NaN inputs propagate. */
#include "relstab/ops.h"
#include "nn/ref_internal.h"

#include <math.h>

void rs_relu_forward(float *out, const float *in, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= RS_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) out[i] = in[i] < 0.0f ? 0.0f : in[i]; // NaN stays NaN
}

/* The derivative is taken as 1 where in > 0, else 0 (as PyTorch). `in` may be the output instead: it is > 0 exactly
 * where the input is (NaN and -0 included), which lets the net free a ReLU's input during a training step. */
void rs_relu_backward(float *d_in, const float *d_out, const float *in, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= RS_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) d_in[i] += in[i] > 0.0f ? d_out[i] : 0.0f;
}

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

void rs_silu_forward(float *out, const float *in, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= RS_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) out[i] = in[i] * sigmoidf(in[i]);
}

/* d/dx x s(x) = s (1 + x (1 - s)). */
void rs_silu_backward(float *d_in, const float *d_out, const float *in, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= RS_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) {
        const float s = sigmoidf(in[i]);
        d_in[i] += d_out[i] * s * (1.0f + in[i] * (1.0f - s));
    }
}

void rs_sigmoid_forward(float *out, const float *in, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= RS_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) out[i] = sigmoidf(in[i]);
}

/* From the output y = s(x): dy/dx = y (1 - y). */
void rs_sigmoid_backward(float *d_in, const float *d_out, const float *out, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= RS_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) d_in[i] += d_out[i] * out[i] * (1.0f - out[i]);
}
