/* fuzz_safetensors.c: libFuzzer target for the safetensors reader. Every input must either parse, with every
 * tensor's bytes readable and every name and metadata value found again by lookup, or be refused with a
 * message; never crash, leak or read out of bounds (the build adds ASan and UBSan). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relstab/io.h"

static volatile unsigned sink; /* keeps the reads of every data byte */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rs_safetensors *st = NULL;
    rs_clear_error();
    if (rs_safetensors_parse(data, size, "fuzz", &st) != RS_OK) {
        if (st || rs_last_error()[0] == 0) abort(); /* a refusal leaves no result and always says why */
        return 0;
    }
    unsigned sum = 0;
    for (int32_t i = 0; i < st->n_tensors; i++) {
        const rs_st_tensor *t = &st->tensors[i];
        if (rs_safetensors_get(st, t->name) != t) abort(); /* names are unique */
        if ((uintptr_t)t->data % rs_dtype_size(t->dtype) != 0) abort();
        const uint8_t *b = t->data;
        for (size_t k = 0; k < t->nbytes; k++) sum += b[k]; /* ASan checks every byte is inside the buffer */
    }
    for (int32_t i = 0; i < st->n_meta; i++)
        if (rs_safetensors_meta(st, st->meta_keys[i]) != st->meta_values[i]) abort();
    rs_safetensors_free(st);
    sink = sum;
    return 0;
}
