/* Forward and backward passes over a built model graph. */
#include <stdlib.h>
#include <string.h>

#include "bp_model.h"
#include "lsq.h"
#include "layers_imnet.h"
#include "model.h"
#include "par.h"
#include "quant.h"

static void conv_shape_for(qs_conv_shape *s, const qs_node *n, int nb)
{
    *s = n->cs;
    s->n = nb;
}

/* The weights a layer computes with: the quantized copy when wbits < 32
 * (refreshed after each optimiser step), else the float parameters. */
static const float *layer_weight(const qs_model *m, const qs_node *n)
{
    return n->wbits < 32 ? n->qw : m->param + n->w_off;
}

static void quantize_weights(qs_model *m)
{
    for (int i = 0; i < m->nnode; i++) {
        qs_node *n = &m->nodes[i];
        if (n->bits_off >= 0 && n->wbits < 32) /* BitPruning */
            qs_bp_quantize_weights(m, n);
        else if (n->step_off >= 0) /* LSQ: the learned steps, no search */
            qs_lsq_w_forward(n->qw, m->param + n->w_off, (size_t)n->wlen,
                             m->param + n->step_off, n->nstep, n->wbits);
        else if (n->wbits < 32)
            qs_wquant_apply(n->qw, &n->step, m->param + n->w_off, (size_t)n->wlen,
                            n->wbits);
    }
    m->weights_dirty = 0;
}

/* A training BN right after the depthwise conv that feeds it takes its
 * statistics sums from the conv, which forms them from each output plane
 * while it is in cache (qs_dwconv_forward_sums): one pass over the
 * activations fewer, the same bits. NULL (no memory, or no such BN): the
 * BN sums them itself. */
static double *dw_bn_sums(const qs_model *m, int i, int train)
{
    if (!train || i + 1 >= m->nnode || m->nodes[i + 1].type != QS_NODE_BN ||
        m->nodes[i + 1].in0 != i)
        return NULL;
    return malloc(sizeof(double) * 3 * (size_t)m->nodes[i].c);
}

const float *qs_model_forward(qs_model *m, const float *x, int nb, int train)
{
    if (m->weights_dirty)
        quantize_weights(m);
    double *sums = NULL; /* from node i - 1, a depthwise conv (dw_bn_sums) */
    for (int i = 0; i < m->nnode; i++) {
        qs_node *n = &m->nodes[i];
        const float *in = n->in0 >= 0 ? m->nodes[n->in0].out : NULL;
        size_t len = (size_t)nb * n->numel;
        const float *P = m->param;
        qs_conv_shape cs;
        switch (n->type) {
        case QS_NODE_INPUT:
            memcpy(n->out, x, len * sizeof(float));
            break;
        case QS_NODE_CONV:
            conv_shape_for(&cs, n, nb);
            qs_conv2d_forward(n->out, in, layer_weight(m, n),
                              n->b_off >= 0 ? P + n->b_off : NULL, &cs, m->scratch);
            break;
        case QS_NODE_DWCONV:
            conv_shape_for(&cs, n, nb);
            free(sums);
            sums = dw_bn_sums(m, i, train);
            qs_dwconv_forward_sums(n->out, in, layer_weight(m, n), &cs, sums);
            break;
        case QS_NODE_BN: {
            int hw = n->h * n->w;
            if (train)
                qs_bn_forward_train_sums(n->out, n->save_mean, n->save_invstd,
                                         m->buf + n->rm_off, m->buf + n->rv_off,
                                         in, P + n->w_off, P + n->b_off, nb, n->c,
                                         hw, 0.1f, QS_BN_EPS, n->fuse_relu,
                                         n->in0 == i - 1 ? sums : NULL);
            else
                qs_bn_forward_eval(n->out, in, P + n->w_off, P + n->b_off,
                                   m->buf + n->rm_off, m->buf + n->rv_off, nb,
                                   n->c, hw, QS_BN_EPS, n->fuse_relu);
            break;
        }
        case QS_NODE_RELU:
            if (n->by_bn) /* applied by its BN, in the same buffer */
                break;
            if (n->bits_off >= 0 && n->abits < 32)
                qs_bp_act_forward(n->out, in, len, P[n->alpha_off], P[n->bits_off]);
            else if (n->abits < 32 && m->cfg.quantizer == QS_QUANT_LSQ)
                qs_lsq_act_forward(n->out, in, len, P[n->alpha_off], P[n->alpha_off + 1],
                                   n->abits);
            else if (n->abits < 32)
                qs_pact_forward(n->out, in, len, P[n->alpha_off], n->abits);
            else if (n->relu6)
                qs_relu6_forward(n->out, in, len);
            else
                qs_relu_forward(n->out, in, len);
            break;
        case QS_NODE_LINEAR:
            /* no bias: the first factor of an SVD-factored linear */
            qs_linear_forward(n->out, in, layer_weight(m, n),
                              n->b_off >= 0 ? P + n->b_off : NULL, nb, n->in_features, n->c);
            break;
        case QS_NODE_GAP:
            qs_gap_forward(n->out, in, nb, n->c, m->nodes[n->in0].h * m->nodes[n->in0].w);
            break;
        case QS_NODE_ADD:
            qs_add_forward(n->out, in, m->nodes[n->in1].out, n->scale, len);
            break;
        case QS_NODE_MAXPOOL:
            conv_shape_for(&cs, n, nb);
            qs_maxpool_forward(n->out, in, &cs); /* shape checked when planned */
            break;
        }
        if (n->type != QS_NODE_DWCONV) { /* sums are for the next node only */
            free(sums);
            sums = NULL;
        }
    }
    free(sums);
    return m->nodes[m->nnode - 1].out;
}

/* LSQ+ at a ReLU: s always learned, beta only with cfg.lsq_offset (else it
 * stays 0, and the quantizer is a quantized ReLU). g uses the elements per
 * example, n->numel. */
static void lsq_act_backward(qs_model *m, const qs_node *n, float *dx, const float *x,
                             size_t len)
{
    double ds, db;
    qs_lsq_act_backward(dx, &ds, &db, n->dout, x, len, m->param[n->alpha_off],
                        m->param[n->alpha_off + 1], n->abits, n->numel);
    m->grad[n->alpha_off] += (float)ds;
    if (m->cfg.lsq_offset)
        m->grad[n->alpha_off + 1] += (float)db;
}

/* BitPruning at a ReLU: PACT's dx and dalpha, and dL/db. */
static void bp_act_backward(qs_model *m, const qs_node *n, float *dx, const float *x,
                            size_t len)
{
    double db = 0;
    m->grad[n->alpha_off] += (float)qs_bp_act_backward(dx, &db, n->dout, x, len,
                                                       m->param[n->alpha_off],
                                                       m->param[n->bits_off]);
    m->grad[n->bits_off] += (float)db;
}

void qs_model_backward(qs_model *m, const float *dlogits, int nb)
{
    memset(m->grad, 0, (size_t)m->nparam * sizeof(float));
    /* Gradient buffers are pooled by liveness (qs_model_build): each is
     * zeroed just before its first writer (the highest-index consumer)
     * accumulates into it. The input node's gradient is never formed. */
    const int nn = m->nnode;
    int maxc[nn];
    for (int i = 0; i < nn; i++)
        maxc[i] = 0;
    for (int i = 0; i < nn; i++) {
        if (m->nodes[i].in0 >= 0)
            maxc[m->nodes[i].in0] = i;
        if (m->nodes[i].in1 >= 0)
            maxc[m->nodes[i].in1] = i;
    }
    qs_node *last = &m->nodes[nn - 1];
    memcpy(last->dout, dlogits, (size_t)nb * last->numel * sizeof(float));

    for (int i = m->nnode - 1; i >= 1; i--) {
        qs_node *n = &m->nodes[i];
        qs_node *src = &m->nodes[n->in0];
        float *dx = n->in0 > 0 ? src->dout : NULL;
        size_t len = (size_t)nb * n->numel;
        float *G = m->grad;
        const float *P = m->param;
        qs_conv_shape cs;
        if (i != nn - 1 && maxc[i] == 0)   /* consumed by no node */
            qs_par_zero(n->dout, len);
        /* The first writer of an input's gradient (its highest-index
         * consumer) overwrites it where the layer can (acc 0); for the
         * others the buffer is zeroed and added to. */
        const int fresh0 = n->in0 > 0 && maxc[n->in0] == i;
        const int fresh1 = n->in1 > 0 && n->in1 != n->in0 && maxc[n->in1] == i;
        const int sets = n->type == QS_NODE_CONV || n->type == QS_NODE_BN ||
                         n->type == QS_NODE_DWCONV ||
                         n->type == QS_NODE_ADD ||
                         (n->type == QS_NODE_RELU && n->abits >= 32);
        if (fresh0 && !sets)
            qs_par_zero(src->dout, (size_t)nb * src->numel);
        if (fresh1 && !sets)
            qs_par_zero(m->nodes[n->in1].dout,
                        (size_t)nb * m->nodes[n->in1].numel);
        switch (n->type) {
        case QS_NODE_INPUT:
            break;
        case QS_NODE_CONV:
            conv_shape_for(&cs, n, nb);
            /* STE: the gradient w.r.t. the quantized weight goes to the
             * float shadow weight unchanged. */
            qs_conv2d_backward(dx, G + n->w_off, n->b_off >= 0 ? G + n->b_off : NULL,
                               n->dout, src->out, layer_weight(m, n), &cs, m->scratch,
                               !fresh0);
            break;
        case QS_NODE_DWCONV:
            conv_shape_for(&cs, n, nb);
            qs_dwconv_backward(dx, G + n->w_off, n->dout, src->out, layer_weight(m, n), &cs,
                               !fresh0);
            break;
        case QS_NODE_BN:
            /* fuse_relu: dout is the ReLU's, masked as it is read */
            qs_bn_backward(dx, G + n->w_off, G + n->b_off, n->dout, src->out,
                           n->save_mean, n->save_invstd, P + n->w_off,
                           P + n->b_off, nb, n->c, n->h * n->w, !fresh0,
                           n->fuse_relu);
            break;
        case QS_NODE_RELU:
            if (n->by_bn) /* its BN takes this gradient */
                break;
            if (n->bits_off >= 0 && n->abits < 32)
                bp_act_backward(m, n, dx, src->out, len);
            else if (n->abits < 32 && m->cfg.quantizer == QS_QUANT_LSQ)
                lsq_act_backward(m, n, dx, src->out, len);
            else if (n->abits < 32)
                G[n->alpha_off] += (float)qs_pact_backward(dx, n->dout, src->out, len,
                                                           P[n->alpha_off]);
            else if (dx && n->relu6)
                qs_relu6_backward(dx, n->dout, n->out, len, !fresh0);
            else if (dx)
                qs_relu_backward(dx, n->dout, n->out, len, !fresh0);
            break;
        case QS_NODE_LINEAR:
            qs_linear_backward(dx, G + n->w_off, n->b_off >= 0 ? G + n->b_off : NULL, n->dout,
                               src->out, layer_weight(m, n), nb, n->in_features, n->c);
            break;
        case QS_NODE_GAP:
            if (dx)
                qs_gap_backward(dx, n->dout, nb, n->c, src->h * src->w);
            break;
        case QS_NODE_ADD:
            qs_add_backward(dx, n->in1 > 0 ? m->nodes[n->in1].dout : NULL, n->dout,
                            n->scale, len, !fresh0, !fresh1);
            break;
        case QS_NODE_MAXPOOL:
            /* not in `sets`: a fresh dx was zeroed above, so always add */
            conv_shape_for(&cs, n, nb);
            qs_maxpool_backward(dx, n->dout, src->out, &cs, 1);
            break;
        }
        /* LSQ: the layer's weight gradient is complete (one node owns each
         * weight): mask it at the clip and form the step gradients. */
        if (n->bits_off >= 0 && n->type != QS_NODE_RELU && n->wbits < 32)
            qs_bp_weight_backward(m, n);
        if (n->step_off >= 0)
            qs_lsq_w_backward(G + n->w_off, G + n->step_off, G + n->w_off, P + n->w_off,
                              (size_t)n->wlen, P + n->step_off, n->nstep, n->wbits);
    }
}
