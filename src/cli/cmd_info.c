/* cmd_info.c: `relstab info MODEL`: a zoo model's nodes (name, op, output shape, parameters), its total parameter
 * count and its FLOPs per image; `--tensors` lists the state_dict (name, shape, kind); `--list` the models.
 * It builds the net's description only: no parameter memory is allocated and nothing is run. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "model_cli.h"
#include "relstab/models.h"

const char rs_cmd_info_help[] = "a model's nodes, output shapes, parameter counts and FLOPs (--list: the models)";

static void usage(FILE *f) {
    fprintf(f, "usage: relstab info MODEL [model options] [--tensors]\n"
               "       relstab info --list\n\n"
               "Prints every node of a zoo model (name as the PyTorch reference's module path, op, output shape\n"
               "C x H x W per image, trainable parameters), the total parameter count (as PyTorch counts them:\n"
               "trainable tensors, buffers excluded) and the FLOPs per image (2 x the multiply-adds of the conv\n"
               "and linear layers; bias additions, BN, activations and pooling are not counted).\n\n"
               "  --list              list the models\n"
               "  --tensors           also list every tensor of the state_dict (name, shape, kind)\n"
               "  --onnx FILE         an ONNX model instead (as `relstab onnx info FILE`; give --tensors first)\n"
               "  -h, --help          this help\n\n");
    fputs(model_cli_help, f);
}

/* 12345678 -> "12,345,678" in buf. */
static const char *grouped(char *buf, size_t len, int64_t v) {
    char raw[32];
    int n = snprintf(raw, sizeof raw, "%lld", (long long)(v < 0 ? -v : v)), j = 0;
    if (v < 0 && (size_t)j + 1 < len) buf[j++] = '-';
    for (int i = 0; i < n && (size_t)j + 2 < len; i++) {
        if (i > 0 && (n - i) % 3 == 0) buf[j++] = ',';
        buf[j++] = raw[i];
    }
    buf[j] = 0;
    return buf;
}

static void list_models(void) {
    for (int32_t i = 0; i < rs_model_count(); i++) {
        const rs_model_info *m = rs_model_get(i);
        printf("%-16s %-13s %s\n", m->name, m->family, m->summary);
    }
}

/* 1 if parameter p is used by some node. */
static int param_used(const rs_net *net, int32_t p) {
    for (int32_t i = 0; i < net->n_nodes; i++)
        for (int32_t j = 0; j < 5; j++)
            if (net->nodes[i].param[j] == p) return 1;
    return 0;
}

static void print_tensors(const rs_net *net) {
    static const char *kinds[] = {"trainable", "buffer", "counter"};
    printf("\n%-44s %-22s %12s  %s\n", "tensor", "shape", "elements", "kind");
    for (int32_t i = 0; i < net->params.count; i++) {
        const rs_param *p = &net->params.items[i];
        char shape[64], n[32];
        rs_shape_str(shape, sizeof shape, p->ndim, p->shape);
        printf("%-44s %-22s %12s  %s%s\n", p->name, p->ndim ? shape : "(scalar)", grouped(n, sizeof n, p->numel),
               kinds[p->kind], param_used(net, i) ? "" : " (unused by forward, kept as in the reference)");
    }
}

static void print_net(const char *model, const rs_model_opts *o, const rs_net *net, int tensors) {
    char a[32], b[32];
    const rs_node *x = &net->nodes[0];
    printf("model %s: input %d x %d x %d, %d output%s\n\n", model, x->c, x->h, x->w, o->classes,
           o->classes == 1 ? "" : "s");
    printf("%-36s %-17s %-20s %12s %16s\n", "node", "op", "output (C x H x W)", "parameters", "FLOPs");
    for (int32_t i = 0; i < net->n_nodes; i++) {
        const rs_node *d = &net->nodes[i];
        char shape[48];
        snprintf(shape, sizeof shape, "%d x %d x %d", d->c, d->h, d->w);
        const char *op = d->op == RS_OP_LINEAR && d->w_t ? "matmul" : rs_op_name(d->op);
        printf("%-36s %-17s %-20s %12s %16s\n", d->name, op, shape, grouped(a, sizeof a, rs_node_param_count(net, i)),
               grouped(b, sizeof b, rs_node_flops(net, i)));
    }
    int64_t unused = 0, buffers = 0;
    for (int32_t i = 0; i < net->params.count; i++) {
        const rs_param *p = &net->params.items[i];
        if (p->kind != RS_PARAM_TRAINABLE) buffers += p->numel;
        else if (!param_used(net, i)) unused += p->numel;
    }
    printf("\ntotal parameters: %s", grouped(a, sizeof a, rs_params_count_trainable(&net->params)));
    if (unused) printf(" (of which %s in tensors that forward does not use, as in the reference)",
                       grouped(b, sizeof b, unused));
    printf("\nbuffers (BN running statistics): %s\n", grouped(a, sizeof a, buffers));
    printf("FLOPs per image: %s (2 x multiply-adds of conv and linear layers)\n",
           grouped(a, sizeof a, rs_net_flops(net)));
    if (tensors) print_tensors(net);
}

int rs_cmd_info(int argc, char **argv) {
    static const struct option longopts[] = {
        {"help", no_argument, 0, 'h'}, {"list", no_argument, 0, 'l'}, {"tensors", no_argument, 0, 't'},
        {"onnx", required_argument, 0, 'X'}, MODEL_CLI_LONG_OPTIONS, {0, 0, 0, 0},
    };
    model_cli m;
    model_cli_init(&m);
    int list = 0, tensors = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hlt", longopts, NULL)) != -1) {
        int r = model_cli_handle(&m, "info", c, optarg);
        if (r < 0) return 2;
        if (r > 0) continue;
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'l': list = 1; break;
        case 't': tensors = 1; break;
        case 'X': return rs_cmd_onnx_info(optarg, tensors); /* an ONNX model: `relstab onnx info` */
        case ':': return cli_usage_error("info", "%s needs a value", argv[optind - 1]);
        default: return cli_usage_error("info", "unknown option '%s' (relstab info --help)", argv[optind - 1]);
        }
    }
    if (list) {
        list_models();
        return 0;
    }
    if (optind != argc - 1)
        return cli_usage_error("info", optind >= argc ? "which model? (relstab info --list shows them)"
                                                      : "expects one model name, got %d arguments", argc - optind);
    const char *model = argv[optind];
    model_cli_finish(&m, model);
    rs_model_opts o = m.o;
    rs_status s = rs_model_resolve(model, &o);
    rs_net *net = NULL;
    if (s == RS_OK) s = rs_model_build(model, &o, &net);
    if (s != RS_OK) return cli_fail("info", s);
    print_net(rs_model_get(rs_model_find(model))->name, &o, net, tensors);
    rs_net_free(net);
    return 0;
}
