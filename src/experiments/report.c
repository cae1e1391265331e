/* report.c: OUT/index.html, plain HTML without JavaScript, from the files the experiments left under OUT: per
 * experiment its settings, time taken, figures (PNG, linked to the SVG), the paper's claims with relstab's verdicts
 * and their numbers, and links to the CSV tables. It reads files only; it computes nothing. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "exp_internal.h"
#include "relstab/io.h"
#ifdef RELSTAB_HAVE_ONEDNN
#include <dnnl.h>
#endif

static void html(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void copy_text(FILE *f, const char *path) {
    FILE *in = fopen(path, "r");
    if (!in) return;
    char line[2048];
    fputs("<pre>", f);
    while (fgets(line, sizeof line, in)) html(f, line);
    fputs("</pre>\n", f);
    fclose(in);
}

static const char *verdict_class(const char *v) {
    if (!strcmp(v, "holds")) return "holds";
    if (!strcmp(v, "partly")) return "partly";
    if (!strcmp(v, "does not hold")) return "fails";
    return "other";
}

/* The verdict rows of one figure (all rows when fig is NULL). */
static void verdicts(FILE *f, const char *dir, const char *fig) {
    char p[2400], line[4096], *fld[8];
    snprintf(p, sizeof p, "%s/verdicts.csv", dir);
    FILE *in = fopen(p, "r");
    if (!in) return;
    int header = 1, any = 0;
    while (fgets(line, sizeof line, in)) {
        if (header) {
            header = 0;
            continue;
        }
        line[strcspn(line, "\r\n")] = 0;
        if (rs_csv_split(line, fld, 8) != 4 || (fig && strcmp(fld[0], fig))) continue;
        if (!any) fputs("<table><tr><th>paper's claim</th><th>verdict at this scale</th><th>numbers</th></tr>\n", f);
        any = 1;
        fputs("<tr><td>", f);
        html(f, fld[1]);
        fprintf(f, "</td><td class=\"%s\">", verdict_class(fld[2]));
        html(f, fld[2]);
        fputs("</td><td>", f);
        html(f, fld[3]);
        fputs("</td></tr>\n", f);
    }
    if (any) fputs("</table>\n", f);
    fclose(in);
}

static void figures(FILE *f, const char *dir, const char *name) {
    char p[2400], line[1024];
    snprintf(p, sizeof p, "%s/figures.txt", dir);
    FILE *in = fopen(p, "r");
    if (!in) return;
    while (fgets(line, sizeof line, in)) {
        line[strcspn(line, "\n")] = 0;
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = 0;
        const char *fig = line, *title = tab + 1;
        fputs("<div class=\"fig\"><h3>", f);
        html(f, title);
        fputs("</h3>\n", f);
        snprintf(p, sizeof p, "%s/%s.png", dir, fig);
        if (exists(p)) {
            fprintf(f, "<a href=\"%s/%s.svg\"><img src=\"%s/%s.png\" alt=\"", name, fig, name, fig);
            html(f, title);
            fputs("\"></a>\n", f);
        }
        verdicts(f, dir, fig);
        fputs("</div>\n", f);
    }
    fclose(in);
}

static void csv_links(FILE *f, const char *dir, const char *name) {
    DIR *d = opendir(dir);
    if (!d) return;
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".csv")) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* sorted, for a stable report */
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    fputs("<p>Tables: ", f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s<a href=\"%s/%s\">%s</a>", i ? ", " : "", name, names[i], names[i]);
        free(names[i]);
    }
    fputs("</p>\n", f);
}

static void timing(FILE *f, const char *dir) {
    char p[2400], line[256];
    snprintf(p, sizeof p, "%s/timing.csv", dir);
    FILE *in = fopen(p, "r");
    double s, l0, l1;
    int jobs;
    if (in && fgets(line, sizeof line, in) && fgets(line, sizeof line, in) &&
        sscanf(line, "%lf,%lf,%lf,%d", &s, &l0, &l1, &jobs) == 4)
        fprintf(f, "<p>Time taken: %.0f s (%.1f min), load average %.2f at the start and %.2f at the end, %d job%s "
                   "side by side.</p>\n", s, s / 60, l0, l1, jobs, jobs > 1 ? "s" : "");
    else
        fputs("<p>Not finished (no timing recorded).</p>\n", f);
    if (in) fclose(in);
}

static void header(FILE *f) {
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>relstab: reproduction of the "
          "paper</title>\n<style>body{font-family:sans-serif;max-width:1250px;margin:auto;padding:1em}"
          "img{max-width:100%;border:1px solid #ccc}table{border-collapse:collapse;margin:.5em 0}"
          "td,th{border:1px solid #bbb;padding:3px 6px;text-align:left;vertical-align:top;font-size:90%}"
          ".holds{background:#cfc}.partly{background:#ffc}.fails{background:#fcc}.other{background:#eee}"
          "pre{background:#f4f4f4;padding:.5em;white-space:pre-wrap}</style></head><body>\n"
          "<h1>relstab: how deep convolutional networks lose spatial information with training</h1>\n"
          "<p>Each figure of the paper (Tomasini, Petrini, Cagnetta, Wyart) as relstab measured it, with the paper's "
          "claim and relstab's verdict at this scale: <b>holds</b>, <b>partly</b> or <b>does not hold</b>, with the "
          "numbers that decide it. The rules are fixed in advance (docs/experiments.md).</p>\n",
          f);
}

static void versions(FILE *f, const char *out) {
    char onednn[64] = "not built in";
#ifdef RELSTAB_HAVE_ONEDNN
    const dnnl_version_t *v = dnnl_version();
    snprintf(onednn, sizeof onednn, "%d.%d.%d", v->major, v->minor, v->patch);
#endif
    struct utsname u;
    uname(&u);
    time_t now = time(NULL);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    fprintf(f, "<p>relstab %s, oneDNN %s, %s %s, %ld cores; report written %s from <code>", RELSTAB_VERSION, onednn,
            u.sysname, u.machine, sysconf(_SC_NPROCESSORS_ONLN), when);
    html(f, out);
    fputs("</code>.</p>\n", f);
}

rs_status rs_report_write(const char *out) {
    char path[1200], tmp[1300];
    snprintf(path, sizeof path, "%s/index.html", out);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return rs_error(RS_ERR_IO, "cannot write %s", tmp);
    header(f);
    versions(f, out);
    fputs("<ul>\n", f);
    for (int32_t i = 0; i < rs_experiment_count(); i++) {
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/%s", out, rs_experiment_name(i));
        if (exists(dir)) fprintf(f, "<li><a href=\"#%s\">%s</a></li>\n", rs_experiment_name(i), rs_experiment_name(i));
    }
    fputs("</ul>\n", f);
    for (int32_t i = 0; i < rs_experiment_count(); i++) {
        const char *name = rs_experiment_name(i);
        char dir[1200], p[1300];
        snprintf(dir, sizeof dir, "%s/%s", out, name);
        if (!exists(dir)) continue;
        fprintf(f, "<h2 id=\"%s\">%s</h2>\n", name, name);
        timing(f, dir);
        snprintf(p, sizeof p, "%s/settings.txt", dir);
        copy_text(f, p);
        figures(f, dir, name);
        csv_links(f, dir, name);
    }
    fputs("</body></html>\n", f);
    int bad = ferror(f);
    if (fclose(f) || bad) return rs_error(RS_ERR_IO, "cannot write %s", tmp);
    if (rename(tmp, path)) return rs_error(RS_ERR_IO, "cannot rename %s", tmp);
    return RS_OK;
}
