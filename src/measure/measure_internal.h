/* measure_internal.h: what the files of src/measure share and nobody else needs: the generator of the clean,
 * deformed and noisy inputs of a probe set (inputs.c), the estimators' passes (sensitivity.c, median.c) and the
 * seed combination. Not a public API. */
#pragma once
#include "relstab/measure.h"
#include "relstab/progress.h"

/* The resolved perturbation. */
typedef enum { MV_DIFFEO = 0, MV_TRANSLATE2D = 1, MV_TRANSLATE1D = 2 } mv_kind;
const char *mv_name(mv_kind m);

/* Inputs of a pass: one probe set (P dataset indices) and K slots, slot s drawn with repeat = repeats[s].
 * Batch mode makes the inputs of a batch when asked; whole mode makes every input of the probe set at once (the
 * rectified noise needs the whole set, and --dump writes it). */
typedef struct {
    const rs_dataset *ds;
    const rs_measure_opts *o;
    int32_t c, h, w;
    int64_t d;            /* C*H*W */
    mv_kind move;
    double T;
    int32_t smooth;       /* gaussian interpolation: the clean images are smoothed with a zero field */
    rs_diffeo_plan plan;
    int32_t have_plan;
    int32_t bmax;
    int32_t K;
    const uint32_t *repeats; /* (K) */
    const int64_t *index;    /* (P) */
    int64_t P;
    int32_t whole;
    float *raw;           /* (bmax, d): the images before smoothing (smooth only) */
    int32_t *pos;         /* (bmax, 4) active pixels */
    float *x, *xd, *xn;   /* batch mode: (bmax, d), (K, bmax, d), (K, bmax, d); whole mode: (P, d), (K, P, d) x2 */
    float *xraw;          /* whole mode with smoothing: (P, d) raw images (for --dump) */
    rs_bar *bar;          /* progress of the pass (probe images done), or NULL */
} gen;

/* Resolves the perturbation for ds and o (errors name the option), allocates for batches of bmax. */
rs_status gen_init(gen *g, const rs_dataset *ds, const rs_measure_opts *o, int32_t bmax);
/* Starts a pass over index[0..P) with K slots; whole = 1 makes every input now. */
rs_status gen_start(gen *g, const int64_t *index, int64_t P, const uint32_t *repeats, int32_t K, int32_t whole);
/* The inputs of probe positions [pos0, pos0 + n): *x (n, d), xd[s] and xn[s] (n, d) for s < K. The pointers stay
 * valid until the next gen_batch. xd and xn hold K pointers each. */
rs_status gen_batch(gen *g, int64_t pos0, int32_t n, const float **x, const float **xd, const float **xn);
/* Writes the pass's inputs (whole mode) to dir with the file suffix (e.g. "" or "_1"). */
rs_status gen_dump(const gen *g, const char *dir, const char *suffix);
void gen_free(gen *g);

/* The representation of the nodes of a pass: node k's values of image p, n_k = neurons (H*W*C, or H*W with the
 * channel mean). Layout of a buffer for batch b: node-major, then image: buf[off_k * b + p * n_k + j]. */
typedef struct {
    int32_t n_nodes;
    const int32_t *nodes;
    int32_t chmean;
    int64_t *numel;       /* (n_nodes) */
    int64_t *off;         /* (n_nodes) prefix sums of numel */
    int64_t total;
    int32_t *src;         /* (n_nodes) the node whose output is read: nodes[k], or with aliasing its in-place ReLU */
} rep_layout;
rs_status rep_layout_init(rep_layout *L, const rs_net *net, const int32_t *nodes, int32_t n, int32_t chmean,
                          int32_t aliased);
/* The ReLU node that overwrites node i's output in the reference (nn.ReLU(inplace=True) of VGG and AlexNet: a relu
 * node named features.N or classifier.N whose input is i), or -1. */
int32_t rs_inplace_relu_after(const rs_net *net, int32_t i);
void rep_layout_free(rep_layout *L);
/* Node k's representation of the n images of the last forward: a pointer to the tap itself (full
 * representation), or the channel mean written into scratch (n, n_k) and returned. */
const float *rep_get(const rs_net *net, const rep_layout *L, int32_t k, int32_t n, float *scratch);

/* The estimators' passes. Each fills per_seed[s * n_nodes + k] for its slots s (the D, G, R and standard errors
 * of one draw; numel, node, name and op are filled by the caller). */
rs_status sens_mean_pass(rs_net *net, gen *g, const rep_layout *L, int32_t batch, rs_mode mode, rs_sens *per_seed,
                         int32_t slot0, int64_t *forwarded);
rs_status sens_median_pass(rs_net *net, gen *g, const rep_layout *L, int32_t batch, rs_mode mode, double mem,
                           rs_sens *per_seed, int32_t slot0, int64_t *forwarded);

/* One draw on given inputs (given.c): x, xd, xn (P, C, H, W) the clean, deformed and noisy images, measured at
 * nodes[0..n_nodes) by the pass of o->estimator with o->channel_mean, o->mode, o->batch (0: all P at once) and
 * o->median_mem; the rest of o is not used. out (n_nodes) is filled as rs_measure fills one draw's rows. The net
 * is (re)built for the batch if needed, keeping net->with_grad. For tests against independent implementations. */
rs_status sens_given(rs_net *net, const float *x, const float *xd, const float *xn, int64_t P, const int32_t *nodes,
                     int32_t n_nodes, const rs_measure_opts *o, rs_sens *out);

/* The lower median (the element of rank floor((n-1)/2), as torch.median) of v[0..n); v is reordered. */
double lower_median(double *v, int64_t n);
/* The element of rank k (0-based) of v[0..n) in ascending order; v is reordered. */
double lower_median_rank(double *v, int64_t n, int64_t k);
/* Welford-style bivariate accumulator of the per-image numerator terms (d_p, g_p), updated in image order. */
typedef struct {
    int64_t n;
    double md, mg, m2d, m2g, cdg;
} biv;
static inline void biv_add(biv *a, double d, double g) {
    a->n++;
    double dd = d - a->md, dg = g - a->mg, inv = 1.0 / (double)a->n;
    a->md += dd * inv;
    a->mg += dg * inv;
    a->m2d += dd * (d - a->md);
    a->m2g += dg * (g - a->mg);
    a->cdg += dd * (g - a->mg);
}
/* ||y - x||^2 over values [j0, j1) in double, with eight partial sums in a fixed order (vectorisable); the mean
 * estimator sums a node's values in blocks of SENS_BLK neurons and adds the blocks in order (sensitivity.c), and
 * rs_accum (accum.c) does the same on its double copies, so that the two agree bit for bit. */
#define SENS_BLK 1024
#define SENS_SQDIST_BODY                                                                                               \
    double acc[8] = {0};                                                                                               \
    int64_t j = j0;                                                                                                    \
    for (; j + 8 <= j1; j += 8)                                                                                        \
        for (int l = 0; l < 8; l++) {                                                                                  \
            double t = (double)y[j + l] - (double)x[j + l];                                                            \
            acc[l] += t * t;                                                                                           \
        }                                                                                                              \
    for (; j < j1; j++) {                                                                                              \
        double t = (double)y[j] - (double)x[j];                                                                        \
        acc[0] += t * t;                                                                                               \
    }                                                                                                                  \
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
static inline double sens_sqdist_f(const float *y, const float *x, int64_t j0, int64_t j1) { SENS_SQDIST_BODY }
static inline double sens_sqdist_d(const double *y, const double *x, int64_t j0, int64_t j1) { SENS_SQDIST_BODY }
/* Sharded measurement (merge.c): Chan's pairwise merge of per-neuron Welford states (a += b) and of bivariate
 * accumulators; sens_merge_ranks merges every rank's state (n_local images) on rank 0 in rank order and gives the
 * merged state to every rank (a no-op on one rank). */
void sens_welford_merge(double *mean_a, double *m2_a, int64_t na, const double *mean_b, const double *m2_b,
                        int64_t nb, int64_t N);
void sens_biv_merge(biv *a, const biv *b);
rs_status sens_merge_ranks(double *mean, double *m2, int64_t N, biv *acc, int64_t nacc, int64_t n_local,
                           int64_t *forwarded);
/* D, G, R of one draw from the accumulated numerators and the denominator (deno includes the 1e-10). */
void sens_from_biv(rs_sens *s, const biv *a, double deno);
