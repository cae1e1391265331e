/* cmd_spectrum.c: `relstab spectrum`: the frequency content of every conv layer's filters (SPEC 4.2.2): the mean
 * squared projections omega_j of the filters on the eigenvectors of the filter grid's Laplacian, raw and
 * normalised, as CSV and as a short table. The numbers come from rs_net_spectra (src/measure/laplacian.c). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/model_cli.h"
#include "cli/out_path.h"
#include "relstab/measure.h"

const char rs_cmd_spectrum_help[] = "grid-Laplacian spectra (frequency content) of every conv layer's filters";

#define CMD "spectrum"

static void usage(FILE *f) {
    fprintf(f,
        "usage: relstab spectrum (--run DIR [--checkpoint C] | --model NAME (--weights F | --init)) [options]\n"
        "For every conv layer with kh x kw filters (kh*kw > 1; 1-D filters use the path graph), the eigenvectors\n"
        "psi_j of the Laplacian of the kh x kw grid graph (4-neighbour, free boundary; lambda ascending, lambda_0 = 0\n"
        "is the constant filter) and omega_j = mean over the layer's (out, in) filters w_i of <w_i, psi_j>^2.\n"
        "Degenerate eigenvalues: omega_j of one eigenvector depends on the basis chosen inside the eigenspace; the\n"
        "columns level / omega_level (summed over the eigenspace) do not. docs/measure.md has the details.\n\n"
        "  --run DIR           a training run directory; --checkpoint best (default), last or init\n"
        "  --onnx FILE         an ONNX model with its weights (docs/onnx.md)\n"
        "  --model NAME        a zoo model with --weights F.safetensors or --init (from --seed)\n"
        "  --data SPEC         dataset giving the model's input size and classes (default for --model: 3x32x32,\n"
        "                      10 classes; --run: the run's)\n"
        "  model options (with --model; every one as for relstab info / train, the input size and classes\n"
        "  default to --data's and must agree with it): --channels --size --classes --width --depth\n"
        "  --filter-size --stride --strides --pbc --bn --last-bias --alpha (relstab info --help)\n"
        "  --seed S            initialisation seed for --init (default 0)\n"
        "  --shuffle 0|1|2     shuffle channels first (with --seed; the spectra do not change: a check)\n"
        "  --out FILE          CSV: layer,kh,kw,n_filters,j,lambda,omega,omega_norm,level,omega_level,\n"
        "                      omega_level_norm\n"
        "  --quiet             no table\n");
}

typedef struct {
    rs_net_source src;
    model_cli mc;
    const char *out;
    int64_t shuffle;
    int quiet;
} opts;

static int parse(int argc, char **argv, opts *o) {
    static const struct option lo[] = {
        {"run", 1, 0, 'r'}, {"onnx", 1, 0, 'X'}, {"checkpoint", 1, 0, 'k'}, {"model", 1, 0, 'M'}, {"weights", 1, 0, 'w'},
        {"init", 0, 0, 'I'}, {"seed", 1, 0, 'J'}, {"data", 1, 0, 'D'}, MODEL_CLI_LONG_OPTIONS, {"shuffle", 1, 0, 'u'}, {"out", 1, 0, 'O'},
        {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    rs_net_source_init(&o->src);
    model_cli_init(&o->mc);
    int ch, rc = 0;
    opterr = 0;
    optind = 1;
    while (!rc && (ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'u': rc = cli_parse_int(CMD, "--shuffle", optarg, 0, 2, &o->shuffle); break;
        case 'O': o->out = optarg; break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); return 1;
        default:
            rc = model_cli_net_source(&o->mc, CMD, ch, optarg, &o->src);
            if (rc > 0) return cli_usage_error(CMD, "unknown or incomplete option '%s' (relstab spectrum --help)", argv[optind - 1]);
        }
    }
    if (rc) return 2;
    model_cli_finish_source(&o->mc, &o->src);
    if (optind < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!o->src.run_dir && !o->src.model && !o->src.onnx) return cli_usage_error(CMD, "give --run DIR or --model NAME or --onnx FILE");
    return 0;
}

static rs_status write_csv(const char *path, const rs_spectrum *sp, int32_t n) {
    size_t cap = 256, len = 0;
    for (int32_t i = 0; i < n; i++) cap += (size_t)sp[i].n * (RS_NAME_MAX + 200);
    char *buf = malloc(cap);
    if (!buf) return rs_error(RS_ERR_NOMEM, "out of memory writing %s", path);
    len += (size_t)snprintf(buf, cap, "layer,kh,kw,n_filters,j,lambda,omega,omega_norm,level,omega_level,omega_level_norm\n");
    for (int32_t i = 0; i < n; i++)
        for (int32_t j = 0; j < sp[i].n; j++)
            len += (size_t)snprintf(buf + len, cap - len, "%s,%d,%d,%lld,%d,%.12g,%.12g,%.12g,%d,%.12g,%.12g\n",
                                    sp[i].layer, (int)sp[i].kh, (int)sp[i].kw, (long long)sp[i].n_filters, (int)j,
                                    sp[i].lambda[j], sp[i].omega[j], sp[i].omega_norm[j], (int)sp[i].level[j],
                                    sp[i].omega_level[j], sp[i].omega_level_norm[j]);
    rs_status s = rs_write_file_atomic(path, buf, len);
    free(buf);
    return s;
}

/* One line per layer: the normalised weight of each distinct eigenvalue. */
static void print_table(const rs_spectrum *sp, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        printf("%s (%dx%d, %lld filters):", sp[i].layer, (int)sp[i].kh, (int)sp[i].kw, (long long)sp[i].n_filters);
        for (int32_t j = 0; j < sp[i].n; j++)
            if (j == 0 || sp[i].level[j] != sp[i].level[j - 1])
                printf(" %.3g:%.3f", fabs(sp[i].lambda[j]) < 1e-12 ? 0.0 : sp[i].lambda[j], sp[i].omega_level_norm[j]);
        printf("\n");
    }
}

int rs_cmd_spectrum(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : rc;
    if (o.out && cli_check_out_file(CMD, "--out", o.out)) return 1; /* before any work */
    rs_net *net = NULL;
    rs_net_source_info info;
    rs_status s = rs_net_source_open(&o.src, &net, NULL, &info);
    if (s) return cli_fail(CMD, s);
    rs_spectrum *sp = NULL;
    int32_t n = 0;
    s = rs_shuffle_channels(net, (int32_t)o.shuffle, o.src.init_seed, NULL);
    if (!s) s = rs_net_spectra(net, &sp, &n);
    if (!s && n == 0) s = rs_error(RS_ERR_ARG, "%s has no conv layer with more than one tap per filter", info.model);
    if (!s && o.out) s = write_csv(o.out, sp, n);
    if (!s && !o.quiet) {
        printf("%s (%s): normalised weight per Laplacian eigenvalue (lambda:omega, summed over degenerate modes)\n",
               info.model, info.checkpoint);
        print_table(sp, n);
        if (o.out) printf("wrote %s\n", o.out);
    }
    rc = s ? cli_fail(CMD, s) : 0;
    rs_spectra_free(sp, n);
    rs_net_free(net);
    return rc;
}
