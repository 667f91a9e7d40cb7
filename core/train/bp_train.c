/* BitPruning in the trainer (bp_train.h). */
#include "bp_train.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bp_model.h"
#include "err.h"

int qs_bp_finetune_epochs(const qs_train_cfg *c)
{
    if (c->bp_finetune_epochs > 0)
        return c->bp_finetune_epochs;
    return (c->epochs + 9) / 10;
}

int qs_bp_learn_epochs(const qs_trainer *t)
{
    if (t->model.nbits == 0 || t->cfg.phase != QS_PHASE_RETRAIN)
        return 0;
    return t->cfg.epochs - qs_bp_finetune_epochs(&t->cfg);
}

int qs_bp_trainer_setup(qs_trainer *t)
{
    const qs_train_cfg *c = &t->cfg;
    if (!(c->bp_lambda >= 0))
        return qs_err(QS_EINVAL, "bp_lambda %g is not >= 0", c->bp_lambda);
    if (!(c->bp_lr_scale > 0))
        return qs_err(QS_EINVAL, "bp_lr_scale %g is not > 0", c->bp_lr_scale);
    if ((unsigned)c->bp_weighting > QS_BP_MACS)
        return qs_err(QS_EINVAL, "bp_weighting %d is out of range (allowed: uniform, params, "
                      "macs)", c->bp_weighting);
    if (c->bp_finetune_epochs < 0)
        return qs_err(QS_EINVAL, "bp_finetune_epochs %d is negative", c->bp_finetune_epochs);
    if (t->model.nbits == 0)
        return QS_OK;
    if (c->phase == QS_PHASE_RETRAIN && qs_bp_learn_epochs(t) < 1)
        return qs_err(QS_EINVAL, "learned bits: a fine-tune of %d epochs leaves no learning "
                      "epoch in this phase's %d (give more epochs or a shorter "
                      "bp_finetune_epochs)", qs_bp_finetune_epochs(c), c->epochs);
    t->bp_buf = malloc(4 * (size_t)t->model.nbits * sizeof(double));
    if (!t->bp_buf)
        return qs_err(QS_ENOMEM, "out of memory for the bit-width loss");
    qs_bp_counts(t->bp_buf, t->bp_buf + t->model.nbits, &t->model);
    return QS_OK;
}

double qs_bp_add_loss(qs_trainer *t)
{
    qs_model *m = &t->model;
    const long n = m->nbits, base = m->nparam - n;
    if (!(t->cfg.bp_lambda > 0) || n == 0)
        return 0;
    double *params = t->bp_buf, *macs = params + n, *db = macs + 2 * n;
    /* qs_bp_loss takes the widths as floats: they sit in the parameter
     * vector's tail in layer order. */
    const float *b = m->param + base;
    double r = 0;
    memset(db, 0, (size_t)n * sizeof(double));
    /* The counts were checked at setup (a model always has a positive
     * count per learned width): this cannot fail. */
    if (qs_bp_loss(&r, db, b, params, macs, (int)n, (qs_bp_weighting)t->cfg.bp_weighting,
                   t->cfg.bp_lambda) != QS_OK)
        return 0;
    for (long l = 0; l < n; l++)
        m->grad[base + l] += (float)db[l];
    return r;
}

void qs_bp_opt_step(qs_trainer *t, double lr)
{
    qs_model *m = &t->model;
    const long base = m->nparam - m->nbits;
    qs_opt_cfg o = t->cfg.opt;
    o.weight_decay = 0; /* the bit loss is the widths' penalty */
    qs_opt_step(m->param + base, m->opt_m + base, m->opt_v + base, m->grad + base,
                (size_t)m->nbits, &o, lr * t->cfg.bp_lr_scale, t->iter);
    qs_bp_clamp_model(m);
}

int qs_bp_train_ck_from(qs_bp_train_ck *s, const qs_trainer *t)
{
    const qs_train_cfg *c = &t->cfg;
    memset(s, 0, sizeof *s);
    s->lambda = c->bp_lambda;
    s->lr_scale = c->bp_lr_scale;
    s->weighting = c->bp_weighting;
    s->finetune_epochs = c->bp_finetune_epochs;
    return t->mcfg.bp_learned != 0;
}

int qs_bp_train_from_ckpt(qs_train_cfg *c, const qs_ckpt *ck, const char *what)
{
    size_t len = 0;
    const uint8_t *p = qs_ckpt_get(ck, "bitprune_train", &len);
    qs_bp_train_ck s;
    memset(&s, 0, sizeof s);
    s.lambda = QS_BP_LAMBDA_DEFAULT;
    s.lr_scale = QS_BP_LR_SCALE_DEFAULT;
    if (p && len != sizeof s)
        return qs_err(QS_EFORMAT, "%s: section \"bitprune_train\" is %zu bytes, expected %zu",
                      what, len, sizeof s);
    if (p)
        memcpy(&s, p, sizeof s);
    size_t at = p ? (size_t)(p - ck->buf) : 0;
    if (!(s.lambda >= 0 && s.lambda <= 1e6))
        return qs_err(QS_EFORMAT, "%s: bitprune_train.lambda = %g (byte %zu) is out of range "
                      "(allowed: 0..1e+06)", what, s.lambda, at);
    if (!(s.lr_scale > 0 && s.lr_scale <= 1e6))
        return qs_err(QS_EFORMAT, "%s: bitprune_train.lr_scale = %g (byte %zu) is out of range "
                      "(allowed: above 0..1e+06)", what, s.lr_scale,
                      at + offsetof(qs_bp_train_ck, lr_scale));
    if (s.weighting < 0 || s.weighting > QS_BP_MACS)
        return qs_err(QS_EFORMAT, "%s: bitprune_train.weighting = %d (byte %zu) is out of "
                      "range (allowed: 0..2)", what, s.weighting,
                      at + offsetof(qs_bp_train_ck, weighting));
    if (s.finetune_epochs < 0 || s.finetune_epochs > QS_MAX_EPOCHS)
        return qs_err(QS_EFORMAT, "%s: bitprune_train.finetune_epochs = %d (byte %zu) is out "
                      "of range (allowed: 0..%d)", what, s.finetune_epochs,
                      at + offsetof(qs_bp_train_ck, finetune_epochs), QS_MAX_EPOCHS);
    c->bp_lambda = s.lambda;
    c->bp_lr_scale = s.lr_scale;
    c->bp_weighting = s.weighting;
    c->bp_finetune_epochs = s.finetune_epochs;
    return QS_OK;
}

int qs_bp_ckpt_layers(qs_bp_layer **out, int *n, const uint8_t *bytes, size_t len,
                      const char *what)
{
    qs_model m;
    qs_ckpt_info info;
    *out = NULL;
    *n = 0;
    int rc = qs_model_load_ckpt_copy(&m, &info, bytes, len, what, 1);
    if (rc)
        return rc;
    if (m.nbits > 0 && !(*out = malloc((size_t)m.nbits * sizeof **out))) {
        rc = qs_err(QS_ENOMEM, "out of memory reading %s", what);
        goto cleanup;
    }
    for (int i = 0; i < m.nnode; i++) {
        const qs_node *nd = &m.nodes[i];
        if (nd->bits_off < 0)
            continue;
        qs_bp_layer *l = &(*out)[qs_bp_index(&m, nd)];
        l->node = i;
        l->kind = nd->type == QS_NODE_RELU ? 'a' : 'w';
        l->bits = m.param[nd->bits_off];
        l->count = nd->type == QS_NODE_RELU ? (long)nd->numel : nd->wlen;
    }
    *n = (int)m.nbits;
cleanup:
    qs_model_free(&m);
    return rc;
}
