/* rng.c: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011), a counter-based
 * generator: a draw is a pure function of (seed, stream, index). Uniform and normal draws are built on it. */
#include "relstab/tensor.h"

#include <math.h>

static inline void philox_round(uint32_t c[4], const uint32_t k[2]) {
    uint64_t p0 = (uint64_t)0xD2511F53u * c[0];
    uint64_t p1 = (uint64_t)0xCD9E8D57u * c[2];
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t n0 = hi1 ^ c[1] ^ k[0], n2 = hi0 ^ c[3] ^ k[1];
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
}

void rs_philox(uint64_t seed, uint64_t stream, uint64_t index, uint32_t out[4]) {
    uint32_t c[4] = {(uint32_t)index, (uint32_t)(index >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
    uint32_t k[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (int r = 0; r < 10; r++) {
        philox_round(c, k);
        k[0] += 0x9E3779B9u;
        k[1] += 0xBB67AE85u;
    }
    out[0] = c[0];
    out[1] = c[1];
    out[2] = c[2];
    out[3] = c[3];
}

/* 53 bits from two words, mapped to (0, 1): never 0, never 1. */
static inline double to_open_unit(uint32_t a, uint32_t b) {
    uint64_t bits = ((uint64_t)a << 21) ^ (uint64_t)(b >> 11);
    bits &= (1ull << 53) - 1;
    return ((double)bits + 0.5) * (1.0 / 9007199254740992.0);
}

double rs_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
    uint32_t r[4];
    rs_philox(seed, stream, index, r);
    return to_open_unit(r[0], r[1]);
}

/* Box-Muller's polar form of Philox block b: the radius and angle both normals of the pair share. */
static inline void polar(uint64_t seed, uint64_t stream, uint64_t b, double *rad, double *ang) {
    uint32_t r[4];
    rs_philox(seed, stream, b, r);
    double u1 = to_open_unit(r[0], r[1]), u2 = to_open_unit(r[2], r[3]);
    *rad = sqrt(-2.0 * log(u1));
    *ang = 6.283185307179586476925 * u2;
}

double rs_normal(uint64_t seed, uint64_t stream, uint64_t index) {
    double rad, ang;
    polar(seed, stream, index >> 1, &rad, &ang);
    return (index & 1) ? rad * sin(ang) : rad * cos(ang);
}

/* The pair of normals of block b: out[0] = index 2b (cosine), out[1] = index 2b + 1 (sine), one polar form. */
static inline void normal_pair(uint64_t seed, uint64_t stream, uint64_t b, double out[2]) {
    double rad, ang;
    polar(seed, stream, b, &rad, &ang);
    out[0] = rad * cos(ang);
    out[1] = rad * sin(ang);
}

void rs_normals(double *out, size_t n, uint64_t seed, uint64_t stream, uint64_t start) {
    size_t i = 0;
    if (n && (start & 1)) out[i++] = rs_normal(seed, stream, start); /* an odd first index: the sine alone */
    for (; i + 1 < n; i += 2) normal_pair(seed, stream, (start + i) >> 1, out + i);
    if (i < n) out[i] = rs_normal(seed, stream, start + i); /* an even last index: the cosine alone */
}

void rs_fill_normal(float *out, size_t n, uint64_t seed, uint64_t stream, uint64_t start, float mean, float std) {
    const size_t chunk = 512; /* even, so every chunk after the first starts on the same parity */
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t c = 0; c < n; c += chunk) {
        double z[512];
        const size_t m = n - c < chunk ? n - c : chunk;
        rs_normals(z, m, seed, stream, start + c);
        for (size_t i = 0; i < m; i++) out[c + i] = mean + std * (float)z[i];
    }
}

void rs_fill_uniform(float *out, size_t n, uint64_t seed, uint64_t stream, uint64_t start, float lo, float hi) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) out[i] = lo + (hi - lo) * (float)rs_uniform(seed, stream, start + i);
}

uint64_t rs_randint(uint64_t seed, uint64_t stream, uint64_t *index, uint64_t n) {
    RS_ASSERT(n > 0);
    /* Rejection sampling on 64-bit words: accept below the largest multiple of n. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n + 1) % n;
    for (;;) {
        uint32_t r[4];
        rs_philox(seed, stream, (*index)++, r);
        uint64_t v = ((uint64_t)r[0] << 32) | r[1];
        if (v <= limit) return v % n;
    }
}

void rs_permutation(int64_t *perm, int64_t n, uint64_t seed, uint64_t stream) {
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    uint64_t index = 0;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)rs_randint(seed, stream, &index, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}
