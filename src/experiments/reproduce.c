/* reproduce.c: `relstab reproduce`: the list of experiments, the scales, running one experiment's grid (or listing
 * it for a dry run), its verdicts, settings and timing files, and the report at the end.
 * The experiments themselves (which runs, which aggregation, which verdict) are in exp_*.c. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "exp_internal.h"

typedef struct {
    const char *name;
    rs_status (*fn)(exp_ctx *c);
} experiment;

static const experiment experiments[] = {
    {"theory", exp_theory},   {"scale1d", exp_scale1d}, {"output-vs-error", exp_output_vs_error},
    {"layers", exp_layers},   {"twopoints", exp_twopoints}, {"spectra", exp_spectra},
};
#define N_EXP ((int32_t)(sizeof experiments / sizeof experiments[0]))

const char *rs_experiment_names(void) { return "theory, scale1d, output-vs-error, layers, twopoints, spectra"; }
int32_t rs_experiment_count(void) { return N_EXP; }
const char *rs_experiment_name(int32_t i) { return i >= 0 && i < N_EXP ? experiments[i].name : NULL; }

rs_status rs_scale_parse(const char *s, rs_scale *out) {
    if (!strcmp(s, "quick")) *out = RS_SCALE_QUICK;
    else if (!strcmp(s, "full")) *out = RS_SCALE_FULL;
    else if (!strcmp(s, "tiny")) *out = RS_SCALE_TINY;
    else return rs_error(RS_ERR_ARG, "--scale expects quick, full or tiny, got '%s'", s);
    return RS_OK;
}

const char *rs_scale_name(rs_scale s) { return s == RS_SCALE_FULL ? "full" : s == RS_SCALE_TINY ? "tiny" : "quick"; }

/* ---------------------------------------------------------------- helpers of the experiments */
static void csv_field(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
    fputc('"', f);
}

void exp_verdict(exp_ctx *c, const char *figure, const char *claim, const char *verdict, const char *fmt, ...) {
    char numbers[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(numbers, sizeof numbers, fmt, ap);
    va_end(ap);
    if (!c->verdicts) return;
    csv_field(c->verdicts, figure);
    fputc(',', c->verdicts);
    csv_field(c->verdicts, claim);
    fputc(',', c->verdicts);
    csv_field(c->verdicts, verdict);
    fputc(',', c->verdicts);
    csv_field(c->verdicts, numbers);
    fputc('\n', c->verdicts);
    if (!c->o->quiet) fprintf(stderr, "relstab reproduce: %s: %s: %s (%s)\n", figure, claim, verdict, numbers);
}

int exp_model_wanted(const exp_ctx *c, const char *model) {
    const char *l = c->o->models;
    if (!l || !*l) return 1;
    size_t n = strlen(model);
    for (const char *p = l; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, model, n)) return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

int32_t exp_seeds(const exp_ctx *c, int32_t quick, int32_t full) {
    if (c->o->seeds > 0) return c->o->seeds;
    return c->o->scale == RS_SCALE_FULL ? full : quick;
}

void exp_run_dir(const exp_ctx *c, exp_run *r, const char *experiment) {
    char noise[32] = "", width[24] = "";
    if (r->corrupt > 0) snprintf(noise, sizeof noise, "-noise%g", r->corrupt);
    if (r->width > 0) snprintf(width, sizeof width, "-w%d", (int)r->width);
    snprintf(r->dir, sizeof r->dir, "%.700s/runs/%s/%s%s%s-e%d-p%lld-s%llu", c->o->out, experiment, r->model, width,
             noise, (int)r->epochs, (long long)r->ptr, (unsigned long long)r->seed);
}

typedef struct {
    exp_run *runs;
    int32_t quiet;
} grid_ctx;

static rs_status grid_job(int32_t job, void *ctx) {
    grid_ctx *g = ctx;
    return exp_run_do(&g->runs[job], rs_get_threads(), g->quiet);
}

static void print_dry(const exp_ctx *c, const exp_run *runs, int32_t n) {
    double total = 0;
    printf("%-58s %-10s %6s %7s %9s  %s\n", "run directory", "model", "epochs", "ptr", "est. time", "status");
    for (int32_t i = 0; i < n; i++) {
        const exp_run *r = &runs[i];
        char p[1200];
        struct stat sb;
        snprintf(p, sizeof p, "%s/config.json", r->dir);
        const char *status = exp_run_finished(r) ? "done" : stat(p, &sb) == 0 ? "resumes" : "new";
        const char *rel = strncmp(r->dir, c->o->out, strlen(c->o->out)) ? r->dir : r->dir + strlen(c->o->out) + 1;
        printf("%-58s %-10s %6d %7lld %8.0fs  %s\n", rel, r->model, (int)r->epochs, (long long)r->ptr,
               r->est_seconds, status);
        if (!exp_run_finished(r)) total += r->est_seconds;
    }
    printf("%d runs, estimated %.0f s (%.1f min) still to run on an idle 2-core machine\n", (int)n, total,
           total / 60);
}

rs_status exp_grid(exp_ctx *c, exp_run *runs, int32_t n) {
    double *cost = malloc(sizeof *cost * (size_t)(n > 0 ? n : 1));
    if (!cost) return rs_error(RS_ERR_NOMEM, "grid costs");
    for (int32_t i = 0; i < n; i++) cost[i] = runs[i].est_seconds = exp_run_estimate(&runs[i]);
    rs_status s = RS_OK;
    if (c->o->dry_run) print_dry(c, runs, n);
    else {
        int32_t done = 0;
        double todo = 0;
        for (int32_t i = 0; i < n; i++) {
            int f = exp_run_finished(&runs[i]);
            done += f;
            if (!f) todo += cost[i];
        }
        if (c->notes)
            fprintf(c->notes, "grid: %d runs, %d already finished before this invocation (the time below counts only "
                              "the others); estimated %.0f s on an idle machine for those\n", (int)n, (int)done, todo);
        grid_ctx g = {runs, c->o->quiet};
        s = rs_grid_run(n, cost, c->o->jobs, grid_job, &g);
    }
    free(cost);
    return s;
}

/* ---------------------------------------------------------------- one experiment */
static FILE *open_in(const char *dir, const char *file, const char *mode) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    return fopen(p, mode);
}

static rs_status run_experiment(const experiment *e, const rs_reproduce_opts *o, const char *data) {
    exp_ctx c = {.o = o, .data = data, .cifar = !strncmp(data, "cifar10", 7)};
    snprintf(c.dir, sizeof c.dir, "%s/%s", o->out, e->name);
    /* quick and tiny: the big nets of layers (and spectra, which reuses them) are evaluated on the first test
     * images only, since the trainer evaluates the whole test split every epoch */
    char spec[1100];
    int64_t n_test = o->scale == RS_SCALE_TINY ? 500 : 2000;
    int subset = o->scale != RS_SCALE_FULL && !strcmp(data, "fashionmnist") &&
                 (!strcmp(e->name, "layers") || !strcmp(e->name, "spectra"));
    if (subset) {
        RS_TRY(exp_prepare_fmnist(o, n_test, spec, sizeof spec));
        c.data = spec;
    }
    if (o->dry_run) {
        printf("== %s (scale %s, data %s)\n", e->name, rs_scale_name(o->scale), data);
        return e->fn(&c);
    }
    RS_TRY(rs_mkdir_p(c.dir));
    FILE *fig = open_in(c.dir, "figures.txt", "w"); /* the figures are registered anew */
    if (fig) fclose(fig);
    c.verdicts = open_in(c.dir, "verdicts.csv.tmp", "w");
    c.notes = open_in(c.dir, "settings.txt", "w");
    if (!c.verdicts || !c.notes) {
        if (c.verdicts) fclose(c.verdicts);
        if (c.notes) fclose(c.notes);
        return rs_error(RS_ERR_IO, "cannot write in %s", c.dir);
    }
    fprintf(c.verdicts, "figure,claim,verdict,numbers\n");
    fprintf(c.notes, "scale: %s\ndata: %s\n", rs_scale_name(o->scale), c.data);
    if (o->models && *o->models) fprintf(c.notes, "models restricted to: %s (--models)\n", o->models);
    if (subset)
        fprintf(c.notes, "FashionMNIST: the whole training split (subsets by ptr below); the test split (model "
                         "selection and probe images) is its first %lld images, a byte-identical IDX copy\n",
                (long long)n_test);
    double load0[3] = {0}, load1[3] = {0};
    getloadavg(load0, 3);
    double t0 = rs_now();
    if (!o->quiet) fprintf(stderr, "relstab reproduce: %s (scale %s, data %s)\n", e->name, rs_scale_name(o->scale), data);
    rs_status s = e->fn(&c);
    double seconds = rs_now() - t0;
    getloadavg(load1, 3);
    fclose(c.verdicts);
    fclose(c.notes);
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s/verdicts.csv.tmp", c.dir);
    snprintf(b, sizeof b, "%s/verdicts.csv", c.dir);
    if (s == RS_OK) {
        rename(a, b);
        char buf[256];
        int len = snprintf(buf, sizeof buf, "seconds,load_start,load_end,jobs\n%.1f,%.2f,%.2f,%d\n", seconds, load0[0],
                           load1[0], (int)o->jobs);
        snprintf(b, sizeof b, "%s/timing.csv", c.dir);
        s = rs_write_file_atomic(b, buf, (size_t)len);
    } else {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", rs_last_error());
        remove(a);
        s = rs_error(s, "%s: %s", e->name, msg);
    }
    return s;
}

rs_status rs_reproduce(const char *name, const rs_reproduce_opts *o) {
    const char *data = o->data && o->data[0] ? o->data : "fashionmnist";
    if (!o->out || strlen(o->out) > 700) return rs_error(RS_ERR_ARG, "--out: give a directory path of at most 700 characters");
    if (strcmp(data, "fashionmnist") && strncmp(data, "cifar10:", 8))
        return rs_error(RS_ERR_ARG, "--data expects fashionmnist or cifar10:DIR, got '%s'", data);
    int all = !strcmp(name, "all");
    int found = all;
    rs_status first = RS_OK;
    char msg[1024] = "";
    for (int32_t i = 0; i < N_EXP; i++) {
        if (!all && strcmp(name, experiments[i].name)) continue;
        found = 1;
        rs_status s = run_experiment(&experiments[i], o, data);
        if (s != RS_OK && first == RS_OK) first = s, snprintf(msg, sizeof msg, "%s", rs_last_error());
        if (s != RS_OK && !o->quiet) fprintf(stderr, "relstab reproduce: %s\n", rs_last_error());
        if (!o->dry_run) rs_report_write(o->out); /* the report shows what has finished so far */
    }
    if (!found) return rs_error(RS_ERR_ARG, "unknown experiment '%s' (known: all, %s)", name, rs_experiment_names());
    if (first != RS_OK) return rs_error(first, "%s", msg);
    return RS_OK;
}
