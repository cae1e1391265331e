/* model_cli.h: the command-line flags that choose a zoo model's options (--channels, --size, --classes, --width,
 * --depth, --filter-size, --stride, --strides, --pbc, --bn, --last-bias, --alpha), shared by the subcommands that
 * build a model (info, train, ...). Add MODEL_CLI_LONG_OPTIONS to a getopt_long table, pass every option id to
 * model_cli_handle, then call model_cli_finish once the model name is known. */
#pragma once
#include <getopt.h>

#include "relstab/models.h"

enum {
    MODEL_OPT_CHANNELS = 0x1000, MODEL_OPT_SIZE, MODEL_OPT_CLASSES, MODEL_OPT_WIDTH, MODEL_OPT_DEPTH,
    MODEL_OPT_FILTER, MODEL_OPT_STRIDE, MODEL_OPT_STRIDES, MODEL_OPT_PBC, MODEL_OPT_BN, MODEL_OPT_LAST_BIAS,
    MODEL_OPT_ALPHA,
};

#define MODEL_CLI_LONG_OPTIONS                                                                                     \
    {"channels", required_argument, 0, MODEL_OPT_CHANNELS}, {"size", required_argument, 0, MODEL_OPT_SIZE},       \
        {"classes", required_argument, 0, MODEL_OPT_CLASSES}, {"width", required_argument, 0, MODEL_OPT_WIDTH},   \
        {"depth", required_argument, 0, MODEL_OPT_DEPTH}, {"filter-size", required_argument, 0, MODEL_OPT_FILTER}, \
        {"stride", required_argument, 0, MODEL_OPT_STRIDE}, {"strides", required_argument, 0, MODEL_OPT_STRIDES}, \
        {"pbc", required_argument, 0, MODEL_OPT_PBC}, {"bn", required_argument, 0, MODEL_OPT_BN},                 \
        {"last-bias", required_argument, 0, MODEL_OPT_LAST_BIAS}, {"alpha", required_argument, 0, MODEL_OPT_ALPHA}, \
        {"filter", required_argument, 0, MODEL_OPT_FILTER} /* the older spelling of --filter-size */

typedef struct {
    rs_model_opts o;
    int32_t size_given_once; /* --size N (one number): N x N, or a signal of length N for a 1-D model */
} model_cli;

void model_cli_init(model_cli *m);
/* Handles option `id` with argument arg: returns 1 if it was a model option (parsed), 0 if not a model option,
 * -1 after printing "relstab CMD: ..." for a bad value. */
int model_cli_handle(model_cli *m, const char *cmd, int id, const char *arg);
/* Applies what depends on the model (the meaning of a one-number --size). */
void model_cli_finish(model_cli *m, const char *model);
/* The flags' help lines. */
extern const char model_cli_help[];
