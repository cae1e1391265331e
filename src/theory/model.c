/* model.c: the constant-filter pooling model of SPEC 6.1 and its measurement (SPEC 1.2 estimator).
 * One channel, 1D or 2D; each layer pads, sums a window of F (F x F) with stride s, multiplies by (s/F)^dim,
 * adds the bias and rectifies. Probes are one-hot inputs, the diffeo is the one-site periodic shift (2D: along
 * the width axis), the noise is norm-matched (or of a fixed norm) and, by default, rectified with the input.
 * Everything is in double; the per-probe results are stored and reduced in probe order, so a run gives the same
 * bits for any thread count. It is deliberately not the net engine and has no channels, no learned weights. */
#include "relstab/theory.h"

#include <math.h>
#include <omp.h>
#include <string.h>

rs_theory_config rs_theory_defaults(void) {
    rs_theory_config c;
    memset(&c, 0, sizeof c);
    c.dim = 1;
    c.stride = 2;
    c.filter = 2;
    c.depth = 8;
    c.padding = RS_THEORY_PAD_ZERO;
    return c;
}

int64_t rs_theory_rf(int filter, int stride, int k) {
    int64_t rf = 1, pw = 1; /* pw = s^l */
    for (int l = 0; l < k; l++) {
        if (pw > (INT64_MAX - rf) / (filter - 1)) return INT64_MAX;
        rf += (int64_t)(filter - 1) * pw;
        if (pw > INT64_MAX / stride) pw = INT64_MAX / stride; /* only reached when the next step saturates */
        pw *= stride;
    }
    return rf;
}

int64_t rs_theory_default_size(int dim, int filter, int stride, int depth) {
    int64_t rf = rs_theory_rf(filter, stride, depth);
    int64_t factor = dim == 1 ? 16 : 4;
    if (rf > INT64_MAX / (4 * factor)) return -1;
    int64_t n = factor * rf;
    /* round up to a multiple of s^L (when it stays small) so that the strided layers tile the input */
    int64_t sl = 1;
    for (int l = 0; l < depth && sl <= n; l++) sl *= stride;
    if (sl > 1 && sl <= n) n = (n + sl - 1) / sl * sl;
    return n < 8 ? 8 : n;
}

static int pad_lo(int filter, rs_theory_padding padding) {
    if (padding == RS_THEORY_PAD_ZERO) return (filter - 1) / 2;
    return (filter % 2) ? (filter - 1) / 2 : filter / 2 - 1;
}

int64_t rs_theory_layer_width(int64_t n, int filter, int stride, rs_theory_padding padding) {
    if (n <= 0) return 0;
    if (padding == RS_THEORY_PAD_CIRCULAR) return (n - 1) / stride + 1;
    int64_t t = n + 2 * (int64_t)pad_lo(filter, padding) - filter;
    return t < 0 ? 0 : t / stride + 1;
}

/* units of layer k (k = 0: the input) in *units, total over k = 1..L returned; -1 on overflow */
static int64_t layer_units(const rs_theory_config *c, int64_t *width, int64_t *units) {
    int64_t total = 0;
    width[0] = c->size;
    for (int k = 0; k <= c->depth; k++) {
        if (k > 0) width[k] = rs_theory_layer_width(width[k - 1], c->filter, c->stride, c->padding);
        int64_t u = width[k];
        if (c->dim == 2) {
            if (u > 0 && u > INT64_MAX / u) return -1;
            u *= u;
        }
        units[k] = u;
        if (k > 0) {
            if (total > INT64_MAX - u) return -1;
            total += u;
        }
    }
    return total;
}

rs_status rs_theory_resolve(rs_theory_config *c) {
    if (c->dim != 1 && c->dim != 2) return rs_error(RS_ERR_ARG, "--dim must be 1 or 2, got %d", c->dim);
    if (c->filter < 2 || c->filter > RS_THEORY_MAX_FILTER)
        return rs_error(RS_ERR_ARG, "--filter must be between 2 and %d, got %d", RS_THEORY_MAX_FILTER, c->filter);
    if (c->stride != 1 && c->stride != 2 && c->stride != c->filter)
        return rs_error(RS_ERR_ARG, "--stride must be 1, 2 or the filter size %d, got %d", c->filter, c->stride);
    if (c->depth < 1 || c->depth > RS_THEORY_MAX_DEPTH)
        return rs_error(RS_ERR_ARG, "--depth must be between 1 and %d, got %d", RS_THEORY_MAX_DEPTH, c->depth);
    if (!isfinite(c->bias)) return rs_error(RS_ERR_ARG, "--bias must be a finite number");
    if (!isfinite(c->noise_norm)) return rs_error(RS_ERR_ARG, "the noise norm must be a finite number");
    if (c->padding != RS_THEORY_PAD_ZERO && c->padding != RS_THEORY_PAD_CIRCULAR)
        return rs_error(RS_ERR_ARG, "unknown padding %d", (int)c->padding);
    int automatic = c->size == 0;
    if (automatic) {
        c->size = rs_theory_default_size(c->dim, c->filter, c->stride, c->depth);
        if (c->size < 0)
            return rs_error(RS_ERR_ARG, "--depth %d is too large: the receptive field overflows (give a smaller --depth)",
                            c->depth);
    }
    if (c->size < 2) return rs_error(RS_ERR_ARG, "--size must be at least 2, got %lld", (long long)c->size);
    const char *what = automatic ? "the automatic probe size N =" : "--size";
    const char *fix = automatic ? "lower --depth or give --size" : "lower --size";
    int64_t width[RS_THEORY_MAX_DEPTH + 1], units[RS_THEORY_MAX_DEPTH + 1];
    if (c->size > ((int64_t)1 << 40) || layer_units(c, width, units) < 0)
        return rs_error(RS_ERR_NOMEM, "%s %lld is too large for memory (%s)", what, (long long)c->size, fix);
    for (int k = 1; k <= c->depth; k++)
        if (width[k] == 0)
            return rs_error(RS_ERR_ARG,
                            "--depth %d is too large for --size %lld: layer %d has no neuron (receptive field %lld)",
                            c->depth, (long long)c->size, k, (long long)rs_theory_rf(c->filter, c->stride, k));
    int64_t m = units[0];
    if (c->dim == 1) {
        if (c->probes != 0 && c->probes != m)
            return rs_error(RS_ERR_ARG, "--probes is for --dim 2 (1D probes every one of the %lld positions)",
                            (long long)m);
        c->probes = m;
    } else {
        /* whole rows of N probes (the shift runs along the rows); default about 1024 probes */
        int64_t want = c->probes == 0 ? (m < 1024 ? m : 1024) : c->probes;
        if (want < 1 || want > m)
            return rs_error(RS_ERR_ARG, "--probes must be between 1 and %lld (= size^2), got %lld", (long long)m,
                            (long long)want);
        c->probes = (want + c->size - 1) / c->size * c->size;
    }
    int64_t bytes = rs_theory_bytes(c, rs_get_threads());
    if (bytes > RS_THEORY_MAX_BYTES)
        return rs_error(RS_ERR_NOMEM, "%s %lld with --depth %d needs %.0f MB, above the %lld MB limit (%s)", what,
                        (long long)c->size, c->depth, (double)bytes / 1048576.0,
                        (long long)(RS_THEORY_MAX_BYTES >> 20), fix);
    return RS_OK;
}

/* ---------------------------------------------------------------- noise and probes */
void rs_theory_noise(double *eta, int64_t m, uint64_t seed, uint32_t repeat, uint64_t sample, double norm) {
    uint64_t stream = rs_stream(RS_PURPOSE_THEORY, 0, repeat);
    double ss = 0;
    rs_normals(eta, (size_t)m, seed, stream, sample * (uint64_t)m);
    for (int64_t j = 0; j < m; j++) ss += eta[j] * eta[j];
    double scale = norm / sqrt(ss);
    for (int64_t j = 0; j < m; j++) eta[j] *= scale;
}

rs_status rs_theory_probe_positions(int64_t *pos, int64_t n, int64_t probes, uint64_t seed) {
    if (probes % n != 0 || probes < n || probes > n * n)
        return rs_error(RS_ERR_ARG, "2D probes must be whole rows: a multiple of %lld up to %lld, got %lld", (long long)n,
                        (long long)(n * n), (long long)probes);
    int64_t rows = probes / n, r0 = 0;
    if (rows < n) {
        uint64_t index = 0;
        r0 = (int64_t)rs_randint(seed, rs_stream(RS_PURPOSE_THEORY, 1, 0), &index, (uint64_t)n);
    }
    /* systematic sampling: rows r0 + floor(i n / rows) (mod n), i < rows, each with every column; sorted */
    int64_t first = 0;
    for (int64_t i = 0; i < rows; i++)
        if ((r0 + i * n / rows) % n < (r0 + first * n / rows) % n) first = i;
    for (int64_t t = 0; t < rows; t++) {
        int64_t row = (r0 + ((first + t) % rows) * n / rows) % n;
        for (int64_t c = 0; c < n; c++) pos[t * n + c] = row * n + c;
    }
    return RS_OK;
}
