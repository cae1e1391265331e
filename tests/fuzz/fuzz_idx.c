/* fuzz_idx.c: libFuzzer target for the IDX parser (plain and gzip, src/data/idx.c). Any input must either be
 * refused with a message or give an array whose byte count is the product of its dimensions and whose bytes are
 * all readable; nothing may crash, leak or read out of bounds.
 * The first byte picks a mode: 0, 1 parse the rest as it is (the mutator rarely keeps a gzip CRC valid, so this
 * mostly explores the plain path); 2 gzip the rest first, so that the gzip path sees every mutated IDX content in a
 * valid stream; 3 gzip the rest from byte 2 and cut (byte 1 mod 24) bytes off the end of the stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/data_internal.h"

static void check(const uint8_t *data, size_t size) {
    rs_idx a;
    rs_status st = rs_idx_parse(data, size, "fuzz-input", &a);
    if (st != RS_OK) {
        if (rs_last_error()[0] == 0) abort(); /* a refusal always says why */
        return;
    }
    size_t prod = 1;
    for (int32_t k = 0; k < a.ndim; k++) prod *= (size_t)a.dims[k];
    if (a.ndim < 1 || a.ndim > 4 || prod != a.nbytes) abort();
    volatile uint8_t acc = 0;
    for (size_t i = 0; i < a.nbytes; i++) acc ^= a.data[i];
    (void)acc;
    rs_idx_free(&a);
}

/* gzip of in[0..len) into a new buffer; returns its length. */
static size_t gzip(const uint8_t *in, size_t len, uint8_t **out) {
    size_t cap = compressBound((uLong)len) + 64;
    *out = malloc(cap);
    if (!*out) abort();
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    zs.next_out = *out;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) abort();
    size_t n = cap - zs.avail_out;
    deflateEnd(&zs);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int mode = data[0] & 3;
    if (mode < 2) {
        check(data + 1, size - 1);
        return 0;
    }
    if (mode == 3 && size < 2) return 0;
    size_t skip = mode == 2 ? 1 : 2, cut = mode == 2 ? 0 : data[1] % 24;
    uint8_t *gz = NULL;
    size_t glen = gzip(data + skip, size - skip, &gz);
    check(gz, glen > cut ? glen - cut : 0);
    free(gz);
    return 0;
}
