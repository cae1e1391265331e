/* cmd_plot.c: `relstab plot depth|epochs|scatter FILE.csv -o OUT.png|svg`: draws a figure from any measure CSV,
 * aggregated CSV or a run's sens.csv through include/relstab/plot.h, and says which rows it left out. Option
 * parsing and messages only; the figures live in src/plot. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "relstab/plot.h"

const char rs_cmd_plot_help[] = "figures from CSV files: D, G, R against depth or epoch, one column against another";

#define CMD "plot"

static void usage(FILE *f) {
    fprintf(f,
        "usage: relstab plot depth|epochs|scatter FILE.csv -o OUT.png|OUT.svg [options]\n"
        "Draws a figure with gnuplot (PNG or SVG by the extension of OUT). docs/plot.md has the details.\n\n"
        "  depth FILE.csv    D, G and R against depth: three panels, log y, nodes on the x axis, one curve per\n"
        "                    group, error bars. FILE is a `relstab measure` CSV (node, D, G, R, D_se ...) or an\n"
        "                    aggregated one (node, D_mean, D_se ...). Rows repeated for one node and group (seeds)\n"
        "                    are averaged: mean and standard error.\n"
        "  epochs FILE.csv   D, G and R against epoch from a run's sens.csv (`train --track-every`; FILE may be\n"
        "                    the run directory), one curve per node.\n"
        "  scatter FILE.csv  --y against --x (log axes), one point style per --group value.\n\n"
        "  -o, --out OUT     the figure (.png or .svg), replaced only when gnuplot succeeds\n"
        "  --group COLS      comma-separated columns that tell the curves apart (\"\" for one curve). Default for\n"
        "                    depth: those of group, model, data, checkpoint, mode, shuffle, channel_mean, noise,\n"
        "                    estimator, epoch that vary in the file; for epochs: the node only; scatter: none\n"
        "  --nodes LIST      comma-separated node names to keep (default: all; epochs: at most 12, spread evenly)\n"
        "  --where COL=V,... keep only the rows whose column COL has one of the values (e.g. epoch=0,30)\n"
        "  --x COL, --y COL  scatter: the columns on the axes (error bars from COL_se when present)\n"
        "  --linear x|y|xy   scatter: linear instead of log axes\n"
        "  --fit             scatter: least-squares line (log-log on log axes), its slope and correlation\n"
        "  --title TEXT      figure title (default: the file name and what is drawn)\n"
        "  --size WxH        size in pixels (default 1200x450; scatter 800x600)\n"
        "Rows whose `flag` column is set and values that are NaN (or not positive on a log axis) are left out with\n"
        "a note on stderr; a file with no row left, a missing column or an empty file is an error (exit 1).\n");
}

typedef struct {
    const char *kind, *csv, *out;
    rs_plot_opts po;
} options;

static int parse_size(const char *s, rs_plot_opts *o) {
    int w, h, n;
    if (sscanf(s, "%dx%d%n", &w, &h, &n) != 2 || s[n] || w < 100 || h < 100 || w > 10000 || h > 10000)
        return cli_usage_error(CMD, "--size expects WxH in pixels (100 to 10000), got '%s'", s), -1;
    o->width = w, o->height = h;
    return 0;
}

static int parse(options *o, int argc, char **argv) {
    static const struct option lo[] = {
        {"out", 1, 0, 'o'}, {"group", 1, 0, 'g'}, {"nodes", 1, 0, 'n'}, {"x", 1, 0, 'x'}, {"y", 1, 0, 'y'},
        {"linear", 1, 0, 'l'}, {"fit", 0, 0, 'f'}, {"title", 1, 0, 't'}, {"size", 1, 0, 's'}, {"where", 1, 0, 'w'}, {"help", 0, 0, 'h'},
        {0, 0, 0, 0}};
    optind = 0;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, ":ho:", lo, NULL)) != -1;) {
        switch (c) {
        case 'h': usage(stdout); return 1;
        case 'o': o->out = optarg; break;
        case 'g': o->po.group = optarg; break;
        case 'n': o->po.nodes = optarg; break;
        case 'w':
            if (!strchr(optarg, '=') || *optarg == '=')
                return cli_usage_error(CMD, "--where expects COL=V1,V2,..., got '%s'", optarg), -1;
            o->po.where = optarg;
            break;
        case 'x': o->po.x = optarg; break;
        case 'y': o->po.y = optarg; break;
        case 'f': o->po.fit = 1; break;
        case 't': o->po.title = optarg; break;
        case 's': if (parse_size(optarg, &o->po)) return -1; break;
        case 'l':
            if (strcmp(optarg, "x") && strcmp(optarg, "y") && strcmp(optarg, "xy"))
                return cli_usage_error(CMD, "--linear expects x, y or xy, got '%s'", optarg), -1;
            if (strchr(optarg, 'x')) o->po.logx = 0;
            if (strchr(optarg, 'y')) o->po.logy = 0;
            break;
        case ':': return cli_usage_error(CMD, "%s needs a value", argv[optind - 1]), -1;
        default: return cli_usage_error(CMD, "unknown option '%s' (relstab plot --help lists them)", argv[optind - 1]), -1;
        }
    }
    if (argc - optind < 2) return cli_usage_error(CMD, "expected a figure kind and a CSV file (relstab plot --help)"), -1;
    if (argc - optind > 2) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind + 2]), -1;
    o->kind = argv[optind], o->csv = argv[optind + 1];
    int scatter = !strcmp(o->kind, "scatter");
    if (!scatter && strcmp(o->kind, "depth") && strcmp(o->kind, "epochs"))
        return cli_usage_error(CMD, "unknown figure '%s': depth, epochs or scatter", o->kind), -1;
    if (!o->out) return cli_usage_error(CMD, "-o OUT.png or OUT.svg is required"), -1;
    if (rs_plot_format_of(o->out) < 0) return cli_usage_error(CMD, "-o %s: the name must end in .png or .svg", o->out), -1;
    if (scatter && (!o->po.x || !o->po.y)) return cli_usage_error(CMD, "scatter needs --x COL and --y COL"), -1;
    if (!scatter && (o->po.x || o->po.y || o->po.fit || !o->po.logx || !o->po.logy))
        return cli_usage_error(CMD, "--x, --y, --fit and --linear belong to scatter"), -1;
    return 0;
}

static void notes(const options *o, const rs_plot_info *in) {
    if (in->skipped_flag)
        fprintf(stderr, "relstab plot: note: %d of %d rows left out: flagged (column flag)\n", in->skipped_flag, in->rows);
    if (in->skipped_nan)
        fprintf(stderr, "relstab plot: note: %d of %d rows %s: a value NaN, infinite%s\n", in->skipped_nan, in->rows,
                strcmp(o->kind, "scatter") ? "have a value left out" : "left out",
                strcmp(o->kind, "scatter") || o->po.logx || o->po.logy ? " or not positive (log axis)" : "");
    if (in->skipped_where)
        fprintf(stderr, "relstab plot: note: %d of %d rows left out (--where)\n", in->skipped_where, in->rows);
    if (in->skipped_node && o->po.nodes)
        fprintf(stderr, "relstab plot: note: %d rows of other nodes left out (--nodes)\n", in->skipped_node);
    else if (in->skipped_node)
        fprintf(stderr, "relstab plot: note: more than 12 nodes: %d rows of nodes between the 12 drawn left out "
                        "(--nodes chooses)\n", in->skipped_node);
}

int rs_cmd_plot(int argc, char **argv) {
    options o;
    memset(&o, 0, sizeof o);
    o.po = rs_plot_defaults();
    int pr = parse(&o, argc, argv);
    if (pr) return pr > 0 ? 0 : 2;
    char path[4096];
    struct stat sb;
    const char *csv = o.csv;
    if (!strcmp(o.kind, "epochs") && stat(csv, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        if (snprintf(path, sizeof path, "%s/sens.csv", csv) >= (int)sizeof path)
            return cli_usage_error(CMD, "path too long: %s", csv);
        csv = path;
    }
    rs_plot_info in;
    memset(&in, 0, sizeof in);
    rs_status st = !strcmp(o.kind, "depth")    ? rs_plot_depth(csv, o.out, &o.po, &in)
                   : !strcmp(o.kind, "epochs") ? rs_plot_epochs(csv, o.out, &o.po, &in)
                                               : rs_plot_scatter(csv, o.out, &o.po, &in);
    if (st != RS_OK) return cli_fail(CMD, st);
    notes(&o, &in);
    printf("wrote %s (%d rows, %d curve%s)\n", o.out, in.used, in.groups, in.groups == 1 ? "" : "s");
    if (o.po.fit)
        printf("least squares: slope %.4g, intercept %.4g, correlation r = %.4f\n", in.fit_slope, in.fit_intercept,
               in.fit_r);
    return 0;
}
