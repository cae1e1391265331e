/* fixture_hash.h: the deterministic "hashed" values of tests/fixtures/make_fixtures.py (weights and inputs that
 * Python and C both compute exactly, so only outputs need committing). Shared by the golden tests. */
#pragma once
#include <stdint.h>

static inline uint32_t lowbias32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* Element i of hashed tensor t: offset + scale * (2u - 1), u = lowbias32(t * 0x9E3779B9 + i) / 2^32. */
static inline float hashed(uint64_t t, uint64_t i, double offset, double scale) {
    uint32_t key = (uint32_t)((t * 0x9E3779B9ull + i) & 0xffffffffull);
    double u = (double)lowbias32(key) / 4294967296.0;
    double two_u_minus_1 = 2.0 * u - 1.0;
    double prod = scale * two_u_minus_1;
    return (float)(offset + prod);
}
