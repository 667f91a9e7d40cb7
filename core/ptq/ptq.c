/* The ptq phase (ptq.h): fold, equalise, calibrate, round, correct,
 * evaluate. Each step is its own function; this file orders them. */
#include "ptq_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adaround.h"
#include "clock.h"
#include "err.h"
#include "gemm.h"
#include "layers.h"
#include "lsq.h"
#include "quant.h"

void qs_ptq_model_cfg(qs_model_cfg *mc, const qs_ptq_cfg *c)
{
    mc->quantizer = QS_QUANT_LSQ;
    mc->lsq_per_channel = c->per_channel;
    mc->lsq_winit = QS_LSQ_WINIT_MSE; /* replaced by qs_ptq_weight_steps */
    mc->lsq_offset = 0;
}

int qs_ptq_weight_steps(qs_model *m, int i)
{
    qs_node *n = &m->nodes[i];
    if (n->step_off < 0 || n->wbits >= 32)
        return qs_err(QS_EINVAL, "node %d has no quantized weights with steps", i);
    const size_t row = (size_t)n->wlen / (size_t)n->nstep;
    float *q = malloc(row * sizeof(float));
    if (!q)
        return qs_err(QS_ENOMEM, "out of memory for the weight step search");
    for (int r = 0; r < n->nstep; r++) {
        float d = 0.0f; /* 0: qs_wquant's full search */
        qs_wquant(q, &d, m->param + n->w_off + (size_t)r * row, row, n->wbits);
        m->param[n->step_off + r] = d > 0.0f ? d : 1.0f; /* an all-zero row: any step */
    }
    free(q);
    m->weights_dirty = 1;
    return QS_OK;
}

typedef struct {
    const qs_ptq_calib *cal;
    double loss;
    long correct;
} score_ctx;

static void score_batch(void *user, qs_model *m, int s, int nb)
{
    score_ctx *c = user;
    int ok = 0;
    c->loss += qs_softmax_xent(NULL, &ok, m->nodes[qs_model_out(m)].out, c->cal->y + s, nb,
                               m->cfg.classes, 0.0f) * nb;
    c->correct += ok;
}

/* The setting the phase's model must have been built with. */
static int check_model(const qs_trainer *t)
{
    const qs_model_cfg *mc = &t->model.cfg;
    if (t->cfg.phase != QS_PHASE_PTQ)
        return qs_err(QS_EINVAL, "qs_ptq_run needs a ptq phase, not %s", qs_phase_name(t->cfg.phase));
    if (mc->quantizer != QS_QUANT_LSQ || mc->lsq_offset ||
        mc->lsq_per_channel != t->cfg.ptq.per_channel)
        return qs_err(QS_EINVAL, "the ptq model is not built from qs_ptq_model_cfg "
                      "(quantizer %d, per channel %d, settings per channel %d)", mc->quantizer,
                      mc->lsq_per_channel, t->cfg.ptq.per_channel);
    if (mc->wbits < 32 && (mc->wbits < 2 || mc->first_last_bits < 2))
        return qs_err(QS_EINVAL, "ptq needs at least 2 weight bits (wbits %d, first_last_bits %d)",
                      mc->wbits, mc->first_last_bits);
    return QS_OK;
}

/* Steps 4: the steps of every quantized layer, then its rounding.
 * AdaRound runs over the whole model at once: each layer's targets come
 * from the float weights of the layers before it, which a per-layer call
 * could no longer see once those were rounded. */
static int round_weights(qs_model *m, const qs_ptq_calib *cal, const qs_ptq_cfg *pc)
{
    int rc = QS_OK;
    for (int i = 0; i < m->nnode && rc == QS_OK; i++)
        if (m->nodes[i].step_off >= 0 && m->nodes[i].wbits < 32)
            rc = qs_ptq_weight_steps(m, i);
    if (rc == QS_OK && pc->rounding == QS_PTQ_ADAROUND)
        rc = qs_adaround_model(m, cal->x, cal->n, pc);
    return rc;
}

int qs_ptq_run(qs_ptq_result *out, qs_trainer *t)
{
    const double t0 = qs_now_s();
    const qs_ptq_cfg *pc = &t->cfg.ptq;
    qs_model *m = &t->model;
    qs_ptq_calib cal = {0};
    qs_ptq_bnstats st = {0};
    float **fmean = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = qs_ptq_cfg_validate(pc)) != QS_OK || (rc = check_model(t)) != QS_OK ||
        (rc = qs_ptq_calib_load(&cal, t->train, pc->calib_images, pc->calib_seed)) != QS_OK)
        goto cleanup;
    qs_set_threads(t->cfg.threads);
    /* 1-2: fold, then equalise (which needs the BN statistics folding drops) */
    if ((rc = qs_ptq_fold_bn_stats(m, &st, &out->nfolded)) != QS_OK)
        goto cleanup;
    if (pc->equalize && (rc = qs_ptq_equalize(&out->npairs, m, &st, pc)) != QS_OK)
        goto cleanup;
    /* 3: the activation clips on the float network of the same images
     * (the trainer's MSE calibration over calib_images at calib_seed) */
    t->cfg.calib_examples = pc->calib_images;
    t->cfg.calib_seed = pc->calib_seed;
    t->cfg.alpha_init = QS_ALPHA_MSE;
    m->quant_ready = 0;
    if ((rc = qs_trainer_prepare_quant(t)) != QS_OK)
        goto cleanup;
    if (pc->bias_correction == QS_PTQ_BC_EMPIRICAL) {
        if (!(fmean = calloc((size_t)m->nnode, sizeof(float *)))) {
            rc = qs_err(QS_ENOMEM, "out of memory for bias correction");
            goto cleanup;
        }
        if ((rc = qs_ptq_float_means(fmean, m, &cal)) != QS_OK)
            goto cleanup;
    }
    /* 4-5 */
    if ((rc = round_weights(m, &cal, pc)) != QS_OK)
        goto cleanup;
    if (pc->bias_correction == QS_PTQ_BC_EMPIRICAL)
        rc = qs_ptq_bias_correct(&out->ncorrected, m, &cal, fmean);
    else if (pc->bias_correction == QS_PTQ_BC_BN)
        rc = qs_ptq_bias_correct_bn(m, &st);
    if (rc != QS_OK)
        goto cleanup;
    m->quant_ready = 1;
    /* 6 */
    score_ctx sc = {&cal, 0, 0};
    qs_ptq_calib_pass(m, &cal, score_batch, &sc);
    out->calib_loss = sc.loss / cal.n;
    out->calib_acc = 100.0 * sc.correct / cal.n;
    if (t->test && t->test->n > 0)
        qs_trainer_eval(t, t->test, &out->test_loss, &out->test_acc);
    if (!isfinite(out->test_loss) || !isfinite(out->calib_loss))
        rc = qs_err(QS_EDIVERGED, "ptq gave a non-finite loss (test %g, calibration %g)",
                    out->test_loss, out->calib_loss);
    out->seconds = qs_now_s() - t0;
cleanup:
    qs_ptq_means_free(fmean, m);
    qs_ptq_bnstats_free(&st);
    qs_ptq_calib_free(&cal);
    return rc;
}

int qs_ptq_phase(qs_trainer *t, qs_epoch_cb cb, void *user)
{
    qs_ptq_result r;
    int rc = qs_ptq_run(&r, t);
    if (rc != QS_OK)
        return rc;
    qs_epoch_metrics em = {0};
    em.phase = qs_phase_name(t->cfg.phase);
    em.epoch = em.epochs = 1;
    em.train_loss = r.calib_loss;
    em.train_acc = r.calib_acc;
    em.test_loss = r.test_loss;
    em.test_acc = r.test_acc;
    em.seconds = r.seconds;
    em.img_per_s = r.seconds > 0 ? t->cfg.ptq.calib_images / r.seconds : 0;
    t->epoch_done = 1;
    if (cb)
        cb(user, &em);
    return QS_OK;
}
