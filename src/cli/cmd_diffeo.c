/* cmd_diffeo.c: `relstab diffeo`: the temperature range of the max-entropy diffeomorphism for an image size and
 * cutoff, and samples of it: a PNG grid of images deformed at temperatures from T_min to T_max, the fields and
 * deformed images as NPY. It measures nothing (that is `relstab measure`). */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/out_path.h"
#include "relstab/data.h"
#include "relstab/io.h"
#include "relstab/perturb.h"

const char rs_cmd_diffeo_help[] = "max-entropy diffeomorphisms: T range for an image size, PNG grids, fields as NPY";

#define CMD "diffeo"
#define MAX_INDEX (1 << 20) /* --index values at most (ranges expanded) */
#define MAX_COLS 32

static void usage(FILE *f) {
    fprintf(f,
        "usage: relstab diffeo [--n N] [--cut C] [--delta D | --T T] [--png FILE] [--out-npy DIR] [options]\n"
        "Prints the temperature range of the max-entropy diffeomorphism (docs/science.md 2.3) for n x n images and cutoff c:\n"
        "T_min = 1/(pi n^2 ln c) (delta 1/2 px), T_max = 4/(pi^3 c^2 ln c), T(delta) = 4 delta^2/(pi n^2 ln c), the\n"
        "delta at T_max and the number of modes; with --png / --out-npy it also deforms images.\n\n"
        "  --n N            image side for the T range (default 32, or the side of the images given)\n"
        "  --cut C          high-frequency cutoff c >= 2 (default 3)\n"
        "  --delta D        typical displacement in pixels (default 1)\n"
        "  --T T            the temperature itself, instead of --delta\n"
        "  --interp M       linear (default), nearest or gaussian (sigma 0.4715 px)\n"
        "  --seed S         seed of the fields (default 0); a field depends on (seed, image index, repeat) only\n"
        "  --repeats R      fields per image (default 1)\n"
        "  --threads N      threads (default: every free core)\n"
        "images (for --png and --out-npy; default: a built-in 32x32 checkerboard of 4-pixel squares):\n"
        "  --data SPEC      a dataset (fashionmnist, mnist:DIR, cifar10:DIR, npy:DIR, twopoints, ...), its test split\n"
        "  --train          take the images from the training split instead\n"
        "  --npy FILE       an NPY array of images: (N, C, H, W), (N, H, W) or (H, W); float32, float64 or uint8\n"
        "  --index LIST     image indices in the dataset or array, comma-separated, ranges A-B allowed\n"
        "                   (default 0; at most 1048576 values)\n"
        "  --image NAME     the built-in image: checker (default, 4-pixel squares of 0.1 and 0.8) or gradient (a\n"
        "                   diagonal ramp from 0 to 1), of side --n,\n"
        "                   repeated for each --index (each copy gets the field of its index)\n"
        "outputs:\n"
        "  --png FILE       a grid, one row per image and repeat: T = 0 then --cols temperatures log-spaced from\n"
        "                   T_min to T_max, all with the same draw, so a row shows one deformation growing\n"
        "  --cols K         temperatures per row (default 6)\n"
        "  --zoom Z         pixel magnification in the PNG (default 4)\n"
        "  --out-npy DIR    at the chosen T: inputs.npy (B, C, H, W), fields.npy (B, 2, H, W) (dx, dy in pixels),\n"
        "                   deformed.npy (B, C, H, W), index.npy (B, 2) int64 (image index, repeat), and with\n"
        "                   gaussian interpolation smoothed.npy (the clean images smoothed by the same kernel);\n"
        "                   B = images x repeats, image-major\n");
}

typedef struct {
    int64_t n, cut, repeats, threads, cols, zoom;
    double delta, T;
    int have_n, have_T, have_delta, train;
    rs_interp interp;
    uint64_t seed;
    const char *data, *npy, *image, *png, *out_npy;
    int64_t *index;      /* (n_index): own_index ? allocated : the default {0} */
    int n_index, own_index;
} opts;

/* The images to deform: x (B, C, H, W) and their indices (dataset or array rows; 0 for the built-in image). */
typedef struct {
    float *x;
    int64_t *index;
    int32_t b, c, h, w;
} images;

/* One value or range of --index: "I" or "A-B" (inclusive); returns 0 or -1 after a message. */
static int index_token(const char *tok, const char *all, int64_t *a, int64_t *b) {
    char *end;
    errno = 0;
    long long x = strtoll(tok, &end, 10), y = x;
    if (*end == '-' && end != tok) y = strtoll(end + 1, &end, 10);
    if (errno || end == tok || *end || x < 0 || y < x || !isdigit((unsigned char)tok[0]))
        return cli_usage_error(CMD, "--index expects non-negative integers or ranges A-B (A <= B), got '%s' in '%s'",
                               tok, all), -1;
    *a = x, *b = y;
    return 0;
}

static int parse_index_list(const char *s, opts *o) {
    size_t len = strlen(s);
    char *copy = malloc(len + 1), *save = NULL;
    int64_t *v = NULL, n = 0, cap = 0;
    if (!copy) return cli_fail(CMD, rs_error(RS_ERR_NOMEM, "out of memory")), -1;
    memcpy(copy, s, len + 1);
    int rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        int64_t a, b;
        if ((rc = index_token(t, s, &a, &b))) break;
        if (b - a + 1 > MAX_INDEX - n) {
            rc = cli_usage_error(CMD, "--index takes at most %d values (ranges expanded), got more in '%.40s%s'",
                                 MAX_INDEX, s, len > 40 ? "..." : "");
            break;
        }
        if (n + (b - a + 1) > cap) {
            cap = n + (b - a + 1) + cap;
            int64_t *t2 = realloc(v, (size_t)cap * sizeof *v);
            if (!t2) {
                rc = cli_fail(CMD, rs_error(RS_ERR_NOMEM, "out of memory for --index"));
                break;
            }
            v = t2;
        }
        for (int64_t i = a; i <= b; i++) v[n++] = i;
    }
    free(copy);
    if (!rc && n == 0) rc = cli_usage_error(CMD, "--index expects at least one index");
    if (rc) {
        free(v);
        return -1;
    }
    if (o->own_index) free(o->index);
    o->index = v, o->n_index = (int)n, o->own_index = 1;
    return 0;
}

/* Returns 0 to go on, 1 after --help, 2 on a usage error (message printed). */
static int parse(int argc, char **argv, opts *o) {
    static const struct option lo[] = {
        {"n", 1, 0, 'n'}, {"cut", 1, 0, 'c'}, {"delta", 1, 0, 'd'}, {"T", 1, 0, 'T'}, {"interp", 1, 0, 'i'},
        {"seed", 1, 0, 's'}, {"repeats", 1, 0, 'r'}, {"threads", 1, 0, 't'}, {"data", 1, 0, 'D'},
        {"train", 0, 0, 'a'}, {"npy", 1, 0, 'N'}, {"index", 1, 0, 'x'}, {"image", 1, 0, 'm'}, {"png", 1, 0, 'p'},
        {"cols", 1, 0, 'k'}, {"zoom", 1, 0, 'z'}, {"out-npy", 1, 0, 'o'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    *o = (opts){.n = 32, .cut = 3, .repeats = 1, .threads = 0, .cols = 6, .zoom = 4, .delta = 1.0,
                .interp = RS_INTERP_LINEAR, .n_index = 1};
    static int64_t index0[1] = {0};
    o->index = index0;
    int ch, rc = 0;
    int64_t seed = 0;
    opterr = 0;
    optind = 1;
    while (!rc && (ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'n': rc = cli_parse_int(CMD, "--n", optarg, 2, 65536, &o->n); o->have_n = 1; break;
        case 'c': rc = cli_parse_int(CMD, "--cut", optarg, 1, RS_DIFFEO_MAX_CUT, &o->cut); break;
        case 'd': rc = cli_parse_double(CMD, "--delta", optarg, 0, 1e6, &o->delta); o->have_delta = 1; break;
        case 'T': rc = cli_parse_double(CMD, "--T", optarg, 0, 1e6, &o->T); o->have_T = 1; break;
        case 'i':
            if (rs_interp_parse(optarg, &o->interp)) rc = -1, cli_fail(CMD, RS_ERR_ARG);
            break;
        case 's': rc = cli_parse_int(CMD, "--seed", optarg, 0, INT64_MAX, &seed); o->seed = (uint64_t)seed; break;
        case 'r': rc = cli_parse_int(CMD, "--repeats", optarg, 1, 64, &o->repeats); break;
        case 't': rc = cli_parse_int(CMD, "--threads", optarg, 0, 4096, &o->threads); break;
        case 'D': o->data = optarg; break;
        case 'a': o->train = 1; break;
        case 'N': o->npy = optarg; break;
        case 'x': rc = parse_index_list(optarg, o); break;
        case 'm': o->image = optarg; break;
        case 'p': o->png = optarg; break;
        case 'k': rc = cli_parse_int(CMD, "--cols", optarg, 1, MAX_COLS, &o->cols); break;
        case 'z': rc = cli_parse_int(CMD, "--zoom", optarg, 1, 32, &o->zoom); break;
        case 'o': o->out_npy = optarg; break;
        case 'h': usage(stdout); return 1;
        default:
            return cli_usage_error(CMD, "unknown or incomplete option '%s' (relstab diffeo --help)", argv[optind - 1]);
        }
    }
    if (rc) return 2;
    if (optind < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (o->have_T && o->have_delta) return cli_usage_error(CMD, "give --delta or --T, not both");
    if (!!o->data + !!o->npy + !!o->image > 1) return cli_usage_error(CMD, "give one of --data, --npy and --image");
    if (o->image && strcmp(o->image, "checker") && strcmp(o->image, "gradient"))
        return cli_usage_error(CMD, "--image expects checker or gradient, got '%s'", o->image);
    if (o->cut == 1)
        return cli_usage_error(CMD, "--cut 1 is not allowed: T depends on ln c and ln 1 = 0 (use c >= 2)");
    return 0;
}

/* 1.1318e-3 rather than 1.1318e-03 */
static const char *sci(char *buf, size_t len, double v) {
    if (v == 0) {
        snprintf(buf, len, "0");
        return buf;
    }
    int e = (int)floor(log10(fabs(v)));
    double m = v / pow(10.0, e);
    if (fabs(m) >= 9.99995) m /= 10, e++;
    snprintf(buf, len, "%.4fe%d", m, e);
    return buf;
}

/* Prints the T range for an n x n image (or H x W with n = max side) and the chosen T. */
static int print_range(const opts *o, int32_t n, int32_t h, int32_t w, double T) {
    double tmin, tmax, dmax, d;
    char b1[32], b2[32], b3[32];
    rs_status s;
    if ((s = rs_diffeo_tmin(n, (int32_t)o->cut, &tmin)) || (s = rs_diffeo_tmax((int32_t)o->cut, &tmax)) ||
        (s = rs_diffeo_delta_of_T(tmax, n, (int32_t)o->cut, &dmax)) || (s = rs_diffeo_delta_of_T(T, n, (int32_t)o->cut, &d)))
        return cli_fail(CMD, s);
    double s1 = 0;
    for (int i = 1; i <= o->cut; i++)
        for (int j = 1; j <= o->cut; j++)
            if (rs_diffeo_mode_kept(i, j, (int32_t)o->cut)) s1 += 1.0 / (i * i + j * j);
    /* exact grid mean of dx^2 + dy^2: (W^2 + H^2) T (H-1)(W-1)/(4 H W) sum_kept 1/(i^2+j^2) */
    double rms = sqrt(((double)w * w + (double)h * h) * T * (h - 1.0) * (w - 1.0) / (4.0 * h * w) * s1);
    printf("image %dx%d (n = %d), cutoff c = %d, %d modes, interpolation %s\n", h, w, n, (int)o->cut,
           rs_diffeo_n_modes((int32_t)o->cut), rs_interp_name(o->interp));
    printf("T_min = %s   (delta = 0.5 px)\n", sci(b1, sizeof b1, tmin));
    printf("T_max = %s   (delta = %.2f px at T_max)\n", sci(b2, sizeof b2, tmax), dmax);
    printf("T     = %s   (delta = %.4g px; rms displacement over the image %.3g px)\n", sci(b3, sizeof b3, T), d, rms);
    if (T > tmax) printf("note: T > T_max: the deformation may fold (overhangs)\n");
    if (T > 0 && T < tmin) printf("note: T < T_min: typical displacement below half a pixel\n");
    return 0;
}

/* ---------------------------------------------------------------- image sources */
/* The built-in image, once per --index (each copy gets the field of its index). */
static int builtin_image(const opts *o, images *im) {
    int32_t n = (int32_t)o->n;
    size_t hw = (size_t)n * n;
    im->b = o->n_index, im->c = 1, im->h = n, im->w = n;
    im->x = rs_alloc(hw * im->b * sizeof(float));
    im->index = rs_alloc((size_t)im->b * sizeof(int64_t));
    if (!im->x || !im->index) return cli_fail(CMD, rs_error(RS_ERR_NOMEM, "out of memory for a %dx%d image", n, n));
    int grad = o->image && !strcmp(o->image, "gradient");
    for (int32_t i = 0; i < im->b; i++) {
        im->index[i] = o->index[i];
        for (int32_t y = 0; y < n; y++)
            for (int32_t x = 0; x < n; x++)
                im->x[i * hw + (size_t)y * n + x] =
                    grad ? (float)(x + y) / (float)(2 * n - 2) : (((x / 4) + (y / 4)) & 1 ? 0.8f : 0.1f);
    }
    return 0;
}

static int dataset_images(const opts *o, images *im) {
    rs_dataset *ds = NULL;
    rs_status s = rs_dataset_open(o->data, o->train ? RS_SPLIT_TRAIN : RS_SPLIT_TEST, NULL, &ds);
    if (s) return cli_fail(CMD, s);
    int rc = 0;
    for (int i = 0; i < o->n_index && !rc; i++)
        if (o->index[i] >= ds->n)
            rc = cli_usage_error(CMD, "--index %lld is outside the %lld images of %s", (long long)o->index[i],
                                 (long long)ds->n, o->data);
    if (!rc) {
        im->b = o->n_index, im->c = ds->channels, im->h = ds->height, im->w = ds->width;
        im->x = rs_alloc((size_t)im->b * im->c * im->h * im->w * sizeof(float));
        im->index = rs_alloc((size_t)im->b * sizeof(int64_t));
        if (!im->x || !im->index) rc = cli_fail(CMD, rs_error(RS_ERR_NOMEM, "out of memory for the images"));
    }
    if (!rc) {
        memcpy(im->index, o->index, (size_t)im->b * sizeof(int64_t));
        if ((s = rs_dataset_batch(ds, im->index, im->b, 0, im->x, NULL, NULL))) rc = cli_fail(CMD, s);
    }
    rs_dataset_free(ds);
    return rc;
}

static int npy_images(const opts *o, images *im) {
    rs_npy a;
    rs_status s = rs_npy_read(o->npy, &a);
    if (s) return cli_fail(CMD, s);
    int rc = 0;
    int64_t N = 1, C = 1, H = 0, W = 0;
    if (a.ndim == 4) N = a.shape[0], C = a.shape[1], H = a.shape[2], W = a.shape[3];
    else if (a.ndim == 3) N = a.shape[0], H = a.shape[1], W = a.shape[2];
    else if (a.ndim == 2) H = a.shape[0], W = a.shape[1];
    else rc = cli_usage_error(CMD, "%s: expected an array (N, C, H, W), (N, H, W) or (H, W), got %d dimensions",
                              o->npy, (int)a.ndim);
    if (!rc && a.dtype != RS_DTYPE_F32 && a.dtype != RS_DTYPE_F64 && a.dtype != RS_DTYPE_U8)
        rc = cli_usage_error(CMD, "%s: expected float32, float64 or uint8 values, got %s", o->npy, rs_dtype_name(a.dtype));
    if (!rc && (H < 2 || W < 2 || H > 65536 || W > 65536 || C < 1 || C > 4096))
        rc = cli_usage_error(CMD, "%s: images of %lldx%lldx%lld cannot be deformed (need H, W >= 2)", o->npy,
                             (long long)C, (long long)H, (long long)W);
    for (int i = 0; i < o->n_index && !rc; i++)
        if (o->index[i] >= N)
            rc = cli_usage_error(CMD, "--index %lld is outside the %lld images of %s", (long long)o->index[i],
                                 (long long)N, o->npy);
    size_t per = rc ? 0 : (size_t)(C * H * W);
    if (!rc) {
        im->b = o->n_index, im->c = (int32_t)C, im->h = (int32_t)H, im->w = (int32_t)W;
        im->x = rs_alloc((size_t)im->b * per * sizeof(float));
        im->index = rs_alloc((size_t)im->b * sizeof(int64_t));
        if (!im->x || !im->index) rc = cli_fail(CMD, rs_error(RS_ERR_NOMEM, "out of memory for the images"));
    }
    for (int i = 0; i < o->n_index && !rc; i++) {
        im->index[i] = o->index[i];
        size_t off = (size_t)o->index[i] * per;
        for (size_t j = 0; j < per; j++) {
            float v = a.dtype == RS_DTYPE_F32   ? ((const float *)a.data)[off + j]
                      : a.dtype == RS_DTYPE_F64 ? (float)((const double *)a.data)[off + j]
                                                : (float)((const uint8_t *)a.data)[off + j] / 255.0f;
            if (!isfinite(v)) {
                rc = cli_usage_error(CMD, "%s: image %lld holds a non-finite value", o->npy, (long long)o->index[i]);
                break;
            }
            im->x[(size_t)i * per + j] = v;
        }
    }
    rs_npy_free(&a);
    return rc;
}

/* ---------------------------------------------------------------- outputs */
/* Grid rows = images x repeats; columns T = 0, then cols temperatures log-spaced from T_min to T_max. */
static int write_png(const opts *o, const images *im, const rs_diffeo_plan *plan, int32_t n) {
    if (im->c != 1 && im->c != 3)
        return cli_usage_error(CMD, "--png needs 1 or 3 channels, the images have %d", (int)im->c);
    double tmin, tmax;
    rs_status s;
    if ((s = rs_diffeo_tmin(n, (int32_t)o->cut, &tmin)) || (s = rs_diffeo_tmax((int32_t)o->cut, &tmax)))
        return cli_fail(CMD, s);
    int32_t cols = (int32_t)o->cols + 1, rows = im->b * (int32_t)o->repeats, z = (int32_t)o->zoom;
    size_t chw = (size_t)im->c * im->h * im->w, zchw = chw * z * z;
    float *cell = rs_alloc(chw * rows * sizeof(float)), *grid = rs_alloc(zchw * rows * cols * sizeof(float));
    int64_t *idx = rs_alloc((size_t)rows * sizeof(int64_t));
    if (!cell || !grid || !idx) {
        rs_free(cell), rs_free(grid), rs_free(idx);
        return cli_fail(CMD, rs_error(RS_ERR_NOMEM, "out of memory for the PNG grid"));
    }
    float lo = INFINITY, hi = -INFINITY;
    for (size_t j = 0; j < chw * im->b; j++) lo = fminf(lo, im->x[j]), hi = fmaxf(hi, im->x[j]);
    int rc = 0;
    for (int32_t col = 0; col < cols && !rc; col++) {
        double T = col == 0 ? 0.0 : (cols == 2 ? tmax : tmin * pow(tmax / tmin, (col - 1.0) / (cols - 2.0)));
        for (int64_t r = 0; r < o->repeats && !rc; r++) {
            rs_diffeo_opts d = {.T = T, .interp = o->interp, .seed = o->seed, .repeat = (uint32_t)r};
            for (int32_t i = 0; i < im->b; i++) idx[i] = im->index[i];
            float *dst = cell + (size_t)r * im->b * chw;
            if ((s = rs_diffeo_batch(plan, &d, dst, NULL, im->x, im->b, im->c, idx))) rc = cli_fail(CMD, s);
        }
        for (int32_t row = 0; row < rows && !rc; row++) { /* row = image i, repeat r (image-major) */
            int32_t i = row / (int32_t)o->repeats, r = row % (int32_t)o->repeats;
            const float *src = cell + ((size_t)r * im->b + i) * chw;
            float *dst = grid + ((size_t)row * cols + col) * zchw;
            for (int32_t c = 0; c < im->c; c++)
                for (int32_t y = 0; y < im->h * z; y++)
                    for (int32_t x = 0; x < im->w * z; x++)
                        dst[((size_t)c * im->h * z + y) * im->w * z + x] =
                            src[((size_t)c * im->h + y / z) * im->w + x / z];
        }
    }
    if (!o->data && !o->npy) lo = 0.0f, hi = 1.0f; /* the built-in image: greys, so the white separators show */
    if (!rc && hi <= lo) hi = lo + 1.0f;
    if (!rc && (s = rs_png_write_grid(o->png, grid, rows * cols, im->c, im->h * z, im->w * z, rows, cols, lo, hi)))
        rc = cli_fail(CMD, s);
    if (!rc) printf("wrote %s: %d rows (image x repeat), T = 0 then %d values from T_min to T_max\n", o->png, rows,
                    (int)o->cols);
    rs_free(cell), rs_free(grid), rs_free(idx);
    return rc;
}

static rs_status npy_out(const char *dir, const char *name, rs_dtype t, int32_t nd, const int64_t *shape,
                         const void *data) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return rs_error(RS_ERR_ARG, "--out-npy: directory name too long");
    return rs_npy_write(path, t, nd, shape, data);
}

/* B = images x repeats (image-major) at the chosen T. */
static int write_npy(const opts *o, const images *im, const rs_diffeo_plan *plan, double T) {
    int32_t R = (int32_t)o->repeats, B = im->b * R;
    size_t chw = (size_t)im->c * im->h * im->w, hw = (size_t)im->h * im->w;
    float *in = rs_alloc(chw * B * sizeof(float)), *out = rs_alloc(chw * B * sizeof(float));
    float *fld = rs_alloc(2 * hw * B * sizeof(float));
    int64_t *pairs = rs_alloc((size_t)B * 2 * sizeof(int64_t));
    int rc = 0;
    rs_status s = rs_mkdir_p(o->out_npy);
    if (s) rc = cli_fail(CMD, s);
    else if (!in || !out || !fld || !pairs) rc = cli_fail(CMD, rs_error(RS_ERR_NOMEM, "out of memory for --out-npy"));
    for (int32_t k = 0; k < B && !rc; k++) {
        int32_t i = k / R, r = k % R;
        memcpy(in + k * chw, im->x + i * chw, chw * sizeof(float));
        pairs[2 * k] = im->index[i], pairs[2 * k + 1] = r;
        rs_diffeo_opts d = {.T = T, .interp = o->interp, .seed = o->seed, .repeat = (uint32_t)r};
        if ((s = rs_diffeo_batch(plan, &d, out + k * chw, fld + k * 2 * hw, im->x + i * chw, 1, im->c, &im->index[i])))
            rc = cli_fail(CMD, s);
    }
    int64_t shx[4] = {B, im->c, im->h, im->w}, shf[4] = {B, 2, im->h, im->w}, shi[2] = {B, 2};
    if (!rc && ((s = npy_out(o->out_npy, "inputs.npy", RS_DTYPE_F32, 4, shx, in)) ||
                (s = npy_out(o->out_npy, "fields.npy", RS_DTYPE_F32, 4, shf, fld)) ||
                (s = npy_out(o->out_npy, "deformed.npy", RS_DTYPE_F32, 4, shx, out)) ||
                (s = npy_out(o->out_npy, "index.npy", RS_DTYPE_I64, 2, shi, pairs))))
        rc = cli_fail(CMD, s);
    if (!rc && o->interp == RS_INTERP_GAUSSIAN) {
        if ((s = rs_gaussian_smooth_batch(out, in, B, im->c, im->h, im->w)) ||
            (s = npy_out(o->out_npy, "smoothed.npy", RS_DTYPE_F32, 4, shx, out)))
            rc = cli_fail(CMD, s);
    }
    if (!rc) printf("wrote %s/{inputs,fields,deformed,index%s}.npy: %d images x %d repeats\n", o->out_npy,
                    o->interp == RS_INTERP_GAUSSIAN ? ",smoothed" : "", (int)im->b, (int)R);
    rs_free(in), rs_free(out), rs_free(fld), rs_free(pairs);
    return rc;
}

/* ---------------------------------------------------------------- main */
static int run(const opts *o, images *im) {
    int want_images = o->png || o->out_npy;
    int rc = 0;
    if (want_images || o->data || o->npy) {
        rc = o->data ? dataset_images(o, im) : o->npy ? npy_images(o, im) : builtin_image(o, im);
        if (rc) return rc;
    }
    int32_t h = im->x ? im->h : (int32_t)o->n, w = im->x ? im->w : (int32_t)o->n, n = h > w ? h : w;
    if (h < 2 || w < 2)
        return cli_usage_error(CMD, "the images are %dx%d: 1-D signals are not deformed by the 2-D field (the 1-D "
                               "task has its own block-preserving moves, docs/diffeo.md)", (int)h, (int)w);
    if (im->x && o->have_n && o->n != n)
        return cli_usage_error(CMD, "--n %lld disagrees with the %dx%d images", (long long)o->n, (int)h, (int)w);
    double T = o->T;
    rs_status s;
    if (!o->have_T && (s = rs_diffeo_T_of_delta(o->delta, n, (int32_t)o->cut, &T))) return cli_fail(CMD, s);
    if ((rc = print_range(o, n, h, w, T))) return rc;
    if (h != w) printf("note: H != W: n = max(H, W) above; dx is scaled by W and dy by H (docs/diffeo.md)\n");
    if (!want_images) return 0;
    rs_diffeo_plan plan;
    if ((s = rs_diffeo_plan_init(&plan, h, w, (int32_t)o->cut))) return cli_fail(CMD, s);
    if (o->png) rc = write_png(o, im, &plan, n);
    if (!rc && o->out_npy) rc = write_npy(o, im, &plan, T);
    rs_diffeo_plan_free(&plan);
    return rc;
}

int rs_cmd_diffeo(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc) {
        if (o.own_index) free(o.index);
        return rc == 1 ? 0 : rc;
    }
    if ((o.png && cli_check_out_file(CMD, "--png", o.png)) || (o.out_npy && cli_check_out_dir(CMD, "--out-npy", o.out_npy))) {
        if (o.own_index) free(o.index);
        return 1; /* before any work */
    }
    cli_threads(o.threads);
    images im = {0};
    rc = run(&o, &im);
    rs_free(im.x);
    rs_free(im.index);
    if (o.own_index) free(o.index);
    return rc;
}
