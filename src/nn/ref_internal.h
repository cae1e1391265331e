/* ref_internal.h: what the plain-C op files of src/nn share (not onednn*.c): below RS_PAR_MIN_WORK units of
 * work (about one multiply-add or one element each), an op runs on one thread, since starting and joining an
 * OpenMP team costs microseconds (much more when the machine is oversubscribed). Whether an op runs threaded never
 * changes its results: every op assigns each output element to one thread and sums in a fixed order. */
#pragma once

#define RS_PAR_MIN_WORK 32768
