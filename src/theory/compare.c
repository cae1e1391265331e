/* compare.c: reads a trained net's sensitivities from a run directory's sens.csv (columns in docs/theory.md) so
 * that `relstab theory --compare RUN` can put them next to the constant-filter model.
 * Required columns: node, D, G, R. Optional: layer (1-based depth index), epoch (only the last epoch is kept),
 * checkpoint and mode (rows at "init" are dropped). Several rows of one node (seeds) are combined by geometric
 * mean; other columns (such as those of relstab measure's CSV) are ignored. RFC 4180 quoting is understood. */
#include "relstab/io.h"
#include "relstab/measure.h"
#include "relstab/theory.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 256

typedef struct {
    char node[96];
    char op[32];       /* the op column, "" without one */
    int keep;
    int layer, line;
    double epoch, D, G, R;
    int init;
    int bad;           /* -1, or which of D, G, R did not parse (reported only if the row is kept) */
    char bad_text[32];
} row;

static int find(char **f, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(f[i], name)) return i;
    return -1;
}

static int parse_num(const char *s, double *out) {
    char *end;
    if (!*s) return -1;
    *out = strtod(s, &end);
    return *end ? -1 : 0;
}

typedef struct {
    int node, D, G, R, layer, epoch, checkpoint, mode, n, op;
} columns;

static rs_status parse_row(const char *path, int line, char **f, int nf, const columns *c, row *r) {
    int idx[3] = {c->D, c->G, c->R};
    double *dst[3] = {&r->D, &r->G, &r->R};
    if (nf != c->n)
        return rs_error(RS_ERR_FORMAT, "%s line %d: %d fields, the header has %d", path, line, nf, c->n);
    memset(r, 0, sizeof *r);
    r->line = line;
    snprintf(r->node, sizeof r->node, "%s", f[c->node]);
    if (c->op >= 0) snprintf(r->op, sizeof r->op, "%s", f[c->op]);
    r->bad = -1;
    for (int q = 2; q >= 0; q--)
        if (parse_num(f[idx[q]], dst[q]) != 0 || !isfinite(*dst[q])) {
            r->bad = q;
            snprintf(r->bad_text, sizeof r->bad_text, "%s", f[idx[q]]);
        }
    r->layer = -1;
    if (c->layer >= 0) {
        double v;
        if (parse_num(f[c->layer], &v) != 0 || v < 1 || v > RS_THEORY_MAX_DEPTH || v != floor(v))
            return rs_error(RS_ERR_FORMAT, "%s line %d: layer must be an integer from 1 to %d, got '%s'", path, line,
                            RS_THEORY_MAX_DEPTH, f[c->layer]);
        r->layer = (int)v;
    }
    r->epoch = -INFINITY; /* no epoch (empty or no column): older than any numbered epoch */
    if (c->epoch >= 0 && f[c->epoch][0] && parse_num(f[c->epoch], &r->epoch) != 0)
        return rs_error(RS_ERR_FORMAT, "%s line %d: epoch is not a number: '%s'", path, line, f[c->epoch]);
    r->init = (c->checkpoint >= 0 && !strcmp(f[c->checkpoint], "init")) || (c->mode >= 0 && !strcmp(f[c->mode], "init"));
    return RS_OK;
}

/* the next line of *cursor (NUL-terminated in place), or NULL at the end */
static char *next_line(char **cursor) {
    char *line = *cursor;
    if (!line || !*line) return NULL;
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0, *cursor = nl + 1;
    else *cursor = NULL;
    return line;
}

static rs_status read_rows(const char *path, char *text, const char *filter, row **rows_out, int *n_out) {
    char *f[MAX_FIELDS], *cursor = text;
    char *line = next_line(&cursor);
    if (!line) return rs_error(RS_ERR_FORMAT, "%s is empty", path);
    int nf = rs_csv_split(line, f, MAX_FIELDS);
    columns c = {find(f, nf, "node"), find(f, nf, "D"), find(f, nf, "G"), find(f, nf, "R"), find(f, nf, "layer"),
                 find(f, nf, "epoch"), find(f, nf, "checkpoint"), find(f, nf, "mode"), nf, find(f, nf, "op")};
    if (nf < 0 || c.node < 0 || c.D < 0 || c.G < 0 || c.R < 0)
        return rs_error(RS_ERR_FORMAT, "%s: the header must have the columns node, D, G and R (docs/theory.md)", path);
    row *rows = NULL;
    int n = 0, cap = 0, lineno = 1;
    while ((line = next_line(&cursor))) {
        lineno++;
        if (strspn(line, " \t\r") == strlen(line)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            row *t = realloc(rows, (size_t)cap * sizeof(row));
            if (!t) {
                free(rows);
                return rs_error(RS_ERR_NOMEM, "cannot read %s", path);
            }
            rows = t;
        }
        int k = rs_csv_split(line, f, MAX_FIELDS);
        rs_status st = k < 0 ? rs_error(RS_ERR_FORMAT, "%s line %d: an unclosed quote or more than %d fields", path,
                                        lineno, MAX_FIELDS)
                             : parse_row(path, lineno, f, k, &c, &rows[n]);
        if (st == RS_OK && !(filter && *filter && !strstr(rows[n].node, filter)) && !rows[n].init) {
            if (rows[n].bad >= 0)
                st = rs_error(RS_ERR_FORMAT, "%s line %d: %s is not a number: '%s'", path, lineno,
                              rows[n].bad == 0 ? "D" : rows[n].bad == 1 ? "G" : "R", rows[n].bad_text);
            n++;
        }
        if (st != RS_OK) {
            free(rows);
            return st;
        }
    }
    *rows_out = rows;
    *n_out = n;
    return RS_OK;
}

static int cmp_layer(const void *a, const void *b) {
    return ((const rs_theory_net_layer *)a)->k - ((const rs_theory_net_layer *)b)->k;
}

/* nodes in order of first appearance, seeds combined by geometric mean */
static rs_status group(const char *path, const row *rows, int n, rs_theory_net_layer *out, int *n_out) {
    double last = -INFINITY;
    for (int i = 0; i < n; i++) last = rows[i].keep && rows[i].epoch > last ? rows[i].epoch : last;
    int m = 0;
    for (int i = 0; i < n; i++) {
        const row *r = &rows[i];
        if (r->epoch != last || !r->keep) continue;
        if (!(r->D > 0 && r->G > 0 && r->R > 0))
            return rs_error(RS_ERR_FORMAT,
                            "%s line %d: D, G and R must be positive (geometric mean over seeds; --compare-nodes keeps "
                            "only the pooling blocks)", path, r->line);
        int j = 0;
        while (j < m && strcmp(out[j].node, r->node)) j++;
        if (j == m) {
            memset(&out[m], 0, sizeof out[m]);
            snprintf(out[m].node, sizeof out[m].node, "%s", r->node);
            out[m].k = r->layer > 0 ? r->layer : m + 1;
            m++;
        } else if (r->layer > 0 && out[j].k != r->layer) {
            return rs_error(RS_ERR_FORMAT, "%s line %d: node %s has layer %d here and %d before", path, r->line,
                            r->node, r->layer, out[j].k);
        }
        out[j].D += log(r->D);
        out[j].G += log(r->G);
        out[j].R += log(r->R);
        out[j].n_seeds++;
    }
    for (int j = 0; j < m; j++) {
        out[j].D = exp(out[j].D / out[j].n_seeds);
        out[j].G = exp(out[j].G / out[j].n_seeds);
        out[j].R = exp(out[j].R / out[j].n_seeds);
        for (int i = 0; i < j; i++)
            if (out[i].k == out[j].k)
                return rs_error(RS_ERR_FORMAT, "%s: nodes %s and %s both map to layer %d", path, out[i].node,
                                out[j].node, out[j].k);
    }
    qsort(out, (size_t)m, sizeof *out, cmp_layer);
    *n_out = m;
    return RS_OK;
}

/* The distinct nodes of rows[0..n) in order of first appearance: names and ops point into rows. */
static int distinct(const row *rows, int n, const char **names, const char **ops) {
    int m = 0;
    for (int i = 0; i < n; i++) {
        int j = 0;
        while (j < m && strcmp(names[j], rows[i].node)) j++;
        if (j == m) names[m] = rows[i].node, ops[m] = rows[i].op, m++;
    }
    return m;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* The nodes the pooling model describes (one per layer, after its nonlinearity): the ReLU nodes before the first
 * linear one when the file has an op column, else the 1-D nets' conv.{l}.mul nodes (sqrt(f) ReLU(...)), else
 * every node. keep[j] for the m distinct nodes; returns a description. */
static const char *default_nodes(const char **names, const char **ops, int m, char *keep) {
    int relu = 0, mul = 0;
    for (int j = 0; j < m; j++) {
        if (!strcmp(ops[j], "linear")) break;
        relu += !strcmp(ops[j], "relu");
    }
    for (int j = 0; j < m; j++) mul += ends_with(names[j], ".mul");
    for (int j = 0, seen_linear = 0; j < m; j++) {
        seen_linear |= !strcmp(ops[j], "linear");
        keep[j] = relu ? !seen_linear && !strcmp(ops[j], "relu") : mul ? ends_with(names[j], ".mul") : 1;
    }
    return relu ? "the ReLU outputs of the convolutional part" : mul ? "the conv.{l}.mul nodes" : "every node";
}

static rs_status select_rows(row *rows, int n, const char *spec, char *note, size_t note_len) {
    const char **names = rs_alloc((size_t)(n > 0 ? n : 1) * 2 * sizeof(char *));
    char *keep = rs_calloc((size_t)(n > 0 ? n : 1));
    if (!names || !keep) {
        rs_free(names), rs_free(keep);
        return rs_error(RS_ERR_NOMEM, "out of memory selecting nodes");
    }
    const char **ops = names + n;
    int m = distinct(rows, n, names, ops), have_ops = 0;
    for (int j = 0; j < m; j++) have_ops |= ops[j][0] != 0;
    rs_status s = RS_OK;
    const char *what = NULL;
    if (spec) {
        int32_t *sel = NULL, ns = 0;
        s = rs_select_nodes(names, have_ops ? ops : NULL, m, spec, &sel, &ns);
        for (int32_t i = 0; i < ns && !s; i++) keep[sel[i]] = 1;
        rs_free(sel);
        what = spec;
    } else {
        what = default_nodes(names, ops, m, keep);
    }
    int kept = 0;
    for (int j = 0; j < m; j++) kept += keep[j];
    if (note) snprintf(note, note_len, "%d of %d nodes (%s)", kept, m, what);
    for (int i = 0; i < n && !s; i++) {
        int j = 0;
        while (strcmp(names[j], rows[i].node)) j++;
        rows[i].keep = keep[j];
    }
    rs_free(names), rs_free(keep);
    return s;
}

rs_status rs_theory_read_sens(const char *path, const char *node_filter, rs_theory_net_layer **layers, int *n) {
    return rs_theory_read_sens_nodes(path, node_filter, "all", layers, n, NULL, 0);
}

rs_status rs_theory_read_sens_nodes(const char *path, const char *node_filter, const char *nodes,
                                    rs_theory_net_layer **layers, int *n, char *note, size_t note_len) {
    void *data;
    size_t len;
    *layers = NULL;
    *n = 0;
    RS_TRY(rs_read_file(path, &data, &len, (size_t)64 << 20));
    char *text = malloc(len + 1);
    if (!text) {
        rs_free(data);
        return rs_error(RS_ERR_NOMEM, "cannot read %s", path);
    }
    memcpy(text, data, len);
    text[len] = 0;
    rs_free(data);
    if (strlen(text) != len) {
        free(text);
        return rs_error(RS_ERR_FORMAT, "%s is not a text file (it contains a NUL byte)", path);
    }
    row *rows = NULL;
    int nr = 0;
    rs_status st = read_rows(path, text, node_filter, &rows, &nr);
    free(text);
    if (st != RS_OK) return st;
    if (nr == 0) {
        free(rows);
        return rs_error(RS_ERR_FORMAT, "%s: no rows left after the node filter '%s' and dropping checkpoint=init", path,
                        node_filter ? node_filter : "");
    }
    if ((st = select_rows(rows, nr, nodes, note, note_len)) != RS_OK) {
        free(rows);
        return st;
    }
    rs_theory_net_layer *out = rs_calloc((size_t)nr * sizeof *out);
    if (!out) {
        free(rows);
        return rs_error(RS_ERR_NOMEM, "cannot read %s", path);
    }
    st = group(path, rows, nr, out, n);
    free(rows);
    if (st == RS_OK && *n == 0)
        st = rs_error(RS_ERR_FORMAT, "%s: none of the selected nodes has a row at the last epoch", path);
    if (st != RS_OK) {
        rs_free(out);
        *n = 0;
        return st;
    }
    *layers = out;
    return RS_OK;
}
