/* csv.c: splitting one line of an RFC 4180 CSV file (the results files relstab writes and reads back). It is not
 * a CSV library: one line at a time, no multi-line quoted fields. */
#include <string.h>

#include "relstab/io.h"

/* Splits a line in place into RFC 4180 fields (quoted fields may hold commas and doubled quotes); trims blanks
 * and '\r' around unquoted fields. Returns the field count, or -1 (too many fields or an unclosed quote). */
int rs_csv_split(char *line, char **f, int max_fields) {
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (n == max_fields) return -1;
        char *end;
        if (*p == '"') { /* unquote in place */
            char *w = ++p, *r = p;
            for (;;) {
                if (!*r) return -1;
                if (*r == '"' && r[1] == '"') *w++ = '"', r += 2;
                else if (*r == '"') break;
                else *w++ = *r++;
            }
            *w = 0;
            f[n++] = p;
            end = r + 1;
            while (*end == ' ' || *end == '\t' || *end == '\r') end++;
            if (*end && *end != ',') return -1;
        } else {
            end = strchr(p, ',');
            if (end) *end = 0;
            size_t l = strlen(p);
            while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t' || p[l - 1] == '\r')) p[--l] = 0;
            f[n++] = p;
            if (!end) break;
            p = end + 1;
            continue;
        }
        if (!*end) break;
        p = end + 1;
    }
    return n;
}

