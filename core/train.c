/* The epoch loop of one phase, with protocol defaults and checkpoints. */
#include "clock.h"
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "err.h"
#include "gemm.h"
#include "layers.h"
#include "quant.h"

const char *qs_phase_name(qs_phase p)
{
    static const char *names[] = {"float", "retrain", "clr"};
    return (unsigned)p < 3 ? names[p] : "?";
}

int qs_phase_parse(qs_phase *out, const char *s)
{
    for (int p = 0; p < 3; p++)
        if (strcmp(s, qs_phase_name((qs_phase)p)) == 0) {
            *out = (qs_phase)p;
            return QS_OK;
        }
    return qs_err(QS_EINVAL, "unknown phase \"%s\" (allowed: float, retrain, clr)", s);
}

void qs_train_cfg_default(qs_train_cfg *c, qs_data_kind data, qs_phase phase)
{
    memset(c, 0, sizeof *c);
    c->phase = phase;
    c->batch = 128;
    c->seed = 1;
    c->threads = 1;
    c->pact_l2 = 1e-4;
    c->alpha_init = QS_ALPHA_MSE;
    c->calib_examples = 2000;
    c->calib_seed = 20201;
    c->opt.kind = QS_OPT_SGD;
    c->opt.momentum = 0.9;
    c->opt.beta1 = 0.9;
    c->opt.beta2 = 0.999;
    c->opt.eps = 1e-8;
    c->sched.gamma = 0.1;
    c->sched.clr_shape = QS_CLR_TRIANGLE;
    c->augment = data != QS_DATA_SYNTHETIC;
    if (phase == QS_PHASE_CLR) {
        c->sched.kind = QS_SCHED_CLR;
        c->sched.lr = 1e-3;
        c->sched.lr_min = 1e-5;
    }
    switch (data) {
    case QS_DATA_CIFAR10:
        if (phase == QS_PHASE_FLOAT) {
            c->epochs = 200;
            c->sched.kind = QS_SCHED_STEP;
            c->sched.lr = 0.1;
            c->sched.milestones[0] = 0.5;
            c->sched.milestones[1] = 0.75;
            c->sched.nmilestones = 2;
            c->opt.weight_decay = 5e-4;
        } else if (phase == QS_PHASE_RETRAIN) {
            c->epochs = 100;
            c->sched.kind = QS_SCHED_STEP;
            c->sched.lr = 0.01;
            c->sched.milestones[0] = 0.5;
            c->sched.milestones[1] = 0.8;
            c->sched.nmilestones = 2;
        } else {
            c->epochs = 40;
            c->sched.period = 8;
        }
        break;
    case QS_DATA_FMNIST:
        c->sched.kind = phase == QS_PHASE_CLR ? QS_SCHED_CLR : QS_SCHED_COSINE;
        if (phase == QS_PHASE_FLOAT) {
            c->epochs = 30;
            c->sched.lr = 0.1;
            c->opt.weight_decay = 5e-4;
        } else if (phase == QS_PHASE_RETRAIN) {
            c->epochs = 15;
            c->sched.lr = 0.01;
        } else {
            c->epochs = 8;
            c->sched.period = 4;
        }
        break;
    case QS_DATA_SYNTHETIC:
        c->opt.kind = QS_OPT_ADAM;
        c->sched.kind = phase == QS_PHASE_CLR ? QS_SCHED_CLR : QS_SCHED_COSINE;
        if (phase == QS_PHASE_FLOAT) {
            c->epochs = 100;
            c->sched.lr = 1e-3;
        } else if (phase == QS_PHASE_RETRAIN) {
            c->epochs = 30;
            c->sched.lr = 1e-4;
        } else {
            c->epochs = 16;
            c->sched.lr = 1e-4;
            c->sched.lr_min = 1e-6;
            c->sched.period = 8;
        }
        break;
    }
}

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
    if (cfg->phase != QS_PHASE_FLOAT && mcfg->wbits == 32 && mcfg->abits == 32)
        return qs_err(QS_EINVAL, "phase %s needs wbits or abits below 32 ((32, 32) is the float phase)",
                      qs_phase_name(cfg->phase));
    qs_set_threads(cfg->threads);
    if ((rc = qs_model_build(&t->model, &t->mcfg, cfg->batch)) != QS_OK)
        return rc;
    qs_rng_seed(&t->rng, cfg->seed);
    qs_model_init(&t->model, &t->rng);
    size_t xlen = (size_t)cfg->batch * train->c * train->h * train->w;
    t->xb = malloc(xlen * sizeof(float));
    t->dlogits = malloc((size_t)cfg->batch * train->classes * sizeof(float));
    t->yb = malloc((size_t)cfg->batch * sizeof(int));
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
    qs_model_free(&t->model);
    free(t->xb);
    free(t->dlogits);
    free(t->yb);
    free(t->idx);
    memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------ evaluation */

int qs_trainer_eval(qs_trainer *t, const qs_dataset *d, double *loss, double *acc)
{
    const int B = t->cfg.batch;
    double lsum = 0;
    long correct = 0;
    for (int i = 0; i < d->n; i++)
        t->idx[i] = i;
    for (int s = 0; s < d->n; s += B) {
        int nb = d->n - s < B ? d->n - s : B;
        int c = 0;
        qs_data_batch(t->xb, t->yb, d, t->idx + s, nb, 0, NULL);
        const float *logits = qs_model_forward(&t->model, t->xb, nb, 0);
        lsum += qs_softmax_xent(NULL, &c, logits, t->yb, nb, d->classes, 0.0f) * nb;
        correct += c;
    }
    *loss = d->n ? lsum / d->n : 0;
    *acc = d->n ? 100.0 * correct / d->n : 0;
    return QS_OK;
}

int qs_trainer_predict(qs_trainer *t, const qs_dataset *d, uint8_t *labels)
{
    const int B = t->cfg.batch;
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
    qs_rng r;
    qs_rng_seed(&r, t->cfg.calib_seed);
    for (int i = 0; i < t->train->n; i++)
        t->idx[i] = i;
    qs_rng_shuffle(&r, t->idx, t->train->n);
    const int B = t->cfg.batch;
    for (int s = 0; s < n; s += B) {
        int nb = n - s < B ? n - s : B;
        qs_data_batch(t->xb, t->yb, t->train, t->idx + s, nb, 0, NULL);
        qs_model_forward(m, t->xb, nb, 0);
        for (int i = 0; i < m->nnode; i++) {
            if (!vals[i])
                continue;
            const qs_node *nd = &m->nodes[i];
            size_t base = (size_t)s * nd->numel, len = (size_t)nb * nd->numel;
            for (size_t j = 0; j < len; j++)
                if ((base + j) % stride[i] == 0)
                    vals[i][cnt[i]++] = nd->out[j];
        }
    }
    for (int i = 0; i < m->nnode; i++) {
        m->nodes[i].wbits = saved[2 * i];
        m->nodes[i].abits = saved[2 * i + 1];
        if (!vals[i])
            continue;
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
                if (m->nodes[i].alpha_off >= 0)
                    m->param[m->nodes[i].alpha_off] = (float)t->cfg.alpha_value;
        } else if ((rc = calibrate_alphas(t)) != QS_OK) {
            return rc;
        }
    }
    /* Steps at 0 make the next forward run the full search. */
    for (int i = 0; i < m->nnode; i++)
        m->nodes[i].step = 0.0f;
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

int qs_trainer_run(qs_trainer *t, int stop_after, qs_epoch_cb cb, void *user)
{
    qs_model *m = &t->model;
    const qs_dataset *d = t->train;
    const int B = t->cfg.batch, ipe = d->n / B;
    const long total = (long)ipe * t->cfg.epochs;
    const int last = (stop_after > 0 && stop_after < t->cfg.epochs) ? stop_after : t->cfg.epochs;
    const int quant = t->mcfg.wbits < 32 || t->mcfg.abits < 32;
    const double lip = t->cfg.phase != QS_PHASE_FLOAT ? t->cfg.lipschitz : 0.0;
    int rc;

    qs_set_threads(t->cfg.threads);
    if (quant && (rc = qs_trainer_prepare_quant(t)) != QS_OK)
        return rc;
    while (t->epoch_done < last) {
        double t0 = qs_now_s(), lsum = 0, rsum = 0, lr = 0;
        long correct = 0;
        for (int i = 0; i < d->n; i++)
            t->idx[i] = i;
        qs_rng_shuffle(&t->rng, t->idx, d->n);
        for (int b = 0; b < ipe; b++) {
            int c = 0;
            if (t->interrupt && (b & 7) == 0 && t->interrupt(t->interrupt_user))
                return qs_err(QS_EINTR, "stopped on request at epoch %d, iteration %d",
                              t->epoch_done + 1, b + 1);
            qs_data_batch(t->xb, t->yb, d, t->idx + (size_t)b * B, B, t->cfg.augment, &t->rng);
            const float *logits = qs_model_forward(m, t->xb, B, 1);
            /* The smoothed loss is what is minimised, so it is the train_loss
             * reported; evaluation (test_loss) stays plain cross-entropy. */
            double loss = qs_softmax_xent_ls(t->dlogits, &c, logits, t->yb, B, d->classes,
                                             1.0f / B, t->cfg.label_smoothing);
            if (!isfinite(loss))
                return qs_err(QS_EDIVERGED, "diverged: loss is %g at epoch %d, iteration %d",
                              loss, t->epoch_done + 1, b + 1);
            lsum += loss * B;
            correct += c;
            qs_model_backward(m, t->dlogits, B);
            if (lip > 0)
                rsum += add_lipschitz(m, lip);
            for (long a = m->nparam - m->nalpha; a < m->nparam; a++)
                m->grad[a] += (float)(2.0 * t->cfg.pact_l2 * m->param[a]);
            lr = qs_sched_lr(&t->cfg.sched, t->iter, total, ipe);
            t->iter++;
            qs_opt_step(m->param, m->opt_m, m->opt_v, m->grad, (size_t)m->nparam,
                        &t->cfg.opt, lr, t->iter);
            m->weights_dirty = 1;
        }
        double t1 = qs_now_s();
        qs_epoch_metrics em = {0};
        em.phase = qs_phase_name(t->cfg.phase);
        em.epoch = t->epoch_done + 1;
        em.epochs = t->cfg.epochs;
        em.lr = lr;
        em.train_loss = lsum / ((double)ipe * B);
        em.train_acc = 100.0 * correct / ((double)ipe * B);
        em.lipschitz = ipe ? rsum / ipe : 0;
        if (t->test && t->test->n > 0)
            qs_trainer_eval(t, t->test, &em.test_loss, &em.test_acc);
        if (!isfinite(em.test_loss))
            return qs_err(QS_EDIVERGED, "diverged: test loss is %g at epoch %d",
                          em.test_loss, em.epoch);
        em.seconds = qs_now_s() - t0;
        em.img_per_s = (double)ipe * B / (t1 - t0 > 0 ? t1 - t0 : 1e-9);
        t->epoch_done++;
        if (cb && cb(user, &em))
            break;
    }
    return QS_OK;
}

/* ---------------------------------------------------------- checkpoints */

/* Section "model": the architecture as int32s, compared on load. */
static void model_ints(int32_t *v, const qs_model_cfg *c)
{
    int32_t x[12] = {c->arch, c->block, c->depth, c->width, c->residual, c->in_c,
                     c->in_h, c->in_w, c->classes, c->wbits, c->abits, c->first_last_bits};
    memcpy(v, x, sizeof x);
}

static void model_from_ints(qs_model_cfg *c, const int32_t *v)
{
    memset(c, 0, sizeof *c);
    c->arch = (qs_arch)v[0];
    c->block = (qs_block)v[1];
    c->depth = v[2];
    c->width = v[3];
    c->residual = v[4];
    c->in_c = v[5];
    c->in_h = v[6];
    c->in_w = v[7];
    c->classes = v[8];
    c->wbits = v[9];
    c->abits = v[10];
    c->first_last_bits = v[11];
}

typedef struct {
    int64_t epoch_done, iter, nparam, nalpha, nbuf, nnode;
    uint32_t rng[4];
    int32_t quant_ready, phase;
} ck_state;

int qs_trainer_encode(const qs_trainer *t, uint8_t **out, size_t *len)
{
    const qs_model *m = &t->model;
    qs_ckpt_writer w;
    int32_t mi[12];
    ck_state st;
    float *steps = malloc((size_t)m->nnode * sizeof(float) + 1);
    int rc = QS_OK;
    if (!steps)
        return qs_err(QS_ENOMEM, "out of memory encoding a checkpoint");
    memset(&st, 0, sizeof st);
    st.epoch_done = t->epoch_done;
    st.iter = t->iter;
    st.nparam = m->nparam;
    st.nalpha = m->nalpha;
    st.nbuf = m->nbuf;
    st.nnode = m->nnode;
    memcpy(st.rng, t->rng.s, sizeof st.rng);
    st.quant_ready = m->quant_ready;
    st.phase = t->cfg.phase;
    for (int i = 0; i < m->nnode; i++)
        steps[i] = m->nodes[i].step;
    /* Whether the quantized weights in use match params and steps (see
     * requantize_at_steps). */
    int32_t qclean = m->quant_ready && !m->weights_dirty;
    model_ints(mi, &t->mcfg);
    qs_ckpt_writer_init(&w);
    if ((rc = qs_ckpt_writer_add(&w, "model", mi, sizeof mi)) ||
        (rc = qs_ckpt_writer_add(&w, "train_cfg", &t->cfg, QS_TRAIN_CFG_CKPT_SIZE)) ||
        (rc = qs_ckpt_writer_add(&w, "label_smoothing", &t->cfg.label_smoothing,
                                 sizeof t->cfg.label_smoothing)) ||
        (rc = qs_ckpt_writer_add(&w, "state", &st, sizeof st)) ||
        (rc = qs_ckpt_writer_add(&w, "params", m->param, (size_t)m->nparam * 4)) ||
        (rc = qs_ckpt_writer_add(&w, "buffers", m->buf, (size_t)m->nbuf * 4)) ||
        (rc = qs_ckpt_writer_add(&w, "opt_m", m->opt_m, (size_t)m->nparam * 4)) ||
        (rc = qs_ckpt_writer_add(&w, "opt_v", m->opt_v, (size_t)m->nparam * 4)) ||
        (rc = qs_ckpt_writer_add(&w, "steps", steps, (size_t)m->nnode * 4)) ||
        (rc = qs_ckpt_writer_add(&w, "qclean", &qclean, sizeof qclean)))
        goto cleanup;
    const uint8_t *bytes;
    if ((rc = qs_ckpt_writer_finish(&w, &bytes, len)) != QS_OK)
        goto cleanup;
    *out = malloc(*len);
    if (!*out) {
        rc = qs_err(QS_ENOMEM, "out of memory encoding a checkpoint");
        goto cleanup;
    }
    memcpy(*out, bytes, *len);
cleanup:
    qs_ckpt_writer_free(&w);
    free(steps);
    return rc;
}

int qs_trainer_save(const qs_trainer *t, const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = qs_trainer_encode(t, &buf, &len);
    if (rc == QS_OK)
        rc = qs_ckpt_save_bytes(path, buf, len);
    free(buf);
    return rc;
}

/* Fetches a section of exactly `size` bytes (or any size when size == 0). */
static const uint8_t *section(const qs_ckpt *ck, const char *name, size_t size,
                           const char *what, int *rc)
{
    size_t got = 0;
    const void *p = qs_ckpt_get(ck, name, &got);
    if (*rc)
        return NULL;
    if (!p)
        *rc = qs_err(QS_EFORMAT, "%s: checkpoint has no \"%s\" section", what, name);
    else if (size && got != size)
        *rc = qs_err(QS_EFORMAT, "%s: section \"%s\" is %zu bytes, expected %zu",
                     what, name, got, size);
    return p;
}

/* Architecture identity ignoring the bits (a parent float checkpoint feeds a
 * quantized child). */
static int same_arch(const qs_model_cfg *a, const qs_model_cfg *b)
{
    return a->arch == b->arch && (a->arch == QS_ARCH_FCDNN || a->block == b->block) &&
           a->depth == b->depth && a->width == b->width && a->residual == b->residual &&
           a->in_c == b->in_c && a->in_h == b->in_h && a->in_w == b->in_w &&
           a->classes == b->classes;
}

static int check_arch(const qs_model_cfg *ck, const qs_model_cfg *want, const char *what)
{
    char a[64], b[64];
    if (same_arch(ck, want))
        return QS_OK;
    qs_model_name(a, sizeof a, ck);
    qs_model_name(b, sizeof b, want);
    return qs_err(QS_EINVAL, "%s holds %s (%dx%dx%d input, %d classes), this phase is %s "
                  "(%dx%dx%d input, %d classes)", what, a, ck->in_c, ck->in_h, ck->in_w,
                  ck->classes, b, want->in_c, want->in_h, want->in_w, want->classes);
}

static int load_parent_from(qs_trainer *t, qs_ckpt *ck, const char *path);

typedef int (*ckpt_apply_fn)(qs_trainer *t, qs_ckpt *ck, const char *what);

/* Reads the checkpoint from the file `what` (buf NULL) or decodes buf (owned
 * from here on), then applies it to the trainer. */
static int with_ckpt(qs_trainer *t, const char *what, uint8_t *buf, size_t len,
                     ckpt_apply_fn apply)
{
    qs_ckpt ck;
    int rc = buf ? qs_ckpt_decode(&ck, buf, len, what) : qs_ckpt_load(&ck, what);
    if (rc != QS_OK)
        return rc;
    rc = apply(t, &ck, what);
    qs_ckpt_free(&ck);
    return rc;
}

int qs_trainer_load_parent(qs_trainer *t, const char *path)
{
    return with_ckpt(t, path, NULL, 0, load_parent_from);
}

int qs_trainer_load_parent_bytes(qs_trainer *t, uint8_t *buf, size_t len, const char *what)
{
    if (!buf)
        return qs_err(QS_EINVAL, "%s: no checkpoint bytes", what);
    return with_ckpt(t, what, buf, len, load_parent_from);
}

static int load_parent_from(qs_trainer *t, qs_ckpt *ckp, const char *path)
{
    qs_model *m = &t->model;
    int rc = QS_OK;
    const void *mip = section(ckp, "model", 12 * sizeof(int32_t), path, &rc);
    const void *stp = section(ckp, "state", sizeof(ck_state), path, &rc);
    qs_model_cfg pc;
    int32_t mi[12];
    ck_state stv, *st = &stv;
    if (rc)
        goto cleanup;
    /* Sections are unaligned inside the buffer: copy, never cast. */
    memcpy(mi, mip, sizeof mi);
    memcpy(&stv, stp, sizeof stv);
    model_from_ints(&pc, mi);
    if ((rc = check_arch(&pc, &t->mcfg, path)) != QS_OK)
        goto cleanup;
    /* The chain of methods.md sections 2-3: retrain starts from the float
     * checkpoint, clr from the retrained one (a clr from a float model
     * would silently calibrate and skip the retraining). */
    if (t->cfg.phase != QS_PHASE_FLOAT) {
        qs_phase want = t->cfg.phase == QS_PHASE_CLR ? QS_PHASE_RETRAIN : QS_PHASE_FLOAT;
        if (st->phase != (int32_t)want) {
            rc = qs_err(QS_EINVAL, "%s is a %s checkpoint; the %s phase starts from a %s one",
                        path, qs_phase_name((qs_phase)st->phase), qs_phase_name(t->cfg.phase),
                        qs_phase_name(want));
            goto cleanup;
        }
    }
    long core = m->nparam - m->nalpha;
    if (st->nparam - st->nalpha != core || st->nbuf != m->nbuf) {
        rc = qs_err(QS_EFORMAT, "%s: parameter count %lld does not match the model's %ld",
                    path, (long long)(st->nparam - st->nalpha), core);
        goto cleanup;
    }
    const uint8_t *params = section(ckp, "params", (size_t)st->nparam * 4, path, &rc);
    const uint8_t *bufs = section(ckp, "buffers", (size_t)st->nbuf * 4, path, &rc);
    const uint8_t *steps = section(ckp, "steps", (size_t)st->nnode * 4, path, &rc);
    if (rc)
        goto cleanup;
    memcpy(m->param, params, (size_t)core * 4);
    memcpy(m->buf, bufs, (size_t)m->nbuf * 4);
    /* Step sizes and alphas carry over only between quantized phases of the
     * same bits (retrain -> clr); a float parent gets calibrated. */
    if (st->quant_ready && pc.wbits == t->mcfg.wbits && pc.abits == t->mcfg.abits &&
        st->nnode == m->nnode && st->nalpha == m->nalpha) {
        memcpy(m->param + core, params + (size_t)core * 4, (size_t)m->nalpha * 4);
        for (int i = 0; i < m->nnode; i++)
            memcpy(&m->nodes[i].step, steps + (size_t)i * 4, 4);
        m->quant_ready = 1;
    } else if (pc.wbits != 32 || pc.abits != 32) {
        if (t->cfg.phase == QS_PHASE_CLR) {
            rc = qs_err(QS_EINVAL, "%s is a W%dA%d checkpoint; this clr phase is W%dA%d "
                        "(clr continues the retrained model of the same bits)", path,
                        pc.wbits, pc.abits, t->mcfg.wbits, t->mcfg.abits);
            goto cleanup;
        }
    }
    memset(m->opt_m, 0, (size_t)m->nparam * 4);
    memset(m->opt_v, 0, (size_t)m->nparam * 4);
    m->weights_dirty = 1;
    t->epoch_done = 0;
    t->iter = 0;
cleanup:
    return rc;
}

/* The quantized weights a checkpoint was saved with, rebuilt from params
 * and steps without any search: qs_wquant always leaves q = D z(D),
 * z(D) = clip(round(w / D), -M, M), for the D it returns, however its
 * alternation ended. Re-running the warm alternation from D instead would
 * move D again whenever the saved quantization stopped at its 10-iteration
 * limit, and the resumed run would drift from the uninterrupted one. */
static void requantize_at_steps(qs_model *m)
{
    for (int i = 0; i < m->nnode; i++) {
        qs_node *n = &m->nodes[i];
        const float *w = m->param + n->w_off;
        if (n->wbits >= 32)
            continue;
        float d = n->step;
        if (n->wbits == 1 || !(d > 0.0f)) {
            /* Binary: a closed form of w alone. D = 0: all-zero w, q = 0. */
            qs_wquant(n->qw, &d, w, (size_t)n->wlen, n->wbits);
            n->step = d;
            continue;
        }
        float mx = (float)(ldexp(1.0, n->wbits - 1) - 1.0);
        for (long j = 0; j < n->wlen; j++) {
            float z = roundf(w[j] / d); /* the division and rounding of wquant.c */
            z = z > mx ? mx : (z < -mx ? -mx : z);
            n->qw[j] = d * z;
        }
    }
    m->weights_dirty = 0;
}

static int resume_from(qs_trainer *t, qs_ckpt *ck, const char *what)
{
    qs_model *m = &t->model;
    int rc = QS_OK;
    const void *mip = section(ck, "model", 12 * sizeof(int32_t), what, &rc);
    const void *tcp = section(ck, "train_cfg", QS_TRAIN_CFG_CKPT_SIZE, what, &rc);
    const void *stp = section(ck, "state", sizeof(ck_state), what, &rc);
    if (rc)
        return rc;
    int32_t mi[12];
    qs_train_cfg tcv, *tc = &tcv;
    ck_state stv, *st = &stv;
    memcpy(mi, mip, sizeof mi);
    memset(&tcv, 0, sizeof tcv);
    memcpy(&tcv, tcp, QS_TRAIN_CFG_CKPT_SIZE);
    /* Optional: checkpoints from before label smoothing trained without. */
    size_t lslen = 0;
    const void *ls = qs_ckpt_get(ck, "label_smoothing", &lslen);
    if (ls && lslen == sizeof tcv.label_smoothing)
        memcpy(&tcv.label_smoothing, ls, lslen);
    memcpy(&stv, stp, sizeof stv);
    qs_model_cfg pc;
    model_from_ints(&pc, mi);
    if ((rc = check_arch(&pc, &t->mcfg, what)) != QS_OK)
        return rc;
    if (pc.wbits != t->mcfg.wbits || pc.abits != t->mcfg.abits)
        return qs_err(QS_EINVAL, "%s is a W%dA%d checkpoint, this phase is W%dA%d", what,
                      pc.wbits, pc.abits, t->mcfg.wbits, t->mcfg.abits);
    if (tc->phase != t->cfg.phase)
        return qs_err(QS_EINVAL, "%s is a %s checkpoint, this is a %s phase", what,
                      qs_phase_name(tc->phase), qs_phase_name(t->cfg.phase));
    if (st->nparam != m->nparam || st->nbuf != m->nbuf || st->nnode != m->nnode)
        return qs_err(QS_EFORMAT, "%s: tensor sizes do not match the model", what);
    const uint8_t *params = section(ck, "params", (size_t)m->nparam * 4, what, &rc);
    const uint8_t *bufs = section(ck, "buffers", (size_t)m->nbuf * 4, what, &rc);
    const uint8_t *om = section(ck, "opt_m", (size_t)m->nparam * 4, what, &rc);
    const uint8_t *ov = section(ck, "opt_v", (size_t)m->nparam * 4, what, &rc);
    const uint8_t *steps = section(ck, "steps", (size_t)m->nnode * 4, what, &rc);
    if (rc)
        return rc;
    /* The plan continues: the checkpoint's settings win over the command
     * line's (same schedule horizon, seed and thread count). */
    t->cfg = *tc;
    memcpy(m->param, params, (size_t)m->nparam * 4);
    memcpy(m->buf, bufs, (size_t)m->nbuf * 4);
    memcpy(m->opt_m, om, (size_t)m->nparam * 4);
    memcpy(m->opt_v, ov, (size_t)m->nparam * 4);
    for (int i = 0; i < m->nnode; i++)
        memcpy(&m->nodes[i].step, steps + (size_t)i * 4, 4);
    m->quant_ready = st->quant_ready;
    m->weights_dirty = 1;
    /* Optional section (older checkpoints lack it: quantize afresh). */
    size_t qlen = 0;
    const void *qc = qs_ckpt_get(ck, "qclean", &qlen);
    int32_t qclean = 0;
    if (qc && qlen == sizeof qclean)
        memcpy(&qclean, qc, sizeof qclean);
    if (qclean && m->quant_ready)
        requantize_at_steps(m);
    memcpy(t->rng.s, st->rng, sizeof st->rng);
    t->epoch_done = (int)st->epoch_done;
    t->iter = st->iter;
    return QS_OK;
}

int qs_model_load_ckpt(qs_model *m, qs_ckpt_info *info, const char *path, int max_batch)
{
    qs_ckpt ck;
    memset(m, 0, sizeof *m);
    memset(info, 0, sizeof *info);
    int rc = qs_ckpt_load(&ck, path);
    if (rc != QS_OK)
        return rc;
    const void *mip = section(&ck, "model", 12 * sizeof(int32_t), path, &rc);
    const void *tcp = section(&ck, "train_cfg", QS_TRAIN_CFG_CKPT_SIZE, path, &rc);
    const void *stp = section(&ck, "state", sizeof(ck_state), path, &rc);
    int32_t mi[12];
    qs_train_cfg tc;
    ck_state st;
    if (rc)
        goto cleanup;
    memcpy(mi, mip, sizeof mi);
    memset(&tc, 0, sizeof tc);
    memcpy(&tc, tcp, QS_TRAIN_CFG_CKPT_SIZE);
    memcpy(&st, stp, sizeof st);
    model_from_ints(&info->mcfg, mi);
    info->phase = (qs_phase)tc.phase;
    info->epochs = tc.epochs;
    info->epoch_done = (int)st.epoch_done;
    info->quant_ready = st.quant_ready;
    if ((rc = qs_model_build(m, &info->mcfg, max_batch)) != QS_OK) {
        rc = qs_err_wrap(rc, "%s", path);
        goto cleanup;
    }
    if (st.nparam != m->nparam || st.nbuf != m->nbuf || st.nnode != m->nnode) {
        rc = qs_err(QS_EFORMAT, "%s: tensor sizes do not match its model", path);
        goto cleanup;
    }
    const uint8_t *params = section(&ck, "params", (size_t)m->nparam * 4, path, &rc);
    const uint8_t *bufs = section(&ck, "buffers", (size_t)m->nbuf * 4, path, &rc);
    const uint8_t *steps = section(&ck, "steps", (size_t)m->nnode * 4, path, &rc);
    if (rc)
        goto cleanup;
    memcpy(m->param, params, (size_t)m->nparam * 4);
    memcpy(m->buf, bufs, (size_t)m->nbuf * 4);
    for (int i = 0; i < m->nnode; i++)
        memcpy(&m->nodes[i].step, steps + (size_t)i * 4, 4);
    m->quant_ready = st.quant_ready;
    m->weights_dirty = 1;
    if (m->quant_ready)
        requantize_at_steps(m);
cleanup:
    if (rc)
        qs_model_free(m);
    qs_ckpt_free(&ck);
    return rc;
}

int qs_trainer_resume(qs_trainer *t, const char *path)
{
    return with_ckpt(t, path, NULL, 0, resume_from);
}

int qs_trainer_resume_bytes(qs_trainer *t, uint8_t *buf, size_t len, const char *what)
{
    if (!buf)
        return qs_err(QS_EINVAL, "%s: no checkpoint bytes", what);
    return with_ckpt(t, what, buf, len, resume_from);
}
