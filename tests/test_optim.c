/* test_optim.c: optimiser steps and learning-rate schedules against values computed by hand (torch.optim's
 * update rules; PyTorch's CosineAnnealingLR for the paper's schedule). */
#include "testutil.h"

#include <math.h>

#include "relstab/nn.h"

/* A parameter table with a 1x2 weight and a 1-element bias, values and gradients set by the test. */
static rs_net *two_params(void) {
    rs_net *net = rs_net_new(1, 1, 1);
    int64_t ws[2] = {1, 2}, bs[1] = {1};
    rs_net_param(net, "w", 2, ws, RS_PARAM_TRAINABLE, (rs_init){RS_INIT_CONST, 0, 0});
    rs_net_param(net, "b", 1, bs, RS_PARAM_TRAINABLE, (rs_init){RS_INIT_CONST, 0, 0});
    rs_net_param(net, "rm", 1, bs, RS_PARAM_BUFFER, (rs_init){RS_INIT_CONST, 5, 0});
    assert_int_equal(rs_net_build(net, 1, 1), RS_OK);
    float *w = rs_param_data(&net->params, 0), *b = rs_param_data(&net->params, 1);
    w[0] = 1;
    w[1] = 2;
    b[0] = 1;
    return net;
}

static void set_grads(rs_net *net) {
    float *gw = rs_param_grad(&net->params, 0), *gb = rs_param_grad(&net->params, 1);
    gw[0] = 0.5f;
    gw[1] = -1.0f;
    gb[0] = 1.0f;
    rs_param_grad(&net->params, 2)[0] = 100.0f; /* a buffer: must be ignored */
}

static void test_sgd_momentum_weight_decay(void **state) {
    rs_net *net = two_params();
    rs_optimizer o = rs_sgd(0.9, 0, 0.01);
    float *w = rs_param_data(&net->params, 0), *b = rs_param_data(&net->params, 1);
    set_grads(net);
    assert_int_equal(rs_optimizer_step(&o, &net->params, 0.1), RS_OK);
    /* d = g + wd w = (0.51, -0.98); buf = d; w -= 0.1 d. The 1-D bias gets no decay: b = 1 - 0.1 */
    assert_float_equal(w[0], 0.949f, 1e-6);
    assert_float_equal(w[1], 2.098f, 1e-6);
    assert_float_equal(b[0], 0.9f, 1e-6);
    set_grads(net);
    assert_int_equal(rs_optimizer_step(&o, &net->params, 0.1), RS_OK);
    /* d = (0.50949, -0.97902); buf = 0.9 (0.51, -0.98) + d = (0.96849, -1.86102) */
    assert_float_equal(w[0], 0.852151f, 1e-6);
    assert_float_equal(w[1], 2.284102f, 1e-6);
    assert_float_equal(b[0], 0.71f, 1e-6); /* buf = 0.9 + 1 = 1.9 */
    assert_float_equal(rs_param_data(&net->params, 2)[0], 5.0f, 0);
    rs_net_free(net);
}

static void test_sgd_nesterov_and_decay_1d(void **state) {
    rs_net *net = two_params();
    rs_optimizer o = rs_sgd(0.9, 1, 0.01);
    o.decay_1d = 1;
    set_grads(net);
    assert_int_equal(rs_optimizer_step(&o, &net->params, 0.1), RS_OK);
    /* w0: d = 0.51, buf = 0.51, nesterov d + 0.9 buf = 0.969 -> 0.9031; b: d = 1 + 0.01 = 1.01, 1.01 * 1.9 */
    assert_float_equal(rs_param_data(&net->params, 0)[0], 0.9031f, 1e-6);
    assert_float_equal(rs_param_data(&net->params, 1)[0], 1.0f - 0.1f * 1.01f * 1.9f, 1e-6);
    rs_net_free(net);
}

static void test_adam(void **state) {
    rs_net *net = two_params();
    rs_optimizer o = rs_adam(0);
    float *w = rs_param_data(&net->params, 0);
    set_grads(net);
    assert_int_equal(rs_optimizer_step(&o, &net->params, 0.1), RS_OK);
    /* step 1: m = 0.05, v = 2.5e-4, bias corrections 0.1 and 1e-3: step = 0.1 * 0.5 / (0.5 + 1e-8) */
    assert_float_equal(w[0], 0.9f, 1e-6);
    assert_float_equal(w[1], 2.1f, 1e-6);
    set_grads(net);
    assert_int_equal(rs_optimizer_step(&o, &net->params, 0.1), RS_OK);
    /* step 2: m = 0.095, v = 4.9975e-4, bc1 = 0.19, bc2 = 1.999e-3: v/bc2 = 0.25 exactly, step = 0.1 */
    assert_float_equal(w[0], 0.8f, 1e-6);
    assert_float_equal(w[1], 2.2f, 1e-6);
    assert_int_equal(o.t, 2);
    assert_int_equal(rs_optimizer_step(&o, &net->params, NAN), RS_ERR_ARG);
    rs_net_free(net);
}

static void test_schedules(void **state) {
    rs_schedule paper = {RS_SCHED_PAPER, 0.1, 250, 0, 0};
    /* CosineAnnealingLR, T_max = 200: lr(e) = 0.05 (1 + cos(pi e / 200)) */
    assert_float_equal(rs_schedule_lr(&paper, 0), 0.1, 1e-15);
    assert_float_equal(rs_schedule_lr(&paper, 100), 0.05, 1e-12);
    assert_float_equal(rs_schedule_lr(&paper, 200), 0.0, 1e-15);
    /* after T_max the cosine rises: at 250, 0.05 (1 - sqrt(2)/2) = 0.0146446609... */
    assert_float_equal(rs_schedule_lr(&paper, 250), 0.014644660940672627, 1e-12);
    assert_float_equal(rs_schedule_lr(&paper, 201), 0.05 * (1 + cos(M_PI * 201 / 200)), 1e-15);
    assert_true(rs_schedule_lr(&paper, 201) > rs_schedule_lr(&paper, 200));
    for (int e = 1; e < 200; e++) assert_true(rs_schedule_lr(&paper, e) < rs_schedule_lr(&paper, e - 1));
    /* the recursive form PyTorch steps with gives the same values (checked over all 250 epochs) */
    double lr = 0.1, t_max = 200;
    for (int e = 1; e <= 250; e++) {
        if ((e - 1 - (int)t_max) % (int)(2 * t_max) == 0) lr = lr + 0.1 * (1 - cos(M_PI / t_max)) / 2;
        else lr = (1 + cos(M_PI * e / t_max)) / (1 + cos(M_PI * (e - 1) / t_max)) * lr;
        assert_float_equal(rs_schedule_lr(&paper, e), lr, 1e-12);
    }
    rs_schedule step = {RS_SCHED_STEP, 0.1, 30, 10, 0.5};
    assert_float_equal(rs_schedule_lr(&step, 9), 0.1, 1e-15);
    assert_float_equal(rs_schedule_lr(&step, 10), 0.05, 1e-15);
    assert_float_equal(rs_schedule_lr(&step, 25), 0.025, 1e-15);
    rs_schedule cosine = {RS_SCHED_COSINE, 0.2, 10, 0, 0};
    assert_float_equal(rs_schedule_lr(&cosine, 5), 0.1, 1e-12);
    assert_float_equal(rs_schedule_lr(&cosine, 10), 0.0, 1e-15);
    rs_schedule constant = {RS_SCHED_CONSTANT, 0.3, 10, 0, 0};
    assert_float_equal(rs_schedule_lr(&constant, 7), 0.3, 0);
    rs_sched_type t;
    assert_int_equal(rs_sched_parse("paper", &t), RS_OK);
    assert_int_equal(t, RS_SCHED_PAPER);
    assert_int_equal(rs_sched_parse("linear", &t), RS_ERR_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_momentum_weight_decay),
        cmocka_unit_test(test_sgd_nesterov_and_decay_1d),
        cmocka_unit_test(test_adam),
        cmocka_unit_test(test_schedules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
