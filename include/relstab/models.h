/* models.h: the model zoo. Every architecture of the paper (SPEC 3.1, 5.2) built as an rs_net whose node names are
 * the PyTorch module paths of the reference models (torch.fx names for functional ops: "relu_1", "max_pool2d") and
 * whose parameter names and shapes are the reference state_dict's, so that a safetensors file moves between
 * relstab and PyTorch in both directions. Initialisation rules are PyTorch's defaults (NTK nets: N(0, 1)).
 * It does not train, load or measure anything: it builds nets, lists them, and counts their FLOPs.
 * docs/models.md lists the models, their options and their node names. */
#pragma once
#include "relstab/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RS_MODEL_MAX_BLOCKS 64

/* Options of a model. rs_model_opts_init sets every field to "the model's default" (-1, alpha 0); a field that a
 * model does not use must stay at its default (rs_model_build rejects it, naming the option). */
typedef struct {
    int32_t channels;      /* input channels (default 3; gapmf1d 1) */
    int32_t height, width; /* input size (default 32 x 32; gapmf1d 1 x 128, i.e. a signal of length 128) */
    int32_t classes;       /* outputs; 1 for hinge-loss tasks (default 10; gapmf and gapmf1d 1) */
    int32_t hidden;        /* densenetl*: units per hidden layer (64); gapmf: channels H (64); gapmf1d: H (1000) */
    int32_t depth;         /* gapmf / gapmf1d: number of conv blocks (4 / 7) */
    int32_t filter_size;   /* gapmf / gapmf1d: filter size (3 / 2) */
    int32_t stride;        /* gapmf / gapmf1d: the stride of the strided blocks (2) */
    int32_t n_strides;     /* gapmf / gapmf1d: > 0 gives every block's stride in strides[] (overrides the pattern) */
    int32_t strides[RS_MODEL_MAX_BLOCKS];
    int32_t released_strides; /* gapmf1d: 1 = the released code's quirk, only block 0 strided (0) */
    int32_t pbc;           /* gapmf: circular padding of (f-1)/2 on each side (1) */
    int32_t batch_norm;    /* gapmf: BatchNorm2d after each ReLU (0) */
    int32_t last_bias;     /* gapmf: readout bias "last_bias" (1) */
    double alpha;          /* gapmf1d: readout scale alpha (1); 0 means the default */
} rs_model_opts;

void rs_model_opts_init(rs_model_opts *o);

/* The catalogue: name (lower case), family, one-line description. */
typedef struct {
    const char *name;
    const char *family; /* "vgg", "alexnet", "lenet", "resnet", "efficientnet", "fcn", "gapmf" */
    const char *summary;
} rs_model_info;
int32_t rs_model_count(void);
const rs_model_info *rs_model_get(int32_t i);
/* Case-insensitive lookup; -1 if unknown. */
int32_t rs_model_find(const char *name);
/* "vgg11, vgg13, ..." (static storage), for error messages. */
const char *rs_model_names(void);

/* Fills every default of o for model `name` in place (so that a caller can record the resolved options), and checks
 * the options against the model. Errors (RS_ERR_ARG) name the model and the option. */
rs_status rs_model_resolve(const char *name, rs_model_opts *o);
/* Takes the input shape and the classes that o leaves at the default (-1) from the data (a negative data value:
 * unknown, skipped); one given that differs is an error (RS_ERR_ARG) naming the flag: "--classes 7 does not match
 * the data: WHAT gives 10". */
rs_status rs_model_opts_from_data(rs_model_opts *o, int32_t channels, int32_t height, int32_t width, int32_t classes,
                                  const char *what);
/* Builds model `name` (case-insensitive) with options o (NULL: all defaults) into a new net (not yet built for a
 * batch size: call rs_net_build, then rs_net_init). Errors: unknown model (the message lists the known names),
 * bad options, input sizes the architecture cannot take (the message says which layer and why). */
rs_status rs_model_build(const char *name, const rs_model_opts *o, rs_net **out);

/* FLOPs per image, counted as 2 x multiply-adds of conv2d and linear nodes (bias additions, BN, activations,
 * pooling and the other elementwise nodes count 0). */
int64_t rs_node_flops(const rs_net *net, int32_t node);
int64_t rs_net_flops(const rs_net *net);
/* Trainable parameters a node uses (counted as PyTorch counts them; buffers excluded). A parameter shared by
 * several nodes counts for the first. Parameters that no node uses (reference quirks) are counted by
 * rs_params_count_trainable only. */
int64_t rs_node_param_count(const rs_net *net, int32_t node);

/* rs_model_build with the options as "key=value" lines (build_kv.c lists the keys), for bindings. */
rs_status rs_model_build_kv(const char *name, const char *options, rs_net **out);

#ifdef __cplusplus
}
#endif
