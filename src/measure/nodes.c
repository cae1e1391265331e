/* nodes.c: which nodes a command works on: the one selection syntax of `measure --nodes`, `forward --nodes` and
 * `theory --compare --nodes` (names, glob patterns on names, node types, "all"), over a net or over the rows of a
 * result file. The reference node set (`--nodes reference`) is in reference.c. It does not measure anything. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure/measure_internal.h"

/* Type aliases: a word and the op names it stands for (besides every op name itself). */
static const struct {
    const char *alias, *ops[4];
} aliases[] = {
    {"conv", {"conv2d"}},
    {"bn", {"batchnorm"}},
    {"fc", {"linear"}},
    {"pool", {"maxpool", "avgpool", "adaptive_avgpool"}},
    {"swish", {"silu"}},
};

/* 1: t names a type (an op name or an alias); then matches(op) tells whether op belongs to it. */
static int is_type(const char *t) {
    for (int i = 0; i < RS_OP_COUNT; i++)
        if (!strcmp(t, rs_op_name((rs_op_type)i))) return 1;
    for (size_t a = 0; a < sizeof aliases / sizeof aliases[0]; a++)
        if (!strcmp(t, aliases[a].alias)) return 1;
    return 0;
}

static int type_matches(const char *t, const char *op) {
    if (!op) return 0;
    if (!strcmp(t, op)) return 1;
    for (size_t a = 0; a < sizeof aliases / sizeof aliases[0]; a++)
        if (!strcmp(t, aliases[a].alias))
            for (int j = 0; j < 4 && aliases[a].ops[j]; j++)
                if (!strcmp(op, aliases[a].ops[j])) return 1;
    return 0;
}

static const char *list_names(const char *const *names, int32_t n, char *buf, size_t len) {
    size_t k = 0;
    buf[0] = 0;
    for (int32_t i = 0; i < n; i++) {
        int w = snprintf(buf + k, len - k, "%s%s", i ? ", " : "", names[i]);
        if (w < 0 || (size_t)w + 8 >= len - k) {
            snprintf(buf + k, len - k, ", ...");
            break;
        }
        k += (size_t)w;
    }
    return buf;
}

static const char *list_types(char *buf, size_t len) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 1; i < RS_OP_COUNT && k + 32 < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s, ", rs_op_name((rs_op_type)i));
    for (size_t a = 0; a < sizeof aliases / sizeof aliases[0] && k + 16 < len; a++)
        k += (size_t)snprintf(buf + k, len - k, "%s%s", aliases[a].alias, a + 1 < sizeof aliases / sizeof aliases[0] ? ", " : "");
    return buf;
}

typedef struct {
    int32_t *sel, n;
    char *taken; /* (n items): already selected */
} picks;

/* Adds every item matching token tok (type when as_type, else name / pattern / type). Returns the count added or
 * matched, or -1 after setting an error. */
static int32_t pick(picks *p, const char *const *names, const char *const *ops, int32_t n, const char *tok,
                    int as_type) {
    char buf[2048], tb[512];
    int glob = strpbrk(tok, "*?[") != NULL;
    if (!as_type && !glob) {
        for (int32_t i = 0; i < n; i++)
            if (!strcmp(names[i], tok)) {
                if (p->taken[i]) return rs_error(RS_ERR_ARG, "node '%s' is selected twice", tok), -1;
                p->taken[i] = 1, p->sel[p->n++] = i;
                return 1;
            }
    }
    if (!glob && !is_type(tok)) {
        if (as_type) return rs_error(RS_ERR_ARG, "unknown node type '%s' (types: %s)", tok, list_types(tb, sizeof tb)), -1;
        return rs_error(RS_ERR_ARG, "'%s' is no node name, node type or pattern (the nodes: %s; types: %s)", tok,
                        list_names(names, n, buf, sizeof buf), list_types(tb, sizeof tb)), -1;
    }
    if (!glob && !ops) return rs_error(RS_ERR_ARG, "'%s': selecting by node type needs the nodes' types", tok), -1;
    int32_t found = 0;
    for (int32_t i = 0; i < n; i++) {
        int in = ops && !strcmp(ops[i], "input");
        int hit = glob ? fnmatch(tok, names[i], 0) == 0 && !in : type_matches(tok, ops[i]);
        if (!hit) continue;
        found++;
        if (!p->taken[i]) p->taken[i] = 1, p->sel[p->n++] = i;
    }
    if (!found) {
        if (glob) return rs_error(RS_ERR_ARG, "pattern '%s' matches no node (the nodes: %s)", tok,
                                  list_names(names, n, buf, sizeof buf)), -1;
        return rs_error(RS_ERR_ARG, "no node of type '%s' here (the nodes: %s)", tok,
                        list_names(names, n, buf, sizeof buf)), -1;
    }
    return found;
}

rs_status rs_select_nodes(const char *const *names, const char *const *ops, int32_t n, const char *spec,
                          int32_t **sel, int32_t *n_sel) {
    *sel = NULL;
    *n_sel = 0;
    if (!spec || !*spec) return rs_error(RS_ERR_ARG, "an empty node selection");
    picks p = {rs_alloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t)), 0, rs_calloc((size_t)(n > 0 ? n : 1))};
    size_t len = strlen(spec);
    char *copy = rs_alloc(len + 1);
    rs_status s = p.sel && p.taken && copy ? RS_OK : rs_error(RS_ERR_NOMEM, "out of memory for the node list");
    if (!s) memcpy(copy, spec, len + 1);
    int as_type = 0;
    char *save = NULL;
    for (char *tok = s ? NULL : strtok_r(copy, ",", &save); tok && !s; tok = strtok_r(NULL, ",", &save)) {
        if (!strncmp(tok, "type:", 5)) as_type = 1, tok += 5;
        else if (!strncmp(tok, "name:", 5)) as_type = 0, tok += 5;
        if (!*tok) s = rs_error(RS_ERR_ARG, "an empty name in the node selection '%s'", spec);
        else if (!as_type && !strcmp(tok, "all")) {
            for (int32_t i = 0; i < n; i++)
                if (!(ops && !strcmp(ops[i], "input")) && !p.taken[i]) p.taken[i] = 1, p.sel[p.n++] = i;
        } else if (pick(&p, names, ops, n, tok, as_type) < 0) {
            s = RS_ERR_ARG;
        }
    }
    if (!s && p.n == 0) s = rs_error(RS_ERR_ARG, "the node selection '%s' selects no node", spec);
    rs_free(copy), rs_free(p.taken);
    if (s) {
        rs_free(p.sel);
        return s;
    }
    *sel = p.sel, *n_sel = p.n;
    return RS_OK;
}

rs_status rs_measure_parse_nodes(const rs_net *net, const char *list, int32_t **nodes, int32_t *n) {
    if (!strcmp(list, "reference")) return rs_measure_reference_nodes(net, nodes, n);
    const char **names = rs_alloc((size_t)net->n_nodes * sizeof(char *) * 2);
    if (!names) return rs_error(RS_ERR_NOMEM, "out of memory for the node list");
    const char **ops = names + net->n_nodes;
    for (int32_t i = 0; i < net->n_nodes; i++) names[i] = net->nodes[i].name, ops[i] = rs_op_name(net->nodes[i].op);
    rs_status s = rs_select_nodes(names, ops, net->n_nodes, list, nodes, n);
    rs_free(names);
    return s;
}
