/* model_cli.c: see model_cli.h. Parsing only: the checks that depend on the model are rs_model_resolve's, those
 * that depend on the data rs_model_opts_from_data's. */
#include "model_cli.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

const char model_cli_help[] =
    "model options (every one defaults to the reference's value for the model):\n"
    "  --channels C        input channels (3; 1 adds the reference's ZeroPad2d(2) to VGG and AlexNet)\n"
    "  --size H[xW]        input size (32x32); for gapmf1d the signal length L (128)\n"
    "  --classes K         outputs (10; 1 for hinge-loss tasks; gapmf and gapmf1d: 1)\n"
    "  --width N           densenetl*: hidden units (64); gapmf: channels (64); gapmf1d: channels H (1000)\n"
    "  --depth L           gapmf / gapmf1d: conv blocks (4 / 7)\n"
    "  --filter-size F     gapmf / gapmf1d: filter size (3 / 2)\n"
    "  --stride S          gapmf / gapmf1d: stride of the strided blocks (2)\n"
    "  --strides LIST      gapmf / gapmf1d: every block's stride, e.g. 2,1,2,1; gapmf1d also 'released' (only\n"
    "                      block 0 strided, the released code's quirk; default: every block strided)\n"
    "  --pbc 0|1           gapmf: circular padding (1)\n"
    "  --bn 0|1            gapmf: BatchNorm after each ReLU (0)\n"
    "  --last-bias 0|1     gapmf: the readout bias, one number added to every output (1)\n"
    "  --alpha A           gapmf1d: readout scale (1)\n";

void model_cli_init(model_cli *m) {
    rs_model_opts_init(&m->o);
    m->size_given_once = 0;
}

static int parse_i32(const char *cmd, const char *flag, const char *arg, int64_t lo, int64_t hi, int32_t *out) {
    int64_t v;
    if (cli_parse_int(cmd, flag, arg, lo, hi, &v)) return -1;
    *out = (int32_t)v;
    return 1;
}

static int parse_size(model_cli *m, const char *cmd, const char *arg) {
    char buf[64];
    const char *x = strchr(arg, 'x');
    if (!x) {
        if (parse_i32(cmd, "--size", arg, 1, 65536, &m->o.height) < 0) return -1;
        m->o.width = m->o.height;
        m->size_given_once = 1;
        return 1;
    }
    if ((size_t)(x - arg) >= sizeof buf) return cli_usage_error(cmd, "--size expects H or HxW, got '%s'", arg), -1;
    memcpy(buf, arg, (size_t)(x - arg));
    buf[x - arg] = 0;
    if (parse_i32(cmd, "--size (height)", buf, 1, 65536, &m->o.height) < 0) return -1;
    if (parse_i32(cmd, "--size (width)", x + 1, 1, 65536, &m->o.width) < 0) return -1;
    m->size_given_once = 0;
    return 1;
}

static int parse_strides(model_cli *m, const char *cmd, const char *arg) {
    if (!strcmp(arg, "released")) {
        m->o.released_strides = 1;
        return 1;
    }
    double v[RS_MODEL_MAX_BLOCKS];
    int n = cli_parse_double_list(cmd, "--strides", arg, v, RS_MODEL_MAX_BLOCKS);
    if (n < 0) return -1;
    for (int i = 0; i < n; i++) {
        if (v[i] != (double)(int32_t)v[i] || v[i] < 1 || v[i] > 1024)
            return cli_usage_error(cmd, "--strides expects integers from 1 to 1024, got '%s'", arg), -1;
        m->o.strides[i] = (int32_t)v[i];
    }
    m->o.n_strides = n;
    return 1;
}

int model_cli_handle(model_cli *m, const char *cmd, int id, const char *arg) {
    rs_model_opts *o = &m->o;
    switch (id) {
    case MODEL_OPT_CHANNELS: return parse_i32(cmd, "--channels", arg, 1, 65536, &o->channels);
    case MODEL_OPT_SIZE: return parse_size(m, cmd, arg);
    case MODEL_OPT_CLASSES: return parse_i32(cmd, "--classes", arg, 1, 1 << 24, &o->classes);
    case MODEL_OPT_WIDTH: return parse_i32(cmd, "--width", arg, 1, 1 << 20, &o->hidden);
    case MODEL_OPT_DEPTH: return parse_i32(cmd, "--depth", arg, 1, RS_MODEL_MAX_BLOCKS, &o->depth);
    case MODEL_OPT_FILTER: return parse_i32(cmd, "--filter-size", arg, 1, 1024, &o->filter_size);
    case MODEL_OPT_STRIDE: return parse_i32(cmd, "--stride", arg, 1, 1024, &o->stride);
    case MODEL_OPT_STRIDES: return parse_strides(m, cmd, arg);
    case MODEL_OPT_PBC: return parse_i32(cmd, "--pbc", arg, 0, 1, &o->pbc);
    case MODEL_OPT_BN: return parse_i32(cmd, "--bn", arg, 0, 1, &o->batch_norm);
    case MODEL_OPT_LAST_BIAS: return parse_i32(cmd, "--last-bias", arg, 0, 1, &o->last_bias);
    case MODEL_OPT_ALPHA: {
        double a;
        if (cli_parse_double(cmd, "--alpha", arg, -1e30, 1e30, &a)) return -1;
        if (a == 0) return cli_usage_error(cmd, "--alpha must not be 0"), -1;
        o->alpha = a;
        return 1;
    }
    default: return 0;
    }
}

void model_cli_finish(model_cli *m, const char *model) {
    const rs_model_info *info = rs_model_get(rs_model_find(model));
    if (m->size_given_once && info && !strcmp(info->name, "gapmf1d")) { /* one number: the signal length */
        m->o.width = m->o.height;
        m->o.height = 1;
    }
}

int model_cli_net_source(model_cli *m, const char *cmd, int ch, const char *arg, rs_net_source *src) {
    int r = model_cli_handle(m, cmd, ch, arg);
    if (r) return r > 0 ? 0 : -1;
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
    }
    return 1;
}

void model_cli_finish_source(model_cli *m, rs_net_source *src) {
    model_cli_finish(m, src->model);
    src->model_opts = m->o;
}
