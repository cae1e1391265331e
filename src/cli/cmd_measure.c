/* cmd_measure.c: `relstab measure`: D, G and R = D/G at every (or chosen) node of a net, for a run directory, a
 * model with safetensors weights, or a freshly initialised model; writes the tidy CSV / JSON and prints a table.
 * The numbers come from rs_measure (src/measure); this file only parses flags and reports. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/model_cli.h"
#include "relstab/dist.h"
#include "cli/out_path.h"
#include "relstab/plot.h"
#include "relstab/measure.h"

const char rs_cmd_measure_help[] = "D, G, R (sensitivity to diffeomorphisms and noise) at every node of a net";

#define CMD "measure"

static void usage(FILE *f) {
    fprintf(f,
        "usage: relstab measure (--run DIR [--checkpoint best|last|init] | --model NAME (--weights F | --init))\n"
        "                       [--data SPEC] [options]\n"
        "Measures, at every node of the net (except the input) or at the --nodes given, on P probe images:\n"
        "  D = mean_p ||f(tau x_p) - f(x_p)||^2 / deno     (tau: a random diffeomorphism per image)\n"
        "  G = mean_p ||f(x_p + eta_p) - f(x_p)||^2 / deno (eta: Gaussian noise with ||eta_p|| = ||tau x_p - x_p||)\n"
        "  R = D / G,   deno = mean over all P^2 pairs of ||f(x_p) - f(x_q)||^2 + 1e-10\n"
        "with standard errors; docs/measure.md defines every column of the results.\n\n"
        "the net:\n"
        "  --run DIR           a training run directory (config.json, *.safetensors); its dataset by default\n"
        "  --checkpoint C      best (default), last or init (init: batch norm with batch statistics)\n"
        "  --onnx FILE         an ONNX model with its weights (docs/onnx.md)\n"
        "  --model NAME        a zoo model (relstab info --list), with --weights F.safetensors or --init\n"
        "  --init              a fresh initialisation from --init-seed (default: --seed)\n"
        "  model options (with --model; every one as for relstab info / train, the input size and classes\n"
        "  default to --data's and must agree with it): --channels --size --classes --width --depth\n"
        "  --filter-size --stride --strides --pbc --bn --last-bias --alpha (relstab info --help)\n"
        "  --mode init|trained override: init = batch norm with batch statistics, trained = running statistics\n"
        "  --shuffle 0|1|2     permute the input (1) or input and output (2) channels of every conv weight\n"
        "the probe set:\n"
        "  --data SPEC         dataset (fashionmnist, cifar10:DIR, twopoints, scale1d, npy:DIR, ...): test split\n"
        "  --P N               probe images (default 500)\n"
        "  --first             the first P test images instead of a seeded sample\n"
        "  --seed S            seed of the probe sample, the perturbations and the shuffling (default 0)\n"
        "  --seeds K           independent draws, combined by geometric mean (default 1)\n"
        "  --resample          each draw also takes its own probe sample\n"
        "perturbations:\n"
        "  --perturb M         auto (default: local translations for twopoints/scale1d, else diffeo; on twopoints\n"
        "                      --interp nearest means the diffeo, as the reference), diffeo, translate\n"
        "  --delta D | --T T   diffeo size: typical displacement in pixels (default 1) or the temperature\n"
        "  --cut C             high-frequency cutoff c >= 2 (default 3)\n"
        "  --interp M          linear (default), nearest, gaussian (then the clean images are smoothed too)\n"
        "  --noise N           matched (default), rectified (the 1-D paper's), norm=X, or diffeo (a check: R = 1)\n"
        "estimator and representation:\n"
        "  --estimator E       mean (default, the paper's) or median (NeurIPS 2021; holds activations in memory)\n"
        "  --median-mem MB     activations the median estimator may hold at once (default 1024)\n"
        "  --channel-mean      measure the mean over channels of each node's output (--no-channel-mean: not)\n"
        "  on scale1d the defaults are the 1-D paper's: --noise rectified and --channel-mean (the header says so)\n"
        "  --aliased           reproduce the reference's in-place ReLU aliasing (VGG, AlexNet: a conv or BN node\n"
        "                      followed by nn.ReLU(inplace=True) reports the ReLU's output), to compare with\n"
        "                      published numbers; the default measures every node's true output\n"
        "  --nodes SEL         comma-separated node names, glob patterns on names ('features.*'), node types\n"
        "                      (relu, conv, bn, pool, fc, or type:T,... when a type is also a node's name), all,\n"
        "                      or reference (the nodes the authors' measurement keeps); default: all\n"
        "running and output:\n"
        "  --batch B           images per forward (default 100; at init, nets with batch norm use P)\n"
        "  --threads N         threads (default: every free core)\n"
        "  --out FILE          the tidy CSV, one row per node (--append adds to an existing one)\n"
        "  --json FILE         the same as JSON, with each draw's values\n"
        "  --plot FIG          figure of D, G, R by node (.png or .svg; with --append, every group in --out)\n"
        "  --dump DIR          probe.npy, deformed.npy, noisy.npy, index.npy: the exact inputs used\n"
        "  --quiet             no table\n");
}

typedef struct {
    rs_net_source src;
    model_cli mc;
    rs_measure_opts m;
    const char *nodes, *out, *json, *mode, *plot;
    int64_t threads, shuffle;
    int have_T, have_delta, have_init_seed, append, quiet, have_batch;
    int have_noise, have_chmean, no_chmean, task1d; /* task1d: scale1d defaults applied (noise, channel mean) */
} opts;

static int parse_perturb(const char *s, rs_move_kind *m) {
    if (!strcmp(s, "auto")) *m = RS_MOVE_AUTO;
    else if (!strcmp(s, "diffeo")) *m = RS_MOVE_DIFFEO;
    else if (!strcmp(s, "translate")) *m = RS_MOVE_TRANSLATE;
    else return cli_usage_error(CMD, "--perturb expects auto, diffeo or translate, got '%s'", s), -1;
    return 0;
}

static int parse_int32(const char *flag, const char *s, int64_t lo, int64_t hi, int32_t *out) {
    int64_t v;
    if (cli_parse_int(CMD, flag, s, lo, hi, &v)) return -1;
    *out = (int32_t)v;
    return 0;
}

static int parse_option(int ch, opts *o) {
    int64_t v;
    double d;
    rs_measure_opts *m = &o->m;
    switch (ch) {
    case 'J': o->have_init_seed = 1; return model_cli_net_source(&o->mc, CMD, ch, optarg, &o->src);
    case 'o': o->mode = optarg; return 0;
    case 'u': return cli_parse_int(CMD, "--shuffle", optarg, 0, 2, &o->shuffle);
    case 'P': return cli_parse_int(CMD, "--P", optarg, 1, INT32_MAX, &m->P);
    case 'f': m->probe = RS_PROBE_FIRST; return 0;
    case 's': return cli_parse_int(CMD, "--seed", optarg, 0, INT64_MAX, &v) ? -1 : (m->seed = (uint64_t)v, 0);
    case 'K': return parse_int32("--seeds", optarg, 1, RS_MEASURE_MAX_SEEDS, &m->seeds);
    case 'a': m->resample = 1; return 0;
    case 'p': return parse_perturb(optarg, &m->move);
    case 'd': o->have_delta = 1; return cli_parse_double(CMD, "--delta", optarg, 0, 1e6, &m->delta);
    case 'T': o->have_T = 1; return cli_parse_double(CMD, "--T", optarg, 1e-300, 1e6, &m->T);
    case 'c': return parse_int32("--cut", optarg, 2, RS_DIFFEO_MAX_CUT, &m->cut);
    case 'i': return rs_interp_parse(optarg, &m->interp) ? (cli_fail(CMD, RS_ERR_ARG), -1) : 0;
    case 'n': o->have_noise = 1; return rs_noise_parse(optarg, &m->noise, &m->noise_norm) ? (cli_fail(CMD, RS_ERR_ARG), -1) : 0;
    case 'e': return rs_estimator_parse(optarg, &m->estimator) ? (cli_fail(CMD, RS_ERR_ARG), -1) : 0;
    case 'm': return cli_parse_double(CMD, "--median-mem", optarg, 1, 1e9, &d) ? -1 : (m->median_mem = d * 1048576.0, 0);
    case 'C': o->have_chmean = 1, m->channel_mean = 1; return 0;
    case 'c' + 256: o->no_chmean = 1, m->channel_mean = 0; return 0;
    case 'c' + 512: m->aliased = 1; return 0;
    case 'N': o->nodes = optarg; return 0;
    case 'b': o->have_batch = 1; return parse_int32("--batch", optarg, 1, 1 << 20, &m->batch);
    case 't': return cli_parse_int(CMD, "--threads", optarg, 0, 4096, &o->threads);
    case 'O': o->out = optarg; return 0;
    case 'A': o->append = 1; return 0;
    case 'j': o->json = optarg; return 0;
    case 'G': o->plot = optarg; return 0;
    case 'x': m->dump_dir = optarg; return 0;
    case 'q': o->quiet = 1; return 0;
    }
    return model_cli_net_source(&o->mc, CMD, ch, optarg, &o->src) ? -1 : 0;
}

/* Returns 0 to go on, 1 after --help, 2 on a usage error (message printed). */
static int parse(int argc, char **argv, opts *o) {
    static const struct option lo[] = {
        {"run", 1, 0, 'r'}, {"onnx", 1, 0, 'X'}, {"checkpoint", 1, 0, 'k'}, {"model", 1, 0, 'M'}, {"weights", 1, 0, 'w'},
        {"init", 0, 0, 'I'}, {"init-seed", 1, 0, 'J'}, MODEL_CLI_LONG_OPTIONS, {"mode", 1, 0, 'o'}, {"shuffle", 1, 0, 'u'},
        {"data", 1, 0, 'D'}, {"P", 1, 0, 'P'}, {"first", 0, 0, 'f'}, {"seed", 1, 0, 's'}, {"seeds", 1, 0, 'K'},
        {"resample", 0, 0, 'a'}, {"perturb", 1, 0, 'p'}, {"delta", 1, 0, 'd'}, {"T", 1, 0, 'T'}, {"cut", 1, 0, 'c'},
        {"interp", 1, 0, 'i'}, {"noise", 1, 0, 'n'}, {"estimator", 1, 0, 'e'}, {"median-mem", 1, 0, 'm'},
        {"channel-mean", 0, 0, 'C'}, {"aliased", 0, 0, 'c' + 512}, {"no-channel-mean", 0, 0, 'c' + 256}, {"nodes", 1, 0, 'N'}, {"batch", 1, 0, 'b'}, {"threads", 1, 0, 't'},
        {"out", 1, 0, 'O'}, {"append", 0, 0, 'A'}, {"json", 1, 0, 'j'}, {"plot", 1, 0, 'G'}, {"dump", 1, 0, 'x'}, {"quiet", 0, 0, 'q'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    rs_net_source_init(&o->src);
    model_cli_init(&o->mc);
    rs_measure_opts_default(&o->m);
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            return 1;
        }
        if (ch == '?' || ch == ':')
            return cli_usage_error(CMD, "unknown or incomplete option '%s' (relstab measure --help)", argv[optind - 1]);
        if (parse_option(ch, o)) return 2;
    }
    model_cli_finish_source(&o->mc, &o->src);
    if (optind < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (o->have_T && o->have_delta) return cli_usage_error(CMD, "give --delta or --T, not both");
    if (!o->src.run_dir && !o->src.model && !o->src.onnx)
        return cli_usage_error(CMD, "give --run DIR or --model NAME or --onnx FILE (relstab measure --help)");
    if (o->src.model && !o->src.data) return cli_usage_error(CMD, "--model needs --data SPEC (the probe images)");
    if (o->src.onnx && !o->src.data) return cli_usage_error(CMD, "--onnx needs --data SPEC (the probe images)");
    if (o->mode && strcmp(o->mode, "init") && strcmp(o->mode, "trained"))
        return cli_usage_error(CMD, "--mode expects init or trained, got '%s'", o->mode);
    if (o->append && !o->out) return cli_usage_error(CMD, "--append needs --out FILE");
    if (o->plot && rs_plot_format_of(o->plot) < 0) return cli_usage_error(CMD, "--plot %s: not .png or .svg", o->plot);
    if (o->have_chmean && o->no_chmean) return cli_usage_error(CMD, "give --channel-mean or --no-channel-mean, not both");
    if (o->m.P < (o->m.estimator == RS_EST_MEDIAN ? 3 : 2))
        return cli_usage_error(CMD, "--P %lld: the %s estimator needs P >= %d probe images (its denominator compares "
                               "images)", (long long)o->m.P, rs_estimator_name(o->m.estimator),
                               o->m.estimator == RS_EST_MEDIAN ? 3 : 2);
    if (!o->have_init_seed) o->src.init_seed = o->m.seed;
    return 0;
}

static void print_header(const opts *o, const rs_net_source_info *info, const rs_measure_result *r) {
    const rs_measure_opts *m = &o->m;
    char noise[64];
    if (m->noise == RS_NOISE_NORM) snprintf(noise, sizeof noise, "norm=%g", m->noise_norm);
    else snprintf(noise, sizeof noise, "%s", rs_noise_kind_name(m->noise));
    printf("%s (%s, %s) on %s: P = %lld%s, %d draw%s, seed %llu\n", info->model, info->checkpoint,
           m->mode == RS_MODE_INIT_EVAL ? "init: batch statistics" : "trained: eval mode", info->data,
           (long long)r->P, m->probe == RS_PROBE_FIRST ? " (first)" : "", (int)r->seeds, r->seeds > 1 ? "s" : "",
           (unsigned long long)m->seed);
    if (o->task1d)
        printf("scale1d: the 1-D paper's setting by default (%s%s%s; --noise matched, --no-channel-mean to change)\n",
               !o->have_noise ? "rectified noise" : "", !o->have_noise && m->channel_mean && !o->have_chmean ? ", " : "",
               m->channel_mean && !o->have_chmean ? "channel mean" : "");
    if (m->aliased)
        printf("aliased: nodes followed by an in-place ReLU report its output (the reference's torch.fx extraction)\n");
    if (!strcmp(r->move, "diffeo"))
        printf("diffeo T = %.4e (delta %.3g px, c = %d, %s), noise %s, estimator %s%s%s\n", r->T, r->delta, (int)r->cut,
               rs_interp_name(m->interp), noise, rs_estimator_name(m->estimator),
               m->channel_mean ? ", channel mean" : "", o->shuffle ? (o->shuffle == 1 ? ", shuffle 1" : ", shuffle 2") : "");
    else
        printf("%s (local translations), noise %s, estimator %s%s%s\n", r->move, noise, rs_estimator_name(m->estimator),
               m->channel_mean ? ", channel mean" : "", o->shuffle ? (o->shuffle == 1 ? ", shuffle 1" : ", shuffle 2") : "");
}

static rs_status plot_depth(const opts *o, const rs_measure_result *r, const rs_measure_tags *t) {
    char tmp[4200];
    const char *td = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/relstab-measure-%ld.csv", td && *td ? td : "/tmp", (long)getpid());
    rs_status s = o->out ? RS_OK : rs_measure_write_csv(tmp, r, &o->m, t, 0);
    if (!s) s = rs_plot_depth(o->out ? o->out : tmp, o->plot, NULL, NULL);
    if (!o->out) unlink(tmp);
    return s;
}

static int run(opts *o) {
    rs_net *net = NULL;
    rs_dataset *ds = NULL;
    rs_net_source_info info;
    rs_status s = rs_net_source_open(&o->src, &net, &ds, &info);
    if (s) return cli_fail(CMD, s);
    if (!ds) {
        rs_net_free(net);
        return cli_usage_error(CMD, "no dataset: give --data SPEC");
    }
    o->m.mode = o->mode ? (strcmp(o->mode, "init") ? RS_MODE_EVAL : RS_MODE_INIT_EVAL) : info.mode;
    if (!strcmp(ds->name, "scale1d") && (!o->have_noise || (!o->have_chmean && !o->no_chmean))) {
        o->task1d = 1; /* the 1-D paper's setting, unless the flags say otherwise */
        if (!o->have_noise) o->m.noise = RS_NOISE_RECTIFIED;
        if (!o->have_chmean && !o->no_chmean) o->m.channel_mean = 1;
    }
    int root = rs_dist_rank() == 0; /* under mpirun: every rank measures its share, rank 0 writes */
    o->m.progress = !o->quiet && root;
    if (!root) o->m.dump_dir = NULL; /* the inputs do not depend on where they are written */
    int32_t *nodes = NULL, n_nodes = 0, shuffled = 0;
    if (o->nodes) s = rs_measure_parse_nodes(net, o->nodes, &nodes, &n_nodes);
    if (!s) s = rs_shuffle_channels(net, (int32_t)o->shuffle, o->m.seed, &shuffled);
    int has_bn = 0;
    for (int32_t i = 0; i < net->n_nodes; i++) has_bn |= net->nodes[i].op == RS_OP_BATCHNORM;
    if (!o->have_batch) o->m.batch = has_bn && o->m.mode == RS_MODE_INIT_EVAL ? 0 : 100; /* 0: P (rs_measure) */
    if (!s && has_bn && o->m.mode == RS_MODE_INIT_EVAL && o->have_batch && o->m.batch < o->m.P)
        fprintf(stderr, "relstab measure: note: at init, batch norm normalises with the statistics of each batch of "
                        "%d images (the reference uses the whole probe set: omit --batch)\n", (int)o->m.batch);
    rs_measure_result r = {0};
    if (!s) s = rs_measure(net, ds, NULL, nodes, n_nodes, &o->m, &r);
    rs_measure_tags t = {.model = info.model, .data = info.data, .checkpoint = info.checkpoint, .epoch = info.epoch,
                         .shuffle = (int32_t)o->shuffle};
    if (!s && o->out && root) s = rs_measure_write_csv(o->out, &r, &o->m, &t, o->append);
    if (!s && o->json && root) s = rs_measure_write_json(o->json, &r, &o->m, &t);
    if (!s && o->plot && root) s = plot_depth(o, &r, &t); /* from --out, or a temporary CSV */
    int rc = s ? cli_fail(CMD, s) : 0;
    if (!s && !o->quiet && root) {
        print_header(o, &info, &r);
        if (o->shuffle) printf("shuffled %d conv weight%s (mode %d)\n", (int)shuffled, shuffled == 1 ? "" : "s", (int)o->shuffle);
        rs_measure_print(stdout, &r);
        char thr[96];
        printf("%.2f s: %lld images forwarded, batch %d, %s\n", r.seconds, (long long)r.images_forwarded,
               (int)r.batch, rs_threads_describe(thr, sizeof thr));
        if (o->out) printf("wrote %s\n", o->out);
        if (o->json) printf("wrote %s\n", o->json);
        if (o->plot) printf("wrote %s\n", o->plot);
        if (o->m.dump_dir) printf("wrote %s/{index,probe,deformed,noisy}.npy\n", o->m.dump_dir);
    }
    if (!s) {
        fflush(stdout);
        rs_measure_warn_flags(stderr, "relstab " CMD, &r);
        if (r.n_flagged == r.n_nodes) {
            fprintf(stderr, "relstab %s: every node is degenerate (flag column): no usable D, G or R\n", CMD);
            rc = 1;
        }
    }
    rs_measure_result_free(&r);
    rs_free(nodes);
    rs_dataset_free(ds);
    rs_net_free(net);
    return rc;
}

int rs_cmd_measure(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : rc;
    if ((o.out && cli_check_out_file(CMD, "--out", o.out)) || (o.json && cli_check_out_file(CMD, "--json", o.json)) ||
        (o.m.dump_dir && cli_check_out_dir(CMD, "--dump", o.m.dump_dir)) ||
        (o.plot && cli_check_out_file(CMD, "--plot", o.plot)))
        return 1; /* before any work */
    cli_threads(o.threads);
    return run(&o);
}
