/* test_dist_bn.c: data-parallel training with batch norm under mpirun (skipped without MPI or mpirun): 20 SGD
 * steps of the small conv net of test_dist_train.c with BatchNorm after each ReLU, with --sync-bn (statistics
 * over the whole global batch, summed over ranks in double) on 1, 2 and 3 ranks: weights and loss curves agree
 * within the tolerance derived in test_dist_train.c. With per-rank statistics (no --sync-bn) the 2-rank run is a
 * different training: it differs from the 1-rank one by far more than the tolerance, which shows that the
 * comparison sees which statistics were used. */
#include "dist_testutil.h"

static void test_sync_bn(void **state) {
    if (!have_mpi()) skip();
    train(1, "b1", "--epochs 20 --lr 1 --bn 1 --sync-bn");
    train(2, "b2", "--epochs 20 --lr 1 --bn 1 --sync-bn");
    train(3, "b3", "--epochs 20 --lr 1 --bn 1 --sync-bn");
    compare("b1", "b2", 20);
    compare("b1", "b3", 20);
    train(2, "b2local", "--epochs 20 --lr 1 --bn 1"); /* per-rank statistics: a different training */
    double diff, moved;
    weight_diff("b1", "b2local", &diff, &moved);
    printf("    b1 vs b2local (per-rank batch norm): max |dw| %.3g = %.3g of the displacement\n", diff, diff / moved);
    assert_true(diff > 100 * TOL * moved);
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "%s", tu_tmpdir("dist_bn"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_bn),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    tu_system(cmd);
    return rc;
}
