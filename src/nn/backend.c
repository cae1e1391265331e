/* backend.c: which path the unsuffixed ops take (the plain-C reference or the fast one), and whether this build
 * has oneDNN at all. It is one process-wide switch, meant to be set once at start-up (or by a test between calls),
 * not a per-call or per-thread choice. */
#include "relstab/ops.h"

static rs_backend g_backend = RS_BACKEND_FAST;

void rs_set_backend(rs_backend b) {
    RS_ASSERT(b == RS_BACKEND_FAST || b == RS_BACKEND_REF);
    g_backend = b;
}

rs_backend rs_get_backend(void) { return g_backend; }

int rs_have_onednn(void) {
#ifdef RELSTAB_HAVE_ONEDNN
    return 1;
#else
    return 0;
#endif
}
