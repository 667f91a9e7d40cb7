/* AdaRound, one layer at a time (adaround.h). */
#include "adaround.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "layers.h"
#include "rng.h"

void qs_adaround_cfg_default(qs_adaround_cfg *c)
{
    c->iterations = QS_PTQ_DEFAULT_ITERS;
    c->batch = 32;
    c->lambda = 0.01;
    c->warmup = 0.2;
    c->beta_start = 20.0;
    c->beta_end = 2.0;
    c->lr = 1e-3;
    c->seed = 20201;
}

int qs_adaround_cfg_validate(const qs_adaround_cfg *c)
{
    if (c->iterations < 1 || c->iterations > QS_PTQ_MAX_ITERS)
        return qs_err(QS_EINVAL, "adaround iterations %d out of range (allowed: 1..%d)",
                      c->iterations, QS_PTQ_MAX_ITERS);
    if (c->batch < 1)
        return qs_err(QS_EINVAL, "adaround batch %d must be at least 1", c->batch);
    if (!(c->lambda >= 0.0) || !(c->warmup >= 0.0 && c->warmup < 1.0))
        return qs_err(QS_EINVAL, "adaround lambda %g must be >= 0 and warmup %g in [0, 1)",
                      c->lambda, c->warmup);
    if (!(c->beta_end >= 1.0) || !(c->beta_start >= c->beta_end) || !(c->lr > 0.0))
        return qs_err(QS_EINVAL, "adaround needs beta_start >= beta_end >= 1 (got %g, %g) "
                      "and lr > 0 (got %g)", c->beta_start, c->beta_end, c->lr);
    return QS_OK;
}

/* ------------------------------------------------------------ one layer */

static qs_conv_shape shape_for(const qs_node *n, int nb)
{
    qs_conv_shape s = n->cs;
    s.n = nb;
    return s;
}

void qs_adaround_forward(float *y, qs_adaround_layer *L, const float *x, const float *w, int nb)
{
    const qs_node *n = &L->m->nodes[L->node];
    qs_conv_shape s = shape_for(n, nb);
    if (n->type == QS_NODE_CONV)
        qs_conv2d_forward(y, x, w, NULL, &s, L->scratch);
    else if (n->type == QS_NODE_DWCONV)
        qs_dwconv_forward(y, x, w, &s);
    else
        qs_linear_forward(y, x, w, NULL, nb, n->in_features, n->c);
}

/* dw [wlen] = the weight gradient of the layer from dy (overwritten). */
static void layer_backward(qs_adaround_layer *L, float *dw, const float *dy, const float *x,
                           const float *w, int nb)
{
    const qs_node *n = &L->m->nodes[L->node];
    qs_conv_shape s = shape_for(n, nb);
    memset(dw, 0, sizeof(float) * (size_t)L->wlen);
    if (n->type == QS_NODE_CONV)
        qs_conv2d_backward(NULL, dw, NULL, dy, x, w, &s, L->scratch, 1);
    else if (n->type == QS_NODE_DWCONV)
        qs_dwconv_backward(NULL, dw, dy, x, w, &s, 1);
    else
        qs_linear_backward(NULL, dw, NULL, dy, x, w, nb, n->in_features, n->c);
}

int qs_adaround_layer_init(qs_adaround_layer *L, qs_model *m, int node, int batch)
{
    memset(L, 0, sizeof *L);
    if (node < 0 || node >= m->nnode)
        return qs_err(QS_EINVAL, "node %d is not in the model", node);
    qs_node *n = &m->nodes[node];
    if (n->type != QS_NODE_CONV && n->type != QS_NODE_DWCONV && n->type != QS_NODE_LINEAR)
        return qs_err(QS_EINVAL, "node %d is not a conv, depthwise conv or linear layer", node);
    int rc = qs_qgrid_get(&L->g, m, node);
    if (rc < 0)
        return rc;
    if (rc > 0)
        return qs_err(QS_EINVAL, "layer %d has float weights: nothing to round", node);
    if (batch < 1)
        return qs_err(QS_EINVAL, "batch %d must be at least 1", batch);
    L->m = m;
    L->node = node;
    L->wlen = n->wlen;
    L->batch = batch;
    L->in_len = m->nodes[n->in0].numel;
    L->out_len = n->numel;
    size_t sc = 1;
    if (n->type == QS_NODE_CONV) {
        qs_conv_shape s = shape_for(n, batch);
        sc = qs_conv2d_scratch(&s);
    }
    size_t wl = (size_t)n->wlen, yl = (size_t)batch * L->out_len;
    L->base = malloc(sizeof(float) * wl * 3);
    L->y = malloc(sizeof(float) * yl * 2);
    L->scratch = malloc(sizeof(float) * sc);
    if (!L->base || !L->y || !L->scratch) {
        qs_adaround_layer_free(L);
        return qs_err(QS_ENOMEM, "out of memory for AdaRound of layer %d", node);
    }
    L->ws = L->base + wl;
    L->dws = L->ws + wl;
    L->dy = L->y + yl;
    const float *w = m->param + n->w_off;
    for (long k = 0; k < L->wlen; k++)
        L->base[k] = floorf(w[k] / L->g.s[k / L->g.row]);
    return QS_OK;
}

void qs_adaround_layer_free(qs_adaround_layer *L)
{
    free(L->base);
    free(L->y);
    free(L->scratch);
    memset(L, 0, sizeof *L);
}

static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

void qs_adaround_v_init(float *v, const qs_adaround_layer *L)
{
    const float *w = L->m->param + L->m->nodes[L->node].w_off;
    const double zg = QS_ADAROUND_ZETA - QS_ADAROUND_GAMMA;
    for (long k = 0; k < L->wlen; k++) {
        double frac = (double)w[k] / L->g.s[k / L->g.row] - L->base[k];
        frac = fmin(fmax(frac, 0.0), 1.0); /* float rounding of the floor */
        double p = (frac - QS_ADAROUND_GAMMA) / zg; /* in [1/12, 11/12] */
        v[k] = (float)log(p / (1.0 - p));
    }
}

/* rec and dy from y vs t: the sum over output channels, mean over examples
 * and positions (the positions of a linear: 1). */
static double rec_of(qs_adaround_layer *L, const float *t, int nb, int want_dy)
{
    const qs_node *n = &L->m->nodes[L->node];
    size_t len = (size_t)nb * L->out_len;
    double norm = (double)nb * (double)(L->out_len / (size_t)n->c), e = 0.0;
    for (size_t i = 0; i < len; i++) {
        double d = (double)L->y[i] - t[i];
        e += d * d;
        if (want_dy)
            L->dy[i] = (float)(2.0 * d / norm);
    }
    return e / norm;
}

double qs_adaround_rec(qs_adaround_layer *L, const float *wq, const float *x, const float *t,
                       int nb)
{
    qs_adaround_forward(L->y, L, x, wq, nb);
    return rec_of(L, t, nb, 0);
}

double qs_adaround_loss(float *dv, qs_adaround_layer *L, const float *v, const float *x,
                        const float *t, int nb, double beta, double lambda)
{
    const double zg = QS_ADAROUND_ZETA - QS_ADAROUND_GAMMA;
    const float qp = L->g.qp;
    double reg = 0.0;
    for (long k = 0; k < L->wlen; k++) {
        double u = sigmoid(v[k]) * zg + QS_ADAROUND_GAMMA;
        double h = fmin(fmax(u, 0.0), 1.0);
        double z = fmin(fmax(L->base[k] + h, -qp), qp);
        L->ws[k] = (float)(L->g.s[k / L->g.row] * z);
        reg += 1.0 - pow(fabs(2.0 * h - 1.0), beta);
    }
    qs_adaround_forward(L->y, L, x, L->ws, nb);
    double rec = rec_of(L, t, nb, dv != NULL);
    if (!dv)
        return rec + lambda * reg;
    layer_backward(L, L->dws, L->dy, x, L->ws, nb);
    for (long k = 0; k < L->wlen; k++) {
        double sg = sigmoid(v[k]), u = sg * zg + QS_ADAROUND_GAMMA;
        if (!(u > 0.0 && u < 1.0)) { /* h clipped: flat in v */
            dv[k] = 0.0f;
            continue;
        }
        double dhdv = zg * sg * (1.0 - sg), z = L->base[k] + u;
        double g = (z > -qp && z < qp) ? (double)L->dws[k] * L->g.s[k / L->g.row] : 0.0;
        double a = 2.0 * u - 1.0;
        /* d/dh (1 - |2h - 1|^beta) = -2 beta |2h - 1|^(beta - 1) sign(2h - 1) */
        double dr = a == 0.0 ? 0.0 : -2.0 * beta * pow(fabs(a), beta - 1.0) * (a > 0 ? 1.0 : -1.0);
        dv[k] = (float)((g + lambda * dr) * dhdv);
    }
    return rec + lambda * reg;
}

void qs_adaround_hard(float *wq, const qs_adaround_layer *L, const float *v)
{
    const double zg = QS_ADAROUND_ZETA - QS_ADAROUND_GAMMA;
    for (long k = 0; k < L->wlen; k++) {
        double u = sigmoid(v[k]) * zg + QS_ADAROUND_GAMMA;
        float z = L->base[k] + (u >= 0.5 ? 1.0f : 0.0f);
        z = fminf(fmaxf(z, -L->g.qp), L->g.qp);
        wq[k] = L->g.s[k / L->g.row] * z;
    }
}
