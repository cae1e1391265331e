/* fuzz_checkpoint.c: libFuzzer target for loading a checkpoint into a built net (rs_net_load): the input is a
 * safetensors file whose tensors must match the net's parameters by name and shape. Every input is either loaded
 * (then every parameter came from the file) or refused with a message; never a crash, a leak or a read out of
 * bounds; a refused file leaves the net's parameters as they were (rs_net_load converts into a scratch copy).
 * The net is a small ConvNetGAPMF (conv weights and biases of several shapes, a linear readout). */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_files.h"
#include "relstab/io.h"
#include "relstab/models.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rs_net *net = fuzz_tiny_net();
    const char *path = fuzz_write(0, "ckpt.safetensors", data, size);
    rs_safetensors *meta = NULL;
    static float *before;
    if (!before && !(before = malloc(net->params.total * sizeof(float)))) abort();
    memcpy(before, net->params.data, net->params.total * sizeof(float));
    rs_clear_error();
    rs_status s = rs_net_load(net, path, &meta);
    if (s != RS_OK) {
        if (meta || rs_last_error()[0] == 0) abort();
        if (memcmp(before, net->params.data, net->params.total * sizeof(float))) abort(); /* a partial load */
        return 0;
    }
    if (!meta) abort();
    /* loaded: every parameter is in the file with its shape */
    for (int32_t i = 0; i < net->params.count; i++) {
        const rs_param *q = &net->params.items[i];
        const rs_st_tensor *t = rs_safetensors_get(meta, q->name);
        if (!t || t->ndim != q->ndim) abort();
        for (int32_t d = 0; d < q->ndim; d++)
            if (t->shape[d] != q->shape[d]) abort();
    }
    rs_safetensors_free(meta);
    return 0;
}
