/* bench_models.c: time whole training steps of zoo models through the library, as a user's program would run them:
 * rs_model_build, rs_net_build, then per step forward (TRAIN), cross-entropy, zero_grad, backward and an SGD step
 * (momentum 0.9, weight decay 5e-4), on random 3x32x32 inputs and random labels (batch 128 by default). Prints one
 * line per model: the fastest step and the median step in milliseconds, images per second and GFLOP/s (3 x the
 * forward FLOPs of relstab info: forward, data gradient, weight gradient). bench/bench_models.sh lays these lines
 * next to bench/torch_models.py's. It is a benchmark, not a test: no result is checked here.
 *
 * Also printed: the process CPU time per step (all threads), which a loaded machine disturbs much less than the
 * wall time. --conv-algo auto turns on the Winograd forward of the layers it suits (default: direct, as relstab).
 *
 * usage: bench_models [--threads N] [--steps S] [--warmup W] [--batch B] [--only SUBSTRING] [--conv-algo A] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relstab/models.h"
#include "relstab/nn.h"

typedef struct {
    rs_net *net;
    rs_optimizer opt;
    int32_t batch, classes;
    float *x;          // (B, 3, 32, 32) NCHW, as datasets give it
    int32_t *labels;   // (B)
    float *d_logits;   // (B, classes)
} model_job;

static int die(const char *what) {
    fprintf(stderr, "bench_models: %s: %s\n", what, rs_last_error());
    return 1;
}

static int job_open(model_job *j, const char *name, int32_t batch) {
    memset(j, 0, sizeof *j);
    if (rs_model_build(name, NULL, &j->net) != RS_OK) return die(name);
    if (rs_net_build(j->net, batch, 1) != RS_OK) return die(name);
    rs_net_init(j->net, 0);
    j->batch = batch;
    j->classes = (int32_t)rs_net_output_numel(j->net);
    const rs_node *in = &j->net->nodes[0];
    size_t nx = (size_t)batch * in->c * in->h * in->w;
    j->x = rs_alloc(nx * sizeof(float));
    j->labels = rs_alloc((size_t)batch * sizeof(int32_t));
    j->d_logits = rs_alloc((size_t)batch * j->classes * sizeof(float));
    if (!j->x || !j->labels || !j->d_logits) {
        fprintf(stderr, "bench_models: out of memory for %s at batch %d\n", name, batch);
        return 1;
    }
    rs_fill_normal(j->x, nx, 1, rs_stream(RS_PURPOSE_TEST, 1, 0), 0, 0.0f, 1.0f);
    uint64_t at = 0;
    for (int32_t i = 0; i < batch; i++)
        j->labels[i] = (int32_t)rs_randint(1, rs_stream(RS_PURPOSE_TEST, 2, 0), &at, (uint64_t)j->classes);
    j->opt = rs_sgd(0.9, 0, 5e-4);
    return 0;
}

static void job_close(model_job *j) {
    rs_net_free(j->net);
    rs_free(j->x);
    rs_free(j->labels);
    rs_free(j->d_logits);
}

/* One training step, as src/train/train.c takes it. lr 0.01: random labels, a few steps, no divergence. */
static int job_step(model_job *j) {
    if (rs_net_forward(j->net, j->x, j->batch, RS_MODE_TRAIN) != RS_OK) return die("forward");
    rs_cross_entropy(j->d_logits, rs_net_output_data(j->net), j->labels, j->batch, j->classes, NULL);
    rs_net_zero_grad(j->net);
    if (rs_net_backward(j->net, j->d_logits) != RS_OK) return die("backward");
    if (rs_optimizer_step(&j->opt, &j->net->params, 0.01) != RS_OK) return die("optimizer step");
    return 0;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Warm-up steps (they create the oneDNN primitives and fault in the arenas), then `steps` timed steps: the fastest
 * (the one least disturbed by other work on a shared machine) and the median, in milliseconds. */
static int job_time(model_job *j, int warmup, int steps, double *best_ms, double *median_ms, double *cpu_ms) {
    for (int i = 0; i < warmup; i++)
        if (job_step(j)) return 1;
    double t[64], c[64];
    for (int i = 0; i < steps; i++) {
        double a = rs_now(), ac = cpu_now();
        if (job_step(j)) return 1;
        t[i] = 1e3 * (rs_now() - a);
        c[i] = 1e3 * (cpu_now() - ac);
    }
    qsort(t, (size_t)steps, sizeof t[0], cmp_double);
    qsort(c, (size_t)steps, sizeof c[0], cmp_double);
    *cpu_ms = c[0];
    *best_ms = t[0];
    *median_ms = steps % 2 ? t[steps / 2] : 0.5 * (t[steps / 2 - 1] + t[steps / 2]);
    return 0;
}

int main(int argc, char **argv) {
    rs_threads_startup(argv); /* OpenMP's passive wait policy, as the relstab program runs */
    const char *algo = "direct";
    int threads = 0, steps = 3, warmup = 1;
    int32_t batch = 128;
    const char *only = "";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--conv-algo") && i + 1 < argc) algo = argv[++i];
        else {
            fprintf(stderr,
                    "usage: bench_models [--threads N] [--steps S] [--warmup W] [--batch B] [--only SUBSTRING] "
                    "[--conv-algo direct|auto]\n");
            return 2;
        }
    }
    if (batch <= 0 || steps < 1 || steps > 64 || warmup < 0) {
        fprintf(stderr, "bench_models: --batch must be positive, --steps between 1 and 64, --warmup >= 0\n");
        return 2;
    }
    if (strcmp(algo, "auto") && strcmp(algo, "direct")) {
        fprintf(stderr, "bench_models: --conv-algo is auto or direct, not '%s'\n", algo);
        return 2;
    }
    rs_set_conv_algo(strcmp(algo, "direct") ? RS_CONV_ALGO_AUTO : RS_CONV_ALGO_DIRECT);
    threads = rs_set_threads(threads);
    static const char *const models[] = {"vgg11", "vgg11bn", "resnet18"};
    char fast[128];
    rs_backend_describe(fast, sizeof fast);
    char thr[96];
    printf("# bench_models: batch %d, %s, %d warm-up + %d timed steps, fast path %s, conv algo %s\n", batch,
           rs_threads_describe(thr, sizeof thr), warmup, steps, fast, algo);
    printf("# %-10s %-6s %-12s %10s %10s %10s %8s %10s\n", "model", "job", "path", "best_ms", "median_ms", "img/s",
           "GFLOP/s", "cpu_ms");
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        if (!strstr(models[m], only)) continue;
        model_job j;
        double best, median, cpu;
        if (job_open(&j, models[m], batch) || job_time(&j, warmup, steps, &best, &median, &cpu)) return 1;
        double flops = 3.0 * (double)rs_net_flops(j.net) * batch;
        printf("%-12s %-6s %-12s %10.1f %10.1f %10.1f %8.1f %10.1f\n", models[m], "step", "relstab", best, median,
               batch / (best * 1e-3), flops / (best * 1e-3) * 1e-9, cpu);
        fflush(stdout);
        job_close(&j);
    }
    return 0;
}
