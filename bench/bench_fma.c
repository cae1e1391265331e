/* bench_fma.c: the FMA ceiling of one core and how close the 3x3 convolutions come to it.
 * The probe runs 12 independent chains of vector fused multiply-adds (AVX-512 when the build targets it, else AVX2
 * + FMA): enough to cover the FMA latency on two pipes, so it runs at the core's peak: FLOPs = 2 x lanes x FMAs.
 * Then the 3x3, stride-1, padding-1 convolutions of VGG at batch B (64 to 512 channels at 32 to 4 pixels, as in a
 * CIFAR VGG, and VGG's last block at 2 pixels) through relstab's fast path: forward (direct and Winograd) and
 * backward (data + weights), each as a percentage of the ceiling times the thread count, with the name of the
 * kernel each ran. Every time is CPU time of the process (all threads), the best of
 * R runs, so that other work on a shared machine inflates it far less than wall time (it still costs cache and
 * memory bandwidth). Winograd does fewer products than 2 x MACs: its "GFLOP/s" counts the direct algorithm's FLOPs
 * (the work done for the user), so it can exceed the ceiling. A benchmark, not a test.
 *
 * --kernel onednn times the path before the small-map rule (oneDNN's first choice, its backward primitives).
 *
 * usage: bench_fma [--threads N] [--batch B] [--repeat R] [--kernel rule|onednn] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relstab/ops.h"

#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#endif

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* GFLOP/s of one thread running FMAs only; *isa names the vectors used. */
static double fma_ceiling(const char **isa) {
    const long iters = 20000000;
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        float out = 0;
        double t0 = cpu_now(), flops;
#if defined(__AVX512F__)
        *isa = "avx512 (16 lanes)";
        const __m512 m = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
        __m512 a0 = _mm512_set1_ps(0), a1 = _mm512_set1_ps(1), a2 = _mm512_set1_ps(2), a3 = _mm512_set1_ps(3);
        __m512 a4 = _mm512_set1_ps(4), a5 = _mm512_set1_ps(5), a6 = _mm512_set1_ps(6), a7 = _mm512_set1_ps(7);
        __m512 a8 = _mm512_set1_ps(8), a9 = _mm512_set1_ps(9), a10 = _mm512_set1_ps(10), a11 = _mm512_set1_ps(11);
        for (long i = 0; i < iters; i++) {
            a0 = _mm512_fmadd_ps(a0, m, b), a1 = _mm512_fmadd_ps(a1, m, b), a2 = _mm512_fmadd_ps(a2, m, b);
            a3 = _mm512_fmadd_ps(a3, m, b), a4 = _mm512_fmadd_ps(a4, m, b), a5 = _mm512_fmadd_ps(a5, m, b);
            a6 = _mm512_fmadd_ps(a6, m, b), a7 = _mm512_fmadd_ps(a7, m, b), a8 = _mm512_fmadd_ps(a8, m, b);
            a9 = _mm512_fmadd_ps(a9, m, b), a10 = _mm512_fmadd_ps(a10, m, b), a11 = _mm512_fmadd_ps(a11, m, b);
        }
        __m512 s0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                  _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
        out = _mm512_reduce_add_ps(_mm512_add_ps(s0, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11))));
        flops = 2.0 * 16 * 12 * (double)iters;
#elif defined(__FMA__)
        *isa = "avx2 (8 lanes)";
        __m256 a[12], m = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
        for (int k = 0; k < 12; k++) a[k] = _mm256_set1_ps((float)k);
        for (long i = 0; i < iters; i++)
            for (int k = 0; k < 12; k++) a[k] = _mm256_fmadd_ps(a[k], m, b);
        float lanes[8];
        for (int k = 0; k < 12; k++) {
            _mm256_storeu_ps(lanes, a[k]);
            for (int l = 0; l < 8; l++) out += lanes[l];
        }
        flops = 2.0 * 8 * 12 * (double)iters;
#else
        *isa = "none (built without FMA vectors)";
        (void)iters;
        return 0;
#endif
        double dt = cpu_now() - t0, g = flops / dt * 1e-9;
        if (out == 12345.0f) printf("#\n"); /* keeps the chains live */
        if (g > best) best = g;
    }
    return best;
}

typedef struct {
    const char *name;
    int32_t c, hw;
} layer;

int main(int argc, char **argv) {
    rs_threads_startup(argv);
    int threads = 1, batch = 32, repeat = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--kernel") && i + 1 < argc && (!strcmp(argv[i + 1], "rule") ||
                                                                 !strcmp(argv[i + 1], "onednn")))
            rs_set_conv_kernel(!strcmp(argv[++i], "rule") ? RS_CONV_KERNEL_RULE : RS_CONV_KERNEL_ONEDNN);
        else {
            fprintf(stderr, "usage: bench_fma [--threads N] [--batch B] [--repeat R] [--kernel rule|onednn]\n");
            return 2;
        }
    }
    if (batch <= 0 || repeat <= 0) {
        fprintf(stderr, "bench_fma: --batch and --repeat must be positive\n");
        return 2;
    }
    const char *isa = "";
    double peak = fma_ceiling(&isa);
    threads = rs_set_threads(threads);
    char fast[128];
    rs_backend_describe(fast, sizeof fast);
    printf("# bench_fma: FMA ceiling %.1f GFLOP/s per core (%s, CPU time); fast path %s; %d threads, batch %d, "
           "kernels %s\n", peak, isa, fast, threads, batch,
           rs_get_conv_kernel() == RS_CONV_KERNEL_ONEDNN ? "oneDNN's choice" : "small-map rule");
    printf("# %-22s %-10s %10s %10s %8s  %s\n", "conv 3x3", "pass", "cpu_ms", "GFLOP/s", "%peak", "kernel");
    static const layer layers[] = {{"conv3x3_64ch_32px", 64, 32}, {"conv3x3_128ch_16px", 128, 16},
                                   {"conv3x3_256ch_8px", 256, 8}, {"conv3x3_512ch_4px", 512, 4},
                                   {"conv3x3_512ch_2px", 512, 2}};
    rs_workspace ws = {0};
    for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++) {
        rs_conv2d_dims d = {.n = batch, .h_in = layers[l].hw, .w_in = layers[l].hw, .c_in = layers[l].c,
                            .c_out = layers[l].c, .kh = 3, .kw = 3, .stride_h = 1, .stride_w = 1, .pad_top = 1,
                            .pad_bottom = 1, .pad_left = 1, .pad_right = 1, .groups = 1};
        if (rs_conv2d_dims_finish(&d) != RS_OK) return 1;
        size_t nx = (size_t)d.n * d.h_in * d.w_in * d.c_in, nw = (size_t)d.c_out * d.c_in * 9;
        float *x = rs_alloc(nx * 4), *y = rs_alloc(nx * 4), *w = rs_alloc(nw * 4), *b = rs_alloc((size_t)d.c_out * 4);
        float *dx = rs_alloc(nx * 4), *dw = rs_alloc(nw * 4), *db = rs_alloc((size_t)d.c_out * 4);
        if (!x || !y || !w || !b || !dx || !dw || !db) {
            fprintf(stderr, "bench_fma: out of memory\n");
            return 1;
        }
        rs_fill_normal(x, nx, 1, 1, 0, 0.0f, 1.0f);
        rs_fill_normal(w, nw, 1, 2, 0, 0.0f, 0.05f);
        rs_fill_normal(y, nx, 1, 3, 0, 0.0f, 1.0f); /* also the output gradient */
        memset(b, 0, (size_t)d.c_out * 4);
        const double flops = 2.0 * d.n * d.h_out * d.w_out * (double)d.c_out * d.c_in * 9;
        const char *pass[3] = {"fwd direct", "fwd wino", "bwd"};
        for (int p = 0; p < 3; p++) {
            rs_set_conv_algo(p == 1 ? RS_CONV_ALGO_WINOGRAD : RS_CONV_ALGO_DIRECT);
            double best = 1e30;
            for (int r = 0; r <= repeat; r++) { /* the first run creates the primitive: not timed */
                double t0 = cpu_now();
                if (p < 2) rs_conv2d_forward_fast(y, x, w, b, &d, &ws);
                else rs_conv2d_backward_fast(dx, dw, db, y, x, w, &d, &ws);
                double dt = cpu_now() - t0;
                if (r > 0 && dt < best) best = dt;
            }
            double f = p == 2 ? 2 * flops : flops, g = f / best * 1e-9;
            char kernel[64] = "";
            if (p < 2) rs_conv2d_fast_kernel(kernel, sizeof kernel, &d, 1);
            else rs_conv2d_fast_backward_kernel(kernel, sizeof kernel, &d);
            printf("%-24s %-10s %10.2f %10.1f %7.0f%%  %s\n", layers[l].name, pass[p], best * 1e3, g,
                   peak > 0 ? 100.0 * g / (peak * threads) : 0.0, kernel);
        }
        rs_free(x), rs_free(y), rs_free(w), rs_free(b), rs_free(dx), rs_free(dw), rs_free(db);
    }
    rs_set_conv_algo(RS_CONV_ALGO_DIRECT);
    rs_workspace_free(&ws);
    return 0;
}
