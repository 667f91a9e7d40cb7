/* The weight grid a quantized layer uses, whichever way the model holds it:
 * the LSQ steps of a node (step_off, one per tensor or per output channel,
 * the ptq phase's representation) or the Hwang-Sung step D of the node.
 * Both give the codes clip(round(w / s_row), -Qp, Qp) (lsq.h), so bias
 * correction and AdaRound see one grid. */
#ifndef QS_QGRID_H
#define QS_QGRID_H

#include <stddef.h>

#include "model.h"

typedef struct {
    const float *s;   /* nch steps, row r of the weight uses s[r] */
    int nch;
    int bits;
    float qp;         /* 2^(bits-1) - 1 */
    long row;         /* weights per row: wlen / nch */
} qs_qgrid;

/* The grid of layer node i. Returns 0 when the layer is quantized (bits 2..8;
 * a Hwang step not yet searched is searched now, as the forward would), 1
 * when it is float (g untouched), or an error for binary weights. */
int qs_qgrid_get(qs_qgrid *g, qs_model *m, int i);
/* q [len] = the grid's nearest-rounded w [len]. */
void qs_qgrid_round(float *q, const float *w, size_t len, const qs_qgrid *g);

#endif
