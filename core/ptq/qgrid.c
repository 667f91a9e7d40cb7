/* One weight grid for both quantizer representations (qgrid.h). */
#include "qgrid.h"

#include "err.h"
#include "lsq.h"
#include "quant.h"

int qs_qgrid_get(qs_qgrid *g, qs_model *m, int i)
{
    qs_node *n = &m->nodes[i];
    if (n->wbits >= 32 || n->w_off < 0)
        return 1;
    if (n->wbits < 2)
        return qs_err(QS_EINVAL, "layer %d has %d-bit weights: post-training rounding needs 2..8",
                      i, n->wbits);
    g->bits = n->wbits;
    g->qp = qs_lsq_wqp(n->wbits);
    if (n->step_off >= 0) {
        g->s = m->param + n->step_off;
        g->nch = n->nstep;
    } else {
        /* the forward's own search, into the node's quantized copy */
        if (!(n->step > 0.0f))
            qs_wquant_apply(n->qw, &n->step, m->param + n->w_off, (size_t)n->wlen, n->wbits);
        g->s = &n->step;
        g->nch = 1;
    }
    g->row = n->wlen / g->nch;
    return 0;
}

void qs_qgrid_round(float *q, const float *w, size_t len, const qs_qgrid *g)
{
    qs_lsq_w_forward(q, w, len, g->s, g->nch, g->bits);
}
