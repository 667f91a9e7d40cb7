/* AdaRound over a whole model, layer by layer in graph order (adaround.h):
 * the calibration inputs of each layer from the partly rounded model, its
 * float targets from a float twin, Adam, the weights written back. */
#include "adaround.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rng.h"

void qs_adaround_result_free(qs_adaround_result *r)
{
    free(r->node);
    free(r->rec_nearest);
    free(r->rec_adaround);
    memset(r, 0, sizeof *r);
}

/* The float twin of m: same graph and counted parameters, float weights
 * and activations (the clips and steps sit after the counted parameters,
 * so the copy is one prefix). */
static int build_twin(qs_model *f, const qs_model *m)
{
    qs_model_cfg c = m->cfg;
    c.wbits = c.abits = c.first_last_bits = 32;
    int rc = qs_model_build(f, &c, m->max_batch);
    if (rc != QS_OK)
        return qs_err_wrap(rc, "AdaRound's float copy of the model");
    memcpy(f->param, m->param, sizeof(float) * (size_t)(m->nparam - m->nalpha));
    memcpy(f->buf, m->buf, sizeof(float) * (size_t)m->nbuf);
    f->weights_dirty = 1;
    return QS_OK;
}

/* The layer's calibration set: xq [n, in_len] its inputs in m (earlier
 * layers rounded), t [n, out_len] the float layer on the float inputs. */
static void gather(float *xq, float *t, qs_adaround_layer *L, qs_model *f, const float *calib,
                   int n)
{
    qs_model *m = L->m;
    const qs_node *nd = &m->nodes[L->node];
    size_t img = (size_t)m->cfg.in_c * m->cfg.in_h * m->cfg.in_w;
    for (int i0 = 0; i0 < n; i0 += m->max_batch) {
        int nb = n - i0 < m->max_batch ? n - i0 : m->max_batch;
        const float *x = calib + (size_t)i0 * img;
        /* an input node's buffer survives the forward: only a ReLU or add
         * works in place, on an input nobody else reads */
        qs_model_forward(m, x, nb, 0);
        memcpy(xq + (size_t)i0 * L->in_len, m->nodes[nd->in0].out,
               sizeof(float) * (size_t)nb * L->in_len);
        qs_model_forward(f, x, nb, 0);
        /* the float layer itself, through the same kernels (no bias) */
        for (int j0 = 0; j0 < nb; j0 += L->batch) {
            int jb = nb - j0 < L->batch ? nb - j0 : L->batch;
            qs_adaround_forward(t + ((size_t)i0 + j0) * L->out_len, L, f->nodes[nd->in0].out +
                                (size_t)j0 * L->in_len, f->param + nd->w_off, jb);
        }
    }
}

/* rec of weights wq over the whole calibration set, batch by batch,
 * weighted by the batch sizes. */
static double rec_all(qs_adaround_layer *L, const float *wq, const float *xq, const float *t,
                      int n)
{
    double e = 0.0;
    for (int i0 = 0; i0 < n; i0 += L->batch) {
        int nb = n - i0 < L->batch ? n - i0 : L->batch;
        e += nb * qs_adaround_rec(L, wq, xq + (size_t)i0 * L->in_len,
                                  t + (size_t)i0 * L->out_len, nb);
    }
    return e / n;
}

/* Adam on v for c->iterations steps over batches drawn from the layer's
 * calibration set (a fresh shuffle each pass). */
static void optimise(float *v, qs_adaround_layer *L, const float *xq, const float *t, int n,
                     const qs_adaround_cfg *c, float *work, int *perm, qs_rng *rng)
{
    size_t wl = (size_t)L->wlen;
    float *dv = work, *m1 = work + wl, *m2 = work + 2 * wl;
    float *xb = work + 3 * wl, *tb = xb + (size_t)L->batch * L->in_len;
    memset(m1, 0, sizeof(float) * wl * 2);
    int nb = c->batch < n ? c->batch : n, pos = n;
    int warm = (int)(c->warmup * c->iterations);
    for (int it = 0; it < c->iterations; it++) {
        for (int j = 0; j < nb; j++) {
            if (pos == n) {
                qs_rng_shuffle(rng, perm, n);
                pos = 0;
            }
            int e = perm[pos++];
            memcpy(xb + (size_t)j * L->in_len, xq + (size_t)e * L->in_len,
                   sizeof(float) * L->in_len);
            memcpy(tb + (size_t)j * L->out_len, t + (size_t)e * L->out_len,
                   sizeof(float) * L->out_len);
        }
        double lambda = 0.0, beta = c->beta_start;
        if (it >= warm) {
            double frac = (double)(it - warm) / fmax(1.0, (double)(c->iterations - warm));
            beta = c->beta_end + (c->beta_start - c->beta_end) * (1.0 - frac);
            lambda = c->lambda;
        }
        qs_adaround_loss(dv, L, v, xb, tb, nb, beta, lambda);
        const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
        double c1 = 1.0 - pow(b1, it + 1), c2 = 1.0 - pow(b2, it + 1);
        for (size_t k = 0; k < wl; k++) {
            m1[k] = (float)(b1 * m1[k] + (1.0 - b1) * dv[k]);
            m2[k] = (float)(b2 * m2[k] + (1.0 - b2) * (double)dv[k] * dv[k]);
            v[k] -= (float)(c->lr * (m1[k] / c1) / (sqrt(m2[k] / c2) + eps));
        }
    }
}

/* Rounds layer `node`; the figures go to out[k] when out is given. */
static int round_layer(qs_adaround_result *out, int k, qs_model *m, qs_model *f, int node,
                       const float *calib, int n, const qs_adaround_cfg *c, qs_rng *rng)
{
    qs_adaround_layer L;
    int mb = c->batch > m->max_batch ? c->batch : m->max_batch;
    int rc = qs_adaround_layer_init(&L, m, node, mb);
    if (rc != QS_OK)
        return rc;
    size_t wl = (size_t)L.wlen;
    float *xq = malloc(sizeof(float) * (size_t)n * L.in_len);
    float *t = malloc(sizeof(float) * (size_t)n * L.out_len);
    float *v = malloc(sizeof(float) * wl * 2);
    float *work = malloc(sizeof(float) * (wl * 3 + (size_t)mb * (L.in_len + L.out_len)));
    int *perm = malloc(sizeof(int) * (size_t)n);
    if (!xq || !t || !v || !work || !perm) {
        rc = qs_err(QS_ENOMEM, "out of memory for AdaRound's calibration cache of layer %d "
                    "(%d images)", node, n);
        goto cleanup;
    }
    for (int i = 0; i < n; i++)
        perm[i] = i;
    float *wq = v + wl;
    gather(xq, t, &L, f, calib, n);
    qs_qgrid_round(wq, m->param + m->nodes[node].w_off, wl, &L.g);
    double e_near = rec_all(&L, wq, xq, t, n);
    qs_adaround_v_init(v, &L);
    optimise(v, &L, xq, t, n, c, work, perm, rng);
    qs_adaround_hard(wq, &L, v);
    double e_ada = rec_all(&L, wq, xq, t, n);
    if (!isfinite(e_ada)) {
        rc = qs_err(QS_EDIVERGED, "AdaRound of layer %d: reconstruction error %g", node, e_ada);
        goto cleanup;
    }
    memcpy(m->param + m->nodes[node].w_off, wq, sizeof(float) * wl);
    m->weights_dirty = 1;
    if (out) {
        out->node[k] = node;
        out->rec_nearest[k] = e_near;
        out->rec_adaround[k] = e_ada;
    }
cleanup:
    free(xq);
    free(t);
    free(v);
    free(work);
    free(perm);
    qs_adaround_layer_free(&L);
    return rc;
}

int qs_adaround_run(qs_adaround_result *out, qs_model *m, const float *calib, int n,
                    const qs_adaround_cfg *c)
{
    qs_model f;
    qs_rng rng;
    int rc, nl = 0;
    memset(&f, 0, sizeof f);
    if (out)
        memset(out, 0, sizeof *out);
    if ((rc = qs_adaround_cfg_validate(c)) != QS_OK)
        return rc;
    if (n < 1)
        return qs_err(QS_EINVAL, "AdaRound needs calibration images (got %d)", n);
    for (int i = 0; i < m->nnode; i++) {
        qs_qgrid g;
        rc = qs_qgrid_get(&g, m, i);
        if (rc < 0)
            return rc;
        nl += rc == 0;
    }
    if (out && nl > 0) {
        out->node = malloc(sizeof(int) * (size_t)nl);
        out->rec_nearest = malloc(sizeof(double) * (size_t)nl);
        out->rec_adaround = malloc(sizeof(double) * (size_t)nl);
        if (!out->node || !out->rec_nearest || !out->rec_adaround) {
            qs_adaround_result_free(out);
            return qs_err(QS_ENOMEM, "out of memory for AdaRound's results");
        }
        out->nlayer = nl;
    }
    if ((rc = build_twin(&f, m)) != QS_OK)
        goto cleanup;
    qs_rng_seed(&rng, c->seed);
    for (int i = 0, k = 0; i < m->nnode && rc == QS_OK; i++) {
        qs_qgrid g;
        if (qs_qgrid_get(&g, m, i) != 0)
            continue;
        rc = round_layer(out, k++, m, &f, i, calib, n, c, &rng);
    }
cleanup:
    qs_model_free(&f);
    if (rc != QS_OK && out)
        qs_adaround_result_free(out);
    return rc;
}

int qs_adaround_model(qs_model *m, const float *calib, int n, const qs_ptq_cfg *pc)
{
    qs_adaround_cfg c;
    qs_adaround_cfg_default(&c);
    c.iterations = pc->iterations;
    c.batch = pc->batch;
    c.seed = pc->calib_seed;
    return qs_adaround_run(NULL, m, calib, n, &c);
}
