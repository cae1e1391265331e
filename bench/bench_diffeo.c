/* bench_diffeo.c: time the deformation of many images through the library as measure does it: rs_diffeo_batch
 * (a max-entropy field per image from its Philox coefficients, cutoff c, temperature T(delta), then the bilinear
 * remap of its channels), over N random images of C x S x S in batches of 1000. Prints one line per shape: the
 * fastest of --repeat runs in milliseconds (wall and process CPU) and images per second. bench/bench_models.sh
 * lays these lines next to bench/torch_models.py diffeo's. --reference times the plain-C reference twin of the
 * same function instead (the loops before the fast path; the same output bits), to show the fast path's gain in
 * one run. A benchmark, not a test: no result is checked here.
 *
 * usage: bench_diffeo [--threads N] [--n N] [--cut C] [--delta D] [--repeat R] [--reference] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "perturb/perturb_internal.h"
#include "relstab/perturb.h"
#include "relstab/tensor.h"

static double now(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int die(const char *what) {
    fprintf(stderr, "bench_diffeo: %s: %s\n", what, rs_last_error());
    return 1;
}

/* n images of c x s x s deformed once, batch by batch: best wall and CPU seconds over `repeat` runs. */
static int run_shape(int64_t n, int32_t c, int32_t s, int32_t cut, double delta, int repeat, int reference,
                     double *wall, double *cpu) {
    const int64_t B = 1000;
    rs_diffeo_plan plan;
    double T;
    if (rs_diffeo_T_of_delta(delta, s, cut, &T) || rs_diffeo_plan_init(&plan, s, s, cut)) return die("plan");
    int64_t d = (int64_t)c * s * s;
    float *in = rs_alloc((size_t)(B * d) * sizeof(float)), *out = rs_alloc((size_t)(B * d) * sizeof(float));
    int64_t *idx = malloc((size_t)B * sizeof(int64_t));
    if (!in || !out || !idx) return fprintf(stderr, "bench_diffeo: out of memory\n"), 1;
    for (int64_t j = 0; j < B * d; j++) in[j] = (float)((j * 2654435761u) % 1000u) / 1000.0f;
    rs_diffeo_opts o = {.T = T, .interp = RS_INTERP_LINEAR, .seed = 0, .repeat = 0};
    *wall = *cpu = 1e300;
    for (int r = 0; r < repeat; r++) {
        double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        for (int64_t p0 = 0; p0 < n; p0 += B) {
            int64_t b = n - p0 < B ? n - p0 : B;
            for (int64_t i = 0; i < b; i++) idx[i] = p0 + i;
            rs_status st = reference ? rs__diffeo_batch_ref(&plan, &o, out, NULL, in, b, c, idx)
                                     : rs_diffeo_batch(&plan, &o, out, NULL, in, b, c, idx);
            if (st) return die("rs_diffeo_batch");
        }
        double w = now(CLOCK_MONOTONIC) - w0, cp = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
        *wall = w < *wall ? w : *wall;
        *cpu = cp < *cpu ? cp : *cpu;
    }
    rs_free(in), rs_free(out), free(idx);
    rs_diffeo_plan_free(&plan);
    return 0;
}

int main(int argc, char **argv) {
    int threads = 0, repeat = 3, cut = 3, reference = 0;
    long n = 10000;
    double delta = 1.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--n") && i + 1 < argc) n = atol(argv[++i]);
        else if (!strcmp(argv[i], "--cut") && i + 1 < argc) cut = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--delta") && i + 1 < argc) delta = atof(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reference")) reference = 1;
        else {
            fprintf(stderr, "usage: bench_diffeo [--threads N] [--n N] [--cut C] [--delta D] [--repeat R] "
                            "[--reference]\n");
            return 2;
        }
    }
    if (n < 1 || repeat < 1) return fprintf(stderr, "bench_diffeo: --n and --repeat must be positive\n"), 2;
    if (threads > 0) rs_set_threads(threads);
    printf("# bench_diffeo: %ld images per shape, c = %d, delta = %g, bilinear, %d threads, best of %d%s\n", n, cut,
           delta, rs_get_threads(), repeat, reference ? ", plain-C reference path" : "");
    printf("# %-16s %10s %10s %12s\n", "shape", "wall_ms", "cpu_ms", "images/s");
    const int32_t shapes[2][2] = {{1, 28}, {3, 32}};
    for (int k = 0; k < 2; k++) {
        double wall, cpu;
        if (run_shape(n, shapes[k][0], shapes[k][1], cut, delta, repeat, reference, &wall, &cpu)) return 1;
        char name[32];
        snprintf(name, sizeof name, "diffeo_%dx%dx%d", shapes[k][0], shapes[k][1], shapes[k][1]);
        printf("%-18s %10.1f %10.1f %12.0f\n", name, 1e3 * wall, 1e3 * cpu, (double)n / wall);
    }
    return 0;
}
