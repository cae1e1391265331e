/* access.c: a dataset's sizes through a plain function call (no struct layout needed), for bindings to other
 * languages (python/relstab). It does not read images (dataset.c: rs_dataset_batch does). */
#include "relstab/data.h"

rs_status rs_dataset_dims(const rs_dataset *ds, int64_t *n, int32_t dims[5]) {
    if (!ds) return rs_error(RS_ERR_ARG, "no dataset");
    *n = ds->n;
    dims[0] = ds->channels, dims[1] = ds->height, dims[2] = ds->width, dims[3] = ds->classes;
    dims[4] = (int32_t)ds->label_kind;
    return RS_OK;
}
