/* Models of methods.md section 1 as a static graph of nodes.
 *
 * A model is built once for a maximum batch size; every buffer it needs
 * (parameters, gradients, optimiser state, activations and their gradients,
 * scratch) comes from two allocations made at build time: the parameter
 * arena and the activation arena. Nothing is allocated in a training step.
 *
 * Nodes are kept in topological order; forward walks them in order, backward
 * in reverse, each node adding its input gradients into its producers'
 * gradient buffers (so a tensor read by two nodes gets both gradients). */
#ifndef QS_MODEL_H
#define QS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "layers.h"
#include "rng.h"

/* resnet: the CIFAR ResNets; imagenet-resnet and mobilenetv2: the
 * ImageNet-scale models of Table 1 / Figure 7 (core/nn/model_imnet.c). */
typedef enum {
    QS_ARCH_FCDNN = 0, QS_ARCH_RESNET = 1, QS_ARCH_IMNET_RESNET = 2, QS_ARCH_MOBILENETV2 = 3
} qs_arch;
/* Indexed by qs_arch, NULL-terminated: the spelling of --model, the grid's
 * arch values and the database's arch column. */
extern const char *const qs_arch_names[];
const char *qs_arch_name(qs_arch a);
/* bottleneck: imagenet-resnet only (1x1 - 3x3 - 1x1, expansion 4). */
typedef enum {
    QS_BLOCK_BASIC = 0, QS_BLOCK_PREACT = 1, QS_BLOCK_DEPTHWISE = 2, QS_BLOCK_BOTTLENECK = 3
} qs_block;
#define QS_IMNET_STAGES 4
/* Weight layers a factored model may list (qs_model_cfg.svd_rank). */
#define QS_SVD_MAX_LAYERS 256
/* The largest rank a layer may have (min(m, n) of its weight). */
#define QS_SVD_MAX_RANK 32767

/* Weight + activation quantizer (docs/quantizers.md). */
typedef enum { QS_QUANT_HWANG_PACT = 0, QS_QUANT_LSQ = 1 } qs_quantizer;

typedef struct {
    qs_arch arch;
    qs_block block;      /* resnet only */
    int depth, width;
    int residual;        /* fcdnn only: (f(h) + h) * 0.5 */
    int in_c, in_h, in_w;
    int classes;
    /* Quantization (32 = float). first_last_bits applies to the stem conv /
     * first linear and the last linear whenever wbits < 32. */
    int wbits, abits, first_last_bits;
    /* QS_QUANT_LSQ: LSQ weights (lsq_per_channel: one step per output
     * channel; lsq_winit: a qs_lsq_winit rule) and LSQ+ activations at the
     * ReLUs (lsq_offset: learn the offset beta there, else it stays 0). */
    qs_quantizer quantizer;
    int lsq_per_channel, lsq_winit, lsq_offset;
    /* imagenet-resnet: blocks per stage (e.g. 2,2,2,2 for ResNet-18); width
     * is the first stage's width (64 in torchvision), block basic or
     * bottleneck, depth = (2 or 3) x sum(stage_blocks) + 2. */
    int stage_blocks[QS_IMNET_STAGES];
    /* mobilenetv2: width multiplier (1.0 = torchvision's mobilenet_v2). */
    double width_mult;
    /* BitPruning (docs/quantizers.md): bp_learned QS_BP_LEARN_W marks the
     * hidden conv / linear layers, QS_BP_LEARN_A the quantized ReLUs, as
     * learning a real bit width b (wbits / abits then hold 8, the top
     * width; first / last layers keep first_last_bits). b starts at
     * bp_init and stays in [bp_bmin, 8] (weights: at least 2). The two
     * settings mean nothing while bp_learned is 0. */
    int bp_learned, bp_bmin;
    double bp_init;
    /* SVD compression (core/ptq/svd_model.c, docs/ptq-methods.md): with
     * svd_nrank > 0, one rank per weight layer (every conv of groups 1 and
     * every linear, in plan order; svd_nrank must be their count). Rank
     * r > 0 plans the layer as two nodes: a conv as a kh x kw conv in -> r
     * then a 1x1 conv r -> out, a linear as linear in -> r (no bias) then
     * linear r -> out (the bias); 0 keeps the layer whole. svd_rank is
     * not owned: it points at the storage of whoever filled it (a built
     * model's own copy, qs_model.svd_own; a qs_svd_result; a checkpoint
     * reader's buffer), so a copy of the config is valid while that lives.
     * A pointer, not an array, because every grid phase holds a config
     * and no grid ever sets ranks (NULL there). */
    int32_t svd_nrank;
    int32_t svd_pad_; /* no padding: the grid memo compares configs with memcmp */
    int16_t *svd_rank;
} qs_model_cfg;

#define QS_BP_LEARN_W 1
#define QS_BP_LEARN_A 2

typedef enum {
    QS_NODE_INPUT, QS_NODE_CONV, QS_NODE_DWCONV, QS_NODE_BN, QS_NODE_RELU,
    QS_NODE_LINEAR, QS_NODE_GAP, QS_NODE_ADD, QS_NODE_MAXPOOL
} qs_node_type;

typedef struct {
    qs_node_type type;
    int in0, in1;            /* producer nodes, -1 if none */
    int c, h, w;             /* output shape per example */
    size_t numel;            /* c * h * w */
    qs_conv_shape cs;        /* conv/dwconv/maxpool, n = max batch */
    int in_features;         /* linear */
    float scale;             /* add */
    /* Offsets (floats) into the parameter vector, -1 if absent: conv and
     * linear weight/bias, BN gamma/beta, PACT alpha. */
    long w_off, b_off, alpha_off;
    /* LSQ: the weight steps (nstep floats at step_off, -1 if none) sit
     * with the alphas; a LSQ+ ReLU keeps s at alpha_off, beta after it. */
    long step_off;
    int nstep;
    /* BitPruning: this layer's learned bit width b (one float at bits_off,
     * -1 if the width is fixed); for a weight layer `step` then holds the
     * clip level max |w| of the last quantization. */
    long bits_off;
    long wlen;               /* weight floats */
    /* Conv (groups 1) and linear: the weight-layer ordinal (the index in
     * qs_model_cfg.svd_rank), and for a factored layer its rank and which
     * factor the node is (1: kh x kw conv / linear in -> r, 2: 1x1 conv /
     * linear r -> out); svd_part 0 for a whole layer. */
    int layer, svd_rank, svd_part;
    long rm_off, rv_off;     /* BN running stats in the buffer vector */
    int wbits;               /* this layer's weight bits (32 = float) */
    int abits;               /* relu: 32 = ReLU, else PACT */
    int relu6;               /* relu: a ReLU6 point (MobileNetV2), ReLU6 while abits is 32 */
    /* A float ReLU that is a BN's only consumer and works in its buffer is
     * applied by that BN (qs_bn_* relu 1): fuse_relu on the BN, by_bn on
     * the ReLU, whose forward and backward are then skipped; the BN's dout
     * is the ReLU's (set by qs_model_build). */
    int fuse_relu, by_bn;
    float step;              /* weight quantizer step D (0 = not yet searched) */
    /* Activation-arena pointers, [max_batch, numel]. Buffers are shared to
     * save memory: a float ReLU or residual add may overwrite its single
     * consumer-free input in place (so after a forward pass that input's
     * `out` holds the later node's output), and `dout` buffers are pooled by
     * liveness: valid only inside qs_model_backward. ReLU outputs are always
     * their own (PACT calibration reads them). */
    float *out, *dout;
    float *save_mean, *save_invstd; /* BN, [c] */
    float *qw;               /* quantized weights when wbits < 32 */
} qs_node;

typedef struct {
    qs_model_cfg cfg;
    int max_batch;
    int nnode;
    qs_node *nodes;
    /* Parameter arena: params, grads, and two optimiser moments of nparam
     * floats each, then nbuf floats of buffers (BN running stats). PACT
     * alphas (LSQ: steps and offsets) are the last nalpha entries of the
     * parameter vector and are not counted in params (methods.md section 8).
     * The learned bit widths are the last nbits of those (after every alpha
     * and step), so a fixed-width fine-tune steps nparam - nbits floats. */
    long nparam, nalpha, nbuf, nbits;
    float *arena;
    float *param, *grad, *opt_m, *opt_v, *buf;
    /* Activation arena. */
    float *act;
    size_t act_len;
    float *scratch;          /* conv im2col / Lipschitz scratch */
    size_t scratch_len;
    int16_t *svd_own;        /* cfg.svd_rank's storage (NULL: no ranks) */
    int quant_ready;         /* weight steps searched and alphas calibrated */
    int weights_dirty;       /* params changed since the last weight quantization */
} qs_model;

/* BN epsilon of every BN node (PyTorch's default); BN folding (core/ptq)
 * must use the forward's own value. */
#define QS_BN_EPS 1e-5f

/* The deepest model any input may ask for (flags, grids, checkpoints):
 * planning allocates per layer before anything else is checked. */
#define QS_MAX_DEPTH 100000

/* Validates a configuration; the message says what is allowed. */
int qs_model_cfg_validate(const qs_model_cfg *cfg);
/* Depth rule of a block: depth = mult * n + 2. */
int qs_block_depth_mult(qs_block b);
const char *qs_block_name(qs_block b);
int qs_block_parse(qs_block *out, const char *s);
/* "resnet-basic-20-31", "fcdnn-128-4", "fcdnn-res-128-4",
 * "imagenet-resnet-basic-18-64-2.2.2.2", "mobilenetv2-1.0". */
void qs_model_name(char *buf, size_t len, const qs_model_cfg *cfg);

/* Learnable parameters (weights, biases, BN gamma/beta; not running stats,
 * not PACT alphas) without building the model. Returns -1 on invalid cfg. */
long qs_model_param_count(const qs_model_cfg *cfg);
/* Multiply-accumulates per example of every conv/linear layer, and BOPs and
 * model size in bits per methods.md section 8. */
typedef struct {
    double macs;        /* per example, forward */
    double bops;
    double model_bits;
    double train_flop;  /* ~ 3 x 2 x macs: forward + two backward gemms */
} qs_model_cost;
int qs_model_cost_get(qs_model_cost *out, const qs_model_cfg *cfg);
/* The same of a built model at its learned widths (each rounded up, the
 * width it ends with); equal to qs_model_cost_get without learned ones. */
void qs_model_cost_of(qs_model_cost *out, const qs_model *m);
/* Multiply-accumulates per example of one conv / linear node (0 else). */
double qs_node_macs(const qs_node *n);
/* The width k whose parameter count is nearest `params` (ties: smaller k). */
int qs_model_solve_width(int *width, const qs_model_cfg *cfg, double params);

/* Builds the graph and its arenas for batches up to max_batch. */
int qs_model_build(qs_model *m, const qs_model_cfg *cfg, int max_batch);
void qs_model_free(qs_model *m);
/* PyTorch-default init from rng: conv/linear weight and bias
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)), BN gamma 1 beta 0, running 0 / 1. */
void qs_model_init(qs_model *m, qs_rng *rng);

/* Forward of nb <= max_batch examples x [nb, in_c, in_h, in_w]; returns the
 * logits [nb, classes] (inside the arena). train selects BN batch stats. */
const float *qs_model_forward(qs_model *m, const float *x, int nb, int train);
/* Backward from dlogits [nb, classes]: zeroes and fills model->grad. */
void qs_model_backward(qs_model *m, const float *dlogits, int nb);
/* Index of the logits node. */
static inline int qs_model_out(const qs_model *m) { return m->nnode - 1; }

#endif
