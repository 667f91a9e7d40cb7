/* Layer kernels the ImageNet-scale models add to layers.h: max pool (the
 * ResNet stem) and ReLU6 (MobileNetV2). Same conventions as layers.h: NCHW,
 * outputs first, backward accumulates when acc is 1, no allocation. */
#ifndef QS_LAYERS_IMNET_H
#define QS_LAYERS_IMNET_H

#include <stddef.h>

#include "layers.h"

/* ---- max pool k x k, stride, pad (PyTorch MaxPool2d, ceil_mode off) ------
 * x [n, c, h, w] -> y [n, c, ho, wo]; the shape is a qs_conv_shape with
 * k == c and kh == kw (qs_conv_shape_init gives PyTorch's floor output
 * size). Padding counts as -inf, so it never wins; a tie goes to the first
 * maximum in row-major window order, and a NaN wins (it propagates, as in
 * PyTorch). Returns -1 when pad > kh / 2 (a window could then hold only
 * padding: PyTorch rejects it too), else 0. */
int qs_maxpool_forward(float *y, const float *x, const qs_conv_shape *s);
/* dx (+)= dy routed to each window's argmax. The argmax is found again
 * from x with the forward's rule rather than stored: it needs no index
 * buffer, and the input is kept for backward anyway. acc 0: dx = the
 * gradient (dx is zeroed first, since windows overlap and scatter). */
void qs_maxpool_backward(float *dx, const float *dy, const float *x,
                         const qs_conv_shape *s, int acc);

/* ---- ReLU6: y = min(max(x, 0), 6), elementwise over len floats ----------
 * A NaN passes through. */
void qs_relu6_forward(float *y, const float *x, size_t len);
/* dx (+)= dy where 0 < y < 6 (PyTorch's hardtanh backward: the gradient
 * is 0 at both clip points). y is the forward output, so the pass may run
 * in place on x. */
void qs_relu6_backward(float *dx, const float *dy, const float *y, size_t len,
                       int acc);

#endif
