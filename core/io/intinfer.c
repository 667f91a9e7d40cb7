/* Integer-code inference of an exported FCDNN (intinfer.h). */
#include "intinfer.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* The checks that make the integer path well defined for e. */
static int check_export(const qs_export *e)
{
    if (e->cfg.arch != QS_ARCH_FCDNN)
        return qs_err(QS_EINVAL, "integer inference covers FCDNNs; %s is not one", e->model);
    for (int i = 0; i < e->n; i++) {
        const qs_export_node *x = &e->nodes[i];
        if (x->type == QS_NODE_INPUT && i == 0)
            continue;
        if (x->type != QS_NODE_LINEAR && x->type != QS_NODE_RELU && x->type != QS_NODE_ADD)
            return qs_err(QS_EINVAL, "node %d is a %s: not part of an FCDNN", i,
                          qs_export_type_name(x));
        if (x->in0 < 0 || x->in0 >= i || (x->type == QS_NODE_ADD && (x->in1 < 0 || x->in1 >= i)))
            return qs_err(QS_EFORMAT, "node %d: inputs out of order", i);
        if (x->type != QS_NODE_LINEAR)
            continue;
        if (x->bits >= 32)
            return qs_err(QS_EINVAL, "layer %d has float weights: integer inference needs "
                          "wbits < 32", i);
        const qs_export_node *src = &e->nodes[x->in0];
        if (x->shape[1] != (int)(src->c * src->h * src->w))
            return qs_err(QS_EFORMAT, "layer %d: %d inputs, its producer gives %d", i,
                          x->shape[1], src->c * src->h * src->w);
        /* |sum| <= in x M x (2^k - 1) must fit int32. */
        if (src->type == QS_NODE_RELU && src->abits < 32 &&
            (double)x->shape[1] * (ldexp(1.0, x->bits - 1)) * (ldexp(1.0, src->abits) - 1) >
                (double)INT32_MAX)
            return qs_err(QS_EINVAL, "layer %d: %d inputs x %d-bit codes x %d-bit activations "
                          "can overflow int32", i, x->shape[1], x->bits, src->abits);
    }
    if (e->nodes[e->n - 1].type != QS_NODE_LINEAR)
        return qs_err(QS_EFORMAT, "the last node is not the output layer");
    return QS_OK;
}

/* One linear layer for one example: integer codes in, or floats in. */
static void linear_one(float *y, const qs_export_node *x, const qs_export_node *src,
                       const float *vin, const int32_t *cin)
{
    const int out = x->shape[0], in = x->shape[1];
    const int int_in = src->type == QS_NODE_RELU && src->abits < 32;
    /* One scale per layer: the weight step times the input's code step. */
    const double act_step = int_in ? (double)(src->alpha / (float)(ldexp(1.0, src->abits) - 1.0)) : 1.0;
    const double scale = (double)x->step * act_step;
    for (int o = 0; o < out; o++) {
        const int8_t *w = x->codes + (size_t)o * in;
        double v;
        if (int_in) {
            int32_t acc = 0;
            for (int i = 0; i < in; i++)
                acc += (int32_t)w[i] * cin[i];
            v = (double)acc * scale;
        } else {
            double acc = 0.0;
            for (int i = 0; i < in; i++)
                acc += (double)w[i] * vin[i];
            v = acc * scale;
        }
        y[o] = (float)(v + (x->bias ? (double)x->bias[o] : 0.0));
    }
}

/* PACT codes with pact.c's float arithmetic, so a value on a rounding edge
 * goes the same way as in the fake-quant model. */
static void pact_one(float *y, int32_t *code, const float *in, size_t len, int bits, float alpha)
{
    const float n = (float)(ldexp(1.0, bits) - 1.0);
    const float scale = n / alpha, inv = alpha / n;
    for (size_t i = 0; i < len; i++) {
        float v = in[i] < 0.0f ? 0.0f : (in[i] > alpha ? alpha : in[i]);
        code[i] = (int32_t)((double)(v * scale) + 0.5);
        y[i] = (float)code[i] * inv;
    }
}

int qs_intinfer_fcdnn(int *pred, float *logits, const qs_export *e, const float *x, int n)
{
    int rc = check_export(e);
    if (rc)
        return rc;
    size_t total = 0;
    size_t *off = malloc((size_t)e->n * sizeof *off);
    float *val = NULL;
    int32_t *code = NULL;
    if (!off)
        return qs_err(QS_ENOMEM, "out of memory for integer inference");
    for (int i = 0; i < e->n; i++) {
        off[i] = total;
        total += (size_t)e->nodes[i].c * e->nodes[i].h * e->nodes[i].w;
    }
    val = malloc(total * sizeof *val);
    code = malloc(total * sizeof *code);
    if (!val || !code) {
        rc = qs_err(QS_ENOMEM, "out of memory for integer inference");
        goto cleanup;
    }
    const int classes = e->nodes[e->n - 1].c;
    const size_t in_len = off[1];
    for (int s = 0; s < n; s++) {
        memcpy(val, x + (size_t)s * in_len, in_len * sizeof *val);
        for (int i = 1; i < e->n; i++) {
            const qs_export_node *nd = &e->nodes[i];
            const size_t len = (size_t)nd->c * nd->h * nd->w, a = off[nd->in0];
            float *y = val + off[i];
            if (nd->type == QS_NODE_LINEAR) {
                linear_one(y, nd, &e->nodes[nd->in0], val + a, code + a);
            } else if (nd->type == QS_NODE_RELU && nd->abits < 32) {
                pact_one(y, code + off[i], val + a, len, nd->abits, nd->alpha);
            } else if (nd->type == QS_NODE_RELU) {
                for (size_t j = 0; j < len; j++)
                    y[j] = val[a + j] > 0.0f ? val[a + j] : 0.0f;
            } else { /* add: the float residual sum of qs_add_forward */
                const float *b = val + off[nd->in1];
                for (size_t j = 0; j < len; j++)
                    y[j] = (val[a + j] + b[j]) * nd->scale;
            }
        }
        const float *lg = val + off[e->n - 1];
        int best = 0;
        for (int k = 1; k < classes; k++)
            if (lg[k] > lg[best])
                best = k;
        pred[s] = best;
        if (logits)
            memcpy(logits + (size_t)s * classes, lg, (size_t)classes * sizeof *lg);
    }
cleanup:
    free(off);
    free(val);
    free(code);
    return rc;
}
