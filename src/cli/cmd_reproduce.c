/* cmd_reproduce.c: `relstab reproduce`: the paper's experiments, figure by figure, as grids of training runs with
 * figures, tables, verdicts and an HTML report. Parses flags and calls rs_reproduce (src/experiments). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "relstab/dist.h"
#include "relstab/experiments.h"

const char rs_cmd_reproduce_help[] = "the paper's experiments, figure by figure, with figures, verdicts and a report";

#define CMD "reproduce"

static void usage(FILE *f) {
    fprintf(f,
            "usage: relstab reproduce EXPERIMENT|all --out DIR [--scale quick|full|tiny] [--data SPEC] [--seeds N]\n"
            "                         [--models LIST] [--dry-run] [--jobs N] [--threads N] [--quiet]\n"
            "       mpirun -n N relstab reproduce EXPERIMENT|all --out DIR ...\n"
            "Runs the experiments behind the paper's figures (docs/experiments.md):\n"
            "  theory            the constant-filter pooling model: D, G, R per layer and their laws\n"
            "  scale1d           the 1-D pooling CNN on 1-D scale detection, against the theory\n"
            "  output-vs-error   CNNs and FCNs at several input-noise levels: D, G, R at the output vs test error\n"
            "  layers            D, G, R at every node of VGG11, VGG11bn, AlexNet, LeNet: init, trained, shuffled\n"
            "  twopoints         deep nets on 2-D scale detection: test errors, D, G, R per node, shuffled\n"
            "  spectra           grid-Laplacian spectra of the filters by layer (the layers and twopoints nets)\n"
            "  all               every one, in this order\n"
            "  report            only rewrite DIR/index.html from the experiments found in DIR\n"
            "Every run is an ordinary run directory under DIR/runs: rerunning skips finished runs and resumes\n"
            "interrupted ones. Tables, figures and verdicts go to DIR/EXPERIMENT, the report to DIR/index.html.\n"
            "Under mpirun (DIR on a file system every rank sees), rank 0 hands each grid's runs out, longest first,\n"
            "to ranks 1..N-1, one run per rank at a time, then aggregates, draws and writes the report alone; a run\n"
            "killed with its rank is resumed by the same command run again (docs/cluster.md).\n\n"
            "  --out DIR           output directory (required)\n"
            "  --scale S           quick (default: minutes on 2 cores), full (the paper's settings), tiny (seconds,\n"
            "                      for tests only)\n"
            "  --data SPEC         fashionmnist (default) or cifar10:DIR (the real-image experiments)\n"
            "  --seeds N           seeds 0..N-1 for every model (default: the scale's choice)\n"
            "  --models LIST       keep only these models of the grids (comma-separated, e.g. lenet,vgg11)\n"
            "  --dry-run           list the grid with estimated times and what is done; run nothing\n"
            "  --jobs N            runs side by side (forked processes, each with cores/N threads; default 1);\n"
            "                      not under mpirun, where the ranks are the runs side by side\n"
            "  --threads N         threads of each run with --jobs 1 (default: every free core; under mpirun: the\n"
            "                      cores of the node divided by its ranks, or OMP_NUM_THREADS)\n"
            "  --quiet             no progress lines\n");
}

int rs_cmd_reproduce(int argc, char **argv) {
    static const struct option lo[] = {
        {"out", 1, 0, 'o'},   {"scale", 1, 0, 's'},   {"data", 1, 0, 'd'},    {"seeds", 1, 0, 'n'},
        {"dry-run", 0, 0, 'y'}, {"jobs", 1, 0, 'j'}, {"threads", 1, 0, 't'}, {"quiet", 0, 0, 'q'},
        {"models", 1, 0, 'm'}, {"help", 0, 0, 'h'},  {0, 0, 0, 0}};
    rs_reproduce_opts o = {.jobs = 1};
    int64_t v, threads = 0;
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'h': usage(stdout); return 0;
        case 'o': o.out = optarg; break;
        case 's':
            if (rs_scale_parse(optarg, &o.scale)) return cli_fail(CMD, RS_ERR_ARG);
            break;
        case 'd': o.data = optarg; break;
        case 'n':
            if (cli_parse_int(CMD, "--seeds", optarg, 1, 1000, &v)) return 2;
            o.seeds = (int32_t)v;
            break;
        case 'y': o.dry_run = 1; break;
        case 'j':
            if (cli_parse_int(CMD, "--jobs", optarg, 1, 256, &v)) return 2;
            o.jobs = (int32_t)v;
            break;
        case 't':
            if (cli_parse_int(CMD, "--threads", optarg, 0, 4096, &threads)) return 2;
            break;
        case 'q': o.quiet = 1; break;
        case 'm': o.models = optarg; break;
        default:
            return cli_usage_error(CMD, "unknown or incomplete option '%s' (relstab reproduce --help)",
                                   argv[optind - 1]);
        }
    }
    if (optind >= argc) return cli_usage_error(CMD, "give an experiment (%s) or all", rs_experiment_names());
    if (optind + 1 < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind + 1]);
    if (!o.out) return cli_usage_error(CMD, "--out DIR is required");
    if (rs_dist_size() > 1 && o.jobs > 1)
        return cli_usage_error(CMD, "--jobs %d under mpirun: the %d ranks already run the runs side by side (one run "
                               "per rank 1..%d); start more ranks instead", (int)o.jobs, rs_dist_size(),
                               rs_dist_size() - 1);
    int root = rs_dist_rank() == 0;
    const char *name = argv[optind];
    if (!strcmp(name, "report")) { /* only rewrite DIR/index.html from what is there (rank 0 alone) */
        if (!root) return 0;
        rs_status s = rs_report_write(o.out);
        if (s) return cli_fail(CMD, s);
        printf("report: %s/index.html\n", o.out);
        return 0;
    }
    int known = !strcmp(name, "all");
    for (int32_t i = 0; i < rs_experiment_count(); i++) known |= !strcmp(name, rs_experiment_name(i));
    if (!known) return cli_usage_error(CMD, "unknown experiment '%s' (known: all, %s)", name, rs_experiment_names());
    if (o.data && strcmp(o.data, "fashionmnist") && strncmp(o.data, "cifar10:", 8))
        return cli_usage_error(CMD, "--data expects fashionmnist or cifar10:DIR, got '%s'", o.data);
    o.threads = cli_threads(threads); /* 0: every free core; under mpirun, this rank's share of its node */
    rs_status s = rs_reproduce(name, &o); /* under mpirun: every rank, the same status on all */
    if (s) return cli_fail(CMD, s);
    if (!o.dry_run && root) printf("report: %s/index.html\n", o.out);
    return 0;
}
