/* perturb_internal.h: what the files of src/perturb share and nobody else needs: the fast path of the batched
 * diffeomorphism (diffeo_fast.c), called by rs_diffeo_batch (diffeo.c). Not a public API. */
#pragma once
#include "relstab/perturb.h"

/* Bytes of scratch one thread needs for rs__diffeo_fast_image on a plan's image size (a multiple of 64). */
size_t rs__diffeo_fast_scratch(const rs_diffeo_plan *p);
/* Fills the parts of a thread's scratch that depend on the plan only (the transposed sine table); once per thread
 * and plan, before rs__diffeo_fast_image. */
void rs__diffeo_fast_prepare(const rs_diffeo_plan *p, void *scratch);
/* One image: the field of dataset index `index` into dx, dy (H, W) (bit for bit the reference's, rs_diffeo_field)
 * and the remap of its C channels into out: nearest and gaussian bit for bit the reference's (rs_remap); linear
 * the reference's bits through the portable loops, within the bound of diffeo_fast.c's header through the
 * AVX-512 kernel. scratch: rs__diffeo_fast_scratch(p) bytes, 64-byte aligned, prepared for p.
 * Needs H * W <= INT32_MAX (channel offsets in int32); rs_diffeo_batch takes the reference beyond.
 * out (C, H, W), in (C, H, W). */
void rs__diffeo_fast_image(const rs_diffeo_plan *p, const rs_diffeo_opts *o, int64_t index, float *out,
                           const float *in, int32_t c, float *dx, float *dy, void *scratch);
/* 1 when this build has the AVX-512 kernel of the bilinear path (compiled with AVX-512 F, DQ and VL). */
extern const int rs__diffeo_fast_simd;
/* Set to 1 to run the portable loops even where the AVX-512 kernel is compiled (for tests; 0 by default). */
extern int rs__diffeo_fast_portable;
/* rs_diffeo_batch through the plain-C reference (rs_diffeo_field's loops, then rs_remap per image): the twin the
 * fast path is tested against. Same arguments, checks and output. */
rs_status rs__diffeo_batch_ref(const rs_diffeo_plan *plan, const rs_diffeo_opts *o, float *out, float *fields,
                               const float *in, int64_t b, int32_t c, const int64_t *indices);
