/* perturb.h: the perturbations of the inputs that the sensitivities D and G are made of (SPEC.md sections 1.2,
 * 2 and 11.1/11.3). Max-entropy diffeomorphisms (sine-mode displacement field with cutoff c and temperature T,
 * applied by bilinear, nearest or gaussian remap), norm-matched Gaussian noise and its variants, and the local
 * translations of the two scale-detection tasks.
 * It does not measure anything: the sensitivity estimator lives in measure.h.
 *
 * Images cross this API as float arrays in NCHW layout (B, C, H, W), the layout of the datasets. Every random draw
 * is a pure function of (seed, image index, repeat): the image index is the image's index in its dataset, given
 * by the caller in `indices`, so an image gets the same perturbation in any batch, at any thread count.
 *
 * Addressing of the random draws (counter-based Philox, tensor.h):
 *   diffeo     stream rs_stream(RS_PURPOSE_DIFFEO, repeat, 0); coefficient C^k_{ab} of image i (k = 0 for the
 *              horizontal displacement dx, 1 for the vertical dy; a, b = 0..c-1 the vertical and horizontal
 *              frequencies minus one) is rs_normal at index  i*2*c*c + k*c*c + a*c + b, times 1/sqrt((a+1)^2+(b+1)^2)
 *              if the mode is kept, and unused otherwise.
 *   noise      stream rs_stream(RS_PURPOSE_NOISE, repeat, 0); entry j (0 <= j < D = C*H*W, NCHW order) of image i
 *              is rs_normal at index i*D + j.
 *   translate  2D: stream rs_stream(RS_PURPOSE_TRANSLATE, repeat, 0); g of active pixel k (0, 1) of image i is
 *              (rs_normal at i*4 + 2k, rs_normal at i*4 + 2k + 1) as (row, column).
 *              1D: stream rs_stream(RS_PURPOSE_TRANSLATE, repeat, 1); the sign of pixel k of image i is -1 if
 *              rs_uniform at i*2 + k is < 1/2, else +1.
 * repeat is taken modulo 2^24 (rs_stream keeps 24 bits of it). */
#pragma once
#include <stdint.h>

#include "relstab/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- temperature and modes (SPEC 2.3) */
/* T_min(n, c) = 1/(pi n^2 ln c): typical displacement 1/2 pixel. T_max(c) = 4/(pi^3 c^2 ln c): no overhangs.
 * T(delta) = 4 delta^2/(pi n^2 ln c); delta(T) = (n/2) sqrt(pi T ln c). All reject c < 2 (ln 1 = 0), n < 2,
 * a negative or non-finite delta or T, with RS_ERR_ARG and a message. */
rs_status rs_diffeo_tmin(int32_t n, int32_t cut, double *out);
rs_status rs_diffeo_tmax(int32_t cut, double *out);
rs_status rs_diffeo_T_of_delta(double delta, int32_t n, int32_t cut, double *T);
rs_status rs_diffeo_delta_of_T(double T, int32_t n, int32_t cut, double *delta);
/* Number of kept modes: pairs (i, j) in 1..c with sqrt(i^2 + j^2) < c + 1/2 (6, 19, 172 for c = 3, 5, 15). */
int32_t rs_diffeo_n_modes(int32_t cut);
/* 1 if mode (i, j) (1-based) is kept for cutoff c. */
int rs_diffeo_mode_kept(int32_t i, int32_t j, int32_t cut);
/* Largest cutoff accepted by the field functions. */
#define RS_DIFFEO_MAX_CUT 256

/* ---------------------------------------------------------------- interpolation */
typedef enum {
    RS_INTERP_LINEAR = 0,   /* bilinear from the floor/ceil neighbours (default, all of the paper's figures) */
    RS_INTERP_NEAREST = 1,  /* source coordinates rounded half to even */
    RS_INTERP_GAUSSIAN = 2, /* normalised Gaussian-weighted average, sigma RS_GAUSSIAN_SIGMA pixels */
} rs_interp;
#define RS_GAUSSIAN_SIGMA 0.4715
/* "linear" (or "bilinear"), "nearest", "gaussian" -> RS_ERR_ARG with a message for anything else. */
rs_status rs_interp_parse(const char *s, rs_interp *out);
const char *rs_interp_name(rs_interp m);

/* ---------------------------------------------------------------- the displacement field (SPEC 2.1) */
/* The sine tables of an image size and cutoff, made once and reused (the cache of the reference's lru_cache):
 * sy[y*c + a] = sin((a+1) pi y/(H-1)), sx[x*c + b] = sin((b+1) pi x/(W-1)), exactly 0 on the first and last
 * row/column. On a square image this is the reference's u = linspace(0, 1, n). On H != W each axis has its own
 * linspace, i.e. the unit-square field is stretched onto the rectangle; dx is scaled by W and dy by H (below).
 * H = 1 (1-D signals) is rejected: the 1-D task has its own moves (rs_translate1d_*). */
typedef struct {
    int32_t h, w, cut;
    double *sy;   /* (H, c) */
    double *sx;   /* (W, c) */
    double *amp;  /* (c, c): 1/sqrt((a+1)^2 + (b+1)^2) for kept modes, 0 otherwise */
} rs_diffeo_plan;
/* Accepts 2 <= H, W <= 65536 and 1 <= c <= RS_DIFFEO_MAX_CUT (c = 1 is a valid field; only the T formulas
 * need c >= 2). */
rs_status rs_diffeo_plan_init(rs_diffeo_plan *p, int32_t h, int32_t w, int32_t cut);
void rs_diffeo_plan_free(rs_diffeo_plan *p);

/* The mode coefficients of image `index`: coef (2, c, c), [k][a][b] as in the addressing above, already scaled by
 * 1/sqrt((a+1)^2+(b+1)^2) (so C_ab ~ N(0, 1/((a+1)^2+(b+1)^2))), and 0 for modes that are not kept. */
void rs_diffeo_coeffs(double *coef, int32_t cut, uint64_t seed, uint32_t repeat, int64_t index);
/* The displacement of image `index`, in pixels:
 *   dx[y, x] = W sqrt(T) sum_ab C^0_ab sy[y, a] sx[x, b]    (F = S_y C S_x^T, separable, in double)
 *   dy[y, x] = H sqrt(T) sum_ab C^1_ab sy[y, a] sx[x, b]
 * rounded to float once at the end. dx, dy: (H, W). T >= 0 (else RS_ERR_ARG), index >= 0. */
rs_status rs_diffeo_field(const rs_diffeo_plan *p, double T, uint64_t seed, uint32_t repeat, int64_t index,
                          float *dx, float *dy);

/* ---------------------------------------------------------------- remap (SPEC 2.2) */
/* out[ch, y, x] = in[ch] sampled at (y - dy[y, x], x - dx[y, x]), the source clamped to [0, H-1] x [0, W-1];
 * the same field for every channel. Coordinates and weights in double, one rounding to float per output value.
 * gaussian: weights exp(-r^2/(2 sigma^2)) over the input pixels, normalised by their sum; pixels farther than
 * 6 px along an axis are skipped, their total relative weight being < 1e-34 (below double rounding).
 * dx = dy = NULL means a zero field (for gaussian: the T = 0 smoothing of the clean image).
 * out (C, H, W), in (C, H, W), dx (H, W), dy (H, W); out must not alias in. */
void rs_remap(float *out, const float *in, int32_t c, int32_t h, int32_t w, const float *dx, const float *dy,
              rs_interp interp);

typedef struct {
    double T;          /* temperature, >= 0 (from rs_diffeo_T_of_delta for a displacement delta) */
    rs_interp interp;
    uint64_t seed;
    uint32_t repeat;
} rs_diffeo_opts;
/* Deforms a batch: image p gets the field of dataset index indices[p] (rs_diffeo_field), the same for its C
 * channels. Multi-threaded over images (OpenMP); the result is bit-identical for any thread count and batch
 * composition. fields, if not NULL, receives (dx, dy) of every image. H, W, c come from the plan. The fields and
 * the nearest and gaussian images are rs_diffeo_field's and rs_remap's bits; bilinear images too, except in a build
 * with AVX-512, whose float kernel stays within 2^-24 (9 M + (W + H) S) + 2^-126 of rs_remap per value
 * (docs/diffeo.md, "Two implementations").
 * out (B, C, H, W), fields (B, 2, H, W) or NULL, in (B, C, H, W), indices (B). out must not alias in. */
rs_status rs_diffeo_batch(const rs_diffeo_plan *plan, const rs_diffeo_opts *o, float *out, float *fields,
                          const float *in, int64_t b, int32_t c, const int64_t *indices);
/* The clean-image counterpart of gaussian interpolation: each image smoothed by the same kernel with a zero
 * field (the reference's deform(img, T = 0, interp = 'gaussian')). out (B, C, H, W), in (B, C, H, W). */
rs_status rs_gaussian_smooth_batch(float *out, const float *in, int64_t b, int32_t c, int32_t h, int32_t w);

/* ---------------------------------------------------------------- noise (SPEC 1.2, 5.2, 11.3) */
/* Each image is a vector of D = C*H*W floats; z_p is the standard normal vector of image indices[p] (addressing
 * above), norms in double. eta is rounded to float and out = x + eta in float arithmetic, so out is exactly
 * reproducible from x and eta; eta, if not NULL, receives it. Multi-threaded over images, bit-identical for any
 * thread count. out (B, D), eta (B, D) or NULL, x (B, D), xd (B, D); out may alias x or xd. */

/* Norm-matched (the default): eta_p = z_p/||z_p|| * ||xd_p - x_p||, so ||eta_p|| = ||tau(x_p) - x_p|| image by
 * image. Per image: independent of the rest of the batch. */
rs_status rs_noise_matched(float *out, float *eta, const float *x, const float *xd, int64_t b, int64_t d,
                           const int64_t *indices, uint64_t seed, uint32_t repeat);
/* A given norm: eta_p = z_p/||z_p|| * norm (norm >= 0), the reference's --noise_magnitude. */
rs_status rs_noise_norm(float *out, float *eta, const float *x, int64_t b, int64_t d, double norm,
                        const int64_t *indices, uint64_t seed, uint32_t repeat);
/* The 1-D paper's rectified variant: sigma^2 = mean over the batch and the D entries of (xd - x)^2, then
 * eta = ReLU(sigma z). Unlike the others it DEPENDS ON THE WHOLE BATCH (sigma is a batch average, by definition):
 * the noisy image of an index changes with the batch it is in. sigma_out (may be NULL) receives sigma. */
rs_status rs_noise_rectified(float *out, float *eta, const float *x, const float *xd, int64_t b, int64_t d,
                             const int64_t *indices, uint64_t seed, uint32_t repeat, double *sigma_out);

/* ---------------------------------------------------------------- local translations (SPEC 2.5) */
/* 2D scale-detection task: each of the two active pixels moves by t = round(g/||g||), g ~ N(0, I_2) (one of the
 * 8 neighbours: an axis move with probability 1/6 each, a diagonal one 1/12 each), then is clipped to the image.
 * Positions API: pos (B, 2, 2) int32, [p][k] = (row, col) of active pixel k, moved in place; rows clipped to
 * [0, h-1], columns to [0, w-1]. */
rs_status rs_translate2d_positions(int32_t *pos, int64_t b, int32_t h, int32_t w, const int64_t *indices,
                                   uint64_t seed, uint32_t repeat);
/* Images API: in (B, 1, H, W) task images, possibly normalised (any increasing affine map of the raw images).
 * The active pixels are the two largest; every other pixel must equal one background value bg (else
 * RS_ERR_ARG naming the image: with the task's background noise use the positions API with
 * rs_dataset_task_points / rs_dataset_batch_points of data.h, whose rc layout (B, 2, 2) is the same).
 * Pixel k = 0 is the active pixel with the smaller row-major index. out is bg
 * everywhere, with each active value at its new place; if both land on the same pixel it holds v0 + v1 - bg
 * (the raw images add the pixels, as the reference does). Same moves as the positions API on sorted positions.
 * out (B, 1, H, W), in (B, 1, H, W). */
rs_status rs_translate2d_batch(float *out, const float *in, int64_t b, int32_t h, int32_t w,
                               const int64_t *indices, uint64_t seed, uint32_t repeat);
/* 1D task (Task 2 labels, blocks of size xi): each active pixel moves by +-1 (random sign), clipped to [0, L-1],
 * and the move is reverted if the block r / xi changes. pos (B, 2) int32 (the columns of the (B, 2, 2) rows of
 * rs_dataset_task_points, whose rows are 0), moved in place. */
rs_status rs_translate1d_positions(int32_t *pos, int64_t b, int32_t len, int32_t xi, const int64_t *indices,
                                   uint64_t seed, uint32_t repeat);
/* The same on signals in (B, 1, 1, L) (or (B, L)): active pixels and background found as for 2D.
 * out (B, L), in (B, L); out may alias in (also for rs_translate2d_batch). */
rs_status rs_translate1d_batch(float *out, const float *in, int64_t b, int32_t len, int32_t xi,
                               const int64_t *indices, uint64_t seed, uint32_t repeat);

/* ---------------------------------------------------------------- for bindings (images.c) */
/* rs_diffeo_batch of B images (C, H, W) with a plan made for the call: the same output bit for bit. fields (B, 2,
 * H, W) or NULL. interp is an rs_interp value. */
rs_status rs_diffeo_images(float *out, float *fields, const float *in, int64_t b, int32_t c, int32_t h, int32_t w,
                           const int64_t *indices, double T, int32_t cut, int32_t interp, uint64_t seed,
                           uint32_t repeat);

#ifdef __cplusplus
}
#endif
