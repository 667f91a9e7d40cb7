/* Cross-layer equalisation and high-bias absorption (cle.h). */
#include "cle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define CLE_BN_EPS 1e-5f

int qs_cle_stats_capture(qs_cle_stats *out, const qs_model *m)
{
    memset(out, 0, sizeof *out);
    size_t n = (size_t)(m->nbuf > 0 ? m->nbuf : 1);
    out->mean = calloc(n, sizeof(float));
    out->std = calloc(n, sizeof(float));
    if (!out->mean || !out->std) {
        qs_cle_stats_free(out);
        return qs_err(QS_ENOMEM, "out of memory for the BN statistics");
    }
    out->nbuf = m->nbuf;
    for (int i = 0; i < m->nnode; i++) {
        const qs_node *b = &m->nodes[i];
        if (b->type != QS_NODE_BN)
            continue;
        for (int j = 0; j < b->c; j++) {
            out->mean[b->rm_off + j] = m->param[b->b_off + j];
            out->std[b->rm_off + j] = fabsf(m->param[b->w_off + j]);
        }
    }
    return QS_OK;
}

void qs_cle_stats_free(qs_cle_stats *s)
{
    free(s->mean);
    free(s->std);
    memset(s, 0, sizeof *s);
}

static int is_layer(const qs_node *n)
{
    return n->type == QS_NODE_CONV || n->type == QS_NODE_DWCONV || n->type == QS_NODE_LINEAR;
}

/* The one consumer of node i, or -1 when it has none or several. */
static int sole_consumer(const qs_model *m, int i)
{
    int who = -1;
    for (int j = i + 1; j < m->nnode; j++) {
        const qs_node *n = &m->nodes[j];
        int uses = (n->in0 == i) + (n->in1 == i);
        if (!uses)
            continue;
        if (who >= 0 || uses > 1)
            return -1;
        who = j;
    }
    return who;
}

int qs_cle_pairs(qs_cle_pair **out, int *npair, const qs_model *m)
{
    *out = NULL;
    *npair = 0;
    qs_cle_pair *p = malloc(sizeof *p * (size_t)(m->nnode > 0 ? m->nnode : 1));
    if (!p)
        return qs_err(QS_ENOMEM, "out of memory listing conv pairs");
    int np = 0;
    for (int a = 0; a < m->nnode; a++) {
        if (!is_layer(&m->nodes[a]))
            continue;
        int bn = -1, nx = sole_consumer(m, a);
        if (nx >= 0 && m->nodes[nx].type == QS_NODE_BN) {
            bn = nx;
            nx = sole_consumer(m, bn);
        }
        if (nx < 0 || m->nodes[nx].type != QS_NODE_RELU || m->nodes[nx].relu6)
            continue;
        int b = sole_consumer(m, nx);
        if (b < 0 || !is_layer(&m->nodes[b]))
            continue;
        p[np++] = (qs_cle_pair){a, bn, nx, b};
    }
    if (np == 0) {
        free(p);
        p = NULL;
    }
    *out = p;
    *npair = np;
    return QS_OK;
}

void qs_cle_cfg_default(qs_cle_cfg *c)
{
    c->max_sweeps = 100;
    c->tol = 1e-4;
}

/* Geometry of a layer's weight: out channels, input channels per group
 * (depthwise: 1, the channel itself), taps per (out, in). */
typedef struct {
    int out, in, taps, dw;
} layer_geom;

static layer_geom geom(const qs_node *n)
{
    layer_geom g = {n->c, 0, 1, 0};
    if (n->type == QS_NODE_LINEAR) {
        g.in = n->in_features;
    } else {
        g.taps = n->cs.kh * n->cs.kw;
        g.dw = n->type == QS_NODE_DWCONV;
        g.in = g.dw ? 1 : n->cs.c;
    }
    return g;
}

int qs_cle_ranges(float *r, const qs_model *m, int node, int axis)
{
    if (node < 0 || node >= m->nnode || !is_layer(&m->nodes[node]))
        return qs_err(QS_EINVAL, "node %d is not a conv, depthwise conv or linear layer", node);
    const qs_node *n = &m->nodes[node];
    layer_geom g = geom(n);
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

/* w of output channel o *= f (and the layer's own bias). */
static void scale_out(qs_model *m, const qs_node *n, int o, float f)
{
    layer_geom g = geom(n);
    float *w = m->param + n->w_off + (size_t)o * g.in * g.taps;
    for (int k = 0; k < g.in * g.taps; k++)
        w[k] *= f;
    if (n->b_off >= 0)
        m->param[n->b_off + o] *= f;
}

/* w of input channel i *= f. */
static void scale_in(qs_model *m, const qs_node *n, int i, float f)
{
    layer_geom g = geom(n);
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

/* A folded BN: gamma 1, running mean 0 and running var + eps 1 per channel,
 * so scaling its input channel only needs its beta scaled too. */
static int bn_folded(const qs_model *m, const qs_node *b)
{
    for (int j = 0; j < b->c; j++) {
        float g = m->param[b->w_off + j], mu = m->buf[b->rm_off + j];
        float v = m->buf[b->rv_off + j];
        if (g != 1.0f || mu != 0.0f || fabsf(v + CLE_BN_EPS - 1.0f) > 1e-6f)
            return 0;
    }
    return 1;
}

static int check_folded(const qs_model *m, const qs_cle_pair *p, int np)
{
    for (int k = 0; k < np; k++)
        if (p[k].bn >= 0 && !bn_folded(m, &m->nodes[p[k].bn]))
            return qs_err(QS_EINVAL, "BN node %d after layer %d is not folded "
                          "(gamma 1, running mean 0, running var 1 - eps): fold BN "
                          "into the convs before equalising", p[k].bn, p[k].first);
    return QS_OK;
}

/* One equalisation of a pair; returns the largest |log s_i|. */
static double equalize_pair(qs_model *m, qs_cle_stats *st, const qs_cle_pair *p,
                            float *r1, float *r2)
{
    const qs_node *a = &m->nodes[p->first], *b = &m->nodes[p->second];
    qs_cle_ranges(r1, m, p->first, 0);
    qs_cle_ranges(r2, m, p->second, 1);
    const qs_node *bn = p->bn >= 0 ? &m->nodes[p->bn] : NULL;
    double change = 0.0;
    for (int i = 0; i < a->c; i++) {
        /* a dead channel on either side has nothing to balance */
        if (!(r1[i] > 0.0f) || !(r2[i] > 0.0f))
            continue;
        double s = sqrt((double)r1[i] * r2[i]) / r2[i];
        scale_out(m, a, i, (float)(1.0 / s));
        scale_in(m, b, i, (float)s);
        if (bn) {
            m->param[bn->b_off + i] /= (float)s;
            if (st) {
                st->mean[bn->rm_off + i] /= (float)s;
                st->std[bn->rm_off + i] /= (float)s;
            }
        }
        double l = fabs(log(s));
        if (l > change)
            change = l;
    }
    return change;
}

/* The widest output channel count of the pairs' first layers. */
static int max_channels(const qs_model *m, const qs_cle_pair *p, int np)
{
    int c = 1;
    for (int k = 0; k < np; k++)
        if (m->nodes[p[k].first].c > c)
            c = m->nodes[p[k].first].c;
    return c;
}

int qs_cle_equalize(qs_cle_report *out, qs_model *m, qs_cle_stats *st, const qs_cle_cfg *c)
{
    qs_cle_pair *p = NULL;
    float *r = NULL;
    int np = 0, rc;
    memset(out, 0, sizeof *out);
    if (c->max_sweeps < 1 || !(c->tol > 0.0))
        return qs_err(QS_EINVAL, "equalisation needs max_sweeps >= 1 (got %d) and tol > 0 (got %g)",
                      c->max_sweeps, c->tol);
    if (st && st->nbuf != m->nbuf)
        return qs_err(QS_EINVAL, "BN statistics of %ld floats do not match the model's %ld",
                      st->nbuf, m->nbuf);
    if ((rc = qs_cle_pairs(&p, &np, m)) != QS_OK)
        goto cleanup;
    out->npair = np;
    if (np == 0)
        goto cleanup;
    if ((rc = check_folded(m, p, np)) != QS_OK)
        goto cleanup;
    int mc = max_channels(m, p, np);
    r = malloc(sizeof(float) * 2 * (size_t)mc);
    if (!r) {
        rc = qs_err(QS_ENOMEM, "out of memory for channel ranges");
        goto cleanup;
    }
    for (int sweep = 0; sweep < c->max_sweeps; sweep++) {
        double change = 0.0;
        for (int k = 0; k < np; k++) {
            double ch = equalize_pair(m, st, &p[k], r, r + mc);
            if (ch > change)
                change = ch;
        }
        out->sweeps = sweep + 1;
        out->last_change = change;
        if (change < c->tol)
            break;
    }
    /* the old steps fit the old ranges: search afresh */
    for (int k = 0; k < np; k++)
        m->nodes[p[k].first].step = m->nodes[p[k].second].step = 0.0f;
    m->weights_dirty = 1;
cleanup:
    free(p);
    free(r);
    return rc;
}

/* The bias vector added to a layer's output: its own, else that of the
 * folded BN that alone consumes it; NULL when it has neither. */
static float *output_bias(qs_model *m, int node)
{
    const qs_node *n = &m->nodes[node];
    if (n->b_off >= 0)
        return m->param + n->b_off;
    int bn = sole_consumer(m, node);
    if (bn >= 0 && m->nodes[bn].type == QS_NODE_BN && bn_folded(m, &m->nodes[bn]))
        return m->param + m->nodes[bn].b_off;
    return NULL;
}

int qs_cle_absorb(int *moved, qs_model *m, qs_cle_stats *st)
{
    qs_cle_pair *p = NULL;
    int np = 0, rc, nmoved = 0;
    if (st->nbuf != m->nbuf)
        return qs_err(QS_EINVAL, "BN statistics of %ld floats do not match the model's %ld",
                      st->nbuf, m->nbuf);
    if ((rc = qs_cle_pairs(&p, &np, m)) != QS_OK)
        return rc;
    if ((rc = check_folded(m, p, np)) != QS_OK)
        goto cleanup;
    for (int k = 0; k < np; k++) {
        if (p[k].bn < 0)
            continue; /* no statistics for a BN-less pair */
        const qs_node *bn = &m->nodes[p[k].bn], *b = &m->nodes[p[k].second];
        float *b2 = output_bias(m, p[k].second);
        if (!b2)
            continue;
        layer_geom g = geom(b);
        const float *w2 = m->param + b->w_off;
        for (int i = 0; i < bn->c; i++) {
            float *mu = &st->mean[bn->rm_off + i];
            float c = *mu - 3.0f * st->std[bn->rm_off + i];
            if (!(c > 0.0f))
                continue;
            m->param[bn->b_off + i] -= c;
            *mu -= c;
            /* second's output o gains sum over its taps of W2[o, i] c */
            for (int o = 0; o < g.out; o++) {
                if (g.dw && o != i)
                    continue;
                const float *wo = w2 + ((size_t)o * g.in + (g.dw ? 0 : i)) * g.taps;
                double s = 0.0;
                for (int t = 0; t < g.taps; t++)
                    s += wo[t];
                b2[o] += (float)(s * c);
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
