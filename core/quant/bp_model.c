/* BitPruning in the model and its checkpoints (bp_model.h). */
#include "bp_model.h"

#include <math.h>
#include <string.h>

#include "err.h"
#include "lsq_model.h"

const char *qs_bp_quantizer_label(const qs_model_cfg *c)
{
    return c->bp_learned ? QS_BP_QUANTIZER_NAME : qs_quantizer_name(c->quantizer);
}

int qs_bp_cfg_validate(const qs_model_cfg *c)
{
    if (!c->bp_learned)
        return QS_OK;
    if ((unsigned)c->bp_learned > (QS_BP_LEARN_W | QS_BP_LEARN_A))
        return qs_err(QS_EINVAL, "learned-bits mask %d is out of range (allowed: 0..3)",
                      c->bp_learned);
    if (c->quantizer != QS_QUANT_HWANG_PACT)
        return qs_err(QS_EINVAL, "learned bits use BitPruning's quantizers: they take the "
                      "default quantizer (hwang-pact), not %s",
                      c->quantizer == QS_QUANT_LSQ ? "lsq+" : "?");
    if (((c->bp_learned & QS_BP_LEARN_W) && c->wbits != QS_BP_BMAX) ||
        ((c->bp_learned & QS_BP_LEARN_A) && c->abits != QS_BP_BMAX))
        return qs_err(QS_EINVAL, "a learned side is planned at %d bits (wbits %d, abits %d)",
                      QS_BP_BMAX, c->wbits, c->abits);
    if (c->bp_bmin != 1 && c->bp_bmin != 2)
        return qs_err(QS_EINVAL, "bp_bmin %d is not allowed (allowed: 1, 2)", c->bp_bmin);
    if (!(c->bp_init >= c->bp_bmin && c->bp_init <= QS_BP_BMAX))
        return qs_err(QS_EINVAL, "bp_init %g is out of range (allowed: bp_bmin %d..%d)",
                      c->bp_init, c->bp_bmin, QS_BP_BMAX);
    return QS_OK;
}

int qs_bp_cfg_same(const qs_model_cfg *a, const qs_model_cfg *b)
{
    if (a->bp_learned != b->bp_learned)
        return 0;
    return !a->bp_learned || (a->bp_bmin == b->bp_bmin && a->bp_init == b->bp_init);
}

int qs_bp_ck_from(qs_bp_ck *s, const qs_model_cfg *c)
{
    memset(s, 0, sizeof *s);
    if (!c->bp_learned)
        return 0;
    s->learned = c->bp_learned;
    s->bmin = c->bp_bmin;
    s->init = c->bp_init;
    return 1;
}

int qs_bp_cfg_from_ckpt(qs_model_cfg *c, const qs_ckpt *ck, const char *what)
{
    size_t len = 0;
    const uint8_t *p = qs_ckpt_get(ck, "bitprune", &len);
    qs_bp_ck s;
    c->bp_learned = 0;
    if (!p)
        return QS_OK;
    if (len != sizeof s)
        return qs_err(QS_EFORMAT, "%s: section \"bitprune\" is %zu bytes, expected %zu", what,
                      len, sizeof s);
    memcpy(&s, p, sizeof s); /* sections are unaligned: copy, never cast */
    size_t at = (size_t)(p - ck->buf);
    if (s.learned < 1 || s.learned > (QS_BP_LEARN_W | QS_BP_LEARN_A))
        return qs_err(QS_EFORMAT, "%s: bitprune.learned = %d (byte %zu) is out of range "
                      "(allowed: 1..3)", what, s.learned, at);
    if (s.bmin != 1 && s.bmin != 2)
        return qs_err(QS_EFORMAT, "%s: bitprune.bmin = %d (byte %zu) is out of range "
                      "(allowed: 1, 2)", what, s.bmin, at + offsetof(qs_bp_ck, bmin));
    if (!(s.init >= s.bmin && s.init <= QS_BP_BMAX))
        return qs_err(QS_EFORMAT, "%s: bitprune.init = %g (byte %zu) is out of range "
                      "(allowed: %d..%d)", what, s.init, at + offsetof(qs_bp_ck, init), s.bmin,
                      QS_BP_BMAX);
    c->bp_learned = s.learned;
    c->bp_bmin = s.bmin;
    c->bp_init = s.init;
    return QS_OK;
}

float qs_bp_node_bmin(const qs_model *m, const qs_node *n)
{
    int b = m->cfg.bp_bmin;
    if (n->type != QS_NODE_RELU && b < QS_BP_W_BMIN)
        b = QS_BP_W_BMIN;
    return (float)b;
}

void qs_bp_quantize_weights(qs_model *m, qs_node *n)
{
    const float *w = m->param + n->w_off;
    float c = 0.0f;
    for (long j = 0; j < n->wlen; j++)
        c = fabsf(w[j]) > c ? fabsf(w[j]) : c;
    n->step = c;
    if (c > 0.0f)
        qs_bp_w_forward(n->qw, w, (size_t)n->wlen, c, m->param[n->bits_off]);
    else
        memset(n->qw, 0, (size_t)n->wlen * sizeof(float));
}

#define BP_GCHUNK 256

void qs_bp_weight_backward(qs_model *m, const qs_node *n)
{
    float *g = m->grad + n->w_off;
    const float *w = m->param + n->w_off;
    double db = 0;
    if (!(n->step > 0.0f)) /* all-zero weights: q = 0 whatever w does nearby */
        return;
    /* The kernel adds into dw while reading dq: the layer's gradient is
     * both, so each chunk is copied out and the gradient rebuilt. */
    float dq[BP_GCHUNK];
    for (long o = 0; o < n->wlen; o += BP_GCHUNK) {
        size_t k = (size_t)(n->wlen - o < BP_GCHUNK ? n->wlen - o : BP_GCHUNK);
        memcpy(dq, g + o, k * sizeof(float));
        memset(g + o, 0, k * sizeof(float));
        qs_bp_w_backward(g + o, &db, dq, w + o, k, n->step, m->param[n->bits_off]);
    }
    m->grad[n->bits_off] += (float)db;
}

void qs_bp_clamp_model(qs_model *m)
{
    for (int i = 0; i < m->nnode; i++) {
        const qs_node *n = &m->nodes[i];
        if (n->bits_off >= 0)
            m->param[n->bits_off] = qs_bp_clamp(m->param[n->bits_off], qs_bp_node_bmin(m, n));
    }
}

void qs_bp_round_up_model(qs_model *m)
{
    for (int i = 0; i < m->nnode; i++) {
        const qs_node *n = &m->nodes[i];
        if (n->bits_off >= 0)
            m->param[n->bits_off] = (float)qs_bp_round_up(m->param[n->bits_off]);
    }
    m->weights_dirty = 1;
}

void qs_bp_mean_bits(double *mean_w, double *mean_a, const qs_model *m)
{
    double sum[2] = {0, 0};
    long cnt[2] = {0, 0};
    for (int i = 0; i < m->nnode; i++) {
        const qs_node *n = &m->nodes[i];
        int a = n->type == QS_NODE_RELU;
        if (n->bits_off < 0)
            continue;
        sum[a] += m->param[n->bits_off];
        cnt[a]++;
    }
    *mean_w = cnt[0] ? sum[0] / cnt[0] : 0;
    *mean_a = cnt[1] ? sum[1] / cnt[1] : 0;
}

void qs_bp_counts(double *params, double *macs, const qs_model *m)
{
    for (long l = 0; l < m->nbits; l++)
        params[l] = macs[l] = 0;
    for (int i = 0; i < m->nnode; i++) {
        const qs_node *n = &m->nodes[i];
        if (n->bits_off >= 0 && n->type == QS_NODE_RELU) {
            params[qs_bp_index(m, n)] = (double)n->numel;
        } else if (n->bits_off >= 0) {
            params[qs_bp_index(m, n)] = (double)n->wlen;
            macs[qs_bp_index(m, n)] = qs_node_macs(n);
        }
        /* An activation costs the MACs of the layers that read it (through
         * a max pool, whose output is one of its input codes). */
        if (qs_node_macs(n) > 0 && n->in0 >= 0) {
            const qs_node *src = &m->nodes[n->in0];
            if (src->type == QS_NODE_MAXPOOL)
                src = &m->nodes[src->in0];
            if (src->type == QS_NODE_RELU && src->bits_off >= 0)
                macs[qs_bp_index(m, src)] += qs_node_macs(n);
        }
    }
}
