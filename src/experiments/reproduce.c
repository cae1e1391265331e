/* reproduce.c: `relstab reproduce`: the list of experiments, the scales, running one experiment's grid (or listing
 * it for a dry run), its verdicts, settings and timing files, and the report at the end.
 * Under mpirun every rank runs the same experiments in the same order: rank 0 does everything, the others follow it
 * only to take part in each grid of runs (rs_grid_run_ranks) and stop each experiment there; they write nothing
 * outside the run directories. Every rank meets rank 0 at fixed points (setup, grid, end of each experiment) where
 * rank 0 broadcasts its status, so all ranks agree on what failed; a rank found at another point aborts the job.
 * The experiments themselves (which runs, which aggregation, which verdict) are in exp_*.c. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "exp_internal.h"
#include "relstab/dist.h"

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

/* ---------------------------------------------------------------- the ranks' meeting points */
enum { SYNC_SETUP = 1, SYNC_GRID = 2, SYNC_END = 3 };
static int g_out_of_step = 0; /* 1: this rank met rank 0 at another point or with another grid: abort the job */

/* Every rank: *value becomes rank 0's. A rank at another meeting point than rank 0 is out of step. */
static rs_status rank_sync(int64_t point, int64_t *value) {
    if (rs_dist_size() <= 1) return RS_OK;
    int64_t m[2] = {point, *value};
    RS_TRY(rs_dist_bcast(m, sizeof m, 0));
    if (m[0] != point) {
        g_out_of_step = 1;
        return rs_error(RS_ERR_IO, "rank %d is out of step with rank 0 (meeting point %lld, rank 0 at %lld)",
                        rs_dist_rank(), (long long)point, (long long)m[0]);
    }
    *value = m[1];
    return RS_OK;
}

/* rank 0's status s (on rank 0 itself: s) */
static rs_status root_status(int64_t point, rs_status s, const char *what) {
    int64_t v = s;
    RS_TRY(rank_sync(point, &v));
    if (rs_dist_rank() == 0 || v == RS_OK) return (rs_status)v;
    return rs_error((rs_status)v, "%s failed on rank 0 (its message is on rank 0's stderr)", what);
}

static void hash_bytes(uint64_t *h, const void *p, size_t n) { /* FNV-1a */
    for (size_t i = 0; i < n; i++) *h = (*h ^ ((const unsigned char *)p)[i]) * 1099511628211ull;
}

/* What identifies the grid: every field of every run that decides what it trains and measures, and where. */
static int64_t grid_hash(const exp_run *runs, int32_t n) {
    uint64_t h = 14695981039346656037ull;
    hash_bytes(&h, &n, sizeof n);
    for (int32_t i = 0; i < n; i++) {
        const exp_run *r = &runs[i];
        hash_bytes(&h, r->dir, strlen(r->dir) + 1);
        hash_bytes(&h, r->model, strlen(r->model) + 1);
        hash_bytes(&h, r->data, strlen(r->data) + 1);
        hash_bytes(&h, r->recipe, strlen(r->recipe) + 1);
        int64_t v[9] = {r->epochs, r->width, r->depth, r->ptr, (int64_t)r->seed, r->measure, r->P, r->style_1d,
                        r->output_only};
        double d[3] = {r->corrupt, r->lr, r->ridge};
        hash_bytes(&h, v, sizeof v);
        hash_bytes(&h, d, sizeof d);
    }
    return (int64_t)h;
}

/* Under mpirun: every rank has the grid of rank 0 (else this rank is out of step). */
static rs_status same_grid(const exp_run *runs, int32_t n) {
    int64_t mine = grid_hash(runs, n), root = mine;
    RS_TRY(rank_sync(SYNC_GRID, &root));
    if (root == mine) return RS_OK;
    g_out_of_step = 1;
    return rs_error(RS_ERR_ARG, "rank %d made another grid of runs than rank 0 (every rank must run the same command "
                    "with the same files)", rs_dist_rank());
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
        s = same_grid(runs, n);
        if (!s) s = rs_grid_run_ranks(n, cost, c->o->jobs, grid_job, &g);
        if (!s && rs_dist_rank() != 0) /* the aggregation, figures and verdicts are rank 0's: stop the experiment */
            s = rs_error(RS_ERR_UNSUPPORTED, "rank %d: the rest of the experiment is rank 0's", rs_dist_rank());
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

/* Rank 0 (or the only rank): the data subset, OUT/EXPERIMENT, figures.txt emptied, verdicts.csv.tmp and
 * settings.txt opened and headed. */
static rs_status setup_root(exp_ctx *c, const rs_reproduce_opts *o, int subset, int64_t n_test, char *spec,
                            size_t len) {
    if (subset) {
        RS_TRY(exp_prepare_fmnist(o, n_test, spec, len));
        c->data = spec;
    }
    RS_TRY(rs_mkdir_p(c->dir));
    FILE *fig = open_in(c->dir, "figures.txt", "w"); /* the figures are registered anew */
    if (fig) fclose(fig);
    c->verdicts = open_in(c->dir, "verdicts.csv.tmp", "w");
    c->notes = open_in(c->dir, "settings.txt", "w");
    if (!c->verdicts || !c->notes) return rs_error(RS_ERR_IO, "cannot write in %s", c->dir);
    fprintf(c->verdicts, "figure,claim,verdict,numbers\n");
    fprintf(c->notes, "scale: %s\ndata: %s\n", rs_scale_name(o->scale), c->data);
    if (o->models && *o->models) fprintf(c->notes, "models restricted to: %s (--models)\n", o->models);
    if (subset)
        fprintf(c->notes, "FashionMNIST: the whole training split (subsets by ptr below); the test split (model "
                          "selection and probe images) is its first %lld images, a byte-identical IDX copy\n",
                (long long)n_test);
    if (rs_dist_size() > 1)
        fprintf(c->notes, "MPI: %d ranks; rank 0 hands the runs out, ranks 1..%d run them\n", rs_dist_size(),
                rs_dist_size() - 1);
    return RS_OK;
}

/* Rank 0: verdicts.csv in place and timing.csv, or the experiment's error. */
static rs_status finish_root(exp_ctx *c, const experiment *e, const rs_reproduce_opts *o, rs_status s,
                             double seconds, double load0, double load1) {
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s/verdicts.csv.tmp", c->dir);
    snprintf(b, sizeof b, "%s/verdicts.csv", c->dir);
    if (s != RS_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", rs_last_error());
        remove(a);
        return rs_error(s, "%s: %s", e->name, msg);
    }
    rename(a, b);
    char buf[256]; /* jobs: runs side by side (under mpirun: the working ranks) */
    int jobs = rs_dist_size() > 1 ? rs_dist_size() - 1 : (int)o->jobs;
    int len = snprintf(buf, sizeof buf, "seconds,load_start,load_end,jobs\n%.1f,%.2f,%.2f,%d\n", seconds, load0, load1,
                       jobs);
    snprintf(b, sizeof b, "%s/timing.csv", c->dir);
    return rs_write_file_atomic(b, buf, (size_t)len);
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
    if (o->dry_run) {
        if (subset) {
            RS_TRY(exp_prepare_fmnist(o, n_test, spec, sizeof spec));
            c.data = spec;
        }
        printf("== %s (scale %s, data %s)\n", e->name, rs_scale_name(o->scale), data);
        return e->fn(&c);
    }
    int root = rs_dist_rank() == 0;
    rs_status s = RS_OK;
    if (root) s = setup_root(&c, o, subset, n_test, spec, sizeof spec);
    else { /* a worker: rank 0's data spec (rank 0 made the files), its notes and verdicts go nowhere */
        rs_reproduce_opts dry = *o;
        dry.dry_run = 1;
        if (subset) s = exp_prepare_fmnist(&dry, n_test, spec, sizeof spec), c.data = spec;
        c.verdicts = fopen("/dev/null", "w");
        c.notes = fopen("/dev/null", "w");
        if (!s && (!c.verdicts || !c.notes)) s = rs_error(RS_ERR_IO, "cannot open /dev/null");
    }
    rs_status ready = root_status(SYNC_SETUP, s, e->name);
    if (!root && !ready && s) g_out_of_step = 1, ready = s; /* it cannot follow rank 0 into the grid: abort */
    if (ready) {
        if (c.verdicts) fclose(c.verdicts);
        if (c.notes) fclose(c.notes);
        return ready;
    }
    double load0[3] = {0}, load1[3] = {0};
    getloadavg(load0, 3);
    double t0 = rs_now();
    if (!o->quiet && root)
        fprintf(stderr, "relstab reproduce: %s (scale %s, data %s)\n", e->name, rs_scale_name(o->scale), data);
    s = e->fn(&c); /* a worker stops at the grid (or at rank 0's own jobs): its status is rank 0's below */
    double seconds = rs_now() - t0;
    getloadavg(load1, 3);
    fclose(c.verdicts);
    fclose(c.notes);
    if (g_out_of_step) return s;
    if (root) s = finish_root(&c, e, o, s, seconds, load0[0], load1[0]);
    return root_status(SYNC_END, s, e->name);
}

rs_status rs_reproduce(const char *name, const rs_reproduce_opts *o) {
    const char *data = o->data && o->data[0] ? o->data : "fashionmnist";
    if (!o->out || strlen(o->out) > 700) return rs_error(RS_ERR_ARG, "--out: give a directory path of at most 700 characters");
    if (strcmp(data, "fashionmnist") && strncmp(data, "cifar10:", 8))
        return rs_error(RS_ERR_ARG, "--data expects fashionmnist or cifar10:DIR, got '%s'", data);
    int all = !strcmp(name, "all");
    int found = all, root = rs_dist_rank() == 0;
    for (int32_t i = 0; i < N_EXP; i++) found |= !strcmp(name, experiments[i].name);
    if (!found) return rs_error(RS_ERR_ARG, "unknown experiment '%s' (known: all, %s)", name, rs_experiment_names());
    if (o->dry_run && !root) return RS_OK; /* rank 0 lists the grid */
    rs_status first = RS_OK;
    char msg[1024] = "";
    g_out_of_step = 0;
    for (int32_t i = 0; i < N_EXP && !g_out_of_step; i++) {
        if (!all && strcmp(name, experiments[i].name)) continue;
        rs_status s = run_experiment(&experiments[i], o, data);
        if (s != RS_OK && first == RS_OK) first = s, snprintf(msg, sizeof msg, "%s", rs_last_error());
        if (s != RS_OK && !o->quiet && (root || g_out_of_step)) fprintf(stderr, "relstab reproduce: %s\n", rs_last_error());
        if (!o->dry_run && root) rs_report_write(o->out); /* the report shows what has finished so far */
    }
    /* every rank met rank 0 at every point and has rank 0's statuses: they may end with different exit codes
     * without aborting each other; a rank out of step returns an error and its exit aborts the job */
    if (rs_dist_size() > 1 && !g_out_of_step) rs_dist_exit_together();
    if (first != RS_OK) return rs_error(first, "%s", msg);
    return RS_OK;
}
