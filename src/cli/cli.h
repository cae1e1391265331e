/* cli.h: helpers shared by the subcommands: strict number parsing with one-line errors, the common --threads
 * handling, terminal detection for progress output. Each subcommand lives in src/cli/cmd_NAME.c and defines
 * int rs_cmd_NAME(int argc, char **argv) and const char rs_cmd_NAME_help[] (one line for `relstab --help`). */
#pragma once
#include <stdint.h>

#include "relstab/measure.h"
#include "relstab/tensor.h"

/* Parse a whole string as a number; on failure print "relstab CMD: --FLAG expects ..., got '...'" and return -1. */
int cli_parse_int(const char *cmd, const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out);
int cli_parse_double(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out);
/* A comma-separated list of doubles (at most max); returns the count or -1 after printing an error. */
int cli_parse_double_list(const char *cmd, const char *flag, const char *s, double *out, int max);
/* Print "relstab CMD: <message>" from the last library error and return the exit code for status s (1 or 2). */
int cli_fail(const char *cmd, rs_status s);
/* Print "relstab CMD: <formatted message>" and return 2 (usage errors). */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets the thread count (n <= 0: every core this process may run on; more is capped with a message) and
 * returns it. */
int cli_threads(int64_t n);
/* n, or the number of cores this process may run on when n is larger (saying so on stderr); 0 stays 0 (default). */
int64_t cli_threads_cap(int64_t n);
/* 1 if stderr is a terminal (progress bars), else 0. */
int cli_stderr_is_tty(void);

/* The options that say where a net comes from (--run, --model, --weights, ... and every model option) are parsed
 * by model_cli.c (model_cli_net_source). */

/* `relstab onnx info FILE [--tensors]` (cmd_onnx.c), also reached by `relstab info --onnx FILE`. */
int rs_cmd_onnx_info(const char *path, int tensors);
