/* loss.c: the training losses, each the mean over the batch, returning the loss and writing the gradient of the
 * mean loss: cross-entropy of logits against class labels (log-sum-exp in double) and the hinge loss of a single
 * output against +-1 targets. Not a general loss library (no weights, no label smoothing, no reductions other than
 * the mean). Labels outside [0, K) are a caller's bug (the data loaders check them) and abort. */
#include "relstab/ops.h"

#include <math.h>

/* logits (N, K), labels (N) -> mean of log(sum_j exp z_j) - z_label; d_logits (N, K) = (softmax - onehot) / N. */
double rs_cross_entropy(float *d_logits, const float *logits, const int32_t *labels, int64_t n, int64_t k,
                        int64_t *n_wrong) {
    double total = 0;
    int64_t wrong = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *z = logits + i * k; // (K)
        const int32_t y = labels[i];
        RS_ASSERT(y >= 0 && y < k);
        int64_t best = 0;
        for (int64_t j = 1; j < k; j++)
            if (z[j] > z[best]) best = j; // first maximum
        if (best != y) wrong++;
        const double zmax = z[best];
        double s = 0;
        for (int64_t j = 0; j < k; j++) s += exp((double)z[j] - zmax);
        const double lse = zmax + log(s);
        total += lse - (double)z[y];
        if (d_logits) {
            for (int64_t j = 0; j < k; j++) {
                const double p = exp((double)z[j] - lse);
                d_logits[i * k + j] = (float)((p - (j == y ? 1.0 : 0.0)) / (double)n);
            }
        }
    }
    if (n_wrong) *n_wrong = wrong;
    return n > 0 ? total / (double)n : 0.0;
}

/* out (N), targets (N) in {-1, +1} -> mean of max(0, 1 - y f); d_out = -y / N where 1 - y f > 0, else 0 (the
 * subgradient at the kink is 0, as torch.relu's backward). */
double rs_hinge(float *d_out, const float *out, const float *targets, int64_t n, int64_t *n_wrong) {
    double total = 0;
    int64_t wrong = 0;
    for (int64_t i = 0; i < n; i++) {
        const double yf = (double)targets[i] * (double)out[i];
        const double m = 1.0 - yf;
        if (yf <= 0) wrong++;
        total += m > 0 ? m : 0.0;
        if (d_out) d_out[i] = m > 0 ? (float)(-(double)targets[i] / (double)n) : 0.0f;
    }
    if (n_wrong) *n_wrong = wrong;
    return n > 0 ? total / (double)n : 0.0;
}
