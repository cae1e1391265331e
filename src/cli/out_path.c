/* out_path.c: the output-path checks of out_path.h (stat and access only; nothing is created). */
#include "cli/out_path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int bad(const char *cmd, const char *flag, const char *path, const char *why, const char *dir) {
    fprintf(stderr, "relstab %s: %s %s: %s%s%s\n", cmd, flag, path, why, dir ? " " : "", dir ? dir : "");
    return 1;
}

/* path's directory into dir ("." when it has none). */
static void parent_of(const char *path, char *dir, size_t len) {
    snprintf(dir, len, "%s", path);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') dir[--n] = 0; /* "a/b/" -> "a/b" */
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, len, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
}

static int check_dir(const char *cmd, const char *flag, const char *path, const char *dir) {
    struct stat sb;
    if (stat(dir, &sb) != 0) return bad(cmd, flag, path, "no such directory", dir);
    if (!S_ISDIR(sb.st_mode)) return bad(cmd, flag, path, "not a directory:", dir);
    if (access(dir, W_OK | X_OK) != 0) return bad(cmd, flag, path, "cannot write in", dir);
    return 0;
}

int cli_check_out_file(const char *cmd, const char *flag, const char *path) {
    if (!path || !*path) return bad(cmd, flag, "''", "an empty path", NULL);
    if (!strcmp(path, "-")) return 0;
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) return bad(cmd, flag, path, "is a directory", NULL);
        if (!S_ISREG(sb.st_mode)) return access(path, W_OK) == 0 ? 0 : bad(cmd, flag, path, "not writable", NULL);
    }
    char dir[4096];
    if (strlen(path) >= sizeof dir) return bad(cmd, flag, "(path)", "too long", NULL);
    parent_of(path, dir, sizeof dir);
    return check_dir(cmd, flag, path, dir);
}

int cli_check_out_dir(const char *cmd, const char *flag, const char *path) {
    if (!path || !*path) return bad(cmd, flag, "''", "an empty path", NULL);
    char dir[4096];
    if (strlen(path) >= sizeof dir) return bad(cmd, flag, "(path)", "too long", NULL);
    snprintf(dir, sizeof dir, "%s", path);
    struct stat sb;
    for (;;) { /* the nearest existing ancestor */
        if (stat(dir, &sb) == 0) break;
        char up[4096];
        parent_of(dir, up, sizeof up);
        if (!strcmp(up, dir)) break;
        snprintf(dir, sizeof dir, "%s", up);
    }
    return check_dir(cmd, flag, path, dir);
}
