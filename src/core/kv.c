/* kv.c: see kv.h. */
#include "core/kv.h"

#include <stdlib.h>
#include <string.h>

rs_status rs_kv_each(const char *text, const char *what, rs_kv_set_fn set, void *ctx) {
    size_t len = text ? strlen(text) : 0;
    char *buf = malloc(len + 1);
    if (!buf) return rs_error(RS_ERR_NOMEM, "out of memory");
    memcpy(buf, text ? text : "", len + 1);
    rs_status s = RS_OK;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line && !s; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq) {
            s = rs_error(RS_ERR_ARG, "%s '%s' has no value (key=value)", what, line);
            break;
        }
        *eq = 0;
        s = set(ctx, line, eq + 1);
    }
    free(buf);
    return s;
}
