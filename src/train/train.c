/* train.c: the training loop. One epoch = a counter-based permutation of the training split in batches; after
 * each epoch the test split is evaluated and the run directory is updated atomically (log.csv, last, best,
 * resume). Everything random depends on (seed, purpose, epoch, index) and the net's step counter, which are all in
 * resume.safetensors, so a resumed run ends bit-identical to an uninterrupted one. Under mpirun every global batch
 * is split over the ranks (parallel.c); alone, nothing of that runs. It is not a general trainer: no mixed
 * precision, no gradient clipping. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "relstab/dist.h"
#include "relstab/io.h"
#include "relstab/train.h"
#include "train_internal.h"

/* ---------------------------------------------------------------- one epoch */
typedef struct {
    rs_net *net;
    rs_dataset *train, *test, *val;
    rs_optimizer opt;
    const rs_train_config *c;
    float *x;        /* (batch, C, H, W) */
    int32_t *labels; /* (batch) */
    float *targets;  /* (batch) */
    float *d_out;    /* (batch, outputs) */
    int64_t *order;  /* (n_train) */
    int32_t outputs;
    rs_model_shape shape; /* resolved width and depth */
    rs_tracker tracker;   /* --track-every */
    double ridge_scale; /* d penalty / dW = ridge_scale * W on conv weights */
    rs_dp dp;           /* data-parallel training under mpirun (parallel.c) */
} trainer;

typedef struct {
    double loss, err;
} loss_err;

/* Loss of a batch whose outputs are in the net; fills d_out (gradient of the mean loss) when asked. */
static double batch_loss(trainer *t, int32_t n, int with_grad, int64_t *wrong) {
    const float *out = rs_net_output_data(t->net);
    float *d = with_grad ? t->d_out : NULL;
    if (t->c->loss == RS_LOSS_HINGE) return rs_hinge(d, out, t->targets, n, wrong);
    return rs_cross_entropy(d, out, t->labels, n, t->outputs, wrong);
}

static int outputs_finite(const trainer *t, int32_t n) {
    const float *out = rs_net_output_data(t->net);
    for (int64_t i = 0; i < (int64_t)n * t->outputs; i++)
        if (!isfinite(out[i])) return 0;
    return 1;
}

/* The 1-D task's ridge penalty (SPEC 5.2, p = 2): its value, and its gradient added to every conv weight's. */
static double ridge_penalty(trainer *t) {
    if (t->ridge_scale == 0) return 0;
    rs_params *p = &t->net->params;
    double sum = 0;
    for (int32_t i = 0; i < p->count; i++) {
        const rs_param *q = &p->items[i];
        if (q->kind != RS_PARAM_TRAINABLE || q->ndim < 3) continue;
        float *w = p->data + q->offset, *g = p->grad + q->offset;
        for (int64_t j = 0; j < q->numel; j++) {
            sum += (double)w[j] * w[j];
            g[j] += (float)(t->ridge_scale * w[j]);
        }
    }
    return 0.5 * t->ridge_scale * sum;
}

static rs_status train_epoch(trainer *t, int32_t epoch, double lr, loss_err *out, rs_progress *bar) {
    const rs_train_config *c = t->c;
    int64_t n_train = t->train->n;
    rs_permutation(t->order, n_train, c->seed, rs_stream(RS_PURPOSE_ORDER, (uint32_t)epoch, 0));
    double loss_sum = 0;
    int64_t wrong_sum = 0;
    for (int64_t at = 0; at < n_train; at += c->batch) {
        int32_t n = (int32_t)(n_train - at < c->batch ? n_train - at : c->batch);
        int64_t lo, hi, wrong = 0; /* under mpirun: this rank's share [lo, hi) of the batch, else all of it */
        rs_dp_share(&t->dp, n, &lo, &hi);
        int32_t m = (int32_t)(hi - lo);
        double loss = 0;
        int finite = 1;
        rs_net_zero_grad(t->net);
        if (m > 0) {
            RS_TRY(rs_dataset_batch(t->train, t->order + at + lo, m, (uint64_t)epoch, t->x, t->labels, t->targets));
            RS_TRY(rs_net_forward(t->net, t->x, m, RS_MODE_TRAIN));
            loss = batch_loss(t, m, 1, &wrong);
            finite = outputs_finite(t, m); /* a hinge of NaN outputs would read as 0 */
            rs_dp_scale_dout(&t->dp, t->d_out, m, t->outputs, n);
            RS_TRY(rs_net_backward(t->net, t->d_out));
        }
        if (t->dp.size > 1) { /* the gradient, loss and errors of the whole batch */
            double sum = loss * m;
            RS_TRY(rs_dp_sum_step(&t->dp, &t->net->params, &sum, &wrong, &finite));
            loss = sum / n;
        }
        if (!finite) loss = NAN;
        ridge_penalty(t);
        if (!isfinite(loss) || loss > 1e8)
            return epoch > 0 ? rs_error(RS_ERR_NUMERIC, "the training loss became %g at epoch %d (batch at image "
                                        "%lld); stopped, the last good checkpoint is %s/last.safetensors (epoch %d)",
                                        loss, epoch + 1, (long long)at, c->out, epoch)
                             : rs_error(RS_ERR_NUMERIC, "the training loss became %g in the first epoch (batch at image "
                                        "%lld); stopped before any epoch finished: %s holds only init.safetensors "
                                        "(lower --lr?)", loss, (long long)at, c->out);
        RS_TRY(rs_optimizer_step(&t->opt, &t->net->params, lr));
        loss_sum += loss * n;
        wrong_sum += wrong;
        rs_progress_update(bar, at + n, loss_sum / (double)(at + n), (double)wrong_sum / (double)(at + n));
    }
    out->loss = loss_sum / (double)n_train;
    out->err = (double)wrong_sum / (double)n_train;
    return RS_OK;
}

/* Mean loss and error over a whole split, in eval mode (under mpirun: each rank a share of the batches). */
static rs_status evaluate(trainer *t, rs_dataset *ds, loss_err *out) {
    int32_t b = t->net->batch;
    double loss_sum = 0;
    int64_t wrong_sum = 0, idx[4096], lo, hi;
    RS_ASSERT(b <= 4096);
    rs_dp_share(&t->dp, (ds->n + b - 1) / b, &lo, &hi); /* under mpirun: this rank's share of the batches */
    int64_t end = hi * b < ds->n ? hi * b : ds->n;
    rs_bar bar;
    rs_bar_start(&bar, ds == t->test ? "test pass" : "validation pass", end - lo * b, "img", t->c->quiet || t->dp.rank, -1);
    for (int64_t at = lo * b; at < end; at += b, rs_bar_update(&bar, (at < end ? at : end) - lo * b, NULL)) {
        int32_t n = (int32_t)(ds->n - at < b ? ds->n - at : b);
        for (int32_t i = 0; i < n; i++) idx[i] = at + i;
        RS_TRY(rs_dataset_batch(ds, idx, n, 0, t->x, t->labels, t->targets));
        RS_TRY(rs_net_forward(t->net, t->x, n, RS_MODE_EVAL));
        int64_t wrong = 0;
        loss_sum += batch_loss(t, n, 0, &wrong) * n;
        wrong_sum += wrong;
    }
    rs_bar_end(&bar);
    RS_TRY(rs_dp_sum_eval(&t->dp, &loss_sum, &wrong_sum));
    out->loss = loss_sum / (double)ds->n;
    out->err = (double)wrong_sum / (double)ds->n;
    return RS_OK;
}

/* ---------------------------------------------------------------- setup */
static rs_status open_data(trainer *t, const rs_train_config *c) {
    rs_data_options o;
    rs_data_options_default(&o);
    o.crop_padding = c->crop_padding;
    o.hflip = c->hflip;
    o.corrupt_std = c->corrupt_std;
    o.ptr = c->ptr;
    o.subset_seed = c->seed;
    o.seed = c->seed;
    RS_TRY(rs_dataset_open(c->data, RS_SPLIT_TRAIN, &o, &t->train));
    RS_TRY(rs_dataset_open(c->data, RS_SPLIT_TEST, &o, &t->test));
    if (c->stop == RS_STOP_ZERO_LOSS && c->ridge > 0 && t->train->task.kind == 2)
        RS_TRY(rs_dataset_open(c->data, RS_SPLIT_VAL, &o, &t->val));
    if (t->train->n == 0 || t->test->n == 0) return rs_error(RS_ERR_ARG, "dataset %s has an empty split", c->data);
    return RS_OK;
}

static rs_status setup(trainer *t, const rs_train_config *c) {
    memset(t, 0, sizeof *t);
    t->c = c;
    t->dp.size = 1;
    RS_TRY(open_data(t, c));
    if (c->loss == RS_LOSS_HINGE && t->train->classes != 2)
        return rs_error(RS_ERR_ARG, "the hinge loss needs a two-class dataset (+-1 targets); %s has %d classes",
                        c->data, t->train->classes);
    if (t->train->classes < 2)
        return rs_error(RS_ERR_ARG, "dataset %s has %d class: a classifier trained on it reaches loss 0 without "
                        "learning anything (check the labels)", c->data, t->train->classes);
    t->outputs = c->loss == RS_LOSS_HINGE ? 1 : t->train->classes;
    RS_TRY(rs_train_build_model(c, t->train, t->outputs, &t->net, &t->shape));
    int32_t b = c->batch > c->test_batch ? c->batch : c->test_batch;
    if (b > 4096) return rs_error(RS_ERR_ARG, "batch sizes above 4096 are not supported (got %d)", b);
    RS_TRY(rs_net_build(t->net, b, 1));
    RS_TRY(rs_dp_init(&t->dp, t->net, c->sync_bn, t->train->n, c->batch));
    if (rs_net_output_numel(t->net) != t->outputs)
        return rs_error(RS_ERR_ARG, "model %s has %lld outputs per image, the loss needs %d", c->model,
                        (long long)rs_net_output_numel(t->net), t->outputs);
    size_t img = (size_t)t->train->channels * t->train->height * t->train->width;
    t->x = rs_alloc((size_t)b * img * sizeof(float));
    t->labels = rs_alloc((size_t)b * sizeof(int32_t));
    t->targets = rs_alloc((size_t)b * sizeof(float));
    t->d_out = rs_alloc((size_t)b * (size_t)t->outputs * sizeof(float));
    t->order = rs_alloc((size_t)t->train->n * sizeof(int64_t));
    if (!t->x || !t->labels || !t->targets || !t->d_out || !t->order)
        return rs_error(RS_ERR_NOMEM, "cannot allocate the training buffers");
    if (c->opt == RS_OPT_SGD) t->opt = rs_sgd(c->momentum, c->nesterov, c->weight_decay);
    else t->opt = rs_adam(c->weight_decay);
    t->opt.decay_1d = c->decay_1d;
    /* ridge * sum W^2 / (H^{p/2} * depth) with p = 2: gradient 2 ridge W / (H depth) */
    RS_TRY(rs_tracker_init(&t->tracker, c, t->test));
    if (c->ridge > 0) t->ridge_scale = 2.0 * c->ridge / ((double)t->shape.width * (double)t->shape.depth);
    return RS_OK;
}

static void teardown(trainer *t) {
    rs_dp_free(&t->dp, t->net);
    rs_net_free(t->net);
    rs_dataset_free(t->train);
    rs_dataset_free(t->test);
    rs_dataset_free(t->val);
    rs_free(t->x);
    rs_free(t->labels);
    rs_free(t->targets);
    rs_free(t->d_out);
    rs_free(t->order);
    rs_tracker_free(&t->tracker);
}

/* ---------------------------------------------------------------- the run */
static double epoch_lr(const rs_train_config *c, int32_t epoch, int32_t width) {
    rs_schedule s = {c->sched, c->lr, c->epochs, c->step_size, c->gamma};
    double lr = rs_schedule_lr(&s, epoch);
    return c->lr_times_width ? lr * (double)width : lr;
}

static rs_status run_epochs(trainer *t, rs_run_state *st, rs_train_result *res) {
    const rs_train_config *c = t->c;
    if (t->tracker.every) {
        int have0;
        RS_TRY(rs_tracker_truncate(&t->tracker, st->epochs_done, &have0));
        if (st->epochs_done == 0 && !have0) RS_TRY(rs_tracker_measure(&t->tracker, t->net, t->test, c, 0));
    }
    for (int32_t epoch = st->epochs_done; epoch < c->epochs; epoch++) {
        double lr = epoch_lr(c, epoch, t->shape.width), t0 = rs_now();
        rs_progress bar;
        rs_progress_start(&bar, c->quiet || t->dp.rank, epoch, c->epochs, t->train->n);
        loss_err tr = {0, 0}, te = {0, 0};
        RS_TRY(train_epoch(t, epoch, lr, &tr, &bar));
        double seconds = rs_now() - t0;
        RS_TRY(rs_dp_bcast_params(&t->dp, &t->net->params)); /* rank 0's running statistics everywhere */
        RS_TRY(evaluate(t, t->test, &te));
        st->wall += rs_now() - t0;
        rs_log_row row = {epoch + 1, lr, tr.loss, tr.err, te.loss, te.err, (double)t->train->n / seconds, st->wall};
        int stop = 0;
        if (c->stop == RS_STOP_ZERO_LOSS && tr.loss == 0) {
            if (st->first_zero_epoch == 0) st->first_zero_epoch = epoch + 1;
            stop = 1;
            if (t->val) { /* with a ridge: also epoch >= 500 x the first zero-loss epoch, zero validation error */
                loss_err va;
                RS_TRY(evaluate(t, t->val, &va));
                stop = va.err == 0 && epoch + 1 >= 500 * st->first_zero_epoch;
            }
        }
        if (t->tracker.every && ((epoch + 1) % t->tracker.every == 0 || epoch + 1 == c->epochs || stop))
            RS_TRY(rs_tracker_measure(&t->tracker, t->net, t->test, c, epoch + 1));
        RS_TRY(rs_dist_agree(t->dp.rank == 0 ? rs_run_end_epoch(t->net, &t->opt, st, &row) : RS_OK));
        rs_progress_end(&bar, &row, st->best_epoch == epoch + 1);
        res->epochs_done = epoch + 1;
        res->last_train_loss = tr.loss;
        res->last_test_err = te.err;
        if (stop) {
            res->stopped_early = 1;
            if (!c->quiet && !t->dp.rank) fprintf(stderr, "stopping after epoch %d: the training loss is 0 (the 1-D task's rule, docs/science.md 5.2)\n", epoch + 1);
            break;
        }
    }
    res->best_test_err = st->best_err;
    res->best_epoch = st->best_epoch;
    return RS_OK;
}

/* After a resume has loaded the run: a finished run is reported as such (nothing to train); --epochs below the
 * epochs done is refused; otherwise config.json records the settings the rest of the run uses (a new --epochs,
 * whose schedule is then computed for the new length, or --threads). */
static rs_status resume_check(const rs_train_config *c, const rs_run_state *st, rs_train_result *res) {
    if (c->epochs < st->epochs_done)
        return rs_error(RS_ERR_ARG, "--epochs %d is fewer than the %d epochs the run in %s has done", c->epochs,
                        st->epochs_done, c->out);
    int stopped = c->stop == RS_STOP_ZERO_LOSS && st->first_zero_epoch > 0 && c->ridge == 0;
    if (st->epochs_done == c->epochs || (stopped && st->epochs_done > 0)) {
        res->already_finished = 1;
        res->epochs_done = st->epochs_done;
        res->best_test_err = st->best_err;
        res->best_epoch = st->best_epoch;
        res->stopped_early = stopped;
        if (st->n_rows > 0) {
            res->last_train_loss = st->rows[st->n_rows - 1].train_loss;
            res->last_test_err = st->rows[st->n_rows - 1].test_err;
        }
        return RS_OK;
    }
    char path[1200];
    RS_TRY(rs_path_join(path, sizeof path, c->out, "config.json"));
    return rs_train_config_write(c, path);
}

rs_status rs_train_run(const rs_train_config *cfg, rs_train_result *res) {
    memset(res, 0, sizeof *res);
    rs_train_config c = *cfg;
    RS_TRY(rs_train_validate(&c));
    rs_set_threads(c.threads);
    trainer t;
    rs_run_state st = {0};
    st.c = &c;
    rs_run_lock *lock = NULL;
    int root = rs_dist_rank() == 0; /* under mpirun rank 0 alone owns (locks, reads, writes) the run directory */
    /* the lock is held for the whole run: a resume takes it before anything is read from the directory, a new run
     * once its data and model are known to be good (a refused run leaves no directory behind) */
    rs_status s = rs_dist_agree(c.resume && root ? rs_run_lock_acquire(c.out, &lock) : RS_OK);
    if (s != RS_OK) {
        rs_run_lock_release(lock);
        return s;
    }
    int ready = (s = rs_dist_agree(setup(&t, &c))) == RS_OK;
    if (ready && c.threads == 0 && (double)rs_net_flops(t.net) < RS_TRAIN_SMALL_NET_FLOPS) rs_set_threads(1);
    /* a new run records the count the default chose (it depends on the cores free now), so that --resume goes on
     * with it and ends with the bytes of an uninterrupted run; under mpirun each rank keeps its share */
    if (ready && c.threads == 0 && !c.resume && t.dp.size == 1 && rs_threads_default == 0) c.threads = rs_get_threads();
    if (s == RS_OK && !c.resume && root) s = rs_mkdir_p(c.out);
    if (s == RS_OK && !c.resume && root) s = rs_run_lock_acquire(c.out, &lock);
    if (s == RS_OK && root) s = c.resume ? rs_run_resume(t.net, &t.opt, &c, &st) : rs_run_create(t.net, &c, &st);
    if (s == RS_OK && root && c.resume) s = resume_check(&c, &st, res);
    if (ready) s = rs_dp_sync_start(&t.dp, s, t.net, &t.opt, &st); /* the others take rank 0's state (parallel.c) */
    if (s == RS_OK && t.dp.size > 1) { /* rank 0 alone checked whether the run is already finished */
        int32_t fin = res->already_finished;
        s = rs_dist_bcast(&fin, sizeof fin, 0);
        res->already_finished = fin;
    }
    if (s == RS_OK && res->already_finished) {
        rs_run_state_free(&st);
        teardown(&t);
        rs_run_lock_release(lock);
        return RS_OK;
    }
    char thr[96];
    if (s == RS_OK && !c.quiet && root)
        fprintf(stderr, "relstab train: %s (%lld parameters) on %s (%lld training, %lld test images), epochs %d-%d, "
                "batch %d, %s%s -> %s\n", c.model, (long long)rs_params_count_trainable(&t.net->params), c.data,
                (long long)t.train->n, (long long)t.test->n, st.epochs_done + 1, c.epochs, c.batch,
                rs_threads_describe(thr, sizeof thr), t.dp.size > 1 ? rs_dp_describe(&t.dp) : "", c.out);
    if (s == RS_OK) s = run_epochs(&t, &st, res);
    rs_run_state_free(&st);
    teardown(&t);
    rs_run_lock_release(lock);
    return s;
}
