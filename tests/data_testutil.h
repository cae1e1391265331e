/* data_testutil.h: a check shared by the dataset tests. */
#pragma once
#include <stdio.h>
#include <string.h>

#include "relstab/data.h"
#include "testutil.h"

/* rs_dataset_open(spec, split) must fail, leave *out NULL and say `words` in its message. */
static inline void expect_open_fails(const char *spec, int split, const char *words) {
    rs_dataset *ds = NULL;
    rs_status st = rs_dataset_open(spec, split, NULL, &ds);
    if (st == RS_OK || !strstr(rs_last_error(), words)) fprintf(stderr, "expected '%s': %s\n", words, rs_last_error());
    assert_int_not_equal(st, RS_OK);
    assert_null(ds);
    assert_non_null(strstr(rs_last_error(), words));
}
