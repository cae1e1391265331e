/* run.c: the forward pass of the constant-filter model and the measurement of D_k, G_k, R_k (SPEC 1.2):
 *   numerators  = mean over probes of ||f_k(x_d) - f_k(x)||^2 and ||f_k(x_n) - f_k(x)||^2,
 *   denominator = mean over all P^2 ordered pairs of ||f_k(x_p) - f_k(x_q)||^2 = 2 mean_p ||f_k(x_p) - abar_k||^2,
 * plus 1e-10, computed in two passes (the mean representation abar first). Threads work on probes; every
 * per-probe number is stored and the sums run in probe order (abar over a fixed partition of the probes), so the
 * result does not depend on the thread count. Not a general convolution: single channel, constant filters. */
#include "relstab/theory.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "relstab/progress.h"

typedef struct {
    int dim, F, s, pad, circular, depth;
    double scale, bias;
    int64_t width[RS_THEORY_MAX_DEPTH + 1]; /* neurons per side, k = 0 (input) .. L */
    int64_t units[RS_THEORY_MAX_DEPTH + 1]; /* width^dim */
    int64_t offset[RS_THEORY_MAX_DEPTH + 1]; /* where layer k (k >= 1) starts in a concatenation of layers 1..L */
    int64_t total;                           /* units of layers 1..L */
} model;

static void model_init(model *m, const rs_theory_config *c) {
    memset(m, 0, sizeof *m);
    m->dim = c->dim;
    m->F = c->filter;
    m->s = c->stride;
    m->circular = c->padding == RS_THEORY_PAD_CIRCULAR;
    m->pad = c->padding == RS_THEORY_PAD_ZERO ? (c->filter - 1) / 2
                                              : ((c->filter % 2) ? (c->filter - 1) / 2 : c->filter / 2 - 1);
    m->depth = c->depth;
    m->scale = c->dim == 1 ? (double)c->stride / c->filter : ((double)c->stride / c->filter) * c->stride / c->filter;
    m->bias = c->bias;
    m->width[0] = c->size;
    for (int k = 0; k <= c->depth; k++) {
        if (k > 0) m->width[k] = rs_theory_layer_width(m->width[k - 1], c->filter, c->stride, c->padding);
        m->units[k] = c->dim == 1 ? m->width[k] : m->width[k] * m->width[k];
        if (k > 0) {
            m->offset[k] = m->total;
            m->total += m->units[k];
        }
    }
}

/* The number of probe chunks over which abar is accumulated: fixed by the problem, never by the thread count,
 * and kept within 256 MB of accumulators. */
static int64_t n_chunks(int64_t probes, int64_t units_total) {
    int64_t budget = ((int64_t)256 << 20) / 8;
    int64_t c = units_total > 0 ? budget / units_total : 16;
    if (c > 16) c = 16;
    if (c > probes) c = probes;
    return c < 1 ? 1 : c;
}

int64_t rs_theory_bytes(const rs_theory_config *c, int threads) {
    model *m = rs_alloc(sizeof(model));
    if (!m) return INT64_MAX;
    model_init(m, c);
    double M = (double)m->units[0], P = (double)(c->probes > 0 ? c->probes : m->units[0]);
    double ch = (double)n_chunks((int64_t)P, m->total);
    double bytes = 8.0 * (8.0 * M * threads + (3.0 * c->depth + 2.0) * P + (ch + 1.0) * (double)m->total);
    rs_free(m);
    return bytes > 9e18 ? INT64_MAX : (int64_t)bytes;
}

static inline int64_t wrap(int64_t t, int64_t n) {
    t %= n;
    return t < 0 ? t + n : t;
}

/* out[i] = sum_{j<F} in[i s + j - pad] for i in [lo, hi), zero or periodic outside 0..nin-1 */
static void window_sum_checked(double *out, int64_t lo, int64_t hi, const double *in, int64_t nin, const model *m) {
    for (int64_t i = lo; i < hi; i++) {
        int64_t a = i * m->s - m->pad;
        double acc = 0;
        for (int j = 0; j < m->F; j++) {
            int64_t t = a + j;
            if (m->circular) t = wrap(t, nin);
            else if (t < 0 || t >= nin) continue;
            acc += in[t];
        }
        out[i] = acc;
    }
}

/* out[i] = sum_{j<F} in[i s + j - pad], i < nout. The interior (window inside the input) has fast paths for the
 * common stride-1 filters; every path adds the F terms in the same order, so they give the same bits. */
static void window_sum(double *restrict out, int64_t nout, const double *restrict in, int64_t nin, const model *m) {
    int s = m->s, F = m->F, pad = m->pad;
    int64_t lo = (pad + s - 1) / s, hi = nin - F + pad >= 0 ? (nin - F + pad) / s + 1 : 0;
    if (lo > nout) lo = nout;
    if (hi > nout) hi = nout;
    if (hi < lo) hi = lo;
    window_sum_checked(out, 0, lo, in, nin, m);
    window_sum_checked(out, hi, nout, in, nin, m);
    const double *p = in - pad;
    if (s == 1 && F == 2) {
        for (int64_t i = lo; i < hi; i++) out[i] = p[i] + p[i + 1];
    } else if (s == 1 && F == 3) {
        for (int64_t i = lo; i < hi; i++) out[i] = p[i] + p[i + 1] + p[i + 2];
    } else if (s == 2 && F == 2) {
        for (int64_t i = lo; i < hi; i++) out[i] = p[2 * i] + p[2 * i + 1];
    } else {
        for (int64_t i = lo; i < hi; i++) {
            const double *q = p + i * s;
            double acc = 0;
            for (int j = 0; j < F; j++) acc += q[j];
            out[i] = acc;
        }
    }
}

static void relu_affine(double *v, int64_t n, double scale, double bias) {
    for (int64_t i = 0; i < n; i++) {
        double t = scale * v[i] + bias;
        v[i] = t > 0 ? t : 0;
    }
}

/* Layer k: in (width[k-1]^dim) -> out (width[k]^dim). 2D is separable: rows first into tmp (nin x nout), then
 * whole rows of tmp are added for the vertical window. */
static void layer_forward(double *out, const double *in, double *tmp, int k, const model *m) {
    int64_t nin = m->width[k - 1], nout = m->width[k];
    if (m->dim == 1) {
        window_sum(out, nout, in, nin, m);
        relu_affine(out, nout, m->scale, m->bias);
        return;
    }
    for (int64_t r = 0; r < nin; r++) window_sum(tmp + r * nout, nout, in + r * nin, nin, m);
    for (int64_t i = 0; i < nout; i++) {
        double *o = out + i * nout;
        memset(o, 0, (size_t)nout * sizeof(double));
        int64_t a = i * m->s - m->pad;
        for (int j = 0; j < m->F; j++) {
            int64_t t = a + j;
            if (m->circular) t = wrap(t, nin);
            else if (t < 0 || t >= nin) continue;
            const double *row = tmp + t * nout;
            for (int64_t c = 0; c < nout; c++) o[c] += row[c];
        }
    }
    relu_affine(out, nout * nout, m->scale, m->bias);
}

typedef struct {
    double *c[2], *d[2], *n[2]; /* clean, diffeo, noisy: ping-pong buffers of units[0] */
    double *tmp, *eta;
    double *block;              /* the single allocation */
} scratch;

static int scratch_init(scratch *s, int64_t m) {
    s->block = rs_alloc((size_t)m * 8 * sizeof(double));
    if (!s->block) return -1;
    for (int i = 0; i < 2; i++) {
        s->c[i] = s->block + (0 + i) * m;
        s->d[i] = s->block + (2 + i) * m;
        s->n[i] = s->block + (4 + i) * m;
    }
    s->tmp = s->block + 6 * m;
    s->eta = s->block + 7 * m;
    return 0;
}

static int64_t shifted(int64_t q, const rs_theory_config *c) {
    if (c->dim == 1) return (q + 1) % c->size;
    int64_t row = q / c->size, col = q % c->size;
    return row * c->size + (col + 1) % c->size;
}

/* The clean, shifted and noisy inputs of probe q into s->c[0], s->d[0], s->n[0]; returns the mean over the
 * off-probe pixels of max(eta_j, 0). */
static double make_inputs(scratch *s, const rs_theory_config *c, const model *m, int64_t q, int want_noise) {
    int64_t M = m->units[0];
    memset(s->c[0], 0, (size_t)M * sizeof(double));
    s->c[0][q] = 1.0;
    if (!want_noise) return 0;
    memset(s->d[0], 0, (size_t)M * sizeof(double));
    s->d[0][shifted(q, c)] = 1.0;
    /* ||x_d - x|| = sqrt(2): two distinct one-hot vectors (N >= 2) */
    double norm = c->noise_norm > 0 ? c->noise_norm : sqrt(2.0);
    rs_theory_noise(s->eta, M, c->seed, c->repeat, (uint64_t)q, norm);
    double pos = 0;
    for (int64_t j = 0; j < M; j++) {
        double v = s->c[0][j] + s->eta[j];
        s->n[0][j] = (c->raw_noise || v > 0) ? v : 0;
        if (j != q && s->eta[j] > 0) pos += s->eta[j];
    }
    return pos / (double)(M - 1);
}

static double sq_dist(const double *a, const double *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        double t = a[i] - b[i];
        s += t * t;
    }
    return s;
}

static void swap_ptr(double **p) {
    double *t = p[0];
    p[0] = p[1];
    p[1] = t;
}

typedef struct {
    const rs_theory_config *cfg;
    const model *m;
    const int64_t *pos;   /* (P) probe positions */
    int64_t P, n_chunk;
    int64_t done;         /* probes through a pass (progress), both passes counted */
    double *dnum, *gnum, *dev; /* (P, L) */
    double *posmean;      /* (P) */
    double *acc;          /* (n_chunk, total) */
    const double *abar;   /* (total) */
} job;

/* Pass 1: the three forwards of every probe of chunk ch; numerators stored, clean layers summed into acc. */
static void pass1_chunk(const job *J, scratch *s, int64_t ch) {
    const model *m = J->m;
    int L = m->depth;
    double *acc = J->acc + ch * m->total;
    for (int64_t i = ch * J->P / J->n_chunk; i < (ch + 1) * J->P / J->n_chunk; i++) {
        J->posmean[i] = make_inputs(s, J->cfg, m, J->pos[i], 1);
        for (int k = 1; k <= L; k++) {
            layer_forward(s->c[1], s->c[0], s->tmp, k, m);
            layer_forward(s->d[1], s->d[0], s->tmp, k, m);
            layer_forward(s->n[1], s->n[0], s->tmp, k, m);
            swap_ptr(s->c);
            swap_ptr(s->d);
            swap_ptr(s->n);
            int64_t u = m->units[k];
            J->dnum[i * L + k - 1] = sq_dist(s->d[0], s->c[0], u);
            J->gnum[i * L + k - 1] = sq_dist(s->n[0], s->c[0], u);
            double *a = acc + m->offset[k];
            for (int64_t t = 0; t < u; t++) a[t] += s->c[0][t];
        }
    }
}

/* Pass 2: the clean forward of probe i again, and its squared distance to abar at every layer. */
static void pass2_probe(const job *J, scratch *s, int64_t i) {
    const model *m = J->m;
    make_inputs(s, J->cfg, m, J->pos[i], 0);
    for (int k = 1; k <= m->depth; k++) {
        layer_forward(s->c[1], s->c[0], s->tmp, k, m);
        swap_ptr(s->c);
        J->dev[i * m->depth + k - 1] = sq_dist(s->c[0], J->abar + m->offset[k], m->units[k]);
    }
}

/* mean and standard error of x[i * stride], i < n, summed in order */
static void mean_se(const double *x, int64_t n, int64_t stride, double *mean, double *se) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i * stride];
    double mu = s / (double)n, v = 0;
    for (int64_t i = 0; i < n; i++) v += (x[i * stride] - mu) * (x[i * stride] - mu);
    *mean = mu;
    *se = n > 1 ? sqrt(v / (double)(n - 1) / (double)n) : 0;
}

/* Counts n more probes done; thread 0 redraws the caller's bar (relstab/progress.h). */
static void progress(job *J, int64_t n) {
    if (!J->cfg->progress) return;
    int64_t done;
#pragma omp atomic capture
    done = J->done += n;
    if (omp_get_thread_num() == 0) rs_bar_update(J->cfg->progress, done, NULL);
}

static rs_status run_passes(job *J, int64_t M) {
    int failed = 0;
#pragma omp parallel
    {
        scratch s = {0};
        int ok = scratch_init(&s, M) == 0;
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t ch = 0; ch < J->n_chunk; ch++)
            if (ok) {
                pass1_chunk(J, &s, ch);
                progress(J, (ch + 1) * J->P / J->n_chunk - ch * J->P / J->n_chunk);
            }
#pragma omp single
        {
            /* abar = sum of the chunk sums in chunk order, / P */
            double *abar = (double *)J->abar;
            const model *m = J->m;
            for (int64_t t = 0; t < m->total; t++) {
                double v = 0;
                for (int64_t ch = 0; ch < J->n_chunk; ch++) v += J->acc[ch * m->total + t];
                abar[t] = v / (double)J->P;
            }
        }
#pragma omp for schedule(dynamic, 4)
        for (int64_t i = 0; i < J->P; i++)
            if (ok) pass2_probe(J, &s, i), progress(J, 1);
        rs_free(s.block);
    }
    if (failed) return rs_error(RS_ERR_NOMEM, "cannot allocate the theory model's buffers (%lld values)", (long long)M);
    return RS_OK;
}

static void summarise(const job *J, rs_theory_result *out) {
    const model *m = J->m;
    int L = m->depth;
    for (int k = 1; k <= L; k++) {
        rs_theory_layer *ly = &out->layers[k - 1];
        double dev, dev_se;
        ly->k = k;
        ly->width = m->width[k];
        ly->rf = rs_theory_rf(m->F, m->s, k);
        mean_se(J->dnum + k - 1, J->P, L, &ly->d_num, &ly->d_num_se);
        mean_se(J->gnum + k - 1, J->P, L, &ly->g_num, &ly->g_num_se);
        mean_se(J->dev + k - 1, J->P, L, &dev, &dev_se);
        ly->deno = 2.0 * dev + RS_THEORY_DENO_EPS;
        ly->D = ly->d_num / ly->deno;
        ly->G = ly->g_num / ly->deno;
        ly->R = ly->G > 0 ? ly->D / ly->G : NAN;
        ly->D_se = ly->d_num_se / ly->deno;
        ly->G_se = ly->g_num_se / ly->deno;
    }
    mean_se(J->posmean, J->P, 1, &out->noise_pos_mean, &out->noise_pos_mean_se);
}

rs_status rs_theory_run(const rs_theory_config *cfg_in, rs_theory_result *out) {
    memset(out, 0, sizeof *out);
    rs_theory_config cfg = *cfg_in;
    RS_TRY(rs_theory_resolve(&cfg));
    double t0 = rs_now();
    model *mp = rs_alloc(sizeof(model)); /* ~100 KB of per-layer tables: on the heap */
    if (!mp) return rs_error(RS_ERR_NOMEM, "cannot allocate the theory model");
    model_init(mp, &cfg);
    int64_t P = cfg.probes, L = cfg.depth;
    job J = {.cfg = &cfg, .m = mp, .P = P, .n_chunk = n_chunks(P, mp->total)};
    int64_t *pos = rs_alloc((size_t)P * sizeof(int64_t));
    double *per = rs_calloc((size_t)P * (3 * (size_t)L + 1) * sizeof(double));
    double *acc = rs_calloc((size_t)(J.n_chunk + 1) * (size_t)mp->total * sizeof(double));
    out->layers = rs_calloc((size_t)L * sizeof(rs_theory_layer));
    rs_status st = RS_OK;
    if (!pos || !per || !acc || !out->layers) {
        st = rs_error(RS_ERR_NOMEM, "cannot allocate the theory run (%lld probes, depth %lld)", (long long)P,
                      (long long)L);
        goto done;
    }
    if (cfg.dim == 1)
        for (int64_t i = 0; i < P; i++) pos[i] = i;
    else if ((st = rs_theory_probe_positions(pos, cfg.size, P, cfg.seed)) != RS_OK)
        goto done;
    J.pos = pos;
    J.dnum = per;
    J.gnum = per + P * L;
    J.dev = per + 2 * P * L;
    J.posmean = per + 3 * P * L;
    J.acc = acc;
    J.abar = acc + J.n_chunk * mp->total;
    if ((st = run_passes(&J, mp->units[0])) != RS_OK) goto done;
    out->cfg = cfg;
    out->n_probes = P;
    summarise(&J, out);
    out->threads = rs_get_threads();
    out->seconds = rs_now() - t0;
done:
    rs_free(pos);
    rs_free(per);
    rs_free(acc);
    rs_free(mp);
    if (st != RS_OK) rs_theory_result_free(out);
    return st;
}

rs_status rs_theory_forward(const rs_theory_config *cfg_in, const double *x, int k, double *out, int64_t *width) {
    rs_theory_config cfg = *cfg_in;
    if (cfg.dim == 2) cfg.probes = 0;
    RS_TRY(rs_theory_resolve(&cfg));
    if (k < 0 || k > cfg.depth) return rs_error(RS_ERR_ARG, "layer %d is outside 0..%d", k, cfg.depth);
    model *m = rs_alloc(sizeof(model));
    scratch s = {0};
    if (!m || scratch_init(&s, cfg.dim == 1 ? cfg.size : cfg.size * cfg.size) != 0) {
        rs_free(m);
        return rs_error(RS_ERR_NOMEM, "cannot allocate the theory model");
    }
    model_init(m, &cfg);
    memcpy(s.c[0], x, (size_t)m->units[0] * sizeof(double));
    for (int l = 1; l <= k; l++) {
        layer_forward(s.c[1], s.c[0], s.tmp, l, m);
        swap_ptr(s.c);
    }
    memcpy(out, s.c[0], (size_t)m->units[k] * sizeof(double));
    *width = m->width[k];
    rs_free(s.block);
    rs_free(m);
    return RS_OK;
}

void rs_theory_result_free(rs_theory_result *r) {
    rs_free(r->layers);
    r->layers = NULL;
}
