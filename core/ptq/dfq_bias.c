/* Data-free bias correction from the folded BN statistics (dfq_bias.h). */
#include "dfq_bias.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "lsq.h"
#include "qgrid.h"

static double npdf(double z) { return exp(-0.5 * z * z) / sqrt(2.0 * M_PI); }
static double ncdf(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }

double qs_dfq_clipped_mean(double mu, double sd, double lo, double hi)
{
    if (!(sd > 0.0))
        return fmin(fmax(mu, lo), hi);
    /* mu P(lo < X < hi) + sd (phi(a) - phi(b)), plus lo P(X < lo) and
     * hi P(X > hi) for the clipped tails; an infinite bound has neither */
    double a = (lo - mu) / sd, b = (hi - mu) / sd;
    double pa = isinf(lo) ? 0.0 : ncdf(a), pb = isinf(hi) ? 1.0 : ncdf(b);
    double fa = isinf(lo) ? 0.0 : npdf(a), fb = isinf(hi) ? 0.0 : npdf(b);
    double e = mu * (pb - pa) + sd * (fa - fb);
    if (!isinf(lo))
        e += lo * pa;
    if (!isinf(hi))
        e += hi * (1.0 - pb);
    return e;
}

/* The upper clip of activation node a (plain ReLU: infinity). */
static double act_hi(const qs_model *m, const qs_node *a)
{
    if (a->abits < 32 && a->alpha_off >= 0)
        return m->cfg.quantizer == QS_QUANT_LSQ
                   ? (double)m->param[a->alpha_off] * qs_lsq_ap(a->abits)
                   : (double)m->param[a->alpha_off];
    return a->relu6 ? 6.0 : INFINITY;
}

/* ex [c] = E[x] per input channel of layer node i, from the statistics;
 * returns 0, or 1 when they say nothing about this input. */
static int input_means(double *ex, const qs_model *m, const qs_ptq_bnstats *st, int i)
{
    int src = m->nodes[i].in0;
    if (m->nodes[src].type == QS_NODE_GAP) /* the mean of a mean */
        src = m->nodes[src].in0;
    const qs_node *a = &m->nodes[src];
    double hi = INFINITY, lo = -INFINITY;
    int bn = src;
    if (a->type == QS_NODE_RELU) {
        lo = 0.0;
        hi = act_hi(m, a);
        bn = a->in0;
    }
    if (m->nodes[bn].type != QS_NODE_BN || !st->mean[bn])
        return 1;
    for (int c = 0; c < m->nodes[bn].c; c++)
        ex[c] = qs_dfq_clipped_mean(st->mean[bn][c], st->std[bn][c], lo, hi);
    return 0;
}

/* frac [taps] = the share of a conv's output positions at which tap t reads
 * the input rather than its zero padding: the spatial mean of the output is
 * sum_t w_t E[x] frac_t, not sum_t w_t E[x] (small maps are mostly border). */
static void tap_fractions(double *frac, const qs_node *n)
{
    const qs_conv_shape *s = &n->cs;
    if (n->type == QS_NODE_LINEAR) {
        frac[0] = 1.0;
        return;
    }
    for (int ki = 0; ki < s->kh; ki++)
        for (int kj = 0; kj < s->kw; kj++) {
            long rows = 0, cols = 0;
            for (int o = 0; o < s->ho; o++) {
                int ih = o * s->stride - s->pad + ki;
                rows += ih >= 0 && ih < s->h;
            }
            for (int o = 0; o < s->wo; o++) {
                int iw = o * s->stride - s->pad + kj;
                cols += iw >= 0 && iw < s->w;
            }
            frac[ki * s->kw + kj] = (double)rows * cols / ((double)s->ho * s->wo);
        }
}

int qs_dfq_bias_correct(int *ncorrected, qs_model *m, const qs_ptq_bnstats *st)
{
    int rc = QS_OK, count = 0;
    float *q = NULL;
    double *ex = NULL;
    if (st->nnode != m->nnode)
        return qs_err(QS_EINVAL, "BN statistics of %d nodes do not match the model's %d",
                      st->nnode, m->nnode);
    long maxw = 1, maxc = 1, maxt = 1;
    for (int i = 0; i < m->nnode; i++) {
        const qs_node *n = &m->nodes[i];
        maxw = n->wlen > maxw ? n->wlen : maxw;
        maxc = n->c > maxc ? n->c : maxc;
        if (n->type == QS_NODE_CONV || n->type == QS_NODE_DWCONV)
            maxt = (long)n->cs.kh * n->cs.kw > maxt ? (long)n->cs.kh * n->cs.kw : maxt;
    }
    q = malloc(sizeof(float) * (size_t)maxw);
    ex = malloc(sizeof(double) * (size_t)(maxc + maxt));
    if (!q || !ex) {
        rc = qs_err(QS_ENOMEM, "out of memory for bias correction");
        goto cleanup;
    }
    for (int i = 0; i < m->nnode; i++) {
        qs_node *n = &m->nodes[i];
        long boff;
        qs_qgrid g;
        if (n->type != QS_NODE_CONV && n->type != QS_NODE_DWCONV && n->type != QS_NODE_LINEAR)
            continue;
        int gr = qs_qgrid_get(&g, m, i);
        if (gr < 0) {
            rc = gr;
            goto cleanup;
        }
        if (gr > 0 || qs_ptq_bias_node(m, i, &boff) < 0 || input_means(ex, m, st, i))
            continue;
        const float *w = m->param + n->w_off;
        qs_qgrid_round(q, w, (size_t)n->wlen, &g);
        int dw = n->type == QS_NODE_DWCONV;
        int cin = dw ? 1 : m->nodes[m->nodes[n->in0].type == QS_NODE_GAP
                                          ? m->nodes[n->in0].in0 : n->in0].c;
        long taps = n->wlen / n->c / cin;
        double *frac = ex + maxc;
        tap_fractions(frac, n); /* linear: one "tap", frac 1 */
        for (int o = 0; o < n->c; o++) {
            double d = 0.0;
            for (int c = 0; c < cin; c++) {
                double e = ex[dw ? o : c];
                for (long t = 0; t < taps; t++) {
                    size_t k = ((size_t)o * cin + c) * taps + t;
                    d += ((double)q[k] - w[k]) * e * (n->type == QS_NODE_LINEAR ? 1.0 : frac[t]);
                }
            }
            m->param[boff + o] = (float)(m->param[boff + o] - d);
        }
        count++;
    }
cleanup:
    free(q);
    free(ex);
    if (ncorrected)
        *ncorrected = count;
    return rc;
}

int qs_ptq_bias_correct_bn(qs_model *m, const qs_ptq_bnstats *st)
{
    return qs_dfq_bias_correct(NULL, m, st);
}
