/* fuzz_npy.c: libFuzzer target for the NPY reader. Every input must either parse into an array whose byte size
 * agrees with its dtype and shape, or be refused with a message; never crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>

#include "relstab/io.h"

static volatile unsigned sink; /* keeps the reads of every data byte */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rs_npy a;
    rs_clear_error();
    if (rs_npy_parse(data, size, "fuzz", &a) != RS_OK) {
        if (a.data || rs_last_error()[0] == 0) abort();
        return 0;
    }
    size_t numel = 1;
    for (int32_t d = 0; d < a.ndim; d++) numel *= (size_t)a.shape[d];
    if (a.fortran_order || a.nbytes != numel * rs_dtype_size(a.dtype) || a.nbytes > size) abort();
    unsigned sum = 0;
    const uint8_t *b = a.data;
    for (size_t k = 0; k < a.nbytes; k++) sum += b[k];
    rs_npy_free(&a);
    sink = sum;
    return 0;
}
