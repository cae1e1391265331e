/* reference.c: `--nodes reference`: the nodes that the authors' measurement keeps. Their script takes every node
 * of the torch.fx trace of the model (torchvision's get_graph_node_names) and drops the input x and the nodes
 * named size, view, squeeze or dropout, or whose name contains size, sub, floordiv, numel or pow (Tomasini et al.,
 * relativestability, main.py). relstab names its nodes as torch.fx does, so the same filter applies to its names.
 * */
#include <ctype.h>
#include <string.h>

#include "measure/measure_internal.h"

static int dropped(const rs_node *d) {
    static const char *exact[] = {"x", "size", "view", "squeeze", "dropout"};
    static const char *part[] = {"size", "sub", "floordiv", "numel", "pow"};
    if (d->op == RS_OP_INPUT) return 1;
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (!strcmp(d->name, exact[i])) return 1;
    for (size_t i = 0; i < sizeof part / sizeof part[0]; i++)
        if (strstr(d->name, part[i])) return 1;
    return 0;
}

rs_status rs_measure_reference_nodes(const rs_net *net, int32_t **nodes, int32_t *n) {
    *nodes = rs_alloc((size_t)(net->n_nodes > 0 ? net->n_nodes : 1) * sizeof(int32_t));
    if (!*nodes) return rs_error(RS_ERR_NOMEM, "out of memory for the node list");
    *n = 0;
    for (int32_t i = 0; i < net->n_nodes; i++)
        if (!dropped(&net->nodes[i])) (*nodes)[(*n)++] = i;
    if (*n == 0) {
        rs_free(*nodes);
        *nodes = NULL;
        return rs_error(RS_ERR_ARG, "the net has no node that the reference measurement keeps");
    }
    return RS_OK;
}

/* "features.12" or "classifier.4": a module of an nn.Sequential, where VGG and AlexNet keep nn.ReLU(inplace=True). */
static int sequential_module(const char *name) {
    const char *p = !strncmp(name, "features.", 9) ? name + 9 : !strncmp(name, "classifier.", 11) ? name + 11 : NULL;
    if (!p || !*p) return 0;
    for (; *p; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    return 1;
}

int32_t rs_inplace_relu_after(const rs_net *net, int32_t i) {
    for (int32_t j = i + 1; j < net->n_nodes; j++) {
        const rs_node *d = &net->nodes[j];
        if (d->op == RS_OP_RELU && d->n_in >= 1 && d->in[0] == i && sequential_module(d->name)) return j;
    }
    return -1;
}
