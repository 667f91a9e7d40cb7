/* Integer weight codes and scales of a built model (export.h). */
#include "export.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

const char *qs_export_type_name(const qs_export_node *n)
{
    switch (n->type) {
    case QS_NODE_INPUT: return "input";
    case QS_NODE_CONV: return "conv";
    case QS_NODE_DWCONV: return "dwconv";
    case QS_NODE_BN: return "bn";
    case QS_NODE_RELU: return n->abits < 32 ? "pact" : "relu";
    case QS_NODE_LINEAR: return "linear";
    case QS_NODE_GAP: return "gap";
    case QS_NODE_ADD: return "add";
    case QS_NODE_MAXPOOL: return "maxpool";
    }
    return "?";
}

void qs_export_free(qs_export *e)
{
    for (int i = 0; e->nodes && i < e->n; i++) {
        qs_export_node *x = &e->nodes[i];
        free(x->codes);
        free(x->wf);
        free(x->bias);
        free(x->gamma);
        free(x->beta);
        free(x->mean);
        free(x->var);
    }
    free(e->nodes);
    memset(e, 0, sizeof *e);
}

static float *dup_floats(const float *src, long n)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (p)
        memcpy(p, src, (size_t)n * sizeof *p);
    return p;
}

/* Codes of one layer at its step; checks that step * code is exactly the
 * weight the model computes with (qw), so the export cannot silently
 * describe another model than the one evaluated. */
static int layer_codes(qs_export_node *x, const qs_node *n, const float *w, int idx)
{
    const float d = n->step;
    x->codes = malloc((size_t)n->wlen);
    if (!x->codes)
        return qs_err(QS_ENOMEM, "out of memory exporting layer %d", idx);
    float mx = (float)(ldexp(1.0, n->wbits - 1) - 1.0);
    for (long j = 0; j < n->wlen; j++) {
        float z;
        if (n->wbits == 1)
            z = w[j] >= 0.0f ? 1.0f : -1.0f;
        else if (d > 0.0f) {
            z = roundf(w[j] / d); /* the rounding of wquant.c */
            z = z > mx ? mx : (z < -mx ? -mx : z);
        } else {
            z = 0.0f;             /* all-zero layer */
        }
        x->codes[j] = (int8_t)z;
        if (d * z != n->qw[j])
            return qs_err(QS_EINTERNAL, "layer %d: weight %ld: step %g x code %d = %g, but the "
                          "model computes with %g", idx, j, (double)d, (int)z,
                          (double)(d * z), (double)n->qw[j]);
    }
    return QS_OK;
}

static int export_node(qs_export_node *x, const qs_model *m, int i)
{
    const qs_node *n = &m->nodes[i];
    const float *P = m->param;
    x->type = n->type;
    x->in0 = n->in0;
    x->in1 = n->in1;
    x->c = n->c;
    x->h = n->h;
    x->w = n->w;
    x->bits = 32;
    x->abits = 32;
    x->scale = n->scale;
    switch (n->type) {
    case QS_NODE_CONV:
    case QS_NODE_DWCONV:
    case QS_NODE_LINEAR:
        if (n->type == QS_NODE_LINEAR) {
            int s[4] = {n->c, n->in_features, 1, 1};
            memcpy(x->shape, s, sizeof s);
            x->stride = 1;
        } else {
            int s[4] = {n->cs.k, n->type == QS_NODE_DWCONV ? 1 : n->cs.c, n->cs.kh, n->cs.kw};
            memcpy(x->shape, s, sizeof s);
            x->stride = n->cs.stride;
            x->pad = n->cs.pad;
        }
        x->wlen = n->wlen;
        x->bits = n->wbits;
        x->step = n->wbits < 32 ? n->step : 0.0f;
        if (n->b_off >= 0 && !(x->bias = dup_floats(P + n->b_off, n->c)))
            return qs_err(QS_ENOMEM, "out of memory exporting layer %d", i);
        if (n->wbits < 32)
            return layer_codes(x, n, P + n->w_off, i);
        if (!(x->wf = dup_floats(P + n->w_off, n->wlen)))
            return qs_err(QS_ENOMEM, "out of memory exporting layer %d", i);
        break;
    case QS_NODE_BN:
        x->eps = 1e-5f;
        x->gamma = dup_floats(P + n->w_off, n->c);
        x->beta = dup_floats(P + n->b_off, n->c);
        x->mean = dup_floats(m->buf + n->rm_off, n->c);
        x->var = dup_floats(m->buf + n->rv_off, n->c);
        if (!x->gamma || !x->beta || !x->mean || !x->var)
            return qs_err(QS_ENOMEM, "out of memory exporting layer %d", i);
        break;
    case QS_NODE_RELU:
        x->abits = n->abits;
        x->alpha = n->abits < 32 ? P[n->alpha_off] : 0.0f;
        break;
    default:
        break;
    }
    return QS_OK;
}

int qs_export_from_model(qs_export *e, const qs_model *m, const char *phase,
                         int epoch_done, int epochs)
{
    int rc = QS_OK;
    memset(e, 0, sizeof *e);
    if (m->cfg.wbits >= 32 && m->cfg.abits >= 32)
        return qs_err(QS_EINVAL, "a float model (W32A32) has no integer codes to export; "
                      "export a retrain or clr checkpoint");
    if (m->cfg.quantizer != QS_QUANT_HWANG_PACT) /* the format has one step per layer */
        return qs_err(QS_EINVAL, "export covers Hwang-PACT models; this one is quantized "
                      "with lsq+ (not supported yet)");
    /* The export format has no max pool window nor ReLU6 fields yet. */
    if (m->cfg.arch == QS_ARCH_IMNET_RESNET || m->cfg.arch == QS_ARCH_MOBILENETV2)
        return qs_err(QS_EINVAL, "export of imagenet-resnet and mobilenetv2 models is not "
                      "supported (allowed: fcdnn, resnet)");
    if (!m->quant_ready)
        return qs_err(QS_EINVAL, "the model was never quantized (no step sizes, no calibrated "
                      "alphas): export a checkpoint saved after at least one epoch");
    e->cfg = m->cfg;
    qs_model_name(e->model, sizeof e->model, &m->cfg);
    snprintf(e->phase, sizeof e->phase, "%s", phase ? phase : "");
    e->epoch_done = epoch_done;
    e->epochs = epochs;
    e->nodes = calloc((size_t)m->nnode, sizeof *e->nodes);
    if (!e->nodes)
        return qs_err(QS_ENOMEM, "out of memory exporting %d nodes", m->nnode);
    e->n = m->nnode;
    for (int i = 0; i < m->nnode && rc == QS_OK; i++)
        rc = export_node(&e->nodes[i], m, i);
    if (rc)
        qs_export_free(e);
    return rc;
}
