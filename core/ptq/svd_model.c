/* SVD compression of a model (svd_model.h): ranks, the factored model,
 * BN re-estimation, the compress phase. */
#include "svd_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "gemm.h"
#include "ptq.h"
#include "svd.h"

/* A weight layer of a whole model: its node and m x n weight. */
typedef struct {
    int node, m, n, eligible;
    float *s;  /* singular values [min(m, n)], eligible layers only */
} layer_info;

static int whole_layer(const qs_node *n)
{
    return (n->type == QS_NODE_CONV || n->type == QS_NODE_LINEAR) && n->layer >= 0;
}

/* The rank at energy e (0: stays whole, as factoring would not save). */
static int rank_at(const layer_info *l, double e)
{
    int k = l->m < l->n ? l->m : l->n, r = k;
    qs_svd_rank_energy(&r, l->s, k, e); /* e is in range here */
    if (r > QS_SVD_MAX_RANK) /* beyond what a configuration holds: kept whole */
        return 0;
    return (long)r * (l->m + l->n) >= (long)l->m * l->n ? 0 : r;
}

/* Counted parameters with every eligible layer at energy e (ranks[] set). */
static long params_at(const layer_info *ls, int nl, long before, double e, int16_t *ranks)
{
    long p = before;
    for (int i = 0; i < nl; i++) {
        int r = ls[i].eligible ? rank_at(&ls[i], e) : 0;
        ranks[i] = (int16_t)r;
        if (r > 0)
            p -= (long)ls[i].m * ls[i].n - qs_svd_params(ls[i].m, ls[i].n, r);
    }
    return p;
}

int qs_svd_plan_ranks(qs_model_cfg *mc, qs_svd_result *res, const qs_model *src,
                      const qs_svd_cfg *c)
{
    layer_info *ls = NULL;
    float *u = NULL, *vt = NULL;
    int nl = 0, rc;
    memset(res, 0, sizeof *res);
    if ((rc = qs_svd_cfg_validate(c)) != QS_OK)
        return rc;
    if (src->cfg.svd_nrank > 0)
        return qs_err(QS_EINVAL, "the model is factored already: compress a whole float model");
    *mc = src->cfg;
    mc->svd_rank = res->ranks;
    for (int i = 0; i < src->nnode; i++)
        nl += whole_layer(&src->nodes[i]);
    if (nl < 1 || nl > QS_SVD_MAX_LAYERS)
        return qs_err(QS_EINVAL, "%d weight layers (SVD compression handles 1..%d)", nl,
                      QS_SVD_MAX_LAYERS);
    if (!(ls = calloc((size_t)nl, sizeof *ls)))
        return qs_err(QS_ENOMEM, "out of memory for SVD ranks");
    size_t big = 0;
    for (int i = 0, l = 0; i < src->nnode; i++) {
        const qs_node *n = &src->nodes[i];
        if (!whole_layer(n))
            continue;
        layer_info *x = &ls[l];
        x->node = i;
        x->m = n->c;
        x->n = (int)(n->wlen / n->c);
        x->eligible = c->first_last || (l > 0 && l < nl - 1);
        res->neligible += x->eligible;
        if (x->eligible && (size_t)x->m * x->n > big)
            big = (size_t)x->m * x->n;
        l++;
    }
    /* u and vt of the largest eligible weight: only the values are kept */
    u = malloc((big + 1) * sizeof(float));
    vt = malloc((big + 1) * sizeof(float));
    if (!u || !vt) {
        rc = qs_err(QS_ENOMEM, "out of memory for the SVD of %zu floats", big);
        goto cleanup;
    }
    for (int l = 0; l < nl; l++) {
        layer_info *x = &ls[l];
        if (!x->eligible)
            continue;
        int k = x->m < x->n ? x->m : x->n;
        if (!(x->s = malloc((size_t)k * sizeof(float)))) {
            rc = qs_err(QS_ENOMEM, "out of memory for singular values");
            goto cleanup;
        }
        const qs_node *n = &src->nodes[x->node];
        if ((rc = qs_svd(x->s, u, vt, src->param + n->w_off, x->m, x->n)) != QS_OK) {
            rc = qs_err_wrap(rc, "weight layer %d (node %d)", l, x->node);
            goto cleanup;
        }
    }
    const long before = src->nparam - src->nalpha;
    double e = c->energy;
    if (c->params > 0) {
        /* the largest energy whose model fits: params_at grows with e */
        const long budget = (long)floor(c->params * (double)before);
        double lo = 1e-9, hi = 1.0;
        long pmin = params_at(ls, nl, before, lo, mc->svd_rank);
        if (pmin > budget) {
            rc = qs_err(QS_EINVAL, "svd params fraction %g is out of reach: rank 1 in every "
                        "eligible layer keeps %ld of %ld parameters (fraction %.4f; allowed: "
                        "above it)", c->params, pmin, before, (double)pmin / before);
            goto cleanup;
        }
        for (int it = 0; it < 60; it++) {
            double mid = 0.5 * (lo + hi);
            if (params_at(ls, nl, before, mid, mc->svd_rank) <= budget)
                lo = mid;
            else
                hi = mid;
        }
        e = lo;
    }
    res->params_before = before;
    res->params_after = params_at(ls, nl, before, e, mc->svd_rank);
    res->energy = e;
    res->nlayers = nl;
    mc->svd_nrank = nl;
    for (int l = 0; l < nl; l++)
        res->nfactored += mc->svd_rank[l] > 0;
cleanup:
    for (int l = 0; ls && l < nl; l++)
        free(ls[l].s);
    free(ls);
    free(u);
    free(vt);
    return rc;
}

/* Copies one whole node's parameters and statistics (same shapes). */
static void copy_node(qs_model *dst, const qs_node *d, const qs_model *src, const qs_node *s)
{
    if (s->type == QS_NODE_BN) {
        memcpy(dst->param + d->w_off, src->param + s->w_off, (size_t)s->c * sizeof(float));
        memcpy(dst->param + d->b_off, src->param + s->b_off, (size_t)s->c * sizeof(float));
        memcpy(dst->buf + d->rm_off, src->buf + s->rm_off, (size_t)s->c * sizeof(float));
        memcpy(dst->buf + d->rv_off, src->buf + s->rv_off, (size_t)s->c * sizeof(float));
        return;
    }
    if (s->w_off >= 0 && s->wlen > 0)
        memcpy(dst->param + d->w_off, src->param + s->w_off, (size_t)s->wlen * sizeof(float));
    if (s->b_off >= 0 && d->b_off >= 0)
        memcpy(dst->param + d->b_off, src->param + s->b_off, (size_t)s->c * sizeof(float));
}

int qs_svd_copy_factors(qs_model *dst, double *worst_err, const qs_model *src)
{
    /* The graphs agree node for node except that a factored layer is two
     * nodes in dst. */
    int j = 0, rc;
    if (worst_err)
        *worst_err = 0;
    for (int i = 0; i < src->nnode; i++, j++) {
        const qs_node *s = &src->nodes[i];
        const qs_node *d = j < dst->nnode ? &dst->nodes[j] : NULL;
        if (!d || d->type != s->type || s->svd_part != 0 || (d->svd_part == 0 && d->c != s->c))
            return qs_err(QS_EINVAL, "the factored model's graph is not the whole model's at "
                          "node %d", i);
        if (d->svd_part != 1) {
            copy_node(dst, d, src, s);
            continue;
        }
        /* B [r, n] is the first node's weight, A [m, r] the second's */
        const qs_node *a = &dst->nodes[j + 1];
        double err = 0;
        int m = s->c, n = (int)(s->wlen / s->c);
        if ((rc = qs_svd_factor(dst->param + a->w_off, dst->param + d->w_off, &err,
                                src->param + s->w_off, m, n, d->svd_rank)) != QS_OK)
            return qs_err_wrap(rc, "weight layer %d (node %d)", s->layer, i);
        if (s->b_off >= 0)
            memcpy(dst->param + a->b_off, src->param + s->b_off, (size_t)s->c * sizeof(float));
        if (worst_err && err > *worst_err)
            *worst_err = err;
        j++;
    }
    if (j != dst->nnode)
        return qs_err(QS_EINVAL, "the factored model has %d nodes, the whole one maps to %d",
                      dst->nnode, j);
    dst->weights_dirty = 1;
    return QS_OK;
}

int qs_svd_compress_model(qs_model *dst, qs_svd_result *res, const qs_model *src,
                          const qs_svd_cfg *c, int max_batch)
{
    qs_model_cfg mc;
    int rc;
    const double t0 = qs_now_s();
    memset(dst, 0, sizeof *dst);
    if ((rc = qs_svd_plan_ranks(&mc, res, src, c)) != QS_OK ||
        (rc = qs_model_build(dst, &mc, max_batch)) != QS_OK)
        return rc;
    if ((rc = qs_svd_copy_factors(dst, &res->worst_err, src)) != QS_OK) {
        qs_model_free(dst);
        return rc;
    }
    res->seconds = qs_now_s() - t0;
    return QS_OK;
}

int qs_svd_bn_recalibrate(qs_model *m, const float *x, int n, int batch)
{
    const size_t per = (size_t)m->cfg.in_c * m->cfg.in_h * m->cfg.in_w;
    double *acc = calloc(2 * (size_t)m->nbuf + 1, sizeof(double));
    long seen = 0;
    if (!acc)
        return qs_err(QS_ENOMEM, "out of memory for BN re-estimation");
    if (batch > m->max_batch)
        batch = m->max_batch;
    for (int s = 0; s + 1 < n; s += batch) {
        int nb = n - s < batch ? n - s : batch;
        if (nb < 2) /* no unbiased variance of one image */
            break;
        qs_model_forward(m, x + (size_t)s * per, nb, 1);
        for (int i = 0; i < m->nnode; i++) {
            const qs_node *b = &m->nodes[i];
            if (b->type != QS_NODE_BN)
                continue;
            const double cnt = (double)nb * b->h * b->w;
            for (int k = 0; k < b->c; k++) {
                double is = b->save_invstd[k];
                double var = 1.0 / (is * is) - QS_BN_EPS; /* the biased batch variance */
                acc[b->rm_off + k] += nb * (double)b->save_mean[k];
                acc[b->rv_off + k] += nb * var * (cnt > 1 ? cnt / (cnt - 1) : 1.0);
            }
        }
        seen += nb;
    }
    for (long k = 0; seen > 0 && k < m->nbuf; k++)
        m->buf[k] = (float)(acc[k] / seen);
    free(acc);
    if (seen == 0)
        return qs_err(QS_EINVAL, "BN re-estimation needs at least 2 images (got %d)", n);
    return QS_OK;
}

int qs_svd_compress_trainer(qs_svd_result *res, qs_trainer *t, int recal)
{
    qs_model dst;
    qs_ptq_calib cal = {0};
    /* the re-estimation reads in-memory images; a tree is streamed */
    if (recal && t->train->kind == QS_DATA_IMAGENET)
        return qs_err(QS_EINVAL, "the compress phase does not run on ImageNet trees yet "
                      "(its BN re-estimation reads an in-memory training set)");
    int rc = qs_svd_compress_model(&dst, res, &t->model, &t->cfg.svd, t->model.max_batch);
    if (rc != QS_OK)
        return rc;
    qs_model_free(&t->model);
    t->model = dst;
    t->mcfg = dst.cfg;
    if (!recal)
        return QS_OK;
    const double t0 = qs_now_s();
    int n = t->train->n < QS_SVD_BN_IMAGES ? t->train->n : QS_SVD_BN_IMAGES;
    qs_set_threads(t->cfg.threads);
    if ((rc = qs_ptq_calib_load(&cal, t->train, n, t->cfg.calib_seed)) == QS_OK)
        rc = qs_svd_bn_recalibrate(&t->model, cal.x, cal.n, t->cfg.batch);
    qs_ptq_calib_free(&cal);
    res->seconds += qs_now_s() - t0;
    return rc;
}

int qs_svd_phase(qs_trainer *t, int stop_after, qs_epoch_cb cb, void *user)
{
    if (t->cfg.phase != QS_PHASE_COMPRESS)
        return qs_err(QS_EINVAL, "qs_svd_phase needs a compress phase, not %s",
                      qs_phase_name(t->cfg.phase));
    if (t->cfg.svd.epochs > 0)
        return qs_trainer_run(t, stop_after, cb, user);
    const double t0 = qs_now_s();
    qs_epoch_metrics em = {0};
    int rc = qs_trainer_eval(t, t->test, &em.test_loss, &em.test_acc);
    if (rc != QS_OK)
        return rc;
    if (!isfinite(em.test_loss))
        return qs_err(QS_EDIVERGED, "the factored model gave a non-finite test loss");
    em.phase = qs_phase_name(t->cfg.phase);
    em.epoch = em.epochs = 1;
    em.train_loss = em.train_acc = NAN; /* no training */
    em.seconds = qs_now_s() - t0;
    t->epoch_done = 1;
    if (cb)
        cb(user, &em);
    return QS_OK;
}

void qs_svd_rank_summary(char *buf, size_t cap, const qs_model_cfg *mc)
{
    int nf = 0, lo = 0, hi = 0;
    buf[0] = 0;
    if (mc->svd_nrank <= 0)
        return;
    for (int i = 0; i < mc->svd_nrank; i++) {
        int r = mc->svd_rank[i];
        if (r <= 0)
            continue;
        lo = nf == 0 || r < lo ? r : lo;
        hi = r > hi ? r : hi;
        nf++;
    }
    if (nf == 0)
        snprintf(buf, cap, "svd 0/%d layers", mc->svd_nrank);
    else if (lo == hi)
        snprintf(buf, cap, "svd %d/%d layers, rank %d", nf, mc->svd_nrank, lo);
    else
        snprintf(buf, cap, "svd %d/%d layers, ranks %d-%d", nf, mc->svd_nrank, lo, hi);
}

void qs_svd_label(char *buf, size_t cap, const qs_svd_cfg *c)
{
    int n = c->energy > 0 ? snprintf(buf, cap, "svd e=%g", c->energy)
                          : snprintf(buf, cap, "svd params=%g", c->params);
    if (n > 0 && (size_t)n < cap && c->first_last)
        n += snprintf(buf + n, cap - (size_t)n, " +first_last");
    if (n > 0 && (size_t)n < cap && c->epochs > 0)
        snprintf(buf + n, cap - (size_t)n, " ft=%d", c->epochs);
}

int qs_svd_ckpt_ranks(long *params, char *summary, size_t scap, char *list, size_t lcap,
                      const uint8_t *bytes, size_t len, const char *what)
{
    qs_model m;
    qs_ckpt_info info;
    int rc = qs_model_load_ckpt_copy(&m, &info, bytes, len, what, 1);
    if (rc)
        return rc;
    *params = m.nparam - m.nalpha;
    qs_svd_rank_summary(summary, scap, &m.cfg);
    qs_svd_rank_list(list, lcap, &m.cfg);
    qs_model_free(&m);
    return QS_OK;
}

void qs_svd_rank_list(char *buf, size_t cap, const qs_model_cfg *mc)
{
    size_t n = 0;
    buf[0] = 0;
    for (int l = 0; l < mc->svd_nrank && n + 8 < cap; l++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%d", l ? "," : "", mc->svd_rank[l]);
}
