/* zoo_internal.h: what the model files share with zoo.c: the builder signature, the builders, and small helpers
 * for names and for registering reference-only tensors. Not a public header. */
#pragma once
#include <stdio.h>

#include "relstab/models.h"

/* A builder appends the model's nodes to net (created by zoo.c with the input node "x" of o's input shape; every
 * option of o is resolved). variant selects the member of the family (VGG depth, ResNet depth, ...). It returns
 * RS_OK or an rs_error naming the problem; builder errors recorded in net->status are turned into messages by
 * zoo.c. */
typedef rs_status (*zoo_builder)(rs_net *net, const rs_model_opts *o, int32_t variant);

rs_status zoo_build_vgg(rs_net *net, const rs_model_opts *o, int32_t variant);    /* variant: 11/13/16/19, +100 bn */
rs_status zoo_build_alexnet(rs_net *net, const rs_model_opts *o, int32_t variant);
rs_status zoo_build_lenet(rs_net *net, const rs_model_opts *o, int32_t variant);
rs_status zoo_build_resnet(rs_net *net, const rs_model_opts *o, int32_t variant); /* 18, 34, 50 */
rs_status zoo_build_efficientnet(rs_net *net, const rs_model_opts *o, int32_t variant);
rs_status zoo_build_fcn(rs_net *net, const rs_model_opts *o, int32_t variant);    /* weight layers: 2, 4, 6 */
rs_status zoo_build_gapmf(rs_net *net, const rs_model_opts *o, int32_t variant);  /* 2: 2-D, 1: 1-D */

/* snprintf into a node-name buffer (names are always far shorter than RS_NAME_MAX). */
#define ZOO_NAME(buf, ...) snprintf((buf), sizeof(buf), __VA_ARGS__)

/* The error of a failed builder call (-1), with the model name. */
rs_status zoo_fail(const rs_net *net, const char *model);

/* BatchNorm2d(c) state tensors "<name>.weight/bias/running_mean/running_var/num_batches_tracked" registered without
 * a node (EfficientNet's unused bn1 of expand_ratio-1 blocks). */
void zoo_register_bn_params(rs_net *net, const char *name, int64_t c);

/* Changes the recorded shape of parameter p to the reference's (same number of elements, same bytes): a conv1d
 * weight (h, in, f) that the engine runs as a conv2d weight (h, in, 1, f), a readout (H, 1) run as a linear
 * weight (1, H). Records an error in net if the sizes differ. */
void zoo_reshape_param(rs_net *net, int32_t p, int32_t ndim, const int64_t *shape);

/* An N(0, 1) tensor of the NTK / mean-field nets. */
int32_t zoo_normal_param(rs_net *net, const char *name, int32_t ndim, const int64_t *shape);
