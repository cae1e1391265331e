/* measure.h: the sensitivities D, G and R = D/G of a net's representations (SPEC.md 1, 4.2 and 11.2-11.5), the
 * channel shuffling that separates spatial from channel pooling (SPEC 4.2.1), the grid-Laplacian spectra of conv
 * filters (SPEC 4.2.2), probe sets, result files (tidy CSV, JSON, an aligned table) and the loading of a net from
 * a run directory, a safetensors file or a fresh initialisation.
 * It does not make perturbations (perturb.h), train (train.h) or plot.
 *
 * Definitions (docs/measure.md has them in full). For a node k with representation a_p = f_k(x_p) (all of the
 * node's H x W x C values, or their mean over channels), P probe images x_p, one diffeo tau_p and one noise eta_p
 * per image:
 *   D_num = mean_p ||f_k(tau_p x_p) - a_p||^2        G_num = mean_p ||f_k(x_p + eta_p) - a_p||^2
 *   deno  = mean_{p,q} ||a_p - a_q||^2 + 1e-10 = 2 mean_p ||a_p - abar||^2 + 1e-10   (all P^2 ordered pairs)
 *   D = D_num / deno,  G = G_num / deno,  R = D / G.
 * The mean estimator streams over the probe set in batches: per image, the squared distances are summed in
 * double; the denominator comes from a per-neuron Welford update (mean and sum of squared deviations, double),
 * applied image by image in probe order, so that the result does not depend on the batch size or the thread count
 * beyond the float rounding inside the net's kernels. Memory: one batch of activations of the chosen nodes, and
 * two doubles per neuron; nothing grows with P. */
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "relstab/data.h"
#include "relstab/models.h"
#include "relstab/nn.h"
#include "relstab/perturb.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- options */
typedef enum {
    RS_EST_MEAN = 0,   /* SPEC 1.2: mean over images; denominator over all P^2 pairs (the paper's) */
    RS_EST_MEDIAN = 1, /* SPEC 1.4: sum over neurons of the median over images; median of the P^2 pair distances */
} rs_estimator;

typedef enum {
    RS_NOISE_MATCHED = 0,   /* per image ||eta_p|| = ||tau_p x_p - x_p|| (default, SPEC 1.2) */
    RS_NOISE_RECTIFIED = 1, /* the 1-D paper's ReLU(sigma z), sigma^2 = mean over the probe set of (tau x - x)^2 */
    RS_NOISE_NORM = 2,      /* ||eta_p|| = noise_norm for every image */
    RS_NOISE_DIFFEO = 3,    /* a check: the "noisy" input is the deformed one, so G = D and R = 1 exactly */
} rs_noise_kind;

typedef enum {
    RS_MOVE_AUTO = 0,      /* local translations for the scale-detection tasks (on twopoints unless the interpolation
                              is nearest: then the diffeo, as the reference), the max-entropy diffeo otherwise */
    RS_MOVE_DIFFEO = 1,    /* max-entropy diffeo (2-D images) */
    RS_MOVE_TRANSLATE = 2, /* the task's local translation (twopoints: 2-D moves; scale1d: block-preserving moves) */
} rs_move_kind;

typedef enum { RS_PROBE_SAMPLE = 0, RS_PROBE_FIRST = 1 } rs_probe_kind;
#define RS_MEASURE_MAX_SEEDS 256

typedef struct {
    /* probe set (when rs_measure is not given one) */
    int64_t P;             /* probe images (500) */
    rs_probe_kind probe;   /* a seeded sample (default) or the first P images of the split */
    uint64_t seed;         /* seed of the probe sample and of every diffeo / noise draw (0) */
    int32_t seeds;         /* K independent draws, combined by geometric mean (1; at most RS_MEASURE_MAX_SEEDS) */
    int32_t resample;      /* 1: draw k also takes its own probe sample (sample k); 0: one probe set for all (0) */
    /* perturbations: draw k uses (seed, repeat = k) of perturb.h */
    rs_move_kind move;
    double delta;          /* typical displacement in pixels (1); T = T(delta, n = max(H, W), cut) */
    double T;              /* > 0: this temperature instead of delta; <= 0: from delta (-1) */
    int32_t cut;           /* high-frequency cutoff (3) */
    rs_interp interp;      /* linear (default), nearest, gaussian (then the clean images are smoothed too) */
    rs_noise_kind noise;
    double noise_norm;     /* RS_NOISE_NORM */
    /* estimator and representation */
    rs_estimator estimator;
    int32_t channel_mean;  /* 1: every representation is its mean over channels, (H, W) per image (SPEC 4.2.3) */
    int32_t aliased;       /* 1: the reference's in-place ReLU aliasing: a node followed by an nn.ReLU(inplace=True)
                              of VGG / AlexNet (features.N, classifier.N) reports that ReLU's output (docs/measure.md) */
    rs_mode mode;          /* RS_MODE_EVAL for a trained net, RS_MODE_INIT_EVAL at init (BN batch statistics) */
    int32_t batch;         /* images per forward; 0: the net's built batch, or 100 when it is not built; at init
                              (RS_MODE_INIT_EVAL) a net with batch norm takes batch = P: see docs/measure.md */
    double median_mem;     /* bytes of stored activations the median estimator may use per node chunk (1 GiB) */
    const char *dump_dir;  /* not NULL: write probe.npy, deformed.npy, noisy.npy, index.npy there */
    int32_t progress;      /* 1: a progress line on stderr per pass */
} rs_measure_opts;
void rs_measure_opts_default(rs_measure_opts *o);
const char *rs_estimator_name(rs_estimator e);    /* "mean", "median" */
rs_status rs_estimator_parse(const char *s, rs_estimator *out);
/* "matched", "rectified", "norm=X", "diffeo" (the R = 1 check). Sets kind and, for norm=X, *norm. */
rs_status rs_noise_parse(const char *s, rs_noise_kind *kind, double *norm);
const char *rs_noise_kind_name(rs_noise_kind k); /* "matched", "rectified", "norm", "diffeo" */

/* ---------------------------------------------------------------- probe sets */
/* P indices of the split, increasing: the first P (RS_PROBE_FIRST), or the first P of a permutation of 0..n-1
 * drawn from (seed, rs_stream(RS_PURPOSE_SUBSET, 1, sample)), sorted. P larger than the split is an error naming
 * both. out (P). */
rs_status rs_probe_select(const rs_dataset *ds, int64_t P, rs_probe_kind kind, uint64_t seed, uint32_t sample,
                          int64_t *out);

/* ---------------------------------------------------------------- nodes */
/* Every node except the input "x" (the default list). *nodes is allocated (rs_free). */
rs_status rs_measure_default_nodes(const rs_net *net, int32_t **nodes, int32_t *n);
/* A node selection, the one syntax of measure, forward and theory --compare (docs/measure.md): comma-separated
 * tokens, each
 *   a node name ("conv1", "x" allowed): that node (a name selected twice is an error);
 *   a glob pattern on names (fnmatch: "features.*", "conv.?.mul"): every matching node but the input;
 *   a node type: an op name (conv2d, relu, maxpool, batchnorm, linear, ... as rs_op_name) or an alias (conv, bn,
 *     fc, pool, swish): every node of that type; a word that is both a node name and a type is the node;
 *   "type:T" (T and the tokens after it are types), "name:N" (back to names);
 *   "all": every node but the input.
 * Pattern and type matches keep the net's order and skip nodes already selected. An unknown word, a pattern
 * matching nothing or a type absent from the net is an error naming it. "reference" alone is
 * rs_measure_reference_nodes. *nodes is allocated (rs_free). */
rs_status rs_measure_parse_nodes(const rs_net *net, const char *list, int32_t **nodes, int32_t *n);
/* The same over n items given by name and type name (ops may be NULL: then types cannot be selected; an item of
 * type "input" is never matched by a pattern, a type other than input, or "all"). *sel: item indices. */
rs_status rs_select_nodes(const char *const *names, const char *const *ops, int32_t n, const char *spec,
                          int32_t **sel, int32_t *n_sel);
/* The nodes the reference measurement keeps (the authors' torch.fx node list less x, size, view, squeeze, dropout
 * and names containing size, sub, floordiv, numel or pow). */
rs_status rs_measure_reference_nodes(const rs_net *net, int32_t **nodes, int32_t *n);

/* ---------------------------------------------------------------- results */
/* What a row's numbers are worth. A node whose clean representations are all equal (constant outputs, all-zero
 * weights) has a denominator made of the 1e-10 guard alone, so D and G are meaningless (~1e13 x the numerator);
 * a node whose noise numerator G_num is 0 (e.g. --delta 0: no deformation, so no noise either) has no R. */
typedef enum {
    RS_SENS_OK = 0,
    RS_SENS_ZERO_DENOMINATOR = 1, /* deno is the 1e-10 guard alone, or G_num = 0 (R = D / G undefined) */
    RS_SENS_NAN = 2,              /* a NaN or infinity in the representations (D_num, G_num or deno not finite) */
} rs_sens_flag;
const char *rs_sens_flag_name(rs_sens_flag f); /* "ok", "zero_denominator", "nan" */

typedef struct {
    int32_t node;
    char name[RS_NAME_MAX];
    rs_op_type op;
    int64_t neurons;       /* values per image in the representation: H*W*C, or H*W with the channel mean */
    double D, G, R;
    double D_se, G_se, R_se; /* standard errors (docs/measure.md: over images for one draw, over draws for K > 1) */
    double D_num, G_num, deno;
    rs_sens_flag flag;     /* combined rows: the worst flag over the draws */
} rs_sens;

typedef struct {
    int32_t n_nodes, seeds;
    rs_sens *rows;          /* (n_nodes): the draws combined */
    rs_sens *per_seed;      /* (seeds, n_nodes): each draw */
    int64_t P;
    double T;               /* temperature used (0 for the local translations) */
    double delta;           /* delta(T) for the image size (0 for translations) */
    int32_t cut;
    const char *move;       /* "diffeo", "translate2d" or "translate1d" */
    int32_t batch;          /* images per forward actually used */
    int64_t images_forwarded;
    double seconds;
    int32_t n_flagged;      /* rows whose flag is not RS_SENS_OK */
} rs_measure_result;
void rs_measure_result_free(rs_measure_result *r);

/* Measures D, G, R at nodes[0..n_nodes) (NULL: rs_measure_default_nodes) of net on the test images of ds.
 * probe: P = o->P dataset indices to use for every draw (then o->resample must be 0), or NULL to draw them from
 * o (rs_probe_select). The net must have its parameters (loaded or initialised); if it is not built, or built for
 * fewer images than the batch needs, it is (re)built for that batch, keeping net->with_grad. Parameters are not
 * modified. res is filled (free with rs_measure_result_free). */
rs_status rs_measure(rs_net *net, const rs_dataset *ds, const int64_t *probe, const int32_t *nodes, int32_t n_nodes,
                     const rs_measure_opts *o, rs_measure_result *res);

/* What a row also records about where the numbers come from (NULL strings are written empty). */
typedef struct {
    const char *model;
    const char *data;
    const char *checkpoint; /* "best", "last", "init", "weights:FILE", "init-seed:S" ... */
    int64_t epoch;          /* -1: unknown */
    int32_t shuffle;        /* 0, 1, 2 (what was applied to the net before measuring) */
} rs_measure_tags;

/* The tidy CSV: a header, then one row per node (columns: docs/measure.md). append = 1 keeps the rows already in
 * path (the header is written only when the file is new or empty; an existing file with another header is an
 * error). The file is replaced atomically. */
rs_status rs_measure_write_csv(const char *path, const rs_measure_result *r, const rs_measure_opts *o,
                               const rs_measure_tags *t, int append);
/* The same as JSON: {"settings": {...}, "nodes": [{...}, ...], "per_seed": [[...], ...]}. */
rs_status rs_measure_write_json(const char *path, const rs_measure_result *r, const rs_measure_opts *o,
                                const rs_measure_tags *t);
/* An aligned table: node, op, neurons, D +- se, G +- se, R +- se, and the flag of rows that are not ok. */
void rs_measure_print(FILE *f, const rs_measure_result *r);
/* "relstab measure: warning: ..." lines on f naming the flagged nodes (one per flag kind); nothing when every row
 * is ok. Returns the number of flagged rows. */
int32_t rs_measure_warn_flags(FILE *f, const char *who, const rs_measure_result *r);

/* For the trainer (train --track-every K): measures D, G, R at every node except the input of net on the fixed
 * probe set probe[0..o->P) of ds with options o, and appends the rows to csv_path (the tidy CSV above, with the
 * epoch in t->epoch). The net's parameters are untouched; its activation arena may be rebuilt for o->batch
 * (o->batch = 0 uses the batch it is built for). */
rs_status rs_measure_track(rs_net *net, const rs_dataset *ds, const int64_t *probe, const rs_measure_opts *o,
                           const rs_measure_tags *t, const char *csv_path);

/* ---------------------------------------------------------------- channel shuffling (SPEC 4.2.1) */
/* mode 1: the input-channel axis of every conv weight (4-D (out, in, kh, kw) or 3-D (out, in, k)) is permuted by
 * a fresh permutation per weight, drawn from (seed, rs_stream(RS_PURPOSE_SHUFFLE, parameter index, 0));
 * mode 2: also the output-channel axis, from rs_stream(RS_PURPOSE_SHUFFLE, parameter index, 1). Biases, batch
 * norm parameters and linear layers are untouched. A weight shared by several nodes is shuffled once.
 * mode 0 does nothing. *n_shuffled (may be NULL) receives the number of weights permuted. */
rs_status rs_shuffle_channels(rs_net *net, int32_t mode, uint64_t seed, int32_t *n_shuffled);

/* ---------------------------------------------------------------- grid-Laplacian spectra (SPEC 4.2.2) */
/* Eigen-decomposition of a symmetric n x n matrix by cyclic Jacobi rotations (n <= RS_JACOBI_MAX): a (n, n) is
 * destroyed; evals (n) ascending; evecs (n, n) row j = the unit eigenvector of evals[j]. */
#define RS_JACOBI_MAX 256
rs_status rs_jacobi_eigen(double *a, int32_t n, double *evals, double *evecs);
/* The Laplacian L = D - A of the kh x kw grid graph (4-neighbour, free boundary: degree = in-grid neighbours; a
 * path graph when kh = 1), its eigenvalues ascending (lambda_0 = 0, the constant mode) and eigenvectors, rows of
 * psi (n, n), n = kh*kw, each scaled to unit norm with its largest-magnitude entry positive. */
rs_status rs_grid_laplacian_eigen(int32_t kh, int32_t kw, double *lambda, double *psi);
/* The spectrum of one conv layer. omega[j] = mean over the n_filters filters w_i (kh x kw, every (out, in) pair)
 * of <w_i, psi_j>^2, in double; omega_norm = omega / sum_j omega. level[j] numbers the distinct eigenvalues
 * (equal to 1e-9 relative), and omega_level[j] is the sum of omega over the eigenvectors of that eigenvalue, the
 * basis-independent quantity when an eigenvalue is degenerate. */
typedef struct {
    char layer[RS_NAME_MAX]; /* the conv node's name */
    int32_t kh, kw, n;       /* n = kh*kw eigenvalues */
    int64_t n_filters;
    double *lambda;          /* (n) */
    double *omega, *omega_norm, *omega_level, *omega_level_norm; /* (n) each */
    int32_t *level;          /* (n) */
} rs_spectrum;
/* The spectra of every conv node of net whose kernel has more than one tap (each weight once). *out is an
 * allocated array of *n_out spectra (free with rs_spectra_free). */
rs_status rs_net_spectra(const rs_net *net, rs_spectrum **out, int32_t *n_out);
/* One filter bank: w (n_filters, kh*kw) row-major. s->lambda etc. are allocated. */
rs_status rs_filter_spectrum(const float *w, int64_t n_filters, int32_t kh, int32_t kw, rs_spectrum *s);
void rs_spectra_free(rs_spectrum *s, int32_t n);

/* ---------------------------------------------------------------- where a net comes from */
/* One of: a run directory (run_dir, checkpoint "best" (default), "last" or "init", reading its config.json); a
 * model name and a safetensors file (model, weights); a model name and a fresh initialisation (model, init = 1,
 * init_seed). The model's input shape and classes come from the dataset (its test split is opened when data or a
 * run gives one) or else from channels / height / width / classes. */
typedef struct {
    const char *run_dir, *checkpoint;
    const char *model, *weights;
    const char *onnx;            /* an ONNX model (onnx.h): net and weights from the file */
    int32_t init;
    uint64_t init_seed;
    const char *data;            /* dataset spec; NULL: the run's dataset (none for a model without a run) */
    rs_model_opts model_opts;    /* with a model: its options (rs_model_opts_init: the model's defaults); the input
                                    size defaults to the dataset's and must agree with it if given; the classes
                                    default to the dataset's (a value given wins). A run takes its options from its
                                    config.json: any given here is refused. */
} rs_net_source;

typedef struct {
    char model[64];
    char data[512];          /* the dataset spec used ("" without a dataset) */
    char checkpoint[1100];   /* what to write in results: "best", "last", "init", "weights:F", "init-seed:S" */
    int64_t epoch;           /* from the checkpoint's metadata "epoch" if present, else -1 */
    rs_mode mode;            /* RS_MODE_INIT_EVAL for an initialisation (init checkpoint or init = 1), else EVAL */
} rs_net_source_info;

/* An rs_net_source with no net chosen and every model option at its default. */
void rs_net_source_init(rs_net_source *src);
/* Builds and loads the net (not built for a batch size: rs_measure builds it) and opens the test split of the
 * dataset when one is known (*test may be NULL then; pass test = NULL not to open it). */
rs_status rs_net_source_open(const rs_net_source *src, rs_net **net, rs_dataset **test, rs_net_source_info *info);

/* ---------------------------------------------------------------- for bindings (accum.c, kv.c) */
/* A streaming D, G, R estimator over representations the caller gives (e.g. a PyTorch net's activations): per node,
 * batches of n images in probe order, each image numel values (float32: dtype 0, or float64: dtype 1) for the
 * clean, deformed and noisy input. Same formulas, arithmetic and order as rs_measure's passes (mean: streaming,
 * memory per node two doubles per value; median: every representation held). With channel_mean, an image's values
 * are (channels, numel/channels), or (numel/channels, channels) when channels_last, and the node's representation
 * is their mean over channels. A batch with a NaN or infinity, or whose sizes differ from the node's first batch,
 * is refused (RS_ERR_NUMERIC / RS_ERR_ARG) and nothing of it is accumulated. */
typedef struct rs_accum rs_accum;
rs_status rs_accum_new(int32_t n_nodes, rs_estimator est, int32_t channel_mean, rs_accum **out);
rs_status rs_accum_add(rs_accum *a, int32_t node, int32_t dtype, const void *clean, const void *deformed,
                       const void *noisy, int64_t n, int64_t numel, int64_t channels, int32_t channels_last);
int64_t rs_accum_count(const rs_accum *a, int32_t node); /* images added to node (-1: no such node) */
/* One draw's D, G, R, standard errors, numerators, denominator and flag of node; out->node = node, out->neurons = values
 * per image after the channel mean, out->name empty, out->op = RS_OP_COUNT. */
rs_status rs_accum_result(const rs_accum *a, int32_t node, rs_sens *out);
void rs_accum_free(rs_accum *a);
size_t rs_sens_size(void); /* sizeof(rs_sens), for bindings that mirror the struct */
/* rs_measure with `relstab measure`'s options as "key=value" lines (kv.c lists the keys) and nodes as a
 * comma-separated list (NULL or "": the default nodes). rows (max_rows) receives the combined rows; info receives
 * P, T, delta and the batch used. */
rs_status rs_measure_kv(rs_net *net, const rs_dataset *ds, const char *nodes, const char *options, rs_sens *rows,
                        int32_t max_rows, int32_t *n_rows, double info[4]);

#ifdef __cplusplus
}
#endif
