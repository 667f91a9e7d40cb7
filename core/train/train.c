/* The epoch loop of one phase: init, calibration, epochs, evaluation. The
 * protocol defaults are in train_proto.c, checkpoints in train_ckpt.c. */
#include "clock.h"
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bp_model.h"
#include "bp_train.h"
#include "err.h"
#include "gemm.h"
#include "layers.h"
#include "lsq.h"
#include "lsq_model.h"
#include "quant.h"
#include "train_src.h"

int qs_trainer_init(qs_trainer *t, const qs_model_cfg *mcfg, const qs_train_cfg *cfg,
                    const qs_dataset *train, const qs_dataset *test)
{
    int rc;
    memset(t, 0, sizeof *t);
    t->mcfg = *mcfg;
    t->cfg = *cfg;
    t->train = train;
    t->test = test;
    t->mcfg.in_c = train->c;
    t->mcfg.in_h = train->h;
    t->mcfg.in_w = train->w;
    t->mcfg.classes = train->classes;
    if (cfg->batch < 1)
        return qs_err(QS_EINVAL, "batch %d must be at least 1", cfg->batch);
    if (cfg->epochs < 1)
        return qs_err(QS_EINVAL, "epochs %d must be at least 1", cfg->epochs);
    if (train->n < cfg->batch)
        return qs_err(QS_EINVAL, "training set has %d examples, fewer than one batch of %d",
                      train->n, cfg->batch);
    if (cfg->phase == QS_PHASE_FLOAT && (mcfg->wbits < 32 || mcfg->abits < 32))
        return qs_err(QS_EINVAL, "the float phase trains wbits = abits = 32; quantized "
                      "bits need --phase retrain --from FLOAT_CHECKPOINT");
    if (cfg->phase == QS_PHASE_COMPRESS && (mcfg->wbits < 32 || mcfg->abits < 32))
        return qs_err(QS_EINVAL, "the compress phase factors a float model: wbits = abits = 32 "
                      "(got %d, %d)", mcfg->wbits, mcfg->abits);
    if (cfg->phase != QS_PHASE_FLOAT && cfg->phase != QS_PHASE_COMPRESS && mcfg->wbits == 32 &&
        mcfg->abits == 32)
        return qs_err(QS_EINVAL, "phase %s needs wbits or abits below 32 ((32, 32) is the float phase)",
                      qs_phase_name(cfg->phase));
    qs_set_threads(cfg->threads);
    if ((rc = qs_model_build(&t->model, &t->mcfg, cfg->batch)) != QS_OK)
        return rc;
    t->mcfg.svd_rank = t->model.cfg.svd_rank; /* the caller's storage need not outlive this */
    qs_rng_seed(&t->rng, cfg->seed);
    qs_model_init(&t->model, &t->rng);
    if ((rc = qs_bp_trainer_setup(t)) != QS_OK) {
        qs_trainer_free(t);
        return rc;
    }
    /* ImageNet batches live in the loader's buffers. */
    int inmem = train->kind != QS_DATA_IMAGENET;
    size_t xlen = inmem ? (size_t)cfg->batch * train->c * train->h * train->w : 1;
    t->xb = malloc(xlen * sizeof(float));
    t->dlogits = malloc((size_t)cfg->batch * train->classes * sizeof(float));
    t->yb = malloc((size_t)(inmem ? cfg->batch : 1) * sizeof(int));
    int nidx = train->n > (test ? test->n : 0) ? train->n : test->n;
    t->idx = malloc((size_t)nidx * sizeof(int));
    if (!t->xb || !t->dlogits || !t->yb || !t->idx) {
        qs_trainer_free(t);
        return qs_err(QS_ENOMEM, "out of memory for batch buffers");
    }
    return QS_OK;
}

void qs_trainer_free(qs_trainer *t)
{
    qs_src_close_all(t);
    qs_model_free(&t->model);
    free(t->xb);
    free(t->dlogits);
    free(t->yb);
    free(t->idx);
    free(t->bp_buf);
    memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------ evaluation */

int qs_trainer_eval(qs_trainer *t, const qs_dataset *d, double *loss, double *acc)
{
    double lsum = 0;
    long correct = 0, seen = 0;
    const float *x;
    const int *y;
    int nb = 0;
    qs_src src;
    int rc = qs_src_begin(&src, t, d, QS_SRC_EVAL);
    while (rc == QS_OK && (rc = qs_src_next(&src, &x, &y, &nb)) == QS_OK && nb > 0) {
        int c = 0;
        const float *logits = qs_model_forward(&t->model, x, nb, 0);
        lsum += qs_softmax_xent(NULL, &c, logits, y, nb, d->classes, 0.0f) * nb;
        correct += c;
        seen += nb;
    }
    qs_src_end(&src);
    *loss = seen ? lsum / seen : 0;
    *acc = seen ? 100.0 * correct / seen : 0;
    return rc;
}

int qs_trainer_predict(qs_trainer *t, const qs_dataset *d, uint8_t *labels)
{
    const int B = t->cfg.batch;
    if (d->kind == QS_DATA_IMAGENET)
        return qs_err(QS_EINVAL, "predictions are for in-memory sets (the decision map)");
    /* Own index slice: d may be larger than the sets t->idx is sized for. */
    int *idx = malloc((size_t)B * sizeof(int));
    if (!idx)
        return qs_err(QS_ENOMEM, "out of memory for prediction");
    for (int s = 0; s < d->n; s += B) {
        int nb = d->n - s < B ? d->n - s : B;
        for (int j = 0; j < nb; j++)
            idx[j] = s + j;
        qs_data_batch(t->xb, t->yb, d, idx, nb, 0, NULL);
        const float *lg = qs_model_forward(&t->model, t->xb, nb, 0);
        for (int j = 0; j < nb; j++) {
            int best = 0;
            for (int k = 1; k < d->classes; k++)
                if (lg[j * d->classes + k] > lg[j * d->classes + best])
                    best = k;
            labels[s + j] = (uint8_t)best;
        }
    }
    free(idx);
    return QS_OK;
}

/* --------------------------------------------------------- quantization */

/* Alpha calibration (methods.md section 2): the float model's ReLU outputs
 * on a fixed-seed sample of training examples, no augmentation, BN in eval
 * mode. Every value is kept up to QS_CALIB_CAP per layer; beyond that a
 * fixed stride subsamples (quantiles of 2000 x 32 x 32 x k values do not
 * need every value, and memory stays bounded). */
#define QS_CALIB_CAP (1u << 20)

static int calibrate_alphas(qs_trainer *t)
{
    qs_model *m = &t->model;
    int rc = QS_OK, n = t->cfg.calib_examples;
    if (n > t->train->n)
        n = t->train->n;
    int *saved = malloc(2 * (size_t)m->nnode * sizeof(int));
    float **vals = calloc((size_t)m->nnode, sizeof(float *));
    size_t *cnt = calloc((size_t)m->nnode, sizeof(size_t));
    size_t *stride = calloc((size_t)m->nnode, sizeof(size_t));
    if (!saved || !vals || !cnt || !stride) {
        rc = qs_err(QS_ENOMEM, "out of memory for alpha calibration");
        goto cleanup;
    }
    for (int i = 0; i < m->nnode; i++) {
        qs_node *nd = &m->nodes[i];
        saved[2 * i] = nd->wbits;
        saved[2 * i + 1] = nd->abits;
        if (nd->alpha_off < 0)
            continue;
        size_t total = (size_t)n * nd->numel;
        stride[i] = (total + QS_CALIB_CAP - 1) / QS_CALIB_CAP;
        vals[i] = malloc((total / stride[i] + 1) * sizeof(float));
        if (!vals[i]) {
            rc = qs_err(QS_ENOMEM, "out of memory for alpha calibration");
            goto cleanup;
        }
    }
    /* The float model: plain ReLU, float weights. */
    for (int i = 0; i < m->nnode; i++)
        m->nodes[i].wbits = m->nodes[i].abits = 32;
    qs_src src;
    const float *x;
    const int *y;
    int nb = 0;
    long s = 0; /* examples seen: skipped files leave gaps in no layer's values */
    rc = qs_src_begin(&src, t, t->train, QS_SRC_CALIB);
    while (rc == QS_OK && (rc = qs_src_next(&src, &x, &y, &nb)) == QS_OK && nb > 0) {
        qs_model_forward(m, x, nb, 0);
        for (int i = 0; i < m->nnode; i++) {
            if (!vals[i])
                continue;
            const qs_node *nd = &m->nodes[i];
            size_t base = (size_t)s * nd->numel, len = (size_t)nb * nd->numel;
            for (size_t j = 0; j < len; j++)
                if ((base + j) % stride[i] == 0)
                    vals[i][cnt[i]++] = nd->out[j];
        }
        s += nb;
    }
    qs_src_end(&src);
    for (int i = 0; i < m->nnode; i++) {
        m->nodes[i].wbits = saved[2 * i];
        m->nodes[i].abits = saved[2 * i + 1];
        if (!vals[i] || rc)
            continue;
        if (m->cfg.quantizer == QS_QUANT_LSQ) {
            qs_lsq_calibrate_node(m, i, vals[i], cnt[i], &t->cfg);
            continue;
        }
        float a;
        if (t->cfg.alpha_init == QS_ALPHA_MSE)
            a = qs_pact_calibrate_mse(vals[i], cnt[i], m->nodes[i].abits);
        else
            a = qs_pact_calibrate_percentile(vals[i], cnt[i], t->cfg.alpha_value);
        if (!(a > 0))
            a = 1.0f;
        m->param[m->nodes[i].alpha_off] = a;
    }
    m->weights_dirty = 1;
cleanup:
    if (vals)
        for (int i = 0; i < m->nnode; i++)
            free(vals[i]);
    free(vals);
    free(cnt);
    free(stride);
    free(saved);
    return rc;
}

int qs_trainer_prepare_quant(qs_trainer *t)
{
    qs_model *m = &t->model;
    int rc = QS_OK;
    if (m->quant_ready)
        return QS_OK;
    if (m->nalpha > 0) {
        if (t->cfg.alpha_init == QS_ALPHA_VALUE) {
            for (int i = 0; i < m->nnode; i++)
                if (m->nodes[i].alpha_off >= 0) /* LSQ+: top level P s = the value */
                    m->param[m->nodes[i].alpha_off] =
                        m->cfg.quantizer == QS_QUANT_LSQ
                            ? (float)t->cfg.alpha_value / qs_lsq_ap(m->nodes[i].abits)
                            : (float)t->cfg.alpha_value;
        } else if ((rc = calibrate_alphas(t)) != QS_OK) {
            return rc;
        }
    }
    /* Steps at 0 make the next forward run the full search. */
    for (int i = 0; i < m->nnode; i++)
        m->nodes[i].step = 0.0f;
    qs_lsq_init_weights(m); /* LSQ steps from the float weights */
    m->weights_dirty = 1;
    m->quant_ready = 1;
    return QS_OK;
}

/* ------------------------------------------------------------- training */

/* Adds the Lipschitz gradient of every linear and groups=1 conv weight;
 * returns R. */
static double add_lipschitz(qs_model *m, double beta)
{
    double r = 0;
    for (int i = 0; i < m->nnode; i++) {
        const qs_node *n = &m->nodes[i];
        if (n->type != QS_NODE_CONV && n->type != QS_NODE_LINEAR)
            continue;
        int fan_out = n->c, fan_in = (int)(n->wlen / n->c);
        r += qs_lipschitz(m->grad + n->w_off, m->param + n->w_off, fan_out, fan_in,
                          (float)beta, m->scratch);
    }
    return r;
}

/* A finite loss far above chance is a diverged run too (a 2-class FCDNN
 * at train loss 2e21 and 53 %): the bound is relative to ln(classes), the
 * loss of a uniform guess, so it needs no state and a resumed phase fails
 * at the same epoch as an uninterrupted one. */
static int check_bound(const qs_epoch_metrics *em, int classes)
{
    double bound = QS_DIVERGE_FACTOR * log(classes > 1 ? classes : 2);
    if (em->train_loss > bound)
        return qs_err(QS_EDIVERGED, "diverged at epoch %d: train loss %.3g > %g x ln(%d classes) "
                      "= %.3g", em->epoch, em->train_loss, QS_DIVERGE_FACTOR, classes, bound);
    return QS_OK;
}

int qs_trainer_run(qs_trainer *t, int stop_after, qs_epoch_cb cb, void *user)
{
    qs_model *m = &t->model;
    const qs_dataset *d = t->train;
    const int B = t->cfg.batch, ipe = d->n / B;
    const long total = (long)ipe * t->cfg.epochs;
    const int last = (stop_after > 0 && stop_after < t->cfg.epochs) ? stop_after : t->cfg.epochs;
    const int quant = t->mcfg.wbits < 32 || t->mcfg.abits < 32;
    const double lip = t->cfg.phase != QS_PHASE_FLOAT ? t->cfg.lipschitz : 0.0;
    const int bp_learn_end = qs_bp_learn_epochs(t);
    int rc;

    qs_set_threads(t->cfg.threads);
    if (quant && (rc = qs_trainer_prepare_quant(t)) != QS_OK)
        return rc;
    while (t->epoch_done < last) {
        /* BitPruning: the widths learn up to bp_learn_end, then are rounded
         * up and stay fixed (left out of the optimiser step) for the
         * fine-tune. Rounding integers again is a no-op, so a fine-tune
         * resumed from its checkpoint continues at the same widths. */
        const int bp_learn = t->epoch_done < bp_learn_end;
        if (m->nbits > 0 && !bp_learn)
            qs_bp_round_up_model(m);
        double t0 = qs_now_s(), lsum = 0, rsum = 0, lr = 0;
        long correct = 0, seen = 0;
        const float *x;
        const int *y;
        int nb = 0;
        qs_src src;
        t->skipped = 0;
        t->skip_msg[0] = 0;
        if ((rc = qs_src_begin(&src, t, d, QS_SRC_TRAIN)))
            return rc;
        for (int b = 0;; b++) {
            int c = 0;
            if (t->interrupt && (b & 7) == 0 && t->interrupt(t->interrupt_user)) {
                qs_src_end(&src);
                return qs_err(QS_EINTR, "stopped on request at epoch %d, iteration %d",
                              t->epoch_done + 1, b + 1);
            }
            if ((rc = qs_src_next(&src, &x, &y, &nb)) || nb == 0)
                break;
            const float *logits = qs_model_forward(m, x, nb, 1);
            /* The smoothed loss is what is minimised, so it is the train_loss
             * reported; evaluation (test_loss) stays plain cross-entropy. */
            double loss = qs_softmax_xent_ls(t->dlogits, &c, logits, y, nb, d->classes,
                                             1.0f / nb, t->cfg.label_smoothing);
            if (!isfinite(loss)) {
                qs_src_end(&src);
                return qs_err(QS_EDIVERGED, "diverged at epoch %d: train loss %g at iteration %d",
                              t->epoch_done + 1, loss, b + 1);
            }
            lsum += loss * nb;
            correct += c;
            seen += nb;
            qs_model_backward(m, t->dlogits, nb);
            if (lip > 0)
                rsum += add_lipschitz(m, lip);
            if (bp_learn)
                qs_bp_add_loss(t);
            /* PACT's alpha penalty; LSQ steps and offsets and the learned
             * widths (the tail's last nbits) go without. */
            for (long a = m->nparam - m->nalpha;
                 m->cfg.quantizer == QS_QUANT_HWANG_PACT && a < m->nparam - m->nbits; a++)
                m->grad[a] += (float)(2.0 * t->cfg.pact_l2 * m->param[a]);
            lr = qs_sched_lr(&t->cfg.sched, t->iter, total, ipe);
            t->iter++;
            qs_opt_step(m->param, m->opt_m, m->opt_v, m->grad, (size_t)(m->nparam - m->nbits),
                        &t->cfg.opt, lr, t->iter);
            if (m->cfg.quantizer == QS_QUANT_LSQ)
                qs_lsq_clamp_steps(m);
            if (bp_learn)
                qs_bp_opt_step(t, lr);
            m->weights_dirty = 1;
        }
        qs_src_end(&src);
        if (rc)
            return rc;
        double t1 = qs_now_s();
        qs_epoch_metrics em = {0};
        em.phase = qs_phase_name(t->cfg.phase);
        em.epoch = t->epoch_done + 1;
        em.epochs = t->cfg.epochs;
        em.lr = lr;
        /* seen: ipe x B but for files an ImageNet epoch skipped */
        em.train_loss = seen ? lsum / (double)seen : 0;
        em.train_acc = seen ? 100.0 * correct / (double)seen : 0;
        em.lipschitz = ipe ? rsum / ipe : 0;
        if ((rc = check_bound(&em, d->classes)))
            return rc;
        if (t->test && t->test->n > 0 &&
            (rc = qs_trainer_eval(t, t->test, &em.test_loss, &em.test_acc)))
            return rc;
        em.skipped = t->skipped;
        em.skip_msg = t->skip_msg;
        if (!isfinite(em.test_loss))
            return qs_err(QS_EDIVERGED, "diverged at epoch %d: test loss %g", em.epoch,
                          em.test_loss);
        em.seconds = qs_now_s() - t0;
        em.img_per_s = (double)seen / (t1 - t0 > 0 ? t1 - t0 : 1e-9);
        t->epoch_done++;
        if (cb && cb(user, &em))
            break;
    }
    return QS_OK;
}
