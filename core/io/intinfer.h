/* Integer-code inference of an exported FCDNN (export.h), the deployment
 * form of a quantized model: a linear layer whose input is a PACT output
 * multiplies its int8 weight codes by the PACT layer's integer codes with
 * int32 accumulation and applies one scale per layer,
 *   y = acc * step * alpha / (2^k - 1) + bias,
 * and the next PACT layer turns y into codes round(clip(y, 0, a) (2^k - 1) / a).
 * A layer whose input is float (the first layer's 2-D input, a residual
 * sum, float activations) multiplies its codes by the floats. Predictions
 * agree with the fake-quant model up to float summation order. */
#ifndef QS_INTINFER_H
#define QS_INTINFER_H

#include "export.h"

/* x [n, in] -> pred [n] (argmax, ties to the lower class) and, when logits
 * is not NULL, logits [n, classes]. Needs an FCDNN export whose weight
 * layers are all quantized (wbits < 32). */
int qs_intinfer_fcdnn(int *pred, float *logits, const qs_export *e, const float *x, int n);

#endif
