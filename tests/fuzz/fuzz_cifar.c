/* fuzz_cifar.c: libFuzzer target for the CIFAR-10 / CIFAR-100 binary-record checker and extractor
 * (src/data/cifar.c). The first input byte picks the variant (even: CIFAR-10, odd: CIFAR-100), the rest is the
 * file. An accepted file must extract to labels inside the class range; nothing may crash or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>

#include "data/data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int32_t kind = (data[0] & 1) ? 100 : 10;
    const uint8_t *buf = data + 1;
    size_t len = size - 1;
    int64_t records = 0;
    rs_status st = rs_cifar_check(buf, len, "fuzz-input", kind, 0, &records);
    if (st != RS_OK) {
        if (rs_last_error()[0] == 0 || records != 0) abort();
        return 0;
    }
    if (records < 1 || (size_t)records * (size_t)(kind == 100 ? 3074 : 3073) != len) abort();
    uint8_t *images = malloc((size_t)records * 3072);
    int32_t *labels = malloc((size_t)records * sizeof(int32_t));
    if (!images || !labels) abort();
    rs_cifar_extract(buf, records, kind, images, labels);
    for (int64_t i = 0; i < records; i++)
        if (labels[i] < 0 || labels[i] >= kind) abort();
    free(images);
    free(labels);
    return 0;
}
