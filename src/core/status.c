/* status.c: status codes and the thread-local error message. Library code sets a message and returns a status;
 * only main() decides to exit. */
#include "relstab/tensor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static _Thread_local char rs_error_message[1024];

rs_status rs_error(rs_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rs_error_message, sizeof rs_error_message, fmt, ap);
    va_end(ap);
    return code;
}

const char *rs_last_error(void) { return rs_error_message; }

void rs_clear_error(void) { rs_error_message[0] = 0; }

const char *rs_status_name(rs_status s) {
    switch (s) {
    case RS_OK: return "ok";
    case RS_ERR_ARG: return "bad argument";
    case RS_ERR_IO: return "i/o error";
    case RS_ERR_FORMAT: return "malformed input";
    case RS_ERR_NOMEM: return "out of memory";
    case RS_ERR_NUMERIC: return "numerical error";
    case RS_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

void rs_assert_fail(const char *what, const char *file, int line) {
    fprintf(stderr, "relstab: internal error: assertion '%s' failed at %s:%d\n", what, file, line);
    abort();
}
