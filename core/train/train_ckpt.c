/* Checkpoints of a trainer: encoding its full state, and reading one back
 * for a resume, as a parent, or for export. Every field read from a file is
 * range-checked before it is used: a forged file with a valid CRC gets an
 * error naming the file, the field and its byte offset, never a crash. */
#include "train.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bp_model.h"
#include "bp_train.h"
#include "ckpt.h"
#include "ckpt_check.h"
#include "err.h"
#include "lsq.h"
#include "lsq_model.h"
#include "quant.h"


int qs_trainer_encode(const qs_trainer *t, uint8_t **out, size_t *len)
{
    const qs_model *m = &t->model;
    qs_ckpt_writer w;
    int32_t mi[12];
    qs_ck_state st;
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
    qs_ck_model_ints(mi, &t->mcfg);
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
    /* ImageNet-scale models: the stage table and width multiplier the
     * "model" ints do not hold (only these archs write the section) */
    qs_ck_imnet im;
    if (qs_ck_imnet_from(&im, &t->mcfg) &&
        (rc = qs_ckpt_writer_add(&w, "imnet", &im, sizeof im)))
        goto cleanup;
    int32_t qi[QS_QUANT_NINTS];
    qs_quant_cfg_ints(qi, &t->mcfg);
    if (!qs_quant_cfg_is_default(&t->mcfg) &&
        (rc = qs_ckpt_writer_add(&w, "quant", qi, sizeof qi)))
        goto cleanup;
    /* Learned bit widths: the settings, and the trainer's BitPruning
     * settings when not the default (the widths are in "params"). */
    qs_bp_ck bp;
    if (qs_bp_ck_from(&bp, &t->mcfg) && (rc = qs_ckpt_writer_add(&w, "bitprune", &bp, sizeof bp)))
        goto cleanup;
    /* A factored model's ranks: without them the parameters cannot be
     * laid out (whole models never write the section) */
    int32_t ranks[QS_SVD_MAX_LAYERS];
    for (int i = 0; i < t->mcfg.svd_nrank; i++)
        ranks[i] = t->mcfg.svd_rank[i];
    if (t->mcfg.svd_nrank > 0 &&
        (rc = qs_ckpt_writer_add(&w, "svd_ranks", ranks,
                                 (size_t)t->mcfg.svd_nrank * sizeof(int32_t))))
        goto cleanup;
    qs_bp_train_ck bt;
    if (qs_bp_train_ck_from(&bt, t) &&
        (rc = qs_ckpt_writer_add(&w, "bitprune_train", &bt, sizeof bt)))
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

/* Architecture identity ignoring the bits (a parent float checkpoint feeds a
 * quantized child). The ImageNet models' stage table and width multiplier
 * (the "imnet" section) are part of it: ResNets of the same depth and width
 * can split their blocks differently. */
static int same_arch(const qs_model_cfg *a, const qs_model_cfg *b)
{
    qs_ck_imnet ia, ib;
    if (qs_ck_imnet_from(&ia, a) != qs_ck_imnet_from(&ib, b) ||
        memcmp(ia.stage_blocks, ib.stage_blocks, sizeof ia.stage_blocks) != 0 ||
        ia.width_mult != ib.width_mult)
        return 0;
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
        if (n->bits_off >= 0) { /* BitPruning: a function of params alone */
            qs_bp_quantize_weights(m, n);
            continue;
        }
        if (n->step_off >= 0) { /* LSQ: a function of params alone */
            qs_lsq_w_forward(n->qw, w, (size_t)n->wlen, m->param + n->step_off, n->nstep,
                             n->wbits);
            continue;
        }
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

static int load_parent_from(qs_trainer *t, qs_ckpt *ck, const char *path)
{
    qs_model *m = &t->model;
    qs_ck_head h;
    int rc = qs_ck_head_read(&h, ck, path, 0);
    const qs_ck_state *st = &h.st;
    const qs_model_cfg *pc = &h.mcfg;
    if (rc)
        return rc;
    if ((rc = check_arch(pc, &t->mcfg, path)) != QS_OK ||
        (rc = qs_quant_cfg_from_ckpt(&h.mcfg, ck, path)) != QS_OK ||
        (rc = qs_bp_cfg_from_ckpt(&h.mcfg, ck, path)) != QS_OK ||
        (rc = qs_ck_svd_read(&h.mcfg, h.svd, ck, path)) != QS_OK ||
        (rc = qs_ck_svd_same(&h.mcfg, &t->mcfg, path)) != QS_OK)
        return rc;
    /* The chain of methods.md sections 2-3: retrain starts from the float
     * checkpoint, clr from the retrained one (a clr from a float model
     * would silently calibrate and skip the retraining). */
    if (t->cfg.phase != QS_PHASE_FLOAT) {
        qs_phase want = t->cfg.phase == QS_PHASE_CLR ? QS_PHASE_RETRAIN : QS_PHASE_FLOAT;
        if (st->phase != (int32_t)want)
            return qs_err(QS_EINVAL, "%s is a %s checkpoint; the %s phase starts from a %s one",
                          path, qs_phase_name((qs_phase)st->phase),
                          qs_phase_name(t->cfg.phase), qs_phase_name(want));
    }
    long core = m->nparam - m->nalpha;
    if (st->nparam - st->nalpha != core || st->nbuf != m->nbuf)
        return qs_err(QS_EFORMAT, "%s: parameter count %lld does not match the model's %ld",
                      path, (long long)(st->nparam - st->nalpha), core);
    const uint8_t *params = qs_ck_section(ck, "params", (size_t)st->nparam * 4, path, &rc);
    const uint8_t *bufs = qs_ck_section(ck, "buffers", (size_t)st->nbuf * 4, path, &rc);
    const uint8_t *steps = qs_ck_section(ck, "steps", (size_t)st->nnode * 4, path, &rc);
    if (rc || (rc = qs_ck_floats(ck, path, "params", params, (size_t)st->nparam, -INFINITY)) ||
        (rc = qs_ck_floats(ck, path, "buffers", bufs, (size_t)st->nbuf, -INFINITY)) ||
        (rc = qs_ck_floats(ck, path, "steps", steps, (size_t)st->nnode, 0.0f)))
        return rc;
    memcpy(m->param, params, (size_t)core * 4);
    memcpy(m->buf, bufs, (size_t)m->nbuf * 4);
    /* Step sizes and alphas carry over only between quantized phases of the
     * same bits (retrain -> clr); a float parent gets calibrated. */
    if (st->quant_ready && pc->wbits == t->mcfg.wbits && pc->abits == t->mcfg.abits &&
        qs_quant_cfg_same(pc, &t->mcfg) && qs_bp_cfg_same(pc, &t->mcfg) &&
        st->nnode == m->nnode && st->nalpha == m->nalpha) {
        memcpy(m->param + core, params + (size_t)core * 4, (size_t)m->nalpha * 4);
        for (int i = 0; i < m->nnode; i++)
            memcpy(&m->nodes[i].step, steps + (size_t)i * 4, 4);
        m->quant_ready = 1;
    } else if ((pc->wbits != 32 || pc->abits != 32) && t->cfg.phase == QS_PHASE_CLR) {
        return qs_err(QS_EINVAL, "%s is a W%dA%d checkpoint (%s); this clr phase is W%dA%d (%s) "
                      "(clr continues the retrained model of the same bits and quantizer)",
                      path, pc->wbits, pc->abits, qs_quantizer_name(pc->quantizer),
                      t->mcfg.wbits, t->mcfg.abits, qs_quantizer_name(t->mcfg.quantizer));
    }
    memset(m->opt_m, 0, (size_t)m->nparam * 4);
    memset(m->opt_v, 0, (size_t)m->nparam * 4);
    m->weights_dirty = 1;
    t->epoch_done = 0;
    t->iter = 0;
    return QS_OK;
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

/* PACT alphas of a calibrated model are clip levels: positive. (The LSQ
 * tail holds offsets too, which may be any finite value.) */
static int check_alphas(const qs_ckpt *ck, const char *what, const uint8_t *params,
                        const qs_model *m)
{
    if (m->cfg.quantizer != QS_QUANT_HWANG_PACT)
        return QS_OK;
    for (long i = m->nparam - m->nalpha; i < m->nparam; i++) {
        float a;
        memcpy(&a, params + (size_t)i * 4, 4);
        if (!(a > 0))
            return qs_err(QS_EFORMAT, "%s: params[%ld] = %g (byte %zu), a PACT alpha, is not "
                          "positive", what, i, (double)a,
                          (size_t)(params - ck->buf) + (size_t)i * 4);
    }
    return QS_OK;
}

static int resume_from(qs_trainer *t, qs_ckpt *ck, const char *what)
{
    qs_model *m = &t->model;
    qs_ck_head h;
    int rc = qs_ck_head_read(&h, ck, what, 1);
    const qs_ck_state *st = &h.st;
    const qs_train_cfg *tc = &h.tcfg;
    if (rc)
        return rc;
    if ((rc = check_arch(&h.mcfg, &t->mcfg, what)) != QS_OK ||
        (rc = qs_quant_cfg_from_ckpt(&h.mcfg, ck, what)) != QS_OK ||
        (rc = qs_bp_cfg_from_ckpt(&h.mcfg, ck, what)) != QS_OK ||
        (rc = qs_ck_svd_read(&h.mcfg, h.svd, ck, what)) != QS_OK ||
        (rc = qs_ck_svd_same(&h.mcfg, &t->mcfg, what)) != QS_OK)
        return rc;
    if (!qs_bp_cfg_same(&h.mcfg, &t->mcfg))
        return qs_err(QS_EINVAL, "%s holds other learned-bits settings (learned mask %d, bmin %d, "
                      "init %g) than this phase (%d, %d, %g)", what, h.mcfg.bp_learned,
                      h.mcfg.bp_bmin, h.mcfg.bp_init, t->mcfg.bp_learned, t->mcfg.bp_bmin,
                      t->mcfg.bp_init);
    if (!qs_quant_cfg_same(&h.mcfg, &t->mcfg))
        return qs_err(QS_EINVAL, "%s holds other quantizer settings (%s) than this phase (%s)",
                      what, qs_quantizer_name(h.mcfg.quantizer),
                      qs_quantizer_name(t->mcfg.quantizer));
    if (h.mcfg.wbits != t->mcfg.wbits || h.mcfg.abits != t->mcfg.abits)
        return qs_err(QS_EINVAL, "%s is a W%dA%d checkpoint, this phase is W%dA%d", what,
                      h.mcfg.wbits, h.mcfg.abits, t->mcfg.wbits, t->mcfg.abits);
    if (tc->phase != t->cfg.phase)
        return qs_err(QS_EINVAL, "%s is a %s checkpoint, this is a %s phase", what,
                      qs_phase_name(tc->phase), qs_phase_name(t->cfg.phase));
    /* The batch buffers were sized for this run's batch at init. */
    if (tc->batch > m->max_batch)
        return qs_err(QS_EINVAL, "%s trains with batch %d, this run was set up for batch %d: "
                      "resume with --batch %d", what, tc->batch, m->max_batch, tc->batch);
    if (tc->batch > t->train->n)
        return qs_err(QS_EINVAL, "%s trains with batch %d, more than the %d training examples "
                      "here", what, tc->batch, t->train->n);
    if (st->nparam != m->nparam || st->nbuf != m->nbuf || st->nnode != m->nnode)
        return qs_err(QS_EFORMAT, "%s: tensor sizes do not match the model", what);
    const uint8_t *params = qs_ck_section(ck, "params", (size_t)m->nparam * 4, what, &rc);
    const uint8_t *bufs = qs_ck_section(ck, "buffers", (size_t)m->nbuf * 4, what, &rc);
    const uint8_t *om = qs_ck_section(ck, "opt_m", (size_t)m->nparam * 4, what, &rc);
    const uint8_t *ov = qs_ck_section(ck, "opt_v", (size_t)m->nparam * 4, what, &rc);
    const uint8_t *steps = qs_ck_section(ck, "steps", (size_t)m->nnode * 4, what, &rc);
    size_t n = (size_t)m->nparam;
    if (rc || (rc = qs_ck_floats(ck, what, "params", params, n, -INFINITY)) ||
        (rc = qs_ck_floats(ck, what, "buffers", bufs, (size_t)m->nbuf, -INFINITY)) ||
        (rc = qs_ck_floats(ck, what, "opt_m", om, n, -INFINITY)) ||
        (rc = qs_ck_floats(ck, what, "opt_v", ov, n, 0.0f)) ||
        (rc = qs_ck_floats(ck, what, "steps", steps, (size_t)m->nnode, 0.0f)) ||
        (st->quant_ready && (rc = check_alphas(ck, what, params, m))))
        return rc;
    /* Optional section (older checkpoints lack it: quantize afresh). */
    size_t qlen = 0;
    const uint8_t *qc = qs_ckpt_get(ck, "qclean", &qlen);
    int32_t qclean = 0;
    if (qc && qlen != sizeof qclean)
        return qs_err(QS_EFORMAT, "%s: section \"qclean\" is %zu bytes, expected 4", what,
                      qlen);
    if (qc)
        memcpy(&qclean, qc, sizeof qclean);
    if (qclean != 0 && qclean != 1)
        return qs_err(QS_EFORMAT, "%s: qclean = %d (byte %zu) is out of range (allowed: 0..1)",
                      what, qclean, (size_t)(qc - ck->buf));
    /* The plan continues: the checkpoint's settings win over the command
     * line's (same schedule horizon, seed and thread count). */
    qs_svd_cfg svd = t->cfg.svd; /* the job's: checkpoints do not hold it */
    t->cfg = *tc;
    t->cfg.svd = svd;
    memcpy(m->param, params, n * 4);
    memcpy(m->buf, bufs, (size_t)m->nbuf * 4);
    memcpy(m->opt_m, om, n * 4);
    memcpy(m->opt_v, ov, n * 4);
    for (int i = 0; i < m->nnode; i++)
        memcpy(&m->nodes[i].step, steps + (size_t)i * 4, 4);
    m->quant_ready = st->quant_ready;
    m->weights_dirty = 1;
    if (qclean && m->quant_ready)
        requantize_at_steps(m);
    memcpy(t->rng.s, st->rng, sizeof st->rng);
    t->epoch_done = (int)st->epoch_done;
    t->iter = st->iter;
    return QS_OK;
}

int qs_model_load_ckpt(qs_model *m, qs_ckpt_info *info, const char *path, int max_batch)
{
    return qs_model_load_ckpt_bytes(m, info, NULL, 0, path, max_batch);
}

int qs_model_load_ckpt_copy(qs_model *m, qs_ckpt_info *info, const uint8_t *bytes, size_t len,
                            const char *what, int max_batch)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        memset(m, 0, sizeof *m);
        return qs_err(QS_ENOMEM, "out of memory reading %s", what);
    }
    memcpy(copy, bytes, len);
    return qs_model_load_ckpt_bytes(m, info, copy, len, what, max_batch);
}

int qs_model_load_ckpt_bytes(qs_model *m, qs_ckpt_info *info, uint8_t *buf, size_t len,
                             const char *path, int max_batch)
{
    qs_ckpt ck;
    qs_ck_head h;
    memset(m, 0, sizeof *m);
    memset(info, 0, sizeof *info);
    int rc = buf ? qs_ckpt_decode(&ck, buf, len, path) : qs_ckpt_load(&ck, path);
    if (rc != QS_OK)
        return rc;
    if ((rc = qs_ck_head_read(&h, &ck, path, 1)))
        goto cleanup;
    if ((rc = qs_quant_cfg_from_ckpt(&h.mcfg, &ck, path)) != QS_OK ||
        (rc = qs_bp_cfg_from_ckpt(&h.mcfg, &ck, path)) != QS_OK ||
        (rc = qs_ck_svd_read(&h.mcfg, h.svd, &ck, path)) != QS_OK)
        goto cleanup;
    info->mcfg = h.mcfg;
    info->phase = h.tcfg.phase;
    info->epochs = h.tcfg.epochs;
    info->epoch_done = (int)h.st.epoch_done;
    info->quant_ready = h.st.quant_ready;
    /* The counts are compared before the model is built, so that its size
     * is bounded by what the file holds, not by what it claims. */
    long want = qs_model_param_count(&h.mcfg);
    if (want < 0) { /* a model the file describes but no plan allows (its SVD ranks) */
        rc = qs_err_wrap(QS_EFORMAT, "%s", path);
        goto cleanup;
    }
    if (want != h.st.nparam - h.st.nalpha) {
        rc = qs_err(QS_EFORMAT, "%s: state holds %lld parameters, the model it describes has %ld",
                    path, (long long)(h.st.nparam - h.st.nalpha), want);
        goto cleanup;
    }
    const uint8_t *params = qs_ck_section(&ck, "params", (size_t)h.st.nparam * 4, path, &rc);
    if (rc)
        goto cleanup;
    if ((rc = qs_model_build(m, &info->mcfg, max_batch)) != QS_OK) {
        rc = qs_err_wrap(rc, "%s", path);
        goto cleanup;
    }
    if (h.st.nparam != m->nparam || h.st.nbuf != m->nbuf || h.st.nnode != m->nnode) {
        rc = qs_err(QS_EFORMAT, "%s: tensor sizes do not match its model", path);
        goto cleanup;
    }
    const uint8_t *bufs = qs_ck_section(&ck, "buffers", (size_t)m->nbuf * 4, path, &rc);
    const uint8_t *steps = qs_ck_section(&ck, "steps", (size_t)m->nnode * 4, path, &rc);
    if (rc || (rc = qs_ck_floats(&ck, path, "params", params, (size_t)m->nparam, -INFINITY)) ||
        (rc = qs_ck_floats(&ck, path, "buffers", bufs, (size_t)m->nbuf, -INFINITY)) ||
        (rc = qs_ck_floats(&ck, path, "steps", steps, (size_t)m->nnode, 0.0f)) ||
        (h.st.quant_ready && (rc = check_alphas(&ck, path, params, m))))
        goto cleanup;
    memcpy(m->param, params, (size_t)m->nparam * 4);
    memcpy(m->buf, bufs, (size_t)m->nbuf * 4);
    for (int i = 0; i < m->nnode; i++)
        memcpy(&m->nodes[i].step, steps + (size_t)i * 4, 4);
    m->quant_ready = h.st.quant_ready;
    m->weights_dirty = 1;
    if (m->quant_ready)
        requantize_at_steps(m);
cleanup:
    if (rc)
        qs_model_free(m);
    /* the ranks live with the model (h's buffer ends here) */
    info->mcfg.svd_rank = rc ? NULL : m->cfg.svd_rank;
    if (rc)
        info->mcfg.svd_nrank = 0;
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
