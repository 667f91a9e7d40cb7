/* Cross-layer equalisation and high-bias absorption (cle.h). */
#include "cle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

void qs_cle_cfg_default(qs_cle_cfg *c)
{
    c->max_sweeps = 100;
    c->tol = 1e-4;
}

static int is_layer(const qs_node *n)
{
    return n->type == QS_NODE_CONV || n->type == QS_NODE_DWCONV || n->type == QS_NODE_LINEAR;
}

/* A layer's weight as [out][in][taps]: in is the input node's channel
 * count (depthwise: 1, its own channel), taps what each (out, in) holds
 * (conv kh*kw, linear the input's h*w). */
typedef struct {
    int out, in, taps, dw;
} layer_geom;

static layer_geom geom(const qs_model *m, const qs_node *n)
{
    layer_geom g = {n->c, m->nodes[n->in0].c, 1, n->type == QS_NODE_DWCONV};
    if (g.dw)
        g.in = 1;
    g.taps = (int)(n->wlen / n->c / g.in);
    return g;
}

int qs_cle_ranges(float *r, const qs_model *m, int node, int axis)
{
    if (node < 0 || node >= m->nnode || !is_layer(&m->nodes[node]))
        return qs_err(QS_EINVAL, "node %d is not a conv, depthwise conv or linear layer", node);
    const qs_node *n = &m->nodes[node];
    layer_geom g = geom(m, n);
    const float *w = m->param + n->w_off;
    int nch = axis == 0 || g.dw ? g.out : g.in;
    for (int i = 0; i < nch; i++)
        r[i] = 0.0f;
    for (int o = 0; o < g.out; o++)
        for (int i = 0; i < g.in; i++)
            for (int t = 0; t < g.taps; t++) {
                float a = fabsf(w[((size_t)o * g.in + i) * g.taps + t]);
                int ch = axis == 0 || g.dw ? o : i;
                if (a > r[ch])
                    r[ch] = a;
            }
    return QS_OK;
}

/* Output channel o of layer n *= f (its weight row and own bias). */
static void scale_out(qs_model *m, const qs_node *n, int o, float f)
{
    layer_geom g = geom(m, n);
    float *w = m->param + n->w_off + (size_t)o * g.in * g.taps;
    for (int k = 0; k < g.in * g.taps; k++)
        w[k] *= f;
    if (n->b_off >= 0)
        m->param[n->b_off + o] *= f;
}

/* Input channel i of layer n *= f. */
static void scale_in(qs_model *m, const qs_node *n, int i, float f)
{
    layer_geom g = geom(m, n);
    float *w = m->param + n->w_off;
    if (g.dw) {
        for (int t = 0; t < g.taps; t++)
            w[(size_t)i * g.taps + t] *= f;
        return;
    }
    for (int o = 0; o < g.out; o++)
        for (int t = 0; t < g.taps; t++)
            w[((size_t)o * g.in + i) * g.taps + t] *= f;
}

/* The chains to work on: qs_ptq_pairs less the ReLU6 ones. */
static int list_pairs(qs_ptq_pair **out, int *np, const qs_model *m)
{
    int n = 0, k = 0, rc;
    *out = NULL;
    *np = 0;
    if ((rc = qs_ptq_pairs(NULL, 0, &n, m)) != QS_OK || n == 0)
        return rc;
    qs_ptq_pair *p = malloc(sizeof *p * (size_t)n);
    if (!p)
        return qs_err(QS_ENOMEM, "out of memory listing %d conv pairs", n);
    if ((rc = qs_ptq_pairs(p, n, &n, m)) != QS_OK) {
        free(p);
        return rc;
    }
    for (int i = 0; i < n; i++)
        if (!p[i].relu6)
            p[k++] = p[i];
    *out = p;
    *np = k;
    return QS_OK;
}

static int check_stats(const qs_ptq_bnstats *st, const qs_model *m)
{
    if (st && st->nnode != m->nnode)
        return qs_err(QS_EINVAL, "BN statistics of %d nodes do not match the model's %d",
                      st->nnode, m->nnode);
    return QS_OK;
}

/* One equalisation of a pair; returns the largest |log s_i|. */
static double equalize_pair(qs_model *m, qs_ptq_bnstats *st, const qs_ptq_pair *p,
                            float *r1, float *r2)
{
    const qs_node *a = &m->nodes[p->prod], *b = &m->nodes[p->cons];
    qs_cle_ranges(r1, m, p->prod, 0);
    qs_cle_ranges(r2, m, p->cons, 1);
    const qs_node *bn = p->bn >= 0 ? &m->nodes[p->bn] : NULL;
    float *mean = st && bn ? st->mean[p->bn] : NULL, *sd = st && bn ? st->std[p->bn] : NULL;
    double change = 0.0;
    for (int i = 0; i < a->c; i++) {
        /* a dead channel on either side has nothing to balance */
        if (!(r1[i] > 0.0f) || !(r2[i] > 0.0f))
            continue;
        double s = sqrt((double)r1[i] * r2[i]) / r2[i];
        scale_out(m, a, i, (float)(1.0 / s));
        scale_in(m, b, i, (float)s);
        if (bn)
            m->param[bn->b_off + i] = (float)(m->param[bn->b_off + i] / s);
        if (mean) {
            mean[i] = (float)(mean[i] / s);
            sd[i] = (float)(sd[i] / s);
        }
        double l = fabs(log(s));
        if (l > change)
            change = l;
    }
    return change;
}

int qs_cle_equalize(qs_cle_report *out, qs_model *m, qs_ptq_bnstats *st, const qs_cle_cfg *c)
{
    qs_ptq_pair *p = NULL;
    float *r = NULL;
    int np = 0, rc;
    memset(out, 0, sizeof *out);
    if (c->max_sweeps < 1 || !(c->tol > 0.0))
        return qs_err(QS_EINVAL, "equalisation needs max_sweeps >= 1 (got %d) and tol > 0 (got %g)",
                      c->max_sweeps, c->tol);
    if ((rc = check_stats(st, m)) != QS_OK || (rc = list_pairs(&p, &np, m)) != QS_OK)
        goto cleanup;
    out->npair = np;
    if (np == 0)
        goto cleanup;
    /* ranges of output channels (first half) and input channels (second) */
    int mc = 1;
    for (int k = 0; k < np; k++)
        if (m->nodes[p[k].prod].c > mc)
            mc = m->nodes[p[k].prod].c;
    r = malloc(sizeof(float) * 2 * (size_t)mc);
    if (!r) {
        rc = qs_err(QS_ENOMEM, "out of memory for channel ranges");
        goto cleanup;
    }
    for (int sweep = 0; sweep < c->max_sweeps; sweep++) {
        double change = 0.0;
        for (int k = 0; k < np; k++)
            change = fmax(change, equalize_pair(m, st, &p[k], r, r + mc));
        out->sweeps = sweep + 1;
        out->last_change = change;
        if (change < c->tol)
            break;
    }
    /* the old steps fit the old ranges: search afresh */
    for (int k = 0; k < np; k++)
        m->nodes[p[k].prod].step = m->nodes[p[k].cons].step = 0.0f;
    m->weights_dirty = 1;
cleanup:
    free(p);
    free(r);
    return rc;
}

int qs_cle_absorb(int *moved, qs_model *m, qs_ptq_bnstats *st)
{
    qs_ptq_pair *p = NULL;
    int np = 0, rc, nmoved = 0;
    if ((rc = check_stats(st, m)) != QS_OK || (rc = list_pairs(&p, &np, m)) != QS_OK)
        goto cleanup;
    for (int k = 0; k < np; k++) {
        long b2off;
        if (p[k].bn < 0 || !st->mean[p[k].bn] || qs_ptq_bias_node(m, p[k].cons, &b2off) < 0)
            continue; /* no statistics, or nowhere to put the shift */
        const qs_node *bn = &m->nodes[p[k].bn], *b = &m->nodes[p[k].cons];
        float *mean = st->mean[p[k].bn], *sd = st->std[p[k].bn];
        layer_geom g = geom(m, b);
        const float *w2 = m->param + b->w_off;
        for (int i = 0; i < bn->c; i++) {
            float c = mean[i] - 3.0f * sd[i];
            if (!(c > 0.0f))
                continue;
            m->param[bn->b_off + i] -= c;
            mean[i] -= c;
            /* consumer output o gains the sum over its taps of W2[o, i] c */
            for (int o = g.dw ? i : 0; o < (g.dw ? i + 1 : g.out); o++) {
                const float *wo = w2 + ((size_t)o * g.in + (g.dw ? 0 : i)) * g.taps;
                double s = 0.0;
                for (int t = 0; t < g.taps; t++)
                    s += wo[t];
                m->param[b2off + o] += (float)(s * c);
            }
            nmoved++;
        }
    }
    m->weights_dirty = 1;
cleanup:
    free(p);
    if (moved)
        *moved = nmoved;
    return rc;
}

int qs_ptq_equalize(int *npairs, qs_model *m, qs_ptq_bnstats *st, const qs_ptq_cfg *c)
{
    qs_cle_cfg cc;
    qs_cle_report rep;
    (void)c; /* the sweep limits are the method's own, not grid settings */
    qs_cle_cfg_default(&cc);
    int rc = qs_cle_equalize(&rep, m, st, &cc);
    if (npairs)
        *npairs = rep.npair;
    if (rc == QS_OK)
        rc = qs_cle_absorb(NULL, m, st);
    return rc;
}
