/* fuzz_files.h: what the file-level fuzz targets share (header-only): a private temporary directory per process,
 * writing a file there, and cutting one input into several files at a separator line. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relstab/models.h"

#define FUZZ_SEP "\n--8<--\n" /* separates the files packed in one input */

/* A directory of this process under $TMPDIR (or /tmp), created once. */
static inline const char *fuzz_dir(void) {
    static char dir[512];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/relstab-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) abort();
    }
    return dir;
}

/* Writes len bytes to fuzz_dir()/name (replacing it); returns the path (static buffer, one per slot 0..7). */
static inline const char *fuzz_write(int slot, const char *name, const void *data, size_t len) {
    static char paths[8][600];
    char *p = paths[slot & 7];
    snprintf(p, 600, "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(p, "wb");
    if (!f) abort();
    if (len && fwrite(data, 1, len, f) != len) abort();
    fclose(f);
    return p;
}

static inline void fuzz_remove(const char *name) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", fuzz_dir(), name);
    unlink(p);
}

/* Cuts data at FUZZ_SEP into at most max parts: part[i], len[i]; returns the count (missing parts are empty). */
static inline int fuzz_split(const uint8_t *data, size_t size, int max, const uint8_t **part, size_t *len) {
    size_t sl = strlen(FUZZ_SEP), at = 0;
    int n = 0;
    while (n < max) {
        const uint8_t *hit = NULL;
        for (size_t i = at; n < max - 1 && i + sl <= size; i++)
            if (!memcmp(data + i, FUZZ_SEP, sl)) {
                hit = data + i;
                break;
            }
        part[n] = data + at;
        len[n] = hit ? (size_t)(hit - (data + at)) : size - at;
        n++;
        if (!hit) break;
        at = (size_t)(hit - data) + sl;
    }
    for (int i = n; i < max; i++) part[i] = data + size, len[i] = 0;
    return n;
}

/* A tiny gapmf net (1x8x8 input, 4 channels, 2 blocks, 1 output), built once per process: the net that the
 * checkpoint and run-metadata targets load files into. */
static inline rs_net *fuzz_tiny_net(void) {
    static rs_net *net;
    if (net) return net;
    rs_model_opts o;
    rs_model_opts_init(&o);
    o.channels = 1, o.height = 8, o.width = 8, o.classes = 1, o.hidden = 4, o.depth = 2;
    if (rs_model_resolve("gapmf", &o) || rs_model_build("gapmf", &o, &net) || rs_net_build(net, 1, 0)) abort();
    rs_net_init(net, 1);
    return net;
}
