/* cmd_sweep.c: `relstab sweep GRID.json`: a grid of independent runs (train, then measure), each an ordinary run
 * directory, run alone in order of decreasing cost or, under mpirun, handed out dynamically by rank 0 to the
 * other ranks (rs_dist_run_jobs). A run is skipped when its directory holds SWEEP_DONE; otherwise it is locked
 * (rs_run_lock_acquire: a directory locked by a live process is left to it), trained (resumed when a killed
 * attempt left a config.json), measured, and marked done. So a rank that dies loses only its current run, and
 * running the same command again finishes the grid without doing any finished run twice.
 * The grid format is in usage() and docs/cluster.md. Not here: the scheduler (src/dist), training, measuring. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "relstab/dist.h"
#include "relstab/train.h"

#define CMD "sweep"
#define SWEEP_DONE "sweep.done"
#define MAX_ARGS 128

const char rs_cmd_sweep_help[] = "run a grid of train (+ measure) runs, over MPI ranks under mpirun; resumable";

static void usage(FILE *f) {
    fprintf(f,
            "usage: relstab sweep GRID.json [--list]\n"
            "       mpirun -n N relstab sweep GRID.json\n\n"
            "Runs every run of the grid: trains it into its run directory, then measures it, then writes\n"
            "DIR/" SWEEP_DONE ". Alone, runs go in order of decreasing cost; under mpirun rank 0 hands them out\n"
            "(costliest first) to ranks 1..N-1, each run on one rank. A finished run (DIR/" SWEEP_DONE ") is skipped,\n"
            "a run another process holds (DIR/lock) is left to it, a run killed midway is resumed: after a crash,\n"
            "run the same command again. Exit 1 if some run failed or was busy.\n\n"
            "GRID.json: {\"runs\": [RUN, ...]} (or just [RUN, ...]), each RUN an object:\n"
            "  \"dir\":     the run directory (required; relative to the working directory)\n"
            "  \"train\":   the arguments of relstab train, a string (split at spaces) or a list of strings;\n"
            "             no --out (it is \"dir\") and no --resume (the sweep decides)\n"
            "  \"measure\": optional list of measurements, each the arguments of relstab measure (a string or a\n"
            "             list); --run DIR is added; {dir} in any argument is replaced by the run directory\n"
            "  \"cost\":    optional relative cost for the order (default: the --epochs of train, else 1)\n"
            "example: {\"runs\": [{\"dir\": \"runs/lenet-s0\", \"train\": \"--model lenet --epochs 5 --seed 0\",\n"
            "          \"measure\": [\"--checkpoint best --P 500 --out {dir}/sens.csv\"]}]}\n\n"
            "  --list              print every run's state (done, partial, new, busy) and exit\n"
            "  -h, --help          this help\n");
}

/* ---------------------------------------------------------------- the grid */
typedef struct {
    char *dir;
    char *train[MAX_ARGS];
    int n_train;
    char **measure[16]; /* each NULL-terminated */
    int n_measure[16], measures;
    double cost;
} run_spec;

typedef struct {
    run_spec *runs;
    int n;
} grid;

static void grid_free(grid *g) {
    for (int i = 0; i < g->n; i++) {
        run_spec *r = &g->runs[i];
        free(r->dir);
        for (int a = 0; a < r->n_train; a++) free(r->train[a]);
        for (int m = 0; m < r->measures; m++) {
            for (int a = 0; a < r->n_measure[m]; a++) free(r->measure[m][a]);
            free(r->measure[m]);
        }
    }
    free(g->runs);
}

/* s with every "{dir}" replaced by dir (allocated). */
static char *subst(const char *s, const char *dir) {
    size_t n = strlen(s) + 1, dl = strlen(dir);
    for (const char *p = strstr(s, "{dir}"); p; p = strstr(p + 5, "{dir}")) n += dl;
    char *out = malloc(n), *o = out;
    if (!out) return NULL;
    while (*s) {
        if (!strncmp(s, "{dir}", 5)) memcpy(o, dir, dl), o += dl, s += 5;
        else *o++ = *s++;
    }
    *o = 0;
    return out;
}

/* A JSON string (split at spaces) or list of strings into args; returns the count or -1 (message printed). */
static int parse_args(const cJSON *v, const char *dir, char **args, int max, const char *what) {
    int n = 0;
    if (cJSON_IsString(v)) {
        char *copy = strdup(v->valuestring), *save = NULL;
        for (char *t = strtok_r(copy, " \t\n", &save); t && n < max; t = strtok_r(NULL, " \t\n", &save))
            args[n++] = subst(t, dir);
        free(copy);
    } else if (cJSON_IsArray(v)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, v) {
            if (!cJSON_IsString(it) || n == max) return cli_usage_error(CMD, "%s: %s: every argument must be a string",
                                                                         dir, what), -1;
            args[n++] = subst(it->valuestring, dir);
        }
    } else {
        return cli_usage_error(CMD, "%s: \"%s\" must be a string or a list of strings", dir, what), -1;
    }
    for (int i = 0; i < n; i++)
        if (!args[i]) return cli_usage_error(CMD, "out of memory"), -1;
    return n;
}

static int parse_run(const cJSON *o, run_spec *r, int index) {
    const cJSON *dir = cJSON_GetObjectItemCaseSensitive(o, "dir"), *tr = cJSON_GetObjectItemCaseSensitive(o, "train");
    if (!cJSON_IsObject(o) || !cJSON_IsString(dir) || !dir->valuestring[0] || !tr)
        return cli_usage_error(CMD, "run %d: an object with \"dir\" and \"train\" is required", index);
    r->dir = strdup(dir->valuestring);
    if ((r->n_train = parse_args(tr, r->dir, r->train, MAX_ARGS, "train")) < 0) return 2;
    r->cost = 1;
    for (int a = 0; a < r->n_train; a++) {
        if (!strcmp(r->train[a], "--out") || !strncmp(r->train[a], "--out=", 6) || !strcmp(r->train[a], "--resume"))
            return cli_usage_error(CMD, "%s: \"train\" must not contain %s (the sweep sets it)", r->dir, r->train[a]);
        if (!strcmp(r->train[a], "--epochs") && a + 1 < r->n_train) r->cost = atof(r->train[a + 1]);
    }
    const cJSON *cost = cJSON_GetObjectItemCaseSensitive(o, "cost"), *ms = cJSON_GetObjectItemCaseSensitive(o, "measure");
    if (cost && (!cJSON_IsNumber(cost) || !(cost->valuedouble >= 0)))
        return cli_usage_error(CMD, "%s: \"cost\" must be a number >= 0", r->dir);
    if (cost) r->cost = cost->valuedouble;
    if (ms && !cJSON_IsArray(ms)) return cli_usage_error(CMD, "%s: \"measure\" must be a list of measurements", r->dir);
    const cJSON *m;
    cJSON_ArrayForEach(m, ms) {
        if (r->measures == 16) return cli_usage_error(CMD, "%s: at most 16 measurements per run", r->dir);
        char **args = calloc(MAX_ARGS + 1, sizeof(char *));
        if (!args) return cli_usage_error(CMD, "out of memory");
        r->measure[r->measures] = args;
        int n = parse_args(m, r->dir, args, MAX_ARGS, "measure");
        if (n < 0) return 2;
        r->n_measure[r->measures++] = n;
    }
    return 0;
}

static int grid_read(const char *path, grid *g) {
    memset(g, 0, sizeof *g);
    void *buf;
    size_t len;
    if (rs_read_file(path, &buf, &len, 64u << 20) != RS_OK) return cli_fail(CMD, RS_ERR_IO);
    cJSON *root = cJSON_ParseWithLength(buf, len);
    rs_free(buf);
    if (!root) return cli_usage_error(CMD, "%s: not valid JSON", path);
    const cJSON *runs = cJSON_IsArray(root) ? root : cJSON_GetObjectItemCaseSensitive(root, "runs");
    int rc = 0;
    if (!cJSON_IsArray(runs) || cJSON_GetArraySize(runs) == 0) rc = cli_usage_error(CMD, "%s: no \"runs\" list", path);
    if (!rc) g->n = cJSON_GetArraySize(runs), g->runs = calloc((size_t)g->n, sizeof(run_spec));
    if (!rc && !g->runs) rc = cli_usage_error(CMD, "out of memory");
    for (int i = 0; !rc && i < g->n; i++) rc = parse_run(cJSON_GetArrayItem(runs, i), &g->runs[i], i);
    for (int i = 0; !rc && i < g->n; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(g->runs[i].dir, g->runs[j].dir))
                rc = cli_usage_error(CMD, "%s: two runs have the directory %s", path, g->runs[i].dir);
    cJSON_Delete(root);
    return rc;
}

/* ---------------------------------------------------------------- one run */
static int exists_in(const char *dir, const char *name) {
    char path[2048];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &sb) == 0;
}

/* rs_cmd_NAME(argc, argv) with argv = {name, pre..., args..., post...}; returns its exit code. */
static int call(int (*fn)(int, char **), const char *name, char **pre, int npre, char **args, int nargs, char **post,
                int npost) {
    char *argv[3 * MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = (char *)name;
    for (int i = 0; i < npre; i++) argv[argc++] = pre[i];
    for (int i = 0; i < nargs; i++) argv[argc++] = args[i];
    for (int i = 0; i < npost; i++) argv[argc++] = post[i];
    argv[argc] = NULL;
    optind = 0; /* a fresh getopt for the command */
    return fn(argc, argv);
}

/* Train (or resume) and measure one run that this process holds the lock of. */
static rs_status train_and_measure(run_spec *r) {
    char out[] = "--out", resume[] = "--resume", quiet[] = "--quiet", run[] = "--run";
    if (exists_in(r->dir, "config.json") && !exists_in(r->dir, "init.safetensors")) { /* killed while created */
        char path[2048];
        snprintf(path, sizeof path, "%s/config.json", r->dir);
        if (unlink(path) != 0) return rs_error(RS_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    }
    int rc;
    if (exists_in(r->dir, "config.json")) {
        char *post[] = {resume, out, r->dir, quiet};
        rc = call(rs_cmd_train, "train", NULL, 0, NULL, 0, post, 4);
    } else {
        char *post[] = {out, r->dir, quiet};
        rc = call(rs_cmd_train, "train", NULL, 0, r->train, r->n_train, post, 3);
    }
    if (rc) return rs_error(RS_ERR_IO, "%s: training failed (exit %d; its message is above)", r->dir, rc);
    for (int m = 0; m < r->measures; m++) {
        char *pre[] = {run, r->dir}, *post[] = {quiet};
        rc = call(rs_cmd_measure, "measure", pre, 2, r->measure[m], r->n_measure[m], post, 1);
        if (rc) return rs_error(RS_ERR_IO, "%s: measurement %d failed (exit %d; its message is above)", r->dir, m + 1, rc);
    }
    char path[2048], host[256] = "?", text[400];
    gethostname(host, sizeof host - 1);
    snprintf(path, sizeof path, "%s/%s", r->dir, SWEEP_DONE);
    int len = snprintf(text, sizeof text, "done by %s pid %ld\n", host, (long)getpid());
    return rs_write_file_atomic(path, text, (size_t)len);
}

static rs_status run_one(int64_t job, void *ctx) {
    run_spec *r = &((grid *)ctx)->runs[job];
    int rank = rs_dist_rank();
    if (exists_in(r->dir, SWEEP_DONE)) {
        fprintf(stderr, "sweep: [rank %d] %s: already done\n", rank, r->dir);
        return RS_OK;
    }
    double t0 = rs_now();
    rs_dist_set_local(1); /* the run is an ordinary one-process run */
    rs_run_lock *lock = NULL;
    rs_status s = rs_mkdir_p(r->dir);
    if (!s) s = rs_run_lock_acquire(r->dir, &lock);
    if (!s && !exists_in(r->dir, SWEEP_DONE)) s = train_and_measure(r); /* done while we waited: nothing to do */
    rs_run_lock_release(lock);
    rs_dist_set_local(0);
    if (s) fprintf(stderr, "sweep: [rank %d] %s: NOT finished: %s\n", rank, r->dir, rs_last_error());
    else fprintf(stderr, "sweep: [rank %d] %s: done (%.1f s)\n", rank, r->dir, rs_now() - t0);
    return s;
}

static void list(const grid *g) {
    int64_t *order = malloc((size_t)g->n * sizeof(int64_t));
    double *cost = malloc((size_t)g->n * sizeof(double));
    if (!order || !cost) {
        free(order), free(cost);
        return;
    }
    for (int i = 0; i < g->n; i++) cost[i] = g->runs[i].cost;
    rs_dist_job_order(g->n, cost, order);
    for (int i = 0; i < g->n; i++) {
        const run_spec *r = &g->runs[order[i]];
        const char *state = exists_in(r->dir, SWEEP_DONE) ? "done" : exists_in(r->dir, "config.json") ? "partial" : "new";
        rs_run_lock *lock = NULL;
        if (strcmp(state, "done") && exists_in(r->dir, "lock")) {
            if (rs_run_lock_acquire(r->dir, &lock) != RS_OK) state = "busy";
            rs_run_lock_release(lock);
        }
        printf("%-8s %8g  %s\n", state, r->cost, r->dir);
    }
    free(order), free(cost);
}

int rs_cmd_sweep(int argc, char **argv) {
    int do_list = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--list")) do_list = 1;
        else if (argv[i][0] == '-') return cli_usage_error(CMD, "unknown option '%s' (relstab sweep --help)", argv[i]);
        else if (path) return cli_usage_error(CMD, "unexpected argument '%s'", argv[i]);
        else path = argv[i];
    }
    if (!path) return cli_usage_error(CMD, "a grid file is required (relstab sweep --help)");
    grid g;
    int rc = grid_read(path, &g);
    if (!rc && do_list && rs_dist_rank() == 0) list(&g);
    if (rc || do_list) {
        grid_free(&g);
        return rc;
    }
    double *cost = malloc((size_t)g.n * sizeof(double));
    rs_status *st = malloc((size_t)g.n * sizeof(rs_status));
    if (!cost || !st) rc = cli_usage_error(CMD, "out of memory");
    for (int i = 0; !rc && i < g.n; i++) cost[i] = g.runs[i].cost, st[i] = RS_OK;
    if (!rc) {
        rs_status s = rs_dist_run_jobs(g.n, cost, run_one, &g, st);
        if (s) rc = cli_fail(CMD, s);
    }
    if (!rc && !rs_dist_barrier()) rs_dist_exit_together(); /* rank 0's exit code needs no abort */
    if (!rc && rs_dist_rank() == 0) {
        int bad = 0;
        for (int i = 0; i < g.n; i++) bad += st[i] != RS_OK;
        printf("sweep: %d of %d runs finished%s\n", g.n - bad, g.n,
               bad ? "; run the same command again to finish the others" : "");
        rc = bad ? 1 : 0;
    }
    free(cost), free(st);
    grid_free(&g);
    return rc;
}
