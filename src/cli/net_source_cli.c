/* net_source_cli.c: parsing of the options that name a net (a run, a model with weights, or a fresh
 * initialisation), shared by the commands that load one. */
#include <stdint.h>

#include "cli.h"

static int to_int32(const char *cmd, const char *flag, const char *arg, int64_t lo, int64_t hi, int32_t *out) {
    int64_t v;
    if (cli_parse_int(cmd, flag, arg, lo, hi, &v)) return -1;
    *out = (int32_t)v;
    return 0;
}

int cli_net_source_option(const char *cmd, int ch, const char *arg, rs_net_source *src) {
    int64_t v;
    switch (ch) {
    case 'r': src->run_dir = arg; return 0;
    case 'k': src->checkpoint = arg; return 0;
    case 'M': src->model = arg; return 0;
    case 'X': src->onnx = arg; return 0;
    case 'w': src->weights = arg; return 0;
    case 'I': src->init = 1; return 0;
    case 'J':
        if (cli_parse_int(cmd, "--init-seed", arg, 0, INT64_MAX, &v)) return -1;
        src->init_seed = (uint64_t)v;
        return 0;
    case 'D': src->data = arg; return 0;
    case 'W': return to_int32(cmd, "--width", arg, 1, 1 << 20, &src->width);
    case 'E': return to_int32(cmd, "--depth", arg, 1, 64, &src->depth);
    case 'F': return to_int32(cmd, "--filter", arg, 1, 1024, &src->filter);
    case 'S': src->strides = arg; return 0;
    case 'L': return to_int32(cmd, "--classes", arg, 1, 1 << 24, &src->classes);
    }
    return 1;
}
