/* main.c: `relstab <command> [options]`: dispatches to the subcommands listed in the generated commands.h.
 * The only place (with the subcommands) that decides an exit code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "relstab/dist.h"
#include "relstab/ops.h"
#include "relstab/tensor.h"

static void usage(FILE *f) {
    fprintf(f, "usage: relstab <command> [options]      (relstab <command> --help for its options)\n\n");
    fprintf(f, "relstab %s: sensitivity of deep nets to diffeomorphisms and noise (D, G, R), training, theory.\n\n",
            RELSTAB_VERSION);
    fprintf(f, "commands:\n");
    for (const rs_command *c = rs_commands; c->name; c++) fprintf(f, "  %-10s %s\n", c->name, c->help);
}

static int run(int argc, char **argv);

/* Under mpirun every rank runs the same command (rs_dist_init joins the job; alone it does nothing). */
int main(int argc, char **argv) {
    rs_threads_startup(argv); /* idle OpenMP threads must yield on a busy machine: see src/core/threads.c */
    rs_dist_init(&argc, &argv); /* under mpirun: join the job (after the re-execution above, if any) */
    int rc = run(argc, argv);
    rs_dist_finalize(rc);
    return rc;
}

static int run(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        char fast[128];
        rs_backend_describe(fast, sizeof fast);
        const char *wait = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
        const int avail = rs_threads_available(), busy = rs_threads_busy();
        printf("relstab %s\nfast path: %s; threads: %d by default (the %d cores this process may run on, less %d busy "
               "with other processes); OpenMP wait policy: %s\n",
               RELSTAB_VERSION, fast, avail - busy, avail, busy,
               wait ? wait : spin ? "GOMP_SPINCOUNT set" : "runtime default (spinning)");
        return 0;
    }
    for (const rs_command *c = rs_commands; c->name; c++)
        if (!strcmp(argv[1], c->name)) return c->run(argc - 1, argv + 1);
    fprintf(stderr, "relstab: unknown command '%s' (relstab --help lists the commands)\n", argv[1]);
    return 2;
}
