/* dist_testutil.h: what the data-parallel training tests (test_dist_train.c, test_dist_bn.c) share: running
 * relstab train on N ranks (mpirun; alone for N = 1) into a temporary directory, and comparing two runs' final
 * weights and loss curves against the tolerance TOL derived in test_dist_train.c. Static functions: each test
 * program includes it once. */
#pragma once
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relstab/dist.h"
#include "relstab/io.h"
#include "testutil.h"

#define TOL 1e-4
static const char *DATA = "twopoints:d=12,xi=4,labels=hinge,testsize=64,ptr=16";
static char g_tmp[512]; /* set by main: the tests' directory */

static int have_mpi(void) {
    return rs_dist_built() && tu_system("command -v mpirun >/dev/null 2>&1") == 0 && getenv("RELSTAB_BIN");
}

/* "mpirun ... -n N " with one OpenMP thread per rank and the sanitizer settings that are set passed on; under
 * ASan, LeakSanitizer reads tests/cli/mpi_lsan.supp (leaks inside Open MPI only; see that file). */
static const char *mpirun(int n) {
    static char buf[1024];
    if (getenv("ASAN_OPTIONS") && !getenv("RELSTAB_MPI_LSAN")) {
        char opts[1024], lsan[700];
        snprintf(opts, sizeof opts, "%s:fast_unwind_on_malloc=0", getenv("ASAN_OPTIONS"));
        setenv("ASAN_OPTIONS", opts, 1);
        snprintf(lsan, sizeof lsan, "suppressions=%s/tests/cli/mpi_lsan.supp:print_suppressions=0", RELSTAB_SOURCE_DIR);
        setenv("LSAN_OPTIONS", lsan, 1);
        setenv("OMPI_MCA_mca_base_component_disable_dlclose", "1", 1);
        setenv("PMIX_MCA_mca_base_component_disable_dlclose", "1", 1);
        setenv("RELSTAB_MPI_LSAN", "1", 1);
    }
    int len = snprintf(buf, sizeof buf, "mpirun --oversubscribe %s-n %d -x OMP_NUM_THREADS=1 ",
                       getuid() == 0 ? "--allow-run-as-root " : "", n);
    const char *pass[] = {"LSAN_OPTIONS", "ASAN_OPTIONS", "UBSAN_OPTIONS", "OMPI_MCA_mca_base_component_disable_dlclose",
                          "PMIX_MCA_mca_base_component_disable_dlclose"};
    for (int i = 0; i < 5; i++)
        if (getenv(pass[i])) len += snprintf(buf + len, sizeof buf - (size_t)len, "-x %s ", pass[i]);
    return buf;
}

/* relstab train ARGS --out DIR on n ranks (n = 1: alone, without mpirun). */
static void train(int n, const char *dir, const char *args) {
    char cmd[4096];
    const char *launcher = n > 1 ? mpirun(n) : "";
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 %s'%s' train --model gapmf --width 8 --depth 2 --data '%s' "
             "--loss hinge --batch 16 --lr 5 --sched constant --quiet %s --out '%s/%s' >/dev/null", launcher,
             getenv("RELSTAB_BIN"), DATA, args, g_tmp, dir);
    int rc = tu_system(cmd);
    if (rc != 0) fprintf(stderr, "failed (%d): %s\n", rc, cmd);
    assert_int_equal(rc, 0);
}

static rs_safetensors *load(const char *dir, const char *file) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", g_tmp, dir, file);
    rs_safetensors *st = NULL;
    assert_int_equal(rs_safetensors_read(path, &st), RS_OK);
    return st;
}

/* max |a - b| over the F32 tensors of two runs' last weights, and max |a - init| (the training displacement). */
static void weight_diff(const char *a, const char *b, double *diff, double *moved) {
    rs_safetensors *x = load(a, "last.safetensors"), *y = load(b, "last.safetensors"), *z = load(a, "init.safetensors");
    *diff = 0, *moved = 0;
    assert_int_equal(x->n_tensors, y->n_tensors);
    for (int32_t i = 0; i < x->n_tensors; i++) {
        const rs_st_tensor *t = &x->tensors[i], *u = rs_safetensors_get(y, t->name), *v = rs_safetensors_get(z, t->name);
        assert_non_null(u);
        assert_non_null(v);
        assert_int_equal(t->nbytes, u->nbytes);
        if (t->dtype != RS_DTYPE_F32) {
            assert_memory_equal(t->data, u->data, t->nbytes); /* counters */
            continue;
        }
        const float *p = t->data, *q = u->data, *r = v->data;
        for (size_t j = 0; j < t->nbytes / 4; j++) {
            *diff = fmax(*diff, fabs((double)p[j] - q[j]));
            *moved = fmax(*moved, fabs((double)p[j] - r[j]));
        }
    }
    rs_safetensors_free(x), rs_safetensors_free(y), rs_safetensors_free(z);
}

/* The train_loss column of log.csv; returns the number of rows. */
static int losses(const char *dir, double *out, int max) {
    char path[1024], line[1024];
    snprintf(path, sizeof path, "%s/%s/log.csv", g_tmp, dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int n = 0;
    assert_non_null(fgets(line, sizeof line, f));
    while (n < max && fgets(line, sizeof line, f)) {
        int e;
        double lr;
        assert_int_equal(sscanf(line, "%d,%lf,%lf", &e, &lr, &out[n]), 3);
        n++;
    }
    fclose(f);
    return n;
}

/* The worst loss difference of two runs over n rows (same count required), relative to the first run's first
 * loss (the scale of the curve: a loss near 0 is compared at that scale, not at its own). */
static double loss_diff(const char *a, const char *b, int rows) {
    double la[64], lb[64], worst = 0;
    assert_int_equal(losses(a, la, 64), rows);
    assert_int_equal(losses(b, lb, 64), rows);
    for (int i = 0; i < rows; i++) worst = fmax(worst, fabs(la[i] - lb[i]) / fabs(la[0]));
    return worst;
}

/* Runs one and many agree: weights within TOL of the displacement, loss curves within TOL of the loss scale. */
static void compare(const char *one, const char *many, int rows) {
    double diff, moved, ld = loss_diff(one, many, rows);
    weight_diff(one, many, &diff, &moved);
    printf("    %s vs %s: max |dw| %.3g = %.3g of the displacement %.3g; losses %.3g relative\n", one, many, diff,
           diff / moved, moved, ld);
    assert_true(moved > 1e-3); /* the net did train */
    assert_true(diff <= TOL * moved);
    assert_true(ld <= TOL);
}

