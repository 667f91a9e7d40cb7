/* Model graphs of methods.md section 1: planning (shapes and parameter
 * offsets), counting, building the arenas, init. Forward/backward live in
 * model_run.c. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_model.h"
#include "err.h"
#include "model_plan.h"

/* ---------------------------------------------------------------- config */

const char *const qs_arch_names[] = {"fcdnn", "resnet", "imagenet-resnet", "mobilenetv2", NULL};

const char *qs_arch_name(qs_arch a)
{
    return (unsigned)a <= QS_ARCH_MOBILENETV2 ? qs_arch_names[a] : "?";
}

int qs_block_depth_mult(qs_block b) { return b == QS_BLOCK_DEPTHWISE ? 9 : 6; }

const char *qs_block_name(qs_block b)
{
    switch (b) {
    case QS_BLOCK_BASIC: return "basic";
    case QS_BLOCK_PREACT: return "preact";
    case QS_BLOCK_DEPTHWISE: return "depthwise";
    case QS_BLOCK_BOTTLENECK: return "bottleneck";
    }
    return "?";
}

int qs_block_parse(qs_block *out, const char *s)
{
    for (int b = 0; b <= QS_BLOCK_BOTTLENECK; b++)
        if (strcmp(s, qs_block_name((qs_block)b)) == 0) {
            *out = (qs_block)b;
            return QS_OK;
        }
    return qs_err(QS_EINVAL, "unknown block \"%s\" (allowed: basic, preact, depthwise, bottleneck)", s);
}

void qs_model_name(char *buf, size_t len, const qs_model_cfg *c)
{
    if (c->arch == QS_ARCH_IMNET_RESNET || c->arch == QS_ARCH_MOBILENETV2)
        qs_model_imnet_name(buf, len, c);
    else if (c->arch == QS_ARCH_FCDNN)
        snprintf(buf, len, "fcdnn-%s%d-%d", c->residual ? "res-" : "", c->width, c->depth);
    else
        snprintf(buf, len, "resnet-%s-%d-%d", qs_block_name(c->block), c->depth, c->width);
}

static int bits_ok(int b) { return (b >= 1 && b <= 8) || b == 32; }

int qs_model_cfg_validate(const qs_model_cfg *c)
{
    if (c->arch != QS_ARCH_MOBILENETV2 && (c->width < 1 || c->width > 65536))
        return qs_err(QS_EINVAL, "width %d is out of range (allowed: 1..65536)", c->width);
    if (c->arch == QS_ARCH_FCDNN) {
        if (c->depth < 2 || c->depth > 1000)
            return qs_err(QS_EINVAL, "depth %d is invalid for fcdnn (allowed: 2..1000 linear layers)", c->depth);
    } else if (c->arch == QS_ARCH_IMNET_RESNET || c->arch == QS_ARCH_MOBILENETV2) {
        int rc = qs_model_imnet_validate(c);
        if (rc != QS_OK)
            return rc;
    } else if (c->arch == QS_ARCH_RESNET) {
        if (c->block == QS_BLOCK_BOTTLENECK)
            return qs_err(QS_EINVAL, "block \"bottleneck\" is for imagenet-resnet "
                          "(allowed for resnet: basic, preact, depthwise)");
        int mult = qs_block_depth_mult(c->block);
        if (c->depth > QS_MAX_DEPTH)
            return qs_err(QS_EINVAL, "depth %d is out of range (allowed: up to %d)", c->depth,
                          QS_MAX_DEPTH);
        if (c->depth < mult + 2 || (c->depth - 2) % mult != 0)
            return qs_err(QS_EINVAL,
                          "depth %d is not %dn+2 for block \"%s\" (allowed: %d, %d, %d, ...)",
                          c->depth, mult, qs_block_name(c->block), mult + 2,
                          2 * mult + 2, 3 * mult + 2);
        if (c->in_h < 4 || c->in_w < 4)
            return qs_err(QS_EINVAL, "resnet input %dx%d is too small (at least 4x4)", c->in_h, c->in_w);
    } else {
        return qs_err(QS_EINVAL, "unknown architecture");
    }
    if (c->in_c < 1 || c->classes < 2)
        return qs_err(QS_EINVAL, "input channels %d / classes %d invalid", c->in_c, c->classes);
    if (!bits_ok(c->wbits) || !bits_ok(c->abits) || !bits_ok(c->first_last_bits))
        return qs_err(QS_EINVAL, "bits must be 1..8 or 32 (float): wbits %d abits %d first_last_bits %d",
                      c->wbits, c->abits, c->first_last_bits);
    if (c->abits == 1)
        return qs_err(QS_EINVAL, "abits 1 is not supported (PACT needs at least 2 bits; allowed: 2..8 or 32)");
    if ((unsigned)c->quantizer > QS_QUANT_LSQ || (unsigned)c->lsq_winit > 1)
        return qs_err(QS_EINVAL, "unknown quantizer %d / LSQ weight init %d", c->quantizer, c->lsq_winit);
    if (c->quantizer == QS_QUANT_LSQ && c->wbits < 32 && (c->wbits == 1 || c->first_last_bits == 1))
        return qs_err(QS_EINVAL, "lsq+ needs at least 2 weight bits (wbits %d, first_last_bits %d)",
                      c->wbits, c->first_last_bits);
    if (c->svd_nrank < 0 || c->svd_nrank > QS_SVD_MAX_LAYERS || (c->svd_nrank > 0 && !c->svd_rank))
        return qs_err(QS_EINVAL, "%d SVD ranks (allowed: 0..%d, with their values)", c->svd_nrank,
                      QS_SVD_MAX_LAYERS);
    for (int i = 0; i < c->svd_nrank; i++) {
        if (c->svd_rank[i] < 0)
            return qs_err(QS_EINVAL, "SVD rank %d of weight layer %d is negative", c->svd_rank[i], i);
        /* learned widths are per node: a factored layer would learn two */
        if (c->svd_rank[i] > 0 && c->bp_learned)
            return qs_err(QS_EINVAL, "a factored (SVD) model cannot learn bit widths");
    }
    return qs_bp_cfg_validate(c);
}

/* --------------------------------------------------------------- planning */

static int block_basic(qs_planner *p, int in, int cout, int stride)
{
    int cin = qs_plan_node(p, in)->c;
    int a = qs_plan_bn(p, qs_plan_conv(p, in, cout, 3, stride, 1, 0));
    a = qs_plan_bn(p, qs_plan_conv(p, qs_plan_relu(p, a), cout, 3, 1, 1, 0));
    int sc = in;
    if (stride != 1 || cin != cout)
        sc = qs_plan_bn(p, qs_plan_conv(p, in, cout, 1, stride, 0, 0));
    return qs_plan_relu(p, qs_plan_add(p, a, sc, 1.0f));
}

static int block_preact(qs_planner *p, int in, int cout, int stride)
{
    int cin = qs_plan_node(p, in)->c;
    int pre = qs_plan_relu(p, qs_plan_bn(p, in));
    int a = qs_plan_conv(p, pre, cout, 3, stride, 1, 0);
    a = qs_plan_conv(p, qs_plan_relu(p, qs_plan_bn(p, a)), cout, 3, 1, 1, 0);
    int sc = in;
    if (stride != 1 || cin != cout)
        sc = qs_plan_conv(p, pre, cout, 1, stride, 0, 0); /* from the BN-ReLU output, no BN */
    return qs_plan_add(p, a, sc, 1.0f);
}

static int block_depthwise(qs_planner *p, int in, int cout, int stride)
{
    int cin = qs_plan_node(p, in)->c;
    int hidden = 6 * cout; /* our choice: 6 x the OUTPUT width (methods.md) */
    int a = qs_plan_relu(p, qs_plan_bn(p, qs_plan_conv(p, in, hidden, 1, 1, 0, 0)));
    a = qs_plan_relu(p, qs_plan_bn(p, qs_plan_conv(p, a, hidden, 3, stride, 1, 1)));
    a = qs_plan_bn(p, qs_plan_conv(p, a, cout, 1, 1, 0, 0)); /* linear bottleneck */
    int sc = in;
    if (stride != 1 || cin != cout)
        sc = qs_plan_bn(p, qs_plan_conv(p, in, cout, 1, stride, 0, 0));
    return qs_plan_add(p, a, sc, 1.0f);
}

static int plan(qs_planner *p, qs_model *m)
{
    const qs_model_cfg *c = &m->cfg;
    memset(p, 0, sizeof *p);
    p->m = m;
    p->first_weight = 1;
    int x = qs_plan_push(p, QS_NODE_INPUT, -1, -1, c->in_c, c->in_h, c->in_w);
    if (c->arch == QS_ARCH_FCDNN) {
        int h = qs_plan_relu(p, qs_plan_linear(p, x, c->width, 0));
        for (int l = 0; l < c->depth - 2; l++) {
            int f = qs_plan_relu(p, qs_plan_linear(p, h, c->width, 0));
            h = c->residual ? qs_plan_add(p, f, h, 0.5f) : f;
        }
        qs_plan_linear(p, h, c->classes, 1);
    } else if (c->arch == QS_ARCH_IMNET_RESNET || c->arch == QS_ARCH_MOBILENETV2) {
        qs_plan_imnet(p, x);
    } else {
        int k = c->width;
        int n = (c->depth - 2) / qs_block_depth_mult(c->block);
        int h = qs_plan_conv(p, x, k, 3, 1, 1, 0);
        if (c->block != QS_BLOCK_PREACT)
            h = qs_plan_relu(p, qs_plan_bn(p, h));
        for (int g = 0; g < 3; g++)
            for (int b = 0; b < n; b++) {
                int stride = (g > 0 && b == 0) ? 2 : 1;
                int cout = k << g;
                if (c->block == QS_BLOCK_BASIC)
                    h = block_basic(p, h, cout, stride);
                else if (c->block == QS_BLOCK_PREACT)
                    h = block_preact(p, h, cout, stride);
                else
                    h = block_depthwise(p, h, cout, stride);
            }
        if (c->block == QS_BLOCK_PREACT)
            h = qs_plan_relu(p, qs_plan_bn(p, h));
        qs_plan_linear(p, qs_plan_gap(p, h), c->classes, 1);
    }
    if (p->err)
        return p->err;
    if (c->svd_nrank > 0 && c->svd_nrank != p->nweight)
        return qs_err(QS_EINVAL, "%d SVD ranks for a model of %d weight layers", c->svd_nrank,
                      p->nweight);
    /* Alphas sit after the counted parameters. */
    for (int i = 0; i < m->nnode; i++)
        if (m->nodes[i].alpha_off >= 0)
            m->nodes[i].alpha_off += p->nparam;
    for (int i = 0; i < m->nnode; i++)
        if (m->nodes[i].step_off >= 0)
            m->nodes[i].step_off += p->nparam;
    /* The learned widths last, so a fine-tune can leave them out. */
    for (int i = 0; i < m->nnode; i++)
        if (m->nodes[i].bits_off >= 0)
            m->nodes[i].bits_off += p->nparam + p->nalpha;
    return QS_OK;
}

/* Plans cfg into a throw-away model (batch 1) for counting. */
static int plan_only(qs_model *m, qs_planner *p, const qs_model_cfg *cfg)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->max_batch = 1;
    int rc = qs_model_cfg_validate(cfg);
    if (rc == QS_OK)
        rc = plan(p, m);
    return rc;
}

long qs_model_param_count(const qs_model_cfg *cfg)
{
    qs_model m;
    qs_planner p;
    long n = plan_only(&m, &p, cfg) == QS_OK ? p.nparam : -1;
    free(m.nodes);
    return n;
}

/* A node's width: a learned one rounded up (the width it ends with) when
 * the parameters are there, else the planned one. */
static int node_bits(const qs_node *n, int planned, const float *param)
{
    if (param && n->bits_off >= 0 && planned < 32)
        return qs_bp_round_up(param[n->bits_off]);
    return planned;
}

static void cost_nodes(qs_model_cost *out, const qs_model *m, const float *param)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < m->nnode; i++) {
        const qs_node *n = &m->nodes[i];
        double macs = qs_node_macs(n);
        int wbits = node_bits(n, n->wbits, param);
        if (n->w_off >= 0 && n->type != QS_NODE_BN) {
            long plen = n->wlen + (n->b_off >= 0 ? n->c : 0);
            out->model_bits += (double)n->wlen * wbits + (double)(plen - n->wlen) * 32;
        } else if (n->type == QS_NODE_BN) {
            out->model_bits += 2.0 * n->c * 32;
        }
        if (macs > 0) {
            /* Input bits: a PACT output carries abits, anything else
             * (image, BN output, residual sum, pool) is float. */
            const qs_node *src = &m->nodes[n->in0];
            if (src->type == QS_NODE_MAXPOOL) /* the max of k-bit codes is one of them */
                src = &m->nodes[src->in0];
            int ibits = (src->type == QS_NODE_RELU) ? node_bits(src, src->abits, param) : 32;
            out->macs += macs;
            out->bops += macs * wbits * ibits;
        }
    }
    out->train_flop = 6.0 * out->macs;
}

int qs_model_cost_get(qs_model_cost *out, const qs_model_cfg *cfg)
{
    qs_model m;
    qs_planner p;
    memset(out, 0, sizeof *out);
    int rc = plan_only(&m, &p, cfg);
    if (rc == QS_OK)
        cost_nodes(out, &m, NULL);
    free(m.nodes);
    return rc;
}

void qs_model_cost_of(qs_model_cost *out, const qs_model *m) { cost_nodes(out, m, m->param); }

double qs_node_macs(const qs_node *n)
{
    if (n->type == QS_NODE_CONV || n->type == QS_NODE_DWCONV)
        return (double)n->wlen * n->h * n->w;
    return n->type == QS_NODE_LINEAR ? (double)n->wlen : 0.0;
}

int qs_model_solve_width(int *width, const qs_model_cfg *cfg, double params)
{
    qs_model_cfg c = *cfg;
    long best_d = -1;
    int best_k = 0;
    /* Counts grow monotonically with k: scan until past the target. */
    for (int k = 1; k <= 4096; k++) {
        c.width = k;
        long n = qs_model_param_count(&c);
        if (n < 0)
            return QS_EINVAL;
        long d = labs(n - (long)llround(params));
        if (best_d < 0 || d < best_d) {
            best_d = d;
            best_k = k;
        }
        if (n > params)
            break;
    }
    *width = best_k;
    return QS_OK;
}

/* ----------------------------------------------------------------- build */

static float *take(float **cursor, size_t n)
{
    float *p = *cursor;
    *cursor += (n + 15) & ~(size_t)15; /* 64-byte aligned slices */
    return p;
}

/* Activation buffers (floats per example; the arena holds max_batch x).
 *
 * out: a ReLU (float, not PACT) or residual add works in place on its input
 * when that input has no other consumer and its buffer is not read in
 * backward: no backward reads its own forward output except ReLU's, and ADD
 * and ReLU read nothing of their input. So BN -> ReLU, BN -> ADD -> ReLU
 * (basic block) and conv -> ADD (preact) share one buffer; owner[i] is the
 * node whose buffer node i writes (i itself when it owns one). After a
 * forward, the shared buffer holds the last writer's output: the out of a
 * node that was computed over in place (BN, ADD) is gone. PACT needs its
 * input in backward, so quantized activations keep their own buffers.
 *
 * dout: gradients are live in backward from their first writer (the
 * highest-index consumer) until the node's own backward has run; slots are
 * reused by liveness (slot_of[i], -1 for the input node, whose gradient is
 * never formed), so only a few full-size gradient buffers exist. A slot's
 * floats per example are slot_len[s]. Returns the slot count. The dout
 * pointers are valid during qs_model_backward only.
 *
 * by_bn[i]: float ReLU i works in place on a BN's buffer, so that BN
 * applies it (model.h, fuse_relu): the BN's gradient is the ReLU's
 * (masked as it is read), so the BN shares the ReLU's slot, which stays
 * live until the BN's backward. */
static int plan_buffers(const qs_model *m, int *owner, int *slot_of, size_t *slot_len,
                        int *by_bn)
{
    const int nn = m->nnode;
    int *ncons = calloc((size_t)nn * 3 + 1, sizeof(int));
    if (!ncons)
        return -1;
    int *maxc = ncons + nn, *busy = maxc + nn;
    for (int i = 0; i < nn; i++) {
        const qs_node *n = &m->nodes[i];
        if (n->in0 >= 0) {
            ncons[n->in0]++;
            maxc[n->in0] = i;
        }
        if (n->in1 >= 0 && n->in1 != n->in0) {
            ncons[n->in1]++;
            maxc[n->in1] = i;
        }
    }
    for (int i = 0; i < nn; i++) {
        const qs_node *n = &m->nodes[i];
        owner[i] = i;
        int cand[2] = {-1, -1};
        if (n->type == QS_NODE_RELU && n->abits >= 32)
            cand[0] = n->in0;
        else if (n->type == QS_NODE_ADD && n->in0 != n->in1) {
            cand[0] = n->in0;
            cand[1] = n->in1;
        }
        for (int k = 0; k < 2; k++) {
            int j = cand[k];
            if (j > 0 && ncons[j] == 1 && m->nodes[j].type != QS_NODE_RELU &&
                m->nodes[j].numel == n->numel) {
                owner[i] = owner[j];
                break;
            }
        }
        by_bn[i] = n->type == QS_NODE_RELU && n->abits >= 32 && !n->relu6 &&
                   owner[i] != i && m->nodes[n->in0].type == QS_NODE_BN;
    }
    int nslot = 0;
    for (int i = 0; i < nn; i++)
        slot_of[i] = -1;
    for (int t = nn - 1; t >= 1; t--) {
        const qs_node *n = &m->nodes[t];
        int need[3] = {-1, -1, -1};
        if (t == nn - 1 || maxc[t] == 0)
            need[0] = t;   /* the logits, or a node nothing consumes */
        if (n->in0 > 0 && maxc[n->in0] == t)
            need[1] = n->in0;
        if (n->in1 > 0 && n->in1 != n->in0 && maxc[n->in1] == t)
            need[2] = n->in1;
        if (by_bn[t]) /* the BN's gradient is this node's: no slot of its own */
            need[1] = -1;
        for (int k = 0; k < 3; k++) {
            int j = need[k];
            if (j < 0 || slot_of[j] >= 0)
                continue;
            /* the largest free slot (grown if short), else a new one */
            int best = -1;
            for (int s = 0; s < nslot; s++)
                if (!busy[s] && (best < 0 || slot_len[s] > slot_len[best]))
                    best = s;
            if (best < 0) {
                best = nslot++;
                slot_len[best] = 0;
            }
            if (slot_len[best] < m->nodes[j].numel)
                slot_len[best] = m->nodes[j].numel;
            busy[best] = 1;
            slot_of[j] = best;
        }
        if (by_bn[t])   /* live on until the BN's backward has run */
            slot_of[n->in0] = slot_of[t];
        else
            busy[slot_of[t]] = 0;   /* dead once node t's backward has run */
    }
    free(ncons);
    return nslot;
}

int qs_model_build(qs_model *m, const qs_model_cfg *cfg, int max_batch)
{
    qs_planner p;
    int rc;
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->max_batch = max_batch;
    if ((rc = qs_model_cfg_validate(cfg)) != QS_OK)
        return rc;
    if (max_batch < 1)
        return qs_err(QS_EINVAL, "batch size %d must be at least 1", max_batch);
    if (cfg->svd_nrank > 0) { /* the model's own copy of the ranks */
        if (!(m->svd_own = malloc((size_t)cfg->svd_nrank * sizeof(int16_t))))
            return qs_err(QS_ENOMEM, "out of memory for %d SVD ranks", cfg->svd_nrank);
        memcpy(m->svd_own, cfg->svd_rank, (size_t)cfg->svd_nrank * sizeof(int16_t));
        m->cfg.svd_rank = m->svd_own;
    }
    if ((rc = plan(&p, m)) != QS_OK)
        goto fail;
    m->nparam = p.nparam + p.nalpha + p.nbits;
    m->nalpha = p.nalpha + p.nbits;
    m->nbits = p.nbits;
    m->nbuf = p.nbuf;

    size_t np = ((size_t)m->nparam + 15) & ~(size_t)15;
    size_t total = 4 * np + (((size_t)m->nbuf + 15) & ~(size_t)15);
    m->arena = aligned_alloc(64, total * sizeof(float));
    if (!m->arena) {
        rc = qs_err(QS_ENOMEM, "out of memory: parameter arena of %zu floats", total);
        goto fail;
    }
    memset(m->arena, 0, total * sizeof(float));
    m->param = m->arena;
    m->grad = m->param + np;
    m->opt_m = m->grad + np;
    m->opt_v = m->opt_m + np;
    m->buf = m->opt_v + np;

    /* Activation arena (see plan_buffers): one out buffer per node that
     * owns one, the pooled dout slots, BN saves, quantized weights, one
     * shared scratch (largest conv scratch / Lipschitz product). */
    int *owner = malloc(sizeof(int) * (size_t)m->nnode * 3);
    size_t *slot_len = calloc((size_t)m->nnode + 1, sizeof(size_t));
    if (!owner || !slot_len) {
        free(owner);
        free(slot_len);
        rc = qs_err(QS_ENOMEM, "out of memory planning the activation arena");
        goto fail;
    }
    int *slot_of = owner + m->nnode, *by_bn = slot_of + m->nnode;
    int nslot = plan_buffers(m, owner, slot_of, slot_len, by_bn);
    if (nslot < 0) {
        free(owner);
        free(slot_len);
        rc = qs_err(QS_ENOMEM, "out of memory planning the activation arena");
        goto fail;
    }
    size_t act = 0, scratch = 1;
    for (int s = 0; s < nslot; s++)
        act += ((size_t)max_batch * slot_len[s] + 15) & ~(size_t)15;
    for (int i = 0; i < m->nnode; i++) {
        qs_node *n = &m->nodes[i];
        size_t len = ((size_t)max_batch * n->numel + 15) & ~(size_t)15;
        if (owner[i] == i)
            act += len;
        if (n->type == QS_NODE_BN)
            act += 2 * (((size_t)n->c + 15) & ~(size_t)15);
        if (n->wbits < 32)
            act += ((size_t)n->wlen + 15) & ~(size_t)15;
        if (n->type == QS_NODE_CONV) {
            size_t s = qs_conv2d_scratch(&n->cs);
            if (s > scratch)
                scratch = s;
        }
        if (n->type == QS_NODE_CONV || n->type == QS_NODE_LINEAR) {
            size_t fo = (size_t)n->c; /* fan_out x fan_out product */
            if (fo * fo > scratch)
                scratch = fo * fo;
        }
    }
    scratch = (scratch + 15) & ~(size_t)15;
    m->act_len = act + scratch;
    m->act = aligned_alloc(64, m->act_len * sizeof(float));
    if (!m->act) {
        free(owner);
        free(slot_len);
        rc = qs_err(QS_ENOMEM, "out of memory: activation arena of %.1f MB for batch %d",
                    m->act_len * 4.0 / 1e6, max_batch);
        goto fail;
    }
    float *cur = m->act;
    /* slot s starts where the slots before it end */
    float *slots = cur;
    for (int s = 0; s < nslot; s++)
        take(&cur, (size_t)max_batch * slot_len[s]);
    for (int i = 0; i < m->nnode; i++) {
        qs_node *n = &m->nodes[i];
        size_t len = (size_t)max_batch * n->numel;
        n->out = owner[i] == i ? take(&cur, len) : m->nodes[owner[i]].out;
        n->by_bn = by_bn[i];
        if (by_bn[i])
            m->nodes[n->in0].fuse_relu = 1;
        n->dout = NULL;
        if (slot_of[i] >= 0) {
            float *d = slots;
            for (int s = 0; s < slot_of[i]; s++)
                take(&d, (size_t)max_batch * slot_len[s]);
            n->dout = d;
        }
        if (n->type == QS_NODE_BN) {
            n->save_mean = take(&cur, n->c);
            n->save_invstd = take(&cur, n->c);
        }
        if (n->wbits < 32)
            n->qw = take(&cur, n->wlen);
    }
    free(owner);
    free(slot_len);
    m->scratch = take(&cur, scratch);
    m->scratch_len = scratch;
    return QS_OK;
fail:
    qs_model_free(m);
    return rc;
}

void qs_model_free(qs_model *m)
{
    free(m->svd_own);
    free(m->nodes);
    free(m->arena);
    free(m->act);
    memset(m, 0, sizeof *m);
}

static void uniform_fill(float *p, long n, float bound, qs_rng *rng)
{
    for (long i = 0; i < n; i++)
        p[i] = (2.0f * qs_rng_uniform(rng) - 1.0f) * bound;
}

void qs_model_init(qs_model *m, qs_rng *rng)
{
    for (int i = 0; i < m->nnode; i++) {
        qs_node *n = &m->nodes[i];
        if (n->type == QS_NODE_CONV || n->type == QS_NODE_DWCONV || n->type == QS_NODE_LINEAR) {
            /* wlen / out channels: c_in*k*k (conv), k*k (depthwise), in (linear) */
            long fan_in = n->wlen / n->c;
            float bound = 1.0f / sqrtf((float)fan_in);
            uniform_fill(m->param + n->w_off, n->wlen, bound, rng);
            if (n->b_off >= 0)
                uniform_fill(m->param + n->b_off, n->c, bound, rng);
        } else if (n->type == QS_NODE_BN) {
            for (int c = 0; c < n->c; c++) {
                m->param[n->w_off + c] = 1.0f;
                m->param[n->b_off + c] = 0.0f;
                m->buf[n->rm_off + c] = 0.0f;
                m->buf[n->rv_off + c] = 1.0f;
            }
        } else if (n->type == QS_NODE_RELU && n->alpha_off >= 0) {
            /* replaced by calibration; LSQ+: s then beta */
            m->param[n->alpha_off] = m->cfg.quantizer == QS_QUANT_LSQ ? 1.0f : 10.0f;
            if (m->cfg.quantizer == QS_QUANT_LSQ)
                m->param[n->alpha_off + 1] = 0.0f;
        }
        for (int k = 0; k < n->nstep; k++)
            m->param[n->step_off + k] = 1.0f; /* LSQ: replaced by the init */
        if (n->bits_off >= 0) /* BitPruning: the initial width */
            m->param[n->bits_off] = qs_bp_clamp((float)m->cfg.bp_init, qs_bp_node_bmin(m, n));
        n->step = 0.0f;
    }
    m->quant_ready = 0;
    m->weights_dirty = 1;
}
