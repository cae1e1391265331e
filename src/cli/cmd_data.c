/* cmd_data.c: `relstab data info SPEC` (sizes, classes, per-channel mean / std, label histogram, the task counts)
 * and `relstab data show SPEC --index i[,j,...] --png out.png` (a PNG grid of images as the trainer sees them).
 * It trains and measures nothing; it is the window on src/data. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "relstab/data.h"
#include "relstab/io.h"

const char rs_cmd_data_help[] = "datasets: sizes, classes, mean/std, label histogram (info); image grids (show)";

#define CMD "data"
#define MAX_INDEX 1024

static void usage(FILE *f) {
    fprintf(f,
        "usage: relstab data info SPEC [options]\n"
        "       relstab data show SPEC --index I[,J,...] --png FILE [options]\n"
        "info prints the sizes, the classes, the per-channel mean and std (raw and after normalisation) and the label\n"
        "histogram of each split, and for a task its pair counts; show writes a PNG grid of the images as a batch\n"
        "gives them (after augmentation, normalisation and corruption).\n\n"
        "SPEC: fashionmnist (Debian's files in /usr/share/datasets/fashion-mnist) | fashionmnist:DIR | mnist:DIR |\n"
        "      idx:DIR | cifar10:DIR | cifar100:DIR | npy:DIR[,layout=nchw|nhwc] |\n"
        "      twopoints[:d=28,xi=14,gap=2,norm=L2|Linf,pbc=0,ptr=P,testsize=T,seed=S,labels=class|hinge,quadrant=0,\n"
        "                bgnoise=0,ch=1] | scale1d[:L=128,xi=32,task=2,gap=0,magn=L/2,ntrain=1024,nval=128,seed=S,\n"
        "                labels=class|hinge]      (docs/formats.md describes each)\n\n"
        "  --split S        train, test, val (scale1d only) or all (info's default: train and test; show's: test)\n"
        "  --norm N         reference (default: the reference's constants where it has them), none, computed\n"
        "  --ptr P          training subset of P images\n"
        "  --subset-seed S  seed of the training subset (default 0)\n"
        "  --seed S         seed of augmentation, corruption and background noise (default 0)\n"
        "  --corrupt STD    Gaussian corruption x + STD z / sqrt(C H W)\n"
        "  --crop P         random crop with zero padding P (training split only)\n"
        "  --flip           random horizontal flip (training split only)\n"
        "  --threads N      threads (default: every free core)\n"
        "show only:\n"
        "  --index LIST     comma-separated image indices (required)\n"
        "  --png FILE       output PNG (required)\n"
        "  --epoch E        epoch of the random draws (default 0)\n"
        "  --cols K         images per grid row (default: up to 8)\n"
        "  --zoom Z         pixel magnification (default 4)\n");
}

typedef struct {
    const char *verb, *spec, *png;
    int split; /* -1: all */
    rs_data_options o;
    int64_t index[MAX_INDEX];
    int n_index;
    int64_t epoch, cols, zoom, threads;
} opts;

static int parse_split(const char *s, int *split) {
    if (!strcmp(s, "train")) *split = RS_SPLIT_TRAIN;
    else if (!strcmp(s, "test")) *split = RS_SPLIT_TEST;
    else if (!strcmp(s, "val")) *split = RS_SPLIT_VAL;
    else if (!strcmp(s, "all")) *split = -1;
    else {
        cli_usage_error(CMD, "--split must be train, test, val or all, got '%s'", s);
        return -1;
    }
    return 0;
}

static int parse_norm(const char *s, rs_norm_kind *n) {
    if (!strcmp(s, "reference")) *n = RS_NORM_REFERENCE;
    else if (!strcmp(s, "none")) *n = RS_NORM_NONE;
    else if (!strcmp(s, "computed")) *n = RS_NORM_COMPUTED;
    else {
        cli_usage_error(CMD, "--norm must be reference, none or computed, got '%s'", s);
        return -1;
    }
    return 0;
}

static int parse_index(const char *s, opts *o) {
    const char *p = s;
    o->n_index = 0;
    while (*p) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || (*end && *end != ',') || v < 0 || o->n_index == MAX_INDEX) {
            cli_usage_error(CMD, "--index expects up to %d comma-separated non-negative integers, got '%s'", MAX_INDEX,
                            s);
            return -1;
        }
        o->index[o->n_index++] = v;
        p = *end ? end + 1 : end;
    }
    if (o->n_index == 0) {
        cli_usage_error(CMD, "--index expects at least one index");
        return -1;
    }
    return 0;
}

/* 0: go on, 1: --help printed, 2: usage error (printed). */
static int parse(int argc, char **argv, opts *o) {
    static const struct option lo[] = {
        {"split", 1, 0, 's'},   {"norm", 1, 0, 'n'},    {"ptr", 1, 0, 'p'},   {"subset-seed", 1, 0, 'u'},
        {"seed", 1, 0, 'S'},    {"corrupt", 1, 0, 'c'}, {"crop", 1, 0, 'C'},  {"flip", 0, 0, 'f'},
        {"threads", 1, 0, 't'}, {"index", 1, 0, 'i'},  {"png", 1, 0, 'o'},   {"epoch", 1, 0, 'e'},
        {"cols", 1, 0, 'k'},    {"zoom", 1, 0, 'z'},    {"help", 0, 0, 'h'},  {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->split = -2; /* not given */
    o->zoom = 4;
    int ch, rc = 0;
    int64_t v = 0;
    optind = 1;
    opterr = 0;
    while (!rc && (ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'h': usage(stdout); return 1;
        case 's': rc = parse_split(optarg, &o->split); break;
        case 'n': rc = parse_norm(optarg, &o->o.norm); break;
        case 'p': rc = cli_parse_int(CMD, "--ptr", optarg, 0, INT64_MAX / 2, &o->o.ptr); break;
        case 'u': rc = cli_parse_int(CMD, "--subset-seed", optarg, 0, INT64_MAX, &v); o->o.subset_seed = (uint64_t)v; break;
        case 'S': rc = cli_parse_int(CMD, "--seed", optarg, 0, INT64_MAX, &v); o->o.seed = (uint64_t)v; break;
        case 'c': rc = cli_parse_double(CMD, "--corrupt", optarg, 0, 1e30, &o->o.corrupt_std); break;
        case 'C': rc = cli_parse_int(CMD, "--crop", optarg, 0, 4096, &v); o->o.crop_padding = (int32_t)v; break;
        case 'f': o->o.hflip = 1; break;
        case 't': rc = cli_parse_int(CMD, "--threads", optarg, 0, 4096, &o->threads); break;
        case 'i': rc = parse_index(optarg, o); break;
        case 'o': o->png = optarg; break;
        case 'e': rc = cli_parse_int(CMD, "--epoch", optarg, 0, INT64_MAX, &o->epoch); break;
        case 'k': rc = cli_parse_int(CMD, "--cols", optarg, 1, 256, &o->cols); break;
        case 'z': rc = cli_parse_int(CMD, "--zoom", optarg, 1, 32, &o->zoom); break;
        default:
            return cli_usage_error(CMD, "unknown or incomplete option '%s' (relstab data --help)", argv[optind - 1]);
        }
    }
    if (rc) return 2;
    if (optind + 2 != argc)
        return cli_usage_error(CMD, optind + 2 > argc ? "expected a verb (info or show) and a dataset SPEC "
                                                        "(relstab data --help)"
                                                      : "unexpected argument '%s'", argv[argc - 1]);
    o->verb = argv[optind];
    o->spec = argv[optind + 1];
    return 0;
}

static const char *split_name(int split) {
    return split == RS_SPLIT_TRAIN ? "train" : split == RS_SPLIT_TEST ? "test" : "val";
}

static void print_stats_line(const char *what, const double *m, const double *s, int32_t c) {
    printf("  %-11s", what);
    for (int32_t k = 0; k < c; k++) printf("%s%.6f", k ? " " : "mean ", m[k]);
    printf("  ");
    for (int32_t k = 0; k < c; k++) printf("%s%.6f", k ? " " : "std ", s[k]);
    printf("\n");
}

static int info_split(const opts *o, int split, int first) {
    rs_dataset *ds = NULL;
    rs_status st = rs_dataset_open(o->spec, split, &o->o, &ds);
    if (st != RS_OK) return cli_fail(CMD, st);
    static const char *const stores[] = {"uint8", "float32", "generated from the pair list", "generated from the pair list"};
    if (first) printf("dataset  %s\n", ds->name);
    printf("[%s]\n", split_name(split));
    /* a task's description covers both splits: print it once */
    for (const char *p = (first || !ds->task.kind) ? rs_dataset_describe(ds) : ""; *p;) {
        const char *e = strchr(p, '\n');
        int len = e ? (int)(e - p) : (int)strlen(p);
        printf("  %.*s\n", len, p);
        p += len + (e ? 1 : 0);
    }
    printf("  images     %lld x %d x %d x %d (%s)\n", (long long)ds->n, (int)ds->channels, (int)ds->height,
           (int)ds->width, stores[ds->store]);
    printf("  classes    %d (labels: %s)\n", (int)ds->classes,
           ds->label_kind == RS_LABEL_SIGN ? "+-1 targets for the hinge loss" : "class index");
    double m[RS_DATA_MAXCH], s[RS_DATA_MAXCH];
    if ((st = rs_dataset_channel_stats(ds, 0, m, s)) != RS_OK) {
        rs_dataset_free(ds);
        return cli_fail(CMD, st);
    }
    print_stats_line("raw", m, s, ds->channels);
    if (ds->normalise) {
        printf("  normalise  (x - mean) / std with mean");
        for (int32_t k = 0; k < ds->channels; k++) printf(" %g", (double)ds->mean[k]);
        printf(", std");
        for (int32_t k = 0; k < ds->channels; k++) printf(" %g", (double)ds->std[k]);
        printf("\n");
        rs_dataset_channel_stats(ds, 1, m, s);
        print_stats_line("normalised", m, s, ds->channels);
    } else {
        printf("  normalise  none\n");
    }
    int64_t *h = calloc((size_t)ds->classes, sizeof(int64_t));
    if (!h) {
        rs_dataset_free(ds);
        return cli_usage_error(CMD, "out of memory");
    }
    rs_dataset_label_histogram(ds, h);
    printf("  labels    ");
    for (int32_t k = 0; k < ds->classes; k++) printf("%s %d:%lld", k && k % 10 == 0 ? "\n           " : "", (int)k,
                                                   (long long)h[k]);
    printf("\n");
    free(h);
    rs_dataset_free(ds);
    return 0;
}

static int cmd_info(const opts *o) {
    if (o->split >= 0) return info_split(o, o->split, 1);
    int rc = info_split(o, RS_SPLIT_TRAIN, 1);
    if (!rc) rc = info_split(o, RS_SPLIT_TEST, 0);
    return rc;
}

/* Nearest-neighbour magnification of n images (C, H, W) by z. */
static float *zoom_images(const float *x, int32_t n, int32_t c, int32_t h, int32_t w, int32_t z) {
    float *y = malloc((size_t)n * c * h * z * w * z * sizeof(float));
    if (!y) return NULL;
    for (int64_t i = 0; i < (int64_t)n * c; i++)
        for (int32_t r = 0; r < h * z; r++)
            for (int32_t q = 0; q < w * z; q++)
                y[(i * h * z + r) * w * z + q] = x[(i * h + r / z) * w + q / z];
    return y;
}

static int cmd_show(const opts *o) {
    if (!o->png || o->n_index == 0) return cli_usage_error(CMD, "show needs --index LIST and --png FILE");
    int split = o->split < 0 ? RS_SPLIT_TEST : o->split;
    rs_dataset *ds = NULL;
    rs_status st = rs_dataset_open(o->spec, split, &o->o, &ds);
    if (st != RS_OK) return cli_fail(CMD, st);
    int32_t n = o->n_index, c = ds->channels, h = ds->height, w = ds->width, z = (int32_t)o->zoom;
    float *x = malloc((size_t)n * c * h * w * sizeof(float)), *y = NULL;
    int rc = 0;
    if (!x) rc = cli_usage_error(CMD, "out of memory");
    if (!rc && (st = rs_dataset_batch(ds, o->index, n, (uint64_t)o->epoch, x, NULL, NULL)) != RS_OK)
        rc = cli_fail(CMD, st);
    /* channels other than 1 or 3: show the first one */
    int32_t shown = (c == 1 || c == 3) ? c : 1;
    if (!rc && shown != c)
        for (int32_t i = 0; i < n; i++) memmove(x + (int64_t)i * h * w, x + (int64_t)i * c * h * w, (size_t)h * w * 4);
    if (!rc && !(y = zoom_images(x, n, shown, h, w, z))) rc = cli_usage_error(CMD, "out of memory");
    if (!rc) {
        int32_t cols = o->cols > 0 ? (int32_t)o->cols : (n < 8 ? n : 8), rows = (n + cols - 1) / cols;
        /* raw uint8 images keep their [0, 1] scale; anything else is scaled by each image's min and max */
        int fixed = ds->store == RS_STORE_U8 && !ds->normalise && ds->corrupt_std == 0;
        if ((st = rs_png_write_grid(o->png, y, n, shown, h * z, w * z, rows, cols, 0.0f, fixed ? 1.0f : 0.0f)))
            rc = cli_fail(CMD, st);
        else
            printf("wrote %s: %d image(s) of %s %s, %d x %d grid\n", o->png, (int)n, ds->name, split_name(split),
                   (int)rows, (int)cols);
    }
    free(x);
    free(y);
    rs_dataset_free(ds);
    return rc;
}

int rs_cmd_data(int argc, char **argv) {
    opts o;
    int r = parse(argc, argv, &o);
    if (r == 1) return 0;
    if (r) return 2;
    if (o.threads) cli_threads(o.threads);
    if (!strcmp(o.verb, "info")) return cmd_info(&o);
    if (!strcmp(o.verb, "show")) return cmd_show(&o);
    return cli_usage_error(CMD, "unknown verb '%s' (info or show)", o.verb);
}
