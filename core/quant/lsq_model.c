/* LSQ / LSQ+ in the model and its checkpoints (lsq_model.h). */
#include "lsq_model.h"

#include <string.h>

#include "err.h"
#include "lsq.h"
#include "quant.h"

/* Indexed by qs_quantizer / qs_lsq_winit. */
const char *const qs_quantizer_names[] = {"hwang-pact", "lsq+", NULL};
const char *const qs_lsq_winit_names[] = {"mse", "mean", NULL};

const char *qs_quantizer_name(qs_quantizer q)
{
    return (unsigned)q <= QS_QUANT_LSQ ? qs_quantizer_names[q] : "?";
}

int qs_quantizer_parse(qs_quantizer *out, const char *s)
{
    for (int i = 0; qs_quantizer_names[i]; i++)
        if (!strcmp(s, qs_quantizer_names[i])) {
            *out = (qs_quantizer)i;
            return QS_OK;
        }
    return qs_err(QS_EINVAL, "unknown quantizer \"%s\" (allowed: hwang-pact, lsq+)", s);
}

void qs_quant_cfg_ints(int32_t v[QS_QUANT_NINTS], const qs_model_cfg *c)
{
    v[0] = c->quantizer;
    v[1] = c->lsq_per_channel;
    v[2] = c->lsq_winit;
    v[3] = c->lsq_offset;
}

int qs_quant_cfg_is_default(const qs_model_cfg *c)
{
    return c->quantizer == QS_QUANT_HWANG_PACT && !c->lsq_per_channel && !c->lsq_winit &&
           !c->lsq_offset;
}

int qs_quant_cfg_same(const qs_model_cfg *a, const qs_model_cfg *b)
{
    int32_t x[QS_QUANT_NINTS], y[QS_QUANT_NINTS];
    qs_quant_cfg_ints(x, a);
    qs_quant_cfg_ints(y, b);
    return memcmp(x, y, sizeof x) == 0;
}

int qs_quant_cfg_from_ckpt(qs_model_cfg *c, const qs_ckpt *ck, const char *what)
{
    size_t len = 0;
    const void *p = qs_ckpt_get(ck, "quant", &len);
    int32_t v[QS_QUANT_NINTS] = {0, 0, 0, 0};
    if (p && len != sizeof v)
        return qs_err(QS_EFORMAT, "%s: section \"quant\" is %zu bytes, expected %zu", what,
                      len, sizeof v);
    if (p)
        memcpy(v, p, sizeof v); /* sections are unaligned: copy, never cast */
    c->quantizer = (qs_quantizer)v[0];
    c->lsq_per_channel = v[1];
    c->lsq_winit = v[2];
    c->lsq_offset = v[3];
    return QS_OK;
}

void qs_lsq_calibrate_node(qs_model *m, int i, float *y, size_t n, const qs_train_cfg *cfg)
{
    const qs_node *nd = &m->nodes[i];
    float s = 1.0f, beta = 0.0f;
    /* The ReLU outputs are >= 0: the offset starts at 0 (a quantized ReLU)
     * and moves only when lsq_offset lets training learn it. */
    if (cfg->alpha_init == QS_ALPHA_MSE)
        qs_lsq_act_init_mse(&s, &beta, y, n, nd->abits, 0);
    else
        s = qs_pact_calibrate_percentile(y, n, cfg->alpha_value) / qs_lsq_ap(nd->abits);
    m->param[nd->alpha_off] = s > 0 ? s : 1.0f;
    m->param[nd->alpha_off + 1] = beta;
}

void qs_lsq_init_weights(qs_model *m)
{
    for (int i = 0; i < m->nnode; i++) {
        const qs_node *n = &m->nodes[i];
        if (n->step_off >= 0)
            qs_lsq_w_init(m->param + n->step_off, m->param + n->w_off, (size_t)n->wlen,
                          n->nstep, n->wbits, (qs_lsq_winit)m->cfg.lsq_winit);
    }
    m->weights_dirty = 1;
}

void qs_lsq_clamp_steps(qs_model *m)
{
    for (int i = 0; i < m->nnode; i++) {
        const qs_node *n = &m->nodes[i];
        float *s = NULL;
        int k = 0;
        if (n->step_off >= 0)
            s = m->param + n->step_off, k = n->nstep;
        else if (n->alpha_off >= 0 && n->bits_off < 0) /* s; beta may take any sign */
            s = m->param + n->alpha_off, k = 1;
        for (int j = 0; j < k; j++)
            if (s[j] < QS_LSQ_STEP_MIN)
                s[j] = QS_LSQ_STEP_MIN;
    }
}
