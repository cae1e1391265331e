/* testutil.h: small helpers shared by the test programs (random data, comparisons, temporary directories).
 * Every test program includes cmocka through this header. */
#pragma once
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relstab/tensor.h"

/* n floats from N(0, 1) (counter-based, stream `stream`), newly allocated (rs_free). */
float *tu_randn(size_t n, uint64_t stream);
/* max |a - b| and max |a - b| / (atol + |b|) style check: returns the worst excess of |a-b| over atol + rtol|b|
 * (<= 0 means within tolerance) and prints the first offending index. */
double tu_check_close(const float *a, const float *b, size_t n, double atol, double rtol, const char *what);
double tu_max_abs_diff(const float *a, const float *b, size_t n);
/* A fresh empty directory under $TMPDIR (or /tmp), its path in a static buffer per call slot (4 slots). */
const char *tu_tmpdir(const char *tag);
/* Path of a file in tests/fixtures. */
const char *tu_fixture(const char *name);
/* Runs a shell command, returns its exit status (or -1). */
int tu_system(const char *cmd);
