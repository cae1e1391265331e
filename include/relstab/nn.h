/* nn.h: the network engine. A net is a DAG of named nodes (names as PyTorch module paths: "features.0",
 * "layer1.0.conv1"), built once for a batch size, run forward in train / eval / init-eval mode and backward, with
 * every node's output readable after a forward (taps; in a training step only the output's, see rs_net).
 * Parameters, gradients and optimiser state each live in one contiguous arena with a {name, shape, offset} table;
 * activations in one arena sized for the batch.
 * Nodes are appended in topological order (a node's inputs are always earlier nodes), so forward is a loop and
 * backward the reverse loop. Every node's output is a 4-D NHWC tensor (N, H, W, C); vectors are H = W = 1. */
#pragma once
#include "relstab/ops.h"
#include "relstab/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- parameters */
typedef enum {
    RS_PARAM_TRAINABLE = 0, /* weights and biases: have gradients and optimiser state */
    RS_PARAM_BUFFER = 1,    /* running statistics: saved in checkpoints, not trained */
    RS_PARAM_COUNTER = 2,   /* an integer buffer (BN num_batches_tracked): stored as float, written as I64 */
} rs_param_kind;
typedef enum { RS_INIT_CONST = 0, RS_INIT_UNIFORM = 1, RS_INIT_NORMAL = 2 } rs_init_kind;
typedef struct {
    rs_init_kind kind;
    float a, b; /* const: value a; uniform: [a, b); normal: mean a, std b */
} rs_init;
#define RS_NAME_MAX 96
typedef struct {
    char name[RS_NAME_MAX];
    int32_t ndim;
    int64_t shape[4];
    int64_t numel;
    size_t offset; /* in floats, into the arenas */
    rs_param_kind kind;
    rs_init init;
} rs_param;
typedef struct {
    rs_param *items;
    int32_t count, cap;
    size_t total;         /* floats */
    float *data;          /* (total) values */
    float *grad;          /* (total) gradients (zero for buffers) */
    float *state1, *state2; /* (total) optimiser state: momentum / Adam m, v (allocated on first use) */
} rs_params;
int32_t rs_params_find(const rs_params *p, const char *name);
static inline float *rs_param_data(const rs_params *p, int32_t i) { return p->data + p->items[i].offset; }
static inline float *rs_param_grad(const rs_params *p, int32_t i) { return p->grad + p->items[i].offset; }
int64_t rs_params_count_trainable(const rs_params *p);

/* ---------------------------------------------------------------- nodes */
typedef enum {
    RS_OP_INPUT = 0, RS_OP_CONV2D, RS_OP_LINEAR, RS_OP_RELU, RS_OP_SILU, RS_OP_SIGMOID, RS_OP_MAXPOOL,
    RS_OP_AVGPOOL, RS_OP_ADAPTIVE_AVGPOOL, RS_OP_BATCHNORM, RS_OP_ADD, RS_OP_MUL_CHANNEL, RS_OP_FLATTEN,
    RS_OP_DROPOUT, RS_OP_DROPCONNECT, RS_OP_ZEROPAD, RS_OP_SCALE,
    RS_OP_GATHER, RS_OP_SOFTMAX, RS_OP_BINARY, /* the graph-import ops of nn_ext.h (net_ext.c) */
    RS_OP_COUNT
} rs_op_type;
const char *rs_op_name(rs_op_type op); /* "conv2d", "relu", ... */

typedef struct {
    char name[RS_NAME_MAX];
    rs_op_type op;
    int32_t in[2], n_in;      /* input node indices */
    int32_t h, w, c;          /* output per sample: (H, W, C) */
    int32_t param[5];         /* parameter indices (-1: none): conv/linear weight, bias; bn weight, bias,
                                 running_mean, running_var, num_batches_tracked */
    rs_conv2d_dims conv;      /* conv2d: n is set per forward */
    rs_pool2d_dims pool;      /* max/avg pool */
    int32_t pad[4];           /* zeropad: top, bottom, left, right */
    float p;                  /* dropout / dropconnect probability */
    float alpha;              /* scale factor */
    float eps, momentum;      /* batch norm */
    int32_t w_t;              /* linear: weight stored (in, out) and applied as x @ W (rs_net_matmul) */
    int32_t b_scalar;         /* linear: the bias is one number added to every output (rs_net_matmul) */
    /* set by rs_net_build: */
    float *out;               /* (B, H, W, C) */
    float *d_out;             /* (B, H, W, C) or NULL in an inference-only build */
    void *saved;              /* maxpool argmax; bn mean + invstd (2C) */
    void *ext;                /* gather / softmax / binary: their tables (nn_ext.h), owned by the net */
} rs_node;

typedef enum {
    RS_MODE_TRAIN = 0,    /* BN batch statistics with running-stat updates; dropout active */
    RS_MODE_EVAL = 1,     /* BN running statistics; dropout off */
    RS_MODE_INIT_EVAL = 2,/* BN batch statistics without updates (measuring a net at init); dropout off */
} rs_mode;

/* One entry of a net's model configuration ("model.name" = "gapmf", "model.pbc" = "0", ...): set by the model zoo,
 * written into checkpoints' metadata and compared when a checkpoint is loaded (io.h rs_net_load). */
#define RS_NET_CONFIG_MAX 24
typedef struct {
    char key[32];
    char value[400];
} rs_net_config_entry;

typedef struct rs_net {
    rs_node *nodes;
    int32_t n_nodes, cap_nodes;
    rs_params params;
    int32_t output;      /* the node whose output is the net's output (default: the last added) */
    rs_status status;    /* first builder error (the builder functions return -1 after it) */
    char error[512];
    /* set by rs_net_build: */
    int32_t batch;       /* the largest batch a forward may take */
    int32_t with_grad;
    rs_arena act;
    rs_workspace ws;
    /* set by rs_net_forward: */
    int32_t cur_n;
    rs_mode cur_mode;
    uint64_t seed;       /* dropout seed */
    uint64_t step;       /* incremented by each training forward: dropout masks differ per step */
    int32_t n_config;    /* the model configuration (0 entries for a net built by hand) */
    rs_net_config_entry config[RS_NET_CONFIG_MAX];
    /* synchronised batch norm (data-parallel training): when bn_sum is set, TRAIN-mode batch norm takes its
     * statistics over every replica (rs_batchnorm_forward_sync); bn_work holds 2 C + 1 doubles for the widest BN.
     * Set and freed by whoever sets them (the trainer), NULL otherwise. */
    rs_sum_fn bn_sum;
    void *bn_sum_ctx;
    double *bn_work;
    int32_t grad_output; /* set by rs_net_build: the output node its gradient buffers were planned for */
    /* Training steps share buffers: a TRAIN-mode forward of a net built with gradients runs in the step layout,
     * where nodes' outputs that no backward reads are overwritten later in the step, so after it only the net's
     * output (and, after the backward, the gradients) can be read. Every other pass keeps every node's output
     * (taps). keep_outputs = 1 makes TRAIN-mode forwards keep them too (same results, bit for bit; more memory). */
    int32_t keep_outputs;
    int32_t cur_layout;  /* set by each forward: 1 if it ran in the step layout */
    float **layout;      /* set by rs_net_build (net_plan.c): (2 layouts, 2, n_nodes) out and d_out pointers */
    void *act_block;     /* the allocation behind act.base */
} rs_net;

/* Creates a net whose input node "x" takes (C, H, W) images. */
rs_net *rs_net_new(int32_t c, int32_t h, int32_t w);
void rs_net_free(rs_net *net);

/* Builders: each appends a node and returns its index, or -1 after recording an error in net->status/error
 * (and every later builder call returns -1 too). Parameters are registered as "<name>.weight", "<name>.bias"
 * (bn also "<name>.running_mean", "<name>.running_var", "<name>.num_batches_tracked"), with PyTorch's default
 * initialisation. */
int32_t rs_net_conv2d(rs_net *net, const char *name, int32_t in, int32_t c_out, int32_t k, int32_t stride,
                      int32_t pad, int32_t groups, int32_t bias);
/* General form: kh, kw, strides, asymmetric or circular padding and groups taken from *tmpl (its n/h_in/w_in/c_in/
 * h_out/w_out are filled in). w_param / b_param: existing parameter indices to use (-1: register new ones;
 * b_param -2: no bias). A 3-D (C_out, C_in/groups, K) weight, as PyTorch's Conv1d has, is accepted for a 1 x K
 * kernel. */
int32_t rs_net_conv2d_ex(rs_net *net, const char *name, int32_t in, const rs_conv2d_dims *tmpl, int32_t w_param,
                         int32_t b_param);
int32_t rs_net_linear(rs_net *net, const char *name, int32_t in, int32_t out, int32_t bias);
int32_t rs_net_linear_ex(rs_net *net, const char *name, int32_t in, int32_t out, int32_t w_param, int32_t b_param);
/* x @ W (+ b) with W stored (in, out): the raw-parameter layers of the NTK / mean-field reference nets (`x @ self.w`),
 * so that their tensors keep the reference's shapes. A linear node that runs on the transposed weight. w_param and
 * b_param as in rs_net_linear_ex (new parameters: "<name>.weight" (in, out), "<name>.bias", PyTorch's linear init).
 * An existing b_param with one element (shape (1) or ()) is a scalar bias broadcast to every output, as the
 * reference's `y + self.last_bias` with last_bias of shape (1). */
int32_t rs_net_matmul(rs_net *net, const char *name, int32_t in, int32_t out, int32_t w_param, int32_t b_param);
int32_t rs_net_relu(rs_net *net, const char *name, int32_t in);
int32_t rs_net_silu(rs_net *net, const char *name, int32_t in);
int32_t rs_net_sigmoid(rs_net *net, const char *name, int32_t in);
int32_t rs_net_maxpool(rs_net *net, const char *name, int32_t in, int32_t k, int32_t stride, int32_t pad);
int32_t rs_net_avgpool(rs_net *net, const char *name, int32_t in, int32_t k, int32_t stride, int32_t pad,
                       int32_t count_include_pad);
int32_t rs_net_adaptive_avgpool(rs_net *net, const char *name, int32_t in, int32_t ho, int32_t wo);
int32_t rs_net_batchnorm(rs_net *net, const char *name, int32_t in, float eps, float momentum);
int32_t rs_net_add(rs_net *net, const char *name, int32_t a, int32_t b);
int32_t rs_net_mul_channel(rs_net *net, const char *name, int32_t x, int32_t s); /* s: (N,1,1,C) */
int32_t rs_net_flatten(rs_net *net, const char *name, int32_t in);
int32_t rs_net_dropout(rs_net *net, const char *name, int32_t in, float p);
int32_t rs_net_dropconnect(rs_net *net, const char *name, int32_t in, float p);
int32_t rs_net_zeropad(rs_net *net, const char *name, int32_t in, int32_t top, int32_t bottom, int32_t left,
                       int32_t right);
int32_t rs_net_scale(rs_net *net, const char *name, int32_t in, float alpha);
/* Registers a parameter that no node creates (e.g. a reference model's unused tensor); returns its index. */
int32_t rs_net_param(rs_net *net, const char *name, int32_t ndim, const int64_t *shape, rs_param_kind kind,
                     rs_init init);
int32_t rs_net_find(const rs_net *net, const char *name); /* node index or -1 */

/* Allocates the parameter arenas (on first call) and the activation arena for batches of up to `batch`;
 * with_grad = 0 builds for inference only. May be called again to rebuild for another batch size. */
rs_status rs_net_build(rs_net *net, int32_t batch, int32_t with_grad);
/* Draws every parameter from its init rule with counter-based streams (seed, parameter index). */
void rs_net_init(rs_net *net, uint64_t seed);

/* Forward n <= batch images. x is NCHW (n, C, H, W) as datasets give it; _nhwc takes the internal layout. */
rs_status rs_net_forward(rs_net *net, const float *x, int32_t n, rs_mode mode);
rs_status rs_net_forward_nhwc(rs_net *net, const float *x, int32_t n, rs_mode mode);
/* Backward of the last forward from d_output (n, output numel per sample), accumulating into params.grad. */
rs_status rs_net_backward(rs_net *net, const float *d_output);
void rs_net_zero_grad(rs_net *net);

/* Taps: a node's output after the last forward, (cur_n, H, W, C) NHWC, and its per-sample size. After a TRAIN-mode
 * forward of a net built with gradients, only the output node's (unless net->keep_outputs: see rs_net). */
static inline const float *rs_net_tap(const rs_net *net, int32_t node) { return net->nodes[node].out; }
static inline int64_t rs_net_node_numel(const rs_net *net, int32_t node) {
    const rs_node *d = &net->nodes[node];
    return (int64_t)d->h * d->w * d->c;
}
/* Copies a node's output in PyTorch's NCHW order into dst (cur_n x C x H x W floats). */
void rs_net_tap_nchw(const rs_net *net, int32_t node, float *dst);
const float *rs_net_output_data(const rs_net *net);
int64_t rs_net_output_numel(const rs_net *net);

/* ---------------------------------------------------------------- optimisers and schedules */
typedef enum { RS_OPT_SGD = 0, RS_OPT_ADAM = 1 } rs_opt_type;
typedef struct {
    rs_opt_type type;
    double momentum;      /* SGD */
    int32_t nesterov;     /* SGD */
    double weight_decay;  /* L2 added to the gradient, as torch.optim */
    int32_t decay_1d;     /* 0: weight decay only on parameters with 2+ dimensions (the paper's code) */
    double beta1, beta2, eps; /* Adam: 0.9, 0.999, 1e-8 */
    int64_t t;            /* steps taken */
} rs_optimizer;
rs_optimizer rs_sgd(double momentum, int32_t nesterov, double weight_decay);
rs_optimizer rs_adam(double weight_decay);
/* One step on every trainable parameter with learning rate lr; allocates its state on first use. */
rs_status rs_optimizer_step(rs_optimizer *opt, rs_params *p, double lr);

typedef enum {
    RS_SCHED_CONSTANT = 0,
    RS_SCHED_STEP = 1,    /* lr * gamma^(floor(epoch / step_size)) */
    RS_SCHED_COSINE = 2,  /* cosine from lr to 0 over `epochs` */
    RS_SCHED_PAPER = 3,   /* PyTorch CosineAnnealingLR stepped per epoch, T_max = 0.8 * epochs, rising after it */
} rs_sched_type;
typedef struct {
    rs_sched_type type;
    double lr;
    int32_t epochs;
    int32_t step_size;
    double gamma;
} rs_schedule;
/* The learning rate used during epoch `epoch` (0-based). */
double rs_schedule_lr(const rs_schedule *s, int32_t epoch);
const char *rs_sched_name(rs_sched_type t);
rs_status rs_sched_parse(const char *s, rs_sched_type *out);

/* ---------------------------------------------------------------- for bindings (access.c) */
int32_t rs_net_node_count(const rs_net *net);
const char *rs_net_node_name(const rs_net *net, int32_t i);     /* NULL outside 0..count-1 */
rs_status rs_net_node_dims(const rs_net *net, int32_t i, int32_t dims[4]); /* op, C, H, W */
int32_t rs_net_built_batch(const rs_net *net);                  /* 0: not built */
int32_t rs_net_has_params(const rs_net *net);
/* Node's output of the last forward into dst (room for capacity floats): NCHW, or NHWC (the internal order). */
rs_status rs_net_tap_copy(const rs_net *net, int32_t node, int32_t nhwc, float *dst, int64_t capacity);

#ifdef __cplusplus
}
#endif
