/* track.c: `train --track-every K`: D, G, R at every node on a fixed probe set of the test split, at
 * initialisation (batch-norm batch statistics) and after every K-th epoch (eval mode), appended to the run's
 * sens.csv. The measurement of epoch E is appended before resume.safetensors of epoch E is written, so on --resume
 * rows of later (redone) epochs are dropped and no epoch is ever measured twice. Measuring never touches the
 * weights, the running statistics or the step counter, so tracking does not change the training itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "relstab/dist.h"
#include "train_internal.h"

rs_status rs_tracker_init(rs_tracker *tk, const rs_train_config *c, const rs_dataset *test) {
    memset(tk, 0, sizeof *tk);
    if (c->track_every <= 0) return RS_OK;
    rs_measure_opts_default(&tk->opts);
    if (c->track_P > test->n)
        return rs_error(RS_ERR_ARG, "--track-P %d is more than the %lld images of the test split of %s", c->track_P,
                        (long long)test->n, c->data);
    /* 0: the default, 500 probe images or the whole test split if smaller */
    tk->opts.P = c->track_P > 0 ? c->track_P : test->n < 500 ? (int32_t)test->n : 500;
    if (tk->opts.P < 2) return rs_error(RS_ERR_ARG, "the test split of %s has fewer than 2 images to track", c->data);
    tk->opts.seed = c->seed;
    tk->opts.batch = 0;
    tk->opts.progress = !c->quiet; /* a bar per tracking pass, and its line */
    tk->probe = rs_alloc((size_t)tk->opts.P * sizeof(int64_t));
    if (!tk->probe) return rs_error(RS_ERR_NOMEM, "tracking probe set");
    RS_TRY(rs_probe_select(test, tk->opts.P, RS_PROBE_SAMPLE, c->seed, 0, tk->probe));
    RS_TRY(rs_path_join(tk->path, sizeof tk->path, c->out, "sens.csv"));
    tk->every = c->track_every;
    return RS_OK;
}

void rs_tracker_free(rs_tracker *tk) { rs_free(tk->probe); }

rs_status rs_tracker_measure(rs_tracker *tk, rs_net *net, const rs_dataset *test, const rs_train_config *c,
                             int32_t epoch) {
    rs_measure_opts o = tk->opts;
    o.mode = epoch == 0 ? RS_MODE_INIT_EVAL : RS_MODE_EVAL;
    rs_measure_tags t = {c->model, c->data, epoch == 0 ? "init" : "train", epoch, 0};
    return rs_measure_track(net, test, tk->probe, &o, &t, tk->path);
}

static rs_status truncate_file(rs_tracker *tk, int32_t upto, int *have_epoch0);

/* Under mpirun rank 0 alone rewrites the file and tells the others what it found. */
rs_status rs_tracker_truncate(rs_tracker *tk, int32_t upto, int *have_epoch0) {
    *have_epoch0 = 0;
    RS_TRY(rs_dist_agree(rs_dist_rank() == 0 ? truncate_file(tk, upto, have_epoch0) : RS_OK));
    int32_t have = *have_epoch0;
    RS_TRY(rs_dist_bcast(&have, sizeof have, 0));
    *have_epoch0 = have;
    return RS_OK;
}

/* Keeps the header and the rows of sens.csv whose epoch is <= upto; *have_epoch0 tells whether epoch 0 is there. */
static rs_status truncate_file(rs_tracker *tk, int32_t upto, int *have_epoch0) {
    *have_epoch0 = 0;
    struct stat sb;
    if (!tk->every || stat(tk->path, &sb) != 0) return RS_OK;
    void *buf;
    size_t len;
    RS_TRY(rs_read_file(tk->path, &buf, &len, 0));
    char *text = buf, *out = rs_alloc(len + 1), *line = text;
    size_t out_len = 0;
    int epoch_col = -1, first = 1;
    rs_status s = out ? RS_OK : rs_error(RS_ERR_NOMEM, "reading %s", tk->path);
    while (s == RS_OK && line < text + len && *line) {
        char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) + 1 : strlen(line);
        char copy[8192], *f[64];
        if (ll >= sizeof copy) {
            s = rs_error(RS_ERR_FORMAT, "%s: line longer than %zu bytes", tk->path, sizeof copy);
            break;
        }
        memcpy(copy, line, ll);
        copy[nl ? ll - 1 : ll] = 0;
        int nf = rs_csv_split(copy, f, 64), keep = 1;
        if (first) {
            for (int i = 0; i < nf; i++)
                if (!strcmp(f[i], "epoch")) epoch_col = i;
            if (epoch_col < 0) s = rs_error(RS_ERR_FORMAT, "%s: no 'epoch' column", tk->path);
        } else if (nf > epoch_col) {
            int e = atoi(f[epoch_col]);
            keep = e <= upto;
            if (keep && e == 0) *have_epoch0 = 1;
        }
        if (keep) {
            memcpy(out + out_len, line, ll);
            out_len += ll;
        }
        first = 0;
        line += ll;
    }
    if (s == RS_OK && out_len != len) s = rs_write_file_atomic(tk->path, out, out_len);
    rs_free(out);
    rs_free(buf);
    return s;
}
