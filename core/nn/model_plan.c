/* Node-appending helpers of the model planner (model_plan.h). */
#include "model_plan.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

int qs_plan_push(qs_planner *p, qs_node_type t, int in0, int in1, int c, int h, int w)
{
    qs_model *m = p->m;
    if (p->err)
        return -1;
    if (m->nnode == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        qs_node *nn = realloc(m->nodes, (size_t)cap * sizeof *nn);
        if (!nn) {
            p->err = qs_err(QS_ENOMEM, "out of memory planning the model");
            return -1;
        }
        m->nodes = nn;
        p->cap = cap;
    }
    qs_node *n = &m->nodes[m->nnode];
    memset(n, 0, sizeof *n);
    n->type = t;
    n->in0 = in0;
    n->in1 = in1;
    n->c = c;
    n->h = h;
    n->w = w;
    n->numel = (size_t)c * h * w;
    n->w_off = n->b_off = n->alpha_off = n->rm_off = n->rv_off = n->step_off = -1;
    n->bits_off = -1;
    n->layer = -1;
    n->wbits = 32;
    n->abits = 32;
    n->scale = 1.0f;
    return m->nnode++;
}

const qs_node *qs_plan_node(qs_planner *p, int i) { return &p->m->nodes[i]; }

/* A learned bit width for a hidden layer (BitPruning): the first and last
 * layers keep first_last_bits, as in every quantized model. */
static void learned_bits(qs_planner *p, qs_node *n, int learn, int hidden)
{
    if ((p->m->cfg.bp_learned & learn) && hidden && (n->wbits < 32 || n->abits < 32))
        n->bits_off = p->nbits++; /* rebased after planning */
}

/* LSQ weight steps of a quantized conv / linear, with the alphas. */
static void lsq_steps(qs_planner *p, qs_node *n)
{
    if (p->m->cfg.quantizer != QS_QUANT_LSQ || n->wbits >= 32)
        return;
    n->nstep = p->m->cfg.lsq_per_channel ? n->c : 1;
    n->step_off = p->nalpha; /* rebased after planning */
    p->nalpha += n->nstep;
}

/* One conv node; the caller advances first_weight. */
static int conv_node(qs_planner *p, int in, int k, int ks, int stride, int pad, int depthwise)
{
    const qs_node *x = qs_plan_node(p, in);
    qs_conv_shape cs;
    if (qs_conv_shape_init(&cs, p->m->max_batch, x->c, x->h, x->w,
                           depthwise ? x->c : k, ks, ks, stride, pad) != 0) {
        p->err = qs_err(QS_EINVAL, "input %dx%d too small for the model's strides", x->h, x->w);
        return -1;
    }
    /* push() may move the node array: x is not used past this point. */
    int id = qs_plan_push(p, depthwise ? QS_NODE_DWCONV : QS_NODE_CONV, in, -1, cs.k, cs.ho, cs.wo);
    if (id < 0)
        return -1;
    qs_node *n = &p->m->nodes[id];
    n->cs = cs;
    n->wlen = depthwise ? (long)cs.c * ks * ks : (long)k * cs.c * ks * ks;
    n->w_off = p->nparam;
    p->nparam += n->wlen;
    if (!depthwise && p->m->cfg.wbits < 32)
        n->wbits = p->first_weight ? p->m->cfg.first_last_bits : p->m->cfg.wbits;
    else if (depthwise && p->m->cfg.wbits < 32)
        n->wbits = p->m->cfg.wbits;
    learned_bits(p, n, QS_BP_LEARN_W, !p->first_weight);
    lsq_steps(p, n);
    return id;
}

/* The rank of the next weight layer (0: whole), checked against its
 * m x n weight: a rank above min(m, n) cannot come from its SVD. */
static int next_rank(qs_planner *p, int *layer, long m, long n)
{
    const qs_model_cfg *c = &p->m->cfg;
    *layer = p->nweight++;
    int r = *layer < c->svd_nrank ? c->svd_rank[*layer] : 0;
    long k = m < n ? m : n;
    if (r > k) {
        p->err = qs_err(QS_EINVAL, "SVD rank %d of weight layer %d is out of range for its "
                        "%ld x %ld weight (allowed: 0..%ld)", r, *layer, m, n, k);
        return -1;
    }
    return r;
}

static void mark(qs_planner *p, int id, int layer, int r, int part)
{
    if (id < 0)
        return;
    qs_node *n = &p->m->nodes[id];
    n->layer = layer;
    n->svd_rank = r;
    n->svd_part = part;
}

int qs_plan_conv(qs_planner *p, int in, int k, int ks, int stride, int pad, int depthwise)
{
    if (p->err)
        return -1;
    int layer = -1, r = 0, id;
    if (!depthwise) {
        const qs_node *x = qs_plan_node(p, in);
        if ((r = next_rank(p, &layer, k, (long)x->c * ks * ks)) < 0)
            return -1;
    }
    if (r > 0) { /* W [k, c kh kw] ~ A [k, r] B [r, c kh kw]: B the kh x kw conv, A the 1x1 */
        int b = conv_node(p, in, r, ks, stride, pad, 0);
        mark(p, b, layer, r, 1);
        id = b < 0 ? -1 : conv_node(p, b, k, 1, 1, 0, 0);
        mark(p, id, layer, r, 2);
    } else {
        id = conv_node(p, in, k, ks, stride, pad, depthwise);
        mark(p, id, layer, 0, 0);
    }
    p->first_weight = 0;
    return id;
}

int qs_plan_bn(qs_planner *p, int in)
{
    if (p->err)
        return -1;
    const qs_node *x = qs_plan_node(p, in);
    int id = qs_plan_push(p, QS_NODE_BN, in, -1, x->c, x->h, x->w);
    if (id < 0)
        return -1;
    qs_node *n = &p->m->nodes[id];
    n->w_off = p->nparam;          /* gamma */
    n->b_off = p->nparam + n->c;   /* beta */
    p->nparam += 2L * n->c;
    n->rm_off = p->nbuf;
    n->rv_off = p->nbuf + n->c;
    p->nbuf += 2L * n->c;
    return id;
}

/* ReLU, or PACT when activations are quantized (methods.md section 2 lists
 * exactly the ReLUs, so every relu() call site is a quantization point). */
int qs_plan_relu(qs_planner *p, int in)
{
    if (p->err)
        return -1;
    const qs_node *x = qs_plan_node(p, in);
    int id = qs_plan_push(p, QS_NODE_RELU, in, -1, x->c, x->h, x->w);
    if (id < 0)
        return -1;
    qs_node *n = &p->m->nodes[id];
    n->abits = p->m->cfg.abits;
    if (n->abits < 32) {
        n->alpha_off = p->nalpha; /* rebased after planning */
        p->nalpha += p->m->cfg.quantizer == QS_QUANT_LSQ ? 2 : 1; /* LSQ+: s, beta */
        learned_bits(p, n, QS_BP_LEARN_A, 1);
    }
    return id;
}

int qs_plan_add(qs_planner *p, int a, int b, float scale)
{
    if (p->err)
        return -1;
    const qs_node *x = qs_plan_node(p, a);
    int id = qs_plan_push(p, QS_NODE_ADD, a, b, x->c, x->h, x->w);
    if (id >= 0)
        p->m->nodes[id].scale = scale;
    return id;
}

/* One linear node (bias: whether it has one); the caller advances
 * first_weight. */
static int linear_node(qs_planner *p, int in, int out, int last, int bias)
{
    const qs_node *x = qs_plan_node(p, in);
    int in_features = (int)x->numel;
    int id = qs_plan_push(p, QS_NODE_LINEAR, in, -1, out, 1, 1);
    if (id < 0)
        return -1;
    qs_node *n = &p->m->nodes[id];
    n->in_features = in_features;
    n->wlen = (long)out * in_features;
    n->w_off = p->nparam;
    n->b_off = bias ? p->nparam + n->wlen : -1;
    p->nparam += n->wlen + (bias ? out : 0);
    if (p->m->cfg.wbits < 32)
        n->wbits = (p->first_weight || last) ? p->m->cfg.first_last_bits : p->m->cfg.wbits;
    learned_bits(p, n, QS_BP_LEARN_W, !p->first_weight && !last);
    lsq_steps(p, n);
    return id;
}

int qs_plan_linear(qs_planner *p, int in, int out, int last)
{
    if (p->err)
        return -1;
    int layer, id;
    int r = next_rank(p, &layer, out, (long)qs_plan_node(p, in)->numel);
    if (r < 0)
        return -1;
    if (r > 0) { /* W [out, in] ~ A [out, r] B [r, in]: B first, no bias; A with the bias */
        int b = linear_node(p, in, r, last, 0);
        mark(p, b, layer, r, 1);
        id = b < 0 ? -1 : linear_node(p, b, out, last, 1);
        mark(p, id, layer, r, 2);
    } else {
        id = linear_node(p, in, out, last, 1);
        mark(p, id, layer, 0, 0);
    }
    p->first_weight = 0;
    return id;
}

int qs_plan_gap(qs_planner *p, int in)
{
    if (p->err)
        return -1;
    const qs_node *x = qs_plan_node(p, in);
    return qs_plan_push(p, QS_NODE_GAP, in, -1, x->c, 1, 1);
}

/* The flag marks the node as a ReLU6 point even when it is quantized
 * (PACT wins while abits < 32): PACT calibration runs the model with every
 * abits set to 32 and must then see the float model's ReLU6, not a ReLU. */
int qs_plan_relu6(qs_planner *p, int in)
{
    int id = qs_plan_relu(p, in);
    if (id >= 0)
        p->m->nodes[id].relu6 = 1;
    return id;
}

int qs_plan_maxpool(qs_planner *p, int in, int k, int stride, int pad)
{
    if (p->err)
        return -1;
    const qs_node *x = qs_plan_node(p, in);
    qs_conv_shape cs;
    if (qs_conv_shape_init(&cs, p->m->max_batch, x->c, x->h, x->w, x->c, k, k, stride, pad) != 0) {
        p->err = qs_err(QS_EINVAL, "input %dx%d too small for the model's strides", x->h, x->w);
        return -1;
    }
    int id = qs_plan_push(p, QS_NODE_MAXPOOL, in, -1, cs.c, cs.ho, cs.wo);
    if (id >= 0)
        p->m->nodes[id].cs = cs;
    return id;
}
