/* fuzz_idx.c: libFuzzer target for the IDX parser (plain and gzip, src/data/idx.c). Any input must either be
 * refused with a message or give an array whose byte count is the product of its dimensions and whose bytes are
 * all readable; nothing may crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>

#include "data/data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rs_idx a;
    rs_status st = rs_idx_parse(data, size, "fuzz-input", &a);
    if (st != RS_OK) {
        if (rs_last_error()[0] == 0) abort(); /* a refusal always says why */
        return 0;
    }
    size_t prod = 1;
    for (int32_t k = 0; k < a.ndim; k++) prod *= (size_t)a.dims[k];
    if (a.ndim < 1 || a.ndim > 4 || prod != a.nbytes) abort();
    volatile uint8_t acc = 0;
    for (size_t i = 0; i < a.nbytes; i++) acc ^= a.data[i];
    (void)acc;
    rs_idx_free(&a);
    return 0;
}
