/* Helpers shared by the post-training tests (test_cle, test_dfq_bias,
 * test_adaround): small CIFAR-style ResNets on 8x8 inputs, a folded-BN
 * state, a float twin of a quantized model, output errors. Header-only
 * (static), like tharness.h. */
#ifndef QS_PTQ_UTIL_H
#define QS_PTQ_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "ptq.h"
#include "rng.h"

static inline qs_model_cfg pu_resnet(qs_block b, int depth, int width, int wbits, int abits)
{
    qs_model_cfg c;
    memset(&c, 0, sizeof c);
    c.arch = QS_ARCH_RESNET;
    c.block = b;
    c.depth = depth;
    c.width = width;
    c.in_c = 3;
    c.in_h = c.in_w = 8;
    c.classes = 10;
    c.wbits = wbits;
    c.abits = abits;
    c.first_last_bits = wbits < 32 ? 8 : 32;
    return c;
}

/* Every BN given trained-looking statistics: gamma in [0.5, 1.5], beta in
 * shift + [-0.1, 0.1], running mean in [-0.2, 0.2], running var in
 * [0.5, 1.5] (to be folded by qs_ptq_fold_bn_stats). */
static inline void pu_random_bn(qs_model *m, qs_rng *r, float shift)
{
    for (int i = 0; i < m->nnode; i++) {
        const qs_node *n = &m->nodes[i];
        if (n->type != QS_NODE_BN)
            continue;
        for (int j = 0; j < n->c; j++) {
            m->param[n->w_off + j] = 0.5f + qs_rng_uniform(r);
            m->param[n->b_off + j] = shift + 0.2f * (qs_rng_uniform(r) - 0.5f);
            m->buf[n->rm_off + j] = 0.4f * (qs_rng_uniform(r) - 0.5f);
            m->buf[n->rv_off + j] = 0.5f + qs_rng_uniform(r);
        }
    }
}

static inline void pu_normal(float *x, size_t n, qs_rng *r)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)qs_rng_normal(r);
}

/* dst gets src's parameters and buffers (same graph; dst may lack src's
 * activation clips, which sit after the counted parameters). */
static inline void pu_copy_params(qs_model *dst, const qs_model *src)
{
    long np = src->nparam - src->nalpha;
    memcpy(dst->param, src->param, (size_t)np * sizeof(float));
    memcpy(dst->buf, src->buf, (size_t)src->nbuf * sizeof(float));
    for (int i = 0; i < dst->nnode; i++)
        dst->nodes[i].step = 0.0f;
    dst->weights_dirty = 1;
}

/* Logits of nb examples into y [nb, classes] (eval mode). */
static inline void pu_logits(float *y, qs_model *m, const float *x, int nb)
{
    const float *o = qs_model_forward(m, x, nb, 0);
    memcpy(y, o, sizeof(float) * (size_t)nb * m->cfg.classes);
}

static inline double pu_mse(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return s / (double)n;
}

static inline double pu_maxdiff(const float *a, const float *b, size_t n)
{
    double d = 0.0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/* Argmax of each row of y [nb, k]. */
static inline int pu_argmax(const float *y, int k)
{
    int best = 0;
    for (int j = 1; j < k; j++)
        if (y[j] > y[best])
            best = j;
    return best;
}

/* The equalisation chains of m into p[max] (max 64 is plenty here). */
static inline int pu_pairs(qs_ptq_pair *p, int max, const qs_model *m)
{
    int n = 0;
    if (qs_ptq_pairs(p, max, &n, m) != 0 || n > max)
        return -1;
    return n;
}

#endif
