/* dist_internal.h: what the files of src/dist share (not part of the public API). */
#pragma once
#include "relstab/dist.h"

extern int rs_dist_on_; /* 1 inside an MPI job */
