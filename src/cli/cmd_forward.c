/* cmd_forward.c: `relstab forward`: runs a net (a run's checkpoint, a model with safetensors weights, or a fresh
 * initialisation) on images from an NPY file and writes the outputs of chosen nodes as NPY, in PyTorch's layout
 * (N, C, H, W) for maps and (N, C) for vectors, so that any other tool can check or reuse them. It measures
 * nothing (that is `relstab measure`). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/model_cli.h"
#include "cli/out_path.h"
#include "relstab/io.h"
#include "relstab/measure.h"

const char rs_cmd_forward_help[] = "run a net on NPY images and write the outputs of chosen nodes as NPY";

#define CMD "forward"

static void usage(FILE *f) {
    fprintf(f,
        "usage: relstab forward (--run DIR [--checkpoint C] | --model NAME (--weights F | --init)) --input X.npy\n"
        "                       --out DIR [options]\n"
        "Writes DIR/<node>.npy (float32; a '/' in the name becomes '_') for every node asked: (N, C, H, W) for\n"
        "feature maps, (N, C) for vectors (the outputs of linear and flatten nodes and what follows them), as\n"
        "PyTorch would give them.\n\n"
        "  --run DIR           a training run directory; --checkpoint best (default), last or init\n"
        "  --onnx FILE         an ONNX model with its weights (docs/onnx.md)\n"
        "  --model NAME        a zoo model with --weights F.safetensors or --init (from --seed)\n"
        "  model options (with --model; every one as for relstab info / train, the input size and classes\n"
        "  default to --data's and must agree with it): --channels --size --classes --width --depth\n"
        "  --filter-size --stride --strides --pbc --bn --last-bias --alpha (relstab info --help)\n"
        "  --input X.npy       images (N, C, H, W) or (N, H, W), float32 (used as they are) or uint8 (divided by\n"
        "                      255); with --model the net takes this image size\n"
        "  --nodes SEL         node names, glob patterns on names ('features.*'), node types (relu, conv, bn, pool,\n"
        "                      fc, or type:T,...), all, or reference (docs/measure.md); default: the output node\n"
        "  --out DIR           output directory (created)\n"
        "  --batch B           images per forward (default 100)\n"
        "  --mode init|trained batch norm with batch statistics (init; the default with --init or --checkpoint init)\n"
        "                      or running statistics (trained). With batch statistics the outputs depend on the\n"
        "                      batch: give --batch N to normalise over all the images at once.\n"
        "  --seed S            initialisation seed for --init (default 0)\n"
        "  --threads N         threads (default: every free core)\n");
}

typedef struct {
    rs_net_source src;
    model_cli mc;
    const char *input, *nodes, *out, *mode;
    int64_t batch, threads;
} opts;

static int parse(int argc, char **argv, opts *o) {
    static const struct option lo[] = {
        {"run", 1, 0, 'r'}, {"onnx", 1, 0, 'X'}, {"checkpoint", 1, 0, 'k'}, {"model", 1, 0, 'M'}, {"weights", 1, 0, 'w'},
        {"init", 0, 0, 'I'}, {"seed", 1, 0, 'J'}, MODEL_CLI_LONG_OPTIONS, {"input", 1, 0, 'i'},
        {"nodes", 1, 0, 'N'}, {"out", 1, 0, 'O'}, {"batch", 1, 0, 'b'}, {"mode", 1, 0, 'o'},
        {"threads", 1, 0, 't'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    rs_net_source_init(&o->src);
    model_cli_init(&o->mc);
    o->batch = 100;
    int ch, rc = 0;
    opterr = 0;
    optind = 1;
    while (!rc && (ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'i': o->input = optarg; break;
        case 'N': o->nodes = optarg; break;
        case 'O': o->out = optarg; break;
        case 'b': rc = cli_parse_int(CMD, "--batch", optarg, 1, 1 << 20, &o->batch); break;
        case 'o': o->mode = optarg; break;
        case 't': rc = cli_parse_int(CMD, "--threads", optarg, 0, 4096, &o->threads); break;
        case 'h': usage(stdout); return 1;
        default:
            rc = model_cli_net_source(&o->mc, CMD, ch, optarg, &o->src);
            if (rc > 0) return cli_usage_error(CMD, "unknown or incomplete option '%s' (relstab forward --help)", argv[optind - 1]);
        }
    }
    if (rc) return 2;
    model_cli_finish_source(&o->mc, &o->src);
    if (optind < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!o->src.run_dir && !o->src.model && !o->src.onnx) return cli_usage_error(CMD, "give --run DIR or --model NAME or --onnx FILE");
    if (!o->input) return cli_usage_error(CMD, "give --input X.npy");
    if (!o->out) return cli_usage_error(CMD, "give --out DIR");
    if (o->mode && strcmp(o->mode, "init") && strcmp(o->mode, "trained"))
        return cli_usage_error(CMD, "--mode expects init or trained, got '%s'", o->mode);
    return 0;
}

/* The images as float (N, C, H, W). */
static int read_input(const char *path, float **x, int64_t dims[4]) {
    rs_npy a;
    rs_status s = rs_npy_read(path, &a);
    if (s) return cli_fail(CMD, s);
    int rc = 0;
    if (a.ndim == 4) memcpy(dims, a.shape, 4 * sizeof(int64_t));
    else if (a.ndim == 3) dims[0] = a.shape[0], dims[1] = 1, dims[2] = a.shape[1], dims[3] = a.shape[2];
    else rc = cli_usage_error(CMD, "%s: expected images (N, C, H, W) or (N, H, W), got %d dimensions", path, (int)a.ndim);
    if (!rc && a.dtype != RS_DTYPE_F32 && a.dtype != RS_DTYPE_U8)
        rc = cli_usage_error(CMD, "%s: expected float32 or uint8 images, got %s", path, rs_dtype_name(a.dtype));
    if (!rc && (dims[0] < 1 || dims[1] < 1 || dims[2] < 1 || dims[3] < 1 || dims[1] > 65536 || dims[2] > 65536 ||
                dims[3] > 65536 || dims[0] > INT32_MAX))
        rc = cli_usage_error(CMD, "%s: image array of unusable shape", path);
    size_t n = rc ? 0 : (size_t)(dims[0] * dims[1] * dims[2] * dims[3]);
    if (!rc && !(*x = rs_alloc(n * sizeof(float)))) rc = cli_fail(CMD, rs_error(RS_ERR_NOMEM, "out of memory for %s", path));
    for (size_t i = 0; i < n && !rc; i++) {
        float v = a.dtype == RS_DTYPE_F32 ? ((const float *)a.data)[i] : ((const uint8_t *)a.data)[i] / 255.0f;
        if (!isfinite(v)) rc = cli_usage_error(CMD, "%s: value %zu is not finite", path, i);
        (*x)[i] = v;
    }
    rs_npy_free(&a);
    if (rc) { /* the caller owns *x only on success (a NaN input used to leak it) */
        rs_free(*x);
        *x = NULL;
    }
    return rc;
}

/* A vector node: a linear or flatten output, or an elementwise op applied to one (PyTorch shape (N, C)). */
static int is_vector(const rs_net *net, int32_t i) {
    const rs_node *d = &net->nodes[i];
    if (d->h != 1 || d->w != 1) return 0;
    if (d->op == RS_OP_LINEAR || d->op == RS_OP_FLATTEN) return 1;
    int elementwise = d->op == RS_OP_RELU || d->op == RS_OP_SILU || d->op == RS_OP_SIGMOID || d->op == RS_OP_DROPOUT ||
                      d->op == RS_OP_DROPCONNECT || d->op == RS_OP_SCALE || d->op == RS_OP_BATCHNORM ||
                      d->op == RS_OP_ADD;
    return elementwise && d->n_in >= 1 && is_vector(net, d->in[0]);
}

static int run(const opts *o) {
    float *x = NULL;
    int64_t dims[4] = {0};
    int rc = read_input(o->input, &x, dims);
    if (rc) return rc;
    rs_net_source src = o->src;
    rs_net *net = NULL;
    rs_net_source_info info;
    rs_status s = RS_OK;
    if (src.model) /* a named model takes the images' size (flags given must agree with it) */
        s = rs_model_opts_from_data(&src.model_opts, (int32_t)dims[1], (int32_t)dims[2], (int32_t)dims[3], -1,
                                    o->input);
    if (!s) s = rs_net_source_open(&src, &net, NULL, &info);
    if (s) {
        rs_free(x);
        return cli_fail(CMD, s);
    }
    const rs_node *in = &net->nodes[0];
    if (in->c != dims[1] || in->h != dims[2] || in->w != dims[3])
        s = rs_error(RS_ERR_ARG, "the net takes %dx%dx%d images, %s holds %lldx%lldx%lld", in->c, in->h, in->w, o->input,
                     (long long)dims[1], (long long)dims[2], (long long)dims[3]);
    rs_mode mode = o->mode ? (strcmp(o->mode, "init") ? RS_MODE_EVAL : RS_MODE_INIT_EVAL) : info.mode;
    int32_t *nodes = NULL, nn = 1, N = (int32_t)dims[0], B = (int32_t)(o->batch < N ? o->batch : N);
    if (!s && o->nodes) s = rs_measure_parse_nodes(net, o->nodes, &nodes, &nn);
    else if (!s && !(nodes = rs_alloc(sizeof(int32_t)))) s = rs_error(RS_ERR_NOMEM, "out of memory");
    else if (!s) nodes[0] = net->output;
    float **outs = s ? NULL : rs_calloc((size_t)nn * sizeof(float *));
    if (!s && !outs) s = rs_error(RS_ERR_NOMEM, "out of memory");
    for (int32_t k = 0; k < nn && !s; k++)
        if (!(outs[k] = rs_alloc((size_t)N * (size_t)rs_net_node_numel(net, nodes[k]) * sizeof(float))))
            s = rs_error(RS_ERR_NOMEM, "out of memory for the outputs of node %s", net->nodes[nodes[k]].name);
    if (!s) s = rs_net_build(net, B, 0);
    size_t chw = (size_t)(dims[1] * dims[2] * dims[3]);
    for (int32_t p0 = 0; p0 < N && !s; p0 += B) {
        int32_t n = N - p0 < B ? N - p0 : B;
        if ((s = rs_net_forward(net, x + (size_t)p0 * chw, n, mode))) break;
        for (int32_t k = 0; k < nn; k++)
            rs_net_tap_nchw(net, nodes[k], outs[k] + (size_t)p0 * rs_net_node_numel(net, nodes[k]));
    }
    if (!s) s = rs_mkdir_p(o->out);
    for (int32_t k = 0; k < nn && !s; k++) {
        const rs_node *d = &net->nodes[nodes[k]];
        char path[4096];
        int64_t sh[4] = {N, d->c, d->h, d->w};
        int at = snprintf(path, sizeof path, "%s/%s.npy", o->out, d->name);
        for (char *q = path + strlen(o->out) + 1; at < (int)sizeof path && *q; q++)
            if (*q == '/') *q = '_'; /* ONNX node names hold '/': still one file per node */
        if (at >= (int)sizeof path) s = rs_error(RS_ERR_ARG, "--out: path too long");
        else s = rs_npy_write(path, RS_DTYPE_F32, is_vector(net, nodes[k]) ? 2 : 4, sh, outs[k]);
        if (!s) printf("wrote %s (%s)\n", path, is_vector(net, nodes[k]) ? "N, C" : "N, C, H, W");
    }
    rc = s ? cli_fail(CMD, s) : 0;
    for (int32_t k = 0; outs && k < nn; k++) rs_free(outs[k]);
    rs_free(outs), rs_free(nodes), rs_free(x);
    rs_net_free(net);
    return rc;
}

int rs_cmd_forward(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : rc;
    if (cli_check_out_dir(CMD, "--out", o.out)) return 1; /* before any work */
    cli_threads(o.threads);
    return run(&o);
}
