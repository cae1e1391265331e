/* backend.c: which path the unsuffixed ops take (the plain-C reference or the fast one), and whether this build
 * has oneDNN at all. It is one process-wide switch, meant to be set once at start-up (or by a test between calls),
 * not a per-call or per-thread choice. */
#include "relstab/ops.h"

#include <stdio.h>
#ifdef RELSTAB_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

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

#ifdef RELSTAB_HAVE_ONEDNN
static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "unknown";
    }
}
#endif

void rs_backend_describe(char *buf, size_t n) {
#ifdef RELSTAB_HAVE_ONEDNN
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, n, "oneDNN %d.%d.%d, ISA %s", v->major, v->minor, v->patch,
             isa_name(dnnl_get_effective_cpu_isa()));
#else
    snprintf(buf, n, "plain C only (built without oneDNN)");
#endif
}
