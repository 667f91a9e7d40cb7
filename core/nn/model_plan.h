/* Model planning, shared by the architecture files (model.c: FCDNN and
 * CIFAR ResNets; model_imnet.c: ImageNet ResNets and MobileNetV2). Not a
 * public interface: the trainer and the CLI use model.h.
 *
 * Each qs_plan_* call appends one node to p->m->nodes, in topological order,
 * and returns its index; it assigns parameter and buffer offsets as it goes,
 * so the planner's counts are the model's. After the first error every call
 * returns -1 and p->err keeps the first message, so a plan can be written
 * as nested calls and checked once at the end. */
#ifndef QS_MODEL_PLAN_H
#define QS_MODEL_PLAN_H

#include <stddef.h>

#include "model.h"

typedef struct {
    qs_model *m;       /* nodes go to m->nodes (grown here) */
    int cap;
    long nparam;       /* counted learnable params (not alphas) */
    long nalpha;
    long nbits;        /* learned bit widths, after the alphas */
    long nbuf;
    int err;
    int first_weight;  /* next conv/linear is the model's first */
    int nweight;       /* conv (groups 1) / linear layers planned so far */
} qs_planner;

int qs_plan_push(qs_planner *p, qs_node_type t, int in0, int in1, int c, int h, int w);
const qs_node *qs_plan_node(qs_planner *p, int i);
/* conv (no bias, as every conv here is followed by BN) of ks x ks; the
 * first conv/linear of the model gets first_last_bits. depthwise: groups =
 * channels, k ignored. */
int qs_plan_conv(qs_planner *p, int in, int k, int ks, int stride, int pad, int depthwise);
int qs_plan_bn(qs_planner *p, int in);
/* ReLU, or PACT when activations are quantized. */
int qs_plan_relu(qs_planner *p, int in);
/* ReLU6 in float, PACT (itself a learnable clip) when quantized. */
int qs_plan_relu6(qs_planner *p, int in);
int qs_plan_add(qs_planner *p, int a, int b, float scale);
int qs_plan_linear(qs_planner *p, int in, int out, int last);
int qs_plan_gap(qs_planner *p, int in);
/* k x k max pool (layers_imnet.h). */
int qs_plan_maxpool(qs_planner *p, int in, int k, int stride, int pad);

/* model_imnet.c: checks and planning of QS_ARCH_IMNET_RESNET and
 * QS_ARCH_MOBILENETV2 (called by model.c for those archs). */
int qs_model_imnet_validate(const qs_model_cfg *c);
void qs_model_imnet_name(char *buf, size_t len, const qs_model_cfg *c);
/* Appends the network after input node x; returns p->err. */
int qs_plan_imnet(qs_planner *p, int x);

#endif
