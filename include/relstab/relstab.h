/* relstab.h: the whole public API of librelstab in one include. Link with `pkg-config --libs relstab`. */
#pragma once
#include "relstab/tensor.h"
#include "relstab/progress.h"
#include "relstab/ops.h"
#include "relstab/nn.h"
#include "relstab/io.h"
#include "relstab/data.h"
#include "relstab/models.h"
#include "relstab/perturb.h"
#include "relstab/measure.h"
#include "relstab/theory.h"
#include "relstab/train.h"
