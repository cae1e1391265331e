/* sensitivity.c: D, G, R at the chosen nodes of a net: rs_measure (passes over probe sets, the draws combined by
 * geometric mean) and the streaming mean estimator (SPEC 11.2).
 *
 * Mean estimator, per node and draw, in one pass over the probe set in batches. The clean, deformed and noisy
 * images of a step go through the net as one forward (a third of the batch each, unless batch norm takes batch
 * statistics, which would mix them), and each node's output is then read once for all the sums below:
 *   - numerator terms d_p = ||f(tau x_p) - f(x_p)||^2 and g_p = ||f(x_p + eta_p) - f(x_p)||^2, each summed in
 *     double over fixed blocks of 1024 neurons (eight partial sums each) added in block order, then fed to a bivariate Welford accumulator in image order
 *     (mean, sum of squared deviations, co-moment), from which D_num, G_num and their standard errors come;
 *   - the denominator from a per-neuron Welford update over the clean images, image by image in probe order
 *     (parallel over neurons, each neuron's sequence fixed): deno = 2 sum_j M2_j / P + 1e-10, which equals the mean
 *     over all P^2 ordered pairs of ||a_p - a_q||^2 without the P^2 loop and without the cancellation of the
 *     one-pass sum-of-squares formula.
 * Nothing depends on how the images are cut into batches or on the thread count; the only differences come from
 * the float rounding inside the net's kernels. The median estimator is in median.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "measure/measure_internal.h"
#include "relstab/dist.h"

/* ---------------------------------------------------------------- one draw's numbers */
void sens_from_biv(rs_sens *s, const biv *a, double deno) {
    double n = (double)a->n;
    s->D_num = a->md;
    s->G_num = a->mg;
    s->deno = deno;
    s->D = a->md / deno;
    s->G = a->mg / deno;
    s->R = s->D / s->G;
    /* standard errors of the means over images; deno is treated as a fixed normalisation */
    double vd = a->n > 1 ? a->m2d / (n - 1) / n : NAN, vg = a->n > 1 ? a->m2g / (n - 1) / n : NAN;
    double cv = a->n > 1 ? a->cdg / (n - 1) / n : NAN;
    s->D_se = sqrt(vd) / deno;
    s->G_se = sqrt(vg) / deno;
    /* delta method for R = D_num / G_num, with the covariance of d_p and g_p (same images) */
    if (a->md > 0 && a->mg > 0) {
        double rel = vd / (a->md * a->md) + vg / (a->mg * a->mg) - 2 * cv / (a->md * a->mg);
        s->R_se = fabs(s->R) * sqrt(rel > 0 ? rel : 0);
    } else {
        s->R_se = NAN;
    }
}

/* ---------------------------------------------------------------- the mean estimator's pass */
/* One pass over a node's values for n probe images: the per-neuron Welford update of the clean rows (when mean is
 * not NULL; global counts pos0 + 1 ...) and, for each of np perturbed sets, out[i][p] = ||pert[i][p] - clean[p]||^2
 * in double. clean (n, N), pert[i] (n, N). The neurons are cut in fixed blocks of SENS_BLK; each block's partial
 * distances are added in block order, so nothing depends on the thread count. part: (blocks, np, n) scratch. */
static void node_pass(double *mean, double *m2, int64_t pos0, const float *clean, const float *const *pert,
                      int32_t np, int32_t n, int64_t N, double *part, double *const *out) {
    int64_t nblk = (N + SENS_BLK - 1) / SENS_BLK;
#pragma omp parallel for schedule(static) if ((int64_t)n * N * (np + (mean != NULL)) > 32768)
    for (int64_t b = 0; b < nblk; b++) {
        int64_t j0 = b * SENS_BLK, j1 = j0 + SENS_BLK < N ? j0 + SENS_BLK : N;
        double *pb = part + b * np * n;
        for (int32_t p = 0; p < n; p++) {
            const float *x = clean + (int64_t)p * N;
            if (mean) {
                double inv = 1.0 / (double)(pos0 + p + 1);
                for (int64_t j = j0; j < j1; j++) {
                    double v = x[j], delta = v - mean[j];
                    mean[j] += delta * inv;
                    m2[j] += delta * (v - mean[j]);
                }
            }
            for (int32_t i = 0; i < np; i++) {
                const float *y = pert[i] + (int64_t)p * N;
                pb[i * n + p] = sens_sqdist_f(y, x, j0, j1);
            }
        }
    }
    for (int32_t i = 0; i < np; i++)
        for (int32_t p = 0; p < n; p++) {
            double s = 0;
            for (int64_t b = 0; b < nblk; b++) s += part[(b * np + i) * n + p];
            out[i][p] = s;
        }
}

typedef struct {
    float *in;      /* (rows * batch, d) the inputs of a joint forward */
    float *clean;   /* (batch, total): node-major; only when the clean images are forwarded alone */
    float *scratch; /* (rows * batch, max numel) for channel means */
    double *part;   /* (max blocks, 2, batch) node_pass's partial sums */
    double *mean, *m2; /* (total) */
    double *dn, *gn;   /* (n_nodes, batch) numerator terms of the current batch */
    biv *acc;          /* (K, n_nodes) */
} mean_state;

static void mean_state_free(mean_state *m) {
    rs_free(m->in), rs_free(m->clean), rs_free(m->scratch), rs_free(m->part), rs_free(m->mean), rs_free(m->m2);
    rs_free(m->dn), rs_free(m->gn), rs_free(m->acc);
}

static rs_status mean_state_init(mean_state *m, const rep_layout *L, int32_t batch, int32_t K, int32_t rows,
                                 int64_t d) {
    memset(m, 0, sizeof *m);
    int64_t maxn = 1;
    for (int32_t k = 0; k < L->n_nodes; k++) maxn = L->numel[k] > maxn ? L->numel[k] : maxn;
    size_t cb = 0;
    int need_clean = rows != 3 || K > 1;
    if (need_clean && (rs_mul_size((size_t)batch, (size_t)L->total, &cb) || rs_mul_size(cb, sizeof(float), &cb)))
        return rs_error(RS_ERR_NOMEM, "the activations of a batch of %d are too large", batch);
    m->in = rows > 1 ? rs_alloc((size_t)rows * batch * (size_t)d * sizeof(float)) : NULL;
    m->clean = need_clean ? rs_alloc(cb) : NULL;
    m->scratch = L->chmean ? rs_alloc((size_t)rows * batch * (size_t)maxn * sizeof(float)) : NULL;
    m->part = rs_alloc((size_t)((maxn + SENS_BLK - 1) / SENS_BLK) * 2 * batch * sizeof(double));
    m->mean = rs_calloc((size_t)L->total * sizeof(double));
    m->m2 = rs_calloc((size_t)L->total * sizeof(double));
    m->dn = rs_alloc((size_t)L->n_nodes * batch * sizeof(double));
    m->gn = rs_alloc((size_t)L->n_nodes * batch * sizeof(double));
    m->acc = rs_calloc((size_t)K * L->n_nodes * sizeof(biv));
    if ((rows > 1 && !m->in) || (need_clean && !m->clean) || (L->chmean && !m->scratch) || !m->part || !m->mean ||
        !m->m2 || !m->dn || !m->gn || !m->acc) {
        mean_state_free(m);
        return rs_error(RS_ERR_NOMEM, "out of memory for a batch of %d activations (%zu MB)", batch, cb >> 20);
    }
    return RS_OK;
}

/* Under mpirun the probe set is split over the ranks, unless batch norm takes batch statistics (at init): then
 * the images of a forward are not independent, and every rank runs the whole set (identically). */
static int images_independent(const rs_net *net, rs_mode mode) {
    for (int32_t i = 0; i < net->n_nodes && mode != RS_MODE_EVAL; i++)
        if (net->nodes[i].op == RS_OP_BATCHNORM) return 0;
    return 1;
}
static int sens_sharded(const rs_net *net, rs_mode mode) { return rs_dist_size() > 1 && images_independent(net, mode); }

/* How many sets of a step's probe images one forward holds: 3 (clean, deformed and noisy of the first draw; the
 * later draws' deformed and noisy then go two sets at a time), 1 (batch norm takes batch statistics). */
static int32_t mean_rows(const rs_net *net, rs_mode mode) { return images_independent(net, mode) ? 3 : 1; }

/* The clean part of the last (joint) forward kept in m->clean for the later draws. */
static void keep_clean(const rs_net *net, const rep_layout *L, mean_state *m, int32_t n, int32_t batch) {
    for (int32_t k = 0; k < L->n_nodes; k++) {
        const float *rep = rep_get(net, L, k, 3 * n, m->scratch);
        memcpy(m->clean + L->off[k] * batch, rep, (size_t)n * (size_t)L->numel[k] * sizeof(float));
    }
}

/* Forwards n images of each of the `parts` sets a[0..parts) as one batch of parts * n (a copy into m->in). */
static rs_status forward_joint(rs_net *net, mean_state *m, const float *const *a, int32_t parts, int32_t n,
                               int64_t d, rs_mode mode) {
    for (int32_t i = 0; i < parts; i++) memcpy(m->in + (size_t)i * n * d, a[i], (size_t)n * (size_t)d * sizeof(float));
    return rs_net_forward(net, m->in, parts * n, mode);
}

/* The clean images forwarded alone: their values kept in m->clean, the Welford update of every node. */
static void clean_alone(const rs_net *net, const rep_layout *L, mean_state *m, int32_t n, int32_t batch, int64_t pos) {
    for (int32_t k = 0; k < L->n_nodes; k++) {
        float *dst = m->clean + L->off[k] * batch;
        const float *rep = rep_get(net, L, k, n, dst);
        if (rep != dst) memcpy(dst, rep, (size_t)n * (size_t)L->numel[k] * sizeof(float));
        node_pass(m->mean + L->off[k], m->m2 + L->off[k], pos, dst, NULL, 0, n, L->numel[k], m->part, NULL);
    }
}

/* The last forward held np perturbed sets of n images (np = 1: dn or gn per `which`; np = 2: deformed then noisy),
 * after the clean ones when `with_clean` (then the Welford update too); their numerator terms against the clean. */
static void perturbed(const rs_net *net, const rep_layout *L, mean_state *m, int32_t n, int32_t batch, int64_t pos,
                      int32_t with_clean, int32_t np, int32_t which) {
    for (int32_t k = 0; k < L->n_nodes; k++) {
        int64_t N = L->numel[k];
        const float *rep = rep_get(net, L, k, (with_clean + np) * n, m->scratch);
        const float *clean = with_clean ? rep : m->clean + L->off[k] * batch;
        const float *pert[2] = {rep + (with_clean ? (int64_t)n * N : 0), NULL};
        pert[1] = pert[0] + (int64_t)n * N;
        double *out[2] = {which ? m->gn + (size_t)k * batch : m->dn + (size_t)k * batch, m->gn + (size_t)k * batch};
        node_pass(with_clean ? m->mean + L->off[k] : NULL, m->m2 + L->off[k], pos, clean, pert, np, n, N, m->part, out);
    }
}

/* One step of n probe images at probe position pos0 (lo: this rank's first): the clean, deformed and noisy images
 * of the first draw forwarded as one batch of 3n, then each later draw's deformed and noisy ones as one batch of 2n
 * (so the first draw is computed exactly as with K = 1); each set alone when batch norm takes batch statistics. */
static rs_status mean_batch(rs_net *net, gen *g, const rep_layout *L, mean_state *m, int32_t rows, int32_t n,
                            int32_t batch, int64_t pos0, int64_t lo, rs_mode mode) {
    const float *x, *xd[RS_MEASURE_MAX_SEEDS], *xn[RS_MEASURE_MAX_SEEDS];
    int32_t K = g->K, nn = L->n_nodes;
    int64_t d = g->d, pos = pos0 - lo;
    RS_TRY(gen_batch(g, pos0, n, &x, xd, xn));
    if (rows == 3) {
        const float *a[3] = {x, xd[0], xn[0]};
        RS_TRY(forward_joint(net, m, a, 3, n, d, mode));
        if (K > 1) keep_clean(net, L, m, n, batch);
        perturbed(net, L, m, n, batch, pos, 1, 2, 0);
    } else {
        RS_TRY(rs_net_forward(net, x, n, mode));
        clean_alone(net, L, m, n, batch, pos);
    }
    for (int32_t r = 0; r < K; r++) {
        if (rows == 3 && r > 0) {
            const float *a[2] = {xd[r], xn[r]};
            RS_TRY(forward_joint(net, m, a, 2, n, d, mode));
            perturbed(net, L, m, n, batch, pos, 0, 2, 0);
        } else if (rows == 1) {
            RS_TRY(rs_net_forward(net, xd[r], n, mode));
            perturbed(net, L, m, n, batch, pos, 0, 1, 0);
            RS_TRY(rs_net_forward(net, xn[r], n, mode));
            perturbed(net, L, m, n, batch, pos, 0, 1, 1);
        }
        for (int32_t k = 0; k < nn; k++)
            for (int32_t p = 0; p < n; p++)
                biv_add(&m->acc[(size_t)r * nn + k], m->dn[(size_t)k * batch + p], m->gn[(size_t)k * batch + p]);
    }
    return RS_OK;
}

rs_status sens_mean_pass(rs_net *net, gen *g, const rep_layout *L, int32_t batch, rs_mode mode, rs_sens *per_seed,
                         int32_t slot0, int64_t *forwarded) {
    int32_t K = g->K, nn = L->n_nodes, rows = mean_rows(net, mode);
    if (batch < rows) rows = 1;
    batch /= rows; /* probe images per step: the forwards keep at most the given batch of images */
    mean_state m;
    RS_TRY(mean_state_init(&m, L, batch, K, rows, g->d));
    rs_status s = RS_OK;
    /* under mpirun: this rank's share of the batches (the same batches as one rank forwards), merge.c */
    int64_t lo = 0, hi = g->P, fwd = 0, nb = (g->P + batch - 1) / batch;
    if (sens_sharded(net, mode)) {
        rs_dist_share(nb, &lo, &hi);
        lo *= batch, hi = hi * batch < g->P ? hi * batch : g->P;
    }
    for (int64_t pos0 = lo; pos0 < hi && !s; pos0 += batch) {
        int32_t n = (int32_t)(hi - pos0 < batch ? hi - pos0 : batch);
        s = mean_batch(net, g, L, &m, rows, n, batch, pos0, lo, mode);
        fwd += (int64_t)n * (1 + 2 * K);
        if (g->bar && !s) rs_bar_update(g->bar, pos0 + n - lo, NULL);
    }
    if (sens_sharded(net, mode)) s = rs_dist_agree(s);
    if (!s && sens_sharded(net, mode)) s = sens_merge_ranks(m.mean, m.m2, L->total, m.acc, (int64_t)K * nn, hi - lo, &fwd);
    *forwarded += fwd;
    for (int32_t k = 0; k < nn && !s; k++) {
        double sum = 0;
        for (int64_t j = 0; j < L->numel[k]; j++) sum += m.m2[L->off[k] + j];
        double deno = 2.0 * sum / (double)g->P + 1e-10;
        for (int32_t r = 0; r < K; r++) sens_from_biv(&per_seed[(size_t)(slot0 + r) * nn + k], &m.acc[(size_t)r * nn + k], deno);
    }
    mean_state_free(&m);
    return s;
}

/* ---------------------------------------------------------------- combining draws */
/* Geometric mean of v[s * stride] over K draws and the standard error of it (delta method on the mean of logs). */
static void geo(const double *v, int32_t K, size_t stride, double *mean, double *se) {
    double s = 0, s2 = 0;
    int ok = 1;
    for (int32_t i = 0; i < K; i++) {
        double x = v[(size_t)i * stride];
        if (!(x > 0) || !isfinite(x)) ok = 0;
        else s += log(x);
    }
    if (!ok) { /* a zero (or NaN / inf) draw: the geometric mean is not informative, the arithmetic one is kept */
        double a = 0;
        for (int32_t i = 0; i < K; i++) a += v[(size_t)i * stride];
        *mean = a / K;
        if (se) *se = NAN;
        return;
    }
    double mu = s / K;
    for (int32_t i = 0; i < K; i++) {
        double t = log(v[(size_t)i * stride]) - mu;
        s2 += t * t;
    }
    *mean = exp(mu);
    if (se) *se = K > 1 ? *mean * sqrt(s2 / (K - 1) / K) : NAN;
}

static void combine(rs_measure_result *res) {
    int32_t nn = res->n_nodes, K = res->seeds;
    for (int32_t k = 0; k < nn; k++) {
        rs_sens *out = &res->rows[k];
        const rs_sens *first = &res->per_seed[k];
        if (K == 1) {
            *out = *first;
            continue;
        }
        double v[6][RS_MEASURE_MAX_SEEDS];
        for (int32_t s = 0; s < K; s++) {
            const rs_sens *q = &res->per_seed[(size_t)s * nn + k];
            v[0][s] = q->D, v[1][s] = q->G, v[2][s] = q->R, v[3][s] = q->D_num, v[4][s] = q->G_num, v[5][s] = q->deno;
        }
        *out = *first;
        geo(v[0], K, 1, &out->D, &out->D_se);
        geo(v[1], K, 1, &out->G, &out->G_se);
        geo(v[2], K, 1, &out->R, &out->R_se);
        geo(v[3], K, 1, &out->D_num, NULL);
        geo(v[4], K, 1, &out->G_num, NULL);
        geo(v[5], K, 1, &out->deno, NULL);
    }
}

/* ---------------------------------------------------------------- flags */
const char *rs_sens_flag_name(rs_sens_flag f) {
    return f == RS_SENS_NAN ? "nan" : f == RS_SENS_ZERO_DENOMINATOR ? "zero_denominator" : "ok";
}

static rs_sens_flag flag_of(const rs_sens *q) {
    if (!isfinite(q->D_num) || !isfinite(q->G_num) || !isfinite(q->deno)) return RS_SENS_NAN;
    if (!(q->deno - 1e-10 > 0) || !(q->G_num > 0)) return RS_SENS_ZERO_DENOMINATOR;
    return RS_SENS_OK;
}

/* Every draw's flag, the combined rows' as the worst over draws (and their own numbers); res->n_flagged. */
static void flag_rows(rs_measure_result *res) {
    int32_t nn = res->n_nodes;
    res->n_flagged = 0;
    for (int32_t k = 0; k < nn; k++) {
        rs_sens_flag worst = flag_of(&res->rows[k]);
        for (int32_t s = 0; s < res->seeds; s++) {
            rs_sens *q = &res->per_seed[(size_t)s * nn + k];
            q->flag = flag_of(q);
            worst = q->flag > worst ? q->flag : worst;
        }
        res->rows[k].flag = worst;
        res->n_flagged += worst != RS_SENS_OK;
    }
}

/* ---------------------------------------------------------------- rs_measure */
void rs_measure_result_free(rs_measure_result *r) {
    rs_free(r->rows);
    rs_free(r->per_seed);
    memset(r, 0, sizeof *r);
}

static rs_status check_opts(const rs_net *net, const rs_dataset *ds, const int64_t *probe, const rs_measure_opts *o) {
    /* with P = 1 the denominator is the 1e-10 guard alone; the median of the P^2 pair distances (the diagonal
       included) is 0 for P = 2 */
    int64_t pmin = o->estimator == RS_EST_MEDIAN ? 3 : 2;
    if (o->P < pmin)
        return rs_error(RS_ERR_ARG, "the %s estimator needs P >= %lld probe images (the denominator compares images), "
                        "got P = %lld", rs_estimator_name(o->estimator), (long long)pmin, (long long)o->P);
    if (o->P > INT32_MAX) return rs_error(RS_ERR_ARG, "P = %lld is too large", (long long)o->P);
    if (o->seeds < 1 || o->seeds > RS_MEASURE_MAX_SEEDS)
        return rs_error(RS_ERR_ARG, "seeds must be between 1 and %d, got %d", RS_MEASURE_MAX_SEEDS, o->seeds);
    if (o->resample && probe) return rs_error(RS_ERR_ARG, "a fixed probe set was given: it cannot be resampled per draw");
    if (o->resample && o->probe == RS_PROBE_FIRST)
        return rs_error(RS_ERR_ARG, "resampling the probe set per draw needs a sampled probe set, not the first P");
    if (o->batch < 0) return rs_error(RS_ERR_ARG, "batch must be >= 0, got %d", o->batch);
    if (o->estimator == RS_EST_MEDIAN && !(o->median_mem > 0))
        return rs_error(RS_ERR_ARG, "the median estimator needs a positive memory budget");
    const rs_node *in = &net->nodes[0];
    if (in->c != ds->channels || in->h != ds->height || in->w != ds->width)
        return rs_error(RS_ERR_ARG, "the net takes %dx%dx%d inputs but %s has %dx%dx%d images", in->c, in->h, in->w,
                        ds->spec, ds->channels, ds->height, ds->width);
    if (!net->params.data) return rs_error(RS_ERR_ARG, "the net has no parameters yet (load or initialise it first)");
    if (probe)
        for (int64_t i = 0; i < o->P; i++)
            if (probe[i] < 0 || probe[i] >= ds->n)
                return rs_error(RS_ERR_ARG, "probe index %lld is outside the %lld images of %s", (long long)probe[i],
                                (long long)ds->n, ds->spec);
    return RS_OK;
}

/* The batch: given, or the net's, or 100; at init a net with batch norm takes the whole probe set per forward. */
static int32_t pick_batch(const rs_net *net, const rs_measure_opts *o) {
    int has_bn = 0;
    for (int32_t i = 0; i < net->n_nodes; i++) has_bn |= net->nodes[i].op == RS_OP_BATCHNORM;
    int64_t b = o->batch;
    if (b <= 0) b = (o->mode == RS_MODE_INIT_EVAL && has_bn) ? o->P : (net->act.base ? net->batch : 100);
    return (int32_t)(b < o->P ? b : o->P);
}

typedef struct {
    int64_t *probe;
    uint32_t repeats[RS_MEASURE_MAX_SEEDS];
} pass_buf;

/* Pass i: the probe set and the draws it serves (all K draws on one probe set, or draw i on probe sample i). */
static rs_status run_passes(rs_net *net, const rs_dataset *ds, const int64_t *probe, const rep_layout *L,
                            const rs_measure_opts *o, int32_t batch, gen *g, rs_measure_result *res) {
    int32_t passes = o->resample ? o->seeds : 1, K = o->resample ? 1 : o->seeds;
    pass_buf pb;
    pb.probe = probe ? NULL : rs_alloc((size_t)o->P * sizeof(int64_t));
    if (!probe && !pb.probe) return rs_error(RS_ERR_NOMEM, "out of memory for the probe indices");
    rs_status s = RS_OK;
    rs_bar bar;
    for (int32_t i = 0; i < passes && !s; i++) {
        double t0 = rs_now();
        char label[64];
        snprintf(label, sizeof label, "measure pass %d/%d", (int)i + 1, (int)passes);
        rs_bar_start(&bar, label, o->P, "img", !o->progress, -1);
        g->bar = &bar;
        for (int32_t r = 0; r < K; r++) pb.repeats[r] = (uint32_t)(o->resample ? i : r);
        if (!probe) s = rs_probe_select(ds, o->P, o->probe, o->seed, (uint32_t)(o->resample ? i : 0), pb.probe);
        if (!s) s = gen_start(g, probe ? probe : pb.probe, o->P, pb.repeats, K, o->dump_dir != NULL);
        if (!s && o->dump_dir) {
            char suffix[32] = "";
            if (passes > 1) snprintf(suffix, sizeof suffix, "_%d", (int)i);
            s = gen_dump(g, o->dump_dir, suffix);
        }
        if (!s && o->estimator == RS_EST_MEAN)
            s = sens_mean_pass(net, g, L, batch, o->mode, res->per_seed, i, &res->images_forwarded);
        else if (!s)
            s = sens_median_pass(net, g, L, batch, o->mode, o->median_mem, res->per_seed, i, &res->images_forwarded);
        if (!s)
            rs_bar_line(&bar, "measure: pass %d/%d: %lld probe images, %d draw%s, %d nodes, %.2f s", (int)i + 1,
                        (int)passes, (long long)o->P, (int)K, K > 1 ? "s" : "", (int)L->n_nodes, rs_now() - t0);
        else
            rs_bar_end(&bar);
        g->bar = NULL;
    }
    rs_free(pb.probe);
    return s;
}

rs_status rs_measure(rs_net *net, const rs_dataset *ds, const int64_t *probe, const int32_t *nodes, int32_t n_nodes,
                     const rs_measure_opts *o, rs_measure_result *res) {
    memset(res, 0, sizeof *res);
    double t0 = rs_now();
    RS_TRY(check_opts(net, ds, probe, o));
    int32_t *own = NULL;
    if (!nodes) {
        RS_TRY(rs_measure_default_nodes(net, &own, &n_nodes));
        nodes = own;
    }
    int32_t batch = pick_batch(net, o);
    rs_status s = RS_OK;
    if (!net->act.base || net->batch < batch) s = rs_net_build(net, batch, net->with_grad);
    rep_layout L = {0};
    gen g = {0};
    int have_gen = 0;
    if (!s) s = rep_layout_init(&L, net, nodes, n_nodes, o->channel_mean, o->aliased);
    if (!s) s = gen_init(&g, ds, o, batch), have_gen = !s;
    if (!s) {
        res->n_nodes = n_nodes, res->seeds = o->seeds, res->P = o->P, res->batch = batch, res->cut = o->cut;
        res->rows = rs_calloc((size_t)n_nodes * sizeof(rs_sens));
        res->per_seed = rs_calloc((size_t)n_nodes * o->seeds * sizeof(rs_sens));
        if (!res->rows || !res->per_seed) s = rs_error(RS_ERR_NOMEM, "out of memory for the results");
    }
    if (!s) {
        res->move = mv_name(g.move);
        res->T = g.T;
        int32_t n = g.h > g.w ? g.h : g.w;
        if (g.move == MV_DIFFEO && o->cut >= 2) rs_diffeo_delta_of_T(g.T, n, o->cut, &res->delta);
        s = run_passes(net, ds, probe, &L, o, batch, &g, res);
    }
    for (int32_t i = 0; i < n_nodes && !s; i++)
        for (int32_t r = 0; r < o->seeds; r++) {
            rs_sens *q = &res->per_seed[(size_t)r * n_nodes + i];
            q->node = nodes[i];
            snprintf(q->name, sizeof q->name, "%s", net->nodes[nodes[i]].name);
            q->op = net->nodes[nodes[i]].op;
            q->neurons = L.numel[i];
        }
    if (!s) combine(res), flag_rows(res);
    if (have_gen) gen_free(&g);
    rep_layout_free(&L);
    rs_free(own);
    if (s) rs_measure_result_free(res);
    else res->seconds = rs_now() - t0;
    return s;
}
