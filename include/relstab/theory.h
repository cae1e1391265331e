/* theory.h: the constant-filter pooling model of SPEC 6 and its scaling laws.
 * A single-channel CNN whose filters are all constant (1D or 2D, filter F, stride s, depth L, optional bias, ReLU)
 * is probed with one-active-pixel inputs at every position; the diffeo is the one-site shift and the noise is
 * norm-matched and rectified. D_k, G_k, R_k come out after each ReLU with the estimator of SPEC 1.2. Next to the
 * measurement: the receptive field, the asymptotic laws (with derived prefactors), the exact finite-size
 * expressions derived in docs/theory.md, least-squares exponents, the bias study and the reader of a trained net's
 * sens.csv for comparison.
 * It is not the net engine: the model is plain C in double precision, one channel, constant filters only. */
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "relstab/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    RS_THEORY_PAD_ZERO = 0,     /* zero padding of (F-1)//2 on each side (the reference notebook) */
    RS_THEORY_PAD_CIRCULAR = 1, /* periodic padding, F-1 in total (odd F: (F-1)/2 each side; even F: F/2-1 left) */
} rs_theory_padding;

#define RS_THEORY_MAX_DEPTH 4096
#define RS_THEORY_MAX_FILTER 64
#define RS_THEORY_MAX_BYTES ((int64_t)2 << 30) /* memory a run may use (2 GiB) */
#define RS_THEORY_DENO_EPS 1e-10               /* added to the denominator, as the reference */

typedef struct {
    int dim;          /* 1 or 2 */
    int stride;       /* s, in {1, 2, filter} */
    int filter;       /* F >= 2 */
    int depth;        /* L >= 1 */
    int64_t size;     /* N, probe length (1D) or side (2D); 0 = automatic (rs_theory_default_size) */
    int64_t probes;   /* 2D: probe positions, rounded up to whole rows of N (0 = automatic: about 1024);
                         1D: must be 0 (every position is probed) */
    double bias;      /* b added before every ReLU */
    rs_theory_padding padding;
    int raw_noise;     /* 0: x_n = ReLU(x + eta) (SPEC 6.1); 1: x_n = x + eta (bias study) */
    double noise_norm; /* <= 0: ||eta|| = ||x_d - x|| per probe (= sqrt 2); > 0: this fixed norm */
    uint64_t seed;
    uint32_t repeat;   /* noise stream sub-id (independent noise draws for the same seed) */
    struct rs_bar_s *progress; /* not NULL: an rs_bar (relstab/progress.h) started by the caller, updated with the
                                  probes done (total = 2 x probes: two passes); the results do not depend on it */
} rs_theory_config;

/* The defaults (SPEC 6.1): 1D, stride 2, filter 2, depth 8, automatic size, bias 0, zero padding, matched
 * rectified noise, seed 0. */
rs_theory_config rs_theory_defaults(void);

/* Receptive field (pixels per side) of one neuron of layer k: 1 + (F-1) * sum_{l=0}^{k-1} s^l (k = 0: 1).
 * Saturates at INT64_MAX. */
int64_t rs_theory_rf(int filter, int stride, int k);
/* Automatic probe size: 16 RF(L) in 1D, 4 RF(L) in 2D (the receptive field covers 1/16 of the input length or
 * area), at least 8. Returns -1 if it overflows. */
int64_t rs_theory_default_size(int dim, int filter, int stride, int depth);
/* Neurons per side of one layer for an input of n per side (0 if the layer has none). */
int64_t rs_theory_layer_width(int64_t n, int filter, int stride, rs_theory_padding padding);
/* Checks a configuration and fills the automatic size and probe count. One-line errors name the flag. */
rs_status rs_theory_resolve(rs_theory_config *cfg);
/* Bytes a run of a resolved configuration needs with `threads` threads. */
int64_t rs_theory_bytes(const rs_theory_config *cfg, int threads);

/* ---------------------------------------------------------------- the measurement */
typedef struct {
    int k;                     /* layer, 1..L (after the k-th ReLU) */
    int64_t width;             /* neurons per side */
    int64_t rf;                /* receptive field per side */
    double d_num, d_num_se;    /* mean over probes of ||f(x_d) - f(x)||^2 and its standard error */
    double g_num, g_num_se;    /* mean over probes of ||f(x_n) - f(x)||^2 and its standard error */
    double deno;               /* mean over all P^2 ordered pairs of ||f(x_p) - f(x_q)||^2, plus 1e-10 */
    double D, G, R, D_se, G_se;
} rs_theory_layer;

typedef struct {
    rs_theory_config cfg;      /* resolved */
    int64_t n_probes;
    rs_theory_layer *layers;   /* (depth) */
    double noise_pos_mean;     /* mean over probes and off-probe pixels of max(eta_j, 0) */
    double noise_pos_mean_se;
    double seconds;
    int threads;
} rs_theory_result;

/* Runs the model. Per-probe results are stored and summed in probe order, and the mean representation is
 * accumulated over a fixed partition of the probes: the result is bit-identical for any thread count. */
rs_status rs_theory_run(const rs_theory_config *cfg, rs_theory_result *out);
void rs_theory_result_free(rs_theory_result *r);

/* Layer k of the model for one input x (size^dim values): out gets width_k^dim values (*width = width_k).
 * Resolves a copy of cfg (automatic size if 0). */
rs_status rs_theory_forward(const rs_theory_config *cfg, const double *x, int k, double *out, int64_t *width);

/* The noise of probe `sample`: eta_j = norm * z_j / ||z||, z_j = rs_normal(seed, stream(THEORY, 0, repeat),
 * sample * m + j), j < m. */
void rs_theory_noise(double *eta, int64_t m, uint64_t seed, uint32_t repeat, uint64_t sample, double norm);
/* The probe positions of a 2D run (probes = R whole rows of n): every column of the rows r0 + floor(i n / R)
 * mod n, i < R (systematic sampling; r0 uniform in [0, n) from stream(THEORY, 1, 0) under seed, 0 if R = n),
 * in increasing order. The shift runs along the rows, so every column, hence every block boundary, is probed. */
rs_status rs_theory_probe_positions(int64_t *pos, int64_t n, int64_t probes, uint64_t seed);

/* ---------------------------------------------------------------- predictions */
typedef enum {
    RS_THEORY_LAW_NONE = 0, /* no law derived (stride 2 with filter != 2) */
    RS_THEORY_LAW_POWER,    /* Q ~ A k^a      (stride 1; exponents in ln Q per ln k) */
    RS_THEORY_LAW_EXP,      /* Q ~ A s^(a k)  (stride s = filter; exponents in log_s Q per layer) */
} rs_theory_law_kind;

typedef struct {
    rs_theory_law_kind kind;
    double base;           /* s for EXP laws */
    double exponent[3];    /* D, G, R */
    double prefactor[3];   /* derived asymptotic prefactor A of D, G, R */
    const char *exponent_text[3];
} rs_theory_laws;
rs_theory_laws rs_theory_predict(const rs_theory_config *cfg);
/* A * (k^a or base^(a k)) */
double rs_theory_law_value(const rs_theory_laws *laws, int q, double prefactor, int k);
/* The abscissa of the fits: ln k (POWER) or k (EXP, so that the slope of log_s Q is the exponent); the ordinate is
 * ln Q (POWER) or log_s Q (EXP). */
double rs_theory_fit_x(const rs_theory_laws *laws, int k);
double rs_theory_fit_y(const rs_theory_laws *laws, double q);

/* E max(eta_j, 0) for eta uniform on the sphere of radius norm in m dimensions:
 * (norm / 2) Gamma(m/2) / (sqrt(pi) Gamma((m+1)/2)) (about norm / sqrt(2 pi m)). */
double rs_theory_rect_mean(int64_t m, double norm);

/* Exact values for a model configuration and layer k, when docs/theory.md derives them (every position probed):
 *  - stride = filter = 2, zero padding, b >= 0, rectified noise: D and the expectation of the G numerator, any N;
 *  - the same with raw noise, b = 0 (the first ReLU rectifies) and noise norm <= 1;
 *  - stride 1, circular padding, b >= 0, rectified noise: D and the expectation of the G numerator, any N.
 * Returns 1 and fills the fields, or 0 when no exact expression applies. The G expectation neglects the event
 * that the noise flips the sign of the active pixel's (or its window's) value, of probability below 1e-9 for
 * N >= 64 at the matched norm sqrt 2. */
typedef struct {
    double d_num, deno, D;  /* exact */
    double g_num;           /* expectation over the noise */
    double G;               /* g_num / deno */
} rs_theory_exact;
int rs_theory_exact_layer(const rs_theory_config *cfg, int k, rs_theory_exact *ex);
/* Stride 1, N -> infinity (any padding): D_inf = 1 - c1/c0 and G_inf = (c0^d + (1 - c0^d)/pi) / (2 c0^d) with
 * c_m the autocorrelation of the layer-k kernel at lag m (1D). Returns 0 if stride != 1. */
int rs_theory_infinite_layer(const rs_theory_config *cfg, int k, double *D_inf, double *G_inf);
/* Autocorrelation c_m, |m| <= maxlag, of the k-layer stride-1 kernel (k-fold convolution of a uniform
 * F-point window), folded onto a circle of n points when n > 0. out has maxlag + 1 entries. */
rs_status rs_theory_kernel_autocorr(int filter, int k, int64_t n, int maxlag, double *out);

/* ---------------------------------------------------------------- fits */
typedef struct {
    int ok;           /* 0 if fewer than 3 usable points */
    int k_lo, k_hi, n;
    double slope, slope_se, intercept;
} rs_theory_fit;
/* Ordinary least squares y = intercept + slope x, with the standard error of the slope
 * sqrt(sum resid^2 / (n - 2) / sum (x - xbar)^2). Non-finite points are skipped. */
rs_theory_fit rs_theory_fit_line(const double *x, const double *y, int n);
/* The fit range: k_max = the deepest layer whose receptive field covers at most 1/16 of the input (length in
 * 1D, area in 2D); the fit uses the deepest half, k = ceil(k_max/2)..k_max, or 1..k_max if that has fewer than 3
 * layers. Returns 0 (and a range anyway) when fewer than 3 layers qualify. */
int rs_theory_fit_range(const rs_theory_config *cfg, int *k_lo, int *k_hi);
/* Fits of D, G, R (q = 0, 1, 2) of a result over k_lo..k_hi. */
rs_theory_fit rs_theory_fit_quantity(const rs_theory_result *r, const rs_theory_laws *laws, int q, int k_lo,
                                     int k_hi);
/* Prefactor fitted with the law's exponent held fixed: exp(mean (ln Q - a x ln base)) over k_lo..k_hi. */
double rs_theory_fit_prefactor(const rs_theory_result *r, const rs_theory_laws *laws, int q, int k_lo, int k_hi);

/* ---------------------------------------------------------------- bias study */
typedef struct {
    rs_theory_config base;  /* bias, noise_norm, raw_noise, repeat are set per point */
    const double *biases;
    int n_bias;
    const double *etas;     /* noise norms */
    int n_eta;
    int repeats;            /* independent noise draws averaged per point */
} rs_theory_bias_config;

typedef struct {
    int n_bias, n_eta, depth;
    double *g_over_eta2;   /* (n_bias, n_eta, depth): G_k / eta^2, the G numerator averaged over repeats */
    double *g_num;         /* (n_bias, n_eta, depth) */
    double *g_num_se;      /* (n_bias, n_eta, depth): standard error of g_num (probes and repeats) */
    double *deno;          /* (n_bias, depth) */
    double *eta_onset;     /* (n_bias): predicted norm where rectification starts, b sqrt(M F^d) / s^d */
    int64_t size;
} rs_theory_bias_result;
rs_status rs_theory_bias_run(const rs_theory_bias_config *bc, rs_theory_bias_result *out);
void rs_theory_bias_result_free(rs_theory_bias_result *r);

/* ---------------------------------------------------------------- a trained net's curves (sens.csv) */
typedef struct {
    int k;            /* 1-based layer */
    char node[96];
    double D, G, R;   /* geometric means over the seeds present */
    int n_seeds;
} rs_theory_net_layer;
/* Reads the columns node, D, G, R (required) and layer, epoch, checkpoint, seed (optional) of a sens.csv, as
 * docs/theory.md describes; keeps nodes whose name contains node_filter (NULL or "" = all). *layers is
 * rs_free'd by the caller. */
rs_status rs_theory_read_sens(const char *path, const char *node_filter, rs_theory_net_layer **layers, int *n);
/* The same, then a node selection among the remaining nodes: nodes as rs_measure_parse_nodes (names, glob patterns,
 * types from the op column, "all"), or NULL for the nodes the pooling model describes: the ReLU outputs before the
 * first linear node (op column), else the conv.{l}.mul nodes of the 1-D nets, else every node. note (may be NULL)
 * receives "K of M nodes (what)". */
rs_status rs_theory_read_sens_nodes(const char *path, const char *node_filter, const char *nodes,
                                    rs_theory_net_layer **layers, int *n, char *note, size_t note_len);

/* ---------------------------------------------------------------- reports */
/* The per-layer table, the fit range and the exponents with their uncertainties. */
void rs_theory_print(FILE *f, const rs_theory_result *r);
/* The comparison table of a net's curves with the model's. */
void rs_theory_print_compare(FILE *f, const rs_theory_result *r, const rs_theory_net_layer *net, int n_net);
void rs_theory_print_bias(FILE *f, const rs_theory_bias_config *bc, const rs_theory_bias_result *br);
/* CSV files (atomic writes). */
rs_status rs_theory_write_csv(const char *path, const rs_theory_result *r);
rs_status rs_theory_write_bias_csv(const char *path, const rs_theory_bias_config *bc,
                                   const rs_theory_bias_result *br);
/* PNG figure through gnuplot: D, G, R per layer (points), the laws with fitted prefactors (lines), and the net's
 * curves if net != NULL; log-log for stride 1, log-y against k for strided models. With br != NULL and r == NULL,
 * the bias-study figure (G_L / eta^2 against eta, one curve per bias). */
rs_status rs_theory_plot(const char *png, const rs_theory_result *r, const rs_theory_net_layer *net, int n_net,
                         const rs_theory_bias_config *bc, const rs_theory_bias_result *br);

/* For bindings (table.c): rs_theory_run with the configuration as "key=value" lines; out (max_rows,
 * RS_THEORY_COLUMNS) rows k, width, rf, d_num, d_num_se, g_num, g_num_se, deno, D, G, R, D_se, G_se. */
#define RS_THEORY_COLUMNS 13
rs_status rs_theory_run_table(const char *options, double *out, int32_t max_rows, int32_t *rows, int64_t *n_probes);

#ifdef __cplusplus
}
#endif
