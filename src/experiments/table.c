/* table.c: aggregation across seeds of the layer-wise D, G, R of a grid (mean, standard error, mean of log10),
 * the tidy and figure CSVs, the least-squares line and correlation used by the verdicts.
 * It reads the measure CSVs the runs wrote; it measures nothing. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exp_internal.h"
#include "relstab/io.h"

/* While adding, mean[] holds the sum, se[] the sum of squares and lmean[] the sum of log10. */
static exp_curve_row *find_or_add(exp_curves *cv, const char *model, const char *cond, const char *node, int32_t k) {
    for (int32_t i = 0; i < cv->n; i++) {
        exp_curve_row *r = &cv->rows[i];
        if (!strcmp(r->model, model) && !strcmp(r->cond, cond) && !strcmp(r->node, node)) return r;
    }
    if (cv->n == cv->cap) {
        int32_t cap = cv->cap ? 2 * cv->cap : 256;
        exp_curve_row *rows = realloc(cv->rows, sizeof *rows * (size_t)cap);
        if (!rows) return NULL;
        cv->rows = rows;
        cv->cap = cap;
    }
    exp_curve_row *r = &cv->rows[cv->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->model, sizeof r->model, "%s", model);
    snprintf(r->cond, sizeof r->cond, "%s", cond);
    snprintf(r->node, sizeof r->node, "%s", node);
    r->k = k;
    return r;
}

rs_status exp_curves_add_csv(exp_curves *cv, const char *model, const char *cond, const char *csv) {
    FILE *f = fopen(csv, "r");
    if (!f) return rs_error(RS_ERR_IO, "cannot open %s: %s", csv, strerror(errno));
    char line[4096], *fld[64];
    int col[4] = {-1, -1, -1, -1}; /* node, D, G, R */
    static const char *names[4] = {"node", "D", "G", "R"};
    rs_status s = RS_OK;
    if (!fgets(line, sizeof line, f)) s = rs_error(RS_ERR_FORMAT, "%s: empty", csv);
    line[strcspn(line, "\r\n")] = 0;
    int nf = s ? 0 : rs_csv_split(line, fld, 64);
    for (int i = 0; i < nf; i++)
        for (int q = 0; q < 4; q++)
            if (!strcmp(fld[i], names[q])) col[q] = i;
    if (!s && (col[0] < 0 || col[1] < 0 || col[2] < 0 || col[3] < 0))
        s = rs_error(RS_ERR_FORMAT, "%s: needs the columns node, D, G, R", csv);
    int32_t k = 0;
    while (!s && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        if (rs_csv_split(line, fld, 64) != nf) {
            s = rs_error(RS_ERR_FORMAT, "%s: malformed row", csv);
            break;
        }
        exp_curve_row *r = find_or_add(cv, model, cond, fld[col[0]], k++);
        if (!r) {
            s = rs_error(RS_ERR_NOMEM, "curves");
            break;
        }
        for (int q = 0; q < 3; q++) {
            double v = strtod(fld[col[q + 1]], NULL);
            r->mean[q] += v;
            r->se[q] += v * v;
            r->lmean[q] += log10(v);
        }
        r->n++;
    }
    fclose(f);
    return s;
}

void exp_curves_finish(exp_curves *cv) {
    for (int32_t i = 0; i < cv->n; i++) {
        exp_curve_row *r = &cv->rows[i];
        for (int q = 0; q < 3; q++) {
            double n = r->n, m = r->mean[q] / n, var = n > 1 ? (r->se[q] - n * m * m) / (n - 1) : NAN;
            r->mean[q] = m;
            r->se[q] = n > 1 ? sqrt(var > 0 ? var : 0) / sqrt(n) : NAN;
            r->lmean[q] /= n;
        }
    }
}

void exp_curves_free(exp_curves *cv) {
    free(cv->rows);
    memset(cv, 0, sizeof *cv);
}

int32_t exp_curves_select(const exp_curves *cv, const char *model, const char *cond, const exp_curve_row **out,
                          int32_t max) {
    int32_t n = 0;
    for (int32_t i = 0; i < cv->n && n < max; i++)
        if (!strcmp(cv->rows[i].model, model) && !strcmp(cv->rows[i].cond, cond)) out[n++] = &cv->rows[i];
    return n;
}

void exp_nodes_of(const exp_curves *cv, const char *model, const char *cond, char *buf, size_t len) {
    buf[0] = 0;
    size_t l = 0;
    for (int32_t i = 0; i < cv->n; i++) {
        const exp_curve_row *r = &cv->rows[i];
        if (strcmp(r->model, model) || strcmp(r->cond, cond)) continue;
        int w = snprintf(buf + l, len - l, "%s%s", l ? "," : "", r->node);
        if (w < 0 || (size_t)w >= len - l) break;
        l += (size_t)w;
    }
}

void exp_curves_write_tidy(const exp_curves *cv, const char *experiment, FILE *f) {
    static const char *q[3] = {"D", "G", "R"};
    for (int32_t i = 0; i < cv->n; i++) {
        const exp_curve_row *r = &cv->rows[i];
        for (int j = 0; j < 3; j++)
            fprintf(f, "%s,%s,%s,%s,%d,%s,%.6e,%.6e,%d,%.6e\n", experiment, r->model, r->cond, r->node, (int)r->k, q[j],
                    r->mean[j], r->se[j], (int)r->n, pow(10, r->lmean[j]));
    }
}

rs_status exp_curves_write_wide(const exp_curves *cv, const char *path) {
    size_t cap = 128 + (size_t)cv->n * 400, len = 0;
    char *buf = malloc(cap);
    if (!buf) return rs_error(RS_ERR_NOMEM, "figure table");
    len += (size_t)snprintf(buf, cap, "model,condition,node,layer,D_mean,D_se,G_mean,G_se,R_mean,R_se,n\n");
    for (int32_t i = 0; i < cv->n; i++) {
        const exp_curve_row *r = &cv->rows[i];
        len += (size_t)snprintf(buf + len, cap - len, "%s,%s,%s,%d,%.6e,%.6e,%.6e,%.6e,%.6e,%.6e,%d\n", r->model,
                                r->cond, r->node, (int)r->k, r->mean[0], r->se[0], r->mean[1], r->se[1], r->mean[2],
                                r->se[2], (int)r->n);
    }
    rs_status s = rs_write_file_atomic(path, buf, len);
    free(buf);
    return s;
}

/* ---------------------------------------------------------------- statistics */
exp_fit exp_fit_line(const double *x, const double *y, int32_t n) {
    exp_fit f = {0};
    double sx = 0, sy = 0;
    int m = 0;
    for (int32_t i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) sx += x[i], sy += y[i], m++;
    f.n = m;
    f.slope = f.slope_se = f.intercept = f.r = NAN;
    if (m < 2) return f;
    double mx = sx / m, my = sy / m, sxx = 0, syy = 0, sxy = 0;
    for (int32_t i = 0; i < n; i++) {
        if (!(isfinite(x[i]) && isfinite(y[i]))) continue;
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
        sxy += (x[i] - mx) * (y[i] - my);
    }
    if (sxx <= 0) return f;
    f.slope = sxy / sxx;
    f.intercept = my - f.slope * mx;
    f.r = syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
    if (m > 2) {
        double rss = syy - f.slope * sxy;
        f.slope_se = sqrt((rss > 0 ? rss : 0) / (m - 2) / sxx);
    }
    f.ok = m > 2;
    return f;
}

void exp_mean_se(const double *v, int32_t n, double *mean, double *se) {
    double s = 0, ss = 0;
    int m = 0;
    for (int32_t i = 0; i < n; i++)
        if (isfinite(v[i])) s += v[i], m++;
    *mean = m ? s / m : NAN;
    for (int32_t i = 0; i < n; i++)
        if (isfinite(v[i])) ss += (v[i] - *mean) * (v[i] - *mean);
    *se = m > 1 ? sqrt(ss / (m - 1)) / sqrt(m) : NAN;
}

const char *exp_trend_verdict(double slope, double se, int sign) {
    if (!isfinite(slope)) return "not measured";
    double v = sign * slope;
    if (v > 2 * (isfinite(se) ? se : INFINITY)) return "holds";
    if (v > 0) return "partly";
    return "does not hold";
}

int32_t exp_count_seeds(const exp_run *runs, int32_t n, const char *model) {
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++) k += !strcmp(runs[i].model, model);
    return k;
}
