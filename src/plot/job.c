/* job.c: running gnuplot on a generated script. A plot job owns a fresh temporary directory for the data files and
 * the script; gnuplot writes the figure under a temporary name next to the target, which is renamed into place only
 * if gnuplot exits with status 0, so a failed plot never replaces an existing figure. Every figure in relstab
 * (theory, plot, reproduce) goes through here. It draws nothing itself. */
#include "relstab/plot.h"

#include <ctype.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

rs_status rs_plot_run_gnuplot(const char *script) {
    pid_t pid;
    char *argv[] = {"gnuplot", (char *)script, NULL};
    int e = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
    if (e != 0) return rs_error(RS_ERR_UNSUPPORTED, "cannot run gnuplot (install gnuplot-nox): %s", strerror(e));
    int status;
    if (waitpid(pid, &status, 0) < 0) return rs_error(RS_ERR_IO, "waiting for gnuplot failed");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return rs_error(RS_ERR_IO, "gnuplot failed (status %d) on %s", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                        script);
    return RS_OK;
}

int rs_plot_format_of(const char *path) {
    size_t n = strlen(path);
    if (n > 4 && !strcasecmp(path + n - 4, ".png")) return RS_PLOT_PNG;
    if (n > 4 && !strcasecmp(path + n - 4, ".svg")) return RS_PLOT_SVG;
    return -1;
}

rs_status rs_plot_check_output(const char *out) {
    if (!out || !*out) return rs_error(RS_ERR_ARG, "no output file for the figure");
    if (rs_plot_format_of(out) < 0) return rs_error(RS_ERR_ARG, "figure %s: the name must end in .png or .svg", out);
    if (strchr(out, '\'') || strchr(out, '\n') || strchr(out, '\r'))
        return rs_error(RS_ERR_ARG, "figure path may not contain quotes or newlines: %s", out);
    char dir[4096];
    const char *slash = strrchr(out, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == out) snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - out) >= sizeof dir) return rs_error(RS_ERR_ARG, "figure path too long: %s", out);
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - out), out);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return rs_error(RS_ERR_IO, "figure %s: directory %s does not exist", out, dir);
    if (access(dir, W_OK | X_OK) != 0) return rs_error(RS_ERR_IO, "figure %s: directory %s is not writable", out, dir);
    return RS_OK;
}

rs_status rs_plot_begin(rs_plot_job *j, const char *out, const char *prefix) {
    memset(j, 0, sizeof *j);
    j->script = -1;
    j->out = out;
    RS_TRY(rs_plot_check_output(out));
    j->format = (rs_plot_format)rs_plot_format_of(out);
    if (snprintf(j->tmp_out, sizeof j->tmp_out, "%s.tmp.%ld%s", out, (long)getpid(), out + strlen(out) - 4) >=
        (int)sizeof j->tmp_out)
        return rs_error(RS_ERR_ARG, "figure path too long: %s", out);
    const char *base = getenv("TMPDIR");
    if (snprintf(j->dir, sizeof j->dir, "%s/%s-XXXXXX", base && *base ? base : "/tmp", prefix ? prefix : "relstab-plot") >=
        (int)sizeof j->dir)
        return rs_error(RS_ERR_ARG, "TMPDIR too long");
    if (!mkdtemp(j->dir)) {
        j->dir[0] = 0;
        return rs_error(RS_ERR_IO, "cannot create a temporary directory under %s", base && *base ? base : "/tmp");
    }
    return RS_OK;
}

FILE *rs_plot_open(rs_plot_job *j, const char *name) {
    if (j->failed) return NULL;
    if (j->n_files == RS_PLOT_MAX_FILES) {
        j->failed = rs_error(RS_ERR_ARG, "a figure may use at most %d files", RS_PLOT_MAX_FILES);
        return NULL;
    }
    size_t len = strlen(j->dir) + strlen(name) + 2;
    char *p = malloc(len);
    if (!p) {
        j->failed = rs_error(RS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(p, len, "%s/%s", j->dir, name);
    FILE *f = fopen(p, "w");
    if (!f) {
        free(p);
        j->failed = rs_error(RS_ERR_IO, "cannot write %s/%s", j->dir, name);
        return NULL;
    }
    size_t nl = strlen(name);
    if (j->script < 0 && nl > 3 && !strcmp(name + nl - 3, ".gp")) j->script = j->n_files;
    j->files[j->n_files] = f;
    j->paths[j->n_files++] = p;
    return f;
}

void rs_plot_terminal(const rs_plot_job *j, FILE *g, int width, int height) {
    if (j->format == RS_PLOT_SVG)
        fprintf(g, "set terminal svg size %d,%d dynamic enhanced font 'sans,11' background '#ffffff'\n", width, height);
    else
        fprintf(g, "set terminal pngcairo size %d,%d enhanced font 'sans,11'\n", width, height);
    fprintf(g, "set output '%s'\n", j->tmp_out);
}

void rs_plot_quote(FILE *g, const char *s) {
    fputc('\'', g);
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == '\'') fputs("''", g);
        else if (*p == '\n' || *p == '\r') fputc(' ', g);
        else fputc(*p, g);
    }
    fputc('\'', g);
}

rs_status rs_plot_finish(rs_plot_job *j, rs_status st) {
    if (st == RS_OK && j->failed) st = j->failed;
    for (int32_t i = 0; i < j->n_files; i++)
        if (fclose(j->files[i]) != 0 && st == RS_OK) st = rs_error(RS_ERR_IO, "cannot write %s", j->paths[i]);
    if (st == RS_OK && j->script < 0) st = rs_error(RS_ERR_ARG, "plot job without a script");
    if (st == RS_OK) st = rs_plot_run_gnuplot(j->paths[j->script]);
    if (st == RS_OK && rename(j->tmp_out, j->out) != 0) st = rs_error(RS_ERR_IO, "cannot write %s", j->out);
    if (j->tmp_out[0]) unlink(j->tmp_out);
    for (int32_t i = 0; i < j->n_files; i++) {
        unlink(j->paths[i]);
        free(j->paths[i]);
    }
    j->n_files = 0;
    if (j->dir[0]) rmdir(j->dir);
    j->dir[0] = 0;
    return st;
}
