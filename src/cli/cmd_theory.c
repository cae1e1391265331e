/* cmd_theory.c: `relstab theory`: runs the constant-filter pooling model (SPEC 6), prints D, G, R per layer next to
 * the predicted laws, the fitted exponents with their uncertainties, and optionally writes CSV, a gnuplot figure,
 * the bias study, or the comparison with a trained net's sens.csv. Option parsing and orchestration only; the
 * model lives in src/theory. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli/out_path.h"
#include "relstab/progress.h"
#include "relstab/theory.h"

const char rs_cmd_theory_help[] = "the constant-filter pooling model: D, G, R per layer, laws and fitted exponents";

static const char *CMD = "theory";

static void usage(FILE *f) {
    fprintf(f,
            "usage: relstab theory [options]\n"
            "The constant-filter pooling model (docs/theory.md): L layers of constant filters of size F and stride s,\n"
            "probed with one active pixel at every position; D_k, G_k, R_k after every ReLU, the laws they follow,\n"
            "and least-squares exponents over layers free of finite-size effects.\n\n"
            "model:\n"
            "  --dim 1|2          1D (default) or 2D model\n"
            "  --stride S         1, 2 or the filter size (default 2)\n"
            "  --filter F         filter size, >= 2 (default 2)\n"
            "  --depth L          layers (default: 1D 8 strided / 64 stride 1; 2D 5 / 16; bias study 4)\n"
            "  --size N           probe length (2D: side); default 16 x RF(L) in 1D, 4 x RF(L) in 2D\n"
            "  --probes P         2D only: probe positions, random without replacement (default min(N^2, 1024))\n"
            "  --bias B           bias before every ReLU (default 0)\n"
            "  --padding zero|circular  zero: (F-1)//2 per side, as the reference notebook (default);\n"
            "                     circular: periodic, as the trained 1D nets\n"
            "  --noise-norm ETA   fixed noise norm instead of ||x_d - x|| = sqrt 2\n"
            "  --seed N           noise seed (default 0)\n"
            "  --threads N        threads (default: every free core); results do not depend on it\n"
            "output:\n"
            "  --csv FILE         per-layer CSV (numerators, denominators, D, G, R, laws, exact values)\n"
            "  --plot FILE        figure of D, G, R per layer with the law lines (gnuplot; .png or .svg)\n"
            "bias study (docs/science.md 6.3):\n"
            "  --bias-study       G_L / eta^2 against the noise norm eta for several biases, noise not rectified\n"
            "  --biases LIST      comma-separated biases (default 0,1e-4,1e-3,1e-2,1e-1)\n"
            "  --etas LIST        comma-separated noise norms (default 1e-4 .. 1e4, two per decade)\n"
            "  --repeats N        noise draws averaged per point (default 4)\n"
            "comparison with a trained net:\n"
            "  --compare RUN      a run directory (its sens.csv) or a CSV file with columns node, D, G, R\n"
            "                     (optional layer, epoch, checkpoint, seed; docs/theory.md)\n"
            "  --nodes SEL        which nodes of the file: names, patterns (conv.*.mul), types from its op column\n"
            "                     (relu), all (docs/measure.md); default: the nodes the model describes, the ReLU\n"
            "                     outputs before the first linear node, else the conv.{l}.mul nodes, else all\n"
            "  --compare-nodes S  keep only the nodes whose name contains S (e.g. .mul); then all of them\n"
            "running:\n"
            "  --max-mem MB       refuse a model run that needs more memory than this (default: the memory\n"
            "                     available now, from /proc/meminfo)\n"
            "  --help             this text\n");
}

typedef struct {
    rs_theory_config cfg;
    int depth_set, bias_study, nb, ne;
    int64_t threads, repeats;
    const char *csv, *plot, *compare, *nodes, *select;
    double max_mem;
    double biases[64], etas[128];
} options;

static int parse(options *o, int argc, char **argv) {
    static const struct option opts[] = {
        {"dim", 1, 0, 'd'},     {"stride", 1, 0, 's'},        {"filter", 1, 0, 'f'},   {"depth", 1, 0, 'L'},
        {"size", 1, 0, 'N'},    {"probes", 1, 0, 'P'},        {"bias", 1, 0, 'b'},     {"padding", 1, 0, 'p'},
        {"noise-norm", 1, 0, 'e'}, {"seed", 1, 0, 'S'},       {"threads", 1, 0, 't'},  {"csv", 1, 0, 'c'},
        {"plot", 1, 0, 'o'},    {"bias-study", 0, 0, 'B'},    {"biases", 1, 0, 'x'},   {"etas", 1, 0, 'y'},
        {"repeats", 1, 0, 'r'}, {"compare", 1, 0, 'C'},       {"compare-nodes", 1, 0, 'n'}, {"help", 0, 0, 'h'},
        {"nodes", 1, 0, 'Q'},   {"max-mem", 1, 0, 'M'},
        {0, 0, 0, 0}};
    int64_t v;
    double d;
    optind = 0;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", opts, NULL);
        if (c == -1) break;
        switch (c) {
        case 'h': usage(stdout); return 1;
        case 'd': if (cli_parse_int(CMD, "--dim", optarg, 1, 2, &v)) return -1; o->cfg.dim = (int)v; break;
        case 's': if (cli_parse_int(CMD, "--stride", optarg, 1, RS_THEORY_MAX_FILTER, &v)) return -1; o->cfg.stride = (int)v; break;
        case 'f': if (cli_parse_int(CMD, "--filter", optarg, 2, RS_THEORY_MAX_FILTER, &v)) return -1; o->cfg.filter = (int)v; break;
        case 'L': if (cli_parse_int(CMD, "--depth", optarg, 1, RS_THEORY_MAX_DEPTH, &v)) return -1; o->cfg.depth = (int)v; o->depth_set = 1; break;
        case 'N': if (cli_parse_int(CMD, "--size", optarg, 2, (int64_t)1 << 40, &v)) return -1; o->cfg.size = v; break;
        case 'P': if (cli_parse_int(CMD, "--probes", optarg, 1, (int64_t)1 << 40, &v)) return -1; o->cfg.probes = v; break;
        case 'b': if (cli_parse_double(CMD, "--bias", optarg, -1e300, 1e300, &d)) return -1; o->cfg.bias = d; break;
        case 'e': if (cli_parse_double(CMD, "--noise-norm", optarg, 1e-300, 1e300, &d)) return -1; o->cfg.noise_norm = d; break;
        case 'S': if (cli_parse_int(CMD, "--seed", optarg, 0, INT64_MAX, &v)) return -1; o->cfg.seed = (uint64_t)v; break;
        case 't': if (cli_parse_int(CMD, "--threads", optarg, 0, 4096, &v)) return -1; o->threads = v; break;
        case 'r': if (cli_parse_int(CMD, "--repeats", optarg, 1, 10000, &v)) return -1; o->repeats = v; break;
        case 'p':
            if (!strcmp(optarg, "zero")) o->cfg.padding = RS_THEORY_PAD_ZERO;
            else if (!strcmp(optarg, "circular")) o->cfg.padding = RS_THEORY_PAD_CIRCULAR;
            else return cli_usage_error(CMD, "--padding expects zero or circular, got '%s'", optarg), -1;
            break;
        case 'c': o->csv = optarg; break;
        case 'o': o->plot = optarg; break;
        case 'B': o->bias_study = 1; break;
        case 'x': if ((o->nb = cli_parse_double_list(CMD, "--biases", optarg, o->biases, 64)) < 0) return -1; break;
        case 'y': if ((o->ne = cli_parse_double_list(CMD, "--etas", optarg, o->etas, 128)) < 0) return -1; break;
        case 'C': o->compare = optarg; break;
        case 'n': o->nodes = optarg; break;
        case 'Q': o->select = optarg; break;
        case 'M': if (cli_parse_double(CMD, "--max-mem", optarg, 1, 1e12, &d)) return -1; o->max_mem = d * 1048576.0; break;
        case ':': return cli_usage_error(CMD, "%s needs a value", argv[optind - 1]), -1;
        default: return cli_usage_error(CMD, "unknown option '%s' (relstab theory --help lists them)", argv[optind - 1]), -1;
        }
    }
    if (optind < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]), -1;
    if (o->bias_study && o->compare) return cli_usage_error(CMD, "--bias-study and --compare do not go together"), -1;
    if (!o->bias_study && (o->nb || o->ne || o->repeats))
        return cli_usage_error(CMD, "--biases, --etas and --repeats belong to --bias-study"), -1;
    if (o->bias_study && o->cfg.noise_norm > 0)
        return cli_usage_error(CMD, "--noise-norm does not apply to --bias-study (give the norms with --etas)"), -1;
    if (!o->compare && o->nodes) return cli_usage_error(CMD, "--compare-nodes needs --compare"), -1;
    if (!o->compare && o->select) return cli_usage_error(CMD, "--nodes needs --compare"), -1;
    if (o->plot && (strchr(o->plot, '\'') || strchr(o->plot, '\n')))
        return cli_usage_error(CMD, "--plot path may not contain quotes or newlines: %s", o->plot), -1;
    return 0;
}

static int default_depth(const options *o) {
    if (o->bias_study) return 4;
    if (o->cfg.dim == 1) return o->cfg.stride == 1 ? 64 : 8;
    return o->cfg.stride == 1 ? 16 : 5;
}

static int run_bias_study(options *o) {
    if (!o->nb) {
        const double b[5] = {0, 1e-4, 1e-3, 1e-2, 1e-1};
        memcpy(o->biases, b, sizeof b);
        o->nb = 5;
    }
    if (!o->ne)
        for (o->ne = 0; o->ne < 17; o->ne++) o->etas[o->ne] = pow(10.0, -4.0 + 0.5 * o->ne);
    rs_theory_bias_config bc = {o->cfg, o->biases, o->nb, o->etas, o->ne, o->repeats ? (int)o->repeats : 4};
    rs_theory_bias_result br;
    double t0 = rs_now();
    rs_status st = rs_theory_bias_run(&bc, &br);
    if (st != RS_OK) return cli_fail(CMD, st);
    rs_theory_print_bias(stdout, &bc, &br);
    printf("time %.2f s on %d threads\n", rs_now() - t0, rs_get_threads());
    if (o->csv && (st = rs_theory_write_bias_csv(o->csv, &bc, &br)) == RS_OK) printf("wrote %s\n", o->csv);
    if (st == RS_OK && o->plot && (st = rs_theory_plot(o->plot, NULL, NULL, 0, &bc, &br)) == RS_OK)
        printf("wrote %s\n", o->plot);
    rs_theory_bias_result_free(&br);
    return st == RS_OK ? 0 : cli_fail(CMD, st);
}

static rs_status read_compare(const options *o, rs_theory_net_layer **net, int *n_net) {
    char path[4096];
    struct stat sb;
    if (stat(o->compare, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        if (snprintf(path, sizeof path, "%s/sens.csv", o->compare) >= (int)sizeof path)
            return rs_error(RS_ERR_ARG, "--compare path too long");
    } else {
        snprintf(path, sizeof path, "%s", o->compare);
    }
    char note[256];
    const char *sel = o->select ? o->select : o->nodes ? "all" : NULL;
    RS_TRY(rs_theory_read_sens_nodes(path, o->nodes, sel, net, n_net, note, sizeof note));
    printf("compare %s: %s\n", path, note);
    return RS_OK;
}

/* Bytes of memory available now (MemAvailable of /proc/meminfo), or -1 when unknown. */
static double mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return -1;
    char line[256];
    double kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) break;
    fclose(f);
    return kb < 0 ? -1 : kb * 1024.0;
}

/* Refuses a model run whose buffers (rs_theory_bytes) exceed --max-mem or the memory available, before any work;
 * starts the progress bar of the run (two passes over the probes). */
static rs_status check_memory(const options *o, rs_bar *bar) {
    rs_theory_config c = o->cfg;
    rs_bar_start(bar, "theory model", 1, "probes", 1, 0);
    RS_TRY(rs_theory_resolve(&c));
    rs_bar_start(bar, "theory model", 2 * c.probes, "probes", 0, -1);
    double need = (double)rs_theory_bytes(&c, rs_get_threads());
    double cap = o->max_mem > 0 ? o->max_mem : mem_available();
    if (cap > 0 && need > cap)
        return rs_error(RS_ERR_ARG, "the model run (size %lld, %lld probes, depth %d) needs about %.0f MB, more than "
                        "the %.0f MB %s: lower --size, --probes or --depth", (long long)c.size, (long long)c.probes,
                        c.depth, need / 1048576.0, cap / 1048576.0, o->max_mem > 0 ? "of --max-mem" : "available");
    return RS_OK;
}

int rs_cmd_theory(int argc, char **argv) {
    options o;
    memset(&o, 0, sizeof o);
    o.cfg = rs_theory_defaults();
    int pr = parse(&o, argc, argv);
    if (pr) return pr > 0 ? 0 : 2;
    if ((o.csv && cli_check_out_file(CMD, "--csv", o.csv)) || (o.plot && cli_check_out_file(CMD, "--plot", o.plot)))
        return 1; /* before any work, and before gnuplot could complain in its own words */
    cli_threads(o.threads);
    if (o.bias_study) {
        if (!o.depth_set) o.cfg.depth = default_depth(&o);
        return run_bias_study(&o);
    }
    rs_theory_net_layer *net = NULL;
    int n_net = 0;
    rs_status st;
    if (o.compare) {
        if ((st = read_compare(&o, &net, &n_net)) != RS_OK) return cli_fail(CMD, st);
        if (!o.depth_set) o.cfg.depth = net[n_net - 1].k;
    } else if (!o.depth_set) {
        o.cfg.depth = default_depth(&o);
    }
    rs_theory_result r;
    rs_bar bar;
    if ((st = check_memory(&o, &bar)) == RS_OK) {
        o.cfg.progress = &bar;
        st = rs_theory_run(&o.cfg, &r);
        o.cfg.progress = NULL;
    }
    if (st != RS_OK) {
        rs_bar_end(&bar);
        rs_free(net);
        return cli_fail(CMD, st);
    }
    rs_bar_line(&bar, "theory: the model ran %lld probes x 2 passes, depth %d, in %.2f s", (long long)r.n_probes,
                r.cfg.depth, r.seconds);
    rs_theory_print(stdout, &r);
    if (net) rs_theory_print_compare(stdout, &r, net, n_net);
    if (o.csv && (st = rs_theory_write_csv(o.csv, &r)) == RS_OK) printf("wrote %s\n", o.csv);
    if (st == RS_OK && o.plot && (st = rs_theory_plot(o.plot, &r, net, n_net, NULL, NULL)) == RS_OK)
        printf("wrote %s\n", o.plot);
    rs_theory_result_free(&r);
    rs_free(net);
    return st == RS_OK ? 0 : cli_fail(CMD, st);
}
