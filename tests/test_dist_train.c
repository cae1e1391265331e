/* test_dist_train.c: data-parallel training under mpirun (relstab train on 1, 2 and 3 ranks; skipped when relstab
 * is built without MPI or mpirun is missing). 20 SGD steps (20 epochs of one batch of 16 images) of a small
 * 2-D conv net without batch norm on the two-points task, alone and on 2 and 3 ranks with the same global batch:
 * the final weights agree within the tolerance derived below and the loss curves (one row per step) within the
 * same tolerance of the loss scale; and a 2-rank run of 4 steps resumed with 3 ranks up to 8 steps ends as the
 * 1-rank run of 8 steps does. Batch norm: test_dist_bn.c.
 * The tolerance. Ranks change only the order of float additions: a rank sums the gradient over its share of the
 * batch (in float, inside the kernels), the shares' sums are added in double and rounded to float once, and the
 * loss gradient is scaled by share / batch in float. Each gradient entry here sums K = 16 images x up to 144
 * positions = 2304 products; reordering a float sum of K terms changes it by at most ~K u |sum of |terms||
 * (u = 2^-24), and typically by ~sqrt(K) u relative: 48 u = 2.9e-6. Over T = 20 steps the first-order
 * differences add up (at most linearly): 20 x 2.9e-6 = 5.7e-5 of the weights' displacement. Allowing a factor
 * ~2 for the dynamics' amplification: max |w_N - w_1| <= 1e-4 max |w_1 - w_init|. The losses are first order
 * in the weights' differences: every step's loss within 1e-4 of the curve's scale (its first loss). The measured
 * values are printed (typically a few 1e-7 of the displacement). */
#include "dist_testutil.h"

static void test_plain(void **state) {
    if (!have_mpi()) skip();
    train(1, "p1", "--epochs 20");
    train(2, "p2", "--epochs 20");
    train(3, "p3", "--epochs 20");
    compare("p1", "p2", 20);
    compare("p1", "p3", 20);
}

static void test_resume_other_rank_count(void **state) {
    if (!have_mpi()) skip();
    train(1, "r1", "--epochs 8");
    train(2, "r23", "--epochs 4");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s'%s' train --resume --epochs 8 --out '%s/r23' --quiet >/dev/null", mpirun(3),
             getenv("RELSTAB_BIN"), g_tmp);
    assert_int_equal(tu_system(cmd), 0);
    compare("r1", "r23", 8);
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "%s", tu_tmpdir("dist_train"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_resume_other_rank_count),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    tu_system(cmd);
    return rc;
}
