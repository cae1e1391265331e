/* table.c: a whole CSV file with a header line, read into strings (rs_table). It is what the figures read;
 * fields are split by rs_csv_split (RFC 4180 quoting, one line per record). It converts nothing until asked
 * (rs_table_num). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/io.h"
#include "relstab/plot.h"

#define MAX_COLS 4096

static char *next_line(char **p) {
    char *s = *p;
    if (!*s) return NULL;
    char *e = strchr(s, '\n');
    if (e) *e = 0, *p = e + 1;
    else *p = s + strlen(s);
    return s;
}

static int blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r') return 0;
    return 1;
}

rs_status rs_table_read(const char *path, rs_table *t) {
    memset(t, 0, sizeof *t);
    size_t len;
    RS_TRY(rs_read_file(path, &t->buffer, &len, (size_t)256 << 20));
    if (memchr(t->buffer, 0, len)) {
        rs_table_free(t);
        return rs_error(RS_ERR_FORMAT, "%s: not a text file (NUL byte)", path);
    }
    char *fields[MAX_COLS], *p = t->buffer, *line;
    int32_t lineno = 0, n;
    while ((line = next_line(&p)) && (++lineno, blank(line))) {}
    if (!line) {
        rs_table_free(t);
        return rs_error(RS_ERR_FORMAT, "%s is empty (no header line)", path);
    }
    if ((n = rs_csv_split(line, fields, MAX_COLS)) <= 0) {
        rs_table_free(t);
        return rs_error(RS_ERR_FORMAT, "%s:%d: malformed header line", path, lineno);
    }
    t->n_cols = n;
    t->names = malloc((size_t)n * sizeof *t->names);
    if (!t->names) return rs_table_free(t), rs_error(RS_ERR_NOMEM, "out of memory reading %s", path);
    memcpy(t->names, fields, (size_t)n * sizeof *fields);
    size_t cap = 0;
    while ((line = next_line(&p))) {
        lineno++;
        if (blank(line)) continue;
        int m = rs_csv_split(line, fields, MAX_COLS);
        if (m != n) {
            rs_table_free(t);
            return rs_error(RS_ERR_FORMAT, "%s:%d: %d fields where the header has %d", path, lineno, m < 0 ? 0 : m, n);
        }
        if ((size_t)(t->n_rows + 1) * (size_t)n > cap) {
            cap = cap ? 2 * cap : 64 * (size_t)n;
            char **c = realloc(t->cells, cap * sizeof *c);
            if (!c) return rs_table_free(t), rs_error(RS_ERR_NOMEM, "out of memory reading %s", path);
            t->cells = c;
        }
        memcpy(t->cells + (size_t)t->n_rows * (size_t)n, fields, (size_t)n * sizeof *fields);
        t->n_rows++;
    }
    return RS_OK;
}

int32_t rs_table_col(const rs_table *t, const char *name) {
    for (int32_t i = 0; i < t->n_cols; i++)
        if (!strcmp(t->names[i], name)) return i;
    return -1;
}

int rs_table_num(const rs_table *t, int32_t row, int32_t col, double *v) {
    const char *s = rs_table_cell(t, row, col);
    if (!*s) return 0;
    char *end;
    double x = strtod(s, &end);
    if (*end) return 0;
    *v = x;
    return 1;
}

void rs_table_free(rs_table *t) {
    rs_free(t->buffer);
    free(t->names);
    free(t->cells);
    memset(t, 0, sizeof *t);
}
