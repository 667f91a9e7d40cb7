/* Helpers shared by the post-training tests (test_cle, test_dfq_bias,
 * test_adaround): small CIFAR-style ResNets on 8x8 inputs, a folded-BN
 * state, a float twin of a quantized model, output errors. Header-only
 * (static), like tharness.h. */
#ifndef QS_PTQ_UTIL_H
#define QS_PTQ_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "model.h"
#include "ptq.h"
#include "qat_util.h"
#include "rng.h"

/* qu_resnet on 3 x 8 x 8 inputs, first and last layers float when the
 * rest is. */
static inline qs_model_cfg pu_resnet(qs_block b, int depth, int width, int wbits, int abits)
{
    qs_model_cfg c = qu_resnet(b, depth, width, wbits, abits);
    c.in_c = 3;
    c.in_h = c.in_w = 8;
    c.first_last_bits = wbits < 32 ? 8 : 32;
    return c;
}

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

/* Scales output channel i of every pair's producer by a_i and input
 * channel i of its consumer by 1/a_i (and the folded bias with the producer):
 * the same function with very unequal channel ranges, written here
 * without the library's helpers. */
static inline void pu_distort(qs_model *m, const qs_ptq_pair *p, int np, qs_rng *r)
{
    for (int k = 0; k < np; k++) {
        const qs_node *a = &m->nodes[p[k].prod], *b = &m->nodes[p[k].cons];
        long fan_a = a->wlen / a->c;
        for (int i = 0; i < a->c; i++) {
            float f = expf(4.0f * (qs_rng_uniform(r) - 0.5f)); /* e^-2 .. e^2 */
            for (long j = 0; j < fan_a; j++)
                m->param[a->w_off + i * fan_a + j] *= f;
            if (p[k].bn >= 0)
                m->param[m->nodes[p[k].bn].b_off + i] *= f;
            if (b->type == QS_NODE_DWCONV) {
                long taps = b->wlen / b->c;
                for (long t = 0; t < taps; t++)
                    m->param[b->w_off + i * taps + t] /= f;
            } else {
                long fan_b = b->wlen / b->c, taps = fan_b / a->c;
                for (int o = 0; o < b->c; o++)
                    for (long t = 0; t < taps; t++)
                        m->param[b->w_off + o * fan_b + i * taps + t] /= f;
            }
        }
    }
    m->weights_dirty = 1;
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

/* A 10-class image task on 3x8x8 inputs: class k is template T_k (N(0,1)
 * pixels, fixed by seed 99) at amplitude amp plus N(0,1) noise. */
typedef struct {
    int n;
    float *x;   /* [n, 3, 8, 8] */
    int *y;
} pu_set;

#define PU_IMG (3 * 8 * 8)

static inline int pu_set_make(pu_set *d, int n, float amp, uint64_t seed)
{
    qs_rng r;
    float tmpl[10 * PU_IMG];
    qs_rng_seed(&r, 99);
    pu_normal(tmpl, 10 * PU_IMG, &r);
    qs_rng_seed(&r, seed);
    d->n = n;
    d->x = malloc(sizeof(float) * (size_t)n * PU_IMG);
    d->y = malloc(sizeof(int) * (size_t)n);
    if (!d->x || !d->y)
        return -1;
    for (int i = 0; i < n; i++) {
        d->y[i] = (int)qs_rng_below(&r, 10);
        for (int p = 0; p < PU_IMG; p++)
            d->x[(size_t)i * PU_IMG + p] =
                amp * tmpl[d->y[i] * PU_IMG + p] + (float)qs_rng_normal(&r);
    }
    return 0;
}

static inline void pu_set_free(pu_set *d)
{
    free(d->x);
    free(d->y);
}

/* SGD with momentum 0.9 and weight decay 5e-4 on batches of 32 drawn in
 * order (the set is already random); m built for batch >= 32, float. */
static inline void pu_train(qs_model *m, const pu_set *d, int iters, float lr)
{
    const int nb = 32, k = m->cfg.classes;
    float *dl = malloc(sizeof(float) * nb * k), *mom = calloc((size_t)m->nparam, sizeof(float));
    for (int it = 0; it < iters; it++) {
        int i0 = (it * nb) % (d->n - nb + 1);
        const float *logits = qs_model_forward(m, d->x + (size_t)i0 * PU_IMG, nb, 1);
        qs_softmax_xent(dl, NULL, logits, d->y + i0, nb, k, 1.0f / nb);
        qs_model_backward(m, dl, nb);
        float a = it < iters * 3 / 4 ? lr : lr * 0.1f;
        for (long p = 0; p < m->nparam; p++) {
            mom[p] = 0.9f * mom[p] + m->grad[p] + 5e-4f * m->param[p];
            m->param[p] -= a * mom[p];
        }
        m->weights_dirty = 1;
    }
    free(dl);
    free(mom);
}

/* Top-1 accuracy on d in batches of m->max_batch (eval mode). */
static inline double pu_accuracy(qs_model *m, const pu_set *d)
{
    int hit = 0;
    for (int i0 = 0; i0 < d->n; i0 += m->max_batch) {
        int nb = d->n - i0 < m->max_batch ? d->n - i0 : m->max_batch;
        const float *y = qs_model_forward(m, d->x + (size_t)i0 * PU_IMG, nb, 0);
        for (int i = 0; i < nb; i++)
            hit += pu_argmax(y + (size_t)i * m->cfg.classes, m->cfg.classes) == d->y[i0 + i];
    }
    return (double)hit / d->n;
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
