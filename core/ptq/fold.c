/* BN folding and the graph questions that follow it (ptq.h): which node
 * carries a layer's bias, and which chains equalisation may rescale. */
#include "ptq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* The running variance of a folded BN: with eps added back it is 1, so the
 * eval forward's invstd rounds to exactly 1.0f (the fold test checks it). */
#define FOLDED_VAR (1.0f - QS_BN_EPS)

static int weighted(qs_node_type t)
{
    return t == QS_NODE_CONV || t == QS_NODE_DWCONV || t == QS_NODE_LINEAR;
}

/* The one node that reads node i, or -1 when none or several do. */
static int sole_consumer(const qs_model *m, int i)
{
    int who = -1;
    for (int j = i + 1; j < m->nnode; j++) {
        const qs_node *n = &m->nodes[j];
        int reads = (n->in0 == i) + (n->in1 == i);
        if (reads == 0)
            continue;
        if (who >= 0 || reads > 1)
            return -1;
        who = j;
    }
    return who;
}

/* BN node b can be folded into its producer: the producer is weighted and
 * b is its only reader. */
static int foldable(const qs_model *m, int b)
{
    const qs_node *n = &m->nodes[b];
    return n->type == QS_NODE_BN && n->in0 >= 0 && weighted(m->nodes[n->in0].type) &&
           sole_consumer(m, n->in0) == b;
}

static int is_folded(const qs_model *m, int b)
{
    const qs_node *n = &m->nodes[b];
    for (int c = 0; c < n->c; c++)
        if (m->param[n->w_off + c] != 1.0f || m->buf[n->rm_off + c] != 0.0f ||
            m->buf[n->rv_off + c] != FOLDED_VAR)
            return 0;
    return 1;
}

void qs_ptq_bnstats_free(qs_ptq_bnstats *st)
{
    if (st->mean)
        for (int i = 0; i < st->nnode; i++) {
            free(st->mean[i]);
            free(st->std[i]);
        }
    free(st->mean);
    free(st->std);
    memset(st, 0, sizeof *st);
}

static void fold_one(qs_model *m, int b, float *mean_out, float *std_out)
{
    const qs_node *n = &m->nodes[b];
    const qs_node *p = &m->nodes[n->in0];
    float *gamma = m->param + n->w_off, *beta = m->param + n->b_off;
    float *rm = m->buf + n->rm_off, *rv = m->buf + n->rv_off;
    const long row = p->wlen / p->c;
    for (int c = 0; c < n->c; c++) {
        /* the eval forward's own arithmetic (bn.c): gamma / sqrt(rv + eps) in double */
        double sc = (double)gamma[c] / sqrt((double)rv[c] + (double)QS_BN_EPS);
        if (mean_out) {
            mean_out[c] = beta[c];
            std_out[c] = fabsf(gamma[c]);
        }
        float *w = m->param + p->w_off + (long)c * row;
        for (long k = 0; k < row; k++)
            w[k] = (float)(w[k] * sc);
        if (p->b_off >= 0)
            m->param[p->b_off + c] = (float)(m->param[p->b_off + c] * sc);
        beta[c] = (float)((double)beta[c] - sc * (double)rm[c]);
        gamma[c] = 1.0f;
        rm[c] = 0.0f;
        rv[c] = FOLDED_VAR;
    }
}

int qs_ptq_fold_bn_stats(qs_model *m, qs_ptq_bnstats *st, int *nfolded)
{
    int count = 0, rc = QS_OK;
    if (st) {
        memset(st, 0, sizeof *st);
        st->nnode = m->nnode;
        st->mean = calloc((size_t)m->nnode, sizeof(float *));
        st->std = calloc((size_t)m->nnode, sizeof(float *));
        if (!st->mean || !st->std) {
            rc = qs_err(QS_ENOMEM, "out of memory for the BN statistics");
            goto cleanup;
        }
    }
    for (int b = 0; b < m->nnode; b++) {
        if (!foldable(m, b))
            continue;
        float *mean = NULL, *std = NULL;
        if (st) {
            st->mean[b] = mean = malloc((size_t)m->nodes[b].c * sizeof(float));
            st->std[b] = std = malloc((size_t)m->nodes[b].c * sizeof(float));
            if (!mean || !std) {
                rc = qs_err(QS_ENOMEM, "out of memory for the BN statistics");
                goto cleanup;
            }
        }
        if (is_folded(m, b)) {
            /* folded before: its distribution is the bias itself, unit spread */
            for (int c = 0; st && c < m->nodes[b].c; c++) {
                mean[c] = m->param[m->nodes[b].b_off + c];
                std[c] = 1.0f;
            }
        } else {
            fold_one(m, b, mean, std);
        }
        count++;
    }
    m->weights_dirty = 1;
cleanup:
    if (rc != QS_OK && st)
        qs_ptq_bnstats_free(st);
    if (nfolded)
        *nfolded = count;
    return rc;
}

int qs_ptq_fold_bn(qs_model *m, int *nfolded) { return qs_ptq_fold_bn_stats(m, NULL, nfolded); }

int qs_ptq_bias_node(const qs_model *m, int i, long *off)
{
    const qs_node *n = &m->nodes[i];
    *off = -1;
    if (!weighted(n->type))
        return -1;
    int b = sole_consumer(m, i);
    if (b >= 0 && m->nodes[b].type == QS_NODE_BN && is_folded(m, b)) {
        *off = m->nodes[b].b_off;
        return b;
    }
    if (n->b_off >= 0) {
        *off = n->b_off;
        return i;
    }
    return -1;
}

int qs_ptq_pairs(qs_ptq_pair *out, int max, int *n, const qs_model *m)
{
    int count = 0;
    if (max < 0 || (max > 0 && !out))
        return qs_err(QS_EINVAL, "pair list of %d entries without room", max);
    for (int p = 0; p < m->nnode; p++) {
        if (!weighted(m->nodes[p].type))
            continue;
        qs_ptq_pair pr = {.prod = p, .bn = -1, .act = -1, .cons = -1, .relu6 = 0};
        int next = sole_consumer(m, p);
        if (next >= 0 && m->nodes[next].type == QS_NODE_BN) {
            if (!is_folded(m, next) || !foldable(m, next))
                continue;
            pr.bn = next;
            next = sole_consumer(m, next);
        }
        if (next < 0 || m->nodes[next].type != QS_NODE_RELU)
            continue;
        pr.act = next;
        pr.relu6 = m->nodes[next].relu6;
        next = sole_consumer(m, next);
        if (next < 0 || !weighted(m->nodes[next].type))
            continue;
        pr.cons = next;
        if (count < max)
            out[count] = pr;
        count++;
    }
    *n = count;
    return QS_OK;
}
