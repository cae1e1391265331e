/* model_cli.h: the one parser of the command-line flags that choose a zoo model's options (--channels, --size,
 * --classes, --width, --depth, --filter-size (or --filter), --stride, --strides, --pbc, --bn, --last-bias,
 * --alpha), shared by every subcommand that builds a model (info, train, measure, forward, spectrum), and of the
 * flags that say where a net comes from (--run, --checkpoint, --model, --weights, --init, the init seed, --data;
 * measure, forward, spectrum). Add MODEL_CLI_LONG_OPTIONS to a getopt_long table, pass every option id to
 * model_cli_handle (or model_cli_net_source), then call model_cli_finish once the model name is known. */
#pragma once
#include <getopt.h>

#include "relstab/measure.h"
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
/* Where a net comes from, by getopt code: r --run, X --onnx, k --checkpoint, M --model, w --weights, I --init, J the
 * initialisation seed (flag name per command), D --data; and every model option (model_cli_handle). Returns 0 when
 * ch was one of them and parsed, -1 after printing a parse error, 1 when ch is not one of them. */
int model_cli_net_source(model_cli *m, const char *cmd, int ch, const char *arg, rs_net_source *src);
/* model_cli_finish for src->model, then the options into src->model_opts. */
void model_cli_finish_source(model_cli *m, rs_net_source *src);
/* The flags' help lines. */
extern const char model_cli_help[];
