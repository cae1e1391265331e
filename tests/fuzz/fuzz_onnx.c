/* fuzz_onnx.c: libFuzzer target for the ONNX reader. Every input must either load into a net or be refused with a
 * message; a loaded net with small activations is also run forward once (zeros in), so that the index tables the
 * reader built (gather, softmax, broadcasting) are exercised. Never crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>

#include "relstab/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rs_net *net = NULL;
    rs_clear_error();
    if (rs_onnx_load_buffer(data, size, NULL, &net, NULL) != RS_OK) {
        if (net || rs_last_error()[0] == 0) abort();
        return 0;
    }
    int64_t work = 0;
    for (int32_t i = 0; i < net->n_nodes; i++) work += rs_net_node_numel(net, i);
    if (work < (1 << 18)) {
        const rs_node *in = &net->nodes[0];
        float *x = calloc((size_t)in->c * in->h * in->w, sizeof(float));
        if (x && rs_net_forward(net, x, 1, RS_MODE_EVAL) != RS_OK) abort();
        free(x);
    }
    rs_net_free(net);
    return 0;
}
