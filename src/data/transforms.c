/* transforms.c: what happens to one image between storage and batch: conversion to float (uint8 / 255, as
 * torchvision's ToTensor), task rendering, random crop with zero padding and horizontal flip (training split
 * only), normalisation ((x - mean_c) / std_c, float, as torchvision's Normalize) and the paper's Gaussian corruption
 * x + std * z / sqrt(C*H*W). Also the per-channel statistics (double, chunked and combined in a fixed order, so
 * they do not depend on the thread count).
 * Deliberately not here: diffeomorphisms and the noise of the sensitivity measures (src/perturb). */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "data/data_internal.h"

void rs_data_render_points(const rs_dataset *ds, int64_t s, int32_t pa, int32_t pb, float *x) {
    const struct rs_dataset_priv *p = ds->priv;
    int64_t hw = (int64_t)ds->height * ds->width;
    /* as the reference: zeros, += value at each active pixel (two pixels at one place add up), then + noise */
    memset(x, 0, (size_t)hw * sizeof(float));
    x[pa] += ds->task.value;
    x[pb] += ds->task.value;
    if (ds->task.bgnoise > 0) {
        /* fixed per image (the reference seeds its generator with the image): keyed by the image's own pair */
        uint64_t id = (uint64_t)p->pa[s] * (uint64_t)hw + p->pb[s];
        uint64_t stream = rs_stream(RS_PURPOSE_TASK, 0, 0);
        for (int64_t k = 0; k < hw; k++)
            x[k] += (float)(ds->task.bgnoise * rs_normal(ds->seed, stream, id * (uint64_t)hw + (uint64_t)k));
    }
    for (int32_t c = 1; c < ds->channels; c++) memcpy(x + c * hw, x, (size_t)hw * sizeof(float));
}

void rs_data_render_raw(const rs_dataset *ds, int64_t s, float *x) {
    const struct rs_dataset_priv *p = ds->priv;
    int64_t c = ds->channels, hw = (int64_t)ds->height * ds->width, chw = c * hw;
    if (ds->store == RS_STORE_U8) {
        const uint8_t *src = p->u8 + s * chw;
        if (!p->nhwc)
            for (int64_t k = 0; k < chw; k++) x[k] = (float)src[k] / 255.0f;
        else
            for (int64_t q = 0; q < hw; q++)
                for (int64_t ch = 0; ch < c; ch++) x[ch * hw + q] = (float)src[q * c + ch] / 255.0f;
    } else if (ds->store == RS_STORE_F32) {
        const float *src = p->f32 + s * chw;
        if (!p->nhwc)
            memcpy(x, src, (size_t)chw * sizeof(float));
        else
            for (int64_t q = 0; q < hw; q++)
                for (int64_t ch = 0; ch < c; ch++) x[ch * hw + q] = src[q * c + ch];
    } else {
        rs_data_render_points(ds, s, p->pa[s], p->pb[s], x);
    }
}

void rs_data_augment(const rs_dataset *ds, int64_t s, uint64_t epoch, float *x, float *scratch) {
    if (ds->crop_padding == 0 && !ds->hflip) return;
    int32_t h = ds->height, w = ds->width, pad = ds->crop_padding;
    uint32_t r[4];
    rs_philox(ds->seed, rs_stream(RS_PURPOSE_AUGMENT, (uint32_t)epoch, (uint32_t)ds->split), (uint64_t)s, r);
    /* offsets in [0, 2 pad] of the padded image (torchvision's RandomCrop(size, padding)), then the flip */
    uint64_t v = ((uint64_t)r[0] << 32) | r[1], n_off = 2 * (uint64_t)pad + 1;
    int32_t dy = (int32_t)(v % n_off) - pad, dx = (int32_t)((v / n_off) % n_off) - pad;
    int flip = ds->hflip && (r[2] & 1u);
    if (dy == 0 && dx == 0 && !flip) return;
    size_t bytes = (size_t)ds->channels * h * w * sizeof(float);
    memcpy(scratch, x, bytes);
    for (int32_t c = 0; c < ds->channels; c++) {
        const float *in = scratch + (int64_t)c * h * w;
        float *out = x + (int64_t)c * h * w;
        for (int32_t y = 0; y < h; y++) {
            int32_t sy = y + dy;
            for (int32_t xo = 0; xo < w; xo++) {
                int32_t sx = (flip ? w - 1 - xo : xo) + dx;
                out[y * w + xo] = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? in[sy * w + sx] : 0.0f;
            }
        }
    }
}

static void normalise(const rs_dataset *ds, float *x) {
    if (!ds->normalise) return;
    int64_t hw = (int64_t)ds->height * ds->width;
    for (int32_t c = 0; c < ds->channels; c++) {
        float m = ds->mean[c], sd = ds->std[c];
        for (int64_t k = 0; k < hw; k++) x[c * hw + k] = (x[c * hw + k] - m) / sd;
    }
}

void rs_data_finish(const rs_dataset *ds, int64_t s, uint64_t epoch, float *x) {
    normalise(ds, x);
    if (ds->corrupt_std > 0) {
        int64_t chw = (int64_t)ds->channels * ds->height * ds->width;
        float scale = (float)(ds->corrupt_std / sqrt((double)chw));
        uint64_t stream = rs_stream(RS_PURPOSE_CORRUPT, (uint32_t)epoch, (uint32_t)ds->split);
        double z[256];
        for (int64_t k0 = 0; k0 < chw; k0 += 256) { /* drawn in pairs, rs_normal's numbers */
            const int64_t m = chw - k0 < 256 ? chw - k0 : 256;
            rs_normals(z, (size_t)m, ds->seed, stream, (uint64_t)s * (uint64_t)chw + (uint64_t)k0);
            for (int64_t k = 0; k < m; k++) x[k0 + k] += scale * (float)z[k];
        }
    }
}

int rs_data_reference_norm(const char *name, int32_t channels, float *mean, float *std) {
    if (!strcmp(name, "cifar10") && channels == 3) {
        const float m[3] = {0.4914f, 0.4822f, 0.4465f}, s[3] = {0.2023f, 0.1994f, 0.2010f};
        memcpy(mean, m, sizeof m);
        memcpy(std, s, sizeof s);
        return 1;
    }
    if (!strcmp(name, "fashionmnist") && channels == 1) {
        mean[0] = 0.5f;
        std[0] = 0.5f;
        return 1;
    }
    return 0;
}

/* Per-channel count / mean / sum of squared deviations of a chunk of images, combined pairwise (Chan et al.). */
typedef struct {
    double n, mean, m2;
} moments;

static void moments_merge(moments *a, const moments *b) {
    if (b->n == 0) return;
    double n = a->n + b->n, d = b->mean - a->mean;
    a->mean += d * b->n / n;
    a->m2 += b->m2 + d * d * a->n * b->n / n;
    a->n = n;
}

/* Statistics over source images [0, n_source) when all_source, else over the dataset's n images. */
rs_status rs_data_stats(const rs_dataset *ds, int all_source, int normalised, double *mean, double *std) {
    enum { CHUNK = 64 };
    int64_t n = all_source ? ds->priv->n_source : ds->n;
    int64_t c = ds->channels, hw = (int64_t)ds->height * ds->width, chw = c * hw;
    int64_t nchunks = (n + CHUNK - 1) / CHUNK;
    int nthreads = omp_get_max_threads();
    moments *part = rs_calloc((size_t)(nchunks * c) * sizeof(moments));
    float *buf = rs_alloc((size_t)nthreads * CHUNK * chw * sizeof(float));
    if (!part || !buf) {
        rs_free(part);
        rs_free(buf);
        return rs_error(RS_ERR_NOMEM, "cannot allocate the statistics buffers of %s", ds->spec);
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t k = 0; k < nchunks; k++) {
        float *x = buf + (size_t)omp_get_thread_num() * CHUNK * chw;
        int64_t i0 = k * CHUNK, i1 = i0 + CHUNK < n ? i0 + CHUNK : n;
        for (int64_t i = i0; i < i1; i++) {
            int64_t s = all_source || !ds->priv->subset ? i : ds->priv->subset[i];
            float *xi = x + (i - i0) * chw;
            rs_data_render_raw(ds, s, xi);
            if (normalised) normalise(ds, xi);
        }
        for (int64_t ch = 0; ch < c; ch++) {
            double sum = 0, m2 = 0, cnt = (double)(i1 - i0) * (double)hw;
            for (int64_t i = 0; i < i1 - i0; i++)
                for (int64_t q = 0; q < hw; q++) sum += x[i * chw + ch * hw + q];
            double m = sum / cnt;
            for (int64_t i = 0; i < i1 - i0; i++)
                for (int64_t q = 0; q < hw; q++) {
                    double d = x[i * chw + ch * hw + q] - m;
                    m2 += d * d;
                }
            part[k * c + ch] = (moments){cnt, m, m2};
        }
    }
    for (int64_t ch = 0; ch < c; ch++) {
        moments acc = {0, 0, 0};
        for (int64_t k = 0; k < nchunks; k++) moments_merge(&acc, &part[k * c + ch]);
        mean[ch] = acc.mean;
        std[ch] = acc.n > 0 ? sqrt(acc.m2 / acc.n) : 0.0;
    }
    rs_free(part);
    rs_free(buf);
    return RS_OK;
}

rs_status rs_dataset_channel_stats(const rs_dataset *ds, int normalised, double *mean, double *std) {
    return rs_data_stats(ds, 0, normalised, mean, std);
}

rs_status rs_data_setup_norm(rs_dataset *ds, const rs_data_options *opt) {
    ds->norm = opt->norm;
    ds->normalise = 0;
    int32_t c = ds->channels;
    if (opt->norm == RS_NORM_REFERENCE) {
        ds->normalise = rs_data_reference_norm(ds->name, c, ds->mean, ds->std);
    } else if (opt->norm == RS_NORM_GIVEN) {
        for (int32_t k = 0; k < c; k++) {
            if (!(opt->norm_std[k] > 0) || !isfinite(opt->norm_std[k]) || !isfinite(opt->norm_mean[k]))
                return rs_error(RS_ERR_ARG, "%s: normalisation of channel %d needs a finite mean and a std > 0", ds->spec,
                                (int)k);
            ds->mean[k] = opt->norm_mean[k];
            ds->std[k] = opt->norm_std[k];
        }
        ds->normalise = 1;
    } else if (opt->norm == RS_NORM_COMPUTED) {
        double m[RS_DATA_MAXCH], s[RS_DATA_MAXCH];
        if (ds->split == RS_SPLIT_TRAIN) {
            RS_TRY(rs_data_stats(ds, 1, 0, m, s));
        } else {
            rs_data_options o = *opt;
            o.norm = RS_NORM_NONE;
            o.corrupt_std = 0;
            rs_dataset *train = NULL;
            RS_TRY(rs_dataset_open(ds->spec, RS_SPLIT_TRAIN, &o, &train));
            rs_status st = rs_data_stats(train, 1, 0, m, s);
            rs_dataset_free(train);
            RS_TRY(st);
        }
        for (int32_t k = 0; k < c; k++) {
            if (!(s[k] > 0))
                return rs_error(RS_ERR_ARG, "%s: channel %d is constant over the training split, cannot normalise by "
                                "its std", ds->spec, (int)k);
            ds->mean[k] = (float)m[k];
            ds->std[k] = (float)s[k];
        }
        ds->normalise = 1;
    } else if (opt->norm != RS_NORM_NONE) {
        return rs_error(RS_ERR_ARG, "unknown normalisation %d", (int)opt->norm);
    }
    return RS_OK;
}
