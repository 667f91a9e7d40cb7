/* The whole-model gradient check shared by the model tests: per weight
 * node, the directional derivative along v = unit random + unit analytic
 * gradient (renormalised), central differences at five steps, the best
 * agreeing one counts. A purely random direction has g . v of order
 * |g| / sqrt(len), which for deep float32 nets sits near the loss's
 * rounding noise; the gradient part keeps g . v large, the random part
 * keeps the check from seeing only the gradient's own direction. ReLU,
 * ReLU6 and max-pool switches make a single float32 step unreliable; a
 * missed or doubled gradient path is off at every step. */
#ifndef QS_TEST_MODEL_CHECK_H
#define QS_TEST_MODEL_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "rng.h"
#include "tharness.h"

/* Loss of the model on a fixed batch (train-mode BN). */
static double mc_loss(qs_model *m, const float *x, const int *y, int nb)
{
    const float *lg = qs_model_forward(m, x, nb, 1);
    return qs_softmax_xent(NULL, NULL, lg, y, nb, m->cfg.classes, 0.0f);
}

/* Checks every weight node of m on the batch (x, y) of nb examples,
 * drawing directions from r. Returns 1 when all agree (within 3e-2
 * relative, 3e-4 absolute), else 0 with the first disagreeing node in why;
 * *worst (may be NULL) gets the largest |fd - g.v| / (|g.v| + 0.01). */
static int mc_grad_check(qs_model *m, const float *x, const int *y, int nb, qs_rng *r,
                         double *worst, char *why, size_t whylen)
{
    const qs_model_cfg *c = &m->cfg;
    int ok = 1;
    double w = 0;
    float *dl = malloc((size_t)nb * c->classes * sizeof(float));
    float *p0 = malloc((size_t)m->nparam * sizeof(float)), *g = malloc((size_t)m->nparam * sizeof(float));
    float *v = calloc((size_t)m->nparam, sizeof(float));
    if (!dl || !p0 || !g || !v) {
        snprintf(why, whylen, "out of memory");
        ok = 0;
        goto cleanup;
    }
    qs_softmax_xent(dl, NULL, qs_model_forward(m, x, nb, 1), y, nb, c->classes, 1.0f / nb);
    qs_model_backward(m, dl, nb);
    memcpy(g, m->grad, (size_t)m->nparam * sizeof(float));
    memcpy(p0, m->param, (size_t)m->nparam * sizeof(float));
    for (int i = 0; i < m->nnode && ok; i++) {
        const qs_node *n = &m->nodes[i];
        if (n->w_off < 0)
            continue;
        long off = n->w_off;
        long len = n->type == QS_NODE_BN ? 2L * n->c : n->wlen + (n->b_off >= 0 ? n->c : 0);
        double vn = 0, gn = 0, un = 0, gv = 0, best = 1e30, fd_best = 0;
        memset(v, 0, (size_t)m->nparam * sizeof(float));
        for (long j = off; j < off + len; j++) {
            v[j] = (float)qs_rng_normal(r);
            vn += (double)v[j] * v[j];
            gn += (double)g[j] * g[j];
        }
        vn = sqrt(vn);
        gn = sqrt(gn) > 0 ? sqrt(gn) : 1;
        for (long j = off; j < off + len; j++) {
            v[j] = (float)(v[j] / vn + g[j] / gn);
            un += (double)v[j] * v[j];
        }
        for (long j = off; j < off + len; j++) {
            v[j] /= (float)sqrt(un);
            gv += (double)g[j] * v[j];
        }
        static const double hs[5] = {1e-3, 3e-4, 1e-4, 3e-5, 1e-5};
        for (int k = 0; k < 5; k++) {
            for (long j = off; j < off + len; j++)
                m->param[j] = p0[j] + (float)hs[k] * v[j];
            double lp = mc_loss(m, x, y, nb);
            for (long j = off; j < off + len; j++)
                m->param[j] = p0[j] - (float)hs[k] * v[j];
            double lm = mc_loss(m, x, y, nb);
            double fd = (lp - lm) / (2 * hs[k]);
            if (fabs(fd - gv) < best) {
                best = fabs(fd - gv);
                fd_best = fd;
            }
        }
        memcpy(m->param, p0, (size_t)m->nparam * sizeof(float));
        double rel = fabs(fd_best - gv) / (fabs(gv) + 1e-2);
        if (rel > w)
            w = rel;
        if (!T_CLOSE(fd_best, gv, 3e-2, 3e-4)) {
            snprintf(why, whylen, "node %d (type %d, svd part %d): finite difference %.6g vs "
                     "analytic %.6g", i, (int)n->type, n->svd_part, fd_best, gv);
            ok = 0;
        }
    }
cleanup:
    if (worst)
        *worst = w;
    free(dl);
    free(p0);
    free(g);
    free(v);
    return ok;
}

#endif
