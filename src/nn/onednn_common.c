/* onednn_common.c: the oneDNN engine and stream, the primitive cache, scratch buffers and small helpers shared
 * by the fast-path files. Only compiled in when the build has oneDNN. It holds no op logic. */
#ifdef RELSTAB_HAVE_ONEDNN
#include <stdio.h>
#include <stdlib.h>
#include <omp.h>
#include <string.h>

#include <oneapi/dnnl/dnnl_debug.h>

#include "nn/onednn_internal.h"

void rs_dnnl_fail(const char *call, dnnl_status_t st, const char *file, int line) {
    fprintf(stderr, "%s:%d: oneDNN call failed (%s): %s\n", file, line, dnnl_status2str(st), call);
    abort();
}

static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;

dnnl_engine_t rs_dnnl_engine(void) {
    if (!g_engine) RS_DNNL_CHECK(dnnl_engine_create(&g_engine, dnnl_cpu, 0));
    return g_engine;
}

dnnl_stream_t rs_dnnl_stream(void) {
    if (!g_stream) RS_DNNL_CHECK(dnnl_stream_create(&g_stream, rs_dnnl_engine(), dnnl_stream_default_flags));
    return g_stream;
}

void *rs_dnnl_cache_find(rs_dnnl_cache *c, const void *key, size_t key_len) {
    RS_ASSERT(key_len > 0 && key_len <= RS_DNNL_KEY_MAX);
    int32_t threads = omp_get_max_threads();
    for (int i = 0; i < RS_DNNL_CACHE_SLOTS; i++) {
        rs_dnnl_cache_slot *s = &c->slots[i];
        if (s->key_len == key_len && s->threads == threads && memcmp(s->key, key, key_len) == 0) {
            s->last_use = ++c->tick;
            return s->value;
        }
    }
    return NULL;
}

void rs_dnnl_cache_put(rs_dnnl_cache *c, const void *key, size_t key_len, void *value) {
    RS_ASSERT(key_len > 0 && key_len <= RS_DNNL_KEY_MAX);
    int idx = 0; /* an empty slot, else the least recently used */
    for (int i = 0; i < RS_DNNL_CACHE_SLOTS; i++) {
        if (c->slots[i].key_len == 0) {
            idx = i;
            break;
        }
        if (c->slots[i].last_use < c->slots[idx].last_use) idx = i;
    }
    if (c->slots[idx].key_len) c->destroy(c->slots[idx].value);
    memcpy(c->slots[idx].key, key, key_len);
    c->slots[idx].key_len = key_len;
    c->slots[idx].threads = omp_get_max_threads();
    c->slots[idx].last_use = ++c->tick;
    c->slots[idx].value = value;
}

dnnl_memory_t rs_dnnl_memory(const dnnl_memory_desc_t *md) {
    dnnl_memory_t m;
    RS_DNNL_CHECK(dnnl_memory_create(&m, md, rs_dnnl_engine(), DNNL_MEMORY_NONE));
    return m;
}

void rs_dnnl_bind(dnnl_memory_t m, const void *data) {
    RS_DNNL_CHECK(dnnl_memory_set_data_handle(m, (void *)data));
}

void rs_dnnl_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims, dnnl_format_tag_t tag) {
    RS_DNNL_CHECK(dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32, tag));
}

dnnl_primitive_t rs_dnnl_primitive(const_dnnl_primitive_desc_t pd) {
    dnnl_primitive_t p;
    RS_DNNL_CHECK(dnnl_primitive_create(&p, pd));
    return p;
}

const dnnl_memory_desc_t *rs_dnnl_query_md(const_dnnl_primitive_desc_t pd, dnnl_query_t what) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, what, 0);
    RS_ASSERT(md != NULL);
    return md;
}

void rs_dnnl_run(dnnl_primitive_t p, int nargs, const dnnl_exec_arg_t *args) {
    RS_DNNL_CHECK(dnnl_primitive_execute(p, rs_dnnl_stream(), nargs, args));
    RS_DNNL_CHECK(dnnl_stream_wait(rs_dnnl_stream()));
}

dnnl_primitive_t rs_dnnl_reorder(const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst, int accumulate) {
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    if (accumulate) {
        RS_DNNL_CHECK(dnnl_primitive_attr_create(&attr));
        RS_DNNL_CHECK(dnnl_post_ops_create(&ops));
        RS_DNNL_CHECK(dnnl_post_ops_append_sum(ops, 1.0f));
        RS_DNNL_CHECK(dnnl_primitive_attr_set_post_ops(attr, ops));
    }
    dnnl_primitive_desc_t pd;
    RS_DNNL_CHECK(dnnl_reorder_primitive_desc_create(&pd, src, rs_dnnl_engine(), dst, rs_dnnl_engine(), attr));
    dnnl_primitive_t p = rs_dnnl_primitive(pd);
    RS_DNNL_CHECK(dnnl_primitive_desc_destroy(pd));
    if (ops) RS_DNNL_CHECK(dnnl_post_ops_destroy(ops));
    if (attr) RS_DNNL_CHECK(dnnl_primitive_attr_destroy(attr));
    return p;
}

void rs_dnnl_destroy_primitive(dnnl_primitive_t p) {
    if (p) RS_DNNL_CHECK(dnnl_primitive_destroy(p));
}

void rs_dnnl_destroy_memory(dnnl_memory_t m) {
    if (m) RS_DNNL_CHECK(dnnl_memory_destroy(m));
}

#define RS_DNNL_SCRATCH_SLOTS 4
static rs_workspace g_scratch[RS_DNNL_SCRATCH_SLOTS];

void *rs_dnnl_scratch(int slot, size_t bytes) {
    RS_ASSERT(slot >= 0 && slot < RS_DNNL_SCRATCH_SLOTS);
    void *p = rs_workspace_get(&g_scratch[slot], bytes > 64 ? bytes : 64);
    if (!p) {
        fprintf(stderr, "relstab: out of memory for %zu bytes of oneDNN scratch\n", bytes);
        abort();
    }
    return p;
}

void *rs_dnnl_carve(void *base, size_t *offset, size_t bytes) {
    size_t at = *offset;
    *offset = at + ((bytes + 63) / 64) * 64;
    return base ? (char *)base + at : NULL;
}

void rs_dnnl_add(float *dst, const float *src, int64_t n) {
    if (n < RS_DNNL_PAR_MIN) {
        for (int64_t i = 0; i < n; i++) dst[i] += src[i];
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

static void colsum_add_one(float *sums, const float *m, int64_t rows, int64_t c, int64_t j) {
    double s = 0.0;
    for (int64_t r = 0; r < rows; r++) s += m[r * c + j];
    sums[j] += (float)s;
}

void rs_dnnl_colsum_add(float *sums, const float *m, int64_t rows, int64_t c) {
    if (rows * c < RS_DNNL_PAR_MIN) {
        for (int64_t j = 0; j < c; j++) colsum_add_one(sums, m, rows, c, j);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < c; j++) colsum_add_one(sums, m, rows, c, j);
}
#else
typedef int rs_onednn_common_empty; /* this build has no oneDNN: nothing to compile */
#endif
