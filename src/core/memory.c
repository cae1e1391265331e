/* memory.c: aligned allocation, overflow-checked sizes, the bump arena and the reusable workspace. */
#include "relstab/tensor.h"

#include <stdlib.h>
#include <string.h>

#define RS_ALIGN 64

void *rs_alloc(size_t bytes) {
    if (bytes == 0) bytes = RS_ALIGN;
    size_t rounded = (bytes + RS_ALIGN - 1) / RS_ALIGN * RS_ALIGN;
    if (rounded < bytes) return NULL;
    return aligned_alloc(RS_ALIGN, rounded);
}

void *rs_calloc(size_t bytes) {
    void *p = rs_alloc(bytes);
    if (p) memset(p, 0, bytes ? bytes : RS_ALIGN);
    return p;
}

void rs_free(void *p) { free(p); }

int rs_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}

rs_status rs_arena_init(rs_arena *a, size_t capacity_bytes) {
    a->base = rs_calloc(capacity_bytes);
    a->capacity = capacity_bytes;
    a->used = 0;
    if (!a->base) return rs_error(RS_ERR_NOMEM, "cannot allocate an arena of %zu bytes", capacity_bytes);
    return RS_OK;
}

void *rs_arena_push(rs_arena *a, size_t bytes) {
    size_t start = (a->used + RS_ALIGN - 1) / RS_ALIGN * RS_ALIGN;
    if (start > a->capacity || bytes > a->capacity - start) return NULL;
    a->used = start + bytes;
    return a->base + start;
}

void rs_arena_reset(rs_arena *a) {
    if (a->base) memset(a->base, 0, a->used);
    a->used = 0;
}

void rs_arena_free(rs_arena *a) {
    rs_free(a->base);
    a->base = NULL;
    a->capacity = a->used = 0;
}

void *rs_workspace_get(rs_workspace *ws, size_t bytes) {
    if (bytes > ws->size) {
        rs_free(ws->data);
        ws->data = rs_alloc(bytes);
        ws->size = ws->data ? bytes : 0;
    }
    return ws->data;
}

void rs_workspace_free(rs_workspace *ws) {
    rs_free(ws->data);
    ws->data = NULL;
    ws->size = 0;
}
