/* gradcheck.h: the finite-difference gradient check shared by the tests/test_ops_grad_*.c programs (header-only,
 * static functions, so each test program stays one .c file plus testutil.c).
 *
 * An op's forward is wrapped as a function of its current inputs; the scalar under test is L = sum_i r_i out_i with
 * fixed random r, summed in double. The analytic gradient is the op's backward with d_out = r. Each checked
 * element x_j is moved to the float nearest x_j +- eps and the central difference uses the ACTUAL float step
 * (x_j + eps rounded minus x_j - eps rounded), so the rounding of the step itself adds no error.
 *
 * Criterion: ||numeric - analytic||_2 <= GC_TOL * max(||analytic||_2, ||numeric||_2), over the checked elements.
 * Why GC_TOL = 2e-3 (derived before running anything, never adjusted):
 *  - rounding: the forward runs in float32 (u = 2^-24 = 6e-8). Moving x_j changes only the outputs that read it;
 *    each carries a relative rounding error of at most ~m u (m = terms summed into it, m <= ~100 here). The two
 *    evaluations round independently, so L+ - L- is off by about u sqrt(A m) |r out| for A affected outputs; with
 *    A m <= ~5000 and |r out| ~ 3 that is 6e-8 * 70 * 3 = 1.3e-5, divided by the step 2 eps = 2e-2: 6e-4 absolute
 *    per component, against gradient components of order 1 to 10 -> relative 1e-4 to 6e-4 in the norm.
 *  - truncation: eps^2 |f'''| / 6 <= 1e-4 / 6 * O(1) ~ 2e-5 for the smooth ops (exp, sigmoid, BN's 1/sqrt);
 *    zero for the piecewise-linear ones away from kinks (the tests keep inputs >= 2 eps from every kink).
 *  So the expected error is a few 1e-4 at most; 2e-3 leaves a margin of ~5, while a gradient wrong by 1% (relative
 *  error 1e-2) is still rejected: test_gradcheck_detects_small_errors (test_ops_grad_conv.c) proves that. */
#pragma once
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/ops.h"
#include "testutil.h"

#define GC_TOL 2e-3
#define GC_EPS 1e-2
#define GC_MAX_POINTS 600 /* at most this many elements of one tensor are perturbed (evenly spaced) */

typedef struct {
    void (*forward)(void *ctx, float *out); /* recomputes out from the inputs ctx points at */
    void *ctx;
    const float *r; /* (n_out) the loss weights, also the d_out given to backward */
    float *out;     /* (n_out) scratch for the forward */
    int64_t n_out;
} gc_problem;

static inline double gc_dot(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

static inline double gc_loss(gc_problem *p) {
    p->forward(p->ctx, p->out);
    return gc_dot(p->r, p->out, p->n_out);
}

/* Relative error of `analytic` (the gradient of L with respect to x (n)) against central differences. x is
 * restored bit for bit. */
static inline double gc_check(gc_problem *p, float *x, int64_t n, const float *analytic, double eps,
                              const char *what) {
    const int64_t stride = n > GC_MAX_POINTS ? (n + GC_MAX_POINTS - 1) / GC_MAX_POINTS : 1;
    double diff2 = 0, ana2 = 0, num2 = 0, worst = 0;
    int64_t worst_at = -1;
    for (int64_t j = 0; j < n; j += stride) {
        const float x0 = x[j];
        const float xp = (float)((double)x0 + eps), xm = (float)((double)x0 - eps);
        x[j] = xp;
        const double lp = gc_loss(p);
        x[j] = xm;
        const double lm = gc_loss(p);
        x[j] = x0;
        const double num = (lp - lm) / ((double)xp - (double)xm);
        const double d = num - (double)analytic[j];
        diff2 += d * d;
        ana2 += (double)analytic[j] * analytic[j];
        num2 += num * num;
        if (fabs(d) > worst) worst = fabs(d), worst_at = j;
    }
    const double scale = sqrt(ana2 > num2 ? ana2 : num2);
    const double rel = scale > 0 ? sqrt(diff2) / scale : sqrt(diff2);
    if (rel > GC_TOL || getenv("GC_VERBOSE"))
        fprintf(stderr, "gradcheck %s: relative error %.3g (worst element %lld off by %.3g, |grad| %.3g)\n", what, rel,
                (long long)worst_at, worst, scale);
    return rel;
}

/* n floats uniform in [lo, hi), counter-based (stream), newly allocated. */
static inline float *gc_uniform(size_t n, uint64_t stream, float lo, float hi) {
    float *p = rs_alloc(n * sizeof(float) + 64);
    rs_fill_uniform(p, n, 777, stream, 0, lo, hi);
    return p;
}

/* n zeroed floats. */
static inline float *gc_zeros(size_t n) { return rs_calloc(n * sizeof(float) + 64); }

/* Keeps every element at least `gap` away from each kink in kinks[0..nk) by pushing it to kink +- gap. */
static inline void gc_avoid_kinks(float *x, size_t n, const float *kinks, int nk, float gap) {
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < nk; k++)
            if (fabsf(x[i] - kinks[k]) < gap) x[i] = x[i] < kinks[k] ? kinks[k] - gap : kinks[k] + gap;
}

/* Relative norm distance between `twice` (a gradient after two backward calls) and 2 * `once` (after one): 0 up to
 * rounding when backward accumulates, 1/2 when it overwrites. Ops that add term by term into the gradient round
 * differently on top of a non-zero start, by at most ~m u relative (m terms, u = 6e-8), hence GC_ACC_TOL = 1e-4. */
#define GC_ACC_TOL 1e-4
static inline double gc_doubling_error(const float *twice, const float *once, int64_t n) {
    double d2 = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
        const double d = (double)twice[i] - 2.0 * (double)once[i];
        d2 += d * d;
        s2 += 4.0 * (double)once[i] * once[i];
    }
    return s2 > 0 ? sqrt(d2 / s2) : sqrt(d2);
}
