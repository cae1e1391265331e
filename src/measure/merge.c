/* merge.c: the sharded mean estimator's merge (mpirun -n N relstab measure). Each rank streams its contiguous
 * share of the probe set through the same per-image passes as one rank would, keeping per neuron the Welford
 * mean and sum of squared deviations of the clean activations, and per (draw, node) the bivariate accumulator of
 * the numerator terms. Rank 0 gathers them and merges them in rank order with Chan et al.'s pairwise formula
 *   n = na + nb,  delta = mean_b - mean_a,  mean = mean_a + delta nb / n,  M2 = M2_a + M2_b + delta^2 na nb / n
 * (and the same for the co-moment of the numerators), then broadcasts the merged sums, so every rank ends with
 * the same results. In double throughout: the merged numbers equal the one-rank stream to ~1e-15 relative.
 * Not here: the passes themselves (sensitivity.c), MPI (src/dist). */
#include <string.h>

#include "measure/measure_internal.h"
#include "relstab/dist.h"

void sens_welford_merge(double *mean_a, double *m2_a, int64_t na, const double *mean_b, const double *m2_b,
                        int64_t nb, int64_t N) {
    if (nb == 0) return;
    double n = (double)(na + nb), fa = (double)na, fb = (double)nb;
    for (int64_t j = 0; j < N; j++) {
        double delta = mean_b[j] - mean_a[j];
        mean_a[j] += delta * fb / n;
        m2_a[j] += m2_b[j] + delta * delta * fa * fb / n;
    }
}

void sens_biv_merge(biv *a, const biv *b) {
    if (b->n == 0) return;
    if (a->n == 0) {
        *a = *b;
        return;
    }
    double fa = (double)a->n, fb = (double)b->n, n = fa + fb;
    double dd = b->md - a->md, dg = b->mg - a->mg, w = fa * fb / n;
    a->md += dd * fb / n;
    a->mg += dg * fb / n;
    a->m2d += b->m2d + dd * dd * w;
    a->m2g += b->m2g + dg * dg * w;
    a->cdg += b->cdg + dd * dg * w;
    a->n += b->n;
}

/* A rank's state as doubles: [n, forwarded, mean (N), m2 (N), acc (nacc x 6)]. */
static void pack(double *v, int64_t n, int64_t fwd, const double *mean, const double *m2, int64_t N, const biv *acc,
                 int64_t nacc) {
    v[0] = (double)n, v[1] = (double)fwd;
    memcpy(v + 2, mean, (size_t)N * sizeof(double));
    memcpy(v + 2 + N, m2, (size_t)N * sizeof(double));
    double *a = v + 2 + 2 * N;
    for (int64_t i = 0; i < nacc; i++) {
        const biv *b = &acc[i];
        a[6 * i] = (double)b->n, a[6 * i + 1] = b->md, a[6 * i + 2] = b->mg;
        a[6 * i + 3] = b->m2d, a[6 * i + 4] = b->m2g, a[6 * i + 5] = b->cdg;
    }
}

static void unpack_acc(const double *a, int64_t nacc, biv *acc) {
    for (int64_t i = 0; i < nacc; i++)
        acc[i] = (biv){(int64_t)a[6 * i], a[6 * i + 1], a[6 * i + 2], a[6 * i + 3], a[6 * i + 4], a[6 * i + 5]};
}

rs_status sens_merge_ranks(double *mean, double *m2, int64_t N, biv *acc, int64_t nacc, int64_t n_local,
                           int64_t *forwarded) {
    int size = rs_dist_size(), root = rs_dist_rank() == 0;
    if (size == 1) return RS_OK;
    int64_t len = 2 + 2 * N + 6 * nacc;
    double *mine = rs_alloc((size_t)len * sizeof(double));
    double *all = root ? rs_alloc((size_t)len * (size_t)size * sizeof(double)) : NULL;
    biv *b = root ? rs_alloc((size_t)(nacc > 0 ? nacc : 1) * sizeof(biv)) : NULL;
    rs_status s = RS_OK;
    if (!mine || (root && (!all || !b))) s = rs_error(RS_ERR_NOMEM, "out of memory for merging %lld neurons", (long long)N);
    if (mine) pack(mine, n_local, *forwarded, mean, m2, N, acc, nacc);
    s = rs_dist_agree(s);
    if (!s) s = rs_dist_gather(mine, len, all);
    if (!s && root) { /* rank 0's own state is in mean, m2, acc: merge ranks 1.. in order */
        int64_t n = n_local, fwd = *forwarded;
        for (int r = 1; r < size; r++) {
            const double *v = all + (size_t)r * (size_t)len;
            sens_welford_merge(mean, m2, n, v + 2, v + 2 + N, (int64_t)v[0], N);
            unpack_acc(v + 2 + 2 * N, nacc, b);
            for (int64_t i = 0; i < nacc; i++) sens_biv_merge(&acc[i], &b[i]);
            n += (int64_t)v[0], fwd += (int64_t)v[1];
        }
        pack(mine, n, fwd, mean, m2, N, acc, nacc);
    }
    if (!s) s = rs_dist_bcast(mine, (size_t)len * sizeof(double), 0);
    if (!s) { /* every rank takes rank 0's merged state */
        *forwarded = (int64_t)mine[1];
        memcpy(mean, mine + 2, (size_t)N * sizeof(double));
        memcpy(m2, mine + 2 + N, (size_t)N * sizeof(double));
        unpack_acc(mine + 2 + 2 * N, nacc, acc);
    }
    rs_free(mine), rs_free(all), rs_free(b);
    return s;
}
