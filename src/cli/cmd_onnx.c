/* cmd_onnx.c: `relstab onnx info MODEL.onnx` (the imported net: versions, nodes with their relstab op and output
 * shape, parameters) and `relstab onnx test DIR...` (directories in the ONNX backend-test layout, each reported as
 * PASS / FAIL with its worst error, or SKIP with the reason the model was refused). The other commands take an
 * ONNX model with --onnx. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "relstab/onnx.h"

const char rs_cmd_onnx_help[] =
    "ONNX models: `onnx info MODEL.onnx`, `onnx test DIR...` (ONNX backend-test layout), `onnx fill-data`";

#define CMD "onnx"

static void usage(FILE *f) {
    fprintf(f,
        "usage: relstab onnx info MODEL.onnx [--tensors]\n"
        "       relstab onnx test [--rtol R] [--atol A] DIR...\n"
        "       relstab onnx fill-data MODEL.onnx --weights W.safetensors\n\n"
        "info: reads the model into a relstab net and prints its nodes (named by their ONNX output names), each\n"
        "      node's relstab op and output shape C x H x W per sample, and the parameters (ONNX initializer names).\n"
        "test: runs each DIR (model.onnx, test_data_set_N/input_K.pb, output_0.pb) and prints PASS or FAIL with the\n"
        "      worst |got - want| and the first failing element, or SKIP with the reason the model was refused.\n"
        "      An element passes when |got - want| <= atol + rtol |want| (defaults: rtol 1e-4, atol 1e-5); a\n"
        "      negative atol is relative to the output's scale: -atol x max |want|.\n"
        "      Exit status 1 when any directory fails; skips do not fail.\n"
        "fill-data: writes the external data files of MODEL.onnx (initializers stored outside the model, next to\n"
        "      it) from the checkpoint's tensors of the same names and shapes, e.g. relstab's own weights into a\n"
        "      graph exported by PyTorch without its data file.\n"
        "The other commands read an ONNX model with --onnx MODEL.onnx (measure, forward, spectrum); docs/onnx.md.\n");
}

static int info(int argc, char **argv) {
    int tensors = 0;
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--tensors")) tensors = 1;
        else if (argv[i][0] == '-') return cli_usage_error(CMD, "unknown option %s for info", argv[i]);
        else if (path) return cli_usage_error(CMD, "info takes one model");
        else path = argv[i];
    }
    if (!path) return cli_usage_error(CMD, "info needs MODEL.onnx");
    return rs_cmd_onnx_info(path, tensors);
}

int rs_cmd_onnx_info(const char *path, int tensors) {
    if (!rs_onnx_available()) return cli_fail(CMD, rs_onnx_load("", NULL, &(rs_net *){0}, NULL));
    rs_net *net;
    rs_onnx_meta m;
    rs_status s = rs_onnx_load(path, NULL, &net, &m);
    if (s) return cli_fail(CMD, s);
    printf("model %s: IR %lld, opset %lld, producer '%s', %d ONNX nodes -> %d relstab nodes\n", path,
           (long long)m.ir_version, (long long)m.opset, m.producer, m.onnx_nodes, net->n_nodes);
    printf("input '%s' (rank %d), output '%s' (rank %d)\n\n", m.input, m.in_rank, m.output, m.out_rank);
    printf("%-44s %-16s %-18s %s\n", "node", "op", "output (CxHxW)", "parameters");
    for (int32_t i = 0; i < net->n_nodes; i++) {
        const rs_node *d = &net->nodes[i];
        char shape[48], params[160] = "";
        snprintf(shape, sizeof shape, "%dx%dx%d", d->c, d->h, d->w);
        for (int j = 0, at = 0; j < 5; j++)
            if (d->param[j] >= 0 && at < (int)sizeof params - 2)
                at += snprintf(params + at, sizeof params - (size_t)at, "%s%s", at ? " " : "",
                               net->params.items[d->param[j]].name);
        const char *op = d->op == RS_OP_LINEAR && d->w_t ? "matmul" : rs_op_name(d->op);
        printf("%-44s %-16s %-18s %s%s\n", i == 0 ? m.input : d->name, op, shape, params,
               i == net->output ? "  <- output" : "");
    }
    int64_t total = 0;
    for (int32_t i = 0; i < net->params.count; i++) total += net->params.items[i].numel;
    printf("\n%d parameters, %lld values (%lld trainable)\n", net->params.count, (long long)total,
           (long long)rs_params_count_trainable(&net->params));
    if (tensors)
        for (int32_t i = 0; i < net->params.count; i++) {
            const rs_param *p = &net->params.items[i];
            printf("  %-44s", p->name);
            for (int32_t j = 0; j < p->ndim; j++) printf("%s%lld", j ? "x" : " ", (long long)p->shape[j]);
            printf("\n");
        }
    rs_net_free(net);
    return 0;
}

static int test(int argc, char **argv) {
    double rtol = 1e-4, atol = 1e-5;
    int n = 0, failed = 0, skipped = 0, passed = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--rtol") || !strcmp(argv[i], "--atol")) {
            if (i + 1 >= argc) return cli_usage_error(CMD, "%s needs a value", argv[i]);
            if (cli_parse_double(CMD, argv[i], argv[i + 1], argv[i][2] == 'r' ? 0 : -1, 1, argv[i][2] == 'r' ? &rtol : &atol)) return 2;
            i++;
        } else if (argv[i][0] == '-') return cli_usage_error(CMD, "unknown option %s for test", argv[i]);
        else argv[n++] = argv[i];
    }
    if (!n) return cli_usage_error(CMD, "test needs at least one directory");
    for (int i = 0; i < n; i++) {
        rs_onnx_test_result r;
        rs_status s = rs_onnx_test_dir(argv[i], rtol, atol, &r);
        if (!s) {
            printf("PASS %s (%d data sets, worst |diff| %.3g)\n", argv[i], r.sets, r.worst_abs);
            passed++;
        } else if (s == RS_ERR_NUMERIC) {
            printf("FAIL %s: %s\n", argv[i], rs_last_error());
            failed++;
        } else {
            printf("SKIP %s: %s\n", argv[i], rs_last_error());
            skipped++;
        }
    }
    printf("%d passed, %d failed, %d skipped (rtol %g, atol %g)\n", passed, failed, skipped, rtol, atol);
    return failed ? 1 : 0;
}

static int fill_data(int argc, char **argv) {
    const char *model = NULL, *weights = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--weights")) {
            if (i + 1 >= argc) return cli_usage_error(CMD, "--weights needs a file");
            weights = argv[++i];
        } else if (argv[i][0] == '-') return cli_usage_error(CMD, "unknown option %s for fill-data", argv[i]);
        else if (model) return cli_usage_error(CMD, "fill-data takes one model");
        else model = argv[i];
    }
    if (!model || !weights) return cli_usage_error(CMD, "fill-data needs MODEL.onnx and --weights W.safetensors");
    int64_t nt;
    int32_t nf;
    rs_status s = rs_onnx_fill_data(model, weights, &nt, &nf);
    if (s) return cli_fail(CMD, s);
    printf("%s: %lld external tensors written into %d file%s from %s\n", model, (long long)nt, nf, nf == 1 ? "" : "s",
           weights);
    return 0;
}

int rs_cmd_onnx(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!rs_onnx_available()) return cli_fail(CMD, rs_onnx_load("", NULL, &(rs_net *){0}, NULL));
    if (!strcmp(argv[1], "info")) return info(argc - 2, argv + 2);
    if (!strcmp(argv[1], "test")) return test(argc - 2, argv + 2);
    if (!strcmp(argv[1], "fill-data")) return fill_data(argc - 2, argv + 2);
    return cli_usage_error(CMD, "unknown subcommand '%s' (info, test or fill-data)", argv[1]);
}
